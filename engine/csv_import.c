/* csv_import.c - owns `carecast import`: decoding the file (UTF-8, BOM,
 * GB18030 via iconv), the RFC 4180 record reader, per-column type inference,
 * validation of the customers table's standard columns, and the
 * all-or-nothing create/alter/upsert of one user table.
 *
 * Invariant: the file is read twice from memory.  Pass 1 validates and infers
 * types without writing; pass 2 runs only when pass 1 found nothing wrong,
 * inside one BEGIN IMMEDIATE transaction that is rolled back if SQLite
 * refuses any row.  So a rejected import leaves the database as it was. */
#include "csv_import.h"
#include "clock.h"
#include "db.h"

#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unicode/ucal.h>

/* ---- small helpers ------------------------------------------------------ */

static const char *dflt(const char *s, const char *d) { return s && *s ? s : d; }

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* Line number (1-based) of byte offset `off` in `data`. */
static int line_of(const char *data, size_t off)
{
    int line = 1;
    for (size_t i = 0; i < off; i++)
        if (data[i] == '\n' || (data[i] == '\r' && data[i + 1] != '\n')) line++;
    return line;
}

/* Length of the valid UTF-8 prefix of s[0..n). */
static size_t utf8_valid_prefix(const unsigned char *s, size_t n)
{
    size_t i = 0;
    uint32_t cp;
    while (i < n) {
        size_t l = cc_utf8_decode(s + i, n - i, &cp);
        if (!l) return i;
        i += l;
    }
    return n;
}

/* "-"? ("0" | [1-9][0-9]*), fitting in 64 bits. */
static int is_plain_int(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-') i++;
    if (i == n) return 0;
    if (s[i] == '0') return i + 1 == n && !(s[0] == '-'); /* "0" yes, "-0" no */
    size_t digits = n - i;
    for (size_t k = i; k < n; k++)
        if (!is_digit(s[k])) return 0;
    if (digits < 19) return 1;
    if (digits > 19) return 0;
    /* 19 digits: compare with 9223372036854775807 / ...808 */
    const char *lim = s[0] == '-' ? "9223372036854775808" : "9223372036854775807";
    return memcmp(s + i, lim, 19) <= 0;
}

/* "-"? ("0" | [1-9][0-9]*) "." [0-9]+ */
static int is_plain_real(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-') i++;
    if (i == n || !is_digit(s[i])) return 0;
    if (s[i] == '0') {
        i++;
    } else {
        while (i < n && is_digit(s[i])) i++;
    }
    if (i == n || s[i] != '.') return 0;
    i++;
    if (i == n) return 0;
    for (; i < n; i++)
        if (!is_digit(s[i])) return 0;
    return 1;
}

/* ---- the record reader --------------------------------------------------- */

typedef struct {
    const char *p, *end;
    int line;          /* physical line of p */
    int rec_line;      /* where the current record started */
    cc_buf scratch;    /* field bytes, each followed by a NUL */
    size_t *off, *len;
    size_t nf, capf;
    const char **fields;
    size_t capfields;
    const char *path;
} csv_reader;

static void rd_end_field(csv_reader *r, size_t start)
{
    if (r->nf == r->capf) {
        r->capf = r->capf ? r->capf * 2 : 16;
        r->off = xrealloc(r->off, r->capf * sizeof *r->off);
        r->len = xrealloc(r->len, r->capf * sizeof *r->len);
    }
    r->off[r->nf] = start;
    r->len[r->nf] = r->scratch.len - start;
    r->nf++;
    cc_buf_append(&r->scratch, "", 1); /* the separating NUL */
}

/* Skip to the start of the next physical line (after a syntax error). */
static void rd_skip_line(csv_reader *r)
{
    while (r->p < r->end && *r->p != '\n' && *r->p != '\r') r->p++;
    if (r->p < r->end) {
        if (*r->p == '\r' && r->p + 1 < r->end && r->p[1] == '\n') r->p++;
        r->p++;
        r->line++;
    }
}

/* 1: a record is in r->fields[0..nf); 0: end of input; -1: syntax error
 * (reported; the reader has moved past the bad record). */
