/*
 * plugins/csv/csv_keys.c - the key table: keys in first-seen order, their hash, their
 * header cells.
 * See csv_priv.h for the state and who updates it.
 */
#include "csv_priv.h"

#include <string.h>

static int rehash(csv *c, size_t nslots)
{
    size_t *slots = c->h->malloc(nslots * sizeof *slots);
    if (!slots)
        return -1;
    memset(slots, 0, nslots * sizeof *slots);
    for (size_t i = 0; i < c->nkeys; i++) {
        size_t j = (size_t)tropt_hash_str(c->keys[i], NULL) & (nslots - 1);
        while (slots[j])
            j = (j + 1) & (nslots - 1);
        slots[j] = i + 1;
    }
    c->h->free(c->slots);
    c->slots = slots;
    c->nslots = nslots;
    return 0;
}

/* The column of key k, adding it when new.  (size_t)-1 when out of memory. */
size_t key_col(csv *c, const char *k)
{
    if ((c->nkeys + 1) * 2 > c->nslots && rehash(c, c->nslots ? c->nslots * 2 : 64) != 0)
        return (size_t)-1;
    size_t j = (size_t)tropt_hash_str(k, NULL) & (c->nslots - 1);
    while (c->slots[j]) {
        if (strcmp(c->keys[c->slots[j] - 1], k) == 0)
            return c->slots[j] - 1;
        j = (j + 1) & (c->nslots - 1);
    }
    void **const arrays[] = {(void **)&c->keys, (void **)&c->kcell, (void **)&c->kcell_len,
                             (void **)&c->colmap, (void **)&c->ktype};
    const size_t elem[] = {sizeof *c->keys, sizeof *c->kcell, sizeof *c->kcell_len,
                           sizeof *c->colmap, sizeof *c->ktype};
    if (tropt_host_grow_all(c->h, &c->kcap, c->nkeys + 1, 5, arrays, elem) != 0)
        return (size_t)-1;
    size_t n = strlen(k);
    tev_buf cellform;
    tev_buf_init(&cellform, c->h->realloc, c->h->free);
    if (csv_put_cell(&cellform, k, n) != 0)
        return (size_t)-1;
    char *d = c->h->malloc(n + 1 + cellform.len + 1);
    if (d) {
        memcpy(d, k, n + 1);
        memcpy(d + n + 1, cellform.data, cellform.len + 1);
        c->kcell[c->nkeys] = d + n + 1;
        c->kcell_len[c->nkeys] = cellform.len;
    }
    tev_buf_free(&cellform);
    if (!d)
        return (size_t)-1;
    c->colmap[c->nkeys] = 0;
    c->ktype[c->nkeys] = CSV_T_NONE;
    c->keys[c->nkeys] = d;
    /* what put_header writes for it: a comma, the reserved-name mark, the cell */
    c->keybytes += 1 + (uint64_t)reserved_key(k) + c->kcell_len[c->nkeys];
    c->slots[j] = ++c->nkeys;
    return c->nkeys - 1;
}

size_t key_find(csv *c, const char *k)
{
    if (c->nslots == 0)
        return (size_t)-1;
    size_t j = (size_t)tropt_hash_str(k, NULL) & (c->nslots - 1);
    for (; c->slots[j]; j = (j + 1) & (c->nslots - 1))
        if (strcmp(c->keys[c->slots[j] - 1], k) == 0)
            return c->slots[j] - 1;
    return (size_t)-1;
}

void keys_clear(csv *c)
{
    for (size_t i = 0; i < c->nkeys; i++)
        c->h->free(c->keys[i]);
    c->nkeys = 0;
    c->keybytes = 0;
    if (c->slots)
        memset(c->slots, 0, c->nslots * sizeof *c->slots);
}
