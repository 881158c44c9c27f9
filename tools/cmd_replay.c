/*
 * tools/cmd_replay.c - `tropt replay PATH --tracker SPEC`: replay a jsonl
 * journal, or every file of an http spool folder (in name order, which is
 * creation order), into any backend, keeping everything the events hold:
 * run ids, names, resume keys, provenance, every attempt (with its start,
 * host, pid and first step), steps and times, checkpoint marks, system
 * samples, and the tags, notes and names changed afterwards.
 *
 * Each run gets its own tracker (opened at its first run_start, closed at
 * its run_end and opened again by a later attempt's run_start), so journals
 * where several processes' runs interleave replay correctly; at most
 * MAX_OPEN_RUNS are open at once (see struct replay).  Each attempt is
 * opened with tropt_tracker_import_run, so a store that holds it already
 * (the same journal replayed twice) adds no attempt and no step.  An
 * attempt whose run_end never comes is recorded as "crashed" at the time of
 * its last event; a run_end with an unknown status is ignored with a
 * warning (a later valid one closes the run).  Lines that do not decode are
 * skipped with a warning (a crash-cut last line is expected and named as
 * such).
 *
 * Deleted runs are never brought back: a run the journal deletes (a
 * `delete` event anywhere in the input) is skipped, and so is a run the
 * target store refuses because it was deleted there; each is said once and
 * counted in the last line, and neither is a failure (exit 0).
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <tropt/host.h>
#include <tropt/tracker.h>

#include "cli.h"
#include "render.h"
#include "replay_runs.h"
#include "tropt_event.h"

/* At most this many runs are open at once, whatever the input holds. */
#define MAX_OPEN_RUNS 64

/* The input is read in passes.  A pass opens at most MAX_OPEN_RUNS runs at
 * once, in the order their first run_start comes, and replays only their
 * events; runs beyond that wait for the next pass.  So descriptors and
 * memory stay bounded by MAX_OPEN_RUNS trackers whatever the number of
 * interleaved runs, and each run is replayed in exactly one pass.  Inputs
 * holding at most MAX_OPEN_RUNS runs at once (nearly all) are read once,
 * after a first cheap reading that finds the runs the journal deletes and
 * every metadata change (tools/replay_runs.h). */
typedef struct replay {
    const char *spec;
    rruns runs;
    size_t n_open; /* trackers open */
    int pass;      /* 1, 2, ... */
    int deferred;  /* a run waits for a later pass */
    int no_meta;   /* the tracker keeps no run metadata (said once) */
    long n_started, n_attempts, n_steps, n_failures, n_orphans, n_skipped;
} replay;

/* A message for people through cli_print_error: what the input holds (run
 * ids, names) is data and reaches the terminal escaped. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = cli_vstrf(fmt, ap);
    va_end(ap);
    cli_print_error(msg ? msg : "out of memory");
    free(msg);
}

static void warn_line(void *ud, const char *msg)
{
    (void)ud;
    say("warning: %s", msg);
}

static void fail(replay *r, const char *where, const char *what)
{
    say("%s: %s: %s", where, what, tropt_error_message());
    r->n_failures++;
}

int cli_refused_as_deleted(int rc)
{
    return rc == TROPT_EINVAL && strstr(tropt_error_message(), "deleted") != NULL;
}

static void close_tracker(replay *r, rrun *x)
{
    tropt_tracker_free(x->t);
    x->t = NULL;
    r->n_open--;
}

/* The run's metadata changes (tags, note, name), once it is opened. */
static void apply_changes(replay *r, rrun *x, const char *where)
{
    x->imported = 1;
    for (size_t k = 0; k < x->n_ann && !r->no_meta; k++) {
        int rc = tropt_tracker_annotate_run(x->t, x->id, &x->ann[k]);
        if (rc == TROPT_EPLUGIN) {
            r->no_meta = 1;
            say("warning: %s: tags, notes and names changed after a run started are not "
                "replayed: %s",
                where, tropt_error_message());
        } else if (rc != TROPT_OK) {
            fail(r, where, "cannot replay a tag, note or name");
        }
    }
}

