/*
 * tests/reliability/test_alloc_fail.c - allocation-failure injection
 * (jansson's test_chaos, SQLite's malloc tests).
 *
 * For each backend, one fixed sequence of calls - open, init, log (JSON and
 * typed fields, nested objects, a key appearing mid-run), flush, finish, a
 * second run, init while active (auto-finish), free while active (aborted) -
 * is run again and again with allocation number N failing, N = 1, 2, 3, ...
 * until a pass in which the failing allocation is never reached; that pass
 * must succeed entirely and leave the expected data behind.
 *
 * What every pass asserts:
 *   - no crash (the process survives; under ASan/valgrind no invalid access);
 *   - every failing call returns TROPT_ENOMEM, TROPT_EBACKEND or TROPT_EINVAL
 *     with a non-empty message (TROPT_ESTATE only after an earlier failure
 *     left no run open); a failed open leaves *out NULL;
 *   - an allocation failure is never swallowed: some call fails or a
 *     diagnostic says so (free, which cannot return an error, logs it);
 *     messages never print a NULL string ("(null)");
 *   - no leak: every block taken from tropt's allocator (the library's and
 *     the plugins' host->malloc) is given back once the tracker is freed
 *     (and under ASan detect_leaks=1 / valgrind, nothing leaks at all).
 *
 * Backends: null, the recorder test plugin, and jsonl, csv, sqlite and http
 * (nothing listening: everything goes through its background thread to the
 * spool) when their plugin files are on TROPT_PLUGIN_PATH.
 *
 * Environment: TROPT_REL_VERBOSE=1 prints every pass and a backtrace of each
 * failed allocation; TROPT_REL_STRIDE=K tries N = 1, 1+K, 1+2K, ... (for
 * slow runs such as valgrind); TROPT_REL_MAX caps N (default 200000).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "failalloc.h"
#include "testutil.h"

/* ---- plugins present ---------------------------------------------------- */

static int plugin_present(const char *name)
{
    const char *pp = getenv("TROPT_PLUGIN_PATH");
    if (!pp)
        return 0;
    char *copy = strdup(pp);
    int found = 0;
    for (char *save = NULL, *d = strtok_r(copy, ":", &save); d && !found;
         d = strtok_r(NULL, ":", &save)) {
        char f[4096];
        snprintf(f, sizeof f, "%s/tropt-%s.so", d, name);
        found = access(f, R_OK) == 0;
    }
    free(copy);
    return found;
}

/* ---- diagnostics: silent, counted --------------------------------------- */

static int n_diag;

static void quiet_handler(tropt_level level, const char *message, void *ud)
{
    (void)ud;
    /* The sequence's own init-while-active warning is expected. */
    if (strncmp(message, "init() called on already-active", 31) != 0)
        n_diag++;
    if (getenv("TROPT_REL_VERBOSE"))
        fprintf(stderr, "    diag %s: %s\n", tropt_level_name(level), message);
}

/* ---- the sequence -------------------------------------------------------- */

typedef struct inputs {
    json_t *exp_config, *config, *d1, *d2, *summary, *obj_field, *arr_field;
} inputs;

static void inputs_make(inputs *in)
{
    in->exp_config = json_pack("{s:f, s:{s:s, s:[i,i]}, s:s}", "lr", 0.1, "opt", "name", "adam",
                               "betas", 9, 99, "tag", "a,b;\"c\"\n");
    in->config = json_pack("{s:i, s:{s:b, s:n}, s:s}", "seed", 42, "nested", "flag", 1, "none",
                           "tag", "override");
    in->d1 = json_pack("{s:f, s:{s:f, s:f}, s:s, s:[i,f], s:b, s:n, s:I, s:{}}", "loss", 0.5, "acc",
                       "top1", 0.9, "top5", 0.99, "note", "caf\xc3\xa9, \"quoted\"\nline", "arr", 1,
                       2.5, "ok", 1, "nothing", "big", (json_int_t)INT64_MAX, "empty");
    in->d2 = json_pack("{s:f, s:f, s:{s:{s:i}}}", "loss", 0.25, "grad/norm", 3.5, "deep", "er",
                       "est", 7);
    in->summary = json_pack("{s:f, s:{s:i}}", "best_loss", 0.25, "steps", "total", 4);
    in->obj_field = json_pack("{s:i, s:{s:s}}", "x", 1, "y", "z", "w");
    in->arr_field = json_pack("[s, i, {s:i}]", "a", 1, "b", 2);
    ck_assert(in->exp_config && in->config && in->d1 && in->d2 && in->summary && in->obj_field &&
              in->arr_field);
}

