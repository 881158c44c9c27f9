/* bench/host.c - the cost of the host itself: log_fields and log (JSON) into
 * the null backend, against building the same step as a jansson object and
 * against a plain indirect function call that receives the fields. */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

/* ---- baselines ------------------------------------------------------------ */

/* What an optimizer pays to call a do-nothing sink through a pointer, the
 * floor of any pluggable design. */
static volatile int64_t sunk;

typedef int (*sink_fn)(void *self, int64_t step, double time, const tropt_field *f, size_t n);

__attribute__((noinline)) static int sink(void *self, int64_t step, double time,
                                          const tropt_field *f, size_t n)
{
    sunk = step + (int64_t)n + (f != NULL) + (self != NULL) + (time > 0);
    return 0;
}

static sink_fn volatile sink_ptr = sink;

static int run_direct(void *arg, int64_t steps, double *secs)
{
    (void)arg;
    tropt_field f[BENCH_NFIELDS];
    double t0 = bench_mono();
    for (int64_t s = 0; s < steps; s++) {
        bench_fill(s, f);
        sink_ptr(NULL, s, -1.0, f, BENCH_NFIELDS);
    }
    *secs = bench_mono() - t0;
    return 0;
}

/* What a caller of a JSON API pays before the library sees anything. */
static int run_jansson(void *arg, int64_t steps, double *secs)
{
    (void)arg;
    tropt_field f[BENCH_NFIELDS];
    double t0 = bench_mono();
    for (int64_t s = 0; s < steps; s++) {
        bench_fill(s, f);
        json_t *o = json_object();
        for (int i = 0; i < BENCH_NFIELDS; i++)
            json_object_set_new_nocheck(
                o, f[i].key, f[i].type == TROPT_INT ? json_integer(f[i].v.i) : json_real(f[i].v.r));
        sunk = (int64_t)json_object_size(o);
        json_decref(o);
    }
    *secs = bench_mono() - t0;
    return 0;
}

/* ---- the library ---------------------------------------------------------- */

static int run_log_fields(void *arg, int64_t steps, double *secs)
{
    (void)arg;
    return bench_lib_run("null", steps, secs);
}

/* log(JSON) of a prebuilt object whose values are updated in place, so only
 * the library's share (flattening + fan-out) is timed. */
static int run_log_json(void *arg, int64_t steps, double *secs)
{
    (void)arg;
    tropt_tracker *t = NULL;
    if (tropt_tracker_open(&t, "null", "bench", NULL) != TROPT_OK ||
        tropt_tracker_init(t, NULL) != TROPT_OK) {
        fprintf(stderr, "tropt-bench: null: %s\n", tropt_error_message());
        tropt_tracker_free(t);
        return -1;
    }
    json_t *o = json_object();
    json_t *vals[BENCH_NFIELDS];
    for (int i = 0; i < BENCH_NFIELDS; i++) {
        vals[i] = i == BENCH_INT_FIELD ? json_integer(0) : json_real(0);
        json_object_set_new(o, bench_keys[i], vals[i]);
    }
    int rc = 0;
    double t0 = bench_mono();
    for (int64_t s = 0; s < steps; s++) {
        for (int i = 0; i < BENCH_NFIELDS; i++) {
            if (i == BENCH_INT_FIELD)
                json_integer_set(vals[i], bench_ivalue(s));
            else
                json_real_set(vals[i], bench_value(s, i));
        }
        if (tropt_tracker_log(t, o) != TROPT_OK) {
            fprintf(stderr, "tropt-bench: null: log: %s\n", tropt_error_message());
            rc = -1;
            break;
        }
    }
    tropt_tracker_finish(t, NULL);
    *secs = bench_mono() - t0;
    json_decref(o);
    tropt_tracker_free(t);
    return rc;
}

/* ---- many keys per step: the duplicate-key check (issue 17) -------------- */

#define WIDE_KEYS 10000

typedef struct wide_arg {
    tropt_field f[WIDE_KEYS];
    char names[WIDE_KEYS][40];
} wide_arg;

/* Per-layer names share their first and last bytes and differ in the
 * middle; random names differ everywhere.  Same count, similar length. */
