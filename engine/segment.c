/* segment.c - loads and checks segment files (segment.h). */
#include "segment.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "expr.h"
#include "ydoc.h"

typedef struct {
    const char *file;
    cc_diags *diags;
    int errors;
} loader;

static void err(loader *l, const ynode *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void err(loader *l, const ynode *n, const char *fmt, ...)
{
    cc_buf b = CC_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    cc_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    cc_diag(l->diags, l->file, n ? n->line : 1, n ? n->col : 1, "error: %s", cc_buf_str(&b));
    cc_buf_free(&b);
    l->errors++;
}

static void expr_at(loader *l, const ynode *n, const char *key, cc_expr_src *out)
{
    if (!n) return;
    if (n->kind != YN_SCALAR || !n->value[0]) {
        err(l, n, "'%s' must be an expression", key);
        return;
    }
    out->text = xstrdup(n->value);
    out->line = n->line;
    out->col = n->col + (n->quoted ? 1 : 0);
}

static void free_src(cc_expr_src *e) { free(e->text); }

static void segment_free(cc_segment *s)
{
    free(s->file);
    free(s->name);
    free_src(&s->value);
    free(s->cuts);
    for (size_t i = 0; i < s->n_labels; i++) free(s->labels[i]);
    free(s->labels);
    for (size_t i = 0; i < s->n_rules; i++) {
        free(s->rules[i].label);
        free_src(&s->rules[i].cond);
    }
    free(s->rules);
    free_src(&s->recency);
    free_src(&s->frequency);
    free_src(&s->monetary);
}

void segments_free(cc_segment *list, size_t n)
{
    for (size_t i = 0; i < n; i++) segment_free(&list[i]);
    free(list);
}

static int key_allowed(const char *k, const char *const *allowed)
{
    for (; *allowed; allowed++)
        if (!strcmp(*allowed, k)) return 1;
    return 0;
}

static void load_abc(loader *l, const ynode *root, cc_segment *s)
{
    expr_at(l, ydoc_get(root, "value"), "value", &s->value);
    if (!ydoc_get(root, "value")) err(l, root, "an abc segment needs 'value: EXPR' (what customers are ranked by)");
    const ynode *cuts = ydoc_get(root, "cuts"), *labels = ydoc_get(root, "labels");
    if (!cuts || cuts->kind != YN_SEQ || cuts->n == 0) {
        err(l, cuts ? cuts : root, "an abc segment needs 'cuts', a list of percentages such as [5%%, 15%%]");
        return;
    }
    s->cuts = xcalloc(cuts->n, sizeof *s->cuts);
    double total = 0;
    for (size_t i = 0; i < cuts->n; i++) {
        const ynode *c = cuts->items[i];
        char *end = NULL;
        double v = c->kind == YN_SCALAR ? strtod(c->value, &end) : -1;
        if (c->kind != YN_SCALAR || end == c->value || strcmp(end, "%") != 0 || !isfinite(v) || v <= 0 || v >= 100) {
            err(l, c, "a cut is a percentage between 0%% and 100%%, such as 5%%");
            continue;
        }
        s->cuts[s->n_cuts++] = v / 100.0;
        total += v;
    }
    if (total >= 100) err(l, cuts, "the cuts add up to %g%%; they must leave room for the last label", total);
    if (!labels || labels->kind != YN_SEQ) {
        err(l, labels ? labels : root, "an abc segment needs 'labels', one more than the cuts, such as [A, B, C]");
        return;
    }
    if (labels->n != cuts->n + 1)
        err(l, labels, "%zu cuts make %zu labels, and %zu are given", cuts->n, cuts->n + 1, labels->n);
    s->labels = xcalloc(labels->n, sizeof *s->labels);
    for (size_t i = 0; i < labels->n; i++) {
        if (labels->items[i]->kind != YN_SCALAR || !labels->items[i]->value[0]) {
            err(l, labels->items[i], "a label is a short text such as A");
            continue;
        }
        for (size_t k = 0; k < s->n_labels; k++)
            if (!strcmp(s->labels[k], labels->items[i]->value)) {
                err(l, labels->items[i], "label '%s' is given twice: each tier needs its own label",
                    labels->items[i]->value);
                break;
            }
        s->labels[s->n_labels++] = xstrdup(labels->items[i]->value);
    }
}

static void load_rules(loader *l, const ynode *root, cc_segment *s)
{
    const ynode *rules = ydoc_get(root, "rules");
    if (!rules || rules->kind != YN_SEQ || rules->n == 0) {
        err(l, rules ? rules : root, "a rules segment needs 'rules', a list of {label: L, if: EXPR}");
        return;
    }
    s->rules = xcalloc(rules->n, sizeof *s->rules);
    for (size_t i = 0; i < rules->n; i++) {
        const ynode *r = rules->items[i];
        if (r->kind != YN_MAP) {
            err(l, r, "each rule is a map {label: L, if: EXPR}");
            continue;
        }
        segment_rule *sr = &s->rules[s->n_rules++];
        for (size_t k = 0; k < r->n; k++) {
            const char *key = r->keys[k]->value;
            if (!strcmp(key, "label")) {
                if (r->items[k]->kind != YN_SCALAR || !r->items[k]->value[0] || ydoc_is_null(r->items[k]))
                    err(l, r->items[k], "a label is a short text (not empty)");
                else sr->label = xstrdup(r->items[k]->value);
            } else if (!strcmp(key, "if")) {
                expr_at(l, r->items[k], "if", &sr->cond);
            } else {
                err(l, r->keys[k], "unknown key '%s' in a rule (allowed: label, if)", key);
            }
        }
        if (!ydoc_get(r, "label")) err(l, r, "this rule needs a 'label'");
        if (!ydoc_get(r, "if")) err(l, r, "this rule needs an 'if' (write 'if: true' for the last one)");
    }
}

static cc_code load_one(const char *path, const ynode *root, cc_segment *s, cc_diags *diags)
{
    loader l = {path, diags, 0};
    memset(s, 0, sizeof *s);
    s->file = xstrdup(path);
    static const char *const common[] = {"segment", "method", "title", "description", NULL};
    static const char *const abc[] = {"value", "cuts", "labels", NULL};
    static const char *const rfm[] = {"recency", "frequency", "monetary", NULL};
    static const char *const rules[] = {"rules", NULL};
    const ynode *name = ydoc_get(root, "segment"), *method = ydoc_get(root, "method");
    if (name->kind != YN_SCALAR || !name->value[0]) {
        err(&l, name, "'segment' is the segment's name, such as value_tier");
    } else {
        int ok = islower((unsigned char)name->value[0]) != 0;
        for (const char *p = name->value; *p; p++)
            ok &= islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_';
        if (!ok) err(&l, name, "segment name '%s' must be lower-case letters, digits and '_' (it is used as segment.%s)", name->value, name->value);
        s->name = xstrdup(name->value);
    }
    const char *const *specific = NULL;
    if (!method || method->kind != YN_SCALAR) {
        err(&l, method ? method : root, "a segment needs 'method: abc', 'method: rfm' or 'method: rules'");
    } else if (!strcmp(method->value, "abc")) {
        s->method = SEG_ABC;
        specific = abc;
    } else if (!strcmp(method->value, "rfm")) {
        s->method = SEG_RFM;
        specific = rfm;
    } else if (!strcmp(method->value, "rules")) {
        s->method = SEG_RULES;
        specific = rules;
    } else {
        err(&l, method, "unknown method '%s' (one of: abc, rfm, rules)", method->value);
    }
    for (size_t i = 0; i < root->n && specific; i++) {
        /* Without a known method there is no telling which keys belong:
         * the method's own error is the one to fix. */
        const char *k = root->keys[i]->value;
        if (key_allowed(k, common) || key_allowed(k, specific)) continue;
        err(&l, root->keys[i], "unknown key '%s' in a %s segment", k,
            method && method->kind == YN_SCALAR ? method->value : "");
    }
    if (specific == abc) load_abc(&l, root, s);
    else if (specific == rules) load_rules(&l, root, s);
    else if (specific == rfm) {
        static const char *const keys[] = {"recency", "frequency", "monetary"};
        cc_expr_src *slots[] = {&s->recency, &s->frequency, &s->monetary};
        for (int i = 0; i < 3; i++) {
            const ynode *v = ydoc_get(root, keys[i]);
            if (!v) err(&l, root, "an rfm segment needs '%s: EXPR'", keys[i]);
            expr_at(&l, v, keys[i], slots[i]);
        }
    }
    return l.errors ? CC_ERR_INPUT : CC_OK;
}

cc_code segment_load_dir(const char *dir, cc_segment **out, size_t *n, cc_diags *diags)
{
    size_t nf = 0;
    char **files = campaign_list_files(dir, &nf);
    *out = xcalloc(nf ? nf : 1, sizeof **out);
    *n = 0;
    cc_code rc = CC_OK;
    for (size_t i = 0; i < nf; i++) {
        size_t len = 0;
        char *text = cc_read_file(files[i], &len);
        /* A file that does not parse may be a segment: `carecast segment`
         * must not compute the others as if it were not there.  (lint
         * prints the campaign loader's identical message once.) */
        ynode *root = text ? ydoc_parse(files[i], text, len, diags) : NULL;
        if (text && !root) rc = CC_ERR_INPUT;
        free(text);
        if (root && root->kind == YN_MAP && ydoc_get(root, "segment")) {
            cc_segment s;
            if (load_one(files[i], root, &s, diags) != CC_OK) {
                rc = CC_ERR_INPUT;
                segment_free(&s);
            } else {
                for (size_t k = 0; k < *n; k++)
                    if (cc_streq((*out)[k].name, s.name)) {
                        cc_diag(diags, files[i], 1, 1, "error: segment '%s' is already defined in %s", s.name, (*out)[k].file);
                        rc = CC_ERR_INPUT;
                    }
                (*out)[(*n)++] = s;
            }
        }
        ydoc_free(root);
        free(files[i]);
    }
    free(files);
    return rc;
}

static cc_code check_expr(expr_ctx *x, const cc_expr_src *e, const char *what, int want_bool, int want_num, int want_date)
{
    if (!e->text) return CC_OK;
    cc_buf sql = CC_BUF_INIT;
    expr_type t;
    x->line = e->line;
    x->col = e->col;
    cc_code rc = expr_compile(x, e->text, &sql, &t);
    cc_buf_free(&sql);
    if (rc != CC_OK) return rc;
    int ok = t == ET_UNKNOWN || t == ET_NULL || (want_bool && t == ET_BOOL) || (want_num && t == ET_NUM) ||
             (want_date && (t == ET_DATE || t == ET_DATETIME));
    if (!ok) {
        cc_diag(x->diags, x->file, e->line, e->col, "error: '%s' must be %s, and this is %s", what,
                want_bool ? "a condition (true or false)" : want_num ? "a number" : "a date", expr_type_name(t));
        return CC_ERR_INPUT;
    }
    return CC_OK;
}

/* Whether expression text mentions segment.NAME (outside quotes). */
static int refers_to(const char *text, const char *name)
{
    size_t nl = strlen(name);
    char q = 0;
    for (const char *p = text; *p; p++) {
        if (q) {
            if (*p == '\\' && p[1]) p++;
            else if (*p == q) q = 0;
            continue;
        }
        if (*p == '"' || *p == '\'') {
            q = *p;
            continue;
        }
        if (strncmp(p, "segment.", 8) == 0 && (p == text || !(isalnum((unsigned char)p[-1]) || p[-1] == '_')) &&
            strncmp(p + 8, name, nl) == 0 && !(isalnum((unsigned char)p[8 + nl]) || p[8 + nl] == '_'))
            return 1;
    }
    return 0;
}

cc_code segment_check(sqlite3 *db, const cc_config *cfg, const char *today, const cc_segment *s, cc_diags *diags,
                      expr_column_log *columns)
{
    expr_ctx x;
    memset(&x, 0, sizeof x);
    x.db = db;
    x.cfg = cfg;
    x.table = cfg->customers.table;
    x.has_customer = 0;
    x.today = today;
    x.file = s->file;
    x.diags = diags;
    x.columns = columns;
    expr_register_functions(db, cfg->timezone);
    cc_code rc = CC_OK;
    if (!db_table_exists(db, cfg->customers.table)) {
        int cl = 0, cc = 0;
        /* Where the table is named, when the configuration names it: the
         * same message as the campaigns' check, so it is said once. */
        if (config_locate(cfg, "customers.table", &cl, &cc))
            cc_diag(diags, cfg->path, cl, cc, "error: customers.table: the database has no table '%s'",
                    cfg->customers.table);
        else
            cc_diag(diags, s->file, 1, 1, "error: the database has no customers table '%s'", cfg->customers.table);
        return CC_ERR_INPUT;
    }
    /* A segment's own label is what it computes: reading it (on the first
     * computation null, then last run's) makes the labels chase themselves. */
    const cc_expr_src *all[] = {&s->value, &s->recency, &s->frequency, &s->monetary};
    for (size_t i = 0; i < 4 + s->n_rules && s->name; i++) {
        const cc_expr_src *e = i < 4 ? all[i] : &s->rules[i - 4].cond;
        if (e->text && refers_to(e->text, s->name)) {
            cc_diag(diags, s->file, e->line, e->col, "error: segment '%s' cannot use its own label (segment.%s)",
                    s->name, s->name);
            rc = CC_ERR_INPUT;
        }
    }
    if (check_expr(&x, &s->value, "value", 0, 1, 0) != CC_OK) rc = CC_ERR_INPUT;
    if (check_expr(&x, &s->recency, "recency", 0, 0, 1) != CC_OK) rc = CC_ERR_INPUT;
    if (check_expr(&x, &s->frequency, "frequency", 0, 1, 0) != CC_OK) rc = CC_ERR_INPUT;
    if (check_expr(&x, &s->monetary, "monetary", 0, 1, 0) != CC_OK) rc = CC_ERR_INPUT;
    for (size_t i = 0; i < s->n_rules; i++)
        if (check_expr(&x, &s->rules[i].cond, "if", 1, 0, 0) != CC_OK) rc = CC_ERR_INPUT;
    expr_ctx_free(&x);
    return rc;
}

/* ---- names for the expression compiler ----------------------------------- */

/* Kept for the life of the process: the planner compiles many expressions
 * and each `segment.X` asks; the rules folder does not change under a
 * running command. */
static struct {
    char *dir;
    char **names;
    size_t n;
} name_cache;

const char *const *segment_names(const char *dir, size_t *n)
{
    if (!name_cache.dir || strcmp(name_cache.dir, dir ? dir : "") != 0) {
        for (size_t i = 0; i < name_cache.n; i++) free(name_cache.names[i]);
        free(name_cache.names);
        free(name_cache.dir);
        memset(&name_cache, 0, sizeof name_cache);
        name_cache.dir = xstrdup(dir ? dir : "");
        cc_segment *segs = NULL;
        size_t ns = 0;
        cc_diags quiet = {0};
        /* Broken segment files are lint's to report; their names still
         * count, so a typo in one file is not also an error in another. */
        if (dir) segment_load_dir(dir, &segs, &ns, &quiet);
        cc_diags_free(&quiet);
        name_cache.names = xcalloc(ns ? ns : 1, sizeof *name_cache.names);
        for (size_t i = 0; i < ns; i++)
            if (segs[i].name) name_cache.names[name_cache.n++] = xstrdup(segs[i].name);
        segments_free(segs, ns);
    }
    *n = name_cache.n;
    return (const char *const *)name_cache.names;
}

/* ---- computing ---------------------------------------------------------- */

/* A parameter after the expressions' own (?N numbering continues). */
static char *push_text(expr_ctx *x, const char *text)
{
    x->params = xrealloc(x->params, (x->n_params + 1) * sizeof *x->params);
    x->params[x->n_params++] = (expr_param){1, xstrdup(text), 0};
    return xasprintf("?%zu", x->n_params);
}

static char *push_num(expr_ctx *x, double v)
{
    x->params = xrealloc(x->params, (x->n_params + 1) * sizeof *x->params);
    x->params[x->n_params++] = (expr_param){0, NULL, v};
    return xasprintf("?%zu", x->n_params);
}

static cc_code compile_into(expr_ctx *x, const cc_expr_src *e, cc_buf *sql)
{
    x->line = e->line;
    x->col = e->col;
    cc_buf_putc(sql, '(');
    cc_code rc = expr_compile(x, e->text, sql, NULL);
    cc_buf_putc(sql, ')');
    return rc;
}

/* The SELECT giving (customer_id, label, score, value) for every customer. */
static cc_code segment_select(expr_ctx *x, const cc_config *cfg, const cc_segment *s, long long ncust, cc_buf *sql)
{
    cc_buf id = CC_BUF_INIT, from = CC_BUF_INIT;
    cc_buf_puts(&id, "r.");
    db_quote_ident(cfg->customers.id, &id);
    cc_buf_puts(&from, " FROM ");
    db_quote_ident(cfg->customers.table, &from);
    cc_buf_puts(&from, " AS r");
    cc_code rc = CC_OK;
    if (s->method == SEG_ABC) {
        cc_buf_printf(sql, "SELECT cid, CASE");
        /* Boundaries in C: SQLite may lack ceil().  The epsilon absorbs
         * binary noise (0.05 + 0.15 is not exactly 0.2) without moving a
         * true fraction. */
        double cum = 0;
        for (size_t i = 0; i < s->n_cuts && i + 1 < s->n_labels; i++) {
            cum += s->cuts[i];
            double k = ceil((double)ncust * cum - 1e-7);
            char *pk = push_num(x, k), *pl = push_text(x, s->labels[i]);
            cc_buf_printf(sql, " WHEN rn <= %s THEN %s", pk, pl);
            free(pk);
            free(pl);
        }
        char *last = push_text(x, s->labels[s->n_labels - 1]);
        cc_buf_printf(sql, " ELSE %s END, CAST(rn AS TEXT), val FROM (SELECT cid, val, "
                           "ROW_NUMBER() OVER (ORDER BY val IS NULL, val DESC, rid) AS rn FROM (SELECT CAST(%s AS TEXT) AS cid, %s AS rid, ",
                      last, cc_buf_str(&id), cc_buf_str(&id));
        free(last);
        rc = compile_into(x, &s->value, sql);
        cc_buf_printf(sql, " AS val%s))", cc_buf_str(&from));
    } else if (s->method == SEG_RFM) {
        /* RANK() gives equal values one rank, so one score; nulls sort
         * first in SQLite's ascending order, so they share rank 1. */
        static const char *const v[] = {"rv", "fv", "mv"};
        cc_buf_puts(sql, "SELECT cid, rs || fs || ms, rs || ',' || fs || ',' || ms, mv FROM (SELECT cid, mv");
        for (int i = 0; i < 3; i++)
            cc_buf_printf(sql, ", CASE WHEN %s IS NULL THEN 1 ELSE 1 + ((RANK() OVER (ORDER BY %s) - 1) * 5) / "
                               "(COUNT(*) OVER ()) END AS %cs", v[i], v[i], "rfm"[i]);
        cc_buf_printf(sql, " FROM (SELECT CAST(%s AS TEXT) AS cid, ", cc_buf_str(&id));
        const cc_expr_src *e[] = {&s->recency, &s->frequency, &s->monetary};
        for (int i = 0; i < 3 && rc == CC_OK; i++) {
            if (i) cc_buf_puts(sql, ", ");
            rc = compile_into(x, e[i], sql);
            cc_buf_printf(sql, " AS %s", v[i]);
        }
        cc_buf_printf(sql, "%s))", cc_buf_str(&from));
    } else {
        cc_buf_printf(sql, "SELECT CAST(%s AS TEXT), CASE", cc_buf_str(&id));
        for (size_t i = 0; i < s->n_rules && rc == CC_OK; i++) {
            cc_buf_puts(sql, " WHEN ");
            rc = compile_into(x, &s->rules[i].cond, sql);
            char *pl = push_text(x, s->rules[i].label);
            cc_buf_printf(sql, " THEN %s", pl);
            free(pl);
        }
        cc_buf_printf(sql, " END, NULL, NULL%s", cc_buf_str(&from));
    }
    cc_buf_free(&id);
    cc_buf_free(&from);
    return rc;
}

static cc_code exec_bound(sqlite3 *db, const char *sql, const char *seg, int64_t now, long long count, const char *what)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "carecast: segment %s: %s: %s\n", seg, what, sqlite3_errmsg(db));
        return CC_ERR_DB;
    }
    sqlite3_bind_text(st, 1, seg, -1, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count(st) >= 2) sqlite3_bind_int64(st, 2, now);
    if (sqlite3_bind_parameter_count(st) >= 3) sqlite3_bind_int64(st, 3, count);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "carecast: segment %s: %s: %s\n", seg, what, sqlite3_errmsg(db));
        return CC_ERR_DB;
    }
    return CC_OK;
}

