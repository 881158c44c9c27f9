/*
 * tests/abi/test_cli.c - the command-line tools as a user runs them.
 *   tropt plugins      name, file, ABI, description, options with type,
 *                      default and help; unusable files listed with why;
 *                      a secret default never printed.
 *   tropt check SPEC   OK for a good spec, an error naming the problem and
 *                      exit 1 for a bad one; a secret value never printed.
 *   usage errors       exit 2, a usage line on stderr, nothing on stdout.
 *   tropt-demo         --tracker null runs and prints its run id;
 *                      a bad --steps is a usage error.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abiutil.h"

#define SECRET_DEFAULT "hunter2-default"
#define SECRET_VALUE "s3cr3t-value"

static const char *cli(void)
{
    const char *v = getenv("TROPT_CLI");
    ck_assert_msg(v && *v, "TROPT_CLI is not set");
    return v;
}

static const char *demo(void)
{
    const char *v = getenv("TROPT_DEMO");
    ck_assert_msg(v && *v, "TROPT_DEMO is not set");
    return v;
}

/* Single-quote s for sh. */
static char *shq(const char *s)
{
    size_t n = 2;
    for (const char *p = s; *p; p++)
        n += *p == '\'' ? 4 : 1;
    char *q = malloc(n + 1), *w = q;
    ck_assert_ptr_nonnull(q);
    *w++ = '\'';
    for (const char *p = s; *p; p++) {
        if (*p == '\'') {
            memcpy(w, "'\\''", 4);
            w += 4;
        } else {
            *w++ = *p;
        }
    }
    *w++ = '\'';
    *w = '\0';
    return q;
}

typedef struct {
    int rc;
    char *out; /* stdout */
    char *err; /* stderr */
} result;

/* Run `prog args` (args already quoted for sh) with TROPT_PLUGIN_PATH as
 * currently set, capturing stdout and stderr apart. */
static result run(const char *prog, const char *args)
{
    char *dir = tu_mkdtemp();
    char *errf = tu_path(dir, "stderr");
    char *cmd = tu_strdupf("'%s' %s 2>'%s'", prog, args, errf);
    result r = {0};
    r.rc = tu_run(cmd, &r.out, 0);
    r.err = tu_read_file(errf, NULL);
    ck_assert_ptr_nonnull(r.err);
    tu_rmtree(dir);
    free(cmd);
    free(errf);
    free(dir);
    return r;
}

static void result_free(result *r)
{
    free(r->out);
    free(r->err);
}

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

/* ---- tropt plugins ---------------------------------------------------- */

