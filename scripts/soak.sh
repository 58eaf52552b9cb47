#!/usr/bin/env bash
# Runs the long fault drills (the `#[ignore]`d tests in tests/drill_*.rs:
# restarts every two seconds for ten minutes, two hundred rounds of random
# signals) in a release build, then prints a summary: each drill's result
# and the figures it measured. About eleven minutes.
#
#   scripts/soak.sh                 # every long drill
#   scripts/soak.sh 10_minutes      # only drills whose name contains this
#   DRILL_SEED=N scripts/soak.sh    # replay the random moments of a run
set -uo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp -t hook-soak.XXXXXX)
trap 'rm -f "$log"' EXIT
drills=()
for f in tests/drill_*.rs; do
  drills+=(--test "$(basename "$f" .rs)")
done

start=$(date +%s)
cargo test --release "${drills[@]}" -- --ignored --nocapture "$@" >"$log" 2>&1
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
