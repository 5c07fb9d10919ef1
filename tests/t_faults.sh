#!/bin/sh
# The fault matrix: what carecast does when the servers and the database
# misbehave.  Owns the cases t_smtp.sh, t_kannel.sh, t_http_json.sh and
# t_outbox.sh do not already cover (those cover 4xx/5xx at RCPT, a server
# that is down, two concurrent senders and SIGKILLs against smtp-sink;
# connection refused, 429 and 503 for http-json; Kannel down):
#
#   SMTP    smtp-sink soft and hard rejects at HELO, MAIL, DATA and end of
#           data, hang-ups at DATA and end of data, 421, replies slower than
#           the timeout, and a server that accepts the connection and never
#           says a word (a python socket server)
#   HTTP    a local gateway (python3 http.server on 127.0.0.1) answering
#           503, 429 with Retry-After, 400, an empty reply, and slower than
#           the transport timeout; for the kannel and http-json transports
#   SQLite  the database locked by another process (BEGIN EXCLUSIVE) before
#           and during a send; the disk full (a small tmpfs) during plan,
#           under the file transport's outbox and while a send records
#
# Every case checks: nothing lost (each message reaches the server once it
# accepts), nothing doubled beyond what the protocol cannot know (a reply
# lost after the server took the message), the final status in care_outbox
# and the error text recorded or printed.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/servers.sh"
[ -x "$SMTP_SINK_BIN" ] || { not_ok "smtp-sink is installed" "$SMTP_SINK_BIN missing"; exit 0; }

DB="$T/care.db"
mkdir -p "$T/templates"
printf -- '---\nsubject: Hello {{ customer.name }}\n---\nHello {{ customer.name }}\n' > "$T/templates/t.email.liquid"
printf 'Hello {{ customer.name }}, your parcel is on its way.\n' > "$T/templates/t.sms.liquid"

SMTP_CASES="greet4 greet5 mail4 mail5 data4 data5 eod4 eod5 hangdata hangeod q421 slowrcpt sloweod stall"
python3 - "$DB" $SMTP_CASES <<'PY'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute("CREATE TABLE customers(id TEXT PRIMARY KEY, name TEXT, email TEXT, phone TEXT, batch TEXT)")
rows = []
for case in sys.argv[2:]:
    rows += [("%s-%d" % (case, i), "N%d" % i, "c%d@%s.test" % (i, case), None, case) for i in range(4)]
for case in ("kannel", "json"):
    rows += [("%s-%d" % (case, i), "N%d" % i, None, "+861380000%s%d" % ("1" if case == "kannel" else "2", i), case)
             for i in range(6)]
