#!/usr/bin/env bash
# Builds the release worker bundle: build/index.js (src/edge/entry.mjs and the wasm-bindgen glue,
# bundled and minified) and build/index_bg.wasm, which index.js imports. Used by `wrangler
# dev/deploy` ([build] in wrangler.toml), the demo and the tests. Steps: cargo -> wasm-bindgen ->
# wasm-opt -> esbuild, with the tools scripts/setup.sh installs (no downloads).
#
#   bash scripts/build.sh               build/ (skipped when newer than every input)
#   bash scripts/build.sh --test-trap   the same with the `test-trap` feature, into
#                                       target/test-trap/bundle/ (tests/e2e/trap.test.mjs only)
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

out=build
# Its own target directory: the flags below differ from clippy's and the tests' (a shared one
# would rebuild every dependency at each switch).
target_dir="${CARGO_TARGET_DIR:-target/bundle}"
features=()
if [ "${1:-}" = --test-trap ]; then
  # Its own target directory: switching features in one would rebuild both ways every time.
  target_dir=target/test-trap
  out=target/test-trap/bundle
  features=(--features test-trap)
fi

# Skip when the bundle is newer than every input (wrangler's [build] runs this on every start).
if [ "${FORCE_BUILD:-0}" != 1 ] && [ -f "$out/index_bg.wasm" ] && [ -f "$out/index.js" ] \
  && [ -z "$(find src Cargo.toml Cargo.lock scripts/build.sh -newer "$out/index_bg.wasm" 2>/dev/null | head -1)" ]; then
  echo "build: $out/ is up to date" >&2
  exit 0
fi

# The standard library is compiled with the worker, for size (measured on the workers-rs shell,
# wasm gzip: 286,903 -> 271,293 B, BENCHMARKS.md Notes): `optimize_for_size` picks std's smaller
# algorithms, `-Zlocation-detail=none` drops the file/line strings of panic locations (a panic
# still aborts and is logged, without its location) and `-Zfmt-debug=none` makes `{:?}` print
# nothing (no Debug output reaches a response; logs lose only the Debug parts of a few texts).
# These are unstable flags: RUSTC_BOOTSTRAP=1 lets the stable toolchain take them (as
# scripts/fuzz.sh does for cargo-fuzz); they need the rust-src component (scripts/setup.sh).
# EDGE_OIDC_PLAIN_BUILD=1 builds without them (the stable way, ~15 KB larger).
build_std=()
if [ "${EDGE_OIDC_PLAIN_BUILD:-0}" != 1 ]; then
  export RUSTC_BOOTSTRAP=1
  export CARGO_ENCODED_RUSTFLAGS="-Zlocation-detail=none$(printf '\x1f')-Zfmt-debug=none"
  build_std=(-Zbuild-std=std,panic_abort -Zbuild-std-features=optimize_for_size)
fi
cargo build --release --lib --target wasm32-unknown-unknown --target-dir "$target_dir" \
  "${build_std[@]}" "${features[@]}"

mkdir -p target
stage="$(mktemp -d target/bundle.XXXXXX)"
trap 'rm -rf "$stage"' EXIT

# `--target module`: an ES module that imports the wasm module and instantiates it when loaded.
# `--experimental-reset-state-function --force-enable-abort-handler`: what worker-build passes
# too; with workers-rs' abort handler, a trapped instance is replaced on the next call (see
# src/edge/entry.mjs). (With `strip = true` the wasm has no `target_features` section;
# wasm-bindgen 0.2.130 then infers reference types from the wasm's exports: its warning is noise.)
"$WASM_BINDGEN_BIN" "$target_dir/wasm32-unknown-unknown/release/edge_oidc.wasm" --out-dir "$stage" \
  --out-name index --target module --no-typescript \
  --experimental-reset-state-function --force-enable-abort-handler \
  --remove-producers-section 2> >(grep -v -e target_features -e '^$' >&2 || true)

# -O with the features workerd supports and the wasm uses (exception handling: wasm-bindgen's
# catch wrappers), the set worker-build passes; -Oz and -O3 measured larger.
"$WASM_OPT_BIN" "$stage/index_bg.wasm" -o "$stage/index_bg.wasm" -O \
  --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int --enable-bulk-memory \
  --enable-multivalue --enable-reference-types --enable-exception-handling

# The runtime (and wrangler) give a `.wasm` import as a compiled WebAssembly.Module: a plain
# import, not a source-phase one.
sed -i 's/^import source wasmModule from "\.\/index_bg\.wasm";$/import wasmModule from ".\/index_bg.wasm";/' "$stage/index.js"
grep -q '^import wasmModule from "./index_bg.wasm";$' "$stage/index.js" \
  || { echo "build: unexpected wasm-bindgen output (no wasm import in index.js)" >&2; exit 1; }
cp src/edge/entry.mjs "$stage/entry.mjs"

"$ESBUILD_BIN" "$stage/entry.mjs" --bundle --format=esm --minify --log-level=warning \
  --external:./index_bg.wasm --outfile="$stage/out/index.js"

mkdir -p "$out"
rm -rf "$out/worker" "$out/package.json" # left by worker-build
mv "$stage/out/index.js" "$out/index.js"
mv "$stage/index_bg.wasm" "$out/index_bg.wasm"
echo "build: $out/index.js $(wc -c < "$out/index.js") B, $out/index_bg.wasm $(wc -c < "$out/index_bg.wasm") B" >&2
