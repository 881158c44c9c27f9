/*
 * tools/cmd_replay.c - `tropt replay PATH --tracker SPEC`: replay a jsonl
 * journal, or every file of an http spool folder (in name order, which is
 * creation order), into any backend, keeping run ids, steps and times.
 *
 * Each run gets its own tracker (opened at its run_start, closed at its
 * run_end), so journals where several processes' runs interleave replay
 * correctly; at most MAX_OPEN_RUNS are open at once (see struct replay).
 * A run whose run_end never comes is recorded as "crashed" at the time of
 * its last event; a run_end with an unknown status is ignored with a
 * warning (a later valid one closes the run).  Lines that do not decode are skipped with a
 * warning (a crash-cut last line is expected and named as such).
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <tropt/tracker.h>

#include "cli.h"
#include "tropt_event.h"
#include "tropt_num.h"

/* At most this many runs are open at once, whatever the input holds. */
#define MAX_OPEN_RUNS 64

/* ---- a set of run ids ------------------------------------------------------ */

typedef struct idset {
    char **slot; /* open addressing; NULL: empty */
    size_t cap, n;
} idset;

static int idset_has(const idset *set, const char *id)
{
    if (!set->cap)
        return 0;
    for (size_t i = (size_t)tropt_hash_str(id, NULL) & (set->cap - 1); set->slot[i];
         i = (i + 1) & (set->cap - 1))
        if (strcmp(set->slot[i], id) == 0)
            return 1;
    return 0;
}

/* 0, or -1 when memory ran out.  Adding an id already there is a no-op. */
static int idset_add(idset *set, const char *id)
{
    if (idset_has(set, id))
        return 0;
    if (2 * (set->n + 1) > set->cap) {
        size_t cap = set->cap ? 2 * set->cap : 64;
        char **slot = calloc(cap, sizeof *slot);
        if (!slot)
            return -1;
        for (size_t i = 0; i < set->cap; i++) {
            if (!set->slot[i])
                continue;
            size_t j = (size_t)tropt_hash_str(set->slot[i], NULL) & (cap - 1);
            while (slot[j])
                j = (j + 1) & (cap - 1);
            slot[j] = set->slot[i];
        }
        free(set->slot);
        set->slot = slot;
        set->cap = cap;
    }
    char *copy = strdup(id);
    if (!copy)
        return -1;
    size_t i = (size_t)tropt_hash_str(id, NULL) & (set->cap - 1);
    while (set->slot[i])
        i = (i + 1) & (set->cap - 1);
    set->slot[i] = copy;
    set->n++;
    return 0;
}

static void idset_clear(idset *set)
{
    for (size_t i = 0; i < set->cap; i++)
        free(set->slot[i]);
    free(set->slot);
    memset(set, 0, sizeof *set);
}

/* ---- replaying ------------------------------------------------------------ */

typedef struct active_run {
    char *run_id;
    tropt_tracker *t; /* NULL: the run could not be opened; its events are dropped */
    double last_time;
} active_run;

/* The input is read in passes.  A pass opens at most MAX_OPEN_RUNS runs,
 * in the order their run_start comes, and replays only their events; runs
 * beyond that wait for the next pass.  So descriptors and memory stay
 * bounded by MAX_OPEN_RUNS trackers whatever the number of interleaved
 * runs, and each run is opened and finished exactly once.  Inputs holding
 * at most MAX_OPEN_RUNS runs (nearly all) are read once. */
typedef struct replay {
    const char *spec;
    active_run runs[MAX_OPEN_RUNS];
    size_t n_runs;
    idset done;     /* runs replayed (or given up) in an earlier or this pass */
    idset deferred; /* runs started in this pass that wait for a later one */
    int pass;       /* 1, 2, ... */
    long n_started, n_steps, n_finished, n_failures, n_orphans;
} replay;

static void warn_line(void *ud, const char *msg)
{
    (void)ud;
    fprintf(stderr, "tropt: warning: %s\n", msg);
}

static active_run *find_run(replay *r, const char *run_id)
{
    for (size_t i = 0; i < r->n_runs; i++)
        if (strcmp(r->runs[i].run_id, run_id) == 0)
            return &r->runs[i];
    return NULL;
}

/* Forget an open run (its tracker was finished or never held it). */
static int drop_run(replay *r, active_run *a)
{
    int rc = idset_add(&r->done, a->run_id);
    tropt_tracker_free(a->t);
    free(a->run_id);
    *a = r->runs[--r->n_runs];
    return rc;
}

static void fail(replay *r, const char *where, const char *what)
{
    fprintf(stderr, "tropt: %s: %s: %s\n", where, what, tropt_error_message());
    r->n_failures++;
}

