/* tests/cli/test_replay.c - `tropt replay` at scale and at its edges: a
 * thousand interleaved runs under the common 1,024-descriptor limit,
 * run_end events with an unknown status, rejected run ids, strings holding
 * a NUL; runs a journal deletes skipped, and runs a store deleted never
 * brought back; everything a run holds (name, resume key, provenance,
 * attempts, superseded steps, checkpoint marks, system samples, tags, note)
 * reproduced by a replay of a journal and of a store, and a second replay
 * adding nothing.  Journals are written here, line by line, in the event
 * format (plugins/common/README.md), or by the backends themselves; the
 * result is read back by SQL and through the reader API. */
#include <sqlite3.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tropt/tracker.h>

#include <tropt/host.h>

#include "cli_tu.h"

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

/* ---- deleted runs --------------------------------------------------------- */

#define RA "01a23f89-d7a6-7aaa-a96a-0000000000aa"
#define RB "01a23f89-d7a6-7bbb-a96a-0000000000bb"

/* Run B is deleted by the journal (`tropt rm --from jsonl:...` appends that
 * event), after its end; run A is kept. */
static void deleting_journal(FILE *f)
{
    fputs("{\"type\":\"run_start\",\"run_id\":\"" RA "\",\"time\":1700000000,\"experiment\":\"e\","
          "\"host\":\"h\",\"pid\":1,\"config\":null,\"name\":\"alpha\"}\n"
          "{\"type\":\"run_start\",\"run_id\":\"" RB "\",\"time\":1700000001,\"experiment\":\"e\","
          "\"host\":\"h\",\"pid\":2,\"config\":null,\"name\":\"beta\"}\n"
          "{\"type\":\"log\",\"run_id\":\"" RB "\",\"time\":1700000002,\"step\":0,"
          "\"data\":{\"loss\":1.0}}\n"
          "{\"type\":\"run_end\",\"run_id\":\"" RB "\",\"time\":1700000003,\"status\":\"finished\","
          "\"summary\":null}\n"
          "{\"type\":\"log\",\"run_id\":\"" RA "\",\"time\":1700000004,\"step\":0,"
          "\"data\":{\"loss\":2.0}}\n"
          "{\"type\":\"run_end\",\"run_id\":\"" RA "\",\"time\":1700000005,\"status\":\"finished\","
          "\"summary\":null}\n"
          "{\"type\":\"delete\",\"run_id\":\"" RB "\",\"time\":1700000006}\n",
          f);
}

/* Issue 28 item 5: a journal that still holds a run it deletes does not
 * bring it back; the replay says so, and it is not a failure. */
START_TEST(run_the_journal_deletes_is_skipped)
{
    rcase c;
    rcase_run(&c, deleting_journal, 0);
    rcase_expect(&c, "run " RB " (beta) skipped: the journal deletes it at ");
    rcase_expect(&c, "in.jsonl:7");
    rcase_expect(&c, "replayed 1 runs, 1 steps from 1 file; 1 deleted run skipped");
    ck_assert_int_eq(q_int(c.h, "SELECT count(*) FROM runs"), 1);
    ck_assert_int_eq(q_int(c.h, "SELECT count(*) FROM runs WHERE run_id = '" RB "'"), 0);
    ck_assert_int_eq(q_int(c.h, "SELECT count(*) FROM metrics WHERE run_id = '" RB "'"), 0);
    sqlite3_close(c.h);
    /* again: the same */
    char *cmd =
        tu_strdupf("'%s' replay '%s/in.jsonl' --tracker 'sqlite:path=%s' 2>&1", cli(), c.dir, c.db);
    free(c.out);
    ck_assert_int_eq(tu_run(cmd, &c.out, 1), 0);
    rcase_expect(&c, "1 deleted run skipped");
    c.h = open_db(c.db);
    ck_assert_int_eq(q_int(c.h, "SELECT count(*) FROM runs"), 1);
    free(cmd);
    rcase_done(&c);
}
END_TEST

/* ---- everything a run holds ------------------------------------------------- */

