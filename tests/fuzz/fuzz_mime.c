/* fuzz_mime.c - libFuzzer harness for the email header encoder and message
 * builder (engine/mime.c): mime_encode_word() and mime_build().
 *
 * The input is split at NUL bytes into fields: header width, then the value
 * for mime_encode_word(), then subject, display name, address, text body,
 * HTML body, unsubscribe URL, campaign, step, sender name, sender address
 * and Reply-To for mime_build().  Invariants checked:
 *   - encoded header values round-trip: unfolded and decoded, they give the
 *     value with controls as spaces and bad UTF-8 as U+FFFD; every encoded
 *     word is at most 75 characters and holds whole UTF-8 characters;
 *   - no bare CR or LF anywhere; a line break inside a header is always
 *     followed by white space (so data never starts a header); no line
 *     passes 998 characters; To and Subject appear exactly once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "config.h"
#include "message.h"
#include "mime.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

#define NFIELDS 13

static void fail(const char *what, const cc_buf *out)
{
    fprintf(stderr, "fuzz_mime: %s\n--- output ---\n%s\n---\n", what, cc_buf_str(out));
    abort();
}

/* The value as mime.c promises to carry it: controls to spaces, invalid
 * UTF-8 bytes to U+FFFD. */
static void expected_value(const char *v, cc_buf *want)
{
    const unsigned char *s = (const unsigned char *)v;
    size_t n = strlen(v), i = 0;
    while (i < n) {
        uint32_t cp;
        size_t l;
        if (s[i] < 0x20 || s[i] == 0x7f) {
            cc_buf_putc(want, ' ');
            i++;
        } else if ((l = cc_utf8_decode(s + i, n - i, &cp)) == 0) {
            cc_buf_puts(want, "\xEF\xBF\xBD");
            i++;
        } else {
            cc_buf_append(want, v + i, l);
            i += l;
        }
    }
}

static int valid_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t l = cc_utf8_decode(s + i, n - i, &cp);
        if (!l) return 0;
        i += l;
    }
    return 1;
}

/* Line checks over a header block or a whole message: CRLF only, at most
 * 998 characters a line; with `header`, continuation lines start with
 * white space and every other line is "Name: ". */
static void check_lines(const cc_buf *out, size_t first_col, int header)
{
    const char *s = cc_buf_str(out);
    size_t col = first_col;
    int line_start = 1, in_body = 0;
    for (size_t i = 0; i < out->len; i++) {
        char c = s[i];
        if (c == '\r') {
            if (i + 1 >= out->len || s[i + 1] != '\n') fail("a bare CR", out);
            continue;
        }
        if (c == '\n') {
            if (i == 0 || s[i - 1] != '\r') fail("a bare LF", out);
            if (header && !in_body && col == 0) in_body = 1;   /* the blank line */
            col = 0;
            line_start = 1;
            continue;
        }
        if (line_start && header && !in_body && c != ' ' && c != '\t') {
            size_t k = i;
            while (k < out->len && s[k] > 0x20 && s[k] < 0x7f && s[k] != ':') k++;
            if (k == i || k >= out->len || s[k] != ':') fail("a header line that is neither a field nor a continuation", out);
        }
        line_start = 0;
        if (++col > 998) fail("a line longer than 998 characters", out);
    }
}

