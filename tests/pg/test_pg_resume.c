/*
 * tests/pg/test_pg_resume.c - resume after preemption on pg (SPEC 15,
 * issue 29), read back by SQL and through the reader:
 *   - a process logs steps 0..99 with a checkpoint mark after step 49 and
 *     is killed with SIGKILL (once the store shows step 99 and the mark's
 *     hash); a second process with the same resume_key
 *     continues at 50, logs 100 steps with a mark after 99, and is killed;
 *     a third continues at 100 and finishes: one run, three attempts, each
 *     step once in `metrics` (the latest attempt's value), every row in
 *     `metrics_history` with the superseded ones marked, the marks with the
 *     size and SHA-256 of their files (as sha256sum says);
 *   - two processes resuming one run at once, or starting runs with one
 *     resume key at once: exactly one wins, the other gets a clear
 *     TROPT_EBACKEND, nothing duplicated;
 *   - resume=must with an unknown key is TROPT_ENOTFOUND.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <tropt/host.h>
#include <tropt/tracker.h>

#include "pg_tu.h"

/* Poll `sql` (its first column as int64) until it equals want; fails after
 * the deadline, or at once when `child` (> 0) exits meanwhile. */
static void wait_for(PGconn *c, int64_t want, pid_t child, const char *sql)
{
    double dl = tu_deadline(TU_WAIT_S);
    while (pgtu_i64(c, "%s", sql) != want) {
        int st = 0;
        ck_assert_msg(child <= 0 || waitpid(child, &st, WNOHANG) == 0,
                      "the child ended (status %d) before %s = %lld", st, sql, (long long)want);
        ck_assert_msg(tu_poll(dl), "waited %.0f s for %s = %lld", TU_WAIT_S, sql, (long long)want);
    }
}

static int child_status(pid_t pid)
{
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    return st;
}

/* ---- three attempts, two of them killed --------------------------------- */

typedef struct attempt_plan {
    int64_t last;       /* the last step it logs */
    int64_t mark_after; /* a checkpoint mark after this step (-1: none) */
    int killed;         /* after `last`, waits to be killed (SIGKILL), else finishes */
    const char *ckpt;   /* the mark's file */
} attempt_plan;

/* A child: one attempt through the public API with resume=allow and the
 * key; reports where it continued (next_step) through fd; values are
 * 1000 * (its attempt) + step. */
static void run_attempt(const char *spec, int attempt, const attempt_plan *ap, int fd)
{
    tropt_tracker *t = NULL;
    if (tropt_tracker_open(&t, spec, "preempted", NULL) != TROPT_OK ||
        tropt_tracker_init(t, NULL) != TROPT_OK) {
        fprintf(stderr, "attempt %d: %s\n", attempt, tropt_error_message());
        _exit(2);
    }
    int64_t first = tropt_tracker_next_step(t);
    pgtu_write_i64(fd, first);
    for (int64_t s = first; s <= ap->last; s++) {
        tropt_field f[] = {TROPT_F_INT("v", 1000 * attempt + s),
                           TROPT_F_REAL("x", 0.5 * (double)s)};
        if (tropt_tracker_log_fields(t, f, 2) != TROPT_OK)
            _exit(3);
        if (s == ap->mark_after) {
            char data[4096];
            for (size_t i = 0; i < sizeof data; i++)
                data[i] = (char)(i * 7 + (size_t)attempt);
            FILE *fp = fopen(ap->ckpt, "wb");
            if (!fp || fwrite(data, 1, sizeof data - (size_t)attempt, fp) == 0 || fclose(fp))
                _exit(4);
            /* flush waits for the mark's hash: it is stored before the kill */
            if (tropt_tracker_checkpoint(t, ap->ckpt) != TROPT_OK ||
                tropt_tracker_flush(t) != TROPT_OK)
                _exit(5);
        }
    }
    if (ap->killed)
        for (;;)
            pause(); /* the parent kills it once the store shows `last` */
    if (tropt_tracker_finish(t, NULL) != TROPT_OK)
        _exit(6);
    tropt_tracker_free(t);
    _exit(0);
}

