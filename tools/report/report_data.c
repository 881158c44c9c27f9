/* tools/report/report_data.c - read runs for `tropt report` / `tropt compare`
 * from a sqlite database's views (see report_data.h). */
#include "report_data.h"

#include <jansson.h>
#include <tropt/host.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "report_m4.h"
#include "tropt_num.h"

/* The whole report keeps at most about this many points (4 per interval). */
#define RP_POINT_BUDGET 120000
#define RP_MIN_BUCKETS 8
#define RP_MAX_BUCKETS 500

static char *dupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dupf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static char *dup0(const char *s)
{
    return s ? strdup(s) : NULL;
}

void rp_fmt(char *buf, size_t size, double x, int digits)
{
    if (isnan(x))
        snprintf(buf, size, "nan");
    else if (isinf(x))
        snprintf(buf, size, x > 0 ? "inf" : "-inf");
    else {
        snprintf(buf, size, "%.*g", digits, x);
        if (digits >= 15 && strtod(buf, NULL) != x)
            snprintf(buf, size, "%.17g", x);
    }
}

/* The display text of a column (malloc'd; NULL only when out of memory). */
static char *col_text(sqlite3_stmt *st, int c)
{
    char b[64];
    switch (sqlite3_column_type(st, c)) {
    case SQLITE_INTEGER:
        snprintf(b, sizeof b, "%lld", (long long)sqlite3_column_int64(st, c));
        return strdup(b);
    case SQLITE_FLOAT:
        rp_fmt(b, sizeof b, sqlite3_column_double(st, c), 15);
        return strdup(b);
    case SQLITE_NULL:
        return strdup("null");
    default: {
        const unsigned char *t = sqlite3_column_text(st, c);
        return strdup(t ? (const char *)t : "");
    }
    }
}

/* A series while rows are read: every numeric point. */
typedef struct {
    size_t n, cap;
    double *step, *time, *y;
} raw_series;

typedef struct {
    rp_series *s;
    raw_series *raw;
    size_t n, cap;
    size_t *tab; /* open addressing: index + 1, 0 empty */
    size_t tab_cap;
} series_set;

static int set_rehash(series_set *ss, size_t cap)
{
    size_t *t = calloc(cap, sizeof *t);
    if (!t)
        return -1;
    for (size_t i = 0; i < ss->n; i++) {
        size_t h = (size_t)tropt_hash_str(ss->s[i].key, NULL) & (cap - 1);
        while (t[h])
            h = (h + 1) & (cap - 1);
        t[h] = i + 1;
    }
    free(ss->tab);
    ss->tab = t;
    ss->tab_cap = cap;
    return 0;
}

/* The index of key's series, created if new; (size_t)-1 when out of memory. */
static size_t set_find(series_set *ss, const char *key)
{
    if (2 * (ss->n + 1) > ss->tab_cap && set_rehash(ss, ss->tab_cap ? 2 * ss->tab_cap : 64))
        return (size_t)-1;
    size_t h = (size_t)tropt_hash_str(key, NULL) & (ss->tab_cap - 1);
    while (ss->tab[h]) {
        if (strcmp(ss->s[ss->tab[h] - 1].key, key) == 0)
            return ss->tab[h] - 1;
        h = (h + 1) & (ss->tab_cap - 1);
    }
    if (ss->n == ss->cap) {
        size_t cap = ss->cap ? 2 * ss->cap : 16;
        rp_series *s = realloc(ss->s, cap * sizeof *s);
        if (!s)
            return (size_t)-1;
        ss->s = s;
        raw_series *r = realloc(ss->raw, cap * sizeof *r);
        if (!r)
            return (size_t)-1;
        ss->raw = r;
        ss->cap = cap;
    }
    rp_series *s = &ss->s[ss->n];
    memset(s, 0, sizeof *s);
    memset(&ss->raw[ss->n], 0, sizeof ss->raw[ss->n]);
    s->key = strdup(key);
    if (!s->key)
        return (size_t)-1;
    s->first_nan = s->first_pinf = s->first_ninf = NAN;
    s->last = s->min = s->max = NAN;
    ss->tab[h] = ++ss->n;
    return ss->n - 1;
}

