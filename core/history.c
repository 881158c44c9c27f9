/* core/history.c - the reader layer between a plugin's reader hooks and the
 * tools (SPEC 9, 14, 15): every stored run comes out with the ABI 1.2
 * members filled (defaults for older plugins) and its status decided by
 * tropt_run_status; a run's steps come out with the rule of attempts applied
 * (one rule, here: a step of attempt a is superseded when a later attempt
 * continued from that step or an earlier one); and a reference (id, prefix,
 * name) is resolved to one run. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* ---- stored runs ------------------------------------------------------- */

/* The members of tropt_stored_run an ABI 1.1 plugin fills. */
#define V11_RUN_SIZE offsetof(tropt_stored_run, name)
/* ... and of tropt_event. */
#define V11_EVENT_SIZE offsetof(tropt_event, attempt)

static int is_v12(const tropt_plugin *p)
{
    return p->struct_size >= TROPT_PLUGIN_V12_SIZE;
}

/* Copy what the plugin filled into a whole tropt_stored_run with the host's
 * defaults; name (when none is stored) is derived into name_buf. */
static void normalize_run(const tropt_plugin *p, const tropt_stored_run *in, tropt_stored_run *out,
                          char *name_buf, size_t size)
{
    if (is_v12(p) && in->attempts >= 1) {
        *out = *in;
    } else {
        memset(out, 0, sizeof *out);
        memcpy(out, in, V11_RUN_SIZE);
        out->last_step = in->n_steps > 0 ? in->n_steps - 1 : -1;
        out->checkpoint_step = -1;
        out->heartbeat_age = NAN;
        out->stale_after = NAN;
    }
    if (out->attempts < 1)
        out->attempts = 1;
    if (!out->name) {
        tropt_run_default_name(out->run_id, name_buf, size);
        out->name = name_buf;
    }
    out->status = tropt_run_status(out);
}

typedef struct list_tramp {
    const tropt_plugin *p;
    tropt_run_list_fn fn;
    void *ud;
} list_tramp;

static int list_one(const tropt_stored_run *run, void *ud)
{
    list_tramp *lt = ud;
    tropt_stored_run whole;
    char name[TROPT_MAX_NAME + 1];
    normalize_run(lt->p, run, &whole, name, sizeof name);
    return lt->fn(&whole, lt->ud);
}

int tropt__list_runs_normalized(const tropt_plugin *p, void *self, tropt_run_list_fn fn, void *ud)
{
    list_tramp lt = {p, fn, ud};
    return p->list_runs(self, list_one, &lt);
}

/* ---- one run's events -------------------------------------------------- */

#define MAX_ATTEMPTS_TRACKED 4096

typedef struct read_tramp {
    const tropt_plugin *p;
    tropt_event_fn fn;
    void *ud;
    int history;          /* pass superseded steps, marked */
    tropt_stored_run run; /* the normalized run of START */
    int have_run;
    char name[TROPT_MAX_NAME + 1];
    int64_t *cutoff; /* cutoff[a-1]: attempt a's steps at or after it are superseded */
    size_t n_cutoff;
    int oom;
} read_tramp;

/* cutoff[a] = the smallest from_step of the attempts after a. */
static int set_cutoffs(read_tramp *rt, const tropt_attempt *att, size_t n)
{
    tropt__free(rt->cutoff);
    rt->cutoff = NULL;
    rt->n_cutoff = 0;
    if (n > MAX_ATTEMPTS_TRACKED)
        n = MAX_ATTEMPTS_TRACKED;
    if (n == 0)
        return TROPT_OK;
    int64_t *c = tropt__calloc(n, sizeof *c);
    if (!c)
        return TROPT_ENOMEM;
    int64_t low = INT64_MAX;
    for (size_t i = n; i-- > 0;) {
        c[i] = low;
        if (att[i].from_step < low)
            low = att[i].from_step;
    }
    rt->cutoff = c;
    rt->n_cutoff = n;
    return TROPT_OK;
}

static int superseded(const read_tramp *rt, int64_t attempt, int64_t step)
{
    size_t a = attempt < 1 ? 0 : (size_t)(attempt - 1);
    /* INT64_MAX: no later attempt (so step INT64_MAX of the last one stays) */
    return a < rt->n_cutoff && rt->cutoff[a] != INT64_MAX && step >= rt->cutoff[a];
}

static int read_one(const tropt_event *ev, void *ud)
{
    read_tramp *rt = ud;
    tropt_event e;
    if (is_v12(rt->p)) {
        e = *ev;
    } else {
        memset(&e, 0, sizeof e);
        memcpy(&e, ev, V11_EVENT_SIZE);
    }
    if (e.attempt < 1)
        e.attempt = 1;
    if (e.run) {
        /* once per START, ATTEMPT and END: a step reuses it (the status
         * rule costs a system call) */
        if (e.kind != TROPT_EVENT_STEP || !rt->have_run)
            normalize_run(rt->p, e.run, &rt->run, rt->name, sizeof rt->name);
        rt->have_run = 1;
        e.run = &rt->run;
    }
    if (e.kind == TROPT_EVENT_START && set_cutoffs(rt, e.attempts, e.n_attempts) != TROPT_OK) {
        rt->oom = 1;
        return TROPT_ENOMEM;
    }
    if (e.kind == TROPT_EVENT_STEP) {
        e.superseded = superseded(rt, e.attempt, e.step);
        if (e.superseded && !rt->history)
            return 0;
    }
    return rt->fn(&e, rt->ud);
}

