#!/bin/sh
# End to end against real servers on loopback: the birthday campaign is
# planned and delivered by SMTP to Postfix's smtp-sink and by HTTP to
# Kannel (bearerbox + smsbox + fakesmsc); each due customer's email and
# SMS arrive with the right recipient and text, Chinese as UCS-2.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/servers.sh"

for bin in "$SMTP_SINK_BIN" "$BEARERBOX_BIN" "$SMSBOX_BIN" "$FAKESMSC_BIN"; do
  if [ ! -x "$bin" ]; then
    not_ok "test servers are installed" "$bin is missing (make check installs postfix, kannel, kannel-extras)"
    exit 0
  fi
done

start_smtp_sink
start_kannel
wait_port "$SMTP_PORT" 10 && ok "smtp-sink listens on 127.0.0.1:$SMTP_PORT" || not_ok "smtp-sink listens"

DB="$T/care.db"
sqlite3 "$DB" <<'SQL'
CREATE TABLE customers(id TEXT PRIMARY KEY, name TEXT, first_name TEXT, email TEXT, phone TEXT, birth_date TEXT,
  locale TEXT, timezone TEXT, status TEXT, email_opt_in INTEGER, sms_opt_in INTEGER, preferred_channel TEXT);
INSERT INTO customers VALUES
 ('C1', '李娜', '娜', 'li.na@example.cn', '+8613800138001', '1988-06-15', 'zh-CN', 'Asia/Shanghai', 'active', 1, 1, NULL),
 ('C2', '王建国', '建国', 'wang@example.cn', '+8613900139002', '1975-06-15', 'zh-CN', 'Asia/Shanghai', 'active', 0, 1, NULL),
 ('C3', 'Alice Brown', 'Alice', 'alice@example.com', '+14155550103', '1990-06-15', 'en-US', 'America/Los_Angeles', 'active', 1, 0, NULL),
 ('C4', '欧阳修', '修', 'ouyang@example.cn', NULL, '1969-06-15', 'zh-CN', NULL, 'active', 1, 0, NULL),
 ('C5', 'Not Today', 'Not', 'nt@example.com', '+14155550105', '1990-06-16', 'en-US', NULL, 'active', 1, 1, NULL),
 ('C6', 'Closed', 'C', 'closed@example.com', '+14155550106', '1990-06-15', 'en-US', NULL, 'closed', 1, 1, NULL);
SQL
mkdir -p "$T/rules" && cp "$ROOT/rules/birthday.yaml" "$T/rules/"
cat > "$T/carecast.yaml" <<YAML
database: $DB
timezone: Asia/Shanghai
rules: $T/rules
templates: $ROOT/templates
sender: {name: 关怀银行, email: care@bank.example.cn}
sms: {signature: 【关怀银行】}
transports:
  email: {type: smtp, host: 127.0.0.1, port: $SMTP_PORT, tls: none, timeout: 20 seconds}
  sms:
    type: kannel
    url: $SENDSMS_URL
    username: $KANNEL_USER
    password_env: E2E_SMS_PASSWORD
    from: "10690000"
    timeout: 20 seconds
YAML
export E2E_SMS_PASSWORD="$KANNEL_PASS"

cc --config "$T/carecast.yaml" --date 2026-06-15 plan > "$T/plan.out" 2>&1
# C1, C2 by SMS (sms first); C3, C4 by email; C5 not due; C6 closed.
sqlite3 "$DB" "SELECT customer_id || ':' || channel FROM care_outbox WHERE campaign='birthday-greeting' ORDER BY 1" | tr '\n' ' ' > "$T/planned"
[ "$(cat "$T/planned")" = "C1:sms C2:sms C3:email C4:email " ] && ok "the due customers are planned on their channels" || not_ok "planned" "$(cat "$T/planned") $(cat "$T/plan.out")"

expect_status 0 "send delivers through smtp-sink and Kannel" cc --config "$T/carecast.yaml" --now 2026-06-16T12:00:00 send
grep -q "sent 4, retry 0, failed 0" "$T/out" && ok "all four sent" || not_ok "all four sent" "$(cat "$T/out") $(cat "$T/err")"
wait_sink 2 10 && ok "two emails reached smtp-sink" || not_ok "two emails reached smtp-sink" "$(sink_count) files"
wait_fakesmsc 2 10 && ok "two SMS reached fakesmsc" || not_ok "two SMS reached fakesmsc" "$(cat "$FAKESMSC_OUT" | tail -5)"