/* The record of the attempt a run_start opens. */
static tropt_run_record record_of(const tev_event *ev)
{
    tropt_run_record rec = {
        .struct_size = sizeof rec,
        .run_id = ev->run_id,
        .experiment = ev->experiment,
        .name = ev->name,
        .started_at = ev->run_started_at,
        .host = ev->host,
        .pid = ev->pid,
        .attempt = ev->attempt,
        .from_step = ev->attempt > 1 ? ev->from_step : 0,
        .attempt_started_at = ev->attempt > 1 ? ev->time : 0,
        .resume_key = ev->resume_key,
        .pidns = ev->pidns,
        .provenance = ev->has_provenance ? &ev->provenance : NULL,
    };
    return rec;
}

/* A run the store refused as deleted: said once, skipped, not a failure. */
static void skip_deleted(replay *r, rrun *x, const char *why)
{
    if (!x->said++) {
        say("run %s skipped: %s", x->id, why);
        r->n_skipped++;
    }
}

/* The attempt could not be opened.  A run a store refused as deleted is
 * skipped whole: its later events and attempts are dropped, and a backend
 * of the spec that did open it records it aborted (nothing logged).  Any
 * other refusal drops the run only when no backend holds it. */
static void import_failed(replay *r, rrun *x, int rc, const char *where)
{
    if (cli_refused_as_deleted(rc)) {
        skip_deleted(r, x, tropt_error_message());
        if (tropt_tracker_is_active(x->t))
            (void)tropt_tracker_finish_run(x->t, "aborted", x->last_time, NULL);
    } else {
        fail(r, where, "cannot open the run");
        if (tropt_tracker_is_active(x->t))
            return;
    }
    /* not "crashed": its events are dropped */
    close_tracker(r, x);
    x->dropped = 1;
}

/* Open attempt ev->attempt of run x (the attempt before it, left open
 * without a run_end, is recorded crashed at its last event). */
static void open_attempt(replay *r, rrun *x, const tev_event *ev, const char *where)
{
    if (x->t && tropt_tracker_is_active(x->t)) {
        say("warning: attempt %lld of run %s has no run_end before attempt %lld; recorded as "
            "crashed",
            (long long)x->attempt, x->id, (long long)ev->attempt);
        if (tropt_tracker_finish_run(x->t, "crashed", x->last_time, NULL) != TROPT_OK)
            fail(r, where, "cannot close the attempt");
    }
    x->attempt = ev->attempt;
    x->last_time = ev->time;
    if (!x->t) {
        if (tropt_tracker_open(&x->t, r->spec, ev->experiment, NULL) != TROPT_OK) {
            fail(r, where, "cannot open the tracker");
            x->t = NULL;
            x->dropped = 1;
            return;
        }
        r->n_open++;
    }
    tropt_run_record rec = record_of(ev);
    int rc = tropt_tracker_import_run(x->t, &rec, ev->config);
    if (rc != TROPT_OK) {
        import_failed(r, x, rc, where);
        return;
    }
    r->n_attempts++;
    if (!x->imported) {
        r->n_started++;
        apply_changes(r, x, where);
    }
}
/* ---- the events ------------------------------------------------------------- */

/* The run of an event in this pass, NULL when another pass replays it, it
 * was dropped, or it has no run_start yet. */
static rrun *this_pass(replay *r, const char *id)
{
    rrun *x = rruns_find(&r->runs, id);
    return x && x->pass == r->pass && !x->dropped ? x : NULL;
}

static int on_run_start(replay *r, const tev_event *ev, const char *where)
{
    rrun *x = rruns_find(&r->runs, ev->run_id);
    if (x && x->deleted_at) {
        if (r->pass == 1 && !x->said++) {
            say("run %s (%s) skipped: the journal deletes it at %s", x->id,
                ev->name ? ev->name : "no name", x->deleted_at);
            r->n_skipped++;
        }
        return 0;
    }
    if (x && (x->dropped || (x->pass && x->pass != r->pass)))
        return 0; /* given up, or another pass's */
    if (x && x->pass == r->pass) {
        if (ev->attempt > x->attempt) /* a later attempt; else a repeated run_start */
            open_attempt(r, x, ev, where);
        return 0;
    }
    if (!(x = rruns_add(&r->runs, ev->run_id)))
        return -1;
    if (r->n_open >= MAX_OPEN_RUNS) {
        x->deferred = 1;
        r->deferred = 1;
        return 0;
    }
    x->pass = r->pass;
    open_attempt(r, x, ev, where);
    return 0;
}

