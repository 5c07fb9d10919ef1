/* liquid_parse.c - Liquid source to tree (liquid.h, liquid_ast.h).
 *
 * Two stages: the source is cut into tokens (text, {{ output }}, {% tag %})
 * with whitespace control applied, then a recursive descent over the tokens
 * builds blocks.  Tag markup is read by a small lexer.  The first error
 * stops parsing: one precise FILE:LINE:COL message beats a cascade. */
#include "liquid_ast.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef enum { K_TEXT, K_OUT, K_TAG } tok_kind;

typedef struct {
    tok_kind k;
    const char *s, *e;       /* text, or markup between the delimiters */
    int line, col;           /* of the token's first character */
    const char *at;          /* the token's first character in the source */
} tok;

typedef struct {
    const char *file;
    const char *src;
    int line0;
    const liq_options *opt;
    liq_error *err;
    int failed;
    lv_arena *a;
    tok *toks;
    size_t ntok, i;
    int in_liquid_tag;       /* parsing the lines of {% liquid %} */
    int nest, vnest;         /* blocks, and nested values, open now */
} parser;

/* How deep blocks ({% if %} in {% for %} ...) and values ((1..(2..3)),
 * a[b[c]]) may nest: the parser, the lint walk and the renderer recurse
 * once per level, so a hostile template must not choose the stack depth.
 * Ruby Liquid stops at 100 too ("Nesting too deep"). */
#define LIQ_MAX_NESTING 100

void liq_error_clear(liq_error *e)
{
    free(e->msg);
    free(e->file);
    memset(e, 0, sizeof *e);
}

/* Line and column of `at`, counting from a known position. */
static void locate_from(const char *from, int line, int col, const char *at, int *l, int *c)
{
    for (const char *p = from; p < at && *p; p++) {
        if (*p == '\n') {
            line++;
            col = 1;
        } else if (((unsigned char)*p & 0xC0) != 0x80) {
            col++;
        }
    }
    *l = line;
    *c = col;
}

