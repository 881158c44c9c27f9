/* bench/latency.c - per backend, in a child process of its own: the latency
 * of every log call (p50 / p99 / p99.9 / max) and the peak RSS as the run
 * grows (getrusage ru_maxrss at 10%, 50% and 100% of the steps), so a
 * backend whose memory grows with the run length shows it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

static long maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void count_diag(tropt_level level, const char *message, void *ud)
{
    lat_result *r = ud;
    if (level < TROPT_LEVEL_WARNING)
        return;
    __atomic_add_fetch(&r->n_warnings, 1, __ATOMIC_RELAXED);
    snprintf(r->last_warning, sizeof r->last_warning, "%s", message);
}

static void child(const char *spec, int64_t steps, int finish_may_fail, lat_result *r)
{
    uint32_t *lat = malloc((size_t)steps * sizeof *lat);
    if (!lat) {
        snprintf(r->err, sizeof r->err, "out of memory");
        return;
    }
    /* Touch every page now (non-zero, so the compiler cannot turn
     * malloc+memset into an untouched calloc): part of the start RSS. */
    memset(lat, 0xff, (size_t)steps * sizeof *lat);
    /* Diagnostics are counted, not printed: a spool or retry warning says
     * the data did not all reach the server (expected for slow/down). */
    tropt_set_log_level(TROPT_LEVEL_WARNING);
    tropt_set_log_handler(count_diag, r);
    tropt_tracker *t = NULL;
    if (tropt_tracker_open(&t, spec, "bench", NULL) != TROPT_OK ||
        tropt_tracker_init(t, NULL) != TROPT_OK) {
        snprintf(r->err, sizeof r->err, "%s", tropt_error_message());
        tropt_tracker_free(t);
        free(lat);
        return;
    }
    tropt_field f[BENCH_NFIELDS];
    r->rss_start_kb = maxrss_kb();
    int64_t c10 = steps / 10, c50 = steps / 2;
    double t0 = bench_mono();
    for (int64_t s = 0; s < steps; s++) {
        bench_fill(s, f);
        int64_t a = mono_ns();
        int rc = tropt_tracker_log_fields(t, f, BENCH_NFIELDS);
        int64_t b = mono_ns();
        if (rc != TROPT_OK) {
            snprintf(r->err, sizeof r->err, "log: %s", tropt_error_message());
            tropt_tracker_free(t);
            free(lat);
            return;
        }
        lat[s] = (uint32_t)((b - a) > 0xffffffffLL ? 0xffffffffLL : (b - a));
        if (s + 1 == c10)
            r->rss_10_kb = maxrss_kb();
        if (s + 1 == c50)
            r->rss_50_kb = maxrss_kb();
    }
    double t1 = bench_mono();
    r->log_s = t1 - t0;
    if (tropt_tracker_finish(t, NULL) != TROPT_OK) {
        snprintf(r->err, sizeof r->err, "finish: %s", tropt_error_message());
        if (!finish_may_fail) {
            tropt_tracker_free(t);
            free(lat);
            return;
        }
        r->finish_failed = 1;
    }
    r->total_s = bench_mono() - t0;
    r->finish_s = bench_mono() - t1;
    r->rss_end_kb = maxrss_kb();
    tropt_tracker_free(t);
    qsort(lat, (size_t)steps, sizeof *lat, cmp_u32);
    size_t n = (size_t)steps;
    r->p50 = lat[(size_t)(0.50 * (double)(n - 1))];
    r->p99 = lat[(size_t)(0.99 * (double)(n - 1))];
    r->p999 = lat[(size_t)(0.999 * (double)(n - 1))];
    r->max = lat[n - 1];
    free(lat);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    r->cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
               (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
    r->ok = 1;
}

