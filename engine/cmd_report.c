/* cmd_report.c - `carecast report`: the figures of report.c laid out as
 * text (tables for a marketing lead), JSON, CSV or one self-contained HTML
 * page with inline SVG charts.
 *
 * The whole output is built in memory first, so --output FILE is written
 * atomically (temporary file, rename) and a failure writes nothing.  Only
 * data from the database and the rules folder's titles are printed; the
 * configuration (and so every secret in it) never is. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "campaign.h"
#include "commands.h"
#include "report.h"

/* ---- shared ------------------------------------------------------------- */

static const char *channel_name(const char *ch) { return ch ? ch : "none"; }

static void fmt_duration(int64_t s, char out[32])
{
    if (s % 86400 == 0 && s >= 2 * 86400) snprintf(out, 32, "%lld day%s", (long long)(s / 86400), s == 86400 ? "" : "s");
    else if (s % 3600 == 0 && s >= 3600) snprintf(out, 32, "%lld hour%s", (long long)(s / 3600), s == 3600 ? "" : "s");
    else if (s % 60 == 0 && s >= 60) snprintf(out, 32, "%lld minute%s", (long long)(s / 60), s == 60 ? "" : "s");
    else snprintf(out, 32, "%lld seconds", (long long)s);
}

static void fmt_rate(double rate, char out[16])
{
    if (rate < 0) snprintf(out, 16, "-");
    else snprintf(out, 16, "%.1f%%", rate * 100.0);
}

static long long sla_total(const report *r, int which, double *rate)
{
    long long met = 0, breached = 0, pending = 0;
    for (size_t i = 0; i < r->n_campaigns; i++) {
        met += r->campaigns[i].sla_met;
        breached += r->campaigns[i].sla_breached;
        pending += r->campaigns[i].sla_pending;
    }
    if (rate) *rate = met + breached ? (double)met / (double)(met + breached) : -1;
    return which == 0 ? met : which == 1 ? breached : pending;
}

static int has_sla(const report *r)
{
    for (size_t i = 0; i < r->n_campaigns; i++)
        if (r->campaigns[i].sla_s > 0) return 1;
    return 0;
}

static const char *segment_label_name(const char *label) { return label ? label : "(none)"; }

static double per_customer(long long contacts, long long customers)
{
    return customers ? (double)contacts / (double)customers : 0.0;
}

/* ---- text --------------------------------------------------------------- *
 * The first column is as wide as its longest label, so titles of any
 * length keep the figures aligned; CJK characters count as two columns. */

static size_t text_width(const char *s)
{
    size_t w = 0, n = strlen(s);
    const unsigned char *p = (const unsigned char *)s;
    while (n) {
        uint32_t cp;
        size_t l = cc_utf8_decode(p, n, &cp);
        if (!l) l = 1, cp = '?';
        w += (cp >= 0x1100 && (cp <= 0x115f || (cp >= 0x2e80 && cp <= 0xa4cf) || (cp >= 0xac00 && cp <= 0xd7a3) ||
                               (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe30 && cp <= 0xfe4f) ||
                               (cp >= 0xff00 && cp <= 0xff60) || (cp >= 0xffe0 && cp <= 0xffe6) || cp >= 0x20000))
                 ? 2 : 1;
        p += l;
        n -= l;
    }
    return w;
}

static void text_label(cc_buf *b, const char *label, size_t width)
{
    cc_buf_printf(b, "  %s", label);
    for (size_t w = text_width(label); w < width; w++) cc_buf_putc(b, ' ');
}

static void text_counts(cc_buf *b, const char *label, size_t width, const report_counts *c)
{
    text_label(b, label, width);
    for (int i = 0; i < RC_N; i++) cc_buf_printf(b, " %*lld", i == RC_UNDELIVERED ? 11 : 9, c->v[i]);
    cc_buf_putc(b, '\n');
}

static void text_reasons(cc_buf *b, const char *indent, const report_reason *l, size_t n)
{
    if (!n) return;
    cc_buf_printf(b, "%sskipped:", indent);
    for (size_t i = 0; i < n; i++) cc_buf_printf(b, "%s %s %lld", i ? "," : "", l[i].reason, l[i].n);
    cc_buf_putc(b, '\n');
}

static void text_header(cc_buf *b, const char *first, size_t width)
{
    text_label(b, first, width);
    for (int i = 0; i < RC_N; i++) cc_buf_printf(b, " %*s", i == RC_UNDELIVERED ? 11 : 9, report_count_names[i]);
    cc_buf_putc(b, '\n');
}

static char *campaign_text_label(const report_campaign *c)
{
    return c->title && strcmp(c->title, c->id) ? xasprintf("%s (%s)", c->id, c->title) : xstrdup(c->id);
}

/* The breaches themselves, so someone can call those customers back;
 * a long list is cut (the JSON has every one). */
enum { TEXT_BREACHES = 20 };

static void text_breaches(const report *r, cc_buf *b)
{
    for (size_t i = 0; i < r->n_campaigns; i++) {
        const report_campaign *c = &r->campaigns[i];
        if (c->sla_s <= 0 || !c->n_sla_breaches) continue;
        cc_buf_printf(b, "  breached, %s:\n", c->id);
        for (size_t k = 0; k < c->n_sla_breaches && k < TEXT_BREACHES; k++) {
            const report_breach *x = &c->sla_breaches[k];
            char due[32];
            clock_format_instant(r->zone, x->deadline, due);
            cc_buf_printf(b, "    row %s, customer %s, occurrence %s, due %s: %s\n", x->row,
                          x->customer ? x->customer : "-", x->occurrence, due, x->reason);
        }
        if (c->n_sla_breaches > TEXT_BREACHES)
            cc_buf_printf(b, "    ... and %zu more (report --format json lists every one)\n",
                          c->n_sla_breaches - TEXT_BREACHES);
    }
}

