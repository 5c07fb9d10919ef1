/* cmd_control.c - stopping a campaign's sends: `carecast cancel`, `pause`
 * and `resume`, for the lead who sees a wrong text go out.
 *
 * cancel marks the campaign's messages that still wait (`planned`,
 * `retry`) `cancelled`: never sent, kept for report, and their occurrences
 * stay in the ledger, so no later plan makes them again.  pause writes the
 * campaign into care_paused, which every claim of the sender reads
 * (outbox.c): a send in progress takes none of its messages from its next
 * claim on, and they wait, as they are, until `resume`.  Messages already
 * handed to a transport (`sending`) cannot be called back; each command
 * says how many there are.
 *
 * These work when the rules folder does not load (an emergency stop must
 * not wait for a fixed YAML file): a campaign is known when the rules name
 * it or the outbox holds messages of it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <unistd.h>

#include "campaign.h"
#include "commands.h"
#include "db.h"

/* Who did it, for the record: $USER, else the account's name (cron and
 * systemd often leave USER unset). */
static const char *who(void)
{
    const char *u = getenv("USER");
    if (u && *u) return u;
    const struct passwd *pw = getpwuid(getuid());
    return pw && pw->pw_name && *pw->pw_name ? pw->pw_name : "unknown";
}

/* Is `name` one of the space-led words of `list`? */
static int listed(const cc_buf *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list->len ? cc_buf_str(list) : ""; (p = strstr(p, name)); p += n)
        if (p > cc_buf_str(list) && p[-1] == ' ' && (p[n] == ' ' || p[n] == '\0')) return 1;
    return 0;
}

/* 1 when `id` names a campaign of the rules folder or of the outbox;
 * otherwise says which there are. */
static int campaign_known(cli *c, const char *command, const char *id)
{
    cc_campaign *camps = NULL;
    size_t n = 0;
    cc_diags diags = {.limit = 1};
    campaign_load_dir(c->cfg.rules, &camps, &n, &diags);   /* best effort: errors only hide names */
    cc_diags_free(&diags);
    int found = campaign_find(camps, n, id) != NULL;
    cc_buf names = CC_BUF_INIT;
    for (size_t i = 0; i < n; i++) cc_buf_printf(&names, " %s", camps[i].id);
    campaigns_free(camps, n);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, "SELECT DISTINCT campaign FROM care_outbox ORDER BY campaign", -1, &st, NULL) ==
        SQLITE_OK)
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *k = (const char *)sqlite3_column_text(st, 0);
            if (!strcmp(k, id)) found = 1;
            if (!listed(&names, k)) cc_buf_printf(&names, " %s", k);
        }
    sqlite3_finalize(st);
    if (!found)
        fprintf(stderr, "carecast %s: no campaign '%s' in %s or in the outbox (campaigns:%s)\n", command, id,
                c->cfg.rules, names.len ? cc_buf_str(&names) : " none");
    cc_buf_free(&names);
    return found;
}

/* Does campaign `camp` have `column` (step or occurrence) = `value` in the
 * rules (steps) or the outbox?  If not, says which it has: a typo in an
 * emergency stop must not pass for "nothing to cancel". */
