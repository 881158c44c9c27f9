/*
 * tools/source.h - the one run source of the `tropt` commands that read
 * runs (runs, show, compare, replay --from).
 *
 * A source is a reader (include/tropt/host.h, tropt_reader_*) over one
 * backend: `--db PATH` is exactly `--from sqlite:path=PATH`, and with
 * neither the source is ./tropt.db.  Everything a command shows comes
 * through it, so every backend prints the same thing for the same run, and
 * the run status is the one the core's reader layer decides
 * (core/status.c).  Nothing here knows a backend: a question only one
 * backend can answer cheaply belongs in that backend's reader.
 *
 * A run is loaded whole into a cli_run: its identity, its config and
 * summary (typed, sorted by key), and per metric key the last value (by
 * step) with its step and the min/max over its numeric values.  Loading
 * streams the run, so memory is bounded by the number of keys, not steps.
 *
 * Every function prints nothing; failures return -1 with a message for
 * people in the source's error slot (cli_source_error).
 */
#ifndef TROPT_CLI_SOURCE_H
#define TROPT_CLI_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include <tropt/plugin.h>
#include <tropt/tracker.h>

/* Where a run came from (tropt_provenance, owned); NULL members: unknown. */
typedef struct cli_provenance {
    char *command, *cwd, *git_commit, *version;
} cli_provenance;

/* One run's identity, owned (a copy of a tropt_stored_run). */
typedef struct cli_run_info {
    char *run_id, *experiment, *status;
    char *host;        /* the latest attempt's writer; NULL when the backend does not store it */
    double started_at; /* Unix seconds: the first attempt's start */
    double ended_at;   /* NaN while the run is open */
    int64_t pid;       /* the latest attempt's writer */
    char *name;        /* never NULL: stored, or derived from the id by the core */
    char **tags;       /* n_tags, in the order they were added */
    size_t n_tags;
    char *note;              /* NULL: none */
    int64_t attempts;        /* >= 1 */
    int64_t last_step;       /* the highest step stored (any attempt); -1: none */
    int64_t checkpoint_step; /* the step of the latest checkpoint mark; -1: none */
    char *resume_key;        /* NULL: none */
    cli_provenance prov;
} cli_run_info;

/* One attempt of a run (tropt_attempt, owned). */
typedef struct cli_attempt {
    int64_t attempt, from_step;
    double started_at, ended_at; /* ended_at NaN: open, or never ended */
    char *status;                /* as stored (cli_attempt_status says what to show) */
    char *host;                  /* NULL: unknown */
    int64_t pid;
} cli_attempt;

/* One checkpoint mark (tropt_checkpoint, owned). */
typedef struct cli_mark {
    int64_t attempt, seq, step;
    double time;
    char *path;
    int64_t size; /* -1: unknown */
    char *sha256; /* NULL: the hash never arrived */
    char *error;  /* why it never will; NULL */
} cli_mark;

/* One metric key of a run. */
typedef struct cli_metric {
    char *key;
    tropt_field last;  /* the value at the largest step (owned; last.key == key) */
    int64_t last_step; /* that step */
    size_t n;          /* values logged */
    size_t n_num;      /* of which numbers (int or real, NaN included) */
    double min, max;   /* over the numeric values that are not NaN; NaN if none */
} cli_metric;

/* One run, loaded. */
typedef struct cli_run {
    cli_run_info info;
    tropt_field *config; /* flattened config, sorted by key; owned */
    size_t n_config;
    tropt_field *summary; /* flattened summary, sorted by key; owned */
    size_t n_summary;
    cli_metric *metrics; /* sorted by key */
    size_t n_metrics;
    int64_t steps;         /* steps stored (current values: superseded steps not counted) */
    int64_t max_step;      /* the largest step, -1 when none */
    cli_attempt *attempts; /* every attempt, in order (at least one) */
    size_t n_attempts;
    cli_mark *marks; /* checkpoint marks, in the order read ((attempt, seq) once each) */
    size_t n_marks;
    size_t n_system; /* system sample records read */
} cli_run;

typedef struct cli_source cli_source;

/*
 * Open the source that `--db PATH` (db) or `--from SPEC` (from) names; at
 * most one of them non-NULL; neither: ./tropt.db.  Returns 0 with *out
 * owning the source, or -1 with *out NULL and *err a malloc'd message for
 * people (the caller frees it; when the default ./tropt.db does not exist it
 * says to give --db or --from).
 */
int cli_source_open(cli_source **out, const char *db, const char *from, char **err);

/* The spec as messages may show it (backend name, path= or dir= only). */
const char *cli_source_name(const cli_source *s);

/* The whole spec the source reads (secrets included: never print it); a
 * tracker opened on it writes to the same store (tropt tag, tropt rm). */
const char *cli_source_spec(const cli_source *s);

/* The last failure's message (never NULL). */
const char *cli_source_error(const cli_source *s);

/* Every run, oldest first: a malloc'd array of *n owned infos (free with
 * cli_run_infos_free).  0, or -1 (message in the source). */
int cli_source_list(cli_source *s, cli_run_info **out, size_t *n);
void cli_run_infos_free(cli_run_info *v, size_t n);

/*
 * Find the run a full id, a unique id prefix or a name names
 * (tropt_reader_resolve: an id wins over a name).  0 with *id a malloc'd
 * full run id; -1 when no run or several match (the message lists the
 * candidates with their names, start times and status, one a line) or on
 * failure.
 */
int cli_source_find(cli_source *s, const char *ref, char **id);

/* The listed run whose id is `id`, NULL when absent. */
const cli_run_info *cli_run_infos_find(const cli_run_info *v, size_t n, const char *id);

/* What to show as attempt i's status of run r: the stored one, except that
 * the latest attempt shows the run's status (the core's rule) and an
 * earlier one stored "running" (its process died, a later one continued)
 * shows "crashed".  Static or borrowed from r. */
const char *cli_attempt_status(const cli_run *r, size_t i);

/* Stream run `id` (a full id) through fn, as tropt_reader_read_run does.
 * 0, or -1 (fn's non-zero return, or a failure with its message). */
int cli_source_stream(cli_source *s, const char *id, tropt_event_fn fn, void *userdata);

/* cli_source_stream with every stored event, the steps a later attempt
 * superseded too (tropt_reader_read_history: ev->superseded 1), for
 * copying a run whole (replay). */
int cli_source_history(cli_source *s, const char *id, tropt_event_fn fn, void *userdata);

/* Read run `id` (a full id) into *out (cli_run_free releases it).  0, or -1
 * with *out empty. */
int cli_source_load(cli_source *s, const char *id, cli_run *out);
void cli_run_free(cli_run *r);

/*
 * Open a tracker on the store the source reads (its whole spec), to change
 * what it holds (tropt_tracker_annotate_run, tropt_tracker_delete_run).
 * 0 with *t owning it (tropt_tracker_free), or -1 (message in the source).
 */
int cli_source_tracker(cli_source *s, tropt_tracker **t);

/* Release the source (NULL: nothing). */
void cli_source_free(cli_source *s);

/* The metric of run r named key, NULL when it has none. */
const cli_metric *cli_run_metric(const cli_run *r, const char *key);

/* The field of a sorted array named key, NULL when absent. */
const tropt_field *cli_fields_find(const tropt_field *f, size_t n, const char *key);

/*
 * The run's primary metric: `key` when not NULL (NULL when the run does not
 * log it), else `loss`, else the one key whose last `/` segment is `loss`
 * (`train/loss`), else NULL.
 */
const cli_metric *cli_run_primary(const cli_run *r, const char *key);

#endif
