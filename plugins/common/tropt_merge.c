/* plugins/common/tropt_merge.c - see tropt_merge.h. */
#include "tropt_merge.h"

#include <string.h>

#include "tropt_mem.h"

void tropt_merge_init(tropt_merge *m, const tropt_host *h)
{
    memset(m, 0, sizeof *m);
    m->h = h;
}

/* Release what field i owns. */
static void drop(tropt_merge *m, size_t i)
{
    if (m->f[i].type == TROPT_JSON)
        json_decref((json_t *)m->f[i].v.json);
    m->h->free(m->mem[i]);
}

/* *f copied into *out: key and text in one block, stored in *mem. */
static int copy_field(const tropt_host *h, const tropt_field *f, tropt_field *out, void **mem)
{
    size_t kl = strlen(f->key) + 1, vl = f->type == TROPT_STRING ? strlen(f->v.s) + 1 : 0;
    char *b = h->malloc(kl + vl);
    if (!b)
        return -1;
    *out = *f;
    out->key = memcpy(b, f->key, kl);
    if (vl)
        out->v.s = memcpy(b + kl, f->v.s, vl);
    if (f->type == TROPT_JSON)
        json_incref((json_t *)f->v.json);
    *mem = b;
    return 0;
}

static int add_one(tropt_merge *m, const tropt_field *f)
{
    size_t i = 0;
    while (i < m->n && strcmp(m->f[i].key, f->key) != 0)
        i++;
    if (i == m->n) {
        void **const arrays[] = {(void **)&m->f, (void **)&m->mem};
        const size_t elem[] = {sizeof *m->f, sizeof *m->mem};
        if (tropt_host_grow_all(m->h, &m->cap, m->n + 1, 2, arrays, elem) != 0)
            return -1;
    }
    tropt_field nf;
    void *mem;
    if (copy_field(m->h, f, &nf, &mem) != 0)
        return -1;
    if (i < m->n)
        drop(m, i);
    else
        m->n++;
    m->f[i] = nf;
    m->mem[i] = mem;
    return 0;
}

int tropt_merge_add(tropt_merge *m, const tropt_field *f, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (add_one(m, &f[k]) != 0)
            return -1;
    return 0;
}

void tropt_merge_clear(tropt_merge *m)
{
    for (size_t i = 0; i < m->n; i++)
        drop(m, i);
    m->n = 0;
}

void tropt_merge_free(tropt_merge *m)
{
    tropt_merge_clear(m);
    m->h->free(m->f);
    m->h->free(m->mem);
    m->f = NULL;
    m->mem = NULL;
    m->cap = 0;
}
