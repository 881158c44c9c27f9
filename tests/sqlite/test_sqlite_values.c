/*
 * tests/sqlite/test_sqlite_values.c - what the sqlite backend stores, read
 * back through the public views with plain SQL and compared exactly.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sqlite_tu.h"

typedef struct {
    char *dir, *db;
} fixture;

static fixture fx_new(void)
{
    fixture f;
    f.dir = tu_mkdtemp();
    f.db = tu_path(f.dir, "x.db");
    return f;
}

static void fx_free(fixture *f)
{
    tu_rmtree(f->dir);
    free(f->dir);
    free(f->db);
}

/* Fetch (typeof(value), value) of one metric row. */
static sqlite3_stmt *metric(sqlite3 *db, const char *run, int64_t step, const char *key)
{
    sqlite3_stmt *st = tq_query(db,
                                "SELECT typeof(value), value FROM metrics"
                                " WHERE run_id = %Q AND step = %lld AND key = %Q",
                                run, (long long)step, key);
    ck_assert_msg(sqlite3_step(st) == SQLITE_ROW, "no metric %s at step %lld", key,
                  (long long)step);
    return st;
}

static void expect_int(sqlite3 *db, const char *run, const char *key, int64_t v)
{
    sqlite3_stmt *st = metric(db, run, 0, key);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "integer");
    ck_assert_msg(sqlite3_column_int64(st, 1) == v, "%s: %lld != %lld", key,
                  (long long)sqlite3_column_int64(st, 1), (long long)v);
    sqlite3_finalize(st);
}

static void expect_real(sqlite3 *db, const char *run, const char *key, double v)
{
    sqlite3_stmt *st = metric(db, run, 0, key);
    ck_assert_msg(strcmp((const char *)sqlite3_column_text(st, 0), "real") == 0,
                  "%s is %s, not real", key, sqlite3_column_text(st, 0));
    double got = sqlite3_column_double(st, 1);
    ck_assert_msg(memcmp(&got, &v, sizeof v) == 0, "%s: %.17g != %.17g", key, got, v);
    sqlite3_finalize(st);
}

static void expect_null(sqlite3 *db, const char *run, const char *key)
{
    sqlite3_stmt *st = metric(db, run, 0, key);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "null");
    sqlite3_finalize(st);
}

static void expect_text(sqlite3 *db, const char *run, int64_t step, const char *key, const char *v)
{
    sqlite3_stmt *st = metric(db, run, step, key);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "text");
    ck_assert_int_eq(sqlite3_column_bytes(st, 1), (int)strlen(v));
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 1), v);
    sqlite3_finalize(st);
}

static char *run_id_copy(tropt_tracker *t)
{
    const char *id = tropt_tracker_run_id(t);
    ck_assert_ptr_nonnull(id);
    ck_assert_uint_eq(strlen(id), 36);
    return strdup(id);
}

#define TRICKY "a,b;\"q\" 'x'\n\tc/d\\e\r"
#define UNI "h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x9a\x80"
#define ODD_KEY "\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87/\xc3\xbc, \"k\"\n;x"

