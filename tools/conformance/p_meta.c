/*
 * tools/conformance/p_meta.c - the promises about a run's identity (ABI
 * 1.2, SPEC 14): its name reads back, tags/note/new name given through the
 * annotate hook read back, a deleted run is gone and stays gone.  Also
 * kit_stored_run, which the other ABI 1.2 promises use.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kit.h"

/* ---- what list_runs says of one run --------------------------------------- */

typedef struct find {
    const char *id;
    kit_stored *s;
} find;

static void join_tags(kit_stored *s, const tropt_stored_run *run)
{
    size_t len = 0;
    s->tags[0] = '\0';
    for (size_t i = 0; i < run->n_tags && len + 1 < sizeof s->tags; i++) {
        int n = snprintf(s->tags + len, sizeof s->tags - len, "%s%s", i ? "," : "", run->tags[i]);
        len += n < 0 ? 0 : (size_t)n;
    }
}

static int find_one(const tropt_stored_run *run, void *ud)
{
    find *f = ud;
    if (strcmp(run->run_id, f->id) != 0)
        return 0;
    kit_stored *s = f->s;
    char def[TROPT_MAX_NAME + 1];
    tropt_run_default_name(run->run_id, def, sizeof def);
    s->found = 1;
    snprintf(s->name, sizeof s->name, "%s", run->name ? run->name : "");
    s->derived = strcmp(s->name, def) == 0;
    join_tags(s, run);
    s->has_note = run->note != NULL;
    snprintf(s->note, sizeof s->note, "%s", run->note ? run->note : "");
    s->attempts = run->attempts;
    s->last_step = run->last_step;
    s->checkpoint_step = run->checkpoint_step;
    snprintf(s->resume_key, sizeof s->resume_key, "%s", run->resume_key ? run->resume_key : "");
    return 1;
}

int kit_stored_run(const kit *k, const char *id, kit_stored *s)
{
    memset(s, 0, sizeof *s);
    tropt_reader *r = NULL;
    if (kit_open_reader(k, &r))
        return KIT_BROKEN;
    find f = {id, s};
    int rc = tropt_reader_list_runs(r, find_one, &f);
    tropt_reader_free(r);
    if (rc < 0)
        return kit_broken("the runs are listed", "%s", tropt_error_message());
    return KIT_KEPT;
}

/* ---- a run's name reads back ------------------------------------------------ */

/* Printable, with what a page, a terminal or CSV must escape, > 16 bytes. */
#define GIVEN_NAME "conformance run \xc3\xa9t\xc3\xa9 \"q\" <b>&amp;, 1\\2"

/* Two runs: one named by the caller, one by the host's default. */
static int log_names(tropt_tracker *t, char ids[2][40], char dflt[TROPT_MAX_NAME + 1])
{
    int rc = tropt_tracker_set_run_name(t, GIVEN_NAME);
    for (int i = 0; i < 2 && !rc; i++) {
        rc = tropt_tracker_init(t, NULL);
        if (rc)
            break;
        snprintf(ids[i], 40, "%s", tropt_tracker_run_id(t));
        if (i == 1)
            snprintf(dflt, TROPT_MAX_NAME + 1, "%s", tropt_tracker_run_name(t));
        tropt_field f[] = {TROPT_F_INT("n", i)};
        rc = tropt_tracker_log_fields(t, f, 1);
        if (!rc)
            rc = tropt_tracker_finish(t, NULL);
    }
    return rc;
}

/* The name read back for run `id` is `want`: KIT_KEPT, KIT_SKIPPED (the
 * plugin stores no name) or KIT_BROKEN, said. */
static int name_is(const kit *k, const char *id, const char *want, const char *what)
{
    kit_stored s;
    if (kit_stored_run(k, id, &s))
        return KIT_BROKEN;
    if (!s.found)
        return kit_broken("the run is listed", "run %s is not listed", id);
    if (strcmp(s.name, want) == 0)
        return KIT_KEPT;
    if (s.derived)
        return kit_skip(
            "(skipped: the plugin's reader gives back no run name (tropt_stored_run.name "
            "NULL, or its ABI 1.2 members unfilled): it stores none)");
    char w[512], g[512], expected[640];
    kit_escape(w, sizeof w, want);
    kit_escape(g, sizeof g, s.name);
    snprintf(expected, sizeof expected, "the name %s reads back: \"%s\"", what, w);
    return kit_broken(expected, "\"%s\"", g);
}

