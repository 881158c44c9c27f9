/*
 * plugins/common/tropt_mem.h - memory helpers every plugin needs, through
 * the host's allocator (so tropt_set_allocator and the allocation-failure
 * tests see every byte).  Part of the plugins' common static library.
 */
#ifndef TROPT_MEM_H
#define TROPT_MEM_H

#include <stddef.h>

#include <tropt/plugin.h>

/* A NUL-terminated copy of s, allocated with h->malloc (free with h->free);
 * NULL when memory ran out. */
char *tropt_host_strdup(const tropt_host *h, const char *s);
/* The same for the n bytes at s (which need no NUL); a NUL is added. */
char *tropt_host_strndup(const tropt_host *h, const char *s, size_t n);

/* Grow the array *p of *cap elements of elem bytes to hold at least need
 * elements: the capacity doubles from 16, and a size that would overflow
 * size_t is refused.  Returns 0, or -1 when memory ran out or the size
 * overflowed (then *p and *cap are unchanged). */
int tropt_host_grow(const tropt_host *h, void **p, size_t *cap, size_t need, size_t elem);

/* The same for n parallel arrays that share one capacity *cap (a step's
 * fields and the values they own, say): *arrays[i] holds elem[i]-byte
 * elements.  Returns 0 with every array holding at least need elements and
 * *cap the capacity they all have; -1 when memory ran out or a size
 * overflowed, and then *cap is unchanged (arrays grown before the failure
 * keep their larger, valid allocation; nothing is lost or freed). */
int tropt_host_grow_all(const tropt_host *h, size_t *cap, size_t need, size_t n,
                        void **const arrays[], const size_t elem[]);

#endif
