/*
 * tools/opt.h - the option parser of the `tropt` command-line tool.
 *
 * Each command declares one table of cli_opt rows: what the command accepts
 * (options and positional arguments), whether each takes a value, where the
 * value goes (an offset into the command's own argument struct) and its
 * help line.  One parser reads argv against the table, and the usage line
 * of an error and the text of `tropt COMMAND --help` are printed from the
 * same table, so they cannot fall behind the code.
 *
 *   struct show_args { const char *run, *db, *from; int verbose; };
 *   static const cli_opt show_opts[] = {
 *       CLI_ARG("RUN", struct show_args, run, "a run id or a unique prefix"),
 *       CLI_VALUE("db", 0, struct show_args, db, "PATH", "read this sqlite database"),
 *       CLI_VALUE_OR("from", 0, struct show_args, from, "SPEC", "read any backend"),
 *       CLI_FLAG("verbose", 'v', struct show_args, verbose, "say more"),
 *       CLI_END};
 *   static const cli_command show = {"show", "one run", show_opts};
 *   struct show_args a = {0};
 *   int rc = cli_parse(&show, argc, argv, &a);
 *   if (rc != CLI_GO)
 *       return rc;     (0 after --help, 2 after a usage error)
 *
 * Syntax accepted: `--name VALUE`, `--name=VALUE`, `-x VALUE`, `-xVALUE`,
 * `--flag`, `-x`, `--` (everything after it is positional), and a lone
 * `-` as a positional.  `-h` and `--help` anywhere before `--` print the
 * help and stop.  A value option given twice keeps the last value; a list
 * option (CLI_LIST) keeps every value in order.
 *
 * Nothing here allocates except CLI_LIST/CLI_ARGS arrays (cli_list, freed
 * with cli_args_free); every string stored is a pointer into argv.
 */
#ifndef TROPT_CLI_OPT_H
#define TROPT_CLI_OPT_H

#include <stddef.h>
#include <stdio.h>

/* What a row is. */
typedef enum {
    CLI_OPT_END = 0, /* terminates a table */
    CLI_OPT_FLAG,    /* --name: sets an int to 1 */
    CLI_OPT_VALUE,   /* --name VALUE: sets a const char * */
    CLI_OPT_LIST,    /* --name VALUE, repeatable: appends to a cli_list */
    CLI_OPT_ARG,     /* positional: sets a const char *, in table order */
    CLI_OPT_ARGS     /* the remaining positionals: a cli_list (last positional row) */
} cli_opt_kind;

/* Row flags. */
enum {
    CLI_OPTIONAL = 1u << 0, /* an ARG or ARGS row that may be missing (usage: [RUN]) */
    CLI_OR_PREV = 1u << 1, /* an alternative to the row before (usage: [--db PATH | --from SPEC]) */
    CLI_MIN2 = 1u << 2,    /* an ARGS row that needs at least two values */
    CLI_REQUIRED = 1u << 3 /* a VALUE row that must be given (usage: --tracker SPEC) */
};

/* A list of values: pointers into argv, in the order given.  v is
 * malloc'd (NULL when n is 0); cli_args_free releases it. */
typedef struct cli_list {
    const char **v;
    size_t n;
} cli_list;

/* One row of an option table. */
typedef struct cli_opt {
    cli_opt_kind kind;
    const char *name;  /* long name without "--"; for ARG/ARGS the shown name ("RUN") */
    char alias;        /* short letter for -x, 0 for none */
    size_t offset;     /* where the value goes in the args struct */
    const char *value; /* the name of the value in help ("PATH"); NULL for flags, ARG, ARGS */
    unsigned flags;    /* CLI_OPTIONAL, CLI_OR_PREV, CLI_MIN2, CLI_REQUIRED */
    const char *help;  /* one line */
} cli_opt;

#define CLI_FLAG(name, alias, type, member, help)                                                  \
    {                                                                                              \
        CLI_OPT_FLAG, name, alias, offsetof(type, member), NULL, 0, help                           \
    }
#define CLI_VALUE(name, alias, type, member, value, help)                                          \
    {                                                                                              \
        CLI_OPT_VALUE, name, alias, offsetof(type, member), value, 0, help                         \
    }
#define CLI_VALUE_OR(name, alias, type, member, value, help)                                       \
    {                                                                                              \
        CLI_OPT_VALUE, name, alias, offsetof(type, member), value, CLI_OR_PREV, help               \
    }
#define CLI_VALUE_REQ(name, alias, type, member, value, help)                                      \
    {                                                                                              \
        CLI_OPT_VALUE, name, alias, offsetof(type, member), value, CLI_REQUIRED, help              \
    }
#define CLI_LIST(name, alias, type, member, value, help)                                           \
    {                                                                                              \
        CLI_OPT_LIST, name, alias, offsetof(type, member), value, 0, help                          \
    }
#define CLI_ARG(name, type, member, help)                                                          \
    {                                                                                              \
        CLI_OPT_ARG, name, 0, offsetof(type, member), NULL, 0, help                                \
    }
#define CLI_ARG_OPT(name, type, member, help)                                                      \
    {                                                                                              \
        CLI_OPT_ARG, name, 0, offsetof(type, member), NULL, CLI_OPTIONAL, help                     \
    }
#define CLI_ARGS(name, flags, type, member, help)                                                  \
    {                                                                                              \
        CLI_OPT_ARGS, name, 0, offsetof(type, member), NULL, flags, help                           \
    }
#define CLI_END                                                                                    \
    {                                                                                              \
        CLI_OPT_END, NULL, 0, 0, NULL, 0, NULL                                                     \
    }

/* A command as the parser and the help see it. */
typedef struct cli_command {
    const char *name;    /* "show" */
    const char *summary; /* one line for `tropt --help` and `tropt show --help` */
    const cli_opt *opts; /* its table, CLI_END-terminated */
} cli_command;

/* cli_parse's "go on": the command runs.  Any other return is the exit
 * code to return at once. */
#define CLI_GO (-1)

/*
 * Parse argv[1..argc-1] (argv[0] is the command's name) against cmd->opts
 * into the struct at args, which the caller zeroes (or fills with defaults)
 * before the call.  Returns CLI_GO when the command should run; 0 after
 * printing the help to stdout (-h, --help); 2 after printing a usage error
 * ("tropt: <reason>" and the usage line) to stderr.  On any return but
 * CLI_GO the lists in args are already freed.  cli_parse_to writes to the
 * given streams instead of stdout and stderr.
 */
int cli_parse(const cli_command *cmd, int argc, char **argv, void *args);
int cli_parse_to(const cli_command *cmd, int argc, char **argv, void *args, FILE *out, FILE *err);

/* Free the cli_list members of args (the CLI_LIST and CLI_ARGS rows). */
void cli_args_free(const cli_command *cmd, void *args);

/* "usage: tropt show RUN [--db PATH | --from SPEC] ..." and a newline. */
void cli_print_usage(FILE *f, const cli_command *cmd);

/* The usage line, the summary, then one line per row: its synopsis
 * ("--db PATH", "-o, --output FILE", "RUN") and help. */
void cli_print_help(FILE *f, const cli_command *cmd);

/*
 * A usage error found after parsing (two options that exclude each other,
 * a value out of its set): prints "tropt: <reason>" and the usage line to
 * stderr and returns 2.
 */
int cli_usage_error(const cli_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
