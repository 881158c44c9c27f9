/*
 * plugins/print - watch a run live: the reference interface's print tracker.
 *
 *   run 0190c3a2-... | experiment=adam
 *   config: lr=0.0010 | steps=200 | optimizer=adam
 *   step=   0 | loss=24.2000 | best_loss=24.2000
 *   step=   1 | loss=19.8311 | best_loss=19.8311
 *   ...
 *   summary: best_loss=0.0001 | steps=200
 *   run 0190c3a2-... finished after 200 steps in 1.23 s
 *
 * One line per shown step (every `every` steps, and always the last one),
 * the chosen keys in first-seen order; on a terminal (live=auto|on) the step
 * lines redraw one status line instead.  Writes nothing to disk.  See
 * README.md for the options.
 */
#include <tropt/plugin.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tropt_event.h"
#include "tropt_mem.h"

enum {
    PRINT_OPT_KEYS,
    PRINT_OPT_EVERY,
    PRINT_OPT_PRECISION,
    PRINT_OPT_LIVE,
    PRINT_OPT_STREAM,
    PRINT_OPT_COUNT
};
enum { LIVE_AUTO, LIVE_ON, LIVE_OFF };

static const char *const live_choices[] = {"auto", "on", "off", NULL};
static const char *const stream_choices[] = {"stderr", "stdout", NULL};

static const tropt_option_def print_options[] = {
    [PRINT_OPT_KEYS] = TROPT_OPTION_STRING(
        "keys", 0, "",
        "keys to show, separated by '+' (or ',' inside double quotes); empty: every numeric key"),
    [PRINT_OPT_EVERY] =
        TROPT_OPTION_INT("every", "1", 1, 1e12, "show every Nth step (and always the last)"),
    [PRINT_OPT_PRECISION] =
        TROPT_OPTION_INT("precision", "4", 0, 17, "digits after the point for reals"),
    [PRINT_OPT_LIVE] =
        TROPT_OPTION_ENUM("live", "auto", live_choices,
                          "redraw one status line: auto (when the stream is a terminal), on, off"),
    [PRINT_OPT_STREAM] = TROPT_OPTION_ENUM("stream", "stderr", stream_choices, "where to print"),
    [PRINT_OPT_COUNT] = TROPT_OPTIONS_END,
};
TROPT_OPTIONS_CHECK(print_options, PRINT_OPT_COUNT);

/* Live redraws at most this often; the last step is always drawn. */
#define LIVE_MIN_INTERVAL 0.05

typedef struct pr {
    const tropt_host *h;
    FILE *out;
    int live;
    int64_t every;
    int precision;
    int explicit_keys; /* keys= given: show exactly those, any type */

    char **keys; /* shown keys, first-seen order (or as given) */
    size_t nkeys, kcap;
    const tropt_field **slot; /* per shown key: its field in this step */

    /* the run */
    int open;
    int64_t steps;
    int status_pending; /* a live status line is on screen without newline */
    double last_draw;
    char *pending_line; /* live: the latest step line not yet drawn */
    size_t pending_cap;
    double started;

    tev_buf line; /* scratch: the text being built */
    tev_buf sys;  /* live: the latest system samples, shown after the step */
} pr;

/* ---- text ------------------------------------------------------------------ */

/* Text on one line: control characters shown as \n, \r, \t or \xHH. */
static int put_oneline(pr *p, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        int rc;
        if (ch == '\n')
            rc = tev_buf_puts(&p->line, "\\n");
        else if (ch == '\r')
            rc = tev_buf_puts(&p->line, "\\r");
        else if (ch == '\t')
            rc = tev_buf_puts(&p->line, "\\t");
        else if (ch < 0x20 || ch == 0x7f)
            rc = tev_buf_printf(&p->line, "\\x%02x", ch);
        else
            rc = tev_buf_append(&p->line, s, 1);
        if (rc != 0)
            return -1;
    }
    return 0;
}

