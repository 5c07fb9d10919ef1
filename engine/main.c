/* main.c - the `carecast` command: global options, then one subcommand from
 * the table below.  Adding a command: write `cc_code cmd_NAME(cli *)` in a
 * cmd_*.c file, declare it in commands.h and add a row here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "db.h"

#define CARECAST_VERSION "0.1.0"

typedef struct {
    const char *name;
    cc_code (*run)(cli *);
    const char *usage;
    const char *summary;
    const char *help;        /* the command's own options, one per line */
} command;

static const command commands[] = {
    {"init", cmd_init, "init [DIR]", "create a working folder: config, example rules and templates, empty database",
     "  DIR            folder to create (default: the current folder)\n"},
    {"import", cmd_import, "import TABLE FILE.csv [--key COL] [--encoding ENC]",
     "create or upsert a table from CSV, all rows or none",
     "  --key COL      primary key column (default: id)\n"
     "  --encoding ENC utf-8 (default, BOM allowed), gb18030 or gbk\n"},
    {"lint", cmd_lint, "lint", "check config, campaigns and templates against the database schema", ""},
    {"segment", cmd_segment, "segment", "compute every segment of the rules folder (labels, previous labels, history)", ""},
    {"preview", cmd_preview, "preview CAMPAIGN [--customer ID] [--limit N]",
     "show who is due and the rendered messages; sends nothing",
     "  --customer ID  only this customer\n"
     "  --limit N      at most N messages (default 20)\n"},
    {"plan", cmd_plan, "plan [--dry-run]", "decide what is due and write it to the outbox",
     "  --dry-run      print what would be planned; write nothing\n"},
    {"send", cmd_send, "send [--limit N]", "deliver outbox messages whose time has come",
     "  --limit N      deliver at most N messages\n"},
    {"run", cmd_run, "run", "plan + send: what cron or a systemd timer calls", ""},
    {"trigger", cmd_trigger,
     "trigger CAMPAIGN (--customer ID... | --where EXPR) [--var K=V...] [--step NAME] [--key TEXT] "
     "[--dry-run [--show N]] [--yes]",
     "one-off send of a campaign now",
     "  --customer ID  these customers (repeatable; more ids may follow)\n"
     "  --where EXPR   the audience rows where EXPR holds (ANDed with the campaign's where)\n"
     "  --var K=V      template variable vars.K is V (overrides the campaign's var; each K once)\n"
     "  --step NAME    this step (default: the first)\n"
     "  --key TEXT     idempotency key: once a trigger of the campaign used TEXT, the same\n"
     "                 key sends nothing, whatever the customers, --where or --var\n"
     "                 (1-100 ASCII letters, digits or punctuation; no spaces)\n"
     "  --dry-run      print who would get what; write nothing\n"
     "  --show N       with --dry-run: the text of the first N messages (default 3; 0: none)\n"
     "  --yes          do not ask (required when standard input is not a terminal)\n"
     "Ignores when, repeat, send_at, schedule and active; consent, suppressions,\n"
     "caps and quiet hours still apply.  Without --key, the same command twice sends\n"
     "once: the key is what the command means (customers as a set, the compiled\n"
     "--where with its values, the vars), so spacing, parentheses and the order of\n"
     "options do not make a new trigger; another customer, condition or value does.\n"},
    {"cancel", cmd_cancel, "cancel CAMPAIGN [--step S] [--occurrence O] [--dry-run] [--yes]",
     "never send the campaign's messages that still wait",
     "  --step S       only this step's messages\n"
     "  --occurrence O only this occurrence's (as report and plan --dry-run show it)\n"
     "  --dry-run      say how many would be cancelled; change nothing\n"
     "  --yes          do not ask (required when standard input is not a terminal)\n"
     "Waiting (planned, retry) messages become 'cancelled': never sent, counted by report,\n"
     "and never planned again.  Messages already handed to a transport cannot be called back.\n"},
    {"pause", cmd_pause, "pause CAMPAIGN | pause --list", "hold the campaign's messages until resume",
     "  --list         the paused campaigns\n"
     "A send in progress takes none of the campaign's messages from its next claim on\n"
     "(within a second when the transport has a rate, within one batch otherwise);\n"
     "plan goes on planning them; they wait, unchanged, until 'carecast resume'.\n"},
    {"resume", cmd_resume, "resume CAMPAIGN", "let a paused campaign's messages go at the next send", ""},
    {"event", cmd_event, "event TYPE --customer ID [--at ISO] [--set K=V...]", "record an event in the events table",
     "  --customer ID  the customer it happened to (required)\n"
     "  --at ISO       when (default: now); without an offset, in the business zone\n"
     "  --set K=V      a column of the event (added to the table when new); repeatable\n"},
    {"suppress", cmd_suppress, "suppress add|remove [ADDRESS] [--customer ID] [--scope S] [--reason R] | suppress list",
     "manage the suppression list",
     "  ADDRESS        an email address or E.164 phone number\n"
     "  --customer ID  the customer (with or without an address)\n"
     "  --scope S      marketing (default: blocks marketing only) or all (blocks service too)\n"
     "  --reason R     why, for reports (default: manual)\n"},
    {"tasks", cmd_tasks, "tasks [--assignee EMAIL] | tasks --done ID [--note TEXT]", "list open care tasks for staff",
     "  --assignee E   only the tasks of this member of staff\n"
     "  --done ID      mark task ID done (done_by is $USER)\n"
     "  --note TEXT    with --done: what was done\n"},
    {"report", cmd_report,
     "report [--campaign C] [--since D] [--until D] [--segments] [--format text|json|csv|html] [--output FILE]",
     "what was planned, sent, delivered, failed and skipped; SLAs and coverage",
     "  --campaign C   only this campaign\n"
     "  --since D      first day (YYYY-MM-DD, business zone; default: 29 days before --until)\n"
     "  --until D      last day, inclusive (default: today, or the day of --now/--date)\n"
     "  --segments     also: customers per segment label, movement at the last computation,\n"
     "                 messages sent per customer of each label against policy.coverage\n"
     "  --format F     text, json, csv, or html (one self-contained page with charts)\n"
     "  --output FILE  write there (atomically) instead of standard output\n"
     "Messages count in the period of their send time.  An SLA occurrence is met\n"
     "when its first message was sent within the campaign's sla.  Coverage counts\n"
     "sent messages per customer by the labels of policy.coverage.\n"},
    {"serve", cmd_serve, "serve [--listen 127.0.0.1:8025]", "HTTP endpoint for delivery reports, inbound SMS and unsubscribe",
     "  --listen H:P   address to listen on (default: serve.listen, else 127.0.0.1:8025)\n"},
    {"demo-data", cmd_demo_data, "demo-data --customers N [--seed S]",
     "generate a realistic synthetic database",
     "  --customers N  how many customers (up to millions)\n"
     "  --seed S       random seed (default 1); same seed, same data\n"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static const char global_help[] =
    "Global options:\n"
    "  --config FILE      configuration (default: $CARECAST_CONFIG, else etc/carecast.yaml)\n"
    "  --db FILE          customer database (default: database: in the config)\n"
    "  --rules DIR        campaign folder (default: rules/)\n"
    "  --templates DIR    template folder (default: templates/)\n"
    "  --now ISO          run as if it were this instant\n"
    "  --date YYYY-MM-DD  run as if it were the start of this day (business zone)\n"
    "  --format F         text, json, jsonl or csv where it applies, html for report (default: text)\n"
    "  -q, -v             quieter, louder logs (to stderr)\n"
    "\nExit status: 0 success; 1 problems found (lint errors, failed deliveries);\n"
    "2 bad usage, bad configuration or unreadable input, with nothing written.\n";

static void usage_all(FILE *f)
{
    fprintf(f, "usage: carecast [global options] COMMAND [options]\n\n"
               "carecast plans and sends customer-care email and SMS from YAML campaigns.\n\nCommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-10s %s%s\n", commands[i].name, commands[i].summary,
                commands[i].run ? "" : " (not implemented yet)");
    fprintf(f, "\n%s\n'carecast COMMAND --help' explains one command.\n", global_help);
}

static void usage_command(const command *cmd, FILE *f)
{
    fprintf(f, "usage: carecast [global options] %s\n\n%s%s\n\n", cmd->usage, cmd->summary,
            cmd->run ? "." : " (not implemented yet).");
    if (cmd->help[0]) fprintf(f, "Options:\n%s\n", cmd->help);
    fputs(global_help, f);
}

typedef struct {
    const char *config, *db, *rules, *templates, *now, *date, *format;
    int verbosity;
} globals;

/* Global options may stand before or after the command name. */
static int take_global(globals *g, int argc, char **argv, int *i)
{
    static const char *const valued[] = {"--config", "--db", "--rules", "--templates", "--now", "--date", "--format"};
    const char *a = argv[*i];
    if (strcmp(a, "-q") == 0) { g->verbosity = 0; return 1; }
    if (strcmp(a, "-v") == 0) { g->verbosity = 2; return 1; }
    for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++) {
        size_t l = strlen(valued[k]);
        const char *val = NULL;
        if (strcmp(a, valued[k]) == 0) {
            if (*i + 1 >= argc) {
                fprintf(stderr, "carecast: %s needs a value\n", valued[k]);
                return -1;
            }
            val = argv[++*i];
        } else if (strncmp(a, valued[k], l) == 0 && a[l] == '=') {
            val = a + l + 1;
        } else {
            continue;
        }
        const char **slots[] = {&g->config, &g->db, &g->rules, &g->templates, &g->now, &g->date, &g->format};
        *slots[k] = val;
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    globals g = {.verbosity = 1, .format = "text"};
    const command *cmd = NULL;
    db_configure();
    char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
    int nrest = 0, want_help = 0, status = 2;
    for (int i = 1; i < argc; i++) {
        int t = take_global(&g, argc, argv, &i);
        if (t < 0) goto out;
        if (t) continue;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) { want_help = 1; continue; }
        if (strcmp(argv[i], "--version") == 0) {
            printf("carecast %s\n", CARECAST_VERSION);
            status = 0;
            goto out;
        }
        if (!cmd && argv[i][0] != '-') {
            for (size_t k = 0; k < N_COMMANDS; k++)
                if (strcmp(commands[k].name, argv[i]) == 0) cmd = &commands[k];
            if (!cmd) {
                fprintf(stderr, "carecast: unknown command '%s' (see 'carecast --help')\n", argv[i]);
                goto out;
            }
            continue;
        }
        rest[nrest++] = argv[i];
    }
    if (want_help || !cmd) {
        if (cmd) usage_command(cmd, stdout); else usage_all(want_help ? stdout : stderr);
        status = want_help ? 0 : 2;
        goto out;
    }
    if (!cmd->run) {
        fprintf(stderr, "carecast: '%s' is not implemented yet\n", cmd->name);
        goto out;
    }
    static const char *const formats[] = {"text", "json", "jsonl", "csv"};
    int fmt_ok = 0;
    for (size_t k = 0; k < 4; k++) fmt_ok |= strcmp(g.format, formats[k]) == 0;
    /* html is a report layout only; report itself refuses jsonl. */
    if (cmd->run == cmd_report && strcmp(g.format, "html") == 0) fmt_ok = 1;
    if (!fmt_ok) {
        fprintf(stderr, "carecast: --format must be text, json, jsonl or csv, not '%s'\n", g.format);
        goto out;
    }
    if (g.now && g.date) {
        fprintf(stderr, "carecast: give --now or --date, not both\n");
        goto out;
    }
    if (g.date && strlen(g.date) != 10) {
        fprintf(stderr, "carecast: --date must be YYYY-MM-DD, not '%s'\n", g.date);
        goto out;
    }

    cli c = {.format = g.format, .verbosity = g.verbosity, .argc = nrest, .argv = rest};
    cc_diags diags = {.limit = 50};
    if (config_load(g.config, &c.cfg, &diags) != CC_OK) {
        cc_diag_print(&diags, stderr);
        cc_diags_free(&diags);
        goto out;
    }
    cc_diags_free(&diags);
    if (g.db) { free(c.cfg.database); c.cfg.database = xstrdup(g.db); }
    if (g.rules) { free(c.cfg.rules); c.cfg.rules = xstrdup(g.rules); }
    if (g.templates) { free(c.cfg.templates); c.cfg.templates = xstrdup(g.templates); }
    const char *when = g.now ? g.now : g.date;
    if (clock_init(&c.clock, c.cfg.timezone, when) != CC_OK) {
        fprintf(stderr, "carecast: %s '%s' is not a valid %s\n", g.now ? "--now" : "--date", when,
                g.now ? "ISO date-time (2026-11-24T09:30:00+08:00)" : "date (YYYY-MM-DD)");
        config_free(&c.cfg);
        goto out;
    }
    cc_code rc = cmd->run(&c);
    if (rc != CC_OK && rc != CC_ERR_PROBLEMS && c.verbosity > 1)
        fprintf(stderr, "carecast: %s: %s\n", cmd->name, cc_strerror(rc));
    status = cc_exit_status(rc);
    db_close(c.db);
    config_free(&c.cfg);
out:
    clock_shutdown();
    free(rest);
    return status;
}
