/* campaign.h - a campaign file (campaigns.md sections 3-5) as loaded and
 * checked from YAML.
 *
 * campaign_load() checks every key and value shape and reports problems as
 * FILE:LINE:COL diagnostics; expressions are only located here (text and
 * position) and compiled against the database by the planner and `lint`. */
#ifndef CC_CAMPAIGN_H
#define CC_CAMPAIGN_H

#include "cc.h"

typedef struct {
    char *text;
    int line, col;          /* where the expression's first character is */
} cc_expr_src;

typedef enum { WHEN_NONE, WHEN_EXPR, WHEN_RECURRING } cc_when_kind;

typedef struct {
    char *name;
    cc_when_kind when_kind;
    cc_expr_src when;        /* WHEN_EXPR: the date; WHEN_RECURRING: the base date */
    char every;              /* 'y' year, 'm' month (WHEN_RECURRING) */
    int64_t offset_days;     /* WHEN_RECURRING offset */
    cc_expr_src cond;        /* `if`; text NULL = true */
    char *template_name;
    char **channels;
    size_t n_channels;
    int send_at_minutes;     /* minutes after midnight, -1 = none */
    char *repeat;            /* once | daily | weekly | monthly | yearly | after N days */
    int64_t repeat_days;     /* for "after N days" */
    int64_t grace_days;      /* for date occurrences: whole days */
    int64_t grace_s;         /* for date-time occurrences */
    int line, col;
    int template_line, template_col;   /* where `template:` was written (0 = not) */
    cc_expr_src assignee;    /* `task` channel: who gets the task (an email expression); text NULL = none */
} cc_step;

typedef struct {
    char *file;
    char *id;
    char *title, *owner;
    int is_marketing;
    int kind_default;                    /* no `kind:` written: marketing, as the spec has it */
    int enabled;
    char *active_from, *active_until;   /* YYYY-MM-DD or NULL */
    char *schedule;
    char *from_table;
    int from_line, from_col;             /* where audience.from was written */
    cc_expr_src where;
    cc_step *steps;
    size_t n_steps;
    char **var_names;
    cc_expr_src *var_exprs;
    size_t n_vars;
    int deliver_all;
    int priority;
    double holdout;                      /* percent */
    long sample;                         /* 0 = all */
    int64_t sla_s;                       /* 0 = none */
    int ignore_quiet_hours;
    int max_segments;                    /* SMS parts at most; 0 = the config's sms.max_segments */
} cc_campaign;

/* Load one campaign file.  Returns CC_ERR_INPUT with diagnostics on error;
 * 1 in *is_segment (and CC_OK, nothing loaded) for a `segment:` file. */
cc_code campaign_load(const char *path, cc_campaign *c, int *is_segment, cc_diags *diags);
/* The same for a file's text already in memory (`len` bytes; `path` names
 * it in diagnostics and gives the default id). */
cc_code campaign_load_text(const char *path, const char *text, size_t len, cc_campaign *c, int *is_segment,
                           cc_diags *diags);
/* Load every *.yaml / *.yml campaign under `dir` (sorted by file name,
 * sub-folders included).  Segment files are skipped.  Campaign ids must be
 * unique.  On error the diagnostics say why and *out holds what loaded. */
cc_code campaign_load_dir(const char *dir, cc_campaign **out, size_t *n, cc_diags *diags);
/* The *.yaml / *.yml files under `dir` (sub-folders too), sorted; the
 * caller frees each and the array. */
char **campaign_list_files(const char *dir, size_t *n);
const cc_campaign *campaign_find(const cc_campaign *list, size_t n, const char *id);
void campaign_free(cc_campaign *c);
void campaigns_free(cc_campaign *list, size_t n);

#endif
