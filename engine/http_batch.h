/* http_batch.h - the HTTP machinery the SMS gateways share (kannel, twilio,
 * http-json): run a batch of prepared requests on the libcurl multi
 * interface with up to `connections` transfers in flight, reusing easy
 * handles and kept-alive connections across the batch and across batches,
 * and collect each answer (status, the first 4 KiB of the body, the
 * Retry-After delay).  Also the reply text the transports record, with
 * every registered secret redacted.
 *
 * A request owns its strings (url, body, userpwd hold secrets: they are
 * wiped when the request is cleared). */
#ifndef CC_HTTP_BATCH_H
#define CC_HTTP_BATCH_H

#include <curl/curl.h>

#include "netlib.h"   /* libcurl is loaded on first use */

#include "message.h"
#include "transport.h"

typedef struct {
    /* in: set by the caller */
    char *url;
    char *body;              /* NULL = GET, else POST with this body */
    const char *content_type;
    char *userpwd;           /* "user:password" for basic auth, or NULL */
    struct curl_slist *headers; /* extra headers, borrowed */
    int64_t journal_id;      /* outbox id noted in the delivery journal the
                                moment a 2xx answer arrives; 0 = none */
    /* out */
    int done;                /* the transfer completed (curl_rc says how) */
    CURLcode curl_rc;
    long status;             /* HTTP status, 0 when there was no answer */
    int64_t retry_after;     /* seconds the server asked to wait, 0 = none */
    cc_buf answer;           /* the body, cut at 4 KiB */
    char errbuf[CURL_ERROR_SIZE];
} http_req;

typedef struct http_batch http_batch;

/* NULL (message on stderr) when libcurl cannot be initialised. */
http_batch *http_batch_new(int connections, long timeout_s, int verify);
/* Redact `secret` (and its URL-escaped form) from every reply. */
void http_batch_secret(http_batch *b, const char *secret);
/* A gateway transport's send: make(t, m, r) prepares message m's request
 * (an error result, with m->reply set, skips it), finish(t, r, m) reads the
 * answer into m's result; each result goes to transport_result() as soon
 * as it is known, and every request is wiped.  The transfers run on a
 * thread of their own; make, finish and the results stay on the caller's,
 * which also takes the messages t->more() gives (transport.h) into the
 * same run.  CC_ERR_TRANSIENT when the multi handle failed (the messages
 * it did not finish are TRANSIENT, with the reason). */
typedef cc_code (*http_make_fn)(cc_transport *t, cc_message *m, http_req *r);
typedef void (*http_finish_fn)(cc_transport *t, const http_req *r, cc_message *m);
cc_code http_transport_send(cc_transport *t, http_batch *b, cc_message *msgs, size_t n, http_make_fn make,
                            http_finish_fn finish);
void http_batch_free(http_batch *b);
/* The delivery journal requests with a journal_id are noted in (-1: none). */
void http_batch_journal(http_batch *b, int fd);

/* Wipe and free a request's strings and answer. */
void http_req_clear(http_req *r);

/* m->reply = the formatted text, first line only, secrets redacted. */
void http_batch_reply(const http_batch *b, cc_message *m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* What a failed transfer says, safe for a reply: curl's error text unless
 * it could quote a URL (query strings hold secrets), else the generic one. */
const char *http_req_error(const http_req *r);

/* A value for "application/x-www-form-urlencoded" or a query: caller frees. */
char *http_escape(const char *s);
/* The same, appended to b. */
void http_escape_to(cc_buf *b, const char *s);

/* Wipe a secret-holding string before freeing it. */
void http_wipe_free(char *p);

#endif
