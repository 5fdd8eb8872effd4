#!/usr/bin/env bash
# The Rust tests: every test of the workspace under cargo-nextest, which
# runs the test binaries side by side (cargo test runs them one after the
# other, so the crash suite's ten minutes held up everything behind it),
# each test in its own process; then the benches once each in test mode
# (criterion's benches do not list their cases in the form nextest reads).
# Run inside scripts/with-broker.sh. Installs cargo-nextest if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-nextest >/dev/null || cargo install cargo-nextest --locked
cargo nextest run --locked --workspace --lib --bins --tests --no-fail-fast --failure-output final "$@"
cargo test --locked --workspace --bench '*'
