/* transport_kannel.c - owns SMS delivery through a Kannel smsbox's HTTP
 * sendsms interface with libcurl: one GET per message
 *   URL?username=..&password=..&from=..&to=..&text=..&charset=UTF-8&coding=0|2
 * (coding 2 = UCS-2 when sms_analyse() says the text needs it), up to
 * `connections` requests in flight on the curl multi interface, reusing
 * easy handles and kept-alive connections across the batch and across
 * batches.  Replies: 2xx (Kannel answers 202 "0: Accepted for delivery" or
 * "3: Queued for later delivery") sent; 503, connection errors and
 * timeouts TRANSIENT; other 4xx PERMANENT; other 5xx TRANSIENT.
 *
 * When `serve.public_url` and `serve.secret` are configured, each request
 * also asks for delivery reports: dlr-mask=19 (1 delivered to the phone,
 * 2 not delivered, 16 rejected by the SMSC: the final outcomes) and a
 * dlr-url pointing at `carecast serve` (serve_dlr_url()).
 *
 * The password and the callback secret travel only in the request URL.
 * URLs are never copied into a reply, and any text that could echo either
 * is redacted. */
#include "transport.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "serve.h"
#include "sms.h"

#define MAX_CONNECTIONS 64
#define MAX_BODY 4096

typedef struct {
    CURL *h;
    int busy;
    size_t idx;              /* message being sent */
    char *url;               /* holds the password: wiped after use */
    cc_buf body;
    char errbuf[CURL_ERROR_SIZE];
} kannel_slot;

typedef struct {
    CURLM *multi;
    kannel_slot *slots;
    int n_slots;
    long timeout_s;
    int verify;
    /* secrets to redact from replies: the password, the callback secret,
     * and their URL-escaped forms */
    char *redact[4];
} kannel_state;

static size_t body_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
    kannel_slot *s = arg;
    size_t n = size * nmemb;
    if (s->body.len < MAX_BODY) {
        size_t keep = n < MAX_BODY - s->body.len ? n : MAX_BODY - s->body.len;
        cc_buf_append(&s->body, ptr, keep);
    }
    return n;
}

static void wipe_free(char *p)
{
    if (!p) return;
    volatile char *v = p;
    while (*v) *v++ = '\0';
    free(p);
}

/* `s` with every occurrence of `secret` replaced by "***"; caller frees. */
static char *redact(const char *s, const char *secret)
{
    if (!secret || !*secret) return xstrdup(s);
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

/* Copy text into m->reply: first line only, controls to spaces, cut on a
 * UTF-8 character boundary, password redacted. */
static void set_reply(const kannel_state *st, cc_message *m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_reply(const kannel_state *st, cc_message *m, const char *fmt, ...)
{
    cc_buf b = CC_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    cc_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    char *text = cc_buf_take(&b);
    for (size_t i = 0; i < sizeof st->redact / sizeof st->redact[0]; i++) {
        char *r = redact(text, st->redact[i]);
        free(text);
        text = r;
    }
    /* Kannel answers "0: Accepted for delivery" on the first line. */
    char *nl = strpbrk(text, "\r\n");
    if (nl) *nl = '\0';
    message_set_reply(m, text);
    free(text);
}

static cc_code kannel_open(cc_transport *t)
{
    const cc_transport_config *tc = t->tc;
    const char *where = t->config && t->config->path ? t->config->path : "configuration";
    if (!tc->url || !*tc->url) {
        fprintf(stderr, "carecast: %s:%d:%d: error: the kannel transport needs `url:` "
                        "(e.g. http://127.0.0.1:13013/cgi-bin/sendsms)\n",
                where, tc->line, tc->col);
        return CC_ERR_CONFIG;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "carecast: cannot initialise libcurl\n");
        return CC_ERR_CONFIG;
    }
    kannel_state *st = xcalloc(1, sizeof *st);
    st->multi = curl_multi_init();
    st->n_slots = tc->connections > 0 ? tc->connections : 4;
    if (st->n_slots > MAX_CONNECTIONS) st->n_slots = MAX_CONNECTIONS;
    st->timeout_s = tc->timeout_s > 0 ? (long)tc->timeout_s : 30L;
    st->verify = tc->verify;
    const char *secrets[2] = {tc->password, t->config ? t->config->serve.secret : NULL};
    for (int i = 0; i < 2; i++) {
        if (!secrets[i] || !*secrets[i]) continue;
        st->redact[2 * i] = xstrdup(secrets[i]);
        char *e = curl_easy_escape(NULL, secrets[i], 0);
        if (e) {
            st->redact[2 * i + 1] = xstrdup(e);
            curl_free(e);
        }
    }
    curl_multi_setopt(st->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)st->n_slots);
    curl_multi_setopt(st->multi, CURLMOPT_MAXCONNECTS, (long)st->n_slots);
    st->slots = xcalloc((size_t)st->n_slots, sizeof *st->slots);
    t->state = st;
    return CC_OK;
}

