/*
 * tests/abi/oot/oot.c - a plugin built the way a third party builds one:
 * compiled at test time, out of the tree, with nothing but the public
 * headers and jansson's flags, -fvisibility=hidden and -Wl,--no-undefined.
 * It writes every call it receives to the file of its `out` option, so the
 * test can check what crossed the ABI: validated options, the host services,
 * the run, step numbers, flattened typed fields, the status, destroy.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <tropt/plugin.h>

typedef struct {
    const tropt_host *host;
    FILE *f;
} oot;

static const char *const modes[] = {"fast", "safe", NULL};

static const tropt_option_def options[] = {
    {"out", TROPT_OPT_PATH, TROPT_OPT_REQUIRED, NULL, NULL, 0, 0, "file the calls are written to"},
    {"level", TROPT_OPT_INT, TROPT_OPT_HAS_RANGE, "1", NULL, 0, 9, "a number, 0 to 9"},
    {"every", TROPT_OPT_DURATION, 0, "2s", NULL, 0, 0, "a duration"},
    {"mode", TROPT_OPT_ENUM, 0, "safe", modes, 0, 0, "an enum"},
    {NULL, TROPT_OPT_STRING, 0, NULL, NULL, 0, 0, NULL},
};

static void put_field(oot *o, const tropt_field *f)
{
    char buf[64];
    fprintf(o->f, " %s=", f->key);
    switch (f->type) {
    case TROPT_NULL:
        fputs("null", o->f);
        break;
    case TROPT_BOOL:
        fputs(f->v.b ? "true" : "false", o->f);
        break;
    case TROPT_INT:
        fprintf(o->f, "%" PRId64, f->v.i);
        break;
    case TROPT_REAL:
        o->host->format_real(buf, sizeof buf, f->v.r);
        fputs(buf, o->f);
        break;
    case TROPT_STRING:
        fprintf(o->f, "\"%s\"", f->v.s);
        break;
    case TROPT_JSON:
        fputs("json", o->f);
        break;
    }
}

static int oot_create(void **self, const tropt_optval *opts, const tropt_host *host)
{
    if (!host || host->version < 1 || host->struct_size < TROPT_HOST_MIN_SIZE || !host->error ||
        !host->log || !host->malloc || !host->realloc || !host->free || !host->now ||
        !host->format_real)
        return TROPT_EPLUGIN;
    oot *o = host->malloc(sizeof *o);
    if (!o)
        return host->error(TROPT_ENOMEM, "out of memory");
    o->host = host;
    o->f = fopen(opts[0].text, "w");
    if (!o->f) {
        host->free(o);
        return host->error(TROPT_EBACKEND, "cannot open %s", opts[0].text);
    }
    fprintf(o->f, "create level=%" PRId64 "%s every=%" PRId64 "ms mode=%" PRId64 "%s\n", opts[1].i,
            opts[1].is_set ? "" : "(default)", opts[2].i, opts[3].i,
            opts[3].is_set ? "" : "(default)");
    *self = o;
    return TROPT_OK;
}

static int oot_init(void *self, const tropt_run *run, const json_t *config,
                    const tropt_field *params, size_t n_params)
{
    oot *o = self;
    fprintf(o->f, "init %s %s config=%s", strlen(run->run_id) == 36 ? "uuid" : run->run_id,
            run->experiment, config ? "object" : "null");
    for (size_t i = 0; i < n_params; i++)
        put_field(o, &params[i]);
    fputc('\n', o->f);
    return TROPT_OK;
}

static int oot_log(void *self, const tropt_run *run, int64_t step, double time,
                   const tropt_field *fields, size_t n)
{
    oot *o = self;
    (void)run;
    double now = o->host->now();
    fprintf(o->f, "log %" PRId64 "%s", step, time > 0 && time <= now ? "" : " (bad time)");
    for (size_t i = 0; i < n; i++)
        put_field(o, &fields[i]);
    fputc('\n', o->f);
    return TROPT_OK;
}

static int oot_finish(void *self, const tropt_run *run, const char *status, double ended_at,
                      const json_t *summary, const tropt_field *flat, size_t n_flat)
{
    oot *o = self;
    (void)summary;
    fprintf(o->f, "finish %s%s", status, ended_at >= run->started_at ? "" : " (bad end)");
    for (size_t i = 0; i < n_flat; i++)
        put_field(o, &flat[i]);
    fputc('\n', o->f);
    return TROPT_OK;
}

static int oot_flush(void *self)
{
    oot *o = self;
    fputs("flush\n", o->f);
    return fflush(o->f) == 0 ? TROPT_OK : o->host->error(TROPT_EBACKEND, "flush failed");
}

static void oot_destroy(void *self)
{
    oot *o = self;
    fputs("destroy\n", o->f);
    fclose(o->f);
    o->host->free(o);
}

static const tropt_plugin table = {
    .abi_version = TROPT_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(tropt_plugin),
    .name = "oot",
    .description = "built out of tree by the abi tests",
    .options = options,
    .create = oot_create,
    .init = oot_init,
    .log = oot_log,
    .finish = oot_finish,
    .flush = oot_flush,
    .destroy = oot_destroy,
};

TROPT_PLUGIN_EXPORT const tropt_plugin *tropt_plugin_entry(void)
{
    return &table;
}