static int raw_push(raw_series *r, double step, double time, double y)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 64;
        double *a = realloc(r->step, cap * sizeof *a);
        if (!a)
            return -1;
        r->step = a;
        a = realloc(r->time, cap * sizeof *a);
        if (!a)
            return -1;
        r->time = a;
        a = realloc(r->y, cap * sizeof *a);
        if (!a)
            return -1;
        r->y = a;
        r->cap = cap;
    }
    r->step[r->n] = step;
    r->time[r->n] = time;
    r->y[r->n] = y;
    r->n++;
    return 0;
}

static void raw_free(raw_series *r)
{
    free(r->step);
    free(r->time);
    free(r->y);
    memset(r, 0, sizeof *r);
}

static void series_free(rp_series *s)
{
    free(s->key);
    free(s->step);
    free(s->time);
    free(s->y);
    free(s->last_text);
}

static int cmp_series(const void *a, const void *b)
{
    return strcmp(((const rp_series *)a)->key, ((const rp_series *)b)->key);
}

static const double *sort_steps;
static int cmp_idx(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (sort_steps[i] != sort_steps[j])
        return sort_steps[i] < sort_steps[j] ? -1 : 1;
    return i < j ? -1 : (i > j);
}

/* Order r by step, compute s's statistics, keep r's M4 points in s. */
static int finish_series(rp_series *s, raw_series *r, size_t buckets)
{
    int sorted = 1;
    for (size_t i = 1; i < r->n && sorted; i++)
        sorted = r->step[i - 1] <= r->step[i];
    if (!sorted) {
        size_t *ix = malloc(r->n * sizeof *ix);
        double *a = malloc(3 * r->n * sizeof *a);
        if (!ix || !a) {
            free(ix);
            free(a);
            return -1;
        }
        for (size_t i = 0; i < r->n; i++)
            ix[i] = i;
        sort_steps = r->step;
        qsort(ix, r->n, sizeof *ix, cmp_idx);
        for (size_t i = 0; i < r->n; i++) {
            a[i] = r->step[ix[i]];
            a[r->n + i] = r->time[ix[i]];
            a[2 * r->n + i] = r->y[ix[i]];
        }
        memcpy(r->step, a, r->n * sizeof *a);
        memcpy(r->time, a + r->n, r->n * sizeof *a);
        memcpy(r->y, a + 2 * r->n, r->n * sizeof *a);
        free(ix);
        free(a);
    }
    s->rows = r->n;
    for (size_t i = 0; i < r->n; i++) {
        double v = r->y[i];
        if (isnan(v)) {
            if (!s->nan++)
                s->first_nan = r->step[i];
            continue;
        }
        if (isinf(v) && v > 0 && !s->pinf++)
            s->first_pinf = r->step[i];
        if (isinf(v) && v < 0 && !s->ninf++)
            s->first_ninf = r->step[i];
        if (isnan(s->min) || v < s->min)
            s->min = v;
        if (isnan(s->max) || v > s->max)
            s->max = v;
    }
    if (r->n)
        s->last = r->y[r->n - 1];
    size_t room = rp_m4_room(r->n, buckets);
    size_t *ix = malloc((room ? room : 1) * sizeof *ix);
    s->step = malloc((room ? room : 1) * sizeof *s->step);
    s->time = malloc((room ? room : 1) * sizeof *s->time);
    s->y = malloc((room ? room : 1) * sizeof *s->y);
    if (!ix || !s->step || !s->time || !s->y) {
        free(ix);
        return -1;
    }
    s->n = rp_m4(r->y, r->n, buckets, ix);
    for (size_t i = 0; i < s->n; i++) {
        s->step[i] = r->step[ix[i]];
        s->time[i] = r->time[ix[i]];
        s->y[i] = r->y[ix[i]];
    }
    free(ix);
    return 0;
}

