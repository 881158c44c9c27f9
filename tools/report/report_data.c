/* tools/report/report_data.c - read runs for `tropt report` / `tropt compare`
 * through the reader API, streaming (see report_data.h). */
#include "report_data.h"

#include <jansson.h>
#include <tropt/host.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_series.h"

/* The whole page keeps about this many intervals, spread over its series. */
#define RP_INTERVAL_BUDGET 40000
#define RP_MIN_BUCKETS 16
#define RP_MAX_BUCKETS 256
/* Intervals each series holds while its run streams in (the memory bound). */
#define RP_INFLIGHT_INTERVALS 1024

static char *dupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dupf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n < 0 ? NULL : malloc((size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

void rp_fmt(char *buf, size_t size, double x, int digits)
{
    if (isnan(x))
        snprintf(buf, size, "nan");
    else if (isinf(x))
        snprintf(buf, size, x > 0 ? "inf" : "-inf");
    else if (digits < 15)
        snprintf(buf, size, "%.*g", digits, x);
    else
        for (int d = 15; d <= 17; d++) {
            snprintf(buf, size, "%.*g", d, x);
            if (strtod(buf, NULL) == x)
                break;
        }
}

char *rp_sqlite_spec(const char *path)
{
    size_t n = strlen(path);
    char *s = malloc(2 * n + 16);
    if (!s)
        return NULL;
    char *w = s + sprintf(s, "sqlite:path=\"");
    for (; *path; path++) {
        if (*path == '"' || *path == '\\')
            *w++ = '\\';
        *w++ = *path;
    }
    strcpy(w, "\"");
    return s;
}

static void kv_free(rp_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

static void run_free(rp_run *r)
{
    free(r->id);
    free(r->name);
    free(r->experiment);
    free(r->status);
    free(r->host);
    for (size_t i = 0; i < r->n_tags; i++)
        free(r->tags[i]);
    free(r->tags);
    kv_free(r->params, r->n_params);
    kv_free(r->summary, r->n_summary);
    for (size_t i = 0; i < r->n_series; i++)
        rp_series_free(&r->series[i]);
    free(r->series);
}

void rp_free(rp_data *d)
{
    for (size_t i = 0; i < d->n; i++)
        run_free(&d->runs[i]);
    free(d->runs);
    d->runs = NULL;
    d->n = 0;
}

/* ---- the runs listed ---- */

typedef struct {
    rp_run *all;
    size_t n, cap;
    const char *experiment;
    size_t seen;  /* runs listed, of any experiment */
    char *others; /* the experiments listed, for a message */
    int oom;
} collect;

/* The name shown for a run: the reader's (stored, or derived from the id
 * by the reader layer), else the short id. */
static char *run_name(const tropt_stored_run *sr)
{
    if (sr->name && *sr->name)
        return strdup(sr->name);
    size_t n = strlen(sr->run_id);
    if (n <= 14)
        return strdup(sr->run_id);
    return dupf("%.8s..%s", sr->run_id, sr->run_id + n - 4);
}

static int copy_tags(rp_run *r, const tropt_stored_run *sr)
{
    if (!sr->n_tags || !sr->tags)
        return 0;
    r->tags = calloc(sr->n_tags, sizeof *r->tags);
    if (!r->tags)
        return -1;
    for (; r->n_tags < sr->n_tags; r->n_tags++)
        if (!(r->tags[r->n_tags] = strdup(sr->tags[r->n_tags] ? sr->tags[r->n_tags] : "")))
            return -1;
    return 0;
}

static void note_experiment(collect *c, const char *exp)
{
    size_t have = c->others ? strlen(c->others) : 0;
    char *quoted = dupf("'%s'", exp);
    if (quoted && have < 400 && !(c->others && strstr(c->others, quoted))) {
        char *s = dupf("%s%s%s", have ? c->others : "", have ? ", " : "", quoted);
        if (s) {
            free(c->others);
            c->others = s;
        }
    }
    free(quoted);
}

static rp_run *push_run(collect *c)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        rp_run *a = realloc(c->all, cap * sizeof *a);
        if (!a)
            return NULL;
        c->all = a;
        c->cap = cap;
    }
    rp_run *r = &c->all[c->n++];
    memset(r, 0, sizeof *r);
    return r;
}

static int collect_run(const tropt_stored_run *sr, void *ud)
{
    collect *c = ud;
    c->seen++;
    if (c->experiment && strcmp(sr->experiment, c->experiment) != 0) {
        note_experiment(c, sr->experiment);
        return 0;
    }
    rp_run *r = push_run(c);
    if (!r) {
        c->oom = 1;
        return 1;
    }
    r->id = strdup(sr->run_id);
    r->name = run_name(sr);
    r->experiment = strdup(sr->experiment);
    r->status = strdup(sr->status);
    r->host = strdup(sr->host ? sr->host : "");
    r->started = sr->started_at;
    r->ended = sr->ended_at;
    r->pid = sr->pid;
    c->oom = !r->id || !r->name || !r->experiment || !r->status || !r->host || copy_tags(r, sr);
    return c->oom;
}

/* ---- choosing runs by id prefix ---- */

/* Run i matches ref: by id prefix, or (by_name) by its whole name. */
static int matches(const rp_run *r, const char *ref, int by_name)
{
    return by_name ? strcmp(r->name, ref) == 0 : strncmp(r->id, ref, strlen(ref)) == 0;
}

static char *ambiguous(const char *ref, const rp_run *all, size_t n_all, size_t hits, int by_name)
{
    size_t sz = 256;
    for (size_t i = 0; i < n_all; i++)
        sz += strlen(all[i].id) + strlen(all[i].name) + 4;
    char *msg = malloc(sz);
    if (!msg)
        return NULL;
    int k = snprintf(msg, sz,
                     "run %s '%s' is ambiguous, it matches %zu runs:", by_name ? "name" : "prefix",
                     ref, hits);
    for (size_t i = 0; i < n_all && k > 0 && (size_t)k < sz; i++)
        if (matches(&all[i], ref, by_name))
            k += snprintf(msg + k, sz - (size_t)k, " %s (%s)", all[i].id, all[i].name);
    return msg;
}

/* Mark in chosen the one run `ref` names: a full id, a unique id prefix,
 * or else a name (SPEC 14: an id wins).  0, or -1 with *err. */
static int choose_one(const rp_query *q, const char *ref, const rp_run *all, size_t n_all,
                      char *chosen, const char *where, char **err)
{
    size_t hit = 0, hits = 0;
    int by_name = 0;
    for (; by_name < 2 && hits == 0 && *ref; by_name++)
        for (size_t i = 0; i < n_all; i++)
            if (matches(&all[i], ref, by_name) && hits++ == 0)
                hit = i;
    if (hits == 1) {
        chosen[hit] = 1;
        return 0;
    }
    if (hits == 0)
        *err = dupf("no run matches '%s'%s%s in %s", ref, q->experiment ? " in experiment " : "",
                    q->experiment ? q->experiment : "", where);
    else
        *err = ambiguous(ref, all, n_all, hits, by_name - 1);
    return -1;
}

/* Keep the runs of c that q chooses (every one, or one per prefix); frees
 * the others.  Returns 0, or -1 with *err set. */
static int choose_runs(const rp_query *q, collect *c, const char *where, char **err)
{
    if (q->n_runs == 0)
        return 0;
    char *chosen = calloc(c->n ? c->n : 1, 1);
    if (!chosen)
        return -1;
    int ret = 0;
    for (size_t p = 0; ret == 0 && p < q->n_runs; p++)
        ret = choose_one(q, q->runs[p], c->all, c->n, chosen, where, err);
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++)
        if (ret == 0 && chosen[i])
            c->all[k++] = c->all[i];
        else
            run_free(&c->all[i]);
    c->n = k;
    free(chosen);
    return ret;
}

