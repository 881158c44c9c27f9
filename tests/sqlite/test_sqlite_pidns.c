/*
 * tests/sqlite/test_sqlite_pidns.c - a run written from another pid
 * namespace (a container, `unshare --pid`) with the same hostname is not
 * marked crashed by a tracker that merely opens the file (issue 18
 * finding 14): its pid means nothing here.
 *
 * Needs root and unshare(1) with --pid --fork --mount-proc; without them
 * the test says so and skips.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sqlite_tu.h"

/* The pid the writer gets in its namespace: one that does not exist in ours
 * (pid_max is far below it on most machines; checked below). */
#define INNER_PID 200000
/* Steps the writer logs before it waits for the go file, and in all. */
#define FIRST_STEPS 10
#define ALL_STEPS 40

/* The writer in the other namespace (this binary, run as
 * `test_sqlite_pidns --inner-writer DB GO`): logs FIRST_STEPS steps, waits
 * for the file GO (the test is done looking at its running run), logs the
 * rest and finishes.  It stays alive while the test looks, whatever the
 * scheduler does; it gives up (exit 3) if GO never comes.  Not a Check
 * test: no ck_* call (nor tu_* helper that makes one) here. */
static int inner_writer(const char *db, const char *go)
{
    char *spec = NULL;
    tropt_tracker *t = NULL;
    if (asprintf(&spec, "sqlite:path=%s", db) < 0)
        return 1;
    if (tropt_tracker_open(&t, spec, "inner", NULL) != TROPT_OK ||
        tropt_tracker_init(t, NULL) != TROPT_OK) {
        fprintf(stderr, "inner writer: %s\n", tropt_error_message());
        return 1;
    }
    free(spec);
    double dl = tu_deadline(4 * TU_WAIT_S);
    for (int s = 0; s < ALL_STEPS; s++) {
        while (s == FIRST_STEPS && access(go, F_OK) != 0)
            if (!tu_poll(dl))
                return 3;
        tropt_field f[] = {TROPT_F_INT("s", s), TROPT_F_REAL("loss", 1.0 / (s + 1))};
        if (tropt_tracker_log_fields(t, f, 2) != TROPT_OK) {
            fprintf(stderr, "inner writer: step %d: %s\n", s, tropt_error_message());
            return 1;
        }
    }
    int rc = tropt_tracker_finish(t, NULL);
    tropt_tracker_free(t);
    return rc == TROPT_OK ? 0 : 1;
}

static char *self_exe(void)
{
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    ck_assert_int_gt(n, 0);
    buf[n] = '\0';
    return tu_strdupf("%s", buf);
}

/* The inner run's steps in the file: -1 while the file, its schema or the
 * run is not there yet (another process is creating them). */
static int64_t inner_steps(const char *path)
{
    int64_t n = -1;
    if (!tq_try_int(path, &n,
                    "SELECT count(DISTINCT step) FROM metrics WHERE run_id = (SELECT run_id "
                    "FROM runs WHERE experiment = 'inner')"))
        return -1;
    return n;
}

START_TEST(run_of_another_pid_namespace_is_not_marked_crashed)
{
    if (geteuid() != 0 || system("unshare --pid --fork --mount-proc true 2>/dev/null") != 0) {
        fprintf(stderr, "run_of_another_pid_namespace_is_not_marked_crashed: SKIP: needs root "
                        "and unshare --pid\n");
        return;
    }
    if (!(kill(INNER_PID, 0) == -1 && errno == ESRCH)) {
        fprintf(stderr,
                "run_of_another_pid_namespace_is_not_marked_crashed: SKIP: pid %d "
                "exists here\n",
                INNER_PID);
        return;
    }
    char *dir = tu_mkdtemp();
    char *path = tu_path(dir, "shared.db");
    char *go = tu_path(dir, "go");
    char *exe = self_exe();
    /* The writer runs in a new pid namespace, as pid INNER_PID. */
    char *cmd = tu_strdupf("exec unshare --pid --fork --mount-proc sh -c 'echo %d > "
                           "/proc/sys/kernel/ns_last_pid && '\"'\"'%s'\"'\"' --inner-writer "
                           "'\"'\"'%s'\"'\"' '\"'\"'%s'\"'\"''",
                           INNER_PID - 1, exe, path, go);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    /* Wait until its first steps are in the file, read through the views
     * (the file exists before its schema does). */
    int64_t steps = -1;
    double dl = tu_deadline(TU_WAIT_S);
    while ((steps = inner_steps(path)) < FIRST_STEPS) {
        int st = 0;
        ck_assert_msg(waitpid(child, &st, WNOHANG) == 0, "the namespaced writer ended: status %d",
                      st);
        ck_assert_msg(tu_poll(dl), "the namespaced writer did not log (steps %lld)",
                      (long long)steps);
    }
    ck_assert_int_eq(steps, FIRST_STEPS); /* it waits for go */
    sqlite3 *db = tq_db(path);
    ck_assert_int_eq(tq_int(db, "SELECT pid FROM runs WHERE experiment = 'inner'"), INNER_PID);
    sqlite3_close(db);

    /* A writer of this namespace opens the file and runs: the namespaced
     * run, alive and waiting, stays running. */
    tropt_tracker *t = tq_open(path, NULL, "outer");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    tropt_field f[] = {TROPT_F_INT("i", 1)};
    ck_assert_int_eq(tropt_tracker_log_fields(t, f, 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    db = tq_db(path);
    tq_text_eq(db, "running", "SELECT status FROM runs WHERE experiment = 'inner'");
    sqlite3_close(db);
    /* nor does `tropt runs` call it crashed */
    char *args = tu_strdupf("runs --db '%s'", path), *out = NULL;
    ck_assert_int_eq(tq_cli(args, &out), 0);
    const char *line = strstr(out, "inner");
    ck_assert_msg(line && strstr(line, "running") && !strstr(out, "crashed"), "%s", out);
    free(out);
    free(args);

    /* And it finishes as itself. */
    ck_assert_int_eq(tu_write_file(go, ""), 0);
    int st = tq_wait(child);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "namespaced writer: status %d", st);
    db = tq_db(path);
    tq_text_eq(db, "finished", "SELECT status FROM runs WHERE experiment = 'inner'");
    ck_assert_int_eq(tq_int(db, "SELECT count(DISTINCT step) FROM metrics WHERE run_id = (SELECT "
                                "run_id FROM runs WHERE experiment = 'inner')"),
                     ALL_STEPS);
    sqlite3_close(db);
    free(cmd);
    free(exe);
    free(go);
    free(path);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--inner-writer") == 0)
        return inner_writer(argv[2], argv[3]);
    Suite *s = suite_create("sqlite-pidns");
    TCase *tc = tcase_create("pidns");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, run_of_another_pid_namespace_is_not_marked_crashed);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
