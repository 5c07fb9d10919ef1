/* liquid_conformance.c - runs the Liquid conformance vectors (Shopify's
 * liquid-spec, see ../shared/conformance/liquid-spec/README.md) through
 * carecast's Liquid engine.
 *
 *   liquid_conformance DIR     every .yml file in DIR
 *
 * Prints one line per failing case ("FAIL NAME (file, complexity C): why"),
 * then "conformance: P passed, F failed, S skipped; complexity level
 * cleared: N" and the skips per out-of-scope feature.  A case is skipped
 * only for a named feature carecast does not implement (drops are Ruby
 * objects; inline errors and Shopify's resource scores are output modes
 * carecast does not use).  Exit 0 when nothing failed. */
#include <ctype.h>
#include <dirent.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "../engine/liquid.h"

/* Features outside carecast's scope, with why, and a skip count each. */
static struct {
    const char *name;
    const char *why;
    int skipped;
} out_of_scope[] = {
    {"ruby_drops", "Ruby objects with methods in the environment", 0},
    {"drops", "Liquid drops (objects that run code on access)", 0},
    {"ruby_types", "Ruby-only value types (symbols, BigDecimal)", 0},
    {"inline_errors", "errors rendered into the output instead of failing the render", 0},
    {"shopify_resource_limits", "Shopify's cumulative render-score limits", 0},
    {"lax_parsing", "Ruby's lax parser accepting malformed tags", 0},
    {"randomness", "random output", 0},
};
#define N_SCOPE (sizeof out_of_scope / sizeof *out_of_scope)

/* 2024-01-01 00:01:58 UTC: the frozen time of the vectors. */
#define SPEC_NOW 1704067318

typedef struct {
    yaml_document_t *doc;
    yaml_node_t *node;
} ynode;

static yaml_node_t *map_get(yaml_document_t *d, yaml_node_t *m, const char *key)
{
    if (!m || m->type != YAML_MAPPING_NODE) return NULL;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(d, p->key);
        if (k && k->type == YAML_SCALAR_NODE && !strcmp((char *)k->data.scalar.value, key))
            return yaml_document_get_node(d, p->value);
    }
    return NULL;
}

static const char *scalar(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int is_int_text(const char *s)
{
    if (*s == '-' || *s == '+') s++;
    if (!*s) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s) && *s != '_') return 0;
    return 1;
}

static int is_float_text(const char *s)
{
    char *end;
    if (!*s || !(isdigit((unsigned char)*s) || *s == '-' || *s == '+' || *s == '.')) return 0;
    strtod(s, &end);
    return *end == '\0' && strpbrk(s, ".eE") != NULL;
}

/* A YAML node as a Liquid value, resolving plain scalars as YAML 1.1 does. */
static lv to_lv(yaml_document_t *d, yaml_node_t *n, lv_arena *a)
{
    if (!n) return lv_nil();
    if (n->type == YAML_SCALAR_NODE) {
        const char *s = (const char *)n->data.scalar.value;
        /* libyaml gives every untagged scalar the str tag, so only the
         * style tells a quoted string from a plain number or null. */
        if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return lv_cstr(a, s);
        if (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL")) return lv_nil();
        if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) return lv_bool(1);
        if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) return lv_bool(0);
        if (is_int_text(s)) {
            char buf[64];
            size_t k = 0;
            for (const char *p = s; *p && k < sizeof buf - 1; p++)
                if (*p != '_') buf[k++] = *p;
            buf[k] = '\0';
            return lv_int(strtoll(buf, NULL, 10));
        }
        if (is_float_text(s)) return lv_float(strtod(s, NULL));
        return lv_cstr(a, s);
    }
    if (n->type == YAML_SEQUENCE_NODE) {
        size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
        lv *items = calloc(cnt + 1, sizeof *items);
        for (size_t i = 0; i < cnt; i++)
            items[i] = to_lv(d, yaml_document_get_node(d, n->data.sequence.items.start[i]), a);
        lv r = lv_array(a, items, cnt);
        free(items);
        return r;
    }
    size_t cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    const char **keys = calloc(cnt + 1, sizeof *keys);
    lv *vals = calloc(cnt + 1, sizeof *vals);
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_pair_t *p = &n->data.mapping.pairs.start[i];
        const char *k = scalar(yaml_document_get_node(d, p->key));
        keys[i] = k ? k : "";
        vals[i] = to_lv(d, yaml_document_get_node(d, p->value), a);
    }
    lv r = lv_hash_new(a, keys, vals, cnt);
    free(keys);
    free(vals);
    return r;
}