/* Attempt `attempt` in a child; a killed one is killed with SIGKILL once the
 * store shows its last step (and its mark with the hash).  Where it
 * continued. */
static int64_t attempt_in_child(PGconn *c, const char *spec, int attempt, const attempt_plan *ap)
{
    int fd[2];
    ck_assert_int_eq(pipe(fd), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fd[0]);
        run_attempt(spec, attempt, ap, fd[1]);
    }
    close(fd[1]);
    int64_t first = pgtu_read_i64(fd[0]);
    close(fd[0]);
    if (ap->killed) {
        char *sql = tu_strdupf("SELECT count(*) FROM rs.metrics_history WHERE attempt = %d AND"
                               " step = %lld",
                               attempt, (long long)ap->last);
        wait_for(c, 2, pid, sql); /* both fields of the last step */
        free(sql);
        sql = tu_strdupf("SELECT count(*) FROM rs.checkpoints WHERE attempt = %d AND"
                         " sha256 IS NOT NULL",
                         attempt);
        wait_for(c, ap->mark_after >= 0, pid, sql);
        free(sql);
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
    }
    int st = child_status(pid);
    if (ap->killed)
        ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "attempt %d: status %d", attempt,
                      st);
    else
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "attempt %d: status %d", attempt, st);
    return first;
}

/* sha256sum's digest of path (malloc'd). */
static char *sha256sum(const char *path)
{
    char *cmd = tu_strdupf("sha256sum '%s'", path);
    char *out = NULL;
    ck_assert_int_eq(tu_run(cmd, &out, 0), 0);
    ck_assert_msg(out && strlen(out) > 64, "%s", out ? out : "");
    out[64] = '\0';
    free(cmd);
    return out;
}

static void check_mark(PGconn *c, int attempt, int64_t step, const char *path)
{
    char *want = sha256sum(path);
    char *got = pgtu_text(c,
                          "SELECT sha256 FROM rs.checkpoints WHERE attempt = %d AND seq = 0 AND"
                          " step = %lld AND path = '%s' AND size = %d AND error IS NULL",
                          attempt, (long long)step, path, 4096 - attempt);
    ck_assert_msg(got && strcmp(got, want) == 0, "mark of attempt %d: %s, sha256sum %s", attempt,
                  got ? got : "(none)", want);
    free(want);
    free(got);
}

/* What the reader says of the run: the history (every row, superseded
 * marked) and the current steps. */
typedef struct hist {
    int starts, attempt_events, steps, superseded, ends;
    int64_t cur; /* the attempt of the last START / ATTEMPT event */
    int marks;   /* CHECKPOINT events, each after its attempt's START/ATTEMPT */
    int64_t mark_step[4];
    char mark_sha[4][65];
    size_t n_attempts;
    int64_t from[4];
    char status[4][16];
    int64_t current[200]; /* value of v per step, from read_run */
} hist;

static int on_history(const tropt_event *ev, void *ud)
{
    hist *h = ud;
    if (ev->kind == TROPT_EVENT_START) {
        h->starts++;
        h->n_attempts = ev->n_attempts;
        for (size_t i = 0; i < ev->n_attempts && i < 4; i++) {
            h->from[i] = ev->attempts[i].from_step;
            snprintf(h->status[i], sizeof h->status[i], "%s", ev->attempts[i].status);
        }
        h->cur = 1;
    } else if (ev->kind == TROPT_EVENT_ATTEMPT) {
        h->attempt_events++;
        h->cur = ev->attempt;
    } else if (ev->kind == TROPT_EVENT_CHECKPOINT) {
        const tropt_checkpoint *m = ev->checkpoint;
        ck_assert(m && m->attempt == h->cur && ev->attempt == h->cur && h->marks < 4);
        h->mark_step[h->marks] = m->step;
        snprintf(h->mark_sha[h->marks++], 65, "%s", m->sha256 ? m->sha256 : "");
    } else if (ev->kind == TROPT_EVENT_STEP) {
        h->steps++;
        h->superseded += ev->superseded;
        for (size_t i = 0; i < ev->n; i++)
            if (strcmp(ev->fields[i].key, "v") == 0 && ev->step >= 0 && ev->step < 200)
                h->current[ev->step] = ev->fields[i].v.i;
    } else if (ev->kind == TROPT_EVENT_END) {
        h->ends++;
    }
    return 0;
}

