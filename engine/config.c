/* config.c - loads and checks etc/carecast.yaml (see config.h).
 *
 * The accepted keys are tables of {name, type, offset} below, one per
 * section, so adding a setting is one line and the "unknown key" message can
 * list what is allowed.  Secrets are read from the environment or a file at
 * load time and exist only in memory. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "clock.h"
#include "csv_import.h"
#include "liquid.h"
#include "serve.h"
#include "ydoc.h"

typedef enum { F_STR, F_INT, F_BOOL, F_NUM, F_DURATION, F_SECRET, F_PATH, F_HEADERS } field_type;

typedef struct {
    const char *key;
    field_type type;
    size_t off;
} field;

typedef struct {
    const char *file;
    cc_diags *diags;
    cc_config *cfg;
} loader;

#define CFG(f) offsetof(cc_config, f)
#define TR(f) offsetof(cc_transport_config, f)

static const field top_fields[] = {
    {"database", F_PATH, CFG(database)},   {"timezone", F_STR, CFG(timezone)},
    {"rules", F_PATH, CFG(rules)},         {"templates", F_PATH, CFG(templates)},
    {"outbox_dir", F_PATH, CFG(outbox_dir)}, {NULL, 0, 0}};

static const field customer_fields[] = {
    {"table", F_STR, CFG(customers.table)},
    {"id", F_STR, CFG(customers.id)},
    {"email", F_STR, CFG(customers.email)},
    {"phone", F_STR, CFG(customers.phone)},
    {"birth_date", F_STR, CFG(customers.birth_date)},
    {"locale", F_STR, CFG(customers.locale)},
    {"timezone", F_STR, CFG(customers.timezone)},
    {"email_opt_in", F_STR, CFG(customers.email_opt_in)},
    {"sms_opt_in", F_STR, CFG(customers.sms_opt_in)},
    {"preferred_channel", F_STR, CFG(customers.preferred_channel)},
    {"default_country", F_STR, CFG(customers.default_country)},
    {NULL, 0, 0}};

static const field sender_fields[] = {{"name", F_STR, CFG(sender.name)},
                                      {"email", F_STR, CFG(sender.email)},
                                      {"reply_to", F_STR, CFG(sender.reply_to)},
                                      {NULL, 0, 0}};

static const field transport_fields[] = {
    {"type", F_STR, TR(type)},
    {"host", F_STR, TR(host)},
    {"port", F_INT, TR(port)},
    {"tls", F_STR, TR(tls)},
    {"verify", F_BOOL, TR(verify)},
    {"url", F_STR, TR(url)},
    {"username", F_STR, TR(username)},
    {"password", F_SECRET, TR(password)},
    {"from", F_STR, TR(from)},
    {"account_sid", F_STR, TR(account_sid)},
    {"token", F_SECRET, TR(token)},
    {"messaging_service_sid", F_STR, TR(messaging_service_sid)},
    {"body", F_STR, TR(body)},
    {"headers", F_HEADERS, TR(headers)},
    {"connections", F_INT, TR(connections)},
    {"rate", F_NUM, TR(rate)},
    {"timeout", F_DURATION, TR(timeout_s)},
    {"max_attempts", F_INT, TR(max_attempts)},
    {"max_age", F_DURATION, TR(max_age_s)},
    {"lease", F_DURATION, TR(lease_s)},
    {NULL, 0, 0}};

static const field sms_fields[] = {{"signature", F_STR, CFG(sms.signature)},
                                   {"max_segments", F_INT, CFG(sms.max_segments)},
                                   {NULL, 0, 0}};

static const field unsubscribe_fields[] = {{"url", F_STR, CFG(unsubscribe.url)},
                                           {"secret", F_SECRET, CFG(unsubscribe.secret)},
                                           {NULL, 0, 0}};

static const field serve_fields[] = {{"listen", F_STR, CFG(serve.listen)},
                                     {"public_url", F_STR, CFG(serve.public_url)},
                                     {"secret", F_SECRET, CFG(serve.secret)},
                                     {NULL, 0, 0}};

static void err_at(loader *l, const ynode *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void err_at(loader *l, const ynode *n, const char *fmt, ...)
{
    cc_buf b = CC_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    cc_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    cc_diag(l->diags, l->file, n ? n->line : 0, n ? n->col : 0, "error: %s", cc_buf_str(&b));
    cc_buf_free(&b);
}

static void set_str(char **slot, const char *v)
{
    free(*slot);
    *slot = xstrdup(v);
}

/* Read a secret named by `key_env` / `key_file`.  The value is never echoed
 * in messages: only the variable or file name is. */
