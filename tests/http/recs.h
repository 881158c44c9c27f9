/*
 * tests/http/recs.h - the events an http test sent, a server received and
 * a spool kept, decoded from NDJSON (plugins/common's event format), and
 * the assertions over them shared by test_http.c and test_http_faults.c.
 */
#ifndef TROPT_TESTS_HTTP_RECS_H
#define TROPT_TESTS_HTTP_RECS_H

#include <stddef.h>
#include <stdint.h>

#include "tropt_event.h"

/* One event: its type, run and step (-1 for run_start and run_end). */
typedef struct rec {
    tev_type type;
    char run_id[40];
    int64_t step;
} rec;

typedef struct recs {
    rec *v; /* malloc'd; free(v) */
    size_t n, cap;
} recs;

/* Append every event of NDJSON text (fails the test on a line that does
 * not decode). */
void recs_add_text(recs *r, const char *text);

/* Append the events of every file of dir whose name starts with prefix
 * ("" for all), in name order, skipping dot files and *.tmp; each file
 * must end with a newline.  Returns the number of files read. */
int recs_from_dir(recs *r, const char *dir, const char *prefix);

int rec_eq(const rec *a, const rec *b);

/* run_start, steps 0..steps-1, run_end of each of n_runs runs in turn. */
recs recs_expected(char run_ids[][40], int n_runs, int steps);
/* The same for one run. */
recs recs_expected_run(const char *run_id, int steps);

/* got is want, event for event (what names the stream in messages). */
void recs_assert_in_order(const char *what, const recs *got, const recs *want);

/* Acknowledged events are in order without duplicates, the spool holds no
 * event twice (a run_start may repeat), and acknowledged + spooled cover
 * everything wanted. */
void recs_assert_nothing_lost(const recs *acked, const recs *spooled, const recs *want);

#endif
