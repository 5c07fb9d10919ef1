/* segment.h - segment definition files (campaigns.md section 8): loading
 * and checking them.
 *
 * A file in the rules folder whose top-level key is `segment:` defines one
 * segment.  This module validates its keys and compiles its expressions
 * against the customers table, so `lint` reports mistakes with
 * FILE:LINE:COL.  Computing segment values (`carecast segment`) is not
 * implemented in this version. */
#ifndef CC_SEGMENT_H
#define CC_SEGMENT_H

#include <sqlite3.h>

#include "campaign.h"
#include "config.h"

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
/* Compile every expression of `s` against the database (for lint). */
cc_code segment_check(sqlite3 *db, const cc_config *cfg, const char *today, const cc_segment *s, cc_diags *diags);
void segments_free(cc_segment *list, size_t n);

#endif
