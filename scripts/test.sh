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

step "configuration check (offline) on the shipped wrangler.toml and every recipe page"
# --config-only: the rules of EDGE_OIDC_CONFIG, exactly as the worker applies them; CI has no
# secrets to check. A page whose TOML the worker would refuse fails here.
for file in wrangler.toml docs/providers/*.md; do
  if ! out=$(cargo run --quiet --bin check_config -- --config-only "$file"); then
    printf '%s\n' "$out" >&2
    exit 1
  fi
  printf '%s: %s\n' "$file" "$(printf '%s\n' "$out" | tail -n 1)" >&2
done

step "the wasm micro-benchmarks still compile (bench/wasm drives the core's own API)"
cargo check --quiet --manifest-path bench/wasm/Cargo.toml --target wasm32-unknown-unknown --release

step "release build of the worker (and the test build with the trap trigger)"
bash scripts/build.sh
bash scripts/build.sh --test-trap

step "end-to-end tests (workerd + pyOP + oidc-provider + Chromium)"
node --test --test-concurrency=1 tests/e2e/*.test.mjs

step "all tests passed"
