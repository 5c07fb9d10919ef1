#!/bin/sh
# A complaint recorded at 23:00 is acknowledged when quiet hours end (08:00,
# within its 24-hour SLA), and `report` shows the SLA met; a complaint that
# could not be answered shows as breached once its 24 hours are over.
. "$(dirname "$0")/lib.sh"

DB="$T/care.db"
mkdir -p "$T/rules" "$T/templates"
sqlite3 "$DB" <<'SQL'
CREATE TABLE customers(id TEXT PRIMARY KEY, name TEXT, phone TEXT, timezone TEXT);
INSERT INTO customers VALUES ('K1', '李娜', '+8613800138001', 'Asia/Shanghai'), ('K2', '王伟', NULL, 'Asia/Shanghai');
SQL
cat > "$T/rules/reply.yaml" <<'YAML'
campaign: complaint-reply
kind: service
sla: 24 hours
audience:
  from: events
  where: type == "complaint_opened"
when: at
grace: 1 day
channels: [sms]
template: ack
YAML
printf '{{ customer.name }}，我们已收到您的投诉（{{ row.ref }}），将在24小时内回复。\n' > "$T/templates/ack.sms.liquid"
cat > "$T/c.yaml" <<YAML
database: $DB
timezone: Asia/Shanghai
rules: $T/rules
templates: $T/templates
outbox_dir: $T/outbox
policy: {quiet_hours: "21:00-08:00"}
YAML
c() { cc --config "$T/c.yaml" "$@"; }
expect_status 0 "a complaint at 23:00" c event complaint_opened --customer K1 --at 2026-05-01T23:00:00 --set ref=T-1
expect_status 0 "a complaint from a customer without an address" c event complaint_opened --customer K2 --at 2026-05-01T09:00:00 --set ref=T-2
expect_status 0 "run at 23:05" c --now 2026-05-01T23:05:00 run
grep -q "sent 0," "$T/out" && ok "nothing is sent during quiet hours" || not_ok "quiet at 23:05" "$(cat "$T/out")"
[ "$(sqlite3 "$DB" "SELECT send_after_local FROM care_outbox WHERE customer_id='K1'")" = "2026-05-02T08:00:00+08:00" ] \
  && ok "the acknowledgement waits for 08:00" || not_ok "held until 08:00" "$(sqlite3 "$DB" "SELECT send_after_local FROM care_outbox")"
# Before its deadline, a complaint that was skipped (no address) and has
# nothing waiting can no longer be met: a breach already, not pending.
expect_status 0 "report at 08:00, before K2's deadline" c --now 2026-05-02T08:00:00 --format json report
python3 - "$T/out" <<'PY' && ok "report: the skipped complaint is a breach before its deadline; K1's, waiting, is pending" || not_ok "skipped is a breach at once" "$(head -c 600 "$T/out")"
import json, sys
sla = {c["campaign"]: c for c in json.load(open(sys.argv[1]))["campaigns"]}["complaint-reply"]["sla"]
assert (sla["met"], sla["breached"], sla["pending"]) == (0, 1, 1), sla
assert [b["reason"] for b in sla["breaches"]] == ["skipped: no-address"], sla["breaches"]
PY
expect_status 0 "run at 08:01" c --now 2026-05-02T08:01:00 run
grep -q "sent 1," "$T/out" && ok "acknowledged at 08:01, nine hours after the complaint" || not_ok "sent at 08:01" "$(cat "$T/out")"
expect_status 0 "report two days later" c --now 2026-05-03T12:00:00 --format json report
python3 - "$T/out" <<'PY' && ok "report: one SLA met (K1 at 08:01), one breached (K2, no address)" || not_ok "report SLA" "$(head -c 600 "$T/out")"
import json, sys
r = json.load(open(sys.argv[1]))
camps = {c["campaign"]: c for c in r["campaigns"]}
sla = camps["complaint-reply"]["sla"]
assert (sla["occurrences"], sla["met"], sla["breached"], sla["pending"]) == (2, 1, 1, 0), sla
PY
python3 - "$T/out" <<'PY' && ok "report JSON lists K2's breach with its row and reason" || not_ok "K2 breach listed" "$(head -c 900 "$T/out")"
import json, sys
r = json.load(open(sys.argv[1]))
b = {c["campaign"]: c for c in r["campaigns"]}["complaint-reply"]["sla"]["breaches"]
assert [(x["row"], x["customer"], x["occurrence"], x["deadline"], x["sent_at"], x["reason"]) for x in b] == \
  [("2", "K2", "2026-05-01T09:00:00", "2026-05-02T09:00:00+08:00", None, "skipped: no-address")], b