static void load_secret(loader *l, const char *section, const ynode *keynode, const char *base,
                        const ynode *v, int is_file, char **slot)
{
    cc_config *cfg = l->cfg;
    if (v->kind != YN_SCALAR || !v->value[0]) {
        err_at(l, v, "'%s' must name %s", keynode->value,
               is_file ? "a file" : "an environment variable");
        return;
    }
    if (!is_file) {
        const char *val = getenv(v->value);
        /* A missing variable is not an error at load time: commands that
         * need the secret say so when they need it, at this place. */
        if (val && *val) {
            set_str(slot, val);
        } else if (cfg) {
            cfg->unset_secrets = xrealloc(cfg->unset_secrets, (cfg->n_unset_secrets + 1) * sizeof *cfg->unset_secrets);
            cc_unset_secret *u = &cfg->unset_secrets[cfg->n_unset_secrets++];
            u->key = xasprintf("%s.%s", section, keynode->value);
            u->var = xstrdup(v->value);
            u->line = v->line;
            u->col = v->col;
        }
        return;
    }
    char *path = v->value[0] == '/' ? xstrdup(v->value) : xasprintf("%s/%s", base, v->value);
    size_t len = 0;
    char *text = cc_read_file(path, &len);
    if (!text) {
        err_at(l, v, "cannot read secret file '%s': %s", path, strerror(errno));
        free(path);
        return;
    }
    free(path);
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r')) text[--len] = '\0';
    free(*slot);
    *slot = text;
}

/* headers: {Name: value, ...} for http-json.  Names are HTTP tokens and
 * values hold no line breaks, so the config cannot smuggle a header or a
 * request into what libcurl sends. */
static void load_headers(loader *l, const ynode *keynode, const ynode *v, cc_transport_config *tc)
{
    if (v->kind != YN_MAP) {
        err_at(l, v, "'%s' must be a map of header names to values", keynode->value);
        return;
    }
    for (size_t i = 0; i < v->n; i++) {
        const ynode *hk = v->keys[i], *hv = v->items[i];
        int name_ok = hk->value[0] != '\0';
        for (const char *p = hk->value; *p; p++)
            if (!isalnum((unsigned char)*p) && !strchr("!#$%&'*+-.^_`|~", *p)) name_ok = 0;
        if (!name_ok) {
            err_at(l, hk, "'%s' is not an HTTP header name", hk->value);
            continue;
        }
        if (hv->kind != YN_SCALAR || strpbrk(hv->value, "\r\n")) {
            err_at(l, hv, "the value of header '%s' must be one line of text", hk->value);
            continue;
        }
        tc->headers = xrealloc(tc->headers, (tc->n_headers + 1) * sizeof *tc->headers);
        tc->headers[tc->n_headers++] = xasprintf("%s: %s", hk->value, hv->value);
    }
}

/* An address as From and Reply-To need it: one '@', something before
 * it, a dotted domain after it, no blanks, quotes or angle brackets. */
static int plain_address(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || at == s || strchr(at + 1, '@') || !strchr(at + 1, '.') || at[1] == '.') return 0;
    size_t n = strlen(s);
    if (s[n - 1] == '.') return 0;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || strchr("\"<>(),;:[]\\", *p)) return 0;
    return 1;
}

/* http:// or https:// and a host, with no blanks or control characters
 * (the value ends up in requests and in links sent to customers). */
static int web_url(const char *s)
{
    const char *rest = !strncasecmp(s, "http://", 7) ? s + 7 : !strncasecmp(s, "https://", 8) ? s + 8 : NULL;
    if (!rest || !*rest || *rest == '/') return 0;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f) return 0;
    return 1;
}

