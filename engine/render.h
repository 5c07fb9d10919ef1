/* render.h - turns a template name, a channel and a customer's variables
 * into the text of a message, with the template files compiled once.
 *
 * Files in the templates folder (campaigns.md section 9):
 *   NAME.sms.liquid            SMS text
 *   NAME.email.liquid          front matter with `subject:`, then the text body
 *   NAME.email.html.liquid     optional HTML body (output auto-escaped)
 *   NAME.task.liquid           a care task for staff: front matter with
 *                              `subject:` (the task's title), then the body
 *   NAME.LOCALE.CHANNEL...     locale variants: zh-CN first, then zh, then none
 */
#ifndef CC_RENDER_H
#define CC_RENDER_H

#include "cc.h"
#include "template.h"

typedef struct render_set render_set;

typedef struct {
    char *subject;      /* email */
    char *text;         /* email text body or SMS text */
    char *html;         /* email HTML body or NULL */
} rendered;

render_set *render_open(const char *templates_dir);
void render_close(render_set *rs);

/* Render `name` for `channel` (email | sms | task) in `locale` (may be NULL).
 * CC_ERR_NOT_FOUND when no file exists for that channel; CC_ERR_INPUT
 * when a file does not compile (diagnostics added once per file). */
cc_code render_message(render_set *rs, const char *name, const char *channel, const char *locale,
                       const tpl_vars *vars, rendered *out, cc_diags *diags);
void rendered_free(rendered *r);

/* 1 when a template file exists for (name, channel) in any locale. */
int render_exists(render_set *rs, const char *name, const char *channel);

/* Compile every file for `name`/`channel` found (all locales) and report
 * errors; calls `check` for every variable path used (for lint). */
cc_code render_check(render_set *rs, const char *name, const char *channel, cc_diags *diags,
                     void (*check)(void *arg, const char *file, const char *path, int line, int col),
                     void *arg);

#endif
