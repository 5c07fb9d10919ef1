"""bench/report.py TMP [NOTE] - turns the raw figures bench/run.sh left in TMP
into docs/BENCHMARKS.md (on stdout): a summary of every target, met or not,
then per benchmark the median, min and max of the runs, peak RSS, the
baseline's figures from the same invocation, and the exact commands."""
import collections
import datetime
import os
import statistics
import sys

tmp = sys.argv[1]
note = sys.argv[2] if len(sys.argv) > 2 else ""
appendix = sys.argv[3] if len(sys.argv) > 3 else ""


def path(name):
    return os.path.join(tmp, name)


def lines(name):
    try:
        return [l.split() for l in open(path(name)) if l.strip()]
    except FileNotFoundError:
        return []


def timing(name):
    """(ms list, rss KiB list) of a `timed` file."""
    rows = lines(name + ".t")
    return [int(r[0]) for r in rows], [int(r[1]) for r in rows]


def ints(name):
    return [int(r[0]) for r in lines(name)]


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def secs(xs):
    return "%.2f (%.2f-%.2f)" % (med(xs) / 1000, min(xs) / 1000, max(xs) / 1000)


def mib(kib):
    return "%.0f MiB" % (max(kib) / 1024) if kib else "-"


def paired(base, cc):
    """Each run's ratio base / carecast (the two ran one after the other)."""
    return ", ".join("%.2fx" % (b / c) for b, c in zip(base, cc))


def yes(ok):
    return "**met**" if ok else "**not met**"


meta = open(path("meta")).read().splitlines()
runs = dict(zip(["render", "plan", "segment", "e2e", "smtp", "sms"], (int(x) for x in meta[0].split())))
messages, plan_customers, e2e_customers, smtp_n, smtp_sessions, sms_n, sms_conns, elapsed = meta[1].split("|")
messages, smtp_n, sms_n, elapsed = int(messages), int(smtp_n), int(sms_n), int(elapsed)
sizes = [int(x) for x in plan_customers.split()]
machine, jinja_version, loadavg = meta[2], meta[3], meta[4]

summary = []   # (benchmark, measured, target, met)
out = []
w = out.append

# ---- plan --------------------------------------------------------------------
rows = {int(r[0]): (r[1], r[2]) for r in lines("plan.rows")}
w("## Plan: the spec's campaigns (birthday, contract renewal, post-repair) on demo data")
w("")
w("%d runs per size; times in seconds, median (min-max)." % runs["plan"])
w("")
w("| customers | due | carecast s | carecast peak RSS | hand-written SQL s | SQL peak RSS | ratio carecast / SQL |")
w("|---:|---:|---:|---:|---:|---:|---:|")
plan = {}
for n in sizes:
    c, crss = timing("plan-cc-%d" % n)
    q, qrss = timing("plan-sql-%d" % n)
    plan[n] = (c, crss)
    r = med(c) / med(q)
    w("| %d | %s | %s | %s | %s | %s | %.2fx |" % (n, rows[n][1], secs(c), mib(crss), secs(q), mib(qrss), r))
    summary.append(("plan, %d customers" % n, "%.2fx the SQL's time" % r, "<= 1.5x", r <= 1.5))
if len(sizes) >= 2:
    a, b = sizes[0], sizes[-1]
    g = med(plan[b][0]) / med(plan[a][0])
    m = max(plan[b][1]) / max(plan[a][1])
    w("")
    w("Growth from %d to %d customers: time %.1fx (target <= 12), peak RSS %.2fx (target < 1.5)." % (a, b, g, m))
    summary.append(("plan growth %d -> %d, time" % (a, b), "%.1fx" % g, "<= 12x", g <= 12))
    summary.append(("plan growth %d -> %d, peak RSS" % (a, b), "%.2fx" % m, "< 1.5x", m < 1.5))
w("")
w("carecast also checks channels, consent and the never-twice ledger, and renders every message;")
w("the SQL only selects who is due (same rows: %s)." % ", ".join("%s/%s at %d" % (rows[k][0], rows[k][1], k) for k in sizes))
w("")
w("```sh")
w("sed 's/:today/2026-11-24/g' bench/baseline/plan.sql | sqlite3 DEMO.db")
w("./carecast --db DEMO.db --rules bench/rules-plan --templates templates --date 2026-11-24 --format jsonl plan --dry-run")
w("```")
w("")

