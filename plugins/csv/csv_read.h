/* plugins/csv/csv_read.h - the csv backend's reader hooks (ABI 1.1), and
 * what the reader's files share. */
#ifndef TROPT_CSV_READ_H
#define TROPT_CSV_READ_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <jansson.h>
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

/* Open <folder>/<name> (types.csv, or types.attempt<k>.csv; none is not
 * an error: t->f stays NULL).  0, or TROPT_ENOMEM reported through h. */
int csv_typer_open(csv_typer *t, const tropt_host *h, const char *folder, const char *name);

/* The next record in force at data row `row` (its row <= row): 1 with
 * *key (valid until the next call) and *type, 0 when none is left for
 * this row, TROPT_ENOMEM (negative) when out of memory.  A malformed
 * record is skipped with a warning naming the file and line. */
int csv_typer_next(csv_typer *t, uint64_t row, const char **key, int *type);

void csv_typer_close(csv_typer *t);

/* ---- csv_order.c: a run whose steps are not ascending ---- */

/* A step of metrics.csv: its record (wide), or its run of consecutive
 * records with the same step and time cells (long). */
typedef struct csv_steprec {
    int64_t step; /* INT64_MIN: not a step (the record is refused when read) */
    uint64_t row; /* the index of its (first) data record */
    off_t off;    /* where that record starts */
    long line;    /* the line it starts on */
    uint64_t nrec;
} csv_steprec;

typedef struct csv_steps {
    csv_steprec *v;
    size_t n, cap;
} csv_steps;

/*
 * What the steps of one metrics file are (an attempt's), counted as rows
 * reach it (the writer) or by a scan of its step cells (csv_steps_scan):
 * run.json keeps them per attempt with the bytes they cover, so listing a
 * run reads at most the records written since (README.md "run.json").
 */
typedef struct csv_stepstat {
    uint64_t rows;  /* steps: wide records; long runs of records of one step */
    int64_t first;  /* the first row's step */
    int64_t end;    /* the last row's step */
    int64_t max;    /* the highest step */
    int ascending;  /* each row's step above the one before */
    int contiguous; /* each row's step the one before + 1 */
    int64_t bytes;  /* the file's bytes these cover: complete records only */
    int64_t inode;  /* the file they were counted in (a rewrite replaces it) */
} csv_stepstat;

/* The name of attempt k's file of kind `what` ("metrics", "types"):
 * "<what>.csv" for attempt 1, "<what>.attempt<k>.csv" after it. */
void csv_attempt_file(int64_t k, const char *what, char *buf, size_t size);

/* Count one more row of step `step`. */
void csv_stat_add(csv_stepstat *st, int64_t step);

/*
 * Bring st up to the complete records of the metrics file f (its inode
 * and size by fstat): nothing to do when they are st's; the records after
 * st->bytes when f is st's file grown; every record again (st reset) when
 * f is another file (rewritten since) or shorter.  1 when st changed, 0
 * when not, -1 when out of memory or f cannot be read (errno set).
 */
int csv_stat_refresh(const tropt_host *h, FILE *f, int long_layout, csv_stepstat *st);

/* st into the attempt object att of run.json ("rows", "first_step", ...);
 * -1 when out of memory. */
int csv_stat_put(json_t *att, const csv_stepstat *st);

/* st from the attempt object att (all zero, rows 0, when it has none). */
void csv_stat_get(const json_t *att, csv_stepstat *st);

/*
 * The run's highest step (-1: none) and its distinct current steps (-1:
 * unknown without reading the files: an attempt whose steps repeat or,
 * where a later attempt supersedes part of it, are not contiguous), from
 * the counts of the attempts (run.json's "attempts", in order).
 */
void csv_run_steps(const json_t *attempts, int64_t *last_step, int64_t *n_steps);

/*
 * Scan metrics.csv from offset off (its first data record, on line `line`)
 * without typing its values: 1 when each step is above the one before (the
 * file can be streamed as it is), 0 when not (steps repeated or out of
 * order: a run that went back to earlier steps), -1 when out of memory or
 * the file cannot be read (errno set).  With idx not NULL, fills it with
 * every step of the file, in file order; with st not NULL, counts each
 * step into it (st->bytes: the end of the last complete record).
 */
int csv_steps_scan(const tropt_host *h, FILE *f, off_t off, long line, int long_layout,
                   csv_steps *idx, csv_stepstat *st);

/* Sort idx by step, the records of one step in file order; records that
 * are no step stay first. */
void csv_steps_sort(csv_steps *idx);

void csv_steps_free(const tropt_host *h, csv_steps *idx);

/* types.csv in memory, to type rows read in any order. */
typedef struct csv_typemap {
    const tropt_host *h;
    json_t *keys; /* key -> index into lists */
    struct csv_typelist {
        uint64_t *row;
        unsigned char *type;
        size_t n, cap;
    } * lists;
    size_t nlists, cap;
} csv_typemap;

/* Load <folder>/<name> (none: an empty map).  0, or TROPT_ENOMEM
 * reported through h. */
int csv_typemap_load(csv_typemap *tm, const tropt_host *h, const char *folder, const char *name);

/* The type key's cells have at data row `row`; CSV_T_NONE without a
 * record at or before it. */
int csv_typemap_at(const csv_typemap *tm, const char *key, uint64_t row);

void csv_typemap_free(csv_typemap *tm);

/* ---- csv_runinfo.c: the reader's ABI 1.2 side ---- */

/* The checkpoint marks of checkpoints.csv, the last record of each
 * (attempt, seq), in the order they were first written. */
typedef struct csv_marks {
    tropt_checkpoint *v; /* path, sha256, error owned (host memory) */
    size_t n, cap;
} csv_marks;

/* A stored run's ABI 1.2 members and what they point at. */
typedef struct csv_info {
    tropt_stored_run ri; /* the caller fills the ABI 1.1 members first */
    int long_layout;
    const char **tags;
    tropt_provenance prov;
    tropt_attempt *atts; /* every attempt, in order */
    size_t n_atts;
    json_t *counts; /* the attempts with their counts up to date */
    csv_marks marks;
} csv_info;

/* Fill ci's ABI 1.2 members from run.json (borrowed: keep it alive while
 * ci is used) and the run folder's files.  0, or an error reported
 * through h; csv_info_free releases ci either way. */
int csv_info_fill(const tropt_host *h, const char *folder, const json_t *run, csv_info *ci);
void csv_info_free(const tropt_host *h, csv_info *ci);

/* Load <folder>/checkpoints.csv (none: no marks).  0, or TROPT_ENOMEM. */
int csv_marks_load(const tropt_host *h, const char *folder, csv_marks *mk);
void csv_marks_free(const tropt_host *h, csv_marks *mk);

/* The CHECKPOINT events of `attempt`; fn's non-zero result returned. */
int csv_marks_emit(const csv_marks *mk, int64_t attempt, const tropt_stored_run *ri,
                   tropt_event_fn fn, void *ud);

/* The SYSTEM events of `attempt` from <folder>/system.csv, in time order
 * (one event per time).  fn's non-zero result or an error returned. */
int csv_system_emit(const tropt_host *h, const char *folder, int64_t attempt,
                    const tropt_stored_run *ri, tropt_event_fn fn, void *ud);

#endif
