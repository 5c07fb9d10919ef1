/* liquid_filters.c - Liquid's standard filters and the filter table
 * (liquid_ast.h).  Strings are UTF-8: size, slice and truncate count
 * characters, never bytes, so a Chinese name is not cut in half.  `date`
 * takes the current time from the render options (carecast's clock), so
 * previews with --now are reproducible. */
#include "liquid_ast.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

#define FILTER(name) static lv f_##name(liq_ctx *c, lv in, const lv *a, size_t na, const char *const *kw, \
                                         const lv *kwv, size_t nkw)
#define ARENA liq_arena(c)
#define ARG(i) ((i) < na ? a[i] : lv_nil())

/* ---- helpers ------------------------------------------------------------ */

static lv S(liq_ctx *c, lv v) { return lv_to_str(ARENA, v); }

static size_t u8_count(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += ((unsigned char)s[i] & 0xC0) != 0x80;
    return k;
}

/* Byte offset of character `ch` (clamped to the end). */
static size_t u8_offset(const char *s, size_t n, size_t ch)
{
    size_t i = 0;
    while (i < n && ch > 0) {
        i++;
        while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80) i++;
        ch--;
    }
    return i;
}

static int int_arg(liq_ctx *c, lv v, int64_t *out)
{
    if (v.k == LV_INT) {
        *out = v.u.i;
        return 1;
    }
    if (v.k == LV_FLOAT) {
        /* Out of int64's range the conversion is undefined: saturate, as
         * strtoll does for a text argument below.  NaN is no integer. */
        if (v.u.f != v.u.f) return 0;
        *out = lv_f2i(v.u.f);
        return 1;
    }
    if (v.k == LV_STR) {
        const char *s = v.u.str.s;
        char *end;
        long long x = strtoll(s, &end, 10);
        if (end != s && *end == '\0') {
            *out = x;
            return 1;
        }
    }
    liq_fail(c, "invalid integer");
    return 0;
}

/* Liquid's InputIterator: arrays as they are, nil as [], anything else as [x]. */
static size_t as_list(liq_ctx *c, lv v, const lv **items)
{
    if (v.k == LV_HASH) {
        lv *one = lv_alloc(ARENA, sizeof *one);
        if (!one) return 0;
        *one = v;
        *items = one;
        return 1;
    }
    return lv_items(ARENA, v, items);
}

static lv prop(liq_ctx *c, lv item, lv key)
{
    if (item.k == LV_HASH || item.k == LV_ARRAY) return lv_lookup(ARENA, item, key);
    return lv_nil();
}

static lv kwarg(const char *const *kw, const lv *kwv, size_t nkw, const char *name, int *found)
{
    for (size_t i = 0; i < nkw; i++)
        if (!strcmp(kw[i], name)) {
            *found = 1;
            return kwv[i];
        }
    *found = 0;
    return lv_nil();
}

/* ---- strings ------------------------------------------------------------ */

FILTER(append) { cc_buf b = CC_BUF_INIT; lv_to_buf(in, &b); lv_to_buf(ARG(0), &b); lv r = lv_str_take(&b, ARENA); cc_buf_free(&b); return r; }
FILTER(prepend) { cc_buf b = CC_BUF_INIT; lv_to_buf(ARG(0), &b); lv_to_buf(in, &b); lv r = lv_str_take(&b, ARENA); cc_buf_free(&b); return r; }

static lv map_chars(liq_ctx *c, lv in, int mode)
{
    lv s = S(c, in);
    char *p = lv_alloc(ARENA, s.u.str.n + 1);
    if (!p) return lv_nil();
    for (size_t i = 0; i < s.u.str.n; i++) {
        unsigned char ch = (unsigned char)s.u.str.s[i];
        if (mode == 'u') p[i] = (char)toupper(ch);
        else if (mode == 'd') p[i] = (char)tolower(ch);
        else p[i] = (char)(i == 0 ? toupper(ch) : tolower(ch));
    }
    return lv_str(ARENA, p, s.u.str.n);
}
FILTER(upcase) { return map_chars(c, in, 'u'); }
FILTER(downcase) { return map_chars(c, in, 'd'); }
FILTER(capitalize) { return map_chars(c, in, 'c'); }

static lv strip_side(liq_ctx *c, lv in, int left, int right)
{
    lv s = S(c, in);
    const char *b = s.u.str.s, *e = b + s.u.str.n;
    if (left)
        while (b < e && (isspace((unsigned char)*b) || !*b)) b++;
    if (right)
        while (e > b && (isspace((unsigned char)e[-1]) || !e[-1])) e--;
    return lv_str(ARENA, b, (size_t)(e - b));
}
FILTER(strip) { return strip_side(c, in, 1, 1); }
FILTER(lstrip) { return strip_side(c, in, 1, 0); }
FILTER(rstrip) { return strip_side(c, in, 0, 1); }

FILTER(strip_newlines)
{
    lv s = S(c, in);
    cc_buf b = CC_BUF_INIT;
    for (size_t i = 0; i < s.u.str.n; i++)
        if (s.u.str.s[i] != '\n' && s.u.str.s[i] != '\r') cc_buf_putc(&b, s.u.str.s[i]);
    lv r = lv_str_take(&b, ARENA);
    cc_buf_free(&b);
    return r;
}

FILTER(newline_to_br)
{
    lv s = S(c, in);
    cc_buf b = CC_BUF_INIT;
    for (size_t i = 0; i < s.u.str.n; i++) {
        if (s.u.str.s[i] == '\r' && i + 1 < s.u.str.n && s.u.str.s[i + 1] == '\n') {
            cc_buf_puts(&b, "<br />\r\n");
            i++;
        } else if (s.u.str.s[i] == '\n') {
            cc_buf_puts(&b, "<br />\n");
        } else {
            cc_buf_putc(&b, s.u.str.s[i]);
        }
    }
    lv r = lv_str_take(&b, ARENA);
    cc_buf_free(&b);
    return r;
}

static const char *ci_find(const char *h, const char *n)
{
    size_t l = strlen(n);
    for (; *h; h++)
        if (!strncasecmp(h, n, l)) return h;
    return NULL;
}

