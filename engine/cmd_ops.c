/* cmd_ops.c - the commands a customer-service lead uses by hand:
 * `suppress add|remove|list` and `event`.
 *
 * Both write one transaction or nothing; bad arguments are reported before
 * anything is opened for writing. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "commands.h"
#include "db.h"

/* ---- suppress ----------------------------------------------------------- */

/* An address as stored: email lower-cased, phone as given (E.164). */
static char *normalise_address(const char *a, const char **err)
{
    *err = NULL;
    if (!a || !*a) {
        *err = "the address is empty";
        return NULL;
    }
    if (strchr(a, '@')) {
        const char *at = strchr(a, '@');
        if (at == a || !strchr(at, '.') || strchr(at + 1, '@') || strpbrk(a, " \t\r\n<>\",;")) {
            *err = "not a valid email address";
            return NULL;
        }
        char *s = xstrdup(a);
        for (char *p = s; *p; p++) *p = (char)tolower((unsigned char)*p);
        return s;
    }
    size_t digits = 0;
    for (const char *p = a + 1; *p; p++) {
        if (!isdigit((unsigned char)*p)) {
            *err = "not an email address or an E.164 phone number (+8613800138000)";
            return NULL;
        }
        digits++;
    }
    if (a[0] != '+' || digits < 8 || digits > 15) {
        *err = "not an email address or an E.164 phone number (+8613800138000)";
        return NULL;
    }
    return xstrdup(a);
}

static cc_code suppress_list(cli *c)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT id, coalesce(address, ''), coalesce(customer_id, ''), scope, coalesce(reason, ''), "
                           "strftime('%Y-%m-%dT%H:%M:%SZ', created_at, 'unixepoch') FROM care_suppressions ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK)
        return CC_ERR_DB;
    int json = !strcmp(c->format, "json") || !strcmp(c->format, "jsonl");
    int csv = !strcmp(c->format, "csv");
    cc_buf b = CC_BUF_INIT;
    if (csv) cc_buf_puts(&b, "id,address,customer,scope,reason,created_at\n");
    else if (!json) cc_buf_printf(&b, "%-5s %-32s %-12s %-9s %-14s %s\n", "id", "address", "customer", "scope", "reason", "since");
    if (!strcmp(c->format, "json")) cc_buf_puts(&b, "[");
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *f[6];
        for (int i = 0; i < 6; i++) f[i] = (const char *)sqlite3_column_text(st, i);
        if (json) {
            if (!strcmp(c->format, "json") && n) cc_buf_puts(&b, ",");
            cc_buf_printf(&b, "%s{\"id\": %s, \"address\": ", !strcmp(c->format, "json") ? "\n  " : "", f[0]);
            cc_json_str(&b, *f[1] ? f[1] : NULL);
            cc_buf_puts(&b, ", \"customer\": ");
            cc_json_str(&b, *f[2] ? f[2] : NULL);
            cc_buf_puts(&b, ", \"scope\": ");
            cc_json_str(&b, f[3]);
            cc_buf_puts(&b, ", \"reason\": ");
            cc_json_str(&b, *f[4] ? f[4] : NULL);
            cc_buf_puts(&b, ", \"created_at\": ");
            cc_json_str(&b, f[5]);
            cc_buf_puts(&b, "}");
            if (!strcmp(c->format, "jsonl")) cc_buf_putc(&b, '\n');
        } else if (csv) {
            for (int i = 0; i < 6; i++) {
                if (i) cc_buf_putc(&b, ',');
                cc_csv_field(&b, f[i]);
            }
            cc_buf_putc(&b, '\n');
        } else {
            cc_buf_printf(&b, "%-5s %-32s %-12s %-9s %-14s %s\n", f[0], f[1], f[2], f[3], f[4], f[5]);
        }
        n++;
    }
    if (!strcmp(c->format, "json")) cc_buf_puts(&b, n ? "\n]\n" : "]\n");
    sqlite3_finalize(st);
    fputs(cc_buf_str(&b), stdout);
    cc_buf_free(&b);
    return CC_OK;
}

