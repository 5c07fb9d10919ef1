#!/bin/sh
# tests/valgrind.sh - `make valgrind`: the optimised ./carecast under
# valgrind memcheck on the main command paths, in a temporary folder:
# init, demo-data (small), lint, preview, plan --dry-run, plan, send (file
# transport), run, report (text and html --output).
#
# Each command runs as
#   valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect
#            --error-exitcode=1 ./carecast ...
# so an invalid read or write, a use of uninitialised memory, or memory
# definitely or indirectly lost fails it ("still reachable" blocks held by
# ICU, libcurl and OpenSSL until exit are not errors).  Logs are kept in
# $T/vg-N.log and printed on failure; the closing line says how long it took.
. "$(dirname "$0")/lib.sh"
command -v valgrind > /dev/null || { not_ok "valgrind is installed"; exit 1; }
VG="valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=1 --num-callers=30 -q"
start=$(date +%s)
n=0 failed=0
# vg NAME ARGS...: carecast ARGS under valgrind, from inside $T/care
vg() {
  _name=$1; shift
  n=$((n + 1))
  _t0=$(date +%s)
  (cd "$T/care" && $VG --log-file="$T/vg-$n.log" "$CARECAST" "$@" > "$T/vg-$n.out" 2> "$T/vg-$n.err")
  _rc=$?
  _took=$(( $(date +%s) - _t0 ))
  if [ -s "$T/vg-$n.log" ] || [ "$_rc" -ne 0 ]; then
    not_ok "$_name" "exit $_rc; $(head -c 3000 "$T/vg-$n.log") $(head -c 300 "$T/vg-$n.err")"
    failed=$((failed + 1))
  else
    ok "$_name clean (${_took}s)"
  fi
}
mkdir -p "$T/care"
(cd "$T" && $VG --log-file="$T/vg-0.log" "$CARECAST" init "$T/care" > /dev/null 2> "$T/vg-0.err") \
  && [ ! -s "$T/vg-0.log" ] && ok "init clean" || { not_ok "init" "$(cat "$T/vg-0.log" "$T/vg-0.err" | head -c 3000)"; failed=$((failed + 1)); }
# The repository's example campaigns (every kind of rule) over the demo data.
rm -rf "$T/care/rules" "$T/care/templates"
cp -r "$ROOT/rules" "$ROOT/templates" "$T/care/"
vg "demo-data --customers 1000" --date 2026-11-24 demo-data --customers 1000 --seed 1
vg "lint" --date 2026-11-24 lint
vg "preview birthday-greeting --limit 3" --date 2026-11-24 preview birthday-greeting --limit 3
vg "plan --dry-run --format jsonl" --date 2026-11-24 --format jsonl plan --dry-run
vg "plan" --date 2026-11-24 plan
vg "send (file transport)" --now 2026-11-25T12:00:00 send
vg "run" --date 2026-11-25 run
vg "report" --now 2026-11-26T12:00:00 report
vg "report --format html --output" --now 2026-11-26T12:00:00 --format html report --output var/report.html
took=$(( $(date +%s) - start ))
sent=$(find "$T/care/var/outbox" -type f 2>/dev/null | wc -l | tr -d ' ')
echo "valgrind: $((n + 1)) commands, $failed with errors, $sent outbox files written, ${took}s in all"
[ "$failed" -eq 0 ]
