/* liquid_render.c - renders a parsed Liquid tree (liquid.h).
 *
 * Variables live in a stack of scopes: scope 0 holds assign/capture (they
 * are global to a render, as in Ruby Liquid), loops push a scope for their
 * variable and `forloop`.  `include` shares the caller's scopes; `render`
 * starts from empty ones, which is what makes it safe to cache.  Limits are
 * shared by a render and all its partials: one template cannot multiply
 * its budget by splitting work into partials. */
#include "liquid_ast.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    lv val;
} binding;

typedef struct {
    binding *b;
    size_t n, cap;
} scope;

typedef struct {
    const liq_render_opts *o;
    liq_limits lim;
    lv_arena *a;
    lv_arena arena;            /* what `a` points to */
    size_t iterations, output;
    liq_error *err;
    int failed;
} shared;

struct liq_ctx {
    shared *sh;
    scope *scopes;
    size_t nscopes, capscopes;
    scope scopes0[4];          /* the first scopes, without a malloc */
    scope counters, cycles, offsets, *owned_regs;
    lv forloop;                /* the innermost forloop object, for parentloop */
    lv ifchanged;
    int interrupt;             /* 'b' break, 'c' continue */
    int depth;
    int in_render;             /* inside {% render %}: include is refused */
    const liq_template *t;
    int line, col;             /* of the node or filter being rendered, for errors */
};

static void scope_set(scope *s, const char *name, lv v)
{
    for (size_t i = s->n; i-- > 0;)
        if (!strcmp(s->b[i].name, name)) {
            s->b[i].val = v;
            return;
        }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->b = xrealloc(s->b, s->cap * sizeof *s->b);
    }
    s->b[s->n].name = name;
    s->b[s->n++].val = v;
}

static int scope_get(const scope *s, const char *name, lv *v)
{
    for (size_t i = s->n; i-- > 0;)
        if (!strcmp(s->b[i].name, name)) {
            *v = s->b[i].val;
            return 1;
        }
    return 0;
}

static void push_scope(liq_ctx *c)
{
    if (!c->capscopes) {
        c->scopes = c->scopes0;
        c->capscopes = sizeof c->scopes0 / sizeof c->scopes0[0];
    } else if (c->nscopes == c->capscopes) {
        size_t cap = c->capscopes * 2;
        scope *s = xmalloc(cap * sizeof *s);
        memcpy(s, c->scopes, c->nscopes * sizeof *s);
        if (c->scopes != c->scopes0) free(c->scopes);
        c->scopes = s;
        c->capscopes = cap;
    }
    memset(&c->scopes[c->nscopes++], 0, sizeof(scope));
}

static void pop_scope(liq_ctx *c)
{
    free(c->scopes[--c->nscopes].b);
}

static void free_scopes(liq_ctx *c)
{
    while (c->nscopes) pop_scope(c);
    if (c->scopes != c->scopes0) free(c->scopes);
    c->scopes = NULL;
    c->capscopes = 0;
}

void liq_fail(liq_ctx *c, const char *fmt, ...)
{
    if (c->sh->failed) return;
    c->sh->failed = 1;
    cc_buf b = CC_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    cc_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    c->sh->err->msg = cc_buf_take(&b);
    c->sh->err->file = xstrdup(c->t->file);
    c->sh->err->line = c->line;
    c->sh->err->col = c->col > 0 ? c->col : 1;
}

lv_arena *liq_arena(liq_ctx *c) { return c->sh->a; }
int64_t liq_now(liq_ctx *c) { return c->sh->o->now; }
const char *liq_zone(liq_ctx *c) { return c->sh->o->zone; }

static int failed(liq_ctx *c)
{
    if (!c->sh->failed && c->sh->arena.exhausted)
        liq_fail(c, "Memory limits exceeded: the template built more than %zu bytes of values", c->sh->lim.max_memory);
    return c->sh->failed;
}

/* ---- expressions -------------------------------------------------------- */

