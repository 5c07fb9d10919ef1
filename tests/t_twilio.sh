#!/bin/sh
# SMS through the twilio transport.  The server here is a small local
# python3 http.server on 127.0.0.1 that STANDS IN FOR TWILIO'S REST API
# (api.twilio.com cannot be reached from the test machine); it implements
# Twilio's documented request and answer format: form POST to
# /2010-04-01/Accounts/SID/Messages.json with basic auth, 201 with the
# message sid, 429 with Retry-After, 400 with error code 21610 or 21211,
# 500.  Checked: each message arrives once with the right fields and
# credentials; 429 waits at least Retry-After (seconds and HTTP date); 5xx
# retries; 21610 fails permanently and suppresses the number; other 4xx
# fail with Twilio's text; 4 requests in flight on kept-alive connections;
# the token never shows; Twilio status callbacks through `carecast serve`
# with a valid X-Twilio-Signature mark delivery, a forged one gets 403.
. "$(dirname "$0")/lib.sh"

DB="$T/care.db"
mkdir -p "$T/rules" "$T/templates" "$T/srv"
sqlite3 "$DB" <<'SQL'
CREATE TABLE customers(id TEXT PRIMARY KEY, name TEXT, phone TEXT, locale TEXT);
INSERT INTO customers VALUES
 ('W1', '李娜', '+8613800138001', 'zh-CN'), ('W2', 'Ann', '+14155550102', 'en-US'),
 ('W3', 'Bob', '+14155550103', 'en-US'),   ('W4', 'Cai', '+14155550104', 'en-US'),
 ('W5', 'Dee', '+14155550105', 'en-US'),   ('W6', 'Eve', '+14155550106', 'en-US'),
 ('W7', 'Fay', '+14155550107', 'en-US'),   ('W8', 'Gus', '+14155550108', 'en-US');
SQL
printf 'campaign: notice\nkind: service\naudience: {where: id != ""}\nrepeat: once\nchannels: [sms]\ntemplate: t\n' > "$T/rules/notice.yaml"
printf '{{ customer.name }}, your parcel is on its way.\n' > "$T/templates/t.sms.liquid"
printf '{{ customer.name }}，您的包裹已发出。\n' > "$T/templates/t.zh.sms.liquid"
cat > "$T/srv/plan.json" <<'JSON'
{"+14155550102": ["429:7200"], "+14155550103": ["500"], "+14155550104": ["21610"],
 "+14155550105": ["400"], "+14155550106": ["429date:3600"]}
JSON

PORT=$(free_port)
SPORT=$(free_port)
SID=AC0123456789abcdef0123456789abcdef
TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
export T_TWILIO_TOKEN="$TOKEN" T_SERVE_SECRET="$SECRET"
cat > "$T/c.yaml" <<YAML
database: $DB
rules: $T/rules
templates: $T/templates
transports:
  sms: {type: twilio, url: "http://127.0.0.1:$PORT", account_sid: $SID, token_env: T_TWILIO_TOKEN,
        from: "+15005550006", connections: 4, timeout: 10 seconds}
serve: {listen: "127.0.0.1:$SPORT", public_url: "http://127.0.0.1:$SPORT", secret_env: T_SERVE_SECRET}
YAML

python3 "$ROOT/tests/sms_api_server.py" twilio "$PORT" "$T/srv" &
SRV_PID=$!
at_exit "kill $SRV_PID 2>/dev/null"
wait_port "$PORT" 10 || { not_ok "the stand-in Twilio API starts"; exit 0; }

expect_status 1 "run with the twilio transport (exit 1: some messages failed)" cc --config "$T/c.yaml" --now 2026-05-01T10:00:00 run
cp "$T/out" "$T/run1.out"; cp "$T/err" "$T/run1.err"
grep -q "sent 3, retry 3, failed 2" "$T/out" && ok "3 sent, 3 retried (429, 500, 429 with a date), 2 failed" \
  || not_ok "first run totals" "$(cat "$T/out")"

q() { sqlite3 "$DB" "$1"; }
st() { q "SELECT status FROM care_outbox WHERE customer_id = '$1'"; }
[ "$(st W1)" = sent ] && [ "$(st W7)" = sent ] && [ "$(st W8)" = sent ] && ok "201 -> sent" || not_ok "201 -> sent" "$(st W1) $(st W7) $(st W8)"
q "SELECT reply FROM care_attempts a JOIN care_outbox o ON o.id = a.outbox_id WHERE o.customer_id = 'W1'" \
  | grep -Eq '^twilio sid=SM[0-9a-f]{32}; status=queued$' && ok "the reply holds Twilio's message sid" \
  || not_ok "sid in the reply" "$(q "SELECT reply FROM care_attempts")"

