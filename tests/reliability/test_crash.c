/*
 * tests/reliability/test_crash.c - SIGKILL at 50 random moments per
 * durable backend, in its default mode: nothing whose log returned is lost.
 *
 * Each round forks a child that opens a tracker, opens a run, tells the
 * parent it is ready, then logs steps of every field type (gen_step) and,
 * after each log call returns TROPT_OK, writes the step number to a pipe.
 * The parent reads the pipe for a random 0-30 ms and kills the child with
 * SIGKILL; one round in four counts the delay from the fork, so the kill
 * may land in open or init.  The delays come from a seeded generator: the
 * seed is printed, and TROPT_CRASH_SEED=<seed> repeats the sequence (the
 * moments are only as repeatable as the scheduler).  After each kill:
 *
 *   sqlite  one database for all rounds: PRAGMA integrity_check is ok, the
 *           round's run holds every step whose log returned (at most the
 *           one in flight more), each value exact, read back through the
 *           metrics view; the runs of earlier rounds are `crashed` once the
 *           next child has opened the database.
 *   csv     one folder, a run per round; every other round logs a new key
 *           at each step, so header rewrites (and rows deferred to
 *           metrics.pending.csv) are in flight when the kill lands.
 *           metrics.csv parses with Python's csv module and holds every
 *           such row, values exact (crashcheck.py).  A kill may cut the
 *           append of the row in flight at a page boundary (rows here reach
 *           6 KB): plugins/csv/README.md allows that one torn last record,
 *           so it is left aside, checked to be that row's start, and
 *           counted.
 *   jsonl   a journal per round: every complete line is JSON, the last
 *           line may be cut (then the event reader reports it as the one
 *           truncated line and skips it), and the events hold every such
 *           step, values exact; every tenth journal is replayed into sqlite
 *           with `tropt replay`, where the run is `crashed` with those steps.
 *
 * Run one backend: test_crash sqlite|csv|jsonl (meson registers each).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sqlite_tu.h"
#include "tropt_event.h"

#define PY "/usr/bin/python3"
#define ROUNDS 50
#define MAX_DELAY_US 30000
#define PAD_LEN 6000 /* a field longer than a page: its write may be cut */

/* ---- the steps ---------------------------------------------------------- */

/* One step's fields: every type, 64-bit integers, NaN and -Inf, a string
 * with a quote, a comma, CR LF and non-ASCII text, an array and a null;
 * with pad, a 6000-byte string every 16th step; with newkeys, a key of its
 * own ("k<step>").  crashcheck.py step_fields() is the same generator. */
typedef struct gen {
    tropt_field f[10];
    size_t n;
    char text[64];
    char key[32];
    char pad[PAD_LEN + 1];
    json_t *arr;
} gen;

static void gen_step(gen *g, int64_t s, int pad, int newkeys)
{
    double x = s % 10 == 3 ? NAN : s % 10 == 7 ? -INFINITY : (double)(s + 1) / 7.0;
    snprintf(g->text, sizeof g->text, "row \"%" PRId64 "\",\r\n\xc3\xa9\xe2\x82\xac", s);
    json_decref(g->arr);
    g->arr = json_pack("[I,s]", (json_int_t)s, "a");
    size_t n = 0;
    g->f[n++] = TROPT_F_INT("i", s);
    g->f[n++] = TROPT_F_INT("big", INT64_MAX - s);
    g->f[n++] = TROPT_F_REAL("x", x);
    g->f[n++] = TROPT_F_BOOL("ok", s % 2 == 0);
    g->f[n++] = TROPT_F_STR("s", g->text);
    g->f[n++] = TROPT_F_JSON("arr", g->arr);
    g->f[n++] = TROPT_F_NULL("none");
    if (pad && s % 16 == 5) {
        for (size_t j = 0; j < PAD_LEN; j++)
            g->pad[j] = (char)('a' + (s + (int64_t)j) % 26);
        g->pad[PAD_LEN] = '\0';
        g->f[n++] = TROPT_F_STR("pad", g->pad);
    }
    if (newkeys) {
        snprintf(g->key, sizeof g->key, "k%" PRId64, s);
        g->f[n++] = TROPT_F_INT(g->key, s);
    }
    g->n = n;
}

