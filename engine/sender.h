/* sender.h - delivers due outbox messages through the configured
 * transports, one sender per database at a time. */
#ifndef CC_SENDER_H
#define CC_SENDER_H

#include <sqlite3.h>
#include <stdio.h>

#include "config.h"

typedef struct {
    size_t sent, retry, failed;
    size_t held_quiet;        /* due, but night for their customers: moved to the morning */
    int64_t held_until;       /* the earliest of those mornings */
    size_t paused;            /* due messages of paused campaigns, left waiting */
    char *paused_names;       /* those campaigns, space-separated; owned, freed by send_totals_free */
    size_t later;             /* waiting (planned, retry) for a later time, those held included */
    int64_t next_at;          /* the earliest of those times */
} send_totals;

void send_totals_free(send_totals *tot);
/* The lines after "sent N, retry N, failed N": what was due but left
 * waiting, and why (quiet hours, paused campaigns). */
void send_totals_print_held(const send_totals *tot, const char *zone, FILE *f);

/* Deliver up to `limit` messages (0 = all due) due at `now`.
 * CC_ERR_BUSY when another carecast is sending from this database;
 * CC_ERR_CONFIG when a transport cannot be opened. */
cc_code sender_run(sqlite3 *db, const cc_config *cfg, int64_t now, size_t limit, int verbose, send_totals *tot);
/* The same for one campaign's messages only (`trigger`); care tasks'
 * digests wait for the next full send. */
cc_code sender_run_campaign(sqlite3 *db, const cc_config *cfg, int64_t now, const char *campaign, int verbose,
                            send_totals *tot);

#endif
