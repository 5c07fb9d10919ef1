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
    char **owned;          /* strings the messages borrow */
    size_t n_owned;
} outbox_batch;

/* Claim up to `max` messages of `channel` due at `now`.  An empty batch
 * means nothing is due. */
cc_code outbox_claim(sqlite3 *db, const char *channel, int64_t now, int64_t lease_s, size_t max, outbox_batch *b);
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