static void gen_clear(gen *g)
{
    json_decref(g->arr);
    g->arr = NULL;
}

/* The generated field of that key, or NULL. */
static const tropt_field *gen_find(const gen *g, const char *key)
{
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(g->f[i].key, key) == 0)
            return &g->f[i];
    return NULL;
}

/* 1 when two reals are the same value (NaN equals NaN, -0 is not 0). */
static int same_real(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return a == b && signbit(a) == signbit(b);
}

/* 1 when a field read back (from the event reader) is what was logged. */
static int same_field(const tropt_field *want, const tropt_field *got)
{
    if (want->type != got->type || strcmp(want->key, got->key) != 0)
        return 0;
    switch (want->type) {
    case TROPT_NULL:
        return 1;
    case TROPT_BOOL:
        return !want->v.b == !got->v.b;
    case TROPT_INT:
        return want->v.i == got->v.i;
    case TROPT_REAL:
        return same_real(want->v.r, got->v.r);
    case TROPT_STRING:
        return strcmp(want->v.s, got->v.s) == 0;
    case TROPT_JSON:
        return json_equal(want->v.json, got->v.json);
    }
    return 0;
}

/* ---- the child ------------------------------------------------------------ */

struct child {
    const char *spec;
    const char *experiment;
    int pad, newkeys;
};

/* Open, init, write -1 (ready), then log forever, writing each step number
 * once its log returned.  Never returns while logging works. */