static void render_text(const report *r, cc_buf *b)
{
    cc_buf_printf(b, "carecast report %s to %s (%s)\n\n", r->since, r->until, r->zone);
    size_t width = 16;
    for (size_t i = 0; i < r->n_campaigns; i++) {
        char *label = campaign_text_label(&r->campaigns[i]);
        if (text_width(label) > width) width = text_width(label);
        free(label);
        for (size_t j = 0; j < r->campaigns[i].n_steps; j++)
            if (text_width(r->campaigns[i].steps[j].name) + 2 > width) width = text_width(r->campaigns[i].steps[j].name) + 2;
    }
    cc_buf_puts(b, "Campaigns\n");
    text_header(b, "campaign / step", width);
    for (size_t i = 0; i < r->n_campaigns; i++) {
        const report_campaign *c = &r->campaigns[i];
        char *label = campaign_text_label(c);
        text_counts(b, label, width, &c->c);
        free(label);
        for (size_t j = 0; j < c->n_steps; j++) {
            const report_step *s = &c->steps[j];
            char *sl = xasprintf("  %s", s->name);
            text_counts(b, sl, width, &s->c);
            free(sl);
            text_reasons(b, "        ", s->reasons, s->n_reasons);
        }
    }
    if (!r->n_campaigns) cc_buf_puts(b, "  (no messages in this period)\n");
    text_counts(b, "total", width, &r->total);

    cc_buf_puts(b, "\nChannels\n");
    text_header(b, "channel", width);
    for (size_t i = 0; i < r->n_channels; i++)
        text_counts(b, channel_name(r->channels[i].channel), width, &r->channels[i].c);

    cc_buf_puts(b, "\nSkipped by reason\n");
    for (size_t i = 0; i < r->n_reasons; i++) cc_buf_printf(b, "  %-30s %9lld\n", r->reasons[i].reason, r->reasons[i].n);
    if (!r->n_reasons) cc_buf_puts(b, "  (none)\n");

    if (has_sla(r)) {
        cc_buf_puts(b, "\nSLA (first message sent within the SLA of the occurrence)\n");
        cc_buf_printf(b, "  %-30s %-10s %11s %6s %9s %8s %11s\n", "campaign", "sla", "occurrences", "met", "breached",
                      "pending", "within SLA");
        for (size_t i = 0; i < r->n_campaigns; i++) {
            const report_campaign *c = &r->campaigns[i];
            if (c->sla_s <= 0) continue;
            char d[32], rate[16];
            fmt_duration(c->sla_s, d);
            fmt_rate(report_sla_rate(c), rate);
            cc_buf_printf(b, "  %-30s %-10s %11lld %6lld %9lld %8lld %11s\n", c->id, d, c->sla_occurrences, c->sla_met,
                          c->sla_breached, c->sla_pending, rate);
        }
        text_breaches(r, b);
    }
    if (r->n_coverage) {
        cc_buf_puts(b, "\nCoverage (messages sent in the period per customer, against policy.coverage)\n");
        cc_buf_printf(b, "  %-20s %-10s %10s %9s %13s %-12s %8s %6s\n", "segment", "label", "customers", "contacts",
                      "per customer", "rule", "minimum", "below");
        for (size_t i = 0; i < r->n_coverage; i++) {
            const report_coverage *cv = &r->coverage[i];
            if (!cv->source) {
                cc_buf_printf(b, "  %-20s %-10s (no such segment or customers column)\n", cv->segment, cv->label);
                continue;
            }
            cc_buf_printf(b, "  %-20s %-10s %10lld %9lld %13.2f %-12s %8lld %6lld\n", cv->segment, cv->label,
                          cv->customers, cv->contacts, cv->customers ? (double)cv->contacts / (double)cv->customers : 0.0,
                          cv->rule, cv->required, cv->below);
        }
    }
    if (r->n_segments) {
        cc_buf_puts(b, "\nSegments (labels now; entered and left at the last computation; messages sent in the period)\n");
        for (size_t i = 0; i < r->n_segments; i++) {
            const report_segment *sg = &r->segments[i];
            char at[32];
            clock_format_instant(r->zone, sg->computed_at, at);
            cc_buf_printf(b, "  %s, computed %s\n", sg->name, at);
            cc_buf_printf(b, "    %-12s %10s %8s %8s %9s %13s %8s %6s\n", "label", "customers", "entered", "left",
                          "contacts", "per customer", "minimum", "below");
            for (size_t k = 0; k < sg->n_labels; k++) {
                const report_segment_label *l = &sg->labels[k];
                cc_buf_printf(b, "    %-12s %10lld %8lld %8lld %9lld %13.2f", segment_label_name(l->label), l->customers,
                              l->entered, l->left, l->contacts, per_customer(l->contacts, l->customers));
                if (l->coverage) cc_buf_printf(b, " %8lld %6lld\n", l->coverage->required, l->coverage->below);
                else cc_buf_printf(b, " %8s %6s\n", "-", "-");
            }
            if (sg->n_moves) {
                cc_buf_puts(b, "    moves:");
                for (size_t k = 0; k < sg->n_moves; k++)
                    cc_buf_printf(b, "%s %s -> %s %lld", k ? "," : "", segment_label_name(sg->moves[k].from),
                                  segment_label_name(sg->moves[k].to), sg->moves[k].customers);
                cc_buf_putc(b, '\n');
            } else {
                cc_buf_puts(b, "    moves: none\n");
            }
        }
    }
}

/* ---- JSON --------------------------------------------------------------- */

static void json_counts(cc_buf *b, const report_counts *c)
{
    for (int i = 0; i < RC_N; i++) cc_buf_printf(b, "%s\"%s\": %lld", i ? ", " : "", report_count_names[i], c->v[i]);
}

static void json_reasons(cc_buf *b, const report_reason *l, size_t n)
{
    cc_buf_puts(b, "{");
    for (size_t i = 0; i < n; i++) {
        if (i) cc_buf_puts(b, ", ");
        cc_json_str(b, l[i].reason);
        cc_buf_printf(b, ": %lld", l[i].n);
    }
    cc_buf_puts(b, "}");
}

