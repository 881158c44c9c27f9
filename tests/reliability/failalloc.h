/*
 * tests/reliability/failalloc.h - an allocator that fails the Nth
 * allocation, installed both as tropt's allocator (tropt_set_allocator, which
 * also reaches plugins through host->malloc) and as jansson's
 * (json_set_alloc_funcs).  Every malloc and realloc of either counts.
 *
 * Blocks handed out through tropt's allocator while armed are tracked in a
 * pointer set, so a leak of the library or of a plugin's host->malloc'd
 * state is found deterministically, without a sanitizer.  jansson blocks are
 * tracked in a second set; what is left there is reported, not asserted
 * (jansson strings freed with plain free(), which jansson's own docs allow
 * only with the default allocator, land there).
 */
#ifndef TROPT_FAILALLOC_H
#define TROPT_FAILALLOC_H

#include <stddef.h>

typedef struct fa_stats {
    unsigned long count;       /* allocations since fa_arm */
    int fired;                 /* the armed allocation was failed */
    int fired_in_jansson;      /* ... and it was jansson's */
    size_t tropt_live;         /* tropt-allocator blocks not freed */
    size_t jansson_live;       /* jansson blocks not freed */
    unsigned long cross_frees; /* a block freed through the other allocator */
} fa_stats;

/* Install the hooks (once per process). */
void fa_install(void);
/* Reset the counters and the sets, fail allocation number n (1-based;
 * 0: never fail), start tracking. */
void fa_arm(unsigned long n);
/* Stop failing and tracking; return what happened since fa_arm. */
fa_stats fa_disarm(void);
/* Set when the armed allocation fires: a backtrace is printed (on stderr)
 * when TROPT_REL_VERBOSE is set. */
void fa_set_label(const char *label);
const char *fa_fired_label(void);

#endif
