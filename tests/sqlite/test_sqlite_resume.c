/*
 * tests/sqlite/test_sqlite_resume.c - resume after preemption on a real
 * database file (SPEC 15, issue 29), read back by SQL: a process killed
 * with SIGKILL is continued by a new process with the same resume key, any
 * number of times; every row of every attempt is kept, `metrics` shows each
 * step once (the latest attempt's value), `metrics_history` every row with
 * the superseded ones marked, and the checkpoint marks carry the file's
 * size and SHA-256 as sha256sum computes them.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sqlite_tu.h"

/* What one writer process does. */
typedef struct writer {
    const char *db, *key, *resume; /* resume: "allow" or "must" */
    const char *dir;               /* where its checkpoint file goes */
    int64_t last;                  /* it logs from tropt_tracker_next_step to last */
    int64_t mark_after;            /* a checkpoint mark after this step (-1: none) */
    int64_t base;                  /* its loss at step s is base + s */
    int finish;                    /* finish the run; else block until killed */
    int gate;                      /* read end of a pipe: wait for a byte before init (-1) */
    int hold;                      /* read end of a pipe: wait for a byte after init (-1) */
} writer;

/* A real checkpoint file of some kilobytes whose bytes depend on step. */
static char *write_ckpt(const char *dir, int64_t step)
{
    char *path = tu_strdupf("%s/ckpt-%lld.bin", dir, (long long)step);
    FILE *f = fopen(path, "wb");
    if (!f)
        return path;
    for (int i = 0; i < 50000; i++)
        fputc((int)((i * 31 + step) & 0xff), f);
    fclose(f);
    return path;
}

static tropt_tracker *writer_open(const writer *w)
{
    char *spec = tq_spec(w->db, NULL);
    tropt_tracker *t = NULL;
    int rc = tropt_tracker_open(&t, spec, "resume", NULL);
    free(spec);
    if (rc != TROPT_OK)
        return NULL;
    if (tropt_tracker_set_option(t, "resume", w->resume) != TROPT_OK ||
        tropt_tracker_set_option(t, "resume_key", w->key) != TROPT_OK) {
        tropt_tracker_free(t);
        return NULL;
    }
    return t;
}

/* Log the steps, marking after mark_after.  0 or a TROPT_* code. */
static int writer_steps(const writer *w, tropt_tracker *t)
{
    for (int64_t s = tropt_tracker_next_step(t); s <= w->last; s++) {
        tropt_field f[] = {TROPT_F_REAL("loss", (double)(w->base + s)),
                           TROPT_F_INT("attempt_base", w->base)};
        int rc = tropt_tracker_log_fields(t, f, 2);
        if (rc == TROPT_OK && s == w->mark_after) {
            char *path = write_ckpt(w->dir, s);
            rc = tropt_tracker_checkpoint(t, path);
            free(path);
        }
        if (rc != TROPT_OK)
            return rc;
    }
    return tropt_tracker_flush(t);
}

/* The child: init's result, then the step it continues at, go to the
 * parent; then it logs, flushes, says 1 and waits to be killed (or
 * finishes and says 2). */
static int writer_main(void *arg, int fd)
{
    const writer *w = arg;
    char go;
    if (w->gate >= 0 && read(w->gate, &go, 1) != 1)
        return 3;
    tropt_tracker *t = writer_open(w);
    if (!t)
        return 4;
    int rc = tropt_tracker_init(t, NULL);
    tq_write_i64(fd, rc);
    if (rc != TROPT_OK) {
        fprintf(stderr, "writer: %s\n", tropt_error_message());
        tropt_tracker_free(t);
        return 0;
    }
    tq_write_i64(fd, tropt_tracker_next_step(t));
    if (w->hold >= 0 && read(w->hold, &go, 1) != 1)
        return 5;
    rc = writer_steps(w, t);
    if (rc == TROPT_OK && w->finish)
        rc = tropt_tracker_finish(t, NULL);
    tq_write_i64(fd, rc == TROPT_OK ? (w->finish ? 2 : 1) : -rc);
    if (!w->finish)
        for (;;)
            pause();
    tropt_tracker_free(t);
    return 0;
}

