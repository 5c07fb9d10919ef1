/* segment.h - segment definition files (campaigns.md section 8): loading
 * and checking them.
 *
 * A file in the rules folder whose top-level key is `segment:` defines one
 * segment.  This module validates its keys and compiles its expressions
 * against the customers table, so `lint` reports mistakes with
 * FILE:LINE:COL.
 *
 * segment_compute() computes segment values (`carecast segment`): one
 * set-based INSERT ... SELECT per segment into a temporary table (window
 * functions for abc and rfm, CASE WHEN for rules; value expressions are
 * compiled by expr_compile, aggregates becoming correlated subqueries), then
 * three statements move them into care_segment_values, append the changes
 * to care_segment_history and stamp care_segment_runs.  Never a query per
 * customer.  All segments are written in one transaction: on any error
 * nothing is written.
 *
 * The rules, exactly:
 *   abc    customers ordered by value descending, nulls last, ties by
 *          customer id ascending (the id column's own order); with N
 *          customers and cuts c1, c2, ... the first ceil(N x c1) take the
 *          first label, those up to ceil(N x (c1 + c2)) the second, and so
 *          on; the rest the last label.  score = the position (1 = best),
 *          value = the value.
 *   rfm    each of recency (a date: later is better), frequency and
 *          monetary scores 1-5: score = 1 + floor(5 x (rank - 1) / N),
 *          where rank is SQL RANK() over the values ascending: equal values
 *          share a rank and so always share a score; a null value (no
 *          orders) is the lowest value and scores 1.  label = the three
 *          digits "RFM" ("545"); score = "R,F,M"; value = monetary.
 *   rules  the label of the first rule whose `if` is true; none: null.
 *
 * A label change moves the old label to previous_label, sets changed_at
 * and appends a history row; an unchanged label keeps both, so
 * previous(segment.X) is the label before the last change.  A customer's
 * first label has a null previous label. */
#ifndef CC_SEGMENT_H
#define CC_SEGMENT_H

#include <sqlite3.h>
#include <stdint.h>

#include "campaign.h"
#include "config.h"
#include "expr.h"

typedef enum { SEG_ABC, SEG_RFM, SEG_RULES } segment_method;

typedef struct {
    char *label;
    cc_expr_src cond;
} segment_rule;

typedef struct {
    char *file;
    char *name;
    segment_method method;
    cc_expr_src value;                 /* abc */
    double *cuts;                      /* abc: fractions, e.g. 0.05 */
    size_t n_cuts;
    char **labels;                     /* abc */
    size_t n_labels;
    segment_rule *rules;               /* rules */
    size_t n_rules;
    cc_expr_src recency, frequency, monetary;   /* rfm */
} cc_segment;

/* Load every segment file under `dir` (the rules folder).  Problems are
 * diagnostics; returns CC_ERR_INPUT when any file is wrong. */
cc_code segment_load_dir(const char *dir, cc_segment **out, size_t *n, cc_diags *diags);
/* Compile every expression of `s` against the database (for lint);
 * `columns` (may be NULL) gets each column they read, typed. */
cc_code segment_check(sqlite3 *db, const cc_config *cfg, const char *today, const cc_segment *s, cc_diags *diags,
                      expr_column_log *columns);
void segments_free(cc_segment *list, size_t n);

/* The names of the segments defined under `dir`, loaded once per process
 * and kept (the expression compiler asks for every `segment.X`). */
const char *const *segment_names(const char *dir, size_t *n);

typedef struct {
    size_t customers;      /* customers computed */
    size_t changed;        /* label changes recorded in the history */
} segment_result;

/* Compute `segs` as of `now` (instant) / `today` and `now_local`
 * ("YYYY-MM-DD HH:MM:SS", business zone).  `res` has n entries. */
cc_code segment_compute(sqlite3 *db, const cc_config *cfg, int64_t now, const char *today, const char *now_local,
                        const cc_segment *segs, size_t n, segment_result *res, cc_diags *diags);
/* 1 when some segment of `segs` was never computed or was computed a day
 * (86400 s) or more before `now`. */
int segment_stale(sqlite3 *db, const cc_segment *segs, size_t n, int64_t now);

/* For reports: customers per label now, and the movement of the last
 * computation (`entered`: customers whose label became this one then,
 * `left`: customers whose label stopped being this one then).  A null
 * label (rules matched nothing, or a customer's first computation for
 * `left`) is label NULL.  *computed_at is the last computation (0: never). */
typedef struct {
    char *label;
    long long customers, entered, left;
} segment_label_count;
cc_code segment_counts(sqlite3 *db, const char *segment, segment_label_count **out, size_t *n, int64_t *computed_at);
void segment_counts_free(segment_label_count *c, size_t n);

/* The moves of the last computation: how many customers went from label
 * `from` to label `to` (either NULL: no label; `from` is NULL too on a
 * customer's first computation), most first. */
typedef struct {
    char *from, *to;
    long long customers;
} segment_move;
cc_code segment_moves(sqlite3 *db, const char *segment, segment_move **out, size_t *n);
void segment_moves_free(segment_move *m, size_t n);

#endif