static void perr_at(parser *p, int line, int col, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void perr_at(parser *p, int line, int col, const char *fmt, ...)
{
    if (p->failed) return;
    p->failed = 1;
    cc_buf b = CC_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    cc_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    p->err->msg = cc_buf_take(&b);
    p->err->file = xstrdup(p->file);
    p->err->line = line;
    p->err->col = col;
}

static void *alloc(parser *p, size_t n)
{
    void *r = lv_alloc(p->a, n);
    memset(r, 0, n);
    return r;
}

static const char *dup(parser *p, const char *s, size_t n) { return lv_str(p->a, s, n).u.str.s; }

/* Append to an arena vector with doubling (the arena never frees, and
 * templates are small, so the waste is bounded by 2x). */
static void *grow(parser *p, void *arr, size_t n, size_t el)
{
    if (n && (n & (n - 1))) return arr;      /* capacity is the next power of two */
    size_t cap = n ? n * 2 : 1;
    void *na = alloc(p, cap * el);
    if (n) memcpy(na, arr, n * el);
    return na;
}
#define PUSH(p, arr, n, val) do { (arr) = grow((p), (arr), (n), sizeof *(arr)); (arr)[(n)++] = (val); } while (0)

/* ---- tokenizer ---------------------------------------------------------- */

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

static void tokenize(parser *p)
{
    const char *s = p->src, *q = s;
    int line = p->line0, col = 1;
    size_t cap = 0;
    int trim_next = 0;
    const char *loc = s;     /* line/col are valid at `loc` */
#define ADVANCE(to) (locate_from(loc, line, col, (to), &line, &col), loc = (to))
    while (*q && !p->failed) {
        const char *o = q;
        while (*o && !(o[0] == '{' && (o[1] == '{' || o[1] == '%'))) o++;
        /* text before the tag */
        const char *ts = q, *te = o;
        if (trim_next)
            while (ts < te && is_ws(*ts)) ts++;
        trim_next = 0;
        int is_out = *o && o[1] == '{';
        int trim_left = *o && o[2] == '-';
        if (trim_left)
            while (te > ts && is_ws(te[-1])) te--;
        if (te > ts) {
            tok t = {K_TEXT, ts, te, 0, 0, ts};
            ADVANCE(ts);
            t.line = line;
            t.col = col;
            if (p->ntok == cap) {
                cap = cap ? cap * 2 : 64;
                p->toks = xrealloc(p->toks, cap * sizeof *p->toks);
            }
            p->toks[p->ntok++] = t;
        }
        if (!*o) break;
        ADVANCE(o);
        int tl = line, tc = col;
        const char *ms = o + 2 + trim_left, *me;
        const char *close = is_out ? "}}" : "%}";
        me = strstr(ms, close);
        if (is_out && me) {
            /* `{{ x }` followed by `}` closes on the first "}}" as Ruby does. */
        }
        if (!me) {
            perr_at(p, tl, tc, "%s was not properly terminated with '%s'", is_out ? "'{{'" : "'{%'", close);
            break;
        }
        const char *next = me + 2;
        if (me > ms && me[-1] == '-') {
            me--;
            trim_next = 1;
        }
        tok t = {is_out ? K_OUT : K_TAG, ms, me, tl, tc, o};
        if (p->ntok == cap) {
            cap = cap ? cap * 2 : 64;
            p->toks = xrealloc(p->toks, cap * sizeof *p->toks);
        }
        p->toks[p->ntok++] = t;
        q = next;
        /* {% raw %}: everything up to {% endraw %} is text. */
        if (!is_out) {
            const char *w = ms;
            while (w < me && is_ws(*w)) w++;
            if ((size_t)(me - w) >= 3 && !strncmp(w, "raw", 3) && (w + 3 == me || is_ws(w[3]))) {
                const char *r = q;
                for (;;) {
                    r = strstr(r, "{%");
                    if (!r) break;
                    const char *x = r + 2;
                    if (*x == '-') x++;
                    while (is_ws(*x)) x++;
                    if (!strncmp(x, "endraw", 6)) {
                        const char *y = x + 6;
                        while (is_ws(*y)) y++;
                        if (*y == '-') y++;
                        if (y[0] == '%' && y[1] == '}') break;
                    }
                    r += 2;
                }
                if (!r) {
                    perr_at(p, tl, tc, "'raw' tag was never closed with '{%% endraw %%}'");
                    break;
                }
                const char *bs = q, *be = r;
                if (trim_next)
                    while (bs < be && is_ws(*bs)) bs++;
                trim_next = 0;
                if (r[2] == '-')
                    while (be > bs && is_ws(be[-1])) be--;
                if (be > bs) {
                    ADVANCE(bs);
                    tok rt = {K_TEXT, bs, be, line, col, bs};
                    if (p->ntok == cap) {
                        cap = cap * 2;
                        p->toks = xrealloc(p->toks, cap * sizeof *p->toks);
                    }
                    p->toks[p->ntok++] = rt;
                }
                q = r; /* the endraw tag is tokenized next */
            }
        }
    }
#undef ADVANCE
}

/* ---- markup lexer ------------------------------------------------------- */

typedef enum {
    L_END, L_ID, L_STR, L_INT, L_FLOAT, L_DOT, L_DOTDOT, L_LBRACK, L_RBRACK, L_LPAREN, L_RPAREN,
    L_PIPE, L_COLON, L_COMMA, L_CMP, L_ASSIGN, L_BAD
} lex_kind;

typedef struct {
    lex_kind k;
    const char *s, *e;
} lexeme;

typedef struct {
    parser *p;
    const tok *t;
    const char *pos, *end;
    lexeme cur;
} lexer;

static int id_start(char c) { return isalpha((unsigned char)c) || c == '_' || ((unsigned char)c & 0x80); }
static int id_char(char c) { return isalnum((unsigned char)c) || c == '_' || c == '-' || ((unsigned char)c & 0x80); }

static void lex_next(lexer *x)
{
    const char *s = x->pos;
    while (s < x->end && is_ws(*s)) s++;
    lexeme l = {L_END, s, s};
    if (s >= x->end) {
        x->cur = l;
        x->pos = s;
        return;
    }
    const char *q = s;
    char c = *q;
    if (c == '\'' || c == '"') {
        q++;
        while (q < x->end && *q != c) q++;
        if (q >= x->end) {
            l.k = L_BAD;
            l.e = q;
        } else {
            l.k = L_STR;
            l.e = q + 1;
        }
    } else if (isdigit((unsigned char)c) || (c == '-' && q + 1 < x->end && isdigit((unsigned char)q[1]))) {
        q++;
        while (q < x->end && isdigit((unsigned char)*q)) q++;
        l.k = L_INT;
        if (q + 1 < x->end && *q == '.' && isdigit((unsigned char)q[1])) {
            q++;
            while (q < x->end && isdigit((unsigned char)*q)) q++;
            l.k = L_FLOAT;
            /* "1.2.3" is not a number */
            if (q < x->end && *q == '.' && q + 1 < x->end && q[1] != '.') l.k = L_BAD;
        }
        l.e = q;
    } else if (id_start(c)) {
        while (q < x->end && id_char(*q)) q++;
        if (q < x->end && *q == '?') q++;
        l.k = L_ID;
        l.e = q;
    } else {
        l.e = q + 1;
        switch (c) {
        case '.': if (q + 1 < x->end && q[1] == '.') { l.k = L_DOTDOT; l.e = q + 2; } else l.k = L_DOT; break;
        case '[': l.k = L_LBRACK; break;
        case ']': l.k = L_RBRACK; break;
        case '(': l.k = L_LPAREN; break;
        case ')': l.k = L_RPAREN; break;
        case '|': l.k = L_PIPE; break;
        case ':': l.k = L_COLON; break;
        case ',': l.k = L_COMMA; break;
        case '=':
            if (q + 1 < x->end && q[1] == '=') { l.k = L_CMP; l.e = q + 2; } else l.k = L_ASSIGN;
            break;
        case '!':
            if (q + 1 < x->end && q[1] == '=') { l.k = L_CMP; l.e = q + 2; } else l.k = L_BAD;
            break;
        case '<': case '>':
            l.k = L_CMP;
            if (q + 1 < x->end && (q[1] == '=' || (c == '<' && q[1] == '>'))) l.e = q + 2;
            break;
        default: l.k = L_BAD; break;
        }
    }
    x->cur = l;
    x->pos = l.e;
}

static void lex_init(lexer *x, parser *p, const tok *t, const char *from)
{
    x->p = p;
    x->t = t;
    x->pos = from;
    x->end = t->e;
    lex_next(x);
}

static void where(lexer *x, const char *at, int *l, int *c) { locate_from(x->t->at, x->t->line, x->t->col, at, l, c); }

static void lerr(lexer *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void lerr(lexer *x, const char *fmt, ...)
{
    int l, c;
    where(x, x->cur.s, &l, &c);
    cc_buf b = CC_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    cc_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    perr_at(x->p, l, c, "%s", cc_buf_str(&b));
    cc_buf_free(&b);
}

static int is_id(const lexer *x, const char *word)
{
    size_t n = strlen(word);
    return x->cur.k == L_ID && (size_t)(x->cur.e - x->cur.s) == n && !strncmp(x->cur.s, word, n);
}

static const char *lex_text(lexer *x) { return dup(x->p, x->cur.s, (size_t)(x->cur.e - x->cur.s)); }

static void unexpected(lexer *x, const char *what)
{
    if (x->cur.k == L_END) lerr(x, "syntax error: expected %s before the end of the tag", what);
    else if (x->cur.k == L_BAD && (*x->cur.s == '\'' || *x->cur.s == '"'))
        lerr(x, "Unexpected character: unterminated string");
    else lerr(x, "syntax error: unexpected '%.*s', expected %s", (int)(x->cur.e - x->cur.s), x->cur.s, what);
}

/* ---- expressions -------------------------------------------------------- */

static liq_expr *new_expr(lexer *x, liq_expr_kind k)
{
    liq_expr *e = alloc(x->p, sizeof *e);
    e->k = k;
    where(x, x->cur.s, &e->line, &e->col);
    return e;
}

static liq_expr *parse_expr(lexer *x);

static void parse_path(lexer *x, liq_expr *e)
{
    for (;;) {
        if (x->cur.k == L_DOT) {
            lex_next(x);
            if (x->cur.k != L_ID) {
                unexpected(x, "a property name after '.'");
                return;
            }
            liq_step st = {lex_text(x), NULL};
            PUSH(x->p, e->path, e->npath, st);
            lex_next(x);
        } else if (x->cur.k == L_LBRACK) {
            lex_next(x);
            liq_step st = {NULL, parse_expr(x)};
            if (x->p->failed) return;
            if (x->cur.k != L_RBRACK) {
                unexpected(x, "']'");
                return;
            }
            PUSH(x->p, e->path, e->npath, st);
            lex_next(x);
        } else {
            return;
        }
    }
}

static liq_expr *parse_expr_in(lexer *x);

static liq_expr *parse_expr(lexer *x)
{
    if (x->p->failed) return NULL;
    if (x->p->vnest >= LIQ_MAX_NESTING) {
        lerr(x, "values nested too deeply (more than %d levels)", LIQ_MAX_NESTING);
        return NULL;
    }
    x->p->vnest++;
    liq_expr *e = parse_expr_in(x);
    x->p->vnest--;
    return e;
}

static liq_expr *parse_expr_in(lexer *x)
{
    liq_expr *e;
    switch (x->cur.k) {
    case L_STR:
        e = new_expr(x, E_LIT);
        e->lit = lv_str(x->p->a, x->cur.s + 1, (size_t)(x->cur.e - x->cur.s - 2));
        lex_next(x);
        return e;
    case L_INT: case L_FLOAT: {
        e = new_expr(x, E_LIT);
        char buf[64];
        size_t n = (size_t)(x->cur.e - x->cur.s);
        if (n >= sizeof buf) n = sizeof buf - 1;
        memcpy(buf, x->cur.s, n);
        buf[n] = '\0';
        e->lit = x->cur.k == L_INT ? lv_int(strtoll(buf, NULL, 10)) : lv_float(strtod(buf, NULL));
        lex_next(x);
        return e;
    }
    case L_LPAREN:
        e = new_expr(x, E_RANGE);
        lex_next(x);
        e->lo = parse_expr(x);
        if (x->p->failed) return NULL;
        if (x->cur.k != L_DOTDOT) {
            unexpected(x, "'..' in a range");
            return NULL;
        }
        lex_next(x);
        e->hi = parse_expr(x);
        if (x->p->failed) return NULL;
        if (x->cur.k != L_RPAREN) {
            unexpected(x, "')' closing the range");
            return NULL;
        }
        lex_next(x);
        return e;
    case L_LBRACK:
        e = new_expr(x, E_VAR);
        lex_next(x);
        e->root_idx = parse_expr(x);
        if (x->p->failed) return NULL;
        if (x->cur.k != L_RBRACK) {
            unexpected(x, "']'");
            return NULL;
        }
        lex_next(x);
        parse_path(x, e);
        return e;
    case L_ID: {
        static const char *const kw[] = {"nil", "null", "true", "false", "empty", "blank", NULL};
        for (int i = 0; kw[i]; i++)
            if (is_id(x, kw[i])) {
                /* `empty.size` etc. would be a variable named empty; keep keywords plain. */
                const char *after = x->cur.e;
                if (after < x->end && (*after == '.' || *after == '[')) break;
                e = new_expr(x, E_LIT);
                e->lit = i < 2 ? lv_nil() : i < 4 ? lv_bool(i == 2) : (lv){i == 4 ? LV_EMPTY : LV_BLANK, {0}};
                lex_next(x);
                return e;
            }
        e = new_expr(x, E_VAR);
        e->root = lex_text(x);
        lex_next(x);
        parse_path(x, e);
        return e;
    }
    default:
        unexpected(x, "a value or a variable");
        return NULL;
    }
}

/* ---- filters ------------------------------------------------------------ */

static void parse_filters(lexer *x, liq_chain *ch)
{
    while (!x->p->failed && x->cur.k == L_PIPE) {
        lex_next(x);
        if (x->p->opt->lax) {
            while (x->cur.k == L_PIPE) lex_next(x);
            if (x->cur.k == L_END) return;
        }
        if (x->cur.k != L_ID) {
            if (x->cur.k == L_END) lerr(x, "syntax error: Expected id but found end of tag after '|'");
            else unexpected(x, "a filter name after '|' (Expected id)");
            return;
        }
        liq_filter f;
        memset(&f, 0, sizeof f);
        f.name = lex_text(x);
        where(x, x->cur.s, &f.line, &f.col);
        if (!liq_find_filter(f.name, &f.fn, &f.min_args, &f.max_args) && !x->p->opt->unknown_filters_ok) {
            lerr(x, "unknown filter '%s'", f.name);
            return;
        }
        lex_next(x);
        if (x->cur.k == L_COLON) {
            lex_next(x);
            for (;;) {
                if (x->cur.k == L_ID) {
                    /* key: value */
                    lexer save = *x;
                    const char *name = lex_text(x);
                    lex_next(x);
                    if (x->cur.k == L_COLON) {
                        lex_next(x);
                        liq_expr *v = parse_expr(x);
                        if (x->p->failed) return;
                        size_t n = f.nkw;
                        PUSH(x->p, f.kw, n, name);
                        PUSH(x->p, f.kwv, f.nkw, v);
                        goto next_arg;
                    }
                    *x = save;
                }
                {
                    liq_expr *v = parse_expr(x);
                    if (x->p->failed) return;
                    PUSH(x->p, f.args, f.nargs, v);
                }
            next_arg:
                if (x->cur.k != L_COMMA) break;
                lex_next(x);
            }
        }
        if (f.fn && ((int)f.nargs < f.min_args || (f.max_args >= 0 && (int)f.nargs > f.max_args))) {
            perr_at(x->p, f.line, f.col, "wrong number of arguments for filter '%s' (given %zu, expected %d%s)",
                    f.name, f.nargs, f.min_args, f.max_args == f.min_args ? "" : " or more");
            return;
        }
        PUSH(x->p, ch->f, ch->nf, f);
    }
}

static void expect_end(lexer *x, const char *tag)
{
    if (x->p->failed || x->cur.k == L_END) return;
    lerr(x, "syntax error: unexpected '%.*s' in '%s'", (int)(x->end - x->cur.s), x->cur.s, tag);
}

/* An expression with filters: output tags, echo, assign. */
static void parse_chain(lexer *x, liq_chain *ch, const char *tag)
{
    if (x->cur.k == L_END && x->p->opt->lax) {
        ch->e = new_expr(x, E_LIT);
        ch->e->lit = lv_nil();
        return;
    }
    ch->e = parse_expr(x);
    if (x->p->failed) return;
    parse_filters(x, ch);
    expect_end(x, tag);
}

/* ---- conditions --------------------------------------------------------- */

static liq_cond *parse_cond(lexer *x)
{
    liq_cond *c = alloc(x->p, sizeof *c);
    c->l = parse_expr(x);
    if (x->p->failed) return NULL;
    if (x->cur.k == L_CMP || is_id(x, "contains")) {
        const char *op = lex_text(x);
        if (!strcmp(op, "<>")) op = "!=";
        c->op = op;
        lex_next(x);
        c->r = parse_expr(x);
        if (x->p->failed) return NULL;
    }
    if (is_id(x, "and") || is_id(x, "or")) {
        c->join = is_id(x, "and") ? 'a' : 'o';
        lex_next(x);
        c->next = parse_cond(x);
        return x->p->failed ? NULL : c;
    }
    if (x->cur.k != L_END) {
        unexpected(x, "'and', 'or' or the end of the condition");
        return NULL;
    }
    return c;
}

/* ---- blocks and tags ---------------------------------------------------- */

static liq_node *add(parser *p, liq_block *b, liq_node_kind k, const tok *t)
{
    liq_node n;
    memset(&n, 0, sizeof n);
    n.k = k;
    n.line = t->line;
    n.col = t->col;
    PUSH(p, b->nodes, b->n, n);
    return &b->nodes[b->n - 1];
}

/* The tag name of a tag token and where its markup starts. */
static const char *tag_name(const tok *t, size_t *len, const char **markup)
{
    const char *s = t->s;
    while (s < t->e && is_ws(*s)) s++;
    const char *q = s;
    if (q < t->e && *q == '#') q++;
    else
        while (q < t->e && (isalnum((unsigned char)*q) || *q == '_')) q++;
    *len = (size_t)(q - s);
    *markup = q;
    return s;
}

static int name_is(const char *s, size_t n, const char *w) { return strlen(w) == n && !strncmp(s, w, n); }

/* Parse tokens into `b` until one of `ends` (NULL-terminated) or the end of
 * input.  Returns the index of the end tag met, or -1 at the end. */
static int parse_block(parser *p, liq_block *b, const char *const *ends, const tok **end_tok);

static void parse_liquid_tag(parser *p, const tok *t, const char *markup, liq_block *b)
{
    /* Each non-empty line of {% liquid %} is a tag without delimiters. */
    tok *saved = p->toks;
    size_t sn = p->ntok, si = p->i;
    tok *lines = NULL;
    size_t n = 0, cap = 0;
    const char *q = markup;
    while (q < t->e) {
        const char *le = q;
        while (le < t->e && *le != '\n') le++;
        const char *s = q;
        while (s < le && is_ws(*s)) s++;
        if (s < le) {
            tok lt = {K_TAG, s, le, 0, 0, s};
            locate_from(t->at, t->line, t->col, s, &lt.line, &lt.col);
            /* echo inside liquid is an output */
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                lines = xrealloc(lines, cap * sizeof *lines);
            }
            lines[n++] = lt;
        }
        q = le + 1;
    }
    p->toks = lines;
    p->ntok = n;
    p->i = 0;
    int was = p->in_liquid_tag;
    p->in_liquid_tag = 1;
    const tok *et = NULL;
    int r = parse_block(p, b, NULL, &et);
    (void)r;
    p->in_liquid_tag = was;
    free(lines);
    p->toks = saved;
    p->ntok = sn;
    p->i = si;
}

static void never_closed(parser *p, const tok *t, const char *tag)
{
    perr_at(p, t->line, t->col, "'%s' tag was never closed with '{%% end%s %%}'", tag, tag);
}

static void parse_tag(parser *p, liq_block *b, const tok *t);

static int parse_block_in(parser *p, liq_block *b, const char *const *ends, const tok **end_tok);

static int parse_block(parser *p, liq_block *b, const char *const *ends, const tok **end_tok)
{
    if (p->nest >= LIQ_MAX_NESTING) {
        const tok *t = &p->toks[p->i ? p->i - 1 : 0];
        perr_at(p, t->line, t->col, "blocks nested too deeply (more than %d levels)", LIQ_MAX_NESTING);
        return -1;
    }
    p->nest++;
    int r = parse_block_in(p, b, ends, end_tok);
    p->nest--;
    return r;
}

static int parse_block_in(parser *p, liq_block *b, const char *const *ends, const tok **end_tok)
{
    while (!p->failed && p->i < p->ntok) {
        const tok *t = &p->toks[p->i++];
        if (t->k == K_TEXT) {
            liq_node *n = add(p, b, N_TEXT, t);
            n->text = t->s;
            n->len = (size_t)(t->e - t->s);
            continue;
        }
        if (t->k == K_OUT) {
            liq_node *n = add(p, b, N_OUT, t);
            lexer x;
            lex_init(&x, p, t, t->s);
            parse_chain(&x, &n->chain, "{{ }}");
            continue;
        }
        size_t nl;
        const char *markup;
        const char *name = tag_name(t, &nl, &markup);
        for (int k = 0; ends && ends[k]; k++)
            if (name_is(name, nl, ends[k])) {
                *end_tok = t;
                return k;
            }
        parse_tag(p, b, t);
    }
    return -1;
}

static void parse_for(parser *p, liq_block *b, const tok *t, const char *markup, int tablerow)
{
    liq_node *n = add(p, b, tablerow ? N_TABLEROW : N_FOR, t);
    lexer x;
    lex_init(&x, p, t, markup);
    if (x.cur.k != L_ID) {
        unexpected(&x, "a loop variable");
        return;
    }
    n->name = lex_text(&x);
    lex_next(&x);
    if (!is_id(&x, "in")) {
        unexpected(&x, "'in'");
        return;
    }
    lex_next(&x);
    const char *coll_start = x.cur.s;
    n->subject = parse_expr(&x);
    if (p->failed) return;
    {
        /* the loop's name for offset:continue is "var-collection" */
        cc_buf kb = CC_BUF_INIT;
        cc_buf_printf(&kb, "%s-%.*s", n->name, (int)(x.cur.s - coll_start), coll_start);
        while (kb.len && is_ws(kb.data[kb.len - 1])) kb.data[--kb.len] = '\0';
        n->key = dup(p, kb.data ? kb.data : "", kb.len);
        cc_buf_free(&kb);
    }
    while (!p->failed && x.cur.k != L_END) {
        if (x.cur.k == L_COMMA) {
            lex_next(&x);
            continue;
        }
        if (is_id(&x, "reversed") && !tablerow) {
            n->reversed = 1;
            lex_next(&x);
            continue;
        }
        if (is_id(&x, "limit") || is_id(&x, "offset") || (tablerow && is_id(&x, "cols"))) {
            char which = *x.cur.s;
            lex_next(&x);
            if (x.cur.k != L_COLON) {
                unexpected(&x, "':'");
                return;
            }
            lex_next(&x);
            if (which == 'o' && is_id(&x, "continue") && !tablerow) {
                n->offset_continue = 1;
                lex_next(&x);
                continue;
            }
            liq_expr *v = parse_expr(&x);
            if (which == 'l') n->limit = v;
            else if (which == 'o') n->offset = v;
            else n->cols = v;
            continue;
        }
        unexpected(&x, tablerow ? "cols:, limit: or offset:" : "reversed, limit: or offset:");
        return;
    }
    if (p->failed) return;
    const char *tag = tablerow ? "tablerow" : "for";
    const char *ends_for[] = {"else", "endfor", NULL};
    const char *ends_tr[] = {"endtablerow", NULL};
    const tok *et = NULL;
    int r = parse_block(p, &n->body, tablerow ? ends_tr : ends_for, &et);
    if (p->failed) return;
    if (r < 0) return never_closed(p, t, tag);
    if (!tablerow && r == 0) {
        const char *ends2[] = {"endfor", NULL};
        r = parse_block(p, &n->else_body, ends2, &et);
        if (!p->failed && r < 0) never_closed(p, t, tag);
    }
}

static void parse_if(parser *p, liq_block *b, const tok *t, const char *markup, int unless)
{
    liq_node *n = add(p, b, N_IF, t);
    const char *ends[] = {"elsif", "else", unless ? "endunless" : "endif", NULL};
    const char *tag = unless ? "unless" : "if";
    const tok *ct = t;
    const char *cm = markup;
    int is_else = 0;
    for (;;) {
        liq_branch br;
        memset(&br, 0, sizeof br);
        br.negate = unless && ct == t;
        if (!is_else) {
            lexer x;
            lex_init(&x, p, ct, cm);
            if (x.cur.k == L_END) {
                lerr(&x, "syntax error: '%s' needs a condition", ct == t ? tag : "elsif");
                return;
            }
            br.cond = parse_cond(&x);
            if (p->failed) return;
        }
        const tok *et = NULL;
        int r = parse_block(p, &br.body, ends, &et);
        if (p->failed) return;
        PUSH(p, n->br, n->nbr, br);
        if (r < 0) return never_closed(p, t, tag);
        if (r == 2) return;
        if (is_else) {
            /* Ruby ignores branches after an else; parse and drop them. */
        }
        size_t nl;
        tag_name(et, &nl, &cm);
        ct = et;
        is_else = r == 1;
    }
}

static void parse_case(parser *p, liq_block *b, const tok *t, const char *markup)
{
    liq_node *n = add(p, b, N_CASE, t);
    lexer x;
    lex_init(&x, p, t, markup);
    n->subject = parse_expr(&x);
    expect_end(&x, "case");
    if (p->failed) return;
    const char *ends[] = {"when", "else", "endcase", NULL};
    liq_block ignored = {0};
    const tok *et = NULL;
    int r = parse_block(p, &ignored, ends, &et);
    while (!p->failed) {
        if (r < 0) return never_closed(p, t, "case");
        if (r == 2) return;
        liq_when w;
        memset(&w, 0, sizeof w);
        if (r == 0) {
            size_t nl;
            const char *m;
            tag_name(et, &nl, &m);
            lexer wx;
            lex_init(&wx, p, et, m);
            for (;;) {
                liq_expr *v = parse_expr(&wx);
                if (p->failed) return;
                PUSH(p, w.vals, w.nvals, v);
                if (wx.cur.k == L_COMMA || is_id(&wx, "or")) {
                    lex_next(&wx);
                    continue;
                }
                break;
            }
            expect_end(&wx, "when");
        }
        if (p->failed) return;
        r = parse_block(p, &w.body, ends, &et);
        PUSH(p, n->whens, n->nwhens, w);
    }
}

static const char *parse_name(lexer *x)
{
    if (x->cur.k == L_ID) {
        const char *s = lex_text(x);
        lex_next(x);
        return s;
    }
    if (x->cur.k == L_STR) {
        const char *s = dup(x->p, x->cur.s + 1, (size_t)(x->cur.e - x->cur.s - 2));
        lex_next(x);
        return s;
    }
    unexpected(x, "a variable name");
    return NULL;
}

static void parse_partial(parser *p, liq_block *b, const tok *t, const char *markup, int include)
{
    liq_node *n = add(p, b, include ? N_INCLUDE : N_RENDER, t);
    lexer x;
    lex_init(&x, p, t, markup);
    if (!include && x.cur.k != L_STR) {
        lerr(&x, "syntax error: 'render' takes the partial's name as a quoted string");
        return;
    }
    n->subject = parse_expr(&x);
    if (p->failed) return;
    if (is_id(&x, "with") || is_id(&x, "for")) {
        n->is_for = is_id(&x, "for");
        lex_next(&x);
        n->with = parse_expr(&x);
        if (p->failed) return;
    }
    if (is_id(&x, "as")) {
        lex_next(&x);
        if (x.cur.k != L_ID) {
            unexpected(&x, "a name after 'as'");
            return;
        }
        n->alias = lex_text(&x);
        lex_next(&x);
    }
    while (!p->failed && x.cur.k != L_END) {
        if (x.cur.k == L_COMMA) {
            lex_next(&x);
            continue;
        }
        if (x.cur.k != L_ID) {
            unexpected(&x, "name: value");
            return;
        }
        const char *k = lex_text(&x);
        lex_next(&x);
        if (x.cur.k != L_COLON) {
            unexpected(&x, "':'");
            return;
        }
        lex_next(&x);
        liq_expr *v = parse_expr(&x);
        if (p->failed) return;
        size_t nk = n->nkw;
        PUSH(p, n->kw, nk, k);
        PUSH(p, n->kwv, n->nkw, v);
    }
}

static void parse_tag(parser *p, liq_block *b, const tok *t)
{
    size_t nl;
    const char *markup;
    const char *name = tag_name(t, &nl, &markup);
    lexer x;
    if (nl == 0) {
        perr_at(p, t->line, t->col, "syntax error: a tag needs a name ('{%% %%}' is empty)");
        return;
    }
    if (name_is(name, nl, "#")) return;
    if (name_is(name, nl, "if") || name_is(name, nl, "unless")) return parse_if(p, b, t, markup, *name == 'u');
    if (name_is(name, nl, "case")) return parse_case(p, b, t, markup);
    if (name_is(name, nl, "for")) return parse_for(p, b, t, markup, 0);
    if (name_is(name, nl, "tablerow")) return parse_for(p, b, t, markup, 1);
    if (name_is(name, nl, "render")) return parse_partial(p, b, t, markup, 0);
    if (name_is(name, nl, "include")) return parse_partial(p, b, t, markup, 1);
    if (name_is(name, nl, "liquid")) return parse_liquid_tag(p, t, markup, b);
    if (name_is(name, nl, "break") || name_is(name, nl, "continue")) {
        add(p, b, *name == 'b' ? N_BREAK : N_CONTINUE, t);
        return;
    }
    if (name_is(name, nl, "echo")) {
        liq_node *n = add(p, b, N_OUT, t);
        lex_init(&x, p, t, markup);
        parse_chain(&x, &n->chain, "echo");
        return;
    }
    if (name_is(name, nl, "assign")) {
        liq_node *n = add(p, b, N_ASSIGN, t);
        lex_init(&x, p, t, markup);
        if (x.cur.k != L_ID) return unexpected(&x, "a variable name");
        n->name = lex_text(&x);
        lex_next(&x);
        if (x.cur.k != L_ASSIGN) return unexpected(&x, "'='");
        lex_next(&x);
        parse_chain(&x, &n->chain, "assign");
        return;
    }
    if (name_is(name, nl, "increment") || name_is(name, nl, "decrement")) {
        liq_node *n = add(p, b, *name == 'i' ? N_INCREMENT : N_DECREMENT, t);
        lex_init(&x, p, t, markup);
        n->name = parse_name(&x);
        expect_end(&x, *name == 'i' ? "increment" : "decrement");
        return;
    }
    if (name_is(name, nl, "capture")) {
        liq_node *n = add(p, b, N_CAPTURE, t);
        lex_init(&x, p, t, markup);
        n->name = parse_name(&x);
        expect_end(&x, "capture");
        if (p->failed) return;
        const char *ends[] = {"endcapture", NULL};
        const tok *et;
        if (parse_block(p, &n->body, ends, &et) < 0 && !p->failed) never_closed(p, t, "capture");
        return;
    }
    if (name_is(name, nl, "ifchanged")) {
        liq_node *n = add(p, b, N_IFCHANGED, t);
        const char *ends[] = {"endifchanged", NULL};
        const tok *et;
        if (parse_block(p, &n->body, ends, &et) < 0 && !p->failed) never_closed(p, t, "ifchanged");
        return;
    }
    if (name_is(name, nl, "cycle")) {
        liq_node *n = add(p, b, N_CYCLE, t);
        lex_init(&x, p, t, markup);
        lexer save = x;
        liq_expr *first = parse_expr(&x);
        if (p->failed) return;
        if (x.cur.k == L_COLON) {
            n->group = first;
            lex_next(&x);
        } else {
            x = save;
        }
        const char *vstart = x.cur.s;
        int literal = 1;
        for (;;) {
            liq_expr *v = parse_expr(&x);
            if (p->failed) return;
            literal &= v->k == E_LIT;
            PUSH(p, n->vals, n->nvals, v);
            if (x.cur.k != L_COMMA) break;
            lex_next(&x);
        }
        expect_end(&x, "cycle");
        /* Unnamed cycles with only literals share a counter by their text;
         * with variables each tag counts on its own (Ruby's behaviour). */
        if (!n->group) {
            if (literal) {
                cc_buf kb = CC_BUF_INIT;
                for (const char *q = vstart; q < x.end; q++)
                    if (!is_ws(*q)) cc_buf_putc(&kb, *q);
                n->key = dup(p, cc_buf_str(&kb), kb.len);
                cc_buf_free(&kb);
            } else {
                char k[48];
                snprintf(k, sizeof k, "\x01%p", (void *)t->at);
                n->key = dup(p, k, strlen(k));
            }
        }
        return;
    }
    if (name_is(name, nl, "comment")) {
        /* Skip to the matching endcomment; nested comments nest. */
        int depth = 1;
        while (p->i < p->ntok) {
            const tok *c = &p->toks[p->i++];
            if (c->k != K_TAG) continue;
            size_t cl;
            const char *cm;
            const char *cn = tag_name(c, &cl, &cm);
            if (name_is(cn, cl, "comment")) depth++;
            else if (name_is(cn, cl, "endcomment") && --depth == 0) return;
        }
        never_closed(p, t, "comment");
        return;
    }
    if (name_is(name, nl, "raw")) {
        /* the tokenizer turned the body into one text token */
        if (p->i < p->ntok && p->toks[p->i].k == K_TEXT) {
            liq_node *n = add(p, b, N_TEXT, &p->toks[p->i]);
            n->text = p->toks[p->i].s;
            n->len = (size_t)(p->toks[p->i].e - p->toks[p->i].s);
            p->i++;
        }
        if (p->i < p->ntok) p->i++;   /* endraw */
        return;
    }
    static const char *const block_ends[] = {"endif", "endunless", "endfor", "endcase", "endcapture", "endtablerow",
                                              "endcomment", "endraw", "else", "elsif", "when", "endifchanged", NULL};
    for (int k = 0; block_ends[k]; k++)
        if (name_is(name, nl, block_ends[k])) {
            perr_at(p, t->line, t->col, "syntax error: unexpected '%.*s' (no open block it closes)", (int)nl, name);
            return;
        }
    int l, col;
    locate_from(t->at, t->line, t->col, name, &l, &col);
    perr_at(p, l, col, "unknown tag '%.*s'", (int)nl, name);
}

liq_template *liq_parse(const char *file, int line0, const char *src, const liq_options *opt, liq_error *err)
{
    static const liq_options defaults = {0, 0};
    parser p;
    memset(&p, 0, sizeof p);
    p.file = file ? file : "";
    p.src = src;
    p.line0 = line0 > 0 ? line0 : 1;
    p.opt = opt ? opt : &defaults;
    p.err = err;
    liq_template *t = xcalloc(1, sizeof *t);
    t->a = lv_arena_new(0);
    t->file = xstrdup(p.file);
    /* Text tokens point into the source: keep a copy the template owns. */
    size_t n = strlen(src);
    char *copy = lv_alloc(t->a, n + 1);
    memcpy(copy, src, n + 1);
    p.src = copy;
    p.a = t->a;
    tokenize(&p);
    if (!p.failed) parse_block(&p, &t->body, NULL, NULL);
    free(p.toks);
    if (p.failed) {
        liq_free(t);
        return NULL;
    }
    return t;
}

void liq_free(liq_template *t)
{
    if (!t) return;
    lv_arena_free(t->a);
    free(t->file);
    free(t);
}

const char *liq_file(const liq_template *t) { return t->file; }

/* ---- lint walk ---------------------------------------------------------- */

typedef struct {
    const char **names;
    size_t n, cap;
} nameset;

static void ns_add(nameset *s, const char *n)
{
    if (!n) return;
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->names[i], n)) return;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->names = xrealloc(s->names, s->cap * sizeof *s->names);
    }
    s->names[s->n++] = n;
}

