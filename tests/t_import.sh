# tests/t_import.sh - `carecast import`: all rows or none, encodings, quoting,
# upserts, type inference and located error messages.
. "$(dirname "$0")/lib.sh"

D=$ROOT/tests/data/import
DB=$T/care.db
cd "$T" || exit 1   # no etc/carecast.yaml here: built-in defaults

# gen_customers FILE [BAD_LINE [BAD_COUNT]]: 1,000 customers; the rows on
# physical lines BAD_LINE .. BAD_LINE+BAD_COUNT-1 get an invalid email.
gen_customers() {
  awk -v bad="${2:-0}" -v nbad="${3:-1}" 'BEGIN {
    print "id,first_name,last_name,name,email,phone,birth_date,locale,timezone,email_opt_in,sms_opt_in"
    for (i = 1; i <= 1000; i++) {
      line = i + 1
      email = sprintf("user%d@example.com", i)
      if (line >= bad && line < bad + nbad) email = "li.na@@x"
      printf "C-%04d,Na%d,Li,Li Na%d,%s,+86138%08d,19%02d-%02d-%02d,zh-CN,Asia/Shanghai,%s,0\n",
             i, i, i, email, i, 50 + i % 50, 1 + i % 12, 1 + i % 28, (i % 3 ? "yes" : "0")
    }
  }' > "$1"
}

# An existing database with three customers.
printf 'id,name,email,phone\nC-9001,Old One,old1@example.com,13800138001\nC-9002,Old Two,,\nC-9003,Old Three,old3@example.com,+12125550100\n' > "$T/base.csv"
expect_status 0 "setup: import into a new database" cc --db "$DB" import customers "$T/base.csv"
check "setup: 3 rows reported" grep -qx 'imported 3 rows into customers' "$T/out"
check "local CN number normalised to E.164" \
  test "$(sqlite3 "$DB" "SELECT phone FROM customers WHERE id='C-9001'")" = "+8613800138001"

# (a) one bad row out of 1,000: exit 2, located message, nothing written.
gen_customers "$T/customers.csv" 517
cp "$DB" "$T/before.db"
sum_before=$(db_sum "$DB")
expect_status 2 "(a) a bad row rejects the whole file" cc --db "$DB" import customers "$T/customers.csv"
check "(a) message names FILE:517: and the value" \
  grep -q "customers.csv:517: invalid email 'li.na@@x' in column email" "$T/err"
check "(a) exactly one error reported" test "$(grep -c 'customers.csv:' "$T/err")" -eq 1
check "(a) database file byte-for-byte unchanged" cmp -s "$DB" "$T/before.db"
check "(a) database content unchanged (db_sum)" test "$(db_sum "$DB")" = "$sum_before"
check "(a) no new columns were added" \
  test "$(sqlite3 "$DB" "SELECT count(*) FROM pragma_table_info('customers') WHERE name='birth_date'")" = 0

# (b) the same file fixed imports all 1,000 rows.
gen_customers "$T/customers.csv"
expect_status 0 "(b) the fixed file imports" cc --db "$DB" import customers "$T/customers.csv"
check "(b) prints the row count" grep -qx 'imported 1000 rows into customers' "$T/out"
check "(b) 1,003 customers in the table" test "$(sqlite3 "$DB" 'SELECT count(*) FROM customers')" = 1003
check "(b) opt-in 'yes' stored as 1" \
  test "$(sqlite3 "$DB" "SELECT email_opt_in FROM customers WHERE id='C-0001'")" = 1
check "(b) new columns added, old rows keep NULL" \
  test "$(sqlite3 "$DB" "SELECT count(*) FROM customers WHERE birth_date IS NULL")" = 3
check "(b) row 516 is there" \
  test "$(sqlite3 "$DB" "SELECT email FROM customers WHERE id='C-0516'")" = "user516@example.com"