START_TEST(test_field_types)
{
    fixture f = fx_new();
    tropt_tracker *t = tq_open(f.db, NULL, "types");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char *run = run_id_copy(t);
    json_t *arr = json_pack("[i,s,n,f,b]", 1, "a,\"b\"", 2.5, 1);
    json_t *empty = json_object();
    json_t *jint = json_integer(-9007199254740993LL);
    const double denorm = 4.9406564584124654e-324;
    tropt_field fields[] = {
        TROPT_F_NULL("null"),
        TROPT_F_BOOL("yes", 1),
        TROPT_F_BOOL("no", 0),
        TROPT_F_INT("zero", 0),
        TROPT_F_INT("imin", INT64_MIN),
        TROPT_F_INT("imax", INT64_MAX),
        TROPT_F_REAL("tenth", 0.1),
        TROPT_F_REAL("third", 1.0 / 3.0),
        TROPT_F_REAL("whole", 3.0),
        TROPT_F_REAL("dmax", DBL_MAX),
        TROPT_F_REAL("denorm", denorm),
        TROPT_F_REAL("big", 1e300),
        TROPT_F_REAL("nan", NAN),
        TROPT_F_REAL("pinf", INFINITY),
        TROPT_F_REAL("ninf", -INFINITY),
        TROPT_F_STR("empty", ""),
        TROPT_F_STR("uni", UNI),
        TROPT_F_STR("tricky", TRICKY),
        TROPT_F_STR("numstr", "42"),
        TROPT_F_STR("nanstr", "NaN"),
        TROPT_F_JSON("arr", arr),
        TROPT_F_JSON("emptyobj", empty),
        TROPT_F_JSON("jint", jint),
        TROPT_F_INT(ODD_KEY, 7),
        TROPT_F_STR("", "empty key"),
    };
    size_t n = sizeof fields / sizeof fields[0];
    double t0 = (double)time(NULL) - 1;
    int rc = tropt_tracker_log_fields(t, fields, n);
    ck_assert_msg(rc == TROPT_OK, "log_fields: %s", tropt_error_message());
    /* Step 1 logs a JSON object: nested members flatten to a/b keys. */
    json_t *data = json_pack("{s:{s:f,s:{s:i}},s:I,s:b,s:s}", "loss", "ce", 1.5, "parts", "kl", 2,
                             "exact", (json_int_t)9007199254740993LL, "flag", 0, "s", "");
    ck_assert_int_eq(tropt_tracker_log(t, data), TROPT_OK);
    double t1 = (double)time(NULL) + 1;
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    json_decref(arr);
    json_decref(empty);
    json_decref(jint);
    json_decref(data);

    sqlite3 *db = tq_db(f.db);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics WHERE run_id = %Q AND step = 0", run),
                     (int64_t)n);
    expect_null(db, run, "null");
    expect_int(db, run, "yes", 1);
    expect_int(db, run, "no", 0);
    expect_int(db, run, "zero", 0);
    expect_int(db, run, "imin", INT64_MIN);
    expect_int(db, run, "imax", INT64_MAX);
    expect_real(db, run, "tenth", 0.1);
    expect_real(db, run, "third", 1.0 / 3.0);
    expect_real(db, run, "whole", 3.0);
    expect_real(db, run, "dmax", DBL_MAX);
    expect_real(db, run, "denorm", denorm);
    expect_real(db, run, "big", 1e300);
    expect_null(db, run, "nan");
    expect_real(db, run, "pinf", INFINITY);
    expect_real(db, run, "ninf", -INFINITY);
    expect_text(db, run, 0, "empty", "");
    expect_text(db, run, 0, "uni", UNI);
    expect_text(db, run, 0, "tricky", TRICKY);
    expect_text(db, run, 0, "numstr", "42");
    expect_text(db, run, 0, "nanstr", "NaN");
    expect_text(db, run, 0, "arr", "[1,\"a,\\\"b\\\"\",null,2.5,true]");
    expect_text(db, run, 0, "emptyobj", "{}");
    expect_int(db, run, "jint", -9007199254740993LL);
    expect_int(db, run, ODD_KEY, 7);
    expect_text(db, run, 0, "", "empty key");
    /* The JSON step. */
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics WHERE run_id = %Q AND step = 1", run),
                     5);
    sqlite3_stmt *st = metric(db, run, 1, "loss/ce");
    ck_assert_double_eq(sqlite3_column_double(st, 1), 1.5);
    sqlite3_finalize(st);
    ck_assert_int_eq(tq_int(db,
                            "SELECT value FROM metrics WHERE run_id = %Q AND step = 1"
                            " AND key = 'loss/parts/kl' AND typeof(value) = 'integer'",
                            run),
                     2);
    ck_assert_int_eq(tq_int(db,
                            "SELECT value FROM metrics WHERE run_id = %Q AND step = 1"
                            " AND key = 'exact'",
                            run),
                     9007199254740993LL);
    ck_assert_int_eq(tq_int(db,
                            "SELECT value FROM metrics WHERE run_id = %Q AND step = 1"
                            " AND key = 'flag' AND typeof(value) = 'integer'",
                            run),
                     0);
    expect_text(db, run, 1, "s", "");
    /* Times: Unix seconds (REAL), one per step, in order. */
    ck_assert_int_eq(tq_int(db, "SELECT count(DISTINCT time) FROM metrics WHERE run_id = %Q", run),
                     2);
    ck_assert_int_eq(tq_int(db,
                            "SELECT count(*) FROM metrics WHERE run_id = %Q AND"
                            " (typeof(time) <> 'real' OR time < %f OR time > %f)",
                            run, t0, t1),
                     0);
    ck_assert_int_eq(tq_int(db, "SELECT (SELECT max(time) FROM metrics WHERE step = 0) <="
                                " (SELECT min(time) FROM metrics WHERE step = 1)"),
                     1);
    tq_assert_integrity(db);
    sqlite3_close(db);
    free(run);
    fx_free(&f);
}
END_TEST

