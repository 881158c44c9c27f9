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

/* Print "usage: tropt <usage>" (and an optional reason) to stderr; returns 2. */
int cli_usage(const char *usage, const char *reason_fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
