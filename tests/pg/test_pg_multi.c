/*
 * tests/pg/test_pg_multi.c - many writers, one store: 32 processes creating
 * the schema at once; 8 processes x 4 threads on 8 simulated hosts
 * (separate UTS namespaces) while a reader queries the views; a crashed
 * run recognised from another host by its heartbeat.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pg_tu.h"

/* Put the calling process on its own simulated host.  1: done; 0: not
 * permitted (non-root without user namespaces). */
static int become_host(const char *name)
{
    if (unshare(CLONE_NEWUTS) != 0)
        return 0;
    return sethostname(name, strlen(name)) == 0;
}

/* Can this process make UTS namespaces?  Tried in a child. */
static int can_simulate_hosts(void)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(become_host("probe") ? 0 : 1);
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* ---- the schema race ---------------------------------------------------- */

START_TEST(test_schema_race)
{
    enum { N = 32 };
    int go[2];
    ck_assert_int_eq(pipe(go), 0);
    pid_t kids[N];
    for (int i = 0; i < N; i++) {
        kids[i] = fork();
        ck_assert_int_ge(kids[i], 0);
        if (kids[i] == 0) {
            close(go[1]);
            char c;
            if (read(go[0], &c, 1) != 0)
                _exit(9);
            char *spec = pgtu_spec("race", NULL);
            tropt_tracker *t = NULL;
            if (tropt_tracker_open(&t, spec, "race", NULL) != TROPT_OK) {
                fprintf(stderr, "open: %s\n", tropt_error_message());
                _exit(2);
            }
            tropt_field f = TROPT_F_INT("i", i);
            int rc = tropt_tracker_init(t, NULL) != TROPT_OK ||
                     tropt_tracker_log_fields(t, &f, 1) != TROPT_OK ||
                     tropt_tracker_finish(t, NULL) != TROPT_OK;
            if (rc)
                fprintf(stderr, "write: %s\n", tropt_error_message());
            tropt_tracker_free(t);
            free(spec);
            _exit(rc ? 3 : 0);
        }
    }
    close(go[0]);
    close(go[1]); /* EOF: every child starts at once */
    int failed = 0;
    for (int i = 0; i < N; i++) {
        int st;
        waitpid(kids[i], &st, 0);
        failed += !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    ck_assert_int_eq(failed, 0);
    PGconn *c = pgtu_connect();
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM race.runs WHERE status = 'finished'"), N);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM race.metrics"), N);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM race.tropt_version"), 1);
    PQfinish(c);
}
END_TEST

/* ---- many hosts, many threads, a reader -------------------------------- */

enum { NPROC = 8, NTHREAD = 4, NSTEPS = 150, NFIELDS = 3, NRETRY = 10 };

struct writer {
    int proc, thread;
    atomic_int *failures;
};

static void *writer_thread(void *arg)
{
    struct writer *w = arg;
    /* half durable per step, half batched by count and time */
    char *spec =
        pgtu_spec("multi", (w->thread % 2) ? "commit_every=50,commit_interval=20ms" : NULL);
    char exp[32];
    snprintf(exp, sizeof exp, "p%d", w->proc);
    tropt_tracker *t = NULL;
    if (tropt_tracker_open(&t, spec, exp, NULL) != TROPT_OK) {
        fprintf(stderr, "open: %s\n", tropt_error_message());
        atomic_fetch_add(w->failures, 1);
        free(spec);
        return NULL;
    }
    free(spec);
    json_t *cfg = json_pack("{s:i,s:i}", "proc", w->proc, "thread", w->thread);
    if (tropt_tracker_init(t, cfg) != TROPT_OK) {
        fprintf(stderr, "init: %s\n", tropt_error_message());
        atomic_fetch_add(w->failures, 1);
    }
    json_decref(cfg);
    for (int s = 0; s < NSTEPS; s++) {
        tropt_field fl[NFIELDS] = {TROPT_F_INT("s", s), TROPT_F_REAL("loss", 1.0 / (s + 1)),
                                   TROPT_F_STR("who", exp)};
        if (tropt_tracker_log_fields(t, fl, NFIELDS) != TROPT_OK) {
            fprintf(stderr, "log: %s\n", tropt_error_message());
            atomic_fetch_add(w->failures, 1);
        }
    }
    /* retried steps (same step numbers again): never a second row */
    for (int s = 0; s < NRETRY; s++) {
        tropt_field fl[NFIELDS] = {TROPT_F_INT("s", s), TROPT_F_REAL("loss", 1.0 / (s + 1)),
                                   TROPT_F_STR("who", exp)};
        if (tropt_tracker_log_fields_at(t, s, -1, fl, NFIELDS) != TROPT_OK) {
            fprintf(stderr, "retry: %s\n", tropt_error_message());
            atomic_fetch_add(w->failures, 1);
        }
    }
    if (tropt_tracker_finish(t, NULL) != TROPT_OK) {
        fprintf(stderr, "finish: %s\n", tropt_error_message());
        atomic_fetch_add(w->failures, 1);
    }
    tropt_tracker_free(t);
    return NULL;
}

