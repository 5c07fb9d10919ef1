#!/bin/sh
# Liquid templates through the real binary: typed variables (numbers from
# SQLite and from campaign vars compare as numbers), for/assign/case/
# filters/partials, HTML auto-escaping only in .email.html.liquid, and
# located lint errors for variables that cannot exist.
. "$(dirname "$0")/lib.sh"

DB="$T/care.db"
TPL="$T/templates"
R="$T/rules"
mkdir -p "$TPL/partials" "$R"
sqlite3 "$DB" <<'SQL'
CREATE TABLE customers(id TEXT PRIMARY KEY, first_name TEXT, last_name TEXT, name TEXT, email TEXT, phone TEXT,
  birth_date TEXT, locale TEXT, timezone TEXT, status TEXT, email_opt_in INTEGER, sms_opt_in INTEGER,
  preferred_channel TEXT, created_at TEXT, city TEXT, points INTEGER, balance REAL, nickname TEXT);
INSERT INTO customers VALUES
 ('C1', 'Ann', 'Lee', 'Ann <b>Lee</b> & Co', 'ann@example.com', '+8613800138001', '1950-06-01', 'en-US', 'Asia/Shanghai',
  'active', 1, 1, 'sms', '2024-01-05 10:00:00', 'Hangzhou', 1200, 99.5, NULL),
 ('C2', 'Bob', 'Smith', 'Bob Smith', 'bob@example.com', '+8613800138002', '1990-06-01', 'en-US', 'Asia/Shanghai',
  'active', 1, 1, 'sms', '2025-03-01 09:00:00', 'Boston', 80, 5, 'Bobby');
SQL

cat > "$R/greet.yaml" <<'YAML'
campaign: greet
title: Birthday greeting
audience:
  where: status == "active"
when: {date: birth_date, every: year}
channels: [sms, email]
deliver: all
template: greet
vars:
  age: years_since(birth_date)
YAML

cat > "$TPL/partials/sig.liquid" <<'EOF2'
-- {{ who | upcase }}
EOF2
# SMS: typed comparisons on an expression var and on an INTEGER column,
# case, for over a range with forloop, assign/capture, filters, a partial,
# a null column with default, date from the clock.
cat > "$TPL/greet.sms.liquid" <<'EOF2'
{%- assign n = customer.first_name | size -%}
{%- if vars.age >= 60 %}senior{% else %}adult{% endif %} {{ vars.age | plus: 1 }}
{%- case customer.city %}{% when "Hangzhou" %} HZ{% when "Boston" %} BOS{% endcase %}
{%- if customer.points > 100 %} gold{% endif %} {{ customer.balance | times: 2 }}
{%- for i in (1..3) %} {{ i }}{% if forloop.last %}!{% endif %}{% endfor %}
{%- capture hi %}Hi {{ customer.nickname | default: customer.first_name }}{% endcapture %} {{ hi }} n={{ n }}
{%- assign words = "b,a,c" | split: "," | sort %} {{ words | join: "-" }} {{ customer.name }}
{{ today | date: "%d/%m/%Y" }}
{% render 'sig', who: customer.first_name %}
EOF2
printf -- '---\nsubject: Hi {{ customer.first_name }}\n---\nText {{ customer.name }}\n' > "$TPL/greet.email.liquid"
printf '<p>Hello {{ customer.name }}</p>{{ "<i>" | escape }}\n' > "$TPL/greet.email.html.liquid"

run() { cc --db "$DB" --rules "$R" --templates "$TPL" --date 2026-06-01 "$@"; }

expect_status 0 "lint: a campaign using for/assign/case/filters/partials is clean" run lint

run plan > "$T/plan.out" 2> "$T/err"; rc=$?
if [ $rc -eq 0 ] && ! sanitizer "$T/err"; then ok "plan renders the templates into the outbox"
else not_ok "plan renders the templates into the outbox" "exit $rc: $(head -c 600 "$T/err")"; fi

# What plan recorded for (customer, channel).
field() { sqlite3 "$DB" "SELECT $3 FROM care_outbox WHERE customer_id = '$1' AND channel = '$2'"; }

sms1=$(field C1 sms sms_text)
sms2=$(field C2 sms sms_text)
case $sms1 in *"senior 77"*) ok "vars.age >= 60 compares a number from an expression";;
  *) not_ok "vars.age >= 60 compares a number from an expression" "$sms1";; esac
case $sms2 in *"adult 37"*) ok "a younger customer takes the else branch";;
  *) not_ok "a younger customer takes the else branch" "$sms2";; esac