# (c) GB18030 with --encoding.
if iconv -f UTF-8 -t GB18030 "$D/people-utf8.csv" > "$T/people-gb.csv" 2>/dev/null; then
  expect_status 2 "(c) GB18030 without --encoding is refused" cc --db "$DB" import people "$T/people-gb.csv"
  check "(c) the refusal suggests --encoding gb18030" grep -q 'invalid UTF-8.*--encoding gb18030' "$T/err"
  expect_status 0 "(c) GB18030 with --encoding gb18030 imports" \
    cc --db "$DB" import people "$T/people-gb.csv" --encoding gb18030
  check "(c) Chinese names decoded" \
    test "$(sqlite3 "$DB" "SELECT group_concat(name, '|') FROM (SELECT name FROM people ORDER BY id)")" = "李娜|王芳|欧阳修|Zoë O'Brien|诸葛亮"
  check "(c) same content as the UTF-8 original" \
    test "$(sqlite3 "$DB" "SELECT city FROM people WHERE id='P3'")" = "庐陵"
  expect_status 0 "(c) gbk is accepted too" cc --db "$DB" import people "$T/people-gb.csv" --encoding gbk
else
  skip "(c) GB18030" "iconv cannot write GB18030"
fi
expect_status 2 "(c) unknown encoding is bad usage" cc --db "$DB" import people "$D/people-utf8.csv" --encoding latin9

# (d) a UTF-8 byte-order mark is not part of the first column name.
printf '\357\273\277id,name\r\nB1,带BOM\r\n' > "$T/bom.csv"
expect_status 0 "(d) BOM file imports" cc --db "$DB" import bomtab "$T/bom.csv"
check "(d) first column is named id" \
  test "$(sqlite3 "$DB" "SELECT name FROM bomtab WHERE id='B1'")" = "带BOM"
check "(d) no column with a BOM in its name" \
  test "$(sqlite3 "$DB" "SELECT group_concat(name) FROM pragma_table_info('bomtab')")" = "id,name"

# (e) quotes, semicolons and -- are data.
expect_status 0 "(e) quoting.csv imports" cc --db "$DB" import notes "$D/quoting.csv"
check "(e) customers table still there" test "$(sqlite3 "$DB" 'SELECT count(*) FROM customers')" = 1003
check "(e) people table still there" test "$(sqlite3 "$DB" 'SELECT count(*) FROM people')" = 5
check "(e) the injection-looking id is stored as is" \
  test "$(sqlite3 "$DB" "SELECT count(*) FROM notes WHERE id = 'x''); DROP TABLE customers; --'")" = 1
check "(e) doubled quotes unescaped" \
  test "$(sqlite3 "$DB" "SELECT text FROM notes WHERE \"we\"\"ird\" = 1")" = 'a "quoted" word; DROP TABLE people; --'
sqlite3 "$DB" "SELECT text FROM notes WHERE id='plain'" > "$T/got"
printf 'comma, semicolon; and\r\nnewline\n' > "$T/want"
check "(e) embedded CRLF newline kept exactly" cmp -s "$T/got" "$T/want"
check "(e) a field that is just -- is data" test "$(sqlite3 "$DB" "SELECT text FROM notes WHERE \"we\"\"ird\" = 3")" = "--"
expect_status 2 "(e) a table name with SQL in it is bad usage" cc --db "$DB" import 'x; DROP TABLE customers' "$D/quoting.csv"
check "(e) the bad name is explained" grep -q "invalid table name 'x; DROP TABLE customers'" "$T/err"
expect_status 2 "(e) care_* tables are carecast's own" cc --db "$DB" import care_outbox "$D/quoting.csv"
check "(e) care_* refusal explained" grep -q "care_\\* and sqlite_\\* are reserved" "$T/err"
check "(e) customers survived" test "$(sqlite3 "$DB" 'SELECT count(*) FROM customers')" = 1003

