#!/bin/sh
# Delivery over SMTP to Postfix's smtp-sink: once each; soft rejects are
# retried and arrive when the server accepts again; hard rejects fail with
# the server's text; a server that is down keeps messages queued until it
# returns; two concurrent runs never send twice; SIGKILL at random moments
# loses nothing and doubles at most what was in flight.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/servers.sh"
[ -x "$SMTP_SINK_BIN" ] || { not_ok "smtp-sink is installed" "$SMTP_SINK_BIN missing"; exit 0; }

DB="$T/care.db"
mkdir -p "$T/rules" "$T/templates"
python3 - "$DB" <<'PY'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute("CREATE TABLE customers(id TEXT PRIMARY KEY, name TEXT, email TEXT, batch TEXT)")
rows = [("C%04d" % i, "Customer %d" % i, "c%04d@example.com" % i, b) for b, lo, hi in
        (("ok", 0, 20), ("soft", 20, 40), ("hard", 40, 60), ("down", 60, 80), ("race", 80, 280))
        for i in range(lo, hi)]
con.executemany("INSERT INTO customers VALUES (?, ?, ?, ?)", rows)
con.commit()
PY
for b in ok soft hard down race; do
  printf 'campaign: %s\nkind: service\nschedule: manual\naudience: {where: batch == "%s"}\nrepeat: once\nchannels: [email]\ntemplate: t\n' "$b" "$b" > "$T/rules/$b.yaml"
done
printf -- '---\nsubject: Hello {{ customer.name }}\n---\nHello {{ customer.name }}\n' > "$T/templates/t.email.liquid"

