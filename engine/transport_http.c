/* transport_http.c - owns SMS delivery through HTTP APIs other than Kannel,
 * on the shared runner in http_batch.c (concurrent keep-alive requests):
 *
 * twilio     POST {url|https://api.twilio.com}/2010-04-01/Accounts/SID/Messages.json
 *            form To, Body, MessagingServiceSid or From, and StatusCallback
 *            (serve_twilio_status_url(), when serve.public_url and
 *            serve.secret are set); basic auth account_sid:token.
 *            2xx sent, reply "twilio sid=SM...; status=queued" (serve finds
 *            the message by the id in the callback URL, else by this sid);
 *            429 and 5xx TRANSIENT with Retry-After honoured; 400 with
 *            Twilio code 21610 (the recipient replied STOP to Twilio)
 *            PERMANENT plus a marketing suppression of the number (reason
 *            'twilio-21610', written by outbox_finish()); other 4xx
 *            PERMANENT with Twilio's code and message.
 *
 * http-json  POST `url` with `headers`, Content-Type: application/json and
 *            the body rendered from the `body` Liquid template.  Every
 *            variable (to, text, from, campaign, step, customer, kind,
 *            locale, id) is JSON-string-escaped before rendering, so a
 *            template writes "text": "{{ text }}" and stays valid JSON
 *            whatever the text holds (the Liquid engine has no json
 *            filter).  `token_env` adds Authorization: Bearer TOKEN;
 *            username/password_env basic auth.  2xx sent; 429, 5xx and
 *            connection errors TRANSIENT (Retry-After honoured); other 4xx
 *            PERMANENT.
 *
 * Tokens, passwords and the callback secret are registered with the runner
 * and redacted from every reply; request bodies and URLs are never copied
 * into one. */
#include "transport.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_batch.h"
#include "serve.h"
#include "sms.h"
#include "template.h"

#define TWILIO_API "https://api.twilio.com"
#define DEFAULT_JSON_BODY                                                                           \
    "{\"to\": \"{{ to }}\", \"from\": \"{{ from }}\", \"text\": \"{{ text }}\", "                   \
    "\"campaign\": \"{{ campaign }}\", \"step\": \"{{ step }}\", \"customer\": \"{{ customer }}\", " \
    "\"id\": {{ id }}}"

typedef struct {
    http_batch *batch;
    char *endpoint;                /* the URL every request goes to */
    char *userpwd;                 /* basic auth, or NULL */
    struct curl_slist *headers;    /* http-json: may hold the bearer token */
    tpl *body;                     /* http-json */
} http_state;

static const char *where(const cc_transport *t)
{
    return t->config && t->config->path ? t->config->path : "configuration";
}

static void state_free(http_state *st)
{
    if (!st) return;
    http_batch_free(st->batch);
    free(st->endpoint);
    http_wipe_free(st->userpwd);
    for (struct curl_slist *h = st->headers; h; h = h->next) {
        volatile char *v = h->data;
        while (*v) *v++ = '\0';
    }
    if (st->headers) curl_slist_free_all(st->headers);   /* (libcurl may not have loaded) */
    if (st->body) tpl_free(st->body);
    free(st);
}

static void http_close(cc_transport *t)
{
    state_free(t->state);
    t->state = NULL;
}

/* ---- a few JSON reads (Twilio's answers) ------------------------------- */

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return 0;
        v = v * 16 + (unsigned)d;
    }
    *out = v;
    return 1;
}

