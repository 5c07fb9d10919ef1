/* cc.h - carecast's shared vocabulary: result codes, growable buffers,
 * located diagnostics and allocation helpers.
 *
 * Every engine function that can fail returns a cc_code.  The list only
 * grows; cc_strerror() names each code, and the command line maps codes to
 * exit statuses (see cc_exit_status()).
 *
 * Allocation: xmalloc()/xstrdup() and friends abort with a message when the
 * system is out of memory.  carecast is a batch tool; continuing after a
 * failed allocation would risk a half-written outbox, while aborting leaves
 * the database as the last committed transaction left it. */
#ifndef CC_H
#define CC_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    CC_OK = 0,
    CC_ERR_USAGE = 1,         /* bad command line */
    CC_ERR_CONFIG = 2,        /* bad configuration file */
    CC_ERR_INPUT = 3,         /* invalid input: rules, templates, CSV */
    CC_ERR_IO = 4,            /* a file could not be read or written */
    CC_ERR_DB = 5,            /* SQLite reported an error */
    CC_ERR_TRANSIENT = 6,     /* delivery failed; retrying may succeed */
    CC_ERR_PERMANENT = 7,     /* delivery failed; retrying will not help */
    CC_ERR_NOT_FOUND = 8,     /* a named campaign, customer or table is missing */
    CC_ERR_NOT_IMPLEMENTED = 9,
    CC_ERR_BUSY = 10,         /* another carecast holds the lock */
    CC_ERR_PROBLEMS = 11      /* the command ran and found problems (lint, failed sends) */
} cc_code;

const char *cc_strerror(cc_code code);
/* Exit status for a code: 0 success, 1 problems found, 2 bad usage/input. */
int cc_exit_status(cc_code code);

/* ---- allocation --------------------------------------------------------- */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);            /* NULL in, NULL out */
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- growable byte buffer ----------------------------------------------- *
 * Always NUL-terminated after any append.  cc_buf_take() hands ownership of
 * the bytes to the caller and leaves the buffer empty. */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
} cc_buf;

#define CC_BUF_INIT {NULL, 0, 0}
void cc_buf_append(cc_buf *b, const char *s, size_t n);
void cc_buf_reserve(cc_buf *b, size_t extra);   /* room for `extra` more bytes (and the NUL) */
void cc_buf_puts(cc_buf *b, const char *s);
void cc_buf_putc(cc_buf *b, char c);
void cc_buf_printf(cc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cc_buf_vprintf(cc_buf *b, const char *fmt, va_list ap);
const char *cc_buf_str(const cc_buf *b); /* "" when empty, never NULL */
char *cc_buf_take(cc_buf *b);
void cc_buf_reset(cc_buf *b);
void cc_buf_free(cc_buf *b);

/* ---- diagnostics -------------------------------------------------------- *
 * A list of located messages ("FILE:LINE:COL: error: ..."), collected so a
 * command can report every problem in one run.  Only the first `limit` are
 * kept as text (0 = no limit); `count` counts all. */
typedef struct {
    char **msgs;
    size_t n, cap;
    size_t count;
    size_t limit;
} cc_diags;

void cc_diag(cc_diags *d, const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void cc_diag_print(const cc_diags *d, FILE *stream);
void cc_diags_free(cc_diags *d);

/* ---- small utilities ---------------------------------------------------- */
int cc_streq(const char *a, const char *b);          /* NULL-safe equality */
/* Parse a duration ("30 seconds", "3 days", "2 weeks") into seconds.
 * Months and years are not fixed lengths and are refused here. */
int cc_parse_duration(const char *s, int64_t *seconds);
/* Write `data` to `path` atomically: temporary file, fsync, rename.
 * mode is the permission of the new file (e.g. 0640). */
cc_code cc_write_file_atomic(const char *path, const char *data, size_t len, int mode);
/* mkdir -p with mode for the created folders. */
cc_code cc_mkdirs(const char *path, int mode);
/* Read a whole file; NULL and errno set on failure. */
char *cc_read_file(const char *path, size_t *len);
/* Decode one UTF-8 character from s[0..n): its length (1-4) and code point,
 * or 0 for an invalid sequence (overlong, surrogate, > U+10FFFF, cut off). */
size_t cc_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);
/* Letters to change to turn a into b (Levenshtein), for "did you mean"
 * suggestions; `fold_case` ignores ASCII case.  Strings over 64 bytes
 * count as far apart (99). */
size_t cc_edit_distance(const char *a, const char *b, int fold_case);

struct timespec;
/* Seconds elapsed on CLOCK_MONOTONIC since `t` (taken on that clock). */
double cc_seconds_since(const struct timespec *t);
/* Append `s` as one CSV field (RFC 4180: quoted when it holds a comma,
 * quote or line break; NULL is empty). */
void cc_csv_field(cc_buf *b, const char *s);
/* Append `s` as a JSON string literal (null for NULL). */
void cc_json_str(cc_buf *b, const char *s);
/* 64-bit FNV-1a of the concatenated strings (stable across runs and
 * machines: used for holdout membership and sampling). */
uint64_t cc_hash(const char *a, const char *b, const char *c);
/* FNV-1a of n bytes (NULs included): for hash tables of keys with a length. */
uint64_t cc_hash_bytes(const char *s, size_t n);

#endif