static void inputs_free(inputs *in)
{
    json_decref(in->exp_config);
    json_decref(in->config);
    json_decref(in->d1);
    json_decref(in->d2);
    json_decref(in->summary);
    json_decref(in->obj_field);
    json_decref(in->arr_field);
}

typedef struct pass {
    int failed;      /* some call failed */
    int n_enomem;    /* calls that returned TROPT_ENOMEM */
    int open_failed; /* open failed */
    char first[600]; /* "step: CODE: message" of the first failure */
} pass;

/* Check one call's result: OK, or an acceptable failure with a message. */
static void check_rc(pass *p, const char *step, int rc, unsigned long n)
{
    if (rc == TROPT_OK)
        return;
    const char *msg = tropt_error_message();
    int ok = rc == TROPT_ENOMEM || rc == TROPT_EBACKEND || rc == TROPT_EINVAL ||
             (rc == TROPT_ESTATE && p->failed);
    ck_assert_msg(ok, "N=%lu: %s returned %s (%s) after an allocation failure", n, step,
                  tropt_error_name(rc), msg);
    ck_assert_msg(msg && *msg, "N=%lu: %s returned %s with an empty message", n, step,
                  tropt_error_name(rc));
    /* A NULL string printed with %s: a pointer whose allocation failed was
     * used anyway. */
    ck_assert_msg(!strstr(msg, "(null)"), "N=%lu: %s returned %s with a NULL in its message: %s", n,
                  step, tropt_error_name(rc), msg);
    if (rc == TROPT_ENOMEM)
        p->n_enomem++;
    if (!p->failed)
        snprintf(p->first, sizeof p->first, "%s: %s: %s", step, tropt_error_name(rc), msg);
    p->failed = 1;
}

static void run_sequence(const char *spec, const inputs *in, pass *p, unsigned long n)
{
    tropt_tracker *t = (tropt_tracker *)&t; /* must become NULL on failure */
    double nan_v = NAN;
    tropt_field f1[] = {
        TROPT_F_REAL("loss", 0.4),
        TROPT_F_REAL("nan", nan_v),
        TROPT_F_REAL("inf", INFINITY),
        TROPT_F_INT("i64", INT64_MIN),
        TROPT_F_STR("s", "x,y\"z"),
        TROPT_F_BOOL("b", 0),
        TROPT_F_NULL("n"),
        TROPT_F_JSON("obj", in->obj_field),
        TROPT_F_JSON("arr", in->arr_field),
    };
    tropt_field f2[] = {TROPT_F_REAL("loss", 0.3), TROPT_F_INT("epoch", 1),
                        TROPT_F_JSON("arr", in->arr_field)};
    memset(p, 0, sizeof *p);

#define STEP(name, call)                                                                           \
    do {                                                                                           \
        fa_set_label(name);                                                                        \
        check_rc(p, name, (call), n);                                                              \
    } while (0)

    fa_set_label("open");
    int rc = tropt_tracker_open(&t, spec, "chaos", in->exp_config);
    check_rc(p, "open", rc, n);
    if (rc != TROPT_OK) {
        ck_assert_msg(t == NULL, "N=%lu: failed open left *out non-NULL", n);
        p->open_failed = 1;
        return;
    }
    STEP("init", tropt_tracker_init(t, in->config));
    STEP("log(json)", tropt_tracker_log(t, in->d1));
    STEP("log_fields(flatten)", tropt_tracker_log_fields(t, f1, sizeof f1 / sizeof *f1));
    STEP("log_fields(passthrough)", tropt_tracker_log_fields(t, f2, sizeof f2 / sizeof *f2));
    STEP("log(json, new keys)", tropt_tracker_log(t, in->d2));
    STEP("flush", tropt_tracker_flush(t));
    STEP("finish", tropt_tracker_finish(t, in->summary));
    STEP("init(second run)", tropt_tracker_init(t, NULL));
    STEP("log(second run)", tropt_tracker_log(t, in->d1));
    STEP("init(while active)", tropt_tracker_init(t, in->config));
    STEP("log_fields(third run)", tropt_tracker_log_fields(t, f2, sizeof f2 / sizeof *f2));
    fa_set_label("free(active)");
    tropt_tracker_free(t);
    fa_set_label("");
#undef STEP
}

/* ---- backends ------------------------------------------------------------ */

