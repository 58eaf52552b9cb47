#!/usr/bin/env bash
# Runs every check CI runs: dependencies, formatting, lints, then the tests
# (unit tests and the integration tests that drive the real `hook` binary
# with real FFmpeg, real RTSP peers and real signals). When MEDIAMTX_BIN
# names a MediaMTX binary, the end-to-end cases against the real MediaMTX
# (ignored otherwise) run too.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
cargo fmt --check
cargo clippy --all-targets -- -D warnings
status=0
cargo test --all-targets --no-fail-fast "$@" || status=$?
if [ -n "${MEDIAMTX_BIN:-}" ]; then
    if [ -x "$MEDIAMTX_BIN" ]; then
        cargo test --test e2e_mediamtx -- --ignored || status=$?
    else
        echo "MEDIAMTX_BIN=$MEDIAMTX_BIN is not an executable file" >&2
        status=1
    fi
else
    echo "MEDIAMTX_BIN is not set: the end-to-end cases against the real MediaMTX did not run" >&2
fi
exit "$status"
