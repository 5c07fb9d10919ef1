/* cmd_plan.c - commands over campaigns and the outbox: lint, preview,
 * plan, send, run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "campaign.h"
#include "commands.h"
#include "plan.h"
#include "segment.h"
#include "sender.h"

/* Planning commands read an existing database; they never create one. */
static cc_code open_existing_db(cli *c)
{
    if (access(c->cfg.database, F_OK) != 0) {
        fprintf(stderr,
                "carecast: database '%s' does not exist (create it with 'carecast demo-data --customers N' or "
                "'carecast import customers FILE.csv')\n",
                c->cfg.database);
        return CC_ERR_NOT_FOUND;
    }
    return cli_open_db(c);
}

static cc_code load_campaigns(cli *c, cc_campaign **camps, size_t *n)
{
    cc_diags diags = {.limit = 100};
    cc_code rc = campaign_load_dir(c->cfg.rules, camps, n, &diags);
    if (rc != CC_OK) {
        cc_diag_print(&diags, stderr);
        campaigns_free(*camps, *n);
        *camps = NULL;
        *n = 0;
    }
    cc_diags_free(&diags);
    return rc == CC_OK ? CC_OK : CC_ERR_INPUT;
}

static int by_table_column(const void *a, const void *b)
{
    const expr_column_note *x = a, *y = b;
    int r = strcmp(x->table, y->table);
    return r ? r : strcmp(x->column, y->column);
}

/* A -v log line per column, in name order: "carecast: repairs.closed_at:
 * date (from its values: 2026-11-24 ...)". */
static void log_column_types(const cli *c, expr_column_log *log)
{
    if (!log->n) return;
    qsort(log->items, log->n, sizeof *log->items, by_table_column);
    for (size_t i = 0; i < log->n; i++)
        cli_log(c, 2, "%s.%s: %s (%s)", log->items[i].table, log->items[i].column, expr_type_word(log->items[i].type),
                log->items[i].origin);
}

cc_code cmd_lint(cli *c)
{
    if (cli_no_unknown_options(c, "lint") != 0) return CC_ERR_USAGE;
    if (c->argc) {
        fprintf(stderr, "carecast lint: unexpected argument '%s'\n", c->argv[0]);
        return CC_ERR_USAGE;
    }
    cc_diags diags = {.limit = 200};
    cc_campaign *camps = NULL;
    size_t n = 0;
    cc_code rc = campaign_load_dir(c->cfg.rules, &camps, &n, &diags);
    int problems = rc != CC_OK;
    /* A campaign without `kind:` is marketing: -v names those that rely
     * on it, so a service notice that forgot the key is found before its
     * customers without consent silently miss it. */
    for (size_t i = 0; i < n; i++)
        cli_log(c, 2, "%s: campaign '%s': kind: %s%s, priority %d", camps[i].file, camps[i].id,
                camps[i].is_marketing ? "marketing" : "service", camps[i].kind_default ? " (default)" : "",
                camps[i].priority);
    /* An SLA is a promise to answer every customer; a marketing campaign
     * leaves out those without consent.  Said without -v: it is rarely
     * what was meant, and nothing else would tell. */
    for (size_t i = 0; i < n; i++)
        if (camps[i].kind_default && camps[i].sla_s > 0)
            cli_log(c, 1, "%s: warning: campaign '%s' has an sla but no kind: it is marketing by default, so customers "
                          "without consent get nothing; write 'kind: service' for a care reply",
                    camps[i].file, camps[i].id);
    if (open_existing_db(c) != CC_OK) {
        cc_diag_print(&diags, stderr);
        cc_diags_free(&diags);
        campaigns_free(camps, n);
        return CC_ERR_PROBLEMS;
    }
    /* -v: the type each column the rules read got, and why, so a
     * marketer can see why `closed_at + 2 days` is a date or a date-time. */
    expr_column_log columns = {0};
    expr_column_log *log = c->verbosity >= 2 ? &columns : NULL;
    for (size_t i = 0; i < n; i++)
        if (plan_check_campaign(c->db, &c->cfg, &c->clock, &camps[i], &diags, log) != CC_OK) problems = 1;
    /* Secrets the transports name but the environment lacks: send would
     * refuse to start, so lint says so now, where they are named. */
    if (config_report_unset_secrets(&c->cfg, "transports.", &diags)) problems = 1;
    cc_segment *segs = NULL;
    size_t nseg = 0;
    if (segment_load_dir(c->cfg.rules, &segs, &nseg, &diags) != CC_OK) problems = 1;
    char today[11];
    clock_format_date(c->clock.today, today);
    for (size_t i = 0; i < nseg; i++)
        if (segment_check(c->db, &c->cfg, today, &segs[i], &diags, log) != CC_OK) problems = 1;
    segments_free(segs, nseg);
    cc_diag_print(&diags, stderr);
    log_column_types(c, &columns);
    expr_column_log_free(&columns);
    if (!problems)
        printf("%s: %zu campaign%s, %zu segment%s, configuration and templates are clean\n", c->cfg.rules, n,
               n == 1 ? "" : "s", nseg, nseg == 1 ? "" : "s");
    else
        fprintf(stderr, "carecast lint: %zu problem%s found\n", diags.count, diags.count == 1 ? "" : "s");
    cc_diags_free(&diags);
    campaigns_free(camps, n);
    return problems ? CC_ERR_PROBLEMS : CC_OK;
}

