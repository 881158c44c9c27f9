/*
 * tests/csv/test_csv_types.c - what the csv backend gives back is what was
 * logged (SPEC 9): every type at its edges, a key that changes type, null
 * apart from "not logged" and from "", read back through the reader hooks
 * and through `tropt replay` into sqlite (read there by SQL with typeof());
 * the files stay plain CSV that Python's csv module and pandas read as
 * they are, typed by the README's rule (csvcheck.py typed).  Also: a folder
 * written before types.csv still reads (by its text); hand edits the
 * reader refuses (a negative or malformed step) or warns about; crafted
 * run ids; a cell that is not valid UTF-8.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "readback.h"

#define PY "/usr/bin/python3"
#define T0 1700000000.0

/* ---- the model: every edge, a key changing type ------------------------ */

enum { N_STEPS = 8, MAX_F = 40 };

typedef struct model {
    tropt_field f[N_STEPS][MAX_F];
    size_t n[N_STEPS];
    json_t *js[8];
} model;

static void add(model *m, int step, tropt_field f)
{
    ck_assert_uint_lt(m->n[step], MAX_F);
    m->f[step][m->n[step]++] = f;
}

/* Step 0 logs every edge; later steps change the type of chg (int,
 * string "7", real 7.0, null, bool, array, int), null in a string column
 * (snul) and in a real one (rtenth), a key that first appears at step 1
 * (late, the last column); step 7 logs nothing. */
static void make_model(model *m)
{
    memset(m, 0, sizeof *m);
    m->js[0] = json_loads("[1,2]", 0, NULL);
    m->js[1] = json_loads("[]", 0, NULL);
    m->js[2] = json_loads("[\"a\",[1.5,null],-0.0,-9223372036854775808]", 0, NULL);
    m->js[3] = json_object();
    m->js[4] = json_loads("[7]", 0, NULL);
    static const char *const strs[][2] = {
        {"s3", "3"},          {"snan", "nan"},      {"strue", "true"},
        {"sarr", "[1,2]"},    {"sempty", ""},       {"snull", "null"},
        {"sneg0", "-0.0"},    {"sinf", "-inf"},     {"sobj", "{}"},
        {"sspace", " 3"},     {"a,b", "x,\"y\""},   {"quote\"d\nkey", "l1\r\nl2"},
        {"step", "reserved"}, {"ünï", "ünï©ødé ✓"},
    };
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        add(m, 0, TROPT_F_STR(strs[i][0], strs[i][1]));
    add(m, 0, TROPT_F_INT("imin", INT64_MIN));
    add(m, 0, TROPT_F_INT("imax", INT64_MAX));
    add(m, 0, TROPT_F_INT("izero", 0));
    add(m, 0, TROPT_F_REAL("r3", 3.0));
    add(m, 0, TROPT_F_REAL("rneg0", -0.0));
    add(m, 0, TROPT_F_REAL("rbig", 1e300));
    add(m, 0, TROPT_F_REAL("rsub", 4.9406564584124654e-324));
    add(m, 0, TROPT_F_REAL("rnan", NAN));
    add(m, 0, TROPT_F_REAL("rinf", INFINITY));
    add(m, 0, TROPT_F_REAL("rninf", -INFINITY));
    add(m, 0, TROPT_F_REAL("rtenth", 0.1));
    add(m, 0, TROPT_F_NULL("nul"));
    add(m, 0, TROPT_F_JSON("arr", m->js[0]));
    add(m, 0, TROPT_F_JSON("arr_empty", m->js[1]));
    add(m, 0, TROPT_F_JSON("arr_nested", m->js[2]));
    add(m, 0, TROPT_F_JSON("obj", m->js[3]));
    add(m, 0, TROPT_F_BOOL("bt", 1));
    add(m, 0, TROPT_F_BOOL("bf", 0));
    add(m, 0, TROPT_F_INT("chg", 5));
    add(m, 0, TROPT_F_STR("snul", "x"));

    add(m, 1, TROPT_F_REAL("rtenth", 0.2));
    add(m, 1, TROPT_F_NULL("nul"));
    add(m, 1, TROPT_F_STR("chg", "7"));
    add(m, 1, TROPT_F_NULL("snul"));
    add(m, 1, TROPT_F_REAL("late", 1.0));
    add(m, 2, TROPT_F_NULL("rtenth"));
    add(m, 2, TROPT_F_REAL("chg", 7.0));
    add(m, 2, TROPT_F_STR("snul", "null"));
    add(m, 2, TROPT_F_NULL("late"));
    add(m, 3, TROPT_F_NULL("arr"));
    add(m, 3, TROPT_F_NULL("chg"));
    add(m, 3, TROPT_F_STR("snul", ""));
    add(m, 4, TROPT_F_BOOL("chg", 1));
    add(m, 4, TROPT_F_NULL("snul"));
    add(m, 5, TROPT_F_JSON("arr", m->js[4]));
    add(m, 5, TROPT_F_JSON("chg", m->js[4]));
    add(m, 6, TROPT_F_INT("chg", INT64_MIN));
    add(m, 6, TROPT_F_REAL("late", -0.0));
}

