#!/usr/bin/env bash
# Builds the release worker bundle into build/ (build/index.js + build/index_bg.wasm).
# Used by `wrangler build/dev/deploy` ([build] in wrangler.toml), the demo and the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
# worker-build would download these; point it at the registry-installed ones instead.
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$HOME/.cargo/bin/wasm-bindgen}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$PWD/node_modules/binaryen/bin/wasm-opt}"
export ESBUILD_BIN="${ESBUILD_BIN:-$PWD/node_modules/esbuild/bin/esbuild}"
for tool in "$WASM_BINDGEN_BIN" "$WASM_OPT_BIN" "$ESBUILD_BIN" "$(command -v worker-build || true)"; do
  if [ ! -x "$tool" ]; then
    echo "build: missing tool ${tool:-worker-build}; run scripts/setup.sh first" >&2
    exit 1
  fi
done
# Skip when the bundle is newer than every input (wrangler's [build] runs this on every start).
if [ "${FORCE_BUILD:-0}" != 1 ] && [ -f build/index_bg.wasm ] && [ -f build/index.js ] \
  && [ -z "$(find src Cargo.toml Cargo.lock -newer build/index_bg.wasm 2>/dev/null | head -1)" ]; then
  echo "build: build/ is up to date" >&2
  exit 0
fi
worker-build --release "$@"
