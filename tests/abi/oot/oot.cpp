// tests/abi/oot/oot.cpp - a plugin written in C++, built out of tree: the
// entry point declared by plugin.h keeps C linkage, and the host loads it.
#include <new>

#include <tropt/plugin.h>

namespace
{

struct instance {
    int steps = 0;
};

const tropt_host *the_host = nullptr;

int create(void **self, const tropt_optval *, const tropt_host *host)
{
    the_host = host;
    instance *i = static_cast<instance *>(host->malloc(sizeof(instance)));
    if (!i)
        return host->error(TROPT_ENOMEM, "out of memory");
    *self = new (i) instance();
    return TROPT_OK;
}

int init(void *self, const tropt_run *, const json_t *, const tropt_field *, size_t)
{
    static_cast<instance *>(self)->steps = 0; // steps count from 0 in each run
    return TROPT_OK;
}

int do_log(void *self, const tropt_run *, int64_t step, double, const tropt_field *, size_t)
{
    instance *i = static_cast<instance *>(self);
    if (step != i->steps++)
        return the_host->error(TROPT_EBACKEND, "step %lld out of order", (long long)step);
    return TROPT_OK;
}

int finish(void *, const tropt_run *, const char *, double, const json_t *, const tropt_field *,
           size_t)
{
    return TROPT_OK;
}

void destroy(void *self)
{
    static_cast<instance *>(self)->~instance();
    the_host->free(self);
}

const tropt_plugin table = {TROPT_PLUGIN_ABI_VERSION,
                            sizeof(tropt_plugin),
                            "cxx",
                            "a C++ plugin",
                            nullptr,
                            create,
                            init,
                            do_log,
                            finish,
                            nullptr,
                            destroy,
                            nullptr, /* ABI 1.1 reader hooks: write-only */
                            nullptr,
                            nullptr,
                            nullptr,
                            nullptr, /* ABI 1.2: no run metadata, marks or samples */
                            nullptr,
                            nullptr,
                            nullptr};

} // namespace

static_assert(TROPT_PLUGIN_MIN_SIZE <= sizeof(tropt_plugin), "min size");

TROPT_PLUGIN_EXPORT const tropt_plugin *tropt_plugin_entry(void)
{
    return &table;
}
