/* http_batch.c - concurrent keep-alive HTTP requests for the SMS gateway
 * transports (http_batch.h). */
#include "http_batch.h"

#include "transport.h"

#include <pthread.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_CONNECTIONS 64
#define MAX_ANSWER 4096
#define MAX_SECRETS 8

typedef struct {
    CURL *h;
    http_req *req;           /* NULL when idle */
} slot;

struct http_batch {
    CURLM *multi;
    slot *slots;
    int n_slots;
    long timeout_s;
    int verify;
    char *redact[MAX_SECRETS];
    size_t n_redact;
    int journal_fd;          /* the delivery journal, or -1 */
    int proxied;             /* the environment names a proxy (set_url()) */
    /* The sockets libcurl asked to have watched (CURLMOPT_SOCKETFUNCTION)
     * and when it next wants to be called without one being ready
     * (CURLMOPT_TIMERFUNCTION): libcurl then touches only the transfers
     * whose socket is ready, where curl_multi_perform() would check every
     * transfer in flight at each wake. */
    struct pollfd *watch;
    int n_watch, cap_watch;
    int timer_set;           /* a deadline is set */
    struct timespec deadline;
};

static int watch_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
    http_batch *b = userp;
    int k = 0;
    while (k < b->n_watch && b->watch[k].fd != fd) k++;
    if (what == CURL_POLL_REMOVE) {
        if (k < b->n_watch) b->watch[k] = b->watch[--b->n_watch];
        return 0;
    }
    if (k == b->n_watch) {
        if (b->n_watch == b->cap_watch) {
            b->cap_watch = b->cap_watch ? 2 * b->cap_watch : 16;
            b->watch = xrealloc(b->watch, (size_t)b->cap_watch * sizeof *b->watch);
        }
        b->n_watch++;
        b->watch[k].fd = fd;
    }
    b->watch[k].events = (short)((what & CURL_POLL_IN ? POLLIN : 0) | (what & CURL_POLL_OUT ? POLLOUT : 0));
    b->watch[k].revents = 0;
    return 0;
}

static int set_timer(CURLM *m, long ms, void *userp)
{
    http_batch *b = userp;
    b->timer_set = ms >= 0;
    if (ms < 0) return 0;
    clock_gettime(CLOCK_MONOTONIC, &b->deadline);
    b->deadline.tv_sec += ms / 1000;
    b->deadline.tv_nsec += (ms % 1000) * 1000000L;
    if (b->deadline.tv_nsec >= 1000000000L) {
        b->deadline.tv_sec++;
        b->deadline.tv_nsec -= 1000000000L;
    }
    return 0;
}

/* Milliseconds until libcurl's deadline (rounded up), 0 when it has
 * passed, -1 when none is set. */
static int timer_left(const http_batch *b)
{
    if (!b->timer_set) return -1;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long ns = (long long)(b->deadline.tv_sec - now.tv_sec) * 1000000000LL + (b->deadline.tv_nsec - now.tv_nsec);
    if (ns <= 0) return 0;
    long long ms = (ns + 999999) / 1000000;
    return ms > 1000 ? 1000 : (int)ms;
}

void http_batch_journal(http_batch *b, int fd)
{
    if (b) b->journal_fd = fd;
}

void http_wipe_free(char *p)
{
    if (!p) return;
    volatile char *v = p;
    while (*v) *v++ = '\0';
    free(p);
}

void http_req_clear(http_req *r)
{
    http_wipe_free(r->url);
    http_wipe_free(r->body);
    http_wipe_free(r->userpwd);
    cc_buf_free(&r->answer);
    memset(r, 0, sizeof *r);
}

/* RFC 3986's unreserved characters stay, every other byte is %XX: what
 * curl_easy_escape() gives, without its buffer growing a byte at a time
 * (a tenth of a message's instructions, for a Chinese text). */
