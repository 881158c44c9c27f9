/*
 * tests/tensorboard/test_tensorboard.c - the tensorboard backend.
 *
 * What is on disk is decoded by an independent reader (tbcheck.py: Python's
 * protobuf against a hand-written event.proto subset compiled with protoc,
 * its own CRC-32C) and compared with what sqlite stored for the same run;
 * files in the layouts of TensorBoard's own writers are read back through
 * the reader API and the CLI.  Each TCase is a test of its own (meson passes
 * its name).
 */
#include "testutil.h"
#include "tb_helpers.h"

#include "tb_crc.h"
#include "tb_encode.h"
#include "tb_record.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <tropt/host.h>

/* ---- CRC-32C ------------------------------------------------------------------- */

/* RFC 3720 B.4 and the usual check value; the mask of TFRecord. */
START_TEST(test_crc_vectors)
{
    unsigned char buf[64];
    ck_assert_uint_eq(tb_crc32c("123456789", 9), 0xE3069283u);
    memset(buf, 0, 32);
    ck_assert_uint_eq(tb_crc32c(buf, 32), 0x8A9136AAu);
    memset(buf, 0xFF, 32);
    ck_assert_uint_eq(tb_crc32c(buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (unsigned char)i;
    ck_assert_uint_eq(tb_crc32c(buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (unsigned char)(31 - i);
    ck_assert_uint_eq(tb_crc32c(buf, 32), 0x113FDB5Cu);
    ck_assert_uint_eq(tb_crc32c("", 0), 0);
    /* the slicing loop and the byte loop agree at every length and offset */
    for (int i = 0; i < 64; i++)
        buf[i] = (unsigned char)(i * 37 + 11);
    for (size_t off = 0; off < 8; off++)
        for (size_t n = 0; off + n <= 64; n++) {
            uint32_t c = 0xFFFFFFFFu;
            for (size_t k = 0; k < n; k++) {
                c ^= buf[off + k];
                for (int b = 0; b < 8; b++)
                    c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
            }
            ck_assert_uint_eq(tb_crc32c(buf + off, n), c ^ 0xFFFFFFFFu);
        }
    ck_assert_uint_eq(tb_crc_mask(0), 0xa282ead8u);
    ck_assert_uint_eq(tb_crc_mask(0xE3069283u),
                      ((0xE3069283u >> 15) | (0xE3069283u << 17)) + 0xa282ead8u);
}
END_TEST

/* The restart marker a continued attempt starts its file with (the
 * writer's hook waits for ABI 1.2): Event{wall_time, step,
 * session_log{status: START}}, framed. */
START_TEST(test_session_log_record)
{
    tev_buf b;
    tev_buf_init(&b, NULL, NULL);
    ck_assert_int_eq(tb_encode_session_log(&b, 1.5, 300, 1), 0);
    static const unsigned char want[] = {0x09, 0,    0,    0,    0,    0,    0,    0xf8,
                                         0x3f, 0x10, 0xac, 0x02, 0x3a, 0x02, 0x08, 0x01};
    ck_assert_uint_eq(b.len, sizeof want + TB_REC_OVERHEAD);
    const unsigned char *r = (const unsigned char *)b.data;
    ck_assert_int_eq(memcmp(r + TB_REC_HEAD, want, sizeof want), 0);
    uint64_t n;
    uint32_t c;
    memcpy(&n, r, 8);
    ck_assert_uint_eq(n, sizeof want);
    memcpy(&c, r + 8, 4);
    ck_assert_uint_eq(c, tb_masked_crc32c(r, 8));
    memcpy(&c, r + TB_REC_HEAD + sizeof want, 4);
    ck_assert_uint_eq(c, tb_masked_crc32c(want, sizeof want));
    tev_buf_free(&b);
}
END_TEST

/* ---- layout: every byte decoded independently, every value == sqlite ------------- */

/* The fields of step s of a typed run (n returned; 0 at step 2, a step
 * without fields; "loss" a string at step 3).  note: room for its text. */
static size_t typed_fields(int64_t s, tropt_field *f, const json_t *arr, const json_t *empty,
                           char *note, size_t note_size)
{
    snprintf(note, note_size, "step %" PRId64 ", \"quoted\"\nnewline ✓", s);
    tropt_field all[] = {
        TROPT_F_REAL("loss", 1.0 / (double)(s + 3)),
        TROPT_F_REAL("train/acc", 0.1 * (double)s),
        TROPT_F_INT("tokens", INT64_C(9007199254740993) + s),
        TROPT_F_INT("neg", INT64_MIN + s),
        TROPT_F_STR("note", note),
        TROPT_F_STR("empty", ""),
        TROPT_F_BOOL("flag", (int)(s & 1)),
        TROPT_F_NULL("nothing"),
        TROPT_F_JSON("vec", arr),
        TROPT_F_JSON("obj", empty),
        TROPT_F_REAL("_tropt_/run", 2.5),
        TROPT_F_REAL("edge/nan", NAN),
        TROPT_F_REAL("edge/inf", s % 2 ? INFINITY : -INFINITY),
        TROPT_F_REAL("edge/neg_zero", -0.0),
        TROPT_F_REAL("edge/subnormal", 4.9406564584124654e-324),
        TROPT_F_REAL("edge/max", 1.7976931348623157e308),
    };
    size_t n = sizeof all / sizeof all[0];
    memcpy(f, all, sizeof all);
    if (s == 3)
        f[0] = (tropt_field){.key = "loss", .type = TROPT_STRING, .v.s = "now a string"};
    return s == 2 ? 0 : n;
}

#define TYPED_MAX 16

typedef struct typed {
    json_t *arr, *empty;
} typed;

static typed typed_open(void)
{
    typed ty = {json_loads("[0.5,-1,\"x\",null,[true],{}]", 0, NULL), json_object()};
    ck_assert_ptr_nonnull(ty.arr);
    return ty;
}

static void typed_close(typed *ty)
{
    json_decref(ty->arr);
    json_decref(ty->empty);
}

static void log_typed_run(tropt_tracker *t, int64_t steps)
{
    typed ty = typed_open();
    for (int64_t s = 0; s < steps; s++) {
        tropt_field f[TYPED_MAX];
        char note[96];
        size_t n = typed_fields(s, f, ty.arr, ty.empty, note, sizeof note);
        ck_assert_msg(tropt_tracker_log_fields(t, f, n) == TROPT_OK, "%s", tropt_error_message());
    }
    typed_close(&ty);
}

/* Every step read back equals what was logged: every type, every bit
 * (the first `steps` of them). */
static void check_typed_steps_upto(const got *g, int64_t steps)
{
    typed ty = typed_open();
    ck_assert_int_ge(json_array_size(g->steps), steps);
    for (int64_t s = 0; s < steps; s++) {
        json_t *st = json_array_get(g->steps, (size_t)s);
        ck_assert_int_eq(json_integer_value(json_array_get(st, 0)), s);
        tropt_field f[TYPED_MAX];
        char note[96];
        size_t n = typed_fields(s, f, ty.arr, ty.empty, note, sizeof note);
        json_t *want = fields_json(f, n);
        json_t *have = json_array_get(st, 2);
        char *w = json_dumps(want, JSON_SORT_KEYS), *h = json_dumps(have, JSON_SORT_KEYS);
        ck_assert_msg(json_equal(want, have), "step %" PRId64 ":\nlogged  %s\nread    %s", s, w, h);
        free(w);
        free(h);
        json_decref(want);
    }
    typed_close(&ty);
}

static void check_typed_steps(const got *g, int64_t steps)
{
    ck_assert_int_eq(json_array_size(g->steps), steps);
    check_typed_steps_upto(g, steps);
}

START_TEST(test_layout_vs_sqlite)
{
    char *dir = tu_mkdtemp();
    /* scalars=double (SPEC 17): DT_DOUBLE and DT_INT64 scalars */
    char *spec =
        tu_strdupf("tensorboard:logdir=%s/tb,scalars=double;sqlite:path=%s/x.db", dir, dir);
    tropt_tracker *t = open_spec(spec, "layout ✓/exp");
    json_t *cfg = json_loads("{\"lr\":0.001,\"opt\":{\"name\":\"adam\",\"betas\":[0.9,0.999]},"
                             "\"seed\":42,\"big\":9007199254740993,\"nest\":true,\"none\":null,"
                             "\"third\":0.3333333333333333}",
                             0, NULL);
    ck_assert_int_eq(tropt_tracker_init(t, cfg), TROPT_OK);
    char *id1 = strdup(tropt_tracker_run_id(t));
    log_typed_run(t, 40);
    json_t *sum = json_pack("{s:f, s:{s:i}, s:[i,i], s:b}", "best", 0.125, "at", "step", 7, "list",
                            1, 2, "ok", 1);
    ck_assert_int_eq(tropt_tracker_finish(t, sum), TROPT_OK);
    /* a second run, left open: recorded aborted when the tracker is freed */
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char *id2 = strdup(tropt_tracker_run_id(t));
    log_typed_run(t, 3);
    tropt_tracker_free(t);
    char *logdir = tu_path(dir, "tb");
    char *db = tu_path(dir, "x.db");
    char *args = tu_strdupf("layout '%s' '%s' %s double", logdir, db, id1);
    char *out = tbcheck(args);
    printf("layout, run 1: %s", out);
    ck_assert_msg(strstr(out, "OK 40 steps, 624 values, 7 hparams, status finished"), "%s", out);
    free(out);
    free(args);
    args = tu_strdupf("layout '%s' '%s' %s double", logdir, db, id2);
    out = tbcheck(args);
    printf("layout, run 2: %s", out);
    ck_assert_msg(strstr(out, "status aborted"), "%s", out);
    free(out);
    free(args);
    /* the default, scalars=float: DT_FLOAT as tf.summary.scalar, the exact
     * values beside */
    char *spec3 = tu_strdupf("tensorboard:logdir=%s/tb;sqlite:path=%s/x.db", dir, dir);
    t = open_spec(spec3, "float");
    ck_assert_int_eq(tropt_tracker_init(t, cfg), TROPT_OK);
    char *id3 = strdup(tropt_tracker_run_id(t));
    log_typed_run(t, 20);
    ck_assert_int_eq(tropt_tracker_log_fields(t, &TROPT_F_REAL("loss", 0.5), 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, sum), TROPT_OK);
    tropt_tracker_free(t);
    args = tu_strdupf("layout '%s' '%s' %s float", logdir, db, id3);
    out = tbcheck(args);
    printf("layout, scalars=float: %s", out);
    ck_assert_msg(strstr(out, "OK 21 steps, 305 values"), "%s", out);
    free(out);
    free(args);
    char *spec3r = tu_strdupf("tensorboard:logdir=%s/tb", dir);
    got g = read_back(spec3r, id3);
    check_typed_steps_upto(&g, 20);
    json_decref(g.root);
    free(spec3r);
    free(spec3);
    free(id3);
    json_decref(cfg);
    json_decref(sum);
    free(id1);
    free(id2);
    free(logdir);
    free(db);
    free(spec);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- read back: what was logged, through the reader ---------------------------- */

START_TEST(test_read_back)
{
    char *dir = tu_mkdtemp();
    char *spec = tu_strdupf("tensorboard:logdir=%s", dir);
    tropt_tracker *t = open_spec(spec, "readback");
    json_t *cfg =
        json_loads("{\"lr\":0.5,\"opt\":{\"name\":\"sgd\",\"m\":[1,2]},\"n\":null}", 0, NULL);
    ck_assert_int_eq(tropt_tracker_init(t, cfg), TROPT_OK);
    char *id = strdup(tropt_tracker_run_id(t));
    char *name = strdup(tropt_tracker_run_name(t));
    log_typed_run(t, 12);
    json_t *sum = json_pack("{s:f, s:{s:s}}", "best", 0.25, "where", "at", "end");
    ck_assert_int_eq(tropt_tracker_finish(t, sum), TROPT_OK);
    tropt_tracker_free(t);

    /* listed with every ABI 1.2 member: its name, one attempt, no mark,
     * where it came from */
    json_t *all = list_runs(spec);
    json_t *l = json_object_get(all, id);
    ck_assert_str_eq(json_string_value(json_object_get(l, "name")), name);
    ck_assert_int_eq(json_integer_value(json_object_get(l, "attempts")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(l, "steps")), 12);
    ck_assert_int_eq(json_integer_value(json_object_get(l, "last_step")), 11);
    ck_assert_int_eq(json_integer_value(json_object_get(l, "checkpoint_step")), -1);
    ck_assert(json_is_array(json_object_get(l, "tags")) &&
              json_array_size(json_object_get(l, "tags")) == 0);
    ck_assert(json_is_null(json_object_get(l, "note")));
    ck_assert(json_is_true(json_object_get(l, "heartbeat_nan")));
    ck_assert_ptr_nonnull(json_string_value(json_object_get(l, "pidns")));
    json_t *prov = json_object_get(l, "provenance");
    char cwd[4096];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_str_eq(json_string_value(json_object_get(prov, "cwd")), cwd);
    ck_assert_ptr_nonnull(json_string_value(json_object_get(prov, "command")));
    ck_assert_ptr_nonnull(json_string_value(json_object_get(prov, "version")));
    json_decref(all);
    free(name);

    got g = read_back(spec, id);
    check_typed_steps(&g, 12);
    json_t *start = json_object_get(g.root, "start");
    json_t *want_start = json_pack("{s:s, s:s, s:s, s:s}", "lr", "real:3fe0000000000000",
                                   "opt/name", "str:sgd", "opt/m", "json:[1,2]", "n", "null");
    ck_assert_msg(json_equal(start, want_start), "config fields %s",
                  json_dumps(start, JSON_COMPACT));
    ck_assert(json_equal(json_object_get(g.root, "config"), cfg));
    json_t *end = json_object_get(g.root, "end");
    ck_assert_str_eq(json_string_value(json_object_get(end, "status")), "finished");
    json_t *want_sum =
        json_pack("{s:s, s:s}", "best", "real:3fd0000000000000", "where/at", "str:end");
    ck_assert(json_equal(json_object_get(end, "summary"), want_sum));
    json_t *info = json_object_get(g.root, "info");
    ck_assert_str_eq(json_string_value(json_object_get(info, "run_id")), id);
    ck_assert_str_eq(json_string_value(json_object_get(info, "experiment")), "readback");
    /* a prefix of 8 finds it too */
    char prefix[9];
    snprintf(prefix, sizeof prefix, "%s", id);
    got p = read_back(spec, prefix);
    ck_assert_int_eq(json_array_size(p.steps), 12);
    json_decref(p.root);
    json_decref(want_start);
    json_decref(want_sum);
    json_decref(g.root);
    json_decref(cfg);
    json_decref(sum);
    free(id);
    free(spec);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- files of TensorBoard's own writers ------------------------------------------- */

/* tbcheck.py foreign DIR: the runs it wrote and what each holds. */
static json_t *make_foreign(const char *dir)
{
    char *cmd = tu_strdupf(PY " %s foreign '%s'", TBCHECK_PY, dir);
    char *out = NULL;
    int rc = tu_run(cmd, &out, 0);
    ck_assert_msg(rc == 0, "%s: %s", cmd, out);
    json_error_t err;
    json_t *m = json_loads(out, 0, &err);
    ck_assert_msg(m != NULL, "manifest: %s\n%s", err.text, out);
    free(out);
    free(cmd);
    return m;
}

/* The manifest's fields of a step as `show` writes them. */
static json_t *manifest_fields(json_t *fields)
{
    json_t *o = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(fields, k, v)
    {
        const char *type = json_string_value(json_array_get(v, 0));
        json_t *x = json_array_get(v, 1);
        tropt_field f = {.key = k};
        if (strcmp(type, "real") == 0) {
            f.type = TROPT_REAL;
            f.v.r = json_number_value(x);
        } else {
            f.type = TROPT_STRING;
            f.v.s = json_string_value(x);
        }
        char *s = show(&f);
        json_object_set_new(o, k, json_string(s));
        free(s);
    }
    return o;
}

static void check_foreign_run(const char *spec, const char *name, json_t *want, json_t *listed)
{
    const char *id = json_string_value(json_object_get(want, "id"));
    json_t *l = json_object_get(listed, id);
    ck_assert_msg(l != NULL, "%s: id %s not listed", name, id);
    json_t *steps = json_object_get(want, "steps");
    ck_assert_str_eq(json_string_value(json_object_get(l, "status")), "finished");
    ck_assert_str_eq(json_string_value(json_object_get(l, "experiment")),
                     json_string_value(json_object_get(want, "experiment")));
    ck_assert_int_eq(json_integer_value(json_object_get(l, "steps")), json_array_size(steps));
    ck_assert_str_eq(json_string_value(json_object_get(l, "host")),
                     json_string_value(json_object_get(want, "host")));
    ck_assert_int_eq(json_integer_value(json_object_get(l, "pid")),
                     json_integer_value(json_object_get(want, "pid")));
    /* ABI 1.2: its folder's name, one attempt, no mark, no heartbeat */
    ck_assert_str_eq(json_string_value(json_object_get(l, "name")),
                     json_string_value(json_object_get(want, "name")));
    ck_assert_int_eq(json_integer_value(json_object_get(l, "attempts")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(l, "checkpoint_step")), -1);
    ck_assert(json_is_true(json_object_get(l, "heartbeat_nan")));
    ck_assert(json_is_null(json_object_get(l, "resume_key")));
    got g = read_back(spec, id);
    ck_assert_msg(json_array_size(g.steps) == json_array_size(steps), "%s: %zu steps read, %zu",
                  name, json_array_size(g.steps), json_array_size(steps));
    for (size_t i = 0; i < json_array_size(steps); i++) {
        json_t *w = json_array_get(steps, i), *h = json_array_get(g.steps, i);
        ck_assert_int_eq(json_integer_value(json_array_get(h, 0)),
                         json_integer_value(json_array_get(w, 0)));
        double wall = json_number_value(json_array_get(w, 1));
        uint64_t wb;
        memcpy(&wb, &wall, sizeof wb);
        char bits[20];
        snprintf(bits, sizeof bits, "%016" PRIx64, wb);
        ck_assert_str_eq(json_string_value(json_array_get(h, 1)), bits);
        json_t *wf = manifest_fields(json_array_get(w, 2));
        char *a = json_dumps(wf, JSON_SORT_KEYS),
             *b = json_dumps(json_array_get(h, 2), JSON_SORT_KEYS);
        ck_assert_msg(json_equal(wf, json_array_get(h, 2)), "%s step %zu:\nwritten %s\nread    %s",
                      name, i, a, b);
        free(a);
        free(b);
        json_decref(wf);
    }
    json_t *config = json_object_get(want, "config");
    if (config)
        ck_assert_msg(json_equal(config, json_object_get(g.root, "config")), "%s: config", name);
    json_t *end = json_object_get(g.root, "end");
    ck_assert_str_eq(json_string_value(json_object_get(end, "status")), "finished");
    json_decref(g.root);
}

/* An event file that cannot be read (here a dangling link) is left out with
 * a warning; the run's other files are read. */
START_TEST(test_unreadable_file_left_out)
{
    char *dir = tu_mkdtemp();
    json_t *m = make_foreign(dir);
    char *link = tu_strdupf("%s/tbx/run1/events.out.tfevents.1800000000.gone.1.0", dir);
    ck_assert_int_eq(symlink("/nonexistent/events", link), 0);
    char *spec = tu_strdupf("tensorboard:logdir=%s", dir);
    tu_capture_start();
    json_t *listed = list_runs(spec);
    const char *tbx = json_string_value(json_object_get(json_object_get(m, "tbx/run1"), "id"));
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(listed, tbx), "steps")), 5);
    char *want = tu_strdupf("%s: cannot read it (No such file or directory): left out", link);
    ck_assert_msg(strstr(tu_captured(), want), "%s", tu_captured());
    tu_capture_stop();
    free(want);
    json_decref(listed);
    json_decref(m);
    free(spec);
    free(link);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

static int ignore_event(const tropt_event *ev, void *ud)
{
    (void)ev;
    (void)ud;
    return 0;
}

START_TEST(test_foreign_files)
{
    char *dir = tu_mkdtemp();
    json_t *m = make_foreign(dir);
    char *spec = tu_strdupf("tensorboard:logdir=%s", dir);
    json_t *listed = list_runs(spec);
    ck_assert_int_eq(json_object_size(listed), json_object_size(m));
    const char *name;
    json_t *want;
    json_object_foreach(m, name, want)
    {
        check_foreign_run(spec, name, want, listed);
    }
    /* what was skipped is said, with its count, once per run and reader */
    tropt_set_log_level(TROPT_LEVEL_INFO);
    tu_capture_start();
    tropt_reader *r = NULL;
    ck_assert_int_eq(tropt_reader_open(&r, spec), TROPT_OK);
    json_decref(list_runs(spec)); /* another reader: says it all again */
    json_object_foreach(m, name, want)
    {
        const char *id = json_string_value(json_object_get(want, "id"));
        for (int pass = 0; pass < 2; pass++)
            ck_assert_int_eq(tropt_reader_read_run(r, id, ignore_event, NULL), TROPT_OK);
    }
    tropt_reader_free(r);
    const char *log = tu_captured();
    printf("%s", log);
    ck_assert_msg(strstr(log, "tbx/run1: 14 records read from 1 event file(s); skipped: 2 not "
                              "understood"),
                  "%s", log);
    ck_assert_msg(strstr(log, "damaged/run: 12 records read from 2 event file(s); skipped: 0 not "
                              "understood (graphs, histograms, images, audio, other plugins' "
                              "data, session logs other than START), 2 with a bad CRC, 0 "
                              "malformed, 1 cut short at the end of a file"),
                  "%s", log);
    ck_assert_msg(strstr(log, "events.out.tfevents.1700000200.h.1.0: record at byte 194: its data "
                              "does not match its CRC: skipped"),
                  "%s", log);
    ck_assert_msg(strstr(log, "its length does not match its CRC: the 78 bytes from there cannot "
                              "be read"),
                  "%s", log);
    ck_assert_msg(strstr(log, "is cut short (a crash, or a write under way): skipped"), "%s", log);
    ck_assert_int_eq(tu_captured_count(TROPT_LEVEL_WARNING), 4); /* 2 per reader */
    ck_assert_int_eq(tu_captured_count(TROPT_LEVEL_INFO), 6);    /* 3 per reader */
    tu_capture_stop();
    json_decref(listed);
    json_decref(m);
    free(spec);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- the CLI: tropt runs / show / replay --from tensorboard ------------------------ */

static char *cli(const char *fmt, const char *a, const char *b)
{
    char *args = tu_strdupf(fmt, a, b);
    char *cmd = tu_strdupf("'%s' %s", getenv("TROPT_CLI"), args);
    char *out = NULL;
    int rc = tu_run(cmd, &out, 1);
    ck_assert_msg(rc == 0, "%s => %d:\n%s", cmd, rc, out);
    free(args);
    free(cmd);
    return out;
}

/* One row of `sqlite3`-style output from Python's sqlite3. */
static char *sql(const char *db, const char *query)
{
    char *cmd = tu_strdupf(PY " -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); "
                              "print(\"\\n\".join(\"|\".join(map(str,r)) for r in "
                              "c.execute(sys.argv[2])))' '%s' \"%s\"",
                           db, query);
    char *out = NULL;
    int rc = tu_run(cmd, &out, 1);
    ck_assert_msg(rc == 0, "%s => %s", cmd, out);
    free(cmd);
    return out;
}

/* The cells of a line of `tropt runs` (columns are apart by two spaces or
 * more; no cell of these tests holds two spaces). */
static json_t *split_cells(const char *line, size_t len)
{
    json_t *cells = json_array();
    size_t i = 0;
    while (i < len) {
        while (i < len && line[i] == ' ')
            i++;
        size_t start = i;
        while (i < len && !(line[i] == ' ' && (i + 1 >= len || line[i + 1] == ' ')))
            i++;
        if (i > start)
            json_array_append_new(cells, json_stringn(line + start, i - start));
    }
    return cells;
}

/* The line of `tropt runs` output that holds `needle` (its start). */
static const char *line_with(const char *out, const char *needle)
{
    const char *at = strstr(out, needle);
    ck_assert_msg(at != NULL, "no '%s' in:\n%s", needle, out);
    while (at > out && at[-1] != '\n')
        at--;
    return at;
}

/* The id cell of a row: the column RUN ID (the whole id) or ID (a unique
 * prefix of it, as wip/tools2 prints it); NULL when neither exists. */
static const char *id_cell(json_t *row)
{
    json_t *c = json_object_get(row, "RUN ID");
    if (!c)
        c = json_object_get(row, "ID");
    return json_string_value(c);
}

/* The row of run `id` in `tropt runs` output, as {header: cell}: the one
 * row whose id cell is `id` or a prefix of it. */
static json_t *runs_row(const char *out, const char *id)
{
    const char *head = line_with(out, "STATUS");
    json_t *names = split_cells(head, strcspn(head, "\n")), *found = NULL;
    for (const char *at = head + strcspn(head, "\n"); *at;) {
        at += *at == '\n';
        size_t len = strcspn(at, "\n");
        json_t *cells = split_cells(at, len), *row = json_object();
        for (size_t i = 0; i < json_array_size(names) && i < json_array_size(cells); i++)
            json_object_set(row, json_string_value(json_array_get(names, i)),
                            json_array_get(cells, i));
        const char *cell = id_cell(row);
        if (json_array_size(cells) == json_array_size(names) && cell && *cell &&
            strncmp(id, cell, strlen(cell)) == 0) {
            ck_assert_msg(found == NULL, "two rows for %s in:\n%s", id, out);
            found = json_incref(row);
        }
        json_decref(row);
        json_decref(cells);
        at += len;
    }
    json_decref(names);
    ck_assert_msg(found != NULL, "no row of %s in:\n%s", id, out);
    return found;
}

/* `tropt runs` lists run id with this experiment, status and step count,
 * and its name: in the NAME column when the tool prints one (wip/tools2
 * adds it), and always as a RUN every command takes (`tropt show NAME`
 * shows this run) unless `name` is NULL (a name two runs share). */
static void expect_row(const char *out, const char *spec, const char *id, const char *name,
                       const char *experiment, const char *status, long steps)
{
    json_t *row = runs_row(out, id);
    char *want = tu_strdupf("%ld", steps);
    ck_assert_msg(id_cell(row) != NULL, "no id column in:\n%s", out);
    ck_assert_str_eq(json_string_value(json_object_get(row, "EXPERIMENT")), experiment);
    ck_assert_str_eq(json_string_value(json_object_get(row, "STATUS")), status);
    ck_assert_str_eq(json_string_value(json_object_get(row, "STEPS")), want);
    if (json_object_get(row, "NAME") && name)
        ck_assert_str_eq(json_string_value(json_object_get(row, "NAME")), name);
    if (name) {
        char *shown = cli("show '%s' --from '%s'", name, spec);
        ck_assert_msg(strstr(shown, id), "show %s:\n%s", name, shown);
        free(shown);
    }
    free(want);
    json_decref(row);
}

/* `tropt show` prints `key` (at the start of a line, maybe indented) then
 * spaces then `value` (the rest of the line). */
static void expect_shown(const char *out, const char *key, const char *value)
{
    size_t klen = strlen(key);
    for (const char *line = out; *line;
         line += strcspn(line, "\n") + (line[strcspn(line, "\n")] != 0)) {
        const char *p = line + strspn(line, " ");
        if (strncmp(p, key, klen) != 0 || p[klen] != ' ')
            continue;
        p += klen + strspn(p + klen, " ");
        size_t n = strcspn(p, "\n");
        if (n == strlen(value) && strncmp(p, value, n) == 0)
            return;
    }
    ck_abort_msg("no line '%s  %s' in:\n%s", key, value, out);
}

START_TEST(test_cli_runs_show_replay)
{
    char *dir = tu_mkdtemp();
    char *logdir = tu_path(dir, "runs");
    json_t *m = make_foreign(logdir);
    char *spec = tu_strdupf("tensorboard:logdir=%s", logdir);
    tropt_tracker *t = open_spec(spec, "mine");
    ck_assert_int_eq(tropt_tracker_set_run_name(t, "first run"), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char *done = strdup(tropt_tracker_run_id(t));
    for (int s = 0; s < 7; s++)
        ck_assert_int_eq(tropt_tracker_log_fields(t, &TROPT_F_REAL("loss", 1.0 / (s + 1)), 1),
                         TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char *open_id = strdup(tropt_tracker_run_id(t));
    char *open_name = strdup(tropt_tracker_run_name(t)); /* a default name */
    for (int s = 0; s < 3; s++)
        ck_assert_int_eq(tropt_tracker_log_fields(t, &TROPT_F_INT("i", s), 1), TROPT_OK);

    /* runs: every run, ours and TensorBoard's, with its name, status and
     * steps (a foreign run is named by its folder; two are named "run") */
    char *out = cli("runs --from '%s'%s", spec, "");
    printf("%s", out);
    expect_row(out, spec, done, "first run", "mine", "finished", 7);
    expect_row(out, spec, open_id, open_name, "mine", "running", 3);
    const char *name;
    json_t *want;
    json_object_foreach(m, name, want)
    {
        const char *folder = json_string_value(json_object_get(want, "name"));
        expect_row(out, spec, json_string_value(json_object_get(want, "id")),
                   strcmp(folder, "run") == 0 ? NULL : folder,
                   json_string_value(json_object_get(want, "experiment")), "finished",
                   (long)json_array_size(json_object_get(want, "steps")));
    }
    free(out);
    tropt_tracker_free(t);

    /* show: a foreign run's values and config */
    const char *tf2 = json_string_value(json_object_get(json_object_get(m, "tf2/train"), "id"));
    out = cli("show %s --from '%s'", tf2, spec);
    printf("%s", out);
    expect_shown(out, "optimizer", "\"adam\"");
    expect_shown(out, "exact", "3.3333333333333335");
    expect_shown(out, "summary_text", "\"done\"");
    expect_shown(out, "status", "finished");
    free(out);

    /* replay imports the whole logdir into SQL, once however often it runs */
    char *db = tu_path(dir, "tb.db");
    char *tracker = tu_strdupf("sqlite:path=%s", db);
    for (int pass = 0; pass < 2; pass++) {
        out = cli("replay --from '%s' --tracker '%s'", spec, tracker);
        ck_assert_msg(strstr(out, "replayed 6 run(s)"), "%s", out);
        free(out);
    }
    out = sql(db, "SELECT count(*), sum(status = 'finished'), sum(status = 'aborted') FROM runs");
    ck_assert_str_eq(out, "6|5|1\n"); /* the open run was aborted when its tracker was freed */
    free(out);
    const char *tbx = json_string_value(json_object_get(json_object_get(m, "tbx/run1"), "id"));
    char *q = tu_strdupf("SELECT step, key, value FROM metrics WHERE run_id = '%s' "
                         "ORDER BY step, key LIMIT 5",
                         tbx);
    out = sql(db, q);
    ck_assert_str_eq(out, "0|acc/top1|0.0\n0|loss|1.0\n1|acc/top1|0.10000000149011612\n1|loss|"
                          "0.5\n2|acc/top1|0.20000000298023224\n");
    free(out);
    free(q);
    q = tu_strdupf("SELECT key, value FROM params WHERE run_id = '%s' ORDER BY key", tf2);
    out = sql(db, q);
    ck_assert_str_eq(out, "lr|0.01\nnesterov|1\noptimizer|adam\n");
    free(out);
    free(q);
    q = tu_strdupf("SELECT count(*), sum(value) FROM metrics WHERE run_id = '%s'", done);
    out = sql(db, q);
    ck_assert_str_eq(out, "7|2.5928571428571425\n");
    free(out);
    free(q);

    json_decref(m);
    free(tracker);
    free(db);
    free(done);
    free(open_id);
    free(open_name);
    free(spec);
    free(logdir);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- crashes: a killed writer loses nothing whose log returned -------------------- */

/* A child logs steps (default flush_every=1) and reports each step whose
 * log returned on a pipe; it is killed at a random moment. */
static int64_t kill_writer(const char *spec, unsigned seed, char *id, size_t idsize)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(p[0]);
        tropt_tracker *t = NULL;
        if (tropt_tracker_open(&t, spec, "killed", NULL) != TROPT_OK ||
            tropt_tracker_init(t, NULL) != TROPT_OK)
            _exit(10);
        char rid[40];
        snprintf(rid, sizeof rid, "%s", tropt_tracker_run_id(t));
        if (write(p[1], rid, 36) != 36)
            _exit(11);
        char text[300];
        memset(text, 'x', sizeof text - 1);
        text[sizeof text - 1] = '\0';
        for (int64_t s = 0;; s++) {
            tropt_field f[] = {TROPT_F_REAL("a", (double)s * 0.5), TROPT_F_INT("s", s),
                               TROPT_F_STR("t", text + (s % 200))};
            if (tropt_tracker_log_fields(t, f, 3) != TROPT_OK)
                _exit(12);
            if (write(p[1], &s, sizeof s) != sizeof s)
                _exit(13);
        }
    }
    close(p[1]);
    ck_assert_int_eq(read(p[0], id, 36), 36);
    id[36] = '\0';
    (void)idsize;
    struct timespec d = {0, (long)(1000000 + (seed % 40) * 1000000)};
    nanosleep(&d, NULL);
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    ck_assert(WIFSIGNALED(st));
    int64_t last = -1, s;
    while (read(p[0], &s, sizeof s) == sizeof s)
        last = s;
    close(p[0]);
    return last;
}

START_TEST(test_kill_and_torn_records)
{
    char *dir = tu_mkdtemp();
    char *spec = tu_strdupf("tensorboard:logdir=%s,fsync=off", dir);
    unsigned seed = (unsigned)time(NULL);
    printf("seed %u\n", seed);
    int torn = 0;
    for (int round = 0; round < 8; round++) {
        char id[40];
        int64_t last = kill_writer(spec, seed + (unsigned)round * 7919u, id, sizeof id);
        /* the independent reader: every CRC of every complete record holds */
        char *args = tu_strdupf("torn '%s' %s", dir, id);
        char *out = tbcheck(args);
        long n = 0;
        int cut = 0;
        ck_assert_int_eq(sscanf(out, "OK %ld %d", &n, &cut), 2);
        torn += cut;
        /* every step whose log returned is there (and maybe the one under way) */
        ck_assert_msg(n >= last + 1 && n <= last + 2, "round %d: %ld steps, last returned %" PRId64,
                      round, n, last);
        got g = read_back(spec, id);
        ck_assert_int_eq((long)json_array_size(g.steps), n);
        ck_assert(!json_object_get(g.root, "end")); /* running: it never finished */
        json_decref(g.root);
        free(out);
        free(args);
    }
    printf("8 kills, %d left a torn last record\n", torn);

    /* a record cut by hand: the reader skips it, says so, reads the rest */
    tropt_tracker *t = open_spec(spec, "cut");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char *id = strdup(tropt_tracker_run_id(t));
    for (int s = 0; s < 5; s++)
        ck_assert_int_eq(tropt_tracker_log_fields(t, &TROPT_F_INT("s", s), 1), TROPT_OK);
    tropt_tracker_free(t); /* aborted: its end records are the last ones */
    char *sub = tu_path(dir, "cut");
    char *file = only_event_file(sub);
    ck_assert_int_eq(truncate(file, file_size(file) - 3), 0);
    tropt_set_log_level(TROPT_LEVEL_INFO);
    tu_capture_start();
    got g = read_back(spec, id);
    ck_assert_int_eq(json_array_size(g.steps), 5);
    ck_assert_msg(strstr(tu_captured(), "is cut short (a crash, or a write under way): skipped"),
                  "%s", tu_captured());
    ck_assert_int_eq(tu_captured_count(TROPT_LEVEL_WARNING), 0);
    tu_capture_stop();
    json_decref(g.root);
    free(file);
    free(sub);
    free(id);
    free(spec);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- folders ------------------------------------------------------------------------ */

/* A run named `name` (opened by t), finished at once: its id (malloc'd). */
static char *named_run(tropt_tracker *t, const char *name)
{
    ck_assert_int_eq(tropt_tracker_set_run_name(t, name), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    ck_assert_str_eq(tropt_tracker_run_name(t), name);
    char *id = strdup(tropt_tracker_run_id(t));
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    return id;
}

START_TEST(test_folders)
{
    char *dir = tu_mkdtemp();
    char *spec = tu_strdupf("tensorboard:logdir=%s", dir);
    /* the layout: <logdir>/<experiment>/<run name>/events.out.tfevents.<secs>.<host>.<pid>.<n> */
    tropt_tracker *t = open_spec(spec, "a/b");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char *id = strdup(tropt_tracker_run_id(t));
    char *sub = tu_strdupf("%s/a_b/%s", dir, tropt_tracker_run_name(t));
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    char *file = only_event_file(sub);
    char host[256];
    gethostname(host, sizeof host);
    char *pat = tu_strdupf("%s/events.out.tfevents.", sub);
    ck_assert_msg(strncmp(file, pat, strlen(pat)) == 0, "%s", file);
    const char *rest = file + strlen(pat);
    ck_assert_int_eq(strspn(rest, "0123456789"), 10);
    char *tail = tu_strdupf(".%s.%ld.", host, (long)getpid());
    ck_assert_msg(strncmp(rest + 10, tail, strlen(tail)) == 0, "%s", file);
    free(tail);
    free(pat);
    free(file);

    /* two runs of one name: the second takes <name>-<first 8 of its id> */
    char *id_a = named_run(t, "same");
    char *id_b = named_run(t, "same");
    char *dir_a = tu_strdupf("%s/a_b/same", dir);
    char *dir_b = tu_strdupf("%s/a_b/same-%.8s", dir, id_b);
    free(only_event_file(dir_a));
    free(only_event_file(dir_b));

    /* <name>-<id8> held by another run too (UUIDv7s of one minute share
     * their first 8): <name>-<id> */
    static const char id_c[] = "01a25170-0000-7000-8000-000000000001";
    char *dir_c8 = tu_strdupf("%s/a_b/same-01a25170", dir);
    char *cmd = tu_strdupf("mkdir '%s' && cp '%s'/events.* '%s/'", dir_c8, dir_a, dir_c8);
    ck_assert_int_eq(tu_run(cmd, NULL, 1), 0);
    free(cmd);
    tropt_run_record rec = {.struct_size = sizeof rec,
                            .run_id = id_c,
                            .experiment = "a/b",
                            .name = "same",
                            .started_at = 1.5e9,
                            .host = "h",
                            .pid = 7};
    ck_assert_int_eq(tropt_tracker_import_run(t, &rec, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_log_fields_at(t, 0, 1.5e9, &TROPT_F_INT("k", 1), 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish_run(t, "finished", 1.5e9 + 1, NULL), TROPT_OK);
    char *dir_c = tu_strdupf("%s/a_b/same-%s", dir, id_c);
    free(only_event_file(dir_c));

    /* the same run replayed into its own folder again: a second file, and
     * each step read back once */
    ck_assert_int_eq(tropt_tracker_import_run(t, &rec, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_log_fields_at(t, 0, 1.5e9, &TROPT_F_INT("k", 1), 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_log_fields_at(t, 1, 1.5e9, &TROPT_F_INT("k", 2), 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish_run(t, "finished", 1.5e9 + 2, NULL), TROPT_OK);
    cmd = tu_strdupf("ls '%s' | wc -l", dir_c);
    char *out = NULL;
    ck_assert_int_eq(tu_run(cmd, &out, 0), 0);
    ck_assert_str_eq(out, "2\n");
    free(out);
    free(cmd);
    got g = read_back(spec, id_c);
    ck_assert_int_eq(json_array_size(g.steps), 2);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_array_get(json_array_get(g.steps, 1), 2), "k")),
        "int:2");
    json_decref(g.root);
    json_t *l = list_runs(spec);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(l, id_c), "steps")), 2);
    ck_assert_int_eq(json_object_size(l), 4);
    json_decref(l);
    free(id_a);
    free(id_b);
    free(dir_a);
    free(dir_b);
    free(dir_c8);
    free(dir_c);

    /* a symbolic link where a run folder goes is refused, its target untouched */
    tropt_tracker_free(t);
    char *target = tu_path(dir, "target");
    ck_assert_int_eq(mkdir(target, 0700), 0);
    t = open_spec(spec, "linked");
    char *linked = tu_path(dir, "linked");
    ck_assert_int_eq(symlink(target, linked), 0);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_EBACKEND);
    ck_assert_msg(strstr(tropt_error_message(), "is a symbolic link"), "%s", tropt_error_message());
    tropt_tracker_free(t);
    DIR *d = opendir(target);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d));)
        entries += e->d_name[0] != '.';
    closedir(d);
    ck_assert_int_eq(entries, 0);

    /* a logdir that is a file: the error names it */
    char *notdir = tu_path(dir, "file");
    ck_assert_int_eq(tu_write_file(notdir, "x"), 0);
    char *spec2 = tu_strdupf("tensorboard:logdir=%s/sub", notdir);
    t = open_spec(spec2, "e");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_EBACKEND);
    ck_assert_msg(strstr(tropt_error_message(), "exists and is not a folder") &&
                      strstr(tropt_error_message(), notdir),
                  "%s", tropt_error_message());
    tropt_tracker_free(t);
    tropt_reader *r = NULL;
    ck_assert_int_eq(tropt_reader_open(&r, spec2), TROPT_EBACKEND);
    ck_assert_msg(strstr(tropt_error_message(), "cannot read the logdir"), "%s",
                  tropt_error_message());

    free(spec2);
    free(notdir);
    free(linked);
    free(target);
    free(sub);
    free(id);
    free(spec);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- the flush policy -------------------------------------------------------------- */

START_TEST(test_flush_every)
{
    char *dir = tu_mkdtemp();
    char *spec = tu_strdupf("tensorboard:logdir=%s,flush_every=3,fsync=off", dir);
    tropt_tracker *t = open_spec(spec, "batch");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char *id = strdup(tropt_tracker_run_id(t));
    char *file = only_event_file(dir);
    off_t size0 = file_size(file);
    ck_assert_int_gt(size0, 0); /* the version and identity records, at init */
    for (int s = 0; s < 2; s++)
        ck_assert_int_eq(tropt_tracker_log_fields(t, &TROPT_F_INT("s", s), 1), TROPT_OK);
    ck_assert_int_eq(file_size(file), size0);
    ck_assert_int_eq(tropt_tracker_log_fields(t, &TROPT_F_INT("s", 2), 1), TROPT_OK);
    off_t size3 = file_size(file);
    ck_assert_int_gt(size3, size0);
    ck_assert_int_eq(tropt_tracker_log_fields(t, &TROPT_F_INT("s", 3), 1), TROPT_OK);
    ck_assert_int_eq(file_size(file), size3);
    got g = read_back(spec, id); /* a reader sees what reached the file */
    ck_assert_int_eq(json_array_size(g.steps), 3);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(g.root, "info"), "status")),
                     "running");
    json_decref(g.root);
    ck_assert_int_eq(tropt_tracker_flush(t), TROPT_OK);
    ck_assert_int_gt(file_size(file), size3);
    g = read_back(spec, id);
    ck_assert_int_eq(json_array_size(g.steps), 4);
    json_decref(g.root);
    tropt_tracker_free(t);
    free(file);
    free(id);
    free(spec);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- a medium that fails ----------------------------------------------------------- */

/* The child: the file may grow to 8 KiB; logs 400-byte steps until that
 * fails, then more (kept in memory until pending_max, then dropped),
 * prints "<ok> <kept> <dropped> <run id>", stops; when continued, gets its room
 * back and finishes. */
static void full_disk_child(const char *spec)
{
    signal(SIGXFSZ, SIG_IGN);
    tropt_tracker *t = NULL;
    if (tropt_tracker_open(&t, spec, "full", NULL) != TROPT_OK ||
        tropt_tracker_init(t, NULL) != TROPT_OK)
        _exit(10);
    struct rlimit rl, small;
    getrlimit(RLIMIT_FSIZE, &rl);
    small = (struct rlimit){8192, rl.rlim_max};
    setrlimit(RLIMIT_FSIZE, &small);
    char text[400];
    memset(text, 'y', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    int ok = 0, kept = 0, dropped = 0;
    for (int s = 0; s < 200; s++) {
        tropt_field f[] = {TROPT_F_INT("s", s), TROPT_F_STR("t", text)};
        int rc = tropt_tracker_log_fields(t, f, 2);
        const char *m = tropt_error_message();
        if (rc == TROPT_OK)
            ok++;
        else if (rc == TROPT_EBACKEND && strstr(m, "dropped") && strstr(m, "pending_max"))
            dropped++;
        else if (rc == TROPT_EBACKEND && strstr(m, "File too large") && strstr(m, "tfevents"))
            kept++;
        else
            _exit(11);
    }
    printf("%d %d %d %s\n", ok, kept, dropped, tropt_tracker_run_id(t));
    fflush(stdout);
    raise(SIGSTOP);
    setrlimit(RLIMIT_FSIZE, &rl);
    if (tropt_tracker_finish(t, NULL) != TROPT_OK)
        _exit(12);
    tropt_tracker_free(t);
    _exit(0);
}

START_TEST(test_disk_full)
{
    char *dir = tu_mkdtemp();
    char *spec = tu_strdupf("tensorboard:logdir=%s,fsync=off,pending_max=16384,"
                            "retry_interval=1m",
                            dir);
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        full_disk_child(spec);
    }
    close(p[1]);
    int st;
    waitpid(pid, &st, WUNTRACED);
    ck_assert_msg(WIFSTOPPED(st), "child: %d", WEXITSTATUS(st));
    char buf[128] = "", rid[40];
    ck_assert_int_gt(read(p[0], buf, sizeof buf - 1), 0);
    int ok, kept, dropped;
    ck_assert_int_eq(sscanf(buf, "%d %d %d %36s", &ok, &kept, &dropped, rid), 4);
    printf("disk full: %d steps written, %d kept in memory, %d dropped\n", ok, kept, dropped);
    ck_assert(ok > 5 && kept > 5 && dropped > 5 && ok + kept + dropped == 200);
    /* at the limit the file holds complete records only */
    char *args = tu_strdupf("torn '%s' %s", dir, rid);
    char *out = tbcheck(args);
    char *want = tu_strdupf("OK %d 0\n", ok);
    ck_assert_str_eq(out, want);
    free(out);
    free(want);
    /* room again: finish writes every step that was not dropped */
    kill(pid, SIGCONT);
    waitpid(pid, &st, 0);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: %d", WEXITSTATUS(st));
    got g = read_back(spec, rid);
    ck_assert_int_eq(json_array_size(g.steps), ok + kept);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(g.root, "end"), "status")),
                     "finished");
    json_decref(g.root);
    close(p[0]);
    free(args);
    free(spec);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- allocation failures ------------------------------------------------------------ */

