/*
 * tests/pg/test_pg_values.c - what the pg backend stores, read back through
 * the views with libpq (and once with psycopg2, as a user's pandas would),
 * compared exactly; the loss table; options and secrets.
 */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pg_tu.h"

/* The float8 bits of a value as float8send shows them: "\x3ff0...". */
static char *bits_hex(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return tu_strdupf("\\x%016" PRIx64, u);
}

/* One metric row: kind, float8send(value), value_int, value_text. */
static PGresult *metric(PGconn *c, const char *schema, const char *run, int64_t step,
                        const char *key)
{
    char *k = PQescapeLiteral(c, key, strlen(key));
    PGresult *r = pgtu_q(c,
                         "SELECT kind, float8send(value), value_int, value_text, value IS NULL"
                         " FROM %s.metrics WHERE run_id = '%s' AND step = %" PRId64 " AND key = %s",
                         schema, run, step, k);
    PQfreemem(k);
    ck_assert_msg(PQntuples(r) == 1, "metric %s: %d rows", key, PQntuples(r));
    return r;
}

static void expect_real(PGconn *c, const char *schema, const char *run, const char *key, double v)
{
    PGresult *r = metric(c, schema, run, 0, key);
    ck_assert_str_eq(PQgetvalue(r, 0, 0), "real");
    char *want = bits_hex(v);
    ck_assert_msg(strcmp(PQgetvalue(r, 0, 1), want) == 0, "%s: %s != %s (%.17g)", key,
                  PQgetvalue(r, 0, 1), want, v);
    ck_assert_str_eq(PQgetvalue(r, 0, 4), "f"); /* NaN is never NULL */
    free(want);
    PQclear(r);
}

static void expect_int(PGconn *c, const char *schema, const char *run, const char *key,
                       const char *kind, const char *text)
{
    PGresult *r = metric(c, schema, run, 0, key);
    ck_assert_str_eq(PQgetvalue(r, 0, 0), kind);
    ck_assert_str_eq(PQgetvalue(r, 0, 2), text);
    PQclear(r);
}

static void expect_text(PGconn *c, const char *schema, const char *run, const char *key,
                        const char *kind, const char *text)
{
    PGresult *r = metric(c, schema, run, 0, key);
    ck_assert_str_eq(PQgetvalue(r, 0, 0), kind);
    ck_assert_msg(!PQgetisnull(r, 0, 3), "%s: NULL text", key);
    ck_assert_msg(strcmp(PQgetvalue(r, 0, 3), text) == 0, "%s: '%s' != '%s'", key,
                  PQgetvalue(r, 0, 3), text);
    ck_assert_str_eq(PQgetvalue(r, 0, 4), "t");
    PQclear(r);
}

static const char *weird = "a,b\"c\nd/e \xc3\xa9\xe2\x82\xac \xf0\x9f\x98\x80";

