# tests/servers.sh - real test servers on loopback, for tests that send.
# Source it after tests/lib.sh (it uses $T, free_port, wait_port, at_exit).
#
#   start_smtp_sink [FLAGS...]   Postfix smtp-sink on 127.0.0.1:$SMTP_PORT;
#                                every message is dumped to its own file in
#                                $SINK_DIR (see sink_count / wait_sink).
#                                FLAGS go to smtp-sink, e.g. -r RCPT (4xx),
#                                -f RCPT (5xx), -q DATA (hang up), -w 5 (slow).
#   stop_smtp_sink               stop it (also done at exit); restart with
#                                other flags for "reject, then accept" tests.
#   sink_count                   number of dumped messages
#   wait_sink N [SECONDS]        wait until N messages are dumped
#
#   start_kannel                 bearerbox + smsbox + fakesmsc, config and
#                                logs under $T/kannel; sets SENDSMS_PORT,
#                                SENDSMS_URL, KANNEL_USER, KANNEL_PASS,
#                                KANNEL_ADMIN_PORT and FAKESMSC_OUT (what the
#                                fake SMSC logged, one "Got message" line
#                                per SMS; fakesmsc_texts decodes them).
#   stop_kannel                  stop all three (also done at exit)
#   KANNEL_GET_URL (optional, set before start_kannel): inbound SMS are
#                                passed to this sms-service get-url (empty
#                                answers dropped) instead of answering "ok"
#   FAKESMSC_MO (optional): one inbound SMS the fake SMSC sends once
#                                connected, "FROM TO data URLENCODED-TEXT"
#   fakesmsc_count               number of SMS the fake SMSC received
#   wait_fakesmsc N [SECONDS]    wait until it received N
#
# Call the start_* functions directly, never in $(...) or a pipeline: the
# process ids they record must belong to the test's own shell.  Every
# server listens on 127.0.0.1 only.

SMTP_SINK_BIN=${SMTP_SINK_BIN:-/usr/sbin/smtp-sink}
BEARERBOX_BIN=${BEARERBOX_BIN:-/usr/sbin/bearerbox}
SMSBOX_BIN=${SMSBOX_BIN:-/usr/sbin/smsbox}
FAKESMSC_BIN=${FAKESMSC_BIN:-/usr/lib/kannel/test/fakesmsc}

SMTP_SINK_PID=""
KANNEL_BB_PID=""
KANNEL_SMSBOX_PID=""
KANNEL_FAKESMSC_PID=""
_servers_hooked=""

# _alive PID: the process exists and is not a zombie.
_alive() {
  _st=$(sed -n 's/^[0-9]* (.*) \([A-Za-z]\).*/\1/p' "/proc/$1/stat" 2>/dev/null)
  [ -n "$_st" ] && [ "$_st" != Z ]
}

# _stop_pids PID...: SIGTERM, then SIGKILL for whatever still runs after
# 2 seconds; reaps the children so none is left as a zombie.
_stop_pids() {
  for _p in "$@"; do [ -n "$_p" ] && kill -TERM "$_p" 2>/dev/null; done
  _n=20
  while [ "$_n" -gt 0 ]; do
    _any=""
    for _p in "$@"; do [ -n "$_p" ] && _alive "$_p" && _any=1; done
    [ -z "$_any" ] && break
    sleep 0.1; _n=$((_n - 1))
  done
  for _p in "$@"; do [ -n "$_p" ] && _alive "$_p" && kill -KILL "$_p" 2>/dev/null; done
  for _p in "$@"; do [ -n "$_p" ] && wait "$_p" 2>/dev/null; done
  return 0
}

_hook_servers() {
  [ -n "$_servers_hooked" ] && return 0
  _servers_hooked=1
  at_exit "stop_smtp_sink; stop_kannel"
}

# ---- SMTP: Postfix smtp-sink -----------------------------------------------

SINK_DIR="$T/sink"