START_TEST(test_config_and_summary)
{
    fixture f = fx_new();
    json_t *exp = json_pack("{s:s,s:f}", "model", "m\xc3\xbc", "lr", 0.5);
    char *spec = tq_spec(f.db, NULL);
    tropt_tracker *t = NULL;
    ck_assert_int_eq(tropt_tracker_open(&t, spec, "cfg", exp), TROPT_OK);
    json_t *cfg = json_pack("{s:f,s:{s:s,s:[f,f],s:{s:I}},s:[],s:{},s:b,s:n}", "lr", 0.1, "opt",
                            "name", "adam", "betas", 0.9, 0.999, "deep", "n", (json_int_t)INT64_MIN,
                            "tags", "empty", "amsgrad", 1, "none");
    ck_assert_int_eq(tropt_tracker_init(t, cfg), TROPT_OK);
    char *run = run_id_copy(t);
    json_t *step = json_pack("{s:f}", "loss", 1.0);
    ck_assert_int_eq(tropt_tracker_log(t, step), TROPT_OK);
    json_decref(step);
    json_t *sum = json_pack("{s:{s:f,s:i},s:b,s:s,s:[i]}", "best", "loss", 0.01, "step", 7, "ok", 1,
                            "msg", "d\xc3\xa9j\xc3\xa0 \"vu\"\n", "hist", 3);
    double before_finish = (double)time(NULL) - 1;
    ck_assert_int_eq(tropt_tracker_finish(t, sum), TROPT_OK);
    tropt_tracker_free(t);

    sqlite3 *db = tq_db(f.db);
    /* runs: one row with the merged config as JSON text. */
    sqlite3_stmt *st = tq_query(db,
                                "SELECT experiment, status, started_at, ended_at, host, pid,"
                                " config, typeof(started_at), typeof(ended_at)"
                                " FROM runs WHERE run_id = %Q",
                                run);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "cfg");
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 1), "finished");
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 7), "real");
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 8), "real");
    ck_assert(sqlite3_column_double(st, 2) <= sqlite3_column_double(st, 3));
    ck_assert(sqlite3_column_double(st, 3) >= before_finish);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 4), host);
    ck_assert_int_eq(sqlite3_column_int64(st, 5), (int64_t)getpid());
    json_error_t jerr;
    json_t *stored = json_loads((const char *)sqlite3_column_text(st, 6), 0, &jerr);
    ck_assert_msg(stored != NULL, "runs.config is not JSON: %s", jerr.text);
    json_t *merged = json_deep_copy(exp);
    json_object_update(merged, cfg);
    ck_assert_msg(json_equal(stored, merged), "config %s", sqlite3_column_text(st, 6));
    sqlite3_finalize(st);

    /* params: the flattened config, types kept. */
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM params WHERE run_id = %Q", run), 9);
    tq_text_eq(db, "m\xc3\xbc", "SELECT value FROM params WHERE run_id = %Q AND key = 'model'",
               run);
    ck_assert_int_eq(tq_int(db,
                            "SELECT value = 0.1 FROM params WHERE run_id = %Q AND key = 'lr'"
                            " AND typeof(value) = 'real'",
                            run),
                     1);
    tq_text_eq(db, "adam", "SELECT value FROM params WHERE run_id = %Q AND key = %Q", run,
               "opt/name");
    tq_text_eq(db, "[0.9,0.999]", "SELECT value FROM params WHERE run_id = %Q AND key = %Q", run,
               "opt/betas");
    ck_assert_int_eq(tq_int(db,
                            "SELECT value FROM params WHERE run_id = %Q AND key = %Q"
                            " AND typeof(value) = 'integer'",
                            run, "opt/deep/n"),
                     INT64_MIN);
    tq_text_eq(db, "[]", "SELECT value FROM params WHERE run_id = %Q AND key = 'tags'", run);
    tq_text_eq(db, "{}", "SELECT value FROM params WHERE run_id = %Q AND key = 'empty'", run);
    ck_assert_int_eq(tq_int(db,
                            "SELECT value FROM params WHERE run_id = %Q AND key = 'amsgrad'"
                            " AND typeof(value) = 'integer'",
                            run),
                     1);
    ck_assert_int_eq(tq_int(db,
                            "SELECT count(*) FROM params WHERE run_id = %Q AND key = 'none'"
                            " AND value IS NULL",
                            run),
                     1);

    /* summary: flattened. */
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM summary WHERE run_id = %Q", run), 5);
    ck_assert_int_eq(tq_int(db,
                            "SELECT value = 0.01 AND typeof(value) = 'real' FROM summary"
                            " WHERE run_id = %Q AND key = 'best/loss'",
                            run),
                     1);
    ck_assert_int_eq(tq_int(db,
                            "SELECT value FROM summary WHERE run_id = %Q AND key = 'best/step'"
                            " AND typeof(value) = 'integer'",
                            run),
                     7);
    ck_assert_int_eq(tq_int(db, "SELECT value FROM summary WHERE run_id = %Q AND key = 'ok'", run),
                     1);
    tq_text_eq(db, "d\xc3\xa9j\xc3\xa0 \"vu\"\n",
               "SELECT value FROM summary WHERE run_id = %Q AND key = 'msg'", run);
    tq_text_eq(db, "[3]", "SELECT value FROM summary WHERE run_id = %Q AND key = 'hist'", run);
    sqlite3_close(db);
    json_decref(stored);
    json_decref(merged);
    json_decref(exp);
    json_decref(cfg);
    json_decref(sum);
    free(spec);
    free(run);
    fx_free(&f);
}
END_TEST

