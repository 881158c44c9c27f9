/*
 * tools/cmd_replay_from.c - `tropt replay --from SPEC | --db PATH --tracker
 * SPEC`: every run of any readable backend, read through the run source
 * (tools/source.h), replayed into the backends of the tracker spec with
 * its ids, steps and times.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tropt/host.h>
#include <tropt/tracker.h>

#include "source.h"

/* ---- replay ------------------------------------------------------------- */

typedef struct replaying {
    tropt_tracker *t;
    cli_source *src;
    long runs, steps;
    int failed;
} replaying;

static int replay_event(const tropt_event *ev, void *ud)
{
    replaying *p = ud;
    int rc = TROPT_OK;
    switch (ev->kind) {
    case TROPT_EVENT_START: {
        tropt_run_info info = {.run_id = ev->run->run_id,
                               .experiment = ev->run->experiment,
                               .started_at = ev->run->started_at,
                               .host = ev->run->host,
                               .pid = ev->run->pid};
        rc = tropt_tracker_init_run(p->t, &info, ev->config);
        break;
    }
    case TROPT_EVENT_STEP:
        rc = tropt_tracker_log_fields_at(p->t, ev->step, ev->time, ev->fields, ev->n);
        p->steps++;
        break;
    case TROPT_EVENT_END:
        rc = tropt_tracker_finish_run(p->t, ev->status, ev->ended_at, ev->summary);
        break;
    default: /* attempts, checkpoint marks, system samples: replayed once the stores keep them */
        break;
    }
    if (rc != TROPT_OK) {
        fprintf(stderr, "tropt: replay of run %s failed: %s\n", ev->run->run_id,
                tropt_error_message());
        p->failed = 1;
        return 1;
    }
    return 0;
}

static void replay_run(replaying *p, const char *id)
{
    p->runs++;
    if (cli_source_stream(p->src, id, replay_event, p) != 0 && !p->failed) {
        fprintf(stderr, "tropt: %s\n", cli_source_error(p->src));
        p->failed = 1;
    }
}

/* Every run is listed first (copied), then each streams: the listing's
 * cursor is not held while a run streams (some stores, e.g. one sqlite
 * file read and written, prefer that). */
static void replay_all(replaying *p, const cli_run_info *runs, size_t n)
{
    for (size_t i = 0; !p->failed && i < n; i++) {
        replay_run(p, runs[i].run_id);
        if (!p->failed && tropt_tracker_is_active(p->t)) /* a run without END stays open */
            tropt_tracker_finish_run(p->t, "crashed", -1, NULL);
    }
}

int cli_replay_from(const char *db, const char *from, const char *tracker_spec)
{
    replaying p = {0};
    char *err = NULL;
    if (cli_source_open(&p.src, db, from, &err) != 0) {
        fprintf(stderr, "tropt: %s\n", err);
        free(err);
        return 1;
    }
    if (tropt_tracker_open(&p.t, tracker_spec, NULL, NULL) != TROPT_OK) {
        fprintf(stderr, "tropt: %s\n", tropt_error_message());
        cli_source_free(p.src);
        return 1;
    }
    cli_run_info *runs = NULL;
    size_t n = 0;
    if (cli_source_list(p.src, &runs, &n) != 0) {
        fprintf(stderr, "tropt: %s\n", cli_source_error(p.src));
        p.failed = 1;
    }
    replay_all(&p, runs, n);
    cli_run_infos_free(runs, n);
    if (tropt_tracker_flush(p.t) != TROPT_OK && !p.failed) {
        fprintf(stderr, "tropt: %s\n", tropt_error_message());
        p.failed = 1;
    }
    tropt_tracker_free(p.t);
    if (!p.failed)
        printf("replayed %ld run(s), %ld step(s) from %s\n", p.runs, p.steps,
               cli_source_name(p.src));
    cli_source_free(p.src);
    return p.failed ? 1 : 0;
}
