/*
 * tests/jsonl/test_jsonl.c - the NDJSON event format (encoder, decoder,
 * reader), the jsonl backend and `tropt replay`.
 */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "allocloop.h"
#include "testutil.h"
#include "tropt_event.h"

/* ---- helpers ---------------------------------------------------------- */

static int same_real(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return a == b && signbit(a) == signbit(b);
}

static const char *plugin_file(const char *name)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/plugins/tropt-%s.so", tu_build_root(), name);
    return access(path, R_OK) == 0 ? path : NULL;
}

static char *cli(void)
{
    const char *c = getenv("TROPT_CLI");
    ck_assert_msg(c && *c, "TROPT_CLI not set");
    return (char *)c;
}

/* Count the lines of a file. */
static int count_lines(const char *path)
{
    char *s = tu_read_file(path, NULL);
    if (!s)
        return -1;
    int n = 0;
    for (char *p = s; *p; p++)
        n += *p == '\n';
    free(s);
    return n;
}

/* The fields every lossless test logs. */
static json_t *g_arr, *g_empty;
static tropt_field g_fields[24];
static size_t g_nfields;

static void build_fields(void)
{
    g_arr = json_pack("[i, f, s, [b, n]]", 1, 0.5, "x,\"y\"");
    g_empty = json_object();
    size_t n = 0;
    g_fields[n++] = TROPT_F_NULL("null");
    g_fields[n++] = TROPT_F_BOOL("yes", 1);
    g_fields[n++] = TROPT_F_BOOL("no", 0);
    g_fields[n++] = TROPT_F_INT("int_max", INT64_MAX);
    g_fields[n++] = TROPT_F_INT("int_min", INT64_MIN);
    g_fields[n++] = TROPT_F_INT("zero", 0);
    g_fields[n++] = TROPT_F_REAL("tenth", 0.1);
    g_fields[n++] = TROPT_F_REAL("one", 1.0);
    g_fields[n++] = TROPT_F_REAL("neg_zero", -0.0);
    g_fields[n++] = TROPT_F_REAL("huge", DBL_MAX);
    g_fields[n++] = TROPT_F_REAL("tiny", 4.9406564584124654e-324);
    g_fields[n++] = TROPT_F_REAL("third", 1.0 / 3.0);
    g_fields[n++] = TROPT_F_REAL("nan", NAN);
    g_fields[n++] = TROPT_F_REAL("inf", INFINITY);
    g_fields[n++] = TROPT_F_REAL("minus_inf", -INFINITY);
    g_fields[n++] = TROPT_F_STR("str_NaN", "NaN");
    g_fields[n++] = TROPT_F_STR("str_empty", "");
    g_fields[n++] = TROPT_F_STR("str_nasty", "a,b;\"c\"\nd/e\\f\t\x01");
    g_fields[n++] = TROPT_F_STR("str_unicode", "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80");
    g_fields[n++] = TROPT_F_STR("str_tag", "{\"$real\":\"nan\"}");
    g_fields[n++] = TROPT_F_JSON("arr", g_arr);
    g_fields[n++] = TROPT_F_JSON("empty", g_empty);
    g_fields[n++] = TROPT_F_REAL("key \"with\", comma/slash\n", 2.5);
    g_fields[n++] = TROPT_F_REAL("$real", 3.0);
    g_nfields = n;
}

static void free_fields(void)
{
    json_decref(g_arr);
    json_decref(g_empty);
}

static void assert_fields_equal(const tropt_field *got, size_t n_got, const tropt_field *want,
                                size_t n_want)
{
    ck_assert_uint_eq(n_got, n_want);
    for (size_t i = 0; i < n_want; i++) {
        const tropt_field *g = &got[i], *w = &want[i];
        ck_assert_str_eq(g->key, w->key);
        ck_assert_msg(g->type == w->type, "field %s: type %d, want %d", w->key, g->type, w->type);
        switch (w->type) {
        case TROPT_BOOL:
            ck_assert_int_eq(g->v.b, w->v.b);
            break;
        case TROPT_INT:
            ck_assert_msg(g->v.i == w->v.i, "field %s: int differs", w->key);
            break;
        case TROPT_REAL:
            ck_assert_msg(same_real(g->v.r, w->v.r), "field %s: %.17g, want %.17g", w->key, g->v.r,
                          w->v.r);
            break;
        case TROPT_STRING:
            ck_assert_str_eq(g->v.s, w->v.s);
            break;
        case TROPT_JSON:
            ck_assert_msg(json_equal((json_t *)g->v.json, (json_t *)w->v.json),
                          "field %s: JSON differs", w->key);
            break;
        default:
            break;
        }
    }
}

/* ---- the format ------------------------------------------------------- */

START_TEST(log_event_round_trips_every_type)
{
    build_fields();
    tev_buf b;
    tev_buf_init(&b, NULL, NULL);
    const char *rid = "01890a5d-ac96-774b-bcce-b302099a8057";
    ck_assert_int_eq(tev_encode_log(&b, rid, 42, 1700000000.123456, g_fields, g_nfields, NULL), 0);
    ck_assert_int_eq(b.data[b.len - 1], '\n');
    ck_assert_ptr_null(memchr(b.data, '\n', b.len - 1)); /* one line */

    tev_event ev;
    char err[256];
    ck_assert_msg(tev_decode(b.data, b.len, &ev, err, sizeof err) == 0, "decode: %s", err);
    ck_assert_int_eq(ev.type, TEV_LOG);
    ck_assert_str_eq(ev.run_id, rid);
    ck_assert_int_eq(ev.step, 42);
    ck_assert(ev.time == 1700000000.123456);
    assert_fields_equal(ev.fields, ev.n_fields, g_fields, g_nfields);
    tev_event_clear(&ev);

    /* Standard JSON that a plain parser reads: the string "NaN" is a string,
     * NaN is a tagged object, 1.0 is a real, int64 is exact. */
    json_error_t jerr;
    json_t *root = json_loads(b.data, 0, &jerr);
    ck_assert_msg(root != NULL, "plain jansson: %s", jerr.text);
    json_t *data = json_object_get(root, "data");
    ck_assert_str_eq(json_string_value(json_object_get(data, "str_NaN")), "NaN");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(data, "nan"), "$real")),
                     "nan");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(data, "minus_inf"), "$real")), "-inf");
    ck_assert(json_is_real(json_object_get(data, "one")));
    ck_assert(json_is_integer(json_object_get(data, "zero")));
    ck_assert(json_integer_value(json_object_get(data, "int_min")) == INT64_MIN);
    json_decref(root);
    ck_assert_ptr_nonnull(strstr(b.data, "\"tenth\":0.1,")); /* shortest form */
    ck_assert_ptr_nonnull(strstr(b.data, "\"neg_zero\":-0.0,"));
    ck_assert_ptr_nonnull(strstr(b.data, "h\xc3\xa9llo")); /* unicode kept as UTF-8 */
    tev_buf_free(&b);
    free_fields();
}
END_TEST