static void json_breach(cc_buf *b, const char *zone, const report_breach *x)
{
    char at[32];
    cc_buf_puts(b, "{\"row\": ");
    cc_json_str(b, x->row);
    cc_buf_puts(b, ", \"customer\": ");
    cc_json_str(b, x->customer);
    cc_buf_puts(b, ", \"step\": ");
    cc_json_str(b, x->step);
    cc_buf_puts(b, ", \"occurrence\": ");
    cc_json_str(b, x->occurrence);
    clock_format_instant(zone, x->deadline, at);
    cc_buf_puts(b, ", \"deadline\": ");
    cc_json_str(b, at);
    cc_buf_puts(b, ", \"sent_at\": ");
    if (x->sent_at >= 0) clock_format_instant(zone, x->sent_at, at);
    cc_json_str(b, x->sent_at >= 0 ? at : NULL);
    cc_buf_puts(b, ", \"reason\": ");
    cc_json_str(b, x->reason);
    cc_buf_puts(b, "}");
}

static void json_channels(cc_buf *b, const report_channel *l, size_t n, const char *indent)
{
    cc_buf_puts(b, "[");
    for (size_t i = 0; i < n; i++) {
        cc_buf_printf(b, "%s\n%s{\"channel\": ", i ? "," : "", indent);
        cc_json_str(b, l[i].channel);
        cc_buf_puts(b, ", ");
        json_counts(b, &l[i].c);
        cc_buf_puts(b, "}");
    }
    cc_buf_puts(b, "]");
}

static void render_json(const report *r, cc_buf *b)
{
    cc_buf_puts(b, "{\"since\": ");
    cc_json_str(b, r->since);
    cc_buf_puts(b, ", \"until\": ");
    cc_json_str(b, r->until);
    cc_buf_puts(b, ", \"timezone\": ");
    cc_json_str(b, r->zone);
    cc_buf_puts(b, ",\n \"totals\": {");
    json_counts(b, &r->total);
    cc_buf_puts(b, ", \"skipped_by_reason\": ");
    json_reasons(b, r->reasons, r->n_reasons);
    cc_buf_puts(b, "},\n \"channels\": ");
    json_channels(b, r->channels, r->n_channels, "   ");
    cc_buf_puts(b, ",\n \"campaigns\": [");
    for (size_t i = 0; i < r->n_campaigns; i++) {
        const report_campaign *c = &r->campaigns[i];
        cc_buf_printf(b, "%s\n  {\"campaign\": ", i ? "," : "");
        cc_json_str(b, c->id);
        cc_buf_puts(b, ", \"title\": ");
        cc_json_str(b, c->title);
        cc_buf_puts(b, ", ");
        json_counts(b, &c->c);
        cc_buf_puts(b, ", \"skipped_by_reason\": ");
        json_reasons(b, c->reasons, c->n_reasons);
        if (c->sla_s > 0) {
            double rate = report_sla_rate(c);
            cc_buf_printf(b, ",\n   \"sla\": {\"sla_seconds\": %lld, \"occurrences\": %lld, \"met\": %lld, \"breached\": %lld, "
                             "\"pending\": %lld, \"within_sla_rate\": ",
                          (long long)c->sla_s, c->sla_occurrences, c->sla_met, c->sla_breached, c->sla_pending);
            if (rate < 0) cc_buf_puts(b, "null");
            else cc_buf_printf(b, "%.4f", rate);
            cc_buf_puts(b, ",\n    \"breaches\": [");
            for (size_t k = 0; k < c->n_sla_breaches; k++) {
                cc_buf_puts(b, k ? ",\n     " : "\n     ");
                json_breach(b, r->zone, &c->sla_breaches[k]);
            }
            cc_buf_puts(b, "]}");
        } else {
            cc_buf_puts(b, ", \"sla\": null");
        }
        cc_buf_puts(b, ",\n   \"steps\": [");
        for (size_t j = 0; j < c->n_steps; j++) {
            const report_step *s = &c->steps[j];
            cc_buf_printf(b, "%s\n    {\"step\": ", j ? "," : "");
            cc_json_str(b, s->name);
            cc_buf_puts(b, ", ");
            json_counts(b, &s->c);
            cc_buf_puts(b, ", \"skipped_by_reason\": ");
            json_reasons(b, s->reasons, s->n_reasons);
            cc_buf_puts(b, ",\n     \"channels\": ");
            json_channels(b, s->channels, s->n_channels, "      ");
            cc_buf_puts(b, "}");
        }
        cc_buf_puts(b, "]}");
    }
    cc_buf_puts(b, "],\n \"coverage\": [");
    for (size_t i = 0; i < r->n_coverage; i++) {
        const report_coverage *cv = &r->coverage[i];
        cc_buf_printf(b, "%s\n  {\"segment\": ", i ? "," : "");
        cc_json_str(b, cv->segment);
        cc_buf_puts(b, ", \"label\": ");
        cc_json_str(b, cv->label);
        cc_buf_puts(b, ", \"rule\": ");
        cc_json_str(b, cv->rule);
        cc_buf_puts(b, ", \"source\": ");
        cc_json_str(b, cv->source);
        cc_buf_printf(b, ", \"customers\": %lld, \"contacts\": %lld, \"contacts_per_customer\": %.2f, "
                         "\"minimum\": %lld, \"below_minimum\": %lld}",
                      cv->customers, cv->contacts, cv->customers ? (double)cv->contacts / (double)cv->customers : 0.0,
                      cv->required, cv->below);
    }
    cc_buf_puts(b, "]");
    if (r->n_segments || r->segments) {
        cc_buf_puts(b, ",\n \"segments\": [");
        for (size_t i = 0; i < r->n_segments; i++) {
            const report_segment *sg = &r->segments[i];
            char at[32];
            clock_format_instant(r->zone, sg->computed_at, at);
            cc_buf_printf(b, "%s\n  {\"segment\": ", i ? "," : "");
            cc_json_str(b, sg->name);
            cc_buf_puts(b, ", \"computed_at\": ");
            cc_json_str(b, at);
            cc_buf_puts(b, ",\n   \"labels\": [");
            for (size_t k = 0; k < sg->n_labels; k++) {
                const report_segment_label *l = &sg->labels[k];
                cc_buf_printf(b, "%s\n    {\"label\": ", k ? "," : "");
                cc_json_str(b, l->label);
                cc_buf_printf(b, ", \"customers\": %lld, \"entered\": %lld, \"left\": %lld, \"contacts\": %lld, "
                                 "\"contacts_per_customer\": %.2f, ",
                              l->customers, l->entered, l->left, l->contacts, per_customer(l->contacts, l->customers));
                if (l->coverage)
                    cc_buf_printf(b, "\"minimum\": %lld, \"below_minimum\": %lld}", l->coverage->required, l->coverage->below);
                else
                    cc_buf_puts(b, "\"minimum\": null, \"below_minimum\": null}");
            }
            cc_buf_puts(b, "],\n   \"moves\": [");
            for (size_t k = 0; k < sg->n_moves; k++) {
                cc_buf_puts(b, k ? ", {\"from\": " : "{\"from\": ");
                cc_json_str(b, sg->moves[k].from);
                cc_buf_puts(b, ", \"to\": ");
                cc_json_str(b, sg->moves[k].to);
                cc_buf_printf(b, ", \"customers\": %lld}", sg->moves[k].customers);
            }
            cc_buf_puts(b, "]}");
        }
        cc_buf_puts(b, "]");
    }
    cc_buf_puts(b, "}\n");
}

