/* db.c - opens the customer database and owns carecast's care_* schema.
 *
 * Invariant: the schema version in care_meta is the version of every care_*
 * table; migrations[i] takes version i to i+1 inside one transaction. */
#include "db.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Version 0 -> 1: the first schema.  Times are unix seconds (INTEGER) so
 * comparisons are exact; ISO copies exist only where people read them. */
static const char *const migration_1 =
    "CREATE TABLE care_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE care_runs("
    "  id INTEGER PRIMARY KEY, command TEXT NOT NULL, as_of INTEGER NOT NULL,"
    "  started_at INTEGER NOT NULL, finished_at INTEGER, result TEXT);"
    "CREATE TABLE care_occurrences("
    "  campaign TEXT NOT NULL, step TEXT NOT NULL, row_id TEXT NOT NULL,"
    "  occurrence TEXT NOT NULL, run_id INTEGER, planned_at INTEGER NOT NULL,"
    "  PRIMARY KEY (campaign, step, row_id, occurrence)) WITHOUT ROWID;"
    "CREATE TABLE care_outbox("
    "  id INTEGER PRIMARY KEY,"
    "  run_id INTEGER, campaign TEXT NOT NULL, step TEXT NOT NULL,"
    "  audience_table TEXT NOT NULL, row_id TEXT NOT NULL, customer_id TEXT,"
    "  occurrence TEXT NOT NULL, kind TEXT NOT NULL, priority INTEGER NOT NULL DEFAULT 50,"
    "  channel TEXT, recipient TEXT, to_name TEXT, locale TEXT,"
    "  status TEXT NOT NULL CHECK (status IN"
    "    ('planned','sending','sent','retry','failed','skipped','holdout')),"
    "  reason TEXT,"
    "  send_after INTEGER NOT NULL, send_after_local TEXT,"
    "  subject TEXT, body_text TEXT, body_html TEXT, sms_text TEXT, unsubscribe_url TEXT,"
    "  attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER,"
    "  lease_until INTEGER, last_error TEXT,"
    "  created_at INTEGER NOT NULL, sent_at INTEGER);"
    "CREATE INDEX care_outbox_due ON care_outbox(status, send_after);"
    "CREATE INDEX care_outbox_customer ON care_outbox(customer_id, created_at);"
    "CREATE TABLE care_attempts("
    "  outbox_id INTEGER NOT NULL REFERENCES care_outbox(id), attempt INTEGER NOT NULL,"
    "  at INTEGER NOT NULL, result TEXT NOT NULL, reply TEXT,"
    "  PRIMARY KEY (outbox_id, attempt));"
    "CREATE TABLE care_suppressions("
    "  id INTEGER PRIMARY KEY, address TEXT, customer_id TEXT,"
    "  scope TEXT NOT NULL CHECK (scope IN ('marketing','all')),"
    "  reason TEXT, created_at INTEGER NOT NULL,"
    "  CHECK (address IS NOT NULL OR customer_id IS NOT NULL));"
    "CREATE INDEX care_suppressions_address ON care_suppressions(address);"
    "CREATE INDEX care_suppressions_customer ON care_suppressions(customer_id);"
    /* The contact history as rules see it: `messages` in expressions. */
    "CREATE VIEW care_messages AS SELECT id, customer_id, campaign, step, channel, kind, status,"
    "  CASE WHEN sent_at IS NULL THEN NULL ELSE datetime(sent_at, 'unixepoch') END AS sent_at"
    "  FROM care_outbox WHERE status IN ('planned','sending','sent','retry');";

/* Version 1 -> 2: delivery reports (`carecast serve`).  A report says what
 * happened after the gateway accepted a message, so it lives beside
 * `status` rather than in it: the outbox state machine stays as it was,
 * and a report that overtakes the sender's own 'sent' (Kannel can call
 * back before `send` commits) loses nothing.  The view is rebuilt so rules
 * can see delivery in `messages`. */