cc_code segment_compute(sqlite3 *db, const cc_config *cfg, int64_t now, const char *today, const char *now_local,
                        const cc_segment *segs, size_t n, segment_result *res, cc_diags *diags)
{
    expr_register_functions(db, cfg->timezone);
    if (!db_table_exists(db, cfg->customers.table)) {
        cc_diag(diags, cfg->rules, 0, 0, "error: the database has no customers table '%s'", cfg->customers.table);
        return CC_ERR_INPUT;
    }
    long long ncust = 0;
    {
        cc_buf q = CC_BUF_INIT;
        cc_buf_puts(&q, "SELECT count(*) FROM ");
        db_quote_ident(cfg->customers.table, &q);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, cc_buf_str(&q), -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
            ncust = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        cc_buf_free(&q);
    }
    /* Compile everything first: an error in any segment writes nothing. */
    expr_ctx *ctx = xcalloc(n ? n : 1, sizeof *ctx);
    cc_buf *sql = xcalloc(n ? n : 1, sizeof *sql);
    const char **names = xcalloc(n ? n : 1, sizeof *names);
    for (size_t i = 0; i < n; i++) names[i] = segs[i].name;
    cc_code rc = CC_OK;
    for (size_t i = 0; i < n; i++) {
        expr_ctx *x = &ctx[i];
        x->db = db;
        x->cfg = cfg;
        x->table = cfg->customers.table;
        x->today = today;
        x->now = now_local;
        x->file = segs[i].file;
        x->diags = diags;
        x->segments = names;
        x->n_segments = n;
        cc_buf_puts(&sql[i], "INSERT INTO temp.care_seg_new(customer_id, label, score, value) ");
        if (segment_select(x, cfg, &segs[i], ncust, &sql[i]) != CC_OK) rc = CC_ERR_INPUT;
    }
    if (rc == CC_OK && db_begin(db) != CC_OK) {
        fprintf(stderr, "carecast: cannot start a transaction: %s\n", sqlite3_errmsg(db));
        rc = CC_ERR_DB;
    } else if (rc == CC_OK) {
        rc = db_exec(db, "CREATE TEMP TABLE IF NOT EXISTS care_seg_new(customer_id TEXT PRIMARY KEY, label TEXT, "
                         "score TEXT, value REAL)", "segment");
        for (size_t i = 0; i < n && rc == CC_OK; i++) {
            const char *name = segs[i].name;
            rc = db_exec(db, "DELETE FROM temp.care_seg_new", "segment");
            sqlite3_stmt *st = NULL;
            if (rc == CC_OK && sqlite3_prepare_v2(db, cc_buf_str(&sql[i]), -1, &st, NULL) != SQLITE_OK) {
                fprintf(stderr, "carecast: segment %s: %s\n", name, sqlite3_errmsg(db));
                rc = CC_ERR_DB;
            }
            if (rc == CC_OK) {
                expr_bind(&ctx[i], st);
                if (sqlite3_step(st) != SQLITE_DONE) {
                    /* Duplicate customer ids land here too (PRIMARY KEY). */
                    fprintf(stderr, "carecast: segment %s: %s\n", name, sqlite3_errmsg(db));
                    rc = CC_ERR_DB;
                }
            }
            sqlite3_finalize(st);
            int before = sqlite3_total_changes(db);
            if (rc == CC_OK)
                rc = exec_bound(db,
                                "INSERT INTO care_segment_history(segment, customer_id, label, previous_label, changed_at) "
                                "SELECT ?1, n.customer_id, n.label, v.label, ?2 FROM temp.care_seg_new AS n "
                                "LEFT JOIN care_segment_values AS v ON v.segment = ?1 AND v.customer_id = n.customer_id "
                                "WHERE n.label IS NOT v.label",
                                name, now, 0, "history");
            res[i].changed = (size_t)(sqlite3_total_changes(db) - before);
            res[i].customers = (size_t)ncust;
            if (rc == CC_OK)
                rc = exec_bound(db,
                                "INSERT INTO care_segment_values(segment, customer_id, label, score, value, previous_label, "
                                "changed_at, computed_at) SELECT ?1, customer_id, label, score, value, NULL, "
                                "CASE WHEN label IS NOT NULL THEN ?2 END, ?2 FROM temp.care_seg_new WHERE 1 "
                                "ON CONFLICT(segment, customer_id) DO UPDATE SET "
                                "previous_label = CASE WHEN excluded.label IS NOT label THEN label ELSE previous_label END, "
                                "changed_at = CASE WHEN excluded.label IS NOT label THEN excluded.computed_at ELSE changed_at END, "
                                "label = excluded.label, score = excluded.score, value = excluded.value, "
                                "computed_at = excluded.computed_at",
                                name, now, 0, "values");
            /* Customers no longer in the customers table leave the segment. */
            if (rc == CC_OK)
                rc = exec_bound(db,
                                "DELETE FROM care_segment_values WHERE segment = ?1 AND customer_id NOT IN "
                                "(SELECT customer_id FROM temp.care_seg_new)",
                                name, now, 0, "removed customers");
            if (rc == CC_OK)
                rc = exec_bound(db,
                                "INSERT INTO care_segment_runs(segment, computed_at, customers) VALUES (?1, ?2, ?3) "
                                "ON CONFLICT(segment) DO UPDATE SET computed_at = excluded.computed_at, "
                                "customers = excluded.customers",
                                name, now, ncust, "runs");
        }
        if (rc == CC_OK) rc = db_exec(db, "DELETE FROM temp.care_seg_new", "segment");
        if (rc == CC_OK) rc = db_commit(db);
        if (rc != CC_OK) db_rollback(db);
    }
    for (size_t i = 0; i < n; i++) {
        expr_ctx_free(&ctx[i]);
        cc_buf_free(&sql[i]);
    }
    free(ctx);
    free(sql);
    free(names);
    return rc;
}

