/* fuzz_expr.c - libFuzzer harness for the rule expression compiler
 * (engine/expr.c) against a small in-memory database with carecast's schema,
 * a customers table and two related tables.
 *
 * The first input byte picks the audience (customers, or orders joined to
 * its customer) and the result type asked for; the rest is the expression.
 * Invariant checked: whatever expr_compile() accepts is SQL that SQLite
 * prepares, with exactly the parameters it bound, and runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "config.h"
#include "db.h"
#include "expr.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static sqlite3 *db;
static cc_config cfg;
static const char *const segments[] = {"vip", "lapsed"};

static const char schema[] =
    "CREATE TABLE customers (id TEXT PRIMARY KEY, first_name TEXT, name TEXT, email TEXT, phone TEXT,"
    "  birth_date TEXT, locale TEXT, timezone TEXT, status TEXT, tier TEXT, city TEXT,"
    "  email_opt_in INTEGER, sms_opt_in INTEGER, preferred_channel TEXT, created_at TEXT, points REAL);"
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id TEXT, ordered_at TEXT, amount REAL, status TEXT);"
    "CREATE TABLE complaints (id INTEGER PRIMARY KEY, customer_id TEXT, opened_at TEXT, status TEXT);"
    "INSERT INTO customers VALUES ('c1','Li','Li Lei','li@example.com','+8613800138000','1990-02-28',"
    "  'zh-CN','Asia/Shanghai','active','A','Hangzhou',1,1,'email','2020-01-01 08:00:00',12.5),"
    "  ('c2',NULL,NULL,NULL,NULL,'2000-02-29',NULL,NULL,'closed','B',NULL,0,0,'sms',NULL,NULL);"
    "INSERT INTO orders VALUES (1,'c1','2026-06-01',5200,'paid'),(2,'c1','2025-01-31 10:00',-3,'open'),"
    "  (3,'c2',NULL,NULL,NULL);"
    "INSERT INTO complaints VALUES (1,'c1','2026-11-30 09:00','open'),(2,'c2','2026-11-30T01:00:00Z','closed'),"
    "  (3,'c1','2026-11-29T23:30:00.5-05:00',NULL);";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];
    config_defaults(&cfg);
    if (db_open(":memory:", &db, err, sizeof err) != CC_OK ||
        sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "fuzz_expr: cannot set up the database: %s\n", db ? sqlite3_errmsg(db) : err);
        abort();
    }
    /* A zone with an offset, so cc_local() converts the complaints' times. */
    free(cfg.timezone);
    cfg.timezone = xstrdup("Asia/Shanghai");
    expr_register_functions(db, cfg.timezone);
    return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size < 1) return 0;
    unsigned mode = data[0];
    char *src = xstrndup((const char *)data + 1, size - 1);   /* the compiler takes C strings */
    int related = mode & 1;
    cc_diags diags = {0};
    diags.limit = 20;
    expr_ctx x;
    memset(&x, 0, sizeof x);
    x.db = db;
    x.cfg = &cfg;
    x.table = related ? "orders" : "customers";
    x.has_customer = related;
    x.today = "2026-12-01";
    x.now = (mode & 2) ? "2026-12-01 10:30:00" : NULL;
    x.file = "rules/fuzz.yaml";
    x.line = 3;
    x.col = 10;
    x.diags = &diags;
    x.segments = segments;
    x.n_segments = 2;

    cc_buf frag = CC_BUF_INIT;
    expr_type t = ET_UNKNOWN;
    cc_code rc = expr_compile(&x, src, &frag, &t);
    if (rc == CC_OK) {
        cc_buf sql = CC_BUF_INIT;
        cc_buf_printf(&sql, "SELECT (%s) FROM %s AS r", cc_buf_str(&frag), x.table);
        if (related) cc_buf_puts(&sql, " LEFT JOIN customers AS c ON c.id = r.customer_id");
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, cc_buf_str(&sql), -1, &st, NULL) != SQLITE_OK) {
            fprintf(stderr, "fuzz_expr: accepted %s but SQLite refuses %s: %s\n", src, cc_buf_str(&sql),
                    sqlite3_errmsg(db));
            abort();
        }
        if ((size_t)sqlite3_bind_parameter_count(st) > x.n_params) {
            fprintf(stderr, "fuzz_expr: %s uses %d parameters, %zu bound\n", cc_buf_str(&sql),
                    sqlite3_bind_parameter_count(st), x.n_params);
            abort();
        }
        expr_bind(&x, st);
        int s;
        while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        }
        /* Run-time errors (say, a date function on odd text) are SQLite's to
         * report; only a misuse would be ours. */
        if (s == SQLITE_MISUSE) abort();
        sqlite3_finalize(st);
        cc_buf_free(&sql);
    } else if (diags.count == 0) {
        fprintf(stderr, "fuzz_expr: compile failed (%s) without a diagnostic: %s\n", cc_strerror(rc), src);
        abort();
    }
    (void)expr_type_name(t);
    cc_buf_free(&frag);
    expr_ctx_free(&x);
    cc_diags_free(&diags);
    free(src);
    return 0;
}
