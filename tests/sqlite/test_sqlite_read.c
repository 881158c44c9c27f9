/*
 * tests/sqlite/test_sqlite_read.c - the sqlite backend read back through
 * its reader hooks (SPEC 9) gives back what was logged: a file of an older
 * schema read as it is gives what the upgraded file gives, a step that
 * logged no field is a step, and a run whose id is not a UUID (a crafted
 * file) is skipped with a warning naming the file, never handed on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "readback.h"
#include "sqlite_tu.h"

static char *copy_v2_fixture(const char *dir)
{
    char *src = tu_strdupf("%s/tests/data/schema2.db", tu_source_root());
    char *dst = tu_path(dir, "v2.db");
    size_t len = 0;
    char *data = tu_read_file(src, &len);
    ck_assert_msg(data != NULL, "cannot read %s", src);
    FILE *out = fopen(dst, "wb");
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_eq(fwrite(data, 1, len, out), len);
    ck_assert_int_eq(fclose(out), 0);
    free(data);
    free(src);
    return dst;
}

/* Every run of spec (as listed) read back, one text. */
static char *all_runs_text(const char *spec)
{
    char *list = rb_list_text(spec);
    char *text = tu_strdupf("%s", list);
    for (char *line = list; *line;) {
        char *eol = strchr(line, '\n');
        *eol = '\0';
        char id[40];
        ck_assert_int_eq(sscanf(line, "%39s", id), 1);
        char *run = rb_run_text(spec, id);
        char *next = tu_strdupf("%s%s", text, run);
        free(run);
        free(text);
        text = next;
        line = eol + 1;
    }
    free(list);
    return text;
}

/* How many "step" lines of a run text have no field. */
static int64_t empty_steps(const char *text)
{
    int64_t n = 0;
    for (const char *l = text; *l; l = strchr(l, '\n') + 1) {
        const char *eol = strchr(l, '\n');
        n += strncmp(l, "step ", 5) == 0 && eol - l > 2 && strncmp(eol - 2, " |", 2) == 0;
    }
    return n;
}

/* The version 2 file the release before schema 3 wrote (tests/data), read
 * as it is: the same events as once it is upgraded, steps without fields
 * and the re-logged step included. */
