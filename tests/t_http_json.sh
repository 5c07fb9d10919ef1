#!/bin/sh
# SMS through the http-json transport: a generic webhook.  The receiver is a
# small local python3 http.server on 127.0.0.1 started by this test (for
# this transport it is a real webhook receiver); it parses every body with
# python's json and records it.  Checked: the body template renders valid
# JSON with Chinese, quotes and backslashes intact; the configured headers,
# the bearer token and Content-Type arrive; a receiver that is down leaves
# the messages queued; 429 waits at least Retry-After; 503 retries; other
# 4xx fail with the receiver's text; 4 requests in flight; once each; the
# token never shows.
. "$(dirname "$0")/lib.sh"

cat > "$T/server.py" <<'PY'
# A local HTTP server for the SMS API tests, started by the test on
# 127.0.0.1.  mode "twilio": it stands in for Twilio's REST API
# (api.twilio.com cannot be reached from the test machine) and answers in
# Twilio's documented format: POST /2010-04-01/Accounts/SID/Messages.json
# with form fields To, Body, From|MessagingServiceSid, StatusCallback and
# basic auth -> 201 {"sid": "SM...", "status": "queued", ...}; errors as
# {"code": N, "message": "...", "more_info": ..., "status": N}.  mode
# "json": a real webhook receiver.  Each request is appended to
# requests.jsonl; plan.json maps a recipient to the answers it gets, in
# turn ("ok", "429:SECONDS", "429date:SECONDS", "500", "503", "21610",
# "400"); after the list (or for other recipients) the answer is "ok".
import base64, json, os, sys, threading, time, uuid, email.utils
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

