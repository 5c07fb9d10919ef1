/* liquid_value.c - Liquid values, their arena, truthiness, equality,
 * ordering and text form (liquid_value.h).  The semantics follow Shopify's
 * Ruby implementation, which the conformance vectors encode: only nil and
 * false are falsy, 1 == 1.0, "1" != 1, floats print as Ruby prints them. */
#include "liquid_value.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct lv_chunk {
    struct lv_chunk *next;
    size_t used, cap;
    max_align_t data[];
};
typedef struct lv_chunk chunk;

void lv_arena_init(lv_arena *a, size_t limit_bytes)
{
    memset(a, 0, sizeof *a);
    a->limit = limit_bytes;
}

static void free_chunks(chunk *c)
{
    for (chunk *n; c; c = n) {
        n = c->next;
        free(c);
    }
}

void lv_arena_release(lv_arena *a)
{
    free_chunks(a->head);
    a->head = NULL;
    a->total = 0;
    a->exhausted = 0;
}

void lv_arena_reset(lv_arena *a)
{
    chunk *keep = a->head;
    if (!keep) return;
    free_chunks(keep->next);
    keep->next = NULL;
    keep->used = 0;
    a->total = 0;
    a->exhausted = 0;
}

lv_arena *lv_arena_new(size_t limit_bytes)
{
    lv_arena *a = xmalloc(sizeof *a);
    lv_arena_init(a, limit_bytes);
    return a;
}

void lv_arena_free(lv_arena *a)
{
    if (!a) return;
    lv_arena_release(a);
    free(a);
}

void *lv_alloc(lv_arena *a, size_t n)
{
    size_t al = sizeof(max_align_t);
    n = (n + al - 1) / al * al;
    if (n == 0) n = al;
    if (a->limit && a->total + n > a->limit) {
        a->exhausted = 1;
        return NULL;
    }
    chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        /* Chunks start small (most renders allocate little or nothing)
         * and double up to 64 KiB. */
        size_t next = c ? (c->cap >= 65536 ? 65536 : c->cap * 2) : 2048 - sizeof *c;
        size_t cap = n > next ? n : next;
        c = xmalloc(sizeof *c + cap);
        c->used = 0;
        c->cap = cap;
        c->next = a->head;
        a->head = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    a->total += n;
    return p;
}

int lv_arena_exhausted(const lv_arena *a) { return a->exhausted; }

lv lv_nil(void) { lv v = {LV_NIL, {0}}; return v; }
lv lv_bool(int b) { lv v = {LV_BOOL, {0}}; v.u.b = !!b; return v; }

int64_t lv_f2i(double f)
{
    if (f != f) return 0;
    if (f >= 9.2e18) return INT64_MAX;
    if (f <= -9.2e18) return INT64_MIN;
    return (int64_t)f;
}

lv lv_int(int64_t i) { lv v = {LV_INT, {0}}; v.u.i = i; return v; }
lv lv_float(double f) { lv v = {LV_FLOAT, {0}}; v.u.f = f; return v; }

lv lv_str(lv_arena *a, const char *s, size_t n)
{
    lv v = {LV_STR, {0}};
    char *p = lv_alloc(a, n + 1);
    if (!p) {
        v.u.str.s = "";
        return v;
    }
    if (n) memcpy(p, s, n);
    p[n] = '\0';
    v.u.str.s = p;
    v.u.str.n = n;
    return v;
}

lv lv_cstr(lv_arena *a, const char *s) { return lv_str(a, s ? s : "", s ? strlen(s) : 0); }

lv lv_str_take(cc_buf *b, lv_arena *a)
{
    lv v = lv_str(a, cc_buf_str(b), b->len);
    cc_buf_reset(b);
    return v;
}

lv lv_array(lv_arena *a, const lv *items, size_t n)
{
    lv v = {LV_ARRAY, {0}};
    lv *p = n ? lv_alloc(a, n * sizeof *p) : NULL;
    if (n && !p) n = 0;
    if (n) memcpy(p, items, n * sizeof *p);
    v.u.arr.items = p;
    v.u.arr.n = n;
    return v;
}

