/*
 * tests/http/test_spool_hint.c - the replay command the http backend prints
 * after an outage, copied from stderr and run verbatim through /bin/sh, does
 * what it says (issue 26, item 2):
 *
 *   - format=influx with measurement, tags (a quote and a comma in them),
 *     token_env and a spool folder whose name needs shell quoting: the
 *     command delivers every point to a real VictoriaMetrics started on the
 *     port that was dead during the outage, read back through its export
 *     API (count, values, timestamps, labels); the token's value is in no
 *     output, its variable's name is in the command;
 *   - a replay into a server that refuses (HTTP 400) or is down exits
 *     non-zero, and the spool files are still there, byte for byte, with no
 *     new spool anywhere (the command carries spool=off);
 *   - spool=off on a live but slow server: log waits for room instead of
 *     spilling, every event arrives once, nothing is spooled.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "httpd.h"
#include "spool_tu.h"
#include "testutil.h"
#include "vmtu.h"

#define TOKEN "tok-Zq81-never-shown"
#define STEPS 200

static const char *g_vm_arg;

/* ---- helpers ---------------------------------------------------------- */

/* The token in the environment, as the user's shell has it; the CLI of
 * this build first on PATH. */
static void user_environment(void)
{
    stu_cli_on_path();
    setenv("TROPT_HINT_TOKEN", TOKEN, 1);
}

static double loss_of(int i)
{
    return 1.0 / (i + 1) + 0.1234567;
}

/* The run a user's program logs while the server is down: in a child
 * process (no thread exists yet in this one) whose stderr goes to a file;
 * returns that text and the run id. */
static char *outage_run(const char *spec, double t0, char run_id[40])
{
    char *dir = tu_mkdtemp();
    char *err_path = tu_path(dir, "stderr");
    char *id_path = tu_path(dir, "run_id");
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (!freopen(err_path, "w", stderr))
            _exit(2);
        setvbuf(stderr, NULL, _IONBF, 0); /* as a terminal's: nothing waits in a buffer */
        tropt_tracker *t = NULL;
        if (tropt_tracker_open(&t, spec, "hint-exp", NULL) != TROPT_OK ||
            tropt_tracker_init(t, NULL) != TROPT_OK)
            _exit(3);
        FILE *f = fopen(id_path, "w");
        fprintf(f, "%s", tropt_tracker_run_id(t));
        fclose(f);
        for (int i = 0; i < STEPS; i++) {
            tropt_field fs[] = {
                TROPT_F_REAL("loss", loss_of(i)), TROPT_F_INT("iteration", 1000000000000LL + i),
                TROPT_F_BOOL("ok", i % 3 == 0), TROPT_F_STR("phase", "a \"quoted\", phase"),
                TROPT_F_REAL("odd", i % 2 ? NAN : 0.5 * i)};
            if (tropt_tracker_log_fields_at(t, i, t0 + i * 0.01 + 0.0004, fs, 5) != TROPT_OK)
                _exit(4);
        }
        int rc = tropt_tracker_finish(t, NULL);
        tropt_tracker_free(t);
        _exit(rc == TROPT_OK ? 0 : 5);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    char *text = tu_read_file(err_path, NULL);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the run failed (%d):\n%s", st, text);
    char *id = tu_read_file(id_path, NULL);
    snprintf(run_id, 40, "%s", id);
    free(id);
    free(err_path);
    free(id_path);
    tu_rmtree(dir);
    free(dir);
    return text;
}

/* ---- the hint against VictoriaMetrics ---------------------------------- */

/* Poll the export until both series are complete (or the deadline): the
 * points become searchable some time after they were accepted. */
