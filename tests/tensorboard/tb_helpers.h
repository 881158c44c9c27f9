/*
 * tests/tensorboard/tb_helpers.h - what the tensorboard test programs share
 * (tb_helpers.c).  Every function asserts (Check) instead of failing.
 */
#ifndef TROPT_TESTS_TB_HELPERS_H
#define TROPT_TESTS_TB_HELPERS_H

#include <jansson.h>
#include <sys/types.h>

#include <tropt/host.h>
#include <tropt/tracker.h>

#define PY "/usr/bin/python3"

/* A tracker on spec for experiment exp (asserted open). */
tropt_tracker *open_spec(const char *spec, const char *exp);

/* Run tbcheck.py with args; assert it printed OK; returns its output
 * (malloc'd). */
char *tbcheck(const char *args);

/* A field's value as text that tells every type and bit apart (malloc'd). */
char *show(const tropt_field *f);

/* {key: shown} of n fields (asserting each key once). */
json_t *fields_json(const tropt_field *f, size_t n);

/* What a reader gave back for one run: {"start": {key: shown}, "steps":
 * [[step, time-bits, {key: shown}]...], "end": {status, ended_at, summary
 * fields}, "info": {...}}. */
typedef struct got {
    json_t *root, *steps;
    int events;
} got;

/* The event callback that fills a got (steps asserted ascending). */
int collect(const tropt_event *ev, void *ud);

/* Read run `id` of `spec` (a prefix is fine) into a got through
 * tropt_reader_read_run; free with json_decref(g.root). */
got read_back(const char *spec, const char *id);

typedef struct listing {
    json_t *runs; /* id -> {experiment, status, steps, host, pid, started, ended, and the
                     ABI 1.2 members: name, tags, note, attempts, last_step,
                     checkpoint_step, resume_key, pidns, heartbeat_nan, provenance} */
} listing;

int list_one(const tropt_stored_run *run, void *ud);

/* Every run of spec as listed (through tropt_reader_list_runs). */
json_t *list_runs(const char *spec);

/* The only event file under dir (recursively), malloc'd. */
char *only_event_file(const char *dir);

off_t file_size(const char *path);

#endif