static void wide_fill(wide_arg *w, int per_layer)
{
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (int i = 0; i < WIDE_KEYS; i++) {
        if (per_layer) {
            snprintf(w->names[i], sizeof w->names[i], "layers.%d.attention.grad_norm", i);
        } else {
            for (int j = 0; j < 28; j++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                w->names[i][j] = (char)('a' + x % 26);
            }
            w->names[i][28] = 0;
        }
        tropt_field one = TROPT_F_REAL(w->names[i], i * 0.5);
        w->f[i] = one;
    }
}

static int run_wide(void *arg, int64_t steps, double *secs)
{
    wide_arg *w = arg;
    tropt_tracker *t = NULL;
    if (tropt_tracker_open(&t, "null", "bench", NULL) != TROPT_OK ||
        tropt_tracker_init(t, NULL) != TROPT_OK) {
        fprintf(stderr, "tropt-bench: null: %s\n", tropt_error_message());
        tropt_tracker_free(t);
        return -1;
    }
    int rc = 0;
    double t0 = bench_mono();
    for (int64_t s = 0; s < steps && rc == 0; s++) {
        if (tropt_tracker_log_fields(t, w->f, WIDE_KEYS) != TROPT_OK) {
            fprintf(stderr, "tropt-bench: null: log: %s\n", tropt_error_message());
            rc = -1;
        }
    }
    *secs = bench_mono() - t0;
    tropt_tracker_free(t);
    return rc;
}

/* 1 when scenario sc is selected and the null plugin is there (else it
 * is skipped, saying why). */
static int want_with_null(bench_ctx *c, const char *sc)
{
    if (!bench_want(c, sc))
        return 0;
    char path[1024];
    if (!bench_plugin_found("null", path, sizeof path)) {
        bench_skip(c, sc, "plugin tropt-null.so not found on TROPT_PLUGIN_PATH");
        return 0;
    }
    return 1;
}

static void scen_host_keys(bench_ctx *c)
{
    const char *sc = "host-keys";
    if (!want_with_null(c, sc))
        return;
    wide_arg *layer = malloc(sizeof *layer), *rnd = malloc(sizeof *rnd);
    if (!layer || !rnd) {
        free(layer);
        free(rnd);
        bench_fail(c, sc, "out of memory");
        return;
    }
    wide_fill(layer, 1);
    wide_fill(rnd, 0);
    bench_variant v[] = {
        {"log_fields 10,000 per-layer keys -> null", run_wide, layer, 0, 0},
        {"log_fields 10,000 random keys -> null (baseline)", run_wide, rnd, 0, 0},
    };
    /* A step here is one call of 10,000 fields. */
    int64_t steps = c->steps / 100 > 10 ? c->steps / 100 : 10;
    if (bench_interleave(c, v, 2, steps) != 0) {
        bench_fail(c, sc, "a variant failed");
    } else {
        bench_row(c, sc, &v[0], &v[1], "cost", "<=", 1.5,
                  "keys sharing their ends vs random keys, same count");
        bench_row(c, sc, &v[1], NULL, NULL, NULL, 0, NULL);
        bench_ran(c, sc, NULL);
    }
    free(layer);
    free(rnd);
}

void scen_host(bench_ctx *c)
{
    scen_host_keys(c);

    const char *sc = "host";
    if (!want_with_null(c, sc))
        return;
    bench_variant v[] = {
        {"log_fields -> null", run_log_fields, NULL, 0, 0},
        {"jansson object build (baseline)", run_jansson, NULL, 0, 0},
        {"direct call (baseline)", run_direct, NULL, 0, 0},
        {"log(JSON) -> null", run_log_json, NULL, 0, 0},
    };
    /* The host path is short: give it 10x the steps for a stable figure. */
    int64_t steps = c->steps * 10;
    if (bench_interleave(c, v, 4, steps) != 0) {
        bench_fail(c, sc, "a variant failed");
        return;
    }
    bench_row(c, sc, &v[0], &v[1], "cost", "<=", 0.1, "host cost vs building the step in jansson");
    bench_row(c, sc, &v[1], NULL, NULL, NULL, 0, NULL);
    bench_variant vs_direct = v[0];
    vs_direct.name = "log_fields -> null, vs a direct call";
    bench_row(c, sc, &vs_direct, &v[2], "cost", NULL, 0, "host cost vs a direct call");
    bench_row(c, sc, &v[2], NULL, NULL, NULL, 0, NULL);
    bench_row(c, sc, &v[3], &v[1], "cost", NULL, 0,
              "object prebuilt, values updated in place; vs building it");
    bench_ran(c, sc, NULL);
}
