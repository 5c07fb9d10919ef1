/* segment.c - loads and checks segment files (segment.h). */
#include "segment.h"

#include <ctype.h>
#include <errno.h>
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
        if (c->kind != YN_SCALAR || end == c->value || strcmp(end, "%") != 0 || v <= 0 || v >= 100) {
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
                if (r->items[k]->kind != YN_SCALAR) err(l, r->items[k], "a label is a short text");
                else sr->label = xstrdup(r->items[k]->value);
            } else if (!strcmp(key, "if")) {
                expr_at(l, r->items[k], "if", &sr->cond);
            } else {
                err(l, r->keys[k], "unknown key '%s' in a rule (allowed: label, if)", key);
            }
        }
        if (!sr->label) err(l, r, "this rule needs a 'label'");
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
    for (size_t i = 0; i < root->n; i++) {
        const char *k = root->keys[i]->value;
        if (key_allowed(k, common) || (specific && key_allowed(k, specific))) continue;
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
        cc_diags quiet = {0};
        /* Campaign files and unreadable ones are the campaign loader's to report. */
        ynode *root = text ? ydoc_parse(files[i], text, len, &quiet) : NULL;
        cc_diags_free(&quiet);
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

cc_code segment_check(sqlite3 *db, const cc_config *cfg, const char *today, const cc_segment *s, cc_diags *diags)
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
    expr_register_functions(db);
    cc_code rc = CC_OK;
    if (!db_table_exists(db, cfg->customers.table)) {
        cc_diag(diags, s->file, 1, 1, "error: the database has no customers table '%s'", cfg->customers.table);
        return CC_ERR_INPUT;
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
