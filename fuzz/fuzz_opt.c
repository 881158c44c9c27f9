/*
 * fuzz/fuzz_opt.c - the option parser of the `tropt` tool (tools/opt.c,
 * cli_parse_to) against a table holding every kind of row: a required and
 * an optional positional, flags, values (one required, two alternatives),
 * a repeatable list and the rest of the positionals.
 *
 * Input: argv entries separated by NUL bytes (at most 64).
 * Properties: no crash, leak or undefined behaviour; the result is CLI_GO,
 * 0 (help) or 2 (usage error); help is printed exactly when -h or --help
 * comes before any "--"; a usage error prints "tropt: " and the usage line;
 * on CLI_GO every stored value is a non-empty argv entry, every required
 * row is set, and the lists hold argv entries in order, no more than argc;
 * on anything else the lists are empty.
 */
#include <stdint.h>

#include "fuzz_util.h"
#include "opt.h"

typedef struct fargs {
    const char *pos, *opt_pos, *val, *req, *alt1, *alt2;
    int f1, f2;
    cli_list list, rest;
} fargs;

static const cli_opt opts[] = {CLI_ARG("POS", fargs, pos, "required positional"),
                               CLI_ARG_OPT("OPT", fargs, opt_pos, "optional positional"),
                               CLI_FLAG("flag", 'f', fargs, f1, "a flag"),
                               CLI_FLAG("other", 0, fargs, f2, "another flag"),
                               CLI_VALUE("val", 'v', fargs, val, "V", "a value"),
                               CLI_VALUE_REQ("req", 'r', fargs, req, "R", "a required value"),
                               CLI_VALUE("alt1", 0, fargs, alt1, "A", "one alternative"),
                               CLI_VALUE_OR("alt2", 0, fargs, alt2, "B", "the other"),
                               CLI_LIST("list", 'l', fargs, list, "L", "a list"),
                               CLI_ARGS("REST", CLI_OPTIONAL, fargs, rest, "the rest"),
                               CLI_END};
static const cli_command cmd = {"fz", "the fuzzed command", opts};

static int in_argv(const char *s, char **argv, int argc)
{
    for (int i = 0; i < argc; i++)
        if (s >= argv[i] && s <= argv[i] + strlen(argv[i]))
            return 1;
    return 0;
}

static int help_asked(char **argv, int argc)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    return 0;
}

static void check_go(const fargs *a, char **argv, int argc)
{
    const char *const v[] = {a->pos, a->opt_pos, a->val, a->req, a->alt1, a->alt2};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        FUZZ_CHECK(!v[i] || in_argv(v[i], argv, argc), "value %zu not in argv", i);
    FUZZ_CHECK(a->pos && a->req && *a->req, "a required row is missing");
    FUZZ_CHECK(!a->val || *a->val, "an empty value was accepted");
    FUZZ_CHECK(a->list.n + a->rest.n <= (size_t)argc, "lists longer than argv");
    for (size_t i = 0; i < a->list.n; i++)
        FUZZ_CHECK(in_argv(a->list.v[i], argv, argc), "list entry not in argv");
    for (size_t i = 1; i < a->rest.n; i++)
        FUZZ_CHECK(a->rest.v[i - 1] < a->rest.v[i], "rest out of order");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1), *argv[66] = {"fz"};
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    int argc = 1;
    for (size_t i = 0; i <= size && argc < 65;) {
        argv[argc++] = buf + i;
        i += strlen(buf + i) + 1;
    }
    char *out = NULL, *err = NULL;
    size_t no = 0, ne = 0;
    FILE *fo = open_memstream(&out, &no), *fe = open_memstream(&err, &ne);
    if (!fo || !fe)
        abort();
    fargs a;
    memset(&a, 0, sizeof a);
    int rc = cli_parse_to(&cmd, argc, argv, &a, fo, fe);
    fclose(fo);
    fclose(fe);
    FUZZ_CHECK(rc == CLI_GO || rc == 0 || rc == 2, "result %d", rc);
    FUZZ_CHECK((rc == 0) == help_asked(argv, argc), "help result %d", rc);
    if (rc == 0)
        FUZZ_CHECK(strstr(out, "usage: tropt fz POS [OPT]") == out, "help: %s", out);
    if (rc == 2)
        FUZZ_CHECK(strncmp(err, "tropt: ", 7) == 0 && strstr(err, "\nusage: tropt fz "),
                   "usage error: %s", err);
    if (rc == CLI_GO)
        check_go(&a, argv, argc);
    else
        FUZZ_CHECK(!a.list.v && !a.rest.v, "lists kept after a refusal");
    cli_args_free(&cmd, &a);
    free(out);
    free(err);
    free(buf);
    return 0;
}
