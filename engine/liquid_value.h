/* liquid_value.h - the typed values of the Liquid engine and the arena
 * they live in.
 *
 * Values are small structs passed by value; strings, arrays and hashes
 * point into an arena that is freed as a whole.  Values are never mutated
 * after they are built, so they can be shared freely (assign, forloop,
 * partial arguments) without copying or reference counting.  The arena
 * counts its bytes so a template cannot exhaust memory: past its limit
 * allocation fails softly and the renderer stops with an error. */
#ifndef CC_LIQUID_VALUE_H
#define CC_LIQUID_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "cc.h"

typedef enum {
    LV_NIL, LV_BOOL, LV_INT, LV_FLOAT, LV_STR, LV_ARRAY, LV_HASH, LV_RANGE,
    LV_EMPTY,   /* the `empty` keyword: only in comparisons */
    LV_BLANK    /* the `blank` keyword */
} lv_kind;

typedef struct lv lv;
typedef struct lv_hash lv_hash;

struct lv {
    lv_kind k;
    union {
        int b;
        int64_t i;
        double f;
        struct { const char *s; size_t n; } str;   /* NUL-terminated too */
        struct { const lv *items; size_t n; } arr;
        const lv_hash *hash;
        struct { int64_t lo, hi; } range;
    } u;
};

struct lv_hash {
    size_t n;
    const char **keys;
    const lv *vals;
};

typedef struct lv_arena lv_arena;
struct lv_arena {              /* fields are private to liquid_value.c */
    struct lv_chunk *head;
    size_t total, limit;
    int exhausted;
};

lv_arena *lv_arena_new(size_t limit_bytes);
/* An arena embedded in another struct: init (or zero it: no limit), then
 * release (frees its memory). */
void lv_arena_init(lv_arena *a, size_t limit_bytes);
void lv_arena_release(lv_arena *a);
/* Empty again, keeping its newest (largest) chunk for what comes next:
 * an arena reused for one message after another mallocs nothing. */
void lv_arena_reset(lv_arena *a);
void lv_arena_free(lv_arena *a);
/* NULL once the limit is passed (callers treat that as a render error). */
void *lv_alloc(lv_arena *a, size_t n);
int lv_arena_exhausted(const lv_arena *a);

lv lv_nil(void);
lv lv_bool(int b);
lv lv_int(int64_t i);
/* A float as an integer, truncated; out of int64's range (where a cast is
 * undefined) saturated, NaN 0. */
int64_t lv_f2i(double f);
lv lv_float(double f);
lv lv_str(lv_arena *a, const char *s, size_t n);   /* copies */
lv lv_cstr(lv_arena *a, const char *s);
lv lv_str_take(cc_buf *b, lv_arena *a);            /* copies and resets b */
lv lv_array(lv_arena *a, const lv *items, size_t n); /* copies the item array */
lv lv_hash_new(lv_arena *a, const char *const *keys, const lv *vals, size_t n);

int lv_truthy(lv v);
/* Liquid's emptiness (`== empty`) and blankness (`== blank`, `default`). */
int lv_is_empty(lv v);
int lv_is_blank(lv v);
/* Equality as Liquid's `==`: numbers across int/float, arrays by items. */
int lv_equal(lv a, lv b);
/* Ordering for <, >, sort: 0 ok with *cmp set; -1 when the two cannot be
 * compared (string with number...). */
int lv_compare(lv a, lv b, int *cmp);
/* Hash member or array/string pseudo-property (size, first, last). */
lv lv_lookup(lv_arena *a, lv v, lv key);
/* The same with a string key given as a C string (no copy made). */
lv lv_lookup_name(lv_arena *a, lv v, const char *name);
/* Append the text form of a value (arrays joined, floats as Ruby prints them). */
void lv_to_buf(lv v, cc_buf *b);
/* A value as text in the arena (strings returned as is). */
lv lv_to_str(lv_arena *a, lv v);
void lv_float_to_buf(double f, cc_buf *b);
/* Numbers from strings as Liquid does ("3.5" -> 3.5, "12abc" -> 12, "x" -> 0). */
lv lv_to_number(lv v);
/* Items of an array, range or hash (as [key, value] pairs); a string is one item. */
size_t lv_items(lv_arena *a, lv v, const lv **items);

#endif
