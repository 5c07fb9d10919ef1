#!/bin/sh
# Segments (campaigns.md section 8): ABC tiers and RFM scores against an
# independent computation of the specification's rules, movement between
# two computations (previous() and the tier-upgrade example campaign),
# located errors for unknown segments, and `run` recomputing only when the
# values are a day old.
. "$(dirname "$0")/lib.sh"

DB=$T/seg.db
mkdir -p "$T/abc" "$T/rfm"
# 1,000 customers K1..K1000 (text ids: ties are broken in text order), with
# few distinct order amounts (many ties), 0-amount orders, and about one in
# five with no order at all (a null value).
python3 - "$DB" <<'PY'
import random, sqlite3, sys
random.seed(7)
db = sqlite3.connect(sys.argv[1])
db.executescript("""CREATE TABLE customers(id TEXT PRIMARY KEY, name TEXT, status TEXT);
CREATE TABLE orders(id TEXT PRIMARY KEY, customer_id TEXT, ordered_at TEXT, amount INTEGER);
CREATE INDEX orders_customer_id ON orders(customer_id);""")
o = 0
for i in range(1, 1001):
    db.execute("INSERT INTO customers VALUES (?, ?, 'active')", ("K%d" % i, "n%d" % i))
    if random.random() < 0.2:
        continue
    for _ in range(random.choice([1, 1, 2, 3, 5])):
        o += 1
        day = "2026-%02d-%02d" % (random.randint(1, 11), random.choice([1, 15]))
        db.execute("INSERT INTO orders VALUES (?, ?, ?, ?)", ("O%d" % o, "K%d" % i, day, random.choice([0, 100, 250, 1000])))
db.commit()
PY
cat > "$T/abc/a.yaml" <<'EOF'
segment: tier_a
method: abc
value: sum(orders.amount)
cuts: [5%, 15%]
labels: [A, B, C]
EOF
cat > "$T/abc/b.yaml" <<'EOF'
segment: tier_b
method: abc
value: sum(orders.amount)
cuts: [1%, 4%, 15%]
labels: [A, B, C, D]
EOF
cat > "$T/rfm/r.yaml" <<'EOF'
segment: rfm
method: rfm
recency: max(orders.ordered_at)
frequency: count(orders)
monetary: sum(orders.amount)
EOF
sg() { cc --db "$DB" --date 2026-11-24 "$@"; }

expect_status 0 "segment: two abc segments over 1,000 customers" sg --rules "$T/abc" segment
python3 - "$DB" <<'PY' > "$T/abc.out" 2>&1 && ok "abc 5/15 and 1/4/15: every label as the spec's rule gives (value desc, nulls last, id asc, ceil(N x cut))" || not_ok "abc labels" "$(head -c 600 "$T/abc.out")"
import sqlite3, sys
from fractions import Fraction
from math import ceil
db = sqlite3.connect(sys.argv[1])
val = {c: None for (c,) in db.execute("SELECT id FROM customers")}
for c, a in db.execute("SELECT customer_id, amount FROM orders"):
    val[c] = (val[c] or 0) + a
order = sorted(val, key=lambda c: (val[c] is None, -(val[c] or 0), c))
n = len(order)
for seg, cuts, labels in (("tier_a", [5, 15], "ABC"), ("tier_b", [1, 4, 15], "ABCD")):
    bounds, cum = [], 0
    for p in cuts:
        cum += p
        bounds.append(ceil(n * Fraction(cum, 100)))
    want = {}
    for pos, c in enumerate(order, 1):
        k = 0
        while k < len(bounds) and pos > bounds[k]:
            k += 1
        want[c] = labels[k]
    got = dict(db.execute("SELECT customer_id, label FROM care_segment_values WHERE segment = ?", (seg,)))
    bad = [c for c in want if got.get(c) != want[c]]
    if bad or len(got) != n:
        sys.exit("%s: %d wrong, e.g. %s" % (seg, len(bad), [(c, val[c], got.get(c), want[c]) for c in bad[:5]]))
PY

