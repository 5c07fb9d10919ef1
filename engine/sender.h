/* sender.h - delivers due outbox messages through the configured
 * transports, one sender per database at a time. */
#ifndef CC_SENDER_H
#define CC_SENDER_H

#include <sqlite3.h>

#include "config.h"

typedef struct {
    size_t sent, retry, failed;
} send_totals;

/* Deliver up to `limit` messages (0 = all due) due at `now`.
 * CC_ERR_BUSY when another carecast is sending from this database;
 * CC_ERR_CONFIG when a transport cannot be opened. */
cc_code sender_run(sqlite3 *db, const cc_config *cfg, int64_t now, size_t limit, int verbose, send_totals *tot);

#endif