/* Log one step of every type into `schema`; returns the run id (malloc'd). */
static char *log_all_types(const char *schema, const char *extra)
{
    char *spec = pgtu_spec(schema, extra);
    tropt_tracker *t = NULL;
    ck_assert_msg(tropt_tracker_open(&t, spec, "types", NULL) == TROPT_OK, "open: %s",
                  tropt_error_message());
    json_t *cfg =
        json_pack("{s:f,s:I,s:s,s:{s:b},s:[i,f]}", "lr", 0.1, "big", (json_int_t)INT64_MAX, "opt",
                  weird, "nested", "flag", 1, "betas", 1, 0.999);
    ck_assert_int_eq(tropt_tracker_init(t, cfg), TROPT_OK);
    json_t *arr = json_pack("[f,i,s]", 0.5, 7, "x");
    json_t *empty = json_object();
    tropt_field f[] = {
        TROPT_F_INT("imax", INT64_MAX),
        TROPT_F_INT("imin", INT64_MIN),
        TROPT_F_INT("zero", 0),
        TROPT_F_REAL("tenth", 0.1),
        TROPT_F_REAL("negzero", -0.0),
        TROPT_F_REAL("huge", 1e300),
        TROPT_F_REAL("denorm", 4.9406564584124654e-324),
        TROPT_F_REAL("third", 1.0 / 3.0),
        TROPT_F_REAL("nan", NAN),
        TROPT_F_REAL("pinf", INFINITY),
        TROPT_F_REAL("ninf", -INFINITY),
        TROPT_F_BOOL("yes", 1),
        TROPT_F_BOOL("no", 0),
        TROPT_F_STR("str", weird),
        TROPT_F_STR("empty", ""),
        TROPT_F_STR("nanstr", "NaN"),
        TROPT_F_NULL("nothing"),
        TROPT_F_JSON("arr", arr),
        TROPT_F_JSON("obj", empty),
        TROPT_F_REAL("a,b\"c\nd/e", 2.5),
    };
    ck_assert_int_eq(tropt_tracker_log_fields(t, f, sizeof f / sizeof *f), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_log_fields(t, NULL, 0), TROPT_OK); /* a step without fields */
    tropt_field g[] = {TROPT_F_REAL("loss", 0.25)};
    ck_assert_int_eq(tropt_tracker_log_fields(t, g, 1), TROPT_OK);
    json_t *sum =
        json_pack("{s:f,s:I,s:s}", "best", 0.125, "n", (json_int_t)INT64_MIN, "note", weird);
    char *run = strdup(tropt_tracker_run_id(t));
    ck_assert_int_eq(tropt_tracker_finish(t, sum), TROPT_OK);
    tropt_tracker_free(t);
    json_decref(sum);
    json_decref(arr);
    json_decref(empty);
    json_decref(cfg);
    free(spec);
    return run;
}

