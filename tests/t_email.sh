#!/bin/sh
# Email as mail clients see it: every message parses with no defect under
# Python's email package (policy=default, Debian's python3), the decoded
# From, To and Subject are the intended Unicode strings (long Chinese
# subjects, names with commas and quotes), and CR/LF in data cannot add a
# header.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

DB="$T/care.db"
mkdir -p "$T/rules" "$T/templates"
sqlite3 "$DB" <<'SQL'
CREATE TABLE customers(id TEXT PRIMARY KEY, name TEXT, email TEXT, status TEXT, email_opt_in INTEGER, topic TEXT);
INSERT INTO customers VALUES
 ('E1', '李娜', 'li.na@example.cn', 'active', 1, '您的宽带套餐续约提醒以及本月专属优惠活动详情请查收并在方便时回复我们的客服人员'),
 ('E2', 'Li, Na "The Boss"', 'boss@example.com', 'active', 1, 'Renewal'),
 ('E3', '欧阳·娜娜，"小娜"', 'xiaona@example.cn', 'active', 1, '续约'),
 ('E4', 'Eve' || char(13) || char(10) || 'Bcc: spy@evil.example', 'eve@example.com', 'active', 1, 'Hi' || char(13) || char(10) || 'Bcc: spy2@evil.example'),
 ('E5', 'Zoë Ångström-Øster', 'zoe@example.se', 'active', 1, 'Grüße aus Köln — ça va?'),
 ('E6', '=?utf-8?q?fake?=', 'fake@example.com', 'active', 1, '=?utf-8?b?ZmFrZQ==?= subject'),
 ('E7', '😀 Smiley', 'smile@example.com', 'active', 1, '🎂 生日快乐 🎉');
SQL
printf 'campaign: mail\nkind: service\naudience: {where: status == "active"}\nrepeat: once\nchannels: [email]\ntemplate: t\n' > "$T/rules/mail.yaml"
printf -- '---\nsubject: "{{ customer.topic }}"\n---\n{{ customer.name }}，您好：\n\n这是一封测试邮件。A line with a dot:\n.\nand a long line %s end.\n' \
  "$(printf '很长的一行%.0s' $(seq 1 40))" > "$T/templates/t.email.liquid"
printf '<p>{{ customer.name }} &amp; friends</p>\n' > "$T/templates/t.email.html.liquid"
cat > "$T/c.yaml" <<YAML
database: $DB
rules: $T/rules
templates: $T/templates
outbox_dir: $T/outbox
sender: {name: '关怀银行, "客服中心"', email: care@bank.example.cn, reply_to: service@bank.example.cn}
YAML
expect_status 0 "plan and send seven emails" cc --config "$T/c.yaml" --date 2026-05-01 run
grep -q "sent 7," "$T/out" && ok "seven sent" || not_ok "seven sent" "$(cat "$T/out")"

sqlite3 -separator '	' "$DB" "SELECT o.id, c.id FROM care_outbox o JOIN customers c ON c.id = o.customer_id" > "$T/ids"
"$PY" - "$T/outbox/email" "$T/ids" "$DB" <<'PYEOF' > "$T/check" 2>&1 && ok "every email parses with no defect and decodes to the intended text" || not_ok "emails parse and decode" "$(cat "$T/check")"
import email, email.policy, sqlite3, sys
outbox, ids, db = sys.argv[1], sys.argv[2], sys.argv[3]
con = sqlite3.connect(db)
def clean(s):  # what carecast promises for header data: each CR and LF becomes a space
    return s.replace("\r", " ").replace("\n", " ")
for line in open(ids):
    oid, cid = line.rstrip("\n").split("\t")
    name, addr, topic = con.execute("SELECT name, email, topic FROM customers WHERE id=?", (cid,)).fetchone()
    raw = open("%s/%s.eml" % (outbox, oid), "rb").read()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b""), "bare LF in " + cid
    for l in raw.split(b"\r\n"):
        assert len(l) <= 998, (cid, "line over 998")
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    parts = list(msg.walk())
    for p in parts:
        assert not p.defects, (cid, p.defects)
    for h in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version"):
        assert len(msg.get_all(h) or []) == 1, (cid, h, msg.get_all(h))
        assert not msg[h].defects, (cid, h, msg[h].defects)
    assert msg.get_all("Bcc") is None, (cid, "Bcc header")
    to = msg["To"].addresses
    assert len(to) == 1 and to[0].addr_spec == addr, (cid, to)
    # Python joins adjacent encoded words with a space (RFC 2047 6.2 says not
    # to), so compare the display name with decode_header, which is exact.
    raw_to = str(msg.get("To", failobj=None))
    dn = to[0].display_name
    want = clean(name)
    assert dn == want or dn.replace(" ", "") == want.replace(" ", ""), (cid, dn, want)
    assert str(msg["Subject"]) == clean(topic), (cid, str(msg["Subject"]), clean(topic))
    frm = msg["From"].addresses[0]
    assert frm.addr_spec == "care@bank.example.cn" and frm.display_name.replace(" ", "") == '关怀银行,"客服中心"', frm
    body = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert body.startswith(clean(name) if "\n" not in name else name.split("\r")[0]), (cid, body[:40])
    assert "\n.\n" in body and "很长的一行" * 40 in body
    html = msg.get_body(("html",)).get_content()
    assert "&amp;" in html and ("<p>" in html)
print("ok")
PYEOF
# The injected Bcc never became a header: it is text inside To and Subject.
bad=""
for f in "$T"/outbox/email/*.eml; do
  # The header section ends at the first empty line.
  sed '/^\r\{0,1\}$/q' "$f" | grep -qi '^Bcc:' && bad="$bad $f"
done
[ -z "$bad" ] && ok "CR/LF in names and subjects never start a header" || not_ok "CR/LF never start a header" "$bad"