/* The given name resolves to the run's id. */
static int name_resolves(const kit *k, const char *id)
{
    tropt_reader *r = NULL;
    if (kit_open_reader(k, &r))
        return KIT_BROKEN;
    char got[37] = "";
    int rc = tropt_reader_resolve(r, GIVEN_NAME, got);
    tropt_reader_free(r);
    if (rc != TROPT_OK || strcmp(got, id) != 0)
        return kit_broken("the run's name resolves to its id", "tropt_reader_resolve: %s (%s)",
                          rc ? tropt_error_name(rc) : got,
                          rc ? tropt_error_message() : "another run");
    return KIT_KEPT;
}

int p_name(const kit *k)
{
    tropt_tracker *t = NULL;
    if (kit_open(k, &t))
        return KIT_BROKEN;
    char ids[2][40] = {"", ""}, dflt[TROPT_MAX_NAME + 1] = "";
    int rc = log_names(t, ids, dflt);
    tropt_tracker_free(t);
    if (rc)
        return kit_broken("two runs logged, one named", "%s: %s", tropt_error_name(rc),
                          tropt_error_message());
    int v = name_is(k, ids[0], GIVEN_NAME, "given with tropt_tracker_set_run_name");
    if (v == KIT_KEPT)
        v = name_is(k, ids[1], dflt, "the host gave by default");
    if (v == KIT_KEPT)
        v = name_resolves(k, ids[0]);
    return v;
}

/* ---- tags, note and a new name through the annotate hook --------------------- */

#define NOTE_TEXT "a note: \xc3\xbc, \"quoted\", <i>, 50%"

/* Each change carries the time it is made, as tropt tag and replay give it:
 * a store may order changes by their time. */
static int annotate(tropt_tracker *t, const char *id, tropt_annotation_kind kind, const char *text)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    tropt_annotation a = {.kind = kind, .text = text, .time = (double)ts.tv_sec + ts.tv_nsec / 1e9};
    return tropt_tracker_annotate_run(t, id, &a);
}

/* A run tagged twice while it runs, then (finished) tagged, untagged,
 * noted and renamed. */
static int log_annotated(tropt_tracker *t, char id[40])
{
    int rc = tropt_tracker_set_run_name(t, "conformance-annotate");
    if (!rc)
        rc = tropt_tracker_init(t, NULL);
    if (rc)
        return rc;
    snprintf(id, 40, "%s", tropt_tracker_run_id(t));
    rc = tropt_tracker_tag(t, "first");
    if (!rc)
        rc = tropt_tracker_tag(t, "second");
    tropt_field f[] = {TROPT_F_INT("n", 1)};
    if (!rc)
        rc = tropt_tracker_log_fields(t, f, 1);
    if (!rc)
        rc = tropt_tracker_finish(t, NULL);
    if (!rc)
        rc = annotate(t, id, TROPT_ANNOTATE_TAG, "third");
    if (!rc)
        rc = annotate(t, id, TROPT_ANNOTATE_UNTAG, "first");
    if (!rc)
        rc = annotate(t, id, TROPT_ANNOTATE_NOTE, NOTE_TEXT);
    if (!rc)
        rc = annotate(t, id, TROPT_ANNOTATE_RENAME, "conformance-renamed");
    return rc;
}

/* A run the store never held is refused, with TROPT_EINVAL. */
static int annotate_missing(const kit *k)
{
    tropt_tracker *t = NULL;
    if (kit_open(k, &t))
        return KIT_BROKEN;
    int rc = annotate(t, "01900000-0000-7000-8000-000000000000", TROPT_ANNOTATE_TAG, "x");
    tropt_tracker_free(t);
    if (rc != TROPT_EINVAL)
        return kit_broken("tagging a run the store does not hold fails with EINVAL", "%s",
                          rc ? tropt_error_name(rc) : "accepted");
    return KIT_KEPT;
}

