/* outbox.c - claim and finish (outbox.h).  Invariant: a row leaves
 * `sending` only through outbox_finish() or lease expiry. */
#include "outbox.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "db.h"

static char *own(outbox_batch *b, const unsigned char *s)
{
    if (!s) return NULL;
    b->owned = xrealloc(b->owned, (b->n_owned + 1) * sizeof *b->owned);
    return b->owned[b->n_owned++] = xstrdup((const char *)s);
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

cc_code outbox_claim(sqlite3 *db, const char *channel, int64_t now, int64_t lease_s, size_t max, outbox_batch *b)
{
    memset(b, 0, sizeof *b);
    if (db_begin(db) != CC_OK) {
        char why[300];
        fprintf(stderr, "carecast: claiming messages failed: %s\n", db_errmsg(db, why, sizeof why));
        return CC_ERR_DB;
    }
    sqlite3_stmt *sel = NULL, *upd = NULL;
    int ok = sqlite3_prepare_v2(db,
        "SELECT id, campaign, step, customer_id, kind, channel, recipient, to_name, locale, subject, body_text, "
        "body_html, sms_text, unsubscribe_url, created_at, attempts FROM care_outbox "
        "WHERE channel = ?1 AND ((status IN ('planned', 'retry') AND send_after <= ?2 "
        "AND coalesce(next_attempt_at, 0) <= ?2) OR (status = 'sending' AND lease_until < ?2)) "
        "ORDER BY priority DESC, id LIMIT ?3", -1, &sel, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "UPDATE care_outbox SET status = 'sending', lease_until = ?2, attempts = attempts + 1 "
                               "WHERE id = ?1", -1, &upd, NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_text(sel, 1, channel, -1, SQLITE_STATIC);
        sqlite3_bind_int64(sel, 2, now);
        sqlite3_bind_int64(sel, 3, (sqlite3_int64)max);
        b->msgs = xcalloc(max ? max : 1, sizeof *b->msgs);
        b->attempts = xcalloc(max ? max : 1, sizeof *b->attempts);
        b->created = xcalloc(max ? max : 1, sizeof *b->created);
        int r;
        while ((r = sqlite3_step(sel)) == SQLITE_ROW) {
            cc_message *m = &b->msgs[b->n];
            int k = 0;
            m->id = sqlite3_column_int64(sel, k++);
            m->campaign = own(b, sqlite3_column_text(sel, k++));
            m->step = own(b, sqlite3_column_text(sel, k++));
            m->customer = own(b, sqlite3_column_text(sel, k++));
            m->kind = own(b, sqlite3_column_text(sel, k++));
            m->channel = own(b, sqlite3_column_text(sel, k++));
            m->to = own(b, sqlite3_column_text(sel, k++));
            m->to_name = own(b, sqlite3_column_text(sel, k++));
            m->locale = own(b, sqlite3_column_text(sel, k++));
            m->subject = own(b, sqlite3_column_text(sel, k++));
            m->body_text = own(b, sqlite3_column_text(sel, k++));
            m->body_html = own(b, sqlite3_column_text(sel, k++));
            m->text = own(b, sqlite3_column_text(sel, k++));
            m->unsubscribe_url = own(b, sqlite3_column_text(sel, k++));
            m->created_at = sqlite3_column_int64(sel, k++);
            b->created[b->n] = m->created_at;
            b->attempts[b->n] = sqlite3_column_int(sel, k++) + 1;
            m->result = CC_ERR_TRANSIENT;
            b->n++;
        }
        ok = r == SQLITE_DONE;
        for (size_t i = 0; ok && i < b->n; i++) {
            sqlite3_reset(upd);
            sqlite3_bind_int64(upd, 1, b->msgs[i].id);
            sqlite3_bind_int64(upd, 2, now + lease_s);
            ok = sqlite3_step(upd) == SQLITE_DONE;
        }
    }
    sqlite3_finalize(sel);
    sqlite3_finalize(upd);
    if (!ok || db_commit(db) != CC_OK) {
        char why[300];
        fprintf(stderr, "carecast: claiming messages failed: %s\n", db_errmsg(db, why, sizeof why));
        db_rollback(db);
        outbox_batch_free(b);
        return CC_ERR_DB;
    }
    return CC_OK;
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
    size_t n_sent = 0, n_retry = 0, n_failed = 0;
    size_t *sent = &n_sent, *retry = &n_retry, *failed = &n_failed;
    sqlite3_stmt *att = NULL, *upd = NULL, *sup = NULL;
    int ok = sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO care_attempts(outbox_id, attempt, at, result, reply) "
                                    "VALUES (?, ?, ?, ?, ?)", -1, &att, NULL) == SQLITE_OK &&
             sqlite3_prepare_v2(db, "UPDATE care_outbox SET status = ?2, sent_at = ?3, next_attempt_at = ?4, "
                                    "last_error = ?5, lease_until = NULL WHERE id = ?1 AND status = 'sending'",
                                -1, &upd, NULL) == SQLITE_OK &&
             /* idempotent, like serve's STOP: nothing when already suppressed */
             sqlite3_prepare_v2(db, "INSERT INTO care_suppressions(address, customer_id, scope, reason, created_at) "
                                    "SELECT ?1, NULL, ?4, ?2, ?3 WHERE NOT EXISTS (SELECT 1 FROM "
                                    "care_suppressions WHERE address = ?1 AND scope IN (?4, 'all'))",
                                -1, &sup, NULL) == SQLITE_OK;
    size_t count = which ? k : b->n;
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
        if (ok) ok = sqlite3_step(upd) == SQLITE_DONE;
        if (ok && m->result == CC_ERR_PERMANENT && m->suppress_reason && m->to && *m->to) {
            sqlite3_reset(sup);
            sqlite3_bind_text(sup, 1, m->to, -1, SQLITE_STATIC);
            sqlite3_bind_text(sup, 2, m->suppress_reason, -1, SQLITE_STATIC);
            sqlite3_bind_int64(sup, 3, now);
            sqlite3_bind_text(sup, 4, m->suppress_all ? "all" : "marketing", -1, SQLITE_STATIC);
            ok = sqlite3_step(sup) == SQLITE_DONE;
        }
    }
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
    return CC_OK;
}