void http_escape_to(cc_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    if (!s) s = "";
    size_t n = strlen(s);
    cc_buf_reserve(b, 3 * n + 1);
    char *o = b->data + b->len;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
            c == '_' || c == '~') {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = '\0';
    b->len = (size_t)(o - b->data);
}

char *http_escape(const char *s)
{
    cc_buf b = CC_BUF_INIT;
    http_escape_to(&b, s);
    return cc_buf_take(&b);
}

http_batch *http_batch_new(int connections, long timeout_s, int verify)
{
    char why[512];
    if (netlib_load_curl(why, sizeof why) != 0) {
        fprintf(stderr, "carecast: %s\n", why);
        return NULL;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "carecast: cannot initialise libcurl\n");
        return NULL;
    }
    http_batch *b = xcalloc(1, sizeof *b);
    b->multi = curl_multi_init();
    b->n_slots = connections > 0 ? connections : 4;
    if (b->n_slots > MAX_CONNECTIONS) b->n_slots = MAX_CONNECTIONS;
    b->timeout_s = timeout_s > 0 ? timeout_s : 30L;
    b->verify = verify;
    b->journal_fd = -1;
    /* the variables libcurl reads for a proxy of an http or https URL */
    static const char *const proxy_vars[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};
    for (size_t i = 0; i < sizeof proxy_vars / sizeof *proxy_vars; i++) {
        const char *v = getenv(proxy_vars[i]);
        if (v && *v) b->proxied = 1;
    }
    /* As many connections to the gateway as transfers in flight, and all of
     * them kept for the next batch. */
    curl_multi_setopt(b->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)b->n_slots);
    curl_multi_setopt(b->multi, CURLMOPT_MAXCONNECTS, (long)b->n_slots);
    curl_multi_setopt(b->multi, CURLMOPT_SOCKETFUNCTION, watch_socket);
    curl_multi_setopt(b->multi, CURLMOPT_SOCKETDATA, b);
    curl_multi_setopt(b->multi, CURLMOPT_TIMERFUNCTION, set_timer);
    curl_multi_setopt(b->multi, CURLMOPT_TIMERDATA, b);
    b->slots = xcalloc((size_t)b->n_slots, sizeof *b->slots);
    return b;
}

void http_batch_secret(http_batch *b, const char *secret)
{
    if (!secret || !*secret) return;
    if (b->n_redact + 2 > MAX_SECRETS) return;
    b->redact[b->n_redact++] = xstrdup(secret);
    char *e = http_escape(secret);
    if (strcmp(e, secret) != 0) b->redact[b->n_redact++] = e;
    else free(e);
}

void http_batch_free(http_batch *b)
{
    if (!b) return;
    for (int k = 0; k < b->n_slots; k++) {
        slot *s = &b->slots[k];
        if (s->h) {
            if (s->req) curl_multi_remove_handle(b->multi, s->h);
            curl_easy_cleanup(s->h);
        }
    }
    free(b->slots);
    curl_multi_cleanup(b->multi);
    free(b->watch);
    for (size_t i = 0; i < b->n_redact; i++) http_wipe_free(b->redact[i]);
    free(b);
    curl_global_cleanup();
}

static size_t body_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
    http_req *r = arg;
    size_t n = size * nmemb;
    if (r->answer.len < MAX_ANSWER) {
        size_t keep = n < MAX_ANSWER - r->answer.len ? n : MAX_ANSWER - r->answer.len;
        cc_buf_append(&r->answer, ptr, keep);
    }
    return n;
}

/* A GET with a query is given to libcurl as the URL without its query
 * and, as the request line's target, the path with the query.  Given the
 * whole URL, libcurl parses it, writes it out again and copies the query
 * into the request line, four times through its own printf one character
 * at a time: for a 500-character sendsms URL that was a third of the
 * sender's instructions.  The request on the wire is the same.  Through a
 * proxy the target must be the absolute URL, which libcurl builds itself
 * only without this option, so then (and for a POST, a URL without a
 * query or with a fragment) the URL is set whole. */
