#!/bin/sh
# The command line: help, exit statuses, configuration errors, secrets.
. "$(dirname "$0")/lib.sh"

expect_status 0 "--help lists every command" cc --help
for cmd in init import lint preview plan send run demo-data segment trigger cancel pause resume event suppress tasks report serve; do
  grep -q "^  $cmd " "$T/out" || not_ok "--help lists $cmd"
done
for cmd in init import lint preview plan send run demo-data cancel pause resume; do
  expect_status 0 "$cmd --help" cc "$cmd" --help
  grep -q "usage: carecast .*$cmd" "$T/out" || not_ok "$cmd --help shows its usage"
done
expect_status 2 "no command is a usage error" cc
expect_status 2 "unknown command" cc frobnicate
grep -q "unknown command 'frobnicate'" "$T/err" && ok "unknown command is named" || not_ok "unknown command is named"
expect_status 0 "report --help" cc report --help
grep -q "usage: carecast .*report .*--format text|json|csv|html" "$T/out" || not_ok "report --help shows its usage"
! cc --help | grep -q "not implemented yet" && ok "every command is implemented" || not_ok "a command is still not implemented"
expect_status 2 "bad --date" cc --date 2026-02-30 plan --dry-run
grep -q -- "--date '2026-02-30' is not a valid date" "$T/err" && ok "bad --date is explained" || not_ok "bad --date is explained" "$(cat "$T/err")"
expect_status 2 "bad --format" cc --format xml plan
expect_status 2 "unknown option of a command" cc --db "$T/x.db" plan --dry-rum
grep -q "unknown option '--dry-rum'" "$T/err" && ok "unknown option is named" || not_ok "unknown option is named"
[ ! -e "$T/x.db" ] && ok "a usage error creates no database" || not_ok "a usage error creates no database"
expect_status 0 "--version" cc --version

# Configuration errors are FILE:LINE:COL and change nothing.
mkdir -p "$T/etc"
cat > "$T/etc/carecast.yaml" <<'YAML'
database: var/c.db
timezone: Asia/Shanghai
sender:
  name: Care
  emial: care@example.cn
transports:
  email:
    type: smtp
    host: 127.0.0.1
    port: twenty-five
YAML
expect_status 2 "config: unknown key and wrong type" cc --config "$T/etc/carecast.yaml" plan --dry-run
grep -q "etc/carecast.yaml:5:3: error: unknown key 'emial' in sender" "$T/err" && ok "config: unknown key located" || not_ok "config: unknown key located" "$(cat "$T/err")"
grep -q "etc/carecast.yaml:10:11: error: 'port' must be a whole number" "$T/err" && ok "config: wrong type located" || not_ok "config: wrong type located" "$(cat "$T/err")"
[ ! -e "$T/var" ] && ok "config error writes nothing" || not_ok "config error writes nothing"

cat > "$T/etc/carecast.yaml" <<'YAML'
timezone: Asia/Shangai
YAML
expect_status 2 "config: unknown time zone" cc --config "$T/etc/carecast.yaml" plan --dry-run
grep -q "carecast.yaml:1:11: error: unknown time zone 'Asia/Shangai'" "$T/err" && ok "config: time zone located" || not_ok "config: time zone located" "$(cat "$T/err")"

cat > "$T/etc/carecast.yaml" <<'YAML'
transports:
  sms:
    type: kannel
    url: http://127.0.0.1:13013/cgi-bin/sendsms
    password: hunter2-secret
YAML
expect_status 2 "config: a password in the file is refused" cc --config "$T/etc/carecast.yaml" plan --dry-run
grep -q "5:5: error: secrets do not belong in the config file: use 'password_env" "$T/err" && ok "config: secret refused with advice" || not_ok "config: secret refused with advice" "$(cat "$T/err")"
grep -q "hunter2-secret" "$T/err" && not_ok "config: the secret is not echoed" || ok "config: the secret is not echoed"

