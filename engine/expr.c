/* expr.c - parser and SQL code generator for rule expressions (expr.h).
 *
 * One pass: a recursive-descent parser whose every production returns the
 * SQL for its sub-expression and that sub-expression's type, so type errors
 * are found where they are written.  Durations are not SQL values: they
 * only exist as the right operand of date arithmetic and are carried as
 * (amount, unit) until applied.
 *
 * Scopes: the audience row is alias `r`; the customer `c` (or `r` when the
 * audience is the customers table); inside an aggregate's `where`, bare
 * names belong to the aggregated table (alias aN) and `row.X` reaches `r`. */
#include "expr.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "db.h"
#include "segment.h"

typedef enum { TK_EOF, TK_NUM, TK_STR, TK_IDENT, TK_OP } tok_kind;

typedef struct {
    tok_kind kind;
    const char *start;
    size_t len;
    double num;
    char *str;            /* TK_STR: unescaped text */
} token;

/* A column as the compiler typed it, kept for the rest of the compile. */
typedef struct {
    char *table, *column;
    expr_type type;
    char *origin;         /* why: "declared DATE", "from its values: ..." */
} col_info;

typedef struct {
    char *sql;
    expr_type type;
    /* ET_DURATION */
    double amount;
    char unit;            /* 's' seconds, 'd' days, 'm' months */
    size_t col;           /* a column read as it is: 1 + its index in the parser's cols (errors say
                           * where its type came from); 0 for anything else */
} value;

typedef struct {
    const char *table;
    char alias[16];
} scope;

typedef struct {
    expr_ctx *ctx;
    const char *src;
    const char *p;
    token tok;
    int failed;
    scope scopes[8];
    int depth;
    int agg_counter;
    int nesting;   /* parse_not/parse_unary frames open: see MAX_NESTING */
    col_info *cols;  /* the columns typed so far */
    size_t n_cols;
} parser;

/* How deep an expression may nest: each parenthesis, function call or list
 * opens two levels, each prefix 'not' or '-' one.  Real rules stay far
 * below; the limit keeps the recursive descent's stack small and the SQL
 * within what SQLite's parser accepts ("parser stack overflow" past about
 * a hundred open parentheses, the whole statement counted). */
#define MAX_NESTING 40
/* The same for the generated SQL's parentheses, which also open for every
 * operator of a chain (a * b * c is ((a * b) * c)) and for date functions.
 * Planning wraps a fragment in a few more. */
#define MAX_SQL_DEPTH 64

static const char *const functions[] = {
    "days_since", "days_until", "months_since", "years_since", "date", "year", "month", "day",
    "weekday", "lower", "upper", "length", "trim", "contains", "starts_with", "ends_with",
    "coalesce", "abs", "round", "count", "exists", "sum", "avg", "min", "max", "previous", NULL};

/* ---- errors ------------------------------------------------------------- */