static void set_url(http_batch *b, CURL *h, const http_req *r)
{
    const char *q = r->body || b->proxied ? NULL : strchr(r->url, '?');
    const char *auth = strstr(r->url, "://");
    if (q && auth && auth < q && !strchr(q, '#')) {
        const char *path = strchr(auth + 3, '/');
        if (!path || path > q) path = q;   /* no path: the target starts "/?" */
        size_t n = (size_t)(q - r->url);
        char *url = xstrndup(r->url, n);
        size_t tl = strlen(path);
        char *target = xmalloc(tl + 2), *t = target;
        if (path == q) *t++ = '/';
        memcpy(t, path, tl + 1);
        int ok = curl_easy_setopt(h, CURLOPT_URL, url) == CURLE_OK &&
                 curl_easy_setopt(h, CURLOPT_REQUEST_TARGET, target) == CURLE_OK;
        /* libcurl keeps copies; these hold the password */
        http_wipe_free(url);
        http_wipe_free(target);
        if (ok) return;
    }
    curl_easy_setopt(h, CURLOPT_REQUEST_TARGET, NULL);
    curl_easy_setopt(h, CURLOPT_URL, r->url);
}

/* A slot's easy handle is set up once with what every request shares, and
 * each request then sets all the options that differ between requests (so
 * nothing of the last one is left): curl_easy_reset() and setting
 * everything afresh cost a tenth of what libcurl spends per request. */
static CURL *slot_handle(http_batch *b, slot *s)
{
    if (s->h) return s->h;
    CURL *h = s->h = curl_easy_init();
    if (!h) return NULL;
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_cb);
    curl_easy_setopt(h, CURLOPT_PRIVATE, s);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, b->timeout_s);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, b->timeout_s);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    /* A redirect would resend credentials somewhere unconfigured. */
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "carecast");
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, b->verify ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, b->verify ? 2L : 0L);
    /* No proxy variable is set (http_batch_new() looked): saying so spares
     * libcurl reading five of them at every request. */
    if (!b->proxied) {
        curl_easy_setopt(h, CURLOPT_PROXY, "");
        curl_easy_setopt(h, CURLOPT_NOPROXY, "");
    }
    return h;
}

static int setup(http_batch *b, slot *s, http_req *r)
{
    CURL *h = slot_handle(b, s);
    if (!h) return 0;
    r->errbuf[0] = '\0';
    cc_buf_reset(&r->answer);
    set_url(b, h, r);
    if (r->body) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(r->body));
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(h, CURLOPT_USERPWD, r->userpwd);
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)(r->userpwd ? CURLAUTH_BASIC : CURLAUTH_NONE));
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, r->errbuf);
    return 1;
}

/* Reads a finished transfer's outcome into its request; true when the
 * gateway accepted it. */
static int collect(slot *s, CURLcode rc)
{
    http_req *r = s->req;
    r->done = 1;
    r->curl_rc = rc;
    if (rc != CURLE_OK) return 0;
    curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &r->status);