cat > "$T/etc/carecast.yaml" <<'YAML'
transports:
  sms: {type: kannel, url: "http://127.0.0.1:1/x", password_file: missing.pw}
YAML
expect_status 2 "config: unreadable secret file" cc --config "$T/etc/carecast.yaml" plan --dry-run
grep -q "cannot read secret file" "$T/err" && ok "config: secret file error" || not_ok "config: secret file error" "$(cat "$T/err")"

cat > "$T/etc/carecast.yaml" <<'YAML'
sender: [a, b
YAML
expect_status 2 "config: invalid YAML is located" cc --config "$T/etc/carecast.yaml" plan --dry-run
grep -q "carecast.yaml:[0-9]*:[0-9]*: error: invalid YAML" "$T/err" && ok "config: YAML error located" || not_ok "config: YAML error located" "$(cat "$T/err")"

expect_status 2 "config: missing file" cc --config "$T/nope.yaml" plan
grep -q "nope.yaml: error: cannot read configuration" "$T/err" && ok "config: missing file named" || not_ok "config: missing file named"

# Relative paths in etc/carecast.yaml hang off the folder above etc/.
cat > "$T/etc/carecast.yaml" <<'YAML'
database: var/rel.db
YAML
cd /tmp && cc --config "$T/etc/carecast.yaml" -q demo-data --customers 5 > /dev/null
[ -f "$T/var/rel.db" ] && ok "config: relative database path resolved from the config's parent" || not_ok "config: relative paths"
perm=$(stat -c %a "$T/var/rel.db")
[ "$perm" = 600 ] && ok "database file is private (600)" || not_ok "database file is private" "mode $perm"

# init makes a working folder that plans.
expect_status 0 "init" cc init "$T/work"
( cd "$T/work" && "$CARECAST" -q --date 2026-03-01 demo-data --customers 300 > /dev/null && "$CARECAST" --date 2026-03-01 lint > /dev/null ) \
  && ok "init: the new folder lints clean" || not_ok "init: the new folder lints clean"
expect_status 0 "init again keeps existing files" cc init "$T/work"
grep -q "kept" "$T/out" && ok "init does not overwrite" || not_ok "init does not overwrite"

# init's next steps name a command that runs from the new folder: the
# binary's absolute path when `carecast` on $PATH is not this binary (just
# built, run as ./carecast), plain `carecast` when it is (installed).
self=$(readlink -f "$CARECAST")
expect_status 0 "init in a fresh folder" env PATH=/usr/bin:/bin "$CARECAST" init "$T/next"
grep -q -F "Next: cd $T/next && $self demo-data --customers 1000 && $self preview birthday-greeting" "$T/out" \
  && ok "init: next steps name the binary by its path when it is not on PATH" || not_ok "init: next steps when not installed" "$(tail -1 "$T/out")"
mkdir -p "$T/bin" && ln -s "$self" "$T/bin/carecast"
expect_status 0 "init with carecast on PATH" env PATH="$T/bin:/usr/bin:/bin" "$CARECAST" init "$T/next2"
grep -q -F "Next: cd $T/next2 && carecast demo-data --customers 1000 && carecast preview birthday-greeting" "$T/out" \
  && ok "init: next steps say carecast when it is the one on PATH" || not_ok "init: next steps when installed" "$(tail -1 "$T/out")"

# make install puts the binary, the man page and the example config in PREFIX.
if make -s -C "$ROOT" install PREFIX="$T/inst" > "$T/install.out" 2>&1; then
  [ -x "$T/inst/bin/carecast" ] && [ -f "$T/inst/share/man/man1/carecast.1" ] && \
    [ -f "$T/inst/share/carecast/carecast.yaml.example" ] && [ -f "$T/inst/share/carecast/rules/birthday.yaml" ] \
    && ok "make install PREFIX=... installs binary, man page, config, rules" || not_ok "make install contents"
  [ -f "$T/inst/share/doc/carecast/campaigns.md" ] && [ -f "$T/inst/share/doc/carecast/cli.md" ] && \
    [ -f "$T/inst/share/doc/carecast/config.md" ] && [ -f "$T/inst/share/doc/carecast/README.md" ] \
    && ok "make install puts the user reference in share/doc/carecast" || not_ok "make install: share/doc/carecast"
  "$T/inst/bin/carecast" --version > /dev/null && ok "the installed binary runs" || not_ok "the installed binary runs"
else
  not_ok "make install" "$(cat "$T/install.out")"
fi

# The database: WAL mode, carecast's schema version recorded, a newer one refused.
cc --db "$T/schema.db" -q demo-data --customers 3 > /dev/null
[ "$(sqlite3 "$T/schema.db" 'PRAGMA journal_mode')" = wal ] && ok "the database is in WAL mode" || not_ok "WAL mode"
[ "$(sqlite3 "$T/schema.db" "SELECT value FROM care_meta WHERE key='schema_version'")" = 5 ] && ok "schema version 5 is recorded" || not_ok "schema version recorded"

# Version 3 -> 4 rewrites the outbox's status CHECK without IN (db.c says
# why), and 4 -> 5 adds 'cancelled', the zone and quiet columns and
# care_paused: a version-3 database, with a message in it, is upgraded in
# place, keeps its rows, still refuses an unknown status and passes
# SQLite's integrity check.
cp "$T/schema.db" "$T/v3.db"
sqlite3 "$T/v3.db" 'DROP TABLE care_paused; ALTER TABLE care_outbox DROP COLUMN quiet; ALTER TABLE care_outbox DROP COLUMN zone;'
cookie=$(sqlite3 "$T/v3.db" 'PRAGMA schema_version')
sqlite3 "$T/v3.db" <<SQL
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(sql, 'CHECK (status = ''planned'' OR status = ''sending'' OR status = ''sent'' OR status = ''retry'' OR status = ''failed'' OR status = ''skipped'' OR status = ''holdout'' OR status = ''cancelled'')', 'CHECK (status IN    (''planned'',''sending'',''sent'',''retry'',''failed'',''skipped'',''holdout''))') WHERE name = 'care_outbox';
PRAGMA writable_schema = OFF;
PRAGMA schema_version = $((cookie + 1));
UPDATE care_meta SET value = '3' WHERE key = 'schema_version';
INSERT INTO care_outbox(campaign, step, audience_table, row_id, occurrence, kind, status, send_after, created_at)
  VALUES ('c', 's', 'customers', 'C1', '2026', 'service', 'sent', 1, 1);
SQL
sqlite3 "$T/v3.db" "SELECT sql FROM sqlite_schema WHERE name = 'care_outbox'" | grep -q "status IN    ('planned'" \
  && ok "a version-3 outbox (status IN ...) is made for the upgrade test" || not_ok "version-3 outbox made"
expect_status 0 "a version-3 database is opened" cc --db "$T/v3.db" report
[ "$(sqlite3 "$T/v3.db" "SELECT value FROM care_meta WHERE key='schema_version'")" = 5 ] && ok "it is upgraded to version 5" || not_ok "upgraded to 5"
[ "$(sqlite3 "$T/v3.db" "SELECT quiet || ',' || coalesce(zone, 'none') FROM care_outbox WHERE row_id = 'C1'")" = "1,none" ] \
  && [ "$(sqlite3 "$T/v3.db" "SELECT count(*) FROM care_paused")" = 0 ] \
  && ok "version 5 adds the zone and quiet columns and care_paused" || not_ok "version 5 columns"
sqlite3 "$T/v3.db" "SELECT sql FROM sqlite_schema WHERE name = 'care_outbox'" | grep -q "CHECK (status = 'planned' OR status = 'sending'" \
  && ! sqlite3 "$T/v3.db" "SELECT sql FROM sqlite_schema WHERE name = 'care_outbox'" | grep -q "(status IN" \
  && ok "its status CHECK is written without IN" || not_ok "status CHECK rewritten" "$(sqlite3 "$T/v3.db" "SELECT sql FROM sqlite_schema WHERE name = 'care_outbox'")"
[ "$(sqlite3 "$T/v3.db" 'PRAGMA integrity_check')" = ok ] && ok "the upgraded database passes integrity_check" || not_ok "integrity_check after the upgrade"
[ "$(sqlite3 "$T/v3.db" "SELECT count(*) FROM care_outbox WHERE status = 'sent' AND row_id = 'C1'")" = 1 ] && ok "the upgrade keeps the outbox rows" || not_ok "outbox rows kept"
sqlite3 "$T/v3.db" "INSERT INTO care_outbox(campaign, step, audience_table, row_id, occurrence, kind, status, send_after, created_at) VALUES ('c', 's', 'customers', 'C2', '2026', 'service', 'lost', 1, 1)" 2> "$T/check.err" \
  && not_ok "an unknown status is still refused" || { grep -q "CHECK constraint failed" "$T/check.err" && ok "an unknown status is still refused after the upgrade" || not_ok "CHECK error" "$(cat "$T/check.err")"; }
sqlite3 "$T/v3.db" "INSERT INTO care_outbox(campaign, step, audience_table, row_id, occurrence, kind, status, send_after, created_at) VALUES ('c', 's', 'customers', 'C3', '2026', 'service', 'holdout', 1, 1)" \
  && sqlite3 "$T/v3.db" "INSERT INTO care_outbox(campaign, step, audience_table, row_id, occurrence, kind, status, send_after, created_at) VALUES ('c', 's', 'customers', 'C4', '2026', 'service', 'cancelled', 1, 1)" \
  && ok "every known status is still allowed, and 'cancelled'" || not_ok "known status allowed"

sqlite3 "$T/schema.db" "UPDATE care_meta SET value='99' WHERE key='schema_version'"
before=$(db_sum "$T/schema.db")
expect_status 2 "a database from a newer carecast is refused" cc --db "$T/schema.db" send
grep -q "schema version 99; this carecast knows up to 5" "$T/err" && ok "the refusal says why" || not_ok "the refusal says why" "$(cat "$T/err")"
[ "$(db_sum "$T/schema.db")" = "$before" ] && ok "the newer database is left alone" || not_ok "the newer database is left alone"

# The user reference is in the repository: every docs/ file README links to
# (or names) exists, and README never sends users to the sibling folder
# ../shared, which they do not have.
missing=""
for f in $(grep -o 'docs/[A-Za-z0-9_.-]*\.\(md\|1\)' "$ROOT/README.md" | sort -u); do
  [ -f "$ROOT/$f" ] || missing="$missing $f"
done
[ -z "$missing" ] && ok "every docs/ file README names exists" || not_ok "README names missing docs files" "$missing"
for f in campaigns cli config; do
  grep -q "](docs/$f.md)" "$ROOT/README.md" && ok "README links docs/$f.md" || not_ok "README links docs/$f.md"
done
! grep -q '\.\./shared' "$ROOT/README.md" && ok "README does not mention ../shared" || not_ok "README mentions ../shared" \
  "$(grep -n '\.\./shared' "$ROOT/README.md")"
# The links between the three references resolve too.
bad=""
for f in campaigns cli config; do
  for l in $(grep -o '](\([a-z]*\.md\)' "$ROOT/docs/$f.md" | sed 's/^](//' | sort -u); do
    [ -f "$ROOT/docs/$l" ] || bad="$bad docs/$f.md->$l"
  done
done
[ -z "$bad" ] && ok "links between docs/campaigns.md, cli.md and config.md resolve" || not_ok "broken docs links" "$bad"
