/* report.c - the figures of `carecast report` (see report.h for the
 * definitions).  A few GROUP BY queries; the C side only files the grouped
 * rows into campaigns, steps and channels and adds them up.  The SLA holds
 * the occurrences the planner's own audience queries find for the period
 * (plan_occurrences) against those the outbox has. */
#include "report.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "db.h"
#include "plan.h"

const char *const report_count_names[RC_N] = {"planned", "sent", "delivered", "undelivered",
                                              "failed", "waiting", "skipped", "holdout", "cancelled"};

static void counts_add(report_counts *to, const report_counts *from)
{
    for (int i = 0; i < RC_N; i++) to->v[i] += from->v[i];
}

static void reason_add(report_reason **list, size_t *n, const char *reason, long long k)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*list)[i].reason, reason)) {
            (*list)[i].n += k;
            return;
        }
    *list = xrealloc(*list, (*n + 1) * sizeof **list);
    (*list)[*n].reason = xstrdup(reason);
    (*list)[(*n)++].n = k;
}

static void channel_add(report_channel **list, size_t *n, const char *channel, const report_counts *c)
{
    for (size_t i = 0; i < *n; i++)
        if (cc_streq((*list)[i].channel, channel)) {
            counts_add(&(*list)[i].c, c);
            return;
        }
    *list = xrealloc(*list, (*n + 1) * sizeof **list);
    memset(&(*list)[*n], 0, sizeof **list);
    (*list)[*n].channel = xstrdup(channel);
    counts_add(&(*list)[(*n)++].c, c);
}

/* Most first, then by name, so the biggest reason leads every list. */
static int reason_cmp(const void *a, const void *b)
{
    const report_reason *x = a, *y = b;
    if (x->n != y->n) return x->n > y->n ? -1 : 1;
    return strcmp(x->reason, y->reason);
}

static int channel_cmp(const void *a, const void *b)
{
    const report_channel *x = a, *y = b;
    if (!x->channel || !y->channel) return !x->channel - !y->channel;   /* "no channel" last */
    return strcmp(x->channel, y->channel);
}

/* qsort() with an empty (NULL) array is undefined behaviour. */
static void sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    if (n > 1) qsort(base, n, size, cmp);
}

static report_campaign *campaign_get(report *r, const char *id, const cc_campaign *camps, size_t n_camps)
{
    for (size_t i = 0; i < r->n_campaigns; i++)
        if (!strcmp(r->campaigns[i].id, id)) return &r->campaigns[i];
    r->campaigns = xrealloc(r->campaigns, (r->n_campaigns + 1) * sizeof *r->campaigns);
    report_campaign *c = &r->campaigns[r->n_campaigns++];
    memset(c, 0, sizeof *c);
    c->id = xstrdup(id);
    const cc_campaign *def = camps ? campaign_find(camps, n_camps, id) : NULL;
    if (def) {
        c->title = xstrdup(def->title);
        c->sla_s = def->sla_s;
    }
    return c;
}

static report_step *step_get(report_campaign *c, const char *name)
{
    for (size_t i = 0; i < c->n_steps; i++)
        if (!strcmp(c->steps[i].name, name)) return &c->steps[i];
    c->steps = xrealloc(c->steps, (c->n_steps + 1) * sizeof *c->steps);
    report_step *s = &c->steps[c->n_steps++];
    memset(s, 0, sizeof *s);
    s->name = xstrdup(name);
    return s;
}

/* Steps in the order the campaign file lists them: that is the order a
 * sequence happens in (welcome, +30 d, +3 mo), which alphabetical is not. */
static const cc_campaign *sort_def;
static int step_rank(const char *name)
{
    if (sort_def)
        for (size_t i = 0; i < sort_def->n_steps; i++)
            if (!strcmp(sort_def->steps[i].name, name)) return (int)i;
    return 1 << 20;
}
static int step_cmp(const void *a, const void *b)
{
    const report_step *x = a, *y = b;
    int rx = step_rank(x->name), ry = step_rank(y->name);
    return rx != ry ? (rx < ry ? -1 : 1) : strcmp(x->name, y->name);
}
static int campaign_cmp(const void *a, const void *b)
{
    return strcmp(((const report_campaign *)a)->id, ((const report_campaign *)b)->id);
}

