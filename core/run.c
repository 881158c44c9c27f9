/* core/run.c - opening a run: its config, its identity (id, name, attempt,
 * where it came from), continuing a stored run (SPEC 15), and the backends'
 * init.  Called under the tracker's lock by init, init_run, import_run and
 * resume (tracker.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tracker_priv.h"

#define MSG_INIT_ACTIVE                                                                            \
    "init() called on already-active tracker (previous run not finished). "                        \
    "Auto-finishing the previous run."

/* Everything that decides the identity of the run about to open; strings
 * are borrowed (from the request, the tracker or `found`). */
typedef struct plan {
    const char *run_id; /* NULL: a new UUIDv7 */
    const char *experiment;
    double started_at;
    const char *host;
    int64_t pid;
    const char *name; /* NULL: decided by pick_name */
    int64_t attempt;
    int64_t from_step;
    double attempt_started_at;
    const char *resume_key;
    const char *pidns;
    const tropt_provenance *prov; /* given by an import, or NULL: this process's */
    int fresh_name;               /* a new run of this process: next_name / $TROPT_RUN_NAME apply */
    int imported;                 /* the identity comes from a record (init_run, import_run) */
    tropt__found found;           /* the stored run being continued */
} plan;

void tropt__run_clear(tropt_tracker *t)
{
    tropt__run_id *id = &t->id;
    char **owned[] = {&id->experiment, &id->host, &id->name,       &id->resume_key, &id->pidns,
                      &id->command,    &id->cwd,  &id->git_commit, &id->version};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++) {
        tropt__free(*owned[i]);
        *owned[i] = NULL;
    }
    memset(id, 0, sizeof *id);
    t->active = 0;
}

/* ---- the config -------------------------------------------------------- */

/* merged = {**experiment_config, **config} or None, flattened into t->flat. */
static int merge_config(tropt_tracker *t, const json_t *config, json_t **out)
{
    *out = NULL;
    if (!t->experiment_config && !(config && json_object_size(config) > 0))
        return TROPT_OK;
    json_t *merged = json_object();
    if (!merged || (t->experiment_config && json_object_update(merged, t->experiment_config)) ||
        (config && json_object_update(merged, (json_t *)config))) {
        json_decref(merged);
        return tropt__oom();
    }
    if (json_object_size(merged) == 0) {
        json_decref(merged);
        return TROPT_OK;
    }
    int rc = tropt__flat_object(&t->flat, merged);
    if (rc) {
        json_decref(merged);
        return rc;
    }
    *out = merged;
    return TROPT_OK;
}

/* ---- the plan ---------------------------------------------------------- */

static int check_record(const tropt_run_record *rec)
{
    if (rec->struct_size < offsetof(tropt_run_record, provenance) + sizeof rec->provenance)
        return tropt__error(TROPT_EINVAL, "import_run: struct_size %u is not a tropt_run_record",
                            (unsigned)rec->struct_size);
    if (rec->run_id && !tropt__uuid_valid(rec->run_id))
        return tropt__error(TROPT_EINVAL, "init: run id '%s' is not a UUID", rec->run_id);
    if (rec->attempt > 1 && (!rec->run_id || rec->from_step < 0))
        return tropt__error(TROPT_EINVAL,
                            "import_run: attempt %lld needs the run id it continues and a "
                            "from_step >= 0",
                            (long long)rec->attempt);
    if (rec->name)
        return tropt__name_check(rec->name, "run name");
    return TROPT_OK;
}

static void plan_defaults(const tropt_tracker *t, plan *p)
{
    memset(p, 0, sizeof *p);
    p->experiment = t->experiment;
    p->host = t->hostname;
    p->pid = (int64_t)getpid();
    p->attempt = 1;
    p->resume_key = t->hopts.resume_key;
    p->pidns = t->pidns[0] ? t->pidns : NULL;
    p->fresh_name = 1;
}

/* An identity given by init_run / import_run. */
static void plan_record(plan *p, const tropt_run_record *rec)
{
    p->fresh_name = 0;
    p->imported = 1;
    p->run_id = rec->run_id;
    if (rec->experiment)
        p->experiment = rec->experiment;
    p->started_at = rec->started_at;
    if (rec->host)
        p->host = rec->host;
    if (rec->pid > 0)
        p->pid = rec->pid;
    p->name = rec->name;
    p->resume_key = rec->resume_key;
    p->pidns = rec->pidns;
    p->prov = rec->provenance;
    if (rec->attempt > 1) {
        p->attempt = rec->attempt;
        p->from_step = rec->from_step;
        p->attempt_started_at = rec->attempt_started_at;
    }
}

