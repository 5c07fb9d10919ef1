/* report.h - the figures of `carecast report`, computed from the outbox.
 *
 * report_compute() owns the definitions of the KPIs a marketing lead reads
 * (care-practices.md "KPIs to report"); cmd_report.c only lays them out.
 * Every figure comes from a handful of GROUP BY queries over care_outbox
 * (and, for coverage, the customers or care_segment_values), never from a
 * query per customer, so a report over millions of rows stays one pass.
 * The SLA adds, per step of an SLA campaign, the step's audience query
 * for the period, and a ledger look-up per occurrence the outbox lacks.
 *
 * Definitions, over the outbox rows of the period: a sent message by its
 * sent_at, a failed one by its last attempt (both when the customer was,
 * or was not, reached), every other by its send_after:
 *   planned      every row (sent, waiting, failed, skipped and holdout alike)
 *   sent         status sent;  delivered / undelivered: the delivery report
 *   failed       status failed;  waiting: planned, sending or retry
 *   skipped      status skipped, counted by reason;  holdout: status holdout
 *   cancelled    status cancelled (`carecast cancel`: never sent)
 * SLA (campaigns with `sla:`): the occurrences (row, occurrence) whose time
 * lies in the period: those the campaign's steps select for the period
 * (plan_occurrences: due, whether planned or not) and those the outbox
 * holds.  One is met when its first message was sent within sla of the
 * occurrence, breached when sent later, or still unsent at occurrence +
 * sla (never planned, skipped for want of an address or consent, failed,
 * waiting: the customer was not acknowledged), pending otherwise; holdout
 * and not-drawn occurrences are left out (they are meant not to be sent).
 * Coverage (config policy.coverage): per label, customers, their sent
 * messages in the period (task-channel rows are for staff and do not count),
 * and how many customers are below the minimum scaled to the period.
 * Segments (report --segments): for every computed segment, per label now:
 * customers, the movement of the last computation (entered, left, and the
 * moves from label to label), the sent messages of the period to the
 * customers who have the label now (task rows excluded, as for coverage),
 * and, where policy.coverage names the label, its minimum and how many
 * are below it (the coverage figures above). */
#ifndef CC_REPORT_H
#define CC_REPORT_H

#include <sqlite3.h>

#include "campaign.h"
#include "clock.h"
#include "config.h"
#include "segment.h"

/* The status columns, in the order of report_counts.v. */
enum { RC_PLANNED, RC_SENT, RC_DELIVERED, RC_UNDELIVERED, RC_FAILED, RC_WAITING, RC_SKIPPED, RC_HOLDOUT, RC_CANCELLED,
       RC_N };
extern const char *const report_count_names[RC_N];

typedef struct {
    long long v[RC_N];
} report_counts;

typedef struct {
    char *reason;
    long long n;
} report_reason;

typedef struct {
    char *channel;            /* NULL: no channel was eligible */
    report_counts c;
} report_channel;

typedef struct {
    char *name;
    report_counts c;
    report_channel *channels;
    size_t n_channels;
    report_reason *reasons;   /* skipped by reason, most first */
    size_t n_reasons;
} report_step;

/* An occurrence of an SLA campaign past its deadline without a message
 * sent in time. */
typedef struct {
    char *row, *customer, *step, *occurrence;
    int64_t deadline;         /* occurrence + sla */
    int64_t sent_at;          /* the first message sent, -1: none */
    char *reason;             /* never planned | sent late | waiting | failed | skipped: REASON | another status */
} report_breach;

typedef struct {
    char *id;
    char *title;              /* from the rules folder; NULL when the file is gone */
    int64_t sla_s;            /* 0 = none */
    report_counts c;
    report_step *steps;       /* in the campaign file's order, unknown steps last */
    size_t n_steps;
    report_reason *reasons;
    size_t n_reasons;
    /* SLA, when sla_s > 0 */
    long long sla_occurrences, sla_met, sla_breached, sla_pending;
    report_breach *sla_breaches;   /* every breach, earliest deadline first */
    size_t n_sla_breaches;
} report_campaign;

typedef struct {
    char *segment, *label, *rule;
    const char *source;       /* "segment" (care_segment_values) or "customers" (a column); NULL: none */
    long long customers, contacts, below;
    long long required;       /* the minimum over the period */
} report_coverage;

typedef struct {
    char *label;                  /* NULL: no label (rules matched nothing, or before the first computation) */
    long long customers, entered, left, contacts;
    const report_coverage *coverage;   /* the policy.coverage row of this label, or NULL */
} report_segment_label;

typedef struct {
    char *name;
    int64_t computed_at;
    report_segment_label *labels;      /* labels in text order, no label last */
    size_t n_labels;
    segment_move *moves;               /* the last computation's moves, most first */
    size_t n_moves;
} report_segment;

typedef struct {
    const char *zone;
    char since[11], until[11];    /* inclusive business-zone dates */
    int64_t from, to;             /* [from, to) instants */
    int64_t now;
    report_counts total;
    report_campaign *campaigns;
    size_t n_campaigns;
    report_channel *channels;     /* across campaigns */
    size_t n_channels;
    report_reason *reasons;       /* across campaigns */
    size_t n_reasons;
    report_coverage *coverage;
    size_t n_coverage;
    report_segment *segments;     /* only with report_opts.segments */
    size_t n_segments;
} report;

typedef struct {
    const char *campaign;         /* NULL = all */
    cc_date since, until;         /* inclusive */
    int64_t now;
    const cc_clock *clk;          /* the same instant, for the SLA's occurrences */
    int segments;                 /* compute the segments section */
} report_opts;

/* Compute every figure.  `camps` (may be NULL) give titles, step order and
 * SLAs.  Messages about coverage that cannot be computed go to stderr, as
 * do the diagnostics of an SLA campaign whose audience query is broken
 * (then CC_ERR_INPUT: its breaches cannot be counted). */
cc_code report_compute(sqlite3 *db, const cc_config *cfg, const cc_campaign *camps, size_t n_camps,
                       const report_opts *o, report *r);
void report_free(report *r);

/* Met / (met + breached), or -1 when nothing is decided yet. */
double report_sla_rate(const report_campaign *c);

#endif
