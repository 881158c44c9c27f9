/*
 * tests/reliability/test_race.c - threads racing init, log, finish and
 * flush on ONE tracker (the header: "calls on one tracker from several
 * threads are serialized by the library"), and threads opening and freeing
 * trackers of their own at the same time.
 *
 * Each thread picks its next call at random (seeded; the seed is printed
 * and TROPT_RACE_SEED=<seed> repeats the choices, not the interleaving):
 * init with a config, log (fields or JSON), log of a non-object, finish
 * with a summary, flush, is_active.  Asserted:
 *   - every call returns what tracker.h documents for the state it found:
 *     init, finish and flush TROPT_OK; log TROPT_OK or TROPT_ESTATE with
 *     "log() called on inactive tracker (missing init()?)" as the calling
 *     thread's message; log of an array TROPT_EINVAL (or TROPT_ESTATE);
 *   - the diagnostics: one "init() called on already-active tracker" warning
 *     per init that found a run open, one "finish() called on inactive
 *     tracker" warning per finish that found none;
 *   - the recorder test backend, which writes each hook call as one line,
 *     saw one serial history: a run opened (init) only when none was open,
 *     each step of the open run numbered 0, 1, 2, ... with no gap, each
 *     closed once (by a thread's finish, with its summary, or by the next
 *     init, without one), each thread's steps in the order it logged them,
 *     and as many calls as returned TROPT_OK;
 *   - the sqlite database written at the same time: one run per init, every
 *     run finished, steps 0..n-1 per run with all their fields, a summary
 *     for each run a finish closed, and as many steps as log calls returned
 *     TROPT_OK.
 * Freeing a tracker while other threads still use it is the caller's error
 * (tracker.h), so the tracker is freed after the threads are joined.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sqlite_tu.h"

#define NTHREADS 6
#define OPS 400
#define MSG_LOG_INACTIVE "log() called on inactive tracker (missing init()?)"
#define MSG_INIT_ACTIVE "init() called on already-active tracker"
#define MSG_FINISH_INACTIVE "finish() called on inactive tracker"

static uint64_t base_seed;

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void seed_once(void)
{
    const char *env = getenv("TROPT_RACE_SEED");
    if (env && *env) {
        base_seed = strtoull(env, NULL, 0);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        base_seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
    }
    printf("seed %" PRIu64 " (TROPT_RACE_SEED=%" PRIu64 " repeats the choices)\n", base_seed,
           base_seed);
}

/* What one thread did and got. */
typedef struct racer {
    tropt_tracker *t;
    int id;
    int inits, finishes, flushes;
    int logs_ok, logs_inactive;
    int bad;         /* calls that returned something undocumented */
    char why[256];   /* the first of them */
    int64_t n_order; /* this thread's log counter (field "n") */
} racer;

static void bad_call(racer *r, const char *call, int rc)
{
    if (r->bad++ == 0)
        snprintf(r->why, sizeof r->why, "thread %d: %s returned %s: %s", r->id, call,
                 tropt_error_name(rc), tropt_error_message());
}