expect_status 0 "segment: rfm over 1,000 customers" sg --rules "$T/rfm" segment
python3 - "$DB" <<'PY' > "$T/rfm.out" 2>&1 && ok "rfm: scores = 1 + floor(5 (rank-1) / N), equal values one score, no orders 1; every customer 1-5" || not_ok "rfm scores" "$(head -c 600 "$T/rfm.out")"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
ids = [c for (c,) in db.execute("SELECT id FROM customers")]
r = {c: None for c in ids}; f = {c: 0 for c in ids}; m = {c: None for c in ids}
for c, d, a in db.execute("SELECT customer_id, ordered_at, amount FROM orders"):
    r[c] = d if r[c] is None or d > r[c] else r[c]
    f[c] += 1
    m[c] = (m[c] or 0) + a
n = len(ids)
def scores(v):
    nulls = sum(1 for x in v.values() if x is None)
    vals = sorted(x for x in v.values() if x is not None)
    out = {}
    for c, x in v.items():
        if x is None:
            out[c] = 1
        else:
            below = nulls + sum(1 for y in vals if y < x)
            out[c] = 1 + (below * 5) // n
    return out
R, F, M = scores(r), scores(f), scores(m)
got = dict(db.execute("SELECT customer_id, label FROM care_segment_values WHERE segment = 'rfm'"))
bad = [c for c in ids if got.get(c) != "%d%d%d" % (R[c], F[c], M[c])]
if bad:
    sys.exit("%d wrong, e.g. %s" % (len(bad), [(c, got.get(c), R[c], F[c], M[c]) for c in bad[:5]]))
if any(len(l) != 3 or any(ch not in "12345" for ch in l) for l in got.values()) or len(got) != n:
    sys.exit("a label outside 1-5 or a customer missing")
for k, s in (("R", R), ("F", F), ("M", M)):
    if set(s.values()) - {1, 2, 3, 4, 5}:
        sys.exit(k)
PY

# Nothing is written when a segment does not compile.
mkdir -p "$T/bad"
printf 'segment: broken\nmethod: abc\nvalue: sum(orders.amonut)\ncuts: [5%%]\nlabels: [A, B]\n' > "$T/bad/b.yaml"
before=$(db_sum "$DB")
expect_status 2 "segment: an unknown column is an error" sg --rules "$T/bad" segment
grep -q "b.yaml:3:.*did you mean 'amount'" "$T/err" && [ "$(db_sum "$DB")" = "$before" ] && ok "... located, with a suggestion, and nothing written" || not_ok "broken segment" "$(cat "$T/err")"

# Unknown segment names in campaigns: located errors with a suggestion.
mkdir -p "$T/lint" "$T/tpl"
cp "$T/abc/a.yaml" "$T/lint/"
printf 'Hi\n' > "$T/tpl/hi.sms.liquid"
cat > "$T/lint/c.yaml" <<'EOF'
campaign: c
kind: service
audience:
  where: segment.tier_a == "A" and previous(segment.teir_a) != "A"
channels: [sms]
template: hi
EOF
expect_status 1 "lint: previous(segment.teir_a) is an unknown segment" cc --db "$DB" --rules "$T/lint" --templates "$T/tpl" lint
grep -q "c.yaml:4:53: error: unknown segment 'teir_a'.*did you mean 'tier_a'?" "$T/err" && ok "... at FILE:LINE:COL with did-you-mean" || not_ok "unknown segment located" "$(cat "$T/err")"
sed -i 's/teir_a/tier_a/; s/segment.tier_a ==/segment.tiers ==/' "$T/lint/c.yaml"
expect_status 1 "lint: segment.tiers is an unknown segment" cc --db "$DB" --rules "$T/lint" --templates "$T/tpl" lint
grep -q "c.yaml:4:18: error: unknown segment 'tiers'" "$T/err" && ok "... located at the name" || not_ok "segment.tiers located" "$(cat "$T/err")"

