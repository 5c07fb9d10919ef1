/* template.c - typed template variables and the bridge from carecast's
 * diagnostics, clock and partial lookup to the Liquid engine (template.h).
 * carecast parses strictly: an unknown tag or filter is a compile error
 * at its FILE:LINE:COL, never silently ignored. */
#include "template.h"

#include <stdlib.h>
#include <string.h>

#include "liquid.h"

struct tpl {
    liq_template *lt;
};

/* ---- variables ---------------------------------------------------------- */

void tpl_vars_set_typed(tpl_vars *v, const char *name, tpl_type type, const char *text)
{
    if (type != TPL_NULL && !text) type = TPL_NULL;
    for (size_t i = 0; i < v->n; i++)
        if (!strcmp(v->names[i], name)) {
            free(v->values[i]);
            v->values[i] = type == TPL_NULL ? NULL : xstrdup(text);
            v->types[i] = type;
            return;
        }
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 32;
        v->names = xrealloc(v->names, v->cap * sizeof *v->names);
        v->values = xrealloc(v->values, v->cap * sizeof *v->values);
        v->types = xrealloc(v->types, v->cap * sizeof *v->types);
    }
    v->names[v->n] = xstrdup(name);
    v->values[v->n] = type == TPL_NULL ? NULL : xstrdup(text);
    v->types[v->n++] = type;
}

void tpl_vars_set(tpl_vars *v, const char *name, const char *value)
{
    tpl_vars_set_typed(v, name, value ? TPL_TEXT : TPL_NULL, value);
}

void tpl_vars_set_clock(tpl_vars *v, int64_t now, const char *zone)
{
    v->now = now;
    v->zone = zone;
}

const char *tpl_vars_get(const tpl_vars *v, const char *name, int *found)
{
    for (size_t i = 0; i < v->n; i++)
        if (!strcmp(v->names[i], name)) {
            if (found) *found = 1;
            return v->values[i];
        }
    if (found) *found = 0;
    return NULL;
}

void tpl_vars_free(tpl_vars *v)
{
    for (size_t i = 0; i < v->n; i++) {
        free(v->names[i]);
        free(v->values[i]);
    }
    free(v->names);
    free(v->values);
    free(v->types);
    memset(v, 0, sizeof *v);
}

/* The dotted names as a tree, then as nested Liquid hashes. */
typedef struct vnode {
    char *key;
    int has_value;
    lv value;
    struct vnode *kids;
    size_t nk, cap;
} vnode;

static vnode *child(vnode *n, const char *key, size_t len)
{
    for (size_t i = 0; i < n->nk; i++)
        if (strlen(n->kids[i].key) == len && !strncmp(n->kids[i].key, key, len)) return &n->kids[i];
    if (n->nk == n->cap) {
        n->cap = n->cap ? n->cap * 2 : 8;
        n->kids = xrealloc(n->kids, n->cap * sizeof *n->kids);
    }
    vnode *k = &n->kids[n->nk++];
    memset(k, 0, sizeof *k);
    k->key = xstrndup(key, len);
    return k;
}

static lv to_value(vnode *n, lv_arena *a)
{
    if (n->has_value && n->nk == 0) return n->value;
    const char **keys = xcalloc(n->nk + 1, sizeof *keys);
    lv *vals = xcalloc(n->nk + 1, sizeof *vals);
    for (size_t i = 0; i < n->nk; i++) {
        keys[i] = n->kids[i].key;
        vals[i] = to_value(&n->kids[i], a);
    }
    lv h = lv_hash_new(a, keys, vals, n->nk);
    free(keys);
    free(vals);
    return h;
}

static void vnode_free(vnode *n)
{
    for (size_t i = 0; i < n->nk; i++) vnode_free(&n->kids[i]);
    free(n->kids);
    free(n->key);
}

