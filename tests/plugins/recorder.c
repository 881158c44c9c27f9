/*
 * tests/plugins/recorder.c - a test backend that writes every hook call it
 * receives, with the exact values, as one line to the file named by its
 * `out` option (the ABI 1.2 hooks included: run metadata, checkpoint marks,
 * system samples), and fails on demand (`fail`, `fail_times`).  It declares
 * one option of every type so option validation can be tested through it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tropt/plugin.h>

static const char *const modes[] = {"a", "b", "c", NULL};
static const char *const hooks[] = {"none", "create", "init", "log", "finish", "flush", NULL};
enum {
    O_OUT,
    O_TAG,
    O_LEVEL,
    O_RATIO,
    O_FLAG,
    O_WAIT,
    O_MODE,
    O_SECRET,
    O_DIR,
    O_FAIL,
    O_TIMES,
    O_CODE,
    O_SILENT,
    O_N
};

static const tropt_option_def options[] = {
    {"out", TROPT_OPT_PATH, 0, NULL, NULL, 0, 0,
     "file the calls are written to (none: not written)"},
    {"tag", TROPT_OPT_STRING, 0, "t", NULL, 0, 0, "a free string"},
    {"level", TROPT_OPT_INT, TROPT_OPT_HAS_RANGE, "3", NULL, 0, 10, "an int in [0, 10]"},
    {"ratio", TROPT_OPT_DOUBLE, TROPT_OPT_HAS_RANGE, "0.5", NULL, 0, 1, "a real in [0, 1]"},
    {"flag", TROPT_OPT_BOOL, 0, "false", NULL, 0, 0, "a bool"},
    {"wait", TROPT_OPT_DURATION, TROPT_OPT_HAS_RANGE, "250ms", NULL, 0, 600000,
     "a duration <= 10m"},
    {"mode", TROPT_OPT_ENUM, 0, "a", modes, 0, 0, "an enum"},
    {"secret_level", TROPT_OPT_INT, TROPT_OPT_SECRET, "4242", NULL, 0, 0, "a secret int"},
    {"dir", TROPT_OPT_PATH, 0, NULL, NULL, 0, 0, "a path without default"},
    {"fail", TROPT_OPT_ENUM, 0, "none", hooks, 0, 0, "which hook fails"},
    {"fail_times", TROPT_OPT_INT, 0, "-1", NULL, 0, 0, "how many times it fails (-1: always)"},
    {"fail_code", TROPT_OPT_INT, 0, "-5", NULL, 0, 0, "the code a failing create returns"},
    {"fail_silent", TROPT_OPT_BOOL, 0, "false", NULL, 0, 0, "a failing create sets no message"},
    {NULL, 0, 0, NULL, NULL, 0, 0, NULL},
};

typedef struct {
    const tropt_host *host;
    FILE *out;
    int fail;
    long long fail_times;
} rec;

static int should_fail(rec *r, int hook)
{
    if (r->fail != hook || r->fail_times == 0)
        return 0;
    if (r->fail_times > 0)
        r->fail_times--;
    return 1;
}

static void put_fields(rec *r, const tropt_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fprintf(r->out, " %s=", f[i].key);
        switch (f[i].type) {
        case TROPT_NULL:
            fputs("null", r->out);
            break;
        case TROPT_BOOL:
            fprintf(r->out, "b:%d", f[i].v.b);
            break;
        case TROPT_INT:
            fprintf(r->out, "i:%lld", (long long)f[i].v.i);
            break;
        case TROPT_REAL: {
            char buf[40];
            r->host->format_real(buf, sizeof buf, f[i].v.r);
            fprintf(r->out, "r:%s", buf);
            break;
        }
        case TROPT_STRING:
            fprintf(r->out, "s:%s", f[i].v.s);
            break;
        case TROPT_JSON: {
            char *j = json_dumps(f[i].v.json, JSON_COMPACT | JSON_ENCODE_ANY);
            fprintf(r->out, "j:%s", j ? j : "?");
            free(j);
            break;
        }
        }
    }
}

static void put_json(rec *r, const char *label, const json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    fprintf(r->out, " %s=%s", label, s ? s : "null");
    free(s);
}

/* The ABI 1.2 members of the run, one "key=value" each (values quoted with
 * [ ] when they may hold spaces). */
static void put_run_v12(rec *r, const tropt_run *run)
{
    const tropt_provenance *p = run->provenance;
    fprintf(r->out, " name=[%s] attempt=%lld from=%lld astart=%.6f key=[%s] pidns=[%s]", run->name,
            (long long)run->attempt, (long long)run->from_step, run->attempt_started_at,
            run->resume_key ? run->resume_key : "", run->pidns ? run->pidns : "");
    fprintf(r->out, " given=%d cmd=[%s] cwd=[%s] git=[%s] version=[%s]", run->given_id,
            p->command ? p->command : "", p->cwd ? p->cwd : "", p->git_commit ? p->git_commit : "",
            p->version ? p->version : "");
}

static int rec_create(void **self, const tropt_optval *o, const tropt_host *host)
{
    if (o[O_FAIL].i == 1)
        return o[O_SILENT].i ? (int)o[O_CODE].i
                             : host->error((int)o[O_CODE].i, "injected create failure");
    rec *r = host->malloc(sizeof *r);
    if (!r)
        return host->error(TROPT_ENOMEM, "out of memory");
    r->host = host;
    r->fail = (int)o[O_FAIL].i;
    r->fail_times = o[O_TIMES].i;
    r->out = NULL;
    if (o[O_OUT].text) {
        r->out = fopen(o[O_OUT].text, "a");
        if (!r->out) {
            host->free(r);
            return host->error(TROPT_EBACKEND, "cannot open %s", o[O_OUT].text);
        }
        fprintf(r->out, "create tag=%s level=%lld ratio=%g flag=%lld wait=%lld mode=%lld dir=%s\n",
                o[O_TAG].text, (long long)o[O_LEVEL].i, o[O_RATIO].d, (long long)o[O_FLAG].i,
                (long long)o[O_WAIT].i, (long long)o[O_MODE].i,
                o[O_DIR].text ? o[O_DIR].text : "-");
        fflush(r->out);
    }
    *self = r;
    return TROPT_OK;
}

