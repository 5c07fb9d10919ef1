/* message.h - one outbound message as the transports see it.
 *
 * The planner renders every message when it records it in the outbox, so a
 * message is complete and fixed before any transport touches it; sending
 * does not depend on templates or customer data that might change later.
 * Strings are borrowed: the outbox owns them. */
#ifndef CC_MESSAGE_H
#define CC_MESSAGE_H

#include "cc.h"

typedef struct {
    int64_t id;              /* care_outbox.id; unique, names files and Message-IDs */
    const char *campaign;
    const char *step;
    const char *customer;
    const char *kind;        /* marketing | service */
    const char *channel;     /* email | sms */
    const char *to;          /* email address or E.164 number */
    const char *to_name;     /* display name, may be NULL */
    const char *locale;      /* customer's locale, may be NULL */
    /* email */
    const char *subject;
    const char *body_text;
    const char *body_html;   /* may be NULL */
    const char *unsubscribe_url; /* marketing email; may be NULL */
    /* sms: the final text including signature and opt-out hint */
    const char *text;
    int64_t created_at;      /* unix seconds; the Date header uses send time */

    /* filled in by the transport */
    cc_code result;          /* CC_OK, CC_ERR_TRANSIENT or CC_ERR_PERMANENT */
    char reply[256];         /* the server's answer or the error, for the log */
    /* TRANSIENT: seconds the gateway asked us to wait (Retry-After), 0 =
     * none; the next attempt is never earlier.  Relative, because the
     * sender's clock may be --now while the server speaks real time. */
    int64_t retry_after;
    /* PERMANENT: the gateway says the recipient opted out (Twilio 21610);
     * outbox_finish() adds a marketing suppression for `to` with this
     * reason in the same transaction.  A static string, or NULL. */
    const char *suppress_reason;
    /* With suppress_reason: the suppression blocks service mail too (scope
     * `all`), for an address that does not exist (a hard bounce). */
    int suppress_all;
} cc_message;

/* Store a server reply or error text in m->reply for the log: CR, LF and
 * other controls become spaces, runs of spaces collapse, and a cut (when
 * the text is long) falls between whole UTF-8 characters. */
void message_set_reply(cc_message *m, const char *text);

#endif
