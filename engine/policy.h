/* policy.h - the contact policy applied to a computed plan (campaigns.md
 * section 7): frequency caps and quiet hours.
 *
 * Caps (config policy.caps) count a customer's messages, already recorded
 * (planned, sending, sent, retry) and accepted earlier in this plan, over a
 * rolling window around each message's send time; the plan is walked in
 * priority order, so when campaigns compete the higher priority wins.  A
 * message over a cap becomes `skipped` with reason `capped` and is never
 * sent later.
 *
 * Quiet hours (policy.quiet_hours, customer-local) move a message's
 * send_after to the end of the quiet period; they never drop it.  Campaigns
 * with ignore_quiet_hours are exempt, and so are care tasks, which go to
 * staff rather than to the customer (neither do tasks count toward caps). */
#ifndef CC_POLICY_H
#define CC_POLICY_H

#include <sqlite3.h>

#include "clock.h"
#include "config.h"
#include "plan.h"

cc_code policy_apply(sqlite3 *db, const cc_config *cfg, plan_list *pl);

/* Parse "N per day|week|month"; the window in seconds (a month is 30
 * days).  -1 when malformed. */
int policy_parse_cap(const char *s, int *n, int64_t *window_s);

#endif
