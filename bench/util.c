/* bench/util.c - the interleaved runner, the step generator, plugin lookup,
 * result records and file helpers of tropt-bench. */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

double bench_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double bench_realtime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_median(double *x, size_t n)
{
    if (n == 0)
        return 0;
    qsort(x, n, sizeof *x, cmp_double);
    return n % 2 ? x[n / 2] : (x[n / 2 - 1] + x[n / 2]) / 2;
}

double bench_quantile(double *sorted, size_t n, double q)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

/* ---- the interleaved runner --------------------------------------------- */

#define MAX_ROUNDS 64

int bench_interleave(bench_ctx *c, bench_variant *v, int nv, int64_t steps)
{
    int rounds = c->rounds < MAX_ROUNDS ? c->rounds : MAX_ROUNDS;
    double ns[8][MAX_ROUNDS];
    if (nv > 8)
        return -1;
    /* Warm-up: caches, page cache, lazy binding, the allocator's arenas. */
    int64_t warm = steps / 10 > 100 ? steps / 10 : 100;
    for (int j = 0; j < nv; j++) {
        double s;
        if (v[j].run(v[j].arg, warm, &s) != 0)
            return -1;
    }
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < nv; k++) {
            int j = (k + r) % nv; /* rotate the order so no variant always goes first */
            double s;
            if (v[j].run(v[j].arg, steps, &s) != 0)
                return -1;
            ns[j][r] = s * 1e9 / (double)steps;
        }
    }
    for (int j = 0; j < nv; j++) {
        v[j].ns_step = bench_median(ns[j], (size_t)rounds);
        v[j].steps = steps;
    }
    return 0;
}

/* ---- the step generator ------------------------------------------------- */

const char *const bench_keys[BENCH_NFIELDS] = {
    "loss", "accuracy", "lr",     "grad_norm",  "perplexity",
    "kl",   "entropy",  "reward", "epoch_frac", "tokens",
};

#define TABLE 4096
static double table[TABLE][BENCH_NFIELDS];

void bench_values_init(void)
{
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < TABLE; i++) {
        for (int k = 0; k < BENCH_NFIELDS; k++) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            double u = (double)(s >> 11) * 0x1.0p-53; /* [0, 1): full precision */
            switch (k) {
            case 2: /* a learning rate: 3e-4 * cosine-ish decay */
                table[i][k] = 3e-4 * (0.5 + 0.5 * u);
                break;
            case 8: /* a short decimal: quarter steps */
                table[i][k] = (double)(i % 400) * 0.25;
                break;
            default:
                table[i][k] = u * (double)(k + 1) * 1.7;
            }
        }
    }
}

double bench_value(int64_t step, int i)
{
    return table[step & (TABLE - 1)][i];
}

int64_t bench_ivalue(int64_t step)
{
    return step * 4096 + 17;
}

void bench_fill(int64_t step, tropt_field *f)
{
    const double *row = table[step & (TABLE - 1)];
    for (int i = 0; i < BENCH_NFIELDS; i++) {
        f[i].key = bench_keys[i];
        f[i].type = TROPT_REAL;
        f[i].v.r = row[i];
    }
    f[BENCH_INT_FIELD].type = TROPT_INT;
    f[BENCH_INT_FIELD].v.i = bench_ivalue(step);
}

/* ---- plugins ------------------------------------------------------------ */

int bench_plugin_found(const char *name, char *path, size_t size)
{
    const char *sp = getenv("TROPT_PLUGIN_PATH");
    char file[PATH_MAX];
    if (sp) {
        const char *p = sp;
        while (*p) {
            const char *e = strchr(p, ':');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            if (len > 0 && p[0] == '/') {
                snprintf(file, sizeof file, "%.*s/tropt-%s.so", (int)len, p, name);
                if (access(file, R_OK) == 0) {
                    snprintf(path, size, "%s", file);
                    return 1;
                }
            }
            p += len;
            if (*p == ':')
                p++;
        }
    }
    snprintf(file, sizeof file, "%s/tropt-%s.so", tropt_plugin_dir(), name);
    if (access(file, R_OK) == 0) {
        snprintf(path, size, "%s", file);
        return 1;
    }
    return 0;
}

typedef struct {
    const char *name;
    const tropt_plugin *found;
    const char *option;
    int has;
} find_arg;

static int visit(const char *path, const tropt_plugin *plugin, const char *error, int shadowed,
                 void *ud)
{
    find_arg *a = ud;
    (void)path;
    (void)error;
    if (!plugin || shadowed || strcmp(plugin->name, a->name) != 0)
        return 0;
    a->found = plugin;
    for (const tropt_option_def *o = plugin->options; o && o->name; o++)
        if (a->option && strcmp(o->name, a->option) == 0)
            a->has = 1;
    return 1;
}

int bench_plugin_has_option(const char *name, const char *option)
{
    find_arg a = {name, NULL, option, 0};
    tropt_plugins_foreach(visit, &a);
    return a.has;
}

const tropt_plugin *bench_plugin_table(const char *name)
{
    find_arg a = {name, NULL, NULL, 0};
    tropt_plugins_foreach(visit, &a);
    return a.found;
}