typedef struct one_run {
    int n;
    tropt_stored_run r;
    char key[64];
} one_run;

static int on_listed(const tropt_stored_run *r, void *ud)
{
    one_run *o = ud;
    o->n++;
    o->r = *r;
    snprintf(o->key, sizeof o->key, "%s", r->resume_key ? r->resume_key : "");
    return 0;
}

static void check_reader(const char *spec, const char *run_id, char *const ck[2])
{
    tropt_reader *r = NULL;
    ck_assert_msg(tropt_reader_open(&r, spec) == TROPT_OK, "%s", tropt_error_message());
    one_run o = {0};
    ck_assert_int_eq(tropt_reader_list_runs(r, on_listed, &o), TROPT_OK);
    ck_assert_int_eq(o.n, 1);
    ck_assert_int_eq(o.r.attempts, 3);
    ck_assert_int_eq(o.r.last_step, 199);
    ck_assert_int_eq(o.r.checkpoint_step, 99);
    ck_assert_int_eq(o.r.n_steps, 200);
    ck_assert_str_eq(o.key, "job-17");
    ck_assert_str_eq(o.r.status, "finished");
    /* the heartbeat of the store: its age and bound (heartbeat=100ms: 2 s) */
    ck_assert_msg(o.r.heartbeat_age >= 0 && o.r.heartbeat_age < 3600, "%g", o.r.heartbeat_age);
    ck_assert_msg(o.r.stale_after == 2.0, "%g", o.r.stale_after);
    hist h;
    memset(&h, 0, sizeof h);
    ck_assert_int_eq(tropt_reader_read_history(r, run_id, on_history, &h), TROPT_OK);
    ck_assert_int_eq(h.starts, 1);
    ck_assert_int_eq(h.n_attempts, 3);
    ck_assert_int_eq(h.attempt_events, 2);
    ck_assert_int_eq(h.from[1], 50);
    ck_assert_int_eq(h.from[2], 100);
    ck_assert_str_eq(h.status[0], "crashed");
    ck_assert_str_eq(h.status[1], "crashed");
    ck_assert_str_eq(h.status[2], "finished");
    ck_assert_int_eq(h.steps, 300);
    ck_assert_int_eq(h.superseded, 100);
    ck_assert_int_eq(h.ends, 1);
    ck_assert_int_eq(h.marks, 2);
    ck_assert_int_eq(h.mark_step[0], 49);
    ck_assert_int_eq(h.mark_step[1], 99);
    for (int k = 0; k < 2; k++) {
        char *want = sha256sum(ck[k]);
        ck_assert_str_eq(h.mark_sha[k], want);
        free(want);
    }
    memset(&h, 0, sizeof h);
    ck_assert_int_eq(tropt_reader_read_run(r, run_id, on_history, &h), TROPT_OK);
    ck_assert_int_eq(h.steps, 200);
    for (int s = 0; s < 200; s++)
        ck_assert_int_eq(h.current[s], 1000 * (s < 50 ? 1 : s < 100 ? 2 : 3) + s);
    tropt_reader_free(r);
}