#if LIBCURL_VERSION_NUM >= 0x074200
    /* Seconds or an HTTP date, both turned into a delay by libcurl. */
    curl_off_t ra = 0;
    if (curl_easy_getinfo(s->h, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
        r->retry_after = (int64_t)(ra > 7 * 86400 ? 7 * 86400 : ra);
#endif
    /* every SMS transport counts 2xx as sent */
    return r->status / 100 == 2;
}

/* ---- the send loop ---------------------------------------------------
 *
 * The transfers run on a thread of their own, taking requests from a queue
 * and handing each finished one back; the sending thread (the caller's)
 * reads the answers, reports the results (the sender records them in the
 * outbox: SQLite writes, milliseconds per commit) and, before the queue
 * runs dry, asks the sender for its next claim and queues those requests.
 * Neither recording nor claiming then leaves a connection idle.  Only the
 * transfer thread touches the curl handles while the queue is open; a
 * request is the transfer thread's from the moment it is queued until it
 * is handed back. */
#define HANDOFF_EVERY 32          /* answers per wake of the sending thread */
#define HANDOFF_WAIT_NS 50000000L /* or this long, when answers trickle in */

typedef struct chunk chunk;
typedef struct {
    http_req req;            /* first: the transfer thread sees only this */
    cc_message *m;
    chunk *c;
    int finished;            /* its result is reported */
} job;

/* The jobs of one claim; freed once every one is finished. */
struct chunk {
    job *jobs;
    size_t n, finished;
    chunk *next;
};

typedef struct {
    http_batch *b;
    cc_transport *t;
    http_make_fn make;
    http_finish_fn finish;
    chunk *chunks;           /* sending thread only */
    pthread_mutex_t mu;
    pthread_cond_t to_sender;    /* answers handed back, or the transfers ended */
    pthread_cond_t to_transfers; /* requests queued, or none will be */
    /* under mu: */
    job **todo;              /* queued requests, todo[head] the next to start */
    size_t n_todo, head, cap_todo;
    int closed;              /* nothing more will be queued */
    job **back;              /* handed back, not yet taken by the sending thread */
    size_t n_back, cap_back;
    int over;                /* the transfer thread returned */
    cc_code rc;
} feed;

static void push(job ***arr, size_t *n, size_t *cap, job *j)
{
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 256;
        *arr = xrealloc(*arr, *cap * sizeof **arr);
    }
    (*arr)[(*n)++] = j;
}

/* The next request to start; with `wait`, blocks until there is one or
 * the queue is closed (NULL). */
static job *next_job(feed *f, int wait)
{
    pthread_mutex_lock(&f->mu);
    while (wait && f->head == f->n_todo && !f->closed) pthread_cond_wait(&f->to_transfers, &f->mu);
    job *j = f->head < f->n_todo ? f->todo[f->head++] : NULL;
    pthread_mutex_unlock(&f->mu);
    return j;
}

static void hand_back(feed *f, job **jobs, size_t n)
{
    pthread_mutex_lock(&f->mu);
    for (size_t k = 0; k < n; k++) push(&f->back, &f->n_back, &f->cap_back, jobs[k]);
    if (f->n_back >= HANDOFF_EVERY) pthread_cond_signal(&f->to_sender);
    pthread_mutex_unlock(&f->mu);
}

/* Every free slot takes its next request (waiting for one only when none
 * is in flight), and libcurl sends the new requests at once: a slot left
 * free until some other transfer ends would idle its connection. */
static CURLMcode refill(feed *f, int *active)
{
    http_batch *b = f->b;
    int added = 0;
    for (int k = 0; k < b->n_slots; k++) {
        slot *s = &b->slots[k];
        if (s->req) continue;
        job *j;
        while ((j = next_job(f, *active == 0)) != NULL) {
            http_req *r = &j->req;
            if (setup(b, s, r) && curl_multi_add_handle(b->multi, s->h) == CURLM_OK) {
                s->req = r;
                (*active)++;
                added = 1;
                break;
            }
            r->done = 1;
            r->curl_rc = CURLE_FAILED_INIT;
            snprintf(r->errbuf, sizeof r->errbuf, "cannot start the request");
            hand_back(f, &j, 1);
        }
        if (!j) break;
    }
    int running;
    /* a new transfer sets a deadline of 0 ms: it starts on the next timeout action */
    return added ? curl_multi_socket_action(b->multi, CURL_SOCKET_TIMEOUT, 0, &running) : CURLM_OK;
}

/* Hands back the transfers libcurl finished: the accepted ones journaled
 * first (now, not when recorded, so a crash in between does not resend
 * them). */