python3 - "$SINK_DIR" <<'PY' && ok "emails: recipient, encoded Chinese subject and body" || not_ok "emails: recipient, subject and body"
import email, email.policy, glob, sys
msgs = {}
for path in glob.glob(sys.argv[1] + "/*"):
    raw = open(path, "rb").read()
    # smtp-sink puts X-Mail-Args / X-Rcpt-Args lines before the message.
    m = email.message_from_bytes(raw, policy=email.policy.default)
    msgs[str(m["To"].addresses[0].addr_spec)] = m
assert set(msgs) == {"alice@example.com", "ouyang@example.cn"}, set(msgs)
zh = msgs["ouyang@example.cn"]
assert str(zh["Subject"]) == "欧阳修，祝您生日快乐", str(zh["Subject"])
assert zh["To"].addresses[0].display_name == "欧阳修"
assert zh["From"].addresses[0].display_name == "关怀银行"
body = zh.get_body(("plain",)).get_content()
assert "今天是您的生日" in body, body
en = msgs["alice@example.com"]
assert str(en["Subject"]) == "Happy birthday, Alice", str(en["Subject"])
assert "Dear Alice" in en.get_body(("plain",)).get_content()
assert en["Message-ID"] and en["Message-ID"] != zh["Message-ID"]
PY

python3 - "$FAKESMSC_OUT" <<'PY' && ok "SMS: recipient and text, Chinese as UCS-2" || not_ok "SMS: recipient and text" "$(grep 'Got message' "$FAKESMSC_OUT")"
import re, sys, urllib.parse
got = {}
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    m = re.search(r"Got message \d+: <(\S*) (\S*) (text|ucs-2|data) (.*)>$", line)
    if not m:
        continue
    frm, to, kind, body = m.groups()
    if kind == "ucs-2":
        text = urllib.parse.unquote_to_bytes(body.replace("+", " ")).decode("utf-16-be")
    else:
        text = urllib.parse.unquote_plus(body)
    got[to] = (kind, text)
want = {"+8613800138001": "【关怀银行】李娜，生日快乐！关怀银行为您准备了一份生日礼券，祝您新的一岁平安喜乐。回T退订",
        "+8613900139002": "【关怀银行】王建国，生日快乐！关怀银行为您准备了一份生日礼券，祝您新的一岁平安喜乐。回T退订"}
assert set(got) == set(want), got
for to, text in want.items():
    assert got[to] == ("ucs-2", text), (got[to], text)
PY

[ "$(sqlite3 "$DB" "SELECT count(*) FROM care_outbox WHERE status='sent' AND sent_at IS NOT NULL")" = 4 ] \
  && ok "the outbox records all four as sent" || not_ok "the outbox records all four as sent"
sqlite3 "$DB" "SELECT reply FROM care_attempts" > "$T/replies"
grep -q "Accepted" "$T/replies" && ok "Kannel's reply is recorded" || not_ok "Kannel's reply is recorded" "$(cat "$T/replies")"
grep -q "$KANNEL_PASS" "$T/replies" "$T/out" "$T/err" && not_ok "the SMS password appears nowhere" || ok "the SMS password appears nowhere"

# Running again the same day sends nothing new.
expect_status 0 "run again" cc --config "$T/carecast.yaml" --now 2026-06-15T23:00:00 run
grep -q "0 new outbox records" "$T/out" && grep -q "sent 0, retry 0, failed 0" "$T/out" && ok "a second run sends nothing" || not_ok "a second run sends nothing" "$(cat "$T/out")"
sleep 1
[ "$(sink_count)" = 2 ] && [ "$(fakesmsc_count)" = 2 ] && ok "the servers got nothing more" || not_ok "the servers got nothing more"

# A dead SMTP server is a temporary failure: the message waits for a retry.
stop_smtp_sink
sqlite3 "$DB" "UPDATE care_outbox SET status='planned', sent_at=NULL WHERE channel='email' AND customer_id='C4'"
expect_status 0 "send with the SMTP server down" cc --config "$T/carecast.yaml" --now 2026-06-16T13:00:00 send
grep -q "sent 0, retry 1, failed 0" "$T/out" && ok "connection refused means retry" || not_ok "connection refused means retry" "$(cat "$T/out")"
[ "$(sqlite3 "$DB" "SELECT status FROM care_outbox WHERE customer_id='C4'")" = retry ] && ok "the message is kept for retry" || not_ok "the message is kept for retry"
