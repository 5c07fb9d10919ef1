/* cmd_data.c - commands that create data: init, import, demo-data. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "csv_import.h"
#include "db.h"
#include "demo_data.h"

cc_code cmd_import(cli *c)
{
    const char *key = cli_option(c, "--key");
    const char *enc = cli_option(c, "--encoding");
    if (cli_no_unknown_options(c, "import") != 0) return CC_ERR_USAGE;
    if (c->argc != 2) {
        fprintf(stderr, "usage: carecast import TABLE FILE.csv [--key COL] [--encoding ENC]\n");
        return CC_ERR_USAGE;
    }
    cc_code rc = cli_open_db(c);
    if (rc != CC_OK) return rc;
    cc_diags diags = {.limit = 20};
    size_t rows = 0;
    rc = csv_import(c->db, &c->cfg, c->argv[0], c->argv[1], key, enc, &diags, &rows);
    if (rc != CC_OK) {
        cc_diag_print(&diags, stderr);
        if (!diags.count) fprintf(stderr, "carecast: import failed: %s\n", cc_strerror(rc));
        fprintf(stderr, "carecast: nothing was imported\n");
        cc_diags_free(&diags);
        return rc == CC_ERR_DB ? CC_ERR_DB : CC_ERR_INPUT;
    }
    cc_diags_free(&diags);
    printf("imported %zu row%s into %s\n", rows, rows == 1 ? "" : "s", c->argv[0]);
    return CC_OK;
}

cc_code cmd_demo_data(cli *c)
{
    const char *n = cli_option(c, "--customers");
    const char *seed_s = cli_option(c, "--seed");
    if (cli_no_unknown_options(c, "demo-data") != 0) return CC_ERR_USAGE;
    char *end = NULL;
    long customers = n ? strtol(n, &end, 10) : -1;
    if (!n || *end || customers < 0 || customers > 100000000) {
        fprintf(stderr, "usage: carecast demo-data --customers N [--seed S]  (N a whole number)\n");
        return CC_ERR_USAGE;
    }
    unsigned long long seed = 1;
    if (seed_s) {
        seed = strtoull(seed_s, &end, 10);
        if (*end || !*seed_s) {
            fprintf(stderr, "carecast demo-data: --seed must be a whole number\n");
            return CC_ERR_USAGE;
        }
    }
    if (c->argc) {
        fprintf(stderr, "carecast demo-data: unexpected argument '%s'\n", c->argv[0]);
        return CC_ERR_USAGE;
    }
    cc_code rc = cli_open_db(c);
    if (rc != CC_OK) return rc;
    char today[11];
    clock_format_date(c->clock.today, today);
    demo_counts counts;
    memset(&counts, 0, sizeof counts);
    rc = demo_data_generate(c->db, &c->cfg, customers, (uint64_t)seed, today, c->verbosity > 0 ? stderr : NULL, &counts);
    if (rc != CC_OK) {
        fprintf(stderr, "carecast: demo-data failed: %s\n", cc_strerror(rc));
        return rc;
    }
    demo_counts_print(&counts, &c->cfg, stdout);
    return CC_OK;
}

/* ---- init --------------------------------------------------------------- */

static const char init_config[] =
    "# carecast configuration: see the README and `man carecast`.\n"
    "database: var/carecast.db\n"
    "timezone: Asia/Shanghai\n"
    "rules: rules\n"
    "templates: templates\n"
    "outbox_dir: var/outbox\n"
    "\n"
    "sender:\n"
    "  name: 关怀中心\n"
    "  email: care@example.cn\n"
    "  reply_to: service@example.cn\n"
    "\n"
    "sms:\n"
    "  signature: 【关怀中心】\n"
    "  opt_out: {zh: 回T退订, en: Reply STOP to opt out}\n"
    "  max_segments: 3\n"
    "\n"
    "policy:\n"
    "  # Customer-local: nothing is handed to a transport in these hours;\n"
    "  # messages wait for the morning, never dropped.\n"
    "  quiet_hours: \"21:00-08:00\"\n"
    "\n"
    "# With no transports, email and SMS are written as files under outbox_dir.\n"
    "# transports:\n"
    "#   email: {type: smtp, host: 127.0.0.1, port: 25, tls: starttls}\n"
    "#   sms:   {type: kannel, url: http://127.0.0.1:13013/cgi-bin/sendsms,\n"
    "#           username: care, password_env: CARECAST_SMS_PASSWORD, from: \"10690000\"}\n";

static const char init_rule[] =
    "# A birthday greeting on the customer's birthday at 09:30 their time.\n"
    "campaign: birthday-greeting\n"
    "title: Birthday greeting\n"
    "kind: marketing\n"
    "audience:\n"
    "  from: customers\n"
    "  where: status == \"active\"\n"
    "when:\n"
    "  date: birth_date\n"
    "  every: year\n"
    "send_at: \"09:30\"\n"
    "channels: [sms, email]\n"
    "template: birthday\n"
    "vars:\n"
    "  age: years_since(birth_date)\n";

