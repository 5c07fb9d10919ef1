#!/bin/sh
# The bad-input corpus (tests/bad/*/, described in tests/bad/README.md):
# every malformed configuration, segment, template, expression, CSV file and
# HTTP callback must get a clear, located error and change nothing.
#
# Each case NAME.EXT has NAME.expect beside it (key: value lines):
#   error:  an extended regex that the one error line must match; paths in
#           it are relative to the case's working folder (etc/carecast.yaml,
#           rules/..., templates/..., case.csv)
#   lines:  how many error lines (default 1)
#   exit:   exit status of the command that writes (default 2)
#   run:    the command that writes, instead of the category's (shell words
#           after `carecast --date 2026-06-01`)
#   lint:   no, when lint is not the place (trigger --where)
#   lint_exit: lint's status when not the category's (a config that loads
#           but names an unset secret: lint 1, like any other problem)
#   gen:    a shell command that writes the case file to "$OUT" (large or
#           generated inputs); the case file itself is then absent, and
#   as:     names the generated file's type (csv, sms.liquid, ...)
#   serve cases: status, method, path (@SECRET@ is the callback secret)
#           or gen-path (a command printing it), header (repeatable), body
#           (literal), NAME.body beside it, or gen (writes the body to $OUT);
#           log: library when libmicrohttpd answers by itself (its own
#           log line instead of serve's request line)
#
# For each file case: a fresh copy of a fixture working folder (config,
# database, a good campaign due on 2026-06-01, a good segment), the case
# put in place, then
#   lint  (config, segments, templates, expressions): exit 1, exactly one
#         error line (plus the summary) matching `error:`
#   the writing command (plan, segment, import, ...): the `exit:` status,
#         the same located error, the database dump unchanged, no file
#         under var/outbox; always under `timeout`, never a sanitizer report.
# A good twin of every category runs first and must write, so "nothing
# changed" is a real assertion.  Serve cases run against one `carecast serve`
# on a free loopback port: the HTTP status, the database unchanged, the
# request's log line, serve alive after each request and exit 0 on SIGTERM.
. "$(dirname "$0")/lib.sh"

BAD="$ROOT/tests/bad"
FIX="$T/fixture"
DATE=2026-06-01
LIMIT=${BAD_TIMEOUT:-60}

# ---- the fixture working folder ----------------------------------------
mkdir -p "$FIX/etc" "$FIX/var" "$FIX/rules/segments" "$FIX/templates"
cat > "$FIX/etc/carecast.yaml" <<'YAML'
# The bad-input fixture: file transports, business zone Shanghai.
database: var/carecast.db
timezone: Asia/Shanghai
sender: {name: 关怀银行, email: care@bank.example.cn}
sms: {signature: 【关怀银行】}
YAML
sqlite3 "$FIX/var/carecast.db" <<'SQL'
CREATE TABLE customers(id TEXT PRIMARY KEY, first_name TEXT, last_name TEXT, name TEXT, email TEXT, phone TEXT,
  birth_date TEXT, locale TEXT, timezone TEXT, status TEXT, email_opt_in INTEGER, sms_opt_in INTEGER,
  preferred_channel TEXT, created_at TEXT, city TEXT);
INSERT INTO customers VALUES
 ('C1', '娜', '李', '李娜', 'li.na@example.cn', '+8613800138001', '1990-06-01', 'zh-CN', 'Asia/Shanghai', 'active', 1, 1, 'sms', '2024-01-05 10:00:00', 'Hangzhou'),
 ('C2', 'Bob', 'Smith', 'Bob Smith', 'bob@example.com', NULL, '1985-06-01', 'en-US', NULL, 'active', 1, 0, 'email', '2025-03-01 09:00:00', 'Boston');