static int put_real(pr *p, double x)
{
    if (isnan(x))
        return tev_buf_puts(&p->line, "nan");
    if (isinf(x))
        return tev_buf_puts(&p->line, x > 0 ? "inf" : "-inf");
    double a = fabs(x);
    if (a == 0 || (a >= 1e-4 && a < 1e7))
        return tev_buf_printf(&p->line, "%.*f", p->precision, x);
    return tev_buf_printf(&p->line, "%.*e", p->precision, x);
}

/* Compact JSON with reals at the chosen precision (arrays of a step). */
static int put_json(pr *p, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_NULL:
        return tev_buf_puts(&p->line, "null");
    case JSON_TRUE:
        return tev_buf_puts(&p->line, "true");
    case JSON_FALSE:
        return tev_buf_puts(&p->line, "false");
    case JSON_INTEGER:
        return tev_buf_put_i64(&p->line, (int64_t)json_integer_value(v));
    case JSON_REAL:
        return put_real(p, json_real_value(v));
    case JSON_STRING:
        return tev_buf_puts(&p->line, "\"") || put_oneline(p, json_string_value(v)) ||
               tev_buf_puts(&p->line, "\"");
    case JSON_ARRAY:
        if (tev_buf_puts(&p->line, "[") != 0)
            return -1;
        for (size_t i = 0; i < json_array_size(v); i++)
            if ((i && tev_buf_puts(&p->line, ",") != 0) || put_json(p, json_array_get(v, i)) != 0)
                return -1;
        return tev_buf_puts(&p->line, "]");
    case JSON_OBJECT: {
        const char *k;
        json_t *m;
        int first = 1;
        if (tev_buf_puts(&p->line, "{") != 0)
            return -1;
        json_object_foreach((json_t *)v, k, m)
        {
            if ((!first && tev_buf_puts(&p->line, ",") != 0) || tev_buf_puts(&p->line, "\"") != 0 ||
                put_oneline(p, k) != 0 || tev_buf_puts(&p->line, "\":") != 0 || put_json(p, m) != 0)
                return -1;
            first = 0;
        }
        return tev_buf_puts(&p->line, "}");
    }
    }
    return 0;
}

static int put_value(pr *p, const tropt_field *f)
{
    switch (f->type) {
    case TROPT_NULL:
        return tev_buf_puts(&p->line, "null");
    case TROPT_BOOL:
        return tev_buf_puts(&p->line, f->v.b ? "true" : "false");
    case TROPT_INT:
        return tev_buf_put_i64(&p->line, f->v.i);
    case TROPT_REAL:
        return put_real(p, f->v.r);
    case TROPT_STRING:
        return put_oneline(p, f->v.s);
    case TROPT_JSON:
        return put_json(p, f->v.json);
    }
    return 0;
}

/* "k=v | k=v" for every field; exact: reals in their shortest exact form
 * (for the config: parameters are not rounded). */
static int put_fields(pr *p, const tropt_field *f, size_t n, int exact)
{
    char num[48];
    for (size_t i = 0; i < n; i++) {
        if ((i && tev_buf_puts(&p->line, " | ") != 0) || put_oneline(p, f[i].key) != 0 ||
            tev_buf_puts(&p->line, "=") != 0)
            return -1;
        if (exact && f[i].type == TROPT_REAL) {
            p->h->format_real(num, sizeof num, f[i].v.r);
            if (tev_buf_puts(&p->line, num) != 0)
                return -1;
        } else if (put_value(p, &f[i]) != 0) {
            return -1;
        }
    }
    return 0;
}

/* ---- output ------------------------------------------------------------------ */

static void emit(pr *p, const char *s, size_t n)
{
    fwrite(s, 1, n, p->out);
    fflush(p->out);
}

/* Before a full line (config, summary, a new run): print the latest step
 * if `every` or the live throttle held it back, and end a live status line. */
static void settle(pr *p)
{
    if (p->pending_line && p->pending_line[0]) {
        if (p->live) {
            fputs("\r\033[K", p->out);
            fputs(p->pending_line, p->out);
            p->status_pending = 1;
        } else {
            fputs(p->pending_line, p->out);
            fputc('\n', p->out);
        }
        p->pending_line[0] = '\0';
    }
    if (p->status_pending) {
        fputc('\n', p->out);
        p->status_pending = 0;
    }
    fflush(p->out);
}

