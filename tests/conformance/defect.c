/*
 * tests/conformance/defect.c - a small storing plugin with reader hooks
 * (runs kept in process memory, which the reader of the same process
 * reads), built once correct (tropt-memgood.so) and once per defect, each
 * of which `tropt conformance` must catch as exactly one broken promise:
 *
 *   DEFECT_NAN_CRASH    says so on stderr and crashes when a real is NaN
 *                                                      -> edge values
 *   DEFECT_LOSE_VALUE   drops the third field of a step    -> read back
 *   DEFECT_ROUND_REALS  stores reals as float              -> read back
 *   DEFECT_LEAK_INIT    leaks when init fails half-way     -> allocation failure
 *   DEFECT_PRINT_SECRET logs its secret `token` (a warning) -> secrets
 *   DEFECT_NO_MESSAGE   flush fails without a message      -> failures have messages
 *   DEFECT_SLOW_LOG     every 20th log blocks 10 ms         -> latency
 *   DEFECT_SHARED_BUF   one scratch buffer for all instances -> two threads
 *   DEFECT_BAD_OPTIONS  a range on a string option          -> table
 *                       (min > max, a required option with a default and
 *                       duplicate names are refused by the host's loader,
 *                       so such a plugin never loads at all)
 *   DEFECT_STEP_ORDER   reads steps back as 0,2,1,3,...      -> order
 *   DEFECT_STEP_TWICE   reads step 1 twice and skips step 2  -> order
 *   DEFECT_NAN_NULL     stores a NaN as null                 -> read back
 *   DEFECT_ALL_FINISHED stores "finished" whatever the status -> status
 *   DEFECT_WHOLE_SECONDS stores step times as whole seconds  -> times
 *   DEFECT_SECRET_STDERR prints its token to stderr at every log -> secrets
 *   DEFECT_SECRET_FILE  writes its token into a file in the working folder
 *                                                           -> secrets
 *   DEFECT_SECRET_MESSAGE an aborted run's finish fails, its message holding
 *                       the token                   -> secrets and status
 *                       (whose report must show the message, token masked)
 *
 * (DEFECT_NAN_CRASH also breaks "read back", which logs a NaN: a plugin
 * that cannot take a NaN cannot give one back.)
 *
 * Built like a third-party plugin: plugin.h only.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tropt/plugin.h>

/* ---- the store: process memory, guarded by one lock ------------------- */

typedef struct mfield {
    char *key;
    tropt_type type;
    int64_t i;
    double r;
    char *s;
    json_t *json;
} mfield;

typedef struct mstep {
    int64_t step;
    double time;
    mfield *f;
    size_t n;
} mstep;

typedef struct mrun {
    char run_id[40];
    char experiment[64];
    double started_at, ended_at;
    char status[16];
    mstep *steps;
    size_t n, cap;
} mrun;

static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
static mrun runs[64];
static size_t n_runs;

static mrun *find_run(const char *id)
{
    for (size_t i = 0; i < n_runs; i++)
        if (strncmp(runs[i].run_id, id, strlen(id)) == 0)
            return &runs[i];
    return NULL;
}

typedef struct inst {
    const tropt_host *host;
    char *name; /* allocated at init (the leak defect) */
#if defined(DEFECT_SECRET_STDERR) || defined(DEFECT_SECRET_MESSAGE)
    char token[128];
#endif
} inst;

static int m_create(void **self, const tropt_optval *opts, const tropt_host *host)
{
    (void)opts;
    inst *m = host->malloc(sizeof *m);
    if (!m)
        return host->error(TROPT_ENOMEM, "out of memory");
    memset(m, 0, sizeof *m);
    m->host = host;
#ifdef DEFECT_PRINT_SECRET
    host->log(TROPT_LEVEL_WARNING, "connecting with token %s", opts[0].text ? opts[0].text : "");
#endif
#if defined(DEFECT_SECRET_STDERR) || defined(DEFECT_SECRET_MESSAGE)
    snprintf(m->token, sizeof m->token, "%s", opts[0].text ? opts[0].text : "");
#endif
#ifdef DEFECT_SECRET_FILE
    FILE *cfg = fopen("tropt-memory.cfg", "w");
    if (cfg) {
        fprintf(cfg, "token = %s\n", opts[0].text ? opts[0].text : "");
        fclose(cfg);
    }
#endif
    *self = m;
    return TROPT_OK;
}

