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

# libcurl is opened when the first SMS goes out: one that cannot be loaded
# stops the send with a clear message, before anything is claimed.
CARECAST_LIBCURL=$T/no/libcurl.so.4 cc --config "$T/c.yaml" --now 2026-05-01T10:00:00 run > "$T/out" 2> "$T/err"; rc=$?
if [ $rc -eq 2 ] && grep -q "cannot load libcurl ($T/no/libcurl.so.4)" "$T/err" && ! sanitizer "$T/err" &&
   [ "$(sqlite3 "$DB" "SELECT count(*) || '/' || sum(status = 'planned' AND attempts = 0) FROM care_outbox")" = 8/8 ]; then
  ok "a libcurl that cannot be loaded: exit 2, a clear message, all 8 still planned"
else not_ok "libcurl that cannot be loaded" "exit $rc: $(cat "$T/out" "$T/err" | head -c 600) $(sqlite3 "$DB" "SELECT status, attempts FROM care_outbox")"; fi
CARECAST_LIBCURL=libz.so.1 cc --config "$T/c.yaml" --now 2026-05-01T10:00:00 send > "$T/out" 2> "$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "cannot load libcurl (libz.so.1): it has no curl_global_init" "$T/err" && ! sanitizer "$T/err" \
  && ok "a library that is not libcurl is refused by name" || not_ok "a library that is not libcurl" "exit $rc: $(head -c 600 "$T/err")"
if ldd "$CARECAST" | grep -q -E 'libcurl|libmicrohttpd'; then
  not_ok "carecast starts without libcurl and libmicrohttpd" "$(ldd "$CARECAST" | grep -E 'libcurl|libmicrohttpd')"
else ok "carecast starts without libcurl and libmicrohttpd (opened when needed)"; fi

# The receiver is not running yet: connection refused is temporary.
expect_status 0 "run while the receiver is down" cc --config "$T/c.yaml" --now 2026-05-01T10:00:00 run
grep -q "sent 0, retry 8, failed 0" "$T/out" && ok "connection refused: all 8 queued" || not_ok "queued while down" "$(cat "$T/out")"
cp "$T/out" "$T/run1.out"; cp "$T/err" "$T/run1.err"

python3 "$ROOT/tests/sms_api_server.py" json "$PORT" "$T/srv" &
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

# ---- results recorded while the batch is in flight -------------------------
# 60 messages go out in one claimed batch over 2 connections to a receiver
# that takes 0.3 s per request (about 6.7 a second, 9 s in all).  Killed
# after 4 s, the sender has already recorded what was accepted up to the
# last second, not nothing; the next send delivers the rest, and what is
# sent twice is at most the results of that last second plus the requests
# in flight.
DB2="$T/crash.db"
mkdir -p "$T/srv2"
python3 - "$DB2" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("CREATE TABLE customers(id TEXT PRIMARY KEY, name TEXT, phone TEXT, locale TEXT)")
db.executemany("INSERT INTO customers VALUES (?, ?, ?, 'en-US')", (("K%02d" % i, "N%d" % i, "+1415555%04d" % i) for i in range(60)))
db.commit()
PY
PORT2=$(free_port)
sed -e "s|^database: .*|database: $DB2|" -e "s|127.0.0.1:$PORT/|127.0.0.1:$PORT2/|" -e "s|connections: 4|connections: 2|" "$T/c.yaml" > "$T/c2.yaml"
python3 "$ROOT/tests/sms_api_server.py" json "$PORT2" "$T/srv2" &
SRV2_PID=$!
at_exit "kill $SRV2_PID 2>/dev/null"
wait_port "$PORT2" 10 || { not_ok "the second receiver starts"; exit 0; }
expect_status 0 "plan 60 messages" cc --config "$T/c2.yaml" --now 2026-05-01T10:00:00 plan
"$CARECAST" --config "$T/c2.yaml" --now 2026-05-01T10:00:00 send > "$T/kill.out" 2> "$T/kill.err" &
SEND_PID=$!
sleep 4
kill -9 $SEND_PID 2>/dev/null; wait $SEND_PID 2>/dev/null
rec=$(sqlite3 "$DB2" "SELECT count(*) FROM care_outbox WHERE status = 'sent'")
acc=$(grep -c '"answer": "ok"' "$T/srv2/requests.jsonl")
[ "$rec" -gt 0 ] && [ "$rec" -lt 60 ] && [ $((acc - rec)) -le 10 ] \
  && ok "killed mid-batch: $rec of the $acc accepted were already recorded (at most a second's results and the requests in flight were not)" \
  || not_ok "recorded while in flight" "recorded $rec, accepted $acc"
expect_status 0 "send after the lease expired" cc --config "$T/c2.yaml" --now 2026-05-01T10:30:00 send
python3 - "$T/srv2/requests.jsonl" "$DB2" <<'PY' > "$T/dup.out" 2>&1 && ok "after the kill: all 60 delivered, $(cat "$T/dup.out") sent twice (the unrecorded ones only)" || not_ok "resume after kill" "$(cat "$T/dup.out")"
import collections, json, sqlite3, sys
c = collections.Counter(json.loads(l)["json"]["phone"] for l in open(sys.argv[1]))
db = sqlite3.connect(sys.argv[2])
assert len(c) == 60, len(c)
assert db.execute("SELECT count(*) FROM care_outbox WHERE status = 'sent'").fetchone()[0] == 60
dups = sum(v - 1 for v in c.values())
assert dups <= 10 and max(c.values()) <= 2, c
print(dups)
PY