/* Print the scratch line as a full line. */
static void emit_line(pr *p)
{
    settle(p);
    if (tev_buf_append(&p->line, "\n", 1) != 0)
        return;
    emit(p, p->line.data, p->line.len);
}

/* ---- keys ----------------------------------------------------------------------- */

static int add_key(pr *p, const char *k, size_t n)
{
    void **const arrays[] = {(void **)&p->keys, (void **)&p->slot};
    const size_t elem[] = {sizeof *p->keys, sizeof *p->slot};
    if (tropt_host_grow_all(p->h, &p->kcap, p->nkeys + 1, 2, arrays, elem) != 0)
        return -1;
    char *d = tropt_host_strndup(p->h, k, n);
    if (!d)
        return -1;
    p->slot[p->nkeys] = NULL;
    p->keys[p->nkeys++] = d;
    return 0;
}

static size_t find_key(const pr *p, const char *k)
{
    for (size_t i = 0; i < p->nkeys; i++)
        if (strcmp(p->keys[i], k) == 0)
            return i;
    return (size_t)-1;
}

static int is_numeric(const tropt_field *f)
{
    return f->type == TROPT_INT || f->type == TROPT_REAL;
}

/* ---- hooks ------------------------------------------------------------------------ */

/* " (name)" and, for a resumed run, " | attempt K from step S" (ABI 1.2). */
static int put_identity(pr *p, const tropt_run *run)
{
    if (!TROPT_HOST_RUN_V12(p->h))
        return 0;
    if (tev_buf_puts(&p->line, " (") != 0 || put_oneline(p, run->name) != 0 ||
        tev_buf_puts(&p->line, ")") != 0)
        return -1;
    if (run->attempt > 1)
        return tev_buf_printf(&p->line, " | attempt %" PRId64 " from step %" PRId64, run->attempt,
                              run->from_step);
    return 0;
}

static int pr_init(void *self, const tropt_run *run, const json_t *config,
                   const tropt_field *params, size_t n_params)
{
    pr *p = self;
    (void)config;
    settle(p);
    p->open = 1;
    p->steps = 0;
    p->last_draw = 0;
    p->started = p->h->now();
    if (!p->explicit_keys) {
        for (size_t i = 0; i < p->nkeys; i++)
            p->h->free(p->keys[i]);
        p->nkeys = 0;
    }
    tev_buf_clear(&p->line);
    tev_buf_clear(&p->sys);
    if (tev_buf_puts(&p->line, "run ") != 0 || tev_buf_puts(&p->line, run->run_id) != 0 ||
        put_identity(p, run) != 0 || tev_buf_puts(&p->line, " | experiment=") != 0 ||
        put_oneline(p, run->experiment) != 0)
        return p->h->error(TROPT_ENOMEM, "out of memory");
    emit_line(p);
    if (n_params) {
        tev_buf_clear(&p->line);
        if (tev_buf_puts(&p->line, "config: ") != 0 || put_fields(p, params, n_params, 1) != 0)
            return p->h->error(TROPT_ENOMEM, "out of memory");
        emit_line(p);
    }
    return TROPT_OK;
}

/* Compose the step line for `step` from the fields of that step. */
static int compose_step(pr *p, int64_t step, const tropt_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t k = find_key(p, f[i].key);
        if (k == (size_t)-1 && !p->explicit_keys && is_numeric(&f[i])) {
            if (add_key(p, f[i].key, strlen(f[i].key)) != 0)
                return -1;
            k = p->nkeys - 1;
        }
        if (k != (size_t)-1)
            p->slot[k] = &f[i];
    }
    tev_buf_clear(&p->line);
    int rc = tev_buf_printf(&p->line, "step=%4" PRId64, step);
    for (size_t k = 0; k < p->nkeys && rc == 0; k++) {
        if (!p->slot[k])
            continue;
        rc = tev_buf_puts(&p->line, " | ") != 0 || put_oneline(p, p->keys[k]) != 0 ||
             tev_buf_puts(&p->line, "=") != 0 || put_value(p, p->slot[k]) != 0;
    }
    for (size_t k = 0; k < p->nkeys; k++)
        p->slot[k] = NULL;
    return rc ? -1 : 0;
}

