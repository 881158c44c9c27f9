/* core/alloc.c - the replaceable allocator used by the library and offered
 * to plugins through the host services. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static tropt_allocator current = {malloc, realloc, free};

int tropt_set_allocator(const tropt_allocator *a)
{
    if (!a) {
        current = (tropt_allocator){malloc, realloc, free};
        return TROPT_OK;
    }
    if (!a->malloc || !a->realloc || !a->free)
        return tropt__error(TROPT_EINVAL,
                            "tropt_set_allocator: malloc, realloc and free are all required");
    current = *a;
    return TROPT_OK;
}

void *tropt__malloc(size_t n)
{
    return current.malloc(n ? n : 1);
}

void *tropt__calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    void *p = tropt__malloc(count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

void *tropt__realloc(void *p, size_t n)
{
    return current.realloc(p, n ? n : 1);
}

void tropt__free(void *p)
{
    if (p)
        current.free(p);
}

char *tropt__strndup(const char *s, size_t n)
{
    char *d = tropt__malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *tropt__strdup(const char *s)
{
    return s ? tropt__strndup(s, strlen(s)) : NULL;
}

int tropt__grow(void **buf, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return TROPT_OK;
    size_t ncap = *cap ? *cap : 8;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / elem)
            return tropt__oom();
        ncap *= 2;
    }
    void *nb = tropt__realloc(*buf, ncap * elem);
    if (!nb)
        return tropt__oom();
    *buf = nb;
    *cap = ncap;
    return TROPT_OK;
}
