/* liquid.h - the Liquid template engine: parse once, render many times.
 *
 * liq_parse() turns source text into a tree (liquid_parse.c); liq_render()
 * walks it against a hash of variables (liquid_render.c) with the standard
 * filters (liquid_filters.c).  Rendering is bounded: loop iterations,
 * partial depth, output size and memory all have limits, so a template can
 * fail but never hang or exhaust the process.  Both stages report errors
 * with a line and column; nothing here prints. */
#ifndef CC_LIQUID_H
#define CC_LIQUID_H

#include "cc.h"
#include "liquid_value.h"

typedef struct liq_template liq_template;

typedef struct {
    char *msg;          /* owned; NULL when no error */
    char *file;         /* template (or partial) the error is in */
    int line, col;
} liq_error;

void liq_error_clear(liq_error *e);

typedef struct {
    /* Ruby Liquid's lax parser tolerates stray '|' in output tags; carecast
     * parses strictly and the conformance runner follows a case's error_mode. */
    int lax;
    /* Unknown filters: a compile error (carecast) or passed through (Ruby). */
    int unknown_filters_ok;
} liq_options;

/* Parse `src`; `file` names it in errors, `line0` is the line of its first
 * character.  NULL with *err set on a syntax error. */
liq_template *liq_parse(const char *file, int line0, const char *src, const liq_options *opt, liq_error *err);
void liq_free(liq_template *t);
const char *liq_file(const liq_template *t);

typedef struct {
    size_t max_iterations;   /* all loop iterations of one render, partials included */
    int max_depth;           /* nested render/include */
    size_t max_output;       /* bytes of output */
    size_t max_memory;       /* bytes of values built while rendering */
} liq_limits;

typedef struct {
    lv env;                  /* a hash of the root variables (or nil) */
    int html_escape;         /* escape &<>"' in output tags (HTML bodies) */
    int64_t now;             /* unix seconds for 'now'/'today' in `date` */
    const char *zone;        /* IANA zone for dates; NULL = UTC */
    liq_limits limits;       /* zeros = the defaults below */
    /* Find a partial by name for render/include: a parsed template that the
     * callback keeps ownership of, or NULL with *err set. */
    const liq_template *(*load_partial)(void *arg, const char *name, liq_error *err);
    void *load_arg;
} liq_render_opts;

#define LIQ_DEFAULT_ITERATIONS 1000000
#define LIQ_DEFAULT_DEPTH 100
#define LIQ_DEFAULT_OUTPUT (16u << 20)
#define LIQ_DEFAULT_MEMORY (256u << 20)

/* Render into `out`: 0, or -1 with *err set (output so far is kept). */
int liq_render(const liq_template *t, const liq_render_opts *opt, cc_buf *out, liq_error *err);

/* Lint support: call `fn` for every variable path the template reads whose
 * root is not one the template defines itself (assign, capture, for,
 * tablerow, increment...).  `path` is dotted ("customer.first_name");
 * a computed index shows as "[]".  `partial` is called for every static
 * render/include name with its location. */
void liq_each_path(const liq_template *t,
                   void (*fn)(void *arg, const char *path, int line, int col),
                   void (*partial)(void *arg, const char *name, int line, int col), void *arg);

/* What rendering `t` may read from its environment, over-approximated
 * (local variables are not told apart): read(arg, root, field) for
 * root.field (field the first step, by name or string literal);
 * field NULL when the root may be read whole (or by a computed key, or for
 * size/first/last); root NULL when any root may be (a computed root, or a
 * partial). */
void liq_each_read(const liq_template *t, void (*read)(void *arg, const char *root, const char *field), void *arg);

#endif