#define RC "01a23f89-d7a6-7ccc-a96a-0000000000cc"
#define SHA "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

/* Run C: named, a resume key and provenance; attempt 1 (host h1, pid 11)
 * logs steps 0..2 with a checkpoint mark after step 1 (its hash in a second
 * event) and a system sample, and is tagged during the run; attempt 2
 * (host h2, pid 22) continues from step 2 (attempt 1's step 2 superseded)
 * to step 3 and finishes; a note and another tag come afterwards. */
static void whole_run_journal(FILE *f)
{
    fputs("{\"type\":\"run_start\",\"run_id\":\"" RC "\",\"time\":1700000000,\"experiment\":\"e\","
          "\"host\":\"h1\",\"pid\":11,\"config\":{\"lr\":0.1},\"name\":\"gamma\",\"attempt\":1,"
          "\"resume_key\":\"job-7\",\"provenance\":{\"command\":\"train --lr 0.1\","
          "\"cwd\":\"/work\",\"git_commit\":\"0123456789abcdef0123456789abcdef01234567\","
          "\"version\":\"0.2.0\"}}\n"
          "{\"type\":\"log\",\"run_id\":\"" RC "\",\"time\":1700000001,\"step\":0,"
          "\"data\":{\"loss\":3.0}}\n"
          "{\"type\":\"annotate\",\"run_id\":\"" RC "\",\"time\":1700000001.5,\"kind\":\"tag\","
          "\"text\":\"baseline\"}\n"
          "{\"type\":\"log\",\"run_id\":\"" RC "\",\"time\":1700000002,\"step\":1,"
          "\"data\":{\"loss\":2.0}}\n"
          "{\"type\":\"checkpoint\",\"run_id\":\"" RC "\",\"time\":1700000002.5,\"attempt\":1,"
          "\"seq\":0,\"step\":1,\"path\":\"/ck/c1.ckpt\"}\n"
          "{\"type\":\"system\",\"run_id\":\"" RC "\",\"time\":1700000002.6,\"attempt\":1,"
          "\"data\":{\"sys/proc/rss_bytes\":[1000.0,2000.0]}}\n"
          "{\"type\":\"checkpoint\",\"run_id\":\"" RC "\",\"time\":1700000002.5,\"attempt\":1,"
          "\"seq\":0,\"step\":1,\"path\":\"/ck/c1.ckpt\",\"size\":4,\"sha256\":\"" SHA "\"}\n"
          "{\"type\":\"log\",\"run_id\":\"" RC "\",\"time\":1700000003,\"step\":2,"
          "\"data\":{\"loss\":1.75}}\n"
          "{\"type\":\"run_start\",\"run_id\":\"" RC "\",\"time\":1700000010,\"experiment\":\"e\","
          "\"host\":\"h2\",\"pid\":22,\"config\":{\"lr\":0.1},\"name\":\"gamma\",\"attempt\":2,"
          "\"from_step\":2,\"started_at\":1700000000,\"resume_key\":\"job-7\"}\n"
          "{\"type\":\"log\",\"run_id\":\"" RC "\",\"time\":1700000011,\"step\":2,\"attempt\":2,"
          "\"data\":{\"loss\":1.5}}\n"
          "{\"type\":\"log\",\"run_id\":\"" RC "\",\"time\":1700000012,\"step\":3,\"attempt\":2,"
          "\"data\":{\"loss\":1.0}}\n"
          "{\"type\":\"run_end\",\"run_id\":\"" RC "\",\"time\":1700000013,\"status\":\"finished\","
          "\"summary\":{\"best\":1.0}}\n"
          "{\"type\":\"annotate\",\"run_id\":\"" RC "\",\"time\":1700000020,\"kind\":\"note\","
          "\"text\":\"lr too high?\"}\n"
          "{\"type\":\"annotate\",\"run_id\":\"" RC "\",\"time\":1700000021,\"kind\":\"tag\","
          "\"text\":\"late\"}\n",
          f);
}

