/*
 * tests/tensorboard/test_tb12.c - the tensorboard backend under ABI 1.2
 * (SPEC 14-16, ABI12-BACKEND): run names and their folders, tags, notes,
 * renames and deletion, attempts (resume after SIGKILL with tropt-demo,
 * two processes at once, replays), checkpoint marks and system samples,
 * read back through the reader API and the CLI and decoded by the
 * independent reader (tbcheck.py attempts); and the index that keeps
 * listing cheap.  Each TCase is a test of its own (meson passes its name).
 */
#include "../attempts.h"
#include "tb_helpers.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------------- */

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* `tropt ARGS` (TROPT_CLI): its exit status; *out its output (stderr too). */
static int run_cli(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run_cli(char **out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *args = NULL;
    ck_assert_int_ge(vasprintf(&args, fmt, ap), 0);
    va_end(ap);
    char *cmd = tu_strdupf("'%s' %s", getenv("TROPT_CLI"), args);
    int rc = tu_run(cmd, out, 1);
    free(cmd);
    free(args);
    return rc;
}

/* The listed run id of spec (asserted there). */
static json_t *listed(const char *spec, const char *id)
{
    json_t *l = list_runs(spec);
    json_t *r = json_incref(json_object_get(l, id));
    ck_assert_msg(r != NULL, "run %s not listed by %s", id, spec);
    json_decref(l);
    return r;
}

static const char *jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static json_int_t jint(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

/* What read_history (or read_run) gave back: {"kinds": one letter per
 * event (S start, A attempt, p step, C mark, Y system, E end), "attempts":
 * START's [[attempt, from_step, status, host, pid]...], "steps": [[attempt,
 * step, superseded, {key: shown}]...], "attempt_events": [[attempt, step,
 * config]...], "marks": [[attempt, seq, step, path, size, sha256]...],
 * "system": [[attempt, time-bits, {key: [mean, max] shown}]...], "end":
 * status}. */
static int hist_event(const tropt_event *ev, void *ud)
{
    json_t *h = ud;
    static const char kinds[] = "?SpEACY";
    char k[2] = {kinds[ev->kind], 0};
    char *seq = tu_strdupf("%s%s", jstr(h, "kinds"), k);
    json_object_set_new(h, "kinds", json_string(seq));
    free(seq);
    if (ev->kind == TROPT_EVENT_START) {
        json_t *a = json_array();
        for (size_t i = 0; i < ev->n_attempts; i++) {
            const tropt_attempt *t = &ev->attempts[i];
            json_array_append_new(a, json_pack("[I, I, s, s?, I]", (json_int_t)t->attempt,
                                               (json_int_t)t->from_step, t->status, t->host,
                                               (json_int_t)t->pid));
        }
        json_object_set_new(h, "attempts", a);
    } else if (ev->kind == TROPT_EVENT_STEP) {
        json_array_append_new(json_object_get(h, "steps"),
                              json_pack("[I, I, b, o]", (json_int_t)ev->attempt,
                                        (json_int_t)ev->step, ev->superseded,
                                        fields_json(ev->fields, ev->n)));
    } else if (ev->kind == TROPT_EVENT_ATTEMPT) {
        json_array_append_new(
            json_object_get(h, "attempt_events"),
            json_pack("[I, I, O?]", (json_int_t)ev->attempt, (json_int_t)ev->step, ev->config));
    } else if (ev->kind == TROPT_EVENT_CHECKPOINT) {
        const tropt_checkpoint *m = ev->checkpoint;
        json_array_append_new(json_object_get(h, "marks"),
                              json_pack("[I, I, I, s, I, s?]", (json_int_t)ev->attempt,
                                        (json_int_t)m->seq, (json_int_t)m->step, m->path,
                                        (json_int_t)m->size, m->sha256));
    } else if (ev->kind == TROPT_EVENT_SYSTEM) {
        json_t *o = json_object();
        for (size_t i = 0; i < ev->n_samples; i++) {
            tropt_field mean = TROPT_F_REAL("m", ev->samples[i].value);
            tropt_field max = TROPT_F_REAL("x", ev->samples[i].max);
            char *a = show(&mean), *b = show(&max);
            json_object_set_new(o, ev->samples[i].key, json_pack("[s, s]", a, b));
            free(a);
            free(b);
        }
        uint64_t bits;
        memcpy(&bits, &ev->time, sizeof bits);
        char t[20];
        snprintf(t, sizeof t, "%016" PRIx64, bits);
        json_array_append_new(json_object_get(h, "system"),
                              json_pack("[I, s, o]", (json_int_t)ev->attempt, t, o));
    } else if (ev->kind == TROPT_EVENT_END) {
        json_object_set_new(h, "end", json_string(ev->status));
    }
    return 0;
}

/* Run id of spec through read_history (all of every attempt) or
 * read_run (each step once). */
static json_t *events_of(const char *spec, const char *id, int history)
{
    json_t *h = json_pack("{s:s, s:[], s:[], s:[], s:[]}", "kinds", "", "steps", "attempt_events",
                          "marks", "system");
    tropt_reader *r = NULL;
    ck_assert_msg(tropt_reader_open(&r, spec) == TROPT_OK, "%s", tropt_error_message());
    int rc = history ? tropt_reader_read_history(r, id, hist_event, h)
                     : tropt_reader_read_run(r, id, hist_event, h);
    ck_assert_msg(rc == TROPT_OK, "read %s: %s", id, tropt_error_message());
    tropt_reader_free(r);
    return h;
}

/* tbcheck.py attempts: per event file of the run, decoded independently. */
static json_t *decoded_files(const char *logdir, const char *id)
{
    char *args = tu_strdupf("attempts '%s' %s", logdir, id);
    char *out = tbcheck(args);
    json_error_t err;
    json_t *files = json_loads(out + 3, 0, &err);
    ck_assert_msg(files != NULL, "%s: %s", err.text, out);
    free(out);
    free(args);
    return files;
}

/* ---- names ------------------------------------------------------------------------ */

/* "<adjective>-<noun>-<n>" */
static int default_shaped(const char *name)
{
    const char *a = strchr(name, '-'), *b = a ? strchr(a + 1, '-') : NULL;
    return a && b && a > name && b > a + 1 && b[1] && strspn(b + 1, "0123456789") == strlen(b + 1);
}

START_TEST(test_names)
{
    char *dir = tu_mkdtemp();
    char *spec = tu_strdupf("tensorboard:logdir=%s", dir);
    tropt_tracker *t = open_spec(spec, "names");
    /* a name given in C */
    ck_assert_int_eq(tropt_tracker_set_run_name(t, "given ✓ name"), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char *given = strdup(tropt_tracker_run_id(t));
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    /* four default names, unique within the store */
    char *ids[4], *names[4];
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
        ids[i] = strdup(tropt_tracker_run_id(t));
        names[i] = strdup(tropt_tracker_run_name(t));
        ck_assert_msg(default_shaped(names[i]), "default name '%s'", names[i]);
        for (int j = 0; j < i; j++)
            ck_assert_str_ne(names[i], names[j]);
        ck_assert_int_eq(tropt_tracker_log_fields(t, &TROPT_F_INT("i", i), 1), TROPT_OK);
        ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    }
    tropt_tracker_free(t);
    /* TROPT_RUN_NAME names the first run of a process of its own */
    char *cmd = tu_strdupf("TROPT_RUN_NAME=from-env '%s' --tracker '%s' --experiment names "
                           "--steps 3",
                           getenv("TROPT_DEMO"), spec);
    char *out = NULL;
    ck_assert_msg(tu_run(cmd, &out, 1) == 0, "%s: %s", cmd, out);
    ck_assert_msg(strstr(out, "(from-env) finished"), "%s", out);
    free(out);
    free(cmd);

    /* read back: each run's name, and its folder named so */
    json_t *l = list_runs(spec);
    ck_assert_int_eq(json_object_size(l), 6);
    ck_assert_str_eq(jstr(json_object_get(l, given), "name"), "given ✓ name");
    char *folder = tu_strdupf("%s/names/given ✓ name", dir);
    ck_assert_msg(exists(folder), "%s", folder);
    free(folder);
    for (int i = 0; i < 4; i++) {
        ck_assert_str_eq(jstr(json_object_get(l, ids[i]), "name"), names[i]);
        folder = tu_strdupf("%s/names/%s", dir, names[i]);
        ck_assert_msg(exists(folder), "%s", folder);
        free(folder);
    }
    const char *env_id = NULL, *id;
    json_t *run;
    json_object_foreach(l, id, run)
    {
        if (strcmp(jstr(run, "name"), "from-env") == 0)
            env_id = id;
    }
    ck_assert_ptr_nonnull(env_id);
    folder = tu_strdupf("%s/names/from-env", dir);
    ck_assert_msg(exists(folder), "%s", folder);
    free(folder);
    /* a name is a RUN to every command */
    ck_assert_int_eq(run_cli(&out, "show from-env --from '%s'", spec), 0);
    ck_assert_msg(strstr(out, env_id), "%s", out);
    free(out);
    ck_assert_int_eq(run_cli(&out, "show '%s' --from '%s'", names[2], spec), 0);
    ck_assert_msg(strstr(out, ids[2]), "%s", out);
    free(out);
    /* the independent decoder: the identity record holds the name, the
     * folder the same */
    json_t *files = decoded_files(dir, given);
    ck_assert_str_eq(jstr(json_array_get(files, 0), "name"), "given ✓ name");
    ck_assert_str_eq(jstr(json_array_get(files, 0), "dir"), "given ✓ name");
    json_decref(files);
    json_decref(l);
    for (int i = 0; i < 4; i++) {
        free(ids[i]);
        free(names[i]);
    }
    free(given);
    free(spec);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- tags, notes, renames, deletion ------------------------------------------------------- */

static void annotate(tropt_tracker *t, const char *id, tropt_annotation_kind kind, const char *text)
{
    tropt_annotation a = {kind, text, now()};
    int rc = tropt_tracker_annotate_run(t, id, &a);
    ck_assert_msg(rc == TROPT_OK, "annotate %s: %s", id, tropt_error_message());
}

static void expect_tags(const json_t *run, const char *want)
{
    char *have = json_dumps(json_object_get(run, "tags"), JSON_COMPACT);
    ck_assert_str_eq(have, want);
    free(have);
}

START_TEST(test_metadata)
{
    char *dir = tu_mkdtemp();
    char *spec = tu_strdupf("tensorboard:logdir=%s", dir);
    tropt_tracker *t = open_spec(spec, "meta");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char *id = strdup(tropt_tracker_run_id(t));
    /* during the run */
    ck_assert_int_eq(tropt_tracker_tag(t, "baseline"), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_tag(t, "bad-seed"), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_tag(t, "baseline"), TROPT_OK); /* twice keeps one */
    annotate(t, id, TROPT_ANNOTATE_NOTE, "lr too high? \"quoted\", ✓");
    for (int s = 0; s < 5; s++)
        ck_assert_int_eq(tropt_tracker_log_fields(t, &TROPT_F_INT("s", s), 1), TROPT_OK);
    json_t *r = listed(spec, id); /* seen while it runs */
    expect_tags(r, "[\"baseline\",\"bad-seed\"]");
    json_decref(r);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    r = listed(spec, id);
    expect_tags(r, "[\"baseline\",\"bad-seed\"]");
    ck_assert_str_eq(jstr(r, "note"), "lr too high? \"quoted\", ✓");
    ck_assert_int_eq(jint(r, "steps"), 5);
    json_decref(r);

    /* afterwards, from a tracker with no run */
    t = open_spec(spec, "meta");
    annotate(t, id, TROPT_ANNOTATE_UNTAG, "bad-seed");
    annotate(t, id, TROPT_ANNOTATE_TAG, "kept");
    annotate(t, id, TROPT_ANNOTATE_NOTE, "second");
    annotate(t, id, TROPT_ANNOTATE_RENAME, "renamed");
    r = listed(spec, id);
    expect_tags(r, "[\"baseline\",\"kept\"]");
    ck_assert_str_eq(jstr(r, "note"), "second");
    ck_assert_str_eq(jstr(r, "name"), "renamed");
    ck_assert_int_eq(jint(r, "steps"), 5);
    json_decref(r);
    annotate(t, id, TROPT_ANNOTATE_NOTE, ""); /* "" removes the note */
    r = listed(spec, id);
    ck_assert(json_is_null(json_object_get(r, "note")));
    json_decref(r);
    /* the renamed run is found by its new name */
    char *out = NULL;
    ck_assert_int_eq(run_cli(&out, "show renamed --from '%s'", spec), 0);
    ck_assert_msg(strstr(out, id), "%s", out);
    free(out);
    /* a run the store does not hold: TROPT_EINVAL naming it */
    static const char nobody[] = "01a25199-0000-7000-8000-000000000000";
    tropt_annotation a = {TROPT_ANNOTATE_TAG, "x", now()};
    ck_assert_int_eq(tropt_tracker_annotate_run(t, nobody, &a), TROPT_EINVAL);
    ck_assert_msg(strstr(tropt_error_message(), nobody), "%s", tropt_error_message());
    /* the independent decoder: the changes made during the run are records
     * of the run's file, as event-format lines */
    json_t *files = decoded_files(dir, id);
    json_t *notes = json_object_get(json_array_get(files, 0), "notes");
    ck_assert_int_eq(json_array_size(notes), 4);
    ck_assert_str_eq(jstr(json_array_get(notes, 0), "kind"), "tag");
    ck_assert_str_eq(jstr(json_array_get(notes, 0), "text"), "baseline");
    ck_assert_str_eq(jstr(json_array_get(notes, 3), "kind"), "note");
    json_decref(files);
    tropt_tracker_free(t);
    free(id);
    free(spec);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_delete)
{
    char *dir = tu_mkdtemp();
    char *logdir = tu_path(dir, "tb");
    char *journal = tu_path(dir, "j.jsonl");
    char *spec = tu_strdupf("tensorboard:logdir=%s", logdir);
    char *both = tu_strdupf("tensorboard:logdir=%s;jsonl:path=%s", logdir, journal);
    tropt_tracker *t = open_spec(both, "del");
    char *ids[2], *names[2];
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
        ids[i] = strdup(tropt_tracker_run_id(t));
        names[i] = strdup(tropt_tracker_run_name(t));
        for (int s = 0; s < 4; s++)
            ck_assert_int_eq(tropt_tracker_log_fields(t, &TROPT_F_REAL("x", s + 0.5 * i), 1),
                             TROPT_OK);
        ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    }
    tropt_tracker_free(t);
    char *folder = tu_strdupf("%s/del/%s", logdir, names[1]);
    ck_assert(exists(folder));

    t = open_spec(spec, "del");
    ck_assert_int_eq(tropt_tracker_delete_run(t, ids[1]), TROPT_OK);
    /* the folder and everything in it are gone; a tombstone remembers the id */
    ck_assert_msg(!exists(folder), "%s still there", folder);
    char *stone = tu_strdupf("%s/.tropt/deleted/%s", logdir, ids[1]);
    ck_assert(exists(stone));
    json_t *l = list_runs(spec);
    ck_assert_int_eq(json_object_size(l), 1);
    ck_assert_ptr_nonnull(json_object_get(l, ids[0]));
    json_decref(l);
    /* the store holds: the other run reads back whole, every record checked */
    got g = read_back(spec, ids[0]);
    ck_assert_int_eq(json_array_size(g.steps), 4);
    json_decref(g.root);
    json_decref(decoded_files(logdir, ids[0]));
    /* deleting it again: no such run */
    ck_assert_int_eq(tropt_tracker_delete_run(t, ids[1]), TROPT_EINVAL);
    ck_assert_msg(strstr(tropt_error_message(), ids[1]), "%s", tropt_error_message());
    tropt_tracker_free(t);

    /* a replay of the journal that still holds it: the store refuses that
     * run, replay skips it whole and says so (exit 0: the rest replayed) */
    char *out = NULL;
    int rc = run_cli(&out, "replay '%s' --tracker '%s'", journal, spec);
    printf("replay after delete (exit %d):\n%s", rc, out);
    ck_assert_int_eq(rc, 0);
    char *want = tu_strdupf("run %s was deleted from", ids[1]);
    ck_assert_msg(strstr(out, want) && strstr(out, "1 deleted run skipped"), "%s", out);
    free(want);
    free(out);
    l = list_runs(spec);
    ck_assert_int_eq(json_object_size(l), 1);
    ck_assert_int_eq(jint(json_object_get(l, ids[0]), "steps"), 4);
    json_decref(l);
    ck_assert(!exists(folder));

    free(stone);
    free(folder);
    for (int i = 0; i < 2; i++) {
        free(ids[i]);
        free(names[i]);
    }
    free(both);
    free(spec);
    free(journal);
    free(logdir);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- resume after SIGKILL ------------------------------------------------------------------- */

/* tropt-demo in a process of its own, its output into `log`: a checkpoint
 * mark every 50 steps (every 10 for a run of fewer than 100). */
static pid_t spawn_demo(const char *spec, const char *key, const char *ckdir, long steps,
                        long sleep_ms, const char *log)
{
    char n[32], ms[32], every[32];
    snprintf(every, sizeof every, "%d", steps < 100 ? 10 : 50);
    snprintf(n, sizeof n, "%ld", steps);
    snprintf(ms, sizeof ms, "%ld", sleep_ms);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(getenv("TROPT_DEMO"), "tropt-demo", "--tracker", spec, "--resume", key,
              "--checkpoint-every", every, "--checkpoint-dir", ckdir, "--steps", n, "--sleep-ms",
              ms, "--experiment", "resume", (char *)NULL);
        _exit(127);
    }
    return pid;
}

typedef struct seek {
    const char *key;
    json_t *run; /* the run carrying key, as listed (with its id) */
} seek;

static int seek_key(const tropt_stored_run *run, void *ud)
{
    seek *s = ud;
    if (!run->resume_key || strcmp(run->resume_key, s->key) != 0)
        return 0;
    listing l = {json_object()};
    list_one(run, &l);
    json_decref(s->run);
    s->run = json_incref(json_object_get(l.runs, run->run_id));
    json_object_set_new(s->run, "id", json_string(run->run_id));
    json_decref(l.runs);
    return 0;
}

/* The run carrying key as listed (NULL: none yet). */
static json_t *run_with_key(const char *spec, const char *key)
{
    tropt_reader *r = NULL;
    seek s = {key, NULL};
    if (tropt_reader_open(&r, spec) == TROPT_OK)
        tropt_reader_list_runs(r, seek_key, &s);
    tropt_reader_free(r);
    return s.run;
}

/* Wait (polling the store, 120 s at most) until the run carrying key has
 * stored step `step`, then kill the writer with SIGKILL. */
static void kill_at(const char *spec, const char *key, int64_t step, pid_t pid)
{
    for (double dl = tu_deadline(2 * TU_WAIT_S); tu_poll(dl);) {
        json_t *run = run_with_key(spec, key);
        int there = run && jint(run, "last_step") >= step;
        json_decref(run);
        int st;
        ck_assert_msg(waitpid(pid, &st, WNOHANG) == 0, "tropt-demo ended before step %" PRId64,
                      step);
        if (there) {
            kill(pid, SIGKILL);
            ck_assert_int_eq(waitpid(pid, &st, 0), pid);
            ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
            return;
        }
    }
    kill(pid, SIGKILL);
    ck_abort_msg("step %" PRId64 " never stored", step);
}

/* sha256sum of every checkpoint file of ckdir now, into shas (step -> hex). */
static void snapshot_checkpoints(const char *ckdir, json_t *shas)
{
    char *cmd = tu_strdupf("cd '%s' && for f in demo-*.ckpt; do [ -e \"$f\" ] && sha256sum \"$f\" "
                           "&& stat -c '%%s' \"$f\"; done; true",
                           ckdir);
    char *out = NULL;
    ck_assert_int_eq(tu_run(cmd, &out, 0), 0);
    char sha[65], file[256];
    long size, step;
    for (char *p = out; sscanf(p, "%64s %255s %ld", sha, file, &size) == 3;) {
        ck_assert_int_eq(sscanf(file, "demo-%ld.ckpt", &step), 1);
        char k[32];
        snprintf(k, sizeof k, "%ld", step);
        json_object_set_new(shas, k, json_pack("[s, I]", sha, (json_int_t)size));
        for (int lines = 0; lines < 2 && (p = strchr(p, '\n')); lines++)
            p++;
        if (!p)
            break;
    }
    free(out);
    free(cmd);
}

/* The attempt a current step belongs to, given the attempts' first steps. */
static int64_t owner(int64_t step, const int64_t *from, int n)
{
    int64_t a = 1;
    for (int k = 1; k < n; k++)
        if (step >= from[k])
            a = k + 1;
    return a;
}

/* Every step of every attempt, each once (current) and all of them with
 * the superseded ones marked (history); last[k]: attempt k's last step. */
static void check_steps(const char *spec, const char *id, const int64_t *from, const int64_t *last)
{
    json_t *cur = events_of(spec, id, 0), *all = events_of(spec, id, 1);
    json_t *steps = json_object_get(cur, "steps");
    ck_assert_int_eq(json_array_size(steps), 200);
    for (size_t i = 0; i < 200; i++) {
        json_t *s = json_array_get(steps, i);
        ck_assert_int_eq(json_integer_value(json_array_get(s, 1)), (json_int_t)i);
        ck_assert_int_eq(json_integer_value(json_array_get(s, 0)), owner((int64_t)i, from, 3));
        const char *it = json_string_value(json_object_get(json_array_get(s, 3), "iteration"));
        char want[32];
        snprintf(want, sizeof want, "int:%zu", i);
        ck_assert_str_eq(it, want);
    }
    size_t at = 0;
    json_t *rows = json_object_get(all, "steps");
    for (int k = 0; k < 3; k++) {
        for (int64_t s = from[k]; s <= last[k]; s++, at++) {
            json_t *row = json_array_get(rows, at);
            ck_assert_msg(row && json_integer_value(json_array_get(row, 0)) == k + 1 &&
                              json_integer_value(json_array_get(row, 1)) == s,
                          "history row %zu: attempt %d step %" PRId64 " expected", at, k + 1, s);
            int superseded = k < 2 && s >= from[k + 1];
            ck_assert_int_eq(json_is_true(json_array_get(row, 2)), superseded);
        }
    }
    ck_assert_int_eq(json_array_size(rows), at);
    /* the order of the events: START, each attempt's steps after it */
    const char *kinds = jstr(all, "kinds");
    ck_assert_int_eq(kinds[0], 'S');
    ck_assert_int_eq(kinds[strlen(kinds) - 1], 'E');
    json_t *aev = json_object_get(all, "attempt_events");
    ck_assert_int_eq(json_array_size(aev), 2);
    for (int k = 1; k < 3; k++)
        ck_assert_int_eq(json_integer_value(json_array_get(json_array_get(aev, k - 1), 1)),
                         from[k]);
    json_decref(cur);
    json_decref(all);
}

/* Every checkpoint mark: a file's size and SHA-256 as sha256sum saw it. */
static void check_marks(const char *spec, const char *id, const json_t *shas)
{
    json_t *all = events_of(spec, id, 1);
    json_t *marks = json_object_get(all, "marks");
    ck_assert_int_ge(json_array_size(marks), 4);
    size_t i;
    json_t *m;
    json_array_foreach(marks, i, m)
    {
        char k[32];
        snprintf(k, sizeof k, "%" JSON_INTEGER_FORMAT, json_integer_value(json_array_get(m, 2)));
        json_t *want = json_object_get(shas, k);
        ck_assert_msg(want != NULL, "no snapshot of the file of the mark at step %s", k);
        ck_assert_str_eq(json_string_value(json_array_get(m, 5)),
                         json_string_value(json_array_get(want, 0)));
        ck_assert_int_eq(json_integer_value(json_array_get(m, 4)),
                         json_integer_value(json_array_get(want, 1)));
        ck_assert_msg(strstr(json_string_value(json_array_get(m, 3)), "/demo-"), "path");
    }
    json_decref(all);
}

/* The files as the independent decoder sees them: attempt 2's and 3's begin
 * with a SessionLog START at their from_step, and the steps they superseded
 * are still in the earlier attempts' files. */
static void check_files(const char *logdir, const char *id, const int64_t *from,
                        const int64_t *last)
{
    json_t *files = decoded_files(logdir, id);
    ck_assert_int_eq(json_array_size(files), 3);
    for (int k = 0; k < 3; k++) {
        json_t *f = NULL, *e;
        size_t i;
        json_array_foreach(files, i, e) if (jint(e, "attempt") == k + 1) f = e;
        ck_assert_ptr_nonnull(f);
        json_t *start = json_object_get(f, "start");
        if (k == 0)
            ck_assert(json_is_null(start));
        else
            ck_assert_int_eq(json_integer_value(start), from[k]);
        json_t *steps = json_object_get(f, "steps");
        ck_assert_int_eq(json_array_size(steps), last[k] - from[k] + 1);
        ck_assert_int_eq(json_integer_value(json_array_get(steps, 0)), from[k]);
        ck_assert_int_eq(json_integer_value(json_array_get(steps, json_array_size(steps) - 1)),
                         last[k]);
        ck_assert_str_eq(jstr(f, "end") ? jstr(f, "end") : "none", k == 2 ? "finished" : "none");
    }
    json_decref(files);
}

START_TEST(test_resume_after_kill)
{
    char *dir = tu_mkdtemp();
    char *logdir = tu_path(dir, "tb");
    char *ckdir = tu_path(dir, "ck");
    char *log = tu_path(dir, "demo.log");
    ck_assert_int_eq(mkdir(ckdir, 0755), 0);
    char *spec = tu_strdupf("tensorboard:logdir=%s", logdir);
    static const char key[] = "job-4242";
    json_t *shas = json_object();
    int64_t from[3] = {0, 0, 0}, last[3] = {0, 0, 199};
    /* attempt 1: a mark after step 49, killed after step 60 (before the
     * mark of step 99) */
    pid_t pid = spawn_demo(spec, key, ckdir, 200, 50, log);
    kill_at(spec, key, 60, pid);
    snapshot_checkpoints(ckdir, shas);
    json_t *run = run_with_key(spec, key);
    ck_assert_str_eq(jstr(run, "status"), "crashed");
    ck_assert_int_eq(jint(run, "attempts"), 1);
    last[0] = jint(run, "last_step");
    from[1] = jint(run, "checkpoint_step") + 1;
    printf("attempt 1: steps 0..%" PRId64 ", continues at %" PRId64 "\n", last[0], from[1]);
    ck_assert_int_lt(from[1], last[0]); /* steps to supersede */
    char *id = strdup(jstr(run, "id"));
    json_decref(run);
    /* attempt 2: the same key continues it; killed past its own mark */
    pid = spawn_demo(spec, key, ckdir, 200, 50, log);
    kill_at(spec, key, last[0] + 50, pid);
    snapshot_checkpoints(ckdir, shas);
    run = run_with_key(spec, key);
    ck_assert_str_eq(jstr(run, "id"), id);
    ck_assert_str_eq(jstr(run, "status"), "crashed");
    ck_assert_int_eq(jint(run, "attempts"), 2);
    last[1] = jint(run, "last_step");
    from[2] = jint(run, "checkpoint_step") + 1;
    printf("attempt 2: steps %" PRId64 "..%" PRId64 ", continues at %" PRId64 "\n", from[1],
           last[1], from[2]);
    ck_assert_int_gt(from[2], from[1]);
    ck_assert_int_lt(from[2], last[1]);
    json_decref(run);
    /* attempt 3: to the end */
    pid = spawn_demo(spec, key, ckdir, 200, 0, log);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    char *text = tu_read_file(log, NULL);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", text);
    free(text);
    snapshot_checkpoints(ckdir, shas);

    run = run_with_key(spec, key);
    ck_assert_str_eq(jstr(run, "id"), id);
    ck_assert_str_eq(jstr(run, "status"), "finished");
    ck_assert_int_eq(jint(run, "attempts"), 3);
    ck_assert_int_eq(jint(run, "steps"), 200);
    ck_assert_int_eq(jint(run, "last_step"), 199);
    ck_assert_int_eq(jint(run, "checkpoint_step"), 199);
    ck_assert_str_eq(jstr(run, "resume_key"), key);
    json_decref(run);
    json_t *all = events_of(spec, id, 1);
    json_t *att = json_object_get(all, "attempts");
    ck_assert_int_eq(json_array_size(att), 3);
    static const char *const status[3] = {"crashed", "crashed", "finished"};
    for (int k = 0; k < 3; k++) {
        json_t *a = json_array_get(att, k);
        ck_assert_int_eq(json_integer_value(json_array_get(a, 1)), from[k]);
        ck_assert_str_eq(json_string_value(json_array_get(a, 2)), status[k]);
    }
    json_decref(all);
    check_steps(spec, id, from, last);
    check_marks(spec, id, shas);
    check_files(logdir, id, from, last);
    json_decref(shas);
    free(id);
    free(spec);
    free(log);
    free(ckdir);
    free(logdir);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- one attempt, one writer ------------------------------------------------------------------
 */

static int import_attempt(const char *spec, const char *id, int64_t attempt, double start,
                          const char *host, int64_t pid, int64_t steps)
{
    tropt_tracker *t = open_spec(spec, "race");
    tropt_run_record rec = {.struct_size = sizeof rec,
                            .run_id = id,
                            .experiment = "race",
                            .name = "raced",
                            .started_at = 1.6e9,
                            .host = host,
                            .pid = pid,
                            .attempt = attempt,
                            .from_step = attempt > 1 ? 2 : 0,
                            .attempt_started_at = start};
    int rc = tropt_tracker_import_run(t, &rec, NULL);
    for (int64_t s = attempt > 1 ? 2 : 0; rc == TROPT_OK && s < steps; s++)
        rc = tropt_tracker_log_fields_at(t, s, start + (double)s, &TROPT_F_INT("s", s), 1);
    if (rc == TROPT_OK)
        rc = tropt_tracker_finish_run(t, "finished", start + 100, NULL);
    char saved[512];
    snprintf(saved, sizeof saved, "%s", tropt_error_message());
    tropt_tracker_free(t);
    printf("import attempt %" PRId64 " from %s/%" PRId64 ": %d %s\n", attempt, host, pid, rc,
           rc ? saved : "");
    return rc;
}

/* Two children started together (a pipe releases them): tropt-demo
 * resuming `key` (resume=allow).  Exit statuses in st[2], outputs in logs. */
static void race_demos(const char *spec, const char *key, const char *ckdir, char *logs[2],
                       int st[2])
{
    int gate[2];
    ck_assert_int_eq(pipe(gate), 0);
    pid_t pid[2];
    fflush(NULL);
    for (int i = 0; i < 2; i++) {
        pid[i] = fork();
        ck_assert_int_ge(pid[i], 0);
        if (pid[i] == 0) {
            close(gate[1]);
            char c;
            if (read(gate[0], &c, 1) < 0)
                _exit(126);
            int fd = open(logs[i], O_WRONLY | O_CREAT | O_TRUNC, 0644);
            dup2(fd, 1);
            dup2(fd, 2);
            execl(getenv("TROPT_DEMO"), "tropt-demo", "--tracker", spec, "--resume", key,
                  "--checkpoint-every", "10", "--checkpoint-dir", ckdir, "--steps", "60",
                  "--sleep-ms", "20", "--experiment", "race", (char *)NULL);
            _exit(127);
        }
    }
    close(gate[0]);
    close(gate[1]); /* both go */
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(waitpid(pid[i], &st[i], 0), pid[i]);
}

/* Exactly one of the two won; the other said why.  Returns the winner. */
static int one_winner(char *logs[2], const int st[2])
{
    int ok[2];
    for (int i = 0; i < 2; i++)
        ok[i] = WIFEXITED(st[i]) && WEXITSTATUS(st[i]) == 0;
    char *out[2] = {tu_read_file(logs[0], NULL), tu_read_file(logs[1], NULL)};
    printf("first: %s\nsecond: %s\n", out[0], out[1]);
    ck_assert_msg(ok[0] + ok[1] == 1, "both or none won:\n%s\n%s", out[0], out[1]);
    const char *lost = out[ok[0] ? 1 : 0];
    ck_assert_msg(strstr(lost, "from another process") || strstr(lost, "is still running") ||
                      strstr(lost, "is carried by run"),
                  "%s", lost);
    free(out[0]);
    free(out[1]);
    return ok[0] ? 0 : 1;
}

START_TEST(test_one_writer)
{
    char *dir = tu_mkdtemp();
    char *logdir = tu_path(dir, "tb");
    char *spec = tu_strdupf("tensorboard:logdir=%s", logdir);
    /* the rule, through imports: attempt 2 held by another process is
     * refused, a replay of the same one adds nothing */
    static const char id[] = "01a25180-0000-7000-8000-0000000000aa";
    ck_assert_int_eq(import_attempt(spec, id, 1, 1.6e9, "h1", 10, 4), TROPT_OK);
    ck_assert_int_eq(import_attempt(spec, id, 2, 1.6e9 + 10, "h2", 20, 6), TROPT_OK);
    tropt_tracker *t = open_spec(spec, "race");
    tropt_run_record rec = {.struct_size = sizeof rec,
                            .run_id = id,
                            .experiment = "race",
                            .started_at = 1.6e9,
                            .host = "h3",
                            .pid = 30,
                            .attempt = 2,
                            .from_step = 2,
                            .attempt_started_at = 1.6e9 + 20};
    ck_assert_int_eq(tropt_tracker_import_run(t, &rec, NULL), TROPT_EBACKEND);
    char *want = tu_strdupf("run %s already has attempt 2 from another process (h2, pid 20", id);
    ck_assert_msg(strstr(tropt_error_message(), want), "%s", tropt_error_message());
    free(want);
    tropt_tracker_free(t);
    ck_assert_int_eq(import_attempt(spec, id, 2, 1.6e9 + 10, "h2", 20, 6), TROPT_OK); /* replay */
    ck_assert_int_eq(import_attempt(spec, id, 1, 1.6e9, "h1", 10, 4), TROPT_OK);
    ck_assert_int_eq(import_attempt(spec, id, 1, 1.6e9, "other", 11, 4), TROPT_EBACKEND);
    json_t *r = listed(spec, id);
    ck_assert_int_eq(jint(r, "attempts"), 2);
    ck_assert_int_eq(jint(r, "steps"), 6);
    ck_assert_str_eq(jstr(r, "host"), "h2"); /* the latest attempt's writer */
    ck_assert_int_eq(jint(r, "pid"), 20);
    json_decref(r);
    json_t *all = events_of(spec, id, 1);
    ck_assert_int_eq(json_array_size(json_object_get(all, "steps")), 4 + 4);
    json_decref(all);

    /* two processes resuming one key at once: one wins */
    char *ckdir = tu_path(dir, "ck");
    ck_assert_int_eq(mkdir(ckdir, 0755), 0);
    char *first = tu_path(dir, "first.log");
    char *logs[2] = {tu_path(dir, "a.log"), tu_path(dir, "b.log")};
    pid_t pid = spawn_demo(spec, "shared", ckdir, 20, 0, first);
    int st[2];
    ck_assert_int_eq(waitpid(pid, &st[0], 0), pid);
    ck_assert(WIFEXITED(st[0]) && WEXITSTATUS(st[0]) == 0);
    race_demos(spec, "shared", ckdir, logs, st);
    one_winner(logs, st);
    json_t *run = run_with_key(spec, "shared");
    ck_assert_int_eq(jint(run, "attempts"), 2);
    ck_assert_int_eq(jint(run, "steps"), 60);
    all = events_of(spec, jstr(run, "id"), 1);
    json_t *rows = json_object_get(all, "steps");
    size_t n2 = 0, i;
    json_t *row;
    json_array_foreach(rows, i, row) n2 += json_integer_value(json_array_get(row, 0)) == 2;
    ck_assert_int_eq(n2, 40); /* attempt 2: steps 20..59, once each */
    json_decref(all);
    json_decref(run);

    /* two processes starting with one new key at once: one run carries it */
    race_demos(spec, "fresh", ckdir, logs, st);
    one_winner(logs, st);
    json_t *l = list_runs(spec);
    const char *k;
    json_t *v;
    int carried = 0;
    json_object_foreach(l, k, v) carried +=
        jstr(v, "resume_key") && strcmp(jstr(v, "resume_key"), "fresh") == 0;
    ck_assert_int_eq(carried, 1);
    json_decref(l);
    /* the loser left no folder behind */
    char *cmd = tu_strdupf("find '%s' -mindepth 2 -type d -empty", logdir);
    char *out = NULL;
    ck_assert_int_eq(tu_run(cmd, &out, 1), 0);
    ck_assert_msg(out[0] == '\0', "empty folders left:\n%s", out);
    free(out);
    free(cmd);

    /* resume=must with a key no run carries */
    t = open_spec(spec, "race");
    ck_assert_int_eq(tropt_tracker_set_option(t, "resume", "must"), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_set_option(t, "resume_key", "nobody-has-it"), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_ENOTFOUND);
    ck_assert_msg(strstr(tropt_error_message(), "nobody-has-it"), "%s", tropt_error_message());
    tropt_tracker_free(t);

    free(logs[0]);
    free(logs[1]);
    free(first);
    free(ckdir);
    free(spec);
    free(logdir);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- checkpoint marks and system samples -------------------------------------------------------
 */

START_TEST(test_marks_and_system)
{
    char *dir = tu_mkdtemp();
    char *spec = tu_strdupf("tensorboard:logdir=%s", dir);
    tropt_tracker *t = open_spec(spec, "sys");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char *id = strdup(tropt_tracker_run_id(t));
    const double t0 = 1.7e9 + 0.125;
    for (int s = 0; s < 2; s++)
        ck_assert_int_eq(tropt_tracker_log_fields(t, &TROPT_F_INT("s", s), 1), TROPT_OK);
    tropt_sample a[] = {{"sys/proc/cpu_cores", 1.25, 2.0},
                        {"sys/proc/rss_bytes", 123456789.0, 2e8},
                        {"sys/gpu0/temp_c", NAN, INFINITY}};
    ck_assert_int_eq(tropt_tracker_import_system(t, t0, a, 3), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_log_fields(t, &TROPT_F_INT("s", 2), 1), TROPT_OK);
    tropt_sample b[] = {{"sys/proc/cpu_cores", 0.1, 0.30000000000000004}};
    ck_assert_int_eq(tropt_tracker_import_system(t, t0 + 1, b, 1), TROPT_OK);
    static const char sha[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    tropt_checkpoint m = {1, 0, 1, t0 + 0.5, "/ck/a b.pt", 1234, sha, NULL};
    ck_assert_int_eq(tropt_tracker_import_checkpoint(t, &m), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    /* attempt 2 from step 2, with samples of its own */
    ck_assert_int_eq(tropt_tracker_resume(t, id, 2, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_next_step(t), 2);
    ck_assert_int_eq(tropt_tracker_log_fields(t, &TROPT_F_INT("s", 20), 1), TROPT_OK);
    tropt_sample c[] = {{"sys/job/mem_bytes", -0.0, 4.9406564584124654e-324}};
    ck_assert_int_eq(tropt_tracker_import_system(t, t0 + 5, c, 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);

    json_t *all = events_of(spec, id, 1);
    printf("events: %s\n", jstr(all, "kinds"));
    ck_assert_str_eq(jstr(all, "kinds"), "SpppCYYApYE");
    json_t *sys = json_object_get(all, "system");
    char *have = json_dumps(sys, JSON_COMPACT);
    ck_assert_str_eq(
        have, "[[1,\"41d954fc40080000\",{\"sys/proc/cpu_cores\":[\"real:3ff4000000000000\","
              "\"real:4000000000000000\"],\"sys/proc/rss_bytes\":[\"real:419d6f3454000000\","
              "\"real:41a7d78400000000\"],\"sys/gpu0/temp_c\":[\"real:7ff8000000000000\","
              "\"real:7ff0000000000000\"]}],[1,\"41d954fc40480000\",{\"sys/proc/cpu_cores\":"
              "[\"real:3fb999999999999a\",\"real:3fd3333333333334\"]}],[2,\"41d954fc41480000\","
              "{\"sys/job/mem_bytes\":[\"real:8000000000000000\",\"real:0000000000000001\"]}]]");
    free(have);
    have = json_dumps(json_object_get(all, "marks"), JSON_COMPACT);
    char *want = tu_strdupf("[[1,0,1,\"/ck/a b.pt\",1234,\"%s\"]]", sha);
    ck_assert_str_eq(have, want);
    free(want);
    free(have);
    /* the latest mark's step, listed; the samples filed at the run's current
     * step, where TensorBoard charts them against wall time (DT_FLOAT, each
     * checked against its exact mean by the decoder) */
    json_t *r = listed(spec, id);
    ck_assert_int_eq(jint(r, "checkpoint_step"), 1);
    ck_assert_int_eq(jint(r, "attempts"), 2);
    ck_assert_int_eq(jint(r, "steps"), 3);
    json_decref(r);
    json_t *files = decoded_files(dir, id);
    json_t *first = json_array_get(files, 0);
    ck_assert_int_eq(json_array_size(json_object_get(first, "system")), 2);
    ck_assert_int_eq(json_array_size(json_object_get(first, "marks")), 1);
    json_decref(files);
    json_decref(all);
    free(id);
    free(spec);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- the index: listing reads what the indexes do not say, not the files -----------------------
 */

/* Flip a byte in the data of the record holding step `step` of file path:
 * its CRC no longer holds. */
static void damage_step(const char *path, int64_t step)
{
    size_t len;
    char *data = tu_read_file(path, &len);
    char needle[16];
    snprintf(needle, sizeof needle, "k%05" PRId64, step);
    char *at = memmem(data, len, needle, strlen(needle));
    ck_assert_ptr_nonnull(at);
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    fseek(f, at - data, SEEK_SET);
    fputc('X', f);
    fclose(f);
    free(data);
}

START_TEST(test_index)
{
    char *dir = tu_mkdtemp();
    char *spec = tu_strdupf("tensorboard:logdir=%s", dir);
    tropt_tracker *t = open_spec(spec, "idx");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char *id = strdup(tropt_tracker_run_id(t));
    char key[16];
    for (int64_t s = 0; s < 3000; s++) {
        snprintf(key, sizeof key, "k%05" PRId64, s);
        tropt_field f[] = {TROPT_F_REAL("x", (double)s), TROPT_F_STR("tag", key)};
        ck_assert_int_eq(tropt_tracker_log_fields(t, f, 2), TROPT_OK);
    }
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    char *file = only_event_file(dir);
    damage_step(file, 1500);
    /* listing: the index says it all, the damaged record is never read */
    tropt_set_log_level(TROPT_LEVEL_INFO);
    tu_capture_start();
    json_t *r = listed(spec, id);
    ck_assert_int_eq(jint(r, "steps"), 3000);
    ck_assert_int_eq(jint(r, "last_step"), 2999);
    ck_assert_str_eq(jstr(r, "status"), "finished");
    json_decref(r);
    ck_assert_msg(!strstr(tu_captured(), "does not match its CRC"), "%s", tu_captured());
    /* reading the run reads every record */
    got g = read_back(spec, id);
    ck_assert_int_eq(json_array_size(g.steps), 2999);
    json_decref(g.root);
    ck_assert_msg(strstr(tu_captured(), "does not match its CRC"), "%s", tu_captured());
    tu_capture_stop();
    /* an index that is not one (or of another file): the whole file is read */
    char *cmd = tu_strdupf("for f in '%s'/idx/*/.tropt-idx-*; do echo '{}' > \"$f\"; done", dir);
    ck_assert_int_eq(tu_run(cmd, NULL, 1), 0);
    free(cmd);
    tu_capture_start();
    r = listed(spec, id);
    ck_assert_int_eq(jint(r, "steps"), 2999);
    json_decref(r);
    ck_assert_msg(strstr(tu_captured(), "does not match its CRC"), "%s", tu_captured());
    tu_capture_stop();

    /* a writer killed between two indexes: what came after the last one is
     * read from the file */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        tropt_tracker *k = NULL;
        if (tropt_tracker_open(&k, spec, "killed", NULL) != TROPT_OK ||
            tropt_tracker_set_run_name(k, "killed") != TROPT_OK ||
            tropt_tracker_init(k, NULL) != TROPT_OK)
            _exit(10);
        for (int64_t s = 0; s < 500; s++)
            if (tropt_tracker_log_fields(k, &TROPT_F_INT("s", s), 1) != TROPT_OK)
                _exit(11);
        raise(SIGKILL);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFSIGNALED(st));
    json_t *l = list_runs(spec);
    const char *kid;
    json_t *v, *killed = NULL;
    json_object_foreach(l, kid, v) if (strcmp(jstr(v, "name"), "killed") == 0) killed = v;
    ck_assert_ptr_nonnull(killed);
    ck_assert_int_eq(jint(killed, "steps"), 500);
    ck_assert_int_eq(jint(killed, "last_step"), 499);
    ck_assert_str_eq(jstr(killed, "status"), "crashed");
    json_decref(l);
    free(file);
    free(id);
    free(spec);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- issue 29's scenario as every store answers it (tests/attempts.h) ------------ */

/* Two SIGKILLs and a finish by one resume key: one run, three attempts,
 * each step once with the latest value, all 300 rows with the superseded
 * marked, three marks whose size and SHA-256 are sha256sum's; then two
 * processes resuming another key at once: one wins, nothing twice. */
START_TEST(test_attempts_kit)
{
    char *dir = tu_mkdtemp();
    char *spec = tu_strdupf("tensorboard:logdir=%s/tb", dir);
    at_attempt_killed(spec, "slurm-81234", dir, 1);
    at_attempt_killed(spec, "slurm-81234", dir, 2);
    at_attempt_finished(spec, "slurm-81234", dir, 3);
    char id[37];
    at_check_three_attempts(spec, "slurm-81234", dir, id);
    /* the independent decoder: three files, one per attempt, each opened
     * by its restart marker at its from_step (the first by none) */
    char *logdir = tu_path(dir, "tb");
    json_t *files = decoded_files(logdir, id), *e;
    ck_assert_int_eq(json_array_size(files), 3);
    size_t i;
    int seen = 0;
    json_array_foreach(files, i, e)
    {
        int64_t k = jint(e, "attempt");
        ck_assert_msg(k >= 1 && k <= 3 && !(seen & (1 << k)), "attempt %" PRId64, k);
        seen |= 1 << k;
        ck_assert_int_eq(jint(e, "from_step"),
                         (k - 1) * 50); /* after the mark at step 49 of the last */
        ck_assert_int_eq(json_array_size(json_object_get(e, "steps")), 100);
        /* its mark written at once, then again with its size and SHA-256 */
        json_t *marks = json_object_get(e, "marks");
        char *m = json_dumps(marks, JSON_SORT_KEYS);
        ck_assert_msg(json_array_size(marks) == 2, "%s", m);
        free(m);
    }
    json_decref(files);
    free(logdir);

    at_attempt_killed(spec, "job-race", dir, 1);
    ck_assert_int_eq(at_race(spec, "job-race", dir, 2), 1);
    at_summary sum;
    at_summarize(spec, "job-race", &sum);
    ck_assert_int_eq(sum.runs, 1);
    ck_assert_int_eq(sum.attempts, 2);
    ck_assert_int_eq(sum.rows, 200);
    ck_assert_int_eq(sum.duplicates, 0);
    free(spec);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

static Suite *tb12_suite(void)
{
    Suite *s = suite_create("tensorboard-1.2");
    struct {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"names", test_names},           {"metadata", test_metadata},
        {"delete", test_delete},         {"resume", test_resume_after_kill},
        {"one-writer", test_one_writer}, {"marks-system", test_marks_and_system},
        {"index", test_index},           {"attempts-kit", test_attempts_kit},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_set_timeout(tc, 280);
        suite_add_tcase(s, tc);
        _tcase_add_test(tc, cases[i].test, 0, 0, 0, 1);
    }
    return s;
}

/* argv[1], when given, names the one test case to run. */
int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1)
        setenv("CK_RUN_CASE", argv[1], 1);
    return tu_run_suite(tb12_suite());
}