static void add_param(cc_buf *u, const char *name, const char *value)
{
    char *e = curl_easy_escape(NULL, value ? value : "", 0);
    cc_buf_printf(u, "&%s=%s", name, e ? e : "");
    curl_free(e);
}

/* Build the request URL for m; CC_ERR_PERMANENT (reply set) when the text
 * cannot be sent at all. */
static cc_code make_url(cc_transport *t, cc_message *m, char **out)
{
    const cc_transport_config *tc = t->tc;
    kannel_state *st = t->state;
    sms_info info;
    if (sms_analyse(m->text, &info) != CC_OK) {
        set_reply(st, m, "the SMS text is not valid UTF-8");
        return CC_ERR_PERMANENT;
    }
    if (!m->to || !*m->to) {
        set_reply(st, m, "no recipient number");
        return CC_ERR_PERMANENT;
    }
    cc_buf u = CC_BUF_INIT;
    cc_buf_puts(&u, tc->url);
    /* the first parameter follows '?' (or '&' when the URL has a query) */
    size_t mark = u.len;
    add_param(&u, "username", tc->username);
    u.data[mark] = strchr(tc->url, '?') ? '&' : '?';
    add_param(&u, "password", tc->password);
    if (tc->from && *tc->from) add_param(&u, "from", tc->from);
    add_param(&u, "to", m->to);
    add_param(&u, "text", m->text);
    cc_buf_printf(&u, "&charset=UTF-8&coding=%d", info.encoding == SMS_UCS2 ? 2 : 0);
    const cc_config *cfg = t->config;
    if (cfg && cfg->serve.public_url && *cfg->serve.public_url && cfg->serve.secret && *cfg->serve.secret) {
        char *dlr = serve_dlr_url(cfg->serve.public_url, cfg->serve.secret, m->id);
        cc_buf_printf(&u, "&dlr-mask=%d", SERVE_DLR_MASK);
        add_param(&u, "dlr-url", dlr);
        wipe_free(dlr);
    }
    *out = cc_buf_take(&u);
    return CC_OK;
}

static void setup_easy(kannel_state *st, kannel_slot *s)
{
    if (!s->h) {
        s->h = curl_easy_init();
        if (!s->h) return;
    }
    CURL *h = s->h;
    curl_easy_setopt(h, CURLOPT_URL, s->url);
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, s->errbuf);
    curl_easy_setopt(h, CURLOPT_PRIVATE, s);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, st->timeout_s);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, st->timeout_s);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "carecast");
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, st->verify ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, st->verify ? 2L : 0L);
}

static void finish(cc_transport *t, kannel_slot *s, CURLcode rc, cc_message *m)
{
    kannel_state *st = t->state;
    if (rc != CURLE_OK) {
        m->result = CC_ERR_TRANSIENT;
        /* the error buffer names host and port, never the URL; still, fall
         * back to the generic text if it mentions the query */
        const char *detail = s->errbuf[0] && !strstr(s->errbuf, "password") && !strchr(s->errbuf, '?')
                                 ? s->errbuf : curl_easy_strerror(rc);
        set_reply(st, m, "kannel: %s", detail);
        return;
    }
    long code = 0;
    curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &code);
    const char *body = cc_buf_str(&s->body);
    while (*body == ' ' || *body == '\r' || *body == '\n') body++;
    if (code >= 200 && code < 300) {
        m->result = CC_OK;
        set_reply(st, m, "%s", *body ? body : "accepted");
    } else {
        if (code == 503) m->result = CC_ERR_TRANSIENT;
        else if (code >= 400 && code < 500) m->result = CC_ERR_PERMANENT;
        else m->result = CC_ERR_TRANSIENT;
        set_reply(st, m, "HTTP %ld: %s", code, body);
    }
}

