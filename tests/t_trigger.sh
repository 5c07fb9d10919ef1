#!/bin/sh
# `carecast trigger`: a one-off send now by customer list or --where, with
# --var reaching the template; --dry-run writes nothing; the same command
# twice sends once; consent and suppressions still apply; scripts must say
# --yes, and a terminal is asked.
. "$(dirname "$0")/lib.sh"

DB="$T/care.db"
mkdir -p "$T/rules" "$T/templates"
sqlite3 "$DB" <<'SQL'
CREATE TABLE customers(id TEXT PRIMARY KEY, name TEXT, email TEXT, phone TEXT, status TEXT, tier TEXT,
                       email_opt_in INTEGER, sms_opt_in INTEGER);
INSERT INTO customers VALUES ('A1', 'Ann', 'ann@example.com', NULL, 'active', 'A', 1, 1),
                             ('B2', 'Bob', 'bob@example.com', NULL, 'active', 'B', 1, 1),
                             ('C3', 'Cy', 'cy@example.com', NULL, 'active', 'A', 0, 0),
                             ('D4', 'Dee', 'dee@example.com', NULL, 'active', 'x'';--', 1, 1);
SQL
# when/repeat/schedule would never make this due today: a trigger ignores them.
cat > "$T/rules/apology.yaml" <<'YAML'
campaign: apology
kind: marketing
schedule: manual
audience: {where: status == "active"}
when: {date: "2000-01-01", every: year}
channels: [email]
template: apology
vars:
  voucher: '"none"'
YAML
printf -- '---\nsubject: Sorry, {{ customer.name }}\n---\nYour voucher: {{ vars.voucher }}\n' > "$T/templates/apology.email.liquid"
cat > "$T/c.yaml" <<YAML
database: $DB
timezone: Asia/Shanghai
rules: $T/rules
templates: $T/templates
outbox_dir: $T/outbox
sender: {name: Care, email: care@example.cn}
YAML
c() { cc --config "$T/c.yaml" --now 2026-05-01T10:00:00+08:00 "$@"; }

# The first command creates carecast's own tables; from then on, compare.
cc --db "$DB" suppress list > /dev/null
before=$(db_sum "$DB")
expect_status 0 "dry-run by customer list" c --format jsonl trigger apology --customer A1 --customer C3 --var voucher=V-100 --dry-run
python3 - "$T/out" <<'PY' && ok "dry-run: A1 planned by email now, C3 skipped no-consent" || not_ok "dry-run lines" "$(cat "$T/out")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [(r["customer"], r["status"], r["reason"], r["channel"]) for r in rows] == \
    [("A1", "planned", None, "email"), ("C3", "skipped", "no-consent", None)], rows
assert rows[0]["occurrence"].startswith("trigger-") and rows[0]["send_after"] == "2026-05-01T10:00:00+08:00", rows[0]
PY
for f in text json csv; do
  expect_status 0 "dry-run --format $f" c --format $f trigger apology --customer A1 --customer C3 --var voucher=V-100 --dry-run
done
grep -q '^apology,main,customers,A1,A1,trigger-' "$T/out" && ok "dry-run CSV has plan's columns" || not_ok "dry-run CSV" "$(cat "$T/out")"
[ "$(db_sum "$DB")" = "$before" ] && ok "--dry-run writes nothing" || not_ok "--dry-run wrote"

expect_status 2 "without a terminal and without --yes: refused" c trigger apology --customer A1 --var voucher=V-100 < /dev/null
grep -q -- "--yes" "$T/err" && ok "the refusal says --yes" || not_ok "refusal text" "$(cat "$T/err")"
[ "$(db_sum "$DB")" = "$before" ] && ok "the refusal writes nothing" || not_ok "refusal wrote"
expect_status 2 "an unknown customer is refused" c trigger apology --customer A1 --customer ZZ9 --yes
grep -q "no customer 'ZZ9'" "$T/err" && ok "the unknown id is named" || not_ok "unknown id" "$(cat "$T/err")"
expect_status 2 "an unknown --var is refused" c trigger apology --customer A1 --var nope=1 --yes
expect_status 2 "--customer and --where together are refused" c trigger apology --customer A1 --where 'tier == "A"' --yes
expect_status 2 "an unknown step is refused" c trigger apology --customer A1 --step nope --yes
[ "$(db_sum "$DB")" = "$before" ] && ok "refused commands write nothing" || not_ok "refused commands wrote"

