/* campaign.c - loads and checks campaign files (campaign.h).
 *
 * The single-step form (when/if/template/... at the top level) is turned
 * into one step named `main`, so everything downstream sees steps only. */
#include "campaign.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clock.h"
#include "ydoc.h"

typedef struct {
    const char *file;
    cc_diags *diags;
    int errors;
    int unknown_keys;      /* unknown keys reported so far (see load_root) */
    const ynode *repeat_at; /* where the last `repeat:` value was written */
} loader;

/* "; did you mean 'x'?" for the closest of `keys` (NULL-terminated, up to
 * two lists) when it is a typo away from `k`. */
static void suggest_key(const char *k, const char *const *keys, const char *const *more, cc_buf *out)
{
    const char *best = NULL;
    size_t bestd = strlen(k) <= 4 ? 2 : 3; /* short keys: one or two letters off */
    for (int list = 0; list < 2; list++)
        for (const char *const *t = list ? more : keys; t && *t; t++) {
            size_t d = cc_edit_distance(k, *t, 0);
            if (d < bestd) bestd = d, best = *t;
        }
    if (best) cc_buf_printf(out, "; did you mean '%s'?", best);
}

/* An unknown key in a map whose allowed keys are `keys`. */
static void unknown_key(loader *l, const ynode *key, const char *where, const char *const *keys);

