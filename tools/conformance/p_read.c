/*
 * tools/conformance/p_read.c - the promises about reading back (plugins
 * with reader hooks): what was logged reads back identical, its steps once
 * each and in order, its times exact, its runs with the status they ended
 * with.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kit.h"

static int same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* ---- everything logged reads back identical -------------------------------- */

/* What a store's format cannot tell apart is accepted: a bool as 0/1, an
 * array as its JSON text.  Reals are compared bit for bit: NaN is NaN (not
 * null), -0.0 is not 0.0. */
static int same_field(const tropt_field *want, const tropt_field *got)
{
    switch (want->type) {
    case TROPT_INT:
        return got->type == TROPT_INT && got->v.i == want->v.i;
    case TROPT_REAL:
        return got->type == TROPT_REAL && same_bits(got->v.r, want->v.r);
    case TROPT_STRING:
        return got->type == TROPT_STRING && strcmp(got->v.s, want->v.s) == 0;
    case TROPT_BOOL:
        return (got->type == TROPT_BOOL && got->v.b == want->v.b) ||
               (got->type == TROPT_INT && got->v.i == want->v.b);
    case TROPT_JSON: {
        if (got->type == TROPT_JSON)
            return json_equal((json_t *)want->v.json, (json_t *)got->v.json);
        if (got->type != TROPT_STRING)
            return 0;
        json_t *j = json_loads(got->v.s, JSON_DECODE_ANY, NULL);
        int eq = j && json_equal(j, (json_t *)want->v.json);
        json_decref(j);
        return eq;
    }
    case TROPT_NULL:
        return got->type == TROPT_NULL;
    }
    return 0;
}

typedef struct rb {
    int steps;
    char diff[768];
} rb;

static void diff_field(rb *r, const tropt_event *ev, const tropt_field *want)
{
    const tropt_field *got = NULL;
    for (size_t j = 0; j < ev->n; j++)
        if (strcmp(ev->fields[j].key, want->key) == 0)
            got = &ev->fields[j];
    if (got && same_field(want, got))
        return;
    char key[128], w[256], g[256] = "nothing";
    kit_escape(key, sizeof key, want->key);
    kit_describe(w, sizeof w, want);
    if (got)
        kit_describe(g, sizeof g, got);
    snprintf(r->diff, sizeof r->diff, "key \"%s\": logged %s, read back %s", key, w, g);
}

static int rb_event(const tropt_event *ev, void *ud)
{
    rb *r = ud;
    if (ev->kind != TROPT_EVENT_STEP)
        return 0;
    r->steps++;
    for (size_t i = 0; i < KIT_N_EDGE && !r->diff[0]; i++)
        diff_field(r, ev, &kit_edge[i]);
    if (!r->diff[0] && ev->n != KIT_N_EDGE)
        snprintf(r->diff, sizeof r->diff, "%zu fields read back, %d logged", ev->n, KIT_N_EDGE);
    return 0;
}

/* One run: the edge step, NaN included. */
static int log_edge(tropt_tracker *t, char id[40])
{
    int rc = tropt_tracker_init(t, NULL);
    if (!rc) {
        snprintf(id, 40, "%s", tropt_tracker_run_id(t));
        rc = tropt_tracker_log_fields(t, kit_edge, KIT_N_EDGE);
    }
    return rc ? rc : tropt_tracker_finish(t, NULL);
}

int p_readback(const kit *k)
{
    rb res = {0};
    if (kit_log_and_read(k, "the edge step is logged", log_edge, rb_event, &res))
        return KIT_BROKEN;
    if (res.steps != 1)
        return kit_broken("one step read back", "%d steps", res.steps);
    if (res.diff[0])
        return kit_broken("everything logged reads back identical (reals bit for bit, NaN, "
                          "+-Inf and -0.0 too)",
                          "%s", res.diff);
    return KIT_KEPT;
}

/* ---- steps: once each, in order ----------------------------------------- */

/* The steps logged, with a gap (a replayed run keeps its step numbers). */
static const int64_t order_steps[] = {0, 1, 2, 3, 10, 11, 12};
#define N_ORDER (sizeof order_steps / sizeof order_steps[0])
#define MAX_SEEN 32

typedef struct seen {
    int64_t step[MAX_SEEN];
    int64_t n_field[MAX_SEEN]; /* the field "n" of each step, -1 if none */
    size_t n;
} seen;

