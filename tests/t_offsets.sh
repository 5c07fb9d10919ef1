#!/bin/sh
# Date-times written with a UTC offset (2026-11-24T10:00:00+08:00, or Z)
# are instants: rules read them as the business zone's wall time, the same
# as a date-time without an offset that names the same instant
# (campaigns.md section 1).  Business zone Asia/Shanghai (UTC+8).
. "$(dirname "$0")/lib.sh"

DB="$T/care.db"
R="$T/rules"
TPL="$T/templates"
mkdir -p "$R" "$TPL"
sqlite3 "$DB" <<'SQL'
CREATE TABLE customers(id TEXT PRIMARY KEY, name TEXT, phone TEXT, sms_opt_in INTEGER);
INSERT INTO customers VALUES ('C1', 'Li Na', '+8613800138001', 1);
SQL
# Three ways to write 10:00 in Shanghai on 24 November: its own offset, UTC
# (Z), and the business zone's wall time without an offset.
cat > "$T/complaints.csv" <<'CSV'
id,customer_id,created_at,ref
K1,C1,2026-11-24T10:00:00+08:00,offset
K2,C1,2026-11-24T02:00:00Z,utc
K3,C1,2026-11-24 10:00:00,local
CSV
printf 'Hi {{ customer.name }} ({{ row.created_at }})\n' > "$TPL/t.sms.liquid"
cat > "$T/care.yaml" <<YAML
database: $DB
timezone: Asia/Shanghai
rules: $R
templates: $TPL
outbox_dir: $T/outbox
transports:
  sms: {type: file}
YAML
c() { cc --config "$T/care.yaml" "$@"; }
expect_status 0 "import the complaints" c import complaints "$T/complaints.csv"
[ "$(sqlite3 "$DB" "SELECT type FROM pragma_table_info('complaints') WHERE name = 'created_at'")" = DATETIME ] &&
  ok "import types created_at DATETIME (offsets included)" ||
  not_ok "import types created_at DATETIME" "$(sqlite3 "$DB" "SELECT sql FROM sqlite_master WHERE name = 'complaints'")"

cat > "$R/follow.yaml" <<'YAML'
campaign: follow
kind: service
audience: {from: complaints}
when: created_at + 2 hours
grace: 1 day
channels: [sms]
template: t
YAML
# ROW@OCCURRENCE>SEND_AFTER of each planned message, sorted.
plan_at() {
  c --now "$1" --format jsonl plan --dry-run 2> "$T/err" |
    python3 -c 'import json, sys
print(" ".join(sorted(r["row"] + "@" + r["occurrence"] + ">" + r["send_after"] for r in map(json.loads, sys.stdin) if r["status"] == "planned")))'
  cat "$T/err" >> "$T/err.all"
}

got=$(plan_at 2026-11-24T11:30:00+08:00)
[ -z "$got" ] && ok "at 11:30 (Shanghai) none of the three is due yet" ||
  not_ok "at 11:30 none is due" "'$got' $(head -c 300 "$T/err")"
got=$(plan_at 2026-11-24T04:00:00Z)
want="K1@2026-11-24T12:00:00>2026-11-24T12:00:00+08:00 K2@2026-11-24T12:00:00>2026-11-24T12:00:00+08:00 K3@2026-11-24T12:00:00>2026-11-24T12:00:00+08:00"
[ "$got" = "$want" ] && ok "at 12:00 all three are due, with one occurrence and send time" ||
  not_ok "at 12:00 all three are due alike" "'$got' $(head -c 300 "$T/err")"
# A day's grace: still due the next morning, not after 12:00 the next day.
got=$(plan_at 2026-11-25T11:59:00+08:00)
[ "$(echo "$got" | wc -w)" = 3 ] && ok "still due within the grace" || not_ok "still due within the grace" "'$got'"
got=$(plan_at 2026-11-25T12:01:00+08:00)
[ -z "$got" ] && ok "past the grace for all three alike" || not_ok "past the grace for all three alike" "'$got'"

# A real plan: the three rows get the same occurrence in the outbox, and a
# second plan adds nothing.
expect_status 0 "plan at 12:05" c --now 2026-11-24T12:05:00+08:00 plan
got=$(sqlite3 "$DB" "SELECT group_concat(row_id || '@' || occurrence, ' ') FROM (SELECT row_id, occurrence FROM care_outbox ORDER BY row_id)")
[ "$got" = "K1@2026-11-24T12:00:00 K2@2026-11-24T12:00:00 K3@2026-11-24T12:00:00" ] &&
  ok "the outbox holds one occurrence for the three" || not_ok "the outbox occurrences" "'$got'"
expect_status 0 "plan again at 13:00" c --now 2026-11-24T13:00:00+08:00 plan
[ "$(sqlite3 "$DB" "SELECT count(*) FROM care_outbox")" = 3 ] && ok "planning again adds nothing" ||
  not_ok "planning again adds nothing" "$(sqlite3 "$DB" "SELECT row_id, occurrence FROM care_outbox")"
