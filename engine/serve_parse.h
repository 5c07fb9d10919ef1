/* serve_parse.h - the pure request parsing of `carecast serve` (serve.c):
 * what it reads out of query strings, urlencoded and multipart bodies and
 * SMS replies.  Kept apart from the HTTP plumbing so the fuzz harness
 * (tests/fuzz/fuzz_serve.c) can drive it without a server.
 *
 * Nothing here allocates what it does not hand back, and nothing reads past
 * the `len` bytes it is given. */
#ifndef CC_SERVE_PARSE_H
#define CC_SERVE_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "cc.h"

/* A strictly decimal, positive integer that fits in int64 (no sign, no
 * spaces, at most 18 digits): 1 with *out set, else 0. */
int serve_parse_id(const char *s, int64_t *out);

/* Append `s` as text safe to store and show: valid UTF-8 only (bad bytes
 * become '?'), controls become spaces, and `out` stops growing before
 * `max` bytes, on a character boundary. */
void serve_clean_text(const char *s, size_t max, cc_buf *out);

/* Decode one application/x-www-form-urlencoded component of `n` bytes,
 * appending to `out`: 1, or 0 when it holds a bad %-escape or a NUL. */
int serve_form_decode(const char *s, size_t n, cc_buf *out);

/* What is wrong with the query string of `uri` (a text ending in a
 * newline, for the 400 answer), or NULL when it is fine or absent. */
const char *serve_query_problem(const char *uri);

/* The value of field `name` in an urlencoded body of `len` bytes: 1 found
 * (value in `out`, reset first), 0 absent, -1 malformed. */
int serve_form_field(const char *body, size_t len, const char *name, cc_buf *out);

/* The value of `name` in a multipart/form-data body (only what RFC 8058
 * senders post: small text fields): 1 found (value in `out`), 0 absent. */
int serve_multipart_field(const char *body, size_t len, const char *name, cc_buf *out);

/* A Twilio SID: 1 to 64 ASCII letters and digits. */
int serve_is_sid(const char *s);

/* Is this SMS reply an opt-out?  STOP, UNSUBSCRIBE, TD and T as whole first
 * words, case-insensitively; 退订 as a prefix. */
int serve_is_stop(const char *text);

typedef struct {
    char *key, *value;
} serve_form_pair;

/* Every name=value pair of an urlencoded body, decoded, in body order (for
 * Twilio's signature).  *out and *n are always set (free them with
 * serve_form_pairs_free()); the result is 0 when a pair is malformed, and
 * parsing stops there. */
int serve_form_pairs(const char *body, size_t len, serve_form_pair **out, size_t *n);
void serve_form_pairs_free(serve_form_pair *pairs, size_t n);
/* qsort order for pairs: by key, then value. */
int serve_form_pair_cmp(const void *a, const void *b);

#endif