static int ns_has(const nameset *s, const char *n)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->names[i], n)) return 1;
    return 0;
}

static void collect_locals(const liq_block *b, nameset *s)
{
    for (size_t i = 0; i < b->n; i++) {
        const liq_node *n = &b->nodes[i];
        switch (n->k) {
        case N_ASSIGN: case N_CAPTURE: case N_INCREMENT: case N_DECREMENT: ns_add(s, n->name); break;
        case N_FOR: ns_add(s, n->name); ns_add(s, "forloop"); break;
        case N_TABLEROW: ns_add(s, n->name); ns_add(s, "tablerowloop"); break;
        default: break;
        }
        collect_locals(&n->body, s);
        collect_locals(&n->else_body, s);
        for (size_t k = 0; k < n->nbr; k++) collect_locals(&n->br[k].body, s);
        for (size_t k = 0; k < n->nwhens; k++) collect_locals(&n->whens[k].body, s);
    }
}

typedef struct {
    nameset locals;
    void (*fn)(void *, const char *, int, int);
    void (*partial)(void *, const char *, int, int);
    void *arg;
} walker;

static void walk_expr(walker *w, const liq_expr *e)
{
    if (!e) return;
    if (e->k == E_RANGE) {
        walk_expr(w, e->lo);
        walk_expr(w, e->hi);
        return;
    }
    if (e->k != E_VAR) return;
    for (size_t i = 0; i < e->npath; i++) walk_expr(w, e->path[i].idx);
    walk_expr(w, e->root_idx);
    if (!e->root || ns_has(&w->locals, e->root)) return;
    cc_buf b = CC_BUF_INIT;
    cc_buf_puts(&b, e->root);
    for (size_t i = 0; i < e->npath; i++) {
        if (e->path[i].name) cc_buf_printf(&b, ".%s", e->path[i].name);
        else if (e->path[i].idx->k == E_LIT && e->path[i].idx->lit.k == LV_STR)
            cc_buf_printf(&b, ".%s", e->path[i].idx->lit.u.str.s);
        else cc_buf_puts(&b, "[]");
    }
    w->fn(w->arg, cc_buf_str(&b), e->line, e->col);
    cc_buf_free(&b);
}

