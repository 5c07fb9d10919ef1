/* cmd_trigger.c - `carecast trigger`: a one-off send of a campaign now,
 * for customer-service leads.
 *
 * The planner does the work (plan_filter's trigger fields): the campaign's
 * `when`, `repeat`, `send_at`, `schedule` and `active` are ignored, while
 * consent, suppressions, caps and quiet hours apply as in `plan`.  The
 * occurrence recorded is a key, so the never-twice ledger makes a repeat a
 * no-op: either the lead's own --key (the same key never sends twice for
 * the campaign, whatever else changed), or one derived from what the
 * command means (the customers as a set, the compiled --where with its
 * values, the --var settings as a set), so that respelling the same
 * command sends nothing new while a different set, condition or value is
 * a new trigger. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "commands.h"
#include "db.h"
#include "sender.h"

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The length-prefixed field `tag` into `b`: no value can run into the
 * next, so different settings never print the same. */
static void put_field(cc_buf *b, const char *tag, const char *v)
{
    cc_buf_printf(b, "%s %zu:%s\n", tag, strlen(v), v);
}

/* "trigger-" and 16 hex digits of SHA-256 over everything that decides who
 * gets what: campaign, step, the customers (sorted, without repeats) or
 * the meaning of --where (plan_trigger_where_meaning), and the --var
 * settings (sorted by name).  The text of the command is not in it, so
 * spacing, parentheses and the order of options change nothing. */
static int trigger_key(const char *camp, const char *step, const char *const *cust, size_t nc, const char *where_meaning,
                       const char *const *names, const char *const *values, size_t nv, char out[32])
{
    cc_buf b = CC_BUF_INIT;
    put_field(&b, "campaign", camp);
    put_field(&b, "step", step);
    for (size_t i = 0; i < nc; i++) put_field(&b, "customer", cust[i]);
    if (where_meaning) put_field(&b, "where", where_meaning);
    for (size_t i = 0; i < nv; i++) {
        put_field(&b, "var", names[i]);
        put_field(&b, "value", values[i]);
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int ok = EVP_Digest(b.data ? b.data : "", b.len, md, &mdlen, EVP_sha256(), NULL) && mdlen >= 8;
    cc_buf_free(&b);
    if (!ok) return -1;
    strcpy(out, "trigger-");
    for (int i = 0; i < 8; i++) snprintf(out + 8 + 2 * i, 3, "%02x", md[i]);
    return 0;
}

/* The key carecast 0.1.0 derived from the command's text: a database
 * written by it has its triggers under these keys, and the same command
 * must find them rather than send again. */
static void legacy_trigger_key(const char *camp, const char *step, const char *const *cust, size_t nc,
                               const char *where, const char *const *names, const char *const *values, size_t nv,
                               char out[32])
{
    cc_buf b = CC_BUF_INIT;
    cc_buf_printf(&b, "%s\n%s\n", camp, step);
    for (size_t i = 0; i < nc; i++) cc_buf_printf(&b, "c:%s\n", cust[i]);
    if (where) cc_buf_printf(&b, "w:%s\n", where);
    /* It sorted the settings as "K=V" texts. */
    char **kv = xcalloc(nv + 1, sizeof *kv);
    for (size_t i = 0; i < nv; i++) kv[i] = xasprintf("%s=%s", names[i], values[i]);
    if (nv > 1) qsort(kv, nv, sizeof *kv, str_cmp);
    for (size_t i = 0; i < nv; i++) {
        cc_buf_printf(&b, "v:%s\n", kv[i]);
        free(kv[i]);
    }
    free(kv);
    uint64_t h = cc_hash(cc_buf_str(&b), NULL, NULL);
    snprintf(out, 32, "trigger-%012llx", (unsigned long long)(h & 0xffffffffffffULL));
    cc_buf_free(&b);
}

/* --key: what the lead can type and read back in reports, and nothing
 * that looks the same but is not (no spaces or control characters). */
#define KEY_MAX 100
static int key_valid(const char *k)
{
    size_t n = strlen(k);
    if (n < 1 || n > KEY_MAX) return 0;
    for (const unsigned char *p = (const unsigned char *)k; *p; p++)
        if (*p < 0x21 || *p > 0x7e) return 0;
    return 1;
}

/* The customers of `ids` that the customers table does not have. */
static size_t report_unknown(cli *c, const char **ids, size_t n)
{
    cc_buf sql = CC_BUF_INIT;
    cc_buf_puts(&sql, "SELECT 1 FROM ");
    db_quote_ident(c->cfg.customers.table, &sql);
    cc_buf_puts(&sql, " WHERE ");
    db_quote_ident(c->cfg.customers.id, &sql);
    cc_buf_puts(&sql, " = ?");
    sqlite3_stmt *st = NULL;
    size_t bad = 0;
    if (sqlite3_prepare_v2(c->db, cc_buf_str(&sql), -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "carecast trigger: cannot read the customers table '%s': %s\n", c->cfg.customers.table,
                sqlite3_errmsg(c->db));
        cc_buf_free(&sql);
        return n ? n : 1;
    }
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, ids[i], -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_ROW) {
            fprintf(stderr, "carecast trigger: no customer '%s' in table '%s'\n", ids[i], c->cfg.customers.table);
            bad++;
        }
    }
    sqlite3_finalize(st);
    cc_buf_free(&sql);
    return bad;
}

