/*
 * plugins/tensorboard/tb_hooks.c - the hooks of ABI 1.2 (SPEC 14-16): a
 * metadata change and a checkpoint mark of the open run are written before
 * the hook returns (as a step with flush_every=1); system samples follow
 * the flush policy of steps; a change to a stored run, or its deletion, is
 * tb_store.c's.
 */
#include "tb_priv.h"

#include <string.h>

int tb_annotate(void *self, const char *run_id, const tropt_annotation *a)
{
    tb *c = self;
    if (!c->open || strcmp(run_id, c->run_id) != 0)
        return tb_store_annotate(c, run_id, a);
    int rc = tb_room(c, tb_current_step(c));
    if (rc == TROPT_OK)
        rc = tb_queue_note(c, a);
    return rc == TROPT_OK ? tb_attempt(c) : rc;
}

int tb_delete_run(void *self, const char *run_id)
{
    return tb_store_delete(self, run_id);
}

int tb_checkpoint(void *self, const tropt_run *run, const tropt_checkpoint *mark)
{
    tb *c = self;
    (void)run;
    if (!c->open)
        return c->h->error(TROPT_ESTATE, "no open run");
    int rc = tb_room(c, tb_current_step(c));
    if (rc == TROPT_OK)
        rc = tb_queue_mark(c, mark);
    /* stored at once, as durably as a step: a process killed right after
     * the call (and a flush) resumes from this mark */
    return rc == TROPT_OK ? tb_attempt(c) : rc;
}

int tb_log_system(void *self, const tropt_run *run, double time, const tropt_sample *samples,
                  size_t n)
{
    tb *c = self;
    (void)run;
    if (!c->open)
        return c->h->error(TROPT_ESTATE, "no open run");
    int64_t step = tb_current_step(c);
    int rc = tb_room(c, step);
    if (rc == TROPT_OK)
        rc = tb_queue_system(c, time, samples, n);
    return rc == TROPT_OK ? tb_queued(c, step) : rc;
}
