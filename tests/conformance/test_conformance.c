/*
 * tests/conformance/test_conformance.c - `tropt conformance` as a plugin
 * author runs it: every shipped plugin it applies to keeps every promise
 * (exit 0, "conformance: 10/10 promises kept"); each defective plugin of
 * defect.c breaks exactly the promise made for its defect, printed with
 * what was expected and what was observed, and exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

__attribute__((noinline)) static char *conformance(const char *args, int *status)
{
    char *cmd = tu_strdupf("'%s' conformance %s", getenv("TROPT_CLI"), args);
    char *out = NULL;
    *status = tu_run(cmd, &out, 1);
    free(cmd);
    return out;
}

static void all_kept(const char *args)
{
    int st;
    char *out = conformance(args, &st);
    ck_assert_msg(st == 0 && strstr(out, "conformance: 10/10 promises kept") &&
                      !strstr(out, "FAIL"),
                  "tropt conformance %s (exit %d):\n%s", args, st, out);
    free(out);
}

START_TEST(shipped_plugins_keep_every_promise)
{
    static const char *const shipped[] = {"null", "print", "sqlite", "csv", "jsonl", "tensorboard"};
    for (size_t i = 0; i < sizeof shipped / sizeof shipped[0]; i++)
        all_kept(shipped[i]);
    all_kept("csv layout=long");
    all_kept("tensorboard scalars=double");
    char *good =
        tu_strdupf("%s/tropt-memgood.so token=s3cr3t-value", getenv("TROPT_CONFORMANCE_DIR"));
    all_kept(good);
    free(good);
}
END_TEST

static const struct {
    const char *plugin;
    int promise;       /* the one promise it must break */
    const char *words; /* in the report */
} defects[] = {
    {"nancrash", 6, "signal"},
    {"losevalue", 10, "read back nothing"},
    {"roundreals", 10, "read back real"},
    {"leakinit", 7, "leaked"},
    {"printsecret", 3, "a log line"},
    {"nomessage", 5, "with message"},
    {"slowlog", 9, "p99"},
    {"sharedbuf", 8, "holds"},
    {"badoptions", 1, "option 'label' (string) declares a range that never applies"},
};

START_TEST(each_defect_breaks_its_promise)
{
    const char *dir = getenv("TROPT_CONFORMANCE_DIR");
    char *args = tu_strdupf("%s/tropt-%s.so token=s3cr3t-value", dir, defects[_i].plugin);
    int st;
    char *out = conformance(args, &st);
    ck_assert_msg(st == 1, "%s: exit %d\n%s", defects[_i].plugin, st, out);
    ck_assert_msg(strstr(out, "conformance: 9/10 promises kept"), "%s:\n%s", defects[_i].plugin,
                  out);
    char *want = tu_strdupf("FAIL %2d ", defects[_i].promise);
    char *fail = strstr(out, want);
    ck_assert_msg(fail, "%s: expected promise %d to fail:\n%s", defects[_i].plugin,
                  defects[_i].promise, out);
    ck_assert_msg(
        strstr(fail, "expected: ") && strstr(fail, "observed: ") && strstr(fail, defects[_i].words),
        "%s: report lacks expected/observed/'%s':\n%s", defects[_i].plugin, defects[_i].words, out);
    free(want);
    free(out);
    free(args);
}
END_TEST

START_TEST(usage_and_missing_plugin)
{
    int st;
    char *out = conformance("", &st);
    ck_assert_msg(st == 2 && strstr(out, "missing PLUGIN"), "%s", out);
    free(out);
    out = conformance("no-such-plugin-zz", &st);
    ck_assert_msg(st == 1 && strstr(out, "no-such-plugin-zz") && strstr(out, "FAIL"), "%s", out);
    free(out);
}
END_TEST

static Suite *conformance_suite(void)
{
    Suite *s = suite_create("conformance");
    TCase *tc = tcase_create("conformance");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, shipped_plugins_keep_every_promise);
    tcase_add_loop_test(tc, each_defect_breaks_its_promise, 0,
                        (int)(sizeof defects / sizeof defects[0]));
    tcase_add_test(tc, usage_and_missing_plugin);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(conformance_suite());
}
