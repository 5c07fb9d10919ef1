/* mime.c - owns the exact bytes of every outgoing email: the RFC 5322
 * header block (Date, Message-ID, addresses, RFC 2047 encoded words,
 * folding, CR/LF scrubbing, RFC 8058 one-click unsubscribe) and the MIME
 * body (UTF-8 quoted-printable, multipart/alternative when an HTML body
 * exists).  The SMTP and file transports both send what mime_build()
 * produces, so the .eml file of the file transport is byte-for-byte what
 * SMTP would have sent (apart from Date and the random Message-ID part).
 *
 * Every line ends in CRLF.  Header lines are folded to at most 78
 * characters wherever the data allows it and never exceed 998. */
#include "mime.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_SOFT 78     /* RFC 5322 SHOULD */
#define LINE_HARD 998    /* RFC 5322 MUST */
#define EW_MAX 75        /* RFC 2047 encoded-word limit */
#define EW_OVERHEAD 12   /* strlen("=?UTF-8?B?") + strlen("?=") */
#define QP_LINE 76       /* RFC 2045 quoted-printable line limit */

/* ---- small helpers ------------------------------------------------------ */

/* Length of the valid UTF-8 character at s, or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    uint32_t cp;
    return cc_utf8_decode(s, n, &cp);
}

/* A header value made safe: control characters (CR and LF above all)
 * become spaces, invalid UTF-8 bytes become U+FFFD.  Caller frees. */
static char *clean_value(const char *in)
{
    cc_buf b = CC_BUF_INIT;
    const unsigned char *s = (const unsigned char *)(in ? in : "");
    size_t n = strlen((const char *)s);
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x20 || s[i] == 0x7F) {
            cc_buf_putc(&b, ' ');
            i++;
            continue;
        }
        size_t l = utf8_seq(s + i, n - i);
        if (l == 0) {
            cc_buf_puts(&b, "\xEF\xBF\xBD");
            i++;
        } else {
            cc_buf_append(&b, (const char *)s + i, l);
            i += l;
        }
    }
    return cc_buf_take(&b);
}

/* An address (mailbox, URL, Message-ID part) made safe: whitespace,
 * control characters and angle brackets are dropped, so the value can
 * neither start a new header nor escape its <...>.  At most `max` bytes. */
static char *clean_token(const char *in, size_t max)
{
    cc_buf b = CC_BUF_INIT;
    for (const unsigned char *s = (const unsigned char *)(in ? in : ""); *s && b.len < max; s++) {
        if (*s <= 0x20 || *s == 0x7F || *s == '<' || *s == '>') continue;
        cc_buf_putc(&b, (char)*s);
    }
    return cc_buf_take(&b);
}

/* Column of the end of `out`: bytes since the last LF. */
static size_t cur_col(const cc_buf *out)
{
    size_t i = out->len;
    while (i > 0 && out->data[i - 1] != '\n') i--;
    return out->len - i;
}

/* Printable ASCII (inner spaces allowed) that cannot be mistaken for an
 * encoded word. */
static int plain_ascii(const char *s)
{
    size_t n = strlen(s);
    /* leading or trailing blanks would be lost as folding white space */
    if (n && (s[0] == ' ' || s[n - 1] == ' ')) return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p > 0x7E) return 0;
    return strstr(s, "=?") == NULL;
}

static void random_bytes(unsigned char *buf, size_t n)
{
    if (RAND_bytes(buf, (int)n) == 1) return;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t got = read(fd, buf, n);
        close(fd);
        if (got == (ssize_t)n) return;
    }
    /* Last resort: unique enough within one process run. */
    static unsigned long counter;
    unsigned long x = (unsigned long)time(NULL) ^ ((unsigned long)getpid() << 16) ^ ++counter;
    for (size_t i = 0; i < n; i++) {
        x = x * 6364136223846793005UL + 1442695040888963407UL;
        buf[i] = (unsigned char)(x >> 56);
    }
}

static void random_hex(size_t nbytes, char *out /* 2*nbytes+1 */)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char buf[32];
    if (nbytes > sizeof buf) nbytes = sizeof buf;
    random_bytes(buf, nbytes);
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hex[buf[i] >> 4];
        out[2 * i + 1] = hex[buf[i] & 15];
    }
    out[2 * nbytes] = '\0';
}

