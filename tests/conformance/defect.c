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
 *   DEFECT_NAME_CUT     stores a run's name cut to 16 bytes   -> name
 *   DEFECT_UNTAG_IGNORED ignores an untag                     -> annotate
 *   DEFECT_NO_TOMBSTONE deletes a run but accepts its id again -> delete
 *   DEFECT_FROM_ZERO    reads every attempt back as starting at step 0
 *                                                           -> resume
 *   DEFECT_NO_HASH      never stores a mark's size and SHA-256 -> checkpoint
 *   DEFECT_MAX_IS_MEAN  stores a system sample's mean as its max -> system
 *
 * PLAIN_READER builds it as a plugin of ABI 1.2 that stores none of it:
 * no metadata, mark or sample hooks, its reader leaving the ABI 1.2
 * members of a stored run unfilled (as the shipped sqlite, csv and jsonl
 * were when ABI 1.2 came): the kit skips those promises, saying why.
 *
 * Under ABI 1.2 (the host's TROPT_HOST_RUN_V12) it stores what SPEC 14-16
 * ask of a storing backend: names, tags, notes, attempts, deletions (with a
 * tombstone), checkpoint marks and system samples, and reads them back.
 *
 * (DEFECT_NAN_CRASH also breaks "read back", which logs a NaN: a plugin
 * that cannot take a NaN cannot give one back.)
 *
 * Built like a third-party plugin: plugin.h only.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
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
    int64_t step, attempt;
    double time;
    mfield *f;
    size_t n;
} mstep;

#define MAX_ATT 8
#define MAX_TAGS 8
#define MAX_MARKS 8
#define MAX_SYS 8
#define MAX_SAMPLES 4

typedef struct mmark {
    tropt_checkpoint c; /* path, sha256, error point into the buffers */
    char path[1100], sha256[80], error[256];
} mmark;

typedef struct msys {
    int64_t attempt;
    double time;
    tropt_sample s[MAX_SAMPLES];
    char key[MAX_SAMPLES][64];
    size_t n;
} msys;

typedef struct mrun {
    char run_id[40];
    char experiment[64];
    double started_at, ended_at;
    char status[16];
    mstep *steps;
    size_t n, cap;
    /* ABI 1.2 */
    char name[256], note[512], resume_key[256];
    int has_note;
    char tags[MAX_TAGS][64];
    size_t n_tags;
    tropt_attempt att[MAX_ATT];
    char att_host[MAX_ATT][64], att_status[MAX_ATT][16];
    size_t n_att;
    mmark marks[MAX_MARKS];
    size_t n_marks;
    msys sys[MAX_SYS];
    size_t n_sys;
} mrun;

#ifdef DEFECT_NAME_CUT
#define NAME_KEPT 16
#else
#define NAME_KEPT 255
#endif

static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
static mrun runs[64];
static size_t n_runs;
static char deleted[64][40]; /* tombstones */
static size_t n_deleted;

static mrun *find_run(const char *id)
{
    for (size_t i = 0; i < n_runs; i++)
        if (strncmp(runs[i].run_id, id, strlen(id)) == 0)
            return &runs[i];
    return NULL;
}

