/* outbox.c - claim and finish (outbox.h).  Invariant: a row leaves
 * `sending` only through outbox_finish() or lease expiry. */
#include "outbox.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "clock.h"
#include "db.h"

#define N_TEXT 13             /* the text columns a claim copies */
/* The most ids the list holds: past that it is read again when it runs
 * out, so memory stays small for any queue and each read still serves
 * this many claims' worth of messages. */
#define QUEUE_WINDOW 200000

/* The row the claim's take statement gives, into b->msgs[b->n]: its
 * strings copied into one block the batch owns. */
static void take_row(outbox_batch *b, sqlite3_stmt *st)
{
    const unsigned char *text[N_TEXT];
    size_t len[N_TEXT], total = 0;
    for (int k = 0; k < N_TEXT; k++) {
        text[k] = sqlite3_column_text(st, k + 1);
        len[k] = text[k] ? (size_t)sqlite3_column_bytes(st, k + 1) : 0;
        total += text[k] ? len[k] + 1 : 0;
    }
    char *block = xmalloc(total ? total : 1);
    b->owned[b->n_owned++] = block;
    const char *str[N_TEXT];
    for (int k = 0; k < N_TEXT; k++) {
        if (!text[k]) {
            str[k] = NULL;
            continue;
        }
        memcpy(block, text[k], len[k]);
        block[len[k]] = '\0';
        str[k] = block;
        block += len[k] + 1;
    }
    cc_message *m = &b->msgs[b->n];
    memset(m, 0, sizeof *m);
    m->id = sqlite3_column_int64(st, 0);
    int k = 0;
    m->campaign = str[k++];
    m->step = str[k++];
    m->customer = str[k++];
    m->kind = str[k++];
    m->channel = str[k++];
    m->to = str[k++];
    m->to_name = str[k++];
    m->locale = str[k++];
    m->subject = str[k++];
    m->body_text = str[k++];
    m->body_html = str[k++];
    m->text = str[k++];
    m->unsubscribe_url = str[k++];
    m->created_at = sqlite3_column_int64(st, N_TEXT + 1);
    b->created[b->n] = m->created_at;
    b->attempts[b->n] = sqlite3_column_int(st, N_TEXT + 2);   /* already counting this one */
    m->result = CC_ERR_TRANSIENT;
    b->n++;
}

void outbox_batch_free(outbox_batch *b)
{
    for (size_t i = 0; i < b->n_owned; i++) free(b->owned[i]);
    free(b->owned);
    free(b->msgs);
    free(b->attempts);
    free(b->created);
    memset(b, 0, sizeof *b);
}

/* Due at ?4 on channel ?3 (the same words in the read and in the take). */
#define DUE "channel = ?3 AND ((status IN ('planned', 'retry') AND send_after <= ?4 " \
            "AND coalesce(next_attempt_at, 0) <= ?4) OR (status = 'sending' AND lease_until < ?4))"

struct outbox_queue {
    sqlite3 *db;
    char *channel;
    int64_t now;
    sqlite3_stmt *read;      /* the due ids in claim order */
    sqlite3_stmt *take;      /* one id's row, if it is still due */
    sqlite3_stmt *lease;     /* the claim of the ids taken, in one statement */
    sqlite3_stmt *newest;    /* max(id): were messages planned since the read? */
    int64_t *ids;
    size_t n, pos, cap;
    int have_list;
    int64_t newest_seen;     /* max(id) when the list was read */
    sqlite3_stmt *paused_read;   /* care_paused, read at every claim */
    sqlite3_stmt *hold;          /* moves a message's send_after past quiet hours */
    char **paused;               /* campaigns paused as of this claim */
    size_t n_paused;
    cc_daily_period quiet;       /* policy.quiet_hours */
    const char *zone;            /* the business zone, for messages planned without one */
    const char *only;            /* only this campaign's messages, or NULL for all */
    /* Whether it is night now in each zone seen: `now` is fixed for the
     * queue's life, so each zone is asked once (a run meets a handful). */
    struct {
        char zone[64];
        int inside;
        int64_t end;
    } zones[32];
    size_t n_zones;
    size_t held;                 /* messages held for quiet hours */
    int64_t held_until;          /* the earliest end of their nights */
    size_t reads;            /* of the list */
    size_t ids_read;
    uint64_t steps;          /* of the claims proper, not the reads */
};

