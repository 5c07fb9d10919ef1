/* serve.c - the HTTP endpoints of `carecast serve` over libmicrohttpd
 * (serve.h). */
#include "serve.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "csv_import.h"
#include "netlib.h"   /* after microhttpd.h: libmicrohttpd is loaded on first use */
#include "serve_parse.h"
#include "sms.h"
#include "unsubscribe.h"

#define MAX_BODY (64 * 1024)   /* forms and callbacks are a few hundred bytes */
#define MAX_URI (8 * 1024)     /* path + query */
#define MAX_DETAIL 200         /* bytes of a DLR's text kept in the outbox */
#define MIN_SECRET 16

struct serve_server {
    struct MHD_Daemon *daemon;
    sqlite3 *db;
    const cc_config *cfg;
    int verbosity;
};

/* One request's state, from the URI callback to the completion callback. */
typedef struct {
    int started;             /* the access handler has seen it */
    int too_big;             /* the body passed MAX_BODY: it is discarded */
    const char *bad_query;   /* why the query string is refused, or NULL */
    size_t uri_len;          /* path + query as sent */
    char *raw_uri;           /* the same, kept for Twilio's signature */
    cc_buf body;
    unsigned status;         /* what was answered, for the log */
    char method[8];
    char path[96];           /* what the log shows: never a secret or token */
} request;

/* ---- small helpers ---------------------------------------------------- */

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

/* Compare a presented secret with the configured one in time that does not
 * depend on where they differ, nor on the presented length: both are
 * hashed first. */
static int secret_ok(const char *given, const char *secret)
{
    if (!secret || !*secret || !given) return 0;
    unsigned char a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
    unsigned int la = 0, lb = 0;
    if (!EVP_Digest(given, strlen(given), a, &la, EVP_sha256(), NULL) ||
        !EVP_Digest(secret, strlen(secret), b, &lb, EVP_sha256(), NULL) || la != lb)
        return 0;
    return CRYPTO_memcmp(a, b, la) == 0;
}

static void html_escape(const char *s, cc_buf *out)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': cc_buf_puts(out, "&amp;"); break;
        case '<': cc_buf_puts(out, "&lt;"); break;
        case '>': cc_buf_puts(out, "&gt;"); break;
        case '"': cc_buf_puts(out, "&quot;"); break;
        case '\'': cc_buf_puts(out, "&#39;"); break;
        default: cc_buf_putc(out, *s);
        }
    }
}

/* ---- responses -------------------------------------------------------- */

typedef struct {
    const char *name, *value;
} header;

static enum MHD_Result respond_h(struct MHD_Connection *conn, request *r, unsigned status, const char *type,
                                 const char *body, const header *extra, size_t n_extra)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    /* Answers depend on the database and on secrets in the URL: never cached. */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    for (size_t i = 0; i < n_extra; i++) MHD_add_response_header(resp, extra[i].name, extra[i].value);
    enum MHD_Result rc = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    r->status = status;
    return rc;
}

static enum MHD_Result respond(struct MHD_Connection *conn, request *r, unsigned status, const char *text)
{
    return respond_h(conn, r, status, "text/plain; charset=utf-8", text, NULL, 0);
}

/* ---- parameters ------------------------------------------------------- */

/* A request parameter: from the query string, else from an urlencoded
 * POST body.  NULL when absent; -1 in *bad when the body is malformed. */
static const char *param(struct MHD_Connection *conn, request *r, const char *name, cc_buf *scratch,
                         int *bad)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
    if (v) return v;
    if (!r->body.len) return NULL;
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0) return NULL;
    int f = serve_form_field(r->body.data, r->body.len, name, scratch);
    if (f < 0) *bad = 1;
    return f > 0 ? cc_buf_str(scratch) : NULL;
}

/* ---- Kannel delivery reports ------------------------------------------ */