/* Continue the stored run p->found (found by key or reference). */
static void plan_continue(plan *p, int64_t from_step)
{
    tropt__found *f = &p->found;
    p->fresh_name = 0;
    p->run_id = f->run_id;
    p->experiment = f->experiment;
    p->started_at = f->started_at;
    p->name = f->name;
    p->resume_key = f->resume_key;
    p->attempt = f->attempts + 1;
    if (from_step >= 0)
        p->from_step = from_step;
    else if (f->checkpoint_step >= 0)
        p->from_step = f->checkpoint_step + 1;
    else
        p->from_step = f->last_step + 1;
}

/* A run that is still being written is not continued: one run has one
 * writer, and a second would interleave steps. */
static int refuse_running(const tropt__found *f)
{
    if (strcmp(f->status, "running") != 0)
        return TROPT_OK;
    return tropt__error(TROPT_ESTATE,
                        "resume: run %s (%s) is still running (pid %lld on %s): one run has one "
                        "writer; resume it once that process has ended",
                        f->run_id, f->name ? f->name : "", (long long)f->pid,
                        f->host ? f->host : "an unknown host");
}

static const char *const resume_names[] = {"never", "allow", "must"};

/* resume=allow|must at init: the run resume_key names, if the store has it. */
static int plan_resume_option(tropt_tracker *t, plan *p)
{
    const char *key = t->hopts.resume_key;
    if (!key)
        return tropt__error(TROPT_EINVAL,
                            "resume=%s needs resume_key (the spec's resume_key=, "
                            "$TROPT_RESUME_KEY or tropt_tracker_set_option)",
                            resume_names[t->hopts.resume]);
    int rc = tropt__resume_find(t, key, NULL, &p->found);
    if (rc)
        return rc;
    if (!p->found.found) {
        if (t->hopts.resume == TROPT__RESUME_MUST)
            return tropt__error(TROPT_ENOTFOUND,
                                "resume=must: no run with resume_key '%s' in %s (the first "
                                "backend of the spec that can read)",
                                key, t->b[tropt__first_reader(t)].label);
        if (strncmp(key, "run:", 4) == 0)
            return tropt__error(TROPT_ENOTFOUND, "resume_key=%s: no such run in %s", key,
                                t->b[tropt__first_reader(t)].label);
        return TROPT_OK; /* allow: a new run that carries the key */
    }
    if ((rc = refuse_running(&p->found)) != TROPT_OK)
        return rc;
    plan_continue(p, -1);
    return TROPT_OK;
}

static int make_plan(tropt_tracker *t, const tropt__open_req *req, plan *p)
{
    plan_defaults(t, p);
    int rc = TROPT_OK;
    if (req->rec) {
        if ((rc = check_record(req->rec)) != TROPT_OK)
            return rc;
        plan_record(p, req->rec);
    } else if (req->resume_ref) {
        if ((rc = tropt__resume_find(t, NULL, req->resume_ref, &p->found)) != TROPT_OK)
            return rc;
        if (!p->found.found)
            return tropt__error(TROPT_ENOTFOUND, "resume: no run '%s' in %s", req->resume_ref,
                                t->b[tropt__first_reader(t)].label);
        if ((rc = refuse_running(&p->found)) != TROPT_OK)
            return rc;
        plan_continue(p, req->from_step);
    } else if (t->hopts.resume > TROPT__RESUME_NEVER) {
        rc = plan_resume_option(t, p);
    }
    return rc;
}

/* ---- names ------------------------------------------------------------- */

static int remember_name(void *ud, const char *name)
{
    tropt__names *s = ud;
    if (tropt__grow((void **)&s->names, &s->cap, s->n + 1, sizeof *s->names) != TROPT_OK) {
        s->oom = 1;
        return 1;
    }
    char *copy = tropt__strdup(name);
    if (!copy) {
        s->oom = 1;
        return 1;
    }
    s->names[s->n++] = copy;
    return 0;
}