typedef struct backend_case {
    const char *name;
    const char *needs[4]; /* plugins that must be present */
    /* spec for a pass whose files go under dir */
    char *(*spec)(const char *dir);
    /* check what the clean pass left in dir */
    void (*verify)(const char *dir);
    /* the recorder test plugin ignores failures of its own json_dumps, so
     * cases holding it may see an allocation failure nobody reports */
    int allow_silent;
} backend_case;

static char *spec_null(const char *dir)
{
    (void)dir;
    return tu_strdupf("null");
}

static char *spec_recorder(const char *dir)
{
    return tu_strdupf("recorder:out=%s/calls.txt,tag=x,level=5,ratio=0.25,flag=yes,wait=2s,"
                      "mode=b,secret_level=7,dir=%s",
                      dir, dir);
}

static int count_lines_prefix(const char *text, const char *prefix)
{
    int n = 0;
    size_t pl = strlen(prefix);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, prefix, pl) == 0)
            n++;
        const char *nl = strchr(p, '\n');
        p = nl ? nl + 1 : NULL;
    }
    return n;
}

static void verify_recorder(const char *dir)
{
    char *f = tu_path(dir, "calls.txt");
    char *text = tu_read_file(f, NULL);
    ck_assert_ptr_nonnull(text);
    ck_assert_int_eq(count_lines_prefix(text, "create "), 1);
    ck_assert_int_eq(count_lines_prefix(text, "init "), 3);
    ck_assert_int_eq(count_lines_prefix(text, "log "), 6);
    ck_assert_int_eq(count_lines_prefix(text, "finish "), 3);
    ck_assert_int_eq(count_lines_prefix(text, "destroy"), 1);
    ck_assert_msg(strstr(text, " obj/y/z=s:w") && strstr(text, " deep/er/est=i:7") &&
                      strstr(text, " nan=r:nan") && strstr(text, "status=aborted"),
                  "unexpected recorder output:\n%s", text);
    free(text);
    free(f);
}

static char *spec_jsonl(const char *dir)
{
    return tu_strdupf("jsonl:path=%s/j.jsonl,fsync=never", dir);
}

static char *spec_jsonl_batch(const char *dir)
{
    return tu_strdupf("jsonl:path=%s/j.jsonl,batch=4", dir);
}

static void verify_jsonl(const char *dir)
{
    char *f = tu_path(dir, "j.jsonl");
    char *text = tu_read_file(f, NULL);
    ck_assert_ptr_nonnull(text);
    int lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    ck_assert_msg(lines == 12, "expected 3 run_start + 6 log + 3 run_end lines, got %d:\n%s", lines,
                  text);
    free(text);
    free(f);
}

static char *spec_csv(const char *dir)
{
    return tu_strdupf("csv:dir=%s/csv,fsync=off", dir);
}

static char *spec_csv_long(const char *dir)
{
    return tu_strdupf("csv:dir=%s/csv,layout=long,fsync=off,flush_every=3", dir);
}

/* Three runs: <dir>/csv/chaos/<run_id>/metrics.csv each. */
static void verify_csv(const char *dir)
{
    char *cmd = tu_strdupf("ls %s/csv/chaos/*/metrics.csv | wc -l", dir);
    char *out = NULL;
    ck_assert_int_eq(tu_run(cmd, &out, 0), 0);
    ck_assert_msg(atoi(out) == 3, "expected 3 run folders with metrics.csv, got %s", out);
    free(out);
    free(cmd);
}

static char *spec_sqlite(const char *dir)
{
    return tu_strdupf("sqlite:path=%s/t.db", dir);
}

static char *spec_sqlite_batch(const char *dir)
{
    return tu_strdupf("sqlite:path=%s/t.db,commit_every=4", dir);
}

static void verify_sqlite(const char *dir)
{
    if (access("/usr/bin/sqlite3", X_OK) != 0)
        return;
    char *cmd = tu_strdupf("/usr/bin/sqlite3 %s/t.db \"select count(*) from runs;"
                           " select count(distinct run_id || ':' || step) from metrics;"
                           " select group_concat(status) from (select status from runs"
                           " order by status)\"",
                           dir);
    char *out = NULL;
    ck_assert_int_eq(tu_run(cmd, &out, 0), 0);
    ck_assert_str_eq(out, "3\n6\naborted,aborted,finished\n");
    free(out);
    free(cmd);
}

/* http with nothing listening: every event goes to the spool, through the
 * background thread's retry path and finish's spooling. */