static enum MHD_Result on_dlr(serve_server *sv, struct MHD_Connection *conn, request *r)
{
    cc_buf s1 = CC_BUF_INIT, s2 = CC_BUF_INIT, s3 = CC_BUF_INIT;
    int bad = 0;
    const char *id_s = param(conn, r, "id", &s1, &bad);
    const char *status_s = param(conn, r, "status", &s2, &bad);
    const char *answer = param(conn, r, "answer", &s3, &bad);
    int64_t id = 0, status = 0;
    enum MHD_Result rc;
    if (bad || !serve_parse_id(id_s, &id) || !serve_parse_id(status_s, &status)) {
        rc = respond(conn, r, MHD_HTTP_BAD_REQUEST, "expected id=OUTBOX_ID&status=KANNEL_DLR_TYPE\n");
        goto out;
    }
    const char *outcome = status == 1 ? "delivered" : (status == 2 || status == 16) ? "undelivered" : NULL;
    if (!outcome && status != 4 && status != 8) {
        rc = respond(conn, r, MHD_HTTP_BAD_REQUEST, "unknown delivery report type\n");
        goto out;
    }
    int64_t now = (int64_t)time(NULL);
    int changed = 0;
    sqlite3_stmt *st = NULL;
    int src = SQLITE_OK;
    if (outcome) {
        cc_buf detail = CC_BUF_INIT;
        cc_buf_printf(&detail, "kannel dlr %lld", (long long)status);
        if (answer && *answer) {
            cc_buf_puts(&detail, ": ");
            serve_clean_text(answer, MAX_DETAIL, &detail);
        }
        /* One statement: the first final report wins, except that a later
         * "delivered" overrides "undelivered" (a retry got through).  The
         * same report twice matches nothing the second time. */
        src = sqlite3_prepare_v2(
            sv->db,
            "UPDATE care_outbox SET delivery_status = ?2,"
            "  delivered_at = CASE WHEN ?2 = 'delivered' THEN ?3 ELSE NULL END,"
            "  delivery_detail = ?4"
            " WHERE id = ?1 AND channel = 'sms'"
            "  AND (delivery_status IS NULL OR (delivery_status = 'undelivered' AND ?2 = 'delivered'))",
            -1, &st, NULL);
        if (src == SQLITE_OK) {
            sqlite3_bind_int64(st, 1, id);
            sqlite3_bind_text(st, 2, outcome, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 3, now);
            sqlite3_bind_text(st, 4, cc_buf_str(&detail), -1, SQLITE_TRANSIENT);
            src = sqlite3_step(st);
            if (src == SQLITE_DONE) changed = sqlite3_changes(sv->db) > 0;
        }
        sqlite3_finalize(st);
        st = NULL;
        cc_buf_free(&detail);
        if (src != SQLITE_DONE) goto db_error;
    }
    int exists = changed;
    if (!exists) {
        src = sqlite3_prepare_v2(sv->db, "SELECT 1 FROM care_outbox WHERE id = ?1 AND channel = 'sms'", -1, &st,
                                 NULL);
        if (src == SQLITE_OK) {
            sqlite3_bind_int64(st, 1, id);
            src = sqlite3_step(st);
            exists = src == SQLITE_ROW;
        }
        sqlite3_finalize(st);
        if (src != SQLITE_ROW && src != SQLITE_DONE) goto db_error;
    }
    if (!exists) {
        rc = respond(conn, r, MHD_HTTP_NOT_FOUND, "no SMS with that outbox id\n");
        goto out;
    }
    if (sv->verbosity > 1)
        fprintf(stderr, "carecast serve: delivery report %lld for outbox %lld%s\n", (long long)status,
                (long long)id, changed ? "" : " (nothing new)");
    rc = respond(conn, r, MHD_HTTP_OK, changed ? "recorded\n" : "ok\n");
    goto out;
db_error:
    fprintf(stderr, "carecast serve: database: %s\n", sqlite3_errmsg(sv->db));
    rc = respond(conn, r, src == SQLITE_BUSY ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_INTERNAL_SERVER_ERROR,
                 "database error\n");
out:
    cc_buf_free(&s1);
    cc_buf_free(&s2);
    cc_buf_free(&s3);
    return rc;
}

/* ---- Twilio status callbacks ------------------------------------------- */

/* Twilio's request signature (X-Twilio-Signature): base64(HMAC-SHA1(auth
 * token, URL + each POST parameter's name and value, sorted by name)),
 * where URL is what Twilio requested: our public_url + the path and query
 * as received.  0 when it does not match or the body is malformed. */
static int twilio_signature_ok(const serve_server *sv, struct MHD_Connection *conn, const request *r,
                               const char *token)
{
    const char *given = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Twilio-Signature");
    const char *pub = sv->cfg->serve.public_url;
    if (!given || !*given || !r->raw_uri || !pub || !*pub) return 0;
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (r->body.len && (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0)) return 0;
    serve_form_pair *pairs = NULL;
    size_t n = 0;
    int ok = serve_form_pairs(cc_buf_str(&r->body), r->body.len, &pairs, &n);
    cc_buf data = CC_BUF_INIT;
    size_t pl = strlen(pub);
    while (pl && pub[pl - 1] == '/') pl--;
    cc_buf_append(&data, pub, pl);
    cc_buf_puts(&data, r->raw_uri);
    if (n) qsort(pairs, n, sizeof *pairs, serve_form_pair_cmp);
    for (size_t k = 0; k < n; k++) {
        cc_buf_puts(&data, pairs[k].key);
        cc_buf_puts(&data, pairs[k].value);
    }
    serve_form_pairs_free(pairs, n);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
    if (ok && HMAC(EVP_sha1(), token, (int)strlen(token), (const unsigned char *)data.data, data.len, mac, &ml)) {
        int bl = EVP_EncodeBlock(b64, mac, (int)ml);
        ok = bl > 0 && strlen(given) == (size_t)bl && CRYPTO_memcmp(given, b64, (size_t)bl) == 0;
    } else {
        ok = 0;
    }
    cc_buf_free(&data);
    return ok;
}