case "$sms1|$sms2" in *" HZ gold 199.0"*"|"*" BOS 10.0"*) ok "case/when and typed INTEGER/REAL columns";;
  *) not_ok "case/when and typed INTEGER/REAL columns" "$sms1 | $sms2";; esac
case $sms1 in *" 1 2 3! Hi Ann n=3 a-b-c "*) ok "for over a range with forloop, capture, default on null, split/sort/join";;
  *) not_ok "for over a range with forloop, capture, default on null, split/sort/join" "$sms1";; esac
case $sms2 in *"Hi Bobby"*) ok "default keeps a non-null value";;
  *) not_ok "default keeps a non-null value" "$sms2";; esac
case $sms1 in *"01/06/2026"*"-- ANN"*) ok "date filter on today and a render partial";;
  *) not_ok "date filter on today and a render partial" "$sms1";; esac
case $sms1 in *"Ann <b>Lee</b> & Co"*) ok "SMS text is not HTML-escaped";;
  *) not_ok "SMS text is not HTML-escaped" "$sms1";; esac

html=$(field C1 email body_html)
text=$(field C1 email body_text)
case $html in *"<p>Hello Ann &lt;b&gt;Lee&lt;/b&gt; &amp; Co</p>&lt;i&gt;"*) ok "the HTML body escapes output, not its own markup";;
  *) not_ok "the HTML body escapes output, not its own markup" "$html";; esac
case $text in *"Text Ann <b>Lee</b> & Co"*) ok "the text email body is not escaped";;
  *) not_ok "the text email body is not escaped" "$text";; esac

cc --db "$DB" --rules "$R" --templates "$TPL" --date 2027-06-01 preview greet --limit 5 > "$T/preview" 2> "$T/err"; rc=$?
if [ $rc -eq 0 ] && grep -q "senior 78" "$T/preview" && ! sanitizer "$T/err"; then ok "preview shows the rendered text"
else not_ok "preview shows the rendered text" "exit $rc: $(head -c 400 "$T/preview") $(head -c 400 "$T/err")"; fi

# Lint: a variable root that cannot exist, and a customer column that does not.
mkdir -p "$T/r2"
sed 's/template: greet/template: bad/; s/campaign: greet/campaign: bad/' "$R/greet.yaml" > "$T/r2/bad.yaml"
printf 'Hi {{ customer.first_name }}\n{%% for o in orders %%}{{ o.id }}{%% endfor %%}\n' > "$TPL/bad.sms.liquid"
printf -- '---\nsubject: x\n---\n{%% assign x = 1 %%}{{ x }} {{ customer.shoe_size }}\n' > "$TPL/bad.email.liquid"
cc --db "$DB" --rules "$T/r2" --templates "$TPL" --date 2026-06-01 lint > "$T/out" 2> "$T/err"; rc=$?
if [ $rc -eq 1 ] && grep -q "bad.sms.liquid:2:13: error: unknown variable 'orders'" "$T/out" "$T/err"; then
  ok "lint: an unknown variable root is a located error"
else not_ok "lint: an unknown variable root is a located error" "exit $rc: $(cat "$T/out" "$T/err" | head -c 600)"; fi
if grep -q "bad.email.liquid:4:30: error: 'customer.shoe_size': table 'customers' has no column 'shoe_size'" "$T/out" "$T/err"; then
  ok "lint: an unknown customer column is a located error"
else not_ok "lint: an unknown customer column is a located error" "$(cat "$T/out" "$T/err" | head -c 600)"; fi

# A render error (division by zero) is reported with its location, not a crash.
mkdir -p "$T/r3"
sed 's/template: greet/template: div/; s/campaign: greet/campaign: div/' "$R/greet.yaml" > "$T/r3/div.yaml"
printf 'x\n{{ 10 | divided_by: customer.sms_opt_in | minus: 1 }}{{ 1 | divided_by: 0 }}\n' > "$TPL/div.sms.liquid"
printf -- '---\nsubject: x\n---\nx\n' > "$TPL/div.email.liquid"
cc --db "$DB" --rules "$T/r3" --templates "$TPL" --date 2026-06-01 plan --dry-run > "$T/out" 2> "$T/err"; rc=$?
if [ $rc -ne 0 ] && [ $rc -lt 98 ] && grep -q "div.sms.liquid:2:.*divided by 0" "$T/err" && ! sanitizer "$T/err"; then
  ok "a render error is a located diagnostic"
else not_ok "a render error is a located diagnostic" "exit $rc: $(head -c 600 "$T/err")"; fi