/* ---- CSV ---------------------------------------------------------------- *
 * One long table, campaign,step,channel,metric,value: a spreadsheet pivots
 * it any way.  Rows per campaign+step+channel carry the status counts
 * (channel "none": no channel was eligible); per campaign+step, metric
 * "skipped:REASON"; per SLA campaign (step and channel empty) sla_met,
 * sla_breached, sla_pending (the breaches themselves, one per row, are in
 * the JSON, text and HTML layouts); coverage rows have campaign, step and channel
 * empty and metric "coverage:SEGMENT=LABEL:customers|contacts|minimum|below";
 * with --segments, "segment:SEGMENT=LABEL:customers|entered|left|contacts"
 * per label (no label: LABEL empty) and "move:SEGMENT=FROM>TO" per move. */

static void csv_row(cc_buf *b, const char *campaign, const char *step, const char *channel, const char *metric,
                    long long value)
{
    cc_csv_field(b, campaign);
    cc_buf_putc(b, ',');
    cc_csv_field(b, step);
    cc_buf_putc(b, ',');
    cc_csv_field(b, channel);
    cc_buf_putc(b, ',');
    cc_csv_field(b, metric);
    cc_buf_printf(b, ",%lld\n", value);
}

static void render_csv(const report *r, cc_buf *b)
{
    cc_buf_puts(b, "campaign,step,channel,metric,value\n");
    for (size_t i = 0; i < r->n_campaigns; i++) {
        const report_campaign *c = &r->campaigns[i];
        for (size_t j = 0; j < c->n_steps; j++) {
            const report_step *s = &c->steps[j];
            for (size_t k = 0; k < s->n_channels; k++)
                for (int m = 0; m < RC_N; m++)
                    csv_row(b, c->id, s->name, channel_name(s->channels[k].channel), report_count_names[m],
                            s->channels[k].c.v[m]);
            for (size_t k = 0; k < s->n_reasons; k++) {
                char *metric = xasprintf("skipped:%s", s->reasons[k].reason);
                csv_row(b, c->id, s->name, "", metric, s->reasons[k].n);
                free(metric);
            }
        }
        if (c->sla_s > 0) {
            csv_row(b, c->id, "", "", "sla_met", c->sla_met);
            csv_row(b, c->id, "", "", "sla_breached", c->sla_breached);
            csv_row(b, c->id, "", "", "sla_pending", c->sla_pending);
        }
    }
    for (size_t i = 0; i < r->n_coverage; i++) {
        const report_coverage *cv = &r->coverage[i];
        static const char *const what[] = {"customers", "contacts", "minimum", "below"};
        long long v[] = {cv->customers, cv->contacts, cv->required, cv->below};
        for (int k = 0; k < 4; k++) {
            char *metric = xasprintf("coverage:%s=%s:%s", cv->segment, cv->label, what[k]);
            csv_row(b, "", "", "", metric, v[k]);
            free(metric);
        }
    }
    for (size_t i = 0; i < r->n_segments; i++) {
        const report_segment *sg = &r->segments[i];
        for (size_t k = 0; k < sg->n_labels; k++) {
            const report_segment_label *l = &sg->labels[k];
            static const char *const what[] = {"customers", "entered", "left", "contacts"};
            long long v[] = {l->customers, l->entered, l->left, l->contacts};
            for (int m = 0; m < 4; m++) {
                char *metric = xasprintf("segment:%s=%s:%s", sg->name, l->label ? l->label : "", what[m]);
                csv_row(b, "", "", "", metric, v[m]);
                free(metric);
            }
        }
        for (size_t k = 0; k < sg->n_moves; k++) {
            char *metric = xasprintf("move:%s=%s>%s", sg->name, sg->moves[k].from ? sg->moves[k].from : "",
                                     sg->moves[k].to ? sg->moves[k].to : "");
            csv_row(b, "", "", "", metric, sg->moves[k].customers);
            free(metric);
        }
    }
}

/* ---- HTML --------------------------------------------------------------- */

static void h(cc_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': cc_buf_puts(b, "&amp;"); break;
        case '<': cc_buf_puts(b, "&lt;"); break;
        case '>': cc_buf_puts(b, "&gt;"); break;
        case '"': cc_buf_puts(b, "&quot;"); break;
        case '\'': cc_buf_puts(b, "&#39;"); break;
        default: cc_buf_putc(b, *s);
        }
    }
}