CREATE TABLE orders(id TEXT PRIMARY KEY, customer_id TEXT, ordered_at TEXT, amount REAL);
INSERT INTO orders VALUES ('O1', 'C1', '2026-05-01 12:00:00', 120.5), ('O2', 'C2', '2026-05-20 08:30:00', 80);
CREATE TABLE contracts(id TEXT PRIMARY KEY, customer_id TEXT, end_date TEXT, status TEXT, auto_renew INTEGER);
INSERT INTO contracts VALUES ('K1', 'C1', '2026-07-01', 'active', 0);
SQL
cat > "$FIX/rules/greeting.yaml" <<'YAML'
campaign: greeting
kind: marketing
audience:
  where: status == "active" and count(orders where amount > 50) > 0
when: {date: birth_date, every: year}
send_at: "09:30"
channels: [sms, email]
template: case
vars:
  age: years_since(birth_date)
YAML
cat > "$FIX/rules/segments/value-tier.yaml" <<'YAML'
segment: value_tier
method: abc
value: sum(orders.amount where ordered_at >= today - 365 days)
cuts: [50%]
labels: [A, B]
YAML
printf 'Hi {{ customer.name | default: "friend" }}, happy {{ vars.age }}th!\n' > "$FIX/templates/case.sms.liquid"
printf -- '---\nsubject: Happy birthday {{ customer.name }}\n---\nHi {{ customer.name }}\n' > "$FIX/templates/case.email.liquid"
printf 'id,name,email,phone,status\nC9,王芳,wang.fang@example.cn,+8613700137009,active\n' > "$FIX/good.csv"

# cc_in DIR ARGS...: carecast in working folder DIR, as if on $DATE.
cc_in() { (cd "$1" && shift && exec timeout -k 5 "$LIMIT" "$CARECAST" --date "$DATE" "$@"); }

(cd "$FIX" && timeout "$LIMIT" "$CARECAST" --date "$DATE" lint) > "$T/out" 2> "$T/err"; rc=$?
if [ $rc -eq 0 ] && ! sanitizer "$T/err"; then ok "fixture: lints clean (and has carecast's tables)"
else not_ok "fixture: lints clean" "exit $rc: $(head -c 600 "$T/err")"; fi

# Good twins: each writing command does write on the fixture, so an error
# that let a bad case through would show as a changed database.
twin() { # NAME ARGS...
  _n=$1; shift
  rm -rf "$T/twin"; cp -a "$FIX" "$T/twin"
  _s=$(db_sum "$T/twin/var/carecast.db")
  cc_in "$T/twin" "$@" > "$T/out" 2> "$T/err"; _rc=$?
  if [ $_rc -eq 0 ] && ! sanitizer "$T/err" && [ "$(db_sum "$T/twin/var/carecast.db")" != "$_s" ]; then
    ok "good twin: $_n writes"
  else
    not_ok "good twin: $_n writes" "exit $_rc: $(head -c 600 "$T/err")"
  fi
}
twin plan plan
twin segment segment
twin import import customers good.csv

# Not bad input: a template saved with a byte order mark (Windows editors)
# is read without it, so its front matter is found and lint is clean.
rm -rf "$T/twin"; cp -a "$FIX" "$T/twin"
for f in "$T/twin/templates/case.sms.liquid" "$T/twin/templates/case.email.liquid"; do
  { printf '\357\273\277'; cat "$f"; } > "$f.new" && mv "$f.new" "$f"
done
cc_in "$T/twin" lint > "$T/out" 2> "$T/err"; rc=$?
check "templates with a leading byte order mark lint clean" test $rc -eq 0

# ---- the .expect reader ---------------------------------------------------
# field FILE KEY: the value of the first `KEY:` line (empty when none).
field() { sed -n "s/^$2: //p" "$1" | head -n 1; }

# Error lines: stderr without the known closing lines.
error_lines() {
  grep -v -E '^carecast lint: [0-9]+ problems? found$|^carecast: nothing was imported$|^carecast( [a-z]+)?: warning: ' "$1"
}