static void walk_chain(walker *w, const liq_chain *c)
{
    walk_expr(w, c->e);
    for (size_t i = 0; i < c->nf; i++) {
        for (size_t k = 0; k < c->f[i].nargs; k++) walk_expr(w, c->f[i].args[k]);
        for (size_t k = 0; k < c->f[i].nkw; k++) walk_expr(w, c->f[i].kwv[k]);
    }
}

static void walk_cond(walker *w, const liq_cond *c)
{
    for (; c; c = c->next) {
        walk_expr(w, c->l);
        walk_expr(w, c->r);
    }
}

static void walk_block(walker *w, const liq_block *b)
{
    for (size_t i = 0; i < b->n; i++) {
        const liq_node *n = &b->nodes[i];
        walk_chain(w, &n->chain);
        walk_expr(w, n->subject);
        walk_expr(w, n->limit);
        walk_expr(w, n->offset);
        walk_expr(w, n->cols);
        walk_expr(w, n->group);
        walk_expr(w, n->with);
        for (size_t k = 0; k < n->nvals; k++) walk_expr(w, n->vals[k]);
        for (size_t k = 0; k < n->nkw; k++) walk_expr(w, n->kwv[k]);
        for (size_t k = 0; k < n->nbr; k++) {
            walk_cond(w, n->br[k].cond);
            walk_block(w, &n->br[k].body);
        }
        for (size_t k = 0; k < n->nwhens; k++) {
            for (size_t v = 0; v < n->whens[k].nvals; v++) walk_expr(w, n->whens[k].vals[v]);
            walk_block(w, &n->whens[k].body);
        }
        if ((n->k == N_RENDER || n->k == N_INCLUDE) && w->partial && n->subject->k == E_LIT &&
            n->subject->lit.k == LV_STR)
            w->partial(w->arg, n->subject->lit.u.str.s, n->line, n->col);
        walk_block(w, &n->body);
        walk_block(w, &n->else_body);
    }
}