static void *race(void *arg)
{
    racer *r = arg;
    uint64_t rng = base_seed + (uint64_t)r->id * 7919;
    char tag[16];
    snprintf(tag, sizeof tag, "t%d", r->id);
    for (int op = 0; op < OPS; op++) {
        unsigned pick = (unsigned)(splitmix(&rng) % 100);
        int rc;
        if (pick < 10) {
            json_t *cfg = json_pack("{s:i,s:i}", "thread", r->id, "op", op);
            rc = tropt_tracker_init(r->t, cfg);
            json_decref(cfg);
            if (rc != TROPT_OK)
                bad_call(r, "init", rc);
            r->inits++;
        } else if (pick < 18) {
            json_t *sum = json_pack("{s:i}", "by", r->id);
            rc = tropt_tracker_finish(r->t, sum);
            json_decref(sum);
            if (rc != TROPT_OK)
                bad_call(r, "finish", rc);
            r->finishes++;
        } else if (pick < 21) {
            if ((rc = tropt_tracker_flush(r->t)) != TROPT_OK)
                bad_call(r, "flush", rc);
            r->flushes++;
        } else if (pick < 24) {
            int a = tropt_tracker_is_active(r->t);
            if (a != 0 && a != 1)
                bad_call(r, "is_active", a);
        } else if (pick < 27) {
            /* Not an object: refused before any backend sees it, so it
             * takes no step number; the message is this thread's. */
            json_t *d = json_pack("[i]", op);
            rc = tropt_tracker_log(r->t, d);
            json_decref(d);
            const char *m = tropt_error_message();
            if (rc == TROPT_ESTATE ? strcmp(m, MSG_LOG_INACTIVE) != 0
                                   : rc != TROPT_EINVAL || strstr(m, "JSON object") == NULL)
                bad_call(r, "log([...])", rc);
        } else {
            int64_t n = r->n_order;
            if (pick < 60) {
                tropt_field f[4] = {TROPT_F_INT("thread", r->id), TROPT_F_INT("n", n),
                                    TROPT_F_REAL("x", (double)n / 3.0), TROPT_F_STR("tag", tag)};
                rc = tropt_tracker_log_fields(r->t, f, 4);
            } else {
                json_t *d = json_pack("{s:i,s:I,s:f,s:s}", "thread", r->id, "n", (json_int_t)n, "x",
                                      (double)n / 3.0, "tag", tag);
                rc = tropt_tracker_log(r->t, d);
                json_decref(d);
            }
            if (rc == TROPT_OK) {
                r->logs_ok++;
                r->n_order++;
            } else if (rc == TROPT_ESTATE && strcmp(tropt_error_message(), MSG_LOG_INACTIVE) == 0) {
                r->logs_inactive++;
            } else {
                bad_call(r, "log", rc);
            }
        }
    }
    return NULL;
}

/* Sum of the threads' counts. */
typedef struct totals {
    int inits, finishes, logs_ok, logs_inactive;
    int auto_closed;   /* runs closed by the next init */
    int finish_closed; /* runs closed by a thread's finish */
    int final_closed;  /* 1 when the final finish closed a run */
} totals;

static totals run_racers(tropt_tracker *t)
{
    pthread_t th[NTHREADS];
    static racer rs[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        rs[i] = (racer){.t = t, .id = i};
        ck_assert_int_eq(pthread_create(&th[i], NULL, race, &rs[i]), 0);
    }
    totals s = {0};
    for (int i = 0; i < NTHREADS; i++) {
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        ck_assert_msg(rs[i].bad == 0, "%d undocumented results; first: %s", rs[i].bad, rs[i].why);
        s.inits += rs[i].inits;
        s.finishes += rs[i].finishes;
        s.logs_ok += rs[i].logs_ok;
        s.logs_inactive += rs[i].logs_inactive;
    }
    printf("%d inits, %d finishes, %d steps logged, %d logs refused (no open run)\n", s.inits,
           s.finishes, s.logs_ok, s.logs_inactive);
    return s;
}

/* Captured warnings whose text contains needle. */
static int count_lines(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Race on a tracker of spec, then finish the last run and free it; checks
 * the warnings against the counts of calls. */
static totals race_on(const char *spec)
{
    tropt_tracker *t = NULL;
    ck_assert_msg(tropt_tracker_open(&t, spec, "race", NULL) == TROPT_OK, "open %s: %s", spec,
                  tropt_error_message());
    tu_capture_start();
    totals s = run_racers(t);
    s.final_closed = tropt_tracker_is_active(t);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_is_active(t), 0);
    tu_capture_stop();
    const char *cap = tu_captured();
    int init_warn = count_lines(cap, MSG_INIT_ACTIVE);
    int finish_warn = count_lines(cap, MSG_FINISH_INACTIVE);
    ck_assert_int_eq(tu_captured_count(TROPT_LEVEL_WARNING), init_warn + finish_warn);
    ck_assert_int_eq(tu_captured_count(TROPT_LEVEL_ERROR), 0);
    /* The final finish warns exactly when no run was left open. */
    s.auto_closed = init_warn;
    s.finish_closed = s.finishes - (finish_warn - !s.final_closed);
    ck_assert_int_ge(s.finish_closed, 0);
    ck_assert_int_le(s.finish_closed, s.finishes);
    /* Every run was closed once: by the next init or by a finish. */
    ck_assert_int_eq(s.auto_closed + s.finish_closed + s.final_closed, s.inits);
    ck_assert_int_gt(s.inits, 0);
    ck_assert_int_gt(s.logs_ok, 0);
    ck_assert_int_gt(s.logs_inactive, 0);
    tropt_tracker_free(t);
    return s;
}

START_TEST(test_race_null)
{
    seed_once();
    race_on("null");
}
END_TEST