static int rd_next(csv_reader *r, cc_diags *d)
{
    /* Blank lines between records are skipped. */
    while (r->p < r->end && (*r->p == '\n' || *r->p == '\r')) {
        if (*r->p == '\r' && r->p + 1 < r->end && r->p[1] == '\n') r->p++;
        r->p++;
        r->line++;
    }
    if (r->p >= r->end) return 0;
    r->rec_line = r->line;
    cc_buf_reset(&r->scratch);
    r->nf = 0;
    for (;;) {
        size_t start = r->scratch.len;
        if (r->p < r->end && *r->p == '"') {
            r->p++;
            for (;;) {
                const char *q = r->p;
                while (q < r->end && *q != '"') {
                    if (*q == '\n' || (*q == '\r' && !(q + 1 < r->end && q[1] == '\n'))) r->line++;
                    q++;
                }
                cc_buf_append(&r->scratch, r->p, (size_t)(q - r->p));
                if (q >= r->end) {
                    r->p = r->end;
                    cc_diag(d, r->path, r->rec_line, 0,
                            "unterminated quoted field (a '\"' opened here is never closed)");
                    return -1;
                }
                if (q + 1 < r->end && q[1] == '"') {
                    cc_buf_putc(&r->scratch, '"');
                    r->p = q + 2;
                    continue;
                }
                r->p = q + 1;
                break;
            }
            if (r->p < r->end && *r->p != ',' && *r->p != '\n' && *r->p != '\r') {
                cc_diag(d, r->path, r->line, 0,
                        "unexpected text after a closing quote in field %zu (a '\"' inside a "
                        "quoted field must be doubled)",
                        r->nf + 1);
                rd_skip_line(r);
                return -1;
            }
        } else {
            const char *q = r->p;
            while (q < r->end && *q != ',' && *q != '\n' && *q != '\r' && *q != '"') q++;
            if (q < r->end && *q == '"') {
                cc_diag(d, r->path, r->line, 0,
                        "stray '\"' in unquoted field %zu (quote the whole field and double "
                        "the quote: \"a \"\"b\"\" c\")",
                        r->nf + 1);
                r->p = q;
                rd_skip_line(r);
                return -1;
            }
            cc_buf_append(&r->scratch, r->p, (size_t)(q - r->p));
            r->p = q;
        }
        rd_end_field(r, start);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->end) { /* end of line */
            if (*r->p == '\r' && r->p + 1 < r->end && r->p[1] == '\n') r->p++;
            r->p++;
            r->line++;
        }
        break;
    }
    if (r->capfields < r->nf) {
        r->capfields = r->nf;
        r->fields = xrealloc(r->fields, r->capfields * sizeof *r->fields);
    }
    for (size_t i = 0; i < r->nf; i++) r->fields[i] = r->scratch.data + r->off[i];
    return 1;
}

static void rd_free(csv_reader *r)
{
    cc_buf_free(&r->scratch);
    free(r->off);
    free(r->len);
    free(r->fields);
}

/* ---- the set of keys seen (duplicate detection) -------------------------- */

typedef struct {
    uint64_t h;
    size_t off; /* into arena; 0 = empty slot (arena starts with one byte) */
    int line;
} key_slot;

typedef struct {
    key_slot *slots;
    size_t cap, n;
    cc_buf arena;
} key_set;

/* 0 when new (and added), else the line where the key was first seen. */
static int keys_add(key_set *ks, const char *s, size_t n, int line)
{
    if (ks->n * 2 >= ks->cap) {
        size_t ncap = ks->cap ? ks->cap * 2 : 1024;
        key_slot *ns = xcalloc(ncap, sizeof *ns);
        for (size_t i = 0; i < ks->cap; i++) {
            if (!ks->slots[i].off) continue;
            size_t j = ks->slots[i].h & (ncap - 1);
            while (ns[j].off) j = (j + 1) & (ncap - 1);
            ns[j] = ks->slots[i];
        }
        free(ks->slots);
        ks->slots = ns;
        ks->cap = ncap;
        if (!ks->arena.len) cc_buf_putc(&ks->arena, 'x');
    }
    uint64_t h = cc_hash_bytes(s, n);
    size_t j = h & (ks->cap - 1);
    while (ks->slots[j].off) {
        const char *k = ks->arena.data + ks->slots[j].off;
        if (ks->slots[j].h == h && strlen(k) == n && memcmp(k, s, n) == 0)
            return ks->slots[j].line;
        j = (j + 1) & (ks->cap - 1);
    }
    ks->slots[j].h = h;
    ks->slots[j].off = ks->arena.len;
    ks->slots[j].line = line;
    cc_buf_append(&ks->arena, s, n);
    cc_buf_append(&ks->arena, "", 1);
    ks->n++;
    return 0;
}

static void keys_free(key_set *ks)
{
    free(ks->slots);
    cc_buf_free(&ks->arena);
}

/* ---- customer-column validation ------------------------------------------ */

enum { K_NONE, K_EMAIL, K_PHONE, K_DATE, K_TZ, K_LOCALE, K_BOOL, K_CHANNEL };

static int valid_email(const char *s, size_t n)
{
    if (n < 3 || n > 254) return 0;
    const char *at = memchr(s, '@', n);
    if (!at || memchr(at + 1, '@', n - (size_t)(at - s) - 1)) return 0;
    size_t ln = (size_t)(at - s), dn = n - ln - 1;
    if (ln == 0 || ln > 64 || dn == 0) return 0;
    for (size_t i = 0; i < ln; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (i == 0 || i == ln - 1 || s[i - 1] == '.') return 0;
        } else if (!(c >= 0x80 || is_alpha((char)c) || is_digit((char)c) ||
                     strchr("!#$%&'*+/=?^_`{|}~-", c))) {
            return 0;
        }
    }
    const char *dom = at + 1;
    size_t labels = 0, lablen = 0;
    for (size_t i = 0; i <= dn; i++) {
        if (i == dn || dom[i] == '.') {
            if (lablen == 0 || lablen > 63) return 0;
            if (dom[i - 1] == '-' || dom[i - lablen] == '-') return 0;
            labels++;
            lablen = 0;
            continue;
        }
        unsigned char c = (unsigned char)dom[i];
        if (!(c >= 0x80 || is_alpha((char)c) || is_digit((char)c) || c == '-')) return 0;
        lablen++;
    }
    return labels >= 2;
}

static int is_leap(long y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int valid_date(const char *s, size_t n)
{
    if (n != 10 || s[4] != '-' || s[7] != '-') return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !is_digit(s[i])) return 0;
    long y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || m < 1 || m > 12 || d < 1) return 0;
    int lim = mdays[m - 1] + (m == 2 && is_leap(y));
    return d <= lim;
}

