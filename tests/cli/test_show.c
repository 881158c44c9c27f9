/*
 * tests/cli/test_show.c - `tropt show RUN` as a user runs it: identity,
 * config, summary and the last value of each metric; a unique prefix, an
 * ambiguous one, an unknown one; every source printing the same text; a
 * killed run shown crashed; stored text neutralised for the terminal.
 */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_tu.h"
#include "sqlite_tu.h"

START_TEST(test_show)
{
    db3 d = db3_make();
    char *args = tu_strdupf("show %s --db '%s'", d.a, d.path), *out = NULL;
    ck_assert_int_eq(tq_cli(args, &out), 0);
    const char *want[] = {"experiment  alpha", "status      finished",
                          "steps       4",     "config",
                          "summary",           "metrics, last value at step 3"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(strstr(out, want[i]) != NULL, "'%s' missing from:\n%s", want[i], out);
    struct {
        const char *key, *value;
    } kv[] = {{"lr", "0.1"},
              {"opt/name", "\"adam\""},
              {"flag", "true"},
              {"best_loss", "1"},
              {"steps", "4"},
              {"loss", "1.5"},
              {"phase", "\"we \\\"go\\\"\""},
              {"ok", "true"}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
        char *needle = tu_strdupf("  %s ", kv[i].key);
        char *l = line_with(out, needle);
        ck_assert_msg(l != NULL, "no line for %s in:\n%s", kv[i].key, out);
        char *v = l + strlen(needle);
        while (*v == ' ')
            v++;
        ck_assert_msg(strncmp(v, kv[i].value, strlen(kv[i].value)) == 0, "%s: '%s'", kv[i].key, l);
        free(l);
        free(needle);
    }
    free(out);
    free(args);

    /* Unique prefix: the shortest prefix telling C from A and B. */
    size_t n = 1;
    while (strncmp(d.c, d.a, n) == 0 || strncmp(d.c, d.b, n) == 0)
        n++;
    args = tu_strdupf("show %.*s --db '%s'", (int)n, d.c, d.path);
    ck_assert_int_eq(tq_cli(args, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, d.c));
    ck_assert_msg(strstr(out, "metrics, last value at step 1\n  early  1  (at step 0)\n"
                              "  loss   nan\n"),
                  "%s", out);
    free(out);
    free(args);

    /* Ambiguous: a prefix common to A and B. */
    n = 0;
    while (d.a[n] == d.b[n])
        n++;
    ck_assert_uint_gt(n, 0);
    args = tu_strdupf("show %.*s --db '%s'", (int)n, d.a, d.path);
    ck_assert_int_eq(tq_cli(args, &out), 1);
    ck_assert_msg(strstr(out, "ambiguous") && strstr(out, d.a) && strstr(out, d.b), "%s", out);
    free(out);
    free(args);

    /* Unknown. */
    args = tu_strdupf("show ffffffff --db '%s'", d.path);
    ck_assert_int_eq(tq_cli(args, &out), 1);
    ck_assert_msg(strstr(out, "no run has the id, id prefix or name 'ffffffff'") != NULL, "%s",
                  out);
    free(out);
    free(args);
    db3_free(&d);
}
END_TEST

START_TEST(every_source_prints_the_same_run)
{
    db3 d;
    stores s = stores_with_db3(&d);
    const char *ids[] = {d.a, d.b, d.c};
    for (int i = 0; i < 3; i++) {
        char *out = same_everywhere(&s, "show %s", ids[i]);
        ck_assert_msg(strstr(out, ids[i]), "%s", out);
        free(out);
        out = same_everywhere(&s, "show %.18s", ids[i]); /* a prefix */
        free(out);
    }
    stores_free(&s);
    db3_free(&d);
}
END_TEST

START_TEST(killed_run_is_crashed_from_every_source)
{
    stores s = stores_new();
    char *spec = tu_strdupf("sqlite:path=%s;jsonl:path=%s;csv:dir=%s", s.db, s.jsonl, s.csvdir);
    char *id = killed_run(spec, s.db, 3);
    for (int i = 0; i < 4; i++) {
        result r = tropt("show %s %s", id, s.spec[i]);
        ck_assert_msg(r.rc == 0 && strstr(r.out, "\nstatus      crashed\n"), "show %s:\n%s%s",
                      s.spec[i], r.out, r.err);
        result_free(&r);
    }
    free(id);
    free(spec);
    stores_free(&s);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cli-show");
    TCase *tc = tcase_create("show");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, test_show);
    tcase_add_test(tc, every_source_prints_the_same_run);
    tcase_add_test(tc, killed_run_is_crashed_from_every_source);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