# Templates show the data as it was written.
expect_status 0 "send" c --now 2026-11-24T13:00:00+08:00 send
grep -r -q 'Hi Li Na (2026-11-24T10:00:00+08:00)' "$T/outbox" && grep -r -q 'Hi Li Na (2026-11-24T02:00:00Z)' "$T/outbox" &&
  ok "a template's row.created_at is the value as written" ||
  not_ok "a template's row.created_at is the value as written" "$(cat "$T/outbox"/* 2>/dev/null | head -c 400)"
rm -rf "$T/outbox"
sqlite3 "$DB" "DELETE FROM care_outbox; DELETE FROM care_occurrences"

# Comparisons, date arithmetic and date functions see the business zone's
# wall time too.  07:00 in Shanghai is still 23 November in UTC; 23:30 UTC
# is already 25 November in Shanghai.
sqlite3 "$DB" "INSERT INTO complaints(id, customer_id, created_at, ref) VALUES
  ('K4', 'C1', '2026-11-24T07:00:00+08:00', 'early'), ('K5', 'C1', '2026-11-24T23:30:00Z', 'late'),
  ('K6', 'C1', '2026-11-24T07:00:00.250+08:00', 'fraction'), ('K7', 'C1', '2026-11-23T17:00:00-06:00', 'west')"
rows_where() {
  printf 'campaign: pick\nkind: service\naudience: {from: complaints, where: %s}\nrepeat: once\nchannels: [sms]\ntemplate: t\n' "$1" > "$R/follow.yaml"
  c --now "${2:-2026-11-25T09:00:00+08:00}" --format jsonl plan --dry-run 2> "$T/err" |
    python3 -c 'import json, sys
print(" ".join(sorted(r["row"] for r in map(json.loads, sys.stdin) if r["status"] == "planned")))'
  cat "$T/err" >> "$T/err.all"
}
got=$(rows_where "'date(created_at) == \"2026-11-24\"'")
[ "$got" = "K1 K2 K3 K4 K6 K7" ] && ok "date() of an offset date-time is the business-zone day" ||
  not_ok "date() is the business-zone day" "'$got' $(head -c 300 "$T/err")"
got=$(rows_where "'created_at < \"2026-11-24\" or created_at >= \"2026-11-25\"'")
[ "$got" = "K5" ] && ok "comparing with a date compares business-zone instants" ||
  not_ok "comparison with a date" "'$got' $(head -c 300 "$T/err")"
got=$(rows_where "'days_since(created_at) == 1'")
[ "$got" = "K1 K2 K3 K4 K6 K7" ] && ok "days_since() counts business-zone days" ||
  not_ok "days_since() counts business-zone days" "'$got' $(head -c 300 "$T/err")"
got=$(rows_where "'created_at + 3 hours <= now'" 2026-11-24T10:00:00+08:00)
[ "$got" = "K4 K6 K7" ] && ok "a date-time plus hours against now, with an offset or a fraction of a second" ||
  not_ok "date-time plus hours against now" "'$got' $(head -c 300 "$T/err")"
got=$(rows_where "'created_at > now - 2 hours'" 2026-11-25T08:00:00+08:00)
[ "$got" = "K5" ] && ok "against now: 23:30 UTC is 07:30 the next morning in Shanghai" ||
  not_ok "against now" "'$got' $(head -c 300 "$T/err")"

# The SLA a report measures starts at the business-zone instant: 24 hours
# from 10:00 Shanghai is 10:00 the next day for all three ways of writing it.
sqlite3 "$DB" "DELETE FROM complaints WHERE id NOT IN ('K1', 'K2', 'K3')"
cat > "$R/follow.yaml" <<'YAML'
campaign: ack
kind: service
sla: 24 hours
audience: {from: complaints}
when: created_at
channels: [sms]
template: t
YAML
expect_status 0 "report before the deadline" c --now 2026-11-25T09:59:00+08:00 --format json report
python3 - "$T/out" <<'PY' && ok "before 10:00 the next day all three are pending" || not_ok "pending before the deadline" "$(head -c 900 "$T/out")"
import json, sys
s = {c["campaign"]: c for c in json.load(open(sys.argv[1]))["campaigns"]}["ack"]["sla"]
assert (s["occurrences"], s["pending"], s["breached"]) == (3, 3, 0), s
PY
expect_status 0 "report after the deadline" c --now 2026-11-25T10:01:00+08:00 --format json report
python3 - "$T/out" <<'PY' && ok "after it all three are breached, each with the deadline 10:00 the next day" || not_ok "breached after the deadline" "$(head -c 900 "$T/out")"
import json, sys
s = {c["campaign"]: c for c in json.load(open(sys.argv[1]))["campaigns"]}["ack"]["sla"]
assert (s["occurrences"], s["pending"], s["breached"]) == (3, 0, 3), s
got = sorted((b["row"], b["occurrence"], b["deadline"]) for b in s["breaches"])
assert got == [(k, "2026-11-24T10:00:00", "2026-11-25T10:00:00+08:00") for k in ("K1", "K2", "K3")], got
PY