# judge CASE ERRFILE RC WANT_RC REGEX LINES: prints why it fails, or nothing.
judge() {
  _e=$(error_lines "$2")
  _n=$(printf '%s' "$_e" | grep -c '')
  if sanitizer "$2"; then echo "sanitizer report"
  elif [ "$3" -eq 124 ] || [ "$3" -eq 137 ]; then echo "hang (killed after ${LIMIT}s)"
  elif [ "$3" -ne "$4" ]; then echo "exit $3, wanted $4"
  elif [ "$_n" -ne "$6" ]; then echo "$_n error lines, wanted $6"
  elif ! printf '%s\n' "$_e" | grep -q -E -- "$5"; then echo "no error line matches /$5/"
  fi
}

count=0
cat_count() { eval "_c=\${count_$1:-0}"; eval "count_$1=$((_c + 1))"; count=$((count + 1)); }

# ---- file cases -------------------------------------------------------------
# place CATEGORY SRC W: puts the case in working folder W; prints the name
# it has there.
place() {
  case $1 in
    config) cp "$2" "$3/etc/carecast.yaml" ;;
    segments) cp "$2" "$3/rules/segments/case.yaml" ;;
    expressions) cp "$2" "$3/rules/case.yaml" ;;
    templates)
      _b=$(basename "$2")
      case $_b in
        *.email.html.liquid) cp "$2" "$3/templates/case.email.html.liquid" ;;
        *.email.liquid) cp "$2" "$3/templates/case.email.liquid" ;;
        *.sms.liquid) cp "$2" "$3/templates/case.sms.liquid" ;;
        *.partial.liquid) mkdir -p "$3/templates/partials"; cp "$2" "$3/templates/partials/part.liquid" ;;
      esac ;;
    csv) cp "$2" "$3/case.csv" ;;
  esac
}
default_run() {
  case $1 in
    config|templates|expressions) echo plan ;;
    segments) echo segment ;;
    csv) echo import customers case.csv ;;
  esac
}