/* A selection that matched nothing is an error naming what matched nothing. */
static char *nothing_matched(const rp_query *q, const collect *c, const char *where)
{
    if (!q->experiment || c->seen == 0)
        return dupf("%s holds no runs", where);
    return dupf("no run of experiment '%s' in %s (it holds %zu run%s, of experiment%s %s)",
                q->experiment, where, c->seen, c->seen == 1 ? "" : "s",
                c->others && strchr(c->others, ',') ? "s" : "", c->others ? c->others : "");
}

/* ---- one run's events ---- */

/* A JSON value as display text (malloc'd). */
static char *json_text(const json_t *v)
{
    char b[64];
    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (json_is_integer(v))
        return dupf("%lld", (long long)json_integer_value(v));
    if (json_is_real(v)) {
        rp_fmt(b, sizeof b, json_real_value(v), 17);
        return strdup(b);
    }
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static int kv_push(rp_kv **out, size_t *n, size_t *cap, char *key, char *value)
{
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 16;
        rp_kv *a = realloc(*out, c * sizeof *a);
        if (!a) {
            free(key);
            free(value);
            return -1;
        }
        *out = a;
        *cap = c;
    }
    (*out)[(*n)++] = (rp_kv){key, value};
    return key && value ? 0 : -1;
}

/* A JSON object flattened ("a/b" keys) into display rows, for readers whose
 * START or END event carries the object but no flattened fields. */
static int kv_flatten(rp_kv **out, size_t *n, size_t *cap, const char *prefix, const json_t *o)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        char *key = prefix ? dupf("%s/%s", prefix, k) : strdup(k);
        if (key && json_is_object(v) && json_object_size(v)) {
            int rc = kv_flatten(out, n, cap, key, v);
            free(key);
            if (rc)
                return rc;
        } else if (kv_push(out, n, cap, key, key ? json_text(v) : NULL))
            return -1;
    }
    return 0;
}

