#!/usr/bin/env bash
# Installs every tool the build, the demo and the tests need, from the package registries only.
# Idempotent: each step is skipped when its tool is already there at the pinned version.
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION=0.2.130   # must equal the wasm-bindgen pinned in Cargo.toml

log() { printf '[setup] %s\n' "$*" >&2; }

export PATH="$HOME/.cargo/bin:$PATH"

if ! rustup component list --installed | grep -q '^rust-src'; then
  log "adding the rust-src component (the worker's build compiles std for size: scripts/build.sh)"
  rustup component add rust-src
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
  log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes)"
  # Not --locked: a locked dependency is newer than the registry index here.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm packages"
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
fi

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import pyop, flask' 2>/dev/null; then
  log "creating the Python venv for the pyOP test provider"
  python3 -m venv .venv
  .venv/bin/pip install --quiet -r tests/peers/requirements.txt
fi

if [ "${SKIP_BROWSER:-0}" != 1 ] && ! command -v chromium >/dev/null; then
  log "installing Debian chromium for the browser test"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
log "tools ready"
