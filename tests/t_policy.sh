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
