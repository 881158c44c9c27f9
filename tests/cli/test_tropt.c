/*
 * tests/cli/test_tropt.c - `tropt` itself: the command table, the option
 * parser (tools/opt.c) and the help printed from the same tables.
 *   tropt --help           every command of the table with its summary.
 *   tropt COMMAND --help   exit 0, its usage and every option it takes:
 *                          walking the command table, each option of a
 *                          command's table is in its help and accepted by
 *                          the tool, and each option the help names is in
 *                          the table and accepted.
 *   usage errors           exit 2, a usage line on stderr, nothing on stdout.
 *   the parser             --x V, --x=V, -xV, --, lists, required rows.
 *   tropt-demo             --tracker null runs and prints its run id.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_tu.h"

/* ---- the help, walked from the command table -------------------------------- */

/* Every "--word" of text, in order (malloc'd array of malloc'd strings). */
static char **long_options_in(const char *text, size_t *n)
{
    char **v = NULL;
    *n = 0;
    for (const char *p = strstr(text, "--"); p; p = strstr(p + 2, "--")) {
        if (p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '-'))
            continue;
        size_t len = 2;
        while (isalnum((unsigned char)p[len]) || p[len] == '-' || p[len] == '_')
            len++;
        if (len == 2)
            continue;
        v = realloc(v, (*n + 1) * sizeof *v);
        ck_assert_ptr_nonnull(v);
        v[(*n)++] = strndup(p, len);
    }
    return v;
}

static const cli_opt *row_named(const cli_opt *opts, const char *dashed)
{
    for (const cli_opt *o = opts; o && o->kind; o++)
        if (o->kind != CLI_OPT_ARG && o->kind != CLI_OPT_ARGS && strcmp(o->name, dashed + 2) == 0)
            return o;
    return NULL;
}

/* `tropt NAME --opt [x]` is not refused as an unknown option. */
static void assert_accepted(const char *name, const char *opt, int takes_value)
{
    result r = tropt("%s %s%s", name, opt, takes_value ? " x" : "");
    ck_assert_msg(!strstr(r.err, "unknown option"),
                  "tropt %s refuses %s, which its help names:\n%s", name, opt, r.err);
    result_free(&r);
}

static void check_table_command(const cli_entry *e, const char *help)
{
    for (const cli_opt *o = e->cmd.opts; o->kind; o++) {
        char *shown = o->kind == CLI_OPT_ARG || o->kind == CLI_OPT_ARGS
                          ? strdup(o->name)
                          : tu_strdupf("--%s", o->name);
        ck_assert_msg(strstr(help, shown) != NULL, "tropt %s --help does not name %s:\n%s",
                      e->cmd.name, shown, help);
        if (shown[0] == '-')
            assert_accepted(e->cmd.name, shown, o->kind != CLI_OPT_FLAG);
        free(shown);
    }
    size_t n = 0;
    char **named = long_options_in(help, &n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(strcmp(named[i], "--help") == 0 || row_named(e->cmd.opts, named[i]),
                      "tropt %s --help names %s, which its table does not hold", e->cmd.name,
                      named[i]);
        free(named[i]);
    }
    free(named);
}