cc_code cmd_suppress(cli *c)
{
    const char *customer = cli_option(c, "--customer");
    const char *scope = cli_option(c, "--scope");
    const char *reason = cli_option(c, "--reason");
    if (cli_no_unknown_options(c, "suppress") != 0) return CC_ERR_USAGE;
    if (c->argc < 1 || (strcmp(c->argv[0], "add") && strcmp(c->argv[0], "remove") && strcmp(c->argv[0], "list"))) {
        fprintf(stderr, "usage: carecast suppress add|remove [ADDRESS] [--customer ID] [--scope marketing|all] [--reason TEXT]\n"
                        "       carecast suppress list\n");
        return CC_ERR_USAGE;
    }
    const char *verb = c->argv[0];
    if (!strcmp(verb, "list")) {
        if (c->argc != 1 || customer || scope || reason) {
            fprintf(stderr, "carecast suppress list: takes no arguments\n");
            return CC_ERR_USAGE;
        }
        cc_code rc = access(c->cfg.database, F_OK) == 0 ? cli_open_db(c) : CC_ERR_NOT_FOUND;
        if (rc == CC_ERR_NOT_FOUND) fprintf(stderr, "carecast: database '%s' does not exist\n", c->cfg.database);
        return rc == CC_OK ? suppress_list(c) : rc;
    }
    if (c->argc > 2 || (c->argc == 1 && !customer)) {
        fprintf(stderr, "carecast suppress %s: give an ADDRESS, --customer ID, or both\n", verb);
        return CC_ERR_USAGE;
    }
    if (scope && strcmp(scope, "marketing") && strcmp(scope, "all")) {
        fprintf(stderr, "carecast suppress: --scope must be marketing or all, not '%s'\n", scope);
        return CC_ERR_USAGE;
    }
    char *address = NULL;
    if (c->argc == 2) {
        const char *why;
        address = normalise_address(c->argv[1], &why);
        if (!address) {
            fprintf(stderr, "carecast suppress: '%s' is %s\n", c->argv[1], why);
            return CC_ERR_USAGE;
        }
    }
    cc_code rc = cli_open_db(c);
    if (rc != CC_OK) {
        free(address);
        return rc;
    }
    sqlite3_stmt *st = NULL;
    const char *sql = !strcmp(verb, "add")
        ? "INSERT INTO care_suppressions(address, customer_id, scope, reason, created_at) "
          "SELECT ?1, ?2, ?3, ?4, ?5 WHERE NOT EXISTS (SELECT 1 FROM care_suppressions WHERE "
          "address IS ?1 AND customer_id IS ?2 AND scope = ?3)"
        : "DELETE FROM care_suppressions WHERE address IS ?1 AND customer_id IS ?2 AND (?3 IS NULL OR scope = ?3)";
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK) {
        free(address);
        return CC_ERR_DB;
    }
    sqlite3_bind_text(st, 1, address, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, customer, -1, SQLITE_STATIC);
    if (!strcmp(verb, "add")) {
        sqlite3_bind_text(st, 3, scope ? scope : "marketing", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, reason ? reason : "manual", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, c->clock.now);
    } else {
        sqlite3_bind_text(st, 3, scope, -1, SQLITE_STATIC);
    }
    int ok = sqlite3_step(st) == SQLITE_DONE;
    int changes = sqlite3_changes(c->db);
    sqlite3_finalize(st);
    if (!ok) {
        fprintf(stderr, "carecast: suppress %s failed: %s\n", verb, sqlite3_errmsg(c->db));
        free(address);
        return CC_ERR_DB;
    }
    const char *who = address ? address : customer;
    if (!strcmp(verb, "add"))
        printf(changes ? "suppressed %s%s%s (%s)\n" : "%s%s%s is already suppressed (%s)\n", who,
               address && customer ? " of customer " : "", address && customer ? customer : "", scope ? scope : "marketing");
    else if (changes)
        printf("removed %d suppression%s of %s\n", changes, changes == 1 ? "" : "s", who);
    else
        printf("no suppression of %s to remove\n", who);
    free(address);
    return CC_OK;
}

/* ---- event -------------------------------------------------------------- */

static int plain_name(const char *s)
{
    if (!*s || !(isalpha((unsigned char)*s) || *s == '_')) return 0;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_')) return 0;
    return 1;
}