static int was_deleted(const char *id)
{
    for (size_t i = 0; i < n_deleted; i++)
        if (strcmp(deleted[i], id) == 0)
            return 1;
    return 0;
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

/* The run run_id, new in the store (NULL: full). */
static mrun *new_run(const tropt_run *run)
{
    if (n_runs == 64)
        return NULL;
    mrun *r = &runs[n_runs++];
    memset(r, 0, sizeof *r);
    snprintf(r->run_id, sizeof r->run_id, "%s", run->run_id);
    return r;
}

static void set_running(mrun *r, const tropt_run *run)
{
    snprintf(r->experiment, sizeof r->experiment, "%s", run->experiment);
    r->ended_at = NAN;
    strcpy(r->status, "running");
}

/* A host without ABI 1.2: one attempt per run. */
static int open_v11(const tropt_host *host, const tropt_run *run)
{
    mrun *r = find_run(run->run_id);
    if (!r)
        r = new_run(run);
    if (!r)
        return host->error(TROPT_EBACKEND, "store full (64 runs)");
    set_running(r, run);
    r->started_at = run->started_at;
    return TROPT_OK;
}

static void add_attempt(mrun *r, const tropt_run *run)
{
    size_t i = r->n_att++;
    snprintf(r->att_host[i], sizeof r->att_host[i], "%s", run->host ? run->host : "");
    strcpy(r->att_status[i], "running");
    r->att[i] = (tropt_attempt){.attempt = run->attempt,
                                .from_step = run->from_step,
                                .started_at = run->attempt_started_at,
                                .ended_at = NAN,
                                .status = r->att_status[i],
                                .host = r->att_host[i],
                                .pid = run->pid};
}

/* Attempt run->attempt of the run: new, continued, or a replay of one the
 * store holds (same start, host, pid); another process's: refused. */
static int open_v12(const tropt_host *host, const tropt_run *run)
{
    if (run->given_id && was_deleted(run->run_id))
        return host->error(TROPT_EINVAL, "run %s was deleted", run->run_id);
    mrun *r = find_run(run->run_id);
    if (!r && !(r = new_run(run)))
        return host->error(TROPT_EBACKEND, "store full (64 runs)");
    if (r->n_att == 0) {
        r->started_at = run->started_at;
        snprintf(r->name, sizeof r->name, "%.*s", NAME_KEPT, run->name);
        snprintf(r->resume_key, sizeof r->resume_key, "%s", run->resume_key ? run->resume_key : "");
    }
    const tropt_attempt *last = r->n_att ? &r->att[r->n_att - 1] : NULL;
    if (last && last->attempt == run->attempt &&
        (last->started_at != run->attempt_started_at || last->pid != run->pid))
        return host->error(TROPT_EBACKEND, "run %s: attempt %lld is another process's", run->run_id,
                           (long long)run->attempt);
    if (!last || last->attempt < run->attempt) {
        if (r->n_att == MAX_ATT)
            return host->error(TROPT_EBACKEND, "run %s: too many attempts", run->run_id);
        add_attempt(r, run);
    }
    set_running(r, run);
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
    int rc = TROPT_HOST_RUN_V12(m->host) ? open_v12(m->host, run) : open_v11(m->host, run);
    pthread_mutex_unlock(&store_lock);
    return rc;
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
    mstep st = {.step = step,
                .attempt = TROPT_HOST_RUN_V12(m->host) ? run->attempt : 1,
                .time = time,
                .f = calloc(n ? n : 1, sizeof(mfield))};
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
    if (r && r->n_att) {
        snprintf(r->att_status[r->n_att - 1], sizeof r->att_status[0], "%s", status);
        r->att[r->n_att - 1].ended_at = ended_at;
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

/* ---- ABI 1.2: metadata, deletion, marks, system samples ---------------- */

#ifndef PLAIN_READER

static void tag_run(mrun *r, const char *tag)
{
    for (size_t i = 0; i < r->n_tags; i++)
        if (strcmp(r->tags[i], tag) == 0)
            return;
    if (r->n_tags < MAX_TAGS)
        snprintf(r->tags[r->n_tags++], sizeof r->tags[0], "%s", tag);
}

static void untag_run(mrun *r, const char *tag)
{
#ifdef DEFECT_UNTAG_IGNORED
    (void)r;
    (void)tag;
#else
    for (size_t i = 0; i < r->n_tags; i++)
        if (strcmp(r->tags[i], tag) == 0) {
            memmove(r->tags[i], r->tags[i + 1], (r->n_tags - i - 1) * sizeof r->tags[0]);
            r->n_tags--;
            return;
        }
#endif
}

static int m_annotate(void *self, const char *run_id, const tropt_annotation *a)
{
    inst *m = self;
    pthread_mutex_lock(&store_lock);
    mrun *r = find_run(run_id);
    if (r && a->kind == TROPT_ANNOTATE_TAG)
        tag_run(r, a->text);
    else if (r && a->kind == TROPT_ANNOTATE_UNTAG)
        untag_run(r, a->text);
    else if (r && a->kind == TROPT_ANNOTATE_NOTE) {
        r->has_note = a->text[0] != '\0';
        snprintf(r->note, sizeof r->note, "%s", a->text);
    } else if (r && a->kind == TROPT_ANNOTATE_RENAME)
        snprintf(r->name, sizeof r->name, "%.*s", NAME_KEPT, a->text);
    pthread_mutex_unlock(&store_lock);
    return r ? TROPT_OK : m->host->error(TROPT_EINVAL, "no run '%s'", run_id);
}

static void free_steps(mrun *r)
{
    for (size_t s = 0; s < r->n; s++) {
        for (size_t i = 0; i < r->steps[s].n; i++) {
            free(r->steps[s].f[i].key);
            free(r->steps[s].f[i].s);
            json_decref(r->steps[s].f[i].json);
        }
        free(r->steps[s].f);
    }
    free(r->steps);
}

static int m_delete(void *self, const char *run_id)
{
    inst *m = self;
    pthread_mutex_lock(&store_lock);
    mrun *r = find_run(run_id);
    if (r) {
#ifndef DEFECT_NO_TOMBSTONE
        if (n_deleted < 64)
            snprintf(deleted[n_deleted++], sizeof deleted[0], "%s", r->run_id);
#endif
        free_steps(r);
        size_t i = (size_t)(r - runs);
        memmove(&runs[i], &runs[i + 1], (n_runs - i - 1) * sizeof runs[0]);
        n_runs--;
    }
    pthread_mutex_unlock(&store_lock);
    return r ? TROPT_OK : m->host->error(TROPT_EINVAL, "no run '%s'", run_id);
}

static void copy_mark(mmark *k, const tropt_checkpoint *c)
{
    k->c = *c;
    snprintf(k->path, sizeof k->path, "%s", c->path ? c->path : "");
    snprintf(k->sha256, sizeof k->sha256, "%s", c->sha256 ? c->sha256 : "");
    snprintf(k->error, sizeof k->error, "%s", c->error ? c->error : "");
    k->c.path = k->path;
    k->c.sha256 = c->sha256 ? k->sha256 : NULL;
    k->c.error = c->error ? k->error : NULL;
}

static int m_checkpoint(void *self, const tropt_run *run, const tropt_checkpoint *mark)
{
    inst *m = self;
    pthread_mutex_lock(&store_lock);
    mrun *r = find_run(run->run_id);
    mmark *k = NULL;
    for (size_t i = 0; r && i < r->n_marks; i++)
        if (r->marks[i].c.attempt == mark->attempt && r->marks[i].c.seq == mark->seq)
            k = &r->marks[i];
#ifdef DEFECT_NO_HASH
    int update = !k;
#else
    int update = 1;
#endif
    if (r && !k && r->n_marks < MAX_MARKS)
        k = &r->marks[r->n_marks++];
    if (k && update)
        copy_mark(k, mark);
    pthread_mutex_unlock(&store_lock);
    return k ? TROPT_OK : m->host->error(TROPT_EBACKEND, "no room for the mark");
}

static int m_system(void *self, const tropt_run *run, double time, const tropt_sample *samples,
                    size_t n)
{
    inst *m = self;
    pthread_mutex_lock(&store_lock);
    mrun *r = find_run(run->run_id);
    msys *y = r && r->n_sys < MAX_SYS ? &r->sys[r->n_sys++] : NULL;
    if (y) {
        y->attempt = run->attempt;
        y->time = time;
        y->n = n < MAX_SAMPLES ? n : MAX_SAMPLES;
        for (size_t i = 0; i < y->n; i++) {
            snprintf(y->key[i], sizeof y->key[i], "%s", samples[i].key);
            y->s[i] = (tropt_sample){y->key[i], samples[i].value, samples[i].max};
#ifdef DEFECT_MAX_IS_MEAN
            y->s[i].max = samples[i].value;
#endif
        }
    }
    pthread_mutex_unlock(&store_lock);
    return y ? TROPT_OK : m->host->error(TROPT_EBACKEND, "no room for samples");
}

#endif /* PLAIN_READER */

/* ---- the reader ------------------------------------------------------ */

static int r_open(void **reader, const tropt_optval *opts, const tropt_host *host)
{
    (void)opts;
    *reader = (void *)host;
    return TROPT_OK;
}

/* r as the reader lists it; tags[] holds the tags' pointers. */
static void info_of(const mrun *r, tropt_stored_run *ri, const char **tags)
{
    int64_t last = -1;
    for (size_t s = 0; s < r->n; s++)
        last = r->steps[s].step > last ? r->steps[s].step : last;
    for (size_t i = 0; i < r->n_tags; i++)
        tags[i] = r->tags[i];
    const tropt_attempt *latest = r->n_att ? &r->att[r->n_att - 1] : NULL;
#ifdef PLAIN_READER
    latest = NULL;
#endif
    *ri = (tropt_stored_run){.run_id = r->run_id,
                             .experiment = r->experiment,
                             .status = r->status,
                             .started_at = r->started_at,
                             .ended_at = r->ended_at,
                             .host = latest ? latest->host : NULL,
                             .pid = latest ? latest->pid : 0,
                             .n_steps = (int64_t)r->n,
                             .name = r->name[0] ? r->name : NULL,
                             .tags = tags,
                             .n_tags = r->n_tags,
                             .note = r->has_note ? r->note : NULL,
                             .attempts = r->n_att ? (int64_t)r->n_att : 1,
                             .last_step = last,
                             .checkpoint_step = r->n_marks ? r->marks[r->n_marks - 1].c.step : -1,
                             .resume_key = r->resume_key[0] ? r->resume_key : NULL,
                             .heartbeat_age = NAN,
                             .stale_after = NAN};
#ifdef PLAIN_READER
    memset(&ri->name, 0, sizeof *ri - offsetof(tropt_stored_run, name));
#endif
}

static int r_list(void *reader, tropt_run_list_fn fn, void *userdata)
{
    (void)reader;
    int rc = 0;
    pthread_mutex_lock(&store_lock);
    for (size_t i = 0; i < n_runs && !rc; i++) {
        tropt_stored_run ri;
        const char *tags[MAX_TAGS];
        info_of(&runs[i], &ri, tags);
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

static int step_event(const mrun *r, size_t s, const tropt_stored_run *ri, tropt_event_fn fn,
                      void *userdata)
{
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
    tropt_event ev = {.kind = TROPT_EVENT_STEP,
                      .run = ri,
                      .step = r->steps[s].step,
                      .time = r->steps[s].time,
                      .fields = f,
                      .n = n,
                      .attempt = r->steps[s].attempt};
    return fn(&ev, userdata);
}

/* The steps of attempt a, in the order they were logged (but for the order
 * defects), then its marks and its system samples. */
static int attempt_events(const mrun *r, int64_t a, const tropt_stored_run *ri, tropt_event_fn fn,
                          void *userdata)
{
    size_t *at = malloc((r->n ? r->n : 1) * sizeof *at), n = 0;
    if (!at)
        return TROPT_ENOMEM;
    for (size_t s = 0; s < r->n; s++)
        if (r->steps[s].attempt == a)
            at[n++] = s;
    int rc = 0;
    for (size_t pos = 0; pos < n && !rc; pos++)
        rc = step_event(r, at[yielded(pos, n)], ri, fn, userdata);
    free(at);
    for (size_t i = 0; i < r->n_marks && !rc; i++)
        if (r->marks[i].c.attempt == a) {
            tropt_event ev = {.kind = TROPT_EVENT_CHECKPOINT,
                              .run = ri,
                              .time = r->marks[i].c.time,
                              .attempt = a,
                              .checkpoint = &r->marks[i].c};
            rc = fn(&ev, userdata);
        }
    for (size_t i = 0; i < r->n_sys && !rc; i++)
        if (r->sys[i].attempt == a) {
            tropt_event ev = {.kind = TROPT_EVENT_SYSTEM,
                              .run = ri,
                              .time = r->sys[i].time,
                              .attempt = a,
                              .samples = r->sys[i].s,
                              .n_samples = r->sys[i].n};
            rc = fn(&ev, userdata);
        }
    return rc;
}

static int run_events(const mrun *r, const tropt_stored_run *ri, tropt_event_fn fn, void *userdata)
{
    tropt_attempt att[MAX_ATT];
    memcpy(att, r->att, sizeof att);
#ifdef DEFECT_FROM_ZERO
    for (size_t i = 0; i < r->n_att; i++)
        att[i].from_step = 0;
#endif
    tropt_event ev = {.kind = TROPT_EVENT_START,
                      .run = ri,
                      .time = r->started_at,
                      .attempts = att,
                      .n_attempts = r->n_att};
    int rc = fn(&ev, userdata);
    int64_t last = r->n_att ? (int64_t)r->n_att : 1;
    for (int64_t a = 1; a <= last && !rc; a++) {
        if (a > 1) {
            ev = (tropt_event){.kind = TROPT_EVENT_ATTEMPT,
                               .run = ri,
                               .time = att[a - 1].started_at,
                               .attempt = a};
            rc = fn(&ev, userdata);
        }
        if (!rc)
            rc = attempt_events(r, a, ri, fn, userdata);
    }
    if (!rc && strcmp(r->status, "running") != 0) {
        ev = (tropt_event){
            .kind = TROPT_EVENT_END, .run = ri, .status = r->status, .ended_at = r->ended_at};
        rc = fn(&ev, userdata);
    }
    return rc;
}

static int r_read(void *reader, const char *run_id, tropt_event_fn fn, void *userdata)
{
    const tropt_host *host = reader;
    pthread_mutex_lock(&store_lock);
    mrun *r = find_run(run_id);
    int rc;
    if (r) {
        tropt_stored_run ri;
        const char *tags[MAX_TAGS];
        info_of(r, &ri, tags);
        rc = run_events(r, &ri, fn, userdata);
    }
    pthread_mutex_unlock(&store_lock);
    return r ? rc : host->error(TROPT_EINVAL, "no run '%s'", run_id);
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
#ifndef PLAIN_READER
    .annotate = m_annotate,
    .delete_run = m_delete,
    .checkpoint = m_checkpoint,
    .log_system = m_system,
#endif
};

TROPT_PLUGIN_EXPORT const tropt_plugin *tropt_plugin_entry(void)
{
    return &table;
}
