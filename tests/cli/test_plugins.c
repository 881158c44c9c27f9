/*
 * tests/cli/test_plugins.c - `tropt plugins` as a user runs it: name, file,
 * ABI, description, options with type, default and help; unusable files
 * listed with why; a secret default never printed; nothing found.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abiutil.h"
#include "cli_tu.h"

#define SECRET_DEFAULT "hunter2-default"
#define SECRET_VALUE "s3cr3t-value"

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

static Suite *suite(void)
{
    Suite *s = suite_create("cli-plugins");
    TCase *tc = tcase_create("plugins");
    tcase_add_checked_fixture(tc, abi_env_save, abi_env_restore);
    tcase_add_test(tc, plugins_lists_name_file_abi_description_options);
    tcase_add_test(tc, plugins_option_lines_pair_type_default_help);
    tcase_add_test(tc, plugins_lists_unusable_files_and_goes_on);
    tcase_add_test(tc, plugins_with_nothing_found);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