/* A step that has no run to go to: said once, in the first pass. */
static void orphan_step(replay *r, const tev_event *ev, const char *where)
{
    rrun *x = rruns_find(&r->runs, ev->run_id);
    if (r->pass != 1 || (x && (x->deferred || x->deleted_at || x->dropped)))
        return;
    r->n_orphans++;
    say("warning: %s: step %lld of run %s comes before its run_start; skipped", where,
        (long long)ev->step, ev->run_id);
}

static void on_log(replay *r, const tev_event *ev, const char *where)
{
    rrun *x = this_pass(r, ev->run_id);
    if (!x) {
        orphan_step(r, ev, where);
        return;
    }
    if (!x->t || !tropt_tracker_is_active(x->t) || ev->attempt != x->attempt) {
        r->n_orphans++;
        say("warning: %s: step %lld of attempt %lld of run %s comes after %s; skipped", where,
            (long long)ev->step, (long long)ev->attempt, x->id,
            ev->attempt < x->attempt ? "a later attempt began" : "its attempt ended");
        return;
    }
    x->last_time = ev->time;
    if (tropt_tracker_log_fields_at(x->t, ev->step, ev->time, ev->fields, ev->n_fields) != TROPT_OK)
        fail(r, where, "cannot log");
    else
        r->n_steps++;
}

static void on_run_end(replay *r, const tev_event *ev, const char *where)
{
    rrun *x = this_pass(r, ev->run_id);
    if (!x || !x->t)
        return; /* closed already (a repeated run_end), never opened, another pass's */
    x->last_time = ev->time;
    if (tropt_tracker_is_active(x->t)) {
        int rc = tropt_tracker_finish_run(x->t, ev->status, ev->time, ev->summary);
        if (rc == TROPT_EINVAL && tropt_tracker_is_active(x->t)) {
            /* an unknown status: the run stays open for a valid run_end, and
             * is recorded as crashed if none comes */
            say("warning: %s: run_end of run %s ignored: %s", where, x->id, tropt_error_message());
            return;
        }
        if (rc != TROPT_OK)
            fail(r, where, "cannot finish the run");
    }
    close_tracker(r, x); /* a later attempt opens it again */
}

/* A checkpoint mark or system samples of the open attempt. */
static void on_attempt_data(replay *r, const tev_event *ev, const char *where)
{
    rrun *x = this_pass(r, ev->run_id);
    if (!x || !x->t || !tropt_tracker_is_active(x->t) || ev->attempt != x->attempt)
        return;
    x->last_time = ev->time;
    if (ev->type == TEV_CHECKPOINT &&
        tropt_tracker_import_checkpoint(x->t, &ev->checkpoint) != TROPT_OK)
        fail(r, where, "cannot replay the checkpoint mark");
    if (ev->type == TEV_SYSTEM &&
        tropt_tracker_import_system(x->t, ev->time, ev->samples, ev->n_samples) != TROPT_OK)
        fail(r, where, "cannot replay the system samples");
}

/* One event; 0, or -1 when memory ran out.  annotate and delete events
 * were read by the first reading (rruns_prescan). */
static int on_event(replay *r, const tev_event *ev, const char *where)
{
    switch (ev->type) {
    case TEV_RUN_START:
        return on_run_start(r, ev, where);
    case TEV_LOG:
        on_log(r, ev, where);
        break;
    case TEV_RUN_END:
        on_run_end(r, ev, where);
        break;
    case TEV_CHECKPOINT:
    case TEV_SYSTEM:
        on_attempt_data(r, ev, where);
        break;
    case TEV_ANNOTATE:
    case TEV_DELETE:
        break;
    }
    return 0;
}

/* One pass over one file.  Warnings about the file's lines are given in
 * the first pass only.  0; -1 when the file could not be read (counted as
 * a failure); -2 when memory ran out. */
