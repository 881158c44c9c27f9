/*
 * tests/cli/test_check.c - `tropt check SPEC` as a user runs it: OK for a
 * good spec, an error naming the problem and exit 1 for a bad one; a
 * secret value never printed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abiutil.h"
#include "cli_tu.h"

#define SECRET_DEFAULT "hunter2-default"
#define SECRET_VALUE "s3cr3t-value"

static result run_check(const char *spec)
{
    char *q = shq(spec);
    char *args = tu_strdupf("check %s", q);
    result r = run(cli(), args);
    free(args);
    free(q);
    return r;
}

static void assert_no_secret(const result *r, const char *secret, const char *what)
{
    ck_assert_msg(strstr(r->out, secret) == NULL, "%s: stdout shows the secret:\n%s", what, r->out);
    ck_assert_msg(strstr(r->err, secret) == NULL, "%s: stderr shows the secret:\n%s", what, r->err);
}

/* ---- tropt check ------------------------------------------------------ */

START_TEST(check_good_spec_prints_ok)
{
    abi_set_path(abi_good_dir());
    static const char *const specs[] = {
        "allopts",
        "allopts:token=" SECRET_VALUE,
        "allopts:token=\"" SECRET_VALUE "\",count=5,mode=exact,interval=2s",
        "ok;allopts:token=" SECRET_VALUE ",on_error=warn",
    };
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        result r = run_check(specs[i]);
        ck_assert_msg(r.rc == 0, "check \"%s\" exited %d\n%s%s", specs[i], r.rc, r.out, r.err);
        ck_assert_msg(strstr(r.out, "OK") != NULL, "check \"%s\" does not say OK:\n%s", specs[i],
                      r.out);
        assert_no_secret(&r, SECRET_VALUE, specs[i]);
        assert_no_secret(&r, SECRET_DEFAULT, specs[i]);
        result_free(&r);
    }
}
END_TEST

START_TEST(check_bad_spec_names_the_problem)
{
    abi_set_path(abi_good_dir());
    char *broken = abi_plugin_file(abi_broken_dir(), "nocreate");
    const char *const cases[][2] = {
        {"allopts:count=abc", "count"},    /* ill-typed */
        {"allopts:count=5000", "count"},   /* out of range */
        {"allopts:mode=reckless", "mode"}, /* not an allowed value */
        {"allopts:bogus=1", "bogus"},      /* unknown option */
        {"allopts:count", "="},            /* malformed */
        {"nosuchplugin", "nosuchplugin"},  /* not on the path */
        {"../x", "../x"},                  /* a missing file */
        {"bad.name", "bad.name"},          /* not a name */
        {broken, "create"},                /* a broken plugin */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        result r = run_check(cases[i][0]);
        ck_assert_msg(r.rc == 1, "check \"%s\" exited %d, expected 1\n%s%s", cases[i][0], r.rc,
                      r.out, r.err);
        char *all = tu_strdupf("%s%s", r.out, r.err);
        ck_assert_msg(strstr(all, cases[i][1]) != NULL,
                      "check \"%s\": the output does not name \"%s\":\n%s", cases[i][0],
                      cases[i][1], all);
        ck_assert_msg(strncmp(r.out, "OK", 2) != 0 && strstr(r.out, "\nOK") == NULL,
                      "check \"%s\" says OK:\n%s", cases[i][0], r.out);
        free(all);
        result_free(&r);
    }
    free(broken);
}
END_TEST

START_TEST(check_never_prints_a_secret)
{
    abi_set_path(abi_good_dir());
    /* pin is a secret int: the value is ill-typed, and still not shown. */
    static const char *const specs[] = {
        "allopts:pin=" SECRET_VALUE,
        "allopts:pin=\"" SECRET_VALUE "\"",
        "allopts:token=" SECRET_VALUE ",pin=" SECRET_VALUE,
        "allopts:token=" SECRET_VALUE ",bogus=1",
        "allopts:token=" SECRET_VALUE ",count=abc",
        "allopts:token=" SECRET_VALUE ";nosuchplugin",
        "allopts:token=" SECRET_VALUE ",token=" SECRET_VALUE,
    };
    /* With every diagnostic on too, so a debug line cannot leak it. */
    static const char *const levels[] = {"warning", "debug"};
    for (size_t l = 0; l < 2; l++) {
        ck_assert_int_eq(setenv("TROPT_LOG_LEVEL", levels[l], 1), 0);
        for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
            result r = run_check(specs[i]);
            ck_assert_msg(r.rc == 1, "check \"%s\" exited %d, expected 1", specs[i], r.rc);
            assert_no_secret(&r, SECRET_VALUE, specs[i]);
            assert_no_secret(&r, SECRET_DEFAULT, specs[i]);
            result_free(&r);
        }
        result r = run_check("allopts:token=" SECRET_VALUE);
        ck_assert_int_eq(r.rc, 0);
        assert_no_secret(&r, SECRET_VALUE, "a good spec with a secret");
        result_free(&r);
    }
    ck_assert_int_eq(setenv("TROPT_LOG_LEVEL", "warning", 1), 0);
    /* The ill-typed secret is still named, as an option, with the reason. */
    result r = run_check("allopts:pin=" SECRET_VALUE);
    char *all = tu_strdupf("%s%s", r.out, r.err);
    ck_assert_msg(strstr(all, "pin") && abi_contains_any(all, "integer|int"),
                  "the ill-typed secret option is not named with the reason:\n%s", all);
    free(all);
    result_free(&r);
}
END_TEST

/* ---- usage errors ----------------------------------------------------- */

static Suite *suite(void)
{
    Suite *s = suite_create("cli-check");
    TCase *tc = tcase_create("check");
    tcase_add_checked_fixture(tc, abi_env_save, abi_env_restore);
    tcase_add_test(tc, check_good_spec_prints_ok);
    tcase_add_test(tc, check_bad_spec_names_the_problem);
    tcase_add_test(tc, check_never_prints_a_secret);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
