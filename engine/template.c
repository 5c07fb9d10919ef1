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

/* Strings in the variables' arenas (unlimited: never NULL). */
static char *arena_strndup(lv_arena *a, const char *s, size_t n)
{
    char *r = lv_alloc(a, n + 1);
    memcpy(r, s, n);
    r[n] = '\0';
    return r;
}

static uint32_t name_hash(const char *s, size_t len)
{
    if (!len) return 0;
    return (uint32_t)len * 2654435761u ^ ((uint32_t)(unsigned char)s[0] << 8) ^
           ((uint32_t)(unsigned char)s[len / 2] << 16) ^ ((uint32_t)(unsigned char)s[len - 1] << 24);
}

static size_t find_var(const tpl_vars *v, const char *name, uint32_t h)
{
    for (size_t i = 0; i < v->n; i++)
        if (v->hashes[i] == h && !strcmp(v->names[i], name)) return i;
    return (size_t)-1;
}

/* A built environment and where its leaves are, so that the next message
 * with the same names refreshes the leaves instead of building it again. */
typedef struct {
    lv *at;
    size_t var;
} env_leaf;

struct tpl_env {
    const void *needs;        /* the tpl_needs it was built for (NULL = all) */
    unsigned values_gen;      /* the values its leaves hold */
    lv value;
    env_leaf *leaves;
    size_t nleaves;
};

enum { MAX_ENVS = 4 };

static void drop_envs(tpl_vars *v)
{
    v->nenvs = 0;
    lv_arena_reset(&v->envp);
}

/* The per-variable arrays live in one block. */
static void grow(tpl_vars *v)
{
    size_t cap = v->cap ? v->cap * 2 : 16;
    size_t off_values = cap * sizeof(char *), off_lens = 2 * off_values, off_hashes = off_lens + cap * sizeof(size_t),
           off_ncomp = off_hashes + cap * sizeof(uint32_t), off_types = off_ncomp + cap * sizeof(uint32_t);
    char *block = xmalloc(off_types + cap * sizeof(tpl_type));
    char **names = (char **)block, **values = (char **)(block + off_values);
    size_t *lens = (size_t *)(block + off_lens);
    uint32_t *hashes = (uint32_t *)(block + off_hashes), *ncomp = (uint32_t *)(block + off_ncomp);
    tpl_type *types = (tpl_type *)(block + off_types);
    if (v->kept) {
        memcpy(names, v->names, v->kept * sizeof *names);
        memcpy(values, v->values, v->kept * sizeof *values);
        memcpy(lens, v->lens, v->kept * sizeof *lens);
        memcpy(hashes, v->hashes, v->kept * sizeof *hashes);
        memcpy(ncomp, v->ncomp, v->kept * sizeof *ncomp);
        memcpy(types, v->types, v->kept * sizeof *types);
    }
    free(v->names);
    v->names = names;
    v->values = values;
    v->lens = lens;
    v->hashes = hashes;
    v->ncomp = ncomp;
    v->types = types;
    v->cap = cap;
}

static void mark_seen(tpl_vars *v, uint32_t h)
{
    unsigned bit = (h ^ (h >> 8) ^ (h >> 16) ^ (h >> 24)) & 255u;
    v->seen[bit >> 6] |= (uint64_t)1 << (bit & 63);
}

static int maybe_seen(const tpl_vars *v, uint32_t h)
{
    unsigned bit = (h ^ (h >> 8) ^ (h >> 16) ^ (h >> 24)) & 255u;
    return (v->seen[bit >> 6] >> (bit & 63)) & 1;
}

static void set_value(tpl_vars *v, size_t i, tpl_type type, const char *text, size_t len)
{
    if (type == TPL_NULL) {
        v->values[i] = NULL;
        len = 0;
    } else {
        v->values[i] = arena_strndup(&v->strings, text, len);
    }
    v->lens[i] = len;
    v->types[i] = type;
}

/* A name this message has not set and that is not next in the last
 * message's order: a new slot, and a new shape. */