static int child_main(void *arg, int fd)
{
    struct child *c = arg;
    /* Should the test fail before killing it, do not log on forever. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() == 1)
        return 6;
    tropt_tracker *t = NULL;
    if (tropt_tracker_open(&t, c->spec, c->experiment, NULL) != TROPT_OK) {
        fprintf(stderr, "child open: %s\n", tropt_error_message());
        return 3;
    }
    json_t *cfg = json_pack("{s:s}", "mode", c->newkeys ? "newkeys" : "steady");
    if (tropt_tracker_init(t, cfg) != TROPT_OK) {
        fprintf(stderr, "child init: %s\n", tropt_error_message());
        return 3;
    }
    json_decref(cfg);
    tq_write_i64(fd, -1);
    static gen g;
    for (int64_t s = 0; s < 10000000; s++) {
        gen_step(&g, s, c->pad, c->newkeys);
        if (tropt_tracker_log_fields(t, g.f, g.n) != TROPT_OK) {
            fprintf(stderr, "child log %" PRId64 ": %s\n", s, tropt_error_message());
            return 4;
        }
        tq_write_i64(fd, s);
    }
    pause();
    return 5;
}

/* ---- killing -------------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rng_seed(const char *backend)
{
    const char *env = getenv("TROPT_CRASH_SEED");
    uint64_t seed;
    if (env && *env) {
        seed = strtoull(env, NULL, 0);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
    }
    rng_state = seed;
    printf("%s: seed %" PRIu64 " (TROPT_CRASH_SEED=%" PRIu64 " repeats the delays)\n", backend,
           seed, seed);
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* What one round saw. */
typedef struct kill_result {
    pid_t pid;
    int ready;     /* the child had opened its run */
    int64_t last;  /* the highest step whose log returned, -1: none */
    double delay;  /* ms */
    int from_fork; /* the delay counted from the fork */
} kill_result;

/* Take in what the child wrote: ready (-1), then 0, 1, 2, ... in order. */
static void take(kill_result *k, int64_t v)
{
    if (v == -1) {
        ck_assert_msg(!k->ready, "child %d: ready twice", (int)k->pid);
        k->ready = 1;
        return;
    }
    ck_assert_msg(k->ready && v == k->last + 1, "child %d: step %" PRId64 " after %" PRId64,
                  (int)k->pid, v, k->last);
    k->last = v;
}

/* Fork a child logging with c, kill it after a random delay, reap it, and
 * read every step it reported. */
static kill_result kill_at_random(struct child *c)
{
    kill_result k = {0, 0, -1, 0, 0};
    k.from_fork = rng_next() % 4 == 0;
    k.delay = (double)(rng_next() % (MAX_DELAY_US + 1)) / 1000.0;
    int rfd;
    double start = mono();
    k.pid = tq_fork(child_main, c, &rfd);
    int64_t v;
    if (!k.from_fork) { /* the delay counts from the open run */
        int got = tq_read_i64(rfd, &v);
        if (!got) {
            int st = tq_wait(k.pid);
            ck_abort_msg("child ended before it was ready: status %d", st);
        }
        take(&k, v);
        start = mono();
    }
    double deadline = start + k.delay / 1000.0;
    for (;;) {
        double left = deadline - mono();
        if (left <= 0)
            break;
        struct pollfd p = {rfd, POLLIN, 0};
        int r = poll(&p, 1, (int)(left * 1000.0) + 1);
        if (r < 0 && errno == EINTR)
            continue;
        ck_assert_int_ge(r, 0);
        if (r == 0)
            continue;
        if (!tq_read_i64(rfd, &v))
            break; /* EOF: the child ended (reported below) */
        take(&k, v);
    }
    kill(k.pid, SIGKILL);
    int st = tq_wait(k.pid);
    /* Steps that returned after our last read are in the pipe. */
    while (tq_read_i64(rfd, &v))
        take(&k, v);
    close(rfd);
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
                  "child %d did not die of SIGKILL: status %d (exit %d)", (int)k.pid, st,
                  WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return k;
}

static void report(const char *backend, int round, const kill_result *k, const char *what)
{
    printf("%s round %2d: killed %5.2f ms after the %s, %6" PRId64 " steps returned: %s\n", backend,
           round, k->delay, k->from_fork ? "fork" : "init", k->last + 1, what);
}

/* ---- sqlite --------------------------------------------------------------- */

/* The run the child of k opened, or NULL (killed before its run existed). */
static char *run_of(sqlite3 *db, const kill_result *k)
{
    ck_assert_int_le(tq_int(db, "SELECT count(*) FROM runs WHERE pid = %d", (int)k->pid), 1);
    return tq_text(db, "SELECT run_id FROM runs WHERE pid = %d", (int)k->pid);
}

/* One metrics row against the generated field. */
static void sqlite_value_eq(sqlite3_stmt *st, const tropt_field *f, int64_t step)
{
    int type = sqlite3_column_type(st, 2);
    const char *key = f->key;
    switch (f->type) {
    case TROPT_NULL:
        ck_assert_msg(type == SQLITE_NULL, "step %" PRId64 " %s: type %d", step, key, type);
        break;
    case TROPT_BOOL:
    case TROPT_INT: {
        int64_t want = f->type == TROPT_BOOL ? f->v.b : f->v.i;
        ck_assert_msg(type == SQLITE_INTEGER && sqlite3_column_int64(st, 2) == want,
                      "step %" PRId64 " %s: type %d value %lld, logged %" PRId64, step, key, type,
                      (long long)sqlite3_column_int64(st, 2), want);
        break;
    }
    case TROPT_REAL:
        if (isnan(f->v.r)) /* NaN is stored as NULL */
            ck_assert_msg(type == SQLITE_NULL, "step %" PRId64 " %s: NaN as type %d", step, key,
                          type);
        else
            ck_assert_msg(type == SQLITE_FLOAT && same_real(sqlite3_column_double(st, 2), f->v.r),
                          "step %" PRId64 " %s: type %d value %.17g, logged %.17g", step, key, type,
                          sqlite3_column_double(st, 2), f->v.r);
        break;
    case TROPT_STRING: {
        const char *got = (const char *)sqlite3_column_text(st, 2);
        ck_assert_msg(type == SQLITE_TEXT && got && strcmp(got, f->v.s) == 0 &&
                          (size_t)sqlite3_column_bytes(st, 2) == strlen(f->v.s),
                      "step %" PRId64 " %s: type %d, text differs", step, key, type);
        break;
    }
    case TROPT_JSON: {
        const char *got = (const char *)sqlite3_column_text(st, 2);
        json_t *j = got ? json_loads(got, JSON_DECODE_ANY, NULL) : NULL;
        ck_assert_msg(type == SQLITE_TEXT && j && json_equal(j, f->v.json),
                      "step %" PRId64 " %s: %s", step, key, got ? got : "NULL");
        json_decref(j);
        break;
    }
    }
}

/* The run holds steps 0..n-1, last+1 <= n <= last+2, every value exact;
 * returns n. */
static int64_t sqlite_check_run(sqlite3 *db, const char *run, const kill_result *k)
{
    int64_t n = tq_int(db, "SELECT count(DISTINCT step) FROM metrics WHERE run_id = %Q", run);
    ck_assert_msg(n >= k->last + 1 && n <= k->last + 2,
                  "%" PRId64 " steps on disk, log returned for %" PRId64, n, k->last + 1);
    ck_assert_int_eq(
        tq_int(db, "SELECT coalesce(max(step), -1) FROM metrics WHERE run_id = %Q", run), n - 1);
    sqlite3_stmt *st = tq_query(db,
                                "SELECT step, key, value, time FROM metrics WHERE run_id = %Q"
                                " ORDER BY step, key",
                                run);
    static gen g;
    int64_t step = -1;
    size_t seen = 0, rows = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t s = sqlite3_column_int64(st, 0);
        if (s != step) {
            ck_assert_msg(step < 0 || seen == g.n, "step %" PRId64 ": %zu of %zu fields", step,
                          seen, g.n);
            step = s;
            seen = 0;
            gen_step(&g, s, 1, 0);
        }
        const char *key = (const char *)sqlite3_column_text(st, 1);
        const tropt_field *f = gen_find(&g, key);
        ck_assert_msg(f != NULL, "step %" PRId64 ": unexpected key %s", s, key);
        ck_assert_int_eq(sqlite3_column_type(st, 3), SQLITE_FLOAT);
        sqlite_value_eq(st, f, s);
        seen++;
        rows++;
    }
    ck_assert_int_eq(rc, SQLITE_DONE);
    sqlite3_finalize(st);
    ck_assert_msg(step < 0 || seen == g.n, "step %" PRId64 ": %zu of %zu fields", step, seen, g.n);
    gen_clear(&g);
    (void)rows;
    return n;
}

