/*
 * tests/sqlite/test_sqlite_crash.c - durability of the sqlite backend when
 * the writing process is killed (SIGKILL), per batching mode, and stale
 * runs reported as crashed.
 *
 * A forked child logs and, after each log call returns TROPT_OK, writes the
 * step number to a pipe; the parent kills it and then checks the database
 * against what the child reported.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sqlite_tu.h"

#define NFIELDS 4

struct child {
    const char *db;
    const char *opts;
    int64_t steps; /* log this many steps (then pause), -1: forever */
    int pause_fd;  /* after `steps`, block reading this (parent never writes) */
};

/* Child: open, init, report the run id length as a handshake, then log. */
static int child_log(void *arg, int fd)
{
    struct child *c = arg;
    char *spec = tq_spec(c->db, c->opts);
    tropt_tracker *t = NULL;
    if (tropt_tracker_open(&t, spec, "crash", NULL) != TROPT_OK ||
        tropt_tracker_init(t, NULL) != TROPT_OK)
        return 3;
    tq_write_i64(fd, -1); /* ready */
    char payload[600];
    for (int64_t s = 0; c->steps < 0 || s < c->steps; s++) {
        memset(payload, 'a' + (int)(s % 26), sizeof payload - 1);
        payload[sizeof payload - 1] = '\0';
        tropt_field fl[NFIELDS] = {TROPT_F_INT("step_copy", s), TROPT_F_REAL("loss", 1.0 / (s + 1)),
                                   TROPT_F_STR("payload", payload),
                                   TROPT_F_BOOL("even", s % 2 == 0)};
        if (tropt_tracker_log_fields(t, fl, NFIELDS) != TROPT_OK)
            return 4;
        tq_write_i64(fd, s);
    }
    tq_write_i64(fd, -2); /* paused */
    int64_t never;
    tq_read_i64(c->pause_fd, &never);
    return 0;
}

/* Steps of the only run: count, and whether 0..count-1 are complete. */
static void check_steps(const char *path, int64_t at_least, int64_t at_most)
{
    sqlite3 *db = tq_db(path);
    tq_assert_integrity(db);
    int64_t n = tq_int(db, "SELECT count(DISTINCT step) FROM metrics");
    int64_t max = tq_int(db, "SELECT coalesce(max(step), -1) FROM metrics");
    ck_assert_msg(n >= at_least && n <= at_most, "%lld steps on disk, expected %lld..%lld",
                  (long long)n, (long long)at_least, (long long)at_most);
    /* No hole, every field of every step, values intact. */
    ck_assert_int_eq(max, n - 1);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics"), n * NFIELDS);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics WHERE key = 'step_copy'"
                                " AND value = step"),
                     n);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics WHERE key = 'payload'"
                                " AND length(value) = 599"
                                " AND substr(value, 599, 1) = char(97 + step %% 26)"),
                     n);
    sqlite3_close(db);
}

/* Default mode: every step whose log returned is on disk after SIGKILL. */
START_TEST(test_kill_default)
{
    char *dir = tu_mkdtemp();
    char *path = tu_path(dir, "kill.db");
    int never[2];
    ck_assert_int_eq(pipe(never), 0);
    /* Kill at several points; the same file accumulates runs. */
    const int64_t kill_after[] = {1, 57, 400};
    for (size_t round = 0; round < 3; round++) {
        struct child c = {path, NULL, -1, never[0]};
        int rfd;
        pid_t pid = tq_fork(child_log, &c, &rfd);
        int64_t v, last = -1;
        ck_assert_int_eq(tq_read_i64(rfd, &v), 1);
        ck_assert_int_eq(v, -1);
        while (last < kill_after[round] && tq_read_i64(rfd, &v))
            last = v;
        kill(pid, SIGKILL);
        int st = tq_wait(pid);
        ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        /* Steps reported after our last read also returned: drain them. */
        while (tq_read_i64(rfd, &v))
            last = v;
        close(rfd);

        sqlite3 *db = tq_db(path);
        tq_assert_integrity(db);
        char *run = tq_text(db, "SELECT run_id FROM runs ORDER BY started_at DESC, rowid DESC");
        ck_assert_ptr_nonnull(run);
        int64_t n = tq_int(db, "SELECT count(DISTINCT step) FROM metrics WHERE run_id = %Q", run);
        /* Everything reported is there; at most the one step in flight more. */
        ck_assert_msg(n == last + 1 || n == last + 2, "round %zu: %lld on disk, %lld returned",
                      round, (long long)n, (long long)(last + 1));
        ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics WHERE run_id = %Q", run),
                         n * NFIELDS);
        ck_assert_int_eq(tq_int(db, "SELECT max(step) FROM metrics WHERE run_id = %Q", run), n - 1);
        free(run);
        sqlite3_close(db);
    }
    close(never[0]);
    close(never[1]);
    tu_rmtree(dir);
    free(dir);
    free(path);
}
END_TEST

/* commit_every=50: after 120 logged steps exactly 100 are on disk (the bound:
 * fewer than 50 steps lost), before and after SIGKILL. */
START_TEST(test_kill_commit_every)
{
    char *dir = tu_mkdtemp();
    char *path = tu_path(dir, "batch.db");
    int never[2];
    ck_assert_int_eq(pipe(never), 0);
    struct child c = {path, "commit_every=50", 120, never[0]};
    int rfd;
    pid_t pid = tq_fork(child_log, &c, &rfd);
    int64_t v, last = -1;
    while (tq_read_i64(rfd, &v) && v != -2)
        last = v;
    ck_assert_int_eq(last, 119);
    check_steps(path, 100, 100); /* while the child is alive and paused */
    kill(pid, SIGKILL);
    tq_wait(pid);
    close(rfd);
    check_steps(path, 100, 100);
    close(never[0]);
    close(never[1]);
    tu_rmtree(dir);
    free(dir);
    free(path);
}
END_TEST