/* The plan as text, JSON, JSON lines or CSV, an item at a time: written
 * to `out` in pieces of about 64 KiB. */
typedef struct {
    cli *c;
    FILE *out;
    cc_buf b;
    int json, jsonl, csv;
    size_t printed;
} printer;

static void printer_begin(printer *pr, cli *c, FILE *out)
{
    memset(pr, 0, sizeof *pr);
    pr->c = c;
    pr->out = out;
    pr->json = !strcmp(c->format, "json");
    pr->jsonl = !strcmp(c->format, "jsonl");
    pr->csv = !strcmp(c->format, "csv");
    if (pr->json) cc_buf_puts(&pr->b, "[");
    if (pr->csv) cc_buf_puts(&pr->b, "campaign,step,table,row,customer,occurrence,kind,channel,to,status,reason,send_after\n");
}

static void printer_item(void *arg, const plan_item *it)
{
    printer *pr = arg;
    cc_buf *b = &pr->b;
    if (!strcmp(it->status, "not-drawn")) return;
    if (pr->json || pr->jsonl) {
        if (pr->json && pr->printed) cc_buf_puts(b, ",");
        if (pr->json) cc_buf_puts(b, "\n  ");
        plan_item_json(it, b);
        if (pr->jsonl) cc_buf_putc(b, '\n');
    } else if (pr->csv) {
        const char *f[] = {it->campaign->id, it->campaign->steps[it->step_index].name, it->campaign->from_table,
                           it->row_id, it->customer_id, it->occurrence,
                           it->campaign->is_marketing ? "marketing" : "service", it->channel, it->to,
                           it->status, it->reason, it->send_after_iso};
        for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) {
            if (k) cc_buf_putc(b, ',');
            cc_csv_field(b, f[k]);
        }
        cc_buf_putc(b, '\n');
    } else {
        cc_buf_printf(b, "%-22s %-12s %-10s %-9s %-6s %-28s %s%s%s\n", it->campaign->id,
                      it->campaign->steps[it->step_index].name, it->customer_id ? it->customer_id : "-",
                      it->status, it->channel ? it->channel : "-", it->to ? it->to : "-", it->send_after_iso,
                      it->reason ? "  " : "", it->reason ? it->reason : "");
    }
    pr->printed++;
    if (b->len >= 65536) {
        fwrite(b->data, 1, b->len, pr->out);
        cc_buf_reset(b);
    }
}

static void printer_end(printer *pr)
{
    if (pr->json) cc_buf_puts(&pr->b, pr->printed ? "\n]\n" : "]\n");
    fputs(cc_buf_str(&pr->b), pr->out);
    cc_buf_free(&pr->b);
}