static size_t new_slot(tpl_vars *v, const char *name, size_t nlen, uint32_t h)
{
    for (size_t k = v->n; k < v->kept; k++) v->name_waste += strlen(v->names[k]) + 1;
    v->kept = v->n;
    v->shape++;
    if (v->n == v->cap) grow(v);
    size_t i = v->n++;
    v->kept = v->n;
    v->names[i] = arena_strndup(&v->namep, name, nlen);
    v->hashes[i] = h;
    uint32_t comps = 1;
    for (const char *d = memchr(name, '.', nlen); d; d = memchr(d + 1, '.', nlen - (size_t)(d + 1 - name))) comps++;
    v->ncomp[i] = comps;
    return i;
}

void tpl_vars_set_typed(tpl_vars *v, const char *name, tpl_type type, const char *text)
{
    if (type != TPL_NULL && !text) type = TPL_NULL;
    v->values_gen++;
    size_t len = type == TPL_NULL ? 0 : strlen(text);
    size_t i;
    if (v->n < v->kept && !strcmp(v->names[v->n], name)) {
        /* The next name in the last message's order: names are unique
         * within the kept slots, so this one is not set yet. */
        i = v->n++;
        mark_seen(v, v->hashes[i]);
    } else {
        size_t nlen = strlen(name);
        uint32_t h = name_hash(name, nlen);
        i = maybe_seen(v, h) ? find_var(v, name, h) : (size_t)-1;
        if (i != (size_t)-1) {
            if (type != TPL_NULL && v->values[i] && v->lens[i] >= len) {
                memmove(v->values[i], text, len + 1);   /* fits where the old value was */
                v->lens[i] = len;
                v->types[i] = type;
            } else {
                set_value(v, i, type, text, len);
            }
            return;   /* counted already */
        }
        mark_seen(v, h);
        i = new_slot(v, name, nlen, h);
    }
    v->components += v->ncomp[i];
    if (v->ncomp[i] >= 3) v->deep = 1;
    set_value(v, i, type, text, len);
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
    size_t i = find_var(v, name, name_hash(name, strlen(name)));
    if (found) *found = i != (size_t)-1;
    return i != (size_t)-1 ? v->values[i] : NULL;
}

void tpl_vars_free(tpl_vars *v)
{
    free(v->names);
    free(v->envs);
    lv_arena_release(&v->namep);
    lv_arena_release(&v->strings);
    lv_arena_release(&v->envp);
    memset(v, 0, sizeof *v);
}

/* Names dropped when a message's order differs from the last one's stay
 * in the name arena; past this many bytes it starts afresh. */
enum { NAME_WASTE_LIMIT = 16384 };

void tpl_vars_clear(tpl_vars *v)
{
    v->n = 0;
    v->components = 0;
    v->deep = 0;
    memset(v->seen, 0, sizeof v->seen);
    v->now = 0;
    v->zone = NULL;
    v->values_gen++;
    lv_arena_reset(&v->strings);
    if (v->name_waste > NAME_WASTE_LIMIT) {
        lv_arena_reset(&v->namep);
        v->kept = 0;
        v->name_waste = 0;
        v->shape++;
        drop_envs(v);
    }
}

/* The dotted names as nested Liquid hashes: at each level the keys in the
 * order they first appear; a name that is both a value and a prefix of
 * others ("a" and "a.b") is the hash.  A tree of name components first
 * (nodes linked first-child/next-sibling), then the hashes; everything in
 * the variables' environment arena, strings pointing at the values. */
typedef struct {
    const char *key;
    size_t len;
    int first, last, next;    /* children (first, last) and next sibling; -1 = none */
    int nkids;
    long value;               /* the variable whose whole name ends here, or -1 */
} vnode;

static lv leaf_value(const tpl_vars *v, size_t i)
{
    const char *t = v->values[i];
    switch (v->types[i]) {
    case TPL_INT: return lv_int(strtoll(t, NULL, 10));
    case TPL_REAL: return lv_float(strtod(t, NULL));
    case TPL_TEXT: {
        lv s = {LV_STR, {0}};
        s.u.str.s = t;
        s.u.str.n = v->lens[i];
        return s;
    }
    default: return lv_nil();
    }
}

/* Builds the value of node n; the leaves it places are noted in `e`
 * (e->leaves has room for every variable). */