static lv eval(liq_ctx *c, const liq_expr *e);

static lv find_var(liq_ctx *c, const char *name)
{
    lv v;
    for (size_t i = c->nscopes; i-- > 0;)
        if (scope_get(&c->scopes[i], name, &v)) return v;
    if (scope_get(&c->counters, name, &v)) return v;
    /* the environment is global data: visible in render partials too */
    if (c->sh->o->env.k == LV_HASH)
        return lv_lookup_name(c->sh->a, c->sh->o->env, name);
    return lv_nil();
}

static int64_t to_int(liq_ctx *c, lv v, const char *what)
{
    if (v.k == LV_INT) return v.u.i;
    if (v.k == LV_FLOAT) return lv_f2i(v.u.f);
    if (v.k == LV_STR) {
        lv n = lv_to_number(v);
        return n.k == LV_INT ? n.u.i : lv_f2i(n.u.f);
    }
    if (v.k == LV_NIL) return 0;
    liq_fail(c, "invalid integer for %s", what);
    return 0;
}

static lv eval(liq_ctx *c, const liq_expr *e)
{
    if (!e) return lv_nil();
    switch (e->k) {
    case E_LIT: return e->lit;
    case E_RANGE: {
        lv r = {LV_RANGE, {0}};
        r.u.range.lo = to_int(c, eval(c, e->lo), "a range");
        r.u.range.hi = to_int(c, eval(c, e->hi), "a range");
        return r;
    }
    case E_VAR: {
        lv v;
        if (e->root) {
            v = find_var(c, e->root);
        } else {
            lv k = eval(c, e->root_idx);
            v = k.k == LV_STR ? find_var(c, k.u.str.s) : lv_nil();
        }
        for (size_t i = 0; i < e->npath && v.k != LV_NIL; i++) {
            if (e->path[i].name) {
                v = lv_lookup_name(c->sh->a, v, e->path[i].name);
                continue;
            }
            lv key = eval(c, e->path[i].idx);
            if (key.k == LV_FLOAT) key = lv_int(lv_f2i(key.u.f));
            v = lv_lookup(c->sh->a, v, key);
        }
        return v;
    }
    }
    return lv_nil();
}

static lv eval_chain(liq_ctx *c, const liq_chain *ch)
{
    lv v = eval(c, ch->e);
    for (size_t i = 0; i < ch->nf && !failed(c); i++) {
        const liq_filter *f = &ch->f[i];
        if (!f->fn) continue;
        lv args[8], kwv[8];
        const char *kw[8];
        size_t na = f->nargs < 8 ? f->nargs : 8, nk = f->nkw < 8 ? f->nkw : 8;
        for (size_t k = 0; k < na; k++) args[k] = eval(c, f->args[k]);
        for (size_t k = 0; k < nk; k++) {
            kw[k] = f->kw[k];
            kwv[k] = eval(c, f->kwv[k]);
        }
        int saved = c->line, saved_col = c->col;
        c->line = f->line;
        c->col = f->col;   /* a filter's error points at the filter */
        v = f->fn(c, v, args, na, kw, kwv, nk);
        c->line = saved;
        c->col = saved_col;
    }
    return v;
}

static const char *type_name(lv v)
{
    switch (v.k) {
    case LV_INT: return "Integer";
    case LV_FLOAT: return "Float";
    case LV_STR: return "String";
    case LV_ARRAY: return "Array";
    case LV_HASH: return "Hash";
    case LV_NIL: return "nil";
    case LV_BOOL: return v.u.b ? "true" : "false";
    default: return "Object";
    }
}