static void err(loader *l, const ynode *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void err(loader *l, const ynode *n, const char *fmt, ...)
{
    cc_buf b = CC_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    cc_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    cc_diag(l->diags, l->file, n ? n->line : 1, n ? n->col : 1, "error: %s", cc_buf_str(&b));
    cc_buf_free(&b);
    l->errors++;
}

static const char *scalar(loader *l, const ynode *n, const char *key)
{
    if (n->kind != YN_SCALAR) {
        err(l, n, "'%s' must be a single value, not %s", key, ydoc_kind_name(n->kind));
        return NULL;
    }
    return n->value;
}

static void expr_src(loader *l, const ynode *n, const char *key, cc_expr_src *out)
{
    const char *v = scalar(l, n, key);
    if (!v) return;
    if (!v[0]) {
        err(l, n, "'%s' is empty; write an expression", key);
        return;
    }
    free(out->text);
    out->text = xstrdup(v);
    out->line = n->line;
    out->col = n->col + (n->quoted ? 1 : 0);
}

static int parse_bool(loader *l, const ynode *n, const char *key, int *out)
{
    const char *v = scalar(l, n, key);
    if (!v) return -1;
    if (!strcmp(v, "true") || !strcmp(v, "yes")) *out = 1;
    else if (!strcmp(v, "false") || !strcmp(v, "no")) *out = 0;
    else {
        err(l, n, "'%s' must be true or false, not '%s'", key, v);
        return -1;
    }
    return 0;
}

/* "N day(s)|week(s)" as days; months/years are not whole days. */
static int parse_days(const char *s, int64_t *days)
{
    const char *p = s;
    int neg = 0;
    while (isspace((unsigned char)*p)) p++;
    if (*p == '-' || *p == '+') neg = *p++ == '-';
    int64_t secs;
    if (cc_parse_duration(p, &secs) != 0 || secs % 86400 != 0) return -1;
    *days = (neg ? -secs : secs) / 86400;
    return 0;
}

static int valid_id(const char *s)
{
    if (!*s) return 0;
    for (const char *p = s; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-')) return 0;
    return 1;
}

static const char *const step_keys[] = {"name", "when", "if", "template", "channels", "send_at", "repeat", "grace",
                                        "assignee", NULL};

static void unknown_key(loader *l, const ynode *key, const char *where, const char *const *keys)
{
    cc_buf allowed = CC_BUF_INIT, hint = CC_BUF_INIT;
    for (const char *const *k = keys; *k; k++) cc_buf_printf(&allowed, "%s%s", k == keys ? "" : ", ", *k);
    suggest_key(key->value, keys, NULL, &hint);
    err(l, key, "unknown key '%s' in %s (allowed: %s)%s", key->value, where, cc_buf_str(&allowed), cc_buf_str(&hint));
    l->unknown_keys++;
    cc_buf_free(&allowed);
    cc_buf_free(&hint);
}

static int is_step_key(const char *k)
{
    for (const char *const *s = step_keys; *s; s++)
        if (!strcmp(*s, k)) return 1;
    return 0;
}

static void load_channels(loader *l, const ynode *n, cc_step *st)
{
    if (n->kind != YN_SEQ) {
        err(l, n, "'channels' must be a list such as [sms, email]");
        return;
    }
    if (n->n == 0) {
        err(l, n, "'channels' is empty; list at least one of email, sms, task, preferred");
        return;
    }
    for (size_t i = 0; i < st->n_channels; i++) free(st->channels[i]);
    free(st->channels);
    st->channels = xcalloc(n->n, sizeof *st->channels);
    st->n_channels = 0;
    for (size_t i = 0; i < n->n; i++) {
        const ynode *c = n->items[i];
        if (c->kind != YN_SCALAR || (strcmp(c->value, "email") && strcmp(c->value, "sms") &&
                                     strcmp(c->value, "task") && strcmp(c->value, "preferred"))) {
            err(l, c, "unknown channel '%s' (one of: email, sms, task, preferred)",
                c->kind == YN_SCALAR ? c->value : "?");
            continue;
        }
        st->channels[st->n_channels++] = xstrdup(c->value);
    }
    /* No valid channel: no list at all, as before, so the default channels
     * that fill an empty step do not replace (and leak) an empty array. */
    if (st->n_channels == 0) {
        free(st->channels);
        st->channels = NULL;
    }
}

static void load_when(loader *l, const ynode *n, cc_step *st)
{
    if (n->kind == YN_SCALAR) {
        st->when_kind = WHEN_EXPR;
        expr_src(l, n, "when", &st->when);
        return;
    }
    if (n->kind != YN_MAP) {
        err(l, n, "'when' must be an expression or {date: EXPR, every: year|month}");
        return;
    }
    st->when_kind = WHEN_RECURRING;
    st->every = 0;
    int unknown_before = l->unknown_keys;
    for (size_t i = 0; i < n->n; i++) {
        const char *k = n->keys[i]->value;
        const ynode *v = n->items[i];
        if (!strcmp(k, "date")) {
            expr_src(l, v, "date", &st->when);
        } else if (!strcmp(k, "every")) {
            const char *e = scalar(l, v, "every");
            if (e && !strcmp(e, "year")) st->every = 'y';
            else if (e && !strcmp(e, "month")) st->every = 'm';
            else if (e) err(l, v, "'every' must be year or month, not '%s'", e);
        } else if (!strcmp(k, "offset")) {
            const char *o = scalar(l, v, "offset");
            if (o && parse_days(o, &st->offset_days) != 0)
                err(l, v, "'offset' must be a number of days or weeks such as '-7 days', not '%s'", o);
        } else {
            static const char *const when_keys[] = {"date", "every", "offset", NULL};
            unknown_key(l, n->keys[i], "'when'", when_keys);
        }
    }
    /* A misspelt key already said what is wrong; "needs date" would be
     * its echo. */
    int before = l->unknown_keys - unknown_before;
    if (!ydoc_get(n, "date") && !ydoc_get(n, "every"))
        err(l, n, "'when' as a map needs 'date: EXPR' and 'every: year' or 'every: month'");
    else if (!ydoc_get(n, "date") && !before)
        err(l, n, "'when' needs 'date: EXPR'");
    else if (!ydoc_get(n, "every") && !before)
        err(l, n, "'when' needs 'every: year' or 'every: month'");
}

static void load_step_key(loader *l, const char *k, const ynode *v, cc_step *st)
{
    if (!strcmp(k, "name")) {
        const char *s = scalar(l, v, "name");
        if (s && !valid_id(s)) err(l, v, "step name '%s' must be lower-case letters, digits and '-'", s);
        else if (s) { free(st->name); st->name = xstrdup(s); }
    } else if (!strcmp(k, "when")) {
        load_when(l, v, st);
    } else if (!strcmp(k, "if")) {
        expr_src(l, v, "if", &st->cond);
    } else if (!strcmp(k, "assignee")) {
        free(st->assignee.text);
        st->assignee.text = NULL;
        expr_src(l, v, "assignee", &st->assignee);
    } else if (!strcmp(k, "template")) {
        const char *s = scalar(l, v, "template");
        if (s && (!*s || strchr(s, '/') || strstr(s, ".."))) err(l, v, "template '%s' must be a plain name such as 'birthday'", s);
        else if (s) {
            free(st->template_name);
            st->template_name = xstrdup(s);
            st->template_line = v->line;
            st->template_col = v->col;
        }
    } else if (!strcmp(k, "channels")) {
        load_channels(l, v, st);
    } else if (!strcmp(k, "send_at")) {
        const char *s = scalar(l, v, "send_at");
        if (!s) return;
        if (strlen(s) != 5 || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) || s[2] != ':' ||
            !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]) ||
            (s[0] - '0') * 10 + (s[1] - '0') > 23 || (s[3] - '0') * 10 + (s[4] - '0') > 59) {
            err(l, v, "'send_at' must be a time of day \"HH:MM\", not '%s'", s);
            return;
        }
        st->send_at_minutes = ((s[0] - '0') * 10 + (s[1] - '0')) * 60 + (s[3] - '0') * 10 + (s[4] - '0');
    } else if (!strcmp(k, "repeat")) {
        const char *s = scalar(l, v, "repeat");
        if (!s) return;
        l->repeat_at = v;
        if (!strcmp(s, "once") || !strcmp(s, "daily") || !strcmp(s, "weekly") || !strcmp(s, "monthly") ||
            !strcmp(s, "yearly")) {
            free(st->repeat);
            st->repeat = xstrdup(s);
        } else if (!strncmp(s, "after ", 6) && parse_days(s + 6, &st->repeat_days) == 0 && st->repeat_days > 0) {
            free(st->repeat);
            st->repeat = xstrdup("after");
        } else {
            err(l, v, "'repeat' must be once, daily, weekly, monthly, yearly or 'after N days', not '%s'", s);
        }
    } else if (!strcmp(k, "grace")) {
        const char *s = scalar(l, v, "grace");
        int64_t secs = 0;
        if (s && (cc_parse_duration(s, &secs) != 0 || secs < 0)) {
            err(l, v, "'grace' must be a duration such as '3 days' or '12 hours', not '%s'", s);
        } else if (s) {
            /* A date occurrence is due on whole days; a date-time one for
             * exactly the duration. */
            st->grace_s = secs;
            st->grace_days = (secs + 86399) / 86400;
        }
    }
}

