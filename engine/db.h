/* db.h - the customer database and carecast's own care_* tables in it.
 *
 * db_open() opens (creating when missing) the SQLite file in WAL mode with a
 * busy timeout, and brings carecast's schema to the current version: each
 * upgrade step runs in one transaction and records the version in
 * care_meta, so a crash mid-upgrade leaves the previous version intact.
 *
 * carecast's tables (the users' own tables are never changed except by
 * `import` and `event`):
 *
 *   care_meta         key/value: schema_version
 *   care_runs         one row per planning/sending command: when, as-of time
 *   care_occurrences  the never-twice ledger: PRIMARY KEY (campaign, step,
 *                     row_id, occurrence); a row here means that occurrence
 *                     was planned and will never be planned again
 *   care_outbox       one row per message (or skipped/holdout record):
 *
 *       planned --claim--> sending --ok------> sent
 *          ^                  |   --4xx/io--> retry --(time)--> claimable
 *          |                  |   --5xx-----> failed
 *          +--lease expired---+
 *     skipped, holdout: recorded by the planner, never sent
 *
 *   care_attempts     every delivery attempt with the server's reply
 *   care_suppressions address or customer, scope marketing|all
 */
#ifndef CC_DB_H
#define CC_DB_H

#include <sqlite3.h>

#include "cc.h"

#define CC_SCHEMA_VERSION 3

/* Open `path`; on error a message goes to `err` and *out is NULL. */
/* Process-wide SQLite settings: call first thing in main(), before any
 * database is opened. */
void db_configure(void);

/* sqlite3_errmsg() with the operating system's reason for I/O errors
 * ("disk I/O error (No space left on device)"), written into buf. */
const char *db_errmsg(sqlite3 *db, char *buf, size_t len);
cc_code db_open(const char *path, sqlite3 **out, char *err, size_t errlen);
void db_close(sqlite3 *db);

/* Run SQL with no results; on error writes sqlite's message to stderr
 * prefixed by `what` and returns CC_ERR_DB. */
cc_code db_exec(sqlite3 *db, const char *sql, const char *what);
cc_code db_begin(sqlite3 *db);      /* BEGIN IMMEDIATE */
cc_code db_commit(sqlite3 *db);
void db_rollback(sqlite3 *db);      /* safe to call when no transaction is open */

/* 1 when `table` exists in the main schema. */
int db_table_exists(sqlite3 *db, const char *table);
/* 1 when `table` has `column`. */
int db_has_column(sqlite3 *db, const char *table, const char *column);
/* Quote an SQL identifier ("a""b") into `out`. */
void db_quote_ident(const char *name, cc_buf *out);

#endif