static int compare_op(liq_ctx *c, lv l, const char *op, lv r)
{
    if (!strcmp(op, "==")) return lv_equal(l, r);
    if (!strcmp(op, "!=")) return !lv_equal(l, r);
    if (!strcmp(op, "contains")) {
        if (l.k == LV_STR) {
            if (r.k == LV_NIL) return 0;
            lv s = lv_to_str(c->sh->a, r);
            return strstr(l.u.str.s, s.u.str.s) != NULL;
        }
        if (l.k == LV_ARRAY || l.k == LV_RANGE) {
            const lv *items;
            size_t n = lv_items(c->sh->a, l, &items);
            if (r.k == LV_NIL) return 0;   /* Ruby's contains never finds nil */
            for (size_t i = 0; i < n; i++)
                if (lv_equal(items[i], r)) return 1;
            return 0;
        }
        if (l.k == LV_HASH && r.k == LV_STR) {
            for (size_t i = 0; i < l.u.hash->n; i++)
                if (!strcmp(l.u.hash->keys[i], r.u.str.s)) return 1;
        }
        return 0;
    }
    int cmp;
    if (lv_compare(l, r, &cmp) != 0) {
        int lc = l.k == LV_INT || l.k == LV_FLOAT || l.k == LV_STR;
        int rc = r.k == LV_INT || r.k == LV_FLOAT || r.k == LV_STR;
        if (lc && rc) liq_fail(c, "comparison of %s with %s failed", type_name(l), type_name(r));
        return 0;
    }
    if (!strcmp(op, "<")) return cmp < 0;
    if (!strcmp(op, ">")) return cmp > 0;
    if (!strcmp(op, "<=")) return cmp <= 0;
    if (!strcmp(op, ">=")) return cmp >= 0;
    return 0;
}

static int eval_cond(liq_ctx *c, const liq_cond *k)
{
    lv l = eval(c, k->l);
    int r;
    if (!k->op) {
        r = l.k == LV_EMPTY || l.k == LV_BLANK ? 1 : lv_truthy(l);
    } else {
        r = compare_op(c, l, k->op, eval(c, k->r));
    }
    if (k->join == 'a') return r && eval_cond(c, k->next);
    if (k->join == 'o') return r || eval_cond(c, k->next);
    return r;
}

/* ---- output ------------------------------------------------------------- */

static void emit(liq_ctx *c, cc_buf *out, const char *s, size_t n)
{
    c->sh->output += n;
    if (c->sh->output > c->sh->lim.max_output) {
        liq_fail(c, "Memory limits exceeded: the output is longer than %zu bytes", c->sh->lim.max_output);
        return;
    }
    cc_buf_append(out, s, n);
}

/* The text of `v` (HTML-escaped unless `escaped`) appended to `out` in
 * place; what passes the output limit is taken back, as emit() would
 * never have appended it. */
static void emit_value(liq_ctx *c, cc_buf *out, lv v, int escaped)
{
    if (v.k == LV_NIL || v.k == LV_EMPTY || v.k == LV_BLANK) return;
    size_t start = out->len;
    if (!c->sh->o->html_escape || escaped) {
        if (v.k == LV_STR) cc_buf_append(out, v.u.str.s, v.u.str.n);
        else lv_to_buf(v, out);
    } else {
        const char *s = v.u.str.s;
        size_t n = v.u.str.n;
        cc_buf tmp = CC_BUF_INIT;
        if (v.k != LV_STR) {
            lv_to_buf(v, &tmp);
            s = cc_buf_str(&tmp);
            n = tmp.len;
        }
        size_t from = 0;
        for (size_t i = 0; i < n; i++) {
            const char *rep;
            switch (s[i]) {
            case '&': rep = "&amp;"; break;
            case '<': rep = "&lt;"; break;
            case '>': rep = "&gt;"; break;
            case '"': rep = "&quot;"; break;
            case '\'': rep = "&#39;"; break;
            default: continue;
            }
            cc_buf_append(out, s + from, i - from);
            cc_buf_puts(out, rep);
            from = i + 1;
        }
        cc_buf_append(out, s + from, n - from);
        cc_buf_free(&tmp);
    }
    size_t n = out->len - start;
    c->sh->output += n;
    if (c->sh->output > c->sh->lim.max_output) {
        out->len = start;
        if (out->data) out->data[start] = '\0';
        liq_fail(c, "Memory limits exceeded: the output is longer than %zu bytes", c->sh->lim.max_output);
    }
}

