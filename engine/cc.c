/* cc.c - result codes, buffers, diagnostics and file helpers shared by every
 * carecast module.  Nothing here knows about campaigns or customers. */
#define _POSIX_C_SOURCE 200809L
#include "cc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

const char *cc_strerror(cc_code code)
{
    switch (code) {
    case CC_OK: return "no error";
    case CC_ERR_USAGE: return "bad usage";
    case CC_ERR_CONFIG: return "bad configuration";
    case CC_ERR_INPUT: return "invalid input";
    case CC_ERR_IO: return "input/output error";
    case CC_ERR_DB: return "database error";
    case CC_ERR_TRANSIENT: return "temporary delivery failure";
    case CC_ERR_PERMANENT: return "permanent delivery failure";
    case CC_ERR_NOT_FOUND: return "not found";
    case CC_ERR_NOT_IMPLEMENTED: return "not implemented yet";
    case CC_ERR_BUSY: return "another carecast process holds the lock";
    case CC_ERR_PROBLEMS: return "problems found";
    }
    return "unknown error";
}

int cc_exit_status(cc_code code)
{
    switch (code) {
    case CC_OK:
    case CC_ERR_BUSY:          /* a second scheduled run is not a failure */
        return 0;
    case CC_ERR_PROBLEMS:
    case CC_ERR_TRANSIENT:
    case CC_ERR_PERMANENT:
        return 1;
    default:
        return 2;
    }
}

static void out_of_memory(size_t n)
{
    fprintf(stderr, "carecast: out of memory (%zu bytes)\n", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) out_of_memory(n);
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) out_of_memory(n * size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) out_of_memory(n);
    return q;
}

char *xstrdup(const char *s)
{
    return s ? xstrndup(s, strlen(s)) : NULL;
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    cc_buf b = CC_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    cc_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (!b.data) return xstrdup("");
    return cc_buf_take(&b);
}

/* ---- buffers ------------------------------------------------------------ */

static void buf_reserve(cc_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

void cc_buf_append(cc_buf *b, const char *s, size_t n)
{
    buf_reserve(b, n);
    if (n) memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void cc_buf_reserve(cc_buf *b, size_t extra) { buf_reserve(b, extra); }

void cc_buf_puts(cc_buf *b, const char *s) { cc_buf_append(b, s, strlen(s)); }
void cc_buf_putc(cc_buf *b, char c) { cc_buf_append(b, &c, 1); }

void cc_buf_vprintf(cc_buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0) return;
    buf_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void cc_buf_printf(cc_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cc_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

const char *cc_buf_str(const cc_buf *b) { return b->data ? b->data : ""; }

char *cc_buf_take(cc_buf *b)
{
    char *p = b->data ? b->data : xstrdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void cc_buf_reset(cc_buf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

void cc_buf_free(cc_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ---- diagnostics -------------------------------------------------------- */

void cc_diag(cc_diags *d, const char *file, int line, int col, const char *fmt, ...)
{
    if (d->limit && d->n >= d->limit) {
        d->count++;
        return;
    }
    cc_buf b = CC_BUF_INIT;
    if (file) cc_buf_puts(&b, file);
    if (file && line > 0) cc_buf_printf(&b, ":%d", line);
    if (file && line > 0 && col > 0) cc_buf_printf(&b, ":%d", col);
    if (file) cc_buf_puts(&b, ": ");
    va_list ap;
    va_start(ap, fmt);
    cc_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    /* One mistake, one message: a check that runs once per campaign (the
     * configuration's, say) must not repeat itself. */
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->msgs[i], cc_buf_str(&b)) == 0) {
            cc_buf_free(&b);
            return;
        }
    d->count++;
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 8;
        d->msgs = xrealloc(d->msgs, d->cap * sizeof *d->msgs);
    }
    d->msgs[d->n++] = cc_buf_take(&b);
}

void cc_diag_print(const cc_diags *d, FILE *stream)
{
    for (size_t i = 0; i < d->n; i++) fprintf(stream, "%s\n", d->msgs[i]);
    if (d->count > d->n)
        fprintf(stream, "... and %zu more error%s\n", d->count - d->n,
                d->count - d->n == 1 ? "" : "s");
}

void cc_diags_free(cc_diags *d)
{
    for (size_t i = 0; i < d->n; i++) free(d->msgs[i]);
    free(d->msgs);
    d->msgs = NULL;
    d->n = d->cap = d->count = 0;
}

/* ---- utilities ---------------------------------------------------------- */

int cc_streq(const char *a, const char *b)
{
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

int cc_parse_duration(const char *s, int64_t *seconds)
{
    static const struct { const char *unit; int64_t secs; } units[] = {
        {"second", 1}, {"minute", 60}, {"hour", 3600}, {"day", 86400}, {"week", 604800},
    };
    const char *p = s;
    while (isspace((unsigned char)*p)) p++;
    if (!isdigit((unsigned char)*p)) return -1;
    int64_t n = 0;
    while (isdigit((unsigned char)*p)) {
        n = n * 10 + (*p++ - '0');
        if (n > 100000000) return -1;
    }
    while (isspace((unsigned char)*p)) p++;
    size_t ulen = 0;
    while (isalpha((unsigned char)p[ulen])) ulen++;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        size_t l = strlen(units[i].unit);
        if ((ulen == l || (ulen == l + 1 && p[l] == 's')) && strncmp(p, units[i].unit, l) == 0) {
            const char *q = p + ulen;
            while (isspace((unsigned char)*q)) q++;
            if (*q) return -1;
            *seconds = n * units[i].secs;
            return 0;
        }
    }
    return -1;
}

cc_code cc_write_file_atomic(const char *path, const char *data, size_t len, int mode)
{
    char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
    /* A fresh file, never one planted at that name (a symlink in a shared
     * folder would redirect the write): what a killed process with the
     * same pid left is removed, then the name is created exclusively. */
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        free(tmp);
        return CC_ERR_IO;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            goto fail;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0) goto fail;
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) goto fail;
    free(tmp);
    return CC_OK;
fail:
    if (fd >= 0) close(fd);
    unlink(tmp);
    free(tmp);
    return CC_ERR_IO;
}

cc_code cc_mkdirs(const char *path, int mode)
{
    char *p = xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(p, mode) != 0 && errno != EEXIST) {
            free(p);
            return CC_ERR_IO;
        }
        *s = '/';
    }
    int rc = mkdir(p, mode);
    free(p);
    return (rc == 0 || errno == EEXIST) ? CC_OK : CC_ERR_IO;
}

