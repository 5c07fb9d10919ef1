#!/bin/sh
# Whether a column holds dates or date-times comes from its declared type,
# else from its values, never from its name (campaigns.md section 1):
# import declares DATE / DATETIME from what it reads, a table made by hand
# keeps its declaration, and `lint -v` says which type each column got and
# why.
. "$(dirname "$0")/lib.sh"

DB="$T/care.db"
R="$T/rules"
TPL="$T/templates"
mkdir -p "$R" "$TPL"
# A CRM export by hand: TEXT everywhere.  closed_at holds plain days in
# spite of its name; finished holds date-times in spite of its.
sqlite3 "$DB" <<'SQL'
CREATE TABLE customers(id TEXT PRIMARY KEY, name TEXT, phone TEXT, sms_opt_in INTEGER, timezone TEXT);
INSERT INTO customers VALUES ('C1', 'Li Na', '+8613800138001', 1, NULL);
CREATE TABLE repairs(id TEXT PRIMARY KEY, customer_id TEXT, closed_at TEXT, finished TEXT, note TEXT,
  callback TEXT, stamped TEXT);
INSERT INTO repairs VALUES
 ('R1', 'C1', '2026-11-24', '2026-11-24 16:00:00', 'n/a', NULL, '2026-11-20'),
 ('R2', 'C1', NULL, '2026-11-25T08:30:00', '2026-11-24', NULL, '2026-11-21T10:00:00+08:00');
SQL
printf 'Hi {{ customer.name }}\n' > "$TPL/t.sms.liquid"
cat > "$R/follow.yaml" <<'YAML'
campaign: follow
kind: service
audience: {from: repairs}
when: closed_at + 2 days
send_at: "09:30"
channels: [sms]
template: t
YAML
# ROW@OCCURRENCE>SEND_AFTER (local wall time) of each planned message.
plan_at() {
  cc --db "$DB" --rules "$R" --templates "$TPL" --now "$1" --format jsonl plan --dry-run 2> "$T/err" |
    python3 -c 'import json, sys
print(" ".join(r["row"] + "@" + r["occurrence"] + ">" + r["send_after"][:19] for r in map(json.loads, sys.stdin) if r["status"] == "planned"))'
}

# The issue's scenario: closed_at 2026-11-24 + 2 days is the date
# 2026-11-26, sent at send_at, and still due the next day within grace.
got=$(plan_at 2026-11-26T08:00:00)
[ "$got" = "R1@2026-11-26>2026-11-26T09:30:00" ] &&
  ok "an _at column of plain dates gives a date occurrence, sent at the step's send_at" ||
  not_ok "an _at column of plain dates gives a date occurrence" "$got $(head -c 300 "$T/err")"
got=$(plan_at 2026-11-27T10:00:00)
case $got in
  R1@2026-11-26\>*) ok "a run at 10:00 the next day still sends it (grace 1 day)" ;;
  *) not_ok "a run at 10:00 the next day still sends it" "'$got' $(head -c 300 "$T/err")" ;;
esac
got=$(plan_at 2026-11-28T10:00:00)
[ -z "$got" ] && ok "two days later the grace is over" || not_ok "two days later the grace is over" "$got"

# A column whose name says nothing of dates, holding date-times: a
# date-time, due from T until T + grace.
cat > "$R/follow.yaml" <<'YAML'
campaign: finished
kind: service
audience: {from: repairs}
when: finished + 1 hour
grace: 2 hours
channels: [sms]
template: t
YAML
a=$(plan_at 2026-11-24T16:59:00); b=$(plan_at 2026-11-24T17:00:00); c=$(plan_at 2026-11-24T19:01:00)
[ -z "$a" ] && [ "$b" = "R1@2026-11-24T17:00:00>2026-11-24T17:00:00" ] && [ -z "$c" ] &&
  ok "a column named 'finished' holding date-times is a date-time" ||
  not_ok "a column named 'finished' holding date-times is a date-time" "'$a' '$b' '$c' $(head -c 300 "$T/err")"

# Dates and date-times mixed are date-times; a date-time with an offset counts.
printf 'campaign: stamped\nkind: service\naudience: {from: repairs}\nwhen: stamped\ngrace: 3 days\nchannels: [sms]\ntemplate: t\n' > "$R/follow.yaml"
got=$(plan_at 2026-11-22T12:00:00)
case $got in
  *R1@2026-11-20T00:00:00*) ok "dates mixed with date-times are date-times (a date is its day's start)" ;;
  *) not_ok "dates mixed with date-times are date-times" "'$got' $(head -c 300 "$T/err")" ;;
