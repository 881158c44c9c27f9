/*
 * tests/abi/plugins/dataentry/dataentry.c - a plugin whose
 * "tropt_plugin_entry" is the hook table itself (a data object), not a
 * function returning it: a plausible author's mistake.  The host must
 * refuse it (TROPT_EPLUGIN) instead of jumping into data.  Kept in its own
 * folder so that until the host checks this, only the tests about it fail.
 */
#include <stdlib.h>

#include <tropt/plugin.h>

static int d_create(void **self, const tropt_optval *opts, const tropt_host *host)
{
    (void)self;
    (void)opts;
    (void)host;
    abort();
}

/* plugin.h declares tropt_plugin_entry as a function, so the object gets
 * the name through an asm label. */
TROPT_PLUGIN_EXPORT const tropt_plugin data_entry_table __asm__("tropt_plugin_entry");
TROPT_PLUGIN_EXPORT const tropt_plugin data_entry_table = {
    .abi_version = TROPT_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(tropt_plugin),
    .name = "dataentry",
    .description = "exports the table itself as tropt_plugin_entry",
    .options = NULL,
    .create = d_create,
    .init = NULL,
    .log = NULL,
    .finish = NULL,
    .flush = NULL,
    .destroy = NULL,
};