# ---- segments ----------------------------------------------------------------
w("## Segments: `carecast segment` with rules/segments (lifecycle rules, RFM, ABC value tier)")
w("")
w("%d runs per size, each a first computation (the tables are emptied before each run, untimed)." % runs["segment"])
w("")
w("| customers | carecast s | peak RSS |")
w("|---:|---:|---:|")
seg = {}
for n in sizes:
    t, rss = timing("seg-%d" % n)
    seg[n] = (t, rss)
    w("| %d | %s | %s |" % (n, secs(t), mib(rss)))
if len(sizes) >= 2:
    a, b = sizes[0], sizes[-1]
    g = med(seg[b][0]) / med(seg[a][0])
    m = max(seg[b][1]) / max(seg[a][1])
    w("")
    w("Growth from %d to %d customers: time %.1fx, peak RSS %.2fx (memory flat: target < 1.5x)." % (a, b, g, m))
    summary.append(("segments growth %d -> %d, peak RSS" % (a, b), "%.2fx (time %.1fx)" % (m, g), "< 1.5x (flat)", m < 1.5))
w("")
try:
    w("Last run's output at %d customers:" % sizes[-1])
    w("")
    w("```")
    w(open(path("seg-%d.out" % sizes[-1])).read().rstrip())
    w("```")
    w("")
except FileNotFoundError:
    pass
w("```sh")
w("./carecast --db DEMO.db --rules rules/segments --date 2026-11-24 segment")
w("```")
w("")

# ---- end to end ----------------------------------------------------------------
c, crss = timing("e2e-cc")
p, prss = timing("e2e-peer")
cs, ps = ints("e2e-cc.sent"), ints("e2e-peer.sent")
ca, pa = ints("e2e-cc.again"), ints("e2e-peer.again")
r = med(p) / med(c)
w("## End to end: birthday and renewal for %s demo customers, database to smtp-sink" % e2e_customers)
w("")
w("%d runs, each on a fresh copy of the same demo database (2026-11-24)." % runs["e2e"])
w("")
w("| sender | messages sent | s | peak RSS | messages/s |")
w("|---|---:|---:|---:|---:|")
w("| `carecast run` (plan + send, smtp transport) | %s | %s | %s | %.0f |" % (
    "/".join(map(str, sorted(set(cs)))), secs(c), mib(crss), med(cs) / (med(c) / 1000)))
w("| `bench/peer/cron_send.py` (sqlite3 + Jinja2 + smtplib) | %s | %s | %s | %.0f |" % (
    "/".join(map(str, sorted(set(ps)))), secs(p), mib(prss), med(ps) / (med(p) / 1000)))
w("")
same = cs == ps
w("Same messages sent: %s (carecast %s, peer %s). A second run the same day sent %s (carecast) and %s (peer)."
  % ("yes" if same else "NO", ",".join(map(str, cs)), ",".join(map(str, ps)),
     ",".join(map(str, ca)), ",".join(map(str, pa))))
w("")
w("Ratio peer time / carecast time: %.2fx (target >= 5x); run by run: %s." % (r, paired(p, c)))
summary.append(("end to end, %s customers" % e2e_customers, "%.2fx the peer" % r, ">= 5x", r >= 5 and same))
w("")
w("The campaigns are bench/rules-e2e: rules/birthday.yaml and rules/renewal.yaml with email as the")
w("only channel (the 1-day SMS last call left out). The peer selects the same rows (birthday on the day")
w("or the day before, 29 February on 28 February, consent, valid address, suppressions; renewal 30 and 7")
w("days ahead), renders the same texts rewritten for Jinja2 (bench/peer/templates), builds the MIME")
w("message with the standard `email` package, records each message in a dedupe table before sending and")
w("reuses one SMTP connection. carecast uses its default 4 SMTP connections. `--now` is 23:59 UTC, after")
w("09:30 in every customer's zone, so carecast sends everything it plans, like the peer.")
w("")
w("```sh")
w("./carecast --config E2E.yaml --now 2026-11-24T23:59:00 run     # transports: email: {type: smtp, host: 127.0.0.1, port: SINK, tls: none}")
w("/usr/bin/python3 bench/peer/cron_send.py PEER.db 2026-11-24 127.0.0.1 SINK")
w("```")
w("")