static void step_init(cc_step *st, const ynode *at)
{
    memset(st, 0, sizeof *st);
    st->send_at_minutes = -1;
    st->grace_days = -1;          /* inherit */
    st->line = at->line;
    st->col = at->col;
}

static void step_free(cc_step *st)
{
    free(st->name);
    free(st->when.text);
    free(st->cond.text);
    free(st->assignee.text);
    free(st->template_name);
    for (size_t i = 0; i < st->n_channels; i++) free(st->channels[i]);
    free(st->channels);
    free(st->repeat);
}

void campaign_free(cc_campaign *c)
{
    free(c->file);
    free(c->id);
    free(c->title);
    free(c->owner);
    free(c->active_from);
    free(c->active_until);
    free(c->schedule);
    free(c->from_table);
    free(c->where.text);
    for (size_t i = 0; i < c->n_steps; i++) step_free(&c->steps[i]);
    free(c->steps);
    for (size_t i = 0; i < c->n_vars; i++) {
        free(c->var_names[i]);
        free(c->var_exprs[i].text);
    }
    free(c->var_names);
    free(c->var_exprs);
    memset(c, 0, sizeof *c);
}

void campaigns_free(cc_campaign *list, size_t n)
{
    for (size_t i = 0; i < n; i++) campaign_free(&list[i]);
    free(list);
}

static void check_date(loader *l, const ynode *v, const char *key, char **out)
{
    const char *s = scalar(l, v, key);
    cc_date d;
    if (!s) return;
    if (clock_parse_date(s, &d) != 0) {
        err(l, v, "'%s' must be a date YYYY-MM-DD, not '%s'", key, s);
        return;
    }
    *out = xstrdup(s);
}

