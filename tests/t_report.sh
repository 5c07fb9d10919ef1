#!/bin/sh
# `carecast report`: exact figures per campaign and step (planned, sent,
# delivered, failed, skipped by reason, holdout), the SLA of a complaint
# acknowledgement (met, breached, pending), coverage by tier, the text, CSV
# and JSON layouts, and the HTML page rendered in headless Chromium.
. "$(dirname "$0")/lib.sh"

DB="$T/care.db"
mkdir -p "$T/rules" "$T/templates"
sqlite3 "$DB" <<'SQL'
CREATE TABLE customers(id TEXT PRIMARY KEY, name TEXT, email TEXT, phone TEXT, status TEXT, tier TEXT,
  email_opt_in INTEGER, sms_opt_in INTEGER);
INSERT INTO customers VALUES
 ('C1', 'Ann', 'ann@example.com', '+8613800138001', 'active', 'A', 1, 1),
 ('C2', 'Bob', 'bob@example.com', '+8613800138002', 'active', 'A', 1, 1),
 ('C3', 'Cy',  NULL,              NULL,             'active', 'B', 1, 1),
 ('C4', 'Di',  'di@example.com',  '+8613800138004', 'active', 'B', 0, 1),
 ('C5', 'Ed <script>', 'ed@example.com', '+8613800138005', 'active', 'B', 1, 1);
-- as `carecast event` creates it, so the events campaign plans from day one
CREATE TABLE events(id INTEGER PRIMARY KEY, customer_id TEXT NOT NULL, type TEXT NOT NULL, at TEXT NOT NULL, data TEXT);
SQL
cat > "$T/rules/promo.yaml" <<'YAML'
campaign: promo
title: Spring <promotion> & more
kind: marketing
audience: {where: status == "active"}
repeat: once
channels: [email]
template: t
YAML
cat > "$T/rules/notice.yaml" <<'YAML'
campaign: notice
title: Service notice
kind: service
audience: {where: tier == "B"}
repeat: once
channels: [sms]
template: t
YAML
cat > "$T/rules/winback.yaml" <<'YAML'
campaign: winback
title: Win-back
kind: marketing
holdout: 50
audience: {where: tier == "A"}
repeat: once
channels: [email]
template: t
YAML
cat > "$T/rules/ack.yaml" <<'YAML'
campaign: complaint-ack
title: Complaint acknowledgement
kind: service
sla: 24 hours
audience: {from: events, where: type == "complaint_opened"}
when: at
channels: [sms]
template: ack
YAML
printf -- '---\nsubject: Hi\n---\nHi {{ customer.name }}\n' > "$T/templates/t.email.liquid"
printf 'Hi {{ customer.name }}\n' > "$T/templates/t.sms.liquid"
printf 'Hi {{ customer.name }}, we have your complaint and reply within 24 hours.\n' > "$T/templates/ack.sms.liquid"
cat > "$T/care.yaml" <<YAML
database: $DB
timezone: Asia/Shanghai
rules: $T/rules
templates: $T/templates
outbox_dir: $T/outbox
sender: {name: Care, email: care@example.cn}
transports:
  email: {type: file}
  sms: {type: file, max_age: 3 days}
unsubscribe: {url: "https://example.cn/u", secret_env: REPORT_TEST_SECRET}
policy:
  coverage:
    tier: {A: "2 per month", B: "1 per month"}
YAML
export REPORT_TEST_SECRET=s3cret-never-printed-42
c() { cc --config "$T/care.yaml" "$@"; }

# Day one: a marketing suppression, then the broadcast campaigns.  C3 has no
# address, C4 no email consent, C5 is suppressed; winback holds C1 out (its
# hash falls in the 50 % holdout); notice to C5 fails permanently.
expect_status 0 "suppress an address" c --date 2026-05-01 suppress add ed@example.com
expect_status 0 "plan day one" c --now 2026-05-01T08:30:00+08:00 plan
sqlite3 "$DB" "UPDATE care_outbox SET status='failed', last_error='550 no such user' WHERE campaign='notice' AND customer_id='C5'"
expect_status 0 "send day one" c --now 2026-05-01T09:00:00+08:00 send
# Delivery reports as `serve` records them.
sqlite3 "$DB" "UPDATE care_outbox SET delivery_status='delivered', delivered_at=sent_at+60 WHERE campaign='promo' AND customer_id='C1';
               UPDATE care_outbox SET delivery_status='undelivered', delivered_at=sent_at+60 WHERE campaign='promo' AND customer_id='C2'"

