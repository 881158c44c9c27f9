/* plugins/common/tropt_hint.c - see tropt_hint.h. */
#include "tropt_hint.h"

#include <string.h>

static int shell_plain(const char *s)
{
    if (!*s)
        return 0;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        int ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                 strchr("_-./:=@%+,", *c) != NULL;
        if (!ok)
            return 0;
    }
    return 1;
}

int tropt_hint_shell_word(tev_buf *b, const char *s, int always)
{
    if (!always && shell_plain(s))
        return tev_buf_puts(b, s);
    int bad = tev_buf_putc(b, '\'');
    for (const char *c = s; *c && !bad; c++)
        bad = *c == '\'' ? tev_buf_puts(b, "'\\''") : tev_buf_putc(b, *c);
    return bad ? -1 : tev_buf_putc(b, '\'');
}

int tropt_hint_spec_option(tev_buf *b, const char *key, const char *value)
{
    int bad = 0;
    if (b->len && b->data[b->len - 1] != ':')
        bad |= tev_buf_putc(b, ',');
    bad |= tev_buf_puts(b, key) | tev_buf_putc(b, '=');
    int raw = *value && !strpbrk(value, ",;\" \t\n\r");
    if (raw)
        return bad | tev_buf_puts(b, value);
    bad |= tev_buf_putc(b, '"');
    for (const char *c = value; *c && !bad; c++)
        bad = (*c == '"' || *c == '\\') ? tev_buf_putc(b, '\\') | tev_buf_putc(b, *c)
                                        : tev_buf_putc(b, *c);
    return bad ? -1 : tev_buf_putc(b, '"');
}

int tropt_hint_conninfo_value(tev_buf *b, const char *s)
{
    if (*s && !strpbrk(s, " \t\n\r\f\v'\\"))
        return tev_buf_puts(b, s);
    int bad = tev_buf_putc(b, '\'');
    for (const char *c = s; *c && !bad; c++)
        bad = (*c == '\'' || *c == '\\') ? tev_buf_putc(b, '\\') | tev_buf_putc(b, *c)
                                         : tev_buf_putc(b, *c);
    return bad ? -1 : tev_buf_putc(b, '\'');
}