static int parse_int(const char *s, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

static void load_fields(loader *l, const ynode *map, const field *fields, void *base_ptr,
                        const char *section, const char *base_dir)
{
    if (map->kind != YN_MAP) {
        err_at(l, map, "'%s' must be a map", section);
        return;
    }
    for (size_t i = 0; i < map->n; i++) {
        const ynode *k = map->keys[i], *v = map->items[i];
        const field *f = NULL;
        int secret_file = 0;
        for (const field *g = fields; g->key; g++) {
            size_t kl = strlen(g->key);
            if (g->type == F_SECRET) {
                if (strncmp(k->value, g->key, kl) == 0 &&
                    (strcmp(k->value + kl, "_env") == 0 || strcmp(k->value + kl, "_file") == 0)) {
                    f = g;
                    secret_file = strcmp(k->value + kl, "_file") == 0;
                    break;
                }
                if (strcmp(k->value, g->key) == 0) {
                    err_at(l, k,
                           "secrets do not belong in the config file: use '%s_env: VARIABLE' or "
                           "'%s_file: PATH'",
                           g->key, g->key);
                    f = g;
                    secret_file = -1;
                    break;
                }
            } else if (strcmp(k->value, g->key) == 0) {
                f = g;
                break;
            }
        }
        if (!f) {
            cc_buf allowed = CC_BUF_INIT;
            for (const field *g = fields; g->key; g++) {
                if (allowed.len) cc_buf_puts(&allowed, ", ");
                cc_buf_puts(&allowed, g->key);
                if (g->type == F_SECRET) cc_buf_puts(&allowed, "_env, ");
                if (g->type == F_SECRET) cc_buf_printf(&allowed, "%s_file", g->key);
            }
            err_at(l, k, "unknown key '%s' in %s (allowed: %s)", k->value, section,
                   cc_buf_str(&allowed));
            cc_buf_free(&allowed);
            continue;
        }
        if (secret_file < 0) continue;
        if (l->cfg && v->kind == YN_SCALAR) {
            cc_config *cfg = l->cfg;
            cfg->locs = xrealloc(cfg->locs, (cfg->n_locs + 1) * sizeof *cfg->locs);
            cc_key_loc *kl = &cfg->locs[cfg->n_locs++];
            kl->key = strcmp(section, "the configuration") ? xasprintf("%s.%s", section, k->value) : xstrdup(k->value);
            kl->line = v->line;
            kl->col = v->col;
        }
        void *slot = (char *)base_ptr + f->off;
        if (f->type == F_HEADERS) {
            load_headers(l, k, v, (cc_transport_config *)base_ptr);
            continue;
        }
        if (v->kind != YN_SCALAR) {
            err_at(l, v, "'%s' must be a single value, not %s", k->value, ydoc_kind_name(v->kind));
            continue;
        }
        switch (f->type) {
        case F_STR:
        case F_PATH:
            if (ydoc_is_null(v)) break;
            set_str((char **)slot, v->value);
            break;
        case F_SECRET:
            load_secret(l, section, k, base_dir, v, secret_file, (char **)slot);
            break;
        case F_INT: {
            long n;
            if (parse_int(v->value, &n) != 0 || n < 0 || n > 1000000000) {
                err_at(l, v, "'%s' must be a whole number, not '%s'", k->value, v->value);
                break;
            }
            *(int *)slot = (int)n;
            break;
        }
        case F_NUM: {
            char *end = NULL;
            double d = strtod(v->value, &end);
            if (end == v->value || *end || d < 0) {
                err_at(l, v, "'%s' must be a number, not '%s'", k->value, v->value);
                break;
            }
            *(double *)slot = d;
            break;
        }
        case F_BOOL:
            if (strcmp(v->value, "true") == 0 || strcmp(v->value, "yes") == 0)
                *(int *)slot = 1;
            else if (strcmp(v->value, "false") == 0 || strcmp(v->value, "no") == 0)
                *(int *)slot = 0;
            else
                err_at(l, v, "'%s' must be true or false, not '%s'", k->value, v->value);
            break;
        case F_HEADERS:
            break; /* handled above */
        case F_DURATION: {
            int64_t secs;
            if (cc_parse_duration(v->value, &secs) != 0) {
                err_at(l, v,
                       "'%s' must be a duration such as '30 seconds', '10 minutes', '2 days', "
                       "not '%s'",
                       k->value, v->value);
                break;
            }
            *(int64_t *)slot = secs;
            break;
        }
        }
    }
}

static const char *const transport_types_email[] = {"smtp", "file", NULL};
static const char *const transport_types_sms[] = {"kannel", "twilio", "http-json", "file", NULL};

static void load_transport(loader *l, const ynode *node, cc_transport_config *tc,
                           const char *channel, const char *base_dir)
{
    tc->line = node->line;
    tc->col = node->col;
    load_fields(l, node, transport_fields, tc, channel[0] == 'e' ? "transports.email" : "transports.sms",
                base_dir);
    if (node->kind != YN_MAP) return;
    const ynode *t = ydoc_get(node, "type");
    const char *const *types = channel[0] == 'e' ? transport_types_email : transport_types_sms;
    if (!t) {
        err_at(l, node, "transports.%s needs a 'type'", channel);
        return;
    }
    int found = 0;
    for (const char *const *p = types; *p; p++) found |= cc_streq(*p, tc->type);
    if (!found) {
        cc_buf b = CC_BUF_INIT;
        for (const char *const *p = types; *p; p++) cc_buf_printf(&b, "%s%s", p == types ? "" : ", ", *p);
        err_at(l, t, "unknown %s transport type '%s' (one of: %s)", channel, tc->type ? tc->type : "",
               cc_buf_str(&b));
        cc_buf_free(&b);
    }
    const ynode *tls = ydoc_get(node, "tls");
    if (tls && tc->tls && !cc_streq(tc->tls, "none") && !cc_streq(tc->tls, "starttls") &&
        !cc_streq(tc->tls, "tls"))
        err_at(l, tls, "tls must be none, starttls or tls, not '%s'", tc->tls);
    if (cc_streq(tc->type, "smtp") && !tc->host) err_at(l, node, "transports.%s (smtp) needs a 'host'", channel);
    if ((cc_streq(tc->type, "kannel") || cc_streq(tc->type, "http-json")) && !tc->url)
        err_at(l, node, "transports.%s (%s) needs a 'url'", channel, tc->type);
    if (cc_streq(tc->type, "twilio")) {
        if (!tc->account_sid) err_at(l, node, "transports.%s (twilio) needs an 'account_sid'", channel);
        if (!tc->from && !tc->messaging_service_sid)
            err_at(l, node, "transports.%s (twilio) needs 'from' or 'messaging_service_sid'", channel);
    }
    /* The http-json body is a Liquid template: a syntax error in it is
     * the file's, at its place, not a failure of every send. */
    const ynode *bn = ydoc_get(node, "body");
    if (bn && bn->kind == YN_SCALAR && tc->body) {
        liq_error le = {0};
        liq_options lo = {0, 0};
        liq_template *lt = liq_parse(l->file, 1, tc->body, &lo, &le);
        if (!lt) {
            int line = bn->line + (le.line > 1 ? le.line - 1 : 0);
            int col = le.line > 1 ? le.col : bn->col + (bn->quoted ? 1 : 0) + (le.col > 0 ? le.col - 1 : 0);
            cc_diag(l->diags, l->file, line, col, "error: transports.%s.body: %s", channel, le.msg);
            liq_error_clear(&le);
        }
        liq_free(lt);
    }
    /* Zero connections or attempts would leave every message waiting. */
    static const char *const at_least_one[] = {"connections", "max_attempts"};
    for (int a = 0; a < 2; a++) {
        const ynode *an = ydoc_get(node, at_least_one[a]);
        long av = -1;
        if (an && an->kind == YN_SCALAR && parse_int(an->value, &av) == 0 && av == 0)
            err_at(l, an, "'%s' must be at least 1", at_least_one[a]);
    }
    /* A lease of nothing would let any other sender take every message
     * the moment it was claimed. */
    const ynode *ln = ydoc_get(node, "lease");
    if (ln && ln->kind == YN_SCALAR && tc->lease_s < 1) err_at(l, ln, "'lease' must be at least 1 second");
    const ynode *un = ydoc_get(node, "url");
    if (un && un->kind == YN_SCALAR && tc->url && !web_url(tc->url))
        err_at(l, un, "'url' must be an http:// or https:// URL, not '%s'", tc->url);
    /* A port is 1-65535: 0 or 70000 would only fail at the first send. */
    const ynode *pn = ydoc_get(node, "port");
    long pv = 0;
    if (pn && pn->kind == YN_SCALAR && parse_int(pn->value, &pv) == 0 && pv >= 0 && pv <= 1000000000 &&
        (pv < 1 || pv > 65535))
        err_at(l, pn, "'port' must be a port number (1-65535), not '%s'", pn->value);
    if (tc->n_headers && !cc_streq(tc->type, "http-json"))
        err_at(l, ydoc_get(node, "headers"), "'headers' is only for the http-json transport");
}

static int valid_cap(const char *s)
{
    /* "N per day|week|month" */
    const char *p = s;
    if (!isdigit((unsigned char)*p)) return 0;
    while (isdigit((unsigned char)*p)) p++;
    return strcmp(p, " per day") == 0 || strcmp(p, " per week") == 0 || strcmp(p, " per month") == 0;
}

static void load_caps(loader *l, const ynode *list, char ***out, size_t *n)
{
    if (list->kind != YN_SEQ) {
        err_at(l, list, "caps must be a list such as [\"1 per day\", \"3 per week\"]");
        return;
    }
    for (size_t i = 0; i < list->n; i++) {
        const ynode *v = list->items[i];
        if (v->kind != YN_SCALAR || !valid_cap(v->value)) {
            err_at(l, v, "a cap is written 'N per day', 'N per week' or 'N per month'");
            continue;
        }
        *out = xrealloc(*out, (*n + 1) * sizeof **out);
        (*out)[(*n)++] = xstrdup(v->value);
    }
}

static int valid_hhmm(const char *s, size_t len)
{
    return len == 5 && isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) && s[2] == ':' &&
           isdigit((unsigned char)s[3]) && isdigit((unsigned char)s[4]) &&
           (s[0] - '0') * 10 + (s[1] - '0') < 24 && (s[3] - '0') * 10 + (s[4] - '0') < 60;
}

