/*
 * tests/http/test_http.c - the http backend against a plain HTTP receiver on
 * loopback (tests/http/httpd.c): delivery exactly once and in order,
 * retries, rejections, a slow / resetting / hanging / absent server, the
 * spool and its replay, options, the influx encoder.  The VictoriaMetrics
 * test lives in test_victoria.c.
 */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "httpd.h"
#include "influx.h"
#include "allocloop.h"
#include "recs.h"
#include "testutil.h"
#include "tropt_event.h"

/* ---- helpers ---------------------------------------------------------- */

static void recs_from_server(recs *r, httpd *h)
{
    for (size_t i = 0; i < h->n_bodies; i++)
        recs_add_text(r, h->bodies[i]);
}

typedef struct lat {
    double *v;
    size_t n;
} lat;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double lat_max(lat *l)
{
    double m = 0;
    for (size_t i = 0; i < l->n; i++)
        m = l->v[i] > m ? l->v[i] : m;
    return m;
}

static void lat_report(const char *what, lat *l)
{
    if (!l->n)
        return;
    double *c = malloc(l->n * sizeof *c);
    memcpy(c, l->v, l->n * sizeof *c);
    qsort(c, l->n, sizeof *c, cmp_double);
    fprintf(stderr, "%s: log latency over %zu calls: p50 %.1f us, p99 %.1f us, max %.1f us\n", what,
            l->n, c[l->n / 2] * 1e6, c[(l->n * 99) / 100] * 1e6, c[l->n - 1] * 1e6);
    free(c);
}

/* The fields of a demo-like step. */
typedef struct step_fields {
    json_t *x;
    tropt_field f[8];
    size_t n;
} step_fields;

static void make_step(step_fields *s, int i)
{
    s->x = json_pack("[f, f]", 1.0 - 1.0 / (i + 2), 0.5 * i);
    double loss = 100.0 / (i + 1) + 1e-3 * i;
    size_t n = 0;
    s->f[n++] = TROPT_F_REAL("loss", loss);
    s->f[n++] = TROPT_F_REAL("best_loss", loss);
    s->f[n++] = TROPT_F_INT("iteration", i);
    s->f[n++] = TROPT_F_JSON("x", s->x);
    s->f[n++] = TROPT_F_STR("phase", i % 2 ? "descent, \"odd\"" : "descent\neven");
    s->f[n++] = TROPT_F_BOOL("improved", i % 3 == 0);
    s->f[n++] = TROPT_F_REAL("weird", i % 5 == 0 ? NAN : i % 5 == 1 ? -INFINITY : 0.1 * i);
    s->n = n;
}

/* Log `steps` steps; record latencies; return the first error code seen
 * (its message in err). */
static int log_steps(tropt_tracker *t, int steps, lat *l, char *err, size_t errsz)
{
    int first = TROPT_OK;
    for (int i = 0; i < steps; i++) {
        step_fields s;
        make_step(&s, i);
        double t0 = httpd_now();
        int rc = tropt_tracker_log_fields(t, s.f, s.n);
        double dt = httpd_now() - t0;
        if (l) {
            l->v = realloc(l->v, (l->n + 1) * sizeof *l->v);
            l->v[l->n++] = dt;
        }
        if (rc != TROPT_OK && first == TROPT_OK) {
            first = rc;
            snprintf(err, errsz, "%s", tropt_error_message());
        }
        json_decref(s.x);
    }
    return first;
}

static tropt_tracker *open_spec(const char *spec, const char *experiment)
{
    tropt_tracker *t = NULL;
    int rc = tropt_tracker_open(&t, spec, experiment, NULL);
    ck_assert_msg(rc == TROPT_OK, "open %s: %s", spec, tropt_error_message());
    return t;
}

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* ---- delivery --------------------------------------------------------- */

START_TEST(every_event_received_once_in_order_with_headers)
{
    httpd h = {0};
    httpd_start(&h);
    char *dir = tu_mkdtemp();
    char *spool = tu_path(dir, "spool");
    setenv("TROPT_TEST_TOKEN", "s3cret-t0ken", 1);
    char *spec = tu_strdupf("http:url=http://127.0.0.1:%d/ingest,batch_size=100,"
                            "token_env=TROPT_TEST_TOKEN,headers=\"X-Test: yes|X-Other: 2\","
                            "spool_dir=%s,flush_timeout=120s",
                            h.port, spool);
    json_t *cfg = json_pack("{s:s, s:f}", "optimizer", "adam", "lr", 0.1);
    tropt_tracker *t = open_spec(spec, "rosenbrock");
    char ids[2][40];
    lat l = {0};
    char err[512] = "";
    for (int r = 0; r < 2; r++) {
        ck_assert_int_eq(tropt_tracker_init(t, cfg), TROPT_OK);
        snprintf(ids[r], 40, "%s", tropt_tracker_run_id(t));
        ck_assert_msg(log_steps(t, 1000, &l, err, sizeof err) == TROPT_OK, "%s", err);
        ck_assert_msg(tropt_tracker_finish(t, NULL) == TROPT_OK, "%s", tropt_error_message());
    }
    tropt_tracker_free(t);
    httpd_stop(&h);
    lat_report("healthy server", &l);

    recs got = {0};
    recs_from_server(&got, &h);
    recs want = recs_expected(ids, 2, 1000);
    recs_assert_in_order(NULL, &got, &want);
    ck_assert_str_eq(h.auth, "Bearer s3cret-t0ken");
    ck_assert_str_eq(h.ctype, "application/x-ndjson");
    ck_assert_str_eq(h.custom, "yes");
    ck_assert_int_ge(h.n_bodies, 20); /* batched: at most 100 events each */
    ck_assert_int_eq(h.n_requests, (int)h.n_bodies);
    ck_assert_msg(!exists(spool), "nothing should be spooled");
    free(got.v);
    free(want.v);
    free(l.v);
    json_decref(cfg);
    httpd_free(&h);
    tu_rmtree(dir);
    free(spool);
    free(spec);
    free(dir);
}
END_TEST

