/* transport_smtp.c - owns email delivery over SMTP with libESMTP: a batch
 * is cut into `connections` slices sent in parallel threads, each slice
 * over one SMTP session (many messages per connection); STARTTLS, SASL
 * AUTH, timeouts, and the mapping of the server's replies to message
 * results: 2xx sent, 4xx, 503 and no answer at all (a refused session,
 * silence for `timeout`) TRANSIENT, other 5xx PERMANENT.  The message
 * bytes come from mime_build(), exactly what the file transport writes.
 *
 * libESMTP cannot do implicit TLS (SMTPS, port 465): `tls: tls` is refused
 * at open with a configuration error.  The password is handed to libESMTP
 * through its interaction callback only; it never reaches a reply or a
 * message. */
#include "transport.h"

#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>   /* libesmtp.h uses size_t without including it */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <auth-client.h>
#include <libesmtp.h>

#include "mime.h"

typedef struct {
    char *hostport;      /* "HOST:PORT" */
    char *username;
    char *password;
    int starttls;
    int verify;
    long timeout_ms;
    int port;            /* the server's, for nodelay_to_port() */
} smtp_state;

/* The message source handed to libESMTP: the whole RFC 5322 text, given
 * out in one piece.  libESMTP rewinds by calling with len == NULL. */
typedef struct {
    cc_buf text;
    int given;
    smtp_message_t msg;
    smtp_recipient_t rcpt;
    int64_t id;          /* the outbox id, for the delivery journal */
} smtp_item;

/* What the event callback needs of one session. */
typedef struct {
    const smtp_state *st;
    const cc_transport *t;
} smtp_session_ctx;

static const char *message_cb(void **ctx, int *len, void *arg)
{
    smtp_item *it = arg;
    (void)ctx;           /* left NULL: libESMTP frees a non-NULL ctx */
    if (len == NULL) {
        it->given = 0;
        return NULL;
    }
    if (it->given) {
        *len = 0;
        return cc_buf_str(&it->text);
    }
    it->given = 1;
    *len = (int)it->text.len;
    return cc_buf_str(&it->text);
}

static int interact_cb(auth_client_request_t request, char **result, int fields, void *arg)
{
    smtp_state *st = arg;
    for (int i = 0; i < fields; i++) {
        if (request[i].flags & AUTH_USER) result[i] = st->username;
        else if (request[i].flags & AUTH_PASS) result[i] = st->password ? st->password : "";
        else if (request[i].flags & AUTH_REALM) result[i] = "";
        else return 0;
    }
    return 1;
}

/* libESMTP gives no access to its socket, and it writes a message as full
 * buffers of 2 KiB and then a short last piece.  With Nagle's algorithm
 * that short write waits for the server to acknowledge the previous one,
 * and the server delays its ACK (40 ms on Linux) since it has nothing to
 * say before the end of the data: 40 ms lost on every message over 2 KiB.
 * So when libESMTP reports SMTP_EV_CONNECT (its socket has just
 * connected), every TCP socket of this process connected to the server's
 * port gets TCP_NODELAY; a parallel session's socket is one of ours too
 * and wants the same. */
static void nodelay_to_port(int port)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (end == e->d_name || *end) continue;
        struct sockaddr_storage peer;
        socklen_t len = sizeof peer;
        if (getpeername((int)fd, (struct sockaddr *)&peer, &len) != 0) continue;
        int p = peer.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&peer)->sin_port)
              : peer.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&peer)->sin6_port) : -1;
        int type = 0;
        socklen_t tl = sizeof type;
        if (p != port || getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 || type != SOCK_STREAM) continue;
        int one = 1;
        setsockopt((int)fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    closedir(d);
}

/* What the server said last and when, per session: a session refused at
 * the greeting or EHLO leaves no status on any message, and a server that
 * stops answering must be told from one that hung up.  Only the server's
 * side is kept (never what carecast writes: message text, AUTH). */
typedef struct {
    char last[160];       /* the last reply line */
    char refusal[160];    /* the last 4xx/5xx reply line */
    struct timespec last_at;
} smtp_watch;

static void monitor_cb(const char *buf, int buflen, int writing, void *arg)
{
    smtp_watch *w = arg;
    if (writing != SMTP_CB_READING || buflen <= 0) return;
    clock_gettime(CLOCK_MONOTONIC, &w->last_at);
    int end = buflen;
    while (end > 0 && (buf[end - 1] == '\r' || buf[end - 1] == '\n')) end--;
    int start = end;
    while (start > 0 && buf[start - 1] != '\n') start--;
    size_t k = 0;
    for (int i = start; i < end && k + 1 < sizeof w->last; i++) {
        unsigned char ch = (unsigned char)buf[i];
        w->last[k++] = ch < 0x20 || ch == 0x7F ? ' ' : (char)ch;
    }
    w->last[k] = '\0';
    if (w->last[0] == '4' || w->last[0] == '5') memcpy(w->refusal, w->last, sizeof w->refusal);
}

