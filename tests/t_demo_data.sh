# tests/t_demo_data.sh - `carecast demo-data`: deterministic, realistic, and
# every campaign has work on any anchor date.
. "$(dirname "$0")/lib.sh"

cd "$T" || exit 1   # no etc/carecast.yaml here: built-in defaults
TABLES="customers orders contracts repairs complaints vehicles events invoices homes points"
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
check "related tables are not empty" test "$(q "SELECT min(n) FROM (SELECT count(*) n FROM orders UNION ALL SELECT count(*) FROM contracts UNION ALL SELECT count(*) FROM repairs UNION ALL SELECT count(*) FROM complaints UNION ALL SELECT count(*) FROM vehicles UNION ALL SELECT count(*) FROM events UNION ALL SELECT count(*) FROM invoices UNION ALL SELECT count(*) FROM homes UNION ALL SELECT count(*) FROM points)")" -gt 0

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
check "complaints opened the day before, still open" test "$(q "SELECT count(*) FROM complaints WHERE substr(opened_at, 1, 10) = '2026-03-14' AND status = 'open'")" -ge 1
check "complaints closed exactly 3 days before" test "$(q "SELECT count(*) FROM complaints WHERE substr(closed_at, 1, 10) = '2026-03-12' AND status IN ('resolved', 'closed')")" -ge 1
check "customers who joined exactly 1-7 years before" test "$(q "SELECT count(DISTINCT substr(created_at, 1, 4)) FROM customers WHERE substr(created_at, 5, 6) = '-03-15' AND created_at < '2026-01-01'")" -ge 3
# The schema says what the data is, as import declares it: rules read
# dates and date-times from the declaration.
check "dates are declared DATE and date-times DATETIME" test "$(q "SELECT group_concat(c, ' ') FROM (SELECT m.name || '.' || p.name || ':' || p.type AS c
  FROM sqlite_master AS m, pragma_table_info(m.name) AS p
  WHERE (m.name, p.name) IN (VALUES ('customers', 'birth_date'), ('customers', 'created_at'), ('repairs', 'closed_at'),
    ('vehicles', 'next_inspection'), ('invoices', 'paid_at'), ('contracts', 'end_date'))
  ORDER BY 1)")" = "contracts.end_date:DATE customers.birth_date:DATE customers.created_at:DATETIME invoices.paid_at:DATETIME repairs.closed_at:DATETIME vehicles.next_inspection:DATE"
check "first purchases exactly 7 and 30 days before" test "$(q "SELECT count(DISTINCT f) FROM (SELECT substr(min(ordered_at), 1, 10) f FROM orders GROUP BY customer_id) WHERE f IN ('2026-03-08', '2026-02-13')")" = 2
check "lapsed valuable customers" test "$(q "SELECT count(*) FROM (SELECT customer_id FROM orders GROUP BY customer_id HAVING sum(amount) >= 5000 AND max(ordered_at) < '2025-03-15')")" -ge 3
check "unpaid invoices due exactly 3 and 15 days before" test "$(q "SELECT count(DISTINCT due_date) FROM invoices WHERE paid_at IS NULL AND due_date IN ('2026-03-12', '2026-02-28')")" = 2
check "invoices are mostly paid" test "$(q "SELECT count(*) * 100 / (SELECT count(*) FROM invoices) FROM invoices WHERE paid_at IS NOT NULL")" -ge 70
check "homes handed over 30 days, 3 and 11 months before" test "$(q "SELECT count(DISTINCT handover_date) FROM homes WHERE handover_date IN ('2026-02-13', '2025-12-15', '2025-04-15')")" = 3
check "points expiring in exactly 30 days" test "$(q "SELECT count(*) FROM points WHERE expires_on = '2026-04-14' AND points > 0")" -ge 1
check "vehicles: inspection in 14 days, bought 7 days ago, 15,000 km past service" test "$(q "SELECT (SELECT count(*) FROM vehicles WHERE next_inspection = '2026-03-29') > 0 AND (SELECT count(*) FROM vehicles WHERE purchased_on = '2026-03-08') > 0 AND (SELECT count(*) FROM vehicles WHERE mileage_km - coalesce(last_service_km, 0) >= 15000) > 0")" = 1
check "service history never ahead of the odometer" test "$(q "SELECT count(*) FROM vehicles WHERE last_service_km > mileage_km OR last_service_km < 0 OR last_service_on > '2026-03-15' OR last_service_on < purchased_on")" = 0
check "some complaints are open" test "$(q "SELECT count(*) FROM complaints WHERE status = 'open' AND closed_at IS NULL")" -gt 0
check "vehicles for about 30%" test "$(q "SELECT count(*) * 100 / 2000 FROM vehicles")" -ge 20
check "customer_id indexes exist" test "$(q "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name NOT LIKE 'care\_%' ESCAPE '\' AND sql LIKE '%(customer_id)'")" = 9
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