static int has_value(cli *c, const char *camp, const char *column, const char *value)
{
    cc_buf names = CC_BUF_INIT;
    int found = 0;
    if (!strcmp(column, "step")) {
        cc_campaign *camps = NULL;
        size_t n = 0;
        cc_diags diags = {.limit = 1};
        campaign_load_dir(c->cfg.rules, &camps, &n, &diags);
        cc_diags_free(&diags);
        const cc_campaign *def = campaign_find(camps, n, camp);
        for (size_t i = 0; def && i < def->n_steps; i++) {
            found |= !strcmp(def->steps[i].name, value);
            cc_buf_printf(&names, " %s", def->steps[i].name);
        }
        campaigns_free(camps, n);
    }
    /* The outbox's values, newest first: an occurrence list can be long. */
    char *sql = sqlite3_mprintf("SELECT %s FROM care_outbox WHERE campaign = ?1 GROUP BY 1 ORDER BY max(id) DESC",
                                column);
    sqlite3_stmt *st = NULL;
    size_t shown = 0;
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, camp, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *v = (const char *)sqlite3_column_text(st, 0);
            if (!strcmp(v, value)) found = 1;
            if (!listed(&names, v) && shown++ < 10) cc_buf_printf(&names, " %s", v);
        }
    }
    sqlite3_finalize(st);
    sqlite3_free(sql);
    if (!found)
        fprintf(stderr, "carecast cancel: campaign '%s' has no %s '%s' (%ss:%s%s)\n", camp, column, value, column,
                names.len ? cc_buf_str(&names) : " none", shown > 10 ? " ..." : "");
    cc_buf_free(&names);
    return found;
}

/* The messages of campaign ?1 (step ?2, occurrence ?3 when not NULL) in
 * one status group. */
#define OF_CAMPAIGN "campaign = ?1 AND (?2 IS NULL OR step = ?2) AND (?3 IS NULL OR occurrence = ?3)"

static void count_waiting(sqlite3 *db, const char *camp, const char *step, const char *occ, long long *planned,
                          long long *retry, long long *sending)
{
    *planned = *retry = *sending = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT coalesce(sum(status = 'planned'), 0), coalesce(sum(status = 'retry'), 0), "
                           "coalesce(sum(status = 'sending'), 0) FROM care_outbox WHERE " OF_CAMPAIGN,
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, camp, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, step, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, occ, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            *planned = sqlite3_column_int64(st, 0);
            *retry = sqlite3_column_int64(st, 1);
            *sending = sqlite3_column_int64(st, 2);
        }
    }
    sqlite3_finalize(st);
}

static void say_in_flight(long long sending)
{
    if (sending)
        printf("%lld message%s already handed to a transport (sending) cannot be called back\n", sending,
               sending == 1 ? " is" : "s are");
}

cc_code cmd_cancel(cli *c)
{
    const char *step = cli_option(c, "--step"), *occ = cli_option(c, "--occurrence");
    int yes = cli_flag(c, "--yes"), dry = cli_flag(c, "--dry-run");
    if (cli_no_unknown_options(c, "cancel") != 0) return CC_ERR_USAGE;
    if (c->argc != 1) {
        fprintf(stderr, "usage: carecast cancel CAMPAIGN [--step S] [--occurrence O] [--dry-run] [--yes]\n");
        return CC_ERR_USAGE;
    }
    const char *camp = c->argv[0];
    cc_code rc = cmdplan_open_existing_db(c);
    if (rc != CC_OK) return rc;
    if (!campaign_known(c, "cancel", camp)) return CC_ERR_NOT_FOUND;
    if ((step && !has_value(c, camp, "step", step)) || (occ && !has_value(c, camp, "occurrence", occ)))
        return CC_ERR_NOT_FOUND;
    long long planned, retry, sending;
    count_waiting(c->db, camp, step, occ, &planned, &retry, &sending);
    cc_buf what = CC_BUF_INIT;
    cc_buf_printf(&what, "%s%s%s%s%s", camp, step ? " step " : "", step ? step : "", occ ? " occurrence " : "",
                  occ ? occ : "");
    if (planned + retry == 0) {
        printf("%s: no message waits: nothing to cancel\n", cc_buf_str(&what));
        say_in_flight(sending);
        cc_buf_free(&what);
        return CC_OK;
    }
    char question[512];
    snprintf(question, sizeof question, "Cancel %lld waiting message%s of %s (%lld planned, %lld to retry)?",
             planned + retry, planned + retry == 1 ? "" : "s", cc_buf_str(&what), planned, retry);
    if (dry) {
        printf("would cancel %lld message%s of %s (%lld planned, %lld to retry); nothing changed (--dry-run)\n",
               planned + retry, planned + retry == 1 ? "" : "s", cc_buf_str(&what), planned, retry);
        say_in_flight(sending);
        cc_buf_free(&what);
        return CC_OK;
    }
    char *refusal = xasprintf("carecast cancel: %s -- not done: confirm with --yes when not on a terminal\n", question);
    char *prompt = xasprintf("%s [y/N] ", question);
    cc_code asked = cli_confirm(yes, refusal, prompt, "aborted: nothing changed\n");
    free(refusal);
    free(prompt);
    if (asked != CC_OK) {
        cc_buf_free(&what);
        return asked;
    }
    char reason[160];
    snprintf(reason, sizeof reason, "cancelled by %s", who());
    sqlite3_stmt *st = NULL;
    long long changed = -1;
    if (db_begin(c->db) == CC_OK &&
        sqlite3_prepare_v2(c->db,
                           "UPDATE care_outbox SET status = 'cancelled', reason = ?4, next_attempt_at = NULL, "
                           "lease_until = NULL WHERE " OF_CAMPAIGN " AND status IN ('planned', 'retry')",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, camp, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, step, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, occ, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, reason, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_DONE) changed = sqlite3_changes64(c->db);
    }
    sqlite3_finalize(st);
    if (changed < 0 || db_commit(c->db) != CC_OK) {
        char why[300];
        fprintf(stderr, "carecast cancel: nothing cancelled: %s\n", db_errmsg(c->db, why, sizeof why));
        db_rollback(c->db);
        cc_buf_free(&what);
        return CC_ERR_DB;
    }
    printf("cancelled %lld message%s of %s\n", changed, changed == 1 ? "" : "s", cc_buf_str(&what));
    count_waiting(c->db, camp, step, occ, &planned, &retry, &sending);
    say_in_flight(sending);
    cc_buf_free(&what);
    return CC_OK;
}