START_TEST(test_crash_sqlite)
{
    rng_seed("sqlite");
    char *dir = tu_mkdtemp();
    char *path = tu_path(dir, "crash.db");
    char *spec = tu_strdupf("sqlite:path=%s", path);
    int64_t on_disk[ROUNDS];
    kill_result ks[ROUNDS];
    char *runs[ROUNDS] = {0};
    int killed_in_open = 0;
    for (int r = 0; r < ROUNDS; r++) {
        char exp[16];
        snprintf(exp, sizeof exp, "r%02d", r);
        struct child c = {spec, exp, 1, 0};
        kill_result k = kill_at_random(&c);
        ks[r] = k;
        on_disk[r] = 0;
        sqlite3 *db = NULL;
        if (access(path, F_OK) != 0) { /* killed before the file was created */
            ck_assert(!k.ready);
            report("sqlite", r, &k, "no database yet");
            killed_in_open++;
            continue;
        }
        db = tq_db(path);
        tq_assert_integrity(db);
        if (tq_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'runs'") == 0) {
            /* Killed while creating the schema: the next child opens it. */
            ck_assert_msg(!k.ready, "round %d: the child was ready but there is no schema", r);
            sqlite3_close(db);
            report("sqlite", r, &k, "no schema yet");
            killed_in_open++;
            continue;
        }
        runs[r] = run_of(db, &k);
        if (!runs[r]) {
            ck_assert_msg(!k.ready, "round %d: the child was ready but its run is missing", r);
            killed_in_open++;
        } else {
            on_disk[r] = sqlite_check_run(db, runs[r], &k);
            tq_text_eq(db, "running", "SELECT status FROM runs WHERE run_id = %Q", runs[r]);
        }
        /* The child opened the database: every earlier killed run is now
         * marked crashed, its end time the time of its last step. */
        if (k.ready) {
            for (int e = 0; e < r; e++)
                if (runs[e])
                    tq_text_eq(db, "crashed", "SELECT status FROM runs WHERE run_id = %Q", runs[e]);
            ck_assert_int_eq(tq_int(db,
                                    "SELECT count(*) FROM runs WHERE status <> 'crashed'"
                                    " AND pid <> %d",
                                    (int)k.pid),
                             0);
        }
        sqlite3_close(db);
        char what[64];
        snprintf(what, sizeof what, "%" PRId64 " on disk%s", on_disk[r],
                 runs[r] ? "" : " (no run yet)");
        report("sqlite", r, &ks[r], what);
    }
    /* A later tracker marks the last run crashed too; nothing else changed. */
    if (access(path, F_OK) == 0) {
        tropt_tracker *t = NULL;
        ck_assert_int_eq(tropt_tracker_open(&t, spec, "after", NULL), TROPT_OK);
        sqlite3 *db = tq_db(path);
        tq_assert_integrity(db);
        for (int r = 0; r < ROUNDS; r++) {
            if (!runs[r])
                continue;
            tq_text_eq(db, "crashed", "SELECT status FROM runs WHERE run_id = %Q", runs[r]);
            ck_assert_int_eq(
                tq_int(db, "SELECT count(DISTINCT step) FROM metrics WHERE run_id = %Q", runs[r]),
                on_disk[r]);
            if (on_disk[r] > 0)
                ck_assert_int_eq(tq_int(db,
                                        "SELECT ended_at = (SELECT max(time) FROM metrics"
                                        " WHERE run_id = %Q) FROM runs WHERE run_id = %Q",
                                        runs[r], runs[r]),
                                 1);
        }
        sqlite3_close(db);
        tropt_tracker_free(t);
    }
    printf("sqlite: %d kills, %d before the run existed\n", ROUNDS, killed_in_open);
    for (int r = 0; r < ROUNDS; r++)
        free(runs[r]);
    tu_rmtree(dir);
    free(spec);
    free(path);
    free(dir);
}
END_TEST

