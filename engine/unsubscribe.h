/* unsubscribe.h - signed one-click unsubscribe tokens (RFC 8058 links).
 *
 * A token names the customer and the address it unsubscribes, and carries
 * an HMAC-SHA256 over them with the secret from the configuration
 * (`unsubscribe.secret_env` / `secret_file`), so nobody can forge or alter
 * one without the secret:
 *
 *     base64url("v1" US CUSTOMER US ADDRESS) "." base64url(HMAC-SHA256(secret, payload))
 *
 * where US is the ASCII unit separator (0x1f), which no id or address holds.
 *
 * base64url is RFC 4648 section 5 without padding. */
#ifndef CC_UNSUBSCRIBE_H
#define CC_UNSUBSCRIBE_H

#include "cc.h"

/* Longest customer id + address a token carries, in bytes: far past any
 * real id or RFC 5321 address (254), and short enough that the token stays
 * a few KiB of URL. */
#define UNSUBSCRIBE_MAX_PAYLOAD 2048

/* The token for (customer, address); caller frees.  NULL when the secret
 * is empty or the two are longer than UNSUBSCRIBE_MAX_PAYLOAD together
 * (a token unsubscribe_verify() would refuse). */
char *unsubscribe_token(const char *secret, const char *customer, const char *address);
/* The full link: base URL + "/" + token; caller frees. */
char *unsubscribe_url(const char *base_url, const char *secret, const char *customer, const char *address);
/* Check a token.  CC_OK and the customer and address (caller frees) when
 * the signature is right; CC_ERR_INPUT for anything forged, altered or
 * malformed. */
cc_code unsubscribe_verify(const char *secret, const char *token, char **customer, char **address);

#endif
