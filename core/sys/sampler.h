/*
 * core/sys/sampler.h - the system-metrics sampler (SPEC 16): a thread that
 * samples the process, its cgroup and the GPUs every second and hands the
 * mean and maximum of each key to `emit` every interval.  It never fails a
 * run: a source that is missing, fails or hangs leaves the others going.
 * Every read is under conf->root ("/" normally), so tests run it on fixture
 * trees.
 */
#ifndef TROPT_SYS_SAMPLER_H
#define TROPT_SYS_SAMPLER_H

#include <stdint.h>

#include <tropt/plugin.h>

/* Called on the sampler's thread with one interval's records (borrowed for
 * the call), at wall time `time`. */
typedef void (*tropt__sys_emit_fn)(void *ud, double time, const tropt_sample *samples, size_t n);

typedef struct tropt__sampler_conf {
    const char *root;    /* "/" or a fixture tree */
    int64_t interval_ms; /* >= 1000: one record per key this often */
    tropt__sys_emit_fn emit;
    void *ud;
    /* Called with ud when a sampler that stop left detached ends at last
     * (ud is the caller's to free then); NULL: nothing to do. */
    void (*release)(void *ud);
} tropt__sampler_conf;

typedef struct tropt__sampler tropt__sampler;

/* Start the sampler thread.  Returns TROPT_OK (also when no source can be
 * read: it then records nothing), TROPT_EBACKEND (no thread), TROPT_ENOMEM. */
int tropt__sampler_start(tropt__sampler **out, const tropt__sampler_conf *conf);

/* Ask the thread to stop and wait for it about a second at most.  Returns 1
 * when it ended (everything freed); 0 when it was left detached because it
 * is stuck in a vendor call (it frees itself when that returns and never
 * calls emit again).  NULL is a no-op returning 1. */
int tropt__sampler_stop(tropt__sampler *s);

#endif