start_smtp_sink
config() {  # config CAMPAIGN: a config whose rules folder holds only that campaign
  mkdir -p "$T/r-$1" && cp "$T/rules/$1.yaml" "$T/r-$1/" && sed -i '/schedule: manual/d' "$T/r-$1/$1.yaml"
  cat > "$T/$1.yaml" <<YAML
database: $DB
rules: $T/r-$1
templates: $T/templates
sender: {name: Care, email: care@example.cn}
transports:
  email: {type: smtp, host: 127.0.0.1, port: $SMTP_PORT, tls: none, timeout: 10 seconds, max_attempts: 5, connections: 2}
YAML
}
delivered_to() { grep -h '^To:' "$SINK_DIR"/* 2>/dev/null | sed 's/.*<\(.*\)>.*/\1/' | grep -c "$1"; }

# 1. Plain delivery: once each.
config ok
expect_status 0 "20 messages to smtp-sink" cc --config "$T/ok.yaml" --date 2026-05-01 run
wait_sink 20 10
[ "$(sink_count)" = 20 ] && [ "$(grep -h '^To:' "$SINK_DIR"/* | sort -u | wc -l)" = 20 ] && ok "each arrived once" || not_ok "each arrived once" "$(sink_count)"

# 2. Soft reject (4xx at RCPT): retried, then delivered once the server accepts.
SMTP_PORT_REUSE=$SMTP_PORT start_smtp_sink -r RCPT
config soft
expect_status 0 "send into a soft-rejecting server" cc --config "$T/soft.yaml" --now 2026-05-01T10:00:00 run
grep -q "sent 0, retry 20, failed 0" "$T/out" && ok "4xx: all 20 wait for a retry" || not_ok "4xx: retry" "$(cat "$T/out")"
sqlite3 "$DB" "SELECT last_error FROM care_outbox WHERE campaign='soft' LIMIT 1" | grep -q '^4' && ok "the server's 4xx reply is recorded" || not_ok "4xx reply recorded" "$(sqlite3 "$DB" "SELECT last_error FROM care_outbox WHERE campaign='soft' LIMIT 1")"
SMTP_PORT_REUSE=$SMTP_PORT start_smtp_sink
expect_status 0 "send again later" cc --config "$T/soft.yaml" --now 2026-05-01T11:00:00 send
grep -q "sent 20, retry 0, failed 0" "$T/out" && ok "accepted the second time" || not_ok "accepted the second time" "$(cat "$T/out")"
wait_sink 40 10; [ "$(delivered_to 'c00[23]')" = 20 ] && ok "the 20 retried messages arrived once each" || not_ok "retried arrivals" "$(delivered_to 'c00[23]')"

# 3. Hard reject (5xx at RCPT): failed for good, with the server's text.
SMTP_PORT_REUSE=$SMTP_PORT start_smtp_sink -f RCPT
config hard
expect_status 1 "send into a hard-rejecting server exits 1" cc --config "$T/hard.yaml" --now 2026-05-01T10:00:00 run
grep -q "sent 0, retry 0, failed 20" "$T/out" && ok "5xx: all 20 failed permanently" || not_ok "5xx: failed" "$(cat "$T/out")"
sqlite3 "$DB" "SELECT last_error FROM care_outbox WHERE campaign='hard' LIMIT 1" | grep -q '^5' && ok "the server's 5xx text is recorded" || not_ok "5xx text" "$(sqlite3 "$DB" "SELECT last_error FROM care_outbox WHERE campaign='hard' LIMIT 1")"
expect_status 0 "a failed message is not sent again" cc --config "$T/hard.yaml" --now 2026-05-03T10:00:00 send
grep -q "sent 0, retry 0, failed 0" "$T/out" && ok "failed stays failed" || not_ok "failed stays failed" "$(cat "$T/out")"

# 4. The server is down: messages stay queued, and go when it returns.
SMTP_PORT_REUSE=$SMTP_PORT start_smtp_sink
stop_smtp_sink
config down
expect_status 0 "send while the server is down" cc --config "$T/down.yaml" --now 2026-05-01T10:00:00 run
grep -q "sent 0, retry 20, failed 0" "$T/out" && ok "down: all 20 queued for retry" || not_ok "down: queued" "$(cat "$T/out")"
before=$(sink_count)
SMTP_PORT_REUSE=$SMTP_PORT start_smtp_sink
expect_status 0 "send when it is back" cc --config "$T/down.yaml" --now 2026-05-01T12:00:00 send
grep -q "sent 20, retry 0, failed 0" "$T/out" && ok "back: all 20 delivered" || not_ok "back: delivered" "$(cat "$T/out")"
wait_sink $((before + 20)) 10 && ok "and they reached the server" || not_ok "and they reached the server"

# 5. Two `carecast run` at the same moment never send a message twice.
config race
before=$(sink_count)
cc --config "$T/race.yaml" --now 2026-05-01T10:00:00 run > "$T/race1" 2>&1 &
p1=$!
cc --config "$T/race.yaml" --now 2026-05-01T10:00:00 run > "$T/race2" 2>&1 &
p2=$!
wait $p1; wait $p2
cc --config "$T/race.yaml" --now 2026-05-01T10:00:05 send > /dev/null 2>&1  # whatever a busy second run left
wait_sink $((before + 200)) 15
sleep 0.5
n=$(delivered_to 'c0[012][0-9][0-9]@')
dups=$(grep -h '^To:' "$SINK_DIR"/* | sort | uniq -d | wc -l)
[ "$(( $(sink_count) - before ))" = 200 ] && [ "$dups" = 0 ] && ok "two concurrent runs: 200 messages, each once" || not_ok "concurrent runs" "$(( $(sink_count) - before )) arrived, $dups doubled; $(cat "$T/race1" "$T/race2")"

# 6. SIGKILL at random moments of a 2,000-message send (5 kills): the reduced crash
# test (tests/crash_scale.sh owns it; `make crash-test` runs 20 kills over
# 20,000 messages).  Its ok/not_ok lines count in this file's results.
CRASH_MAX_DELAY_MS=${CRASH_MAX_DELAY_MS:-60} sh "$ROOT/tests/crash_scale.sh" 5 2000

# TLS required but not offered: never a plaintext fallback; the message waits.
config ok
sed -i 's/tls: none/tls: starttls/' "$T/ok.yaml"
sqlite3 "$DB" "UPDATE care_outbox SET status='planned', attempts=0 WHERE campaign='ok' AND customer_id='C0000'"
before=$(sink_count)
expect_status 0 "send with tls: starttls to a server without STARTTLS" cc --config "$T/ok.yaml" --now 2026-05-02T10:00:00 send
grep -q "sent 0, retry 1, failed 0" "$T/out" && [ "$(sink_count)" = "$before" ] && ok "STARTTLS required and not offered: nothing sent in clear, kept for retry" || not_ok "starttls required" "$(cat "$T/out")"
sqlite3 "$DB" "SELECT last_error FROM care_outbox WHERE customer_id='C0000'" | grep -qi "extension not available\|starttls" && ok "the reason names STARTTLS" || not_ok "the reason names STARTTLS" "$(sqlite3 "$DB" "SELECT last_error FROM care_outbox WHERE customer_id='C0000'")"

# A hard bounce (5.1.1: no such mailbox) suppresses the address for all mail;
# other permanent rejections (5.3.0 above) do not.
[ "$(sqlite3 "$DB" "SELECT count(*) FROM care_suppressions")" = 0 ] && ok "a 5.3.0 rejection suppresses nothing" || not_ok "5.3.0 suppresses nothing"
SMTP_PORT_REUSE=$SMTP_PORT start_smtp_sink -f RCPT -B "550 5.1.1 Recipient address rejected: User unknown"
config ok
sqlite3 "$DB" "UPDATE care_outbox SET status='failed' WHERE status='retry'; UPDATE care_outbox SET status='planned', attempts=0 WHERE campaign='ok' AND customer_id='C0001'"
expect_status 1 "send to a mailbox that does not exist" cc --config "$T/ok.yaml" --now 2026-05-02T11:00:00 send
[ "$(sqlite3 "$DB" "SELECT address || ' ' || scope || ' ' || reason FROM care_suppressions")" = "c0001@example.com all hard-bounce" ] \
  && ok "5.1.1 at RCPT: the address is suppressed for all mail (hard-bounce)" || not_ok "hard bounce suppression" "$(sqlite3 "$DB" "SELECT * FROM care_suppressions"); $(sqlite3 "$DB" "SELECT last_error FROM care_outbox WHERE customer_id='C0001'")"
