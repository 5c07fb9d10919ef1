/* sender.c - the send loop: lock, then per channel claim a batch, hand it
 * to the transport, record the results; until nothing is due.
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

#include "outbox.h"
#include "tasks.h"
#include "transport.h"

#define BATCH 50   /* messages per claim for each connection */
/* For transports that report each result as it comes (the HTTP gateways):
 * a claim this large per connection keeps every connection busy instead of
 * draining the pipeline every BATCH messages, and results are recorded
 * every RECORD_EVERY results or RECORD_SECONDS, whichever comes first, so
 * at a crash no more than that (plus the requests in flight) were sent but
 * not recorded, and so are sent again. */
#define STREAM_BATCH 250
#define RECORD_EVERY 256
#define RECORD_SECONDS 1.0
/* Longer than any transport timeout: a live sender never loses its lease. */
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

static double seconds_since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

/* Sleep until `sent` messages at `rate` per second are due since t0. */
static void pace(const struct timespec *t0, size_t sent, double rate)
{
    double wait = (double)sent / rate - seconds_since(t0);
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

/* Records a claimed batch's results in the outbox: as they come (the
 * transport's on_result), RECORD_EVERY per transaction, and whatever is
 * left when the transport returns. */
typedef struct {
    sqlite3 *db;
    outbox_batch *b;
    int64_t now;
    const cc_transport_config *tc;
    send_totals *tot;
    size_t *pending;
    size_t n_pending;
    unsigned char *recorded;
    struct timespec last;  /* of the last recording (or the batch's start) */
    cc_code rc;            /* the first recording failure */
} recorder;

static void record_pending(recorder *r)
{
    if (!r->n_pending) return;
    cc_code c = outbox_finish_some(r->db, r->b, r->pending, r->n_pending, r->now, r->tc, &r->tot->sent,
                                   &r->tot->retry, &r->tot->failed);
    if (c != CC_OK && r->rc == CC_OK) r->rc = c;
    r->n_pending = 0;
    clock_gettime(CLOCK_MONOTONIC, &r->last);
}

static void record_one(recorder *r, size_t i)
{
    if (i >= r->b->n || r->recorded[i]) return;
    r->recorded[i] = 1;
    r->pending[r->n_pending++] = i;
}

static void on_result(void *arg, cc_message *m)
{
    recorder *r = arg;
    record_one(r, (size_t)(m - r->b->msgs));
    if (r->n_pending >= RECORD_EVERY || seconds_since(&r->last) >= RECORD_SECONDS) record_pending(r);
}

cc_code sender_run(sqlite3 *db, const cc_config *cfg, int64_t now, size_t limit, int verbose, send_totals *tot)
{
    memset(tot, 0, sizeof *tot);
    int lock = take_lock(cfg->database);
    if (lock == -1) return CC_ERR_BUSY;
    if (lock < 0) {
        fprintf(stderr, "carecast: cannot create the send lock next to '%s': %s\n", cfg->database, strerror(errno));
        return CC_ERR_IO;
    }
    static const char *const channels[] = {"email", "sms"};
    cc_code rc = CC_OK;
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
        const cc_transport_config *tc = t->tc;
        size_t per_connection = t->ops->results_as_they_come ? STREAM_BATCH : BATCH;
        size_t batch = per_connection * (size_t)(tc->connections > 1 ? tc->connections : 1);
        if (tc->rate > 0 && (double)batch > tc->rate) batch = tc->rate >= 1 ? (size_t)tc->rate : 1;
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        size_t sent_here = 0;
        for (;;) {
            size_t want = batch;
            if (limit && limit - done < want) want = limit - done;
            if (limit && want == 0) break;
            outbox_batch b;
            rc = outbox_claim(db, channels[c], now, LEASE_SECONDS, want, &b);
            if (rc != CC_OK) break;
            if (b.n == 0) {
                outbox_batch_free(&b);
                break;
            }
            if (tc->rate > 0) pace(&t0, sent_here, tc->rate);
            recorder rec = {db, &b, now, tc, tot, xcalloc(b.n, sizeof(size_t)), 0, xcalloc(b.n, 1), {0, 0}, CC_OK};
            clock_gettime(CLOCK_MONOTONIC, &rec.last);
            t->on_result = on_result;
            t->on_result_arg = &rec;
            t->ops->send(t, b.msgs, b.n);
            t->on_result = NULL;
            for (size_t i = 0; i < b.n; i++) record_one(&rec, i);
            record_pending(&rec);
            free(rec.pending);
            free(rec.recorded);
            sent_here += b.n;
            for (size_t i = 0; i < b.n && verbose > 1; i++)
                fprintf(stderr, "carecast: %s #%lld to %s: %s (%s)\n", channels[c], (long long)b.msgs[i].id,
                        b.msgs[i].to ? b.msgs[i].to : "?",
                        b.msgs[i].result == CC_OK ? "sent" : cc_strerror(b.msgs[i].result), b.msgs[i].reply);
            rc = rec.rc;
            done += b.n;
            progress(tot, done, verbose, 0);
            outbox_batch_free(&b);
        }
        transport_close(t);
    }
    progress(tot, done, verbose, 1);
    /* Care tasks last, under the same lock: one digest email per assignee
     * listing every task due now (tasks.c). */
    if (rc == CC_OK && (!limit || done < limit))
        rc = tasks_send_digests(db, cfg, now, LEASE_SECONDS, verbose, &tot->sent, &tot->retry, &tot->failed);
    close(lock);
    return rc;
}
