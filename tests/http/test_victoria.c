/*
 * tests/http/test_victoria.c - format=influx against a real VictoriaMetrics
 * (Debian's victoria-metrics), started on a free loopback port with a
 * temporary storage folder and stopped after.  The demo-like run is read
 * back through /api/v1/export and compared point by point.  Skips (with a
 * message) when the binary is absent.
 *
 * VictoriaMetrics stores values in a lossy decimal form where the values of
 * a block share one exponent (we measured 9.2686061797936675e-07 coming
 * back as 9.2686061797e-07 in a series whose values reach 24), and
 * timestamps in milliseconds; string fields become 0-valued series (it has
 * no strings).  So: integers below 2^53, booleans and timestamps must come
 * back exact, reals equal within 1e-11 of their series' magnitude, and
 * non-finite values must be absent.  (The exactness of what we
 * send is asserted on the wire text in test_http.c.)
 */
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "httpd.h"
#include "testutil.h"
#include "tropt_event.h"

static const char *g_vm_arg;

static const char *find_vm(void)
{
    static char path[4096];
    if (g_vm_arg && *g_vm_arg)
        return access(g_vm_arg, X_OK) == 0 ? g_vm_arg : NULL;
    const char *p = getenv("PATH");
    char *copy = strdup(p ? p : "");
    for (char *dir = strtok(copy, ":"); dir; dir = strtok(NULL, ":")) {
        snprintf(path, sizeof path, "%s/victoria-metrics", dir);
        if (access(path, X_OK) == 0) {
            free(copy);
            return path;
        }
    }
    free(copy);
    snprintf(path, sizeof path, "/usr/bin/victoria-metrics");
    return access(path, X_OK) == 0 ? path : NULL;
}

typedef struct membuf {
    char *p;
    size_t n;
} membuf;

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
    membuf *m = ud;
    size_t n = size * nmemb;
    m->p = realloc(m->p, m->n + n + 1);
    memcpy(m->p + m->n, p, n);
    m->n += n;
    m->p[m->n] = '\0';
    return n;
}

/* GET url; returns the HTTP status (0 on connection failure); body in *out. */
static long http_get(const char *url, char **out)
{
    CURL *e = curl_easy_init();
    membuf m = {0};
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &m);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, 120L); /* a whole export on a loaded machine */
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    long status = 0;
    if (curl_easy_perform(e) == CURLE_OK)
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(e);
    if (out)
        *out = m.p ? m.p : strdup("");
    else
        free(m.p);
    return status;
}

typedef struct series {
    char name[128];
    size_t n;
    double *v;
    long long *ts;
} series;

/* Parse export lines into series (a series may span several lines). */
static size_t parse_export(const char *text, series *out, size_t max)
{
    size_t ns = 0;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        json_error_t err;
        json_t *o = len ? json_loadb(p, len, 0, &err) : NULL;
        if (o) {
            const char *name =
                json_string_value(json_object_get(json_object_get(o, "metric"), "__name__"));
            json_t *vals = json_object_get(o, "values"), *tss = json_object_get(o, "timestamps");
            series *s = NULL;
            for (size_t i = 0; i < ns; i++)
                if (strcmp(out[i].name, name) == 0)
                    s = &out[i];
            if (!s && ns < max) {
                s = &out[ns++];
                memset(s, 0, sizeof *s);
                snprintf(s->name, sizeof s->name, "%s", name);
            }
            size_t k = json_array_size(vals);
            s->v = realloc(s->v, (s->n + k) * sizeof *s->v);
            s->ts = realloc(s->ts, (s->n + k) * sizeof *s->ts);
            for (size_t i = 0; i < k; i++) {
                s->v[s->n + i] = json_number_value(json_array_get(vals, i));
                s->ts[s->n + i] = (long long)json_integer_value(json_array_get(tss, i));
            }
            s->n += k;
            json_decref(o);
        }
        p += len + (nl ? 1 : 0);
    }
    return ns;
}

