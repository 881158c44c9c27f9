/*
 * tools/report/report_series.h - one run's series while its steps stream
 * in (report_data.c's helper): a table of keys, each with its streaming
 * downsampler, turned into rp_series once the run is read.
 */
#ifndef TROPT_REPORT_SERIES_H
#define TROPT_REPORT_SERIES_H

#include <tropt/host.h>

#include "report_data.h"

typedef struct {
    rp_series *s;
    rp_m4s *m4;
    size_t n, cap;
    size_t *tab; /* open addressing: index + 1, 0 empty */
    size_t tab_cap;
    size_t *at; /* at[k]: the series of field k of the previous step, + 1 */
    size_t n_at;
    size_t max_iv; /* intervals each downsampler holds while reading */
} rp_set;

/* An empty set whose downsamplers hold at most max_iv intervals. */
void rp_set_init(rp_set *ss, size_t max_iv);

/* Add one step's fields: numbers to their series, strings and JSON as the
 * series' last text, nulls skipped.  Returns 0, or -1 when out of memory. */
int rp_set_step(rp_set *ss, int64_t step, double time, const tropt_field *f, size_t n);

/* Downsample each series to at most `buckets` intervals (0: keep every
 * point; a series of at most 4 * buckets points read whole keeps them all),
 * sort them by key and hand them to run (which then owns them).  The set is
 * emptied either way.  Returns 0, or -1 when out of memory (run then holds
 * what was finished, for rp_free). */
int rp_set_finish(rp_set *ss, size_t buckets, rp_run *run);

/* Release what the set holds (after a failure). */
void rp_set_free(rp_set *ss);

/* A field's value as the tables show it: reals shortest round-trip,
 * strings as stored, JSON compact.  malloc'd; NULL when out of memory. */
char *rp_field_text(const tropt_field *f);

/* Release one finished series' memory. */
void rp_series_free(rp_series *s);

#endif
