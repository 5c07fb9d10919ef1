/* fuzz_serve.c - libFuzzer harness for what `carecast serve` parses out of
 * requests (engine/serve_parse.c) and for unsubscribe tokens
 * (engine/unsubscribe.c).
 *
 * The input is a request body (or query string, or SMS text, or token).  It
 * goes through the urlencoded and multipart field readers, the strict
 * query-string check, the form-pair reader behind Twilio's signature, the
 * id/SID checks, the stored-text cleaner and the STOP detector, and is verified as an unsubscribe token.
 * Split at its first LF into customer and address, it is also signed and
 * verified again.  Invariants: decoded fields hold no NUL; cleaned text is
 * valid UTF-8 without controls and within its limit; a token we sign
 * verifies to what was signed, and a token altered by one byte does not. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve_parse.h"
#include "unsubscribe.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static const char secret[] = "fuzz-secret-0123456789abcdef";

static void check_field(const char *what, int rc, const cc_buf *v)
{
    if (rc < -1 || rc > 1) {
        fprintf(stderr, "fuzz_serve: %s returned %d\n", what, rc);
        abort();
    }
    if (rc == 1 && strlen(cc_buf_str(v)) != v->len) {
        fprintf(stderr, "fuzz_serve: %s decoded a NUL byte into a field\n", what);
        abort();
    }
}

static void check_clean(const char *s, size_t max)
{
    cc_buf out = CC_BUF_INIT;
    serve_clean_text(s, max, &out);
    const unsigned char *p = (const unsigned char *)cc_buf_str(&out);
    if (out.len > max) {
        fprintf(stderr, "fuzz_serve: clean text of %zu bytes past its limit %zu\n", out.len, max);
        abort();
    }
    for (size_t i = 0; i < out.len;) {
        uint32_t cp;
        size_t l = cc_utf8_decode(p + i, out.len - i, &cp);
        if (!l || cp < 0x20 || cp == 0x7f) {
            fprintf(stderr, "fuzz_serve: clean text holds byte 0x%02x at %zu\n", p[i], i);
            abort();
        }
        i += l;
    }
    cc_buf_free(&out);
}

static void roundtrip(const char *customer, const char *address)
{
    /* Neither part may hold the separator (0x1f): ids and addresses never do. */
    if (strchr(customer, '\x1f') || strchr(address, '\x1f')) return;
    char *tok = unsubscribe_token(secret, customer, address);
    if (strlen(customer) + strlen(address) > UNSUBSCRIBE_MAX_PAYLOAD) {
        if (tok) {
            fprintf(stderr, "fuzz_serve: a token for %zu bytes past the limit\n", strlen(customer) + strlen(address));
            abort();
        }
        return;
    }
    char *c = NULL, *a = NULL;
    if (!tok || unsubscribe_verify(secret, tok, &c, &a) != CC_OK || strcmp(c, customer) || strcmp(a, address)) {
        fprintf(stderr, "fuzz_serve: the token for [%s] [%s] does not verify back\n", customer, address);
        abort();
    }
    free(c);
    free(a);
    c = a = NULL;
    if (unsubscribe_verify("another-secret-0123456789", tok, &c, &a) == CC_OK) {
        fprintf(stderr, "fuzz_serve: a token verified with the wrong secret\n");
        abort();
    }
    /* One byte changed: the signature or the encoding must catch it. */
    size_t n = strlen(tok);
    size_t k = (strlen(customer) * 7 + strlen(address)) % n;
    tok[k] = tok[k] == 'A' ? 'B' : 'A';
    if (unsubscribe_verify(secret, tok, &c, &a) == CC_OK && !(strcmp(c, customer) == 0 && strcmp(a, address) == 0)) {
        fprintf(stderr, "fuzz_serve: an altered token verified as [%s] [%s]\n", c, a);
        abort();
    }
    free(c);
    free(a);
    free(tok);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    const char *body = (const char *)data;
    char *str = xmalloc(size + 1);   /* the C-string views MHD hands over */
    memcpy(str, data, size);
    str[size] = '\0';

    static const char *const names[] = {"id", "status", "answer", "List-Unsubscribe", "text", "from", ""};
    cc_buf v = CC_BUF_INIT;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        check_field("serve_form_field", serve_form_field(body, size, names[i], &v), &v);
        cc_buf_reset(&v);
        int m = serve_multipart_field(body, size, names[i], &v);
        if (m != 0 && m != 1) abort();
        cc_buf_reset(&v);
    }
    cc_buf_free(&v);

    serve_form_pair *pairs = NULL;
    size_t n = 0;
    (void)serve_form_pairs(body, size, &pairs, &n);
    for (size_t i = 0; i < n; i++)
        if (!pairs[i].key || !pairs[i].value) abort();
    if (n) qsort(pairs, n, sizeof *pairs, serve_form_pair_cmp);
    for (size_t i = 1; i < n; i++)
        if (serve_form_pair_cmp(&pairs[i - 1], &pairs[i]) > 0) abort();
    serve_form_pairs_free(pairs, n);

    int64_t id = 0;
    if (serve_parse_id(str, &id) && id <= 0) abort();
    (void)serve_is_sid(str);
    (void)serve_is_stop(str);
    /* As a request URI: a problem is a whole line for the 400 answer. */
    const char *problem = serve_query_problem(str);
    if (problem && (!*problem || problem[strlen(problem) - 1] != '\n')) abort();
    check_clean(str, 200);
    check_clean(str, size % 7);

    char *c = NULL, *a = NULL;
    if (unsubscribe_verify(secret, str, &c, &a) == CC_OK && (!c || !a)) abort();
    free(c);
    free(a);

    char *nl = strchr(str, '\n');
    if (nl) {
        *nl = '\0';
        roundtrip(str, nl + 1);
    }
    free(str);
    return 0;
}
