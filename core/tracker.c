/* core/tracker.c - the tracker: the state machine of tropt's BaseTracker
 * (init / log / finish with their guards), run identity, and fan-out of
 * every call to every backend.
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

#include "internal.h"

#define MSG_INIT_ACTIVE                                                                            \
    "init() called on already-active tracker (previous run not finished). "                        \
    "Auto-finishing the previous run."
#define MSG_LOG_INACTIVE "log() called on inactive tracker (missing init()?)"
#define MSG_FINISH_INACTIVE "finish() called on inactive tracker \xE2\x80\x94 ignoring."

typedef struct backend {
    tropt__module mod;
    void *self;  /* the plugin's instance (a plugin may use NULL) */
    int created; /* create succeeded: destroy is owed */
    tropt_optval *opts;
    char *label;       /* the spec's name or path, prefixes messages */
    tropt__host_ex hx; /* the instance's services table (log_from prefixes label) */
    int warn_only;
    int run_open; /* init of the current run succeeded, finish not yet */
} backend;

struct tropt_tracker {
    pthread_mutex_t lock;
    backend *b;
    size_t nb;
    char *experiment;
    json_t *experiment_config; /* deep copy, or NULL */
    char hostname[256];

    unsigned fork_gen; /* fork_gen when opened: another value means a child */
    pid_t opener;      /* the process that opened it */
    int active;
    int64_t next_step;
    int steps_full; /* step INT64_MAX was logged: no next step number */
    char run_id[TROPT__UUID_LEN + 1];
    char *run_experiment; /* owned, for init_run identities */
    char *run_host;       /* owned, for init_run identities */
    tropt_run run;

    tropt__flat flat; /* reused for every step, config and summary */
};

/* ---- fan-out ---------------------------------------------------------- */

typedef struct {
    int rc;
    char msg[1024];
} first_error;

/* Record the outcome of one hook call on backend `be`.  Returns 1 when the
 * call failed (for the caller's bookkeeping). */
static int note_result(first_error *fe, backend *be, int rc, const char *what)
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

static int fanout_done(const first_error *fe)
{
    if (fe->rc != TROPT_OK)
        tropt__error_restore(fe->msg);
    return fe->rc;
}

/* ---- open / free ------------------------------------------------------ */

static void backend_release(backend *be)
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

static int backend_create(backend *be, const tropt__backend_spec *bs)
{
    be->label = tropt__strdup(bs->name);
    if (!be->label)
        return tropt__oom();
    int rc = tropt__module_load(bs->name, &be->mod);
    if (rc)
        return rc;
    rc = tropt__options_validate(be->mod.plugin, be->label, bs->opts, bs->n_opts, &be->opts,
                                 &be->warn_only);
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

    tropt_tracker *t = tropt__calloc(1, sizeof *t);
    if (!t) {
        tropt__spec_clear(&parsed);
        return tropt__oom();
    }
    pthread_mutex_init(&t->lock, NULL);
    pthread_once(&fork_once, watch_forks);
    t->fork_gen = atomic_load(&fork_gen);
    t->opener = getpid();
    t->experiment = tropt__strdup(experiment_name ? experiment_name : TROPT_DEFAULT_EXPERIMENT);
    if (!t->experiment) {
        rc = tropt__oom();
        goto fail;
    }
    if (experiment_config && json_object_size(experiment_config) > 0) {
        t->experiment_config = json_deep_copy(experiment_config);
        if (!t->experiment_config) {
            rc = tropt__oom();
            goto fail;
        }
    }
    if (gethostname(t->hostname, sizeof t->hostname - 1) != 0)
        strcpy(t->hostname, "unknown");
    t->hostname[sizeof t->hostname - 1] = '\0';

    t->b = tropt__calloc(parsed.n, sizeof *t->b);
    if (!t->b) {
        rc = tropt__oom();
        goto fail;
    }
    for (size_t i = 0; i < parsed.n; i++) {
        t->nb = i + 1;
        rc = backend_create(&t->b[i], &parsed.backends[i]);
        if (rc)
            goto fail;
    }
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

static void clear_run(tropt_tracker *t)
{
    t->active = 0;
    t->run_id[0] = '\0';
    tropt__free(t->run_experiment);
    tropt__free(t->run_host);
    t->run_experiment = NULL;
    t->run_host = NULL;
    memset(&t->run, 0, sizeof t->run);
}

/* Finish the active run on every backend that has it open.  On success the
 * tracker becomes inactive; on failure it stays active. */
static int do_finish(tropt_tracker *t, const char *status, double ended_at, const json_t *summary)
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
    first_error fe;
    fe.rc = TROPT_OK; /* msg is written only with rc: no 1 KiB memset per call */
    for (size_t i = 0; i < t->nb; i++) {
        backend *be = &t->b[i];
        if (!be->run_open)
            continue;
        tropt__error_clear();
        int rc = be->mod.plugin->finish(be->self, &t->run, status, ended_at, summary, flat, n);
        if (!note_result(&fe, be, rc, "the run") || be->warn_only)
            be->run_open = 0;
    }
    if (fe.rc != TROPT_OK)
        return fanout_done(&fe);
    clear_run(t);
    return TROPT_OK;
}