static int writer_proc(int proc, int go_fd, int hosts)
{
    char c;
    if (read(go_fd, &c, 1) != 0)
        return 10;
    if (hosts) {
        char name[32];
        snprintf(name, sizeof name, "sim-host-%d", proc);
        if (!become_host(name))
            return 12;
    }
    atomic_int failures = 0;
    pthread_t th[NTHREAD];
    struct writer w[NTHREAD];
    for (int i = 0; i < NTHREAD; i++) {
        w[i] = (struct writer){proc, i, &failures};
        if (pthread_create(&th[i], NULL, writer_thread, &w[i]) != 0)
            return 11;
    }
    for (int i = 0; i < NTHREAD; i++)
        pthread_join(th[i], NULL);
    return atomic_load(&failures) ? 1 : 0;
}

/* Query the views until stop_fd reads EOF, and at least once with rows
 * (however the scheduler ran the writers); write the rounds (or -error). */
static int reader_proc(int stop_fd, int out_fd)
{
    tu_stop stop;
    tu_stop_init(&stop, stop_fd);
    char *ci = pgtu_conninfo();
    PGconn *c = PQconnectdb(ci);
    free(ci);
    if (PQstatus(c) != CONNECTION_OK)
        return 20;
    int64_t rounds = 0, last = 0;
    int ret = 0, done;
    while ((done = tu_stop_check(&stop, last > 0)) <= 0) {
        if (done < 0) { /* the writers are done, yet no rows */
            ret = 23;
            break;
        }
        PGresult *r = PQexec(c, "SELECT (SELECT count(*) FROM multi.metrics),"
                                " (SELECT count(*) FROM multi.runs WHERE status = 'finished'),"
                                " (SELECT count(*) FROM multi.params),"
                                " (SELECT count(*) FROM multi.summary)");
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            /* the schema may not exist yet */
            const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            int missing = st && (!strcmp(st, "42P01") || !strcmp(st, "3F000"));
            if (!missing)
                fprintf(stderr, "reader: %s", PQresultErrorMessage(r));
            PQclear(r);
            if (!missing) {
                ret = 21;
                break;
            }
            tu_sleep_ms(2);
            continue;
        }
        int64_t rows = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        if (rows < last) {
            ret = 22;
            break;
        }
        last = rows;
        rounds++;
        tu_sleep_ms(2); /* pacing the reader, not waiting for anything */
    }
    PQfinish(c);
    pgtu_write_i64(out_fd, ret ? -ret : rounds);
    return ret;
}