for category in config segments templates expressions csv; do
  for exp in "$BAD/$category"/*.expect; do
    [ -e "$exp" ] || continue
    base=${exp%.expect}
    name="$category/$(basename "$base")"
    src=$(ls -d "$base".* 2>/dev/null | grep -v '\.expect$' | head -n 1)
    W="$T/w"
    rm -rf "$W"; cp -a "$FIX" "$W"
    gen=$(field "$exp" gen)
    if [ -n "$gen" ]; then
      src="$T/generated.$(field "$exp" as)"
      OUT="$src" sh -c "$gen" || { not_ok "$name" "gen: failed"; continue; }
    fi
    if [ -z "$src" ] || [ ! -f "$src" ]; then not_ok "$name" "no case file beside the .expect"; continue; fi
    cat_count "$category"
    regex=$(field "$exp" error)
    want_rc=$(field "$exp" exit); want_rc=${want_rc:-2}
    nlines=$(field "$exp" lines); nlines=${nlines:-1}
    runargs=$(field "$exp" run); [ -n "$runargs" ] || runargs=$(default_run "$category")
    if [ -z "$regex" ]; then not_ok "$name" "no 'error:' line in the .expect"; continue; fi
    place "$category" "$src" "$W"
    SUM=$(db_sum "$W/var/carecast.db")
    why=""
    # lint reports what is wrong with exit 1, except for a bad configuration
    # (exit 2, like every command) and CSV (lint does not read it).
    if [ "$category" != csv ] && [ "$(field "$exp" lint)" != no ]; then
      lint_rc=1; [ "$category" = config ] && lint_rc=2
      [ -n "$(field "$exp" lint_exit)" ] && lint_rc=$(field "$exp" lint_exit)
      cc_in "$W" lint > "$T/out" 2> "$T/err"; rc=$?
      why=$(judge "$name" "$T/err" $rc $lint_rc "$regex" "$nlines")
      [ -n "$why" ] && why="lint: $why"
      if [ -z "$why" ] && [ $lint_rc -eq 1 ] && ! grep -q -E "^carecast lint: $nlines problems? found$" "$T/err"; then
        why="lint: the summary does not count $nlines problem(s)"
      fi
    fi
    if [ -z "$why" ]; then
      eval "set -- $runargs"
      cc_in "$W" "$@" > "$T/out" 2> "$T/err"; rc=$?
      why=$(judge "$name" "$T/err" $rc "$want_rc" "$regex" "$nlines")
      [ -n "$why" ] && why="$1: $why"
      if [ -z "$why" ] && [ "$(db_sum "$W/var/carecast.db")" != "$SUM" ]; then why="$1: the database changed"; fi
      if [ -z "$why" ] && [ -n "$(find "$W/var" -path '*/outbox/*' -type f 2>/dev/null | head -n 1)" ]; then
        why="$1: files were written under var/outbox"
      fi
    fi
    if [ -z "$why" ]; then ok "$name"
    else not_ok "$name" "$why; stderr: $(head -c 700 "$T/err")"; fi
  done
done

# ---- serve cases -------------------------------------------------------------
SW="$T/serve"
rm -rf "$SW"; cp -a "$FIX" "$SW"
PORT=$(free_port)
SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
export T_BAD_SERVE_SECRET="$SECRET" T_BAD_UNSUB_SECRET="unsubscribe-secret-for-bad-inputs"
cat >> "$SW/etc/carecast.yaml" <<YAML
unsubscribe: {url: "http://127.0.0.1:$PORT/unsubscribe", secret_env: T_BAD_UNSUB_SECRET}
serve: {listen: "127.0.0.1:$PORT", public_url: "http://127.0.0.1:$PORT", secret_env: T_BAD_SERVE_SECRET}
transports:
  sms: {type: twilio, account_sid: AC0123456789abcdef0123456789abcdef, token_env: T_BAD_SERVE_SECRET,
        from: "+15005550006"}
YAML
# One planned SMS, so ids and sids exist to be forged against.
cc_in "$SW" plan > "$T/out" 2> "$T/err" || not_ok "serve fixture: plan" "$(head -c 300 "$T/err")"
(cd "$SW" && exec "$CARECAST" serve > "$T/serve.out" 2> "$T/serve.err") &
SPID=$!
at_exit "kill $SPID 2>/dev/null"
if wait_port "$PORT" 20; then ok "serve: listening on 127.0.0.1:$PORT"
else not_ok "serve: listening" "$(head -c 600 "$T/serve.err")"; fi

# logged_since N REGEX: serve logged a line matching REGEX after its first
# N lines (it logs when a request completes: wait up to two seconds).
logged_since() {
  _i=0
  while [ $_i -lt 40 ]; do
    tail -n +"$(($1 + 1))" "$T/serve.err" | grep -q -E "$2" && return 0
    sleep 0.05; _i=$((_i + 1))
  done
  return 1
}

for exp in "$BAD"/serve/*.expect; do
  [ -e "$exp" ] || continue
  base=${exp%.expect}
  name="serve/$(basename "$base")"
  cat_count serve
  status=$(field "$exp" status)
  method=$(field "$exp" method); method=${method:-GET}
  path=$(field "$exp" path)
  [ -n "$path" ] || path=$(sh -c "$(field "$exp" gen-path)")
  path=$(printf '%s' "$path" | sed "s|@SECRET@|$SECRET|g")
  if [ -z "$status" ] || [ -z "$path" ]; then not_ok "$name" "needs 'status:' and 'path:'"; continue; fi
  set -- -s -o "$T/resp" -w '%{http_code}' --globoff --path-as-is --max-time 20 -X "$method"
  # Each header line becomes one -H argument.
  sed -n 's/^header: //p' "$exp" | sed "s|@SECRET@|$SECRET|g" > "$T/headers"
  while IFS= read -r h; do set -- "$@" -H "$h"; done < "$T/headers"
  gen=$(field "$exp" gen)
  if [ -n "$gen" ]; then OUT="$T/body" sh -c "$gen"; set -- "$@" --data-binary "@$T/body"
  elif [ -f "$base.body" ]; then set -- "$@" --data-binary "@$base.body"
  elif grep -q '^body: ' "$exp"; then field "$exp" body | tr -d '\n' > "$T/body"; set -- "$@" --data-binary "@$T/body"
  fi
  SUM=$(db_sum "$SW/var/carecast.db")
  lines_before=$(grep -c '' "$T/serve.err")
  got=$(curl "$@" "http://127.0.0.1:$PORT$path" 2> "$T/curl.err")
  why=""
  if [ "$got" != "$status" ]; then why="HTTP $got, wanted $status"
  elif [ "$(db_sum "$SW/var/carecast.db")" != "$SUM" ]; then why="the database changed"
  elif ! kill -0 "$SPID" 2>/dev/null; then why="serve died"
  elif ! curl -s --max-time 5 "http://127.0.0.1:$PORT/health" | grep -q '^ok$'; then why="serve no longer answers /health"
  elif [ "$(field "$exp" log)" = library ] && ! logged_since "$lines_before" "^carecast serve: http: "; then
    why="no log line from the HTTP library"
  elif [ "$(field "$exp" log)" != library ] &&
       ! logged_since "$lines_before" "^carecast serve: [0-9.]+ $method [^ ]* $status\$"; then
    why="no log line '$method ... $status'"
  elif grep -q -F "$SECRET" "$T/serve.err"; then why="the secret is in the log"
  fi
  if [ -z "$why" ]; then ok "$name"
  else not_ok "$name" "$why; log: $(tail -n 3 "$T/serve.err" | head -c 500)"; fi
done
# The good twin of the serve cases: a valid one-click unsubscribe answers
# 200 and does change the database, so "unchanged" above was a real check.
SUM=$(db_sum "$SW/var/carecast.db")
TOKEN=djEfQzIfYm9iQGV4YW1wbGUuY29t.FjAy_JdXuU_1WnwcTVW5I_O6-pZBrcqtvRw3fNFBISw  # C2, bob@example.com, signed with T_BAD_UNSUB_SECRET
got=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 -X POST -d 'List-Unsubscribe=One-Click' "http://127.0.0.1:$PORT/unsubscribe/$TOKEN")
if [ "$got" = 200 ] && [ "$(db_sum "$SW/var/carecast.db")" != "$SUM" ]; then ok "serve good twin: a signed one-click unsubscribe is 200 and writes"
else not_ok "serve good twin: a signed one-click unsubscribe is 200 and writes" "HTTP $got"; fi
kill -TERM "$SPID" 2>/dev/null
wait "$SPID"; src=$?
if [ $src -eq 0 ] && ! sanitizer "$T/serve.err"; then ok "serve: exits 0 on SIGTERM after the bad requests, no sanitizer report"
else not_ok "serve: exits 0 on SIGTERM, no sanitizer report" "exit $src: $(grep -A5 -E 'Sanitizer|runtime error' "$T/serve.err" | head -c 800)"; fi

# Every file of the corpus belongs to a case with an expectation: an input
# left without its .expect would otherwise never run.
orphans=""
for f in "$BAD"/config/* "$BAD"/segments/* "$BAD"/templates/* "$BAD"/expressions/* "$BAD"/csv/* "$BAD"/serve/*; do
  [ -e "$f" ] || continue
  b=$(basename "$f")
  [ -e "$(dirname "$f")/${b%%.*}.expect" ] || orphans="$orphans $b"
done
check "every corpus file has its .expect${orphans:+ (not:$orphans)}" test -z "$orphans"

summary=""
for c in config segments templates expressions csv serve; do
  eval "summary=\"\$summary $c=\${count_$c:-0}\""
done
echo "# cases:$summary total=$count"
[ $count -ge 80 ] && ok "the corpus holds $count bad inputs" || not_ok "the corpus holds $count bad inputs, wanted 80 or more"