esac

# A column whose values are not all dates is not a date, and the error
# says why: FILE:LINE:COL, exit 2, nothing written.
printf 'campaign: note\nkind: service\naudience: {from: repairs}\nwhen: note + 1 day\nchannels: [sms]\ntemplate: t\n' > "$R/follow.yaml"
SUM=$(db_sum "$DB")
expect_status 2 "a column holding 'n/a' among dates is not a date: plan refuses" \
  cc --db "$DB" --rules "$R" --templates "$TPL" --now 2026-11-26T08:00:00 plan
check "... at FILE:LINE:COL, saying where the type came from" \
  grep -q "follow.yaml:4:12: error: a duration can only be added to or subtracted from a date, not text (repairs.note is text, from its values: 'n/a' is not a date)" "$T/err"
check "... and nothing is written" test "$(db_sum "$DB")" = "$SUM"

# A column with no values yet cannot say what it holds: rules may use it
# as a date, and nothing is due from it.
printf 'campaign: callback\nkind: service\naudience: {from: repairs}\nwhen: callback + 3 days\nchannels: [sms]\ntemplate: t\n' > "$R/follow.yaml"
expect_status 0 "a column with no values yet lints as a date" cc --db "$DB" --rules "$R" --templates "$TPL" lint
got=$(plan_at 2026-11-26T08:00:00)
[ -z "$got" ] && ok "... and nothing is due from it" || not_ok "... and nothing is due from it" "$got"

# A table made by hand keeps its declaration: DATETIME holding a plain day
# is a date-time (its day's start), TIMESTAMP WITH TIME ZONE too, DATE
# holding a date-time is a date.
sqlite3 "$DB" <<'SQL'
CREATE TABLE visits(id TEXT PRIMARY KEY, customer_id TEXT, seen DATETIME, booked TIMESTAMP WITH TIME ZONE,
  due DATE);
INSERT INTO visits VALUES ('V1', 'C1', '2026-11-24', '2026-11-24 08:00:00', '2026-11-24 18:00:00');
SQL
printf 'campaign: seen\nkind: service\naudience: {from: visits}\nwhen: seen + 2 days\ngrace: 1 hour\nchannels: [sms]\ntemplate: t\n' > "$R/follow.yaml"
a=$(plan_at 2026-11-26T00:30:00); b=$(plan_at 2026-11-26T09:00:00)
[ "$a" = "V1@2026-11-26T00:00:00>2026-11-26T00:30:00" ] && [ -z "$b" ] &&
  ok "a column declared DATETIME holding a plain day is a date-time" ||
  not_ok "a column declared DATETIME is a date-time" "'$a' '$b' $(head -c 300 "$T/err")"
printf 'id,customer_id,seen,booked,due\nV2,C1,2026-12-01,2026-12-01,2026-12-01\n' > "$T/visits.csv"
expect_status 0 "import into the hand-made table" cc --db "$DB" import visits "$T/visits.csv"
check "... keeps its declared types" \
  test "$(sqlite3 "$DB" "SELECT group_concat(type, ',') FROM pragma_table_info('visits')")" = "TEXT,TEXT,DATETIME,TIMESTAMP WITH TIME ZONE,DATE"

# Import declares what it reads.
cat > "$T/tickets.csv" <<'CSV'
id,customer_id,closed_at,resolved,mixed,odd,slashed,chinese,serial,empty
T1,C1,2026-11-24,2026-11-24 16:00,2026-11-24,2026-11-24,2026/11/24,2026年11月24日,46350,
T2,C1,2026-11-25,2026-11-25T09:15:00,2026-11-25 10:00:00,soon,2026/11/25,2026年11月25日,46351,
T3,C1,,,,,,,,
CSV
expect_status 0 "import tickets.csv" cc --db "$DB" import tickets "$T/tickets.csv"
check "import declares DATE for dates, DATETIME for date-times and for dates mixed with them, TEXT otherwise" \
  test "$(sqlite3 "$DB" "SELECT group_concat(name || ':' || type, ' ') FROM pragma_table_info('tickets')")" \
  = "id:TEXT customer_id:TEXT closed_at:DATE resolved:DATETIME mixed:DATETIME odd:TEXT slashed:TEXT chinese:TEXT serial:INTEGER empty:TEXT"
check "... and stores the values as they were" \
  test "$(sqlite3 "$DB" "SELECT typeof(closed_at) || ':' || closed_at || ' ' || resolved FROM tickets WHERE id = 'T1'")" \
  = "text:2026-11-24 2026-11-24 16:00"