static lv to_value(tpl_vars *v, tpl_env *e, const vnode *nodes, int n)
{
    const vnode *nd = &nodes[n];
    size_t nk = (size_t)nd->nkids;
    /* The hash, its values and its keys in one allocation. */
    size_t hs = (sizeof(lv_hash) + sizeof(lv) - 1) / sizeof(lv) * sizeof(lv);
    char *block = lv_alloc(&v->envp, hs + nk * (sizeof(lv) + sizeof(const char *)));
    lv_hash *h = (lv_hash *)block;
    lv *vals = nk ? (lv *)(block + hs) : NULL;
    const char **keys = nk ? (const char **)(block + hs + nk * sizeof(lv)) : NULL;
    size_t k = 0;
    for (int c = nd->first; c >= 0; c = nodes[c].next, k++) {
        const vnode *cn = &nodes[c];
        /* The last component of a name is its tail: already a C string. */
        keys[k] = cn->key[cn->len] == '\0' ? cn->key : arena_strndup(&v->envp, cn->key, cn->len);
        if (cn->value >= 0 && cn->nkids == 0) {
            vals[k] = leaf_value(v, (size_t)cn->value);
            e->leaves[e->nleaves++] = (env_leaf){&vals[k], (size_t)cn->value};
        } else {
            vals[k] = to_value(v, e, nodes, c);
        }
    }
    h->n = nk;
    h->keys = keys;
    h->vals = vals;
    lv r = {LV_HASH, {0}};
    r.u.hash = h;
    return r;
}

/* ---- what templates read ------------------------------------------------ */

struct tpl_needs {
    int all;
    char **exact;        /* variable names: "root.field", and "root" (a root that is itself a value) */
    size_t nexact, capexact;
    char **whole;        /* roots read whole */
    size_t nwhole, capwhole;
};

tpl_needs *tpl_needs_new(void) { return xcalloc(1, sizeof(tpl_needs)); }

void tpl_needs_free(tpl_needs *n)
{
    if (!n) return;
    for (size_t i = 0; i < n->nexact; i++) free(n->exact[i]);
    for (size_t i = 0; i < n->nwhole; i++) free(n->whole[i]);
    free(n->exact);
    free(n->whole);
    free(n);
}

static void names_add(char ***list, size_t *n, size_t *cap, char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*list)[i], name)) {
            free(name);
            return;
        }
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        *list = xrealloc(*list, *cap * sizeof **list);
    }
    (*list)[(*n)++] = name;
}

static void need_read(void *arg, const char *root, const char *field)
{
    tpl_needs *n = arg;
    if (!root) {
        n->all = 1;
    } else if (!field || strchr(root, '.') || strchr(field, '.')) {
        /* (a dotted key would not match a variable name one to one) */
        names_add(&n->whole, &n->nwhole, &n->capwhole, xstrdup(root));
    } else {
        names_add(&n->exact, &n->nexact, &n->capexact, xasprintf("%s.%s", root, field));
        names_add(&n->exact, &n->nexact, &n->capexact, xstrdup(root));
    }
}

void tpl_needs_add(tpl_needs *n, const tpl *t)
{
    if (t) liq_each_read(t->lt, need_read, n);
}

/* Is variable i read, as far as `nd` knows? */
static int var_needed(const tpl_vars *v, size_t i, const tpl_needs *nd)
{
    const char *name = v->names[i];
    const char *dot = strchr(name, '.');
    size_t rl = dot ? (size_t)(dot - name) : strlen(name);
    for (size_t k = 0; k < nd->nwhole; k++)
        if (!strncmp(nd->whole[k], name, rl) && nd->whole[k][rl] == '\0') return 1;
    /* "root.field" itself or below it; a plain "root" */
    const char *dot2 = dot ? strchr(dot + 1, '.') : NULL;
    size_t fl = dot2 ? (size_t)(dot2 - name) : strlen(name);
    for (size_t k = 0; k < nd->nexact; k++)
        if (!strncmp(nd->exact[k], name, fl) && nd->exact[k][fl] == '\0') return 1;
    return 0;
}