START_TEST(test_no_config)
{
    fixture f = fx_new();
    tropt_tracker *t = tq_open(f.db, NULL, NULL);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char *run = run_id_copy(t);
    ck_assert_int_eq(tropt_tracker_log_fields(t, NULL, 0), TROPT_OK); /* an empty step */
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    sqlite3 *db = tq_db(f.db);
    ck_assert_int_eq(tq_int(db, "SELECT config IS NULL FROM runs WHERE run_id = %Q", run), 1);
    tq_text_eq(db, TROPT_DEFAULT_EXPERIMENT, "SELECT experiment FROM runs WHERE run_id = %Q", run);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM params"), 0);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM summary"), 0);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics"), 0);
    sqlite3_close(db);
    free(run);
    fx_free(&f);
}
END_TEST

/* One tracker, three runs: finished, finished, then aborted by free. */
START_TEST(test_three_runs)
{
    fixture f = fx_new();
    tropt_tracker *t = tq_open(f.db, NULL, "three");
    char *ids[3];
    for (int r = 0; r < 3; r++) {
        ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
        ids[r] = run_id_copy(t);
        for (int s = 0; s < 3 + r; s++) {
            tropt_field fl[] = {TROPT_F_REAL("loss", 10.0 * r + s), TROPT_F_INT("s", s)};
            ck_assert_int_eq(tropt_tracker_log_fields(t, fl, 2), TROPT_OK);
        }
        if (r < 2)
            ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    }
    ck_assert_int_eq(tropt_tracker_is_active(t), 1);
    tropt_tracker_free(t);

    sqlite3 *db = tq_db(f.db);
    const char *want[3] = {"finished", "finished", "aborted"};
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM runs"), 3);
    for (int r = 0; r < 3; r++) {
        char *st = tq_text(db, "SELECT status FROM runs WHERE run_id = %Q", ids[r]);
        ck_assert_ptr_nonnull(st);
        ck_assert_str_eq(st, want[r]);
        free(st);
        ck_assert_int_eq(
            tq_int(db, "SELECT ended_at >= started_at FROM runs WHERE run_id = %Q", ids[r]), 1);
        /* Steps 0..n-1, every value there. */
        ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics WHERE run_id = %Q", ids[r]),
                         2 * (3 + r));
        ck_assert_int_eq(tq_int(db,
                                "SELECT count(*) FROM metrics WHERE run_id = %Q AND key = 's'"
                                " AND value = step",
                                ids[r]),
                         3 + r);
        ck_assert_int_eq(tq_int(db,
                                "SELECT count(*) FROM metrics WHERE run_id = %Q AND"
                                " key = 'loss' AND value = %d.0 + step",
                                ids[r], 10 * r),
                         3 + r);
        for (int o = 0; o < r; o++)
            ck_assert_str_ne(ids[r], ids[o]);
    }
    /* The key is stored once, however many runs and steps use it. */
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM tropt_key WHERE name = 'loss'"), 1);
    tq_assert_integrity(db);
    sqlite3_close(db);
    for (int r = 0; r < 3; r++)
        free(ids[r]);
    fx_free(&f);
}
END_TEST