dry=$(c --format jsonl trigger apology --customer A1 --customer C3 --var voucher=V-100 --dry-run)
expect_status 0 "trigger with --yes" c --format jsonl trigger apology --customer C3 --customer A1 --var voucher=V-100 --yes
[ "$(grep '^{' "$T/out")" = "$dry" ] && ok "what is recorded equals the dry-run (option order is irrelevant)" || not_ok "dry-run = run" "$(cat "$T/out")"
grep -q "sent 1, retry 0, failed 0" "$T/err" && ok "sent at once" || not_ok "sent at once" "$(cat "$T/err")"
eml=$(ls "$T/outbox/email"/*.eml 2>/dev/null)
[ "$(echo "$eml" | grep -c .)" = 1 ] && grep -q "Your voucher: V-100" $eml && grep -q "^To: .*ann@example.com" $eml \
  && ok "--var reaches the template, one email to Ann" || not_ok "email" "$(ls "$T/outbox/email" 2>&1)"
[ "$(sqlite3 "$DB" "SELECT customer_id||':'||status||':'||coalesce(reason,'') FROM care_outbox ORDER BY customer_id" | tr '\n' ' ')" = "A1:sent: C3:skipped:no-consent " ] \
  && ok "the outbox has the sent and the skipped row" || not_ok "outbox rows"
expect_status 0 "the same command again" c trigger apology --customer A1 --customer C3 --var voucher=V-100 --yes
grep -q "already triggered" "$T/out" && [ "$(sqlite3 "$DB" 'SELECT count(*) FROM care_outbox')" = 2 ] \
  && ok "repeating plans nothing new and says so" || not_ok "repeat" "$(cat "$T/out")"
expect_status 0 "a different --var is a new trigger" c trigger apology --customer A1 --var voucher=V-200 --yes
[ "$(sqlite3 "$DB" "SELECT count(*) FROM care_outbox WHERE body_text LIKE '%V-200%'")" = 1 ] && ok "new trigger sent" || not_ok "new trigger"

# --where: literals are data (bound), quotes, ';' and '--' included.
expect_status 0 "--where with quotes, ; and -- in a literal" c --format jsonl trigger apology --where "tier == \"x';--\"" --dry-run
[ "$(grep -c '"customer": "D4"' "$T/out")" = 1 ] && [ "$(grep -c '^{' "$T/out")" = 1 ] && ok "--where matched exactly D4" || not_ok "--where literal" "$(cat "$T/out")"
expect_status 0 "--where tier == A" c --format jsonl trigger apology --where 'tier == "A"' --dry-run
[ "$(grep -o '"customer": "[A-Z0-9]*"' "$T/out" | tr '\n' ' ')" = '"customer": "A1" "customer": "C3" ' ] && ok "--where ANDs with the campaign" || not_ok "--where A" "$(cat "$T/out")"
expect_status 2 "a broken --where is refused" c trigger apology --where 'tier ==' --dry-run
expect_status 2 "a --where on an unknown column is refused" c trigger apology --where 'colour == "red"' --dry-run

# Suppressions still apply.
cc --db "$DB" suppress add bob@example.com >/dev/null
expect_status 0 "trigger for a suppressed customer" c --format jsonl trigger apology --customer B2 --yes
grep -q '"customer": "B2".*"status": "skipped", "reason": "suppressed"' "$T/out" && ok "suppression applies to triggers" || not_ok "suppressed" "$(cat "$T/out")"

# A terminal is asked: n writes nothing, y sends.
if command -v script >/dev/null 2>&1; then
  before=$(db_sum "$DB")
  CMD="$CARECAST --config $T/c.yaml --now 2026-05-01T10:00:00+08:00 trigger apology --customer D4"
  printf 'n\n' | script -qec "$CMD" /dev/null > "$T/tty" 2>&1; st=$?
  grep -q "Send 1 message? \[y/N\]" "$T/tty" && [ "$st" = 1 ] && [ "$(db_sum "$DB")" = "$before" ] \
    && ok "terminal: answer n aborts (exit 1), nothing written" || not_ok "terminal n" "exit $st: $(cat "$T/tty")"
  printf 'y\n' | script -qec "$CMD" /dev/null > "$T/tty" 2>&1; st=$?
  [ "$st" = 0 ] && grep -q "sent 1," "$T/tty" && [ "$(sqlite3 "$DB" "SELECT status FROM care_outbox WHERE customer_id = 'D4'")" = sent ] \
    && ok "terminal: answer y sends" || not_ok "terminal y" "exit $st: $(cat "$T/tty")"
else
  skip "terminal prompt" "no script(1)"
fi
