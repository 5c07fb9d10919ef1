/* transport_kannel.c - owns SMS delivery through a Kannel smsbox's HTTP
 * sendsms interface with libcurl: one GET per message
 *   URL?username=..&password=..&from=..&to=..&text=..&charset=UTF-8&coding=0|2
 * (coding 2 = UCS-2 when sms_analyse() says the text needs it), up to
 * `connections` requests in flight on the curl multi interface, reusing
 * easy handles and kept-alive connections across the batch and across
 * batches (the runner is http_batch.c, shared with twilio and http-json).
 * Replies: 2xx (Kannel answers 202 "0: Accepted for delivery" or
 * "3: Queued for later delivery") sent; 503, 429, 408, connection errors
 * and timeouts TRANSIENT (Retry-After honoured); other 4xx PERMANENT;
 * other 5xx TRANSIENT.
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

#include <stdlib.h>
#include <string.h>

#include "http_batch.h"
#include "serve.h"
#include "sms.h"

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
    http_batch *b = http_batch_new(tc->connections, (long)tc->timeout_s, tc->verify);
    if (!b) return CC_ERR_CONFIG;
    /* the password and the callback secret travel in the URL */
    http_batch_secret(b, tc->password);
    http_batch_secret(b, t->config ? t->config->serve.secret : NULL);
    t->state = b;
    return CC_OK;
}

static void add_param(cc_buf *u, const char *name, const char *value)
{
    cc_buf_puts(u, "&");
    cc_buf_puts(u, name);
    cc_buf_puts(u, "=");
    http_escape_to(u, value);
}

/* Build the request URL for m; CC_ERR_PERMANENT (reply set) when the text
 * cannot be sent at all. */
static cc_code make_request(cc_transport *t, cc_message *m, http_req *r)
{
    const cc_transport_config *tc = t->tc;
    http_batch *st = t->state;
    sms_info info;
    if (sms_analyse(m->text, &info) != CC_OK) {
        http_batch_reply(st, m, "the SMS text is not valid UTF-8");
        return CC_ERR_PERMANENT;
    }
    if (!m->to || !*m->to) {
        http_batch_reply(st, m, "no recipient number");
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
    cc_buf_puts(&u, info.encoding == SMS_UCS2 ? "&charset=UTF-8&coding=2" : "&charset=UTF-8&coding=0");
    const cc_config *cfg = t->config;
    if (cfg && cfg->serve.public_url && *cfg->serve.public_url && cfg->serve.secret && *cfg->serve.secret) {
        char *dlr = serve_dlr_url(cfg->serve.public_url, cfg->serve.secret, m->id);
        cc_buf_printf(&u, "&dlr-mask=%d", SERVE_DLR_MASK);
        add_param(&u, "dlr-url", dlr);
        http_wipe_free(dlr);
    }
    r->url = cc_buf_take(&u);
    return CC_OK;
}

static void finish(cc_transport *t, const http_req *r, cc_message *m)
{
    http_batch *st = t->state;
    if (!r->done || r->curl_rc != CURLE_OK) {
        m->result = CC_ERR_TRANSIENT;
        http_batch_reply(st, m, "kannel: %s", http_req_error(r));
        return;
    }
    long code = r->status;
    const char *body = cc_buf_str(&r->answer);
    while (*body == ' ' || *body == '\r' || *body == '\n') body++;
    if (code >= 200 && code < 300) {
        m->result = CC_OK;
        http_batch_reply(st, m, "%s", *body ? body : "accepted");
    } else {
        /* 429 (a rate limit, often from a proxy in front of smsbox) and
         * 408 are "not now", like 503: retried, Retry-After honoured. */
        if (code == 503 || code == 429 || code == 408) m->result = CC_ERR_TRANSIENT;
        else if (code >= 400 && code < 500) m->result = CC_ERR_PERMANENT;
        else m->result = CC_ERR_TRANSIENT;
        m->retry_after = r->retry_after;
        http_batch_reply(st, m, "HTTP %ld: %s", code, body);
    }
}

static cc_code kannel_send(cc_transport *t, cc_message *msgs, size_t n)
{
    return http_transport_send(t, t->state, msgs, n, make_request, finish);
}

static void kannel_close(cc_transport *t)
{
    http_batch_free(t->state);
    t->state = NULL;
}

const cc_transport_ops transport_kannel_ops = {
    .name = "kannel",
    .open = kannel_open,
    .send = kannel_send,
    .close = kannel_close,
    .results_as_they_come = 1,
};
