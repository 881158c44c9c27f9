/* core/reader.c - reading back what a backend stored (SPEC 9).
 *
 * A reader is one plugin loaded from a one-backend spec, opened through its
 * ABI 1.1 reader hooks.  The core adds no buffering: events stream from
 * the plugin's callback straight to the caller's. */
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
    int borrowed; /* mod, opts and label belong to a tracker's backend */
};

void tropt_reader_free(tropt_reader *r)
{
    if (!r)
        return;
    if (r->opened)
        r->mod.plugin->reader_close(r->self);
    if (!r->borrowed) {
        if (r->mod.plugin)
            tropt__optvals_free(r->mod.plugin, r->opts);
        tropt__module_close(&r->mod);
        tropt__free(r->label);
    }
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
        size_t n = parsed.n; /* the count, before clearing resets it */
        tropt__spec_clear(&parsed);
        return tropt__error(TROPT_EINVAL,
                            "tropt_reader_open: the spec must name exactly one backend, not %zu "
                            "(a reader reads one store: give the backend to read, such as "
                            "sqlite:path=runs.db)",
                            n);
    }
    tropt_reader *r = tropt__calloc(1, sizeof *r);
    if (!r) {
        tropt__spec_clear(&parsed);
        return tropt__oom();
    }
    const tropt__backend_spec *bs = &parsed.backends[0];
    tropt__host_opts ho; /* host options mean nothing to a reader */
    tropt__host_opts_init(&ho);
    if (!(r->label = tropt__strdup(bs->name))) {
        rc = tropt__oom();
        goto fail;
    }
    if ((rc = tropt__module_load(bs->name, &r->mod)) != TROPT_OK)
        goto fail;
    if (!tropt__plugin_can_read(r->mod.plugin)) {
        rc = tropt__error(TROPT_EPLUGIN,
                          "%s: plugin '%s' cannot read back (it has no reader hooks; readable "
                          "backends: sqlite, pg, csv, jsonl, tensorboard)",
                          r->mod.path, r->mod.plugin->name);
        goto fail;
    }
    rc = tropt__options_validate(r->mod.plugin, r->label, bs->opts, bs->n_opts, &r->opts, &ho);
    tropt__host_opts_clear(&ho);
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

int tropt_reader_list_runs(tropt_reader *r, tropt_run_list_fn fn, void *userdata)
{
    if (!r || !fn)
        return tropt__error(TROPT_EINVAL, "tropt_reader_list_runs: reader or callback is NULL");
    tropt__error_clear();
    int rc = tropt__list_runs_normalized(r->mod.plugin, r->self, fn, userdata);
    return rc == TROPT_OK ? rc : backend_failed(r, rc);
}

static int read_events(tropt_reader *r, const char *run_id, tropt_event_fn fn, void *userdata,
                       int history)
{
    if (!r || !run_id || !fn)
        return tropt__error(TROPT_EINVAL,
                            "tropt_reader_read_run: reader, run id or callback is NULL");
    tropt__error_clear();
    int rc = tropt__read_run_filtered(r->mod.plugin, r->self, run_id, fn, userdata, history);
    return rc == TROPT_OK ? rc : backend_failed(r, rc);
}

int tropt_reader_read_run(tropt_reader *r, const char *run_id, tropt_event_fn fn, void *userdata)
{
    return read_events(r, run_id, fn, userdata, 0);
}

int tropt_reader_read_history(tropt_reader *r, const char *run_id, tropt_event_fn fn,
                              void *userdata)
{
    return read_events(r, run_id, fn, userdata, 1);
}

const tropt_plugin *tropt_reader_plugin(const tropt_reader *r)
{
    return r ? r->mod.plugin : NULL;
}

int tropt__reader_borrow(const tropt__module *mod, const tropt_optval *opts, const char *label,
                         tropt_reader **out)
{
    *out = NULL;
    if (!tropt__plugin_can_read(mod->plugin))
        return tropt__error(TROPT_EPLUGIN, "%s: plugin '%s' cannot read back", label,
                            mod->plugin->name);
    tropt_reader *r = tropt__calloc(1, sizeof *r);
    if (!r)
        return tropt__oom();
    r->mod = *mod;
    r->opts = (tropt_optval *)opts;
    r->label = (char *)label;
    r->borrowed = 1;
    tropt__error_clear();
    tropt__host_for(&r->hx, r->label);
    int rc = r->mod.plugin->reader_open(&r->self, r->opts, &r->hx.pub);
    if (rc != TROPT_OK) {
        rc = backend_failed(r, rc > 0 ? TROPT_EBACKEND : rc);
        tropt__free(r);
        return rc;
    }
    r->opened = 1;
    *out = r;
    return TROPT_OK;
}