/* cc_report_instant(TEXT): an occurrence (ISO date or date-time, business
 * zone when it has no offset) as unix seconds; NULL for a repeat bucket
 * such as "2026-W48", which names no instant. */
static void sql_instant(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const char *s = (const char *)sqlite3_value_text(argv[0]);
    int64_t t;
    if (s && strlen(s) >= 10 && s[4] == '-' && s[7] == '-' &&
        clock_parse_instant(s, (const char *)sqlite3_user_data(ctx), &t) == CC_OK)
        sqlite3_result_int64(ctx, t);
    else
        sqlite3_result_null(ctx);
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) == SQLITE_OK) return 0;
    fprintf(stderr, "carecast report: %s\n", sqlite3_errmsg(db));
    return -1;
}

/* Every outbox status: the figure it adds to, and, when its row belongs to
 * the period of an attempt rather than of its plan, the SQL time of that
 * attempt (a catch-up message planned yesterday and sent today is today's
 * news).  A status not listed counts as planned only. */
static const struct {
    const char *status;
    int count;
    const char *at;           /* NULL: send_after */
} statuses[] = {
    {"planned", RC_WAITING, NULL},
    {"sending", RC_WAITING, NULL},
    {"retry", RC_WAITING, NULL},
    {"sent", RC_SENT, "o.sent_at"},
    {"failed", RC_FAILED, "(SELECT max(a.at) FROM care_attempts AS a WHERE a.outbox_id = o.id)"},
    {"skipped", RC_SKIPPED, NULL},
    {"holdout", RC_HOLDOUT, NULL},
    {"cancelled", RC_CANCELLED, NULL},
};
enum { N_STATUSES = sizeof statuses / sizeof statuses[0] };

static int status_index(const char *status)
{
    for (int i = 0; i < N_STATUSES; i++)
        if (cc_streq(statuses[i].status, status)) return i;
    return -1;
}

/* The outbox rows of the period (?1 from, ?2 to, ?3 campaign or NULL),
 * with `cols` of each, as a subquery. */
static void period_rows(cc_buf *q, const char *cols)
{
    cc_buf_printf(q, "(SELECT %s, CASE o.status", cols);
    for (int i = 0; i < N_STATUSES; i++)
        if (statuses[i].at)
            cc_buf_printf(q, " WHEN '%s' THEN coalesce(%s, o.send_after)", statuses[i].status, statuses[i].at);
    cc_buf_puts(q, " ELSE o.send_after END AS period_at FROM care_outbox AS o WHERE ?3 IS NULL OR o.campaign = ?3)"
                   " WHERE period_at >= ?1 AND period_at < ?2");
}