static series *find_series(series *s, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s[i].name, name) == 0)
            return &s[i];
    return NULL;
}

/* A series and the points it must have (at least). */
typedef struct want_series {
    const char *name;
    size_t n;
} want_series;

static void free_series(series *s, size_t ns)
{
    for (size_t i = 0; i < ns; i++) {
        free(s[i].v);
        free(s[i].ts);
    }
}

/* Data becomes searchable after a flush: force one and read the export
 * until every wanted series has its points, or TU_WAIT_S (scaled) passed.
 * Returns the number of series read last into s (at most max); the
 * caller's asserts say what is missing. */
static size_t export_until(const char *flush, const char *exp, series *s, size_t max,
                           const want_series *w, size_t nw)
{
    size_t ns = 0;
    double dl = tu_deadline(TU_WAIT_S);
    for (;;) {
        free_series(s, ns);
        http_get(flush, NULL);
        char *body = NULL;
        long st = http_get(exp, &body);
        /* a loaded server may answer late: ask again until the deadline */
        ck_assert_msg(st == 200 || tu_now() <= dl,
                      "%s: status %ld (0: no answer) until the deadline", exp, st);
        ns = st == 200 ? parse_export(body, s, max) : 0;
        free(body);
        size_t ok = 0;
        for (size_t k = 0; k < nw; k++) {
            series *se = find_series(s, ns, w[k].name);
            ok += se && se->n >= w[k].n;
        }
        if (ok == nw || tu_now() > dl)
            return ns;
        tu_sleep_ms(50);
    }
}

static double g_worst_rel;

/* Equal within VictoriaMetrics' decimal storage: values of a block share
 * one decimal exponent, so the error is relative to the block's largest
 * value (scale), about 1e-12 of it. */
static int same_stored(double got, double want, double scale)
{
    double err = fabs(got - want);
    double rel = scale > 0 ? err / scale : err;
    if (rel > g_worst_rel)
        g_worst_rel = rel;
    return err <= 1e-10 * fabs(want) || err <= 1e-11 * scale;
}

static double max_abs(const double *v, size_t n, int stride)
{
    double m = 0;
    for (size_t i = 0; i < n; i += (size_t)stride)
        m = fabs(v[i]) > m ? fabs(v[i]) : m;
    return m;
}

typedef struct point {
    long long ts;
    double v;
} point;

static int cmp_point(const void *a, const void *b)
{
    const point *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return x->v < y->v ? -1 : x->v > y->v;
}

enum { DEMO_NK = 4, DEMO_STEPS = 400 };
static const char *const demo_keys[DEMO_NK] = {"loss", "best_loss", "grad_norm", "iteration"};

/* The demo binary run into VictoriaMetrics and a journal at once: its run
 * id into run_id (37 bytes); nothing spooled. */
static void run_demo(const char *demo, const char *base, const char *dir, char *run_id)
{
    char *cmd = tu_strdupf("'%s' --steps 400 --tracker 'http:url=%s/write,format=influx,"
                           "flush_timeout=120s,spool_dir=%s/spool-demo;jsonl:path=%s/demo.jsonl'",
                           demo, base, dir, dir);
    char *out = NULL;
    ck_assert_msg(tu_run(cmd, &out, 0) == 0, "tropt-demo failed: %s", out);
    ck_assert_int_eq(sscanf(out, "run %36s finished", run_id), 1);
    free(out);
    free(cmd);
    char *spool = tu_strdupf("%s/spool-demo", dir);
    ck_assert_msg(access(spool, F_OK) != 0, "the demo spooled events");
    free(spool);
}

/* The journal's points of each demo key, (ms timestamp, value), into
 * want[k] (DEMO_STEPS each, asserted). */
