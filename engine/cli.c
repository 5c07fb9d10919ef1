/* cli.c - shared plumbing for subcommands: option taking, logging, asking
 * for confirmation, the database handle. */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"

cc_code cli_open_db(cli *c)
{
    if (c->db) return CC_OK;
    char err[512];
    /* The database's folder is created private: it holds customer data. */
    const char *slash = strrchr(c->cfg.database, '/');
    if (slash && slash != c->cfg.database) {
        char *dir = xstrndup(c->cfg.database, (size_t)(slash - c->cfg.database));
        cc_mkdirs(dir, 0750);
        free(dir);
    }
    cc_code rc = db_open(c->cfg.database, &c->db, err, sizeof err);
    if (rc != CC_OK) fprintf(stderr, "carecast: %s\n", err);
    return rc;
}

static void remove_args(cli *c, int at, int count)
{
    for (int i = at; i + count <= c->argc; i++) c->argv[i] = c->argv[i + count];
    c->argc -= count;
}

int cli_flag(cli *c, const char *name)
{
    for (int i = 0; i < c->argc; i++)
        if (strcmp(c->argv[i], name) == 0) {
            remove_args(c, i, 1);
            return 1;
        }
    return 0;
}

const char *cli_option(cli *c, const char *name)
{
    size_t l = strlen(name);
    for (int i = 0; i < c->argc; i++) {
        if (strcmp(c->argv[i], name) == 0 && i + 1 < c->argc) {
            const char *v = c->argv[i + 1];
            remove_args(c, i, 2);
            return v;
        }
        if (strncmp(c->argv[i], name, l) == 0 && c->argv[i][l] == '=') {
            const char *v = c->argv[i] + l + 1;
            remove_args(c, i, 1);
            return v;
        }
    }
    return NULL;
}

int cli_no_unknown_options(cli *c, const char *command)
{
    for (int i = 0; i < c->argc; i++)
        if (c->argv[i][0] == '-' && c->argv[i][1] != '\0') {
            fprintf(stderr, "carecast %s: unknown option '%s' (see 'carecast %s --help')\n", command,
                    c->argv[i], command);
            return -1;
        }
    return 0;
}

void cli_log(const cli *c, int level, const char *fmt, ...)
{
    if (c->verbosity < level) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("carecast: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

cc_code cli_confirm(int yes, const char *refusal, const char *prompt, const char *aborted)
{
    if (yes) return CC_OK;
    if (!isatty(STDIN_FILENO)) {
        fputs(refusal, stderr);
        return CC_ERR_USAGE;
    }
    fputs(prompt, stderr);
    fflush(stderr);
    char answer[64] = "";
    if (!fgets(answer, sizeof answer, stdin)) answer[0] = '\0';
    answer[strcspn(answer, "\r\n")] = '\0';
    if (strcasecmp(answer, "y") == 0 || strcasecmp(answer, "yes") == 0) return CC_OK;
    fputs(aborted, stderr);
    return CC_ERR_PROBLEMS;
}
