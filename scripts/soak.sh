#!/usr/bin/env bash
# Runs the long fault drills (the ignored tests named `soak_` in tests/it/:
# restarts every two seconds for ten minutes, two hundred rounds of random
# signals, FFmpeg started and stopped for real) in a release build, then
# prints a summary: each drill's result and the figures it measured. About
# twelve minutes.
#
#   scripts/soak.sh                 # every long drill
#   scripts/soak.sh 10_minutes      # only drills whose name contains this
#   DRILL_SEED=N scripts/soak.sh    # replay the random moments of a run
set -uo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp -t hook-soak.XXXXXX)
trap 'rm -f "$log"' EXIT

start=$(date +%s)
# With an argument, only the ignored tests whose name contains it.
filter=::soak_
if [ $# -gt 0 ]; then filter=$1; shift; fi
cargo test --release --test it -- --ignored --nocapture "$filter" "$@" >"$log" 2>&1
status=$?
took=$(( $(date +%s) - start ))

echo "Soak drills ($(date -u '+%Y-%m-%d %H:%M UTC'), ${took} s, load average now $(cut -d' ' -f1-3 /proc/loadavg)):"
grep -E '^test .* \.\.\. (ok|FAILED|ignored)' "$log" | sed 's/^/  /'
echo "Figures:"
grep -E 'restarts in|DRILL_SEED|instances ran|killed by signal' "$log" | sed 's/^/  /'
if [ $status -ne 0 ]; then
  echo "FAILED; the failures:"
  sed -n '/^failures:/,$p' "$log" | head -n 80
fi
exit $status