static cc_code load_counts(sqlite3 *db, const report_opts *o, report *r, const cc_campaign *camps, size_t n_camps)
{
    sqlite3_stmt *st = NULL;
    cc_buf q = CC_BUF_INIT;
    cc_buf_puts(&q, "SELECT campaign, step, channel, status, delivery_status, count(*) FROM ");
    period_rows(&q, "o.campaign, o.step, o.channel, o.status, o.delivery_status");
    cc_buf_puts(&q, " GROUP BY campaign, step, channel, status, delivery_status");
    int bad = prepare(db, cc_buf_str(&q), &st);
    cc_buf_free(&q);
    if (bad) return CC_ERR_DB;
    sqlite3_bind_int64(st, 1, r->from);
    sqlite3_bind_int64(st, 2, r->to);
    sqlite3_bind_text(st, 3, o->campaign, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        report_counts k;
        memset(&k, 0, sizeof k);
        long long n = sqlite3_column_int64(st, 5);
        int si = status_index((const char *)sqlite3_column_text(st, 3));
        const char *delivery = (const char *)sqlite3_column_text(st, 4);
        k.v[RC_PLANNED] = n;
        if (si >= 0) k.v[statuses[si].count] += n;
        if (cc_streq(delivery, "delivered")) k.v[RC_DELIVERED] += n;
        if (cc_streq(delivery, "undelivered")) k.v[RC_UNDELIVERED] += n;
        report_campaign *c = campaign_get(r, (const char *)sqlite3_column_text(st, 0), camps, n_camps);
        report_step *s = step_get(c, (const char *)sqlite3_column_text(st, 1));
        const char *channel = (const char *)sqlite3_column_text(st, 2);
        channel_add(&s->channels, &s->n_channels, channel, &k);
        channel_add(&r->channels, &r->n_channels, channel, &k);
        counts_add(&s->c, &k);
        counts_add(&c->c, &k);
        counts_add(&r->total, &k);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return CC_ERR_DB;

    cc_buf_puts(&q, "SELECT campaign, step, coalesce(reason, 'unknown'), count(*) FROM ");
    period_rows(&q, "o.campaign, o.step, o.status, o.reason");
    cc_buf_puts(&q, " AND status = 'skipped' GROUP BY campaign, step, reason");
    bad = prepare(db, cc_buf_str(&q), &st);
    cc_buf_free(&q);
    if (bad) return CC_ERR_DB;
    sqlite3_bind_int64(st, 1, r->from);
    sqlite3_bind_int64(st, 2, r->to);
    sqlite3_bind_text(st, 3, o->campaign, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *reason = (const char *)sqlite3_column_text(st, 2);
        long long k = sqlite3_column_int64(st, 3);
        report_campaign *c = campaign_get(r, (const char *)sqlite3_column_text(st, 0), camps, n_camps);
        report_step *s = step_get(c, (const char *)sqlite3_column_text(st, 1));
        reason_add(&s->reasons, &s->n_reasons, reason, k);
        reason_add(&c->reasons, &c->n_reasons, reason, k);
        reason_add(&r->reasons, &r->n_reasons, reason, k);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? CC_OK : CC_ERR_DB;
}

/* ---- SLA ----------------------------------------------------------------
 * The occurrences of an SLA campaign in the period are those its steps'
 * audience queries select for the period (plan_occurrences: what ought to
 * have been planned) together with those the outbox holds (what was, even
 * if the row no longer matches `where`).  Each is keyed (row, occurrence)
 * as the outbox groups its messages, so several steps or channels of one
 * occurrence are one acknowledgement. */

typedef struct {
    char *row, *occurrence, *customer, *step;
    int64_t t;                 /* the occurrence; the SLA runs from here */
    int64_t first_sent;        /* -1: nothing sent */
    int held;
    int rank;                  /* of `why`: the lower, the nearer to being sent */
    char *why;                 /* why nothing was sent: never planned, waiting, failed, skipped: REASON, ... */
} sla_occ;

typedef struct {
    sla_occ *v;
    size_t n, cap;
} sla_list;

/* The rank of an occurrence no outbox row speaks of (yet). */
#define SLA_NOT_PLANNED (1 << 20)

static sla_occ *sla_push(sla_list *l)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = xrealloc(l->v, l->cap * sizeof *l->v);
    }
    sla_occ *e = &l->v[l->n++];
    memset(e, 0, sizeof *e);
    e->first_sent = -1;
    e->rank = SLA_NOT_PLANNED;
    return e;
}

static void sla_occ_free(sla_occ *e)
{
    free(e->row);
    free(e->occurrence);
    free(e->customer);
    free(e->step);
    free(e->why);
}

