/* cli.h - what every `carecast` subcommand receives: the parsed global
 * options, the loaded configuration, the business clock and (on request)
 * the open database.  Subcommands live in cmd_*.c and are listed in one
 * table in main.c. */
#ifndef CC_CLI_H
#define CC_CLI_H

#include <sqlite3.h>

#include "clock.h"
#include "config.h"

typedef struct {
    cc_config cfg;
    cc_clock clock;
    sqlite3 *db;             /* opened by cli_open_db() */
    const char *format;      /* text | json | jsonl | csv */
    int verbosity;           /* 0 quiet, 1 normal, 2 verbose */
    int argc;                /* the command's own arguments, options included */
    char **argv;
} cli;

/* Open the configured database (creating it); prints the error itself. */
cc_code cli_open_db(cli *c);

/* Option helpers for a command's own argv.  Each removes what it takes so
 * that leftovers can be reported as unknown options. */
int cli_flag(cli *c, const char *name);                 /* --dry-run */
const char *cli_option(cli *c, const char *name);       /* --key VALUE or --key=VALUE */
/* After taking options: any remaining "--x" is an error (returns -1 and
 * prints); otherwise the positional arguments are left in argv/argc. */
int cli_no_unknown_options(cli *c, const char *command);

void cli_log(const cli *c, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Whether a command that changes what customers get may go on: at once
 * with --yes (`yes`); otherwise a terminal is asked `prompt` and "y" or
 * "yes" goes on (CC_OK), anything else prints `aborted` (CC_ERR_PROBLEMS);
 * a script that did not say --yes gets `refusal` printed (CC_ERR_USAGE).
 * The messages go to standard error, each ended by the caller's newline
 * where it wants one (the prompt has none). */
cc_code cli_confirm(int yes, const char *refusal, const char *prompt, const char *aborted);

#endif
