/* template.c - the Liquid subset of template.h: a tokenizer into a flat
 * list of nodes with jump offsets for if/else, rendered by a loop.
 *
 * Node list invariant: an IF node's `jump` is the index of its matching
 * ELSIF/ELSE/ENDIF; ELSIF/ELSE nodes jump to their ENDIF once a branch was
 * taken. */
#include "template.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef enum { N_TEXT, N_OUT, N_IF, N_ELSIF, N_ELSE, N_ENDIF } node_kind;

typedef enum { A_PATH, A_STR, A_NUM, A_NIL } atom_kind;

typedef struct {
    atom_kind kind;
    char *text;            /* path or literal */
    int line, col;
} atom;

typedef struct {
    char *name;
    atom args[3];
    int nargs;
} filter;

typedef struct {
    node_kind kind;
    char *text;            /* N_TEXT */
    atom value;            /* N_OUT; left operand of a condition */
    filter *filters;
    int nfilters;
    int negate;            /* unless */
    char op[3];            /* "" truthiness, "==", "!=", "<", ">", "<=", ">=" */
    atom rhs;
    size_t jump;
    size_t end;            /* IF/ELSIF/ELSE: index of ENDIF */
} node;

struct tpl {
    char *file;
    node *nodes;
    size_t n;
};

static const char *const filter_names[] = {"default", "upcase", "downcase", "capitalize", "strip",
                                           "append", "prepend", "escape", "size", "truncate",
                                           "replace", NULL};

/* ---- variables ---------------------------------------------------------- */

void tpl_vars_set(tpl_vars *v, const char *name, const char *value)
{
    for (size_t i = 0; i < v->n; i++)
        if (!strcmp(v->names[i], name)) {
            free(v->values[i]);
            v->values[i] = xstrdup(value);
            return;
        }
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 32;
        v->names = xrealloc(v->names, v->cap * sizeof *v->names);
        v->values = xrealloc(v->values, v->cap * sizeof *v->values);
    }
    v->names[v->n] = xstrdup(name);
    v->values[v->n++] = xstrdup(value);
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
    memset(v, 0, sizeof *v);
}

/* ---- compiler ----------------------------------------------------------- */

typedef struct {
    const char *file;
    const char *src;
    int line0;
    cc_diags *diags;
    int failed;
    tpl *t;
} compiler;

static void locate(const compiler *cp, const char *at, int *line, int *col)
{
    *line = cp->line0;
    *col = 1;
    for (const char *p = cp->src; p < at; p++) {
        if (*p == '\n') {
            (*line)++;
            *col = 1;
        } else if (((unsigned char)*p & 0xC0) != 0x80) {
            (*col)++;
        }
    }
}

static void cerr(compiler *cp, const char *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void cerr(compiler *cp, const char *at, const char *fmt, ...)
{
    if (cp->failed) return;
    cp->failed = 1;
    int line, col;
    locate(cp, at, &line, &col);
    cc_buf b = CC_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    cc_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    cc_diag(cp->diags, cp->file, line, col, "error: %s", cc_buf_str(&b));
    cc_buf_free(&b);
}

static node *push(compiler *cp, node_kind k)
{
    tpl *t = cp->t;
    t->nodes = xrealloc(t->nodes, (t->n + 1) * sizeof *t->nodes);
    node *n = &t->nodes[t->n++];
    memset(n, 0, sizeof *n);
    n->kind = k;
    return n;
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && isspace((unsigned char)*p)) p++;
    return p;
}