START_TEST(every_command_answers_help_with_every_option)
{
    /* an accepted option may make a command read or write ./ (report -o) */
    char *dir = tu_mkdtemp();
    ck_assert_int_eq(chdir(dir), 0);
    for (size_t i = 0; i < cli_n_commands; i++) {
        const cli_entry *e = &cli_commands[i];
        result r = tropt("%s --help", e->cmd.name);
        ck_assert_msg(r.rc == 0, "tropt %s --help exited %d: %s", e->cmd.name, r.rc, r.err);
        char *usage = tu_strdupf("usage: tropt %s", e->cmd.name);
        ck_assert_msg(strstr(r.out, usage) == r.out, "tropt %s --help:\n%s", e->cmd.name, r.out);
        free(usage);
        if (e->cmd.opts) {
            check_table_command(e, r.out);
        } else { /* not on the table parser yet: what its help names is accepted */
            size_t n = 0;
            char **named = long_options_in(r.out, &n);
            for (size_t k = 0; k < n; k++) {
                if (strcmp(named[k], "--help") != 0)
                    assert_accepted(e->cmd.name, named[k], 1);
                free(named[k]);
            }
            free(named);
        }
        result_free(&r);
    }
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(tropt_help_lists_every_command_with_its_summary)
{
    result r = tropt("--help");
    ck_assert_int_eq(r.rc, 0);
    for (size_t i = 0; i < cli_n_commands; i++) {
        char *l = line_with(r.out, cli_commands[i].cmd.summary);
        ck_assert_msg(l && strstr(l, cli_commands[i].cmd.name), "--help lacks %s:\n%s",
                      cli_commands[i].cmd.name, r.out);
        free(l);
    }
    result_free(&r);
}
END_TEST

START_TEST(tropt_usage_errors_exit_2)
{
    expect_usage_error(cli(), "");
    expect_usage_error(cli(), "frobnicate");
    expect_usage_error(cli(), "--frobnicate");
    expect_usage_error(cli(), "check");
    expect_usage_error(cli(), "check ok ok");
    expect_usage_error(cli(), "plugins extra");
    expect_usage_error(cli(), "runs --frobnicate");
    expect_usage_error(cli(), "runs --db");
    expect_usage_error(cli(), "runs --db ''");
    expect_usage_error(cli(), "runs --db a --from b");
    expect_usage_error(cli(), "runs extra");
    expect_usage_error(cli(), "show");
    expect_usage_error(cli(), "show a b");
    expect_usage_error(cli(), "compare onlyone");
    expect_usage_error(cli(), "compare a b --format xml");
    expect_usage_error(cli(), "replay x.jsonl");
    expect_usage_error(cli(), "replay x.jsonl --from jsonl:path=y --tracker null");
}
END_TEST

/* ---- the parser, on a table of its own ------------------------------------------ */

typedef struct targs {
    const char *pos, *val, *req;
    int flag;
    cli_list list, rest;
} targs;

static const cli_opt topts[] = {CLI_ARG("POS", targs, pos, "a positional"),
                                CLI_VALUE("val", 'v', targs, val, "V", "a value"),
                                CLI_VALUE_REQ("req", 0, targs, req, "R", "a required value"),
                                CLI_FLAG("flag", 'f', targs, flag, "a flag"),
                                CLI_LIST("list", 'l', targs, list, "L", "a list"),
                                CLI_ARGS("REST", CLI_OPTIONAL, targs, rest, "the rest"),
                                CLI_END};
static const cli_command tcmd = {"t", "a test command", topts};

static int parse(const char *line, targs *a, char **err)
{
    char *copy = strdup(line), *argv[32] = {"t"};
    int argc = 1;
    for (char *tok = strtok(copy, " "); tok && argc < 31; tok = strtok(NULL, " "))
        argv[argc++] = strcmp(tok, "''") == 0 ? "" : tok;
    memset(a, 0, sizeof *a);
    size_t len = 0;
    FILE *e = open_memstream(err, &len), *o = fopen("/dev/null", "w");
    int rc = cli_parse_to(&tcmd, argc, argv, a, o, e);
    fclose(e);
    fclose(o);
    /* the values point into argv: keep what the test reads */
    static char keep[8][64];
    const char **s[] = {&a->pos, &a->val, &a->req};
    for (int i = 0; i < 3; i++)
        if (*s[i]) {
            snprintf(keep[i], sizeof keep[i], "%s", *s[i]);
            *s[i] = keep[i];
        }
    for (size_t i = 0; i < a->list.n && i < 5; i++) {
        snprintf(keep[3 + i], sizeof keep[3 + i], "%s", a->list.v[i]);
        a->list.v[i] = keep[3 + i];
    }
    free(copy);
    return rc;
}

START_TEST(parser_reads_every_form)
{
    targs a;
    char *err = NULL;
    ck_assert_int_eq(parse("p --val=1 --req r -f -lA --list B", &a, &err), CLI_GO);
    ck_assert_str_eq(a.pos, "p");
    ck_assert_str_eq(a.val, "1");
    ck_assert_str_eq(a.req, "r");
    ck_assert_int_eq(a.flag, 1);
    ck_assert_uint_eq(a.list.n, 2);
    ck_assert_str_eq(a.list.v[0], "A");
    ck_assert_str_eq(a.list.v[1], "B");
    cli_args_free(&tcmd, &a);
    free(err);
    ck_assert_int_eq(parse("--req r -v 2 p -- -x --y", &a, &err), CLI_GO);
    ck_assert_str_eq(a.val, "2");
    ck_assert_uint_eq(a.rest.n, 2); /* after --, options are positionals */
    cli_args_free(&tcmd, &a);
    free(err);
}
END_TEST

START_TEST(parser_refuses_with_a_reason_and_the_usage)
{
    static const struct {
        const char *line, *reason;
    } bad[] = {
        {"p", "missing --req R"},
        {"--req r", "missing POS"},
        {"p --req", "--req needs a value"},
        {"p --req ''", "--req needs a non-empty R"},
        {"p --req r --nope", "unknown option '--nope'"},
        {"p --req r -z", "unknown option '-z'"},
        {"p --req r --flag=1", "--flag takes no value"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        targs a;
        char *err = NULL;
        ck_assert_int_eq(parse(bad[i].line, &a, &err), 2);
        ck_assert_msg(strstr(err, bad[i].reason) &&
                          strstr(err, "usage: tropt t POS [--val V] --req R"),
                      "'%s': %s", bad[i].line, err);
        free(err);
    }
}
END_TEST

START_TEST(parser_help_comes_from_the_table)
{
    targs a;
    char *err = NULL;
    char *out = NULL;
    size_t len = 0;
    FILE *o = open_memstream(&out, &len);
    char *argv[] = {"t", "--req", "r", "--help"};
    ck_assert_int_eq(cli_parse_to(&tcmd, 4, argv, &a, o, stderr), 0);
    fclose(o);
    ck_assert_msg(
        strstr(out, "usage: tropt t POS [--val V] --req R [--flag] [--list L]... [REST...]"), "%s",
        out);
    for (const cli_opt *r = topts; r->kind; r++)
        ck_assert_msg(strstr(out, r->help), "%s missing:\n%s", r->help, out);
    ck_assert_msg(strstr(out, "-v, --val V") && strstr(out, "a test command"), "%s", out);
    free(out);
    free(err);
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

int main(void)
{
    Suite *s = suite_create("cli-tropt");
    TCase *tc = tcase_create("help");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, every_command_answers_help_with_every_option);
    tcase_add_test(tc, tropt_help_lists_every_command_with_its_summary);
    tcase_add_test(tc, tropt_usage_errors_exit_2);
    suite_add_tcase(s, tc);
    tc = tcase_create("parser");
    tcase_add_test(tc, parser_reads_every_form);
    tcase_add_test(tc, parser_refuses_with_a_reason_and_the_usage);
    tcase_add_test(tc, parser_help_comes_from_the_table);
    suite_add_tcase(s, tc);
    tc = tcase_create("demo");
    tcase_add_test(tc, demo_runs_with_null_tracker);
    tcase_add_test(tc, demo_bad_arguments_exit_2);
    tcase_add_test(tc, demo_bad_tracker_fails);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
