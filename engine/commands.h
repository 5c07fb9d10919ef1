/* commands.h - the subcommands of `carecast`, one function each, listed in
 * main.c's command table.  Each returns a cc_code that main() turns into
 * the exit status (0 ok, 1 problems found, 2 bad usage or input). */
#ifndef CC_COMMANDS_H
#define CC_COMMANDS_H

#include <stdio.h>

#include "cli.h"
#include "plan.h"

cc_code cmd_init(cli *c);        /* cmd_data.c */
cc_code cmd_import(cli *c);
cc_code cmd_demo_data(cli *c);
cc_code cmd_lint(cli *c);        /* cmd_plan.c */
cc_code cmd_preview(cli *c);
cc_code cmd_plan(cli *c);
cc_code cmd_send(cli *c);
cc_code cmd_run(cli *c);
/* cmd_plan.c, shared with cmd_trigger.c */
cc_code cmdplan_open_existing_db(cli *c);
cc_code cmdplan_load_campaigns(cli *c, cc_campaign **camps, size_t *n);
cc_code cmdplan_compute(cli *c, cc_campaign *camps, size_t n, const plan_filter *f, plan_list *pl);
void cmdplan_print_items(cli *c, const plan_list *pl);
/* One message as preview shows it: recipient, channel, subject, text. */
void cmdplan_print_message(FILE *out, const plan_item *it);
cc_code cmd_trigger(cli *c);     /* cmd_trigger.c */
cc_code cmd_cancel(cli *c);      /* cmd_control.c */
cc_code cmd_pause(cli *c);
cc_code cmd_resume(cli *c);
cc_code cmd_tasks(cli *c);       /* cmd_tasks.c */
cc_code cmd_serve(cli *c);       /* cmd_serve.c */
cc_code cmd_suppress(cli *c);    /* cmd_ops.c */
cc_code cmd_event(cli *c);
cc_code cmd_report(cli *c);      /* cmd_report.c */
cc_code cmd_segment(cli *c);     /* cmd_segment.c */
cc_code segments_refresh_if_stale(cli *c);   /* for run: recompute when a day old */

#endif