/* "HH:MM" with a real hour and minute. */
static int valid_hhmm(const char *s)
{
    return strlen(s) == 5 && isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) && s[2] == ':' &&
           isdigit((unsigned char)s[3]) && isdigit((unsigned char)s[4]) &&
           (s[0] - '0') * 10 + (s[1] - '0') <= 23 && (s[3] - '0') * 10 + (s[4] - '0') <= 59;
}

/* The middle of "weekly mon,thu HH:MM": day names separated by commas. */
static int valid_days(const char *s, size_t n)
{
    static const char *const names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    if (n == 0) return 0;
    for (size_t i = 0; i < n;) {
        int ok = 0;
        for (int d = 0; d < 7 && !ok; d++) ok = n - i >= 3 && !strncmp(s + i, names[d], 3);
        if (!ok) return 0;
        i += 3;
        if (i < n && s[i++] != ',') return 0;
        if (i == n && s[n - 1] == ',') return 0;
    }
    return 1;
}

static void check_schedule(loader *l, const ynode *v, cc_campaign *c)
{
    const char *s = scalar(l, v, "schedule");
    if (!s) return;
    /* Every form ends in " HH:MM" except manual; the planner reads the
     * time after the last space, so check the whole shape here. */
    const char *sp = strrchr(s, ' ');
    int ok = !strcmp(s, "manual");
    if (!ok && sp && valid_hhmm(sp + 1)) {
        const char *mid = strchr(s, ' ');
        size_t head = (size_t)(mid - s), midlen = (size_t)(sp - mid);
        if (mid == sp) {
            ok = (head == 5 && !strncmp(s, "daily", 5)) || (head == 8 && !strncmp(s, "weekdays", 8));
        } else if (head == 6 && !strncmp(s, "weekly", 6)) {
            ok = valid_days(mid + 1, midlen - 1);
        } else if (head == 7 && !strncmp(s, "monthly", 7)) {
            char *end = NULL;
            long d = strtol(mid + 1, &end, 10);
            ok = end == sp && d >= 1 && d <= 31 && isdigit((unsigned char)mid[1]);
        } else if (head == 4 && !strncmp(s, "once", 4)) {
            char date[11];
            cc_date d;
            ok = midlen == 11 && (memcpy(date, mid + 1, 10), date[10] = '\0', clock_parse_date(date, &d) == 0);
        }
    }
    if (!ok) {
        err(l, v, "'schedule' must be 'daily HH:MM', 'weekdays HH:MM', 'weekly mon,thu HH:MM', "
                  "'monthly 1 HH:MM', 'once YYYY-MM-DD HH:MM' or 'manual', not '%s'", s);
        return;
    }
    c->schedule = xstrdup(s);
}