# (f) upsert by --key: existing rows updated, new rows added, others kept.
printf 'code,label,price\nA1,Apple,3\nB2,Banana,1\nC3,Cherry,9\n' > "$T/prod1.csv"
printf 'code,label,price,stock\nB2,Banana (ripe),2,40\nD4,Date,12,5\n' > "$T/prod2.csv"
expect_status 0 "(f) first import with --key code" cc --db "$DB" import products "$T/prod1.csv" --key code
expect_status 0 "(f) second import upserts" cc --db "$DB" import products "$T/prod2.csv" --key code
check "(f) 2 rows reported" grep -qx 'imported 2 rows into products' "$T/out"
check "(f) four products" test "$(sqlite3 "$DB" 'SELECT count(*) FROM products')" = 4
check "(f) B2 updated" test "$(sqlite3 "$DB" "SELECT label || '/' || price || '/' || stock FROM products WHERE code='B2'")" = "Banana (ripe)/2/40"
check "(f) A1 untouched" test "$(sqlite3 "$DB" "SELECT label || '/' || price || '/' || ifnull(stock, 'null') FROM products WHERE code='A1'")" = "Apple/3/null"
expect_status 0 "(f) customers upsert by id" cc --db "$DB" import customers "$T/base.csv"
check "(f) customers count unchanged after re-import" test "$(sqlite3 "$DB" 'SELECT count(*) FROM customers')" = 1003
sqlite3 "$DB" "CREATE TABLE loose(id TEXT, v TEXT)"
printf 'id,v\n1,a\n' > "$T/loose.csv"
expect_status 2 "(f) an existing table without a unique key is refused" cc --db "$DB" import loose "$T/loose.csv"
check "(f) the refusal explains the missing unique index" grep -q 'no primary key or unique index on column id' "$T/err"
printf 'id,v\n1,a\n1,b\n' > "$T/dup.csv"
expect_status 2 "(f) duplicate keys in one file are refused" cc --db "$DB" import dupes "$T/dup.csv"
check "(f) duplicate key located" grep -q "dup.csv:3: duplicate key '1' in column id (first on line 2)" "$T/err"
check "(f) ... and the table was not created" test "$(sqlite3 "$DB" "SELECT count(*) FROM sqlite_master WHERE name='dupes'")" = 0

# (g) type inference.
expect_status 0 "(g) typed.csv imports" cc --db "$DB" import typed "$D/typed.csv"
check "(g) declared types" \
  test "$(sqlite3 "$DB" "SELECT group_concat(name || ':' || type, ' ') FROM pragma_table_info('typed')")" \
  = "id:INTEGER phone:TEXT code:TEXT amount:REAL n:INTEGER day:DATE mixed:TEXT"
check "(g) +86 phone stays text" test "$(sqlite3 "$DB" "SELECT typeof(phone) || phone FROM typed WHERE id=1")" = "text+8613800138000"
check "(g) 007 stays text" test "$(sqlite3 "$DB" "SELECT typeof(code) || ':' || code FROM typed WHERE id=1")" = "text:007"
check "(g) integers are integers" test "$(sqlite3 "$DB" "SELECT typeof(n) || n FROM typed WHERE id=2")" = "integer-7"
check "(g) empty field is NULL" test "$(sqlite3 "$DB" "SELECT typeof(phone) || typeof(day) FROM typed WHERE id=3")" = "nullnull"
check "(g) ISO date stays text" test "$(sqlite3 "$DB" "SELECT typeof(day) FROM typed WHERE id=2")" = "text"

