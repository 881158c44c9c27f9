/*
 * plugins/csv/csv_text.c - CSV cells (see csv_text.h).
 */
#include "csv_text.h"

#include <math.h>
#include <string.h>

int csv_put_cell(tev_buf *b, const char *s, size_t n)
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
        return tev_buf_append(b, s, n);
    if (tev_buf_reserve(b, n + dq + 2) != 0)
        return -1;
    char *o = b->data + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            *o++ = '"';
        *o++ = s[i];
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    return 0;
}

int csv_put_value(const tropt_host *h, tev_buf *b, const tropt_field *f, tev_buf *scratch)
{
    char num[CSV_NUM_MAX];
    switch (f->type) {
    case TROPT_NULL:
        return 0; /* an empty cell */
    case TROPT_BOOL:
        return tev_buf_puts(b, f->v.b ? "true" : "false");
    case TROPT_INT:
        return tev_buf_put_i64(b, f->v.i);
    case TROPT_REAL:
        /* "-0" is the shortest form of -0.0, but readers that type a
         * column (pandas) take it for the integer 0 and lose the sign. */
        if (f->v.r == 0 && signbit(f->v.r))
            return tev_buf_puts(b, "-0.0");
        h->format_real(num, sizeof num, f->v.r);
        return tev_buf_puts(b, num);
    case TROPT_STRING:
        return csv_put_cell(b, f->v.s, strlen(f->v.s));
    case TROPT_JSON:
        tev_buf_clear(scratch);
        if (tev_put_json(scratch, f->v.json, h->format_real) != 0)
            return -1;
        return csv_put_cell(b, scratch->data, scratch->len);
    }
    return 0;
}

int reserved_key(const char *k)
{
    while (*k == '_')
        k++;
    return strcmp(k, "step") == 0 || strcmp(k, "time") == 0;
}

const char *csv_column_key(const char *name)
{
    return name[0] == '_' && reserved_key(name) ? name + 1 : name;
}
