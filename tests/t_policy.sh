#!/bin/sh
# Contact policy: frequency caps over rolling windows, in priority order and
# across runs (over-cap messages are skipped as capped, never sent later),
# and quiet hours in the customer's zone (held until they end, never
# dropped; ignore_quiet_hours exempts urgent notices).
. "$(dirname "$0")/lib.sh"

DB="$T/care.db"
mkdir -p "$T/rules" "$T/templates" "$T/quiet"
sqlite3 "$DB" <<'SQL'
CREATE TABLE customers(id TEXT PRIMARY KEY, name TEXT, email TEXT, timezone TEXT, email_opt_in INTEGER);
INSERT INTO customers VALUES ('P1', 'Pat', 'pat@example.com', 'Asia/Shanghai', 1),
                             ('N1', 'Nia', 'nia@example.com', 'America/New_York', 1);
SQL
for c in "notice service 80" "promo-a marketing 60" "promo-b marketing 40"; do
  set -- $c
  printf 'campaign: %s\nkind: %s\npriority: %s\naudience: {where: id == "P1"}\nrepeat: daily\nchannels: [email]\ntemplate: t\n' "$1" "$2" "$3" > "$T/rules/$1.yaml"
done
printf -- '---\nsubject: Hi\n---\nHi\n' > "$T/templates/t.email.liquid"
cat > "$T/c.yaml" <<YAML
database: $DB
timezone: Asia/Shanghai
rules: $T/rules
templates: $T/templates
outbox_dir: $T/outbox
sender: {name: Care, email: care@example.cn}
policy:
  caps:
    marketing: ["1 per day", "2 per week"]
    all: ["4 per week"]