/* Parse an atom: a path (a.b.c), a quoted string, a number, nil/null/blank. */
static const char *parse_atom(compiler *cp, const char *p, const char *end, atom *a)
{
    p = skip_ws(p, end);
    locate(cp, p, &a->line, &a->col);
    if (p < end && (*p == '"' || *p == '\'')) {
        char q = *p++;
        const char *s = p;
        while (p < end && *p != q) p++;
        if (p >= end) {
            cerr(cp, s - 1, "unterminated string");
            return end;
        }
        a->kind = A_STR;
        a->text = xstrndup(s, (size_t)(p - s));
        return p + 1;
    }
    if (p < end && (isdigit((unsigned char)*p) || (*p == '-' && p + 1 < end && isdigit((unsigned char)p[1])))) {
        const char *s = p++;
        while (p < end && (isdigit((unsigned char)*p) || *p == '.')) p++;
        a->kind = A_NUM;
        a->text = xstrndup(s, (size_t)(p - s));
        return p;
    }
    if (p < end && (isalpha((unsigned char)*p) || *p == '_')) {
        const char *s = p;
        while (p < end && (isalnum((unsigned char)*p) || *p == '_' || *p == '.' || *p == '-')) p++;
        while (p > s && p[-1] == '-') p--;
        a->text = xstrndup(s, (size_t)(p - s));
        a->kind = (!strcmp(a->text, "nil") || !strcmp(a->text, "null") || !strcmp(a->text, "blank")) ? A_NIL : A_PATH;
        return p;
    }
    cerr(cp, p, "expected a variable or a value%s", p < end ? "" : " before the end of the tag");
    return end;
}

static const char *parse_filters(compiler *cp, const char *p, const char *end, node *n)
{
    for (;;) {
        p = skip_ws(p, end);
        if (p >= end || cp->failed) return p;
        if (*p != '|') {
            cerr(cp, p, "unexpected '%c' in an output tag (filters start with '|')", *p);
            return end;
        }
        p = skip_ws(p + 1, end);
        const char *s = p;
        while (p < end && (isalnum((unsigned char)*p) || *p == '_')) p++;
        char *name = xstrndup(s, (size_t)(p - s));
        int known = 0;
        for (const char *const *f = filter_names; *f; f++) known |= !strcmp(*f, name);
        if (!known) {
            cerr(cp, s, "unknown filter '%s'", name);
            free(name);
            return end;
        }
        n->filters = xrealloc(n->filters, (size_t)(n->nfilters + 1) * sizeof *n->filters);
        filter *f = &n->filters[n->nfilters++];
        memset(f, 0, sizeof *f);
        f->name = name;
        p = skip_ws(p, end);
        if (p < end && *p == ':') {
            p++;
            for (;;) {
                if (f->nargs == 3) {
                    cerr(cp, p, "too many arguments for filter '%s'", name);
                    return end;
                }
                p = parse_atom(cp, p, end, &f->args[f->nargs++]);
                p = skip_ws(p, end);
                if (p < end && *p == ',') {
                    p++;
                    continue;
                }
                break;
            }
        }
    }
}

static void parse_condition(compiler *cp, const char *p, const char *end, node *n)
{
    p = parse_atom(cp, p, end, &n->value);
    p = skip_ws(p, end);
    if (p >= end || cp->failed) return;
    static const char *const ops[] = {"==", "!=", "<=", ">=", "<", ">", NULL};
    for (const char *const *o = ops; *o; o++) {
        size_t l = strlen(*o);
        if ((size_t)(end - p) >= l && !strncmp(p, *o, l)) {
            memcpy(n->op, *o, l + 1);
            p = parse_atom(cp, p + l, end, &n->rhs);
            p = skip_ws(p, end);
            if (p < end) cerr(cp, p, "conditions with 'and'/'or' are not supported yet; nest two if tags");
            return;
        }
    }
    cerr(cp, p, "unexpected text in the condition; compare with ==, !=, <, >, <=, >=");
}