static int open_run(tropt_tracker *t, const tropt_run_info *info, const json_t *config)
{
    if (config && !json_is_object(config))
        return tropt__error(TROPT_EINVAL, "init: config must be a JSON object or NULL");
    if (info && info->run_id && !tropt__uuid_valid(info->run_id))
        return tropt__error(TROPT_EINVAL, "init: run id '%s' is not a UUID", info->run_id);

    /* merged = {**experiment_config, **config} or None */
    json_t *merged = NULL;
    if (t->experiment_config || (config && json_object_size(config) > 0)) {
        merged = json_object();
        if (!merged || (t->experiment_config && json_object_update(merged, t->experiment_config)) ||
            (config && json_object_update(merged, (json_t *)config))) {
            json_decref(merged);
            return tropt__oom();
        }
        if (json_object_size(merged) == 0) {
            json_decref(merged);
            merged = NULL;
        }
    }
    if (merged) {
        int rc = tropt__flat_object(&t->flat, merged);
        if (rc) {
            json_decref(merged);
            return rc;
        }
    }

    if (t->active) {
        /* SPEC 3 (part three): its owner never finished it, so it is
         * recorded "aborted", not "finished" */
        tropt__log(TROPT_LEVEL_WARNING, "%s", MSG_INIT_ACTIVE);
        int rc = do_finish(t, "aborted", tropt__now(), NULL);
        if (rc) {
            json_decref(merged);
            return rc;
        }
        if (merged) { /* do_finish did not touch t->flat (no summary), but be safe */
            rc = tropt__flat_object(&t->flat, merged);
            if (rc) {
                json_decref(merged);
                return rc;
            }
        }
    }

    int rc = TROPT_OK;
    if (info && info->run_id) {
        memcpy(t->run_id, info->run_id, TROPT__UUID_LEN + 1);
    } else if ((rc = tropt__uuid7(t->run_id)) != TROPT_OK) {
        json_decref(merged);
        return rc;
    }
    if (info && info->experiment && !(t->run_experiment = tropt__strdup(info->experiment))) {
        json_decref(merged);
        clear_run(t);
        return tropt__oom();
    }
    if (info && info->host && !(t->run_host = tropt__strdup(info->host))) {
        json_decref(merged);
        clear_run(t);
        return tropt__oom();
    }
    t->run.run_id = t->run_id;
    t->run.experiment = t->run_experiment ? t->run_experiment : t->experiment;
    t->run.host = t->run_host ? t->run_host : t->hostname;
    t->run.pid = info && info->pid > 0 ? info->pid : (int64_t)getpid();
    t->run.started_at = info && info->started_at > 0 ? info->started_at : tropt__now();
    t->next_step = 0;
    t->steps_full = 0;
    t->active = 1; /* as in the reference: active before the backends' init */

    const tropt_field *params = merged ? t->flat.f : NULL;
    size_t np = merged ? t->flat.n : 0;
    first_error fe;
    fe.rc = TROPT_OK; /* msg is written only with rc: no 1 KiB memset per call */
    for (size_t i = 0; i < t->nb; i++) {
        backend *be = &t->b[i];
        tropt__error_clear();
        int brc = be->mod.plugin->init(be->self, &t->run, merged, params, np);
        be->run_open = !note_result(&fe, be, brc, "the run");
    }
    json_decref(merged);
    return fanout_done(&fe);
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
    first_error fe;
    fe.rc = TROPT_OK; /* msg is written only with rc: no 1 KiB memset per call */
    for (size_t i = 0; i < t->nb; i++) {
        backend *be = &t->b[i];
        if (!be->run_open) {
            if (!be->warn_only && fe.rc == TROPT_OK) {
                fe.rc = tropt__error(TROPT_EBACKEND,
                                     "%s: no open run (its init failed); step %lld not written",
                                     be->label, (long long)step);
                tropt__error_save(fe.msg, sizeof fe.msg);
            }
            continue;
        }
        int rc = be->mod.plugin->log(be->self, &t->run, step, time, f, n);
        if (rc != TROPT_OK)
            note_result(&fe, be, rc, "the run");
    }
    return fanout_done(&fe);
}

/* ---- public entry points ---------------------------------------------- */

#define LOCK(t) pthread_mutex_lock(&(t)->lock)
#define UNLOCK(t) pthread_mutex_unlock(&(t)->lock)

int tropt_tracker_init(tropt_tracker *t, const json_t *config)
{
    return tropt_tracker_init_run(t, NULL, config);
}

int tropt_tracker_init_run(tropt_tracker *t, const tropt_run_info *info, const json_t *config)
{
    if (!t)
        return tropt__error(TROPT_EINVAL, "init: tracker is NULL");
    if (forked(t))
        return forked_error(t, "init");
    LOCK(t);
    int rc = open_run(t, info, config);
    UNLOCK(t);
    return rc;
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
    return do_finish(t, status, ended_at > 0 ? ended_at : tropt__now(), summary);
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
    first_error fe;
    fe.rc = TROPT_OK; /* msg is written only with rc: no 1 KiB memset per call */
    for (size_t i = 0; i < t->nb; i++) {
        backend *be = &t->b[i];
        if (!be->mod.plugin->flush)
            continue;
        tropt__error_clear();
        note_result(&fe, be, be->mod.plugin->flush(be->self), "flushing");
    }
    int rc = fanout_done(&fe);
    UNLOCK(t);
    return rc;
}

int tropt_tracker_is_active(const tropt_tracker *t)
{
    if (!t)
        return 0;
    tropt_tracker *m = (tropt_tracker *)t;
    LOCK(m);
    int a = m->active;
    UNLOCK(m);
    return a;
}

const char *tropt_tracker_run_id(const tropt_tracker *t)
{
    if (!t)
        return NULL;
    tropt_tracker *m = (tropt_tracker *)t;
    LOCK(m);
    const char *id = m->active ? m->run_id : NULL;
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
        if (do_finish(t, "aborted", tropt__now(), NULL) != TROPT_OK)
            tropt__log(TROPT_LEVEL_ERROR, "while freeing the tracker, closing run %s failed: %s",
                       t->run_id, tropt_error_message());
        tropt__error_restore(saved);
    }
    for (size_t i = 0; i < t->nb; i++)
        backend_release(&t->b[i]);
    tropt__free(t->b);
    clear_run(t);
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
