/*
 * tests/pg/test_pg_upgrade.c - a store written by the release before schema
 * 2 (tests/data/pg_schema1.sql, see tests/data/README) is read as it is by
 * a reader (which changes nothing), upgraded in place by the first tracker
 * that opens it with nothing lost or changed, and then continued (a run of
 * it resumed); and many processes opening it at once upgrade it once, all
 * of them writing.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <tropt/host.h>
#include <tropt/tracker.h>

#include "pg_tu.h"

#define RUN1 "01890a5d-ac96-774b-bcce-b30209920001"
#define RUN2 "01890a5d-ac96-774b-bcce-b30209920002"
#define RUN3 "01890a5d-ac96-774b-bcce-b30209920003"

/* Everything the four views of version 1 show, as one text (malloc'd). */
static char *views_text(PGconn *c, const char *schema)
{
    char *m = pgtu_text(c,
                        "SELECT string_agg(concat_ws('|', run_id, step, time, key, value,"
                        " value_int, value_text, kind), E'\\n' ORDER BY run_id, step, key)"
                        " FROM %s.metrics",
                        schema);
    char *p = pgtu_text(c,
                        "SELECT string_agg(concat_ws('|', run_id, key, value, value_int,"
                        " value_text, kind), E'\\n' ORDER BY run_id, key) FROM %s.params",
                        schema);
    char *s = pgtu_text(c,
                        "SELECT string_agg(concat_ws('|', run_id, key, value, value_int,"
                        " value_text, kind), E'\\n' ORDER BY run_id, key) FROM %s.summary",
                        schema);
    char *r = pgtu_text(c,
                        "SELECT string_agg(concat_ws('|', run_id, experiment, status,"
                        " started_at, ended_at, host, pid, config), E'\\n' ORDER BY run_id)"
                        " FROM %s.runs",
                        schema);
    ck_assert(m && p && s && r);
    char *all = tu_strdupf("%s\n--\n%s\n--\n%s\n--\n%s", m, p, s, r);
    free(m);
    free(p);
    free(s);
    free(r);
    return all;
}

typedef struct listed {
    int n;
    int64_t steps[3], attempts[3], last_step[3], checkpoint_step[3];
    double heartbeat_age[3], stale_after[3];
    char status[3][16];
} listed;

static int on_run(const tropt_stored_run *r, void *ud)
{
    listed *l = ud;
    ck_assert_int_lt(l->n, 3);
    l->steps[l->n] = r->n_steps;
    l->attempts[l->n] = r->attempts;
    l->last_step[l->n] = r->last_step;
    l->checkpoint_step[l->n] = r->checkpoint_step;
    l->heartbeat_age[l->n] = r->heartbeat_age;
    l->stale_after[l->n] = r->stale_after;
    snprintf(l->status[l->n], sizeof l->status[0], "%s", r->status);
    l->n++;
    return 0;
}

/* The steps of a run as read back: "step:key=value;..." (malloc'd). */
typedef struct steps_text {
    char *s;
    int starts, ends;
} steps_text;

static int on_event(const tropt_event *ev, void *ud)
{
    steps_text *t = ud;
    if (ev->kind == TROPT_EVENT_START)
        t->starts++;
    if (ev->kind == TROPT_EVENT_END)
        t->ends++;
    if (ev->kind != TROPT_EVENT_STEP)
        return 0;
    for (size_t i = 0; i < ev->n; i++) {
        char *v = NULL;
        const tropt_field *f = &ev->fields[i];
        if (f->type == TROPT_REAL)
            v = tu_strdupf("r%a", f->v.r);
        else if (f->type == TROPT_INT || f->type == TROPT_BOOL)
            v = tu_strdupf("i%lld", (long long)(f->type == TROPT_INT ? f->v.i : f->v.b));
        else if (f->type == TROPT_STRING)
            v = tu_strdupf("s%s", f->v.s);
        else
            v = tu_strdupf("t%d", (int)f->type);
        char *n = tu_strdupf("%s%lld:%s=%s;", t->s ? t->s : "", (long long)ev->step, f->key, v);
        free(v);
        free(t->s);
        t->s = n;
    }
    return 0;
}