static void harvest(feed *f, int *active)
{
    http_batch *b = f->b;
    job *ended[MAX_CONNECTIONS];
    int64_t accepted[MAX_CONNECTIONS];
    size_t n_ended = 0, n_accepted = 0;
    CURLMsg *cm;
    int queued;
    while ((cm = curl_multi_info_read(b->multi, &queued)) != NULL) {
        if (cm->msg != CURLMSG_DONE) continue;
        slot *s = NULL;
        curl_easy_getinfo(cm->easy_handle, CURLINFO_PRIVATE, (char **)&s);
        if (!s || !s->req) continue;
        http_req *r = s->req;
        if (collect(s, cm->data.result) && r->journal_id > 0) accepted[n_accepted++] = r->journal_id;
        curl_multi_remove_handle(b->multi, s->h);
        s->req = NULL;
        (*active)--;
        ended[n_ended++] = (job *)r;
    }
    transport_journal_note(b->journal_fd, accepted, n_accepted);
    if (n_ended) hand_back(f, ended, n_ended);
}

/* After a failure of the multi handle: the requests in flight and those
 * queued are left unfinished, with the reason. */
static cc_code stop(feed *f, CURLMcode mc)
{
    http_batch *b = f->b;
    const char *why = curl_multi_strerror(mc);
    for (int k = 0; k < b->n_slots; k++) {
        slot *s = &b->slots[k];
        if (!s->req) continue;
        snprintf(s->req->errbuf, sizeof s->req->errbuf, "%s", why);
        curl_multi_remove_handle(b->multi, s->h);
        s->req = NULL;
    }
    pthread_mutex_lock(&f->mu);
    f->closed = 1;
    for (; f->head < f->n_todo; f->head++)
        snprintf(f->todo[f->head]->req.errbuf, sizeof f->todo[f->head]->req.errbuf, "%s", why);
    pthread_mutex_unlock(&f->mu);
    return CC_ERR_TRANSIENT;
}

/* The transfer thread: up to n_slots requests in flight until the queue is
 * closed and empty.  libcurl acts on one ready socket at a time, and the
 * transfer that ends there is replaced before the next socket is read, as
 * a client with one connection per request would. */
static cc_code run_queue(feed *f)
{
    http_batch *b = f->b;
    int active = 0, running;
    for (;;) {
        CURLMcode mc = refill(f, &active);
        if (mc != CURLM_OK) return stop(f, mc);
        if (active == 0) return CC_OK;
        int wait = timer_left(b);
        int ready = wait == 0 ? 0 : poll(b->watch, (nfds_t)b->n_watch, wait < 0 ? 1000 : wait);
        if (ready <= 0) {
            mc = curl_multi_socket_action(b->multi, CURL_SOCKET_TIMEOUT, 0, &running);
            if (mc != CURLM_OK) return stop(f, mc);
            harvest(f, &active);
            continue;
        }
        /* The callbacks change the watch list while libcurl acts: act on a copy. */
        struct pollfd due[2 * MAX_CONNECTIONS];
        int n_due = 0;
        for (int k = 0; k < b->n_watch && n_due < 2 * MAX_CONNECTIONS; k++)
            if (b->watch[k].revents) due[n_due++] = b->watch[k];
        for (int k = 0; k < n_due; k++) {
            int ev = (due[k].revents & (POLLIN | POLLHUP) ? CURL_CSELECT_IN : 0) |
                     (due[k].revents & POLLOUT ? CURL_CSELECT_OUT : 0) |
                     (due[k].revents & (POLLERR | POLLNVAL) ? CURL_CSELECT_ERR : 0);
            mc = curl_multi_socket_action(b->multi, due[k].fd, ev, &running);
            if (mc != CURLM_OK) return stop(f, mc);
            harvest(f, &active);
            if (k + 1 < n_due && (mc = refill(f, &active)) != CURLM_OK) return stop(f, mc);
        }
        if (timer_left(b) == 0) {
            mc = curl_multi_socket_action(b->multi, CURL_SOCKET_TIMEOUT, 0, &running);
            if (mc != CURLM_OK) return stop(f, mc);
            harvest(f, &active);
        }
    }
}