PY

# A complaint opened on 12-20 while carecast did not run: the first run,
# on 12-22, is past its grace (one day) and plans nothing for it.  The
# report still counts it, from the events table itself, as a breach: the
# customer was never acknowledged.  A complaint opened after that run is
# pending while its 24 hours last, and only a breach after them.
expect_status 0 "a complaint on 12-20" c event complaint_opened --customer K1 --at 2026-12-20T10:00:00 --set ref=T-3
ROW=$(sqlite3 "$DB" "SELECT max(id) FROM events")
expect_status 0 "the first run, on 12-22" c --now 2026-12-22T09:00:00 run
[ "$(sqlite3 "$DB" "SELECT count(*) FROM care_outbox WHERE row_id = '$ROW'")" = 0 ] \
  && ok "the 12-20 complaint is past its grace: never planned" || not_ok "never planned" "$(sqlite3 "$DB" "SELECT * FROM care_outbox WHERE row_id = '$ROW'")"
expect_status 0 "a complaint after the run" c event complaint_opened --customer K1 --at 2026-12-22T10:00:00 --set ref=T-4
ROW2=$(sqlite3 "$DB" "SELECT max(id) FROM events")
expect_status 0 "report on 12-22" c --now 2026-12-22T12:00:00 --format json report
python3 - "$T/out" "$ROW" <<'PY' && ok "report JSON: the never-planned complaint is a breach, with its row; the new one pending" || not_ok "never planned breach" "$(head -c 900 "$T/out")"
import json, sys
r = json.load(open(sys.argv[1]))
sla = {c["campaign"]: c for c in r["campaigns"]}["complaint-reply"]["sla"]
assert (sla["occurrences"], sla["met"], sla["breached"], sla["pending"]) == (2, 0, 1, 1), sla
assert [(x["row"], x["customer"], x["occurrence"], x["sent_at"], x["reason"]) for x in sla["breaches"]] == \
  [(sys.argv[2], "K1", "2026-12-20T10:00:00", None, "never planned")], sla["breaches"]
PY
expect_status 0 "report on 12-22 as text" c --now 2026-12-22T12:00:00 report
grep -q "^  complaint-reply  *24 hours  *2  *0  *1  *1 " "$T/out" \
  && grep -q "row $ROW, customer K1, occurrence 2026-12-20T10:00:00, due 2026-12-21T10:00:00+08:00: never planned" "$T/out" \
  && ! grep -q "row $ROW2," "$T/out" \
  && ok "report text: the breach with its row id" || not_ok "text breach" "$(cat "$T/out")"
expect_status 0 "report on 12-23, after the second deadline" c --now 2026-12-23T11:00:00 --format json report
python3 - "$T/out" "$ROW2" <<'PY' && ok "once its 24 hours are over, the unplanned complaint is breached too" || not_ok "second breach" "$(head -c 900 "$T/out")"
import json, sys
sla = {c["campaign"]: c for c in json.load(open(sys.argv[1]))["campaigns"]}["complaint-reply"]["sla"]
assert (sla["occurrences"], sla["breached"], sla["pending"]) == (2, 2, 0), sla
assert sla["breaches"][1]["row"] == sys.argv[2] and sla["breaches"][1]["reason"] == "never planned", sla["breaches"]
PY
expect_status 0 "report on 12-23 as HTML" c --now 2026-12-23T11:00:00 --format html report --output "$T/r.html"
python3 - "$T/r.html" "$ROW" "$ROW2" <<'PY' && ok "report HTML: a table of the breaches with their rows" || not_ok "html breaches" "$(grep -o '<table id="sla-breaches">.*' "$T/r.html" | head -c 600)"
import re, sys
d = open(sys.argv[1]).read()
t = re.search(r'<table id="sla-breaches">.*?</table>', d, re.S).group(0)
for row in sys.argv[2:]:
    assert re.search(r"<tr><td>complaint-reply</td><td>%s</td><td>K1</td>.*?never planned</td></tr>" % row, t), t
PY
