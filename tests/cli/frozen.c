/*
 * tests/cli/frozen.c - tropt-frozen.so, a plugin as a third party wrote it
 * against ABI 1.1: it reads back (one finished run whose id is its `id`
 * option, no steps) but has no metadata hooks, so `tropt tag`, `note`,
 * `rename` and `rm` on its store get the core's error naming it.  Writing
 * accepts everything and keeps nothing.
 *
 * Built like a third-party plugin: plugin.h only, nothing of tropt linked;
 * its table is the size of ABI 1.1 (up to reader_close).
 */
#include <math.h>
#include <string.h>

#include <tropt/plugin.h>

enum { OPT_ID, OPT_COUNT };
static const tropt_option_def options[] = {
    [OPT_ID] = TROPT_OPTION_STRING("id", 0, "01940000-0000-7000-8000-00000000f00d",
                                   "the id of the one run it holds"),
    [OPT_COUNT] = TROPT_OPTIONS_END,
};
TROPT_OPTIONS_CHECK(options, OPT_COUNT);

typedef struct frozen {
    char id[37];
} frozen;

static frozen the_store;

static int f_create(void **self, const tropt_optval *opts, const tropt_host *host)
{
    (void)opts;
    (void)host;
    *self = &the_store;
    return TROPT_OK;
}

static int f_init(void *self, const tropt_run *run, const json_t *config, const tropt_field *params,
                  size_t n)
{
    (void)self, (void)run, (void)config, (void)params, (void)n;
    return TROPT_OK;
}

static int f_log(void *self, const tropt_run *run, int64_t step, double time,
                 const tropt_field *fields, size_t n)
{
    (void)self, (void)run, (void)step, (void)time, (void)fields, (void)n;
    return TROPT_OK;
}

static int f_finish(void *self, const tropt_run *run, const char *status, double ended_at,
                    const json_t *summary, const tropt_field *flat, size_t n)
{
    (void)self, (void)run, (void)status, (void)ended_at, (void)summary, (void)flat, (void)n;
    return TROPT_OK;
}

static void f_destroy(void *self)
{
    (void)self;
}

static int f_reader_open(void **reader, const tropt_optval *opts, const tropt_host *host)
{
    (void)host;
    frozen *f = &the_store;
    const char *id = opts[OPT_ID].text ? opts[OPT_ID].text : "";
    strncpy(f->id, id, sizeof f->id - 1);
    f->id[sizeof f->id - 1] = '\0';
    *reader = f;
    return TROPT_OK;
}

/* The one run, as ABI 1.1 knows it (the struct's 1.2 members unread). */
static tropt_stored_run the_run(const frozen *f)
{
    tropt_stored_run r;
    memset(&r, 0, sizeof r);
    r.run_id = f->id;
    r.experiment = "frozen";
    r.status = "finished";
    r.started_at = 1700000000;
    r.ended_at = 1700000001;
    r.host = "frozen-host";
    r.pid = 1;
    r.n_steps = 0;
    return r;
}

static int f_list_runs(void *reader, tropt_run_list_fn fn, void *ud)
{
    tropt_stored_run r = the_run(reader);
    return fn(&r, ud);
}

static int f_read_run(void *reader, const char *run_id, tropt_event_fn fn, void *ud)
{
    frozen *f = reader;
    if (strncmp(f->id, run_id, strlen(run_id)) != 0)
        return TROPT_EINVAL;
    tropt_stored_run r = the_run(f);
    tropt_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = TROPT_EVENT_START;
    ev.run = &r;
    ev.ended_at = NAN;
    int rc = fn(&ev, ud);
    if (rc)
        return rc;
    ev.kind = TROPT_EVENT_END;
    ev.status = "finished";
    ev.ended_at = r.ended_at;
    return fn(&ev, ud);
}

static void f_reader_close(void *reader)
{
    (void)reader;
}

static const tropt_plugin plugin = {
    .abi_version = (1 << 16) | 1,
    .struct_size = TROPT_PLUGIN_READER_SIZE,
    .name = "frozen",
    .description = "test fixture: an ABI 1.1 store that reads back one run and keeps no metadata",
    .options = options,
    .create = f_create,
    .init = f_init,
    .log = f_log,
    .finish = f_finish,
    .destroy = f_destroy,
    .reader_open = f_reader_open,
    .list_runs = f_list_runs,
    .read_run = f_read_run,
    .reader_close = f_reader_close,
};

TROPT_PLUGIN_EXPORT const tropt_plugin *tropt_plugin_entry(void)
{
    return &plugin;
}