static void check_all_types(const char *schema, const char *run)
{
    PGconn *c = pgtu_connect();
    const char *s = schema;
    expect_int(c, s, run, "imax", "int", "9223372036854775807");
    expect_int(c, s, run, "imin", "int", "-9223372036854775808");
    expect_int(c, s, run, "zero", "int", "0");
    expect_real(c, s, run, "tenth", 0.1);
    expect_real(c, s, run, "negzero", -0.0);
    expect_real(c, s, run, "huge", 1e300);
    expect_real(c, s, run, "denorm", 4.9406564584124654e-324);
    expect_real(c, s, run, "third", 1.0 / 3.0);
    expect_real(c, s, run, "pinf", INFINITY);
    expect_real(c, s, run, "ninf", -INFINITY);
    /* NaN: PostgreSQL has one NaN; it is a float8 NaN, not NULL. */
    ck_assert_int_eq(pgtu_i64(c,
                              "SELECT count(*) FROM %s.metrics WHERE run_id = '%s' AND key = 'nan'"
                              " AND kind = 'real' AND value = 'NaN'::float8 AND value IS NOT NULL",
                              s, run),
                     1);
    expect_int(c, s, run, "yes", "bool", "1");
    expect_int(c, s, run, "no", "bool", "0");
    expect_text(c, s, run, "str", "string", weird);
    expect_text(c, s, run, "empty", "string", "");
    expect_text(c, s, run, "nanstr", "string", "NaN");
    expect_text(c, s, run, "arr", "json", "[0.5,7,\"x\"]");
    expect_text(c, s, run, "obj", "json", "{}");
    expect_real(c, s, run, "a,b\"c\nd/e", 2.5);
    PGresult *r = metric(c, s, run, 0, "nothing");
    ck_assert_str_eq(PQgetvalue(r, 0, 0), "null");
    ck_assert(PQgetisnull(r, 0, 1) && PQgetisnull(r, 0, 2) && PQgetisnull(r, 0, 3));
    PQclear(r);
    /* the step without fields has no metrics row; the next step is 2 */
    ck_assert_int_eq(
        pgtu_i64(c, "SELECT count(*) FROM %s.metrics WHERE run_id = '%s' AND step = 1", s, run), 0);
    ck_assert_int_eq(pgtu_i64(c,
                              "SELECT count(*) FROM %s.metrics WHERE run_id = '%s' AND step = 2"
                              " AND key = 'loss' AND value = 0.25",
                              s, run),
                     1);
    /* runs */
    r = pgtu_q(c,
               "SELECT experiment, status, host, pid, config::jsonb = '{\"lr\":0.1,"
               "\"big\":9223372036854775807,\"opt\":%s,\"nested\":{\"flag\":true},"
               "\"betas\":[1,0.999]}'::jsonb, ended_at >= started_at, started_at > 1.7e9"
               " FROM %s.runs WHERE run_id = '%s'",
               "\"a,b\\\"c\\nd/e \xc3\xa9\xe2\x82\xac \xf0\x9f\x98\x80\"", s, run);
    ck_assert_int_eq(PQntuples(r), 1);
    ck_assert_str_eq(PQgetvalue(r, 0, 0), "types");
    ck_assert_str_eq(PQgetvalue(r, 0, 1), "finished");
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    ck_assert_str_eq(PQgetvalue(r, 0, 2), host);
    ck_assert_int_eq(atoll(PQgetvalue(r, 0, 3)), getpid());
    ck_assert_str_eq(PQgetvalue(r, 0, 4), "t");
    ck_assert_str_eq(PQgetvalue(r, 0, 5), "t");
    ck_assert_str_eq(PQgetvalue(r, 0, 6), "t");
    PQclear(r);
    /* params: flattened config */
    r = pgtu_q(c,
               "SELECT key, kind, float8send(value), value_int, value_text FROM %s.params"
               " WHERE run_id = '%s' ORDER BY key",
               s, run);
    ck_assert_int_eq(PQntuples(r), 5);
    ck_assert_str_eq(PQgetvalue(r, 0, 0), "betas");
    ck_assert_str_eq(PQgetvalue(r, 0, 1), "json");
    ck_assert_str_eq(PQgetvalue(r, 0, 4), "[1,0.999]");
    ck_assert_str_eq(PQgetvalue(r, 1, 0), "big");
    ck_assert_str_eq(PQgetvalue(r, 1, 3), "9223372036854775807");
    ck_assert_str_eq(PQgetvalue(r, 2, 0), "lr");
    char *tenth = bits_hex(0.1);
    ck_assert_str_eq(PQgetvalue(r, 2, 2), tenth);
    ck_assert_str_eq(PQgetvalue(r, 3, 0), "nested/flag");
    ck_assert_str_eq(PQgetvalue(r, 3, 1), "bool");
    ck_assert_str_eq(PQgetvalue(r, 3, 3), "1");
    ck_assert_str_eq(PQgetvalue(r, 4, 0), "opt");
    ck_assert_str_eq(PQgetvalue(r, 4, 4), weird);
    PQclear(r);
    /* summary */
    r = pgtu_q(c,
               "SELECT key, kind, float8send(value), value_int, value_text FROM %s.summary"
               " WHERE run_id = '%s' ORDER BY key",
               s, run);
    ck_assert_int_eq(PQntuples(r), 3);
    ck_assert_str_eq(PQgetvalue(r, 0, 0), "best");
    char *eighth = bits_hex(0.125);
    ck_assert_str_eq(PQgetvalue(r, 0, 2), eighth);
    ck_assert_str_eq(PQgetvalue(r, 1, 3), "-9223372036854775808");
    ck_assert_str_eq(PQgetvalue(r, 2, 4), weird);
    PQclear(r);
    free(tenth);
    free(eighth);
    PQfinish(c);
}

START_TEST(test_types_durable)
{
    char *run = log_all_types("types_a", NULL);
    check_all_types("types_a", run);
    free(run);
}
END_TEST

