/* plan.c - the planner (plan.h).
 *
 * For each enabled campaign and step, one audience query selects the rows
 * whose `where` and `if` hold and whose occurrence falls in the due window
 * [today - grace, today]; SQLite does the scanning.  Per due row (not per
 * customer) the planner then checks the never-twice ledger, chooses the
 * channel, and renders the message.
 *
 * Window arithmetic: occurrences that are dates compare as ISO text, which
 * orders like dates; anniversaries are pre-filtered in SQL by month-day and
 * confirmed in C, where the 29 February and month-end rules live. */
#include "plan.h"
#include "policy.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db.h"
#include "expr.h"
#include "render.h"
#include "sms.h"
#include "template.h"
#include "unsubscribe.h"

/* ---- small helpers ------------------------------------------------------ */

static int valid_email(const char *s)
{
    if (!s) return 0;
    size_t len = strlen(s);
    const char *at = strchr(s, '@');
    if (len < 3 || len > 254 || !at || at == s || strchr(at + 1, '@')) return 0;
    const char *dot = strrchr(at, '.');
    if (!dot || dot == at + 1 || !dot[1]) return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == '<' || *p == '>' || *p == '"' || *p == ',' || *p == ';' || *p == '\\' || *p == 0x7f)
            return 0;
    return 1;
}

static int valid_e164(const char *s)
{
    if (!s || s[0] != '+') return 0;
    size_t n = 0;
    for (const char *p = s + 1; *p; p++, n++)
        if (!isdigit((unsigned char)*p)) return 0;
    return n >= 8 && n <= 15 && s[1] != '0';
}

static int truthy(const char *v)
{
    return v && (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "1.0"));
}

static void iso_week(cc_date d, char out[16])
{
    int64_t days = clock_days_from_civil(d);
    int64_t wd = ((days + 3) % 7 + 7) % 7 + 1;   /* 1 = Monday; 1970-01-01 was a Thursday */
    int64_t thursday = days - wd + 4;
    cc_date td = clock_civil_from_days(thursday);
    cc_date jan1 = {td.year, 1, 1};
    int64_t week = (thursday - clock_days_from_civil(jan1)) / 7 + 1;
    snprintf(out, 16, "%04u-W%02u", (unsigned)td.year % 10000u, (unsigned)week % 100u);
}

/* The wall time of instant `t` in `zone`, "YYYY-MM-DD HH:MM:SS": the form
 * date-time expressions compare in. */
static void local_wall_time(const char *zone, int64_t t, char out[20])
{
    cc_date d;
    int h = 0, m = 0, s = 0;
    clock_utc_to_local(zone, t, &d, &h, &m, &s, NULL);
    char day[11];
    clock_format_date(d, day);
    snprintf(out, 20, "%s %02u:%02u:%02u", day, (unsigned)h % 100u, (unsigned)m % 100u, (unsigned)s % 100u);
}

/* A column as a typed template variable: numbers stay numbers, so
 * templates compare them as numbers.  The type is read before the text:
 * sqlite3_column_text() may convert the value in place. */
static void set_column_var(tpl_vars *vars, const char *name, sqlite3_stmt *st, int i)
{
    int type = sqlite3_column_type(st, i);
    tpl_type t = type == SQLITE_INTEGER ? TPL_INT : type == SQLITE_FLOAT ? TPL_REAL : type == SQLITE_NULL ? TPL_NULL : TPL_TEXT;
    tpl_vars_set_typed(vars, name, t, (const char *)sqlite3_column_text(st, i));
}

/* The variable names of a statement's columns under a prefix
 * ("customer.email"), made once per statement rather than per row. */
typedef struct {
    char **names;
    int n;
} col_names;

static void col_names_make(col_names *cn, sqlite3_stmt *st, const char *prefix)
{
    if (cn->names) return;
    cn->n = sqlite3_column_count(st);
    cn->names = xcalloc((size_t)cn->n + 1, sizeof *cn->names);
    for (int i = 0; i < cn->n; i++) cn->names[i] = xasprintf("%s.%s", prefix, sqlite3_column_name(st, i));
}

static void col_names_free(col_names *cn)
{
    for (int i = 0; i < cn->n; i++) free(cn->names[i]);
    free(cn->names);
    memset(cn, 0, sizeof *cn);
}

/* A row's values, fetched by primary key, as template variables: under
 * `prefix`, then (when `prefix2` is set) all again under `prefix2` (the
 * customer as the row of a customers campaign), from one look-up. */
static void load_row(sqlite3_stmt *st, const char *id, col_names *cn, const char *prefix, col_names *cn2,
                     const char *prefix2, tpl_vars *vars)
{
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) return;
    col_names_make(cn, st, prefix);
    for (int i = 0; i < cn->n; i++) set_column_var(vars, cn->names[i], st, i);
    if (!prefix2) return;
    col_names_make(cn2, st, prefix2);
    for (int i = 0; i < cn2->n; i++) set_column_var(vars, cn2->names[i], st, i);
}

/* ---- the plan list ------------------------------------------------------ */

static plan_item *new_item(plan_list *pl)
{
    if (pl->n == pl->cap) {
        pl->cap = pl->cap ? pl->cap * 2 : 64;
        pl->items = xrealloc(pl->items, pl->cap * sizeof *pl->items);
    }
    plan_item *it = &pl->items[pl->n++];
    memset(it, 0, sizeof *it);
    return it;
}

static void item_free(plan_item *it)
{
    free(it->row_id);
    free(it->customer_id);
    free(it->occurrence);
    free(it->to);
    free(it->to_name);
    free(it->locale);
    free(it->subject);
    free(it->body_text);
    free(it->body_html);
    free(it->sms_text);
    free(it->unsubscribe_url);
}

void plan_list_free(plan_list *pl)
{
    for (size_t i = 0; i < pl->n; i++) item_free(&pl->items[i]);
    free(pl->items);
    memset(pl, 0, sizeof *pl);
}

/* ---- the planner's state for one run ------------------------------------ */

/* A remembered compute_send_after() answer. */
typedef struct {
    int used, has_tz, send_at;
    char tz[64], day[11];
    int64_t t;
    char iso[32], zone[64];
} send_memo;

/* Suppressions by address and by customer id: each key with whether
 * any of its entries has scope 'all'.  Open addressing; key NULL = empty. */
typedef struct {
    char *key;
    size_t len;
    int all;
} suppression_key;

typedef struct {
    suppression_key *slots;
    size_t cap, n;
} suppression_set;

typedef enum { SUP_UNREAD, SUP_IN_MEMORY, SUP_BY_QUERY } suppression_mode;

typedef struct {
    suppression_mode mode;
    suppression_set by_address, by_customer;
} suppression_list;

typedef struct {
    sqlite3 *db;
    const cc_config *cfg;
    const cc_clock *clk;
    send_memo memo[16];
    unsigned memo_next;
    cc_diags *diags;
    render_set *templates;
    sqlite3_stmt *get_customer;
    sqlite3_stmt *seen;            /* ledger lookup */
    sqlite3_stmt *last_occurrence; /* for repeat: after N days */
    sqlite3_stmt *suppressed;
    sqlite3_stmt *all_suppressions;
    suppression_list sup;          /* the current audience query's list, when short */
    col_names customer_cols, customer_row_cols, row_cols;   /* row_cols: the current step's table */
    /* customer.EMAIL, customer.PHONE, ... with the configured column names */
    char *key_email, *key_phone, *key_opt_email, *key_opt_sms, *key_preferred, *key_locale, *key_tz;
    char today[11];
    char now_local[20];            /* business-zone wall time, "YYYY-MM-DD HH:MM:SS" */
    plan_stats stats;
    const plan_filter *trig;       /* `carecast trigger`: its filter; NULL when planning normally */
    /* plan_compute_stream: final items are handed to emit() and freed */
    void (*emit)(void *arg, const plan_item *it);
    void *emit_arg;
    policy_state *policy;
    const char *assignee;          /* the current row's `assignee` value (task channel), borrowed */
    expr_column_log *columns;      /* lint -v: the columns expressions read; NULL otherwise */
} planner;

static void suppressions_forget(suppression_list *l);

static int prepare(planner *p, const char *sql, sqlite3_stmt **st)
{
    p->stats.prepared++;
    if (sqlite3_prepare_v2(p->db, sql, -1, st, NULL) != SQLITE_OK) {
        cc_diag(p->diags, NULL, 0, 0, "carecast: database error: %s", sqlite3_errmsg(p->db));
        return -1;
    }
    return 0;
}

static int planner_open(planner *p)
{
    cc_buf sql = CC_BUF_INIT;
    cc_buf_puts(&sql, "SELECT * FROM ");
    db_quote_ident(p->cfg->customers.table, &sql);
    /* No CAST on the column: the bound text takes the column's affinity,
     * so integer ids match too and the primary key index is used. */
    cc_buf_puts(&sql, " WHERE ");
    db_quote_ident(p->cfg->customers.id, &sql);
    cc_buf_puts(&sql, " = ?");
    int rc = 0;
    int cl = 0, cc = 0;
    if (!db_table_exists(p->db, p->cfg->customers.table) && config_locate(p->cfg, "customers.table", &cl, &cc)) {
        cc_diag(p->diags, p->cfg->path, cl, cc, "error: customers.table: the database has no table '%s'",
                p->cfg->customers.table);
        rc = -1;
    } else if (!db_table_exists(p->db, p->cfg->customers.table)) {
        cc_diag(p->diags, p->cfg->path ? p->cfg->path : NULL, 0, 0,
                "%serror: the database has no customers table '%s' (import one with 'carecast import %s FILE.csv', "
                "or make demo data with 'carecast demo-data')",
                p->cfg->path ? "" : "carecast: ", p->cfg->customers.table, p->cfg->customers.table);
        rc = -1;
    }
    /* A column mapping the file sets must name a column: a typo would
     * otherwise read as "no address" for every customer. */
    const struct { const char *key, *col; } mapped[] = {
        {"customers.id", p->cfg->customers.id}, {"customers.email", p->cfg->customers.email},
        {"customers.phone", p->cfg->customers.phone}, {"customers.birth_date", p->cfg->customers.birth_date},
        {"customers.locale", p->cfg->customers.locale}, {"customers.timezone", p->cfg->customers.timezone},
        {"customers.email_opt_in", p->cfg->customers.email_opt_in},
        {"customers.sms_opt_in", p->cfg->customers.sms_opt_in},
        {"customers.preferred_channel", p->cfg->customers.preferred_channel}};
    for (size_t i = 0; !rc && i < sizeof mapped / sizeof mapped[0]; i++)
        if (mapped[i].col && config_locate(p->cfg, mapped[i].key, &cl, &cc) &&
            !db_has_column(p->db, p->cfg->customers.table, mapped[i].col)) {
            cc_diag(p->diags, p->cfg->path, cl, cc, "error: %s: table '%s' has no column '%s'", mapped[i].key,
                    p->cfg->customers.table, mapped[i].col);
            rc = -1;
        }
    if (!rc && p->cfg->unsubscribe.url && (!p->cfg->unsubscribe.secret || !*p->cfg->unsubscribe.secret)) {
        /* Unsigned links would let anyone unsubscribe anyone: refuse,
         * where the secret is named when it names an unset variable. */
        const cc_unset_secret *u = config_unset_secret(p->cfg, "unsubscribe.");
        if (u)
            cc_diag(p->diags, p->cfg->path, u->line, u->col,
                    "error: unsubscribe.url is set but its secret is empty: the environment variable %s (named by %s) "
                    "is not set, or empty", u->var, u->key);
        else
        cc_diag(p->diags, p->cfg->path, 0, 0,
                "%serror: unsubscribe.url is set but its secret is empty: set the variable named by "
                "unsubscribe.secret_env, or unsubscribe.secret_file", p->cfg->path ? "" : "carecast: ");
        rc = -1;
    }
    if (!rc) rc = prepare(p, cc_buf_str(&sql), &p->get_customer);
    const cc_config *cfg = p->cfg;
    p->key_email = xasprintf("customer.%s", cfg->customers.email);
    p->key_phone = xasprintf("customer.%s", cfg->customers.phone);
    p->key_opt_email = xasprintf("customer.%s", cfg->customers.email_opt_in);
    p->key_opt_sms = xasprintf("customer.%s", cfg->customers.sms_opt_in);
    p->key_preferred = xasprintf("customer.%s", cfg->customers.preferred_channel);
    p->key_locale = xasprintf("customer.%s", cfg->customers.locale);
    p->key_tz = xasprintf("customer.%s", cfg->customers.timezone);
    cc_buf_free(&sql);
    if (!rc) rc = prepare(p, "SELECT 1 FROM care_occurrences WHERE campaign=? AND step=? AND row_id=? AND occurrence=?", &p->seen);
    if (!rc) rc = prepare(p, "SELECT max(occurrence) FROM care_occurrences WHERE campaign=? AND step=? AND row_id=?", &p->last_occurrence);
    if (!rc) rc = prepare(p, "SELECT max(scope = 'all') FROM care_suppressions WHERE address = lower(?1) OR customer_id = ?2", &p->suppressed);
    if (!rc) rc = prepare(p, "SELECT address, customer_id, scope = 'all' FROM care_suppressions", &p->all_suppressions);
    return rc;
}