static void base64_append(cc_buf *out, const unsigned char *s, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i = 0;
    char q[4];
    while (i + 3 <= n) {
        unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
        q[0] = tab[v >> 18]; q[1] = tab[(v >> 12) & 63]; q[2] = tab[(v >> 6) & 63]; q[3] = tab[v & 63];
        cc_buf_append(out, q, 4);
        i += 3;
    }
    if (n - i == 1) {
        unsigned v = (unsigned)s[i] << 16;
        q[0] = tab[v >> 18]; q[1] = tab[(v >> 12) & 63]; q[2] = '='; q[3] = '=';
        cc_buf_append(out, q, 4);
    } else if (n - i == 2) {
        unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8;
        q[0] = tab[v >> 18]; q[1] = tab[(v >> 12) & 63]; q[2] = tab[(v >> 6) & 63]; q[3] = '=';
        cc_buf_append(out, q, 4);
    }
}

/* ---- header encoding ---------------------------------------------------- */

/* Clean UTF-8 `v` as a sequence of B-words.  The first word starts at the
 * current column of `out`; each following word goes on a continuation
 * line.  Words hold whole UTF-8 characters only, are at most 75 characters
 * and keep every line within 78. */
static void encode_words(const char *v, cc_buf *out)
{
    const unsigned char *s = (const unsigned char *)v;
    size_t n = strlen(v), i = 0;
    size_t col = cur_col(out);
    /* A word needs room for at least one 4-byte character (8 base64). */
    if (col + EW_OVERHEAD + 8 > LINE_SOFT) {
        cc_buf_puts(out, "\r\n ");
        col = 1;
    }
    int first = 1;
    while (i < n || first) {
        if (!first) {
            cc_buf_puts(out, "\r\n ");
            col = 1;
        }
        size_t room = LINE_SOFT - col;
        if (room > EW_MAX) room = EW_MAX;
        size_t max_raw = (room - EW_OVERHEAD) / 4 * 3;
        size_t take = 0;
        while (i + take < n) {
            size_t l = utf8_seq(s + i + take, n - i - take);
            if (l == 0) l = 1;   /* cannot happen on cleaned input */
            if (take + l > max_raw) break;
            take += l;
        }
        cc_buf_puts(out, "=?UTF-8?B?");
        base64_append(out, s + i, take);
        cc_buf_puts(out, "?=");
        col = cur_col(out);
        i += take;
        first = 0;
    }
}

/* Plain printable-ASCII `v`, folded before a space whenever the line would
 * pass 78 columns.  Returns 0 (and writes nothing) when some word is so
 * long that a line would pass 998; the caller then uses encoded words. */
static int fold_ascii(const char *v, cc_buf *out)
{
    size_t col = cur_col(out);
    /* check first: the longest unbreakable run must fit a line */
    size_t run = 0, first_run = 1;
    for (const char *p = v; *p; p++) {
        if (*p == ' ') { run = 0; first_run = 0; continue; }
        run++;
        if ((first_run ? col : 1) + run > LINE_HARD - 2) return 0;
    }
    const char *p = v;
    int at_start = 1;
    while (*p) {
        /* token: spaces then non-spaces */
        const char *q = p;
        while (*q == ' ') q++;
        while (*q && *q != ' ') q++;
        size_t len = (size_t)(q - p);
        int has_word = q > p && q[-1] != ' ';
        if (!at_start && *p == ' ' && has_word && col + len > LINE_SOFT) {
            cc_buf_puts(out, "\r\n");
            col = 0;
        }
        cc_buf_append(out, p, len);
        col += len;
        p = q;
        at_start = 0;
    }
    return 1;
}

void mime_encode_word(const char *value, size_t used, cc_buf *out)
{
    char *v = clean_value(value);
    /* Callers pass the header name's width in `used`; the real column of
     * the buffer is what matters for folding, so take the larger. */
    size_t col = cur_col(out);
    if (used > col) {
        /* The caller has not written the header name into `out` (e.g. it
         * builds the value separately): pretend those columns exist. */
        cc_buf tmp = CC_BUF_INIT;
        for (size_t k = 0; k < used; k++) cc_buf_putc(&tmp, 'x');
        size_t start = tmp.len;
        if (!plain_ascii(v) || !fold_ascii(v, &tmp)) encode_words(v, &tmp);
        cc_buf_append(out, tmp.data + start, tmp.len - start);
        cc_buf_free(&tmp);
    } else if (!plain_ascii(v) || !fold_ascii(v, out)) {
        encode_words(v, out);
    }
    free(v);
}