# Complaints: C1's acknowledged in 10 minutes (met), C2's only the next day
# (breached), C5's opened an hour before the report (pending).
expect_status 0 "complaint C1" c --now 2026-05-01T10:00:00+08:00 event complaint_opened --customer C1
expect_status 0 "plan C1's acknowledgement" c --now 2026-05-01T10:05:00+08:00 plan
expect_status 0 "send C1's acknowledgement" c --now 2026-05-01T10:10:00+08:00 send
expect_status 0 "complaint C2" c --now 2026-05-01T11:00:00+08:00 event complaint_opened --customer C2
expect_status 0 "plan C2's acknowledgement" c --now 2026-05-01T11:05:00+08:00 plan
expect_status 0 "send C2's acknowledgement a day late" c --now 2026-05-02T12:00:00+08:00 send
expect_status 0 "complaint C5" c --now 2026-05-02T20:00:00+08:00 event complaint_opened --customer C5
expect_status 0 "plan C5's acknowledgement" c --now 2026-05-02T20:05:00+08:00 plan

NOW=2026-05-02T21:00:00+08:00
sum_before=$(db_sum "$DB")
expect_status 0 "report as JSON" c --now $NOW --format json report
cp "$T/out" "$T/report.json"
python3 - "$T/report.json" <<'PY' && ok "JSON figures per campaign and step" || not_ok "JSON figures" "$(head -c 1500 "$T/report.json")"
import json, sys
r = json.load(open(sys.argv[1]))
camps = {c["campaign"]: c for c in r["campaigns"]}
def step(c, s="main"):
    return {x["step"]: x for x in camps[c]["steps"]}[s]
F = ("planned", "sent", "delivered", "undelivered", "failed", "waiting", "skipped", "holdout")
def figs(d): return tuple(d[k] for k in F)
assert sorted(camps) == ["complaint-ack", "notice", "promo", "winback"], sorted(camps)
assert figs(step("promo")) == (5, 2, 1, 1, 0, 0, 3, 0), figs(step("promo"))
assert step("promo")["skipped_by_reason"] == {"no-address": 1, "no-consent": 1, "suppressed": 1}, step("promo")["skipped_by_reason"]
assert figs(step("notice")) == (3, 1, 0, 0, 1, 0, 1, 0), figs(step("notice"))
assert step("notice")["skipped_by_reason"] == {"no-address": 1}
assert figs(step("winback")) == (2, 1, 0, 0, 0, 0, 0, 1), figs(step("winback"))
assert figs(step("complaint-ack")) == (3, 2, 0, 0, 0, 1, 0, 0), figs(step("complaint-ack"))
assert figs(camps["promo"]) == figs(step("promo"))
assert camps["promo"]["title"] == "Spring <promotion> & more"
assert figs(r["totals"]) == (13, 6, 1, 1, 1, 1, 4, 1), figs(r["totals"])
assert r["totals"]["skipped_by_reason"] == {"no-address": 2, "no-consent": 1, "suppressed": 1}
ch = {c["channel"]: c for c in r["channels"]}
assert ch["sms"]["sent"] == 3 and ch["email"]["sent"] == 3, ch
sla = camps["complaint-ack"]["sla"]
assert (sla["sla_seconds"], sla["occurrences"], sla["met"], sla["breached"], sla["pending"]) == (86400, 3, 1, 1, 1), sla
assert sla["within_sla_rate"] == 0.5
assert camps["promo"]["sla"] is None
cov = {c["label"]: c for c in r["coverage"]}
assert (cov["A"]["customers"], cov["A"]["contacts"], cov["A"]["minimum"], cov["A"]["below_minimum"]) == (2, 5, 2, 0), cov["A"]
assert (cov["B"]["customers"], cov["B"]["contacts"], cov["B"]["minimum"], cov["B"]["below_minimum"]) == (3, 1, 1, 2), cov["B"]
assert (r["since"], r["until"]) == ("2026-04-03", "2026-05-02"), (r["since"], r["until"])
PY
[ "$(db_sum "$DB")" = "$sum_before" ] && ok "report changes nothing in the database" || not_ok "report changed the database"

# An hour after the deadline the pending one is breached.
c --now 2026-05-03T20:30:00+08:00 --format json report --campaign complaint-ack > "$T/late.json"
python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert [c["campaign"] for c in r["campaigns"]] == ["complaint-ack"]
s = r["campaigns"][0]["sla"]
assert (s["met"], s["breached"], s["pending"]) == (1, 2, 0), s' "$T/late.json" \
  && ok "--campaign; an unanswered complaint past its SLA is breached" || not_ok "late SLA" "$(cat "$T/late.json")"

