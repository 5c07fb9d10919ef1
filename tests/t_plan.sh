#!/bin/sh
# Planning: anniversaries (29 February, month ends), the never-twice rule,
# channel eligibility, send_at in the customer's zone, the JSONL contract,
# and located errors that write nothing.
. "$(dirname "$0")/lib.sh"

DB="$T/care.db"
mkdir -p "$T/rules" "$T/templates"
sqlite3 "$DB" <<'SQL'
CREATE TABLE customers(id TEXT PRIMARY KEY, name TEXT, email TEXT, phone TEXT, birth_date TEXT,
  locale TEXT, timezone TEXT, status TEXT, email_opt_in INTEGER, sms_opt_in INTEGER, preferred_channel TEXT);
INSERT INTO customers VALUES
 ('C1', '李娜', 'li.na@example.cn', '+8613800138001', '2000-02-29', 'zh-CN', 'Asia/Shanghai', 'active', 1, 1, 'sms'),
 ('C2', 'Bob Smith', 'bob@example.com', NULL, '1990-02-28', 'en-US', 'America/New_York', 'active', 1, 0, 'email'),
 ('C3', '王伟', NULL, '+8613800138003', '1985-03-01', 'zh-CN', NULL, 'active', 0, 1, NULL),
 ('C4', 'New Born', 'nb@example.com', NULL, '2026-02-28', 'en-US', 'Europe/London', 'active', 1, 1, NULL),
 ('C5', 'Gone', 'gone@example.com', NULL, '1970-02-28', 'en-US', NULL, 'closed', 1, 1, NULL),
 ('C6', 'No Consent', 'nc@example.com', '+8613800138006', '1980-02-28', 'zh-CN', NULL, 'active', 0, 0, NULL),
 ('C7', 'x''); DROP TABLE customers; --', 'q@example.com', NULL, '1981-02-27', 'en-US', NULL, 'active', 1, 1, NULL);
CREATE TABLE contracts(id TEXT PRIMARY KEY, customer_id TEXT, product TEXT, end_date TEXT, status TEXT);
INSERT INTO contracts VALUES ('K1', 'C6', '宽带套餐', '2027-03-30', 'active'), ('K2', 'C2', 'Broadband', '2027-03-30', 'ended');
SQL
cat > "$T/rules/birthday.yaml" <<'YAML'
campaign: birthday
kind: marketing
audience:
  where: status == "active"
when: {date: birth_date, every: year}
send_at: "09:30"
channels: [sms, email]
template: hello
YAML
cat > "$T/rules/renewal.yaml" <<'YAML'
campaign: renewal
kind: service
audience:
  from: contracts
  where: status == "active"
steps:
  - name: notice-30d
    when: end_date - 30 days
    template: hello
    channels: [email, sms]
YAML
printf 'Hi {{ customer.name | default: "friend" }}\n' > "$T/templates/hello.sms.liquid"
# hello is shared by campaigns over several tables: it reads only row.id,
# a column every audience has (lint rejects row.X the table lacks).
printf -- '---\nsubject: Hello {{ customer.name }}\n---\nHi {{ customer.name }}, {{ row.id | default: "happy birthday" }}\n' > "$T/templates/hello.email.liquid"