/* ---- csv ------------------------------------------------------------------ */

/* The only folder under dir/sub, or NULL when there is none. */
static char *only_entry(const char *dir, const char *sub)
{
    char *cmd = tu_strdupf("ls -A '%s/%s' 2>/dev/null", dir, sub), *out = NULL;
    tu_run(cmd, &out, 0);
    free(cmd);
    char *nl = strchr(out, '\n');
    if (nl) {
        ck_assert_msg(nl[1] == '\0', "more than one run in %s/%s: %s", dir, sub, out);
        *nl = '\0';
    }
    char *name = *out ? tu_strdupf("%s/%s/%s", dir, sub, out) : NULL;
    free(out);
    return name;
}

START_TEST(test_crash_csv)
{
    rng_seed("csv");
    char *dir = tu_mkdtemp();
    char *spec = tu_strdupf("csv:dir=%s", dir);
    kill_result ks[ROUNDS];
    char *args = tu_strdupf("%s", ""), *run_dirs[ROUNDS];
    const int pad = 1; /* the 6000-byte cell: rows spanning pages */
    for (int r = 0; r < ROUNDS; r++) {
        char exp[16];
        snprintf(exp, sizeof exp, "r%02d", r);
        struct child c = {spec, exp, pad, r % 2};
        ks[r] = kill_at_random(&c);
        /* Each round has a folder of its own that no later round touches:
         * one parser run checks them all at the end. */
        run_dirs[r] = only_entry(dir, exp);
        char *metrics = run_dirs[r] ? tu_path(run_dirs[r], "metrics.csv") : NULL;
        if (!metrics || access(metrics, F_OK) != 0) {
            /* metrics.csv is created (renamed into place) in init. */
            ck_assert_msg(!ks[r].ready, "round %d: ready, but no metrics.csv in %s", r,
                          run_dirs[r] ? run_dirs[r] : "(no run folder)");
            free(run_dirs[r]);
            run_dirs[r] = NULL;
        } else {
            char *more = tu_strdupf("%s '%s' %d %" PRId64 " %" PRId64, args, run_dirs[r],
                                    r % 2 | pad << 1, ks[r].last + 1, ks[r].last + 2);
            free(args);
            args = more;
        }
        free(metrics);
    }
    char *cmd = tu_strdupf(PY " '%s'%s", CRASHCHECK_PY, args), *out = NULL;
    int rc = *args ? tu_run(cmd, &out, 1) : 0;
    char *line = NULL, *save = NULL;
    int deferred_rounds = 0, torn_rounds = 0, first = 1;
    for (int r = 0; r < ROUNDS; r++) {
        const kill_result *k = &ks[r];
        if (!run_dirs[r]) {
            report("csv", r, k, "killed before metrics.csv existed");
            continue;
        }
        line = out ? strtok_r(first ? out : NULL, "\n", &save) : NULL;
        first = 0;
        ck_assert_msg(line && strncmp(line, "OK", 2) == 0,
                      "round %d (%s, killed %.2f ms after the %s, %" PRId64 " steps returned): %s",
                      r, r % 2 ? "new keys" : "steady", k->delay, k->from_fork ? "fork" : "init",
                      k->last + 1, line ? line : "(no output)");
        deferred_rounds += strstr(line, " 0 pending") == NULL;
        torn_rounds += strstr(line, "torn record") != NULL;
        report("csv", r, k, line + 3);
        free(run_dirs[r]);
    }
    ck_assert_msg(rc == 0, "crashcheck.py exited %d: %s", rc, out ? out : "");
    printf("csv: %d kills, %d with rows in metrics.pending.csv, %d left a torn last record\n",
           ROUNDS, deferred_rounds, torn_rounds);
    free(out);
    free(cmd);
    free(args);
    tu_rmtree(dir);
    free(spec);
    free(dir);
}
END_TEST