/* Language 2-3 or 5-8 letters, then subtags of 1-8 letters/digits.  '_' is
 * accepted and normalised to '-'. */
static int valid_locale(const char *s, size_t n, cc_buf *out)
{
    size_t i = 0, sub = 0;
    while (i <= n) {
        size_t st = i;
        while (i < n && s[i] != '-' && s[i] != '_') i++;
        size_t len = i - st;
        if (len < 1 || len > 8) return 0;
        for (size_t k = st; k < i; k++) {
            if (sub == 0 ? !is_alpha(s[k]) : !(is_alpha(s[k]) || is_digit(s[k]))) return 0;
        }
        if (sub == 0 && (len < 2 || len == 4)) return 0;
        if (sub) cc_buf_putc(out, '-');
        cc_buf_append(out, s + st, len);
        sub++;
        if (i == n) break;
        i++;
        if (i == n) return 0; /* trailing separator */
    }
    return 1;
}

static int parse_bool(const char *s, size_t n)
{
    static const char *const yes[] = {"1", "true", "yes", "y", "t", "是"};
    static const char *const no[] = {"0", "false", "no", "n", "f", "否"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        if (strlen(yes[i]) == n && strncasecmp(s, yes[i], n) == 0) return 1;
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        if (strlen(no[i]) == n && strncasecmp(s, no[i], n) == 0) return 0;
    return -1;
}

/* Countries for normalising local mobile numbers. */
static const struct {
    const char *iso;
    const char *cc;   /* calling code */
    int trunk0;       /* national numbers start with a trunk '0' to drop */
    int min, max;     /* national significant number length */
    char first;       /* required first digit of the NSN, or 0 */
} countries[] = {
    {"CN", "86", 0, 11, 11, '1'}, {"US", "1", 0, 10, 10, 0},   {"CA", "1", 0, 10, 10, 0},
    {"GB", "44", 1, 10, 10, 0},   {"HK", "852", 0, 8, 8, 0},   {"MO", "853", 0, 8, 8, 0},
    {"SG", "65", 0, 8, 8, 0},     {"TW", "886", 1, 9, 9, 0},   {"JP", "81", 1, 9, 10, 0},
    {"KR", "82", 1, 9, 10, 0},    {"AU", "61", 1, 9, 9, 0},    {"DE", "49", 1, 6, 13, 0},
    {"FR", "33", 1, 9, 9, 0},     {"IN", "91", 0, 10, 10, 0},
};

const char *csv_phone_country_codes(void)
{
    return "CN, US, CA, GB, HK, MO, SG, TW, JP, KR, AU, DE, FR, IN";
}

int csv_phone_country_known(const char *iso)
{
    for (size_t i = 0; iso && i < sizeof countries / sizeof *countries; i++)
        if (strcasecmp(iso, countries[i].iso) == 0) return 1;
    return 0;
}

/* Normalise a phone number to E.164 in `out`; 0 when impossible. */
static int norm_phone(const char *s, size_t n, const char *country, cc_buf *out)
{
    char dig[32];
    size_t nd = 0;
    int plus = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')') continue;
        if (c == '+' && nd == 0 && !plus) { plus = 1; continue; }
        if (!is_digit(c) || nd >= sizeof dig - 1) return 0;
        dig[nd++] = c;
    }
    dig[nd] = '\0';
    const char *d = dig;
    if (!plus && nd > 2 && d[0] == '0' && d[1] == '0') { /* international prefix 00 */
        plus = 1;
        d += 2;
        nd -= 2;
    }
    if (!plus) {
        size_t ci;
        for (ci = 0; ci < sizeof countries / sizeof *countries; ci++)
            if (country && strcasecmp(country, countries[ci].iso) == 0) break;
        if (ci == sizeof countries / sizeof *countries) return 0;
        if (countries[ci].trunk0) {
            if (nd == 0 || d[0] != '0') return 0;
            d++;
            nd--;
        }
        size_t ccl = strlen(countries[ci].cc);
        /* A local number that already carries the calling code (8613800138000). */
        if (!countries[ci].trunk0 && nd == ccl + (size_t)countries[ci].min &&
            strncmp(d, countries[ci].cc, ccl) == 0 && countries[ci].min == countries[ci].max) {
            d += ccl;
            nd -= ccl;
        }
        if (nd < (size_t)countries[ci].min || nd > (size_t)countries[ci].max) return 0;
        if (countries[ci].first && d[0] != countries[ci].first) return 0;
        cc_buf_putc(out, '+');
        cc_buf_puts(out, countries[ci].cc);
        cc_buf_append(out, d, nd);
    } else {
        cc_buf_putc(out, '+');
        cc_buf_append(out, d, nd);
    }
    /* E.164: '+', 8 to 15 digits, no leading 0. */
    size_t total = out->len - 1;
    if (total < 8 || total > 15 || out->data[1] == '0') return 0;
    return 1;
}

int csv_phone_e164(const char *s, const char *country, cc_buf *out)
{
    cc_buf_reset(out);
    return s && norm_phone(s, strlen(s), country, out);
}

/* IANA zone check through ICU, with a small cache of answers. */
typedef struct {
    char *name[64];
    int ok[64];
    size_t n;
} tz_cache;