static uint64_t steps_of(sqlite3_stmt *st)
{
    return st ? (uint64_t)sqlite3_stmt_status(st, SQLITE_STMTSTATUS_VM_STEP, 1) : 0;
}

void outbox_queue_free(outbox_queue *q)
{
    if (!q) return;
    sqlite3_finalize(q->read);
    sqlite3_finalize(q->take);
    sqlite3_finalize(q->lease);
    sqlite3_finalize(q->newest);
    sqlite3_finalize(q->paused_read);
    sqlite3_finalize(q->hold);
    for (size_t i = 0; i < q->n_paused; i++) free(q->paused[i]);
    free(q->paused);
    free(q->ids);
    free(q->channel);
    free(q);
}

outbox_queue *outbox_queue_new(sqlite3 *db, const cc_config *cfg, const char *channel, int64_t now)
{
    outbox_queue *q = xcalloc(1, sizeof *q);
    q->db = db;
    q->channel = xstrdup(channel);
    q->now = now;
    clock_parse_period(cfg->policy.quiet_hours, &q->quiet);   /* checked by config_load */
    q->zone = cfg->timezone;
    return q;
}

void outbox_queue_only(outbox_queue *q, const char *campaign)
{
    q->only = campaign;
    q->have_list = 0;
    q->n = q->pos = 0;
}

void outbox_queue_stats(const outbox_queue *q, size_t *reads, size_t *ids_read, uint64_t *steps)
{
    *reads = q ? q->reads : 0;
    *ids_read = q ? q->ids_read : 0;
    *steps = q ? q->steps : 0;
}

size_t outbox_queue_held(const outbox_queue *q, int64_t *until)
{
    *until = q ? q->held_until : 0;
    return q ? q->held : 0;
}

size_t outbox_waiting_later(sqlite3 *db, int64_t now, const char *only, int64_t *next_at)
{
    sqlite3_stmt *st = NULL;
    size_t n = 0;
    *next_at = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT count(*), min(max(send_after, coalesce(next_attempt_at, 0))) FROM care_outbox "
                           "WHERE status IN ('planned', 'retry') AND max(send_after, coalesce(next_attempt_at, 0)) > ?1 "
                           "AND (?2 IS NULL OR campaign = ?2)",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_text(st, 2, only, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            n = (size_t)sqlite3_column_int64(st, 0);
            *next_at = sqlite3_column_int64(st, 1);
        }
    }
    sqlite3_finalize(st);
    return n;
}

