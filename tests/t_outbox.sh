#!/bin/sh
# The outbox: send times, the single-sender lock, leases after a crash,
# retries until max_attempts, and file transport output.
. "$(dirname "$0")/lib.sh"

DB="$T/care.db"
mkdir -p "$T/rules" "$T/templates"
sqlite3 "$DB" <<'SQL'
CREATE TABLE customers(id TEXT PRIMARY KEY, name TEXT, email TEXT, phone TEXT, birth_date TEXT, locale TEXT,
  timezone TEXT, status TEXT, email_opt_in INTEGER, sms_opt_in INTEGER);
INSERT INTO customers VALUES
 ('C1', '李娜', 'li.na@example.cn', '+8613800138001', '1990-05-01', 'zh-CN', 'Asia/Shanghai', 'active', 1, 1),
 ('C2', 'Ann', 'ann@example.com', NULL, '1991-05-01', 'en-US', 'America/New_York', 'active', 1, 0),
 ('C3', 'Bo', 'bo@example.com', NULL, '1992-05-01', 'en-US', 'Asia/Tokyo', 'active', 1, 0);
SQL
cat > "$T/rules/b.yaml" <<'YAML'
campaign: b
audience: {where: status == "active"}
when: {date: birth_date, every: year}
send_at: "09:30"
channels: [sms, email]
template: t
YAML
printf 'Hello {{ customer.name }}\n' > "$T/templates/t.sms.liquid"
printf -- '---\nsubject: Hi\n---\nHello {{ customer.name }}\n' > "$T/templates/t.email.liquid"
cat > "$T/file.yaml" <<YAML
database: $DB
timezone: Asia/Shanghai
rules: $T/rules
templates: $T/templates
outbox_dir: $T/outbox
sender: {name: Care, email: care@example.cn}
YAML
c() { cc --config "$T/file.yaml" "$@"; }

expect_status 0 "plan" c --date 2026-05-01 plan
# 09:30 in Shanghai is 01:30 UTC; in Tokyo 00:30 UTC; in New York 13:30 UTC.
expect_status 0 "send before anyone's send time" c --now 2026-05-01T00:00:00Z send
grep -q "sent 0," "$T/out" && ok "nothing goes before send_at" || not_ok "nothing goes before send_at" "$(cat "$T/out")"
expect_status 0 "send at 02:00 UTC" c --now 2026-05-01T02:00:00Z send
grep -q "sent 2," "$T/out" && ok "Shanghai and Tokyo customers at their 09:30" || not_ok "Shanghai and Tokyo at 09:30" "$(cat "$T/out")"
[ "$(sqlite3 "$DB" "SELECT status FROM care_outbox WHERE customer_id='C2'")" = planned ] && ok "New York still waits" || not_ok "New York still waits"

# One sender at a time: a second one says so, exits 0 and touches nothing.
flock -x "$DB.send-lock" sleep 3 &
holder=$!
sleep 0.3
expect_status 0 "a second sender exits 0" c --now 2026-05-01T14:00:00Z send
grep -q "another carecast is sending" "$T/err" && ok "a second sender says another one is sending" || not_ok "second sender message" "$(cat "$T/err")"
[ "$(sqlite3 "$DB" "SELECT status FROM care_outbox WHERE customer_id='C2'")" = planned ] && ok "the second sender changed nothing" || not_ok "the second sender changed nothing"
wait "$holder"