static char *read_steps(const char *spec, const char *run)
{
    tropt_reader *r = NULL;
    ck_assert_msg(tropt_reader_open(&r, spec) == TROPT_OK, "%s", tropt_error_message());
    steps_text t = {0};
    ck_assert_msg(tropt_reader_read_run(r, run, on_event, &t) == TROPT_OK, "%s",
                  tropt_error_message());
    ck_assert_int_eq(t.starts, 1);
    ck_assert_int_eq(t.ends, 1);
    tropt_reader_free(r);
    return t.s;
}

static listed list(const char *spec)
{
    tropt_reader *r = NULL;
    ck_assert_msg(tropt_reader_open(&r, spec) == TROPT_OK, "%s", tropt_error_message());
    listed l = {0};
    ck_assert_int_eq(tropt_reader_list_runs(r, on_run, &l), TROPT_OK);
    tropt_reader_free(r);
    return l;
}

START_TEST(test_upgrade_in_place_keeps_everything)
{
    pgtu_load_fixture("up_one");
    char *spec = pgtu_spec("up_one", NULL);
    PGconn *c = pgtu_connect();
    char *before = views_text(c, "up_one");

    /* read as it is: version 1, nothing changed */
    listed l1 = list(spec);
    ck_assert_int_eq(l1.n, 3);
    ck_assert_int_eq(l1.steps[0], 41);
    ck_assert_int_eq(l1.steps[1], 40);
    ck_assert_int_eq(l1.steps[2], 25);
    ck_assert_str_eq(l1.status[2], "crashed"); /* its heartbeat is long stale */
    /* every ABI 1.2 member filled: one attempt, the highest step (run 2's
     * steps have gaps: not its count - 1), no mark, the heartbeat's age */
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(l1.attempts[i], 1);
        ck_assert_int_eq(l1.checkpoint_step[i], -1);
        ck_assert_msg(l1.heartbeat_age[i] > 0 && l1.stale_after[i] > 0, "%g %g",
                      l1.heartbeat_age[i], l1.stale_after[i]);
    }
    ck_assert_int_eq(l1.last_step[0], 40);
    ck_assert_int_eq(l1.last_step[1], 78);
    char *steps1 = read_steps(spec, RUN1);
    ck_assert_int_eq(pgtu_i64(c, "SELECT version FROM up_one.tropt_version"), 1);

    /* a tracker opening it upgrades it */
    tropt_tracker *t = NULL;
    ck_assert_msg(tropt_tracker_open(&t, spec, "upgraded", NULL) == TROPT_OK, "%s",
                  tropt_error_message());
    ck_assert_int_eq(pgtu_i64(c, "SELECT version FROM up_one.tropt_version"), 2);
    char *after = views_text(c, "up_one");
    ck_assert_str_eq(after, before);
    ck_assert_int_eq(pgtu_i64(c,
                              "SELECT count(*) FROM up_one.runs WHERE name IS NULL AND"
                              " tags = '[]' AND note IS NULL AND attempts = 1 AND command IS NULL"),
                     3);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM up_one.metrics_history WHERE superseded"),
                     0);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM up_one.metrics_history"),
                     pgtu_i64(c, "SELECT count(*) FROM up_one.metrics"));
    listed l2 = list(spec);
    ck_assert_int_eq(l2.n, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(l2.steps[i], l1.steps[i]);
        ck_assert_int_eq(l2.attempts[i], 1);
    }
    ck_assert_int_eq(l2.last_step[0], 40);
    ck_assert_int_eq(l2.last_step[1], 78);
    char *steps2 = read_steps(spec, RUN1);
    ck_assert_str_eq(steps2, steps1);

    /* continued: run 2 (aborted at step 78) resumes at 79 as attempt 2 */
    ck_assert_msg(tropt_tracker_resume(t, RUN2, -1, NULL) == TROPT_OK, "%s", tropt_error_message());
    ck_assert_int_eq(tropt_tracker_next_step(t), 79);
    for (int i = 0; i < 3; i++) {
        tropt_field f = TROPT_F_INT("big", 1000 + i);
        ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_OK);
    }
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    ck_assert_int_eq(pgtu_i64(c, "SELECT attempts FROM up_one.runs WHERE run_id = '" RUN2 "'"), 2);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM up_one.metrics WHERE run_id = '" RUN2
                                 "' AND key = 'big' AND step BETWEEN 79 AND 81 AND"
                                 " value_int = step + 921"),
                     3);
    /* the stale run was marked crashed by that init, with its attempt */
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM up_one.tropt_run u JOIN up_one.tropt_attempt"
                                 " a ON a.run = u.id WHERE u.run_id = '" RUN3
                                 "' AND u.status = 'crashed' AND a.status = 'crashed'"),
                     1);
    PQfinish(c);
    free(before);
    free(after);
    free(steps1);
    free(steps2);
    free(spec);
}
END_TEST