static int replay_file(replay *r, const char *path, long *n_skipped)
{
    tev_reader rd;
    if (tev_reader_open(&rd, path, r->pass == 1 ? warn_line : NULL, NULL) != 0) {
        if (r->pass == 1) {
            say("cannot read %s: %s", path, strerror(errno));
            r->n_failures++;
        }
        return -1;
    }
    tev_event ev;
    int got, rc = 0;
    while ((got = tev_reader_next(&rd, &ev)) == 1) {
        char where[600];
        snprintf(where, sizeof where, "%s:%ld", path, rd.lineno);
        int erc = on_event(r, &ev, where);
        tev_event_clear(&ev);
        if (erc != 0) {
            say("out of memory");
            r->n_failures++;
            rc = -2;
            break;
        }
    }
    if (got < 0) {
        if (r->pass == 1) { /* said and counted once, like an open error */
            say("cannot read %s: %s", path, strerror(errno));
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
static void close_pass(replay *r, const char *path)
{
    for (size_t i = 0; i < r->runs.n; i++) {
        rrun *x = &r->runs.v[i];
        if (x->pass != r->pass || !x->t)
            continue;
        if (tropt_tracker_is_active(x->t)) {
            say("warning: run %s has no run_end in %s; recorded as crashed", x->id, path);
            if (tropt_tracker_finish_run(x->t, "crashed", x->last_time, NULL) != TROPT_OK)
                fail(r, path, "cannot close the run");
        }
        close_tracker(r, x);
    }
}

/* Metadata changes of runs the input does not hold (a journal of `tropt
 * tag` on a run stored elsewhere): applied to the store directly, as the
 * commands would; a store that lacks the run warns. */
static void apply_leftover_changes(replay *r)
{
    tropt_tracker *t = NULL;
    for (size_t i = 0; i < r->runs.n && !r->no_meta; i++) {
        rrun *x = &r->runs.v[i];
        if (!x->n_ann || x->imported || x->pass || x->deleted_at || x->deferred)
            continue;
        if (!t && tropt_tracker_open(&t, r->spec, NULL, NULL) != TROPT_OK) {
            fail(r, "replay", "cannot open the tracker");
            return;
        }
        x->t = t; /* borrowed for apply_changes */
        r->n_open++;
        apply_changes(r, x, "replay");
        x->t = NULL;
        r->n_open--;
    }
    tropt_tracker_free(t);
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
        say("cannot read %s: %s", path, strerror(errno));
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
            say("cannot list %s: %s", path, strerror(errno));
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
        say("out of memory");
        return 1;
    }
    *out = files;
    *n_out = n_files;
    return 0;
}

static void print_summary(const replay *r, int n_files, long n_skipped)
{
    printf("replayed %ld runs, %ld steps from %d file%s", r->n_started, r->n_steps, n_files,
           n_files == 1 ? "" : "s");
    if (n_skipped || r->n_orphans)
        printf(" (%ld lines skipped)", n_skipped + r->n_orphans);
    if (r->n_attempts > r->n_started)
        printf("; %ld attempts", r->n_attempts);
    if (r->n_skipped)
        printf("; %ld deleted run%s skipped", r->n_skipped, r->n_skipped == 1 ? "" : "s");
    printf("\n");
}

static int replay_path(const char *path, const char *spec)
{
    char **files = NULL;
    int n_files = 0;
    if (list_files(path, &files, &n_files) != 0)
        return 1;
    replay r = {.spec = spec};
    long n_skipped = 0;
    int oom = rruns_prescan(&r.runs, files, n_files) != 0;
    while (!oom) {
        r.pass++;
        r.deferred = 0;
        for (int i = 0; i < n_files && !oom; i++)
            oom = replay_file(&r, files[i], &n_skipped) == -2;
        close_pass(&r, path);
        if (!r.deferred)
            break;
    }
    if (oom)
        say("out of memory");
    else
        apply_leftover_changes(&r);
    rruns_free(&r.runs);
    for (int i = 0; i < n_files; i++)
        free(files[i]);
    free(files);
    print_summary(&r, n_files, n_skipped);
    return r.n_failures || oom ? 1 : 0;
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