static int read_kv(sqlite3 *db, const char *sql, const char *id, rp_kv **out, size_t *n)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            rp_kv *a = realloc(*out, cap * sizeof *a);
            if (!a)
                break;
            *out = a;
        }
        const unsigned char *k = sqlite3_column_text(st, 0);
        (*out)[*n].key = strdup(k ? (const char *)k : "");
        (*out)[*n].value = col_text(st, 1);
        (*n)++;
        if (!(*out)[*n - 1].key || !(*out)[*n - 1].value)
            break;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Downsample every series of ss into run (which takes them over); ret is
 * the reading's outcome so far, returned unless finishing fails. */
static int finish_set(series_set *ss, rp_run *run, size_t n_runs, size_t fixed_buckets, int ret)
{
    size_t buckets = fixed_buckets;
    if (buckets == RP_AUTO_BUCKETS) {
        size_t denom = 4 * (n_runs ? n_runs : 1) * (ss->n ? ss->n : 1);
        buckets = RP_POINT_BUDGET / denom;
        if (buckets < RP_MIN_BUCKETS)
            buckets = RP_MIN_BUCKETS;
        if (buckets > RP_MAX_BUCKETS)
            buckets = RP_MAX_BUCKETS;
    }
    for (size_t i = 0; i < ss->n; i++) {
        if (ret == 0 && finish_series(&ss->s[i], &ss->raw[i], buckets))
            ret = -1;
        raw_free(&ss->raw[i]);
    }
    free(ss->raw);
    free(ss->tab);
    if (ss->n)
        qsort(ss->s, ss->n, sizeof *ss->s, cmp_series);
    run->series = ss->s;
    run->n_series = ss->n;
    return ret;
}

static int read_metrics(sqlite3 *db, rp_run *run, size_t n_runs, size_t fixed_buckets)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT step, time, key, value FROM metrics WHERE run_id = ?1", -1,
                           &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, run->id, -1, SQLITE_STATIC);
    series_set ss = {0};
    size_t last = (size_t)-1;
    int have_step = 0, ret = 0;
    double max_step = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(st, 2);
        if (!key)
            continue;
        size_t i = last;
        if (i == (size_t)-1 || strcmp(ss.s[i].key, key) != 0)
            i = set_find(&ss, key);
        if (i == (size_t)-1) {
            ret = -1;
            break;
        }
        last = i;
        double step = (double)sqlite3_column_int64(st, 0);
        if (!have_step || step > max_step) {
            have_step = 1;
            max_step = step;
            run->steps++;
        }
        int type = sqlite3_column_type(st, 3);
        if (type == SQLITE_TEXT || type == SQLITE_BLOB) {
            ss.s[i].n_text++;
            free(ss.s[i].last_text);
            ss.s[i].last_text = col_text(st, 3);
            continue;
        }
        double y = type == SQLITE_NULL ? NAN : sqlite3_column_double(st, 3);
        if (raw_push(&ss.raw[i], step, sqlite3_column_double(st, 1), y)) {
            ret = -1;
            break;
        }
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        ret = -1;
    sqlite3_finalize(st);
    return finish_set(&ss, run, n_runs, fixed_buckets, ret);
}