/* Thousands of distinct keys (the intern table grows) and their reuse. */
START_TEST(test_many_keys)
{
    fixture f = fx_new();
    tropt_tracker *t = tq_open(f.db, NULL, "keys");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    enum { NK = 3000 };
    static char names[NK][16];
    static tropt_field fl[NK];
    for (int s = 0; s < 3; s++) {
        for (int k = 0; k < NK; k++) {
            snprintf(names[k], sizeof names[k], "k%d", k);
            fl[k] = TROPT_F_INT(names[k], (int64_t)k * 1000 + s);
        }
        ck_assert_int_eq(tropt_tracker_log_fields(t, fl, NK), TROPT_OK);
    }
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    sqlite3 *db = tq_db(f.db);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics"), 3 * NK);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM tropt_key"), NK);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics WHERE value ="
                                " CAST(substr(key, 2) AS INTEGER) * 1000 + step"),
                     3 * NK);
    sqlite3_close(db);
    fx_free(&f);
}
END_TEST

/* A key's id is looked up once per tracker, not per step: rename the key's
 * row behind the tracker's back after step 0; step 1 still uses the cached
 * id (a per-step lookup would have inserted a fresh 'loss' row). */
START_TEST(test_key_cached)
{
    fixture f = fx_new();
    tropt_tracker *t = tq_open(f.db, NULL, "cache");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    tropt_field fl[] = {TROPT_F_REAL("loss", 1.0)};
    ck_assert_int_eq(tropt_tracker_log_fields(t, fl, 1), TROPT_OK);
    sqlite3 *db = tq_db(f.db);
    ck_assert_int_eq(sqlite3_exec(db, "UPDATE tropt_key SET name = 'renamed' WHERE name = 'loss'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(tropt_tracker_log_fields(t, fl, 1), TROPT_OK);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM tropt_key WHERE name = 'loss'"), 0);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics WHERE key = 'renamed'"), 2);
    sqlite3_close(db);
    tropt_tracker_free(t);
    fx_free(&f);
}
END_TEST