static void journal_points(const char *dir, const char *run_id, point *want[DEMO_NK])
{
    size_t nwant[DEMO_NK] = {0};
    char *journal = tu_strdupf("%s/demo.jsonl", dir);
    tev_reader r;
    ck_assert_int_eq(tev_reader_open(&r, journal, NULL, NULL), 0);
    tev_event ev;
    while (tev_reader_next(&r, &ev) == 1) {
        long long ts = (long long)(llround(ev.time * 1e9) / 1000000);
        for (size_t i = 0; ev.type == TEV_LOG && strcmp(ev.run_id, run_id) == 0 && i < ev.n_fields;
             i++)
            for (int k = 0; k < DEMO_NK; k++)
                if (strcmp(ev.fields[i].key, demo_keys[k]) == 0 && nwant[k] < DEMO_STEPS) {
                    const tropt_field *f = &ev.fields[i];
                    double v = f->type == TROPT_INT ? (double)f->v.i : f->v.r;
                    want[k][nwant[k]++] = (point){ts, v};
                }
        tev_event_clear(&ev);
    }
    tev_reader_close(&r);
    free(journal);
    for (int k = 0; k < DEMO_NK; k++)
        ck_assert_msg(nwant[k] == DEMO_STEPS, "journal: %zu points of %s", nwant[k], demo_keys[k]);
}

/* Series `name` as stored holds the journal's points `want` (key k): the
 * same timestamps, values equal (the integer key) or as stored. */
static void same_points(const series *s, size_t ns, int k, point *want)
{
    char name[128];
    snprintf(name, sizeof name, "rosenbrock-adam_%s", demo_keys[k]);
    const series *se = find_series((series *)s, ns, name);
    ck_assert_msg(se && se->n == DEMO_STEPS, "%s: %zu points, want 400", name, se ? se->n : 0);
    point *got = malloc(DEMO_STEPS * sizeof(point));
    double scale = 0;
    for (size_t i = 0; i < DEMO_STEPS; i++) {
        got[i] = (point){se->ts[i], se->v[i]};
        scale = fabs(want[i].v) > scale ? fabs(want[i].v) : scale;
    }
    qsort(got, DEMO_STEPS, sizeof(point), cmp_point);
    qsort(want, DEMO_STEPS, sizeof(point), cmp_point);
    for (size_t i = 0; i < DEMO_STEPS; i++) {
        ck_assert_msg(got[i].ts == want[i].ts, "%s point %zu: timestamp %lld, want %lld", name, i,
                      got[i].ts, want[i].ts);
        int ok = k == 3 ? got[i].v == want[i].v : same_stored(got[i].v, want[i].v, scale);
        ck_assert_msg(ok, "%s point %zu: %.17g, want %.17g", name, i, got[i].v, want[i].v);
    }
    free(got);
}

/* The demo binary's run, logged to VictoriaMetrics and to a jsonl journal
 * at once: every numeric point of the journal must be in VictoriaMetrics.
 * Steps logged within one millisecond share a timestamp, so points are
 * compared as sorted (timestamp, value) lists. */
static void check_demo_run(const char *base, const char *dir)
{
    const char *demo = getenv("TROPT_DEMO");
    if (!demo || access(demo, X_OK) != 0) {
        fprintf(stderr, "skipped the tropt-demo part: TROPT_DEMO is not built\n");
        return;
    }
    char run_id[40] = "";
    run_demo(demo, base, dir, run_id);
    point *want[DEMO_NK];
    for (int k = 0; k < DEMO_NK; k++)
        want[k] = malloc(DEMO_STEPS * sizeof(point));
    journal_points(dir, run_id, want);

    char *flush = tu_strdupf("%s/internal/force_flush", base);
    char *exp = tu_strdupf("%s/api/v1/export?match[]=%%7Brun_id%%3D%%22%s%%22%%7D", base, run_id);
    series s[16];
    char names[DEMO_NK][128];
    want_series w[DEMO_NK];
    for (int k = 0; k < DEMO_NK; k++) {
        snprintf(names[k], sizeof names[k], "rosenbrock-adam_%s", demo_keys[k]);
        w[k] = (want_series){names[k], DEMO_STEPS};
    }
    size_t ns = export_until(flush, exp, s, 16, w, DEMO_NK);
    for (int k = 0; k < DEMO_NK; k++) {
        same_points(s, ns, k, want[k]);
        free(want[k]);
    }
    fprintf(stderr, "victoria-metrics: tropt-demo run %s: 400 steps, every point present\n",
            run_id);
    for (size_t i = 0; i < ns; i++) {
        free(s[i].v);
        free(s[i].ts);
    }
    free(flush);
    free(exp);
}