static lv build_env(const tpl_vars *v, lv_arena *a)
{
    vnode root;
    memset(&root, 0, sizeof root);
    for (size_t i = 0; v && i < v->n; i++) {
        vnode *n = &root;
        const char *s = v->names[i];
        for (;;) {
            const char *dot = strchr(s, '.');
            size_t len = dot ? (size_t)(dot - s) : strlen(s);
            n = child(n, s, len);
            if (!dot) break;
            s = dot + 1;
        }
        const char *t = v->values[i];
        lv val;
        switch (v->types[i]) {
        case TPL_INT: val = lv_int(strtoll(t, NULL, 10)); break;
        case TPL_REAL: val = lv_float(strtod(t, NULL)); break;
        case TPL_TEXT: val = lv_cstr(a, t); break;
        default: val = lv_nil(); break;
        }
        n->has_value = 1;
        n->value = val;
    }
    lv env = to_value(&root, a);
    vnode_free(&root);
    return env;
}

/* ---- compile and render ------------------------------------------------- */

tpl *tpl_compile(const char *file, int line, const char *src, cc_diags *diags)
{
    liq_error err = {0};
    liq_options opt = {0, 0};
    liq_template *lt = liq_parse(file, line, src, &opt, &err);
    if (!lt) {
        cc_diag(diags, err.file, err.line, err.col, "error: %s", err.msg);
        liq_error_clear(&err);
        return NULL;
    }
    tpl *t = xcalloc(1, sizeof *t);
    t->lt = lt;
    return t;
}

typedef struct {
    tpl_partial_fn fn;
    void *arg;
    cc_diags *diags;
} bridge;

static const liq_template *load_partial(void *arg, const char *name, liq_error *err)
{
    bridge *b = arg;
    int missing = 0;
    const tpl *t = b->fn ? b->fn(b->arg, name, &missing, b->diags) : NULL;
    if (t) return t->lt;
    if (!missing) err->msg = xasprintf("partial '%s' does not compile", name);
    return NULL;
}

cc_code tpl_render(const tpl *t, const tpl_vars *vars, int html, tpl_partial_fn partials, void *partials_arg,
                   cc_buf *out, cc_diags *diags)
{
    /* Variables live in their own arena, built per message. */
    lv_arena *a = lv_arena_new(0);
    bridge b = {partials, partials_arg, diags};
    liq_render_opts o;
    memset(&o, 0, sizeof o);
    o.env = build_env(vars, a);
    o.html_escape = html;
    o.now = vars ? vars->now : 0;
    o.zone = vars ? vars->zone : NULL;
    o.load_partial = load_partial;
    o.load_arg = &b;
    liq_error err = {0};
    int rc = liq_render(t->lt, &o, out, &err);
    lv_arena_free(a);
    if (rc != 0) {
        cc_diag(diags, err.file, err.line, err.col > 0 ? err.col : 1, "error: while rendering: %s", err.msg);
        liq_error_clear(&err);
        return CC_ERR_INPUT;
    }
    return CC_OK;
}

typedef struct {
    const tpl *t;
    void (*fn)(void *, const char *, const char *, int, int);
    void (*partial)(void *, const char *, const char *, int, int);
    void *arg;
} path_bridge;

static void path_cb(void *arg, const char *path, int line, int col)
{
    path_bridge *pb = arg;
    if (pb->fn) pb->fn(pb->arg, liq_file(pb->t->lt), path, line, col);
}

static void partial_cb(void *arg, const char *name, int line, int col)
{
    path_bridge *pb = arg;
    if (pb->partial) pb->partial(pb->arg, liq_file(pb->t->lt), name, line, col);
}

void tpl_each_path(const tpl *t, void (*fn)(void *, const char *, const char *, int, int),
                   void (*partial)(void *, const char *, const char *, int, int), void *arg)
{
    path_bridge pb = {t, fn, partial, arg};
    liq_each_path(t->lt, path_cb, partial_cb, &pb);
}

const char *tpl_file(const tpl *t) { return liq_file(t->lt); }

void tpl_free(tpl *t)
{
    if (!t) return;
    liq_free(t->lt);
    free(t);
}
