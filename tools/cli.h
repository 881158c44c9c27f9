/*
 * tools/cli.h - the subcommands of the `tropt` command-line tool.
 * Each takes the arguments after its name (argv[0] is the subcommand) and
 * returns the process exit code: 0 success, 1 failure, 2 usage error.
 */
#ifndef TROPT_CLI_H
#define TROPT_CLI_H

#include <stdio.h>

int cmd_plugins(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_runs(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_conformance(int argc, char **argv);

/* Print "usage: tropt <usage>" (and an optional reason) to stderr; returns 2. */
/* `--from SPEC` handling (tools/cmd_from.c): when argv holds --from, run
 * the command through the reader hooks (or, for a plain sqlite spec, call
 * `self` again with --db PATH), store its exit code and return 1; without
 * --from return 0.  argv[0] is the command name (runs, show, replay). */
int cli_from_dispatch(int argc, char **argv, int (*self)(int, char **), int *exit_code);

/* A reader/tracker spec as messages may show it: the backend name and its
 * path= or dir= option only (never a secret option).  Static buffer. */
const char *cli_shown_spec(const char *spec);

int cli_usage(const char *usage, const char *reason_fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