static int already_triggered(sqlite3 *db, const char *camp, const char *step, const char *key)
{
    sqlite3_stmt *st = NULL;
    int found = 0;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM care_occurrences WHERE campaign = ? AND step = ? AND occurrence = ? LIMIT 1",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, camp, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, step, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, key, -1, SQLITE_STATIC);
        found = sqlite3_step(st) == SQLITE_ROW;
    }
    sqlite3_finalize(st);
    return found;
}

/* "3 messages (email 2, sms 1); skipped 1 (no-consent 1)" */
static size_t summarise(const plan_list *pl, cc_buf *out)
{
    static const char *const channels[] = {"email", "sms", "task"};
    static const char *const reasons[] = {"no-address", "suppressed", "no-consent", "capped", "too-long"};
    size_t by_ch[3] = {0}, by_reason[6] = {0}, planned = 0, skipped = 0, held = 0;
    for (size_t i = 0; i < pl->n; i++) {
        const plan_item *it = &pl->items[i];
        if (!strcmp(it->status, "planned")) {
            planned++;
            for (int k = 0; k < 3; k++) by_ch[k] += it->channel && !strcmp(it->channel, channels[k]);
        } else if (!strcmp(it->status, "skipped")) {
            skipped++;
            int k = 0;
            while (k < 5 && !cc_streq(it->reason, reasons[k])) k++;
            by_reason[k]++;
        } else if (!strcmp(it->status, "holdout")) {
            held++;
        }
    }
    cc_buf_printf(out, "%zu message%s", planned, planned == 1 ? "" : "s");
    const char *sep = " (";
    for (int k = 0; k < 3; k++)
        if (by_ch[k]) { cc_buf_printf(out, "%s%s %zu", sep, channels[k], by_ch[k]); sep = ", "; }
    if (*sep == ',') cc_buf_puts(out, ")");
    if (skipped) {
        cc_buf_printf(out, "; skipped %zu", skipped);
        sep = " (";
        for (int k = 0; k < 6; k++)
            if (by_reason[k]) { cc_buf_printf(out, "%s%s %zu", sep, k < 5 ? reasons[k] : "other", by_reason[k]); sep = ", "; }
        cc_buf_puts(out, ")");
    }
    if (held) cc_buf_printf(out, "; holdout %zu", held);
    return planned;
}

/* The messages of a dry run as customers will read them: the first
 * `show` that would be sent. */
static void show_messages(const plan_list *pl, size_t show, FILE *out)
{
    size_t planned = 0, shown = 0;
    for (size_t i = 0; i < pl->n; i++) planned += !strcmp(pl->items[i].status, "planned");
    if (!show || !planned) return;
    if (show < planned)
        fprintf(out, "\nThe first %zu of %zu messages as customers will read them:\n", show, planned);
    else if (planned == 1)
        fprintf(out, "\nThe message as the customer will read it:\n");
    else
        fprintf(out, "\nAll %zu messages as customers will read them:\n", planned);
    for (size_t i = 0; i < pl->n && shown < show; i++) {
        if (strcmp(pl->items[i].status, "planned") != 0) continue;
        cmdplan_print_message(out, &pl->items[i]);
        shown++;
    }
    if (shown < planned) fprintf(out, "\n... and %zu more (--show N shows more)\n", planned - shown);
}

/* "2026-05-01 10:00" in the business zone. */
static void local_minute(const cc_clock *clk, int64_t t, char out[32])
{
    clock_format_instant(clk->zone, t, out);
    char *tee = strchr(out, 'T');
    if (tee) *tee = ' ';
    if (strlen(out) > 16) out[16] = '\0';
}

