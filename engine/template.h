/* template.h - carecast's use of the Liquid engine (liquid.h): typed
 * template variables built by the planner, compilation with FILE:LINE:COL
 * diagnostics, and rendering with carecast's clock and partials.
 *
 * Variables are set by dotted name ("customer.first_name", "vars.age")
 * with a type; at render time they become nested hashes, so templates can
 * write `{% if vars.age >= 60 %}` and compare numbers as numbers.  Null
 * renders empty. */
#ifndef CC_TEMPLATE_H
#define CC_TEMPLATE_H

#include "cc.h"
#include "liquid_value.h"

typedef struct tpl tpl;

typedef enum { TPL_NULL, TPL_TEXT, TPL_INT, TPL_REAL } tpl_type;

typedef struct tpl_env tpl_env;

/* Zero-initialise ({0} or memset), set, render any number of times, free.
 * Strings are copied into arenas the variables own (no malloc per
 * variable).  The nested Liquid values a render reads are built once and
 * kept: a message that sets the same names in the same order as the one
 * before (the planner's case: tpl_vars_clear, then the same campaign's
 * variables) reuses them and only refreshes the leaves, and rendering
 * several templates for one message (subject, text, HTML) builds nothing
 * more. */
typedef struct {
    char **names;
    char **values;        /* text form; NULL = null */
    tpl_type *types;
    size_t n, cap;
    int64_t now;          /* the clock for `date` ('now', 'today') */
    const char *zone;     /* borrowed; NULL = UTC */
    /* private to template.c */
    size_t kept;          /* names[0..kept) are valid: those of this message
                             (n) and, after them, the rest of the last one's */
    uint32_t *hashes;     /* of the names */
    uint32_t *ncomp;      /* components of each name ("a.b" has 2) */
    size_t components;    /* of this message's names */
    uint64_t seen[4];     /* a bit per name hash: clear = surely a new name */
    int deep;             /* some name has two dots or more */
    size_t *lens;         /* of the values */
    unsigned shape;       /* changes whenever a name takes a new slot */
    unsigned values_gen;  /* changes whenever a value is set */
    size_t name_waste;    /* bytes of dropped names in the name arena */
    lv_arena namep;       /* names: kept from message to message */
    lv_arena strings;     /* values: emptied for each message */
    lv_arena envp;        /* the Liquid values (envs): kept while the shape holds */
    tpl_env *envs;        /* the built environments, one per tpl_needs */
    size_t nenvs;
    unsigned envs_shape;  /* the shape and name count they were built for */
    size_t envs_n;
} tpl_vars;

/* Text (NULL value = null). */
void tpl_vars_set(tpl_vars *v, const char *name, const char *value);
/* Typed: `text` is the value's text form (an integer or real as SQLite
 * prints it); TPL_NULL ignores it. */
void tpl_vars_set_typed(tpl_vars *v, const char *name, tpl_type type, const char *text);
void tpl_vars_set_clock(tpl_vars *v, int64_t now, const char *zone);
/* The text form of a variable (NULL when null or unset). */
const char *tpl_vars_get(const tpl_vars *v, const char *name, int *found);
void tpl_vars_free(tpl_vars *v);
/* Empty again (as after free), keeping the memory for the next message. */
void tpl_vars_clear(tpl_vars *v);

/* What templates may read of their variables (an over-approximation:
 * roots, root.field, or everything), so that rendering builds Liquid
 * values only for those.  Empty until tpl_needs_add. */
typedef struct tpl_needs tpl_needs;
tpl_needs *tpl_needs_new(void);
void tpl_needs_add(tpl_needs *n, const tpl *t);
void tpl_needs_free(tpl_needs *n);

/* Compile `src` (named `file` in messages; `line` is the line of the first
 * character, for front matter).  NULL with a diagnostic on error. */
tpl *tpl_compile(const char *file, int line, const char *src, cc_diags *diags);

/* Finds a partial for {% render 'name' %} / {% include %}: a compiled
 * template the loader keeps, or NULL (with a diagnostic when it exists but
 * does not compile; `*missing` = 1 when there is no such file). */
typedef const tpl *(*tpl_partial_fn)(void *arg, const char *name, int *missing, cc_diags *diags);

/* Render into `out`.  `html` escapes output tags (&, <, >, ", ').
 * CC_ERR_INPUT with a FILE:LINE:COL diagnostic when rendering fails (a
 * division by zero, a resource limit, a missing partial). */
cc_code tpl_render(const tpl *t, const tpl_vars *vars, int html, tpl_partial_fn partials, void *partials_arg,
                   cc_buf *out, cc_diags *diags);
/* The same, building only the variables `needs` says `t` may read (needs
 * must cover t: tpl_needs_add(needs, t)); NULL = all. */
cc_code tpl_render_needs(const tpl *t, const tpl_vars *vars, const tpl_needs *needs, int html,
                         tpl_partial_fn partials, void *partials_arg, cc_buf *out, cc_diags *diags);

/* Call `fn` for each variable path the template reads from its context
 * (template-local variables excluded), and `partial` for each partial it
 * names with a string literal (for lint). */
void tpl_each_path(const tpl *t,
                   void (*fn)(void *arg, const char *file, const char *path, int line, int col),
                   void (*partial)(void *arg, const char *file, const char *name, int line, int col),
                   void *arg);
const char *tpl_file(const tpl *t);
void tpl_free(tpl *t);

#endif
