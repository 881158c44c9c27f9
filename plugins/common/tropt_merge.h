/*
 * plugins/common/tropt_merge.h - the fields of one step logged more than
 * once, merged as the core and sqlite keep them: every key the step was
 * given, each with the value of its latest log.  A reader of a store that
 * holds each log of a step apart (a journal line, a CSV row) adds those
 * logs in the order they were written and yields the merge as one step.
 * Part of the plugins' common static library.
 */
#ifndef TROPT_MERGE_H
#define TROPT_MERGE_H

#include <stddef.h>

#include <tropt/plugin.h>

typedef struct tropt_merge {
    const tropt_host *h;
    tropt_field *f; /* n merged fields, in the order their keys came */
    void **mem;     /* mem[i]: the block field i owns (key, and text) */
    size_t n, cap;
} tropt_merge;

/* An empty merge using h's allocator (nothing to free yet). */
void tropt_merge_init(tropt_merge *m, const tropt_host *h);

/* Add n fields of one log (borrowed; copied, a JSON value referenced): a key
 * the merge holds takes the new value, a new key is appended.  Returns 0,
 * or -1 when memory ran out (the merge stays valid; free it). */
int tropt_merge_add(tropt_merge *m, const tropt_field *f, size_t n);

/* Drop every field (the merge can be reused). */
void tropt_merge_clear(tropt_merge *m);

/* Free everything the merge holds. */
void tropt_merge_free(tropt_merge *m);

#endif
