/*
 * plugins/common/tropt_id.c - run ids checked, stored text shown safely
 * (tropt_id.h).
 */
#include "tropt_id.h"

#include <string.h>

int tropt_id_valid(const char *s)
{
    if (!s || strlen(s) != TROPT_ID_LEN)
        return 0;
    for (int i = 0; i < TROPT_ID_LEN; i++) {
        char c = s[i];
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        int hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (dash ? c != '-' : !hex)
            return 0;
    }
    return 1;
}

char *tropt_id_shown(char *buf, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    if (!s)
        s = "(null)";
    char *o = buf;
    size_t i;
    for (i = 0; s[i] && i < 64; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        *o++ = 'x';
        *o++ = hex[c >> 4];
        *o++ = hex[c & 15];
    }
    if (s[i]) {
        memcpy(o, "...", 3);
        o += 3;
    }
    *o = '\0';
    return buf;
}