static void planner_close(planner *p)
{
    sqlite3_finalize(p->get_customer);
    sqlite3_finalize(p->seen);
    sqlite3_finalize(p->last_occurrence);
    sqlite3_finalize(p->suppressed);
    sqlite3_finalize(p->all_suppressions);
    suppressions_forget(&p->sup);
    col_names_free(&p->customer_cols);
    col_names_free(&p->customer_row_cols);
    col_names_free(&p->row_cols);
    free(p->key_email);
    free(p->key_phone);
    free(p->key_opt_email);
    free(p->key_opt_sms);
    free(p->key_preferred);
    free(p->key_locale);
    free(p->key_tz);
    render_close(p->templates);
}

static int already_planned(planner *p, const char *camp, const char *step, const char *row, const char *occ)
{
    sqlite3_reset(p->seen);
    sqlite3_bind_text(p->seen, 1, camp, -1, SQLITE_STATIC);
    sqlite3_bind_text(p->seen, 2, step, -1, SQLITE_STATIC);
    sqlite3_bind_text(p->seen, 3, row, -1, SQLITE_STATIC);
    sqlite3_bind_text(p->seen, 4, occ, -1, SQLITE_STATIC);
    return sqlite3_step(p->seen) == SQLITE_ROW;
}

/* ---- suppressions -------------------------------------------------------- */

/* An audience query holds its read transaction open while its rows are
 * planned, so every per-row look-up in care_suppressions sees the same
 * list.  When that list is short it is read once, at the first look-up of
 * the query, and answered from memory; a long one is asked row by row. */
enum { SUPPRESSIONS_IN_MEMORY = 100000 };

static suppression_key *set_slot(const suppression_set *set, const char *k, size_t n)
{
    size_t mask = set->cap - 1;
    for (size_t i = (size_t)cc_hash_bytes(k, n) & mask;; i = (i + 1) & mask) {
        suppression_key *e = &set->slots[i];
        if (!e->key || (e->len == n && !memcmp(e->key, k, n))) return e;
    }
}

static void set_add(suppression_set *set, const char *k, size_t n, int all)
{
    if (2 * (set->n + 1) > set->cap) {
        suppression_set bigger = {xcalloc(set->cap ? 2 * set->cap : 64, sizeof(suppression_key)),
                                  set->cap ? 2 * set->cap : 64, set->n};
        for (size_t i = 0; i < set->cap; i++)
            if (set->slots[i].key) *set_slot(&bigger, set->slots[i].key, set->slots[i].len) = set->slots[i];
        free(set->slots);
        *set = bigger;
    }
    suppression_key *e = set_slot(set, k, n);
    if (!e->key) {
        e->key = xmalloc(n + 1);
        memcpy(e->key, k, n);
        e->key[n] = '\0';
        e->len = n;
        set->n++;
    }
    e->all |= all;
}

/* -1 absent, else whether an entry for `k` has scope 'all'. */
static int set_get(const suppression_set *set, const char *k, size_t n)
{
    if (!set->n) return -1;
    const suppression_key *e = set_slot(set, k, n);
    return e->key ? e->all : -1;
}

static void set_free(suppression_set *set)
{
    for (size_t i = 0; i < set->cap; i++) free(set->slots[i].key);
    free(set->slots);
    memset(set, 0, sizeof *set);
}

/* Read afresh at the next look-up (a new audience query: a new read). */
static void suppressions_forget(suppression_list *l)
{
    set_free(&l->by_address);
    set_free(&l->by_customer);
    l->mode = SUP_UNREAD;
}

static void suppressions_read(planner *p)
{
    suppression_list *l = &p->sup;
    sqlite3_stmt *st = p->all_suppressions;
    sqlite3_reset(st);
    size_t rows = 0;
    l->mode = SUP_IN_MEMORY;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (++rows > SUPPRESSIONS_IN_MEMORY) {
            suppressions_forget(l);
            l->mode = SUP_BY_QUERY;
            break;
        }
        int all = sqlite3_column_int(st, 2);
        /* Only text equals the bound text of the look-up (a BLOB never does). */
        if (sqlite3_column_type(st, 0) == SQLITE_TEXT)
            set_add(&l->by_address, (const char *)sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0), all);
        if (sqlite3_column_type(st, 1) == SQLITE_TEXT)
            set_add(&l->by_customer, (const char *)sqlite3_column_text(st, 1), (size_t)sqlite3_column_bytes(st, 1), all);
    }
    sqlite3_reset(st);
}

/* -1 not suppressed, 0 suppressed for marketing, 1 suppressed for all.
 * Addresses are stored lower-case (email is case-insensitive in practice):
 * the look-up lowers the address as SQLite's lower() does, ASCII only. */
static int suppression(planner *p, const char *address, const char *customer)
{
    if (p->sup.mode == SUP_UNREAD) suppressions_read(p);
    if (p->sup.mode == SUP_IN_MEMORY) {
        int r = -1;
        if (address) {
            size_t n = strlen(address);
            char small[128], *low = n < sizeof small ? small : xmalloc(n + 1);
            for (size_t i = 0; i <= n; i++)
                low[i] = address[i] >= 'A' && address[i] <= 'Z' ? (char)(address[i] + ('a' - 'A')) : address[i];
            r = set_get(&p->sup.by_address, low, n);
            if (low != small) free(low);
        }
        if (customer) {
            int c = set_get(&p->sup.by_customer, customer, strlen(customer));
            if (c > r) r = c;
        }
        return r;
    }
    sqlite3_reset(p->suppressed);
    sqlite3_bind_text(p->suppressed, 1, address, -1, SQLITE_STATIC);
    sqlite3_bind_text(p->suppressed, 2, customer, -1, SQLITE_STATIC);
    if (sqlite3_step(p->suppressed) != SQLITE_ROW || sqlite3_column_type(p->suppressed, 0) == SQLITE_NULL) return -1;
    return sqlite3_column_int(p->suppressed, 0);
}

/* ---- schedule and active window ----------------------------------------- */

static int schedule_allows(const planner *p, const cc_campaign *c, int include_manual)
{
    if (c->active_from && strcmp(p->today, c->active_from) < 0) return 0;
    if (c->active_until && strcmp(p->today, c->active_until) > 0) return 0;
    const char *s = c->schedule;
    if (!s) return 1;
    if (!strcmp(s, "manual")) return include_manual;
    const char *hhmm = strrchr(s, ' ');
    if (!hhmm || strcmp(p->now_local + 11, hhmm + 1) < 0) return 0; /* "HH:MM" vs "HH:MM:SS" */
    cc_date today;
    clock_parse_date(p->today, &today);
    int64_t wd = ((clock_days_from_civil(today) + 3) % 7 + 7) % 7; /* 0 = Monday */
    static const char *const names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    if (!strncmp(s, "daily ", 6)) return 1;
    if (!strncmp(s, "weekdays ", 9)) return wd < 5;
    if (!strncmp(s, "weekly ", 7)) return strstr(s + 7, names[wd]) != NULL && strstr(s + 7, names[wd]) < hhmm;
    if (!strncmp(s, "monthly ", 8)) return strtol(s + 8, NULL, 10) == today.day;
    if (!strncmp(s, "once ", 5)) return !strncmp(s + 5, p->today, 10);
    return 0;
}

/* ---- channel choice ----------------------------------------------------- */

typedef struct {
    const char *email, *phone, *opt_email, *opt_sms, *preferred, *name, *first_name, *locale, *tz;
} contact;

static const char *reason_rank[] = {"no-address", "suppressed", "no-consent"};

/* Is `channel` eligible?  NULL when it is, else the reason. */
static const char *ineligible(planner *p, const cc_campaign *c, const char *channel, const contact *ct,
                              const char *customer_id)
{
    const char *addr = !strcmp(channel, "email") ? ct->email : ct->phone;
    if (!strcmp(channel, "email") ? !valid_email(addr) : !valid_e164(addr)) return reason_rank[0];
    int sup = suppression(p, addr, customer_id);
    if (sup == 1 || (sup == 0 && c->is_marketing)) return reason_rank[1];
    if (c->is_marketing && !truthy(!strcmp(channel, "email") ? ct->opt_email : ct->opt_sms)) return reason_rank[2];
    return NULL;
}

/* The `task` channel: the "address" is the assignee, a member of staff,
 * so it must be a valid email (the digest goes there).  Consent is the
 * customer's say over messages to them, and a task is not one; but a
 * suppression of the customer (by customer id) still blocks it as it
 * would any channel: scope `all` (erasure) always, `marketing` for
 * marketing campaigns. */
static const char *task_ineligible(planner *p, const cc_campaign *c, const char *customer_id)
{
    if (!valid_email(p->assignee)) return reason_rank[0];
    int sup = suppression(p, NULL, customer_id);
    if (sup == 1 || (sup == 0 && c->is_marketing)) return reason_rank[1];
    return NULL;
}

/* ---- building messages -------------------------------------------------- */

static void append_sms_extras(planner *p, const cc_campaign *c, const char *locale, cc_buf *text)
{
    const cc_config *cfg = p->cfg;
    if (c->is_marketing) {
        int zh = locale && !strncmp(locale, "zh", 2);
        const char *hint = zh ? cfg->sms.opt_out_zh : cfg->sms.opt_out_en;
        if (!hint) hint = zh ? "回T退订" : "Reply STOP to opt out";
        cc_buf_printf(text, "%s%s", zh ? "" : " ", hint);
    }
}