static size_t export_complete(const vmtu *vm, const char *sel, vmtu_series **s)
{
    size_t n = 0;
    for (int attempt = 0; attempt < 1200; attempt++) { /* ~60 s or more */
        n = vmtu_export(vm, sel, s);
        vmtu_series *l = vmtu_find_series(*s, n, "hint_m_loss");
        vmtu_series *o = vmtu_find_series(*s, n, "hint_m_odd");
        if (l && l->n >= STEPS && o && o->n >= STEPS / 2)
            return n;
        vmtu_series_free(*s, n);
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return vmtu_export(vm, sel, s);
}

static void check_series(vmtu_series *all, size_t n, const char *name, double t0,
                         const char *run_id)
{
    vmtu_series *s = vmtu_find_series(all, n, name);
    ck_assert_msg(s != NULL, "series %s missing (%zu series)", name, n);
    int odd = strcmp(name, "hint_m_odd") == 0;
    ck_assert_msg(s->n == (size_t)(odd ? STEPS / 2 : STEPS), "%s: %zu points", name, s->n);
    json_t *lb = s->labels;
    ck_assert_str_eq(json_string_value(json_object_get(lb, "run_id")), run_id);
    ck_assert_str_eq(json_string_value(json_object_get(lb, "team")), "o'k");
    ck_assert_str_eq(json_string_value(json_object_get(lb, "site")), "a,b");
    long long ms0 = llround(t0 * 1000);
    for (size_t k = 0; k < s->n; k++) {
        /* steps are 10 ms apart (0.4 ms past): the timestamp says which step */
        long long d = s->ts[k] - ms0;
        ck_assert_msg(d >= 0 && d % 10 == 0 && d / 10 < STEPS, "%s: timestamp %lld", name,
                      s->ts[k]);
        int i = (int)(d / 10);
        double want = strcmp(name, "hint_m_loss") == 0        ? loss_of(i)
                      : strcmp(name, "hint_m_iteration") == 0 ? 1000000000000.0 + i
                      : strcmp(name, "hint_m_ok") == 0        ? (i % 3 == 0)
                      : strcmp(name, "hint_m_step") == 0      ? i
                                                              : 0.5 * i;
        ck_assert_msg(!odd || i % 2 == 0, "%s: a point for step %d, which logged NaN", name, i);
        /* VictoriaMetrics keeps about 12 significant digits */
        ck_assert_msg(fabs(s->v[k] - want) <= 1e-9 * fabs(want) + 1e-12,
                      "%s step %d: %.17g, want %.17g", name, i, s->v[k], want);
    }
}

START_TEST(influx_hint_run_verbatim_delivers_every_point)
{
    const char *bin = vmtu_find(g_vm_arg);
    if (!bin) {
        fprintf(stderr, "skipped: victoria-metrics not found (Debian package victoria-metrics)\n");
        return;
    }
    char *dir = tu_mkdtemp();
    char *spool = tu_path(dir, "it's a spool");
    int port = httpd_dead_port(); /* down now; VictoriaMetrics listens here later */
    char *spec = tu_strdupf("http:url=http://127.0.0.1:%d/write,format=influx,measurement=hint_m,"
                            "tags=\"team=o'k|site=a,b\",token_env=TROPT_HINT_TOKEN,retries=1,"
                            "retry_initial=5ms,spool_dir=\"%s\"",
                            port, spool);
    user_environment();
    double t0 = floor((double)time(NULL)) - 3600;
    char run_id[40];
    char *err = outage_run(spec, t0, run_id);
    char *hint = stu_hint_of(err);
    ck_assert_msg(!strstr(err, TOKEN), "the token's value is shown:\n%s", err);
    ck_assert_msg(strstr(hint, "token_env=TROPT_HINT_TOKEN"), "%s", hint);
    char *before = stu_snapshot(spool);
    ck_assert_msg(strstr(before, "\"run_end\""), "the spool holds no whole run:\n%s", before);

    vmtu vm;
    vmtu_start(&vm, bin, port, dir);
    char *out = NULL;
    int rc = tu_run(hint, &out, 1);
    ck_assert_msg(rc == 0, "the command exited %d:\n%s\n%s", rc, hint, out);
    ck_assert_msg(strstr(out, "replayed 1 runs, 200 steps"), "%s", out);
    ck_assert_msg(!strstr(out, TOKEN), "the token's value is shown:\n%s", out);

    char *sel = tu_strdupf("{run_id=\"%s\"}", run_id);
    vmtu_series *s = NULL;
    size_t n = export_complete(&vm, sel, &s);
    static const char *names[] = {"hint_m_loss", "hint_m_iteration", "hint_m_ok", "hint_m_step",
                                  "hint_m_odd"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        check_series(s, n, names[k], t0, run_id);
    vmtu_series_free(s, n);
    /* replay never removes what it read */
    char *after = stu_snapshot(spool);
    ck_assert_str_eq(after, before);

    vmtu_stop(&vm);
    free(after);
    free(sel);
    free(out);
    free(before);
    free(hint);
    free(err);
    free(spec);
    free(spool);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- a server that refuses, or is gone -------------------------------- */

/* The command fails, says why, leaves the spool as it was and spools
 * nothing anywhere. */
static void replay_fails_keeps_spool(const char *hint, const char *spool, const char *want)
{
    char *out = stu_replay_fails(hint, spool);
    ck_assert_msg(strstr(out, want), "no '%s' in:\n%s", want, out);
    ck_assert_msg(!strstr(out, "safe in the spool"), "the replay spooled again:\n%s", out);
    free(out);
}

START_TEST(replay_into_refusing_or_down_server_fails_and_keeps_spool)
{
    httpd h = {.n_bad = 1 << 30, .bad = HTTPD_503};
    httpd_start(&h);
    char *dir = tu_mkdtemp();
    char *spool = tu_path(dir, "spool");
    char *spec =
        tu_strdupf("http:url=http://127.0.0.1:%d/ingest,token_env=TROPT_HINT_TOKEN,retries=0,"
                   "headers=\"X-Test: hdr-s3cret\",spool_dir=%s",
                   h.port, spool);
    user_environment();
    tu_capture_start();
    tropt_tracker *t = NULL;
    ck_assert_int_eq(tropt_tracker_open(&t, spec, "refused", NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    for (int i = 0; i < 50; i++) {
        tropt_field f = TROPT_F_INT("i", i);
        ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_OK);
    }
    ck_assert_msg(tropt_tracker_finish(t, NULL) == TROPT_OK, "%s", tropt_error_message());
    tropt_tracker_free(t);
    tu_capture_stop();
    char *line = stu_hint_of(tu_captured());
    ck_assert_msg(!strstr(line, "hdr-s3cret") && !strstr(line, TOKEN), "a secret shown: %s", line);
    /* the headers cannot be carried: the advice says so after the command */
    stu_cut_advice(line, " (add headers=");

    /* refused: every request answered 400 */
    pthread_mutex_lock(&h.mu);
    h.bad = HTTPD_400;
    int seen = h.n_requests;
    pthread_mutex_unlock(&h.mu);
    replay_fails_keeps_spool(line, spool, "HTTP 400");
    pthread_mutex_lock(&h.mu);
    ck_assert_msg(h.n_requests > seen, "the replay never reached the server");
    ck_assert_str_eq(h.auth, "Bearer " TOKEN); /* token_env carried by name */
    pthread_mutex_unlock(&h.mu);

    /* down: nothing listens any more */
    httpd_stop(&h);
    replay_fails_keeps_spool(line, spool, "Couldn't connect");

    free(line);
    free(spec);
    free(spool);
    httpd_free(&h);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* spool=off on a slow server with a tiny queue: log waits for room rather
 * than spilling to a spool; every event arrives, once, in order. */
START_TEST(spool_off_waits_for_room_and_delivers_everything)
{
    httpd h = {.delay_ms = 2};
    httpd_start(&h);
    char *dir = tu_mkdtemp();
    char *spool = tu_path(dir, "spool");
    /* log waits for room at most flush_timeout: long enough for a busy machine */
    char *spec = tu_strdupf("http:url=http://127.0.0.1:%d/,queue_size=20,batch_size=5,spool=off,"
                            "spool_dir=%s,flush_timeout=120s",
                            h.port, spool);
    tu_capture_start();
    tropt_tracker *t = NULL;
    ck_assert_int_eq(tropt_tracker_open(&t, spec, "slow", NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    for (int i = 0; i < 1000; i++) {
        tropt_field f = TROPT_F_INT("i", i);
        ck_assert_msg(tropt_tracker_log_fields(t, &f, 1) == TROPT_OK, "step %d: %s", i,
                      tropt_error_message());
    }
    ck_assert_msg(tropt_tracker_finish(t, NULL) == TROPT_OK, "%s", tropt_error_message());
    tropt_tracker_free(t);
    tu_capture_stop();
    httpd_stop(&h);
    ck_assert_msg(access(spool, F_OK) != 0, "something was spooled: %s", tu_captured());
    int64_t next = 0;
    int starts = 0, ends = 0;
    for (size_t b = 0; b < h.n_bodies; b++) {
        for (const char *p = h.bodies[b]; *p;) {
            size_t len = strcspn(p, "\n");
            json_t *o = json_loadb(p, len, 0, NULL);
            ck_assert_ptr_nonnull(o);
            const char *type = json_string_value(json_object_get(o, "type"));
            if (strcmp(type, "log") == 0)
                ck_assert_int_eq(json_integer_value(json_object_get(o, "step")), next++);
            starts += strcmp(type, "run_start") == 0;
            ends += strcmp(type, "run_end") == 0;
            json_decref(o);
            p += len + (p[len] == '\n');
        }
    }
    ck_assert_int_eq(next, 1000);
    ck_assert_int_eq(starts, 1);
    ck_assert_int_eq(ends, 1);
    free(spec);
    free(spool);
    httpd_free(&h);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

int main(int argc, char **argv)
{
    g_vm_arg = argc > 1 ? argv[1] : NULL;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Suite *s = suite_create("http-spool-hint");
    TCase *tc = tcase_create("hint");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, influx_hint_run_verbatim_delivers_every_point);
    tcase_add_test(tc, replay_into_refusing_or_down_server_fails_and_keeps_spool);
    tcase_add_test(tc, spool_off_waits_for_room_and_delivers_everything);
    suite_add_tcase(s, tc);
    int rc = tu_run_suite(s);
    curl_global_cleanup();
    return rc;
}
