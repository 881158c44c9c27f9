/*
 * tests/http/test_http_v12.c - what the http backend sends of a run's
 * identity and its ABI 1.2 events (SPEC 14-16: a write-only backend gets the
 * run's name and attempt as a field or tag, system samples as points at
 * their own time, checkpoint marks as events):
 *   - format=ndjson to a recording receiver: the run_start holds the name,
 *     attempt and from_step; steps of a continued attempt say their attempt;
 *     "system" and "checkpoint" events arrive, decoded by the event format;
 *   - format=influx into a real VictoriaMetrics: every point carries the
 *     run_name tag (and attempt for a continuation); the system samples are
 *     points at their own time with <key> and <key>_max fields.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

#include "httpd.h"
#include "testutil.h"
#include "tropt_event.h"
#include "vmtu.h"

static const char *g_vm_arg;
static const char *RUN = "01890a5d-ac96-774b-bcce-b302099a8057";

/* Continue RUN as attempt 2 from step 5 (an import: the test chooses the
 * identity), log two steps, a system record and a checkpoint mark. */
static void log_attempt(const char *spec, const char *ck)
{
    tropt_tracker *t;
    ck_assert_msg(tropt_tracker_open(&t, spec, "v12", NULL) == TROPT_OK, "%s",
                  tropt_error_message());
    tropt_run_record rec = {.struct_size = sizeof rec,
                            .run_id = RUN,
                            .name = "lr 0.1, seed=3",
                            .started_at = 1700000000.0,
                            .attempt = 2,
                            .from_step = 5};
    ck_assert_int_eq(tropt_tracker_import_run(t, &rec, NULL), TROPT_OK);
    for (int i = 0; i < 2; i++) {
        tropt_field f = TROPT_F_REAL("loss", 0.5 + i);
        ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_OK);
    }
    tropt_sample s[2] = {{"sys/proc/rss_bytes", 1048576.0, 2097152.0},
                         {"sys/gpu0/util_pct", NAN, 97.5}};
    ck_assert_int_eq(tropt_tracker_import_system(t, 1700000100.25, s, 2), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_checkpoint(t, ck), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
}