static void load_policy(loader *l, cc_config *cfg, const ynode *node)
{
    if (node->kind != YN_MAP) {
        err_at(l, node, "'policy' must be a map");
        return;
    }
    for (size_t i = 0; i < node->n; i++) {
        const ynode *k = node->keys[i], *v = node->items[i];
        if (strcmp(k->value, "quiet_hours") == 0) {
            if (v->kind != YN_SCALAR || strlen(v->value) != 11 || v->value[5] != '-' ||
                !valid_hhmm(v->value, 5) || !valid_hhmm(v->value + 6, 5)) {
                err_at(l, v, "quiet_hours is written \"HH:MM-HH:MM\", e.g. \"21:00-08:00\"");
                continue;
            }
            if (strncmp(v->value, v->value + 6, 5) == 0) {
                /* Empty or the whole day: either way not what was meant. */
                err_at(l, v, "quiet_hours starts and ends at the same time (%.5s); write the period, e.g. \"21:00-08:00\"",
                       v->value);
                continue;
            }
            set_str(&cfg->policy.quiet_hours, v->value);
        } else if (strcmp(k->value, "caps") == 0) {
            if (v->kind != YN_MAP) {
                err_at(l, v, "'caps' must be a map with 'marketing' and/or 'all'");
                continue;
            }
            for (size_t j = 0; j < v->n; j++) {
                const char *ck = v->keys[j]->value;
                if (strcmp(ck, "marketing") == 0)
                    load_caps(l, v->items[j], &cfg->policy.caps_marketing, &cfg->policy.n_caps_marketing);
                else if (strcmp(ck, "all") == 0)
                    load_caps(l, v->items[j], &cfg->policy.caps_all, &cfg->policy.n_caps_all);
                else
                    err_at(l, v->keys[j], "unknown key '%s' in policy.caps (allowed: marketing, all)", ck);
            }
        } else if (strcmp(k->value, "coverage") == 0) {
            /* {segment: {label: "N per month"}} - checked here, used by report. */
            if (v->kind != YN_MAP) {
                err_at(l, v, "'coverage' must be a map of segment name to {label: \"N per month\"}");
                continue;
            }
            for (size_t j = 0; j < v->n; j++) {
                const ynode *m = v->items[j];
                if (m->kind != YN_MAP) {
                    err_at(l, m, "coverage for '%s' must be a map of label to \"N per month\"",
                           v->keys[j]->value);
                    continue;
                }
                for (size_t q = 0; q < m->n; q++) {
                    const char *rule = m->items[q]->value;
                    if (m->items[q]->kind != YN_SCALAR || !valid_cap(rule)) {
                        err_at(l, m->items[q], "coverage is written 'N per day', 'N per week' or 'N per month'");
                        continue;
                    }
                    cfg->policy.coverage = xrealloc(cfg->policy.coverage,
                                                    (cfg->policy.n_coverage + 1) * sizeof *cfg->policy.coverage);
                    cc_coverage_rule *cr = &cfg->policy.coverage[cfg->policy.n_coverage++];
                    cr->segment = xstrdup(v->keys[j]->value);
                    cr->label = xstrdup(m->keys[q]->value);
                    cr->rule = xstrdup(rule);
                    cr->n = atoi(rule);
                    const char *per = strstr(rule, " per ") + 5;
                    cr->window_s = !strcmp(per, "day") ? 86400 : !strcmp(per, "week") ? 7 * 86400 : 30 * 86400;
                }
            }
        } else {
            err_at(l, k, "unknown key '%s' in policy (allowed: quiet_hours, caps, coverage)", k->value);
        }
    }
}