static cc_code render_into(planner *p, const cc_campaign *c, const cc_step *st, plan_item *it,
                           const tpl_vars *vars)
{
    rendered r;
    cc_code rc = render_message(p->templates, st->template_name, it->channel, it->locale, vars, &r, p->diags);
    if (rc == CC_ERR_NOT_FOUND) {
        cc_diag(p->diags, c->file, st->line, st->col, "error: step '%s': no %s template '%s/%s.%s.liquid'",
                st->name, it->channel, p->cfg->templates, st->template_name, it->channel);
        return CC_ERR_INPUT;
    }
    if (rc != CC_OK) return rc;
    if (!strcmp(it->channel, "email") || !strcmp(it->channel, "task")) {
        it->subject = r.subject;
        it->body_text = r.text;
        it->body_html = r.html;
        memset(&r, 0, sizeof r);
    } else {
        /* Carriers in China require the signature at the start: 【关怀银行】text. */
        cc_buf text = CC_BUF_INIT;
        const char *sig = p->cfg->sms.signature;
        size_t tl = strlen(r.text);
        while (tl > 0 && (r.text[tl - 1] == '\n' || r.text[tl - 1] == '\r')) r.text[--tl] = '\0';
        if (sig) cc_buf_puts(&text, sig);
        cc_buf_puts(&text, r.text);
        append_sms_extras(p, c, it->locale, &text);
        it->sms_text = cc_buf_take(&text);
        /* An SMS over max_segments costs a fortune and reads badly: it is
         * not sent on this channel, and the planner says so. */
        sms_info info;
        int max = c->max_segments ? c->max_segments : p->cfg->sms.max_segments;
        if (sms_analyse(it->sms_text, &info) != CC_OK) {
            cc_diag(p->diags, c->file, st->line, st->col,
                    "warning: campaign '%s' step '%s' customer %s: the SMS text is not valid UTF-8; not sent by SMS",
                    c->id, st->name, it->customer_id ? it->customer_id : "?");
            rendered_free(&r);
            return CC_ERR_PERMANENT;
        }
        if (max > 0 && info.segments > max) {
            cc_diag(p->diags, c->file, st->line, st->col,
                    "warning: campaign '%s' step '%s' customer %s: the SMS is %d segments (%s), over max_segments %d; "
                    "not sent by SMS",
                    c->id, st->name, it->customer_id ? it->customer_id : "?", info.segments,
                    sms_encoding_name(info.encoding), max);
            rendered_free(&r);
            return CC_ERR_PERMANENT;
        }
    }
    rendered_free(&r);
    return CC_OK;
}

/* When may the message for occurrence `occ` go?  send_at is customer-local
 * on the day the occurrence became due; without it, now.  The answer
 * depends only on the customer's zone, the occurrence's day and the step's
 * send_at, which most due rows share: the last few answers are kept
 * (time zone conversions cost microseconds each). */
static void compute_send_after_uncached(planner *p, const cc_step *st, const char *occ, const contact *ct,
                                        plan_item *it);

static void compute_send_after(planner *p, const cc_step *st, const char *occ, const contact *ct, plan_item *it)
{
    const char *tz = ct->tz ? ct->tz : "";
    size_t tzl = strlen(tz);
    char day[11] = "";
    if (strlen(occ) >= 10) {
        memcpy(day, occ, 10);
        day[10] = '\0';
    }
    if (tzl >= sizeof p->memo[0].tz) {
        compute_send_after_uncached(p, st, occ, ct, it);
        return;
    }
    for (size_t i = 0; i < sizeof p->memo / sizeof p->memo[0]; i++) {
        const send_memo *m = &p->memo[i];
        if (m->used && m->send_at == st->send_at_minutes && m->has_tz == (ct->tz != NULL) && !strcmp(m->day, day) &&
            !strcmp(m->tz, tz)) {
            it->send_after = m->t;
            memcpy(it->send_after_iso, m->iso, sizeof it->send_after_iso);
            memcpy(it->zone, m->zone, sizeof it->zone);
            return;
        }
    }
    compute_send_after_uncached(p, st, occ, ct, it);
    send_memo *m = &p->memo[p->memo_next++ % (sizeof p->memo / sizeof p->memo[0])];
    m->used = 1;
    m->send_at = st->send_at_minutes;
    m->has_tz = ct->tz != NULL;
    memcpy(m->tz, tz, tzl + 1);
    memcpy(m->day, day, sizeof m->day);
    m->t = it->send_after;
    memcpy(m->iso, it->send_after_iso, sizeof m->iso);
    memcpy(m->zone, it->zone, sizeof m->zone);
}

static void compute_send_after_uncached(planner *p, const cc_step *st, const char *occ, const contact *ct,
                                        plan_item *it)
{
    const char *zone = ct->tz && clock_zone_valid(ct->tz) ? ct->tz : p->clk->zone;
    int64_t t = p->clk->now;
    cc_date d;
    if (p->trig) {
        /* A trigger sends now (quiet hours may still hold it). */
    } else if (st->send_at_minutes >= 0 && strlen(occ) >= 10) {
        char day[11];
        memcpy(day, occ, 10);
        day[10] = '\0';
        if (clock_parse_date(day, &d) == 0)
            clock_local_to_utc(zone, d, st->send_at_minutes / 60, st->send_at_minutes % 60, 0, &t);
        else
            clock_local_to_utc(zone, p->clk->today, st->send_at_minutes / 60, st->send_at_minutes % 60, 0, &t);
        /* A catch-up (an occurrence of a day before the one it is planned
         * on: cron was down, the campaign is new, grace still allows it)
         * goes at send_at of the planning day, customer-local, or at once
         * when that has passed too: never at the hour the run happens to
         * start.  Days are business days, as occurrences are. */
        if (t < p->clk->now && clock_parse_date(day, &d) == 0 &&
            clock_days_from_civil(d) < clock_days_from_civil(p->clk->today)) {
            int64_t today_t;
            if (clock_local_to_utc(zone, p->clk->today, st->send_at_minutes / 60, st->send_at_minutes % 60, 0,
                                   &today_t) == CC_OK)
                t = today_t > p->clk->now ? today_t : p->clk->now;
        }
    } else if (st->send_at_minutes >= 0) {
        clock_local_to_utc(zone, p->clk->today, st->send_at_minutes / 60, st->send_at_minutes % 60, 0, &t);
    }
    it->send_after = t;
    clock_format_instant(zone, t, it->send_after_iso);
    snprintf(it->zone, sizeof it->zone, "%s", zone);
}

/* Everything for one due (row, occurrence): channel(s), content, status. */
/* The row and customer columns the audience query itself selected (see
 * fold in compile_step), from column `k` on: for each table a flag "found"
 * then its columns, as load_row would have set them. */
static void load_folded(planner *p, sqlite3_stmt *aud, int k, sqlite3_stmt *row_stmt, tpl_vars *vars)
{
    if (row_stmt) {
        col_names_make(&p->row_cols, row_stmt, "row");
        if (sqlite3_column_int(aud, k))
            for (int i = 0; i < p->row_cols.n; i++) set_column_var(vars, p->row_cols.names[i], aud, k + 1 + i);
        k += 1 + p->row_cols.n;
    }
    if (!sqlite3_column_int(aud, k)) return;
    col_names_make(&p->customer_cols, p->get_customer, "customer");
    for (int i = 0; i < p->customer_cols.n; i++) set_column_var(vars, p->customer_cols.names[i], aud, k + 1 + i);
    if (row_stmt) return;
    col_names_make(&p->customer_row_cols, p->get_customer, "row");
    for (int i = 0; i < p->customer_row_cols.n; i++)
        set_column_var(vars, p->customer_row_cols.names[i], aud, k + 1 + i);
}

/* Holdout: a stable share of customers never receives this campaign. */
int plan_held_out(const cc_campaign *c, const char *customer_id)
{
    return c->holdout > 0 && (double)(cc_hash(c->id, customer_id, NULL) % 10000) < c->holdout * 100.0;
}

static cc_code plan_due(planner *p, const cc_campaign *c, size_t si, const char *row_id, const char *customer_id,
                        const char *occ, tpl_vars *vars, sqlite3_stmt *row_stmt, sqlite3_stmt *aud, int fold_col,
                        plan_list *out)
{
    const cc_step *st = &c->steps[si];
    if (fold_col >= 0) {
        load_folded(p, aud, fold_col, row_stmt, vars);
    } else {
        if (row_stmt) load_row(row_stmt, row_id, &p->row_cols, "row", NULL, NULL, vars);
        load_row(p->get_customer, customer_id ? customer_id : "", &p->customer_cols, "customer",
                 row_stmt ? NULL : &p->customer_row_cols, row_stmt ? NULL : "row", vars);
    }
    /* Borrowed from the variables: the customer.* values are not set
     * again below, and the variables' strings never move. */
    const char *email = tpl_vars_get(vars, p->key_email, NULL), *phone = tpl_vars_get(vars, p->key_phone, NULL),
               *opt_e = tpl_vars_get(vars, p->key_opt_email, NULL), *opt_s = tpl_vars_get(vars, p->key_opt_sms, NULL);
    const char *pref = tpl_vars_get(vars, p->key_preferred, NULL), *locale = tpl_vars_get(vars, p->key_locale, NULL),
               *tz = tpl_vars_get(vars, p->key_tz, NULL);
    const char *name = tpl_vars_get(vars, "customer.name", NULL);
    contact ct = {email, phone, opt_e, opt_s, pref, name, NULL, locale, tz};
    tpl_vars_set(vars, "occurrence", occ);

    int held = plan_held_out(c, customer_id);
    const char *first_reason = NULL;
    int chosen = 0;
    cc_code rc = CC_OK;
    for (size_t k = 0; k < st->n_channels && rc == CC_OK; k++) {
        const char *ch = st->channels[k];
        if (!strcmp(ch, "preferred")) {
            if (!pref || (strcmp(pref, "email") && strcmp(pref, "sms"))) continue;
            ch = !strcmp(pref, "email") ? "email" : "sms";
        }
        /* Each channel once, even when `preferred` repeats one. */
        int dup = 0;
        for (size_t q = out->n; q-- > 0 && out->items[q].campaign == c && !strcmp(out->items[q].row_id, row_id) &&
                                !strcmp(out->items[q].occurrence, occ) && out->items[q].step_index == si;)
            dup |= out->items[q].channel && !strcmp(out->items[q].channel, ch);
        if (dup) continue;
        const char *why = !strcmp(ch, "task") ? task_ineligible(p, c, customer_id) : ineligible(p, c, ch, &ct, customer_id);
        if (why) {
            /* The reason reported is the most basic one met. */
            if (!first_reason) first_reason = why;
            continue;
        }
        plan_item *it = new_item(out);
        it->campaign = c;
        it->step_index = si;
        it->row_id = xstrdup(row_id);
        it->customer_id = xstrdup(customer_id);
        it->occurrence = xstrdup(occ);
        it->channel = !strcmp(ch, "email") ? "email" : !strcmp(ch, "task") ? "task" : "sms";
        it->to = xstrdup(!strcmp(ch, "email") ? email : !strcmp(ch, "task") ? p->assignee : phone);
        it->to_name = xstrdup(name);
        it->locale = xstrdup(locale);
        compute_send_after(p, st, occ, &ct, it);
        if (held) {
            it->status = "holdout";
        } else {
            it->status = "planned";
            /* Marketing email carries a signed one-click unsubscribe link
             * (RFC 8058), also offered to templates as unsubscribe_url. */
            if (c->is_marketing && !strcmp(it->channel, "email") && p->cfg->unsubscribe.url)
                it->unsubscribe_url = unsubscribe_url(p->cfg->unsubscribe.url, p->cfg->unsubscribe.secret,
                                                      customer_id, it->to);
            tpl_vars_set(vars, "unsubscribe_url", it->unsubscribe_url);
            rc = render_into(p, c, st, it, vars);
            if (rc == CC_ERR_PERMANENT) {
                /* This channel cannot carry the message: try the next. */
                item_free(it);
                out->n--;
                if (!first_reason) first_reason = "too-long";
                rc = CC_OK;
                continue;
            }
        }
        chosen++;
        if (!c->deliver_all || held) break;
    }
    if (!chosen && rc == CC_OK) {
        plan_item *it = new_item(out);
        it->campaign = c;
        it->step_index = si;
        it->row_id = xstrdup(row_id);
        it->customer_id = xstrdup(customer_id);
        it->occurrence = xstrdup(occ);
        it->status = held ? "holdout" : "skipped";
        it->reason = held ? NULL : first_reason ? first_reason : "no-address";
        it->to_name = xstrdup(name);
        it->locale = xstrdup(locale);
        compute_send_after(p, st, occ, &ct, it);
    }
    return rc;
}

