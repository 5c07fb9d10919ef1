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
