/* message.c - helpers for cc_message shared by the transports. */
#include "message.h"

#include <string.h>

void message_set_reply(cc_message *m, const char *text)
{
    const unsigned char *s = (const unsigned char *)(text ? text : "");
    size_t o = 0, i = 0;
    while (s[i]) {
        unsigned char c = s[i];
        size_t len = c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        if (c < 0x20 || c == 0x7F) c = ' ';
        if (c == ' ') {
            if (o > 0 && m->reply[o - 1] != ' ' && o + 1 < sizeof m->reply) m->reply[o++] = ' ';
            i++;
            continue;
        }
        size_t k = 0;
        while (k < len && s[i + k]) k++;
        if (o + k + 1 > sizeof m->reply) break;
        memcpy(m->reply + o, s + i, k);
        o += k;
        i += k;
    }
    while (o > 0 && m->reply[o - 1] == ' ') o--;
    m->reply[o] = '\0';
}