static int cmp_kv(const void *a, const void *b)
{
    return strcmp(((const rp_kv *)a)->key, ((const rp_kv *)b)->key);
}

/* Params or summary rows of an event: its flattened fields, else its
 * object flattened here; sorted by key. */
static int kv_event(rp_kv **out, size_t *n, const tropt_field *f, size_t nf, const json_t *obj)
{
    size_t cap = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < nf; i++)
        rc = kv_push(out, n, &cap, strdup(f[i].key), rp_field_text(&f[i]));
    if (!nf && obj && json_is_object(obj))
        rc = kv_flatten(out, n, &cap, NULL, obj);
    if (rc == 0 && *n > 1)
        qsort(*out, *n, sizeof **out, cmp_kv);
    return rc;
}

typedef struct {
    rp_run *run;
    rp_set set;
    int64_t n_sys; /* system sample times seen: their "step" */
    int oom;
} filling;

/* System samples (SPEC 16): a series per key, on the wall-time axis (the
 * page draws "sys/..." keys against time); their step is their rank. */
static int fill_system(filling *fl, const tropt_event *ev)
{
    for (size_t i = 0; i < ev->n_samples; i++) {
        tropt_field f = TROPT_F_REAL(ev->samples[i].key, ev->samples[i].value);
        if (rp_set_step(&fl->set, fl->n_sys, ev->time, &f, 1))
            return -1;
    }
    fl->n_sys++;
    return 0;
}

static int fill_event(const tropt_event *ev, void *ud)
{
    filling *fl = ud;
    rp_run *r = fl->run;
    if (ev->kind == TROPT_EVENT_START)
        fl->oom = kv_event(&r->params, &r->n_params, ev->fields, ev->n, ev->config) != 0;
    else if (ev->kind == TROPT_EVENT_END)
        fl->oom = kv_event(&r->summary, &r->n_summary, ev->fields, ev->n, ev->summary) != 0;
    else if (ev->kind == TROPT_EVENT_STEP) {
        r->steps++;
        fl->oom = rp_set_step(&fl->set, ev->step, ev->time, ev->fields, ev->n) != 0;
    } else if (ev->kind == TROPT_EVENT_SYSTEM)
        fl->oom = fill_system(fl, ev) != 0;
    return fl->oom ? 1 : 0;
}

/* Intervals per series for a run of n_series among n_runs. */
static size_t buckets_for(size_t fixed, size_t n_runs, size_t n_series)
{
    if (fixed != RP_AUTO_BUCKETS)
        return fixed;
    size_t b = RP_INTERVAL_BUDGET / ((n_runs ? n_runs : 1) * (n_series ? n_series : 1));
    return b < RP_MIN_BUCKETS ? RP_MIN_BUCKETS : b > RP_MAX_BUCKETS ? RP_MAX_BUCKETS : b;
}

static int read_one(tropt_reader *rd, const rp_query *q, rp_run *run, size_t n_runs, char **err)
{
    filling fl = {.run = run};
    rp_set_init(&fl.set, RP_INFLIGHT_INTERVALS);
    int rc = tropt_reader_read_run(rd, run->id, fill_event, &fl);
    if (fl.oom || rc != TROPT_OK) {
        *err = fl.oom ? NULL : dupf("cannot read run %s: %s", run->id, tropt_error_message());
        rp_set_free(&fl.set);
        return -1;
    }
    return rp_set_finish(&fl.set, buckets_for(q->buckets, n_runs, fl.set.n), run);
}

static int list_and_read(tropt_reader *rd, const rp_query *q, collect *c, const char *where,
                         char **err)
{
    int rc = tropt_reader_list_runs(rd, collect_run, c);
    if (c->oom || rc != TROPT_OK) {
        *err = c->oom ? NULL : dupf("%s", tropt_error_message());
        return -1;
    }
    if (choose_runs(q, c, where, err))
        return -1;
    if (c->n == 0) {
        *err = nothing_matched(q, c, where);
        return -1;
    }
    for (size_t i = 0; i < c->n; i++)
        if (read_one(rd, q, &c->all[i], c->n, err))
            return -1;
    return 0;
}

int rp_load(const rp_query *q, rp_data *out, char **err)
{
    out->runs = NULL;
    out->n = 0;
    *err = NULL;
    char *spec = q->from ? strdup(q->from) : rp_sqlite_spec(q->db);
    const char *where = q->db ? q->db : q->from;
    tropt_reader *rd = NULL;
    collect c = {.experiment = q->experiment};
    int ret = -1;
    if (spec && tropt_reader_open(&rd, spec) != TROPT_OK)
        *err = dupf("%s", tropt_error_message());
    else if (spec)
        ret = list_and_read(rd, q, &c, where, err);
    tropt_reader_free(rd);
    free(spec);
    free(c.others);
    out->runs = c.all;
    out->n = c.n;
    if (ret) {
        rp_free(out);
        if (!*err)
            *err = strdup("out of memory");
    }
    return ret;
}
