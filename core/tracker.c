/* core/tracker.c - the tracker: the state machine of tropt's BaseTracker
 * (init / log / finish with their guards) and fan-out of every call to
 * every backend.  Opening a run (its identity, resume) is run.c's; the map
 * of the other files is in tracker_priv.h.
 *
 * Fan-out rule: every backend with an open run receives every call; the
 * first failure of an on_error=fail backend is returned (with its message),
 * the others still receive the call; failures of on_error=warn backends
 * become warnings. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tracker_priv.h"

#define MSG_INIT_ACTIVE                                                                            \
    "init() called on already-active tracker (previous run not finished). "                        \
    "Auto-finishing the previous run."
#define MSG_LOG_INACTIVE "log() called on inactive tracker (missing init()?)"
#define MSG_FINISH_INACTIVE "finish() called on inactive tracker \xE2\x80\x94 ignoring."

/* ---- fan-out ---------------------------------------------------------- */

/* Record the outcome of one hook call on backend `be`.  Returns 1 when the
 * call failed (for the caller's bookkeeping). */
int tropt__note_result(tropt__first_error *fe, tropt__backend *be, int rc, const char *what)
{
    if (rc == TROPT_OK)
        return 0;
    if (rc > 0 || rc < TROPT_ENOMEM)
        rc = TROPT_EBACKEND; /* a plugin returned something that is not a tropt code */
    tropt__error_prefix(be->label);
    if (be->warn_only) {
        tropt__log(TROPT_LEVEL_WARNING, "%s (on_error=warn: %s goes on without it)",
                   tropt_error_message(), what);
        return 1;
    }
    if (fe->rc == TROPT_OK) {
        fe->rc = rc;
        tropt__error_save(fe->msg, sizeof fe->msg);
    }
    return 1;
}

int tropt__fanout_done(const tropt__first_error *fe)
{
    if (fe->rc != TROPT_OK)
        tropt__error_restore(fe->msg);
    return fe->rc;
}

/* ---- open / free ------------------------------------------------------ */

static void backend_release(tropt__backend *be)
{
    if (be->created && be->mod.plugin)
        be->mod.plugin->destroy(be->self);
    be->self = NULL;
    be->created = 0;
    if (be->mod.plugin)
        tropt__optvals_free(be->mod.plugin, be->opts);
    be->opts = NULL;
    tropt__module_close(&be->mod); /* destroy -> drop pointers -> dlclose */
    tropt__free(be->label);
    be->label = NULL;
}

/* Load, validate and create one backend; its tracker-wide host options
 * (resume, resume_key, sys) are folded into *tracker_opts. */
static int backend_create(tropt__backend *be, const tropt__backend_spec *bs,
                          tropt__host_opts *tracker_opts)
{
    be->label = tropt__strdup(bs->name);
    if (!be->label)
        return tropt__oom();
    int rc = tropt__module_load(bs->name, &be->mod);
    if (rc)
        return rc;
    tropt__host_opts ho;
    rc = tropt__options_validate(be->mod.plugin, be->label, bs->opts, bs->n_opts, &be->opts, &ho);
    if (rc)
        return rc;
    be->warn_only = ho.warn_only;
    rc = tropt__host_opts_merge(tracker_opts, &ho, be->label);
    tropt__host_opts_clear(&ho);
    if (rc)
        return rc;
    tropt__error_clear();
    void *self = NULL;
    tropt__host_for(&be->hx, be->label);
    rc = be->mod.plugin->create(&self, be->opts, &be->hx.pub);
    if (rc != TROPT_OK) {
        /* What tropt_tracker_open promises: a plugin's own option check
         * (EINVAL) and ENOMEM keep their code; any other code, in range or
         * not, is the backend's failure.  A plugin that gave no message
         * still gets one naming the code it returned. */
        int given = rc;
        if (rc != TROPT_EINVAL && rc != TROPT_ENOMEM)
            rc = TROPT_EBACKEND;
        if (tropt_error_message()[0] == '\0') {
            if (given > 0 || given < TROPT_ENOMEM)
                tropt__error(rc, "create failed with code %d and no message", given);
            else
                tropt__error(rc, "create failed with %s and no message", tropt_error_name(given));
        }
        tropt__error_prefix(be->label);
        return rc;
    }
    be->self = self;
    be->created = 1;
    return TROPT_OK;
}

/* ---- fork ------------------------------------------------------------- */

