/* expr.h - the rule expression language (campaigns.md section 6), compiled
 * to SQLite SQL.
 *
 * expr_compile() parses one expression and appends an SQL fragment to
 * `sql`.  Every name is checked against the live schema; every literal
 * becomes a bound parameter (expr_bind() binds them), so user values never
 * reach SQL text.  The fragment refers to the audience row as `r` and, when
 * the audience is not the customers table, to the row's customer as `c`.
 * Errors are FILE:LINE:COL diagnostics; `line`/`col` locate the first
 * character of the expression in its file.
 *
 * A column is a date or a date-time by its declared type (DATE; DATETIME,
 * TIMESTAMP...) or, declared otherwise, by a bounded sample of its values
 * read once per column and compile; never by its name. */
#ifndef CC_EXPR_H
#define CC_EXPR_H

#include <sqlite3.h>

#include "cc.h"
#include "config.h"

typedef enum { ET_UNKNOWN, ET_BOOL, ET_NUM, ET_TEXT, ET_DATE, ET_DATETIME, ET_DURATION, ET_NULL } expr_type;

/* The columns expressions read, each with the type the compiler gave it
 * and where that came from (`lint -v` prints them). */
typedef struct {
    char *table, *column;       /* `messages` for the contact history */
    expr_type type;
    char *origin;               /* "declared DATE", "from its values: 2026-11-24 ...", "no values yet" */
} expr_column_note;

typedef struct {
    expr_column_note *items;
    size_t n;
} expr_column_log;

typedef struct {
    int is_text;
    char *text;
    double num;
} expr_param;

typedef struct {
    sqlite3 *db;
    const cc_config *cfg;
    const char *table;          /* the audience table (alias r) */
    int has_customer;           /* 1 when alias c (the customer) is joined */
    const char *today;          /* YYYY-MM-DD, bound as a parameter */
    const char *now;            /* "YYYY-MM-DD HH:MM:SS" business-local; NULL = start of today */
    const char *file;
    int line, col;
    cc_diags *diags;
    /* The segments `segment.NAME` may name (those defined in the rules
     * folder).  NULL: the segments of cfg->rules, loaded once per process
     * (segment_names()), so every compiler of expressions knows them
     * without each caller loading the folder. */
    const char *const *segments;
    size_t n_segments;
    /* 1: compile for expr_meaning() only, never to run: `today` and `now`
     * are written into the SQL as the names cc_today and cc_now instead
     * of being bound, so the meaning does not change with the clock. */
    int clock_by_name;
    /* When set, each column an expression reads is noted here once. */
    expr_column_log *columns;
    /* output */
    expr_param *params;
    size_t n_params;
} expr_ctx;

/* Compile `src`; appends SQL to `sql` and parameters to ctx.  On error
 * returns CC_ERR_INPUT with a diagnostic and `sql` is unspecified. */
cc_code expr_compile(expr_ctx *ctx, const char *src, cc_buf *sql, expr_type *type);
/* Bind ctx's parameters to a statement whose first parameter is number
 * `first` (the SQL text uses ?NNN numbering from that base). */
void expr_bind(const expr_ctx *ctx, sqlite3_stmt *st);
void expr_ctx_free(expr_ctx *ctx);
/* The meaning of a compiled expression as one text: its SQL, then every
 * bound value with its type and length.  Spacing and redundant
 * parentheses leave no trace in the SQL, and no literal is ever part of
 * the SQL text, so two spellings of one condition print the same and two
 * conditions that differ in a name, an operator or a value print
 * differently. */
void expr_meaning(const expr_ctx *ctx, const char *sql, cc_buf *out);
const char *expr_type_name(expr_type t);
/* The bare word for a type: "date", "date-time", "number", "text"... */
const char *expr_type_word(expr_type t);
void expr_column_log_add(expr_column_log *log, const char *table, const char *column, expr_type type,
                         const char *origin);
void expr_column_log_free(expr_column_log *log);
/* Appends "; did you mean 'T'?" when a table of the database (or the
 * `messages` history) is close to `name`. */
void expr_suggest_table(sqlite3 *db, const char *name, cc_buf *out);

/* Register carecast's SQL helper functions on a connection
 * (cc_add_months, cc_months_between, cc_md_in, cc_day_in, and cc_local,
 * which reads date-times with an offset as wall time in `zone`, the
 * business zone: it must outlive the connection's statements). */
void expr_register_functions(sqlite3 *db, const char *zone);

#endif