/* ---- blocks ------------------------------------------------------------- */

static void render_block(liq_ctx *c, const liq_block *b, cc_buf *out);

static int count_iteration(liq_ctx *c)
{
    if (++c->sh->iterations > c->sh->lim.max_iterations) {
        liq_fail(c, "Memory limits exceeded: more than %zu loop iterations", c->sh->lim.max_iterations);
        return 0;
    }
    return 1;
}

static lv make_loop(liq_ctx *c, const char *name, size_t i, size_t n, lv parent, int tablerow, int64_t cols)
{
    lv_arena *a = c->sh->a;
    const char *keys[13];
    lv vals[13];
    size_t k = 0;
#define F(kname, val) (keys[k] = (kname), vals[k++] = (val))
    if (!tablerow) F("name", lv_cstr(a, name));
    F("length", lv_int((int64_t)n));
    F("index", lv_int((int64_t)i + 1));
    F("index0", lv_int((int64_t)i));
    F("rindex", lv_int((int64_t)(n - i)));
    F("rindex0", lv_int((int64_t)(n - i - 1)));
    F("first", lv_bool(i == 0));
    F("last", lv_bool(i + 1 == n));
    if (!tablerow) {
        F("parentloop", parent);
    } else {
        int64_t col0 = (int64_t)i % cols;
        F("col", lv_int(col0 + 1));
        F("col0", lv_int(col0));
        F("col_first", lv_bool(col0 == 0));
        F("col_last", lv_bool(col0 + 1 == cols));
        F("row", lv_int((int64_t)i / cols + 1));
    }
#undef F
    return lv_hash_new(a, keys, vals, k);
}

/* The slice of a loop's collection after offset/limit/reversed. */
static size_t loop_items(liq_ctx *c, const liq_node *n, const lv **items, int64_t *from_out)
{
    lv coll = eval(c, n->subject);
    const lv *all = NULL;
    size_t len;
    if (coll.k == LV_STR) {
        len = coll.u.str.n ? 1 : 0;
        lv *one = lv_alloc(c->sh->a, sizeof *one);
        if (!one) return 0;
        *one = coll;
        all = one;
    } else if (coll.k == LV_ARRAY || coll.k == LV_RANGE || coll.k == LV_HASH) {
        if (coll.k == LV_RANGE && coll.u.range.hi - coll.u.range.lo >= (int64_t)c->sh->lim.max_iterations) {
            liq_fail(c, "Memory limits exceeded: a range of more than %zu items", c->sh->lim.max_iterations);
            return 0;
        }
        len = lv_items(c->sh->a, coll, &all);
    } else {
        len = 0;
    }
    int64_t from = 0;
    if (n->offset_continue) {
        lv v;
        from = scope_get(&c->offsets, n->key, &v) ? v.u.i : 0;
    } else if (n->offset) {
        lv ov = eval(c, n->offset);
        if (ov.k != LV_NIL) from = to_int(c, ov, "offset");
    }
    if (from < 0) from = 0;
    int64_t to = (int64_t)len;
    if (n->limit) {
        lv lim = eval(c, n->limit);
        if (lim.k != LV_NIL) {
            int64_t l = to_int(c, lim, "limit");
            if (l < 0) l = 0;
            if (from + l < to) to = from + l;
        }
    }
    *from_out = from;
    if (from >= to) return 0;
    size_t m = (size_t)(to - from);
    if (n->reversed) {
        lv *r = lv_alloc(c->sh->a, m * sizeof *r);
        if (!r) return 0;
        for (size_t i = 0; i < m; i++) r[i] = all[(size_t)to - 1 - i];
        *items = r;
    } else {
        *items = all + from;
    }
    return m;
}