static void put_utf8(cc_buf *b, unsigned cp)
{
    if (cp < 0x80) cc_buf_putc(b, (char)cp);
    else if (cp < 0x800) {
        cc_buf_putc(b, (char)(0xc0 | (cp >> 6)));
        cc_buf_putc(b, (char)(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
        cc_buf_putc(b, (char)(0xe0 | (cp >> 12)));
        cc_buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
        cc_buf_putc(b, (char)(0x80 | (cp & 0x3f)));
    } else {
        cc_buf_putc(b, (char)(0xf0 | (cp >> 18)));
        cc_buf_putc(b, (char)(0x80 | ((cp >> 12) & 0x3f)));
        cc_buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
        cc_buf_putc(b, (char)(0x80 | (cp & 0x3f)));
    }
}

/* The value of "key" in a flat JSON object: a string (unescaped) or a
 * number/literal as written.  Twilio's answers are objects whose keys
 * ("sid", "code", "message", "status") are not repeated in nested ones;
 * a match inside a string value is skipped because its quote is escaped. */
static int json_get(const char *json, const char *key, cc_buf *out)
{
    cc_buf_reset(out);
    size_t kl = strlen(key);
    for (const char *p = json; (p = strchr(p, '"')) != NULL; p++) {
        if (p > json && p[-1] == '\\') continue;
        if (strncmp(p + 1, key, kl) != 0 || p[1 + kl] != '"') continue;
        const char *v = p + 2 + kl;
        while (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n') v++;
        if (*v != ':') continue;
        v++;
        while (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n') v++;
        if (*v != '"') {
            const char *e = v;
            while (*e && !strchr(",}] \t\r\n", *e)) e++;
            if (e == v || (e - v == 4 && !strncmp(v, "null", 4))) return 0;
            cc_buf_append(out, v, (size_t)(e - v));
            return 1;
        }
        for (v++; *v && *v != '"'; v++) {
            if (*v != '\\') {
                cc_buf_putc(out, *v);
                continue;
            }
            v++;
            unsigned cp, lo;
            switch (*v) {
            case 'n': cc_buf_putc(out, ' '); break;
            case 't': cc_buf_putc(out, ' '); break;
            case 'r': case 'b': case 'f': break;
            case 'u':
                if (!hex4(v + 1, &cp)) return 1;
                v += 4;
                if (cp >= 0xd800 && cp < 0xdc00 && v[1] == '\\' && v[2] == 'u' && hex4(v + 3, &lo) &&
                    lo >= 0xdc00 && lo < 0xe000) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    v += 6;
                }
                if (cp) put_utf8(out, cp);
                break;
            case '\0': return 1;
            default: cc_buf_putc(out, *v);
            }
        }
        return 1;
    }
    return 0;
}

/* ---- twilio ------------------------------------------------------------- */

static cc_code twilio_open(cc_transport *t)
{
    const cc_transport_config *tc = t->tc;
    if (!tc->account_sid || !*tc->account_sid) {
        fprintf(stderr, "carecast: %s:%d:%d: error: the twilio transport needs `account_sid:`\n", where(t), tc->line,
                tc->col);
        return CC_ERR_CONFIG;
    }
    if (!tc->token || !*tc->token) {
        fprintf(stderr,
                "carecast: %s:%d:%d: error: the twilio transport needs its auth token: `token_env: VARIABLE` "
                "(set in the environment) or `token_file: PATH`\n",
                where(t), tc->line, tc->col);
        return CC_ERR_CONFIG;
    }
    if (!(tc->messaging_service_sid && *tc->messaging_service_sid) && !(tc->from && *tc->from)) {
        fprintf(stderr, "carecast: %s:%d:%d: error: the twilio transport needs `from:` or `messaging_service_sid:`\n",
                where(t), tc->line, tc->col);
        return CC_ERR_CONFIG;
    }
    http_state *st = xcalloc(1, sizeof *st);
    st->batch = http_batch_new(tc->connections, (long)tc->timeout_s, tc->verify);
    if (!st->batch) {
        free(st);
        return CC_ERR_CONFIG;
    }
    http_batch_secret(st->batch, tc->token);
    http_batch_secret(st->batch, t->config ? t->config->serve.secret : NULL);
    const char *base = tc->url && *tc->url ? tc->url : TWILIO_API;
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/') bl--;
    char *sid = http_escape(tc->account_sid);
    st->endpoint = xasprintf("%.*s/2010-04-01/Accounts/%s/Messages.json", (int)bl, base, sid);
    free(sid);
    st->userpwd = xasprintf("%s:%s", tc->account_sid, tc->token);
    t->state = st;
    return CC_OK;
}

static void add_field(cc_buf *b, const char *name, const char *value)
{
    if (b->len) cc_buf_puts(b, "&");
    cc_buf_puts(b, name);
    cc_buf_puts(b, "=");
    http_escape_to(b, value);
}

static cc_code twilio_request(cc_transport *t, cc_message *m, http_req *r)
{
    const cc_transport_config *tc = t->tc;
    http_state *st = t->state;
    sms_info info;
    if (!m->text || sms_analyse(m->text, &info) != CC_OK) {
        http_batch_reply(st->batch, m, "the SMS text is not valid UTF-8");
        return CC_ERR_PERMANENT;
    }
    if (!m->to || !*m->to) {
        http_batch_reply(st->batch, m, "no recipient number");
        return CC_ERR_PERMANENT;
    }
    cc_buf b = CC_BUF_INIT;
    add_field(&b, "To", m->to);
    add_field(&b, "Body", m->text);
    if (tc->messaging_service_sid && *tc->messaging_service_sid)
        add_field(&b, "MessagingServiceSid", tc->messaging_service_sid);
    else
        add_field(&b, "From", tc->from);
    const cc_config *cfg = t->config;
    if (cfg && cfg->serve.public_url && *cfg->serve.public_url && cfg->serve.secret && *cfg->serve.secret) {
        char *cb = serve_twilio_status_url(cfg->serve.public_url, cfg->serve.secret, m->id);
        add_field(&b, "StatusCallback", cb);
        http_wipe_free(cb);
    }
    r->url = xstrdup(st->endpoint);
    r->body = cc_buf_take(&b);
    r->userpwd = xstrdup(st->userpwd);
    return CC_OK;
}

static void twilio_finish(http_state *st, const http_req *r, cc_message *m)
{
    if (!r->done || r->curl_rc != CURLE_OK) {
        m->result = CC_ERR_TRANSIENT;
        http_batch_reply(st->batch, m, "twilio: %s", http_req_error(r));
        return;
    }
    const char *body = cc_buf_str(&r->answer);
    cc_buf a = CC_BUF_INIT, b = CC_BUF_INIT;
    long code = r->status;
    if (code >= 200 && code < 300) {
        int has_sid = json_get(body, "sid", &a) == 1;
        json_get(body, "status", &b);
        /* A sid is letters and digits ("SM" + 32 hex); anything else is not
         * one and must not reach the LIKE lookup in serve. */
        for (const char *p = cc_buf_str(&a); has_sid && *p; p++)
            if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))) has_sid = 0;
        m->result = CC_OK;
        if (has_sid && a.len)
            http_batch_reply(st->batch, m, "twilio sid=%s; status=%s", cc_buf_str(&a), b.len ? cc_buf_str(&b) : "?");
        else
            http_batch_reply(st->batch, m, "twilio HTTP %ld without a message sid", code);
    } else {
        int has_code = json_get(body, "code", &a) == 1;
        int has_msg = json_get(body, "message", &b) == 1;
        const char *tcode = has_code ? cc_buf_str(&a) : "";
        const char *msg = has_msg ? cc_buf_str(&b) : body;
        if (code == 429 || code >= 500 || code < 400) {
            m->result = CC_ERR_TRANSIENT;
            m->retry_after = r->retry_after;
        } else {
            m->result = CC_ERR_PERMANENT;
            /* 21610: the number replied STOP to Twilio, which refuses
             * every message to it from this account until START */
            if (has_code && strcmp(tcode, "21610") == 0) m->suppress_reason = "twilio-21610";
        }
        if (has_code)
            http_batch_reply(st->batch, m, "twilio HTTP %ld code %s: %s", code, tcode, msg);
        else
            http_batch_reply(st->batch, m, "twilio HTTP %ld: %s", code, msg);
    }
    cc_buf_free(&a);
    cc_buf_free(&b);
}