rows += [("lock-%d" % i, "N%d" % i, "l%d@lock.test" % i, None, "lock") for i in range(6)]
rows += [("killsms-%d" % i, "N%d" % i, None, "+86139000%05d" % i, "killsms") for i in range(48)]
con.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?)", rows)
con.commit()
PY
# rules_for CASE CHANNEL: a rules folder holding one campaign for that batch.
rules_for() {
  mkdir -p "$T/r-$1"
  printf 'campaign: %s\nkind: service\naudience: {where: batch == "%s"}\nrepeat: once\nchannels: [%s]\ntemplate: t\n' \
    "$1" "$1" "$2" > "$T/r-$1/$1.yaml"
}
smtp_config() {  # smtp_config CASE PORT
  rules_for "$1" email
  cat > "$T/$1.yaml" <<YAML
database: $DB
rules: $T/r-$1
templates: $T/templates
sender: {name: Care, email: care@example.cn}
transports:
  email: {type: smtp, host: 127.0.0.1, port: $2, tls: none, timeout: 2 seconds, connections: 1}
YAML
}
status_of() { sqlite3 "$DB" "SELECT group_concat(status, ' ') FROM (SELECT DISTINCT status FROM care_outbox WHERE campaign='$1')"; }
errors_of() { sqlite3 "$DB" "SELECT DISTINCT last_error FROM care_outbox WHERE campaign='$1'"; }
# arrivals CASE DIR: messages to that case's addresses dumped in DIR
arrivals() { grep -h '^To:' "$2"/* 2>/dev/null | grep -c "@$1\.test" ; }
arrivals_distinct() { grep -h '^To:' "$2"/* 2>/dev/null | grep "@$1\.test" | sort -u | wc -l | tr -d ' '; }

# ---- SMTP ---------------------------------------------------------------

# A server that accepts the connection and then never answers.
cat > "$T/stall.py" <<'PY'
# A TCP server on 127.0.0.1 that accepts every connection and never
# writes a byte: no greeting, no reply.  Killed by the test.
import socket, sys, threading, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
held = []
while True:
    c, _ = s.accept(); held.append(c)
PY

# smtp_case NAME "SINK FLAGS" WANT(retry|failed) ERROR-REGEX AMBIGUOUS(0|1)
#   AMBIGUOUS=1: the server may have taken a message whose reply was lost,
#   so one resend per session is allowed (and counted).
ambiguous_total=0
smtp_case() {
  name=$1 flags=$2 want=$3 pattern=$4 ambiguous=$5
  rm -rf "$SINK_DIR"
  if [ "$name" = stall ]; then
    port=$(free_port)
    python3 "$T/stall.py" "$port" & stall_pid=$!
    wait_port "$port" 10
  else
    # shellcheck disable=SC2086
    start_smtp_sink $flags
    port=$SMTP_PORT
  fi
  smtp_config "$name" "$port"
  t0=$(date +%s)
  cc --config "$T/$name.yaml" --now 2026-05-01T10:00:00 run > "$T/out" 2> "$T/err"; rc=$?
  took=$(( $(date +%s) - t0 ))
  if [ "$name" = stall ]; then kill "$stall_pid"; wait "$stall_pid" 2>/dev/null; else stop_smtp_sink; fi
  if [ "$want" = retry ]; then wline="sent 0, retry 4, failed 0" wrc=0; else wline="sent 0, retry 0, failed 4" wrc=1; fi
  [ "$rc" = "$wrc" ] && grep -q "$wline" "$T/out" && [ "$(status_of "$name")" = "$want" ] \
    && ok "smtp $name ($flags): all 4 $want, exit $rc" || not_ok "smtp $name: $want" "exit $rc; $(cat "$T/out" "$T/err"); status $(status_of "$name")"
  errors_of "$name" | grep -Eq "$pattern" && ! errors_of "$name" | grep -vEq "$pattern" \
    && ok "smtp $name: the reason is recorded: $(errors_of "$name" | head -1)" || not_ok "smtp $name: reason" "$(errors_of "$name")"
  phase1=$(arrivals "$name" "$SINK_DIR")
  mkdir -p "$T/phase1"; mv "$SINK_DIR" "$T/phase1/$name" 2>/dev/null
  # The server recovers: a retry goes once; a failure stays failed.
  start_smtp_sink
  smtp_config "$name" "$SMTP_PORT"
  cc --config "$T/$name.yaml" --now 2026-05-01T12:00:00 send > "$T/out" 2> "$T/err"
  wait_sink 1 3 >/dev/null 2>&1; sleep 0.3
  n=$(arrivals "$name" "$SINK_DIR") d=$(arrivals_distinct "$name" "$SINK_DIR")
  if [ "$want" = retry ]; then
    [ "$n" = 4 ] && [ "$d" = 4 ] && [ "$(status_of "$name")" = sent ] \
      && ok "smtp $name: after recovery all 4 sent, each arrived once" || not_ok "smtp $name: recovery" "$n arrivals, $d distinct; $(cat "$T/out")"
  else
    [ "$n" = 0 ] && grep -q "sent 0, retry 0, failed 0" "$T/out" \
      && ok "smtp $name: failed messages are not sent again" || not_ok "smtp $name: failed stays failed" "$n arrivals; $(cat "$T/out")"
  fi
  # A message the first server took without a final reply is a possible
  # double; only these cases may have one, at most one per session.
  if [ "$ambiguous" = 1 ]; then
    [ "$phase1" -le 1 ] && ok "smtp $name: at most one message taken without a reply ($phase1)" || not_ok "smtp $name: ambiguous" "$phase1"
    ambiguous_total=$((ambiguous_total + phase1))
  elif [ "$want" = retry ] && [ "$flags" != "-r ." ]; then
    [ "$phase1" = 0 ] && ok "smtp $name: the refusing server kept nothing" || not_ok "smtp $name: kept" "$phase1"
  fi
  echo "fault smtp $name: first send ${took}s, $phase1 dumped by the first server (refused or unanswered), $n after recovery" >> "$T/figures"
  stop_smtp_sink
}

smtp_case greet4   "-r EHLO,HELO" retry  "session refused: 4[0-9][0-9]" 0
smtp_case greet5   "-f EHLO,HELO" retry  "session refused: 5[0-9][0-9]" 0
smtp_case mail4    "-r MAIL"      retry  "^4[0-9][0-9] " 0
smtp_case mail5    "-f MAIL"      failed "^5[0-9][0-9] " 0
smtp_case data4    "-r DATA"      retry  "^4[0-9][0-9] " 0
smtp_case data5    "-f DATA"      failed "^5[0-9][0-9] " 0
smtp_case eod4     "-r ."         retry  "^4[0-9][0-9] " 0
smtp_case eod5     "-f ."         failed "^5[0-9][0-9] " 0
smtp_case hangdata "-q DATA"      retry  "dropped connection" 0
smtp_case hangeod  "-q ."         retry  "dropped connection" 1
smtp_case q421     "-Q ."         retry  "^421 |dropped connection" 1
smtp_case slowrcpt "-W RCPT:4"    retry  "no reply within the 2 s timeout|^503 " 0
smtp_case sloweod  "-W .:4"       retry  "no reply within the 2 s timeout" 1
smtp_case stall    ""             retry  "no reply within the 2 s timeout" 0
grep -q "fault smtp stall: first send [2-5]s" "$T/figures" && ok "a silent server costs one timeout (2 s), not a hang" \
  || not_ok "stall timeout" "$(grep stall "$T/figures")"
echo "smtp: $ambiguous_total message(s) taken by a server whose reply was lost (resent once each)" >> "$T/figures"

# The delivery journal: a message the server accepted, whose sender died
# before recording it (still `sending`, its id in DATABASE.delivered), is
# recorded as sent by the next send, not sent again.
rm -rf "$SINK_DIR"
start_smtp_sink
smtp_config greet4 "$SMTP_PORT"
jid=$(sqlite3 "$DB" "SELECT id FROM care_outbox WHERE campaign='greet4' ORDER BY id LIMIT 1")
tid=$(sqlite3 "$DB" "SELECT id FROM care_outbox WHERE campaign='greet4' ORDER BY id LIMIT 1 OFFSET 1")
sqlite3 "$DB" "UPDATE care_outbox SET status='sending', sent_at=NULL, lease_until=strftime('%s','2026-05-01 14:00:00') WHERE id IN ($jid, $tid)"
# Their leases run past this send.  An unknown id is ignored; so is a last
# line without its newline (a torn write: it could be the first digits of
# another id), here a real one.
printf '%s\n99999999\n%s' "$jid" "$tid" > "$DB.delivered"
cc --config "$T/greet4.yaml" --now 2026-05-01T13:00:00 -v send > "$T/out" 2> "$T/err"
[ "$(sqlite3 "$DB" "SELECT status FROM care_outbox WHERE id=$jid")" = sent ] && [ "$(arrivals greet4 "$SINK_DIR")" = 0 ] \
  && grep -q "1 messages accepted by the server before the last sender stopped are recorded as sent" "$T/err" \
  && ok "a journaled message left 'sending' is recorded as sent, not sent again" || not_ok "journal replay" "$(cat "$T/out" "$T/err"); $(sqlite3 "$DB" "SELECT status FROM care_outbox WHERE id=$jid")"
[ "$(sqlite3 "$DB" "SELECT status FROM care_outbox WHERE id=$tid")" = sending ] \
  && ok "a torn journal line marks nothing sent (the message waits for its lease)" || not_ok "torn journal line" "$(sqlite3 "$DB" "SELECT status FROM care_outbox WHERE id=$tid")"
sqlite3 "$DB" "SELECT reply FROM care_attempts WHERE outbox_id=$jid ORDER BY attempt DESC LIMIT 1" | grep -q "delivery journal" \
  && [ ! -s "$DB.delivered" ] && ok "the attempt says so and the journal is emptied" || not_ok "journal attempt/empty" "$(cat "$DB.delivered")"
stop_smtp_sink

# ---- HTTP gateways --------------------------------------------------------

cat > "$T/gateway.py" <<'PY'
# A local SMS gateway for the fault tests, on 127.0.0.1.  mode "kannel"
# answers like smsbox's sendsms (GET, 202 "0: Accepted for delivery"),
# mode "json" like a webhook (POST, 200 {"accepted": true}).  plan.json
# maps a recipient to its answers in turn: "503", "429:SECONDS" (with
# Retry-After), "400", "drop" (close without answering), "slow:SECONDS"
# (then accept); afterwards, "ok".  An optional 4th argument delays every
# answer by that many seconds.  Every request is appended to
# requests.jsonl with the answer given.
import json, os, socket, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

mode, port, folder = sys.argv[1], int(sys.argv[2]), sys.argv[3]
delay = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
plan = json.load(open(os.path.join(folder, "plan.json")))
lock = threading.Lock()

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def reply(self, code, body, extra=None):
        b = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain" if mode == "kannel" else "application/json")
        self.send_header("Content-Length", str(len(b)))
        for k, v in (extra or {}).items(): self.send_header(k, v)
        self.end_headers(); self.wfile.write(b)
    def handle_one(self, to):
        with lock:
            todo = plan.get(to, [])
            what = todo.pop(0) if todo else "ok"
        if what.startswith("slow:"):
            time.sleep(int(what.split(":")[1])); what = "ok-late"
        time.sleep(delay)
        with lock:
            with open(os.path.join(folder, "requests.jsonl"), "a") as f:
                f.write(json.dumps({"to": to, "answer": what}) + "\n")
        if what in ("ok", "ok-late"):
            try:
                if mode == "kannel": self.reply(202, "0: Accepted for delivery")
                else: self.reply(200, '{"accepted": true}')
            except OSError: pass
        elif what == "503": self.reply(503, "Service temporarily unavailable")
        elif what.startswith("429"):
            self.reply(429, "Too many requests", {"Retry-After": what.split(":")[1]})
        elif what == "400": self.reply(400, "Invalid receiver number")
        elif what == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
    def do_GET(self):
        q = parse_qs(urlsplit(self.path).query)
        self.handle_one(q.get("to", [""])[0])
    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.handle_one(json.loads(raw).get("phone", ""))

ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY

# http_case TRANSPORT BATCH DIGIT
http_case() {
  tr=$1 batch=$2 dg=$3
  srv="$T/gw-$batch"; mkdir -p "$srv"
  p="+861380000$dg"
  cat > "$srv/plan.json" <<JSON
{"${p}0": ["503"], "${p}1": ["429:600"], "${p}2": ["400"], "${p}3": ["slow:4"], "${p}4": ["drop"]}
JSON
  port=$(free_port)
  python3 "$T/gateway.py" "$([ "$tr" = kannel ] && echo kannel || echo json)" "$port" "$srv" & gw_pid=$!
  at_exit "kill $gw_pid 2>/dev/null"
  wait_port "$port" 10
  rules_for "$batch" sms
  if [ "$tr" = kannel ]; then
    line="{type: kannel, url: \"http://127.0.0.1:$port/cgi-bin/sendsms\", username: care, password_env: K_PASS, from: \"10690000\", timeout: 2 seconds, connections: 6}"
  else
    line="{type: http-json, url: \"http://127.0.0.1:$port/send\", token_env: K_PASS, timeout: 2 seconds, connections: 6, body: '{\"phone\": \"{{ to }}\", \"message\": \"{{ text }}\"}'}"
  fi
  cat > "$T/$batch.yaml" <<YAML
database: $DB
rules: $T/r-$batch
templates: $T/templates
transports:
  sms: $line
YAML
  K_PASS=gw-secret-1 cc --config "$T/$batch.yaml" --now 2026-05-01T10:00:00 run > "$T/out" 2> "$T/err"; rc=$?
  grep -q "sent 1, retry 4, failed 1" "$T/out" && [ "$rc" = 1 ] \
    && ok "$tr: 1 accepted, 503/429/timeout/empty reply retried, 400 failed (exit 1)" || not_ok "$tr first send" "exit $rc; $(cat "$T/out" "$T/err")"
  e() { sqlite3 "$DB" "SELECT status || ' | ' || coalesce(last_error, '') FROM care_outbox WHERE campaign='$batch' AND recipient='$p$1'"; }
  e 0 | grep -q "^retry | HTTP 503" && ok "$tr: 503 is retried with the gateway's answer" || not_ok "$tr 503" "$(e 0)"
  e 1 | grep -q "^retry | HTTP 429" && ok "$tr: 429 is retried" || not_ok "$tr 429" "$(e 1)"
  wait429=$(sqlite3 "$DB" "SELECT next_attempt_at - strftime('%s','2026-05-01 10:00:00') FROM care_outbox WHERE campaign='$batch' AND recipient='${p}1'")
  [ "$wait429" -ge 600 ] && ok "$tr: 429 waits Retry-After (600 s): $wait429 s" || not_ok "$tr Retry-After" "$wait429"
  e 2 | grep -q "^failed | HTTP 400: Invalid receiver number" && ok "$tr: 400 fails with the gateway's text" || not_ok "$tr 400" "$(e 2)"
  e 3 | grep -Eiq "^retry \| .*(timed out|timeout)" && ok "$tr: a reply slower than the timeout is retried: $(e 3 | cut -c1-80)" || not_ok "$tr slow" "$(e 3)"
  e 4 | grep -Eiq "^retry \| .*(empty reply|recv|closed|reset)" && ok "$tr: a connection closed without a reply is retried: $(e 4 | cut -c1-60)" || not_ok "$tr drop" "$(e 4)"
  e 5 | grep -q "^sent" && ok "$tr: the good one is sent" || not_ok "$tr ok" "$(e 5)"
  # Later, beyond Retry-After: everything retried is accepted.
  sleep 3   # let the slow request finish on the gateway's side
  K_PASS=gw-secret-1 cc --config "$T/$batch.yaml" --now 2026-05-01T11:00:00 send > "$T/out" 2> "$T/err"
  grep -q "sent 4, retry 0, failed 0" "$T/out" && ok "$tr: an hour later the 4 retried are accepted" || not_ok "$tr second send" "$(cat "$T/out" "$T/err")"
  [ "$(sqlite3 "$DB" "SELECT count(*) FROM care_outbox WHERE campaign='$batch' AND status='sent'")" = 5 ] \
    && ok "$tr: 5 sent, 1 failed in care_outbox" || not_ok "$tr outbox" "$(sqlite3 "$DB" "SELECT recipient, status FROM care_outbox WHERE campaign='$batch'")"
  acc() { grep "\"$p$1\"" "$srv/requests.jsonl" | grep -c '"ok'; }
  late=$(acc 3)
  [ "$(acc 0)$(acc 1)$(acc 2)$(acc 4)$(acc 5)" = 11011 ] && [ "$late" -le 2 ] \
    && ok "$tr: the gateway accepted each once (the timed-out one $late times: its late answer was lost)" \
    || not_ok "$tr: accepted once each" "$(cat "$srv/requests.jsonl")"
  ! grep -q "gw-secret-1" "$T/out" "$T/err" && ! sqlite3 "$DB" .dump | grep -q "gw-secret-1" \
    && ok "$tr: the gateway secret is in no output and not in the database" || not_ok "$tr secret leaked"
  echo "fault $tr: slow-reply message accepted $late times by the gateway" >> "$T/figures"
  kill "$gw_pid" 2>/dev/null; wait "$gw_pid" 2>/dev/null
}
http_case kannel kannel 1
http_case http-json json 2

# SIGKILL in the middle of an SMS batch (http-json, 8 requests in flight,
# the gateway takes 0.3 s per request): each 2xx goes into the delivery
# journal as it arrives, so only requests still in flight at the kill can
# go twice (the gateway may have accepted them).
srv="$T/gw-killsms"; mkdir -p "$srv"; echo '{}' > "$srv/plan.json"
port=$(free_port)
python3 "$T/gateway.py" json "$port" "$srv" 0.3 & gw_pid=$!
at_exit "kill $gw_pid 2>/dev/null"
wait_port "$port" 10
rules_for killsms sms
cat > "$T/killsms.yaml" <<YAML
database: $DB
rules: $T/r-killsms
templates: $T/templates
transports:
  sms: {type: http-json, url: "http://127.0.0.1:$port/send", timeout: 10 seconds, connections: 8, body: '{"phone": "{{ to }}", "message": "{{ text }}"}'}
YAML
cc --config "$T/killsms.yaml" --now 2026-05-01T10:00:00 plan > /dev/null
"$CARECAST" --config "$T/killsms.yaml" --now 2026-05-01T10:00:00 send > /dev/null 2>&1 &
send_pid=$!
_n=100; while [ "$(wc -l 2>/dev/null < "$srv/requests.jsonl" || echo 0)" -lt 20 ] && [ $_n -gt 0 ]; do sleep 0.05; _n=$((_n - 1)); done
kill -9 "$send_pid"; wait "$send_pid" 2>/dev/null
inflight=$(sqlite3 "$DB" "SELECT count(*) FROM care_outbox WHERE campaign='killsms' AND status='sending'")
journaled=$(wc -l < "$DB.delivered" | tr -d ' ')
before=$(wc -l < "$srv/requests.jsonl" | tr -d ' ')
sleep 0.5
cc --config "$T/killsms.yaml" --now 2026-05-01T10:20:00 send > "$T/out" 2> "$T/err"
sleep 0.5
accepted=$(grep -c '"ok"' "$srv/requests.jsonl")
distinct=$(grep '"ok"' "$srv/requests.jsonl" | sed 's/.*"to": "\([^"]*\)".*/\1/' | sort -u | wc -l | tr -d ' ')
dups=$((accepted - distinct))
[ "$(status_of killsms)" = sent ] && [ "$distinct" = 48 ] \
  && ok "SIGKILL mid SMS batch ($before requests made, $journaled journaled, $inflight left sending): after resuming all 48 sent and accepted" \
  || not_ok "sms kill: all sent" "status $(status_of killsms), $distinct distinct; $(cat "$T/out" "$T/err")"
[ "$dups" -le 8 ] && ok "SMS duplicates $dups <= the 8 requests in flight at the kill" || not_ok "sms kill duplicates" "$dups > 8 ($accepted accepted)"
echo "fault sms SIGKILL: $before requests before the kill, $journaled journaled, $inflight left sending, $dups duplicates" >> "$T/figures"
kill "$gw_pid" 2>/dev/null; wait "$gw_pid" 2>/dev/null

# ---- the database ---------------------------------------------------------

# hold_lock SECONDS: another process holds an exclusive transaction.
hold_lock() {
  rm -f "$T/locked"
  python3 -c "
import sqlite3, time, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
c.execute('BEGIN EXCLUSIVE'); open(sys.argv[2], 'w').close()
time.sleep(float(sys.argv[3])); c.execute('COMMIT')" "$DB" "$T/locked" "$1" &
  lock_pid=$!
  _n=100; while [ ! -f "$T/locked" ] && [ $_n -gt 0 ]; do sleep 0.1; _n=$((_n - 1)); done
}
start_smtp_sink -w 1
smtp_config lock "$SMTP_PORT"
sed -i 's/timeout: 2 seconds/timeout: 10 seconds/' "$T/lock.yaml"
before=$(db_sum "$DB")
hold_lock 13
t0=$(date +%s)
expect_status 2 "plan while another process holds the database (longer than the 10 s busy wait): exit 2" \
  cc --config "$T/lock.yaml" --now 2026-05-01T10:00:00 plan
grep -q "database is locked" "$T/err" && ok "it says the database is locked: $(head -1 "$T/err")" || not_ok "locked message" "$(cat "$T/err")"
wait "$lock_pid"
[ "$(db_sum "$DB")" = "$before" ] && ok "a locked plan wrote nothing" || not_ok "a locked plan wrote nothing"
hold_lock 3
expect_status 0 "a lock shorter than the busy wait is waited for" cc --config "$T/lock.yaml" --now 2026-05-01T10:00:00 plan
grep -q "planned 6 messages" "$T/out" && ok "then all 6 are planned once" || not_ok "planned after lock" "$(cat "$T/out")"
wait "$lock_pid"
# Locked while the transport has the messages: the sink takes 1 s per
# message, the lock comes 1 s in and stays 18 s, longer than one busy wait
# from when the 6 messages are through.
cc --config "$T/lock.yaml" --now 2026-05-01T10:00:00 send > "$T/out" 2> "$T/err" &
send_pid=$!
sleep 1
hold_lock 18
wait "$send_pid"; rc=$?
wait "$lock_pid"
[ "$rc" = 0 ] && grep -q "sent 6, retry 0, failed 0" "$T/out" \
  && ok "locked while sending: the results are recorded once the lock goes (exit 0, sent 6)" || not_ok "locked mid-send" "exit $rc; $(cat "$T/out" "$T/err")"
grep -q "trying for up to 60 s to record their results" "$T/err" && ok "it says it is waiting to record the results" || not_ok "waiting message" "$(cat "$T/err")"
[ "$(status_of lock)" = sent ] && [ "$(arrivals lock "$SINK_DIR")" = 6 ] && [ "$(arrivals_distinct lock "$SINK_DIR")" = 6 ] \
  && ok "all 6 sent in care_outbox and each arrived once" || not_ok "lock: once each" "$(status_of lock); $(arrivals lock "$SINK_DIR") arrivals"
cc --config "$T/lock.yaml" --now 2026-05-01T12:00:00 send > "$T/out" 2>&1
grep -q "sent 0, retry 0, failed 0" "$T/out" && [ "$(arrivals lock "$SINK_DIR")" = 6 ] \
  && ok "hours later nothing is sent again" || not_ok "lock: nothing again" "$(cat "$T/out")"
stop_smtp_sink

# serve while another process holds the database: a delivery report is
# answered 503 (Kannel retries it), nothing is half-written; once the lock
# is gone the same report is recorded.
SPORT=$(free_port)
export T_CB_SECRET=cb-secret-0123456789
cat > "$T/serve.yaml" <<YAML
database: $DB
rules: $T/r-kannel
templates: $T/templates
serve: {listen: "127.0.0.1:$SPORT", public_url: "http://127.0.0.1:$SPORT", secret_env: T_CB_SECRET}
YAML
"$CARECAST" --config "$T/serve.yaml" serve > "$T/serve.out" 2> "$T/serve.err" &
serve_pid=$!
at_exit "kill $serve_pid 2>/dev/null"
wait_port "$SPORT" 10
did=$(sqlite3 "$DB" "SELECT id FROM care_outbox WHERE campaign='kannel' AND status='sent' LIMIT 1")
dlr="http://127.0.0.1:$SPORT/kannel/dlr/$T_CB_SECRET?id=$did&status=1&answer=ok"
hold_lock 13
code=$(curl -s --noproxy '*' -o /dev/null -w '%{http_code}' --max-time 20 "$dlr")
wait "$lock_pid"
[ "$code" = 503 ] && [ -z "$(sqlite3 "$DB" "SELECT delivery_status FROM care_outbox WHERE id=$did")" ] \
  && ok "serve with the database locked: the delivery report gets 503 (the gateway retries), nothing recorded" \
  || not_ok "serve under lock" "HTTP $code; $(tail -3 "$T/serve.err")"
grep -q "database is locked" "$T/serve.err" && ok "serve logs why: $(grep -m1 'locked' "$T/serve.err")" || not_ok "serve lock log" "$(cat "$T/serve.err")"
code=$(curl -s --noproxy '*' -o /dev/null -w '%{http_code}' --max-time 20 "$dlr")
[ "$code" = 200 ] && [ "$(sqlite3 "$DB" "SELECT delivery_status FROM care_outbox WHERE id=$did")" = delivered ] \
  && ok "the same report after the lock is recorded (delivered)" || not_ok "serve after lock" "HTTP $code"
kill -TERM "$serve_pid"; wait "$serve_pid"
! grep -q "$T_CB_SECRET" "$T/serve.err" && ok "the callback secret is not in serve's log" || not_ok "serve log leaks the secret"

# Disk full: the database on a 16 MB tmpfs, filled up to a given free space.
M="$T/mnt"; mkdir -p "$M"
if ! mount -t tmpfs -o size=16m,mode=0700 tmpfs "$M" 2>/dev/null; then
  skip "disk full cases" "cannot mount a tmpfs here (needs root)"
else
  at_exit "umount '$M' 2>/dev/null"
  FDB="$M/care.db"
  python3 - "$FDB" <<'PY'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute("CREATE TABLE customers(id TEXT PRIMARY KEY, name TEXT, email TEXT, batch TEXT)")
con.executemany("INSERT INTO customers VALUES (?, ?, ?, ?)", [("F%d" % i, "N%d" % i, "f%d@full.test" % i, "full") for i in range(3000)])
con.commit()
PY
  mkdir -p "$T/r-full"
  printf 'campaign: full\nkind: service\naudience: {where: batch == "full"}\nrepeat: once\nchannels: [email]\ntemplate: t\n' > "$T/r-full/full.yaml"
  cat > "$T/full.yaml" <<YAML
database: $FDB
rules: $T/r-full
templates: $T/templates
outbox_dir: $M/outbox
sender: {name: Care, email: care@example.cn}
YAML
  expect_status 0 "lint migrates the database on the small disk" cc --config "$T/full.yaml" lint
  # fill FREE-KB: leave that much free space on the tmpfs
  fill() { rm -f "$M/filler"; _a=$(df -k --output=avail "$M" | tail -1); dd if=/dev/zero of="$M/filler" bs=1k count=$((_a - $1)) 2>/dev/null; }
  fill 300
  before=$(db_sum "$FDB")
  expect_status 2 "plan of 3,000 messages with 300 KB free: exit 2" cc --config "$T/full.yaml" --now 2026-05-01T10:00:00 plan
  grep -q "recording the plan failed, nothing was recorded: database or disk is full" "$T/err" \
    && ok "it says the disk is full and nothing was recorded" || not_ok "disk full message" "$(cat "$T/err")"
  [ "$(db_sum "$FDB")" = "$before" ] && [ "$(sqlite3 "$FDB" "SELECT count(*) FROM care_outbox")" = 0 ] \
    && ok "the failed plan left the database as it was" || not_ok "failed plan left nothing"
  fill 0
  expect_status 2 "with no space at all the database cannot even be opened: exit 2" cc --config "$T/full.yaml" --now 2026-05-01T10:00:00 plan
  grep -q "No space left on device\|disk is full" "$T/err" && ok "and it names the cause: $(head -1 "$T/err")" || not_ok "no-space message" "$(cat "$T/err")"
  rm -f "$M/filler"
  expect_status 0 "with space again, plan records everything" cc --config "$T/full.yaml" --now 2026-05-01T10:00:00 plan
  grep -q "planned 3000 messages" "$T/out" && ok "3,000 planned once" || not_ok "replan" "$(cat "$T/out")"
  # The file transport's outbox on a full disk (its own 512 KB tmpfs):
  # what cannot be written waits for a retry; nothing is marked sent
  # without its file.
  M2="$T/mnt2"; mkdir -p "$M2"
  mount -t tmpfs -o size=512k,mode=0700 tmpfs "$M2" && at_exit "umount '$M2' 2>/dev/null"
  sed -i "s|outbox_dir: .*|outbox_dir: $M2/outbox|" "$T/full.yaml"
  expect_status 0 "send 3,000 into an outbox folder on a 512 KB disk: exit 0" cc --config "$T/full.yaml" --now 2026-05-01T10:00:00 send
  sent1=$(sqlite3 "$FDB" "SELECT count(*) FROM care_outbox WHERE campaign='full' AND status='sent'")
  retry1=$(sqlite3 "$FDB" "SELECT count(*) FROM care_outbox WHERE campaign='full' AND status='retry'")
  files1=$(find "$M2/outbox/email" -name '*.eml' | wc -l | tr -d ' ')
  [ "$sent1" -gt 0 ] && [ "$sent1" -lt 3000 ] && [ "$sent1" = "$files1" ] && [ $((sent1 + retry1)) = 3000 ] \
    && ok "outbox disk full: $sent1 written and sent, the other $retry1 wait for a retry" \
    || not_ok "file transport on a full disk" "sent $sent1, retry $retry1, files $files1; $(tail -3 "$T/out" "$T/err")"
  sqlite3 "$FDB" "SELECT DISTINCT last_error FROM care_outbox WHERE status='retry'" | grep -q "No space left on device" \
    && ok "the retry reason is the full disk" || not_ok "retry reason" "$(sqlite3 "$FDB" "SELECT DISTINCT last_error FROM care_outbox WHERE status='retry' LIMIT 3")"
  mount -o remount,size=16m "$M2"
  expect_status 0 "with space again (16 MB), the retries go" cc --config "$T/full.yaml" --now 2026-05-01T12:00:00 send
  sent=$(sqlite3 "$FDB" "SELECT count(*) FROM care_outbox WHERE campaign='full' AND status='sent'")
  files=$(find "$M2/outbox/email" -name '*.eml' | wc -l | tr -d ' ')
  [ "$sent" = 3000 ] && [ "$files" = 3000 ] && ok "all 3,000 sent, 3,000 files" || not_ok "resume after outbox disk full" "sent $sent, files $files; $(cat "$T/out" "$T/err")"
  echo "disk full (outbox): first send wrote $sent1 of 3000, $retry1 waited; then all $sent" >> "$T/figures"

  # The database's disk fills while the transport has the messages: the
  # results are recorded as soon as there is space again, nothing is sent
  # twice.
  mkdir -p "$T/r-fullrec"
  sqlite3 "$FDB" "INSERT INTO customers VALUES ('R1','N1','r1@fullrec.test','fullrec'), ('R2','N2','r2@fullrec.test','fullrec'), ('R3','N3','r3@fullrec.test','fullrec'), ('R4','N4','r4@fullrec.test','fullrec')"
  printf 'campaign: fullrec\nkind: service\naudience: {where: batch == "fullrec"}\nrepeat: once\nchannels: [email]\ntemplate: t\n' > "$T/r-fullrec/fullrec.yaml"
  start_smtp_sink -w 1
  cat > "$T/fullrec.yaml" <<YAML
database: $FDB
rules: $T/r-fullrec
templates: $T/templates
sender: {name: Care, email: care@example.cn}
transports:
  email: {type: smtp, host: 127.0.0.1, port: $SMTP_PORT, tls: none, timeout: 10 seconds, connections: 1}
YAML
  cc --config "$T/fullrec.yaml" --now 2026-05-02T10:00:00 plan > /dev/null
  sqlite3 "$FDB" "PRAGMA wal_checkpoint(TRUNCATE)" > /dev/null
  cc --config "$T/fullrec.yaml" --now 2026-05-02T10:00:00 send > "$T/out" 2> "$T/err" &
  send_pid=$!
  sleep 1; fill 0; sleep 6; rm -f "$M/filler"
  wait "$send_pid"; rc=$?
  grep -q "recording delivery results failed: database or disk is full" "$T/err" \
    && ok "the full disk is reported while recording: $(grep -m1 'recording' "$T/err")" || not_ok "disk full while recording" "exit $rc; $(cat "$T/out" "$T/err")"
  [ "$rc" = 0 ] && grep -q "sent 4, retry 0, failed 0" "$T/out" && grep -q "recorded the results of 4 messages at try" "$T/err" \
    && ok "once the disk has space the results are recorded (exit 0, sent 4)" || not_ok "recorded after space" "exit $rc; $(cat "$T/out" "$T/err")"
  [ "$(sqlite3 "$FDB" "SELECT group_concat(DISTINCT status) FROM care_outbox WHERE campaign='fullrec'")" = sent ] \
    && [ "$(arrivals fullrec "$SINK_DIR")" = 4 ] && [ "$(arrivals_distinct fullrec "$SINK_DIR")" = 4 ] \
    && ok "all 4 sent in care_outbox, each arrived once" || not_ok "fullrec once each" "$(arrivals fullrec "$SINK_DIR")"
  stop_smtp_sink
fi

echo "--- figures"; cat "$T/figures"