static int is_paused(sqlite3 *db, const char *camp, long long *since, char *by, size_t by_len)
{
    sqlite3_stmt *st = NULL;
    int found = 0;
    if (sqlite3_prepare_v2(db, "SELECT paused_at, coalesce(paused_by, '') FROM care_paused WHERE campaign = ?1", -1,
                           &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, camp, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            found = 1;
            if (since) *since = sqlite3_column_int64(st, 0);
            if (by) snprintf(by, by_len, "%s", (const char *)sqlite3_column_text(st, 1));
        }
    }
    sqlite3_finalize(st);
    return found;
}

static cc_code list_paused(cli *c)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, "SELECT campaign, paused_at, coalesce(paused_by, '') FROM care_paused ORDER BY campaign",
                           -1, &st, NULL) != SQLITE_OK)
        return CC_ERR_DB;
    size_t n = 0;
    int json = !strcmp(c->format, "json"), jsonl = !strcmp(c->format, "jsonl");
    cc_buf out = CC_BUF_INIT;
    if (json) cc_buf_putc(&out, '[');
    while (sqlite3_step(st) == SQLITE_ROW) {
        char at[32];
        clock_format_instant(c->clock.zone, sqlite3_column_int64(st, 1), at);
        long long planned, retry, sending;
        const char *camp = (const char *)sqlite3_column_text(st, 0), *by = (const char *)sqlite3_column_text(st, 2);
        count_waiting(c->db, camp, NULL, NULL, &planned, &retry, &sending);
        if (json || jsonl) {
            cc_buf_puts(&out, json && n ? ",\n {\"campaign\": " : json ? "\n {\"campaign\": " : "{\"campaign\": ");
            cc_json_str(&out, camp);
            cc_buf_puts(&out, ", \"paused_at\": ");
            cc_json_str(&out, at);
            cc_buf_puts(&out, ", \"paused_by\": ");
            cc_json_str(&out, by);
            cc_buf_printf(&out, ", \"waiting\": %lld}%s", planned + retry, jsonl ? "\n" : "");
        } else {
            cc_buf_printf(&out, "%s  paused %s by %s; %lld waiting\n", camp, at, by, planned + retry);
        }
        n++;
    }
    sqlite3_finalize(st);
    if (json) cc_buf_puts(&out, n ? "\n]\n" : "]\n");
    else if (!n && !jsonl) cc_buf_puts(&out, "no campaign is paused\n");
    fputs(cc_buf_str(&out), stdout);
    cc_buf_free(&out);
    return CC_OK;
}