START_TEST(test_three_attempts_after_sigkill)
{
    char *dir = tu_mkdtemp();
    char *spec = pgtu_spec("rs", "heartbeat=100ms,resume=allow,resume_key=job-17");
    PGconn *c = pgtu_connect();
    char *ck1 = tu_path(dir, "ckpt-1.bin"), *ck2 = tu_path(dir, "ckpt-2.bin");
    attempt_plan a1 = {99, 49, 1, ck1}, a2 = {149, 99, 1, ck2}, a3 = {199, -1, 0, NULL};

    ck_assert_int_eq(attempt_in_child(c, spec, 1, &a1), 0);
    /* the heartbeat stops: the run shows crashed, and may be resumed */
    wait_for(c, 1, 0, "SELECT count(*) FROM rs.runs WHERE status = 'crashed'");
    ck_assert_int_eq(attempt_in_child(c, spec, 2, &a2), 50); /* after the mark at 49 */
    wait_for(c, 1, 0, "SELECT count(*) FROM rs.runs WHERE status = 'crashed'");
    ck_assert_int_eq(attempt_in_child(c, spec, 3, &a3), 100); /* after the mark at 99 */

    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM rs.runs"), 1);
    char *run_id = pgtu_text(c, "SELECT run_id FROM rs.runs WHERE attempts = 3 AND"
                                " status = 'finished'");
    ck_assert_ptr_nonnull(run_id);
    /* each step once, with the latest attempt's value */
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM rs.metrics WHERE key = 'v'"), 200);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(DISTINCT step) FROM rs.metrics WHERE key = 'v'"
                                 " AND step BETWEEN 0 AND 199"),
                     200);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM rs.metrics WHERE key = 'v' AND value_int ="
                                 " step + 1000 * CASE WHEN step < 50 THEN 1 WHEN step < 100 THEN 2"
                                 " ELSE 3 END"),
                     200);
    /* every row of every attempt, the superseded ones marked */
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM rs.metrics_history WHERE key = 'v'"), 300);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM rs.metrics_history WHERE key = 'v' AND"
                                 " superseded AND ((attempt = 1 AND step BETWEEN 50 AND 99) OR"
                                 " (attempt = 2 AND step BETWEEN 100 AND 149))"),
                     100);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM rs.metrics_history WHERE key = 'v' AND"
                                 " value_int = step + 1000 * attempt"),
                     300);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM rs.metrics_history WHERE superseded"),
                     200); /* both keys */
    /* each attempt's own start, writer and from_step */
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(DISTINCT pid) FROM rs.tropt_attempt"), 3);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM rs.tropt_attempt a JOIN rs.tropt_run u"
                                 " ON u.id = a.run WHERE (a.attempt, a.from_step, a.status) IN"
                                 " ((1, 0, 'crashed'), (2, 50, 'crashed'), (3, 100, 'finished'))"
                                 " AND u.pid = (SELECT pid FROM rs.tropt_attempt WHERE attempt = 3)"
                                 " AND a.pidns IS NOT NULL"),
                     3);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM rs.checkpoints"), 2);
    check_mark(c, 1, 49, ck1);
    check_mark(c, 2, 99, ck2);
    char *const cks[2] = {ck1, ck2};
    check_reader(spec, run_id, cks);
    PQfinish(c);
    free(run_id);
    free(ck1);
    free(ck2);
    free(spec);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- one winner ------------------------------------------------------------ */

#define RACE_RUN "01a0b0c0-0000-7000-8000-0000000000aa"

typedef struct racer_result {
    int rc;
    char msg[400];
} racer_result;

/* A child: opens the tracker, says it is ready, waits for the go, then
 * opens the run `how` says and reports its code and message; once the
 * parent has both reports (so both opened before either goes on), the
 * winner logs 5 steps where the run continues and finishes. */
