#!/bin/sh
# t_servers.sh - the test-server harness itself (tests/servers.sh): Postfix
# smtp-sink receives mail and dumps one file per message, Kannel accepts a
# sendsms request and delivers it to the fake SMSC, and stopping leaves no
# server process behind.  The carecast end-to-end sending tests build on
# these functions.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/servers.sh"

have_smtp=1; have_kannel=1
[ -x "$SMTP_SINK_BIN" ] && [ -x /usr/sbin/smtp-source ] || have_smtp=""
[ -x "$BEARERBOX_BIN" ] && [ -x "$SMSBOX_BIN" ] && [ -x "$FAKESMSC_BIN" ] && command -v curl >/dev/null || have_kannel=""

# ---- SMTP -------------------------------------------------------------------
if [ -n "$have_smtp" ]; then
  if start_smtp_sink; then
    ok "smtp-sink starts on 127.0.0.1:$SMTP_PORT"
    subject="carecast-harness-$$"
    /usr/sbin/smtp-source -m 1 -s 1 -f care@bank.example -t zhang@example.com \
      -S "$subject" "127.0.0.1:$SMTP_PORT" > "$T/source.out" 2>&1
    if wait_sink 1 10 && grep -q "^Subject: $subject" "$SINK_DIR"/*; then
      ok "smtp-source message arrives in the sink with its subject"
    else
      not_ok "smtp-source message arrives in the sink with its subject" "$(cat "$T/source.out")"
    fi
    check "the dump records the envelope recipient" grep -q '^X-Rcpt-Args: <zhang@example.com>' "$SINK_DIR"/*
    # several messages within one second still get one file each
    /usr/sbin/smtp-source -m 20 -s 4 -f care@bank.example -t zhang@example.com \
      -S "burst" "127.0.0.1:$SMTP_PORT" > "$T/source.out" 2>&1
    if wait_sink 21 10 && [ "$(sink_count)" -eq 21 ]; then
      ok "one dump file per message, even within the same second"
    else
      not_ok "one dump file per message, even within the same second" "$(sink_count) files"
    fi
    # a soft-rejecting sink (restart with -r RCPT) answers 4xx
    start_smtp_sink -r RCPT
    python3 - "$SMTP_PORT" > "$T/rcpt.out" 2>&1 <<'EOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
s.ehlo()
s.mail("care@bank.example")
print(s.rcpt("zhang@example.com")[0])
s.quit()
EOF
    check "smtp-sink -r RCPT soft-rejects the recipient" grep -q '^4' "$T/rcpt.out"
    sink_pid=$SMTP_SINK_PID
    stop_smtp_sink
    if _alive "$sink_pid"; then not_ok "stop_smtp_sink stops smtp-sink"; else ok "stop_smtp_sink stops smtp-sink"; fi
  else
    not_ok "smtp-sink starts" "$(cat "$T/smtp-sink.log" 2>/dev/null)"
  fi
else
  skip "smtp-sink tests" "postfix (smtp-sink, smtp-source) is not installed"
fi

# ---- Kannel -----------------------------------------------------------------
if [ -n "$have_kannel" ]; then
  if start_kannel; then
    ok "bearerbox, smsbox and fakesmsc start (sendsms on 127.0.0.1:$SENDSMS_PORT)"
    text="生日快乐，张三！回T退订"
    enc=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$text")
    code=$(curl -s --noproxy '*' -o "$T/sendsms.body" -w '%{http_code}' \
      "$SENDSMS_URL?username=$KANNEL_USER&password=$KANNEL_PASS&from=10086&to=%2B8613800000000&text=$enc&charset=UTF-8&coding=2")
    if [ "$code" = 202 ] && grep -q '^0: Accepted for delivery' "$T/sendsms.body"; then
      ok "sendsms answers 202 0: Accepted for delivery"
    else
      not_ok "sendsms answers 202 0: Accepted for delivery" "HTTP $code: $(cat "$T/sendsms.body")"
    fi
    if wait_fakesmsc 1 15 && grep -q 'Got message 1: <10086 +8613800000000 ucs-2 ' "$FAKESMSC_OUT"; then
      ok "the fake SMSC receives the Chinese SMS as ucs-2"
    else
      not_ok "the fake SMSC receives the Chinese SMS as ucs-2" "$(tail -c 400 "$FAKESMSC_OUT")"
    fi
    if [ "$(fakesmsc_texts | head -n 1)" = "$text" ]; then
      ok "the ucs-2 text decodes back to the sent text"
    else
      not_ok "the ucs-2 text decodes back to the sent text" "$(fakesmsc_texts | head -n 1)"
    fi
    code=$(curl -s --noproxy '*' -o "$T/sendsms.body" -w '%{http_code}' \
      "$SENDSMS_URL?username=$KANNEL_USER&password=wrong&to=%2B8613800000000&text=hi")
    check "a wrong password gets a 4xx" [ "$(echo "$code" | cut -c1)" = 4 ]
    pids="$KANNEL_BB_PID $KANNEL_SMSBOX_PID $KANNEL_FAKESMSC_PID"
    stop_kannel
    left=""
    for p in $pids; do _alive "$p" && left="$left $p"; done
    check "stop_kannel stops bearerbox, smsbox and fakesmsc" [ -z "$left" ]
  else
    not_ok "bearerbox, smsbox and fakesmsc start" "$(tail -c 600 "$KANNEL_DIR/bearerbox.out" 2>/dev/null)"
  fi
else
  skip "Kannel tests" "kannel and kannel-extras are not installed"
fi

# ---- nothing of ours is left running ---------------------------------------
if [ -n "$have_smtp$have_kannel" ]; then
  left=$(ps -eo stat=,args= | grep -v '^Z' | grep -F "$T" | grep -v -e grep -e ' ps ' || true)
  left="$left$(ps -eo stat=,args= | grep -v '^Z' | grep -e "fakesmsc .*-r ${KANNEL_SMSC_PORT:-none} " | grep -v grep || true)"
  if [ -z "$left" ]; then
    ok "no smtp-sink, bearerbox, smsbox or fakesmsc of this test remains"
  else
    not_ok "no smtp-sink, bearerbox, smsbox or fakesmsc of this test remains" "$left"
  fi
fi
