/* tasks.c - one digest email per assignee per run (tasks.h).
 *
 * The digest is built at send time, not at plan time, because what it
 * lists (every task of that assignee due now) is only known then.  It
 * borrows the smallest outbox id of its tasks as its own message id: ids
 * name the .eml file and the Message-ID, and task rows never make a file
 * of their own, so the id is unique. */
#include "tasks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outbox.h"
#include "transport.h"

/* Claim at most this many task rows in one run: far more than staff read. */
#define MAX_TASKS 100000

typedef struct {
    cc_message *m;
    int64_t task_id;
    char *customer;
} task_ref;

static int ref_cmp(const void *a, const void *b)
{
    const task_ref *x = a, *y = b;
    int c = strcmp(x->m->to ? x->m->to : "", y->m->to ? y->m->to : "");
    if (c) return c;
    return x->m->id < y->m->id ? -1 : x->m->id > y->m->id;
}

/* Indent every line of `text` by `pad` (a task body inside the list). */
static void put_indented(cc_buf *b, const char *text, const char *pad)
{
    int at_start = 1;
    for (const char *p = text; *p; p++) {
        if (at_start && *p != '\n') cc_buf_puts(b, pad);
        cc_buf_putc(b, *p);
        at_start = *p == '\n';
    }
    if (!at_start) cc_buf_putc(b, '\n');
}

static int any_due(sqlite3 *db, int64_t now)
{
    sqlite3_stmt *st = NULL;
    int due = 0;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM care_outbox WHERE channel = 'task' AND "
                               "((status IN ('planned', 'retry') AND send_after <= ?1) OR status = 'sending') LIMIT 1",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, now);
        due = sqlite3_step(st) == SQLITE_ROW;
    }
    sqlite3_finalize(st);
    return due;
}

