/* plan.h - the planner: decides which (campaign, step, row, occurrence)
 * are due at the clock's instant, picks each message's channel, renders it,
 * and records it in the outbox.
 *
 * Planning is split from recording so that `plan --dry-run` and `preview`
 * show exactly what `plan` would write: plan_compute() reads only, and
 * plan_record() writes a computed plan in one transaction, where the
 * care_occurrences primary key makes each occurrence planned at most once
 * even if two planners race. */
#ifndef CC_PLAN_H
#define CC_PLAN_H

#include <sqlite3.h>

#include "campaign.h"
#include "clock.h"
#include "config.h"
#include "expr.h"

typedef struct {
    const cc_campaign *campaign;   /* borrowed */
    size_t step_index;
    char *row_id, *customer_id, *occurrence;
    const char *status;            /* planned | skipped | holdout (static strings) */
    const char *reason;            /* no-address | suppressed | no-consent | NULL */
    const char *channel;           /* email | sms | task | NULL */
    char *to, *to_name, *locale;
    int64_t send_after;
    char send_after_iso[32];
    char zone[64];                 /* the customer's time zone (else the business zone) */
    char *subject, *body_text, *body_html, *sms_text, *unsubscribe_url;   /* task: subject = title */
} plan_item;

typedef struct {
    plan_item *items;
    size_t n, cap;
} plan_list;

typedef struct {
    const char *only_campaign;     /* preview/trigger: one campaign */
    const char *only_customer;     /* preview --customer */
    int include_manual;            /* evaluate campaigns with schedule: manual */
    /* `carecast trigger`: a one-off send now.  When `occurrence` is set,
     * `when`, `repeat`, `send_at`, `schedule` and `active` are ignored and
     * every row that passes the campaign's `where` (and the step's `if`)
     * is due once, under this occurrence key; consent, suppressions, caps
     * and quiet hours still apply. */
    const char *occurrence;        /* the trigger's idempotency key */
    const char *only_step;         /* trigger --step: this step only */
    const char *const *customers;  /* trigger --customer: these customers only */
    size_t n_customers;
    const char *where;             /* trigger --where: ANDed with the campaign's own */
    const char *const *var_names;  /* trigger --var K=V: vars.K overridden by V */
    const char *const *var_values;
    size_t n_vars;
} plan_filter;

/* What planning cost in statements: the audience of a step is one query,
 * and the per-message look-ups are prepared once per run, so none of these
 * grows with the number of customers. */
typedef struct {
    size_t steps;              /* campaign steps evaluated */
    size_t audience_queries;   /* one per step */
    size_t prepared;           /* every statement prepared, look-ups included */
} plan_stats;

/* Compute what is due.  Reads only.  Errors (a broken expression, a
 * missing template) are diagnostics and CC_ERR_INPUT; nothing is planned
 * then.  `stats` may be NULL. */
cc_code plan_compute(sqlite3 *db, const cc_config *cfg, const cc_clock *clk, const cc_campaign *camps,
                     size_t n_camps, const plan_filter *filter, plan_list *out, cc_diags *diags,
                     plan_stats *stats);

/* plan_compute without holding the plan (plan --dry-run): each final
 * item, policy applied, is handed to `emit` in the very order
 * plan_compute's list would have, then freed.  Memory does not grow with
 * the number of due rows (except for the steps of a campaign with
 * `sample`, drawn among all their rows).  On an error some items may
 * have been handed on already: the caller discards them. */
cc_code plan_compute_stream(sqlite3 *db, const cc_config *cfg, const cc_clock *clk, const cc_campaign *camps,
                            size_t n_camps, const plan_filter *filter,
                            void (*emit)(void *arg, const plan_item *it), void *arg, cc_diags *diags,
                            plan_stats *stats);

/* The occurrences of step `si` of campaign `c` on the business-zone days
 * [since, until] (until no later than the clock's today, and on today no
 * later than its instant), planned or not: for each row the step's
 * audience query selects (`where` and `if` as they hold at the clock),
 * each occurrence of its `when` in those days, with the very occurrence
 * key plan_record() writes for it.  This is what ought to have been
 * planned, for reports to hold against what was.  A step without `when`
 * has none: its occurrence is the repeat bucket of the run that plans it.
 * `enabled`, `schedule` and `active_*` are not looked at.  Broken
 * expressions or a missing table are diagnostics and CC_ERR_INPUT. */
typedef void (*plan_occurrence_fn)(void *arg, const char *row_id, const char *customer_id, const char *occurrence);
cc_code plan_occurrences(sqlite3 *db, const cc_config *cfg, const cc_clock *clk, const cc_campaign *c, size_t si,
                         cc_date since, cc_date until, plan_occurrence_fn fn, void *arg, cc_diags *diags);

/* Is the customer in the campaign's holdout (never sent it)? */
int plan_held_out(const cc_campaign *c, const char *customer_id);

/* What a trigger's --where means for campaign `c` (expr_meaning): the
 * same text for every spelling of one condition, whatever the day, so
 * the trigger's occurrence key can be made from it.  A broken expression
 * is diagnosed (file "--where") and CC_ERR_INPUT. */
cc_code plan_trigger_where_meaning(sqlite3 *db, const cc_config *cfg, const cc_campaign *c, const char *where,
                                   cc_buf *out, cc_diags *diags);

/* Write the plan into care_occurrences and care_outbox in one transaction.
 * Occurrences already recorded are left alone (not counted).  `recorded`
 * counts new outbox rows. */
cc_code plan_record(sqlite3 *db, const cc_clock *clk, plan_list *pl, size_t *recorded);
/* plan_record for an idempotency key: nothing is written when campaign
 * `camp` already has occurrence `occurrence` (for any step or customer);
 * then `*claimed_at` is when it was first planned (else 0).  The look and
 * the writing are one transaction. */
cc_code plan_record_claim(sqlite3 *db, const cc_clock *clk, plan_list *pl, const char *camp, const char *occurrence,
                          size_t *recorded, int64_t *claimed_at);
/* 1 when campaign `camp` has occurrence `occ` for any step or row (then
 * `*first`, if not NULL, is when it was first planned), 0 when not, -1
 * when the database could not say. */
int plan_occurrence_taken(sqlite3 *db, const char *camp, const char *occ, int64_t *first);

/* One JSON object per item, cli.md field names. */
void plan_item_json(const plan_item *it, cc_buf *out);
void plan_list_free(plan_list *pl);

/* Check every expression and template of a campaign against the database
 * (for lint); diagnostics for each problem.  `columns` (may be NULL) gets
 * each column the expressions read, with its type and where it came from. */
cc_code plan_check_campaign(sqlite3 *db, const cc_config *cfg, const cc_clock *clk, const cc_campaign *c,
                            cc_diags *diags, expr_column_log *columns);
/* The template part of plan_check_campaign (files, syntax, variables):
 * what plan, preview and trigger check before computing anything. */
cc_code plan_check_templates(sqlite3 *db, const cc_config *cfg, const cc_clock *clk, const cc_campaign *c,
                             cc_diags *diags);

#endif