typedef struct chaos_reader {
    long n, fail_at;
} chaos_reader;
static chaos_reader chaos;

static void *chaos_malloc(size_t n)
{
    return ++chaos.n == chaos.fail_at ? NULL : malloc(n);
}
static void *chaos_realloc(void *p, size_t n)
{
    return ++chaos.n == chaos.fail_at ? NULL : realloc(p, n);
}

static int clean_rc(int rc)
{
    return rc == TROPT_OK || rc == TROPT_ENOMEM || rc == TROPT_EBACKEND || rc == TROPT_ESTATE;
}

/* One pass of the writer's chaos loop in folder `logdir`: 1 when every call
 * succeeded. */
static int chaos_pass(const char *logdir)
{
    char *spec = tu_strdupf("tensorboard:logdir=%s,fsync=off", logdir);
    tropt_tracker *t = NULL;
    int rc = tropt_tracker_open(&t, spec, "chaos", NULL);
    free(spec);
    ck_assert_msg(rc == TROPT_OK || rc == TROPT_ENOMEM || rc == TROPT_EBACKEND, "open: %d %s", rc,
                  tropt_error_message());
    if (rc != TROPT_OK) {
        ck_assert_ptr_null(t);
        return 0;
    }
    json_t *cfg = json_pack("{s:i, s:{s:s}}", "k", 1, "o", "p", "q");
    int all = cfg != NULL && (rc = tropt_tracker_init(t, cfg)) == TROPT_OK;
    ck_assert(clean_rc(rc));
    json_decref(cfg);
    for (int i = 0; i < 3; i++) {
        tropt_field f[3] = {TROPT_F_REAL("x", i * 0.5), TROPT_F_STR("s", "v"), TROPT_F_INT("i", i)};
        rc = tropt_tracker_log_fields(t, f, 3);
        ck_assert_msg(clean_rc(rc), "log: %d %s", rc, tropt_error_message());
        all &= rc == TROPT_OK;
    }
    rc = tropt_tracker_flush(t);
    ck_assert(clean_rc(rc));
    all &= rc == TROPT_OK;
    rc = tropt_tracker_finish(t, NULL);
    ck_assert(clean_rc(rc));
    all &= rc == TROPT_OK;
    tropt_tracker_free(t);
    return all;
}