START_TEST(ndjson_carries_name_attempt_system_and_marks)
{
    char *dir = tu_mkdtemp(), *ck = tu_path(dir, "ck.bin");
    tu_write_file(ck, "abc");
    httpd srv;
    memset(&srv, 0, sizeof srv);
    httpd_start(&srv);
    char *spec =
        tu_strdupf("http:url=http://127.0.0.1:%d/ingest,spool_dir=%s/spool", srv.port, dir);
    log_attempt(spec, ck);
    httpd_stop(&srv);
    int start = 0, steps = 0, sys = 0, marks = 0, hashed = 0;
    for (size_t b = 0; b < srv.n_bodies; b++) {
        char *save = NULL, *body = strdup(srv.bodies[b]);
        for (char *line = strtok_r(body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            tev_event ev;
            char err[256];
            ck_assert_msg(tev_decode(line, strlen(line), &ev, err, sizeof err) == 0, "%s: %s", err,
                          line);
            ck_assert(ev.type == TEV_RUN_END || ev.attempt == 2);
            if (ev.type == TEV_RUN_START) {
                start++;
                ck_assert_str_eq(ev.name, "lr 0.1, seed=3");
                ck_assert_int_eq(ev.from_step, 5);
                ck_assert(ev.run_started_at == 1700000000.0);
            } else if (ev.type == TEV_LOG) {
                ck_assert_int_eq(ev.step, 5 + steps++);
            } else if (ev.type == TEV_SYSTEM) {
                sys++;
                ck_assert(ev.time == 1700000100.25 && ev.n_samples == 2);
                ck_assert(ev.samples[0].value == 1048576.0 && ev.samples[0].max == 2097152.0);
                ck_assert(isnan(ev.samples[1].value) && ev.samples[1].max == 97.5);
            } else if (ev.type == TEV_CHECKPOINT) {
                marks++;
                ck_assert_int_eq(ev.checkpoint.step, 6);
                if (ev.checkpoint.sha256) {
                    hashed++;
                    ck_assert_str_eq(ev.checkpoint.sha256, "ba7816bf8f01cfea414140de5dae2223b003"
                                                           "61a396177a9cb410ff61f20015ad");
                    ck_assert_int_eq(ev.checkpoint.size, 3);
                }
            }
            tev_event_clear(&ev);
        }
        free(body);
    }
    ck_assert_int_eq(start, 1);
    ck_assert_int_eq(steps, 2);
    ck_assert_int_eq(sys, 1);
    ck_assert_int_eq(marks, 2); /* at the call, then with its hash */
    ck_assert_int_eq(hashed, 1);
    httpd_free(&srv);
    free(spec);
    free(ck);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(influx_points_carry_name_and_system_samples)
{
    const char *bin = vmtu_find(g_vm_arg);
    if (!bin) {
        fprintf(stderr, "influx_points_carry_name_and_system_samples: SKIP: no victoria-metrics\n");
        return;
    }
    char *dir = tu_mkdtemp(), *ck = tu_path(dir, "ck.bin");
    tu_write_file(ck, "abc");
    vmtu vm;
    vmtu_start(&vm, bin, httpd_dead_port(), dir);
    char *spec = tu_strdupf("http:url=%s/write,format=influx,spool_dir=%s/spool", vm.base, dir);
    log_attempt(spec, ck);
    char *sel = tu_strdupf("{run_id=\"%s\"}", RUN);
    vmtu_series *s = NULL, *loss = NULL, *rss = NULL, *rss_max = NULL, *util_max = NULL;
    size_t n = 0;
    /* what the server acknowledged becomes searchable a moment later: wait
     * for every series the run wrote (a minute at most) */
    for (double dl = tu_deadline(TU_WAIT_S); tu_poll(dl);) {
        vmtu_series_free(s, n);
        n = vmtu_export(&vm, sel, &s);
        loss = vmtu_find_series(s, n, "v12_loss");
        rss = vmtu_find_series(s, n, "v12_sys/proc/rss_bytes");
        rss_max = vmtu_find_series(s, n, "v12_sys/proc/rss_bytes_max");
        util_max = vmtu_find_series(s, n, "v12_sys/gpu0/util_pct_max");
        if (loss && loss->n == 2 && rss && rss_max && util_max)
            break;
    }
    ck_assert_msg(loss && loss->n == 2, "loss series: %zu series", n);
    ck_assert_msg(rss && rss_max && util_max, "system series missing (%zu series)", n);
    json_t *labels = loss->labels;
    ck_assert_str_eq(json_string_value(json_object_get(labels, "run_name")), "lr 0.1, seed=3");
    ck_assert_str_eq(json_string_value(json_object_get(labels, "attempt")), "2");
    ck_assert_msg(rss->n == 1 && rss->v[0] == 1048576.0 && rss->ts[0] == 1700000100250LL,
                  "rss: %zu points, %.17g at %lld", rss->n, rss->v[0], rss->ts[0]);
    ck_assert(rss_max->v[0] == 2097152.0 && util_max->v[0] == 97.5);
    ck_assert_ptr_null(vmtu_find_series(s, n, "v12_sys/gpu0/util_pct")); /* NaN: left out */
    vmtu_series_free(s, n);
    vmtu_stop(&vm);
    free(sel);
    free(spec);
    free(ck);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("http-v12");
    TCase *tc = tcase_create("v12");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, ndjson_carries_name_attempt_system_and_marks);
    tcase_add_test(tc, influx_points_carry_name_and_system_samples);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    g_vm_arg = argc > 1 && argv[1][0] ? argv[1] : NULL;
    return tu_run_suite(suite());
}
