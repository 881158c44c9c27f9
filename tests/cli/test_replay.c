/* tests/cli/test_replay.c - `tropt replay PATH` at scale and at its
 * edges: a thousand interleaved runs under the common 1,024-descriptor
 * limit, run_end events with an unknown status, rejected run ids, and
 * strings holding a NUL.  Each journal is written here, line by line, in
 * the event format (plugins/common/README.md); the result is read back from
 * the sqlite file by SQL. */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tropt/tracker.h>

#include "testutil.h"

static const char *cli(void)
{
    const char *v = getenv("TROPT_CLI");
    ck_assert_msg(v && *v, "TROPT_CLI is not set");
    return v;
}

/* A valid UUIDv7-shaped run id for run i. */
static void run_id(char *buf, int i)
{
    sprintf(buf, "01a23f89-d7a6-7%03x-a96a-%012x", i % 4096, i);
}

static void put_start(FILE *f, int i, double t)
{
    char id[40];
    run_id(id, i);
    fprintf(f,
            "{\"type\":\"run_start\",\"run_id\":\"%s\",\"time\":%.6f,\"experiment\":\"exp%d\","
            "\"host\":\"h\",\"pid\":%d,\"config\":{\"lr\":0.1,\"i\":%d}}\n",
            id, t, i % 7, 1000 + i, i);
}

static void put_log(FILE *f, int i, long step, double t)
{
    char id[40];
    run_id(id, i);
    fprintf(f,
            "{\"type\":\"log\",\"run_id\":\"%s\",\"time\":%.6f,\"step\":%ld,"
            "\"data\":{\"loss\":%.17g,\"run\":%d}}\n",
            id, t, step, 1.0 / (double)(step + 1), i);
}

static void put_end(FILE *f, int i, double t, const char *status)
{
    char id[40];
    run_id(id, i);
    fprintf(f,
            "{\"type\":\"run_end\",\"run_id\":\"%s\",\"time\":%.6f,\"status\":\"%s\","
            "\"summary\":{\"best\":%d}}\n",
            id, t, status, i);
}

static sqlite3 *open_db(const char *path)
{
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    return db;
}

static long long q_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(db));
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static char *q_text(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(db));
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    const unsigned char *t = sqlite3_column_text(st, 0);
    char *v = strdup(t ? (const char *)t : "(null)");
    sqlite3_finalize(st);
    return v;
}

#define N_RUNS 1000
#define N_STEPS 20
#define N_UNFINISHED 10

/* Issue 17 item 3, issue 18 finding 7: one tracker per open run used to
 * exhaust 1,024 descriptors at ~254 sqlite runs (the rest lost, exit 1). */