def rate_table(n, rows):
    """A sender-against-baseline table: (label, times, peak RSS) per row, n messages each."""
    w("| sender | s | messages/s | peak RSS |")
    w("|---|---:|---:|---:|")
    for label, t, rss in rows:
        w("| %s | %s | %.0f | %s |" % (label, secs(t), n / (med(t) / 1000), mib(rss)))
    w("")

# ---- SMTP ----------------------------------------------------------------------
c, crss = timing("smtp-cc")
s, srss = timing("smtp-source")
r = med(s) / med(c)
w("## SMTP: %d messages into Postfix smtp-sink on loopback, %s sessions" % (smtp_n, smtp_sessions))
w("")
w("%d runs." % runs["smtp"])
w("")
rate_table(smtp_n, [("carecast send", c, crss), ("smtp-source (one message per connection)", s, srss)])
w("carecast sent %s per run. Ratio carecast / smtp-source: %.2fx (target >= 0.8x); run by run: %s."
  % (",".join(map(str, ints("smtp-cc.sent"))), r, paired(s, c)))
summary.append(("SMTP, %d messages" % smtp_n, "%.2fx smtp-source" % r, ">= 0.8x", r >= 0.8))
w("")
w("```sh")
w("./carecast --config SMTP.yaml --date 2026-05-0N send      # after an untimed plan; smtp transport, connections: %s" % smtp_sessions)
w("/usr/sbin/smtp-source -s %s -m %d -l SIZE -f care@bank.example.cn -t c@example.com 127.0.0.1:SINK" % (smtp_sessions, smtp_n))
w("```")
w("")

# ---- SMS -----------------------------------------------------------------------
c, crss = timing("sms-cc")
a, arss = timing("sms-ab")
u, urss = timing("sms-curl")
r = med(a) / med(c)
fk = lines("sms.fakesmsc")
failed = sum(ints("sms-ab.failed"))
w("## SMS: %d messages through Kannel (bearerbox + smsbox + fakesmsc) on loopback, %s connections" % (sms_n, sms_conns))
w("")
w("%d runs." % runs["sms"])
w("")
rate_table(sms_n, [("carecast send (kannel transport)", c, crss), ("ab -k (same sendsms request, same concurrency)", a, arss),
                   ("curl --parallel (libcurl's own client, same request, same concurrency)", u, urss)])
w("carecast sent %s per run; ab completed %s with %d failed or non-2xx; curl got a 2xx for %s. The fake SMSC"
  " received %s of %s (with the %s of the warm-up)."
  % (",".join(map(str, ints("sms-cc.sent"))), ",".join(map(str, ints("sms-ab.sent"))), failed,
     ",".join(map(str, ints("sms-curl.sent"))), fk[0][0] if fk else "?", fk[0][1] if fk else "?",
     os.environ.get("SMS_WARMUP", "10000")))
w("Ratio carecast / ab: %.2fx (target >= 0.8x); run by run: %s." % (r, paired(a, c)))
w("Ratio carecast / curl --parallel: %.2fx; curl / ab: %.2fx. carecast's requests go through libcurl as curl's do:"
  % (med(u) / med(c), med(a) / med(u)))
w("the second ratio is about what a libcurl client can reach against ab on this machine, and carecast records")
w("every result in its outbox besides.")
summary.append(("SMS through Kannel, %d messages" % sms_n, "%.2fx ab" % r, ">= 0.8x", r >= 0.8))
w("")
w("Kannel is warmed up first by %s requests from ab, not measured (a freshly started Kannel answers" % os.environ.get("SMS_WARMUP", "10000"))
w("its first few thousand at about two thirds of its later rate), and the senders take turns at")
w("going first. Before each measurement the benchmark waits until the fake SMSC has received every")
w("earlier message, so neither side competes with the other's queue. ab sends one of carecast's own messages")
w("(Chinese, UTF-8, `coding=2`) every time; carecast sends a different message to each customer.")
w("")
w("```sh")
w("./carecast --config SMS.yaml --date 2026-05-0N send      # kannel transport, connections: %s" % sms_conns)
try:
    w("ab -q -k -n %d -c %s '%s'" % (sms_n, sms_conns, open(path("sms.url")).read().strip()))
    w("curl -s --no-progress-meter --parallel --parallel-max %s -w ' %%{response_code}\\n' -K CFG    # CFG: %d times url = \"(the same URL)\""
      % (sms_conns, sms_n))
