/*
 * tests/sqlite/test_sqlite_attempts.c - the shared preemption scenario of
 * issue 29 (tests/attempts.h) on a real sqlite file: three attempts
 * (killed, killed, finished) of one run by its resume key, checked through
 * the reader as every store's suite checks it, plus the same by SQL (the
 * views metrics, metrics_history, checkpoints); and two resumers racing.
 */
#include <stdlib.h>
#include <string.h>

#include "../attempts.h"
#include "sqlite_tu.h"

START_TEST(shared_three_attempts)
{
    char *dir = tu_mkdtemp(), *db = tu_path(dir, "runs.db");
    char *spec = tq_spec(db, NULL);
    const char *key = "slurm-81234";
    at_attempt_killed(spec, key, dir, 1);
    at_attempt_killed(spec, key, dir, 2);
    at_attempt_finished(spec, key, dir, 3);
    char id[37];
    at_check_three_attempts(spec, key, dir, id);
    at_summary sum;
    at_summarize(spec, key, &sum);
    ck_assert_int_eq(sum.runs, 1);
    ck_assert_int_eq(sum.attempts, 3);
    ck_assert_int_eq(sum.duplicates, 0);
    /* the same by SQL */
    sqlite3 *d = tq_db(db);
    ck_assert_int_eq(tq_int(d, "SELECT attempts FROM runs WHERE run_id = %Q", id), 3);
    ck_assert_int_eq(
        tq_int(d, "SELECT count(*) FROM metrics WHERE run_id = %Q AND key = 'loss'", id), 200);
    ck_assert_int_eq(tq_int(d,
                            "SELECT count(*) FROM metrics_history WHERE run_id = %Q"
                            " AND key = 'loss' AND superseded",
                            id),
                     100);
    ck_assert_int_eq(tq_int(d,
                            "SELECT count(*) FROM checkpoints WHERE run_id = %Q AND"
                            " length(sha256) = 64 AND size > 0",
                            id),
                     3);
    tq_assert_integrity(d);
    sqlite3_close(d);
    free(spec);
    free(db);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(shared_race)
{
    char *dir = tu_mkdtemp(), *db = tu_path(dir, "runs.db");
    char *spec = tq_spec(db, NULL);
    const char *key = "slurm-race";
    at_attempt_killed(spec, key, dir, 1);
    ck_assert_int_eq(at_race(spec, key, dir, 2), 1);
    at_summary sum;
    at_summarize(spec, key, &sum);
    ck_assert_int_eq(sum.runs, 1);
    ck_assert_int_eq(sum.attempts, 2);
    ck_assert_int_eq(sum.duplicates, 0);
    free(spec);
    free(db);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sqlite-attempts");
    TCase *tc = tcase_create("attempts");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, shared_three_attempts);
    tcase_add_test(tc, shared_race);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
