#!/bin/sh
# bench/run.sh - what `make bench` runs: each benchmark several times, side
# by side with its baseline in the same invocation, and the tables written to
# docs/BENCHMARKS.md with the machine and the exact commands.
#
#   RUNS            if set, repetitions of every measurement (median, min, max);
#                   otherwise each benchmark has its own default below
#   RENDER_RUNS     (5)  MESSAGES        messages per render case (100000)
#   PLAN_RUNS       (3)  PLAN_CUSTOMERS  demo database sizes ("100000 1000000"),
#                        generated once and shared by plan, segments, end to end
#   SEGMENT_RUNS    (3)  segments over the same databases
#   E2E_RUNS        (5)  E2E_CUSTOMERS   customers for end to end (100000)
#   SMTP_RUNS       (3)  SMTP_MESSAGES   (50000)  SMTP_SESSIONS (4)
#   SMS_RUNS        (5)  SMS_MESSAGES    (50000)  SMS_CONNECTIONS (8)
#   SMS_WARMUP      (10000) requests by ab to warm Kannel up before the SMS runs (unmeasured)
#   BENCH_OUT       where the tables go (default docs/BENCHMARKS.md)
#   BENCH_NOTE      a sentence added under the title (e.g. the machine's load)
#   BENCH_APPENDIX  a markdown file appended to the document (default bench/observations.md:
#                   the profiles behind the figures, by hand; empty = none)
#
# Every server listens on 127.0.0.1 only, on free ports, and is stopped at exit.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
MESSAGES=${MESSAGES:-100000}
RENDER_RUNS=${RUNS:-${RENDER_RUNS:-5}}
PLAN_RUNS=${RUNS:-${PLAN_RUNS:-3}}
SEGMENT_RUNS=${RUNS:-${SEGMENT_RUNS:-3}}
E2E_RUNS=${RUNS:-${E2E_RUNS:-5}}
SMTP_RUNS=${RUNS:-${SMTP_RUNS:-3}}
SMS_RUNS=${RUNS:-${SMS_RUNS:-5}}   # Kannel varies by a third from run to run: five give a steadier median
PLAN_CUSTOMERS=${PLAN_CUSTOMERS:-100000 1000000}
E2E_CUSTOMERS=${E2E_CUSTOMERS:-100000}
SMTP_MESSAGES=${SMTP_MESSAGES:-50000}
SMTP_SESSIONS=${SMTP_SESSIONS:-4}
SMS_MESSAGES=${SMS_MESSAGES:-50000}
SMS_CONNECTIONS=${SMS_CONNECTIONS:-8}
SMS_WARMUP=${SMS_WARMUP:-10000}
export SMS_WARMUP   # for report.py
PY=/usr/bin/python3
OUT=${BENCH_OUT:-docs/BENCHMARKS.md}
BIN=build/bench/render_bench
CC=./carecast
DAY=2026-11-24
started=$(date +%s)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/carecast-bench.XXXXXX")
sink=""
# tests/servers.sh starts Kannel; it wants $T, free_port, wait_port, at_exit.
T=$tmp
at_exit() { :; }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
wait_port() {
  _p=$1; _n=$(( ${2:-10} * 10 ))
  while [ "$_n" -gt 0 ]; do
    "$PY" -c "import socket,sys; s=socket.socket(); s.settimeout(0.2); sys.exit(s.connect_ex(('127.0.0.1',$_p)))" && return 0
    sleep 0.1; _n=$((_n - 1))
  done
  return 1
}
. "$ROOT/tests/servers.sh"
cleanup() {
  stop_kannel 2>/dev/null || true
  [ -n "$sink" ] && { kill "$sink" 2>/dev/null; wait "$sink" 2>/dev/null; } || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "bench: $* ($(( $(date +%s) - started )) s)" >&2; }
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
# timed NAME CMD...: runs CMD (stdout to $tmp/out), appends to $tmp/NAME.t
# "ms peak-rss-KiB" and leaves the wall time in $last.
timed() {
  _f=$1; shift
  _t=$(date +%s%N)
  /usr/bin/time -f "%M" -o "$tmp/rss" "$@" > "$tmp/out"
  last=$(ms "$_t")
  echo "$last $(tail -1 "$tmp/rss")" >> "$tmp/$_f.t"
}

# ---- render: the example templates against Jinja2 -------------------------
say "render: $RENDER_RUNS runs of $MESSAGES messages per template"
i=0
while [ $i -lt "$RENDER_RUNS" ]; do
  /usr/bin/time -f "%M" -o "$tmp/rss" "$BIN" templates "$MESSAGES" >> "$tmp/carecast.raw"; tail -1 "$tmp/rss" >> "$tmp/render-cc.rss"
  /usr/bin/time -f "%M" -o "$tmp/rss" "$PY" bench/baseline/render_jinja2.py "$MESSAGES" >> "$tmp/jinja2.raw"; tail -1 "$tmp/rss" >> "$tmp/render-j2.rss"
  i=$((i + 1))
