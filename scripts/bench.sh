#!/usr/bin/env bash
# Measures the performance budgets of SPEC.md against the release build and
# prints one Markdown table: each row the budget, the figure measured, and
# how. Loopback only; takes about two minutes; leaves nothing behind (its
# temporary directory and every process it starts are removed).
#
#   scripts/bench.sh            # the full run
#   scripts/bench.sh --quick    # fewer repetitions, to try it out
#   scripts/bench.sh --only exec,frame,mediamtx,supervisor,hold,segment,status,snapshot,stills
#
# A full run (no --only) ends with the armed camera's rows from
# scripts/bench_events.sh (CPU and disk per hour, event latency).,camframe,camcost,replug
#
# With MEDIAMTX_BIN naming a MediaMTX binary it also measures a reader's first
# frame on an on-demand MediaMTX path wired to the hook against a plain
# `runOnDemand: ffmpeg …` line (the `mediamtx` row); without it that row says
# "not measured".
#
# Run as root it also measures on a fake V4L2 camera (tests/support/fakecam/,
# built with cc into the target directory; its nodes in a per-run /dev bound
# on /dev in a private mount namespace of the processes it starts, never in
# the machine's /dev): a reader's first frame through MediaMTX with the hook
# against the seed's plain line (`camframe`, needs MEDIAMTX_BIN too), the
# whole camera's CPU and memory for MJPEG and H.264 against plain lines
# (`camcost`), and replug to frames published (`replug`).
#
# The measuring program is examples/bench.rs; examples/segment_floor.rs is
# the floor `segment-complete` is held against (same exec and durable writes).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v ffmpeg >/dev/null; then
  echo "bench.sh: ffmpeg is not installed (scripts/deps.sh installs it)" >&2
  exit 1
fi
cargo build --release --quiet --bin hook --example bench --example segment_floor

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
os=$(. /etc/os-release && echo "$PRETTY_NAME")
echo "Benchmark of $(git describe --always --dirty 2>/dev/null || echo "this tree"), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "Machine: $(nproc) cores ($cpu), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $os, Linux $(uname -r); FFmpeg $(ffmpeg -version | awk 'NR==1 {print $3}')"
echo "Load average (1, 5, 15 min) before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
./target/release/examples/bench --hook target/release/hook "$@"
# The armed camera's rows (scripts/bench_events.sh, against MEDIAMTX_BIN),
# unless only some rows were asked for.
only=no
seconds=60
for a in "$@"; do
  case "$a" in
    --only|--only=*) only=yes ;;
    --quick) seconds=20 ;;
  esac
done
if [ "$only" = no ]; then
  echo
  echo "Armed camera (scripts/bench_events.sh, ${seconds} s):"
  echo
  bash scripts/bench_events.sh --seconds "$seconds" --hook target/release/hook
fi
echo
echo "Load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