/* libESMTP's events: at connection, no Nagle delay (nodelay_to_port); a
 * message accepted goes into the delivery journal; TLS certificate events
 * accept a bad or missing certificate only when verification is switched
 * off in the configuration. */
static void event_cb(smtp_session_t session, int event_no, void *arg, ...)
{
    const smtp_session_ctx *ctx = arg;
    int *ok = NULL;
    va_list ap;
    (void)session;
    va_start(ap, arg);
    switch (event_no) {
    case SMTP_EV_CONNECT:
        nodelay_to_port(ctx->st->port);
        break;
    case SMTP_EV_MESSAGESENT: {                /* smtp_message_t, after the end-of-data reply */
        /* Accepted: into the delivery journal now, not at the batch's end. */
        smtp_message_t msg = va_arg(ap, smtp_message_t);
        const smtp_item *it = smtp_message_get_application_data(msg);
        const smtp_status_t *ms = smtp_message_transfer_status(msg);
        const smtp_status_t *rs = it && it->rcpt ? smtp_recipient_status(it->rcpt) : NULL;
        if (it && ms && ms->code / 100 == 2 && rs && rs->code / 100 == 2) transport_note_delivered(ctx->t, it->id);
        break;
    }
    case SMTP_EV_INVALID_PEER_CERTIFICATE:     /* long result, int *ok, SSL * */
        (void)va_arg(ap, long);
        ok = va_arg(ap, int *);
        break;
    case SMTP_EV_NO_PEER_CERTIFICATE:          /* int *ok */
    case SMTP_EV_WRONG_PEER_CERTIFICATE:       /* int *ok, char *name, SSL * */
        ok = va_arg(ap, int *);
        break;
    default:
        break;
    }
    va_end(ap);
    if (ok) *ok = !ctx->st->verify;
}

/* Format a reply into m->reply (see message_set_reply). */
static void set_reply(cc_message *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_reply(cc_message *m, const char *fmt, ...)
{
    cc_buf b = CC_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    cc_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    message_set_reply(m, cc_buf_str(&b));
    cc_buf_free(&b);
}

/* An SMTP mailbox that can go into MAIL FROM/RCPT TO as is: no controls,
 * spaces or angle brackets (a CR/LF would inject SMTP commands). */
static int mailbox_ok(const char *s)
{
    if (!s || !*s) return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p == 0x7F || *p == '<' || *p == '>') return 0;
    return 1;
}

static cc_code smtp_open(cc_transport *t)
{
    const cc_transport_config *tc = t->tc;
    const char *host0 = tc->host && *tc->host ? tc->host : "127.0.0.1";
    int loopback = !strncmp(host0, "127.", 4) || !strcmp(host0, "localhost") || !strcmp(host0, "::1");
    /* Mail leaving the machine is encrypted unless the config says
     * `tls: none` in so many words; on loopback there is nothing to hide. */
    const char *tls = tc->tls && *tc->tls ? tc->tls : loopback ? "none" : "starttls";
    const char *where = t->config && t->config->path ? t->config->path : "configuration";
    if (strcmp(tls, "tls") == 0) {
        fprintf(stderr, "carecast: %s:%d:%d: error: tls: tls (implicit TLS, SMTPS port 465) is not "
                        "supported by libESMTP; use tls: starttls (port 587 or 25)\n",
                where, tc->line, tc->col);
        return CC_ERR_CONFIG;
    }
    if (strcmp(tls, "none") != 0 && strcmp(tls, "starttls") != 0) {
        fprintf(stderr, "carecast: %s:%d:%d: error: tls: must be none, starttls or tls\n",
                where, tc->line, tc->col);
        return CC_ERR_CONFIG;
    }
    const char *host = tc->host && *tc->host ? tc->host : "127.0.0.1";
    if (strchr(host, ':')) {
        fprintf(stderr, "carecast: %s:%d:%d: error: host: give the port in `port:`, "
                        "not in the host name (IPv6 literals are not supported by libESMTP)\n",
                where, tc->line, tc->col);
        return CC_ERR_CONFIG;
    }
    smtp_state *st = xcalloc(1, sizeof *st);
    st->port = tc->port > 0 ? tc->port : 25;
    st->hostport = xasprintf("%s:%d", host, st->port);
    st->username = tc->username && *tc->username ? xstrdup(tc->username) : NULL;
    st->password = st->username && tc->password ? xstrdup(tc->password) : NULL;
    st->starttls = strcmp(tls, "starttls") == 0;
    st->verify = tc->verify;
    st->timeout_ms = (tc->timeout_s > 0 ? (long)tc->timeout_s : 60L) * 1000L;
    t->state = st;

    static int auth_ready;
    if (st->username && !auth_ready) {
        auth_client_init();
        auth_ready = 1;
    }
    return CC_OK;
}

