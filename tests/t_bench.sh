#!/bin/sh
# The benchmark harness at a tiny size, so it cannot rot: every benchmark
# and baseline runs once and the table is written (to a scratch file, not
# docs/BENCHMARKS.md).  Speed is measured by `make bench`, never here.
. "$(dirname "$0")/lib.sh"
if [ ! -x "$ROOT/build/bench/render_bench" ] || [ ! -x "$ROOT/carecast" ]; then
  not_ok "bench binaries are built" "make check builds carecast and build/bench/render_bench"; exit 0
fi
cd "$ROOT"
if RUNS=1 MESSAGES=500 PLAN_CUSTOMERS="500 1000" SMTP_MESSAGES=100 BENCH_OUT="$T/b.md" sh bench/run.sh > "$T/log" 2>&1; then
  ok "bench/run.sh runs every benchmark at tiny size"
else
  not_ok "bench/run.sh runs" "$(tail -5 "$T/log")"
fi
for section in "## Plan" "## SMTP" "## Render" "Growth from 500 to 1000" "Ratio carecast / smtp-source"; do
  grep -q "$section" "$T/b.md" && ok "the table has: $section" || not_ok "the table has: $section"
done
grep -q "same rows: \([0-9]*\)/\1 at 500, \([0-9]*\)/\2 at 1000" "$T/b.md" && ok "carecast and the SQL baseline select the same rows" || not_ok "same rows" "$(grep 'same rows' "$T/b.md")"