done

# ---- demo databases: generated once, shared by plan, segments, end to end --
sizes=$(printf '%s\n' $PLAN_CUSTOMERS $E2E_CUSTOMERS | sort -n -u)
for n in $sizes; do
  say "demo-data: $n customers"
  t=$(date +%s%N)
  $CC --db "$tmp/demo$n.db" --date $DAY -q demo-data --customers "$n" --seed 1 > /dev/null
  echo "demo-data $n $(ms "$t")" >> "$tmp/gen.raw"
done

# ---- plan: the spec's campaigns against hand-written SQL ------------------
sed "s/:today/$DAY/g" bench/baseline/plan.sql > "$tmp/plan.sql"
for n in $PLAN_CUSTOMERS; do
  say "plan: $PLAN_RUNS runs over $n customers"
  db="$tmp/demo$n.db"
  i=0
  while [ $i -lt "$PLAN_RUNS" ]; do
    timed "plan-sql-$n" sqlite3 "$db" < "$tmp/plan.sql"; mv "$tmp/out" "$tmp/sql.out"
    timed "plan-cc-$n" $CC --db "$db" --rules bench/rules-plan --templates templates --date $DAY --format jsonl plan --dry-run
    mv "$tmp/out" "$tmp/cc.out"
    i=$((i + 1))
  done
  echo "$n $(wc -l < "$tmp/sql.out") $(wc -l < "$tmp/cc.out")" >> "$tmp/plan.rows"
done

# ---- smtp-sink on loopback, for SMTP and end to end -----------------------
sport=$(free_port)
if [ "$(id -u)" = 0 ]; then
  /usr/sbin/smtp-sink -u nobody "127.0.0.1:$sport" 256 > "$tmp/sink.log" 2>&1 &
else
  /usr/sbin/smtp-sink "127.0.0.1:$sport" 256 > "$tmp/sink.log" 2>&1 &
fi
sink=$!
wait_port "$sport" 10 || { echo "bench: smtp-sink did not start: $(cat "$tmp/sink.log")" >&2; exit 1; }

# ---- end to end: database to smtp-sink, carecast run against cron_send.py -
say "end to end: $E2E_RUNS runs over $E2E_CUSTOMERS customers"
cat > "$tmp/e2e.yaml" <<YAML
database: $tmp/e2e.db
rules: $ROOT/bench/rules-e2e
templates: $ROOT/templates
sender: {name: 关怀银行, email: care@bank.example.cn}
transports:
  email: {type: smtp, host: 127.0.0.1, port: $sport, tls: none}
YAML
i=0
while [ $i -lt "$E2E_RUNS" ]; do
  cp "$tmp/demo$E2E_CUSTOMERS.db" "$tmp/e2e.db"
  cp "$tmp/demo$E2E_CUSTOMERS.db" "$tmp/peer.db"
  sync
  # 23:59 UTC: after 09:30 in every customer's zone, so carecast sends all
  # it plans, as the peer (which has no send times) does.
  timed e2e-cc $CC -q --config "$tmp/e2e.yaml" --now "${DAY}T23:59:00" run
  sed -n 's/^sent \([0-9]*\),.*/\1/p' "$tmp/out" >> "$tmp/e2e-cc.sent"
  timed e2e-peer "$PY" bench/peer/cron_send.py "$tmp/peer.db" $DAY 127.0.0.1 "$sport"
  sed -n 's/^sent \([0-9]*\)$/\1/p' "$tmp/out" >> "$tmp/e2e-peer.sent"
  # A second run of each the same day sends nothing (the never-twice ledger
  # and the dedupe table); recorded, not timed.
  $CC -q --config "$tmp/e2e.yaml" --now "${DAY}T23:59:30" run | sed -n 's/^sent \([0-9]*\),.*/\1/p' >> "$tmp/e2e-cc.again"
  "$PY" bench/peer/cron_send.py "$tmp/peer.db" $DAY 127.0.0.1 "$sport" | sed -n 's/^sent \([0-9]*\)$/\1/p' >> "$tmp/e2e-peer.again"
  i=$((i + 1))
done
rm -f "$tmp"/e2e.db* "$tmp"/peer.db*

# ---- SMTP: carecast send against smtp-source, both into smtp-sink ---------
say "SMTP: $SMTP_RUNS runs of $SMTP_MESSAGES messages"
"$PY" - "$tmp/smtp.db" "$SMTP_MESSAGES" <<'PYDB'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute("CREATE TABLE customers(id TEXT PRIMARY KEY, name TEXT, email TEXT)")
con.executemany("INSERT INTO customers VALUES (?, ?, ?)",
                (("C%07d" % i, "客户%d" % i, "c%07d@example.com" % i) for i in range(int(sys.argv[2]))))
