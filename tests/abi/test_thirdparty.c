/*
 * tests/abi/test_thirdparty.c - plugins as third parties write them.
 *   A C plugin (oot/oot.c) and a C++ plugin (oot/oot.cpp) are compiled at
 *   test time out of the tree, with only the public headers and jansson's
 *   flags, -fvisibility=hidden and -Wl,--no-undefined, then loaded by name
 *   and by path and driven through a whole run.  The C plugin writes down
 *   every call, so the test sees what crossed the ABI.
 *   A stateless plugin (create gives *self == NULL) still gets destroy.
 * Compilers: cc and c++ (TROPT_TEST_CC / TROPT_TEST_CXX override).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abiutil.h"

static const char *compiler(int cxx)
{
    const char *v = getenv(cxx ? "TROPT_TEST_CXX" : "TROPT_TEST_CC");
    return v && *v ? v : cxx ? "c++" : "cc";
}

/* Build `src` (under tests/abi/oot) into <dir>/tropt-<name>.so; returns the
 * file (malloc'd). */
static char *build_plugin(const char *dir, const char *src, const char *name)
{
    int cxx = strstr(src, ".cpp") != NULL;
    char *out = abi_plugin_file(dir, name);
    char *cmd = tu_strdupf("%s %s -pedantic -Wall -Wextra -Werror -fPIC -shared "
                           "-fvisibility=hidden -Wl,--no-undefined -I'%s/include' "
                           "$(pkg-config --cflags jansson) -o '%s' '%s/tests/abi/oot/%s' "
                           "$(pkg-config --libs jansson)",
                           compiler(cxx), cxx ? "-std=c++11" : "-std=c11", tu_source_root(), out,
                           tu_source_root(), src);
    char *log = NULL;
    int rc = tu_run(cmd, &log, 1);
    ck_assert_msg(rc == 0, "building %s out of tree failed (exit %d):\n$ %s\n%s", src, rc, cmd,
                  log);
    free(log);
    free(cmd);
    return out;
}