static void error_at(parser *ps, const char *where, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void error_at(parser *ps, const char *where, const char *fmt, ...)
{
    if (ps->failed) return;
    ps->failed = 1;
    /* Column of `where` in the source, counting UTF-8 characters. */
    int line = ps->ctx->line, col = ps->ctx->col;
    for (const char *q = ps->src; q < where && *q; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else if (((unsigned char)*q & 0xC0) != 0x80) {
            col++;
        }
    }
    cc_buf b = CC_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    cc_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    cc_diag(ps->ctx->diags, ps->ctx->file, line, col, "error: %s", cc_buf_str(&b));
    cc_buf_free(&b);
}

/* ", did you mean 'x'?" for the closest candidate within a small distance. */
static void suggest(const char *name, const char *const *cands, size_t n, cc_buf *out)
{
    const char *best = NULL;
    size_t bestd = 3;
    for (size_t i = 0; i < n; i++) {
        size_t d = cc_edit_distance(name, cands[i], 1);
        /* On a tie, a candidate of the same length is the likelier typo
         * (a swap of two letters: 'dyas' is 'days', not 'day'). */
        int same_len_tie = d == bestd && best && strlen(cands[i]) == strlen(name) && strlen(best) != strlen(name);
        if (d < bestd || same_len_tie || (d == bestd && !best && d <= strlen(name) / 3)) {
            if (d < bestd) bestd = d;
            best = cands[i];
        }
    }
    /* A word cut short ('closed' for 'closed_at') is too far by letters
     * but is still the obvious candidate. */
    if (!best && strlen(name) >= 4)
        for (size_t i = 0; i < n && !best; i++)
            if (!strncmp(cands[i], name, strlen(name))) best = cands[i], bestd = 0;
    /* Replacing every letter is not a typo ('x' is not 'id'). */
    if (best && bestd <= 2 && bestd < strlen(name)) cc_buf_printf(out, "; did you mean '%s'?", best);
}

void expr_suggest_table(sqlite3 *db, const char *name, cc_buf *out)
{
    sqlite3_stmt *st = NULL;
    char **names = NULL;
    size_t n = 0;
    /* carecast's own tables are not the user's business, except the
     * contact history, which rules call `messages`. */
    if (sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                               "AND name NOT LIKE 'care\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
                               "UNION ALL SELECT 'messages' ORDER BY 1", -1, &st, NULL) == SQLITE_OK)
        while (sqlite3_step(st) == SQLITE_ROW) {
            names = xrealloc(names, (n + 1) * sizeof *names);
            names[n++] = xstrdup((const char *)sqlite3_column_text(st, 0));
        }
    sqlite3_finalize(st);
    suggest(name, (const char *const *)names, n, out);
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* ---- lexer -------------------------------------------------------------- */

static void next(parser *ps)
{
    free(ps->tok.str);
    memset(&ps->tok, 0, sizeof ps->tok);
    const char *p = ps->p;
    while (isspace((unsigned char)*p)) p++;
    ps->tok.start = p;
    if (!*p) {
        ps->tok.kind = TK_EOF;
        ps->p = p;
        return;
    }
    if (isdigit((unsigned char)*p) || (*p == '.' && isdigit((unsigned char)p[1]))) {
        char *end;
        ps->tok.num = strtod(p, &end);
        ps->tok.kind = TK_NUM;
        if (*end == '%') end++;   /* cuts such as 5% are read by segments */
        ps->tok.len = (size_t)(end - p);
        ps->p = end;
        return;
    }
    if (*p == '"' || *p == '\'') {
        char q = *p++;
        cc_buf s = CC_BUF_INIT;
        /* A quote is written doubled ('O''Brien') or escaped with a backslash. */
        for (;;) {
            if (!*p) break;
            if (*p == q && p[1] == q) {
                cc_buf_putc(&s, q);
                p += 2;
                continue;
            }
            if (*p == q) break;
            if (*p == '\\' && p[1]) p++;
            cc_buf_putc(&s, *p++);
        }
        if (*p != q) {
            error_at(ps, ps->tok.start, "unterminated string");
            cc_buf_free(&s);
            ps->tok.kind = TK_EOF;
            ps->p = p;
            return;
        }
        p++;
        ps->tok.kind = TK_STR;
        ps->tok.str = cc_buf_take(&s);
        ps->tok.len = (size_t)(p - ps->tok.start);
        ps->p = p;
        return;
    }
    if (isalpha((unsigned char)*p) || *p == '_') {
        while (isalnum((unsigned char)*p) || *p == '_') p++;
        ps->tok.kind = TK_IDENT;
        ps->tok.len = (size_t)(p - ps->tok.start);
        ps->p = p;
        return;
    }
    static const char *const ops[] = {"==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/",
                                      "(", ")", "[", "]", ",", ".", NULL};
    for (const char *const *o = ops; *o; o++) {
        size_t l = strlen(*o);
        if (strncmp(p, *o, l) == 0) {
            ps->tok.kind = TK_OP;
            ps->tok.len = l;
            ps->p = p + l;
            return;
        }
    }
    if (*p == '=') {
        error_at(ps, p, "'=' is not an operator here; compare with '=='");
    } else {
        int l = 1;
        while (((unsigned char)p[l] & 0xC0) == 0x80) l++;
        error_at(ps, p, "unexpected character '%.*s'", l, p);
    }
    ps->tok.kind = TK_EOF;
    ps->p = p + strlen(p);
}

static int is_op(const parser *ps, const char *op)
{
    return ps->tok.kind == TK_OP && ps->tok.len == strlen(op) && strncmp(ps->tok.start, op, ps->tok.len) == 0;
}

static int is_word(const parser *ps, const char *w)
{
    return ps->tok.kind == TK_IDENT && ps->tok.len == strlen(w) && strncmp(ps->tok.start, w, ps->tok.len) == 0;
}

static void expect_op(parser *ps, const char *op)
{
    if (is_op(ps, op)) {
        next(ps);
        return;
    }
    if (ps->tok.kind == TK_EOF)
        error_at(ps, ps->tok.start, "expected '%s' but the expression ended", op);
    else
        error_at(ps, ps->tok.start, "expected '%s' before '%.*s'", op, (int)ps->tok.len, ps->tok.start);
}

/* The ')' that closes the '(' at `open`.  At the end of the expression the
 * place to fix is the unclosed '(', so that is where the error points. */
static void expect_close(parser *ps, const char *open)
{
    if (ps->tok.kind == TK_EOF && !ps->failed)
        error_at(ps, open, "this '(' is never closed with ')'");
    else
        expect_op(ps, ")");
}

/* ---- values and parameters ---------------------------------------------- */

static value mk(char *sql, expr_type t)
{
    value v = {sql, t, 0, 0, 0};
    return v;
}

static void vfree(value *v)
{
    free(v->sql);
    v->sql = NULL;
}

static char *param_text(parser *ps, const char *text)
{
    expr_ctx *x = ps->ctx;
    x->params = xrealloc(x->params, (x->n_params + 1) * sizeof *x->params);
    x->params[x->n_params].is_text = 1;
    x->params[x->n_params].text = xstrdup(text);
    x->params[x->n_params].num = 0;
    x->n_params++;
    return xasprintf("?%zu", x->n_params);
}

static char *param_num(parser *ps, double n)
{
    expr_ctx *x = ps->ctx;
    x->params = xrealloc(x->params, (x->n_params + 1) * sizeof *x->params);
    x->params[x->n_params].is_text = 0;
    x->params[x->n_params].text = NULL;
    x->params[x->n_params].num = n;
    x->n_params++;
    return xasprintf("?%zu", x->n_params);
}

/* `today` (or `now`): a bound value, or its name when only the meaning
 * is wanted. */
static char *clock_sql(parser *ps, int is_now)
{
    if (ps->ctx->clock_by_name) return xstrdup(is_now ? "cc_now" : "cc_today");
    if (!is_now) return param_text(ps, ps->ctx->today);
    /* The clock's instant (--now), never SQLite's own clock. */
    char *midnight = xasprintf("%s 00:00:00", ps->ctx->today);
    char *p = param_text(ps, ps->ctx->now ? ps->ctx->now : midnight);
    free(midnight);
    return p;
}

/* Is `sql` one operand already, so parentheses around it change nothing?
 * Every operator the compiler writes is spaced or parenthesised, so an
 * operand is SQL with neither an operator character nor a space outside
 * parentheses and quotes: "?3", r."city", date(?1), "(a = b)". */
static int sql_is_operand(const char *sql)
{
    int depth = 0;
    char quote = 0;
    for (const char *p = sql; *p; p++) {
        if (quote) {
            if (*p == quote) quote = 0;
        } else if (*p == '\'' || *p == '"') {
            quote = *p;
        } else if (*p == '(') {
            depth++;
        } else if (*p == ')') {
            depth--;
        } else if (!depth && !isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '?') {
            return 0;
        }
    }
    return *sql && depth == 0 && !quote;
}

const char *expr_type_word(expr_type t)
{
    switch (t) {
    case ET_BOOL: return "true/false";
    case ET_NUM: return "number";
    case ET_TEXT: return "text";
    case ET_DATE: return "date";
    case ET_DATETIME: return "date-time";
    case ET_DURATION: return "duration";
    case ET_NULL: return "null";
    default: return "unknown";
    }
}

/* Rules call carecast's contact history `messages`. */
static const char *display_table(const char *table)
{
    return strcmp(table, "care_messages") ? table : "messages";
}

void expr_column_log_add(expr_column_log *log, const char *table, const char *column, expr_type type,
                         const char *origin)
{
    for (size_t i = 0; i < log->n; i++)
        if (!strcmp(log->items[i].table, display_table(table)) && !strcmp(log->items[i].column, column)) return;
    log->items = xrealloc(log->items, (log->n + 1) * sizeof *log->items);
    expr_column_note *e = &log->items[log->n++];
    e->table = xstrdup(display_table(table));
    e->column = xstrdup(column);
    e->type = type;
    e->origin = xstrdup(origin);
}

void expr_column_log_free(expr_column_log *log)
{
    for (size_t i = 0; i < log->n; i++) {
        free(log->items[i].table);
        free(log->items[i].column);
        free(log->items[i].origin);
    }
    free(log->items);
    log->items = NULL;
    log->n = 0;
}

const char *expr_type_name(expr_type t)
{
    switch (t) {
    case ET_BOOL: return "a true/false value";
    case ET_NUM: return "a number";
    case ET_TEXT: return "text";
    case ET_DATE: return "a date";
    case ET_DATETIME: return "a date-time";
    case ET_DURATION: return "a duration";
    case ET_NULL: return "null";
    default: return "a value";
    }
}

/* ---- schema ------------------------------------------------------------- */

/* The type a declared column type gives, as SQLite and PostgreSQL spell
 * them (DATE; DATETIME, TIMESTAMP, TIMESTAMPTZ, TIMESTAMP WITH TIME
 * ZONE...; INTEGER, REAL, NUMERIC...); ET_UNKNOWN when the declaration
 * does not say (TEXT, none): the values decide then.  `decl` is upper
 * case. */
static expr_type declared_type(const char *decl)
{
    if (!decl || !*decl) return ET_UNKNOWN;
    if (!strncmp(decl, "DATETIME", 8) || !strncmp(decl, "TIMESTAMP", 9)) return ET_DATETIME;
    if (!strcmp(decl, "DATE")) return ET_DATE;
    if (strstr(decl, "INT") || strstr(decl, "REAL") || strstr(decl, "NUM") || strstr(decl, "FLOA") ||
        strstr(decl, "DOUB"))
        return ET_NUM;
    return ET_UNKNOWN;
}

/* At most this many non-null values of a column decide whether it holds
 * dates: the same rule as import (all dates: a date; any date-time among
 * dates: a date-time; anything else: not a date), read once per column
 * and compile, so the cost does not grow with the table. */
#define TYPE_SAMPLE 1000

/* A value as lint -v and error hints show it: at most about 40 bytes,
 * cut at a character, control characters as '?'. */
static void show_sample(const unsigned char *s, size_t n, cc_buf *out)
{
    size_t lim = n > 40 ? 37 : n;
    while (lim > 0 && lim < n && (s[lim] & 0xC0) == 0x80) lim--;
    for (size_t i = 0; i < lim; i++) cc_buf_putc(out, s[i] < 0x20 || s[i] == 0x7f ? '?' : (char)s[i]);
    if (lim < n) cc_buf_puts(out, "...");
}

/* Blank, or the word database exports write for a missing value ("NULL",
 * "null"): no evidence either way, as in SQL, where date() of it is NULL
 * and the row simply has no occurrence.  ("n/a" is a remark someone
 * typed, and says the column is not only dates.) */
static int says_nothing(const unsigned char *v, size_t n)
{
    while (n && (*v == ' ' || *v == '\t')) v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t')) n--;
    return n == 0 || (n == 4 && strncasecmp((const char *)v, "null", 4) == 0);
}

/* The type of a column whose declaration does not say, from its values;
 * `origin` gets the reason ("from its values: 2026-11-24 ...", the value
 * shown being the one that decided). */
static expr_type sampled_type(sqlite3 *db, const char *table, const char *column, cc_buf *origin)
{
    cc_buf q = CC_BUF_INIT;
    cc_buf_puts(&q, "SELECT ");
    db_quote_ident(column, &q);
    cc_buf_puts(&q, " FROM ");
    db_quote_ident(table, &q);
    cc_buf_puts(&q, " WHERE ");
    db_quote_ident(column, &q);
    cc_buf_printf(&q, " IS NOT NULL LIMIT %d", TYPE_SAMPLE);
    sqlite3_stmt *st = NULL;
    expr_type t = ET_UNKNOWN;
    cc_buf first = CC_BUF_INIT;
    if (sqlite3_prepare_v2(db, cc_buf_str(&q), -1, &st, NULL) != SQLITE_OK) {
        /* A view that no longer works: its rows cannot be read anyway. */
        cc_buf_printf(origin, "its values cannot be read: %s", sqlite3_errmsg(db));
        cc_buf_free(&q);
        return ET_TEXT;
    }
    int any_datetime = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(st, 0);
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        if (sqlite3_column_type(st, 0) == SQLITE_TEXT && says_nothing(v, n)) continue;
        clock_iso_kind k = sqlite3_column_type(st, 0) == SQLITE_TEXT ? clock_iso_kind_of((const char *)v, n)
                                                                      : CLOCK_ISO_NONE;
        if (k == CLOCK_ISO_NONE || (k == CLOCK_ISO_DATETIME && !any_datetime) || t == ET_UNKNOWN) {
            cc_buf_reset(&first);
            show_sample(v ? v : (const unsigned char *)"", n, &first);
        }
        if (k == CLOCK_ISO_NONE) {
            t = ET_TEXT;
            break;
        }
        if (k == CLOCK_ISO_DATETIME) any_datetime = 1;
        t = any_datetime ? ET_DATETIME : ET_DATE;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        cc_buf_reset(origin);
        cc_buf_printf(origin, "its values cannot be read: %s", sqlite3_errmsg(db));
        t = ET_TEXT;
    } else if (t == ET_UNKNOWN) {
        cc_buf_puts(origin, "no values yet");
    } else if (t == ET_TEXT) {
        cc_buf_printf(origin, "from its values: '%s' is not a date", cc_buf_str(&first));
    } else {
        cc_buf_printf(origin, "from its values: %s ...", cc_buf_str(&first));
    }
    sqlite3_finalize(st);
    cc_buf_free(&first);
    cc_buf_free(&q);
    return t;
}

