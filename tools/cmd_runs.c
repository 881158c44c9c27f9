/*
 * tools/cmd_runs.c - `tropt runs` and `tropt show`: the runs of a store,
 * or one run, read through the run source (tools/source.h) and printed by
 * the one renderer (tools/render.h), so every backend prints the same text
 * for the same run.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>

#include "render.h"
#include "source.h"

#define DB_HELP                                                                                    \
    "read this sqlite database (default ./tropt.db); the same as --from sqlite:path=PATH"
#define FROM_HELP "read any readable backend: sqlite:path=F, csv:dir=D, jsonl:path=F, ..."

static int failed(const char *msg)
{
    fprintf(stderr, "tropt: %s\n", msg);
    return 1;
}

/* Open the source of --db/--from; NULL after printing why. */
static cli_source *open_source(const cli_command *self, const char *db, const char *from, int *rc)
{
    cli_source *s = NULL;
    char *err = NULL;
    if (db && from) {
        *rc = cli_usage_error(self, "give --db or --from, not both");
        return NULL;
    }
    if (cli_source_open(&s, db, from, &err) != 0) {
        *rc = failed(err ? err : "out of memory");
        free(err);
        return NULL;
    }
    return s;
}

/* ---- tropt runs ------------------------------------------------------------ */

typedef struct runs_args {
    const char *db, *from, *metric;
} runs_args;

const cli_opt cmd_runs_opts[] = {
    CLI_VALUE("db", 0, runs_args, db, "PATH", DB_HELP),
    CLI_VALUE_OR("from", 0, runs_args, from, "SPEC", FROM_HELP),
    CLI_VALUE("metric", 0, runs_args, metric, "KEY",
              "the metric of the LAST and MIN columns (default: loss, else the one key ending "
              "in /loss)"),
    CLI_END};

/* Load every listed run; 0, or -1 (message in the source). */
static int load_all(cli_source *s, const cli_run_info *info, size_t n, cli_run *runs)
{
    for (size_t i = 0; i < n; i++)
        if (cli_source_load(s, info[i].run_id, &runs[i]) != 0) {
            while (i > 0)
                cli_run_free(&runs[--i]);
            return -1;
        }
    return 0;
}

static int print_runs(cli_source *s, const char *metric)
{
    cli_run_info *info = NULL;
    size_t n = 0;
    if (cli_source_list(s, &info, &n) != 0)
        return failed(cli_source_error(s));
    cli_run *runs = calloc(n ? n : 1, sizeof *runs);
    int rc = 0, loaded = 0;
    if (!runs)
        rc = failed("out of memory");
    else if (!(loaded = load_all(s, info, n, runs) == 0))
        rc = failed(cli_source_error(s));
    else if (n == 0)
        printf("no runs in %s\n", cli_source_name(s));
    else if (cli_print_runs(stdout, runs, n, metric) != 0)
        rc = failed("out of memory");
    for (size_t i = 0; loaded && i < n; i++)
        cli_run_free(&runs[i]);
    free(runs);
    cli_run_infos_free(info, n);
    return rc;
}

int cmd_runs(const cli_command *self, int argc, char **argv)
{
    runs_args a = {0};
    int rc = cli_parse(self, argc, argv, &a);
    if (rc != CLI_GO)
        return rc;
    cli_source *s = open_source(self, a.db, a.from, &rc);
    if (!s)
        return rc;
    rc = print_runs(s, a.metric);
    cli_source_free(s);
    return rc;
}

/* ---- tropt show ------------------------------------------------------------ */

typedef struct show_args {
    const char *run, *db, *from;
} show_args;

const cli_opt cmd_show_opts[] = {
    CLI_ARG("RUN", show_args, run, "a run id, or a unique prefix of one"),
    CLI_VALUE("db", 0, show_args, db, "PATH", DB_HELP),
    CLI_VALUE_OR("from", 0, show_args, from, "SPEC", FROM_HELP), CLI_END};

static int show_one(cli_source *s, const char *prefix)
{
    char *id = NULL;
    cli_run run;
    if (cli_source_find(s, prefix, &id) != 0)
        return failed(cli_source_error(s));
    int rc = cli_source_load(s, id, &run);
    free(id);
    if (rc != 0)
        return failed(cli_source_error(s));
    rc = cli_print_run(stdout, &run) != 0 ? failed("out of memory") : 0;
    cli_run_free(&run);
    return rc;
}

int cmd_show(const cli_command *self, int argc, char **argv)
{
    show_args a = {0};
    int rc = cli_parse(self, argc, argv, &a);
    if (rc != CLI_GO)
        return rc;
    if (!*a.run)
        return cli_usage_error(self, "missing RUN (a run id or a unique prefix of one)");
    cli_source *s = open_source(self, a.db, a.from, &rc);
    if (!s)
        return rc;
    rc = show_one(s, a.run);
    cli_source_free(s);
    return rc;
}
