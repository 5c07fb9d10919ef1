/* serve.h - the HTTP side of carecast (`carecast serve`, libmicrohttpd):
 * what comes back after sending.
 *
 *   GET  /health                          200 "ok"
 *   GET  /kannel/dlr/SECRET?id=&status=&answer=
 *                                         Kannel delivery report for outbox
 *                                         message `id` (status 1 delivered,
 *                                         2 or 16 undelivered, 4 and 8 are
 *                                         intermediate and change nothing)
 *   GET|POST /sms/inbound/SECRET?from=&text=
 *                                         inbound SMS (Kannel get-url); STOP,
 *                                         UNSUBSCRIBE, TD, T, 退订 suppress the
 *                                         number for marketing; the answer body
 *                                         is the reply SMS
 *   POST /twilio/status/SECRET[?id=ID]    Twilio status callback (MessageSid,
 *                                         MessageStatus): delivered, or
 *                                         undelivered/failed -> undelivered;
 *                                         X-Twilio-Signature checked with the
 *                                         twilio transport's token over
 *                                         serve.public_url + path (403)
 *   GET  /unsubscribe/TOKEN               a page with a button (writes nothing:
 *                                         link scanners fetch links too)
 *   POST /unsubscribe/TOKEN               RFC 8058 one-click: body
 *                                         List-Unsubscribe=One-Click; a
 *                                         signed token suppresses the
 *                                         customer's address for marketing
 *
 * It owns request parsing and its limits (413 for bodies over 64 KiB, 414
 * for URLs over 8 KiB, 400 for anything malformed), the callback secret
 * check (constant time, 403), and the one-statement writes to care_outbox
 * and care_suppressions, each idempotent.  Every request is logged as one
 * line on stderr without secrets, tokens or query strings.
 *
 * All requests are handled on the server's one internal thread, so the
 * database connection is never used by two requests at once. */
#ifndef CC_SERVE_H
#define CC_SERVE_H

#include <sqlite3.h>
#include <sys/socket.h>

#include "config.h"

/* The delivery reports the Kannel transport asks for: 1 delivered to the
 * phone + 2 not delivered + 16 rejected by the SMSC (Kannel's dlr-mask
 * bits; 4 buffered and 8 accepted by the SMSC are intermediate). */
#define SERVE_DLR_MASK 19

/* The dlr-url for outbox message `id`:
 *   PUBLIC_URL/kannel/dlr/SECRET?id=ID&status=%d&answer=%A
 * where Kannel replaces %d by the report type and %A by the SMSC's text.
 * Caller frees (it holds the secret: wipe it). */
char *serve_dlr_url(const char *public_url, const char *secret, int64_t id);

/* The StatusCallback for outbox message `id`:
 *   PUBLIC_URL/twilio/status/SECRET?id=ID
 * Caller frees (it holds the secret: wipe it). */
char *serve_twilio_status_url(const char *public_url, const char *secret, int64_t id);

/* Parse "HOST:PORT" ("127.0.0.1:8025", "localhost:8025", "[::1]:8025").
 * *loopback says whether the address is a loopback one.  CC_ERR_USAGE with
 * the reason in err when malformed. */
cc_code serve_parse_listen(const char *listen, struct sockaddr_storage *addr, socklen_t *addrlen,
                           int *loopback, char *err, size_t errlen);

typedef struct serve_server serve_server;

/* Start answering on `addr` in a background thread.  `db` and `cfg` are
 * borrowed until serve_stop(); the caller must not use `db` meanwhile. */
cc_code serve_start(sqlite3 *db, const cc_config *cfg, const struct sockaddr_storage *addr, int verbosity,
                    serve_server **out, char *err, size_t errlen);
/* Stop listening, finish or drop open connections, free everything. */
void serve_stop(serve_server *s);

#endif
