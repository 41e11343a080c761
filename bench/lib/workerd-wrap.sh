#!/usr/bin/env bash
# Stands in for workerd when miniflare is given MINIFLARE_WORKERD_PATH (bench/lib/workerd-wrap.mjs):
# patches V8 flags into the binary config miniflare pipes on stdin, then execs the real workerd
# (same pid; fd 3, miniflare's control pipe, is inherited) with an optional Perfetto trace.
# Usage (by miniflare): workerd-wrap.sh serve <workerd options...> -
set -euo pipefail
config="$(mktemp)"
node "$BENCH_WORKERD_PATCH" > "$config"
exec 0< "$config"
rm -f "$config"
args=("$1")
if [ -n "${BENCH_PERFETTO:-}" ]; then args+=("--perfetto-trace=$BENCH_PERFETTO"); fi
exec "$BENCH_WORKERD_BIN" "${args[@]}" "${@:2}"