FILTER(strip_html)
{
    lv s = S(c, in);
    cc_buf b = CC_BUF_INIT;
    const char *p = s.u.str.s;
    while (*p) {
        if (!strncasecmp(p, "<script", 7) || !strncasecmp(p, "<style", 6)) {
            const char *close = ci_find(p, p[1] == 's' || p[1] == 'S' ? (tolower((unsigned char)p[2]) == 'c' ? "</script>" : "</style>") : "</style>");
            if (close) {
                p = close + (tolower((unsigned char)close[3]) == 'c' ? 9 : 8);
                continue;
            }
        }
        if (!strncmp(p, "<!--", 4)) {
            const char *close = strstr(p + 4, "-->");
            if (close) {
                p = close + 3;
                continue;
            }
        }
        if (*p == '<') {
            const char *close = strchr(p, '>');
            if (close) {
                p = close + 1;
                continue;
            }
        }
        cc_buf_putc(&b, *p++);
    }
    lv r = lv_str_take(&b, ARENA);
    cc_buf_free(&b);
    return r;
}

/* mode: 'a' all, 'f' first, 'l' last */
static lv replace(liq_ctx *c, lv in, lv what, lv with, int mode)
{
    lv s = S(c, in), w = S(c, what), r = with.k == LV_NIL ? lv_cstr(ARENA, "") : S(c, with);
    const char *hs = s.u.str.s;
    size_t wl = w.u.str.n;
    cc_buf b = CC_BUF_INIT;
    if (mode == 'l') {
        const char *last = NULL;
        if (wl == 0) last = hs + s.u.str.n;
        else
            for (const char *q = strstr(hs, w.u.str.s); q; q = strstr(q + 1, w.u.str.s)) last = q;
        if (!last) return s;
        cc_buf_append(&b, hs, (size_t)(last - hs));
        cc_buf_append(&b, r.u.str.s, r.u.str.n);
        cc_buf_puts(&b, last + wl);
    } else if (wl == 0) {
        /* Ruby inserts the replacement between every character */
        if (mode == 'f') {
            cc_buf_append(&b, r.u.str.s, r.u.str.n);
            cc_buf_append(&b, hs, s.u.str.n);
        } else {
            for (size_t i = 0; i <= s.u.str.n; i++) {
                cc_buf_append(&b, r.u.str.s, r.u.str.n);
                if (i < s.u.str.n) {
                    size_t j = i + 1;
                    while (j < s.u.str.n && ((unsigned char)hs[j] & 0xC0) == 0x80) j++;
                    cc_buf_append(&b, hs + i, j - i);
                    i = j - 1;
                }
            }
        }
    } else {
        const char *q = hs, *m;
        while ((m = strstr(q, w.u.str.s))) {
            cc_buf_append(&b, q, (size_t)(m - q));
            cc_buf_append(&b, r.u.str.s, r.u.str.n);
            q = m + wl;
            if (mode == 'f') break;
        }
        cc_buf_puts(&b, q);
    }
    lv res = lv_str_take(&b, ARENA);
    cc_buf_free(&b);
    return res;
}
FILTER(replace) { return replace(c, in, ARG(0), ARG(1), 'a'); }
FILTER(replace_first) { return replace(c, in, ARG(0), ARG(1), 'f'); }
FILTER(replace_last) { return replace(c, in, ARG(0), ARG(1), 'l'); }
FILTER(remove) { return replace(c, in, ARG(0), lv_nil(), 'a'); }
FILTER(remove_first) { return replace(c, in, ARG(0), lv_nil(), 'f'); }
FILTER(remove_last) { return replace(c, in, ARG(0), lv_nil(), 'l'); }

FILTER(slice)
{
    int64_t off, len = 1;
    if (!int_arg(c, ARG(0), &off)) return lv_nil();
    if (na > 1 && !int_arg(c, a[1], &len)) return lv_nil();
    if (in.k == LV_NIL) return lv_nil();
    if (in.k == LV_ARRAY) {
        int64_t n = (int64_t)in.u.arr.n;
        if (off < 0) off += n;
        if (off < 0 || off > n || len < 0) return lv_array(ARENA, NULL, 0);
        if (off + len > n) len = n - off;
        return lv_array(ARENA, in.u.arr.items + off, (size_t)len);
    }
    lv s = S(c, in);
    int64_t n = (int64_t)u8_count(s.u.str.s, s.u.str.n);
    if (off < 0) off += n;
    if (off < 0 || off > n || len < 0) return lv_nil();
    if (off + len > n) len = n - off;
    size_t b0 = u8_offset(s.u.str.s, s.u.str.n, (size_t)off);
    size_t b1 = u8_offset(s.u.str.s, s.u.str.n, (size_t)(off + len));
    return lv_str(ARENA, s.u.str.s + b0, b1 - b0);
}

FILTER(split)
{
    lv s = S(c, in), pat = S(c, ARG(0));
    lv *items = NULL;
    size_t n = 0, cap = 0;
    const char *p = s.u.str.s, *e = p + s.u.str.n;
#define ADD(from, len) do { if (n == cap) { cap = cap ? cap * 2 : 8; lv *ni = lv_alloc(ARENA, cap * sizeof *ni); if (!ni) return lv_nil(); if (n) memcpy(ni, items, n * sizeof *ni); items = ni; } items[n++] = lv_str(ARENA, (from), (len)); } while (0)
    if (pat.u.str.n == 1 && pat.u.str.s[0] == ' ') {
        /* awk-style: runs of whitespace, leading whitespace ignored */
        while (p < e) {
            while (p < e && isspace((unsigned char)*p)) p++;
            const char *w = p;
            while (p < e && !isspace((unsigned char)*p)) p++;
            if (p > w) ADD(w, (size_t)(p - w));
        }
    } else if (pat.u.str.n == 0) {
        while (p < e) {
            const char *w = p++;
            while (p < e && ((unsigned char)*p & 0xC0) == 0x80) p++;
            ADD(w, (size_t)(p - w));
        }
    } else {
        const char *m;
        while ((m = strstr(p, pat.u.str.s))) {
            ADD(p, (size_t)(m - p));
            p = m + pat.u.str.n;
        }
        ADD(p, (size_t)(e - p));
        /* Ruby drops trailing empty strings */
        while (n && items[n - 1].u.str.n == 0) n--;
    }
#undef ADD
    return lv_array(ARENA, items, n);
}

FILTER(truncate)
{
    if (in.k == LV_NIL) return lv_nil();
    int64_t len = 50;
    if (na > 0 && !int_arg(c, a[0], &len)) return lv_nil();
    lv s = S(c, in), ell = na > 1 ? S(c, a[1]) : lv_cstr(ARENA, "...");
    int64_t chars = (int64_t)u8_count(s.u.str.s, s.u.str.n);
    if (chars <= len) return s;
    int64_t keep = len - (int64_t)u8_count(ell.u.str.s, ell.u.str.n);
    if (keep < 0) keep = 0;
    size_t b = u8_offset(s.u.str.s, s.u.str.n, (size_t)keep);
    cc_buf out = CC_BUF_INIT;
    cc_buf_append(&out, s.u.str.s, b);
    cc_buf_append(&out, ell.u.str.s, ell.u.str.n);
    lv r = lv_str_take(&out, ARENA);
    cc_buf_free(&out);
    return r;
}

