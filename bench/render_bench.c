/* render_bench.c - messages per second for the example templates, through
 * carecast's real rendering path (render_message: template lookup in the
 * compile cache, Liquid render, front matter subject, HTML body).
 *
 * Each message sets its variables afresh, as the planner does (one
 * tpl_vars cleared per message, the values copied from the row), so the
 * figure is what one more due message costs in rendering.  The Jinja2
 * baseline (bench/baseline/render_jinja2.py) renders the same templates,
 * written in Jinja2, with the same variables.
 *
 * usage: render_bench TEMPLATES_DIR MESSAGES [NAME.CHANNEL]
 * (one case only, e.g. birthday.sms: for profiling) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "render.h"
#include "template.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* One customer's data, as the planner reads it from a row: strings. */
typedef struct {
    char id[16], name[32], end[16], age[8];
} row;

/* The rows are made before the clock starts, on both sides (the Jinja2
 * baseline too): in carecast they come from SQLite, and formatting them
 * is not part of rendering. */
static row *make_rows(long n)
{
    row *rows = malloc((size_t)(n ? n : 1) * sizeof *rows);
    if (!rows) return NULL;
    for (long i = 0; i < n; i++) {
        snprintf(rows[i].id, sizeof rows[i].id, "C-%06ld", i % 1000000);
        snprintf(rows[i].name, sizeof rows[i].name, "%s%ld", i % 2 ? "李娜" : "王建国", i % 97);
        snprintf(rows[i].end, sizeof rows[i].end, "2026-12-%02ld", 1 + i % 28);
        snprintf(rows[i].age, sizeof rows[i].age, "%ld", 20 + i % 60);
    }
    return rows;
}

static void fill(tpl_vars *v, const row *r)
{
    tpl_vars_set(v, "customer.id", r->id);
    tpl_vars_set(v, "customer.name", r->name);
    tpl_vars_set(v, "customer.first_name", r->name + 3);
    tpl_vars_set(v, "customer.email", "li.na@example.cn");
    tpl_vars_set(v, "customer.phone", "+8613800138000");
    tpl_vars_set(v, "customer.locale", "zh-CN");
    tpl_vars_set(v, "row.id", "K-0001042");
    tpl_vars_set(v, "row.product", "宽带套餐");
    tpl_vars_set(v, "row.end_date", r->end);
    tpl_vars_set_typed(v, "vars.age", TPL_INT, r->age);
    tpl_vars_set(v, "sender.name", "关怀银行");
    tpl_vars_set(v, "sender.email", "care@bank.example.cn");
    tpl_vars_set(v, "campaign.id", "birthday-greeting");
    tpl_vars_set(v, "today", "2026-11-24");
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: %s TEMPLATES_DIR MESSAGES [NAME.CHANNEL]\n", argv[0]);
        return 2;
    }
    long n = strtol(argv[2], NULL, 10);
    static const struct { const char *name, *channel; } cases[] = {
        {"birthday", "sms"}, {"birthday", "email"}, {"renewal-30d", "sms"}, {"renewal-30d", "email"}};
    row *rows = make_rows(n);
    if (!rows) {
        fprintf(stderr, "%s: out of memory\n", argv[0]);
        return 1;
    }
    render_set *rs = render_open(argv[1]);
    cc_diags diags = {0};
    int status = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char label[64];
        snprintf(label, sizeof label, "%s.%s", cases[c].name, cases[c].channel);
        if (argc == 4 && strcmp(argv[3], label)) continue;
        size_t bytes = 0;
        double t0 = now_s();
        tpl_vars v = {0};
        for (long i = 0; i < n; i++) {
            tpl_vars_clear(&v);
            fill(&v, &rows[i]);
            rendered r;
            if (render_message(rs, cases[c].name, cases[c].channel, "zh-CN", &v, &r, &diags) != CC_OK) {
                cc_diag_print(&diags, stderr);
                status = 1;
                break;
            }
            bytes += strlen(r.text) + (r.subject ? strlen(r.subject) : 0) + (r.html ? strlen(r.html) : 0);
            rendered_free(&r);
        }
        tpl_vars_free(&v);
        double dt = now_s() - t0;
        printf("%s %ld %.4f %.0f %zu\n", label, n, dt, (double)n / dt, bytes / (size_t)(n ? n : 1));
    }
    render_close(rs);
    free(rows);
    cc_diags_free(&diags);
    return status;
}
