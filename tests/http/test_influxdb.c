/*
 * tests/http/test_influxdb.c - format=influx against a real InfluxDB 1.x
 * (Debian's influxdb package), started by the test with a config file in a
 * temporary folder (meta/data/wal there, loopback ports, reporting
 * disabled), a database created through its HTTP API, and stopped after.
 * Skips (with a message) when influxd is absent.
 *
 * InfluxDB keeps one point per series and timestamp, drops a field named
 * `time` without a word, and takes a line starting with '#' for a comment
 * (answering 204): issue 18 #9.  A 100,000-step tight loop with an
 * experiment starting with '#' and a field named `time` must arrive whole,
 * counted by querying the server.
 */
#include <curl/curl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "httpd.h"
#include "testutil.h"

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

/* GET (post NULL) or POST a form; returns the HTTP status (0: no
 * connection); the body in *out (caller frees) when out is not NULL. */
static long request(const char *url, const char *post, char **out)
{
    CURL *e = curl_easy_init();
    membuf m = {0};
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &m);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    if (post)
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, post);
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

static const char *find_influxd(void)
{
    static const char *const paths[] = {"/usr/bin/influxd", "/usr/local/bin/influxd"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (access(paths[i], X_OK) == 0)
            return paths[i];
    return NULL;
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

/* The value of `column` in the first row of an InfluxDB query answer, or -1. */
static long long json_count(const char *text, const char *column)
{
    json_error_t err;
    json_t *o = json_loads(text, 0, &err);
    long long n = -1;
    json_t *series = json_object_get(json_array_get(json_object_get(o, "results"), 0), "series");
    json_t *s0 = json_array_get(series, 0);
    json_t *cols = json_object_get(s0, "columns"),
           *row = json_array_get(json_object_get(s0, "values"), 0);
    for (size_t i = 0; i < json_array_size(cols); i++)
        if (strcmp(json_string_value(json_array_get(cols, i)), column) == 0)
            n = (long long)json_number_value(json_array_get(row, i));
    json_decref(o);
    return n;
}

#define TIGHT 100000

START_TEST(influxdb_tight_loop_every_value_arrives)
{
    const char *influxd = find_influxd();
    if (!influxd) {
        fprintf(stderr, "skipped: influxd not found (Debian package influxdb)\n");
        return;
    }
    char *dir = tu_mkdtemp();
    int port = httpd_dead_port(), rpc = httpd_dead_port();
    while (rpc == port)
        rpc = httpd_dead_port();
    char *conf = tu_path(dir, "influxdb.conf");
    char *text = tu_strdupf("reporting-disabled = true\n"
                            "bind-address = \"127.0.0.1:%d\"\n"
                            "[meta]\n  dir = \"%s/meta\"\n  logging-enabled = false\n"
                            "[data]\n  dir = \"%s/data\"\n  wal-dir = \"%s/wal\"\n"
                            "  query-log-enabled = false\n"
                            "[monitor]\n  store-enabled = false\n"
                            "[http]\n  bind-address = \"127.0.0.1:%d\"\n  log-enabled = false\n"
                            "[continuous_queries]\n  enabled = false\n",
                            rpc, dir, dir, dir, port);
    ck_assert_int_eq(tu_write_file(conf, text), 0);
    char *logpath = tu_path(dir, "influxd.log");
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        FILE *f = freopen(logpath, "w", stdout);
        (void)f;
        dup2(fileno(stdout), 2);
        execl(influxd, influxd, "run", "-config", conf, (char *)NULL);
        _exit(127);
    }
    char *base = tu_strdupf("http://127.0.0.1:%d", port);
    char *ping = tu_strdupf("%s/ping", base);
    int up = 0;
    double dl = tu_deadline(TU_WAIT_S);
    while (!(up = request(ping, NULL, NULL) == 204) && tu_poll(dl)) {
    }
    if (!up) {
        stop_child(pid);
        char *log = tu_read_file(logpath, NULL);
        ck_abort_msg("influxd did not answer /ping: %s", log ? log : "(no log)");
    }
    char *q = tu_strdupf("%s/query", base);
    char *body = NULL;
    ck_assert_int_eq(request(q, "q=CREATE%20DATABASE%20tropt", &body), 200);
    free(body);

    char *spec = tu_strdupf("http:url=%s/write?db=tropt,format=influx,spool_dir=%s/spool,"
                            "flush_timeout=120s",
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

    /* count(v), sum(v) and count(time_) of the run's points */
    char *get = tu_strdupf("%s/query?db=tropt&q=SELECT%%20count(v)%%2Csum(v)%%2Ccount(time_)"
                           "%%20FROM%%20%%22_tight%%22%%20WHERE%%20run_id%%3D%%27%s%%27",
                           base, run_id);
    long long n_v = -1, sum_v = -1, n_time = -1;
    double poll_dl = tu_deadline(TU_WAIT_S); /* writes are visible at once; be patient */
    for (;;) {
        body = NULL;
        ck_assert_int_eq(request(get, NULL, &body), 200);
        n_v = json_count(body, "count");
        sum_v = json_count(body, "sum");
        n_time = json_count(body, "count_1");
        if (n_v == TIGHT && n_time == TIGHT) {
            free(body);
            break;
        }
        int last = tu_now() > poll_dl;
        if (last)
            fprintf(stderr, "influxdb answered: %.400s\n", body);
        free(body);
        if (last)
            break;
        tu_sleep_ms(50);
    }
    fprintf(stderr,
            "influxdb: tight loop of %d steps in %.3f s (%.0f steps/ms): count(v)=%lld "
            "sum(v)=%lld count(time_)=%lld\n",
            TIGHT, loop, TIGHT / loop / 1000, n_v, sum_v, n_time);
    ck_assert_msg(n_v == TIGHT, "InfluxDB holds %lld of %d values of v", n_v, TIGHT);
    ck_assert_msg(sum_v == (long long)TIGHT * (TIGHT - 1) / 2, "sum(v) = %lld", sum_v);
    ck_assert_msg(n_time == TIGHT, "InfluxDB holds %lld of %d values of time_", n_time, TIGHT);

    stop_child(pid);
    free(get);
    free(spec);
    free(q);
    free(ping);
    free(base);
    free(logpath);
    free(text);
    free(conf);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Suite *s = suite_create("http-influxdb");
    TCase *tc = tcase_create("influxdb");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, influxdb_tight_loop_every_value_arrives);
    suite_add_tcase(s, tc);
    int rc = tu_run_suite(s);
    curl_global_cleanup();
    return rc;
}
