/*
 * tools/cmd_replay_from.c - `tropt replay --from SPEC | --db PATH --tracker
 * SPEC`: every run of any readable backend, read through the run source
 * (tools/source.h) with its whole history (tropt_reader_read_history:
 * superseded steps included), replayed into the backends of the tracker
 * spec with everything it holds: id, name, resume key, provenance, every
 * attempt (its start, host, pid and first step, each step logged in its own
 * attempt), steps and times, checkpoint marks, system samples, tags and
 * note.
 *
 * Each attempt is opened with tropt_tracker_import_run, so a store that
 * holds it already adds no attempt and no step.  A run the target store
 * refuses because it was deleted there is skipped (said, counted, not a
 * failure); a run that fails otherwise is said and the others go on
 * (exit 1 at the end).
 */
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tropt/host.h>
#include <tropt/tracker.h>

#include "render.h"
#include "source.h"

/* What a later attempt needs of the START's list of attempts. */
typedef struct att {
    int64_t from_step, pid;
    double started_at, ended_at;
    char status[16];
    char *host;
} att;

typedef struct replaying {
    tropt_tracker *t;
    cli_source *src;
    long runs, attempts, steps, skipped;
    int failed, no_meta;
    /* the run being replayed */
    att *att;
    size_t n_att;
    int64_t attempt;  /* the attempt open; 0: none */
    double last_time; /* of the open attempt's last event */
} replaying;

static void say(const char *what, const char *id)
{
    char *msg = cli_strf("%s %s: %s", what, id, tropt_error_message());
    cli_print_error(msg);
    free(msg);
}

static void atts_free(replaying *p)
{
    for (size_t i = 0; i < p->n_att; i++)
        free(p->att[i].host);
    free(p->att);
    p->att = NULL;
    p->n_att = 0;
}

/* Keep what later attempts need of START's list; 0, or -1 on memory. */
static int keep_attempts(replaying *p, const tropt_event *ev)
{
    atts_free(p);
    if (!ev->n_attempts || !ev->attempts)
        return 0;
    if (!(p->att = calloc(ev->n_attempts, sizeof *p->att)))
        return -1;
    for (; p->n_att < ev->n_attempts; p->n_att++) {
        const tropt_attempt *a = &ev->attempts[p->n_att];
        att *k = &p->att[p->n_att];
        *k = (att){.from_step = a->from_step,
                   .pid = a->pid,
                   .started_at = a->started_at,
                   .ended_at = a->ended_at};
        snprintf(k->status, sizeof k->status, "%s", a->status ? a->status : "running");
        if (a->host && !(k->host = strdup(a->host)))
            return -1;
    }
    return 0;
}

/* Attempt k (1, 2, ...) as START listed it; NULL when it did not. */
static const att *attempt_of(const replaying *p, int64_t k)
{
    return k >= 1 && (size_t)k <= p->n_att ? &p->att[k - 1] : NULL;
}

/* The record of attempt k of the run. */
static tropt_run_record record_of(const replaying *p, const tropt_stored_run *run, int64_t k)
{
    const att *a = attempt_of(p, k);
    int latest = a ? (size_t)k == p->n_att : 1;
    tropt_run_record rec = {
        .struct_size = sizeof rec,
        .run_id = run->run_id,
        .experiment = run->experiment,
        .name = run->name,
        .started_at = run->started_at,
        .host = a ? a->host : run->host,
        .pid = a ? a->pid : run->pid,
        .attempt = k,
        .from_step = a && k > 1 ? a->from_step : 0,
        .attempt_started_at = a && k > 1 ? a->started_at : 0,
        .resume_key = run->resume_key,
        .pidns = latest ? run->pidns : NULL,
        .provenance = run->provenance,
    };
    return rec;
}