# The period: 2026-05-02 holds C5's acknowledgement (waiting, by its
# send_after) and C2's, planned for 05-01 but sent on 05-02 (by sent_at);
# the SLA occurrence of the day is C5's complaint, still pending.
c --now $NOW --format json report --since 2026-05-02 --until 2026-05-02 > "$T/day.json"
python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
camps = {c["campaign"]: c for c in r["campaigns"]}
assert set(camps) == {"complaint-ack"}, set(camps)
a = camps["complaint-ack"]
assert (a["planned"], a["sent"], a["waiting"]) == (2, 1, 1), a
s = a["sla"]
assert (s["occurrences"], s["pending"]) == (1, 1), s' "$T/day.json" \
  && ok "--since/--until select by business-zone day" || not_ok "period" "$(cat "$T/day.json")"

expect_status 0 "report as CSV" c --now $NOW --format csv report
python3 - "$T/out" <<'PY' && ok "CSV parses: campaign,step,channel,metric,value" || not_ok "CSV" "$(head -20 "$T/out")"
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
assert rows[0] == ["campaign", "step", "channel", "metric", "value"]
assert all(len(x) == 5 for x in rows)
d = {(a, b, c, m): int(v) for a, b, c, m, v in rows[1:]}
assert d[("promo", "main", "email", "sent")] == 2
assert d[("promo", "main", "", "skipped:suppressed")] == 1
assert d[("complaint-ack", "", "", "sla_breached")] == 1
assert d[("", "", "", "coverage:tier=B:below")] == 2
PY

expect_status 0 "report as text" c --now $NOW report
grep -q '^  promo (Spring <promotion> & more) ' "$T/out" && grep -q '^  complaint-ack ' "$T/out" && grep -q 'skipped: no-address 1, no-consent 1, suppressed 1' "$T/out" \
  && grep -q '^  complaint-ack  *24 hours  *3  *1  *1  *1  *50.0%' "$T/out" \
  && ok "text lists campaigns, reasons and the SLA" || not_ok "text" "$(cat "$T/out")"

# Bad arguments: exit 2, nothing written.
expect_status 2 "a bad --since" c --now $NOW report --since 2026-13-01 --output "$T/bad.html"
expect_status 2 "--since after --until" c --now $NOW report --since 2026-05-03 --until 2026-05-01 --output "$T/bad.html"
expect_status 2 "an unknown campaign" c --now $NOW report --campaign nope --output "$T/bad.html"
expect_status 2 "jsonl is not a report format" c --now $NOW --format jsonl report
expect_status 2 "html is a format of report only" c --now $NOW --format html suppress list
[ ! -e "$T/bad.html" ] && ok "nothing is written on bad arguments" || not_ok "bad arguments wrote a file"

expect_status 0 "report as HTML to a file" c --now $NOW --format html report --output "$T/report.html"
[ ! -s "$T/out" ] && ok "--output: nothing on standard output" || not_ok "--output printed" "$(head -c 300 "$T/out")"
! grep -q -i -E 'src=|href=|<script|url\(|@import' "$T/report.html" && ok "the page is self-contained and data is escaped" \
  || not_ok "self-contained" "$(grep -i -o -E '.{40}(src=|href=|<script|url\(|@import).{40}' "$T/report.html" | head -3)"
grep -q 'Spring &lt;promotion&gt; &amp; more' "$T/report.html" && ok "titles are HTML-escaped" || not_ok "escaping"
for f in "$T/report.json" "$T/report.html" "$T/out"; do
  grep -q "$REPORT_TEST_SECRET" "$f" && not_ok "a secret leaked into $(basename "$f")"
done
ok "no secret in any report"

# Rendered in a real browser: the screenshot is a page with colour on it,
# and the DOM Chromium built holds the figures.
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
  skip "HTML renders in headless Chromium" "chromium is not installed (etc/install-deps.sh test)"
else
  chrome() {
    timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
      --disable-background-networking --disable-component-update --disable-sync --disable-dev-shm-usage \
      --user-data-dir="$(mktemp -d "$T/chrome.XXXXXX")" "$@" "file://$T/report.html" 2> "$T/chrome.err"
  }
  chrome --screenshot="$T/report.png" --window-size=1280,2000 > /dev/null
  python3 - "$T/report.png" <<'PY' && ok "the screenshot is a rendered page, not blank" || not_ok "screenshot" "$(tail -5 "$T/chrome.err")"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20000, len(data)