static void run_free(rp_run *r)
{
    free(r->id);
    free(r->experiment);
    free(r->status);
    free(r->host);
    for (size_t i = 0; i < r->n_params; i++) {
        free(r->params[i].key);
        free(r->params[i].value);
    }
    free(r->params);
    for (size_t i = 0; i < r->n_summary; i++) {
        free(r->summary[i].key);
        free(r->summary[i].value);
    }
    free(r->summary);
    for (size_t i = 0; i < r->n_series; i++)
        series_free(&r->series[i]);
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

static double col_real(sqlite3_stmt *st, int c)
{
    return sqlite3_column_type(st, c) == SQLITE_NULL ? NAN : sqlite3_column_double(st, c);
}

/* Keep the runs of `all` that q chooses (every one, or one per prefix);
 * frees the others.  Returns 0, or -1 with *err set.  `where` names the
 * store in messages. */
static int choose_runs(const rp_query *q, rp_run *all, size_t *n_all_io, char **err,
                       const char *where)
{
    size_t n_all = *n_all_io;
    int ret = 0;
    /* Choose the runs: every one, or one per prefix. */
    char *chosen = calloc(n_all ? n_all : 1, 1);
    if (!chosen && ret == 0) {
        *err = dupf("out of memory");
        ret = -1;
    }
    for (size_t p = 0; ret == 0 && p < q->n_runs; p++) {
        const char *pre = q->runs[p];
        size_t len = strlen(pre), hit = (size_t)-1, hits = 0;
        for (size_t i = 0; i < n_all; i++)
            if (len && strncmp(all[i].id, pre, len) == 0) {
                if (hits++ == 0)
                    hit = i;
            }
        if (hits == 0) {
            *err =
                dupf("no run matches '%s'%s%s in %s", pre, q->experiment ? " in experiment " : "",
                     q->experiment ? q->experiment : "", where);
            ret = -1;
        } else if (hits > 1) {
            size_t sz = 256;
            for (size_t i = 0; i < n_all; i++)
                sz += strlen(all[i].id) + 2;
            char *msg = malloc(sz);
            if (msg) {
                int k = snprintf(msg, sz, "run prefix '%s' is ambiguous, it matches %zu runs:", pre,
                                 hits);
                for (size_t i = 0; i < n_all && k > 0 && (size_t)k < sz; i++)
                    if (strncmp(all[i].id, pre, len) == 0)
                        k += snprintf(msg + k, sz - (size_t)k, " %s", all[i].id);
            }
            *err = msg;
            ret = -1;
        } else
            chosen[hit] = 1;
    }
    size_t n_ch = 0;
    for (size_t i = 0; ret == 0 && i < n_all; i++)
        if (q->n_runs == 0 || chosen[i])
            all[n_ch++] = all[i];
        else
            run_free(&all[i]);
    if (ret == 0)
        n_all = n_ch;
    free(chosen);
    *n_all_io = n_all;
    return ret;
}

/* ---- Through the reader API (--from SPEC) ---------------------------------- */

typedef struct {
    rp_run *all;
    size_t n, cap;
    const char *experiment;
    int oom;
} collect;

static int collect_run(const tropt_stored_run *sr, void *ud)
{
    collect *c = ud;
    if (c->experiment && strcmp(sr->experiment, c->experiment) != 0)
        return 0;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        rp_run *a = realloc(c->all, cap * sizeof *a);
        if (!a) {
            c->oom = 1;
            return 1;
        }
        c->all = a;
        c->cap = cap;
    }
    rp_run *r = &c->all[c->n++];
    memset(r, 0, sizeof *r);
    r->id = strdup(sr->run_id);
    r->experiment = strdup(sr->experiment);
    r->status = strdup(sr->status);
    r->host = strdup(sr->host ? sr->host : "");
    r->started = sr->started_at;
    r->ended = sr->ended_at;
    r->pid = sr->pid;
    if (!r->id || !r->experiment || !r->status || !r->host) {
        c->oom = 1;
        return 1;
    }
    return 0;
}

/* A field's value as the tables show it (as col_text does for sqlite). */
static char *field_text(const tropt_field *f)
{
    char b[64];
    switch (f->type) {
    case TROPT_NULL:
        return strdup("null");
    case TROPT_BOOL:
        return strdup(f->v.b ? "true" : "false");
    case TROPT_INT:
        snprintf(b, sizeof b, "%lld", (long long)f->v.i);
        return strdup(b);
    case TROPT_REAL:
        rp_fmt(b, sizeof b, f->v.r, 15);
        return strdup(b);
    case TROPT_STRING:
        return strdup(f->v.s);
    default:
        return json_dumps(f->v.json, JSON_COMPACT | JSON_ENCODE_ANY);
    }
}