# The fields Twilio documents, and basic auth with the account sid and token.
python3 - "$T/srv/requests.jsonl" "$SID" "$TOKEN" "$SPORT" "$SECRET" <<'PY' && ok "To, Body, From, StatusCallback and basic auth as Twilio documents" || not_ok "request fields"
import base64, json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
sid, token, sport, secret = sys.argv[2:6]
want_auth = "Basic " + base64.b64encode(f"{sid}:{token}".encode()).decode()
for r in reqs:
    f = r["form"]
    assert r["path"] == f"/2010-04-01/Accounts/{sid}/Messages.json", r["path"]
    assert r["headers"].get("Authorization") == want_auth, "auth"
    assert r["headers"].get("Content-Type") == "application/x-www-form-urlencoded"
    assert f["From"] == "+15005550006" and "MessagingServiceSid" not in f
    assert f["StatusCallback"].startswith(f"http://127.0.0.1:{sport}/twilio/status/{secret}?id="), f["StatusCallback"]
    assert set(f) == {"To", "Body", "From", "StatusCallback"}, f
zh = [r for r in reqs if r["form"]["To"] == "+8613800138001"]
assert len(zh) == 1 and zh[0]["form"]["Body"] == "李娜，您的包裹已发出。", zh
assert len(reqs) == 8, len(reqs)
PY

# 429 with Retry-After: 7200 seconds -> not before; the backoff alone is ~60 s.
wait_of() { q "SELECT o.next_attempt_at - a.at FROM care_outbox o JOIN care_attempts a ON a.outbox_id = o.id WHERE o.customer_id = '$1'"; }
w=$(wait_of W2)
[ "$(st W2)" = retry ] && [ "$w" -ge 7200 ] && ok "429 Retry-After: 7200 -> next attempt $w s later" || not_ok "429 Retry-After seconds" "$(st W2) $w"
w=$(wait_of W6)
[ "$(st W6)" = retry ] && [ "$w" -ge 3590 ] && ok "429 Retry-After as an HTTP date (1 h) -> next attempt $w s later" || not_ok "429 Retry-After date" "$(st W6) $w"
w=$(wait_of W3)
[ "$(st W3)" = retry ] && [ "$w" -ge 60 ] && [ "$w" -le 120 ] && ok "500 -> retry with the usual backoff ($w s)" || not_ok "500 retry" "$(st W3) $w"

[ "$(st W4)" = failed ] && q "SELECT last_error FROM care_outbox WHERE customer_id='W4'" | grep -q "code 21610: Attempt to send to unsubscribed recipient" \
  && ok "21610 -> failed permanently with Twilio's text" || not_ok "21610 failed" "$(q "SELECT status, last_error FROM care_outbox WHERE customer_id='W4'")"
[ "$(q "SELECT count(*) FROM care_suppressions WHERE address='+14155550104' AND scope='marketing' AND reason='twilio-21610'")" = 1 ] \
  && ok "21610 -> the number is suppressed for marketing (reason twilio-21610)" || not_ok "21610 suppression" "$(q "SELECT * FROM care_suppressions")"
[ "$(st W5)" = failed ] && q "SELECT last_error FROM care_outbox WHERE customer_id='W5'" | grep -q "code 21211: The 'To' number +14155550105 is not a valid phone number." \
  && ok "other 4xx -> failed with Twilio's text" || not_ok "400 failed" "$(q "SELECT status, last_error FROM care_outbox WHERE customer_id='W5'")"
[ "$(q "SELECT count(*) FROM care_suppressions")" = 1 ] && ok "only 21610 suppresses" || not_ok "only 21610 suppresses"

# Concurrency: 8 requests, at most 4 at once, on at most 4 connections.
mx=$(python3 -c "import json; print(json.load(open('$T/srv/stats.json'))['max_inflight'])")
conns=$(python3 -c "import json; print(len({json.loads(l)['client'] for l in open('$T/srv/requests.jsonl')}))")
[ "$mx" -ge 2 ] && [ "$mx" -le 4 ] && [ "$conns" -le 4 ] && ok "connections: 4 -> $mx requests in flight at once over $conns connections" \
  || not_ok "concurrency" "max in flight $mx, connections $conns"

# After the Retry-After: the three retries go, and every number got one 201.
expect_status 0 "send 3 hours later" cc --config "$T/c.yaml" --now 2026-05-01T13:00:00 send
grep -q "sent 3, retry 0, failed 0" "$T/out" && ok "the retries are sent" || not_ok "retries sent" "$(cat "$T/out")"
python3 - "$T/srv/requests.jsonl" <<'PY' && ok "every deliverable message accepted exactly once" || not_ok "once each"
import json, sys, collections
c = collections.Counter(json.loads(l)["form"]["To"] for l in open(sys.argv[1]) if json.loads(l)["answer"] == "ok")
assert sorted(c.values()) == [1] * 6 and "+14155550104" not in c and "+14155550105" not in c, c
PY

# ---- status callbacks through carecast serve --------------------------------
"$CARECAST" --config "$T/c.yaml" serve > "$T/serve.out" 2> "$T/serve.log" &
SERVE_PID=$!
at_exit "kill $SERVE_PID 2>/dev/null"
wait_port "$SPORT" 10 || { not_ok "serve starts" "$(cat "$T/serve.log")"; exit 0; }