# Decode the PNG with the standard library: count distinct colours.
pos, idat, w = 8, b"", 0
while pos < len(data):
    n, typ = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if typ == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
        assert depth == 8 and ctype in (2, 6), (depth, ctype)
        bpp = 3 if ctype == 2 else 4
    elif typ == b"IDAT":
        idat += body
    pos += 12 + n
raw = zlib.decompress(idat)
stride = w * bpp
colours, prev, i = set(), bytearray(stride), 0
for y in range(h):
    f = raw[i]; line = bytearray(raw[i + 1:i + 1 + stride]); i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b = prev[x]; c = prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    prev = line
    if y % 4 == 0:
        for x in range(0, w, 4): colours.add(bytes(line[x * bpp:x * bpp + 3]))
# The bar colours of the chart must be on the page.
for want in (b"\x3f\x7c\xc4", b"\x3a\xa7\x6d", b"\xd6\x45\x45", b"\xe6\xa2\x3c"):
    assert want in colours, want.hex()
assert len(colours) > 50, len(colours)
PY
  chrome --dump-dom > "$T/dom.html"
  python3 - "$T/dom.html" <<'PY' && ok "the rendered DOM holds the figures" || not_ok "DOM" "$(head -c 600 "$T/dom.html")"
import re, sys
d = open(sys.argv[1]).read()
assert "Customer care report" in d
assert d.count("<svg") >= 2
sla = re.search(r'<table id="sla">.*?</table>', d, re.S).group(0)
assert re.search(r"Complaint acknowledgement</td><td>24 hours</td><td>3</td><td[^>]*>1</td><td[^>]*>1</td><td>1</td><td>50.0%</td>", sla), sla
cov = re.search(r'<table id="coverage">.*?</table>', d, re.S).group(0)
assert re.search(r"<td>B</td><td>3</td><td>1</td><td>0.33</td><td>1 per month</td><td>1</td><td[^>]*>2</td>", cov), cov
assert "2 sent" in d and "3 skipped" in d
PY
fi

# Coverage from computed segment values (they win over a customers column),
# and a coverage key that is neither: said on stderr, the rest still reported.
sed -e 's/tier: {A: "2 per month", B: "1 per month"}/tier: {A: "1 per week"}\n    nosuch: {X: "1 per day"}/' "$T/care.yaml" > "$T/seg.yaml"
sqlite3 "$DB" "INSERT INTO care_segment_values(segment, customer_id, label, computed_at) VALUES
  ('tier', 'C1', 'A', 0), ('tier', 'C3', 'A', 0), ('tier', 'C4', 'B', 0);
  INSERT INTO care_segment_runs(segment, computed_at, customers) VALUES ('tier', 0, 3)"
expect_status 0 "report with segment coverage" cc --config "$T/seg.yaml" --now $NOW --format json report
python3 -c '
import json, sys
cov = {c["segment"] + "=" + c["label"]: c for c in json.load(open(sys.argv[1]))["coverage"]}
a = cov["tier=A"]
# C1 (2 sent) and C3 (none); 1 per week over 30 days is 4.
assert (a["source"], a["customers"], a["contacts"], a["minimum"], a["below_minimum"]) == ("segment", 2, 2, 4, 2), a
assert cov["nosuch=X"]["source"] is None' "$T/out" && ok "coverage labels come from computed segments" || not_ok "segment coverage" "$(cat "$T/out")"
grep -q "segment 'nosuch' has not been computed" "$T/err" && ok "an unknown coverage segment is reported" || not_ok "unknown coverage segment" "$(cat "$T/err")"

# A message counts on the day it was sent, or failed, not on the day it was
# planned for: catch-up messages planned on 05-10 and sent on 05-11 are the
# news of 05-11 (they once showed as "no messages in this period").
D2="$T/catchup.db"
mkdir -p "$T/rules2"
sqlite3 "$D2" "CREATE TABLE customers(id TEXT PRIMARY KEY, name TEXT, phone TEXT);
  INSERT INTO customers VALUES ('P1', 'Pat', '+8613800138011'), ('P2', 'Pam', '+8613800138012');"
