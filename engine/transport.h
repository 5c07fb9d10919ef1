/* transport.h - the operations every delivery transport provides.
 *
 * A transport delivers a batch of messages of one channel.  It sets each
 * message's `result` and `reply`; the sender records them in the outbox.
 * Batches let SMTP reuse one session for many messages and let the SMS
 * transports keep several HTTP requests in flight.
 *
 *   transport_open()  picks the implementation named by config `type`
 *   t->ops->send()    delivers; returns CC_OK when every message has a result
 *                     (even a failed one), or an error when the transport
 *                     itself could not run (then results are TRANSIENT)
 *   transport_close() frees everything
 *
 * A transport that learns results one at a time (the HTTP gateways, with
 * many requests in flight) says so with `results_as_they_come` and calls
 * t->on_result(t->on_result_arg, m) as soon as m's result is set, so the
 * sender records results while the batch is still going: that keeps the
 * messages sent-but-unrecorded at a crash few even when batches are large
 * enough to keep every connection busy.  Such a transport also asks
 * t->more(t->more_arg, &msgs) for the next claim before its requests run
 * out, and sends those messages in the same call, so the connections never
 * wait for a batch to drain and be recorded before the next one starts.
 * A message stays the transport's until its result is reported. */
#ifndef CC_TRANSPORT_H
#define CC_TRANSPORT_H

#include "config.h"
#include "message.h"

typedef struct cc_transport cc_transport;

typedef struct {
    const char *name;
    cc_code (*open)(cc_transport *t);
    cc_code (*send)(cc_transport *t, cc_message *msgs, size_t n);
    void (*close)(cc_transport *t);
    int results_as_they_come;   /* calls on_result for each message of a batch */
} cc_transport_ops;

struct cc_transport {
    const cc_transport_ops *ops;
    const cc_config *config;            /* borrowed */
    const cc_transport_config *tc;      /* borrowed: config->email or ->sms_transport */
    const char *channel;                /* email | sms */
    void *state;                        /* the implementation's own */
    /* Set by the sender (may be NULL): called once per message whose result is known. */
    void (*on_result)(void *arg, cc_message *m);
    void *on_result_arg;
    /* Set by the sender (may be NULL): the next messages to send in the
     * same call (how many; 0 = none left, and none will be). */
    size_t (*more)(void *arg, cc_message **msgs);
    void *more_arg;
    /* The delivery journal (sender.c), or -1: a transport that learns of
     * one message's acceptance before the batch ends (SMTP, after each
     * end-of-data reply) notes it here at once, so a sender killed before
     * recording the batch does not send that message again. */
    int journal_fd;
};

/* Tell the sender that m's result is set (no-op without a listener). */
void transport_result(cc_transport *t, cc_message *m);
/* Append "ID\n" to t->journal_fd (one write, safe from several threads). */
void transport_note_delivered(const cc_transport *t, int64_t id);
/* The same for n ids on a journal descriptor (-1: nothing), for http_batch.c. */
void transport_journal_note(int fd, const int64_t *ids, size_t n);

extern const cc_transport_ops transport_file_ops;
extern const cc_transport_ops transport_smtp_ops;
extern const cc_transport_ops transport_kannel_ops;
extern const cc_transport_ops transport_twilio_ops;
extern const cc_transport_ops transport_http_json_ops;

/* Open the transport configured for `channel`.  CC_ERR_CONFIG with a message
 * in `err` for an unknown or unsupported type. */
cc_code transport_open(const cc_config *cfg, const char *channel, cc_transport **out,
                       char *err, size_t errlen);
void transport_close(cc_transport *t);

#endif
