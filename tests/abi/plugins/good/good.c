/*
 * tests/abi/plugins/good/good.c - small working plugins for the ABI tests.
 *
 *   tropt-ok.so           the smallest plugin that serves (no options).
 *   tropt-allopts.so      declares one option of every type, a range, an
 *                         enum and two secrets (one with a default that must
 *                         never be printed), for `tropt plugins`/`tropt check`.
 *   tropt-futureminor.so  built as if against a later minor of this ABI: a
 *                         larger table with an appended member the host does
 *                         not know.  The host must load it.
 *   tropt-stateless.so    a stateless plugin: create() succeeds with *self
 *                         NULL.  It appends each call it gets to the file of
 *                         its `out` option, so a test sees that every
 *                         successful create is paired with a destroy.
 *
 * Built like a third-party plugin: plugin.h only, nothing of tropt linked.
 */
#include <stdio.h>
#include <string.h>

#include <tropt/plugin.h>

static int token;

static int g_create(void **self, const tropt_optval *opts, const tropt_host *host)
{
    (void)opts;
    (void)host;
    *self = &token;
    return TROPT_OK;
}

static int g_init(void *self, const tropt_run *run, const json_t *config, const tropt_field *params,
                  size_t n_params)
{
    (void)self;
    (void)run;
    (void)config;
    (void)params;
    (void)n_params;
    return TROPT_OK;
}