/* The index in ps->cols of table.column, typed with where its type came
 * from, or -1 when there is no such column (then the known columns are
 * listed into `names` for a suggestion).  Each column is typed once per
 * compile. */
static int column_type(parser *ps, const char *table, const char *column, char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    for (size_t i = 0; i < ps->n_cols; i++)
        if (!strcmp(ps->cols[i].table, table) && !strcmp(ps->cols[i].column, column)) return (int)i;
    sqlite3_stmt *st = NULL;
    char *decl = NULL;
    int found = 0;
    if (sqlite3_prepare_v2(ps->ctx->db, "SELECT name, upper(type) FROM pragma_table_info(?)", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        const char *type = (const char *)sqlite3_column_text(st, 1);
        if (strcmp(name, column) == 0) {
            found = 1;
            decl = xstrdup(type ? type : "");
        }
        *names = xrealloc(*names, (*n + 1) * sizeof **names);
        (*names)[(*n)++] = xstrdup(name);
    }
    sqlite3_finalize(st);
    if (!found) return -1;
    cc_buf origin = CC_BUF_INIT;
    expr_type t;
    if (!strcmp(table, "care_messages")) {
        /* carecast's contact history: its times are date-times it writes
         * itself (the view's datetime() has no declared type). */
        t = declared_type(decl) == ET_NUM ? ET_NUM
            : !strcmp(column, "sent_at") || !strcmp(column, "delivered_at") ? ET_DATETIME : ET_TEXT;
        cc_buf_puts(&origin, "carecast's contact history");
    } else if ((t = declared_type(decl)) != ET_UNKNOWN) {
        cc_buf_printf(&origin, "declared %s", decl);
    } else {
        t = sampled_type(ps->ctx->db, table, column, &origin);
    }
    free(decl);
    ps->cols = xrealloc(ps->cols, (ps->n_cols + 1) * sizeof *ps->cols);
    col_info *ci = &ps->cols[ps->n_cols++];
    ci->table = xstrdup(table);
    ci->column = xstrdup(column);
    ci->type = t;
    ci->origin = cc_buf_take(&origin);
    if (ps->ctx->columns) expr_column_log_add(ps->ctx->columns, table, column, t, ci->origin);
    return (int)ps->n_cols - 1;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

static value column_ref(parser *ps, const char *where, const char *alias, const char *table,
                        const char *column)
{
    char **names;
    size_t n;
    int ci = column_type(ps, table, column, &names, &n);
    if (ci < 0) {
        cc_buf b = CC_BUF_INIT;
        suggest(column, (const char *const *)names, n, &b);
        error_at(ps, where, "table '%s' has no column '%s'%s", table, column, cc_buf_str(&b));
        cc_buf_free(&b);
        free_names(names, n);
        return mk(NULL, ET_UNKNOWN);
    }
    free_names(names, n);
    cc_buf b = CC_BUF_INIT;
    /* A date-time written with an offset is an instant, and SQLite's date
     * functions would read it as UTC wall time, while every other
     * date-time here (now, the due window, values without an offset) is
     * the business zone's: cc_local() converts it where it is read, so
     * comparisons, arithmetic and occurrences all agree.  Dates are read
     * as they are, at no cost per row. */
    int local = ps->cols[ci].type == ET_DATETIME;
    /* The history's times are UTC wall times (the view's datetime() of a
     * unix time): marked as such, the same conversion makes them the
     * business zone's. */
    int utc = local && !strcmp(table, "care_messages");
    if (local) cc_buf_puts(&b, "cc_local(");
    cc_buf_printf(&b, "%s.", alias);
    db_quote_ident(column, &b);
    if (utc) cc_buf_puts(&b, " || 'Z'");
    if (local) cc_buf_puts(&b, ")");
    value v = mk(cc_buf_take(&b), ps->cols[ci].type);
    v.col = (size_t)ci + 1;
    return v;
}

/* " (repairs.note is text, from its values: 'n/a' is not a date)" when
 * `v` is a column read as it is: errors about dates say where its type
 * came from. */
static const char *type_hint(const parser *ps, const value *v, cc_buf *out)
{
    if (v->col) {
        const col_info *ci = &ps->cols[v->col - 1];
        cc_buf_printf(out, " (%s.%s is %s, %s)", display_table(ci->table), ci->column, expr_type_word(ci->type),
                      ci->origin);
    }
    return cc_buf_str(out);
}

static const char *customer_alias(parser *ps)
{
    return ps->ctx->has_customer ? "c" : "r";
}

/* The SQL for the customer id of the audience row. */
static char *customer_id_sql(parser *ps)
{
    cc_buf b = CC_BUF_INIT;
    if (ps->ctx->has_customer) {
        cc_buf_puts(&b, "r.");
        db_quote_ident("customer_id", &b);
    } else {
        cc_buf_puts(&b, "r.");
        db_quote_ident(ps->ctx->cfg->customers.id, &b);
    }
    return cc_buf_take(&b);
}

/* `segment.NAME` (column `label`) or `previous(segment.NAME)` (column
 * `previous_label`): the customer's value in care_segment_values, a scalar
 * subquery on its primary key, so it costs one index lookup per row and
 * is null for a customer never computed (SQL's null logic then leaves
 * them out of `== "A"` and `!= "A"` alike: on the first computation nobody
 * has "just moved"). */
static value segment_ref(parser *ps, const char *name_at, const char *name, const char *column)
{
    const char *const *names = ps->ctx->segments;
    size_t n = ps->ctx->n_segments;
    if (!names && ps->ctx->cfg) names = segment_names(ps->ctx->cfg->rules, &n);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], name)) {
            char *p = param_text(ps, name);
            char *cid = customer_id_sql(ps);
            char *sql = xasprintf("(SELECT sv.%s FROM care_segment_values AS sv WHERE sv.segment = %s "
                                  "AND sv.customer_id = CAST(%s AS TEXT))", column, p, cid);
            free(p);
            free(cid);
            return mk(sql, ET_TEXT);
        }
    cc_buf b = CC_BUF_INIT;
    suggest(name, names, n, &b);
    if (!n)
        error_at(ps, name_at, "unknown segment '%s': the rules folder defines no segments (a file with 'segment: %s')",
                 name, name);
    else
        error_at(ps, name_at, "unknown segment '%s' (no file in the rules folder has 'segment: %s')%s", name, name,
                 cc_buf_str(&b));
    cc_buf_free(&b);
    return mk(NULL, ET_UNKNOWN);
}

/* ---- grammar ------------------------------------------------------------ */

static value parse_or(parser *ps);

static int dateish(expr_type t) { return t == ET_DATE || t == ET_DATETIME; }

/* A column with no values yet (ET_UNKNOWN) may be a date: nothing can be
 * due from it, so using it as one is no error before its values say what
 * it holds. */
static int maybe_date(expr_type t) { return dateish(t) || t == ET_UNKNOWN; }

/* A text literal that is an ISO date counts as a date in comparisons. */
static int compatible(expr_type a, expr_type b)
{
    if (a == ET_UNKNOWN || b == ET_UNKNOWN || a == ET_NULL || b == ET_NULL) return 1;
    if (dateish(a) && dateish(b)) return 1;
    if ((a == ET_BOOL && b == ET_NUM) || (a == ET_NUM && b == ET_BOOL)) return 1;
    return a == b;
}