static void render_for(liq_ctx *c, const liq_node *n, cc_buf *out)
{
    const lv *items = NULL;
    int64_t from = 0;
    size_t m = loop_items(c, n, &items, &from);
    if (failed(c)) return;
    if (n->k == N_FOR) {
        scope_set(&c->offsets, n->key, lv_int(from + (int64_t)m));
        if (m == 0) {
            render_block(c, &n->else_body, out);
            return;
        }
        lv parent = c->forloop;
        push_scope(c);
        for (size_t i = 0; i < m && !failed(c); i++) {
            if (!count_iteration(c)) break;
            lv loop = make_loop(c, n->key, i, m, parent, 0, 0);
            c->forloop = loop;
            scope_set(&c->scopes[c->nscopes - 1], n->name, items[i]);
            scope_set(&c->scopes[c->nscopes - 1], "forloop", loop);
            render_block(c, &n->body, out);
            if (c->interrupt == 'b') {
                c->interrupt = 0;
                break;
            }
            c->interrupt = 0;
        }
        pop_scope(c);
        c->forloop = parent;
        return;
    }
    /* tablerow */
    int64_t cols = (int64_t)m;
    if (n->cols) {
        lv cv = eval(c, n->cols);
        if (cv.k != LV_NIL) cols = to_int(c, cv, "cols");
    }
    if (cols <= 0) cols = m ? (int64_t)m : 1;
    emit(c, out, "<tr class=\"row1\">\n", 18);
    push_scope(c);
    for (size_t i = 0; i < m && !failed(c); i++) {
        if (!count_iteration(c)) break;
        lv loop = make_loop(c, NULL, i, m, lv_nil(), 1, cols);
        scope_set(&c->scopes[c->nscopes - 1], n->name, items[i]);
        scope_set(&c->scopes[c->nscopes - 1], "tablerowloop", loop);
        char td[48];
        int l = snprintf(td, sizeof td, "<td class=\"col%lld\">", (long long)((int64_t)i % cols + 1));
        emit(c, out, td, (size_t)l);
        render_block(c, &n->body, out);
        emit(c, out, "</td>", 5);
        int stop = c->interrupt == 'b';
        c->interrupt = 0;
        if (stop) break;
        if (((int64_t)i % cols + 1 == cols) && i + 1 < m) {
            l = snprintf(td, sizeof td, "</tr>\n<tr class=\"row%lld\">", (long long)((int64_t)i / cols + 2));
            emit(c, out, td, (size_t)l);
        }
    }
    pop_scope(c);
    emit(c, out, "</tr>\n", 6);
}

static const char *partial_var_name(liq_ctx *c, const char *name)
{
    const char *slash = strrchr(name, '/');
    return lv_cstr(c->sh->a, slash ? slash + 1 : name).u.str.s;
}

