/* plugins/csv/csv_read.h - the csv backend's reader hooks (ABI 1.1), and
 * what the reader's files share. */
#ifndef TROPT_CSV_READ_H
#define TROPT_CSV_READ_H

#include <stdint.h>
#include <stdio.h>
#include <tropt/plugin.h>

#include "csv_text.h"

/* The hooks of tropt_plugin (see plugin.h); `dir` is option 0: the folder
 * holding <experiment>/<run_id>/ (or one run folder itself). */
int tcr_reader_open(void **reader, const tropt_optval *opts, const tropt_host *host);
int tcr_list_runs(void *reader, tropt_run_list_fn fn, void *userdata);
int tcr_read_run(void *reader, const char *run_id, tropt_event_fn fn, void *userdata);
void tcr_reader_close(void *reader);

/* ---- csv_cells.c: a cell's value, and the type record read back ---- */

/*
 * The value of the cell s (len bytes, NUL-terminated, quoted: it was
 * "double-quoted") into f (its key left alone), when types.csv records its
 * key's type t: 1 typed, 0 the cell holds nothing (an unquoted empty cell:
 * not logged in the wide layout; empty_is_null: null, in the long layout of
 * folders written before types.csv), -1 the text is no value of type t (a
 * hand edit; f untouched).  A JSON value is parsed into *owned (the caller
 * decrefs it; NULL otherwise); a string points into s.
 */
int csv_cell_typed(const char *s, size_t len, int quoted, int empty_is_null, int t, tropt_field *f,
                   json_t **owned);

/*
 * The value of a cell whose key has no type record (a folder written before
 * types.csv): typed by its text, the inverse of what the writer prints:
 * true/false -> bool, an integer -> int, a real or nan/inf/-inf -> real, a
 * JSON array or {} -> JSON, "" quoted -> the empty string, anything else a
 * string.  Returns 1, or 0 as csv_cell_typed.
 */
int csv_cell_guess(const char *s, size_t len, int quoted, int empty_is_null, tropt_field *f,
                   json_t **owned);

/* types.csv read alongside metrics.csv: its records in row order. */
typedef struct csv_typer {
    const tropt_host *h;
    FILE *f; /* NULL: the folder has none */
    char *path;
    csv_record rec; /* the next record, when next_row < UINT64_MAX */
    uint64_t next_row;
    long line; /* the line after rec */
    int stale; /* rec was handed out: read the next one first */
} csv_typer;

/* Open <folder>/types.csv (none is not an error: t->f stays NULL).  0, or
 * TROPT_ENOMEM reported through h. */
int csv_typer_open(csv_typer *t, const tropt_host *h, const char *folder);

/* The next record in force at data row `row` (its row <= row): 1 with
 * *key (valid until the next call) and *type, 0 when none is left for
 * this row, TROPT_ENOMEM (negative) when out of memory.  A malformed
 * record is skipped with a warning naming the file and line. */
int csv_typer_next(csv_typer *t, uint64_t row, const char **key, int *type);

void csv_typer_close(csv_typer *t);

#endif
