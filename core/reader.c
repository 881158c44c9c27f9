/* core/reader.c - reading back what a backend stored (SPEC 9).
 *
 * A reader is one plugin loaded from a one-backend spec, opened through its
 * ABI 1.1 reader hooks.  The core adds no buffering: events stream from
 * the plugin's callback straight to the caller's. */
#include <math.h>
#include <string.h>

#include "internal.h"

#include <tropt/host.h>

struct tropt_reader {
    tropt__module mod;
    tropt_optval *opts;
    char *label;
    tropt__host_ex hx; /* the instance's services table */
    void *self;
    int opened;
};

void tropt_reader_free(tropt_reader *r)
{
    if (!r)
        return;
    if (r->opened)
        r->mod.plugin->reader_close(r->self);
    if (r->mod.plugin)
        tropt__optvals_free(r->mod.plugin, r->opts);
    tropt__module_close(&r->mod);
    tropt__free(r->label);
    tropt__free(r);
}

/* A plugin's failure code kept in range, its message prefixed. */
static int backend_failed(const tropt_reader *r, int rc)
{
    if (rc > 0)
        return rc; /* the caller's callback stopped the walk */
    if (rc < TROPT_ENOMEM)
        rc = TROPT_EBACKEND;
    tropt__error_prefix(r->label);
    return rc;
}

int tropt_reader_open(tropt_reader **out, const char *spec)
{
    if (!out)
        return tropt__error(TROPT_EINVAL, "tropt_reader_open: out is NULL");
    *out = NULL;
    if (!spec)
        return tropt__error(TROPT_EINVAL, "tropt_reader_open: spec is NULL");
    tropt__spec parsed;
    int rc = tropt__spec_parse(spec, &parsed);
    if (rc)
        return rc;
    if (parsed.n != 1) {
        tropt__spec_clear(&parsed);
        return tropt__error(TROPT_EINVAL,
                            "tropt_reader_open: the spec must name exactly one backend, not %zu",
                            parsed.n);
    }
    tropt_reader *r = tropt__calloc(1, sizeof *r);
    if (!r) {
        tropt__spec_clear(&parsed);
        return tropt__oom();
    }
    const tropt__backend_spec *bs = &parsed.backends[0];
    int warn_only = 0;
    if (!(r->label = tropt__strdup(bs->name))) {
        rc = tropt__oom();
        goto fail;
    }
    if ((rc = tropt__module_load(bs->name, &r->mod)) != TROPT_OK)
        goto fail;
    if (!tropt__plugin_can_read(r->mod.plugin)) {
        rc = tropt__error(TROPT_EPLUGIN,
                          "%s: plugin '%s' cannot read back (it has no reader hooks; readable "
                          "backends: sqlite, csv, jsonl)",
                          r->mod.path, r->mod.plugin->name);
        goto fail;
    }
    rc = tropt__options_validate(r->mod.plugin, r->label, bs->opts, bs->n_opts, &r->opts,
                                 &warn_only);
    if (rc)
        goto fail;
    tropt__error_clear();
    tropt__host_for(&r->hx, r->label);
    rc = r->mod.plugin->reader_open(&r->self, r->opts, &r->hx.pub);
    if (rc != TROPT_OK) {
        rc = backend_failed(r, rc > 0 ? TROPT_EBACKEND : rc);
        goto fail;
    }
    r->opened = 1;
    tropt__spec_clear(&parsed);
    *out = r;
    return TROPT_OK;
fail:
    tropt__spec_clear(&parsed);
    {
        char msg[1024];
        tropt__error_save(msg, sizeof msg);
        tropt_reader_free(r);
        tropt__error_restore(msg);
    }
    return rc;
}

/* The caller's callback and its userdata, behind the status rule. */
typedef struct relay {
    unsigned minor; /* the plugin's ABI minor version */
    tropt_run_list_fn list_fn;
    tropt_event_fn event_fn;
    void *userdata;
    /* read_run: the run as the caller sees it, its status decided once (at
     * the first event) for the whole stream */
    tropt_stored_run run;
    const tropt_stored_run *seen; /* the plugin's pointer it replaces */
} relay;

/* The run as the caller sees it: the members the plugin's ABI has (those
 * of a later minor count as unknown), its status decided by
 * tropt_run_status. */
static tropt_stored_run shown_run(const relay *rl, const tropt_stored_run *run)
{
    tropt_stored_run s = {.run_id = run->run_id,
                          .experiment = run->experiment,
                          .status = run->status,
                          .started_at = run->started_at,
                          .ended_at = run->ended_at,
                          .host = run->host,
                          .pid = run->pid,
                          .n_steps = run->n_steps,
                          .pidns = NULL,
                          .heartbeat_age = NAN,
                          .stale_after = NAN};
    if (rl->minor >= 2) {
        s.pidns = run->pidns;
        s.heartbeat_age = run->heartbeat_age;
        s.stale_after = run->stale_after;
    }
    s.status = tropt_run_status(&s);
    return s;
}

static int relay_run(const tropt_stored_run *run, void *ud)
{
    relay *rl = ud;
    tropt_stored_run shown = shown_run(rl, run);
    return rl->list_fn(&shown, rl->userdata);
}

static int relay_event(const tropt_event *ev, void *ud)
{
    relay *rl = ud;
    if (!ev->run)
        return rl->event_fn(ev, rl->userdata);
    if (rl->seen != ev->run || !rl->run.run_id) {
        const char *status = rl->run.run_id ? rl->run.status : NULL;
        rl->run = shown_run(rl, ev->run);
        if (status)
            rl->run.status = status;
        rl->seen = ev->run;
    }
    tropt_event shown = *ev;
    shown.run = &rl->run;
    return rl->event_fn(&shown, rl->userdata);
}

int tropt_reader_list_runs(tropt_reader *r, tropt_run_list_fn fn, void *userdata)
{
    if (!r || !fn)
        return tropt__error(TROPT_EINVAL, "tropt_reader_list_runs: reader or callback is NULL");
    tropt__error_clear();
    relay rl = {.minor = r->mod.plugin->abi_version & 0xffff, .list_fn = fn, .userdata = userdata};
    int rc = r->mod.plugin->list_runs(r->self, relay_run, &rl);
    return rc == TROPT_OK ? rc : backend_failed(r, rc);
}

int tropt_reader_read_run(tropt_reader *r, const char *run_id, tropt_event_fn fn, void *userdata)
{
    if (!r || !run_id || !fn)
        return tropt__error(TROPT_EINVAL,
                            "tropt_reader_read_run: reader, run id or callback is NULL");
    tropt__error_clear();
    relay rl = {.minor = r->mod.plugin->abi_version & 0xffff, .event_fn = fn, .userdata = userdata};
    int rc = r->mod.plugin->read_run(r->self, run_id, relay_event, &rl);
    return rc == TROPT_OK ? rc : backend_failed(r, rc);
}

const tropt_plugin *tropt_reader_plugin(const tropt_reader *r)
{
    return r ? r->mod.plugin : NULL;
}