cc_code tasks_send_digests(sqlite3 *db, const cc_config *cfg, int64_t now, int64_t lease_s, int verbose,
                           size_t *sent, size_t *retry, size_t *failed)
{
    /* Open no transport (and touch no row) when there is nothing to do:
     * most runs have no tasks. */
    if (!any_due(db, now)) return CC_OK;
    cc_transport *t = NULL;
    char err[512];
    cc_code rc = transport_open(cfg, "email", &t, err, sizeof err);
    if (rc != CC_OK) {
        fprintf(stderr, "carecast: %s (needed for the care task digests)\n", err);
        return rc;
    }
    outbox_batch b;
    rc = outbox_claim(db, cfg, "task", now, lease_s, MAX_TASKS, &b);
    if (rc != CC_OK || b.n == 0) {
        outbox_batch_free(&b);
        transport_close(t);
        return rc;
    }
    task_ref *refs = xcalloc(b.n, sizeof *refs);
    sqlite3_stmt *find = NULL;
    sqlite3_prepare_v2(db, "SELECT id, customer_id FROM care_tasks WHERE outbox_id = ?", -1, &find, NULL);
    for (size_t i = 0; i < b.n; i++) {
        refs[i].m = &b.msgs[i];
        if (!find) continue;
        sqlite3_reset(find);
        sqlite3_bind_int64(find, 1, b.msgs[i].id);
        if (sqlite3_step(find) == SQLITE_ROW) {
            refs[i].task_id = sqlite3_column_int64(find, 0);
            const char *cust = (const char *)sqlite3_column_text(find, 1);
            refs[i].customer = cust ? xstrdup(cust) : NULL;
        }
    }
    sqlite3_finalize(find);
    qsort(refs, b.n, sizeof *refs, ref_cmp);

    /* One digest per assignee: refs[first[k] .. first[k+1]) are theirs. */
    cc_message *digests = xcalloc(b.n, sizeof *digests);
    size_t *first = xcalloc(b.n + 1, sizeof *first);
    char **owned = xcalloc(b.n * 2, sizeof *owned);
    size_t nd = 0, no = 0;
    for (size_t i = 0; i < b.n;) {
        size_t j = i;
        while (j < b.n && !strcmp(refs[j].m->to ? refs[j].m->to : "", refs[i].m->to ? refs[i].m->to : "")) j++;
        size_t n = j - i;
        cc_buf body = CC_BUF_INIT;
        cc_buf_printf(&body, "Hello,\n\ncarecast has %zu new care task%s for you:\n", n, n == 1 ? "" : "s");
        for (size_t k = i; k < j; k++) {
            const cc_message *m = refs[k].m;
            cc_buf_printf(&body, "\n#%lld  %s\n", (long long)refs[k].task_id, m->subject ? m->subject : "(no title)");
            cc_buf_printf(&body, "     customer %s; campaign %s, step %s\n", refs[k].customer ? refs[k].customer : "-",
                          m->campaign, m->step);
            if (m->body_text && *m->body_text) put_indented(&body, m->body_text, "     ");
        }
        cc_buf_puts(&body, "\nWhen a task is done: carecast tasks --done ID [--note TEXT]\n"
                           "Your open tasks: carecast tasks --assignee ");
        cc_buf_printf(&body, "%s\n", refs[i].m->to ? refs[i].m->to : "");
        cc_message *d = &digests[nd];
        first[nd++] = i;
        d->id = refs[i].m->id;   /* the smallest: refs are sorted by id within an assignee */
        d->campaign = "care-tasks";
        d->step = "digest";
        d->kind = "service";
        d->channel = "email";
        d->to = refs[i].m->to;
        d->locale = refs[i].m->locale;
        d->subject = owned[no++] = xasprintf("%zu new care task%s", n, n == 1 ? "" : "s");
        d->body_text = owned[no++] = cc_buf_take(&body);
        d->created_at = now;
        d->result = CC_ERR_TRANSIENT;
        i = j;
    }
    first[nd] = b.n;
    t->ops->send(t, digests, nd);
    /* Each task row takes its digest's result. */
    for (size_t k = 0; k < nd; k++) {
        for (size_t i = first[k]; i < first[k + 1]; i++) {
            cc_message *m = refs[i].m;
            m->result = digests[k].result;
            m->retry_after = digests[k].retry_after;
            message_set_reply(m, digests[k].reply);
        }
        if (verbose > 1)
            fprintf(stderr, "carecast: task digest #%lld to %s (%zu task%s): %s (%s)\n", (long long)digests[k].id,
                    digests[k].to ? digests[k].to : "?", first[k + 1] - first[k], first[k + 1] - first[k] == 1 ? "" : "s",
                    digests[k].result == CC_OK ? "sent" : cc_strerror(digests[k].result), digests[k].reply);
    }
    rc = outbox_finish(db, &b, now, t->tc, sent, retry, failed);
    if (rc == CC_OK) {
        sqlite3_stmt *mark = NULL;
        if (sqlite3_prepare_v2(db, "UPDATE care_tasks SET digest_sent_at = ?2 WHERE outbox_id = ?1", -1, &mark, NULL) ==
            SQLITE_OK) {
            for (size_t i = 0; i < b.n; i++) {
                if (b.msgs[i].result != CC_OK) continue;
                sqlite3_reset(mark);
                sqlite3_bind_int64(mark, 1, b.msgs[i].id);
                sqlite3_bind_int64(mark, 2, now);
                if (sqlite3_step(mark) != SQLITE_DONE) rc = CC_ERR_DB;
            }
        } else {
            rc = CC_ERR_DB;
        }
        sqlite3_finalize(mark);
    }
    for (size_t i = 0; i < no; i++) free(owned[i]);
    for (size_t i = 0; i < b.n; i++) free(refs[i].customer);
    free(owned);
    free(first);
    free(digests);
    free(refs);
    outbox_batch_free(&b);
    transport_close(t);
    return rc;
}