static const char *const migration_2 =
    "ALTER TABLE care_outbox ADD COLUMN delivery_status TEXT"
    "  CHECK (delivery_status IN ('delivered','undelivered'));"
    "ALTER TABLE care_outbox ADD COLUMN delivered_at INTEGER;"
    "ALTER TABLE care_outbox ADD COLUMN delivery_detail TEXT;"
    "DROP VIEW care_messages;"
    "CREATE VIEW care_messages AS SELECT id, customer_id, campaign, step, channel, kind, status,"
    "  CASE WHEN sent_at IS NULL THEN NULL ELSE datetime(sent_at, 'unixepoch') END AS sent_at,"
    "  delivery_status,"
    "  CASE WHEN delivered_at IS NULL THEN NULL ELSE datetime(delivered_at, 'unixepoch') END AS delivered_at"
    "  FROM care_outbox WHERE status IN ('planned','sending','sent','retry');";

/* Version 2 -> 3: care tasks for staff (the `task` channel) and segment
 * values with their history (`carecast segment`).
 *
 *   care_tasks            one row per task: who (assignee), about whom
 *                         (customer_id), from which campaign step; open
 *                         until done_at is set by `carecast tasks --done`
 *   care_segment_values   the current label of each customer in each
 *                         segment, the previous one and when it changed
 *   care_segment_history  every change of label, for movement reports
 *   care_segment_runs     when each segment was last computed (`run`
 *                         recomputes when older than a day) */
static const char *const migration_3 =
    "CREATE TABLE care_tasks("
    "  id INTEGER PRIMARY KEY, outbox_id INTEGER REFERENCES care_outbox(id),"
    "  campaign TEXT NOT NULL, step TEXT NOT NULL, customer_id TEXT,"
    "  assignee TEXT NOT NULL, title TEXT NOT NULL, body TEXT,"
    "  due_at INTEGER NOT NULL, created_at INTEGER NOT NULL,"
    "  digest_sent_at INTEGER, done_at INTEGER, done_by TEXT, note TEXT);"
    "CREATE INDEX care_tasks_open ON care_tasks(assignee, done_at);"
    "CREATE TABLE care_segment_values("
    "  segment TEXT NOT NULL, customer_id TEXT NOT NULL, label TEXT,"
    "  score TEXT, value REAL, previous_label TEXT, changed_at INTEGER,"
    "  computed_at INTEGER NOT NULL,"
    "  PRIMARY KEY (segment, customer_id)) WITHOUT ROWID;"
    "CREATE TABLE care_segment_history("
    "  segment TEXT NOT NULL, customer_id TEXT NOT NULL, label TEXT,"
    "  previous_label TEXT, changed_at INTEGER NOT NULL);"
    "CREATE INDEX care_segment_history_segment ON care_segment_history(segment, changed_at);"
    "CREATE TABLE care_segment_runs("
    "  segment TEXT PRIMARY KEY, computed_at INTEGER NOT NULL, customers INTEGER NOT NULL);";

/* Version 3 -> 4: the outbox's status CHECK without IN.  SQLite checks
 * `x IN (list)` of more than two values through a temporary b-tree built
 * anew at each execution of a statement, so every insert into the outbox
 * and every claim and result of a message paid for one: about a fifth of
 * the sender's instructions.  The same rule written with `=` and `OR` is
 * plain comparisons.  A CHECK that allows the same values changes nothing
 * on disk, so the stored CREATE TABLE is edited in place (SQLite's
 * documented way to change a constraint without rebuilding the table,
 * which for a large outbox would take minutes) and the schema cookie
 * bumped so every connection reads it again. */
#define STATUS_CHECK_IN \
    "CHECK (status IN    ('planned','sending','sent','retry','failed','skipped','holdout'))"
#define STATUS_CHECK_OR \
    "CHECK (status = 'planned' OR status = 'sending' OR status = 'sent' OR status = 'retry' OR " \
    "status = 'failed' OR status = 'skipped' OR status = 'holdout')"

static int edit_status_check(sqlite3 *db, const char *from, const char *to, char **msg);

static int migration_4(sqlite3 *db, char **msg)
{
    return edit_status_check(db, STATUS_CHECK_IN, STATUS_CHECK_OR, msg);
}