static void sla_list_free(sla_list *l)
{
    for (size_t i = 0; i < l->n; i++) sla_occ_free(&l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int sla_key_cmp(const void *a, const void *b)
{
    const sla_occ *x = a, *y = b;
    int c = strcmp(x->row, y->row);
    return c ? c : strcmp(x->occurrence, y->occurrence);
}

static int breach_cmp(const void *a, const void *b)
{
    const report_breach *x = a, *y = b;
    if (x->deadline != y->deadline) return x->deadline < y->deadline ? -1 : 1;
    int c = strcmp(x->row, y->row);
    return c ? c : strcmp(x->occurrence, y->occurrence);
}

/* An unsent occurrence's reason, by the most hopeful of its messages:
 * still waiting, then failed, then any other status, then skipped. */
static void sla_why(sla_occ *e, const char *status, const char *reason)
{
    int si = status_index(status);
    int count = si >= 0 ? statuses[si].count : -1;
    int rank = count == RC_WAITING ? 0 : count == RC_FAILED ? 1 : count == RC_SKIPPED ? 3 : 2;
    if (rank >= e->rank) return;
    free(e->why);
    e->rank = rank;
    if (count == RC_SKIPPED) e->why = xasprintf("skipped: %s", reason ? reason : "unknown");
    else e->why = xstrdup(count >= 0 ? report_count_names[count] : status);
}

static int64_t occurrence_instant(const char *zone, const char *occ)
{
    int64_t t;
    if (occ && strlen(occ) >= 10 && occ[4] == '-' && occ[7] == '-' && clock_parse_instant(occ, zone, &t) == CC_OK)
        return t;
    return INT64_MIN;
}

/* What the outbox holds of the campaign's occurrences in the period.  An
 * occurrence that names no instant (a repeat bucket such as "2026-W48",
 * a trigger's key) is timed from when it was planned. */
static cc_code sla_ledger(sqlite3 *db, const cc_campaign *def, const report *r, sla_list *out)
{
    sqlite3_stmt *st = NULL;
    if (prepare(db,
                "SELECT row_id, occurrence, status, min(reason), min(customer_id), min(step), min(created_at),"
                " min(sent_at) FROM care_outbox WHERE campaign = ?1"
                " AND coalesce(cc_report_instant(occurrence) BETWEEN ?2 AND ?3 - 1, 1)"
                " GROUP BY row_id, occurrence, status ORDER BY row_id, occurrence",
                &st))
        return CC_ERR_DB;
    sqlite3_bind_text(st, 1, def->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, r->from);
    sqlite3_bind_int64(st, 3, r->to);
    int rc;
    sla_occ *e = NULL;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *row = (const char *)sqlite3_column_text(st, 0), *occ = (const char *)sqlite3_column_text(st, 1);
        const char *status = (const char *)sqlite3_column_text(st, 2);
        if (!row || !occ || !status) continue;
        if (!e || strcmp(e->row, row) || strcmp(e->occurrence, occ)) {
            e = sla_push(out);
            e->row = xstrdup(row);
            e->occurrence = xstrdup(occ);
            e->t = occurrence_instant(r->zone, occ);
            if (e->t == INT64_MIN) e->t = INT64_MAX;   /* the first created_at below */
        }
        if (!e->customer) e->customer = xstrdup((const char *)sqlite3_column_text(st, 4));
        if (!e->step) e->step = xstrdup((const char *)sqlite3_column_text(st, 5));
        if (occurrence_instant(r->zone, occ) == INT64_MIN && sqlite3_column_int64(st, 6) < e->t)
            e->t = sqlite3_column_int64(st, 6);
        if (!strcmp(status, "holdout")) e->held = 1;
        if (!strcmp(status, "sent") && sqlite3_column_type(st, 7) != SQLITE_NULL) {
            int64_t sent = sqlite3_column_int64(st, 7);
            if (e->first_sent < 0 || sent < e->first_sent) e->first_sent = sent;
        } else {
            sla_why(e, status, (const char *)sqlite3_column_text(st, 3));
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return CC_ERR_DB;
    /* Bucket occurrences were let through above: their time is known now. */
    size_t k = 0;
    for (size_t i = 0; i < out->n; i++) {
        if (out->v[i].t >= r->from && out->v[i].t < r->to) out->v[k++] = out->v[i];
        else sla_occ_free(&out->v[i]);
    }
    out->n = k;
    return CC_OK;
}

typedef struct {
    sla_list *list;
    const char *step;
} sla_collect;

static void sla_collect_one(void *arg, const char *row_id, const char *customer_id, const char *occurrence)
{
    sla_collect *c = arg;
    sla_occ *e = sla_push(c->list);
    e->row = xstrdup(row_id);
    e->customer = xstrdup(customer_id);
    e->occurrence = xstrdup(occurrence);
    e->step = xstrdup(c->step);
}

/* What ought to have been planned: the steps' occurrences on the days of
 * the period the campaign was active.  A disabled campaign, or one run
 * only by hand, was never due by itself: the outbox alone tells. */
static cc_code sla_expected(sqlite3 *db, const cc_config *cfg, const report_opts *o, const cc_campaign *def,
                            sla_list *out, cc_diags *diags)
{
    if (!def->enabled || (def->schedule && !strcmp(def->schedule, "manual"))) return CC_OK;
    cc_date since = o->since, until = o->until, d;
    if (def->active_from && clock_parse_date(def->active_from, &d) == 0 &&
        clock_days_from_civil(d) > clock_days_from_civil(since))
        since = d;
    if (def->active_until && clock_parse_date(def->active_until, &d) == 0 &&
        clock_days_from_civil(d) < clock_days_from_civil(until))
        until = d;
    for (size_t si = 0; si < def->n_steps; si++) {
        sla_collect col = {out, def->steps[si].name};
        cc_code rc = plan_occurrences(db, cfg, o->clk, def, si, since, until, sla_collect_one, &col, diags);
        if (rc != CC_OK) return rc;
    }
    return CC_OK;
}

static cc_code sla_campaign(sqlite3 *db, const cc_config *cfg, const report_opts *o, report *r, const cc_campaign *def,
                            cc_diags *diags)
{
    sla_list have = {0}, want = {0};
    sqlite3_stmt *drawn = NULL;
    cc_code rc = sla_ledger(db, def, r, &have);
    if (rc == CC_OK) rc = sla_expected(db, cfg, o, def, &want, diags);
    /* Recorded in the ledger with no message: not drawn by `sample`. */
    if (rc == CC_OK && prepare(db, "SELECT 1 FROM care_occurrences WHERE campaign = ?1 AND step = ?2 AND row_id = ?3"
                                   " AND occurrence = ?4", &drawn))
        rc = CC_ERR_DB;
    if (rc != CC_OK) goto done;
    if (have.n > 1) qsort(have.v, have.n, sizeof *have.v, sla_key_cmp);
    if (want.n > 1) qsort(want.v, want.n, sizeof *want.v, sla_key_cmp);
    size_t k = 0;
    for (size_t i = 0; i < want.n; i++) {
        if (k && !sla_key_cmp(&want.v[i], &want.v[k - 1])) sla_occ_free(&want.v[i]);   /* two steps, one occurrence */
        else want.v[k++] = want.v[i];
    }
    want.n = k;
    size_t n_have = have.n;
    for (size_t i = 0; i < want.n; i++) {
        sla_occ *e = &want.v[i];
        if (n_have && bsearch(e, have.v, n_have, sizeof *have.v, sla_key_cmp)) continue;
        sqlite3_reset(drawn);
        sqlite3_bind_text(drawn, 1, def->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(drawn, 2, e->step, -1, SQLITE_STATIC);
        sqlite3_bind_text(drawn, 3, e->row, -1, SQLITE_STATIC);
        sqlite3_bind_text(drawn, 4, e->occurrence, -1, SQLITE_STATIC);
        int step_rc = sqlite3_step(drawn);
        if (step_rc == SQLITE_ROW) continue;
        if (step_rc != SQLITE_DONE) {
            rc = CC_ERR_DB;
            goto done;
        }
        int64_t t = occurrence_instant(r->zone, e->occurrence);
        if (t == INT64_MIN || t < r->from || t >= r->to || plan_held_out(def, e->customer)) continue;
        sla_occ *n = sla_push(&have);   /* may move have.v: only pointers into want are held */
        *n = *e;
        memset(e, 0, sizeof *e);
        n->t = t;
        n->first_sent = -1;
        n->why = xstrdup("never planned");
    }

    /* An SLA campaign is listed even when quiet: "0 breached" is news. */
    report_campaign *c = campaign_get(r, def->id, NULL, 0);
    c->sla_s = def->sla_s;
    for (size_t i = 0; i < have.n; i++) {
        sla_occ *e = &have.v[i];
        if (e->held) continue;   /* kept back on purpose: no acknowledgement owed */
        int64_t deadline = e->t + def->sla_s;
        c->sla_occurrences++;
        if (e->first_sent >= 0 && e->first_sent <= deadline) {
            c->sla_met++;
            continue;
        }
        /* Pending while a message may still go: one waits, or none was
         * planned yet.  Skipped, failed or cancelled and nothing waiting
         * can no longer be met, whatever the deadline. */
        int may_still_go = e->rank == 0 || e->rank == SLA_NOT_PLANNED;
        if (e->first_sent < 0 && r->now < deadline && may_still_go) {
            c->sla_pending++;
            continue;
        }
        c->sla_breached++;
        c->sla_breaches = xrealloc(c->sla_breaches, (c->n_sla_breaches + 1) * sizeof *c->sla_breaches);
        report_breach *b = &c->sla_breaches[c->n_sla_breaches++];
        b->row = e->row;
        b->customer = e->customer;
        b->step = e->step;
        b->occurrence = e->occurrence;
        b->deadline = deadline;
        b->sent_at = e->first_sent;
        b->reason = e->first_sent >= 0 ? xstrdup("sent late") : e->why ? e->why : xstrdup("unknown");
        if (e->first_sent >= 0) free(e->why);
        memset(e, 0, sizeof *e);
    }
    if (c->n_sla_breaches > 1) qsort(c->sla_breaches, c->n_sla_breaches, sizeof *c->sla_breaches, breach_cmp);
done:
    sqlite3_finalize(drawn);
    sla_list_free(&have);
    sla_list_free(&want);
    return rc;
}

static cc_code load_sla(sqlite3 *db, const cc_config *cfg, const report_opts *o, report *r, const cc_campaign *camps,
                        size_t n_camps, cc_diags *diags)
{
    for (size_t i = 0; i < n_camps; i++) {
        const cc_campaign *def = &camps[i];
        if (def->sla_s <= 0 || (o->campaign && strcmp(o->campaign, def->id))) continue;
        campaign_get(r, def->id, camps, n_camps);
        cc_code rc = sla_campaign(db, cfg, o, r, def, diags);
        if (rc != CC_OK) return rc;
    }
    return CC_OK;
}

/* Where the labels of `segment` come from: computed segment values when the
 * segment has been computed, else a customers column of that name. */
static const char *label_source(sqlite3 *db, const cc_config *cfg, const char *segment)
{
    sqlite3_stmt *st = NULL;
    int computed = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT 1 FROM care_segment_runs WHERE segment = ?1"
                           " UNION ALL SELECT 1 FROM care_segment_values WHERE segment = ?1 LIMIT 1",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, segment, -1, SQLITE_STATIC);
        computed = sqlite3_step(st) == SQLITE_ROW;
    }
    sqlite3_finalize(st);
    if (computed) return "segment";
    if (db_table_exists(db, cfg->customers.table) && db_has_column(db, cfg->customers.table, segment))
        return "customers";
    return NULL;
}

static cc_code load_coverage(sqlite3 *db, const cc_config *cfg, report *r, int64_t days)
{
    for (size_t i = 0; i < cfg->policy.n_coverage; i++) {
        const cc_coverage_rule *rule = &cfg->policy.coverage[i];
        r->coverage = xrealloc(r->coverage, (r->n_coverage + 1) * sizeof *r->coverage);
        report_coverage *cv = &r->coverage[r->n_coverage++];
        memset(cv, 0, sizeof *cv);
        cv->segment = xstrdup(rule->segment);
        cv->label = xstrdup(rule->label);
        cv->rule = xstrdup(rule->rule);
        /* The minimum scaled to the period, rounded half up: "2 per month"
         * is 2 over the default 30 days, 6 over a quarter. */
        int64_t wdays = rule->window_s / 86400;
        cv->required = (2 * (int64_t)rule->n * days + wdays) / (2 * wdays);
        cv->source = label_source(db, cfg, rule->segment);
        if (!cv->source) {
            fprintf(stderr, "carecast report: coverage: segment '%s' has not been computed and %s has no column '%s'\n",
                    rule->segment, cfg->customers.table, rule->segment);
            continue;
        }
        cc_buf q = CC_BUF_INIT;
        if (!strcmp(cv->source, "segment")) {
            cc_buf_puts(&q, "WITH lab AS (SELECT customer_id AS cid FROM care_segment_values WHERE segment = ?1 AND label = ?2),");
        } else {
            cc_buf_puts(&q, "WITH lab AS (SELECT CAST(");
            db_quote_ident(cfg->customers.id, &q);
            cc_buf_puts(&q, " AS TEXT) AS cid FROM ");
            db_quote_ident(cfg->customers.table, &q);
            cc_buf_puts(&q, " WHERE CAST(");
            db_quote_ident(rule->segment, &q);
            cc_buf_puts(&q, " AS TEXT) = ?2 AND ?1 IS NOT NULL),");
        }
        cc_buf_puts(&q, " con AS (SELECT customer_id AS cid, count(*) AS n FROM care_outbox"
                        "  WHERE status = 'sent' AND coalesce(channel, '') <> 'task' AND sent_at >= ?3 AND sent_at < ?4"
                        "  GROUP BY customer_id)"
                        " SELECT count(*), coalesce(sum(con.n), 0), coalesce(sum(coalesce(con.n, 0) < ?5), 0)"
                        " FROM lab LEFT JOIN con ON con.cid = lab.cid");
        sqlite3_stmt *st = NULL;
        int bad = prepare(db, cc_buf_str(&q), &st);
        cc_buf_free(&q);
        if (bad) return CC_ERR_DB;
        sqlite3_bind_text(st, 1, rule->segment, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, rule->label, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, r->from);
        sqlite3_bind_int64(st, 4, r->to);
        sqlite3_bind_int64(st, 5, cv->required);
        if (sqlite3_step(st) != SQLITE_ROW) {
            fprintf(stderr, "carecast report: %s\n", sqlite3_errmsg(db));
            sqlite3_finalize(st);
            return CC_ERR_DB;
        }
        cv->customers = sqlite3_column_int64(st, 0);
        cv->contacts = sqlite3_column_int64(st, 1);
        cv->below = sqlite3_column_int64(st, 2);
        sqlite3_finalize(st);
    }
    return CC_OK;
}

/* Per label now: customers, entered and left at the last computation
 * (segment_counts), and the period's sent messages to its customers. */
static cc_code load_segment(sqlite3 *db, report *r, report_segment *sg)
{
    segment_label_count *cnt = NULL;
    size_t nc = 0;
    if (segment_counts(db, sg->name, &cnt, &nc, &sg->computed_at) != CC_OK) return CC_ERR_DB;
    sg->labels = xcalloc(nc ? nc : 1, sizeof *sg->labels);
    for (size_t i = 0; i < nc; i++) {
        report_segment_label *l = &sg->labels[sg->n_labels++];
        l->label = cnt[i].label;
        cnt[i].label = NULL;
        l->customers = cnt[i].customers;
        l->entered = cnt[i].entered;
        l->left = cnt[i].left;
        for (size_t k = 0; k < r->n_coverage; k++) {
            const report_coverage *cv = &r->coverage[k];
            if (cv->source && !strcmp(cv->source, "segment") && !strcmp(cv->segment, sg->name) && l->label &&
                !strcmp(cv->label, l->label))
                l->coverage = cv;
        }
    }
    segment_counts_free(cnt, nc);

    sqlite3_stmt *st = NULL;
    if (prepare(db,
                "WITH con AS (SELECT customer_id AS cid, count(*) AS n FROM care_outbox"
                "  WHERE status = 'sent' AND coalesce(channel, '') <> 'task' AND sent_at >= ?2 AND sent_at < ?3"
                "  GROUP BY customer_id)"
                " SELECT v.label, coalesce(sum(con.n), 0) FROM care_segment_values AS v JOIN con ON con.cid = v.customer_id"
                " WHERE v.segment = ?1 GROUP BY v.label",
                &st))
        return CC_ERR_DB;
    sqlite3_bind_text(st, 1, sg->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, r->from);
    sqlite3_bind_int64(st, 3, r->to);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *label = (const char *)sqlite3_column_text(st, 0);
        for (size_t i = 0; i < sg->n_labels; i++)
            if (cc_streq(sg->labels[i].label, label)) sg->labels[i].contacts = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return CC_ERR_DB;
    return segment_moves(db, sg->name, &sg->moves, &sg->n_moves);
}

/* Every segment that has been computed, by name. */
static cc_code load_segments(sqlite3 *db, report *r)
{
    if (!db_table_exists(db, "care_segment_runs")) return CC_OK;
    sqlite3_stmt *st = NULL;
    if (prepare(db, "SELECT segment FROM care_segment_runs ORDER BY segment", &st)) return CC_ERR_DB;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        r->segments = xrealloc(r->segments, (r->n_segments + 1) * sizeof *r->segments);
        report_segment *sg = &r->segments[r->n_segments++];
        memset(sg, 0, sizeof *sg);
        sg->name = xstrdup((const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return CC_ERR_DB;
    for (size_t i = 0; i < r->n_segments; i++) {
        cc_code c = load_segment(db, r, &r->segments[i]);
        if (c != CC_OK) return c;
    }
    return CC_OK;
}

cc_code report_compute(sqlite3 *db, const cc_config *cfg, const cc_campaign *camps, size_t n_camps,
                       const report_opts *o, report *r)
{
    memset(r, 0, sizeof *r);
    r->zone = cfg->timezone;
    r->now = o->now;
    clock_format_date(o->since, r->since);
    clock_format_date(o->until, r->until);
    if (clock_local_to_utc(cfg->timezone, o->since, 0, 0, 0, &r->from) != CC_OK ||
        clock_local_to_utc(cfg->timezone, clock_add_days(o->until, 1), 0, 0, 0, &r->to) != CC_OK)
        return CC_ERR_CONFIG;
    if (sqlite3_create_function(db, "cc_report_instant", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, cfg->timezone,
                                sql_instant, NULL, NULL) != SQLITE_OK)
        return CC_ERR_DB;
    cc_code rc = load_counts(db, o, r, camps, n_camps);
    cc_diags diags = {.limit = 20};
    if (rc == CC_OK) rc = load_sla(db, cfg, o, r, camps, n_camps, &diags);
    cc_diag_print(&diags, stderr);
    cc_diags_free(&diags);
    int64_t days = clock_days_from_civil(o->until) - clock_days_from_civil(o->since) + 1;
    if (rc == CC_OK) rc = load_coverage(db, cfg, r, days);
    if (rc == CC_OK && o->segments) rc = load_segments(db, r);
    if (rc != CC_OK) return rc;

    sort(r->campaigns, r->n_campaigns, sizeof *r->campaigns, campaign_cmp);
    for (size_t i = 0; i < r->n_campaigns; i++) {
        report_campaign *c = &r->campaigns[i];
        sort_def = camps ? campaign_find(camps, n_camps, c->id) : NULL;
        sort(c->steps, c->n_steps, sizeof *c->steps, step_cmp);
        sort_def = NULL;
        sort(c->reasons, c->n_reasons, sizeof *c->reasons, reason_cmp);
        for (size_t j = 0; j < c->n_steps; j++) {
            sort(c->steps[j].reasons, c->steps[j].n_reasons, sizeof *c->steps[j].reasons, reason_cmp);
            sort(c->steps[j].channels, c->steps[j].n_channels, sizeof *c->steps[j].channels, channel_cmp);
        }
    }
    sort(r->reasons, r->n_reasons, sizeof *r->reasons, reason_cmp);
    sort(r->channels, r->n_channels, sizeof *r->channels, channel_cmp);
    return CC_OK;
}

double report_sla_rate(const report_campaign *c)
{
    long long decided = c->sla_met + c->sla_breached;
    return decided ? (double)c->sla_met / (double)decided : -1;
}

static void free_reasons(report_reason *l, size_t n)
{
    for (size_t i = 0; i < n; i++) free(l[i].reason);
    free(l);
}

static void free_channels(report_channel *l, size_t n)
{
    for (size_t i = 0; i < n; i++) free(l[i].channel);
    free(l);
}

void report_free(report *r)
{
    for (size_t i = 0; i < r->n_campaigns; i++) {
        report_campaign *c = &r->campaigns[i];
        for (size_t j = 0; j < c->n_steps; j++) {
            free(c->steps[j].name);
            free_channels(c->steps[j].channels, c->steps[j].n_channels);
            free_reasons(c->steps[j].reasons, c->steps[j].n_reasons);
        }
        free(c->steps);
        free_reasons(c->reasons, c->n_reasons);
        for (size_t j = 0; j < c->n_sla_breaches; j++) {
            report_breach *b = &c->sla_breaches[j];
            free(b->row);
            free(b->customer);
            free(b->step);
            free(b->occurrence);
            free(b->reason);
        }
        free(c->sla_breaches);
        free(c->id);
        free(c->title);
    }
    free(r->campaigns);
    free_channels(r->channels, r->n_channels);
    free_reasons(r->reasons, r->n_reasons);
    for (size_t i = 0; i < r->n_coverage; i++) {
        free(r->coverage[i].segment);
        free(r->coverage[i].label);
        free(r->coverage[i].rule);
    }
    free(r->coverage);
    for (size_t i = 0; i < r->n_segments; i++) {
        report_segment *sg = &r->segments[i];
        for (size_t k = 0; k < sg->n_labels; k++) free(sg->labels[k].label);
        free(sg->labels);
        segment_moves_free(sg->moves, sg->n_moves);
        free(sg->name);
    }
    free(r->segments);
    memset(r, 0, sizeof *r);
}
