/* plugins/common/tropt_mem.c - see tropt_mem.h. */
#include "tropt_mem.h"

#include <stdint.h>
#include <string.h>

char *tropt_host_strndup(const tropt_host *h, const char *s, size_t n)
{
    if (n == SIZE_MAX)
        return NULL;
    char *d = h->malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

char *tropt_host_strdup(const tropt_host *h, const char *s)
{
    return tropt_host_strndup(h, s, strlen(s));
}

int tropt_host_grow(const tropt_host *h, void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    if (elem == 0 || need > SIZE_MAX / elem)
        return -1;
    size_t nc = *cap ? *cap : 16;
    while (nc < need)
        nc = nc > SIZE_MAX / 2 ? need : nc * 2;
    if (nc > SIZE_MAX / elem)
        nc = need;
    void *q = h->realloc(*p, nc * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = nc;
    return 0;
}

int tropt_host_grow_all(const tropt_host *h, size_t *cap, size_t need, size_t n,
                        void **const arrays[], const size_t elem[])
{
    if (need <= *cap)
        return 0;
    size_t all = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        size_t c = *cap;
        if (tropt_host_grow(h, arrays[i], &c, need, elem[i]) != 0)
            return -1;
        if (c < all)
            all = c;
    }
    *cap = all;
    return 0;
}