# (h) ragged row and impossible date, located by physical line.
expect_status 2 "(h) ragged.csv is refused" cc --db "$DB" import customers "$D/ragged.csv"
check "(h) ragged row on line 4 (after a two-line field)" grep -q 'ragged.csv:4: expected 4 fields as in the header, found 3' "$T/err"
check "(h) 2023-02-29 on line 5" grep -q "ragged.csv:5: invalid date '2023-02-29' in column birth_date" "$T/err"
check "(h) 2024-02-29 is fine" sh -c "! grep -q 'ragged.csv:6:' '$T/err'"
check "(h) month 13 on line 7" grep -q "ragged.csv:7: invalid date '1990-13-01'" "$T/err"
printf 'id,name\nX1,"never closed\nX2,b\n' > "$T/unterminated.csv"
expect_status 2 "(h) unterminated quote is refused" cc --db "$DB" import misc "$T/unterminated.csv"
check "(h) unterminated quote located" grep -q 'unterminated.csv:2: unterminated quoted field' "$T/err"
printf 'id,,name,id\n1,2,3,4\n' > "$T/header.csv"
expect_status 2 "(h) empty and duplicate header names are refused" cc --db "$DB" import misc "$T/header.csv"
check "(h) empty header name reported" grep -q 'header.csv:1: empty column name' "$T/err"
check "(h) duplicate header name reported" grep -q "header.csv:1: duplicate column name 'id'" "$T/err"
printf 'id,name\n1,a\0b\n2,\377\n' > "$T/binary.csv"
expect_status 2 "(h) NUL bytes and invalid UTF-8 are refused" cc --db "$DB" import misc "$T/binary.csv"
check "(h) NUL located" grep -q 'binary.csv:2: NUL byte in column name' "$T/err"
check "(h) invalid UTF-8 located" grep -q 'binary.csv:3: invalid UTF-8 in column name' "$T/err"
printf 'id,email,phone,timezone,locale,sms_opt_in,preferred_channel\nC-1,a@b.example,12345,Mars/Olympus,not a locale,maybe,fax\n' > "$T/fields.csv"
expect_status 2 "(h) customer field checks" cc --db "$DB" import customers "$T/fields.csv"
check "(h) bad phone named" grep -q "fields.csv:2: invalid phone number '12345' in column phone" "$T/err"
check "(h) bad time zone named" grep -q "fields.csv:2: invalid time zone 'Mars/Olympus' in column timezone" "$T/err"
check "(h) bad locale named" grep -q "fields.csv:2: invalid locale 'not a locale' in column locale" "$T/err"
check "(h) bad opt-in named" grep -q "fields.csv:2: invalid opt-in flag 'maybe' in column sms_opt_in" "$T/err"
check "(h) bad channel named" grep -q "fields.csv:2: invalid channel 'fax' in column preferred_channel" "$T/err"

# (i) more than 20 errors: the first 20, then a count of the rest.
gen_customers "$T/many.csv" 2 30
cp "$DB" "$T/before.db"
expect_status 2 "(i) 30 bad rows are refused" cc --db "$DB" import customers "$T/many.csv"
check "(i) 20 errors shown" test "$(grep -c "many.csv:[0-9]*: invalid email" "$T/err")" -eq 20
check "(i) then '... and 10 more errors'" grep -q '^\.\.\. and 10 more errors$' "$T/err"
check "(i) database unchanged" cmp -s "$DB" "$T/before.db"

# A header with no rows creates a table of TEXT columns.
printf 'id,name\n' > "$T/empty-rows.csv"
expect_status 0 "header-only file imports 0 rows" cc --db "$DB" import emptyrows "$T/empty-rows.csv"
check "header-only: TEXT columns" test "$(sqlite3 "$DB" "SELECT group_concat(type) FROM pragma_table_info('emptyrows')")" = "TEXT,TEXT"
printf 'id,name\n1,ok\n2,\201\n' > "$T/badgb.csv"
expect_status 2 "broken GB18030 is refused" cc --db "$DB" import misc "$T/badgb.csv" --encoding gb18030
check "broken GB18030 located" grep -q 'badgb.csv:3: .*GB18030 byte sequence' "$T/err"

# Large: 200,000 rows in one go.
awk 'BEGIN { print "id,name,amount"; for (i = 1; i <= 200000; i++) printf "R%d,name %d,%d.%02d\n", i, i, i % 1000, i % 100 }' > "$T/big.csv"
expect_status 0 "200,000-row import" cc --db "$DB" import big "$T/big.csv"
check "200,000 rows stored" test "$(sqlite3 "$DB" 'SELECT count(*) FROM big')" = 200000
