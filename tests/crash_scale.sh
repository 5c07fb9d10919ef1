#!/bin/sh
# tests/crash_scale.sh - the crash test: `carecast send` SIGKILLed at random
# moments of a large send into Postfix's smtp-sink, then resumed until
# nothing is left.  Owns the one implementation of that test, at two sizes:
#
#   sh tests/crash_scale.sh [KILLS [MESSAGES]]   default 20 kills, 20,000 messages
#   make crash-test                              the same with ./carecast (optimised)
#   tests/t_smtp.sh                              5 kills, 2,000 messages, in make check
#
# Each kill lands after the send has delivered at least one message of that
# run (so it is mid-send, not at start-up), plus a random 0 to
# CRASH_MAX_DELAY_MS (default 250) milliseconds.  After a
# kill the messages left `sending` are counted: they were in flight, and only
# they may arrive twice.  Every restart runs 1,000 s later than the one
# before (--now), past the 900 s lease of the killed sender.
#
# Checked: every message is `sent` in care_outbox and arrived at least once
# (0 lost); duplicates <= messages in flight at the kills; and, since the
# SMTP transport notes each accepted message in the delivery journal at
# once, duplicates <= one per SMTP session per kill (kills x 4
# connections): only a message whose reply had not yet come back.  The
# figures go to stdout in one line starting "crash test:".
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/servers.sh"
KILLS=${1:-20}
MESSAGES=${2:-20000}
MAXD=${CRASH_MAX_DELAY_MS:-250}
[ -x "$SMTP_SINK_BIN" ] || { not_ok "smtp-sink is installed" "$SMTP_SINK_BIN missing"; exit 1; }

DB="$T/crash.db"
mkdir -p "$T/rules" "$T/templates"
python3 - "$DB" "$MESSAGES" <<'PY'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute("CREATE TABLE customers(id TEXT PRIMARY KEY, name TEXT, email TEXT)")
con.executemany("INSERT INTO customers VALUES (?, ?, ?)",
                (("K%06d" % i, "Customer %d" % i, "k%06d@crash.test" % i) for i in range(int(sys.argv[2]))))
con.commit()
PY
printf 'campaign: crash\nkind: service\naudience: {where: id != ""}\nrepeat: once\nchannels: [email]\ntemplate: t\n' > "$T/rules/crash.yaml"
printf -- '---\nsubject: Hello {{ customer.name }}\n---\nHello {{ customer.name }}, this is message {{ customer.id }}.\n' > "$T/templates/t.email.liquid"
start_smtp_sink || exit 1
cat > "$T/c.yaml" <<YAML
database: $DB
rules: $T/rules
templates: $T/templates
sender: {name: Care, email: care@example.cn}
transports:
  email: {type: smtp, host: 127.0.0.1, port: $SMTP_PORT, tls: none, timeout: 10 seconds, connections: 4}
YAML
q() { sqlite3 "$DB" "$1"; }
# to_lines: every To: line the sink dumped (20,000 files: no glob)
to_lines() { find "$SINK_DIR" -type f -print0 | xargs -0 -r grep -h '^To:' ; }

start=$(date +%s)
cc --config "$T/c.yaml" --now 2026-05-01T10:00:00 plan > /dev/null || { not_ok "plan $MESSAGES messages"; exit 1; }
step=0 kills=0 inflight=0 tries=0
iso() { date -u -d "@$((1777629600 + $1 * 1000))" +%Y-%m-%dT%H:%M:%SZ; }
while [ "$kills" -lt "$KILLS" ] && [ "$(q "SELECT count(*) FROM care_outbox WHERE status <> 'sent'")" != 0 ] && [ "$tries" -lt $((KILLS * 3)) ]; do
  tries=$((tries + 1)) step=$((step + 1))
  base=$(sink_count)
  # "$CARECAST" itself, not the cc function: `cc ... &` would put a subshell
  # between, and SIGKILL would hit the subshell while carecast runs on.
  "$CARECAST" --config "$T/c.yaml" --now "$(iso $step)" -q send > /dev/null 2>&1 &
  pid=$!
  # mid-send: wait for a delivery of this run (at most 10 s), then 0-MAXD ms
  n=100
  while [ "$n" -gt 0 ] && [ "$(sink_count)" -le "$base" ] && _alive "$pid"; do sleep 0.1; n=$((n - 1)); done
  sleep "0.$(printf '%03d' $(( $(od -An -N2 -tu2 /dev/urandom) % MAXD )))"
  if kill -9 "$pid" 2>/dev/null; then
    wait "$pid" 2>/dev/null
    kills=$((kills + 1))
    f=$(q "SELECT count(*) FROM care_outbox WHERE status = 'sending'")
    inflight=$((inflight + f))
  else
    wait "$pid" 2>/dev/null
  fi
done
# Resume until done.
resumes=0
while [ "$(q "SELECT count(*) FROM care_outbox WHERE status <> 'sent'")" != 0 ] && [ "$resumes" -lt 10 ]; do
  resumes=$((resumes + 1)) step=$((step + 1))
  [ -n "${CRASH_DEBUG:-}" ] && echo "resume $resumes: $(q "SELECT group_concat(status || '=' || n) FROM (SELECT status, count(*) n FROM care_outbox GROUP BY 1)")"
  cc --config "$T/c.yaml" --now "$(iso $step)" -q send > "$T/resume.out" 2>&1
  [ -n "${CRASH_DEBUG:-}" ] && cat "$T/resume.out"
done
sleep 1
took=$(( $(date +%s) - start ))
sent=$(q "SELECT count(*) FROM care_outbox WHERE status = 'sent'")
arrived=$(to_lines | grep -c '@crash\.test')
distinct=$(to_lines | grep '@crash\.test' | sort -u | wc -l | tr -d ' ')
lost=$((MESSAGES - distinct))
dups=$((arrived - distinct))
echo "crash test: $MESSAGES messages, $kills SIGKILLs, $resumes resumes, $sent sent in care_outbox, $distinct arrived, $lost lost, $dups duplicates, $inflight in flight at the kills, ${took}s"
[ "$kills" -ge "$KILLS" ] && ok "$kills SIGKILLs during the send" || not_ok "$KILLS SIGKILLs during the send" "only $kills: the send finished first"
[ "$sent" = "$MESSAGES" ] && [ "$lost" = 0 ] && ok "0 lost: all $MESSAGES sent in care_outbox and arrived" || not_ok "0 lost" "$sent sent, $distinct arrived of $MESSAGES"
[ "$dups" -le "$inflight" ] && ok "duplicates $dups <= messages in flight at the kills $inflight" || not_ok "duplicates bounded" "$dups > $inflight"
[ "$dups" -le $((kills * 4)) ] && ok "duplicates $dups <= one per session per kill ($((kills * 4)))" \
  || not_ok "duplicates bounded by the delivery journal" "$dups > $((kills * 4))"
[ "$kills" -ge "$KILLS" ] && [ "$lost" = 0 ] && [ "$dups" -le "$inflight" ] && [ "$dups" -le $((kills * 4)) ]