START_TEST(thousand_interleaved_runs_replay_whole_under_1024_descriptors)
{
    char *dir = tu_mkdtemp();
    char *src = tu_path(dir, "all.jsonl");
    char *db = tu_path(dir, "out.db");
    FILE *f = fopen(src, "w");
    ck_assert_ptr_nonnull(f);
    double t = 1.7e9;
    for (int i = 0; i < N_RUNS; i++)
        put_start(f, i, t += 0.001);
    for (long s = 0; s < N_STEPS; s++)
        for (int i = 0; i < N_RUNS; i++)
            put_log(f, i, s, t += 0.001);
    for (int i = 0; i < N_RUNS - N_UNFINISHED; i++)
        put_end(f, i, t += 0.001, "finished");
    fclose(f);

    /* The limit is set for the child only, hard and soft, as `ulimit -n`
     * does; peak RSS is the child's, as the kernel counted it. */
    char *cmd = tu_strdupf("python3 -c 'import resource, subprocess, sys\n"
                           "def lim(): resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))\n"
                           "p = subprocess.run(sys.argv[1:], preexec_fn=lim)\n"
                           "print(\"rc=%%d maxrss_kb=%%d\" %% (p.returncode, "
                           "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))' "
                           "'%s' replay '%s' --tracker 'sqlite:path=%s' 2>&1",
                           cli(), src, db);
    char *out = NULL;
    ck_assert_int_eq(tu_run(cmd, &out, 1), 0);
    ck_assert_msg(strstr(out, "replayed 1000 runs, 20000 steps from 1 file") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "rc=0 ") != NULL, "%s", out);
    long rss_kb = 0;
    const char *m = strstr(out, "maxrss_kb=");
    ck_assert_ptr_nonnull(m);
    rss_kb = strtol(m + 10, NULL, 10);
    const char *san = getenv("TROPT_TEST_SANITIZE");
    if (!san || strcmp(san, "none") == 0) /* sanitizers' shadow memory would count */
        ck_assert_msg(rss_kb < 64 * 1024, "peak RSS %ld kB >= 64 MB", rss_kb);

    sqlite3 *h = open_db(db);
    ck_assert_int_eq(q_int(h, "SELECT count(*) FROM runs"), N_RUNS);
    ck_assert_int_eq(q_int(h, "SELECT count(*) FROM runs WHERE status = 'finished'"),
                     N_RUNS - N_UNFINISHED);
    ck_assert_int_eq(q_int(h, "SELECT count(*) FROM runs WHERE status = 'crashed'"), N_UNFINISHED);
    ck_assert_int_eq(q_int(h, "SELECT count(*) FROM metrics WHERE key = 'loss'"),
                     (long long)N_RUNS * N_STEPS);
    ck_assert_int_eq(q_int(h, "SELECT count(DISTINCT run_id || ':' || step) FROM metrics"),
                     (long long)N_RUNS * N_STEPS);
    /* every step landed in its own run */
    ck_assert_int_eq(q_int(h, "SELECT count(*) FROM metrics m JOIN params p ON p.run_id = "
                              "m.run_id AND p.key = 'i' WHERE m.key = 'run' AND "
                              "m.value <> p.value"),
                     0);
    sqlite3_close(h);

    /* twice: no step is added */
    free(out);
    out = NULL;
    ck_assert_int_eq(tu_run(cmd, &out, 1), 0);
    ck_assert_msg(strstr(out, "rc=0 ") != NULL, "%s", out);
    h = open_db(db);
    ck_assert_int_eq(q_int(h, "SELECT count(*) FROM runs"), N_RUNS);
    ck_assert_int_eq(q_int(h, "SELECT count(*) FROM metrics WHERE key = 'loss'"),
                     (long long)N_RUNS * N_STEPS);
    sqlite3_close(h);
    free(out);
    free(cmd);
    free(db);
    free(src);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* One small case: a journal written by `write`, replayed into a fresh
 * sqlite file; the exit status must be want_rc.  out holds what the tool
 * printed, h the file opened read-only. */
typedef struct rcase {
    char *dir, *db, *out;
    sqlite3 *h;
} rcase;

static void rcase_run(rcase *c, void (*write)(FILE *), int want_rc)
{
    c->dir = tu_mkdtemp();
    c->db = tu_path(c->dir, "out.db");
    char *src = tu_path(c->dir, "in.jsonl");
    FILE *f = fopen(src, "w");
    ck_assert_ptr_nonnull(f);
    write(f);
    fclose(f);
    char *cmd = tu_strdupf("'%s' replay '%s' --tracker 'sqlite:path=%s' 2>&1", cli(), src, c->db);
    c->out = NULL;
    int rc = tu_run(cmd, &c->out, 1);
    ck_assert_msg(rc == want_rc, "exit %d, want %d: %s", rc, want_rc, c->out);
    free(cmd);
    free(src);
    c->h = open_db(c->db);
}

static void rcase_expect(rcase *c, const char *text)
{
    ck_assert_msg(strstr(c->out, text) != NULL, "no '%s' in: %s", text, c->out);
}

static void rcase_status(rcase *c, const char *want)
{
    char *st = q_text(c->h, "SELECT status FROM runs");
    ck_assert_str_eq(st, want);
    free(st);
}