/* Does the environment need Ruby objects ("instantiate:Class" keys)? */
static int needs_instantiate(yaml_document_t *d, yaml_node_t *n)
{
    if (!n) return 0;
    if (n->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++)
            if (needs_instantiate(d, yaml_document_get_node(d, *i))) return 1;
    } else if (n->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
            const char *k = scalar(yaml_document_get_node(d, p->key));
            if (k && !strncmp(k, "instantiate:", 12)) return 1;
            if (needs_instantiate(d, yaml_document_get_node(d, p->value))) return 1;
        }
    }
    return 0;
}

/* ---- partials from the case's filesystem -------------------------------- */

typedef struct {
    yaml_document_t *doc;
    yaml_node_t *fs;
    liq_options opt;
    liq_template **cache;
    char **names;
    size_t n;
} fsys;

static const liq_template *load(void *arg, const char *name, liq_error *err)
{
    fsys *f = arg;
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->names[i], name)) return f->cache[i];
    const char *src = scalar(map_get(f->doc, f->fs, name));
    if (!src) {
        char *with_ext = malloc(strlen(name) + 8);
        snprintf(with_ext, strlen(name) + 8, "%s.liquid", name);
        src = scalar(map_get(f->doc, f->fs, with_ext));
        free(with_ext);
    }
    if (!src) return NULL;
    liq_template *t = liq_parse(name, 1, src, &f->opt, err);
    if (!t) return NULL;
    f->cache = realloc(f->cache, (f->n + 1) * sizeof *f->cache);
    f->names = realloc(f->names, (f->n + 1) * sizeof *f->names);
    f->cache[f->n] = t;
    f->names[f->n++] = strdup(name);
    return t;
}

static void fsys_free(fsys *f)
{
    for (size_t i = 0; i < f->n; i++) {
        liq_free(f->cache[i]);
        free(f->names[i]);
    }
    free(f->cache);
    free(f->names);
}

/* ---- checks ------------------------------------------------------------- */

static int contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (!strncasecmp(hay, needle, n)) return 1;
    return n == 0;
}

/* The vectors' patterns are Ruby regexes; POSIX ERE lacks \d and (?m). */
static int pattern_matches(const char *pat, const char *text)
{
    cc_buf b = CC_BUF_INIT;
    const char *p = pat;
    if (!strncmp(p, "(?m)", 4)) p += 4;
    for (; *p; p++) {
        if (p[0] == '\\' && p[1] == 'd') {
            cc_buf_puts(&b, "[0-9]");
            p++;
        } else {
            cc_buf_putc(&b, *p);
        }
    }
    regex_t re;
    int ok = 0;
    if (regcomp(&re, cc_buf_str(&b), REG_EXTENDED | REG_NOSUB) == 0) {
        /* Ruby's . in (?m) mode matches newlines: match line-joined text */
        char *flat = strdup(text);
        for (char *q = flat; *q; q++)
            if (*q == '\n') *q = ' ';
        ok = regexec(&re, flat, 0, NULL, 0) == 0;
        free(flat);
        regfree(&re);
    }
    cc_buf_free(&b);
    return ok;
}

typedef struct {
    int passed, failed, skipped;
    int min_fail;     /* lowest complexity that failed */
    int max_seen;
} totals;