/* The run's tags and note, once its first attempt is open. */
static void replay_meta(replaying *p, const tropt_stored_run *run)
{
    size_t n = run->n_tags + (run->note && run->note[0]);
    for (size_t i = 0; i < n && !p->no_meta; i++) {
        tropt_annotation a = {i < run->n_tags ? TROPT_ANNOTATE_TAG : TROPT_ANNOTATE_NOTE,
                              i < run->n_tags ? run->tags[i] : run->note, run->started_at};
        int rc = tropt_tracker_annotate_run(p->t, run->run_id, &a);
        if (rc == TROPT_EPLUGIN) {
            p->no_meta = 1;
            cli_print_error("warning: tags and notes are not replayed: no backend of the tracker "
                            "keeps them");
        } else if (rc != TROPT_OK) {
            say("cannot replay the tags and note of run", run->run_id);
            p->failed = 1;
            return;
        }
    }
}

/* Open attempt k; 0, or 1 to stop the run. */
static int open_attempt(replaying *p, const tropt_event *ev, int64_t k, const json_t *config)
{
    tropt_run_record rec = record_of(p, ev->run, k);
    int rc = tropt_tracker_import_run(p->t, &rec, config);
    p->attempt = k;
    p->last_time = k > 1 ? rec.attempt_started_at : rec.started_at;
    if (cli_refused_as_deleted(rc)) {
        /* skipped whole; a backend of the spec that opened it records it
         * aborted, nothing logged */
        say("skipped run", ev->run->run_id);
        p->skipped++;
        if (tropt_tracker_is_active(p->t))
            (void)tropt_tracker_finish_run(p->t, "aborted", p->last_time, NULL);
        return 1;
    }
    if (rc != TROPT_OK) {
        say("cannot replay run", ev->run->run_id);
        p->failed = 1;
    }
    if (rc != TROPT_OK && !tropt_tracker_is_active(p->t))
        return 1; /* no backend holds it: nothing more of it */
    p->attempts++;
    return 0;
}

static int on_start(replaying *p, const tropt_event *ev)
{
    if (keep_attempts(p, ev) != 0) {
        cli_print_error("out of memory");
        p->failed = 1;
        return 1;
    }
    p->runs++;
    if (open_attempt(p, ev, 1, ev->config) != 0)
        return 1;
    replay_meta(p, ev->run);
    return 0;
}

/* Close the open attempt as it was stored (a status it never got, because
 * its process died, is crashed; an end it never got is its last event's). */
static int close_attempt(replaying *p)
{
    const att *a = attempt_of(p, p->attempt);
    const char *status = a ? a->status : "crashed";
    if (strcmp(status, "finished") && strcmp(status, "aborted") && strcmp(status, "crashed"))
        status = "crashed";
    double end = a && isfinite(a->ended_at) ? a->ended_at : p->last_time;
    if (!tropt_tracker_is_active(p->t) ||
        tropt_tracker_finish_run(p->t, status, end, NULL) == TROPT_OK)
        return 0;
    say("cannot close an attempt of run", tropt_tracker_run_id(p->t));
    p->failed = 1;
    return 1;
}

static int on_attempt(replaying *p, const tropt_event *ev)
{
    if (close_attempt(p) != 0)
        return 1;
    return open_attempt(p, ev, ev->attempt, ev->config);
}

static int on_step(replaying *p, const tropt_event *ev)
{
    if (ev->attempt != p->attempt)
        return 0; /* a step of an attempt that was not opened */
    p->last_time = ev->time;
    if (tropt_tracker_log_fields_at(p->t, ev->step, ev->time, ev->fields, ev->n) != TROPT_OK) {
        say("cannot replay a step of run", ev->run->run_id);
        p->failed = 1;
        return 1;
    }
    p->steps++;
    return 0;
}

/* A checkpoint mark or system samples of the open attempt. */
static int on_attempt_data(replaying *p, const tropt_event *ev)
{
    int rc = TROPT_OK;
    if (ev->attempt != p->attempt)
        return 0;
    if (ev->kind == TROPT_EVENT_CHECKPOINT && ev->checkpoint)
        rc = tropt_tracker_import_checkpoint(p->t, ev->checkpoint);
    else if (ev->kind == TROPT_EVENT_SYSTEM)
        rc = tropt_tracker_import_system(p->t, ev->time, ev->samples, ev->n_samples);
    if (rc == TROPT_OK)
        return 0;
    say("cannot replay a checkpoint mark or system samples of run", ev->run->run_id);
    p->failed = 1;
    return 1;
}