lv lv_hash_new(lv_arena *a, const char *const *keys, const lv *vals, size_t n)
{
    lv v = {LV_HASH, {0}};
    lv_hash *h = lv_alloc(a, sizeof *h);
    const char **k = n ? lv_alloc(a, n * sizeof *k) : NULL;
    lv *vv = n ? lv_alloc(a, n * sizeof *vv) : NULL;
    if (!h || (n && (!k || !vv))) return lv_nil();
    for (size_t i = 0; i < n; i++) {
        k[i] = lv_cstr(a, keys[i]).u.str.s;
        vv[i] = vals[i];
    }
    h->n = n;
    h->keys = k;
    h->vals = vv;
    v.u.hash = h;
    return v;
}

int lv_truthy(lv v) { return !(v.k == LV_NIL || (v.k == LV_BOOL && !v.u.b)); }

int lv_is_empty(lv v)
{
    switch (v.k) {
    case LV_STR: return v.u.str.n == 0;
    case LV_ARRAY: return v.u.arr.n == 0;
    case LV_HASH: return v.u.hash->n == 0;
    case LV_EMPTY: return 1;
    default: return 0;
    }
}

int lv_is_blank(lv v)
{
    switch (v.k) {
    case LV_NIL: return 1;
    case LV_BOOL: return !v.u.b;
    case LV_STR:
        for (size_t i = 0; i < v.u.str.n; i++)
            if (!isspace((unsigned char)v.u.str.s[i])) return 0;
        return 1;
    case LV_BLANK: case LV_EMPTY: return 1;
    default: return lv_is_empty(v);
    }
}

static int is_num(lv v) { return v.k == LV_INT || v.k == LV_FLOAT; }
static double num(lv v) { return v.k == LV_INT ? (double)v.u.i : v.u.f; }

int lv_equal(lv a, lv b)
{
    /* `x == empty` / `x == blank` compare against the keyword's meaning. */
    if (a.k == LV_EMPTY || a.k == LV_BLANK) {
        lv t = a;
        a = b;
        b = t;
    }
    if (b.k == LV_EMPTY) return a.k == LV_EMPTY || lv_is_empty(a);
    if (b.k == LV_BLANK) return a.k == LV_BLANK || lv_is_blank(a);
    if (is_num(a) && is_num(b)) {
        if (a.k == LV_INT && b.k == LV_INT) return a.u.i == b.u.i;
        return num(a) == num(b);
    }
    if (a.k != b.k) return 0;
    switch (a.k) {
    case LV_NIL: return 1;
    case LV_BOOL: return a.u.b == b.u.b;
    case LV_STR: return a.u.str.n == b.u.str.n && !memcmp(a.u.str.s, b.u.str.s, a.u.str.n);
    case LV_ARRAY:
        if (a.u.arr.n != b.u.arr.n) return 0;
        for (size_t i = 0; i < a.u.arr.n; i++)
            if (!lv_equal(a.u.arr.items[i], b.u.arr.items[i])) return 0;
        return 1;
    case LV_HASH:
        if (a.u.hash->n != b.u.hash->n) return 0;
        for (size_t i = 0; i < a.u.hash->n; i++) {
            size_t j = 0;
            while (j < b.u.hash->n && strcmp(a.u.hash->keys[i], b.u.hash->keys[j])) j++;
            if (j == b.u.hash->n || !lv_equal(a.u.hash->vals[i], b.u.hash->vals[j])) return 0;
        }
        return 1;
    case LV_RANGE: return a.u.range.lo == b.u.range.lo && a.u.range.hi == b.u.range.hi;
    default: return 0;
    }
}

int lv_compare(lv a, lv b, int *cmp)
{
    if (is_num(a) && is_num(b)) {
        if (a.k == LV_INT && b.k == LV_INT) *cmp = (a.u.i > b.u.i) - (a.u.i < b.u.i);
        else *cmp = (num(a) > num(b)) - (num(a) < num(b));
        return 0;
    }
    if (a.k == LV_STR && b.k == LV_STR) {
        size_t n = a.u.str.n < b.u.str.n ? a.u.str.n : b.u.str.n;
        int c = memcmp(a.u.str.s, b.u.str.s, n);
        *cmp = c ? (c > 0) - (c < 0) : (a.u.str.n > b.u.str.n) - (a.u.str.n < b.u.str.n);
        return 0;
    }
    return -1;
}