cat > "$T/rules2/catchup.yaml" <<'YAML'
campaign: catchup
kind: service
repeat: once
channels: [sms]
template: t
YAML
cat > "$T/catchup.yaml" <<YAML
database: $D2
timezone: Asia/Shanghai
rules: $T/rules2
templates: $T/templates
outbox_dir: $T/outbox2
transports:
  sms: {type: file}
YAML
c2() { cc --config "$T/catchup.yaml" "$@"; }
expect_status 0 "plan the catch-up on 05-10" c2 --now 2026-05-10T20:00:00+08:00 plan
# P2's message failed at an attempt on 05-11 10:00, as the sender records it.
sqlite3 "$D2" "UPDATE care_outbox SET status='failed', last_error='550 no such user' WHERE customer_id='P2';
  INSERT INTO care_attempts(outbox_id, attempt, at, result) SELECT id, 1, strftime('%s', '2026-05-11 02:00:00'), 'permanent'
    FROM care_outbox WHERE customer_id='P2'"
expect_status 0 "send the catch-up on 05-11" c2 --now 2026-05-11T09:00:00+08:00 send
expect_status 0 "report 05-11" c2 --now 2026-05-11T12:00:00+08:00 --format json report --since 2026-05-11 --until 2026-05-11
python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))["totals"]
assert (t["planned"], t["sent"], t["failed"], t["waiting"]) == (2, 1, 1, 0), t' "$T/out" \
  && ok "a message planned yesterday and sent or failed today counts today" || not_ok "sent today" "$(cat "$T/out")"
expect_status 0 "report 05-10" c2 --now 2026-05-11T12:00:00+08:00 --format json report --since 2026-05-10 --until 2026-05-10
python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["totals"]["planned"] == 0 and r["campaigns"] == [], r' "$T/out" \
  && ok "...and not on the day it was planned for" || not_ok "planned day" "$(cat "$T/out")"
expect_status 0 "report 05-11 as text" c2 --now 2026-05-11T12:00:00+08:00 report --since 2026-05-11 --until 2026-05-11
! grep -q "no messages in this period" "$T/out" && grep -q '^  catchup ' "$T/out" \
  && ok "the text report of 05-11 lists the catch-up" || not_ok "text of 05-11" "$(cat "$T/out")"

# Anniversaries are occurrences too, by the planner's rules (29 February
# falls on 28 February in common years): never planned, both are breaches.
sqlite3 "$D2" "ALTER TABLE customers ADD COLUMN signed_on TEXT;
  UPDATE customers SET signed_on = '2025-05-11' WHERE id = 'P1'; UPDATE customers SET signed_on = '2024-02-29' WHERE id = 'P2'"
cat > "$T/rules2/anniv.yaml" <<'YAML'
campaign: anniv
kind: service
sla: 1 hour
when: {date: signed_on, every: year}
channels: [sms]
template: t
YAML
expect_status 0 "report anniversaries" c2 --now 2026-05-11T12:00:00+08:00 --format json report --since 2026-02-01 --until 2026-05-11
python3 -c '
import json, sys
c = {c["campaign"]: c for c in json.load(open(sys.argv[1]))["campaigns"]}
s = c["anniv"]["sla"]
assert (s["occurrences"], s["breached"]) == (2, 2), s
assert [(b["row"], b["occurrence"], b["deadline"], b["reason"]) for b in s["breaches"]] == [
  ("P2", "2026-02-28", "2026-02-28T01:00:00+08:00", "never planned"),
  ("P1", "2026-05-11", "2026-05-11T01:00:00+08:00", "never planned")], s["breaches"]' "$T/out" \
  && ok "SLA occurrences of a yearly anniversary, 29 February included" || not_ok "anniversary SLA" "$(cat "$T/out")"

# An SLA campaign whose audience cannot be queried: its breaches cannot be
# counted, so no figures at all (exit 2, FILE:LINE:COL, nothing written).
cat > "$T/rules2/broken.yaml" <<'YAML'
campaign: broken
kind: service
sla: 1 hour
audience: {where: no_such_column == 1}
when: signed_on
channels: [sms]
template: t
YAML
expect_status 2 "an SLA campaign with a broken audience" c2 --now 2026-05-11T12:00:00+08:00 report --output "$T/broken.txt"
grep -q "broken.yaml:4:[0-9]*: error: .*no_such_column" "$T/err" && [ ! -e "$T/broken.txt" ] \
  && ok "...is named with FILE:LINE:COL and nothing is written" || not_ok "broken SLA audience" "$(cat "$T/err")"
rm -f "$T/rules2/broken.yaml"