static void print_items(cli *c, const plan_list *pl)
{
    printer pr;
    printer_begin(&pr, c, stdout);
    for (size_t i = 0; i < pl->n; i++) printer_item(&pr, &pl->items[i]);
    printer_end(&pr);
}

static cc_code compute(cli *c, cc_campaign *camps, size_t n, const plan_filter *f, plan_list *pl)
{
    cc_diags diags = {.limit = 100};
    memset(pl, 0, sizeof *pl);
    /* What lint refuses is not planned: the template checks (unknown
     * variables, columns, vars) run here too, before anything is
     * computed, so a typo is an error and not an empty string sent. */
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (f && f->only_campaign && strcmp(f->only_campaign, camps[i].id) != 0) continue;
        if (plan_check_templates(c->db, &c->cfg, &c->clock, &camps[i], &diags) != CC_OK) bad = 1;
    }
    if (bad) {
        cc_diag_print(&diags, stderr);
        cc_diags_free(&diags);
        return CC_ERR_INPUT;
    }
    plan_stats stats;
    cc_code rc = plan_compute(c->db, &c->cfg, &c->clock, camps, n, f, pl, &diags, &stats);
    cc_diag_print(&diags, stderr);
    if (rc == CC_OK)
        cli_log(c, 2, "planning took %zu audience queries for %zu campaign steps, %zu statements prepared in all",
                stats.audience_queries, stats.steps, stats.prepared);
    cc_diags_free(&diags);
    return rc;
}

/* plan --dry-run: the plan printed as it is computed, never held whole
 * in memory.  The text goes to a temporary file first and to stdout only
 * when the whole plan is computed, so an error prints no partial plan
 * (as before).  1 when it could not start (no temporary file). */
static int dry_run_streamed(cli *c, cc_campaign *camps, size_t n, cc_code *rc)
{
    FILE *spool = tmpfile();
    if (!spool) return 1;
    printer pr;
    printer_begin(&pr, c, spool);
    cc_diags diags = {.limit = 100};
    plan_stats stats;
    *rc = plan_compute_stream(c->db, &c->cfg, &c->clock, camps, n, NULL, printer_item, &pr, &diags, &stats);
    cc_diag_print(&diags, stderr);
    cc_diags_free(&diags);
    if (*rc == CC_OK) {
        cli_log(c, 2, "planning took %zu audience queries for %zu campaign steps, %zu statements prepared in all",
                stats.audience_queries, stats.steps, stats.prepared);
        printer_end(&pr);
        fflush(spool);
        rewind(spool);
        char buf[65536];
        size_t got;
        while ((got = fread(buf, 1, sizeof buf, spool)) > 0) fwrite(buf, 1, got, stdout);
    } else {
        cc_buf_free(&pr.b);
    }
    fclose(spool);
    return 0;
}

static cc_code do_plan(cli *c, int dry_run, int quiet_summary)
{
    cc_campaign *camps = NULL;
    size_t n = 0;
    cc_code rc = load_campaigns(c, &camps, &n);
    if (rc == CC_OK) rc = open_existing_db(c);
    plan_list pl;
    memset(&pl, 0, sizeof pl);
    if (rc == CC_OK && dry_run && dry_run_streamed(c, camps, n, &rc) == 0) {
        campaigns_free(camps, n);
        return rc;
    }
    if (rc == CC_OK) rc = compute(c, camps, n, NULL, &pl);
    if (rc == CC_OK && dry_run) {
        print_items(c, &pl);
    } else if (rc == CC_OK) {
        size_t recorded = 0;
        rc = plan_record(c->db, &c->clock, &pl, &recorded);
        if (rc == CC_OK && strcmp(c->format, "text") != 0) print_items(c, &pl);
        if (rc == CC_OK && !quiet_summary) {
            size_t planned = 0, skipped = 0, held = 0;
            for (size_t i = 0; i < pl.n; i++) {
                planned += !strcmp(pl.items[i].status, "planned");
                skipped += !strcmp(pl.items[i].status, "skipped");
                held += !strcmp(pl.items[i].status, "holdout");
            }
            fprintf(strcmp(c->format, "text") ? stderr : stdout,
                    "planned %zu message%s (%zu skipped, %zu holdout); %zu new outbox record%s\n", planned,
                    planned == 1 ? "" : "s", skipped, held, recorded, recorded == 1 ? "" : "s");
        }
    }
    plan_list_free(&pl);
    campaigns_free(camps, n);
    return rc;
}

