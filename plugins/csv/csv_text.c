/*
 * plugins/csv/csv_text.c - buffers, CSV cells and JSON text (see csv_text.h).
 */
#include "csv_text.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

int csv_buf_reserve(const tropt_host *h, csv_buf *b, size_t extra)
{
    if (b->n + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + extra + 1) {
        if (cap > SIZE_MAX / 2)
            return -1;
        cap *= 2;
    }
    char *p = h->realloc(b->p, cap);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

int csv_buf_put(const tropt_host *h, csv_buf *b, const char *s, size_t n)
{
    if (csv_buf_reserve(h, b, n) != 0)
        return -1;
    if (n)
        memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return 0;
}

int csv_buf_puts(const tropt_host *h, csv_buf *b, const char *s)
{
    return csv_buf_put(h, b, s, strlen(s));
}

int csv_buf_putc(const tropt_host *h, csv_buf *b, char ch)
{
    return csv_buf_put(h, b, &ch, 1);
}

void csv_buf_free(const tropt_host *h, csv_buf *b)
{
    h->free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

size_t csv_put_i64(char *o, int64_t v)
{
    static const char digits2[200] = "00010203040506070809"
                                     "10111213141516171819"
                                     "20212223242526272829"
                                     "30313233343536373839"
                                     "40414243444546474849"
                                     "50515253545556575859"
                                     "60616263646566676869"
                                     "70717273747576777879"
                                     "80818283848586878889"
                                     "90919293949596979899";
    char tmp[24];
    char *p = tmp + sizeof tmp;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    while (u >= 100) {
        p -= 2;
        memcpy(p, digits2 + 2 * (u % 100), 2);
        u /= 100;
    }
    if (u >= 10) {
        p -= 2;
        memcpy(p, digits2 + 2 * u, 2);
    } else {
        *--p = (char)('0' + u);
    }
    if (v < 0)
        *--p = '-';
    size_t n = (size_t)(tmp + sizeof tmp - p);
    memcpy(o, p, n);
    return n;
}

int csv_put_cell(const tropt_host *h, csv_buf *b, const char *s, size_t n)
{
    int quote = n == 0;
    size_t dq = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '"')
            dq++;
        if (ch == '"' || ch == ',' || ch == '\r' || ch == '\n')
            quote = 1;
    }
    if (!quote)
        return csv_buf_put(h, b, s, n);
    if (csv_buf_reserve(h, b, n + dq + 2) != 0)
        return -1;
    char *o = b->p + b->n;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            *o++ = '"';
        *o++ = s[i];
    }
    *o++ = '"';
    b->n = (size_t)(o - b->p);
    b->p[b->n] = '\0';
    return 0;
}

int csv_put_value(const tropt_host *h, csv_buf *b, const tropt_field *f, csv_buf *scratch)
{
    char num[48];
    switch (f->type) {
    case TROPT_NULL:
        return 0; /* an empty cell */
    case TROPT_BOOL:
        return csv_buf_puts(h, b, f->v.b ? "true" : "false");
    case TROPT_INT:
        return csv_buf_put(h, b, num, csv_put_i64(num, f->v.i));
    case TROPT_REAL:
        /* "-0" is the shortest form of -0.0, but readers that type a
         * column (pandas) take it for the integer 0 and lose the sign. */
        if (f->v.r == 0 && signbit(f->v.r))
            return csv_buf_puts(h, b, "-0.0");
        h->format_real(num, sizeof num, f->v.r);
        return csv_buf_puts(h, b, num);
    case TROPT_STRING:
        return csv_put_cell(h, b, f->v.s, strlen(f->v.s));
    case TROPT_JSON:
        scratch->n = 0;
        if (csv_put_json(h, scratch, f->v.json, -1) != 0)
            return -1;
        return csv_put_cell(h, b, scratch->p, scratch->n);
    }
    return 0;
}

static int put_json_string(const tropt_host *h, csv_buf *b, const char *s, size_t n)
{
    if (csv_buf_putc(h, b, '"') != 0)
        return -1;
    size_t run = 0; /* bytes copied verbatim, in bulk */
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        const char *esc = NULL;
        char u[8];
        if (ch == '"')
            esc = "\\\"";
        else if (ch == '\\')
            esc = "\\\\";
        else if (ch == '\n')
            esc = "\\n";
        else if (ch == '\r')
            esc = "\\r";
        else if (ch == '\t')
            esc = "\\t";
        else if (ch < 0x20 || ch == 0x7f) {
            snprintf(u, sizeof u, "\\u%04x", ch);
            esc = u;
        }
        if (!esc)
            continue;
        if (csv_buf_put(h, b, s + run, i - run) != 0 || csv_buf_puts(h, b, esc) != 0)
            return -1;
        run = i + 1;
    }
    if (csv_buf_put(h, b, s + run, n - run) != 0)
        return -1;
    return csv_buf_putc(h, b, '"');
}

static int put_indent(const tropt_host *h, csv_buf *b, int indent, int depth)
{
    if (indent < 0)
        return 0;
    if (csv_buf_putc(h, b, '\n') != 0)
        return -1;
    for (int i = 0; i < indent * depth; i++)
        if (csv_buf_putc(h, b, ' ') != 0)
            return -1;
    return 0;
}

static int put_json(const tropt_host *h, csv_buf *b, const json_t *v, int indent, int depth)
{
    char num[48];
    switch (json_typeof(v)) {
    case JSON_NULL:
        return csv_buf_puts(h, b, "null");
    case JSON_TRUE:
        return csv_buf_puts(h, b, "true");
    case JSON_FALSE:
        return csv_buf_puts(h, b, "false");
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return csv_buf_puts(h, b, num);
    case JSON_REAL: {
        size_t n = h->format_real(num, sizeof num - 2, json_real_value(v));
        if (!strpbrk(num, ".eEni"))
            memcpy(num + n, ".0", 3);
        return csv_buf_puts(h, b, num);
    }
    case JSON_STRING:
        return put_json_string(h, b, json_string_value(v), json_string_length(v));
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        if (csv_buf_putc(h, b, '[') != 0)
            return -1;
        for (size_t i = 0; i < n; i++) {
            if ((i && csv_buf_putc(h, b, ',') != 0) || put_indent(h, b, indent, depth + 1) != 0 ||
                put_json(h, b, json_array_get(v, i), indent, depth + 1) != 0)
                return -1;
        }
        if (n && put_indent(h, b, indent, depth) != 0)
            return -1;
        return csv_buf_putc(h, b, ']');
    }
    case JSON_OBJECT: {
        const char *key;
        json_t *m;
        size_t i = 0;
        if (csv_buf_putc(h, b, '{') != 0)
            return -1;
        json_object_foreach((json_t *)v, key, m)
        {
            if ((i++ && csv_buf_putc(h, b, ',') != 0) || put_indent(h, b, indent, depth + 1) != 0 ||
                put_json_string(h, b, key, strlen(key)) != 0 ||
                csv_buf_puts(h, b, indent < 0 ? ":" : ": ") != 0 ||
                put_json(h, b, m, indent, depth + 1) != 0)
                return -1;
        }
        if (i && put_indent(h, b, indent, depth) != 0)
            return -1;
        return csv_buf_putc(h, b, '}');
    }
    }
    return 0;
}

int csv_put_json(const tropt_host *h, csv_buf *b, const json_t *v, int indent)
{
    return put_json(h, b, v, indent, 0);
}
