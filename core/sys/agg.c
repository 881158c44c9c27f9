/* core/sys/agg.c - the samples of one interval, by key: their mean and
 * their maximum (a 15-second mean hides the spike that killed a job; the
 * maximum does not). */
#include <stdlib.h>
#include <string.h>

#include "sys_priv.h"

int sys_agg_add(sys_agg *g, const char *key, double v)
{
    for (size_t i = 0; i < g->n; i++) {
        sys_acc *a = &g->a[i];
        if (strcmp(a->key, key) == 0) {
            if (a->n == 0 || v > a->max)
                a->max = v;
            a->sum += v;
            a->n++;
            return 0;
        }
    }
    if (g->n == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 16;
        sys_acc *a = realloc(g->a, cap * sizeof *a);
        tropt_sample *o = realloc(g->out, cap * sizeof *o);
        if (a)
            g->a = a;
        if (o)
            g->out = o;
        if (!a || !o)
            return -1;
        g->cap = cap;
    }
    sys_acc *a = &g->a[g->n++];
    memset(a, 0, sizeof *a);
    strncpy(a->key, key, sizeof a->key - 1);
    a->sum = a->max = v;
    a->n = 1;
    return 0;
}

const tropt_sample *sys_agg_emit(sys_agg *g, size_t *n)
{
    size_t k = 0;
    for (size_t i = 0; i < g->n; i++) {
        sys_acc *a = &g->a[i];
        if (a->n == 0)
            continue;
        g->out[k].key = a->key;
        g->out[k].value = a->sum / (double)a->n;
        g->out[k].max = a->max;
        k++;
        a->sum = 0;
        a->n = 0;
    }
    *n = k;
    return g->out;
}

void sys_agg_free(sys_agg *g)
{
    free(g->a);
    free(g->out);
    memset(g, 0, sizeof *g);
}