static void free_model(model *m)
{
    for (size_t i = 0; i < sizeof m->js / sizeof *m->js; i++)
        json_decref(m->js[i]);
}

static double step_time(int step)
{
    return T0 + step * 0.25;
}

/* Log the model into spec; returns the run id (malloc'd). */
static char *log_model(const model *m, const char *spec)
{
    tropt_tracker *t = NULL;
    ck_assert_msg(tropt_tracker_open(&t, spec, "types", NULL) == TROPT_OK, "%s",
                  tropt_error_message());
    json_t *cfg = json_pack("{s:f}", "lr", 0.5);
    ck_assert_int_eq(tropt_tracker_init(t, cfg), TROPT_OK);
    for (int s = 0; s < N_STEPS; s++)
        ck_assert_msg(tropt_tracker_log_fields_at(t, s, step_time(s), m->f[s], m->n[s]) == TROPT_OK,
                      "%s", tropt_error_message());
    char *id = strdup(tropt_tracker_run_id(t));
    json_t *sum = json_pack("{s:f}", "best", 0.25);
    ck_assert_int_eq(tropt_tracker_finish(t, sum), TROPT_OK);
    tropt_tracker_free(t);
    json_decref(sum);
    json_decref(cfg);
    return id;
}

/* The run as rb_run_text prints it (fields in the order logged, which is
 * the columns' order: every step logs its keys in the order of their first
 * appearance). */
static char *model_text(const model *m, const char *id)
{
    char *text = tu_strdupf("start %s types | lr=real:3fe0000000000000\n", id);
    for (int s = 0; s < N_STEPS; s++) {
        double tm = step_time(s);
        uint64_t bits;
        memcpy(&bits, &tm, sizeof bits);
        char *line = tu_strdupf("%sstep %d %016" PRIx64 " |", text, s, bits);
        for (size_t i = 0; i < m->n[s]; i++) {
            char *v = rb_field(&m->f[s][i]);
            char *next = tu_strdupf("%s%s %s", line, i ? ";" : "", v);
            free(v);
            free(line);
            line = next;
        }
        free(text);
        text = tu_strdupf("%s\n", line);
        free(line);
    }
    char *all = tu_strdupf("%send finished | best=real:3fd0000000000000\n", text);
    free(text);
    return all;
}

/* The folder of the one run under <dir>/types. */
static char *run_folder(const char *dir, const char *id)
{
    return tu_strdupf("%s/types/%s", dir, id);
}

/* ---- csvcheck.py typed ------------------------------------------------- */

/* One logged value as csvcheck.py's EXPECT wants it. */
static json_t *expect_value(int64_t row, const tropt_field *f)
{
    char *v = NULL;
    const char *t = "null";
    uint64_t bits;
    switch (f->type) {
    case TROPT_NULL:
        v = strdup("");
        break;
    case TROPT_BOOL:
        t = "bool";
        v = strdup(f->v.b ? "true" : "false");
        break;
    case TROPT_INT:
        t = "int";
        v = tu_strdupf("%" PRId64, f->v.i);
        break;
    case TROPT_REAL:
        t = "real";
        memcpy(&bits, &f->v.r, sizeof bits);
        v = tu_strdupf("%016" PRIx64, bits);
        break;
    case TROPT_STRING:
        t = "str";
        v = strdup(f->v.s);
        break;
    case TROPT_JSON:
        t = "json";
        v = json_dumps(f->v.json, JSON_COMPACT | JSON_ENCODE_ANY);
        break;
    }
    json_t *e = json_pack("[I,s,s,s]", (json_int_t)row, f->key, t, v);
    free(v);
    ck_assert_ptr_nonnull(e);
    return e;
}

