/* serve_parse.c - the pure parsing under `carecast serve` (serve_parse.h):
 * urlencoded and multipart form fields, ids, SIDs, stored text and STOP
 * replies.  No I/O, no libmicrohttpd, no database. */
#include "serve_parse.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A strictly decimal, positive integer that fits in int64 (no sign, no
 * spaces, at most 18 digits). */
int serve_parse_id(const char *s, int64_t *out)
{
    if (!s || !*s || strlen(s) > 18) return 0;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return 0;
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return v > 0;
}

/* Text safe to store and show: valid UTF-8 only, controls to spaces, cut
 * at `max` bytes on a character boundary. */
void serve_clean_text(const char *s, size_t max, cc_buf *out)
{
    size_t n = strlen(s), i = 0;
    while (i < n) {
        uint32_t cp;
        size_t l = cc_utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (out->len + (l ? l : 1) > max) break;
        if (l == 0) {
            cc_buf_putc(out, '?');
            l = 1;
        } else if (cp < 0x20 || cp == 0x7f) {
            cc_buf_putc(out, ' ');
        } else {
            cc_buf_append(out, s + i, l);
        }
        i += l;
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decode one application/x-www-form-urlencoded component; 0 when it holds
 * a bad %-escape or a NUL. */
int serve_form_decode(const char *s, size_t n, cc_buf *out)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+') c = ' ';
        else if (c == '%') {
            if (i + 2 >= n) return 0;
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0) return 0;
            c = (char)(h * 16 + l);
            i += 2;
        }
        if (c == '\0') return 0;
        cc_buf_putc(out, c);
    }
    return 1;
}

/* The value of field `name` in an urlencoded body: 1 found (value in out),
 * 0 absent, -1 malformed. */
int serve_form_field(const char *body, size_t len, const char *name, cc_buf *out)
{
    size_t i = 0;
    int found = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && body[end] != '&') end++;
        size_t eq = i;
        while (eq < end && body[eq] != '=') eq++;
        cc_buf key = CC_BUF_INIT;
        int ok = serve_form_decode(body + i, eq - i, &key);
        if (ok && !found && strcmp(cc_buf_str(&key), name) == 0) {
            cc_buf_reset(out);
            ok = eq < end ? serve_form_decode(body + eq + 1, end - eq - 1, out) : 1;
            found = 1;
        }
        cc_buf_free(&key);
        if (!ok) return -1;
        i = end + 1;
    }
    return found;
}

/* find_bytes() is a GNU extension; this is the portable few lines. */
static const char *find_bytes(const char *hay, size_t n, const char *needle, size_t m)
{
    if (m == 0) return hay;
    for (size_t i = 0; i + m <= n; i++)
        if (hay[i] == needle[0] && memcmp(hay + i, needle, m) == 0) return hay + i;
    return NULL;
}

/* The value of `name` in a multipart/form-data body (only what RFC 8058
 * senders post: small text fields).  1 found, 0 absent. */
int serve_multipart_field(const char *body, size_t len, const char *name, cc_buf *out)
{
    char *needle = xasprintf("name=\"%s\"", name);
    const char *end = body + len;
    const char *p = find_bytes(body, len, needle, strlen(needle));
    free(needle);
    if (!p) return 0;
    const char *v = find_bytes(p, (size_t)(end - p), "\r\n\r\n", 4);
    if (!v) return 0;
    v += 4;
    const char *e = find_bytes(v, (size_t)(end - v), "\r\n", 2);
    if (!e) return 0;
    cc_buf_reset(out);
    cc_buf_append(out, v, (size_t)(e - v));
    return 1;
}

int serve_is_sid(const char *s)
{
    if (!s || !*s || strlen(s) > 64) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s)) return 0;
    return 1;
}

/* Skip whitespace at both ends, including U+3000 (ideographic space) and
 * U+00A0, which phones put around Chinese replies. */
