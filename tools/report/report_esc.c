/* tools/report/report_esc.c - store text written as data (see report_esc.h). */
#include "report_esc.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "report_data.h"

/* The length a lead byte announces (0: not a lead byte) and the smallest
 * code point that length may hold (no overlong forms). */
static size_t lead_len(unsigned char c, uint32_t *min)
{
    *min = c >= 0xF0 ? 0x10000 : c >= 0xE0 ? 0x800 : 0x80;
    if (c >= 0xC2 && c <= 0xF4)
        return c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    return 0;
}

size_t rp_utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    uint32_t min, c;
    size_t n = lead_len(s[0], &min);
    if (n == 0)
        return 0;
    c = s[0] & (0x7Fu >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = c << 6 | (s[i] & 0x3Fu);
    }
    return c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF) ? 0 : n;
}

static const char *html_ref(unsigned char c)
{
    switch (c) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '"':
        return "&quot;";
    case '\'':
        return "&#39;";
    default:
        return NULL;
    }
}

void rp_esc(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (p && *p) {
        const char *ref = html_ref(*p);
        size_t n = rp_utf8_len(p);
        if (ref)
            fputs(ref, f);
        else if (*p < 0x20 || *p == 0x7F)
            fprintf(f, "&#x%x;", *p == 0x7F ? 0x2421u : 0x2400u + *p);
        else if (n == 0)
            fputs("\xEF\xBF\xBD", f);
        else
            fwrite(p, 1, n, f);
        p += n ? n : 1;
    }
}

void rp_jstr(FILE *f, const char *s)
{
    if (!s)
        fputs("null", f);
    else
        rp_jstr_n(f, s, strlen(s));
}

void rp_jstr_n(FILE *f, const char *s, size_t len)
{
    fputc('"', f);
    const unsigned char *end = (const unsigned char *)s + len;
    for (const unsigned char *p = (const unsigned char *)s; p < end;) {
        size_t n = rp_utf8_len(p);
        if (p + n > end)
            n = 0;
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p == '<' || *p == '>' || *p == '&' || *p == 0x7F)
            fprintf(f, "\\u%04x", *p);
        else if (n == 0)
            fputs("\\ufffd", f);
        else if (n == 3 && p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9))
            fprintf(f, "\\u20%s", p[2] == 0xA8 ? "28" : "29");
        else
            fwrite(p, 1, n, f);
        p += n ? n : 1;
    }
    fputc('"', f);
}

void rp_jnum(FILE *f, double x, int digits)
{
    char b[48];
    if (isnan(x))
        fputs("null", f);
    else if (isinf(x))
        fputs(x > 0 ? "\"inf\"" : "\"-inf\"", f);
    else {
        rp_fmt(b, sizeof b, x, digits);
        fputs(b, f);
    }
}

void rp_fmt_time(char *buf, size_t size, double t)
{
    /* 0001-01-01 .. 9999-12-31, the years strftime's %Y writes as 4 digits */
    struct tm tm;
    time_t s = (time_t)floor(t);
    if (isnan(t))
        snprintf(buf, size, "-");
    else if (!(t >= -62135596800.0 && t < 253402300800.0) || !gmtime_r(&s, &tm))
        snprintf(buf, size, "out of range (%.6g s)", t);
    else
        strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

void rp_fmt_dur(char *buf, size_t size, double d)
{
    if (!(d >= 0))
        snprintf(buf, size, "-");
    else if (d < 60)
        snprintf(buf, size, "%.1f s", d);
    else if (d < 3600)
        snprintf(buf, size, "%dm %02ds", (int)(d / 60), (int)fmod(d, 60));
    else if (d < 86400)
        snprintf(buf, size, "%dh %02dm", (int)(d / 3600), (int)fmod(d / 60, 60));
    else if (d < 86400 * 1e6)
        snprintf(buf, size, "%.0fd %02dh", floor(d / 86400), (int)fmod(d / 3600, 24));
    else
        snprintf(buf, size, "%.2g d", d / 86400);
}
