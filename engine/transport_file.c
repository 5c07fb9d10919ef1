/* transport_file.c - the embedded default transport: each message becomes
 * a file under outbox_dir (config.md):
 *
 *   OUTBOX/email/ID.eml    the exact RFC 5322 message SMTP would carry
 *   OUTBOX/sms/ID.json     {"to", "from", "text", "encoding", "segments", ...}
 *
 * A message is sent when its file is completely written: temporary name,
 * fsync, rename.  Writing the same ID again replaces the file, so a resend
 * after a crash never makes a second message. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mime.h"
#include "sms.h"
#include "transport.h"

typedef struct {
    char *dir;
} file_state;

static cc_code file_open(cc_transport *t)
{
    file_state *fs = xcalloc(1, sizeof *fs);
    fs->dir = xasprintf("%s/%s", t->config->outbox_dir, t->channel);
    if (cc_mkdirs(fs->dir, 0750) != CC_OK) {
        fprintf(stderr, "carecast: cannot create '%s': %s\n", fs->dir, strerror(errno));
        free(fs->dir);
        free(fs);
        return CC_ERR_IO;
    }
    t->state = fs;
    return CC_OK;
}

static void sms_json(const cc_transport *t, const cc_message *m, cc_buf *out)
{
    sms_info info = {SMS_GSM7, 0, 0};
    sms_analyse(m->text ? m->text : "", &info);
    cc_buf_puts(out, "{\"to\": ");
    cc_json_str(out, m->to);
    cc_buf_puts(out, ", \"from\": ");
    cc_json_str(out, t->tc->from);
    cc_buf_puts(out, ", \"text\": ");
    cc_json_str(out, m->text);
    cc_buf_printf(out, ", \"encoding\": \"%s\", \"segments\": %d", sms_encoding_name(info.encoding), info.segments);
    cc_buf_puts(out, ", \"campaign\": ");
    cc_json_str(out, m->campaign);
    cc_buf_puts(out, ", \"step\": ");
    cc_json_str(out, m->step);
    cc_buf_puts(out, ", \"customer\": ");
    cc_json_str(out, m->customer);
    cc_buf_puts(out, "}\n");
}

static cc_code file_send(cc_transport *t, cc_message *msgs, size_t n)
{
    file_state *fs = t->state;
    int email = !strcmp(t->channel, "email");
    for (size_t i = 0; i < n; i++) {
        cc_message *m = &msgs[i];
        cc_buf body = CC_BUF_INIT;
        cc_code rc = CC_OK;
        if (email) rc = mime_build(t->config, m, (int64_t)time(NULL), &body);
        else sms_json(t, m, &body);
        if (rc != CC_OK) {
            m->result = CC_ERR_PERMANENT;
            snprintf(m->reply, sizeof m->reply, "cannot build the message: %s", cc_strerror(rc));
            cc_buf_free(&body);
            continue;
        }
        char *path = xasprintf("%s/%lld.%s", fs->dir, (long long)m->id, email ? "eml" : "json");
        rc = cc_write_file_atomic(path, cc_buf_str(&body), body.len, 0640);
        if (rc == CC_OK) {
            m->result = CC_OK;
            snprintf(m->reply, sizeof m->reply, "written %s", path);
        } else {
            /* Disk full or a permission problem is temporary: retry later. */
            m->result = CC_ERR_TRANSIENT;
            snprintf(m->reply, sizeof m->reply, "cannot write %s: %s", path, strerror(errno));
        }
        free(path);
        cc_buf_free(&body);
    }
    return CC_OK;
}

static void file_close(cc_transport *t)
{
    file_state *fs = t->state;
    if (!fs) return;
    free(fs->dir);
    free(fs);
}

const cc_transport_ops transport_file_ops = {.name = "file", .open = file_open, .send = file_send, .close = file_close};