/* ---- http-json ---------------------------------------------------------- */

static cc_code json_open(cc_transport *t)
{
    const cc_transport_config *tc = t->tc;
    if (!tc->url || !*tc->url) {
        fprintf(stderr, "carecast: %s:%d:%d: error: the http-json transport needs `url:`\n", where(t), tc->line,
                tc->col);
        return CC_ERR_CONFIG;
    }
    cc_diags d = {0};
    tpl *body = tpl_compile("transports.sms.body", 1, tc->body ? tc->body : DEFAULT_JSON_BODY, &d);
    if (!body) {
        fprintf(stderr, "carecast: %s: the http-json body template does not compile:\n", where(t));
        cc_diag_print(&d, stderr);
        cc_diags_free(&d);
        return CC_ERR_CONFIG;
    }
    cc_diags_free(&d);
    http_state *st = xcalloc(1, sizeof *st);
    st->body = body;
    st->batch = http_batch_new(tc->connections, (long)tc->timeout_s, tc->verify);
    if (!st->batch) {
        state_free(st);
        return CC_ERR_CONFIG;
    }
    http_batch_secret(st->batch, tc->token);
    http_batch_secret(st->batch, tc->password);
    st->endpoint = xstrdup(tc->url);
    int has_type = 0;
    for (size_t i = 0; i < tc->n_headers; i++) {
        has_type |= strncasecmp(tc->headers[i], "Content-Type:", 13) == 0;
        st->headers = curl_slist_append(st->headers, tc->headers[i]);
    }
    if (!has_type) st->headers = curl_slist_append(st->headers, "Content-Type: application/json; charset=utf-8");
    /* no "Expect: 100-continue" round trip before each body */
    st->headers = curl_slist_append(st->headers, "Expect:");
    if (tc->token && *tc->token) {
        char *h = xasprintf("Authorization: Bearer %s", tc->token);
        st->headers = curl_slist_append(st->headers, h);
        http_wipe_free(h);
    }
    if (tc->username && *tc->username) st->userpwd = xasprintf("%s:%s", tc->username, tc->password ? tc->password : "");
    t->state = st;
    return CC_OK;
}

/* `s` escaped for the inside of a JSON string: quotes, backslashes and
 * controls; UTF-8 passes through as is. */