/* ---- the audience query ------------------------------------------------- */

/* Where an audience query looks for occurrences: dates compare as ISO text
 * in [lo, hi], date-times (business-zone wall times) in [lo_dt, hi_dt]. */
typedef struct {
    char lo[11], hi[11];
    char lo_dt[20], hi_dt[20];
    int fold;                      /* bring the row's and customer's columns along (planning does) */
} due_window;

typedef struct {
    expr_ctx x;
    cc_buf sql;
    expr_type when_type;
    int n_vars;
    int has_assignee;              /* the column after the vars is the step's `assignee` */
    int fold_col;                  /* where the folded row and customer columns start; -1 = none */
} step_query;

/* Is `col` the whole primary key of `table`?  Then a look-up by it finds
 * at most one row. */
static int sole_primary_key(sqlite3 *db, const char *table, const char *col)
{
    sqlite3_stmt *st = NULL;
    int pk = 0, match = 0;
    if (sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info(?) WHERE pk > 0", -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *n = (const char *)sqlite3_column_text(st, 0);
        pk++;
        match |= n && !strcasecmp(n, col);
    }
    sqlite3_finalize(st);
    return pk == 1 && match;
}

/* A trigger's own conditions: the customers named, and its --where, which
 * compiles like audience.where (its literals become bound parameters). */
static cc_code compile_trigger(planner *p, const cc_campaign *c, int is_customers, expr_ctx *x, cc_buf *s)
{
    const plan_filter *f = p->trig;
    if (f->n_customers) {
        /* The column itself (no CAST) so its affinity applies to the bound
         * text and the index is used. */
        cc_buf_puts(s, " AND r.");
        db_quote_ident(is_customers ? p->cfg->customers.id : "customer_id", s);
        cc_buf_puts(s, " IN (");
        x->params = xrealloc(x->params, (x->n_params + f->n_customers) * sizeof *x->params);
        for (size_t i = 0; i < f->n_customers; i++) {
            cc_buf_printf(s, "%s?%zu", i ? ", " : "", x->n_params + 1);
            x->params[x->n_params++] = (expr_param){1, xstrdup(f->customers[i]), 0};
        }
        cc_buf_puts(s, ")");
    }
    if (!f->where) return CC_OK;
    const char *file = x->file;
    x->file = "--where";
    x->line = 1;
    x->col = 1;
    expr_type t;
    cc_buf_puts(s, " AND (");
    cc_code rc = expr_compile(x, f->where, s, &t);
    cc_buf_puts(s, ")");
    x->file = file;
    if (rc == CC_OK && t != ET_BOOL && t != ET_UNKNOWN && t != ET_NULL) {
        cc_diag(p->diags, "--where", 1, 1, "error: --where must be a condition (true or false), and this is %s",
                expr_type_name(t));
        rc = CC_ERR_INPUT;
    }
    (void)c;
    return rc;
}

cc_code plan_trigger_where_meaning(sqlite3 *db, const cc_config *cfg, const cc_campaign *c, const char *where,
                                   cc_buf *out, cc_diags *diags)
{
    if (!db_table_exists(db, c->from_table)) {
        cc_diag(diags, c->file, c->from_line ? c->from_line : 1, c->from_col ? c->from_col : 1,
                "error: audience table '%s' does not exist in the database", c->from_table);
        return CC_ERR_INPUT;
    }
    /* The context compile_trigger has, so names resolve to the same
     * columns; the clock by name, so the meaning is the same every day. */
    expr_ctx x = {.db = db, .cfg = cfg, .table = c->from_table,
                  .has_customer = strcmp(c->from_table, cfg->customers.table) != 0, .today = "", .file = "--where",
                  .line = 1, .col = 1, .diags = diags, .clock_by_name = 1};
    cc_buf sql = CC_BUF_INIT;
    expr_type t;
    cc_code rc = expr_compile(&x, where, &sql, &t);
    if (rc == CC_OK && t != ET_BOOL && t != ET_UNKNOWN && t != ET_NULL) {
        cc_diag(diags, "--where", 1, 1, "error: --where must be a condition (true or false), and this is %s",
                expr_type_name(t));
        rc = CC_ERR_INPUT;
    }
    if (rc == CC_OK) expr_meaning(&x, cc_buf_str(&sql), out);
    cc_buf_free(&sql);
    expr_ctx_free(&x);
    return rc;
}

/* Is `sql` one call of `fn` as a whole ("date(r.x, ?1)")?  Then fn(sql)
 * is sql itself: date() and datetime() read their own output back
 * unchanged, so wrapping it again only doubles the work per row. */
static int whole_call(const char *sql, const char *fn)
{
    size_t n = strlen(fn);
    if (strncmp(sql, fn, n) != 0 || sql[n] != '(') return 0;
    int depth = 0;
    char quote = 0;
    for (const char *p = sql + n; *p; p++) {
        if (quote) {
            if (*p == quote) quote = 0;
        } else if (*p == '\'' || *p == '"') {
            quote = *p;
        } else if (*p == '(') {
            depth++;
        } else if (*p == ')' && --depth == 0) {
            return p[1] == '\0';
        }
    }
    return 0;
}

/* fn(sql), unless sql is already such a call. */
static void put_wrapped(cc_buf *s, const char *fn, const char *sql)
{
    if (whole_call(sql, fn)) {
        cc_buf_puts(s, sql);
    } else {
        cc_buf_printf(s, "%s(%s)", fn, sql);
    }
}

static int64_t window_days(const due_window *w)
{
    cc_date lo, hi;
    if (clock_parse_date(w->lo, &lo) != 0 || clock_parse_date(w->hi, &hi) != 0) return 0;
    return clock_days_from_civil(hi) - clock_days_from_civil(lo) + 1;
}