#define STEPS 20000

START_TEST(influx_into_victoria_metrics_reads_back_every_point)
{
    const char *vm = find_vm();
    if (!vm) {
        fprintf(stderr, "skipped: victoria-metrics not found (Debian package victoria-metrics)\n");
        return;
    }
    char *dir = tu_mkdtemp();
    int port = httpd_dead_port();
    char *listen = tu_strdupf("-httpListenAddr=127.0.0.1:%d", port);
    char *storage = tu_strdupf("-storageDataPath=%s/data", dir);
    char *logpath = tu_path(dir, "vm.log");
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        FILE *f = freopen(logpath, "w", stdout);
        (void)f;
        dup2(fileno(stdout), 2);
        execl(vm, vm, listen, storage, "-retentionPeriod=100y", (char *)NULL);
        _exit(127);
    }
    char *base = tu_strdupf("http://127.0.0.1:%d", port);
    char *url = tu_strdupf("%s/health", base);
    int healthy = 0;
    double dl = tu_deadline(TU_WAIT_S);
    while (!(healthy = http_get(url, NULL) == 200) && tu_poll(dl)) {
    }
    free(url);
    ck_assert_msg(healthy, "victoria-metrics did not become healthy (see %s)", logpath);

    /* The demo-like run: Adam on Rosenbrock, one point per millisecond. */
    char *spec = tu_strdupf("http:url=%s/write,format=influx,batch_size=5000,"
                            "queue_size=100000,spool_dir=%s/spool,flush_timeout=120s,tags=team=opt",
                            base, dir);
    tropt_tracker *t;
    tu_capture_start();
    ck_assert_msg(tropt_tracker_open(&t, spec, "rosenbrock-adam", NULL) == TROPT_OK, "%s",
                  tropt_error_message());
    json_t *cfg = json_pack("{s:s, s:f}", "optimizer", "adam", "lr", 0.01);
    ck_assert_int_eq(tropt_tracker_init(t, cfg), TROPT_OK);
    char run_id[40];
    snprintf(run_id, sizeof run_id, "%s", tropt_tracker_run_id(t));
    double *loss = malloc(STEPS * sizeof *loss), *best = malloc(STEPS * sizeof *best);
    double *gnorm = malloc(STEPS * sizeof *gnorm), *times = malloc(STEPS * sizeof *times);
    double x = -1.2, y = 1.0, m1[2] = {0, 0}, m2[2] = {0, 0}, b = INFINITY;
    double t0 = floor(time(NULL)) - 60.0;
    double wall0 = httpd_now();
    for (int i = 0; i < STEPS; i++) {
        double f = (1 - x) * (1 - x) + 100 * (y - x * x) * (y - x * x);
        double gx = -2 * (1 - x) - 400 * x * (y - x * x), gy = 200 * (y - x * x);
        b = f < b ? f : b;
        loss[i] = f;
        best[i] = b;
        gnorm[i] = sqrt(gx * gx + gy * gy);
        times[i] = t0 + i * 0.001 + 0.0001234;
        tropt_field fields[] = {
            TROPT_F_REAL("loss", f),
            TROPT_F_REAL("best_loss", b),
            TROPT_F_REAL("grad_norm", gnorm[i]),
            TROPT_F_INT("iteration", 1000000000000LL + i),
            TROPT_F_BOOL("improved", f <= b),
            TROPT_F_STR("phase", i < STEPS / 2 ? "warm up, \"fast\"" : "fine tune"),
            TROPT_F_REAL("odd", i % 2 ? NAN : 0.5 * i),
        };
        ck_assert_int_eq(tropt_tracker_log_fields_at(t, i, times[i], fields, 7), TROPT_OK);
        double g[2] = {gx, gy};
        for (int k = 0; k < 2; k++) {
            m1[k] = 0.9 * m1[k] + 0.1 * g[k];
            m2[k] = 0.999 * m2[k] + 0.001 * g[k] * g[k];
        }
        double c1 = 1 - pow(0.9, i + 1), c2 = 1 - pow(0.999, i + 1);
        x -= 0.01 * (m1[0] / c1) / (sqrt(m2[0] / c2) + 1e-8);
        y -= 0.01 * (m1[1] / c1) / (sqrt(m2[1] / c2) + 1e-8);
    }
    ck_assert_msg(tropt_tracker_finish(t, NULL) == TROPT_OK, "%s", tropt_error_message());
    double wall = httpd_now() - wall0;
    tropt_tracker_free(t);
    ck_assert_msg(!strstr(tu_captured(), "being spooled"), "events were spooled: %s",
                  tu_captured());
    ck_assert_int_eq(tu_captured_count(TROPT_LEVEL_WARNING), 1); /* NaN left out, once */
    tu_capture_stop();
    /* step, loss, best_loss, grad_norm, iteration, improved + half of odd */
    fprintf(stderr,
            "victoria-metrics: %d steps, %.0f numeric values delivered in %.3f s: "
            "%.0f values/s\n",
            STEPS, STEPS * 6.5, wall, STEPS * 6.5 / wall);

    /* Read back: data becomes searchable after a flush; poll until complete. */
    char *flush = tu_strdupf("%s/internal/force_flush", base);
    char *exp = tu_strdupf("%s/api/v1/export?match[]=%%7B__name__%%3D~%%22rosenbrock-adam_.%%2A%%22"
                           "%%2Crun_id%%3D%%22%s%%22%%2Cteam%%3D%%22opt%%22%%7D",
                           base, run_id);
    series s[16];
    size_t ns = 0;
    static const want_series w[] = {
        {"rosenbrock-adam_step", STEPS},      {"rosenbrock-adam_loss", STEPS},
        {"rosenbrock-adam_best_loss", STEPS}, {"rosenbrock-adam_grad_norm", STEPS},
        {"rosenbrock-adam_iteration", STEPS}, {"rosenbrock-adam_improved", STEPS},
        {"rosenbrock-adam_odd", STEPS / 2}};
    ns = export_until(flush, exp, s, 16, w, sizeof w / sizeof w[0]);
    static const char *names[] = {"step",      "loss",     "best_loss", "grad_norm",
                                  "iteration", "improved", "odd"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        char full[128];
        snprintf(full, sizeof full, "rosenbrock-adam_%s", names[k]);
        series *se = find_series(s, ns, full);
        ck_assert_msg(se != NULL, "series %s missing", full);
        size_t want_n = strcmp(names[k], "odd") == 0 ? STEPS / 2 : STEPS;
        ck_assert_msg(se->n == want_n, "%s: %zu points, want %zu", full, se->n, want_n);
        /* one point per millisecond: the timestamp says which step it is */
        long long ms0 = (long long)(llround(times[0] * 1e9) / 1000000);
        for (size_t i = 0; i < se->n; i++) {
            long long idx = se->ts[i] - ms0;
            ck_assert_msg(idx >= 0 && idx < STEPS, "%s: timestamp %lld out of the run", full,
                          se->ts[i]);
            long long want_ts = (long long)(llround(times[idx] * 1e9) / 1000000);
            ck_assert_msg(se->ts[i] == want_ts, "%s: timestamp %lld, want %lld", full, se->ts[i],
                          want_ts);
            double got = se->v[i], want, scale = 0;
            int exact = 1;
            switch (k) {
            case 0:
                want = (double)idx;
                break;
            case 1:
                want = loss[idx];
                scale = max_abs(loss, STEPS, 1);
                exact = 0;
                break;
            case 2:
                want = best[idx];
                scale = max_abs(best, STEPS, 1);
                exact = 0;
                break;
            case 3:
                want = gnorm[idx];
                scale = max_abs(gnorm, STEPS, 1);
                exact = 0;
                break;
            case 4:
                want = 1e12 + (double)idx;
                break;
            case 5:
                want = loss[idx] <= best[idx];
                break;
            default:
                ck_assert_msg(idx % 2 == 0, "odd: NaN step %lld stored", idx);
                want = 0.5 * (double)idx;
                scale = 0.5 * STEPS;
                exact = 0;
            }
            ck_assert_msg(exact ? got == want : same_stored(got, want, scale),
                          "%s step %lld: %.17g, want %.17g", full, idx, got, want);
        }
    }
    fprintf(stderr,
            "victoria-metrics: every point present; ints, bools and timestamps exact; "
            "largest error of a real %.3g of its series' magnitude\n",
            g_worst_rel);
    for (size_t i = 0; i < ns; i++) {
        free(s[i].v);
        free(s[i].ts);
    }
    free(flush);
    free(exp);

    check_demo_run(base, dir);

    kill(pid, SIGTERM);
    int st = 0;
    int reaped = 0;
    double stop_dl = tu_deadline(TU_WAIT_S); /* then SIGKILL */
    while (!(reaped = waitpid(pid, &st, WNOHANG) == pid) && tu_poll(stop_dl)) {
    }
    if (!reaped) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
    }
    json_decref(cfg);
    free(loss);
    free(best);
    free(gnorm);
    free(times);
    free(spec);
    free(base);
    free(listen);
    free(storage);
    free(logpath);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* Start victoria-metrics on a free loopback port with storage in dir;
 * returns its pid and base URL (caller frees), or -1 when it did not
 * become healthy. */