/* Version 4 -> 5: a way to stop a send, and quiet hours at the moment of
 * sending.
 *
 *   status 'cancelled'    `carecast cancel`: never sent, kept for report
 *                         (the CHECK edited in place, as in version 4)
 *   care_outbox.zone      the customer's time zone the message was planned
 *                         in, so that the sender can tell whether it is
 *                         night for that customer now (a catch-up, a retry,
 *                         a sender that was down)
 *   care_outbox.quiet     1 when quiet hours hold the message (0 for
 *                         ignore_quiet_hours campaigns and staff tasks)
 *   care_paused           `carecast pause`: campaigns whose messages wait */
#define STATUS_CHECK_5 \
    "CHECK (status = 'planned' OR status = 'sending' OR status = 'sent' OR status = 'retry' OR " \
    "status = 'failed' OR status = 'skipped' OR status = 'holdout' OR status = 'cancelled')"

static int edit_status_check(sqlite3 *db, const char *from, const char *to, char **msg)
{
    sqlite3_stmt *st = NULL;
    int cookie = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA schema_version", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        cookie = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (cookie < 0) {
        *msg = sqlite3_mprintf("%s", sqlite3_errmsg(db));
        return SQLITE_ERROR;
    }
    char *sql = sqlite3_mprintf(
        "PRAGMA writable_schema = ON;"
        "UPDATE sqlite_schema SET sql = replace(sql, %Q, %Q) WHERE type = 'table' AND name = 'care_outbox';"
        "PRAGMA writable_schema = OFF;"
        "PRAGMA schema_version = %d;",
        from, to, cookie + 1);
    int rc = sqlite3_exec(db, sql, NULL, NULL, msg);
    sqlite3_free(sql);
    return rc;
}

static int migration_5(sqlite3 *db, char **msg)
{
    int rc = edit_status_check(db, STATUS_CHECK_OR, STATUS_CHECK_5, msg);
    if (rc != SQLITE_OK) return rc;
    return sqlite3_exec(db,
                        "ALTER TABLE care_outbox ADD COLUMN zone TEXT;"
                        "ALTER TABLE care_outbox ADD COLUMN quiet INTEGER NOT NULL DEFAULT 1;"
                        "CREATE TABLE care_paused("
                        "  campaign TEXT PRIMARY KEY, paused_at INTEGER NOT NULL, paused_by TEXT);",
                        NULL, NULL, msg);
}

/* Each migration is SQL, or a function for what SQL alone cannot say. */
typedef struct {
    const char *sql;
    int (*run)(sqlite3 *db, char **msg);
} migration;

static const migration migrations[] = {
    {migration_1, NULL}, {migration_2, NULL}, {migration_3, NULL}, {NULL, migration_4}, {NULL, migration_5},
};

