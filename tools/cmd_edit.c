/*
 * tools/cmd_edit.c - `tropt tag RUN TAG...`, `tropt untag RUN TAG...`,
 * `tropt note RUN TEXT` and `tropt rename RUN NAME` (SPEC 14): a stored
 * run's metadata changed afterwards.
 *
 * RUN is resolved by the run source (a name, an id or a unique id prefix;
 * an ambiguous one lists the candidates), then a tracker opened on the same
 * store applies the change through tropt_tracker_annotate_run, so each
 * backend stores it its own way (a journal appends an annotate event that a
 * replay carries).  A store whose backend keeps no run metadata gets the
 * core's error naming it.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tropt/host.h>

#include "render.h"
#include "source.h"

#define DB_HELP                                                                                    \
    "change this sqlite database (default ./tropt.db); the same as --from sqlite:path=PATH"
#define FROM_HELP "change the store of any backend that keeps run metadata (csv:dir=D, ...)"

typedef struct edit_args {
    const char *run, *text, *db, *from;
    cli_list words;
} edit_args;

const cli_opt cmd_tag_opts[] = {
    CLI_ARG("RUN", edit_args, run, "a run's name, its id, or a unique prefix of the id"),
    CLI_ARGS("TAG", 0, edit_args, words, "the tags to add (printable text without '/' or ',')"),
    CLI_VALUE("db", 0, edit_args, db, "PATH", DB_HELP),
    CLI_VALUE_OR("from", 0, edit_args, from, "SPEC", FROM_HELP), CLI_END};

const cli_opt cmd_untag_opts[] = {
    CLI_ARG("RUN", edit_args, run, "a run's name, its id, or a unique prefix of the id"),
    CLI_ARGS("TAG", 0, edit_args, words, "the tags to remove (one the run lacks is no change)"),
    CLI_VALUE("db", 0, edit_args, db, "PATH", DB_HELP),
    CLI_VALUE_OR("from", 0, edit_args, from, "SPEC", FROM_HELP), CLI_END};

const cli_opt cmd_note_opts[] = {
    CLI_ARG("RUN", edit_args, run, "a run's name, its id, or a unique prefix of the id"),
    CLI_ARG("TEXT", edit_args, text, "the run's note (replaces the one before; '' removes it)"),
    CLI_VALUE("db", 0, edit_args, db, "PATH", DB_HELP),
    CLI_VALUE_OR("from", 0, edit_args, from, "SPEC", FROM_HELP), CLI_END};

const cli_opt cmd_rename_opts[] = {
    CLI_ARG("RUN", edit_args, run, "a run's name, its id, or a unique prefix of the id"),
    CLI_ARG("NAME", edit_args, text,
            "the run's new name (printable text without '/' and not starting with '.')"),
    CLI_VALUE("db", 0, edit_args, db, "PATH", DB_HELP),
    CLI_VALUE_OR("from", 0, edit_args, from, "SPEC", FROM_HELP), CLI_END};

/* The run being changed: its store, its id and name, the tracker. */
typedef struct target {
    cli_source *src;
    tropt_tracker *t;
    char *id;
    char *name;
} target;

static void target_close(target *g)
{
    tropt_tracker_free(g->t);
    cli_source_free(g->src);
    free(g->id);
    free(g->name);
}

/* The listed name of run id (a copy), or NULL on failure. */
static char *name_of(cli_source *s, const char *id)
{
    cli_run_info *info = NULL;
    size_t n = 0;
    if (cli_source_list(s, &info, &n) != 0)
        return NULL;
    const cli_run_info *i = cli_run_infos_find(info, n, id);
    char *name = strdup(i && i->name ? i->name : id);
    cli_run_infos_free(info, n);
    return name;
}

/* Resolve RUN and open a tracker on its store; 0, or an exit code after
 * saying why. */
static int target_open(const cli_command *self, const edit_args *a, target *g)
{
    char *err = NULL;
    if (a->db && a->from)
        return cli_usage_error(self, "give --db or --from, not both");
    if (cli_source_open(&g->src, a->db, a->from, &err) != 0) {
        cli_print_error(err);
        free(err);
        return 1;
    }
    if (cli_source_find(g->src, a->run, &g->id) != 0 || !(g->name = name_of(g->src, g->id)) ||
        cli_source_tracker(g->src, &g->t) != 0) {
        cli_print_error(cli_source_error(g->src));
        return 1;
    }
    return 0;
}

/* "VERB NAME (ID)" on stdout, the name made safe for the terminal. */
static void say_run(const char *verb, const target *g)
{
    fputs(verb, stdout);
    fputc(' ', stdout);
    cli_put_term(stdout, g->name);
    fputs(" (", stdout);
    cli_put_term(stdout, g->id);
    fputc(')', stdout);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int annotate(target *g, tropt_annotation_kind kind, const char *text)
{
    tropt_annotation an = {kind, text, now()};
    if (tropt_tracker_annotate_run(g->t, g->id, &an) == TROPT_OK)
        return 0;
    cli_print_error(tropt_error_message());
    return 1;
}

/* tag, untag: every word in turn; stops at the first failure (the ones
 * before it are applied). */
static int edit_tags(target *g, const cli_list *tags, tropt_annotation_kind kind)
{
    for (size_t i = 0; i < tags->n; i++)
        if (annotate(g, kind, tags->v[i]) != 0)
            return 1;
    say_run(kind == TROPT_ANNOTATE_TAG ? "tagged" : "untagged", g);
    for (size_t i = 0; i < tags->n; i++) {
        fputs(i ? ", " : ": ", stdout);
        cli_put_term(stdout, tags->v[i]);
    }
    fputc('\n', stdout);
    return 0;
}

static int edit_text(target *g, tropt_annotation_kind kind, const char *text)
{
    if (annotate(g, kind, text) != 0)
        return 1;
    if (kind == TROPT_ANNOTATE_RENAME) {
        say_run("renamed", g);
        fputs(" to ", stdout);
        cli_put_term(stdout, text);
    } else {
        say_run(text[0] ? "noted" : "removed the note of", g);
    }
    fputc('\n', stdout);
    return 0;
}

static int edit(const cli_command *self, int argc, char **argv, tropt_annotation_kind kind)
{
    edit_args a = {0};
    int rc = cli_parse(self, argc, argv, &a);
    if (rc != CLI_GO)
        return rc;
    target g = {0};
    if ((rc = target_open(self, &a, &g)) == 0)
        rc = kind == TROPT_ANNOTATE_TAG || kind == TROPT_ANNOTATE_UNTAG
                 ? edit_tags(&g, &a.words, kind)
                 : edit_text(&g, kind, a.text);
    target_close(&g);
    cli_args_free(self, &a);
    return rc;
}

int cmd_tag(const cli_command *self, int argc, char **argv)
{
    return edit(self, argc, argv, TROPT_ANNOTATE_TAG);
}

int cmd_untag(const cli_command *self, int argc, char **argv)
{
    return edit(self, argc, argv, TROPT_ANNOTATE_UNTAG);
}

int cmd_note(const cli_command *self, int argc, char **argv)
{
    return edit(self, argc, argv, TROPT_ANNOTATE_NOTE);
}

int cmd_rename(const cli_command *self, int argc, char **argv)
{
    return edit(self, argc, argv, TROPT_ANNOTATE_RENAME);
}
