/* transport.c - picks a transport implementation by its configured type. */
#include "transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

cc_code transport_open(const cc_config *cfg, const char *channel, cc_transport **out, char *err, size_t errlen)
{
    *out = NULL;
    const cc_transport_config *tc = !strcmp(channel, "email") ? &cfg->email : &cfg->sms_transport;
    static const struct { const char *channel, *type; const cc_transport_ops *ops; } table[] = {
        {"email", "file", &transport_file_ops},
        {"sms", "file", &transport_file_ops},
        {"email", "smtp", &transport_smtp_ops},
        {"sms", "kannel", &transport_kannel_ops},
        {"sms", "twilio", &transport_twilio_ops},
        {"sms", "http-json", &transport_http_json_ops},
    };
    const cc_transport_ops *ops = NULL;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (!strcmp(table[i].channel, channel) && cc_streq(table[i].type, tc->type)) ops = table[i].ops;
    if (!ops) {
        snprintf(err, errlen, "the %s transport type '%s' is not implemented in this version", channel,
                 tc->type ? tc->type : "?");
        return CC_ERR_CONFIG;
    }
    cc_transport *t = xcalloc(1, sizeof *t);
    t->ops = ops;
    t->config = cfg;
    t->tc = tc;
    t->channel = !strcmp(channel, "email") ? "email" : "sms";
    t->journal_fd = -1;
    cc_code rc = ops->open ? ops->open(t) : CC_OK;
    if (rc != CC_OK) {
        snprintf(err, errlen, "cannot open the %s transport (%s): %s", channel, ops->name, cc_strerror(rc));
        free(t);
        return rc;
    }
    *out = t;
    return CC_OK;
}

void transport_result(cc_transport *t, cc_message *m)
{
    if (t->on_result) t->on_result(t->on_result_arg, m);
}

void transport_close(cc_transport *t)
{
    if (!t) return;
    if (t->ops->close) t->ops->close(t);
    free(t);
}

void transport_note_delivered(const cc_transport *t, int64_t id)
{
    if (t) transport_journal_note(t->journal_fd, &id, 1);
}

void transport_journal_note(int fd, const int64_t *ids, size_t n)
{
    if (fd < 0) return;
    /* O_APPEND and one write per (at most) 64 lines: lines from parallel
     * sessions never mix, and a transport noting several acceptances at
     * once pays one system call.  A failed write only means a possible
     * resend, as without a journal. */
    char buf[64 * 21];
    while (n > 0) {
        size_t len = 0, k = 0;
        for (; k < n && k < 64; k++) len += (size_t)snprintf(buf + len, sizeof buf - len, "%lld\n", (long long)ids[k]);
        if (write(fd, buf, len) != (ssize_t)len) {}
        ids += k;
        n -= k;
    }
}
