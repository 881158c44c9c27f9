/*
 * tools/cmd_runs.c - `tropt runs` and `tropt show`: the runs of a store,
 * or one run, read through the run source (tools/source.h) and printed by
 * the one renderer (tools/render.h), so every backend prints the same text
 * for the same run.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "render.h"
#include "source.h"

#define DB_HELP                                                                                    \
    "read this sqlite database (default ./tropt.db); the same as --from sqlite:path=PATH"
#define FROM_HELP "read any readable backend: sqlite:path=F, csv:dir=D, jsonl:path=F, ..."

static int failed(const char *msg)
{
    cli_print_error(msg);
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
    cli_filter_args filter;
} runs_args;

const cli_opt cmd_runs_opts[] = {
    CLI_VALUE("db", 0, runs_args, db, "PATH", DB_HELP),
    CLI_VALUE_OR("from", 0, runs_args, from, "SPEC", FROM_HELP),
    CLI_VALUE("metric", 0, runs_args, metric, "KEY",
              "the metric of the LAST and MIN columns (default: loss, else the one key ending "
              "in /loss)"),
    CLI_FILTER_OPTS(runs_args, filter), CLI_END};

/* The runs shown: loaded, filtered, in order. */
typedef struct shown {
    cli_run *v;
    size_t n;
} shown;

static void shown_free(shown *sh)
{
    for (size_t i = 0; i < sh->n; i++)
        cli_run_free(&sh->v[i]);
    free(sh->v);
}

/* Load every listed run the filter keeps; 0, or -1 (message in the source). */
static int load_matching(cli_source *s, const cli_filter *f, const cli_run_info *info, size_t n,
                         shown *sh)
{
    if (!(sh->v = calloc(n ? n : 1, sizeof *sh->v)))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!cli_filter_info(f, &info[i]))
            continue;
        if (cli_source_load(s, info[i].run_id, &sh->v[sh->n]) != 0)
            return -1;
        if (cli_filter_run(f, &sh->v[sh->n]))
            sh->n++;
        else
            cli_run_free(&sh->v[sh->n]);
    }
    return 0;
}

static int print_shown(cli_source *s, const cli_filter *f, const cli_run_info *info, size_t n,
                       const char *metric)
{
    shown sh = {0};
    int rc = 0;
    if (load_matching(s, f, info, n, &sh) != 0)
        rc = failed(sh.v ? cli_source_error(s) : "out of memory");
    else if (n == 0)
        printf("no runs in %s\n", cli_source_name(s));
    else if (sh.n == 0)
        printf("no runs in %s match\n", cli_source_name(s));
    else if (cli_filter_sort(f, sh.v, sh.n) != 0 ||
             cli_print_runs(stdout, sh.v, sh.n, metric, NULL) != 0) /* whole ids */
        rc = failed("out of memory");
    shown_free(&sh);
    return rc;
}

static int print_runs(cli_source *s, const cli_filter *f, const char *metric)
{
    cli_run_info *info = NULL;
    size_t n = 0;
    if (cli_source_list(s, &info, &n) != 0)
        return failed(cli_source_error(s));
    int rc = print_shown(s, f, info, n, metric);
    cli_run_infos_free(info, n);
    return rc;
}

int cmd_runs(const cli_command *self, int argc, char **argv)
{
    runs_args a = {0};
    int rc = cli_parse(self, argc, argv, &a);
    if (rc != CLI_GO)
        return rc;
    cli_filter *f = NULL;
    char *err = NULL;
    if (cli_filter_make(&f, &a.filter, &err) != 0)
        rc = cli_usage_error(self, "%s", err);
    cli_source *s = f ? open_source(self, a.db, a.from, &rc) : NULL;
    if (s)
        rc = print_runs(s, f, a.metric);
    cli_source_free(s);
    cli_filter_free(f);
    free(err);
    cli_args_free(self, &a);
    return rc;
}

/* ---- tropt show ------------------------------------------------------------ */

typedef struct show_args {
    const char *run, *db, *from;
} show_args;

const cli_opt cmd_show_opts[] = {
    CLI_ARG("RUN", show_args, run, "a run's name, its id, or a unique prefix of the id"),
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
        return cli_usage_error(self, "missing RUN (a run's name, its id or a unique id prefix)");
    cli_source *s = open_source(self, a.db, a.from, &rc);
    if (!s)
        return rc;
    rc = show_one(s, a.run);
    cli_source_free(s);
    return rc;
}