START_TEST(test_many_hosts)
{
    int hosts = can_simulate_hosts();
    if (!hosts) {
        ck_assert_msg(geteuid() != 0, "root but cannot unshare the UTS namespace");
        fprintf(stderr, "pg-multi: cannot unshare the UTS namespace as a non-root user: every "
                        "writer runs on this one host (the host check is skipped)\n");
    }
    int stop[2], out[2], go[2];
    ck_assert_int_eq(pipe(stop), 0);
    ck_assert_int_eq(pipe(out), 0);
    ck_assert_int_eq(pipe(go), 0);
    pid_t reader = fork();
    if (reader == 0) {
        close(stop[1]);
        close(go[1]);
        _exit(reader_proc(stop[0], out[1]));
    }
    close(stop[0]);
    pid_t kids[NPROC];
    for (int i = 0; i < NPROC; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            close(stop[1]);
            close(go[1]);
            _exit(writer_proc(i, go[0], hosts));
        }
    }
    close(go[0]);
    close(go[1]);
    int failed = 0;
    for (int i = 0; i < NPROC; i++) {
        int st;
        waitpid(kids[i], &st, 0);
        if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
            fprintf(stderr, "writer %d: status %d\n", i, st);
            failed++;
        }
    }
    close(stop[1]);
    int st;
    waitpid(reader, &st, 0);
    int64_t rounds = pgtu_read_i64(out[0]);
    ck_assert_int_eq(failed, 0);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0 && rounds > 0, "reader: %d, %" PRId64, st,
                  rounds);
    PGconn *c = pgtu_connect();
    int64_t want = (int64_t)NPROC * NTHREAD * NSTEPS * NFIELDS;
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM multi.metrics"), want);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM (SELECT DISTINCT run_id, step, key"
                                 " FROM multi.metrics) d"),
                     want);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM multi.metrics WHERE key = 's' AND"
                                 " value_int = step"),
                     (int64_t)NPROC * NTHREAD * NSTEPS);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM multi.runs WHERE status = 'finished'"),
                     NPROC * NTHREAD);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM multi.params"), NPROC * NTHREAD * 2);
    if (hosts) {
        ck_assert_int_eq(pgtu_i64(c, "SELECT count(DISTINCT host) FROM multi.runs"), NPROC);
        ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM multi.runs WHERE host ="
                                     " 'sim-host-' || substr(experiment, 2)"),
                         NPROC * NTHREAD);
    }
    PQfinish(c);
    fprintf(stderr, "pg-multi: reader made %" PRId64 " rounds\n", rounds);
}
END_TEST

/* ---- heartbeat --------------------------------------------------------- */

static const char *status_of(PGconn *c, const char *table, const char *run, char *buf)
{
    PGresult *r = pgtu_q(c, "SELECT status FROM hb.%s WHERE run_id = '%s'", table, run);
    snprintf(buf, 32, "%s", PQntuples(r) ? PQgetvalue(r, 0, 0) : "(none)");
    PQclear(r);
    return buf;
}

/* The writer of test_heartbeat_crash, in a child: sends its run id to
 * id_fd, logs, then a long step until go_fd reads a byte, logs again, says
 * 'L' and waits to be killed.  Returns an exit code on failure. */
static int heartbeat_writer(int id_fd, int go_fd, int hosts)
{
    if (hosts && !become_host("node-a"))
        return 12;
    char *spec = pgtu_spec("hb", "heartbeat=1s");
    tropt_tracker *t = NULL;
    if (tropt_tracker_open(&t, spec, "hb", NULL) != TROPT_OK ||
        tropt_tracker_init(t, NULL) != TROPT_OK)
        return 3;
    if (write(id_fd, tropt_tracker_run_id(t), 36) != 36)
        return 4;
    tropt_field f = TROPT_F_INT("i", 0);
    if (tropt_tracker_log_fields(t, &f, 1) != TROPT_OK)
        return 5;
    /* a long step, until the test has seen it outlast the crash bound */
    char go;
    if (read(go_fd, &go, 1) != 1)
        return 8;
    if (tropt_tracker_log_fields(t, &f, 1) != TROPT_OK)
        return 6;
    if (write(id_fd, "L", 1) != 1)
        return 9;
    pause(); /* killed here */
    return 7;
}