start_smtp_sink() {
  stop_smtp_sink
  _hook_servers
  mkdir -p "$SINK_DIR"
  # As root smtp-sink must drop to another user (-u nobody), which then
  # needs to reach and write the dump folder.
  chmod 711 "$T"
  chmod 1777 "$SINK_DIR"
  # SMTP_PORT_REUSE restarts the sink on the same port ("server comes back").
  SMTP_PORT=${SMTP_PORT_REUSE:-$(free_port)}
  if [ "$(id -u)" = 0 ]; then
    "$SMTP_SINK_BIN" -u nobody -d "$SINK_DIR/%H%M%S." "$@" "127.0.0.1:$SMTP_PORT" 64 \
      > "$T/smtp-sink.log" 2>&1 &
  else
    "$SMTP_SINK_BIN" -d "$SINK_DIR/%H%M%S." "$@" "127.0.0.1:$SMTP_PORT" 64 \
      > "$T/smtp-sink.log" 2>&1 &
  fi
  SMTP_SINK_PID=$!
  if ! wait_port "$SMTP_PORT" 10; then
    echo "servers.sh: smtp-sink did not start: $(head -c 400 "$T/smtp-sink.log")" >&2
    stop_smtp_sink
    return 1
  fi
  export SMTP_PORT
}

stop_smtp_sink() {
  [ -n "$SMTP_SINK_PID" ] || return 0
  _stop_pids "$SMTP_SINK_PID"
  SMTP_SINK_PID=""
}

sink_count() {
  find "$SINK_DIR" -type f 2>/dev/null | wc -l | tr -d ' '
}

# wait_sink N [SECONDS]: until at least N messages are dumped.
wait_sink() {
  _want=$1; _n=$(( ${2:-10} * 10 ))
  while [ "$_n" -gt 0 ]; do
    [ "$(sink_count)" -ge "$_want" ] && return 0
    sleep 0.1; _n=$((_n - 1))
  done
  return 1
}

# ---- SMS: Kannel bearerbox + smsbox + fakesmsc -------------------------------

KANNEL_DIR="$T/kannel"
FAKESMSC_OUT="$KANNEL_DIR/fakesmsc.out"
KANNEL_USER=care
KANNEL_PASS=secret

# Four distinct free ports.
_kannel_ports() {
  while :; do
    KANNEL_ADMIN_PORT=$(free_port); KANNEL_SMSBOX_PORT=$(free_port)
    KANNEL_SMSC_PORT=$(free_port); SENDSMS_PORT=$(free_port)
    [ "$(printf '%s\n' "$KANNEL_ADMIN_PORT" "$KANNEL_SMSBOX_PORT" "$KANNEL_SMSC_PORT" "$SENDSMS_PORT" \
         | sort -u | wc -l)" -eq 4 ] && break
  done
}