/* csvcheck.py typed on the run's files: the plain files typed by the
 * README's rule give back the model. */
static void py_typed(const model *m, const char *folder, int wide)
{
    json_t *values = json_array();
    int64_t row = 0;
    for (int s = 0; s < N_STEPS; s++) {
        for (size_t i = 0; i < m->n[s]; i++)
            json_array_append_new(values, expect_value(wide ? s : row++, &m->f[s][i]));
    }
    json_t *exp = json_pack("{s:s,s:o}", "layout", wide ? "wide" : "long", "values", values);
    char *path = tu_path(folder, "expect.json");
    ck_assert_int_eq(json_dump_file(exp, path, 0), 0);
    json_decref(exp);
    char *cmd = tu_strdupf(PY " '%s' typed '%s/metrics.csv' '%s'", CSVCHECK_PY, folder, path);
    char *out = NULL;
    int rc = tu_run(cmd, &out, 1);
    ck_assert_msg(rc == 0 && strncmp(out, "OK", 2) == 0, "%s\n=> %d: %s", cmd, rc, out);
    unlink(path);
    free(out), free(cmd), free(path);
}

/* ---- sqlite after `tropt replay --from csv` ---------------------------- */

static int cli(const char *args, char **out)
{
    char *cmd = tu_strdupf("'%s' %s", getenv("TROPT_CLI"), args);
    int rc = tu_run(cmd, out, 1);
    free(cmd);
    return rc;
}

/* The model's field f of step s as the metrics view holds it: typeof and
 * value compared exactly (reals by their bits, JSON text by its value). */
static void sql_check_field(sqlite3_stmt *q, int s, const tropt_field *f)
{
    sqlite3_reset(q);
    sqlite3_bind_int(q, 1, s);
    sqlite3_bind_text(q, 2, f->key, -1, SQLITE_STATIC);
    ck_assert_msg(sqlite3_step(q) == SQLITE_ROW, "step %d key %s: no row", s, f->key);
    const char *type = (const char *)sqlite3_column_text(q, 0);
    const char *want = f->type == TROPT_STRING || f->type == TROPT_JSON ? "text"
                       : f->type == TROPT_INT || f->type == TROPT_BOOL  ? "integer"
                       : f->type == TROPT_REAL && !isnan(f->v.r)        ? "real"
                                                                        : "null";
    ck_assert_msg(strcmp(type, want) == 0, "step %d key %s: typeof %s, logged %s", s, f->key, type,
                  want);
    double d = sqlite3_column_double(q, 1);
    const char *text = (const char *)sqlite3_column_text(q, 1);
    json_t *j = NULL;
    switch (f->type) {
    case TROPT_STRING:
        ck_assert_str_eq(text, f->v.s);
        break;
    case TROPT_INT:
        ck_assert_int_eq(sqlite3_column_int64(q, 1), f->v.i);
        break;
    case TROPT_BOOL:
        ck_assert_int_eq(sqlite3_column_int64(q, 1), f->v.b);
        break;
    case TROPT_REAL:
        ck_assert_msg(isnan(f->v.r) || memcmp(&d, &f->v.r, sizeof d) == 0, "key %s: %.17g != %.17g",
                      f->key, d, f->v.r);
        break;
    case TROPT_JSON:
        j = json_loads(text, JSON_DECODE_ANY, NULL);
        ck_assert_msg(j && json_equal(j, f->v.json), "key %s: %s", f->key, text);
        json_decref(j);
        break;
    case TROPT_NULL:
        break;
    }
}

