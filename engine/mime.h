/* mime.h - builds the exact RFC 5322 message carecast sends for an email.
 *
 * Headers: Date, Message-ID, From, To, Reply-To, Subject, MIME-Version, and
 * List-Unsubscribe + List-Unsubscribe-Post for marketing mail (RFC 8058).
 * Display names and subjects are RFC 2047 B-words split on UTF-8 character
 * boundaries; CR and LF in data never reach a header.  Bodies are UTF-8,
 * quoted-printable; multipart/alternative when an HTML body exists.  Lines
 * end in CRLF. */
#ifndef CC_MIME_H
#define CC_MIME_H

#include "config.h"
#include "message.h"

/* Append the whole message for `m` to `out`.  `date` is the unix time for
 * the Date header.  Never fails on data; CC_ERR_INPUT when the sender
 * address is missing from the config. */
cc_code mime_build(const cc_config *cfg, const cc_message *m, int64_t date, cc_buf *out);

/* Encode a header value as RFC 2047 B-words when it is not plain ASCII;
 * CR/LF become spaces.  Appends to `out`.  `used` is how many columns the
 * header name already takes on the first line. */
void mime_encode_word(const char *value, size_t used, cc_buf *out);

#endif