/* Run one backend in a fork()ed child; 0 or -1. */
static int measure(const char *spec, int64_t steps, int finish_may_fail, lat_result *r)
{
    int fds[2];
    memset(r, 0, sizeof *r);
    if (pipe(fds) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        lat_result cr;
        memset(&cr, 0, sizeof cr);
        child(spec, steps, finish_may_fail, &cr);
        ssize_t w = write(fds[1], &cr, sizeof cr);
        _exit(w == (ssize_t)sizeof cr ? 0 : 1);
    }
    close(fds[1]);
    size_t got = 0;
    while (got < sizeof *r) {
        ssize_t n = read(fds[0], (char *)r + got, sizeof *r - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    if (got != sizeof *r) {
        snprintf(r->err, sizeof r->err, "child died (status 0x%x)", status);
        r->ok = 0;
    }
    return r->ok ? 0 : -1;
}

void bench_latency_row(bench_ctx *c, const char *scenario, const char *backend, const lat_result *r,
                       int64_t steps, int local)
{
    json_t *row = json_object();
    json_object_set_new(row, "scenario", json_string(scenario));
    json_object_set_new(row, "backend", json_string(backend));
    json_object_set_new(row, "steps", json_integer(steps));
    json_object_set_new(row, "p50_ns", json_real(r->p50));
    json_object_set_new(row, "p99_ns", json_real(r->p99));
    json_object_set_new(row, "p999_ns", json_real(r->p999));
    json_object_set_new(row, "max_ns", json_real(r->max));
    double ratio = r->p50 > 0 ? r->p99 / r->p50 : 0;
    json_object_set_new(row, "p99_over_p50", json_real(ratio));
    if (local) {
        json_object_set_new(row, "target", json_string("p99/p50 <= 20"));
        json_object_set_new(row, "met", json_boolean(ratio <= 20));
    }
    json_object_set_new(row, "values_per_s",
                        json_real(r->total_s > 0 ? (double)steps * BENCH_NFIELDS / r->total_s : 0));
    json_object_set_new(row, "rss_kb",
                        json_pack("{s:I, s:I, s:I, s:I}", "start", (json_int_t)r->rss_start_kb,
                                  "at_10pct", (json_int_t)r->rss_10_kb, "at_50pct",
                                  (json_int_t)r->rss_50_kb, "end", (json_int_t)r->rss_end_kb));
    json_object_set_new(row, "rss_growth_kb_10_to_100pct",
                        json_integer(r->rss_end_kb - r->rss_10_kb));
    json_object_set_new(row, "rss_growth_kb_50_to_100pct",
                        json_integer(r->rss_end_kb - r->rss_50_kb));
    json_object_set_new(row, "log_loop_s", json_real(r->log_s));
    json_object_set_new(row, "finish_s", json_real(r->finish_s));
    json_object_set_new(row, "child_cpu_s", json_real(r->cpu_s));
    json_object_set_new(row, "warnings", json_integer(r->n_warnings));
    if (r->n_warnings)
        json_object_set_new(row, "last_warning", json_string(r->last_warning));
    json_array_append_new(c->latency, row);
}

int bench_latency_measure(const char *spec, int64_t steps, int finish_may_fail, lat_result *r)
{
    return measure(spec, steps, finish_may_fail, r);
}

void scen_latency(bench_ctx *c)
{
    const char *sc = "latency";
    if (!bench_want(c, sc))
        return;
    char dir[1024];
    if (bench_mkdir(c, "latency", dir, sizeof dir) != 0) {
        bench_fail(c, sc, "cannot create a folder");
        return;
    }
    char batched[2048] = "";
    const char *bopts = bench_sqlite_batch_opts();
    if (bopts)
        snprintf(batched, sizeof batched, "sqlite:path=%s/b.db%s", dir, bopts);
    struct {
        const char *plugin;
        const char *label;
        char spec[2048];
    } b[] = {
        {"null", "null", "null"},           {"sqlite", "sqlite (default)", ""},
        {"sqlite", "sqlite (batched)", ""}, {"csv", "csv (wide)", ""},
        {"csv", "csv (long)", ""},          {"jsonl", "jsonl", ""},
    };
    snprintf(b[1].spec, sizeof b[1].spec, "sqlite:path=%s/d.db", dir);
    snprintf(b[2].spec, sizeof b[2].spec, "%s", batched);
    snprintf(b[3].spec, sizeof b[3].spec, "csv:dir=%s/csv-wide", dir);
    if (bench_plugin_has_option("csv", "layout"))
        snprintf(b[4].spec, sizeof b[4].spec, "csv:dir=%s/csv-long,layout=long", dir);
    snprintf(b[5].spec, sizeof b[5].spec, "jsonl:path=%s/j.jsonl", dir);
    int ran = 0;
    char notes[1024] = "";
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) {
        char path[1024];
        if (!bench_plugin_found(b[i].plugin, path, sizeof path)) {
            printf("  [skip] latency %s: plugin tropt-%s.so not found\n", b[i].label, b[i].plugin);
            size_t l = strlen(notes);
            snprintf(notes + l, sizeof notes - l, "%s%s: plugin not found", l ? "; " : "",
                     b[i].label);
            continue;
        }
        if (!b[i].spec[0]) {
            printf("  [skip] latency %s: no matching option declared\n", b[i].label);
            size_t l = strlen(notes);
            snprintf(notes + l, sizeof notes - l, "%s%s: option not declared", l ? "; " : "",
                     b[i].label);
            continue;
        }
        printf("  latency/memory: %s, %lld steps ...\n", b[i].label, (long long)c->mem_steps);
        fflush(stdout);
        lat_result r;
        if (measure(b[i].spec, c->mem_steps, 0, &r) != 0) {
            bench_fail(c, sc, "%s: %s", b[i].label, r.err);
            continue;
        }
        bench_latency_row(c, sc, b[i].label, &r, c->mem_steps, 1);
        ran++;
    }
    bench_rmrf(dir);
    if (ran)
        bench_ran(c, sc, notes);
    else
        bench_skip(c, sc, "no backend available: %s", notes);
}
