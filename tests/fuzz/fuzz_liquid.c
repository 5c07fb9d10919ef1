/* fuzz_liquid.c - libFuzzer harness for the Liquid engine: liq_parse()
 * (engine/liquid_parse.c), liq_each_path() and liq_render() with the
 * standard filters (engine/liquid_render.c, engine/liquid_filters.c).
 *
 * The first input byte picks the parser options (strict or lax, unknown
 * filters refused or passed) and HTML escaping; the rest is the template.
 * It renders against a customer-like hash, with partials: `render 'self'`
 * renders the input again (depth-bounded), any other name is a small fixed
 * partial.  Limits are lower than the defaults so one input stays quick;
 * hitting a limit is an error, never a crash.  Invariants: a failed parse or
 * render says why and where; a render stays within its output limit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "liquid.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static lv_arena *env_arena;
static lv env;
static liq_template *fixed_partial;

#define MAX_OUTPUT (1u << 20)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    env_arena = lv_arena_new(0);
    lv_arena *a = env_arena;
    const char *okeys[] = {"id", "amount", "ordered_at", "items"};
    lv items[] = {lv_cstr(a, "伞"), lv_cstr(a, "tea"), lv_int(3)};
    lv o1[] = {lv_int(1), lv_float(5200.5), lv_cstr(a, "2026-06-01"), lv_array(a, items, 3)};
    lv o2[] = {lv_int(2), lv_int(-3), lv_cstr(a, "2025-01-31 10:00:00"), lv_array(a, NULL, 0)};
    lv orders[] = {lv_hash_new(a, okeys, o1, 4), lv_hash_new(a, okeys, o2, 4)};
    const char *ckeys[] = {"id", "first_name", "name", "email", "birth_date", "points", "vip", "city", "none"};
    lv cvals[] = {lv_cstr(a, "c1"), lv_cstr(a, "Lei"), lv_cstr(a, "李雷 <Li>"), lv_cstr(a, "li@example.com"),
                  lv_cstr(a, "1990-02-28"), lv_float(12.5), lv_bool(1), lv_cstr(a, "Hangzhou & Co"), lv_nil()};
    const char *rkeys[] = {"customer", "orders", "today", "campaign", "n", "tags"};
    lv tags[] = {lv_cstr(a, "b"), lv_cstr(a, "a"), lv_cstr(a, ""), lv_nil()};
    lv rvals[] = {lv_hash_new(a, ckeys, cvals, 9), lv_array(a, orders, 2), lv_cstr(a, "2026-12-01"),
                  lv_cstr(a, "birthday"), lv_int(7), lv_array(a, tags, 4)};
    env = lv_hash_new(a, rkeys, rvals, 6);
    liq_error err = {0};
    liq_options opt = {0};
    fixed_partial = liq_parse("partial", 1, "Hi {{ customer.first_name | default: 'there' }}{% for t in tags %}{{ t }}{% endfor %}",
                              &opt, &err);
    if (!fixed_partial) {
        fprintf(stderr, "fuzz_liquid: the fixed partial does not parse: %s\n", err.msg);
        abort();
    }
    return 0;
}

static const liq_template *self_template;

/* liq_each_path() reports what a template reads; lint prints it, the
 * harness only makes it walk the tree. */
static void on_path(void *arg, const char *path, int line, int col)
{
    if (!path || line < 0 || col < 0) abort();
    ++*(size_t *)arg;
}

static void on_partial(void *arg, const char *name, int line, int col)
{
    if (!name || line < 0 || col < 0) abort();
    ++*(size_t *)arg;
}

static const liq_template *load_partial(void *arg, const char *name, liq_error *err)
{
    (void)arg;
    (void)err;
    return strcmp(name, "self") == 0 ? self_template : fixed_partial;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size < 1) return 0;
    unsigned mode = data[0];
    char *src = xstrndup((const char *)data + 1, size - 1);
    liq_options opt = {.lax = mode & 1, .unknown_filters_ok = (mode >> 1) & 1};
    liq_error err = {0};
    liq_template *t = liq_parse("fuzz.liquid", 1, src, &opt, &err);
    if (!t) {
        if (!err.msg) {
            fprintf(stderr, "fuzz_liquid: parse failed without a message\n");
            abort();
        }
        liq_error_clear(&err);
        free(src);
        return 0;
    }
    size_t seen = 0;
    liq_each_path(t, on_path, on_partial, &seen);
    self_template = t;
    liq_render_opts ro = {0};
    ro.env = env;
    ro.html_escape = (mode >> 2) & 1;
    ro.now = 1795000000;
    ro.zone = (mode >> 3) & 1 ? "Asia/Shanghai" : NULL;
    ro.limits.max_iterations = 20000;
    ro.limits.max_depth = 8;
    ro.limits.max_output = MAX_OUTPUT;
    ro.limits.max_memory = 32u << 20;
    ro.load_partial = load_partial;
    cc_buf out = CC_BUF_INIT;
    int rc = liq_render(t, &ro, &out, &err);
    if (rc != 0 && !err.msg) {
        fprintf(stderr, "fuzz_liquid: render failed without a message\n");
        abort();
    }
    if (out.len > MAX_OUTPUT + 4096) {
        fprintf(stderr, "fuzz_liquid: %zu bytes of output past a limit of %u\n", out.len, MAX_OUTPUT);
        abort();
    }
    liq_error_clear(&err);
    cc_buf_free(&out);
    liq_free(t);
    free(src);
    return 0;
}
