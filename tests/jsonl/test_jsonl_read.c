/*
 * tests/jsonl/test_jsonl_read.c - the jsonl backend read back through its
 * reader hooks (SPEC 9) from crafted journals: what comes back is what
 * tropt could have written, and a line that is not is skipped with a
 * warning naming the file and the line, its control bytes escaped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "readback.h"

#define ID "01890a5d-ac96-774b-bcce-b30209920001"

static char *journal(const char *dir, const char *text)
{
    char *path = tu_path(dir, "j.jsonl");
    ck_assert_int_eq(tu_write_file(path, text), 0);
    return path;
}

static int no_event(const tropt_event *ev, void *ud)
{
    (void)ev;
    (void)ud;
    return 0;
}

/* Run ids that are markup, terminal control sequences, or not quite a
 * UUID: every such event is skipped; the first of a file is warned about
 * with its line, the rest counted; the real run reads back whole. */
START_TEST(run_ids_that_are_not_uuids_are_skipped)
{
    static const char text[] =
        "{\"type\":\"run_start\",\"run_id\":\"<script>alert(1)</script>\",\"time\":1.0,"
        "\"experiment\":\"x\",\"host\":\"h\",\"pid\":1,\"config\":null}\n"
        "{\"type\":\"run_start\",\"run_id\":\"" ID "\",\"time\":1700000000.0,"
        "\"experiment\":\"e\",\"host\":\"h\",\"pid\":7,\"config\":{\"lr\":0.5}}\n"
        "{\"type\":\"log\",\"run_id\":\"<plaintext>\",\"time\":2.0,\"step\":0,\"data\":{}}\n"
        "{\"type\":\"log\",\"run_id\":\"" ID "\",\"time\":1700000001.0,\"step\":0,"
        "\"data\":{\"x\":1}}\n"
        "{\"type\":\"log\",\"run_id\":\"01890a5d-ac96-774b-bcce-\\u001b]0;PWNED\\u0007\","
        "\"time\":2.0,\"step\":0,\"data\":{}}\n"
        "{\"type\":\"log\",\"run_id\":\"" ID "0\",\"time\":2.0,\"step\":0,\"data\":{}}\n"
        "{\"type\":\"run_end\",\"run_id\":\"" ID "\",\"time\":1700000002.0,"
        "\"status\":\"finished\",\"summary\":null}\n";
    char *dir = tu_mkdtemp();
    char *path = journal(dir, text);
    char *spec = tu_strdupf("jsonl:path=%s", path);

    tu_capture_start();
    char *list = rb_list_text(spec);
    tu_capture_stop();
    ck_assert_str_eq(list, ID " 1\n");
    char *want = tu_strdupf("%s: line 1: run id '<script>alert(1)</script>' is not a UUID", path);
    ck_assert_msg(strstr(tu_captured(), want), "%s", tu_captured());
    ck_assert_msg(strstr(tu_captured(), "3 more events whose run id is not a UUID skipped"), "%s",
                  tu_captured());
    ck_assert_int_eq(tu_captured_count(TROPT_LEVEL_WARNING), 2);

    /* read_run walks the journal twice, and warns once */
    tu_capture_start();
    char *run = rb_run_text(spec, ID);
    tu_capture_stop();
    ck_assert_str_eq(run, "start " ID " e | lr=real:3fe0000000000000\n"
                          "step 0 41d954fc40400000 | x=int:1\n"
                          "end finished |\n");
    ck_assert_int_eq(tu_captured_count(TROPT_LEVEL_WARNING), 2);

    /* the crafted id itself is no run */
    tropt_reader *r = NULL;
    ck_assert_int_eq(tropt_reader_open(&r, spec), TROPT_OK);
    ck_assert_int_eq(tropt_reader_read_run(r, "<plaintext>", no_event, NULL), TROPT_EINVAL);
    tropt_reader_free(r);

    /* the CLI lists none of them, and its warnings hold no control byte */
    char *cmd = tu_strdupf("'%s' runs --from '%s'", getenv("TROPT_CLI"), spec), *out = NULL;
    ck_assert_int_eq(tu_run(cmd, &out, 0), 0);
    ck_assert_msg(strstr(out, ID) && !strstr(out, "<script>") && !strstr(out, "<plaintext>") &&
                      !strstr(out, "PWNED"),
                  "%s", out);
    free(out);
    ck_assert_int_eq(tu_run(cmd, &out, 1), 0);
    ck_assert_msg(strstr(out, "not a UUID") && !strchr(out, '\x1b') && !strchr(out, '\a'), "%s",
                  out);
    free(out), free(cmd), free(run), free(want), free(list), free(spec), free(path);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* A malformed line whose text holds terminal control sequences is warned
 * about with them escaped; the warning names the file and line. */
START_TEST(warnings_escape_control_characters)
{
    static const char text[] = "{\"type\":\"log\",\"run_id\":\"" ID "\",\"time\":1.0,\"step\":0,"
                               "\"data\":{\"\\u001b[2J\\u009b31m\":{\"a\":1}}}\n";
    char *dir = tu_mkdtemp();
    char *path = journal(dir, text);
    char *spec = tu_strdupf("jsonl:path=%s", path);
    tu_capture_start();
    char *list = rb_list_text(spec);
    tu_capture_stop();
    ck_assert_str_eq(list, "");
    const char *log = tu_captured();
    ck_assert_msg(strstr(log, path) && strstr(log, "line 1") &&
                      strstr(log, "\\x1b[2J\\xc2\\x9b31m") && !strchr(log, '\x1b'),
                  "%s", log);
    free(list), free(spec), free(path);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

static char *cli_out(const char *fmt, const char *a, const char *b, int *status)
{
    char *args = tu_strdupf(fmt, a, b);
    char *cmd = tu_strdupf("'%s' %s", getenv("TROPT_CLI"), args), *out = NULL;
    *status = tu_run(cmd, &out, 1);
    free(cmd);
    free(args);
    return out;
}

/* A run replayed twice into one journal (the jsonl backend appends): the
 * reader gives it back once, as the first journal has it; `tropt replay
 * --from` it into sqlite succeeds (it failed: "log() called on inactive
 * tracker" after the first run_end), `show` counts its steps once. */
START_TEST(a_run_replayed_twice_into_one_journal_reads_once)
{
    char *dir = tu_mkdtemp();
    char *j1 = tu_path(dir, "j1.jsonl"), *j2 = tu_path(dir, "j2.jsonl");
    char *spec1 = tu_strdupf("jsonl:path=%s", j1), *spec2 = tu_strdupf("jsonl:path=%s", j2);
    tropt_tracker *t = NULL;
    ck_assert_int_eq(tropt_tracker_open(&t, spec1, "twice", NULL), TROPT_OK);
    json_t *cfg = json_pack("{s:i}", "seed", 3);
    ck_assert_int_eq(tropt_tracker_init(t, cfg), TROPT_OK);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(tropt_tracker_log_fields(t, &TROPT_F_INT("i", i), 1), TROPT_OK);
    char *id = strdup(tropt_tracker_run_id(t));
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    json_decref(cfg);
    int st;
    for (int k = 0; k < 2; k++) {
        char *out = cli_out("replay '%s' --tracker '%s'", j1, spec2, &st);
        ck_assert_msg(st == 0, "%s", out);
        free(out);
    }
    char *once = rb_run_text(spec1, id), *twice = rb_run_text(spec2, id);
    ck_assert_str_eq(twice, once);
    char *db = tu_path(dir, "d.db");
    char *dspec = tu_strdupf("sqlite:path=%s", db);
    char *out = cli_out("replay --from '%s' --tracker '%s'", spec2, dspec, &st);
    ck_assert_msg(st == 0, "%s", out);
    free(out);
    char *copy = rb_run_text(dspec, id);
    ck_assert_str_eq(copy, once);
    char *sid = tu_strdupf("%.8s", id);
    out = cli_out("show %s --from '%s'", sid, spec2, &st);
    const char *end1 = strstr(out, "\nended ");
    ck_assert_msg(st == 0 && strstr(out, "steps       3\n") && end1 &&
                      !strstr(end1 + 1, "\nended "),
                  "%s", out);
    free(out), free(sid), free(copy), free(dspec), free(db), free(once), free(twice), free(id);
    free(spec1), free(spec2), free(j1), free(j2);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* A journal whose run went back to earlier steps (a restart) and ended
 * twice: each step once, in order, the lines of a step merged (a key's
 * last line winning, the last line's time); one END with the last status
 * and summary. */
START_TEST(steps_repeated_or_out_of_order_come_once_in_order)
{
    static const char text[] =
        "{\"type\":\"run_start\",\"run_id\":\"" ID "\",\"time\":1700000000.0,"
        "\"experiment\":\"e\",\"host\":\"h\",\"pid\":7,\"config\":{\"lr\":0.5}}\n"
        "{\"type\":\"log\",\"run_id\":\"" ID
        "\",\"time\":1700000001.0,\"step\":0,\"data\":{\"x\":0}}\n"
        "{\"type\":\"log\",\"run_id\":\"" ID
        "\",\"time\":1700000002.0,\"step\":2,\"data\":{\"x\":2}}\n"
        "{\"type\":\"run_end\",\"run_id\":\"" ID "\",\"time\":1700000003.0,"
        "\"status\":\"crashed\",\"summary\":null}\n"
        "{\"type\":\"run_start\",\"run_id\":\"" ID "\",\"time\":1700000004.0,"
        "\"experiment\":\"e\",\"host\":\"h\",\"pid\":8,\"config\":{\"lr\":0.25}}\n"
        "{\"type\":\"log\",\"run_id\":\"" ID
        "\",\"time\":1700000005.0,\"step\":1,\"data\":{\"x\":1}}\n"
        "not json\n"
        "{\"type\":\"log\",\"run_id\":\"" ID "\",\"time\":1700000006.0,\"step\":2,"
        "\"data\":{\"x\":22}}\n"
        "{\"type\":\"log\",\"run_id\":\"" ID "\",\"time\":1700000006.5,\"step\":1,"
        "\"data\":{\"y\":\"1y\"}}\n"
        "{\"type\":\"run_end\",\"run_id\":\"" ID "\",\"time\":1700000007.0,"
        "\"status\":\"finished\",\"summary\":{\"best\":1}}\n";
    char *dir = tu_mkdtemp();
    char *path = journal(dir, text);
    char *spec = tu_strdupf("jsonl:path=%s", path);
    tu_capture_start();
    char *run = rb_run_text(spec, ID);
    tu_capture_stop();
    ck_assert_str_eq(run, "start " ID " e | lr=real:3fe0000000000000\n"
                          "step 0 41d954fc40400000 | x=int:0\n"
                          "step 1 41d954fc41a00000 | x=int:1; y=str:1y\n"
                          "step 2 41d954fc41800000 | x=int:22\n"
                          "end finished | best=int:1\n");
    ck_assert_int_eq(tu_captured_count(TROPT_LEVEL_WARNING), 1); /* "not json", once */
    rb_alloc_fail_loop(spec, ID, run); /* out of memory anywhere: a clean error */
    free(run), free(spec), free(path);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("jsonl-read");
    TCase *tc = tcase_create("read");
    tcase_add_test(tc, run_ids_that_are_not_uuids_are_skipped);
    tcase_add_test(tc, warnings_escape_control_characters);
    tcase_add_test(tc, a_run_replayed_twice_into_one_journal_reads_once);
    tcase_add_test(tc, steps_repeated_or_out_of_order_come_once_in_order);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