static pid_t start_vm(const char *vm, const char *dir, char **base_out)
{
    int port = httpd_dead_port();
    char *listen = tu_strdupf("-httpListenAddr=127.0.0.1:%d", port);
    char *storage = tu_strdupf("-storageDataPath=%s/data-tight", dir);
    char *logpath = tu_path(dir, "vm-tight.log");
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        FILE *f = freopen(logpath, "w", stdout);
        (void)f;
        dup2(fileno(stdout), 2);
        execl(vm, vm, listen, storage, "-retentionPeriod=100y", (char *)NULL);
        _exit(127);
    }
    char *base = tu_strdupf("http://127.0.0.1:%d", port);
    char *url = tu_strdupf("%s/health", base);
    int healthy = 0;
    double dl = tu_deadline(TU_WAIT_S);
    while (!(healthy = http_get(url, NULL) == 200) && tu_poll(dl)) {
    }
    free(url);
    free(listen);
    free(storage);
    free(logpath);
    *base_out = base;
    return healthy ? pid : -pid;
}

static void stop_child(pid_t pid)
{
    kill(pid, SIGTERM);
    int st = 0, reaped = 0;
    double stop_dl = tu_deadline(TU_WAIT_S); /* then SIGKILL */
    while (!(reaped = waitpid(pid, &st, WNOHANG) == pid) && tu_poll(stop_dl)) {
    }
    if (!reaped) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
    }
}

