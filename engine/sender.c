/* sender.c - the send loop: lock, then per channel claim a batch, hand it
 * to the transport, record the results; until nothing is due.  A transport
 * that reports results as they come takes its next claims itself (more())
 * in the same call, while its requests go on.
 *
 * The advisory lock is an flock() on DATABASE.send-lock: it is released by
 * the kernel when the process dies, so a crashed sender never blocks the
 * next run, and a lease on each claimed message covers the messages it had
 * in flight. */
#include "sender.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "db.h"
#include "outbox.h"
#include "tasks.h"
#include "transport.h"

#define BATCH 50   /* messages per claim for each connection */
/* For transports that report each result as it comes (the HTTP gateways):
 * a claim this large per connection leaves the next claim time to be made
 * while the last one's requests go, and results are recorded
 * every RECORD_EVERY results or RECORD_SECONDS, whichever comes first, so
 * at a crash no more than that (plus the requests in flight) were sent but
 * not recorded, and so are sent again. */
#define STREAM_BATCH 250
#define RECORD_EVERY 256
#define RECORD_SECONDS 1.0
/* The lease of care tasks' digests; the channels' own is `lease:` in their
 * transport's configuration (900 s, longer than any transport timeout: a
 * live sender never loses its lease). */
#define LEASE_SECONDS 900

static int take_lock(const char *database)
{
    char *path = xasprintf("%s.send-lock", database);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    free(path);
    if (fd < 0) return -2;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The delivery journal, DATABASE.delivered: one outbox id per line, each
 * appended by a transport the moment the server accepted that message
 * (transport_note_delivered()).  It is emptied once the results of all
 * the claims a call of the transport's send went through are committed
 * (for the HTTP gateways, that is the whole run: the claims follow each
 * other in one call, and a line may be added for any of them at any time).  Whatever is in it when a sender starts was accepted by a
 * sender that died (or gave up on a locked database) before recording it:
 * those rows, if still `sending`, are recorded as sent instead of going
 * again when their lease expires.  SMTP notes a message at its end-of-data
 * reply, the HTTP gateways (http_batch.c) at each 2xx answer; the file
 * transport needs none (rewriting ID.eml is not a second message). */
static char *journal_path(const char *database) { return xasprintf("%s.delivered", database); }

static cc_code journal_replay(sqlite3 *db, const char *database, int64_t now, int verbose)
{
    char *path = journal_path(database);
    size_t len = 0;
    char *text = cc_read_file(path, &len);
    if (!text || len == 0) {
        free(text);
        free(path);
        return CC_OK;
    }
    int ok = db_begin(db) == CC_OK;
    sqlite3_stmt *upd = NULL, *att = NULL;
    ok = ok &&
         sqlite3_prepare_v2(db, "UPDATE care_outbox SET status = 'sent', sent_at = ?2, next_attempt_at = NULL, "
                                "last_error = NULL, lease_until = NULL WHERE id = ?1 AND status = 'sending'",
                            -1, &upd, NULL) == SQLITE_OK &&
         sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO care_attempts(outbox_id, attempt, at, result, reply) "
                                "SELECT id, attempts, ?2, 'ok', 'accepted by the server; recorded from the delivery "
                                "journal after the sender stopped' FROM care_outbox WHERE id = ?1",
                            -1, &att, NULL) == SQLITE_OK;
    size_t recorded = 0;
    for (char *line = text, *next; ok && line && *line; line = next) {
        /* Only whole lines: a line without its newline may be the first
         * digits of another id, and marking that one sent would lose it. */
        next = strchr(line, '\n');
        if (!next) break;
        *next++ = '\0';
        char *end = NULL;
        long long id = strtoll(line, &end, 10);
        if (end == line || *end || id <= 0) continue;
        sqlite3_reset(upd);
        sqlite3_bind_int64(upd, 1, id);
        sqlite3_bind_int64(upd, 2, now);
        ok = sqlite3_step(upd) == SQLITE_DONE;
        if (ok && sqlite3_changes(db) == 1) {
            sqlite3_reset(att);
            sqlite3_bind_int64(att, 1, id);
            sqlite3_bind_int64(att, 2, now);
            ok = sqlite3_step(att) == SQLITE_DONE;
            recorded++;
        }
    }
    sqlite3_finalize(upd);
    sqlite3_finalize(att);
    free(text);
    if (!ok || db_commit(db) != CC_OK) {
        char why[300];
        fprintf(stderr, "carecast: cannot record the delivery journal %s: %s\n", path, db_errmsg(db, why, sizeof why));
        db_rollback(db);
        free(path);
        return CC_ERR_DB;
    }
    if (truncate(path, 0) != 0) {}   /* replaying it again changes nothing */
    if (recorded && verbose >= 1)
        fprintf(stderr, "carecast: %zu messages accepted by the server before the last sender stopped are "
                        "recorded as sent (delivery journal)\n", recorded);
    free(path);
    return CC_OK;
}