cc_code cmd_event(cli *c)
{
    const char *customer = cli_option(c, "--customer");
    const char *at_arg = cli_option(c, "--at");
    /* --set K=V may repeat. */
    const char *sets[32];
    int nsets = 0;
    const char *v;
    while ((v = cli_option(c, "--set"))) {
        if (nsets == 32) {
            fprintf(stderr, "carecast event: at most 32 --set\n");
            return CC_ERR_USAGE;
        }
        sets[nsets++] = v;
    }
    if (cli_no_unknown_options(c, "event") != 0) return CC_ERR_USAGE;
    if (c->argc != 1 || !customer || !*customer) {
        fprintf(stderr, "usage: carecast event TYPE --customer ID [--at ISO] [--set K=V...]\n");
        return CC_ERR_USAGE;
    }
    const char *type = c->argv[0];
    if (!*type || strpbrk(type, "\r\n")) {
        fprintf(stderr, "carecast event: TYPE must be a word such as complaint_opened\n");
        return CC_ERR_USAGE;
    }
    int64_t at = c->clock.now;
    if (at_arg && clock_parse_instant(at_arg, c->cfg.timezone, &at) != CC_OK) {
        fprintf(stderr, "carecast event: --at '%s' is not an ISO date or date-time\n", at_arg);
        return CC_ERR_USAGE;
    }
    static const char *const reserved[] = {"id", "customer_id", "type", "at"};
    for (int i = 0; i < nsets; i++) {
        const char *eq = strchr(sets[i], '=');
        char *k = eq ? xstrndup(sets[i], (size_t)(eq - sets[i])) : NULL;
        int bad = !k || !plain_name(k) || !strncmp(k, "care_", 5);
        for (size_t r = 0; !bad && r < 4; r++) bad = !strcmp(k, reserved[r]);
        free(k);
        if (bad) {
            fprintf(stderr, "carecast event: --set '%s' must be NAME=VALUE with a plain column name "
                            "(not id, customer_id, type or at)\n", sets[i]);
            return CC_ERR_USAGE;
        }
    }
    cc_code rc = cli_open_db(c);
    if (rc != CC_OK) return rc;
    if (!db_table_exists(c->db, c->cfg.customers.table)) {
        fprintf(stderr, "carecast event: the database has no customers table '%s'\n", c->cfg.customers.table);
        return CC_ERR_NOT_FOUND;
    }
    /* The customer must exist: an event for nobody would never be seen. */
    cc_buf q = CC_BUF_INIT;
    cc_buf_puts(&q, "SELECT 1 FROM ");
    db_quote_ident(c->cfg.customers.table, &q);
    cc_buf_puts(&q, " WHERE ");
    db_quote_ident(c->cfg.customers.id, &q);
    cc_buf_puts(&q, " = ?");
    sqlite3_stmt *st = NULL;
    int found = 0;
    if (sqlite3_prepare_v2(c->db, cc_buf_str(&q), -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, customer, -1, SQLITE_STATIC);
        found = sqlite3_step(st) == SQLITE_ROW;
    }
    sqlite3_finalize(st);
    cc_buf_free(&q);
    if (!found) {
        fprintf(stderr, "carecast event: no customer '%s'\n", customer);
        return CC_ERR_NOT_FOUND;
    }
    if (db_begin(c->db) != CC_OK) return CC_ERR_DB;
    /* `at` is declared a date-time: rules read it as one from the first
     * event on, and before there is any. */
    int ok = db_exec(c->db, "CREATE TABLE IF NOT EXISTS events(id INTEGER PRIMARY KEY, customer_id TEXT NOT NULL, "
                            "type TEXT NOT NULL, at DATETIME NOT NULL, data TEXT)", "creating the events table") == CC_OK;
    cc_buf ins = CC_BUF_INIT, vals = CC_BUF_INIT;
    cc_buf_puts(&ins, "INSERT INTO events(customer_id, type, at");
    cc_buf_puts(&vals, ") VALUES (?, ?, ?");
    for (int i = 0; ok && i < nsets; i++) {
        char *k = xstrndup(sets[i], (size_t)(strchr(sets[i], '=') - sets[i]));
        if (!db_has_column(c->db, "events", k)) {
            cc_buf alter = CC_BUF_INIT;
            cc_buf_puts(&alter, "ALTER TABLE events ADD COLUMN ");
            db_quote_ident(k, &alter);
            ok = db_exec(c->db, cc_buf_str(&alter), "adding an events column") == CC_OK;
            cc_buf_free(&alter);
        }
        cc_buf_puts(&ins, ", ");
        db_quote_ident(k, &ins);
        cc_buf_puts(&vals, ", ?");
        free(k);
    }
    cc_buf_puts(&vals, ")");
    cc_buf_puts(&ins, cc_buf_str(&vals));
    /* `at` is stored as business-local wall time, as the expression
     * language reads date-times without an offset. */
    char iso[32];
    clock_format_instant(c->cfg.timezone, at, iso);
    char local[20];
    snprintf(local, sizeof local, "%.10s %.8s", iso, iso + 11);
    if (ok && sqlite3_prepare_v2(c->db, cc_buf_str(&ins), -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, customer, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, local, -1, SQLITE_STATIC);
        for (int i = 0; i < nsets; i++) sqlite3_bind_text(st, 4 + i, strchr(sets[i], '=') + 1, -1, SQLITE_STATIC);
        ok = sqlite3_step(st) == SQLITE_DONE;
        sqlite3_finalize(st);
    } else {
        ok = 0;
    }
    cc_buf_free(&ins);
    cc_buf_free(&vals);
    if (!ok || db_commit(c->db) != CC_OK) {
        fprintf(stderr, "carecast event: not recorded: %s\n", sqlite3_errmsg(c->db));
        db_rollback(c->db);
        return CC_ERR_DB;
    }
    printf("recorded %s for %s at %s (event %lld)\n", type, customer, local, (long long)sqlite3_last_insert_rowid(c->db));
    return CC_OK;
}
