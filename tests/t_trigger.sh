#!/bin/sh
# `carecast trigger`: a one-off send now by customer list or --where, with
# --var reaching the template; --dry-run writes nothing and shows the first
# messages as customers will read them; the same command twice sends once,
# however it is spelled (spacing, parentheses, order of customers and
# vars); --key sends once per key whatever else changes; consent and
# suppressions still apply; scripts must say --yes, and a terminal is asked.
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
  note: '""'
YAML
printf -- '---\nsubject: Sorry, {{ customer.name }}\n---\nYour voucher: {{ vars.voucher }}\n{{ vars.note }}\n' > "$T/templates/apology.email.liquid"
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

# The key is what the command means, not how it is typed: the same --where
# with other spacing, parentheses or a spelled-out customer.X sends
# nothing new; another value does.
sqlite3 "$DB" "ALTER TABLE customers ADD COLUMN city TEXT;
               UPDATE customers SET city = CASE id WHEN 'A1' THEN '杭州' WHEN 'C3' THEN '杭州' ELSE '上海' END"
outbox() { sqlite3 "$DB" 'SELECT count(*) FROM care_outbox'; }
expect_status 0 "--where city == 杭州" c trigger apology --where 'city == "杭州"' --var voucher=V-300 --yes
n=$(outbox)
grep -q "sent 1," "$T/out" && [ "$(sqlite3 "$DB" "SELECT group_concat(customer_id || ':' || status, ' ') FROM care_outbox
                                                  WHERE occurrence = (SELECT occurrence FROM care_outbox WHERE body_text LIKE '%V-300%')")" = "A1:sent C3:skipped" ] \
  && ok "the Hangzhou trigger sent Ann's apology (and skipped Cy's)" || not_ok "Hangzhou" "$(cat "$T/out")"
for w in 'city == "杭州" ' '  city=="杭州"' '(city == "杭州")' '((city) == ("杭州"))' 'customer.city == "杭州"' \
         'city == '"'"'杭州'"'"; do
  expect_status 0 "respelled: --where '$w'" c trigger apology --where "$w" --var voucher=V-300 --yes
  grep -q "already triggered" "$T/out" && [ "$(outbox)" = "$n" ] \
    && ok "respelled --where '$w' sends nothing new and says so" || not_ok "respelled '$w'" "$(cat "$T/out")"
done
expect_status 0 "another city is another trigger" c trigger apology --where 'city == "上海"' --var voucher=V-300 --yes
grep -q "sent 1," "$T/out" && [ "$(outbox)" -gt "$n" ] \
  && [ "$(sqlite3 "$DB" "SELECT count(DISTINCT occurrence) FROM care_outbox WHERE body_text LIKE '%V-300%'")" = 2 ] \
  && ok "city == 上海 sends (Dee) under its own key" || not_ok "Shanghai" "$(cat "$T/out")"
n=$(outbox)
expect_status 0 "another --var value is another trigger" c trigger apology --where 'city == "杭州"' --var voucher=V-301 --yes
grep -q "sent 1," "$T/out" && [ "$(outbox)" -gt "$n" ] && ok "the same --where with voucher V-301 sends" \
  || not_ok "V-301" "$(cat "$T/out")"

# Customers and vars count as sets: order and repeats change nothing.
expect_status 0 "customers and vars" c trigger apology --customer A1 D4 --var voucher=V-400 --var note=hello --yes
n=$(outbox)
grep -q "sent 2," "$T/out" && grep -q "^hello" "$T/outbox/email/"*.eml && ok "two sent, the second var reaches the template" \
  || not_ok "two vars" "$(cat "$T/out")"
expect_status 0 "reordered customers and vars" c trigger apology --customer D4 --customer A1 A1 --var note=hello --var voucher=V-400 --yes
grep -q "already triggered" "$T/out" && [ "$(outbox)" = "$n" ] && ok "reordered and repeated: nothing new" \
  || not_ok "reordered" "$(cat "$T/out")"
expect_status 2 "a var given twice is refused" c trigger apology --customer A1 --var voucher=V-1 --var voucher=V-2 --yes
grep -q "voucher is given twice" "$T/err" && [ "$(outbox)" = "$n" ] && ok "the var given twice is named, nothing written" \
  || not_ok "var twice" "$(cat "$T/err")"

