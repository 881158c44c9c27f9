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
