/* template.h - Liquid templates, compiled once and rendered per message.
 *
 * This version covers the core a care message needs: text, output tags
 * `{{ path | filter: arg }}` with whitespace control, `{% if %}`/`elsif`/
 * `else`/`unless` with comparisons, `{% comment %}` and `{% raw %}`.  The
 * filters are listed in template.c.  Anything else is a FILE:LINE:COL
 * compile error naming the unsupported tag or filter, never silently
 * ignored.
 *
 * Variables are a flat list of dotted names ("customer.first_name") with
 * text values; a missing or null variable renders empty. */
#ifndef CC_TEMPLATE_H
#define CC_TEMPLATE_H

#include "cc.h"

typedef struct tpl tpl;

typedef struct {
    char **names;
    char **values;        /* NULL = null */
    size_t n, cap;
} tpl_vars;

void tpl_vars_set(tpl_vars *v, const char *name, const char *value);
const char *tpl_vars_get(const tpl_vars *v, const char *name, int *found);
void tpl_vars_free(tpl_vars *v);

/* Compile `src` (named `file` in messages; `line` is the line of the first
 * character, for front matter).  NULL with a diagnostic on error. */
tpl *tpl_compile(const char *file, int line, const char *src, cc_diags *diags);
/* Render into `out`.  `html` escapes output tags (&, <, >, ", '). */
void tpl_render(const tpl *t, const tpl_vars *vars, int html, cc_buf *out);
/* Call `fn` for each variable path the template reads (for lint). */
void tpl_each_path(const tpl *t,
                   void (*fn)(void *arg, const char *file, const char *path, int line, int col),
                   void *arg);
void tpl_free(tpl *t);

#endif
