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

/* The same one item at a time, items given in plan order (priority
 * first): what plan_compute_stream uses.  policy_begin fails (CC_ERR_DB,
 * nothing printed: sqlite3_errmsg says why) when the caps query cannot be
 * prepared; *ps is set even then, and must be ended. */
typedef struct policy_state policy_state;
cc_code policy_begin(sqlite3 *db, const cc_config *cfg, policy_state **ps);
void policy_item(policy_state *ps, plan_item *it);
void policy_end(policy_state *ps);

/* Parse "N per day|week|month"; the window in seconds (a month is 30
 * days).  -1 when malformed. */
int policy_parse_cap(const char *s, int *n, int64_t *window_s);

#endif