static void load_root(loader *l, const ynode *root, cc_campaign *c, const char *path)
{
    static const char *const top_keys[] = {"campaign", "title", "owner", "kind", "enabled", "active",
        "schedule", "audience", "steps", "vars", "deliver", "priority", "holdout", "sample", "sla",
        "ignore_quiet_hours", "max_segments", NULL};
    cc_step single;
    step_init(&single, root);
    const ynode *single_key = NULL;   /* the first single-step key, for "not both" */
    const ynode *single_repeat = NULL;
    int priority_set = 0;
    int top_unknown = 0;
    /* Per step of `steps:`: skip the "needs a template" follow-up, and
     * where its `repeat:` was written. */
    const ynode *steps_list = ydoc_get(root, "steps");
    size_t n_list = steps_list && steps_list->kind == YN_SEQ ? steps_list->n : 0;
    char *quiet_template = xcalloc(n_list + 1, 1);
    const ynode **repeat_at = xcalloc(n_list + 1, sizeof *repeat_at);
    for (size_t i = 0; i < root->n; i++) {
        const char *k = root->keys[i]->value;
        const ynode *v = root->items[i];
        if (is_step_key(k) && strcmp(k, "name") != 0) {
            if (ydoc_get(root, "steps") &&
                (!strcmp(k, "channels") || !strcmp(k, "send_at") || !strcmp(k, "grace") || !strcmp(k, "assignee")))
                continue; /* inherited by the steps, below */
            l->repeat_at = NULL;
            load_step_key(l, k, v, &single);
            if (l->repeat_at) single_repeat = l->repeat_at;
            if (!single_key) single_key = root->keys[i];
            continue;
        }
        if (!strcmp(k, "campaign")) {
            const char *s = scalar(l, v, k);
            if (s && !valid_id(s)) err(l, v, "campaign id '%s' must be lower-case letters, digits and '-'", s);
            else if (s) { free(c->id); c->id = xstrdup(s); }
        } else if (!strcmp(k, "title") || !strcmp(k, "owner")) {
            const char *s = scalar(l, v, k);
            if (s) { char **slot = !strcmp(k, "title") ? &c->title : &c->owner; free(*slot); *slot = xstrdup(s); }
        } else if (!strcmp(k, "kind")) {
            const char *s = scalar(l, v, k);
            c->kind_default = 0;
            if (s && !strcmp(s, "marketing")) c->is_marketing = 1;
            else if (s && !strcmp(s, "service")) c->is_marketing = 0;
            else if (s) err(l, v, "'kind' must be marketing or service, not '%s'", s);
        } else if (!strcmp(k, "enabled")) {
            parse_bool(l, v, k, &c->enabled);
        } else if (!strcmp(k, "ignore_quiet_hours")) {
            parse_bool(l, v, k, &c->ignore_quiet_hours);
        } else if (!strcmp(k, "active")) {
            if (v->kind != YN_MAP) { err(l, v, "'active' must be {from: DATE, until: DATE}"); continue; }
            for (size_t j = 0; j < v->n; j++) {
                const char *ak = v->keys[j]->value;
                if (!strcmp(ak, "from")) check_date(l, v->items[j], "from", &c->active_from);
                else if (!strcmp(ak, "until")) check_date(l, v->items[j], "until", &c->active_until);
                else {
                    static const char *const active_keys[] = {"from", "until", NULL};
                    unknown_key(l, v->keys[j], "'active'", active_keys);
                }
            }
            if (c->active_from && c->active_until && strcmp(c->active_until, c->active_from) < 0)
                err(l, ydoc_get(v, "until"), "'until' (%s) is before 'from' (%s), so the campaign would never run",
                    c->active_until, c->active_from);
        } else if (!strcmp(k, "schedule")) {
            check_schedule(l, v, c);
        } else if (!strcmp(k, "audience")) {
            if (v->kind != YN_MAP) { err(l, v, "'audience' must be a map with 'from' and 'where'"); continue; }
            for (size_t j = 0; j < v->n; j++) {
                const char *ak = v->keys[j]->value;
                if (!strcmp(ak, "from")) {
                    const char *s = scalar(l, v->items[j], "from");
                    if (s) {
                        free(c->from_table);
                        c->from_table = xstrdup(s);
                        c->from_line = v->items[j]->line;
                        c->from_col = v->items[j]->col;
                    }
                } else if (!strcmp(ak, "where")) {
                    expr_src(l, v->items[j], "where", &c->where);
                } else {
                    static const char *const audience_keys[] = {"from", "where", NULL};
                    unknown_key(l, v->keys[j], "'audience'", audience_keys);
                }
            }
        } else if (!strcmp(k, "steps")) {
            if (v->kind != YN_SEQ) { err(l, v, "'steps' must be a list of steps"); continue; }
            if (v->n == 0) { err(l, v, "'steps' is empty; a campaign needs at least one step"); continue; }
            c->steps = xcalloc(v->n, sizeof *c->steps);
            for (size_t j = 0; j < v->n; j++) {
                const ynode *sn = v->items[j];
                cc_step *st = &c->steps[c->n_steps++];
                step_init(st, sn);
                if (!st->name) st->name = xasprintf("step%zu", j + 1);
                if (sn->kind != YN_MAP) {
                    err(l, sn, "each step must be a map (name, when, template, ...), not %s", ydoc_kind_name(sn->kind));
                    quiet_template[j] = 1;
                    continue;
                }
                int unknown_before = l->unknown_keys;
                l->repeat_at = NULL;
                for (size_t q = 0; q < sn->n; q++) {
                    if (!is_step_key(sn->keys[q]->value)) {
                        unknown_key(l, sn->keys[q], "a step", step_keys);
                        continue;
                    }
                    load_step_key(l, sn->keys[q]->value, sn->items[q], st);
                }
                /* A misspelt key may be the template: don't also say it is missing. */
                if (l->unknown_keys > unknown_before) quiet_template[j] = 1;
                repeat_at[j] = l->repeat_at;
            }
        } else if (!strcmp(k, "vars")) {
            if (v->kind != YN_MAP) { err(l, v, "'vars' must be a map of name: expression"); continue; }
            c->var_names = xcalloc(v->n, sizeof *c->var_names);
            c->var_exprs = xcalloc(v->n, sizeof *c->var_exprs);
            for (size_t j = 0; j < v->n; j++) {
                const char *vn = v->keys[j]->value;
                int ok = isalpha((unsigned char)vn[0]) || vn[0] == '_';
                for (const char *p = vn; *p; p++) ok &= isalnum((unsigned char)*p) || *p == '_';
                if (!ok) { err(l, v->keys[j], "variable name '%s' must be letters, digits and '_'", vn); continue; }
                c->var_names[c->n_vars] = xstrdup(vn);
                expr_src(l, v->items[j], vn, &c->var_exprs[c->n_vars]);
                c->n_vars++;
            }
        } else if (!strcmp(k, "deliver")) {
            const char *s = scalar(l, v, k);
            if (s && !strcmp(s, "all")) c->deliver_all = 1;
            else if (s && strcmp(s, "first")) err(l, v, "'deliver' must be first or all, not '%s'", s);
        } else if (!strcmp(k, "priority")) {
            const char *s = scalar(l, v, k);
            char *end = NULL;
            long p = s ? strtol(s, &end, 10) : -1;
            if (!s || *end || p < 0 || p > 100) { if (s) err(l, v, "'priority' must be a whole number 0-100, not '%s'", s); }
            else { c->priority = (int)p; priority_set = 1; }
        } else if (!strcmp(k, "holdout")) {
            const char *s = scalar(l, v, k);
            char *end = NULL;
            double h = s ? strtod(s, &end) : -1;
            if (s && end && *end == '%') end++;
            if (!s || end == s || *end || h < 0 || h >= 100) { if (s) err(l, v, "'holdout' must be a percentage 0-99, not '%s'", s); }
            else c->holdout = h;
        } else if (!strcmp(k, "sample")) {
            const char *s = scalar(l, v, k);
            char *end = NULL;
            long n = s ? strtol(s, &end, 10) : -1;
            if (!s || *end || n < 1) { if (s) err(l, v, "'sample' must be a whole number of rows, not '%s'", s); }
            else c->sample = n;
        } else if (!strcmp(k, "max_segments")) {
            const char *s = scalar(l, v, k);
            char *end = NULL;
            long n = s ? strtol(s, &end, 10) : -1;
            if (!s || *end || n < 1 || n > 255) { if (s) err(l, v, "'max_segments' must be a whole number 1-255, not '%s'", s); }
            else c->max_segments = (int)n;
        } else if (!strcmp(k, "sla")) {
            const char *s = scalar(l, v, k);
            if (s && cc_parse_duration(s, &c->sla_s) != 0) err(l, v, "'sla' must be a duration such as '24 hours', not '%s'", s);
        } else {
            /* The single-step keys are top-level keys too: `tempalte:` is
             * most likely `template:`. */
            cc_buf b = CC_BUF_INIT;
            if (!strcmp(k, "where") || !strcmp(k, "from"))
                cc_buf_printf(&b, "; '%s' belongs under 'audience:'", k);
            else
                suggest_key(k, top_keys, step_keys + 1, &b);
            err(l, root->keys[i], "unknown key '%s'%s", k, cc_buf_str(&b));
            l->unknown_keys++;
            top_unknown++;
            cc_buf_free(&b);
        }
    }
    int has_single = single_key != NULL;
    if (!priority_set) c->priority = c->is_marketing ? 50 : 80;
    if (has_single && ydoc_get(root, "steps")) {
        err(l, single_key, "'%s' is a step key, and this campaign has 'steps:'; move it into the steps "
            "(use either 'steps:' or the single-step keys at the top level, not both)", single_key->value);
        step_free(&single);
    } else if (has_single || !c->n_steps) {
        if (!c->n_steps && !ydoc_get(root, "steps")) {
            c->steps = xcalloc(1, sizeof *c->steps);
            single.name = xstrdup("main");
            c->steps[0] = single;
            c->n_steps = 1;
            /* An unknown top-level key may be the misspelt template. */
            quiet_template[0] = top_unknown > 0;
            repeat_at[0] = single_repeat;
        } else {
            step_free(&single);
        }
    } else {
        step_free(&single);
    }
    /* In the steps form, steps inherit channels, send_at, grace and assignee from
     * the campaign's top level.  Each top-level value is checked once,
     * here, whether or not a step ends up inheriting it: an error is
     * reported once, and a bad value is never silently ignored. */
    const ynode *steps_node = ydoc_get(root, "steps");
    static const char *const inherited[] = {"channels", "send_at", "grace", "assignee"};
    int inherit_ok[4] = {0, 0, 0, 0};
    for (int q = 0; q < 4 && steps_node; q++) {
        const ynode *v = ydoc_get(root, inherited[q]);
        if (!v) continue;
        cc_step scratch;
        step_init(&scratch, root);
        int before = l->errors;
        load_step_key(l, inherited[q], v, &scratch);
        inherit_ok[q] = l->errors == before;
        step_free(&scratch);
    }
    for (size_t i = 0; i < c->n_steps; i++) {
        cc_step *st = &c->steps[i];
        if (!st->template_name && !quiet_template[i])
            err(l, steps_node ? (const ynode *)steps_node->items[i] : root, "step '%s' needs a 'template'",
                st->name ? st->name : "?");
        for (int q = 0; q < 4 && steps_node; q++) {
            int unset = q == 0 ? st->n_channels == 0 : q == 1 ? st->send_at_minutes < 0
                        : q == 2 ? st->grace_days < 0 : st->assignee.text == NULL;
            if (!unset || !inherit_ok[q]) continue;
            loader again = {.file = l->file, .diags = l->diags}; /* checked above: no errors */
            load_step_key(&again, inherited[q], ydoc_get(root, inherited[q]), st);
        }
        if (!st->n_channels) {
            static const char *const deflt[] = {"preferred", "email", "sms"};
            st->channels = xcalloc(3, sizeof *st->channels);
            for (int q = 0; q < 3; q++) st->channels[q] = xstrdup(deflt[q]);
            st->n_channels = 3;
        }
        if (st->grace_days < 0) {
            st->grace_days = 1;
            st->grace_s = 86400;
        }
        if (!st->repeat) st->repeat = xstrdup("once");
        /* A task without someone to do it would be skipped for every
         * customer: say so when the campaign is loaded. */
        int has_task = 0;
        for (size_t q = 0; q < st->n_channels; q++) has_task |= !strcmp(st->channels[q], "task");
        if (has_task && !st->assignee.text)
            err(l, steps_node ? (const ynode *)steps_node->items[i] : root,
                "step '%s' uses the 'task' channel and needs 'assignee:' (who gets the task, e.g. customer.rep_email)",
                st->name ? st->name : "?");
        if (st->when_kind != WHEN_NONE && strcmp(st->repeat, "once") != 0)
            err(l, repeat_at[i] ? repeat_at[i] : root,
                "step '%s' has both 'when' and 'repeat'; repeat is for steps without 'when'", st->name);
    }
    free(quiet_template);
    free(repeat_at);
    (void)path;
}