static void sql_check(const model *m, const char *db_path)
{
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *q = NULL, *cnt = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db,
                                        "SELECT typeof(value), value FROM metrics"
                                        " WHERE step = ?1 AND key = ?2",
                                        -1, &q, NULL),
                     SQLITE_OK);
    size_t n = 0;
    for (int s = 0; s < N_STEPS; s++) {
        for (size_t i = 0; i < m->n[s]; i++)
            sql_check_field(q, s, &m->f[s][i]);
        n += m->n[s];
    }
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM metrics", -1, &cnt, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(cnt), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int64(cnt, 0), (int64_t)n);
    sqlite3_finalize(cnt);
    sqlite3_finalize(q);
    sqlite3_close(db);
}

/* Log the model into csv (layout), read it back exactly, check the files
 * with Python, replay it into sqlite and check there by SQL. */
static void types_run(int wide)
{
    model m;
    make_model(&m);
    char *dir = tu_mkdtemp();
    char *spec = tu_strdupf("csv:dir=%s%s", dir, wide ? "" : ",layout=long");
    char *rspec = tu_strdupf("csv:dir=%s", dir);
    char *id = log_model(&m, spec);
    char *folder = run_folder(dir, id);

    /* the reader hooks: exactly what was logged, a step without fields
     * included */
    char *text = rb_run_text(rspec, id), *want = model_text(&m, id);
    ck_assert_str_eq(text, want);
    rb_alloc_fail_loop(rspec, id, want); /* out of memory anywhere: a clean error */

    /* the files, by Python's csv module and pandas, typed by the README */
    py_typed(&m, folder, wide);
    char *types_path = tu_path(folder, "types.csv");
    char *types = tu_read_file(types_path, NULL);
    free(types_path);
    ck_assert_msg(strstr(types, "row,key,type\r\n") == types && strstr(types, ",s3,string\r\n") &&
                      strstr(types, ",\"a,b\",string\r\n"),
                  "%s", types);

    /* replayed into sqlite: every value's SQL type and value */
    char *db = tu_path(dir, "r.db");
    char *args = tu_strdupf("replay --from '%s' --tracker 'sqlite:path=%s'", rspec, db), *out;
    ck_assert_msg(cli(args, &out) == 0, "%s", out);
    free(out);
    sql_check(&m, db);
    char *sspec = tu_strdupf("sqlite:path=%s", db);
    char *stext = rb_run_text(sspec, id), *swant = model_text(&m, id);
    ck_assert_str_eq(stext, swant);

    free(swant), free(stext), free(sspec), free(args), free(db), free(types);
    free(want), free(text), free(folder), free(id), free(rspec), free(spec);
    free_model(&m);
    tu_rmtree(dir);
    free(dir);
}

START_TEST(test_types_wide)
{
    types_run(1);
}
END_TEST

START_TEST(test_types_long)
{
    types_run(0);
}
END_TEST

/* ---- hand-made folders -------------------------------------------------- */

#define RID "01890a5d-ac96-774b-bcce-b30209920001"

/* A run folder <dir>/e/<run_id>/ with run.json and metrics.csv as given
 * (types NULL: no types.csv, a folder written before it). */
static char *hand_folder(const char *dir, const char *run_id, const char *layout,
                         const char *metrics, const char *types)
{
    char *exp = tu_path(dir, "e");
    mkdir(exp, 0700);
    char *folder = tu_path(exp, run_id);
    ck_assert_int_eq(mkdir(folder, 0700), 0);
    json_t *run = json_pack("{s:s,s:s,s:f,s:s,s:s,s:f,s:I}", "run_id", run_id, "experiment", "e",
                            "started_at", T0, "status", "finished", "layout", layout, "ended_at",
                            T0 + 9, "steps", (json_int_t)3);
    char *p = tu_path(folder, "run.json");
    ck_assert_int_eq(json_dump_file(run, p, 0), 0);
    free(p);
    json_decref(run);
    p = tu_path(folder, "metrics.csv");
    ck_assert_int_eq(tu_write_file(p, metrics), 0);
    free(p);
    if (types) {
        p = tu_path(folder, "types.csv");
        ck_assert_int_eq(tu_write_file(p, types), 0);
        free(p);
    }
    free(exp);
    return folder;
}

/* A folder written before types.csv reads as it did: by its text, with
 * a debug line saying so. */
