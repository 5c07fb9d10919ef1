/* sms.c - owns SMS text analysis: which encoding a text needs (GSM 03.38
 * 7-bit default alphabet with its extension table, else UCS-2), how many
 * units it takes and how many segments a handset will receive.  Both the
 * file transport (the "encoding"/"segments" fields) and the Kannel
 * transport (coding=0|2) rely on it. */
#include "sms.h"

#include <string.h>


/* Septets a code point takes in GSM 03.38: 1 in the default alphabet,
 * 2 in the extension table (escape + character), 0 when not encodable. */
static int gsm_septets(unsigned cp)
{
    if (cp < 0x80) {
        switch (cp) {
        case '\n': case '\r': return 1;
        case '\f': return 2;                       /* extension: form feed */
        case '^': case '{': case '}': case '\\':
        case '[': case '~': case ']': case '|': return 2;
        case '`': return 0;
        default: return (cp >= 0x20 && cp < 0x7F) ? 1 : 0;
        }
    }
    switch (cp) {
    /* Latin-1 part of the default alphabet */
    case 0x00A1: case 0x00A3: case 0x00A4: case 0x00A5: case 0x00A7:
    case 0x00BF: case 0x00C4: case 0x00C5: case 0x00C6: case 0x00C7:
    case 0x00C9: case 0x00D1: case 0x00D6: case 0x00D8: case 0x00DC:
    case 0x00DF: case 0x00E0: case 0x00E4: case 0x00E5: case 0x00E6:
    case 0x00E8: case 0x00E9: case 0x00EC: case 0x00F1: case 0x00F2:
    case 0x00F6: case 0x00F8: case 0x00F9: case 0x00FC:
    /* Greek capitals of the default alphabet */
    case 0x0393: case 0x0394: case 0x0398: case 0x039B: case 0x039E:
    case 0x03A0: case 0x03A3: case 0x03A6: case 0x03A8: case 0x03A9:
        return 1;
    case 0x20AC:                                   /* extension: euro sign */
        return 2;
    default:
        return 0;
    }
}

/* Segments for a sequence of character widths: one segment when the total
 * fits `single`, else greedy filling of `multi`-unit segments in which a
 * character never straddles two segments. */
typedef struct {
    size_t total;
    size_t fill;
    int segments;
} seg_count;

static void seg_add(seg_count *s, size_t width, size_t multi)
{
    s->total += width;
    if (s->segments == 0 || s->fill + width > multi) {
        s->segments++;
        s->fill = 0;
    }
    s->fill += width;
}

cc_code sms_analyse(const char *text, sms_info *info)
{
    const unsigned char *s = (const unsigned char *)(text ? text : "");
    size_t n = strlen((const char *)s);
    seg_count gsm = {0, 0, 0}, ucs = {0, 0, 0};
    int gsm_ok = 1;

    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t l = cc_utf8_decode(s + i, n - i, &cp);
        if (l == 0) return CC_ERR_INPUT;
        i += l;
        if (gsm_ok) {
            int w = gsm_septets(cp);
            if (w == 0) gsm_ok = 0;
            else seg_add(&gsm, (size_t)w, 153);
        }
        seg_add(&ucs, cp > 0xFFFF ? 2 : 1, 67);
    }

    if (gsm_ok) {
        info->encoding = SMS_GSM7;
        info->units = gsm.total;
        info->segments = gsm.total == 0 ? 0 : gsm.total <= 160 ? 1 : gsm.segments;
    } else {
        info->encoding = SMS_UCS2;
        info->units = ucs.total;
        info->segments = ucs.total == 0 ? 0 : ucs.total <= 70 ? 1 : ucs.segments;
    }
    return CC_OK;
}

const char *sms_encoding_name(sms_encoding e)
{
    return e == SMS_GSM7 ? "gsm7" : "ucs2";
}
