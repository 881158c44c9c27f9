/* tools/report/report_keys.c - the keys of a page, in page order (see
 * report_keys.h). */
#include "report_keys.h"

#include <stdlib.h>
#include <string.h>

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Compare the digit runs at *a and *b (within their ends) as numbers;
 * advance both past them. */
static int numcmp(const char **a, const char *ae, const char **b, const char *be)
{
    const char *p = *a, *q = *b;
    while (p + 1 < ae && *p == '0' && is_digit(p[1]))
        p++;
    while (q + 1 < be && *q == '0' && is_digit(q[1]))
        q++;
    size_t lp = 0, lq = 0;
    while (p + lp < ae && is_digit(p[lp]))
        lp++;
    while (q + lq < be && is_digit(q[lq]))
        lq++;
    int c = lp != lq ? (lp < lq ? -1 : 1) : memcmp(p, q, lp);
    *a = p + lp;
    *b = q + lq;
    return c;
}

/* Natural order of a[0..la) and b[0..lb); bytewise when equal so. */
static int natcmp_n(const char *a, size_t la, const char *b, size_t lb)
{
    const char *ae = a + la, *be = b + lb, *a0 = a, *b0 = b;
    while (a < ae && b < be) {
        if (is_digit(*a) && is_digit(*b)) {
            int c = numcmp(&a, ae, &b, be);
            if (c)
                return c;
        } else if (*a != *b)
            return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
        else {
            a++;
            b++;
        }
    }
    if (a < ae || b < be)
        return a < ae ? 1 : -1;
    int c = memcmp(a0, b0, la < lb ? la : lb); /* "x01" and "x1": a total order */
    return c ? c : la < lb ? -1 : la > lb;
}

int rp_natcmp(const char *a, const char *b)
{
    return natcmp_n(a, strlen(a), b, strlen(b));
}

size_t rp_group_len(const char *key)
{
    const char *s = strchr(key, '/');
    return s && s != key ? (size_t)(s - key) : 0;
}

int rp_is_system(const char *key)
{
    return strncmp(key, "sys/", 4) == 0;
}

/* 0: a key of a group, 1: a system metric, 2: an ungrouped key. */
static int metric_class(const char *key, size_t glen)
{
    return rp_is_system(key) ? 1 : glen ? 0 : 2;
}

/* Chart order: grouped keys first, by group, then the system metrics,
 * then the ungrouped keys; naturally within each. */
static int cmp_metric(const void *pa, const void *pb)
{
    const char *a = *(const char *const *)pa, *b = *(const char *const *)pb;
    size_t ga = rp_group_len(a), gb = rp_group_len(b);
    int ca = metric_class(a, ga), cb = metric_class(b, gb);
    if (ca != cb)
        return ca < cb ? -1 : 1;
    int c = natcmp_n(a, ga, b, gb);
    return c ? c : rp_natcmp(a, b);
}

static int cmp_nat(const void *a, const void *b)
{
    return rp_natcmp(*(const char *const *)a, *(const char *const *)b);
}

const rp_series *rp_find_series(const rp_run *r, const char *key)
{
    size_t lo = 0, hi = r->n_series;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(r->series[mid].key, key);
        if (c == 0)
            return &r->series[mid];
        *(c < 0 ? &lo : &hi) = c < 0 ? mid + 1 : mid;
    }
    return NULL;
}

const rp_kv *rp_find_kv(const rp_kv *kv, size_t n, const char *key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(kv[mid].key, key);
        if (c == 0)
            return &kv[mid];
        *(c < 0 ? &lo : &hi) = c < 0 ? mid + 1 : mid;
    }
    return NULL;
}

static size_t count_of(const rp_run *r, int which)
{
    return which == 0 ? r->n_series : which == 1 ? r->n_params : r->n_summary;
}

static const char *key_of(const rp_run *r, int which, size_t j)
{
    return which == 0 ? r->series[j].key : which == 1 ? r->params[j].key : r->summary[j].key;
}

/* Sort and drop repeats (strcmp-equal neighbours after sorting). */
static void sort_unique(rp_keys *k, int which)
{
    qsort(k->key, k->n, sizeof *k->key, which == 0 ? cmp_metric : cmp_nat);
    size_t u = 0;
    for (size_t i = 0; i < k->n; i++)
        if (u == 0 || strcmp(k->key[u - 1], k->key[i]) != 0)
            k->key[u++] = k->key[i];
    k->n = u;
}

static int differs(const rp_data *d, const char *key)
{
    const rp_kv *first = rp_find_kv(d->runs[0].params, d->runs[0].n_params, key);
    for (size_t i = 1; i < d->n; i++) {
        const rp_kv *o = rp_find_kv(d->runs[i].params, d->runs[i].n_params, key);
        if (!first != !o || (first && strcmp(first->value, o->value) != 0))
            return 1;
    }
    return 0;
}

static int is_numeric(const rp_data *d, const char *key)
{
    for (size_t i = 0; i < d->n; i++) {
        const rp_series *s = rp_find_series(&d->runs[i], key);
        if (s && s->rows)
            return 1;
    }
    return 0;
}

int rp_keys_get(const rp_data *d, int which, rp_keys *k)
{
    memset(k, 0, sizeof *k);
    size_t total = 0;
    for (size_t i = 0; i < d->n; i++)
        total += count_of(&d->runs[i], which);
    k->key = malloc((total ? total : 1) * sizeof *k->key);
    if (!k->key)
        return -1;
    for (size_t i = 0; i < d->n; i++)
        for (size_t j = 0; j < count_of(&d->runs[i], which); j++)
            k->key[k->n++] = key_of(&d->runs[i], which, j);
    sort_unique(k, which);
    k->numeric = calloc(k->n ? k->n : 1, 1);
    k->diff = calloc(k->n ? k->n : 1, 1);
    if (!k->numeric || !k->diff) {
        rp_keys_free(k);
        return -1;
    }
    for (size_t i = 0; i < k->n; i++) {
        k->numeric[i] = (char)(which == 0 && is_numeric(d, k->key[i]));
        k->diff[i] = (char)(which == 1 && differs(d, k->key[i]));
    }
    return 0;
}

void rp_keys_free(rp_keys *k)
{
    free(k->key);
    free(k->numeric);
    free(k->diff);
    memset(k, 0, sizeof *k);
}
