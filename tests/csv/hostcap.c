/*
 * tests/csv/hostcap.c - a test-only plugin that keeps the host services
 * table handed to create(), so the csv suite can call the host's
 * format_real directly (the function every backend formats reals with).
 * Exports hostcap_host() besides the entry point.
 */
#include <tropt/plugin.h>

static const tropt_host *captured;
static int token;

TROPT_PLUGIN_EXPORT const tropt_host *hostcap_host(void);
TROPT_PLUGIN_EXPORT const tropt_host *hostcap_host(void)
{
    return captured;
}

static int cap_create(void **self, const tropt_optval *opts, const tropt_host *host)
{
    (void)opts;
    captured = host;
    *self = &token;
    return TROPT_OK;
}

static int cap_init(void *self, const tropt_run *run, const json_t *config,
                    const tropt_field *params, size_t n_params)
{
    (void)self, (void)run, (void)config, (void)params, (void)n_params;
    return TROPT_OK;
}

static int cap_log(void *self, const tropt_run *run, int64_t step, double time,
                   const tropt_field *fields, size_t n)
{
    (void)self, (void)run, (void)step, (void)time, (void)fields, (void)n;
    return TROPT_OK;
}

static int cap_finish(void *self, const tropt_run *run, const char *status, double ended_at,
                      const json_t *summary, const tropt_field *flat, size_t n_flat)
{
    (void)self, (void)run, (void)status, (void)ended_at, (void)summary, (void)flat, (void)n_flat;
    return TROPT_OK;
}

static void cap_destroy(void *self)
{
    (void)self;
    captured = NULL;
}

static const tropt_plugin cap_plugin = {
    .abi_version = TROPT_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(tropt_plugin),
    .name = "hostcap",
    .description = "test plugin: keeps the host services table",
    .create = cap_create,
    .init = cap_init,
    .log = cap_log,
    .finish = cap_finish,
    .destroy = cap_destroy,
};

TROPT_PLUGIN_EXPORT const tropt_plugin *tropt_plugin_entry(void)
{
    return &cap_plugin;
}