static int on_run_start(replay *r, const tev_event *ev, const char *where)
{
    if (find_run(r, ev->run_id) || idset_has(&r->done, ev->run_id))
        return 0; /* a repeated run_start (re-delivered or re-spooled), or a later pass */
    if (r->n_runs == MAX_OPEN_RUNS)
        return idset_add(&r->deferred, ev->run_id);
    if (idset_has(&r->deferred, ev->run_id))
        return 0;
    active_run *a = &r->runs[r->n_runs];
    a->run_id = strdup(ev->run_id);
    if (!a->run_id)
        return -1;
    a->t = NULL;
    a->last_time = ev->time;
    r->n_runs++;
    if (tropt_tracker_open(&a->t, r->spec, ev->experiment, NULL) != TROPT_OK) {
        fail(r, where, "cannot open the tracker");
        a->t = NULL;
        return 0;
    }
    tropt_run_info info = {
        .run_id = ev->run_id,
        .experiment = ev->experiment,
        .started_at = ev->time,
        .host = ev->host,
        .pid = ev->pid,
    };
    if (tropt_tracker_init_run(a->t, &info, ev->config) != TROPT_OK) {
        fail(r, where, "cannot open the run");
        if (!tropt_tracker_is_active(a->t)) {
            /* refused before any backend held it (a malformed run id, a bad
             * config): its events are dropped, and it is not "crashed" */
            tropt_tracker_free(a->t);
            a->t = NULL;
        }
        return 0;
    }
    r->n_started++;
    return 0;
}

static void on_log(replay *r, const tev_event *ev, const char *where)
{
    active_run *a = find_run(r, ev->run_id);
    if (!a) {
        /* A run of an earlier or later pass, or a step before its run_start
         * (said once, in the first pass). */
        if (r->pass == 1 && !idset_has(&r->deferred, ev->run_id)) {
            r->n_orphans++;
            fprintf(stderr,
                    "tropt: warning: %s: step %lld of run %s comes before its run_start; "
                    "skipped\n",
                    where, (long long)ev->step, ev->run_id);
        }
        return;
    }
    if (!a->t)
        return;
    a->last_time = ev->time;
    if (tropt_tracker_log_fields_at(a->t, ev->step, ev->time, ev->fields, ev->n_fields) != TROPT_OK)
        fail(r, where, "cannot log");
    else
        r->n_steps++;
}

static int on_run_end(replay *r, const tev_event *ev, const char *where)
{
    active_run *a = find_run(r, ev->run_id);
    if (!a) {
        /* closed already (a repeated run_end), never opened, or another pass's */
        return 0;
    }
    if (a->t) {
        a->last_time = ev->time;
        int rc = tropt_tracker_finish_run(a->t, ev->status, ev->time, ev->summary);
        if (rc == TROPT_EINVAL && tropt_tracker_is_active(a->t)) {
            /* an unknown status: the run stays open for a valid run_end, and
             * is recorded as crashed if none comes */
            fprintf(stderr, "tropt: warning: %s: run_end of run %s ignored: %s\n", where, a->run_id,
                    tropt_error_message());
            return 0;
        }
        if (rc != TROPT_OK)
            fail(r, where, "cannot finish the run");
        else
            r->n_finished++;
    }
    return drop_run(r, a);
}

/* One pass over one file.  Warnings about the file's lines are given in
 * the first pass only.  0; -1 when the file could not be read (counted as
 * a failure); -2 when memory ran out. */
static int replay_file(replay *r, const char *path, long *n_skipped)
{
    tev_reader rd;
    if (tev_reader_open(&rd, path, r->pass == 1 ? warn_line : NULL, NULL) != 0) {
        if (r->pass == 1) {
            fprintf(stderr, "tropt: cannot read %s: %s\n", path, strerror(errno));
            r->n_failures++;
        }
        return -1;
    }
    tev_event ev;
    int got;
    int rc = 0;
    while ((got = tev_reader_next(&rd, &ev)) == 1) {
        char where[600];
        snprintf(where, sizeof where, "%s:%ld", path, rd.lineno);
        int erc = 0;
        if (ev.type == TEV_RUN_START)
            erc = on_run_start(r, &ev, where);
        else if (ev.type == TEV_LOG)
            on_log(r, &ev, where);
        else
            erc = on_run_end(r, &ev, where);
        tev_event_clear(&ev);
        if (erc != 0) {
            fprintf(stderr, "tropt: out of memory\n");
            r->n_failures++;
            rc = -2;
            break;
        }
    }
    if (got < 0) {
        if (r->pass == 1) { /* said and counted once, like an open error */
            fprintf(stderr, "tropt: cannot read %s: %s\n", path, strerror(errno));
            r->n_failures++;
        }
        rc = -1;
    }
    if (r->pass == 1)
        *n_skipped += rd.n_malformed + rd.n_truncated;
    tev_reader_close(&rd);
    return rc;
}