START_TEST(test_heartbeat_crash)
{
    int hosts = can_simulate_hosts();
    if (!hosts) {
        ck_assert_msg(geteuid() != 0, "root but cannot unshare the UTS namespace");
        fprintf(stderr, "pg-multi: cannot unshare the UTS namespace as a non-root user: the "
                        "crash is detected from the same host\n");
    }
    /* idp: the run id, then a byte once the long step is over; gop: the
     * test ends the long step */
    int idp[2], gop[2];
    ck_assert_int_eq(pipe(idp), 0);
    ck_assert_int_eq(pipe(gop), 0);
    pid_t a = fork();
    if (a == 0) {
        close(idp[0]);
        close(gop[1]);
        _exit(heartbeat_writer(idp[1], gop[0], hosts));
    }
    close(idp[1]);
    close(gop[0]);
    char run[37] = "";
    ck_assert_int_eq(read(idp[0], run, 36), 36);
    PGconn *c = pgtu_connect();
    char buf[32];
    /* Crash bound: 4 x heartbeat (1 s), at least 2 s.  Watched for 6 s of
     * the long step, the heartbeat alone keeps the run running; the
     * watching time is the test (a slow machine only watches longer). */
    double end = tu_now() + 6.0;
    while (tu_now() < end) {
        tu_sleep_ms(500);
        ck_assert_str_eq(status_of(c, "runs", run, buf), "running");
    }
    if (hosts)
        ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM hb.runs WHERE host = 'node-a'"), 1);
    ck_assert_int_eq(write(gop[1], "g", 1), 1);
    char l = 0;
    ck_assert_msg(read(idp[0], &l, 1) == 1 && l == 'L', "the writer's step after the long one");
    close(idp[0]);
    close(gop[1]);
    kill(a, SIGKILL);
    int st;
    waitpid(a, &st, 0);
    ck_assert_msg(WIFSIGNALED(st), "writer ended with %d before it was killed", st);
    /* no heartbeat for more than the bound: crashed in the view */
    double dl = tu_deadline(TU_WAIT_S);
    while (strcmp(status_of(c, "runs", run, buf), "crashed") != 0)
        ck_assert_msg(tu_poll(dl), "still %s %.0f s after the kill", buf, TU_WAIT_S);
    ck_assert_str_eq(status_of(c, "tropt_run", run, buf), "running");
    ck_assert_int_eq(pgtu_i64(c,
                              "SELECT count(*) FROM hb.runs WHERE run_id = '%s' AND"
                              " ended_at = heartbeat",
                              run),
                     1);
    /* the next writer, on another host, marks it in the store */
    pid_t b = fork();
    if (b == 0) {
        if (hosts && !become_host("node-b"))
            _exit(12);
        char *spec = pgtu_spec("hb", NULL);
        tropt_tracker *t = NULL;
        if (tropt_tracker_open(&t, spec, "hb", NULL) != TROPT_OK ||
            tropt_tracker_init(t, NULL) != TROPT_OK || tropt_tracker_finish(t, NULL) != TROPT_OK)
            _exit(3);
        tropt_tracker_free(t);
        free(spec);
        _exit(0);
    }
    waitpid(b, &st, 0);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "writer b: %d", st);
    ck_assert_str_eq(status_of(c, "tropt_run", run, buf), "crashed");
    ck_assert_str_eq(status_of(c, "runs", run, buf), "crashed");
    if (hosts)
        ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM hb.runs WHERE host = 'node-b' AND"
                                     " status = 'finished'"),
                         1);
    PQfinish(c);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("pg-multi");
    TCase *tc = tcase_create("multi");
    tcase_set_timeout(tc, 400);
    tcase_add_test(tc, test_schema_race);
    tcase_add_test(tc, test_many_hosts);
    tcase_add_test(tc, test_heartbeat_crash);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    pgtu_start();
    int rc = tu_run_suite(suite());
    pgtu_destroy();
    return rc;
}
