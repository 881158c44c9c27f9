/*
 * plugins/jsonl/jsonl_priv.h - the jsonl backend's reader, shared by:
 *
 *   jsonl.c         the writer: options, the hooks, the journal's appends
 *   jsonl_read.c    opening a journal or spool folder, walking its events,
 *                   and list_runs: what each run is, gathered from its
 *                   events (identity, attempts, metadata, deletion)
 *   jsonl_stream.c  read_run: one run's events in the order plugin.h asks
 *                   (START, each attempt's steps, marks and samples, END)
 *
 * A journal only grows: a run is what its events say, the later event
 * winning (a rename, a note, the hash of a mark, a step logged again within
 * an attempt), and a run with a `delete` event after its last run_start is
 * gone.
 */
#ifndef TROPT_JSONL_PRIV_H
#define TROPT_JSONL_PRIV_H

#include <sys/types.h>

#include <jansson.h>

#include "jsonl_read.h"
#include "tropt_event.h"

typedef struct reader {
    const tropt_host *host;
    char *path;
    char **files; /* the journal, or the folder's *.jsonl in name order */
    size_t n_files, files_cap;
    /* where the event being scanned was read from (files[cur_file], at or
     * after offset cur_off: only lines that do not decode come between) */
    size_t cur_file;
    off_t cur_off;
} reader;

/* One attempt of a run, from its run_start and run_end. */
typedef struct jattempt {
    int64_t attempt, from_step;
    double started_at, ended_at;
    char status[16];
    char *host;
    int64_t pid;
    size_t file; /* where its run_start is: its config is read there again */
    off_t off;
    int64_t first, last, n; /* its logged steps: first, last, how many */
    int gaps;               /* a step that is not the one before it + 1 */
} jattempt;

typedef struct runrec {
    char run_id[40];
    char *experiment, *name, *note, *resume_key, *pidns;
    char *command, *cwd, *git_commit, *version;
    char **tags;
    size_t n_tags, tags_cap;
    jattempt *att; /* in attempt order */
    size_t n_att, att_cap;
    double started_at; /* the run's start, as its first run_start says */
    int64_t n_logs, last_step, checkpoint_step;
    int started;   /* a run_start was seen */
    int ended;     /* the latest attempt has a run_end */
    int deleted;   /* a delete event after the last run_start */
    int unordered; /* a log whose step is not above the one before it in its
                      attempt, below its attempt's first step, or out of it */
    int has_extra; /* checkpoint or system events: read_run indexes them */
} runrec;

typedef struct runlist {
    runrec *v;
    size_t n, cap;
    const char *prefix; /* only runs whose id starts with it (or NULL) */
} runlist;

/* Call fn on every event of every file, in order (warn: report the lines
 * skipped).  fn returns non-zero to stop (returned). */
typedef int (*scan_fn)(reader *r, const tev_event *ev, void *ud);
int tjl_scan(reader *r, int warn, scan_fn fn, void *ud);

/* Gather the runs (those of l->prefix) of the journal into l. */
int tjl_gather_runs(reader *r, runlist *l);
void tjl_runlist_free(reader *r, runlist *l);
/* The run as plugin.h's tropt_stored_run (pointers into rr and *prov). */
void tjl_to_info(const runrec *rr, tropt_stored_run *ri, tropt_provenance *prov);

#endif
