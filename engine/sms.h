/* sms.h - SMS text encoding and segment counting.
 *
 * GSM 03.38 7-bit (with the extension table, whose characters take two
 * septets) when every character fits, UCS-2 otherwise.  Segments: 160/153
 * septets for GSM-7, 70/67 UTF-16 units for UCS-2; a segment never splits an
 * extension character or a surrogate pair. */
#ifndef CC_SMS_H
#define CC_SMS_H

#include "cc.h"

typedef enum { SMS_GSM7, SMS_UCS2 } sms_encoding;

typedef struct {
    sms_encoding encoding;
    int segments;       /* 0 for the empty text */
    size_t units;       /* septets (GSM-7) or UTF-16 units (UCS-2) */
} sms_info;

/* Analyse UTF-8 `text`.  CC_ERR_INPUT when it is not valid UTF-8. */
cc_code sms_analyse(const char *text, sms_info *info);
const char *sms_encoding_name(sms_encoding e);   /* "gsm7" | "ucs2" */

#endif