start_kannel() {
  stop_kannel
  _hook_servers
  mkdir -p "$KANNEL_DIR"
  _kannel_ports
  cat > "$KANNEL_DIR/kannel.conf" <<EOF
group = core
admin-port = $KANNEL_ADMIN_PORT
admin-interface = "127.0.0.1"
admin-password = adm
admin-allow-ip = "127.0.0.1"
smsbox-port = $KANNEL_SMSBOX_PORT
smsbox-interface = "127.0.0.1"
box-allow-ip = "127.0.0.1"
log-file = "$KANNEL_DIR/bearerbox.log"
log-level = 1
access-log = "$KANNEL_DIR/access.log"
store-type = file
store-location = "$KANNEL_DIR/store"
dlr-storage = internal

group = smsc
smsc = fake
smsc-id = fake
port = $KANNEL_SMSC_PORT
our-host = "127.0.0.1"
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
sendsms-port = $SENDSMS_PORT
sendsms-interface = "127.0.0.1"
log-file = "$KANNEL_DIR/smsbox.log"
log-level = 1
access-log = "$KANNEL_DIR/smsbox-access.log"

group = sendsms-user
username = $KANNEL_USER
password = $KANNEL_PASS
max-messages = 10
concatenation = true

group = sms-service
keyword = default
$(if [ -n "${KANNEL_GET_URL:-}" ]; then printf 'get-url = "%s"\nomit-empty = true\naccept-x-kannel-headers = true' "$KANNEL_GET_URL"; else echo 'text = "ok"'; fi)
catch-all = true
EOF
  : > "$FAKESMSC_OUT"
  "$BEARERBOX_BIN" "$KANNEL_DIR/kannel.conf" > "$KANNEL_DIR/bearerbox.out" 2>&1 &
  KANNEL_BB_PID=$!
  if ! wait_port "$KANNEL_SMSBOX_PORT" 15; then
    echo "servers.sh: bearerbox did not start: $(tail -c 600 "$KANNEL_DIR/bearerbox.out")" >&2
    stop_kannel; return 1
  fi
  "$SMSBOX_BIN" "$KANNEL_DIR/kannel.conf" > "$KANNEL_DIR/smsbox.out" 2>&1 &
  KANNEL_SMSBOX_PID=$!
  wait_port "$KANNEL_SMSC_PORT" 15
  # -m 0: send nothing, only log what the bearerbox delivers.  fakesmsc
  # logs on stderr: "... DEBUG: Got message N: <FROM TO text TEXT>", with
  # "ucs-2 URLENCODED-UTF-16BE" instead of "text TEXT" for coding=2.
  if [ -n "${FAKESMSC_MO:-}" ]; then
    "$FAKESMSC_BIN" -H 127.0.0.1 -r "$KANNEL_SMSC_PORT" -i 0.01 -m 1 "$FAKESMSC_MO" > "$FAKESMSC_OUT" 2>&1 &
  else
    "$FAKESMSC_BIN" -H 127.0.0.1 -r "$KANNEL_SMSC_PORT" -i 0.01 -m 0 "100 200 text nop" \
      > "$FAKESMSC_OUT" 2>&1 &
  fi
  KANNEL_FAKESMSC_PID=$!
  if ! wait_port "$SENDSMS_PORT" 15; then
    echo "servers.sh: smsbox did not start: $(tail -c 600 "$KANNEL_DIR/smsbox.out")" >&2
    stop_kannel; return 1
  fi
  # Wait until the bearerbox sees the fake SMSC online, so the first SMS
  # is not queued behind a reconnect.
  _n=150
  while [ "$_n" -gt 0 ]; do
    curl -s --noproxy '*' "http://127.0.0.1:$KANNEL_ADMIN_PORT/status.txt?password=adm" 2>/dev/null \
      | grep -q 'fake.*online' && break
    sleep 0.1; _n=$((_n - 1))
  done
  if [ "$_n" -eq 0 ]; then
    echo "servers.sh: fakesmsc did not connect: $(tail -c 400 "$FAKESMSC_OUT")" >&2
    stop_kannel; return 1
  fi
  SENDSMS_URL="http://127.0.0.1:$SENDSMS_PORT/cgi-bin/sendsms"
  export SENDSMS_PORT SENDSMS_URL KANNEL_USER KANNEL_PASS KANNEL_ADMIN_PORT FAKESMSC_OUT
}

stop_kannel() {
  [ -n "$KANNEL_BB_PID$KANNEL_SMSBOX_PID$KANNEL_FAKESMSC_PID" ] || return 0
  _stop_pids "$KANNEL_FAKESMSC_PID" "$KANNEL_SMSBOX_PID" "$KANNEL_BB_PID"
  KANNEL_BB_PID=""; KANNEL_SMSBOX_PID=""; KANNEL_FAKESMSC_PID=""
}

# fakesmsc_texts: the text of every SMS received, one per line, decoded
# (UCS-2 messages arrive URL-encoded as UTF-16BE; "+" is a space).
fakesmsc_texts() {
  python3 -c '
import re, sys, urllib.parse
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    m = re.search(r"Got message \d+: <(\S*) (\S*) (text|ucs-2|data) (.*)>$", line)
    if not m: continue
    kind, body = m.group(3), m.group(4)
    if kind == "text": print(body)
    else:
        raw = urllib.parse.unquote_to_bytes(body.replace("+", " "))
        print(raw.decode("utf-16-be" if kind == "ucs-2" else "latin-1", "replace"))
' "$FAKESMSC_OUT"
}

fakesmsc_count() {
  grep -c 'Got message' "$FAKESMSC_OUT" 2>/dev/null || true
}

# wait_fakesmsc N [SECONDS]: until the fake SMSC received at least N SMS.
wait_fakesmsc() {
  _want=$1; _n=$(( ${2:-10} * 10 ))
  while [ "$_n" -gt 0 ]; do
    [ "$(fakesmsc_count)" -ge "$_want" ] && return 0
    sleep 0.1; _n=$((_n - 1))
  done
  return 1
}