/* Start a writer and read init's result and where it continued. */
static pid_t start(writer *w, int *fd, int64_t *init_rc, int64_t *next)
{
    pid_t pid = tq_fork(writer_main, w, fd);
    ck_assert_int_eq(tq_read_i64(*fd, init_rc), 1);
    if (*init_rc == TROPT_OK)
        ck_assert_int_eq(tq_read_i64(*fd, next), 1);
    return pid;
}

/* The writer said it logged and flushed everything: its rows are in the
 * file (checked by the caller); kill it as a preempted job dies. */
static void kill_when_done(pid_t pid, int fd)
{
    int64_t said = 0;
    ck_assert_int_eq(tq_read_i64(fd, &said), 1);
    ck_assert_int_eq(said, 1);
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    int st = tq_wait(pid);
    ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    close(fd);
}

static char *sha256sum(const char *path)
{
    char *cmd = tu_strdupf("sha256sum '%s'", path), *out = NULL;
    ck_assert_int_eq(tu_run(cmd, &out, 0), 0);
    free(cmd);
    out[64] = '\0';
    return out;
}

/* Every mark of the run has the size and SHA-256 of its file. */
static void check_marks(sqlite3 *db, const char *key)
{
    sqlite3_stmt *st = tq_query(db,
                                "SELECT c.path, c.size, c.sha256 FROM checkpoints c JOIN runs r"
                                " ON r.run_id = c.run_id WHERE r.resume_key = %Q",
                                key);
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *path = (const char *)sqlite3_column_text(st, 0);
        struct stat sb;
        ck_assert_int_eq(stat(path, &sb), 0);
        ck_assert_int_eq(sqlite3_column_int64(st, 1), (int64_t)sb.st_size);
        char *sum = sha256sum(path);
        ck_assert_str_eq((const char *)sqlite3_column_text(st, 2), sum);
        free(sum);
        n++;
    }
    sqlite3_finalize(st);
    ck_assert_int_eq(n, 2);
}

/* Attempt a's loss rows: n of them, sup superseded, the value base + step. */
static void check_history(sqlite3 *db, const char *run, int64_t a, int64_t n, int64_t sup,
                          int64_t base)
{
    ck_assert_int_eq(
        tq_int(db,
               "SELECT count(*) FROM metrics_history WHERE run_id = %Q AND attempt = %lld"
               " AND key = 'loss'",
               run, (long long)a),
        n);
    ck_assert_int_eq(
        tq_int(db,
               "SELECT count(*) FROM metrics_history WHERE run_id = %Q AND attempt = %lld"
               " AND key = 'loss' AND superseded",
               run, (long long)a),
        sup);
    ck_assert_int_eq(
        tq_int(db,
               "SELECT count(*) FROM metrics_history WHERE run_id = %Q AND attempt = %lld"
               " AND key = 'loss' AND value <> %lld + step",
               run, (long long)a, (long long)base),
        0);
}

/* What the reader hands back of one run (tropt_reader_read_history). */
typedef struct seen {
    int64_t starts, attempt_events, marks, steps, superseded, n_attempts;
    int64_t last_attempt, bad_order, marks_hashed;
} seen;

