/*
 * tests/abi/plugins/broken/broken.c - one source, one broken plugin per
 * BROKEN_* macro (see meson.build).  Each file is a way a plugin can fail to
 * serve; the host must refuse every one of them with TROPT_EPLUGIN before
 * calling any hook, so every hook here aborts: a host that calls into a
 * refused plugin crashes the test.
 */
#include <stdio.h>
#include <stdlib.h>

#include <tropt/plugin.h>

/* A variant may leave a hook out of its table. */
#define TEST_UNUSED __attribute__((unused))

/* The host called a hook of a plugin it should have refused. */
static _Noreturn void refused(const char *hook)
{
    fprintf(stderr, "tropt-%s: the host called %s() of a plugin it should have refused\n",
            PLUGIN_FILE, hook);
    abort();
}

TEST_UNUSED static int b_create(void **self, const tropt_optval *opts, const tropt_host *host)
{
    (void)self;
    (void)opts;
    (void)host;
    refused("create");
}

TEST_UNUSED static int b_init(void *self, const tropt_run *run, const json_t *config,
                              const tropt_field *params, size_t n_params)
{
    (void)self;
    (void)run;
    (void)config;
    (void)params;
    (void)n_params;
    refused("init");
}

TEST_UNUSED static int b_log(void *self, const tropt_run *run, int64_t step, double time,
                             const tropt_field *fields, size_t n)
{
    (void)self;
    (void)run;
    (void)step;
    (void)time;
    (void)fields;
    (void)n;
    refused("log");
}

TEST_UNUSED static int b_finish(void *self, const tropt_run *run, const char *status,
                                double ended_at, const json_t *summary, const tropt_field *flat,
                                size_t n_flat)
{
    (void)self;
    (void)run;
    (void)status;
    (void)ended_at;
    (void)summary;
    (void)flat;
    (void)n_flat;
    refused("finish");
}

TEST_UNUSED static void b_destroy(void *self)
{
    (void)self;
    refused("destroy");
}

/* ---- knobs, overridden per broken plugin ------------------------------ */

#ifndef ABI_VERSION
#define ABI_VERSION TROPT_PLUGIN_ABI_VERSION
#endif
#ifndef STRUCT_SIZE
#define STRUCT_SIZE sizeof(tropt_plugin)
#endif
#ifndef PLUGIN_NAME
#define PLUGIN_NAME "broken"
#endif
#ifndef HOOK_CREATE
#define HOOK_CREATE b_create
#endif
#ifndef HOOK_INIT
#define HOOK_INIT b_init
#endif
#ifndef HOOK_LOG
#define HOOK_LOG b_log
#endif
#ifndef HOOK_FINISH
#define HOOK_FINISH b_finish
#endif
#ifndef HOOK_DESTROY
#define HOOK_DESTROY b_destroy
#endif

#if defined(BROKEN_ENUM_NO_CHOICES)
static const char *const no_choices[] = {NULL};
#endif
#if defined(BROKEN_ENUM_BAD_DEFAULT)
static const char *const enum_choices[] = {"fast", "safe", NULL};
#endif

static const tropt_option_def options[] = {
#if defined(BROKEN_ENUM_NO_CHOICES)
    {"mode", TROPT_OPT_ENUM, 0, NULL, no_choices, 0, 0, "an enum with nothing to choose"},
#elif defined(BROKEN_ENUM_NULL_CHOICES)
    {"mode", TROPT_OPT_ENUM, 0, NULL, NULL, 0, 0, "an enum without a choices array"},
#elif defined(BROKEN_BAD_DEFAULT)
    {"count", TROPT_OPT_INT, 0, "twelve", NULL, 0, 0, "an int whose default is not an int"},
#elif defined(BROKEN_DEFAULT_OUT_OF_RANGE)
    {"level", TROPT_OPT_INT, TROPT_OPT_HAS_RANGE, "500", NULL, 0, 100, "default above max"},
#elif defined(BROKEN_RESERVED_NAME)
    {"on_error", TROPT_OPT_STRING, 0, NULL, NULL, 0, 0, "the host owns this name"},
#elif defined(BROKEN_DUPLICATE_OPTION)
    {"path", TROPT_OPT_PATH, 0, NULL, NULL, 0, 0, "first"},
    {"path", TROPT_OPT_STRING, 0, NULL, NULL, 0, 0, "second"},
#elif defined(BROKEN_BAD_OPTION_NAME)
    {"Bad-Name", TROPT_OPT_STRING, 0, NULL, NULL, 0, 0, "not [a-z0-9_]+"},
#elif defined(BROKEN_UPPERCASE_OPTION_NAME)
    {"BadName", TROPT_OPT_STRING, 0, NULL, NULL, 0, 0, "not [a-z0-9_]+ either"},
#elif defined(BROKEN_ENUM_BAD_DEFAULT)
    {"mode", TROPT_OPT_ENUM, 0, "reckless", enum_choices, 0, 0, "default not a choice"},
#elif defined(BROKEN_REQUIRED_WITH_DEFAULT)
    {"url", TROPT_OPT_STRING, TROPT_OPT_REQUIRED, "http://x", NULL, 0, 0, "required, defaulted"},
#elif defined(BROKEN_RANGE_INVERTED)
    {"level", TROPT_OPT_INT, TROPT_OPT_HAS_RANGE, NULL, NULL, 10, 1, "min above max"},
#elif defined(BROKEN_UNKNOWN_TYPE)
    {"weird", (tropt_opt_type)99, 0, NULL, NULL, 0, 0, "a type the host does not know"},
#endif
    {NULL, TROPT_OPT_STRING, 0, NULL, NULL, 0, 0, NULL},
};

static const tropt_plugin table = {
    .abi_version = ABI_VERSION,
    .struct_size = (uint32_t)(STRUCT_SIZE),
    .name = PLUGIN_NAME,
    .description = "a deliberately broken plugin for the ABI tests",
    .options = options,
    .create = HOOK_CREATE,
    .init = HOOK_INIT,
    .log = HOOK_LOG,
    .finish = HOOK_FINISH,
    .flush = NULL,
    .destroy = HOOK_DESTROY,
};

#if defined(BROKEN_UNDEFINED_SYMBOL)
/* Defined nowhere: dlopen(RTLD_NOW) cannot resolve it. */
extern int tropt_abi_test_missing_symbol(void);
#endif

#if defined(BROKEN_NO_ENTRY)
/* Exports a look-alike, but not the entry symbol. */
TROPT_PLUGIN_EXPORT const tropt_plugin *tropt_plugin_entry_v2(void);
TROPT_PLUGIN_EXPORT const tropt_plugin *tropt_plugin_entry_v2(void)
{
    return &table;
}
#else
TROPT_PLUGIN_EXPORT const tropt_plugin *tropt_plugin_entry(void)
{
#if defined(BROKEN_UNDEFINED_SYMBOL)
    if (tropt_abi_test_missing_symbol())
        return NULL;
#endif
#if defined(BROKEN_NULL_TABLE)
    (void)&table; /* built, but never handed out */
    return NULL;
#else
    return &table;
#endif
}
#endif
