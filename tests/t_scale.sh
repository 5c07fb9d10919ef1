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