/* A run's event; 0 to go on, 1 to stop the run (said already). */
static int replay_event(const tropt_event *ev, void *ud)
{
    replaying *p = ud;
    switch (ev->kind) {
    case TROPT_EVENT_START:
        return on_start(p, ev);
    case TROPT_EVENT_ATTEMPT:
        return on_attempt(p, ev);
    case TROPT_EVENT_STEP:
        return on_step(p, ev);
    case TROPT_EVENT_CHECKPOINT:
    case TROPT_EVENT_SYSTEM:
        return on_attempt_data(p, ev);
    case TROPT_EVENT_END:
        if (tropt_tracker_finish_run(p->t, ev->status, ev->ended_at, ev->summary) == TROPT_OK)
            return 0;
        say("cannot finish run", ev->run->run_id);
        p->failed = 1;
        return 1;
    }
    return 0;
}

/* replay_event, remembering that it stopped the run (said already). */
typedef struct stopper {
    replaying *p;
    int stopped;
} stopper;

static int stop_on(const tropt_event *ev, void *ud)
{
    stopper *st = ud;
    int rc = replay_event(ev, st->p);
    st->stopped |= rc != 0;
    return rc;
}

/* One run; a run that fails (or is left without an END) is closed crashed
 * and the next one goes on. */
static void replay_run(replaying *p, const char *id)
{
    p->attempt = 0;
    p->last_time = 0;
    stopper st = {p, 0};
    if (cli_source_history(p->src, id, stop_on, &st) != 0 && !st.stopped) {
        cli_print_error(cli_source_error(p->src));
        p->failed = 1;
    }
    if (tropt_tracker_is_active(p->t) &&
        tropt_tracker_finish_run(p->t, "crashed", p->last_time, NULL) != TROPT_OK) {
        say("cannot close run", id);
        p->failed = 1;
    }
    atts_free(p);
}

static void print_summary(const replaying *p)
{
    printf("replayed %ld run(s), %ld step(s) from %s", p->runs - p->skipped, p->steps,
           cli_source_name(p->src));
    if (p->attempts > p->runs)
        printf("; %ld attempts", p->attempts);
    if (p->skipped)
        printf("; %ld deleted run(s) skipped", p->skipped);
    printf("\n");
}

/* Every run is listed first (copied), then each streams: the listing's
 * cursor is not held while a run streams (some stores, e.g. one sqlite
 * file read and written, prefer that). */
static void replay_all(replaying *p)
{
    cli_run_info *runs = NULL;
    size_t n = 0;
    if (cli_source_list(p->src, &runs, &n) != 0) {
        cli_print_error(cli_source_error(p->src));
        p->failed = 1;
    }
    for (size_t i = 0; i < n; i++)
        replay_run(p, runs[i].run_id);
    cli_run_infos_free(runs, n);
    if (tropt_tracker_flush(p->t) != TROPT_OK) {
        cli_print_error(tropt_error_message());
        p->failed = 1;
    }
}

int cli_replay_from(const char *db, const char *from, const char *tracker_spec)
{
    replaying p = {0};
    char *err = NULL;
    if (cli_source_open(&p.src, db, from, &err) != 0) {
        cli_print_error(err);
        free(err);
        return 1;
    }
    if (tropt_tracker_open(&p.t, tracker_spec, NULL, NULL) != TROPT_OK) {
        cli_print_error(tropt_error_message());
        cli_source_free(p.src);
        return 1;
    }
    replay_all(&p);
    tropt_tracker_free(p.t);
    print_summary(&p);
    cli_source_free(p.src);
    return p.failed ? 1 : 0;
}