static void rcase_done(rcase *c)
{
    sqlite3_close(c->h);
    free(c->out);
    free(c->db);
    tu_rmtree(c->dir);
    free(c->dir);
}

static void unknown_status_journal(FILE *f)
{
    put_start(f, 1, 1.7e9);
    for (long s = 0; s < 3; s++)
        put_log(f, 1, s, 1.7e9 + 1 + (double)s);
    put_end(f, 1, 1.7e9 + 5, "weird");
    put_log(f, 1, 3, 1.7e9 + 6);
    put_end(f, 1, 1.7e9 + 7, "finished");
}

/* Issue 18 finding 17: a run_end with an unknown status aborted the run and
 * made the next valid run_end be ignored. */
START_TEST(unknown_status_is_ignored_and_the_valid_run_end_closes_the_run)
{
    rcase c;
    rcase_run(&c, unknown_status_journal, 0);
    rcase_expect(&c, "run_end of run 01a23f89-d7a6-7001-a96a-000000000001 ignored: "
                     "finish: status 'weird' is not finished|aborted|crashed");
    rcase_expect(&c, "replayed 1 runs, 4 steps");
    rcase_status(&c, "finished");
    ck_assert_int_eq(q_int(c.h, "SELECT count(*) FROM metrics WHERE key = 'loss'"), 4);
    ck_assert_int_eq(q_int(c.h, "SELECT count(*) FROM summary WHERE key = 'best'"), 1);
    rcase_done(&c);
}
END_TEST

static void bad_id_journal(FILE *f)
{
    fprintf(f, "{\"type\":\"run_start\",\"run_id\":\"not-a-uuid\",\"time\":1700000000.5,"
               "\"experiment\":\"e\",\"host\":\"h\",\"pid\":1}\n"
               "{\"type\":\"log\",\"run_id\":\"not-a-uuid\",\"time\":1700000001.5,\"step\":0,"
               "\"data\":{\"loss\":1}}\n");
    put_start(f, 2, 1.7e9 + 2);
    put_log(f, 2, 0, 1.7e9 + 3);
    put_end(f, 2, 1.7e9 + 4, "finished");
}

/* Issue 18 finding 17: a run whose id the tracker refused was later
 * "recorded as crashed". */
START_TEST(refused_run_id_is_reported_once_and_not_recorded_as_crashed)
{
    rcase c;
    rcase_run(&c, bad_id_journal, 1);
    rcase_expect(&c, "cannot open the run: init: run id 'not-a-uuid' is not a UUID");
    ck_assert_msg(strstr(c.out, "crashed") == NULL, "%s", c.out);
    ck_assert_msg(strstr(c.out, "cannot log") == NULL, "%s", c.out);
    rcase_expect(&c, "replayed 1 runs, 1 steps");
    ck_assert_int_eq(q_int(c.h, "SELECT count(*) FROM runs"), 1);
    rcase_status(&c, "finished");
    rcase_done(&c);
}
END_TEST

static void nul_journal(FILE *f)
{
    put_start(f, 3, 1.7e9);
    fprintf(f, "{\"type\":\"log\",\"run_id\":\"01a23f89-d7a6-7003-a96a-000000000003\","
               "\"time\":1700000001.5,\"step\":0,\"data\":{\"s\":\"nul\\u0000cut\"}}\n");
    put_log(f, 3, 1, 1.7e9 + 2);
    put_end(f, 3, 1.7e9 + 3, "finished");
}

/* Issue 18 finding 17: "nul\u0000cut" was stored as "nul" without a word.
 * The line is skipped with a warning naming the field (the API refuses
 * such a string with TROPT_EINVAL: core-fields). */
START_TEST(string_with_nul_is_refused_loudly_not_cut)
{
    rcase c;
    rcase_run(&c, nul_journal, 0);
    rcase_expect(&c, "log field \"s\" holds a NUL character (\\u0000) inside a string");
    rcase_expect(&c, "replayed 1 runs, 1 steps from 1 file (1 lines skipped)");
    ck_assert_int_eq(q_int(c.h, "SELECT count(*) FROM metrics WHERE key = 's'"), 0);
    ck_assert_int_eq(q_int(c.h, "SELECT count(*) FROM metrics WHERE key = 'loss'"), 1);
    rcase_done(&c);
}
END_TEST

