#!/usr/bin/env bash
# Runs every test: lints, the Rust core's unit and flow tests, the release build, and the
# end-to-end suites (built worker in workerd against real providers, plus headless Chromium).
# Installs what it needs first (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
start=$(date +%s)
step() { printf '\n== %s (%ss)\n' "$*" "$(( $(date +%s) - start ))" >&2; }

step "setup"
bash scripts/setup.sh

step "format and lints"
cargo fmt --check
cargo clippy --quiet --all-targets -- -D warnings
cargo clippy --quiet --lib --target wasm32-unknown-unknown --release -- -D warnings

step "Rust core tests (native)"
cargo test --quiet

step "release build of the worker (and the test build with the trap trigger)"
bash scripts/build.sh
bash scripts/build.sh --test-trap

step "end-to-end tests (workerd + pyOP + oidc-provider + Chromium)"
node --test --test-concurrency=1 tests/e2e/*.test.mjs

step "all tests passed"
