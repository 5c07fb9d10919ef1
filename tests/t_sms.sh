#!/bin/sh
# SMS encoding and segment counts, table-driven through the real binary:
# each row of a `texts` table is one SMS (template `{{ row.text }}`), sent
# by the file transport, whose JSON says the encoding and the segments.
# Expected values are worked out by hand from GSM 03.38 and the 160/153,
# 70/67 rules; an extension character or a surrogate pair never straddles
# two segments.
. "$(dirname "$0")/lib.sh"

DB="$T/care.db"
mkdir -p "$T/rules" "$T/templates"
python3 - "$DB" <<'PY'
import sqlite3, sys
cases = [
  # (text, encoding, segments)
  ("Hello", "gsm7", 1),
  ("a" * 160, "gsm7", 1),
  ("a" * 161, "gsm7", 2),
  ("a" * 306, "gsm7", 2),
  ("a" * 307, "gsm7", 3),
  ("a" * 459, "gsm7", 3),
  ("a" * 460, "gsm7", 4),
  ("€", "gsm7", 1),
  ("€" * 80, "gsm7", 1),                  # 160 septets
  ("€" * 81, "gsm7", 2),                  # 162: 76 per 153-septet part
  ("a" * 158 + "€", "gsm7", 1),           # exactly 160
  ("a" * 159 + "€", "gsm7", 2),           # 161
  ("a" * 152 + "€" + "a" * 152, "gsm7", 3),  # the € cannot straddle parts 1 and 2
  ("{}[]~|^\\", "gsm7", 1),               # the extension table
  ("Grüße, señor, à bientôt: Ünïcödé? no: ü ñ à é ù ì ò Ä Ö Ü ß Δ Ω", "ucs2", 1),
  ("Grüße, señor, à Ä Ö Ü ß Δ Ω ù ì ò é", "gsm7", 1),  # all in the GSM basic set
  ("Café @ £5 ¥ $ ¿¡ §", "gsm7", 1),
  ("生日快乐", "ucs2", 1),
  ("生" * 70, "ucs2", 1),
  ("生" * 71, "ucs2", 2),
  ("生" * 134, "ucs2", 2),
  ("生" * 135, "ucs2", 3),
  ("😀", "ucs2", 1),
  ("😀" * 35, "ucs2", 1),                 # 70 UTF-16 units
  ("😀" * 36, "ucs2", 2),                 # 33 pairs per 67-unit part
  ("生" * 66 + "😀", "ucs2", 1),          # 68 units
  ("生" * 69 + "😀", "ucs2", 2),          # 71 units
  ("生" * 66 + "😀" + "生" * 66, "ucs2", 3),  # the pair cannot straddle at unit 67
  ("Hello 世界", "ucs2", 1),
  ("Привет, мир", "ucs2", 1),
  ("á", "ucs2", 1),                       # á is not in GSM 03.38 (à is)
  ("a" * 69 + "生", "ucs2", 1),
  ("a" * 70 + "生", "ucs2", 2),
  ("Line one\nLine two", "gsm7", 1),
]
con = sqlite3.connect(sys.argv[1])
con.execute("CREATE TABLE customers(id TEXT PRIMARY KEY, phone TEXT)")
con.execute("INSERT INTO customers VALUES ('S', '+8613800138000')")
con.execute("CREATE TABLE texts(id INTEGER PRIMARY KEY, customer_id TEXT, text TEXT, encoding TEXT, segments INTEGER)")
con.executemany("INSERT INTO texts(customer_id, text, encoding, segments) VALUES ('S', ?, ?, ?)", cases)
con.commit()
PY
printf 'campaign: sms\nkind: service\naudience: {from: texts}\nrepeat: once\nchannels: [sms]\ntemplate: t\n' > "$T/rules/sms.yaml"
printf '{{ row.text }}' > "$T/templates/t.sms.liquid"
cat > "$T/c.yaml" <<YAML
database: $DB
rules: $T/rules
templates: $T/templates
outbox_dir: $T/outbox
sms: {max_segments: 10}
YAML
expect_status 0 "send the table of texts" cc --config "$T/c.yaml" --date 2026-05-01 run
n=$(sqlite3 "$DB" "SELECT count(*) FROM texts")
sqlite3 -separator '	' "$DB" "SELECT o.id, t.id, t.encoding, t.segments FROM care_outbox o JOIN texts t ON CAST(t.id AS TEXT) = o.row_id" > "$T/map"
while IFS='	' read -r oid tid enc segs; do
  python3 - "$T/outbox/sms/$oid.json" "$DB" "$tid" "$enc" "$segs" <<'PY' > "$T/r" 2>&1 && ok "text $tid: $enc, $segs segment(s)" || not_ok "text $tid" "$(cat "$T/r")"
import json, sqlite3, sys
m = json.load(open(sys.argv[1]))
text = sqlite3.connect(sys.argv[2]).execute("SELECT text FROM texts WHERE id=?", (int(sys.argv[3]),)).fetchone()[0]
assert m["text"] == text, (m["text"][:40], text[:40])
assert (m["encoding"], m["segments"]) == (sys.argv[4], int(sys.argv[5])), (m["encoding"], m["segments"])
PY
done < "$T/map"
[ "$(wc -l < "$T/map")" = "$n" ] && ok "all $n texts were sent" || not_ok "all texts were sent"

# Over max_segments (default 3, or the campaign's own): not sent by SMS, with a warning.
mkdir -p "$T/long"
printf 'campaign: long\nkind: service\naudience: {from: texts, where: length(text) == 460}\nrepeat: once\nchannels: [sms]\ntemplate: t\n' > "$T/long/long.yaml"
printf 'campaign: long2\nkind: service\nmax_segments: 4\naudience: {from: texts, where: length(text) == 460}\nrepeat: once\nchannels: [sms]\ntemplate: t\n' > "$T/long/long2.yaml"
sed -i '/max_segments/d' "$T/c.yaml"
expect_status 0 "plan texts over max_segments" cc --config "$T/c.yaml" --rules "$T/long" --date 2026-05-01 --format jsonl plan --dry-run
grep -q '"campaign": "long", .*"status": "skipped", "reason": "too-long"' "$T/out" && ok "a 4-segment SMS over the default 3 is skipped as too-long" || not_ok "too-long skipped" "$(cat "$T/out")"
grep -q "warning: campaign 'long' step 'main' customer S: the SMS is 4 segments (gsm7), over max_segments 3" "$T/err" && ok "with a warning" || not_ok "with a warning" "$(cat "$T/err")"
grep -q '"campaign": "long2", .*"status": "planned"' "$T/out" && ok "a campaign's max_segments: 4 lets it through" || not_ok "campaign max_segments" "$(cat "$T/out")"