static void load_sms(loader *l, cc_config *cfg, const ynode *node, const char *base_dir)
{
    if (node->kind != YN_MAP) {
        err_at(l, node, "'sms' must be a map");
        return;
    }
    /* opt_out is a map by language; the rest are plain fields. */
    ynode copy = *node;
    size_t kept = 0;
    ynode **keys = xcalloc(node->n, sizeof *keys), **items = xcalloc(node->n, sizeof *items);
    for (size_t i = 0; i < node->n; i++) {
        const ynode *k = node->keys[i], *v = node->items[i];
        if (strcmp(k->value, "opt_out") != 0) {
            keys[kept] = node->keys[i];
            items[kept++] = node->items[i];
            continue;
        }
        if (v->kind != YN_MAP) {
            err_at(l, v, "'opt_out' must be a map of language to text, e.g. {zh: 回T退订, en: Reply STOP to opt out}");
            continue;
        }
        for (size_t j = 0; j < v->n; j++) {
            const char *lang = v->keys[j]->value;
            const ynode *t = v->items[j];
            if (t->kind != YN_SCALAR) {
                err_at(l, t, "opt_out.%s must be text", lang);
            } else if (strcmp(lang, "zh") == 0) {
                set_str(&cfg->sms.opt_out_zh, t->value);
            } else if (strcmp(lang, "en") == 0) {
                set_str(&cfg->sms.opt_out_en, t->value);
            } else {
                err_at(l, v->keys[j], "unknown opt_out language '%s' (allowed: zh, en)", lang);
            }
        }
    }
    copy.keys = keys;
    copy.items = items;
    copy.n = kept;
    load_fields(l, &copy, sms_fields, cfg, "sms", base_dir);
    free(keys);
    free(items);
}

