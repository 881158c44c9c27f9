/* core/sys/sampler.c - the sampler thread (SPEC 16): every second a sample
 * of the process, its cgroup and the GPUs; every interval the mean and the
 * maximum of each key handed to emit.
 *
 * Never a stall: the thread holds its own mutex only between samples, never
 * inside a read or a vendor call, so tropt__sampler_stop can tell within a
 * second whether it will end: when it does not (stuck in a GPU call that
 * hangs), stop returns and leaves it detached; it then frees itself when the
 * call returns, and never calls emit again.  Its memory comes from libc, not
 * the tracked allocator (it runs beside the caller's thread). */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../internal.h"
#include "sampler.h"
#include "sys_priv.h"

/* How long stop waits for the thread before leaving it detached. */
#define STOP_WAIT_MS 1000

struct tropt__sampler {
    tropt__sampler_conf conf; /* conf.root owned */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;     /* asked to stop (under mu) */
    int ended;    /* the thread is past its last emit (under mu) */
    int detached; /* stop gave up waiting: the thread frees everything */
    sys_cgroup cg;
    char *nvml_lib, *visible; /* $TROPT_NVML_LIBRARY, $CUDA_VISIBLE_DEVICES at start, or NULL */
    sys_gpu *gpu;
    sys_agg agg;
    /* the previous sample's counters, for rates */
    double prev_wall, prev_proc_cpu, prev_job_cpu;
};

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A rate (cores) from a counter of CPU seconds; -1 when unknown. */
static double cores(double prev, double cur, double dt)
{
    return prev >= 0 && cur >= prev && dt > 0 ? (cur - prev) / dt : -1;
}

static void add(sys_agg *g, const char *key, double v)
{
    if (v >= 0 && isfinite(v))
        sys_agg_add(g, key, v);
}

/* One sample of every source into the interval's aggregate. */
static void sample(tropt__sampler *s)
{
    double wall = mono_now(), dt = wall - s->prev_wall;
    sys_proc p;
    sys_cgroup_read c;
    sys_proc_read(s->conf.root, &p);
    sys_cgroup_sample(&s->cg, &c);
    if (s->prev_wall > 0) { /* rates need two samples */
        add(&s->agg, "sys/proc/cpu_cores", cores(s->prev_proc_cpu, p.cpu_s, dt));
        add(&s->agg, "sys/job/cpu_cores", cores(s->prev_job_cpu, c.cpu_s, dt));
    }
    add(&s->agg, "sys/proc/rss_bytes", p.rss);
    add(&s->agg, "sys/proc/rss_peak_bytes", p.rss_peak);
    add(&s->agg, "sys/job/mem_bytes", c.mem);
    add(&s->agg, "sys/job/mem_limit_bytes", c.mem_limit);
    add(&s->agg, "sys/job/cpu_limit_cores", c.cpu_limit);
    sys_gpu_sample(s->gpu, &s->agg);
    s->prev_wall = wall;
    s->prev_proc_cpu = p.cpu_s;
    s->prev_job_cpu = c.cpu_s;
}

static void free_sampler(tropt__sampler *s)
{
    sys_agg_free(&s->agg);
    sys_gpu_close(s->gpu);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free((char *)s->conf.root);
    free(s->nvml_lib);
    free(s->visible);
    free(s);
}

/* Sleep until `deadline` (monotonic seconds) or a stop; 1 when stopping. */
static int wait_until(tropt__sampler *s, double deadline)
{
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        double left = deadline - mono_now();
        if (left <= 0)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        double end = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + left;
        ts.tv_sec = (time_t)end;
        ts.tv_nsec = (long)((end - (double)ts.tv_sec) * 1e9);
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    int stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

/* Hand the interval's records to emit, unless stopping. */
static void emit(tropt__sampler *s)
{
    size_t n = 0;
    const tropt_sample *r = sys_agg_emit(&s->agg, &n);
    pthread_mutex_lock(&s->mu);
    int stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    if (n && !stop)
        s->conf.emit(s->conf.ud, wall_now(), r, n);
}

/* The sampler's own CPU time, so its cost can be measured (bench/sys.c). */
static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *run(void *arg)
{
    tropt__sampler *s = arg;
    long n_samples = 0;
    /* the vendor library is opened here, not in start: its init may hang,
     * and init of a run must not */
    s->gpu = sys_gpu_open(s->nvml_lib, s->visible);
    double start = mono_now(), every = (double)s->conf.interval_ms / 1000.0;
    double next_emit = start + every;
    sample(s);
    n_samples++;
    for (long k = 1; !wait_until(s, start + (double)k); k++) {
        sample(s);
        n_samples++;
        if (mono_now() >= next_emit - 1e-3) {
            emit(s);
            next_emit += every;
        }
    }
    tropt__log(TROPT_LEVEL_DEBUG, "system metrics: %ld samples, %.3f ms of the sampler's CPU each",
               n_samples, thread_cpu_s() * 1000.0 / (double)n_samples);
    pthread_mutex_lock(&s->mu);
    s->ended = 1;
    int detached = s->detached;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (detached) {
        if (s->conf.release)
            s->conf.release(s->conf.ud);
        free_sampler(s);
    }
    return NULL;
}

int tropt__sampler_start(tropt__sampler **out, const tropt__sampler_conf *conf)
{
    *out = NULL;
    tropt__sampler *s = calloc(1, sizeof *s);
    if (!s || !(s->conf.root = strdup(conf->root ? conf->root : "/"))) {
        free(s);
        return tropt__oom();
    }
    s->conf.interval_ms = conf->interval_ms < 1000 ? 1000 : conf->interval_ms;
    s->conf.emit = conf->emit;
    s->conf.ud = conf->ud;
    s->conf.release = conf->release;
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    sys_cgroup_find(s->conf.root, &s->cg);
    const char *lib = getenv("TROPT_NVML_LIBRARY"), *vis = getenv("CUDA_VISIBLE_DEVICES");
    if ((lib && !(s->nvml_lib = strdup(lib))) || (vis && !(s->visible = strdup(vis)))) {
        free_sampler(s);
        return tropt__oom();
    }
    int e = pthread_create(&s->thread, NULL, run, s);
    if (e != 0) {
        free_sampler(s);
        return tropt__error(TROPT_EBACKEND, "sys: cannot start the sampler thread: %s",
                            strerror(e));
    }
    *out = s;
    return TROPT_OK;
}

int tropt__sampler_stop(tropt__sampler *s)
{
    if (!s)
        return 1;
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_broadcast(&s->cv);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += STOP_WAIT_MS / 1000;
    int timed_out = 0;
    while (!s->ended && !timed_out)
        timed_out = pthread_cond_timedwait(&s->cv, &s->mu, &ts) == ETIMEDOUT;
    int ended = s->ended;
    if (!ended)
        s->detached = 1; /* the thread frees itself when its call returns */
    pthread_mutex_unlock(&s->mu);
    if (!ended) {
        pthread_detach(s->thread);
        tropt__log(TROPT_LEVEL_DEBUG,
                   "system metrics: the sampler is inside a slow call; left to end on its own");
        return 0;
    }
    pthread_join(s->thread, NULL);
    free_sampler(s);
    return 1;
}