/* Run one run of `steps` steps against a server configured by the caller;
 * returns the run id; fills delivered/spooled. */
typedef struct scenario {
    const char *extra; /* extra options */
    int steps;
    int hold_expired; /* the server's hold (httpd.h) ended before the logs did */
    int finish_rc;
    char finish_err[512];
    int log_rc;
    char log_err[512];
    char run_id[40];
    lat l;
    double finish_secs;
    recs delivered, spooled;
    int spool_files;
    char *captured;
} scenario;

/* A live server gets everything unless the scenario says otherwise: a
 * finish waits for it long enough for a loaded machine (flush_timeout
 * bounds the wait, it does not slow a healthy run).  A server holding its
 * answers (httpd.h) is released once every step is logged. */
static void run_scenario(httpd *h, int port, scenario *sc)
{
    char *dir = tu_mkdtemp();
    char *spool = tu_path(dir, "spool");
    const char *extra = sc->extra ? sc->extra : "";
    int patient = h && !strstr(extra, "flush_timeout=");
    char *spec =
        tu_strdupf("http:url=http://127.0.0.1:%d/,spool_dir=%s,retry_initial=5ms,"
                   "retry_max=50ms%s%s%s",
                   port, spool, *extra ? "," : "", extra, patient ? ",flush_timeout=120s" : "");
    tu_capture_start();
    tropt_tracker *t = open_spec(spec, "scenario");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    snprintf(sc->run_id, sizeof sc->run_id, "%s", tropt_tracker_run_id(t));
    sc->log_rc = log_steps(t, sc->steps, &sc->l, sc->log_err, sizeof sc->log_err);
    if (h) {
        sc->hold_expired = atomic_load(&h->hold_expired);
        httpd_release(h);
    }
    double t0 = httpd_now();
    sc->finish_rc = tropt_tracker_finish(t, NULL);
    sc->finish_secs = httpd_now() - t0;
    snprintf(sc->finish_err, sizeof sc->finish_err, "%s", tropt_error_message());
    tropt_tracker_free(t);
    sc->captured = strdup(tu_captured());
    tu_capture_stop();
    if (h) {
        httpd_stop(h);
        recs_from_server(&sc->delivered, h);
    }
    sc->spool_files = exists(spool) ? recs_from_dir(&sc->spooled, spool, "") : 0;
    tu_rmtree(dir);
    free(spool);
    free(spec);
    free(dir);
}

static void scenario_free(scenario *sc)
{
    free(sc->delivered.v);
    free(sc->spooled.v);
    free(sc->l.v);
    free(sc->captured);
}

/* The conformance kit keeps every promise on http against a healthy
 * receiver on loopback (CI runs the kit on every shipped plugin). */