#define NPROC 16
#define NSTEPS 20

static void opener(const char *spec, int go_fd)
{
    char b;
    if (read(go_fd, &b, 1) != 1)
        _exit(3);
    tropt_tracker *t = NULL;
    if (tropt_tracker_open(&t, spec, "many", NULL) != TROPT_OK) {
        fprintf(stderr, "open: %s\n", tropt_error_message());
        _exit(4);
    }
    if (tropt_tracker_init(t, NULL) != TROPT_OK) {
        fprintf(stderr, "init: %s\n", tropt_error_message());
        _exit(5);
    }
    for (int i = 0; i < NSTEPS; i++) {
        tropt_field f = TROPT_F_INT("i", i);
        if (tropt_tracker_log_fields(t, &f, 1) != TROPT_OK)
            _exit(6);
    }
    if (tropt_tracker_finish(t, NULL) != TROPT_OK)
        _exit(7);
    tropt_tracker_free(t);
    _exit(0);
}

START_TEST(test_upgrade_many_processes_at_once)
{
    pgtu_load_fixture("up_many");
    char *spec = pgtu_spec("up_many", NULL);
    PGconn *c = pgtu_connect();
    int64_t fixture_rows = pgtu_i64(c, "SELECT count(*) FROM up_many.metrics");
    int go[2];
    ck_assert_int_eq(pipe(go), 0);
    pid_t kids[NPROC];
    for (int k = 0; k < NPROC; k++) {
        kids[k] = fork();
        ck_assert_int_ge(kids[k], 0);
        if (kids[k] == 0) {
            close(go[1]);
            opener(spec, go[0]);
        }
    }
    close(go[0]);
    char ones[NPROC];
    memset(ones, 1, sizeof ones);
    ck_assert_int_eq(write(go[1], ones, sizeof ones), NPROC); /* all at once */
    close(go[1]);
    for (int k = 0; k < NPROC; k++) {
        int st = 0;
        ck_assert_int_eq(waitpid(kids[k], &st, 0), kids[k]);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "process %d: status %d", k, st);
    }
    ck_assert_int_eq(pgtu_i64(c, "SELECT version FROM up_many.tropt_version"), 2);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM up_many.tropt_version"), 1);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM up_many.runs WHERE experiment = 'many'"
                                 " AND status = 'finished' AND attempts = 1"),
                     NPROC);
    ck_assert_int_eq(pgtu_i64(c,
                              "SELECT count(*) FROM up_many.metrics m JOIN up_many.runs r"
                              " USING (run_id) WHERE r.experiment = 'many' AND value_int = step"),
                     NPROC * NSTEPS);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM up_many.metrics"),
                     fixture_rows + NPROC * NSTEPS);
    PQfinish(c);
    free(spec);
}
END_TEST

int main(void)
{
    pgtu_start();
    Suite *s = suite_create("pg-upgrade");
    TCase *tc = tcase_create("upgrade");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_upgrade_in_place_keeps_everything);
    tcase_add_test(tc, test_upgrade_many_processes_at_once);
    suite_add_tcase(s, tc);
    int rc = tu_run_suite(s);
    pgtu_destroy();
    return rc;
}