START_TEST(test_read_v2_as_it_is)
{
    char *dir = tu_mkdtemp();
    char *path = copy_v2_fixture(dir);
    char *spec = tu_strdupf("sqlite:path=%s", path);
    char *before = all_runs_text(spec);
    sqlite3 *db = tq_db(path);
    ck_assert_int_eq(tq_int(db, "PRAGMA user_version"), 2);
    /* the fixture's steps without fields, each read back as a step */
    int64_t empty = tq_int(db, "SELECT count(*) FROM tropt_log WHERE key IS NULL");
    ck_assert_int_gt(empty, 0);
    sqlite3_close(db);
    ck_assert_int_eq(empty_steps(before), empty);

    tropt_tracker_free(tq_open(path, NULL, "later")); /* upgrades it */
    char *after = all_runs_text(spec);
    ck_assert_str_eq(after, before);
    free(before), free(after), free(spec), free(path);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* A step that logged nothing is a step: it comes back, and counts. */
START_TEST(test_step_without_fields)
{
    char *dir = tu_mkdtemp();
    char *path = tu_path(dir, "e.db");
    tropt_tracker *t = tq_open(path, NULL, "empty-steps");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    tropt_field f = TROPT_F_INT("i", 1);
    ck_assert_int_eq(tropt_tracker_log_fields_at(t, 0, 1700000000.0, &f, 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_log_fields_at(t, 1, 1700000001.0, NULL, 0), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_log_fields_at(t, 2, 1700000002.0, &f, 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_log_fields_at(t, 3, 1700000003.0, NULL, 0), TROPT_OK);
    char *id = strdup(tropt_tracker_run_id(t));
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    char *spec = tu_strdupf("sqlite:path=%s", path);
    char *text = rb_run_text(spec, id);
    char *want = tu_strdupf("start %s empty-steps |\n"
                            "step 0 41d954fc40000000 | i=int:1\n"
                            "step 1 41d954fc40400000 |\n"
                            "step 2 41d954fc40800000 | i=int:1\n"
                            "step 3 41d954fc40c00000 |\n"
                            "end finished |\n",
                            id);
    ck_assert_str_eq(text, want);
    char *list = rb_list_text(spec);
    char *want_list = tu_strdupf("%s 4\n", id);
    ck_assert_str_eq(list, want_list);
    free(want_list), free(list), free(want), free(text), free(spec), free(id), free(path);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

static int no_event(const tropt_event *ev, void *ud)
{
    (void)ev;
    (void)ud;
    return 0;
}

/* A crafted database whose run ids are markup, terminal control sequences
 * or almost-UUIDs: the reader lists and reads only the real run, warns
 * once per skipped run naming the file, and shows the crafted id with its
 * control bytes escaped.  A prefix two real runs share is ambiguous. */
START_TEST(test_hostile_run_ids)
{
    enum { N_BAD = 5 };
    char *dir = tu_mkdtemp();
    char *path = tu_path(dir, "h.db");
    tropt_tracker *t = tq_open(path, NULL, "hostile");
    char *ids[N_BAD + 1];
    for (int i = 0; i <= N_BAD; i++) {
        ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
        ck_assert_int_eq(tropt_tracker_log_fields(t, &TROPT_F_INT("i", i), 1), TROPT_OK);
        ids[i] = strdup(tropt_tracker_run_id(t));
        ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    }
    tropt_tracker_free(t);
    /* the real run is the last; two crafted ids share its first 24 bytes */
    char *bad[N_BAD] = {strdup("<script>alert(1)</script>"), strdup("<plaintext>"),
                        tu_strdupf("%.24s\x1b]0;PWNED\x07", ids[N_BAD]),
                        tu_strdupf("%.35sg", ids[N_BAD]), strdup("")};
    sqlite3 *db = tq_db(path);
    for (int i = 0; i < N_BAD; i++) {
        sqlite3_stmt *st = tq_query(db, "UPDATE tropt_run SET uuid = ?1 WHERE uuid = %Q", ids[i]);
        sqlite3_bind_text(st, 1, bad[i], -1, SQLITE_STATIC);
        ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);

    char *spec = tu_strdupf("sqlite:path=%s", path);
    tu_capture_start();
    char *list = rb_list_text(spec);
    tu_capture_stop();
    char *want = tu_strdupf("%s 1\n", ids[N_BAD]);
    ck_assert_str_eq(list, want);
    const char *log = tu_captured();
    ck_assert_int_eq(tu_captured_count(TROPT_LEVEL_WARNING), N_BAD);
    ck_assert_msg(strstr(log, path) && strstr(log, "'<plaintext>' is not a UUID") &&
                      strstr(log, "\\x1b]0;PWNED\\x07") && !strchr(log, '\x1b'),
                  "%s", log);

    /* read by a prefix the crafted ids share with the real one: only the
     * real run is found, the two crafted ones warned about */
    char prefix[25];
    snprintf(prefix, sizeof prefix, "%s", ids[N_BAD]);
    tu_capture_start();
    char *text = rb_run_text(spec, prefix);
    tu_capture_stop();
    ck_assert_msg(strstr(text, ids[N_BAD]) && strstr(text, "i=int:5"), "%s", text);
    ck_assert_int_eq(tu_captured_count(TROPT_LEVEL_WARNING), 2);
    free(text);

    /* a prefix two real runs share is ambiguous, as in the other readers
     * (it used to give the first of them) */
    char *twin = tu_strdupf("%.35s%c", ids[N_BAD], ids[N_BAD][35] == 'f' ? 'e' : 'f');
    db = tq_db(path);
    sqlite3_stmt *st = tq_query(db, "UPDATE tropt_run SET uuid = %Q WHERE uuid = ?1", twin);
    sqlite3_bind_text(st, 1, bad[3], -1, SQLITE_STATIC);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
    tropt_reader *r = NULL;
    ck_assert_int_eq(tropt_reader_open(&r, spec), TROPT_OK);
    ck_assert_int_eq(tropt_reader_read_run(r, prefix, no_event, NULL), TROPT_EINVAL);
    ck_assert_msg(strstr(tropt_error_message(), "ambiguous"), "%s", tropt_error_message());
    tropt_reader_free(r);
    free(twin);
    for (int i = 0; i < N_BAD; i++)
        free(bad[i]);
    free(want), free(list), free(spec), free(path);
    for (int i = 0; i <= N_BAD; i++)
        free(ids[i]);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* A crafted file whose step is negative or not an integer: those rows are
 * skipped with a warning naming the file and the value (a replay would
 * renumber a negative step), as the csv and jsonl readers refuse them. */
START_TEST(test_bad_steps_refused)
{
    char *dir = tu_mkdtemp();
    char *path = tu_path(dir, "s.db");
    tropt_tracker *t = tq_open(path, NULL, "steps");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    for (int i = 0; i < 4; i++) {
        tropt_field f = TROPT_F_INT("i", i);
        ck_assert_int_eq(tropt_tracker_log_fields_at(t, i, 1700000000.0 + i, &f, 1), TROPT_OK);
    }
    char *id = strdup(tropt_tracker_run_id(t));
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    sqlite3 *db = tq_db(path);
    sqlite3_stmt *st = tq_query(db, "UPDATE tropt_val SET step = -5 WHERE step = 1");
    ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    st = tq_query(db, "UPDATE tropt_val SET step = 'two' WHERE step = 2");
    ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
    char *spec = tu_strdupf("sqlite:path=%s", path);
    tu_capture_start();
    char *text = rb_run_text(spec, id);
    tu_capture_stop();
    char *want = tu_strdupf("start %s steps |\n"
                            "step 0 41d954fc40000000 | i=int:0\n"
                            "step 3 41d954fc40c00000 | i=int:3\n"
                            "end finished |\n",
                            id);
    ck_assert_str_eq(text, want);
    char *w = tu_strdupf("%s: run %s: 2 rows whose step is not a non-negative integer skipped (the "
                         "first: '-5')",
                         path, id);
    ck_assert_msg(strstr(tu_captured(), w), "%s", tu_captured());
    free(w), free(want), free(text), free(spec), free(id), free(path);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sqlite-read");
    TCase *tc = tcase_create("read");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_read_v2_as_it_is);
    tcase_add_test(tc, test_step_without_fields);
    tcase_add_test(tc, test_hostile_run_ids);
    tcase_add_test(tc, test_bad_steps_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
