#!/bin/sh
# Marketing email carries a signed one-click unsubscribe link (RFC 8058):
# List-Unsubscribe + List-Unsubscribe-Post, the token an HMAC-SHA256 with the
# secret from the environment, checked here independently.  Service email
# has none, and an unsubscribe URL without a secret is refused.
. "$(dirname "$0")/lib.sh"

DB="$T/care.db"
mkdir -p "$T/rules" "$T/templates"
sqlite3 "$DB" <<'SQL'
CREATE TABLE customers(id TEXT PRIMARY KEY, name TEXT, email TEXT, status TEXT, email_opt_in INTEGER);
INSERT INTO customers VALUES ('C:1', 'Ann', 'ann@example.com', 'active', 1);
SQL
for kind in marketing service; do
  printf 'campaign: %s\nkind: %s\naudience: {where: status == "active"}\nrepeat: once\nchannels: [email]\ntemplate: t\n' "$kind" "$kind" > "$T/rules/$kind.yaml"
done
printf -- '---\nsubject: News\n---\nHello {{ customer.name }}.\n{%% if unsubscribe_url %%}Unsubscribe: {{ unsubscribe_url }}{%% endif %%}\n' > "$T/templates/t.email.liquid"
cat > "$T/c.yaml" <<YAML
database: $DB
rules: $T/rules
templates: $T/templates
outbox_dir: $T/outbox
sender: {name: Care, email: care@example.cn}
unsubscribe:
  url: https://care.example.cn/unsubscribe
  secret_env: T_UNSUB_SECRET
YAML
export T_UNSUB_SECRET="s3cret-unsubscribe-key"
expect_status 0 "plan and send" cc --config "$T/c.yaml" --date 2026-05-01 run
m=$(sqlite3 "$DB" "SELECT id FROM care_outbox WHERE campaign='marketing'")
s=$(sqlite3 "$DB" "SELECT id FROM care_outbox WHERE campaign='service'")
python3 - "$T/outbox/email/$m.eml" "$T_UNSUB_SECRET" <<'PY' && ok "marketing email: List-Unsubscribe with a valid HMAC-SHA256 token" || not_ok "marketing email: List-Unsubscribe with a valid token"
import base64, email, email.policy, hashlib, hmac, sys
msg = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
lu = str(msg["List-Unsubscribe"])
assert lu.startswith("<https://care.example.cn/unsubscribe/") and lu.endswith(">"), lu
assert str(msg["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
token = lu[len("<https://care.example.cn/unsubscribe/"):-1]
payload_b64, mac_b64 = token.split(".")
unb = lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
payload = unb(payload_b64)
assert payload == b"v1\x1fC:1\x1fann@example.com", payload
want = hmac.new(sys.argv[2].encode(), payload, hashlib.sha256).digest()
assert hmac.compare_digest(unb(mac_b64), want)
body = msg.get_body(("plain",)).get_content()
assert "Unsubscribe: https://care.example.cn/unsubscribe/" + token in body, body
PY
grep -q "List-Unsubscribe" "$T/outbox/email/$s.eml" && not_ok "service email has no List-Unsubscribe" || ok "service email has no List-Unsubscribe"
grep -rq "$T_UNSUB_SECRET" "$T/outbox" "$T/out" "$T/err" && not_ok "the secret appears nowhere" || ok "the secret appears nowhere"

unset T_UNSUB_SECRET
sqlite3 "$DB" "DELETE FROM care_outbox; DELETE FROM care_occurrences"
before=$(db_sum "$DB")
expect_status 2 "an unsubscribe URL without its secret is refused" cc --config "$T/c.yaml" --date 2026-05-02 plan
grep -q "unsubscribe.url is set but its secret is empty" "$T/err" && ok "the refusal says what to set" || not_ok "the refusal says what to set" "$(cat "$T/err")"
[ "$(db_sum "$DB")" = "$before" ] && ok "and nothing is planned" || not_ok "and nothing is planned"
