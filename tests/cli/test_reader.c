/*
 * tests/cli/test_reader.c - reading back through the ABI 1.1 reader
 * hooks (SPEC 9): what a user logged comes back typed and in order.
 *
 *   - a plugin built against ABI 1.0 still loads and writes; a reader on it
 *     is refused with a message saying it cannot read back;
 *   - property round trip: random typed steps (int64 extremes, reals
 *     bit-exact, +-Inf, NaN, empty strings, unicode, keys with , " newline /,
 *     JSON arrays) logged to sqlite and read back through tropt_reader_*;
 *   - bad input: missing file, foreign database, newer schema: the error
 *     names the path.
 */
#include <inttypes.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <tropt/host.h>
#include <tropt/tracker.h>

#include "cli_tu.h"

/* ---- ABI 1.0 plugins keep loading ------------------------------------- */

START_TEST(abi10_plugin_loads_and_cannot_read)
{
    const char *dir = getenv("TROPT_ABI_GOOD_DIR");
    ck_assert_ptr_nonnull(dir);
    char *so = tu_strdupf("%s/tropt-abi10.so", dir);
    tropt_tracker *t = NULL;
    ck_assert_int_eq(tropt_tracker_open(&t, so, "abi10", NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_log_fields(t, &TROPT_F_INT("x", 1), 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);

    tropt_reader *r = (tropt_reader *)&t; /* must be reset to NULL */
    ck_assert_int_eq(tropt_reader_open(&r, so), TROPT_EPLUGIN);
    ck_assert_ptr_null(r);
    ck_assert_msg(strstr(tropt_error_message(), "cannot read back"), "%s", tropt_error_message());
    ck_assert_msg(strstr(tropt_error_message(), "abi10"), "%s", tropt_error_message());
    free(so);
}
END_TEST

START_TEST(write_only_plugin_refused)
{
    tropt_reader *r = NULL;
    ck_assert_int_eq(tropt_reader_open(&r, "null"), TROPT_EPLUGIN);
    ck_assert_ptr_null(r);
    ck_assert_msg(strstr(tropt_error_message(), "cannot read back"), "%s", tropt_error_message());
    ck_assert_int_eq(tropt_reader_open(&r, "sqlite:path=/tmp/x.db;null"), TROPT_EINVAL);
    ck_assert_msg(strstr(tropt_error_message(), "exactly one backend, not 2"), "%s",
                  tropt_error_message());
    ck_assert_int_eq(tropt_reader_open(&r, NULL), TROPT_EINVAL);
    ck_assert_int_eq(tropt_reader_open(NULL, "sqlite"), TROPT_EINVAL);
    tropt_reader_free(NULL);
}
END_TEST

/* ---- the model of what was logged ------------------------------------- */

#define N_STEPS 120
#define MAX_F 8

typedef struct {
    int64_t step;
    tropt_field f[MAX_F];
    size_t n;
} mstep;

static const char *const key_pool[] = {
    "loss", "a,b", "quote\"d", "new\nline", "nested/key", "ünï©ødé", "", "x y", "acc", "lr",
};
static const char *const str_pool[] = {"", "hello", "42", "ünï©ødé ✓", "a,b\"c\nd", "null"};

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static json_t *arrays[4];

static void random_field(tropt_field *f, const char *key)
{
    static const int64_t ints[] = {INT64_MIN, INT64_MAX, 0, -1, 1, 9007199254740993LL};
    static const double reals[] = {0.1, -0.0, 1e308, 5e-324, 1.0 / 3.0, -2.5e-300};
    f->key = key;
    switch (next_rand() % 8) {
    case 0:
        *f = TROPT_F_INT(key, ints[next_rand() % 6]);
        break;
    case 1:
        *f = TROPT_F_REAL(key, reals[next_rand() % 6]);
        break;
    case 2:
        *f = TROPT_F_REAL(key, next_rand() % 2 ? INFINITY : -INFINITY);
        break;
    case 3:
        *f = TROPT_F_REAL(key, NAN);
        break;
    case 4:
        *f = TROPT_F_STR(key, str_pool[next_rand() % 6]);
        break;
    case 5:
        *f = TROPT_F_NULL(key);
        break;
    case 6:
        *f = TROPT_F_BOOL(key, next_rand() % 2);
        break;
    default:
        *f = TROPT_F_JSON(key, arrays[next_rand() % 4]);
        break;
    }
}

static mstep *make_model(void)
{
    arrays[0] = json_loads("[0.5,0.25]", 0, NULL);
    arrays[1] = json_loads("[]", 0, NULL);
    arrays[2] = json_loads("[\"a\",[1,2],null]", 0, NULL);
    arrays[3] = json_loads("[-9223372036854775808]", 0, NULL);
    mstep *m = calloc(N_STEPS, sizeof *m);
    for (size_t s = 0; s < N_STEPS; s++) {
        m[s].step = (int64_t)s;
        size_t n = next_rand() % MAX_F; /* 0..7 distinct keys */
        size_t start = next_rand() % 10;
        for (size_t i = 0; i < n; i++)
            random_field(&m[s].f[i], key_pool[(start + i) % 10]);
        m[s].n = n;
    }
    return m;
}

static void free_model(mstep *m)
{
    free(m);
    for (int i = 0; i < 4; i++)
        json_decref(arrays[i]);
}

/* What a backend keeps of a field: sqlite's views carry only the SQL type
 * (README: NaN and null are NULL, a bool is 0/1, an array is its JSON
 * text), unless the views carry `kind`.  csv keeps every type (types.csv). */
typedef enum { EXACT, SQL_TYPES } fidelity;

static char *field_text(const tropt_field *f, fidelity fid)
{
    char *js;
    char *out;
    switch (f->type) {
    case TROPT_NULL:
        return tu_strdupf("null");
    case TROPT_BOOL:
        return fid == EXACT ? tu_strdupf("bool:%d", f->v.b) : tu_strdupf("int:%d", f->v.b);
    case TROPT_INT:
        return tu_strdupf("int:%" PRId64, f->v.i);
    case TROPT_REAL: {
        if (isnan(f->v.r))
            return fid == EXACT ? tu_strdupf("nan") : tu_strdupf("null");
        uint64_t bits;
        memcpy(&bits, &f->v.r, 8);
        return tu_strdupf("real:%016" PRIx64, bits);
    }
    case TROPT_STRING:
        return tu_strdupf("str:%s", f->v.s);
    case TROPT_JSON:
        js = json_dumps(f->v.json, JSON_COMPACT | JSON_ENCODE_ANY);
        out = fid == EXACT ? tu_strdupf("json:%s", js) : tu_strdupf("str:%s", js);
        free(js);
        return out;
    }
    return tu_strdupf("?");
}

/* A step as sorted "key=value" lines, so key order does not matter. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *step_text(int64_t step, const tropt_field *f, size_t n, fidelity fid)
{
    char **lines = calloc(n + 1, sizeof *lines);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        char *v = field_text(&f[i], fid);
        if (v)
            lines[kept++] = tu_strdupf("%s=%s", f[i].key, v);
        free(v);
    }
    n = kept;
    qsort(lines, n, sizeof *lines, cmp_str);
    char *out = tu_strdupf("step %" PRId64 ":", step);
    for (size_t i = 0; i < n; i++) {
        char *o = tu_strdupf("%s %s;", out, lines[i]);
        free(out);
        free(lines[i]);
        out = o;
    }
    free(lines);
    return out;
}

typedef struct {
    const mstep *model;
    fidelity fid;
    size_t next; /* index of the next model step expected */
    int starts, ends;
    char status[16];
} reading;

static int check_event(const tropt_event *ev, void *ud)
{
    reading *rd = ud;
    switch (ev->kind) {
    case TROPT_EVENT_START:
        rd->starts++;
        ck_assert_int_eq(rd->next, 0);
        break;
    case TROPT_EVENT_STEP: {
        /* steps that logged nothing may be absent from a store that keeps
         * rows per field: skip empty model steps the reader did not yield */
        while (rd->next < N_STEPS && rd->model[rd->next].step != ev->step &&
               rd->model[rd->next].n == 0)
            rd->next++;
        ck_assert_uint_lt(rd->next, N_STEPS);
        const mstep *m = &rd->model[rd->next];
        char *want = step_text(m->step, m->f, m->n, rd->fid);
        char *got = step_text(ev->step, ev->fields, ev->n, EXACT);
        ck_assert_str_eq(got, want);
        free(want);
        free(got);
        ck_assert(ev->time > 1e9);
        rd->next++;
        break;
    }
    case TROPT_EVENT_END:
        rd->ends++;
        snprintf(rd->status, sizeof rd->status, "%s", ev->status);
        break;
    default: /* attempts, checkpoint marks, system samples */
        break;
    }
    return 0;
}

typedef struct {
    char ids[8][40];
    int64_t steps[8];
    int n;
} listing;

static int list_cb(const tropt_stored_run *run, void *ud)
{
    listing *l = ud;
    if (l->n < 8) {
        snprintf(l->ids[l->n], 40, "%s", run->run_id);
        l->steps[l->n] = run->n_steps;
        l->n++;
    }
    return 0;
}

static int stop_cb(const tropt_event *ev, void *ud)
{
    (void)ev;
    (*(int *)ud)++;
    return 7;
}

/* Log the model through `spec`, read it back through `rspec`. */
static void round_trip(const char *spec, const char *rspec, fidelity fid)
{
    mstep *model = make_model();
    tropt_tracker *t = NULL;
    ck_assert_msg(tropt_tracker_open(&t, spec, "prop", NULL) == TROPT_OK, "%s",
                  tropt_error_message());
    json_t *cfg = json_pack("{s:f,s:{s:i}}", "lr", 0.001, "opt", "depth", 3);
    ck_assert_int_eq(tropt_tracker_init(t, cfg), TROPT_OK);
    for (size_t s = 0; s < N_STEPS; s++)
        ck_assert_msg(tropt_tracker_log_fields(t, model[s].f, model[s].n) == TROPT_OK, "%s",
                      tropt_error_message());
    char run_id[40];
    snprintf(run_id, sizeof run_id, "%s", tropt_tracker_run_id(t));
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    json_decref(cfg);

    tropt_reader *r = NULL;
    ck_assert_msg(tropt_reader_open(&r, rspec) == TROPT_OK, "%s", tropt_error_message());
    listing l = {0};
    ck_assert_int_eq(tropt_reader_list_runs(r, list_cb, &l), TROPT_OK);
    ck_assert_int_eq(l.n, 1);
    ck_assert_str_eq(l.ids[0], run_id);

    reading rd = {.model = model, .fid = fid};
    ck_assert_msg(tropt_reader_read_run(r, run_id, check_event, &rd) == TROPT_OK, "%s",
                  tropt_error_message());
    ck_assert_int_eq(rd.starts, 1);
    ck_assert_int_eq(rd.ends, 1);
    ck_assert_str_eq(rd.status, "finished");
    while (rd.next < N_STEPS && model[rd.next].n == 0)
        rd.next++;
    ck_assert_uint_eq(rd.next, N_STEPS);

    /* a prefix finds the run; a callback's non-zero stops and comes back */
    int calls = 0;
    char prefix[9];
    memcpy(prefix, run_id, 8);
    prefix[8] = '\0';
    ck_assert_int_eq(tropt_reader_read_run(r, prefix, stop_cb, &calls), 7);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(tropt_reader_read_run(r, "ffffffff-0000", stop_cb, &calls), TROPT_EINVAL);
    ck_assert_msg(strstr(tropt_error_message(), "ffffffff-0000"), "%s", tropt_error_message());
    tropt_reader_free(r);
    free_model(model);
}

START_TEST(sqlite_round_trip)
{
    char *dir = tu_mkdtemp();
    char *db = tu_path(dir, "p.db");
    char *spec = tu_strdupf("sqlite:path=%s", db);
    round_trip(spec, spec, EXACT);
    free(spec);
    free(db);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- bad input -------------------------------------------------------- */

START_TEST(sqlite_bad_input_names_path)
{
    char *dir = tu_mkdtemp();
    char *missing = tu_path(dir, "missing.db");
    char *spec = tu_strdupf("sqlite:path=%s", missing);
    tropt_reader *r = NULL;
    ck_assert_int_eq(tropt_reader_open(&r, spec), TROPT_EBACKEND);
    ck_assert_ptr_null(r);
    ck_assert_msg(strstr(tropt_error_message(), missing), "%s", tropt_error_message());
    ck_assert_int_eq(access(missing, F_OK), -1); /* the reader created nothing */
    free(spec);

    /* an SQLite file of another application */
    char *foreign = tu_path(dir, "foreign.db");
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(foreign, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    spec = tu_strdupf("sqlite:path=%s", foreign);
    ck_assert_int_eq(tropt_reader_open(&r, spec), TROPT_EBACKEND);
    ck_assert_msg(strstr(tropt_error_message(), foreign), "%s", tropt_error_message());
    ck_assert_msg(strstr(tropt_error_message(), "not a tropt database"), "%s",
                  tropt_error_message());
    free(spec);

    /* a tropt database from a newer schema */
    char *newer = tu_path(dir, "newer.db");
    spec = tu_strdupf("sqlite:path=%s", newer);
    tropt_tracker *t = NULL;
    ck_assert_int_eq(tropt_tracker_open(&t, spec, "x", NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    ck_assert_int_eq(sqlite3_open(newer, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    ck_assert_int_eq(tropt_reader_open(&r, spec), TROPT_EBACKEND);
    ck_assert_msg(strstr(tropt_error_message(), newer), "%s", tropt_error_message());
    ck_assert_msg(strstr(tropt_error_message(), "newer"), "%s", tropt_error_message());
    free(spec);

    free(missing);
    free(foreign);
    free(newer);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(jsonl_round_trip)
{
    char *dir = tu_mkdtemp();
    char *j = tu_path(dir, "p.jsonl");
    char *spec = tu_strdupf("jsonl:path=%s", j);
    round_trip(spec, spec, EXACT);
    /* a spool folder: the journal is its one *.jsonl file */
    char *spool = tu_path(dir, "spool");
    ck_assert_int_eq(mkdir(spool, 0700), 0);
    char *in = tu_path(spool, "20260101T000000.000000Z-1-1.jsonl");
    char *wspec = tu_strdupf("jsonl:path=%s", in);
    char *rspec = tu_strdupf("jsonl:path=%s", spool);
    round_trip(wspec, rspec, EXACT);
    free(rspec);
    free(wspec);
    free(in);
    free(spool);
    free(spec);
    free(j);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

static int count_steps(const tropt_event *ev, void *ud)
{
    if (ev->kind == TROPT_EVENT_STEP)
        (*(int *)ud)++;
    return 0;
}

static int first_id(const tropt_stored_run *run, void *ud)
{
    snprintf(ud, 40, "%s", run->run_id);
    return 0;
}

START_TEST(csv_round_trip)
{
    char *dir = tu_mkdtemp();
    char *spec = tu_strdupf("csv:dir=%s/wide", dir);
    round_trip(spec, spec, EXACT);
    free(spec);
    spec = tu_strdupf("csv:dir=%s/long,layout=long", dir);
    char *rspec = tu_strdupf("csv:dir=%s/long", dir);
    round_trip(spec, rspec, EXACT);
    free(rspec);
    free(spec);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(csv_bad_input_names_path)
{
    char *dir = tu_mkdtemp();
    char *missing = tu_path(dir, "missing");
    char *spec = tu_strdupf("csv:dir=%s", missing);
    tropt_reader *r = NULL;
    ck_assert_int_eq(tropt_reader_open(&r, spec), TROPT_EBACKEND);
    ck_assert_msg(strstr(tropt_error_message(), missing), "%s", tropt_error_message());
    free(spec);
    /* a folder holding something else */
    char *other = tu_path(dir, "other");
    ck_assert_int_eq(mkdir(other, 0700), 0);
    char *junk = tu_path(other, "notes.txt");
    ck_assert_int_eq(tu_write_file(junk, "hello\n"), 0);
    spec = tu_strdupf("csv:dir=%s", other);
    ck_assert_int_eq(tropt_reader_open(&r, spec), TROPT_EBACKEND);
    ck_assert_msg(strstr(tropt_error_message(), other) &&
                      strstr(tropt_error_message(), "not a csv folder"),
                  "%s", tropt_error_message());
    free(spec);
    free(junk);
    free(other);
    free(missing);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(jsonl_bad_input_names_path)
{
    char *dir = tu_mkdtemp();
    char *missing = tu_path(dir, "missing.jsonl");
    char *spec = tu_strdupf("jsonl:path=%s", missing);
    tropt_reader *r = NULL;
    ck_assert_int_eq(tropt_reader_open(&r, spec), TROPT_EBACKEND);
    ck_assert_msg(strstr(tropt_error_message(), missing), "%s", tropt_error_message());
    free(spec);

    /* a folder that holds no journal */
    char *empty = tu_path(dir, "empty");
    ck_assert_int_eq(mkdir(empty, 0700), 0);
    spec = tu_strdupf("jsonl:path=%s", empty);
    ck_assert_int_eq(tropt_reader_open(&r, spec), TROPT_EBACKEND);
    ck_assert_msg(strstr(tropt_error_message(), empty), "%s", tropt_error_message());
    free(spec);

    /* a journal whose last line was cut by a crash: the steps before it
     * read back, and a warning names the file */
    char *j = tu_path(dir, "cut.jsonl");
    spec = tu_strdupf("jsonl:path=%s", j);
    tropt_tracker *t = NULL;
    ck_assert_int_eq(tropt_tracker_open(&t, spec, "cut", NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(tropt_tracker_log_fields(t, &TROPT_F_INT("i", i), 1), TROPT_OK);
    tropt_tracker_free(t); /* no finish: the run stays open (crashed) */
    char *data = tu_read_file(j, NULL);
    char *cut = tu_strdupf("%s{\"type\":\"log\",\"run_id\":\"01", data);
    ck_assert_int_eq(tu_write_file(j, cut), 0);
    tu_capture_start();
    ck_assert_int_eq(tropt_reader_open(&r, spec), TROPT_OK);
    char id[40] = "";
    ck_assert_int_eq(tropt_reader_list_runs(r, first_id, id), TROPT_OK);
    int steps = 0;
    ck_assert_int_eq(tropt_reader_read_run(r, id, count_steps, &steps), TROPT_OK);
    tu_capture_stop();
    ck_assert_int_ge(steps, 3);
    ck_assert_msg(strstr(tu_captured(), j) && strstr(tu_captured(), "truncated"), "%s",
                  tu_captured());
    tropt_reader_free(r);
    free(cut);
    free(data);
    free(spec);
    free(j);
    free(empty);
    free(missing);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- the CLI: --from --------------------------------------------------- */

static char *cli_run(const char *args, int *status)
{
    char *cmd = tu_strdupf("'%s' %s", getenv("TROPT_CLI"), args);
    char *out = NULL;
    *status = tu_run(cmd, &out, 1);
    free(cmd);
    return out;
}

/* Every line of a journal, parsed. */
static json_t *journal_events(const char *path)
{
    char *data = tu_read_file(path, NULL);
    ck_assert_ptr_nonnull(data);
    json_t *all = json_array();
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *ev = json_loads(line, 0, NULL);
        ck_assert_msg(ev != NULL, "%s: bad line %s", path, line);
        json_array_append_new(all, ev);
    }
    free(data);
    return all;
}

static long long sql_count(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return n;
}

/* A run_start event without the members an ABI 1.1 store cannot keep. */
static void forget_v12_members(json_t *start)
{
    static const char *const v12[] = {"pidns",     "provenance", "resume_key", "attempt",
                                      "from_step", "started_at", "tags",       "note"};
    for (size_t i = 0; i < sizeof v12 / sizeof v12[0]; i++)
        json_object_del(start, v12[i]);
}

START_TEST(cli_replay_csv_sqlite_jsonl)
{
    char *dir = tu_mkdtemp();
    char *csvdir = tu_path(dir, "csv");
    char *j1 = tu_path(dir, "first.jsonl");
    char *j2 = tu_path(dir, "final.jsonl");
    char *db = tu_path(dir, "mid.db");

    /* one run logged to csv and to the first journal at once, with values
     * every one of the three stores keeps exactly */
    char *spec = tu_strdupf("csv:dir=%s;jsonl:path=%s", csvdir, j1);
    tropt_tracker *t = NULL;
    ck_assert_int_eq(tropt_tracker_open(&t, spec, "chain", NULL), TROPT_OK);
    json_t *cfg = json_pack("{s:f,s:s,s:i}", "lr", 0.001, "opt", "adam ✓", "seed", 7);
    ck_assert_int_eq(tropt_tracker_init(t, cfg), TROPT_OK);
    for (int s = 0; s < 50; s++) {
        tropt_field f[] = {
            TROPT_F_INT("step_no", INT64_MAX - s),
            TROPT_F_REAL("loss", 1.0 / (s + 3)),
            TROPT_F_REAL("a,b", s % 2 ? INFINITY : -INFINITY),
            TROPT_F_STR("quote\"d\nkey", "ünï,\"x\""),
        };
        ck_assert_int_eq(tropt_tracker_log_fields(t, f, 4), TROPT_OK);
    }
    json_t *sum = json_pack("{s:f}", "best", 0.25);
    ck_assert_int_eq(tropt_tracker_finish(t, sum), TROPT_OK);
    tropt_tracker_free(t);
    json_decref(sum);
    json_decref(cfg);
    free(spec);

    int st;
    char *args = tu_strdupf("runs --from 'csv:dir=%s'", csvdir);
    char *out = cli_run(args, &st);
    ck_assert_msg(st == 0 && strstr(out, "chain") && strstr(out, "finished"), "%s", out);
    free(out);
    free(args);

    /* csv -> sqlite, twice: the second replay duplicates no step */
    args = tu_strdupf("replay --from 'csv:dir=%s' --tracker 'sqlite:path=%s'", csvdir, db);
    out = cli_run(args, &st);
    ck_assert_msg(st == 0, "%s", out);
    free(out);
    long long rows = sql_count(db, "SELECT count(*) FROM metrics");
    ck_assert_int_eq(rows, 200);
    out = cli_run(args, &st);
    ck_assert_msg(st == 0, "%s", out);
    free(out);
    free(args);
    ck_assert_int_eq(sql_count(db, "SELECT count(*) FROM metrics"), rows);
    ck_assert_int_eq(sql_count(db, "SELECT count(*) FROM runs"), 1);

    /* sqlite -> the final journal */
    args = tu_strdupf("replay --from 'sqlite:path=%s' --tracker 'jsonl:path=%s'", db, j2);
    out = cli_run(args, &st);
    ck_assert_msg(st == 0, "%s", out);
    free(out);
    free(args);

    json_t *a = journal_events(j1), *b = journal_events(j2);
    ck_assert_uint_eq(json_array_size(a), 52);
    ck_assert_uint_eq(json_array_size(b), json_array_size(a));
    if (!store_keeps_meta("csv") || !store_keeps_meta("sqlite")) {
        /* a store of the chain keeps no ABI 1.2 run members yet: only
         * what every store keeps is compared */
        forget_v12_members(json_array_get(a, 0));
        forget_v12_members(json_array_get(b, 0));
    }
    for (size_t i = 0; i < json_array_size(a); i++) {
        char *x = json_dumps(json_array_get(a, i), JSON_SORT_KEYS | JSON_COMPACT);
        char *y = json_dumps(json_array_get(b, i), JSON_SORT_KEYS | JSON_COMPACT);
        ck_assert_msg(json_equal(json_array_get(a, i), json_array_get(b, i)),
                      "event %zu differs:\n first %s\n final %s", i, x, y);
        free(x);
        free(y);
    }
    json_decref(a);
    json_decref(b);

    /* show through the reader, on the jsonl backend */
    args = tu_strdupf("show --from 'jsonl:path=%s' %.8s", j2, "");
    free(args);
    char id[40] = "";
    tropt_reader *r = NULL;
    char *rs = tu_strdupf("jsonl:path=%s", j2);
    ck_assert_int_eq(tropt_reader_open(&r, rs), TROPT_OK);
    ck_assert_int_eq(tropt_reader_list_runs(r, first_id, id), TROPT_OK);
    tropt_reader_free(r);
    free(rs);
    args = tu_strdupf("show %.8s --from 'jsonl:path=%s'", id, j2);
    out = cli_run(args, &st);
    ck_assert_msg(st == 0 && strstr(out, id) && strstr(out, "steps       50") &&
                      strstr(out, "\n  best  0.25\n"),
                  "%s", out);
    free(out);
    free(args);

    /* bad input through the CLI names the path */
    args = tu_strdupf("runs --from 'jsonl:path=%s/nope.jsonl'", dir);
    out = cli_run(args, &st);
    ck_assert_msg(st == 1 && strstr(out, "nope.jsonl"), "%s", out);
    free(out);
    free(args);

    free(db);
    free(j2);
    free(j1);
    free(csvdir);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* The one status rule (tropt_run_status): a running run of this host and
 * pid namespace whose process is gone is crashed, as is one whose
 * heartbeat is past its bound; nothing else is judged. */
START_TEST(run_status_rule)
{
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0)
        _exit(0);
    ck_assert_int_eq(waitpid(child, NULL, 0), child); /* reaped: its pid is gone */
    char host[256] = "", ns[64] = "";
    ck_assert_int_eq(gethostname(host, sizeof host - 1), 0);
    ssize_t n = readlink("/proc/self/ns/pid", ns, sizeof ns - 1);
    ns[n > 0 ? n : 0] = '\0';
    tropt_stored_run r = {.run_id = "x",
                          .status = "running",
                          .host = host,
                          .pid = child,
                          .heartbeat_age = NAN,
                          .stale_after = NAN};
    ck_assert_str_eq(tropt_run_status(&r), "crashed");
    r.pidns = ns;
    ck_assert_str_eq(tropt_run_status(&r), "crashed");
    r.pidns = "pid:[1]"; /* another namespace: its pid means nothing here */
    ck_assert_str_eq(tropt_run_status(&r), "running");
    r.pidns = NULL;
    r.host = "another-host";
    ck_assert_str_eq(tropt_run_status(&r), "running");
    r.host = host;
    r.pid = getppid(); /* alive */
    ck_assert_str_eq(tropt_run_status(&r), "running");
    r.pid = 0; /* unknown */
    ck_assert_str_eq(tropt_run_status(&r), "running");
    r.pid = getpid(); /* this process */
    ck_assert_str_eq(tropt_run_status(&r), "running");
    r.heartbeat_age = 30;
    r.stale_after = 20;
    ck_assert_str_eq(tropt_run_status(&r), "crashed");
    r.heartbeat_age = 10;
    ck_assert_str_eq(tropt_run_status(&r), "running");
    r.status = "finished";
    r.pid = child;
    r.heartbeat_age = 30;
    ck_assert_str_eq(tropt_run_status(&r), "finished");
    r.status = NULL; /* a plugin must say; the host does not guess */
    ck_assert_str_eq(tropt_run_status(&r), "unknown");
    ck_assert_str_eq(tropt_run_status(NULL), "unknown");
}
END_TEST

static Suite *reader_suite(void)
{
    Suite *s = suite_create("reader");
    TCase *tc = tcase_create("reader");
    tcase_add_test(tc, abi10_plugin_loads_and_cannot_read);
    tcase_add_test(tc, write_only_plugin_refused);
    tcase_add_test(tc, sqlite_round_trip);
    tcase_add_test(tc, sqlite_bad_input_names_path);
    tcase_add_test(tc, jsonl_round_trip);
    tcase_add_test(tc, csv_round_trip);
    tcase_add_test(tc, csv_bad_input_names_path);
    tcase_add_test(tc, cli_replay_csv_sqlite_jsonl);
    tcase_add_test(tc, jsonl_bad_input_names_path);
    tcase_add_test(tc, run_status_rule);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(reader_suite());
}