static int schema_version(sqlite3 *db)
{
    if (!db_table_exists(db, "care_meta")) return 0;
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(db, "SELECT value FROM care_meta WHERE key='schema_version'", -1, &st,
                           NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

static cc_code migrate(sqlite3 *db, char *err, size_t errlen)
{
    int nmig = (int)(sizeof migrations / sizeof migrations[0]);
    for (;;) {
        if (db_begin(db) != CC_OK) {
            char why[300];
            snprintf(err, errlen, "cannot lock the database: %s", db_errmsg(db, why, sizeof why));
            return CC_ERR_DB;
        }
        /* Read the version inside the write transaction: two carecast
         * processes starting at once must not both run one migration. */
        int v = schema_version(db);
        if (v < 0 || v > nmig) {
            db_rollback(db);
            snprintf(err, errlen,
                     "the database has carecast schema version %d; this carecast knows up to %d",
                     v, nmig);
            return CC_ERR_DB;
        }
        if (v == nmig) {
            db_rollback(db);
            return CC_OK;
        }
        char *msg = NULL;
        const migration *m = &migrations[v];
        int mrc = m->sql ? sqlite3_exec(db, m->sql, NULL, NULL, &msg) : m->run(db, &msg);
        if (mrc != SQLITE_OK) {
            snprintf(err, errlen, "schema upgrade to version %d failed: %s", v + 1,
                     msg ? msg : "?");
            sqlite3_free(msg);
            db_rollback(db);
            return CC_ERR_DB;
        }
        char *set = sqlite3_mprintf(
            "INSERT OR REPLACE INTO care_meta(key, value) VALUES ('schema_version', '%d')", v + 1);
        int rc = sqlite3_exec(db, set, NULL, NULL, NULL);
        sqlite3_free(set);
        if (rc != SQLITE_OK || db_commit(db) != CC_OK) {
            snprintf(err, errlen, "schema upgrade to version %d failed: %s", v + 1,
                     sqlite3_errmsg(db));
            db_rollback(db);
            return CC_ERR_DB;
        }
    }
}

void db_configure(void)
{
    /* No memory statistics: they cost a global mutex per allocation and
     * carecast never reads them. */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

const char *db_errmsg(sqlite3 *db, char *buf, size_t len)
{
    int sys = db ? sqlite3_system_errno(db) : 0;
    int code = db ? sqlite3_errcode(db) : SQLITE_ERROR;
    if (sys != 0 && (code == SQLITE_IOERR || code == SQLITE_FULL || code == SQLITE_CANTOPEN))
        snprintf(buf, len, "%s (%s)", sqlite3_errmsg(db), strerror(sys));
    else
        snprintf(buf, len, "%s", db ? sqlite3_errmsg(db) : "out of memory");
    return buf;
}

cc_code db_open(const char *path, sqlite3 **out, char *err, size_t errlen)
{
    *out = NULL;
    sqlite3 *db = NULL;
    /* The database holds customer data: new files are private to the owner. */
    mode_t old = umask(077);
    /* NOMUTEX: a connection is only ever used by one thread at a time
     * (serve uses it from the one thread of libmicrohttpd's internal
     * poller, and the SMTP worker threads never touch the database), so
     * SQLite's per-call connection mutex is pure cost. */
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, 10000);
        rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;", NULL, NULL,
                          NULL);
    }
    umask(old);
    if (rc != SQLITE_OK) {
        char why[300];
        snprintf(err, errlen, "cannot open database '%s': %s", path,
                 db ? db_errmsg(db, why, sizeof why) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return CC_ERR_DB;
    }
    cc_code c = migrate(db, err, errlen);
    if (c != CC_OK) {
        sqlite3_close(db);
        return c;
    }
    *out = db;
    return CC_OK;
}

void db_close(sqlite3 *db)
{
    if (db) sqlite3_close(db);
}

cc_code db_exec(sqlite3 *db, const char *sql, const char *what)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "carecast: %s: %s\n", what, msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return CC_ERR_DB;
    }
    return CC_OK;
}

cc_code db_begin(sqlite3 *db)
{
    return sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? CC_OK : CC_ERR_DB;
}

cc_code db_commit(sqlite3 *db)
{
    return sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? CC_OK : CC_ERR_DB;
}

void db_rollback(sqlite3 *db)
{
    if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

int db_table_exists(sqlite3 *db, const char *table)
{
    sqlite3_stmt *st = NULL;
    int found = 0;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type IN ('table','view') AND name=?",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
        found = sqlite3_step(st) == SQLITE_ROW;
    }
    sqlite3_finalize(st);
    return found;
}

int db_has_column(sqlite3 *db, const char *table, const char *column)
{
    sqlite3_stmt *st = NULL;
    int found = 0;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info(?) WHERE name=?", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, column, -1, SQLITE_STATIC);
        found = sqlite3_step(st) == SQLITE_ROW;
    }
    sqlite3_finalize(st);
    return found;
}

void db_quote_ident(const char *name, cc_buf *out)
{
    cc_buf_putc(out, '"');
    for (const char *p = name; *p; p++) {
        if (*p == '"') cc_buf_putc(out, '"');
        cc_buf_putc(out, *p);
    }
    cc_buf_putc(out, '"');
}