# A sender that died mid-flight: its lease expires and the message goes again.
sqlite3 "$DB" "UPDATE care_outbox SET status='sending', lease_until=strftime('%s','2026-05-01 13:00:00') WHERE customer_id='C2'"
expect_status 0 "send while the lease is live" c --now 2026-05-01T12:59:00Z send
grep -q "sent 0," "$T/out" && ok "a live lease is respected" || not_ok "a live lease is respected" "$(cat "$T/out")"
expect_status 0 "send after the lease expired" c --now 2026-05-01T14:00:00Z send
grep -q "sent 1," "$T/out" && ok "an expired lease makes the message go" || not_ok "an expired lease" "$(cat "$T/out")"
id=$(sqlite3 "$DB" "SELECT id FROM care_outbox WHERE customer_id='C2'")
[ -f "$T/outbox/email/$id.eml" ] && ok "the file transport wrote email/$id.eml" || not_ok "email file written"
grep -q '^To: Ann <ann@example.com>' "$T/outbox/email/$id.eml" && ok "the .eml is the RFC 5322 message" || not_ok "the .eml is the RFC 5322 message"
python3 - "$T/outbox/sms" <<'PY' && ok "the SMS .json has the contract's fields" || not_ok "the SMS .json has the contract's fields"
import glob, json, sys
[path] = glob.glob(sys.argv[1] + "/*.json")
m = json.load(open(path))
assert set(m) == {"to", "from", "text", "encoding", "segments", "campaign", "step", "customer"}, m
assert m["to"] == "+8613800138001" and m["encoding"] == "ucs2" and m["segments"] == 1 and m["customer"] == "C1"
assert m["text"].startswith("Hello 李娜"), m["text"]
PY

# Retries: a dead SMTP server is retried with backoff, then fails at max_attempts.
port=$(free_port)
cat > "$T/smtp.yaml" <<YAML
database: $DB
timezone: Asia/Shanghai
rules: $T/rules
templates: $T/templates
sender: {name: Care, email: care@example.cn}
transports:
  email: {type: smtp, host: 127.0.0.1, port: $port, tls: none, max_attempts: 2, timeout: 5 seconds}
YAML
sqlite3 "$DB" "UPDATE care_outbox SET status='planned', attempts=0 WHERE customer_id='C3'"
expect_status 0 "attempt 1 against a closed port" cc --config "$T/smtp.yaml" --now 2026-05-01T15:00:00Z send
grep -q "sent 0, retry 1, failed 0" "$T/out" && ok "attempt 1 is a retry" || not_ok "attempt 1 is a retry" "$(cat "$T/out")"
next=$(sqlite3 "$DB" "SELECT next_attempt_at - strftime('%s','2026-05-01 15:00:00') FROM care_outbox WHERE customer_id='C3'")
[ "$next" -ge 60 ] && [ "$next" -le 75 ] && ok "the first retry waits 60-75 s (backoff with jitter): $next" || not_ok "backoff" "$next"
expect_status 0 "too early for the retry" cc --config "$T/smtp.yaml" --now 2026-05-01T15:00:30Z send
grep -q "sent 0, retry 0, failed 0" "$T/out" && ok "nothing is retried before its time" || not_ok "nothing is retried before its time"
expect_status 1 "attempt 2 fails for good (exit 1)" cc --config "$T/smtp.yaml" --now 2026-05-01T16:00:00Z send
grep -q "sent 0, retry 0, failed 1" "$T/out" && ok "max_attempts reached: failed" || not_ok "max_attempts reached" "$(cat "$T/out")"
[ "$(sqlite3 "$DB" "SELECT count(*) FROM care_attempts a JOIN care_outbox o ON o.id=a.outbox_id WHERE o.customer_id='C3'")" = 2 ] \
  && ok "both attempts are recorded" || not_ok "both attempts are recorded"
sqlite3 "$DB" "SELECT last_error FROM care_outbox WHERE customer_id='C3'" | grep -q . && ok "the last error is kept" || not_ok "the last error is kept"

expect_status 2 "an unsupported transport type is a configuration error" cc --config "$T/smtp.yaml" --db "$T/none.db" send

# The rate limit: 30 messages at 20 per second take at least a second
# (a lower bound on behaviour, not a speed test).
sqlite3 "$DB" "CREATE TABLE many(id INTEGER PRIMARY KEY, customer_id TEXT); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 30) INSERT INTO many SELECT i, 'C2' FROM n;"
mkdir -p "$T/rate-rules"
printf 'campaign: many\nkind: service\naudience: {from: many}\nrepeat: once\nchannels: [email]\ntemplate: t\n' > "$T/rate-rules/many.yaml"
cat > "$T/rate.yaml" <<YAML
database: $DB
rules: $T/rate-rules
templates: $T/templates
outbox_dir: $T/outbox
sender: {name: Care, email: care@example.cn}
transports:
  email: {type: file, rate: 20}
