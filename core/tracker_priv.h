/*
 * core/tracker_priv.h - the tracker's state, shared by the files that make
 * up a tracker:
 *
 *   tracker.c     open/free, the state machine's guards (init, log, finish,
 *                 flush), fan-out of every call to every backend
 *   run.c         opening a run: its identity (id, name, attempt, provenance),
 *                 resume, import; the backends' init
 *   runname.c     run names: validation, defaults
 *   provenance.c  command line, working directory, git commit of a run
 *   resume.c      finding the run to continue in the first readable backend
 *   checkpoint.c  checkpoint marks and the thread that hashes their files
 *   meta.c        tags, notes, renames and deletions of runs
 *   system.c      the system-metrics sampler's records reaching the backends
 *
 * Every member says who writes it.  All of them are guarded by `lock`
 * unless said otherwise.
 */
#ifndef TROPT_TRACKER_PRIV_H
#define TROPT_TRACKER_PRIV_H

#include <pthread.h>
#include <sys/types.h>

#include "internal.h"

typedef struct tropt__backend {
    tropt__module mod;
    void *self;  /* the plugin's instance (a plugin may use NULL) */
    int created; /* create succeeded: destroy is owed */
    tropt_optval *opts;
    char *label;       /* the spec's name or path, prefixes messages */
    tropt__host_ex hx; /* the instance's services table (log_from prefixes label) */
    int warn_only;
    int run_open; /* init of the current run succeeded, finish not yet */
} tropt__backend;

/* The active run's identity (run.c fills it at open, clears it at close).
 * `run` is what the backends' hooks receive; its strings point into the
 * owned members below or into the tracker. */
typedef struct tropt__run_id {
    char run_id[TROPT__UUID_LEN + 1];
    char *experiment;                           /* owned, or NULL: the tracker's */
    char *host;                                 /* owned, or NULL: the tracker's */
    char *name;                                 /* owned */
    char *resume_key;                           /* owned, or NULL */
    char *pidns;                                /* owned, or NULL: the tracker's */
    char *command, *cwd, *git_commit, *version; /* owned provenance, each may be NULL */
    tropt_provenance prov;
    tropt_run run;
} tropt__run_id;

/* The run names of the tracker's store, read once for default names. */
typedef struct tropt__names {
    char **names;
    size_t n, cap;
    int loaded; /* read from the store (or found there is none) */
    int oom;
} tropt__names;

typedef struct tropt__marks tropt__marks; /* checkpoint.c */
typedef struct tropt__sys tropt__sys;     /* system.c */

struct tropt_tracker {
    pthread_mutex_t lock;
    tropt__backend *b;
    size_t nb;
    char *experiment;
    json_t *experiment_config; /* deep copy, or NULL */
    char hostname[256];
    char pidns[64]; /* this process's pid namespace, "" when unknown */

    unsigned fork_gen; /* fork_gen when opened: another value means a child */
    pid_t opener;      /* the process that opened it */

    tropt__host_opts hopts; /* tracker-wide: resume, resume_key, sys (on_error is per backend) */
    char *next_name;        /* tropt_tracker_set_run_name, for the next run */
    tropt__names names;     /* run.c: names in the store, for default names */

    int active;
    int64_t next_step;
    int steps_full; /* step INT64_MAX was logged: no next step number */
    tropt__run_id id;

    tropt__marks *marks; /* checkpoint marks of the active run, or NULL */
    tropt__sys *sys;     /* the sampler of the active run, or NULL */

    tropt__flat flat; /* reused for every step, config and summary */
};

/* ---- fan-out (tracker.c) ---- */

typedef struct tropt__first_error {
    int rc;
    char msg[1024];
} tropt__first_error;

#define TROPT__FANOUT_INIT(fe) ((fe)->rc = TROPT_OK) /* msg is written only with rc */
/* Record the outcome of one hook call on backend `be` (a warning for an
 * on_error=warn backend, else the first failure).  Returns 1 on failure. */
int tropt__note_result(tropt__first_error *fe, tropt__backend *be, int rc, const char *what);
/* Restore the first failure's message and return its code (or TROPT_OK). */
int tropt__fanout_done(const tropt__first_error *fe);
/* Finish the active run on every backend that has it open; on success the
 * tracker becomes inactive. */