# Movement: the demo database and the repository's segments and
# tier-upgrade campaign.  Second computation after some C and B customers
# buy a lot: exactly the customers who rose to A are selected.
D=2026-11-24
D2=2026-11-25
DEMO=$T/demo.db
ex() { cc --config "$ROOT/etc/carecast.yaml" --db "$DEMO" --rules "$ROOT/rules" --templates "$ROOT/templates" "$@"; }
expect_status 0 "demo database: 2000 customers" cc --db "$DEMO" --date $D -q demo-data --customers 2000 --seed 3
expect_status 0 "lint: the example segments and tier-upgrade campaign are clean" ex --date $D lint
expect_status 0 "segment: first computation of the example segments" ex --date $D segment
grep -q '^segment value_tier: 2000 customers.*A 100, B 300, C 1600' "$T/out" && ok "value_tier 5/15: A 100, B 300, C 1600" || not_ok "value_tier counts" "$(cat "$T/out")"
ex --date $D --format jsonl preview tier-upgrade --limit 100000 > "$T/up0" 2>&1
[ ! -s "$T/up0" ] && ok "first computation: nobody has 'moved up' (previous label is null)" || not_ok "first computation selects nobody" "$(head -c 300 "$T/up0")"
sqlite3 "$DEMO" "CREATE TABLE snap AS SELECT customer_id, label FROM care_segment_values WHERE segment = 'value_tier'"
sqlite3 "$DEMO" "INSERT INTO orders(id, customer_id, ordered_at, amount)
  SELECT 'BIG-' || customer_id, customer_id, '$D', 9000000 FROM (
    SELECT customer_id FROM snap WHERE label = 'C' ORDER BY customer_id LIMIT 12)
  UNION ALL SELECT 'BIG-' || customer_id, customer_id, '$D', 9000000 FROM (
    SELECT customer_id FROM snap WHERE label = 'B' ORDER BY customer_id DESC LIMIT 3)"
expect_status 0 "segment: second computation after 15 big orders" ex --date $D2 segment
ex --date $D2 --format jsonl preview tier-upgrade --limit 100000 > "$T/up1" 2> "$T/up1.err"
python3 - "$DEMO" "$T/up1" <<'PY' > "$T/mv.out" 2>&1 && ok "previous() + tier-upgrade select exactly the customers who rose to A; history rows recorded: $(cat "$T/mv.out")" || not_ok "movement" "$(head -c 800 "$T/mv.out") $(head -c 300 "$T/up1.err")"
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
before = dict(db.execute("SELECT customer_id, label FROM snap"))
now = dict(db.execute("SELECT customer_id, label FROM care_segment_values WHERE segment = 'value_tier'"))
prev = dict(db.execute("SELECT customer_id, previous_label FROM care_segment_values WHERE segment = 'value_tier'"))
active = {c for (c,) in db.execute("SELECT id FROM customers WHERE status = 'active'")}
rose = {c for c in now if now[c] == "A" and before[c] != "A"}
want = rose & active
got = {json.loads(l)["customer"] for l in open(sys.argv[2]) if l.strip()}
if len(rose) != 15:
    sys.exit("expected 15 to rise to A, %d did" % len(rose))
if got != want:
    sys.exit("selected %s, expected %s" % (sorted(got ^ want)[:5], len(want)))
changed = {c for c in now if now[c] != before[c]}
for c in changed:
    if prev[c] != before[c]:
        sys.exit("previous_label of %s is %s, was %s" % (c, prev[c], before[c]))
hist = db.execute("SELECT customer_id, label, previous_label FROM care_segment_history WHERE segment = 'value_tier' "
                  "AND changed_at = (SELECT computed_at FROM care_segment_runs WHERE segment = 'value_tier')").fetchall()
if {h[0] for h in hist} != changed or any(h[1] != now[h[0]] or h[2] != before[h[0]] for h in hist):
    sys.exit("history: %d rows for %d changes" % (len(hist), len(changed)))