static void trim(const char **s, size_t *n)
{
    const unsigned char *p = (const unsigned char *)*s;
    size_t len = *n;
    for (;;) {
        if (len && isspace(p[0])) { p++; len--; }
        else if (len >= 3 && p[0] == 0xe3 && p[1] == 0x80 && p[2] == 0x80) { p += 3; len -= 3; }
        else if (len >= 2 && p[0] == 0xc2 && p[1] == 0xa0) { p += 2; len -= 2; }
        else break;
    }
    for (;;) {
        if (len && isspace(p[len - 1])) len--;
        else if (len >= 3 && p[len - 3] == 0xe3 && p[len - 2] == 0x80 && p[len - 1] == 0x80) len -= 3;
        else if (len >= 2 && p[len - 2] == 0xc2 && p[len - 1] == 0xa0) len -= 2;
        else break;
    }
    *s = (const char *)p;
    *n = len;
}

/* Is this reply an opt-out?  STOP, UNSUBSCRIBE, TD and T count as whole
 * first words, case-insensitively ("T" must not catch "Thanks" or "T恤");
 * 退订 (which covers 退订T) counts as a prefix, since Chinese has no spaces
 * between words. */
int serve_is_stop(const char *text)
{
    if (!text) return 0;
    const char *s = text;
    size_t n = strlen(text);
    trim(&s, &n);
    static const char *const words[] = {"UNSUBSCRIBE", "STOP", "TD", "T"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        size_t l = strlen(words[i]);
        if (n < l || strncasecmp(s, words[i], l) != 0) continue;
        if (n == l) return 1;
        unsigned char next = (unsigned char)s[l];
        if (next < 0x80 && !isalnum(next)) return 1;
    }
    return n >= 6 && memcmp(s, "退订", 6) == 0;
}

int serve_form_pairs(const char *body, size_t len, serve_form_pair **out, size_t *n_out)
{
    serve_form_pair *pairs = NULL;
    size_t n = 0;
    int ok = 1;
    size_t i = 0;
    while (ok && i < len) {
        size_t end = i;
        while (end < len && body[end] != '&') end++;
        size_t eq = i;
        while (eq < end && body[eq] != '=') eq++;
        if (end > i) {
            cc_buf k = CC_BUF_INIT, v = CC_BUF_INIT;
            ok = serve_form_decode(body + i, eq - i, &k) &&
                 (eq >= end || serve_form_decode(body + eq + 1, end - eq - 1, &v));
            pairs = xrealloc(pairs, (n + 1) * sizeof *pairs);
            pairs[n].key = cc_buf_take(&k);
            pairs[n].value = cc_buf_take(&v);
            if (!pairs[n].key) pairs[n].key = xstrdup("");
            if (!pairs[n].value) pairs[n].value = xstrdup("");
            n++;
        }
        i = end + 1;
    }
    *out = pairs;
    *n_out = n;
    return ok;
}

void serve_form_pairs_free(serve_form_pair *pairs, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        free(pairs[k].key);
        free(pairs[k].value);
    }
    free(pairs);
}

int serve_form_pair_cmp(const void *a, const void *b)
{
    const serve_form_pair *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->value, y->value);
}

/* libmicrohttpd decodes the query leniently and hands out C strings:
 * "id=1%00x" would read as id 1, "id=1&id=2" as one of them.  A query is
 * refused unless every component decodes strictly (serve_form_decode: no bad
 * escape, no NUL) and no name comes twice. */
const char *serve_query_problem(const char *uri)
{
    const char *q = strchr(uri, '?');
    if (!q) return NULL;
    q++;
    size_t len = strlen(q), i = 0, nkeys = 0;
    cc_buf keys[32];
    const char *why = NULL;
    while (i < len && !why) {
        size_t end = i;
        while (end < len && q[end] != '&') end++;
        size_t eq = i;
        while (eq < end && q[eq] != '=') eq++;
        cc_buf k = CC_BUF_INIT, v = CC_BUF_INIT;
        if (!serve_form_decode(q + i, eq - i, &k) || (eq < end && !serve_form_decode(q + eq + 1, end - eq - 1, &v)))
            why = "malformed query string (a bad %-escape or a NUL)\n";
        for (size_t j = 0; !why && k.len && j < nkeys; j++)
            if (!strcmp(cc_buf_str(&keys[j]), cc_buf_str(&k))) why = "a query parameter is given twice\n";
        cc_buf_free(&v);
        if (!why && k.len && nkeys < sizeof keys / sizeof keys[0]) keys[nkeys++] = k;
        else cc_buf_free(&k);
        i = end + 1;
    }
    for (size_t j = 0; j < nkeys; j++) cc_buf_free(&keys[j]);
    return why;
}
