/*
 * tests/attempts.c - see attempts.h.  The children are plain processes
 * (fork without exec): they use no ck_* call and say what failed on stderr
 * with a distinct exit code.
 */
#include "attempts.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <tropt/host.h>
#include <tropt/tracker.h>

/* ---- the child --------------------------------------------------------- */

static void die(int code, const char *what)
{
    fprintf(stderr, "attempt child %d: %s: %s\n", (int)getpid(), what, tropt_error_message());
    _exit(code);
}

/* Block until the parent writes a byte or closes the pipe (-1: no gate). */
static void wait_gate(int fd)
{
    char c;
    if (fd < 0)
        return;
    while (read(fd, &c, 1) < 0 && errno == EINTR)
        ;
}

static void tell(int fd, char c)
{
    while (write(fd, &c, 1) < 0 && errno == EINTR)
        ;
}

static void write_checkpoint(const char *dir, int attempt, tropt_tracker *t)
{
    char *path = tu_strdupf("%s/ckpt-%d", dir, attempt);
    FILE *f = fopen(path, "w");
    if (!f)
        die(4, "cannot write the checkpoint file");
    for (int i = 0; i < 1000 * attempt; i++)
        fprintf(f, "state of attempt %d, line %d\n", attempt, i);
    if (fclose(f) != 0)
        die(4, "cannot write the checkpoint file");
    if (tropt_tracker_checkpoint(t, path) != TROPT_OK)
        die(5, "checkpoint");
    free(path);
}

static void log_hundred(tropt_tracker *t, const char *dir, int attempt)
{
    int64_t from = tropt_tracker_next_step(t);
    for (int64_t i = 0; i < 100; i++) {
        tropt_field f = TROPT_F_REAL("loss", AT_VALUE(attempt, from + i));
        if (tropt_tracker_log_fields(t, &f, 1) != TROPT_OK)
            die(6, "log");
        if (i == 49)
            write_checkpoint(dir, attempt, t);
    }
    if (tropt_tracker_flush(t) != TROPT_OK)
        die(7, "flush");
}

/* The child's whole life: start gate, init, 100 steps, then tell the parent
 * ('O'), and finish after the finish gate or wait to be killed. */
static void child(const char *spec, const char *key, const char *dir, int attempt, int finish,
                  int start_gate, int report, int finish_gate)
{
    tropt_tracker *t;
    if (tropt_tracker_open(&t, spec, "attempts", NULL) != TROPT_OK)
        die(2, "open");
    if (tropt_tracker_set_option(t, "resume", "allow") != TROPT_OK ||
        tropt_tracker_set_option(t, "resume_key", key) != TROPT_OK)
        die(2, "set_option");
    wait_gate(start_gate);
    json_t *config = json_pack("{si}", "attempt", attempt);
    if (tropt_tracker_init(t, config) != TROPT_OK) {
        tell(report, 'F');
        die(3, "init");
    }
    json_decref(config);
    log_hundred(t, dir, attempt);
    tell(report, 'O');
    if (!finish)
        for (;;)
            pause();
    wait_gate(finish_gate);
    if (tropt_tracker_finish(t, NULL) != TROPT_OK)
        die(8, "finish");
    tropt_tracker_free(t);
    _exit(0);
}

/* ---- the parent -------------------------------------------------------- */

static char read_report(int fd)
{
    char c = 0;
    ssize_t got;
    while ((got = read(fd, &c, 1)) < 0 && errno == EINTR)
        ;
    return got == 1 ? c : 0;
}

static int reap(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0)
        ck_assert_int_eq(errno, EINTR);
    return status;
}

void at_attempt(const char *spec, const char *key, const char *dir, int attempt, int finish,
                pid_t *pid_out)
{
    int rep[2];
    ck_assert_int_eq(pipe(rep), 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(rep[0]);
        child(spec, key, dir, attempt, finish, -1, rep[1], -1);
    }
    close(rep[1]);
    char c = read_report(rep[0]); /* 'O' after 100 flushed steps; EOF if it died */
    close(rep[0]);
    if (c != 'O') {
        int status = reap(pid);
        ck_abort_msg("attempt %d failed before its steps were flushed (exit status %d)", attempt,
                     WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status));
    }
    *pid_out = pid;
}

