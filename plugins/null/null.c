/*
 * plugins/null - tracking switched off.
 *
 * Accepts every call and writes nothing.  It is what an optimizer uses when
 * tracking is off, and what measures the cost of the host itself.  It is
 * also the smallest complete plugin: a hook table, no options, and hooks
 * that do nothing.  Built like any third-party plugin: it includes only
 * <tropt/plugin.h> and links nothing of tropt.
 */
#include <tropt/plugin.h>

/* Instances need no state; hand out a non-NULL token. */
static int null_token;

static int null_create(void **self, const tropt_optval *opts, const tropt_host *host)
{
    (void)opts;
    (void)host;
    *self = &null_token;
    return TROPT_OK;
}

static int null_init(void *self, const tropt_run *run, const json_t *config,
                     const tropt_field *params, size_t n_params)
{
    (void)self;
    (void)run;
    (void)config;
    (void)params;
    (void)n_params;
    return TROPT_OK;
}

static int null_log(void *self, const tropt_run *run, int64_t step, double time,
                    const tropt_field *fields, size_t n)
{
    (void)self;
    (void)run;
    (void)step;
    (void)time;
    (void)fields;
    (void)n;
    return TROPT_OK;
}

static int null_finish(void *self, const tropt_run *run, const char *status, double ended_at,
                       const json_t *summary, const tropt_field *flat, size_t n_flat)
{
    (void)self;
    (void)run;
    (void)status;
    (void)ended_at;
    (void)summary;
    (void)flat;
    (void)n_flat;
    return TROPT_OK;
}

static void null_destroy(void *self)
{
    (void)self;
}

static const tropt_plugin null_plugin = {
    .abi_version = TROPT_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(tropt_plugin),
    .name = "null",
    .description = "Tracking switched off: accepts every call, writes nothing",
    .options = NULL,
    .create = null_create,
    .init = null_init,
    .log = null_log,
    .finish = null_finish,
    .flush = NULL,
    .destroy = null_destroy,
};

TROPT_PLUGIN_EXPORT const tropt_plugin *tropt_plugin_entry(void)
{
    return &null_plugin;
}
