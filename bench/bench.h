/*
 * bench/bench.h - shared pieces of tropt-bench: the options, the interleaved
 * runner, the step generator, result records and small helpers.
 *
 * Every throughput scenario compares variants (the library and hand-written
 * baselines doing the same work) by running them alternately in one process:
 * round r runs every variant once (the order rotates each round), and each
 * variant's figure is the median of its rounds.  A noisy neighbour then slows
 * both sides of a ratio alike.
 */
#ifndef TROPT_BENCH_H
#define TROPT_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <tropt/tropt.h>

#define BENCH_NFIELDS 10

typedef struct bench_ctx {
    int quick;
    int64_t steps;     /* throughput runs */
    int64_t mem_steps; /* memory / latency runs */
    int rounds;
    const char *only; /* NULL: every scenario */
    const char *vm_url;
    const char *http_opts; /* extra ",k=v" options for the http backend */
    char tmpdir[512];
    json_t *machine;
    json_t *results;   /* array of throughput rows */
    json_t *latency;   /* array of latency/memory rows */
    json_t *scenarios; /* object: name -> {status, note} */
    int errors;
} bench_ctx;

/* One contender of a scenario.  run() does its setup untimed, returns the
 * seconds spent on the timed part (the step loop and the final flush) in
 * *secs, and 0, or -1 after printing why. */
typedef struct bench_variant {
    const char *name;
    int (*run)(void *arg, int64_t steps, double *secs);
    void *arg;
    double ns_step; /* out: median over rounds */
    int64_t steps;  /* out: steps per timed run */
} bench_variant;

/* ---- util.c ---- */
double bench_mono(void);     /* monotonic seconds */
double bench_realtime(void); /* Unix seconds */
int bench_interleave(bench_ctx *c, bench_variant *v, int nv, int64_t steps);
double bench_median(double *x, size_t n); /* sorts x */
double bench_quantile(double *sorted, size_t n, double q);

/* The step generator: 9 reals and 1 integer per step, the same for every
 * variant.  Keys are fixed; values cycle through a precomputed table. */
extern const char *const bench_keys[BENCH_NFIELDS];
void bench_values_init(void);
void bench_fill(int64_t step, tropt_field *f); /* f: BENCH_NFIELDS */
double bench_value(int64_t step, int i);       /* real value of field i (i != int field) */
int64_t bench_ivalue(int64_t step);            /* the integer field's value */
#define BENCH_INT_FIELD 9

/* Plugins. */
int bench_plugin_found(const char *name, char *path, size_t size);
const tropt_plugin *bench_plugin_table(const char *name); /* NULL if absent */
int bench_plugin_has_option(const char *name, const char *option);

/* Scenario bookkeeping. */
int bench_want(bench_ctx *c, const char *scenario); /* --only filter */
void bench_skip(bench_ctx *c, const char *scenario, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void bench_ran(bench_ctx *c, const char *scenario, const char *note);
void bench_fail(bench_ctx *c, const char *scenario, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A throughput row.  kind "cost": ratio = ns/ns_base (lower is better),
 * "speed": ratio = ns_base/ns (higher is better), NULL: no ratio.
 * target_op "<=" or ">=" or NULL. */
void bench_row(bench_ctx *c, const char *scenario, const bench_variant *v,
               const bench_variant *base, const char *kind, const char *target_op, double target,
               const char *note);

/* Fresh empty folder under the bench's temp dir; rm -rf of a path. */
int bench_mkdir(bench_ctx *c, const char *name, char *out, size_t size);
void bench_rmrf(const char *path);

/* Tracker helper used by many scenarios: open `spec`, init, log `steps`
 * steps of bench_fill() and finish; the log loop plus finish is timed. */
int bench_lib_run(const char *spec, int64_t steps, double *secs);
/* The same, with field 8's key replaced by a new one every newkey_every
 * steps (0: fixed keys). */
int bench_lib_run_keys(const char *spec, int64_t steps, double *secs, int64_t newkey_every);

/* The sqlite spec options of its batched mode (commit every 1000 steps), or
 * NULL when the plugin declares none of the known option names. */
const char *bench_sqlite_batch_opts(void);

/* ---- latency.c: one backend in a child process of its own ---- */
typedef struct lat_result {
    int ok;
    int finish_failed; /* with finish_may_fail: err holds finish's message */
    char err[512];
    long rss_start_kb, rss_10_kb, rss_50_kb, rss_end_kb; /* ru_maxrss */
    double p50, p99, p999, max;                          /* ns per log call */
    double total_s;                                      /* log loop + finish */
    double log_s, finish_s;                              /* the log loop, finish alone (wall) */
    double cpu_s;                                        /* user + system CPU of the whole child */
    int n_warnings;                                      /* diagnostics at warning level or above */
    char last_warning[512];
} lat_result;

int bench_latency_measure(const char *spec, int64_t steps, int finish_may_fail, lat_result *r);
/* local: the p99/p50 <= 20 target applies. */
void bench_latency_row(bench_ctx *c, const char *scenario, const char *backend, const lat_result *r,
                       int64_t steps, int local);

/* ---- scenarios ---- */
void scen_host(bench_ctx *c);
void scen_reader(bench_ctx *c); /* reader.c: sqlite-read */
void scen_sqlite(bench_ctx *c);
void scen_csv(bench_ctx *c);
void scen_jsonl(bench_ctx *c);
void scen_http(bench_ctx *c);
void scen_latency(bench_ctx *c);
void scen_pg(bench_ctx *c);
void scen_scale(bench_ctx *c); /* scale.c: sqlite-scale (issue 17) */
void scen_sys(bench_ctx *c);   /* sys.c: the system-metrics sampler's cost (issue 32) */
void scen_ckpt(bench_ctx *c);  /* ckpt.c: log latency while a checkpoint is hashed (issue 29) */
void scen_tensorboard(bench_ctx *c); /* tensorboard.c (issue 33) */
void scen_resume(bench_ctx *c);      /* resume.c: sqlite-resume (issue 29) */

#endif