/* `w` NULL: the query is only compiled (lint), with no window. */
static cc_code compile_step(planner *p, const cc_campaign *c, const cc_step *st, step_query *q, const due_window *w)
{
    const cc_config *cfg = p->cfg;
    memset(q, 0, sizeof *q);
    q->fold_col = -1;
    int is_customers = !strcmp(c->from_table, cfg->customers.table);
    if (!db_table_exists(p->db, c->from_table)) {
        cc_buf hint = CC_BUF_INIT;
        expr_suggest_table(p->db, c->from_table, &hint);
        cc_diag(p->diags, c->file, c->from_line ? c->from_line : 1, c->from_col ? c->from_col : 1,
                "error: audience table '%s' does not exist in the database%s", c->from_table, cc_buf_str(&hint));
        cc_buf_free(&hint);
        return CC_ERR_INPUT;
    }
    if (!is_customers && !db_has_column(p->db, c->from_table, "customer_id")) {
        cc_diag(p->diags, c->file, c->from_line, c->from_col,
                "error: audience table '%s' has no customer_id column to link it to a customer", c->from_table);
        return CC_ERR_INPUT;
    }
    const char *idcol = is_customers ? cfg->customers.id : "id";
    if (!db_has_column(p->db, c->from_table, idcol)) {
        cc_diag(p->diags, c->file, c->from_line, c->from_col, "error: audience table '%s' has no '%s' column",
                c->from_table, idcol);
        return CC_ERR_INPUT;
    }
    expr_ctx *x = &q->x;
    x->db = p->db;
    x->cfg = cfg;
    x->table = c->from_table;
    x->has_customer = !is_customers;
    x->today = p->today;
    x->now = p->now_local;
    x->file = c->file;
    x->diags = p->diags;
    x->columns = p->columns;

    cc_buf *s = &q->sql;
    cc_buf_puts(s, "SELECT CAST(r.");
    db_quote_ident(idcol, s);
    cc_buf_puts(s, " AS TEXT), CAST(r.");
    db_quote_ident(is_customers ? cfg->customers.id : "customer_id", s);
    cc_buf_puts(s, " AS TEXT), ");
    cc_code rc = CC_OK;
    cc_buf when = CC_BUF_INIT;
    const plan_filter *trig = p->trig;
    if (st->when_kind != WHEN_NONE && !trig) {
        x->line = st->when.line;
        x->col = st->when.col;
        rc = expr_compile(x, st->when.text, &when, &q->when_type);
        /* Only a column with no values yet is of no known type: no row
         * has an occurrence, so reading it as a date decides nothing. */
        if (rc == CC_OK && q->when_type == ET_UNKNOWN) q->when_type = ET_DATE;
        if (rc == CC_OK && q->when_type != ET_DATE && q->when_type != ET_DATETIME && q->when_type != ET_NULL) {
            cc_diag(p->diags, c->file, st->when.line, st->when.col,
                    "error: 'when' must be a date or date-time, and this is %s", expr_type_name(q->when_type));
            rc = CC_ERR_INPUT;
        }
        if (rc == CC_OK && st->when_kind == WHEN_RECURRING && q->when_type == ET_DATETIME) q->when_type = ET_DATE;
        if (rc == CC_OK)
            put_wrapped(s, q->when_type == ET_DATETIME ? "datetime" : "date", cc_buf_str(&when));
    } else {
        cc_buf_puts(s, "NULL");
    }
    for (size_t v = 0; v < c->n_vars && rc == CC_OK; v++) {
        x->line = c->var_exprs[v].line;
        x->col = c->var_exprs[v].col;
        cc_buf_puts(s, ", ");
        rc = expr_compile(x, c->var_exprs[v].text, s, NULL);
        q->n_vars++;
    }
    if (rc == CC_OK && st->assignee.text) {
        x->line = st->assignee.line;
        x->col = st->assignee.col;
        cc_buf_puts(s, ", ");
        rc = expr_compile(x, st->assignee.text, s, NULL);
        q->has_assignee = 1;
    }
    /* Fold: the row's and the customer's columns come with the audience
     * rather than from a look-up statement per due row.  The joins are the
     * very look-ups (SELECT * FROM T WHERE id = ?, the key as the bound
     * text: coalesce() has no affinity, like a parameter), so they are
     * only made where the key is the table's whole primary key: at most
     * one row, so the audience rows are not multiplied.  A look-up of the
     * audience row by its own key finds that row itself whenever its key
     * equals the key's text under the column's affinity and collation
     * (the same comparison, made on the row in hand): no join for it. */
    int fold = rc == CC_OK && w && w->fold && sole_primary_key(p->db, cfg->customers.table, cfg->customers.id) &&
               (is_customers || sole_primary_key(p->db, c->from_table, "id"));
    if (fold) {
        q->fold_col = 3 + q->n_vars + q->has_assignee;
        const char *self_key = is_customers ? cfg->customers.id : "id";
        cc_buf_puts(s, ", coalesce(r.");
        db_quote_ident(self_key, s);
        cc_buf_puts(s, " = coalesce(CAST(r.");
        db_quote_ident(self_key, s);
        cc_buf_puts(s, " AS TEXT), ''), 0), r.*");
        if (!is_customers) {
            cc_buf_puts(s, ", cc_cust.");
            db_quote_ident(cfg->customers.id, s);
            cc_buf_puts(s, " IS NOT NULL, cc_cust.*");
        }
    }
    cc_buf_puts(s, " FROM ");
    db_quote_ident(c->from_table, s);
    cc_buf_puts(s, " AS r");
    if (!is_customers) {
        cc_buf_puts(s, " LEFT JOIN ");
        db_quote_ident(cfg->customers.table, s);
        cc_buf_puts(s, " AS c ON c.");
        db_quote_ident(cfg->customers.id, s);
        cc_buf_puts(s, " = r.customer_id");
    }
    if (fold && !is_customers) {
        cc_buf_puts(s, " LEFT JOIN ");
        db_quote_ident(cfg->customers.table, s);
        cc_buf_puts(s, " AS cc_cust ON cc_cust.");
        db_quote_ident(cfg->customers.id, s);
        cc_buf_puts(s, " = coalesce(CAST(r.\"customer_id\" AS TEXT), '')");
    }
    cc_buf_puts(s, " WHERE 1");
    const cc_expr_src *conds[2] = {&c->where, &st->cond};
    for (int k = 0; k < 2 && rc == CC_OK; k++) {
        if (!conds[k]->text) continue;
        x->line = conds[k]->line;
        x->col = conds[k]->col;
        expr_type t;
        cc_buf_puts(s, " AND (");
        rc = expr_compile(x, conds[k]->text, s, &t);
        cc_buf_puts(s, ")");
        if (rc == CC_OK && t != ET_BOOL && t != ET_UNKNOWN && t != ET_NULL) {
            cc_diag(p->diags, c->file, conds[k]->line, conds[k]->col,
                    "error: '%s' must be a condition (true or false), and this is %s", k ? "if" : "where",
                    expr_type_name(t));
            rc = CC_ERR_INPUT;
        }
    }
    if (rc == CC_OK && trig) rc = compile_trigger(p, c, is_customers, x, s);
    /* The due window, so SQLite only returns rows that can be due. */
    if (trig) {
        /* A trigger is due now whatever `when` says. */
    } else if (rc == CC_OK && st->when_kind == WHEN_EXPR && w) {
        if (q->when_type == ET_DATETIME) {
            /* Date-times are due from T until T + grace. */
            cc_buf_puts(s, " AND ");
            put_wrapped(s, "datetime", cc_buf_str(&when));
            cc_buf_printf(s, " BETWEEN datetime(?%zu) AND datetime(?%zu)", x->n_params + 1, x->n_params + 2);
            x->params = xrealloc(x->params, (x->n_params + 2) * sizeof *x->params);
            x->params[x->n_params++] = (expr_param){1, xstrdup(w->lo_dt), 0};
            x->params[x->n_params++] = (expr_param){1, xstrdup(w->hi_dt), 0};
        } else {
            cc_buf_puts(s, " AND ");
            put_wrapped(s, "date", cc_buf_str(&when));
            cc_buf_printf(s, " BETWEEN ?%zu AND ?%zu", x->n_params + 1, x->n_params + 2);
            x->params = xrealloc(x->params, (x->n_params + 2) * sizeof *x->params);
            x->params[x->n_params++] = (expr_param){1, xstrdup(w->lo), 0};
            x->params[x->n_params++] = (expr_param){1, xstrdup(w->hi), 0};
        }
    } else if (rc == CC_OK && st->when_kind == WHEN_RECURRING && w && window_days(w) <= 366) {
        /* Pre-filter anniversaries by month-day (yearly) or day (monthly);
         * a window of a year or more holds every month-day: no filter. */
        cc_date hi, d;
        clock_parse_date(w->hi, &hi);
        clock_parse_date(w->lo, &d);
        cc_buf list = CC_BUF_INIT;
        int n = 0;
        for (; clock_days_from_civil(d) <= clock_days_from_civil(hi); d = clock_add_days(d, 1)) {
            cc_date a = clock_add_days(d, -st->offset_days);
            int dim = clock_days_in_month(a.year, a.month);
            char md[8];
            if (st->every == 'y') {
                snprintf(md, sizeof md, "%02u-%02u", (unsigned)a.month % 100u, (unsigned)a.day % 100u);
                cc_buf_printf(&list, "%s?%zu", n++ ? ", " : "", x->n_params + 1);
                x->params = xrealloc(x->params, (x->n_params + 1) * sizeof *x->params);
                x->params[x->n_params++] = (expr_param){1, xstrdup(md), 0};
                if (a.month == 2 && a.day == 28 && dim == 28) {
                    cc_buf_printf(&list, ", ?%zu", x->n_params + 1);
                    x->params = xrealloc(x->params, (x->n_params + 1) * sizeof *x->params);
                    x->params[x->n_params++] = (expr_param){1, xstrdup("02-29"), 0};
                }
            } else {
                for (int day = a.day; day <= (a.day == dim ? 31 : a.day); day++) {
                    cc_buf_printf(&list, "%s?%zu", n++ ? ", " : "", x->n_params + 1);
                    x->params = xrealloc(x->params, (x->n_params + 1) * sizeof *x->params);
                    x->params[x->n_params++] = (expr_param){0, NULL, day};
                }
            }
        }
        /* cc_md_in/cc_day_in (expr.c) answer the test for plain ISO dates
         * without SQLite's general date parser, NULL otherwise. */
        if (st->every == 'y')
            cc_buf_printf(s, " AND coalesce(cc_md_in(%s, %s), substr(date(%s), 6, 5) IN (%s))", cc_buf_str(&when),
                          cc_buf_str(&list), cc_buf_str(&when), cc_buf_str(&list));
        else
            cc_buf_printf(s, " AND coalesce(cc_day_in(%s, %s), CAST(substr(date(%s), 9, 2) AS INTEGER) IN (%s))",
                          cc_buf_str(&when), cc_buf_str(&list), cc_buf_str(&when), cc_buf_str(&list));
        cc_buf_free(&list);
    }
    cc_buf_puts(s, " ORDER BY 1");
    cc_buf_free(&when);
    return rc;
}

/* The occurrences of a recurring `when` (base date `base`) due in the
 * window [lo, today]; written to occ[] (at most 400). */
static int recurring_due(const cc_step *st, const char *base, cc_date lo, cc_date today, char occ[][11], int max)
{
    cc_date b;
    if (!base || clock_parse_date(base, &b) != 0) return 0;
    int n = 0;
    for (cc_date d = lo; clock_days_from_civil(d) <= clock_days_from_civil(today) && n < max; d = clock_add_days(d, 1)) {
        cc_date a = clock_add_days(d, -st->offset_days);
        int dim = clock_days_in_month(a.year, a.month);
        int day_ok = b.day == a.day || (b.day > dim && a.day == dim);
        int ok;
        if (st->every == 'y')
            ok = b.month == a.month && day_ok && a.year > b.year;
        else
            ok = day_ok && (a.year * 12 + a.month) > (b.year * 12 + b.month);
        if (ok) clock_format_date(d, occ[n++]);
    }
    return n;
}

/* A --var value typed as a campaign var would be: numbers compare as
 * numbers in templates. */
static tpl_type literal_type(const char *v)
{
    char *end = NULL;
    if (!*v || isspace((unsigned char)*v)) return TPL_TEXT;
    strtoll(v, &end, 10);
    if (!*end) return TPL_INT;
    strtod(v, &end);
    return *end ? TPL_TEXT : TPL_REAL;
}

typedef struct {
    uint64_t hash;
    const plan_item *item;
    size_t index;
} drawn;

/* The draw's key for a row: cc_hash (FNV-1a) alone changes little in its
 * high bits when only the last characters of the row id do, so sorting by
 * it drew neighbouring ids (S060-S090 of S001-S100); the splitmix64
 * finalizer spreads every input bit over the whole key. */