/* How long a sender keeps trying to record what the transport said when
 * the database is locked by another process or the disk is full. */
#define RECORD_WAIT_SECONDS 60

/* The transport has spoken: its verdicts must reach the database, or the
 * messages, still `sending`, go again once their lease runs out (a double
 * send).  So a failed finish is tried again, each try waiting up to the
 * busy timeout for a lock, for RECORD_WAIT_SECONDS in all; then the
 * sender stops, saying which messages will be repeated. */
static cc_code finish_batch(sqlite3 *db, outbox_batch *b, const size_t *which, size_t k, int64_t now,
                            const cc_transport_config *tc, send_totals *tot)
{
    size_t count = which ? k : b->n;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int tries = 1;; tries++) {
        if (outbox_finish_some(db, b, which, k, now, tc, &tot->sent, &tot->retry, &tot->failed) == CC_OK) {
            if (tries > 1)
                fprintf(stderr, "carecast: recorded the results of %zu messages at try %d\n", count, tries);
            return CC_OK;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (t1.tv_sec - t0.tv_sec >= RECORD_WAIT_SECONDS) break;
        if (tries == 1)
            fprintf(stderr, "carecast: %zu messages were handed to the transport; trying for up to %d s to record "
                            "their results\n", count, RECORD_WAIT_SECONDS);
        struct timespec d = {1, 0};
        while (nanosleep(&d, &d) != 0 && errno == EINTR) {}
    }
    cc_buf ids = CC_BUF_INIT;
    for (size_t j = 0; j < count; j++)
        cc_buf_printf(&ids, "%s%lld", j ? " " : "", (long long)b->msgs[which ? which[j] : j].id);
    fprintf(stderr, "carecast: gave up recording the results of %zu messages after %d s; they stay 'sending' and "
                    "go again when their lease expires (%lld s), except those in the delivery journal, which "
                    "the next send records as sent: outbox ids %s\n",
            count, RECORD_WAIT_SECONDS, (long long)tc->lease_s, cc_buf_str(&ids));
    cc_buf_free(&ids);
    return CC_ERR_DB;
}

/* Sleep until `sent` messages at `rate` per second are due since t0. */
static void pace(const struct timespec *t0, size_t sent, double rate)
{
    double wait = (double)sent / rate - cc_seconds_since(t0);
    if (wait <= 0) return;
    struct timespec d = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
    while (nanosleep(&d, &d) != 0 && errno == EINTR) {}
}

/* Progress on long sends: a line rewritten in place on a terminal; in a
 * log (cron, systemd) a plain line per 1,000 messages, so a stuck run can
 * be told from a slow one. */
static void progress(const send_totals *tot, size_t done, int verbose, int last)
{
    static size_t logged;
    if (verbose < 1) return;
    if (isatty(STDERR_FILENO)) {
        if (done == 0) return;
        fprintf(stderr, "\rcarecast: sending: %zu done (%zu sent, %zu retry, %zu failed)%s", done, tot->sent,
                tot->retry, tot->failed, last ? "\n" : "");
    } else if (!last && done / 1000 > logged / 1000) {
        fprintf(stderr, "carecast: sending: %zu done (%zu sent, %zu retry, %zu failed)\n", done, tot->sent, tot->retry,
                tot->failed);
    }
    logged = last ? 0 : done;
}

