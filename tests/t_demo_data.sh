# tests/t_demo_data.sh - `carecast demo-data`: deterministic, realistic, and
# every campaign has work on any anchor date.
. "$(dirname "$0")/lib.sh"

cd "$T" || exit 1   # no etc/carecast.yaml here: built-in defaults
TABLES="customers orders contracts repairs complaints vehicles events"
dump() { sqlite3 "$1" ".dump $TABLES" | sha256sum | cut -d' ' -f1; }
q() { sqlite3 "$DB" "$1"; }

expect_status 0 "2,000 customers, seed 7" cc --db "$T/a.db" --date 2026-03-15 demo-data --customers 2000 --seed 7
cp "$T/out" "$T/counts"
expect_status 0 "the same again into another file" cc --db "$T/b.db" --date 2026-03-15 demo-data --customers 2000 --seed 7
check "same (customers, seed, date): identical rows" test "$(dump "$T/a.db")" = "$(dump "$T/b.db")"
check "same counts printed" cmp -s "$T/out" "$T/counts"
expect_status 0 "regenerating replaces the tables" cc --db "$T/b.db" --date 2026-03-15 demo-data --customers 2000 --seed 7
check "regenerated: still identical" test "$(dump "$T/a.db")" = "$(dump "$T/b.db")"
expect_status 0 "another seed" cc --db "$T/c.db" --date 2026-03-15 demo-data --customers 2000 --seed 8
check "another seed: different rows" test "$(dump "$T/a.db")" != "$(dump "$T/c.db")"

DB=$T/a.db
check "prints 'customers 2000'" grep -qx 'customers 2000' "$T/counts"
bad=""
for t in $TABLES; do
  printed=$(awk -v t="$t" '$1 == t { print $2 }' "$T/counts")
  [ -n "$printed" ] && [ "$printed" = "$(q "SELECT count(*) FROM $t")" ] || bad="$bad $t"
done
check "every printed count matches the table${bad:+ (wrong:$bad)}" test -z "$bad"
check "related tables are not empty" test "$(q "SELECT min(n) FROM (SELECT count(*) n FROM orders UNION ALL SELECT count(*) FROM contracts UNION ALL SELECT count(*) FROM repairs UNION ALL SELECT count(*) FROM complaints UNION ALL SELECT count(*) FROM vehicles UNION ALL SELECT count(*) FROM events)")" -gt 0

check "birthdays on the anchor day" test "$(q "SELECT count(*) FROM customers WHERE substr(birth_date, 6) = '03-15'")" -ge 3
check "29 February birthdays exist" test "$(q "SELECT count(*) FROM customers WHERE substr(birth_date, 6) = '02-29'")" -ge 1
check "29 February only in leap years" test "$(q "SELECT count(*) FROM customers WHERE substr(birth_date, 6) = '02-29' AND date(birth_date, '+0 days') != birth_date")" = 0
check "every birth_date is a real date" test "$(q "SELECT count(*) FROM customers WHERE birth_date IS NOT NULL AND date(birth_date, '+0 days') != birth_date")" = 0
check "ids look like C-000001" test "$(q "SELECT min(id) || ' ' || max(id) FROM customers")" = "C-000001 C-002000"
check "mostly Chinese names with zh-CN" test "$(q "SELECT count(*) * 100 / 2000 FROM customers WHERE locale = 'zh-CN'")" -ge 60
check "name = surname + given name for Chinese customers" test "$(q "SELECT count(*) FROM customers WHERE locale = 'zh-CN' AND name != last_name || first_name")" = 0
check "Western customers too" test "$(q "SELECT count(*) FROM customers WHERE locale LIKE 'en-%'")" -ge 400
check "time zones are IANA names" test "$(q "SELECT count(*) FROM customers WHERE timezone IS NOT NULL AND timezone NOT IN ('Asia/Shanghai','Asia/Hong_Kong','Asia/Tokyo','America/New_York','America/Los_Angeles','Europe/London','Australia/Sydney')")" = 0
check "phones are E.164" test "$(q "SELECT count(*) FROM customers WHERE phone IS NOT NULL AND (phone NOT GLOB '+[1-9]*' OR length(phone) NOT BETWEEN 9 AND 16 OR substr(phone, 2) GLOB '*[^0-9]*')")" = 0
check "some phones and emails missing" test "$(q "SELECT (SELECT count(*) FROM customers WHERE phone IS NULL) > 0 AND (SELECT count(*) FROM customers WHERE email IS NULL) > 0")" = 1
check "about 90% active" test "$(q "SELECT count(*) * 100 / 2000 FROM customers WHERE status = 'active'")" -ge 85
check "consent flags mixed" test "$(q "SELECT count(DISTINCT email_opt_in) + count(DISTINCT sms_opt_in) FROM customers")" = 4
check "created_at within the last 8 years" test "$(q "SELECT count(*) FROM customers WHERE created_at > '2026-03-16' OR created_at < '2018-03-01'")" = 0
check "every related row has a known customer" test "$(q "SELECT count(*) FROM orders WHERE customer_id NOT IN (SELECT id FROM customers)")" = 0
check "contracts ending in exactly 30, 7 and 1 days" test "$(q "SELECT count(DISTINCT end_date) FROM contracts WHERE end_date IN ('2026-04-14', '2026-03-22', '2026-03-16')")" = 3
check "repairs closed exactly 3 and 14 days before" test "$(q "SELECT count(DISTINCT substr(closed_at, 1, 10)) FROM repairs WHERE substr(closed_at, 1, 10) IN ('2026-03-12', '2026-03-01')")" = 2
check "some complaints are open" test "$(q "SELECT count(*) FROM complaints WHERE status = 'open' AND closed_at IS NULL")" -gt 0
check "vehicles for about 30%" test "$(q "SELECT count(*) * 100 / 2000 FROM vehicles")" -ge 20
check "customer_id indexes exist" test "$(q "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name NOT LIKE 'care\_%' ESCAPE '\' AND sql LIKE '%(customer_id)'")" = 6
check "birth_date index exists" test "$(q "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'customers' AND sql LIKE '%birth_date%'")" = 1
check "carecast's own tables untouched" test "$(q "SELECT count(*) FROM sqlite_master WHERE name = 'care_meta'")" = 1

# A 29 February anchor: the forced birthdays fall in leap years.
expect_status 0 "anchor on 29 February" cc --db "$T/leap.db" --date 2028-02-29 demo-data --customers 1000 --seed 3
DB=$T/leap.db
check "birthdays on 29 February for a 29 February anchor" test "$(q "SELECT count(*) FROM customers WHERE substr(birth_date, 6) = '02-29' AND date(birth_date, '+0 days') = birth_date")" -ge 3

expect_status 2 "negative --customers is bad usage" cc --db "$T/bad.db" --date 2026-03-15 demo-data --customers -5

# Benchmark-sized: 100,000 customers (optimised binary when available: the
# sanitizer build is several times slower).
BIG=$CARECAST
[ -x "$ROOT/carecast" ] && BIG=$ROOT/carecast
expect_status 0 "100,000 customers" "$BIG" --db "$T/big.db" --date 2026-03-15 demo-data --customers 100000 --seed 1
check "100,000 customers printed" grep -qx 'customers 100000' "$T/out"
DB=$T/big.db
check "100,000 customers stored" test "$(q 'SELECT count(*) FROM customers')" = 100000
# Its speed is measured by bench/, not asserted here.
