#!/bin/sh
# Security checks over the real binary.  Owns three promises:
#
#   secrets   the SMTP password, the SMS gateway password, the http-json
#             token, the unsubscribe secret and the callback secret, set to
#             distinctive values, appear in no stdout/stderr of lint, plan,
#             preview, send, run, report, serve and trigger (with -v -v),
#             nowhere in the database files (main, -wal) and in no outbox
#             file or report (also not base64- or URL-encoded)
#   modes     what carecast writes is not world-readable: a database it
#             creates (and its -wal/-shm), the outbox folders and files,
#             report --output; umask 000 does not change that
#   TLS       curl transports verify certificates by default: an https
#             gateway on 127.0.0.1 with a self-signed certificate is
#             refused (and the message kept for retry) unless the transport
#             says `verify: false`
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/servers.sh"

SMTP_PW='SmtpPw-7f3a91c2e0'
SMS_PW='SmsPw-2b8e55d1c9'
JSON_TOKEN='JsonTok-6a0f3e8d27'
UNSUB_SECRET='UnsubSec-9c1d44e7aa51'
CB_SECRET='CbSec-5e6f7a8b9c0d1e2f'
export S_SMTP_PW="$SMTP_PW" S_SMS_PW="$SMS_PW" S_JSON_TOKEN="$JSON_TOKEN" S_UNSUB="$UNSUB_SECRET" S_CB="$CB_SECRET"
# Every form a secret could leak in: plain, base64 (SMTP AUTH PLAIN, basic
# auth) and URL-encoded.
forms() {
  python3 - "$@" <<'PY'
import base64, sys, urllib.parse
for s in sys.argv[1:]:
    print(s)
    print(urllib.parse.quote(s, safe=""))
    for pre in ("", "care:", "\0care\0"):
        b = base64.b64encode((pre + s).encode()).decode()
        print(b.rstrip("="))
PY
}
forms "$SMTP_PW" "$SMS_PW" "$JSON_TOKEN" "$UNSUB_SECRET" "$CB_SECRET" | sort -u > "$T/secrets.txt"

umask 000   # carecast must not depend on the caller's umask
W="$T/w"
mkdir -p "$W/rules" "$W/templates" "$T/logs"
start_smtp_sink
GW_PORT=$(free_port)
SERVE_PORT=$(free_port)
# A gateway for kannel and http-json: accepts everything.
cat > "$T/gw.py" <<'PY'
# Accepts every SMS request on 127.0.0.1 (kannel GET or http-json POST).
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def ok(self):
        n = int(self.headers.get("Content-Length", "0") or 0)
        if n: self.rfile.read(n)
        b = b"0: Accepted for delivery"
        self.send_response(202); self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
    do_GET = ok
    do_POST = ok
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
python3 "$T/gw.py" "$GW_PORT" & gw_pid=$!
at_exit "kill $gw_pid 2>/dev/null"
wait_port "$GW_PORT" 10

cat > "$W/care.yaml" <<YAML
database: $W/var/care.db
rules: $W/rules
templates: $W/templates
outbox_dir: $W/var/outbox
timezone: Asia/Shanghai
sender: {name: Care, email: care@example.cn}
unsubscribe: {url: "http://127.0.0.1:$SERVE_PORT/unsubscribe", secret_env: S_UNSUB}
serve: {listen: "127.0.0.1:$SERVE_PORT", public_url: "http://127.0.0.1:$SERVE_PORT", secret_env: S_CB}
transports:
  email: {type: smtp, host: 127.0.0.1, port: $SMTP_PORT, tls: none, username: care, password_env: S_SMTP_PW}
  sms: {type: kannel, url: "http://127.0.0.1:$GW_PORT/cgi-bin/sendsms", username: care, password_env: S_SMS_PW, from: "10690000"}
YAML
sed -e "s|  sms: {type: kannel.*|  sms: {type: http-json, url: \"http://127.0.0.1:$GW_PORT/send\", token_env: S_JSON_TOKEN, body: '{\"phone\": \"{{ to }}\", \"text\": \"{{ text }}\"}'}|" \
    -e "s|  email: {type: smtp.*|  email: {type: file}|" "$W/care.yaml" > "$W/file.yaml"