START_TEST(conformance_kit_on_http)
{
#if defined(__SANITIZE_THREAD__)
    /* the kit forks a child per promise after threads ran, which TSan does
     * not support; it runs in the plain and ASan builds */
    return;
#endif
    httpd h = {0};
    httpd_start(&h);
    char *dir = tu_mkdtemp();
    setenv("TROPT_TEST_TOKEN", "s3cret-t0ken", 1);
    char *cmd = tu_strdupf("'%s' conformance http url=http://127.0.0.1:%d/ingest "
                           "token_env=TROPT_TEST_TOKEN spool_dir=%s/spool 2>&1",
                           getenv("TROPT_CLI"), h.port, dir);
    char *out = NULL;
    int rc = tu_run(cmd, &out, 1);
    httpd_stop(&h);
    const char *last = strstr(out, "conformance: ");
    int kept = -1, ran = -2;
    ck_assert_msg(rc == 0 && last &&
                      sscanf(last, "conformance: %d/%d promises kept", &kept, &ran) == 2 &&
                      kept == ran,
                  "%s\n%s", cmd, out);
    ck_assert_msg(!strstr(out, "s3cret-t0ken"), "the token was shown:\n%s", out);
    free(out);
    free(cmd);
    httpd_free(&h);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(server_503_first_then_everything_once)
{
    httpd h = {.n_bad = 3, .bad = HTTPD_503};
    httpd_start(&h);
    scenario sc = {.steps = 300, .extra = "batch_size=50"};
    run_scenario(&h, h.port, &sc);
    ck_assert_msg(sc.finish_rc == TROPT_OK && sc.log_rc == TROPT_OK, "%s %s", sc.finish_err,
                  sc.log_err);
    char ids[1][40];
    memcpy(ids[0], sc.run_id, 40);
    recs want = recs_expected(ids, 1, 300);
    recs_assert_in_order(NULL, &sc.delivered, &want);
    ck_assert_int_eq(h.n_requests, (int)h.n_bodies + 3); /* three retries */
    ck_assert_int_eq(sc.spool_files, 0);
    free(want.v);
    scenario_free(&sc);
    httpd_free(&h);
}
END_TEST

START_TEST(server_429_retry_after_is_honoured)
{
    httpd h = {.n_bad = 1, .bad = HTTPD_429};
    httpd_start(&h);
    scenario sc = {.steps = 20};
    run_scenario(&h, h.port, &sc);
    ck_assert_msg(sc.finish_rc == TROPT_OK, "%s", sc.finish_err);
    char ids[1][40];
    memcpy(ids[0], sc.run_id, 40);
    recs want = recs_expected(ids, 1, 20);
    recs_assert_in_order(NULL, &sc.delivered, &want);
    ck_assert_int_ge(h.n_requests, 2);
    /* Retry-After: 1 beats the 5 ms backoff */
    ck_assert_msg(h.req_times[1] - h.req_times[0] >= 0.95, "retried after %.3f s",
                  h.req_times[1] - h.req_times[0]);
    free(want.v);
    scenario_free(&sc);
    httpd_free(&h);
}
END_TEST

START_TEST(connection_resets_are_retried)
{
    httpd h = {.n_bad = 2, .bad = HTTPD_RESET};
    httpd_start(&h);
    scenario sc = {.steps = 200, .extra = "batch_size=40"};
    run_scenario(&h, h.port, &sc);
    ck_assert_msg(sc.finish_rc == TROPT_OK && sc.log_rc == TROPT_OK, "%s %s", sc.finish_err,
                  sc.log_err);
    char ids[1][40];
    memcpy(ids[0], sc.run_id, 40);
    recs want = recs_expected(ids, 1, 200);
    recs_assert_in_order(NULL, &sc.delivered, &want);
    ck_assert_int_eq(h.n_requests, (int)h.n_bodies + 2);
    ck_assert_int_eq(sc.spool_files, 0);
    free(want.v);
    scenario_free(&sc);
    httpd_free(&h);
}
END_TEST

/* The server answers nothing until every step is logged: no log call waits
 * for an answer (it would wait until the hold expires, TU_WAIT_S). */
START_TEST(slow_server_does_not_slow_log)
{
    httpd h = {.hold = 1};
    httpd_start(&h);
    scenario sc = {.steps = 3000,
                   .extra = "batch_size=2000,max_delay=1ms,flush_timeout=120s,timeout=600s"};
    run_scenario(&h, h.port, &sc);
    ck_assert_msg(sc.finish_rc == TROPT_OK && sc.log_rc == TROPT_OK, "%s %s", sc.finish_err,
                  sc.log_err);
    char ids[1][40];
    memcpy(ids[0], sc.run_id, 40);
    recs want = recs_expected(ids, 1, 3000);
    recs_assert_in_order(NULL, &sc.delivered, &want);
    lat_report("server holding its answers", &sc.l);
    ck_assert_msg(!sc.hold_expired, "the logs waited for the server's answer (longest %.3f s)",
                  lat_max(&sc.l));
    ck_assert_int_ge(h.n_requests, 1);
    free(want.v);
    scenario_free(&sc);
    httpd_free(&h);
}
END_TEST

START_TEST(rejected_batch_is_reported_not_retried_and_kept)
{
    httpd h = {.n_bad = 1, .bad = HTTPD_400};
    httpd_start(&h);
    scenario sc = {.steps = 100, .extra = "batch_size=10,max_delay=0"};
    run_scenario(&h, h.port, &sc);
    /* reported once, by a later log or by finish */
    const char *msg = sc.log_rc != TROPT_OK ? sc.log_err : sc.finish_err;
    int rc = sc.log_rc != TROPT_OK ? sc.log_rc : sc.finish_rc;
    ck_assert_int_eq(rc, TROPT_EBACKEND);
    ck_assert_msg(strstr(msg, "HTTP 400") && strstr(msg, "bad batch") && strstr(msg, "spool"),
                  "message: %s", msg);
    ck_assert_int_eq(h.n_requests, (int)h.n_bodies + 1); /* never retried */
    char ids[1][40];
    memcpy(ids[0], sc.run_id, 40);
    recs want = recs_expected(ids, 1, 100);
    recs_assert_nothing_lost(&sc.delivered, &sc.spooled, &want);
    ck_assert_int_eq(sc.spool_files, 1);
    free(want.v);
    scenario_free(&sc);
    httpd_free(&h);
}
END_TEST

/* The replay hint keeps the query (InfluxDB 1.x needs ?db=) with secret
 * values masked; tropt check shows the url without its password or token
 * (issue 18 #4). */
START_TEST(replay_hint_keeps_query_check_masks_secrets)
{
    int port = httpd_dead_port();
    char *dir = tu_mkdtemp();
    char *url = tu_strdupf("http://alice:Pw-XYZZY@127.0.0.1:%d/write?db=exp&token=Tk-QUUX", port);
    char *spec = tu_strdupf("http:url=%s,retries=1,retry_initial=5ms,spool_dir=%s/spool", url, dir);
    tu_capture_start();
    tropt_tracker *t = open_spec(spec, "hint");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    tropt_field f = TROPT_F_REAL("loss", 1);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    const char *log = tu_captured();
    ck_assert_msg(strstr(log, "tropt replay") && strstr(log, "/write?db=exp&token=***,spool=off'"),
                  "the replay hint lost the query: %s", log);
    ck_assert_msg(!strstr(log, "Pw-XYZZY") && !strstr(log, "Tk-QUUX"), "a secret shown: %s", log);
    tu_capture_stop();
    char *cmd = tu_strdupf("'%s' check 'http:url=%s'", getenv("TROPT_CLI"), url);
    char *out = NULL;
    ck_assert_int_eq(tu_run(cmd, &out, 1), 0);
    ck_assert_msg(strstr(out, "url=http://alice:***@127.0.0.1:") &&
                      strstr(out, "/write?db=exp&token=***"),
                  "%s", out);
    ck_assert_msg(!strstr(out, "Pw-XYZZY") && !strstr(out, "Tk-QUUX"), "a secret shown: %s", out);
    free(out);
    free(cmd);
    free(spec);
    free(url);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(server_down_whole_run_spools_everything)
{
    int port = httpd_dead_port();
    scenario sc = {.steps = 500, .extra = "retries=2"};
    run_scenario(NULL, port, &sc);
    ck_assert_msg(sc.finish_rc == TROPT_OK && sc.log_rc == TROPT_OK, "%s %s", sc.finish_err,
                  sc.log_err);
    ck_assert_msg(strstr(sc.captured, "tropt replay") && strstr(sc.captured, "/spool"),
                  "no warning naming the spool and the replay command: %s", sc.captured);
    char ids[1][40];
    memcpy(ids[0], sc.run_id, 40);
    recs want = recs_expected(ids, 1, 500);
    recs_assert_in_order(NULL, &sc.spooled, &want);
    ck_assert_int_eq(sc.spool_files, 1);
    free(want.v);
    scenario_free(&sc);
}
END_TEST

START_TEST(influx_spool_holds_ndjson_events)
{
    scenario sc = {.steps = 60, .extra = "format=influx,retries=0"};
    run_scenario(NULL, httpd_dead_port(), &sc);
    ck_assert_msg(sc.finish_rc == TROPT_OK, "%s", sc.finish_err);
    char ids[1][40];
    memcpy(ids[0], sc.run_id, 40);
    recs want = recs_expected(ids, 1, 60);
    recs_assert_in_order(NULL, &sc.spooled, &want); /* decoded as NDJSON events */
    free(want.v);
    scenario_free(&sc);
}
END_TEST

/* A request that never ends (timeout=600s): finish gives up after
 * flush_timeout.  The bounds are generous for a loaded machine and far
 * below the request's timeout, which finish would otherwise wait out. */
START_TEST(hanging_server_finish_bounded_by_flush_timeout)
{
    httpd h = {.n_bad = 1000000, .bad = HTTPD_HANG};
    httpd_start(&h);
    scenario sc = {.steps = 200, .extra = "timeout=600s,flush_timeout=300ms"};
    double t0 = httpd_now();
    run_scenario(&h, h.port, &sc);
    double total = httpd_now() - t0;
    double bound = 0.3 + 10.0 * tu_time_scale();
    ck_assert_msg(sc.finish_rc == TROPT_OK, "%s", sc.finish_err);
    ck_assert_msg(sc.finish_secs < bound, "finish took %.2f s", sc.finish_secs);
    ck_assert_msg(total < 2 * bound, "scenario took %.2f s", total);
    char ids[1][40];
    memcpy(ids[0], sc.run_id, 40);
    recs want = recs_expected(ids, 1, 200);
    ck_assert_int_eq(sc.delivered.n, 0);
    recs_assert_in_order(NULL, &sc.spooled, &want);
    free(want.v);
    scenario_free(&sc);
    httpd_free(&h);
}
END_TEST

/* The server answers nothing until every step is logged: the queue of 8
 * fills and the excess goes to the spool; no log call waits for the
 * server (it would wait until the hold expires, TU_WAIT_S). */
START_TEST(full_queue_spools_instead_of_blocking)
{
    httpd h = {.hold = 1};
    httpd_start(&h);
    scenario sc = {.steps = 300,
                   .extra = "queue_size=8,batch_size=4,flush_timeout=120s,timeout=600s"};
    run_scenario(&h, h.port, &sc);
    ck_assert_msg(sc.finish_rc == TROPT_OK && sc.log_rc == TROPT_OK, "%s %s", sc.finish_err,
                  sc.log_err);
    ck_assert_msg(strstr(sc.captured, "queue full"), "no queue-full warning: %s", sc.captured);
    ck_assert_msg(!sc.hold_expired, "the logs waited for the server's answer (longest %.3f s)",
                  lat_max(&sc.l));
    char ids[1][40];
    memcpy(ids[0], sc.run_id, 40);
    recs want = recs_expected(ids, 1, 300);
    recs_assert_nothing_lost(&sc.delivered, &sc.spooled, &want);
    ck_assert_int_gt(sc.spooled.n, 0);
    free(want.v);
    scenario_free(&sc);
    httpd_free(&h);
}
END_TEST

/* Events the server has received so far (one per line of the bodies). */
static size_t received_events(httpd *h)
{
    size_t n = 0;
    pthread_mutex_lock(&h->mu);
    for (size_t i = 0; i < h->n_bodies; i++)
        for (const char *c = h->bodies[i]; *c; c++)
            n += *c == '\n';
    pthread_mutex_unlock(&h->mu);
    return n;
}

/* issue 18 #12: queue_size below batch_size.  A batch could never fill, so
 * everything beyond queue_size went to the spool although the server was
 * healthy.  batch_size is now clamped to queue_size: a server that keeps up
 * receives every step, nothing is spooled.  The steps go out a full queue
 * at a time (run_start and 9 steps, then 10 steps at a time), each queue
 * received before the next is logged, so however the scheduler runs the
 * sender nothing exceeds queue_size; with max_delay=60m only a full batch
 * is sent, so the old unfillable batch of 50 never went out and the wait
 * for it fails. */
START_TEST(queue_smaller_than_batch_healthy_server_gets_every_step)
{
    enum { STEPS = 100, QUEUE = 10 };
    httpd h = {0};
    httpd_start(&h);
    char *dir = tu_mkdtemp();
    char *spool = tu_path(dir, "spool");
    char *spec = tu_strdupf("http:url=http://127.0.0.1:%d/,spool_dir=%s,queue_size=%d,"
                            "batch_size=50,max_delay=60m,flush_timeout=120s,timeout=600s",
                            h.port, spool, QUEUE);
    tu_capture_start();
    tropt_tracker *t = open_spec(spec, "small-queue");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char ids[1][40];
    snprintf(ids[0], 40, "%s", tropt_tracker_run_id(t));
    for (int i = 0; i < STEPS; i++) {
        step_fields sf;
        make_step(&sf, i);
        ck_assert_msg(tropt_tracker_log_fields(t, sf.f, sf.n) == TROPT_OK, "step %d: %s", i,
                      tropt_error_message());
        json_decref(sf.x);
        size_t queued = (size_t)i + 2; /* run_start and steps 0..i */
        if (queued % QUEUE)
            continue;
        double dl = tu_deadline(TU_WAIT_S);
        while (received_events(&h) < queued)
            ck_assert_msg(tu_poll(dl), "a full queue of %d was not sent: %zu of %zu received",
                          QUEUE, received_events(&h), queued);
    }
    ck_assert_msg(tropt_tracker_finish(t, NULL) == TROPT_OK, "%s", tropt_error_message());
    tropt_tracker_free(t);
    tu_capture_stop();
    httpd_stop(&h);
    recs got = {0};
    recs_from_server(&got, &h);
    recs want = recs_expected(ids, 1, STEPS);
    recs_assert_in_order(NULL, &got, &want);
    ck_assert_msg(!exists(spool), "events were spooled to a healthy server's spool");
    for (size_t i = 0; i < h.n_bodies; i++) { /* batches of at most queue_size events */
        size_t lines = 0;
        for (const char *c = h.bodies[i]; *c; c++)
            lines += *c == '\n';
        ck_assert_msg(lines <= QUEUE, "a batch of %zu events", lines);
    }
    free(got.v);
    free(want.v);
    httpd_free(&h);
    tu_rmtree(dir);
    free(spool);
    free(spec);
    free(dir);
}
END_TEST

/* issue 18 #10: after fork() the sender thread does not exist in the child.
 * Freeing the parent's tracker there must neither block (no drain, no join
 * of a thread that is not there) nor send or spool anything: the parent
 * still owns those events and delivers each exactly once. */
START_TEST(forked_child_free_does_not_block_or_send)
{
    httpd h = {0};
    httpd_start(&h);
    char *dir = tu_mkdtemp();
    char *spool = tu_path(dir, "spool");
    /* max_delay keeps the steps waiting in the ring at fork time (the
     * parent's finish sends them at once); a child that drained them would
     * wait up to flush_timeout, far longer than the test waits for it */
    char *spec = tu_strdupf("http:url=http://127.0.0.1:%d/,spool_dir=%s,flush_timeout=10m,"
                            "max_delay=60m",
                            h.port, spool);
    tropt_tracker *t = open_spec(spec, "fork");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char ids[1][40];
    snprintf(ids[0], 40, "%s", tropt_tracker_run_id(t));
    char err[512] = "";
    ck_assert_msg(log_steps(t, 50, NULL, err, sizeof err) == TROPT_OK, "%s", err);
    double t0 = httpd_now();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        tropt_tracker_free(t); /* the parent's tracker, in the child */
        _exit(0);
    }
    int st = 0, reaped = 0;
    double dl = tu_deadline(TU_WAIT_S);
    while (!(reaped = waitpid(pid, &st, WNOHANG) == pid) && tu_poll(dl)) {
    }
    double child_secs = httpd_now() - t0;
    if (!reaped) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
    }
    ck_assert_msg(reaped, "tropt_tracker_free in the forked child blocked (killed after %.1f s)",
                  child_secs);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
    ck_assert_msg(!exists(spool), "the child spooled the parent's events");
    ck_assert_msg(tropt_tracker_finish(t, NULL) == TROPT_OK, "%s", tropt_error_message());
    tropt_tracker_free(t);
    httpd_stop(&h);
    recs got = {0};
    recs_from_server(&got, &h);
    recs want = recs_expected(ids, 1, 50);
    recs_assert_in_order(NULL, &got, &want);
    ck_assert_msg(!exists(spool), "nothing should be spooled");
    fprintf(stderr, "fork: the child's free returned in %.3f s\n", child_secs);
    free(got.v);
    free(want.v);
    httpd_free(&h);
    tu_rmtree(dir);
    free(spool);
    free(spec);
    free(dir);
}
END_TEST