static char *json_escape(const char *s)
{
    cc_buf b = CC_BUF_INIT;
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        switch (*p) {
        case '"': cc_buf_puts(&b, "\\\""); break;
        case '\\': cc_buf_puts(&b, "\\\\"); break;
        case '\n': cc_buf_puts(&b, "\\n"); break;
        case '\r': cc_buf_puts(&b, "\\r"); break;
        case '\t': cc_buf_puts(&b, "\\t"); break;
        default:
            if (*p < 0x20 || *p == 0x7f) cc_buf_printf(&b, "\\u%04x", *p);
            else cc_buf_putc(&b, (char)*p);
        }
    }
    return cc_buf_take(&b);
}

static cc_code json_request(cc_transport *t, cc_message *m, http_req *r)
{
    const cc_transport_config *tc = t->tc;
    http_state *st = t->state;
    sms_info info;
    if (!m->text || sms_analyse(m->text, &info) != CC_OK) {
        http_batch_reply(st->batch, m, "the SMS text is not valid UTF-8");
        return CC_ERR_PERMANENT;
    }
    if (!m->to || !*m->to) {
        http_batch_reply(st->batch, m, "no recipient number");
        return CC_ERR_PERMANENT;
    }
    tpl_vars v;
    memset(&v, 0, sizeof v);
    const struct { const char *name, *value; } vars[] = {
        {"to", m->to},           {"text", m->text},         {"from", tc->from},     {"campaign", m->campaign},
        {"step", m->step},       {"customer", m->customer}, {"kind", m->kind},      {"locale", m->locale},
    };
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        char *e = json_escape(vars[i].value);
        tpl_vars_set(&v, vars[i].name, e);
        free(e);
    }
    char idbuf[32];
    snprintf(idbuf, sizeof idbuf, "%lld", (long long)m->id);
    tpl_vars_set_typed(&v, "id", TPL_INT, idbuf);
    cc_buf out = CC_BUF_INIT;
    cc_diags d = {0};
    cc_code rc = tpl_render(st->body, &v, 0, NULL, NULL, &out, &d);
    tpl_vars_free(&v);
    if (rc != CC_OK) {
        cc_buf msg = CC_BUF_INIT;
        for (size_t i = 0; i < d.n; i++) cc_buf_printf(&msg, "%s%s", i ? "; " : "", d.msgs[i]);
        http_batch_reply(st->batch, m, "http-json: the body template failed: %s", cc_buf_str(&msg));
        cc_buf_free(&msg);
        cc_buf_free(&out);
        cc_diags_free(&d);
        return CC_ERR_PERMANENT;
    }
    cc_diags_free(&d);
    r->url = xstrdup(st->endpoint);
    r->body = cc_buf_take(&out);
    r->headers = st->headers;
    r->userpwd = xstrdup(st->userpwd);
    return CC_OK;
}

static void json_finish(http_state *st, const http_req *r, cc_message *m)
{
    if (!r->done || r->curl_rc != CURLE_OK) {
        m->result = CC_ERR_TRANSIENT;
        http_batch_reply(st->batch, m, "http-json: %s", http_req_error(r));
        return;
    }
    long code = r->status;
    const char *body = cc_buf_str(&r->answer);
    while (*body == ' ' || *body == '\r' || *body == '\n') body++;
    if (code >= 200 && code < 300) m->result = CC_OK;
    else if (code >= 400 && code < 500 && code != 429 && code != 408) m->result = CC_ERR_PERMANENT;
    else {
        m->result = CC_ERR_TRANSIENT;
        m->retry_after = r->retry_after;
    }
    http_batch_reply(st->batch, m, "HTTP %ld%s%s", code, *body ? ": " : "", body);
}

/* ---- both --------------------------------------------------------------- */

static void twilio_finish_msg(cc_transport *t, const http_req *r, cc_message *m)
{
    twilio_finish(t->state, r, m);
}

static void json_finish_msg(cc_transport *t, const http_req *r, cc_message *m)
{
    json_finish(t->state, r, m);
}

static cc_code twilio_send(cc_transport *t, cc_message *msgs, size_t n)
{
    http_state *st = t->state;
    return http_transport_send(t, st->batch, msgs, n, twilio_request, twilio_finish_msg);
}

static cc_code json_send(cc_transport *t, cc_message *msgs, size_t n)
{
    http_state *st = t->state;
    return http_transport_send(t, st->batch, msgs, n, json_request, json_finish_msg);
}

const cc_transport_ops transport_twilio_ops = {
    .name = "twilio",
    .open = twilio_open,
    .send = twilio_send,
    .close = http_close,
    .results_as_they_come = 1,
};

const cc_transport_ops transport_http_json_ops = {
    .name = "http-json",
    .open = json_open,
    .send = json_send,
    .close = http_close,
    .results_as_they_come = 1,
};