void config_defaults(cc_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->base = xstrdup(".");
    cfg->database = xstrdup("var/carecast.db");
    cfg->timezone = xstrdup("UTC");
    cfg->rules = xstrdup("rules");
    cfg->templates = xstrdup("templates");
    cfg->outbox_dir = xstrdup("var/outbox");
    cfg->customers.table = xstrdup("customers");
    cfg->customers.id = xstrdup("id");
    cfg->customers.email = xstrdup("email");
    cfg->customers.phone = xstrdup("phone");
    cfg->customers.birth_date = xstrdup("birth_date");
    cfg->customers.locale = xstrdup("locale");
    cfg->customers.timezone = xstrdup("timezone");
    cfg->customers.email_opt_in = xstrdup("email_opt_in");
    cfg->customers.sms_opt_in = xstrdup("sms_opt_in");
    cfg->customers.preferred_channel = xstrdup("preferred_channel");
    cfg->customers.default_country = xstrdup("CN");
    cfg->sms.max_segments = 3;
    cc_transport_config *tcs[] = {&cfg->email, &cfg->sms_transport};
    for (int i = 0; i < 2; i++) {
        tcs[i]->type = xstrdup("file");
        tcs[i]->verify = 1;
        /* tls stays unset: smtp picks starttls for hosts off this machine. */
        tcs[i]->connections = i == 0 ? 4 : 8;
        tcs[i]->timeout_s = 60;
        tcs[i]->max_attempts = 8;
        tcs[i]->max_age_s = i == 0 ? 2 * 86400 : 86400;
        tcs[i]->lease_s = 900;
    }
}

/* Folder that relative paths hang off: the parent of etc/ for a config in
 * etc/, else the config's own folder (config.md). */
static char *base_for(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");
    if (dir[0] == '\0') {
        free(dir);
        dir = xstrdup("/");
    }
    const char *last = strrchr(dir, '/');
    const char *name = last ? last + 1 : dir;
    if (strcmp(name, "etc") == 0) {
        char *parent = last ? (last == dir ? xstrdup("/") : xstrndup(dir, (size_t)(last - dir))) : xstrdup(".");
        free(dir);
        return parent;
    }
    return dir;
}

char *config_path(const cc_config *cfg, const char *p)
{
    if (!p) return NULL;
    if (p[0] == '/' || !cfg->base || strcmp(cfg->base, ".") == 0) return xstrdup(p);
    return xasprintf("%s/%s", cfg->base, p);
}

static void free_transport(cc_transport_config *tc)
{
    char **strs[] = {&tc->type, &tc->host, &tc->tls, &tc->url, &tc->username, &tc->password,
                     &tc->from, &tc->account_sid, &tc->token, &tc->messaging_service_sid, &tc->body};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        /* Secrets are wiped before their memory is returned. */
        if (*strs[i] && (strs[i] == &tc->password || strs[i] == &tc->token))
            memset(*strs[i], 0, strlen(*strs[i]));
        free(*strs[i]);
    }
    for (size_t i = 0; i < tc->n_headers; i++) free(tc->headers[i]);
    free(tc->headers);
}