/* Close the runs this pass left open: those with no run_end are crashed. */
static int close_pass(replay *r, const char *path)
{
    int rc = 0;
    while (r->n_runs) {
        active_run *a = &r->runs[r->n_runs - 1];
        if (a->t && tropt_tracker_is_active(a->t)) {
            fprintf(stderr, "tropt: warning: run %s has no run_end in %s; recorded as crashed\n",
                    a->run_id, path);
            if (tropt_tracker_finish_run(a->t, "crashed", a->last_time, NULL) != TROPT_OK)
                fail(r, path, "cannot close the run");
        }
        if (drop_run(r, a) != 0)
            rc = -1;
    }
    return rc;
}

static int is_event_file(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

/* The files to replay: PATH itself, or a folder's regular files in name
 * order (creation order for a spool).  0, or 1 after printing why. */
static int list_files(const char *path, char ***out, int *n_out)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "tropt: cannot read %s: %s\n", path, strerror(errno));
        return 1;
    }
    char **files = NULL;
    int n_files = 0;
    if (!S_ISDIR(st.st_mode)) {
        files = calloc(2, sizeof *files);
        if (files && !(files[0] = strdup(path))) {
            free(files);
            files = NULL;
        }
        n_files = 1;
    } else {
        struct dirent **names = NULL;
        int n = scandir(path, &names, is_event_file, alphasort);
        if (n < 0) {
            fprintf(stderr, "tropt: cannot list %s: %s\n", path, strerror(errno));
            return 1;
        }
        files = calloc((size_t)n + 1, sizeof *files);
        for (int i = 0; i < n; i++) {
            char *file = NULL;
            struct stat fst;
            if (files && asprintf(&file, "%s/%s", path, names[i]->d_name) >= 0 &&
                stat(file, &fst) == 0 && S_ISREG(fst.st_mode))
                files[n_files++] = file;
            else
                free(file);
            free(names[i]);
        }
        free(names);
    }
    if (!files) {
        fprintf(stderr, "tropt: out of memory\n");
        return 1;
    }
    *out = files;
    *n_out = n_files;
    return 0;
}

static int replay_path(const char *path, const char *spec)
{
    char **files = NULL;
    int n_files = 0;
    if (list_files(path, &files, &n_files) != 0)
        return 1;
    replay r = {.spec = spec};
    long n_skipped = 0;
    int oom = 0;
    do {
        r.pass++;
        idset_clear(&r.deferred);
        for (int i = 0; i < n_files && !oom; i++)
            if (replay_file(&r, files[i], &n_skipped) == -2)
                oom = 1;
        if (close_pass(&r, path) != 0)
            oom = 1;
    } while (r.deferred.n > 0 && !oom);
    idset_clear(&r.deferred);
    idset_clear(&r.done);
    for (int i = 0; i < n_files; i++)
        free(files[i]);
    free(files);
    printf("replayed %ld runs, %ld steps from %d file%s", r.n_started, r.n_steps, n_files,
           n_files == 1 ? "" : "s");
    if (n_skipped || r.n_orphans)
        printf(" (%ld lines skipped)", n_skipped + r.n_orphans);
    printf("\n");
    return r.n_failures ? 1 : 0;
}

typedef struct replay_args {
    const char *path, *tracker, *db, *from;
} replay_args;

const cli_opt cmd_replay_opts[] = {
    CLI_ARG_OPT("PATH", replay_args, path, "a jsonl journal, or an http spool folder"),
    {CLI_OPT_VALUE, "db", 0, offsetof(replay_args, db), "PATH", CLI_OR_PREV,
     "or every run of this sqlite database (--from sqlite:path=PATH)"},
    CLI_VALUE_OR("from", 0, replay_args, from, "SPEC",
                 "or every run of any readable backend (csv:dir=D, jsonl:path=F, ...)"),
    CLI_VALUE_REQ("tracker", 0, replay_args, tracker, "SPEC", "the backends to replay into"),
    CLI_END};

int cmd_replay(const cli_command *self, int argc, char **argv)
{
    replay_args a = {0};
    int rc = cli_parse(self, argc, argv, &a);
    if (rc != CLI_GO)
        return rc;
    if (a.db && a.from)
        return cli_usage_error(self, "give --db or --from, not both");
    if (a.path && (a.db || a.from))
        return cli_usage_error(self, "give PATH or --from/--db, not both");
    if (a.db || a.from)
        return cli_replay_from(a.db, a.from, a.tracker);
    if (!a.path)
        return cli_usage_error(self, "missing PATH (a jsonl journal or a spool folder)");
    return replay_path(a.path, a.tracker);
}