/* Incremented in every child a fork makes: a tracker opened before it sees
 * another value there.  (getpid() per call would cost a system call on
 * the log path.) */
static atomic_uint fork_gen;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void)
{
    atomic_fetch_add_explicit(&fork_gen, 1, memory_order_relaxed);
}

static void watch_forks(void)
{
    pthread_atfork(NULL, NULL, on_fork_child);
}

/* A tracker used in a child of the process that opened it: its backends'
 * connections, files and threads belong to the parent (issue 18 #10). */
static int forked(const tropt_tracker *t)
{
    return atomic_load_explicit(&fork_gen, memory_order_relaxed) != t->fork_gen;
}

static int forked_error(const tropt_tracker *t, const char *what)
{
    return tropt__error(TROPT_ESTATE,
                        "%s: this tracker was opened by process %ld and this is its forked child "
                        "%ld; its backends belong to the parent: open a new tracker in the child",
                        what, (long)t->opener, (long)getpid());
}

/* This process's pid namespace ("pid:[4026531836]"), "" when unknown. */
static void read_pidns(char *buf, size_t size)
{
    ssize_t n = readlink("/proc/self/ns/pid", buf, size - 1);
    buf[n > 0 ? n : 0] = '\0';
}

/* A tracker with no backends yet. */
static int tracker_new(tropt_tracker **out, const char *experiment_name,
                       const json_t *experiment_config)
{
    tropt_tracker *t = tropt__calloc(1, sizeof *t);
    if (!t)
        return tropt__oom();
    pthread_mutex_init(&t->lock, NULL);
    pthread_once(&fork_once, watch_forks);
    t->fork_gen = atomic_load(&fork_gen);
    t->opener = getpid();
    tropt__host_opts_init(&t->hopts);
    *out = t; /* tropt_tracker_free tolerates it half-built from here */
    t->experiment = tropt__strdup(experiment_name ? experiment_name : TROPT_DEFAULT_EXPERIMENT);
    if (!t->experiment)
        return tropt__oom();
    if (experiment_config && json_object_size(experiment_config) > 0) {
        t->experiment_config = json_deep_copy(experiment_config);
        if (!t->experiment_config)
            return tropt__oom();
    }
    if (gethostname(t->hostname, sizeof t->hostname - 1) != 0)
        strcpy(t->hostname, "unknown");
    t->hostname[sizeof t->hostname - 1] = '\0';
    read_pidns(t->pidns, sizeof t->pidns);
    return TROPT_OK;
}

int tropt__forked(const tropt_tracker *t)
{
    return forked(t);
}

int tropt__fork_check(const tropt_tracker *t, const char *what)
{
    return forked(t) ? forked_error(t, what) : TROPT_OK;
}

int tropt_tracker_open(tropt_tracker **out, const char *spec, const char *experiment_name,
                       const json_t *experiment_config)
{
    if (!out)
        return tropt__error(TROPT_EINVAL, "tropt_tracker_open: out is NULL");
    *out = NULL;
    if (experiment_config && !json_is_object(experiment_config))
        return tropt__error(TROPT_EINVAL,
                            "tropt_tracker_open: experiment_config must be a JSON object");
    if (experiment_config) {
        int rc = tropt__json_check_depth(experiment_config, "experiment_config");
        if (rc)
            return rc;
    }
    if (!spec) {
        const char *env = getenv("TROPT_TRACKER");
        spec = env && *env ? env : TROPT_DEFAULT_SPEC;
    }

    tropt__spec parsed;
    int rc = tropt__spec_parse(spec, &parsed);
    if (rc)
        return rc;

    tropt_tracker *t = NULL;
    if ((rc = tracker_new(&t, experiment_name, experiment_config)) != TROPT_OK)
        goto fail;
    t->b = tropt__calloc(parsed.n, sizeof *t->b);
    if (!t->b) {
        rc = tropt__oom();
        goto fail;
    }
    for (size_t i = 0; i < parsed.n; i++) {
        t->nb = i + 1;
        rc = backend_create(&t->b[i], &parsed.backends[i], &t->hopts);
        if (rc)
            goto fail;
    }
    if ((rc = tropt__host_opts_from_env(&t->hopts)) != TROPT_OK)
        goto fail;
    tropt__spec_clear(&parsed);
    *out = t;
    return TROPT_OK;

fail:
    tropt__spec_clear(&parsed);
    {
        char msg[1024];
        tropt__error_save(msg, sizeof msg);
        tropt_tracker_free(t); /* tolerates the half-built tracker */
        tropt__error_restore(msg);
    }
    return rc;
}

