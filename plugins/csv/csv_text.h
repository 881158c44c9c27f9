/*
 * plugins/csv/csv_text.h - RFC 4180 cells.  The bytes go into the toolkit's
 * tev_buf (plugins/common/tropt_event.h), a JSON value through its
 * lossless writer; both allocate through the buffer's allocator, the host's.
 * Each function returns 0, or -1 when memory ran out (b keeps its bytes
 * up to the failed cell).
 */
#ifndef TROPT_CSV_TEXT_H
#define TROPT_CSV_TEXT_H

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

#endif