static const char css[] =
    "body{font-family:-apple-system,'Segoe UI',Roboto,'Noto Sans','Noto Sans CJK SC',Arial,sans-serif;"
    "color:#1f2933;background:#f5f7fa;margin:0;padding:32px 40px;}"
    "h1{font-size:26px;margin:0 0 4px;}h2{font-size:18px;margin:32px 0 12px;color:#334e68;}"
    ".sub{color:#627d98;margin-bottom:24px;}"
    ".kpis{display:flex;flex-wrap:wrap;gap:14px;}"
    ".kpi{background:#fff;border-radius:8px;padding:14px 18px;min-width:130px;box-shadow:0 1px 3px rgba(0,0,0,.12);}"
    ".kpi .v{font-size:28px;font-weight:600;}.kpi .l{color:#627d98;font-size:13px;text-transform:uppercase;letter-spacing:.04em;}"
    ".kpi .n{color:#829ab1;font-size:12px;}"
    ".card{background:#fff;border-radius:8px;padding:16px 20px;box-shadow:0 1px 3px rgba(0,0,0,.12);}"
    "table{border-collapse:collapse;width:100%;font-size:14px;}"
    "th{text-align:right;color:#486581;font-weight:600;border-bottom:2px solid #d9e2ec;padding:6px 8px;}"
    "td{text-align:right;padding:5px 8px;border-bottom:1px solid #eef2f6;font-variant-numeric:tabular-nums;}"
    "th:first-child,td:first-child{text-align:left;}"
    "tr.camp td{font-weight:600;background:#f0f4f8;}tr.step td:first-child{padding-left:24px;}"
    ".reasons{color:#829ab1;font-size:12px;}td.reasons{text-align:left;}"
    ".bad{color:#c62828;font-weight:600;}.good{color:#2e7d32;font-weight:600;}"
    "svg text{font-family:inherit;font-size:12px;fill:#334e68;}"
    ".legend span{display:inline-block;margin-right:16px;font-size:13px;}"
    ".legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:6px;vertical-align:-1px;}"
    ".empty{color:#829ab1;font-style:italic;}";

static const char *const bar_names[] = {"sent", "delivered", "failed", "skipped"};
static const int bar_index[] = {RC_SENT, RC_DELIVERED, RC_FAILED, RC_SKIPPED};
static const char *const bar_colors[] = {"#3f7cc4", "#3aa76d", "#d64545", "#e6a23c"};

static void html_kpi(cc_buf *b, const char *label, const char *value, const char *note)
{
    cc_buf_puts(b, "<div class=\"kpi\"><div class=\"l\">");
    h(b, label);
    cc_buf_puts(b, "</div><div class=\"v\">");
    h(b, value);
    cc_buf_puts(b, "</div><div class=\"n\">");
    h(b, note);
    cc_buf_puts(b, "</div></div>\n");
}

static const char *campaign_label(const report_campaign *c) { return c->title ? c->title : c->id; }

/* Grouped horizontal bars: one group per campaign, one bar per figure,
 * each bar labelled with its value so the chart reads without a scale. */
static void html_campaign_chart(cc_buf *b, const report *r)
{
    long long max = 1;
    for (size_t i = 0; i < r->n_campaigns; i++)
        for (int k = 0; k < 4; k++)
            if (r->campaigns[i].c.v[bar_index[k]] > max) max = r->campaigns[i].c.v[bar_index[k]];
    const int label_w = 230, bar_w = 620, bar_h = 14, gap = 3, group_gap = 18;
    int group_h = 4 * (bar_h + gap);
    int height = (int)r->n_campaigns * (group_h + group_gap) + 10;
    cc_buf_printf(b, "<svg role=\"img\" aria-label=\"messages per campaign\" viewBox=\"0 0 %d %d\" width=\"100%%\">\n",
                  label_w + bar_w + 70, height);
    for (size_t i = 0; i < r->n_campaigns; i++) {
        const report_campaign *c = &r->campaigns[i];
        int y0 = (int)i * (group_h + group_gap) + 5;
        cc_buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-weight=\"600\">", label_w - 10, y0 + group_h / 2);
        h(b, campaign_label(c));
        cc_buf_puts(b, "</text>\n");
        cc_buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" fill=\"#829ab1\">", label_w - 10, y0 + group_h / 2 + 15);
        h(b, c->id);
        cc_buf_puts(b, "</text>\n");
        for (int k = 0; k < 4; k++) {
            long long v = c->c.v[bar_index[k]];
            int w = (int)((double)bar_w * (double)v / (double)max + 0.5);
            int y = y0 + k * (bar_h + gap);
            cc_buf_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" rx=\"2\" fill=\"%s\"><title>%s: %lld</title></rect>",
                          label_w, y, w < 1 && v ? 1 : w, bar_h, bar_colors[k], bar_names[k], v);
            cc_buf_printf(b, "<text x=\"%d\" y=\"%d\">%lld %s</text>\n", label_w + w + 6, y + bar_h - 3, v, bar_names[k]);
        }
    }
    cc_buf_puts(b, "</svg>\n");
}

static void html_reason_chart(cc_buf *b, const report *r)
{
    long long max = 1;
    for (size_t i = 0; i < r->n_reasons; i++)
        if (r->reasons[i].n > max) max = r->reasons[i].n;
    const int label_w = 230, bar_w = 620, bar_h = 20, gap = 8;
    cc_buf_printf(b, "<svg role=\"img\" aria-label=\"skipped by reason\" viewBox=\"0 0 %d %d\" width=\"100%%\">\n",
                  label_w + bar_w + 70, (int)r->n_reasons * (bar_h + gap) + 4);
    for (size_t i = 0; i < r->n_reasons; i++) {
        int y = (int)i * (bar_h + gap) + 2;
        int w = (int)((double)bar_w * (double)r->reasons[i].n / (double)max + 0.5);
        cc_buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", label_w - 10, y + 15);
        h(b, r->reasons[i].reason);
        cc_buf_printf(b, "</text><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" rx=\"2\" fill=\"#e6a23c\"></rect>"
                         "<text x=\"%d\" y=\"%d\">%lld</text>\n",
                      label_w, y, w, bar_h, label_w + w + 6, y + 15, r->reasons[i].n);
    }
    cc_buf_puts(b, "</svg>\n");
}

static void html_counts_cells(cc_buf *b, const report_counts *c)
{
    for (int i = 0; i < RC_N; i++) cc_buf_printf(b, "<td>%lld</td>", c->v[i]);
}

static void html_reason_text(cc_buf *b, const report_reason *l, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cc_buf_puts(b, i ? ", " : "");
        h(b, l[i].reason);
        cc_buf_printf(b, " %lld", l[i].n);
    }
}