printf 'campaign: promo\nkind: marketing\naudience: {where: status == "active"}\nrepeat: once\nchannels: [email]\ntemplate: t\n' > "$W/rules/promo.yaml"
printf 'campaign: notice\nkind: service\naudience: {where: status == "active"}\nrepeat: once\nchannels: [sms]\ntemplate: t\n' > "$W/rules/notice.yaml"
printf -- '---\nsubject: Hello {{ customer.name }}\n---\nHello {{ customer.name }}. Leave: {{ unsubscribe_url }}\n' > "$W/templates/t.email.liquid"
printf 'Hello {{ customer.name }}\n' > "$W/templates/t.sms.liquid"

log=0
# run NAME ARGS...: carecast with -v -v, output kept in $T/logs
run() {
  _n=$1; shift
  log=$((log + 1))
  "$CARECAST" -v -v "$@" > "$T/logs/$log-$_n.out" 2> "$T/logs/$log-$_n.err"
}
run demo-data --config "$W/care.yaml" demo-data --customers 40
run lint --config "$W/care.yaml" lint
run preview --config "$W/care.yaml" --date 2026-05-01 preview promo --limit 3
run plan-dry --config "$W/care.yaml" --date 2026-05-01 --format jsonl plan --dry-run
run run --config "$W/care.yaml" --now 2026-05-01T10:00:00 run
run send --config "$W/care.yaml" --now 2026-05-01T12:00:00 send
run trigger --config "$W/care.yaml" --now 2026-05-01T13:00:00 trigger notice --where 'id != ""' --yes
run report --config "$W/care.yaml" --now 2026-05-02T10:00:00 report
run report-html --config "$W/care.yaml" --now 2026-05-02T10:00:00 --format html report --output "$W/var/report.html"
run report-csv --config "$W/care.yaml" --now 2026-05-02T10:00:00 --format csv report --output "$W/var/report.csv"
# The file transport and http-json: outbox files, bearer token.
sqlite3 "$W/var/care.db" "UPDATE care_outbox SET status='planned', attempts=0, next_attempt_at=NULL WHERE status IN ('sent','retry','failed')"
run file-send --config "$W/file.yaml" --now 2026-05-03T10:00:00 send
# serve: requests with and without the secret, then SIGTERM.
"$CARECAST" -v -v --config "$W/care.yaml" serve > "$T/logs/serve.out" 2> "$T/logs/serve.err" &
serve_pid=$!
at_exit "kill $serve_pid 2>/dev/null"
wait_port "$SERVE_PORT" 10
id=$(sqlite3 "$W/var/care.db" "SELECT id FROM care_outbox WHERE channel='sms' LIMIT 1")
for path in "/health" "/kannel/dlr/$CB_SECRET?id=$id&status=1&answer=ok" "/kannel/dlr/wrong-secret?id=$id&status=1" \
            "/sms/inbound/$CB_SECRET?from=%2B8613800138000&text=hello"; do
  curl -s --noproxy '*' -o /dev/null "http://127.0.0.1:$SERVE_PORT$path"
done
kill -TERM "$serve_pid"; wait "$serve_pid"
n_cmds=$(ls "$T/logs" | wc -l | tr -d ' ')

# Each command did its work (a leak test over failing commands proves little).
grep -q "sent [1-9]" "$T/logs/"*-run.out && grep -q "sent [1-9]" "$T/logs/"*-file-send.out \
  && [ "$(find "$W/var/outbox" -type f | wc -l)" -gt 0 ] && [ -s "$W/var/report.html" ] \
  && ok "the commands ran and sent ($n_cmds logs)" || not_ok "the commands ran" "$(tail -n 3 "$T/logs/"*.err | head -40)"
[ "$(grep -c 'kannel/dlr/\*\*\*' "$T/logs/serve.err")" -ge 2 ] && ok "serve logs callback paths with the secret as ***" \
  || not_ok "serve log redaction" "$(cat "$T/logs/serve.err")"

