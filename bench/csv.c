/* bench/csv.c - the csv backend against a hand-written fprintf("%.17g")
 * loop writing the same wide metrics.csv, and the cost of keys that keep
 * appearing (a new key every 1000 steps) against fixed keys. */
#include <inttypes.h>
#include <stdio.h>

#include "bench.h"

#define NEWKEY_EVERY 1000

typedef struct {
    bench_ctx *c;
    int64_t newkey_every;
    const char *opts; /* extra spec options or NULL */
} csv_arg;

/* One stdio stream, a header, then "%.17g" per real: the usual hand-written
 * CSV writer.  fclose (the final flush) is timed. */
static int run_raw(void *arg, int64_t steps, double *secs)
{
    csv_arg *a = arg;
    char dir[1024], path[1100];
    if (bench_mkdir(a->c, "csv-raw", dir, sizeof dir) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    FILE *fp = fopen(path, "w");
    if (!fp) {
        perror(path);
        return -1;
    }
    tropt_field f[BENCH_NFIELDS];
    double t0 = bench_mono();
    fputs("step,time", fp);
    for (int i = 0; i < BENCH_NFIELDS; i++)
        fprintf(fp, ",%s", bench_keys[i]);
    fputc('\n', fp);
    for (int64_t s = 0; s < steps; s++) {
        bench_fill(s, f);
        fprintf(fp, "%" PRId64 ",%.17g", s, bench_realtime());
        for (int i = 0; i < BENCH_NFIELDS; i++) {
            if (f[i].type == TROPT_INT)
                fprintf(fp, ",%" PRId64, f[i].v.i);
            else
                fprintf(fp, ",%.17g", f[i].v.r);
        }
        fputc('\n', fp);
    }
    int rc = fclose(fp) == 0 ? 0 : -1;
    *secs = bench_mono() - t0;
    bench_rmrf(dir);
    return rc;
}

static int run_lib(void *arg, int64_t steps, double *secs)
{
    csv_arg *a = arg;
    char dir[1024], spec[2048];
    if (bench_mkdir(a->c, "csv-lib", dir, sizeof dir) != 0)
        return -1;
    snprintf(spec, sizeof spec, "csv:dir=%s%s", dir, a->opts ? a->opts : "");
    int rc = bench_lib_run_keys(spec, steps, secs, a->newkey_every);
    bench_rmrf(dir);
    return rc;
}

/* ---- many keys per step (issue 17) -------------------------------------- */

#define WIDE_KEYS 1000

typedef struct {
    bench_ctx *c;
    int nkeys; /* 10 or WIDE_KEYS */
} wide_arg;

/* csv flush_every=1000 with nkeys reals per step, per-layer names
 * ("layers.N.attention.grad_norm"); `steps` counts units of
 * 10 values, so both variants write the same number of values and their
 * ns/step compare per value. */
static int run_keys(void *arg, int64_t steps, double *secs)
{
    wide_arg *a = arg;
    char dir[1024], spec[2048];
    if (bench_mkdir(a->c, "csv-keys", dir, sizeof dir) != 0)
        return -1;
    snprintf(spec, sizeof spec, "csv:dir=%s,flush_every=1000", dir);
    static char names[WIDE_KEYS][40];
    static tropt_field f[WIDE_KEYS];
    for (int i = 0; i < a->nkeys; i++)
        snprintf(names[i], sizeof names[i], "layers.%d.attention.grad_norm", i);
    tropt_tracker *t = NULL;
    int rc = 0;
    if (tropt_tracker_open(&t, spec, "bench", NULL) != TROPT_OK ||
        tropt_tracker_init(t, NULL) != TROPT_OK) {
        fprintf(stderr, "tropt-bench: csv: %s\n", tropt_error_message());
        rc = -1;
    }
    int64_t calls = steps * 10 / a->nkeys;
    double t0 = bench_mono();
    for (int64_t s = 0; rc == 0 && s < calls; s++) {
        for (int i = 0; i < a->nkeys; i++) {
            tropt_field one = TROPT_F_REAL(names[i], (double)s * 0.25 + i);
            f[i] = one;
        }
        if (tropt_tracker_log_fields(t, f, (size_t)a->nkeys) != TROPT_OK) {
            fprintf(stderr, "tropt-bench: csv: log: %s\n", tropt_error_message());
            rc = -1;
        }
    }
    if (rc == 0 && tropt_tracker_finish(t, NULL) != TROPT_OK)
        rc = -1;
    *secs = bench_mono() - t0;
    tropt_tracker_free(t);
    bench_rmrf(dir);
    return rc;
}

void scen_csv(bench_ctx *c)
{
    char path[1024];
    int found = bench_plugin_found("csv", path, sizeof path);
    if (bench_want(c, "csv-wide")) {
        if (!found) {
            bench_skip(c, "csv-wide", "plugin tropt-csv.so not found on TROPT_PLUGIN_PATH");
        } else {
            /* The default writes every row with write(2) before log returns;
             * stdio buffers 4 KiB.  A buffered variant (flush_every=1000)
             * compares the formatting work alone. */
            int buffered = bench_plugin_has_option("csv", "flush_every");
            csv_arg lib = {c, 0, NULL}, raw = {c, 0, NULL}, buf = {c, 0, ",flush_every=1000"};
            bench_variant v[] = {
                {"csv (default: a write(2) per row)", run_lib, &lib, 0, 0},
                {"raw fprintf %.17g, stdio-buffered (baseline)", run_raw, &raw, 0, 0},
                {"csv (flush_every=1000, buffered like stdio)", run_lib, &buf, 0, 0},
            };
            if (bench_interleave(c, v, buffered ? 3 : 2, c->steps) != 0) {
                bench_fail(c, "csv-wide", "a variant failed");
            } else {
                bench_row(c, "csv-wide", &v[0], &v[1], "speed", ">=", 1.5,
                          "shortest round-trip reals, durable per row");
                if (buffered)
                    bench_row(c, "csv-wide", &v[2], &v[1], "speed", ">=", 1.5,
                              "same buffering as the baseline");
                bench_row(c, "csv-wide", &v[1], NULL, NULL, NULL, 0, NULL);
                bench_ran(c, "csv-wide", NULL);
            }
        }
    }
    if (bench_want(c, "csv-keys")) {
        if (!found) {
            bench_skip(c, "csv-keys", "plugin tropt-csv.so not found on TROPT_PLUGIN_PATH");
        } else {
            wide_arg wide = {c, WIDE_KEYS}, narrow = {c, 10};
            bench_variant v[] = {
                {"csv flush_every=1000, 1000 keys per step (per 10 values)", run_keys, &wide, 0, 0},
                {"csv flush_every=1000, 10 keys per step (baseline)", run_keys, &narrow, 0, 0},
            };
            if (bench_interleave(c, v, 2, c->steps) != 0) {
                bench_fail(c, "csv-keys", "a variant failed");
            } else {
                bench_row(c, "csv-keys", &v[0], &v[1], "cost", "<=", 1.5,
                          "cost per value, wide steps vs narrow ones");
                bench_row(c, "csv-keys", &v[1], NULL, NULL, NULL, 0, NULL);
                bench_ran(c, "csv-keys", NULL);
            }
        }
    }
    if (bench_want(c, "csv-newkey")) {
        if (!found) {
            bench_skip(c, "csv-newkey", "plugin tropt-csv.so not found on TROPT_PLUGIN_PATH");
        } else {
            csv_arg nk = {c, NEWKEY_EVERY, NULL}, fixed = {c, 0, NULL},
                    nk_nosync = {c, NEWKEY_EVERY, ",fsync=off"},
                    fixed_nosync = {c, 0, ",fsync=off"};
            bench_variant v[] = {
                {"csv, a new key every 1000 steps", run_lib, &nk, 0, 0},
                {"csv, fixed keys", run_lib, &fixed, 0, 0},
                {"csv, a new key every 1000 steps, fsync=off", run_lib, &nk_nosync, 0, 0},
                {"csv, fixed keys, fsync=off", run_lib, &fixed_nosync, 0, 0},
            };
            if (bench_interleave(c, v, 4, c->steps) != 0) {
                bench_fail(c, "csv-newkey", "a variant failed");
            } else {
                bench_row(c, "csv-newkey", &v[0], &v[1], "cost", "<=", 1.5,
                          "header grows by one column per 1000 steps");
                bench_row(c, "csv-newkey", &v[1], NULL, NULL, NULL, 0, NULL);
                bench_row(c, "csv-newkey", &v[2], &v[3], "cost", NULL, 0,
                          "the same without the fsync of each rewrite");
                bench_row(c, "csv-newkey", &v[3], NULL, NULL, NULL, 0, NULL);
                bench_ran(c, "csv-newkey", NULL);
            }
        }
    }
}