plan() { cc --db "$DB" --rules "$T/rules" --templates "$T/templates" "$@"; }
sanitizer() { grep -q -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$1"; }
due_ids() { plan --date "$1" --format jsonl plan --dry-run | python3 -c '
import json, sys
print(" ".join(sorted(r["customer"] + ":" + r["status"] for r in map(json.loads, sys.stdin) if r["campaign"] == "birthday")))'; }

# Common year 2027: 29 February birthdays fall on 28 February; the first
# anniversary is one year after the date; grace 1 day catches yesterday.
got=$(due_ids 2027-02-28)
[ "$got" = "C1:planned C2:planned C4:planned C6:skipped C7:planned" ] && ok "2027-02-28: 29 Feb and 28 Feb birthdays, first anniversary, yesterday in grace" || not_ok "2027-02-28" "$got"
got=$(due_ids 2027-03-01)
[ "$got" = "C1:planned C2:planned C3:planned C4:planned C6:skipped" ] && ok "2027-03-01: the window is yesterday and today" || not_ok "2027-03-01" "$got"
# Leap year 2028: 28 February is only for 28 February birthdays.
got=$(due_ids 2028-02-28)
[ "$got" = "C2:planned C4:planned C6:skipped C7:planned" ] && ok "2028-02-28 (leap year)" || not_ok "2028-02-28 (leap year)" "$got"
got=$(due_ids 2028-02-29)
[ "$got" = "C1:planned C2:planned C4:planned C6:skipped" ] && ok "2028-02-29: the 29 February birthday on its own day" || not_ok "2028-02-29" "$got"

# The JSONL contract of cli.md.
plan --date 2027-02-28 --format jsonl plan --dry-run > "$T/plan.jsonl"
python3 - "$T/plan.jsonl" <<'PY' && ok "JSONL fields and values" || not_ok "JSONL fields and values"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
keys = ["campaign", "step", "table", "row", "customer", "occurrence", "kind", "channel", "to", "status", "reason", "send_after"]
assert all(list(r) == keys for r in rows), rows[0]
by = {r["customer"]: r for r in rows if r["campaign"] == "birthday"}
assert by["C1"]["channel"] == "sms" and by["C1"]["to"] == "+8613800138001" and by["C1"]["occurrence"] == "2027-02-28"
assert by["C1"]["send_after"] == "2027-02-28T09:30:00+08:00", by["C1"]["send_after"]
assert by["C2"]["channel"] == "email" and by["C2"]["send_after"] == "2027-02-28T09:30:00-05:00", by["C2"]
assert by["C4"]["send_after"] == "2027-02-28T09:30:00+00:00"
assert by["C6"]["status"] == "skipped" and by["C6"]["reason"] == "no-consent" and by["C6"]["channel"] is None
assert by["C7"]["occurrence"] == "2027-02-27"
assert by["C1"]["kind"] == "marketing" and by["C1"]["step"] == "main" and by["C1"]["table"] == "customers"
PY
# Service notices need no consent; sorted by priority (service 80 first).
python3 - "$T/plan.jsonl" <<'PY' && ok "service campaigns ignore marketing consent and sort first" || not_ok "service campaigns ignore marketing consent and sort first"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert rows[0]["campaign"] == "renewal", rows[0]
r = rows[0]
assert r["customer"] == "C6" and r["status"] == "planned" and r["channel"] == "email" and r["occurrence"] == "2027-02-28", r
assert len([x for x in rows if x["campaign"] == "renewal"]) == 1
PY

# Never twice: plan, then plan again the same day and the next.
before=$(db_sum "$DB")
expect_status 0 "plan --dry-run" plan --date 2027-02-28 plan --dry-run
[ "$(db_sum "$DB")" = "$before" ] && ok "--dry-run writes nothing" || not_ok "--dry-run writes nothing"
expect_status 0 "plan records" plan --date 2027-02-28 plan
grep -q "new outbox records" "$T/out" && ok "plan reports what it recorded" || not_ok "plan reports what it recorded"
n1=$(sqlite3 "$DB" "SELECT count(*) FROM care_outbox")
expect_status 0 "plan again the same day" plan --date 2027-02-28 plan
n2=$(sqlite3 "$DB" "SELECT count(*) FROM care_outbox")
[ "$n1" = 6 ] && [ "$n2" = 6 ] && ok "planning twice records each occurrence once ($n1)" || not_ok "planning twice" "$n1 then $n2"
expect_status 0 "plan the next day" plan --date 2027-03-01 plan
n3=$(sqlite3 "$DB" "SELECT count(*) FROM care_outbox WHERE campaign='birthday'")
[ "$n3" = 6 ] && ok "the next day adds only the new occurrence (C3)" || not_ok "the next day" "$n3"
[ "$(sqlite3 "$DB" "SELECT count(*) FROM customers")" = 7 ] && ok "quotes and -- in data are data" || not_ok "quotes in data"

# Rendering: the customer's name, with the default filter for nulls.
plan --date 2027-02-28 preview birthday --customer C7 > "$T/pv" 2>&1
grep -q "DROP TABLE customers" "$T/pv" || true
expect_status 0 "preview of an already planned day" plan --date 2027-02-28 preview birthday

# Located errors; nothing written.
cp -r "$T/rules" "$T/bad"
cat > "$T/bad/birthday.yaml" <<'YAML'
campaign: birthday
audience:
  where: status == "active" and birth_dte > "1990-01-01"
when: {date: birth_date, every: year}
template: hello
YAML
before=$(db_sum "$DB")
expect_status 2 "plan with an unknown column exits 2" cc --db "$DB" --rules "$T/bad" --templates "$T/templates" --date 2027-02-28 plan
grep -q "bad/birthday.yaml:3:33: error: table 'customers' has no column 'birth_dte'; did you mean 'birth_date'?" "$T/err" \
  && ok "unknown column: FILE:LINE:COL with a suggestion" || not_ok "unknown column located" "$(cat "$T/err")"
[ "$(db_sum "$DB")" = "$before" ] && ok "a bad campaign writes nothing" || not_ok "a bad campaign writes nothing"
expect_status 1 "lint reports the same problem with exit 1" cc --db "$DB" --rules "$T/bad" --templates "$T/templates" lint
grep -q "birthday.yaml:3:33" "$T/err" && ok "lint locates it" || not_ok "lint locates it"
expect_status 0 "lint is clean on good rules" cc --db "$DB" --rules "$T/rules" --templates "$T/templates" lint

# SQL injection: quotes, ';' and '--' in rule literals and in CSV data are data.
mkdir -p "$T/inj"
cat > "$T/inj/inj.yaml" <<'YAML'
campaign: inj
kind: service
audience:
  where: name == "x'); DROP TABLE customers; --" or name == 'O''Brien"; DELETE FROM customers; --'
repeat: once
channels: [email]
template: hello
YAML
printf 'id,name,email,status\nC8,"O\047Brien""; DELETE FROM customers; --",ob@example.com,active\n' > "$T/inj.csv"
expect_status 0 "import a row whose text looks like SQL" cc --db "$DB" import customers "$T/inj.csv"
expect_status 0 "a campaign whose literals look like SQL" cc --db "$DB" --rules "$T/inj" --templates "$T/templates" --date 2027-03-02 --format jsonl plan --dry-run
python3 - "$T/out" <<'PY' && ok "the literals match exactly the two rows, as data" || not_ok "the literals match exactly the two rows" "$(cat "$T/out")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert sorted(r["customer"] for r in rows) == ["C7", "C8"], rows
PY
[ "$(sqlite3 "$DB" "SELECT count(*) FROM customers")" = 8 ] && ok "no table was dropped and no row deleted" || not_ok "customers intact"
cc --db "$DB" --rules "$T/inj" --templates "$T/templates" --date 2027-03-02 preview inj > "$T/pv" 2>&1
grep -q "Hi O'Brien\"; DELETE FROM customers; --" "$T/pv" && ok "the name renders as it was imported" || not_ok "the name renders as it was imported" "$(cat "$T/pv")"

# `now` in an expression is the clock's instant (--now), in the business zone.
mkdir -p "$T/nowr"
cat > "$T/nowr/late.yaml" <<'YAML'
campaign: late
kind: service
audience: {where: id == "C1" and now >= today + 10 hours}
repeat: daily
channels: [sms]
template: hello
YAML
n9=$(cc --db "$DB" --rules "$T/nowr" --templates "$T/templates" --now 2027-03-02T09:59:00 --format jsonl plan --dry-run | wc -l)
n11=$(cc --db "$DB" --rules "$T/nowr" --templates "$T/templates" --now 2027-03-02T10:00:00 --format jsonl plan --dry-run | wc -l)
[ "$n9" = 0 ] && [ "$n11" = 1 ] && ok "now follows --now (09:59 no, 10:00 yes)" || not_ok "now follows --now" "$n9 $n11"

# grace in hours for a date-time occurrence: due from T until exactly T + grace.
sqlite3 "$DB" "CREATE TABLE visits(id INTEGER PRIMARY KEY, customer_id TEXT, at TEXT); INSERT INTO visits VALUES (1, 'C1', '2027-03-02 08:00:00');"
mkdir -p "$T/graceh"
printf 'campaign: thanks\nkind: service\naudience: {from: visits}\nwhen: at + 1 hour\ngrace: 2 hours\nchannels: [sms]\ntemplate: hello\n' > "$T/graceh/thanks.yaml"
g() { cc --db "$DB" --rules "$T/graceh" --templates "$T/templates" --now "$1" --format jsonl plan --dry-run | wc -l; }
[ "$(g 2027-03-02T08:59:00)" = 0 ] && [ "$(g 2027-03-02T09:00:00)" = 1 ] && [ "$(g 2027-03-02T10:59:00)" = 1 ] && [ "$(g 2027-03-02T11:01:00)" = 0 ] \
  && ok "grace: 2 hours on a date-time: due 09:00-11:00, not before, not after" || not_ok "grace in hours" "$(g 2027-03-02T08:59:00) $(g 2027-03-02T09:00:00) $(g 2027-03-02T10:59:00) $(g 2027-03-02T11:01:00)"

# --format csv: the JSONL fields as RFC 4180 CSV with a header.
cc --db "$DB" --rules "$T/rules" --templates "$T/templates" --date 2028-02-28 --format csv plan --dry-run > "$T/plan.csv"
python3 - "$T/plan.csv" <<'PY' && ok "plan --format csv has the contract's columns" || not_ok "plan --format csv" "$(head -3 "$T/plan.csv")"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
assert list(rows[0]) == ["campaign", "step", "table", "row", "customer", "occurrence", "kind", "channel", "to", "status", "reason", "send_after"]
assert any(r["campaign"] == "birthday" and r["customer"] == "C2" and r["channel"] == "email" for r in rows), rows
PY

# The row and customer a due item carries are those a look-up by the row's
# key (as text) finds, whatever the key column's type: an audience table
# with a sole primary key has them joined into its query (its own row taken
# as it comes), one without a primary key looks them up per row.  Each pair
# of tables whose keys have the same type must agree: INTEGER, TEXT and
# untyped keys, a row whose customer is missing, keys of another type than
# their column's (an untyped key holding 1 is not found by the text '1').
F="$T/fold"
mkdir -p "$F/rules" "$F/templates"
cp "$DB" "$F/care.db"
for t in v_int:'id INTEGER PRIMARY KEY' l_int:'id INTEGER' v_text:'id TEXT PRIMARY KEY' l_text:'id TEXT' \
         v_any:'id PRIMARY KEY' l_any:'id'; do
  name=${t%%:*}; col=${t#*:}; id=$(echo "$name" | tr _ -)
  rows="(1, 'C1', 'one', '2027-03-02', 'open'), ('2', 'C2', 'two', '2027-03-02', 'open'),
        (3, 'C404', 'orphan', '2027-03-02', 'open'), (7, 'C3', 'seven', '2027-03-02', 'open')"
  [ "$name" = v_int ] || [ "$name" = l_int ] || rows="$rows, ('x7', 'C3', 'text key', '2027-03-02', 'open'), (2.5, 'C6', 'real key', '2027-03-02', 'open')"
  sqlite3 "$F/care.db" "CREATE TABLE $name($col, customer_id TEXT, note TEXT, at TEXT, status TEXT); INSERT INTO $name VALUES $rows;"
  printf 'campaign: f-%s\nkind: service\naudience: {from: %s, where: status == "open"}\nwhen: at\nchannels: [sms]\ntemplate: f\n' \
    "$id" "$name" > "$F/rules/$id.yaml"
done
printf '{{ row.id }}|{{ row.note }}|{{ customer.name }}|{{ customer.phone }}\n' > "$F/templates/f.sms.liquid"
cc --db "$F/care.db" --rules "$F/rules" --templates "$F/templates" --date 2027-03-02 plan > "$F/out" 2> "$F/err"; rc=$?
by() { sqlite3 "$F/care.db" "SELECT row_id || ':' || status || ':' || coalesce(sms_text, '') FROM care_outbox
  WHERE campaign = 'f-$1' ORDER BY row_id" | tr '\n' ' '; }
same=1
for k in int text any; do [ "$(by "v-$k")" = "$(by "l-$k")" ] || same=0; done
if [ $rc -eq 0 ] && [ $same = 1 ] && [ "$(by v-text | wc -w)" -ge 6 ] && by v-any | grep -q '1:planned:[^ ]*||李娜' &&
   by v-text | grep -q '1:planned:[^ ]*1|one|李娜|+8613800138001' && by v-text | grep -q 'x7:planned:[^ ]*x7|text key|王伟' &&
   by v-int | grep -q '7:planned:[^ ]*7|seven|王伟' && ! sanitizer "$F/err"; then
  ok "a due row's row and customer are the same whether joined or looked up (INTEGER, TEXT, untyped keys)"
else not_ok "joined and looked-up rows agree" "exit $rc: $(for n in v-int l-int v-text l-text v-any l-any; do echo "$n: $(by $n)"; done) $(head -c 400 "$F/err")"; fi

# JSON output escapes what JSON requires (quote, backslash, control
# characters) and passes UTF-8 through: a key with all of them round-trips.
J="$T/json"
mkdir -p "$J/r" "$J/t"
sqlite3 "$J/c.db" "CREATE TABLE customers(id TEXT PRIMARY KEY, email TEXT, birth_date TEXT, status TEXT);
  INSERT INTO customers VALUES ('a\"b\\c' || char(10) || char(9) || char(13) || char(1) || char(31) || char(127) || 'é中', 'x@example.com', '1990-05-01', 'active');"
printf 'campaign: b\nkind: service\nwhen: {date: birth_date, every: year}\nchannels: [email]\ntemplate: t\n' > "$J/r/b.yaml"
printf -- '---\nsubject: Hi\n---\nHi\n' > "$J/t/t.email.liquid"
got=$(cc --db "$J/c.db" --rules "$J/r" --templates "$J/t" --date 2026-05-01 --format jsonl plan --dry-run |
  python3 -c 'import json, sys; r = json.loads(sys.stdin.readline()); print(r["customer"] == "a\"b\\c\n\t\r\x01\x1f\x7fé中" and r["row"] == r["customer"])')
[ "$got" = True ] && ok "JSON output escapes quotes, backslashes and control characters, and keeps UTF-8" || not_ok "JSON escaping" "$got"

# A campaign without `kind:` is marketing (campaigns.md): it needs consent,
# its SMS carries the opt-out hint, it plans at marketing priority 50, and
# lint -v names it as relying on the default.
K="$T/kind"
mkdir -p "$K/rules"
cp "$DB" "$K/care.db"
cat > "$K/rules/greeting.yaml" <<'YAML'
campaign: greeting
audience:
  where: status == "active"
when: {date: birth_date, every: year}
channels: [sms, email]
template: hello
YAML
kp() { cc --db "$K/care.db" --rules "$K/rules" --templates "$T/templates" "$@"; }
expect_status 0 "plan a campaign without kind" kp --date 2027-02-28 plan
got=$(sqlite3 "$K/care.db" "SELECT customer_id || ':' || status || ':' || coalesce(reason, '') || ':' || kind || ':' || priority
  FROM care_outbox WHERE campaign = 'greeting' AND customer_id IN ('C1', 'C6') ORDER BY customer_id" | tr '\n' ' ')
[ "$got" = "C1:planned::marketing:50 C6:skipped:no-consent:marketing:50 " ] \
  && ok "no kind: marketing, priority 50, a customer without consent is skipped" || not_ok "no kind is marketing" "$got"
sms=$(sqlite3 "$K/care.db" "SELECT sms_text FROM care_outbox WHERE campaign = 'greeting' AND customer_id = 'C1'")
case $sms in *回T退订*) ok "no kind: the SMS ends with the opt-out hint" ;; *) not_ok "no kind: opt-out hint" "$sms" ;; esac
cp "$T/rules/renewal.yaml" "$K/rules/"
expect_status 0 "lint -v" kp -v lint
grep -q "greeting.yaml: campaign 'greeting': kind: marketing (default), priority 50" "$T/err" &&
  grep -q "renewal.yaml: campaign 'renewal': kind: service, priority 80" "$T/err" \
  && ok "lint -v names the campaigns that rely on the default kind" || not_ok "lint -v kind" "$(cat "$T/err")"

# sample: N draws among the due rows a message can reach.  100 rows due:
# 40 without consent, 10 without an address, 50 reachable.
S="$T/sample"
mkdir -p "$S/rules"
sqlite3 "$S/care.db" "CREATE TABLE customers(id TEXT PRIMARY KEY, name TEXT, email TEXT, phone TEXT, locale TEXT,
    status TEXT, email_opt_in INTEGER, sms_opt_in INTEGER);
  WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
  INSERT INTO customers SELECT printf('S%03d', i), 'Guest', CASE WHEN i > 90 THEN NULL ELSE printf('s%d@example.com', i) END,
    CASE WHEN i > 90 THEN NULL ELSE printf('+861380013%04d', i) END, 'en-US', 'active',
    i > 40, i > 40 FROM n;"
draw() {
  printf 'campaign: draw\nkind: marketing\nrepeat: once\nsample: %s\nchannels: [sms, email]\n%btemplate: hello\n' "$1" "${2:-}" \
    > "$S/rules/draw.yaml"
  cc --db "$S/care.db" --rules "$S/rules" --templates "$T/templates" --date 2027-03-02 --format jsonl plan --dry-run
}
tally() { python3 -c '
import collections, json, sys
rows = [json.loads(l) for l in sys.stdin]
planned = sorted(r["customer"] for r in rows if r["status"] == "planned")
print(len(planned), len(set(planned)), dict(sorted(collections.Counter(r["reason"] for r in rows if r["status"] == "skipped").items())),
      ",".join(planned))'; }
a=$(draw 30 | tally)
b=$(draw 30 | tally)
case $a in "30 30 {'no-address': 10, 'no-consent': 40} "S*) ok "sample: 30 plans 30 of the 50 reachable; the 50 others are skipped with their reason" ;;
  *) not_ok "sample: 30 among the reachable" "$a" ;; esac
[ "$a" = "$b" ] && case $a in 30\ *) true ;; *) false ;; esac && ok "two dry runs draw the same 30" || not_ok "stable draw" "$a / $b"
# A lucky draw, not a block of neighbouring ids: each half of the 50
# reachable (S041-S065, S066-S090) gets about 15 of the 30.
spread=$(echo "${a##* }" | tr , '\n' | awk '{ if (substr($0, 2) + 0 <= 65) lo++; else hi++ } END { print lo + 0, hi + 0 }')
[ "${spread% *}" -ge 8 ] && [ "${spread#* }" -ge 8 ] && ok "the draw is spread over the ids ($spread)" || not_ok "the draw is spread over the ids" "$spread: ${a##* }"
a=$(draw 60 | tally)
case $a in "50 50 {'no-address': 10, 'no-consent': 40} "S*) ok "sample: 60 with 50 reachable plans all 50" ;;
  *) not_ok "sample: 60 with 50 reachable" "$a" ;; esac
