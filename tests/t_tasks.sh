#!/bin/sh
# Care tasks (the `task` channel): a task campaign makes care_tasks rows for
# each customer's rep, `send` mails ONE digest per assignee listing their
# tasks, and `carecast tasks` lists open ones and marks one done.
. "$(dirname "$0")/lib.sh"

DB="$T/care.db"
mkdir -p "$T/rules" "$T/templates"
sqlite3 "$DB" <<'SQL'
CREATE TABLE customers(id TEXT PRIMARY KEY, name TEXT, email TEXT, phone TEXT, status TEXT, tier TEXT, rep_email TEXT,
                       email_opt_in INTEGER, sms_opt_in INTEGER);
INSERT INTO customers VALUES ('A1', 'Ann', 'ann@example.com', NULL, 'active', 'A', 'wang@bank.example', 0, 0),
                             ('B2', 'Bob', 'bob@example.com', NULL, 'active', 'A', 'wang@bank.example', 0, 0),
                             ('C3', 'Cy', 'cy@example.com', NULL, 'active', 'A', 'li@bank.example', 0, 0),
                             ('D4', 'Dee', 'dee@example.com', NULL, 'active', 'A', 'not an address', 0, 0),
                             ('E5', 'Eve', 'eve@example.com', NULL, 'active', 'B', 'li@bank.example', 0, 0);
SQL
cat > "$T/rules/vip.yaml" <<'YAML'
campaign: vip-call
kind: service
audience: {where: tier == "A"}
repeat: monthly
channels: [task]
assignee: customer.rep_email
template: vip-call
YAML
printf -- '---\nsubject: Call {{ customer.name }}\n---\nA courtesy call to {{ customer.name }} ({{ customer.id }}).\n' > "$T/templates/vip-call.task.liquid"
cat > "$T/c.yaml" <<YAML
database: $DB
timezone: Asia/Shanghai
rules: $T/rules
templates: $T/templates
outbox_dir: $T/outbox
sender: {name: Care, email: care@example.cn}
YAML
c() { cc --config "$T/c.yaml" --now 2026-05-01T10:00:00+08:00 "$@"; }

expect_status 0 "a task campaign lints clean" c lint
expect_status 0 "plan --dry-run" c --format jsonl plan --dry-run
python3 - "$T/out" <<'PY' && ok "tasks go to the rep; an invalid assignee is no-address" || not_ok "dry-run" "$(cat "$T/out")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
got = [(r["customer"], r["channel"], r["to"], r["status"], r["reason"]) for r in rows]
assert got == [("A1", "task", "wang@bank.example", "planned", None), ("B2", "task", "wang@bank.example", "planned", None),
               ("C3", "task", "li@bank.example", "planned", None), ("D4", None, None, "skipped", "no-address")], got
PY
expect_status 0 "plan" c plan
[ "$(sqlite3 "$DB" "SELECT group_concat(customer_id||':'||assignee||':'||title, ' ') FROM (SELECT * FROM care_tasks ORDER BY id)")" = \
  "A1:wang@bank.example:Call Ann B2:wang@bank.example:Call Bob C3:li@bank.example:Call Cy" ] && ok "three care_tasks rows" || not_ok "care_tasks rows" "$(sqlite3 "$DB" 'SELECT * FROM care_tasks')"
expect_status 0 "tasks lists open ones" c tasks
grep -q "^3 open tasks" "$T/out" && grep -q "Call Bob" "$T/out" && ok "three open tasks listed" || not_ok "list" "$(cat "$T/out")"
expect_status 0 "send" c send
grep -q "sent 3," "$T/out" && ok "the three task rows are sent" || not_ok "send" "$(cat "$T/out")"
[ "$(ls "$T/outbox/email" | wc -l)" = 2 ] && ok "one digest email per assignee" || not_ok "digests" "$(ls "$T/outbox/email")"
wang=$(grep -l "^To: .*wang@bank.example" "$T/outbox/email"/*.eml); li=$(grep -l "^To: .*li@bank.example" "$T/outbox/email"/*.eml)
grep -q "^Subject: 2 new care tasks" $wang && grep -q "Call Ann" $wang && grep -q "Call Bob" $wang && ! grep -q "Call Cy" $wang \
  && ok "Wang's digest lists Ann and Bob" || not_ok "wang digest" "$(cat $wang)"
grep -q "^Subject: 1 new care task" $li && grep -q "Call Cy" $li && grep -q "customer C3" $li \
  && ok "Li's digest lists Cy" || not_ok "li digest" "$(cat $li)"
[ "$(sqlite3 "$DB" "SELECT count(*) FROM care_tasks WHERE digest_sent_at IS NOT NULL")" = 3 ] && ok "digest_sent_at is set" || not_ok "digest_sent_at"
expect_status 0 "send again" c send
[ "$(ls "$T/outbox/email" | wc -l)" = 2 ] && ok "no second digest" || not_ok "second digest"
expect_status 0 "tasks --assignee, as JSON" c --format json tasks --assignee WANG@bank.example
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert [x['customer'] for x in d]==['A1','B2'] and d[0]['digest_sent']" "$T/out" \
  && ok "--assignee filters (case-insensitively)" || not_ok "--assignee" "$(cat "$T/out")"
id=$(sqlite3 "$DB" "SELECT id FROM care_tasks WHERE customer_id = 'B2'")
USER=tester expect_status 0 "tasks --done" c tasks --done "$id" --note "called, all good"
[ "$(sqlite3 "$DB" "SELECT done_by||'|'||note||'|'||(done_at IS NOT NULL) FROM care_tasks WHERE id = $id")" = "tester|called, all good|1" ] \
  && ok "done_at, done_by and note recorded" || not_ok "done row"
expect_status 0 "tasks as CSV" c --format csv tasks
[ "$(tail -n +2 "$T/out" | cut -d, -f3 | tr '\n' ' ')" = "A1 C3 " ] && ok "the done task is no longer listed" || not_ok "csv list" "$(cat "$T/out")"
expect_status 1 "done twice says so" c tasks --done "$id"
expect_status 2 "an unknown task id" c tasks --done 999
expect_status 2 "--note without --done" c tasks --note x
expect_status 0 "plan again the same month" c plan
[ "$(sqlite3 "$DB" 'SELECT count(*) FROM care_tasks')" = 3 ] && ok "no new tasks within the repeat bucket" || not_ok "repeat"
# A task step without an assignee is a load error.
printf 'campaign: bad\naudience: {where: tier == "A"}\nchannels: [task]\ntemplate: vip-call\n' > "$T/rules/bad.yaml"
expect_status 1 "task without assignee: lint error" c lint
grep -q "needs 'assignee:'" "$T/err" && ok "it says assignee is needed" || not_ok "assignee needed" "$(cat "$T/err")"
