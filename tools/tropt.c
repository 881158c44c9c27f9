/* tools/tropt.c - the `tropt` command-line tool: the table of commands,
 * each with its one-line summary, and the dispatch to them. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <tropt/tracker.h>

#include "cli.h"

/* The commands.  A new command is one row here and one cmd_*.c file. */
const cli_entry cli_commands[] = {
    {{"plugins", "list every plugin on the search path: its file, ABI, description and options",
      cmd_plugins_opts},
     cmd_plugins,
     NULL},
    {{"check",
      "open a spec (load every plugin, validate every option) and say what is wrong, or OK",
      cmd_check_opts},
     cmd_check,
     NULL},
    {{"runs",
      "list the runs of a store (name, experiment, id, status, start, steps, attempts, loss, "
      "tags), filtered and sorted",
      cmd_runs_opts},
     cmd_runs,
     NULL},
    {{"show",
      "show one run: identity, tags, note, provenance, config, summary, attempts, checkpoint "
      "marks, the last value of each metric",
      cmd_show_opts},
     cmd_show,
     NULL},
    {{"tag", "add tags to a stored run", cmd_tag_opts}, cmd_tag, NULL},
    {{"untag", "remove tags from a stored run", cmd_untag_opts}, cmd_untag, NULL},
    {{"note", "set (or remove) a stored run's note", cmd_note_opts}, cmd_note, NULL},
    {{"rename", "give a stored run a new name", cmd_rename_opts}, cmd_rename, NULL},
    {{"rm", "delete runs from a store (asks first unless --yes)", cmd_rm_opts}, cmd_rm, NULL},
    {{"replay", "replay a jsonl journal, a spool folder or any store into any backend",
      cmd_replay_opts},
     cmd_replay,
     NULL},
    {{"report", "write one self-contained HTML report of runs (charts, config, summaries)",
      cmd_report_opts},
     cmd_report,
     NULL},
    {{"compare", "the config keys that differ and each metric's last/min/max, side by side",
      cmd_compare_opts},
     cmd_compare,
     NULL},
    {{"conformance",
      "run the plugin contract (SPEC 10) on one plugin: each promise kept, broken or skipped",
      cmd_conformance_opts},
     cmd_conformance,
     NULL},
};

const size_t cli_n_commands = sizeof cli_commands / sizeof cli_commands[0];

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
    for (size_t i = 0; i < cli_n_commands; i++)
        fprintf(f, "  %-12s %s\n", cli_commands[i].cmd.name, cli_commands[i].cmd.summary);
    fprintf(f,
            "\n`tropt COMMAND --help` prints a command's usage and every option it takes.\n"
            "tropt %s; plugin search path: $TROPT_PLUGIN_PATH, then the installed plugin dir\n",
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

static int is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || strcmp(a, "help") == 0;
}

int cli_main(int argc, char **argv)
{
    raise_fd_limit();
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    if (is_help(argv[1])) {
        print_usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("tropt %s\n", tropt_version());
        return 0;
    }
    for (size_t i = 0; i < cli_n_commands; i++) {
        const cli_entry *e = &cli_commands[i];
        if (strcmp(argv[1], e->cmd.name) == 0)
            return e->run ? e->run(&e->cmd, argc - 1, argv + 1) : e->run_argv(argc - 1, argv + 1);
    }
    fprintf(stderr, "tropt: unknown command '%s'\n", argv[1]);
    print_usage(stderr);
    return 2;
}