/* The batched path (binary COPY) stores the same bits. */
START_TEST(test_types_batched)
{
    char *run = log_all_types("types_b", "commit_every=1000");
    check_all_types("types_b", run);
    /* and a batch large enough for COPY */
    char *spec = pgtu_spec("types_b", "commit_every=1000");
    tropt_tracker *t = NULL;
    ck_assert_int_eq(tropt_tracker_open(&t, spec, "copy", NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    for (int i = 0; i < 600; i++) {
        tropt_field f[] = {TROPT_F_INT("i", (int64_t)i * 1000000007LL),
                           TROPT_F_REAL("x", 1.0 / (i + 1)), TROPT_F_REAL("nan", NAN),
                           TROPT_F_STR("s", weird)};
        ck_assert_int_eq(tropt_tracker_log_fields(t, f, 4), TROPT_OK);
    }
    char *run2 = strdup(tropt_tracker_run_id(t));
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    PGconn *c = pgtu_connect();
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM types_b.metrics WHERE run_id = '%s'", run2),
                     2400);
    /* every x bit-exact: compare with the value computed by the server from the step */
    ck_assert_int_eq(
        pgtu_i64(c,
                 "SELECT count(*) FROM types_b.metrics WHERE run_id = '%s' AND"
                 " ((key = 'x' AND value = 1.0::float8 / (step + 1)) OR"
                 " (key = 'i' AND value_int = step * 1000000007) OR"
                 " (key = 'nan' AND value = 'NaN') OR (key = 's' AND value_text = %s))",
                 run2, "E'a,b\"c\\nd/e \xc3\xa9\xe2\x82\xac \xf0\x9f\x98\x80'"),
        2400);
    PQfinish(c);
    free(run2);
    free(spec);
    free(run);
}
END_TEST

START_TEST(test_psycopg2)
{
    char *run = log_all_types("types_py", NULL);
    char *ci = pgtu_conninfo();
    char *script = tu_strdupf("%s/tests/pg/read_views.py", tu_source_root());
    /* Debian's python3-psycopg2 belongs to the system python */
    const char *py = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    char *cmd = tu_strdupf("%s '%s' '%s' types_py '%s' 2>&1", py, script, ci, run);
    char *out = NULL;
    int rc = tu_run(cmd, &out, 1);
    ck_assert_msg(rc == 0 && out && strstr(out, "psycopg2: all values exact"), "rc %d:\n%s", rc,
                  out ? out : "");
    free(out);
    free(cmd);
    free(script);
    free(ci);
    free(run);
}
END_TEST

/* Replaying a run (same run id, same steps) adds no row. */
START_TEST(test_replay_no_duplicate)
{
    for (int mode = 0; mode < 2; mode++) {
        char *spec = pgtu_spec("replay_v", mode ? "commit_every=1000" : NULL);
        const char *id =
            mode ? "0190a0b0-0000-7000-8000-000000000002" : "0190a0b0-0000-7000-8000-000000000001";
        for (int pass = 0; pass < 2; pass++) {
            tropt_tracker *t = NULL;
            ck_assert_int_eq(tropt_tracker_open(&t, spec, "replay", NULL), TROPT_OK);
            tropt_run_info info = {.run_id = id, .host = "elsewhere", .pid = 4242};
            ck_assert_int_eq(tropt_tracker_init_run(t, &info, NULL), TROPT_OK);
            for (int i = 0; i < 400; i++) {
                tropt_field f[] = {TROPT_F_INT("i", i), TROPT_F_REAL("x", i * 0.5)};
                ck_assert_int_eq(tropt_tracker_log_fields_at(t, i, 1.8e9 + i, f, 2), TROPT_OK);
            }
            ck_assert_int_eq(tropt_tracker_finish_run(t, "finished", 1.8e9 + 500, NULL), TROPT_OK);
            tropt_tracker_free(t);
        }
        PGconn *c = pgtu_connect();
        ck_assert_int_eq(
            pgtu_i64(c, "SELECT count(*) FROM replay_v.metrics WHERE run_id = '%s'", id), 800);
        ck_assert_int_eq(pgtu_i64(c,
                                  "SELECT count(*) FROM replay_v.runs WHERE run_id = '%s' AND"
                                  " host = 'elsewhere' AND pid = 4242 AND status = 'finished'",
                                  id),
                         1);
        PQfinish(c);
        free(spec);
    }
}
END_TEST

/* The same step twice in one batch (one INSERT statement, or one COPY that
 * falls back to it): stored once, the first write wins. */
START_TEST(test_same_step_in_one_batch)
{
    for (int mode = 0; mode < 2; mode++) {
        char *spec = pgtu_spec("dup_batch", "commit_every=1000");
        tropt_tracker *t = NULL;
        ck_assert_int_eq(tropt_tracker_open(&t, spec, "dup", NULL), TROPT_OK);
        ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
        int n = mode ? 300 : 4; /* 4 steps: one INSERT; 300: COPY */
        for (int i = 0; i < n; i++) {
            tropt_field f = TROPT_F_INT("i", i);
            ck_assert_int_eq(tropt_tracker_log_fields_at(t, i, 1.8e9 + i, &f, 1), TROPT_OK);
        }
        tropt_field again = TROPT_F_INT("i", -1);
        ck_assert_int_eq(tropt_tracker_log_fields_at(t, 2, 1.8e9, &again, 1), TROPT_OK);
        char *run = strdup(tropt_tracker_run_id(t));
        ck_assert_msg(tropt_tracker_finish(t, NULL) == TROPT_OK, "%s", tropt_error_message());
        tropt_tracker_free(t);
        PGconn *c = pgtu_connect();
        ck_assert_int_eq(
            pgtu_i64(c, "SELECT count(*) FROM dup_batch.metrics WHERE run_id = '%s'", run), n);
        ck_assert_int_eq(pgtu_i64(c,
                                  "SELECT value_int FROM dup_batch.metrics WHERE run_id = '%s'"
                                  " AND step = 2",
                                  run),
                         2);
        PQfinish(c);
        free(run);
        free(spec);
    }
}
END_TEST

/* Steps of a run in a schema. */
static int64_t run_steps(const char *schema, const char *run)
{
    PGconn *c = pgtu_connect();
    int64_t n = pgtu_i64(c, "SELECT count(*) FROM %s.metrics WHERE run_id = '%s'", schema, run);
    PQfinish(c);
    return n;
}

/* The loss table: a killed process loses at most what the README says.
 * The child logs `steps` steps and ends without finish or free.  With
 * `wait_for_timer`, it stays alive (logging nothing more) until the test
 * has seen every step committed, however late the commit timer runs, and
 * is then killed; without a timer they would never come and the wait
 * ends at its deadline with fewer. */
static int64_t killed_after(const char *schema, const char *extra, int steps, int wait_for_timer,
                            char **run)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        char *spec = pgtu_spec(schema, extra);
        tropt_tracker *t = NULL;
        if (tropt_tracker_open(&t, spec, "kill", NULL) != TROPT_OK ||
            tropt_tracker_init(t, NULL) != TROPT_OK)
            _exit(3);
        if (write(fds[1], tropt_tracker_run_id(t), 36) != 36)
            _exit(4);
        for (int i = 0; i < steps; i++) {
            tropt_field f = TROPT_F_INT("i", i);
            if (tropt_tracker_log_fields(t, &f, 1) != TROPT_OK)
                _exit(5);
        }
        if (wait_for_timer)
            pause(); /* killed here */
        _exit(0);    /* no finish, no free */
    }
    close(fds[1]);
    char id[37] = "";
    ck_assert_int_eq(read(fds[0], id, 36), 36);
    close(fds[0]);
    int st;
    if (wait_for_timer) {
        double dl = tu_deadline(TU_WAIT_S);
        while (run_steps(schema, id) < steps && waitpid(pid, &st, WNOHANG) == 0 && tu_poll(dl)) {
        }
        kill(pid, SIGKILL);
    }
    waitpid(pid, &st, 0);
    if (wait_for_timer)
        ck_assert_msg(WIFSIGNALED(st), "child status %d", st);
    else
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
    if (run)
        *run = strdup(id);
    return run_steps(schema, id);
}