cc_code cmd_trigger(cli *c)
{
    const char **customers = NULL;
    size_t nc = 0;
    char **vars = NULL;           /* "K=V" as given, then split at '=' */
    size_t nv = 0;
    const char *v;
    while ((v = cli_option(c, "--customer"))) {
        customers = xrealloc(customers, (nc + 1) * sizeof *customers);
        customers[nc++] = v;
    }
    while ((v = cli_option(c, "--var"))) {
        vars = xrealloc(vars, (nv + 1) * sizeof *vars);
        vars[nv++] = xstrdup(v);
    }
    const char *where = cli_option(c, "--where");
    const char *step_name = cli_option(c, "--step");
    const char *user_key = cli_option(c, "--key");
    const char *show_s = cli_option(c, "--show");
    int dry = cli_flag(c, "--dry-run"), yes = cli_flag(c, "--yes");
    cc_code rc = CC_OK;
    cc_campaign *camps = NULL;
    size_t n = 0;
    plan_list pl;
    memset(&pl, 0, sizeof pl);
    const char **var_names = NULL, **var_values = NULL;
    char *occurrence = NULL;
    cc_buf meaning = CC_BUF_INIT;
    size_t show = 3;
    if (cli_no_unknown_options(c, "trigger") != 0) { rc = CC_ERR_USAGE; goto out; }
    /* "--customer A B C": ids after the campaign are more customers. */
    for (int i = 1; i < c->argc && nc; i++) {
        customers = xrealloc(customers, (nc + 1) * sizeof *customers);
        customers[nc++] = c->argv[i];
    }
    if (c->argc < 1 || (c->argc > 1 && !nc) || (!nc == !where)) {
        fprintf(stderr, "usage: carecast trigger CAMPAIGN (--customer ID... | --where EXPR) [--var K=V...] [--step NAME] "
                        "[--key TEXT] [--dry-run [--show N]] [--yes]\n(exactly one of --customer and --where)\n");
        rc = CC_ERR_USAGE;
        goto out;
    }
    if (where && !*where) {
        fprintf(stderr, "carecast trigger: --where is empty; write an expression\n");
        rc = CC_ERR_USAGE;
        goto out;
    }
    if (user_key && !key_valid(user_key)) {
        /* Quoted and escaped: the bad key may hold a tab or a newline. */
        cc_buf q = CC_BUF_INIT;
        cc_json_str(&q, user_key);
        fprintf(stderr, "carecast trigger: --key %s is not a key: write 1 to %d ASCII letters, digits or "
                        "punctuation, without spaces (for example --key outage-2026-05-01)\n", cc_buf_str(&q), KEY_MAX);
        cc_buf_free(&q);
        rc = CC_ERR_USAGE;
        goto out;
    }
    if (show_s) {
        char *end = NULL;
        long k = strtol(show_s, &end, 10);
        if (!*show_s || *end || k < 0 || k > 1000000) {
            fprintf(stderr, "carecast trigger: --show must be a whole number of messages, 0 or more\n");
            rc = CC_ERR_USAGE;
            goto out;
        }
        if (!dry) {
            fprintf(stderr, "carecast trigger: --show goes with --dry-run (it shows the messages without sending)\n");
            rc = CC_ERR_USAGE;
            goto out;
        }
        show = (size_t)k;
    }
    rc = cmdplan_load_campaigns(c, &camps, &n);
    if (rc != CC_OK) goto out;
    const cc_campaign *camp = campaign_find(camps, n, c->argv[0]);
    if (!camp) {
        fprintf(stderr, "carecast trigger: no campaign '%s' in %s (campaigns:", c->argv[0], c->cfg.rules);
        for (size_t i = 0; i < n; i++) fprintf(stderr, " %s", camps[i].id);
        fprintf(stderr, ")\n");
        rc = CC_ERR_NOT_FOUND;
        goto out;
    }
    if (!camp->enabled) {
        fprintf(stderr, "carecast trigger: campaign '%s' is disabled (enabled: false in %s)\n", camp->id, camp->file);
        rc = CC_ERR_USAGE;
        goto out;
    }
    const cc_step *step = &camp->steps[0];
    if (step_name) {
        step = NULL;
        for (size_t i = 0; i < camp->n_steps; i++)
            if (!strcmp(camp->steps[i].name, step_name)) step = &camp->steps[i];
        if (!step) {
            fprintf(stderr, "carecast trigger: campaign '%s' has no step '%s' (steps:", camp->id, step_name);
            for (size_t i = 0; i < camp->n_steps; i++) fprintf(stderr, " %s", camp->steps[i].name);
            fprintf(stderr, ")\n");
            rc = CC_ERR_USAGE;
            goto out;
        }
    }
    /* --var K=V: K must be one of the campaign's vars, the only ones its
     * templates may read.  Sorted by name, so their order is irrelevant;
     * a name given twice is refused rather than one value silently
     * winning over the other. */
    var_names = xcalloc(nv + 1, sizeof *var_names);
    var_values = xcalloc(nv + 1, sizeof *var_values);
    for (size_t i = 0; i < nv; i++) {
        char *eq = strchr(vars[i], '=');
        int known = 0;
        if (eq) {
            *eq = '\0';
            for (size_t k = 0; k < camp->n_vars; k++) known |= !strcmp(camp->var_names[k], vars[i]);
        }
        if (!eq || !known) {
            if (!eq) fprintf(stderr, "carecast trigger: --var '%s' must be NAME=VALUE\n", vars[i]);
            else {
                fprintf(stderr, "carecast trigger: campaign '%s' defines no var '%s' (vars:", camp->id, vars[i]);
                for (size_t k = 0; k < camp->n_vars; k++) fprintf(stderr, " %s", camp->var_names[k]);
                fprintf(stderr, "%s)\n", camp->n_vars ? "" : " none");
            }
            rc = CC_ERR_USAGE;
            goto out;
        }
    }
    /* Each vars[i] is now "K\0V": sorting compares the names. */
    if (nv > 1) qsort(vars, nv, sizeof *vars, str_cmp);
    for (size_t i = 0; i < nv; i++) {
        if (i && !strcmp(vars[i - 1], vars[i])) {
            fprintf(stderr, "carecast trigger: --var %s is given twice; give each var once\n", vars[i]);
            rc = CC_ERR_USAGE;
            goto out;
        }
        var_names[i] = vars[i];
        var_values[i] = vars[i] + strlen(vars[i]) + 1;
    }
    if (nc > 1) qsort(customers, nc, sizeof *customers, str_cmp);
    size_t uniq = 0;
    for (size_t i = 0; i < nc; i++)
        if (!uniq || strcmp(customers[uniq - 1], customers[i])) customers[uniq++] = customers[i];
    nc = uniq;
    rc = cmdplan_open_existing_db(c);
    if (rc != CC_OK) goto out;
    if (nc && report_unknown(c, customers, nc)) {
        rc = CC_ERR_USAGE;
        goto out;
    }
    if (user_key) {
        occurrence = xasprintf("key:%s", user_key);
        int64_t first = 0;
        int taken = plan_occurrence_taken(c->db, camp->id, occurrence, &first);
        if (taken < 0) {
            fprintf(stderr, "carecast trigger: cannot read care_occurrences: %s\n", sqlite3_errmsg(c->db));
            rc = CC_ERR_DB;
            goto out;
        }
        if (taken) {
            char when[32];
            local_minute(&c->clock, first, when);
            fprintf(dry || strcmp(c->format, "text") ? stderr : stdout,
                    "%s already triggered with key %s on %s: nothing new %s\n", camp->id, user_key, when,
                    dry ? "would be sent" : "sent");
            goto out;
        }
    } else {
        if (where) {
            cc_diags d = {.limit = 20};
            rc = plan_trigger_where_meaning(c->db, &c->cfg, camp, where, &meaning, &d);
            cc_diag_print(&d, stderr);
            cc_diags_free(&d);
            if (rc != CC_OK) goto out;
        }
        char key[32], legacy[32];
        if (trigger_key(camp->id, step->name, customers, nc, where ? cc_buf_str(&meaning) : NULL, var_names,
                        var_values, nv, key) != 0) {
            /* A key of another kind would not find this command's
             * earlier triggers: better to send nothing. */
            fprintf(stderr, "carecast trigger: cannot compute the trigger's key (OpenSSL's SHA-256 failed); "
                            "nothing sent\n");
            rc = CC_ERR_IO;
            goto out;
        }
        legacy_trigger_key(camp->id, step->name, customers, nc, where, var_names, var_values, nv, legacy);
        occurrence = xstrdup(already_triggered(c->db, camp->id, step->name, legacy) ? legacy : key);
    }
    plan_filter f = {.only_campaign = camp->id, .include_manual = 1, .occurrence = occurrence, .only_step = step->name,
                     .customers = customers, .n_customers = nc, .where = where,
                     .var_names = var_names, .var_values = var_values, .n_vars = nv};
    rc = cmdplan_compute(c, camps, n, &f, &pl);
    if (rc != CC_OK) goto out;
    int text = !strcmp(c->format, "text");
    if (dry) {
        cmdplan_print_items(c, &pl);
        /* Standard output stays one format: JSON and CSV readers get the
         * messages' text on standard error. */
        fflush(stdout);
        show_messages(&pl, show, text ? stdout : stderr);
        if (!pl.n && already_triggered(c->db, camp->id, step->name, occurrence))
            fprintf(stderr, "carecast trigger: already triggered (%s): nothing new would be sent\n", occurrence);
        goto out;
    }
    if (!pl.n) {
        if (already_triggered(c->db, camp->id, step->name, occurrence))
            printf("already triggered (%s): nothing new to send\n", occurrence);
        else
            printf("no customer matches: nothing to send\n");
        goto out;
    }
    cc_buf sum = CC_BUF_INIT;
    size_t planned = summarise(&pl, &sum);
    {
        char *refusal = xasprintf("carecast trigger: %s %s would get %s; not sent: confirm with --yes when not on a "
                                  "terminal (or look first with --dry-run)\n", camp->id, step->name, cc_buf_str(&sum));
        char *prompt = xasprintf("%s, step %s, now: %s\nSend %zu message%s? [y/N] ", camp->id, step->name,
                                 cc_buf_str(&sum), planned, planned == 1 ? "" : "s");
        rc = cli_confirm(yes, refusal, prompt, "aborted: nothing sent\n");
        free(refusal);
        free(prompt);
        if (rc != CC_OK) {
            cc_buf_free(&sum);
            goto out;
        }
    }
    /* Recorded messages are delivered at once: a transport whose secret
     * is named but unset refuses before anything is recorded. */
    {
        cc_diags sd = {.limit = 20};
        size_t unset = config_report_unset_secrets(&c->cfg, "transports.", &sd);
        cc_diag_print(&sd, stderr);
        cc_diags_free(&sd);
        if (unset) {
            cc_buf_free(&sum);
            rc = CC_ERR_CONFIG;
            goto out;
        }
    }
    size_t recorded = 0;
    int64_t claimed_at = 0;
    if (user_key)
        rc = plan_record_claim(c->db, &c->clock, &pl, camp->id, occurrence, &recorded, &claimed_at);
    else
        rc = plan_record(c->db, &c->clock, &pl, &recorded);
    if (rc == CC_OK && claimed_at) {
        /* Another trigger with this key recorded first, while this one
         * was computing or asking. */
        char when[32];
        local_minute(&c->clock, claimed_at, when);
        fprintf(text ? stdout : stderr, "%s already triggered with key %s on %s: nothing new sent\n", camp->id,
                user_key, when);
        cc_buf_free(&sum);
        goto out;
    }
    if (rc == CC_OK && !text) cmdplan_print_items(c, &pl);
    if (rc == CC_OK)
        fprintf(text ? stdout : stderr, "triggered %s %s (%s): %s; %zu new outbox record%s\n", camp->id, step->name,
                occurrence, cc_buf_str(&sum), recorded, recorded == 1 ? "" : "s");
    cc_buf_free(&sum);
    if (rc != CC_OK) goto out;
    send_totals tot;
    rc = sender_run_campaign(c->db, &c->cfg, c->clock.now, camp->id, c->verbosity, &tot);
    if (rc == CC_ERR_BUSY) {
        fprintf(stderr, "carecast: another carecast is sending from %s; it will deliver these\n", c->cfg.database);
        rc = CC_OK;
        goto out;
    }
    fprintf(text ? stdout : stderr, "sent %zu, retry %zu, failed %zu\n", tot.sent, tot.retry, tot.failed);
    send_totals_print_held(&tot, c->clock.zone, text ? stdout : stderr);
    send_totals_free(&tot);
    if (rc == CC_OK && tot.failed) rc = CC_ERR_PROBLEMS;
out:
    plan_list_free(&pl);
    campaigns_free(camps, n);
    for (size_t i = 0; i < nv; i++) free(vars[i]);
    free(vars);
    free(var_names);
    free(var_values);
    free(customers);
    free(occurrence);
    cc_buf_free(&meaning);
    return rc;
}
