/* tasks.h - care tasks for staff (the `task` channel, campaigns.md
 * section 7): the digest each assignee receives.
 *
 * Planning a task writes a care_outbox row of channel 'task' (recipient =
 * the assignee) and a care_tasks row.  The sender then calls
 * tasks_send_digests(): every due task row is claimed like any message,
 * and each assignee gets ONE email listing all of their new tasks, through
 * the email transport.  The task rows take the result of their digest
 * (sent, retry or failed, with the same backoff), and care_tasks gets
 * digest_sent_at when it went. */
#ifndef CC_TASKS_H
#define CC_TASKS_H

#include <sqlite3.h>

#include "config.h"

/* Send the digests of every task due at `now`.  Adds the task rows' own
 * results to the counters.  CC_OK when there was nothing to do. */
cc_code tasks_send_digests(sqlite3 *db, const cc_config *cfg, int64_t now, int64_t lease_s, int verbose,
                           size_t *sent, size_t *retry, size_t *failed);

#endif