START_TEST(test_loss_table)
{
    /* default: every step whose log returned */
    ck_assert_int_eq(killed_after("loss", NULL, 37, 0, NULL), 37);
    /* commit_every=N: at most N-1 lost */
    ck_assert_int_eq(killed_after("loss", "commit_every=10", 25, 0, NULL), 20);
    /* commit_interval=T: everything older than T + C */
    ck_assert_int_eq(killed_after("loss", "commit_interval=200ms", 25, 1, NULL), 25);
    /* both: whichever first */
    ck_assert_int_eq(killed_after("loss", "commit_every=10,commit_interval=200ms", 25, 1, NULL),
                     25);
}
END_TEST

/* A schema written by a newer release is refused, naming its version. */
START_TEST(test_newer_schema)
{
    char *spec = pgtu_spec("newer", NULL);
    tropt_tracker *t = NULL;
    ck_assert_int_eq(tropt_tracker_open(&t, spec, "x", NULL), TROPT_OK);
    tropt_tracker_free(t);
    PGconn *c = pgtu_connect();
    PQclear(pgtu_q(c, "UPDATE newer.tropt_version SET version = 7"));
    PQfinish(c);
    int rc = tropt_tracker_open(&t, spec, "x", NULL);
    ck_assert_int_eq(rc, TROPT_EBACKEND);
    ck_assert_msg(strstr(tropt_error_message(), "version 7") &&
                      strstr(tropt_error_message(), "newer"),
                  "%s", tropt_error_message());
    free(spec);
}
END_TEST