START_TEST(run_start_and_end_round_trip)
{
    json_t *config = json_pack("{s:f, s:s, s:{s:[i,i]}, s:I}", "lr", 0.001, "name", "caf\xc3\xa9",
                               "nested", "dims", 3, 4, "big", (json_int_t)INT64_MAX);
    json_t *summary = json_pack("{s:f, s:b}", "best", 1e-300, "ok", 1);
    tropt_run run = {.run_id = "01890a5d-ac96-774b-bcce-b302099a8057",
                     .experiment = "exp \"1\"",
                     .started_at = 1700000000.5,
                     .host = "host-\xe2\x9c\x93",
                     .pid = 4242};
    tev_buf b;
    tev_buf_init(&b, NULL, NULL);
    ck_assert_int_eq(tev_encode_run_start(&b, &run, config, NULL), 0);
    ck_assert_int_eq(tev_encode_run_end(&b, run.run_id, 1700000001.25, "aborted", summary, NULL),
                     0);
    ck_assert_int_eq(tev_encode_run_end(&b, run.run_id, 1700000002.0, "finished", NULL, NULL), 0);

    char *nl = strchr(b.data, '\n');
    tev_event ev;
    char err[256];
    ck_assert_msg(tev_decode(b.data, (size_t)(nl - b.data), &ev, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(ev.type, TEV_RUN_START);
    ck_assert_str_eq(ev.experiment, run.experiment);
    ck_assert_str_eq(ev.host, run.host);
    ck_assert_int_eq(ev.pid, 4242);
    ck_assert(ev.time == 1700000000.5);
    ck_assert(json_equal((json_t *)ev.config, config));
    tev_event_clear(&ev);

    char *l2 = nl + 1, *nl2 = strchr(l2, '\n');
    ck_assert_int_eq(tev_decode(l2, (size_t)(nl2 - l2), &ev, err, sizeof err), 0);
    ck_assert_int_eq(ev.type, TEV_RUN_END);
    ck_assert_str_eq(ev.status, "aborted");
    ck_assert(ev.time == 1700000001.25);
    ck_assert(json_equal((json_t *)ev.summary, summary));
    tev_event_clear(&ev);

    char *l3 = nl2 + 1;
    ck_assert_int_eq(tev_decode(l3, strlen(l3), &ev, err, sizeof err), 0);
    ck_assert_ptr_null(ev.summary);
    ck_assert_str_eq(ev.status, "finished");
    tev_event_clear(&ev);
    ck_assert_ptr_nonnull(strstr(b.data, "\"summary\":null}"));
    tev_buf_free(&b);
    json_decref(config);
    json_decref(summary);
}
END_TEST

START_TEST(invalid_utf8_becomes_replacement_char)
{
    tropt_field f = TROPT_F_STR("s", "ok\xff\xc3(end");
    tev_buf b;
    tev_buf_init(&b, NULL, NULL);
    ck_assert_int_eq(tev_encode_log(&b, "r", 0, 1.0, &f, 1, NULL), 0);
    tev_event ev;
    char err[256];
    ck_assert_msg(tev_decode(b.data, b.len, &ev, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(ev.fields[0].v.s, "ok\xef\xbf\xbd\xef\xbf\xbd(end");
    tev_event_clear(&ev);
    tev_buf_free(&b);
}
END_TEST

START_TEST(decoder_rejects_what_is_not_an_event)
{
    static const char *const bad[] = {
        "not json",
        "[1,2]",
        "{\"type\":\"log\",\"time\":1,\"step\":0,\"data\":{}}",
        "{\"type\":\"bogus\",\"run_id\":\"r\",\"time\":1}",
        "{\"type\":\"log\",\"run_id\":\"r\",\"time\":1,\"step\":-1,\"data\":{}}",
        "{\"type\":\"log\",\"run_id\":\"r\",\"time\":\"1\",\"step\":0,\"data\":{}}",
        "{\"type\":\"log\",\"run_id\":\"r\",\"time\":1,\"step\":0,\"data\":{\"x\":{\"$real\":"
        "\"NaN\"}}}",
        "{\"type\":\"log\",\"run_id\":\"r\",\"time\":1,\"step\":0,\"data\":{\"x\":{\"a\":1}}}",
        "{\"type\":\"log\",\"run_id\":\"r\",\"time\":1,\"step\":0,\"data\":{\"x\":NaN}}",
        "{\"type\":\"run_start\",\"run_id\":\"r\",\"time\":1}",
        "{\"type\":\"run_end\",\"run_id\":\"r\",\"time\":1,\"summary\":null}",
        "{\"type\":\"log\",\"run_id\":\"r\",\"time\":1,\"step\":0,\"data\":{\"a\":1}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tev_event ev;
        char err[256] = "";
        ck_assert_msg(tev_decode(bad[i], strlen(bad[i]), &ev, err, sizeof err) == -1,
                      "accepted: %s", bad[i]);
        ck_assert_msg(err[0], "no reason for: %s", bad[i]);
    }
}
END_TEST

static int g_warnings;
static char g_last_warning[600];
static void count_warning(void *ud, const char *msg)
{
    (void)ud;
    g_warnings++;
    snprintf(g_last_warning, sizeof g_last_warning, "%s", msg);
}

START_TEST(reader_skips_truncated_last_line_with_warning)
{
    char *dir = tu_mkdtemp();
    char *path = tu_path(dir, "cut.jsonl");
    tev_buf b;
    tev_buf_init(&b, NULL, NULL);
    tropt_run run = {.run_id = "01890a5d-ac96-774b-bcce-b302099a8057",
                     .experiment = "e",
                     .started_at = 1.5,
                     .host = "h",
                     .pid = 1};
    tev_encode_run_start(&b, &run, NULL, NULL);
    tropt_field f = TROPT_F_REAL("loss", 0.25);
    tev_encode_log(&b, run.run_id, 0, 2.0, &f, 1, NULL);
    tev_encode_log(&b, run.run_id, 1, 3.0, &f, 1, NULL);
    b.len -= 7; /* cut the last event, as a crash would */
    b.data[b.len] = '\0';
    ck_assert_int_eq(tu_write_file(path, b.data), 0);

    tev_reader r;
    g_warnings = 0;
    ck_assert_int_eq(tev_reader_open(&r, path, count_warning, NULL), 0);
    tev_event ev;
    ck_assert_int_eq(tev_reader_next(&r, &ev), 1);
    ck_assert_int_eq(ev.type, TEV_RUN_START);
    tev_event_clear(&ev);
    ck_assert_int_eq(tev_reader_next(&r, &ev), 1);
    ck_assert_int_eq(ev.step, 0);
    tev_event_clear(&ev);
    ck_assert_int_eq(tev_reader_next(&r, &ev), 0);
    ck_assert_int_eq(r.n_truncated, 1);
    ck_assert_int_eq(g_warnings, 1);
    ck_assert_ptr_nonnull(strstr(g_last_warning, "truncated last line"));
    ck_assert_ptr_nonnull(strstr(g_last_warning, "line 3"));
    tev_reader_close(&r);
    tev_buf_free(&b);
    tu_rmtree(dir);
    free(path);
    free(dir);
}
END_TEST

/* ---- the jsonl backend ------------------------------------------------ */

START_TEST(jsonl_writes_the_event_schema)
{
    build_fields();
    char *dir = tu_mkdtemp();
    char *path = tu_path(dir, "events.jsonl");
    char *spec = tu_strdupf("jsonl:path=\"%s\"", path);
    json_t *cfg = json_pack("{s:f, s:s}", "lr", 0.01, "opt", "adam");
    json_t *sum = json_pack("{s:f}", "best", 0.5);
    tropt_tracker *t;
    ck_assert_msg(tropt_tracker_open(&t, spec, "exp-1", NULL) == TROPT_OK, "%s",
                  tropt_error_message());
    ck_assert_int_eq(tropt_tracker_init(t, cfg), TROPT_OK);
    char run_id[40];
    snprintf(run_id, sizeof run_id, "%s", tropt_tracker_run_id(t));
    for (int i = 0; i < 3; i++)
        ck_assert_msg(tropt_tracker_log_fields(t, g_fields, g_nfields) == TROPT_OK, "%s",
                      tropt_error_message());
    ck_assert_int_eq(count_lines(path), 4); /* each event written before log returns */
    ck_assert_int_eq(tropt_tracker_finish(t, sum), TROPT_OK);
    tropt_tracker_free(t);

    tev_reader r;
    ck_assert_int_eq(tev_reader_open(&r, path, NULL, NULL), 0);
    tev_event ev;
    ck_assert_int_eq(tev_reader_next(&r, &ev), 1);
    ck_assert_int_eq(ev.type, TEV_RUN_START);
    ck_assert_str_eq(ev.run_id, run_id);
    ck_assert_str_eq(ev.experiment, "exp-1");
    ck_assert_int_eq(ev.pid, getpid());
    ck_assert(json_equal((json_t *)ev.config, cfg));
    double t0 = ev.time;
    tev_event_clear(&ev);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(tev_reader_next(&r, &ev), 1);
        ck_assert_int_eq(ev.type, TEV_LOG);
        ck_assert_int_eq(ev.step, i);
        ck_assert(ev.time >= t0);
        assert_fields_equal(ev.fields, ev.n_fields, g_fields, g_nfields);
        tev_event_clear(&ev);
    }
    ck_assert_int_eq(tev_reader_next(&r, &ev), 1);
    ck_assert_int_eq(ev.type, TEV_RUN_END);
    ck_assert_str_eq(ev.status, "finished");
    ck_assert(json_equal((json_t *)ev.summary, sum));
    tev_event_clear(&ev);
    ck_assert_int_eq(tev_reader_next(&r, &ev), 0);
    ck_assert_int_eq(r.n_malformed + r.n_truncated, 0);
    tev_reader_close(&r);
    json_decref(cfg);
    json_decref(sum);
    tu_rmtree(dir);
    free(spec);
    free(path);
    free(dir);
    free_fields();
}
END_TEST

START_TEST(jsonl_killed_process_loses_no_logged_step)
{
    char *dir = tu_mkdtemp();
    char *path = tu_path(dir, "kill.jsonl");
    char *spec = tu_strdupf("jsonl:path=%s", path);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        tropt_tracker *t;
        if (tropt_tracker_open(&t, spec, "k", NULL) != TROPT_OK || tropt_tracker_init(t, NULL))
            _exit(3);
        for (int i = 0; i < 200; i++) {
            tropt_field f = TROPT_F_INT("i", i);
            if (tropt_tracker_log_fields(t, &f, 1) != TROPT_OK)
                _exit(4);
        }
        raise(SIGKILL);
        _exit(5);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "child status %d", st);
    ck_assert_int_eq(count_lines(path), 201);
    tu_rmtree(dir);
    free(spec);
    free(path);
    free(dir);
}
END_TEST

START_TEST(jsonl_batch_and_flush_barrier)
{
    char *dir = tu_mkdtemp();
    char *path = tu_path(dir, "b.jsonl");
    char *spec = tu_strdupf("jsonl:path=%s,batch=10,fsync=always", path);
    tropt_tracker *t;
    ck_assert_msg(tropt_tracker_open(&t, spec, "b", NULL) == TROPT_OK, "%s", tropt_error_message());
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    tropt_field f = TROPT_F_REAL("x", 1.5);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_OK);
    ck_assert_int_eq(count_lines(path), 1); /* run_start only: 5 < batch */
    ck_assert_int_eq(tropt_tracker_flush(t), TROPT_OK);
    ck_assert_int_eq(count_lines(path), 6);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_OK);
    ck_assert_int_eq(count_lines(path), 16); /* a full batch went out */
    tropt_tracker_free(t);                   /* aborted: run_end written */
    ck_assert_int_eq(count_lines(path), 17);
    char *s = tu_read_file(path, NULL);
    ck_assert_ptr_nonnull(strstr(s, "\"status\":\"aborted\""));
    free(s);
    tu_rmtree(dir);
    free(spec);
    free(path);
    free(dir);
}
END_TEST

