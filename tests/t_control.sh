#!/bin/sh
# Stopping a send: `cancel` (waiting messages never go, report counts them,
# plan never makes them again), `pause` during a large send against a real
# SMTP server (smtp-sink) stops the rest within a second, `resume` sends
# them once; and a sender whose lease ran out cannot overwrite the result
# of the sender that claimed the message after it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/servers.sh"

DB="$T/care.db"
mkdir -p "$T/rules" "$T/templates"
# 120 customers whose birthday is today (UTC), all consenting.
today=$(date -u +%m-%d)
python3 - "$DB" "$today" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("CREATE TABLE customers(id TEXT PRIMARY KEY, name TEXT, email TEXT, phone TEXT, birth_date TEXT, "
           "status TEXT, email_opt_in INTEGER, sms_opt_in INTEGER)")
db.executemany("INSERT INTO customers VALUES (?, ?, ?, NULL, ?, 'active', 1, 0)",
               [("C%03d" % i, "Name %d" % i, "c%03d@example.com" % i, "1992-" + sys.argv[2]) for i in range(120)])
db.commit()
PY
cat > "$T/rules/wish.yaml" <<'YAML'
campaign: wish
audience: {where: status == "active"}
steps:
  - name: greet
    when: {date: birth_date, every: year}
    channels: [email]
    template: t
  - name: again
    when: {date: birth_date, every: year}
    channels: [email]
    template: t
YAML
printf -- '---\nsubject: Hi {{ customer.name }}\n---\nHello {{ customer.name }}\n' > "$T/templates/t.email.liquid"
config() {   # config FILE PORT [EXTRA-TRANSPORT-KEYS] [DATABASE]
  cat > "$1" <<YAML
database: ${4:-$DB}
timezone: UTC
rules: $T/rules
templates: $T/templates
sender: {name: Care, email: care@example.cn}
transports:
  email: {type: smtp, host: 127.0.0.1, port: $2, tls: none, timeout: 20 seconds $3}
YAML
}
q() { sqlite3 "$DB" "$1"; }

start_smtp_sink || { not_ok "smtp-sink starts"; exit 0; }
config "$T/c.yaml" "$SMTP_PORT" ", connections: 1, rate: 20"
c() { cc --config "$T/c.yaml" "$@"; }

expect_status 0 "plan 240 messages (two steps)" c plan
[ "$(q "SELECT count(*) FROM care_outbox WHERE status = 'planned'")" = 240 ] && ok "240 planned" || not_ok "240 planned"

# ---- cancel -----------------------------------------------------------------
before=$(db_sum "$DB")
expect_status 0 "cancel --dry-run" c cancel wish --step again --dry-run
grep -q "would cancel 120 messages of wish step again (120 planned, 0 to retry)" "$T/out" \
  && ok "--dry-run says how many" || not_ok "--dry-run says how many" "$(cat "$T/out")"
[ "$(db_sum "$DB")" = "$before" ] && ok "--dry-run changes nothing" || not_ok "--dry-run changes nothing"
expect_status 2 "cancel in a script without --yes" c cancel wish --step again < /dev/null
grep -q "confirm with --yes" "$T/err" && [ "$(db_sum "$DB")" = "$before" ] \
  && ok "without --yes nothing is cancelled, and it says how to confirm" || not_ok "cancel needs --yes" "$(cat "$T/err")"
expect_status 2 "cancel an unknown campaign" c cancel wsih --yes
grep -q "no campaign 'wsih' in .* or in the outbox (campaigns: wish)$" "$T/err" \
  && ok "an unknown campaign is named with the known ones, each once" || not_ok "unknown campaign" "$(cat "$T/err")"
expect_status 2 "cancel a step that does not exist" c cancel wish --step agian --yes
grep -q "campaign 'wish' has no step 'agian' (steps: greet again)" "$T/err" && [ "$(db_sum "$DB")" = "$before" ] \
  && ok "a mistyped step is an error that names the steps, and nothing is cancelled" || not_ok "mistyped step" "$(cat "$T/err")"
expect_status 2 "cancel an occurrence that does not exist" c cancel wish --occurrence 1999-01-01 --yes
grep -q "campaign 'wish' has no occurrence '1999-01-01' (occurrences: " "$T/err" && [ "$(db_sum "$DB")" = "$before" ] \
  && ok "a mistyped occurrence is an error, and nothing is cancelled" || not_ok "mistyped occurrence" "$(cat "$T/err")"