static void *transfers(void *arg)
{
    feed *f = arg;
    cc_code rc = run_queue(f);
    pthread_mutex_lock(&f->mu);
    f->rc = rc;
    f->over = 1;
    pthread_cond_signal(&f->to_sender);
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

/* Reports a job's message, whose result is set: the message is the
 * sender's again from then on. */
static void release(feed *f, job *j)
{
    http_req_clear(&j->req);
    j->finished = 1;
    cc_message *m = j->m;
    chunk *c = j->c;
    if (++c->finished == c->n) {
        chunk **p = &f->chunks;
        while (*p != c) p = &(*p)->next;
        *p = c->next;
        free(c->jobs);
        free(c);
    }
    transport_result(f->t, m);
}

/* Reads a finished request's answer into its message and reports it. */
static void finish_job(feed *f, job *j)
{
    f->finish(f->t, &j->req, j->m);
    release(f, j);
}

/* Prepares the requests for msgs (a message that cannot be sent is
 * reported at once) and queues them; returns how many were queued. */
static size_t enqueue(feed *f, cc_message *msgs, size_t n)
{
    if (n == 0) return 0;
    chunk *c = xcalloc(1, sizeof *c);
    c->jobs = xcalloc(n ? n : 1, sizeof *c->jobs);
    c->n = n;
    c->next = f->chunks;
    f->chunks = c;
    job **ready = xcalloc(n ? n : 1, sizeof *ready);
    size_t n_ready = 0;
    for (size_t i = 0; i < n; i++) {
        job *j = &c->jobs[i];
        cc_message *m = &msgs[i];
        j->m = m;
        j->c = c;
        m->result = CC_ERR_TRANSIENT;
        m->reply[0] = '\0';
        m->retry_after = 0;
        m->suppress_reason = NULL;
        cc_code rc = f->make(f->t, m, &j->req);
        j->req.journal_id = m->id;
        if (rc == CC_OK) {
            ready[n_ready++] = j;
            continue;
        }
        m->result = rc;
        release(f, j);
    }
    pthread_mutex_lock(&f->mu);
    if (f->closed) {
        /* the transfers stopped (a failure of the multi handle) */
        for (size_t k = 0; k < n_ready; k++)
            snprintf(ready[k]->req.errbuf, sizeof ready[k]->req.errbuf, "the transfers had stopped");
        n_ready = 0;
    }
    if (f->head > 0) {
        memmove(f->todo, f->todo + f->head, (f->n_todo - f->head) * sizeof *f->todo);
        f->n_todo -= f->head;
        f->head = 0;
    }
    for (size_t k = 0; k < n_ready; k++) push(&f->todo, &f->n_todo, &f->cap_todo, ready[k]);
    pthread_cond_signal(&f->to_transfers);
    pthread_mutex_unlock(&f->mu);
    free(ready);
    return n_ready;
}

static void close_queue(feed *f)
{
    pthread_mutex_lock(&f->mu);
    f->closed = 1;
    pthread_cond_signal(&f->to_transfers);
    pthread_mutex_unlock(&f->mu);
}

cc_code http_transport_send(cc_transport *t, http_batch *b, cc_message *msgs, size_t n, http_make_fn make,
                            http_finish_fn finish)
{
    feed f = {.b = b, .t = t, .make = make, .finish = finish};
    pthread_mutex_init(&f.mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&f.to_sender, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&f.to_transfers, NULL);
    http_batch_journal(b, t->journal_fd);
    /* The next claim is asked for when fewer than half a claim's requests
     * are left to start: time enough for the claim while the rest go. */
    size_t low = n / 2;
    enqueue(&f, msgs, n);
    pthread_t th;
    int threaded = pthread_create(&th, NULL, transfers, &f) == 0;
    if (!threaded) {
        /* No thread: this batch alone, its results reported at the end. */
        close_queue(&f);
        transfers(&f);
    }
    job **taken = NULL;
    size_t cap_taken = 0;
    pthread_mutex_lock(&f.mu);
    for (;;) {
        if (!f.closed && threaded && (!t->more || f.n_todo - f.head <= low)) {
            pthread_mutex_unlock(&f.mu);
            cc_message *next = NULL;
            size_t k = t->more ? t->more(t->more_arg, &next) : 0;
            if (k) {
                enqueue(&f, next, k);
                if (k / 2 > low) low = k / 2;
            } else {
                close_queue(&f);
            }
            pthread_mutex_lock(&f.mu);
            continue;
        }
        if (f.n_back == 0 && f.over) break;
        if (f.n_back < HANDOFF_EVERY && !f.over) {
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until);
            until.tv_nsec += HANDOFF_WAIT_NS;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&f.to_sender, &f.mu, &until);
            if (f.n_back == 0) continue;
        }
        size_t k = f.n_back;
        if (k > cap_taken) {
            cap_taken = f.cap_back;
            taken = xrealloc(taken, cap_taken * sizeof *taken);
        }
        memcpy(taken, f.back, k * sizeof *taken);
        f.n_back = 0;
        pthread_mutex_unlock(&f.mu);
        for (size_t i = 0; i < k; i++) finish_job(&f, taken[i]);
        pthread_mutex_lock(&f.mu);
    }
    pthread_mutex_unlock(&f.mu);
    if (threaded) pthread_join(th, NULL);
    /* After a failure of the multi handle: the requests it never finished. */
    while (f.chunks) {
        chunk *c = f.chunks;
        size_t left = c->n - c->finished;
        for (size_t i = 0; left > 0 && i < c->n; i++)
            if (!c->jobs[i].finished) {
                left--;
                finish_job(&f, &c->jobs[i]);   /* frees c after its last job */
            }
    }
    free(taken);
    free(f.todo);
    free(f.back);
    pthread_cond_destroy(&f.to_sender);
    pthread_cond_destroy(&f.to_transfers);
    pthread_mutex_destroy(&f.mu);
    return f.rc;
}

