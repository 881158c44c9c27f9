/*
 * plugins/csv/csv_text.c - CSV cells (see csv_text.h).
 */
#include "csv_text.h"

#include "tropt_mem.h"

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
        return tev_buf_puts(b, "null"); /* an empty cell is "not logged" */
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

static const char *const type_names[] = {"", "null", "bool", "int", "real", "string", "json"};

const char *csv_type_name(int t)
{
    return t > CSV_T_NONE && t <= CSV_T_JSON ? type_names[t] : "";
}

int csv_type_of_name(const char *s)
{
    for (int t = CSV_T_NULL; t <= CSV_T_JSON; t++)
        if (strcmp(s, type_names[t]) == 0)
            return t;
    return CSV_T_NONE;
}

int csv_type_of_field(const tropt_field *f)
{
    switch (f->type) {
    case TROPT_NULL:
        return CSV_T_NULL;
    case TROPT_BOOL:
        return CSV_T_BOOL;
    case TROPT_INT:
        return CSV_T_INT;
    case TROPT_REAL:
        return CSV_T_REAL;
    case TROPT_STRING:
        return CSV_T_STRING;
    case TROPT_JSON:
        return CSV_T_JSON;
    }
    return CSV_T_NONE;
}

static int rec_putc(const tropt_host *h, csv_record *rec, char c)
{
    if (tropt_host_grow(h, (void **)&rec->buf, &rec->cap, rec->len + 2, 1) != 0)
        return -1;
    rec->buf[rec->len++] = c;
    return 0;
}

static int rec_end_cell(const tropt_host *h, csv_record *rec, size_t start, int quoted)
{
    if (tropt_host_grow(h, (void **)&rec->cells, &rec->ncap, rec->n + 1, sizeof *rec->cells) != 0)
        return -1;
    rec->cells[rec->n++] = (csv_cell){start, rec->len - start, quoted};
    return rec_putc(h, rec, '\0');
}

/* The rest of a quoted cell, after its opening quote, up to its closing
 * one: 0, -1 out of memory, 2 end of file inside it. */
static int read_quoted(const tropt_host *h, FILE *f, csv_record *rec)
{
    for (int c = getc_unlocked(f);; c = getc_unlocked(f)) {
        if (c == EOF)
            return 2;
        if (c == '"') {
            int d = getc_unlocked(f);
            if (d != '"') {
                ungetc(d, f);
                return 0;
            }
        }
        rec->lines += c == '\n';
        if (rec_putc(h, rec, (char)c))
            return -1;
    }
}

/* (getc_unlocked: a record is read by one thread, and getc's lock per byte
 * was most of the time of reading a file.) */
int csv_read_record(const tropt_host *h, FILE *f, csv_record *rec)
{
    rec->len = rec->n = 0;
    rec->lines = 0;
    int c = getc_unlocked(f);
    if (c == EOF)
        return 0;
    size_t start = 0;
    int quoted = 0;
    for (;; c = getc_unlocked(f)) {
        if (c == EOF)
            return 2;
        if (c == '"' && rec->len == start && !quoted) {
            int rc = read_quoted(h, f, rec);
            if (rc)
                return rc;
            quoted = 1;
            continue;
        }
        if (c == ',' || c == '\n') {
            if (rec_end_cell(h, rec, start, quoted))
                return -1;
            if (c == '\n') {
                rec->lines++;
                return 1;
            }
            start = rec->len;
            quoted = 0;
            continue;
        }
        if (c == '\r')
            continue; /* CRLF */
        if (rec_putc(h, rec, (char)c))
            return -1;
    }
}

void csv_record_free(const tropt_host *h, csv_record *rec)
{
    h->free(rec->buf);
    h->free(rec->cells);
    rec->buf = NULL;
    rec->cells = NULL;
    rec->len = rec->cap = rec->n = rec->ncap = 0;
}
