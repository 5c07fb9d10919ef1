/* http_batch.c - concurrent keep-alive HTTP requests for the SMS gateway
 * transports (http_batch.h). */
#include "http_batch.h"

#include "transport.h"

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
};

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

char *http_escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s ? s : "", 0);
    char *out = xstrdup(e ? e : "");
    curl_free(e);
    return out;
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
    /* As many connections to the gateway as transfers in flight, and all of
     * them kept for the next batch. */
    curl_multi_setopt(b->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)b->n_slots);
    curl_multi_setopt(b->multi, CURLMOPT_MAXCONNECTS, (long)b->n_slots);
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

/* Set every option afresh: curl_easy_reset() keeps nothing of the last
 * request but its connection, which lives in the multi handle's pool. */
static int setup(http_batch *b, slot *s, http_req *r)
{
    if (!s->h) s->h = curl_easy_init();
    if (!s->h) return 0;
    CURL *h = s->h;
    curl_easy_reset(h);
    r->errbuf[0] = '\0';
    cc_buf_reset(&r->answer);
    curl_easy_setopt(h, CURLOPT_URL, r->url);
    if (r->body) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(r->body));
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    if (r->headers) curl_easy_setopt(h, CURLOPT_HTTPHEADER, r->headers);
    if (r->userpwd) {
        curl_easy_setopt(h, CURLOPT_USERPWD, r->userpwd);
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, r->errbuf);
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
    return 1;
}

static void collect(const http_batch *b, slot *s, CURLcode rc)
{
    http_req *r = s->req;
    r->done = 1;
    r->curl_rc = rc;
    if (rc != CURLE_OK) return;
    curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &r->status);
#if LIBCURL_VERSION_NUM >= 0x074200
    /* Seconds or an HTTP date, both turned into a delay by libcurl. */
    curl_off_t ra = 0;
    if (curl_easy_getinfo(s->h, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
        r->retry_after = (int64_t)(ra > 7 * 86400 ? 7 * 86400 : ra);
#endif
    /* Accepted (every SMS transport counts 2xx as sent): journaled now, not
     * when the batch is recorded, so a crash in between does not resend. */
    if (r->status / 100 == 2 && r->journal_id > 0) transport_journal_note(b->journal_fd, r->journal_id);
}

cc_code http_batch_run(http_batch *b, http_req *reqs, size_t n) { return http_batch_run_each(b, reqs, n, NULL, NULL); }

cc_code http_batch_run_each(http_batch *b, http_req *reqs, size_t n, void (*done)(void *arg, size_t i), void *arg)
{
    size_t next = 0;
    int active = 0;
    while (next < n || active > 0) {
        for (int k = 0; k < b->n_slots && next < n; k++) {
            slot *s = &b->slots[k];
            if (s->req) continue;
            while (next < n) {
                http_req *r = &reqs[next++];
                if (!r->url) continue;
                if (!setup(b, s, r) || curl_multi_add_handle(b->multi, s->h) != CURLM_OK) {
                    r->done = 1;
                    r->curl_rc = CURLE_FAILED_INIT;
                    snprintf(r->errbuf, sizeof r->errbuf, "cannot start the request");
                    if (done) done(arg, (size_t)(r - reqs));
                    continue;
                }
                s->req = r;
                active++;
                break;
            }
        }
        if (active == 0) break;

        int running = 0;
        CURLMcode mc = curl_multi_perform(b->multi, &running);
        if (mc != CURLM_OK) {
            for (int k = 0; k < b->n_slots; k++) {
                slot *s = &b->slots[k];
                if (!s->req) continue;
                snprintf(s->req->errbuf, sizeof s->req->errbuf, "%s", curl_multi_strerror(mc));
                curl_multi_remove_handle(b->multi, s->h);
                s->req = NULL;
            }
            for (; next < n; next++) snprintf(reqs[next].errbuf, sizeof reqs[next].errbuf, "%s", curl_multi_strerror(mc));
            return CC_ERR_TRANSIENT;
        }
        CURLMsg *cm;
        int queued;
        while ((cm = curl_multi_info_read(b->multi, &queued)) != NULL) {
            if (cm->msg != CURLMSG_DONE) continue;
            slot *s = NULL;
            curl_easy_getinfo(cm->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            if (!s || !s->req) continue;
            http_req *r = s->req;
            collect(b, s, cm->data.result);
            curl_multi_remove_handle(b->multi, s->h);
            s->req = NULL;
            active--;
            if (done) done(arg, (size_t)(r - reqs));
        }
        if (active > 0 && running > 0) curl_multi_poll(b->multi, NULL, 0, 1000, NULL);
    }
    return CC_OK;
}

typedef struct {
    cc_transport *t;
    http_req *reqs;
    cc_message *msgs;
    http_finish_fn finish;
} send_state;

static void finish_one(void *arg, size_t i)
{
    send_state *ss = arg;
    ss->finish(ss->t, &ss->reqs[i], &ss->msgs[i]);
    http_req_clear(&ss->reqs[i]);   /* url NULL: finished */
    transport_result(ss->t, &ss->msgs[i]);
}

cc_code http_transport_send(cc_transport *t, http_batch *b, cc_message *msgs, size_t n, http_make_fn make,
                            http_finish_fn finish)
{
    http_req *reqs = xcalloc(n ? n : 1, sizeof *reqs);
    for (size_t i = 0; i < n; i++) {
        cc_message *m = &msgs[i];
        m->result = CC_ERR_TRANSIENT;
        m->reply[0] = '\0';
        m->retry_after = 0;
        m->suppress_reason = NULL;
        cc_code c = make(t, m, &reqs[i]);
        if (c != CC_OK) {
            m->result = c;
            http_req_clear(&reqs[i]);
            transport_result(t, m);
        }
        reqs[i].journal_id = m->id;
    }
    http_batch_journal(b, t->journal_fd);
    send_state ss = {t, reqs, msgs, finish};
    cc_code rc = http_batch_run_each(b, reqs, n, finish_one, &ss);
    /* After a failure of the multi handle: the requests it never finished. */
    for (size_t i = 0; i < n; i++)
        if (reqs[i].url) finish_one(&ss, i);
    free(reqs);
    return rc;
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