/* POST /twilio/status/SECRET[?id=ID] with MessageSid, MessageStatus and
 * perhaps ErrorCode.  The message is the outbox id in the callback URL (the
 * twilio transport puts it there; Twilio signs it), else the one whose
 * successful attempt recorded "twilio sid=SID;". */
static enum MHD_Result on_twilio(serve_server *sv, struct MHD_Connection *conn, request *r)
{
    const cc_transport_config *tc = &sv->cfg->sms_transport;
    if (!cc_streq(tc->type, "twilio") || !tc->token || !*tc->token || !sv->cfg->serve.public_url)
        return respond(conn, r, MHD_HTTP_NOT_FOUND,
                       "Twilio callbacks need transports.sms (twilio) with its token and serve.public_url\n");
    if (!twilio_signature_ok(sv, conn, r, tc->token))
        return respond(conn, r, MHD_HTTP_FORBIDDEN, "bad X-Twilio-Signature\n");
    cc_buf s1 = CC_BUF_INIT, s2 = CC_BUF_INIT, s3 = CC_BUF_INIT, detail = CC_BUF_INIT;
    int bad = 0;
    const char *sid = param(conn, r, "MessageSid", &s1, &bad);
    const char *status = param(conn, r, "MessageStatus", &s2, &bad);
    const char *error = param(conn, r, "ErrorCode", &s3, &bad);
    const char *id_s = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "id");
    int64_t id = 0;
    enum MHD_Result rc;
    sqlite3_stmt *st = NULL;
    int src = SQLITE_OK;
    if (bad || !serve_is_sid(sid) || !status || !*status || (id_s && !serve_parse_id(id_s, &id))) {
        rc = respond(conn, r, MHD_HTTP_BAD_REQUEST, "expected MessageSid and MessageStatus\n");
        goto out;
    }
    if (!id) {
        src = sqlite3_prepare_v2(sv->db,
                                 "SELECT outbox_id FROM care_attempts WHERE result = 'ok'"
                                 " AND reply LIKE 'twilio sid=' || ?1 || ';%' ORDER BY at DESC LIMIT 1",
                                 -1, &st, NULL);
        if (src == SQLITE_OK) {
            sqlite3_bind_text(st, 1, sid, -1, SQLITE_STATIC);
            src = sqlite3_step(st);
            if (src == SQLITE_ROW) id = sqlite3_column_int64(st, 0);
        }
        sqlite3_finalize(st);
        st = NULL;
        if (src != SQLITE_ROW && src != SQLITE_DONE) goto db_error;
        if (!id) {
            rc = respond(conn, r, MHD_HTTP_NOT_FOUND, "no SMS with that MessageSid\n");
            goto out;
        }
    }
    /* Final outcomes only; queued, sending, sent ... change nothing. */
    const char *outcome = !strcmp(status, "delivered") ? "delivered"
                          : !strcmp(status, "undelivered") || !strcmp(status, "failed") ? "undelivered" : NULL;
    int changed = 0;
    if (outcome) {
        cc_buf_printf(&detail, "twilio %s sid=%s", status, sid);
        if (error && *error) {
            cc_buf_puts(&detail, " error ");
            serve_clean_text(error, MAX_DETAIL, &detail);
        }
        src = sqlite3_prepare_v2(
            sv->db,
            "UPDATE care_outbox SET delivery_status = ?2,"
            "  delivered_at = CASE WHEN ?2 = 'delivered' THEN ?3 ELSE NULL END,"
            "  delivery_detail = ?4"
            " WHERE id = ?1 AND channel = 'sms'"
            "  AND (delivery_status IS NULL OR (delivery_status = 'undelivered' AND ?2 = 'delivered'))",
            -1, &st, NULL);
        if (src == SQLITE_OK) {
            sqlite3_bind_int64(st, 1, id);
            sqlite3_bind_text(st, 2, outcome, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 3, (int64_t)time(NULL));
            sqlite3_bind_text(st, 4, cc_buf_str(&detail), -1, SQLITE_TRANSIENT);
            src = sqlite3_step(st);
            if (src == SQLITE_DONE) changed = sqlite3_changes(sv->db) > 0;
        }
        sqlite3_finalize(st);
        st = NULL;
        if (src != SQLITE_DONE) goto db_error;
    }
    if (!changed) {
        src = sqlite3_prepare_v2(sv->db, "SELECT 1 FROM care_outbox WHERE id = ?1 AND channel = 'sms'", -1, &st,
                                 NULL);
        if (src == SQLITE_OK) {
            sqlite3_bind_int64(st, 1, id);
            src = sqlite3_step(st);
        }
        sqlite3_finalize(st);
        st = NULL;
        if (src != SQLITE_ROW && src != SQLITE_DONE) goto db_error;
        if (src == SQLITE_DONE) {
            rc = respond(conn, r, MHD_HTTP_NOT_FOUND, "no SMS with that outbox id\n");
            goto out;
        }
    }
    if (sv->verbosity > 1)
        fprintf(stderr, "carecast serve: twilio status %s for outbox %lld%s\n", outcome ? outcome : "(intermediate)",
                (long long)id, changed ? "" : " (nothing new)");
    rc = respond(conn, r, MHD_HTTP_OK, changed ? "recorded\n" : "ok\n");
    goto out;