FILTER(truncatewords)
{
    if (in.k == LV_NIL) return lv_nil();
    int64_t words = 15;
    if (na > 0 && !int_arg(c, a[0], &words)) return lv_nil();
    if (words < 1) words = 1;
    lv s = S(c, in), ell = na > 1 ? S(c, a[1]) : lv_cstr(ARENA, "...");
    const char *p = s.u.str.s, *e = p + s.u.str.n;
    cc_buf out = CC_BUF_INIT;
    int64_t k = 0;
    while (p < e) {
        while (p < e && isspace((unsigned char)*p)) p++;
        if (p >= e) break;
        const char *w = p;
        while (p < e && !isspace((unsigned char)*p)) p++;
        if (k == words) {
            cc_buf_append(&out, ell.u.str.s, ell.u.str.n);
            lv r = lv_str_take(&out, ARENA);
            cc_buf_free(&out);
            return r;
        }
        if (k) cc_buf_putc(&out, ' ');
        cc_buf_append(&out, w, (size_t)(p - w));
        k++;
    }
    cc_buf_free(&out);
    return s;
}

static void html_escape(cc_buf *b, const char *s, size_t n, int once)
{
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (once && ch == '&') {
            /* an existing entity (&amp; &#39; &#x27;) stays as it is */
            size_t j = i + 1;
            if (j < n && s[j] == '#') j++;
            if (j < n && (s[j] == 'x' || s[j] == 'X') && s[j - 1] == '#') j++;
            size_t k = j;
            while (k < n && isalnum((unsigned char)s[k])) k++;
            if (k > j && k < n && s[k] == ';') {
                cc_buf_append(b, s + i, k - i + 1);
                i = k;
                continue;
            }
        }
        switch (ch) {
        case '&': cc_buf_puts(b, "&amp;"); break;
        case '<': cc_buf_puts(b, "&lt;"); break;
        case '>': cc_buf_puts(b, "&gt;"); break;
        case '"': cc_buf_puts(b, "&quot;"); break;
        case '\'': cc_buf_puts(b, "&#39;"); break;
        default: cc_buf_putc(b, ch);
        }
    }
}

static lv escape_impl(liq_ctx *c, lv in, int once)
{
    if (in.k == LV_NIL) return lv_nil();
    lv s = S(c, in);
    cc_buf b = CC_BUF_INIT;
    html_escape(&b, s.u.str.s, s.u.str.n, once);
    lv r = lv_str_take(&b, ARENA);
    cc_buf_free(&b);
    return r;
}
FILTER(escape) { return escape_impl(c, in, 0); }
FILTER(escape_once) { return escape_impl(c, in, 1); }

FILTER(url_encode)
{
    if (in.k == LV_NIL) return lv_nil();
    lv s = S(c, in);
    cc_buf b = CC_BUF_INIT;
    for (size_t i = 0; i < s.u.str.n; i++) {
        unsigned char ch = (unsigned char)s.u.str.s[i];
        if (isalnum(ch) || ch == '_' || ch == '.' || ch == '-' || ch == '~') cc_buf_putc(&b, (char)ch);
        else if (ch == ' ') cc_buf_putc(&b, '+');
        else cc_buf_printf(&b, "%%%02X", ch);
    }
    lv r = lv_str_take(&b, ARENA);
    cc_buf_free(&b);
    return r;
}

static int hexval(char h)
{
    if (h >= '0' && h <= '9') return h - '0';
    if (h >= 'a' && h <= 'f') return h - 'a' + 10;
    if (h >= 'A' && h <= 'F') return h - 'A' + 10;
    return -1;
}

FILTER(url_decode)
{
    if (in.k == LV_NIL) return lv_nil();
    lv s = S(c, in);
    cc_buf b = CC_BUF_INIT;
    for (size_t i = 0; i < s.u.str.n; i++) {
        char ch = s.u.str.s[i];
        if (ch == '+') cc_buf_putc(&b, ' ');
        else if (ch == '%' && i + 2 < s.u.str.n && hexval(s.u.str.s[i + 1]) >= 0 && hexval(s.u.str.s[i + 2]) >= 0) {
            cc_buf_putc(&b, (char)(hexval(s.u.str.s[i + 1]) * 16 + hexval(s.u.str.s[i + 2])));
            i += 2;
        } else cc_buf_putc(&b, ch);
    }
    lv r = lv_str_take(&b, ARENA);
    cc_buf_free(&b);
    return r;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static lv b64_encode(liq_ctx *c, lv in, int url)
{
    lv s = S(c, in);
    const unsigned char *p = (const unsigned char *)s.u.str.s;
    size_t n = s.u.str.n;
    cc_buf b = CC_BUF_INIT;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        char q[4] = {b64[v >> 18 & 63], b64[v >> 12 & 63], i + 1 < n ? b64[v >> 6 & 63] : '=', i + 2 < n ? b64[v & 63] : '='};
        for (int k = 0; k < 4; k++) {
            if (url && q[k] == '+') q[k] = '-';
            if (url && q[k] == '/') q[k] = '_';
        }
        cc_buf_append(&b, q, 4);
    }
    lv r = lv_str_take(&b, ARENA);
    cc_buf_free(&b);
    return r;
}

static lv b64_decode(liq_ctx *c, lv in)
{
    lv s = S(c, in);
    cc_buf b = CC_BUF_INIT;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < s.u.str.n; i++) {
        char ch = s.u.str.s[i];
        if (ch == '=') break;
        if (ch == '-') ch = '+';
        if (ch == '_') ch = '/';
        const char *q = strchr(b64, ch);
        if (!q || !ch) {
            cc_buf_free(&b);
            liq_fail(c, "invalid base64 provided to base64_decode");
            return lv_nil();
        }
        acc = acc << 6 | (uint32_t)(q - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            cc_buf_putc(&b, (char)(acc >> bits & 0xFF));
        }
    }
    lv r = lv_str_take(&b, ARENA);
    cc_buf_free(&b);
    return r;
}
FILTER(base64_encode) { return b64_encode(c, in, 0); }
FILTER(base64_url_safe_encode) { return b64_encode(c, in, 1); }
FILTER(base64_decode) { return b64_decode(c, in); }
FILTER(base64_url_safe_decode) { return b64_decode(c, in); }