mode, port, folder = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()
state = {"inflight": 0, "max_inflight": 0}
plan = {}
if os.path.exists(os.path.join(folder, "plan.json")):
    plan = json.load(open(os.path.join(folder, "plan.json")))

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, as the real APIs
    def log_message(self, *a): pass

    def answer(self, code, obj, extra=None):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items(): self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n).decode("utf-8")
        with lock:
            state["inflight"] += 1
            state["max_inflight"] = max(state["max_inflight"], state["inflight"])
        time.sleep(0.3)   # long enough for requests to overlap
        rec = {"path": self.path, "client": self.client_address[1], "raw": raw,
               "headers": {k: v for k, v in self.headers.items()}}
        if mode == "twilio":
            rec["form"] = dict(parse_qsl(raw, keep_blank_values=True))
            to = rec["form"].get("To", "")
        else:
            try:
                rec["json"] = json.loads(raw); rec["valid"] = True
            except Exception as e:
                rec["valid"] = False; rec["error"] = str(e)
            to = (rec.get("json") or {}).get("phone", "") if rec["valid"] else ""
        with lock:
            todo = plan.get(to, [])
            what = todo.pop(0) if todo else "ok"
            state["inflight"] -= 1
            rec["answer"] = what
            if what == "ok": rec["sid"] = "SM" + uuid.uuid4().hex
            with open(os.path.join(folder, "requests.jsonl"), "a") as f:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            with open(os.path.join(folder, "stats.json"), "w") as f:
                json.dump(state, f)
        if what == "ok":
            if mode == "twilio":
                self.answer(201, {"sid": rec["sid"], "status": "queued", "to": to,
                                  "account_sid": self.path.split("/")[3], "body": rec["form"].get("Body"),
                                  "error_code": None, "error_message": None,
                                  "subresource_uris": {"media": "/media.json"}})
            else:
                self.answer(200, {"accepted": True})
        elif what.startswith("429"):
            secs = int(what.split(":")[1])
            ra = email.utils.formatdate(time.time() + secs, usegmt=True) if what.startswith("429date") else str(secs)
            self.answer(429, {"code": 20429, "message": "Too Many Requests", "status": 429}, {"Retry-After": ra})
        elif what in ("500", "503"):
            self.answer(int(what), {"code": 20500, "message": "Internal Server Error", "status": int(what)})
        elif what == "21610":
            self.answer(400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient",
                              "more_info": "https://www.twilio.com/docs/errors/21610", "status": 400})
        else:
            self.answer(400, {"code": 21211, "message": "The 'To' number %s is not a valid phone number." % to,
                              "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400})

ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY

DB="$T/care.db"
mkdir -p "$T/rules" "$T/templates" "$T/srv"
sqlite3 "$DB" <<'SQL'
CREATE TABLE customers(id TEXT PRIMARY KEY, name TEXT, phone TEXT, locale TEXT);
INSERT INTO customers VALUES
 ('J1', '李"娜"\路', '+8613800138001', 'zh-CN'), ('J2', 'Ann', '+14155550102', 'en-US'),
 ('J3', 'Bob', '+14155550103', 'en-US'),   ('J4', 'Cai', '+14155550104', 'en-US'),
 ('J5', 'Dee', '+14155550105', 'en-US'),   ('J6', 'Eve', '+14155550106', 'en-US'),
 ('J7', 'Fay', '+14155550107', 'en-US'),   ('J8', 'Gus', '+14155550108', 'en-US');
SQL
printf 'campaign: notice\nkind: service\naudience: {where: id != ""}\nrepeat: once\nchannels: [sms]\ntemplate: t\n' > "$T/rules/notice.yaml"
printf '{{ customer.name }}, your parcel is on its way.\n' > "$T/templates/t.sms.liquid"
printf '{{ customer.name }}，您的包裹已发出。\n' > "$T/templates/t.zh.sms.liquid"
cat > "$T/srv/plan.json" <<'JSON'
{"+14155550102": ["429:7200"], "+14155550103": ["503"], "+14155550104": ["400"]}
JSON

PORT=$(free_port)
TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
export T_HOOK_TOKEN="$TOKEN"
cat > "$T/c.yaml" <<YAML
database: $DB
rules: $T/rules
templates: $T/templates
transports:
  sms:
    type: http-json
    url: "http://127.0.0.1:$PORT/hooks/sms"
    headers: {X-Api-Key: k-123, X-Source: carecast}
    token_env: T_HOOK_TOKEN
    from: "10690000"
    connections: 4
    timeout: 10 seconds
    body: '{"phone": "{{ to }}", "message": "{{ text }}", "sender": "{{ from }}",
            "meta": {"campaign": "{{ campaign }}", "step": "{{ step }}", "customer": "{{ customer }}", "id": {{ id }}}}'
YAML

# The receiver is not running yet: connection refused is temporary.
expect_status 0 "run while the receiver is down" cc --config "$T/c.yaml" --now 2026-05-01T10:00:00 run
grep -q "sent 0, retry 8, failed 0" "$T/out" && ok "connection refused: all 8 queued" || not_ok "queued while down" "$(cat "$T/out")"
cp "$T/out" "$T/run1.out"; cp "$T/err" "$T/run1.err"

python3 "$T/server.py" json "$PORT" "$T/srv" &
SRV_PID=$!
at_exit "kill $SRV_PID 2>/dev/null"
wait_port "$PORT" 10 || { not_ok "the webhook receiver starts"; exit 0; }

expect_status 1 "send when the receiver is up (exit 1: one failed)" cc --config "$T/c.yaml" --now 2026-05-01T11:00:00 send
cp "$T/out" "$T/run2.out"; cp "$T/err" "$T/run2.err"
grep -q "sent 5, retry 2, failed 1" "$T/out" && ok "5 sent, 2 retried (429, 503), 1 failed (400)" || not_ok "totals" "$(cat "$T/out")"

q() { sqlite3 "$DB" "$1"; }
st() { q "SELECT status FROM care_outbox WHERE customer_id = '$1'"; }
python3 - "$T/srv/requests.jsonl" "$TOKEN" <<'PY' && ok "every body is valid JSON with the fields, headers and bearer token" || not_ok "bodies"
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
assert len(reqs) == 8, len(reqs)
for r in reqs:
    assert r["valid"], r
    assert r["path"] == "/hooks/sms"
    h = r["headers"]
    assert h.get("X-Api-Key") == "k-123" and h.get("X-Source") == "carecast", h
    assert h.get("Authorization") == "Bearer " + sys.argv[2]
    assert h.get("Content-Type", "").startswith("application/json"), h
    j = r["json"]
    assert j["sender"] == "10690000" and j["meta"]["campaign"] == "notice" and isinstance(j["meta"]["id"], int), j
PY
python3 - "$T/srv/requests.jsonl" <<'PY' && ok "Chinese text, quotes and a backslash arrive intact" || not_ok "Chinese text intact" "$(head -c 600 "$T/srv/requests.jsonl")"
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
zh = [r["json"] for r in reqs if r["json"]["phone"] == "+8613800138001"]
assert len(zh) == 1 and zh[0]["message"] == '李"娜"\\路，您的包裹已发出。' and zh[0]["meta"]["customer"] == "J1", zh
PY

wait_of() { q "SELECT o.next_attempt_at - a.at FROM care_outbox o JOIN care_attempts a ON a.outbox_id = o.id WHERE o.customer_id = '$1' ORDER BY a.attempt DESC LIMIT 1"; }
w=$(wait_of J2)
[ "$(st J2)" = retry ] && [ "$w" -ge 7200 ] && ok "429 Retry-After: 7200 -> next attempt $w s later" || not_ok "429 Retry-After" "$(st J2) $w"
[ "$(st J3)" = retry ] && ok "503 -> retry" || not_ok "503 retry" "$(st J3)"
[ "$(st J4)" = failed ] && q "SELECT last_error FROM care_outbox WHERE customer_id='J4'" | grep -q "HTTP 400: .*is not a valid phone number" \
  && ok "400 -> failed with the receiver's text" || not_ok "400 failed" "$(q "SELECT status, last_error FROM care_outbox WHERE customer_id='J4'")"

mx=$(python3 -c "import json; print(json.load(open('$T/srv/stats.json'))['max_inflight'])")
conns=$(python3 -c "import json; print(len({json.loads(l)['client'] for l in open('$T/srv/requests.jsonl')}))")
[ "$mx" -ge 2 ] && [ "$mx" -le 4 ] && [ "$conns" -le 4 ] && ok "connections: 4 -> $mx requests in flight at once over $conns connections" \
  || not_ok "concurrency" "max in flight $mx, connections $conns"

expect_status 0 "send 3 hours later" cc --config "$T/c.yaml" --now 2026-05-01T14:00:00 send
grep -q "sent 2, retry 0, failed 0" "$T/out" && ok "the retries are sent" || not_ok "retries sent" "$(cat "$T/out")"
python3 - "$T/srv/requests.jsonl" <<'PY' && ok "every deliverable message accepted exactly once" || not_ok "once each"
import json, sys, collections
c = collections.Counter(json.loads(l)["json"]["phone"] for l in open(sys.argv[1]) if json.loads(l)["answer"] == "ok")
assert sorted(c.values()) == [1] * 7 and "+14155550104" not in c, c
PY

if cat "$T/run1.out" "$T/run1.err" "$T/run2.out" "$T/run2.err" "$T/out" "$T/err" | grep -qF "$TOKEN" \
   || sqlite3 "$DB" .dump | grep -qF "$TOKEN"; then
  not_ok "the token is in no reply, error or output"
else
  ok "the token is in no reply, error or output"
fi

# ---- configuration ----------------------------------------------------------
printf 'database: %s\ntransports:\n  sms: {type: http-json, url: "http://x/", headers: {"Bad Name": v}}\n' "$DB" > "$T/bad.yaml"
expect_status 2 "a header name with a space is a config error" cc --config "$T/bad.yaml" send
grep -q "is not an HTTP header name" "$T/err" && ok "the error names the header" || not_ok "bad header message" "$(cat "$T/err")"
printf 'database: %s\ntransports:\n  sms: {type: http-json, url: "http://x/", body: "{{ to"}\n' "$DB" > "$T/bad2.yaml"
expect_status 2 "a body template that does not compile is refused" cc --config "$T/bad2.yaml" send
