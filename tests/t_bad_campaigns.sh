#!/bin/sh
# A corpus of bad campaigns: each file in tests/bad/campaigns/ is linted and
# planned on its own against a small fixture database.  Its first line says
# the one error it must give:
#
#   # expect: LINE:COL: error: MESSAGE-OR-PREFIX
#   # expect: TPL/NAME.sms.liquid:LINE:COL: error: ...   (error in a template)
#
# `lint` must exit 1 with exactly that one error line (plus the summary);
# `plan` must exit 2 and leave the database exactly as it was.
. "$(dirname "$0")/lib.sh"

DB="$T/care.db"
TPL="$T/templates"
R="$T/rules"
mkdir -p "$TPL"
sqlite3 "$DB" <<'SQL'
CREATE TABLE customers(id TEXT PRIMARY KEY, first_name TEXT, last_name TEXT, name TEXT, email TEXT, phone TEXT,
  birth_date TEXT, locale TEXT, timezone TEXT, status TEXT, email_opt_in INTEGER, sms_opt_in INTEGER,
  preferred_channel TEXT, created_at TEXT, city TEXT);
INSERT INTO customers VALUES
 ('C1', '娜', '李', '李娜', 'li.na@example.cn', '+8613800138001', '1990-06-01', 'zh-CN', 'Asia/Shanghai', 'active', 1, 1, 'sms', '2024-01-05 10:00:00', 'Hangzhou'),
 ('C2', 'Bob', 'Smith', 'Bob Smith', 'bob@example.com', NULL, '1985-06-02', 'en-US', NULL, 'active', 1, 0, 'email', '2025-03-01 09:00:00', 'Boston');
CREATE TABLE orders(id TEXT PRIMARY KEY, customer_id TEXT, ordered_at TEXT, amount REAL);
INSERT INTO orders VALUES ('O1', 'C1', '2026-05-01 12:00:00', 120.5), ('O2', 'C2', '2026-05-20 08:30:00', 80);
CREATE TABLE contracts(id TEXT PRIMARY KEY, customer_id TEXT, end_date TEXT, status TEXT, auto_renew INTEGER);
INSERT INTO contracts VALUES ('K1', 'C1', '2026-07-01', 'active', 0);
CREATE TABLE repairs(id TEXT PRIMARY KEY, customer_id TEXT, closed_at TEXT, status TEXT, rating INTEGER);
INSERT INTO repairs VALUES ('R1', 'C2', '2026-05-29 16:00:00', 'closed', NULL);
CREATE TABLE products(id TEXT PRIMARY KEY, name TEXT, price REAL);
SQL
printf 'Hi {{ customer.name | default: "friend" }}\n' > "$TPL/hello.sms.liquid"
printf -- '---\nsubject: Hello {{ customer.name }}\n---\nHi {{ customer.name }}\n' > "$TPL/hello.email.liquid"
printf 'Hi {{ customer.name | upcase2 }}\n' > "$TPL/badfilter.sms.liquid"
printf 'Hi\n{%% form o in orders %%}{{ o.id }}{%% endform %%}\n' > "$TPL/badtag.sms.liquid"
printf 'Hi {{ customer.name }},\nyour code is {{ vars.code\n' > "$TPL/unclosed.sms.liquid"

run() { cc --db "$DB" --rules "$R" --templates "$TPL" --date 2026-06-01 "$@"; }

# The fixture itself is sound: a good campaign lints clean.  This run also
# creates carecast's own tables, so the checksum below is the state that
# every bad case must leave untouched.
mkdir -p "$R"
cat > "$R/good.yaml" <<'YAML'
campaign: good
audience:
  where: status == "active" and count(orders where amount > 100) > 0
when: {date: birth_date, every: year}
channels: [sms, email]
template: hello
YAML
run lint > "$T/out" 2> "$T/err"; rc=$?
if [ $rc -eq 0 ] && ! sanitizer "$T/err"; then ok "fixture: a good campaign lints clean"
else not_ok "fixture: a good campaign lints clean" "exit $rc: $(head -c 600 "$T/err")"; fi
SUM=$(db_sum "$DB")

n=0
for f in "$ROOT"/tests/bad/campaigns/*.yaml; do
  name=$(basename "$f")
  n=$((n + 1))
  expect=$(sed -n '1s/^# expect: //p' "$f")
  if [ -z "$expect" ]; then not_ok "$name" "no '# expect:' first line"; continue; fi
  case $expect in
    TPL/*) want="$TPL/${expect#TPL/}" ;;
    *) want="$R/$name:$expect" ;;
  esac
  rm -rf "$R"; mkdir -p "$R"; cp "$f" "$R/"

  run lint > "$T/out" 2> "$T/err"; rc=$?
  # Error lines: everything on stderr except lint's closing summary.
  grep -v -E '^carecast lint: [0-9]+ problems? found$' "$T/err" > "$T/errs"
  lines=$(grep -c '' "$T/errs")
  got=$(head -n 1 "$T/errs")
  why=""
  if sanitizer "$T/err"; then why="sanitizer report"
  elif [ $rc -ne 1 ]; then why="lint exit $rc, wanted 1"
  elif [ "$lines" -ne 1 ]; then why="$lines error lines, wanted 1"
  else
    case $got in
      "$want"*) ;;
      *) why="wrong error" ;;
    esac
  fi
  if [ -z "$why" ] && grep -q -E '^carecast lint: [0-9]+ problems? found$' "$T/err" &&
     ! grep -q '^carecast lint: 1 problem found$' "$T/err"; then
    why="the summary does not count one problem"
  fi
  if [ -z "$why" ]; then
    run plan > "$T/out" 2> "$T/perr"; prc=$?
    if sanitizer "$T/perr"; then why="plan: sanitizer report"
    elif [ $prc -ne 2 ]; then why="plan exit $prc, wanted 2"
    elif [ "$(db_sum "$DB")" != "$SUM" ]; then why="plan wrote to the database"
    fi
  fi
  if [ -z "$why" ]; then ok "$name"
  else not_ok "$name" "$why; wanted: $want; got: $(head -c 800 "$T/err")"; fi
done
[ $n -ge 50 ] && ok "the corpus holds $n bad campaigns" || not_ok "the corpus holds $n bad campaigns, wanted 50 or more"