static void fail(totals *t, const char *file, const char *name, int cx, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void fail(totals *t, const char *file, const char *name, int cx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("FAIL %s (%s, complexity %d): ", name, file, cx);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    t->failed++;
    if (t->min_fail < 0 || cx < t->min_fail) t->min_fail = cx;
}

static void one_line(const char *s, char *out, size_t n)
{
    size_t k = 0;
    for (; *s && k + 1 < n; s++) out[k++] = *s == '\n' ? '|' : *s;
    out[k] = '\0';
}

static void run_case(yaml_document_t *d, yaml_node_t *c, const char *file, yaml_node_t *file_features, totals *t)
{
    const char *name = scalar(map_get(d, c, "name"));
    const char *src = scalar(map_get(d, c, "template"));
    const char *cxs = scalar(map_get(d, c, "complexity"));
    int cx = cxs ? atoi(cxs) : 0;
    if (!name) name = "?";
    if (!src) src = "";
    if (cx > t->max_seen) t->max_seen = cx;

    /* skips for named features */
    yaml_node_t *lists[2] = {map_get(d, c, "features"), file_features};
    for (int l = 0; l < 2; l++) {
        yaml_node_t *f = lists[l];
        if (!f || f->type != YAML_SEQUENCE_NODE) continue;
        for (yaml_node_item_t *i = f->data.sequence.items.start; i < f->data.sequence.items.top; i++) {
            const char *fn = scalar(yaml_document_get_node(d, *i));
            for (size_t k = 0; fn && k < N_SCOPE; k++)
                if (!strcmp(fn, out_of_scope[k].name)) {
                    out_of_scope[k].skipped++;
                    t->skipped++;
                    return;
                }
        }
    }
    yaml_node_t *re = map_get(d, c, "render_errors");
    if (re && scalar(re) && !strcmp(scalar(re), "true")) {
        out_of_scope[3].skipped++;  /* inline_errors */
        t->skipped++;
        return;
    }
    if (needs_instantiate(d, map_get(d, c, "environment"))) {
        out_of_scope[0].skipped++;  /* ruby_drops: objects built by class name */
        t->skipped++;
        return;
    }

    liq_options opt = {0, 0};
    yaml_node_t *mode = map_get(d, c, "error_mode");
    if (scalar(mode) && !strcmp(scalar(mode), "lax")) opt.lax = 1;

    yaml_node_t *errors = map_get(d, c, "errors");
    yaml_node_t *perr = map_get(d, errors, "parse_error");
    yaml_node_t *rerr = map_get(d, errors, "render_error");
    const char *want_line = scalar(map_get(d, errors, "line"));
    const char *expected = scalar(map_get(d, c, "expected"));
    const char *pattern = scalar(map_get(d, c, "expected_pattern"));

    lv_arena *a = lv_arena_new(0);
    fsys fs = {d, map_get(d, c, "filesystem"), opt, NULL, NULL, 0};
    liq_error err = {0};
    liq_template *tp = liq_parse("template", 1, src, &opt, &err);
    cc_buf out = CC_BUF_INIT;
    int rendered = 0, rc = 0;
    if (tp) {
        liq_render_opts ro;
        memset(&ro, 0, sizeof ro);
        ro.env = to_lv(d, map_get(d, c, "environment"), a);
        ro.now = SPEC_NOW;
        ro.zone = NULL;
        ro.load_partial = load;
        ro.load_arg = &fs;
        rc = liq_render(tp, &ro, &out, &err);
        rendered = 1;
    }
    char msg[600];
    if (err.msg) {
        char tmp[500];
        one_line(err.msg, tmp, sizeof tmp);
        snprintf(msg, sizeof msg, "%s line %d: %s", err.file ? err.file : "", err.line, tmp);
    } else {
        msg[0] = '\0';
    }
    char got[300];
    one_line(cc_buf_str(&out), got, sizeof got);

    yaml_node_t *want_errs = perr ? perr : rerr;
    if (want_errs) {
        int ok_kind = perr ? !tp : (tp && rc != 0);
        if (!ok_kind) {
            fail(t, file, name, cx, "expected a %s error, got %s", perr ? "parse" : "render",
                 !tp ? msg : rc ? msg : got);
            goto done;
        }
        if (want_errs->type == YAML_SEQUENCE_NODE)
            for (yaml_node_item_t *i = want_errs->data.sequence.items.start; i < want_errs->data.sequence.items.top; i++) {
                const char *w = scalar(yaml_document_get_node(d, *i));
                if (w && !contains_ci(msg, w)) {
                    fail(t, file, name, cx, "error lacks '%s': %s", w, msg);
                    goto done;
                }
            }
        if (want_line && err.line != atoi(want_line)) {
            fail(t, file, name, cx, "error on line %d, expected line %s: %s", err.line, want_line, msg);
            goto done;
        }
        t->passed++;
        goto done;
    }
    if (!tp) {
        fail(t, file, name, cx, "parse error: %s", msg);
        goto done;
    }
    if (rendered && rc != 0) {
        fail(t, file, name, cx, "render error: %s", msg);
        goto done;
    }
    if (pattern) {
        if (!pattern_matches(pattern, cc_buf_str(&out))) {
            fail(t, file, name, cx, "output '%s' does not match /%s/", got, pattern);
            goto done;
        }
    } else if (expected && strcmp(expected, cc_buf_str(&out)) != 0) {
        char want[300];
        one_line(expected, want, sizeof want);
        fail(t, file, name, cx, "got '%s', expected '%s'", got, want);
        goto done;
    }
    t->passed++;
done:
    liq_error_clear(&err);
    liq_free(tp);
    fsys_free(&fs);
    cc_buf_free(&out);
    lv_arena_free(a);
}

static int by_name(const void *x, const void *y) { return strcmp(*(char *const *)x, *(char *const *)y); }

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "../shared/conformance/liquid-spec";
    DIR *dp = opendir(dir);
    if (!dp) {
        fprintf(stderr, "liquid_conformance: cannot open %s\n", dir);
        return 2;
    }
    char **files = NULL;
    size_t nf = 0;
    struct dirent *e;
    while ((e = readdir(dp))) {
        size_t l = strlen(e->d_name);
        if (l > 4 && !strcmp(e->d_name + l - 4, ".yml")) {
            files = realloc(files, (nf + 1) * sizeof *files);
            files[nf++] = strdup(e->d_name);
        }
    }
    closedir(dp);
    qsort(files, nf, sizeof *files, by_name);
    totals t = {0, 0, 0, -1, 0};
    for (size_t i = 0; i < nf; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        FILE *fp = fopen(path, "rb");
        if (!fp) {
            fprintf(stderr, "liquid_conformance: cannot read %s\n", path);
            return 2;
        }
        yaml_parser_t parser;
        yaml_document_t doc;
        yaml_parser_initialize(&parser);
        yaml_parser_set_input_file(&parser, fp);
        if (!yaml_parser_load(&parser, &doc)) {
            fprintf(stderr, "liquid_conformance: %s: YAML error: %s\n", path, parser.problem);
            return 2;
        }
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        yaml_node_t *specs = map_get(&doc, root, "specs");
        yaml_node_t *meta = map_get(&doc, root, "_metadata");
        yaml_node_t *ff = map_get(&doc, meta, "features");
        if (!specs && root && root->type == YAML_SEQUENCE_NODE) specs = root;
        if (specs && specs->type == YAML_SEQUENCE_NODE)
            for (yaml_node_item_t *it = specs->data.sequence.items.start; it < specs->data.sequence.items.top; it++)
                run_case(&doc, yaml_document_get_node(&doc, *it), files[i], ff, &t);
        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);
        fclose(fp);
        free(files[i]);
    }
    free(files);
    int level = t.min_fail >= 0 ? t.min_fail : 1000;
    printf("conformance: %d passed, %d failed, %d skipped; complexity level cleared: %d%s\n", t.passed, t.failed,
           t.skipped, level, t.min_fail >= 0 ? "" : " (every level)");
    for (size_t k = 0; k < N_SCOPE; k++)
        if (out_of_scope[k].skipped)
            printf("  skipped %d for %s: %s\n", out_of_scope[k].skipped, out_of_scope[k].name, out_of_scope[k].why);
    return t.failed ? 1 : 0;
}