tpl *tpl_compile(const char *file, int line, const char *src, cc_diags *diags)
{
    compiler cp = {file, src, line, diags, 0, xcalloc(1, sizeof(tpl))};
    cp.t->file = xstrdup(file);
    size_t *stack = NULL; /* open IF node indices */
    size_t depth = 0;
    const char *p = src;
    int trim_next = 0;
    while (*p && !cp.failed) {
        const char *open = strstr(p, "{");
        while (open && open[1] != '{' && open[1] != '%') open = strstr(open + 1, "{");
        const char *text_end = open ? open : p + strlen(p);
        int trim_prev = open && open[2] == '-';
        const char *ts = p, *te = text_end;
        if (trim_next) while (ts < te && isspace((unsigned char)*ts)) ts++;
        if (trim_prev) while (te > ts && isspace((unsigned char)te[-1])) te--;
        if (te > ts) push(&cp, N_TEXT)->text = xstrndup(ts, (size_t)(te - ts));
        trim_next = 0;
        if (!open) break;
        int is_out = open[1] == '{';
        const char *close = strstr(open + 2, is_out ? "}}" : "%}");
        if (!close) {
            cerr(&cp, open, "this %s is never closed with '%s'", is_out ? "'{{'" : "'{%'", is_out ? "}}" : "%}");
            break;
        }
        const char *in = open + 2 + (trim_prev ? 1 : 0);
        const char *in_end = close;
        if (in_end > in && in_end[-1] == '-') {
            in_end--;
            trim_next = 1;
        }
        p = close + 2;
        if (is_out) {
            node *n = push(&cp, N_OUT);
            const char *q = parse_atom(&cp, in, in_end, &n->value);
            parse_filters(&cp, q, in_end, n);
            continue;
        }
        const char *w = skip_ws(in, in_end);
        const char *we = w;
        while (we < in_end && isalpha((unsigned char)*we)) we++;
        char *tag = xstrndup(w, (size_t)(we - w));
        if (!strcmp(tag, "if") || !strcmp(tag, "unless")) {
            node *n = push(&cp, N_IF);
            n->negate = tag[0] == 'u';
            parse_condition(&cp, we, in_end, n);
            stack = xrealloc(stack, (depth + 1) * sizeof *stack);
            stack[depth++] = cp.t->n - 1;
        } else if (!strcmp(tag, "elsif") || !strcmp(tag, "else")) {
            if (!depth) {
                cerr(&cp, w, "'%s' without an open 'if'", tag);
            } else {
                node *n = push(&cp, tag[1] == 'l' && tag[2] == 's' && tag[3] == 'i' ? N_ELSIF : N_ELSE);
                if (n->kind == N_ELSIF) parse_condition(&cp, we, in_end, n);
                cp.t->nodes[stack[depth - 1]].jump = cp.t->n - 1;
                stack[depth - 1] = cp.t->n - 1;
            }
        } else if (!strcmp(tag, "endif") || !strcmp(tag, "endunless")) {
            if (!depth) {
                cerr(&cp, w, "'%s' without an open 'if'", tag);
            } else {
                push(&cp, N_ENDIF);
                size_t endi = cp.t->n - 1;
                cp.t->nodes[stack[--depth]].jump = endi;
                /* Every IF/ELSIF/ELSE of this chain learns where it ends. */
                for (size_t i = endi; i-- > 0;) {
                    node *m = &cp.t->nodes[i];
                    if ((m->kind == N_IF || m->kind == N_ELSIF || m->kind == N_ELSE) && !m->end && m->jump) {
                        m->end = endi;
                        if (m->kind == N_IF) break;
                    }
                }
            }
        } else if (!strcmp(tag, "comment") || !strcmp(tag, "raw")) {
            const char *endtag = !strcmp(tag, "raw") ? "endraw" : "endcomment";
            const char *q = p;
            const char *found = NULL;
            while ((q = strstr(q, "{%"))) {
                const char *r = skip_ws(q + 2 + (q[2] == '-'), q + strlen(q));
                if (!strncmp(r, endtag, strlen(endtag))) { found = q; break; }
                q += 2;
            }
            if (!found) {
                cerr(&cp, w, "'%s' is never closed with '{%% %s %%}'", tag, endtag);
            } else {
                if (tag[0] == 'r' && found > p) push(&cp, N_TEXT)->text = xstrndup(p, (size_t)(found - p));
                const char *c2 = strstr(found, "%}");
                p = c2 ? c2 + 2 : found + strlen(found);
            }
        } else {
            cerr(&cp, w, "tag '%s' is not supported by this version of carecast", tag);
        }
        free(tag);
    }
    if (!cp.failed && depth) cerr(&cp, src + strlen(src), "an 'if' is never closed with '{%% endif %%}'");
    free(stack);
    if (cp.failed) {
        tpl_free(cp.t);
        return NULL;
    }
    return cp.t;
}