int segment_stale(sqlite3 *db, const cc_segment *segs, size_t n, int64_t now)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT computed_at FROM care_segment_runs WHERE segment = ?", -1, &st, NULL) != SQLITE_OK)
        return 1;
    int stale = 0;
    for (size_t i = 0; i < n && !stale; i++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, segs[i].name, -1, SQLITE_STATIC);
        stale = sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int64(st, 0) <= now - 86400;
    }
    sqlite3_finalize(st);
    return stale;
}

cc_code segment_counts(sqlite3 *db, const char *segment, segment_label_count **out, size_t *n, int64_t *computed_at)
{
    *out = NULL;
    *n = 0;
    *computed_at = 0;
    sqlite3_stmt *st = NULL;
    /* The last computation's changes are the history rows stamped with
     * its time. */
    static const char q[] =
        "WITH run AS (SELECT computed_at AS t FROM care_segment_runs WHERE segment = ?1), "
        "x(label, c, e, l) AS ("
        " SELECT label, 1, 0, 0 FROM care_segment_values WHERE segment = ?1"
        " UNION ALL SELECT label, 0, 1, 0 FROM care_segment_history WHERE segment = ?1 AND changed_at = (SELECT t FROM run)"
        " UNION ALL SELECT previous_label, 0, 0, 1 FROM care_segment_history WHERE segment = ?1 AND changed_at = (SELECT t FROM run)) "
        "SELECT label, sum(c), sum(e), sum(l), (SELECT t FROM run) FROM x GROUP BY label ORDER BY label IS NULL, label";
    if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK) return CC_ERR_DB;
    sqlite3_bind_text(st, 1, segment, -1, SQLITE_STATIC);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        *out = xrealloc(*out, (*n + 1) * sizeof **out);
        segment_label_count *c = &(*out)[(*n)++];
        const char *l = (const char *)sqlite3_column_text(st, 0);
        c->label = l ? xstrdup(l) : NULL;
        c->customers = sqlite3_column_int64(st, 1);
        c->entered = sqlite3_column_int64(st, 2);
        c->left = sqlite3_column_int64(st, 3);
        *computed_at = sqlite3_column_int64(st, 4);
    }
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? CC_OK : CC_ERR_DB;
}

void segment_counts_free(segment_label_count *c, size_t n)
{
    for (size_t i = 0; i < n; i++) free(c[i].label);
    free(c);
}

cc_code segment_moves(sqlite3 *db, const char *segment, segment_move **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    static const char q[] =
        "SELECT previous_label, label, count(*) FROM care_segment_history WHERE segment = ?1 AND changed_at = "
        "(SELECT computed_at FROM care_segment_runs WHERE segment = ?1) "
        "GROUP BY previous_label, label ORDER BY count(*) DESC, previous_label IS NULL, previous_label, label";
    if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK) return CC_ERR_DB;
    sqlite3_bind_text(st, 1, segment, -1, SQLITE_STATIC);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        *out = xrealloc(*out, (*n + 1) * sizeof **out);
        segment_move *m = &(*out)[(*n)++];
        const char *from = (const char *)sqlite3_column_text(st, 0);
        m->from = from ? xstrdup(from) : NULL;
        const char *to = (const char *)sqlite3_column_text(st, 1);
        m->to = to ? xstrdup(to) : NULL;
        m->customers = sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? CC_OK : CC_ERR_DB;
}

void segment_moves_free(segment_move *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(m[i].from);
        free(m[i].to);
    }
    free(m);
}