void liq_each_path(const liq_template *t, void (*fn)(void *, const char *, int, int),
                   void (*partial)(void *, const char *, int, int), void *arg)
{
    walker w;
    memset(&w, 0, sizeof w);
    w.fn = fn;
    w.partial = partial;
    w.arg = arg;
    collect_locals(&t->body, &w.locals);
    walk_block(&w, &t->body);
    free(w.locals.names);
}

/* ---- what a render reads from its environment --------------------------- */

typedef struct {
    void (*read)(void *, const char *, const char *);
    void *arg;
} reads;

static void reads_expr(reads *r, const liq_expr *e)
{
    if (!e) return;
    if (e->k == E_RANGE) {
        reads_expr(r, e->lo);
        reads_expr(r, e->hi);
        return;
    }
    if (e->k != E_VAR) return;
    reads_expr(r, e->root_idx);
    for (size_t i = 0; i < e->npath; i++) reads_expr(r, e->path[i].idx);
    if (!e->root) {
        r->read(r->arg, NULL, NULL);   /* [expr]: any root */
        return;
    }
    const char *field = NULL;
    if (e->npath && e->path[0].name) field = e->path[0].name;
    else if (e->npath && e->path[0].idx->k == E_LIT && e->path[0].idx->lit.k == LV_STR) field = e->path[0].idx->lit.u.str.s;
    /* A hash's pseudo-properties depend on all its keys. */
    if (field && (!strcmp(field, "size") || !strcmp(field, "first") || !strcmp(field, "last"))) field = NULL;
    r->read(r->arg, e->root, field);
}

