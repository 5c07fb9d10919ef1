#!/bin/sh
# The eligibility matrix of campaigns.md section 7, for every combination of
# marketing consent x suppression scope x campaign kind x address validity:
# the planned status and reason must be what the spec says, computed here
# independently.
. "$(dirname "$0")/lib.sh"

DB="$T/care.db"
mkdir -p "$T/rules" "$T/templates"
python3 - "$DB" > "$T/expected" <<'PY'
import itertools, sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute("CREATE TABLE customers(id TEXT PRIMARY KEY, email TEXT, email_opt_in INTEGER)")
con.execute("""CREATE TABLE care_suppressions_seed(address TEXT, customer_id TEXT, scope TEXT)""")
expected = []
n = 0
for consent, scope, valid, by in itertools.product((0, 1), (None, "marketing", "all"), (True, False), ("address", "customer")):
    if scope is None and by == "customer":
        continue
    n += 1
    cid = "M%02d" % n
    email = "m%02d@example.com" % n if valid else "m%02d-at-example.com" % n
    con.execute("INSERT INTO customers VALUES (?, ?, ?)", (cid, email, consent))
    if scope:
        con.execute("INSERT INTO care_suppressions_seed VALUES (?, ?, ?)",
                    (email if by == "address" else None, cid if by == "customer" else None, scope))
    for kind in ("marketing", "service"):
        # campaigns.md section 7, in order: address, suppression, consent.
        if not valid:
            want = ("skipped", "no-address")
        elif scope == "all" or (scope == "marketing" and kind == "marketing"):
            want = ("skipped", "suppressed")
        elif kind == "marketing" and not consent:
            want = ("skipped", "no-consent")
        else:
            want = ("planned", None)
        expected.append("%s %s %s %s" % (kind, cid, want[0], want[1]))
con.commit()
print("\n".join(sorted(expected)))
PY
# Suppressions go in through the command a lead would use.
sqlite3 -separator ' ' "$DB" "SELECT coalesce(address, '-'), coalesce(customer_id, '-'), scope FROM care_suppressions_seed" |
while read -r addr cust scope; do
  if [ "$addr" != - ]; then cc --db "$DB" suppress add "$addr" --scope "$scope" > /dev/null
  else cc --db "$DB" suppress add --customer "$cust" --scope "$scope" > /dev/null; fi
done
for kind in marketing service; do
  printf 'campaign: %s\nkind: %s\naudience: {where: id != ""}\nrepeat: once\nchannels: [email]\ntemplate: t\n' "$kind" "$kind" > "$T/rules/$kind.yaml"
done
printf -- '---\nsubject: Hi\n---\nHi\n' > "$T/templates/t.email.liquid"
cc --db "$DB" --rules "$T/rules" --templates "$T/templates" --date 2026-05-01 --format jsonl plan --dry-run > "$T/plan.jsonl"
python3 -c '
import json, sys
print("\n".join(sorted("%s %s %s %s" % (r["campaign"], r["customer"], r["status"], r["reason"]) for r in map(json.loads, open(sys.argv[1])))))' "$T/plan.jsonl" > "$T/got"
n=$(wc -l < "$T/expected")
if cmp -s "$T/expected" "$T/got"; then
  ok "all $n combinations of consent x suppression scope x kind x address validity are as the spec says"
else
  not_ok "policy matrix" "$(diff "$T/expected" "$T/got" | head -10)"
fi

# The planner reads a short suppression list once per audience query and
# asks a long one (over 100,000 entries) row by row: the answers are the
# same.  An address with capitals is suppressed by its lower-case entry.
sqlite3 "$DB" "INSERT INTO customers VALUES ('MX', 'Mixed.Case@Example.COM', 1)"
cc --db "$DB" suppress add 'Mixed.Case@Example.com' --scope all > /dev/null
printf 'marketing MX skipped suppressed\nservice MX skipped suppressed\n' | cat - "$T/expected" | sort > "$T/expected2"
matrix() {
  cc --db "$DB" --rules "$T/rules" --templates "$T/templates" --date 2026-05-01 --format jsonl plan --dry-run > "$T/plan.jsonl"
  python3 -c '
import json, sys
print("\n".join(sorted("%s %s %s %s" % (r["campaign"], r["customer"], r["status"], r["reason"]) for r in map(json.loads, open(sys.argv[1])))))' "$T/plan.jsonl"
}
matrix > "$T/got2"
sqlite3 "$DB" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
  INSERT INTO care_suppressions(address, customer_id, scope, reason, created_at)
  SELECT 'filler' || i || '@example.net', CASE WHEN i % 2 THEN 'F' || i END, 'all', 'test', 0 FROM n"
matrix > "$T/got3"
if cmp -s "$T/expected2" "$T/got2" && cmp -s "$T/expected2" "$T/got3"; then
  ok "a short suppression list (read once) and a long one (asked per row) give the same $(wc -l < "$T/got3") answers"
else
  not_ok "short and long suppression lists" "$(diff "$T/expected2" "$T/got2" | head -5) / $(diff "$T/expected2" "$T/got3" | head -5)"
fi