static uint64_t draw_key(const char *campaign, const char *occurrence, const char *row_id)
{
    uint64_t z = cc_hash(campaign, occurrence, row_id);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* By hash, then row and occurrence (so a row's items stay together even
 * if two rows' hashes collide), then the order they were planned in. */
static int drawn_cmp(const void *a, const void *b)
{
    const drawn *x = a, *y = b;
    if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
    int c = strcmp(x->item->row_id, y->item->row_id);
    if (!c) c = strcmp(x->item->occurrence, y->item->occurrence);
    if (c) return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

static int item_cmp(const void *a, const void *b);

/* Streaming: the items from `from` on are complete (all of a campaign
 * step's rows before the current one), so they are sorted as plan_compute
 * sorts the whole plan (a stable sort: ties keep their order), go through
 * the contact policy, are handed on and freed. */
static void flush_items(planner *p, plan_list *out, size_t from)
{
    if (out->n - from > 1) qsort(out->items + from, out->n - from, sizeof *out->items, item_cmp);
    for (size_t i = from; i < out->n; i++) {
        policy_item(p->policy, &out->items[i]);
        p->emit(p->emit_arg, &out->items[i]);
        item_free(&out->items[i]);
    }
    out->n = from;
}

static cc_code plan_step(planner *p, const cc_campaign *c, size_t si, const plan_filter *f, plan_list *out)
{
    const cc_step *st = &c->steps[si];
    cc_date today = p->clk->today, lo = clock_add_days(today, -st->grace_days);
    due_window w = {.fold = 1};
    clock_format_date(lo, w.lo);
    memcpy(w.hi, p->today, sizeof w.hi);
    local_wall_time(p->clk->zone, p->clk->now - st->grace_s, w.lo_dt);
    memcpy(w.hi_dt, p->now_local, sizeof w.hi_dt);
    step_query q;
    cc_code rc = compile_step(p, c, st, &q, &w);
    sqlite3_stmt *stmt = NULL, *row_stmt = NULL;
    tpl_vars vars = {0};
    char **var_keys = NULL;
    size_t first_item = out->n;
    if (rc != CC_OK) goto done;
    if (sqlite3_prepare_v2(p->db, cc_buf_str(&q.sql), -1, &stmt, NULL) != SQLITE_OK) {
        cc_diag(p->diags, c->file, 1, 1, "error: campaign '%s' step '%s': the database refused the audience query: %s",
                c->id, st->name, sqlite3_errmsg(p->db));
        rc = CC_ERR_INPUT;
        goto done;
    }
    p->stats.audience_queries++;
    p->stats.prepared++;
    expr_bind(&q.x, stmt);
    suppressions_forget(&p->sup);
    if (strcmp(c->from_table, p->cfg->customers.table) != 0) {
        cc_buf rs = CC_BUF_INIT;
        cc_buf_puts(&rs, "SELECT * FROM ");
        db_quote_ident(c->from_table, &rs);
        cc_buf_puts(&rs, " WHERE id = ?");
        prepare(p, cc_buf_str(&rs), &row_stmt);
        cc_buf_free(&rs);
    }
    col_names_free(&p->row_cols);
    /* vars.NAME for the campaign's vars and a trigger's --var, made once */
    size_t n_fv = f ? f->n_vars : 0;
    var_keys = xcalloc((size_t)q.n_vars + n_fv + 1, sizeof *var_keys);
    for (int v = 0; v < q.n_vars; v++) var_keys[v] = xasprintf("vars.%s", c->var_names[v]);
    for (size_t v = 0; v < n_fv; v++) var_keys[(size_t)q.n_vars + v] = xasprintf("vars.%s", f->var_names[v]);
    char bucket[24];
    if (st->when_kind == WHEN_NONE) {
        if (!strcmp(st->repeat, "once")) snprintf(bucket, sizeof bucket, "once");
        else if (!strcmp(st->repeat, "daily") || !strcmp(st->repeat, "after")) clock_format_date(today, bucket);
        else if (!strcmp(st->repeat, "weekly")) iso_week(today, bucket);
        else if (!strcmp(st->repeat, "monthly"))
            snprintf(bucket, sizeof bucket, "%04u-%02u", (unsigned)today.year % 10000u, (unsigned)today.month % 100u);
        else snprintf(bucket, sizeof bucket, "%04u", (unsigned)today.year % 10000u);
    }
    int r;
    while ((r = sqlite3_step(stmt)) == SQLITE_ROW && rc == CC_OK) {
        const char *row_id = (const char *)sqlite3_column_text(stmt, 0);
        const char *cust = (const char *)sqlite3_column_text(stmt, 1);
        const char *when = (const char *)sqlite3_column_text(stmt, 2);
        if (!row_id) continue;
        /* Rows come in row id order (ORDER BY 1): once the id changes, the
         * items so far are final, unless a sample is drawn at the end. */
        if (p->emit && c->sample <= 0 && out->n > first_item && strcmp(out->items[out->n - 1].row_id, row_id) != 0)
            flush_items(p, out, first_item);
        if (f && f->only_customer && !cc_streq(cust, f->only_customer)) continue;
        char occs[64][11];
        char occ_dt[24];
        const char *occ_list[64];
        int n_occ = 0;
        if (f && f->occurrence) {
            occ_list[n_occ++] = f->occurrence;
        } else if (st->when_kind == WHEN_RECURRING) {
            n_occ = recurring_due(st, when, lo, today, occs, 64);
            for (int k = 0; k < n_occ; k++) occ_list[k] = occs[k];
        } else if (st->when_kind == WHEN_EXPR) {
            if (!when) continue;
            snprintf(occ_dt, sizeof occ_dt, "%s", when);
            if (strlen(occ_dt) > 10 && occ_dt[10] == ' ') occ_dt[10] = 'T';
            occ_list[n_occ++] = occ_dt;
        } else {
            if (!strcmp(st->repeat, "after")) {
                sqlite3_reset(p->last_occurrence);
                sqlite3_bind_text(p->last_occurrence, 1, c->id, -1, SQLITE_STATIC);
                sqlite3_bind_text(p->last_occurrence, 2, st->name, -1, SQLITE_STATIC);
                sqlite3_bind_text(p->last_occurrence, 3, row_id, -1, SQLITE_STATIC);
                const char *last = NULL;
                if (sqlite3_step(p->last_occurrence) == SQLITE_ROW)
                    last = (const char *)sqlite3_column_text(p->last_occurrence, 0);
                cc_date ld;
                if (last && clock_parse_date(last, &ld) == 0 &&
                    clock_days_from_civil(today) - clock_days_from_civil(ld) < st->repeat_days)
                    continue;
            }
            occ_list[n_occ++] = bucket;
        }
        for (int k = 0; k < n_occ && rc == CC_OK; k++) {
            if (already_planned(p, c->id, st->name, row_id, occ_list[k])) continue;
            tpl_vars_clear(&vars);
            tpl_vars_set_clock(&vars, p->clk->now, p->clk->zone);
            tpl_vars_set(&vars, "campaign.id", c->id);
            tpl_vars_set(&vars, "campaign.title", c->title);
            tpl_vars_set(&vars, "step", st->name);
            tpl_vars_set(&vars, "today", p->today);
            tpl_vars_set(&vars, "now", p->now_local);
            tpl_vars_set(&vars, "sender.name", p->cfg->sender.name);
            tpl_vars_set(&vars, "sender.email", p->cfg->sender.email);
            for (int v = 0; v < q.n_vars; v++) set_column_var(&vars, var_keys[v], stmt, 3 + v);
            for (size_t v = 0; v < n_fv; v++)
                tpl_vars_set_typed(&vars, var_keys[(size_t)q.n_vars + v], literal_type(f->var_values[v]),
                                   f->var_values[v]);
            p->assignee = q.has_assignee ? (const char *)sqlite3_column_text(stmt, 3 + q.n_vars) : NULL;
            rc = plan_due(p, c, si, row_id, cust, occ_list[k], &vars, row_stmt, stmt, q.fold_col, out);
        }
    }
    if (r != SQLITE_DONE && r != SQLITE_ROW) {
        cc_diag(p->diags, c->file, 1, 1, "error: campaign '%s' step '%s': %s", c->id, st->name, sqlite3_errmsg(p->db));
        rc = CC_ERR_DB;
    }
    /* sample: a lucky draw of N among the due (row, occurrence) pairs a
     * message can reach, those given a channel (address, suppressions
     * and, for marketing, consent allowed one): drawing among all rows due
     * would spend prizes on customers who then get nothing.  Rows skipped
     * for a reason keep it, held-out rows stay the control group, and caps
     * apply after the draw, as they depend on what else is planned.  The
     * draw is stable for a seed of campaign, occurrence and row; the
     * reachable rows not drawn are recorded as such so a later run does
     * not draw again. */
    if (rc == CC_OK && c->sample > 0) {
        size_t m = 0;
        for (size_t i = first_item; i < out->n; i++) m += !strcmp(out->items[i].status, "planned");
        drawn *h = m > (size_t)c->sample ? xcalloc(m, sizeof *h) : NULL;
        size_t j = 0;
        for (size_t i = first_item; h && i < out->n; i++) {
            const plan_item *it = &out->items[i];
            if (strcmp(it->status, "planned") != 0) continue;
            h[j].hash = draw_key(c->id, it->occurrence, it->row_id);
            h[j].item = it;
            h[j++].index = i;
        }
        /* Keep the rows of the `sample` smallest hashes: random across
         * rows, the same every time for this campaign and occurrence.  A
         * row planned on several channels (deliver: all) is one draw. */
        if (h) qsort(h, m, sizeof *h, drawn_cmp);
        size_t rows = 0;
        for (size_t k = 0; h && k < m; k++) {
            const plan_item *prev = k ? h[k - 1].item : NULL;
            if (!prev || strcmp(prev->row_id, h[k].item->row_id) || strcmp(prev->occurrence, h[k].item->occurrence))
                rows++;
            if (rows > (size_t)c->sample) {
                plan_item *it = &out->items[h[k].index];
                it->status = "not-drawn";
                it->channel = NULL;
            }
        }
        free(h);
    }
    if (p->emit && rc == CC_OK) flush_items(p, out, first_item);
done:
    for (size_t v = 0; var_keys && var_keys[v]; v++) free(var_keys[v]);
    free(var_keys);
    col_names_free(&p->row_cols);
    tpl_vars_free(&vars);
    sqlite3_finalize(stmt);
    sqlite3_finalize(row_stmt);
    expr_ctx_free(&q.x);
    cc_buf_free(&q.sql);
    return rc;
}

static int item_cmp(const void *a, const void *b)
{
    const plan_item *x = a, *y = b;
    if (x->campaign->priority != y->campaign->priority) return y->campaign->priority - x->campaign->priority;
    int c = strcmp(x->campaign->id, y->campaign->id);
    if (c) return c;
    if (x->step_index != y->step_index) return x->step_index < y->step_index ? -1 : 1;
    c = strcmp(x->row_id, y->row_id);
    if (c) return c;
    c = strcmp(x->occurrence, y->occurrence);
    if (c) return c;
    return x < y ? -1 : x > y;
}

static void planner_init(planner *p, sqlite3 *db, const cc_config *cfg, const cc_clock *clk, cc_diags *diags)
{
    memset(p, 0, sizeof *p);
    p->db = db;
    p->cfg = cfg;
    p->clk = clk;
    p->diags = diags;
    p->templates = render_open(cfg->templates);
    clock_format_date(clk->today, p->today);
    local_wall_time(clk->zone, clk->now, p->now_local);
    expr_register_functions(db, cfg->timezone);
}

cc_code plan_occurrences(sqlite3 *db, const cc_config *cfg, const cc_clock *clk, const cc_campaign *c, size_t si,
                         cc_date since, cc_date until, plan_occurrence_fn fn, void *arg, cc_diags *diags)
{
    const cc_step *st = &c->steps[si];
    /* An occurrence still to come is not one yet. */
    if (clock_days_from_civil(until) > clock_days_from_civil(clk->today)) until = clk->today;
    if (st->when_kind == WHEN_NONE || clock_days_from_civil(since) > clock_days_from_civil(until)) return CC_OK;
    planner p;
    planner_init(&p, db, cfg, clk, diags);
    due_window w = {.fold = 0};
    clock_format_date(since, w.lo);
    clock_format_date(until, w.hi);
    snprintf(w.lo_dt, sizeof w.lo_dt, "%s 00:00:00", w.lo);
    if (!strcmp(w.hi, p.today)) memcpy(w.hi_dt, p.now_local, sizeof w.hi_dt);
    else snprintf(w.hi_dt, sizeof w.hi_dt, "%s 23:59:59", w.hi);
    step_query q;
    sqlite3_stmt *stmt = NULL;
    cc_code rc = compile_step(&p, c, st, &q, &w);
    if (rc == CC_OK && sqlite3_prepare_v2(db, cc_buf_str(&q.sql), -1, &stmt, NULL) != SQLITE_OK) {
        cc_diag(diags, c->file, 1, 1, "error: campaign '%s' step '%s': the database refused the audience query: %s",
                c->id, st->name, sqlite3_errmsg(db));
        rc = CC_ERR_INPUT;
    }
    if (rc == CC_OK) {
        expr_bind(&q.x, stmt);
        int r;
        while ((r = sqlite3_step(stmt)) == SQLITE_ROW) {
            const char *row_id = (const char *)sqlite3_column_text(stmt, 0);
            const char *cust = (const char *)sqlite3_column_text(stmt, 1);
            const char *when = (const char *)sqlite3_column_text(stmt, 2);
            if (!row_id || !when) continue;
            if (st->when_kind == WHEN_EXPR) {
                /* The key plan_step records: a date-time with its 'T'. */
                char occ[24];
                snprintf(occ, sizeof occ, "%s", when);
                if (strlen(occ) > 10 && occ[10] == ' ') occ[10] = 'T';
                fn(arg, row_id, cust, occ);
                continue;
            }
            cc_date from, hi;
            clock_parse_date(w.lo, &from);
            clock_parse_date(w.hi, &hi);
            for (;;) {
                char occs[64][11];
                int n = recurring_due(st, when, from, hi, occs, 64);
                for (int k = 0; k < n; k++) fn(arg, row_id, cust, occs[k]);
                if (n < 64) break;
                clock_parse_date(occs[n - 1], &from);
                from = clock_add_days(from, 1);
            }
        }
        if (r != SQLITE_DONE) {
            cc_diag(diags, c->file, 1, 1, "error: campaign '%s' step '%s': %s", c->id, st->name, sqlite3_errmsg(db));
            rc = CC_ERR_DB;
        }
    }
    sqlite3_finalize(stmt);
    expr_ctx_free(&q.x);
    cc_buf_free(&q.sql);
    planner_close(&p);
    return rc;
}

cc_code plan_compute(sqlite3 *db, const cc_config *cfg, const cc_clock *clk, const cc_campaign *camps,
                     size_t n_camps, const plan_filter *filter, plan_list *out, cc_diags *diags, plan_stats *stats)
{
    planner p;
    planner_init(&p, db, cfg, clk, diags);
    p.trig = filter && filter->occurrence ? filter : NULL;
    cc_code rc = planner_open(&p) == 0 ? CC_OK : CC_ERR_INPUT;
    for (size_t i = 0; i < n_camps && rc == CC_OK; i++) {
        const cc_campaign *c = &camps[i];
        if (filter && filter->only_campaign && strcmp(filter->only_campaign, c->id) != 0) continue;
        if (!c->enabled) continue;
        if (!p.trig && !schedule_allows(&p, c, filter && filter->include_manual)) continue;
        for (size_t s = 0; s < c->n_steps && rc == CC_OK; s++) {
            if (filter && filter->only_step && strcmp(filter->only_step, c->steps[s].name) != 0) continue;
            p.stats.steps++;
            rc = plan_step(&p, c, s, filter, out);
        }
    }
    if (stats) *stats = p.stats;
    planner_close(&p);
    if (rc != CC_OK) {
        plan_list_free(out);
        return rc;
    }
    if (out->n) qsort(out->items, out->n, sizeof *out->items, item_cmp);
    /* In priority order, so the higher priority wins a capped customer. */
    cc_code prc = policy_apply(db, cfg, out);
    if (prc != CC_OK) plan_list_free(out);
    return prc;
}

typedef struct {
    const cc_campaign *c;
    size_t index;
} camp_ref;

/* The order item_cmp puts campaigns in (priority first, then id). */
static int camp_ref_cmp(const void *a, const void *b)
{
    const camp_ref *x = a, *y = b;
    if (x->c->priority != y->c->priority) return y->c->priority - x->c->priority;
    int c = strcmp(x->c->id, y->c->id);
    if (c) return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

cc_code plan_compute_stream(sqlite3 *db, const cc_config *cfg, const cc_clock *clk, const cc_campaign *camps,
                            size_t n_camps, const plan_filter *filter,
                            void (*emit)(void *arg, const plan_item *it), void *arg, cc_diags *diags,
                            plan_stats *stats)
{
    camp_ref *order = xcalloc(n_camps + 1, sizeof *order);
    for (size_t i = 0; i < n_camps; i++) order[i] = (camp_ref){&camps[i], i};
    qsort(order, n_camps, sizeof *order, camp_ref_cmp);
    /* Two campaigns with one id would interleave their items in the
     * sorted plan: then the plan is computed whole and handed on after. */
    for (size_t i = 1; i < n_camps; i++) {
        if (strcmp(order[i - 1].c->id, order[i].c->id) != 0) continue;
        free(order);
        plan_list pl;
        memset(&pl, 0, sizeof pl);
        cc_code rc = plan_compute(db, cfg, clk, camps, n_camps, filter, &pl, diags, stats);
        for (size_t k = 0; rc == CC_OK && k < pl.n; k++) emit(arg, &pl.items[k]);
        plan_list_free(&pl);
        return rc;
    }
    planner p;
    planner_init(&p, db, cfg, clk, diags);
    p.trig = filter && filter->occurrence ? filter : NULL;
    p.emit = emit;
    p.emit_arg = arg;
    plan_list out;
    memset(&out, 0, sizeof out);
    cc_code rc = planner_open(&p) == 0 ? CC_OK : CC_ERR_INPUT;
    if (rc == CC_OK) rc = policy_begin(db, cfg, &p.policy);
    int rerun = rc != CC_OK && p.policy;   /* the caps query failed: plan_compute reports it in its place */
    /* Each campaign's warnings are kept apart and given in the campaigns'
     * own order at the end, as plan_compute gives them. */
    cc_diags *camp_diags = xcalloc(n_camps + 1, sizeof *camp_diags);
    for (size_t i = 0; i < n_camps && rc == CC_OK; i++) {
        const cc_campaign *c = order[i].c;
        if (filter && filter->only_campaign && strcmp(filter->only_campaign, c->id) != 0) continue;
        if (!c->enabled) continue;
        if (!p.trig && !schedule_allows(&p, c, filter && filter->include_manual)) continue;
        camp_diags[order[i].index].limit = diags->limit;
        p.diags = &camp_diags[order[i].index];
        for (size_t s = 0; s < c->n_steps && rc == CC_OK; s++) {
            if (filter && filter->only_step && strcmp(filter->only_step, c->steps[s].name) != 0) continue;
            p.stats.steps++;
            rc = plan_step(&p, c, s, filter, &out);
        }
        p.diags = diags;
        if (rc != CC_OK) rerun = 1;
    }
    if (stats) *stats = p.stats;
    policy_end(p.policy);
    planner_close(&p);
    plan_list_free(&out);
    for (size_t i = 0; i < n_camps; i++) {
        for (size_t k = 0; rc == CC_OK && k < camp_diags[i].n; k++) cc_diag(diags, NULL, 0, 0, "%s", camp_diags[i].msgs[k]);
        if (rc == CC_OK) diags->count += camp_diags[i].count - camp_diags[i].n;
        cc_diags_free(&camp_diags[i]);
    }
    free(camp_diags);
    free(order);
    if (rerun) {
        /* An error stops planning at the first campaign that has one in
         * the campaigns' own order: compute again as plan_compute does, for
         * the very same diagnostics (the caller discards what was handed on). */
        plan_list pl;
        memset(&pl, 0, sizeof pl);
        cc_code again = plan_compute(db, cfg, clk, camps, n_camps, filter, &pl, diags, stats);
        plan_list_free(&pl);
        if (again != CC_OK) rc = again;
    }
    return rc;
}

/* Lint: every variable a template reads must exist in its campaign's
 * context (campaigns.md section 9); customer.X and row.X must be columns. */
typedef struct {
    planner *p;
    const cc_campaign *c;
    int bad;
} tpl_check;

static void check_template_var(void *arg, const char *file, const char *path, int line, int col)
{
    tpl_check *tc = arg;
    const cc_config *cfg = tc->p->cfg;
    size_t rl = strcspn(path, ".[");
    const char *dot = path[rl] == '.' ? path + rl : NULL;
    char root[64];
    snprintf(root, sizeof root, "%.*s", (int)(rl < sizeof root ? rl : sizeof root - 1), path);
    char field[128] = "";
    if (dot) {
        const char *e = dot + 1 + strcspn(dot + 1, ".[");
        snprintf(field, sizeof field, "%.*s", (int)(e - dot - 1), dot + 1);
    }
    static const char *const roots[] = {"customer", "row", "vars", "campaign", "step", "occurrence", "today",
                                        "now", "sender", "unsubscribe_url", NULL};
    int known = 0;
    for (int i = 0; roots[i]; i++) known |= !strcmp(root, roots[i]);
    if (!known) {
        cc_diag(tc->p->diags, file, line, col,
                "error: unknown variable '%s' (a template can read customer, row, vars, campaign, step, occurrence, "
                "today, now, sender, unsubscribe_url and its own assign/capture/for variables)", root);
        tc->bad = 1;
        return;
    }
    if (!*field) return;
    const char *table = !strcmp(root, "customer") ? cfg->customers.table
                        : !strcmp(root, "row") ? (tc->c->from_table ? tc->c->from_table : cfg->customers.table) : NULL;
    if (table && !db_has_column(tc->p->db, table, field)) {
        cc_diag(tc->p->diags, file, line, col, "error: '%s': table '%s' has no column '%s'", path, table, field);
        tc->bad = 1;
    } else if (!strcmp(root, "vars")) {
        int found = 0;
        for (size_t i = 0; i < tc->c->n_vars; i++) found |= !strcmp(tc->c->var_names[i], field);
        if (!found) {
            cc_diag(tc->p->diags, file, line, col, "error: '%s': campaign '%s' defines no var '%s'", path, tc->c->id, field);
            tc->bad = 1;
        }
    } else if ((!strcmp(root, "campaign") && strcmp(field, "id") && strcmp(field, "title")) ||
               (!strcmp(root, "sender") && strcmp(field, "name") && strcmp(field, "email"))) {
        cc_diag(tc->p->diags, file, line, col, "error: '%s': %s has no field '%s'", path, root, field);
        tc->bad = 1;
    }
}

static cc_code check_campaign(sqlite3 *db, const cc_config *cfg, const cc_clock *clk, const cc_campaign *c,
                              cc_diags *diags, int queries, expr_column_log *columns);

cc_code plan_check_campaign(sqlite3 *db, const cc_config *cfg, const cc_clock *clk, const cc_campaign *c,
                            cc_diags *diags, expr_column_log *columns)
{
    return check_campaign(db, cfg, clk, c, diags, 1, columns);
}

cc_code plan_check_templates(sqlite3 *db, const cc_config *cfg, const cc_clock *clk, const cc_campaign *c,
                             cc_diags *diags)
{
    return check_campaign(db, cfg, clk, c, diags, 0, NULL);
}

/* lint's checks of one campaign; `queries` 0 leaves out the audience,
 * when and vars expressions (trigger ignores when, and planning compiles
 * them itself). */
static cc_code check_campaign(sqlite3 *db, const cc_config *cfg, const cc_clock *clk, const cc_campaign *c,
                              cc_diags *diags, int queries, expr_column_log *columns)
{
    planner p;
    planner_init(&p, db, cfg, clk, diags);
    p.columns = columns;
    tpl_check vcheck = {&p, c, 0};
    cc_code rc = planner_open(&p) == 0 ? CC_OK : CC_ERR_INPUT;
    for (size_t s = 0; s < c->n_steps && rc == CC_OK; s++) {
        const cc_step *st = &c->steps[s];
        if (queries) {
            step_query q;
            if (compile_step(&p, c, st, &q, NULL) != CC_OK) rc = CC_ERR_INPUT;
            expr_ctx_free(&q.x);
            cc_buf_free(&q.sql);
        }
        /* A missing template is one mistake, however many channels need
         * it: one error, at the `template:` value. */
        int tl = st->template_line ? st->template_line : st->line, tc = st->template_line ? st->template_col : st->col;
        int miss_email = 0, miss_sms = 0;
        for (size_t k = 0; k < st->n_channels && st->template_name; k++) {
            const char *ch = st->channels[k];
            miss_email |= !strcmp(ch, "email") && !render_exists(p.templates, st->template_name, "email");
            miss_sms |= !strcmp(ch, "sms") && !render_exists(p.templates, st->template_name, "sms");
            if (!strcmp(ch, "task") && !render_exists(p.templates, st->template_name, "task")) {
                cc_diag(diags, c->file, tl, tc, "error: step '%s': no task template %s/%s.task.liquid", st->name,
                        cfg->templates, st->template_name);
                rc = CC_ERR_INPUT;
            }
        }
        if (miss_email && miss_sms) {
            cc_diag(diags, c->file, tl, tc, "error: step '%s': no template '%s' (neither %s/%s.email.liquid nor %s/%s.sms.liquid)",
                    st->name, st->template_name, cfg->templates, st->template_name, cfg->templates, st->template_name);
            rc = CC_ERR_INPUT;
        } else if (miss_email || miss_sms) {
            cc_diag(diags, c->file, tl, tc, "error: step '%s': no %s template %s/%s.%s.liquid", st->name,
                    miss_email ? "email" : "SMS", cfg->templates, st->template_name, miss_email ? "email" : "sms");
            rc = CC_ERR_INPUT;
        }
        for (size_t k = 0; k < st->n_channels; k++) {
            const char *ch = st->channels[k];
            if (!strcmp(ch, "task")) {
                if (st->template_name &&
                    render_check(p.templates, st->template_name, "task", diags, check_template_var, &vcheck) == CC_ERR_INPUT)
                    rc = CC_ERR_INPUT;
                continue;
            }
            int need_email = !strcmp(ch, "email") || !strcmp(ch, "preferred");
            int need_sms = !strcmp(ch, "sms") || !strcmp(ch, "preferred");
            if (st->template_name && (need_email || need_sms)) {
                if (need_email && render_check(p.templates, st->template_name, "email", diags, check_template_var, &vcheck) == CC_ERR_INPUT)
                    rc = CC_ERR_INPUT;
                if (need_sms && render_check(p.templates, st->template_name, "sms", diags, check_template_var, &vcheck) == CC_ERR_INPUT)
                    rc = CC_ERR_INPUT;
            }
        }
    }
    planner_close(&p);
    return vcheck.bad ? CC_ERR_INPUT : rc;
}

/* ---- recording ---------------------------------------------------------- */

/* Has campaign `camp` an occurrence `occ` (any step, any row)?  1 yes, 0
 * no, -1 the question failed.  `*first` is when it was first planned. */
static int occurrence_taken(sqlite3 *db, const char *camp, const char *occ, int64_t *first)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT min(planned_at) FROM care_occurrences WHERE campaign = ? AND occurrence = ?", -1,
                           &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, camp, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, occ, -1, SQLITE_STATIC);
    int r = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_type(st, 0) != SQLITE_NULL : -1;
    if (r == 1 && first) *first = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return r;
}

int plan_occurrence_taken(sqlite3 *db, const char *camp, const char *occ, int64_t *first)
{
    return occurrence_taken(db, camp, occ, first);
}

static cc_code record(sqlite3 *db, const cc_clock *clk, plan_list *pl, const char *claim_camp, const char *claim_occ,
                      size_t *recorded, int64_t *claimed_at)
{
    *recorded = 0;
    sqlite3_stmt *occ = NULL, *ins = NULL, *run = NULL, *task = NULL;
    if (db_begin(db) != CC_OK) {
        fprintf(stderr, "carecast: cannot start a transaction: %s\n", sqlite3_errmsg(db));
        return CC_ERR_DB;
    }
    if (claim_camp) {
        /* Inside the write transaction: of two commands with one key,
         * the second sees what the first recorded. */
        int taken = occurrence_taken(db, claim_camp, claim_occ, claimed_at);
        if (taken != 0) {
            char why[300];
            if (taken < 0) fprintf(stderr, "carecast: cannot read care_occurrences: %s\n", db_errmsg(db, why, sizeof why));
            db_rollback(db);
            return taken < 0 ? CC_ERR_DB : CC_OK;
        }
    }
    int ok = sqlite3_prepare_v2(db, "INSERT INTO care_runs(command, as_of, started_at) VALUES ('plan', ?, strftime('%s','now'))",
                                -1, &run, NULL) == SQLITE_OK &&
             sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO care_occurrences(campaign, step, row_id, occurrence, run_id, planned_at) "
                                    "VALUES (?, ?, ?, ?, ?, ?)", -1, &occ, NULL) == SQLITE_OK &&
             sqlite3_prepare_v2(db, "INSERT INTO care_outbox(run_id, campaign, step, audience_table, row_id, customer_id, "
                                    "occurrence, kind, priority, channel, recipient, to_name, locale, status, reason, send_after, "
                                    "send_after_local, subject, body_text, body_html, sms_text, unsubscribe_url, created_at, zone, quiet) "
                                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", -1, &ins, NULL) == SQLITE_OK &&
             /* A planned task is also a care_tasks row, open until done;
              * its outbox row carries the digest's delivery. */
             sqlite3_prepare_v2(db, "INSERT INTO care_tasks(outbox_id, campaign, step, customer_id, assignee, title, body, "
                                    "due_at, created_at) VALUES (?,?,?,?,?,?,?,?,?)", -1, &task, NULL) == SQLITE_OK;
    int64_t run_id = 0;
    if (ok) {
        sqlite3_bind_int64(run, 1, clk->now);
        ok = sqlite3_step(run) == SQLITE_DONE;
        run_id = sqlite3_last_insert_rowid(db);
    }
    int group_new = 0;
    for (size_t i = 0; ok && i < pl->n; i++) {
        plan_item *it = &pl->items[i];
        const cc_step *st = &it->campaign->steps[it->step_index];
        int first_of_group = i == 0 || pl->items[i - 1].campaign != it->campaign ||
                             pl->items[i - 1].step_index != it->step_index ||
                             strcmp(pl->items[i - 1].row_id, it->row_id) != 0 ||
                             strcmp(pl->items[i - 1].occurrence, it->occurrence) != 0;
        if (first_of_group) {
            sqlite3_reset(occ);
            sqlite3_bind_text(occ, 1, it->campaign->id, -1, SQLITE_STATIC);
            sqlite3_bind_text(occ, 2, st->name, -1, SQLITE_STATIC);
            sqlite3_bind_text(occ, 3, it->row_id, -1, SQLITE_STATIC);
            sqlite3_bind_text(occ, 4, it->occurrence, -1, SQLITE_STATIC);
            sqlite3_bind_int64(occ, 5, run_id);
            sqlite3_bind_int64(occ, 6, clk->now);
            ok = sqlite3_step(occ) == SQLITE_DONE;
            /* Another planner recorded it first: not ours to write. */
            group_new = ok && sqlite3_changes(db) == 1;
        }
        if (!ok || !group_new || !strcmp(it->status, "not-drawn")) continue;
        sqlite3_reset(ins);
        sqlite3_clear_bindings(ins);
        int k = 1;
        sqlite3_bind_int64(ins, k++, run_id);
        sqlite3_bind_text(ins, k++, it->campaign->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, k++, st->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, k++, it->campaign->from_table, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, k++, it->row_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, k++, it->customer_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, k++, it->occurrence, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, k++, it->campaign->is_marketing ? "marketing" : "service", -1, SQLITE_STATIC);
        sqlite3_bind_int(ins, k++, it->campaign->priority);
        sqlite3_bind_text(ins, k++, it->channel, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, k++, it->to, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, k++, it->to_name, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, k++, it->locale, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, k++, it->status, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, k++, it->reason, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, k++, it->send_after);
        sqlite3_bind_text(ins, k++, it->send_after_iso, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, k++, it->subject, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, k++, it->body_text, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, k++, it->body_html, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, k++, it->sms_text, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, k++, it->unsubscribe_url, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, k++, clk->now);
        /* What the sender needs to hold the message through the
         * customer's night, whenever it comes to send it. */
        sqlite3_bind_text(ins, k++, it->zone[0] ? it->zone : NULL, -1, SQLITE_STATIC);
        sqlite3_bind_int(ins, k++, !it->campaign->ignore_quiet_hours && !cc_streq(it->channel, "task"));
        ok = sqlite3_step(ins) == SQLITE_DONE;
        if (ok) (*recorded)++;
        if (ok && it->channel && !strcmp(it->channel, "task") && !strcmp(it->status, "planned")) {
            sqlite3_reset(task);
            k = 1;
            sqlite3_bind_int64(task, k++, sqlite3_last_insert_rowid(db));
            sqlite3_bind_text(task, k++, it->campaign->id, -1, SQLITE_STATIC);
            sqlite3_bind_text(task, k++, st->name, -1, SQLITE_STATIC);
            sqlite3_bind_text(task, k++, it->customer_id, -1, SQLITE_STATIC);
            sqlite3_bind_text(task, k++, it->to, -1, SQLITE_STATIC);
            sqlite3_bind_text(task, k++, it->subject ? it->subject : "", -1, SQLITE_STATIC);
            sqlite3_bind_text(task, k++, it->body_text, -1, SQLITE_STATIC);
            sqlite3_bind_int64(task, k++, it->send_after);
            sqlite3_bind_int64(task, k++, clk->now);
            ok = sqlite3_step(task) == SQLITE_DONE;
        }
    }
    if (ok) {
        sqlite3_stmt *fin = NULL;
        ok = sqlite3_prepare_v2(db, "UPDATE care_runs SET finished_at = strftime('%s','now'), result = 'ok' WHERE id = ?",
                                -1, &fin, NULL) == SQLITE_OK;
        if (ok) {
            sqlite3_bind_int64(fin, 1, run_id);
            ok = sqlite3_step(fin) == SQLITE_DONE;
        }
        sqlite3_finalize(fin);
    }
    sqlite3_finalize(run);
    sqlite3_finalize(occ);
    sqlite3_finalize(ins);
    sqlite3_finalize(task);
    /* A full disk often shows only at COMMIT, when the WAL grows. */
    if (!ok || db_commit(db) != CC_OK) {
        char why[300];
        fprintf(stderr, "carecast: recording the plan failed, nothing was recorded: %s\n",
                db_errmsg(db, why, sizeof why));
        db_rollback(db);
        *recorded = 0;
        return CC_ERR_DB;
    }
    return CC_OK;
}

cc_code plan_record(sqlite3 *db, const cc_clock *clk, plan_list *pl, size_t *recorded)
{
    return record(db, clk, pl, NULL, NULL, recorded, NULL);
}

cc_code plan_record_claim(sqlite3 *db, const cc_clock *clk, plan_list *pl, const char *camp, const char *occurrence,
                          size_t *recorded, int64_t *claimed_at)
{
    *claimed_at = 0;
    return record(db, clk, pl, camp, occurrence, recorded, claimed_at);
}

void plan_item_json(const plan_item *it, cc_buf *o)
{
    const cc_campaign *c = it->campaign;
    cc_buf_puts(o, "{\"campaign\": ");
    cc_json_str(o, c->id);
    cc_buf_puts(o, ", \"step\": ");
    cc_json_str(o, c->steps[it->step_index].name);
    cc_buf_puts(o, ", \"table\": ");
    cc_json_str(o, c->from_table);
    cc_buf_puts(o, ", \"row\": ");
    cc_json_str(o, it->row_id);
    cc_buf_puts(o, ", \"customer\": ");
    cc_json_str(o, it->customer_id);
    cc_buf_puts(o, ", \"occurrence\": ");
    cc_json_str(o, it->occurrence);
    cc_buf_puts(o, ", \"kind\": ");
    cc_json_str(o, c->is_marketing ? "marketing" : "service");
    cc_buf_puts(o, ", \"channel\": ");
    cc_json_str(o, it->channel);
    cc_buf_puts(o, ", \"to\": ");
    cc_json_str(o, it->to);
    cc_buf_puts(o, ", \"status\": ");
    cc_json_str(o, it->status);
    cc_buf_puts(o, ", \"reason\": ");
    cc_json_str(o, it->reason);
    cc_buf_puts(o, ", \"send_after\": ");
    cc_json_str(o, it->send_after_iso);
    cc_buf_puts(o, "}");
}