# A column declared TIMESTAMPTZ (an API export) is read the same way; a
# value that only looks like it has an offset is left to SQLite as before.
sqlite3 "$DB" "CREATE TABLE tickets(id TEXT PRIMARY KEY, customer_id TEXT, opened TIMESTAMPTZ);
  INSERT INTO tickets VALUES ('T1', 'C1', '2026-11-24T02:00:00Z'), ('T2', 'C1', '2026-11-24 10:00:00 +08:00'),
    ('T3', 'C1', '2026-11-24T10:00:00'), ('T4', 'C1', 'soon +08:00')"
printf 'campaign: tk\nkind: service\naudience: {from: tickets}\nwhen: opened + 30 minutes\ngrace: 1 hour\nchannels: [sms]\ntemplate: t\n' > "$R/follow.yaml"
got=$(plan_at 2026-11-24T10:40:00+08:00)
[ "$got" = "T1@2026-11-24T10:30:00>2026-11-24T10:40:00+08:00 T2@2026-11-24T10:30:00>2026-11-24T10:40:00+08:00 T3@2026-11-24T10:30:00>2026-11-24T10:40:00+08:00" ] &&
  ok "a TIMESTAMPTZ column: Z, '+08:00' after a space, and no offset agree" ||
  not_ok "a TIMESTAMPTZ column" "'$got' $(head -c 300 "$T/err")"
sanitizer "$T/err.all" && not_ok "no sanitizer report from plan --dry-run" "$(grep -m3 -E 'runtime error|Sanitizer' "$T/err.all")" ||
  ok "no sanitizer report from plan --dry-run"

# The business zone's offset at that instant, not a fixed one: New York
# moves its clocks forward at 02:00 on 8 March 2026, so 06:30 UTC is 01:30
# (EST) and 07:30 UTC is 03:30 (EDT).
sed 's|^timezone:.*|timezone: America/New_York|' "$T/care.yaml" > "$T/ny.yaml"
sqlite3 "$DB" "DELETE FROM tickets; INSERT INTO tickets VALUES ('N1', 'C1', '2026-03-08T06:30:00Z'), ('N2', 'C1', '2026-03-08T07:30:00Z')"
printf 'campaign: tk\nkind: service\naudience: {from: tickets}\nwhen: opened\ngrace: 1 day\nchannels: [sms]\ntemplate: t\n' > "$R/follow.yaml"
got=$(cc --config "$T/ny.yaml" --now 2026-03-08T12:00:00Z --format jsonl plan --dry-run 2> "$T/err" |
  python3 -c 'import json, sys
print(" ".join(sorted(r["row"] + "@" + r["occurrence"] for r in map(json.loads, sys.stdin) if r["status"] == "planned")))')
[ "$got" = "N1@2026-03-08T01:30:00 N2@2026-03-08T03:30:00" ] && ok "across a DST change the zone's offset at each instant applies" ||
  not_ok "across a DST change" "'$got' $(head -c 300 "$T/err")"
if sanitizer "$T/err"; then not_ok "no sanitizer report (DST)" "$(head -c 300 "$T/err")"; fi

# carecast's own history: messages.sent_at is kept as a UTC instant; rules
# read it as the business zone's wall time like every other date-time.  A
# message sent at 20:00 UTC on 05-01 was sent at 04:00 on 05-02 in Shanghai,
# so "sent today" holds on 05-02.
rm -f "$R"/*.yaml
cc --config "$T/care.yaml" lint > /dev/null 2>&1
sqlite3 "$DB" "INSERT INTO care_outbox(campaign, step, audience_table, row_id, customer_id, occurrence, kind, channel,
    recipient, status, send_after, created_at, sent_at)
  VALUES ('earlier', 'main', 'customers', 'C1', 'C1', '2026-05-01', 'service', 'sms', '+8613800138001', 'sent',
    strftime('%s', '2026-05-01 20:00:00'), 0, strftime('%s', '2026-05-01 20:00:00'))"
printf 'campaign: again\nkind: service\naudience: {where: "count(messages where sent_at >= today) == 1"}\nrepeat: once\nchannels: [sms]\ntemplate: t\n' > "$R/again.yaml"
got=$(cc --config "$T/care.yaml" --now 2026-05-02T10:00:00+08:00 --format jsonl plan --dry-run 2> "$T/err" | grep -c '"status": "planned"')
[ "$got" = 1 ] && ok "messages.sent_at is the business zone's wall time (sent at 04:00 local counts as today)" \
  || not_ok "messages.sent_at in the business zone" "$got $(head -c 300 "$T/err")"