static value parse_duration_or_number(parser *ps)
{
    double n = ps->tok.num;
    const char *start = ps->tok.start;
    if (!isfinite(n) || fabs(n) > 1e15) {
        /* strtod gives inf for 1e999; SQLite and the casts below would
         * turn it into something nobody wrote. */
        error_at(ps, start, "number %.*s is out of range", (int)ps->tok.len, start);
        next(ps);
        return mk(NULL, ET_UNKNOWN);
    }
    next(ps);
    static const struct { const char *w; char unit; double mult; } units[] = {
        {"minute", 's', 60}, {"minutes", 's', 60}, {"hour", 's', 3600}, {"hours", 's', 3600},
        {"day", 'd', 1},     {"days", 'd', 1},     {"week", 'd', 7},    {"weeks", 'd', 7},
        {"month", 'm', 1},   {"months", 'm', 1},   {"year", 'm', 12},   {"years", 'm', 12}};
    if (ps->tok.kind == TK_IDENT) {
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (is_word(ps, units[i].w)) {
                next(ps);
                value v = mk(NULL, ET_DURATION);
                v.amount = n * units[i].mult;
                v.unit = units[i].unit;
                if (n != floor(n)) error_at(ps, start, "a duration needs a whole number");
                /* 10,000 years either way: beyond that no calendar date
                 * exists, SQLite would answer null without a word, and
                 * applying it (as whole months, days or seconds in int64)
                 * could overflow. */
                else if (fabs(v.amount) > (v.unit == 'm' ? 120000.0 : v.unit == 'd' ? 3652500.0 : 3652500.0 * 86400))
                    error_at(ps, start, "a duration of at most 10000 years, not %.0f %s", n, units[i].w);
                return v;
            }
        /* A word right after a number can only be an operator word or a
         * unit; anything else is a unit carecast does not know ("3
         * fortnights"), and saying so beats a type error at the '+'. */
        static const char *const words[] = {"and", "or", "not", "in", "is", "between", "where", NULL};
        int keyword = 0;
        for (const char *const *w = words; *w; w++) keyword |= is_word(ps, *w);
        if (!keyword) {
            const char *names[sizeof units / sizeof units[0]];
            for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) names[i] = units[i].w;
            char *word = xstrndup(ps->tok.start, ps->tok.len);
            cc_buf b = CC_BUF_INIT;
            suggest(word, names, sizeof units / sizeof units[0], &b);
            if (!b.len) cc_buf_puts(&b, " (minutes, hours, days, weeks, months or years)");
            error_at(ps, ps->tok.start, "unknown duration unit '%s'%s", word, cc_buf_str(&b));
            cc_buf_free(&b);
            free(word);
            return mk(NULL, ET_UNKNOWN);
        }
    }
    return mk(param_num(ps, n), ET_NUM);
}

static value parse_aggregate(parser *ps, const char *fname, const char *fstart, const char *open)
{
    /* count(T [where E]) | exists(T [where E]) | sum(T.col [where E]) ... */
    int is_count = strcmp(fname, "count") == 0 || strcmp(fname, "exists") == 0;
    if (ps->tok.kind != TK_IDENT) {
        error_at(ps, ps->tok.start, "%s() needs a table name%s", fname, is_count ? "" : " and column (orders.amount)");
        return mk(NULL, ET_UNKNOWN);
    }
    char *table = xstrndup(ps->tok.start, ps->tok.len);
    const char *tstart = ps->tok.start;
    next(ps);
    if (strcmp(table, "messages") == 0) {
        /* The contact history view over care_outbox. */
        free(table);
        table = xstrdup("care_messages");
    }
    if (!db_table_exists(ps->ctx->db, table)) {
        cc_buf b = CC_BUF_INIT;
        expr_suggest_table(ps->ctx->db, table, &b);
        error_at(ps, tstart, "no table '%s' in the database%s", table, cc_buf_str(&b));
        cc_buf_free(&b);
        free(table);
        return mk(NULL, ET_UNKNOWN);
    }
    if (!db_has_column(ps->ctx->db, table, "customer_id")) {
        error_at(ps, tstart, "table '%s' has no customer_id column, so it cannot be related to a customer", table);
        free(table);
        return mk(NULL, ET_UNKNOWN);
    }
    if (ps->depth >= 7) {
        error_at(ps, tstart, "aggregates nested too deeply");
        free(table);
        return mk(NULL, ET_UNKNOWN);
    }
    scope *sc = &ps->scopes[++ps->depth];
    sc->table = table;
    snprintf(sc->alias, sizeof sc->alias, "a%d", ++ps->agg_counter);
    value col = mk(NULL, ET_NUM);
    if (!is_count) {
        if (!is_op(ps, ".")) {
            error_at(ps, ps->tok.start, "%s() needs a column: %s(%s.column)", fname, fname, table);
        } else {
            next(ps);
            if (ps->tok.kind != TK_IDENT) {
                error_at(ps, ps->tok.start, "expected a column name after '%s.'", table);
            } else {
                char *cname = xstrndup(ps->tok.start, ps->tok.len);
                const char *cstart = ps->tok.start;
                col = column_ref(ps, cstart, sc->alias, table, cname);
                next(ps);
                if ((strcmp(fname, "sum") == 0 || strcmp(fname, "avg") == 0) && col.type != ET_NUM &&
                    col.type != ET_UNKNOWN)
                    error_at(ps, cstart, "%s() needs a number column, and %s.%s is %s", fname, table, cname,
                             expr_type_name(col.type));
                free(cname);
            }
        }
    }
    value cond = mk(NULL, ET_BOOL);
    if (is_word(ps, "where")) {
        next(ps);
        const char *cstart = ps->tok.start;
        cond = parse_or(ps);
        if (!ps->failed && cond.type != ET_BOOL && cond.type != ET_UNKNOWN && cond.type != ET_NULL)
            error_at(ps, cstart, "the condition after 'where' must be true or false, not %s", expr_type_name(cond.type));
    }
    expect_close(ps, open);
    cc_buf b = CC_BUF_INIT;
    char *cid = customer_id_sql(ps);
    const char *agg = strcmp(fname, "exists") == 0 ? "EXISTS" : NULL;
    if (agg)
        cc_buf_puts(&b, "EXISTS (SELECT 1");
    else if (is_count)
        cc_buf_puts(&b, "(SELECT count(*)");
    else
        cc_buf_printf(&b, "(SELECT %s(%s)", fname, col.sql ? col.sql : "NULL");
    cc_buf_puts(&b, " FROM ");
    db_quote_ident(table, &b);
    cc_buf_printf(&b, " AS %s WHERE %s.customer_id = %s", sc->alias, sc->alias, cid);
    if (cond.sql) cc_buf_printf(&b, " AND (%s)", cond.sql);
    cc_buf_puts(&b, ")");
    free(cid);
    expr_type t = agg ? ET_BOOL : is_count ? ET_NUM
                  : (strcmp(fname, "min") == 0 || strcmp(fname, "max") == 0) ? col.type : ET_NUM;
    vfree(&col);
    vfree(&cond);
    free(table);
    ps->depth--;
    return mk(cc_buf_take(&b), t);
}

