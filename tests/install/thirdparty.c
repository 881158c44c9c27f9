/* A plugin written as a third party would: installed headers only, built
 * out of tree with `pkg-config --cflags tropt`.  Counts its steps into the
 * file named by its `out` option. */
#include <stdio.h>

#include <tropt/plugin.h>

static const tropt_option_def opts[] = {
    {"out", TROPT_OPT_PATH, TROPT_OPT_REQUIRED, NULL, NULL, 0, 0, "where to write"},
    {NULL, 0, 0, NULL, NULL, 0, 0, NULL},
};

typedef struct {
    const tropt_host *host;
    FILE *f;
} tp;

static int tp_create(void **self, const tropt_optval *o, const tropt_host *host)
{
    tp *t = host->malloc(sizeof *t);
    if (!t)
        return host->error(TROPT_ENOMEM, "out of memory");
    t->host = host;
    t->f = fopen(o[0].text, "w");
    if (!t->f) {
        host->free(t);
        return host->error(TROPT_EBACKEND, "cannot open %s", o[0].text);
    }
    *self = t;
    return TROPT_OK;
}
static int tp_init(void *s, const tropt_run *r, const json_t *c, const tropt_field *p, size_t n)
{
    (void)c;
    (void)p;
    (void)n;
    fprintf(((tp *)s)->f, "init %s\n", r->run_id);
    return TROPT_OK;
}
static int tp_log(void *s, const tropt_run *r, int64_t step, double t, const tropt_field *f,
                  size_t n)
{
    (void)r;
    (void)t;
    (void)f;
    fprintf(((tp *)s)->f, "log %lld %zu\n", (long long)step, n);
    return TROPT_OK;
}
static int tp_finish(void *s, const tropt_run *r, const char *st, double e, const json_t *j,
                     const tropt_field *f, size_t n)
{
    (void)r;
    (void)e;
    (void)j;
    (void)f;
    (void)n;
    fprintf(((tp *)s)->f, "finish %s\n", st);
    return TROPT_OK;
}
static void tp_destroy(void *s)
{
    tp *t = s;
    fclose(t->f);
    t->host->free(t);
}

static const tropt_plugin plugin = {
    .abi_version = TROPT_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(tropt_plugin),
    .name = "thirdparty",
    .description = "an out-of-tree plugin",
    .options = opts,
    .create = tp_create,
    .init = tp_init,
    .log = tp_log,
    .finish = tp_finish,
    .destroy = tp_destroy,
};

TROPT_PLUGIN_EXPORT const tropt_plugin *tropt_plugin_entry(void)
{
    return &plugin;
}
