/*
 * tests/csv/test_csv_v12.c - the csv backend under ABI 1.2 (issues 28, 29):
 * names, tags, notes and deletion read back through the reader and the
 * files by Python's csv module; resume after SIGKILL over three attempts
 * (every row of every attempt kept, each step once in read_run, the marks'
 * size and SHA-256 equal to sha256sum's); resume=must with an unknown key;
 * two processes resuming one key at once.
 */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <tropt/host.h>
#include <tropt/tracker.h>

#include "attempts.h"
#include "testutil.h"

/* ---- reading back ---------------------------------------------------------- */

typedef struct found {
    const char *want; /* a run id, or NULL: any */
    int n;
    char id[40], name[200], note[200], tags[400], status[16];
    int64_t attempts, last_step, checkpoint_step;
} found;

static int on_run(const tropt_stored_run *r, void *ud)
{
    found *f = ud;
    if (f->want && strcmp(f->want, r->run_id) != 0)
        return 0;
    f->n++;
    snprintf(f->id, sizeof f->id, "%s", r->run_id);
    snprintf(f->name, sizeof f->name, "%s", r->name ? r->name : "(null)");
    snprintf(f->note, sizeof f->note, "%s", r->note ? r->note : "(null)");
    snprintf(f->status, sizeof f->status, "%s", r->status);
    f->tags[0] = '\0';
    for (size_t i = 0; i < r->n_tags; i++)
        snprintf(f->tags + strlen(f->tags), sizeof f->tags - strlen(f->tags), "%s%s", i ? "," : "",
                 r->tags[i]);
    f->attempts = r->attempts;
    f->last_step = r->last_step;
    f->checkpoint_step = r->checkpoint_step;
    return 0;
}

/* The run `id` (NULL: the only one) of the csv store in dir. */
static found list(const char *dir, const char *id)
{
    found f = {.want = id};
    char *spec = tu_strdupf("csv:dir=%s", dir);
    tropt_reader *r = NULL;
    if (tropt_reader_open(&r, spec) == TROPT_OK) {
        ck_assert_msg(tropt_reader_list_runs(r, on_run, &f) == TROPT_OK, "%s",
                      tropt_error_message());
        tropt_reader_free(r);
    }
    free(spec);
    return f;
}

static char *py(const char *script, const char *arg)
{
    char *cmd = tu_strdupf("/usr/bin/python3 -c '%s' '%s'", script, arg), *out = NULL;
    int rc = tu_run(cmd, &out, 1);
    ck_assert_msg(rc == 0, "%s: %s", cmd, out);
    free(cmd);
    return out;
}

/* ---- names ------------------------------------------------------------------ */

static char *one_run(const char *dir, const char *name)
{
    char *spec = tu_strdupf("csv:dir=%s", dir);
    tropt_tracker *t = NULL;
    ck_assert_int_eq(tropt_tracker_open(&t, spec, "names", NULL), TROPT_OK);
    if (name)
        ck_assert_int_eq(tropt_tracker_set_run_name(t, name), TROPT_OK);
    ck_assert_msg(tropt_tracker_init(t, NULL) == TROPT_OK, "%s", tropt_error_message());
    char *id = strdup(tropt_tracker_run_id(t));
    char *want = strdup(tropt_tracker_run_name(t));
    tropt_field f = TROPT_F_INT("x", 1);
    ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    found got = list(dir, id);
    ck_assert_int_eq(got.n, 1);
    ck_assert_str_eq(got.name, want);
    ck_assert_int_eq(got.attempts, 1);
    ck_assert_int_eq(got.last_step, 0);
    free(spec);
    free(id);
    return want;
}

