#!/bin/sh
# Planning is set-based: each campaign step is one audience query that
# SQLite scans, and the per-message look-ups are prepared once per run, so
# the statement count is the same for 2,000 and 100,000 customers.
. "$(dirname "$0")/lib.sh"

# The optimised binary when there is one: the sanitizer build is slower,
# and this test is about counts, not speed.
BIN=$CARECAST
[ -x "$ROOT/carecast" ] && BIN=$ROOT/carecast
stats() {  # stats CUSTOMERS: the "planning took ..." line for a fresh demo database
  "$BIN" --db "$T/s$1.db" --date 2026-11-24 -q demo-data --customers "$1" --seed 3 > /dev/null &&
  "$BIN" --db "$T/s$1.db" --rules "$ROOT/rules" --templates "$ROOT/templates" --date 2026-11-24 -v \
    --format jsonl plan --dry-run 2> "$T/err$1" > "$T/plan$1.jsonl"
  grep -o "planning took .*" "$T/err$1"
}
small=$(stats 2000)
big=$(stats 100000)
steps=$(echo "$big" | sed -n 's/.* for \([0-9]*\) campaign steps.*/\1/p')
queries=$(echo "$big" | sed -n 's/planning took \([0-9]*\) audience queries.*/\1/p')
[ -n "$steps" ] && [ "$steps" = "$queries" ] && ok "one audience query per campaign step ($big)" || not_ok "one audience query per step" "$big"
[ -n "$small" ] && [ "$small" = "$big" ] && ok "the same statements for 2,000 and 100,000 customers" || not_ok "statements do not grow with customers" "$small / $big"
n=$(wc -l < "$T/plan100000.jsonl")
[ "$n" -gt 100 ] && ok "100,000 customers: $n messages due on 2026-11-24" || not_ok "100,000 customers plan something" "$n"

# Sending is claim by claim, and a claim costs its own messages: the due
# queue is read once, not at every claim (outbox.h).  The same 2,000 SMS
# are sent in several claims (file transport), from a queue of 2,000 and from
# one of 20,000: the queue is read once in both, and the SQLite work of
# the claims is the same.
queue_stats() {  # queue_stats CUSTOMERS: "READS IDS STEPS" of a send --limit 2000
  mkdir -p "$T/q$1/rules" "$T/q$1/tpl"
  sqlite3 "$T/q$1/care.db" "CREATE TABLE customers(id TEXT PRIMARY KEY, name TEXT, phone TEXT);
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
    INSERT INTO customers SELECT printf('C%06d', i), 'Customer ' || i, printf('+86138%08d', i) FROM n;"
  printf 'campaign: bill\nkind: service\nrepeat: daily\nchannels: [sms]\ntemplate: t\n' > "$T/q$1/rules/b.yaml"
  printf 'Your bill is ready, {{ customer.name }}.\n' > "$T/q$1/tpl/t.sms.liquid"
  printf 'database: %s\nrules: %s\ntemplates: %s\noutbox_dir: %s\n' "$T/q$1/care.db" "$T/q$1/rules" \
    "$T/q$1/tpl" "$T/q$1/outbox" > "$T/q$1/c.yaml"
  "$BIN" --config "$T/q$1/c.yaml" --date 2026-05-01 -q plan > /dev/null &&
  "$BIN" --config "$T/q$1/c.yaml" --date 2026-05-01 -v send --limit 2000 2> "$T/q$1/err" > "$T/q$1/out" &&
  sed -n 's/.*sms: 2000 messages claimed; the queue read \([0-9]*\) times (\([0-9]*\) ids), \([0-9]*\) SQLite steps.*/\1 \2 \3/p' "$T/q$1/err"
}
small=$(queue_stats 2000)
big=$(queue_stats 20000)
set -- $small; s_reads=${1:-x}; s_steps=${3:-0}
set -- $big; b_reads=${1:-x}; b_ids=${2:-0}; b_steps=${3:-0}
[ "$s_reads" = 1 ] && [ "$b_reads" = 1 ] && [ "$b_ids" = 20000 ] \
  && ok "2,000 messages claimed in several claims read the queue once (2,000 and 20,000 due)" || not_ok "the queue is read once" "small: $small; big: $big"
[ "$s_steps" -gt 0 ] && [ "$b_steps" -gt 0 ] && [ $((b_steps * 10)) -le $((s_steps * 12)) ] && [ $((s_steps * 10)) -le $((b_steps * 12)) ] \
  && ok "claiming 2,000 messages takes the same SQLite work from a queue of 2,000 or 20,000 ($s_steps / $b_steps steps)" \
  || not_ok "claims do not grow with the queue" "small: $small; big: $big"