static const char init_sms[] = "{{ customer.name | default: \"尊敬的客户\" }}，生日快乐！祝您在新的一岁平安喜乐。\n";
static const char init_email[] =
    "---\n"
    "subject: \"{{ customer.name | default: \\\"尊敬的客户\\\" }}，生日快乐\"\n"
    "---\n"
    "{{ customer.name | default: \"尊敬的客户\" }}，您好：\n\n"
    "祝您生日快乐！感谢您一直以来的信任。\n\n"
    "{{ sender.name }}\n";

static cc_code write_new(const char *dir, const char *name, const char *text, int *created)
{
    char *path = xasprintf("%s/%s", dir, name);
    struct stat sb;
    cc_code rc = CC_OK;
    if (stat(path, &sb) == 0) {
        printf("kept     %s (already there)\n", path);
    } else {
        char *slash = strrchr(path, '/');
        *slash = '\0';
        cc_mkdirs(path, 0755);
        *slash = '/';
        rc = cc_write_file_atomic(path, text, strlen(text), 0644);
        if (rc != CC_OK) fprintf(stderr, "carecast: cannot write '%s': %s\n", path, strerror(errno));
        else {
            printf("created  %s\n", path);
            (*created)++;
        }
    }
    free(path);
    return rc;
}

/* A word for a shell command line: as it is when it is plain, else in
 * single quotes. */
static char *shell_word(const char *s)
{
    if (*s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:@%,") == strlen(s))
        return xstrdup(s);
    size_t n = 3;
    for (const char *p = s; *p; p++) n += *p == '\'' ? 4 : 1;
    char *out = xmalloc(n), *o = out;
    *o++ = '\'';
    for (const char *p = s; *p; p++) {
        if (*p == '\'') { memcpy(o, "'\\''", 4); o += 4; }
        else *o++ = *p;
    }
    *o++ = '\'';
    *o = '\0';
    return out;
}

/* How the user runs this binary from another folder: `carecast` when that
 * name on $PATH is this very file (installed), else its absolute path (a
 * binary just built with `make`, run as ./carecast). */
static char *self_command(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return xstrdup("carecast");
    exe[n] = '\0';
    const char *path = getenv("PATH");
    char *dirs = xstrdup(path ? path : "");
    int found = 0;
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
        char *cand = xasprintf("%s/carecast", *d ? d : ".");
        char real[PATH_MAX];
        if (access(cand, X_OK) == 0) {
            if (realpath(cand, real) && strcmp(real, exe) == 0) found = 1;
            free(cand);
            break;           /* the shell runs the first one found */
        }
        free(cand);
    }
    free(dirs);
    return found ? xstrdup("carecast") : shell_word(exe);
}

cc_code cmd_init(cli *c)
{
    if (cli_no_unknown_options(c, "init") != 0) return CC_ERR_USAGE;
    if (c->argc > 1) {
        fprintf(stderr, "usage: carecast init [DIR]\n");
        return CC_ERR_USAGE;
    }
    const char *dir = c->argc ? c->argv[0] : ".";
    if (cc_mkdirs(dir, 0755) != CC_OK) {
        fprintf(stderr, "carecast: cannot create '%s': %s\n", dir, strerror(errno));
        return CC_ERR_IO;
    }
    int created = 0;
    cc_code rc = write_new(dir, "etc/carecast.yaml", init_config, &created);
    if (rc == CC_OK) rc = write_new(dir, "rules/birthday.yaml", init_rule, &created);
    if (rc == CC_OK) rc = write_new(dir, "templates/birthday.sms.liquid", init_sms, &created);
    if (rc == CC_OK) rc = write_new(dir, "templates/birthday.email.liquid", init_email, &created);
    if (rc != CC_OK) return rc;
    char *var = xasprintf("%s/var", dir);
    cc_mkdirs(var, 0750);
    char *dbpath = xasprintf("%s/var/carecast.db", dir);
    sqlite3 *db = NULL;
    char err[512];
    rc = db_open(dbpath, &db, err, sizeof err);
    if (rc != CC_OK) fprintf(stderr, "carecast: %s\n", err);
    else printf("database %s\n", dbpath);
    db_close(db);
    free(var);
    free(dbpath);
    if (rc == CC_OK) {
        char *cmd = self_command(), *qdir = shell_word(dir);
        printf("\nNext: cd %s && %s demo-data --customers 1000 && %s preview birthday-greeting\n", qdir, cmd, cmd);
        free(cmd);
        free(qdir);
    }
    return rc;
}