/* commit_every=N holds steps until N; flush and finish are barriers. */
START_TEST(test_batch_barriers)
{
    fixture f = fx_new();
    tropt_tracker *t = tq_open(f.db, "commit_every=1000", "batch");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    sqlite3 *db = tq_db(f.db);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM runs WHERE status = 'running'"), 1);
    for (int s = 0; s < 10; s++) {
        tropt_field fl[] = {TROPT_F_INT("s", s)};
        ck_assert_int_eq(tropt_tracker_log_fields(t, fl, 1), TROPT_OK);
    }
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics"), 0);
    ck_assert_int_eq(tropt_tracker_flush(t), TROPT_OK);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics"), 10);
    tropt_field fl[] = {TROPT_F_INT("s", 10)};
    ck_assert_int_eq(tropt_tracker_log_fields(t, fl, 1), TROPT_OK);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics"), 10);
    json_t *sum = json_pack("{s:i}", "n", 11);
    ck_assert_int_eq(tropt_tracker_finish(t, sum), TROPT_OK);
    json_decref(sum);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics"), 11);
    ck_assert_int_eq(tq_int(db, "SELECT value FROM summary WHERE key = 'n'"), 11);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM runs WHERE status = 'finished'"), 1);
    sqlite3_close(db);
    tropt_tracker_free(t);
    fx_free(&f);
}
END_TEST

