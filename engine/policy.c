/* policy.c - frequency caps and quiet hours over a computed plan
 * (policy.h).
 *
 * Window rule: a message at time t counts every other message of the
 * customer within (t - W, t + W).  That is stricter than "at most N in any
 * window of length W" only when messages straddle t on both sides, and it
 * never lets a window hold more than N: a marketer's cap is a promise to
 * the customer, so carecast errs towards fewer messages. */
#include "policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int policy_parse_cap(const char *s, int *n, int64_t *window_s)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (end == s || v < 0 || v > 100000) return -1;
    if (!strcmp(end, " per day")) *window_s = 86400;
    else if (!strcmp(end, " per week")) *window_s = 7 * 86400;
    else if (!strcmp(end, " per month")) *window_s = 30 * 86400;
    else return -1;
    *n = (int)v;
    return 0;
}

/* ---- messages accepted in this plan, by customer ------------------------ */

typedef struct {
    int64_t t;
    int marketing;
} sent_mark;

typedef struct {
    char *customer;
    sent_mark *marks;
    size_t n, cap;
} customer_marks;

typedef struct {
    customer_marks *slots;
    size_t cap, used;
} marks_map;

static customer_marks *marks_for(marks_map *m, const char *customer)
{
    if (m->used * 2 >= m->cap) {
        marks_map bigger = {xcalloc(m->cap ? m->cap * 2 : 256, sizeof(customer_marks)), m->cap ? m->cap * 2 : 256, 0};
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->slots[i].customer) continue;
            size_t h = cc_hash(m->slots[i].customer, NULL, NULL) % bigger.cap;
            while (bigger.slots[h].customer) h = (h + 1) % bigger.cap;
            bigger.slots[h] = m->slots[i];
            bigger.used++;
        }
        free(m->slots);
        *m = bigger;
    }
    size_t h = cc_hash(customer, NULL, NULL) % m->cap;
    while (m->slots[h].customer && strcmp(m->slots[h].customer, customer) != 0) h = (h + 1) % m->cap;
    if (!m->slots[h].customer) {
        m->slots[h].customer = xstrdup(customer);
        m->used++;
    }
    return &m->slots[h];
}

static void marks_free(marks_map *m)
{
    for (size_t i = 0; i < m->cap; i++) {
        free(m->slots[i].customer);
        free(m->slots[i].marks);
    }
    free(m->slots);
}

/* ---- caps --------------------------------------------------------------- */

typedef struct {
    int n;
    int64_t window;
    int marketing_only;
} cap;

static int over_cap(sqlite3_stmt *count, const customer_marks *cm, const cap *c, int64_t t, int is_marketing)
{
    if (c->marketing_only && !is_marketing) return 0;
    sqlite3_reset(count);
    sqlite3_bind_int64(count, 2, t - c->window);
    sqlite3_bind_int64(count, 3, t + c->window);
    sqlite3_bind_int(count, 4, c->marketing_only);
    int64_t have = sqlite3_step(count) == SQLITE_ROW ? sqlite3_column_int64(count, 0) : 0;
    for (size_t i = 0; cm && i < cm->n; i++)
        if ((!c->marketing_only || cm->marks[i].marketing) && cm->marks[i].t > t - c->window &&
            cm->marks[i].t < t + c->window)
            have++;
    return have >= c->n;
}

struct policy_state {
    cap caps[16];
    size_t ncaps;
    sqlite3_stmt *count;
    marks_map seen;
    cc_daily_period quiet;
};

static void cap_item(policy_state *ps, plan_item *it)
{
    /* Care tasks go to staff, not to the customer: no cap counts them. */
    if (!ps->ncaps || strcmp(it->status, "planned") != 0 || !it->customer_id || cc_streq(it->channel, "task")) return;
    int is_marketing = it->campaign->is_marketing;
    customer_marks *cm = marks_for(&ps->seen, it->customer_id);
    sqlite3_bind_text(ps->count, 1, it->customer_id, -1, SQLITE_TRANSIENT);
    int capped = 0;
    for (size_t k = 0; k < ps->ncaps && !capped; k++)
        capped = over_cap(ps->count, cm, &ps->caps[k], it->send_after, is_marketing);
    if (capped) {
        it->status = "skipped";
        it->reason = "capped";
        return;
    }
    if (cm->n == cm->cap) {
        cm->cap = cm->cap ? cm->cap * 2 : 4;
        cm->marks = xrealloc(cm->marks, cm->cap * sizeof *cm->marks);
    }
    cm->marks[cm->n++] = (sent_mark){it->send_after, is_marketing};
}

/* ---- quiet hours -------------------------------------------------------- */

static void quiet_item(const policy_state *ps, plan_item *it)
{
    if (!ps->quiet.set || strcmp(it->status, "planned") != 0 || it->campaign->ignore_quiet_hours ||
        cc_streq(it->channel, "task"))
        return;
    int64_t end;
    if (!clock_in_period(&ps->quiet, it->zone, it->send_after, &end)) return;
    it->send_after = end;
    clock_format_instant(it->zone, end, it->send_after_iso);
}

cc_code policy_begin(sqlite3 *db, const cc_config *cfg, policy_state **out)
{
    policy_state *ps = xcalloc(1, sizeof *ps);
    clock_parse_period(cfg->policy.quiet_hours, &ps->quiet);   /* checked by config_load */
    for (size_t i = 0; i < cfg->policy.n_caps_marketing && ps->ncaps < 16; i++)
        if (policy_parse_cap(cfg->policy.caps_marketing[i], &ps->caps[ps->ncaps].n, &ps->caps[ps->ncaps].window) == 0)
            ps->caps[ps->ncaps++].marketing_only = 1;
    for (size_t i = 0; i < cfg->policy.n_caps_all && ps->ncaps < 16; i++)
        if (policy_parse_cap(cfg->policy.caps_all[i], &ps->caps[ps->ncaps].n, &ps->caps[ps->ncaps].window) == 0)
            ps->caps[ps->ncaps++].marketing_only = 0;
    if (ps->ncaps &&
        sqlite3_prepare_v2(db,
                           "SELECT count(*) FROM care_outbox WHERE customer_id = ?1 "
                           "AND status IN ('planned', 'sending', 'sent', 'retry') AND channel <> 'task' "
                           "AND send_after > ?2 AND send_after < ?3 AND (?4 = 0 OR kind = 'marketing')",
                           -1, &ps->count, NULL) != SQLITE_OK) {
        ps->ncaps = 0;
        *out = ps;
        return CC_ERR_DB;
    }
    *out = ps;
    return CC_OK;
}

void policy_item(policy_state *ps, plan_item *it)
{
    /* Quiet hours first: caps count messages at the time they will go. */
    quiet_item(ps, it);
    cap_item(ps, it);
}

void policy_end(policy_state *ps)
{
    if (!ps) return;
    sqlite3_finalize(ps->count);
    marks_free(&ps->seen);
    free(ps);
}

cc_code policy_apply(sqlite3 *db, const cc_config *cfg, plan_list *pl)
{
    policy_state *ps = NULL;
    /* Quiet hours for every item, then caps, as one pass does per item. */
    cc_code rc = policy_begin(db, cfg, &ps);
    if (rc != CC_OK) fprintf(stderr, "carecast: checking caps: %s\n", sqlite3_errmsg(db));
    for (size_t i = 0; i < pl->n; i++) {
        if (rc == CC_OK) policy_item(ps, &pl->items[i]);
        else quiet_item(ps, &pl->items[i]);   /* as before: quiet hours applied, caps not checked */
    }
    policy_end(ps);
    return rc;
}