static int seen_event(const tropt_event *ev, void *ud)
{
    seen *s = ud;
    if (ev->kind != TROPT_EVENT_STEP || s->n == MAX_SEEN)
        return 0;
    s->n_field[s->n] = -1;
    for (size_t i = 0; i < ev->n; i++)
        if (strcmp(ev->fields[i].key, "n") == 0 && ev->fields[i].type == TROPT_INT)
            s->n_field[s->n] = ev->fields[i].v.i;
    s->step[s->n++] = ev->step;
    return 0;
}

/* "0,1,2" of n steps into buf. */
static void list_steps(char *buf, size_t size, const int64_t *steps, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && len + 24 < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%" PRId64, i ? "," : "", steps[i]);
}

static int log_ordered(tropt_tracker *t, char id[40])
{
    int rc = tropt_tracker_init(t, NULL);
    if (!rc)
        snprintf(id, 40, "%s", tropt_tracker_run_id(t));
    for (size_t i = 0; i < N_ORDER && !rc; i++) {
        tropt_field f[] = {TROPT_F_INT("n", (int64_t)i), TROPT_F_REAL("loss", 1.0 / (i + 1))};
        rc = tropt_tracker_log_fields_at(t, order_steps[i], -1, f, 2);
    }
    return rc ? rc : tropt_tracker_finish(t, NULL);
}

int p_order(const kit *k)
{
    seen s = {.n = 0};
    if (kit_log_and_read(k, "steps logged at given numbers", log_ordered, seen_event, &s))
        return KIT_BROKEN;
    int same = s.n == N_ORDER;
    for (size_t i = 0; i < s.n && same; i++)
        same = s.step[i] == order_steps[i] && s.n_field[i] == (int64_t)i;
    if (same)
        return KIT_KEPT;
    char want[256], got[256], expected[320];
    list_steps(want, sizeof want, order_steps, N_ORDER);
    list_steps(got, sizeof got, s.step, s.n);
    snprintf(expected, sizeof expected, "steps %s read back once each, in that order", want);
    if (strcmp(want, got) != 0)
        return kit_broken(expected, "steps %s", got);
    return kit_broken("each step read back with its own fields",
                      "the steps read back in order, but a step holds another step's fields");
}

/* ---- times: exact to the double ------------------------------------------ */

/* Times with every bit of the double in use. */
#define T0 1767225600.123456789
#define N_TIMED 4

static double step_time(size_t i)
{
    return T0 + (double)(i + 1) / 3.0;
}

static double end_time(void)
{
    return T0 + 7.0 / 3.0;
}

typedef struct timed {
    double started, ended, time[MAX_SEEN];
    int64_t step[MAX_SEEN];
    size_t n;
    int starts, ends;
} timed;

static int timed_event(const tropt_event *ev, void *ud)
{
    timed *s = ud;
    if (ev->kind == TROPT_EVENT_START) {
        s->starts++;
        s->started = ev->run ? ev->run->started_at : NAN;
    } else if (ev->kind == TROPT_EVENT_END) {
        s->ends++;
        s->ended = ev->ended_at;
    } else if (s->n < MAX_SEEN) {
        s->step[s->n] = ev->step;
        s->time[s->n++] = ev->time;
    }
    return 0;
}

static int log_timed(tropt_tracker *t, char id[40])
{
    tropt_run_info info = {.started_at = T0};
    int rc = tropt_tracker_init_run(t, &info, NULL);
    if (!rc)
        snprintf(id, 40, "%s", tropt_tracker_run_id(t));
    for (size_t i = 0; i < N_TIMED && !rc; i++)
        rc = tropt_tracker_log_fields_at(t, (int64_t)i, step_time(i), &TROPT_F_INT("i", 1), 1);
    return rc ? rc : tropt_tracker_finish_run(t, "finished", end_time(), NULL);
}

/* "logged real ..., read back real ..." for two times that differ. */
static int time_differs(const char *what, double want, double got)
{
    char w[128], g[128];
    kit_describe(w, sizeof w, &TROPT_F_REAL("", want));
    kit_describe(g, sizeof g, &TROPT_F_REAL("", got));
    return kit_broken("times read back exact to the double (start, each step, end)",
                      "%s: logged %s, read back %s", what, w, g);
}

/* Each step is compared with the time it was logged at (by its number:
 * the order of steps is the "order" promise's). */
static int compare_times(const timed *s)
{
    if (s->starts != 1 || s->ends != 1)
        return kit_broken("one START and one END read back", "%d START, %d END", s->starts,
                          s->ends);
    if (!same_bits(s->started, T0))
        return time_differs("the run's start", T0, s->started);
    for (size_t i = 0; i < s->n; i++) {
        char what[64];
        snprintf(what, sizeof what, "step %" PRId64 "'s time", s->step[i]);
        if (s->step[i] >= 0 && s->step[i] < N_TIMED &&
            !same_bits(s->time[i], step_time((size_t)s->step[i])))
            return time_differs(what, step_time((size_t)s->step[i]), s->time[i]);
    }
    if (!same_bits(s->ended, end_time()))
        return time_differs("the run's end", end_time(), s->ended);
    return KIT_KEPT;
}