START_TEST(test_folder_without_types_reads_by_text)
{
    char *dir = tu_mkdtemp();
    char *folder = hand_folder(dir, RID, "wide",
                               "step,time,s,r,b,a,e,n\r\n"
                               "0,1700000000,3,3,true,\"[1,2]\",\"\",\r\n"
                               "1,1700000001,x,0.5,false,[],,nan\r\n",
                               NULL);
    char *spec = tu_strdupf("csv:dir=%s", dir);
    tropt_set_log_level(TROPT_LEVEL_DEBUG);
    tu_capture_start();
    char *text = rb_run_text(spec, RID);
    tu_capture_stop();
    tropt_set_log_level((tropt_level)-1);
    ck_assert_str_eq(text, "start " RID " e |\n"
                           "step 0 41d954fc40000000 | s=int:3; r=int:3; b=bool:1;"
                           " a=json:[1,2]; e=str:\n"
                           "step 1 41d954fc40400000 | s=str:x; r=real:3fe0000000000000;"
                           " b=bool:0; a=json:[]; n=real:7ff8000000000000\n"
                           "end finished |\n");
    char *want = tu_strdupf("%s: no types.csv (a folder written before it)", folder);
    ck_assert_msg(strstr(tu_captured(), want), "%s", tu_captured());
    free(want), free(text), free(spec), free(folder);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* A hand-edited file: a negative step, a step that is not an integer, a
 * time that is not a number, a record of the wrong width are skipped, each
 * with a warning naming the file, its line and the value (a replay would
 * renumber a negative step); a cell that is not of its recorded type is
 * warned about and typed by its text.  Lines count the line ends inside a
 * quoted cell. */
START_TEST(test_hand_edits_refused_naming_line)
{
    char *dir = tu_mkdtemp();
    char *folder = hand_folder(dir, RID, "wide",
                               "step,time,s,i\r\n"
                               "0,1700000000,\"two\r\nlines\",1\r\n"
                               "-3,1700000001,a,2\r\n"
                               "1.5,1700000001,b,3\r\n"
                               "2,soon,c,4\r\n"
                               "3,1700000002,d\r\n"
                               "4,1700000003,e,five\r\n"
                               " 5,1700000004,f,6\r\n",
                               "row,key,type\r\n0,s,string\r\n0,i,int\r\n");
    char *spec = tu_strdupf("csv:dir=%s", dir);
    tu_capture_start();
    char *text = rb_run_text(spec, RID);
    tu_capture_stop();
    ck_assert_str_eq(text, "start " RID " e |\n"
                           "step 0 41d954fc40000000 | s=str:two\r\nlines; i=int:1\n"
                           "step 4 41d954fc40c00000 | s=str:e; i=str:five\n"
                           "end finished |\n");
    char *m = tu_strdupf("%s/metrics.csv", folder);
    const char *want[] = {
        "%s: line 4: step '-3' is not a non-negative integer; record skipped",
        "%s: line 5: step '1.5' is not a non-negative integer; record skipped",
        "%s: line 6: time 'soon' is not a number; record skipped",
        "%s: line 7: 3 cells where the header has 4; record skipped",
        "%s: line 8: key 'i': 'five' is not a int value as types.csv records; typed by its text",
        "%s: line 9: step ' 5' is not a non-negative integer; record skipped",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        char *w = tu_strdupf(want[i], m);
        ck_assert_msg(strstr(tu_captured(), w), "missing %s in\n%s", w, tu_captured());
        free(w);
    }
    ck_assert_int_eq(tu_captured_count(TROPT_LEVEL_WARNING), 6);

    /* replayed into sqlite: the negative step is not renumbered in */
    char *db = tu_path(dir, "r.db");
    char *args = tu_strdupf("replay --from '%s' --tracker 'sqlite:path=%s'", spec, db), *out;
    ck_assert_msg(cli(args, &out) == 0, "%s", out);
    ck_assert_msg(strstr(out, "line 4: step '-3'"), "%s", out);
    free(out);
    char *sspec = tu_strdupf("sqlite:path=%s", db);
    char *list = rb_list_text(sspec);
    ck_assert_str_eq(list, RID " 2\n");
    free(list), free(sspec), free(args), free(db), free(m), free(text), free(spec), free(folder);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* A run.json whose run_id is not a UUID (markup, control sequences) is
 * skipped with a warning naming the folder; its id never comes back. */
START_TEST(test_crafted_run_ids_skipped)
{
    char *dir = tu_mkdtemp();
    char *good = hand_folder(dir, RID, "wide", "step,time,x\r\n0,1700000000,1\r\n", NULL);
    char *sub = tu_path(dir, "x");
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    static const char *const bad[] = {"<script>alert(1)</script>", "<plaintext>",
                                      "01890a5d-ac96-774b-bcce-\x1b]0;PWNED\x07"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *f = tu_strdupf("%s/%zu", sub, i);
        ck_assert_int_eq(mkdir(f, 0700), 0);
        json_t *run =
            json_pack("{s:s,s:s,s:f}", "run_id", bad[i], "experiment", "x", "started_at", T0);
        char *p = tu_path(f, "run.json");
        ck_assert_int_eq(json_dump_file(run, p, 0), 0);
        json_decref(run);
        free(p);
        free(f);
    }
    char *spec = tu_strdupf("csv:dir=%s", dir);
    tu_capture_start();
    char *list = rb_list_text(spec);
    tu_capture_stop();
    ck_assert_str_eq(list, RID " 3\n");
    ck_assert_int_eq(tu_captured_count(TROPT_LEVEL_WARNING), 3);
    char *w = tu_strdupf("%s/1/run.json: run_id '<plaintext>' is not a UUID", sub);
    ck_assert_msg(strstr(tu_captured(), w) && strstr(tu_captured(), "\\x1b]0;PWNED\\x07") &&
                      !strchr(tu_captured(), '\x1b'),
                  "%s", tu_captured());
    free(w), free(list), free(spec), free(sub), free(good);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* A cell that is not valid UTF-8 comes back byte for byte (the csv writer
 * keeps such strings as they are), and `tropt show --from csv` prints the
 * run (the tools show such bytes as U+FFFD) instead of failing with "out
 * of memory". */
START_TEST(test_invalid_utf8_cell)
{
    char *dir = tu_mkdtemp();
    char *folder =
        hand_folder(dir, RID, "wide", "step,time,name,k\xff\r\n0,1700000000,ab\xff\xfe,1\r\n",
                    "row,key,type\r\n0,name,string\r\n0,k\xff,int\r\n");
    char *spec = tu_strdupf("csv:dir=%s", dir);
    char *text = rb_run_text(spec, RID);
    ck_assert_str_eq(text, "start " RID " e |\n"
                           "step 0 41d954fc40000000 | name=str:ab\xff\xfe; k\xff=int:1\n"
                           "end finished |\n");
    char *args = tu_strdupf("show " RID " --from '%s'", spec), *out = NULL;
    int rc = cli(args, &out);
    ck_assert_msg(rc == 0 && strstr(out, "steps       1") && !strstr(out, "out of memory") &&
                      strstr(out, "\n  name ") && strstr(out, "ab"),
                  "%d: %s", rc, out);
    free(out), free(args), free(text), free(spec), free(folder);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* Continue run RID of <dir> (tropt replay does this): log steps from `from`
 * with the field f of each. */
static void continue_run(const char *dir, const tropt_field *f, int from, int n)
{
    char *spec = tu_strdupf("csv:dir=%s", dir);
    tropt_tracker *t = NULL;
    ck_assert_int_eq(tropt_tracker_open(&t, spec, "e", NULL), TROPT_OK);
    tropt_run_info info = {.run_id = RID, .started_at = T0, .host = "h", .pid = 1};
    ck_assert_int_eq(tropt_tracker_init_run(t, &info, NULL), TROPT_OK);
    for (int i = 0; i < n; i++)
        ck_assert_msg(tropt_tracker_log_fields_at(t, from + i, step_time(from + i), &f[i], 1) ==
                          TROPT_OK,
                      "%s", tropt_error_message());
    ck_assert_int_eq(tropt_tracker_finish_run(t, "finished", T0 + 9, NULL), TROPT_OK);
    tropt_tracker_free(t);
    free(spec);
}

/* A folder continued (a run replayed again, a resumed run): the records
 * types.csv holds for rows metrics.csv lost (a writer killed with rows
 * queued) are dropped, so they cannot type the new rows; a folder written
 * before types.csv gets one, typing the rows from then on. */
START_TEST(test_continued_folder_keeps_types)
{
    char *dir = tu_mkdtemp();
    char *folder =
        hand_folder(dir, RID, "wide", "step,time,x\r\n0,1700000000,3\r\n1,1700000000.25,4\r\n",
                    "row,key,type\r\n0,x,int\r\n3,x,string\r\n");
    tropt_field f[] = {TROPT_F_STR("x", "5"), TROPT_F_INT("x", 7)};
    continue_run(dir, f, 2, 2);
    char *spec = tu_strdupf("csv:dir=%s", dir);
    char *text = rb_run_text(spec, RID);
    ck_assert_str_eq(text, "start " RID " e |\n"
                           "step 0 41d954fc40000000 | x=int:3\n"
                           "step 1 41d954fc40100000 | x=int:4\n"
                           "step 2 41d954fc40200000 | x=str:5\n"
                           "step 3 41d954fc40300000 | x=int:7\n"
                           "end finished |\n");
    char *tp = tu_path(folder, "types.csv");
    char *types = tu_read_file(tp, NULL);
    ck_assert_str_eq(types, "row,key,type\r\n0,x,int\r\n2,x,string\r\n3,x,int\r\n");
    free(types), free(tp), free(text), free(folder);

    /* a folder from before types.csv, continued */
    char *old = tu_path(dir, "old");
    ck_assert_int_eq(mkdir(old, 0700), 0);
    folder = hand_folder(old, RID, "wide", "step,time,x\r\n0,1700000000,3\r\n", NULL);
    tropt_field g[] = {TROPT_F_STR("x", "3")};
    continue_run(old, g, 1, 1);
    free(spec);
    spec = tu_strdupf("csv:dir=%s", old);
    text = rb_run_text(spec, RID);
    ck_assert_str_eq(text, "start " RID " e |\n"
                           "step 0 41d954fc40000000 | x=int:3\n"
                           "step 1 41d954fc40100000 | x=str:3\n"
                           "end finished |\n");
    free(text), free(spec), free(folder), free(old);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* A run that went back to earlier steps (a restart) and logged two steps
 * out of order, in both layouts: each step comes back once, in ascending
 * order, its rows merged (a key's last row winning, the last row's time),
 * typed as logged (the rows read out of file
 * order are typed through types.csv too); the same as sqlite keeps. */
static void out_of_order_run(int wide)
{
    char *dir = tu_mkdtemp();
    char *spec = tu_strdupf("csv:dir=%s%s", dir, wide ? "" : ",layout=long");
    tropt_tracker *t = NULL;
    ck_assert_int_eq(tropt_tracker_open(&t, spec, "types", NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    const struct {
        int step;
        double time;
        tropt_field f;
    } logs[] = {
        {0, T0, TROPT_F_INT("x", 0)},         {1, T0 + 1, TROPT_F_INT("x", 1)},
        {2, T0 + 2, TROPT_F_INT("x", 2)},     {1, T0 + 11, TROPT_F_STR("x", "1b")},
        {2, T0 + 12, TROPT_F_REAL("x", 2.5)}, {3, T0 + 13, TROPT_F_NULL("x")},
        {5, T0 + 15, TROPT_F_INT("x", 5)},    {4, T0 + 14, TROPT_F_BOOL("y", 1)},
        {4, T0 + 16, TROPT_F_STR("z", "4z")}, /* step 4 again, another key: merged */
    };
    for (size_t i = 0; i < sizeof logs / sizeof *logs; i++)
        ck_assert_int_eq(tropt_tracker_log_fields_at(t, logs[i].step, logs[i].time, &logs[i].f, 1),
                         TROPT_OK);
    char *id = strdup(tropt_tracker_run_id(t));
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    char *rspec = tu_strdupf("csv:dir=%s", dir);
    char *text = rb_run_text(rspec, id);
    char *want = tu_strdupf("start %s types |\n"
                            "step 0 41d954fc40000000 | x=int:0\n"
                            "step 1 41d954fc42c00000 | x=str:1b\n"
                            "step 2 41d954fc43000000 | x=real:4004000000000000\n"
                            "step 3 41d954fc43400000 | x=null\n"
                            "step 4 41d954fc44000000 | y=bool:1; z=str:4z\n"
                            "step 5 41d954fc43c00000 | x=int:5\n"
                            "end finished |\n",
                            id);
    ck_assert_str_eq(text, want);
    rb_alloc_fail_loop(rspec, id, want);
    char *db = tu_path(dir, "r.db");
    char *args = tu_strdupf("replay --from '%s' --tracker 'sqlite:path=%s'", rspec, db), *out;
    ck_assert_msg(cli(args, &out) == 0, "%s", out);
    free(out);
    char *sspec = tu_strdupf("sqlite:path=%s", db);
    char *stext = rb_run_text(sspec, id);
    ck_assert_str_eq(stext, want);
    rb_alloc_fail_loop(sspec, id, want);
    free(stext), free(sspec), free(args), free(db), free(want), free(text), free(rspec), free(id);
    free(spec);
    tu_rmtree(dir);
    free(dir);
}

START_TEST(test_steps_out_of_order_come_once_ascending)
{
    out_of_order_run(1);
    out_of_order_run(0);
}
END_TEST

/* A hand-edited file that repeats a key (a wide header naming it twice, a
 * long step holding it twice): a step gives a key once (a replay refuses
 * a step that repeats one), the repetition is skipped with a warning
 * naming the file and the key. */
START_TEST(test_repeated_keys_refused)
{
    char *dir = tu_mkdtemp();
    char *folder = hand_folder(dir, RID, "wide", "step,time,x,y,x\r\n0,1700000000,1,2,3\r\n",
                               "row,key,type\r\n0,x,int\r\n0,y,int\r\n");
    char *spec = tu_strdupf("csv:dir=%s", dir);
    tu_capture_start();
    char *text = rb_run_text(spec, RID);
    tu_capture_stop();
    ck_assert_str_eq(text, "start " RID " e |\n"
                           "step 0 41d954fc40000000 | x=int:1; y=int:2\n"
                           "end finished |\n");
    char *w = tu_strdupf("%s/metrics.csv: column 5 repeats the key 'x'", folder);
    ck_assert_msg(strstr(tu_captured(), w), "%s", tu_captured());
    free(w), free(text), free(spec), free(folder);

    char *ld = tu_path(dir, "long");
    ck_assert_int_eq(mkdir(ld, 0700), 0);
    folder = hand_folder(ld, RID, "long",
                         "step,time,key,value\r\n0,1700000000,x,1\r\n0,1700000000,x,2\r\n"
                         "1,1700000000.25,x,3\r\n",
                         "row,key,type\r\n0,x,int\r\n");
    spec = tu_strdupf("csv:dir=%s", ld);
    tu_capture_start();
    text = rb_run_text(spec, RID);
    tu_capture_stop();
    ck_assert_str_eq(text, "start " RID " e |\n"
                           "step 0 41d954fc40000000 | x=int:1\n"
                           "step 1 41d954fc40100000 | x=int:3\n"
                           "end finished |\n");
    w = tu_strdupf("%s/metrics.csv: line 3: key 'x' again in step 0; record skipped", folder);
    ck_assert_msg(strstr(tu_captured(), w), "%s", tu_captured());
    free(w), free(text), free(spec), free(folder), free(ld);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("csv-types");
    TCase *tc = tcase_create("types");
    tcase_set_timeout(tc, 200);
    tcase_add_test(tc, test_types_wide);
    tcase_add_test(tc, test_types_long);
    tcase_add_test(tc, test_folder_without_types_reads_by_text);
    tcase_add_test(tc, test_hand_edits_refused_naming_line);
    tcase_add_test(tc, test_crafted_run_ids_skipped);
    tcase_add_test(tc, test_invalid_utf8_cell);
    tcase_add_test(tc, test_continued_folder_keeps_types);
    tcase_add_test(tc, test_steps_out_of_order_come_once_ascending);
    tcase_add_test(tc, test_repeated_keys_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
