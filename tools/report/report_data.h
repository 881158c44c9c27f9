/*
 * tools/report/report_data.h - what `tropt report` and `tropt compare` read from a
 * sqlite database, through its views only (runs, params, metrics, summary),
 * or from any backend through the reader API (`--from SPEC`).  Through the
 * views a metric value stored as NULL is read as NaN (they store NaN as
 * NULL); through a reader a null is skipped and only a NaN is a NaN.
 */
#ifndef TROPT_REPORT_DATA_H
#define TROPT_REPORT_DATA_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *key;
    char *value; /* display text: numbers as %.17g, strings as stored */
} rp_kv;

typedef struct {
    char *key;
    size_t n;                                 /* numeric points kept (after downsampling) */
    double *step, *time, *y;                  /* y: NaN, +-Inf as logged */
    size_t rows;                              /* numeric rows read (before downsampling) */
    size_t n_text;                            /* rows holding text (not charted) */
    char *last_text;                          /* the last text value, or NULL */
    size_t nan, pinf, ninf;                   /* counts of non-finite values */
    double first_nan, first_pinf, first_ninf; /* their first step */
    double last;                              /* last numeric value (by step), NaN if none */
    double min, max;                          /* over non-NaN values; NaN if none */
} rp_series;

typedef struct {
    char *id, *experiment, *status, *host;
    double started, ended; /* Unix seconds; ended NaN while running */
    int64_t pid;
    size_t steps; /* distinct steps that logged a field */
    rp_kv *params;
    size_t n_params;
    rp_kv *summary;
    size_t n_summary;
    rp_series *series; /* sorted by key */
    size_t n_series;
} rp_run;

typedef struct {
    rp_run *runs; /* ordered by start time, then run id */
    size_t n;
} rp_data;

/* How runs are chosen: experiment (NULL: any) and run id prefixes (none:
 * every run).  A prefix matching no run or two runs is an error. */
typedef struct {
    const char *db;
    const char *from; /* a reader spec (any backend with reader hooks); NULL: db */
    const char *experiment;
    const char *const *runs;
    size_t n_runs;
    size_t buckets; /* M4 intervals per series, 0: keep every point;
                       RP_AUTO_BUCKETS: fit the whole report in a bounded size */
} rp_query;

#define RP_AUTO_BUCKETS ((size_t)-1)

/* Read the chosen runs into *out.  Returns 0, or -1 with *err a malloc'd
 * message (the caller frees it) and *out empty.  The caller frees *out with
 * rp_free, on success only. */
int rp_load(const rp_query *q, rp_data *out, char **err);
void rp_free(rp_data *d);

/* Format x for display: %.*g, "nan", "inf", "-inf". */
void rp_fmt(char *buf, size_t size, double x, int digits);

#endif
