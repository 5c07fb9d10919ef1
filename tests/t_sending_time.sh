#!/bin/sh
# When a message goes: quiet hours hold at the moment of sending, not only
# at planning (a retry, a catch-up, a sender that was down); a catch-up of
# an earlier day's occurrence goes at send_at today, not at the hour the
# run starts; ignore_quiet_hours campaigns and DST; init writes quiet hours.
. "$(dirname "$0")/lib.sh"

DB="$T/care.db"
mkdir -p "$T/rules" "$T/templates"
sqlite3 "$DB" <<'SQL'
CREATE TABLE customers(id TEXT PRIMARY KEY, name TEXT, email TEXT, phone TEXT, birth_date TEXT, locale TEXT,
  timezone TEXT, status TEXT, email_opt_in INTEGER, sms_opt_in INTEGER);
INSERT INTO customers VALUES
 ('C1', '李娜', 'li.na@example.cn', '+8613800138001', '1990-05-01', 'zh-CN', 'Asia/Shanghai', 'active', 1, 1),
 ('C2', 'Ann', 'ann@example.com', NULL, '1991-11-01', 'en-US', 'America/New_York', 'active', 1, 0);
SQL
# No `kind:` and no `grace:`: the defaults (marketing, with consent above;
# grace 3 days for a date occurrence) are what this file relies on.
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
cat > "$T/c.yaml" <<YAML
database: $DB
timezone: Asia/Shanghai
rules: $T/rules
templates: $T/templates
outbox_dir: $T/outbox
sender: {name: Care, email: care@example.cn}
policy:
  quiet_hours: "21:00-08:00"
YAML
c() { cc --config "$T/c.yaml" "$@"; }
q() { sqlite3 "$DB" "$1"; }

# ---- a catch-up goes at send_at today, customer-local ----------------------
# C1's birthday was yesterday (05-01); the first run is at 01:30 on 05-02
# (Shanghai).  Planned at yesterday's 09:30, it was due at once: 01:30.
expect_status 0 "plan a day late, at 01:30" c --now 2026-05-02T01:30:00+08:00 plan
[ "$(q "SELECT send_after_local FROM care_outbox WHERE customer_id = 'C1'")" = "2026-05-02T09:30:00+08:00" ] \
  && ok "yesterday's occurrence planned at 01:30 goes at 09:30 today" \
  || not_ok "catch-up at send_at today" "$(q "SELECT send_after_local FROM care_outbox WHERE customer_id = 'C1'")"
expect_status 0 "send at 01:31" c --now 2026-05-02T01:31:00+08:00 send
grep -q "sent 0," "$T/out" && ok "nothing is sent at 01:31" || not_ok "nothing is sent at 01:31" "$(cat "$T/out")"
grep -q "^1 message in all waits for a later send time (the next at 2026-05-02T09:30:00+08:00)" "$T/out" \
  && ok "send says what waits for a later time, and the next one" || not_ok "send says what waits later" "$(cat "$T/out")"
expect_status 0 "send at 09:31" c --now 2026-05-02T09:31:00+08:00 send
grep -q "sent 1," "$T/out" && ok "the catch-up goes at 09:31" || not_ok "the catch-up goes at 09:31" "$(cat "$T/out")"

# A catch-up planned after today's send_at goes at once (not tomorrow).
rm -f "$DB"-wal; q "DELETE FROM care_attempts; DELETE FROM care_outbox; DELETE FROM care_occurrences"
expect_status 0 "plan a day late, at 10:00" c --now 2026-05-02T10:00:00+08:00 plan
[ "$(q "SELECT send_after_local FROM care_outbox WHERE customer_id = 'C1'")" = "2026-05-02T10:00:00+08:00" ] \
  && ok "a catch-up planned after today's send_at goes at once" \
  || not_ok "catch-up after send_at" "$(q "SELECT send_after_local FROM care_outbox WHERE customer_id = 'C1'")"
