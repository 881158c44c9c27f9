/*
 * tools/cmd_replay.c - `tropt replay PATH --tracker SPEC`: replay a jsonl
 * journal, or every file of an http spool folder (in name order, which is
 * creation order), into any backend, keeping run ids, steps and times.
 *
 * Each run gets its own tracker (opened at its run_start, closed at its
 * run_end), so journals where several processes' runs interleave replay
 * correctly.  A run whose run_end never comes is recorded as "crashed" at
 * the time of its last event.  Lines that do not decode are skipped with a
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

#define USAGE "replay PATH --tracker SPEC"

typedef struct active_run {
    char *run_id;
    tropt_tracker *t; /* NULL: the run could not be opened; its events are dropped */
    double last_time;
} active_run;

typedef struct replay {
    const char *spec;
    active_run *runs;
    size_t n_runs, cap_runs;
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

static void drop_run(replay *r, active_run *a)
{
    tropt_tracker_free(a->t);
    free(a->run_id);
    *a = r->runs[--r->n_runs];
}

static void fail(replay *r, const char *where, const char *what)
{
    fprintf(stderr, "tropt: %s: %s: %s\n", where, what, tropt_error_message());
    r->n_failures++;
}

static int on_run_start(replay *r, const tev_event *ev, const char *where)
{
    if (find_run(r, ev->run_id))
        return 0; /* a repeated run_start (re-delivered or re-spooled): the run is open */
    if (r->n_runs == r->cap_runs) {
        size_t cap = r->cap_runs ? 2 * r->cap_runs : 8;
        active_run *p = realloc(r->runs, cap * sizeof *p);
        if (!p)
            return -1;
        r->runs = p;
        r->cap_runs = cap;
    }
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
        return 0;
    }
    r->n_started++;
    return 0;
}

static void on_log(replay *r, const tev_event *ev, const char *where)
{
    active_run *a = find_run(r, ev->run_id);
    if (!a) {
        r->n_orphans++;
        fprintf(stderr,
                "tropt: warning: %s: step %lld of run %s comes before its run_start; "
                "skipped\n",
                where, (long long)ev->step, ev->run_id);
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

static void on_run_end(replay *r, const tev_event *ev, const char *where)
{
    active_run *a = find_run(r, ev->run_id);
    if (!a) {
        /* the run was closed already (a repeated run_end) or never opened */
        return;
    }
    if (a->t) {
        if (tropt_tracker_finish_run(a->t, ev->status, ev->time, ev->summary) != TROPT_OK)
            fail(r, where, "cannot finish the run");
        else
            r->n_finished++;
    }
    drop_run(r, a);
}

static int replay_file(replay *r, const char *path, long *n_skipped)
{
    tev_reader rd;
    if (tev_reader_open(&rd, path, warn_line, NULL) != 0) {
        fprintf(stderr, "tropt: cannot read %s: %s\n", path, strerror(errno));
        r->n_failures++;
        return -1;
    }
    tev_event ev;
    int got;
    int rc = 0;
    while ((got = tev_reader_next(&rd, &ev)) == 1) {
        char where[600];
        snprintf(where, sizeof where, "%s:%ld", path, rd.lineno);
        if (ev.type == TEV_RUN_START) {
            if (on_run_start(r, &ev, where) != 0) {
                fprintf(stderr, "tropt: out of memory\n");
                tev_event_clear(&ev);
                rc = -1;
                break;
            }
        } else if (ev.type == TEV_LOG)
            on_log(r, &ev, where);
        else
            on_run_end(r, &ev, where);
        tev_event_clear(&ev);
    }
    if (got < 0) {
        fprintf(stderr, "tropt: cannot read %s: %s\n", path, strerror(errno));
        r->n_failures++;
        rc = -1;
    }
    *n_skipped += rd.n_malformed + rd.n_truncated;
    tev_reader_close(&rd);
    return rc;
}

static int is_event_file(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

int cmd_replay(int argc, char **argv)
{
    int from_rc;
    if (cli_from_dispatch(argc, argv, cmd_replay, &from_rc)) /* --from SPEC: cmd_from.c */
        return from_rc;
    const char *path = NULL, *spec = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tracker") == 0) {
            if (i + 1 >= argc)
                return cli_usage(USAGE, "--tracker needs a SPEC");
            spec = argv[++i];
        } else if (strncmp(argv[i], "--tracker=", 10) == 0)
            spec = argv[i] + 10;
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: tropt %s\n"
                   "Replay a jsonl journal, or every file of an http spool folder, into the\n"
                   "backends of SPEC, keeping run ids, steps and times.\n",
                   USAGE);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1])
            return cli_usage(USAGE, "unknown option '%s'", argv[i]);
        else if (path)
            return cli_usage(USAGE, "one PATH only");
        else
            path = argv[i];
    }
    if (!path)
        return cli_usage(USAGE, "missing PATH (a jsonl journal or a spool folder)");
    if (!spec || !*spec)
        return cli_usage(USAGE, "missing --tracker SPEC");

    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "tropt: cannot read %s: %s\n", path, strerror(errno));
        return 1;
    }
    replay r = {.spec = spec};
    long n_skipped = 0;
    int n_files = 0;
    if (S_ISDIR(st.st_mode)) {
        struct dirent **names = NULL;
        int n = scandir(path, &names, is_event_file, alphasort);
        if (n < 0) {
            fprintf(stderr, "tropt: cannot list %s: %s\n", path, strerror(errno));
            return 1;
        }
        for (int i = 0; i < n; i++) {
            char *file = NULL;
            struct stat fst;
            if (asprintf(&file, "%s/%s", path, names[i]->d_name) >= 0 && stat(file, &fst) == 0 &&
                S_ISREG(fst.st_mode)) {
                replay_file(&r, file, &n_skipped);
                n_files++;
            }
            free(file);
            free(names[i]);
        }
        free(names);
    } else {
        replay_file(&r, path, &n_skipped);
        n_files = 1;
    }

    while (r.n_runs) {
        active_run *a = &r.runs[r.n_runs - 1];
        if (a->t) {
            fprintf(stderr, "tropt: warning: run %s has no run_end in %s; recorded as crashed\n",
                    a->run_id, path);
            if (tropt_tracker_finish_run(a->t, "crashed", a->last_time, NULL) != TROPT_OK)
                fail(&r, path, "cannot close the run");
        }
        drop_run(&r, a);
    }
    free(r.runs);
    printf("replayed %ld runs, %ld steps from %d file%s", r.n_started, r.n_steps, n_files,
           n_files == 1 ? "" : "s");
    if (n_skipped || r.n_orphans)
        printf(" (%ld lines skipped)", n_skipped + r.n_orphans);
    printf("\n");
    return r.n_failures ? 1 : 0;
}
