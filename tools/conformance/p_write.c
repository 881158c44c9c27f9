/*
 * tools/conformance/p_write.c - the promises about writing: the state
 * machine, failures with messages, values at the edges, allocation
 * failure, two threads, and the latency of log.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kit.h"

/* One run of init, 3 steps, a step with no field, flush, finish; the name
 * of the call that failed, or NULL. */
static const char *one_run(const kit *k, tropt_tracker *t, int run, int *rc)
{
    json_t *cfg = json_pack("{s:i,s:{s:f}}", "run", run, "opt", "lr", 0.01);
    json_t *sum = json_pack("{s:f}", "best", 0.5);
    const char *step = "init";
    if ((*rc = tropt_tracker_init(t, cfg)) == TROPT_OK) {
        step = "log";
        for (int s = 0; s < 3 && !*rc; s++)
            *rc = tropt_tracker_log_fields(t, &TROPT_F_INT("s", s), 1);
        if (!*rc) {
            step = "log with no field";
            *rc = tropt_tracker_log_fields(t, NULL, 0);
        }
        if (!*rc && k->table->flush)
            (void)tropt_tracker_flush(t); /* a failing flush is judged by "failures" */
        if (!*rc) {
            step = "finish";
            *rc = tropt_tracker_finish(t, sum);
        }
    }
    json_decref(sum);
    json_decref(cfg);
    return step;
}

int p_states(const kit *k)
{
    tropt_tracker *t = NULL;
    if (kit_open(k, &t))
        return KIT_BROKEN;
    int rc = 0;
    const char *step = NULL;
    for (int run = 0; run < 2 && !rc; run++)
        step = one_run(k, t, run, &rc);
    if (rc)
        rc = kit_broken("init, log x4, finish, twice, all TROPT_OK", "%s returned %s: %s", step,
                        tropt_error_name(rc), tropt_error_message());
    tropt_tracker_free(t);
    return rc ? KIT_BROKEN : KIT_KEPT;
}

/* A failing call must carry the plugin's own message, not the host's
 * "failed" placeholder. */
static int check_msg(int rc, const char *call)
{
    if (rc == TROPT_OK)
        return 0;
    /* the host prefixes the backend's label and says "failed" when the
     * plugin gave no message */
    const char *m = tropt_error_message();
    size_t len = strlen(m);
    if (len == 0 || strcmp(m, "failed") == 0 || (len >= 8 && strcmp(m + len - 8, ": failed") == 0))
        return kit_broken("a failing hook explains itself with host->error()",
                          "%s returned %s with message \"%s\"", call, tropt_error_name(rc), m);
    return 0;
}

int p_failures(const kit *k)
{
    tropt_tracker *t = NULL;
    if (kit_open(k, &t))
        return KIT_BROKEN;
    int rc = check_msg(tropt_tracker_init(t, NULL), "init");
    for (int s = 0; s < 3 && !rc; s++)
        rc = check_msg(tropt_tracker_log_fields(t, &TROPT_F_INT("s", s), 1), "log");
    if (!rc)
        rc = check_msg(tropt_tracker_flush(t), "flush");
    if (!rc)
        rc = check_msg(tropt_tracker_finish(t, NULL), "finish");
    tropt_tracker_free(t);
    return rc ? KIT_BROKEN : KIT_KEPT;
}

int p_values(const kit *k)
{
    tropt_tracker *t = NULL;
    if (kit_open(k, &t))
        return KIT_BROKEN;
    int rc = tropt_tracker_init(t, NULL);
    if (!rc)
        rc = tropt_tracker_log_fields(t, kit_edge, KIT_N_EDGE);
    /* 1,000 fields in one step */
    static tropt_field many[1000];
    static char keys[1000][16];
    for (int i = 0; i < 1000; i++) {
        snprintf(keys[i], sizeof keys[i], "k%04d", i);
        many[i] = TROPT_F_REAL(keys[i], i * 0.5);
    }
    if (!rc)
        rc = tropt_tracker_log_fields(t, many, 1000);
    if (!rc)
        rc = tropt_tracker_finish(t, NULL);
    if (rc)
        rc = kit_broken("edge values (int64 limits, NaN, +-Inf, -0.0, subnormal, \"\", odd keys, "
                        "unicode, 1000 fields) accepted",
                        "%s: %s", tropt_error_name(rc), tropt_error_message());
    tropt_tracker_free(t);
    return rc ? KIT_BROKEN : KIT_KEPT;
}

/* ---- allocation failure through the host allocator ---------------------- */

static long live, nth, count;
static void *f_malloc(size_t n)
{
    if (nth && ++count == nth)
        return NULL;
    void *p = malloc(n ? n : 1);
    if (p)
        __atomic_add_fetch(&live, 1, __ATOMIC_RELAXED);
    return p;
}
static void *f_realloc(void *p, size_t n)
{
    if (nth && ++count == nth)
        return NULL;
    void *q = realloc(p, n ? n : 1);
    if (q && !p)
        __atomic_add_fetch(&live, 1, __ATOMIC_RELAXED);
    return q;
}
static void f_free(void *p)
{
    if (p)
        __atomic_sub_fetch(&live, 1, __ATOMIC_RELAXED);
    free(p);
}