static cc_code fail_all(cc_message *msgs, size_t n, cc_code code, const char *why)
{
    for (size_t i = 0; i < n; i++) {
        msgs[i].result = CC_ERR_TRANSIENT;
        set_reply(&msgs[i], "%s", why);
    }
    return code;
}

/* 5xx is permanent, except 503 (bad sequence of commands): that is the
 * session's state gone wrong (a reply that overtook another on a slow
 * server), nothing about the message, so it is tried again. */
static cc_code result_for(int code)
{
    return code / 100 == 5 && code != 503 ? CC_ERR_PERMANENT : CC_ERR_TRANSIENT;
}

/* One SMTP session carrying msgs[0..n). */
static cc_code send_session(const cc_transport *t, const smtp_state *st, const cc_config *cfg, cc_message *msgs,
                            size_t n)
{
    if (n == 0) return CC_OK;
    if (!cfg || !mailbox_ok(cfg->sender.email))
        return fail_all(msgs, n, CC_ERR_CONFIG, "sender.email is missing or not a valid address");

    smtp_session_t session = smtp_create_session();
    if (!session) return fail_all(msgs, n, CC_ERR_TRANSIENT, "smtp: cannot create a session");
    smtp_set_server(session, st->hostport);
    static const int phases[] = {Timeout_GREETING, Timeout_ENVELOPE, Timeout_DATA,
                                 Timeout_TRANSFER, Timeout_DATA2};
    for (size_t i = 0; i < sizeof phases / sizeof phases[0]; i++)
        smtp_set_timeout(session, phases[i] | Timeout_OVERRIDE_RFC2822_MINIMUM, st->timeout_ms);
    smtp_starttls_enable(session, st->starttls ? Starttls_REQUIRED : Starttls_DISABLED);
    smtp_session_ctx ctx = {st, t};
    smtp_set_eventcb(session, event_cb, &ctx);
    smtp_watch watch = {{0}, {0}, {0, 0}};
    clock_gettime(CLOCK_MONOTONIC, &watch.last_at);
    smtp_set_monitorcb(session, monitor_cb, &watch, 0);

    auth_context_t auth = NULL;
    if (st->username) {
        auth = auth_create_context();
        auth_set_mechanism_flags(auth, AUTH_PLUGIN_PLAIN, 0);
        auth_set_interact_cb(auth, interact_cb, (void *)st);
        smtp_auth_set_context(session, auth);
    }

    smtp_item *items = xcalloc(n, sizeof *items);
    int64_t now = (int64_t)time(NULL);
    size_t queued = 0;
    for (size_t i = 0; i < n; i++) {
        cc_message *m = &msgs[i];
        m->result = CC_ERR_TRANSIENT;
        m->reply[0] = '\0';
        if (!mailbox_ok(m->to)) {
            m->result = CC_ERR_PERMANENT;
            set_reply(m, "invalid recipient address");
            continue;
        }
        if (mime_build(cfg, m, now, &items[i].text) != CC_OK) {
            set_reply(m, "cannot build the message");
            continue;
        }
        items[i].msg = smtp_add_message(session);
        if (!items[i].msg) {
            set_reply(m, "smtp: cannot add the message");
            continue;
        }
        items[i].id = m->id;
        smtp_message_set_application_data_release(items[i].msg, &items[i], NULL);   /* ours, freed by us */
        smtp_set_reverse_path(items[i].msg, cfg->sender.email);
        items[i].rcpt = smtp_add_recipient(items[i].msg, m->to);
        smtp_set_messagecb(items[i].msg, message_cb, &items[i]);
        queued++;
    }

    if (queued > 0) {
        /* A server that hangs up mid-transfer must not kill carecast with
         * SIGPIPE: block it for the session, then drop any pending one. */
        sigset_t pipe_set, old_set;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);

        int started = smtp_start_session(session);
        int err = smtp_errno();

        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) > 0) {}
        pthread_sigmask(SIG_SETMASK, &old_set, NULL);

        char ebuf[200];
        const char *etext = NULL;
        if (err != 0) etext = smtp_strerror(err, ebuf, sizeof ebuf);
        if (!etext) etext = "no reply from the server";
        /* Silence for the whole timeout: libESMTP reports it as a dropped
         * connection; say what happened. */
        int timed_out = cc_seconds_since(&watch.last_at) * 1000.0 >= (double)st->timeout_ms - 100.0;
        char why_text[320];
        if (timed_out)
            snprintf(why_text, sizeof why_text, "no reply within the %ld s timeout%s%s%s", st->timeout_ms / 1000,
                     watch.last[0] ? " (last reply: " : "", watch.last, watch.last[0] ? ")" : "");
        else if (!started && watch.refusal[0])
            snprintf(why_text, sizeof why_text, "session refused: %s", watch.refusal);
        else
            snprintf(why_text, sizeof why_text, "%s", etext);

        for (size_t i = 0; i < n; i++) {
            if (!items[i].msg) continue;
            cc_message *m = &msgs[i];
            const smtp_status_t *rp = smtp_reverse_path_status(items[i].msg);
            const smtp_status_t *rs = items[i].rcpt ? smtp_recipient_status(items[i].rcpt) : NULL;
            const smtp_status_t *ms = smtp_message_transfer_status(items[i].msg);
            const smtp_status_t *why = NULL;
            /* Judged in protocol order, and only on replies that came: a
             * reply later in a pipelined transaction (a 503 to DATA) says
             * nothing about a message whose RCPT was never answered. */
            if (!started || !rp || rp->code == 0) {
                why = NULL;
            } else if (rp->code / 100 != 2) {
                why = rp;
            } else if (!rs || rs->code == 0) {
                why = NULL;
            } else if (rs->code / 100 != 2) {
                why = rs;
            } else if (ms && ms->code && ms->code / 100 != 3) {
                why = ms;    /* a 354 with nothing after it is no answer */
            }
            if (!why) {
                m->result = CC_ERR_TRANSIENT;
                set_reply(m, "smtp %s: %s", st->hostport, why_text);
            } else {
                m->result = why->code / 100 == 2 ? CC_OK : result_for(why->code);
                /* 5.1.x at RCPT: the mailbox or domain does not exist (a hard
                 * bounce); that address is suppressed for all mail. */
                if (why == rs && why->code / 100 == 5 && why->enh_class == 5 && why->enh_subject == 1) {
                    m->suppress_reason = "hard-bounce";
                    m->suppress_all = 1;
                }
                if (why->enh_class > 0)
                    set_reply(m, "%d %d.%d.%d %s", why->code, why->enh_class, why->enh_subject,
                              why->enh_detail, why->text ? why->text : "");
                else
                    set_reply(m, "%d %s", why->code, why->text ? why->text : "");
            }
        }
    }

    smtp_destroy_session(session);
    if (auth) auth_destroy_context(auth);
    for (size_t i = 0; i < n; i++) cc_buf_free(&items[i].text);
    free(items);
    return CC_OK;
}