/* ---- the recorder's history and the sqlite database ----------------------- */

static int64_t field_int(const char *line, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, " %s=i:", key);
    const char *p = strstr(line, pat);
    ck_assert_msg(p != NULL, "no %s in: %s", key, line);
    return strtoll(p + strlen(pat), NULL, 10);
}

/* Replay the recorder's lines as the one serial history the tracker must
 * have produced; returns the number of runs. */
static int check_history(const char *path, const totals *s)
{
    char *text = tu_read_file(path, NULL);
    ck_assert_ptr_nonnull(text);
    char open_run[64] = "";
    int64_t next_step = 0, last_n[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        last_n[i] = -1;
    int runs = 0, steps = 0, closed_auto = 0, closed_sum = 0;
    int creates = 0, destroys = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char run[64];
        if (strncmp(line, "create ", 7) == 0) {
            creates++;
        } else if (strcmp(line, "destroy") == 0) {
            destroys++;
        } else if (strcmp(line, "flush") == 0) {
        } else if (sscanf(line, "init run=%63s", run) == 1) {
            ck_assert_msg(open_run[0] == '\0', "run %s opened while %s was open", run, open_run);
            snprintf(open_run, sizeof open_run, "%s", run);
            next_step = 0;
            runs++;
        } else if (sscanf(line, "log run=%63s", run) == 1) {
            ck_assert_msg(strcmp(run, open_run) == 0, "a step of %s while %s is open", run,
                          open_run[0] ? open_run : "no run");
            int64_t step = -1;
            ck_assert_int_eq(sscanf(strstr(line, " step="), " step=%" SCNd64, &step), 1);
            ck_assert_msg(step == next_step, "run %s: step %" PRId64 " after %" PRId64, run, step,
                          next_step - 1);
            next_step++;
            int64_t th = field_int(line, "thread"), n = field_int(line, "n");
            ck_assert(th >= 0 && th < NTHREADS);
            ck_assert_msg(n == last_n[th] + 1, "thread %d: its step %" PRId64 " after %" PRId64,
                          (int)th, n, last_n[th]);
            last_n[th] = n;
            steps++;
        } else if (sscanf(line, "finish run=%63s", run) == 1) {
            ck_assert_msg(strcmp(run, open_run) == 0, "finish of %s while %s is open", run,
                          open_run[0] ? open_run : "no run");
            if (strstr(line, " summary={\"by\":")) {
                ck_assert_msg(strstr(line, " status=finished ") != NULL, "%s", line);
                closed_sum++;
            } else if (strstr(line, " summary=null")) {
                /* by an init (aborted: SPEC 3), or the final finish */
                ck_assert_msg(strstr(line, " status=aborted ") || strstr(line, " status=finished "),
                              "%s", line);
                closed_auto++;
            }
            open_run[0] = '\0';
        } else {
            ck_abort_msg("unexpected line: %s", line);
        }
    }
    ck_assert_int_eq(creates, 1);
    ck_assert_int_eq(destroys, 1);
    ck_assert_msg(open_run[0] == '\0', "run %s never closed", open_run);
    ck_assert_int_eq(runs, s->inits);
    ck_assert_int_eq(steps, s->logs_ok);
    ck_assert_int_eq(closed_sum, s->finish_closed);
    ck_assert_int_eq(closed_auto, s->auto_closed + s->final_closed);
    free(text);
    return runs;
}