con.commit()
PYDB
mkdir -p "$tmp/srules" "$tmp/stpl"
printf 'campaign: bill\nkind: service\nrepeat: daily\nchannels: [email]\ntemplate: t\n' > "$tmp/srules/b.yaml"
printf -- '---\nsubject: "{{ customer.name }}，您的账单已出"\n---\n{{ customer.name }}，您好：\n\n您本月的账单已出，请登录查看。\n\n关怀银行\n' > "$tmp/stpl/t.email.liquid"
cat > "$tmp/smtp.yaml" <<YAML
database: $tmp/smtp.db
rules: $tmp/srules
templates: $tmp/stpl
sender: {name: 关怀银行, email: care@bank.example.cn}
transports:
  email: {type: smtp, host: 127.0.0.1, port: $sport, tls: none, connections: $SMTP_SESSIONS}
YAML
i=0
while [ $i -lt "$SMTP_RUNS" ]; do
  day=$(printf '2026-05-%02d' $((i + 1)))
  $CC --config "$tmp/smtp.yaml" --date "$day" plan > /dev/null
  timed smtp-cc $CC -q --config "$tmp/smtp.yaml" --date "$day" send
  sed -n 's/^sent \([0-9]*\),.*/\1/p' "$tmp/out" >> "$tmp/smtp-cc.sent"
  # smtp-source sends messages of the size carecast's are (body and headers).
  size=$(sqlite3 "$tmp/smtp.db" "SELECT CAST(avg(length(CAST(body_text AS BLOB)) + length(CAST(subject AS BLOB))) AS INTEGER) + 600 FROM care_outbox")
  timed smtp-source /usr/sbin/smtp-source -s "$SMTP_SESSIONS" -m "$SMTP_MESSAGES" -l "$size" -f care@bank.example.cn -t c@example.com "127.0.0.1:$sport"
  i=$((i + 1))
done
kill "$sink" 2>/dev/null; wait "$sink" 2>/dev/null || true; sink=""

# ---- SMS: carecast send through Kannel against ab on the same sendsms URL --
say "SMS: $SMS_RUNS runs of $SMS_MESSAGES messages through Kannel"
"$PY" - "$tmp/sms.db" "$SMS_MESSAGES" <<'PYDB'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute("CREATE TABLE customers(id TEXT PRIMARY KEY, name TEXT, phone TEXT)")
con.executemany("INSERT INTO customers VALUES (?, ?, ?)",
                (("C%07d" % i, "客户%d" % i, "+86138%08d" % i) for i in range(int(sys.argv[2]))))
con.commit()
PYDB
mkdir -p "$tmp/mrules" "$tmp/mtpl"
printf 'campaign: bill\nkind: service\nrepeat: daily\nchannels: [sms]\ntemplate: t\n' > "$tmp/mrules/b.yaml"
printf '{{ customer.name }}，您本月的账单已出，请登录手机银行查看。\n' > "$tmp/mtpl/t.sms.liquid"
start_kannel || { echo "bench: Kannel did not start" >&2; exit 1; }
cat > "$tmp/sms.yaml" <<YAML
database: $tmp/sms.db
rules: $tmp/mrules
templates: $tmp/mtpl
sms: {signature: 【关怀银行】}
transports:
  sms: {type: kannel, url: "$SENDSMS_URL", username: $KANNEL_USER, password_env: BENCH_KANNEL_PASS,
        from: "10690000", connections: $SMS_CONNECTIONS}