/* As in the text, a long list is cut: the JSON has every breach. */
enum { HTML_BREACHES = 100 };

static void html_breaches(const report *r, cc_buf *b)
{
    size_t total = 0;
    for (size_t i = 0; i < r->n_campaigns; i++) total += r->campaigns[i].n_sla_breaches;
    if (!total) return;
    cc_buf_puts(b, "<h2>SLA breaches</h2>\n<div class=\"card\"><table id=\"sla-breaches\">\n<tr><th>campaign</th>"
                   "<th>row</th><th>customer</th><th>occurrence</th><th>due</th><th>sent</th>"
                   "<th style=\"text-align:left\">reason</th></tr>\n");
    size_t shown = 0;
    for (size_t i = 0; i < r->n_campaigns; i++) {
        const report_campaign *c = &r->campaigns[i];
        for (size_t k = 0; k < c->n_sla_breaches && shown < HTML_BREACHES; k++, shown++) {
            const report_breach *x = &c->sla_breaches[k];
            char due[32], sent[32] = "-";
            clock_format_instant(r->zone, x->deadline, due);
            if (x->sent_at >= 0) clock_format_instant(r->zone, x->sent_at, sent);
            const char *cells[] = {c->id, x->row, x->customer ? x->customer : "-", x->occurrence, due, sent};
            cc_buf_puts(b, "<tr>");
            for (size_t j = 0; j < sizeof cells / sizeof cells[0]; j++) {
                cc_buf_puts(b, "<td>");
                h(b, cells[j]);
                cc_buf_puts(b, "</td>");
            }
            cc_buf_puts(b, "<td class=\"reasons\">");
            h(b, x->reason);
            cc_buf_puts(b, "</td></tr>\n");
        }
    }
    cc_buf_puts(b, "</table>");
    if (total > shown)
        cc_buf_printf(b, "<p class=\"reasons\">and %zu more: <code>report --format json</code> lists every one.</p>",
                      total - shown);
    cc_buf_puts(b, "</div>\n");
}