/* ---- jsonl ---------------------------------------------------------------- */

static int warnings;

static void count_warning(void *ud, const char *msg)
{
    (void)ud;
    (void)msg;
    warnings++;
}

/* Every line that ends in '\n' is a JSON object (jansson, strict); returns
 * the number of those lines, and sets *cut when the file ends without one. */
static long check_ndjson(const char *path, int *cut)
{
    size_t len = 0;
    char *s = tu_read_file(path, &len);
    ck_assert_ptr_nonnull(s);
    long lines = 0;
    char *p = s, *end = s + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;
        json_error_t err;
        json_t *j = json_loadb(p, (size_t)(nl - p), 0, &err);
        ck_assert_msg(j && json_is_object(j), "%s line %ld is not a JSON object: %s", path,
                      lines + 1, err.text);
        json_decref(j);
        lines++;
        p = nl + 1;
    }
    size_t rest = (size_t)(end - p);
    free(s);
    *cut = rest > 0;
    return lines;
}

/* The journal of one killed run: returns the number of steps it holds. */
static int64_t jsonl_check(const char *path, const kill_result *k, int *cut)
{
    long lines = check_ndjson(path, cut);
    tev_reader rd;
    warnings = 0;
    ck_assert_int_eq(tev_reader_open(&rd, path, count_warning, NULL), 0);
    tev_event ev;
    static gen g;
    int64_t steps = 0;
    int starts = 0, rc;
    char *run = NULL;
    while ((rc = tev_reader_next(&rd, &ev)) == 1) {
        if (ev.type == TEV_RUN_START) {
            ck_assert_int_eq(starts++, 0);
            ck_assert_int_eq(ev.pid, k->pid);
            run = tu_strdupf("%s", ev.run_id);
        } else {
            ck_assert_msg(ev.type == TEV_LOG, "event type %d in a killed run", (int)ev.type);
            ck_assert_msg(run && strcmp(ev.run_id, run) == 0, "a step of another run");
            ck_assert_int_eq(ev.step, steps);
            gen_step(&g, steps, 1, 0);
            ck_assert_msg(ev.n_fields == g.n, "step %" PRId64 ": %zu fields, logged %zu", steps,
                          ev.n_fields, g.n);
            for (size_t i = 0; i < g.n; i++)
                ck_assert_msg(same_field(&g.f[i], &ev.fields[i]),
                              "step %" PRId64 " field %s differs", steps, g.f[i].key);
            steps++;
        }
        tev_event_clear(&ev);
    }
    ck_assert_int_eq(rc, 0);
    /* Only a cut last line is skipped, and it is reported as such. */
    ck_assert_int_eq(rd.n_truncated, *cut);
    ck_assert_int_eq(rd.n_malformed, 0);
    ck_assert_int_eq(warnings, *cut);
    ck_assert_int_eq(lines, starts + steps);
    tev_reader_close(&rd);
    gen_clear(&g);
    free(run);
    ck_assert_msg(starts == 1 || !k->ready, "ready, but no run_start");
    ck_assert_msg(steps >= k->last + 1 && steps <= k->last + 2,
                  "%" PRId64 " steps in the journal, log returned for %" PRId64, steps,
                  k->last + 1);
    return steps;
}