/* The variables to build for `nd`, in their order; NULL = all. */
static size_t *select_vars(tpl_vars *v, const tpl_needs *nd, size_t *count)
{
    if (!nd || nd->all) return NULL;
    size_t *sel = lv_alloc(&v->envp, (v->n ? v->n : 1) * sizeof *sel);
    size_t m = 0;
    if (v->deep || nd->nwhole) {
        for (size_t i = 0; i < v->n; i++)
            if (var_needed(v, i, nd)) sel[m++] = i;
    } else {
        /* Every name is "root" or "root.field": look the few read ones up. */
        for (size_t k = 0; k < nd->nexact; k++) {
            const char *e = nd->exact[k];
            size_t i = find_var(v, e, name_hash(e, strlen(e)));
            if (i != (size_t)-1) sel[m++] = i;
        }
        for (size_t a = 1; a < m; a++)   /* a handful: insertion sort */
            for (size_t b = a; b > 0 && sel[b - 1] > sel[b]; b--) {
                size_t t = sel[b];
                sel[b] = sel[b - 1];
                sel[b - 1] = t;
            }
    }
    *count = m;
    return sel;
}

/* The environment for `nd`, built when the names changed since the last
 * build, else the one built before with its leaves refreshed when a value
 * changed. */
static lv build_env(const tpl_vars *cv, const tpl_needs *nd)
{
    if (!cv) {
        static const lv_hash empty = {0, NULL, NULL};
        lv r = {LV_HASH, {0}};
        r.u.hash = &empty;
        return r;
    }
    /* A cache in the variables: logically const. */
    tpl_vars *v = (tpl_vars *)cv;
    if (nd && nd->all) nd = NULL;
    if (v->envs_shape != v->shape || v->envs_n != v->n) {
        drop_envs(v);
        v->envs_shape = v->shape;
        v->envs_n = v->n;
    }
    for (size_t k = 0; k < v->nenvs; k++) {
        tpl_env *e = &v->envs[k];
        if (e->needs != nd) continue;
        if (e->values_gen != v->values_gen) {
            for (size_t l = 0; l < e->nleaves; l++) *e->leaves[l].at = leaf_value(v, e->leaves[l].var);
            e->values_gen = v->values_gen;
        }
        return e->value;
    }
    if (!v->envs) v->envs = xmalloc(MAX_ENVS * sizeof *v->envs);
    if (v->nenvs == MAX_ENVS) drop_envs(v);
    tpl_env *e = &v->envs[v->nenvs++];
    e->needs = nd;
    e->values_gen = v->values_gen;
    e->nleaves = 0;
    size_t nsel = v->n;
    size_t *sel = select_vars(v, nd, &nsel);
    e->leaves = lv_alloc(&v->envp, (nsel ? nsel : 1) * sizeof *e->leaves);
    size_t cap = 1 + v->components;
    vnode *nodes = lv_alloc(&v->envp, cap * sizeof *nodes);
    int nn = 1;
    nodes[0] = (vnode){"", 0, -1, -1, -1, 0, -1};
    for (size_t si = 0; si < nsel; si++) {
        size_t i = sel ? sel[si] : si;
        int cur = 0;
        const char *s = v->names[i];
        for (;;) {
            const char *dot = strchr(s, '.');
            size_t len = dot ? (size_t)(dot - s) : strlen(s);
            int c = nodes[cur].first;
            while (c >= 0 && (nodes[c].len != len || nodes[c].key[0] != s[0] || memcmp(nodes[c].key, s, len) != 0))
                c = nodes[c].next;
            if (c < 0) {
                c = nn++;
                nodes[c] = (vnode){s, len, -1, -1, -1, 0, -1};
                if (nodes[cur].last >= 0) nodes[nodes[cur].last].next = c;
                else nodes[cur].first = c;
                nodes[cur].last = c;
                nodes[cur].nkids++;
            }
            cur = c;
            if (!dot) break;
            s = dot + 1;
        }
        nodes[cur].value = (long)i;
    }
    e->value = to_value(v, e, nodes, 0);
    return e->value;
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
    return tpl_render_needs(t, vars, NULL, html, partials, partials_arg, out, diags);
}

cc_code tpl_render_needs(const tpl *t, const tpl_vars *vars, const tpl_needs *needs, int html,
                         tpl_partial_fn partials, void *partials_arg, cc_buf *out, cc_diags *diags)
{
    bridge b = {partials, partials_arg, diags};
    liq_render_opts o;
    memset(&o, 0, sizeof o);
    o.env = build_env(vars, needs);
    o.html_escape = html;
    o.now = vars ? vars->now : 0;
    o.zone = vars ? vars->zone : NULL;
    o.load_partial = load_partial;
    o.load_arg = &b;
    liq_error err = {0};
    int rc = liq_render(t->lt, &o, out, &err);
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
