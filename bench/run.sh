#!/usr/bin/env bash
# The benchmark of issues 5 and 10 in one command: installs what it needs, builds the release bundle and
# the wasm micro-benchmarks, runs every section (bench/bench.mjs, which also bundles the
# @hono/oidc-auth worker with esbuild) and rewrites BENCHMARKS.md.
# Everything it starts listens on 127.0.0.1 only and is stopped at the end. ~12 minutes on 2 cores.
#
#   bash bench/run.sh            full run, writes BENCHMARKS.md
#   BENCH_QUICK=1 bash bench/run.sh   short smoke run of the harness (BENCHMARKS.md untouched)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
start=$(date +%s)
step() { printf '\n[bench] == %s (%ss)\n' "$*" "$(( $(date +%s) - start ))" >&2; }

step "system packages (wrk, Apache, mod_auth_openidc)"
need=()
command -v wrk >/dev/null || need+=(wrk)
[ -x /usr/sbin/apache2 ] || need+=(apache2)
[ -f /usr/lib/apache2/modules/mod_auth_openidc.so ] || need+=(libapache2-mod-auth-openidc)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # The Debian package starts the system Apache on port 80; the benchmark runs its own.
  $SUDO apache2ctl -k stop >/dev/null 2>&1 || true
fi

step "project tools (scripts/setup.sh; no browser needed)"
SKIP_BROWSER=1 bash scripts/setup.sh

step "release bundle (scripts/build.sh)"
bash scripts/build.sh

step "wasm micro-benchmarks (bench/wasm -> bench/out/wasm-pkg)"
# The same dependency versions as the bundle: start from the project's lock file.
cp Cargo.lock bench/wasm/Cargo.lock
CARGO_TARGET_DIR="$PWD/bench/out/target" cargo build --quiet --release --target wasm32-unknown-unknown \
  --manifest-path bench/wasm/Cargo.toml
rm -rf bench/out/wasm-pkg
"${WASM_BINDGEN_BIN:-$HOME/.cargo/bin/wasm-bindgen}" --target nodejs --out-dir bench/out/wasm-pkg \
  bench/out/target/wasm32-unknown-unknown/release/edge_oidc_bench.wasm 2> >(grep -v target_features >&2)
# wasm-bindgen's nodejs glue is CommonJS (the project's package.json says "type": "module"); the
# JS snippets it requires are ES modules (Node >= 20.19 loads them with require).
echo '{ "type": "commonjs" }' > bench/out/wasm-pkg/package.json
for d in bench/out/wasm-pkg/snippets/*/; do echo '{ "type": "module" }' > "$d/package.json"; done
# The optimisation scripts/build.sh applies to the bundle (wasm-opt -O, same features).
node_modules/binaryen/bin/wasm-opt bench/out/wasm-pkg/edge_oidc_bench_bg.wasm -o bench/out/wasm-pkg/edge_oidc_bench_bg.wasm -O \
  --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int --enable-bulk-memory \
  --enable-multivalue --enable-reference-types --enable-exception-handling

step "benchmark"
node bench/bench.mjs > bench/out/report.md
step "done: BENCHMARKS.md (raw results in bench/out/results.json)"