/* Reopening, schema version stamp, newer or foreign databases refused. */
START_TEST(test_schema_version)
{
    fixture f = fx_new();
    for (int i = 0; i < 2; i++) { /* create, then reopen */
        tropt_tracker *t = tq_open(f.db, NULL, "v");
        ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
        ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
        tropt_tracker_free(t);
    }
    sqlite3 *db = tq_db(f.db);
    ck_assert_int_eq(tq_int(db, "PRAGMA user_version"), 4);
    ck_assert_int_eq(tq_int(db, "PRAGMA application_id"), 0x54726f70);
    tq_text_eq(db, "wal", "PRAGMA journal_mode");
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM runs"), 2);
    ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    char *spec = tq_spec(f.db, NULL);
    tropt_tracker *t = NULL;
    ck_assert_int_eq(tropt_tracker_open(&t, spec, NULL, NULL), TROPT_EBACKEND);
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(tropt_error_message(), f.db) &&
                      strstr(tropt_error_message(), "schema version 99"),
                  "message: %s", tropt_error_message());
    free(spec);

    /* Another application's database. */
    char *other = tu_path(f.dir, "other.db");
    ck_assert_int_eq(sqlite3_open(other, &db), SQLITE_OK);
    ck_assert_int_eq(
        sqlite3_exec(db, "PRAGMA application_id = 42; CREATE TABLE a(x)", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    spec = tq_spec(other, NULL);
    ck_assert_int_eq(tropt_tracker_open(&t, spec, NULL, NULL), TROPT_EBACKEND);
    ck_assert_msg(strstr(tropt_error_message(), other) &&
                      strstr(tropt_error_message(), "not a tropt database"),
                  "message: %s", tropt_error_message());
    free(spec);
    /* ... and one without an application_id (most applications set none):
     * refused too, with the file byte for byte as it was, no WAL switch, no
     * -wal file (issue 18 #13: tables, pragmas and WAL were added first) */
    char *plain = tu_path(f.dir, "plain.db");
    ck_assert_int_eq(sqlite3_open(plain, &db), SQLITE_OK);
    ck_assert_int_eq(
        sqlite3_exec(db, "CREATE TABLE notes(x); INSERT INTO notes VALUES (1)", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    size_t len0, len1;
    char *before = tu_read_file(plain, &len0);
    spec = tq_spec(plain, NULL);
    ck_assert_int_eq(tropt_tracker_open(&t, spec, NULL, NULL), TROPT_EBACKEND);
    ck_assert_msg(strstr(tropt_error_message(), "not a tropt database") &&
                      strstr(tropt_error_message(), "left untouched"),
                  "message: %s", tropt_error_message());
    char *after = tu_read_file(plain, &len1);
    ck_assert_msg(len0 == len1 && memcmp(before, after, len0) == 0, "the file was modified");
    char *wal = tu_strdupf("%s-wal", plain);
    ck_assert_int_ne(access(wal, F_OK), 0);
    ck_assert_int_eq(sqlite3_open(plain, &db), SQLITE_OK);
    tq_text_eq(db, "delete", "PRAGMA journal_mode");
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM sqlite_master"), 1);
    sqlite3_close(db);
    free(wal);
    free(before);
    free(after);
    free(spec);
    free(plain);
    free(other);
    fx_free(&f);
}
END_TEST

/* Replaying a run (same id, same steps) does not duplicate a step. */
START_TEST(test_replay_idempotent)
{
    fixture f = fx_new();
    const char *id = "01890a5d-ac96-774b-bcce-b302099a8057";
    for (int pass = 0; pass < 2; pass++) {
        tropt_tracker *t = tq_open(f.db, NULL, "replay");
        tropt_run_info info = {.run_id = id, .started_at = 1700000000.5, .host = "h", .pid = 1};
        ck_assert_int_eq(tropt_tracker_init_run(t, &info, NULL), TROPT_OK);
        for (int s = 0; s < 4; s++) {
            tropt_field fl[] = {TROPT_F_INT("s", s), TROPT_F_REAL("x", s * 0.5)};
            ck_assert_int_eq(tropt_tracker_log_fields_at(t, s, 1700000001.0 + s, fl, 2), TROPT_OK);
        }
        ck_assert_int_eq(tropt_tracker_finish_run(t, "finished", 1700000010.0, NULL), TROPT_OK);
        tropt_tracker_free(t);
    }
    sqlite3 *db = tq_db(f.db);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM runs"), 1);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics WHERE run_id = %Q", id), 8);
    ck_assert_int_eq(tq_int(db,
                            "SELECT count(*) FROM metrics WHERE run_id = %Q AND"
                            " time = 1700000001.0 + step",
                            id),
                     8);
    ck_assert_int_eq(tq_int(db, "SELECT started_at = 1700000000.5 AND ended_at = 1700000010.0 AND"
                                " host = 'h' AND pid = 1 AND status = 'finished' FROM runs"),
                     1);
    sqlite3_close(db);
    fx_free(&f);
}
END_TEST

/* Bad options fail at open, before any file is made. */
START_TEST(test_bad_options)
{
    fixture f = fx_new();
    const char *bad[] = {"commit_every=0", "commit_every=x", "sync=sometimes",
                         "commit_interval=-1s", "colour=red"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *spec = tq_spec(f.db, bad[i]);
        tropt_tracker *t = NULL;
        ck_assert_msg(tropt_tracker_open(&t, spec, NULL, NULL) == TROPT_EINVAL, "%s accepted",
                      spec);
        free(spec);
    }
    ck_assert_int_ne(access(f.db, F_OK), 0);
    tropt_tracker *t = tq_open(f.db,
                               "commit_every=5,commit_interval=250ms,sync=full,"
                               "busy_timeout=2s",
                               NULL);
    tropt_tracker_free(t);
    ck_assert_int_eq(access(f.db, F_OK), 0);
    fx_free(&f);
}
END_TEST

/* Allocation failures: fail the Nth allocation, N = 1, 2, ... until a whole
 * open/init/log/finish/free sequence runs without one.  Every call must
 * return a code (never crash), nothing may leak (the sanitizer build checks),
 * and the final, undisturbed sequence stores everything. */
static long alloc_count, alloc_fail_at;
static int alloc_injected;

static int should_fail(void)
{
    if (++alloc_count == alloc_fail_at) {
        alloc_injected = 1;
        return 1;
    }
    return 0;
}

static void *chaos_malloc(size_t n)
{
    return should_fail() ? NULL : malloc(n);
}

static void *chaos_realloc(void *p, size_t n)
{
    return should_fail() ? NULL : realloc(p, n);
}

static int allowed(int rc)
{
    return rc == TROPT_OK || rc == TROPT_ENOMEM || rc == TROPT_EBACKEND;
}

START_TEST(test_alloc_failures)
{
    fixture f = fx_new();
    tropt_allocator a = {chaos_malloc, chaos_realloc, free};
    json_t *cfg = json_pack("{s:f,s:{s:s}}", "lr", 0.1, "opt", "name", "adam");
    json_t *sum = json_pack("{s:f}", "best", 0.5);
    char *spec = tq_spec(f.db, NULL);
    long n;
    for (n = 1;; n++) {
        ck_assert_msg(n < 20000, "allocations never stop failing");
        char *wal = tu_strdupf("%s-wal", f.db), *shm = tu_strdupf("%s-shm", f.db);
        unlink(f.db);
        unlink(wal);
        unlink(shm);
        free(wal);
        free(shm);
        alloc_count = 0;
        alloc_fail_at = n;
        alloc_injected = 0;
        ck_assert_int_eq(tropt_set_allocator(&a), TROPT_OK);
        tropt_tracker *t = NULL;
        int rc = tropt_tracker_open(&t, spec, "chaos", NULL);
        ck_assert_msg(allowed(rc), "open: %s", tropt_error_name(rc));
        if (rc == TROPT_OK) {
            rc = tropt_tracker_init(t, cfg);
            ck_assert_msg(allowed(rc), "init: %s", tropt_error_name(rc));
            for (int s = 0; s < 3; s++) {
                char key[16];
                snprintf(key, sizeof key, "k%d", s); /* a new key each step */
                tropt_field fl[] = {TROPT_F_REAL("loss", 1.0 / (s + 1)), TROPT_F_INT(key, s),
                                    TROPT_F_STR("s", "text")};
                rc = tropt_tracker_log_fields(t, fl, 3);
                ck_assert_msg(allowed(rc) || rc == TROPT_ESTATE, "log: %s", tropt_error_name(rc));
            }
            rc = tropt_tracker_finish(t, sum);
            ck_assert_msg(allowed(rc), "finish: %s", tropt_error_name(rc));
            tropt_tracker_free(t);
        } else {
            ck_assert_ptr_null(t);
        }
        ck_assert_int_eq(tropt_set_allocator(NULL), TROPT_OK);
        if (!alloc_injected)
            break;
    }
    ck_assert_int_gt(n, 10);
    /* The undisturbed last round wrote everything. */
    sqlite3 *db = tq_db(f.db);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics"), 9);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM params"), 2);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM summary"), 1);
    tq_text_eq(db, "finished", "SELECT status FROM runs");
    sqlite3_close(db);
    json_decref(cfg);
    json_decref(sum);
    free(spec);
    fx_free(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sqlite-values");
    TCase *tc = tcase_create("values");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_field_types);
    tcase_add_test(tc, test_config_and_summary);
    tcase_add_test(tc, test_no_config);
    tcase_add_test(tc, test_three_runs);
    tcase_add_test(tc, test_many_keys);
    tcase_add_test(tc, test_key_cached);
    tcase_add_test(tc, test_batch_barriers);
    tcase_add_test(tc, test_schema_version);
    tcase_add_test(tc, test_replay_idempotent);
    tcase_add_test(tc, test_bad_options);
    tcase_add_test(tc, test_alloc_failures);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