/* ---- math --------------------------------------------------------------- */

static double dbl(lv v) { return v.k == LV_INT ? (double)v.u.i : v.u.f; }

static lv arith(liq_ctx *c, lv x, lv y, char op)
{
    x = lv_to_number(x);
    y = lv_to_number(y);
    if (x.k == LV_INT && y.k == LV_INT) {
        int64_t a = x.u.i, b = y.u.i, r;
        switch (op) {
        case '+': if (__builtin_add_overflow(a, b, &r)) return lv_float((double)a + (double)b); return lv_int(r);
        case '-': if (__builtin_sub_overflow(a, b, &r)) return lv_float((double)a - (double)b); return lv_int(r);
        case '*': if (__builtin_mul_overflow(a, b, &r)) return lv_float((double)a * (double)b); return lv_int(r);
        case '/': case '%':
            if (b == 0) {
                liq_fail(c, "divided by 0");
                return lv_nil();
            }
            if (a == INT64_MIN && b == -1) return op == '/' ? lv_float(-(double)a) : lv_int(0);
            if (op == '/') {
                int64_t q = a / b;
                if ((a % b != 0) && ((a < 0) != (b < 0))) q--;   /* Ruby floors */
                return lv_int(q);
            }
            r = a % b;
            if (r != 0 && ((r < 0) != (b < 0))) r += b;
            return lv_int(r);
        }
    }
    double a = dbl(x), b = dbl(y);
    switch (op) {
    case '+': return lv_float(a + b);
    case '-': return lv_float(a - b);
    case '*': return lv_float(a * b);
    case '/':
        if (b == 0 && y.k == LV_INT) {
            liq_fail(c, "divided by 0");
            return lv_nil();
        }
        return lv_float(a / b);
    default: {
        if (b == 0) {
            if (y.k == LV_INT) liq_fail(c, "divided by 0");
            return y.k == LV_INT ? lv_nil() : lv_float(NAN);
        }
        double r = fmod(a, b);
        if (r != 0 && ((r < 0) != (b < 0))) r += b;
        return lv_float(r);
    }
    }
}
FILTER(plus) { return arith(c, in, ARG(0), '+'); }
FILTER(minus) { return arith(c, in, ARG(0), '-'); }
FILTER(times) { return arith(c, in, ARG(0), '*'); }
FILTER(divided_by) { return arith(c, in, ARG(0), '/'); }
FILTER(modulo) { return arith(c, in, ARG(0), '%'); }

FILTER(abs)
{
    lv n = lv_to_number(in);
    if (n.k == LV_INT) return lv_int(n.u.i < 0 && n.u.i != INT64_MIN ? -n.u.i : n.u.i);
    return lv_float(fabs(n.u.f));
}

static lv to_int_val(double d)
{
    if (!isfinite(d) || fabs(d) >= 9.2e18) return lv_float(d);
    return lv_int((int64_t)d);
}
FILTER(ceil) { lv n = lv_to_number(in); return n.k == LV_INT ? n : to_int_val(ceil(n.u.f)); }
FILTER(floor) { lv n = lv_to_number(in); return n.k == LV_INT ? n : to_int_val(floor(n.u.f)); }

FILTER(round)
{
    lv n = lv_to_number(in);
    int64_t digits = 0;
    if (na > 0 && a[0].k != LV_NIL && !int_arg(c, a[0], &digits)) return lv_nil();
    if (n.k == LV_INT) return n;
    if (digits <= 0) return to_int_val(round(n.u.f));
    if (digits > 15) return n;
    /* Round the decimal text, not the binary value: 2.675 -> 2.68 like Ruby's
     * BigDecimal-backed rounding of literals. */
    char buf[64];
    snprintf(buf, sizeof buf, "%.17g", n.u.f);
    double p = pow(10.0, (double)digits);
    double r = round(n.u.f * p) / p;
    char check[64];
    snprintf(check, sizeof check, "%.*f", (int)digits, r);
    return lv_float(strtod(check, NULL));
}

FILTER(at_least)
{
    lv x = lv_to_number(in), y = lv_to_number(ARG(0));
    int cmp = 0;
    lv_compare(x, y, &cmp);
    return cmp < 0 ? y : x;
}

FILTER(at_most)
{
    lv x = lv_to_number(in), y = lv_to_number(ARG(0));
    int cmp = 0;
    lv_compare(x, y, &cmp);
    return cmp > 0 ? y : x;
}

/* ---- arrays ------------------------------------------------------------- */

FILTER(size)
{
    if (in.k == LV_STR) return lv_int((int64_t)u8_count(in.u.str.s, in.u.str.n));
    if (in.k == LV_ARRAY) return lv_int((int64_t)in.u.arr.n);
    if (in.k == LV_HASH) return lv_lookup(ARENA, in, lv_cstr(ARENA, "size"));
    if (in.k == LV_RANGE) return lv_int(in.u.range.hi >= in.u.range.lo ? in.u.range.hi - in.u.range.lo + 1 : 0);
    return lv_int(0);
}

FILTER(first)
{
    if (in.k == LV_ARRAY || in.k == LV_RANGE || in.k == LV_HASH) return lv_lookup(ARENA, in, lv_cstr(ARENA, "first"));
    return lv_nil();
}

FILTER(last)
{
    if (in.k == LV_ARRAY || in.k == LV_RANGE) return lv_lookup(ARENA, in, lv_cstr(ARENA, "last"));
    return lv_nil();
}

FILTER(join)
{
    const lv *items;
    size_t n = as_list(c, in, &items);
    lv sep = na > 0 ? S(c, a[0]) : lv_cstr(ARENA, " ");
    cc_buf b = CC_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        if (i) cc_buf_append(&b, sep.u.str.s, sep.u.str.n);
        lv_to_buf(items[i], &b);
    }
    lv r = lv_str_take(&b, ARENA);
    cc_buf_free(&b);
    return r;
}

FILTER(reverse)
{
    const lv *items;
    size_t n = as_list(c, in, &items);
    lv *r = n ? lv_alloc(ARENA, n * sizeof *r) : NULL;
    if (n && !r) return lv_nil();
    for (size_t i = 0; i < n; i++) r[i] = items[n - 1 - i];
    return lv_array(ARENA, r, n);
}

typedef struct {
    liq_ctx *c;
    lv key;
    int has_key, natural, bad;
} sort_ctx;

