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

# Every email the example campaigns produced parses with no defect, and its
# decoded From, To and Subject are the intended Unicode strings.
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
"$PY" - var/carecast.db var/outbox/email <<'PYEOF' > "$T/eml" 2>&1 && ok "all $(ls var/outbox/email | wc -l) demo emails parse cleanly: $(cat "$T/eml")" || not_ok "demo emails parse cleanly" "$(tail -5 "$T/eml")"
import email, email.policy, sqlite3, sys
con = sqlite3.connect(sys.argv[1])
n = 0
for oid, to, to_name, subject in con.execute(
        "SELECT id, recipient, to_name, subject FROM care_outbox WHERE channel = 'email' AND status = 'sent'"):
    msg = email.message_from_binary_file(open("%s/%d.eml" % (sys.argv[2], oid), "rb"), policy=email.policy.default)
    for part in msg.walk():
        assert not part.defects, (oid, part.defects)
    for h in ("From", "To", "Subject", "Date", "Message-ID"):
        assert msg[h] is not None and not msg[h].defects, (oid, h)
    assert str(msg["Subject"]) == subject, (oid, str(msg["Subject"]), subject)
    addr = msg["To"].addresses[0]
    assert addr.addr_spec == to, (oid, addr.addr_spec, to)
    if to_name:
        assert addr.display_name.replace(" ", "") == to_name.replace(" ", ""), (oid, addr.display_name, to_name)
    assert msg["From"].addresses[0].display_name == "关怀银行", oid
    msg.get_body(("plain",)).get_content()
    n += 1
print("%d checked" % n)
PYEOF