static value parse_call(parser *ps, const char *fname, const char *fstart)
{
    int known = 0;
    for (const char *const *f = functions; *f; f++) known |= strcmp(*f, fname) == 0;
    if (!known) {
        cc_buf b = CC_BUF_INIT;
        size_t nf = 0;
        while (functions[nf]) nf++;
        suggest(fname, functions, nf, &b);
        error_at(ps, fstart, "unknown function '%s'%s", fname, cc_buf_str(&b));
        cc_buf_free(&b);
        return mk(NULL, ET_UNKNOWN);
    }
    const char *open = ps->tok.start;
    next(ps); /* '(' */
    if (!strcmp(fname, "count") || !strcmp(fname, "exists") || !strcmp(fname, "sum") ||
        !strcmp(fname, "avg") || !strcmp(fname, "min") || !strcmp(fname, "max")) {
        /* min/max of plain values is not in the language; aggregates only. */
        return parse_aggregate(ps, fname, fstart, open);
    }
    if (!strcmp(fname, "previous")) {
        /* Only a segment has a previous value: previous(segment.NAME). */
        if (!is_word(ps, "segment")) {
            error_at(ps, ps->tok.start, "previous() takes a segment: previous(segment.NAME)");
            return mk(NULL, ET_UNKNOWN);
        }
        next(ps);
        if (!is_op(ps, ".")) {
            error_at(ps, ps->tok.start, "expected '.' and a segment name: previous(segment.NAME)");
            return mk(NULL, ET_UNKNOWN);
        }
        next(ps);
        if (ps->tok.kind != TK_IDENT) {
            error_at(ps, ps->tok.start, "expected a segment name after 'segment.'");
            return mk(NULL, ET_UNKNOWN);
        }
        char *sname = xstrndup(ps->tok.start, ps->tok.len);
        value v = segment_ref(ps, ps->tok.start, sname, "previous_label");
        free(sname);
        next(ps);
        expect_close(ps, open);
        return v;
    }
    /* At most MAX_ARGS are kept; `given` counts them all, so a call with
     * more is an argument-count error, never silently cut short. */
    enum { MAX_ARGS = 8 };
    value args[MAX_ARGS];
    const char *astart[MAX_ARGS];
    int nargs = 0, given = 0;
    if (!is_op(ps, ")")) {
        for (;;) {
            const char *at = ps->tok.start;
            value a = parse_or(ps);
            given++;
            if (nargs < MAX_ARGS) {
                astart[nargs] = at;
                args[nargs++] = a;
            } else {
                vfree(&a);
            }
            if (ps->failed) break;
            if (is_op(ps, ",")) {
                next(ps);
                continue;
            }
            break;
        }
    }
    expect_close(ps, open);
    value out = mk(NULL, ET_UNKNOWN);
    if (ps->failed) goto done;

    static const struct { const char *name; int min, max; expr_type arg; } sigs[] = {
        {"days_since", 1, 1, ET_DATE}, {"days_until", 1, 1, ET_DATE}, {"months_since", 1, 1, ET_DATE},
        {"years_since", 1, 1, ET_DATE}, {"date", 1, 1, ET_UNKNOWN},  {"year", 1, 1, ET_DATE},
        {"month", 1, 1, ET_DATE},      {"day", 1, 1, ET_DATE},        {"weekday", 1, 1, ET_DATE},
        {"lower", 1, 1, ET_TEXT},      {"upper", 1, 1, ET_TEXT},      {"length", 1, 1, ET_TEXT},
        {"trim", 1, 1, ET_TEXT},       {"contains", 2, 2, ET_TEXT},   {"starts_with", 2, 2, ET_TEXT},
        {"ends_with", 2, 2, ET_TEXT},  {"coalesce", 2, 8, ET_UNKNOWN}, {"abs", 1, 1, ET_NUM},
        {"round", 1, 2, ET_NUM}};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        if (strcmp(sigs[i].name, fname) != 0) continue;
        if (given < sigs[i].min || given > sigs[i].max) {
            if (given > sigs[i].max && sigs[i].max > sigs[i].min)
                error_at(ps, fstart, "%s() takes at most %d arguments, not %d", fname, sigs[i].max, given);
            else
                error_at(ps, fstart, "%s() takes %d%s argument%s, not %d", fname, sigs[i].min,
                         sigs[i].max > sigs[i].min ? " or more" : "",
                         sigs[i].min == 1 && sigs[i].max == 1 ? "" : "s", given);
            goto done;
        }
        for (int a = 0; a < nargs && sigs[i].arg != ET_UNKNOWN; a++) {
            expr_type t = args[a].type;
            int ok = t == ET_UNKNOWN || t == ET_NULL || t == sigs[i].arg ||
                     (sigs[i].arg == ET_DATE && dateish(t));
            if (!ok) {
                cc_buf h = CC_BUF_INIT;
                if (sigs[i].arg == ET_DATE) type_hint(ps, &args[a], &h);
                error_at(ps, astart[a], "%s() needs %s, not %s%s", fname, expr_type_name(sigs[i].arg),
                         expr_type_name(t), cc_buf_str(&h));
                cc_buf_free(&h);
                goto done;
            }
        }
    }
    if (!strcmp(fname, "date") && nargs == 1 && args[0].type == ET_TEXT && (*astart[0] == '"' || *astart[0] == '\'')) {
        /* A quoted literal that is no calendar date: SQLite's date() would
         * answer null and the condition would select nobody, silently. */
        error_at(ps, astart[0], "date() of a text that is no date (write YYYY-MM-DD, a real day)");
        goto done;
    }
    if (!strcmp(fname, "date") && nargs == 1 && args[0].type == ET_TEXT && args[0].col) {
        /* A column whose values are not all dates (2026/11/22, 2026年11月22日):
         * date() of those is null, so the rule would select nobody from
         * them, silently.  Said here, with the value that showed it. */
        cc_buf h = CC_BUF_INIT;
        type_hint(ps, &args[0], &h);
        error_at(ps, astart[0], "date() needs dates written YYYY-MM-DD, and this column holds other text%s",
                 cc_buf_str(&h));
        cc_buf_free(&h);
        goto done;
    }
    char *today = clock_sql(ps, 0);
    const char *a0 = args[0].sql, *a1 = nargs > 1 ? args[1].sql : NULL;
    if (!strcmp(fname, "days_since"))
        out = mk(xasprintf("CAST(julianday(%s) - julianday(date(%s)) AS INTEGER)", today, a0), ET_NUM);
    else if (!strcmp(fname, "days_until"))
        out = mk(xasprintf("CAST(julianday(date(%s)) - julianday(%s) AS INTEGER)", a0, today), ET_NUM);
    else if (!strcmp(fname, "months_since"))
        out = mk(xasprintf("cc_months_between(%s, %s)", a0, today), ET_NUM);
    else if (!strcmp(fname, "years_since"))
        out = mk(xasprintf("(cc_months_between(%s, %s) / 12)", a0, today), ET_NUM);
    else if (!strcmp(fname, "date"))
        out = mk(xasprintf("date(%s)", a0), ET_DATE);
    else if (!strcmp(fname, "year"))
        out = mk(xasprintf("CAST(strftime('%%Y', %s) AS INTEGER)", a0), ET_NUM);
    else if (!strcmp(fname, "month"))
        out = mk(xasprintf("CAST(strftime('%%m', %s) AS INTEGER)", a0), ET_NUM);
    else if (!strcmp(fname, "day"))
        out = mk(xasprintf("CAST(strftime('%%d', %s) AS INTEGER)", a0), ET_NUM);
    else if (!strcmp(fname, "weekday"))
        out = mk(xasprintf("((CAST(strftime('%%w', %s) AS INTEGER) + 6) %% 7 + 1)", a0), ET_NUM);
    else if (!strcmp(fname, "lower") || !strcmp(fname, "upper") || !strcmp(fname, "trim"))
        out = mk(xasprintf("%s(%s)", fname, a0), ET_TEXT);
    else if (!strcmp(fname, "length"))
        out = mk(xasprintf("length(%s)", a0), ET_NUM);
    else if (!strcmp(fname, "contains"))
        out = mk(xasprintf("(instr(%s, %s) > 0)", a0, a1), ET_BOOL);
    else if (!strcmp(fname, "starts_with"))
        out = mk(xasprintf("(substr(%s, 1, length(%s)) = %s)", a0, a1, a1), ET_BOOL);
    else if (!strcmp(fname, "ends_with"))
        out = mk(xasprintf("(length(%s) = 0 OR substr(%s, -length(%s)) = %s)", a1, a0, a1, a1), ET_BOOL);
    else if (!strcmp(fname, "abs"))
        out = mk(xasprintf("abs(%s)", a0), ET_NUM);
    else if (!strcmp(fname, "round"))
        out = mk(a1 ? xasprintf("round(%s, %s)", a0, a1) : xasprintf("round(%s)", a0), ET_NUM);
    else if (!strcmp(fname, "coalesce")) {
        cc_buf b = CC_BUF_INIT;
        expr_type t = ET_NULL;
        cc_buf_puts(&b, "coalesce(");
        for (int a = 0; a < nargs; a++) {
            /* A column with no values yet says nothing: the next argument does. */
            if (t == ET_NULL || t == ET_UNKNOWN) t = args[a].type;
            else if (!compatible(t, args[a].type)) {
                error_at(ps, astart[a], "coalesce() mixes %s and %s", expr_type_name(t), expr_type_name(args[a].type));
            }
            cc_buf_printf(&b, "%s%s", a ? ", " : "", args[a].sql);
        }
        cc_buf_puts(&b, ")");
        out = mk(cc_buf_take(&b), t);
    }
    free(today);
done:
    for (int a = 0; a < nargs; a++) vfree(&args[a]);
    return out;
}

static value parse_name(parser *ps)
{
    const char *start = ps->tok.start;
    char *name = xstrndup(ps->tok.start, ps->tok.len);
    next(ps);
    value v = mk(NULL, ET_UNKNOWN);
    if (is_op(ps, "(")) {
        v = parse_call(ps, name, start);
        free(name);
        return v;
    }
    if (is_op(ps, ".")) {
        next(ps);
        if (ps->tok.kind != TK_IDENT) {
            error_at(ps, ps->tok.start, "expected a name after '%s.'", name);
            free(name);
            return v;
        }
        char *col = xstrndup(ps->tok.start, ps->tok.len);
        const char *cstart = ps->tok.start;
        next(ps);
        if (strcmp(name, "customer") == 0)
            v = column_ref(ps, cstart, customer_alias(ps), ps->ctx->cfg->customers.table, col);
        else if (strcmp(name, "row") == 0)
            v = column_ref(ps, cstart, "r", ps->ctx->table, col);
        else if (strcmp(name, "segment") == 0)
            v = segment_ref(ps, cstart, col, "label");
        else
            error_at(ps, start, "unknown name '%s.%s' (use customer.X, row.X or segment.X; tables "
                     "are reached through count(), sum() and the other aggregates)", name, col);
        free(col);
        free(name);
        return v;
    }
    scope *sc = &ps->scopes[ps->depth];
    v = column_ref(ps, start, sc->alias, sc->table, name);
    free(name);
    return v;
}

