/*
 * tests/sqlite/test_sqlite_identity.c - run identity in a real database
 * file, read back by SQL (SPEC 14, issue 28): names (given in C, by
 * $TROPT_RUN_NAME, defaults), provenance, tags and a note during a run and
 * afterwards, renaming, deleting a run (rows gone, integrity kept, a later
 * init of the id refused), and the store's rules for attempts and resume
 * keys (SPEC 15) when two writers or a replay meet.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sqlite_tu.h"

static char *new_run(tropt_tracker *t, const char *name)
{
    if (name)
        ck_assert_int_eq(tropt_tracker_set_run_name(t, name), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    tropt_field f[] = {TROPT_F_REAL("loss", 1.5)};
    ck_assert_int_eq(tropt_tracker_log_fields(t, f, 1), TROPT_OK);
    char *id = strdup(tropt_tracker_run_id(t));
    return id;
}

START_TEST(names_given_from_env_and_default)
{
    char *dir = tu_mkdtemp(), *db = tu_path(dir, "runs.db");
    ck_assert_int_eq(setenv("TROPT_RUN_NAME", "from-env", 1), 0);
    tropt_tracker *t = tq_open(db, NULL, "names");
    char *env_id = new_run(t, NULL);
    unsetenv("TROPT_RUN_NAME");
    char *c_id = new_run(t, "given in C");
    char *ids[4];
    for (int i = 0; i < 4; i++)
        ids[i] = new_run(t, NULL);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);

    sqlite3 *d = tq_db(db);
    tq_text_eq(d, "from-env", "SELECT name FROM runs WHERE run_id = %Q", env_id);
    tq_text_eq(d, "given in C", "SELECT name FROM runs WHERE run_id = %Q", c_id);
    for (int i = 0; i < 4; i++) {
        /* "<adjective>-<noun>-<n>": two words and a number */
        ck_assert_int_eq(tq_int(d,
                                "SELECT name GLOB '[a-z]*-[a-z]*-[0-9]*' FROM runs"
                                " WHERE run_id = %Q",
                                ids[i]),
                         1);
        free(ids[i]);
    }
    ck_assert_int_eq(tq_int(d, "SELECT count(DISTINCT name) FROM runs"), 6);
    /* provenance: the command line, the working directory, the version */
    char cwd[4096];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    tq_text_eq(d, cwd, "SELECT cwd FROM runs WHERE run_id = %Q", c_id);
    tq_text_eq(d, tropt_version(), "SELECT version FROM runs WHERE run_id = %Q", c_id);
    ck_assert_int_eq(tq_int(d,
                            "SELECT instr(command, 'test_sqlite_identity') > 0 FROM runs"
                            " WHERE run_id = %Q",
                            c_id),
                     1);
    ck_assert_int_eq(tq_int(d, "SELECT count(*) FROM runs WHERE attempts <> 1"), 0);
    sqlite3_close(d);
    free(env_id);
    free(c_id);
    free(db);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

static void annotate(tropt_tracker *t, const char *id, tropt_annotation_kind k, const char *text)
{
    tropt_annotation a = {k, text, 1.0e9};
    int rc = tropt_tracker_annotate_run(t, id, &a);
    ck_assert_msg(rc == TROPT_OK, "annotate: %s", tropt_error_message());
}

