/* cmd_tasks.c - `carecast tasks`: the open care tasks for staff (made by
 * campaigns with the `task` channel), and marking one done. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

static cc_code mark_done(cli *c, const char *id_s, const char *note)
{
    char *end = NULL;
    long long id = strtoll(id_s, &end, 10);
    if (*end || id < 1) {
        fprintf(stderr, "carecast tasks: --done takes a task number, not '%s'\n", id_s);
        return CC_ERR_USAGE;
    }
    sqlite3_stmt *st = NULL;
    cc_code rc = CC_OK;
    if (sqlite3_prepare_v2(c->db, "SELECT done_at, done_by FROM care_tasks WHERE id = ?", -1, &st, NULL) != SQLITE_OK)
        return CC_ERR_DB;
    sqlite3_bind_int64(st, 1, id);
    int r = sqlite3_step(st);
    if (r != SQLITE_ROW) {
        fprintf(stderr, "carecast tasks: no task #%lld\n", id);
        rc = CC_ERR_USAGE;
    } else if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
        /* Done twice is a mistake worth saying, but nothing is harmed. */
        char when[32];
        clock_format_instant(c->clock.zone, sqlite3_column_int64(st, 0), when);
        const char *by = (const char *)sqlite3_column_text(st, 1);
        fprintf(stderr, "carecast tasks: task #%lld was already done at %s by %s\n", id, when, by ? by : "?");
        rc = CC_ERR_PROBLEMS;
    }
    sqlite3_finalize(st);
    if (rc != CC_OK) return rc;
    const char *user = getenv("USER");
    if (!user || !*user) user = "unknown";
    if (sqlite3_prepare_v2(c->db, "UPDATE care_tasks SET done_at = ?2, done_by = ?3, note = ?4 WHERE id = ?1", -1, &st,
                           NULL) != SQLITE_OK)
        return CC_ERR_DB;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, c->clock.now);
    sqlite3_bind_text(st, 3, user, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, note, -1, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? CC_OK : CC_ERR_DB;
    sqlite3_finalize(st);
    if (rc == CC_OK) printf("task #%lld done (by %s)\n", id, user);
    else fprintf(stderr, "carecast tasks: %s\n", sqlite3_errmsg(c->db));
    return rc;
}

static cc_code list_open(cli *c, const char *assignee)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT id, assignee, customer_id, campaign, step, title, body, due_at, digest_sent_at "
                           "FROM care_tasks WHERE done_at IS NULL AND (?1 IS NULL OR lower(assignee) = lower(?1)) "
                           "ORDER BY due_at, id", -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "carecast tasks: %s\n", sqlite3_errmsg(c->db));
        return CC_ERR_DB;
    }
    sqlite3_bind_text(st, 1, assignee, -1, SQLITE_STATIC);
    int json = !strcmp(c->format, "json"), jsonl = !strcmp(c->format, "jsonl"), csv = !strcmp(c->format, "csv");
    cc_buf b = CC_BUF_INIT;
    if (json) cc_buf_puts(&b, "[");
    if (csv) cc_buf_puts(&b, "id,assignee,customer,campaign,step,title,due,digest_sent\n");
    size_t n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *f[7];
        for (int k = 1; k < 7; k++) f[k] = (const char *)sqlite3_column_text(st, k);
        char id[24], due[32], sent[32] = "";
        snprintf(id, sizeof id, "%lld", (long long)sqlite3_column_int64(st, 0));
        clock_format_instant(c->clock.zone, sqlite3_column_int64(st, 7), due);
        if (sqlite3_column_type(st, 8) != SQLITE_NULL) clock_format_instant(c->clock.zone, sqlite3_column_int64(st, 8), sent);
        if (json || jsonl) {
            if (json) cc_buf_puts(&b, n ? ",\n  " : "\n  ");
            cc_buf_printf(&b, "{\"id\": %s, \"assignee\": ", id);
            cc_json_str(&b, f[1]);
            static const char *const names[] = {NULL, NULL, "customer", "campaign", "step", "title", "body"};
            for (int k = 2; k < 7; k++) {
                cc_buf_printf(&b, ", \"%s\": ", names[k]);
                cc_json_str(&b, f[k]);
            }
            cc_buf_puts(&b, ", \"due\": ");
            cc_json_str(&b, due);
            cc_buf_puts(&b, ", \"digest_sent\": ");
            cc_json_str(&b, *sent ? sent : NULL);
            cc_buf_puts(&b, "}");
            if (jsonl) cc_buf_putc(&b, '\n');
        } else if (csv) {
            const char *row[] = {id, f[1], f[2], f[3], f[4], f[5], due, sent};
            for (size_t k = 0; k < sizeof row / sizeof row[0]; k++) {
                if (k) cc_buf_putc(&b, ',');
                cc_csv_field(&b, row[k]);
            }
            cc_buf_putc(&b, '\n');
        } else {
            if (!n) cc_buf_printf(&b, "%-6s %-25s %-28s %-10s %s\n", "ID", "DUE", "ASSIGNEE", "CUSTOMER", "TITLE");
            cc_buf_printf(&b, "%-6s %-25s %-28s %-10s %s\n", id, due, f[1] ? f[1] : "-", f[2] ? f[2] : "-",
                          f[5] ? f[5] : "");
        }
        n++;
    }
    sqlite3_finalize(st);
    if (json) cc_buf_puts(&b, n ? "\n]\n" : "]\n");
    if (!json && !jsonl && !csv) cc_buf_printf(&b, "%zu open task%s\n", n, n == 1 ? "" : "s");
    fputs(cc_buf_str(&b), stdout);
    cc_buf_free(&b);
    return CC_OK;
}

cc_code cmd_tasks(cli *c)
{
    const char *assignee = cli_option(c, "--assignee");
    const char *done = cli_option(c, "--done");
    const char *note = cli_option(c, "--note");
    if (cli_no_unknown_options(c, "tasks") != 0) return CC_ERR_USAGE;
    if (c->argc || (note && !done) || (done && assignee)) {
        fprintf(stderr, "usage: carecast tasks [--assignee EMAIL] | carecast tasks --done ID [--note TEXT]\n");
        return CC_ERR_USAGE;
    }
    cc_code rc = cmdplan_open_existing_db(c);
    if (rc != CC_OK) return rc;
    return done ? mark_done(c, done, note) : list_open(c, assignee);
}