/* What a store gives back of a run, through the reader API. */
typedef struct whole {
    char name[64], tags[128], note[64], key[64], command[64], git[64];
    int64_t attempts;
    char att[256];   /* "from@host/pid" per attempt */
    char steps[256]; /* "step:attempt[s]=value" per STEP event of the history */
    char marks[256], samples[128];
} whole;

static void cat(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void cat(char *buf, size_t size, const char *fmt, ...)
{
    size_t used = strlen(buf);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, size - used, fmt, ap);
    va_end(ap);
}

static void whole_start(whole *w, const tropt_event *ev)
{
    const tropt_stored_run *r = ev->run;
    snprintf(w->name, sizeof w->name, "%s", r->name);
    for (size_t i = 0; i < r->n_tags; i++)
        cat(w->tags, sizeof w->tags, "%s%s", i ? "," : "", r->tags[i]);
    snprintf(w->note, sizeof w->note, "%s", r->note ? r->note : "-");
    snprintf(w->key, sizeof w->key, "%s", r->resume_key ? r->resume_key : "-");
    snprintf(w->command, sizeof w->command, "%s",
             r->provenance && r->provenance->command ? r->provenance->command : "-");
    snprintf(w->git, sizeof w->git, "%s",
             r->provenance && r->provenance->git_commit ? r->provenance->git_commit : "-");
    w->attempts = r->attempts;
    for (size_t i = 0; i < ev->n_attempts; i++)
        cat(w->att, sizeof w->att, "%lld@%s/%lld ", (long long)ev->attempts[i].from_step,
            ev->attempts[i].host, (long long)ev->attempts[i].pid);
}

static int whole_event(const tropt_event *ev, void *ud)
{
    whole *w = ud;
    if (ev->kind == TROPT_EVENT_START)
        whole_start(w, ev);
    else if (ev->kind == TROPT_EVENT_STEP)
        cat(w->steps, sizeof w->steps, "%lld:%lld%s=%g ", (long long)ev->step,
            (long long)ev->attempt, ev->superseded ? "s" : "", ev->n ? ev->fields[0].v.r : -1.0);
    else if (ev->kind == TROPT_EVENT_CHECKPOINT)
        cat(w->marks, sizeof w->marks, "%lld/%lld@%lld %s %lld %s ",
            (long long)ev->checkpoint->attempt, (long long)ev->checkpoint->seq,
            (long long)ev->checkpoint->step, ev->checkpoint->path, (long long)ev->checkpoint->size,
            ev->checkpoint->sha256 ? ev->checkpoint->sha256 : "-");
    else if (ev->kind == TROPT_EVENT_SYSTEM)
        for (size_t i = 0; i < ev->n_samples; i++)
            cat(w->samples, sizeof w->samples, "%s=%g/%g ", ev->samples[i].key,
                ev->samples[i].value, ev->samples[i].max);
    return 0;
}

static whole read_whole(const char *spec, const char *id)
{
    whole w;
    memset(&w, 0, sizeof w);
    tropt_reader *r = NULL;
    ck_assert_msg(tropt_reader_open(&r, spec) == TROPT_OK, "%s", tropt_error_message());
    ck_assert_msg(tropt_reader_read_history(r, id, whole_event, &w) == TROPT_OK, "%s: %s", spec,
                  tropt_error_message());
    tropt_reader_free(r);
    return w;
}

static void expect_whole_run(const char *spec)
{
    whole w = read_whole(spec, RC);
    ck_assert_str_eq(w.name, "gamma");
    ck_assert_str_eq(w.tags, "baseline,late");
    ck_assert_str_eq(w.note, "lr too high?");
    ck_assert_str_eq(w.key, "job-7");
    ck_assert_str_eq(w.command, "train --lr 0.1");
    ck_assert_str_eq(w.git, "0123456789abcdef0123456789abcdef01234567");
    ck_assert_int_eq(w.attempts, 2);
    ck_assert_str_eq(w.att, "0@h1/11 2@h2/22 ");
    ck_assert_str_eq(w.steps, "0:1=3 1:1=2 2:1s=1.75 2:2=1.5 3:2=1 ");
    ck_assert_str_eq(w.marks, "1/0@1 /ck/c1.ckpt 4 " SHA " ");
    ck_assert_str_eq(w.samples, "sys/proc/rss_bytes=1000/2000 ");
}

