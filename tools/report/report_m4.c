/* tools/report/report_m4.c - streaming M4 downsampling and EMA smoothing
 * (see report_m4.h). */
#include "report_m4.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const double rp_levels[RP_N_LEVELS] = {0.6, 0.8, 0.9, 0.95, 0.99, 0.999};

void rp_m4s_init(rp_m4s *m, size_t max_iv)
{
    memset(m, 0, sizeof *m);
    m->width = 1;
    m->max_iv = max_iv < 2 ? 2 : max_iv;
    for (int l = 0; l < RP_N_LEVELS; l++)
        m->p[l] = 1.0;
}

void rp_m4s_free(rp_m4s *m)
{
    free(m->iv);
    m->iv = NULL;
    m->n = m->cap = 0;
}

/* The earlier point of two kept ones of the same kind. */
static void keep_first(rp_iv *a, const rp_iv *b, int k)
{
    if (!(a->have & 1u << k) && (b->have & 1u << k)) {
        a->pt[k] = b->pt[k];
        a->have |= 1u << k;
    }
}

/* a followed by b, into a. */
static void merge(rp_iv *a, const rp_iv *b)
{
    a->pt[RP_LAST] = b->pt[RP_LAST];
    if ((b->have & 1u << RP_MIN) &&
        (!(a->have & 1u << RP_MIN) || b->pt[RP_MIN].y < a->pt[RP_MIN].y))
        a->pt[RP_MIN] = b->pt[RP_MIN];
    if ((b->have & 1u << RP_MAX) &&
        (!(a->have & 1u << RP_MAX) || b->pt[RP_MAX].y > a->pt[RP_MAX].y))
        a->pt[RP_MAX] = b->pt[RP_MAX];
    a->have |= b->have & (1u << RP_MIN | 1u << RP_MAX);
    keep_first(a, b, RP_NAN);
    keep_first(a, b, RP_PINF);
    keep_first(a, b, RP_NINF);
    a->count += b->count;
    memcpy(a->sm, b->sm, sizeof a->sm);
}

/* Merge neighbours pairwise once: half the intervals, twice the width. */
static void halve(rp_m4s *m)
{
    size_t k = 0;
    for (size_t i = 0; i < m->n; i += 2, k++) {
        m->iv[k] = m->iv[i];
        if (i + 1 < m->n)
            merge(&m->iv[k], &m->iv[i + 1]);
    }
    m->n = k;
    m->width *= 2;
}

void rp_m4s_reduce(rp_m4s *m, size_t max_iv)
{
    if (max_iv < 1)
        max_iv = 1;
    while (m->n > max_iv)
        halve(m);
}

/* The interval the next point goes to, opened if needed; NULL: no memory. */
static rp_iv *open_interval(rp_m4s *m)
{
    if (m->n && m->iv[m->n - 1].count < m->width)
        return &m->iv[m->n - 1];
    if (m->n == m->max_iv) {
        halve(m);
        if (m->iv[m->n - 1].count < m->width)
            return &m->iv[m->n - 1];
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 8;
        if (cap > m->max_iv)
            cap = m->max_iv;
        rp_iv *a = realloc(m->iv, cap * sizeof *a);
        if (!a)
            return NULL;
        m->iv = a;
        m->cap = cap;
    }
    rp_iv *iv = &m->iv[m->n++];
    memset(iv, 0, sizeof *iv);
    return iv;
}

static void smooth(rp_m4s *m, double y, double *sm)
{
    if (isfinite(y)) {
        m->finite++;
        for (int l = 0; l < RP_N_LEVELS; l++) {
            double w = rp_levels[l];
            m->m[l] = w * m->m[l] + (1 - w) * y;
            m->p[l] = w * m->p[l];
        }
    }
    for (int l = 0; l < RP_N_LEVELS; l++)
        sm[l] = m->finite ? m->m[l] / (1 - m->p[l]) : NAN;
}

static void add_point(rp_iv *iv, rp_pt pt)
{
    if (!iv->count++) {
        iv->pt[RP_FIRST] = pt;
        iv->have |= 1u << RP_FIRST | 1u << RP_LAST;
    }
    iv->pt[RP_LAST] = pt;
    int k = isnan(pt.y) ? RP_NAN : pt.y == INFINITY ? RP_PINF : pt.y == -INFINITY ? RP_NINF : -1;
    if (k >= 0) {
        if (!(iv->have & 1u << k))
            iv->pt[k] = pt;
        iv->have |= 1u << k;
        return;
    }
    if (!(iv->have & 1u << RP_MIN) || pt.y < iv->pt[RP_MIN].y)
        iv->pt[RP_MIN] = pt;
    if (!(iv->have & 1u << RP_MAX) || pt.y > iv->pt[RP_MAX].y)
        iv->pt[RP_MAX] = pt;
    iv->have |= 1u << RP_MIN | 1u << RP_MAX;
}

int rp_m4s_push(rp_m4s *m, int64_t step, double time, double y)
{
    rp_iv *iv = open_interval(m);
    if (!iv)
        return -1;
    add_point(iv, (rp_pt){step, time, y});
    smooth(m, y, iv->sm);
    m->points++;
    return 0;
}

size_t rp_m4s_picks(const rp_m4s *m, size_t i, rp_pt *out)
{
    const rp_iv *iv = &m->iv[i];
    size_t k = 0;
    for (int p = 0; p < RP_N_PICKS; p++)
        if (iv->have & 1u << p)
            out[k++] = iv->pt[p];
    /* insertion sort by step, then drop repeats (one point per step) */
    for (size_t a = 1; a < k; a++)
        for (size_t c = a; c > 0 && out[c - 1].step > out[c].step; c--) {
            rp_pt t = out[c];
            out[c] = out[c - 1];
            out[c - 1] = t;
        }
    size_t u = 0;
    for (size_t a = 0; a < k; a++)
        if (u == 0 || out[u - 1].step != out[a].step)
            out[u++] = out[a];
    return u;
}