int p_annotate(const kit *k)
{
    tropt_tracker *t = NULL;
    if (kit_open(k, &t))
        return KIT_BROKEN;
    char id[40] = "";
    int rc = log_annotated(t, id);
    tropt_tracker_free(t);
    if (rc)
        return kit_broken("tags, a note and a new name accepted", "%s: %s", tropt_error_name(rc),
                          tropt_error_message());
    kit_stored s;
    if (kit_stored_run(k, id, &s))
        return KIT_BROKEN;
    char note[512], name[512];
    kit_escape(note, sizeof note, s.has_note ? s.note : "(none)");
    kit_escape(name, sizeof name, s.name);
    if (!s.found || strcmp(s.tags, "second,third") != 0 || !s.has_note ||
        strcmp(s.note, NOTE_TEXT) != 0 || strcmp(s.name, "conformance-renamed") != 0)
        return kit_broken("tags \"second,third\" (first, second during the run; third added and "
                          "first removed after it), the note and the new name read back",
                          "%s: tags \"%s\", note \"%s\", name \"%s\"",
                          s.found ? "listed" : "not listed", s.tags, note, name);
    return annotate_missing(k);
}

/* ---- a deleted run is gone, and stays gone --------------------------------- */

static int log_two(tropt_tracker *t, char ids[2][40])
{
    int rc = TROPT_OK;
    for (int i = 0; i < 2 && !rc; i++) {
        rc = tropt_tracker_init(t, NULL);
        if (rc)
            break;
        snprintf(ids[i], 40, "%s", tropt_tracker_run_id(t));
        tropt_field f[] = {TROPT_F_INT("n", i)};
        rc = tropt_tracker_log_fields(t, f, 1);
        if (!rc)
            rc = tropt_tracker_finish(t, NULL);
    }
    return rc;
}

/* The run deleted, then an init of its id (a replay): refused as deleted. */
static int delete_then_init(const kit *k, const char *id)
{
    tropt_tracker *t = NULL;
    if (kit_open(k, &t))
        return KIT_BROKEN;
    int rc = tropt_tracker_delete_run(t, id);
    if (rc) {
        tropt_tracker_free(t);
        return kit_broken("delete_run succeeds", "%s: %s", tropt_error_name(rc),
                          tropt_error_message());
    }
    tropt_run_record rec = {.struct_size = sizeof rec, .run_id = id, .name = "conformance-again"};
    rc = tropt_tracker_import_run(t, &rec, NULL);
    const char *msg = rc ? tropt_error_message() : "";
    int said = rc == TROPT_EINVAL && strstr(msg, "deleted") != NULL;
    char m[512];
    kit_escape(m, sizeof m, msg);
    tropt_tracker_free(t);
    if (!said)
        return kit_broken("a later init of the deleted run's id refused with EINVAL, saying it "
                          "was deleted",
                          "%s%s%s", rc ? tropt_error_name(rc) : "accepted", rc ? ": " : "", m);
    return KIT_KEPT;
}

static int ignore(const tropt_event *ev, void *ud)
{
    (void)ev;
    (void)ud;
    return 0;
}

int p_delete(const kit *k)
{
    tropt_tracker *t = NULL;
    if (kit_open(k, &t))
        return KIT_BROKEN;
    char ids[2][40] = {"", ""};
    int rc = log_two(t, ids);
    tropt_tracker_free(t);
    if (rc)
        return kit_broken("two runs logged", "%s: %s", tropt_error_name(rc), tropt_error_message());
    if (delete_then_init(k, ids[0]))
        return KIT_BROKEN;
    kit_stored gone, kept;
    if (kit_stored_run(k, ids[0], &gone) || kit_stored_run(k, ids[1], &kept))
        return KIT_BROKEN;
    if (gone.found || !kept.found)
        return kit_broken("the deleted run is no longer listed, the other one still is",
                          "deleted run %s, other run %s", gone.found ? "listed" : "gone",
                          kept.found ? "listed" : "gone");
    tropt_reader *r = NULL;
    if (kit_open_reader(k, &r))
        return KIT_BROKEN;
    rc = tropt_reader_read_run(r, ids[0], ignore, NULL);
    tropt_reader_free(r);
    if (rc == TROPT_OK)
        return kit_broken("the deleted run no longer reads back", "it does");
    return KIT_KEPT;
}