static void racer(const char *spec, int how, int round, const int fds[4])
{
    tropt_tracker *t = NULL;
    if (tropt_tracker_open(&t, spec, "race", NULL) != TROPT_OK)
        _exit(2);
    char b = 1;
    if (write(fds[0], &b, 1) != 1 || read(fds[1], &b, 1) != 1)
        _exit(3);
    racer_result res = {0};
    if (how == 0) { /* attempt `round` of one run, as a replay of two journals would */
        tropt_run_record rec = {.struct_size = sizeof rec,
                                .run_id = RACE_RUN,
                                .started_at = 1.8e9,
                                .host = "racer",
                                .attempt = round,
                                .from_step = 5};
        res.rc = tropt_tracker_import_run(t, &rec, NULL);
    } else if (how == 1) { /* a new run with one resume key */
        tropt_run_record rec = {.struct_size = sizeof rec, .resume_key = "shared-key"};
        res.rc = tropt_tracker_import_run(t, &rec, NULL);
    } else { /* the public way: resume=must */
        res.rc = tropt_tracker_init(t, NULL);
    }
    snprintf(res.msg, sizeof res.msg, "%s", res.rc ? tropt_error_message() : "");
    if (write(fds[2], &res, sizeof res) != (ssize_t)sizeof res || read(fds[3], &b, 1) != 1)
        _exit(4);
    for (int64_t s = 0; res.rc == TROPT_OK && s < 5; s++) {
        tropt_field f = TROPT_F_INT("pid", (int64_t)getpid());
        int64_t at = tropt_tracker_next_step(t);
        if (tropt_tracker_log_fields_at(t, at, -1, &f, 1) != TROPT_OK)
            _exit(5);
    }
    if (res.rc == TROPT_OK && tropt_tracker_finish(t, NULL) != TROPT_OK)
        _exit(6);
    tropt_tracker_free(t);
    _exit(0);
}

/* Two racers at once; their results. */
static void race(const char *spec, int how, int round, racer_result out[2])
{
    int ready[2], go[2], res[2], fin[2];
    ck_assert(pipe(ready) == 0 && pipe(go) == 0 && pipe(res) == 0 && pipe(fin) == 0);
    const int child_fds[4] = {ready[1], go[0], res[1], fin[0]};
    pid_t kid[2];
    for (int k = 0; k < 2; k++) {
        kid[k] = fork();
        ck_assert_int_ge(kid[k], 0);
        if (kid[k] == 0)
            racer(spec, how, round, child_fds);
    }
    char b[2];
    ck_assert_int_eq(read(ready[0], b, 1), 1);
    ck_assert_int_eq(read(ready[0], b + 1, 1), 1);
    ck_assert_int_eq(write(go[1], "gg", 2), 2);
    for (int k = 0; k < 2; k++)
        ck_assert_int_eq(read(res[0], &out[k], sizeof out[k]), (ssize_t)sizeof out[k]);
    ck_assert_int_eq(write(fin[1], "ff", 2), 2);
    for (int k = 0; k < 2; k++) {
        int st = child_status(kid[k]);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "racer %d: %d", k, st);
    }
    for (int k = 0; k < 2; k++) {
        close(ready[k]);
        close(go[k]);
        close(res[k]);
        close(fin[k]);
    }
}

/* Exactly one won; the loser's code is one of `codes` and its message
 * holds `says`. */
static const racer_result *one_winner(const racer_result r[2], int code_a, int code_b,
                                      const char *says_a, const char *says_b)
{
    ck_assert_msg((r[0].rc == TROPT_OK) != (r[1].rc == TROPT_OK), "codes %d and %d: %s / %s",
                  r[0].rc, r[1].rc, r[0].msg, r[1].msg);
    const racer_result *lost = r[0].rc ? &r[0] : &r[1];
    ck_assert_msg((lost->rc == code_a && strstr(lost->msg, says_a)) ||
                      (lost->rc == code_b && strstr(lost->msg, says_b)),
                  "the loser: %d %s", lost->rc, lost->msg);
    return lost;
}