static void render_html(const report *r, cc_buf *b)
{
    cc_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Customer care report ");
    h(b, r->since);
    cc_buf_puts(b, " to ");
    h(b, r->until);
    cc_buf_printf(b, "</title>\n<style>%s</style></head><body>\n<h1>Customer care report</h1>\n<div class=\"sub\">", css);
    h(b, r->since);
    cc_buf_puts(b, " to ");
    h(b, r->until);
    cc_buf_puts(b, " &middot; times in ");
    h(b, r->zone);
    cc_buf_puts(b, " &middot; sent and failed messages by their attempt, the others by their send time</div>\n");

    /* Headline figures. */
    const report_counts *t = &r->total;
    char v[32], note[64], rate[16];
    cc_buf_puts(b, "<div class=\"kpis\">\n");
    snprintf(v, sizeof v, "%lld", t->v[RC_PLANNED]);
    html_kpi(b, "Planned", v, "all outbox records");
    snprintf(v, sizeof v, "%lld", t->v[RC_SENT]);
    snprintf(note, sizeof note, "%lld still waiting", t->v[RC_WAITING]);
    html_kpi(b, "Sent", v, note);
    snprintf(v, sizeof v, "%lld", t->v[RC_DELIVERED]);
    fmt_rate(t->v[RC_SENT] ? (double)t->v[RC_DELIVERED] / (double)t->v[RC_SENT] : -1, rate);
    snprintf(note, sizeof note, "%s of sent confirmed", rate);
    html_kpi(b, "Delivered", v, note);
    snprintf(v, sizeof v, "%lld", t->v[RC_FAILED]);
    snprintf(note, sizeof note, "and %lld reported undelivered", t->v[RC_UNDELIVERED]);
    html_kpi(b, "Failed", v, note);
    snprintf(v, sizeof v, "%lld", t->v[RC_SKIPPED]);
    html_kpi(b, "Skipped", v, r->n_reasons ? "see reasons below" : "none");
    snprintf(v, sizeof v, "%lld", t->v[RC_HOLDOUT]);
    html_kpi(b, "Holdout", v, "kept back to measure uplift");
    if (t->v[RC_CANCELLED]) {
        snprintf(v, sizeof v, "%lld", t->v[RC_CANCELLED]);
        html_kpi(b, "Cancelled", v, "stopped before sending");
    }
    if (has_sla(r)) {
        double sr;
        sla_total(r, 0, &sr);
        fmt_rate(sr, rate);
        snprintf(note, sizeof note, "%lld breached, %lld pending", sla_total(r, 1, NULL), sla_total(r, 2, NULL));
        html_kpi(b, "Within SLA", rate, note);
    }
    if (r->n_coverage) {
        long long below = 0;
        for (size_t i = 0; i < r->n_coverage; i++) below += r->coverage[i].below;
        snprintf(v, sizeof v, "%lld", below);
        html_kpi(b, "Under-contacted", v, "customers below their tier minimum");
    }
    cc_buf_puts(b, "</div>\n");

    cc_buf_puts(b, "<h2>Messages per campaign</h2>\n<div class=\"card\">\n<div class=\"legend\">");
    for (int k = 0; k < 4; k++) cc_buf_printf(b, "<span><i style=\"background:%s\"></i>%s</span>", bar_colors[k], bar_names[k]);
    cc_buf_puts(b, "</div>\n");
    if (r->n_campaigns) html_campaign_chart(b, r);
    else cc_buf_puts(b, "<p class=\"empty\">No messages in this period.</p>\n");
    cc_buf_puts(b, "</div>\n");

    cc_buf_puts(b, "<h2>Skipped by reason</h2>\n<div class=\"card\">\n");
    if (r->n_reasons) html_reason_chart(b, r);
    else cc_buf_puts(b, "<p class=\"empty\">Nothing was skipped.</p>\n");
    cc_buf_puts(b, "</div>\n");

    cc_buf_puts(b, "<h2>Campaigns and steps</h2>\n<div class=\"card\"><table id=\"campaigns\">\n<tr><th>campaign / step</th>");
    for (int i = 0; i < RC_N; i++) cc_buf_printf(b, "<th>%s</th>", report_count_names[i]);
    cc_buf_puts(b, "<th style=\"text-align:left\">skipped by reason</th></tr>\n");
    for (size_t i = 0; i < r->n_campaigns; i++) {
        const report_campaign *c = &r->campaigns[i];
        cc_buf_puts(b, "<tr class=\"camp\"><td>");
        h(b, campaign_label(c));
        if (c->title) {
            cc_buf_puts(b, " <span class=\"reasons\">");
            h(b, c->id);
            cc_buf_puts(b, "</span>");
        }
        cc_buf_puts(b, "</td>");
        html_counts_cells(b, &c->c);
        cc_buf_puts(b, "<td class=\"reasons\">");
        html_reason_text(b, c->reasons, c->n_reasons);
        cc_buf_puts(b, "</td></tr>\n");
        for (size_t j = 0; j < c->n_steps; j++) {
            const report_step *s = &c->steps[j];
            cc_buf_puts(b, "<tr class=\"step\"><td>");
            h(b, s->name);
            cc_buf_puts(b, "</td>");
            html_counts_cells(b, &s->c);
            cc_buf_puts(b, "<td class=\"reasons\">");
            html_reason_text(b, s->reasons, s->n_reasons);
            cc_buf_puts(b, "</td></tr>\n");
        }
    }
    cc_buf_puts(b, "<tr class=\"camp\"><td>total</td>");
    html_counts_cells(b, &r->total);
    cc_buf_puts(b, "<td></td></tr>\n</table></div>\n");

    cc_buf_puts(b, "<h2>Channels</h2>\n<div class=\"card\"><table id=\"channels\">\n<tr><th>channel</th>");
    for (int i = 0; i < RC_N; i++) cc_buf_printf(b, "<th>%s</th>", report_count_names[i]);
    cc_buf_puts(b, "</tr>\n");
    for (size_t i = 0; i < r->n_channels; i++) {
        cc_buf_puts(b, "<tr><td>");
        h(b, channel_name(r->channels[i].channel));
        cc_buf_puts(b, "</td>");
        html_counts_cells(b, &r->channels[i].c);
        cc_buf_puts(b, "</tr>\n");
    }
    cc_buf_puts(b, "</table></div>\n");

    if (has_sla(r)) {
        cc_buf_puts(b, "<h2>Service levels</h2>\n<div class=\"card\"><table id=\"sla\">\n<tr><th>campaign</th><th>SLA</th>"
                       "<th>occurrences</th><th>met</th><th>breached</th><th>pending</th><th>within SLA</th></tr>\n");
        for (size_t i = 0; i < r->n_campaigns; i++) {
            const report_campaign *c = &r->campaigns[i];
            if (c->sla_s <= 0) continue;
            char d[32];
            fmt_duration(c->sla_s, d);
            double sr = report_sla_rate(c);
            fmt_rate(sr, rate);
            cc_buf_puts(b, "<tr><td>");
            h(b, campaign_label(c));
            cc_buf_printf(b, "</td><td>%s</td><td>%lld</td><td class=\"good\">%lld</td><td%s>%lld</td><td>%lld</td>"
                             "<td>%s</td></tr>\n",
                          d, c->sla_occurrences, c->sla_met, c->sla_breached ? " class=\"bad\"" : "", c->sla_breached,
                          c->sla_pending, rate);
        }
        cc_buf_puts(b, "</table></div>\n");
        html_breaches(r, b);
    }

    if (r->n_coverage) {
        cc_buf_puts(b, "<h2>Contact coverage by tier</h2>\n<div class=\"card\"><table id=\"coverage\">\n<tr><th>segment</th>"
                       "<th>label</th><th>customers</th><th>contacts</th><th>per customer</th><th>rule</th>"
                       "<th>minimum in period</th><th>below minimum</th></tr>\n");
        for (size_t i = 0; i < r->n_coverage; i++) {
            const report_coverage *cv = &r->coverage[i];
            cc_buf_puts(b, "<tr><td>");
            h(b, cv->segment);
            cc_buf_puts(b, "</td><td>");
            h(b, cv->label);
            if (!cv->source) {
                cc_buf_puts(b, "</td><td colspan=\"6\" class=\"empty\">no such segment or customers column</td></tr>\n");
                continue;
            }
            cc_buf_printf(b, "</td><td>%lld</td><td>%lld</td><td>%.2f</td><td>", cv->customers, cv->contacts,
                          cv->customers ? (double)cv->contacts / (double)cv->customers : 0.0);
            h(b, cv->rule);
            cc_buf_printf(b, "</td><td>%lld</td><td%s>%lld</td></tr>\n", cv->required, cv->below ? " class=\"bad\"" : "",
                          cv->below);
        }
        cc_buf_puts(b, "</table></div>\n");
    }
    if (r->n_segments) {
        cc_buf_puts(b, "<h2>Segments</h2>\n");
        for (size_t i = 0; i < r->n_segments; i++) {
            const report_segment *sg = &r->segments[i];
            char at[32];
            clock_format_instant(r->zone, sg->computed_at, at);
            cc_buf_puts(b, "<div class=\"card\" style=\"margin-bottom:14px\"><table class=\"segment\" data-segment=\"");
            h(b, sg->name);
            cc_buf_puts(b, "\">\n<caption style=\"text-align:left;font-weight:600;padding-bottom:6px\">");
            h(b, sg->name);
            cc_buf_puts(b, " <span class=\"reasons\">computed ");
            h(b, at);
            cc_buf_puts(b, "</span></caption>\n<tr><th>label</th><th>customers</th><th>entered</th><th>left</th><th>contacts</th>"
                           "<th>per customer</th><th>minimum in period</th><th>below minimum</th></tr>\n");
            for (size_t k = 0; k < sg->n_labels; k++) {
                const report_segment_label *l = &sg->labels[k];
                cc_buf_puts(b, "<tr><td>");
                h(b, segment_label_name(l->label));
                cc_buf_printf(b, "</td><td>%lld</td><td>%lld</td><td>%lld</td><td>%lld</td><td>%.2f</td>", l->customers,
                              l->entered, l->left, l->contacts, per_customer(l->contacts, l->customers));
                if (l->coverage)
                    cc_buf_printf(b, "<td>%lld</td><td%s>%lld</td></tr>\n", l->coverage->required,
                                  l->coverage->below ? " class=\"bad\"" : "", l->coverage->below);
                else
                    cc_buf_puts(b, "<td>-</td><td>-</td></tr>\n");
            }
            cc_buf_puts(b, "</table>\n<p class=\"reasons\">moves at that computation: ");
            for (size_t k = 0; k < sg->n_moves; k++) {
                cc_buf_puts(b, k ? ", " : "");
                h(b, segment_label_name(sg->moves[k].from));
                cc_buf_puts(b, " &rarr; ");
                h(b, segment_label_name(sg->moves[k].to));
                cc_buf_printf(b, " %lld", sg->moves[k].customers);
            }
            if (!sg->n_moves) cc_buf_puts(b, "none");
            cc_buf_puts(b, "</p></div>\n");
        }
    }
    cc_buf_puts(b, "<p class=\"sub\" style=\"margin-top:28px\">Generated by carecast. Planned counts every outbox "
                   "record of the period; waiting = planned, sending or retrying.</p>\n</body></html>\n");
}