/* ---- the run ---------------------------------------------------------- */

/* Finish the active run on every backend that has it open.  On success the
 * tracker becomes inactive; on failure it stays active.  Pending checkpoint
 * hashes are waited for first, and the sampler stopped (SPEC 15, 16). */
int tropt__do_finish(tropt_tracker *t, const char *status, double ended_at, const json_t *summary)
{
    const tropt_field *flat = NULL;
    size_t n = 0;
    if (summary && json_object_size(summary) > 0) {
        int rc = tropt__flat_object(&t->flat, summary);
        if (rc)
            return rc;
        flat = t->flat.f;
        n = t->flat.n;
    }
    tropt__sys_stop(t);
    tropt__marks_drain(t);
    tropt__first_error fe;
    TROPT__FANOUT_INIT(&fe);
    for (size_t i = 0; i < t->nb; i++) {
        tropt__backend *be = &t->b[i];
        if (!be->run_open)
            continue;
        tropt__error_clear();
        int rc = be->mod.plugin->finish(be->self, &t->id.run, status, ended_at, summary, flat, n);
        if (!tropt__note_result(&fe, be, rc, "the run") || be->warn_only)
            be->run_open = 0;
    }
    if (fe.rc != TROPT_OK)
        return tropt__fanout_done(&fe);
    tropt__marks_free(t);
    tropt__run_clear(t);
    return TROPT_OK;
}

static int do_log(tropt_tracker *t, int64_t step, double time, const tropt_field *f, size_t n)
{
    if (step < 0) {
        if (t->steps_full) /* INT64_MAX + 1 would overflow into negative steps */
            return tropt__error(TROPT_EINVAL,
                                "log: no step number is left after step %lld; give this step an "
                                "explicit number (tropt_tracker_log_fields_at)",
                                (long long)INT64_MAX);
        step = t->next_step;
    }
    if (step >= t->next_step) {
        if (step == INT64_MAX)
            t->steps_full = 1;
        else
            t->next_step = step + 1;
    }
    if (!(time >= 0)) /* also NaN */
        time = tropt__now();
    if (tropt__marks_ready(t))
        tropt__marks_deliver(t);
    tropt__first_error fe;
    TROPT__FANOUT_INIT(&fe);
    for (size_t i = 0; i < t->nb; i++) {
        tropt__backend *be = &t->b[i];
        if (!be->run_open) {
            if (!be->warn_only && fe.rc == TROPT_OK) {
                fe.rc = tropt__error(TROPT_EBACKEND,
                                     "%s: no open run (its init failed); step %lld not written",
                                     be->label, (long long)step);
                tropt__error_save(fe.msg, sizeof fe.msg);
            }
            continue;
        }
        int rc = be->mod.plugin->log(be->self, &t->id.run, step, time, f, n);
        if (rc != TROPT_OK)
            tropt__note_result(&fe, be, rc, "the run");
    }
    return tropt__fanout_done(&fe);
}

/* ---- public entry points ---------------------------------------------- */

#define LOCK(t) pthread_mutex_lock(&(t)->lock)
#define UNLOCK(t) pthread_mutex_unlock(&(t)->lock)

int tropt_tracker_init(tropt_tracker *t, const json_t *config)
{
    return tropt_tracker_init_run(t, NULL, config);
}

/* Open a run as req says, under the lock (init, init_run, import, resume). */
static int open_locked(tropt_tracker *t, const tropt__open_req *req, const json_t *config)
{
    if (!t)
        return tropt__error(TROPT_EINVAL, "init: tracker is NULL");
    if (forked(t))
        return forked_error(t, "init");
    LOCK(t);
    int rc = tropt__run_open(t, req, config);
    UNLOCK(t);
    return rc;
}

int tropt_tracker_init_run(tropt_tracker *t, const tropt_run_info *info, const json_t *config)
{
    tropt_run_record rec = {sizeof rec, NULL, NULL, NULL, 0, NULL, 0, 1, 0, 0, NULL, NULL, NULL};
    tropt__open_req req = {NULL, NULL, -1};
    if (info) {
        rec.run_id = info->run_id;
        rec.experiment = info->experiment;
        rec.started_at = info->started_at;
        rec.host = info->host;
        rec.pid = info->pid;
        req.rec = &rec;
    }
    return open_locked(t, &req, config);
}