/* One pass with the nth allocation failing, in a folder of its own and
 * with a run name given: an init without a name reads the store for the
 * names it holds, and a store shared by the passes (in the folder, or on a
 * server) would grow with them, and so would the allocations of each pass,
 * which then never run out of points to fail. */
static int alloc_pass(const kit *k)
{
    char dir[32];
    snprintf(dir, sizeof dir, "pass%ld", nth);
    if (mkdir(dir, 0700) != 0 || chdir(dir) != 0)
        return kit_broken("a folder for each pass", "%s: %s", dir, strerror(errno));
    count = 0;
    live = 0;
    tropt_tracker *t = NULL;
    if (tropt_tracker_open(&t, k->spec, "conformance", NULL) == TROPT_OK) {
        (void)tropt_tracker_set_run_name(t, "conformance-alloc"); /* may fail: a point too */
        tropt_tracker_init(t, NULL);
        tropt_tracker_log_fields(t, kit_edge, KIT_N_EDGE_NO_NAN);
        tropt_tracker_finish(t, NULL);
        tropt_tracker_free(t);
    }
    if (chdir("..") != 0)
        return kit_broken("back from the pass's folder", "%s", strerror(errno));
    if (live != 0)
        return kit_broken("every allocation freed when the n-th allocation fails",
                          "%ld allocation(s) leaked when allocation #%ld failed", live, nth);
    return KIT_KEPT;
}

/* A pass has at most this many allocation points tried. */
#define ALLOC_POINTS 400

int p_alloc(const kit *k)
{
    tropt_allocator a = {.malloc = f_malloc, .realloc = f_realloc, .free = f_free};
    if (tropt_set_allocator(&a) != TROPT_OK)
        return kit_broken("tropt_set_allocator accepted", "%s", tropt_error_message());
    for (nth = 1; nth <= ALLOC_POINTS; nth++) {
        /* the runner's alarm catches a hang, not a slow machine: each of up
         * to ALLOC_POINTS whole runs (a connection each on pg) gets 120 s */
        alarm(120);
        if (alloc_pass(k))
            return KIT_BROKEN;
        if (count < nth) {
            kit_say("%ld allocation points failed one at a time", nth - 1);
            return KIT_KEPT; /* every point has been failed once */
        }
    }
    kit_say("the first %d allocation points failed one at a time (of more)", ALLOC_POINTS);
    return KIT_KEPT;
}

/* ---- two instances from two threads --------------------------------------- */

typedef struct worker {
    tropt_tracker *t;
    int id, rc;
    char run_id[40];
} worker;

#define THREAD_STEPS 400

static void *work(void *arg)
{
    worker *w = arg;
    w->rc = tropt_tracker_init(w->t, NULL);
    snprintf(w->run_id, sizeof w->run_id, "%s", w->rc ? "" : tropt_tracker_run_id(w->t));
    for (int s = 0; s < THREAD_STEPS && !w->rc; s++) {
        char who[32];
        snprintf(who, sizeof who, "instance-%d-step-%d", w->id, s);
        tropt_field f[] = {TROPT_F_INT("who", w->id), TROPT_F_STR("tag", who)};
        w->rc = tropt_tracker_log_fields(w->t, f, 2);
    }
    if (!w->rc)
        w->rc = tropt_tracker_finish(w->t, NULL);
    return NULL;
}

typedef struct tagcheck {
    int id;
    int bad;
    int64_t steps;
    char seen[128];
} tagcheck;

static int check_tags(const tropt_event *ev, void *ud)
{
    tagcheck *c = ud;
    if (ev->kind != TROPT_EVENT_STEP)
        return 0;
    c->steps++;
    char want[32];
    snprintf(want, sizeof want, "instance-%d-step-%" PRId64, c->id, ev->step);
    for (size_t i = 0; i < ev->n; i++)
        if (strcmp(ev->fields[i].key, "tag") == 0 && ev->fields[i].type == TROPT_STRING &&
            strcmp(ev->fields[i].v.s, want) != 0 && !c->bad) {
            c->bad = 1;
            char got[64];
            kit_escape(got, sizeof got, ev->fields[i].v.s);
            snprintf(c->seen, sizeof c->seen, "step %" PRId64 " of instance %d holds '%s'",
                     ev->step, c->id, got);
        }
    return 0;
}

/* Each instance's run holds exactly what its thread logged. */
static int threads_read_back(const kit *k, const worker w[2])
{
    tropt_reader *r = NULL;
    if (kit_open_reader(k, &r))
        return KIT_BROKEN;
    int rc = 0;
    for (int i = 0; i < 2 && !rc; i++) {
        tagcheck c = {.id = i};
        if (tropt_reader_read_run(r, w[i].run_id, check_tags, &c))
            rc = kit_broken("each instance's run reads back", "%s", tropt_error_message());
        else if (c.bad || c.steps != THREAD_STEPS)
            rc = kit_broken("each instance's steps read back as that instance logged them",
                            "%s (%" PRId64 " steps of %d)", c.bad ? c.seen : "steps missing",
                            c.steps, THREAD_STEPS);
    }
    tropt_reader_free(r);
    return rc;
}

