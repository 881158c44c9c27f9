/* core/resume.c - reading a tracker's own store while it opens a run: the
 * run to continue (SPEC 15: by resume key, "run:REF", or a reference given
 * to tropt_tracker_resume) and the names the store already holds (default
 * names are unique within a store).  Both read the first backend of the
 * spec that can read back, through its reader hooks and the options it was
 * created with. */
#include <math.h>
#include <string.h>

#include "tracker_priv.h"

void tropt__found_clear(tropt__found *f)
{
    tropt__free(f->experiment);
    tropt__free(f->name);
    tropt__free(f->status);
    tropt__free(f->host);
    tropt__free(f->resume_key);
    memset(f, 0, sizeof *f);
}

long tropt__first_reader(const tropt_tracker *t)
{
    for (size_t i = 0; i < t->nb; i++)
        if (tropt__plugin_can_read(t->b[i].mod.plugin))
            return (long)i;
    return -1;
}

static int open_store(tropt_tracker *t, tropt_reader **r, long *at)
{
    *r = NULL;
    *at = tropt__first_reader(t);
    if (*at < 0)
        return TROPT_OK;
    const tropt__backend *be = &t->b[*at];
    return tropt__reader_borrow(&be->mod, be->opts, be->label, r);
}

/* ---- the run to continue ---------------------------------------------- */

typedef struct find_ctx {
    const char *key; /* match by resume key, or */
    const char *id;  /* by full id */
    tropt__found *f;
    int oom;
} find_ctx;

static int copy_str(char **dst, const char *src, int *oom)
{
    tropt__free(*dst);
    *dst = NULL;
    if (src && !(*dst = tropt__strdup(src)))
        *oom = 1;
    return *oom;
}

static int take_run(find_ctx *c, const tropt_stored_run *sr)
{
    tropt__found *f = c->f;
    char name[TROPT_MAX_NAME + 1];
    if (!sr->name)
        tropt_run_default_name(sr->run_id, name, sizeof name);
    f->found = 1;
    snprintf(f->run_id, sizeof f->run_id, "%s", sr->run_id);
    if (copy_str(&f->experiment, sr->experiment, &c->oom) ||
        copy_str(&f->name, sr->name ? sr->name : name, &c->oom) ||
        copy_str(&f->status, tropt_run_status(sr), &c->oom) ||
        copy_str(&f->host, sr->host, &c->oom) || copy_str(&f->resume_key, sr->resume_key, &c->oom))
        return 1;
    f->pid = sr->pid;
    f->started_at = sr->started_at;
    f->attempts = sr->attempts > 0 ? sr->attempts : 1;
    f->last_step = sr->last_step;
    f->checkpoint_step = sr->checkpoint_step;
    return 0;
}

static int match_run(const tropt_stored_run *sr, void *ud)
{
    find_ctx *c = ud;
    if (c->id) {
        if (strcmp(sr->run_id, c->id) == 0)
            return take_run(c, sr) ? 1 : 2; /* 2: found, stop */
        return 0;
    }
    /* by key: the newest run carrying it (stores refuse a second one, but a
     * store merged from two may hold both) */
    if (!sr->resume_key || strcmp(sr->resume_key, c->key) != 0)
        return 0;
    if (c->f->found && c->f->started_at > sr->started_at)
        return 0;
    return take_run(c, sr) ? 1 : 0;
}

static int find_in(tropt_reader *r, find_ctx *c)
{
    int rc = tropt_reader_list_runs(r, match_run, c);
    if (c->oom)
        return tropt__oom();
    return rc > 0 ? TROPT_OK : rc;
}

int tropt__resume_find(tropt_tracker *t, const char *key, const char *ref, tropt__found *f)
{
    memset(f, 0, sizeof *f);
    tropt_reader *r = NULL;
    long at;
    int rc = open_store(t, &r, &at);
    if (at < 0)
        return tropt__error(TROPT_EPLUGIN,
                            "resume: no backend of the spec can read back the run to continue "
                            "(sqlite, csv, jsonl, pg and tensorboard can)");
    if (rc != TROPT_OK) {
        /* a store not made yet (a first attempt): no run to continue */
        tropt__log(TROPT_LEVEL_INFO, "resume: %s; starting a new run", tropt_error_message());
        return TROPT_OK;
    }
    if (t->b[at].mod.plugin->struct_size < TROPT_PLUGIN_V12_SIZE) {
        tropt_reader_free(r);
        return tropt__error(TROPT_EPLUGIN,
                            "resume: %s stores no attempts (a plugin of ABI 1.1): it cannot "
                            "continue a run",
                            t->b[at].label);
    }
    char id[TROPT__UUID_LEN + 1];
    find_ctx c = {NULL, NULL, f, 0};
    if (key && strncmp(key, "run:", 4) == 0)
        ref = key + 4;
    if (ref) {
        rc = tropt_reader_resolve(r, ref, id);
        c.id = id;
    } else {
        c.key = key;
    }
    if (rc == TROPT_OK)
        rc = find_in(r, &c);
    else if (rc == TROPT_ENOTFOUND)
        rc = TROPT_OK; /* f->found stays 0 */
    tropt_reader_free(r);
    if (rc != TROPT_OK)
        tropt__found_clear(f);
    return rc;
}

/* ---- the names a store holds ------------------------------------------ */

typedef struct names_ctx {
    int (*fn)(void *, const char *);
    void *ud;
    int64_t n;
} names_ctx;

static int see_name(const tropt_stored_run *sr, void *ud)
{
    names_ctx *c = ud;
    char name[TROPT_MAX_NAME + 1];
    c->n++;
    if (sr->name)
        return c->fn(c->ud, sr->name);
    tropt_run_default_name(sr->run_id, name, sizeof name);
    return c->fn(c->ud, name);
}

int tropt__store_names(tropt_tracker *t, int (*fn)(void *, const char *), void *ud, int64_t *n_runs)
{
    *n_runs = -1;
    tropt_reader *r = NULL;
    long at;
    char saved[1024];
    tropt__error_save(saved, sizeof saved);
    int rc = open_store(t, &r, &at);
    if (rc == TROPT_ENOMEM)
        return rc;
    if (at < 0 || rc != TROPT_OK) {
        /* no store to ask (yet): the name is unique within this process */
        tropt__error_restore(saved);
        return TROPT_OK;
    }
    names_ctx c = {fn, ud, 0};
    rc = tropt_reader_list_runs(r, see_name, &c);
    tropt_reader_free(r);
    if (rc < 0 && rc != TROPT_ENOMEM) {
        tropt__log(TROPT_LEVEL_INFO, "run names: cannot list the runs of %s (%s)", t->b[at].label,
                   tropt_error_message());
        tropt__error_restore(saved);
        return TROPT_OK;
    }
    if (rc == TROPT_ENOMEM)
        return rc;
    *n_runs = c.n;
    return TROPT_OK;
}
