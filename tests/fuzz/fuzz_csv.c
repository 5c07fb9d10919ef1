/* fuzz_csv.c - libFuzzer harness for `carecast import` (engine/csv_import.c):
 * CSV bytes into an in-memory SQLite database with carecast's schema.
 *
 * The first input byte picks the target (the customers table, with its
 * standard-column checks, or a new table `people`) and the encoding (UTF-8
 * or GB18030); the rest is the file, written to a private temporary file
 * because csv_import() reads a path.  Both tables are dropped and the
 * customers table recreated after every input, so runs do not depend on
 * each other.  Invariants: all rows or none - on failure there is a
 * diagnostic and nothing was written; on success the table holds exactly
 * the rows reported. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "config.h"
#include "csv_import.h"
#include "db.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static sqlite3 *db;
static cc_config cfg;
static char path[64];

static const char reset_sql[] =
    "DROP TABLE IF EXISTS people; DROP TABLE IF EXISTS customers;"
    "CREATE TABLE customers (id TEXT PRIMARY KEY, name TEXT, email TEXT, phone TEXT, birth_date TEXT,"
    "  locale TEXT, timezone TEXT, email_opt_in INTEGER, sms_opt_in INTEGER, preferred_channel TEXT);";

static void cleanup(void) { unlink(path); }

static long long count_rows(const char *table)
{
    char sql[80];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    sqlite3_stmt *st = NULL;
    long long n = -1;   /* -1: no such table */
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];
    config_defaults(&cfg);
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%.30s/fuzz_csv.%ld.csv", tmp && *tmp ? tmp : "/tmp", (long)getpid());
    atexit(cleanup);
    if (db_open(":memory:", &db, err, sizeof err) != CC_OK || sqlite3_exec(db, reset_sql, NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "fuzz_csv: cannot set up the database: %s\n", db ? sqlite3_errmsg(db) : err);
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size < 1) return 0;
    unsigned mode = data[0];
    /* A plain write: cc_write_file_atomic() would fsync every input. */
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data + 1, 1, size - 1, f) != size - 1 || fclose(f) != 0) {
        perror("fuzz_csv: cannot write the temporary file");
        abort();
    }
    const char *table = (mode & 1) ? "people" : "customers";
    const char *encoding = (mode & 2) ? "gb18030" : NULL;
    cc_diags diags = {0};
    diags.limit = 20;
    size_t rows = 0;
    cc_code rc = csv_import(db, &cfg, table, path, NULL, encoding, &diags, &rows);
    long long have = count_rows(table);
    if (rc == CC_OK) {
        if (have < 0 || (size_t)have != rows) {
            fprintf(stderr, "fuzz_csv: reported %zu rows, the table holds %lld\n", rows, have);
            abort();
        }
    } else {
        if (diags.count == 0) {
            fprintf(stderr, "fuzz_csv: import failed (%s) without a diagnostic\n", cc_strerror(rc));
            abort();
        }
        if (rows != 0 || have > 0 || (have < 0 && !(mode & 1))) {
            fprintf(stderr, "fuzz_csv: a failed import wrote %lld rows (reported %zu)\n", have, rows);
            abort();
        }
    }
    if (sqlite3_get_autocommit(db) == 0) {
        fprintf(stderr, "fuzz_csv: csv_import left a transaction open\n");
        abort();
    }
    cc_diags_free(&diags);
    if (sqlite3_exec(db, reset_sql, NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "fuzz_csv: cannot reset the database: %s\n", sqlite3_errmsg(db));
        abort();
    }
    return 0;
}