/* The claims one call of the transport's send works through, and their
 * recording.  Results are recorded as they come (the transport's
 * on_result), every RECORD_EVERY results or RECORD_SECONDS in one
 * transaction per claim; a claim is retired (the rest of its results
 * recorded, with finish_batch()'s retries, then freed) once every one of
 * its results is in, or when the send returns.  A recording that fails
 * while the transfers go on is not retried there (that would stall them):
 * its messages wait for their claim's retirement with the rest. */
typedef struct {
    outbox_batch b;
    size_t *pending;
    size_t n_pending;
    unsigned char *reported;
    size_t n_reported;
} claim;

typedef struct {
    sqlite3 *db;
    const char *channel;
    int64_t now;
    const cc_transport_config *tc;
    send_totals *tot;
    int verbose;
    size_t batch;          /* messages per claim */
    size_t limit;          /* 0 = none */
    size_t *done;          /* messages retired so far (all channels) */
    size_t in_hand;        /* in the claims not yet retired */
    size_t claimed_here;   /* on this channel, for the rate */
    struct timespec t0;    /* of the first claim on this channel */
    claim *c;              /* in the transport's hands, oldest first */
    size_t n_c;
    size_t n_pending;      /* over all claims */
    outbox_queue *queue;   /* the due messages of this channel */
    struct timespec last;  /* of the last recording */
    int stalled;           /* a recording failed: the rest waits for retirement */
    int empty;             /* nothing more is due (or the limit is reached) */
    cc_code rc;            /* the first failure to claim or record */
} stream;

/* Claims the next batch; 0 when there is none (s->empty or s->rc says why). */
static int claim_next(stream *s)
{
    size_t want = s->batch;
    if (s->limit && s->limit - (*s->done + s->in_hand) < want) want = s->limit - (*s->done + s->in_hand);
    if (want == 0) {
        s->empty = 1;
        return 0;
    }
    outbox_batch b;
    cc_code rc = outbox_queue_claim(s->queue, s->tc->lease_s, want, &b);
    if (rc != CC_OK) {
        s->rc = rc;
        return 0;
    }
    if (b.n == 0) {
        outbox_batch_free(&b);
        s->empty = 1;
        return 0;
    }
    if (s->tc->rate > 0) pace(&s->t0, s->claimed_here, s->tc->rate);
    s->c = xrealloc(s->c, (s->n_c + 1) * sizeof *s->c);
    s->c[s->n_c++] = (claim){b, xcalloc(b.n, sizeof(size_t)), 0, xcalloc(b.n, 1), 0};
    s->claimed_here += b.n;
    s->in_hand += b.n;
    return 1;
}

static void record_one(stream *s, claim *c, size_t i)
{
    if (i >= c->b.n || c->reported[i]) return;
    c->reported[i] = 1;
    c->n_reported++;
    c->pending[c->n_pending++] = i;
    s->n_pending++;
}

