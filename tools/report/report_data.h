/*
 * tools/report/report_data.h - the runs `tropt report` and `tropt compare`
 * show, read from any backend through the public reader API
 * (tropt_reader_* in tropt/host.h): `--db PATH` is exactly
 * `--from sqlite:path=PATH`.  Each run's steps are streamed and downsampled
 * and smoothed as they arrive (report_m4.h), so the memory used is bounded
 * by the page, not by the store.  A null value is skipped; only a NaN is a
 * NaN.  The run status is the reader's.
 */
#ifndef TROPT_REPORT_DATA_H
#define TROPT_REPORT_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "report_m4.h"

typedef struct {
    char *key;
    char *value; /* display text: reals shortest round-trip, strings as stored */
} rp_kv;

typedef struct {
    char *key;
    size_t rows;  /* numeric points read (before downsampling) */
    size_t width; /* points per interval; 1: every point is kept */
    size_t n;     /* kept points, ascending by step */
    int64_t *step;
    double *time, *y;       /* y: NaN, +-Inf as logged */
    size_t n_iv;            /* intervals when width > 1, else 0 */
    size_t *iv_last;        /* index (in step/time/y) of each interval's last point */
    double *lo, *hi;        /* each interval's smallest and largest finite value, NaN if none */
    double *sm;             /* sm[l * n_iv + i]: smoothed at rp_levels[l], interval i's end */
    size_t n_text;          /* rows holding text (not charted) */
    char *last_text;        /* the last text value, or NULL */
    size_t nan, pinf, ninf; /* counts of non-finite values */
    double first_nan, first_pinf, first_ninf; /* their first step */
    double last;                              /* last numeric value (by step), NaN if none */
    double min, max;                          /* over non-NaN values; NaN if none */
} rp_series;

typedef struct {
    char *id, *name, *experiment, *status, *host;
    char **tags;
    size_t n_tags;
    double started, ended; /* Unix seconds; ended NaN while running */
    int64_t pid;
    size_t steps; /* steps that logged a field */
    rp_kv *params;
    size_t n_params;
    rp_kv *summary;
    size_t n_summary;
    rp_series *series; /* sorted by key (strcmp) */
    size_t n_series;
} rp_run;

typedef struct {
    rp_run *runs; /* ordered as the reader lists them: oldest first */
    size_t n;
} rp_data;

/* How runs are chosen: experiment (NULL: any) and run id prefixes (none:
 * every run).  A prefix matching no run or two runs is an error, and so is
 * a selection that matches no run at all. */
typedef struct {
    const char *db;   /* sqlite file read when from is NULL; else how messages name the store */
    const char *from; /* a reader spec (any backend with reader hooks); NULL: sqlite:path=db */
    const char *experiment;
    const char *const *runs;
    size_t n_runs;
    size_t buckets; /* intervals per series, 0: keep every point;
                       RP_AUTO_BUCKETS: fit the whole report in a bounded size */
} rp_query;

#define RP_AUTO_BUCKETS ((size_t)-1)

/* Read the chosen runs into *out.  Returns 0, or -1 with *err a malloc'd
 * message (the caller frees it) and *out empty.  The caller frees *out with
 * rp_free, on success only. */
int rp_load(const rp_query *q, rp_data *out, char **err);
void rp_free(rp_data *d);

/* Format x for display: %.*g, "nan", "inf", "-inf"; with digits >= 15 the
 * shortest of %.15g, %.16g, %.17g that reads back as x. */
void rp_fmt(char *buf, size_t size, double x, int digits);

/* The reader spec of a sqlite file: sqlite:path="PATH" (quoted as the spec
 * grammar wants).  malloc'd; NULL when out of memory. */
char *rp_sqlite_spec(const char *path);

#endif