/* dir/in.jsonl holding whole_run_journal (malloc'd path). */
static char *whole_run_file(const char *dir)
{
    char *journal = tu_path(dir, "in.jsonl");
    FILE *f = fopen(journal, "w");
    ck_assert_ptr_nonnull(f);
    whole_run_journal(f);
    fclose(f);
    return journal;
}

/* The records of the run's side file `name` in the csv store under dir
 * (header included), each once: a replay of the same journal appends
 * nothing it holds already. */
static void csv_side_records(const char *dir, const char *name, int want)
{
    char *path = tu_strdupf("%s/csv/e/" RC "/%s", dir, name);
    char *text = tu_read_file(path, NULL);
    ck_assert_msg(text != NULL, "%s", path);
    int n = 0;
    for (char *line = text, *end; *line; line = end + 2, n++) {
        end = strstr(line, "\r\n");
        ck_assert_msg(end != NULL, "%s: a record without CRLF:\n%s", name, text);
        *end = '\0';
        for (char *other = end + 2; *other;) {
            char *oe = strstr(other, "\r\n");
            ck_assert_msg(oe == NULL || (size_t)(oe - other) != strlen(line) ||
                              strncmp(other, line, strlen(line)) != 0,
                          "%s holds '%s' twice", name, line);
            if (!oe)
                break;
            other = oe + 2;
        }
    }
    ck_assert_msg(n == want, "%s: %d records, want %d", name, n, want);
    free(text);
    free(path);
}

/* The journal grown since it was replayed into the csv store under dir
 * (spec): a second system sample of attempt 1.  A replay of it adds that
 * sample only. */
static void csv_grown_journal(const char *dir, const char *journal, const char *spec)
{
    char *text = tu_read_file(journal, NULL);
    ck_assert_ptr_nonnull(text);
    char *sys = strstr(text, "{\"type\":\"system\"");
    ck_assert_ptr_nonnull(sys);
    char *after = strchr(sys, '\n') + 1;
    char *grown = tu_path(dir, "grown.jsonl");
    FILE *f = fopen(grown, "w");
    ck_assert_ptr_nonnull(f);
    fwrite(text, 1, (size_t)(after - text), f);
    fputs("{\"type\":\"system\",\"run_id\":\"" RC "\",\"time\":1700000002.7,\"attempt\":1,"
          "\"data\":{\"sys/proc/rss_bytes\":[1500.0,2500.0]}}\n",
          f);
    fputs(after, f);
    fclose(f);
    result r = tropt("replay '%s' --tracker '%s'", grown, spec);
    ck_assert_msg(r.rc == 0, "exit %d\n%s%s", r.rc, r.out, r.err);
    result_free(&r);
    csv_side_records(dir, "checkpoints.csv", 3);
    csv_side_records(dir, "system.csv", 3);
    char *path = tu_strdupf("%s/csv/e/" RC "/system.csv", dir);
    char *got = tu_read_file(path, NULL);
    ck_assert_msg(got && strstr(got, "\r\n1,1700000002.7,sys/proc/rss_bytes,1500,2500\r\n"),
                  "system.csv:\n%s", got);
    free(got);
    free(path);
    free(grown);
    free(text);
}

