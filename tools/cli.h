/*
 * tools/cli.h - the commands of the `tropt` command-line tool.
 *
 * tools/tropt.c holds the table of commands (cli_commands): each row names
 * a command, its one-line summary, its option table (declared in its
 * cmd_*.c and read by the one parser of tools/opt.h) and the function that
 * runs it.  A command function takes its own row (for the parser and the
 * help) and the arguments after `tropt` (argv[0] is the command's name),
 * and returns the process exit code: 0 success, 1 failure, 2 usage error.
 */
#ifndef TROPT_CLI_H
#define TROPT_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "opt.h"

/* A row of the command table. */
typedef struct cli_entry {
    cli_command cmd; /* name, summary, option table (NULL: the command parses argv itself) */
    int (*run)(const cli_command *self, int argc, char **argv);
    int (*run_argv)(int argc, char **argv); /* a command not on the table parser yet */
} cli_entry;

/* The commands, in the order `tropt --help` lists them. */
extern const cli_entry cli_commands[];
extern const size_t cli_n_commands;

/* The whole tool: `tropt ARGS...` (tools/tropt.c; main() calls it). */
int cli_main(int argc, char **argv);

/* Commands on the table parser, with their option tables. */
extern const cli_opt cmd_plugins_opts[], cmd_check_opts[], cmd_runs_opts[], cmd_show_opts[],
    cmd_replay_opts[], cmd_compare_opts[], cmd_report_opts[], cmd_conformance_opts[],
    cmd_tag_opts[], cmd_untag_opts[], cmd_note_opts[], cmd_rename_opts[], cmd_rm_opts[];
int cmd_plugins(const cli_command *self, int argc, char **argv);
int cmd_check(const cli_command *self, int argc, char **argv);
int cmd_runs(const cli_command *self, int argc, char **argv);
int cmd_show(const cli_command *self, int argc, char **argv);
int cmd_replay(const cli_command *self, int argc, char **argv);
int cmd_compare(const cli_command *self, int argc, char **argv);
int cmd_report(const cli_command *self, int argc, char **argv);
int cmd_conformance(const cli_command *self, int argc, char **argv);
int cmd_tag(const cli_command *self, int argc, char **argv);
int cmd_untag(const cli_command *self, int argc, char **argv);
int cmd_note(const cli_command *self, int argc, char **argv);
int cmd_rename(const cli_command *self, int argc, char **argv);
int cmd_rm(const cli_command *self, int argc, char **argv);

/* `tropt replay --from SPEC | --db PATH --tracker SPEC` (cmd_replay_from.c). */
int cli_replay_from(const char *db, const char *from, const char *tracker_spec);

/* 1 when the code and the message of the last failure say a store refused
 * a run because it was deleted there (SPEC 14: a replay never brings a
 * deleted run back; the store says "deleted" in its TROPT_EINVAL). */
int cli_refused_as_deleted(int rc);

/* A reader/tracker spec as messages may show it: the backend name and its
 * path= or dir= option only (never a secret option).  Static buffer. */
const char *cli_shown_spec(const char *spec);

/* Print "usage: tropt <usage>" (and an optional reason) to stderr; returns 2.
 * For the commands that still parse argv themselves. */
int cli_usage(const char *usage, const char *reason_fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