int tropt__read_run_filtered(const tropt_plugin *p, void *self, const char *run_id,
                             tropt_event_fn fn, void *ud, int history)
{
    read_tramp rt;
    memset(&rt, 0, sizeof rt);
    rt.p = p;
    rt.fn = fn;
    rt.ud = ud;
    rt.history = history;
    int rc = p->read_run(self, run_id, read_one, &rt);
    tropt__free(rt.cutoff);
    if (rt.oom)
        return tropt__oom();
    return rc;
}

/* ---- resolving a reference --------------------------------------------- */

#define MAX_LISTED 20

typedef struct cand {
    char id[TROPT__UUID_LEN + 1];
    char name[TROPT_MAX_NAME + 1];
    double started_at;
    char status[16];
} cand;

typedef struct resolve_ctx {
    const char *ref;
    size_t ref_len;
    int exact; /* the ref is a whole id found */
    cand first_prefix, first_name;
    cand listed[MAX_LISTED]; /* candidates of the winning kind, for the message */
    size_t n_prefix, n_name;
    char exact_id[TROPT__UUID_LEN + 1];
} resolve_ctx;

static void keep(cand *c, const tropt_stored_run *sr)
{
    snprintf(c->id, sizeof c->id, "%s", sr->run_id);
    snprintf(c->name, sizeof c->name, "%s", sr->name ? sr->name : "");
    c->started_at = sr->started_at;
    snprintf(c->status, sizeof c->status, "%s", sr->status ? sr->status : "");
}

static int resolve_one(const tropt_stored_run *sr, void *ud)
{
    resolve_ctx *c = ud;
    if (strcmp(sr->run_id, c->ref) == 0) {
        c->exact = 1;
        snprintf(c->exact_id, sizeof c->exact_id, "%s", sr->run_id);
        return 1;
    }
    if (c->ref_len <= TROPT__UUID_LEN && strncmp(sr->run_id, c->ref, c->ref_len) == 0) {
        if (c->n_prefix < MAX_LISTED)
            keep(&c->listed[c->n_prefix], sr);
        if (c->n_prefix++ == 0)
            keep(&c->first_prefix, sr);
    } else if (sr->name && strcmp(sr->name, c->ref) == 0) {
        if (c->n_prefix == 0 && c->n_name < MAX_LISTED)
            keep(&c->listed[c->n_name], sr);
        if (c->n_name++ == 0)
            keep(&c->first_name, sr);
    }
    return 0;
}

static void iso_time(double t, char *buf, size_t size)
{
    time_t sec = (time_t)floor(t);
    struct tm tm;
    if (!isfinite(t) || t < 0 || t > 253402300799.0 || !gmtime_r(&sec, &tm)) {
        snprintf(buf, size, "-");
        return;
    }
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Names are printable by construction; an id prefix given by hand may not be:
 * the message shows only its printable ASCII. */
static void printable(const char *in, char *out, size_t size)
{
    size_t j = 0;
    for (size_t i = 0; in[i] && j + 1 < size; i++)
        out[j++] = (unsigned char)in[i] >= 0x20 && (unsigned char)in[i] < 0x7f ? in[i] : '?';
    out[j] = '\0';
}

static int ambiguous(const resolve_ctx *c, size_t n, const char *kind)
{
    char msg[4096], ref[64];
    printable(c->ref, ref, sizeof ref);
    int used = snprintf(msg, sizeof msg, "'%s' is ambiguous: %zu runs match by %s:", ref, n, kind);
    for (size_t i = 0; i < n && i < MAX_LISTED && used > 0 && (size_t)used < sizeof msg; i++) {
        char when[32];
        iso_time(c->listed[i].started_at, when, sizeof when);
        used += snprintf(msg + used, sizeof msg - (size_t)used, "\n  %s  %s  %s  %s",
                         c->listed[i].id, c->listed[i].name, when, c->listed[i].status);
    }
    if (n > MAX_LISTED && used > 0 && (size_t)used < sizeof msg)
        snprintf(msg + used, sizeof msg - (size_t)used, "\n  ... and %zu more", n - MAX_LISTED);
    return tropt__error(TROPT_EINVAL, "%s\ngive more of the id, or the whole id", msg);
}

int tropt_reader_resolve(tropt_reader *r, const char *ref, char id_out[37])
{
    if (!r || !ref || !id_out)
        return tropt__error(TROPT_EINVAL, "tropt_reader_resolve: reader, ref or id_out is NULL");
    if (!*ref)
        return tropt__error(TROPT_EINVAL, "an empty run reference names no run");
    resolve_ctx *c = tropt__calloc(1, sizeof *c);
    if (!c)
        return tropt__oom();
    c->ref = ref;
    c->ref_len = strlen(ref);
    int rc = tropt_reader_list_runs(r, resolve_one, c);
    if (rc < 0) {
        tropt__free(c);
        return rc;
    }
    if (c->exact)
        memcpy(id_out, c->exact_id, TROPT__UUID_LEN + 1);
    else if (c->n_prefix == 1) /* an id (prefix) wins over a name */
        memcpy(id_out, c->first_prefix.id, TROPT__UUID_LEN + 1);
    else if (c->n_prefix > 1)
        rc = ambiguous(c, c->n_prefix, "id prefix");
    else if (c->n_name == 1)
        memcpy(id_out, c->first_name.id, TROPT__UUID_LEN + 1);
    else if (c->n_name > 1)
        rc = ambiguous(c, c->n_name, "name");
    else {
        char shown[64];
        printable(ref, shown, sizeof shown);
        rc = tropt__error(TROPT_ENOTFOUND, "no run has the id, id prefix or name '%s'", shown);
    }
    tropt__free(c);
    return rc == 1 ? TROPT_OK : rc;
}
