#!/usr/bin/env bash
# The main job with no camera, `hook run --device testsrc` publishing FFmpeg's
# test pattern, shown the way MediaMTX runs it.
#
# With a MediaMTX binary at hand (MEDIAMTX_BIN, or `mediamtx` on PATH) it shows
# the real flow: MediaMTX with the configuration `hook mediamtx-config`
# generates (short durations, loopback ports), a reader starting the camera on
# demand, the path closing after the reader left, a short recording with no
# viewer and its segments in `hook status`, and a clean stop of MediaMTX with
# nothing left behind.
#
# Without one, the hook is started as MediaMTX starts it (its own process
# group, stdin /dev/null, MTX_PATH / RTSP_PORT in the environment) against
# FFmpeg's one-shot RTSP listener: frames arriving, the hook's state, then one
# SIGINT to the hook's process group, as MediaMTX sends it, and nothing left
# behind.
#
# Run as root it then shows the camera path on a fake V4L2 camera
# (tests/support/fakecam/, on a node in the demo's own /dev that only its
# processes see, in a private mount namespace): `hook devices`, `hook run`
# by the camera's by-id name publishing to FFmpeg's RTSP listener, a clean stop.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
echo "demo: building hook (release)"
cargo build --release --quiet
hook="$PWD/target/release/hook"