expect_status 0 "cancel step 'again' --yes" c cancel wish --step again --yes
grep -q "cancelled 120 messages of wish step again" "$T/out" && ok "cancel says what it did" || not_ok "cancel output" "$(cat "$T/out")"
[ "$(q "SELECT count(*) FROM care_outbox WHERE step = 'again' AND status = 'cancelled' AND reason LIKE 'cancelled by %'")" = 120 ] \
  && [ "$(q "SELECT count(*) FROM care_outbox WHERE step = 'greet' AND status = 'planned'")" = 120 ] \
  && ok "only that step's waiting messages are cancelled" || not_ok "cancelled rows" "$(q "SELECT step, status, count(*) FROM care_outbox GROUP BY 1, 2")"
expect_status 0 "report after the cancel" c report --format json
python3 - "$T/out" <<'PY' && ok "report counts the cancelled messages" || not_ok "report counts cancelled" "$(head -c 600 "$T/out")"
import json, sys
r = json.load(open(sys.argv[1]))
[c] = [c for c in r["campaigns"] if c["campaign"] == "wish"]
steps = {s["step"]: s for s in c["steps"]}
assert steps["again"]["cancelled"] == 120 and steps["again"]["waiting"] == 0, steps["again"]
assert steps["greet"]["cancelled"] == 0 and steps["greet"]["waiting"] == 120, steps["greet"]
PY
c report > /dev/null
expect_status 0 "report in text" c report
grep -q "cancelled" "$T/out" && ok "the text report has a cancelled column" || not_ok "text report cancelled" "$(head -20 "$T/out")"
expect_status 0 "plan again" c plan
[ "$(q "SELECT count(*) FROM care_outbox")" = 240 ] && ok "a cancelled message is never planned again" \
  || not_ok "cancelled not re-planned" "$(q "SELECT count(*) FROM care_outbox")"
expect_status 0 "cancel again: nothing waits" c cancel wish --step again --yes
grep -q "no message waits: nothing to cancel" "$T/out" && ok "a second cancel says nothing waits" || not_ok "second cancel" "$(cat "$T/out")"

# ---- pause during a large send, resume ----------------------------------------
expect_status 0 "pause --list with none paused" c pause --list
grep -q "no campaign is paused" "$T/out" && ok "pause --list: none" || not_ok "pause --list: none" "$(cat "$T/out")"
# 120 messages at 20 per second: six seconds.  Paused after about two.
c send > "$T/send.out" 2> "$T/send.err" &
sender=$!
wait_sink 30 30
expect_status 0 "pause during the send" env -u USER "$CARECAST" --config "$T/c.yaml" pause wish
at_pause=$(sink_count)
grep -q "paused wish" "$T/out" && ok "pause says what it did" || not_ok "pause output" "$(cat "$T/out")"
wait "$sender"
sent_during=$(q "SELECT count(*) FROM care_outbox WHERE status = 'sent'")
grep -q "sent $sent_during," "$T/send.out" && ok "the paused send ends by itself ($sent_during sent)" \
  || not_ok "paused send ends" "$(cat "$T/send.out" "$T/send.err")"
# A claim is at most one second's worth (rate 20): at most one claim in
# flight and one more claimed before the pause was read.
if [ "$sent_during" -lt 120 ] && [ $((sent_during - at_pause)) -le 40 ]; then
  ok "pause stopped the send within a second ($at_pause at the pause, $sent_during in all)"
else
  not_ok "pause stops the send" "$at_pause at the pause, $sent_during in all"
fi
[ "$(q "SELECT count(*) FROM care_outbox WHERE status = 'planned' AND step = 'greet'")" = $((120 - sent_during)) ] \
  && ok "the rest wait, still planned" || not_ok "the rest wait" "$(q "SELECT status, count(*) FROM care_outbox GROUP BY 1")"
expect_status 0 "pause again" c pause wish
grep -q "already paused" "$T/out" && ok "pausing twice says it is already paused" || not_ok "already paused" "$(cat "$T/out")"
expect_status 0 "pause --list" c pause --list
grep -q "^wish  paused .* by $(id -un); [0-9]* waiting" "$T/out" && ok "pause --list names it, and who paused it (USER unset: the account)" \
  || not_ok "pause --list names it" "$(cat "$T/out")"
expect_status 0 "pause --list --format json" c --format json pause --list
python3 - "$T/out" <<'PY' && ok "pause --list --format json" || not_ok "pause --list json" "$(cat "$T/out")"
import json, sys
[p] = json.load(open(sys.argv[1]))
assert p["campaign"] == "wish" and p["waiting"] > 0 and p["paused_at"] and p["paused_by"], p
PY
expect_status 0 "a later send while paused" c send
grep -q "sent 0," "$T/out" && ok "a later send leaves a paused campaign's messages" || not_ok "later send while paused" "$(cat "$T/out")"
grep -q "^$((120 - sent_during)) messages of paused campaigns wait: wish (carecast resume CAMPAIGN)" "$T/out" \
  && ok "send says which paused campaigns hold messages" || not_ok "send names paused campaigns" "$(cat "$T/out")"