/* ---- the command -------------------------------------------------------- */

cc_code cmd_report(cli *c)
{
    const char *campaign = cli_option(c, "--campaign");
    const char *since_arg = cli_option(c, "--since");
    const char *until_arg = cli_option(c, "--until");
    const char *output = cli_option(c, "--output");
    int segments = cli_flag(c, "--segments");
    if (cli_no_unknown_options(c, "report") != 0) return CC_ERR_USAGE;
    if (c->argc) {
        fprintf(stderr, "carecast report: unexpected argument '%s'\n", c->argv[0]);
        return CC_ERR_USAGE;
    }
    const char *fmt = c->format;
    if (strcmp(fmt, "text") && strcmp(fmt, "json") && strcmp(fmt, "csv") && strcmp(fmt, "html")) {
        fprintf(stderr, "carecast report: --format must be text, json, csv or html, not '%s'\n", fmt);
        return CC_ERR_USAGE;
    }
    if (output && !*output) {
        fprintf(stderr, "carecast report: --output needs a file name\n");
        return CC_ERR_USAGE;
    }
    report_opts o = {.campaign = campaign, .now = c->clock.now, .clk = &c->clock, .segments = segments};
    /* Default period: the 30 days up to and including today. */
    o.until = c->clock.today;
    if (until_arg && clock_parse_date(until_arg, &o.until) != 0) {
        fprintf(stderr, "carecast report: --until '%s' is not a date (YYYY-MM-DD)\n", until_arg);
        return CC_ERR_USAGE;
    }
    o.since = clock_add_days(o.until, -29);
    if (since_arg && clock_parse_date(since_arg, &o.since) != 0) {
        fprintf(stderr, "carecast report: --since '%s' is not a date (YYYY-MM-DD)\n", since_arg);
        return CC_ERR_USAGE;
    }
    if (clock_days_from_civil(o.since) > clock_days_from_civil(o.until)) {
        fprintf(stderr, "carecast report: --since %s is after --until %s\n", since_arg ? since_arg : "",
                until_arg ? until_arg : "(today)");
        return CC_ERR_USAGE;
    }
    cc_code rc = cmdplan_open_existing_db(c);
    if (rc != CC_OK) return rc;

    /* Titles, step order and SLAs come from the rules folder; a report must
     * still work when a campaign file was removed or has an error, so
     * whatever loads is used and the rest is reported by id. */
    cc_campaign *camps = NULL;
    size_t n_camps = 0;
    cc_diags diags = {.limit = 1};
    campaign_load_dir(c->cfg.rules, &camps, &n_camps, &diags);
    if (diags.count)
        cli_log(c, 1, "carecast report: the rules folder has errors ('carecast lint'); titles may be missing");
    cc_diags_free(&diags);

    if (campaign) {
        int known = campaign_find(camps, n_camps, campaign) != NULL;
        sqlite3_stmt *st = NULL;
        if (!known && sqlite3_prepare_v2(c->db, "SELECT 1 FROM care_outbox WHERE campaign = ? LIMIT 1", -1, &st, NULL) == SQLITE_OK) {
            sqlite3_bind_text(st, 1, campaign, -1, SQLITE_STATIC);
            known = sqlite3_step(st) == SQLITE_ROW;
        }
        sqlite3_finalize(st);
        if (!known) {
            fprintf(stderr, "carecast report: no campaign '%s' in the rules folder or the outbox\n", campaign);
            campaigns_free(camps, n_camps);
            return CC_ERR_NOT_FOUND;
        }
    }

    report r;
    rc = report_compute(c->db, &c->cfg, camps, n_camps, &o, &r);
    campaigns_free(camps, n_camps);
    if (rc == CC_ERR_INPUT) {
        fprintf(stderr,
                "carecast report: the SLA cannot be counted while a campaign's audience is broken ('carecast lint')\n");
        report_free(&r);
        return rc;
    }
    if (rc != CC_OK) {
        fprintf(stderr, "carecast report: could not compute the report: %s\n", sqlite3_errmsg(c->db));
        report_free(&r);
        return rc;
    }
    cc_buf b = CC_BUF_INIT;
    if (!strcmp(fmt, "json")) render_json(&r, &b);
    else if (!strcmp(fmt, "csv")) render_csv(&r, &b);
    else if (!strcmp(fmt, "html")) render_html(&r, &b);
    else render_text(&r, &b);
    report_free(&r);

    if (output) {
        /* figures about customers: readable by the owner and group only */
        rc = cc_write_file_atomic(output, b.data ? b.data : "", b.len, 0640);
        if (rc != CC_OK) fprintf(stderr, "carecast report: cannot write '%s'\n", output);
        else cli_log(c, 1, "carecast report: wrote %s", output);
    } else {
        fwrite(cc_buf_str(&b), 1, b.len, stdout);
    }
    cc_buf_free(&b);
    return rc;
}
