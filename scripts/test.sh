#!/usr/bin/env bash
# Runs every check CI runs: dependencies, formatting, lints, then the tests
# (unit tests and the integration tests in tests/it/, one binary, that drive
# the real `hook` binary with real FFmpeg, real RTSP peers and real signals).
#
# Tests that cannot run on every machine are ignored and named for what they
# need; after the normal suite this runs the groups this machine can run and
# says which it skipped and why:
#   root_   needs root (CI runs as root)
#   real_   needs a real MediaMTX named by MEDIAMTX_BIN
#   tool_   needs a tool scripts/deps.sh does not install (none at present:
#           promtool, Prometheus and node_exporter come from deps.sh, and
#           their tests are normal tests that fail without them)
#   soak_   long drills: scripts/soak.sh runs them, this script does not
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
cargo fmt --check
cargo clippy --all-targets -- -D warnings
status=0
cargo test --all-targets --no-fail-fast "$@" || status=$?

skipped=()
run_group() {
    echo "== ignored tests named $1 ($2)"
    cargo test --test it -- --ignored "$1" || status=$?
}

if [ "$(id -u)" -eq 0 ]; then
    run_group ::root_ "running as root"
else
    skipped+=("root_: not running as root")
fi

if [ -n "${MEDIAMTX_BIN:-}" ]; then
    if [ -x "$MEDIAMTX_BIN" ]; then
        run_group ::real_ "MEDIAMTX_BIN=$MEDIAMTX_BIN"
    else
        echo "MEDIAMTX_BIN=$MEDIAMTX_BIN is not an executable file" >&2
        status=1
    fi
else
    skipped+=("real_: MEDIAMTX_BIN is not set")
fi

skipped+=("soak_: long drills, run by scripts/soak.sh")
for s in "${skipped[@]}"; do
    echo "skipped ignored tests $s" >&2
done
exit "$status"
