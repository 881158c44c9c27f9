/*
 * tools/filter.h - finding runs: the filters and the order of `tropt runs`
 * (SPEC 14), one implementation for every command that lists runs (the
 * report takes the same options).
 *
 * A command puts the raw options in a cli_filter_args (its option table
 * gets the rows from CLI_FILTER_OPTS), builds a cli_filter from them with
 * cli_filter_make (which checks every value and says what is wrong), and
 * then asks, per run, the cheap questions first:
 *
 *   cli_filter_info(f, info)        tags, status, experiment (the listing)
 *   cli_filter_config(f, cfg, n)    --where on the run's config
 *   cli_filter_run(f, run)          both, on a loaded run
 *   cli_filter_sort(f, runs, n)     the order asked for (a stable sort)
 *
 * The options:
 *   --tag TAG          (repeatable) every tag given is on the run
 *   --status S         running, finished, aborted or crashed (the status
 *                      every command shows: the core's rule)
 *   --experiment NAME  the run's experiment is NAME
 *   --where KEY=VALUE  (repeatable) the run's config (flattened keys, "a/b")
 *                      holds KEY with that value, typed: a number matches a
 *                      number of equal value (lr=0.1 the real 0.1, epochs=10
 *                      the integer 10 and the real 10.0), true/false a bool,
 *                      null a null, nan a NaN, a JSON string ("0.1" in
 *                      double quotes) or any other text a string, and a
 *                      JSON array an equal array
 *   --sort COLUMN      name, experiment, id, status, started (the default),
 *                      ended, steps, attempts; or last:KEY, min:KEY, max:KEY
 *                      (the last, lowest or highest numeric value of metric
 *                      KEY; runs without one come last either way)
 *   --reverse          the opposite order (ties keep the listing's order)
 *
 * Nothing here prints; nothing but cli_filter_make allocates.
 */
#ifndef TROPT_CLI_FILTER_H
#define TROPT_CLI_FILTER_H

#include "opt.h"
#include "source.h"

/* The raw filter and sort options, as the parser stores them. */
typedef struct cli_filter_args {
    cli_list tags;          /* --tag */
    cli_list where;         /* --where */
    const char *status;     /* --status, NULL: any */
    const char *experiment; /* --experiment, NULL: any */
    const char *sort;       /* --sort, NULL: started */
    int reverse;            /* --reverse */
} cli_filter_args;

/* The rows of an option table for a cli_filter_args member `m` of the
 * command's argument struct `type`. */
#define CLI_FILTER_OPTS(type, m)                                                                   \
    CLI_LIST("tag", 0, type, m.tags, "TAG", "only runs with this tag (repeatable: all of them)"),  \
        CLI_VALUE("status", 0, type, m.status, "S",                                                \
                  "only runs with this status: running, finished, aborted, crashed"),              \
        CLI_VALUE("experiment", 0, type, m.experiment, "NAME", "only runs of this experiment"),    \
        CLI_LIST("where", 0, type, m.where, "KEY=VALUE",                                           \
                 "only runs whose config holds KEY with this typed value: lr=0.1 (a number), "     \
                 "opt=adam (a string), flag=true (repeatable: all of them)"),                      \
        CLI_VALUE("sort", 0, type, m.sort, "COLUMN",                                               \
                  "order by name, experiment, id, status, started (default), ended, steps, "       \
                  "attempts, or a metric's last:KEY, min:KEY, max:KEY"),                           \
        CLI_FLAG("reverse", 0, type, m.reverse, "the opposite order")

typedef struct cli_filter cli_filter;

/*
 * Check the options and build the filter.  0 with *out owning it; -1 with
 * *out NULL and *err a malloc'd message for people (a bad status, a
 * --where without '=' or with an empty key, an unknown sort column; "out of
 * memory").  The filter borrows nothing from a (it copies what it keeps).
 */
int cli_filter_make(cli_filter **out, const cli_filter_args *a, char **err);
void cli_filter_free(cli_filter *f);

/* 1 when the run passes --tag, --status and --experiment, else 0. */
int cli_filter_info(const cli_filter *f, const cli_run_info *info);

/* 1 when the filter has --where conditions (the config must be read). */
int cli_filter_needs_config(const cli_filter *f);

/* 1 when the flattened config (n fields, any order) meets every --where. */
int cli_filter_config(const cli_filter *f, const tropt_field *config, size_t n);

/* cli_filter_info and cli_filter_config of a loaded run. */
int cli_filter_run(const cli_filter *f, const cli_run *r);

/* Order runs[0..n-1] as --sort and --reverse ask (stable).  0, or -1 when
 * memory ran out (the runs keep their order). */
int cli_filter_sort(const cli_filter *f, cli_run *runs, size_t n);

/* The three-way comparison cli_filter_sort uses (ties: 0). */
int cli_filter_cmp(const cli_filter *f, const cli_run *a, const cli_run *b);

/*
 * Parse one --where value ("KEY=VALUE") into *key (malloc'd) and *value
 * (typed as above; a string or array owned: release with
 * cli_where_value_free).  0, or -1 with *err a malloc'd message.
 */
int cli_where_parse(const char *text, char **key, tropt_field *value, char **err);
void cli_where_value_free(tropt_field *value);

/* 1 when a stored config value equals a --where value (the rule above). */
int cli_where_match(const tropt_field *want, const tropt_field *have);

#endif
