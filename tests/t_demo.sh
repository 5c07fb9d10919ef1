#!/bin/sh
# `make demo` from a fresh copy: the demo database, the example campaigns
# planned and delivered into var/outbox/, and nothing new on a second run.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/repo/tests"
cp -r "$ROOT/rules" "$ROOT/templates" "$ROOT/etc" "$T/repo/"
cp "$ROOT/tests/demo.sh" "$T/repo/tests/"
cd "$T/repo"
export CARECAST DEMO_CUSTOMERS=3000 DEMO_DATE=2026-11-24

expect_status 0 "make demo's script runs" sh tests/demo.sh
grep -q "Demo done: var/outbox/ holds" "$T/out" && ok "demo prints a summary" || not_ok "demo prints a summary"
n1=$(find var/outbox -type f | wc -l)
[ "$n1" -gt 0 ] && ok "demo delivered $n1 messages into var/outbox/" || not_ok "demo delivered messages"
if python3 "$ROOT/tests/check_birthday.py" var/carecast.db var/outbox 2026-11-24 > "$T/check" 2>&1; then
  ok "birthday messages are exactly those due on the demo date: $(cat "$T/check")"
else
  not_ok "birthday messages are exactly those due on the demo date" "$(cat "$T/check")"
fi
find var/outbox -name '*.tmp.*' | grep -q . && not_ok "no temporary files are left" || ok "no temporary files are left"
perm=$(stat -c %a "$(find var/outbox -type f | head -1)")
[ "$perm" = 640 ] && ok "outbox files are not world-readable" || not_ok "outbox files are not world-readable" "mode $perm"

expect_status 0 "make demo again" sh tests/demo.sh
n2=$(find var/outbox -type f | wc -l)
[ "$n1" = "$n2" ] && ok "a second run adds no message ($n2)" || not_ok "a second run adds no message" "$n1 then $n2"
grep -q "0 new outbox records" "$T/out" && ok "a second run plans nothing" || not_ok "a second run plans nothing" "$(cat "$T/out")"