static int pr_log(void *self, const tropt_run *run, int64_t step, double time,
                  const tropt_field *fields, size_t n)
{
    pr *p = self;
    (void)run;
    (void)time;
    p->steps++;
    /* Composed even when not shown: finish shows the last step. */
    if (compose_step(p, step, fields, n) != 0)
        return p->h->error(TROPT_ENOMEM, "out of memory");
    if (step % p->every == 0) {
        double now = p->live ? p->h->now() : 0;
        if (!p->live) {
            if (p->pending_line)
                p->pending_line[0] = '\0';
            if (tev_buf_append(&p->line, "\n", 1) != 0)
                return p->h->error(TROPT_ENOMEM, "out of memory");
            emit(p, p->line.data, p->line.len);
            return TROPT_OK;
        }
        if (now - p->last_draw >= LIVE_MIN_INTERVAL) {
            if (p->pending_line)
                p->pending_line[0] = '\0';
            fputs("\r\033[K", p->out);
            if (p->sys.len)
                tev_buf_append(&p->line, p->sys.data, p->sys.len); /* best effort */
            emit(p, p->line.data, p->line.len);
            p->status_pending = 1;
            p->last_draw = now;
            return TROPT_OK;
        }
    }
    /* held back: keep it for the next full line */
    if (tropt_host_grow(p->h, (void **)&p->pending_line, &p->pending_cap, p->line.len + 1, 1) != 0)
        return p->h->error(TROPT_ENOMEM, "out of memory");
    memcpy(p->pending_line, p->line.data, p->line.len + 1);
    return TROPT_OK;
}

/* System samples: on a terminal the latest are shown at the end of the
 * live line; otherwise each record is a line of its own. */
static int pr_system(void *self, const tropt_run *run, double time, const tropt_sample *s, size_t n)
{
    pr *p = self;
    (void)run;
    (void)time;
    tev_buf *b = p->live ? &p->sys : &p->line;
    tev_buf_clear(b);
    int rc = tev_buf_puts(b, p->live ? " | sys" : "system:");
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *key = strncmp(s[i].key, "sys/", 4) == 0 ? s[i].key + 4 : s[i].key;
        size_t kl = strlen(key);
        if (kl > 6 && strcmp(key + kl - 6, "_bytes") == 0) /* people read MiB */
            rc = tev_buf_printf(b, " %.*s=%.1fMiB", (int)(kl - 6), key, s[i].value / 1048576.0);
        else
            rc = tev_buf_printf(b, " %s=%.*g", key, p->precision, s[i].value);
    }
    if (rc != 0)
        return p->h->error(TROPT_ENOMEM, "out of memory");
    if (!p->live)
        emit_line(p);
    return TROPT_OK;
}

/* A checkpoint mark, when taken and when its hash is known. */
static int pr_checkpoint(void *self, const tropt_run *run, const tropt_checkpoint *m)
{
    pr *p = self;
    (void)run;
    tev_buf_clear(&p->line);
    int rc = tev_buf_printf(&p->line, "checkpoint after step %" PRId64 ": ", m->step) != 0 ||
             put_oneline(p, m->path) != 0;
    if (rc == 0 && m->sha256)
        rc = tev_buf_printf(&p->line, " (%" PRId64 " bytes, sha256 %s)", m->size, m->sha256);
    else if (rc == 0 && m->error)
        rc = tev_buf_puts(&p->line, " (not hashed: ") != 0 || put_oneline(p, m->error) != 0 ||
             tev_buf_puts(&p->line, ")") != 0;
    if (rc != 0)
        return p->h->error(TROPT_ENOMEM, "out of memory");
    emit_line(p);
    return TROPT_OK;
}