static int cmp_values(sort_ctx *s, lv x, lv y)
{
    if (s->has_key) {
        x = prop(s->c, x, s->key);
        y = prop(s->c, y, s->key);
    }
    /* nil sorts last, as Liquid's nil-safe compare does */
    if (x.k == LV_NIL || y.k == LV_NIL) return (x.k == LV_NIL) - (y.k == LV_NIL);
    if (s->natural && x.k == LV_STR && y.k == LV_STR) {
        int r = strcasecmp(x.u.str.s, y.u.str.s);
        return r;
    }
    int cmp;
    if (lv_compare(x, y, &cmp) != 0) {
        s->bad = 1;
        return 0;
    }
    return cmp;
}

/* A stable merge sort: qsort has no context argument and is not stable. */
static void msort(sort_ctx *s, lv *v, lv *tmp, size_t n)
{
    if (n < 2) return;
    size_t h = n / 2;
    msort(s, v, tmp, h);
    msort(s, v + h, tmp, n - h);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) tmp[k++] = cmp_values(s, v[j], v[i]) < 0 ? v[j++] : v[i++];
    while (i < h) tmp[k++] = v[i++];
    while (j < n) tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof *v);
}

static lv sort_impl(liq_ctx *c, lv in, const lv *a, size_t na, int natural)
{
    if (in.k == LV_NIL) return lv_nil();
    const lv *items;
    size_t n = as_list(c, in, &items);
    sort_ctx s = {c, ARG(0), na > 0 && a[0].k != LV_NIL, natural, 0};
    lv *v = n ? lv_alloc(ARENA, n * sizeof *v) : NULL, *tmp = n ? lv_alloc(ARENA, n * sizeof *tmp) : NULL;
    if (n && (!v || !tmp)) return lv_nil();
    if (n) memcpy(v, items, n * sizeof *v);
    msort(&s, v, tmp, n);
    if (s.bad) {
        liq_fail(c, "comparison of array elements failed (mixed types)");
        return lv_nil();
    }
    return lv_array(ARENA, v, n);
}
FILTER(sort) { return sort_impl(c, in, a, na, 0); }
FILTER(sort_natural) { return sort_impl(c, in, a, na, 1); }

FILTER(uniq)
{
    if (in.k == LV_NIL) return lv_nil();
    const lv *items;
    size_t n = as_list(c, in, &items);
    lv *r = n ? lv_alloc(ARENA, n * sizeof *r) : NULL;
    lv *keys = n ? lv_alloc(ARENA, n * sizeof *keys) : NULL;
    if (n && (!r || !keys)) return lv_nil();
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        lv k = na > 0 && a[0].k != LV_NIL ? prop(c, items[i], a[0]) : items[i];
        int seen = 0;
        for (size_t j = 0; j < m && !seen; j++) seen = keys[j].k == k.k && lv_equal(keys[j], k);
        if (seen) continue;
        keys[m] = k;
        r[m++] = items[i];
    }
    return lv_array(ARENA, r, m);
}

FILTER(compact)
{
    if (in.k == LV_NIL) return lv_nil();
    const lv *items;
    size_t n = as_list(c, in, &items);
    lv *r = n ? lv_alloc(ARENA, n * sizeof *r) : NULL;
    if (n && !r) return lv_nil();
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        lv k = na > 0 && a[0].k != LV_NIL ? prop(c, items[i], a[0]) : items[i];
        if (k.k != LV_NIL) r[m++] = items[i];
    }
    return lv_array(ARENA, r, m);
}

static void flatten_into(liq_ctx *c, lv v, lv **r, size_t *n, size_t *cap, int depth)
{
    if (v.k == LV_ARRAY && depth < 100) {
        for (size_t i = 0; i < v.u.arr.n; i++) flatten_into(c, v.u.arr.items[i], r, n, cap, depth + 1);
        return;
    }
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        lv *nr = lv_alloc(ARENA, *cap * sizeof *nr);
        if (!nr) return;
        if (*n) memcpy(nr, *r, *n * sizeof *nr);
        *r = nr;
    }
    (*r)[(*n)++] = v;
}

FILTER(flatten)
{
    if (in.k != LV_ARRAY) return in;
    lv *r = NULL;
    size_t n = 0, cap = 0;
    flatten_into(c, in, &r, &n, &cap, 0);
    return lv_array(ARENA, r, n);
}

FILTER(map)
{
    if (in.k == LV_NIL) return lv_nil();
    const lv *items;
    size_t n = as_list(c, in, &items);
    lv *r = NULL;
    size_t m = 0, cap = 0;
    lv key = S(c, ARG(0));
    for (size_t i = 0; i < n; i++) {
        lv v = prop(c, items[i], key);
        /* Ruby flattens the input first, so nested arrays map item by item */
        flatten_into(c, v.k == LV_ARRAY ? lv_array(ARENA, &v, 1) : v, &r, &m, &cap, 0);
    }
    return lv_array(ARENA, r, m);
}

FILTER(where)
{
    if (in.k == LV_NIL) return lv_nil();
    const lv *items;
    size_t n = as_list(c, in, &items);
    lv *r = n ? lv_alloc(ARENA, n * sizeof *r) : NULL;
    if (n && !r) return lv_nil();
    size_t m = 0;
    lv key = S(c, ARG(0));
    int has_target = na > 1 && a[1].k != LV_NIL;
    for (size_t i = 0; i < n; i++) {
        lv v = prop(c, items[i], key);
        /* Ruby's String#[] finds a substring: `where` on strings filters by it */
        if (items[i].k == LV_STR && key.u.str.n && strstr(items[i].u.str.s, key.u.str.s)) v = key;
        if (has_target ? lv_equal(v, a[1]) : lv_truthy(v)) r[m++] = items[i];
    }
    return lv_array(ARENA, r, m);
}

FILTER(concat)
{
    lv other = ARG(0);
    if (other.k != LV_ARRAY && other.k != LV_NIL) {
        liq_fail(c, "concat filter requires an array argument");
        return lv_nil();
    }
    const lv *x, *y = NULL;
    size_t nx = as_list(c, in, &x), ny = other.k == LV_ARRAY ? other.u.arr.n : 0;
    if (ny) y = other.u.arr.items;
    lv *r = nx + ny ? lv_alloc(ARENA, (nx + ny) * sizeof *r) : NULL;
    if (nx + ny && !r) return lv_nil();
    if (nx) memcpy(r, x, nx * sizeof *r);
    if (ny) memcpy(r + nx, y, ny * sizeof *r);
    return lv_array(ARENA, r, nx + ny);
}