static void on_result(void *arg, cc_message *m)
{
    stream *s = arg;
    for (size_t k = 0; k < s->n_c; k++) {
        claim *c = &s->c[k];
        if (m >= c->b.msgs && m < c->b.msgs + c->b.n) {
            record_one(s, c, (size_t)(m - c->b.msgs));
            break;
        }
    }
    if (s->stalled || (s->n_pending < RECORD_EVERY && cc_seconds_since(&s->last) < RECORD_SECONDS)) return;
    for (size_t k = 0; k < s->n_c && !s->stalled; k++) {
        claim *c = &s->c[k];
        if (!c->n_pending) continue;
        if (outbox_finish_some(s->db, &c->b, c->pending, c->n_pending, s->now, s->tc, &s->tot->sent, &s->tot->retry,
                               &s->tot->failed) == CC_OK) {
            s->n_pending -= c->n_pending;
            c->n_pending = 0;
        } else {
            s->stalled = 1;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &s->last);
    progress(s->tot, s->tot->sent + s->tot->retry + s->tot->failed, s->verbose, 0);
}

/* Records what is left of claim k (a message without a result counts as
 * TRANSIENT, as claimed) and frees it. */
static void retire(stream *s, size_t k)
{
    claim *c = &s->c[k];
    for (size_t i = 0; i < c->b.n; i++) record_one(s, c, i);
    cc_code rc = c->n_pending ? finish_batch(s->db, &c->b, c->pending, c->n_pending, s->now, s->tc, s->tot) : CC_OK;
    s->n_pending -= c->n_pending;
    if (rc != CC_OK && s->rc == CC_OK) s->rc = rc;
    for (size_t i = 0; i < c->b.n && s->verbose > 1; i++) {
        const cc_message *m = &c->b.msgs[i];
        fprintf(stderr, "carecast: %s #%lld to %s: %s (%s)\n", s->channel, (long long)m->id, m->to ? m->to : "?",
                m->result == CC_OK ? "sent" : cc_strerror(m->result), m->reply);
    }
    s->in_hand -= c->b.n;
    *s->done += c->b.n;
    if (rc == CC_OK) progress(s->tot, s->tot->sent + s->tot->retry + s->tot->failed, s->verbose, 0);
    free(c->pending);
    free(c->reported);
    outbox_batch_free(&c->b);
    memmove(c, c + 1, (s->n_c - k - 1) * sizeof *c);
    s->n_c--;
}

/* The transport's t->more: retires the claims whose results are all in,
 * then claims the next batch, unless claiming or recording failed. */
static size_t more(void *arg, cc_message **msgs)
{
    stream *s = arg;
    for (size_t k = 0; k < s->n_c;) {
        if (s->c[k].n_reported == s->c[k].b.n) retire(s, k);
        else k++;
    }
    if (s->rc != CC_OK || s->empty || !claim_next(s)) return 0;
    claim *c = &s->c[s->n_c - 1];
    *msgs = c->b.msgs;
    return c->b.n;
}

void send_totals_free(send_totals *tot)
{
    free(tot->paused_names);
    tot->paused_names = NULL;
}

void send_totals_print_held(const send_totals *tot, const char *zone, FILE *f)
{
    if (tot->held_quiet) {
        char at[32];
        clock_format_instant(zone, tot->held_until, at);
        fprintf(f, "%zu message%s wait%s for the customer's quiet hours to end (the first at %s)\n", tot->held_quiet,
                tot->held_quiet == 1 ? "" : "s", tot->held_quiet == 1 ? "s" : "", at);
    }
    if (tot->paused)
        fprintf(f, "%zu message%s of paused campaigns wait%s: %s (carecast resume CAMPAIGN)\n", tot->paused,
                tot->paused == 1 ? "" : "s", tot->paused == 1 ? "s" : "", tot->paused_names);
    if (tot->later) {
        char at[32];
        clock_format_instant(zone, tot->next_at, at);
        fprintf(f, "%zu message%s in all wait%s for a later send time (the next at %s)\n", tot->later,
                tot->later == 1 ? "" : "s", tot->later == 1 ? "s" : "", at);
    }
}

static cc_code run(sqlite3 *db, const cc_config *cfg, int64_t now, size_t limit, const char *only, int verbose,
                   send_totals *tot);

cc_code sender_run(sqlite3 *db, const cc_config *cfg, int64_t now, size_t limit, int verbose, send_totals *tot)
{
    return run(db, cfg, now, limit, NULL, verbose, tot);
}

cc_code sender_run_campaign(sqlite3 *db, const cc_config *cfg, int64_t now, const char *campaign, int verbose,
                            send_totals *tot)
{
    return run(db, cfg, now, 0, campaign, verbose, tot);
}

static cc_code run(sqlite3 *db, const cc_config *cfg, int64_t now, size_t limit, const char *only, int verbose,
                   send_totals *tot)
{
    memset(tot, 0, sizeof *tot);
    int lock = take_lock(cfg->database);
    if (lock == -1) return CC_ERR_BUSY;
    if (lock < 0) {
        fprintf(stderr, "carecast: cannot create the send lock next to '%s': %s\n", cfg->database, strerror(errno));
        return CC_ERR_IO;
    }
    cc_code rc = journal_replay(db, cfg->database, now, verbose);
    if (rc != CC_OK) {
        close(lock);
        return rc;
    }
    char *jpath = journal_path(cfg->database);
    int journal = open(jpath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (journal < 0)
        fprintf(stderr, "carecast: cannot open the delivery journal %s: %s (sending without it)\n", jpath,
                strerror(errno));
    free(jpath);
    static const char *const channels[] = {"email", "sms"};
    size_t done = 0;
    for (int c = 0; c < 2 && rc == CC_OK; c++) {
        /* The transport opens before anything is claimed: a configuration
         * problem must not cost any message an attempt. */
        cc_transport *t = NULL;
        char err[512];
        rc = transport_open(cfg, channels[c], &t, err, sizeof err);
        if (rc != CC_OK) {
            fprintf(stderr, "carecast: %s\n", err);
            break;
        }
        /* The rate limit keeps the average at `rate` messages per second
         * from the first send; a batch is at most one second's worth, so
         * bursts stay within that. */
        t->journal_fd = journal;
        const cc_transport_config *tc = t->tc;
        size_t per_connection = t->ops->results_as_they_come ? STREAM_BATCH : BATCH;
        size_t batch = per_connection * (size_t)(tc->connections > 1 ? tc->connections : 1);
        if (tc->rate > 0 && (double)batch > tc->rate) batch = tc->rate >= 1 ? (size_t)tc->rate : 1;
        stream s = {.db = db, .channel = channels[c], .now = now, .tc = tc, .tot = tot, .verbose = verbose,
                    .batch = batch, .limit = limit, .done = &done,
                    .queue = outbox_queue_new(db, cfg, channels[c], now)};
        if (only) outbox_queue_only(s.queue, only);
        clock_gettime(CLOCK_MONOTONIC, &s.t0);
        t->on_result = on_result;
        t->on_result_arg = &s;
        if (t->ops->results_as_they_come) {
            t->more = more;
            t->more_arg = &s;
        }
        while (s.rc == CC_OK && !s.empty && claim_next(&s)) {
            clock_gettime(CLOCK_MONOTONIC, &s.last);
            claim *first = &s.c[s.n_c - 1];
            t->ops->send(t, first->b.msgs, first->b.n);
            while (s.n_c > 0) retire(&s, 0);
            s.stalled = 0;
            if (s.rc != CC_OK) break;
            /* recorded: the journal's lines are history now */
            if (journal >= 0 && ftruncate(journal, 0) != 0) {}
        }
        free(s.c);
        if (verbose >= 2 && s.claimed_here > 0) {
            size_t reads, ids;
            uint64_t steps;
            outbox_queue_stats(s.queue, &reads, &ids, &steps);
            fprintf(stderr, "carecast: %s: %zu messages claimed; the queue read %zu times (%zu ids), %llu SQLite "
                            "steps to claim\n", channels[c], s.claimed_here, reads, ids, (unsigned long long)steps);
        }
        int64_t until;
        size_t held = outbox_queue_held(s.queue, &until);
        tot->held_quiet += held;
        if (held && (!tot->held_until || until < tot->held_until)) tot->held_until = until;
        outbox_queue_free(s.queue);
        t->on_result = NULL;
        t->more = NULL;
        rc = s.rc;
        transport_close(t);
    }
    progress(tot, done, verbose, 1);
    if (rc == CC_OK) {
        tot->paused = outbox_paused_due(db, now, only, &tot->paused_names);
        tot->later = outbox_waiting_later(db, now, only, &tot->next_at);
    }
    /* Care tasks last, under the same lock: one digest email per assignee
     * listing every task due now (tasks.c). */
    if (rc == CC_OK && !only && (!limit || done < limit))
        rc = tasks_send_digests(db, cfg, now, LEASE_SECONDS, verbose, &tot->sent, &tot->retry, &tot->failed);
    if (journal >= 0) close(journal);
    close(lock);
    return rc;
}