static int rec_init(void *self, const tropt_run *run, const json_t *config,
                    const tropt_field *params, size_t n)
{
    rec *r = self;
    if (should_fail(r, 2))
        return r->host->error(TROPT_EBACKEND, "injected init failure");
    if (r->out) {
        fprintf(r->out, "init run=%s exp=%s host=%s pid=%lld start=%.6f", run->run_id,
                run->experiment, run->host, (long long)run->pid, run->started_at);
        if (TROPT_HOST_RUN_V12(r->host))
            put_run_v12(r, run);
        put_json(r, "config", config);
        fputs(" |", r->out);
        put_fields(r, params, n);
        fputc('\n', r->out);
        fflush(r->out);
    }
    return TROPT_OK;
}

static int rec_log(void *self, const tropt_run *run, int64_t step, double time,
                   const tropt_field *f, size_t n)
{
    rec *r = self;
    if (should_fail(r, 3))
        return r->host->error(TROPT_EBACKEND, "injected log failure at step %lld", (long long)step);
    if (r->out) {
        fprintf(r->out, "log run=%s step=%lld time=%.6f n=%zu |", run->run_id, (long long)step,
                time, n);
        put_fields(r, f, n);
        fputc('\n', r->out);
        fflush(r->out);
    }
    return TROPT_OK;
}

static int rec_finish(void *self, const tropt_run *run, const char *status, double ended_at,
                      const json_t *summary, const tropt_field *flat, size_t n)
{
    rec *r = self;
    if (should_fail(r, 4))
        return r->host->error(TROPT_EBACKEND, "injected finish failure");
    if (r->out) {
        fprintf(r->out, "finish run=%s status=%s end=%.6f", run->run_id, status, ended_at);
        put_json(r, "summary", summary);
        fputs(" |", r->out);
        put_fields(r, flat, n);
        fputc('\n', r->out);
        fflush(r->out);
    }
    return TROPT_OK;
}

static int rec_flush(void *self)
{
    rec *r = self;
    if (should_fail(r, 5))
        return r->host->error(TROPT_EBACKEND, "injected flush failure");
    if (r->out) {
        fputs("flush\n", r->out);
        fflush(r->out);
    }
    return TROPT_OK;
}

static int rec_annotate(void *self, const char *run_id, const tropt_annotation *a)
{
    rec *r = self;
    static const char *const kinds[] = {"?", "tag", "untag", "note", "rename"};
    if (r->out) {
        fprintf(r->out, "annotate run=%s kind=%s text=[%s]\n", run_id,
                kinds[a->kind >= 1 && a->kind <= 4 ? a->kind : 0], a->text);
        fflush(r->out);
    }
    return TROPT_OK;
}

static int rec_delete_run(void *self, const char *run_id)
{
    rec *r = self;
    if (r->out) {
        fprintf(r->out, "delete run=%s\n", run_id);
        fflush(r->out);
    }
    return TROPT_OK;
}

static int rec_checkpoint(void *self, const tropt_run *run, const tropt_checkpoint *m)
{
    rec *r = self;
    if (r->out) {
        fprintf(r->out,
                "checkpoint run=%s attempt=%lld seq=%lld step=%lld path=[%s] size=%lld "
                "sha256=%s error=[%s]\n",
                run->run_id, (long long)m->attempt, (long long)m->seq, (long long)m->step, m->path,
                (long long)m->size, m->sha256 ? m->sha256 : "-", m->error ? m->error : "");
        fflush(r->out);
    }
    return TROPT_OK;
}

static int rec_log_system(void *self, const tropt_run *run, double time, const tropt_sample *s,
                          size_t n)
{
    rec *r = self;
    if (r->out) {
        fprintf(r->out, "system run=%s time=%.6f n=%zu |", run->run_id, time, n);
        for (size_t i = 0; i < n; i++) {
            char v[40], m[40];
            r->host->format_real(v, sizeof v, s[i].value);
            r->host->format_real(m, sizeof m, s[i].max);
            fprintf(r->out, " %s=%s/%s", s[i].key, v, m);
        }
        fputc('\n', r->out);
        fflush(r->out);
    }
    return TROPT_OK;
}

static void rec_destroy(void *self)
{
    rec *r = self;
    if (r->out) {
        fputs("destroy\n", r->out);
        fclose(r->out);
    }
    r->host->free(r);
}

static const tropt_plugin plugin = {
    .abi_version = TROPT_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(tropt_plugin),
    .name = "recorder",
    .description = "Test backend: records every call to a file",
    .options = options,
    .create = rec_create,
    .init = rec_init,
    .log = rec_log,
    .finish = rec_finish,
    .flush = rec_flush,
    .destroy = rec_destroy,
    .annotate = rec_annotate,
    .delete_run = rec_delete_run,
    .checkpoint = rec_checkpoint,
    .log_system = rec_log_system,
};

TROPT_PLUGIN_EXPORT const tropt_plugin *tropt_plugin_entry(void)
{
    return &plugin;
}
