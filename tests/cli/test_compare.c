/*
 * tests/cli/test_compare.c - `tropt compare RUN RUN...` as a user runs it:
 * the same text, CSV and JSON from every source; a killed run crashed in
 * each format; values keep their type (a stored string "true" stays a
 * string); keys that are not UTF-8 neither crash nor vanish; stored text
 * never reaches the terminal raw; the CSV read back by Python's csv.
 */
#include <jansson.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "cli_tu.h"
#include "sqlite_tu.h"

START_TEST(every_source_prints_the_same_comparison)
{
    db3 d;
    stores s = stores_with_db3(&d);
    static const char *const formats[] = {"text", "csv", "json"};
    for (int f = 0; f < 3; f++) {
        char *out = same_everywhere(&s, "compare %s %s %s --format %s", d.a, d.b, d.c, formats[f]);
        ck_assert_msg(strstr(out, "loss"), "%s", out);
        free(out);
    }
    char *out = same_everywhere(&s, "compare %.18s %.18s", d.a, d.c);
    ck_assert_msg(strstr(out, "config (differing keys)") && strstr(out, "  loss last"), "%s", out);
    free(out);
    stores_free(&s);
    db3_free(&d);
}
END_TEST

START_TEST(killed_run_is_crashed_in_every_format)
{
    stores s = stores_new();
    char *spec = tu_strdupf("sqlite:path=%s;jsonl:path=%s;csv:dir=%s", s.db, s.jsonl, s.csvdir);
    char *id = killed_run(spec, s.db, 3);
    /* a second, finished run to compare it with */
    char *other = tu_strdupf("'%s' --tracker '%s' --steps 3 >/dev/null", demo(), spec), *o = NULL;
    ck_assert_int_eq(tu_run(other, &o, 1), 0);
    free(o);
    sqlite3 *db = tq_db(s.db);
    char *q = tu_strdupf("SELECT run_id FROM runs WHERE run_id <> '%s'", id);
    char *oid = tq_text(db, q);
    sqlite3_close(db);
    free(q);
    char other_id[37] = "";
    snprintf(other_id, sizeof other_id, "%s", oid ? oid : "");
    free(oid);
    ck_assert_msg(other_id[0], "no second run");
    for (int i = 0; i < 4; i++) {
        result r = tropt("compare %s %s %s", id, other_id, s.spec[i]);
        char *st = line_with(r.out, "status");
        ck_assert_msg(r.rc == 0 && st && strstr(st, " crashed "), "%s:\n%s%s", s.spec[i], r.out,
                      r.err);
        free(st);
        result_free(&r);
        r = tropt("compare %s %s %s --format csv", id, other_id, s.spec[i]);
        ck_assert_msg(r.rc == 0 && strstr(r.out, "\nrun,status,,crashed,finished\r\n"), "%s:\n%s%s",
                      s.spec[i], r.out, r.err);
        result_free(&r);
        r = tropt("compare %s %s %s --format json", id, other_id, s.spec[i]);
        json_t *j = json_loads(r.out, 0, NULL);
        ck_assert_msg(j, "%s", r.out);
        json_t *status = json_object_get(json_object_get(j, "run"), "status");
        ck_assert_str_eq(json_string_value(json_object_get(status, id)), "crashed");
        ck_assert_str_eq(json_string_value(json_object_get(status, other_id)), "finished");
        json_decref(j);
        result_free(&r);
    }
    free(other);
    free(id);
    free(spec);
    stores_free(&s);
}
END_TEST

/* Two runs in one database whose config and metrics hold the hostile
 * values of issue 26: keys that are not UTF-8, strings that read as JSON,
 * control characters. */
static void hostile_db(const char *path, char ids[2][37])
{
    static const char *const strs[] = {"true", "[1,2]", "123", "null"};
    for (int r = 0; r < 2; r++) {
        tropt_tracker *t = tq_open(path, NULL, "hostile");
        json_t *cfg = json_pack("{s:s, s:i}", "title", r ? "x\x1b]0;pwned\x07" : "plain", "n", r);
        ck_assert_int_eq(tropt_tracker_init(t, cfg), TROPT_OK);
        json_decref(cfg);
        snprintf(ids[r], 37, "%s", tropt_tracker_run_id(t));
        tropt_field f[] = {TROPT_F_REAL("bad\xff\xfe", 1.5 + r), TROPT_F_STR("s0", strs[0]),
                           TROPT_F_STR("s1", strs[1]),           TROPT_F_STR("s2", strs[2]),
                           TROPT_F_STR("s3", strs[3]),           TROPT_F_STR("ctl", "a\x1b[2Jb")};
        ck_assert_int_eq(tropt_tracker_log_fields(t, f, 6), TROPT_OK);
        ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
        tropt_tracker_free(t);
    }
}