static char *spec_http(const char *dir)
{
    return tu_strdupf("http:url=http://127.0.0.1:1/ingest,spool_dir=%s/spool,retries=0,"
                      "timeout=200ms,flush_timeout=0,retry_initial=1ms,max_delay=0",
                      dir);
}

/* The spool replays: 3 run_start + 6 log + 3 run_end events in total. */
static void verify_http(const char *dir)
{
    char *cmd = tu_strdupf("cat %s/spool/* | grep -c .", dir);
    char *out = NULL;
    tu_run(cmd, &out, 0);
    ck_assert_msg(atoi(out) == 12, "expected 12 spooled events, got %s", out);
    free(out);
    free(cmd);
}

static char *spec_all(const char *dir)
{
    char *s = tu_strdupf("null;recorder:out=%s/calls.txt", dir);
    const char *more[][2] = {{"jsonl", "jsonl:path=%s/j.jsonl,fsync=never"},
                             {"csv", "csv:dir=%s/csv,fsync=off"},
                             {"sqlite", "sqlite:path=%s/t.db"}};
    for (size_t i = 0; i < sizeof more / sizeof *more; i++) {
        if (!plugin_present(more[i][0]))
            continue;
        char *part = tu_strdupf(more[i][1], dir);
        char *n = tu_strdupf("%s;%s", s, part);
        free(part);
        free(s);
        s = n;
    }
    return s;
}

static void verify_all(const char *dir)
{
    verify_recorder(dir);
    if (plugin_present("jsonl"))
        verify_jsonl(dir);
    if (plugin_present("csv"))
        verify_csv(dir);
    if (plugin_present("sqlite"))
        verify_sqlite(dir);
}

static char *spec_warn(const char *dir)
{
    if (plugin_present("jsonl"))
        return tu_strdupf("recorder:out=%s/calls.txt,on_error=warn;jsonl:path=%s/j.jsonl,"
                          "fsync=never,on_error=warn",
                          dir, dir);
    return tu_strdupf("recorder:out=%s/calls.txt,on_error=warn", dir);
}

static const backend_case cases[] = {
    {"null", {"null"}, spec_null, NULL, 0},
    {"recorder", {"recorder"}, spec_recorder, verify_recorder, 1},
    {"jsonl", {"jsonl"}, spec_jsonl, verify_jsonl, 0},
    {"jsonl-batch", {"jsonl"}, spec_jsonl_batch, verify_jsonl, 0},
    {"csv", {"csv"}, spec_csv, verify_csv, 0},
    {"csv-long", {"csv"}, spec_csv_long, verify_csv, 0},
    {"sqlite", {"sqlite"}, spec_sqlite, verify_sqlite, 0},
    {"sqlite-batch", {"sqlite"}, spec_sqlite_batch, verify_sqlite, 0},
    {"http-spool", {"http"}, spec_http, verify_http, 0},
    {"all-backends", {"null", "recorder"}, spec_all, verify_all, 1},
    {"on_error=warn", {"recorder"}, spec_warn, NULL, 1},
};
#define N_CASES (sizeof cases / sizeof *cases)

static unsigned long env_ul(const char *name, unsigned long dflt)
{
    const char *s = getenv(name);
    return s && *s ? strtoul(s, NULL, 10) : dflt;
}