static int valid_tz(tz_cache *c, const char *s, size_t n)
{
    for (size_t i = 0; i < c->n; i++)
        if (strlen(c->name[i]) == n && memcmp(c->name[i], s, n) == 0) return c->ok[i];
    int ok = n > 0 && n < 64;
    UChar id[64], canon[128];
    for (size_t i = 0; ok && i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!(is_alpha((char)ch) || is_digit((char)ch) || ch == '/' || ch == '_' || ch == '-' ||
              ch == '+'))
            ok = 0;
        id[i] = ch;
    }
    if (ok) {
        UErrorCode st = U_ZERO_ERROR;
        UBool sys = 0;
        ucal_getCanonicalTimeZoneID(id, (int32_t)n, canon, 128, &sys, &st);
        ok = U_SUCCESS(st) && sys;
    }
    if (c->n < 64) {
        c->name[c->n] = xstrndup(s, n);
        c->ok[c->n] = ok;
        c->n++;
    }
    return ok;
}

static void tz_cache_free(tz_cache *c)
{
    for (size_t i = 0; i < c->n; i++) free(c->name[i]);
}

/* ---- columns ------------------------------------------------------------- */

enum { T_INTEGER, T_REAL, T_TEXT };

typedef struct {
    const char *name;   /* header text (points into hdr_copy) */
    int kind;           /* K_* for customer columns */
    int all_int, all_real;
    int all_date;       /* every value a date or date-time (clock_iso_kind_of) */
    int any_datetime;   /* ... and at least one a date-time */
    int any;            /* some non-empty value seen */
    int exists;         /* already a column of the existing table */
    int bind_typed;     /* no type affinity: bind numbers as numbers */
    cc_buf val;         /* normalised value of the current record */
} column;

typedef struct {
    sqlite3 *db;
    const cc_config *cfg;
    const char *table, *path, *key;
    cc_diags *d;
    size_t nerr;
    int is_customers;
    column *cols;
    size_t ncols;
    int keyidx;
    int table_exists;
    tz_cache tz;
    key_set keys;
} importer;