static int name_taken(void *ud, const char *name)
{
    const tropt__names *s = ud;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->names[i], name) == 0)
            return 1;
    return 0;
}

void tropt__names_free(tropt__names *s)
{
    for (size_t i = 0; i < s->n; i++)
        tropt__free(s->names[i]);
    tropt__free(s->names);
    memset(s, 0, sizeof *s);
}

/* The names of the first readable backend's store, read once per tracker
 * (later runs of the tracker add their own). */
static int load_names(tropt_tracker *t)
{
    tropt__names *s = &t->names;
    if (s->loaded)
        return TROPT_OK;
    int64_t n_runs = -1;
    int rc = tropt__store_names(t, remember_name, s, &n_runs);
    (void)n_runs;
    if (rc == TROPT_OK && s->oom)
        rc = tropt__oom();
    if (rc != TROPT_OK) {
        tropt__names_free(s);
        return rc;
    }
    s->loaded = 1;
    return TROPT_OK;
}

/* A default name unique within the first readable backend's store. */
static char *default_name(tropt_tracker *t, const char *run_id, int *rc)
{
    if ((*rc = load_names(t)) != TROPT_OK)
        return NULL;
    tropt__names *s = &t->names;
    char *name = tropt__name_default(run_id, name_taken, s);
    if (!name) {
        *rc = tropt__oom();
        return NULL;
    }
    if (remember_name(s, name) != 0) {
        tropt__free(name);
        *rc = tropt__oom();
        return NULL;
    }
    return name;
}

/* The run's name: from set_run_name or $TROPT_RUN_NAME for a new run of
 * this process, else a default unique in the store; a continued run keeps
 * its stored name; an import without one gets the name derived from its id
 * (the one readers show for runs stored without a name). */
static char *choose_name(tropt_tracker *t, const plan *p, int *rc)
{
    *rc = TROPT_OK;
    if (p->fresh_name && t->next_name) {
        char *name = t->next_name;
        t->next_name = NULL;
        return name;
    }
    if (p->name)
        return tropt__strdup(p->name);
    if (p->fresh_name) {
        char *env = tropt__name_from_env(rc);
        if (env || *rc)
            return env;
        return default_name(t, t->id.run_id, rc);
    }
    char buf[TROPT_MAX_NAME + 1];
    tropt_run_default_name(t->id.run_id, buf, sizeof buf);
    return tropt__strdup(buf);
}

static int pick_name(tropt_tracker *t, const plan *p)
{
    int rc;
    t->id.name = choose_name(t, p, &rc);
    if (rc == TROPT_OK && !t->id.name)
        rc = tropt__oom();
    tropt__free(t->next_name); /* it applies to one run at most */
    t->next_name = NULL;
    return rc;
}

/* ---- the identity ------------------------------------------------------- */

static int dup_opt(char **dst, const char *src)
{
    if (!src)
        return TROPT_OK;
    *dst = tropt__strdup(src);
    return *dst ? TROPT_OK : tropt__oom();
}

/* A new run of this process records where it came from; an import only
 * what it was given (a replay must not stamp the replaying tool on it). */
static int fill_provenance(tropt__run_id *id, const tropt_provenance *given, int fresh)
{
    if (fresh)
        return tropt__provenance_fill(id);
    if (!given)
        return TROPT_OK;
    int rc = dup_opt(&id->command, given->command);
    if (!rc)
        rc = dup_opt(&id->cwd, given->cwd);
    if (!rc)
        rc = dup_opt(&id->git_commit, given->git_commit);
    if (!rc)
        rc = dup_opt(&id->version, given->version);
    return rc;
}

