#!/bin/sh
# A lead's hand tools: `suppress` (add, remove, list) and `event`, and what
# they change in planning: suppressions block marketing (scope marketing)
# or everything (scope all); an event makes an events campaign due.
. "$(dirname "$0")/lib.sh"

DB="$T/care.db"
mkdir -p "$T/rules" "$T/templates"
sqlite3 "$DB" <<'SQL'
CREATE TABLE customers(id TEXT PRIMARY KEY, name TEXT, email TEXT, phone TEXT, status TEXT, email_opt_in INTEGER, sms_opt_in INTEGER);
INSERT INTO customers VALUES ('A1', 'Ann', 'Ann@Example.com', '+8613800138001', 'active', 1, 1),
                             ('B2', 'Bob', 'bob@example.com', '+8613800138002', 'active', 1, 1);
SQL
printf 'campaign: promo\nkind: marketing\naudience: {where: status == "active"}\nrepeat: daily\nchannels: [email]\ntemplate: t\n' > "$T/rules/promo.yaml"
printf 'campaign: notice\nkind: service\naudience: {where: status == "active"}\nrepeat: daily\nchannels: [email]\ntemplate: t\n' > "$T/rules/notice.yaml"
printf -- '---\nsubject: Hi\n---\nHi {{ customer.name }}\n' > "$T/templates/t.email.liquid"
printf 'Hi {{ customer.name }}, we have your complaint {{ row.ref }} and reply within 24 hours.\n' > "$T/templates/ack.sms.liquid"
p() { cc --db "$DB" --rules "$T/rules" --templates "$T/templates" --date 2026-05-01 --format jsonl plan --dry-run | python3 -c '
import json, sys
print(" ".join(sorted("%s:%s:%s" % (r["campaign"], r["customer"], r["reason"] or r["status"]) for r in map(json.loads, sys.stdin))))'; }

[ "$(p)" = "notice:A1:planned notice:B2:planned promo:A1:planned promo:B2:planned" ] && ok "before: everyone is planned" || not_ok "before" "$(p)"
expect_status 0 "suppress add an address (marketing)" cc --db "$DB" --date 2026-05-01 suppress add ANN@example.com --reason "asked by phone"
grep -q "suppressed ann@example.com (marketing)" "$T/out" && ok "the address is normalised to lower case" || not_ok "normalised" "$(cat "$T/out")"
expect_status 0 "suppress add again is a no-op" cc --db "$DB" suppress add ann@example.com
grep -q "already suppressed" "$T/out" && ok "already suppressed is said" || not_ok "already suppressed" "$(cat "$T/out")"
[ "$(p)" = "notice:A1:planned notice:B2:planned promo:A1:suppressed promo:B2:planned" ] && ok "a marketing suppression blocks marketing only" || not_ok "marketing suppression" "$(p)"
expect_status 0 "suppress a customer for everything" cc --db "$DB" suppress add --customer B2 --scope all --reason erasure
[ "$(p)" = "notice:A1:planned notice:B2:suppressed promo:A1:suppressed promo:B2:suppressed" ] && ok "scope all blocks service too" || not_ok "scope all" "$(p)"
expect_status 0 "suppress list" cc --db "$DB" --format csv suppress list
[ "$(sed -n 2p "$T/out" | cut -d, -f2-5)" = "ann@example.com,,marketing,asked by phone" ] && [ "$(sed -n 3p "$T/out" | cut -d, -f2-5)" = ",B2,all,erasure" ] \
  && ok "the list shows both, as CSV" || not_ok "list" "$(cat "$T/out")"
expect_status 0 "suppress list as JSON" cc --db "$DB" --format json suppress list
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert [x['scope'] for x in d] == ['marketing','all']" "$T/out" && ok "JSON list" || not_ok "JSON list"
expect_status 0 "suppress remove" cc --db "$DB" suppress remove ann@example.com
grep -q "removed 1 suppression of ann@example.com" "$T/out" && ok "removed" || not_ok "removed" "$(cat "$T/out")"
expect_status 2 "a bad address is refused" cc --db "$DB" suppress add not-an-address
expect_status 2 "a bad scope is refused" cc --db "$DB" suppress add --customer A1 --scope some
expect_status 2 "suppress with nothing to suppress" cc --db "$DB" suppress add

# event: a complaint opened now makes the acknowledgement due at once.
cat > "$T/rules/ack.yaml" <<'YAML'
campaign: complaint-ack
kind: service
sla: 24 hours
audience: {from: events, where: type == "complaint_opened"}
when: at
channels: [sms]
template: ack
YAML
expect_status 2 "an event for an unknown customer is refused" cc --db "$DB" event complaint_opened --customer ZZ
expect_status 2 "a --set on a reserved column is refused" cc --db "$DB" event complaint_opened --customer A1 --set type=x
expect_status 0 "record an event" cc --db "$DB" --now 2026-05-01T10:15:00+08:00 event complaint_opened --customer A1 --set ref=T-1001 --set channel=phone
grep -q "recorded complaint_opened for A1 at 2026-05-01 10:15:00" "$T/out" && ok "event recorded in business time" || not_ok "event recorded" "$(cat "$T/out")"
[ "$(sqlite3 "$DB" "SELECT customer_id, type, at, ref, channel FROM events")" = "A1|complaint_opened|2026-05-01 10:15:00|T-1001|phone" ] && ok "the events table has the row and its columns" || not_ok "events row"
expect_status 0 "plan right after" cc --db "$DB" --rules "$T/rules" --templates "$T/templates" --now 2026-05-01T10:20:00+08:00 --format jsonl plan --dry-run
grep -q '"campaign": "complaint-ack", "step": "main", "table": "events", "row": "1", "customer": "A1", "occurrence": "2026-05-01T10:15:00"' "$T/out" \
  && ok "the acknowledgement is due five minutes later" || not_ok "ack due" "$(cat "$T/out")"
cc --db "$DB" --rules "$T/rules" --templates "$T/templates" --now 2026-05-01T10:20:00+08:00 preview complaint-ack | grep -q "we have your complaint T-1001" \
  && ok "the template sees the event's columns" || not_ok "template sees event columns"
