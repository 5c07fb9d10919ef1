#!/bin/sh
# SMS through Kannel: a gateway that is down (or answers 503) leaves the
# messages queued; when it is back they go, once each, with the right coding.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/servers.sh"
[ -x "$BEARERBOX_BIN" ] && [ -x "$FAKESMSC_BIN" ] || { not_ok "kannel is installed"; exit 0; }

DB="$T/care.db"
mkdir -p "$T/rules" "$T/templates"
sqlite3 "$DB" <<'SQL'
CREATE TABLE customers(id TEXT PRIMARY KEY, name TEXT, phone TEXT, locale TEXT);
INSERT INTO customers VALUES ('K1', '李娜', '+8613800138001', 'zh-CN'), ('K2', 'Ann', '+14155550102', 'en-US'),
  ('K3', '王伟', '+8613800138003', 'zh-CN');
SQL
printf 'campaign: notice\nkind: service\naudience: {where: id != ""}\nrepeat: once\nchannels: [sms]\ntemplate: t\n' > "$T/rules/notice.yaml"
printf '{{ customer.name }}, your parcel is on its way.\n' > "$T/templates/t.sms.liquid"
printf '{{ customer.name }}，您的包裹已发出。\n' > "$T/templates/t.zh.sms.liquid"
config() {
  cat > "$T/c.yaml" <<YAML
database: $DB
rules: $T/rules
templates: $T/templates
transports:
  sms: {type: kannel, url: "http://127.0.0.1:$1/cgi-bin/sendsms", username: care, password_env: K_PASS, from: "10690000", timeout: 5 seconds}
YAML
}
export K_PASS=secret
port=$(free_port)
config "$port"
expect_status 0 "send while the gateway is not running" cc --config "$T/c.yaml" --now 2026-05-01T10:00:00 run
grep -q "sent 0, retry 3, failed 0" "$T/out" && ok "connection refused: all 3 queued" || not_ok "queued" "$(cat "$T/out")"

start_kannel
config "$SENDSMS_PORT"
expect_status 0 "send when the gateway is up" cc --config "$T/c.yaml" --now 2026-05-01T11:00:00 send
grep -q "sent 3, retry 0, failed 0" "$T/out" && ok "all 3 accepted" || not_ok "accepted" "$(cat "$T/out")"
wait_fakesmsc 3 10 && ok "the fake SMSC got 3" || not_ok "the fake SMSC got 3" "$(fakesmsc_count)"
sleep 0.5
[ "$(fakesmsc_count)" = 3 ] && ok "once each" || not_ok "once each" "$(fakesmsc_count)"
grep "Got message" "$FAKESMSC_OUT" | grep -c "ucs-2" | grep -qx 2 && grep "Got message" "$FAKESMSC_OUT" | grep -q "+14155550102 text Ann, your parcel is on its way." \
  && ok "Chinese as UCS-2, English as GSM text" || not_ok "codings" "$(grep 'Got message' "$FAKESMSC_OUT")"

# Through an HTTP proxy (http_proxy in the environment) the request line
# must carry the absolute URL: carecast then gives libcurl the URL whole
# (http_batch.c set_url()).  A small forwarding proxy records what it got
# and passes it on to smsbox; the message must reach the fake SMSC.
PROXY_PORT=$(free_port)
python3 - "$PROXY_PORT" "$T/proxy.log" <<'PY' &
import http.client, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import urlsplit
class P(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        open(sys.argv[2], "a").write(self.requestline + "\n")
        u = urlsplit(self.path)
        if not u.hostname:
            self.send_response(400); self.send_header("Content-Length", "0"); self.end_headers(); return
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        c.request("GET", u.path + "?" + u.query)
        r = c.getresponse(); body = r.read()
        self.send_response(r.status); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
HTTPServer(("127.0.0.1", int(sys.argv[1])), P).serve_forever()
PY
proxy_pid=$!
wait_port "$PROXY_PORT" 10
sqlite3 "$DB" "UPDATE care_outbox SET status='planned', attempts=0 WHERE customer_id='K2'"
before=$(fakesmsc_count)
http_proxy="http://127.0.0.1:$PROXY_PORT" no_proxy= NO_PROXY= expect_status 0 "send through an HTTP proxy" cc --config "$T/c.yaml" --now 2026-05-01T11:30:00 send
grep -q "sent 1, retry 0, failed 0" "$T/out" && wait_fakesmsc $((before + 1)) 10 && ok "through the proxy the message is accepted and delivered" \
  || not_ok "through the proxy" "$(cat "$T/out" "$T/err") $(cat "$T/proxy.log" 2>/dev/null)"
grep -q "^GET http://127.0.0.1:$SENDSMS_PORT/cgi-bin/sendsms?username=care&password=" "$T/proxy.log" \
  && ok "the proxy was asked for the absolute URL" || not_ok "absolute URL to the proxy" "$(cat "$T/proxy.log" 2>/dev/null)"
kill "$proxy_pid" 2>/dev/null; wait "$proxy_pid" 2>/dev/null

# The bearerbox dies mid-day: smsbox answers 503 or goes down with it
# (what it does is recorded in the test name); either way a temporary failure.
sqlite3 "$DB" "UPDATE care_outbox SET status='planned', attempts=0 WHERE customer_id='K2'"
kill -TERM "$KANNEL_BB_PID" 2>/dev/null; sleep 1
code=$(python3 -c "
import urllib.request, urllib.error
try:
    urllib.request.urlopen('http://127.0.0.1:$SENDSMS_PORT/cgi-bin/sendsms?username=care&password=secret&to=%2B1&text=x', timeout=5); print(200)
except urllib.error.HTTPError as e: print(e.code)
except Exception as e: print('down')")
expect_status 0 "send after the bearerbox died" cc --config "$T/c.yaml" --now 2026-05-01T12:00:00 send
grep -q "sent 0, retry 1, failed 0" "$T/out" && ok "gateway answering '$code': the message is queued" || not_ok "503 queued" "$code $(cat "$T/out")"