YAML
day() {  # day D: plan at 10:00 that day; print campaign:status/reason
  cc --config "$T/c.yaml" --now "2026-06-0$1T10:00:00" --format jsonl plan 2>/dev/null | python3 -c '
import json, sys
print(" ".join("%s:%s" % (r["campaign"], r["reason"] or r["status"]) for r in map(json.loads, sys.stdin)))'; }
r=$(day 1); [ "$r" = "notice:planned promo-a:planned promo-b:capped" ] && ok "day 1: 1 marketing per day, the higher priority wins" || not_ok "day 1" "$r"
r=$(day 2); [ "$r" = "notice:planned promo-a:planned promo-b:capped" ] && ok "day 2: a rolling day later, one marketing again" || not_ok "day 2" "$r"
r=$(day 3); [ "$r" = "notice:capped promo-a:capped promo-b:capped" ] && ok "day 3: 2 marketing per week and 4 of all per week reached" || not_ok "day 3" "$r"
[ "$(sqlite3 "$DB" "SELECT count(*) FROM care_outbox WHERE reason='capped' AND status='skipped'")" = 5 ] && ok "capped messages are recorded as skipped" || not_ok "capped recorded"
expect_status 0 "send" cc --config "$T/c.yaml" --now 2026-06-10T10:00:00 send
grep -q "sent 4," "$T/out" && ok "only the 4 planned go; capped ones never" || not_ok "send" "$(cat "$T/out")"

# Quiet hours 21:00-08:00, customer-local.
printf 'campaign: late\nkind: marketing\naudience: {where: email is not null}\nrepeat: once\nsend_at: "22:30"\nchannels: [email]\ntemplate: t\n' > "$T/quiet/late.yaml"
printf 'campaign: early\nkind: service\naudience: {where: id == "N1"}\nrepeat: once\nsend_at: "06:00"\nchannels: [email]\ntemplate: t\n' > "$T/quiet/early.yaml"
printf 'campaign: urgent\nkind: service\nignore_quiet_hours: true\naudience: {where: id == "P1"}\nrepeat: once\nsend_at: "23:00"\nchannels: [email]\ntemplate: t\n' > "$T/quiet/urgent.yaml"
cat > "$T/q.yaml" <<YAML
database: $DB
timezone: Asia/Shanghai
rules: $T/quiet
templates: $T/templates
policy: {quiet_hours: "21:00-08:00"}
YAML
cc --config "$T/q.yaml" --now 2026-07-01T00:00:00 --format jsonl plan --dry-run > "$T/q.jsonl"
python3 - "$T/q.jsonl" <<'PY' && ok "quiet hours hold messages until 08:00 local; ignore_quiet_hours does not wait" || not_ok "quiet hours" "$(cat "$T/q.jsonl")"
import json, sys
got = {(r["campaign"], r["customer"]): (r["status"], r["send_after"]) for r in map(json.loads, open(sys.argv[1]))}
assert got[("late", "P1")] == ("planned", "2026-07-02T08:00:00+08:00"), got[("late", "P1")]
assert got[("late", "N1")] == ("planned", "2026-07-02T08:00:00-04:00"), got[("late", "N1")]
assert got[("early", "N1")] == ("planned", "2026-07-01T08:00:00-04:00"), got[("early", "N1")]
assert got[("urgent", "P1")] == ("planned", "2026-07-01T23:00:00+08:00"), got[("urgent", "P1")]
PY

# The same business instant, two customers' zones, across the US DST change
# of 2026-03-08: each waits for 08:00 in their own zone.
sqlite3 "$DB" "INSERT INTO customers VALUES ('LA', 'Lee', 'lee@example.com', 'America/Los_Angeles', 1), ('SH', 'Shu', 'shu@example.cn', 'Asia/Shanghai', 1);"
mkdir -p "$T/dst"
printf 'campaign: dst\nkind: service\naudience:\n  where: id in ["LA", "SH"]\nrepeat: once\nchannels: [email]\ntemplate: t\n' > "$T/dst/dst.yaml"
cc --config "$T/q.yaml" --rules "$T/dst" --now 2026-03-08T22:00:00+08:00 --format jsonl plan --dry-run > "$T/dst.jsonl"
python3 - "$T/dst.jsonl" <<'PY' && ok "quiet hours open at each customer's own 08:00: Shanghai next day +08:00, Los Angeles the DST day -07:00" || not_ok "quiet hours across DST" "$(cat "$T/dst.jsonl")"
import json, sys
got = {r["customer"]: r["send_after"] for r in map(json.loads, open(sys.argv[1]))}
assert got == {"SH": "2026-03-09T08:00:00+08:00", "LA": "2026-03-08T08:00:00-07:00"}, got
PY

# A simulated fortnight, day by day: three marketing campaigns and a service
# notice for five customers; no customer ever exceeds the caps.
mkdir -p "$T/week"
for c in "a 70" "b 50" "c 30"; do
  set -- $c
  printf 'campaign: m-%s\nkind: marketing\npriority: %s\naudience:\n  where: id in ["W1", "W2", "W3", "W4", "W5"]\nrepeat: daily\nchannels: [email]\ntemplate: t\n' "$1" "$2" > "$T/week/m-$1.yaml"
done
printf 'campaign: notice\nkind: service\naudience:\n  where: id in ["W1", "W2"]\nrepeat: weekly\nchannels: [email]\ntemplate: t\n' > "$T/week/notice.yaml"
sqlite3 "$DB" "INSERT INTO customers VALUES ('W1','a','w1@example.com','Asia/Shanghai',1),('W2','b','w2@example.com','America/New_York',1),('W3','c','w3@example.com','Europe/London',1),('W4','d','w4@example.com','Asia/Tokyo',1),('W5','e','w5@example.com','Asia/Shanghai',1);"
cat > "$T/w.yaml" <<YAML
database: $DB
timezone: Asia/Shanghai
rules: $T/week
templates: $T/templates
policy:
  caps:
    marketing: ["1 per day", "3 per week"]
YAML
for d in 01 02 03 04 05 06 07 08 09 10 11 12 13 14; do
  cc --config "$T/w.yaml" --now "2026-09-${d}T10:00:00" plan > /dev/null 2>&1
done
python3 - "$DB" <<'PY' && ok "14 days, day by day: no customer over 1 marketing message a day or 3 a week" || not_ok "caps over a fortnight"
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
for cust in ("W1", "W2", "W3", "W4", "W5"):
    ts = sorted(t for (t,) in con.execute(
        "SELECT send_after FROM care_outbox WHERE customer_id=? AND kind='marketing' AND status='planned'", (cust,)))
    assert len(ts) >= 4, (cust, len(ts))       # caps limit, they do not silence
    for i, t in enumerate(ts):
        in_day = sum(1 for u in ts if t <= u < t + 86400)
        in_week = sum(1 for u in ts if t <= u < t + 7 * 86400)
        assert in_day <= 1 and in_week <= 3, (cust, in_day, in_week)
    first = con.execute("SELECT campaign FROM care_outbox WHERE customer_id=? AND kind='marketing' AND status='planned' ORDER BY send_after LIMIT 1", (cust,)).fetchone()[0]
    assert first == "m-a", (cust, first)
PY