/* commit_interval=300ms alone: a paused writer's steps reach the disk with
 * no further log call (the timer commits them); SIGKILL after that loses
 * nothing.  Without the timer they never would: the wait for them has a
 * generous deadline, as a loaded machine runs the timer late. */
START_TEST(test_kill_commit_interval)
{
    char *dir = tu_mkdtemp();
    char *path = tu_path(dir, "interval.db");
    int never[2];
    ck_assert_int_eq(pipe(never), 0);
    struct child c = {path, "commit_interval=300ms", 30, never[0]};
    int rfd;
    pid_t pid = tq_fork(child_log, &c, &rfd);
    int64_t v, last = -1;
    ck_assert_int_eq(tq_read_i64(rfd, &v), 1); /* ready */
    while (tq_read_i64(rfd, &v) && v != -2)
        last = v;
    ck_assert_int_eq(last, 29);
    sqlite3 *db = tq_db(path);
    int64_t n = 0;
    double t0 = tu_now(), dl = tu_deadline(TU_WAIT_S);
    while ((n = tq_int(db, "SELECT count(DISTINCT step) FROM metrics")) < 30)
        ck_assert_msg(tu_poll(dl), "only %lld of 30 steps after %.2f s", (long long)n,
                      tu_now() - t0);
    sqlite3_close(db);
    kill(pid, SIGKILL);
    tq_wait(pid);
    close(rfd);
    check_steps(path, 30, 30);
    close(never[0]);
    close(never[1]);
    tu_rmtree(dir);
    free(dir);
    free(path);
}
END_TEST

/* A killed run is `running` in the file, `crashed` for `tropt runs` and
 * `tropt show`, and `crashed` in the runs view once a tracker opens the db. */
START_TEST(test_killed_run_crashed)
{
    char *dir = tu_mkdtemp();
    char *path = tu_path(dir, "stale.db");
    int never[2];
    ck_assert_int_eq(pipe(never), 0);
    struct child c = {path, NULL, 3, never[0]};
    int rfd;
    pid_t pid = tq_fork(child_log, &c, &rfd);
    int64_t v;
    while (tq_read_i64(rfd, &v) && v != -2) {
    }
    kill(pid, SIGKILL);
    tq_wait(pid);
    close(rfd);

    sqlite3 *db = tq_db(path);
    char *run = tq_text(db, "SELECT run_id FROM runs");
    ck_assert_ptr_nonnull(run);
    tq_text_eq(db, "running", "SELECT status FROM runs");
    sqlite3_close(db);

    char *args = tu_strdupf("runs --db '%s'", path), *out = NULL;
    ck_assert_int_eq(tq_cli(args, &out), 0);
    char *line = strstr(out, run);
    ck_assert_msg(line != NULL, "run missing from: %s", out);
    char *eol = strchr(line, '\n');
    ck_assert_ptr_nonnull(eol);
    *eol = '\0';
    ck_assert_msg(strstr(line, " crashed ") != NULL, "not crashed: %s", line);
    ck_assert_msg(strstr(line, " 3 ") != NULL, "steps: %s", line);
    free(out);
    free(args);
    args = tu_strdupf("show %.13s --db '%s'", run, path);
    ck_assert_int_eq(tq_cli(args, &out), 0);
    ck_assert_msg(strstr(out, "status      crashed") != NULL, "show: %s", out);
    free(out);
    free(args);

    /* The CLI only reads: the file still says running. */
    db = tq_db(path);
    tq_text_eq(db, "running", "SELECT status FROM runs");
    sqlite3_close(db);

    /* Any tracker opening the database marks it. */
    tropt_tracker *t = tq_open(path, NULL, "later");
    db = tq_db(path);
    tq_text_eq(db, "crashed", "SELECT status FROM runs WHERE run_id = %Q", run);
    ck_assert_int_eq(tq_int(db,
                            "SELECT ended_at = (SELECT max(time) FROM metrics WHERE run_id = %Q)"
                            " FROM runs WHERE run_id = %Q",
                            run, run),
                     1);
    sqlite3_close(db);
    tropt_tracker_free(t);
    free(run);
    close(never[0]);
    close(never[1]);
    tu_rmtree(dir);
    free(dir);
    free(path);
}
END_TEST

/* A run of a live process (this one, through another tracker) is left alone. */
START_TEST(test_live_run_not_crashed)
{
    char *dir = tu_mkdtemp();
    char *path = tu_path(dir, "live.db");
    tropt_tracker *a = tq_open(path, NULL, "live");
    ck_assert_int_eq(tropt_tracker_init(a, NULL), TROPT_OK);
    tropt_tracker *b = tq_open(path, NULL, "other");
    sqlite3 *db = tq_db(path);
    tq_text_eq(db, "running", "SELECT status FROM runs");
    sqlite3_close(db);
    char *args = tu_strdupf("runs --db '%s'", path), *out = NULL;
    ck_assert_int_eq(tq_cli(args, &out), 0);
    ck_assert_msg(strstr(out, " running ") != NULL, "%s", out);
    free(out);
    free(args);
    tropt_tracker_free(b);
    tropt_tracker_free(a);
    tu_rmtree(dir);
    free(dir);
    free(path);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sqlite-crash");
    TCase *tc = tcase_create("crash");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_kill_default);
    tcase_add_test(tc, test_kill_commit_every);
    tcase_add_test(tc, test_kill_commit_interval);
    tcase_add_test(tc, test_killed_run_crashed);
    tcase_add_test(tc, test_live_run_not_crashed);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