FILTER(sum)
{
    const lv *items;
    size_t n = as_list(c, in, &items);
    int64_t si = 0;
    double sf = 0;
    int is_float = 0;
    for (size_t i = 0; i < n; i++) {
        lv v = na > 0 && a[0].k != LV_NIL ? prop(c, items[i], a[0]) : items[i];
        if (v.k != LV_INT && v.k != LV_FLOAT && v.k != LV_STR) continue;
        v = lv_to_number(v);
        if (v.k == LV_FLOAT) is_float = 1;
        if (v.k == LV_INT) si += v.u.i;
        else sf += v.u.f;
    }
    return is_float ? lv_float(sf + (double)si) : lv_int(si);
}

FILTER(default)
{
    int found;
    lv af = kwarg(kw, kwv, nkw, "allow_false", &found);
    int allow_false = found && lv_truthy(af);
    if (allow_false && in.k == LV_BOOL && !in.u.b) return in;
    if (!lv_truthy(in) || lv_is_empty(in)) return ARG(0);
    return in;
}

/* ---- date --------------------------------------------------------------- */

typedef struct {
    int64_t year;
    int mon, day, hour, min, sec;
    int off;          /* seconds east of UTC */
    int has_zone;
    char zone[8];
} dtime;

static int64_t dt_epoch(const dtime *t)
{
    cc_date d = {(int)t->year, t->mon, t->day};
    return clock_days_from_civil(d) * 86400 + t->hour * 3600 + t->min * 60 + t->sec - t->off;
}

/* An instant as wall time in the render's zone (UTC when none). */
static dtime dt_from_epoch(liq_ctx *c, int64_t t)
{
    dtime r;
    memset(&r, 0, sizeof r);
    const char *zone = liq_zone(c);
    cc_date d;
    int h = 0, m = 0, s = 0, off = 0;
    if (zone && strcmp(zone, "UTC") && clock_utc_to_local(zone, t, &d, &h, &m, &s, &off) == CC_OK) {
        r.off = off;
    } else {
        int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
        int64_t rem = t - days * 86400;
        d = clock_civil_from_days(days);
        h = (int)(rem / 3600);
        m = (int)(rem / 60 % 60);
        s = (int)(rem % 60);
        snprintf(r.zone, sizeof r.zone, "UTC");
        r.has_zone = 1;
    }
    r.year = d.year;
    r.mon = d.month;
    r.day = d.day;
    r.hour = h;
    r.min = m;
    r.sec = s;
    return r;
}

static const char *const months[] = {"January", "February", "March", "April", "May", "June", "July",
                                     "August", "September", "October", "November", "December"};
static const char *const wdays[] = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};

static int month_of(const char *s, size_t n)
{
    if (n < 3) return 0;
    for (int i = 0; i < 12; i++)
        if (!strncasecmp(s, months[i], 3) && (n == 3 || (n <= strlen(months[i]) && !strncasecmp(s, months[i], n))))
            return i + 1;
    return 0;
}

static int digits(const char **p, int max, int *out)
{
    int v = 0, k = 0;
    while (k < max && isdigit((unsigned char)**p)) {
        v = v * 10 + (**p - '0');
        (*p)++;
        k++;
    }
    *out = v;
    return k;
}

/* "HH:MM[:SS[.frac]]" then an optional zone. */
static int parse_time_zone(const char *p, dtime *t, int local_off)
{
    while (*p == ' ' || *p == 'T' || *p == 't') p++;
    if (isdigit((unsigned char)*p)) {
        if (!digits(&p, 2, &t->hour) || *p != ':') return 0;
        p++;
        if (digits(&p, 2, &t->min) != 2) return 0;
        if (*p == ':') {
            p++;
            if (digits(&p, 2, &t->sec) != 2) return 0;
            if (*p == '.') {
                p++;
                while (isdigit((unsigned char)*p)) p++;
            }
        }
    }
    while (*p == ' ') p++;
    t->off = local_off;
    if (!*p) return 1;
    if (!strcmp(p, "Z") || !strcasecmp(p, "UTC") || !strcasecmp(p, "GMT")) {
        t->off = 0;
        t->has_zone = 1;
        snprintf(t->zone, sizeof t->zone, "UTC");
        return 1;
    }
    if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, hh, mm = 0;
        p++;
        if (digits(&p, 2, &hh) != 2) return 0;
        if (*p == ':') p++;
        digits(&p, 2, &mm);
        while (*p == ' ') p++;
        if (*p) return 0;
        t->off = sign * (hh * 3600 + mm * 60);
        t->has_zone = 1;
        return 1;
    }
    return 0;
}

/* Unix seconds the date filter takes as an instant: about 31 million years
 * either way, so days, years and the zone conversion stay far from integer
 * limits.  Beyond it a number is not a date (the filter returns it as is). */
#define EPOCH_LIMIT 1000000000000000LL