static void free_atom(atom *a) { free(a->text); }

void tpl_free(tpl *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->n; i++) {
        node *n = &t->nodes[i];
        free(n->text);
        free_atom(&n->value);
        free_atom(&n->rhs);
        for (int f = 0; f < n->nfilters; f++) {
            free(n->filters[f].name);
            for (int a = 0; a < n->filters[f].nargs; a++) free_atom(&n->filters[f].args[a]);
        }
        free(n->filters);
    }
    free(t->nodes);
    free(t->file);
    free(t);
}

void tpl_each_path(const tpl *t, void (*fn)(void *, const char *, const char *, int, int), void *arg)
{
    for (size_t i = 0; i < t->n; i++) {
        const node *n = &t->nodes[i];
        if (n->value.kind == A_PATH && n->value.text) fn(arg, t->file, n->value.text, n->value.line, n->value.col);
        if (n->rhs.kind == A_PATH && n->rhs.text) fn(arg, t->file, n->rhs.text, n->rhs.line, n->rhs.col);
        for (int f = 0; f < n->nfilters; f++)
            for (int a = 0; a < n->filters[f].nargs; a++)
                if (n->filters[f].args[a].kind == A_PATH)
                    fn(arg, t->file, n->filters[f].args[a].text, n->filters[f].args[a].line, n->filters[f].args[a].col);
    }
}

/* ---- renderer ----------------------------------------------------------- */

static const char *atom_value(const atom *a, const tpl_vars *vars)
{
    switch (a->kind) {
    case A_STR:
    case A_NUM: return a->text;
    case A_PATH: return tpl_vars_get(vars, a->text, NULL);
    default: return NULL;
    }
}

static void utf8_case(cc_buf *out, const char *s, int upper)
{
    for (const char *p = s; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        cc_buf_putc(out, (char)(ch < 0x80 ? (upper ? toupper(ch) : tolower(ch)) : ch));
    }
}

static void html_escape(cc_buf *out, const char *s)
{
    for (const char *p = s; *p; p++) {
        switch (*p) {
        case '&': cc_buf_puts(out, "&amp;"); break;
        case '<': cc_buf_puts(out, "&lt;"); break;
        case '>': cc_buf_puts(out, "&gt;"); break;
        case '"': cc_buf_puts(out, "&quot;"); break;
        case '\'': cc_buf_puts(out, "&#39;"); break;
        default: cc_buf_putc(out, *p);
        }
    }
}