#define TIGHT 100000

/* issue 18 #9: a 100,000-step tight loop (steps far less than a
 * millisecond apart), an experiment starting with '#' and a field named
 * time: every value arrives, counted by querying the server. */
START_TEST(tight_loop_every_value_arrives)
{
    const char *vm = find_vm();
    if (!vm) {
        fprintf(stderr, "skipped: victoria-metrics not found (Debian package victoria-metrics)\n");
        return;
    }
    char *dir = tu_mkdtemp();
    char *base = NULL;
    pid_t pid = start_vm(vm, dir, &base);
    if (pid < 0)
        stop_child(-pid);
    ck_assert_msg(pid > 0, "victoria-metrics did not become healthy (see %s/vm-tight.log)", dir);
    char *spec = tu_strdupf("http:url=%s/write,format=influx,spool_dir=%s/spool,flush_timeout=120s",
                            base, dir);
    tropt_tracker *t;
    tu_capture_start();
    ck_assert_msg(tropt_tracker_open(&t, spec, "#tight", NULL) == TROPT_OK, "%s",
                  tropt_error_message());
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char run_id[40];
    snprintf(run_id, sizeof run_id, "%s", tropt_tracker_run_id(t));
    double t0 = httpd_now();
    for (int i = 0; i < TIGHT; i++) {
        tropt_field f[] = {TROPT_F_INT("v", i), TROPT_F_REAL("time", 0.5 * i)};
        ck_assert_int_eq(tropt_tracker_log_fields(t, f, 2), TROPT_OK);
    }
    double loop = httpd_now() - t0;
    ck_assert_msg(tropt_tracker_finish(t, NULL) == TROPT_OK, "%s", tropt_error_message());
    tropt_tracker_free(t);
    ck_assert_msg(!strstr(tu_captured(), "spool"), "events were spooled: %s", tu_captured());
    tu_capture_stop();

    char *flush = tu_strdupf("%s/internal/force_flush", base);
    char *exp = tu_strdupf("%s/api/v1/export?match[]=%%7B__name__%%3D~%%22_tight_.%%2A%%22"
                           "%%2Crun_id%%3D%%22%s%%22%%7D",
                           base, run_id);
    series s[8];
    size_t ns = 0;
    static const want_series w[] = {{"_tight_v", TIGHT}, {"_tight_time_", TIGHT}};
    ns = export_until(flush, exp, s, 8, w, 2);
    series *v = find_series(s, ns, "_tight_v"), *tm = find_series(s, ns, "_tight_time_");
    ck_assert_msg(v && tm, "series _tight_v / _tight_time_ missing (%zu series)", ns);
    char *seen = calloc(TIGHT, 1);
    size_t distinct = 0;
    for (size_t i = 0; i < v->n; i++) {
        long long x = (long long)v->v[i];
        if (x >= 0 && x < TIGHT && !seen[x]++)
            distinct++;
    }
    free(seen);
    fprintf(stderr,
            "victoria-metrics: tight loop of %d steps in %.3f s (%.0f steps/ms): %zu values of v "
            "stored, %zu distinct; %zu of time_\n",
            TIGHT, loop, TIGHT / loop / 1000, v->n, distinct, tm->n);
    ck_assert_msg(distinct == TIGHT, "%zu of %d values of v stored", distinct, TIGHT);
    ck_assert_msg(tm->n == TIGHT, "%zu of %d values of time_ stored", tm->n, TIGHT);
    for (size_t i = 0; i < ns; i++) {
        free(s[i].v);
        free(s[i].ts);
    }
    free(flush);
    free(exp);
    stop_child(pid);
    free(spec);
    free(base);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

int main(int argc, char **argv)
{
    g_vm_arg = argc > 1 ? argv[1] : NULL;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Suite *s = suite_create("http-victoria");
    TCase *tc = tcase_create("victoria-metrics");
    tcase_set_timeout(tc, 400); /* each test; ASan on a busy machine: 150 s for both */
    tcase_add_test(tc, influx_into_victoria_metrics_reads_back_every_point);
    tcase_add_test(tc, tight_loop_every_value_arrives);
    suite_add_tcase(s, tc);
    int rc = tu_run_suite(s);
    curl_global_cleanup();
    return rc;
}