static void whole_run_into(const char *backend)
{
    if (!store_keeps_meta(backend)) {
        printf("replay: %s keeps no attempts or metadata yet: skipped\n", backend);
        return;
    }
    char *dir = tu_mkdtemp(), *journal = whole_run_file(dir), *spec = meta_spec(backend, dir);
    for (int pass = 0; pass < 2; pass++) { /* the second adds nothing */
        result r = tropt("replay '%s' --tracker '%s'", journal, spec);
        ck_assert_msg(r.rc == 0, "exit %d\n%s%s", r.rc, r.out, r.err);
        ck_assert_msg(strstr(r.out, "replayed 1 runs, 5 steps from 1 file; 2 attempts\n"), "%s",
                      r.out);
        result_free(&r);
        expect_whole_run(spec);
        if (strcmp(backend, "csv") == 0) { /* header, the mark and its hash; one sample */
            csv_side_records(dir, "checkpoints.csv", 3);
            csv_side_records(dir, "system.csv", 2);
        }
    }
    if (strcmp(backend, "csv") == 0)
        csv_grown_journal(dir, journal, spec);
    /* and `tropt show` prints it */
    result r = tropt("show gamma --from '%s'", spec);
    ck_assert_msg(r.rc == 0, "%s", r.err);
    const char *want[] = {"\ntags        baseline, late\n",
                          "\nnote        lr too high?\n",
                          "\nattempts    2\n",
                          "\nresume key  job-7\n",
                          "\n  command     train --lr 0.1\n",
                          "  STEP  ATTEMPT  SIZE  SHA256",
                          "     1        1     4  " SHA "  /ck/c1.ckpt\n"};
    expect_all(r.out, want, sizeof want / sizeof want[0]);
    ck_assert_msg(strstr(r.out, "\n        1          0  2023-11-14T22:13:20Z") &&
                      strstr(r.out, "\n        2          2  2023-11-14T22:13:30Z"),
                  "the attempts table:\n%s", r.out);
    result_free(&r);
    free(spec);
    free(journal);
    tu_rmtree(dir);
    free(dir);
}

START_TEST(journal_replay_reproduces_the_whole_run)
{
    whole_run_into(meta_backends[_i]);
}
END_TEST

/* A run removed from a store is refused by it when a journal that still
 * holds the run is replayed into it again: skipped, said, exit 0. */
static void store_refuses_on(const char *backend)
{
    if (!store_keeps_meta(backend)) {
        printf("replay: %s cannot delete runs yet: skipped\n", backend);
        return;
    }
    char *dir = tu_mkdtemp(), *journal = whole_run_file(dir), *spec = meta_spec(backend, dir);
    result r = tropt("replay '%s' --tracker '%s'", journal, spec);
    ck_assert_msg(r.rc == 0, "%s%s", r.out, r.err);
    result_free(&r);
    r = tropt("rm gamma --yes --from '%s'", spec);
    ck_assert_msg(r.rc == 0, "%s%s", r.out, r.err);
    result_free(&r);
    r = tropt("replay '%s' --tracker '%s'", journal, spec);
    ck_assert_msg(r.rc == 0 && strstr(r.err, "run " RC " skipped: ") && strstr(r.err, "deleted") &&
                      strstr(r.out, "; 1 deleted run skipped"),
                  "exit %d\n%s%s", r.rc, r.out, r.err);
    result_free(&r);
    r = tropt("runs --from '%s'", spec);
    ck_assert_msg(r.rc == 0 && !strstr(r.out, "gamma"), "%s%s", r.out, r.err);
    result_free(&r);
    free(spec);
    free(journal);
    tu_rmtree(dir);
    free(dir);
}

START_TEST(store_refuses_a_run_deleted_there)
{
    store_refuses_on(meta_backends[_i]);
}
END_TEST

/* ---- what replay hands the backends ----------------------------------------- */

/* The lines of `calls` holding every needle of want[], in that order (each
 * needle searched after the previous one's line). */
static void expect_calls(const char *calls, const char *const *want, size_t n)
{
    const char *at = calls;
    for (size_t i = 0; i < n; i++) {
        const char *hit = strstr(at, want[i]);
        ck_assert_msg(hit, "no '%s' after\n%.300s\nin the calls:\n%s", want[i], at, calls);
        at = hit + strlen(want[i]);
    }
}