except FileNotFoundError:
    pass
w("```")
w("")

# ---- render --------------------------------------------------------------------
def load(name):
    d = collections.defaultdict(list)
    for f in lines(name):
        d[f[0]].append(float(f[3]))
    return d


cc, j2 = load("carecast.raw"), load("jinja2.raw")
w("## Render: messages per second for the example templates")
w("")
w("Each message sets its variables afresh, as the planner does (one set of variables cleared per message,")
w("the values copied from a row), and renders through carecast's real path (template cache, Liquid, email")
w("subject from front matter, HTML body for birthday email). The rows are made before the clock starts, on")
w("both sides: in carecast they come from SQLite, and formatting them is not rendering.")
w("The baseline renders the same templates written in Jinja2 (%s, Debian's python3-jinja2), compiled once." % jinja_version)
w("%d runs of %d messages per template; peak RSS of the whole process: carecast %s, Jinja2 %s."
  % (runs["render"], messages, mib(ints("render-cc.rss")), mib(ints("render-j2.rss"))))
w("")
w("| template | carecast msg/s (median) | min | max | Jinja2 msg/s (median) | min | max | ratio |")
w("|---|---:|---:|---:|---:|---:|---:|---:|")
worst = None
for case in cc:
    x, y = med(cc[case]), med(j2[case])
    w("| %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.1fx |" % (case, x, min(cc[case]), max(cc[case]), y, min(j2[case]), max(j2[case]), x / y))
    worst = x / y if worst is None else min(worst, x / y)
summary.append(("render (lowest template)", "%.1fx Jinja2" % (worst or 0), ">= 20x", (worst or 0) >= 20))
w("")
w("```sh")
w("build/bench/render_bench templates %d" % messages)
w("/usr/bin/python3 bench/baseline/render_jinja2.py %d" % messages)
w("```")
w("")

# ---- the document ---------------------------------------------------------------
gen = lines("gen.raw")
doc = []
d = doc.append
d("# Benchmarks")
d("")
d("Measured by `make bench` on %s in %d min %d s (side by side in one invocation; runs: render %d,"
  % (datetime.date.today().isoformat(), elapsed // 60, elapsed % 60, runs["render"]))
d("plan %d, segments %d, end to end %d, SMTP %d, SMS %d)." % (runs["plan"], runs["segment"], runs["e2e"], runs["smtp"], runs["sms"]))
d("")
d("Machine: %s. Load average when the tables were written: %s." % (machine, loadavg))
d("")
d("Sizes: render %d messages per template; plan and segments %s customers; end to end %s customers;"
  % (messages, " and ".join(plan_customers.split()), e2e_customers))
d("SMTP %d messages; SMS %d messages. Demo databases (`carecast demo-data --seed 1`, as of 2026-11-24) are"
  % (smtp_n, sms_n))
d("generated once and shared: %s." % ", ".join("%s customers in %.0f s" % (g[1], int(g[2]) / 1000) for g in gen))
d("")
if note:
    d(note)
    d("")
met = [s for s in summary if s[3]]
unmet = [s for s in summary if not s[3]]
d("Targets met in this run: %s." % ("; ".join(s[0] for s in met) if met else "none"))
d("Not met: %s." % ("; ".join(s[0] for s in unmet) if unmet else "none"))
d("")
d("| benchmark | measured | target | verdict |")
d("|---|---|---|---|")
for s in summary:
    d("| %s | %s | %s | %s |" % (s[0], s[1], s[2], yes(s[3])))
d("")
if appendix:
    out.append(open(appendix).read().rstrip())
print("\n".join(doc + out).rstrip())