static int on_event(const tropt_event *ev, void *ud)
{
    seen *x = ud;
    switch (ev->kind) {
    case TROPT_EVENT_START:
        x->starts++;
        x->n_attempts = (int64_t)ev->n_attempts;
        x->last_attempt = 1;
        break;
    case TROPT_EVENT_ATTEMPT:
        x->attempt_events++;
        x->bad_order += ev->attempt != x->last_attempt + 1;
        x->last_attempt = ev->attempt;
        break;
    case TROPT_EVENT_CHECKPOINT:
        x->marks++;
        x->marks_hashed += ev->checkpoint->size > 0 && ev->checkpoint->sha256 != NULL;
        x->bad_order += ev->attempt != x->last_attempt;
        break;
    case TROPT_EVENT_STEP:
        x->steps++;
        x->superseded += ev->superseded != 0;
        x->bad_order += ev->attempt != x->last_attempt;
        break;
    default:
        break;
    }
    return 0;
}

static int on_run(const tropt_stored_run *r, void *ud)
{
    tropt_stored_run *out = ud;
    *out = *r;
    out->run_id = out->name = NULL; /* borrowed: not kept */
    out->tags = NULL;
    return 0;
}

/* Through the reader: the listing's ABI 1.2 members and every row of every
 * attempt in order, the superseded ones marked by the host. */
static void check_reader(const char *db, const char *run)
{
    char *spec = tq_spec(db, NULL);
    tropt_reader *r = NULL;
    ck_assert_int_eq(tropt_reader_open(&r, spec), TROPT_OK);
    free(spec);
    tropt_stored_run sr;
    memset(&sr, 0, sizeof sr);
    ck_assert_int_eq(tropt_reader_list_runs(r, on_run, &sr), TROPT_OK);
    ck_assert_int_eq(sr.attempts, 3);
    ck_assert_int_eq(sr.last_step, 199);
    ck_assert_int_eq(sr.checkpoint_step, 99);
    ck_assert_int_eq(sr.n_steps, 200);
    seen x;
    memset(&x, 0, sizeof x);
    ck_assert_int_eq(tropt_reader_read_history(r, run, on_event, &x), TROPT_OK);
    ck_assert_int_eq(x.starts, 1);
    ck_assert_int_eq(x.n_attempts, 3);
    ck_assert_int_eq(x.attempt_events, 2);
    ck_assert_int_eq(x.bad_order, 0);
    ck_assert_int_eq(x.steps, 300);
    ck_assert_int_eq(x.superseded, 100);
    ck_assert_int_eq(x.marks, 2);
    ck_assert_int_eq(x.marks_hashed, 2);
    memset(&x, 0, sizeof x);
    ck_assert_int_eq(tropt_reader_read_run(r, run, on_event, &x), TROPT_OK);
    ck_assert_int_eq(x.steps, 200);
    tropt_reader_free(r);
}