static value parse_primary(parser *ps)
{
    const char *start = ps->tok.start;
    switch (ps->tok.kind) {
    case TK_NUM:
        return parse_duration_or_number(ps);
    case TK_STR: {
        value v = mk(param_text(ps, ps->tok.str), ET_TEXT);
        cc_date d;
        if (clock_parse_date(ps->tok.str, &d) == 0) v.type = ET_DATE;
        next(ps);
        return v;
    }
    case TK_IDENT:
        if (is_word(ps, "true") || is_word(ps, "false")) {
            value v = mk(xstrdup(is_word(ps, "true") ? "1" : "0"), ET_BOOL);
            next(ps);
            return v;
        }
        if (is_word(ps, "null")) {
            next(ps);
            return mk(xstrdup("NULL"), ET_NULL);
        }
        if (is_word(ps, "today")) {
            next(ps);
            return mk(clock_sql(ps, 0), ET_DATE);
        }
        if (is_word(ps, "now")) {
            next(ps);
            return mk(clock_sql(ps, 1), ET_DATETIME);
        }
        if (is_word(ps, "and") || is_word(ps, "or") || is_word(ps, "in") || is_word(ps, "is") ||
            is_word(ps, "where") || is_word(ps, "between")) {
            error_at(ps, start, "expected a value before '%.*s'", (int)ps->tok.len, ps->tok.start);
            return mk(NULL, ET_UNKNOWN);
        }
        return parse_name(ps);
    case TK_OP:
        if (is_op(ps, "(")) {
            next(ps);
            value v = parse_or(ps);
            expect_close(ps, start);
            /* Only where they group something: (x) and ((a == b)) are
             * x and (a == b), so a condition's meaning (expr_meaning)
             * does not depend on how many parentheses it was written with. */
            if (v.sql && !sql_is_operand(v.sql)) {
                char *s = xasprintf("(%s)", v.sql);
                free(v.sql);
                v.sql = s;
            }
            return v;
        }
        if (is_op(ps, "[")) {
            error_at(ps, start, "a list can only follow 'in' or 'not in'");
            return mk(NULL, ET_UNKNOWN);
        }
        error_at(ps, start, "expected a value before '%.*s'", (int)ps->tok.len, ps->tok.start);
        return mk(NULL, ET_UNKNOWN);
    case TK_EOF:
    default:
        error_at(ps, start, "expected a value but the expression ended");
        return mk(NULL, ET_UNKNOWN);
    }
}

/* Count one nesting level; 0 (with an error, once) past MAX_NESTING. */
static int nest_enter(parser *ps)
{
    if (++ps->nesting <= MAX_NESTING) return 1;
    if (!ps->failed) error_at(ps, ps->tok.start, "the expression is nested too deeply (simplify it or split it into vars)");
    return 0;
}

static value parse_unary_inner(parser *ps);

static value parse_unary(parser *ps)
{
    value v = nest_enter(ps) ? parse_unary_inner(ps) : mk(NULL, ET_UNKNOWN);
    ps->nesting--;
    return v;
}

static value parse_unary_inner(parser *ps)
{
    if (is_op(ps, "-")) {
        const char *start = ps->tok.start;
        next(ps);
        value v = parse_unary(ps);
        if (v.type == ET_DURATION) {
            v.amount = -v.amount;
            return v;
        }
        if (v.type != ET_NUM && v.type != ET_UNKNOWN && !ps->failed)
            error_at(ps, start, "'-' needs a number, not %s", expr_type_name(v.type));
        char *s = xasprintf("(-%s)", v.sql ? v.sql : "NULL");
        free(v.sql);
        v.sql = s;
        return v;
    }
    return parse_primary(ps);
}

static value apply_duration(parser *ps, value date, value dur, int sign, const char *where)
{
    double amount = dur.amount * sign;
    char *sql;
    expr_type t = date.type;
    if (dur.unit == 'm') {
        sql = xasprintf("cc_add_months(%s, %lld)", date.sql, (long long)amount);
    } else if (dur.unit == 'd') {
        char mod[48];
        snprintf(mod, sizeof mod, "%+lld days", (long long)amount);
        char *p = param_text(ps, mod);
        sql = xasprintf(t == ET_DATE ? "date(%s, %s)" : "datetime(%s, %s)", date.sql, p);
        free(p);
    } else {
        char mod[48];
        snprintf(mod, sizeof mod, "%+lld seconds", (long long)amount);
        char *p = param_text(ps, mod);
        sql = xasprintf("datetime(%s, %s)", date.sql, p);
        free(p);
        t = ET_DATETIME;
    }
    (void)where;
    vfree(&date);
    return mk(sql, t);
}

static value parse_mul(parser *ps)
{
    value l = parse_unary(ps);
    while (!ps->failed && (is_op(ps, "*") || is_op(ps, "/"))) {
        char op = *ps->tok.start;
        const char *where = ps->tok.start;
        next(ps);
        value r = parse_unary(ps);
        if (ps->failed) { vfree(&r); break; }
        if ((l.type != ET_NUM && l.type != ET_UNKNOWN && l.type != ET_NULL) ||
            (r.type != ET_NUM && r.type != ET_UNKNOWN && r.type != ET_NULL)) {
            error_at(ps, where, "'%c' needs numbers, not %s and %s", op, expr_type_name(l.type), expr_type_name(r.type));
            vfree(&r);
            break;
        }
        /* Division is real division: 7 / 2 is 3.5, as a marketer expects. */
        char *s = op == '*' ? xasprintf("(%s * %s)", l.sql, r.sql) : xasprintf("(%s * 1.0 / %s)", l.sql, r.sql);
        vfree(&l);
        vfree(&r);
        l = mk(s, ET_NUM);
    }
    return l;
}

static value parse_add(parser *ps)
{
    const char *lstart = ps->tok.start;
    value l = parse_mul(ps);
    while (!ps->failed && (is_op(ps, "+") || is_op(ps, "-"))) {
        int sign = *ps->tok.start == '+' ? 1 : -1;
        const char *where = ps->tok.start;
        next(ps);
        value r = parse_mul(ps);
        if (ps->failed) { vfree(&r); break; }
        if (maybe_date(l.type) && r.type == ET_DURATION) {
            l = apply_duration(ps, l, r, sign, where);
            continue;
        }
        if (l.type == ET_DURATION && maybe_date(r.type) && sign > 0) {
            l = apply_duration(ps, r, l, 1, where);
            continue;
        }
        if ((dateish(l.type) || dateish(r.type)) && maybe_date(l.type) && maybe_date(r.type) && sign < 0) {
            char *s = xasprintf("(julianday(%s) - julianday(%s))", l.sql, r.sql);
            vfree(&l);
            vfree(&r);
            l = mk(s, ET_NUM);
            continue;
        }
        int lnum = l.type == ET_NUM || l.type == ET_UNKNOWN || l.type == ET_NULL;
        int rnum = r.type == ET_NUM || r.type == ET_UNKNOWN || r.type == ET_NULL;
        if (!lnum || !rnum) {
            cc_buf h = CC_BUF_INIT;
            if (r.type == ET_DURATION || l.type == ET_DURATION) {
                const value *other = r.type == ET_DURATION ? &l : &r;
                error_at(ps, where, "a duration can only be added to or subtracted from a date, not %s%s",
                         expr_type_name(other->type), type_hint(ps, other, &h));
            } else {
                if (dateish(l.type) || dateish(r.type)) {
                    type_hint(ps, &l, &h);
                    type_hint(ps, &r, &h);
                }
                error_at(ps, where, "'%c' needs numbers (or a date and a duration), not %s and %s%s",
                         sign > 0 ? '+' : '-', expr_type_name(l.type), expr_type_name(r.type), cc_buf_str(&h));
            }
            cc_buf_free(&h);
            vfree(&r);
            break;
        }
        char *s = xasprintf("(%s %c %s)", l.sql, sign > 0 ? '+' : '-', r.sql);
        vfree(&l);
        vfree(&r);
        l = mk(s, ET_NUM);
    }
    if (!ps->failed && l.type == ET_DURATION)
        error_at(ps, lstart, "a duration on its own is not a value; add it to a date (today - 30 days)");
    return l;
}