static int m_init(void *self, const tropt_run *run, const json_t *config, const tropt_field *params,
                  size_t n_params)
{
    (void)config;
    (void)params;
    (void)n_params;
    inst *m = self;
    char *name = m->host->malloc(64);
    if (!name)
        return m->host->error(TROPT_ENOMEM, "out of memory");
    char *scratch = m->host->malloc(16);
    if (!scratch) {
#ifndef DEFECT_LEAK_INIT
        m->host->free(name);
#endif
        return m->host->error(TROPT_ENOMEM, "out of memory");
    }
    m->host->free(scratch);
    snprintf(name, 64, "%s", run->run_id);
    m->host->free(m->name);
    m->name = name;
    pthread_mutex_lock(&store_lock);
    mrun *r = find_run(run->run_id);
    if (!r && n_runs < 64) {
        r = &runs[n_runs++];
        memset(r, 0, sizeof *r);
        snprintf(r->run_id, sizeof r->run_id, "%s", run->run_id);
    }
    if (r) {
        snprintf(r->experiment, sizeof r->experiment, "%s", run->experiment);
        r->started_at = run->started_at;
        r->ended_at = NAN;
        strcpy(r->status, "running");
    }
    pthread_mutex_unlock(&store_lock);
    return r ? TROPT_OK : m->host->error(TROPT_EBACKEND, "store full (64 runs)");
}

#ifdef DEFECT_SHARED_BUF
static char shared_scratch[256]; /* one buffer for every instance: a race */
static atomic_int shared_writes;
#endif

static char *copy_str(const char *s)
{
#ifdef DEFECT_SHARED_BUF
    snprintf(shared_scratch, sizeof shared_scratch, "%s", s);
    /* Give another instance logging at the same time the chance to write
     * the buffer before it is copied (up to 20 ms): two instances logging
     * at once then collide however the threads are scheduled. */
    int mine = atomic_fetch_add(&shared_writes, 1) + 1;
    for (int i = 0; i < 20 && atomic_load(&shared_writes) == mine; i++)
        usleep(1000);
    return strdup(shared_scratch);
#else
    return strdup(s);
#endif
}

static int m_log(void *self, const tropt_run *run, int64_t step, double time,
                 const tropt_field *fields, size_t n)
{
    inst *m = self;
#ifdef DEFECT_SLOW_LOG
    if (step % 20 == 19)
        usleep(10000);
#endif
#ifdef DEFECT_SECRET_STDERR
    fprintf(stderr, "memory: logging step %lld (token %s)\n", (long long)step, m->token);
#endif
#ifdef DEFECT_WHOLE_SECONDS
    time = floor(time);
#endif
    mstep st = {.step = step, .time = time, .f = calloc(n ? n : 1, sizeof(mfield))};
    if (!st.f)
        return m->host->error(TROPT_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
#ifdef DEFECT_LOSE_VALUE
        if (i == 2)
            continue;
#endif
        const tropt_field *f = &fields[i];
        mfield *o = &st.f[st.n++];
        o->key = strdup(f->key);
        o->type = f->type;
        switch (f->type) {
        case TROPT_BOOL:
            o->i = f->v.b;
            break;
        case TROPT_INT:
            o->i = f->v.i;
            break;
        case TROPT_REAL:
#ifdef DEFECT_NAN_CRASH
            if (isnan(f->v.r)) {
                fprintf(stderr, "memory: cannot store a NaN\n");
                abort();
            }
#endif
#ifdef DEFECT_ROUND_REALS
            o->r = (float)f->v.r;
#else
            o->r = f->v.r;
#endif
#ifdef DEFECT_NAN_NULL
            if (isnan(f->v.r))
                o->type = TROPT_NULL;
#endif
            break;
        case TROPT_STRING:
            o->s = copy_str(f->v.s);
            break;
        case TROPT_JSON:
            o->json = json_deep_copy(f->v.json);
            break;
        case TROPT_NULL:
            break;
        }
    }
    pthread_mutex_lock(&store_lock);
    mrun *r = find_run(run->run_id);
    if (r && r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 64;
        mstep *v = realloc(r->steps, nc * sizeof *v);
        if (v) {
            r->steps = v;
            r->cap = nc;
        }
    }
    int ok = r && r->n < r->cap;
    if (ok)
        r->steps[r->n++] = st;
    pthread_mutex_unlock(&store_lock);
    return ok ? TROPT_OK : m->host->error(TROPT_EBACKEND, "no room for step");
}

static int m_finish(void *self, const tropt_run *run, const char *status, double ended_at,
                    const json_t *summary, const tropt_field *flat, size_t n_flat)
{
    (void)self;
    (void)summary;
    (void)flat;
    (void)n_flat;
#ifdef DEFECT_SECRET_MESSAGE
    inst *m = self;
    if (strcmp(status, "aborted") == 0)
        return m->host->error(TROPT_EBACKEND, "server refused token %s", m->token);
#endif
    pthread_mutex_lock(&store_lock);
    mrun *r = find_run(run->run_id);
#ifdef DEFECT_ALL_FINISHED
    status = "finished";
#endif
    if (r) {
        snprintf(r->status, sizeof r->status, "%s", status);
        r->ended_at = ended_at;
    }
    pthread_mutex_unlock(&store_lock);
    return TROPT_OK;
}

static int m_flush(void *self)
{
    inst *m = self;
#ifdef DEFECT_NO_MESSAGE
    (void)m;
    return TROPT_EBACKEND; /* no host->error(): the defect */
#else
    (void)m;
    return TROPT_OK;
#endif
}

