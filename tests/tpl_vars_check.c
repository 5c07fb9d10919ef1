/* tpl_vars_check.c - the template variables' reuse across messages
 * (template.h) against variables built from nothing.
 *
 * One tpl_vars lives through thousands of messages, as in the planner:
 * cleared, then set in the order of one of a few "campaigns" most of the
 * time, and otherwise in a random order, with names left out, set twice,
 * set to null, changed type, and set again after a first render.  After
 * every step that renders, the same sequence of sets applied to a fresh
 * tpl_vars must render the same text, through every kind of read the
 * templates have (a field, a whole root iterated, nested names, numbers),
 * with and without the `needs` selection.  Fixed seed: a failure repeats.
 *
 * usage: tpl_vars_check [MESSAGES]   exit 0 = all equal, 1 = a difference */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template.h"

static const char *const names[] = {"a",       "a.b",          "c.d",   "c.e",        "c.e.f", "x",
                                    "vars.n",  "customer.name", "customer.id", "row.k", "row.v", "today"};
enum { NNAMES = sizeof names / sizeof names[0] };

static const char *const sources[] = {
    /* fields, a name that is both a value and a prefix, nested, numbers */
    "{{ a }}|{{ a.b }}|{{ c.d }}|{{ c.e.f }}|{{ x }}|{% if vars.n == 5 %}five{% endif %}{{ vars.n | plus: 1 }}|"
    "{{ customer.name | default: 'none' }}|{{ customer.id }}|{{ row.k }}{{ row.v }}|{{ today }}",
    /* whole roots, iterated: key order and nesting */
    "{% for kv in customer %}{{ kv[0] }}={{ kv[1] }};{% endfor %}/{% for kv in c %}{{ kv[0] }};{% endfor %}"
    "/{{ row | size }}",
    /* one field only: the needs selection builds a small environment */
    "{{ customer.name }}-{{ row.k }}",
};
enum { NSOURCES = sizeof sources / sizeof sources[0] };

typedef struct {
    int name;       /* index in names */
    tpl_type type;
    char text[24];
} op;

static unsigned long long state = 0x2545F4914F6CDD1DULL;
static unsigned rnd(unsigned n)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (unsigned)(state % n);
}

static void random_op(op *o, int name)
{
    o->name = name;
    switch (rnd(6)) {
    case 0: o->type = TPL_NULL; o->text[0] = '\0'; break;
    case 1: o->type = TPL_INT; snprintf(o->text, sizeof o->text, "%u", rnd(12)); break;
    case 2: o->type = TPL_REAL; snprintf(o->text, sizeof o->text, "%u.5", rnd(9)); break;
    default:
        o->type = TPL_TEXT;
        /* lengths vary, so a value sometimes fits where the old one was */
        snprintf(o->text, sizeof o->text, "%.*s%u", (int)rnd(12), "abcdefghijklmnop", rnd(1000));
    }
}

static void apply(tpl_vars *v, const op *o)
{
    tpl_vars_set_typed(v, names[o->name], o->type, o->type == TPL_NULL ? NULL : o->text);
}

/* Every template, with the needs selection and without it (another
 * environment); a render error is part of the output. */
static void render_all(tpl *const *t, tpl_needs *const *needs, const tpl_vars *v, cc_buf *out)
{
    cc_diags diags = {0};
    for (int k = 0; k < NSOURCES; k++) {
        if (tpl_render_needs(t[k], v, needs[k], 0, NULL, NULL, out, &diags) != CC_OK) cc_buf_append(out, "!", 1);
        cc_buf_append(out, "#", 1);
        if (tpl_render_needs(t[k], v, NULL, 0, NULL, NULL, out, &diags) != CC_OK) cc_buf_append(out, "!", 1);
        cc_buf_append(out, "\n", 1);
    }
    cc_diags_free(&diags);
}

int main(int argc, char **argv)
{
    long messages = argc > 1 ? strtol(argv[1], NULL, 10) : 20000;
    cc_diags diags = {0};
    tpl *t[NSOURCES];
    tpl_needs *needs[NSOURCES];
    for (int k = 0; k < NSOURCES; k++) {
        t[k] = tpl_compile("check.liquid", 1, sources[k], &diags);
        if (!t[k]) {
            cc_diag_print(&diags, stderr);
            return 1;
        }
        needs[k] = tpl_needs_new();
        tpl_needs_add(needs[k], t[k]);
    }
    /* Three campaigns' orders; the planner sets the same names each message. */
    static const int orders[3][NNAMES] = {{7, 8, 9, 10, 6, 11, -1},
                                          {0, 1, 2, 3, 4, 5, 6, 7, -1},
                                          {11, 9, 7, 2, 4, 3, 0, -1}};
    tpl_vars reused = {0};
    op ops[4 * NNAMES];
    long differences = 0, renders = 0;
    for (long m = 0; m < messages && differences < 5; m++) {
        size_t nops = 0;
        unsigned kind = rnd(10);
        if (kind < 8) {
            const int *ord = orders[rnd(kind < 6 ? 1 : 3)];   /* long runs of one campaign, then changes */
            for (int i = 0; ord[i] >= 0; i++) random_op(&ops[nops++], ord[i]);
        } else {
            size_t n = rnd(NNAMES + 1);
            for (size_t i = 0; i < n; i++) random_op(&ops[nops++], (int)rnd(NNAMES));
        }
        if (nops && rnd(8) == 0) {   /* a name set twice */
            int again = ops[rnd((unsigned)nops)].name;
            random_op(&ops[nops++], again);
        }
        /* render after a prefix of the sets, then after all of them */
        size_t cut = rnd(4) == 0 ? rnd((unsigned)nops + 1) : nops;
        tpl_vars_clear(&reused);
        for (int pass = 0; pass < 2; pass++) {
            size_t upto = pass == 0 ? cut : nops;
            for (size_t i = pass == 0 ? 0 : cut; i < upto; i++) apply(&reused, &ops[i]);
            if (pass == 0 && cut == nops) continue;
            tpl_vars fresh = {0};
            for (size_t i = 0; i < upto; i++) apply(&fresh, &ops[i]);
            cc_buf got = CC_BUF_INIT, want = CC_BUF_INIT;
            render_all(t, needs, &reused, &got);
            render_all(t, needs, &fresh, &want);
            /* twice for the same message: the second comes from the cache */
            cc_buf again = CC_BUF_INIT;
            render_all(t, needs, &reused, &again);
            renders++;
            if (strcmp(cc_buf_str(&got), cc_buf_str(&want)) || strcmp(cc_buf_str(&again), cc_buf_str(&want))) {
                differences++;
                fprintf(stderr, "message %ld (%s): reused variables render\n%s\nthen\n%s\nfresh ones\n%s\n", m,
                        pass ? "all sets" : "after a first part", cc_buf_str(&got), cc_buf_str(&again),
                        cc_buf_str(&want));
            }
            cc_buf_free(&got);
            cc_buf_free(&want);
            cc_buf_free(&again);
            tpl_vars_free(&fresh);
        }
    }
    tpl_vars_free(&reused);
    for (int k = 0; k < NSOURCES; k++) {
        tpl_free(t[k]);
        tpl_needs_free(needs[k]);
    }
    cc_diags_free(&diags);
    printf("tpl_vars_check: %ld messages, %ld renders compared, %ld different\n", messages, renders, differences);
    return differences ? 1 : 0;
}