/* Is every byte of ASCII `s` an RFC 5322 atext character or a space, so the
 * display name can go out as a plain phrase? */
static int phrase_atoms(const char *s)
{
    if (!*s || *s == ' ') return 0;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == ' ') continue;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) continue;
        if (strchr("!#$%&'*+-/=?^_`{|}~", c)) continue;
        return 0;
    }
    return 1;
}

/* "Name <addr>" (or just "addr" without a name) after the current column. */
static void put_mailbox(cc_buf *out, const char *name, const char *addr_in)
{
    char *addr = clean_token(addr_in, 900);
    char *n = clean_value(name);
    /* trim surrounding spaces from the name */
    size_t a = 0, z = strlen(n);
    while (a < z && n[a] == ' ') a++;
    while (z > a && n[z - 1] == ' ') z--;
    n[z] = '\0';
    const char *nm = n + a;
    if (!*nm) {
        cc_buf_puts(out, addr);
    } else {
        size_t col = cur_col(out);
        if (plain_ascii(nm) && phrase_atoms(nm) && col + strlen(nm) <= LINE_SOFT) {
            cc_buf_puts(out, nm);
        } else {
            /* specials: a quoted string when it fits one line, else B-words */
            cc_buf q = CC_BUF_INIT;
            cc_buf_putc(&q, '"');
            for (const char *p = nm; *p; p++) {
                if (*p == '"' || *p == '\\') cc_buf_putc(&q, '\\');
                cc_buf_putc(&q, *p);
            }
            cc_buf_putc(&q, '"');
            if (plain_ascii(nm) && col + q.len <= LINE_SOFT) cc_buf_append(out, q.data, q.len);
            else encode_words(nm, out);
            cc_buf_free(&q);
        }
        if (cur_col(out) + 3 + strlen(addr) > LINE_SOFT) cc_buf_puts(out, "\r\n <");
        else cc_buf_puts(out, " <");
        cc_buf_puts(out, addr);
        cc_buf_putc(out, '>');
    }
    free(n);
    free(addr);
}

/* ---- body encoding ------------------------------------------------------ */

/* Quoted-printable (RFC 2045) of UTF-8 text.  \n, \r\n and a lone \r are
 * hard line breaks (CRLF); lines are at most 76 characters with "="
 * soft breaks, which fall between =XX groups, never inside one.  Trailing
 * whitespace and a leading "." are encoded.  Ends with CRLF. */
static void qp_encode(const char *text, cc_buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *s = (const unsigned char *)(text ? text : "");
    size_t col = 0;
    while (*s) {
        unsigned char c = *s;
        if (c == '\r' || c == '\n') {
            cc_buf_puts(out, "\r\n");
            col = 0;
            s += (c == '\r' && s[1] == '\n') ? 2 : 1;
            continue;
        }
        int eol = s[1] == '\0' || s[1] == '\r' || s[1] == '\n';
        int literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !eol);
        size_t len = literal ? 1 : 3;
        /* keep room for the "=" of a soft break unless this is the last
         * character of the line */
        size_t limit = eol ? QP_LINE : QP_LINE - 1;
        if (col + len > limit) {
            cc_buf_puts(out, "=\r\n");
            col = 0;
        }
        if (literal && c == '.' && col == 0) literal = 0, len = 3;
        if (literal) {
            cc_buf_putc(out, (char)c);
        } else {
            char e[3] = {'=', hex[c >> 4], hex[c & 15]};
            cc_buf_append(out, e, 3);
        }
        col += len;
        s++;
    }
    if (col > 0) cc_buf_puts(out, "\r\n");
}

/* ---- the message -------------------------------------------------------- */

static void put_date(cc_buf *out, int64_t date)
{
    static const char *wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)date;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        t = 0;
        gmtime_r(&t, &tm);
    }
    cc_buf_printf(out, "Date: %s, %d %s %04d %02d:%02d:%02d +0000\r\n",
                  wd[tm.tm_wday % 7], tm.tm_mday, mon[tm.tm_mon % 12], tm.tm_year + 1900,
                  tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The domain of the sender address, reduced to characters valid in a
 * Message-ID right-hand side. */
static char *msgid_domain(const char *email)
{
    const char *at = email ? strrchr(email, '@') : NULL;
    cc_buf b = CC_BUF_INIT;
    if (at) {
        for (const char *p = at + 1; *p && b.len < 200; p++) {
            char c = *p;
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '-')
                cc_buf_putc(&b, c);
        }
    }
    if (b.len == 0) cc_buf_puts(&b, "carecast.invalid");
    return cc_buf_take(&b);
}