# callback TO STATUS [forge|noid]: POST what Twilio posts for that message,
# signed as Twilio signs it (HMAC-SHA1 over URL + sorted params, base64).
callback() {
  python3 - "$T/srv/requests.jsonl" "$1" "$2" "${3:-}" "$TOKEN" "$SID" <<'PY'
import base64, hashlib, hmac, json, sys, urllib.request, urllib.error, urllib.parse
reqs = [json.loads(l) for l in open(sys.argv[1])]
to, status, how, token, sid = sys.argv[2:7]
r = [x for x in reqs if x["form"]["To"] == to and x["answer"] == "ok"][-1]
url = r["form"]["StatusCallback"]
if how == "noid": url = url.split("?")[0]
params = {"MessageSid": r["sid"], "MessageStatus": status, "AccountSid": sid, "To": to,
          "From": "+15005550006", "ApiVersion": "2010-04-01", "SmsStatus": status}
if status == "undelivered": params["ErrorCode"] = "30003"
data = url + "".join(k + params[k] for k in sorted(params))
sig = base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()
if how == "forge": sig = base64.b64encode(hmac.new(b"not-the-token", data.encode(), hashlib.sha1).digest()).decode()
req = urllib.request.Request(url, data=urllib.parse.urlencode(params).encode(), method="POST")
req.add_header("X-Twilio-Signature", sig)
req.add_header("Content-Type", "application/x-www-form-urlencoded")
try: print(urllib.request.urlopen(req, timeout=10).status)
except urllib.error.HTTPError as e: print(e.code)
PY
}
dq() { q "SELECT coalesce(delivery_status, '-') FROM care_outbox WHERE customer_id = '$1'"; }
[ "$(callback +14155550107 delivered forge)" = 403 ] && [ "$(dq W7)" = - ] && ok "a forged X-Twilio-Signature is 403, nothing written" \
  || not_ok "forged signature" "$(dq W7)"
[ "$(callback +8613800138001 sent)" = 200 ] && [ "$(dq W1)" = - ] && ok "an intermediate status (sent) changes nothing" || not_ok "sent status" "$(dq W1)"
[ "$(callback +8613800138001 delivered)" = 200 ] && [ "$(dq W1)" = delivered ] \
  && [ -n "$(q "SELECT delivered_at FROM care_outbox WHERE customer_id='W1'")" ] \
  && q "SELECT delivery_detail FROM care_outbox WHERE customer_id='W1'" | grep -Eq '^twilio delivered sid=SM[0-9a-f]{32}$' \
  && ok "a signed 'delivered' callback marks the SMS delivered" || not_ok "delivered callback" "$(q "SELECT delivery_status, delivery_detail FROM care_outbox WHERE customer_id='W1'")"
[ "$(callback +14155550108 undelivered noid)" = 200 ] && [ "$(dq W8)" = undelivered ] \
  && q "SELECT delivery_detail FROM care_outbox WHERE customer_id='W8'" | grep -q "error 30003" \
  && ok "without ?id= the message is found by its MessageSid; undelivered with the error code" || not_ok "undelivered by sid" "$(dq W8)"
code=$(python3 -c "
import urllib.request, urllib.error
req = urllib.request.Request('http://127.0.0.1:$SPORT/twilio/status/wrong-secret-xxxxxxxxxx?id=1', data=b'MessageSid=SM1&MessageStatus=delivered', method='POST')
try: print(urllib.request.urlopen(req, timeout=5).status)
except urllib.error.HTTPError as e: print(e.code)")
[ "$code" = 403 ] && ok "a wrong secret in the callback URL is 403" || not_ok "wrong secret" "$code"

# ---- the token never shows --------------------------------------------------
kill "$SERVE_PID" 2>/dev/null; wait "$SERVE_PID" 2>/dev/null
if cat "$T/run1.out" "$T/run1.err" "$T/out" "$T/err" "$T/serve.out" "$T/serve.log" | grep -qF "$TOKEN" \
   || sqlite3 "$DB" .dump | grep -qF "$TOKEN"; then
  not_ok "the auth token is in no reply, error, log or output"
else
  ok "the auth token is in no reply, error, log or output"
fi
sqlite3 "$DB" .dump | grep -qF "$SECRET" && not_ok "the callback secret is not stored" || ok "the callback secret is not stored"

# ---- configuration ----------------------------------------------------------
printf 'database: %s\ntransports:\n  sms: {type: twilio, account_sid: %s, token_env: T_TWILIO_TOKEN}\n' "$DB" "$SID" > "$T/bad.yaml"
expect_status 2 "twilio without from or messaging_service_sid is a config error" cc --config "$T/bad.yaml" send
grep -q "needs 'from' or 'messaging_service_sid'" "$T/err" && ok "the error says what is missing" || not_ok "missing from message" "$(cat "$T/err")"