START_TEST(three_attempts_after_sigkill)
{
    char *dir = tu_mkdtemp(), *db = tu_path(dir, "runs.db");
    const char *key = "job-4711";
    int fd;
    int64_t rc, next;
    /* Attempt 1: steps 0..99, a mark after 49, killed. */
    writer w1 = {db, key, "allow", dir, 99, 49, 1000, 0, -1, -1};
    pid_t pid = start(&w1, &fd, &rc, &next);
    ck_assert_int_eq(rc, TROPT_OK);
    ck_assert_int_eq(next, 0);
    kill_when_done(pid, fd);
    sqlite3 *d = tq_db(db);
    ck_assert_int_eq(tq_int(d, "SELECT count(*) FROM metrics WHERE key = 'loss'"), 100);
    sqlite3_close(d);
    /* Attempt 2: continues after the mark (50), logs 100 steps, a mark
     * after 99, killed. */
    writer w2 = {db, key, "allow", dir, 149, 99, 2000, 0, -1, -1};
    pid = start(&w2, &fd, &rc, &next);
    ck_assert_int_eq(rc, TROPT_OK);
    ck_assert_int_eq(next, 50);
    kill_when_done(pid, fd);
    /* Attempt 3: continues at 100 and finishes at 199. */
    writer w3 = {db, key, "must", dir, 199, -1, 3000, 1, -1, -1};
    pid = start(&w3, &fd, &rc, &next);
    ck_assert_int_eq(rc, TROPT_OK);
    ck_assert_int_eq(next, 100);
    int64_t said = 0;
    ck_assert_int_eq(tq_read_i64(fd, &said), 1);
    ck_assert_int_eq(said, 2);
    ck_assert_int_eq(tq_wait(pid), 0);
    close(fd);

    d = tq_db(db);
    ck_assert_int_eq(tq_int(d, "SELECT count(*) FROM runs"), 1);
    char *run = tq_text(d, "SELECT run_id FROM runs WHERE resume_key = %Q", key);
    ck_assert_ptr_nonnull(run);
    ck_assert_int_eq(tq_int(d, "SELECT attempts FROM runs"), 3);
    tq_text_eq(d, "finished", "SELECT status FROM runs");
    /* metrics: each step once, the latest attempt's value. */
    ck_assert_int_eq(tq_int(d, "SELECT count(*) FROM metrics WHERE key = 'loss'"), 200);
    ck_assert_int_eq(tq_int(d, "SELECT count(DISTINCT step) FROM metrics WHERE key = 'loss'"), 200);
    ck_assert_int_eq(tq_int(d, "SELECT min(step) FROM metrics"), 0);
    ck_assert_int_eq(tq_int(d, "SELECT max(step) FROM metrics"), 199);
    ck_assert_int_eq(tq_int(d, "SELECT count(*) FROM metrics WHERE key = 'loss' AND value <>"
                               " CASE WHEN step < 50 THEN 1000 WHEN step < 100 THEN 2000"
                               " ELSE 3000 END + step"),
                     0);
    /* metrics_history: every row of every attempt, superseded marked. */
    check_history(d, run, 1, 100, 50, 1000);
    check_history(d, run, 2, 100, 50, 2000);
    check_history(d, run, 3, 100, 0, 3000);
    ck_assert_int_eq(tq_int(d, "SELECT count(*) FROM metrics_history WHERE superseded AND"
                               " ((attempt = 1 AND step < 50) OR (attempt = 2 AND step < 100)"
                               "  OR attempt = 3)"),
                     0);
    /* The statistics agree with the rows. */
    ck_assert_int_eq(tq_int(d, "SELECT count FROM stats WHERE key = 'loss'"), 200);
    ck_assert_int_eq(tq_int(d, "SELECT last_value FROM stats WHERE key = 'loss'"), 3199);
    ck_assert_int_eq(tq_int(d, "SELECT min FROM stats WHERE key = 'loss'"), 1000);
    ck_assert_int_eq(tq_int(d, "SELECT max FROM stats WHERE key = 'loss'"), 3199);
    check_marks(d, key);
    ck_assert_int_eq(tq_int(d, "SELECT step FROM checkpoints WHERE attempt = 1"), 49);
    ck_assert_int_eq(tq_int(d, "SELECT step FROM checkpoints WHERE attempt = 2"), 99);
    tq_assert_integrity(d);
    sqlite3_close(d);
    check_reader(db, run);
    free(run);
    free(db);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(must_with_unknown_key_is_not_found)
{
    char *dir = tu_mkdtemp(), *db = tu_path(dir, "runs.db");
    tropt_tracker_free(tq_open(db, NULL, "x")); /* the file exists, without that key */
    tropt_tracker *t = tq_open(db, NULL, "x");
    ck_assert_int_eq(tropt_tracker_set_option(t, "resume", "must"), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_set_option(t, "resume_key", "nobody-has-this"), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_ENOTFOUND);
    ck_assert_msg(strstr(tropt_error_message(), "nobody-has-this"), "%s", tropt_error_message());
    tropt_tracker_free(t);
    sqlite3 *d = tq_db(db);
    ck_assert_int_eq(tq_int(d, "SELECT count(*) FROM runs"), 0);
    sqlite3_close(d);
    free(db);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* Two writers with one key released at once: exactly one opens (or
 * continues) the run, the other gets a clear error; nothing is stored
 * twice.  `prepare`: a killed first attempt exists already. */
static void race(int prepare)
{
    char *dir = tu_mkdtemp(), *db = tu_path(dir, "runs.db");
    const char *key = "job-race";
    int fd;
    int64_t rc, next;
    if (prepare) {
        writer w0 = {db, key, "allow", dir, 9, -1, 1000, 0, -1, -1};
        pid_t pid = start(&w0, &fd, &rc, &next);
        ck_assert_int_eq(rc, TROPT_OK);
        kill_when_done(pid, fd);
    } else {
        tropt_tracker_free(tq_open(db, NULL, "x")); /* the schema, so both race on rows */
    }
    int gate[2], hold[2];
    ck_assert_int_eq(pipe(gate), 0);
    ck_assert_int_eq(pipe(hold), 0);
    /* The winner keeps its run open until both have said how init went. */
    writer w[2] = {{db, key, "allow", dir, 19, -1, 2000, 1, gate[0], hold[0]},
                   {db, key, "allow", dir, 19, -1, 3000, 1, gate[0], hold[0]}};
    int fds[2];
    pid_t pids[2];
    for (int i = 0; i < 2; i++)
        pids[i] = tq_fork(writer_main, &w[i], &fds[i]);
    ck_assert_int_eq(write(gate[1], "go", 2), 2);
    close(gate[0]);
    close(gate[1]);
    int wins = 0, winner = -1;
    int64_t rcs[2];
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(tq_read_i64(fds[i], &rcs[i]), 1);
        if (rcs[i] == TROPT_OK)
            ck_assert_int_eq(tq_read_i64(fds[i], &next), 1);
    }
    ck_assert_int_eq(write(hold[1], "g", 1), 1);
    close(hold[0]);
    close(hold[1]);
    for (int i = 0; i < 2; i++) {
        rc = rcs[i];
        if (rc == TROPT_OK) {
            wins++;
            winner = i;
            int64_t said;
            ck_assert_int_eq(tq_read_i64(fds[i], &said), 1);
            ck_assert_int_eq(said, 2);
        } else {
            ck_assert_msg(rc == TROPT_EBACKEND || rc == TROPT_ESTATE, "loser: %lld", (long long)rc);
        }
        ck_assert_int_eq(tq_wait(pids[i]), 0);
        close(fds[i]);
    }
    ck_assert_int_eq(wins, 1);
    sqlite3 *d = tq_db(db);
    ck_assert_int_eq(tq_int(d, "SELECT count(*) FROM runs"), 1);
    ck_assert_int_eq(tq_int(d, "SELECT attempts FROM runs"), prepare ? 2 : 1);
    ck_assert_int_eq(tq_int(d, "SELECT count(*) FROM metrics WHERE key = 'loss'"), 20);
    ck_assert_int_eq(
        tq_int(d, "SELECT count(*) FROM metrics WHERE key = 'loss' AND value <> %d + step",
               winner ? 3000 : 2000),
        prepare ? 10 : 0); /* steps 0..9 of a prepared run are attempt 1's */
    ck_assert_int_eq(tq_int(d, "SELECT count(*) FROM metrics_history WHERE key = 'loss'"),
                     prepare ? 20 : 20);
    tq_text_eq(d, "finished", "SELECT status FROM runs");
    sqlite3_close(d);
    free(db);
    tu_rmtree(dir);
    free(dir);
}

START_TEST(two_processes_resume_one_key)
{
    race(1);
}
END_TEST

START_TEST(two_processes_start_one_key)
{
    race(0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sqlite-resume");
    TCase *tc = tcase_create("resume");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, three_attempts_after_sigkill);
    tcase_add_test(tc, must_with_unknown_key_is_not_found);
    tcase_add_test(tc, two_processes_resume_one_key);
    tcase_add_test(tc, two_processes_start_one_key);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
