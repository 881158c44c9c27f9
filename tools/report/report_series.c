/* tools/report/report_series.c - one run's series as its steps stream in
 * (see report_series.h). */
#include "report_series.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tropt_num.h"

void rp_set_init(rp_set *ss, size_t max_iv)
{
    memset(ss, 0, sizeof *ss);
    ss->max_iv = max_iv;
}

void rp_series_free(rp_series *s)
{
    free(s->key);
    free(s->step);
    free(s->time);
    free(s->y);
    free(s->iv_last);
    free(s->lo);
    free(s->hi);
    free(s->sm);
    free(s->last_text);
}

void rp_set_free(rp_set *ss)
{
    for (size_t i = 0; i < ss->n; i++) {
        rp_series_free(&ss->s[i]);
        rp_m4s_free(&ss->m4[i]);
    }
    free(ss->s);
    free(ss->m4);
    free(ss->tab);
    free(ss->at);
    memset(ss, 0, sizeof *ss);
}

static int rehash(rp_set *ss, size_t cap)
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

static int grow(rp_set *ss)
{
    size_t cap = ss->cap ? 2 * ss->cap : 16;
    rp_series *s = realloc(ss->s, cap * sizeof *s);
    if (!s)
        return -1;
    ss->s = s;
    rp_m4s *m = realloc(ss->m4, cap * sizeof *m);
    if (!m)
        return -1;
    ss->m4 = m;
    ss->cap = cap;
    return 0;
}

/* A new series for key in slot h of the table; (size_t)-1 on no memory. */
static size_t add(rp_set *ss, const char *key, size_t h)
{
    if (ss->n == ss->cap && grow(ss))
        return (size_t)-1;
    rp_series *s = &ss->s[ss->n];
    memset(s, 0, sizeof *s);
    if (!(s->key = strdup(key)))
        return (size_t)-1;
    s->first_nan = s->first_pinf = s->first_ninf = NAN;
    s->last = s->min = s->max = NAN;
    rp_m4s_init(&ss->m4[ss->n], ss->max_iv);
    ss->tab[h] = ++ss->n;
    return ss->n - 1;
}

/* The index of key's series, created if new; (size_t)-1 when out of memory. */
static size_t find(rp_set *ss, const char *key)
{
    if (2 * (ss->n + 1) > ss->tab_cap && rehash(ss, ss->tab_cap ? 2 * ss->tab_cap : 64))
        return (size_t)-1;
    size_t h = (size_t)tropt_hash_str(key, NULL) & (ss->tab_cap - 1);
    while (ss->tab[h]) {
        if (strcmp(ss->s[ss->tab[h] - 1].key, key) == 0)
            return ss->tab[h] - 1;
        h = (h + 1) & (ss->tab_cap - 1);
    }
    return add(ss, key, h);
}

/* Field k's series: the one field k had last step when the key is the
 * same (steps mostly log the same keys in the same order), else looked up. */
static size_t find_at(rp_set *ss, size_t k, const char *key)
{
    if (k < ss->n_at && ss->at[k] && strcmp(ss->s[ss->at[k] - 1].key, key) == 0)
        return ss->at[k] - 1;
    size_t i = find(ss, key);
    if (i == (size_t)-1)
        return i;
    if (k >= ss->n_at) {
        size_t n = 2 * k + 8;
        size_t *a = realloc(ss->at, n * sizeof *a);
        if (!a)
            return (size_t)-1;
        memset(a + ss->n_at, 0, (n - ss->n_at) * sizeof *a);
        ss->at = a;
        ss->n_at = n;
    }
    ss->at[k] = i + 1;
    return i;
}

/* A field's value as the tables show it (malloc'd, NULL on no memory). */
char *rp_field_text(const tropt_field *f)
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
        rp_fmt(b, sizeof b, f->v.r, 17);
        return strdup(b);
    case TROPT_STRING:
        return strdup(f->v.s);
    default:
        return json_dumps(f->v.json, JSON_COMPACT | JSON_ENCODE_ANY);
    }
}

static void count_value(rp_series *s, int64_t step, double v)
{
    s->rows++;
    s->last = v;
    if (isnan(v)) {
        if (!s->nan++)
            s->first_nan = (double)step;
        return;
    }
    if (v == INFINITY && !s->pinf++)
        s->first_pinf = (double)step;
    if (v == -INFINITY && !s->ninf++)
        s->first_ninf = (double)step;
    if (isnan(s->min) || v < s->min)
        s->min = v;
    if (isnan(s->max) || v > s->max)
        s->max = v;
}