/* Every ABI 1.2 backend receives what the journal holds, through the
 * host's hooks: the test backend `recorder` writes each call it gets.  The
 * run's name, resume key, provenance and given id at init; its tags and
 * note (set during the run and after its end) as annotate calls, in the
 * journal's order, once the run is open; the steps; the mark and then its
 * hash; the system sample; attempt 1 closed `crashed` at its last event
 * (its process never finished it); attempt 2 with its own host, pid, start
 * and from_step, the step it supersedes and its end. */
START_TEST(journal_replay_hands_every_hook_its_call)
{
    char *dir = tu_mkdtemp(), *journal = whole_run_file(dir), *calls = tu_path(dir, "calls.txt");
    result r = tropt("replay '%s' --tracker 'recorder:out=%s'", journal, calls);
    ck_assert_msg(r.rc == 0, "exit %d\n%s%s", r.rc, r.out, r.err);
    ck_assert_msg(strstr(r.out, "replayed 1 runs, 5 steps from 1 file; 2 attempts\n"), "%s", r.out);
    result_free(&r);
    char *got = tu_read_file(calls, NULL);
    ck_assert_ptr_nonnull(got);
    const char *want[] = {
        "init run=" RC " exp=e host=h1 pid=11 start=1700000000.000000 name=[gamma] attempt=1 "
        "from=0 ",
        " key=[job-7] ",
        " given=1 cmd=[train --lr 0.1] cwd=[/work] "
        "git=[0123456789abcdef0123456789abcdef01234567] version=[0.2.0]",
        "\nannotate run=" RC " kind=tag text=[baseline]\n",
        "annotate run=" RC " kind=note text=[lr too high?]\n",
        "annotate run=" RC " kind=tag text=[late]\n",
        "log run=" RC " step=0 time=1700000001.000000 n=1 | loss=r:3\n",
        "log run=" RC " step=1 time=1700000002.000000 n=1 | loss=r:2\n",
        "checkpoint run=" RC " attempt=1 seq=0 step=1 path=[/ck/c1.ckpt] size=-1 sha256=- ",
        "system run=" RC " time=1700000002.600000 n=1 | sys/proc/rss_bytes=1000/2000\n",
        "checkpoint run=" RC " attempt=1 seq=0 step=1 path=[/ck/c1.ckpt] size=4 sha256=" SHA " ",
        "log run=" RC " step=2 time=1700000003.000000 n=1 | loss=r:1.75\n",
        "finish run=" RC " status=crashed end=1700000003.000000 ",
        "init run=" RC " exp=e host=h2 pid=22 start=1700000000.000000 name=[gamma] attempt=2 "
        "from=2 astart=1700000010.000000 key=[job-7] ",
        "log run=" RC " step=2 time=1700000011.000000 n=1 | loss=r:1.5\n",
        "log run=" RC " step=3 time=1700000012.000000 n=1 | loss=r:1\n",
        "finish run=" RC " status=finished end=1700000013.000000 summary={\"best\":1.0} "};
    expect_calls(got, want, sizeof want / sizeof want[0]);
    free(got);
    free(calls);
    free(journal);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("replay");
    TCase *tc = tcase_create("replay");
    tcase_add_unchecked_fixture(tc, meta_servers_start, meta_servers_stop);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, thousand_interleaved_runs_replay_whole_under_1024_descriptors);
    tcase_add_test(tc, unknown_status_is_ignored_and_the_valid_run_end_closes_the_run);
    tcase_add_test(tc, refused_run_id_is_reported_once_and_not_recorded_as_crashed);
    tcase_add_test(tc, string_with_nul_is_refused_loudly_not_cut);
    tcase_add_test(tc, run_repeated_after_its_end_stays_finished);
    tcase_add_test(tc, steps_up_to_int64_max_round_trip);
    tcase_add_test(tc, run_the_journal_deletes_is_skipped);
    tcase_add_loop_test(tc, journal_replay_reproduces_the_whole_run, 0, (int)n_meta_backends);
    tcase_add_loop_test(tc, store_refuses_a_run_deleted_there, 0, (int)n_meta_backends);
    tcase_add_test(tc, journal_replay_hands_every_hook_its_call);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
