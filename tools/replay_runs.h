/*
 * tools/replay_runs.h - what `tropt replay PATH` knows about each run of
 * its input (tools/cmd_replay.c): a table from run id to the run's state,
 * filled by a first, cheap reading of the input (which runs the journal
 * deletes, every metadata change of each run) and updated while the runs
 * are replayed (the pass that replays the run, its attempt, its tracker).
 */
#ifndef TROPT_CLI_REPLAY_RUNS_H
#define TROPT_CLI_REPLAY_RUNS_H

#include <stddef.h>
#include <stdint.h>

#include <tropt/plugin.h>
#include <tropt/tracker.h>

/* One run of the input. */
typedef struct rrun {
    char *id;
    int pass;              /* the pass replaying it; 0: none yet */
    int deferred;          /* started in this pass but waits for a later one */
    int64_t attempt;       /* the attempt opened last; 0: none */
    tropt_tracker *t;      /* its tracker while an attempt is open (or it failed half) */
    int dropped;           /* could not be opened, or skipped: its events are dropped */
    int imported;          /* an attempt was opened: its metadata changes are applied */
    int said;              /* why it was skipped has been said */
    double last_time;      /* of its last event (a run left open ends crashed then) */
    char *deleted_at;      /* "FILE:LINE" of the journal's delete event; NULL */
    tropt_annotation *ann; /* its metadata changes in journal order (texts owned) */
    size_t n_ann;
} rrun;

/* Runs by id: open addressing over an array of rrun. */
typedef struct rruns {
    rrun *v;
    size_t n, cap;
    size_t *slot; /* index + 1; 0: empty */
    size_t n_slot;
} rruns;

/* The run of id, NULL when absent. */
rrun *rruns_find(rruns *m, const char *id);
/* The run of id, added (zeroed) when absent; NULL when memory ran out.
 * Adding may move every rrun: do not keep pointers across it. */
rrun *rruns_add(rruns *m, const char *id);
/* Free every run (trackers still open are freed, which finishes them
 * "aborted": close them first). */
void rruns_free(rruns *m);

/*
 * The first reading of the input files: for each `delete` event, the run's
 * deleted_at; for each `annotate` event, the change appended to the run's
 * list.  Only lines that can hold such an event are decoded.  Lines that do
 * not decode are left to the replay proper (which warns).  0; -1 when
 * memory ran out.  A file that cannot be read is left to the replay too.
 */
int rruns_prescan(rruns *m, char *const *files, int n_files);

#endif