db_error:
    fprintf(stderr, "carecast serve: database: %s\n", sqlite3_errmsg(sv->db));
    rc = respond(conn, r, src == SQLITE_BUSY ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_INTERNAL_SERVER_ERROR,
                 "database error\n");
out:
    cc_buf_free(&s1);
    cc_buf_free(&s2);
    cc_buf_free(&s3);
    cc_buf_free(&detail);
    return rc;
}

/* ---- inbound SMS ------------------------------------------------------ */

static enum MHD_Result on_inbound(serve_server *sv, struct MHD_Connection *conn, request *r)
{
    cc_buf s1 = CC_BUF_INIT, s2 = CC_BUF_INIT, num = CC_BUF_INIT, reply = CC_BUF_INIT;
    int bad = 0;
    const char *from = param(conn, r, "from", &s1, &bad);
    const char *text = param(conn, r, "text", &s2, &bad);
    enum MHD_Result rc;
    if (bad || !from || !*from) {
        rc = respond(conn, r, MHD_HTTP_BAD_REQUEST, bad ? "malformed form body\n" : "expected from=NUMBER&text=TEXT\n");
        goto out;
    }
    if (!serve_is_stop(text)) {
        /* Kannel sends a non-empty answer back as an SMS; an empty one is
         * dropped when the sms-service says omit-empty = true. */
        rc = respond(conn, r, MHD_HTTP_OK, "");
        goto out;
    }
    /* A '+' that the gateway did not escape arrives decoded as a space. */
    const char *f = from;
    cc_buf plus = CC_BUF_INIT;
    if (f[0] == ' ' && isdigit((unsigned char)f[1])) {
        cc_buf_printf(&plus, "+%s", f + 1);
        f = cc_buf_str(&plus);
    }
    int ok = csv_phone_e164(f, sv->cfg->customers.default_country, &num);
    cc_buf_free(&plus);
    if (!ok) {
        fprintf(stderr, "carecast serve: an opt-out from a number that is not a phone number was ignored\n");
        rc = respond(conn, r, MHD_HTTP_BAD_REQUEST, "not a phone number\n");
        goto out;
    }
    sqlite3_stmt *st = NULL;
    /* One statement, idempotent: nothing is added when the number is
     * already suppressed for marketing (or for everything). */
    int src = sqlite3_prepare_v2(
        sv->db,
        "INSERT INTO care_suppressions(address, customer_id, scope, reason, created_at)"
        " SELECT ?1, NULL, 'marketing', 'sms-stop', ?2"
        " WHERE NOT EXISTS (SELECT 1 FROM care_suppressions WHERE address = ?1 AND scope IN ('marketing','all'))",
        -1, &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, cc_buf_str(&num), -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (int64_t)time(NULL));
        src = sqlite3_step(st);
    }
    int added = src == SQLITE_DONE && sqlite3_changes(sv->db) > 0;
    sqlite3_finalize(st);
    if (src != SQLITE_DONE) {
        fprintf(stderr, "carecast serve: database: %s\n", sqlite3_errmsg(sv->db));
        rc = respond(conn, r, src == SQLITE_BUSY ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_INTERNAL_SERVER_ERROR,
                     "");
        goto out;
    }
    if (sv->verbosity > 1)
        fprintf(stderr, "carecast serve: SMS opt-out %s\n", added ? "recorded" : "already recorded");
    if (strncmp(cc_buf_str(&num), "+86", 3) == 0) {
        /* Chinese carriers require the sender's signature on every SMS. */
        const char *sig = sv->cfg->sms.signature;
        cc_buf_printf(&reply, "%s您已退订营销短信。", sig ? sig : "");
    } else {
        cc_buf_puts(&reply, "You are unsubscribed from marketing messages.");
    }
    /* Kannel sends the answer as a 7-bit SMS unless told otherwise, which
     * turns Chinese into question marks; X-Kannel-Coding: 2 (honoured with
     * accept-x-kannel-headers = true) makes it UCS-2. */
    sms_info info;
    int ucs2 = sms_analyse(cc_buf_str(&reply), &info) == CC_OK && info.encoding == SMS_UCS2;
    static const header coding[] = {{"X-Kannel-Coding", "2"}};
    rc = respond_h(conn, r, MHD_HTTP_OK, "text/plain; charset=utf-8", cc_buf_str(&reply), coding, ucs2 ? 1 : 0);