static void err(importer *im, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void err(importer *im, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cc_buf b = CC_BUF_INIT;
    cc_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    cc_diag(im->d, im->path, line, 0, "%s", cc_buf_str(&b));
    cc_buf_free(&b);
    im->nerr++;
}

/* Quote a value for a message: at most 60 bytes, control characters as '?'. */
static void show_value(const char *s, size_t n, cc_buf *out)
{
    size_t lim = n > 60 ? 57 : n;
    while (lim > 0 && lim < n && ((unsigned char)s[lim] & 0xC0) == 0x80) lim--;
    for (size_t i = 0; i < lim; i++) cc_buf_putc(out, (unsigned char)s[i] < 0x20 ? '?' : s[i]);
    if (lim < n) cc_buf_puts(out, "...");
}

static int customer_kind(const importer *im, const char *name)
{
    const cc_config *c = im->cfg;
    struct { const char *col; int kind; } m[] = {
        {c ? c->customers.email : NULL, K_EMAIL},       {c ? c->customers.phone : NULL, K_PHONE},
        {c ? c->customers.birth_date : NULL, K_DATE},   {c ? c->customers.timezone : NULL, K_TZ},
        {c ? c->customers.locale : NULL, K_LOCALE},     {c ? c->customers.email_opt_in : NULL, K_BOOL},
        {c ? c->customers.sms_opt_in : NULL, K_BOOL},   {c ? c->customers.preferred_channel : NULL, K_CHANNEL},
    };
    static const char *const defaults[] = {"email", "phone", "birth_date", "timezone", "locale",
                                           "email_opt_in", "sms_opt_in", "preferred_channel"};
    for (size_t i = 0; i < sizeof m / sizeof *m; i++)
        if (strcasecmp(name, dflt(m[i].col, defaults[i])) == 0) return m[i].kind;
    return K_NONE;
}

/* A field is a name, an address, a note: anything near this size is a
 * broken file (a quote never closed, a binary pasted in), not data. */
#define MAX_FIELD (1 << 20)

/* U+FEFF inside the data: only the file's first bytes may be a BOM. */
static int has_bom(const char *s, size_t n)
{
    for (size_t i = 0; i + 2 < n; i++)
        if ((unsigned char)s[i] == 0xEF && (unsigned char)s[i + 1] == 0xBB && (unsigned char)s[i + 2] == 0xBF) return 1;
    return 0;
}

/* Check and normalise field `i` of the record starting at `line`; the result
 * is in cols[i].val (NULL data/len 0 and *isnull for empty).  Returns 0 when
 * the value is invalid (reported). */
static int prepare_value(importer *im, size_t i, const char *s, size_t n, int line, int *isnull)
{
    column *c = &im->cols[i];
    cc_buf_reset(&c->val);
    *isnull = 0;
    if (memchr(s, '\0', n)) {
        err(im, line, "NUL byte in column %s", c->name);
        return 0;
    }
    if (n > MAX_FIELD) {
        err(im, line, "the value in column %s is %zu bytes, larger than the %d MiB a field may hold", c->name, n,
            MAX_FIELD >> 20);
        return 0;
    }
    if (utf8_valid_prefix((const unsigned char *)s, n) != n) {
        err(im, line, "invalid UTF-8 in column %s (if the file is GBK/GB18030, use --encoding gb18030)",
            c->name);
        return 0;
    }
    if (has_bom(s, n)) {
        err(im, line, "a byte order mark (U+FEFF) in column %s: were two files joined? Remove it", c->name);
        return 0;
    }
    if (c->kind != K_NONE) { /* trim blanks around standard customer fields */
        while (n && (*s == ' ' || *s == '\t')) s++, n--;
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    }
    if (n == 0) {
        *isnull = 1;
        return 1;
    }
    int ok = 1;
    const char *what = NULL, *hint = "";
    switch (c->kind) {
    case K_EMAIL:
        ok = valid_email(s, n);
        what = "email";
        break;
    case K_PHONE:
        ok = norm_phone(s, n, dflt(im->cfg ? im->cfg->customers.default_country : NULL, "CN"),
                        &c->val);
        what = "phone number";
        hint = " (expected E.164 like +8613800138000, or a local number of customers.default_country)";
        break;
    case K_DATE:
        ok = valid_date(s, n);
        what = "date";
        hint = " (expected a calendar date YYYY-MM-DD)";
        break;
    case K_TZ:
        ok = valid_tz(&im->tz, s, n);
        what = "time zone";
        hint = " (expected an IANA name like Asia/Shanghai)";
        break;
    case K_LOCALE:
        ok = valid_locale(s, n, &c->val);
        what = "locale";
        hint = " (expected a BCP 47 tag like zh-CN)";
        break;
    case K_BOOL: {
        int b = parse_bool(s, n);
        ok = b >= 0;
        if (ok) cc_buf_putc(&c->val, b ? '1' : '0');
        what = "opt-in flag";
        hint = " (expected 1/0, true/false or yes/no)";
        break;
    }
    case K_CHANNEL:
        if ((n == 5 && strncasecmp(s, "email", 5) == 0) || (n == 3 && strncasecmp(s, "sms", 3) == 0)) {
            for (size_t k = 0; k < n; k++) cc_buf_putc(&c->val, (char)(s[k] | 0x20));
        } else {
            ok = 0;
        }
        what = "channel";
        hint = " (expected email or sms)";
        break;
    default:
        break;
    }
    if (!ok) {
        cc_buf v = CC_BUF_INIT;
        show_value(s, n, &v);
        err(im, line, "invalid %s '%s' in column %s%s", what, cc_buf_str(&v), c->name, hint);
        cc_buf_free(&v);
        cc_buf_reset(&c->val);
        return 0;
    }
    if (!c->val.len) cc_buf_append(&c->val, s, n);
    return 1;
}

/* ---- existing-table inspection -------------------------------------------- */

/* SQLite's affinity rules: 1 when a declared type gives no affinity. */
static int no_affinity(const char *decl)
{
    if (!decl || !*decl) return 1;
    cc_buf u = CC_BUF_INIT;
    for (const char *p = decl; *p; p++) cc_buf_putc(&u, (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p));
    const char *s = cc_buf_str(&u);
    int r = !strstr(s, "INT") && !strstr(s, "CHAR") && !strstr(s, "CLOB") && !strstr(s, "TEXT") &&
            strstr(s, "BLOB");
    cc_buf_free(&u);
    return r;
}

/* 1 when `col` alone is the primary key or carries a unique index. */
static int key_is_unique(sqlite3 *db, const char *table, const char *col)
{
    sqlite3_stmt *st = NULL;
    int npk = 0, match = 0;
    if (sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info(?) WHERE pk > 0", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
            npk++;
            if (strcasecmp((const char *)sqlite3_column_text(st, 0), col) == 0) match = 1;
        }
    }
    sqlite3_finalize(st);
    if (npk == 1 && match) return 1;
    int found = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT (SELECT count(*) FROM pragma_index_info(il.name)),"
                           "       (SELECT name FROM pragma_index_info(il.name))"
                           " FROM pragma_index_list(?) AS il WHERE il.\"unique\" = 1 AND il.partial = 0",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
        while (!found && sqlite3_step(st) == SQLITE_ROW) {
            const char *name = (const char *)sqlite3_column_text(st, 1);
            if (sqlite3_column_int(st, 0) == 1 && name && strcasecmp(name, col) == 0) found = 1;
        }
    }
    sqlite3_finalize(st);
    return found;
}

static int is_view(sqlite3 *db, const char *table)
{
    sqlite3_stmt *st = NULL;
    int v = 0;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type='view' AND name=?", -1, &st,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
        v = sqlite3_step(st) == SQLITE_ROW;
    }
    sqlite3_finalize(st);
    return v;
}

/* ---- decoding -------------------------------------------------------------- */

/* Convert GB18030 bytes to UTF-8; NULL and a diag on a bad sequence. */
static char *from_gb18030(importer *im, const char *in, size_t inlen, size_t *outlen)
{
    iconv_t cd = iconv_open("UTF-8", "GB18030");
    if (cd == (iconv_t)-1) {
        err(im, 0, "cannot convert from GB18030: %s", strerror(errno));
        return NULL;
    }
    size_t cap = inlen * 2 + 16;
    char *out = xmalloc(cap + 1);
    char *ip = (char *)in, *op = out;
    size_t ileft = inlen, oleft = cap;
    while (ileft > 0) {
        size_t r = iconv(cd, &ip, &ileft, &op, &oleft);
        if (r != (size_t)-1) break;
        if (errno == E2BIG) {
            size_t used = (size_t)(op - out);
            cap *= 2;
            out = xrealloc(out, cap + 1);
            op = out + used;
            oleft = cap - used;
            continue;
        }
        err(im, line_of(in, (size_t)(ip - in)), "%s GB18030 byte sequence",
            errno == EINVAL ? "incomplete" : "invalid");
        iconv_close(cd);
        free(out);
        return NULL;
    }
    iconv_close(cd);
    *outlen = (size_t)(op - out);
    out[*outlen] = '\0';
    return out;
}