expect_status 0 "resume" c resume wish
grep -q "resumed wish: $((120 - sent_during)) waiting messages go at the next send" "$T/out" \
  && ok "resume says how many go" || not_ok "resume output" "$(cat "$T/out")"
expect_status 0 "send after resume" c send
wait_sink 120 20
[ "$(sink_count)" = 120 ] && [ "$(q "SELECT count(*) FROM care_outbox WHERE status = 'sent'")" = 120 ] \
  && ok "after resume the rest go: 120 messages reached the server" \
  || not_ok "resume sends the rest" "sink $(sink_count), sent $(q "SELECT count(*) FROM care_outbox WHERE status = 'sent'")"
dups=$(grep -h '^Message-ID:' "$SINK_DIR"/* | sort | uniq -d | wc -l)
[ "$dups" = 0 ] && ok "each message reached the server once" || not_ok "no message twice" "$dups duplicated Message-IDs"
expect_status 0 "resume when not paused" c resume wish
grep -q "wish is not paused" "$T/out" && ok "resume of a running campaign says so" || not_ok "not paused" "$(cat "$T/out")"
expect_status 2 "pause an unknown campaign" c pause nope
[ "$(q "SELECT count(*) FROM care_paused")" = 0 ] && ok "nothing is paused by a typo" || not_ok "typo paused"

# ---- a stale sender cannot overwrite a newer result ---------------------------
# Sender A's server takes 5 s and then refuses the message (5xx); A's lease
# is a second.  Sender B, started after A's lease ran out, claims the
# message again; its server takes 6 s and accepts it.  A hears its 5xx
# while B's delivery is still under way: had A recorded 'failed' then, B
# (which records only what it claimed, still 'sending') could not record
# the delivery, and the report would show a delivered message as failed.
# (B reaches the database by another path, so it has another send lock,
# as a second host would.)
q "DELETE FROM care_attempts; DELETE FROM care_outbox WHERE id <> (SELECT min(id) FROM care_outbox); UPDATE care_outbox SET status = 'planned', sent_at = NULL, attempts = 0"
slow_sink() {   # slow_sink PORT FLAGS...: another smtp-sink, stopped at exit
  _port=$1; shift
  "$SMTP_SINK_BIN" -u nobody "$@" "127.0.0.1:$_port" 16 > "$T/sink-$_port.log" 2>&1 &
  at_exit "kill $! 2>/dev/null"
  wait_port "$_port" 10 || not_ok "smtp-sink $* starts" "$(cat "$T/sink-$_port.log")"
}
a_port=$(free_port); slow_sink "$a_port" -w 5 -f .
b_port=$(free_port); slow_sink "$b_port" -w 6
config "$T/a.yaml" "$a_port" ", connections: 1, lease: 1 second"
ln -s "$DB" "$T/same.db"
config "$T/b.yaml" "$b_port" "" "$T/same.db"
cc --config "$T/a.yaml" send > "$T/a.out" 2> "$T/a.err" &
a=$!
sleep 2.2   # leases are whole seconds: past A's for certain
expect_status 0 "sender B takes over the expired lease" cc --config "$T/b.yaml" send
grep -q "sent 1," "$T/out" && ok "sender B delivers it" || not_ok "sender B delivers" "$(cat "$T/out" "$T/err")"
wait "$a"
grep -q "1 result(s) not recorded: their lease ran out and another sender claimed them again" "$T/a.err" \
  && ok "sender A says its late result was not recorded" || not_ok "sender A's message" "$(cat "$T/a.out" "$T/a.err")"
[ "$(q "SELECT status || '/' || attempts FROM care_outbox")" = "sent/2" ] \
  && ok "the newer sender's result stands (sent, attempt 2)" \
  || not_ok "stale result fenced" "$(q "SELECT status || '/' || attempts FROM care_outbox")"
[ "$(q "SELECT group_concat(attempt || ':' || result, ' ') FROM (SELECT * FROM care_attempts ORDER BY attempt)")" = "1:permanent 2:ok" ] \
  && ok "both attempts are in the attempt history" \
  || not_ok "attempt history" "$(q "SELECT group_concat(attempt || ':' || result, ' ') FROM care_attempts")"