const char *http_req_error(const http_req *r)
{
    /* the error buffer names host and port, never the URL; still, fall back
     * to the generic text if it mentions a query */
    if (r->errbuf[0] && !strstr(r->errbuf, "password") && !strchr(r->errbuf, '?')) return r->errbuf;
    return curl_easy_strerror(r->curl_rc);
}

/* `s` with every occurrence of `secret` replaced by "***"; caller frees. */
static char *redact(const char *s, const char *secret)
{
    size_t sl = strlen(secret);
    cc_buf b = CC_BUF_INIT;
    const char *p;
    while ((p = strstr(s, secret)) != NULL) {
        cc_buf_append(&b, s, (size_t)(p - s));
        cc_buf_puts(&b, "***");
        s = p + sl;
    }
    cc_buf_puts(&b, s);
    return cc_buf_take(&b);
}

void http_batch_reply(const http_batch *b, cc_message *m, const char *fmt, ...)
{
    cc_buf buf = CC_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    cc_buf_vprintf(&buf, fmt, ap);
    va_end(ap);
    char *text = cc_buf_take(&buf);
    for (size_t i = 0; b && i < b->n_redact; i++) {
        char *r = redact(text, b->redact[i]);
        http_wipe_free(text);
        text = r;
    }
    /* Kannel answers "0: Accepted for delivery" on the first line; an HTML
     * error page's first line is enough too. */
    char *nl = strpbrk(text, "\r\n");
    if (nl) *nl = '\0';
    message_set_reply(m, text);
    http_wipe_free(text);
}