static int run_workers(worker w[2])
{
    pthread_t th[2];
    int started = 0, e = 0;
    while (started < 2 && (e = pthread_create(&th[started], NULL, work, &w[started])) == 0)
        started++;
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    if (e != 0)
        return kit_broken("two instances used from two threads both succeed",
                          "the kit could not start thread %d: %s", started, strerror(e));
    for (int i = 0; i < 2; i++)
        if (w[i].rc)
            return kit_broken("two instances used from two threads both succeed",
                              "instance %d: %s: %s", i, tropt_error_name(w[i].rc),
                              tropt_error_message());
    return 0;
}

int p_threads(const kit *k)
{
    /* two instances are two trackers of one process, as an optimizer
     * running two trials would have */
    worker w[2] = {{.id = 0}, {.id = 1}};
    for (int i = 0; i < 2; i++)
        if (kit_open(k, &w[i].t)) {
            tropt_tracker_free(w[0].t);
            return KIT_BROKEN;
        }
    int rc = run_workers(w);
    for (int i = 0; i < 2; i++)
        tropt_tracker_free(w[i].t);
    if (rc || !(k->caps & KIT_NEEDS_READER))
        return rc;
    return threads_read_back(k, w);
}

/* ---- latency ------------------------------------------------------------ */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* Milliseconds this thread has waited for a CPU so far (runnable but not
 * running: the machine's load, not the plugin), from the kernel's
 * schedstat; 0 when the kernel does not say. */
static double cpu_wait_ms(int fd)
{
    char buf[128];
    ssize_t n = fd >= 0 ? pread(fd, buf, sizeof buf - 1, 0) : -1;
    unsigned long long run = 0, wait = 0;
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return sscanf(buf, "%llu %llu", &run, &wait) == 2 ? wait * 1e-6 : 0;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#define LAT_STEPS 1000
#define LAT_P99_MS 5.0

/* LAT_STEPS logs of 10 fields: each one's time in d[], less the time the
 * thread waited for a CPU (*waited, in all).  A log that fails: its code. */
static int timed_logs(tropt_tracker *t, double *d, double *waited)
{
    static const char *const k[10] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};
    int fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
    int rc = TROPT_OK;
    *waited = 0;
    for (int s = 0; s < LAT_STEPS && !rc; s++) {
        tropt_field f[10];
        for (int i = 0; i < 10; i++)
            f[i] = TROPT_F_REAL(k[i], s * 0.1 + i);
        double w0 = cpu_wait_ms(fd), t0 = now_ms();
        rc = tropt_tracker_log_fields(t, f, 10);
        double w = cpu_wait_ms(fd) - w0;
        d[s] = now_ms() - t0 - w;
        *waited += w;
    }
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Up to LAT_ROUNDS rounds of LAT_STEPS logs; the best p99 counts.  A round
 * is repeated only when most logs were fast (p50 under a tenth of the
 * limit): then a slow tail may be the machine's; a plugin that blocks on
 * every log is judged by its first round. */
#define LAT_ROUNDS 3

typedef struct lat {
    double p50, p99, waited;
    int rounds;
} lat;

static int measure(tropt_tracker *t, lat *best)
{
    static double d[LAT_STEPS];
    best->p99 = INFINITY;
    for (int round = 1; round <= LAT_ROUNDS; round++) {
        double waited = 0;
        int rc = timed_logs(t, d, &waited);
        if (rc)
            return rc;
        qsort(d, LAT_STEPS, sizeof *d, cmp_d);
        double p50 = d[LAT_STEPS / 2], p99 = d[LAT_STEPS * 99 / 100];
        if (p99 < best->p99)
            *best = (lat){.p50 = p50, .p99 = p99, .waited = waited};
        best->rounds = round;
        if (best->p99 <= LAT_P99_MS || p50 > LAT_P99_MS / 10)
            break;
    }
    return TROPT_OK;
}

int p_latency(const kit *k)
{
    tropt_tracker *t = NULL;
    if (kit_open(k, &t))
        return KIT_BROKEN;
    lat m = {0};
    int rc = tropt_tracker_init(t, NULL);
    if (!rc)
        rc = measure(t, &m);
    if (!rc)
        rc = tropt_tracker_finish(t, NULL);
    tropt_tracker_free(t);
    if (rc)
        return kit_broken("log succeeds", "%s", tropt_error_message());
    kit_say("log latency p50 %.3f ms, p99 %.3f ms (10 fields; %.1f ms waiting for a CPU left "
            "out; best of %d round%s)",
            m.p50, m.p99, m.waited, m.rounds, m.rounds > 1 ? "s" : "");
    if (m.p99 > LAT_P99_MS)
        return kit_broken("log p99 <= 5 ms (log must not block)",
                          "p99 %.3f ms, p50 %.3f ms over %d steps", m.p99, m.p50, LAT_STEPS);
    return KIT_KEPT;
}