cc_code campaign_load(const char *path, cc_campaign *c, int *is_segment, cc_diags *diags)
{
    memset(c, 0, sizeof *c);
    *is_segment = 0;
    size_t len = 0;
    char *text = cc_read_file(path, &len);
    if (!text) {
        cc_diag(diags, path, 0, 0, "error: cannot read: %s", strerror(errno));
        return CC_ERR_IO;
    }
    cc_code rc = campaign_load_text(path, text, len, c, is_segment, diags);
    free(text);
    return rc;
}

cc_code campaign_load_text(const char *path, const char *text, size_t len, cc_campaign *c, int *is_segment,
                           cc_diags *diags)
{
    memset(c, 0, sizeof *c);
    *is_segment = 0;
    loader l = {.file = path, .diags = diags};
    ynode *root = ydoc_parse(path, text, len, diags);
    if (!root) return CC_ERR_INPUT;
    if (root->kind != YN_MAP) {
        err(&l, root, "a campaign file must be a map of keys (campaign, audience, when, ...)");
        ydoc_free(root);
        return CC_ERR_INPUT;
    }
    if (ydoc_get(root, "segment")) {
        *is_segment = 1;
        ydoc_free(root);
        return CC_OK;
    }
    c->file = xstrdup(path);
    c->enabled = 1;
    /* Without `kind:` a campaign is marketing: it then needs consent and
     * carries the opt-out; the safe side for a rule that forgot to say. */
    c->is_marketing = 1;
    c->kind_default = 1;
    c->from_table = xstrdup("customers");
    load_root(&l, root, c, path);
    if (!c->id) {
        /* Default id: the file name without .yaml. */
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        const char *dot = strrchr(base, '.');
        c->id = xstrndup(base, dot ? (size_t)(dot - base) : strlen(base));
        if (!valid_id(c->id)) err(&l, root, "the file name gives campaign id '%s', which must be lower-case letters, digits and '-'; set 'campaign:'", c->id);
    }
    /* Step names are unique within a campaign. */
    for (size_t i = 0; i < c->n_steps; i++)
        for (size_t j = i + 1; j < c->n_steps; j++)
            if (cc_streq(c->steps[i].name, c->steps[j].name)) {
                cc_diag(diags, path, c->steps[j].line, c->steps[j].col, "error: duplicate step name '%s'", c->steps[j].name);
                l.errors++;
            }
    ydoc_free(root);
    if (l.errors) {
        campaign_free(c);
        return CC_ERR_INPUT;
    }
    return CC_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void list_yaml(const char *dir, char ***files, size_t *n, int depth)
{
    DIR *d = opendir(dir);
    if (!d || depth > 4) {
        if (d) closedir(d);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *p = xasprintf("%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            list_yaml(p, files, n, depth + 1);
            free(p);
            continue;
        }
        size_t l = strlen(e->d_name);
        if ((l > 5 && !strcmp(e->d_name + l - 5, ".yaml")) || (l > 4 && !strcmp(e->d_name + l - 4, ".yml"))) {
            *files = xrealloc(*files, (*n + 1) * sizeof **files);
            (*files)[(*n)++] = p;
        } else {
            free(p);
        }
    }
    closedir(d);
}

cc_code campaign_load_dir(const char *dir, cc_campaign **out, size_t *n, cc_diags *diags)
{
    char **files = NULL;
    size_t nf = 0;
    *out = NULL;
    *n = 0;
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        cc_diag(diags, dir, 0, 0, "error: the rules folder does not exist");
        return CC_ERR_IO;
    }
    list_yaml(dir, &files, &nf, 0);
    if (nf) qsort(files, nf, sizeof *files, cmp_str); /* qsort(NULL, 0) is undefined */
    cc_code rc = CC_OK;
    *out = xcalloc(nf ? nf : 1, sizeof **out);
    for (size_t i = 0; i < nf; i++) {
        int seg = 0;
        cc_campaign c;
        cc_code r = campaign_load(files[i], &c, &seg, diags);
        if (r != CC_OK) rc = CC_ERR_INPUT;
        else if (!seg) {
            const cc_campaign *dup = campaign_find(*out, *n, c.id);
            if (dup) {
                cc_diag(diags, files[i], 1, 1, "error: campaign id '%s' is already used by %s", c.id, dup->file);
                campaign_free(&c);
                rc = CC_ERR_INPUT;
            } else {
                (*out)[(*n)++] = c;
            }
        }
        free(files[i]);
    }
    free(files);
    return rc;
}

const cc_campaign *campaign_find(const cc_campaign *list, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (cc_streq(list[i].id, id)) return &list[i];
    return NULL;
}

char **campaign_list_files(const char *dir, size_t *n)
{
    char **files = NULL;
    *n = 0;
    list_yaml(dir, &files, n, 0);
    if (*n) qsort(files, *n, sizeof *files, cmp_str);
    return files;
}
