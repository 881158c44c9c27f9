/*
 * tools/report.h - what `tropt report` and `tropt compare` read from a tropt
 * sqlite database, and the downsampling that keeps a long run's chart small.
 *
 * The loader reads one run at a time and keeps, per (run, metric), the
 * statistics (last, min, max, NaN and infinity counts with their first
 * steps) and a downsampled copy of the series: memory and output size depend
 * on the number of runs and metrics, never on the number of steps.
 */
#ifndef TROPT_REPORT_H
#define TROPT_REPORT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Downsampling (report_m4.c) ------------------------------------------ */

/* M4 downsampling of the finite points of y[0..n): the index range is cut
 * into `buckets` intervals of (nearly) equal point count, and of each
 * interval the first, last, smallest and largest finite point are kept, so
 * every interval's extremes survive.  Non-finite y (NaN, +-Inf) are skipped
 * (the report marks them separately).  Writes the kept indexes, ascending and
 * without repeats, to keep[] (room for 4 * buckets) and returns how many.
 * With n <= 4 * buckets every finite point is kept.  buckets >= 1. */
size_t rp_m4(const double *y, size_t n, size_t buckets, size_t *keep);

/* ---- What is read ---------------------------------------------------------- */

/* One metric of one run.  Points are (step, time, y) of the numeric values
 * kept by rp_m4; markers list the steps of the first non-finite value of
 * each interval (at most RP_MARKERS of each kind). */
#define RP_MARKERS 256
struct rp_metric {
    char *key;
    size_t n_num;   /* numeric values logged (finite or not) */
    size_t n_other; /* strings, booleans, arrays, nulls */
    size_t n_nan, n_pinf, n_ninf;
    int64_t first_nan, first_pinf, first_ninf; /* valid when the count is > 0 */
    int has_last;                              /* last/min/max valid */
    char *last; /* display text of the last value (any type), or NULL */
    int64_t last_step;
    double min, max; /* over finite numeric values; valid when has_minmax */
    int has_minmax;
    size_t n_pts;
    int64_t *step;
    double *time, *y;
    size_t n_mark[3]; /* NaN, +Inf, -Inf */
    int64_t *mark[3];
};

struct rp_run {
    char *id, *experiment, *status, *host;
    int crashed;                 /* `running` but its process is gone */
    double started_at, ended_at; /* ended_at NaN while running */
    int64_t pid, steps;
    json_t *params;  /* object: flattened key -> display text (owned) */
    json_t *summary; /* the same for the summary */
    size_t n_metrics;
    struct rp_metric *metrics; /* sorted by key */
};

struct rp_data {
    char *path;
    size_t n_runs;
    struct rp_run *runs; /* by start time, then id */
};

/* What to load.  runs: NULL-terminated run ids or unique prefixes (NULL: all
 * runs); experiment: only runs of this experiment (NULL: any); buckets: M4
 * intervals per series (0: derived from a file-size budget); series: 0 to
 * read statistics only (compare). */
struct rp_select {
    const char *const *runs;
    const char *experiment;
    size_t buckets;
    int series;
};

/* Read the database at path.  Returns 0 and fills *out (free it with
 * rp_data_free), or prints "tropt: ..." naming the path and the reason to
 * stderr and returns 1 (nothing to free).  A run prefix matching no run or
 * several runs is an error naming it. */
int rp_load(const char *path, const struct rp_select *sel, struct rp_data *out);

/* Free what rp_load filled; safe on a zeroed struct. */
void rp_data_free(struct rp_data *d);

/* Shortest %g text reading back to x ("nan", "inf", "-inf" for those). */
void rp_fmt_real(char *buf, size_t size, double x);

/* Keys (sorted) whose params differ between the runs (or that some run
 * lacks); returns a new array of borrowed key strings, or NULL when there
 * are none (*n = 0) or on allocation failure. */
const char **rp_differing_params(const struct rp_data *d, size_t *n);

/* Sorted union of the metric keys of all runs; borrowed strings, NULL when
 * there are none or on allocation failure. */
const char **rp_metric_keys(const struct rp_data *d, size_t *n);

/* How many leading characters of a run id tell the loaded runs apart (at
 * least 8): the width of the short ids both commands print. */
int rp_id_chars(const struct rp_data *d);

/* The metric `key` of run r, or NULL. */
const struct rp_metric *rp_find_metric(const struct rp_run *r, const char *key);

#endif