print("%d rose to A (%d active, selected), %d changes in the history" % (len(rose), len(want), len(hist)))
PY
ex --date $D2 --format jsonl preview tier-downgrade --limit 100000 > "$T/down1" 2> "$T/down1.err"
python3 - "$DEMO" "$T/down1" <<'PY' > "$T/dn.out" 2>&1 && ok "tier-downgrade: a care task for exactly the active customers who fell out of A, to their account manager or the care lead: $(cat "$T/dn.out")" || not_ok "tier-downgrade" "$(head -c 800 "$T/dn.out") $(head -c 300 "$T/down1.err")"
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
before = dict(db.execute("SELECT customer_id, label FROM snap"))
now = dict(db.execute("SELECT customer_id, label FROM care_segment_values WHERE segment = 'value_tier'"))
cust = {c: (s, r) for c, s, r in db.execute("SELECT id, status, rep_email FROM customers")}
fell = {c for c in now if before[c] == "A" and now[c] != "A"}
want = {c for c in fell if cust[c][0] == "active"}
msgs = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
got = {m["customer"] for m in msgs}
if len(fell) != 15 or not want:
    sys.exit("expected 15 to fall out of A, %d did (%d active)" % (len(fell), len(want)))
if got != want:
    sys.exit("selected %s, expected %s" % (sorted(got ^ want)[:5], len(want)))
for m in msgs:
    if m["channel"] != "task" or m["to"] != (cust[m["customer"]][1] or "care-lead@bank.example.cn"):
        sys.exit("task %s" % m)
print("%d fell, %d tasks" % (len(fell), len(msgs)))
PY

# run: recomputes segments when a day old, not when fresh.
mkdir -p "$T/run" && cd "$T/run" || exit 1
at() { sqlite3 "$DEMO" "SELECT computed_at FROM care_segment_runs WHERE segment = 'value_tier'"; }
a0=$(at)
expect_status 0 "run on the day of the last computation" ex --date $D2 run
a1=$(at)
[ "$a0" = "$a1" ] && ok "run: fresh segments are not recomputed" || not_ok "fresh run recomputed" "$a0 -> $a1"
expect_status 0 "run two days later" ex --date 2026-11-27 run
a2=$(at)
want=$(python3 -c 'import datetime as d; print(int(d.datetime(2026,11,26,16,tzinfo=d.timezone.utc).timestamp()))')
[ "$a2" = "$want" ] && grep -q 'segment value_tier' "$T/err" && ok "run: day-old segments are recomputed first" || not_ok "stale run" "$a1 -> $a2 (want $want): $(head -c 300 "$T/err")"

# report --segments: labels now, the last computation's movement, and the
# period's sent messages per label against policy.coverage, each figure
# computed again here from the tables.
{ cat "$ROOT/etc/carecast.yaml"; printf 'policy:\n  coverage:\n    value_tier: {A: "2 per month", B: "1 per month"}\n'; } > "$T/cov.yaml"
rep() { cc --config "$T/cov.yaml" --db "$DEMO" --rules "$ROOT/rules" --templates "$ROOT/templates" --date 2026-11-27 "$@"; }
expect_status 0 "report --segments (json)" rep --format json report --segments
python3 - "$DEMO" "$T/out" <<'PY' > "$T/rs.out" 2>&1 && ok "report --segments: customers, entered, left, moves, contacts and coverage per label match the tables: $(cat "$T/rs.out")" || not_ok "report --segments figures" "$(head -c 800 "$T/rs.out")"
import collections, datetime, json, sqlite3, sys
from zoneinfo import ZoneInfo
db = sqlite3.connect(sys.argv[1])
rep = json.load(open(sys.argv[2]))
z = ZoneInfo("Asia/Shanghai")
t0 = int(datetime.datetime(2026, 10, 29, tzinfo=z).timestamp())
t1 = int(datetime.datetime(2026, 11, 28, tzinfo=z).timestamp())
sent = collections.Counter(c for (c,) in db.execute(
    "SELECT customer_id FROM care_outbox WHERE status = 'sent' AND channel <> 'task' AND sent_at >= ? AND sent_at < ?", (t0, t1)))
if not sent:
    sys.exit("the fixture sent nothing in the period")
