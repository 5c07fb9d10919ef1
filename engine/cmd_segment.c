/* cmd_segment.c - `carecast segment`: compute every segment of the rules
 * folder (segment.h), and the staleness check `run` uses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "segment.h"

static void now_local(const cli *c, char out[20], char today[11])
{
    cc_date d;
    int h = 0, mi = 0, se = 0;
    clock_format_date(c->clock.today, today);
    if (clock_utc_to_local(c->cfg.timezone, c->clock.now, &d, &h, &mi, &se, NULL) != CC_OK) {
        snprintf(out, 20, "%s 00:00:00", today);
        return;
    }
    char day[11];
    clock_format_date(d, day);
    snprintf(out, 20, "%.10s %02d:%02d:%02d", day, h, mi, se);
}

/* Load and compute; `only_if_stale` is `run`'s mode (quiet when fresh). */
static cc_code compute(cli *c, int only_if_stale)
{
    cc_diags diags = {.limit = 100};
    cc_segment *segs = NULL;
    size_t n = 0;
    cc_code rc = segment_load_dir(c->cfg.rules, &segs, &n, &diags);
    if (rc != CC_OK) {
        cc_diag_print(&diags, stderr);
        cc_diags_free(&diags);
        segments_free(segs, n);
        return CC_ERR_INPUT;
    }
    if (n == 0 || (only_if_stale && !segment_stale(c->db, segs, n, c->clock.now))) {
        if (!only_if_stale) printf("no segments in %s\n", c->cfg.rules);
        cc_diags_free(&diags);
        segments_free(segs, n);
        return CC_OK;
    }
    char today[11], local[20];
    now_local(c, local, today);
    /* The same checks as lint (types of value, if, recency...): a rule
     * lint refuses is never computed into labels. */
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        if (segment_check(c->db, &c->cfg, today, &segs[i], &diags, NULL) != CC_OK) bad = 1;
    if (bad) {
        cc_diag_print(&diags, stderr);
        cc_diags_free(&diags);
        segments_free(segs, n);
        return CC_ERR_INPUT;
    }
    segment_result *res = xcalloc(n, sizeof *res);
    rc = segment_compute(c->db, &c->cfg, c->clock.now, today, local, segs, n, res, &diags);
    cc_diag_print(&diags, stderr);
    cc_diags_free(&diags);
    for (size_t i = 0; i < n && rc == CC_OK; i++) {
        segment_label_count *cnt = NULL;
        size_t nc = 0;
        int64_t at = 0;
        if (segment_counts(c->db, segs[i].name, &cnt, &nc, &at) != CC_OK) continue;
        cc_buf b = CC_BUF_INIT;
        size_t shown = 0;
        for (size_t k = 0; k < nc; k++) {
            if (!cnt[k].customers) continue;   /* a label only left (first computation's null) */
            if (shown++ == 12) {
                cc_buf_puts(&b, ", ...");
                break;
            }
            cc_buf_printf(&b, "%s%s %lld", shown > 1 ? ", " : "", cnt[k].label ? cnt[k].label : "(none)", cnt[k].customers);
        }
        FILE *o = only_if_stale ? stderr : stdout;
        if (!only_if_stale || c->verbosity > 0)
            fprintf(o, "segment %s: %zu customers, %zu changed label (%s)\n", segs[i].name, res[i].customers,
                    res[i].changed, cc_buf_str(&b));
        cc_buf_free(&b);
        segment_counts_free(cnt, nc);
    }
    free(res);
    segments_free(segs, n);
    return rc;
}

cc_code segments_refresh_if_stale(cli *c)
{
    if (!c->db && cli_open_db(c) != CC_OK) return CC_ERR_DB;
    return compute(c, 1);
}

cc_code cmd_segment(cli *c)
{
    if (cli_no_unknown_options(c, "segment") != 0) return CC_ERR_USAGE;
    if (c->argc) {
        fprintf(stderr, "carecast segment: unexpected argument '%s'\n", c->argv[0]);
        return CC_ERR_USAGE;
    }
    if (access(c->cfg.database, F_OK) != 0) {
        fprintf(stderr, "carecast: database '%s' does not exist (create it with 'carecast demo-data --customers N' or "
                        "'carecast import customers FILE.csv')\n", c->cfg.database);
        return CC_ERR_NOT_FOUND;
    }
    if (cli_open_db(c) != CC_OK) return CC_ERR_DB;
    return compute(c, 0);
}