/* issue 18 #11: while the server stays down, memory stays bounded: what
 * waits beyond queue_size goes to the spool (disk), the ring holds at most
 * queue_size + min(queue_size / 4, 65536) + 1024 events, plus two batches in
 * the sender's hands.  200,000 steps of 10 numbers (about 30 MB if kept)
 * with queue_size=1000 must grow the peak RSS by far less than that, and
 * every event must be in the spool. */
START_TEST(server_down_memory_stays_bounded)
{
    int port = httpd_dead_port();
    char *dir = tu_mkdtemp();
    char *spool = tu_path(dir, "spool");
    char *spec = tu_strdupf("http:url=http://127.0.0.1:%d/,spool_dir=%s,queue_size=1000,"
                            "batch_size=500,retries=0,flush_timeout=30s",
                            port, spool);
    tu_capture_start();
    tropt_tracker *t = open_spec(spec, "down");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char ids[1][40];
    snprintf(ids[0], 40, "%s", tropt_tracker_run_id(t));
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    long rss0 = ru.ru_maxrss;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) /* slow there; no RSS check */
    enum { STEPS = 20000 };
#else
    enum { STEPS = 200000 };
#endif
    static const char *keys[10] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};
    for (int i = 0; i < STEPS; i++) {
        tropt_field f[10];
        for (int k = 0; k < 10; k++)
            f[k] = (tropt_field){.key = keys[k], .type = TROPT_REAL, .v.r = i + 0.1 * k};
        ck_assert_int_eq(tropt_tracker_log_fields(t, f, 10), TROPT_OK);
    }
    getrusage(RUSAGE_SELF, &ru);
    long grown_kb = ru.ru_maxrss - rss0;
    ck_assert_msg(tropt_tracker_finish(t, NULL) == TROPT_OK, "%s", tropt_error_message());
    tropt_tracker_free(t);
    tu_capture_stop();
    fprintf(stderr, "server down: %d steps, peak RSS grew by %ld KB\n", (int)STEPS, grown_kb);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__) /* their shadow memory */
    ck_assert_msg(grown_kb < 12 * 1024, "peak RSS grew by %ld KB while the server was down",
                  grown_kb);
