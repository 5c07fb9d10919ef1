#!/bin/sh
# carecast serve on loopback, against real Kannel (bearerbox + smsbox +
# fakesmsc): Kannel's delivery reports mark SMS delivered; an inbound 退订
# through Kannel's sms-service is suppressed and answered by a UCS-2 reply
# SMS; an inbound STOP suppresses the number so later marketing SMS is skipped while
# service SMS still goes; RFC 8058 one-click unsubscribe with the signed
# token from a real marketing email, forged tokens refused; oversized and
# malformed requests answered 413/414/400 while the server keeps serving;
# no secret ever in the log; SIGTERM ends it with status 0.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/servers.sh"

for bin in "$BEARERBOX_BIN" "$SMSBOX_BIN" "$FAKESMSC_BIN"; do
  if [ ! -x "$bin" ]; then
    not_ok "test servers are installed" "$bin is missing (make check installs kannel, kannel-extras)"
    exit 0
  fi
done
DB="$T/care.db"
sqlite3 "$DB" <<'SQL'
CREATE TABLE customers(id TEXT PRIMARY KEY, name TEXT, email TEXT, phone TEXT, locale TEXT, status TEXT,
  email_opt_in INTEGER, sms_opt_in INTEGER);
INSERT INTO customers VALUES
 ('C1', '李娜', NULL, '+8613800138001', 'zh-CN', 'active', 0, 1),
 ('C2', '王建国', NULL, '+8613900139002', 'zh-CN', 'active', 0, 1),
 ('C3', 'Ann', 'ann@example.com', NULL, 'en-US', 'active', 1, 0);
SQL
mkdir -p "$T/templates" "$T/rules-dlr" "$T/rules-stop" "$T/rules-mail"
printf '{{ customer.name }}，您的保单已续期。\n' > "$T/templates/t.sms.liquid"
printf -- '---\nsubject: News\n---\nHello {{ customer.name }}.\n' > "$T/templates/t.email.liquid"
# campaign FOLDER NAME KIND CHANNEL CUSTOMER
campaign() {
  printf 'campaign: %s\nkind: %s\naudience: {where: id == "%s"}\nrepeat: once\nchannels: [%s]\ntemplate: t\n' \
    "$2" "$3" "$5" "$4" > "$T/$1/$2.yaml"
}
campaign rules-dlr dlr-notice service sms C1
campaign rules-stop promo-sms marketing sms C2
campaign rules-stop notice-sms service sms C2
campaign rules-mail promo-email marketing email C3

PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
USECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
export T_SERVE_SECRET="$SECRET" T_UNSUB_SECRET="$USECRET" T_SMS_PASSWORD="$KANNEL_PASS"
# serve starts first (Kannel passes it an inbound SMS as soon as it runs),
# so it has its own configuration without the Kannel transport.
common="database: $DB
timezone: Asia/Shanghai
templates: $T/templates
outbox_dir: $T/outbox
sender: {name: Care, email: care@example.cn}
sms: {signature: 【关怀银行】}
unsubscribe: {url: \"$BASE/unsubscribe\", secret_env: T_UNSUB_SECRET}
serve: {listen: \"127.0.0.1:$PORT\", public_url: \"$BASE\", secret_env: T_SERVE_SECRET}"
printf '%s\n' "$common" > "$T/serve.yaml"

# http METHOD URL [BODY [CONTENT-TYPE]]: prints "STATUS" on the first line,
# then the headers as "Name: value" lines, then "" and the body.
http() {
  python3 - "$@" <<'PY'
import sys, urllib.request, urllib.error
method, url = sys.argv[1], sys.argv[2]
data = sys.argv[3].encode() if len(sys.argv) > 3 else None
req = urllib.request.Request(url, data=data, method=method)
if data is not None:
    req.add_header("Content-Type", sys.argv[4] if len(sys.argv) > 4 else "application/x-www-form-urlencoded")
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k): return None
opener = urllib.request.build_opener(NoRedirect, urllib.request.ProxyHandler({}))
try:
    r = opener.open(req, timeout=10)
    code, headers, body = r.status, r.headers, r.read()
except urllib.error.HTTPError as e:
    code, headers, body = e.code, e.headers, e.read()
print(code)
for k, v in headers.items(): print(f"{k}: {v}")
print()
sys.stdout.write(body.decode("utf-8", "replace"))
PY
}
status_of() { http "$@" 2>/dev/null | head -1; }

# raw BYTES-AS-PYTHON-LITERAL: send exactly these bytes, print the status
# line (or "closed" / "timeout").
raw() {
  python3 - "$PORT" "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(eval(sys.argv[2]))  # our own byte expressions
s.settimeout(3)
out = b""
try:
    while b"\r\n" not in out:
        b = s.recv(4096)
        if not b: break
        out += b
except socket.timeout:
    print("timeout"); sys.exit(0)
print(out.split(b"\r\n")[0].decode("latin-1") if out else "closed")
PY
}

# ---- the command line ---------------------------------------------------------
expect_status 2 "a non-loopback --listen is refused" cc --config "$T/serve.yaml" serve --listen "0.0.0.0:$PORT"
grep -q "not a loopback address" "$T/err" && ok "the refusal says why" || not_ok "the refusal says why" "$(cat "$T/err")"
expect_status 2 "a malformed --listen is refused" cc --config "$T/serve.yaml" serve --listen "localhost"
# libmicrohttpd is opened when serve starts: one that cannot be loaded is a
# clear error, and nothing listens.
CARECAST_LIBMICROHTTPD=$T/no/libmicrohttpd.so.12 cc --config "$T/serve.yaml" serve > "$T/out" 2> "$T/err"; rc=$?
if [ $rc -eq 2 ] && grep -q "cannot load libmicrohttpd ($T/no/libmicrohttpd.so.12)" "$T/err" && ! sanitizer "$T/err"; then
  ok "a libmicrohttpd that cannot be loaded: exit 2 and a clear message"
else not_ok "libmicrohttpd that cannot be loaded" "exit $rc: $(head -c 600 "$T/err")"; fi

# The binary itself, not the cc function: $! must be carecast's own pid.
"$CARECAST" --config "$T/serve.yaml" serve > "$T/serve.out" 2> "$T/serve.log" &
SERVE_PID=$!
at_exit "kill $SERVE_PID 2>/dev/null"
n=100
until [ "$(status_of GET "$BASE/health")" = 200 ] || [ "$n" -eq 0 ]; do sleep 0.1; n=$((n - 1)); done
[ "$n" -gt 0 ] && ok "serve answers /health on serve.listen" || { not_ok "serve starts" "$(cat "$T/serve.log")"; exit 0; }

# Kannel with an sms-service pointing at serve, and a fake SMSC that sends
# one inbound 退订 from a number written the way SMSCs write it (no '+').
KANNEL_GET_URL="$BASE/sms/inbound/$SECRET?from=%p&text=%a"
FAKESMSC_MO="8613700137004 10690000 data %E9%80%80%E8%AE%A2"
start_kannel || { not_ok "Kannel starts"; exit 0; }
export T_SMS_PASSWORD="$KANNEL_PASS"
cat > "$T/c.yaml" <<YAML
$common
transports:
  sms: {type: kannel, url: "$SENDSMS_URL", username: $KANNEL_USER, password_env: T_SMS_PASSWORD,
        from: "10690000", timeout: 20 seconds}
YAML

# ---- b0. an inbound 退订 through Kannel ------------------------------------------------
n=150
until [ "$(sqlite3 "$DB" "SELECT count(*) FROM care_suppressions WHERE address='+8613700137004' AND reason='sms-stop'")" = 1 ] \
  || [ "$n" -eq 0 ]; do sleep 0.1; n=$((n - 1)); done
[ "$n" -gt 0 ] && ok "an inbound 退订 through Kannel suppresses +8613700137004" \
  || not_ok "an inbound 退订 through Kannel" "$(tail -5 "$T/serve.log"; tail -5 "$KANNEL_DIR/smsbox.log")"
wait_fakesmsc 1 10
fakesmsc_texts | grep -qx "【关怀银行】您已退订营销短信。" && ok "Kannel sent serve's answer back as the reply SMS" \
  || not_ok "Kannel sent the reply SMS" "$(grep 'Got message' "$FAKESMSC_OUT")"

# ---- a. Kannel delivery reports ------------------------------------------------
expect_status 0 "plan an SMS" cc --config "$T/c.yaml" --rules "$T/rules-dlr" --date 2026-06-15 plan
expect_status 0 "send it through Kannel" cc --config "$T/c.yaml" --rules "$T/rules-dlr" --now 2026-06-15T12:00:00 send
grep -q "sent 1, retry 0, failed 0" "$T/out" && ok "Kannel accepted it" || not_ok "Kannel accepted it" "$(cat "$T/out" "$T/err")"
ID=$(sqlite3 "$DB" "SELECT id FROM care_outbox WHERE campaign='dlr-notice'")
wait_fakesmsc 2 10 && ok "the SMS reached fakesmsc" || not_ok "the SMS reached fakesmsc"
n=150
until [ "$(sqlite3 "$DB" "SELECT delivery_status FROM care_outbox WHERE id=$ID")" = delivered ] || [ "$n" -eq 0 ]; do
  sleep 0.1; n=$((n - 1))
done
[ "$n" -gt 0 ] && ok "Kannel's delivery report marks the SMS delivered" \
  || not_ok "Kannel's delivery report marks the SMS delivered" "$(sqlite3 "$DB" "SELECT * FROM care_outbox WHERE id=$ID"; tail -5 "$T/serve.log"; grep -i dlr "$KANNEL_DIR/smsbox.log" | tail -5)"
grep -q "GET /kannel/dlr/\*\*\* 200" "$T/serve.log" && ok "the report came from Kannel over HTTP" || not_ok "the report came from Kannel over HTTP" "$(cat "$T/serve.log")"
row=$(sqlite3 "$DB" "SELECT status, delivered_at IS NOT NULL, delivery_detail LIKE 'kannel dlr 1%' FROM care_outbox WHERE id=$ID")
detail=$(sqlite3 "$DB" "SELECT delivery_detail FROM care_outbox WHERE id=$ID")
[ "$row" = "sent|1|1" ] && ok "status sent, delivered_at and the report's text recorded ($detail)" || not_ok "delivery columns" "$row"
[ "$(sqlite3 "$DB" "SELECT delivery_status FROM care_messages WHERE id=$ID")" = delivered ] \
  && ok "rules see delivery in messages" || not_ok "rules see delivery in messages"

# The same report again, in the exact form Kannel sends it: nothing changes.
before=$(db_sum "$DB")
[ "$(status_of GET "$BASE/kannel/dlr/$SECRET?id=$ID&status=1&answer=ACK%2F")" = 200 ] && [ "$(db_sum "$DB")" = "$before" ] \
  && ok "the same report twice changes nothing" || not_ok "the same report twice changes nothing"
[ "$(status_of GET "$BASE/kannel/dlr/$SECRET?id=$ID&status=2&answer=NACK")" = 200 ] && [ "$(db_sum "$DB")" = "$before" ] \
  && ok "a late failure report does not undo delivered" || not_ok "a late failure report does not undo delivered"
[ "$(status_of GET "$BASE/kannel/dlr/${SECRET}x?id=$ID&status=1")" = 403 ] && [ "$(db_sum "$DB")" = "$before" ] \
  && ok "a wrong secret is 403 and changes nothing" || not_ok "a wrong secret is 403"
[ "$(status_of GET "$BASE/kannel/dlr/?id=$ID&status=1")" = 403 ] && ok "a missing secret is 403" || not_ok "a missing secret is 403"
[ "$(status_of GET "$BASE/kannel/dlr/$SECRET?id=999999&status=1")" = 404 ] && [ "$(db_sum "$DB")" = "$before" ] \
  && ok "an unknown outbox id is 404" || not_ok "an unknown outbox id is 404"
[ "$(status_of GET "$BASE/kannel/dlr/$SECRET?id=$ID&status=abc")" = 400 ] && ok "a malformed report is 400" || not_ok "a malformed report is 400"
# A failure report for another message (as POST, the form Kannel uses with dlr-url POST).
sqlite3 "$DB" "UPDATE care_outbox SET delivery_status=NULL, delivered_at=NULL, delivery_detail=NULL WHERE id=$ID"
[ "$(status_of POST "$BASE/kannel/dlr/$SECRET" "id=$ID&status=16&answer=rejected")" = 200 ] \
  && [ "$(sqlite3 "$DB" "SELECT delivery_status || '|' || ifnull(delivered_at, '-') || '|' || delivery_detail FROM care_outbox WHERE id=$ID")" = "undelivered|-|kannel dlr 16: rejected" ] \
  && ok "an SMSC reject (16) records undelivered" || not_ok "an SMSC reject records undelivered" "$(sqlite3 "$DB" "SELECT * FROM care_outbox WHERE id=$ID")"
[ "$(status_of GET "$BASE/kannel/dlr/$SECRET?id=$ID&status=1&answer=ACK")" = 200 ] \
  && [ "$(sqlite3 "$DB" "SELECT delivery_status FROM care_outbox WHERE id=$ID")" = delivered ] \
  && ok "a later delivered report wins over undelivered" || not_ok "a later delivered report wins"

# ---- b. STOP by SMS ----------------------------------------------------------------
http GET "$BASE/sms/inbound/$SECRET?from=%2B8613900139002&text=%E9%80%80%E8%AE%A2" > "$T/stop.out"
[ "$(head -1 "$T/stop.out")" = 200 ] && grep -q "^【关怀银行】您已退订营销短信。$" "$T/stop.out" \
  && ok "退订 is answered with the confirmation SMS text" || not_ok "退订 is answered" "$(cat "$T/stop.out")"
[ "$(sqlite3 "$DB" "SELECT address || '|' || scope || '|' || reason || '|' || (customer_id IS NULL) FROM care_suppressions WHERE address='+8613900139002'")" = "+8613900139002|marketing|sms-stop|1" ] \
  && ok "the number is suppressed for marketing" || not_ok "the number is suppressed" "$(sqlite3 "$DB" "SELECT * FROM care_suppressions")"
before=$(db_sum "$DB")
[ "$(status_of GET "$BASE/sms/inbound/$SECRET?from=8613900139002&text=STOP")" = 200 ] && [ "$(db_sum "$DB")" = "$before" ] \
  && ok "STOP again (number without +) adds nothing" || not_ok "STOP again adds nothing"
for text in "Thanks" "T%E6%81%A4" "stopped" "hello+stop"; do
  http GET "$BASE/sms/inbound/$SECRET?from=%2B14155550100&text=$text" > "$T/in.out"
  [ "$(head -1 "$T/in.out")" = 200 ] && [ -z "$(sed '1,/^$/d' "$T/in.out")" ] && [ "$(db_sum "$DB")" = "$before" ] \
    || { not_ok "'$text' is not an opt-out" "$(cat "$T/in.out")"; continue; }
  ok "'$text' is not an opt-out: empty answer, nothing recorded"
done
[ "$(status_of GET "$BASE/sms/inbound/wrong-secret?from=%2B14155550100&text=STOP")" = 403 ] && [ "$(db_sum "$DB")" = "$before" ] \
  && ok "inbound with a wrong secret is 403" || not_ok "inbound with a wrong secret is 403"
http POST "$BASE/sms/inbound/$SECRET" "from=%2B14155550100&text=+Unsubscribe+me" > "$T/in.out"
grep -q "^You are unsubscribed" "$T/in.out" && [ "$(sqlite3 "$DB" "SELECT count(*) FROM care_suppressions WHERE address='+14155550100' AND reason='sms-stop'")" = 1 ] \
  && ok "POSTed 'Unsubscribe me' from a US number: English answer, suppressed" || not_ok "POSTed unsubscribe" "$(cat "$T/in.out")"

cc --config "$T/c.yaml" --rules "$T/rules-stop" --date 2026-06-16 --format jsonl plan --dry-run > "$T/plan.jsonl" 2> "$T/err"
python3 - "$T/plan.jsonl" <<'PY' && ok "after STOP: marketing SMS skipped as suppressed, service SMS still planned" || not_ok "after STOP" "$(cat "$T/plan.jsonl" "$T/err")"
import json, sys
items = {j["campaign"]: j for j in map(json.loads, open(sys.argv[1]))}
assert items["promo-sms"]["status"] == "skipped" and items["promo-sms"]["reason"] == "suppressed", items
assert items["notice-sms"]["status"] == "planned" and items["notice-sms"]["to"] == "+8613900139002", items
PY

# ---- c. one-click unsubscribe --------------------------------------------------------
expect_status 0 "plan and write a marketing email" cc --config "$T/c.yaml" --rules "$T/rules-mail" --date 2026-06-16 run
MID=$(sqlite3 "$DB" "SELECT id FROM care_outbox WHERE campaign='promo-email'")
URL=$(python3 - "$T/outbox/email/$MID.eml" <<'PY'
import email, email.policy, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
print(str(m["List-Unsubscribe"]).strip("<>"))
PY
)
case "$URL" in "$BASE/unsubscribe/"*) ok "the email's List-Unsubscribe points at serve" ;; *) not_ok "List-Unsubscribe" "$URL" ;; esac
TOKEN=${URL#"$BASE/unsubscribe/"}
before=$(db_sum "$DB")
http GET "$URL" > "$T/get.out"
[ "$(head -1 "$T/get.out")" = 200 ] && grep -q '<form method="post"' "$T/get.out" && grep -q 'name="List-Unsubscribe" value="One-Click"' "$T/get.out" \
  && [ "$(db_sum "$DB")" = "$before" ] && ok "GET shows a button that POSTs, and writes nothing" || not_ok "GET unsubscribe" "$(cat "$T/get.out")"
# Altered tokens: one character of the signature, one of the payload.
bad_sig=$(python3 -c 'import sys; t=sys.argv[1]; c=t[-3]; print(t[:-3] + ("A" if c != "A" else "B") + t[-2:])' "$TOKEN")
bad_pay=$(python3 -c 'import sys; t=sys.argv[1]; c=t[4]; print(t[:4] + ("A" if c != "A" else "B") + t[5:])' "$TOKEN")
for t in "$bad_sig" "$bad_pay" "garbage" "$TOKEN.x"; do
  s=$(status_of POST "$BASE/unsubscribe/$t" "List-Unsubscribe=One-Click")
  [ "$s" = 403 ] && [ "$(db_sum "$DB")" = "$before" ] || { not_ok "an altered token is refused" "$t: $s"; continue; }
  ok "an altered token ($(printf '%s' "$t" | cut -c1-12)...) is refused with 403, nothing written"
done
[ "$(status_of GET "$BASE/unsubscribe/$bad_sig")" = 403 ] && ok "GET with a forged token is 403" || not_ok "GET with a forged token is 403"
[ "$(status_of POST "$URL" "List-Unsubscribe=Maybe")" = 400 ] && [ "$(db_sum "$DB")" = "$before" ] \
  && ok "a POST without List-Unsubscribe=One-Click is 400" || not_ok "a POST without One-Click is 400"
http POST "$URL" "List-Unsubscribe=One-Click" > "$T/post.out"
[ "$(head -1 "$T/post.out")" = 200 ] && ok "one-click POST is 200" || not_ok "one-click POST is 200" "$(cat "$T/post.out")"
grep -qi '^location:' "$T/post.out" && not_ok "no redirect" || ok "no redirect (no Location header)"
[ "$(sqlite3 "$DB" "SELECT customer_id || '|' || address || '|' || scope || '|' || reason FROM care_suppressions WHERE reason='unsubscribe'")" = "C3|ann@example.com|marketing|unsubscribe" ] \
  && ok "the suppression names the customer and the address" || not_ok "the unsubscribe suppression" "$(sqlite3 "$DB" "SELECT * FROM care_suppressions")"
before=$(db_sum "$DB")
printf -- '--XyZ\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--XyZ--\r\n' > "$T/mp"
[ "$(status_of POST "$URL" "$(cat "$T/mp")" "multipart/form-data; boundary=XyZ")" = 200 ] && [ "$(db_sum "$DB")" = "$before" ] \
  && ok "the same click again (multipart) is 200 and adds nothing" || not_ok "the same click again adds nothing"
campaign rules-mail promo-email-2 marketing email C3
cc --config "$T/c.yaml" --rules "$T/rules-mail" --date 2026-06-17 --format jsonl plan --dry-run > "$T/plan.jsonl" 2> "$T/err"
grep '"promo-email-2"' "$T/plan.jsonl" | grep -q '"reason": *"suppressed"' && ok "later marketing email is skipped as suppressed" \
  || not_ok "later marketing email is skipped" "$(cat "$T/plan.jsonl" "$T/err")"

# ---- d. robustness --------------------------------------------------------------------
before=$(db_sum "$DB")
head -c 2000000 /dev/zero | tr '\0' a > "$T/big"
python3 - "$PORT" "$T/big" <<'PY' > "$T/big.out"
import socket, sys
body = open(sys.argv[2], "rb").read()
def post(chunked):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.settimeout(20)
    head = b"POST /unsubscribe/x HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    head += b"Transfer-Encoding: chunked\r\n\r\n" if chunked else b"Content-Length: %d\r\n\r\n" % len(body)
    try:
        s.sendall(head)
        if chunked:
            for i in range(0, len(body), 65536):
                part = body[i:i + 65536]
                s.sendall(b"%x\r\n" % len(part) + part + b"\r\n")
            s.sendall(b"0\r\n\r\n")
        else:
            s.sendall(body[:1000])   # a declared 2 MB body is refused before it is read
        out = b""
        while b"\r\n" not in out:
            b = s.recv(4096)
            if not b: break
            out += b
        return out.split(b" ")[1].decode() if out else "closed"
    except OSError as e:
        return type(e).__name__
print(post(False), post(True))
PY
[ "$(cat "$T/big.out")" = "413 413" ] && ok "a 2 MB body (sized or chunked) is 413" || not_ok "a 2 MB body is 413" "$(cat "$T/big.out")"
[ "$(raw "b'GET /health?' + b'a' * 20000 + b' HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'")" = "HTTP/1.1 414 URI Too Long" ] \
  && ok "a 20 kB URL is 414" || not_ok "a 20 kB URL is 414"
[ "$(raw "b'GET /health?' + b'a' * 300000 + b' HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'")" = "HTTP/1.1 414 URI Too Long" ] \
  && ok "a 300 kB URL is 414" || not_ok "a 300 kB URL is 414"
[ "$(raw "b'GARBAGE GARBAGE\\r\\n\\r\\n'")" = "HTTP/1.1 400 Bad Request" ] && ok "a garbage request line is 400" || not_ok "a garbage request line is 400"
[ "$(raw "b'GET /health HTTP/1.1\\r\\nHost: x\\r\\nno colon here\\r\\n\\r\\n'")" = "HTTP/1.1 400 Bad Request" ] \
  && ok "a malformed header is 400" || not_ok "a malformed header is 400"
[ "$(raw "b'POST /unsubscribe/x HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: -5\\r\\n\\r\\n'")" = "HTTP/1.1 400 Bad Request" ] \
  && ok "a bad Content-Length is 400" || not_ok "a bad Content-Length is 400"
[ "$(raw "b'DELETE /health HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'")" = "HTTP/1.1 405 Method Not Allowed" ] \
  && ok "another method is 405" || not_ok "another method is 405"
raw "b'\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xfc\\x03\\x03' + bytes(range(256))" > /dev/null
raw "b'GARBAGE\\r\\n\\r\\n'" > /dev/null
[ "$(status_of GET "$BASE/nowhere")" = 404 ] && ok "an unknown path is 404" || not_ok "an unknown path is 404"
[ "$(status_of GET "$BASE/health")" = 200 ] && [ "$(db_sum "$DB")" = "$before" ] \
  && ok "after all that the server still answers, nothing written" || not_ok "the server still answers"

# ---- shutdown and the log --------------------------------------------------------------
kill -TERM "$SERVE_PID"
wait "$SERVE_PID"; rc=$?
[ "$rc" = 0 ] && ok "SIGTERM stops serve with status 0" || not_ok "SIGTERM stops serve with status 0" "exit $rc: $(tail -20 "$T/serve.log")"
grep -q -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T/serve.log" && not_ok "no sanitizer report" "$(grep -A5 Sanitizer "$T/serve.log")" || ok "no sanitizer report"
grep -q "GET /health 200" "$T/serve.log" && grep -q "POST /unsubscribe/\*\*\* 200" "$T/serve.log" \
  && ok "one log line per request: method, path, status" || not_ok "request log" "$(head -20 "$T/serve.log")"
if grep -q -F -e "$SECRET" -e "$USECRET" -e "$TOKEN" -e "13900139002" "$T/serve.log" "$T/serve.out"; then
  not_ok "no secret, token or number in the serve log"
else
  ok "no secret, token or number in the serve log"
fi
grep -q -F "$SECRET" "$DB" && not_ok "the callback secret is not stored" || ok "the callback secret is not stored"
