/* liquid_ast.h - the parsed form of a Liquid template, shared by the
 * parser (liquid_parse.c), the renderer (liquid_render.c) and the filter
 * table (liquid_filters.c).  Every node lives in the template's arena. */
#ifndef CC_LIQUID_AST_H
#define CC_LIQUID_AST_H

#include "liquid.h"

typedef struct liq_expr liq_expr;
typedef struct liq_node liq_node;
typedef struct liq_ctx liq_ctx;

typedef enum { E_LIT, E_VAR, E_RANGE } liq_expr_kind;

typedef struct {
    const char *name;        /* .name, or NULL for [idx] */
    liq_expr *idx;
} liq_step;

struct liq_expr {
    liq_expr_kind k;
    lv lit;                  /* E_LIT */
    const char *root;        /* E_VAR: root name, NULL when the root is [idx] */
    liq_expr *root_idx;
    liq_step *path;
    size_t npath;
    liq_expr *lo, *hi;       /* E_RANGE */
    int line, col;
};

/* A filter: input, positional args, named args; errors via the context. */
typedef lv (*liq_filter_fn)(liq_ctx *c, lv in, const lv *args, size_t nargs, const char *const *kw,
                            const lv *kwv, size_t nkw);

typedef struct {
    const char *name;
    liq_filter_fn fn;        /* NULL: an unknown filter passed through */
    int min_args, max_args;
    liq_expr **args;
    size_t nargs;
    const char **kw;
    liq_expr **kwv;
    size_t nkw;
    int line, col;
} liq_filter;

typedef struct {
    liq_expr *e;
    liq_filter *f;
    size_t nf;
} liq_chain;

typedef struct liq_cond {
    liq_expr *l, *r;         /* r NULL: truthiness of l */
    const char *op;          /* "==", "!=", "<", ">", "<=", ">=", "contains" */
    int join;                /* 0 none, 'a' and, 'o' or: with `next`, right-associative */
    struct liq_cond *next;
} liq_cond;

typedef struct {
    liq_node *nodes;
    size_t n;
} liq_block;

typedef struct {
    liq_cond *cond;          /* NULL: else */
    int negate;              /* unless */
    liq_block body;
} liq_branch;

typedef struct {
    liq_expr **vals;         /* NULL/0: else */
    size_t nvals;
    liq_block body;
} liq_when;

typedef enum {
    N_TEXT, N_OUT, N_IF, N_CASE, N_FOR, N_TABLEROW, N_BREAK, N_CONTINUE, N_ASSIGN, N_CAPTURE,
    N_INCREMENT, N_DECREMENT, N_CYCLE, N_RENDER, N_INCLUDE, N_IFCHANGED
} liq_node_kind;

struct liq_node {
    liq_node_kind k;
    int line, col;
    const char *text;        /* N_TEXT */
    size_t len;
    liq_chain chain;         /* N_OUT, N_ASSIGN */
    const char *name;        /* ASSIGN/CAPTURE/INCREMENT/DECREMENT target, FOR/TABLEROW variable */
    liq_branch *br;          /* N_IF */
    size_t nbr;
    liq_expr *subject;       /* N_CASE subject; FOR/TABLEROW collection; RENDER/INCLUDE name */
    liq_when *whens;         /* N_CASE, in order (else entries interleaved as Ruby does) */
    size_t nwhens;
    liq_block body, else_body;
    liq_expr *limit, *offset, *cols;
    int offset_continue, reversed;
    liq_expr **vals;         /* N_CYCLE values */
    size_t nvals;
    liq_expr *group;         /* N_CYCLE group */
    const char *key;         /* N_CYCLE shared key; FOR loop name for offset:continue */
    liq_expr *with;          /* RENDER/INCLUDE `with`/`for` value */
    int is_for;
    const char *alias;
    const char **kw;         /* RENDER/INCLUDE named args */
    liq_expr **kwv;
    size_t nkw;
};

struct liq_template {
    lv_arena *a;
    char *file;
    liq_block body;
};

/* liquid_filters.c */
int liq_find_filter(const char *name, liq_filter_fn *fn, int *min_args, int *max_args);
/* liquid_render.c: for filters */
void liq_fail(liq_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
lv_arena *liq_arena(liq_ctx *c);
int64_t liq_now(liq_ctx *c);
const char *liq_zone(liq_ctx *c);

#endif