#endif
    recs spooled = {0};
    recs_from_dir(&spooled, spool, "");
    char *seen = calloc(STEPS, 1);
    size_t n_seen = 0;
    for (size_t i = 0; i < spooled.n; i++)
        if (spooled.v[i].type == TEV_LOG && strcmp(spooled.v[i].run_id, ids[0]) == 0 &&
            spooled.v[i].step >= 0 && spooled.v[i].step < STEPS && !seen[spooled.v[i].step]) {
            seen[spooled.v[i].step] = 1;
            n_seen++;
        }
    ck_assert_msg(n_seen == STEPS, "%zu of %d steps in the spool", n_seen, (int)STEPS);
    free(seen);
    free(spooled.v);
    tu_rmtree(dir);
    free(spool);
    free(spec);
    free(dir);
}
END_TEST

START_TEST(undeliverable_and_unspoolable_is_an_error)
{
    int port = httpd_dead_port();
    char *spec = tu_strdupf("http:url=http://127.0.0.1:%d/,spool_dir=/dev/null/spool,"
                            "retries=0,flush_timeout=200ms",
                            port);
    tu_capture_start();
    tropt_tracker *t = open_spec(spec, "lost");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char err[512] = "";
    int rc = log_steps(t, 50, NULL, err, sizeof err);
    if (rc == TROPT_OK) {
        rc = tropt_tracker_finish(t, NULL);
        snprintf(err, sizeof err, "%s", tropt_error_message());
    }
    ck_assert_int_eq(rc, TROPT_EBACKEND);
    ck_assert_msg(strstr(err, "neither delivered") && strstr(err, "/dev/null/spool"), "%s", err);
    tropt_tracker_free(t);
    tu_capture_stop();
    free(spec);
}
END_TEST