# An occurrence of today planned late keeps its send_at (it is not a catch-up).
q "DELETE FROM care_attempts; DELETE FROM care_outbox; DELETE FROM care_occurrences"
expect_status 0 "plan the same day at 10:00" c --now 2026-05-01T10:00:00+08:00 plan
[ "$(q "SELECT send_after_local FROM care_outbox WHERE customer_id = 'C1'")" = "2026-05-01T09:30:00+08:00" ] \
  && ok "today's occurrence keeps today's send_at" \
  || not_ok "today's occurrence keeps send_at" "$(q "SELECT send_after_local FROM care_outbox WHERE customer_id = 'C1'")"

# ---- quiet hours at the moment of sending -----------------------------------
# Planned for 09:30, but the sender was down all day and first runs at
# 23:00: the customer's night.  It waits for 08:00, then goes.
expect_status 0 "send at 23:00 (the sender was down)" c --now 2026-05-01T23:00:00+08:00 send
grep -q "sent 0," "$T/out" && ok "nothing is handed to a transport at 23:00" || not_ok "quiet at 23:00" "$(cat "$T/out")"
grep -q "^1 message waits for the customer's quiet hours to end (the first at 2026-05-02T08:00:00+08:00)" "$T/out" \
  && ok "send says what waits for the morning, and until when" || not_ok "send says what waits" "$(cat "$T/out")"
[ "$(q "SELECT status || ' ' || send_after_local FROM care_outbox WHERE customer_id = 'C1'")" = "planned 2026-05-02T08:00:00+08:00" ] \
  && ok "it waits, its send_after moved to 08:00 (report shows when it goes)" \
  || not_ok "held till 08:00" "$(q "SELECT status || ' ' || send_after_local FROM care_outbox WHERE customer_id = 'C1'")"
expect_status 0 "send at 07:59" c --now 2026-05-02T07:59:00+08:00 send
grep -q "sent 0," "$T/out" && ok "still nothing at 07:59" || not_ok "still nothing at 07:59" "$(cat "$T/out")"
expect_status 0 "send at 08:00" c --now 2026-05-02T08:00:00+08:00 send
grep -q "sent 1," "$T/out" && ok "it goes when the quiet period ends" || not_ok "goes at 08:00" "$(cat "$T/out")"

# A retry whose backoff ends in the night waits too.
q "UPDATE care_outbox SET status = 'retry', next_attempt_at = strftime('%s', '2026-05-02 14:00:00'), sent_at = NULL WHERE customer_id = 'C1'"
expect_status 0 "send at 22:30 a retry due since 22:00" c --now 2026-05-02T22:30:00+08:00 send
[ "$(q "SELECT status || ' ' || send_after_local FROM care_outbox WHERE customer_id = 'C1'")" = "retry 2026-05-03T08:00:00+08:00" ] \
  && ok "a retry due at night waits for 08:00" \
  || not_ok "retry held" "$(q "SELECT status || ' ' || send_after_local FROM care_outbox WHERE customer_id = 'C1'")"

# Each customer's own night, DST-correct: New York falls back on
# 2026-11-01 at 02:00.  At 01:30 EDT (05:30 UTC) the night ends at 08:00
# EST, which is 13:00 UTC (12:00 UTC with the offset of 01:30).
q "INSERT INTO care_outbox(campaign, step, audience_table, row_id, customer_id, occurrence, kind, channel, recipient,
     status, send_after, created_at, zone, quiet, subject, body_text)
   VALUES ('b', 'main', 'customers', 'C2', 'C2', '2026-10-31', 'marketing', 'email', 'ann@example.com',
     'planned', strftime('%s', '2026-10-31 13:30:00'), 0, 'America/New_York', 1, 'Hi', 'Hello Ann')"