cc_code cmd_plan(cli *c)
{
    int dry = cli_flag(c, "--dry-run");
    if (cli_no_unknown_options(c, "plan") != 0) return CC_ERR_USAGE;
    if (c->argc) {
        fprintf(stderr, "carecast plan: unexpected argument '%s'\n", c->argv[0]);
        return CC_ERR_USAGE;
    }
    return do_plan(c, dry, 0);
}

/* One message as the customer will read it (preview, trigger --dry-run):
 * who, how and when, then the subject and the text, each line marked. */
static void print_message(FILE *out, const plan_item *it)
{
    fprintf(out, "\n— %s %s, step %s, occurrence %s: %s", it->customer_id ? it->customer_id : "-",
            it->to_name ? it->to_name : "", it->campaign->steps[it->step_index].name, it->occurrence, it->status);
    if (it->reason) fprintf(out, " (%s)", it->reason);
    if (it->channel) fprintf(out, " by %s to %s, not before %s", it->channel, it->to, it->send_after_iso);
    fputc('\n', out);
    if (it->subject) fprintf(out, "  Subject: %s\n", it->subject);
    const char *body = it->sms_text ? it->sms_text : it->body_text;
    if (body) {
        fputs("  | ", out);
        for (const char *p = body; *p; p++) {
            fputc(*p, out);
            if (*p == '\n' && p[1]) fputs("  | ", out);
        }
        if (body[0] && body[strlen(body) - 1] != '\n') fputc('\n', out);
    }
}

cc_code cmd_preview(cli *c)
{
    const char *customer = cli_option(c, "--customer");
    const char *limit_s = cli_option(c, "--limit");
    if (cli_no_unknown_options(c, "preview") != 0) return CC_ERR_USAGE;
    if (c->argc != 1) {
        fprintf(stderr, "usage: carecast preview CAMPAIGN [--customer ID] [--limit N]\n");
        return CC_ERR_USAGE;
    }
    char *end = NULL;
    long limit = limit_s ? strtol(limit_s, &end, 10) : 20;
    if (limit_s && (*end || limit < 1)) {
        fprintf(stderr, "carecast preview: --limit must be a positive whole number\n");
        return CC_ERR_USAGE;
    }
    cc_campaign *camps = NULL;
    size_t n = 0;
    cc_code rc = load_campaigns(c, &camps, &n);
    if (rc != CC_OK) return rc;
    if (!campaign_find(camps, n, c->argv[0])) {
        fprintf(stderr, "carecast preview: no campaign '%s' in %s (campaigns:", c->argv[0], c->cfg.rules);
        for (size_t i = 0; i < n; i++) fprintf(stderr, " %s", camps[i].id);
        fprintf(stderr, ")\n");
        campaigns_free(camps, n);
        return CC_ERR_NOT_FOUND;
    }
    rc = open_existing_db(c);
    plan_filter f = {.only_campaign = c->argv[0], .only_customer = customer, .include_manual = 1};
    plan_list pl;
    memset(&pl, 0, sizeof pl);
    if (rc == CC_OK) rc = compute(c, camps, n, &f, &pl);
    if (rc == CC_OK && strcmp(c->format, "text") != 0) {
        print_items(c, &pl);
    } else if (rc == CC_OK) {
        char today[11];
        clock_format_date(c->clock.today, today);
        /* The whole plan is computed (a sample is drawn among everyone
         * due who can be reached), then the first --limit messages are
         * shown. */
        size_t due = 0, shown = 0;
        for (size_t i = 0; i < pl.n; i++) due += strcmp(pl.items[i].status, "not-drawn") != 0;
        printf("%s on %s: %zu due\n", c->argv[0], today, due);
        for (size_t i = 0; i < pl.n; i++) {
            const plan_item *it = &pl.items[i];
            if (!strcmp(it->status, "not-drawn")) continue;
            if (shown++ == (size_t)limit) {
                printf("\n... and %zu more (--limit N shows more)\n", due - (size_t)limit);
                break;
            }
            print_message(stdout, it);
        }
    }
    plan_list_free(&pl);
    campaigns_free(camps, n);
    return rc;
}

