/* commands.h - the subcommands of `carecast`, one function each, listed in
 * main.c's command table.  Each returns a cc_code that main() turns into
 * the exit status (0 ok, 1 problems found, 2 bad usage or input). */
#ifndef CC_COMMANDS_H
#define CC_COMMANDS_H

#include "cli.h"

cc_code cmd_init(cli *c);        /* cmd_data.c */
cc_code cmd_import(cli *c);
cc_code cmd_demo_data(cli *c);
cc_code cmd_lint(cli *c);        /* cmd_plan.c */
cc_code cmd_preview(cli *c);
cc_code cmd_plan(cli *c);
cc_code cmd_send(cli *c);
cc_code cmd_run(cli *c);
cc_code cmd_serve(cli *c);       /* cmd_serve.c */
cc_code cmd_suppress(cli *c);    /* cmd_ops.c */
cc_code cmd_event(cli *c);

#endif