START_TEST(json_keeps_types_and_every_key)
{
    char *dir = tu_mkdtemp(), *path = tu_path(dir, "h.db");
    char ids[2][37];
    hostile_db(path, ids);
    result r = tropt("compare %s %s --db '%s' --format json", ids[0], ids[1], path);
    ck_assert_msg(r.rc == 0, "%s", r.err);
    json_error_t e;
    json_t *j = json_loads(r.out, 0, &e);
    ck_assert_msg(j, "%s: %s", e.text, r.out);
    json_t *m = json_object_get(j, "metrics");
    /* the key that is not UTF-8 is there, its bytes replaced by U+FFFD */
    json_t *bad = json_object_get(m, "bad\xef\xbf\xbd\xef\xbf\xbd");
    ck_assert_msg(bad, "the metric with a non-UTF-8 key is missing:\n%s", r.out);
    ck_assert(json_real_value(json_object_get(json_object_get(bad, ids[1]), "max")) == 2.5);
    static const char *const strs[] = {"true", "[1,2]", "123", "null"};
    for (int i = 0; i < 4; i++) {
        char key[4];
        snprintf(key, sizeof key, "s%d", i);
        json_t *v = json_object_get(json_object_get(json_object_get(m, key), ids[0]), "last");
        ck_assert_msg(json_is_string(v) && strcmp(json_string_value(v), strs[i]) == 0,
                      "the string %s came back as another type:\n%s", strs[i], r.out);
    }
    json_t *title = json_object_get(json_object_get(j, "config"), "title");
    ck_assert_str_eq(json_string_value(json_object_get(title, ids[1])), "x\x1b]0;pwned\x07");
    json_decref(j);
    result_free(&r);
    free(path);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(text_neutralises_stored_control_characters)
{
    char *dir = tu_mkdtemp(), *path = tu_path(dir, "h.db");
    char ids[2][37];
    hostile_db(path, ids);
    result r = tropt("compare %s %s --db '%s'", ids[0], ids[1], path);
    ck_assert_msg(r.rc == 0, "%s", r.err);
    ck_assert_msg(!strchr(r.out, 0x1b) && !strchr(r.out, 0x07), "an escape reached:\n%s", r.out);
    ck_assert_msg(strstr(r.out, "bad\xef\xbf\xbd\xef\xbf\xbd last"), "%s", r.out);
    ck_assert_msg(strstr(r.out, "\"true\"") && strstr(r.out, "\"null\""),
                  "strings lost quotes:\n%s", r.out);
    result_free(&r);
    free(path);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* Python's csv reads the CSV back cell for cell, strings exactly as stored. */
START_TEST(csv_reads_back_with_python)
{
    char *dir = tu_mkdtemp(), *path = tu_path(dir, "h.db"), *csv = tu_path(dir, "out.csv");
    char ids[2][37];
    hostile_db(path, ids);
    char *cmd = tu_strdupf("'%s' compare %s %s --db '%s' --format csv > '%s'", cli(), ids[0],
                           ids[1], path, csv);
    char *out = NULL;
    ck_assert_int_eq(tu_run(cmd, &out, 1), 0);
    free(out);
    free(cmd);
    cmd = tu_strdupf(
        "/usr/bin/python3 -c \"import csv,sys\n"
        "rows=list(csv.reader(open(sys.argv[1],newline='',encoding='utf-8',errors='surrogateescape'"
        ")))\n"
        "d={(r[0],r[1],r[2]):r[3:] for r in rows[1:]}\n"
        "assert rows[0]==['kind','key','stat','%s','%s'],rows[0]\n"
        "assert "
        "d[('config','title','')]==['plain','x\\x1b]0;pwned\\x07'],d[('config','title','')]\n"
        "assert d[('metric','s1','last')]==['[1,2]','[1,2]']\n"
        "assert d[('metric','ctl','last')]==['a\\x1b[2Jb']*2\n"
        "print('ok')\" '%s'",
        ids[0], ids[1], csv);
    ck_assert_int_eq(tu_run(cmd, &out, 1), 0);
    ck_assert_msg(strstr(out, "ok"), "%s", out);
    free(out);
    free(cmd);
    free(csv);
    free(path);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* tests/report/golden.jsonl (three runs: A finished, B crashed, C) replayed
 * into dir/golden.db. */
static char *golden_db(const char *dir)
{
    char *db = tu_path(dir, "golden.db");
    char *jl = tu_strdupf("%s/tests/report/golden.jsonl", getenv("TROPT_TEST_SOURCE_ROOT"));
    char *args = tu_strdupf("replay '%s' --tracker 'sqlite:path=%s'", jl, db);
    char *out = NULL;
    ck_assert_msg(tq_cli(args, &out) == 0, "replay failed: %s", out);
    free(out);
    free(args);
    free(jl);
    return db;
}

START_TEST(formats_read_back_by_real_parsers)
{
    char *dir = tu_mkdtemp();
    char *db = golden_db(dir);
    char *out = NULL;
    /* json: a real parser reads it. */
    char *args =
        tu_strdupf("compare --db '%s' 01940000-0000 01940000-0001 --format json 2>/dev/null", db);
    ck_assert_int_eq(tq_cli(args, &out), 0);
    free(args);
    json_error_t e;
    json_t *j = json_loads(out, 0, &e);
    ck_assert_msg(j != NULL, "%s: %s", e.text, out);
    free(out);
    const char *A = "01940000-0000-7000-8000-00000000000a",
               *B = "01940000-0001-7000-8000-00000000000b";
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "runs"), 0)), A);
    json_t *cfg = json_object_get(j, "config");
    ck_assert(json_real_value(json_object_get(json_object_get(cfg, "lr"), A)) == 0.1);
    ck_assert(json_real_value(json_object_get(json_object_get(cfg, "lr"), B)) == 0.01);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(cfg, "note"), A)),
                     "a <b> & \"c\"");
    ck_assert(json_is_null(json_object_get(json_object_get(cfg, "note"), B)));
    ck_assert_ptr_null(json_object_get(cfg, "opt/beta")); /* equal: not listed */
    ck_assert_ptr_null(json_object_get(cfg, "opt/name"));
    json_t *loss = json_object_get(json_object_get(j, "metrics"), "loss");
    ck_assert(json_real_value(json_object_get(json_object_get(loss, A), "last")) == 0.25);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(loss, A), "min")), "-inf");
    ck_assert(json_number_value(json_object_get(json_object_get(loss, B), "max")) == 8);
    json_t *status = json_object_get(json_object_get(j, "run"), "status");
    ck_assert_str_eq(json_string_value(json_object_get(status, B)), "crashed");
    json_decref(j);

    /* csv: python3's csv module reads it back (quotes, commas, empty cells). */
    char *csv = tu_path(dir, "c.csv");
    args = tu_strdupf("compare --db '%s' 01940000-0000 01940000-0001 --format csv > '%s'", db, csv);
    ck_assert_int_eq(tq_cli(args, &out), 0);
    free(out);
    free(args);
    args = tu_strdupf("python3 -c \"import csv,sys,json; "
                      "print(json.dumps(list(csv.reader(open(sys.argv[1], newline='')))))\" '%s'",
                      csv);
    ck_assert_int_eq(tu_run(args, &out, 0), 0);
    free(args);
    j = json_loads(out, 0, &e);
    ck_assert_msg(j != NULL, "%s", out);
    free(out);
    json_t *head = json_array_get(j, 0);
    ck_assert_uint_eq(json_array_size(head), 5);
    ck_assert_str_eq(json_string_value(json_array_get(head, 3)), A);
    int seen_note = 0, seen_loss = 0;
    for (size_t r = 1; r < json_array_size(j); r++) {
        json_t *row = json_array_get(j, r);
        ck_assert_uint_eq(json_array_size(row), 5);
        const char *kind = json_string_value(json_array_get(row, 0));
        const char *key = json_string_value(json_array_get(row, 1));
        const char *stat = json_string_value(json_array_get(row, 2));
        if (strcmp(kind, "config") == 0 && strcmp(key, "note") == 0) {
            ck_assert_str_eq(json_string_value(json_array_get(row, 3)), "a <b> & \"c\"");
            ck_assert_str_eq(json_string_value(json_array_get(row, 4)), "");
            seen_note = 1;
        }
        if (strcmp(key, "loss") == 0 && strcmp(stat, "max") == 0) {
            ck_assert_str_eq(json_string_value(json_array_get(row, 3)), "inf");
            ck_assert_str_eq(json_string_value(json_array_get(row, 4)), "8");
            seen_loss = 1;
        }
        ck_assert(strcmp(key, "opt/beta") != 0);
    }
    ck_assert(seen_note && seen_loss);
    json_decref(j);
    free(csv);

    /* text: the differing keys and the metrics, side by side. */
    args = tu_strdupf("compare --db '%s' 01940000-0000 01940000-0001 01940000-0002", db);
    ck_assert_int_eq(tq_cli(args, &out), 0);
    free(args);
    ck_assert_ptr_nonnull(strstr(out, "config (differing keys)\n"));
    ck_assert_ptr_nonnull(
        strstr(out, "  opt/name     \"adam\"           \"adam\"              \"sgd\"\n"));
    ck_assert_ptr_nonnull(strstr(out, "  loss min     -inf             3.1999999999999993  -\n"));
    ck_assert_ptr_null(strstr(out, "opt/beta"));
    free(out);
    /* Usage errors. */
    args = tu_strdupf("compare --db '%s' 01940000-0000", db);
    ck_assert_int_eq(tq_cli(args, &out), 2);
    free(out);
    free(args);
    args = tu_strdupf("compare --db '%s' 01940000-0000 01940000-0001 --format xml", db);
    ck_assert_int_eq(tq_cli(args, &out), 2);
    ck_assert_ptr_nonnull(strstr(out, "unknown format 'xml'"));
    free(out);
    free(args);
    free(db);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cli-compare");
    TCase *tc = tcase_create("compare");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, every_source_prints_the_same_comparison);
    tcase_add_test(tc, killed_run_is_crashed_in_every_format);
    tcase_add_test(tc, json_keeps_types_and_every_key);
    tcase_add_test(tc, text_neutralises_stored_control_characters);
    tcase_add_test(tc, csv_reads_back_with_python);
    tcase_add_test(tc, formats_read_back_by_real_parsers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