# today and now count by name: the same command tomorrow is the same trigger.
expect_status 0 "--where with today" c trigger apology --where 'tier == "A" and today > date("2000-01-01")' --yes
n=$(outbox)
expect_status 0 "the same --where with today, a day later" \
  cc --config "$T/c.yaml" --now 2026-05-02T10:00:00+08:00 trigger apology --where 'tier == "A" and today > date("2000-01-01")' --yes
grep -q "already triggered" "$T/out" && [ "$(outbox)" = "$n" ] && ok "a day later: nothing new" || not_ok "today" "$(cat "$T/out")"

# A database whose triggers carry the text-derived keys of carecast 0.1.0:
# the same command finds them.
old=$(python3 -c '
h = 1469598103934665603
for b in "apology\nmain\nc:B2\nv:voucher=V-900\n".encode() + b"\xff":
    h = ((h ^ b) * 1099511628211) % 2**64
print("trigger-%012x" % (h & 0xffffffffffff))')
sqlite3 "$DB" "INSERT INTO care_occurrences VALUES ('apology', 'main', 'B2', '$old', NULL, 0)"
n=$(outbox)
expect_status 0 "a trigger recorded under the old key" c trigger apology --customer B2 --var voucher=V-900 --yes
grep -q "already triggered ($old)" "$T/out" && [ "$(outbox)" = "$n" ] && ok "the old key is found: nothing new" \
  || not_ok "old key" "$old: $(cat "$T/out")"

# --key: an idempotency key; the same key never sends twice, whatever else
# changed, and says so.
expect_status 0 "--key outage-0501" c trigger apology --key outage-0501 --where 'city == "杭州"' --var voucher=K-1 --yes
n=$(outbox)
grep -q "sent 1," "$T/out" && [ "$(sqlite3 "$DB" "SELECT count(*) FROM care_outbox WHERE occurrence = 'key:outage-0501'")" = 2 ] \
  && ok "--key sends and records its key as the occurrence" || not_ok "--key" "$(cat "$T/out")"
before=$(db_sum "$DB")
expect_status 0 "the same key, another --where" c trigger apology --key outage-0501 --where 'city == "上海"' --var voucher=K-2 --yes
grep -q "already triggered with key outage-0501 on 2026-05-01 10:00: nothing new sent" "$T/out" && [ "$(db_sum "$DB")" = "$before" ] \
  && ok "the same key with another --where and --var sends nothing and says so" || not_ok "key again" "$(cat "$T/out")"
expect_status 0 "the same key, customers" c trigger apology --key outage-0501 --customer D4 --yes
grep -q "already triggered with key outage-0501" "$T/out" && [ "$(db_sum "$DB")" = "$before" ] \
  && ok "the same key with a customer list sends nothing" || not_ok "key customers" "$(cat "$T/out")"
expect_status 0 "the same key, --dry-run" c trigger apology --key outage-0501 --customer D4 --dry-run
grep -q "already triggered with key outage-0501 .*nothing new would be sent" "$T/err" && ! grep -q . "$T/out" \
  && ok "a dry run with a used key says nothing would be sent" || not_ok "key dry-run" "$(cat "$T/out" "$T/err")"
expect_status 0 "another key" c trigger apology --key outage-0502 --customer D4 --yes
grep -q "sent 1," "$T/out" && ok "another key sends" || not_ok "another key" "$(cat "$T/out")"
before=$(db_sum "$DB")
for k in '' 'two words' "$(printf 'tab\tkey')" "$(printf '%0101d' 0)" '钥匙'; do
  expect_status 2 "bad --key '$k'" c trigger apology --key "$k" --customer D4 --yes
  grep -q -- "--key .* is not a key" "$T/err" && ok "bad --key '$k' is explained" || not_ok "bad key text" "$(cat "$T/err")"
done
[ "$(db_sum "$DB")" = "$before" ] && ok "bad keys write nothing" || not_ok "bad keys wrote"

# --dry-run shows the first messages as customers will read them.
sqlite3 "$DB" "INSERT INTO customers VALUES
  ('E5', 'Eve', 'eve@example.com', NULL, 'active', 'S', 1, 1, '北京'),
  ('F6', 'Fay', 'fay@example.com', NULL, 'active', 'S', 1, 1, '北京'),
  ('G7', 'Gus', 'gus@example.com', NULL, 'active', 'S', 1, 1, '北京'),
  ('H8', 'Hal', 'hal@example.com', NULL, 'active', 'S', 0, 0, '北京'),
  ('I9', 'Ida', 'ida@example.com', NULL, 'active', 'S', 1, 1, '北京')"
before=$(db_sum "$DB")
expect_status 0 "--dry-run shows messages" c trigger apology --where 'tier == "S"' --var voucher=V-500 --dry-run
[ "$(grep -c '^  Subject: Sorry, ' "$T/out")" = 3 ] && [ "$(grep -c '^  | Your voucher: V-500' "$T/out")" = 3 ] \
  && grep -q "by email to eve@example.com" "$T/out" && grep -q "The first 3 of 4 messages" "$T/out" \
  && grep -q "and 1 more" "$T/out" && ! grep -q "to hal@" "$T/out" \
  && ok "by default the first 3 of the 4 messages: recipient, channel, subject, text" || not_ok "--show default" "$(cat "$T/out")"
expect_status 0 "--show 1" c trigger apology --where 'tier == "S"' --var voucher=V-500 --dry-run --show 1
[ "$(grep -c '^  Subject: ' "$T/out")" = 1 ] && grep -q "Subject: Sorry, Eve" "$T/out" && ok "--show 1 shows one" || not_ok "--show 1" "$(cat "$T/out")"
expect_status 0 "--show 10" c trigger apology --where 'tier == "S"' --var voucher=V-500 --dry-run --show 10
[ "$(grep -c '^  Subject: ' "$T/out")" = 4 ] && grep -q "All 4 messages" "$T/out" && ok "--show 10 shows all 4" || not_ok "--show 10" "$(cat "$T/out")"
expect_status 0 "--show 0" c trigger apology --where 'tier == "S"' --var voucher=V-500 --dry-run --show 0
! grep -q "Subject" "$T/out" && grep -q "eve@example.com" "$T/out" && ok "--show 0: the list only" || not_ok "--show 0" "$(cat "$T/out")"
expect_status 0 "--show with --format jsonl" c --format jsonl trigger apology --where 'tier == "S"' --var voucher=V-500 --dry-run --show 2
python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$T/out" && [ "$(grep -c '^{' "$T/out")" = 5 ] \
  && [ "$(grep -c '^  Subject: ' "$T/err")" = 2 ] && ok "jsonl: standard output stays JSON, the messages go to stderr" \
  || not_ok "--show jsonl" "$(cat "$T/out" "$T/err")"
expect_status 2 "--show without --dry-run" c trigger apology --where 'tier == "S"' --show 2 --yes
expect_status 2 "--show -1" c trigger apology --where 'tier == "S"' --dry-run --show -1
[ "$(db_sum "$DB")" = "$before" ] && ok "dry runs and refused --show write nothing" || not_ok "dry runs wrote"

expect_status 0 "trigger --help" cc trigger --help
grep -q -- "--key TEXT" "$T/out" && grep -q -- "--show N" "$T/out" && ok "trigger --help explains --key and --show" \
  || not_ok "trigger --help" "$(cat "$T/out")"

# Two triggers with one key at once: the one that records second, after
# its prompt, sends nothing (the key is checked again when recording).
if command -v script >/dev/null 2>&1; then
  mkfifo "$T/in"
  CMD="$CARECAST --config $T/c.yaml --now 2026-05-01T10:00:00+08:00 trigger apology --key race-1 --customer E5"
  script -qec "$CMD" /dev/null < "$T/in" > "$T/tty" 2>&1 &
  pid=$!
  exec 3> "$T/in"
  i=0; while ! grep -q "\[y/N\]" "$T/tty" && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
  expect_status 0 "meanwhile, the same key from a script" c trigger apology --key race-1 --customer F6 --yes
  grep -q "sent 1," "$T/out" && ok "the script's trigger sends" || not_ok "race: script" "$(cat "$T/out")"
  n=$(outbox)
  printf 'y\n' >&3; exec 3>&-
  wait $pid; st=$?
  [ "$st" = 0 ] && grep -q "already triggered with key race-1" "$T/tty" && [ "$(outbox)" = "$n" ] \
    && [ "$(sqlite3 "$DB" "SELECT count(*) FROM care_outbox WHERE occurrence = 'key:race-1'")" = 1 ] \
    && ok "the terminal's trigger, confirmed later, sends nothing and says so" || not_ok "race: terminal" "exit $st: $(cat "$T/tty")"
else
  skip "two triggers with one key" "no script(1)"
fi