segs = {s["segment"]: s for s in rep["segments"]}
names = [n for (n,) in db.execute("SELECT segment FROM care_segment_runs ORDER BY segment")]
if list(segs) != names:
    sys.exit("segments %s, expected %s" % (list(segs), names))
for name in names:
    at = db.execute("SELECT computed_at FROM care_segment_runs WHERE segment = ?", (name,)).fetchone()[0]
    now = dict(db.execute("SELECT customer_id, label FROM care_segment_values WHERE segment = ?", (name,)))
    hist = db.execute("SELECT previous_label, label FROM care_segment_history WHERE segment = ? AND changed_at = ?", (name, at)).fetchall()
    want = collections.defaultdict(lambda: [0, 0, 0, 0])
    for c, l in now.items():
        want[l][0] += 1
        want[l][3] += sent[c]
    for p, l in hist:
        want[l][1] += 1
        want[p][2] += 1
    got = {l["label"]: [l["customers"], l["entered"], l["left"], l["contacts"]] for l in segs[name]["labels"]}
    if got != dict(want):
        sys.exit("%s: labels %s, expected %s" % (name, got, dict(want)))
    moves = collections.Counter(hist)
    gotm = {(m["from"], m["to"]): m["customers"] for m in segs[name]["moves"]}
    if gotm != dict(moves):
        sys.exit("%s: moves %s, expected %s" % (name, gotm, dict(moves)))
vt = {l["label"]: l for l in segs["value_tier"]["labels"]}
for label, minimum in (("A", 2), ("B", 1)):
    below = sum(1 for c, l in db.execute("SELECT customer_id, label FROM care_segment_values WHERE segment = 'value_tier'") if l == label and sent[c] < minimum)
    if vt[label]["minimum"] != minimum or vt[label]["below_minimum"] != below:
        sys.exit("coverage %s: %s, expected minimum %d below %d" % (label, vt[label], minimum, below))
if vt["C"]["minimum"] is not None:
    sys.exit("C has no coverage rule")
print("%d segments, %d messages sent in the period" % (len(names), sum(sent.values())))
PY
expect_status 0 "report --segments (csv)" rep --format csv report --segments
python3 - "$T/out" "$DEMO" <<'PY' && ok "csv: segment:NAME=LABEL:customers|entered|left|contacts and move:NAME=FROM>TO rows" || not_ok "report --segments csv" "$(grep -m3 segment "$T/out")"
import csv, sqlite3, sys
rows = {r["metric"]: int(r["value"]) for r in csv.DictReader(open(sys.argv[1]))}
db = sqlite3.connect(sys.argv[2])
for seg, label, n in db.execute("SELECT segment, coalesce(label, ''), count(*) FROM care_segment_values GROUP BY 1, 2"):
    assert rows["segment:%s=%s:customers" % (seg, label)] == n, (seg, label)
for seg, p, l, n in db.execute("SELECT h.segment, coalesce(previous_label, ''), coalesce(label, ''), count(*) FROM care_segment_history h "
                               "JOIN care_segment_runs r ON r.segment = h.segment AND h.changed_at = r.computed_at GROUP BY 1, 2, 3"):
    assert rows["move:%s=%s>%s" % (seg, p, l)] == n, (seg, p, l)
PY
expect_status 0 "report --segments (text)" rep report --segments
grep -q '^  value_tier, computed 2026-11-27T00:00:00+08:00' "$T/out" && grep -q '^    moves: ' "$T/out" &&
  grep -E -q '^    A +100 ' "$T/out" && ok "text: one table per segment with its computation time and moves" || not_ok "report --segments text" "$(grep -A6 value_tier "$T/out")"
expect_status 0 "report --segments (html)" rep --format html report --segments --output "$T/seg.html"
grep -q '<table class="segment" data-segment="value_tier">' "$T/seg.html" && ok "html: a table per segment" || not_ok "report --segments html"
expect_status 0 "report without --segments" rep --format json report
python3 -c 'import json,sys; sys.exit("segments" in json.load(open(sys.argv[1])))' "$T/out" && ok "without --segments the report has no segments section" || not_ok "segments only on request"