START_TEST(test_race_sqlite_recorder)
{
    seed_once();
    char *dir = tu_mkdtemp();
    char *db = tu_path(dir, "race.db");
    char *rec = tu_path(dir, "calls.txt");
    char *spec = tu_strdupf("sqlite:path=%s;recorder:out=%s", db, rec);
    totals s = race_on(spec);
    int runs = check_history(rec, &s);

    sqlite3 *h = tq_db(db);
    tq_assert_integrity(h);
    ck_assert_int_eq(tq_int(h, "SELECT count(*) FROM runs"), runs);
    /* an init auto-finishes the run it finds open as aborted (SPEC 3) */
    ck_assert_int_eq(tq_int(h, "SELECT count(*) FROM runs WHERE status = 'aborted'"
                               " AND ended_at >= started_at"),
                     s.auto_closed);
    ck_assert_int_eq(tq_int(h, "SELECT count(*) FROM runs WHERE status IN ('finished', 'aborted')"
                               " AND ended_at >= started_at"),
                     runs);
    /* Steps 0..n-1 in every run, four fields each, in order of time. */
    ck_assert_int_eq(tq_int(h, "SELECT count(*) FROM (SELECT run_id, count(DISTINCT step) n,"
                               " coalesce(max(step), -1) m, count(*) c FROM runs"
                               " LEFT JOIN metrics USING (run_id) GROUP BY run_id)"
                               " WHERE m = n - 1 AND (c = 4 * n OR n = 0)"),
                     runs);
    ck_assert_int_eq(tq_int(h, "SELECT count(*) FROM metrics WHERE key = 'n'"), s.logs_ok);
    /* Each thread's own counter: 0, 1, 2, ... each once (their order is
     * checked in the recorder's history). */
    ck_assert_int_eq(tq_int(h, "SELECT count(*) FROM (SELECT t.value th, count(*) c,"
                               " count(DISTINCT n.value) d, min(n.value) lo, max(n.value) hi"
                               " FROM metrics t JOIN metrics n ON n.run_id = t.run_id"
                               " AND n.step = t.step AND n.key = 'n' WHERE t.key = 'thread'"
                               " GROUP BY t.value) WHERE c = d AND lo = 0 AND hi = c - 1"),
                     NTHREADS);
    ck_assert_int_eq(tq_int(h, "SELECT count(DISTINCT run_id) FROM summary WHERE key = 'by'"),
                     s.finish_closed);
    ck_assert_int_eq(tq_int(h, "SELECT count(DISTINCT run_id) FROM params WHERE key = 'thread'"),
                     runs);
    sqlite3_close(h);
    tu_rmtree(dir);
    free(spec);
    free(rec);
    free(db);
    free(dir);
}
END_TEST

/* ---- separate trackers, opened and freed concurrently ------------------- */

struct churn {
    const char *db;
    int id, failures;
    char why[256];
};

static void *churn(void *arg)
{
    struct churn *c = arg;
    char *spec = tu_strdupf("null;sqlite:path=%s", c->db);
    for (int i = 0; i < 20; i++) {
        tropt_tracker *t = NULL;
        int rc = tropt_tracker_open(&t, spec, "churn", NULL);
        if (rc == TROPT_OK)
            rc = tropt_tracker_init(t, NULL);
        for (int s = 0; rc == TROPT_OK && s < 5; s++) {
            tropt_field f[2] = {TROPT_F_INT("id", c->id), TROPT_F_INT("i", i)};
            rc = tropt_tracker_log_fields(t, f, 2);
        }
        if (rc == TROPT_OK && i % 2)
            rc = tropt_tracker_finish(t, NULL);
        if (rc != TROPT_OK && c->failures++ == 0)
            snprintf(c->why, sizeof c->why, "%s: %s", tropt_error_name(rc), tropt_error_message());
        tropt_tracker_free(t); /* even rounds: aborted */
    }
    free(spec);
    return NULL;
}

/* Plugins loaded and unloaded by threads at once; every run written. */
START_TEST(test_open_free_churn)
{
    char *dir = tu_mkdtemp();
    char *db = tu_path(dir, "churn.db");
    pthread_t th[NTHREADS];
    struct churn cs[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        cs[i] = (struct churn){.db = db, .id = i};
        ck_assert_int_eq(pthread_create(&th[i], NULL, churn, &cs[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++) {
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        ck_assert_msg(cs[i].failures == 0, "thread %d: %d failed calls; first: %s", i,
                      cs[i].failures, cs[i].why);
    }
    sqlite3 *h = tq_db(db);
    tq_assert_integrity(h);
    ck_assert_int_eq(tq_int(h, "SELECT count(*) FROM runs WHERE status = 'finished'"),
                     NTHREADS * 10);
    ck_assert_int_eq(tq_int(h, "SELECT count(*) FROM runs WHERE status = 'aborted'"),
                     NTHREADS * 10);
    ck_assert_int_eq(tq_int(h, "SELECT count(*) FROM metrics"), NTHREADS * 20 * 5 * 2);
    sqlite3_close(h);
    tu_rmtree(dir);
    free(db);
    free(dir);
}
END_TEST

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    Suite *s = suite_create("race");
    TCase *tc = tcase_create("race");
    tcase_set_timeout(tc, 110);
    tcase_add_test(tc, test_race_null);
    tcase_add_test(tc, test_race_sqlite_recorder);
    tcase_add_test(tc, test_open_free_churn);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
