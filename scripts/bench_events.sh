#!/usr/bin/env bash
# Measures what an armed camera costs and how fast an event lands, against
# a real MediaMTX (MEDIAMTX_BIN) recording the test pattern on an on-demand
# path wired by `hook mediamtx-config`, and prints Markdown rows:
#   - CPU of everything the arm keeps running (hook run and its FFmpeg, the
#     hold and its reader, MediaMTX), as a share of one core, and disk
#     written per hour (segments reported by segment-complete) and on disk
#     (the ring);
#   - the latency of `hook record start` on the armed path: from the
#     command's start to the event being in the state (it returns once it
#     is written).
# Loopback only; leaves nothing behind.
#
#   MEDIAMTX_BIN=/opt/mediamtx/mediamtx scripts/bench_events.sh [--seconds 60] [--hook PATH]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
hook=""
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --hook) hook=$2; shift 2 ;;
    *) echo "bench_events.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ -z "${MEDIAMTX_BIN:-}" ]; then
  echo "| row | measured | how |"
  echo "|---|---|---|"
  echo "| armed camera | not measured (MEDIAMTX_BIN unset) | |"
  exit 0
fi
if [ -z "$hook" ]; then
  cargo build --release --quiet --bin hook
  hook=target/release/hook
fi
exec python3 scripts/bench_events.py --hook "$hook" --mediamtx "$MEDIAMTX_BIN" --seconds "$seconds"