/* A transport whose secret is named but unset cannot deliver: refuse
 * before anything is planned, claimed or written. */
static cc_code transports_ready(cli *c)
{
    cc_diags diags = {.limit = 20};
    size_t n = config_report_unset_secrets(&c->cfg, "transports.", &diags);
    cc_diag_print(&diags, stderr);
    cc_diags_free(&diags);
    return n ? CC_ERR_CONFIG : CC_OK;
}

static cc_code do_send(cli *c, size_t limit)
{
    send_totals tot;
    cc_code rc = sender_run(c->db, &c->cfg, c->clock.now, limit, c->verbosity, &tot);
    if (rc == CC_ERR_BUSY) {
        fprintf(stderr, "carecast: another carecast is sending from %s; nothing to do\n", c->cfg.database);
        return rc;
    }
    printf("sent %zu, retry %zu, failed %zu\n", tot.sent, tot.retry, tot.failed);
    send_totals_print_held(&tot, c->clock.zone, stdout);
    send_totals_free(&tot);
    if (rc == CC_OK && tot.failed) return CC_ERR_PROBLEMS;
    return rc;
}

cc_code cmd_send(cli *c)
{
    const char *limit_s = cli_option(c, "--limit");
    if (cli_no_unknown_options(c, "send") != 0) return CC_ERR_USAGE;
    char *end = NULL;
    long limit = limit_s ? strtol(limit_s, &end, 10) : 0;
    if ((limit_s && (*end || limit < 1)) || c->argc) {
        fprintf(stderr, "usage: carecast send [--limit N]\n");
        return CC_ERR_USAGE;
    }
    cc_code rc = transports_ready(c);
    if (rc == CC_OK) rc = open_existing_db(c);
    if (rc != CC_OK) return rc;
    return do_send(c, (size_t)limit);
}

cc_code cmd_run(cli *c)
{
    if (cli_no_unknown_options(c, "run") != 0) return CC_ERR_USAGE;
    if (c->argc) {
        fprintf(stderr, "carecast run: unexpected argument '%s'\n", c->argv[0]);
        return CC_ERR_USAGE;
    }
    /* Segments a day old are recomputed first, so `segment.X` and
     * `previous()` see today's customers (campaigns.md section 8). */
    cc_code rc = transports_ready(c);
    if (rc != CC_OK) return rc;
    rc = access(c->cfg.database, F_OK) == 0 ? segments_refresh_if_stale(c) : CC_OK;
    if (rc == CC_OK) rc = do_plan(c, 0, 0);
    if (rc != CC_OK) return rc;
    return do_send(c, 0);
}

/* Shared with `carecast trigger` (cmd_trigger.c): the same loading, the
 * same computation and the very same output as `plan --dry-run`. */
cc_code cmdplan_open_existing_db(cli *c) { return open_existing_db(c); }
cc_code cmdplan_load_campaigns(cli *c, cc_campaign **camps, size_t *n) { return load_campaigns(c, camps, n); }
cc_code cmdplan_compute(cli *c, cc_campaign *camps, size_t n, const plan_filter *f, plan_list *pl)
{
    return compute(c, camps, n, f, pl);
}
void cmdplan_print_items(cli *c, const plan_list *pl) { print_items(c, pl); }
void cmdplan_print_message(FILE *out, const plan_item *it) { print_message(out, it); }