START_TEST(test_names_read_back)
{
    char *dir = tu_mkdtemp();
    free(one_run(dir, "lr=0.01, \"quoted\" <b>"));
    setenv("TROPT_RUN_NAME", "from-env", 1);
    char *n = one_run(dir, NULL);
    ck_assert_str_eq(n, "from-env");
    free(n);
    unsetenv("TROPT_RUN_NAME");
    char *names[4];
    for (int i = 0; i < 4; i++) {
        names[i] = one_run(dir, NULL);
        ck_assert_msg(strchr(names[i], '-') != NULL, "default name '%s'", names[i]);
        for (int j = 0; j < i; j++)
            ck_assert_str_ne(names[i], names[j]);
    }
    /* run.json is JSON a real parser reads, the name in it */
    char *out = py("import json,glob,sys; print(sorted(json.load(open(p))[\"name\"] for p in "
                   "glob.glob(sys.argv[1]+\"/names/*/run.json\")))",
                   dir);
    ck_assert_msg(strstr(out, "'from-env'") && strstr(out, "'lr=0.01, \"quoted\" <b>'"), "%s", out);
    free(out);
    for (int i = 0; i < 4; i++)
        free(names[i]);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- tags, note, delete ---------------------------------------------------------- */

START_TEST(test_tags_note_delete)
{
    char *dir = tu_mkdtemp();
    char *spec = tu_strdupf("csv:dir=%s", dir);
    tropt_tracker *t = NULL;
    ck_assert_int_eq(tropt_tracker_open(&t, spec, "ann", NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char *id = strdup(tropt_tracker_run_id(t));
    ck_assert_int_eq(tropt_tracker_tag(t, "baseline"), TROPT_OK);
    tropt_field f = TROPT_F_REAL("loss", 0.5);
    ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_OK);
    found got = list(dir, id);
    ck_assert_str_eq(got.tags, "baseline"); /* during the run */
    tropt_annotation a = {TROPT_ANNOTATE_NOTE, "a note, \"quoted\"", 0};
    ck_assert_msg(tropt_tracker_annotate_run(t, id, &a) == TROPT_OK, "%s", tropt_error_message());
    /* another process tags the running run: neither change undoes the other */
    tropt_tracker *o = NULL;
    ck_assert_int_eq(tropt_tracker_open(&o, spec, "ann", NULL), TROPT_OK);
    tropt_annotation out = {TROPT_ANNOTATE_TAG, "outside", 0};
    ck_assert_int_eq(tropt_tracker_annotate_run(o, id, &out), TROPT_OK);
    tropt_tracker_free(o);
    ck_assert_int_eq(tropt_tracker_tag(t, "second"), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    got = list(dir, id);
    ck_assert_str_eq(got.tags, "baseline,outside,second");
    ck_assert_str_eq(got.note, "a note, \"quoted\"");
    ck_assert_str_eq(got.status, "finished");

    /* afterwards, from another tracker */
    tropt_tracker *u = NULL;
    ck_assert_int_eq(tropt_tracker_open(&u, spec, "ann", NULL), TROPT_OK);
    tropt_annotation un = {TROPT_ANNOTATE_UNTAG, "baseline", 0};
    tropt_annotation tg = {TROPT_ANNOTATE_TAG, "bad-seed", 0};
    tropt_annotation rn = {TROPT_ANNOTATE_RENAME, "renamed", 0};
    tropt_annotation no = {TROPT_ANNOTATE_NOTE, "", 0};
    ck_assert_int_eq(tropt_tracker_annotate_run(u, id, &un), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_annotate_run(u, id, &tg), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_annotate_run(u, id, &rn), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_annotate_run(u, id, &no), TROPT_OK);
    got = list(dir, id);
    ck_assert_str_eq(got.tags, "outside,second,bad-seed");
    ck_assert_str_eq(got.name, "renamed");
    ck_assert_str_eq(got.note, "(null)");
    ck_assert_int_eq(tropt_tracker_annotate_run(u, "01900000-0000-7000-8000-000000000000", &tg),
                     TROPT_EINVAL);

    /* delete: the folder gone, the run no longer listed, a later init of
     * the id refused */
    char *folder = tu_strdupf("%s/ann/%s", dir, id);
    ck_assert_int_eq(access(folder, F_OK), 0);
    ck_assert_msg(tropt_tracker_delete_run(u, id) == TROPT_OK, "%s", tropt_error_message());
    ck_assert_int_eq(access(folder, F_OK), -1);
    tropt_reader *rd = NULL; /* a store whose runs were all deleted: no runs */
    ck_assert_msg(tropt_reader_open(&rd, spec) == TROPT_OK, "%s", tropt_error_message());
    tropt_reader_free(rd);
    got = list(dir, id);
    ck_assert_int_eq(got.n, 0);
    tropt_run_record rec = {.struct_size = sizeof rec, .run_id = id};
    ck_assert_int_eq(tropt_tracker_import_run(u, &rec, NULL), TROPT_EINVAL);
    ck_assert_msg(strstr(tropt_error_message(), "deleted"), "%s", tropt_error_message());
    ck_assert_int_eq(access(folder, F_OK), -1);
    tropt_tracker_free(u);
    tropt_tracker_free(t);
    free(folder);
    free(id);
    free(spec);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- resume -------------------------------------------------------------------- */

/* A writer process: resume=allow with key, logs n steps from where the run
 * continues (loss = step + 1000 * attempt), a checkpoint mark on the real
 * file ckpt after step ck (-1: none), then flushes and waits to be killed
 * (finish: finishes instead). */
static void writer_body(const char *dir, const char *key, int n, int ck, const char *ckpt,
                        int finish)
{
    char *spec = tu_strdupf("csv:dir=%s", dir);
    tropt_tracker *t = NULL;
    if (tropt_tracker_open(&t, spec, "resume", NULL) != TROPT_OK ||
        tropt_tracker_set_option(t, "resume", "allow") != TROPT_OK ||
        tropt_tracker_set_option(t, "resume_key", key) != TROPT_OK ||
        tropt_tracker_init(t, NULL) != TROPT_OK) {
        fprintf(stderr, "writer: %s\n", tropt_error_message());
        _exit(3);
    }
    int64_t from = tropt_tracker_next_step(t);
    for (int64_t s = from; s < from + n; s++) {
        tropt_field f[] = {TROPT_F_REAL("loss", (double)s + 1000.0 * (from ? from : 1)),
                           TROPT_F_INT("from", from)};
        if (tropt_tracker_log_fields(t, f, 2) != TROPT_OK)
            _exit(4);
        if (s == ck && tropt_tracker_checkpoint(t, ckpt) != TROPT_OK)
            _exit(5);
    }
    if (tropt_tracker_flush(t) != TROPT_OK)
        _exit(6);
    if (finish) {
        int rc = tropt_tracker_finish(t, NULL);
        tropt_tracker_free(t);
        _exit(rc == TROPT_OK ? 0 : 7);
    }
    for (;;)
        pause();
}

static pid_t writer(const char *dir, const char *key, int n, int ck, const char *ckpt, int finish)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        writer_body(dir, key, n, ck, ckpt, finish);
    return pid;
}

typedef struct seen {
    int64_t steps[1000];
    int64_t attempt[1000];
    double loss[1000];
    int superseded[1000];
    int n, starts, attempts_ev, ends;
    int64_t n_attempts;
    int marks;
    char sha[2][80];
    int64_t size[2], mark_step[2];
} seen;

typedef struct want_state {
    const char *dir;
    int64_t last_step, checkpoint_step, attempts;
} want_state;

static void read_back(const char *dir, const char *id, int history, struct seen *s);

/* The store shows the state: the last step, the mark (with its hash, which
 * the writer's flush waited for), the attempts. */
static int reached(void *arg)
{
    want_state *w = arg;
    found f = list(w->dir, NULL);
    if (!(f.n == 1 && f.last_step == w->last_step && f.checkpoint_step == w->checkpoint_step &&
          f.attempts == w->attempts))
        return 0;
    if (w->checkpoint_step < 0)
        return 1;
    struct seen *s = malloc(sizeof *s);
    read_back(w->dir, f.id, 1, s);
    int hashed = s->marks == w->attempts && strcmp(s->sha[s->marks - 1], "(none)") != 0;
    free(s);
    return hashed;
}

/* Wait until the store shows the state, then SIGKILL the writer. */
static void kill_when(pid_t pid, want_state w)
{
    int ok = tu_wait_until(reached, &w, 120);
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    found f = list(w.dir, NULL);
    ck_assert_msg(ok,
                  "store never showed last_step %lld, mark %lld, attempts %lld (has %lld, "
                  "%lld, %lld)",
                  (long long)w.last_step, (long long)w.checkpoint_step, (long long)w.attempts,
                  (long long)f.last_step, (long long)f.checkpoint_step, (long long)f.attempts);
}

static int on_event(const tropt_event *ev, void *ud)
{
    seen *s = ud;
    if (ev->kind == TROPT_EVENT_START) {
        s->starts++;
        s->n_attempts = (int64_t)ev->n_attempts;
    } else if (ev->kind == TROPT_EVENT_ATTEMPT) {
        s->attempts_ev++;
    } else if (ev->kind == TROPT_EVENT_END) {
        s->ends++;
    } else if (ev->kind == TROPT_EVENT_CHECKPOINT && s->marks < 2) {
        snprintf(s->sha[s->marks], sizeof s->sha[0], "%s",
                 ev->checkpoint->sha256 ? ev->checkpoint->sha256 : "(none)");
        s->size[s->marks] = ev->checkpoint->size;
        s->mark_step[s->marks++] = ev->checkpoint->step;
    } else if (ev->kind == TROPT_EVENT_STEP && s->n < 1000) {
        s->steps[s->n] = ev->step;
        s->attempt[s->n] = ev->attempt;
        s->superseded[s->n] = ev->superseded;
        s->loss[s->n] = NAN;
        for (size_t i = 0; i < ev->n; i++)
            if (strcmp(ev->fields[i].key, "loss") == 0)
                s->loss[s->n] = ev->fields[i].v.r;
        s->n++;
    }
    return 0;
}

static void read_back(const char *dir, const char *id, int history, struct seen *s)
{
    memset(s, 0, sizeof *s);
    char *spec = tu_strdupf("csv:dir=%s", dir);
    tropt_reader *r = NULL;
    ck_assert_int_eq(tropt_reader_open(&r, spec), TROPT_OK);
    int rc = history ? tropt_reader_read_history(r, id, on_event, s)
                     : tropt_reader_read_run(r, id, on_event, s);
    ck_assert_msg(rc == TROPT_OK, "%s", tropt_error_message());
    tropt_reader_free(r);
    free(spec);
}

/* sha256sum's digest and the file's size */
static void sha256sum(const char *path, char *hex, int64_t *size)
{
    char *cmd = tu_strdupf("sha256sum '%s'", path), *out = NULL;
    ck_assert_int_eq(tu_run(cmd, &out, 0), 0);
    snprintf(hex, 65, "%s", out);
    size_t n = 0;
    free(tu_read_file(path, &n));
    *size = (int64_t)n;
    free(out);
    free(cmd);
}

/* The attempt whose value step s shows: 1 below 50, 2 below 120, 3 after. */
static int64_t owner(int64_t s)
{
    return s < 50 ? 1 : s < 120 ? 2 : 3;
}

static const int64_t attempt_from[] = {0, 0, 50, 120};

START_TEST(test_resume_after_sigkill)
{
    char *dir = tu_mkdtemp();
    char *ck1 = tu_path(dir, "state1.bin"), *ck2 = tu_path(dir, "state2.bin");
    char *big = malloc(300000);
    for (int i = 0; i < 300000; i++)
        big[i] = (char)('a' + i % 23);
    big[299999] = '\0';
    ck_assert_int_eq(tu_write_file(ck1, big), 0);
    big[5] = 'Z';
    ck_assert_int_eq(tu_write_file(ck2, big), 0);
    free(big);

    pid_t p = writer(dir, "job-42", 100, 49, ck1, 0);
    kill_when(p, (want_state){dir, 99, 49, 1});
    p = writer(dir, "job-42", 100, 119, ck2, 0); /* 50..149, a mark after 119 */
    kill_when(p, (want_state){dir, 149, 119, 2});
    p = writer(dir, "job-42", 100, -1, NULL, 1); /* 120..219, finished */
    int st;
    ck_assert_int_eq(waitpid(p, &st, 0), p);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "third attempt: %d", st);

    found f = list(dir, NULL);
    ck_assert_int_eq(f.n, 1);
    ck_assert_int_eq(f.attempts, 3);
    ck_assert_int_eq(f.last_step, 219);
    ck_assert_str_eq(f.status, "finished");

    seen *s = malloc(sizeof *s);
    read_back(dir, f.id, 0, s);
    ck_assert_int_eq(s->starts, 1);
    ck_assert_int_eq(s->n_attempts, 3);
    ck_assert_int_eq(s->attempts_ev, 2);
    ck_assert_int_eq(s->ends, 1);
    ck_assert_int_eq(s->n, 220); /* each step once */
    for (int i = 0; i < 220; i++) {
        ck_assert_int_eq(s->steps[i], i);
        ck_assert_int_eq(s->attempt[i], owner(i));
        double want = (double)i + 1000.0 * (owner(i) == 1 ? 1 : (double)attempt_from[owner(i)]);
        ck_assert_msg(s->loss[i] == want, "step %d: %g, want %g", i, s->loss[i], want);
    }
    /* the marks, hashed as sha256sum does */
    ck_assert_int_eq(s->marks, 2);
    char hex[2][80];
    int64_t size[2];
    sha256sum(ck1, hex[0], &size[0]);
    sha256sum(ck2, hex[1], &size[1]);
    for (int m = 0; m < 2; m++) {
        ck_assert_str_eq(s->sha[m], hex[m]);
        ck_assert_int_eq(s->size[m], size[m]);
    }
    ck_assert_int_eq(s->mark_step[0], 49);
    ck_assert_int_eq(s->mark_step[1], 119);

    /* every row of every attempt, the superseded ones marked */
    read_back(dir, f.id, 1, s);
    ck_assert_int_eq(s->n, 300);
    int superseded = 0;
    for (int i = 0; i < s->n; i++) {
        int64_t k = s->attempt[i];
        ck_assert_int_eq(s->steps[i], attempt_from[k] + i % 100);
        int want = (k == 1 && s->steps[i] >= 50) || (k == 2 && s->steps[i] >= 120);
        ck_assert_int_eq(s->superseded[i], want);
        superseded += want;
    }
    ck_assert_int_eq(superseded, 80);
    free(s);

    /* the files, as Python's csv module reads them */
    char *out = py("import csv,glob,sys\n"
                   "d=glob.glob(sys.argv[1]+\"/resume/*/\")[0]\n"
                   "for n in [\"metrics.csv\",\"metrics.attempt2.csv\",\"metrics.attempt3.csv\"]:\n"
                   "  r=list(csv.DictReader(open(d+n,newline=\"\")))\n"
                   "  print(n,len(r),r[0][\"step\"],r[-1][\"step\"],r[0][\"loss\"])\n"
                   "r=list(csv.DictReader(open(d+\"checkpoints.csv\",newline=\"\")))\n"
                   "print(\"marks\",[(x[\"attempt\"],x[\"step\"],x[\"size\"]) for x in r "
                   "if x[\"sha256\"]])\n",
                   dir);
    ck_assert_msg(strstr(out, "metrics.csv 100 0 99 1000\n") &&
                      strstr(out, "metrics.attempt2.csv 100 50 149 50050\n") &&
                      strstr(out, "metrics.attempt3.csv 100 120 219 120120\n") &&
                      strstr(out, "marks [('1', '49', '299999'), ('2', '119', '299999')]"),
                  "%s", out);
    free(out);
    free(ck1);
    free(ck2);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_resume_must_unknown_key)
{
    char *dir = tu_mkdtemp();
    free(one_run(dir, "other"));
    char *spec = tu_strdupf("csv:dir=%s", dir);
    tropt_tracker *t = NULL;
    ck_assert_int_eq(tropt_tracker_open(&t, spec, "names", NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_set_option(t, "resume", "must"), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_set_option(t, "resume_key", "no-such-key"), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_ENOTFOUND);
    ck_assert_msg(strstr(tropt_error_message(), "no-such-key"), "%s", tropt_error_message());
    tropt_tracker_free(t);
    ck_assert_int_eq(list(dir, NULL).n, 1);
    free(spec);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* Two processes resume one key at once: one wins (it holds the run open
 * until killed), the other is refused with a message naming the run,
 * nothing is written twice. */
typedef struct race {
    pid_t kids[2];
    int status[2], done[2];
} race;

static int one_exited(void *arg)
{
    race *r = arg;
    for (int k = 0; k < 2; k++)
        if (!r->done[k] && waitpid(r->kids[k], &r->status[k], WNOHANG) == r->kids[k])
            r->done[k] = 1;
    return r->done[0] || r->done[1];
}

/* A racer: resume=allow with key, five steps, then held open until
 * killed; refused: the message on stderr, exit 3. */
static void race_child(const char *dir, const char *key)
{
    writer_body(dir, key, 5, -1, NULL, 0);
}

/* Two racers with one key at once: wait until one gave up and the
 * other's rows show (last step, attempts), kill the winner; the loser's
 * message into msg. */
static void race_round(const char *dir, const char *key, int64_t last, int64_t attempts, char *msg,
                       size_t size)
{
    int fds[2][2];
    race r;
    memset(&r, 0, sizeof r);
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(pipe(fds[k]), 0);
        fflush(stderr);
        r.kids[k] = fork();
        ck_assert_int_ge(r.kids[k], 0);
        if (r.kids[k] == 0) {
            dup2(fds[k][1], 2);
            close(fds[k][0]);
            race_child(dir, key);
        }
        close(fds[k][1]);
    }
    ck_assert_msg(tu_wait_until(one_exited, &r, 120), "neither process gave up");
    want_state w = {dir, last, -1, attempts};
    int ok = tu_wait_until(reached, &w, 120);
    for (int k = 0; k < 2; k++)
        if (!r.done[k]) {
            kill(r.kids[k], SIGKILL);
            waitpid(r.kids[k], &r.status[k], 0);
            r.done[k] = 2; /* the winner, killed */
        }
    ck_assert_msg(ok, "the winner's rows never showed");
    ck_assert_msg(r.done[0] + r.done[1] == 3, "exactly one wins");
    for (int k = 0; k < 2; k++) {
        int loser = r.done[k] == 1;
        ssize_t n = read(fds[k][0], msg, size - 1);
        close(fds[k][0]);
        if (!loser)
            continue;
        msg[n > 0 ? n : 0] = '\0';
        ck_assert_msg(WIFEXITED(r.status[k]) && WEXITSTATUS(r.status[k]) == 3, "%d: %s",
                      r.status[k], msg);
        ck_assert_msg(strstr(msg, "another process") || strstr(msg, "carried by") ||
                          strstr(msg, "still running"),
                      "loser's message: %s", msg);
        return;
    }
}

/* Each step once in read_run and no row twice in read_history: n rows. */
static void steps_once(const char *dir, const char *id, int n)
{
    seen *s = malloc(sizeof *s);
    read_back(dir, id, 0, s);
    ck_assert_int_eq(s->n, n);
    for (int i = 0; i < s->n; i++)
        ck_assert_int_eq(s->steps[i], i);
    read_back(dir, id, 1, s);
    ck_assert_int_eq(s->n, n);
    free(s);
}

START_TEST(test_two_resume_one_key)
{
    char *dir = tu_mkdtemp();
    char msg[2048];
    /* two new runs with one fresh key at once: one run */
    race_round(dir, "race", 4, 1, msg, sizeof msg);
    found f = list(dir, NULL);
    ck_assert_int_eq(f.n, 1);
    ck_assert_msg(strstr(msg, f.id), "loser's message: %s", msg);
    steps_once(dir, f.id, 5);
    /* two continuing it at once, three times */
    for (int round = 0; round < 3; round++) {
        found before = list(dir, NULL);
        race_round(dir, "race", before.last_step + 5, before.attempts + 1, msg, sizeof msg);
        f = list(dir, NULL);
        ck_assert_int_eq(f.n, 1);
        ck_assert_int_eq(f.attempts, before.attempts + 1);
        ck_assert_msg(strstr(msg, f.id), "loser's message: %s", msg);
        steps_once(dir, f.id, 10 + 5 * round);
    }
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* A second log at step 3 merges into it (as in sqlite): one step 3 with
 * every key, its list and string values intact (tests/python/
 * test_dataframe.py's `arr` read back as None before). */
typedef struct step3 {
    int n3;
    char arr[64], s[64];
    double loss, val;
    int samples;
    double times[4];
    double rss_max;
} step3;

static int on_step3(const tropt_event *ev, void *ud)
{
    step3 *w = ud;
    if (ev->kind == TROPT_EVENT_SYSTEM && w->samples < 4) {
        w->times[w->samples++] = ev->time;
        for (size_t i = 0; i < ev->n_samples; i++)
            if (strcmp(ev->samples[i].key, "sys/proc/rss_bytes") == 0)
                w->rss_max = ev->samples[i].max;
    }
    if (ev->kind != TROPT_EVENT_STEP || ev->step != 3)
        return 0;
    w->n3++;
    for (size_t i = 0; i < ev->n; i++) {
        const tropt_field *f = &ev->fields[i];
        if (strcmp(f->key, "arr") == 0 && f->type == TROPT_JSON) {
            char *t = json_dumps(f->v.json, JSON_COMPACT);
            snprintf(w->arr, sizeof w->arr, "%s", t);
            free(t);
        } else if (strcmp(f->key, "s") == 0 && f->type == TROPT_STRING) {
            snprintf(w->s, sizeof w->s, "%s", f->v.s);
        } else if (strcmp(f->key, "loss") == 0) {
            w->loss = f->v.r;
        } else if (strcmp(f->key, "val/loss") == 0) {
            w->val = f->v.r;
        }
    }
    return 0;
}

START_TEST(test_merged_step_and_system_samples)
{
    const char *layouts[] = {"wide", "long"};
    for (int l = 0; l < 2; l++) {
        char *dir = tu_mkdtemp();
        char *spec = tu_strdupf("csv:dir=%s,layout=%s", dir, layouts[l]);
        tropt_tracker *t = NULL;
        ck_assert_int_eq(tropt_tracker_open(&t, spec, "m", NULL), TROPT_OK);
        ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
        char *id = strdup(tropt_tracker_run_id(t));
        for (int i = 0; i < 4; i++) {
            json_t *v = json_pack("{s:f, s:s, s:[i,f]}", "loss", 1.0 / (i + 3), "s",
                                  i == 3 ? "x3" : "x", "arr", i, 0.25);
            ck_assert_int_eq(tropt_tracker_log(t, v), TROPT_OK);
            json_decref(v);
        }
        tropt_field f = TROPT_F_REAL("val/loss", 0.125);
        ck_assert_int_eq(tropt_tracker_log_fields_at(t, 3, tu_now(), &f, 1), TROPT_OK);
        tropt_sample smp[] = {{"sys/proc/rss_bytes", 1e6, 2e6}, {"sys/proc/cpu_cores", 0.5, 1}};
        ck_assert_int_eq(tropt_tracker_import_system(t, 1700000010.5, smp, 2), TROPT_OK);
        smp[0].max = 3e6;
        ck_assert_int_eq(tropt_tracker_import_system(t, 1700000000.25, smp, 2), TROPT_OK);
        ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
        tropt_tracker_free(t);

        step3 w = {0};
        tropt_reader *r = NULL;
        ck_assert_int_eq(tropt_reader_open(&r, spec), TROPT_OK);
        ck_assert_int_eq(tropt_reader_read_run(r, id, on_step3, &w), TROPT_OK);
        tropt_reader_free(r);
        ck_assert_int_eq(w.n3, 1);
        ck_assert_str_eq(w.arr, "[3,0.25]");
        ck_assert_str_eq(w.s, "x3");
        ck_assert(w.loss == 1.0 / 6 && w.val == 0.125);
        /* system samples: on the time axis, in time order */
        ck_assert_int_eq(w.samples, 2);
        ck_assert(w.times[0] == 1700000000.25 && w.times[1] == 1700000010.5);
        ck_assert(w.rss_max == 2e6);
        char *out = py(
            "import csv,glob,sys\n"
            "p=glob.glob(sys.argv[1]+\"/m/*/system.csv\")[0]\n"
            "r=list(csv.DictReader(open(p,newline=\"\")))\n"
            "print(len(r),r[0][\"attempt\"],r[0][\"time\"],r[0][\"key\"],float(r[0][\"max\"]))\n",
            dir);
        ck_assert_str_eq(out, "4 1 1700000010.5 sys/proc/rss_bytes 2000000.0\n");
        free(out);
        free(id);
        free(spec);
        tu_rmtree(dir);
        free(dir);
    }
}
END_TEST

/* Replaying the same attempts twice (tropt replay does this) adds no
 * attempt and no row; attempt 2 given again by another process is refused. */
static int import_attempt(const char *dir, int64_t attempt, int64_t pid, int64_t from, int n)
{
    char *spec = tu_strdupf("csv:dir=%s", dir);
    tropt_tracker *t = NULL;
    ck_assert_int_eq(tropt_tracker_open(&t, spec, "rp", NULL), TROPT_OK);
    tropt_run_record rec = {.struct_size = sizeof rec,
                            .run_id = "01900000-0000-7000-8000-0000000000aa",
                            .name = "replayed",
                            .started_at = 1700000000,
                            .host = "h",
                            .pid = pid,
                            .attempt = attempt,
                            .from_step = from,
                            .attempt_started_at = 1700000000 + 100.0 * (double)attempt,
                            .resume_key = "rp-key"};
    int rc = tropt_tracker_import_run(t, &rec, NULL);
    for (int i = 0; rc == TROPT_OK && i < n; i++) {
        tropt_field f = TROPT_F_INT("a", attempt);
        ck_assert_int_eq(tropt_tracker_log_fields_at(t, from + i, 1700000000.0 + (double)i, &f, 1),
                         TROPT_OK);
    }
    if (rc == TROPT_OK)
        ck_assert_int_eq(tropt_tracker_finish_run(t, "finished", 1700000500, NULL), TROPT_OK);
    tropt_tracker_free(t);
    free(spec);
    return rc;
}

START_TEST(test_replay_adds_no_attempt)
{
    char *dir = tu_mkdtemp();
    for (int pass = 0; pass < 2; pass++) {
        ck_assert_int_eq(import_attempt(dir, 1, 7, 0, 5), TROPT_OK);
        ck_assert_msg(import_attempt(dir, 2, 8, 3, 4) == TROPT_OK, "%s", tropt_error_message());
        found f = list(dir, NULL);
        ck_assert_int_eq(f.n, 1);
        ck_assert_int_eq(f.attempts, 2);
        ck_assert_str_eq(f.name, "replayed");
        seen *s = malloc(sizeof *s);
        read_back(dir, f.id, 1, s);
        ck_assert_int_eq(s->n, 9); /* 0..4 of attempt 1, 3..6 of attempt 2 */
        read_back(dir, f.id, 0, s);
        ck_assert_int_eq(s->n, 7);
        ck_assert_int_eq(s->attempt[2], 1);
        ck_assert_int_eq(s->attempt[3], 2);
        free(s);
    }
    ck_assert_int_eq(import_attempt(dir, 2, 9, 3, 1), TROPT_EBACKEND);
    ck_assert_msg(strstr(tropt_error_message(), "already holds attempt 2"), "%s",
                  tropt_error_message());
    ck_assert_int_eq(list(dir, NULL).attempts, 2);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* The scenario of tests/attempts.h, the same every store answers: three
 * attempts (killed, killed, finished) checked through the reader, then two
 * resumers racing: one wins, nothing duplicated. */
START_TEST(test_shared_preemption_scenario)
{
    char *dir = tu_mkdtemp();
    char *store = tu_path(dir, "store");
    char *spec = tu_strdupf("csv:dir=%s", store);
    at_attempt_killed(spec, "slurm-7", dir, 1);
    at_attempt_killed(spec, "slurm-7", dir, 2);
    at_attempt_finished(spec, "slurm-7", dir, 3);
    char id[37];
    at_check_three_attempts(spec, "slurm-7", dir, id);
    ck_assert_int_eq(at_race(spec, "slurm-7", dir, 4), 1);
    at_summary sum;
    at_summarize(spec, "slurm-7", &sum);
    ck_assert_int_eq(sum.runs, 1);
    ck_assert_int_eq(sum.attempts, 4);
    ck_assert_int_eq(sum.duplicates, 0);
    free(spec);
    free(store);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("csv-v12");
    TCase *tc = tcase_create("v12");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_names_read_back);
    tcase_add_test(tc, test_tags_note_delete);
    tcase_add_test(tc, test_resume_after_sigkill);
    tcase_add_test(tc, test_resume_must_unknown_key);
    tcase_add_test(tc, test_two_resume_one_key);
    tcase_add_test(tc, test_merged_step_and_system_samples);
    tcase_add_test(tc, test_replay_adds_no_attempt);
    tcase_add_test(tc, test_shared_preemption_scenario);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