printf 'id,customer_id,reopened\nT1,C1,2026-12-02 08:00:00\n' > "$T/tickets2.csv"
expect_status 0 "a second import adds a column" cc --db "$DB" import tickets "$T/tickets2.csv"
check "... declared from its values" \
  test "$(sqlite3 "$DB" "SELECT type FROM pragma_table_info('tickets') WHERE name = 'reopened'")" = "DATETIME"

# lint -v: each column the rules read, its type and where it came from,
# logged on standard error as -v logs are.
cat > "$R/follow.yaml" <<'YAML'
campaign: all
kind: service
audience:
  from: repairs
  where: count(messages where sent_at >= today - 30 days) == 0 and count(tickets where closed_at > today) >= 0
when: closed_at + 2 days
if: finished is not null and note != "x" and callback is null and customer.sms_opt_in == 1
channels: [sms]
template: t
YAML
printf 'campaign: v\nkind: service\naudience: {from: visits}\nwhen: seen\nif: booked is not null\nchannels: [sms]\ntemplate: t\n' > "$R/visits.yaml"
expect_status 0 "lint -v" cc --db "$DB" --rules "$R" --templates "$TPL" -v lint
for line in \
  "repairs.closed_at: date (from its values: 2026-11-24 ...)" \
  "repairs.finished: date-time (from its values: 2026-11-24 16:00:00 ...)" \
  "repairs.note: text (from its values: 'n/a' is not a date)" \
  "repairs.callback: unknown (no values yet)" \
  "tickets.closed_at: date (declared DATE)" \
  "visits.seen: date-time (declared DATETIME)" \
  "visits.booked: date-time (declared TIMESTAMP WITH TIME ZONE)" \
  "customers.sms_opt_in: number (declared INTEGER)" \
  "messages.sent_at: date-time (carecast's contact history)"; do
  check "lint -v logs '$line'" grep -qxF "carecast: $line" "$T/err"
done
check "lint -v logs each column once" test "$(grep -c '^carecast: repairs.closed_at:' "$T/err")" = 1
check "lint -v still ends clean" grep -q 'configuration and templates are clean' "$T/out"
expect_status 0 "lint without -v" cc --db "$DB" --rules "$R" --templates "$TPL" lint
check "... does not list the columns" sh -c "! grep -q 'repairs.closed_at' '$T/out' '$T/err'"

# Exports write missing values as NULL, null or a blank: those say nothing
# about the column, whose other values are dates.
sqlite3 "$DB" "CREATE TABLE exported(id TEXT PRIMARY KEY, customer_id TEXT, seen_on TEXT);
  INSERT INTO exported VALUES ('V1', 'C1', 'NULL'), ('V2', 'C1', ''), ('V3', 'C1', ' null '), ('V5', 'C1', '2026-11-24');"
printf 'campaign: exported\nkind: service\naudience: {from: exported}\nwhen: seen_on + 1 day\nchannels: [sms]\ntemplate: t\n' > "$R/exported.yaml"
expect_status 0 "lint a date column with NULL and blank values" cc -v --db "$DB" --rules "$R" --templates "$TPL" lint
grep -q "exported.seen_on: date (from its values: 2026-11-24 ...)" "$T/err" \
  && ok "NULL, null and blanks in a column of dates leave it a date" || not_ok "null words" "$(grep seen_on "$T/err")"
rm "$R/exported.yaml"

# date() of a column of text that is not ISO dates (an Excel export's
# 2026/11/22) would select nobody, silently: lint says so, with the value.
sqlite3 "$DB" "CREATE TABLE excel(id TEXT PRIMARY KEY, customer_id TEXT, done TEXT);
  INSERT INTO excel VALUES ('E1', 'C1', '2026/11/22'), ('E2', 'C1', '2026/11/23');"
printf 'campaign: excel\nkind: service\naudience: {from: excel}\nwhen: date(done) + 2 days\nchannels: [sms]\ntemplate: t\n' > "$R/excel.yaml"
expect_status 1 "lint date() of a column of 2026/11/22 dates" cc --db "$DB" --rules "$R" --templates "$TPL" lint
grep -q "excel.yaml:4:12: error: date() needs dates written YYYY-MM-DD, and this column holds other text (excel.done is text, from its values: '2026/11/22' is not a date)" "$T/err" \
  && ok "date() of a column that holds other text is an error at FILE:LINE:COL, with the value" || not_ok "date() of text column" "$(cat "$T/err")"
rm "$R/excel.yaml"
