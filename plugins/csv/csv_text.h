/*
 * plugins/csv/csv_text.h - growable byte buffers, RFC 4180 quoting and a
 * small JSON writer whose reals are the host's shortest round-trip form.
 * Everything allocates through the host's allocator.
 */
#ifndef TROPT_CSV_TEXT_H
#define TROPT_CSV_TEXT_H

#include <tropt/plugin.h>

typedef struct csv_buf {
    char *p;
    size_t n, cap;
} csv_buf;

/* Make room for `extra` more bytes (plus a NUL).  0 or -1 (out of memory). */
int csv_buf_reserve(const tropt_host *h, csv_buf *b, size_t extra);
int csv_buf_put(const tropt_host *h, csv_buf *b, const char *s, size_t n);
int csv_buf_puts(const tropt_host *h, csv_buf *b, const char *s);
int csv_buf_putc(const tropt_host *h, csv_buf *b, char ch);
void csv_buf_free(const tropt_host *h, csv_buf *b);

/* Room a formatted number needs: an int64 or a real (format_real writes at
 * most 25 bytes and a NUL). */
#define CSV_NUM_MAX 48

/* Write v in decimal at o (at most 20 bytes, no NUL); the length. */
size_t csv_put_i64(char *o, int64_t v);

/* Append s (n bytes) as one CSV cell: bare when it holds no ',', '"', CR or
 * LF and is not empty, else "double-quoted" with '"' doubled.  An empty
 * string is written as "" so that it differs from a missing cell. */
int csv_put_cell(const tropt_host *h, csv_buf *b, const char *s, size_t n);

/* Append one field's value as a CSV cell (already quoted as needed). */
int csv_put_value(const tropt_host *h, csv_buf *b, const tropt_field *f, csv_buf *scratch);

/* Append JSON text for v.  indent < 0: compact; else pretty with that many
 * spaces per level.  Reals use host->format_real and keep a '.' or an
 * exponent so that JSON readers see a real. */
int csv_put_json(const tropt_host *h, csv_buf *b, const json_t *v, int indent);

#endif