START_TEST(tags_and_note_during_and_after)
{
    char *dir = tu_mkdtemp(), *db = tu_path(dir, "runs.db");
    tropt_tracker *t = tq_open(db, NULL, "tags");
    char *id = new_run(t, "tagged");
    ck_assert_int_eq(tropt_tracker_tag(t, "baseline"), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_tag(t, "lr=0.1"), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_tag(t, "baseline"), TROPT_OK); /* twice keeps one */
    annotate(t, id, TROPT_ANNOTATE_NOTE, "during the run");
    ck_assert_int_eq(tropt_tracker_flush(t), TROPT_OK);
    sqlite3 *d = tq_db(db);
    tq_text_eq(d, "[\"baseline\",\"lr=0.1\"]", "SELECT tags FROM runs WHERE run_id = %Q", id);
    tq_text_eq(d, "during the run", "SELECT note FROM runs WHERE run_id = %Q", id);
    sqlite3_close(d);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);

    /* afterwards, from another tracker */
    tropt_tracker *u = tq_open(db, NULL, "other");
    annotate(u, id, TROPT_ANNOTATE_TAG, "bad-seed");
    annotate(u, id, TROPT_ANNOTATE_UNTAG, "lr=0.1");
    annotate(u, id, TROPT_ANNOTATE_NOTE, "a note with 'quotes' and <markup>");
    annotate(u, id, TROPT_ANNOTATE_RENAME, "renamed");
    tropt_annotation bad = {TROPT_ANNOTATE_TAG, "x", 1.0e9};
    ck_assert_int_eq(tropt_tracker_annotate_run(u, "01a00000-0000-7000-8000-000000000000", &bad),
                     TROPT_EINVAL);
    ck_assert_msg(strstr(tropt_error_message(), "01a00000-0000-7000-8000-000000000000"), "%s",
                  tropt_error_message());
    d = tq_db(db);
    tq_text_eq(d, "[\"baseline\",\"bad-seed\"]", "SELECT tags FROM runs WHERE run_id = %Q", id);
    tq_text_eq(d, "a note with 'quotes' and <markup>", "SELECT note FROM runs WHERE run_id = %Q",
               id);
    tq_text_eq(d, "renamed", "SELECT name FROM runs WHERE run_id = %Q", id);
    sqlite3_close(d);
    annotate(u, id, TROPT_ANNOTATE_NOTE, ""); /* "" removes the note */
    d = tq_db(db);
    tq_text_eq(d, NULL, "SELECT note FROM runs WHERE run_id = %Q", id);
    sqlite3_close(d);
    tropt_tracker_free(u);
    tropt_tracker_free(t);
    free(id);
    free(db);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(delete_run_removes_everything)
{
    char *dir = tu_mkdtemp(), *db = tu_path(dir, "runs.db");
    tropt_tracker *t = tq_open(db, NULL, "rm");
    char *keep = new_run(t, "keep");
    char *gone = new_run(t, "gone");
    ck_assert_int_eq(tropt_tracker_tag(t, "doomed"), TROPT_OK);
    for (int s = 0; s < 500; s++) {
        tropt_field f[] = {TROPT_F_REAL("loss", s), TROPT_F_STR("pad", "................")};
        ck_assert_int_eq(tropt_tracker_log_fields(t, f, 2), TROPT_OK);
    }
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_delete_run(t, gone), TROPT_OK);
    tropt_tracker_free(t);

    sqlite3 *d = tq_db(db);
    ck_assert_int_eq(tq_int(d, "SELECT count(*) FROM runs WHERE run_id = %Q", gone), 0);
    ck_assert_int_eq(tq_int(d, "SELECT count(*) FROM metrics_history WHERE run_id = %Q", gone), 0);
    ck_assert_int_eq(tq_int(d, "SELECT count(*) FROM params WHERE run_id = %Q", gone), 0);
    ck_assert_int_eq(tq_int(d, "SELECT count(*) FROM stats WHERE run_id = %Q", gone), 0);
    ck_assert_int_eq(tq_int(d, "SELECT count(*) FROM tropt_tag"), 0);
    ck_assert_int_eq(tq_int(d, "SELECT count(*) FROM tropt_val WHERE run NOT IN"
                               " (SELECT id FROM tropt_run)"),
                     0);
    ck_assert_int_eq(tq_int(d, "SELECT count(*) FROM runs WHERE run_id = %Q", keep), 1);
    ck_assert_int_eq(tq_int(d, "SELECT count(*) FROM metrics WHERE run_id = %Q", keep), 1);
    /* the space is free for reuse */
    ck_assert_int_gt(tq_int(d, "PRAGMA freelist_count"), 0);
    tq_assert_integrity(d);
    sqlite3_close(d);

    /* a replay that still holds the run is refused for it */
    tropt_tracker *r = tq_open(db, NULL, "rm");
    tropt_run_info info = {gone, "rm", 1.0e9, "elsewhere", 4242};
    ck_assert_int_eq(tropt_tracker_init_run(r, &info, NULL), TROPT_EINVAL);
    ck_assert_msg(strstr(tropt_error_message(), "deleted"), "%s", tropt_error_message());
    tropt_tracker_free(r);
    d = tq_db(db);
    ck_assert_int_eq(tq_int(d, "SELECT count(*) FROM runs WHERE run_id = %Q", gone), 0);
    sqlite3_close(d);
    free(keep);
    free(gone);
    free(db);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* Attempt `k` of run id by process pid, started at `at`. */