/* ---- the import ------------------------------------------------------------ */

static int valid_table_name(const char *t)
{
    if (!t || !(is_alpha(*t) || *t == '_')) return 0;
    for (const char *p = t; *p; p++)
        if (!(is_alpha(*p) || is_digit(*p) || *p == '_')) return 0;
    return strncasecmp(t, "care_", 5) != 0 && strncasecmp(t, "sqlite_", 7) != 0;
}

/* Pass 1: header checks, per-row validation, type inference, key checks. */
static void validate(importer *im, csv_reader *r, size_t *nrows)
{
    size_t rows = 0;
    int rc;
    while ((rc = rd_next(r, im->d)) != 0) {
        if (rc < 0) {
            im->nerr++;
            continue;
        }
        rows++;
        if (r->nf != im->ncols) {
            err(im, r->rec_line, "expected %zu fields as in the header, found %zu", im->ncols, r->nf);
            continue;
        }
        for (size_t i = 0; i < im->ncols; i++) {
            int isnull;
            if (!prepare_value(im, i, r->fields[i], r->len[i], r->rec_line, &isnull)) continue;
            column *c = &im->cols[i];
            if ((int)i == im->keyidx) {
                if (isnull) {
                    err(im, r->rec_line, "empty key in column %s", c->name);
                } else {
                    int first = keys_add(&im->keys, c->val.data, c->val.len, r->rec_line);
                    if (first) {
                        cc_buf v = CC_BUF_INIT;
                        show_value(c->val.data, c->val.len, &v);
                        err(im, r->rec_line, "duplicate key '%s' in column %s (first on line %d)",
                            cc_buf_str(&v), c->name, first);
                        cc_buf_free(&v);
                    }
                }
            }
            if (isnull) continue;
            c->any = 1;
            if (c->all_int && !is_plain_int(c->val.data, c->val.len)) {
                c->all_int = 0;
            }
            if (c->all_real && !c->all_int && !is_plain_int(c->val.data, c->val.len) &&
                !is_plain_real(c->val.data, c->val.len))
                c->all_real = 0;
            if (c->all_date) {
                clock_iso_kind k = clock_iso_kind_of(c->val.data, c->val.len);
                if (k == CLOCK_ISO_NONE) c->all_date = 0;
                if (k == CLOCK_ISO_DATETIME) c->any_datetime = 1;
            }
        }
    }
    *nrows = rows;
}

/* The declared type says what the data is, so rules read a column of
 * dates as dates whatever its name (a `closed_at` of plain days is a
 * date, not a date-time at midnight).  Dates and date-times mixed are
 * date-times: a plain date is then its day's start. */
static const char *col_type(const column *c)
{
    if (!c->any) return "TEXT"; /* nothing to infer from */
    if (c->all_int) return "INTEGER";
    if (c->all_real) return "REAL";
    if (c->all_date) return c->any_datetime ? "DATETIME" : "DATE";
    return "TEXT";
}

static cc_code db_fail(importer *im, const char *what)
{
    err(im, 0, "%s: %s", what, sqlite3_errmsg(im->db));
    return CC_ERR_DB;
}