static int g_log(void *self, const tropt_run *run, int64_t step, double time,
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

static int g_finish(void *self, const tropt_run *run, const char *status, double ended_at,
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

static void g_destroy(void *self)
{
    (void)self;
}

#define HOOKS                                                                                      \
    .create = g_create, .init = g_init, .log = g_log, .finish = g_finish, .flush = NULL,           \
    .destroy = g_destroy

#if defined(GOOD_ALLOPTS)

static const char *const modes[] = {"fast", "safe", "exact", NULL};

static const tropt_option_def options[] = {
    {"label", TROPT_OPT_STRING, 0, "plain-default", NULL, 0, 0, "a free-form label for the run"},
    {"out", TROPT_OPT_PATH, 0, "out/dir-default", NULL, 0, 0, "where the output goes"},
    {"count", TROPT_OPT_INT, TROPT_OPT_HAS_RANGE, "17", NULL, 1, 1000, "how many, 1 to 1000"},
    {"ratio", TROPT_OPT_DOUBLE, 0, "0.375", NULL, 0, 0, "a real-valued knob"},
    {"verbose", TROPT_OPT_BOOL, 0, "false", NULL, 0, 0, "talk more"},
    {"interval", TROPT_OPT_DURATION, 0, "250ms", NULL, 0, 0, "how often to flush"},
    {"mode", TROPT_OPT_ENUM, 0, "safe", modes, 0, 0, "how careful to be"},
    {"token", TROPT_OPT_STRING, TROPT_OPT_SECRET, "hunter2-default", NULL, 0, 0,
     "an API token (secret)"},
    {"pin", TROPT_OPT_INT, TROPT_OPT_SECRET, NULL, NULL, 0, 0, "a numeric secret"},
    {NULL, TROPT_OPT_STRING, 0, NULL, NULL, 0, 0, NULL},
};

static const tropt_plugin table = {
    .abi_version = TROPT_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(tropt_plugin),
    .name = "allopts",
    .description = "declares an option of every type (abi test plugin)",
    .options = options,
    HOOKS,
};

TROPT_PLUGIN_EXPORT const tropt_plugin *tropt_plugin_entry(void)
{
    return &table;
}

#elif defined(GOOD_ABI10)

/* A plugin built against ABI 1.0, before the reader hooks were appended:
 * its table is exactly the 1.0 members (so memory past destroy is not
 * part of it) and says so in abi_version and struct_size. */
typedef struct {
    uint32_t abi_version;
    uint32_t struct_size;
    const char *name;
    const char *description;
    const tropt_option_def *options;
    int (*create)(void **self, const tropt_optval *opts, const tropt_host *host);
    int (*init)(void *self, const tropt_run *run, const json_t *config, const tropt_field *params,
                size_t n_params);
    int (*log)(void *self, const tropt_run *run, int64_t step, double time,
               const tropt_field *fields, size_t n);
    int (*finish)(void *self, const tropt_run *run, const char *status, double ended_at,
                  const json_t *summary, const tropt_field *flat, size_t n_flat);
    int (*flush)(void *self);
    void (*destroy)(void *self);
} plugin_1_0;

static const plugin_1_0 table = {
    .abi_version = (1u << 16) | 0u,
    .struct_size = sizeof(plugin_1_0),
    .name = "abi10",
    .description = "built against plugin ABI 1.0 (abi test plugin)",
    .options = NULL,
    HOOKS,
};

TROPT_PLUGIN_EXPORT const tropt_plugin *tropt_plugin_entry(void)
{
    return (const tropt_plugin *)(const void *)&table;
}

#elif defined(GOOD_FUTURE_MINOR)

/* The table of ABI 1.7, say: 1.0's members, then one more appended. */
typedef struct {
    tropt_plugin base;
    int (*hook_of_the_future)(void *self, int arg);
} future_plugin;

static int g_future(void *self, int arg)
{
    (void)self;
    return arg;
}

static const future_plugin table = {
    .base =
        {
            /* 1.7 through the header's macros, overridden with -D in
             * meson.build (they are overridable for this purpose) */
            .abi_version = TROPT_PLUGIN_ABI_VERSION,
            .struct_size = sizeof(future_plugin),
            .name = "futureminor",
            .description = "built against a later minor of the same ABI (abi test plugin)",
            .options = NULL,
            HOOKS,
        },
    .hook_of_the_future = g_future,
};

TROPT_PLUGIN_EXPORT const tropt_plugin *tropt_plugin_entry(void)
{
    return &table.base;
}

#elif defined(GOOD_STATELESS)

static char out_path[4096];

static int note(const char *call, const void *self)
{
    FILE *f = fopen(out_path, "a");
    if (!f)
        return TROPT_EBACKEND;
    fprintf(f, "%s%s\n", call, self ? " (self is not the NULL create gave)" : "");
    return fclose(f) == 0 ? TROPT_OK : TROPT_EBACKEND;
}

static int s_create(void **self, const tropt_optval *opts, const tropt_host *host)
{
    (void)host;
    snprintf(out_path, sizeof out_path, "%s", opts[0].text);
    *self = NULL; /* nothing to keep per instance */
    return note("create", NULL);
}

static int s_init(void *self, const tropt_run *run, const json_t *config, const tropt_field *params,
                  size_t n_params)
{
    (void)run;
    (void)config;
    (void)params;
    (void)n_params;
    return note("init", self);
}

static int s_log(void *self, const tropt_run *run, int64_t step, double time,
                 const tropt_field *fields, size_t n)
{
    (void)run;
    (void)step;
    (void)time;
    (void)fields;
    (void)n;
    return note("log", self);
}

static int s_finish(void *self, const tropt_run *run, const char *status, double ended_at,
                    const json_t *summary, const tropt_field *flat, size_t n_flat)
{
    (void)run;
    (void)ended_at;
    (void)summary;
    (void)flat;
    (void)n_flat;
    return note(strcmp(status, "finished") == 0 ? "finish" : status, self);
}

static void s_destroy(void *self)
{
    note("destroy", self);
}

static const tropt_option_def options[] = {
    {"out", TROPT_OPT_PATH, TROPT_OPT_REQUIRED, NULL, NULL, 0, 0, "file the calls go to"},
    {NULL, TROPT_OPT_STRING, 0, NULL, NULL, 0, 0, NULL},
};

static const tropt_plugin table = {
    .abi_version = TROPT_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(tropt_plugin),
    .name = "stateless",
    .description = "create gives a NULL instance (abi test plugin)",
    .options = options,
    .create = s_create,
    .init = s_init,
    .log = s_log,
    .finish = s_finish,
    .flush = NULL,
    .destroy = s_destroy,
};

TROPT_PLUGIN_EXPORT const tropt_plugin *tropt_plugin_entry(void)
{
    (void)&token;
    (void)g_create;
    (void)g_init;
    (void)g_log;
    (void)g_finish;
    (void)g_destroy;
    return &table;
}

#else

static const tropt_plugin table = {
    .abi_version = TROPT_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(tropt_plugin),
    .name = "ok",
    .description = "the smallest plugin that serves (abi test plugin)",
    .options = NULL,
    HOOKS,
};

TROPT_PLUGIN_EXPORT const tropt_plugin *tropt_plugin_entry(void)
{
    return &table;
}

#endif