# leaks WHERE FILES...: ok when no form of any secret is in the files.
leaks() {
  _where=$1; shift
  _hit=$(grep -a -l -F -f "$T/secrets.txt" "$@" 2>/dev/null | head -3)
  [ -z "$_hit" ] && ok "no secret in $_where" || not_ok "no secret in $_where" "$_hit: $(grep -a -o -F -f "$T/secrets.txt" $_hit | head -3)"
}
leaks "stdout/stderr of $n_cmds command runs (lint, preview, plan, run, send, trigger, report, serve)" "$T"/logs/*
leaks "the database files" "$W/var/care.db" $(ls "$W"/var/care.db-wal 2>/dev/null)
sqlite3 "$W/var/care.db" .dump > "$T/dump.sql"
leaks "the database dump" "$T/dump.sql"
leaks "the outbox files and reports" $(find "$W/var" -type f ! -name 'care.db*')
leaks "the configuration written to disk" "$W/care.yaml" "$W/file.yaml"
# What the servers received is where secrets belong: the check can fail.
grep -a -q "unsubscribe/" "$W/var/outbox/email/"*.eml && ok "the outbox email carries a signed unsubscribe link (not the secret)" \
  || not_ok "unsubscribe link in the outbox"

# ---- modes -----------------------------------------------------------------
# world_bits FILES...: prints the files any user could read or enter
world_bits() { for f in "$@"; do [ -e "$f" ] && [ $(( 0$(stat -c %a "$f") & 07 )) -ne 0 ] && echo "$f $(stat -c %a "$f")"; done; }
bad=$(world_bits "$W/var/care.db" "$W/var/care.db-wal" "$W/var/care.db-shm" "$W/var/care.db.send-lock")
[ -z "$bad" ] && ok "the database files are not world-readable under umask 000: $(stat -c %a "$W/var/care.db")" || not_ok "database modes" "$bad"
bad=$(world_bits $(find "$W/var/outbox" "$W/var/report.html" "$W/var/report.csv"))
[ -z "$bad" ] && ok "outbox folders and files and report --output are not world-readable ($(find "$W/var/outbox" -type f | wc -l | tr -d ' ') files)" \
  || not_ok "outbox/report modes" "$(echo "$bad" | head -5)"

# ---- TLS verification ------------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
  -keyout "$T/key.pem" -out "$T/cert.pem" > /dev/null 2>&1
TLS_PORT=$(free_port)
cat > "$T/tls.py" <<'PY'
# An https SMS gateway on 127.0.0.1 with a self-signed certificate.
import ssl, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
        b = b'{"accepted": true}'
        self.send_response(200); self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
srv = HTTPServer(("127.0.0.1", int(sys.argv[1])), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(sys.argv[2], sys.argv[3])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
PY
python3 "$T/tls.py" "$TLS_PORT" "$T/cert.pem" "$T/key.pem" & tls_pid=$!
at_exit "kill $tls_pid 2>/dev/null"
wait_port "$TLS_PORT" 10
mkdir -p "$T/r-tls"
cp "$W/rules/notice.yaml" "$T/r-tls/"
sed -e "s|  sms: {type: http-json, url: \"http://127.0.0.1:$GW_PORT/send\"|  sms: {type: http-json, url: \"https://127.0.0.1:$TLS_PORT/send\"|" \
    -e "s|rules: $W/rules|rules: $T/r-tls|" "$W/file.yaml" > "$T/tls.yaml"
sqlite3 "$W/var/care.db" "UPDATE care_outbox SET status='planned', attempts=0, next_attempt_at=NULL WHERE channel='sms' AND id=$id"
"$CARECAST" --config "$T/tls.yaml" --now 2026-05-01T18:00:00 send > "$T/out" 2> "$T/err"
grep -q "sent 0, retry 1, failed 0" "$T/out" && sqlite3 "$W/var/care.db" "SELECT last_error FROM care_outbox WHERE id=$id" | grep -qi "certificate" \
  && ok "a self-signed https gateway is refused by default, the message kept: $(sqlite3 "$W/var/care.db" "SELECT last_error FROM care_outbox WHERE id=$id" | cut -c1-70)" \
  || not_ok "TLS verified by default" "$(cat "$T/out" "$T/err"); $(sqlite3 "$W/var/care.db" "SELECT status, last_error FROM care_outbox WHERE id=$id")"
sed -i "s|token_env: S_JSON_TOKEN,|token_env: S_JSON_TOKEN, verify: false,|" "$T/tls.yaml"
"$CARECAST" --config "$T/tls.yaml" --now 2026-05-01T20:00:00 send > "$T/out" 2> "$T/err"
grep -q "sent 1, retry 0, failed 0" "$T/out" && ok "with verify: false the same gateway is used (so the refusal above was the certificate)" \
  || not_ok "verify: false" "$(cat "$T/out" "$T/err")"