static int pr_flush(void *self)
{
    pr *p = self;
    fflush(p->out);
    return TROPT_OK;
}

static int pr_finish(void *self, const tropt_run *run, const char *status, double ended_at,
                     const json_t *summary, const tropt_field *flat, size_t n_flat)
{
    pr *p = self;
    (void)summary;
    if (!p->open)
        return TROPT_OK;
    if (n_flat) {
        tev_buf_clear(&p->line);
        if (tev_buf_puts(&p->line, "summary: ") != 0 || put_fields(p, flat, n_flat, 0) != 0)
            return p->h->error(TROPT_ENOMEM, "out of memory");
        emit_line(p);
    }
    tev_buf_clear(&p->line);
    if (tev_buf_printf(&p->line, "run %s %s after %" PRId64 " steps in %.2f s", run->run_id, status,
                       p->steps, ended_at - p->started) != 0)
        return p->h->error(TROPT_ENOMEM, "out of memory");
    emit_line(p);
    p->open = 0;
    return TROPT_OK;
}

static void pr_destroy(void *self)
{
    pr *p = self;
    if (!p)
        return;
    settle(p);
    for (size_t i = 0; i < p->nkeys; i++)
        p->h->free(p->keys[i]);
    p->h->free(p->keys);
    p->h->free(p->slot);
    tev_buf_free(&p->line);
    tev_buf_free(&p->sys);
    p->h->free(p->pending_line);
    p->h->free(p);
}

/* keys=a+b+c, or keys="a,b,c" */
static int parse_keys(pr *p, const char *s)
{
    while (*s) {
        size_t n = strcspn(s, "+,");
        while (n && s[0] == ' ')
            s++, n--;
        size_t m = n;
        while (m && s[m - 1] == ' ')
            m--;
        int dup = 0;
        for (size_t i = 0; i < p->nkeys && !dup; i++)
            dup = strlen(p->keys[i]) == m && strncmp(p->keys[i], s, m) == 0;
        if (m && !dup && add_key(p, s, m) != 0)
            return -1;
        s += n;
        if (*s)
            s++;
    }
    return 0;
}

static int pr_create(void **self, const tropt_optval *opts, const tropt_host *host)
{
    if (host->struct_size < TROPT_HOST_MIN_SIZE)
        return host->error(TROPT_EPLUGIN, "host too old for the print plugin");
    pr *p = host->malloc(sizeof *p);
    if (!p)
        return host->error(TROPT_ENOMEM, "out of memory");
    memset(p, 0, sizeof *p);
    p->h = host;
    tev_buf_init(&p->line, host->realloc, host->free);
    tev_buf_init(&p->sys, host->realloc, host->free);
    p->out = opts[PRINT_OPT_STREAM].i == 1 ? stdout : stderr;
    p->every = opts[PRINT_OPT_EVERY].i;
    p->precision = (int)opts[PRINT_OPT_PRECISION].i;
    int live = (int)opts[PRINT_OPT_LIVE].i;
    p->live = live == LIVE_ON || (live == LIVE_AUTO && isatty(fileno(p->out)));
    const char *keys = opts[PRINT_OPT_KEYS].text;
    if (keys && *keys) {
        p->explicit_keys = 1;
        if (parse_keys(p, keys) != 0) {
            pr_destroy(p);
            return host->error(TROPT_ENOMEM, "out of memory");
        }
    }
    *self = p;
    return TROPT_OK;
}

static const tropt_plugin print_plugin = {
    .abi_version = TROPT_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(tropt_plugin),
    .name = "print",
    .description = "Watch a run live: one line per step on stderr (or a status line on a terminal)",
    .options = print_options,
    .create = pr_create,
    .init = pr_init,
    .log = pr_log,
    .finish = pr_finish,
    .flush = pr_flush,
    .destroy = pr_destroy,
    .checkpoint = pr_checkpoint,
    .log_system = pr_system,
};

TROPT_PLUGIN_EXPORT const tropt_plugin *tropt_plugin_entry(void)
{
    return &print_plugin;
}
