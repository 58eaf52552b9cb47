#!/usr/bin/env bash
# The main job with no camera: `hook run --device testsrc` publishing FFmpeg's
# test pattern to an RTSP server, started the way MediaMTX starts it (its own
# process group, stdin /dev/null, MTX_PATH / RTSP_PORT in the environment).
# The server is a real MediaMTX when `mediamtx` is on PATH, else FFmpeg's
# one-shot RTSP listener. Shows frames arriving and the hook's state, then
# sends one SIGINT to the hook's process group, as MediaMTX does, and shows
# that it stopped cleanly with nothing left behind.
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

path=camera0
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
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

# ---- the RTSP server -------------------------------------------------------
if command -v mediamtx >/dev/null; then
  echo "demo: RTSP server: MediaMTX ($(command -v mediamtx)) on port $port"
  cat >"$work/mediamtx.yml" <<EOF
logLevel: warn
api: false
metrics: false
pprof: false
playback: false
rtmp: false
hls: false
webrtc: false
srt: false
rtspTransports: [tcp]
rtspAddress: 127.0.0.1:$port
paths:
  $path:
    source: publisher
EOF
  mediamtx "$work/mediamtx.yml" >"$work/server.log" 2>&1 &
  server_pid=$!
  server=mediamtx
else
  echo "demo: RTSP server: FFmpeg's RTSP listener on port $port (no mediamtx on PATH)"
  # A short analysis so the count starts at once (the stream is H.264 with
  # its parameters in the SDP; nothing to probe for long).
  ffmpeg -hide_banner -nostdin -loglevel error -rtsp_flags listen -timeout 60 \
    -analyzeduration 200000 -i "$url" -f null -progress "$work/server.progress" - >"$work/server.log" 2>&1 &
  server_pid=$!
  server=ffmpeg
fi
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
  if [ "$server" = ffmpeg ]; then
    grep -o 'frame=[0-9]*' "$work/server.progress" 2>/dev/null | tail -1 | cut -d= -f2
  else
    # A reader of MediaMTX's stream for one second.
    ffmpeg -hide_banner -nostdin -loglevel error -rtsp_transport tcp -i "$url" \
      -t 1 -f null -progress pipe:1 - 2>/dev/null | grep -o 'frame=[0-9]*' | tail -1 | cut -d= -f2
  fi
}
for _ in 1 2 3; do
  sleep 1
  echo "demo: frames received by the $server server: $(frames)"
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
echo "demo: OK"