START_TEST(spool_sent_later_with_replay_arrives_once_in_order)
{
    char *dir = tu_mkdtemp();
    char *spool = tu_path(dir, "spool");
    char *spec = tu_strdupf("http:url=http://127.0.0.1:%d/,spool_dir=%s,retries=0",
                            httpd_dead_port(), spool);
    tu_capture_start();
    tropt_tracker *t = open_spec(spec, "offline");
    char ids[2][40];
    char err[512];
    for (int r = 0; r < 2; r++) {
        ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
        snprintf(ids[r], 40, "%s", tropt_tracker_run_id(t));
        ck_assert_msg(log_steps(t, 120, NULL, err, sizeof err) == TROPT_OK, "%s", err);
        ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    }
    tropt_tracker_free(t);
    tu_capture_stop();

    httpd h = {0}; /* the server is back */
    httpd_start(&h);
    char *cmd = tu_strdupf("'%s' replay '%s' --tracker 'http:url=http://127.0.0.1:%d/,"
                           "spool_dir=%s/spool2,flush_timeout=120s' 2>&1",
                           getenv("TROPT_CLI"), spool, h.port, dir);
    char *out = NULL;
    ck_assert_msg(tu_run(cmd, &out, 1) == 0, "%s", out);
    ck_assert_msg(strstr(out, "replayed 2 runs, 240 steps"), "%s", out);
    httpd_stop(&h);
    recs got = {0};
    recs_from_server(&got, &h);
    recs want = recs_expected(ids, 2, 120);
    recs_assert_in_order(NULL, &got, &want);
    free(got.v);
    free(want.v);
    free(out);
    free(cmd);
    httpd_free(&h);
    tu_rmtree(dir);
    free(spool);
    free(spec);
    free(dir);
}
END_TEST

/* ---- spool replay equals direct logging -------------------------------- */

static char *sqlite_dump(const char *db)
{
    static const char *q =
        "SELECT run_id, experiment, status, printf('%.17g', started_at), "
        "printf('%.17g', ended_at), host, pid, config FROM runs ORDER BY run_id;"
        "SELECT run_id, step, printf('%.17g', time), key, typeof(value), CASE typeof(value) "
        "WHEN 'real' THEN printf('%.17g', value) ELSE value END FROM metrics "
        "ORDER BY run_id, step, key;"
        "SELECT run_id, key, typeof(value), CASE typeof(value) WHEN 'real' THEN "
        "printf('%.17g', value) ELSE value END FROM params ORDER BY run_id, key;"
        "SELECT run_id, key, typeof(value), CASE typeof(value) WHEN 'real' THEN "
        "printf('%.17g', value) ELSE value END FROM summary ORDER BY run_id, key;";
    char *cmd = tu_strdupf("sqlite3 -batch '%s' \"%s\"", db, q);
    char *out = NULL;
    int rc = tu_run(cmd, &out, 1);
    ck_assert_msg(rc == 0, "sqlite3: %s", out);
    free(cmd);
    return out;
}

static int have_sqlite(void)
{
    char *p = tu_strdupf("%s/plugins/sqlite/tropt-sqlite.so", tu_build_root());
    int ok = access(p, R_OK) == 0 && access("/usr/bin/sqlite3", X_OK) == 0;
    free(p);
    if (!ok)
        fprintf(stderr, "skipped: the sqlite plugin or /usr/bin/sqlite3 is missing\n");
    return ok;
}

START_TEST(spool_replayed_into_sqlite_equals_direct_logging)
{
    if (!have_sqlite())
        return;
    int port = httpd_dead_port();
    char *dir = tu_mkdtemp();
    char *spool = tu_path(dir, "spool");
    char *direct = tu_path(dir, "direct.db");
    char *replayed = tu_path(dir, "replayed.db");
    char *spec = tu_strdupf("http:url=http://127.0.0.1:%d/,spool_dir=%s,retries=1,"
                            "retry_initial=1ms;sqlite:path=%s",
                            port, spool, direct);
    json_t *cfg = json_pack("{s:s, s:f, s:{s:I}}", "optimizer", "adam", "lr", 0.1, "model",
                            "layers", (json_int_t)3);
    json_t *sum =
        json_pack("{s:f, s:b, s:[f,f]}", "best_loss", 1.0 / 3, "converged", 0, "best_x", 0.1, 0.2);
    tu_capture_start();
    tropt_tracker *t = open_spec(spec, "replay-me");
    char err[512];
    for (int r = 0; r < 2; r++) {
        ck_assert_int_eq(tropt_tracker_init(t, cfg), TROPT_OK);
        ck_assert_msg(log_steps(t, 150, NULL, err, sizeof err) == TROPT_OK, "%s", err);
        ck_assert_msg(tropt_tracker_finish(t, sum) == TROPT_OK, "%s", tropt_error_message());
    }
    tropt_tracker_free(t);
    tu_capture_stop();

    for (int pass = 0; pass < 2; pass++) { /* twice: replay is idempotent */
        char *out = NULL;
        char *cmd = tu_strdupf("'%s' replay '%s' --tracker 'sqlite:path=%s' 2>&1",
                               getenv("TROPT_CLI"), spool, replayed);
        int rc = tu_run(cmd, &out, 1);
        ck_assert_msg(rc == 0, "replay: %s", out);
        ck_assert_msg(strstr(out, "replayed 2 runs, 300 steps"), "%s", out);
        free(out);
        free(cmd);
    }
    char *a = sqlite_dump(direct), *b = sqlite_dump(replayed);
    ck_assert_msg(strlen(a) > 1000, "direct database too small: %s", a);
    ck_assert_str_eq(b, a);
    free(a);
    free(b);
    json_decref(cfg);
    json_decref(sum);
    tu_rmtree(dir);
    free(spool);
    free(direct);
    free(replayed);
    free(spec);
    free(dir);
}
END_TEST