size_t outbox_paused_due(sqlite3 *db, int64_t now, const char *only, char **names)
{
    *names = NULL;
    sqlite3_stmt *st = NULL;
    size_t n = 0;
    cc_buf b = CC_BUF_INIT;
    if (sqlite3_prepare_v2(db,
                           "SELECT p.campaign, (SELECT count(*) FROM care_outbox AS o WHERE o.campaign = p.campaign "
                           "AND o.status IN ('planned', 'retry') AND o.send_after <= ?1 "
                           "AND coalesce(o.next_attempt_at, 0) <= ?1) FROM care_paused AS p WHERE ?2 IS NULL OR p.campaign = ?2 "
                           "ORDER BY p.campaign",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_text(st, 2, only, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
            size_t k = (size_t)sqlite3_column_int64(st, 1);
            if (!k) continue;
            n += k;
            cc_buf_printf(&b, "%s%s", b.len ? " " : "", (const char *)sqlite3_column_text(st, 0));
        }
    }
    sqlite3_finalize(st);
    if (b.len) *names = xstrdup(cc_buf_str(&b));
    cc_buf_free(&b);
    return n;
}

static int prepare(outbox_queue *q)
{
    if (q->read) return 1;
    if (sqlite3_prepare_v3(q->db,
                           "SELECT id FROM care_outbox WHERE " DUE " AND (?6 IS NULL OR campaign = ?6) AND "
                           "campaign NOT IN (SELECT campaign FROM care_paused) ORDER BY priority DESC, id LIMIT ?5",
                           -1, SQLITE_PREPARE_PERSISTENT, &q->read, NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(q->db,
                           "SELECT id, campaign, step, customer_id, kind, channel, recipient, to_name, locale, "
                           "subject, body_text, body_html, sms_text, unsubscribe_url, created_at, attempts + 1, "
                           "zone, quiet, status "
                           "FROM care_outbox WHERE id = ?1 AND " DUE, -1, SQLITE_PREPARE_PERSISTENT, &q->take,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(q->db, "SELECT campaign FROM care_paused", -1, SQLITE_PREPARE_PERSISTENT,
                           &q->paused_read, NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(q->db, "UPDATE care_outbox SET send_after = ?2, send_after_local = ?3 WHERE id = ?1", -1,
                           SQLITE_PREPARE_PERSISTENT, &q->hold, NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(q->db,
                           "UPDATE care_outbox SET status = 'sending', lease_until = ?2, attempts = attempts + 1 "
                           "WHERE id IN (SELECT value FROM json_each(?1))", -1, SQLITE_PREPARE_PERSISTENT, &q->lease,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(q->db, "SELECT coalesce(max(id), 0) FROM care_outbox", -1, SQLITE_PREPARE_PERSISTENT,
                           &q->newest, NULL) != SQLITE_OK)
        return 0;
    return 1;
}

static int64_t newest_id(outbox_queue *q)
{
    int64_t id = -1;
    sqlite3_reset(q->newest);
    if (sqlite3_step(q->newest) == SQLITE_ROW) id = sqlite3_column_int64(q->newest, 0);
    q->steps += steps_of(q->newest);
    sqlite3_reset(q->newest);
    return id;
}

/* Reads the due ids (inside the claim's transaction). */
static int read_list(outbox_queue *q)
{
    q->n = q->pos = 0;
    q->newest_seen = newest_id(q);
    if (q->newest_seen < 0) return 0;
    sqlite3_reset(q->read);
    sqlite3_bind_text(q->read, 3, q->channel, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q->read, 4, q->now);
    sqlite3_bind_int64(q->read, 5, QUEUE_WINDOW);
    sqlite3_bind_text(q->read, 6, q->only, -1, SQLITE_STATIC);
    int r = SQLITE_DONE;
    while (q->n < QUEUE_WINDOW && (r = sqlite3_step(q->read)) == SQLITE_ROW) {
        if (q->n == q->cap) {
            q->cap = q->cap ? 2 * q->cap : 1024;
            q->ids = xrealloc(q->ids, q->cap * sizeof *q->ids);
        }
        q->ids[q->n++] = sqlite3_column_int64(q->read, 0);
    }
    steps_of(q->read);   /* reset: the read is counted in ids */
    sqlite3_reset(q->read);
    q->have_list = 1;
    q->reads++;
    q->ids_read += q->n;
    return q->n == QUEUE_WINDOW || r == SQLITE_DONE;
}

/* The campaigns paused now: read at every claim, so that `carecast pause`
 * stops a send in progress at its next claim. */
static int read_paused(outbox_queue *q)
{
    for (size_t i = 0; i < q->n_paused; i++) free(q->paused[i]);
    q->n_paused = 0;
    sqlite3_stmt *st = q->paused_read;
    sqlite3_reset(st);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        q->paused = xrealloc(q->paused, (q->n_paused + 1) * sizeof *q->paused);
        q->paused[q->n_paused++] = xstrdup((const char *)sqlite3_column_text(st, 0));
    }
    q->steps += steps_of(st);
    sqlite3_reset(st);
    return r == SQLITE_DONE;
}

static int is_paused(const outbox_queue *q, const char *campaign)
{
    for (size_t i = 0; i < q->n_paused; i++)
        if (campaign && strcmp(q->paused[i], campaign) == 0) return 1;
    return 0;
}

/* 1 when it is night for the customer in `zone` now, with *end when the
 * night ends there. */
static int quiet_now(outbox_queue *q, const char *zone, int64_t *end)
{
    if (!zone || !*zone) zone = q->zone;
    size_t zl = strlen(zone);
    for (size_t i = 0; i < q->n_zones; i++)
        if (strcmp(q->zones[i].zone, zone) == 0) {
            *end = q->zones[i].end;
            return q->zones[i].inside;
        }
    int inside = clock_in_period(&q->quiet, zone, q->now, end);
    if (q->n_zones < sizeof q->zones / sizeof q->zones[0] && zl < sizeof q->zones[0].zone) {
        memcpy(q->zones[q->n_zones].zone, zone, zl + 1);
        q->zones[q->n_zones].inside = inside;
        q->zones[q->n_zones].end = inside ? *end : 0;
        q->n_zones++;
    }
    return inside;
}

/* A message due at a time that is night for its customer (a catch-up, a
 * retry, a sender that was down) waits for the morning: its send_after
 * moves to the end of the quiet period, so that report and the next
 * sender see when it goes.  A message a dead sender left `sending` keeps
 * its state and is simply not taken now. */
static int hold_till_morning(outbox_queue *q, sqlite3_stmt *t, int64_t end)
{
    q->held++;
    if (!q->held_until || end < q->held_until) q->held_until = end;
    if (strcmp((const char *)sqlite3_column_text(t, N_TEXT + 5), "sending") == 0) return 1;
    const char *zone = (const char *)sqlite3_column_text(t, N_TEXT + 3);
    char iso[32];
    clock_format_instant(zone && *zone ? zone : q->zone, end, iso);
    sqlite3_reset(q->hold);
    sqlite3_bind_int64(q->hold, 1, sqlite3_column_int64(t, 0));
    sqlite3_bind_int64(q->hold, 2, end);
    sqlite3_bind_text(q->hold, 3, iso, -1, SQLITE_TRANSIENT);
    int ok = sqlite3_step(q->hold) == SQLITE_DONE;
    q->steps += steps_of(q->hold);
    sqlite3_reset(q->hold);
    return ok;
}

/* Reads the rows of the listed ids that are still due, until `max` are
 * taken or the list runs out.  A paused campaign's message is left as it
 * is; one whose customer is in quiet hours now is held till morning. */
static int take_from_list(outbox_queue *q, size_t max, outbox_batch *b)
{
    sqlite3_stmt *t = q->take;
    int ok = 1;
    while (ok && b->n < max && q->pos < q->n) {
        sqlite3_reset(t);
        sqlite3_bind_int64(t, 1, q->ids[q->pos++]);
        sqlite3_bind_text(t, 3, q->channel, -1, SQLITE_STATIC);
        sqlite3_bind_int64(t, 4, q->now);
        int r = sqlite3_step(t);
        if (r == SQLITE_ROW) {
            int64_t end;
            if (q->n_paused && is_paused(q, (const char *)sqlite3_column_text(t, 1))) continue;
            if (q->quiet.set && sqlite3_column_int(t, N_TEXT + 4) &&
                quiet_now(q, (const char *)sqlite3_column_text(t, N_TEXT + 3), &end)) {
                ok = hold_till_morning(q, t, end);
                continue;
            }
            take_row(b, t);
        } else if (r != SQLITE_DONE) {
            ok = 0;   /* DONE: not due any more */
        }
    }
    sqlite3_reset(t);
    q->steps += steps_of(t);
    return ok;
}

/* Adds id to a JSON array of ids being written into b (for json_each()
 * in a statement that updates them all at once); "]" closes it. */
static void json_id(cc_buf *b, int64_t id)
{
    char num[24];
    int len = snprintf(num, sizeof num, "%c%lld", b->len ? ',' : '[', (long long)id);
    cc_buf_append(b, num, (size_t)len);
}

/* Claims the taken rows: one UPDATE for them all (a statement per row
 * costs its setup each time), which must change every one of them. */
static int lease_taken(outbox_queue *q, int64_t lease_until, const outbox_batch *b)
{
    if (b->n == 0) return 1;
    cc_buf ids = CC_BUF_INIT;
    for (size_t i = 0; i < b->n; i++) json_id(&ids, b->msgs[i].id);
    cc_buf_putc(&ids, ']');
    sqlite3_stmt *l = q->lease;
    sqlite3_reset(l);
    sqlite3_bind_text(l, 1, cc_buf_str(&ids), (int)ids.len, SQLITE_STATIC);
    sqlite3_bind_int64(l, 2, lease_until);
    int ok = sqlite3_step(l) == SQLITE_DONE && (size_t)sqlite3_changes64(q->db) == b->n;
    q->steps += steps_of(l);
    sqlite3_reset(l);
    cc_buf_free(&ids);
    return ok;
}

cc_code outbox_queue_claim(outbox_queue *q, int64_t lease_s, size_t max, outbox_batch *b)
{
    memset(b, 0, sizeof *b);
    if (db_begin(q->db) != CC_OK) {
        char why[300];
        fprintf(stderr, "carecast: claiming messages failed: %s\n", db_errmsg(q->db, why, sizeof why));
        return CC_ERR_DB;
    }
    b->msgs = xcalloc(max ? max : 1, sizeof *b->msgs);
    b->attempts = xcalloc(max ? max : 1, sizeof *b->attempts);
    b->created = xcalloc(max ? max : 1, sizeof *b->created);
    b->owned = xcalloc(max ? max : 1, sizeof *b->owned);
    int ok = prepare(q) && read_paused(q);
    int fresh = 0;   /* the list was read in this claim */
    if (ok && q->have_list && q->pos < q->n) {
        int64_t newest = newest_id(q);
        ok = newest >= 0;
        if (ok && newest != q->newest_seen) {
            ok = read_list(q);
            fresh = 1;
        }
    }
    while (ok && b->n < max) {
        if (q->pos == q->n) {
            /* a list that ran out is read again once: the window may have
             * held only part of the queue */
            if (fresh || (q->have_list && q->n < QUEUE_WINDOW && newest_id(q) == q->newest_seen)) break;
            ok = read_list(q);
            fresh = 1;
            if (q->n == 0) break;
        }
        ok = ok && take_from_list(q, max, b);
    }
    ok = ok && lease_taken(q, q->now + lease_s, b);
    if (!ok || db_commit(q->db) != CC_OK) {
        char why[300];
        fprintf(stderr, "carecast: claiming messages failed: %s\n", db_errmsg(q->db, why, sizeof why));
        db_rollback(q->db);
        outbox_batch_free(b);
        /* what the list said may have been rolled back */
        q->have_list = 0;
        q->n = q->pos = 0;
        return CC_ERR_DB;
    }
    return CC_OK;
}

cc_code outbox_claim(sqlite3 *db, const cc_config *cfg, const char *channel, int64_t now, int64_t lease_s, size_t max,
                     outbox_batch *b)
{
    outbox_queue *q = outbox_queue_new(db, cfg, channel, now);
    cc_code rc = outbox_queue_claim(q, lease_s, max, b);
    outbox_queue_free(q);
    return rc;
}

int64_t outbox_backoff(int attempt)
{
    int64_t base = 60;
    for (int i = 1; i < attempt && base < 6 * 3600; i++) base *= 2;
    if (base > 6 * 3600) base = 6 * 3600;
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r) r = (uint32_t)attempt * 2654435761u;
    return base + (int64_t)(r % (uint32_t)(base / 4 + 1));
}

typedef struct {
    int64_t id;
    int attempt;
} sent_mark;

static int by_attempt(const void *a, const void *b)
{
    const sent_mark *x = a, *y = b;
    if (x->attempt != y->attempt) return x->attempt < y->attempt ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static size_t count_of(const outbox_batch *b, const size_t *which, size_t k) { return which ? k : b->n; }

cc_code outbox_finish(sqlite3 *db, outbox_batch *b, int64_t now, const cc_transport_config *tc,
                      size_t *sent_out, size_t *retry_out, size_t *failed_out)
{
    return outbox_finish_some(db, b, NULL, 0, now, tc, sent_out, retry_out, failed_out);
}

cc_code outbox_finish_some(sqlite3 *db, outbox_batch *b, const size_t *which, size_t k, int64_t now,
                           const cc_transport_config *tc, size_t *sent_out, size_t *retry_out, size_t *failed_out)
{
    if (db_begin(db) != CC_OK) {
        char why[300];
        fprintf(stderr, "carecast: recording delivery results failed: %s\n", db_errmsg(db, why, sizeof why));
        return CC_ERR_DB;
    }
    /* Counted here and added to the caller's totals only once committed:
     * a failed finish is tried again (sender.c) and must not count twice. */
    size_t n_sent = 0, n_retry = 0, n_failed = 0, n_superseded = 0;
    size_t *sent = &n_sent, *retry = &n_retry, *failed = &n_failed;
    sqlite3_stmt *att = NULL, *upd = NULL, *sup = NULL, *sent_all = NULL;
    /* The sent ones (most) are marked at the end by one UPDATE per attempt
     * number (nearly always one), as the claim leases them: a statement
     * per row costs its setup each time. */
    sent_mark *sent_list = xmalloc((count_of(b, which, k) ? count_of(b, which, k) : 1) * sizeof *sent_list);
    size_t n_sent_list = 0;
    int ok = sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO care_attempts(outbox_id, attempt, at, result, reply) "
                                    "VALUES (?, ?, ?, ?, ?)", -1, &att, NULL) == SQLITE_OK &&
             /* Fenced by the attempt number: a sender whose lease ran out
              * while its server was slow finds the row claimed again
              * (attempts + 1) and must not overwrite what the newer
              * sender recorded. */
             sqlite3_prepare_v2(db, "UPDATE care_outbox SET status = ?2, sent_at = ?3, next_attempt_at = ?4, "
                                    "last_error = ?5, lease_until = NULL WHERE id = ?1 AND status = 'sending' "
                                    "AND attempts = ?6",
                                -1, &upd, NULL) == SQLITE_OK &&
             /* idempotent, like serve's STOP: nothing when already suppressed */
             sqlite3_prepare_v2(db, "INSERT INTO care_suppressions(address, customer_id, scope, reason, created_at) "
                                    "SELECT ?1, NULL, ?4, ?2, ?3 WHERE NOT EXISTS (SELECT 1 FROM "
                                    "care_suppressions WHERE address = ?1 AND scope IN (?4, 'all'))",
                                -1, &sup, NULL) == SQLITE_OK;
    size_t count = count_of(b, which, k);
    for (size_t j = 0; ok && j < count; j++) {
        size_t i = which ? which[j] : j;
        cc_message *m = &b->msgs[i];
        const char *status, *result;
        int64_t next = 0;
        if (m->result == CC_OK) {
            status = "sent";
            result = "ok";
            (*sent)++;
        } else if (m->result == CC_ERR_TRANSIENT) {
            result = "transient";
            int too_many = tc->max_attempts > 0 && b->attempts[i] >= tc->max_attempts;
            int too_old = tc->max_age_s > 0 && now - b->created[i] >= tc->max_age_s;
            if (too_many || too_old) {
                status = "failed";
                (*failed)++;
            } else {
                status = "retry";
                next = now + outbox_backoff(b->attempts[i]);
                /* never before the gateway's Retry-After */
                if (m->retry_after > 0 && next < now + m->retry_after) next = now + m->retry_after;
                (*retry)++;
            }
        } else {
            status = "failed";
            result = "permanent";
            (*failed)++;
        }
        sqlite3_reset(att);
        sqlite3_bind_int64(att, 1, m->id);
        sqlite3_bind_int(att, 2, b->attempts[i]);
        sqlite3_bind_int64(att, 3, now);
        sqlite3_bind_text(att, 4, result, -1, SQLITE_STATIC);
        sqlite3_bind_text(att, 5, m->reply, -1, SQLITE_STATIC);
        ok = sqlite3_step(att) == SQLITE_DONE;
        sqlite3_reset(upd);
        sqlite3_bind_int64(upd, 1, m->id);
        sqlite3_bind_text(upd, 2, status, -1, SQLITE_STATIC);
        if (m->result == CC_OK) sqlite3_bind_int64(upd, 3, now); else sqlite3_bind_null(upd, 3);
        if (next) sqlite3_bind_int64(upd, 4, next); else sqlite3_bind_null(upd, 4);
        if (m->result == CC_OK) sqlite3_bind_null(upd, 5); else sqlite3_bind_text(upd, 5, m->reply, -1, SQLITE_STATIC);
        sqlite3_bind_int(upd, 6, b->attempts[i]);
        if (m->result == CC_OK) {
            sent_list[n_sent_list++] = (sent_mark){m->id, b->attempts[i]};
        } else if (ok) {
            ok = sqlite3_step(upd) == SQLITE_DONE;
            if (ok && sqlite3_changes(db) == 0) {
                /* claimed again meanwhile: the newer claim's result stands */
                if (!strcmp(status, "retry")) (*retry)--; else (*failed)--;
                n_superseded++;
            }
        }
        if (ok && m->result == CC_ERR_PERMANENT && m->suppress_reason && m->to && *m->to) {
            sqlite3_reset(sup);
            sqlite3_bind_text(sup, 1, m->to, -1, SQLITE_STATIC);
            sqlite3_bind_text(sup, 2, m->suppress_reason, -1, SQLITE_STATIC);
            sqlite3_bind_int64(sup, 3, now);
            sqlite3_bind_text(sup, 4, m->suppress_all ? "all" : "marketing", -1, SQLITE_STATIC);
            ok = sqlite3_step(sup) == SQLITE_DONE;
        }
    }
    if (ok && n_sent_list) {
        ok = sqlite3_prepare_v2(db, "UPDATE care_outbox SET status = 'sent', sent_at = ?2, next_attempt_at = NULL, "
                                    "last_error = NULL, lease_until = NULL "
                                    "WHERE id IN (SELECT value FROM json_each(?1)) AND +status = 'sending' "
                                    "AND +attempts = ?3",
                                -1, &sent_all, NULL) == SQLITE_OK;
        qsort(sent_list, n_sent_list, sizeof *sent_list, by_attempt);
        cc_buf ids = CC_BUF_INIT;
        for (size_t j = 0; ok && j < n_sent_list;) {
            size_t e = j;
            ids.len = 0;
            for (; e < n_sent_list && sent_list[e].attempt == sent_list[j].attempt; e++) json_id(&ids, sent_list[e].id);
            cc_buf_putc(&ids, ']');
            sqlite3_reset(sent_all);
            sqlite3_bind_text(sent_all, 1, cc_buf_str(&ids), (int)ids.len, SQLITE_STATIC);
            sqlite3_bind_int64(sent_all, 2, now);
            sqlite3_bind_int(sent_all, 3, sent_list[j].attempt);
            ok = sqlite3_step(sent_all) == SQLITE_DONE;
            if (ok) {
                size_t changed = (size_t)sqlite3_changes64(db);
                n_superseded += (e - j) - changed;
                *sent -= (e - j) - changed;
            }
            j = e;
        }
        cc_buf_free(&ids);
    }
    free(sent_list);
    sqlite3_finalize(sent_all);
    sqlite3_finalize(att);
    sqlite3_finalize(upd);
    sqlite3_finalize(sup);
    if (!ok || db_commit(db) != CC_OK) {
        char why[300];
        fprintf(stderr, "carecast: recording delivery results failed: %s\n", db_errmsg(db, why, sizeof why));
        db_rollback(db);
        return CC_ERR_DB;
    }
    *sent_out += n_sent;
    *retry_out += n_retry;
    *failed_out += n_failed;
    if (n_superseded)
        fprintf(stderr, "carecast: %zu result(s) not recorded: their lease ran out and another sender claimed them "
                        "again; its results stand\n", n_superseded);
    return CC_OK;
}