static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Apply one filter; `val` NULL means nil.  Returns a new string or NULL. */
static char *apply_filter(const filter *f, const char *val, const tpl_vars *vars)
{
    const char *a0 = f->nargs > 0 ? atom_value(&f->args[0], vars) : NULL;
    const char *a1 = f->nargs > 1 ? atom_value(&f->args[1], vars) : NULL;
    cc_buf b = CC_BUF_INIT;
    const char *n = f->name;
    if (!strcmp(n, "default")) return xstrdup(val && *val ? val : a0);
    if (!val) val = "";
    if (!strcmp(n, "upcase") || !strcmp(n, "downcase")) utf8_case(&b, val, n[0] == 'u');
    else if (!strcmp(n, "capitalize")) {
        utf8_case(&b, val, 0);
        if (b.len && (unsigned char)b.data[0] < 0x80) b.data[0] = (char)toupper((unsigned char)b.data[0]);
    } else if (!strcmp(n, "strip")) {
        const char *s = val, *e = val + strlen(val);
        while (s < e && isspace((unsigned char)*s)) s++;
        while (e > s && isspace((unsigned char)e[-1])) e--;
        cc_buf_append(&b, s, (size_t)(e - s));
    } else if (!strcmp(n, "append")) cc_buf_printf(&b, "%s%s", val, a0 ? a0 : "");
    else if (!strcmp(n, "prepend")) cc_buf_printf(&b, "%s%s", a0 ? a0 : "", val);
    else if (!strcmp(n, "escape")) html_escape(&b, val);
    else if (!strcmp(n, "size")) cc_buf_printf(&b, "%zu", utf8_len(val));
    else if (!strcmp(n, "truncate")) {
        /* truncate: N characters including the "..." ellipsis, UTF-8 safe. */
        long max = a0 ? strtol(a0, NULL, 10) : 50;
        const char *ell = a1 ? a1 : "...";
        if ((long)utf8_len(val) <= max) cc_buf_puts(&b, val);
        else {
            long keep = max - (long)utf8_len(ell);
            const char *p = val;
            for (long i = 0; i < keep && *p; i++) {
                p++;
                while (((unsigned char)*p & 0xC0) == 0x80) p++;
            }
            cc_buf_append(&b, val, (size_t)(p - val));
            cc_buf_puts(&b, ell);
        }
    } else if (!strcmp(n, "replace")) {
        const char *from = a0 ? a0 : "", *to = a1 ? a1 : "";
        size_t fl = strlen(from);
        const char *p = val;
        if (!fl) cc_buf_puts(&b, val);
        else {
            const char *hit;
            while ((hit = strstr(p, from))) {
                cc_buf_append(&b, p, (size_t)(hit - p));
                cc_buf_puts(&b, to);
                p = hit + fl;
            }
            cc_buf_puts(&b, p);
        }
    }
    return cc_buf_take(&b);
}

static int truthy(const char *v) { return v != NULL && strcmp(v, "false") != 0; }

static int compare(const node *n, const tpl_vars *vars)
{
    const char *l = atom_value(&n->value, vars);
    if (!n->op[0]) return truthy(l) != n->negate;
    const char *r = atom_value(&n->rhs, vars);
    int res;
    if (!l || !r) {
        res = (!strcmp(n->op, "==") && l == r) || (!strcmp(n->op, "!=") && l != r);
    } else {
        char *e1, *e2;
        double a = strtod(l, &e1), b = strtod(r, &e2);
        int cmp = (*l && *r && !*e1 && !*e2) ? (a > b) - (a < b) : strcmp(l, r);
        if (!strcmp(n->op, "==")) res = cmp == 0;
        else if (!strcmp(n->op, "!=")) res = cmp != 0;
        else if (!strcmp(n->op, "<")) res = cmp < 0;
        else if (!strcmp(n->op, ">")) res = cmp > 0;
        else if (!strcmp(n->op, "<=")) res = cmp <= 0;
        else res = cmp >= 0;
    }
    return res != n->negate;
}

void tpl_render(const tpl *t, const tpl_vars *vars, int html, cc_buf *out)
{
    size_t i = 0;
    while (i < t->n) {
        const node *n = &t->nodes[i];
        int jumped = 0;
        switch (n->kind) {
        case N_TEXT:
            cc_buf_puts(out, n->text);
            i++;
            break;
        case N_OUT: {
            char *v = xstrdup(atom_value(&n->value, vars));
            for (int f = 0; f < n->nfilters; f++) {
                char *nv = apply_filter(&n->filters[f], v, vars);
                free(v);
                v = nv;
            }
            if (v) {
                if (html) html_escape(out, v); else cc_buf_puts(out, v);
            }
            free(v);
            i++;
            break;
        }
        case N_IF:
        case N_ELSIF:
            if (compare(n, vars)) {
                i++;
            } else {
                i = n->jump;     /* the next ELSIF/ELSE to try, or ENDIF */
                jumped = 1;
            }
            break;
        case N_ELSE:             /* only reached by a jump: its branch runs */
        case N_ENDIF:
            i++;
            break;
        }
        /* Walking out of a taken branch into ELSIF/ELSE ends the chain. */
        if (!jumped && i < t->n && (t->nodes[i].kind == N_ELSIF || t->nodes[i].kind == N_ELSE))
            i = t->nodes[i].end;
    }
}