/* ---- allocation failures ---------------------------------------------- */

START_TEST(http_survives_every_allocation_failure)
{
    char *dir = tu_mkdtemp();
    char *spec = tu_strdupf("http:url=http://127.0.0.1:%d/,spool_dir=%s/spool,retries=0,"
                            "flush_timeout=100ms",
                            httpd_dead_port(), dir);
    tu_alloc_fail_loop(spec);
    free(spec);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- options and secrets ---------------------------------------------- */

START_TEST(bad_options_fail_at_open)
{
    tropt_tracker *t;
    ck_assert_int_eq(tropt_tracker_open(&t, "http", "e", NULL), TROPT_EINVAL);
    ck_assert_int_eq(tropt_tracker_open(&t, "http:url=ftp://x/", "e", NULL), TROPT_EINVAL);
    ck_assert_ptr_nonnull(strstr(tropt_error_message(), "http://"));
    ck_assert_int_eq(tropt_tracker_open(&t, "http:url=http://x/,format=xml", "e", NULL),
                     TROPT_EINVAL);
    ck_assert_int_eq(tropt_tracker_open(&t, "http:url=http://x/,headers=nocolon", "e", NULL),
                     TROPT_EINVAL);
    unsetenv("TROPT_TEST_NO_SUCH_TOKEN");
    ck_assert_int_eq(
        tropt_tracker_open(&t, "http:url=http://x/,token_env=TROPT_TEST_NO_SUCH_TOKEN", "e", NULL),
        TROPT_EINVAL);
    ck_assert_ptr_nonnull(strstr(tropt_error_message(), "TROPT_TEST_NO_SUCH_TOKEN"));
}
END_TEST

/* issue 18 #3: a token with CR/LF (header injection) or any control
 * character (one trailing newline, as in secrets mounted from files) is
 * refused at open, the message naming the variable and not the value. */
START_TEST(token_with_control_characters_refused_at_open)
{
    static const char *bad[] = {"s3cret\n", "s3cret\r\nX-Evil: 1", "s3\tcret",
                                "s3cret\r", "\x7fs3cret",          "s3\x01cret"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("TROPT_TEST_BAD_TOKEN", bad[i], 1);
        tropt_tracker *t = NULL;
        int rc = tropt_tracker_open(
            &t, "http:url=http://127.0.0.1:9/,token_env=TROPT_TEST_BAD_TOKEN", "e", NULL);
        ck_assert_msg(rc == TROPT_EINVAL, "token %zu: open returned %d", i, rc);
        ck_assert_ptr_null(t);
        const char *msg = tropt_error_message();
        ck_assert_msg(strstr(msg, "TROPT_TEST_BAD_TOKEN") != NULL, "message: %s", msg);
        ck_assert_msg(strstr(msg, "control character") != NULL, "message: %s", msg);
        ck_assert_msg(strstr(msg, "s3") == NULL, "the value leaked: %s", msg);
    }
    /* a clean token still opens */
    setenv("TROPT_TEST_BAD_TOKEN", "s3cret-ok", 1);
    tropt_tracker *t = NULL;
    ck_assert_int_eq(
        tropt_tracker_open(
            &t, "http:url=http://127.0.0.1:9/,token_env=TROPT_TEST_BAD_TOKEN,flush_timeout=0", "e",
            NULL),
        TROPT_OK);
    tropt_tracker_free(t);
    unsetenv("TROPT_TEST_BAD_TOKEN");
}
END_TEST

START_TEST(token_never_appears_in_messages)
{
    httpd h = {.n_bad = 1000, .bad = HTTPD_401};
    httpd_start(&h);
    setenv("TROPT_TEST_TOKEN2", "very-secret-value", 1);
    scenario sc = {.steps = 5, .extra = "token_env=TROPT_TEST_TOKEN2"};
    run_scenario(&h, h.port, &sc);
    ck_assert_int_eq(sc.finish_rc, TROPT_EBACKEND);
    ck_assert_ptr_nonnull(strstr(sc.finish_err, "HTTP 401"));
    ck_assert_ptr_null(strstr(sc.finish_err, "very-secret-value"));
    ck_assert_ptr_null(strstr(sc.log_err, "very-secret-value"));
    ck_assert_ptr_null(strstr(sc.captured, "very-secret-value"));
    ck_assert_str_eq(h.auth, "Bearer very-secret-value");
    scenario_free(&sc);
    httpd_free(&h);
}
END_TEST

START_TEST(url_credentials_are_not_shown)
{
    int port = httpd_dead_port();
    char *dir = tu_mkdtemp();
    char *spec = tu_strdupf("http:url=http://user:pa55word@127.0.0.1:%d/w?key=k3y,"
                            "spool_dir=%s/s,retries=0",
                            port, dir);
    tu_capture_start();
    tropt_tracker *t = open_spec(spec, "e");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    ck_assert_ptr_nonnull(strstr(tu_captured(), "http://127.0.0.1"));
    ck_assert_ptr_null(strstr(tu_captured(), "pa55word"));
    ck_assert_ptr_null(strstr(tu_captured(), "k3y"));
    tu_capture_stop();
    tu_rmtree(dir);
    free(spec);
    free(dir);
}
END_TEST

/* ---- influx ----------------------------------------------------------- */

START_TEST(influx_line_protocol_escaping)
{
    json_t *arr = json_pack("[i, s]", 1, "a\"b");
    tropt_field f[] = {
        TROPT_F_REAL("loss", 0.1),     TROPT_F_INT("n", -9007199254740993LL),
        TROPT_F_BOOL("ok", 1),         TROPT_F_STR("phase", "say \"hi\"\\ now\nok"),
        TROPT_F_REAL("k e,y=x", 2.0),  TROPT_F_REAL("nan", NAN),
        TROPT_F_REAL("inf", INFINITY), TROPT_F_NULL("null"),
        TROPT_F_JSON("arr", arr),
    };
    tev_buf b;
    tev_buf_init(&b, NULL, NULL);
    size_t skipped = 0;
    ck_assert_int_eq(influx_encode_log(&b, "my exp,v=1", "run 1,a=b", NULL, 7, 1700000000.5, f,
                                       sizeof f / sizeof f[0], NULL, &skipped),
                     0);
    ck_assert_str_eq(b.data, "my\\ exp\\,v=1,run_id=run\\ 1\\,a\\=b step=7i,loss=0.1,"
                             "n=-9007199254740993i,ok=true,phase=\"say \\\"hi\\\"\\\\ now\\nok\","
                             "k\\ e\\,y\\=x=2,arr=\"[1,\\\"a\\\\\\\"b\\\"]\" "
                             "1700000000500000007\n");
    ck_assert_uint_eq(skipped, 3);
    tev_buf_clear(&b);
    ck_assert_int_eq(influx_tags(&b, "host=a b|team=x,y"), 0);
    ck_assert_str_eq(b.data, ",host=a\\ b,team=x\\,y");
    ck_assert_int_eq(influx_tags(&b, "ok=1|bad"), 2);
    ck_assert_int_eq(influx_tags(&b, "=v"), 1);
    tev_buf_free(&b);
    json_decref(arr);
}
END_TEST

/* issue 18 #9: nothing the influx encoder writes may be dropped silently by
 * the server.  A measurement starting with '#' made every line a comment
 * (204, nothing stored); InfluxDB 1.x drops a field named `time`; steps
 * logged less than ~0.5 us apart shared a timestamp, and InfluxDB keeps one
 * point per series and timestamp. */
START_TEST(influx_points_are_never_comments_or_dropped)
{
    tropt_field f[] = {TROPT_F_REAL("loss", 0.5), TROPT_F_REAL("time", 12.25)};
    tev_buf b;
    tev_buf_init(&b, NULL, NULL);
    size_t skipped = 0;
    ck_assert_int_eq(
        influx_encode_log(&b, "#exp", "r1", NULL, 7, 1700000000.5, f, 2, NULL, &skipped), 0);
    ck_assert_int_ne(b.data[0], '#');
    ck_assert_str_eq(b.data, "_exp,run_id=r1 step=7i,loss=0.5,time_=12.25 1700000000500000007\n");
    /* steps sharing one time get distinct timestamps: the time to the
     * millisecond plus the step modulo 1,000,000 in nanoseconds */
    tev_buf_clear(&b);
    for (int s = 0; s < 3; s++)
        ck_assert_int_eq(influx_encode_log(&b, "m", "r", NULL, 1000000 + s, 1700000000.0001234, f,
                                           1, NULL, &skipped),
                         0);
    ck_assert_str_eq(b.data, "m,run_id=r step=1000000i,loss=0.5 1700000000000000000\n"
                             "m,run_id=r step=1000001i,loss=0.5 1700000000000000001\n"
                             "m,run_id=r step=1000002i,loss=0.5 1700000000000000002\n");
    /* a tag named time is refused (InfluxDB 1.x drops it) */
    tev_buf_clear(&b);
    ck_assert_int_eq(influx_tags(&b, "a=1|time=x"), 2);
    tev_buf_free(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http");
    TCase *tc = tcase_create("delivery");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, every_event_received_once_in_order_with_headers);
    tcase_add_test(tc, conformance_kit_on_http);
    tcase_add_test(tc, replay_hint_keeps_query_check_masks_secrets);
    tcase_add_test(tc, server_503_first_then_everything_once);
    tcase_add_test(tc, server_429_retry_after_is_honoured);
    tcase_add_test(tc, connection_resets_are_retried);
    tcase_add_test(tc, slow_server_does_not_slow_log);
    tcase_add_test(tc, rejected_batch_is_reported_not_retried_and_kept);
    tcase_add_test(tc, server_down_whole_run_spools_everything);
    tcase_add_test(tc, influx_spool_holds_ndjson_events);
    tcase_add_test(tc, hanging_server_finish_bounded_by_flush_timeout);
    tcase_add_test(tc, full_queue_spools_instead_of_blocking);
    tcase_add_test(tc, undeliverable_and_unspoolable_is_an_error);
    tcase_add_test(tc, server_down_memory_stays_bounded);
    tcase_add_test(tc, forked_child_free_does_not_block_or_send);
    tcase_add_test(tc, queue_smaller_than_batch_healthy_server_gets_every_step);
    tcase_add_test(tc, http_survives_every_allocation_failure);
    tcase_add_test(tc, spool_replayed_into_sqlite_equals_direct_logging);
    tcase_add_test(tc, spool_sent_later_with_replay_arrives_once_in_order);
    suite_add_tcase(s, tc);
    tc = tcase_create("options");
    tcase_add_test(tc, bad_options_fail_at_open);
    tcase_add_test(tc, token_never_appears_in_messages);
    tcase_add_test(tc, token_with_control_characters_refused_at_open);
    tcase_add_test(tc, url_credentials_are_not_shown);
    tcase_add_test(tc, influx_line_protocol_escaping);
    tcase_add_test(tc, influx_points_are_never_comments_or_dropped);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