static int add_field(rp_set *ss, size_t k, int64_t step, double time, const tropt_field *f)
{
    if (f->type == TROPT_NULL)
        return 0; /* nothing to draw or count: not a NaN */
    size_t i = find_at(ss, k, f->key);
    if (i == (size_t)-1)
        return -1;
    rp_series *s = &ss->s[i];
    if (f->type == TROPT_STRING || f->type == TROPT_JSON) {
        s->n_text++;
        free(s->last_text);
        s->last_text = rp_field_text(f);
        return s->last_text ? 0 : -1;
    }
    double y = f->type == TROPT_REAL  ? f->v.r
               : f->type == TROPT_INT ? (double)f->v.i
                                      : (double)f->v.b;
    if (rp_m4s_push(&ss->m4[i], step, time, y))
        return -1;
    count_value(s, step, y);
    return 0;
}

int rp_set_step(rp_set *ss, int64_t step, double time, const tropt_field *f, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (add_field(ss, k, step, time, &f[k]))
            return -1;
    return 0;
}

/* Every point of m (never merged: width 1) into s. */
static int keep_all(rp_series *s, const rp_m4s *m)
{
    s->width = 1;
    size_t n = m->n ? m->n : 1;
    s->step = malloc(n * sizeof *s->step);
    s->time = malloc(n * sizeof *s->time);
    s->y = malloc(n * sizeof *s->y);
    if (!s->step || !s->time || !s->y)
        return -1;
    for (size_t i = 0; i < m->n; i++) {
        const rp_pt *p = &m->iv[i].pt[RP_LAST];
        s->step[s->n] = p->step;
        s->time[s->n] = p->time;
        s->y[s->n++] = p->y;
    }
    return 0;
}

static int alloc_intervals(rp_series *s, size_t n_iv)
{
    size_t room = n_iv * RP_N_PICKS;
    s->step = malloc(room * sizeof *s->step);
    s->time = malloc(room * sizeof *s->time);
    s->y = malloc(room * sizeof *s->y);
    s->iv_last = malloc(n_iv * sizeof *s->iv_last);
    s->lo = malloc(n_iv * sizeof *s->lo);
    s->hi = malloc(n_iv * sizeof *s->hi);
    s->sm = malloc(n_iv * RP_N_LEVELS * sizeof *s->sm);
    return s->step && s->time && s->y && s->iv_last && s->lo && s->hi && s->sm ? 0 : -1;
}

/* The intervals of m (width > 1) into s: kept points, bands, smoothing. */
static int keep_intervals(rp_series *s, const rp_m4s *m)
{
    s->width = m->width;
    s->n_iv = m->n;
    if (alloc_intervals(s, m->n ? m->n : 1))
        return -1;
    for (size_t i = 0; i < m->n; i++) {
        rp_pt picks[RP_N_PICKS];
        size_t k = rp_m4s_picks(m, i, picks);
        for (size_t j = 0; j < k; j++, s->n++) {
            s->step[s->n] = picks[j].step;
            s->time[s->n] = picks[j].time;
            s->y[s->n] = picks[j].y;
        }
        const rp_iv *iv = &m->iv[i];
        s->iv_last[i] = s->n - 1;
        s->lo[i] = iv->have & 1u << RP_MIN ? iv->pt[RP_MIN].y : NAN;
        s->hi[i] = iv->have & 1u << RP_MAX ? iv->pt[RP_MAX].y : NAN;
        for (int l = 0; l < RP_N_LEVELS; l++)
            s->sm[(size_t)l * m->n + i] = iv->sm[l];
    }
    return 0;
}

static int finish_one(rp_series *s, rp_m4s *m, size_t buckets)
{
    int rc;
    if (m->width == 1 && (buckets == 0 || m->points <= 4 * buckets))
        rc = keep_all(s, m);
    else {
        if (buckets)
            rp_m4s_reduce(m, buckets);
        rc = m->width == 1 ? keep_all(s, m) : keep_intervals(s, m);
    }
    rp_m4s_free(m);
    return rc;
}

static int cmp_series(const void *a, const void *b)
{
    return strcmp(((const rp_series *)a)->key, ((const rp_series *)b)->key);
}

int rp_set_finish(rp_set *ss, size_t buckets, rp_run *run)
{
    int rc = 0;
    for (size_t i = 0; i < ss->n; i++)
        if (finish_one(&ss->s[i], &ss->m4[i], buckets))
            rc = -1;
    if (ss->n)
        qsort(ss->s, ss->n, sizeof *ss->s, cmp_series);
    run->series = ss->s;
    run->n_series = ss->n;
    ss->s = NULL;
    ss->n = 0;
    rp_set_free(ss);
    return rc;
}