START_TEST(c_plugin_built_out_of_tree)
{
    char *dir = tu_mkdtemp();
    char *so = build_plugin(dir, "oot.c", "oot");
    char *calls = tu_path(dir, "calls.txt");
    abi_set_path(dir);

    char *spec = tu_strdupf("oot:out=%s,level=3", calls);
    json_t *xcfg = json_pack("{s:f}", "lr", 0.5);
    tropt_tracker *t = NULL;
    int rc = tropt_tracker_open(&t, spec, "exp", xcfg);
    ck_assert_msg(rc == TROPT_OK, "%s: %s", tropt_error_name(rc), tropt_error_message());
    json_t *cfg = json_pack("{s:{s:s}}", "opt", "name", "adam");
    ck_assert_int_eq(tropt_tracker_init(t, cfg), TROPT_OK);
    tropt_field f[] = {
        TROPT_F_REAL("loss", 0.1), TROPT_F_INT("n", 7),    TROPT_F_STR("s", "x"),
        TROPT_F_BOOL("b", 1),      TROPT_F_REAL("r", NAN), TROPT_F_NULL("z"),
    };
    ck_assert_int_eq(tropt_tracker_log_fields(t, f, sizeof f / sizeof f[0]), TROPT_OK);
    json_t *data = json_pack("{s:{s:i}, s:[i,i]}", "a", "b", 1, "arr", 1, 2);
    ck_assert_int_eq(tropt_tracker_log(t, data), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_flush(t), TROPT_OK);
    json_t *summary = json_pack("{s:f}", "best", 0.25);
    ck_assert_int_eq(tropt_tracker_finish(t, summary), TROPT_OK);
    tropt_tracker_free(t);
    abi_assert_not_loaded(so);

    char *got = tu_read_file(calls, NULL);
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, "create level=3 every=2000ms mode=1(default)\n"
                          "init uuid exp config=object lr=0.5 opt/name=\"adam\"\n"
                          "log 0 loss=0.1 n=7 s=\"x\" b=true r=nan z=null\n"
                          "log 1 a/b=1 arr=json\n"
                          "flush\n"
                          "finish finished best=0.25\n"
                          "destroy\n");
    free(got);
    json_decref(summary);
    json_decref(data);
    json_decref(cfg);
    json_decref(xcfg);
    free(spec);
    free(calls);
    free(so);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(c_plugin_options_are_checked_by_the_host)
{
    /* The plugin declares out as required and level in [0, 9]: the host
     * refuses before create, which would open the file. */
    char *dir = tu_mkdtemp();
    char *so = build_plugin(dir, "oot.c", "oot");
    char *calls = tu_path(dir, "calls.txt");
    abi_set_path(dir);
    abi_expect_open_fails("oot", TROPT_EINVAL, NULL, "out", (const char *)NULL);
    char *spec = tu_strdupf("oot:out=%s,level=10", calls);
    abi_expect_open_fails(spec, TROPT_EINVAL, NULL, "level", (const char *)NULL);
    free(spec);
    spec = tu_strdupf("oot:out=%s,mode=reckless", calls);
    abi_expect_open_fails(spec, TROPT_EINVAL, NULL, "mode", "fast|safe", (const char *)NULL);
    ck_assert_msg(tu_read_file(calls, NULL) == NULL, "create ran for a refused spec");
    abi_assert_not_loaded(so);
    free(spec);
    free(calls);
    free(so);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(cxx_plugin_built_out_of_tree)
{
    char *dir = tu_mkdtemp();
    char *so = build_plugin(dir, "oot.cpp", "cxx");
    for (int by_path = 0; by_path < 2; by_path++) {
        abi_set_path(by_path ? NULL : dir);
        tropt_tracker *t = NULL;
        int rc = tropt_tracker_open(&t, by_path ? so : "cxx", NULL, NULL);
        ck_assert_msg(rc == TROPT_OK, "%s: %s", tropt_error_name(rc), tropt_error_message());
        for (int run = 0; run < 2; run++) {
            ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
            for (int i = 0; i < 3; i++) {
                tropt_field f = TROPT_F_INT("i", i);
                rc = tropt_tracker_log_fields(t, &f, 1);
                ck_assert_msg(rc == TROPT_OK, "%s", tropt_error_message());
            }
            ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
        }
        tropt_tracker_free(t);
        abi_assert_not_loaded(so);
    }
    free(so);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(stateless_plugin_gets_destroy)
{
    /* create() succeeded with *self == NULL: the instance exists all the
     * same, and destroy is what ends it (plugin.h: destroy is required and
     * releases the instance).  Hooks get the NULL back. */
    char *dir = tu_mkdtemp();
    char *calls = tu_path(dir, "calls.txt");
    abi_set_path(abi_good_dir());
    char *spec = tu_strdupf("stateless:out=%s", calls);
    tropt_tracker *t = NULL;
    int rc = tropt_tracker_open(&t, spec, NULL, NULL);
    ck_assert_msg(rc == TROPT_OK, "%s: %s", tropt_error_name(rc), tropt_error_message());
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_log_fields(t, NULL, 0), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    tropt_tracker_free(t); /* aborts the second run, then destroys */
    char *got = tu_read_file(calls, NULL);
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, "create\ninit\nlog\nfinish\ninit\naborted\ndestroy\n");
    free(got);
    free(spec);
    free(calls);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("abi-thirdparty");
    TCase *tc = tcase_create("out-of-tree");
    tcase_add_checked_fixture(tc, abi_env_save, abi_env_restore);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, c_plugin_built_out_of_tree);
    tcase_add_test(tc, c_plugin_options_are_checked_by_the_host);
    tcase_add_test(tc, cxx_plugin_built_out_of_tree);
    suite_add_tcase(s, tc);

    tc = tcase_create("lifecycle");
    tcase_add_checked_fixture(tc, abi_env_save, abi_env_restore);
    tcase_add_test(tc, stateless_plugin_gets_destroy);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
