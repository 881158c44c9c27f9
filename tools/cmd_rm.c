/*
 * tools/cmd_rm.c - `tropt rm RUN... [--yes] [--force]` (SPEC 14): delete
 * runs from a store whose backend can (tropt_tracker_delete_run).
 *
 * Every RUN is resolved first (a name, an id or a unique id prefix); if one
 * names no run, or several, nothing is removed.  A run whose status is
 * `running` (its writer is alive, as far as the core's rule can tell) is
 * refused unless --force.  On a terminal it asks before removing anything
 * unless --yes; off a terminal without --yes it refuses (exit 2), so a
 * script never deletes by accident.  It prints each run it removed; a store
 * whose backend cannot delete gets the core's error naming it.
 */
#include "cli.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <tropt/host.h>

#include "render.h"
#include "source.h"

typedef struct rm_args {
    cli_list runs;
    const char *db, *from;
    int yes, force;
} rm_args;

const cli_opt cmd_rm_opts[] = {
    CLI_ARGS("RUN", 0, rm_args, runs, "the runs: names, ids or unique id prefixes"),
    CLI_VALUE("db", 0, rm_args, db, "PATH",
              "remove from this sqlite database (default ./tropt.db); the same as --from "
              "sqlite:path=PATH"),
    CLI_VALUE_OR("from", 0, rm_args, from, "SPEC",
                 "remove from the store of any backend that can delete runs (csv:dir=D, ...)"),
    CLI_FLAG("yes", 'y', rm_args, yes, "do not ask (needed when stdin is not a terminal)"),
    CLI_FLAG("force", 0, rm_args, force, "remove a run shown running too"),
    CLI_END};

/* The runs to remove: listed infos and, per run, the index of its info. */
typedef struct doomed {
    cli_run_info *info;
    size_t n_info;
    size_t *pick;
    size_t n;
} doomed;

static void doomed_free(doomed *d)
{
    cli_run_infos_free(d->info, d->n_info);
    free(d->pick);
}

/* Resolve every reference (a run named twice is removed once); 0, or 1
 * after saying why. */
static int resolve_all(cli_source *s, const cli_list *refs, doomed *d)
{
    if (cli_source_list(s, &d->info, &d->n_info) != 0 ||
        !(d->pick = calloc(refs->n, sizeof *d->pick))) {
        cli_print_error(cli_source_error(s));
        return 1;
    }
    for (size_t i = 0; i < refs->n; i++) {
        char *id = NULL;
        if (cli_source_find(s, refs->v[i], &id) != 0) {
            cli_print_error(cli_source_error(s));
            return 1;
        }
        const cli_run_info *info = cli_run_infos_find(d->info, d->n_info, id);
        free(id);
        if (!info) {
            cli_print_error("a run changed while it was looked up; try again");
            return 1;
        }
        size_t k = (size_t)(info - d->info), j = 0;
        while (j < d->n && d->pick[j] != k)
            j++;
        if (j == d->n)
            d->pick[d->n++] = k;
    }
    return 0;
}

/* "NAME (ID, STATUS, started T)" to f. */
static void describe(FILE *f, const cli_run_info *i)
{
    char when[64];
    cli_format_time(when, sizeof when, i->started_at);
    cli_put_term(f, i->name ? i->name : i->run_id);
    fputs(" (", f);
    cli_put_term(f, i->run_id);
    fputs(", ", f);
    cli_put_term(f, i->status);
    fprintf(f, ", started %s)", when);
}

/* Without --force, a running run stops everything; 0, or 1. */
static int refuse_running(const doomed *d, int force)
{
    int refused = 0;
    for (size_t k = 0; !force && k < d->n; k++) {
        const cli_run_info *i = &d->info[d->pick[k]];
        if (strcmp(i->status, "running") != 0)
            continue;
        fputs("tropt: ", stderr);
        describe(stderr, i);
        fputs(" is running; give --force to remove it anyway\n", stderr);
        refused = 1;
    }
    if (refused)
        fputs("tropt: nothing removed\n", stderr);
    return refused;
}

/* Ask on the terminal; 1 when the answer is y or yes. */
static int confirmed(const doomed *d)
{
    fprintf(stderr, "about to remove %zu run%s:\n", d->n, d->n == 1 ? "" : "s");
    for (size_t k = 0; k < d->n; k++) {
        fputs("  ", stderr);
        describe(stderr, &d->info[d->pick[k]]);
        fputc('\n', stderr);
    }
    fprintf(stderr, "remove %s? [y/N] ", d->n == 1 ? "it" : "them");
    fflush(stderr);
    char line[64];
    if (!fgets(line, sizeof line, stdin))
        return 0;
    line[strcspn(line, "\r\n")] = '\0';
    char *w = line;
    while (isspace((unsigned char)*w))
        w++;
    return strcasecmp(w, "y") == 0 || strcasecmp(w, "yes") == 0;
}

/* 0 to go on, or the exit code: 2 off a terminal without --yes, 1 when
 * the answer was not yes. */
static int ask(const cli_command *self, const doomed *d, int yes)
{
    if (yes)
        return 0;
    if (!isatty(STDIN_FILENO)) {
        fprintf(stderr,
                "tropt: not removing %zu run%s without confirmation: stdin is not a terminal "
                "(give --yes)\n",
                d->n, d->n == 1 ? "" : "s");
        cli_print_usage(stderr, self);
        return 2;
    }
    if (confirmed(d))
        return 0;
    fputs("tropt: nothing removed\n", stderr);
    return 1;
}

/* Delete each run; 0, or 1 when one failed (the others are still tried). */
static int remove_all(cli_source *s, const doomed *d)
{
    tropt_tracker *t = NULL;
    if (cli_source_tracker(s, &t) != 0) {
        cli_print_error(cli_source_error(s));
        return 1;
    }
    int rc = 0;
    for (size_t k = 0; k < d->n; k++) {
        const cli_run_info *i = &d->info[d->pick[k]];
        if (tropt_tracker_delete_run(t, i->run_id) != TROPT_OK) {
            cli_print_error(tropt_error_message());
            rc = 1;
            continue;
        }
        fputs("removed ", stdout);
        describe(stdout, i);
        fputc('\n', stdout);
    }
    tropt_tracker_free(t);
    return rc;
}

static int rm(const cli_command *self, const rm_args *a)
{
    cli_source *s = NULL;
    char *err = NULL;
    if (a->db && a->from)
        return cli_usage_error(self, "give --db or --from, not both");
    if (cli_source_open(&s, a->db, a->from, &err) != 0) {
        cli_print_error(err);
        free(err);
        return 1;
    }
    doomed d = {0};
    int rc = resolve_all(s, &a->runs, &d);
    if (rc == 0)
        rc = refuse_running(&d, a->force);
    if (rc == 0)
        rc = ask(self, &d, a->yes);
    if (rc == 0)
        rc = remove_all(s, &d);
    doomed_free(&d);
    cli_source_free(s);
    return rc;
}

int cmd_rm(const cli_command *self, int argc, char **argv)
{
    rm_args a = {0};
    int rc = cli_parse(self, argc, argv, &a);
    if (rc != CLI_GO)
        return rc;
    rc = rm(self, &a);
    cli_args_free(self, &a);
    return rc;
}
