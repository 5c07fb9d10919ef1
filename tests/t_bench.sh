#!/bin/sh
# The benchmark harness at a tiny size, so it cannot rot: every benchmark
# and baseline runs once (render, plan, segments, end to end, SMTP, SMS)
# and the tables are written (to a scratch file, not docs/BENCHMARKS.md).
# Speed is measured by `make bench`, never here.
. "$(dirname "$0")/lib.sh"
if [ ! -x "$ROOT/build/bench/render_bench" ] || [ ! -x "$ROOT/carecast" ]; then
  not_ok "bench binaries are built" "make check builds carecast and build/bench/render_bench"; exit 0
fi
for tool in /usr/bin/ab /usr/bin/curl /usr/sbin/smtp-source /usr/sbin/bearerbox /usr/bin/time; do
  [ -x "$tool" ] || { not_ok "$tool is installed" "etc/install-deps.sh test"; exit 0; }
done
cd "$ROOT"
if RUNS=1 MESSAGES=300 PLAN_CUSTOMERS="1000 3000" E2E_CUSTOMERS=3000 SMTP_MESSAGES=200 SMS_MESSAGES=300 SMS_WARMUP=100 \
   BENCH_OUT="$T/b.md" TMPDIR="$T" sh bench/run.sh > "$T/log" 2>&1; then
  ok "bench/run.sh runs every benchmark at tiny size"
else
  not_ok "bench/run.sh runs" "$(tail -5 "$T/log")"
fi
b="$T/b.md"
for section in "## Plan" "## Segments" "## End to end" "## SMTP" "## SMS" "## Render" \
  "Growth from 1000 to 3000 customers: time" "Ratio carecast / smtp-source" "Ratio carecast / ab" "Ratio carecast / curl --parallel" \
  "Ratio peer time / carecast time" "Targets met in this run" "Machine:"; do
  grep -q "$section" "$b" && ok "the document has: $section" || not_ok "the document has: $section"
done
# Every target has its row in the summary table, with a verdict.
for row in "| plan, 1000 customers |" "| plan, 3000 customers |" "| plan growth 1000 -> 3000, time |" \
  "| plan growth 1000 -> 3000, peak RSS |" "| segments growth 1000 -> 3000, peak RSS |" \
  "| end to end, 3000 customers |" "| SMTP, 200 messages |" "| SMS through Kannel, 300 messages |" \
  "| render (lowest template) |"; do
  grep -F "$row" "$b" | grep -q -E '\*\*(met|not met)\*\*' && ok "summary row: $row" || not_ok "summary row: $row"
done
# Each benchmark produced a figure: no empty or NaN cell.
if grep -q -i -E '\bnan\b|\| *\|' "$b"; then
  not_ok "every figure is measured" "$(grep -i -E '\bnan\b|\| *\|' "$b" | head -3)"
else
  ok "every figure is measured"
fi
n=$(grep -c -E '^\| [a-z0-9]' "$b")
[ "$n" -ge 20 ] && ok "the tables have their rows ($n)" || not_ok "the tables have their rows" "$n"
grep -q "same rows: \([0-9]*\)/\1 at 1000, \([0-9]*\)/\2 at 3000" "$b" && ok "carecast and the SQL baseline select the same rows" || not_ok "same rows" "$(grep 'same rows' "$b")"
grep -q "Same messages sent: yes (carecast \([1-9][0-9]*\), peer \1). A second run the same day sent 0 (carecast) and 0 (peer)." "$b" \
  && ok "end to end: carecast and the peer send the same messages, and nothing twice" || not_ok "end to end: same messages" "$(grep 'Same messages' "$b")"
grep -q "carecast sent 300 per run; ab completed 300 with 0 failed or non-2xx; curl got a 2xx for 300. The fake SMSC received 1000 of 1000 (with the 100 of the warm-up)." "$b" \
  && ok "SMS: every message of both reached the fake SMSC" || not_ok "SMS counts" "$(grep 'carecast sent .* ab completed' "$b")"
grep -q "carecast sent 200 per run" "$b" && ok "SMTP: carecast sent every message" || not_ok "SMTP count" "$(grep 'carecast sent' "$b")"
grep -q "password=secret" "$b" && not_ok "the Kannel password is not in the document" || ok "the Kannel password is not in the document"
# Nothing left running: the servers the harness started are stopped.
if ls "$T"/carecast-bench.* > /dev/null 2>&1; then not_ok "the harness removed its scratch folder"; else ok "the harness removed its scratch folder"; fi
