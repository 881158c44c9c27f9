/* core/system.c - the system-metrics sampler of a run (SPEC 16): started
 * when a run opens with the host option sys=INTERVAL, stopped when it
 * closes.  Its records reach the backends' log_system hooks on the
 * sampler's own thread, under the tracker's lock, so that a run killed
 * between two log calls still has them. */
#include <stdatomic.h>
#include <time.h>

#include "sys/sampler.h"
#include "tracker_priv.h"

struct tropt__sys {
    tropt_tracker *t;
    tropt__sampler *s;
    atomic_int closing; /* set by stop: emit touches the tracker no more */
};

/* On the sampler's thread.  The tracker's lock may be held by stop (in
 * finish) while it waits for this thread: never block on it then. */
static void emit(void *ud, double time, const tropt_sample *samples, size_t n)
{
    tropt__sys *sy = ud;
    tropt_tracker *t = sy->t;
    const struct timespec ms = {0, 1000000};
    while (pthread_mutex_trylock(&t->lock) != 0) {
        if (atomic_load(&sy->closing))
            return;
        nanosleep(&ms, NULL);
    }
    if (!atomic_load(&sy->closing) && t->sys == sy && t->active) {
        char saved[1024];
        tropt__error_save(saved, sizeof saved);
        if (tropt__fan_system(t, time, samples, n) != TROPT_OK)
            tropt__log(TROPT_LEVEL_WARNING, "system metrics: %s", tropt_error_message());
        tropt__error_restore(saved);
    }
    pthread_mutex_unlock(&t->lock);
}

/* A sampler left detached ended at last: nobody else holds sy. */
static void release(void *ud)
{
    tropt__free(ud);
}

void tropt__sys_start(tropt_tracker *t)
{
    if (t->hopts.sys_ms <= 0 || t->sys)
        return;
    tropt__sys *sy = tropt__calloc(1, sizeof *sy);
    if (!sy) {
        tropt__log(TROPT_LEVEL_WARNING, "system metrics: out of memory; the run goes on without");
        return;
    }
    sy->t = t;
    tropt__sampler_conf conf = {"/", t->hopts.sys_ms, emit, sy, release};
    char saved[1024];
    tropt__error_save(saved, sizeof saved);
    if (tropt__sampler_start(&sy->s, &conf) != TROPT_OK) {
        tropt__log(TROPT_LEVEL_WARNING, "system metrics: %s; the run goes on without",
                   tropt_error_message());
        tropt__error_restore(saved);
        tropt__free(sy);
        return;
    }
    t->sys = sy;
}

void tropt__sys_stop(tropt_tracker *t)
{
    tropt__sys *sy = t->sys;
    if (!sy)
        return;
    t->sys = NULL;
    atomic_store(&sy->closing, 1);
    if (tropt__sampler_stop(sy->s))
        tropt__free(sy);
    /* else the sampler is stuck in a vendor call and still holds sy: it
     * frees it when it ends (release); closing keeps it off the tracker */
}