a=$(draw 30 'deliver: all\n' | tally)
case $a in "60 30 {'no-address': 10, 'no-consent': 40} "S*) ok "deliver: all, sample: 30: 30 rows drawn, each on both channels" ;;
  *) not_ok "sample counts rows, not messages" "$a" ;; esac
# Held-out rows are the control group, outside the draw: 30 are still
# planned, and the held-out reachable rows are recorded as holdout.
a=$(draw 30 'holdout: 20\n' | tee "$S/held.jsonl" | tally)
held=$(grep -c '"status": "holdout"' "$S/held.jsonl")
case $a in "30 30 "*) [ "$held" -ge 5 ] ;; *) false ;; esac && ok "holdout: 20, sample: 30: 30 planned besides $held held out" \
  || not_ok "holdout rows take no place in the draw" "$a; $held held out"
# Recorded: the 30 drawn in the outbox (the same 30 as the dry run), the
# 50 unreachable as skipped, every due row's occurrence so that the 20 not
# drawn are not drawn again by a later run.
want=$(draw 30 | tally)
expect_status 0 "plan with sample: 30" cc --db "$S/care.db" --rules "$S/rules" --templates "$T/templates" --date 2027-03-02 plan
got=$(sqlite3 "$S/care.db" "SELECT (SELECT count(*) FROM care_outbox WHERE status = 'skipped') || ' ' ||
  (SELECT count(*) FROM care_occurrences WHERE campaign = 'draw') || ' ' ||
  (SELECT group_concat(customer_id, ',') FROM (SELECT customer_id FROM care_outbox WHERE status = 'planned' ORDER BY customer_id))")
[ "$got" = "50 100 ${want##* }" ] && ok "plan records the drawn 30, the 50 skipped and all 100 occurrences" || not_ok "sample recorded" "$got / $want"
expect_status 0 "plan with sample: 30 again" cc --db "$S/care.db" --rules "$S/rules" --templates "$T/templates" --date 2027-03-02 plan
grep -q "0 new outbox records" "$T/out" && ok "a second run draws nobody else" || not_ok "a second run draws nobody else" "$(cat "$T/out")"

# years_since() is one operand: 120 / years_since(d) is 120 / 10, not
# (120 / 120 months) / 12.
P="$T/prec"; mkdir -p "$P/rules" "$P/templates"
sqlite3 "$P/care.db" "CREATE TABLE customers(id TEXT PRIMARY KEY, phone TEXT, birth_date TEXT, sms_opt_in INTEGER);
  INSERT INTO customers VALUES ('A', '+8613800138001', '2016-03-01', 1);"
printf 'campaign: prec\nkind: service\naudience: {where: "120 / years_since(birth_date) == 12"}\nrepeat: once\nchannels: [sms]\ntemplate: p\n' > "$P/rules/p.yaml"
printf 'hi\n' > "$P/templates/p.sms.liquid"
cc --db "$P/care.db" --rules "$P/rules" --templates "$P/templates" --date 2026-03-02 --format jsonl plan --dry-run > "$P/out" 2> "$P/err"
[ "$(grep -c '"status": "planned"' "$P/out")" = 1 ] && ok "120 / years_since(birth_date) divides by the years" \
  || not_ok "years_since() is one operand" "$(cat "$P/out" "$P/err")"

# An SLA campaign that relies on the kind default: lint warns (without -v),
# since customers without consent would get no acknowledgement.
W="$T/slakind"; mkdir -p "$W/rules" "$W/templates"
sqlite3 "$W/care.db" "CREATE TABLE customers(id TEXT PRIMARY KEY, phone TEXT, sms_opt_in INTEGER);
  CREATE TABLE complaints(id TEXT PRIMARY KEY, customer_id TEXT, opened_at DATETIME);"
printf 'campaign: ack\naudience: {from: complaints}\nwhen: opened_at\nsla: 24 hours\nchannels: [sms]\ntemplate: a\n' > "$W/rules/ack.yaml"
printf 'campaign: ack2\nkind: service\naudience: {from: complaints}\nwhen: opened_at\nsla: 24 hours\nchannels: [sms]\ntemplate: a\n' > "$W/rules/ack2.yaml"
printf 'we hear you\n' > "$W/templates/a.sms.liquid"
expect_status 0 "lint an SLA campaign without kind" cc --db "$W/care.db" --rules "$W/rules" --templates "$W/templates" lint
grep -q "warning: campaign 'ack' has an sla but no kind: it is marketing by default" "$T/err" \
  && ! grep -q "campaign 'ack2' has an sla" "$T/err" \
  && ok "lint warns about an SLA campaign that relies on the kind default, not one that says service" \
  || not_ok "SLA without kind warning" "$(cat "$T/err")"