START_TEST(jsonl_terminates_a_torn_line_before_appending)
{
    char *dir = tu_mkdtemp();
    char *path = tu_path(dir, "torn.jsonl");
    ck_assert_int_eq(tu_write_file(path, "{\"type\":\"log\",\"run_id\":\"x\",\"ti"), 0);
    char *spec = tu_strdupf("jsonl:path=%s", path);
    tropt_tracker *t;
    ck_assert_int_eq(tropt_tracker_open(&t, spec, "torn", NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    tev_reader r;
    g_warnings = 0;
    ck_assert_int_eq(tev_reader_open(&r, path, count_warning, NULL), 0);
    tev_event ev;
    ck_assert_int_eq(tev_reader_next(&r, &ev), 1);
    ck_assert_int_eq(ev.type, TEV_RUN_START);
    tev_event_clear(&ev);
    ck_assert_int_eq(tev_reader_next(&r, &ev), 1);
    ck_assert_int_eq(ev.type, TEV_RUN_END);
    tev_event_clear(&ev);
    ck_assert_int_eq(tev_reader_next(&r, &ev), 0);
    ck_assert_int_eq(r.n_malformed, 1);
    ck_assert_int_eq(g_warnings, 1);
    tev_reader_close(&r);
    tu_rmtree(dir);
    free(spec);
    free(path);
    free(dir);
}
END_TEST

START_TEST(jsonl_unwritable_path_fails_at_open_naming_it)
{
    tropt_tracker *t = (tropt_tracker *)1;
    int rc = tropt_tracker_open(&t, "jsonl:path=/nonexistent-dir/x/events.jsonl", "e", NULL);
    ck_assert_int_eq(rc, TROPT_EBACKEND);
    ck_assert_ptr_null(t);
    ck_assert_ptr_nonnull(strstr(tropt_error_message(), "/nonexistent-dir/x/events.jsonl"));
    ck_assert_ptr_nonnull(strstr(tropt_error_message(), strerror(ENOENT)));
}
END_TEST

/* A symbolic link planted at the journal's path (issue 18, finding 2) is
 * refused at open with TROPT_EBACKEND naming the path; the file the link
 * points to is not written. */
START_TEST(jsonl_symlink_at_the_path_is_refused)
{
    char *dir = tu_mkdtemp();
    char *victim = tu_path(dir, "victim.txt");
    ck_assert_int_eq(tu_write_file(victim, "precious\n"), 0);
    char *path = tu_path(dir, "run.jsonl");
    ck_assert_int_eq(symlink(victim, path), 0);
    char *spec = tu_strdupf("jsonl:path=%s", path);
    tropt_tracker *t = NULL;
    int rc = tropt_tracker_open(&t, spec, "e", NULL);
    if (rc == TROPT_OK) {
        tropt_tracker_init(t, NULL);
        tropt_tracker_finish(t, NULL);
        tropt_tracker_free(t);
    }
    size_t n = 0;
    char *got = tu_read_file(victim, &n);
    ck_assert_msg(got && strcmp(got, "precious\n") == 0, "the link's target was written: %s", got);
    ck_assert_int_eq(rc, TROPT_EBACKEND);
    const char *msg = tropt_error_message();
    ck_assert_msg(strstr(msg, path) && strstr(msg, "symbolic link"), "message: %s", msg);
    free(got);
    free(spec);
    free(path);
    free(victim);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(jsonl_full_disk_is_an_error_not_a_crash)
{
    if (access("/dev/full", W_OK) != 0)
        return;
    tropt_tracker *t;
    ck_assert_int_eq(tropt_tracker_open(&t, "jsonl:path=/dev/full", "e", NULL), TROPT_OK);
    int rc = tropt_tracker_init(t, NULL);
    ck_assert_int_eq(rc, TROPT_EBACKEND);
    ck_assert_ptr_nonnull(strstr(tropt_error_message(), "/dev/full"));
    ck_assert_ptr_nonnull(strstr(tropt_error_message(), strerror(ENOSPC)));
    tropt_field f = TROPT_F_INT("i", 1);
    tu_capture_start();
    tropt_tracker_log_fields(t, &f, 1);
    tropt_tracker_free(t);
    tu_capture_stop();
}
END_TEST

/* ---- allocation failures ---------------------------------------------- */

START_TEST(jsonl_survives_every_allocation_failure)
{
    char *dir = tu_mkdtemp();
    char *spec = tu_strdupf("jsonl:path=%s/chaos.jsonl", dir);
    tu_alloc_fail_loop(spec);
    free(spec);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- tropt replay ----------------------------------------------------- */

/* Log two runs (the second with NaN/Inf and a crash-cut tail) to a journal. */
static void write_journal(const char *path, int cut_tail)
{
    build_fields();
    char *spec = tu_strdupf("jsonl:path=%s", path);
    tropt_tracker *t;
    json_t *cfg = json_pack("{s:f, s:I}", "lr", 0.125, "seed", (json_int_t)7);
    json_t *sum = json_pack("{s:f, s:s}", "best", 1.0 / 7, "note", "done");
    ck_assert_int_eq(tropt_tracker_open(&t, spec, "replayed", cfg), TROPT_OK);
    for (int run = 0; run < 2; run++) {
        ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
        for (int i = 0; i < 25; i++) {
            g_fields[5] = TROPT_F_INT("zero", i);
            ck_assert_int_eq(tropt_tracker_log_fields(t, g_fields, g_nfields), TROPT_OK);
        }
        ck_assert_int_eq(tropt_tracker_finish(t, sum), TROPT_OK);
    }
    tropt_tracker_free(t);
    if (cut_tail) {
        char *s = tu_read_file(path, NULL);
        char *more = tu_strdupf("%s{\"type\":\"log\",\"run_id\":\"01", s);
        tu_write_file(path, more);
        free(more);
        free(s);
    }
    json_decref(cfg);
    json_decref(sum);
    free(spec);
    free_fields();
}

START_TEST(replay_into_jsonl_reproduces_the_journal)
{
    char *dir = tu_mkdtemp();
    char *src = tu_path(dir, "src.jsonl");
    char *copy = tu_path(dir, "copy.jsonl");
    write_journal(src, 0);
    char *out = NULL;
    char *cmd = tu_strdupf("'%s' replay '%s' --tracker 'jsonl:path=%s' 2>&1", cli(), src, copy);
    int rc = tu_run(cmd, &out, 1);
    ck_assert_msg(rc == 0, "replay failed (%d): %s", rc, out);
    ck_assert_ptr_nonnull(strstr(out, "replayed 2 runs, 50 steps"));
    char *a = tu_read_file(src, NULL), *b = tu_read_file(copy, NULL);
    ck_assert_ptr_nonnull(b);
    /* Same run ids, steps, times, hosts, pids, values: byte for byte. */
    ck_assert_str_eq(b, a);
    free(a);
    free(b);
    free(out);
    free(cmd);
    tu_rmtree(dir);
    free(src);
    free(copy);
    free(dir);
}
END_TEST

static char *sql(const char *db, const char *query)
{
    char *cmd = tu_strdupf("sqlite3 -batch '%s' \"%s\"", db, query);
    char *out = NULL;
    int rc = tu_run(cmd, &out, 1);
    ck_assert_msg(rc == 0, "sqlite3 failed: %s", out);
    free(cmd);
    return out;
}

/* A disk that fills mid-run (a 256 KiB tmpfs, root only): the log that
 * cannot be written returns TROPT_EBACKEND naming the journal and the
 * cause; once space is back the next log writes the kept event and its own;
 * the journal then replays every step exactly once (a line cut by the full
 * disk is skipped with a warning and written again whole). */
START_TEST(jsonl_disk_full_mid_run_keeps_every_step)
{
    if (geteuid() != 0 || !plugin_file("sqlite") || access("/usr/bin/sqlite3", X_OK) != 0) {
        fprintf(stderr, "skipped: needs root (to mount a small tmpfs), the sqlite plugin and "
                        "the sqlite3 tool\n");
        return;
    }
    char *dir = tu_mkdtemp();
    char *mnt = tu_path(dir, "mnt");
    ck_assert_int_eq(mkdir(mnt, 0700), 0);
    if (mount("tropt-test", mnt, "tmpfs", 0, "size=256k") != 0) {
        fprintf(stderr, "skipped: cannot mount a tmpfs: %s\n", strerror(errno));
        tu_rmtree(dir);
        free(mnt);
        free(dir);
        return;
    }
    char *filler = tu_path(mnt, "filler");
    {
        static char block[128 * 1024];
        memset(block, 'f', sizeof block - 1);
        ck_assert_int_eq(tu_write_file(filler, block), 0);
    }
    char *path = tu_path(mnt, "run.jsonl");
    /* retry_interval=0: every log retries (the default waits 1s) */
    char *spec = tu_strdupf("jsonl:path=%s,retry_interval=0", path);
    tropt_tracker *t;
    ck_assert_int_eq(tropt_tracker_open(&t, spec, "full", NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    static char big[3000];
    int64_t ok = 0;
    int rc = TROPT_OK;
    for (; ok < 1000; ok++) {
        memset(big, 'a' + (int)(ok % 26), sizeof big - 1);
        tropt_field f[] = {TROPT_F_INT("i", ok), TROPT_F_STR("big", big)};
        rc = tropt_tracker_log_fields(t, f, 2);
        if (rc != TROPT_OK)
            break;
    }
    ck_assert_msg(rc == TROPT_EBACKEND, "no failure after %lld steps: %s", (long long)ok,
                  tropt_error_name(rc));
    ck_assert_int_gt(ok, 3);
    const char *msg = tropt_error_message();
    ck_assert_msg(strstr(msg, path) && strstr(msg, strerror(ENOSPC)), "message: %s", msg);
    /* space again: the kept event (step ok) goes out with the next one */
    ck_assert_int_eq(unlink(filler), 0);
    tropt_field f[] = {TROPT_F_INT("i", ok + 1), TROPT_F_STR("big", "last")};
    ck_assert_msg(tropt_tracker_log_fields(t, f, 2) == TROPT_OK, "after freeing space: %s",
                  tropt_error_message());
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);

    char *db = tu_path(dir, "r.db");
    char *out = NULL;
    char *cmd = tu_strdupf("'%s' replay '%s' --tracker 'sqlite:path=%s' 2>&1", cli(), path, db);
    ck_assert_msg(tu_run(cmd, &out, 1) == 0, "replay failed: %s", out);
    char *got = sql(db, "SELECT count(*), count(DISTINCT step), min(step), max(step), "
                        "sum(value = step) FROM metrics WHERE key = 'i';");
    char *want = tu_strdupf("%lld|%lld|0|%lld|%lld\n", (long long)ok + 2, (long long)ok + 2,
                            (long long)ok + 1, (long long)ok + 2);
    ck_assert_msg(strcmp(got, want) == 0, "metrics: %s, want %s (replay said: %s)", got, want, out);
    char *status = sql(db, "SELECT status FROM runs;");
    ck_assert_str_eq(status, "finished\n");
    fprintf(stderr, "jsonl disk full after %lld steps: %s\n", (long long)ok, out);
    ck_assert_int_eq(umount(mnt), 0);
    free(status);
    free(got);
    free(want);
    free(out);
    free(cmd);
    free(db);
    free(spec);
    free(path);
    free(filler);
    tu_rmtree(dir);
    free(mnt);
    free(dir);
}
END_TEST

/* The disk stays full (a small tmpfs, root only), issue 18 finding 11: the
 * events that cannot be written are kept in memory only up to pending_max
 * bytes; past it log returns TROPT_EBACKEND saying the step is dropped and
 * memory stops growing.  With retry_interval=60m no log retries once space
 * is back (the journal does not grow) until the flush barrier; then the
 * journal, read by Python's json module, holds every step whose log did not
 * say "dropped", in order, and no other. */
START_TEST(jsonl_full_disk_holds_at_most_pending_max)
{
    if (geteuid() != 0) {
        fprintf(stderr, "skipped: needs root (to mount a small tmpfs)\n");
        return;
    }
    char *dir = tu_mkdtemp();
    char *mnt = tu_path(dir, "mnt");
    ck_assert_int_eq(mkdir(mnt, 0700), 0);
    if (mount("tropt-test", mnt, "tmpfs", 0, "size=256k") != 0) {
        fprintf(stderr, "skipped: cannot mount a tmpfs: %s\n", strerror(errno));
        tu_rmtree(dir);
        free(mnt);
        free(dir);
        return;
    }
    char *filler = tu_path(mnt, "filler");
    {
        static char block[192 * 1024];
        memset(block, 'f', sizeof block - 1);
        ck_assert_int_eq(tu_write_file(filler, block), 0);
    }
    char *path = tu_path(mnt, "run.jsonl");
    char *spec = tu_strdupf("jsonl:path=%s,pending_max=65536,retry_interval=60m", path);
    tropt_tracker *t;
    ck_assert_msg(tropt_tracker_open(&t, spec, "full", NULL) == TROPT_OK, "%s",
                  tropt_error_message());
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    static char big[1001];
    memset(big, 'b', sizeof big - 1);
    static char want[64 * 1024];
    size_t wn = 0;
    int ok = 0, kept = 0, dropped = 0, step;
    for (step = 0; step < 3000 && dropped < 100; step++) {
        tropt_field f[] = {TROPT_F_INT("i", step), TROPT_F_STR("big", big)};
        int rc = tropt_tracker_log_fields(t, f, 2);
        const char *msg = tropt_error_message();
        if (rc == TROPT_OK) {
            ck_assert_msg(!dropped && !kept, "step %d accepted after a failure", step);
            ok++;
        } else {
            ck_assert_int_eq(rc, TROPT_EBACKEND);
            ck_assert_msg(strstr(msg, path), "message: %s", msg);
            if (strstr(msg, "dropped")) {
                ck_assert_msg(strstr(msg, "pending_max"), "message: %s", msg);
                dropped++;
                continue;
            }
            ck_assert_msg(strstr(msg, strerror(ENOSPC)), "message: %s", msg);
            ck_assert_msg(!dropped, "step %d kept after the bound: %s", step, msg);
            kept++;
        }
        wn += (size_t)snprintf(want + wn, sizeof want - wn, "%d ", step);
    }
    printf("jsonl full disk, pending_max=65536: %d written, %d kept, %d dropped\n", ok, kept,
           dropped);
    ck_assert_int_eq(dropped, 100);
    ck_assert_int_ge(kept, 20);
    ck_assert_int_le(kept, 100); /* 65536 bytes of ~1050-byte events */
    /* space again; retry_interval=60m: a log does not retry */
    ck_assert_int_eq(unlink(filler), 0);
    struct stat a, b;
    ck_assert_int_eq(stat(path, &a), 0);
    tropt_field f[] = {TROPT_F_INT("i", step), TROPT_F_STR("big", "x")};
    ck_assert_int_eq(tropt_tracker_log_fields(t, f, 2), TROPT_EBACKEND);
    ck_assert_msg(strstr(tropt_error_message(), "dropped"), "%s", tropt_error_message());
    ck_assert_int_eq(stat(path, &b), 0);
    ck_assert_int_eq(a.st_size, b.st_size);
    step++;
    /* the barrier writes what was kept; logging works again */
    ck_assert_msg(tropt_tracker_flush(t) == TROPT_OK, "%s", tropt_error_message());
    for (int k = 0; k < 3; k++, step++) {
        tropt_field g[] = {TROPT_F_INT("i", step), TROPT_F_STR("big", "y")};
        ck_assert_int_eq(tropt_tracker_log_fields(t, g, 2), TROPT_OK);
        wn += (size_t)snprintf(want + wn, sizeof want - wn, "%d ", step);
    }
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    char *wfile = tu_path(dir, "want.txt");
    ck_assert_int_eq(tu_write_file(wfile, want), 0);
    char *cmd = tu_strdupf(
        "/usr/bin/python3 -c 'import json,sys\n"
        "steps = []\n"
        "for line in open(sys.argv[1], encoding=\"utf-8\"):\n"
        "    try:\n"
        "        e = json.loads(line)\n"
        "    except ValueError:\n"
        "        continue\n"
        "    if e[\"type\"] == \"log\":\n"
        "        steps.append(e[\"step\"])\n"
        "want = [int(x) for x in open(sys.argv[2]).read().split()]\n"
        "print(\"OK\" if steps == want else \"steps %%r != %%r\" %% (steps, want))' '%s' '%s'",
        path, wfile);
    char *out = NULL;
    ck_assert_int_eq(tu_run(cmd, &out, 1), 0);
    ck_assert_msg(strcmp(out, "OK\n") == 0, "%s", out);
    ck_assert_int_eq(umount(mnt), 0);
    free(out);
    free(cmd);
    free(wfile);
    free(spec);
    free(path);
    free(filler);
    tu_rmtree(dir);
    free(mnt);
    free(dir);
}
END_TEST

START_TEST(journal_replayed_twice_into_sqlite_has_no_duplicate_step)
{
    if (!plugin_file("sqlite") || access("/usr/bin/sqlite3", X_OK) != 0) {
        fprintf(stderr, "skipped: the sqlite plugin or the sqlite3 tool is missing\n");
        return;
    }
    char *dir = tu_mkdtemp();
    char *src = tu_path(dir, "src.jsonl");
    char *db = tu_path(dir, "r.db");
    write_journal(src, 1);
    for (int pass = 0; pass < 2; pass++) {
        char *out = NULL;
        char *cmd = tu_strdupf("'%s' replay '%s' --tracker 'sqlite:path=%s' 2>&1", cli(), src, db);
        int rc = tu_run(cmd, &out, 1);
        ck_assert_msg(rc == 0, "replay %d failed (%d): %s", pass, rc, out);
        ck_assert_msg(strstr(out, "truncated last line"), "no warning: %s", out);
        free(out);
        free(cmd);
    }
    char *dups = sql(db, "SELECT run_id, step, key, count(*) FROM metrics "
                         "GROUP BY run_id, step, key HAVING count(*) > 1;");
    ck_assert_msg(dups[0] == '\0', "duplicate metrics rows: %s", dups);
    char *runs = sql(db, "SELECT count(*), group_concat(status) FROM runs;");
    ck_assert_str_eq(runs, "2|finished,finished\n");
    char *steps = sql(db, "SELECT count(DISTINCT run_id || '/' || step) FROM metrics;");
    ck_assert_str_eq(steps, "50\n");
    char *vals = sql(db, "SELECT quote(value) FROM metrics WHERE step = 3 AND run_id = "
                         "(SELECT min(run_id) FROM runs) AND key IN "
                         "('nan','inf','minus_inf','int_max','str_NaN','zero') ORDER BY key;");
    ck_assert_str_eq(vals, "Inf\n9223372036854775807\n-Inf\nNULL\n'NaN'\n3\n");
    free(dups);
    free(runs);
    free(steps);
    free(vals);
    tu_rmtree(dir);
    free(src);
    free(db);
    free(dir);
}
END_TEST

START_TEST(journal_replayed_twice_into_csv_has_no_duplicate_step)
{
    if (!plugin_file("csv")) {
        fprintf(stderr, "skipped: the csv plugin is missing\n");
        return;
    }
    char *dir = tu_mkdtemp();
    char *src = tu_path(dir, "src.jsonl");
    char *out_dir = tu_path(dir, "csv");
    write_journal(src, 0);
    for (int pass = 0; pass < 2; pass++) {
        char *out = NULL;
        char *cmd = tu_strdupf("'%s' replay '%s' --tracker 'csv:dir=%s' 2>&1", cli(), src, out_dir);
        int rc = tu_run(cmd, &out, 1);
        ck_assert_msg(rc == 0, "replay %d failed (%d): %s", pass, rc, out);
        free(out);
        free(cmd);
    }
    /* every metrics.csv, read by Python's csv module: 25 rows, steps 0..24 once */
    char *cmd = tu_strdupf(
        "/usr/bin/python3 -c 'import csv,glob,sys\n"
        "for f in sorted(glob.glob(sys.argv[1] + \"/replayed/*/metrics.csv\")):\n"
        "    rows = list(csv.DictReader(open(f, newline=\"\")))\n"
        "    print(len(rows), sorted(int(r[\"step\"]) for r in rows) == list(range(25)))' '%s'",
        out_dir);
    char *out = NULL;
    ck_assert_int_eq(tu_run(cmd, &out, 1), 0);
    ck_assert_str_eq(out, "25 True\n25 True\n");
    free(out);
    free(cmd);
    tu_rmtree(dir);
    free(src);
    free(out_dir);
    free(dir);
}
END_TEST

/* Issue 18 finding 8: a run whose steps are not increasing (0..7, then a
 * restart at 3..9, then 5 again: 16 rows), replayed into csv with `tropt
 * replay` three times: every pass leaves the same 16 rows, read back by
 * Python's csv module (before the fix: 16, then 22, then 28). */
START_TEST(journal_with_non_increasing_steps_replayed_into_csv_keeps_its_rows)
{
    if (!plugin_file("csv")) {
        fprintf(stderr, "skipped: the csv plugin is missing\n");
        return;
    }
    char *dir = tu_mkdtemp();
    char *src = tu_path(dir, "src.jsonl");
    char *out_dir = tu_path(dir, "csv");
    char *spec = tu_strdupf("jsonl:path=%s", src);
    tropt_tracker *t;
    ck_assert_int_eq(tropt_tracker_open(&t, spec, "restarted", NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    static const int seq[] = {0, 1, 2, 3, 4, 5, 6, 7, 3, 4, 5, 6, 7, 8, 9, 5};
    for (int k = 0; k < 16; k++) {
        tropt_field f[] = {TROPT_F_INT("k", k), TROPT_F_REAL("loss", 1.0 / (k + 1))};
        ck_assert_int_eq(tropt_tracker_log_fields_at(t, seq[k], 1.7e9 + k, f, 2), TROPT_OK);
    }
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    for (int pass = 0; pass < 3; pass++) {
        char *out = NULL;
        char *cmd = tu_strdupf("'%s' replay '%s' --tracker 'csv:dir=%s,fsync=off' 2>&1", cli(), src,
                               out_dir);
        int rc = tu_run(cmd, &out, 1);
        ck_assert_msg(rc == 0, "replay %d failed (%d): %s", pass, rc, out);
        free(out);
        free(cmd);
        cmd = tu_strdupf("/usr/bin/python3 -c 'import csv,glob,sys\n"
                         "for f in glob.glob(sys.argv[1] + \"/restarted/*/metrics.csv\"):\n"
                         "    rows = list(csv.DictReader(open(f, newline=\"\")))\n"
                         "    print(len(rows), \" \".join(r[\"step\"] for r in rows), "
                         "[int(r[\"k\"]) for r in rows] == list(range(16)))' '%s'",
                         out_dir);
        ck_assert_int_eq(tu_run(cmd, &out, 1), 0);
        ck_assert_msg(strcmp(out, "16 0 1 2 3 4 5 6 7 3 4 5 6 7 8 9 5 True\n") == 0,
                      "after replay %d: %s", pass + 1, out);
        free(out);
        free(cmd);
    }
    free(spec);
    tu_rmtree(dir);
    free(src);
    free(out_dir);
    free(dir);
}
END_TEST

START_TEST(interleaved_runs_of_two_writers_replay_apart)
{
    char *dir = tu_mkdtemp();
    char *src = tu_path(dir, "shared.jsonl");
    char *copy = tu_path(dir, "copy.jsonl");
    char *spec = tu_strdupf("jsonl:path=%s", src);
    tropt_tracker *a, *b;
    ck_assert_int_eq(tropt_tracker_open(&a, spec, "writer-a", NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_open(&b, spec, "writer-b", NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(a, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(b, NULL), TROPT_OK);
    for (int i = 0; i < 10; i++) {
        tropt_field fa = TROPT_F_INT("a", i), fb = TROPT_F_INT("b", -i);
        ck_assert_int_eq(tropt_tracker_log_fields(a, &fa, 1), TROPT_OK);
        ck_assert_int_eq(tropt_tracker_log_fields(b, &fb, 1), TROPT_OK);
    }
    ck_assert_int_eq(tropt_tracker_finish(a, NULL), TROPT_OK);
    tropt_tracker_free(b); /* b never finishes: aborted */
    tropt_tracker_free(a);
    char *cmd = tu_strdupf("'%s' replay '%s' --tracker 'jsonl:path=%s' 2>&1", cli(), src, copy);
    char *out = NULL;
    ck_assert_msg(tu_run(cmd, &out, 1) == 0, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "replayed 2 runs, 20 steps"));
    /* per run: run_start, steps 0..9 in order, run_end with its status */
    tev_reader r;
    ck_assert_int_eq(tev_reader_open(&r, copy, NULL, NULL), 0);
    tev_event ev;
    char ids[2][40] = {"", ""};
    int next[2] = {-1, -1}; /* -1: run_start due; 0..9: step due; 10: run_end due; 11 done */
    int seen_a = 0, seen_b = 0;
    while (tev_reader_next(&r, &ev) == 1) {
        int k = strcmp(ev.run_id, ids[0]) == 0 ? 0 : strcmp(ev.run_id, ids[1]) == 0 ? 1 : -1;
        if (k < 0) {
            ck_assert_int_eq(ev.type, TEV_RUN_START);
            k = ids[0][0] ? 1 : 0;
            ck_assert_msg(!ids[k][0], "a third run");
            snprintf(ids[k], 40, "%s", ev.run_id);
            int is_a = strcmp(ev.experiment, "writer-a") == 0;
            seen_a += is_a;
            seen_b += !is_a;
            next[k] = is_a ? 0 : 100; /* 100+: a run of writer b */
        } else if (ev.type == TEV_LOG) {
            ck_assert_int_eq(ev.step, next[k] % 100);
            next[k]++;
        } else {
            ck_assert_int_eq(ev.type, TEV_RUN_END);
            ck_assert_int_eq(next[k] % 100, 10);
            ck_assert_str_eq(ev.status, next[k] >= 100 ? "aborted" : "finished");
            next[k] = -2;
        }
        tev_event_clear(&ev);
    }
    ck_assert_int_eq(next[0], -2);
    ck_assert_int_eq(next[1], -2);
    ck_assert_int_eq(seen_a, 1);
    ck_assert_int_eq(seen_b, 1);
    tev_reader_close(&r);
    free(out);
    free(cmd);
    tu_rmtree(dir);
    free(spec);
    free(src);
    free(copy);
    free(dir);
}
END_TEST

START_TEST(replay_into_the_same_journal_terminates)
{
    char *dir = tu_mkdtemp();
    char *src = tu_path(dir, "self.jsonl");
    write_journal(src, 0);
    int before = count_lines(src);
    char *cmd =
        tu_strdupf("timeout 60 '%s' replay '%s' --tracker 'jsonl:path=%s' 2>&1", cli(), src, src);
    char *out = NULL;
    ck_assert_msg(tu_run(cmd, &out, 1) == 0, "%s", out);
    ck_assert_int_eq(count_lines(src), 2 * before); /* read as it was at the start */
    free(out);
    free(cmd);
    tu_rmtree(dir);
    free(src);
    free(dir);
}
END_TEST

START_TEST(replay_usage_errors_exit_2)
{
    char *out = NULL;
    char *cmd = tu_strdupf("'%s' replay 2>&1", cli());
    ck_assert_int_eq(tu_run(cmd, &out, 1), 2);
    ck_assert_ptr_nonnull(
        strstr(out, "usage: tropt replay [PATH | --db PATH | --from SPEC] --tracker SPEC"));
    free(out);
    free(cmd);
    cmd = tu_strdupf("'%s' replay /tmp 2>&1", cli());
    ck_assert_int_eq(tu_run(cmd, &out, 1), 2);
    free(out);
    free(cmd);
    cmd = tu_strdupf("'%s' replay /tmp --tracker null --bogus 2>&1", cli());
    ck_assert_int_eq(tu_run(cmd, &out, 1), 2);
    free(out);
    free(cmd);
    cmd = tu_strdupf("'%s' replay /nonexistent.jsonl --tracker null 2>&1", cli());
    ck_assert_int_eq(tu_run(cmd, &out, 1), 1);
    free(out);
    free(cmd);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jsonl");
    TCase *tc = tcase_create("format");
    tcase_add_test(tc, log_event_round_trips_every_type);
    tcase_add_test(tc, run_start_and_end_round_trip);
    tcase_add_test(tc, invalid_utf8_becomes_replacement_char);
    tcase_add_test(tc, decoder_rejects_what_is_not_an_event);
    tcase_add_test(tc, reader_skips_truncated_last_line_with_warning);
    suite_add_tcase(s, tc);
    tc = tcase_create("backend");
    tcase_add_test(tc, jsonl_writes_the_event_schema);
    tcase_add_test(tc, jsonl_killed_process_loses_no_logged_step);
    tcase_add_test(tc, jsonl_batch_and_flush_barrier);
    tcase_add_test(tc, jsonl_terminates_a_torn_line_before_appending);
    tcase_add_test(tc, jsonl_unwritable_path_fails_at_open_naming_it);
    tcase_add_test(tc, jsonl_symlink_at_the_path_is_refused);
    tcase_add_test(tc, jsonl_full_disk_is_an_error_not_a_crash);
    tcase_add_test(tc, jsonl_disk_full_mid_run_keeps_every_step);
    tcase_add_test(tc, jsonl_full_disk_holds_at_most_pending_max);
    tcase_add_test(tc, jsonl_survives_every_allocation_failure);
    suite_add_tcase(s, tc);
    tc = tcase_create("replay");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, replay_into_jsonl_reproduces_the_journal);
    tcase_add_test(tc, journal_replayed_twice_into_sqlite_has_no_duplicate_step);
    tcase_add_test(tc, journal_replayed_twice_into_csv_has_no_duplicate_step);
    tcase_add_test(tc, journal_with_non_increasing_steps_replayed_into_csv_keeps_its_rows);
    tcase_add_test(tc, interleaved_runs_of_two_writers_replay_apart);
    tcase_add_test(tc, replay_into_the_same_journal_terminates);
    tcase_add_test(tc, replay_usage_errors_exit_2);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