work=$(mktemp -d -t hook-demo.XXXXXX)
server_pid=""
hook_pid=""
cleanup() {
  [ -n "$hook_pid" ] && kill -KILL -- "-$hook_pid" 2>/dev/null || true
  [ -n "$server_pid" ] && kill -KILL "$server_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Waits up to $1 tenths of a second for the command in $2… to succeed.
wait_for() {
  local tries=$1
  shift
  while ! "$@"; do
    tries=$((tries - 1))
    [ "$tries" -gt 0 ] || return 1
    sleep 0.1
  done
}

# Pids of live processes (not this script) whose command line contains $1.
procs_with() {
  local f pid
  for f in /proc/[0-9]*/cmdline; do
    pid=${f#/proc/}
    pid=${pid%/cmdline}
    [ "$pid" = "$$" ] && continue
    if tr '\0' ' ' 2>/dev/null <"$f" | grep -qF -- "$1"; then
      grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null || echo "$pid"
    fi
  done
}

# ---- the camera path, on a fake camera (as root only) ----------------------
# A fake UVC camera (tests/support/fakecam/: an LD_PRELOAD V4L2 shim, built
# here with cc) on a node in this demo's own /dev, which only the processes
# started through in_cam see: unshare gives each a private mount namespace
# with that directory bound on /dev. The machine's /dev is not touched.
camera_demo() {
  if [ "$(id -u)" != 0 ] || ! command -v cc >/dev/null || ! command -v unshare >/dev/null; then
    echo "demo: (as root it also shows the camera path, on a fake V4L2 camera)"
    return 0
  fi
  local cam="$work/cam" cport curl cpid code n
  local by_id=/dev/v4l/by-id/usb-Fake_Camera_FCDEMO-video-index0
  echo
  echo "demo: the camera path, on a fake MJPEG camera (640x480, 30 fps) in a private /dev"
  mkdir -p "$cam/dev/pts" "$cam/dev/shm" "$cam/dev/v4l/by-id" "$cam/ctl"
  cc -shared -fPIC -O2 -o "$cam/libfakecam.so" tests/support/fakecam/fakecam.c -ldl -pthread
  ffmpeg -hide_banner -nostdin -loglevel error -f lavfi -i testsrc2=size=640x480:rate=30 -t 2 \
    -c:v mjpeg -pix_fmt yuvj422p -q:v 5 -f mjpeg "$cam/cam.mjpeg"
  for n in null zero urandom random; do : >"$cam/dev/$n"; done
  mknod -m 660 "$cam/dev/video0" c 81 0
  ln -s ../../video0 "$cam$by_id"
  printf 'camera 0 demo\ncard Fake Camera\nbus usb-0000:00:14.0-1\nsize MJPG 640x480 30 %s\n' \
    "$cam/cam.mjpeg" >"$cam/ctl/config"
  echo 1 >"$cam/ctl/plug-demo"
  : >"$cam/ctl/lock-demo"
  # Runs its arguments in a private mount namespace with the demo's /dev.
  cat >"$cam/in-cam" <<CAM
#!/bin/sh
exec unshare --mount --propagation private env LD_PRELOAD="$cam/libfakecam.so" FAKECAM_DIR="$cam/ctl" \\
  sh -c 'for n in null zero urandom random pts shm; do mount --bind "/dev/\$n" "\$0/dev/\$n"; done; mount --bind "\$0/dev" /dev && exec "\$@"' "$cam" "\$@"
CAM
  chmod 755 "$cam/in-cam"
  echo "demo: hook devices"
  "$cam/in-cam" "$hook" devices 2>/dev/null | sed 's/^/  /'
  cport=$(free_port)
  curl="rtsp://127.0.0.1:$cport/camera1"
  cam_listening() {
    grep -qE "^ *[0-9]+: [0-9A-F]+:$(printf '%04X' "$cport") [0-9A-F]+:0000 0A " /proc/net/tcp /proc/net/tcp6 2>/dev/null
  }
  ffmpeg -hide_banner -nostdin -loglevel error -rtsp_flags listen -timeout 60 \
    -analyzeduration 200000 -i "$curl" -f null -progress "$work/cam.progress" - >"$work/cam-server.log" 2>&1 &
  server_pid=$!
  wait_for 100 cam_listening || { echo "demo: the RTSP listener did not come up"; return 1; }
  MTX_PATH=camera1 RTSP_PATH=camera1 RTSP_PORT=$cport \
    setsid "$cam/in-cam" "$hook" run --device "$by_id" \
    </dev/null 2>"$work/cam-hook.log" &
  hook_pid=$!
  echo "demo: hook run --device $by_id started (pid $hook_pid), publishing to $curl"
  for _ in 1 2 3; do
    sleep 1
    echo "demo: frames received: $(grep -o 'frame=[0-9]*' "$work/cam.progress" 2>/dev/null | tail -1 | cut -d= -f2)"
  done
  "$hook" status camera1 || true
  if ! grep -q 'frame=[1-9]' "$work/cam.progress" 2>/dev/null; then
    echo "demo: FAILED: no frames from the camera; the hook's log:"
    sed 's/^/  /' "$work/cam-hook.log"
    return 1
  fi
  cpid=$(/usr/bin/python3 -c "import json; print(json.load(open('$HOOK_STATE_DIR/state.json'))['paths']['camera1'].get('child_pid'))" 2>/dev/null || true)
  [ -n "$cpid" ] && [ -r "/proc/$cpid/cmdline" ] && echo "demo: its FFmpeg: $(tr '\0' ' ' <"/proc/$cpid/cmdline")"
  kill -INT -- "-$hook_pid"
  code=0
  wait "$hook_pid" || code=$?
  hook_pid=""
  kill -KILL "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  echo "demo: the camera's hook exited with status $code"
  [ "$code" -eq 0 ] || { echo "demo: FAILED: the camera's hook exited $code"; sed 's/^/  /' "$work/cam-hook.log"; return 1; }
}

# ---- the real flow, with MediaMTX -------------------------------------------
mediamtx_bin=${MEDIAMTX_BIN:-$(command -v mediamtx || true)}
if [ -n "$mediamtx_bin" ]; then
  rtsp_port=$(free_port)
  api_port=$(free_port)
  export HOOK_STATE_DIR="$work/state"
  export HOOK_CONFIG="$work/hook.json"
  export HOOK_MTX_API="http://127.0.0.1:$api_port"
  export RTSP_PORT=$rtsp_port
  mkdir -p "$work/bin" "$work/recordings"
  ln -s "$hook" "$work/bin/hook"
  cat >"$HOOK_CONFIG" <<EOF
{
  "viewing": {"close_after": "3s", "start_timeout": "10s"},
  "recording": {
    "segment_duration": "2s",
    "record_path": "$work/recordings/%path/%Y-%m-%d_%H-%M-%S-%f",
    "hold_check_interval": "1s"
  }
}
EOF
  {
    cat <<EOF
# Global settings for the demo: loopback only, the Control API on.
logLevel: info
api: true
apiAddress: 127.0.0.1:$api_port
rtsp: true
rtspAddress: 127.0.0.1:$rtsp_port
rtspTransports: [tcp]
rtmp: false
hls: false
webrtc: false
srt: false
moq: false
metrics: false
pprof: false
playback: false
EOF
    "$hook" mediamtx-config --device testsrc
  } >"$work/mediamtx.yml"
  path=$(sed -n 's/^  \([A-Za-z0-9_.-]*\):$/\1/p' "$work/mediamtx.yml" | tail -n1)
  url="rtsp://127.0.0.1:$rtsp_port/$path"
  echo "demo: MediaMTX $("$mediamtx_bin" --help 2>&1 | sed -n 's/^MediaMTX \(v[^,]*\),.*/\1/p') ($mediamtx_bin)"
  echo "demo: its paths: entry, as \`hook mediamtx-config --device testsrc\` prints it with a 3 s close-after and 2 s segments:"
  sed -n '/^paths:/,$p' "$work/mediamtx.yml" | sed 's/^/    /'
  PATH="$work/bin:$PATH" "$mediamtx_bin" "$work/mediamtx.yml" >"$work/mediamtx.log" 2>&1 &
  server_pid=$!
  api_get() { /usr/bin/python3 -c "import sys,urllib.request; print(urllib.request.urlopen('$HOOK_MTX_API'+sys.argv[1], timeout=2).read().decode())" "$1"; }
  api_up() { api_get /v3/paths/list >/dev/null 2>&1; }
  wait_for 100 api_up || { echo "demo: MediaMTX did not come up"; cat "$work/mediamtx.log"; exit 1; }
  phase() { "$hook" status --json | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['paths'].get('$path', {}).get('phase', 'idle'))"; }
  echo

  echo "demo: 1. a reader opens $url: MediaMTX starts \`hook run\` on demand"
  frames=$(ffmpeg -hide_banner -nostdin -loglevel error -rtsp_transport tcp -i "$url" \
    -t 3 -f null -progress pipe:1 - 2>"$work/reader.log" | grep -o 'frame=[0-9]*' | tail -1 | cut -d= -f2)
  echo "demo:    the reader received ${frames:-0} frames in 3 s"
  "$hook" status "$path" | sed 's/^/    /'
  echo
  echo "demo: 2. the reader left: MediaMTX stops the hook after the 3 s close-after"
  hook_gone() { [ -z "$(procs_with "hook run --device testsrc")" ]; }
  if wait_for 150 hook_gone; then
    echo "demo:    hook run and its FFmpeg are gone; hook status says: $(phase)"
  else
    echo "demo: FAILED: hook run still runs 15 s after the reader left"
    exit 1
  fi
  echo
  echo "demo: 3. recording with no viewer: hook record start $path, 9 s, hook record stop $path"
  "$hook" record start "$path"
  sleep 9
  "$hook" record stop "$path"
  echo "demo:    files MediaMTX wrote: $(find "$work/recordings" -type f | wc -l)"
  "$hook" status "$path" | grep -iE 'segment|session|gap|record' | sed 's/^/    /' || true
  echo
  echo "demo: 4. MediaMTX stopped with SIGINT: it stops its hooks and waits for them"
  kill -INT "$server_pid"
  code=0
  wait "$server_pid" || code=$?
  server_pid=""
  left=$(procs_with "$work")
  if [ -n "$left" ]; then
    echo "demo: FAILED: left behind: $left"
    exit 1
  fi
  echo "demo:    MediaMTX exited ($code); nothing of the hook or FFmpeg is left"
  echo
  echo "demo: MediaMTX's log with the hooks' lines (last 30):"
  tail -n 30 "$work/mediamtx.log" | sed 's/^/  /'
  camera_demo || exit 1
  echo "demo: OK"
  exit 0
fi

# ---- without MediaMTX: FFmpeg's RTSP listener ---------------------------------
path=camera0
port=$(free_port)
url="rtsp://127.0.0.1:$port/$path"
export HOOK_STATE_DIR="$work/state"

# True when something listens on $port. Looks in /proc instead of
# connecting: FFmpeg's listener would take a probe connection for its
# publisher and quit.
listening() {
  local hex
  hex=$(printf '%04X' "$port")
  grep -qE "^ *[0-9]+: [0-9A-F]+:$hex [0-9A-F]+:0000 0A " /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# ---- the RTSP server -------------------------------------------------------
echo "demo: RTSP server: FFmpeg's RTSP listener on port $port (no MediaMTX here: set MEDIAMTX_BIN for the real flow)"
# A short analysis so the count starts at once (the stream is H.264 with
# its parameters in the SDP; nothing to probe for long).
ffmpeg -hide_banner -nostdin -loglevel error -rtsp_flags listen -timeout 60 \
  -analyzeduration 200000 -i "$url" -f null -progress "$work/server.progress" - >"$work/server.log" 2>&1 &
server_pid=$!
wait_for 100 listening || { echo "demo: the RTSP server did not come up"; cat "$work/server.log"; exit 1; }

# ---- the hook, started as MediaMTX starts it ------------------------------
# setsid: its own process group (MediaMTX uses Setpgid), so one signal to the
# group reaches it as MediaMTX's would; not a shell background job, whose
# SIGINT a non-interactive shell would ignore.
start_ns=$(date +%s%N)
MTX_PATH=$path RTSP_PATH=$path RTSP_PORT=$port \
  setsid "$hook" run --device testsrc </dev/null 2>"$work/hook.log" &
hook_pid=$!
echo "demo: hook run --device testsrc started (pid $hook_pid), publishing to $url"

phase() { "$hook" status --json 2>/dev/null | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['paths'].get('$path', {}).get('phase', ''))" 2>/dev/null || true; }
is_running() { [ "$(phase)" = running ]; }
if ! wait_for 150 is_running; then
  echo "demo: the hook did not reach phase running; its log:"
  cat "$work/hook.log"
  exit 1
fi
echo "demo: running after $(( ($(date +%s%N) - start_ns) / 1000000 )) ms"

# ---- frames arriving --------------------------------------------------------
frames() {
  grep -o 'frame=[0-9]*' "$work/server.progress" 2>/dev/null | tail -1 | cut -d= -f2
}
for _ in 1 2 3; do
  sleep 1
  echo "demo: frames received by the listener: $(frames)"
done

echo
echo "demo: hook status"
if ! "$hook" status "$path"; then
  echo "demo: (hook status failed; state.json:)"
  cat "$HOOK_STATE_DIR/state.json"
fi
echo

# ---- one SIGINT to the group, as MediaMTX stops it -------------------------
ffmpeg_pid=$(/usr/bin/python3 -c "import json; print(json.load(open('$HOOK_STATE_DIR/state.json'))['paths']['$path']['child_pid'])")
echo "demo: kill -INT -$hook_pid   (hook $hook_pid, its FFmpeg $ffmpeg_pid)"
stop_ns=$(date +%s%N)
kill -INT -- "-$hook_pid"
code=0
wait "$hook_pid" || code=$?
echo "demo: hook exited with status $code after $(( ($(date +%s%N) - stop_ns) / 1000000 )) ms"
hook_pid_done=$hook_pid
hook_pid=""

left=""
for stat in /proc/[0-9]*/stat; do
  pid=${stat#/proc/}
  pid=${pid%/stat}
  [ "$pid" = "$server_pid" ] && continue
  fields=$(sed 's/.*) //' "$stat" 2>/dev/null) || continue
  read -r state _ pgrp _ <<<"$fields"
  [ "$state" = Z ] && continue
  if [ "$pgrp" = "$hook_pid_done" ] || [ "$pgrp" = "$ffmpeg_pid" ] ||
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "-f rtsp .*$url"; then
    left="$left $pid"
  fi
done
if [ -n "$left" ]; then
  echo "demo: FAILED: left behind:$left"
  exit 1
fi
echo "demo: nothing left: no process in the hook's group, no FFmpeg publishing to $url"
echo
"$hook" status "$path" || cat "$HOOK_STATE_DIR/state.json"
echo
echo "demo: the hook's log:"
sed 's/^/  /' "$work/hook.log"
[ "$code" -eq 0 ] || { echo "demo: FAILED: exit status $code"; exit 1; }
camera_demo || exit 1
echo "demo: OK"