void config_free(cc_config *cfg)
{
    char **strs[] = {&cfg->path, &cfg->base, &cfg->database, &cfg->timezone, &cfg->rules,
                     &cfg->templates, &cfg->outbox_dir, &cfg->customers.table, &cfg->customers.id,
                     &cfg->customers.email, &cfg->customers.phone, &cfg->customers.birth_date,
                     &cfg->customers.locale, &cfg->customers.timezone, &cfg->customers.email_opt_in,
                     &cfg->customers.sms_opt_in, &cfg->customers.preferred_channel,
                     &cfg->customers.default_country, &cfg->sender.name, &cfg->sender.email,
                     &cfg->sender.reply_to, &cfg->sms.signature, &cfg->sms.opt_out_zh,
                     &cfg->sms.opt_out_en, &cfg->policy.quiet_hours, &cfg->unsubscribe.url,
                     &cfg->unsubscribe.secret, &cfg->serve.listen, &cfg->serve.public_url,
                     &cfg->serve.secret};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        if (*strs[i] && (strs[i] == &cfg->unsubscribe.secret || strs[i] == &cfg->serve.secret))
            memset(*strs[i], 0, strlen(*strs[i]));
        free(*strs[i]);
    }
    for (size_t i = 0; i < cfg->policy.n_caps_marketing; i++) free(cfg->policy.caps_marketing[i]);
    for (size_t i = 0; i < cfg->policy.n_caps_all; i++) free(cfg->policy.caps_all[i]);
    free(cfg->policy.caps_marketing);
    free(cfg->policy.caps_all);
    for (size_t i = 0; i < cfg->policy.n_coverage; i++) {
        free(cfg->policy.coverage[i].segment);
        free(cfg->policy.coverage[i].label);
        free(cfg->policy.coverage[i].rule);
    }
    free(cfg->policy.coverage);
    free_transport(&cfg->email);
    free_transport(&cfg->sms_transport);
    for (size_t i = 0; i < cfg->n_unset_secrets; i++) {
        free(cfg->unset_secrets[i].key);
        free(cfg->unset_secrets[i].var);
    }
    free(cfg->unset_secrets);
    for (size_t i = 0; i < cfg->n_locs; i++) free(cfg->locs[i].key);
    free(cfg->locs);
    memset(cfg, 0, sizeof *cfg);
}

