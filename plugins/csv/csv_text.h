/*
 * plugins/csv/csv_text.h - RFC 4180 cells.  The bytes go into the toolkit's
 * tev_buf (plugins/common/tropt_event.h), a JSON value through its
 * lossless writer; both allocate through the buffer's allocator, the host's.
 * Each function returns 0, or -1 when memory ran out (b keeps its bytes
 * up to the failed cell).
 */
#ifndef TROPT_CSV_TEXT_H
#define TROPT_CSV_TEXT_H

#include <stdio.h>
#include <tropt/plugin.h>

#include "tropt_event.h"

/* Room a formatted number needs: an int64 or a real (format_real writes at
 * most 25 bytes and a NUL). */
#define CSV_NUM_MAX 48

/* Append s (n bytes) as one CSV cell: bare when it holds no ',', '"', CR or
 * LF and is not empty, else "double-quoted" with '"' doubled.  An empty
 * string is written as "" so that it differs from a missing cell. */
int csv_put_cell(tev_buf *b, const char *s, size_t n);

/* Whether key k matches _*(step|time): its wide column is named with one
 * more leading '_', so the fixed step and time columns stay unique and the
 * mapping stays one-to-one. */
int reserved_key(const char *k);

/* The key a wide column holds, the inverse of that: a column named _step,
 * __time, ... loses one leading '_'; any other name (a foreign file's bare
 * "step" included) is the key itself.  Returns a pointer into name. */
const char *csv_column_key(const char *name);

/* Append one field's value as a CSV cell (already quoted as needed). */
int csv_put_value(const tropt_host *h, tev_buf *b, const tropt_field *f, tev_buf *scratch);

/* ---- the type record (types.csv, README.md "Types") ---- */

/* The type of a key's cells from a row of metrics.csv on.  CSV_T_NONE: no
 * record (a folder written before types.csv, or a key not recorded). */
enum { CSV_T_NONE, CSV_T_NULL, CSV_T_BOOL, CSV_T_INT, CSV_T_REAL, CSV_T_STRING, CSV_T_JSON };

/* The name of type t in types.csv ("null", "bool", "int", "real",
 * "string", "json"; "" for CSV_T_NONE). */
const char *csv_type_name(int t);

/* The type named s, CSV_T_NONE when s names none. */
int csv_type_of_name(const char *s);

/* The type a field is recorded as. */
int csv_type_of_field(const tropt_field *f);

/* ---- reading records ---- */

typedef struct csv_cell {
    size_t off, len; /* the unquoted text at buf + off, NUL-terminated */
    int quoted;      /* it was "double-quoted" (so "" is an empty string) */
} csv_cell;

/* One record, its cells unquoted into buf.  Reused from record to record;
 * csv_record_free releases it. */
typedef struct csv_record {
    char *buf;
    size_t len, cap;
    csv_cell *cells;
    size_t n, ncap;
    long lines; /* line ends (LF) the record took, its own included */
} csv_record;

/* Read the next record of f (RFC 4180; CRLF or LF record ends), memory from
 * h.  Returns 1 read, 0 end of file, 2 a last record cut before its line
 * end (not returned), -1 out of memory. */
int csv_read_record(const tropt_host *h, FILE *f, csv_record *rec);

void csv_record_free(const tropt_host *h, csv_record *rec);

#endif