START_TEST(test_two_processes_resume_one_run)
{
    char *spec = pgtu_spec("race1", NULL);
    PGconn *c = pgtu_connect();
    /* attempt 1 of the run, then attempts 2..6 each raced by two processes */
    tropt_tracker *t = NULL;
    ck_assert_int_eq(tropt_tracker_open(&t, spec, "race", NULL), TROPT_OK);
    tropt_run_info info = {.run_id = RACE_RUN, .started_at = 1.8e9, .host = "first", .pid = 1};
    ck_assert_int_eq(tropt_tracker_init_run(t, &info, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    for (int round = 2; round <= 6; round++) {
        racer_result r[2];
        race(spec, 0, round, r);
        const racer_result *lost =
            one_winner(r, TROPT_EBACKEND, TROPT_EBACKEND, "another process resumed this run", "-");
        char *want = tu_strdupf("run %s already has attempt %d", RACE_RUN, round);
        ck_assert_msg(strstr(lost->msg, want), "%s", lost->msg);
        free(want);
    }
    ck_assert_int_eq(pgtu_i64(c, "SELECT attempts FROM race1.runs"), 6);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM race1.tropt_attempt"), 6);
    /* the winner of each round logged its 5 steps from 5; nobody else */
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM race1.metrics_history"), 25);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM race1.metrics"), 5);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM race1.metrics_history m JOIN"
                                 " race1.tropt_attempt a ON a.attempt = m.attempt"
                                 " WHERE m.value_int = a.pid"),
                     25);
    PQfinish(c);
    free(spec);
}
END_TEST

START_TEST(test_two_processes_start_with_one_key)
{
    char *spec = pgtu_spec("race2", NULL);
    PGconn *c = pgtu_connect();
    racer_result r[2];
    race(spec, 1, 0, r);
    one_winner(r, TROPT_EBACKEND, TROPT_EBACKEND, "resume_key 'shared-key' already belongs to",
               "-");
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM race2.runs"), 1);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM race2.tropt_run WHERE"
                                 " resume_key = 'shared-key'"),
                     1);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM race2.metrics"), 5);
    PQfinish(c);
    free(spec);
}
END_TEST

/* Through the public API: a crashed run with a key, two processes with
 * resume=must at once.  The loser finds the attempt taken (TROPT_EBACKEND)
 * or, when it looked after the winner started, the run running
 * (TROPT_ESTATE); either way one new attempt, nothing duplicated. */
START_TEST(test_two_processes_resume_must_at_once)
{
    char *spec = pgtu_spec("race3", "heartbeat=100ms,resume=must,resume_key=k3");
    PGconn *c = pgtu_connect();
    char *first = pgtu_spec("race3", "heartbeat=100ms,resume=allow,resume_key=k3");
    tropt_tracker *t = NULL;
    ck_assert_int_eq(tropt_tracker_open(&t, first, "race", NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    for (int i = 0; i < 5; i++) {
        tropt_field f = TROPT_F_INT("pid", 0);
        ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_OK);
    }
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    racer_result r[2];
    race(spec, 2, 0, r);
    one_winner(r, TROPT_EBACKEND, TROPT_ESTATE, "another process resumed this run",
               "still running");
    ck_assert_int_eq(pgtu_i64(c, "SELECT attempts FROM race3.runs"), 2);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM race3.metrics"), 10);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(DISTINCT step) FROM race3.metrics"), 10);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM race3.metrics_history"), 10);
    PQfinish(c);
    free(first);
    free(spec);
}
END_TEST

START_TEST(test_resume_must_unknown_key)
{
    char *spec = pgtu_spec("rs_must", "resume=must,resume_key=never-seen");
    tropt_tracker *t = NULL;
    ck_assert_int_eq(tropt_tracker_open(&t, spec, "must", NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_ENOTFOUND);
    ck_assert_msg(strstr(tropt_error_message(), "never-seen"), "%s", tropt_error_message());
    tropt_tracker_free(t);
    PGconn *c = pgtu_connect();
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM rs_must.runs"), 0);
    PQfinish(c);
    free(spec);
}
END_TEST

int main(void)
{
    pgtu_start();
    Suite *s = suite_create("pg-resume");
    TCase *tc = tcase_create("resume");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_three_attempts_after_sigkill);
    tcase_add_test(tc, test_two_processes_resume_one_run);
    tcase_add_test(tc, test_two_processes_start_with_one_key);
    tcase_add_test(tc, test_two_processes_resume_must_at_once);
    tcase_add_test(tc, test_resume_must_unknown_key);
    suite_add_tcase(s, tc);
    int rc = tu_run_suite(s);
    pgtu_destroy();
    return rc;
}