static int import(tropt_tracker *t, const char *id, const char *key, int64_t k, int64_t pid,
                  double at)
{
    tropt_run_record rec = {.struct_size = sizeof rec,
                            .run_id = id,
                            .started_at = 1.0e9,
                            .host = "node-a",
                            .pid = pid,
                            .attempt = k,
                            .from_step = k > 1 ? 5 : 0,
                            .attempt_started_at = at,
                            .resume_key = key};
    return tropt_tracker_import_run(t, &rec, NULL);
}

START_TEST(store_refuses_a_second_writer_and_keeps_replays)
{
    char *dir = tu_mkdtemp(), *db = tu_path(dir, "runs.db");
    const char *id = "01a25000-0000-7000-8000-00000000beef";
    tropt_tracker *t = tq_open(db, NULL, "imp");
    ck_assert_int_eq(import(t, id, "k1", 1, 100, 1.0e9), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish_run(t, "crashed", 1.0e9 + 5, NULL), TROPT_OK);
    ck_assert_int_eq(import(t, id, "k1", 2, 200, 1.0e9 + 10), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish_run(t, "crashed", 1.0e9 + 20, NULL), TROPT_OK);
    /* the same attempt again from the same writer: a replay, no new attempt */
    ck_assert_int_eq(import(t, id, "k1", 2, 200, 1.0e9 + 10), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish_run(t, "finished", 1.0e9 + 20, NULL), TROPT_OK);
    /* attempt 2 from another process: refused, naming the run and attempt */
    ck_assert_int_eq(import(t, id, "k1", 2, 300, 1.0e9 + 30), TROPT_EBACKEND);
    ck_assert_msg(strstr(tropt_error_message(), id) && strstr(tropt_error_message(), "attempt 2"),
                  "%s", tropt_error_message());
    /* a new run with a key another run carries: refused */
    ck_assert_int_eq(import(t, "01a25000-0000-7000-8000-00000000cafe", "k1", 1, 400, 1.0e9),
                     TROPT_EBACKEND);
    ck_assert_msg(strstr(tropt_error_message(), "k1"), "%s", tropt_error_message());
    tropt_tracker_free(t);
    sqlite3 *d = tq_db(db);
    ck_assert_int_eq(tq_int(d, "SELECT count(*) FROM runs"), 1);
    ck_assert_int_eq(tq_int(d, "SELECT attempts FROM runs"), 2);
    ck_assert_int_eq(tq_int(d, "SELECT pid FROM runs"), 200);
    tq_text_eq(d, "finished", "SELECT status FROM runs");
    sqlite3_close(d);
    free(db);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(system_samples_in_the_view)
{
    char *dir = tu_mkdtemp(), *db = tu_path(dir, "runs.db");
    tropt_tracker *t = tq_open(db, NULL, "sys");
    char *id = new_run(t, "sys");
    tropt_sample s[] = {{"sys/proc/rss_bytes", 1.5e8, 2.0e8}, {"sys/proc/cpu_cores", 0.5, 1.0}};
    ck_assert_int_eq(tropt_tracker_import_system(t, 1.0e9 + 15, s, 2), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_import_system(t, 1.0e9 + 30, s, 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    sqlite3 *d = tq_db(db);
    ck_assert_int_eq(tq_int(d, "SELECT count(*) FROM system WHERE run_id = %Q", id), 3);
    ck_assert_int_eq(tq_int(d,
                            "SELECT max = 2.0e8 AND value = 1.5e8 FROM system WHERE run_id = %Q"
                            " AND key = 'sys/proc/rss_bytes' AND time = 1.0e9 + 30",
                            id),
                     1);
    ck_assert_int_eq(tq_int(d, "SELECT count(*) FROM metrics WHERE key LIKE 'sys/%%'"), 0);
    sqlite3_close(d);
    free(id);
    free(db);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sqlite-identity");
    TCase *tc = tcase_create("identity");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, names_given_from_env_and_default);
    tcase_add_test(tc, tags_and_note_during_and_after);
    tcase_add_test(tc, delete_run_removes_everything);
    tcase_add_test(tc, store_refuses_a_second_writer_and_keeps_replays);
    tcase_add_test(tc, system_samples_in_the_view);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