static void m_destroy(void *self)
{
    inst *m = self;
    m->host->free(m->name);
    m->host->free(m);
}

/* ---- the reader ------------------------------------------------------ */

static int r_open(void **reader, const tropt_optval *opts, const tropt_host *host)
{
    (void)opts;
    *reader = (void *)host;
    return TROPT_OK;
}

static void info_of(const mrun *r, tropt_stored_run *ri)
{
    *ri = (tropt_stored_run){.run_id = r->run_id,
                             .experiment = r->experiment,
                             .status = r->status,
                             .started_at = r->started_at,
                             .ended_at = r->ended_at,
                             .n_steps = (int64_t)r->n};
}

static int r_list(void *reader, tropt_run_list_fn fn, void *userdata)
{
    (void)reader;
    int rc = 0;
    pthread_mutex_lock(&store_lock);
    for (size_t i = 0; i < n_runs && !rc; i++) {
        tropt_stored_run ri;
        memset(&ri, 0, sizeof ri); /* ABI 1.2 members: none filled */
        info_of(&runs[i], &ri);
        rc = fn(&ri, userdata);
    }
    pthread_mutex_unlock(&store_lock);
    return rc;
}

/* The stored step the reader yields at position s of n. */
static size_t yielded(size_t s, size_t n)
{
#if defined(DEFECT_STEP_ORDER)
    if (n >= 3 && (s == 1 || s == 2))
        return 3 - s;
#elif defined(DEFECT_STEP_TWICE)
    if (n >= 3 && s == 2)
        return 1;
#endif
    (void)n;
    return s;
}

static int r_read(void *reader, const char *run_id, tropt_event_fn fn, void *userdata)
{
    const tropt_host *host = reader;
    pthread_mutex_lock(&store_lock);
    mrun *r = find_run(run_id);
    if (!r) {
        pthread_mutex_unlock(&store_lock);
        return host->error(TROPT_EINVAL, "no run '%s'", run_id);
    }
    tropt_stored_run ri;
    memset(&ri, 0, sizeof ri); /* ABI 1.2 members: none filled */
    info_of(r, &ri);
    tropt_event ev = {.kind = TROPT_EVENT_START, .run = &ri, .time = r->started_at};
    int rc = fn(&ev, userdata);
    for (size_t pos = 0; pos < r->n && !rc; pos++) {
        size_t s = yielded(pos, r->n);
        tropt_field f[1100];
        size_t n = r->steps[s].n < 1100 ? r->steps[s].n : 1100;
        for (size_t i = 0; i < n; i++) {
            const mfield *o = &r->steps[s].f[i];
            f[i] = (tropt_field){.key = o->key, .type = o->type};
            if (o->type == TROPT_BOOL)
                f[i].v.b = (int)o->i;
            else if (o->type == TROPT_INT)
                f[i].v.i = o->i;
            else if (o->type == TROPT_REAL)
                f[i].v.r = o->r;
            else if (o->type == TROPT_STRING)
                f[i].v.s = o->s;
            else if (o->type == TROPT_JSON)
                f[i].v.json = o->json;
        }
        ev = (tropt_event){.kind = TROPT_EVENT_STEP,
                           .run = &ri,
                           .step = r->steps[s].step,
                           .time = r->steps[s].time,
                           .fields = f,
                           .n = n};
        rc = fn(&ev, userdata);
    }
    if (!rc && strcmp(r->status, "running") != 0) {
        ev = (tropt_event){
            .kind = TROPT_EVENT_END, .run = &ri, .status = r->status, .ended_at = r->ended_at};
        rc = fn(&ev, userdata);
    }
    pthread_mutex_unlock(&store_lock);
    return rc;
}

static void r_close(void *reader)
{
    (void)reader;
}

static const tropt_option_def options[] = {
    {"token", TROPT_OPT_STRING, TROPT_OPT_SECRET, NULL, NULL, 0, 0, "an API token (secret)"},
#ifdef DEFECT_BAD_OPTIONS
    {"label", TROPT_OPT_STRING, TROPT_OPT_HAS_RANGE, NULL, NULL, 0, 10, "a range on a string"},
#endif
    {NULL, 0, 0, NULL, NULL, 0, 0, NULL},
};

static const tropt_plugin table = {
    .abi_version = TROPT_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(tropt_plugin),
    .name = DEFECT_NAME,
    .description = "in-memory store for the conformance tests",
    .options = options,
    .create = m_create,
    .init = m_init,
    .log = m_log,
    .finish = m_finish,
    .flush = m_flush,
    .destroy = m_destroy,
    .reader_open = r_open,
    .list_runs = r_list,
    .read_run = r_read,
    .reader_close = r_close,
};

TROPT_PLUGIN_EXPORT const tropt_plugin *tropt_plugin_entry(void)
{
    return &table;
}