static void render_partial(liq_ctx *c, const liq_node *n, cc_buf *out)
{
    int include = n->k == N_INCLUDE;
    if (include && c->in_render) {
        liq_fail(c, "include usage is not allowed in this context");
        return;
    }
    lv name = eval(c, n->subject);
    if (name.k != LV_STR) {
        liq_fail(c, "Argument error: Illegal template name");
        return;
    }
    if (c->depth + 1 > c->sh->lim.max_depth) {
        liq_fail(c, "Stack level too deep: nesting too deep (more than %d nested partials)", c->sh->lim.max_depth);
        return;
    }
    const liq_template *pt = NULL;
    if (c->sh->o->load_partial) {
        liq_error e = {0};
        pt = c->sh->o->load_partial(c->sh->o->load_arg, name.u.str.s, &e);
        if (!pt) {
            if (e.msg && !c->sh->failed) {
                c->sh->failed = 1;
                *c->sh->err = e;
                return;
            }
            liq_error_clear(&e);
        }
    }
    if (!pt) {
        liq_fail(c, "Could not find asset partial '%s'", name.u.str.s);
        return;
    }
    const char *var = n->alias ? n->alias : partial_var_name(c, name.u.str.s);
    lv with = n->with ? eval(c, n->with) : lv_nil();
    lv kwv[16];
    size_t nk = n->nkw < 16 ? n->nkw : 16;
    /* include evaluates its parameters in a scope that accumulates them
     * (b: a sees a); render evaluates each against the caller only. */
    if (include) push_scope(c);
    for (size_t k = 0; k < nk; k++) {
        kwv[k] = eval(c, n->kwv[k]);
        if (include) scope_set(&c->scopes[c->nscopes - 1], n->kw[k], kwv[k]);
    }
    if (failed(c)) {
        if (include) pop_scope(c);
        return;
    }

    const lv *items = &with;
    size_t m = 1;
    int is_loop = n->is_for && (with.k == LV_ARRAY || with.k == LV_RANGE);
    if (is_loop) m = lv_items(c->sh->a, with, &items);

    if (include) {
        const liq_template *saved_t = c->t;
        int saved_line = c->line, saved_col = c->col;
        c->depth++;
        for (size_t i = 0; i < m && !failed(c); i++) {
            if (n->with) scope_set(&c->scopes[c->nscopes - 1], var, items[i]);
            c->t = pt;
            render_block(c, &pt->body, out);
            c->t = saved_t;
            c->line = saved_line;
            c->col = saved_col;
        }
        pop_scope(c);
        c->depth--;
        return;
    }
    for (size_t i = 0; i < m && !failed(c); i++) {
        liq_ctx sub;
        memset(&sub, 0, sizeof sub);
        sub.sh = c->sh;
        sub.t = pt;
        sub.depth = c->depth + 1;
        sub.in_render = 1;
        push_scope(&sub);
        if (n->with || is_loop) scope_set(&sub.scopes[0], var, items[i]);
        if (is_loop) {
            lv loop = make_loop(c, var, i, m, lv_nil(), 0, 0);
            scope_set(&sub.scopes[0], "forloop", loop);
        }
        for (size_t k = 0; k < nk; k++) scope_set(&sub.scopes[0], n->kw[k], kwv[k]);
        render_block(&sub, &pt->body, out);
        free_scopes(&sub);
        free(sub.counters.b);
        free(sub.cycles.b);
        free(sub.offsets.b);
    }
}