START_TEST(test_bad_options)
{
    tropt_tracker *t = NULL;
    ck_assert_int_eq(tropt_tracker_open(&t, "pg:commit_every=0", "x", NULL), TROPT_EINVAL);
    ck_assert_int_eq(tropt_tracker_open(&t, "pg:schema=\"a;b\"", "x", NULL), TROPT_EINVAL);
    ck_assert_int_eq(tropt_tracker_open(&t, "pg:password_env=TROPT_NO_SUCH_VAR_X", "x", NULL),
                     TROPT_EINVAL);
    ck_assert_int_eq(tropt_tracker_open(&t, "pg:conninfo=\"host= = x\"", "x", NULL), TROPT_EINVAL);
}
END_TEST

static void assert_no_secret(const char *what, const char *text)
{
    ck_assert_msg(!text || !strstr(text, PGTU_PASSWORD), "%s shows the password:\n%s", what, text);
}

/* The password never shows: messages, tropt check, tropt plugins. */
START_TEST(test_secret)
{
    /* right password over TCP works */
    char *ci = pgtu_conninfo_tcp(PGTU_PASSWORD);
    char *spec = tu_strdupf("pg:conninfo=\"%s\",schema=secret", ci);
    tu_capture_start();
    tropt_tracker *t = NULL;
    ck_assert_msg(tropt_tracker_open(&t, spec, "s", NULL) == TROPT_OK, "%s", tropt_error_message());
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    tropt_field f = TROPT_F_INT("i", 1);
    ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    /* wrong password: EBACKEND with libpq's reason, without either password */
    char *bad = pgtu_conninfo_tcp("Wrong-" PGTU_PASSWORD);
    char *badspec = tu_strdupf("pg:conninfo=\"%s\",schema=secret", bad);
    ck_assert_int_eq(tropt_tracker_open(&t, badspec, "s", NULL), TROPT_EBACKEND);
    const char *m = tropt_error_message();
    ck_assert_msg(strstr(m, "password authentication failed"), "%s", m);
    ck_assert_msg(strstr(m, "127.0.0.1"), "%s", m);
    assert_no_secret("the error", m);
    /* password_env: the password comes from the environment */
    char *nopw = tu_strdupf("host=127.0.0.1 port=%d dbname=postgres user=" PGTU_USER, pgtu.port);
    setenv("TROPT_TEST_PGPW", PGTU_PASSWORD, 1);
    char *envspec =
        tu_strdupf("pg:conninfo=\"%s\",schema=secret,password_env=TROPT_TEST_PGPW", nopw);
    ck_assert_msg(tropt_tracker_open(&t, envspec, "s", NULL) == TROPT_OK, "%s",
                  tropt_error_message());
    tropt_tracker_free(t);
    /* PGPASSWORD (libpq's own) keeps working */
    setenv("PGPASSWORD", PGTU_PASSWORD, 1);
    char *plain = tu_strdupf("pg:conninfo=\"%s\",schema=secret", nopw);
    ck_assert_msg(tropt_tracker_open(&t, plain, "s", NULL) == TROPT_OK, "%s",
                  tropt_error_message());
    tropt_tracker_free(t);
    unsetenv("PGPASSWORD");
    /* and so does a password file (PGPASSFILE, like ~/.pgpass) */
    char *pdir = tu_mkdtemp();
    char *pfile = tu_path(pdir, "pgpass");
    char *line = tu_strdupf("127.0.0.1:%d:*:" PGTU_USER ":" PGTU_PASSWORD "\n", pgtu.port);
    ck_assert_int_eq(tu_write_file(pfile, line), 0);
    ck_assert_int_eq(chmod(pfile, 0600), 0);
    setenv("PGPASSFILE", pfile, 1);
    ck_assert_msg(tropt_tracker_open(&t, plain, "s", NULL) == TROPT_OK, "%s",
                  tropt_error_message());
    tropt_tracker_free(t);
    unsetenv("PGPASSFILE");
    tu_rmtree(pdir);
    free(line);
    free(pfile);
    free(pdir);
    /* without any password: refused, saying so */
    ck_assert_int_eq(tropt_tracker_open(&t, plain, "s", NULL), TROPT_EBACKEND);
    ck_assert_msg(strstr(tropt_error_message(), "password"), "%s", tropt_error_message());
    setenv("TROPT_TEST_PGPW", "Wrong-" PGTU_PASSWORD, 1);
    ck_assert_int_eq(tropt_tracker_open(&t, envspec, "s", NULL), TROPT_EBACKEND);
    assert_no_secret("the error", tropt_error_message());
    ck_assert_msg(!strstr(tropt_error_message(), "Wrong-"), "%s", tropt_error_message());
    tu_capture_stop();
    assert_no_secret("the diagnostics", tu_captured());
    /* tropt check and tropt plugins */
    const char *cli = getenv("TROPT_CLI");
    char *out = NULL;
    char *cmd = tu_strdupf("'%s' check '%s' 2>&1", cli, spec);
    int rc = tu_run(cmd, &out, 1);
    ck_assert_msg(rc == 0 && strstr(out, "conninfo=<secret>"), "rc %d: %s", rc, out);
    assert_no_secret("tropt check", out);
    free(out);
    free(cmd);
    cmd = tu_strdupf("'%s' check '%s' 2>&1", cli, badspec);
    rc = tu_run(cmd, &out, 1);
    ck_assert_msg(rc != 0 && strstr(out, "password authentication failed"), "rc %d: %s", rc, out);
    assert_no_secret("tropt check (wrong password)", out);
    ck_assert_msg(!strstr(out, "Wrong-"), "%s", out);
    free(out);
    free(cmd);
    cmd = tu_strdupf("'%s' plugins 2>&1", cli);
    rc = tu_run(cmd, &out, 1);
    ck_assert_msg(rc == 0 && strstr(out, "conninfo"), "rc %d: %s", rc, out);
    assert_no_secret("tropt plugins", out);
    free(out);
    free(cmd);
    free(plain);
    free(envspec);
    free(nopw);
    free(badspec);
    free(bad);
    free(spec);
    free(ci);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("pg-values");
    TCase *tc = tcase_create("values");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_types_durable);
    tcase_add_test(tc, test_types_batched);
    tcase_add_test(tc, test_psycopg2);
    tcase_add_test(tc, test_replay_no_duplicate);
    tcase_add_test(tc, test_same_step_in_one_batch);
    tcase_add_test(tc, test_loss_table);
    tcase_add_test(tc, test_newer_schema);
    tcase_add_test(tc, test_bad_options);
    tcase_add_test(tc, test_secret);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    pgtu_start();
    int rc = tu_run_suite(suite());
    pgtu_destroy();
    return rc;
}