# A runaway loop stops at the iteration limit instead of hanging.
printf '{%% for i in (1..100000000) %%}{%% for j in (1..100000000) %%}x{%% endfor %%}{%% endfor %%}\n' > "$TPL/div.sms.liquid"
cc --db "$DB" --rules "$T/r3" --templates "$TPL" --date 2026-06-01 plan --dry-run > "$T/out" 2> "$T/err"; rc=$?
if [ $rc -ne 0 ] && [ $rc -lt 98 ] && grep -q "limits exceeded" "$T/err"; then ok "a runaway loop hits the resource limit"
else not_ok "a runaway loop hits the resource limit" "exit $rc: $(head -c 600 "$T/err")"; fi

# A date format with an absurd field width (found by tests/fuzz/fuzz_liquid)
# is capped at 1024 columns: no integer overflow, no gigabyte of padding.
printf '[{{ today | date: "%%77777777777777m" | size }} {{ today | date: "%%Y-%%4m" }}]\n' > "$TPL/div.sms.liquid"
cc --db "$DB" --rules "$T/r3" --templates "$TPL" --date 2026-06-01 preview div --limit 1 > "$T/out" 2> "$T/err"; rc=$?
if [ $rc -eq 0 ] && ! sanitizer "$T/err" && grep -q "\[1024 2026-0006\]" "$T/out"; then
  ok "a date format width is capped, not overflowed"
else not_ok "a date format width is capped, not overflowed" "exit $rc: $(head -c 300 "$T/out") $(head -c 600 "$T/err")"; fi

# Unix seconds far outside any calendar (found by tests/fuzz/fuzz_liquid)
# are not dates: the filter returns its input, as for any non-date.
printf '[{{ "-9223372036854775808" | date: "%%Y" }} {{ 1000000000000001 | date: "%%Y" }} {{ 86400 | date: "%%Y-%%m-%%d" }}]\n' > "$TPL/div.sms.liquid"
cc --db "$DB" --rules "$T/r3" --templates "$TPL" --date 2026-06-01 preview div --limit 1 > "$T/out" 2> "$T/err"; rc=$?
if [ $rc -eq 0 ] && ! sanitizer "$T/err" && grep -q -- "\[-9223372036854775808 1000000000000001 1970-01-02\]" "$T/out"; then
  ok "date on seconds out of range returns the input"
else not_ok "date on seconds out of range returns the input" "exit $rc: $(head -c 300 "$T/out") $(head -c 600 "$T/err")"; fi

# A float argument beyond int64 (found by tests/fuzz/fuzz_liquid in make
# check) saturates instead of an undefined conversion.
printf '[{{ 2.5 | round: 11111111111111111111111111111111111111111111111111111111111.1 }} {{ 2.5 | round: -11111111111111111111111111111111111111111111111111111111111.1 }}]\n' > "$TPL/div.sms.liquid"
cc --db "$DB" --rules "$T/r3" --templates "$TPL" --date 2026-06-01 preview div --limit 1 > "$T/out" 2> "$T/err"; rc=$?
if [ $rc -eq 0 ] && ! sanitizer "$T/err" && grep -q -- "\[2.5 3\]" "$T/out"; then
  ok "a float argument beyond int64 saturates"
else not_ok "a float argument beyond int64 saturates" "exit $rc: $(head -c 300 "$T/out") $(head -c 600 "$T/err")"; fi

# The variables one tpl_vars carries from message to message (the planner's
# way) render exactly what fresh ones render: campaigns' orders, changes of
# order, names left out or set twice, nulls, numbers, renders between sets.
CHECK=$ROOT/build/san/tpl_vars_check
if [ ! -x "$CHECK" ] || [ "$ROOT/tests/tpl_vars_check.c" -nt "$CHECK" ]; then
  make -C "$ROOT" --no-print-directory build/san/tpl_vars_check > "$T/build" 2>&1 ||
    not_ok "build tpl_vars_check" "$(tail -5 "$T/build")"
fi
"$CHECK" 20000 > "$T/out" 2> "$T/err"; rc=$?
if [ $rc -eq 0 ] && ! sanitizer "$T/err" && grep -q "20000 messages, [0-9]* renders compared, 0 different" "$T/out"; then
  ok "reused template variables render as fresh ones ($(sed 's/.*messages, //' "$T/out"))"
else not_ok "reused template variables render as fresh ones" "exit $rc: $(head -c 300 "$T/out") $(head -c 1500 "$T/err")"; fi