YAML
cc --config "$T/rate.yaml" --now 2026-05-02T10:00:00Z plan > /dev/null
start=$(date +%s%N)
expect_status 0 "send 30 messages at rate 20/s" cc --config "$T/rate.yaml" --now 2026-05-02T10:00:00Z send
took=$(( ($(date +%s%N) - start) / 1000000 ))
grep -q "sent 30," "$T/out" && [ "$took" -ge 1000 ] && ok "the rate limit held: 30 messages took ${took} ms (>= 1000)" || not_ok "rate limit" "$(cat "$T/out") in $took ms"

# Progress: plain lines per 1,000 messages in a log; a line rewritten in place on a terminal.
sqlite3 "$DB" "CREATE TABLE bulk(id INTEGER PRIMARY KEY, customer_id TEXT); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 2100) INSERT INTO bulk SELECT i, 'C3' FROM n;"
mkdir -p "$T/bulk-rules"
printf 'campaign: bulk\nkind: service\naudience: {from: bulk}\nrepeat: once\nchannels: [email]\ntemplate: t\n' > "$T/bulk-rules/bulk.yaml"
sed "s|$T/rate-rules|$T/bulk-rules|; s/, rate: 20//" "$T/rate.yaml" > "$T/bulk.yaml"
cc --config "$T/bulk.yaml" --now 2026-05-03T10:00:00Z plan > /dev/null
expect_status 0 "send 2,100 messages to a log" cc --config "$T/bulk.yaml" --now 2026-05-03T10:00:00Z send
[ "$(grep -c '^carecast: sending: [0-9]* done' "$T/err")" = 2 ] && grep -q "sending: 1000 done\|sending: 1050 done\|sending: 1[0-9]* done" "$T/err" \
  && ok "two progress lines in the log for 2,100 messages" || not_ok "progress lines" "$(cat "$T/err")"
sqlite3 "$DB" "UPDATE care_outbox SET status='planned', attempts=0 WHERE campaign='bulk' AND id IN (SELECT id FROM care_outbox WHERE campaign='bulk' LIMIT 120)"
script -qec "$CARECAST --config $T/bulk.yaml --now 2026-05-03T11:00:00Z send" /dev/null > "$T/tty" 2>&1
grep -q "$(printf '\r')carecast: sending: 120 done (120 sent" "$T/tty" && ok "on a terminal the progress line is rewritten in place" || not_ok "tty progress" "$(od -c "$T/tty" | head -5)"

# Claim order: the highest priority first, then the oldest, however the
# due queue is read (outbox.h).
mkdir -p "$T/prio-rules"
for p in 10:low 90:high 50:mid; do
  printf 'campaign: %s\nkind: service\npriority: %s\naudience: {where: id == "C2"}\nrepeat: daily\nchannels: [email]\ntemplate: t\n' \
    "${p#*:}" "${p%%:*}" > "$T/prio-rules/${p#*:}.yaml"
done
sed "s|$T/rate-rules|$T/prio-rules|; s/, rate: 20//" "$T/rate.yaml" > "$T/prio.yaml"
cc --config "$T/prio.yaml" --now 2026-05-04T14:00:00Z plan > /dev/null
order=""
for i in 1 2 3; do
  cc --config "$T/prio.yaml" --now 2026-05-04T14:00:00Z send --limit 1 > /dev/null 2>&1
  order="$order $(sqlite3 "$DB" "SELECT group_concat(campaign, '+') FROM (SELECT campaign FROM care_outbox WHERE campaign IN ('low', 'mid', 'high') AND status = 'sent' ORDER BY campaign)")"
done
[ "$order" = " high high+mid high+low+mid" ] && ok "messages go in priority order (90, 50, 10)" || not_ok "priority order" "$order"