/* `tropt replay` the journal into a database: one run, crashed, steps
 * 0..steps-1. */
static void jsonl_replay(const char *dir, const char *journal, int64_t steps)
{
    char *db = tu_path(dir, "replayed.db");
    unlink(db);
    char *cmd =
        tu_strdupf("'%s' replay '%s' --tracker 'sqlite:path=%s'", getenv("TROPT_CLI"), journal, db);
    char *out = NULL;
    int rc = tu_run(cmd, &out, 1);
    ck_assert_msg(rc == 0, "%s => %d: %s", cmd, rc, out);
    free(out);
    free(cmd);
    sqlite3 *h = tq_db(db);
    tq_assert_integrity(h);
    ck_assert_int_eq(tq_int(h, "SELECT count(*) FROM runs"), 1);
    tq_text_eq(h, "crashed", "SELECT status FROM runs");
    ck_assert_int_eq(tq_int(h, "SELECT count(DISTINCT step) FROM metrics"), steps);
    ck_assert_int_eq(tq_int(h, "SELECT coalesce(max(step), -1) FROM metrics"), steps - 1);
    sqlite3_close(h);
    free(db);
}

START_TEST(test_crash_jsonl)
{
    rng_seed("jsonl");
    char *dir = tu_mkdtemp();
    int cuts = 0;
    for (int r = 0; r < ROUNDS; r++) {
        char name[32];
        snprintf(name, sizeof name, "r%02d.jsonl", r);
        char *path = tu_path(dir, name);
        char *spec = tu_strdupf("jsonl:path=%s", path);
        struct child c = {spec, "crash", 1, 0};
        kill_result k = kill_at_random(&c);
        if (access(path, F_OK) != 0) {
            ck_assert(!k.ready);
            report("jsonl", r, &k, "killed before the journal existed");
        } else {
            int cut = 0;
            int64_t steps = jsonl_check(path, &k, &cut);
            cuts += cut;
            if (r % 10 == 9 && k.ready)
                jsonl_replay(dir, path, steps);
            char what[64];
            snprintf(what, sizeof what, "%" PRId64 " in the journal%s", steps,
                     cut ? ", last line cut" : "");
            report("jsonl", r, &k, what);
        }
        unlink(path);
        free(spec);
        free(path);
    }
    printf("jsonl: %d kills, %d left a cut last line\n", ROUNDS, cuts);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- the suite ------------------------------------------------------------ */

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1)
        setenv("CK_RUN_CASE", argv[1], 1);
    Suite *s = suite_create("crash");
    TCase *tc;
    tc = tcase_create("sqlite");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_crash_sqlite);
    suite_add_tcase(s, tc);
#ifdef HAVE_CSV
    tc = tcase_create("csv");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_crash_csv);
    suite_add_tcase(s, tc);
#endif
    tc = tcase_create("jsonl");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_crash_jsonl);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