static cc_code kannel_send(cc_transport *t, cc_message *msgs, size_t n)
{
    kannel_state *st = t->state;
    size_t next = 0;
    int active = 0;

    for (size_t i = 0; i < n; i++) {
        msgs[i].result = CC_ERR_TRANSIENT;
        msgs[i].reply[0] = '\0';
    }
    while (next < n || active > 0) {
        /* fill idle slots */
        for (int k = 0; k < st->n_slots && next < n; k++) {
            kannel_slot *s = &st->slots[k];
            if (s->busy) continue;
            while (next < n) {
                cc_message *m = &msgs[next];
                char *url = NULL;
                cc_code c = make_url(t, m, &url);
                if (c != CC_OK) {
                    m->result = c;
                    next++;
                    continue;
                }
                s->url = url;
                s->idx = next++;
                cc_buf_reset(&s->body);
                s->errbuf[0] = '\0';
                setup_easy(st, s);
                if (!s->h || curl_multi_add_handle(st->multi, s->h) != CURLM_OK) {
                    set_reply(st, m, "kannel: cannot start the request");
                    wipe_free(s->url);
                    s->url = NULL;
                    continue;
                }
                s->busy = 1;
                active++;
                break;
            }
        }
        if (active == 0) break;

        int running = 0;
        CURLMcode mc = curl_multi_perform(st->multi, &running);
        if (mc != CURLM_OK) {
            /* the multi handle itself failed: every unfinished message is
             * TRANSIENT (already preset) */
            for (int k = 0; k < st->n_slots; k++) {
                kannel_slot *s = &st->slots[k];
                if (!s->busy) continue;
                set_reply(st, &msgs[s->idx], "kannel: %s", curl_multi_strerror(mc));
                curl_multi_remove_handle(st->multi, s->h);
                wipe_free(s->url);
                s->url = NULL;
                s->busy = 0;
            }
            for (; next < n; next++) set_reply(st, &msgs[next], "kannel: %s", curl_multi_strerror(mc));
            return CC_ERR_TRANSIENT;
        }
        CURLMsg *cm;
        int queued;
        while ((cm = curl_multi_info_read(st->multi, &queued)) != NULL) {
            if (cm->msg != CURLMSG_DONE) continue;
            kannel_slot *s = NULL;
            curl_easy_getinfo(cm->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            if (!s) continue;
            CURLcode rc = cm->data.result;
            finish(t, s, rc, &msgs[s->idx]);
            curl_multi_remove_handle(st->multi, s->h);
            wipe_free(s->url);
            s->url = NULL;
            s->busy = 0;
            active--;
        }
        if (active > 0 && running > 0) curl_multi_poll(st->multi, NULL, 0, 1000, NULL);
    }
    return CC_OK;
}

static void kannel_close(cc_transport *t)
{
    kannel_state *st = t->state;
    if (!st) return;
    for (int k = 0; k < st->n_slots; k++) {
        kannel_slot *s = &st->slots[k];
        if (s->h) {
            if (s->busy) curl_multi_remove_handle(st->multi, s->h);
            curl_easy_cleanup(s->h);
        }
        wipe_free(s->url);
        cc_buf_free(&s->body);
    }
    free(st->slots);
    curl_multi_cleanup(st->multi);
    for (size_t i = 0; i < sizeof st->redact / sizeof st->redact[0]; i++) wipe_free(st->redact[i]);
    free(st);
    t->state = NULL;
    curl_global_cleanup();
}

const cc_transport_ops transport_kannel_ops = {
    .name = "kannel",
    .open = kannel_open,
    .send = kannel_send,
    .close = kannel_close,
};