static value parse_cmp(parser *ps)
{
    const char *lstart = ps->tok.start;
    value l = parse_add(ps);
    if (ps->failed) return l;
    static const struct { const char *op, *sql; } cmps[] = {
        {"==", "="}, {"!=", "<>"}, {"<=", "<="}, {">=", ">="}, {"<", "<"}, {">", ">"}};
    for (size_t i = 0; i < sizeof cmps / sizeof cmps[0]; i++) {
        if (!is_op(ps, cmps[i].op)) continue;
        const char *where = ps->tok.start;
        next(ps);
        value r = parse_add(ps);
        if (ps->failed) { vfree(&r); return l; }
        if (!compatible(l.type, r.type)) {
            cc_buf h = CC_BUF_INIT;
            if (dateish(l.type) || dateish(r.type)) {
                type_hint(ps, &l, &h);
                type_hint(ps, &r, &h);
            }
            error_at(ps, where, "cannot compare %s with %s%s", expr_type_name(l.type), expr_type_name(r.type),
                     cc_buf_str(&h));
            cc_buf_free(&h);
            vfree(&r);
            return l;
        }
        char *s;
        if (dateish(l.type) && dateish(r.type) && l.type != r.type)
            /* A date against a date-time compares instants: the date is its day's start. */
            s = xasprintf("(datetime(%s) %s datetime(%s))", l.sql, cmps[i].sql, r.sql);
        else
            s = xasprintf("(%s %s %s)", l.sql, cmps[i].sql, r.sql);
        vfree(&l);
        vfree(&r);
        return mk(s, ET_BOOL);
    }
    if (is_word(ps, "is")) {
        next(ps);
        int neg = 0;
        if (is_word(ps, "not")) { neg = 1; next(ps); }
        if (!is_word(ps, "null")) {
            error_at(ps, ps->tok.start, "expected 'null' after 'is%s'", neg ? " not" : "");
            return l;
        }
        next(ps);
        char *s = xasprintf("(%s IS %sNULL)", l.sql, neg ? "NOT " : "");
        vfree(&l);
        return mk(s, ET_BOOL);
    }
    int neg = 0;
    const char *notpos = ps->tok.start;
    if (is_word(ps, "not")) {
        neg = 1;
        next(ps);
        if (!is_word(ps, "in")) {
            error_at(ps, notpos, "expected 'in' after 'not' here");
            return l;
        }
    }
    if (is_word(ps, "in")) {
        next(ps);
        if (!is_op(ps, "[")) {
            error_at(ps, ps->tok.start, "expected a list like [\"A\", \"B\"] after 'in'");
            return l;
        }
        const char *lbracket = ps->tok.start;
        next(ps);
        cc_buf b = CC_BUF_INIT;
        cc_buf_printf(&b, "(%s %sIN (", l.sql, neg ? "NOT " : "");
        int n = 0;
        while (!ps->failed && !is_op(ps, "]")) {
            const char *istart = ps->tok.start;
            value item = parse_add(ps);
            if (!ps->failed && !compatible(l.type, item.type))
                error_at(ps, istart, "the list mixes %s with %s", expr_type_name(l.type), expr_type_name(item.type));
            if (item.sql) cc_buf_printf(&b, "%s%s", n++ ? ", " : "", item.sql);
            vfree(&item);
            if (is_op(ps, ",")) next(ps);
            else if (!is_op(ps, "]")) {
                expect_op(ps, "]");
                break;
            }
        }
        if (!ps->failed) next(ps);
        cc_buf_puts(&b, "))");
        if (!ps->failed && n == 0) error_at(ps, lbracket, "an empty list matches nothing; remove the condition instead");
        vfree(&l);
        return mk(cc_buf_take(&b), ET_BOOL);
    }
    if (is_word(ps, "between")) {
        next(ps);
        value lo = parse_add(ps);
        if (!is_word(ps, "and")) {
            error_at(ps, ps->tok.start, "expected 'and' in 'between A and B'");
            vfree(&lo);
            return l;
        }
        next(ps);
        value hi = parse_add(ps);
        if (!ps->failed && (!compatible(l.type, lo.type) || !compatible(l.type, hi.type)))
            error_at(ps, lstart, "between compares values of one type");
        char *s = ps->failed ? NULL : xasprintf("(%s BETWEEN %s AND %s)", l.sql, lo.sql, hi.sql);
        vfree(&l);
        vfree(&lo);
        vfree(&hi);
        return mk(s, ET_BOOL);
    }
    return l;
}

static value parse_not_inner(parser *ps);

static value parse_not(parser *ps)
{
    value v = nest_enter(ps) ? parse_not_inner(ps) : mk(NULL, ET_UNKNOWN);
    ps->nesting--;
    return v;
}

static value parse_not_inner(parser *ps)
{
    if (is_word(ps, "not")) {
        const char *start = ps->tok.start;
        next(ps);
        value v = parse_not(ps);
        if (!ps->failed && v.type != ET_BOOL && v.type != ET_UNKNOWN && v.type != ET_NULL)
            error_at(ps, start, "'not' needs a true/false value, not %s", expr_type_name(v.type));
        char *s = xasprintf("(NOT %s)", v.sql ? v.sql : "NULL");
        vfree(&v);
        return mk(s, ET_BOOL);
    }
    return parse_cmp(ps);
}

static value parse_logic(parser *ps, int is_or)
{
    const char *start = ps->tok.start;
    value l = is_or ? parse_logic(ps, 0) : parse_not(ps);
    while (!ps->failed && is_word(ps, is_or ? "or" : "and")) {
        next(ps);
        const char *rstart = ps->tok.start;
        value r = is_or ? parse_logic(ps, 0) : parse_not(ps);
        if (ps->failed) { vfree(&r); break; }
        expr_type bad = l.type;
        const char *bad_at = start;
        if (r.type != ET_BOOL && r.type != ET_UNKNOWN && r.type != ET_NULL) { bad = r.type; bad_at = rstart; }
        if (bad != ET_BOOL && bad != ET_UNKNOWN && bad != ET_NULL) {
            error_at(ps, bad_at, "'%s' joins true/false conditions, and this is %s", is_or ? "or" : "and",
                     expr_type_name(bad));
            vfree(&r);
            break;
        }
        char *s = xasprintf("(%s %s %s)", l.sql, is_or ? "OR" : "AND", r.sql);
        vfree(&l);
        vfree(&r);
        l = mk(s, ET_BOOL);
    }
    return l;
}

static value parse_or(parser *ps) { return parse_logic(ps, 1); }

/* How deep SQLite's parser stack goes for generated SQL, roughly: each
 * open parenthesis outside quoted identifiers and strings holds one entry;
 * one right after an operator ("-(", "* (") two, since the parser holds
 * the operator too; one after a name (a function call "f(", "NOT (",
 * "IN (") three, for the name, the parenthesis and the argument list.
 * fuzz_expr found both: a chain of unary minuses at parenthesis depth 60
 * and 41 nested cc_add_months() calls overflowed SQLite's 100 entries. */
static int sql_depth(const char *sql)
{
    /* The weight of each open parenthesis; past the array, 3 each. */
    unsigned char weight[256];
    int open = 0, total = 0, max = 0;
    const char *start = sql ? sql : "";
    for (const char *p = start; *p; p++) {
        if (*p == '"' || *p == '\'') {
            char q = *p;
            /* a doubled quote is an escaped one: the loop re-enters */
            while (*++p && *p != q) {
            }
            if (!*p) break;
        } else if (*p == '(') {
            const char *b = p;
            while (b > start && b[-1] == ' ') b--;
            unsigned char prev = b > start ? (unsigned char)b[-1] : '(';
            int w = isalnum(prev) || prev == '_' || prev == '"' ? 3 : strchr("-+*/%<>=|", prev) ? 2 : 1;
            if (open >= (int)sizeof weight) w = 3;
            if (open < (int)sizeof weight) weight[open] = (unsigned char)w;
            open++;
            total += w;
            if (total > max) max = total;
        } else if (*p == ')' && open > 0) {
            open--;
            total -= open < (int)sizeof weight ? weight[open] : 3;
        }
    }
    return max;
}