/* Pass 2: create or alter the table and upsert every row. */
static cc_code write_rows(importer *im, csv_reader *r)
{
    cc_buf sql = CC_BUF_INIT;
    cc_code code = CC_OK;
    sqlite3_stmt *ins = NULL;
    if (!im->table_exists) {
        cc_buf_puts(&sql, "CREATE TABLE ");
        db_quote_ident(im->table, &sql);
        cc_buf_puts(&sql, "(");
        for (size_t i = 0; i < im->ncols; i++) {
            if (i) cc_buf_puts(&sql, ", ");
            db_quote_ident(im->cols[i].name, &sql);
            cc_buf_printf(&sql, " %s", col_type(&im->cols[i]));
            if ((int)i == im->keyidx) cc_buf_puts(&sql, " PRIMARY KEY");
        }
        cc_buf_puts(&sql, ")");
        if (sqlite3_exec(im->db, cc_buf_str(&sql), NULL, NULL, NULL) != SQLITE_OK) {
            code = db_fail(im, "cannot create the table");
            goto out;
        }
    } else {
        for (size_t i = 0; i < im->ncols; i++) {
            if (im->cols[i].exists) continue;
            cc_buf_reset(&sql);
            cc_buf_puts(&sql, "ALTER TABLE ");
            db_quote_ident(im->table, &sql);
            cc_buf_puts(&sql, " ADD COLUMN ");
            db_quote_ident(im->cols[i].name, &sql);
            cc_buf_printf(&sql, " %s", col_type(&im->cols[i]));
            if (sqlite3_exec(im->db, cc_buf_str(&sql), NULL, NULL, NULL) != SQLITE_OK) {
                code = db_fail(im, "cannot add a column");
                goto out;
            }
        }
    }

    cc_buf_reset(&sql);
    cc_buf_puts(&sql, "INSERT INTO ");
    db_quote_ident(im->table, &sql);
    cc_buf_puts(&sql, "(");
    for (size_t i = 0; i < im->ncols; i++) {
        if (i) cc_buf_puts(&sql, ", ");
        db_quote_ident(im->cols[i].name, &sql);
    }
    cc_buf_puts(&sql, ") VALUES (");
    for (size_t i = 0; i < im->ncols; i++) cc_buf_printf(&sql, "%s?%zu", i ? ", " : "", i + 1);
    cc_buf_puts(&sql, ") ON CONFLICT(");
    db_quote_ident(im->cols[im->keyidx].name, &sql);
    if (im->ncols == 1) {
        cc_buf_puts(&sql, ") DO NOTHING");
    } else {
        cc_buf_puts(&sql, ") DO UPDATE SET ");
        int first = 1;
        for (size_t i = 0; i < im->ncols; i++) {
            if ((int)i == im->keyidx) continue;
            if (!first) cc_buf_puts(&sql, ", ");
            first = 0;
            db_quote_ident(im->cols[i].name, &sql);
            cc_buf_puts(&sql, " = excluded.");
            db_quote_ident(im->cols[i].name, &sql);
        }
    }
    if (sqlite3_prepare_v2(im->db, cc_buf_str(&sql), -1, &ins, NULL) != SQLITE_OK) {
        code = db_fail(im, "cannot prepare the insert");
        goto out;
    }

    int rc;
    while ((rc = rd_next(r, im->d)) != 0) {
        if (rc < 0 || r->nf != im->ncols) { /* cannot happen after pass 1 */
            im->nerr++;
            continue;
        }
        for (size_t i = 0; i < im->ncols; i++) {
            int isnull;
            column *c = &im->cols[i];
            if (!prepare_value(im, i, r->fields[i], r->len[i], r->rec_line, &isnull)) continue;
            int p = (int)i + 1;
            if (isnull) {
                sqlite3_bind_null(ins, p);
            } else if (c->bind_typed && is_plain_int(c->val.data, c->val.len)) {
                sqlite3_bind_int64(ins, p, strtoll(c->val.data, NULL, 10));
            } else if (c->bind_typed && is_plain_real(c->val.data, c->val.len)) {
                sqlite3_bind_double(ins, p, strtod(c->val.data, NULL));
            } else {
                sqlite3_bind_text(ins, p, c->val.data, (int)c->val.len, SQLITE_STATIC);
            }
        }
        int src = sqlite3_step(ins);
        if (src != SQLITE_DONE) {
            int ec = sqlite3_extended_errcode(im->db) & 0xff;
            err(im, r->rec_line, "cannot store the row: %s", sqlite3_errmsg(im->db));
            if (ec != SQLITE_CONSTRAINT && ec != SQLITE_MISMATCH && ec != SQLITE_TOOBIG) {
                code = CC_ERR_DB;
                goto out;
            }
        }
        sqlite3_reset(ins);
    }
out:
    sqlite3_finalize(ins);
    cc_buf_free(&sql);
    return code;
}