YAML
export BENCH_KANNEL_PASS="$KANNEL_PASS"
delivered=0
# plan_sms_day N: today's messages planned, and in $url the request
# carecast sends for one of them (the same one for ab every time).
plan_sms_day() {
  day=$(printf '2026-05-%02d' "$1")
  $CC --config "$tmp/sms.yaml" --date "$day" plan > /dev/null
  url=$(sqlite3 "$tmp/sms.db" "SELECT recipient, sms_text FROM care_outbox ORDER BY id DESC LIMIT 1" \
    | "$PY" -c 'import sys, urllib.parse as u
to, text = sys.stdin.read().rstrip("\n").split("|", 1)
print("%s?username=%s&password=%s&from=10690000&to=%s&text=%s&charset=UTF-8&coding=2" % (sys.argv[1], sys.argv[2], sys.argv[3], u.quote(to, safe=""), u.quote(text, safe="")))' \
      "$SENDSMS_URL" "$KANNEL_USER" "$KANNEL_PASS")
}
sms_cc() {
  timed sms-cc $CC -q --config "$tmp/sms.yaml" --date "$day" send
  sed -n 's/^sent \([0-9]*\),.*/\1/p' "$tmp/out" >> "$tmp/sms-cc.sent"
  delivered=$((delivered + SMS_MESSAGES))
  wait_fakesmsc "$delivered" 120 || true   # the gateway's queue is drained before the next measurement
}
sms_ab() {
  timed sms-ab ab -q -k -n "$SMS_MESSAGES" -c "$SMS_CONNECTIONS" "$url"
  sed -n 's/^Complete requests: *\([0-9]*\)/\1/p' "$tmp/out" >> "$tmp/sms-ab.sent"
  sed -n 's/^\(Failed requests\|Non-2xx responses\): *\([0-9]*\)/\2/p' "$tmp/out" >> "$tmp/sms-ab.failed"
  delivered=$((delivered + SMS_MESSAGES))
  wait_fakesmsc "$delivered" 120 || true
}
# libcurl's own client, for scale: `curl --parallel` sending the request
# ab sends, over as many kept-alive connections.  carecast's HTTP side is
# libcurl too; this says how much of the gap to ab is libcurl's.
sms_curl() {
  # The answers go to standard output, each followed by its status: an
  # output file per transfer would cost curl an open() each.
  awk -v u="$url" -v n="$SMS_MESSAGES" 'BEGIN { for (i = 0; i < n; i++) printf "url = \"%s\"\n", u }' > "$tmp/curl.cfg"
  timed sms-curl curl -s --no-progress-meter --parallel --parallel-max "$SMS_CONNECTIONS" -w ' %{response_code}\n' -K "$tmp/curl.cfg"
  grep -c ' 2[0-9][0-9]$' "$tmp/out" >> "$tmp/sms-curl.sent"
  rm -f "$tmp/curl.cfg"
  delivered=$((delivered + SMS_MESSAGES))
  wait_fakesmsc "$delivered" 120 || true
}
# A freshly started Kannel answers its first few thousand requests at two
# thirds of its later rate, and the side measured first would pay for it:
# SMS_WARMUP requests by ab go first, unmeasured, and the senders take
# turns at going first.
plan_sms_day 1
if [ "$SMS_WARMUP" -gt 0 ]; then
  ab -q -k -n "$SMS_WARMUP" -c "$SMS_CONNECTIONS" "$url" > /dev/null
  delivered=$((delivered + SMS_WARMUP))
  wait_fakesmsc "$delivered" 120 || true
fi
i=0
while [ $i -lt "$SMS_RUNS" ]; do
  [ $i -gt 0 ] && plan_sms_day $((i + 1))
  case $((i % 3)) in
    0) sms_cc; sms_ab; sms_curl ;;
    1) sms_ab; sms_curl; sms_cc ;;
    2) sms_curl; sms_cc; sms_ab ;;
  esac
  i=$((i + 1))
done
echo "$(fakesmsc_count) $delivered" > "$tmp/sms.fakesmsc"
echo "$url" | sed 's/password=[^&]*/password=.../' > "$tmp/sms.url"
stop_kannel || true   # (its wait returns the boxes' status)

# ---- segments: carecast segment over the demo databases -------------------
for n in $PLAN_CUSTOMERS; do
  say "segments: $SEGMENT_RUNS runs over $n customers"
  db="$tmp/demo$n.db"
  i=0
  while [ $i -lt "$SEGMENT_RUNS" ]; do
    # Each run is a first computation (the costliest: every label changes).
    sqlite3 "$db" "DELETE FROM care_segment_values; DELETE FROM care_segment_history; DELETE FROM care_segment_runs;"
    timed "seg-$n" $CC --db "$db" --rules rules/segments --date $DAY segment
    i=$((i + 1))
  done
  cp "$tmp/out" "$tmp/seg-$n.out"
  rm -f "$db" "$db-wal" "$db-shm"
done

say "writing $OUT"
elapsed=$(( $(date +%s) - started ))
{
  echo "$RENDER_RUNS $PLAN_RUNS $SEGMENT_RUNS $E2E_RUNS $SMTP_RUNS $SMS_RUNS"
  echo "$MESSAGES|$PLAN_CUSTOMERS|$E2E_CUSTOMERS|$SMTP_MESSAGES|$SMTP_SESSIONS|$SMS_MESSAGES|$SMS_CONNECTIONS|$elapsed"
  echo "$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "$($PY -c 'import jinja2; print(jinja2.__version__)')"
  echo "$(cut -d' ' -f1-3 /proc/loadavg)"
} > "$tmp/meta"
"$PY" bench/report.py "$tmp" "${BENCH_NOTE:-}" "${BENCH_APPENDIX-bench/observations.md}" > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
cat "$OUT"