static void reads_chain(reads *r, const liq_chain *c)
{
    reads_expr(r, c->e);
    for (size_t i = 0; i < c->nf; i++) {
        for (size_t k = 0; k < c->f[i].nargs; k++) reads_expr(r, c->f[i].args[k]);
        for (size_t k = 0; k < c->f[i].nkw; k++) reads_expr(r, c->f[i].kwv[k]);
    }
}

static void reads_block(reads *r, const liq_block *b)
{
    for (size_t i = 0; i < b->n; i++) {
        const liq_node *n = &b->nodes[i];
        /* A partial reads what it reads: anything, as far as this walk knows. */
        if (n->k == N_RENDER || n->k == N_INCLUDE) r->read(r->arg, NULL, NULL);
        reads_chain(r, &n->chain);
        reads_expr(r, n->subject);
        reads_expr(r, n->limit);
        reads_expr(r, n->offset);
        reads_expr(r, n->cols);
        reads_expr(r, n->group);
        reads_expr(r, n->with);
        for (size_t k = 0; k < n->nvals; k++) reads_expr(r, n->vals[k]);
        for (size_t k = 0; k < n->nkw; k++) reads_expr(r, n->kwv[k]);
        for (size_t k = 0; k < n->nbr; k++) {
            for (const liq_cond *c = n->br[k].cond; c; c = c->next) {
                reads_expr(r, c->l);
                reads_expr(r, c->r);
            }
            reads_block(r, &n->br[k].body);
        }
        for (size_t k = 0; k < n->nwhens; k++) {
            for (size_t v = 0; v < n->whens[k].nvals; v++) reads_expr(r, n->whens[k].vals[v]);
            reads_block(r, &n->whens[k].body);
        }
        reads_block(r, &n->body);
        reads_block(r, &n->else_body);
    }
}

void liq_each_read(const liq_template *t, void (*read)(void *arg, const char *root, const char *field), void *arg)
{
    reads r = {read, arg};
    reads_block(&r, &t->body);
}