START_TEST(test_allocation_failures)
{
    char *dir = tu_mkdtemp();
    char *spec = tu_strdupf("tensorboard:logdir=%s,fsync=off", dir);
    /* every allocation from the Nth on fails, N = 0, 1, ..., each pass in a
     * folder of its own: every init lists its store once (the names a
     * default name must not take), so a shared folder would grow every
     * pass's allocations with the passes before it */
    ck_assert_int_eq(tropt_set_allocator(&tu_chaos_allocator), TROPT_OK);
    tropt_set_log_level(TROPT_LEVEL_OFF);
    long pass;
    for (pass = 0; pass < 100000; pass++) {
        tu_chaos_budget(pass);
        char *logdir = tu_strdupf("%s/p%ld", dir, pass);
        int ok = chaos_pass(logdir);
        free(logdir);
        if (ok && tu_chaos_failed() == 0)
            break;
    }
    tu_chaos_budget(-1);
    tropt_set_allocator(NULL);
    tropt_set_log_level(TROPT_LEVEL_WARNING);
    printf("writer: %ld allocation points failed, then a clean pass\n", pass);
    ck_assert_int_gt(pass, 20);
    ck_assert_int_lt(pass, 100000);
    /* reading back fails cleanly at every allocation, then succeeds */
    tropt_tracker *t = open_spec(spec, "chaos-read");
    json_t *cfg = json_pack("{s:i, s:{s:s}}", "a", 1, "b", "c", "d");
    ck_assert_int_eq(tropt_tracker_init(t, cfg), TROPT_OK);
    char *id = strdup(tropt_tracker_run_id(t));
    log_typed_run(t, 4);
    ck_assert_int_eq(tropt_tracker_finish(t, cfg), TROPT_OK);
    tropt_tracker_free(t);
    json_decref(cfg);
    tropt_allocator al = {chaos_malloc, chaos_realloc, free};
    long n;
    for (n = 1; n < 100000; n++) {
        chaos = (chaos_reader){0, n};
        ck_assert_int_eq(tropt_set_allocator(&al), TROPT_OK);
        tropt_reader *r = NULL;
        got g = {json_object(), json_array(), 0};
        json_object_set_new(g.root, "steps", g.steps);
        int rc = tropt_reader_open(&r, spec);
        if (rc == TROPT_OK)
            rc = tropt_reader_read_run(r, id, collect, &g);
        tropt_reader_free(r);
        ck_assert_int_eq(tropt_set_allocator(NULL), TROPT_OK);
        ck_assert_msg(rc == TROPT_OK || rc == TROPT_ENOMEM, "at %ld: %d %s", n, rc,
                      tropt_error_message());
        if (rc == TROPT_OK)
            check_typed_steps(&g, 4);
        json_decref(g.root);
        if (chaos.n < n)
            break;
    }
    printf("reader: %ld allocation failures injected\n", n - 1);
    free(id);
    free(spec);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

static Suite *tb_suite(void)
{
    Suite *s = suite_create("tensorboard");
    struct {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"crc", test_crc_vectors},          {"crc", test_session_log_record},
        {"layout", test_layout_vs_sqlite},  {"readback", test_read_back},
        {"foreign", test_foreign_files},    {"foreign", test_unreadable_file_left_out},
        {"cli", test_cli_runs_show_replay}, {"kill", test_kill_and_torn_records},
        {"folders", test_folders},          {"flush", test_flush_every},
        {"failures", test_disk_full},       {"chaos", test_allocation_failures},
    };
    TCase *tc = NULL;
    const char *prev = "";
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (strcmp(prev, cases[i].name) != 0) {
            tc = tcase_create(cases[i].name);
            tcase_set_timeout(tc, 280);
            suite_add_tcase(s, tc);
            prev = cases[i].name;
        }
        _tcase_add_test(tc, cases[i].test, 0, 0, 0, 1);
    }
    return s;
}

/* argv[1], when given, names the one test case to run (meson registers
 * each case as its own test so that they run in parallel). */
int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1)
        setenv("CK_RUN_CASE", argv[1], 1);
    return tu_run_suite(tb_suite());
}
