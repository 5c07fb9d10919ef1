/* outbox.h - delivery side of care_outbox: claiming due messages, and
 * recording what the transport said.
 *
 * A message leaves `planned`/`retry` only through outbox_claim(), which
 * moves it to `sending` with a lease in one transaction, and leaves
 * `sending` only through outbox_finish() (or by its lease expiring, after
 * which outbox_claim() takes it again: the sender died mid-flight, and a
 * repeat is better than a loss).  Each claim and each finish is one
 * transaction, so a crash at any moment leaves every message in exactly
 * one state. */
#ifndef CC_OUTBOX_H
#define CC_OUTBOX_H

#include <sqlite3.h>

#include "config.h"
#include "message.h"

typedef struct {
    cc_message *msgs;
    size_t n;
    int *attempts;         /* attempt number of each claimed message */
    int64_t *created;      /* created_at of each */
    char **owned;          /* the strings of each message, one block each */
    size_t n_owned;
} outbox_batch;

/* The due messages of one channel in claim order (priority, then age),
 * read from the outbox once and claimed from in turn, so that a claim
 * costs its own messages rather than a scan of the whole queue: claiming a
 * million messages 200 at a time would otherwise read the queue 5,000
 * times.  The list is read again when it runs out, and when new messages
 * were planned since (a `trigger` of higher priority must not wait for the
 * end of the run).  Nothing else makes a message due during a run: `now`
 * is fixed, retries and leases set by this sender lie after it. */
typedef struct outbox_queue outbox_queue;

/* Messages of a paused campaign (care_paused, read at every claim) are not
 * taken; a message whose customer is in policy.quiet_hours at `now` (its
 * own zone, else the business zone) is not taken either, and its
 * send_after moves to the end of that night, unless it was planned with
 * quiet = 0 (ignore_quiet_hours, care tasks). */
outbox_queue *outbox_queue_new(sqlite3 *db, const cc_config *cfg, const char *channel, int64_t now);
/* Only this campaign's messages from now on (a trigger delivers what it
 * recorded, not the rest of the queue); `campaign` is borrowed. */
void outbox_queue_only(outbox_queue *q, const char *campaign);
/* Claim up to `max` due messages; an empty batch means nothing is due.
 * Each message is taken by one UPDATE that checks it is still due. */
cc_code outbox_queue_claim(outbox_queue *q, int64_t lease_s, size_t max, outbox_batch *b);
/* How many times the list was read and how many ids it gave, and the
 * SQLite virtual machine steps the claims took besides (for `send -v`, and
 * the test that a claim does not grow with the queue). */
void outbox_queue_stats(const outbox_queue *q, size_t *reads, size_t *ids_read, uint64_t *steps);
/* How many messages the queue held for quiet hours, and the earliest end
 * of those nights (0 when none). */
size_t outbox_queue_held(const outbox_queue *q, int64_t *until);
/* Due messages (planned, retry) of paused campaigns at `now` (of campaign
 * `only`, when not NULL): their count,
 * and the campaigns' names, space-separated, into *names (NULL if none;
 * the caller frees). */
/* Messages (planned, retry) whose time is after `now` (of campaign `only`
 * when not NULL), and the earliest of those times. */
size_t outbox_waiting_later(sqlite3 *db, int64_t now, const char *only, int64_t *next_at);
size_t outbox_paused_due(sqlite3 *db, int64_t now, const char *only, char **names);
void outbox_queue_free(outbox_queue *q);

/* A single claim of up to `max` messages of `channel` due at `now`. */
cc_code outbox_claim(sqlite3 *db, const cc_config *cfg, const char *channel, int64_t now, int64_t lease_s, size_t max,
                     outbox_batch *b);
/* Record each message's result; transient failures are retried with
 * exponential backoff and jitter until max_attempts / max_age. */
cc_code outbox_finish(sqlite3 *db, outbox_batch *b, int64_t now, const cc_transport_config *tc,
                      size_t *sent, size_t *retry, size_t *failed);
/* The same for the messages b->msgs[which[0..k-1]] only, in one
 * transaction: a sender records results while the rest of the batch is
 * still in flight. */
cc_code outbox_finish_some(sqlite3 *db, outbox_batch *b, const size_t *which, size_t k, int64_t now,
                           const cc_transport_config *tc, size_t *sent, size_t *retry, size_t *failed);
void outbox_batch_free(outbox_batch *b);

/* Backoff before attempt `attempt` + 1: 60 s doubled per attempt, capped
 * at 6 hours, with up to 25% random jitter so retries do not march in
 * step. */
int64_t outbox_backoff(int attempt);

#endif