cc_code cmd_pause(cli *c)
{
    int list = cli_flag(c, "--list");
    if (cli_no_unknown_options(c, "pause") != 0) return CC_ERR_USAGE;
    if (list ? c->argc != 0 : c->argc != 1) {
        fprintf(stderr, "usage: carecast pause CAMPAIGN | carecast pause --list\n");
        return CC_ERR_USAGE;
    }
    cc_code rc = cmdplan_open_existing_db(c);
    if (rc != CC_OK) return rc;
    if (list) return list_paused(c);
    const char *camp = c->argv[0];
    if (!campaign_known(c, "pause", camp)) return CC_ERR_NOT_FOUND;
    long long planned, retry, sending, since = 0;
    char by[128] = "";
    if (is_paused(c->db, camp, &since, by, sizeof by)) {
        char at[32];
        clock_format_instant(c->clock.zone, since, at);
        printf("%s is already paused (since %s, by %s)\n", camp, at, by);
        return CC_OK;
    }
    sqlite3_stmt *st = NULL;
    int ok = sqlite3_prepare_v2(c->db, "INSERT OR IGNORE INTO care_paused(campaign, paused_at, paused_by) VALUES (?, ?, ?)",
                                -1, &st, NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_text(st, 1, camp, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, c->clock.now);
        sqlite3_bind_text(st, 3, who(), -1, SQLITE_STATIC);
        ok = sqlite3_step(st) == SQLITE_DONE;
    }
    sqlite3_finalize(st);
    if (!ok) {
        char why[300];
        fprintf(stderr, "carecast pause: not paused: %s\n", db_errmsg(c->db, why, sizeof why));
        return CC_ERR_DB;
    }
    count_waiting(c->db, camp, NULL, NULL, &planned, &retry, &sending);
    printf("paused %s: its %lld waiting message%s stay until 'carecast resume %s'; a send in progress takes no more "
           "of them\n", camp, planned + retry, planned + retry == 1 ? "" : "s", camp);
    say_in_flight(sending);
    return CC_OK;
}

cc_code cmd_resume(cli *c)
{
    if (cli_no_unknown_options(c, "resume") != 0) return CC_ERR_USAGE;
    if (c->argc != 1) {
        fprintf(stderr, "usage: carecast resume CAMPAIGN\n");
        return CC_ERR_USAGE;
    }
    cc_code rc = cmdplan_open_existing_db(c);
    if (rc != CC_OK) return rc;
    const char *camp = c->argv[0];
    if (!is_paused(c->db, camp, NULL, NULL, 0)) {
        if (!campaign_known(c, "resume", camp)) return CC_ERR_NOT_FOUND;
        printf("%s is not paused\n", camp);
        return CC_OK;
    }
    sqlite3_stmt *st = NULL;
    int ok = sqlite3_prepare_v2(c->db, "DELETE FROM care_paused WHERE campaign = ?", -1, &st, NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_text(st, 1, camp, -1, SQLITE_STATIC);
        ok = sqlite3_step(st) == SQLITE_DONE;
    }
    sqlite3_finalize(st);
    if (!ok) {
        char why[300];
        fprintf(stderr, "carecast resume: still paused: %s\n", db_errmsg(c->db, why, sizeof why));
        return CC_ERR_DB;
    }
    long long planned, retry, sending;
    count_waiting(c->db, camp, NULL, NULL, &planned, &retry, &sending);
    printf("resumed %s: %lld waiting message%s go at the next send\n", camp, planned + retry,
           planned + retry == 1 ? "" : "s");
    return CC_OK;
}