out:
    cc_buf_free(&s1);
    cc_buf_free(&s2);
    cc_buf_free(&num);
    cc_buf_free(&reply);
    return rc;
}

/* ---- one-click unsubscribe -------------------------------------------- */

static const header html_headers[] = {
    /* The page holds a token: no referrer leaks it, nothing runs, nobody
     * frames the button. */
    {"Content-Security-Policy", "default-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"},
    {"Referrer-Policy", "no-referrer"},
    {"X-Frame-Options", "DENY"},
};

static enum MHD_Result html_page(struct MHD_Connection *conn, request *r, unsigned status, const char *title,
                                 const char *inner)
{
    cc_buf b = CC_BUF_INIT;
    cc_buf_puts(&b, "<!doctype html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                    "<meta name=\"robots\" content=\"noindex\"><title>");
    cc_buf_puts(&b, title);
    cc_buf_puts(&b, "</title></head>\n<body><main>\n");
    cc_buf_puts(&b, inner);
    cc_buf_puts(&b, "</main></body></html>\n");
    enum MHD_Result rc = respond_h(conn, r, status, "text/html; charset=utf-8", cc_buf_str(&b), html_headers,
                                   sizeof html_headers / sizeof html_headers[0]);
    cc_buf_free(&b);
    return rc;
}

static enum MHD_Result on_unsubscribe(serve_server *sv, struct MHD_Connection *conn, request *r,
                                      const char *token, int post)
{
    const char *secret = sv->cfg->unsubscribe.secret;
    if (!secret || !*secret)
        return respond(conn, r, MHD_HTTP_NOT_FOUND, "one-click unsubscribe is not configured here\n");
    char *customer = NULL, *address = NULL;
    if (strlen(token) > 2048 || unsubscribe_verify(secret, token, &customer, &address) != CC_OK) {
        free(customer);
        free(address);
        if (!post)
            return html_page(conn, r, MHD_HTTP_FORBIDDEN, "链接无效 / Invalid link",
                             "<h1>链接无效 / This link is not valid</h1>\n"
                             "<p>请使用邮件中的完整退订链接。 / Please use the complete link from the email.</p>\n");
        return respond(conn, r, MHD_HTTP_FORBIDDEN, "invalid unsubscribe token\n");
    }
    enum MHD_Result rc;
    if (!post) {
        /* Humans who click the link get a button; mail scanners that fetch
         * every link change nothing. */
        cc_buf inner = CC_BUF_INIT;
        cc_buf_puts(&inner, "<h1>退订营销邮件 / Unsubscribe</h1>\n"
                            "<p>确认后，我们将不再向您发送营销邮件；账单、合同等服务通知不受影响。</p>\n"
                            "<p>Confirm to stop marketing email. Service notices (statements, contract "
                            "reminders) are not affected.</p>\n"
                            "<form method=\"post\" action=\"");
        /* Relative to this page, so it also works behind a path prefix. */
        html_escape(token, &inner);
        cc_buf_puts(&inner, "\"><input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">"
                            "<button type=\"submit\">退订 / Unsubscribe</button></form>\n");
        rc = html_page(conn, r, MHD_HTTP_OK, "退订 / Unsubscribe", cc_buf_str(&inner));
        cc_buf_free(&inner);
        goto out;
    }
    /* RFC 8058: the POST body is List-Unsubscribe=One-Click, urlencoded or
     * as multipart/form-data. */
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    cc_buf v = CC_BUF_INIT;
    int f = 0;
    if (ct && strncasecmp(ct, "multipart/form-data", 19) == 0)
        f = serve_multipart_field(cc_buf_str(&r->body), r->body.len, "List-Unsubscribe", &v);
    else if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0)
        f = serve_form_field(cc_buf_str(&r->body), r->body.len, "List-Unsubscribe", &v);
    int one_click = f > 0 && strcmp(cc_buf_str(&v), "One-Click") == 0;
    cc_buf_free(&v);
    if (!one_click) {
        rc = respond(conn, r, MHD_HTTP_BAD_REQUEST, "expected the body List-Unsubscribe=One-Click\n");
        goto out;
    }
    const char *addr = address && *address ? address : NULL;
    const char *cust = customer && *customer ? customer : NULL;
    if (!addr && !cust) {
        rc = respond(conn, r, MHD_HTTP_BAD_REQUEST, "the token names nobody\n");
        goto out;
    }
    sqlite3_stmt *st = NULL;
    /* One statement, idempotent: the same click twice adds one row. */
    int src = sqlite3_prepare_v2(
        sv->db,
        "INSERT INTO care_suppressions(address, customer_id, scope, reason, created_at)"
        " SELECT ?1, ?2, 'marketing', 'unsubscribe', ?3"
        " WHERE NOT EXISTS (SELECT 1 FROM care_suppressions WHERE address IS ?1 AND customer_id IS ?2"
        "   AND scope IN ('marketing','all'))",
        -1, &st, NULL);
    if (src == SQLITE_OK) {
        if (addr) sqlite3_bind_text(st, 1, addr, -1, SQLITE_STATIC); else sqlite3_bind_null(st, 1);
        if (cust) sqlite3_bind_text(st, 2, cust, -1, SQLITE_STATIC); else sqlite3_bind_null(st, 2);
        sqlite3_bind_int64(st, 3, (int64_t)time(NULL));
        src = sqlite3_step(st);
    }
    int added = src == SQLITE_DONE && sqlite3_changes(sv->db) > 0;
    sqlite3_finalize(st);
    if (src != SQLITE_DONE) {
        fprintf(stderr, "carecast serve: database: %s\n", sqlite3_errmsg(sv->db));
        rc = respond(conn, r, src == SQLITE_BUSY ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_INTERNAL_SERVER_ERROR,
                     "database error, please try again later\n");
        goto out;
    }
    if (sv->verbosity > 1)
        fprintf(stderr, "carecast serve: unsubscribe %s\n", added ? "recorded" : "already recorded");
    /* No redirect (RFC 8058): the answer itself says it worked. */
    rc = respond(conn, r, MHD_HTTP_OK, "您已退订营销邮件。 You are unsubscribed from marketing email.\n");