int p_times(const kit *k)
{
    timed s = {.n = 0};
    if (kit_log_and_read(k, "a run logged at given times", log_timed, timed_event, &s))
        return KIT_BROKEN;
    return compare_times(&s);
}

/* ---- status: each run as it ended ----------------------------------------- */

static const struct {
    const char *how;    /* how the run ended */
    const char *status; /* what it must read back as */
} ends[] = {
    {"finish()", "finished"},
    {"tropt_tracker_finish_run(\"aborted\")", "aborted"},
    {"init() while it was active", "aborted"},
    {"tropt_tracker_finish_run(\"crashed\")", "crashed"},
    {"tropt_tracker_free() while it was active", "aborted"},
};
#define N_ENDS (sizeof ends / sizeof ends[0])

static int end_run(tropt_tracker *t, size_t how)
{
    switch (how) {
    case 0:
        return tropt_tracker_finish(t, NULL);
    case 1:
        return tropt_tracker_finish_run(t, "aborted", 0, NULL);
    case 3:
        return tropt_tracker_finish_run(t, "crashed", 0, NULL);
    default:
        return TROPT_OK; /* 2: the next init ends it; 4: free does */
    }
}

static int log_ends(const kit *k, char ids[N_ENDS][40])
{
    tropt_tracker *t = NULL;
    if (kit_open(k, &t))
        return KIT_BROKEN;
    int rc = TROPT_OK;
    size_t i = 0;
    for (; i < N_ENDS && !rc; i++) {
        rc = tropt_tracker_init(t, NULL);
        if (!rc)
            snprintf(ids[i], 40, "%s", tropt_tracker_run_id(t));
        if (!rc)
            rc = tropt_tracker_log_fields(t, &TROPT_F_INT("s", (int64_t)i), 1);
        if (!rc)
            rc = end_run(t, i);
    }
    tropt_tracker_free(t);
    if (rc)
        return kit_broken("runs end by finish, finish_run, init and free", "run %zu (%s): %s", i,
                          ends[i - 1].how, tropt_error_message());
    return KIT_KEPT;
}

typedef struct statuses {
    char ids[N_ENDS][40];
    char listed[N_ENDS][32]; /* status in list_runs, "" if not listed */
    char ended[32];          /* status of the END event of the run read */
} statuses;

static int list_status(const tropt_stored_run *run, void *ud)
{
    statuses *s = ud;
    for (size_t i = 0; i < N_ENDS; i++)
        if (run->run_id && strcmp(run->run_id, s->ids[i]) == 0)
            kit_escape(s->listed[i], sizeof s->listed[i], run->status ? run->status : "(null)");
    return 0;
}

static int end_status(const tropt_event *ev, void *ud)
{
    statuses *s = ud;
    if (ev->kind == TROPT_EVENT_END)
        kit_escape(s->ended, sizeof s->ended, ev->status ? ev->status : "(null)");
    return 0;
}

/* The first run whose END event or listing says another status. */
static int compare_statuses(tropt_reader *r, statuses *s)
{
    if (tropt_reader_list_runs(r, list_status, s))
        return kit_broken("the runs are listed", "%s", tropt_error_message());
    for (size_t i = 0; i < N_ENDS; i++) {
        strcpy(s->ended, "no END event");
        if (tropt_reader_read_run(r, s->ids[i], end_status, s))
            return kit_broken("the run reads back", "%s", tropt_error_message());
        const char *got = strcmp(s->ended, ends[i].status) ? s->ended : s->listed[i];
        const char *where = got == s->ended ? "its END event" : "list_runs";
        if (strcmp(got, ends[i].status) != 0)
            return kit_broken("each run reads back with the status it ended with",
                              "run %zu, ended by %s: status \"%s\" expected, %s says \"%s\"", i + 1,
                              ends[i].how, ends[i].status, where, got[0] ? got : "(not listed)");
    }
    return KIT_KEPT;
}

int p_status(const kit *k)
{
    statuses s;
    memset(&s, 0, sizeof s);
    if (log_ends(k, s.ids))
        return KIT_BROKEN;
    tropt_reader *r = NULL;
    if (kit_open_reader(k, &r))
        return KIT_BROKEN;
    int rc = compare_statuses(r, &s);
    tropt_reader_free(r);
    return rc;
}
