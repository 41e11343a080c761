#!/usr/bin/env bash
# Builds the release worker bundle into build/: build/index.js (src/edge/entry.mjs, the
# wasm-bindgen glue and src/edge/glue.js, bundled and minified) and build/index_bg.wasm, which
# index.js imports as a module. Used by `wrangler build/dev/deploy` ([build] in wrangler.toml),
# the demo and the tests. Steps: cargo -> wasm-bindgen -> wasm-opt -> esbuild.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$HOME/.cargo/bin/wasm-bindgen}"
WASM_OPT_BIN="${WASM_OPT_BIN:-$PWD/node_modules/binaryen/bin/wasm-opt}"
ESBUILD_BIN="${ESBUILD_BIN:-$PWD/node_modules/esbuild/bin/esbuild}"
for tool in "$WASM_BINDGEN_BIN" "$WASM_OPT_BIN" "$ESBUILD_BIN"; do
  if [ ! -x "$tool" ]; then
    echo "build: missing tool $tool; run scripts/setup.sh first" >&2
    exit 1
  fi
done
# Skip when the bundle is newer than every input (wrangler's [build] runs this on every start).
if [ "${FORCE_BUILD:-0}" != 1 ] && [ -f build/index_bg.wasm ] && [ -f build/index.js ] \
  && [ -z "$(find src Cargo.toml Cargo.lock scripts/build.sh -newer build/index_bg.wasm 2>/dev/null | head -1)" ]; then
  echo "build: build/ is up to date" >&2
  exit 0
fi

cargo build --release --lib --target wasm32-unknown-unknown

mkdir -p target
stage="$(mktemp -d target/bundle.XXXXXX)"
trap 'rm -rf "$stage"' EXIT

# `--target module`: an ES module that imports the wasm module and instantiates it when loaded.
# `--experimental-reset-state-function` exports `__wbg_reset_state`, with which entry.mjs
# replaces a trapped instance. (With `strip = true` the wasm has no `target_features` section;
# wasm-bindgen 0.2.130 then infers reference types from the wasm's exports: its warning is noise.)
"$WASM_BINDGEN_BIN" target/wasm32-unknown-unknown/release/edge_oidc.wasm --out-dir "$stage" \
  --out-name index --target module --no-typescript --experimental-reset-state-function \
  --remove-producers-section 2> >(grep -v -e target_features -e '^$' >&2 || true)

# -O with the features workerd supports and the wasm uses (exception handling: wasm-bindgen's
# catch wrappers), as worker-build ran it; -Oz and -O3 measured larger.
"$WASM_OPT_BIN" "$stage/index_bg.wasm" -o "$stage/index_bg.wasm" -O \
  --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int --enable-bulk-memory \
  --enable-multivalue --enable-reference-types --enable-exception-handling

# The runtime (and wrangler) give a `.wasm` import as a compiled WebAssembly.Module: a plain
# import, not a source-phase one.
sed -i 's/^import source wasmModule from "\.\/index_bg\.wasm";$/import wasmModule from ".\/index_bg.wasm";/' "$stage/index.js"
grep -q '^import wasmModule from "./index_bg.wasm";$' "$stage/index.js" \
  || { echo "build: unexpected wasm-bindgen output (no wasm import in index.js)" >&2; exit 1; }
# entry.mjs imports `./glue.js`: the copy the wasm-bindgen output imports, so that both share
# one module instance.
glue="$(cd "$stage" && find snippets -path '*/src/edge/glue.js')"
[ "$(printf '%s\n' "$glue" | wc -l)" = 1 ] && [ -n "$glue" ] \
  || { echo "build: expected one snippets/*/src/edge/glue.js, found: $glue" >&2; exit 1; }
printf "export * from './%s';\n" "$glue" > "$stage/glue.js"
cp src/edge/entry.mjs "$stage/entry.mjs"

"$ESBUILD_BIN" "$stage/entry.mjs" --bundle --format=esm --minify --log-level=warning \
  --external:./index_bg.wasm --outfile="$stage/out/index.js"

mkdir -p build
rm -rf build/worker build/package.json # left by worker-build
mv "$stage/out/index.js" build/index.js
mv "$stage/index_bg.wasm" build/index_bg.wasm
echo "build: build/index.js $(wc -c < build/index.js) B, build/index_bg.wasm $(wc -c < build/index_bg.wasm) B" >&2