static int parse_date(liq_ctx *c, lv in, dtime *t)
{
    memset(t, 0, sizeof *t);
    if (in.k == LV_INT || in.k == LV_FLOAT) {
        if (in.k == LV_INT ? (in.u.i > EPOCH_LIMIT || in.u.i < -EPOCH_LIMIT) : !(fabs(in.u.f) <= EPOCH_LIMIT))
            return 0;
        *t = dt_from_epoch(c, in.k == LV_INT ? in.u.i : (int64_t)floor(in.u.f));
        return 1;
    }
    if (in.k != LV_STR || in.u.str.n == 0) return 0;
    const char *s = in.u.str.s;
    while (*s == ' ') s++;
    if (!strcasecmp(s, "now") || !strcasecmp(s, "today")) {
        *t = dt_from_epoch(c, liq_now(c));
        return 1;
    }
    const char *p = s;
    if (*p == '-') p++;
    if (*p && strspn(p, "0123456789") == strlen(p)) {
        long long v = strtoll(s, NULL, 10);   /* saturates: past the limit either way */
        if (v > EPOCH_LIMIT || v < -EPOCH_LIMIT) return 0;
        *t = dt_from_epoch(c, v);
        return 1;
    }
    /* The zone's offset for wall times given without one. */
    dtime now = dt_from_epoch(c, liq_now(c));
    int local_off = now.off;
    p = s;
    int y, m, d;
    if (digits(&p, 4, &y) == 4 && (*p == '-' || *p == '/')) {
        char sep = *p++;
        if (!digits(&p, 2, &m) || *p != sep) return 0;
        p++;
        if (!digits(&p, 2, &d)) return 0;
        t->year = y;
        t->mon = m;
        t->day = d;
        if (m < 1 || m > 12 || d < 1 || d > clock_days_in_month(y, m)) return 0;
        return parse_time_zone(p, t, local_off);
    }
    /* "Fri Jul 16 01:00:00 2004", "July 16, 2004", "16 July 2004 10:00" */
    p = s;
    const char *w = p;
    while (isalpha((unsigned char)*p)) p++;
    if (p > w && !month_of(w, (size_t)(p - w))) {
        while (*p == ',' || *p == ' ') p++;     /* a weekday first */
        w = p;
        while (isalpha((unsigned char)*p)) p++;
    }
    int mon = p > w ? month_of(w, (size_t)(p - w)) : 0;
    if (mon) {
        while (*p == ' ') p++;
        if (!digits(&p, 2, &d)) return 0;
        while (*p == ',' || *p == ' ') p++;
        t->mon = mon;
        t->day = d;
        const char *before_year = p;
        if (digits(&p, 4, &y) == 4) {
            t->year = y;
            return parse_time_zone(p, t, local_off);
        }
        p = before_year;
        /* asctime: time, then the year */
        dtime tt = *t;
        if (!digits(&p, 2, &tt.hour) || *p != ':') return 0;
        p++;
        digits(&p, 2, &tt.min);
        if (*p == ':') {
            p++;
            digits(&p, 2, &tt.sec);
        }
        while (*p == ' ') p++;
        if (digits(&p, 4, &y) != 4) return 0;
        tt.year = y;
        tt.off = local_off;
        *t = tt;
        while (*p == ' ') p++;
        return *p == '\0';
    }
    p = s;
    if (digits(&p, 2, &d) && *p == ' ') {
        while (*p == ' ') p++;
        w = p;
        while (isalpha((unsigned char)*p)) p++;
        mon = month_of(w, (size_t)(p - w));
        while (*p == ' ' || *p == ',') p++;
        if (mon && digits(&p, 4, &y) == 4) {
            t->year = y;
            t->mon = mon;
            t->day = d;
            return parse_time_zone(p, t, local_off);
        }
    }
    return 0;
}

static void put_num(cc_buf *b, int64_t v, int width, char pad, char flag)
{
    if (flag == '-') pad = 0;
    else if (flag == '_') pad = ' ';
    else if (flag == '0') pad = '0';
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%lld", (long long)(v < 0 ? -v : v));
    if (v < 0) cc_buf_putc(b, '-');
    for (int i = n + (v < 0); pad && i < width; i++) cc_buf_putc(b, pad);
    cc_buf_append(b, tmp, (size_t)n);
}

static void put_str(cc_buf *b, const char *s, size_t n, char flag, int width)
{
    for (int i = (int)n; i < width; i++) cc_buf_putc(b, ' ');
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (flag == '^') ch = (char)toupper((unsigned char)ch);
        else if (flag == '#') ch = (char)toupper((unsigned char)ch);   /* Ruby: # upcases names */
        cc_buf_putc(b, ch);
    }
}

static void iso_week(const dtime *t, int64_t days, int wday, int64_t *wyear, int *week)
{
    int64_t thursday = days - ((wday + 6) % 7) + 3;
    cc_date td = clock_civil_from_days(thursday);
    cc_date jan1 = {td.year, 1, 1};
    *wyear = td.year;
    *week = (int)((thursday - clock_days_from_civil(jan1)) / 7 + 1);
    (void)t;
}

#define STRFTIME_MAX_WIDTH 1024

static void strftime_dt(const dtime *t, const char *fmt, cc_buf *b)
{
    cc_date d = {(int)t->year, t->mon, t->day};
    int64_t days = clock_days_from_civil(d);
    int wday = (int)(((days + 4) % 7 + 7) % 7);
    cc_date jan1 = {(int)t->year, 1, 1};
    int yday = (int)(days - clock_days_from_civil(jan1));
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            cc_buf_putc(b, *p);
            continue;
        }
        const char *start = p++;
        char flag = 0;
        while (*p == '-' || *p == '_' || *p == '0' || *p == '^' || *p == '#') flag = *p++;
        /* A field width past STRFTIME_MAX_WIDTH is that wide: "%99999999999Y"
         * must neither overflow an int nor pad a gigabyte. */
        int width = 0;
        while (isdigit((unsigned char)*p)) {
            width = width * 10 + (*p++ - '0');
            if (width > STRFTIME_MAX_WIDTH) width = STRFTIME_MAX_WIDTH;
        }
        int colon = 0;
        while (*p == ':') {
            colon++;
            p++;
        }
        int hour12 = t->hour % 12 == 0 ? 12 : t->hour % 12;
        char tmp[64];
        switch (*p) {
        case 'Y': put_num(b, t->year, width ? width : 4, width ? '0' : 0, flag); break;
        case 'C': put_num(b, t->year / 100, width ? width : 2, '0', flag); break;
        case 'y': put_num(b, ((t->year % 100) + 100) % 100, width ? width : 2, '0', flag); break;
        case 'm': put_num(b, t->mon, width ? width : 2, '0', flag); break;
        case 'd': put_num(b, t->day, width ? width : 2, '0', flag); break;
        case 'e': put_num(b, t->day, width ? width : 2, ' ', flag); break;
        case 'j': put_num(b, yday + 1, width ? width : 3, '0', flag); break;
        case 'H': put_num(b, t->hour, width ? width : 2, '0', flag); break;
        case 'k': put_num(b, t->hour, width ? width : 2, ' ', flag); break;
        case 'I': put_num(b, hour12, width ? width : 2, '0', flag); break;
        case 'l': put_num(b, hour12, width ? width : 2, ' ', flag); break;
        case 'M': put_num(b, t->min, width ? width : 2, '0', flag); break;
        case 'S': put_num(b, t->sec, width ? width : 2, '0', flag); break;
        case 'L': put_num(b, 0, width ? width : 3, '0', flag); break;
        case 'N': put_num(b, 0, width ? width : 9, '0', flag); break;
        case 's': put_num(b, dt_epoch(t), 0, 0, flag); break;
        case 'B': put_str(b, months[t->mon - 1], strlen(months[t->mon - 1]), flag, width); break;
        case 'b': case 'h': put_str(b, months[t->mon - 1], 3, flag, width); break;
        case 'A': put_str(b, wdays[wday], strlen(wdays[wday]), flag, width); break;
        case 'a': put_str(b, wdays[wday], 3, flag, width); break;
        case 'p': put_str(b, t->hour < 12 ? "AM" : "PM", 2, flag == '#' ? 'l' : flag, width);
            if (flag == '#') { b->len -= 2; cc_buf_puts(b, t->hour < 12 ? "am" : "pm"); }
            break;
        case 'P': put_str(b, t->hour < 12 ? "am" : "pm", 2, flag, width); break;
        case 'w': put_num(b, wday, width, '0', flag); break;
        case 'u': put_num(b, wday == 0 ? 7 : wday, width, '0', flag); break;
        case 'U': put_num(b, (yday + 7 - wday) / 7, width ? width : 2, '0', flag); break;
        case 'W': put_num(b, (yday + 7 - (wday + 6) % 7) / 7, width ? width : 2, '0', flag); break;
        case 'V': case 'G': case 'g': {
            int64_t wy;
            int wk;
            iso_week(t, days, wday, &wy, &wk);
            if (*p == 'V') put_num(b, wk, width ? width : 2, '0', flag);
            else if (*p == 'G') put_num(b, wy, width ? width : 4, width ? '0' : 0, flag);
            else put_num(b, ((wy % 100) + 100) % 100, width ? width : 2, '0', flag);
            break;
        }
        case 'z': {
            int o = t->off < 0 ? -t->off : t->off;
            if (colon) snprintf(tmp, sizeof tmp, "%c%02d:%02d", t->off < 0 ? '-' : '+', o / 3600, o / 60 % 60);
            else snprintf(tmp, sizeof tmp, "%c%02d%02d", t->off < 0 ? '-' : '+', o / 3600, o / 60 % 60);
            cc_buf_puts(b, tmp);
            break;
        }
        case 'Z':
            if (t->zone[0]) put_str(b, t->zone, strlen(t->zone), flag, width);
            else if (t->off == 0) cc_buf_puts(b, "UTC");
            break;
        case '%': cc_buf_putc(b, '%'); break;
        case 'n': cc_buf_putc(b, '\n'); break;
        case 't': cc_buf_putc(b, '\t'); break;
        case 'c': strftime_dt(t, "%a %b %e %H:%M:%S %Y", b); break;
        case 'x': case 'D': strftime_dt(t, "%m/%d/%y", b); break;
        case 'X': case 'T': strftime_dt(t, "%H:%M:%S", b); break;
        case 'F': strftime_dt(t, "%Y-%m-%d", b); break;
        case 'R': strftime_dt(t, "%H:%M", b); break;
        case 'r': strftime_dt(t, "%I:%M:%S %p", b); break;
        case 'v': strftime_dt(t, "%e-%^b-%Y", b); break;
        case '+': strftime_dt(t, "%a %b %e %H:%M:%S %Z %Y", b); break;
        default:
            /* an unknown directive is printed as written */
            cc_buf_append(b, start, (size_t)(p - start) + (*p ? 1 : 0));
            if (!*p) p--;
            break;
        }
    }
}