static void chaos(const backend_case *bc)
{
    int verbose = getenv("TROPT_REL_VERBOSE") != NULL;
    unsigned long stride = env_ul("TROPT_REL_STRIDE", 1);
    unsigned long max_n = env_ul("TROPT_REL_MAX", 200000);
    if (stride == 0)
        stride = 1;

    fa_install();
    tropt_set_log_handler(quiet_handler, NULL);
    char *root = tu_mkdtemp();
    inputs in;
    inputs_make(&in);

    unsigned long n, passes = 0, failing_passes = 0, enomem_passes = 0, silent = 0;
    unsigned long jansson_left = 0, cross = 0;
    for (n = 1; n <= max_n; n += stride) {
        char *dir = tu_strdupf("%s/n%lu", root, n);
        ck_assert_int_eq(mkdir(dir, 0700), 0);
        char *spec = bc->spec(dir);
        pass p;
        n_diag = 0;
        fa_arm(n);
        run_sequence(spec, &in, &p, n);
        fa_stats st = fa_disarm();
        passes++;
        if (verbose)
            fprintf(stderr, "%s N=%lu: %s%s%s (allocations %lu, diag %d)\n", bc->name, n,
                    st.fired ? "failed in " : "not reached", st.fired ? fa_fired_label() : "",
                    p.failed ? p.first : "", st.count, n_diag);
        ck_assert_msg(st.tropt_live == 0,
                      "%s: N=%lu (failed during %s): %zu block(s) of tropt's allocator leaked",
                      bc->name, n, st.fired ? fa_fired_label() : "-", st.tropt_live);
        jansson_left += st.jansson_live;
        cross += st.cross_frees;
        if (!st.fired) {
            /* The failing allocation was never reached: the clean pass. */
            ck_assert_msg(!p.failed, "%s: N=%lu: clean pass failed: %s", bc->name, n, p.first);
            if (bc->verify)
                bc->verify(dir);
            tu_rmtree(dir);
            free(dir);
            free(spec);
            break;
        }
        failing_passes++;
        if (p.n_enomem)
            enomem_passes++;
        if (!p.failed && n_diag == 0 && strcmp(fa_fired_label(), "free(active)") != 0) {
            /* An allocation failed and nobody was told: the backend goes on
             * with something missing (or lost data without a word). */
            ck_assert_msg(bc->allow_silent,
                          "%s: N=%lu: an allocation failed during %s and every call returned "
                          "TROPT_OK without a diagnostic (run with TROPT_REL_VERBOSE=1 for "
                          "the backtrace)",
                          bc->name, n, fa_fired_label());
            silent++;
        }
        tu_rmtree(dir);
        free(dir);
        free(spec);
    }
    ck_assert_msg(n <= max_n, "%s: still failing at N=%lu", bc->name, max_n);
    /* The test must have injected something and seen it reported. */
    ck_assert_msg(failing_passes > 0 && enomem_passes > 0,
                  "%s: no allocation failure was injected or reported (%lu passes)", bc->name,
                  passes);
    printf("%s: %lu passes (up to N=%lu), %lu with a failed allocation, %lu returned "
           "TROPT_ENOMEM, %lu swallowed silently; jansson blocks not given back through "
           "json free: %lu; cross-allocator frees: %lu\n",
           bc->name, passes, n, failing_passes, enomem_passes, silent, jansson_left, cross);
    fflush(stdout);

    inputs_free(&in);
    tropt_set_log_handler(NULL, NULL);
    tu_rmtree(root);
    free(root);
}

START_TEST(alloc_failure_sequence)
{
    chaos(&cases[_i]);
}
END_TEST

/* The allocator can be swapped back and forth while no tracker exists, and
 * a missing function is refused. */
START_TEST(set_allocator_contract)
{
    tropt_allocator bad = {malloc, NULL, free};
    ck_assert_int_eq(tropt_set_allocator(&bad), TROPT_EINVAL);
    ck_assert_str_ne(tropt_error_message(), "");
    ck_assert_int_eq(tropt_set_allocator(NULL), TROPT_OK);
    fa_install();
    fa_arm(1); /* the very first allocation of open fails */
    tropt_tracker *t = (tropt_tracker *)&t;
    int rc = tropt_tracker_open(&t, "null", NULL, NULL);
    fa_stats st = fa_disarm();
    ck_assert(st.fired);
    ck_assert_int_eq(rc, TROPT_ENOMEM);
    ck_assert_ptr_null(t);
    ck_assert_str_eq(tropt_error_message(), "out of memory");
    ck_assert_int_eq(st.tropt_live, 0);
    ck_assert_int_eq(tropt_set_allocator(NULL), TROPT_OK);
}
END_TEST

int main(void)
{
    /* Hundreds of passes each create and fsync files: keep them in memory
     * when the caller did not choose a TMPDIR. */
    const char *tmp = getenv("TMPDIR");
    if ((!tmp || !*tmp) && access("/dev/shm", W_OK | X_OK) == 0)
        setenv("TMPDIR", "/dev/shm", 1);
    Suite *s = suite_create("alloc-failure");
    TCase *tc = tcase_create("contract");
    tcase_add_test(tc, set_allocator_contract);
    suite_add_tcase(s, tc);
    for (size_t i = 0; i < N_CASES; i++) {
        int ok = 1;
        for (size_t k = 0; k < 4 && cases[i].needs[k]; k++)
            ok &= plugin_present(cases[i].needs[k]);
        if (!ok) {
            printf("alloc-failure: skipping %s (plugin not built)\n", cases[i].name);
            continue;
        }
        TCase *c = tcase_create(cases[i].name);
        tcase_set_timeout(c, 1800);
        tcase_add_loop_test(c, alloc_failure_sequence, (int)i, (int)i + 1);
        suite_add_tcase(s, c);
    }
    return tu_run_suite(s);
}
