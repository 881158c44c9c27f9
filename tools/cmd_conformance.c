/*
 * tools/cmd_conformance.c - `tropt conformance PLUGIN [KEY=VALUE...]`
 * (SPEC 10): run the plugin contract against one plugin and print each
 * promise, kept or broken with what was expected and what happened, then
 * `conformance: N/M promises kept`.  Exit 0 only when all hold.
 *
 * Each promise runs in a child process (so a crash breaks that promise
 * only) inside its own empty folder under a temporary directory (so the
 * plugin's default paths land there).  The child reports on a pipe.
 */
#include "cli.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <tropt/host.h>
#include <tropt/tracker.h>

#define USAGE "conformance PLUGIN [KEY=VALUE...]"

static const char *g_spec;        /* PLUGIN:KEY=VALUE,... */
static const tropt_plugin *g_tab; /* the plugin's table (in this process) */
static int g_report = -1;         /* the child's pipe to the parent */

/* ---- reporting from the child --------------------------------------- */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof buf)
        n = sizeof buf - 1;
    ssize_t w = write(g_report, buf, (size_t)n);
    (void)w;
}

/* A broken promise: "expected ...; observed ...". Returns 1. */
static int broken(const char *expected, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int broken(const char *expected, const char *fmt, ...)
{
    char obs[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(obs, sizeof obs, fmt, ap);
    va_end(ap);
    say("expected: %s\n      observed: %s", expected, obs);
    return 1;
}

/* ---- log capture ------------------------------------------------------ */

static pthread_mutex_t cap_lock = PTHREAD_MUTEX_INITIALIZER;
static char cap[1 << 16];
static size_t cap_len;

static void capture(tropt_level level, const char *msg, void *ud)
{
    (void)level;
    (void)ud;
    pthread_mutex_lock(&cap_lock);
    size_t n = strlen(msg);
    if (cap_len + n + 2 < sizeof cap) {
        memcpy(cap + cap_len, msg, n);
        cap_len += n;
        cap[cap_len++] = '\n';
        cap[cap_len] = '\0';
    }
    pthread_mutex_unlock(&cap_lock);
}

/* ---- the typed edge values ------------------------------------------- */

#define N_EDGE 16
/* The edge fields without the trailing NaN: what the other promises log,
 * so that a plugin that fails on NaN breaks only the values promise. */
#define N_EDGE_NO_NAN (N_EDGE - 1)
static tropt_field edge[N_EDGE];
static json_t *edge_array;

static void make_edge(void)
{
    edge_array = json_loads("[0.5,-1,\"x\",null,[true]]", 0, NULL);
    int i = 0;
    edge[i++] = TROPT_F_INT("int_min", INT64_MIN);
    edge[i++] = TROPT_F_INT("int_max", INT64_MAX);
    edge[i++] = TROPT_F_REAL("inf", INFINITY);
    edge[i++] = TROPT_F_REAL("-inf", -INFINITY);
    edge[i++] = TROPT_F_REAL("neg_zero", -0.0);
    edge[i++] = TROPT_F_REAL("subnormal", 4.9406564584124654e-324);
    edge[i++] = TROPT_F_REAL("third", 1.0 / 3.0);
    edge[i++] = TROPT_F_STR("empty", "");
    edge[i++] = TROPT_F_STR("unicode ✓ ünï", "ünïcødé ✓ 日本");
    edge[i++] = TROPT_F_STR("a,b", "comma,inside");
    edge[i++] = TROPT_F_STR("quote\"d", "say \"hi\"");
    edge[i++] = TROPT_F_STR("new\nline", "two\nlines");
    edge[i++] = TROPT_F_STR("slash/key", "x/y");
    edge[i++] = TROPT_F_BOOL("flag", 1);
    edge[i++] = TROPT_F_JSON("array", edge_array);
    edge[i++] = TROPT_F_REAL("nan", NAN); /* last: only the values promise logs it */
}

static int open_tracker(tropt_tracker **t, const char *what)
{
    if (tropt_tracker_open(t, g_spec, "conformance", NULL) != TROPT_OK)
        return broken("the plugin opens with these options", "%s: %s", what, tropt_error_message());
    return 0;
}

/* ---- promises ------------------------------------------------------------ */

static int p_table(void)
{
    const tropt_plugin *p = g_tab;
    if (!p)
        return broken("a loadable plugin with a valid table", "no table");
    if (TROPT_PLUGIN_ABI_MAJOR_OF(p->abi_version) != TROPT_PLUGIN_ABI_MAJOR)
        return broken("ABI major 1", "abi_version 0x%x", (unsigned)p->abi_version);
    if (p->struct_size < TROPT_PLUGIN_MIN_SIZE)
        return broken("struct_size >= the ABI 1.0 table", "%u", (unsigned)p->struct_size);
    for (const tropt_option_def *d = p->options; d && d->name; d++) {
        if ((d->flags & TROPT_OPT_REQUIRED) && d->default_value)
            return broken("a required option has no default", "option '%s' has default '%s'",
                          d->name, (d->flags & TROPT_OPT_SECRET) ? "<secret>" : d->default_value);
        if ((d->flags & TROPT_OPT_HAS_RANGE) && d->min > d->max)
            return broken("min <= max for a ranged option", "option '%s': min %g > max %g", d->name,
                          d->min, d->max);
        if ((d->flags & TROPT_OPT_HAS_RANGE) && d->type != TROPT_OPT_INT &&
            d->type != TROPT_OPT_DOUBLE && d->type != TROPT_OPT_DURATION)
            return broken("a range only on INT, DOUBLE or DURATION options",
                          "option '%s' (%s) declares a range that never applies", d->name,
                          tropt_option_type_name(d->type));
        for (const tropt_option_def *e = p->options; e != d; e++)
            if (strcmp(e->name, d->name) == 0)
                return broken("option names are unique", "'%s' declared twice", d->name);
    }
    tropt_tracker *t = NULL;
    if (tropt_tracker_open(&t, g_spec, "conformance", NULL) != TROPT_OK)
        return broken("the host accepts the table and options", "%s", tropt_error_message());
    tropt_tracker_free(t);
    return 0;
}

static int p_options(void)
{
    /* an unknown option is refused naming it; a secret never appears */
    char *bad = NULL;
    const char *colon = strchr(g_spec, ':');
    if (asprintf(&bad, "%s%cno_such_option_x=1", g_spec, colon ? ',' : ':') < 0)
        return broken("memory", "asprintf failed");
    tropt_tracker *t = NULL;
    int rc = tropt_tracker_open(&t, bad, "conformance", NULL);
    free(bad);
    if (rc != TROPT_EINVAL || !strstr(tropt_error_message(), "no_such_option_x")) {
        tropt_tracker_free(t);
        return broken("an unknown option refused with EINVAL naming it", "%s (%s)",
                      tropt_error_name(rc), tropt_error_message());
    }
    return 0;
}

/* The secrets given in the spec (KEY=VALUE of a SECRET option). */
static int p_secret(void)
{
    char secrets[8][256];
    int ns = 0;
    const char *opts = strchr(g_spec, ':');
    for (const tropt_option_def *d = g_tab->options; opts && d && d->name && ns < 8; d++) {
        if (!(d->flags & TROPT_OPT_SECRET))
            continue;
        char key[128];
        snprintf(key, sizeof key, "%s=", d->name);
        const char *at = strstr(opts, key);
        if (!at)
            continue;
        at += strlen(key);
        size_t len = strcspn(at, ",;");
        if (len == 0 || len >= sizeof secrets[0])
            continue;
        memcpy(secrets[ns], at, len);
        secrets[ns++][len] = '\0';
    }
    for (const tropt_option_def *d = g_tab->options; d && d->name && ns < 8; d++)
        if ((d->flags & TROPT_OPT_SECRET) && d->default_value && *d->default_value)
            snprintf(secrets[ns++], sizeof secrets[0], "%s", d->default_value);
    if (ns == 0) {
        say("(no secret option given: checked nothing to leak)");
        return 0;
    }
    /* a whole run with stdout/stderr into a file, the log captured */
    FILE *out = tmpfile();
    if (!out)
        return broken("a temporary file", "%s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    int o1 = dup(1), o2 = dup(2);
    dup2(fileno(out), 1);
    dup2(fileno(out), 2);
    tropt_set_log_level(TROPT_LEVEL_DEBUG);
    tropt_tracker *t = NULL;
    char msgs[4096] = "";
    if (tropt_tracker_open(&t, g_spec, "conformance", NULL) == TROPT_OK) {
        tropt_tracker_init(t, NULL);
        tropt_tracker_log_fields(t, edge, N_EDGE_NO_NAN);
        tropt_tracker_finish(t, NULL);
        tropt_tracker_free(t);
    }
    snprintf(msgs, sizeof msgs, "%s", tropt_error_message());
    fflush(stdout);
    fflush(stderr);
    dup2(o1, 1);
    dup2(o2, 2);
    close(o1);
    close(o2);
    long sz = ftell(out);
    char *text = calloc(1, (size_t)(sz > 0 ? sz : 0) + 1);
    rewind(out);
    size_t got = text ? fread(text, 1, (size_t)(sz > 0 ? sz : 0), out) : 0;
    (void)got;
    fclose(out);
    int rc = 0;
    for (int i = 0; i < ns && !rc; i++) {
        const char *where = strstr(cap, secrets[i])            ? "a log line"
                            : strstr(msgs, secrets[i])         ? "an error message"
                            : text && strstr(text, secrets[i]) ? "stdout/stderr"
                                                               : NULL;
        if (where)
            rc = broken("a secret option's value never appears in any output",
                        "the value of a secret option appeared in %s", where);
    }
    free(text);
    return rc;
}

static int p_states(void)
{
    tropt_tracker *t = NULL;
    if (open_tracker(&t, "open"))
        return 1;
    int rc = 0;
    const char *step = "init";
    for (int run = 0; run < 2 && !rc; run++) {
        json_t *cfg = json_pack("{s:i,s:{s:f}}", "run", run, "opt", "lr", 0.01);
        step = "init";
        if ((rc = tropt_tracker_init(t, cfg)) == TROPT_OK) {
            for (int s = 0; s < 3 && !rc; s++) {
                step = "log";
                rc = tropt_tracker_log_fields(t, &TROPT_F_INT("s", s), 1);
            }
            step = "log with no field";
            if (!rc)
                rc = tropt_tracker_log_fields(t, NULL, 0);
            if (!rc && g_tab->flush) {
                int f = tropt_tracker_flush(t);
                (void)f; /* a failing flush is judged by the failure promise */
            }
            step = "finish";
            json_t *sum = json_pack("{s:f}", "best", 0.5);
            if (!rc)
                rc = tropt_tracker_finish(t, sum);
            json_decref(sum);
        }
        json_decref(cfg);
    }
    if (rc)
        rc = broken("init, log x4, finish, twice, all TROPT_OK", "%s returned %s: %s", step,
                    tropt_error_name(rc), tropt_error_message());
    tropt_tracker_free(t);
    return rc;
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
        return broken("a failing hook explains itself with host->error()",
                      "%s returned %s with message \"%s\"", call, tropt_error_name(rc), m);
    return 0;
}

static int p_failures(void)
{
    tropt_tracker *t = NULL;
    if (open_tracker(&t, "open"))
        return 1;
    int rc = check_msg(tropt_tracker_init(t, NULL), "init");
    for (int s = 0; s < 3 && !rc; s++)
        rc = check_msg(tropt_tracker_log_fields(t, &TROPT_F_INT("s", s), 1), "log");
    if (!rc)
        rc = check_msg(tropt_tracker_flush(t), "flush");
    if (!rc)
        rc = check_msg(tropt_tracker_finish(t, NULL), "finish");
    tropt_tracker_free(t);
    return rc;
}

static int p_values(void)
{
    tropt_tracker *t = NULL;
    if (open_tracker(&t, "open"))
        return 1;
    int rc = tropt_tracker_init(t, NULL);
    if (!rc)
        rc = tropt_tracker_log_fields(t, edge, N_EDGE);
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
        rc = broken("edge values (int64 limits, NaN, +-Inf, -0.0, subnormal, \"\", odd keys, "
                    "unicode, 1000 fields) accepted",
                    "%s: %s", tropt_error_name(rc), tropt_error_message());
    tropt_tracker_free(t);
    return rc;
}

/* Allocation failure through the host allocator at every point. */
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

static int p_alloc(void)
{
    tropt_allocator a = {.malloc = f_malloc, .realloc = f_realloc, .free = f_free};
    if (tropt_set_allocator(&a) != TROPT_OK)
        return broken("tropt_set_allocator accepted", "%s", tropt_error_message());
    for (nth = 1; nth < 400; nth++) {
        /* run_child's alarm catches a hang, not a slow machine: up to 400
         * whole runs (a connection each on pg) get 120 s each */
        alarm(120);
        count = 0;
        live = 0;
        tropt_tracker *t = NULL;
        int rc = tropt_tracker_open(&t, g_spec, "conformance", NULL);
        if (rc == TROPT_OK) {
            tropt_tracker_init(t, NULL);
            tropt_tracker_log_fields(t, edge, N_EDGE_NO_NAN);
            tropt_tracker_finish(t, NULL);
            tropt_tracker_free(t);
        }
        if (live != 0)
            return broken("every allocation freed when the n-th allocation fails",
                          "%ld allocation(s) leaked when allocation #%ld failed", live, nth);
        if (count < nth)
            break; /* every point has been failed once */
    }
    say("%ld allocation points failed one at a time", nth - 1);
    return 0;
}

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
            snprintf(c->seen, sizeof c->seen, "step %" PRId64 " of instance %d holds '%s'",
                     ev->step, c->id, ev->fields[i].v.s);
        }
    return 0;
}

static int p_threads(void)
{
    worker w[2] = {{.id = 0}, {.id = 1}};
    for (int i = 0; i < 2; i++) {
        /* separate stores where the plugin has a path option: two
         * instances are two trackers of one process, as an optimizer
         * running two trials would have */
        if (open_tracker(&w[i].t, "open")) {
            if (i)
                tropt_tracker_free(w[0].t);
            return 1;
        }
    }
    pthread_t th[2];
    int started = 0, e = 0;
    while (started < 2 && (e = pthread_create(&th[started], NULL, work, &w[started])) == 0)
        started++;
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    int rc = 0;
    if (e != 0)
        rc = broken("two instances used from two threads both succeed",
                    "the kit could not start thread %d: %s", started, strerror(e));
    for (int i = 0; i < 2 && !rc; i++)
        if (w[i].rc)
            rc = broken("two instances used from two threads both succeed", "instance %d: %s: %s",
                        i, tropt_error_name(w[i].rc), tropt_error_message());
    for (int i = 0; i < 2; i++)
        tropt_tracker_free(w[i].t);
    if (rc || !(g_tab->struct_size >= TROPT_PLUGIN_READER_SIZE && g_tab->reader_open))
        return rc;
    tropt_reader *r = NULL;
    if (tropt_reader_open(&r, g_spec) != TROPT_OK)
        return broken("a reader opens on what was written", "%s", tropt_error_message());
    for (int i = 0; i < 2 && !rc; i++) {
        tagcheck c = {.id = i};
        int e = tropt_reader_read_run(r, w[i].run_id, check_tags, &c);
        if (e)
            rc = broken("each instance's run reads back", "%s", tropt_error_message());
        else if (c.bad || c.steps != THREAD_STEPS)
            rc = broken("each instance's steps read back as that instance logged them",
                        "%s (%" PRId64 " steps of %d)", c.bad ? c.seen : "steps missing", c.steps,
                        THREAD_STEPS);
    }
    tropt_reader_free(r);
    return rc;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#define LAT_STEPS 1000
#define LAT_P99_MS 5.0

/* Milliseconds the calling thread has spent runnable but waiting for a
 * CPU (/proc/thread-self/schedstat), or -1 where the kernel does not say.
 * Left out of a log call's latency: on a busy machine a preempted call is
 * not a call that blocks. */
static double cpu_wait_ms(void)
{
    FILE *f = fopen("/proc/thread-self/schedstat", "r");
    unsigned long long run = 0, wait = 0;
    int n = f ? fscanf(f, "%llu %llu", &run, &wait) : 0;
    if (f)
        fclose(f);
    return n == 2 ? (double)wait / 1e6 : -1;
}

static int p_latency(void)
{
    tropt_tracker *t = NULL;
    if (open_tracker(&t, "open"))
        return 1;
    static double d[LAT_STEPS];
    int rc = tropt_tracker_init(t, NULL);
    for (int s = 0; s < LAT_STEPS && !rc; s++) {
        tropt_field f[10];
        static const char *const k[10] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};
        for (int i = 0; i < 10; i++)
            f[i] = TROPT_F_REAL(k[i], s * 0.1 + i);
        double w0 = cpu_wait_ms(), t0 = now_s();
        rc = tropt_tracker_log_fields(t, f, 10);
        d[s] = (now_s() - t0) * 1e3;
        double w1 = cpu_wait_ms();
        if (w0 >= 0 && w1 >= w0)
            d[s] = d[s] > w1 - w0 ? d[s] - (w1 - w0) : 0;
    }
    if (!rc)
        rc = tropt_tracker_finish(t, NULL);
    tropt_tracker_free(t);
    if (rc)
        return broken("log succeeds", "%s", tropt_error_message());
    qsort(d, LAT_STEPS, sizeof *d, cmp_d);
    double p50 = d[LAT_STEPS / 2], p99 = d[LAT_STEPS * 99 / 100];
    say("log latency p50 %.3f ms, p99 %.3f ms (10 fields; time waiting for a CPU left out)", p50,
        p99);
    if (p99 > LAT_P99_MS)
        return broken("log p99 <= 5 ms (log must not block)",
                      "p99 %.3f ms, p50 %.3f ms over %d steps", p99, p50, LAT_STEPS);
    return 0;
}

/* Read back: the edge step must come back identical.  What a store's
 * format cannot tell apart is accepted: NaN as null (sqlite views), a bool
 * as 0/1, an array as its JSON text. */
typedef struct rb {
    int steps;
    char diff[512];
} rb;

static int same_field(const tropt_field *want, const tropt_field *got)
{
    switch (want->type) {
    case TROPT_INT:
        return got->type == TROPT_INT && got->v.i == want->v.i;
    case TROPT_REAL:
        if (isnan(want->v.r))
            return (got->type == TROPT_REAL && isnan(got->v.r)) || got->type == TROPT_NULL;
        return got->type == TROPT_REAL && memcmp(&got->v.r, &want->v.r, sizeof(double)) == 0;
    case TROPT_STRING:
        return got->type == TROPT_STRING && strcmp(got->v.s, want->v.s) == 0;
    case TROPT_BOOL:
        return (got->type == TROPT_BOOL && got->v.b == want->v.b) ||
               (got->type == TROPT_INT && got->v.i == want->v.b);
    case TROPT_JSON: {
        if (got->type == TROPT_JSON)
            return json_equal((json_t *)want->v.json, (json_t *)got->v.json);
        if (got->type != TROPT_STRING)
            return 0;
        json_t *j = json_loads(got->v.s, JSON_DECODE_ANY, NULL);
        int eq = j && json_equal(j, (json_t *)want->v.json);
        json_decref(j);
        return eq;
    }
    case TROPT_NULL:
        return got->type == TROPT_NULL;
    }
    return 0;
}

static void describe(char *buf, size_t size, const tropt_field *f)
{
    switch (f->type) {
    case TROPT_INT:
        snprintf(buf, size, "int %" PRId64, f->v.i);
        break;
    case TROPT_REAL:
        snprintf(buf, size, "real %.17g", f->v.r);
        break;
    case TROPT_STRING:
        snprintf(buf, size, "string \"%s\"", f->v.s);
        break;
    case TROPT_BOOL:
        snprintf(buf, size, "bool %d", f->v.b);
        break;
    case TROPT_NULL:
        snprintf(buf, size, "null");
        break;
    case TROPT_JSON:
        snprintf(buf, size, "json");
        break;
    }
}

static int rb_event(const tropt_event *ev, void *ud)
{
    rb *r = ud;
    if (ev->kind != TROPT_EVENT_STEP)
        return 0;
    r->steps++;
    for (size_t i = 0; i < N_EDGE_NO_NAN && !r->diff[0]; i++) {
        const tropt_field *got = NULL;
        for (size_t j = 0; j < ev->n; j++)
            if (strcmp(ev->fields[j].key, edge[i].key) == 0)
                got = &ev->fields[j];
        char w[128], g[128] = "nothing";
        describe(w, sizeof w, &edge[i]);
        if (got)
            describe(g, sizeof g, got);
        if (!got || !same_field(&edge[i], got))
            snprintf(r->diff, sizeof r->diff, "key '%s': logged %s, read back %s", edge[i].key, w,
                     g);
    }
    if (!r->diff[0] && ev->n != N_EDGE_NO_NAN)
        snprintf(r->diff, sizeof r->diff, "%zu fields read back, %d logged", ev->n, N_EDGE_NO_NAN);
    return 0;
}

static int p_readback(void)
{
    if (!(g_tab->struct_size >= TROPT_PLUGIN_READER_SIZE && g_tab->reader_open)) {
        say("(no reader hooks: nothing to read back)");
        return 0;
    }
    tropt_tracker *t = NULL;
    if (open_tracker(&t, "open"))
        return 1;
    char id[40] = "";
    int rc = tropt_tracker_init(t, NULL);
    if (!rc) {
        snprintf(id, sizeof id, "%s", tropt_tracker_run_id(t));
        rc = tropt_tracker_log_fields(t, edge, N_EDGE_NO_NAN);
    }
    if (!rc)
        rc = tropt_tracker_finish(t, NULL);
    tropt_tracker_free(t);
    if (rc)
        return broken("the edge step is logged", "%s", tropt_error_message());
    tropt_reader *r = NULL;
    if (tropt_reader_open(&r, g_spec) != TROPT_OK)
        return broken("a reader opens on what was written", "%s", tropt_error_message());
    rb res = {0};
    rc = tropt_reader_read_run(r, id, rb_event, &res);
    if (rc)
        rc = broken("the run reads back", "%s", tropt_error_message());
    else if (res.steps != 1)
        rc = broken("one step read back", "%d steps", res.steps);
    else if (res.diff[0])
        rc = broken("everything logged reads back identical", "%s", res.diff);
    tropt_reader_free(r);
    return rc;
}

/* ---- driver ------------------------------------------------------------- */

typedef struct promise {
    const char *name;
    int (*run)(void);
} promise;

static const promise promises[] = {
    {"table: ABI, sizes, name, option declarations", p_table},
    {"options: unknown option refused naming it", p_options},
    {"secrets never appear in any output", p_secret},
    {"state machine: init, log, finish, a second run", p_states},
    {"failing hooks return a code with a message", p_failures},
    {"typed values at the edges accepted", p_values},
    {"allocation failure at every point: no crash, no leak", p_alloc},
    {"two instances from two threads", p_threads},
    {"log latency p50/p99", p_latency},
    {"everything logged reads back identical", p_readback},
};
#define N_PROMISES (sizeof promises / sizeof promises[0])

/* Remove the kit's temporary folder and everything the promises left. */
static void remove_root(const char *root)
{
    char *rm = NULL;
    if (asprintf(&rm, "rm -rf '%s'", root) >= 0) {
        int r = system(rm);
        (void)r;
        free(rm);
    }
}

static int run_child(size_t i, const char *root, char *report, size_t size)
{
    int fd[2];
    if (pipe(fd) != 0)
        return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        g_report = fd[1];
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/p%zu", root, i + 1);
        if (mkdir(dir, 0700) != 0 || chdir(dir) != 0)
            _exit(3);
        tropt_set_log_handler(capture, NULL);
        alarm(120);
        int rc = promises[i].run();
        _exit(rc ? 1 : 0);
    }
    close(fd[1]);
    size_t len = 0;
    ssize_t n;
    while ((n = read(fd[0], report + len, size - 1 - len)) > 0)
        len += (size_t)n;
    report[len] = '\0';
    close(fd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    if (WIFSIGNALED(st)) {
        snprintf(report + len, size - len,
                 "%sexpected: no crash\n      observed: killed by signal %d (%s)",
                 len ? "\n      " : "", WTERMSIG(st), strsignal(WTERMSIG(st)));
        return 1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

int cmd_conformance(int argc, char **argv)
{
    const char *plugin = NULL;
    size_t speclen = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: tropt %s\n"
                   "Run the plugin contract (SPEC 10) against PLUGIN (a name on the search\n"
                   "path or a path to a .so) with the given options.\n",
                   USAGE);
            return 0;
        }
        if (!plugin)
            plugin = argv[i];
        else if (!strchr(argv[i], '='))
            return cli_usage(USAGE, "options are KEY=VALUE, not '%s'", argv[i]);
        speclen += strlen(argv[i]) + 1;
    }
    if (!plugin)
        return cli_usage(USAGE, "missing PLUGIN");
    char absplug[4096];
    if (strchr(plugin, '/') && plugin[0] != '/') {
        char cwd[2048];
        if (!getcwd(cwd, sizeof cwd))
            return 1;
        snprintf(absplug, sizeof absplug, "%s/%s", cwd, plugin);
        plugin = absplug;
    }
    char *spec = calloc(1, speclen + strlen(plugin) + 2);
    if (!spec)
        return 1;
    strcpy(spec, plugin);
    for (int i = 2; i < argc; i++) {
        strcat(spec, i == 2 ? ":" : ",");
        strcat(spec, argv[i]);
    }
    g_spec = spec;
    make_edge();

    /* Every promise runs in its own folder under root; so does this probe,
     * so that the kit never writes into the caller's folder (a backend's
     * default path is relative). */
    char root[] = "/tmp/tropt-conformance-XXXXXX";
    char probe[sizeof root + 8];
    int here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int have_root = here >= 0 && mkdtemp(root) != NULL;
    int made = have_root;
    if (made) {
        snprintf(probe, sizeof probe, "%s/p0", root);
        made = mkdir(probe, 0700) == 0 && chdir(probe) == 0;
    }
    if (!made) {
        fprintf(stderr, "tropt: cannot create a temporary folder: %s\n", strerror(errno));
        if (here >= 0)
            close(here);
        if (have_root)
            remove_root(root); /* mkdtemp made it (a failed one may still have
                                * rewritten the template: never removed) */
        free(spec);
        return 1;
    }

    /* the table, in this process */
    tropt_tracker *t = NULL;
    int open_rc = tropt_tracker_open(&t, spec, "conformance", NULL);
    if (fchdir(here) != 0) {
        fprintf(stderr, "tropt: cannot return to the working folder: %s\n", strerror(errno));
        close(here);
        tropt_tracker_free(t);
        remove_root(root);
        free(spec);
        return 1;
    }
    close(here);
    if (open_rc == TROPT_OK) {
        /* Keep the table, but not the instance: the promises run in forked
         * children, and a child forked while this instance's threads (an
         * http sender, a pg heartbeat) hold a lock would wait forever for
         * it.  The extra reference keeps the file mapped once t is freed. */
        const char *loaded = NULL;
        tropt_tracker_backend(t, 0, &g_tab, &loaded, NULL, NULL);
        void *keep = loaded ? dlopen(loaded, RTLD_NOW | RTLD_NOLOAD) : NULL;
        if (!keep)
            g_tab = NULL; /* cannot happen for a loaded file; then report, do not crash */
        tropt_tracker_free(t);
        t = NULL;
    } else {
        /* the host refused it: read the table directly for the report */
        void *h = dlopen(strchr(plugin, '/') ? plugin : NULL, RTLD_NOW | RTLD_LOCAL);
        const tropt_plugin *(*entry)(void) = NULL;
        if (h)
            *(void **)&entry = dlsym(h, TROPT_PLUGIN_ENTRY_SYMBOL);
        g_tab = entry ? entry() : NULL;
    }
    printf("conformance of %s\n", spec);
    size_t kept = 0;
    for (size_t i = 0; i < N_PROMISES; i++) {
        char report[4096] = "";
        int rc;
        if (!g_tab && i > 0) {
            rc = 1;
            snprintf(report, sizeof report, "expected: a loadable plugin\n      observed: %s",
                     tropt_error_message());
        } else if (i == 0 && open_rc != TROPT_OK && !g_tab) {
            rc = 1;
            snprintf(report, sizeof report,
                     "expected: a loadable plugin with a valid table\n      observed: %s",
                     tropt_error_message());
        } else {
            rc = run_child(i, root, report, sizeof report);
        }
        printf("%s %2zu  %s\n", rc ? "FAIL" : "ok  ", i + 1, promises[i].name);
        if (report[0])
            printf("      %s\n", report);
        if (!rc)
            kept++;
    }
    printf("conformance: %zu/%zu promises kept\n", kept, (size_t)N_PROMISES);
    tropt_tracker_free(t);
    remove_root(root);
    free(spec);
    json_decref(edge_array);
    return kept == N_PROMISES ? 0 : 1;
}