START_TEST(plugins_lists_name_file_abi_description_options)
{
    abi_set_path(abi_good_dir());
    result r = run(cli(), "plugins");
    ck_assert_msg(r.rc == 0, "tropt plugins exited %d\n%s%s", r.rc, r.out, r.err);
    char *file = abi_plugin_file(abi_good_dir(), "allopts");
    char *abi = tu_strdupf("%d.%d", TROPT_PLUGIN_ABI_MAJOR, TROPT_PLUGIN_ABI_MINOR);
    const char *want[] = {
        "allopts",
        file,
        abi,
        "declares an option of every type (abi test plugin)",
        /* every option: name, type, default, help */
        "label",
        "string",
        "plain-default",
        "a free-form label for the run",
        "out",
        "path",
        "out/dir-default",
        "where the output goes",
        "count",
        "int",
        "17",
        "how many, 1 to 1000",
        "ratio",
        "double",
        "0.375",
        "a real-valued knob",
        "verbose",
        "bool",
        "false",
        "talk more",
        "interval",
        "duration",
        "250ms",
        "how often to flush",
        "mode",
        "enum",
        "safe",
        "fast",
        "exact",
        "how careful to be",
        "token",
        "an API token (secret)",
        "pin",
        "a numeric secret",
        /* the other plugins of the folder */
        "futureminor",
        "the smallest plugin that serves (abi test plugin)",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(strstr(r.out, want[i]) != NULL, "tropt plugins does not show \"%s\":\n%s",
                      want[i], r.out);
    /* The plugin built against ABI 1.7 is listed with its own version. */
    char *later = tu_strdupf("%d.7", TROPT_PLUGIN_ABI_MAJOR);
    ck_assert_msg(strstr(r.out, later) != NULL, "futureminor's ABI %s not shown:\n%s", later,
                  r.out);
    assert_no_secret(&r, SECRET_DEFAULT, "tropt plugins");
    free(later);
    free(abi);
    free(file);
    result_free(&r);
}
END_TEST

/* The section of the listing about `name` (up to the next plugin). */
static char *section_of(const char *out, const char *file)
{
    const char *a = strstr(out, file);
    ck_assert_msg(a != NULL, "%s not listed:\n%s", file, out);
    while (a > out && a[-1] != '\n')
        a--;
    const char *b = strstr(a, "\n\n");
    return strndup(a, b ? (size_t)(b - a) : strlen(a));
}

START_TEST(plugins_option_lines_pair_type_default_help)
{
    /* Each option's type, default and help belong to it, not to any line. */
    abi_set_path(abi_good_dir());
    result r = run(cli(), "plugins");
    char *file = abi_plugin_file(abi_good_dir(), "allopts");
    char *sec = section_of(r.out, file);
    static const char *const rows[][3] = {
        {"count", "int", "17"},   {"ratio", "double", "0.375"}, {"interval", "duration", "250ms"},
        {"mode", "enum", "safe"}, {"verbose", "bool", "false"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char *key = tu_strdupf(" %s ", rows[i][0]);
        const char *at = strstr(sec, key);
        ck_assert_msg(at != NULL, "option %s missing:\n%s", rows[i][0], sec);
        const char *eol = strchr(at, '\n');
        char *line = strndup(at, eol ? (size_t)(eol - at) : strlen(at));
        ck_assert_msg(strstr(line, rows[i][1]) && strstr(line, rows[i][2]),
                      "option line for %s lacks type %s or default %s: \"%s\"", rows[i][0],
                      rows[i][1], rows[i][2], line);
        free(line);
        free(key);
    }
    free(sec);
    free(file);
    result_free(&r);
}
END_TEST

START_TEST(plugins_lists_unusable_files_and_goes_on)
{
    char *p = tu_strdupf("%s:%s", abi_broken_dir(), abi_good_dir());
    abi_set_path(p);
    result r = run(cli(), "plugins");
    ck_assert_msg(r.rc == 0 || r.rc == 1, "tropt plugins exited %d (crashed?)\n%s", r.rc, r.err);
    char *all = tu_strdupf("%s%s", r.out, r.err);
    /* A broken file is named with its reason... */
    char *nochoices = abi_plugin_file(abi_broken_dir(), "enumnochoices");
    char *sec = section_of(all, nochoices);
    ck_assert_msg(strstr(sec, "choice") != NULL, "no reason given for %s:\n%s", nochoices, sec);
    char *future = abi_plugin_file(abi_broken_dir(), "futureabi");
    free(sec);
    sec = section_of(all, future);
    ck_assert_msg(strstr(sec, "ABI") != NULL, "no reason given for %s:\n%s", future, sec);
    /* ...and the good folder after it is still listed. */
    char *good = abi_plugin_file(abi_good_dir(), "allopts");
    ck_assert_msg(strstr(r.out, good) != NULL, "listing stopped at a broken file:\n%s", r.out);
    free(sec);
    free(good);
    free(future);
    free(nochoices);
    free(all);
    free(p);
    result_free(&r);
}
END_TEST

START_TEST(plugins_with_nothing_found)
{
    char *empty = tu_mkdtemp();
    abi_set_path(empty);
    result r = run(cli(), "plugins");
    /* The installed dir may hold plugins on this machine; if it does not,
     * the tool says where it looked. */
    if (r.rc != 0) {
        char *all = tu_strdupf("%s%s", r.out, r.err);
        ck_assert_msg(strstr(all, tropt_plugin_dir()) != NULL,
                      "no plugins found, but the folders searched are not named:\n%s", all);
        free(all);
    }
    result_free(&r);
    tu_rmtree(empty);
    free(empty);
}
END_TEST

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

static void expect_usage_error(const char *prog, const char *args)
{
    result r = run(prog, args);
    ck_assert_msg(r.rc == 2, "%s %s exited %d, expected 2\n%s%s", prog, args, r.rc, r.out, r.err);
    ck_assert_msg(abi_contains_any(r.err, "usage:"), "%s %s: no usage line on stderr:\n%s", prog,
                  args, r.err);
    ck_assert_msg(r.out[0] == '\0', "%s %s: a usage error printed on stdout:\n%s", prog, args,
                  r.out);
    result_free(&r);
}

START_TEST(tropt_usage_errors_exit_2)
{
    abi_set_path(abi_good_dir());
    expect_usage_error(cli(), "");
    expect_usage_error(cli(), "frobnicate");
    expect_usage_error(cli(), "--frobnicate");
    expect_usage_error(cli(), "check");
    expect_usage_error(cli(), "check ok ok");
    expect_usage_error(cli(), "plugins extra");
}
END_TEST

START_TEST(tropt_help_exits_0)
{
    result r = run(cli(), "--help");
    ck_assert_int_eq(r.rc, 0);
    ck_assert_msg(strstr(r.out, "check") && strstr(r.out, "plugins"), "--help:\n%s", r.out);
    result_free(&r);
}
END_TEST

/* ---- tropt-demo ------------------------------------------------------- */

static int is_uuid_v7_at(const char *s)
{
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return s[14] == '7' && strchr("89abAB", s[19]) != NULL;
}

START_TEST(demo_runs_with_null_tracker)
{
    /* The shipped null plugin, found through the test's search path. */
    result r = run(demo(), "--tracker null --steps 50");
    ck_assert_msg(r.rc == 0, "tropt-demo exited %d\n%s%s", r.rc, r.out, r.err);
    int found = 0;
    for (const char *p = r.out; *p && !found; p++)
        found = strlen(p) >= 36 && is_uuid_v7_at(p);
    ck_assert_msg(found, "tropt-demo does not print a UUIDv7 run id:\n%s", r.out);
    ck_assert_msg(strstr(r.out, "50") != NULL, "tropt-demo does not report its 50 steps:\n%s",
                  r.out);
    result_free(&r);
}
END_TEST

START_TEST(demo_bad_arguments_exit_2)
{
    expect_usage_error(demo(), "--steps x");
    expect_usage_error(demo(), "--tracker null --steps x");
    expect_usage_error(demo(), "--steps");
    expect_usage_error(demo(), "--steps 0");
    expect_usage_error(demo(), "--frobnicate 1");
}
END_TEST

START_TEST(demo_bad_tracker_fails)
{
    result r = run(demo(), "--tracker nosuchplugin --steps 5");
    ck_assert_msg(r.rc == 1, "tropt-demo exited %d, expected 1", r.rc);
    ck_assert_msg(strstr(r.err, "nosuchplugin") != NULL, "the error does not name it:\n%s", r.err);
    result_free(&r);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("abi-cli");
    TCase *tc = tcase_create("plugins");
    tcase_add_checked_fixture(tc, abi_env_save, abi_env_restore);
    tcase_add_test(tc, plugins_lists_name_file_abi_description_options);
    tcase_add_test(tc, plugins_option_lines_pair_type_default_help);
    tcase_add_test(tc, plugins_lists_unusable_files_and_goes_on);
    tcase_add_test(tc, plugins_with_nothing_found);
    suite_add_tcase(s, tc);

    tc = tcase_create("check");
    tcase_add_checked_fixture(tc, abi_env_save, abi_env_restore);
    tcase_add_test(tc, check_good_spec_prints_ok);
    tcase_add_test(tc, check_bad_spec_names_the_problem);
    tcase_add_test(tc, check_never_prints_a_secret);
    suite_add_tcase(s, tc);

    tc = tcase_create("usage");
    tcase_add_checked_fixture(tc, abi_env_save, abi_env_restore);
    tcase_add_test(tc, tropt_usage_errors_exit_2);
    tcase_add_test(tc, tropt_help_exits_0);
    suite_add_tcase(s, tc);

    tc = tcase_create("demo");
    tcase_add_checked_fixture(tc, abi_env_save, abi_env_restore);
    tcase_add_test(tc, demo_runs_with_null_tracker);
    tcase_add_test(tc, demo_bad_arguments_exit_2);
    tcase_add_test(tc, demo_bad_tracker_fails);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