out:
    free(customer);
    free(address);
    return rc;
}

/* ---- dispatch --------------------------------------------------------- */

/* What the log shows for a path: the route with its secret or token
 * replaced, or the path itself (cut, controls replaced, any occurrence of
 * the secret removed). */
static void log_path(const serve_server *sv, const char *url, char *out, size_t cap)
{
    static const char *const routes[] = {"/kannel/dlr/", "/sms/inbound/", "/unsubscribe/", "/twilio/status/"};
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (strncmp(url, routes[i], strlen(routes[i])) == 0) {
            snprintf(out, cap, "%s***", routes[i]);
            return;
        }
    char *safe = redact(url, sv->cfg->serve.secret);
    size_t j = 0;
    for (const char *p = safe; *p && j + 1 < cap; p++)
        out[j++] = (unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f ? '?' : *p;
    out[j] = '\0';
    free(safe);
}

static enum MHD_Result route(serve_server *sv, struct MHD_Connection *conn, request *r, const char *url,
                             const char *method)
{
    int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    int post = !strcmp(method, "POST");
    static const header allow_get[] = {{"Allow", "GET, HEAD"}};
    static const header allow_both[] = {{"Allow", "GET, HEAD, POST"}};

    if (!strcmp(url, "/health")) {
        if (!get) return respond_h(conn, r, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", "", allow_get, 1);
        return respond(conn, r, MHD_HTTP_OK, "ok\n");
    }
    const char *rest;
    if (!strncmp(url, "/kannel/dlr/", 12) || !strncmp(url, "/sms/inbound/", 13)) {
        int dlr = url[1] == 'k';
        rest = url + (dlr ? 12 : 13);
        if (!get && !post) return respond_h(conn, r, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", "", allow_both, 1);
        if (!secret_ok(rest, sv->cfg->serve.secret)) return respond(conn, r, MHD_HTTP_FORBIDDEN, "forbidden\n");
        return dlr ? on_dlr(sv, conn, r) : on_inbound(sv, conn, r);
    }
    if (!strncmp(url, "/twilio/status/", 15)) {
        static const header allow_post[] = {{"Allow", "POST"}};
        if (!post) return respond_h(conn, r, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", "", allow_post, 1);
        if (!secret_ok(url + 15, sv->cfg->serve.secret)) return respond(conn, r, MHD_HTTP_FORBIDDEN, "forbidden\n");
        return on_twilio(sv, conn, r);
    }
    if (!strncmp(url, "/unsubscribe/", 13)) {
        rest = url + 13;
        if (!get && !post) return respond_h(conn, r, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", "", allow_both, 1);
        return on_unsubscribe(sv, conn, r, rest, post);
    }
    return respond(conn, r, MHD_HTTP_NOT_FOUND, "not found\n");
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    request *r = xcalloc(1, sizeof *r);
    r->uri_len = uri ? strlen(uri) : 0;
    if (uri && r->uri_len <= MAX_URI) r->bad_query = serve_query_problem(uri);
    /* Only Twilio's callbacks need it (the signed URL includes the query). */
    if (uri && r->uri_len <= MAX_URI && !strncmp(uri, "/twilio/status/", 15)) r->raw_uri = xstrdup(uri);
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    serve_server *sv = cls;
    request *r = *con_cls;
    if (!r) { /* the URI callback always runs first; this is a safety net */
        r = xcalloc(1, sizeof *r);
        *con_cls = r;
    }
    if (!r->started) {
        r->started = 1;
        snprintf(r->method, sizeof r->method, "%s", method);
        log_path(sv, url, r->path, sizeof r->path);
        if (r->uri_len > MAX_URI || strlen(url) > MAX_URI)
            return respond(conn, r, MHD_HTTP_URI_TOO_LONG, "URI too long\n");
        if (strcmp(method, "GET") && strcmp(method, "HEAD") && strcmp(method, "POST"))
            return respond_h(conn, r, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", "",
                             (const header[]){{"Allow", "GET, HEAD, POST"}}, 1);
        if (r->bad_query) return respond(conn, r, MHD_HTTP_BAD_REQUEST, r->bad_query);
        /* Refuse a declared oversized body before reading any of it. */
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end = NULL;
            unsigned long long n = strtoull(cl, &end, 10);
            if (end == cl || *end || n > MAX_BODY)
                return respond(conn, r, n > MAX_BODY ? MHD_HTTP_CONTENT_TOO_LARGE : MHD_HTTP_BAD_REQUEST,
                               n > MAX_BODY ? "body too large\n" : "bad Content-Length\n");
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        /* A chunked body has no declared length: keep reading, but keep
         * nothing past the limit, and answer 413 at its end. */
        if (!r->too_big) {
            if (r->body.len + *upload_data_size > MAX_BODY) {
                r->too_big = 1;
                cc_buf_free(&r->body);
            } else {
                cc_buf_append(&r->body, upload_data, *upload_data_size);
            }
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->too_big) return respond(conn, r, MHD_HTTP_CONTENT_TOO_LARGE, "body too large\n");
    if (memchr(cc_buf_str(&r->body), '\0', r->body.len))
        return respond(conn, r, MHD_HTTP_BAD_REQUEST, "NUL in the body\n");
    return route(sv, conn, r, url, method);
}

static void on_done(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    request *r = *con_cls;
    if (!r) return;
    *con_cls = NULL;
    char ip[INET6_ADDRSTRLEN] = "-";
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, ip, sizeof ip);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, ip, sizeof ip);
    }
    if (r->started) {
        if (r->status)
            fprintf(stderr, "carecast serve: %s %s %s %u\n", ip, r->method, r->path, r->status);
        else
            fprintf(stderr, "carecast serve: %s %s %s - (connection ended: %d)\n", ip, r->method, r->path, (int)toe);
    }
    cc_buf_free(&r->body);
    free(r->raw_uri);
    free(r);
}

/* libmicrohttpd's own messages (bad requests it answered itself, socket
 * errors), with the secret removed should one ever quote a URL. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    serve_server *sv = cls;
    cc_buf b = CC_BUF_INIT;
    cc_buf_vprintf(&b, fmt, ap);
    while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r')) b.data[--b.len] = '\0';
    char *safe = redact(cc_buf_str(&b), sv->cfg->serve.secret);
    fprintf(stderr, "carecast serve: http: %s\n", safe);
    free(safe);
    cc_buf_free(&b);
}

/* ---- public ----------------------------------------------------------- */

char *serve_dlr_url(const char *public_url, const char *secret, int64_t id)
{
    cc_buf b = CC_BUF_INIT;
    size_t n = strlen(public_url);
    while (n && public_url[n - 1] == '/') n--;
    cc_buf_append(&b, public_url, n);
    cc_buf_puts(&b, "/kannel/dlr/");
    /* Escape what a URL path cannot hold as is. */
    for (const unsigned char *p = (const unsigned char *)secret; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~') cc_buf_putc(&b, (char)*p);
        else cc_buf_printf(&b, "%%%02X", *p);
    }
    cc_buf_printf(&b, "?id=%lld&status=%%d&answer=%%A", (long long)id);
    return cc_buf_take(&b);
}

/* PUBLIC_URL/twilio/status/SECRET?id=ID: the id makes the callback find its
 * message even before the sender has recorded Twilio's sid. */
char *serve_twilio_status_url(const char *public_url, const char *secret, int64_t id)
{
    cc_buf b = CC_BUF_INIT;
    size_t n = strlen(public_url);
    while (n && public_url[n - 1] == '/') n--;
    cc_buf_append(&b, public_url, n);
    cc_buf_puts(&b, "/twilio/status/");
    for (const unsigned char *p = (const unsigned char *)secret; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~') cc_buf_putc(&b, (char)*p);
        else cc_buf_printf(&b, "%%%02X", *p);
    }
    cc_buf_printf(&b, "?id=%lld", (long long)id);
    return cc_buf_take(&b);
}

cc_code serve_parse_listen(const char *listen, struct sockaddr_storage *addr, socklen_t *addrlen, int *loopback,
                           char *err, size_t errlen)
{
    memset(addr, 0, sizeof *addr);
    *loopback = 0;
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    if (!colon || colon == listen) {
        snprintf(err, errlen, "expected HOST:PORT (e.g. 127.0.0.1:8025), not '%s'", listen ? listen : "");
        return CC_ERR_USAGE;
    }
    const char *ps = colon + 1;
    long port = 0;
    for (const char *p = ps; *p; p++) {
        if (*p < '0' || *p > '9' || port > 65535) {
            port = -1;
            break;
        }
        port = port * 10 + (*p - '0');
    }
    if (!*ps || port < 1 || port > 65535) {
        snprintf(err, errlen, "'%s' is not a port (1-65535)", ps);
        return CC_ERR_USAGE;
    }
    char host[64];
    size_t hl = (size_t)(colon - listen);
    if (listen[0] == '[') {
        if (hl < 3 || listen[hl - 1] != ']' || hl - 2 >= sizeof host) {
            snprintf(err, errlen, "expected [IPv6]:PORT, not '%s'", listen);
            return CC_ERR_USAGE;
        }
        memcpy(host, listen + 1, hl - 2);
        host[hl - 2] = '\0';
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)(void *)addr;
        if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1) {
            snprintf(err, errlen, "'%s' is not an IPv6 address", host);
            return CC_ERR_USAGE;
        }
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *addrlen = sizeof *a6;
        const unsigned char *b = a6->sin6_addr.s6_addr;
        *loopback = IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr) ||
                    (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr) && b[12] == 127);
        return CC_OK;
    }
    if (hl >= sizeof host) {
        snprintf(err, errlen, "'%s' is not an IPv4 address", listen);
        return CC_ERR_USAGE;
    }
    memcpy(host, listen, hl);
    host[hl] = '\0';
    struct sockaddr_in *a4 = (struct sockaddr_in *)(void *)addr;
    /* Host names other than localhost are not resolved: what is listened
     * on must be exactly what the configuration says. */
    if (inet_pton(AF_INET, strcmp(host, "localhost") ? host : "127.0.0.1", &a4->sin_addr) != 1) {
        snprintf(err, errlen, "'%s' is not an IPv4 address (use an address, or [IPv6])", host);
        return CC_ERR_USAGE;
    }
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    *addrlen = sizeof *a4;
    *loopback = (ntohl(a4->sin_addr.s_addr) >> 24) == 127;
    return CC_OK;
}

