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

/* Put byte c into buf at *o, as "\xNN" when esc; -1 (nothing put) when that
 * would pass end. */
static int put_byte(char *buf, size_t *o, size_t end, unsigned char c, int esc)
{
    static const char hex[] = "0123456789abcdef";
    if (*o + (esc ? 4 : 1) > end)
        return -1;
    if (!esc) {
        buf[(*o)++] = (char)c;
        return 0;
    }
    buf[(*o)++] = '\\';
    buf[(*o)++] = 'x';
    buf[(*o)++] = hex[c >> 4];
    buf[(*o)++] = hex[c & 15];
    return 0;
}

char *tropt_id_shown(char *buf, const char *s)
{
    if (!s)
        s = "(null)";
    size_t o = 0, i;
    for (i = 0; s[i] && i < 64; i++) {
        unsigned char c = (unsigned char)s[i];
        put_byte(buf, &o, TROPT_ID_SHOWN_MAX - 4, c, c < 0x20 || c >= 0x7f || c == '\\');
    }
    if (s[i]) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

char *tropt_text_shown(char *buf, size_t size, const char *s)
{
    size_t o = 0, end = size - 1;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) { /* C1, as UTF-8 */
            if (o + 8 > end)
                break;
            put_byte(buf, &o, end, p[0], 1);
            put_byte(buf, &o, end, *++p, 1);
        } else if (put_byte(buf, &o, end, *p, *p < 0x20 || *p == 0x7f) != 0) {
            break;
        }
    }
    buf[o] = '\0';
    return buf;
}
