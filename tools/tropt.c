/* tools/tropt.c - the `tropt` command-line tool: dispatch to subcommands. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <tropt/tracker.h>

#include "cli.h"

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *usage;
} commands[] = {
    {"plugins", cmd_plugins, "plugins"},
    {"check", cmd_check, "check SPEC"},
    {"runs", cmd_runs, "runs [--db PATH]"},
    {"show", cmd_show, "show RUN [--db PATH]"},
    {"replay", cmd_replay, "replay PATH --tracker SPEC"},
    {"report", cmd_report,
     "report [--db PATH | --from SPEC] [--experiment NAME] [--run ID]... [-o FILE]"},
    {"compare", cmd_compare,
     "compare RUN RUN... [--db PATH | --from SPEC] [--format text|csv|json]"},
    {"conformance", cmd_conformance, "conformance PLUGIN [KEY=VALUE...]"},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

int cli_usage(const char *usage, const char *reason_fmt, ...)
{
    if (reason_fmt) {
        va_list ap;
        va_start(ap, reason_fmt);
        fputs("tropt: ", stderr);
        vfprintf(stderr, reason_fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
    fprintf(stderr, "usage: tropt %s\n", usage);
    return 2;
}

static void print_usage(FILE *f)
{
    fprintf(f, "usage: tropt COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  tropt %s\n", commands[i].usage);
    fprintf(f,
            "\ntropt %s; plugin search path: $TROPT_PLUGIN_PATH, then the installed plugin dir\n",
            tropt_version());
}

/* Raise the soft limit on open descriptors to the hard one: a tool that
 * opens many trackers (replay, report, conformance) should not fail at the
 * common default of 1,024 when the system allows more.  Best effort. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    raise_fd_limit();
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        print_usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("tropt %s\n", tropt_version());
        return 0;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "tropt: unknown command '%s'\n", argv[1]);
    print_usage(stderr);
    return 2;
}