static int kv_fill(rp_kv **out, size_t *n, const tropt_field *f, size_t nf)
{
    if (!nf)
        return 0;
    *out = calloc(nf, sizeof **out);
    if (!*out)
        return -1;
    for (size_t i = 0; i < nf; i++) {
        (*out)[i].key = strdup(f[i].key);
        (*out)[i].value = field_text(&f[i]);
        *n = i + 1;
        if (!(*out)[i].key || !(*out)[i].value)
            return -1;
    }
    return 0;
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
        if (!key)
            return -1;
        if (json_is_object(v) && json_object_size(v)) {
            int rc = kv_flatten(out, n, cap, key, v);
            free(key);
            if (rc)
                return rc;
            continue;
        }
        if (*n == *cap) {
            size_t c = *cap ? 2 * *cap : 16;
            rp_kv *a = realloc(*out, c * sizeof *a);
            if (!a) {
                free(key);
                return -1;
            }
            *out = a;
            *cap = c;
        }
        char b[64];
        char *text;
        if (json_is_string(v))
            text = strdup(json_string_value(v));
        else if (json_is_integer(v))
            text = dupf("%lld", (long long)json_integer_value(v));
        else if (json_is_real(v)) {
            rp_fmt(b, sizeof b, json_real_value(v), 15);
            text = strdup(b);
        } else
            text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        (*out)[*n].key = key;
        (*out)[*n].value = text;
        (*n)++;
        if (!text)
            return -1;
    }
    return 0;
}

static int cmp_kv(const void *a, const void *b)
{
    return strcmp(((const rp_kv *)a)->key, ((const rp_kv *)b)->key);
}

/* Params or summary rows of an event: its flattened fields, else its
 * object flattened here; sorted by key as the sqlite path reads them. */
static int kv_event(rp_kv **out, size_t *n, const tropt_field *f, size_t nf, const json_t *obj)
{
    int rc;
    if (nf) {
        rc = kv_fill(out, n, f, nf);
    } else {
        size_t cap = 0;
        rc = obj && json_is_object(obj) ? kv_flatten(out, n, &cap, NULL, obj) : 0;
    }
    if (rc == 0 && *n > 1)
        qsort(*out, *n, sizeof **out, cmp_kv);
    return rc;
}

typedef struct {
    rp_run *run;
    series_set ss;
    int oom;
} filling;

static int fill_event(const tropt_event *ev, void *ud)
{
    filling *fl = ud;
    rp_run *r = fl->run;
    if (ev->kind == TROPT_EVENT_START) {
        fl->oom = kv_event(&r->params, &r->n_params, ev->fields, ev->n, ev->config) != 0;
    } else if (ev->kind == TROPT_EVENT_END) {
        fl->oom = kv_event(&r->summary, &r->n_summary, ev->fields, ev->n, ev->summary) != 0;
    } else {
        r->steps++;
        for (size_t k = 0; k < ev->n && !fl->oom; k++) {
            const tropt_field *f = &ev->fields[k];
            if (f->type == TROPT_NULL)
                continue; /* nothing to draw or count: not a NaN */
            size_t i = set_find(&fl->ss, f->key);
            if (i == (size_t)-1) {
                fl->oom = 1;
                break;
            }
            if (f->type == TROPT_STRING || f->type == TROPT_JSON) {
                fl->ss.s[i].n_text++;
                free(fl->ss.s[i].last_text);
                fl->ss.s[i].last_text = field_text(f);
                fl->oom = !fl->ss.s[i].last_text;
                continue;
            }
            double y = f->type == TROPT_REAL  ? f->v.r
                       : f->type == TROPT_INT ? (double)f->v.i
                                              : (double)f->v.b;
            fl->oom = raw_push(&fl->ss.raw[i], (double)ev->step, ev->time, y) != 0;
        }
    }
    return fl->oom ? 1 : 0;
}