int tropt_tracker_import_run(tropt_tracker *t, const tropt_run_record *rec, const json_t *config)
{
    if (!rec)
        return tropt__error(TROPT_EINVAL, "import_run: record is NULL");
    tropt__open_req req = {rec, NULL, -1};
    return open_locked(t, &req, config);
}

int tropt_tracker_resume(tropt_tracker *t, const char *run, int64_t from_step, const json_t *config)
{
    if (!run || !*run)
        return tropt__error(TROPT_EINVAL, "resume: no run given (an id, a prefix or a name)");
    tropt__open_req req = {NULL, run, from_step};
    return open_locked(t, &req, config);
}

static int log_json(tropt_tracker *t, const json_t *data)
{
    if (!t->active)
        return tropt__error(TROPT_ESTATE, MSG_LOG_INACTIVE);
    if (!data || !json_is_object(data))
        return tropt__error(TROPT_EINVAL, "log: data must be a JSON object");
    int rc = tropt__flat_object(&t->flat, data);
    if (rc)
        return rc;
    return do_log(t, -1, -1.0, t->flat.f, t->flat.n);
}

int tropt_tracker_log(tropt_tracker *t, const json_t *data)
{
    if (!t)
        return tropt__error(TROPT_EINVAL, "log: tracker is NULL");
    if (forked(t))
        return forked_error(t, "log");
    LOCK(t);
    int rc = log_json(t, data);
    UNLOCK(t);
    return rc;
}

static int log_fields(tropt_tracker *t, int64_t step, double time, const tropt_field *fields,
                      size_t n)
{
    if (!t->active)
        return tropt__error(TROPT_ESTATE, MSG_LOG_INACTIVE);
    if (n > 0 && !fields)
        return tropt__error(TROPT_EINVAL, "log_fields: fields is NULL but n is %zu", n);
    int pass = tropt__fields_passthrough(&t->flat, fields, n);
    if (pass < 0)
        return pass;
    if (pass == 1)
        return do_log(t, step, time, fields, n);
    int rc = tropt__flat_fields(&t->flat, fields, n);
    if (rc)
        return rc;
    return do_log(t, step, time, t->flat.f, t->flat.n);
}

int tropt_tracker_log_fields(tropt_tracker *t, const tropt_field *fields, size_t n)
{
    return tropt_tracker_log_fields_at(t, -1, -1.0, fields, n);
}

int tropt_tracker_log_fields_at(tropt_tracker *t, int64_t step, double time,
                                const tropt_field *fields, size_t n)
{
    if (!t)
        return tropt__error(TROPT_EINVAL, "log: tracker is NULL");
    if (forked(t))
        return forked_error(t, "log");
    LOCK(t);
    int rc = log_fields(t, step, time, fields, n);
    UNLOCK(t);
    return rc;
}

static int finish_checked(tropt_tracker *t, const char *status, double ended_at,
                          const json_t *summary)
{
    if (!t->active) {
        tropt__log(TROPT_LEVEL_WARNING, "%s", MSG_FINISH_INACTIVE);
        return TROPT_OK;
    }
    if (summary && !json_is_object(summary))
        return tropt__error(TROPT_EINVAL, "finish: summary must be a JSON object or NULL");
    return tropt__do_finish(t, status, ended_at > 0 ? ended_at : tropt__now(), summary);
}

int tropt_tracker_finish(tropt_tracker *t, const json_t *summary)
{
    return tropt_tracker_finish_run(t, NULL, 0, summary);
}

int tropt_tracker_finish_run(tropt_tracker *t, const char *status, double ended_at,
                             const json_t *summary)
{
    if (!t)
        return tropt__error(TROPT_EINVAL, "finish: tracker is NULL");
    if (!status)
        status = "finished";
    if (strcmp(status, "finished") && strcmp(status, "aborted") && strcmp(status, "crashed"))
        return tropt__error(TROPT_EINVAL, "finish: status '%s' is not finished|aborted|crashed",
                            status);
    if (forked(t))
        return forked_error(t, "finish");
    LOCK(t);
    int rc = finish_checked(t, status, ended_at, summary);
    UNLOCK(t);
    return rc;
}