static void check_encoded(const char *value, size_t used, const cc_buf *out)
{
    check_lines(out, used, 0);
    /* Every line break is a fold: CRLF then white space. */
    const char *s = cc_buf_str(out);
    for (size_t i = 0; i + 1 < out->len; i++)
        if (s[i] == '\r' && (i + 2 >= out->len || (s[i + 2] != ' ' && s[i + 2] != '\t')))
            fail("a line break in a header value that is not a fold", out);
    cc_buf want = CC_BUF_INIT, got = CC_BUF_INIT;
    expected_value(value, &want);
    if (!strstr(s, "=?UTF-8?B?")) {
        /* Plain: unfolding gives the value back. */
        for (size_t i = 0; i < out->len; i++)
            if (s[i] != '\r' && s[i] != '\n') cc_buf_putc(&got, s[i]);
    } else {
        /* Encoded words separated by folding white space only. */
        const char *p = s, *end = s + out->len;
        while (p < end) {
            while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) p++;
            if (p >= end) break;
            if (strncmp(p, "=?UTF-8?B?", 10) != 0) fail("text between encoded words", out);
            const char *b = p + 10, *e = strstr(b, "?=");
            if (!e) fail("an unterminated encoded word", out);
            if ((size_t)(e + 2 - p) > 75) fail("an encoded word longer than 75 characters", out);
            size_t bl = (size_t)(e - b);
            if (bl % 4) fail("base64 of a length that is not a multiple of 4", out);
            unsigned char *dec = xmalloc(bl / 4 * 3 + 1);
            int dl = bl ? EVP_DecodeBlock(dec, (const unsigned char *)b, (int)bl) : 0;
            if (dl < 0) fail("bad base64 in an encoded word", out);
            if (bl >= 1 && b[bl - 1] == '=') dl--;
            if (bl >= 2 && b[bl - 2] == '=') dl--;
            if (!valid_utf8(dec, (size_t)dl)) fail("an encoded word that splits a UTF-8 character", out);
            cc_buf_append(&got, (const char *)dec, (size_t)dl);
            free(dec);
            p = e + 2;
        }
    }
    if (got.len != want.len || memcmp(cc_buf_str(&got), cc_buf_str(&want), got.len) != 0) {
        fprintf(stderr, "fuzz_mime: the value does not round-trip:\n  want [%s]\n  got  [%s]\n", cc_buf_str(&want),
                cc_buf_str(&got));
        abort();
    }
    cc_buf_free(&want);
    cc_buf_free(&got);
}

static size_t count_headers(const cc_buf *out, const char *name)
{
    size_t n = 0, l = strlen(name);
    const char *s = cc_buf_str(out), *end = strstr(s, "\r\n\r\n");
    if (!end) end = s + out->len;
    for (const char *p = s; p < end; p++)
        if ((p == s || p[-1] == '\n') && strncmp(p, name, l) == 0 && p[l] == ':') n++;
    return n;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char *copy = xmalloc(size + 1);
    memcpy(copy, data, size);
    copy[size] = '\0';
    const char *f[NFIELDS] = {0};
    size_t nf = 0;
    for (char *p = copy; nf < NFIELDS && p <= copy + size; p += strlen(p) + 1) f[nf++] = p;
    for (size_t i = nf; i < NFIELDS; i++) f[i] = "";

    /* 1. one header value */
    size_t used = strlen(f[0]) % 40;
    cc_buf out = CC_BUF_INIT;
    mime_encode_word(f[1], used, &out);
    check_encoded(f[1], used, &out);
    cc_buf_free(&out);

    /* 2. a whole message */
    cc_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.sender.name = (char *)f[10];
    cfg.sender.email = (char *)(*f[11] ? f[11] : "care@example.com");
    cfg.sender.reply_to = (char *)f[12];
    cc_message m;
    memset(&m, 0, sizeof m);
    m.id = 42;
    m.subject = f[2];
    m.to_name = f[3];
    m.to = f[4];
    m.body_text = f[5];
    m.body_html = f[6];
    m.unsubscribe_url = f[7];
    m.campaign = f[8];
    m.step = f[9];
    if (mime_build(&cfg, &m, 1795000000, &out) != CC_OK) fail("mime_build failed with a sender address", &out);
    check_lines(&out, 0, 1);
    if (count_headers(&out, "To") != 1 || count_headers(&out, "Subject") != 1 || count_headers(&out, "From") != 1)
        fail("To, From or Subject missing or repeated", &out);
    cc_buf_free(&out);
    free(copy);
    return 0;
}