/* Header "Name: value" with an unstructured value (encoded when needed). */
static void put_text_header(cc_buf *out, const char *name, const char *value)
{
    cc_buf_puts(out, name);
    cc_buf_puts(out, ": ");
    mime_encode_word(value, 0, out);
    cc_buf_puts(out, "\r\n");
}

/* List-Unsubscribe URL: bytes that cannot appear in a header URL
 * (controls, space, <, >, non-ASCII) are percent-encoded. */
static char *clean_url(const char *url)
{
    static const char hex[] = "0123456789ABCDEF";
    cc_buf b = CC_BUF_INIT;
    for (const unsigned char *p = (const unsigned char *)url; *p; p++) {
        if (*p <= 0x20 || *p >= 0x7F || *p == '<' || *p == '>' || *p == '"') {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            cc_buf_append(&b, e, 3);
        } else {
            cc_buf_putc(&b, (char)*p);
        }
    }
    return cc_buf_take(&b);
}

static void put_part_headers(cc_buf *out, const char *type)
{
    cc_buf_printf(out, "Content-Type: %s; charset=UTF-8\r\n", type);
    cc_buf_puts(out, "Content-Transfer-Encoding: quoted-printable\r\n");
}

cc_code mime_build(const cc_config *cfg, const cc_message *m, int64_t date, cc_buf *out)
{
    if (!cfg || !cfg->sender.email || !*cfg->sender.email) return CC_ERR_INPUT;

    put_date(out, date);

    char hex[17];
    random_hex(8, hex);
    char *domain = msgid_domain(cfg->sender.email);
    cc_buf_printf(out, "Message-ID: <%lld.%s@%s>\r\n", (long long)m->id, hex, domain);
    free(domain);

    cc_buf_puts(out, "From: ");
    put_mailbox(out, cfg->sender.name, cfg->sender.email);
    cc_buf_puts(out, "\r\n");

    cc_buf_puts(out, "To: ");
    put_mailbox(out, m->to_name, m->to);
    cc_buf_puts(out, "\r\n");

    if (cfg->sender.reply_to && *cfg->sender.reply_to) {
        char *rt = clean_token(cfg->sender.reply_to, 900);
        if (*rt) cc_buf_printf(out, "Reply-To: %s\r\n", rt);
        free(rt);
    }

    put_text_header(out, "Subject", m->subject ? m->subject : "");
    cc_buf_puts(out, "MIME-Version: 1.0\r\n");

    if (m->unsubscribe_url && *m->unsubscribe_url) {
        char *url = clean_url(m->unsubscribe_url);
        /* "List-Unsubscribe: <URL>" must stay within 998 characters; a URL
         * that long is a configuration mistake and is left out rather than
         * cut (a cut URL would unsubscribe nobody). */
        if (strlen(url) + 20 <= LINE_HARD) {
            /* one line even past 78 columns: folding inside <...> or
             * right after the colon confuses some parsers */
            cc_buf_printf(out, "List-Unsubscribe: <%s>\r\n", url);
            cc_buf_puts(out, "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
        }
        free(url);
    }
    if (m->campaign && *m->campaign) put_text_header(out, "X-Carecast-Campaign", m->campaign);
    if (m->step && *m->step) put_text_header(out, "X-Carecast-Step", m->step);

    if (m->body_html && *m->body_html) {
        char b[17], boundary[32];
        random_hex(8, b);
        /* "=_" can never occur in quoted-printable text, so the boundary
         * cannot collide with the content. */
        snprintf(boundary, sizeof boundary, "=_cc_%s", b);
        cc_buf_printf(out, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n", boundary);
        cc_buf_puts(out, "\r\n");
        cc_buf_printf(out, "--%s\r\n", boundary);
        put_part_headers(out, "text/plain");
        cc_buf_puts(out, "\r\n");
        qp_encode(m->body_text, out);
        cc_buf_printf(out, "--%s\r\n", boundary);
        put_part_headers(out, "text/html");
        cc_buf_puts(out, "\r\n");
        qp_encode(m->body_html, out);
        cc_buf_printf(out, "--%s--\r\n", boundary);
    } else {
        put_part_headers(out, "text/plain");
        cc_buf_puts(out, "\r\n");
        qp_encode(m->body_text, out);
    }
    return CC_OK;
}
