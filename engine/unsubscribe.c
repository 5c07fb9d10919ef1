/* unsubscribe.c - signing and checking unsubscribe tokens with OpenSSL's
 * HMAC-SHA256 (unsubscribe.h). */
#include "unsubscribe.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

static void b64url(const unsigned char *in, size_t n, cc_buf *out)
{
    size_t cap = 4 * ((n + 2) / 3) + 1;
    unsigned char *tmp = xmalloc(cap);
    int len = EVP_EncodeBlock(tmp, in, (int)n);
    for (int i = 0; i < len; i++) {
        char c = (char)tmp[i];
        if (c == '=') break;
        cc_buf_putc(out, c == '+' ? '-' : c == '/' ? '_' : c);
    }
    free(tmp);
}

/* Decode base64url without padding; NULL when malformed. */
/* Base64url characters for `n` bytes, unpadded. */
#define B64URL_LEN(n) (((n) * 4 + 2) / 3)

static unsigned char *b64url_decode(const char *s, size_t n, size_t *outlen)
{
    /* The longest payload unsubscribe_token() signs: "v1" US CUSTOMER US ADDRESS. */
    if (n % 4 == 1 || n > B64URL_LEN(UNSUBSCRIBE_MAX_PAYLOAD + 4)) return NULL;
    cc_buf std = CC_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '-') c = '+';
        else if (c == '_') c = '/';
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
            cc_buf_free(&std);
            return NULL;
        }
        cc_buf_putc(&std, c);
    }
    size_t pad = (4 - n % 4) % 4;
    for (size_t i = 0; i < pad; i++) cc_buf_putc(&std, '=');
    unsigned char *out = xmalloc(std.len / 4 * 3 + 1);
    int len = std.len ? EVP_DecodeBlock(out, (const unsigned char *)std.data, (int)std.len) : 0;
    cc_buf_free(&std);
    if (len < 0) {
        free(out);
        return NULL;
    }
    *outlen = (size_t)len - pad; /* EVP_DecodeBlock counts the padding as zero bytes */
    out[*outlen] = '\0';
    return out;
}

static void sign(const char *secret, const char *payload, size_t n, unsigned char mac[32])
{
    unsigned int maclen = 32;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)payload, n, mac, &maclen);
}

char *unsubscribe_token(const char *secret, const char *customer, const char *address)
{
    if (!secret || !*secret) return NULL;
    if ((customer ? strlen(customer) : 0) + (address ? strlen(address) : 0) > UNSUBSCRIBE_MAX_PAYLOAD) return NULL;
    /* Fields are joined by the ASCII unit separator, which no id or address holds. */
    char *payload = xasprintf("v1\x1f%s\x1f%s", customer ? customer : "", address ? address : "");
    unsigned char mac[32];
    sign(secret, payload, strlen(payload), mac);
    cc_buf b = CC_BUF_INIT;
    b64url((const unsigned char *)payload, strlen(payload), &b);
    cc_buf_putc(&b, '.');
    b64url(mac, sizeof mac, &b);
    free(payload);
    return cc_buf_take(&b);
}

char *unsubscribe_url(const char *base_url, const char *secret, const char *customer, const char *address)
{
    char *token = unsubscribe_token(secret, customer, address);
    if (!token || !base_url) {
        free(token);
        return NULL;
    }
    size_t l = strlen(base_url);
    char *url = xasprintf("%s%s%s", base_url, l && base_url[l - 1] == '/' ? "" : "/", token);
    free(token);
    return url;
}

cc_code unsubscribe_verify(const char *secret, const char *token, char **customer, char **address)
{
    *customer = *address = NULL;
    if (!secret || !*secret || !token) return CC_ERR_INPUT;
    const char *dot = strchr(token, '.');
    if (!dot || strchr(dot + 1, '.')) return CC_ERR_INPUT;
    size_t plen = 0, mlen = 0;
    unsigned char *payload = b64url_decode(token, (size_t)(dot - token), &plen);
    unsigned char *mac = b64url_decode(dot + 1, strlen(dot + 1), &mlen);
    cc_code rc = CC_ERR_INPUT;
    if (payload && mac && mlen == 32 && memchr(payload, '\0', plen) == NULL) {
        unsigned char want[32];
        sign(secret, (const char *)payload, plen, want);
        /* Constant time: a forger learns nothing from how long it took. */
        if (CRYPTO_memcmp(want, mac, 32) == 0 && plen > 3 && memcmp(payload, "v1\x1f", 3) == 0) {
            const char *c = (const char *)payload + 3;
            const char *colon = strchr(c, '\x1f');
            if (colon) {
                *customer = xstrndup(c, (size_t)(colon - c));
                *address = xstrdup(colon + 1);
                rc = CC_OK;
            }
        }
    }
    free(payload);
    free(mac);
    return rc;
}