static size_t utf8_len(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

lv lv_lookup_name(lv_arena *a, lv v, const char *name)
{
    if (v.k == LV_HASH) {
        const lv_hash *h = v.u.hash;
        for (size_t i = 0; i < h->n; i++)
            if (h->keys[i][0] == name[0] && !strcmp(h->keys[i], name)) return h->vals[i];
    } else if (v.k == LV_NIL) {
        return v;
    }
    lv key = {LV_STR, {0}};
    key.u.str.s = name;
    key.u.str.n = strlen(name);
    return lv_lookup(a, v, key);
}

lv lv_lookup(lv_arena *a, lv v, lv key)
{
    if (v.k == LV_HASH) {
        if (key.k == LV_STR) {
            for (size_t i = 0; i < v.u.hash->n; i++)
                if (!strcmp(v.u.hash->keys[i], key.u.str.s)) return v.u.hash->vals[i];
            if (!strcmp(key.u.str.s, "size")) return lv_int((int64_t)v.u.hash->n);
            if (!strcmp(key.u.str.s, "first") && v.u.hash->n) {
                lv pair[2] = {lv_cstr(a, v.u.hash->keys[0]), v.u.hash->vals[0]};
                return lv_array(a, pair, 2);
            }
        }
        return lv_nil();
    }
    if (v.k == LV_ARRAY || v.k == LV_RANGE) {
        const lv *items;
        size_t n = lv_items(a, v, &items);
        if (key.k == LV_INT) {
            int64_t i = key.u.i < 0 ? key.u.i + (int64_t)n : key.u.i;
            return i >= 0 && (uint64_t)i < n ? items[i] : lv_nil();
        }
        if (key.k == LV_STR) {
            if (!strcmp(key.u.str.s, "size")) return lv_int((int64_t)n);
            if (!strcmp(key.u.str.s, "first")) return n ? items[0] : lv_nil();
            if (!strcmp(key.u.str.s, "last")) return n ? items[n - 1] : lv_nil();
        }
        return lv_nil();
    }
    if (v.k == LV_STR && key.k == LV_STR && !strcmp(key.u.str.s, "size"))
        return lv_int((int64_t)utf8_len(v.u.str.s, v.u.str.n));
    return lv_nil();
}

size_t lv_items(lv_arena *a, lv v, const lv **items)
{
    switch (v.k) {
    case LV_ARRAY:
        *items = v.u.arr.items;
        return v.u.arr.n;
    case LV_RANGE: {
        if (v.u.range.hi < v.u.range.lo) return 0;
        uint64_t n = (uint64_t)(v.u.range.hi - v.u.range.lo) + 1;
        lv *p = n < (1u << 24) ? lv_alloc(a, n * sizeof *p) : NULL;
        if (!p) return 0;
        for (uint64_t i = 0; i < n; i++) p[i] = lv_int(v.u.range.lo + (int64_t)i);
        *items = p;
        return n;
    }
    case LV_HASH: {
        size_t n = v.u.hash->n;
        lv *p = n ? lv_alloc(a, n * sizeof *p) : NULL;
        if (!p) return 0;
        for (size_t i = 0; i < n; i++) {
            lv pair[2] = {lv_cstr(a, v.u.hash->keys[i]), v.u.hash->vals[i]};
            p[i] = lv_array(a, pair, 2);
        }
        *items = p;
        return n;
    }
    case LV_NIL:
        return 0;
    case LV_STR:
        if (v.u.str.n == 0) return 0;
        /* fall through */
    default: {
        lv *p = lv_alloc(a, sizeof *p);
        if (!p) return 0;
        *p = v;
        *items = p;
        return 1;
    }
    }
}

void lv_float_to_buf(double f, cc_buf *b)
{
    if (isnan(f)) {
        cc_buf_puts(b, "NaN");
        return;
    }
    if (isinf(f)) {
        cc_buf_puts(b, f < 0 ? "-Infinity" : "Infinity");
        return;
    }
    /* Ruby prints the shortest digits that read back as the same double,
     * in plain notation for 1e-4 <= |f| < 1e16, else as 1.0e+16. */
    char tmp[64];
    int prec = 1;
    for (; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, f);
        if (strtod(tmp, NULL) == f) break;
    }
    /* tmp = d.ddddde[+-]XX */
    char digits[32];
    size_t nd = 0;
    const char *p = tmp;
    int neg = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    for (; *p && *p != 'e'; p++)
        if (isdigit((unsigned char)*p)) digits[nd++] = *p;
    int exp10 = (int)strtol(p + 1, NULL, 10);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    if (neg) cc_buf_putc(b, '-');
    if (exp10 >= 16 || exp10 < -4) {
        cc_buf_putc(b, digits[0]);
        cc_buf_putc(b, '.');
        if (nd > 1) cc_buf_append(b, digits + 1, nd - 1);
        else cc_buf_putc(b, '0');
        cc_buf_printf(b, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
        return;
    }
    if (exp10 < 0) {
        cc_buf_puts(b, "0.");
        for (int i = -1; i > exp10; i--) cc_buf_putc(b, '0');
        cc_buf_append(b, digits, nd);
        return;
    }
    for (int i = 0; i <= exp10; i++) cc_buf_putc(b, (size_t)i < nd ? digits[i] : '0');
    cc_buf_putc(b, '.');
    if ((size_t)exp10 + 1 < nd) cc_buf_append(b, digits + exp10 + 1, nd - (size_t)exp10 - 1);
    else cc_buf_putc(b, '0');
}

static void inspect(lv v, cc_buf *b)
{
    if (v.k == LV_STR) {
        cc_buf_putc(b, '"');
        for (size_t i = 0; i < v.u.str.n; i++) {
            char c = v.u.str.s[i];
            if (c == '"' || c == '\\') cc_buf_putc(b, '\\');
            cc_buf_putc(b, c);
        }
        cc_buf_putc(b, '"');
    } else if (v.k == LV_NIL) {
        cc_buf_puts(b, "nil");
    } else if (v.k == LV_ARRAY) {
        cc_buf_putc(b, '[');
        for (size_t i = 0; i < v.u.arr.n; i++) {
            if (i) cc_buf_puts(b, ", ");
            inspect(v.u.arr.items[i], b);
        }
        cc_buf_putc(b, ']');
    } else {
        lv_to_buf(v, b);
    }
}

void lv_to_buf(lv v, cc_buf *b)
{
    switch (v.k) {
    case LV_NIL: case LV_EMPTY: case LV_BLANK: break;
    case LV_BOOL: cc_buf_puts(b, v.u.b ? "true" : "false"); break;
    case LV_INT: cc_buf_printf(b, "%lld", (long long)v.u.i); break;
    case LV_FLOAT: lv_float_to_buf(v.u.f, b); break;
    case LV_STR: cc_buf_append(b, v.u.str.s, v.u.str.n); break;
    case LV_ARRAY:
        for (size_t i = 0; i < v.u.arr.n; i++) lv_to_buf(v.u.arr.items[i], b);
        break;
    case LV_HASH:
        /* Ruby's Hash#inspect, which is what Liquid prints for a hash. */
        cc_buf_putc(b, '{');
        for (size_t i = 0; i < v.u.hash->n; i++) {
            if (i) cc_buf_puts(b, ", ");
            cc_buf_printf(b, "\"%s\"=>", v.u.hash->keys[i]);
            inspect(v.u.hash->vals[i], b);
        }
        cc_buf_putc(b, '}');
        break;
    case LV_RANGE: cc_buf_printf(b, "%lld..%lld", (long long)v.u.range.lo, (long long)v.u.range.hi); break;
    }
}

lv lv_to_str(lv_arena *a, lv v)
{
    if (v.k == LV_STR) return v;
    cc_buf b = CC_BUF_INIT;
    lv_to_buf(v, &b);
    lv r = lv_str(a, cc_buf_str(&b), b.len);
    cc_buf_free(&b);
    return r;
}

lv lv_to_number(lv v)
{
    if (is_num(v)) return v;
    if (v.k != LV_STR) return lv_int(0);
    const char *s = v.u.str.s;
    while (isspace((unsigned char)*s)) s++;
    const char *p = s;
    if (*p == '-' || *p == '+') p++;
    if (!isdigit((unsigned char)*p)) return lv_int(0);
    while (isdigit((unsigned char)*p)) p++;
    if (*p == '.' && isdigit((unsigned char)p[1])) return lv_float(strtod(s, NULL));
    long long i = strtoll(s, NULL, 10);
    return lv_int(i);
}