static int rp_load_from(const rp_query *q, rp_data *out, char **err)
{
    tropt_reader *rd = NULL;
    if (tropt_reader_open(&rd, q->from) != TROPT_OK) {
        *err = dupf("%s", tropt_error_message());
        return -1;
    }
    collect c = {.experiment = q->experiment};
    int rc = tropt_reader_list_runs(rd, collect_run, &c);
    int ret = 0;
    if (c.oom || rc != TROPT_OK) {
        *err = c.oom ? strdup("out of memory") : dupf("%s", tropt_error_message());
        ret = -1;
    }
    /* the reader lists oldest first; ties by id, as the sqlite path */
    if (ret == 0)
        ret = choose_runs(q, c.all, &c.n, err, "the store");
    for (size_t i = 0; ret == 0 && i < c.n; i++) {
        filling fl = {.run = &c.all[i]};
        rc = tropt_reader_read_run(rd, c.all[i].id, fill_event, &fl);
        if (fl.oom || rc != TROPT_OK) {
            *err = fl.oom ? strdup("out of memory")
                          : dupf("cannot read run %s: %s", c.all[i].id, tropt_error_message());
            ret = -1;
        }
        ret = finish_set(&fl.ss, &c.all[i], c.n, q->buckets, ret);
    }
    tropt_reader_free(rd);
    out->runs = c.all;
    out->n = c.n;
    if (ret) {
        rp_free(out);
        if (!*err)
            *err = strdup("out of memory");
    }
    return ret;
}

int rp_load(const rp_query *q, rp_data *out, char **err)
{
    out->runs = NULL;
    out->n = 0;
    *err = NULL;
    if (q->from)
        return rp_load_from(q, out, err);
    sqlite3 *db = NULL;
    char *uri = sqlite3_mprintf("%s", q->db);
    int rc = uri ? sqlite3_open_v2(q->db, &db, SQLITE_OPEN_READONLY, NULL) : SQLITE_NOMEM;
    sqlite3_free(uri);
    if (rc != SQLITE_OK) {
        *err = dupf("cannot open %s: %s", q->db, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close_v2(db);
        return -1;
    }
    sqlite3_busy_timeout(db, 10000);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT run_id, experiment, status, started_at, ended_at, host, pid"
                           " FROM runs ORDER BY started_at, run_id",
                           -1, &st, NULL) != SQLITE_OK) {
        *err =
            dupf("cannot read %s: %s (is it a tropt sqlite database?)", q->db, sqlite3_errmsg(db));
        sqlite3_close_v2(db);
        return -1;
    }
    rp_run *all = NULL;
    size_t n_all = 0, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *exp = (const char *)sqlite3_column_text(st, 1);
        if (q->experiment && (!exp || strcmp(exp, q->experiment) != 0))
            continue;
        if (n_all == cap) {
            cap = cap ? 2 * cap : 64;
            rp_run *a = realloc(all, cap * sizeof *a);
            if (!a) {
                rc = SQLITE_NOMEM;
                break;
            }
            all = a;
        }
        rp_run *r = &all[n_all++];
        memset(r, 0, sizeof *r);
        r->id = dup0((const char *)sqlite3_column_text(st, 0));
        r->experiment = strdup(exp ? exp : "");
        r->status = dup0((const char *)sqlite3_column_text(st, 2));
        r->started = col_real(st, 3);
        r->ended = col_real(st, 4);
        r->host = dup0((const char *)sqlite3_column_text(st, 5));
        r->pid = sqlite3_column_int64(st, 6);
        if (!r->id || !r->experiment) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_finalize(st);
    int ret = 0;
    if (rc != SQLITE_DONE) {
        *err = dupf("cannot read %s: %s", q->db,
                    rc == SQLITE_NOMEM ? "out of memory" : sqlite3_errmsg(db));
        ret = -1;
    }
    if (ret == 0)
        ret = choose_runs(q, all, &n_all, err, q->db);
    for (size_t i = 0; ret == 0 && i < n_all; i++) {
        rp_run *r = &all[i];
        if (read_kv(db, "SELECT key, value FROM params WHERE run_id = ?1 ORDER BY key", r->id,
                    &r->params, &r->n_params) ||
            read_kv(db, "SELECT key, value FROM summary WHERE run_id = ?1 ORDER BY key", r->id,
                    &r->summary, &r->n_summary) ||
            read_metrics(db, r, n_all, q->buckets)) {
            *err = dupf("cannot read run %s from %s: %s", r->id, q->db, sqlite3_errmsg(db));
            ret = -1;
        }
    }
    sqlite3_close_v2(db);
    out->runs = all;
    out->n = n_all;
    if (ret)
        rp_free(out);
    if (ret && !*err)
        *err = strdup("out of memory");
    return ret;
}