static void render_node(liq_ctx *c, const liq_node *n, cc_buf *out)
{
    c->line = n->line;
    c->col = n->col;
    switch (n->k) {
    case N_TEXT: emit(c, out, n->text, n->len); break;
    case N_OUT: {
        lv v = eval_chain(c, &n->chain);
        /* A chain ending in escape is already HTML: auto-escaping it again
         * would show "&amp;lt;" to the reader. */
        int escaped = 0;
        if (c->sh->o->html_escape) {
            const char *last = n->chain.nf ? n->chain.f[n->chain.nf - 1].name : "";
            escaped = !strcmp(last, "escape") || !strcmp(last, "escape_once") || !strcmp(last, "h");
        }
        if (!failed(c)) emit_value(c, out, v, escaped);
        break;
    }
    case N_IF:
        for (size_t i = 0; i < n->nbr; i++) {
            const liq_branch *b = &n->br[i];
            int take = !b->cond || (eval_cond(c, b->cond) != b->negate);
            if (failed(c)) return;
            if (take) {
                render_block(c, &b->body, out);
                break;
            }
        }
        break;
    case N_CASE: {
        lv subj = eval(c, n->subject);
        int matched = 0;
        for (size_t i = 0; i < n->nwhens && !failed(c) && !c->interrupt; i++) {
            const liq_when *w = &n->whens[i];
            if (!w->nvals) {
                if (!matched) render_block(c, &w->body, out);
                continue;
            }
            for (size_t k = 0; k < w->nvals; k++)
                if (lv_equal(eval(c, w->vals[k]), subj)) {
                    matched = 1;
                    render_block(c, &w->body, out);
                    break;
                }
        }
        break;
    }
    case N_FOR: case N_TABLEROW: render_for(c, n, out); break;
    case N_BREAK: c->interrupt = 'b'; break;
    case N_CONTINUE: c->interrupt = 'c'; break;
    case N_ASSIGN: {
        lv v = eval_chain(c, &n->chain);
        if (!failed(c)) scope_set(&c->scopes[0], n->name, v);
        break;
    }
    case N_CAPTURE: {
        cc_buf b = CC_BUF_INIT;
        render_block(c, &n->body, &b);
        scope_set(&c->scopes[0], n->name, lv_str(c->sh->a, cc_buf_str(&b), b.len));
        cc_buf_free(&b);
        break;
    }
    case N_INCREMENT: case N_DECREMENT: {
        lv v;
        int64_t cur = scope_get(&c->counters, n->name, &v) ? v.u.i : 0;
        if (n->k == N_INCREMENT) {
            emit_value(c, out, lv_int(cur), 0);
            scope_set(&c->counters, n->name, lv_int(cur + 1));
        } else {
            scope_set(&c->counters, n->name, lv_int(cur - 1));
            emit_value(c, out, lv_int(cur - 1), 0);
        }
        break;
    }
    case N_CYCLE: {
        const char *key = n->key;
        if (n->group) {
            cc_buf kb = CC_BUF_INIT;
            cc_buf_putc(&kb, '\x02');
            lv_to_buf(eval(c, n->group), &kb);
            key = lv_str(c->sh->a, cc_buf_str(&kb), kb.len).u.str.s;
            cc_buf_free(&kb);
        }
        lv v;
        int64_t i = scope_get(&c->cycles, key, &v) ? v.u.i : 0;
        emit_value(c, out, eval(c, n->vals[(size_t)i % n->nvals]), 0);
        scope_set(&c->cycles, key, lv_int((i + 1) % (int64_t)n->nvals));
        break;
    }
    case N_RENDER: case N_INCLUDE: render_partial(c, n, out); break;
    case N_IFCHANGED: {
        cc_buf b = CC_BUF_INIT;
        render_block(c, &n->body, &b);
        lv s = lv_str(c->sh->a, cc_buf_str(&b), b.len);
        if (c->ifchanged.k != LV_STR || !lv_equal(s, c->ifchanged)) {
            emit(c, out, cc_buf_str(&b), b.len);
            c->ifchanged = s;
        }
        cc_buf_free(&b);
        break;
    }
    }
}

static void render_block(liq_ctx *c, const liq_block *b, cc_buf *out)
{
    for (size_t i = 0; i < b->n && !c->interrupt; i++) {
        render_node(c, &b->nodes[i], out);
        if (failed(c)) return;
    }
}

int liq_render(const liq_template *t, const liq_render_opts *o, cc_buf *out, liq_error *err)
{
    shared sh;
    memset(&sh, 0, sizeof sh);
    sh.o = o;
    sh.lim = o->limits;
    if (!sh.lim.max_iterations) sh.lim.max_iterations = LIQ_DEFAULT_ITERATIONS;
    if (!sh.lim.max_depth) sh.lim.max_depth = LIQ_DEFAULT_DEPTH;
    if (!sh.lim.max_output) sh.lim.max_output = LIQ_DEFAULT_OUTPUT;
    if (!sh.lim.max_memory) sh.lim.max_memory = LIQ_DEFAULT_MEMORY;
    lv_arena_init(&sh.arena, sh.lim.max_memory);
    sh.a = &sh.arena;
    sh.err = err;
    liq_ctx c;
    memset(&c, 0, sizeof c);
    c.sh = &sh;
    c.t = t;
    push_scope(&c);
    render_block(&c, &t->body, out);
    failed(&c);
    free_scopes(&c);
    free(c.counters.b);
    free(c.cycles.b);
    free(c.offsets.b);
    /* Scope names point into templates, values into the arena: gone now. */
    lv_arena_release(&sh.arena);
    return sh.failed ? -1 : 0;
}