cc_code csv_import(sqlite3 *db, const cc_config *cfg, const char *table, const char *path,
                   const char *key_column, const char *encoding, cc_diags *diags,
                   size_t *rows_imported)
{
    if (rows_imported) *rows_imported = 0;
    if (!valid_table_name(table)) {
        cc_diag(diags, NULL, 0, 0,
                "invalid table name '%s': use letters, digits and '_' (not starting with a digit); "
                "care_* and sqlite_* are reserved",
                table ? table : "");
        return CC_ERR_USAGE;
    }
    int gb = 0;
    if (encoding && *encoding) {
        if (strcasecmp(encoding, "gb18030") == 0 || strcasecmp(encoding, "gbk") == 0 ||
            strcasecmp(encoding, "gb2312") == 0 || strcasecmp(encoding, "cp936") == 0)
            gb = 1;
        else if (strcasecmp(encoding, "utf-8") != 0 && strcasecmp(encoding, "utf8") != 0) {
            cc_diag(diags, NULL, 0, 0, "unsupported encoding '%s' (use utf-8, gb18030 or gbk)",
                    encoding);
            return CC_ERR_USAGE;
        }
    }

    importer im;
    memset(&im, 0, sizeof im);
    im.db = db;
    im.cfg = cfg;
    im.table = table;
    im.path = path;
    im.d = diags;
    im.keyidx = -1;
    im.is_customers = strcasecmp(table, dflt(cfg ? cfg->customers.table : NULL, "customers")) == 0;
    im.key = key_column && *key_column
                 ? key_column
                 : im.is_customers ? dflt(cfg ? cfg->customers.id : NULL, "id") : "id";

    size_t rawlen = 0;
    char *raw = cc_read_file(path, &rawlen);
    if (!raw) {
        cc_diag(diags, path, 0, 0, "cannot read: %s", strerror(errno));
        return CC_ERR_IO;
    }
    char *data = raw;
    size_t len = rawlen;
    if (gb) {
        data = from_gb18030(&im, raw, rawlen, &len);
        free(raw);
        raw = data;
        if (!data) return CC_ERR_INPUT;
    }
    if (len >= 2 && ((unsigned char)data[0] == 0xFF || (unsigned char)data[0] == 0xFE) &&
        ((unsigned char)data[1] == 0xFE || (unsigned char)data[1] == 0xFF)) {
        cc_diag(diags, path, 1, 0, "the file is UTF-16; save it as UTF-8 (or GB18030 with --encoding gb18030)");
        free(raw);
        return CC_ERR_INPUT;
    }
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
        data += 3;
        len -= 3;
    }

    csv_reader r;
    memset(&r, 0, sizeof r);
    r.p = data;
    r.end = data + len;
    r.line = 1;
    r.path = path;

    cc_code code = CC_OK;
    char **hdr = NULL;
    size_t nrows = 0;
    int in_tx = 0;

    int rc = rd_next(&r, diags);
    if (rc <= 0) {
        if (rc == 0) err(&im, 1, "the file is empty: the first line must be the header");
        code = CC_ERR_INPUT;
        goto out;
    }
    im.ncols = r.nf;
    im.cols = xcalloc(im.ncols, sizeof *im.cols);
    hdr = xcalloc(im.ncols, sizeof *hdr);
    for (size_t i = 0; i < im.ncols; i++) {
        hdr[i] = xstrndup(r.fields[i], r.len[i]);
        column *c = &im.cols[i];
        c->name = hdr[i];
        c->all_int = c->all_real = c->all_date = 1;
        if (r.len[i] == 0) {
            err(&im, r.rec_line, "empty column name in the header (column %zu)", i + 1);
            continue;
        }
        if (memchr(r.fields[i], '\0', r.len[i]) ||
            utf8_valid_prefix((const unsigned char *)r.fields[i], r.len[i]) != r.len[i]) {
            err(&im, r.rec_line, "invalid UTF-8 or NUL byte in header column %zu%s", i + 1,
                gb ? "" : " (if the file is GBK/GB18030, use --encoding gb18030)");
            c->name = "?";
            continue;
        }
        int ctl = 0;
        for (size_t k = 0; k < r.len[i]; k++) ctl |= (unsigned char)r.fields[i][k] < 0x20 || r.fields[i][k] == 0x7f;
        if (ctl) {
            err(&im, r.rec_line, "header column %zu holds a line break or control character (a quote left open?)",
                i + 1);
            c->name = "?";
            continue;
        }
        if (has_bom(r.fields[i], r.len[i])) {
            err(&im, r.rec_line, "a byte order mark (U+FEFF) in header column %zu: were two files joined? Remove it",
                i + 1);
            c->name = "?";
            continue;
        }
        for (size_t j = 0; j < i; j++)
            if (im.cols[j].name[0] && strcasecmp(im.cols[j].name, hdr[i]) == 0) {
                err(&im, r.rec_line, "duplicate column name '%s' in the header (columns %zu and %zu)",
                    hdr[i], j + 1, i + 1);
                break;
            }
        if (strcasecmp(hdr[i], im.key) == 0 && im.keyidx < 0) im.keyidx = (int)i;
        if (im.is_customers) c->kind = customer_kind(&im, hdr[i]);
    }
    if (im.keyidx < 0)
        err(&im, r.rec_line, "the header has no key column '%s'%s", im.key,
            key_column ? "" : " (name the key column with --key COL)");

    /* Lock first, so the schema we check is the schema we write to.  In WAL
     * mode BEGIN IMMEDIATE + ROLLBACK writes nothing to the database file. */
    if (db_begin(db) != CC_OK) {
        cc_diag(diags, NULL, 0, 0, "cannot lock the database: %s", sqlite3_errmsg(db));
        code = CC_ERR_DB;
        goto out;
    }
    in_tx = 1;
    im.table_exists = db_table_exists(db, table);
    if (im.table_exists && is_view(db, table)) {
        err(&im, 0, "'%s' is a view, not a table", table);
    } else if (im.table_exists) {
        for (size_t i = 0; i < im.ncols; i++) {
            column *c = &im.cols[i];
            sqlite3_stmt *st = NULL;
            if (sqlite3_prepare_v2(db, "SELECT type FROM pragma_table_info(?) WHERE name = ? COLLATE NOCASE",
                                   -1, &st, NULL) == SQLITE_OK) {
                sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, c->name, -1, SQLITE_STATIC);
                if (sqlite3_step(st) == SQLITE_ROW) {
                    c->exists = 1;
                    c->bind_typed = no_affinity((const char *)sqlite3_column_text(st, 0));
                }
            }
            sqlite3_finalize(st);
        }
        if (im.keyidx >= 0 && !key_is_unique(db, table, im.key))
            err(&im, 0,
                "table %s has no primary key or unique index on column %s, so rows cannot be "
                "matched; add one (CREATE UNIQUE INDEX ...) or name another column with --key",
                table, im.key);
    }

    validate(&im, &r, &nrows);
    if (im.nerr) {
        code = CC_ERR_INPUT;
        goto out;
    }

    /* Pass 2. */
    r.p = data;
    r.line = 1;
    rd_next(&r, diags); /* the header */
    code = write_rows(&im, &r);
    if (code == CC_OK && im.nerr) code = CC_ERR_INPUT;
    if (code == CC_OK) {
        if (db_commit(db) != CC_OK) {
            cc_diag(diags, NULL, 0, 0, "cannot commit the import: %s", sqlite3_errmsg(db));
            code = CC_ERR_DB;
        } else {
            in_tx = 0;
            if (rows_imported) *rows_imported = nrows;
        }
    }

out:
    if (in_tx) db_rollback(db);
    if (hdr)
        for (size_t i = 0; i < im.ncols; i++) free(hdr[i]);
    free(hdr);
    for (size_t i = 0; i < im.ncols; i++) cc_buf_free(&im.cols[i].val);
    free(im.cols);
    tz_cache_free(&im.tz);
    keys_free(&im.keys);
    rd_free(&r);
    free(raw);
    return code;
}