cc_code serve_start(sqlite3 *db, const cc_config *cfg, const struct sockaddr_storage *addr, int verbosity,
                    serve_server **out, char *err, size_t errlen)
{
    *out = NULL;
    if (cfg->serve.secret && *cfg->serve.secret && strlen(cfg->serve.secret) < MIN_SECRET) {
        snprintf(err, errlen, "serve.secret is too short: use at least %d random characters", MIN_SECRET);
        return CC_ERR_CONFIG;
    }
    if (netlib_load_mhd(err, errlen) != 0) return CC_ERR_CONFIG;
    serve_server *sv = xcalloc(1, sizeof *sv);
    sv->db = db;
    sv->cfg = cfg;
    sv->verbosity = verbosity;
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (addr->ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    /* One internal thread serves every connection in turn: requests are
     * short, and the database connection is never shared between threads
     * at once. */
    sv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, sv,
        /* first, so that every message of the library goes through it */
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, sv,
        MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)addr,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, sv,
        MHD_OPTION_NOTIFY_COMPLETED, on_done, sv,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)128,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)64,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)15,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
        MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
        MHD_OPTION_END);
    if (!sv->daemon) {
        snprintf(err, errlen, "cannot listen (address in use, or not an address of this machine?)");
        free(sv);
        return CC_ERR_IO;
    }
    *out = sv;
    return CC_OK;
}

void serve_stop(serve_server *s)
{
    if (!s) return;
    MHD_stop_daemon(s->daemon);
    free(s);
}
