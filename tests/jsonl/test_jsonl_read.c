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

static Suite *suite(void)
{
    Suite *s = suite_create("jsonl-read");
    TCase *tc = tcase_create("read");
    tcase_add_test(tc, run_ids_that_are_not_uuids_are_skipped);
    tcase_add_test(tc, warnings_escape_control_characters);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
