#!/usr/bin/env bash
# Runs every check CI runs: dependencies, formatting, lints, then the tests
# (unit tests and the integration tests that drive the real `hook` binary
# with real FFmpeg, real RTSP peers and real signals).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
cargo fmt --check
cargo clippy --all-targets -- -D warnings
cargo test --all-targets --no-fail-fast "$@"