cc_code expr_compile(expr_ctx *ctx, const char *src, cc_buf *sql, expr_type *type)
{
    parser ps;
    memset(&ps, 0, sizeof ps);
    ps.ctx = ctx;
    ps.src = src;
    ps.p = src;
    ps.scopes[0].table = ctx->table;
    snprintf(ps.scopes[0].alias, sizeof ps.scopes[0].alias, "r");
    next(&ps);
    if (ps.tok.kind == TK_EOF && !ps.failed) error_at(&ps, src, "empty expression");
    value v = ps.failed ? mk(NULL, ET_UNKNOWN) : parse_or(&ps);
    if (!ps.failed && is_op(&ps, ")"))
        error_at(&ps, ps.tok.start, "this ')' has no matching '('");
    else if (!ps.failed && ps.tok.kind != TK_EOF)
        error_at(&ps, ps.tok.start, "unexpected '%.*s' after a complete expression", (int)ps.tok.len, ps.tok.start);
    /* Left-associative chains (a * b * c ...) nest in SQL without nesting
     * here: the SQL's own depth is what SQLite's parser must hold. */
    if (!ps.failed && sql_depth(v.sql) > MAX_SQL_DEPTH)
        error_at(&ps, src, "the expression is nested too deeply (simplify it or split it into vars)");
    free(ps.tok.str);
    for (size_t i = 0; i < ps.n_cols; i++) {
        free(ps.cols[i].table);
        free(ps.cols[i].column);
        free(ps.cols[i].origin);
    }
    free(ps.cols);
    if (ps.failed) {
        vfree(&v);
        return CC_ERR_INPUT;
    }
    cc_buf_puts(sql, v.sql);
    if (type) *type = v.type;
    vfree(&v);
    return CC_OK;
}

void expr_bind(const expr_ctx *ctx, sqlite3_stmt *st)
{
    for (size_t i = 0; i < ctx->n_params; i++) {
        const expr_param *p = &ctx->params[i];
        if (p->is_text)
            sqlite3_bind_text(st, (int)i + 1, p->text, -1, SQLITE_TRANSIENT);
        else if (p->num == floor(p->num) && fabs(p->num) < 9e15)
            sqlite3_bind_int64(st, (int)i + 1, (sqlite3_int64)p->num);
        else
            sqlite3_bind_double(st, (int)i + 1, p->num);
    }
}

void expr_meaning(const expr_ctx *ctx, const char *sql, cc_buf *out)
{
    cc_buf_printf(out, "sql %zu:%s\n", strlen(sql), sql);
    for (size_t i = 0; i < ctx->n_params; i++) {
        const expr_param *p = &ctx->params[i];
        if (p->is_text)
            cc_buf_printf(out, "?%zu text %zu:%s\n", i + 1, strlen(p->text), p->text);
        else
            cc_buf_printf(out, "?%zu number %.17g\n", i + 1, p->num);
    }
}

void expr_ctx_free(expr_ctx *ctx)
{
    for (size_t i = 0; i < ctx->n_params; i++) free(ctx->params[i].text);
    free(ctx->params);
    ctx->params = NULL;
    ctx->n_params = 0;
}

/* ---- SQL helper functions ----------------------------------------------- */

/* cc_add_months(date, n): n calendar months later, clamped to the month's
 * last day (31 Jan + 1 month = 28/29 Feb).  Keeps a time part if present. */
static void fn_add_months(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    const char *s = (const char *)sqlite3_value_text(argv[0]);
    if (!s || sqlite3_value_type(argv[1]) == SQLITE_NULL) {
        sqlite3_result_null(cx);
        return;
    }
    cc_date d;
    char head[11];
    if (strlen(s) < 10) { sqlite3_result_null(cx); return; }
    memcpy(head, s, 10);
    head[10] = '\0';
    if (clock_parse_date(head, &d) != 0) { sqlite3_result_null(cx); return; }
    long long n = sqlite3_value_int64(argv[1]);
    long long m = (long long)d.year * 12 + (d.month - 1) + n;
    if (m < 0 || m > 9999LL * 12) { sqlite3_result_null(cx); return; }
    d.year = (int)(m / 12);
    d.month = (int)(m % 12) + 1;
    int dim = clock_days_in_month(d.year, d.month);
    if (d.day > dim) d.day = dim;
    char out[11];
    clock_format_date(d, out);
    char *r = xasprintf("%s%s", out, s + 10);
    sqlite3_result_text(cx, r, -1, free);
}

/* cc_months_between(from, to): whole months from `from` to `to` (age in
 * months; a 29 Feb birthday completes its year on 28 Feb, as the
 * anniversary rule says). */
static void fn_months_between(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    const char *a = (const char *)sqlite3_value_text(argv[0]);
    const char *b = (const char *)sqlite3_value_text(argv[1]);
    char ha[11], hb[11];
    cc_date da, db;
    if (!a || !b || strlen(a) < 10 || strlen(b) < 10) { sqlite3_result_null(cx); return; }
    memcpy(ha, a, 10); ha[10] = '\0';
    memcpy(hb, b, 10); hb[10] = '\0';
    if (clock_parse_date(ha, &da) != 0 || clock_parse_date(hb, &db) != 0) { sqlite3_result_null(cx); return; }
    long long months = ((long long)db.year - da.year) * 12 + (db.month - da.month);
    int anniv_day = da.day;
    int dim = clock_days_in_month(db.year, db.month);
    if (anniv_day > dim) anniv_day = dim;
    if (db.day < anniv_day) months--;
    sqlite3_result_int64(cx, months);
}

/* Is x text of the form YYYY-MM-DD naming a real day?  date() returns
 * such text unchanged, so for it date(x) is x. */
static const unsigned char *plain_iso_date(sqlite3_value *x)
{
    if (sqlite3_value_type(x) != SQLITE_TEXT || sqlite3_value_bytes(x) != 10) return NULL;
    const unsigned char *s = sqlite3_value_text(x);
    for (int i = 0; i < 10; i++) {
        int dash = i == 4 || i == 7;
        if (dash ? s[i] != '-' : (s[i] < '0' || s[i] > '9')) return NULL;
    }
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0'), d = (s[8] - '0') * 10 + (s[9] - '0');
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    if (m < 1 || m > 12 || d < 1 || d > dim[m - 1] + (m == 2 && leap)) return NULL;
    return s;
}

/* cc_md_in(x, 'MM-DD', ...): for a plain ISO date x, whether
 * substr(date(x), 6, 5) IN (the texts) holds, as 1 or 0; NULL for any
 * other x (the caller then asks SQLite's date(): coalesce(cc_md_in(...),
 * substr(date(x), 6, 5) IN (...))).  The planner's yearly anniversary
 * pre-filter runs it for every candidate row; SQLite's general date parser
 * costs several times more. */
static void fn_md_in(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    const unsigned char *s = argc ? plain_iso_date(argv[0]) : NULL;
    if (!s) {
        sqlite3_result_null(cx);
        return;
    }
    for (int i = 1; i < argc; i++)
        if (sqlite3_value_type(argv[i]) == SQLITE_TEXT && sqlite3_value_bytes(argv[i]) == 5 &&
            !memcmp(sqlite3_value_text(argv[i]), s + 5, 5)) {
            sqlite3_result_int(cx, 1);
            return;
        }
    sqlite3_result_int(cx, 0);
}

/* cc_day_in(x, N, ...): the same for CAST(substr(date(x), 9, 2) AS
 * INTEGER) IN (integers): the monthly pre-filter. */
static void fn_day_in(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    const unsigned char *s = argc ? plain_iso_date(argv[0]) : NULL;
    if (!s) {
        sqlite3_result_null(cx);
        return;
    }
    int day = (s[8] - '0') * 10 + (s[9] - '0');
    for (int i = 1; i < argc; i++)
        if (sqlite3_value_type(argv[i]) == SQLITE_INTEGER && sqlite3_value_int64(argv[i]) == day) {
            sqlite3_result_int(cx, 1);
            return;
        }
    sqlite3_result_int(cx, 0);
}

/* cc_local(x): a date-time of the data as the business zone's wall time
 * (user data: the zone).  A value without an offset, by far the usual
 * one, is returned as it is after a look at its last characters; only one
 * with an offset costs a conversion. */
static void fn_local(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_TEXT) {
        const char *s = (const char *)sqlite3_value_text(argv[0]);
        size_t n = (size_t)sqlite3_value_bytes(argv[0]);
        char wall[CLOCK_WALL_MAX];
        if (s && clock_may_have_offset(s, n) &&
            clock_offset_to_wall(s, n, (const char *)sqlite3_user_data(cx), wall)) {
            sqlite3_result_text(cx, wall, -1, SQLITE_TRANSIENT);
            return;
        }
    }
    sqlite3_result_value(cx, argv[0]);
}

void expr_register_functions(sqlite3 *db, const char *zone)
{
    int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC;
    sqlite3_create_function(db, "cc_local", 1, flags, (void *)zone, fn_local, NULL, NULL);
    sqlite3_create_function(db, "cc_md_in", -1, flags, NULL, fn_md_in, NULL, NULL);
    sqlite3_create_function(db, "cc_day_in", -1, flags, NULL, fn_day_in, NULL, NULL);
    sqlite3_create_function(db, "cc_add_months", 2, flags, NULL, fn_add_months, NULL, NULL);
    sqlite3_create_function(db, "cc_months_between", 2, flags, NULL, fn_months_between, NULL, NULL);
}