static void respooled_journal(FILE *f)
{
    put_start(f, 4, 1.7e9);
    put_log(f, 4, 0, 1.7e9 + 1);
    put_end(f, 4, 1.7e9 + 2, "finished");
    /* the same run delivered again (a spool file replayed after it was sent) */
    put_start(f, 4, 1.7e9);
    put_log(f, 4, 0, 1.7e9 + 1);
}

/* A run_start repeated after the run's run_end does not reopen the run (it
 * used to, and the run then ended "crashed"). */
START_TEST(run_repeated_after_its_end_stays_finished)
{
    rcase c;
    rcase_run(&c, respooled_journal, 0);
    ck_assert_msg(strstr(c.out, "crashed") == NULL, "%s", c.out);
    rcase_status(&c, "finished");
    ck_assert_int_eq(q_int(c.h, "SELECT count(*) FROM metrics WHERE key = 'loss'"), 1);
    rcase_done(&c);
}
END_TEST

/* Issue 18 finding 6: steps up to INT64_MAX reach every file backend and
 * come back through replay and the readers (the core used to wrap to
 * negative steps after it, which csv dropped and replay refused). */
START_TEST(steps_up_to_int64_max_round_trip)
{
    char *dir = tu_mkdtemp();
    char *journal = tu_path(dir, "max.jsonl"), *csvdir = tu_path(dir, "csv");
    char *db = tu_path(dir, "max.db");
    char *spec = tu_strdupf("jsonl:path=%s;csv:dir=%s", journal, csvdir);
    tropt_tracker *t = NULL;
    ck_assert_int_eq(tropt_tracker_open(&t, spec, "max", NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    tropt_field f[] = {TROPT_F_INT("i", 7)};
    ck_assert_int_eq(tropt_tracker_log_fields_at(t, INT64_MAX - 1, -1, f, 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_log_fields(t, f, 1), TROPT_OK); /* INT64_MAX */
    ck_assert_int_eq(tropt_tracker_log_fields(t, f, 1), TROPT_EINVAL);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    char *cmd = tu_strdupf("'%s' replay '%s' --tracker 'sqlite:path=%s' 2>&1 && '%s' replay "
                           "--from 'csv:dir=%s' --tracker 'sqlite:path=%s.csv' 2>&1",
                           cli(), journal, db, cli(), csvdir, db);
    char *out = NULL;
    ck_assert_msg(tu_run(cmd, &out, 1) == 0, "%s", out);
    for (int k = 0; k < 2; k++) {
        char *path = k ? tu_strdupf("%s.csv", db) : strdup(db);
        sqlite3 *h = open_db(path);
        ck_assert_int_eq(q_int(h, "SELECT count(*) FROM metrics WHERE key = 'i' AND value = 7"), 2);
        ck_assert_int_eq(q_int(h, "SELECT max(step) FROM metrics"), INT64_MAX);
        ck_assert_int_eq(q_int(h, "SELECT min(step) FROM metrics"), INT64_MAX - 1);
        sqlite3_close(h);
        free(path);
    }
    free(out);
    free(cmd);
    free(spec);
    free(db);
    free(csvdir);
    free(journal);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("replay");
    TCase *tc = tcase_create("replay");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, thousand_interleaved_runs_replay_whole_under_1024_descriptors);
    tcase_add_test(tc, unknown_status_is_ignored_and_the_valid_run_end_closes_the_run);
    tcase_add_test(tc, refused_run_id_is_reported_once_and_not_recorded_as_crashed);
    tcase_add_test(tc, string_with_nul_is_refused_loudly_not_cut);
    tcase_add_test(tc, run_repeated_after_its_end_stays_finished);
    tcase_add_test(tc, steps_up_to_int64_max_round_trip);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
