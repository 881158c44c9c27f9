/*
 * tropt-template.c - a complete tropt backend plugin to copy and rename.
 *
 * It appends one text line per event to a file:
 *
 *     run 0192...  experiment=adam
 *     step 0  time=1767225600.25  loss=0.5  acc=0.9  note="warm"
 *     end finished
 *
 * What it shows, in the order a new backend needs it:
 *   - options declared once, by designated index, validated by the host
 *     (types, ranges, defaults) before create() sees them;
 *   - per-instance state from the host's allocator (so allocation-failure
 *     tests reach the plugin) and every error path freeing what it took;
 *   - errors returned as host->error(code, "...") with a message (the host
 *     puts the backend's name in front; logs go through TROPT_HOST_LOG)
 *     naming what failed (never a secret);
 *   - each field type written without loss: integers exact, reals through
 *     host->format_real (shortest text that reads back to the same double;
 *     "nan", "inf", "-inf" for those), strings quoted.
 *
 * The host keeps the call order plugin.h states: create, then runs of
 * init -> log* -> finish, flush at any time, destroy last; a run whose
 * init failed gets no log or finish.
 *
 * Build out of tree with the installed headers only (no link to libtropt):
 *     make            (uses pkg-config tropt; see Makefile)
 * then use it as  TROPT_PLUGIN_PATH=$PWD  and the spec
 *     template:path=events.txt,flush_every=10
 * and check it with `tropt plugins` and `tropt check template:...`.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tropt/plugin.h>

/* ---- Options ------------------------------------------------------------ */

enum { OPT_PATH, OPT_FLUSH_EVERY, N_OPTS };

static const tropt_option_def template_options[] = {
    [OPT_PATH] = TROPT_OPTION_PATH("path", "tropt-template.txt", "file the events are appended to"),
    [OPT_FLUSH_EVERY] =
        TROPT_OPTION_INT("flush_every", "1", 1, 1e6, "write the file's buffer out every N steps"),
    [N_OPTS] = TROPT_OPTIONS_END,
};
TROPT_OPTIONS_CHECK(template_options, N_OPTS);

/* ---- The instance ----------------------------------------------------- */

struct template
{
    const tropt_host *host; /* kept: valid until destroy returns */
    FILE *f;                /* open from create to destroy */
    int64_t flush_every;    /* >= 1 (the host checked the range) */
    int64_t unflushed;      /* steps written since the last fflush */
};

static int io_error(struct template *t, const char *what)
{
    return t->host->error(TROPT_EBACKEND, "cannot %s: %s", what, strerror(errno));
}

static int template_create(void **self, const tropt_optval *opts, const tropt_host *host)
{
    struct template *t = host->malloc(sizeof *t);
    if (!t)
        return host->error(TROPT_ENOMEM, "out of memory");
    t->host = host;
    t->flush_every = opts[OPT_FLUSH_EVERY].i;
    t->unflushed = 0;
    t->f = fopen(opts[OPT_PATH].text, "ae");
    if (!t->f) {
        int code =
            host->error(TROPT_EBACKEND, "cannot open %s: %s", opts[OPT_PATH].text, strerror(errno));
        host->free(t);
        return code;
    }
    *self = t;
    return TROPT_OK;
}

/* ---- Writing ------------------------------------------------------------ */

/* A string in double quotes, with ", \ and control characters escaped. */
static void put_quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\x%02x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void put_fields(struct template *t, const tropt_field *fields, size_t n)
{
    char buf[40];
    for (size_t i = 0; i < n; i++) {
        const tropt_field *fl = &fields[i];
        fprintf(t->f, "  %s=", fl->key);
        switch (fl->type) {
        case TROPT_NULL:
            fputs("null", t->f);
            break;
        case TROPT_BOOL:
            fputs(fl->v.b ? "true" : "false", t->f);
            break;
        case TROPT_INT:
            fprintf(t->f, "%" PRId64, fl->v.i);
            break;
        case TROPT_REAL:
            t->host->format_real(buf, sizeof buf, fl->v.r);
            fputs(buf, t->f);
            break;
        case TROPT_STRING:
            put_quoted(t->f, fl->v.s);
            break;
        case TROPT_JSON: {
            /* Arrays and empty objects arrive whole.  The host's encoder
             * (host version 2) keeps every real a real, bit-exact, and
             * writes NaN/Inf as the event format does; jansson's json_dumps
             * would round reals to 17 digits and write 1.0 as 1.0 but
             * refuse NaN. */
            char *s = TROPT_HOST_HAS(t->host, json_value)
                          ? t->host->json_value(fl, NULL)
                          : json_dumps(fl->v.json, JSON_COMPACT | JSON_ENCODE_ANY);
            fputs(s ? s : "?", t->f);
            if (TROPT_HOST_HAS(t->host, json_value))
                t->host->free(s);
            else
                free(s);
            break;
        }
        }
    }
    fputc('\n', t->f);
}

/* ---- Hooks -------------------------------------------------------------- */

static int template_init(void *self, const tropt_run *run, const json_t *config,
                         const tropt_field *params, size_t n_params)
{
    struct template *t = self;
    (void)config; /* the same as params, unflattened */
    fprintf(t->f, "run %s  experiment=", run->run_id);
    put_quoted(t->f, run->experiment);
    put_fields(t, params, n_params);
    return ferror(t->f) ? io_error(t, "write") : TROPT_OK;
}

static int template_log(void *self, const tropt_run *run, int64_t step, double time,
                        const tropt_field *fields, size_t n)
{
    struct template *t = self;
    char buf[40];
    (void)run;
    t->host->format_real(buf, sizeof buf, time);
    fprintf(t->f, "step %" PRId64 "  time=%s", step, buf);
    put_fields(t, fields, n);
    if (++t->unflushed >= t->flush_every) {
        t->unflushed = 0;
        if (fflush(t->f) != 0)
            return io_error(t, "write");
    }
    return ferror(t->f) ? io_error(t, "write") : TROPT_OK;
}

static int template_finish(void *self, const tropt_run *run, const char *status, double ended_at,
                           const json_t *summary, const tropt_field *flat, size_t n_flat)
{
    struct template *t = self;
    (void)run;
    (void)ended_at;
    (void)summary;
    fprintf(t->f, "end %s", status);
    put_fields(t, flat, n_flat);
    t->unflushed = 0;
    return fflush(t->f) != 0 || ferror(t->f) ? io_error(t, "write") : TROPT_OK;
}

static int template_flush(void *self)
{
    struct template *t = self;
    t->unflushed = 0;
    return fflush(t->f) != 0 ? io_error(t, "write") : TROPT_OK;
}

static void template_destroy(void *self)
{
    struct template *t = self;
    fclose(t->f);
    t->host->free(t);
}

static const tropt_plugin template_plugin = {
    .abi_version = TROPT_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(tropt_plugin),
    .name = "template", /* the <name> of tropt-<name>.so */
    .description = "Template backend: one text line per event, appended to a file",
    .options = template_options,
    .create = template_create,
    .init = template_init,
    .log = template_log,
    .finish = template_finish,
    .flush = template_flush,
    .destroy = template_destroy,
};

TROPT_PLUGIN_EXPORT const tropt_plugin *tropt_plugin_entry(void)
{
    return &template_plugin;
}