int tropt__do_finish(tropt_tracker *t, const char *status, double ended_at, const json_t *summary);

/* ---- run.c ---- */

/* What a run opens as: a new run, an import, or a continuation. */
typedef struct tropt__open_req {
    const tropt_run_record *rec; /* identity given (init_run, import_run), or NULL */
    const char *resume_ref;      /* tropt_tracker_resume: the run to continue, or NULL */
    int64_t from_step;           /* with resume_ref: < 0 means from the last mark/step */
} tropt__open_req;

int tropt__run_open(tropt_tracker *t, const tropt__open_req *req, const json_t *config);
void tropt__names_free(tropt__names *s);
/* Forget the active run's identity (after its finish). */
void tropt__run_clear(tropt_tracker *t);

/* ---- runname.c ---- */

/* TROPT_EINVAL naming `what` ("run name", "tag") and the flaw, or TROPT_OK. */
int tropt__name_check(const char *name, const char *what);
/* The default name of a new run: the name tropt_run_default_name derives
 * from its id, its number counted up while `taken` holds it (taken(ud,
 * name) returns 1 for a name in use).  Returns an owned string or NULL
 * (ENOMEM recorded). */
char *tropt__name_default(const char *run_id, int (*taken)(void *, const char *), void *ud);
/* The name $TROPT_RUN_NAME gives this process's next run ("NAME", then
 * "NAME-2", ...), owned; NULL when unset (or ENOMEM: *rc says). */
char *tropt__name_from_env(int *rc);

/* ---- provenance.c ---- */

/* Fill id's command, cwd, git_commit and version (each NULL when unknown). */
int tropt__provenance_fill(tropt__run_id *id);

/* ---- resume.c ---- */

/* A run found in the store to continue, and the names the store holds. */
typedef struct tropt__found {
    int found;
    char run_id[TROPT__UUID_LEN + 1];
    char *experiment, *name, *status, *host, *resume_key; /* owned */
    int64_t pid;
    double started_at;
    int64_t attempts, last_step, checkpoint_step;
} tropt__found;

void tropt__found_clear(tropt__found *f);
/* Index of the first backend whose plugin can read back, or -1. */
long tropt__first_reader(const tropt_tracker *t);
/* Find the run that `key` (a resume key, or "run:REF") or `ref` (an id,
 * prefix or name; used when key is NULL) names in the first readable
 * backend.  TROPT_OK with f->found 0 when there is none. */
int tropt__resume_find(tropt_tracker *t, const char *key, const char *ref, tropt__found *f);
/* Count the store's runs and let fn see each stored name (for default
 * names): TROPT_OK also when no backend can read (*n_runs is then -1). */
int tropt__store_names(tropt_tracker *t, int (*fn)(void *, const char *), void *ud,
                       int64_t *n_runs);

/* ---- checkpoint.c ---- */

/* Hand finished hashes to the backends (called with the lock held, on the
 * caller's thread: from log when the worker has results, flush, finish). */
void tropt__marks_deliver(tropt_tracker *t);
/* 1 when the worker has results to deliver (one atomic load). */
int tropt__marks_ready(const tropt_tracker *t);
/* Wait for every pending hash and deliver it (flush, finish). */
void tropt__marks_drain(tropt_tracker *t);
/* Stop the worker and free everything (after drain, at run close/free). */
void tropt__marks_free(tropt_tracker *t);

/* ---- tracker.c ---- */

/* TROPT_ESTATE naming `what` when t belongs to the parent of this forked
 * process, else TROPT_OK. */
int tropt__fork_check(const tropt_tracker *t, const char *what);
/* 1 when t belongs to the parent of this forked process (no message). */
int tropt__forked(const tropt_tracker *t);

/* ---- meta.c ---- */

/* System samples of the active run to every backend with log_system. */
int tropt__fan_system(tropt_tracker *t, double time, const tropt_sample *s, size_t n);

/* ---- system.c ---- */

/* Start the sampler for the run just opened when hopts.sys_ms > 0. */
void tropt__sys_start(tropt_tracker *t);
/* Stop it (waits at most about a second; a stuck sampler is left detached). */
void tropt__sys_stop(tropt_tracker *t);

#endif