# At the same instant it is 13:30 in Shanghai: C1's retry is not held.
expect_status 0 "send at 01:30 New York time on the DST day (13:30 in Shanghai)" c --now 2026-11-01T05:30:00Z send
[ "$(q "SELECT send_after - strftime('%s', '2026-11-01 13:00:00') FROM care_outbox WHERE customer_id = 'C2'")" = 0 ] \
  && ok "held until 08:00 EST, after the clocks went back" \
  || not_ok "DST-correct end of quiet hours" "$(q "SELECT datetime(send_after, 'unixepoch') FROM care_outbox WHERE customer_id = 'C2'")"
grep -q "sent 1," "$T/out" && [ "$(q "SELECT status FROM care_outbox WHERE customer_id = 'C1'")" = sent ] \
  && ok "the quiet period is each customer's own: day in Shanghai goes" || not_ok "per-customer quiet hours" "$(cat "$T/out")"

# ignore_quiet_hours: an outage notice goes at night.
cat > "$T/rules/outage.yaml" <<'YAML'
campaign: outage
kind: service
schedule: manual
ignore_quiet_hours: true
audience: {where: status == "active"}
channels: [email]
template: t
YAML
q "DELETE FROM care_outbox WHERE customer_id = 'C2'"
expect_status 0 "trigger an outage notice at 23:30" c --now 2026-05-03T23:30:00+08:00 trigger outage --customer C1 --yes
grep -q "sent 1," "$T/out" && ok "ignore_quiet_hours goes at night" || not_ok "ignore_quiet_hours goes at night" "$(cat "$T/out")"
[ "$(q "SELECT quiet FROM care_outbox WHERE campaign = 'outage'")" = 0 ] && ok "recorded as not held by quiet hours" \
  || not_ok "quiet = 0 recorded"

# Without policy.quiet_hours nothing is held at night.
sed '/policy:/,$d' "$T/c.yaml" > "$T/noquiet.yaml"
q "UPDATE care_outbox SET status = 'planned', send_after = 0, next_attempt_at = NULL WHERE customer_id = 'C1' AND campaign = 'b'"
expect_status 0 "send at night without quiet hours" cc --config "$T/noquiet.yaml" --now 2026-05-04T23:00:00+08:00 send
grep -q "sent 1," "$T/out" && ok "no quiet_hours: sent at once" || not_ok "no quiet_hours: sent at once" "$(cat "$T/out")"

# ---- init writes quiet hours --------------------------------------------------
expect_status 0 "init" cc init "$T/work"
grep -q '^  quiet_hours: "21:00-08:00"' "$T/work/etc/carecast.yaml" && ok "init writes quiet_hours 21:00-08:00" \
  || not_ok "init writes quiet_hours" "$(cat "$T/work/etc/carecast.yaml")"

# A trigger delivers what it recorded, not the rest of the due queue: an
# operator who holds back `send` does not send other campaigns' mail.
q "UPDATE care_outbox SET status = 'planned', send_after = 0, next_attempt_at = NULL, sent_at = NULL WHERE customer_id = 'C1' AND campaign = 'b'"
expect_status 0 "trigger while another campaign's message is due" \
  cc --config "$T/noquiet.yaml" --now 2026-05-05T10:00:00+08:00 trigger outage --customer C1 --key second-notice --yes
grep -q "sent 1," "$T/out" && [ "$(q "SELECT status FROM care_outbox WHERE customer_id = 'C1' AND campaign = 'b'")" = planned ] \
  && ok "trigger sends only its own campaign's messages" \
  || not_ok "trigger sends only its own" "$(cat "$T/out"); b: $(q "SELECT status FROM care_outbox WHERE customer_id = 'C1' AND campaign = 'b'")"
expect_status 0 "send after the trigger" cc --config "$T/noquiet.yaml" --now 2026-05-05T10:01:00+08:00 send
grep -q "sent 1," "$T/out" && ok "the other campaign's message goes with the next send" || not_ok "next send" "$(cat "$T/out")"
