#!/usr/bin/env bash
# Coverage-guided fuzzing of edge-oidc's input parsers with cargo-fuzz (libFuzzer), one target
# after the other, then minimises each corpus into fuzz/corpus/<target> and writes the figures
# into FUZZING.md. Targets and what they check: FUZZING.md.
#
#   scripts/fuzz.sh                    10 million executions per target (about an hour on 1 core)
#   scripts/fuzz.sh --runs 100000      fewer executions
#   scripts/fuzz.sh --time 60 request  60 seconds, one target
#
# Needs cargo-fuzz (installed here from crates.io if missing). cargo-fuzz passes nightly-only
# flags; RUSTC_BOOTSTRAP=1 makes the stable toolchain accept them, so no nightly is needed.
# Exit status: non-zero when a target crashed (its input is kept in fuzz/artifacts/<target>/).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export RUSTC_BOOTSTRAP=1

ALL_TARGETS=(cookie_open request id_token jwks config path logout_token form_post rules bearer)
CARGO_FUZZ_VERSION=0.13.2
RUNS=10000000
TIME=0
TARGETS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    --time) TIME="$2"; RUNS=0; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    -*) echo "fuzz: unknown option $1" >&2; exit 2 ;;
    *) TARGETS+=("$1"); shift ;;
  esac
done
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL_TARGETS[@]}")

log() { printf '[fuzz] %s\n' "$*" >&2; }

if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  log "installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

# Release build with debug assertions and overflow checks (a failed debug_assert! is a finding),
# without AddressSanitizer: the crate forbids unsafe code, and twice the executions find more.
# The code fuzzed: the commit the targets are built from (taken now: HEAD may move during a long
# run), "+changes" when the source or the targets differ from it (not the corpora, which every
# run rewrites).
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
git diff --quiet HEAD -- src Cargo.toml fuzz/fuzz_targets fuzz/Cargo.toml 2>/dev/null || commit="$commit+changes"
commit="${FUZZ_COMMIT:-$commit}"
log "building the targets"
for t in "${TARGETS[@]}"; do
  cargo fuzz build --release --debug-assertions --sanitizer none "$t"
done
BIN=fuzz/target/x86_64-unknown-linux-gnu/release

declare -A EXECS RATE SECS COV FT FILES CRASHED
status=0
for t in "${TARGETS[@]}"; do
  work="fuzz/corpus-work/$t"
  artifacts="fuzz/artifacts/$t"
  mkdir -p "$work" "$artifacts" "fuzz/corpus/$t"
  limit=(-runs="$RUNS")
  [ "$TIME" != 0 ] && limit=(-max_total_time="$TIME")
  dict=()
  [ -f "fuzz/dict/$t.dict" ] && dict=(-dict="fuzz/dict/$t.dict")
  log "$t: fuzzing (${limit[*]})"
  started=$(date +%s)
  set +e
  "$BIN/$t" "${limit[@]}" "${dict[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$work" "fuzz/corpus/$t" "fuzz/seeds/$t" >"$artifacts/fuzz.log" 2>&1
  rc=$?
  set -e
  SECS[$t]=$(( $(date +%s) - started ))
  EXECS[$t]=$(sed -n 's/^stat::number_of_executed_units: *//p' "$artifacts/fuzz.log" | tail -1)
  RATE[$t]=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$artifacts/fuzz.log" | tail -1)
  crashes=$(find "$artifacts" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  CRASHED[$t]=$crashes
  if [ "$rc" != 0 ] || [ "$crashes" != 0 ]; then
    status=1
    log "$t: FAILED (exit $rc, $crashes artifacts in $artifacts); see $artifacts/fuzz.log"
    grep -m5 -E 'panicked|ERROR' "$artifacts/fuzz.log" >&2 || true
  fi

  # A greedy set cover of the edges reached (hit counts ignored): the fewest inputs that keep the
  # coverage, a small corpus for the repository.
  log "$t: minimising the corpus"
  fresh="fuzz/corpus-work/$t.min"
  rm -rf "$fresh"
  mkdir -p "$fresh"
  "$BIN/$t" -set_cover_merge=1 -use_counters=0 "$fresh" "$work" "fuzz/corpus/$t" "fuzz/seeds/$t" >"$artifacts/merge.log" 2>&1
  rm -rf "fuzz/corpus/$t"
  mv "$fresh" "fuzz/corpus/$t"
  FILES[$t]=$(find "fuzz/corpus/$t" -type f | wc -l)
  # Coverage the kept corpus reaches: libFuzzer's edge (cov) and feature (ft) counts on replay.
  "$BIN/$t" -runs=0 "fuzz/corpus/$t" >"$artifacts/replay.log" 2>&1 || true
  line=$(grep -E 'INITED|DONE' "$artifacts/replay.log" | tail -1)
  COV[$t]=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$line")
  FT[$t]=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$line")
  log "$t: ${EXECS[$t]:-?} executions in ${SECS[$t]} s, $crashes crashes, corpus ${FILES[$t]} files, cov ${COV[$t]}, ft ${FT[$t]}"
done

# Each target's latest figures are kept in fuzz/results.tsv; FUZZING.md's table is rebuilt from it.
RESULTS=fuzz/results.tsv
[ -f "$RESULTS" ] || printf 'target\tdate\tcommit\texecutions\texec_per_s\tseconds\tcrashes\tcorpus_files\tcov\tft\n' >"$RESULTS"
for t in "${TARGETS[@]}"; do
  grep -v -P "^$t\t" "$RESULTS" >"$RESULTS.tmp" || true
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$(date -u +%Y-%m-%d)" "$commit" "${EXECS[$t]:-?}" \
    "${RATE[$t]:-?}" "${SECS[$t]}" "${CRASHED[$t]}" "${FILES[$t]}" "${COV[$t]:-?}" "${FT[$t]:-?}" >>"$RESULTS.tmp"
  mv "$RESULTS.tmp" "$RESULTS"
done
TOOLS="$(rustc --version | cut -d' ' -f1-2), cargo-fuzz $CARGO_FUZZ_VERSION, $(nproc) cores" python3 - <<'PY'
import csv, os, pathlib, re
rows = list(csv.DictReader(open("fuzz/results.tsv"), delimiter="\t"))
order = ["cookie_open", "request", "id_token", "logout_token", "jwks", "config", "path", "form_post", "rules"]
rows.sort(key=lambda r: order.index(r["target"]) if r["target"] in order else 99)
num = lambda v: f"{int(v):,}" if v.isdigit() else v
lines = ["<!-- fuzz-results:start (written by scripts/fuzz.sh from fuzz/results.tsv) -->",
         f"Toolchain: {os.environ['TOOLS']}; one target at a time; release build with debug assertions.", "",
         "| target | date | commit | executions | exec/s | seconds | crashes | corpus files | cov (edges) | ft (features) |",
         "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
for r in rows:
    lines.append(f"| `{r['target']}` | {r['date']} | `{r['commit']}` | {num(r['executions'])} | {num(r['exec_per_s'])} | "
                 f"{num(r['seconds'])} | {r['crashes']} | {r['corpus_files']} | {num(r['cov'])} | {num(r['ft'])} |")
lines.append("<!-- fuzz-results:end -->")
doc = pathlib.Path("FUZZING.md")
table = "\n".join(lines) + "\n"
if doc.exists() and "fuzz-results:start" in doc.read_text():
    doc.write_text(re.sub(r"<!-- fuzz-results:start.*?<!-- fuzz-results:end -->\n?", lambda m: table, doc.read_text(), flags=re.S))
    print("[fuzz] figures written into FUZZING.md")
else:
    print(table)
PY
exit $status