/* Parallel sessions: the batch is cut into `connections` slices, each sent
 * by its own thread over its own connection (libESMTP keeps all state per
 * session and its error number per thread). */
typedef struct {
    const cc_transport *t;
    const smtp_state *st;
    const cc_config *cfg;
    cc_message *msgs;
    size_t n;
} slice;

static void *send_slice(void *arg)
{
    slice *s = arg;
    send_session(s->t, s->st, s->cfg, s->msgs, s->n);
    return NULL;
}

static cc_code smtp_send(cc_transport *t, cc_message *msgs, size_t n)
{
    smtp_state *st = t->state;
    size_t k = t->tc->connections > 1 ? (size_t)t->tc->connections : 1;
    if (k > n) k = n;
    if (k <= 1) return send_session(t, st, t->config, msgs, n);
    slice *slices = xcalloc(k, sizeof *slices);
    pthread_t *threads = xcalloc(k, sizeof *threads);
    int *started = xcalloc(k, sizeof *started);
    size_t off = 0;
    for (size_t i = 0; i < k; i++) {
        size_t len = n / k + (i < n % k ? 1 : 0);
        slices[i] = (slice){t, st, t->config, msgs + off, len};
        off += len;
        started[i] = pthread_create(&threads[i], NULL, send_slice, &slices[i]) == 0;
        if (!started[i]) send_session(t, st, t->config, slices[i].msgs, slices[i].n);
    }
    for (size_t i = 0; i < k; i++)
        if (started[i]) pthread_join(threads[i], NULL);
    free(slices);
    free(threads);
    free(started);
    return CC_OK;
}

static void smtp_close(cc_transport *t)
{
    smtp_state *st = t->state;
    if (!st) return;
    free(st->hostport);
    free(st->username);
    if (st->password) {
        /* do not leave the secret in freed memory */
        volatile char *p = st->password;
        while (*p) *p++ = '\0';
        free(st->password);
    }
    free(st);
    t->state = NULL;
}

const cc_transport_ops transport_smtp_ops = {
    .name = "smtp",
    .open = smtp_open,
    .send = smtp_send,
    .close = smtp_close,
};