/* t->id from the plan; on failure the caller clears it. */
static int fill_identity(tropt_tracker *t, const plan *p)
{
    tropt__run_id *id = &t->id;
    int rc = TROPT_OK;
    if (p->run_id)
        memcpy(id->run_id, p->run_id, TROPT__UUID_LEN + 1);
    else if ((rc = tropt__uuid7(id->run_id)) != TROPT_OK)
        return rc;
    if ((rc = dup_opt(&id->experiment, p->experiment)) || (rc = dup_opt(&id->host, p->host)) ||
        (rc = dup_opt(&id->resume_key, p->resume_key)) || (rc = dup_opt(&id->pidns, p->pidns)) ||
        (rc = fill_provenance(id, p->prov, !p->imported)) || (rc = pick_name(t, p)))
        return rc;
    double now = tropt__now();
    tropt_run *r = &id->run;
    r->run_id = id->run_id;
    r->experiment = id->experiment;
    r->host = id->host;
    r->pid = p->pid;
    r->started_at = p->started_at > 0 ? p->started_at : now;
    r->name = id->name;
    r->attempt = p->attempt;
    r->from_step = p->attempt > 1 ? p->from_step : 0;
    r->attempt_started_at =
        p->attempt > 1 ? (p->attempt_started_at > 0 ? p->attempt_started_at : now) : r->started_at;
    r->resume_key = id->resume_key;
    r->pidns = id->pidns;
    id->prov.command = id->command;
    id->prov.cwd = id->cwd;
    id->prov.git_commit = id->git_commit;
    id->prov.version = id->version;
    r->provenance = &id->prov;
    r->given_id = p->run_id != NULL;
    return TROPT_OK;
}

/* ---- opening ----------------------------------------------------------- */

static int backends_init(tropt_tracker *t, const json_t *merged)
{
    const tropt_field *params = merged ? t->flat.f : NULL;
    size_t np = merged ? t->flat.n : 0;
    tropt__first_error fe;
    TROPT__FANOUT_INIT(&fe);
    for (size_t i = 0; i < t->nb; i++) {
        tropt__backend *be = &t->b[i];
        tropt__error_clear();
        int brc = be->mod.plugin->init(be->self, &t->id.run, merged, params, np);
        be->run_open = !tropt__note_result(&fe, be, brc, "the run");
    }
    return tropt__fanout_done(&fe);
}

/* Auto-finish the active run (SPEC 3: recorded aborted, its owner never
 * finished it), then flatten the merged config again (the finish may have
 * used t->flat). */
static int close_active(tropt_tracker *t, const json_t *merged)
{
    if (!t->active)
        return TROPT_OK;
    tropt__log(TROPT_LEVEL_WARNING, "%s", MSG_INIT_ACTIVE);
    int rc = tropt__do_finish(t, "aborted", tropt__now(), NULL);
    if (rc == TROPT_OK && merged)
        rc = tropt__flat_object(&t->flat, merged);
    return rc;
}

int tropt__run_open(tropt_tracker *t, const tropt__open_req *req, const json_t *config)
{
    if (config && !json_is_object(config))
        return tropt__error(TROPT_EINVAL, "init: config must be a JSON object or NULL");
    json_t *merged = NULL;
    int rc = merge_config(t, config, &merged);
    if (rc == TROPT_OK)
        rc = close_active(t, merged);
    plan p;
    if (rc == TROPT_OK)
        rc = make_plan(t, req, &p);
    else
        memset(&p, 0, sizeof p);
    if (rc == TROPT_OK && (rc = fill_identity(t, &p)) != TROPT_OK)
        tropt__run_clear(t);
    tropt__found_clear(&p.found);
    if (rc) {
        json_decref(merged);
        return rc;
    }
    t->next_step = t->id.run.from_step;
    t->steps_full = 0;
    t->active = 1; /* as in the reference: active before the backends' init */
    rc = backends_init(t, merged);
    json_decref(merged);
    tropt__sys_start(t);
    return rc;
}

/* ---- names of the next and the active run ------------------------------ */

int tropt_tracker_set_run_name(tropt_tracker *t, const char *name)
{
    if (!t)
        return tropt__error(TROPT_EINVAL, "set_run_name: tracker is NULL");
    char *copy = NULL;
    if (name) {
        int rc = tropt__name_check(name, "run name");
        if (rc)
            return rc;
        if (!(copy = tropt__strdup(name)))
            return tropt__oom();
    }
    pthread_mutex_lock(&t->lock);
    tropt__free(t->next_name);
    t->next_name = copy;
    pthread_mutex_unlock(&t->lock);
    return TROPT_OK;
}

const char *tropt_tracker_run_name(const tropt_tracker *t)
{
    if (!t || tropt__forked(t))
        return NULL;
    tropt_tracker *m = (tropt_tracker *)t;
    pthread_mutex_lock(&m->lock);
    const char *name = m->active ? m->id.name : NULL;
    pthread_mutex_unlock(&m->lock);
    return name;
}
