#!/bin/sh
# The golden planning suite: tests/golden/ holds a fixture database, one
# campaign per timing form and, for each run in the sequence below, the
# exact JSONL that `plan` must record.  The runs are cumulative, as a
# scheduled carecast would make them, so they also show the never-twice
# rule, grace catch-up (inside and outside the window), month ends,
# 28 February / 1 March in common and leap years, and send_at across DST
# changes in the customers' zones.
#
# GOLDEN_UPDATE=1 rewrites the expected files (then review every line).
. "$(dirname "$0")/lib.sh"

G="$ROOT/tests/golden"
DB="$T/golden.db"
sqlite3 "$DB" < "$G/fixture.sql"
mkdir -p "$G/expected"

run() {  # run NOW [TAG]: plan as of NOW and compare with expected/NOW[TAG].jsonl
  _now=$1
  _name=$(echo "$_now" | tr ':' '-')${2:-}
  cc --db "$DB" --rules "$G/rules" --templates "$G/templates" --now "$_now" --format jsonl plan \
    > "$T/$_name.jsonl" 2> "$T/$_name.err"
  _rc=$?
  if [ -n "${GOLDEN_UPDATE:-}" ]; then cp "$T/$_name.jsonl" "$G/expected/$_name.jsonl"; fi
  if [ $_rc -ne 0 ]; then
    not_ok "plan at $_now" "exit $_rc: $(cat "$T/$_name.err")"
  elif cmp -s "$T/$_name.jsonl" "$G/expected/$_name.jsonl"; then
    ok "plan at $_now records exactly expected/$_name.jsonl ($(wc -l < "$T/$_name.jsonl") lines)"
  else
    not_ok "plan at $_now" "$(diff "$G/expected/$_name.jsonl" "$T/$_name.jsonl" | head -20)"
  fi
}

run 2027-01-31T00:00:00+08:00   # month-end starts, a weekly bucket, repeat after N days begins
run 2027-02-21T00:00:00+08:00   # a week before 28 Feb birthdays (offset -7 days; 29 Feb counts as 28 Feb)
run 2027-02-28T00:00:00+08:00   # common year: 29 Feb and 28 Feb birthdays; monthly day 31 -> 28 Feb
run 2027-03-01T12:00:00+08:00   # 1 March; a date-time occurrence inside its grace; 28 Feb not again
run 2027-03-02T00:00:00+08:00   # repeat: after 30 days comes due
run 2027-03-14T00:00:00+08:00   # US DST starts: New York 09:30 is -04:00, London still +00:00
run 2027-04-01T00:00:00+08:00   # after missed runs: catch-up inside grace (3 days, 1 day), not outside
run 2027-04-30T00:00:00+08:00   # month end of a 30-day month
run 2028-02-28T00:00:00+08:00   # leap year: 28 Feb is only for 28 Feb birthdays
run 2028-02-29T00:00:00+08:00   # leap day: 29 Feb birthdays and day-31 monthly
run 2028-03-01T00:00:00+08:00   # 1 March of a leap year
run 2028-03-01T00:00:00+08:00 -again   # the same run again: nothing new, ever
[ ! -s "$T/2028-03-01T00-00-00+08-00-again.jsonl" ] && ok "a repeated run plans nothing" || not_ok "a repeated run plans nothing"
n=$(sqlite3 "$DB" "SELECT count(*) FROM (SELECT campaign, step, row_id, occurrence FROM care_outbox GROUP BY 1,2,3,4 HAVING count(*) > 1)")
[ "$n" = 0 ] && ok "no occurrence was planned twice" || not_ok "no occurrence was planned twice" "$n"