cc_code config_load(const char *path, cc_config *cfg, cc_diags *diags)
{
    config_defaults(cfg);
    if (!path) path = getenv("CARECAST_CONFIG");
    if (!path || !*path) {
        if (access("etc/carecast.yaml", F_OK) != 0) return CC_OK; /* built-in defaults */
        path = "etc/carecast.yaml";
    }
    size_t len = 0;
    char *text = cc_read_file(path, &len);
    if (!text) {
        cc_diag(diags, path, 0, 0, "error: cannot read configuration: %s", strerror(errno));
        config_free(cfg);
        return CC_ERR_CONFIG;
    }
    size_t before = diags->count;
    loader l = {path, diags, cfg};
    ynode *root = ydoc_parse(path, text, len, diags);
    free(text);
    if (!root) {
        config_free(cfg);
        return CC_ERR_CONFIG;
    }
    cfg->path = xstrdup(path);
    free(cfg->base);
    cfg->base = base_for(path);
    if (root->kind != YN_MAP) {
        err_at(&l, root, "the configuration must be a map of settings");
    } else {
        for (size_t i = 0; i < root->n; i++) {
            const char *k = root->keys[i]->value;
            const ynode *v = root->items[i];
            if (strcmp(k, "customers") == 0) {
                load_fields(&l, v, customer_fields, cfg, "customers", cfg->base);
                /* Local numbers are made E.164 with it: a country carecast
                 * cannot normalise would fail every such row on import. */
                const ynode *dc = v->kind == YN_MAP ? ydoc_get(v, "default_country") : NULL;
                if (dc && dc->kind == YN_SCALAR && !csv_phone_country_known(dc->value))
                    err_at(&l, dc, "customers.default_country '%s' is not a country carecast normalises numbers for (%s)",
                           dc->value, csv_phone_country_codes());
            } else if (strcmp(k, "sender") == 0) {
                load_fields(&l, v, sender_fields, cfg, "sender", cfg->base);
                static const char *const addr_keys[] = {"email", "reply_to"};
                for (int a = 0; a < 2 && v->kind == YN_MAP; a++) {
                    const ynode *an = ydoc_get(v, addr_keys[a]);
                    if (an && an->kind == YN_SCALAR && !ydoc_is_null(an) && !plain_address(an->value))
                        err_at(&l, an, "sender.%s '%s' is not an email address (name@example.cn)", addr_keys[a],
                               an->value);
                }
            } else if (strcmp(k, "transports") == 0) {
                if (v->kind != YN_MAP) {
                    err_at(&l, v, "'transports' must be a map with 'email' and/or 'sms'");
                    continue;
                }
                for (size_t j = 0; j < v->n; j++) {
                    const char *ch = v->keys[j]->value;
                    if (strcmp(ch, "email") == 0)
                        load_transport(&l, v->items[j], &cfg->email, "email", cfg->base);
                    else if (strcmp(ch, "sms") == 0)
                        load_transport(&l, v->items[j], &cfg->sms_transport, "sms", cfg->base);
                    else
                        err_at(&l, v->keys[j], "unknown transport channel '%s' (allowed: email, sms)", ch);
                }
            } else if (strcmp(k, "sms") == 0) {
                load_sms(&l, cfg, v, cfg->base);
            } else if (strcmp(k, "policy") == 0) {
                load_policy(&l, cfg, v);
            } else if (strcmp(k, "unsubscribe") == 0) {
                load_fields(&l, v, unsubscribe_fields, cfg, "unsubscribe", cfg->base);
                const ynode *un = v->kind == YN_MAP ? ydoc_get(v, "url") : NULL;
                if (un && un->kind == YN_SCALAR && cfg->unsubscribe.url && !web_url(cfg->unsubscribe.url))
                    err_at(&l, un, "unsubscribe.url must be an http:// or https:// URL, not '%s'", cfg->unsubscribe.url);
            } else if (strcmp(k, "serve") == 0) {
                load_fields(&l, v, serve_fields, cfg, "serve", cfg->base);
                const ynode *pu = v->kind == YN_MAP ? ydoc_get(v, "public_url") : NULL;
                if (pu && pu->kind == YN_SCALAR && cfg->serve.public_url && !web_url(cfg->serve.public_url))
                    err_at(&l, pu, "serve.public_url must be an http:// or https:// URL, not '%s'",
                           cfg->serve.public_url);
                /* Checked here, where it is written, not when serve starts. */
                const ynode *ln = v->kind == YN_MAP ? ydoc_get(v, "listen") : NULL;
                if (ln && ln->kind == YN_SCALAR && cfg->serve.listen) {
                    struct sockaddr_storage sa;
                    socklen_t salen = 0;
                    int loop = 0;
                    char why[200];
                    if (serve_parse_listen(cfg->serve.listen, &sa, &salen, &loop, why, sizeof why) != CC_OK)
                        err_at(&l, ln, "serve.listen: %s", why);
                }
            } else {
                int known = 0;
                for (const field *f = top_fields; f->key; f++) known |= strcmp(f->key, k) == 0;
                if (!known) {
                    err_at(&l, root->keys[i],
                           "unknown key '%s' (allowed: database, timezone, rules, templates, "
                           "outbox_dir, customers, sender, transports, sms, policy, unsubscribe, serve)",
                           k);
                }
            }
        }
        /* The plain top-level fields, through the same table-driven path. */
        ynode top = *root;
        ynode **keys = xcalloc(root->n, sizeof *keys), **items = xcalloc(root->n, sizeof *items);
        size_t kept = 0;
        for (size_t i = 0; i < root->n; i++)
            for (const field *f = top_fields; f->key; f++)
                if (strcmp(f->key, root->keys[i]->value) == 0) {
                    keys[kept] = root->keys[i];
                    items[kept++] = root->items[i];
                }
        top.keys = keys;
        top.items = items;
        top.n = kept;
        load_fields(&l, &top, top_fields, cfg, "the configuration", cfg->base);
        free(keys);
        free(items);
        const ynode *tz = ydoc_get(root, "timezone");
        if (tz && !clock_zone_valid(cfg->timezone))
            err_at(&l, tz, "unknown time zone '%s' (an IANA name such as Asia/Shanghai)", cfg->timezone);
        if (cfg->sms.max_segments < 1 && ydoc_get(ydoc_get(root, "sms"), "max_segments"))
            err_at(&l, ydoc_get(ydoc_get(root, "sms"), "max_segments"), "max_segments must be at least 1");
    }
    ydoc_free(root);
    /* Relative paths hang off the base folder. */
    char **paths[] = {&cfg->database, &cfg->rules, &cfg->templates, &cfg->outbox_dir};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        char *p = config_path(cfg, *paths[i]);
        free(*paths[i]);
        *paths[i] = p;
    }
    if (diags->count > before) {
        config_free(cfg);
        return CC_ERR_CONFIG;
    }
    return CC_OK;
}

const cc_unset_secret *config_unset_secret(const cc_config *cfg, const char *prefix)
{
    for (size_t i = 0; i < cfg->n_unset_secrets; i++)
        if (strncmp(cfg->unset_secrets[i].key, prefix, strlen(prefix)) == 0) return &cfg->unset_secrets[i];
    return NULL;
}

size_t config_report_unset_secrets(const cc_config *cfg, const char *prefix, cc_diags *diags)
{
    size_t n = 0;
    for (size_t i = 0; i < cfg->n_unset_secrets; i++) {
        const cc_unset_secret *u = &cfg->unset_secrets[i];
        if (strncmp(u->key, prefix, strlen(prefix)) != 0) continue;
        cc_diag(diags, cfg->path, u->line, u->col,
                "error: the environment variable %s (named by %s) is not set, or empty", u->var, u->key);
        n++;
    }
    return n;
}

int config_locate(const cc_config *cfg, const char *key, int *line, int *col)
{
    for (size_t i = cfg->n_locs; i-- > 0;)
        if (strcmp(cfg->locs[i].key, key) == 0) {
            *line = cfg->locs[i].line;
            *col = cfg->locs[i].col;
            return 1;
        }
    return 0;
}
