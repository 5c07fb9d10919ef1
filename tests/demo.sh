#!/bin/sh
# tests/demo.sh - what `make demo` runs: a demo database, the example
# campaigns planned for the demo date, and delivery into var/outbox/ by the
# file transport (no server needed).  Running it again sends nothing new:
# every (campaign, step, row, occurrence) is planned once, ever.
#
#   DEMO_DATE       the business day to run as (default 2026-11-24)
#   DEMO_CUSTOMERS  customers in a new demo database (default 5000)
set -eu
cd "$(dirname "$0")/.."
DEMO_DATE=${DEMO_DATE:-2026-11-24}
DEMO_CUSTOMERS=${DEMO_CUSTOMERS:-5000}
CARECAST=${CARECAST:-./carecast}
# Delivery runs as of noon the next day, so that every customer's local
# send time on the demo date has passed, in every time zone.
SEND_AT="$(date -u -d "$DEMO_DATE + 1 day" +%Y-%m-%d)T12:00:00"

if [ ! -f var/carecast.db ]; then
  echo "== demo database: $DEMO_CUSTOMERS customers as of $DEMO_DATE (var/carecast.db)"
  "$CARECAST" -q --date "$DEMO_DATE" demo-data --customers "$DEMO_CUSTOMERS" --seed 1
fi
echo "== lint"
"$CARECAST" --date "$DEMO_DATE" lint
echo "== plan for $DEMO_DATE"
"$CARECAST" --date "$DEMO_DATE" plan
echo "== send (as of $SEND_AT)"
"$CARECAST" --now "$SEND_AT" send
emails=$(find var/outbox/email -name '*.eml' 2>/dev/null | wc -l)
sms=$(find var/outbox/sms -name '*.json' 2>/dev/null | wc -l)
echo
echo "Demo done: var/outbox/ holds $emails email(s) and $sms SMS."
echo "Look at one:   ls var/outbox/email | head -1; cat var/outbox/sms/*.json | head -3"
echo "Preview:       ./carecast --date $DEMO_DATE preview birthday-greeting --limit 5"