void at_attempt_killed(const char *spec, const char *key, const char *dir, int attempt)
{
    pid_t pid;
    at_attempt(spec, key, dir, attempt, 0, &pid);
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    int status = reap(pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

void at_attempt_finished(const char *spec, const char *key, const char *dir, int attempt)
{
    pid_t pid;
    at_attempt(spec, key, dir, attempt, 1, &pid);
    int status = reap(pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "attempt %d exit status %d",
                  attempt, status);
}

int at_race(const char *spec, const char *key, const char *dir, int attempt)
{
    int start[2], rep[2], fin[2];
    ck_assert(pipe(start) == 0 && pipe(rep) == 0 && pipe(fin) == 0);
    pid_t pids[2];
    fflush(NULL);
    for (int i = 0; i < 2; i++) {
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0) {
            close(start[1]), close(rep[0]), close(fin[1]);
            child(spec, key, dir, attempt, 1, start[0], rep[1], fin[0]);
        }
    }
    close(start[0]), close(rep[1]), close(fin[0]);
    close(start[1]); /* both go at once */
    int won = 0;
    for (int i = 0; i < 2; i++)
        won += read_report(rep[0]) == 'O';
    close(rep[0]);
    close(fin[1]); /* the winner held its run open until both had tried */
    for (int i = 0; i < 2; i++)
        reap(pids[i]);
    return won;
}

/* ---- the checks -------------------------------------------------------- */

typedef struct found {
    const char *key;
    int n;
    char id[37];
    int64_t attempts, n_steps, last_step, checkpoint_step;
    char status[16];
} found;

static int see_run(const tropt_stored_run *run, void *ud)
{
    found *f = ud;
    if (!run->resume_key || strcmp(run->resume_key, f->key) != 0)
        return 0;
    f->n++;
    snprintf(f->id, sizeof f->id, "%s", run->run_id);
    f->attempts = run->attempts;
    f->n_steps = run->n_steps;
    f->last_step = run->last_step;
    f->checkpoint_step = run->checkpoint_step;
    snprintf(f->status, sizeof f->status, "%s", tropt_run_status(run));
    return 0;
}

typedef struct tally {
    int steps, superseded, wrong, marks;
    int64_t next;  /* read_run: the step expected next */
    char why[512]; /* the first thing that was wrong */
    const char *dir;
} tally;

static void wrong(tally *t, const char *fmt, long long a, long long b, double c)
{
    if (!t->wrong++)
        snprintf(t->why, sizeof t->why, fmt, a, b, c);
}

static double loss_of(const tropt_event *ev)
{
    for (size_t i = 0; i < ev->n; i++)
        if (strcmp(ev->fields[i].key, "loss") == 0 && ev->fields[i].type == TROPT_REAL)
            return ev->fields[i].v.r;
    return -1;
}

/* The attempt whose value a step keeps: steps 0..49 of attempt 1, 50..99
 * of attempt 2, 100..199 of attempt 3. */
static int64_t latest_attempt(int64_t step)
{
    return step < 50 ? 1 : step < 100 ? 2 : 3;
}

static int see_current(const tropt_event *ev, void *ud)
{
    tally *t = ud;
    if (ev->kind != TROPT_EVENT_STEP)
        return 0;
    int64_t want = latest_attempt(ev->step);
    if (ev->step != t->next)
        wrong(t, "step %lld where %lld was next (%g)", ev->step, t->next, 0);
    else if (loss_of(ev) != AT_VALUE(want, ev->step))
        wrong(t, "step %lld of attempt %lld holds %g", ev->step, want, loss_of(ev));
    t->next = ev->step + 1;
    t->steps++;
    return 0;
}

static char *sha256sum(const char *path)
{
    char *cmd = tu_strdupf("sha256sum '%s'", path), *out = NULL;
    ck_assert_int_eq(tu_run(cmd, &out, 0), 0);
    out[64] = '\0';
    free(cmd);
    return out;
}

static void see_mark(tally *t, const tropt_checkpoint *m)
{
    char *path = tu_strdupf("%s/ckpt-%lld", t->dir, (long long)m->attempt);
    size_t len = 0;
    free(tu_read_file(path, &len));
    char *sum = sha256sum(path);
    if (m->step != 49 + 50 * (m->attempt - 1) || strcmp(m->path, path) != 0)
        wrong(t, "mark of attempt %lld at step %lld (%g)", m->attempt, m->step, 0);
    else if (m->size != (int64_t)len || !m->sha256 || strcmp(m->sha256, sum) != 0)
        wrong(t, "mark of attempt %lld: size %lld, sha256 not sha256sum's (%g)", m->attempt,
              m->size, 0);
    t->marks++;
    free(sum), free(path);
}

static int see_history(const tropt_event *ev, void *ud)
{
    tally *t = ud;
    if (ev->kind == TROPT_EVENT_CHECKPOINT)
        see_mark(t, ev->checkpoint);
    if (ev->kind != TROPT_EVENT_STEP)
        return 0;
    int64_t a = ev->attempt ? ev->attempt : 1;
    int superseded = a < latest_attempt(ev->step);
    if (loss_of(ev) != AT_VALUE(a, ev->step))
        wrong(t, "history: step %lld of attempt %lld holds %g", ev->step, a, loss_of(ev));
    else if (ev->superseded != superseded)
        wrong(t, "history: step %lld of attempt %lld superseded=%g", ev->step, a, ev->superseded);
    t->steps++;
    t->superseded += ev->superseded != 0;
    return 0;
}

void at_check_three_attempts(const char *spec, const char *key, const char *dir, char id_out[37])
{
    tropt_reader *r = NULL;
    ck_assert_msg(tropt_reader_open(&r, spec) == TROPT_OK, "%s", tropt_error_message());
    found f = {.key = key};
    ck_assert_int_eq(tropt_reader_list_runs(r, see_run, &f), TROPT_OK);
    ck_assert_int_eq(f.n, 1);
    ck_assert_int_eq(f.attempts, 3);
    ck_assert_str_eq(f.status, "finished");
    ck_assert_int_eq(f.n_steps, 200);
    ck_assert_int_eq(f.last_step, 199);
    ck_assert_int_eq(f.checkpoint_step, 149);

    tally cur = {.dir = dir};
    ck_assert_msg(tropt_reader_read_run(r, f.id, see_current, &cur) == TROPT_OK, "%s",
                  tropt_error_message());
    ck_assert_msg(cur.wrong == 0, "%d wrong, first: %s", cur.wrong, cur.why);
    ck_assert_int_eq(cur.steps, 200);

    tally hist = {.dir = dir};
    ck_assert_msg(tropt_reader_read_history(r, f.id, see_history, &hist) == TROPT_OK, "%s",
                  tropt_error_message());
    ck_assert_msg(hist.wrong == 0, "%d wrong, first: %s", hist.wrong, hist.why);
    ck_assert_int_eq(hist.steps, 300);
    ck_assert_int_eq(hist.superseded, 100);
    ck_assert_int_eq(hist.marks, 3);
    tropt_reader_free(r);
    memcpy(id_out, f.id, 37);
}

typedef struct seen_rows {
    int rows, duplicates;
    char seen[4][1024]; /* [attempt][step] */
} seen_rows;

static int see_row(const tropt_event *ev, void *ud)
{
    seen_rows *s = ud;
    if (ev->kind != TROPT_EVENT_STEP)
        return 0;
    s->rows++;
    int64_t a = ev->attempt ? ev->attempt : 1;
    if (a < 4 && ev->step >= 0 && ev->step < 1024)
        s->duplicates += s->seen[a][ev->step]++ != 0;
    return 0;
}

void at_summarize(const char *spec, const char *key, at_summary *out)
{
    tropt_reader *r = NULL;
    ck_assert_msg(tropt_reader_open(&r, spec) == TROPT_OK, "%s", tropt_error_message());
    found f = {.key = key};
    ck_assert_int_eq(tropt_reader_list_runs(r, see_run, &f), TROPT_OK);
    memset(out, 0, sizeof *out);
    out->runs = f.n;
    out->attempts = f.attempts;
    if (f.n > 0) {
        seen_rows *s = calloc(1, sizeof *s);
        ck_assert_ptr_nonnull(s);
        ck_assert_int_eq(tropt_reader_read_history(r, f.id, see_row, s), TROPT_OK);
        out->rows = s->rows;
        out->duplicates = s->duplicates;
        free(s);
    }
    tropt_reader_free(r);
}
