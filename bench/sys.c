/* bench/sys.c - the system-metrics sampler's cost (issue 32): log_fields
 * latency p50 and p99 to the null backend with sys=1s and without,
 * alternated round by round in one run, and the sampler's own CPU time per
 * sample (its thread's CPU clock, which it reports at debug level). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

typedef struct sys_probe {
    double ms_per_sample; /* the last report, -1 none */
} sys_probe;

static void probe(tropt_level level, const char *message, void *ud)
{
    sys_probe *p = ud;
    const char *tag = strstr(message, " samples, ");
    if (level == TROPT_LEVEL_DEBUG && strstr(message, "system metrics: ") && tag)
        p->ms_per_sample = strtod(tag + strlen(" samples, "), NULL);
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* One round: `seconds` of log_fields to spec; p50/p99 in ns. */
static int round_once(const char *spec, double seconds, double *p50, double *p99)
{
    size_t cap = 8000000, n = 0;
    double *lat = malloc(cap * sizeof *lat);
    tropt_tracker *t = NULL;
    if (!lat || tropt_tracker_open(&t, spec, "bench-sys", NULL) != TROPT_OK ||
        tropt_tracker_init(t, NULL) != TROPT_OK) {
        free(lat);
        tropt_tracker_free(t);
        return -1;
    }
    tropt_field f[BENCH_NFIELDS];
    double end = bench_mono() + seconds;
    for (int64_t step = 0; n < cap && (n % 1024 || bench_mono() < end); step++) {
        bench_fill(step, f);
        double a = now_ns();
        tropt_tracker_log_fields(t, f, BENCH_NFIELDS);
        lat[n++] = now_ns() - a;
    }
    tropt_tracker_finish(t, NULL);
    tropt_tracker_free(t);
    bench_median(lat, n); /* sorts */
    *p50 = bench_quantile(lat, n, 0.5);
    *p99 = bench_quantile(lat, n, 0.99);
    free(lat);
    return 0;
}

void scen_sys(bench_ctx *c)
{
    if (!bench_want(c, "sys"))
        return;
    const char *specs[2] = {"null", "null:sys=1s"};
    double p50[2][32], p99[2][32];
    int rounds = c->rounds > 32 ? 32 : c->rounds;
    double seconds = c->quick ? 1.2 : 3.0;
    sys_probe pr = {-1};
    tropt_set_log_level(TROPT_LEVEL_DEBUG);
    tropt_set_log_handler(probe, &pr);
    for (int r = 0; r < rounds; r++)
        for (int k = 0; k < 2; k++) { /* alternated: both see the same machine */
            int v = (r + k) % 2;
            if (round_once(specs[v], seconds, &p50[v][r], &p99[v][r]) != 0) {
                tropt_set_log_handler(NULL, NULL);
                tropt_set_log_level(-1);
                bench_fail(c, "sys", "cannot log to %s", specs[v]);
                return;
            }
        }
    tropt_set_log_handler(NULL, NULL);
    tropt_set_log_level(-1);
    double m50[2], m99[2];
    for (int v = 0; v < 2; v++) {
        m50[v] = bench_median(p50[v], (size_t)rounds);
        m99[v] = bench_median(p99[v], (size_t)rounds);
    }
    char note[256];
    snprintf(note, sizeof note,
             "log_fields to null, median of %d alternated rounds of %.1f s: p50 %.0f -> %.0f ns "
             "(%.3fx), p99 %.0f -> %.0f ns (%.3fx) with sys=1s; the sampler's CPU %.3f ms per "
             "sample",
             rounds, seconds, m50[0], m50[1], m50[1] / m50[0], m99[0], m99[1], m99[1] / m99[0],
             pr.ms_per_sample);
    printf("sys: %s\n", note);
    bench_ran(c, "sys", note);
}