char *cc_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    cc_buf b = CC_BUF_INIT;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) cc_buf_append(&b, chunk, n);
    int err = ferror(f);
    fclose(f);
    if (err) {
        cc_buf_free(&b);
        errno = EIO;
        return NULL;
    }
    if (len) *len = b.len;
    return cc_buf_take(&b);
}

void cc_json_str(cc_buf *b, const char *s)
{
    if (!s) {
        cc_buf_puts(b, "null");
        return;
    }
    /* Room for the worst case (every byte as \u00XX) once, then bytes go
     * straight into the buffer: plan output is mostly short fields. */
    size_t n = strlen(s);
    buf_reserve(b, 6 * n + 2);
    char *o = b->data + b->len;
    *o++ = '"';
    static const char hex[] = "0123456789abcdef";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default:
            memcpy(o, "u00", 3);
            o[3] = hex[c >> 4];
            o[4] = hex[c & 15];
            o += 5;
        }
    }
    *o++ = '"';
    *o = '\0';
    b->len = (size_t)(o - b->data);
}

uint64_t cc_hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

uint64_t cc_hash(const char *a, const char *b, const char *c)
{
    uint64_t h = 1469598103934665603ULL;
    const char *parts[] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        if (!parts[i]) continue;
        for (const unsigned char *p = (const unsigned char *)parts[i]; *p; p++) {
            h ^= *p;
            h *= 1099511628211ULL;
        }
        h ^= 0xff; /* separator: ("ab","c") differs from ("a","bc") */
        h *= 1099511628211ULL;
    }
    return h;
}

size_t cc_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (n == 0) return 0;
    uint32_t c = s[0], v;
    size_t len;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) { len = 2; v = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; v = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; v = c & 0x07; }
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (len == 3 && (v < 0x800 || (v >= 0xD800 && v <= 0xDFFF))) return 0;
    if (len == 4 && (v < 0x10000 || v > 0x10FFFF)) return 0;
    *cp = v;
    return len;
}

void cc_csv_field(cc_buf *b, const char *s)
{
    if (!s) return;
    int quote = strpbrk(s, ",\"\r\n") != NULL;
    if (quote) cc_buf_putc(b, '"');
    for (const char *p = s; *p; p++) {
        if (*p == '"') cc_buf_putc(b, '"');
        cc_buf_putc(b, *p);
    }
    if (quote) cc_buf_putc(b, '"');
}

size_t cc_edit_distance(const char *a, const char *b, int fold_case)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return 99;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            unsigned char x = (unsigned char)a[i - 1], y = (unsigned char)b[j - 1];
            if (fold_case) {
                x = (unsigned char)tolower(x);
                y = (unsigned char)tolower(y);
            }
            size_t best = prev + (x != y);
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            prev = cur;
        }
    }
    return row[lb];
}

double cc_seconds_since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}