/* ---- scenario bookkeeping ----------------------------------------------- */

int bench_want(bench_ctx *c, const char *scenario)
{
    if (!c->only)
        return 1;
    /* --only takes a comma-separated list of scenario names or prefixes. */
    const char *p = c->only;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len && strncmp(scenario, p, len) == 0)
            return 1;
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

static void set_status(bench_ctx *c, const char *scenario, const char *status, const char *note)
{
    json_t *o = json_object_get(c->scenarios, scenario);
    if (o && strcmp(json_string_value(json_object_get(o, "status")), "error") == 0)
        return; /* an error sticks */
    json_object_set_new(c->scenarios, scenario,
                        json_pack("{s:s, s:s}", "status", status, "note", note ? note : ""));
}

void bench_skip(bench_ctx *c, const char *scenario, const char *fmt, ...)
{
    char note[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(note, sizeof note, fmt, ap);
    va_end(ap);
    printf("  [skip] %s: %s\n", scenario, note);
    fflush(stdout);
    set_status(c, scenario, "skipped", note);
}

void bench_ran(bench_ctx *c, const char *scenario, const char *note)
{
    set_status(c, scenario, "ran", note);
}

void bench_fail(bench_ctx *c, const char *scenario, const char *fmt, ...)
{
    char note[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(note, sizeof note, fmt, ap);
    va_end(ap);
    fprintf(stderr, "tropt-bench: %s: %s\n", scenario, note);
    set_status(c, scenario, "error", note);
    c->errors++;
}

void bench_row(bench_ctx *c, const char *scenario, const bench_variant *v,
               const bench_variant *base, const char *kind, const char *target_op, double target,
               const char *note)
{
    json_t *row = json_object();
    json_object_set_new(row, "scenario", json_string(scenario));
    json_object_set_new(row, "variant", json_string(v->name));
    json_object_set_new(row, "steps", json_integer(v->steps));
    json_object_set_new(row, "ns_per_step", json_real(v->ns_step));
    json_object_set_new(row, "values_per_s",
                        json_real(v->ns_step > 0 ? BENCH_NFIELDS * 1e9 / v->ns_step : 0));
    if (base && kind) {
        double ratio =
            strcmp(kind, "cost") == 0 ? v->ns_step / base->ns_step : base->ns_step / v->ns_step;
        json_object_set_new(row, "baseline", json_string(base->name));
        json_object_set_new(row, "ratio", json_real(ratio));
        json_object_set_new(row, "ratio_kind", json_string(kind));
        if (target_op) {
            int met = strcmp(target_op, "<=") == 0 ? ratio <= target : ratio >= target;
            json_object_set_new(row, "target", json_sprintf("%s %g", target_op, target));
            json_object_set_new(row, "met", json_boolean(met));
        }
    }
    if (note)
        json_object_set_new(row, "note", json_string(note));
    json_array_append_new(c->results, row);
}

/* ---- files -------------------------------------------------------------- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void bench_rmrf(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int bench_mkdir(bench_ctx *c, const char *name, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", c->tmpdir, name);
    bench_rmrf(out);
    if (mkdir(out, 0700) != 0) {
        fprintf(stderr, "tropt-bench: cannot create %s: %s\n", out, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- the library side --------------------------------------------------- */

int bench_lib_run(const char *spec, int64_t steps, double *secs)
{
    return bench_lib_run_keys(spec, steps, secs, 0);
}

int bench_lib_run_keys(const char *spec, int64_t steps, double *secs, int64_t newkey_every)
{
    char(*names)[32] = NULL;
    if (newkey_every > 0) {
        names = calloc((size_t)(steps / newkey_every + 1), sizeof *names);
        if (!names)
            return -1;
        for (int64_t k = 0; k <= steps / newkey_every; k++)
            snprintf(names[k], sizeof names[k], "extra_%lld", (long long)k);
    }
    tropt_tracker *t = NULL;
    if (tropt_tracker_open(&t, spec, "bench", NULL) != TROPT_OK ||
        tropt_tracker_init(t, NULL) != TROPT_OK) {
        fprintf(stderr, "tropt-bench: %s: %s\n", spec, tropt_error_message());
        tropt_tracker_free(t);
        free(names);
        return -1;
    }
    tropt_field f[BENCH_NFIELDS];
    double t0 = bench_mono();
    for (int64_t s = 0; s < steps; s++) {
        bench_fill(s, f);
        if (names)
            f[8].key = names[s / newkey_every];
        if (tropt_tracker_log_fields(t, f, BENCH_NFIELDS) != TROPT_OK) {
            fprintf(stderr, "tropt-bench: %s: log: %s\n", spec, tropt_error_message());
            tropt_tracker_free(t);
            free(names);
            return -1;
        }
    }
    if (tropt_tracker_finish(t, NULL) != TROPT_OK) {
        fprintf(stderr, "tropt-bench: %s: finish: %s\n", spec, tropt_error_message());
        tropt_tracker_free(t);
        free(names);
        return -1;
    }
    *secs = bench_mono() - t0;
    tropt_tracker_free(t);
    free(names);
    return 0;
}