int tropt_tracker_flush(tropt_tracker *t)
{
    if (!t)
        return tropt__error(TROPT_EINVAL, "flush: tracker is NULL");
    if (forked(t))
        return forked_error(t, "flush");
    LOCK(t);
    tropt__marks_drain(t); /* a barrier for checkpoint hashes too */
    tropt__first_error fe;
    TROPT__FANOUT_INIT(&fe);
    for (size_t i = 0; i < t->nb; i++) {
        tropt__backend *be = &t->b[i];
        if (!be->mod.plugin->flush)
            continue;
        tropt__error_clear();
        tropt__note_result(&fe, be, be->mod.plugin->flush(be->self), "flushing");
    }
    int rc = tropt__fanout_done(&fe);
    UNLOCK(t);
    return rc;
}

int tropt_tracker_set_option(tropt_tracker *t, const char *key, const char *value)
{
    if (!t || !key || !value)
        return tropt__error(TROPT_EINVAL, "set_option: tracker, key or value is NULL");
    if (strcmp(key, "on_error") == 0)
        return tropt__error(TROPT_EINVAL,
                            "set_option: on_error belongs to one backend: give it in the spec");
    LOCK(t);
    int rc;
    if (strcmp(key, "resume_key") == 0 && !*value) {
        tropt__free(t->hopts.resume_key);
        t->hopts.resume_key = NULL;
        rc = TROPT_OK;
    } else {
        rc = tropt__host_opt_set("set_option", key, value, &t->hopts);
    }
    UNLOCK(t);
    return rc;
}

int tropt_tracker_is_active(const tropt_tracker *t)
{
    if (!t || forked(t)) /* the lock may be held by a thread the child lacks */
        return 0;
    tropt_tracker *m = (tropt_tracker *)t;
    LOCK(m);
    int a = m->active;
    UNLOCK(m);
    return a;
}

int64_t tropt_tracker_next_step(const tropt_tracker *t)
{
    if (!t || forked(t))
        return -1;
    tropt_tracker *m = (tropt_tracker *)t;
    LOCK(m);
    int64_t next = !m->active ? -1 : m->steps_full ? INT64_MAX : m->next_step;
    UNLOCK(m);
    return next;
}

const char *tropt_tracker_run_id(const tropt_tracker *t)
{
    if (!t || forked(t))
        return NULL;
    tropt_tracker *m = (tropt_tracker *)t;
    LOCK(m);
    const char *id = m->active ? m->id.run_id : NULL;
    UNLOCK(m);
    return id;
}

void tropt_tracker_free(tropt_tracker *t)
{
    if (!t)
        return;
    /* In a forked child, touching the backends could write the parent's
     * rows twice or wait for its threads: the child's copy of the tracker
     * is left as it is (the memory goes with the child). */
    if (forked(t))
        return;
    LOCK(t);
    if (t->active) {
        char saved[1024];
        tropt__error_save(saved, sizeof saved);
        if (tropt__do_finish(t, "aborted", tropt__now(), NULL) != TROPT_OK)
            tropt__log(TROPT_LEVEL_ERROR, "while freeing the tracker, closing run %s failed: %s",
                       t->id.run_id, tropt_error_message());
        tropt__error_restore(saved);
    }
    tropt__sys_stop(t);
    tropt__marks_drain(t);
    tropt__marks_free(t);
    for (size_t i = 0; i < t->nb && t->b; i++)
        backend_release(&t->b[i]);
    tropt__free(t->b);
    tropt__run_clear(t);
    tropt__host_opts_clear(&t->hopts);
    tropt__free(t->next_name);
    tropt__names_free(&t->names);
    tropt__flat_free(&t->flat);
    json_decref(t->experiment_config);
    tropt__free(t->experiment);
    UNLOCK(t);
    pthread_mutex_destroy(&t->lock);
    tropt__free(t);
}

/* ---- introspection (host.h) ------------------------------------------- */

size_t tropt_tracker_backend_count(const tropt_tracker *t)
{
    return t ? t->nb : 0;
}

int tropt_tracker_backend(const tropt_tracker *t, size_t i, const tropt_plugin **plugin,
                          const char **path, const tropt_optval **values, int *warn_only)
{
    if (!t || i >= t->nb)
        return tropt__error(TROPT_EINVAL, "tropt_tracker_backend: no backend %zu", i);
    if (plugin)
        *plugin = t->b[i].mod.plugin;
    if (path)
        *path = t->b[i].mod.path;
    if (values)
        *values = t->b[i].opts;
    if (warn_only)
        *warn_only = t->b[i].warn_only;
    return TROPT_OK;
}