FILTER(date)
{
    lv fmt = ARG(0);
    if (in.k == LV_NIL) return in;
    if (fmt.k == LV_NIL || (fmt.k == LV_STR && fmt.u.str.n == 0)) return in;
    dtime t;
    if (!parse_date(c, in, &t)) return in;
    lv f = S(c, fmt);
    cc_buf b = CC_BUF_INIT;
    strftime_dt(&t, f.u.str.s, &b);
    lv r = lv_str_take(&b, ARENA);
    cc_buf_free(&b);
    return r;
}

/* ---- the table ---------------------------------------------------------- */

static const struct {
    const char *name;
    liq_filter_fn fn;
    int min_args, max_args;
} filters[] = {
    {"abs", f_abs, 0, 0}, {"append", f_append, 1, 1}, {"at_least", f_at_least, 1, 1}, {"at_most", f_at_most, 1, 1},
    {"base64_decode", f_base64_decode, 0, 0}, {"base64_encode", f_base64_encode, 0, 0},
    {"base64_url_safe_decode", f_base64_url_safe_decode, 0, 0}, {"base64_url_safe_encode", f_base64_url_safe_encode, 0, 0},
    {"capitalize", f_capitalize, 0, 0}, {"ceil", f_ceil, 0, 0}, {"compact", f_compact, 0, 1}, {"concat", f_concat, 1, 1},
    {"date", f_date, 1, 1}, {"default", f_default, 0, 1}, {"divided_by", f_divided_by, 1, 1}, {"downcase", f_downcase, 0, 0},
    {"escape", f_escape, 0, 0}, {"escape_once", f_escape_once, 0, 0}, {"first", f_first, 0, 0}, {"flatten", f_flatten, 0, 0},
    {"floor", f_floor, 0, 0}, {"h", f_escape, 0, 0}, {"join", f_join, 0, 1}, {"last", f_last, 0, 0}, {"lstrip", f_lstrip, 0, 0},
    {"map", f_map, 1, 1}, {"minus", f_minus, 1, 1}, {"modulo", f_modulo, 1, 1}, {"newline_to_br", f_newline_to_br, 0, 0},
    {"plus", f_plus, 1, 1}, {"prepend", f_prepend, 1, 1}, {"remove", f_remove, 1, 1}, {"remove_first", f_remove_first, 1, 1},
    {"remove_last", f_remove_last, 1, 1}, {"replace", f_replace, 1, 2}, {"replace_first", f_replace_first, 1, 2},
    {"replace_last", f_replace_last, 1, 2}, {"reverse", f_reverse, 0, 0}, {"round", f_round, 0, 1}, {"rstrip", f_rstrip, 0, 0},
    {"size", f_size, 0, 0}, {"slice", f_slice, 1, 2}, {"sort", f_sort, 0, 1}, {"sort_natural", f_sort_natural, 0, 1},
    {"split", f_split, 1, 1}, {"strip", f_strip, 0, 0}, {"strip_html", f_strip_html, 0, 0},
    {"strip_newlines", f_strip_newlines, 0, 0}, {"sum", f_sum, 0, 1}, {"times", f_times, 1, 1}, {"truncate", f_truncate, 0, 2},
    {"truncatewords", f_truncatewords, 0, 2}, {"uniq", f_uniq, 0, 1}, {"upcase", f_upcase, 0, 0},
    {"url_decode", f_url_decode, 0, 0}, {"url_encode", f_url_encode, 0, 0}, {"where", f_where, 1, 2},
};

int liq_find_filter(const char *name, liq_filter_fn *fn, int *min_args, int *max_args)
{
    for (size_t i = 0; i < sizeof filters / sizeof *filters; i++)
        if (!strcmp(filters[i].name, name)) {
            *fn = filters[i].fn;
            *min_args = filters[i].min_args;
            *max_args = filters[i].max_args;
            return 1;
        }
    *fn = NULL;
    *min_args = 0;
    *max_args = -1;
    return 0;
}
