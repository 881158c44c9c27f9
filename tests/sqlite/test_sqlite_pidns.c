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
#include <time.h>
#include <unistd.h>

#include "sqlite_tu.h"

/* The pid the writer gets in its namespace: one that does not exist in ours
 * (pid_max is far below it on most machines; checked below). */
#define INNER_PID 200000

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
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
    const char *demo = getenv("TROPT_DEMO");
    ck_assert_msg(demo && *demo, "TROPT_DEMO is not set");
    char *dir = tu_mkdtemp();
    char *path = tu_path(dir, "shared.db");
    /* The demo runs 4 s in a new pid namespace, as pid INNER_PID. */
    char *cmd = tu_strdupf("exec unshare --pid --fork --mount-proc sh -c 'echo %d > "
                           "/proc/sys/kernel/ns_last_pid && '\"'\"'%s'\"'\"' --tracker "
                           "sqlite:path=%s --steps 40 --sleep-ms 100 --experiment inner "
                           ">/dev/null'",
                           INNER_PID - 1, demo, path);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    /* Wait until its run is in the file, logging. */
    int64_t steps = -1;
    for (int i = 0; i < 200 && steps < 3; i++) {
        sleep_ms(50);
        if (access(path, F_OK) != 0)
            continue;
        sqlite3 *db = tq_db(path);
        steps = tq_int(db, "SELECT count(DISTINCT step) FROM metrics WHERE run_id = (SELECT run_id "
                           "FROM runs WHERE experiment = 'inner')");
        sqlite3_close(db);
    }
    ck_assert_msg(steps >= 3, "the namespaced writer did not log (steps %lld)", (long long)steps);
    sqlite3 *db = tq_db(path);
    ck_assert_int_eq(tq_int(db, "SELECT pid FROM runs WHERE experiment = 'inner'"), INNER_PID);
    sqlite3_close(db);

    /* A writer of this namespace opens the file and runs: the namespaced
     * run stays running. */
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
    int st = tq_wait(child);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "namespaced writer: status %d", st);
    db = tq_db(path);
    tq_text_eq(db, "finished", "SELECT status FROM runs WHERE experiment = 'inner'");
    ck_assert_int_eq(tq_int(db, "SELECT count(DISTINCT step) FROM metrics WHERE run_id = (SELECT "
                                "run_id FROM runs WHERE experiment = 'inner')"),
                     40);
    sqlite3_close(db);
    free(cmd);
    free(path);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sqlite-pidns");
    TCase *tc = tcase_create("pidns");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, run_of_another_pid_namespace_is_not_marked_crashed);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
