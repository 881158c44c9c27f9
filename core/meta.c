/* core/meta.c - a run's metadata (SPEC 14): tags during a run
 * (tropt_tracker_tag), and tags, notes, names and deletion of stored runs
 * (tropt_tracker_annotate_run, tropt_tracker_delete_run), through the
 * plugins' ABI 1.2 metadata hooks; and system samples handed over by tools
 * (tropt_tracker_import_system). */
#include <string.h>

#include "tracker_priv.h"

static int has_meta(const tropt__backend *be)
{
    const tropt_plugin *p = be->mod.plugin;
    return p->struct_size >= TROPT_PLUGIN_V12_SIZE && p->annotate && p->delete_run;
}

/* "sqlite, csv" into buf: the backends of t without the metadata hooks. */
static void backends_without(const tropt_tracker *t, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < t->nb && used < size; i++) {
        int w = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", t->b[i].label);
        used += w > 0 ? (size_t)w : 0;
    }
}

static int check_annotation(const tropt_annotation *a)
{
    switch (a->kind) {
    case TROPT_ANNOTATE_TAG:
    case TROPT_ANNOTATE_UNTAG:
        return tropt__name_check(a->text, "tag");
    case TROPT_ANNOTATE_RENAME:
        return tropt__name_check(a->text, "run name");
    case TROPT_ANNOTATE_NOTE:
        return a->text ? TROPT_OK : tropt__error(TROPT_EINVAL, "note: text is NULL");
    }
    return tropt__error(TROPT_EINVAL, "unknown annotation kind %d", (int)a->kind);
}

/* Call annotate (or delete_run, when a is NULL) on every backend that has
 * the hooks.  `need_one`: no such backend is an error naming them all. */
static int fan_meta(tropt_tracker *t, const char *run_id, const tropt_annotation *a, int need_one)
{
    tropt__first_error fe;
    TROPT__FANOUT_INIT(&fe);
    size_t reached = 0;
    for (size_t i = 0; i < t->nb; i++) {
        tropt__backend *be = &t->b[i];
        if (!has_meta(be))
            continue;
        reached++;
        tropt__error_clear();
        const tropt_plugin *p = be->mod.plugin;
        int rc = a ? p->annotate(be->self, run_id, a) : p->delete_run(be->self, run_id);
        tropt__note_result(&fe, be, rc, a ? "the run's metadata" : "deleting the run");
    }
    if (reached == 0 && need_one) {
        char names[512];
        backends_without(t, names, sizeof names);
        return tropt__error(TROPT_EPLUGIN,
                            "%s: no backend of the spec can %s (%s keep no run metadata; sqlite, "
                            "csv, jsonl, pg and tensorboard do)",
                            run_id, a ? "change a run's tags, note or name" : "delete a run",
                            names);
    }
    return tropt__fanout_done(&fe);
}

int tropt_tracker_tag(tropt_tracker *t, const char *tag)
{
    if (!t)
        return tropt__error(TROPT_EINVAL, "tag: tracker is NULL");
    int rc = tropt__name_check(tag, "tag");
    if (rc)
        return rc;
    if ((rc = tropt__fork_check(t, "tag")) != TROPT_OK)
        return rc;
    tropt_annotation a = {TROPT_ANNOTATE_TAG, tag, tropt__now()};
    pthread_mutex_lock(&t->lock);
    if (!t->active)
        rc = tropt__error(TROPT_ESTATE, "tag() called on inactive tracker (missing init()?)");
    else
        rc = fan_meta(t, t->id.run_id, &a, 0);
    pthread_mutex_unlock(&t->lock);
    return rc;
}

int tropt_tracker_annotate_run(tropt_tracker *t, const char *run_id, const tropt_annotation *a)
{
    if (!t || !run_id || !a)
        return tropt__error(TROPT_EINVAL, "annotate_run: tracker, run id or annotation is NULL");
    int rc = check_annotation(a);
    if (rc == TROPT_OK)
        rc = tropt__fork_check(t, "annotate_run");
    if (rc)
        return rc;
    pthread_mutex_lock(&t->lock);
    rc = fan_meta(t, run_id, a, 1);
    pthread_mutex_unlock(&t->lock);
    return rc;
}

int tropt_tracker_delete_run(tropt_tracker *t, const char *run_id)
{
    if (!t || !run_id)
        return tropt__error(TROPT_EINVAL, "delete_run: tracker or run id is NULL");
    int rc = tropt__fork_check(t, "delete_run");
    if (rc)
        return rc;
    pthread_mutex_lock(&t->lock);
    if (t->active && strcmp(t->id.run_id, run_id) == 0)
        rc = tropt__error(TROPT_ESTATE, "delete_run: run %s is this tracker's active run", run_id);
    else
        rc = fan_meta(t, run_id, NULL, 1);
    pthread_mutex_unlock(&t->lock);
    return rc;
}

int tropt__fan_system(tropt_tracker *t, double time, const tropt_sample *s, size_t n)
{
    tropt__first_error fe;
    TROPT__FANOUT_INIT(&fe);
    for (size_t i = 0; i < t->nb; i++) {
        tropt__backend *be = &t->b[i];
        const tropt_plugin *p = be->mod.plugin;
        if (!be->run_open || p->struct_size < TROPT_PLUGIN_V12_SIZE || !p->log_system)
            continue;
        tropt__error_clear();
        tropt__note_result(&fe, be, p->log_system(be->self, &t->id.run, time, s, n),
                           "the system samples");
    }
    return tropt__fanout_done(&fe);
}

int tropt_tracker_import_system(tropt_tracker *t, double time, const tropt_sample *samples,
                                size_t n)
{
    if (!t || (n && !samples))
        return tropt__error(TROPT_EINVAL, "import_system: tracker or samples is NULL");
    int rc = tropt__fork_check(t, "import_system");
    if (rc)
        return rc;
    pthread_mutex_lock(&t->lock);
    rc = t->active ? tropt__fan_system(t, time, samples, n)
                   : tropt__error(TROPT_ESTATE, "import_system: no active run");
    pthread_mutex_unlock(&t->lock);
    return rc;
}
