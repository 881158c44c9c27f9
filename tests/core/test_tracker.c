/* tests/core/test_tracker.c - the state machine of SPEC section 3, rule by
 * rule, with the reference interface's exact messages, observed through
 * the recorder test plugin (what each backend received). */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define W_INIT                                                                                     \
    "warning: init() called on already-active tracker (previous run not finished). "               \
    "Auto-finishing the previous run.\n"
#define W_FINISH "warning: finish() called on inactive tracker \xE2\x80\x94 ignoring.\n"
#define E_LOG "log() called on inactive tracker (missing init()?)"

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    ck_assert_msg(j != NULL, "bad test JSON %s: %s", text, e.text);
    return j;
}

START_TEST(log_before_init_is_estate_and_writes_nothing)
{
    rec_fixture fx;
    rec_open(&fx, "", NULL, NULL);
    json_t *d = J("{\"loss\":1}");
    ck_assert_int_eq(tropt_tracker_log(fx.t, d), TROPT_ESTATE);
    ck_assert_str_eq(tropt_error_message(), E_LOG);
    tropt_field f = TROPT_F_REAL("loss", 1.0);
    ck_assert_int_eq(tropt_tracker_log_fields(fx.t, &f, 1), TROPT_ESTATE);
    ck_assert_str_eq(tropt_error_message(), E_LOG);
    ck_assert_int_eq(tropt_tracker_is_active(fx.t), 0);
    char *text = rec_text(&fx);
    ck_assert_int_eq(count_prefix(text, "log "), 0);
    free(text);
    json_decref(d);
    rec_close(&fx);
}
END_TEST

START_TEST(finish_while_inactive_warns_and_is_ok)
{
    rec_fixture fx;
    rec_open(&fx, "", NULL, NULL);
    tu_capture_start();
    ck_assert_int_eq(tropt_tracker_finish(fx.t, NULL), TROPT_OK);
    ck_assert_str_eq(tu_captured(), W_FINISH);
    tu_capture_stop();
    char *text = rec_text(&fx);
    ck_assert_int_eq(count_prefix(text, "finish "), 0);
    free(text);
    rec_close(&fx);
}
END_TEST

START_TEST(init_while_active_auto_finishes)
{
    rec_fixture fx;
    rec_open(&fx, "", NULL, NULL);
    ck_assert_int_eq(tropt_tracker_init(fx.t, NULL), TROPT_OK);
    char first[64];
    strcpy(first, tropt_tracker_run_id(fx.t));
    tu_capture_start();
    ck_assert_int_eq(tropt_tracker_init(fx.t, NULL), TROPT_OK);
    ck_assert_str_eq(tu_captured(), W_INIT);
    tu_capture_stop();
    ck_assert_str_ne(first, tropt_tracker_run_id(fx.t));
    char *text = rec_text(&fx);
    /* init(1), finish(1, aborted, no summary), init(2) in that order: its
     * owner never finished the first run (SPEC 3, part three) */
    char *l0 = nth_line(text, "init ", 0), *l1 = nth_line(text, "init ", 1);
    char *f0 = nth_line(text, "finish ", 0);
    ck_assert_ptr_nonnull(l1);
    ck_assert_ptr_nonnull(f0);
    ck_assert_contains(l0, first);
    ck_assert_contains(f0, first);
    ck_assert_contains(f0, "status=aborted");
    ck_assert_contains(f0, "summary=null");
    ck_assert(strstr(text, f0) < strstr(text, l1));
    free(l0);
    free(l1);
    free(f0);
    free(text);
    rec_close(&fx);
}
END_TEST

START_TEST(config_is_shallow_merge_config_wins)
{
    json_t *ec = J("{\"a\":1,\"b\":{\"x\":1},\"c\":\"keep\"}");
    rec_fixture fx;
    rec_open(&fx, "", "exp1", ec);
    json_t *c = J("{\"b\":{\"y\":2},\"d\":[1,2]}");
    ck_assert_int_eq(tropt_tracker_init(fx.t, c), TROPT_OK);
    char *text = rec_text(&fx);
    char *l = nth_line(text, "init ", 0);
    /* shallow: b is replaced whole, not merged */
    ck_assert_contains(l, "config={\"a\":1,\"b\":{\"y\":2},\"c\":\"keep\",\"d\":[1,2]}");
    ck_assert_contains(l, " exp=exp1 ");
    ck_assert_contains(l, " a=i:1");
    ck_assert_contains(l, " b/y=i:2");
    ck_assert_contains(l, " c=s:keep");
    ck_assert_contains(l, " d=j:[1,2]");
    /* the caller's objects are borrowed, not changed */
    ck_assert_int_eq(json_object_size(c), 2);
    ck_assert_int_eq(json_object_size(ec), 3);
    free(l);
    free(text);
    json_decref(c);
    json_decref(ec);
    rec_close(&fx);
}
END_TEST

START_TEST(config_null_when_both_empty)
{
    json_t *ec = json_object();
    rec_fixture fx;
    rec_open(&fx, "", NULL, ec);
    json_t *c = json_object();
    ck_assert_int_eq(tropt_tracker_init(fx.t, c), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(fx.t, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(fx.t, NULL), TROPT_OK);
    char *text = rec_text(&fx);
    char *l0 = nth_line(text, "init ", 0), *l1 = nth_line(text, "init ", 1);
    ck_assert_contains(l0, "config=null");
    ck_assert_contains(l1, "config=null");
    ck_assert_contains(l0, " exp=tropt_experiment ");
    free(l0);
    free(l1);
    free(text);
    json_decref(c);
    json_decref(ec);
    rec_close(&fx);
}
END_TEST

START_TEST(steps_numbered_per_run_with_wall_clock_time)
{
    rec_fixture fx;
    rec_open(&fx, "", NULL, NULL);
    for (int run = 0; run < 2; run++) {
        ck_assert_int_eq(tropt_tracker_init(fx.t, NULL), TROPT_OK);
        for (int i = 0; i < 5; i++) {
            tropt_field f = TROPT_F_INT("i", i);
            ck_assert_int_eq(tropt_tracker_log_fields(fx.t, &f, 1), TROPT_OK);
        }
        ck_assert_int_eq(tropt_tracker_finish(fx.t, NULL), TROPT_OK);
    }
    char *text = rec_text(&fx);
    ck_assert_int_eq(count_prefix(text, "log "), 10);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double now = (double)ts.tv_sec;
    double prev = 0;
    for (int k = 0; k < 10; k++) {
        char *l = nth_line(text, "log ", k);
        char want[32];
        snprintf(want, sizeof want, " step=%d ", k % 5);
        ck_assert_contains(l, want);
        double tm = atof(strstr(l, "time=") + 5);
        ck_assert(tm >= prev);
        ck_assert(tm > now - 60 && tm < now + 60);
        prev = tm;
        free(l);
    }
    free(text);
    rec_close(&fx);
}
END_TEST

START_TEST(run_identity)
{
    rec_fixture fx;
    rec_open(&fx, "", "ident", NULL);
    ck_assert_ptr_null(tropt_tracker_run_id(fx.t));
    ck_assert_int_eq(tropt_tracker_init(fx.t, NULL), TROPT_OK);
    const char *id = tropt_tracker_run_id(fx.t);
    ck_assert_int_eq(strlen(id), 36);
    ck_assert_int_eq(id[14], '7'); /* version 7 */
    ck_assert_ptr_nonnull(strchr("89ab", id[19]));
    char host[256];
    gethostname(host, sizeof host);
    char *text = rec_text(&fx);
    char *want = tu_strdupf("run=%s exp=ident host=%s pid=%d ", id, host, (int)getpid());
    ck_assert_contains(text, want);
    free(want);
    free(text);
    rec_close(&fx);
}
END_TEST

START_TEST(reusable_after_finish)
{
    rec_fixture fx;
    rec_open(&fx, "", NULL, NULL);
    json_t *s = J("{\"best\":{\"loss\":0.5}}");
    ck_assert_int_eq(tropt_tracker_init(fx.t, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(fx.t, s), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_is_active(fx.t), 0);
    ck_assert_int_eq(tropt_tracker_init(fx.t, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_is_active(fx.t), 1);
    ck_assert_int_eq(tropt_tracker_finish(fx.t, NULL), TROPT_OK);
    char *text = rec_text(&fx);
    ck_assert_int_eq(count_prefix(text, "init "), 2);
    char *f0 = nth_line(text, "finish ", 0);
    ck_assert_contains(f0, "status=finished");
    ck_assert_contains(f0, "summary={\"best\":{\"loss\":0.5}}");
    ck_assert_contains(f0, " best/loss=r:0.5");
    free(f0);
    free(text);
    json_decref(s);
    rec_close(&fx);
}
END_TEST

START_TEST(free_active_finishes_aborted)
{
    rec_fixture fx;
    rec_open(&fx, "", NULL, NULL);
    ck_assert_int_eq(tropt_tracker_init(fx.t, NULL), TROPT_OK);
    tropt_field f = TROPT_F_REAL("loss", 2.5);
    ck_assert_int_eq(tropt_tracker_log_fields(fx.t, &f, 1), TROPT_OK);
    tropt_tracker_free(fx.t);
    fx.t = NULL;
    char *text = rec_text(&fx);
    ck_assert_int_eq(count_prefix(text, "log "), 1);
    char *f0 = nth_line(text, "finish ", 0);
    ck_assert_ptr_nonnull(f0);
    ck_assert_contains(f0, "status=aborted");
    /* destroy comes after the finish */
    ck_assert(strstr(text, "destroy") > strstr(text, "status=aborted"));
    free(f0);
    free(text);
    rec_close(&fx);
}
END_TEST

START_TEST(failed_finish_keeps_run_active)
{
    rec_fixture fx;
    rec_open(&fx, ",fail=finish,fail_times=1", NULL, NULL);
    ck_assert_int_eq(tropt_tracker_init(fx.t, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(fx.t, NULL), TROPT_EBACKEND);
    ck_assert_str_eq(tropt_error_message(), "recorder: injected finish failure");
    ck_assert_int_eq(tropt_tracker_is_active(fx.t), 1);
    tropt_field f = TROPT_F_INT("after", 1);
    ck_assert_int_eq(tropt_tracker_log_fields(fx.t, &f, 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(fx.t, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_is_active(fx.t), 0);
    char *text = rec_text(&fx);
    ck_assert_int_eq(count_prefix(text, "finish "), 1);
    ck_assert_int_eq(count_prefix(text, "log "), 1);
    free(text);
    rec_close(&fx);
}
END_TEST

START_TEST(failed_init_leaves_tracker_active_like_reference)
{
    rec_fixture fx;
    rec_open(&fx, ",fail=init,fail_times=1", NULL, NULL);
    ck_assert_int_eq(tropt_tracker_init(fx.t, NULL), TROPT_EBACKEND);
    ck_assert_str_eq(tropt_error_message(), "recorder: injected init failure");
    ck_assert_int_eq(tropt_tracker_is_active(fx.t), 1);
    /* the backend has no run: a log says so instead of writing into nothing */
    tropt_field f = TROPT_F_INT("x", 1);
    ck_assert_int_eq(tropt_tracker_log_fields(fx.t, &f, 1), TROPT_EBACKEND);
    ck_assert_contains(tropt_error_message(), "no open run");
    ck_assert_int_eq(tropt_tracker_finish(fx.t, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(fx.t, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_log_fields(fx.t, &f, 1), TROPT_OK);
    rec_close(&fx);
}
END_TEST

START_TEST(fanout_first_error_returned_others_still_called)
{
    char *dir = tu_mkdtemp();
    char *a = tu_path(dir, "a.txt"), *b = tu_path(dir, "b.txt"), *c = tu_path(dir, "c.txt");
    char *spec = tu_strdupf(
        "recorder:out=%s,fail=log;recorder:out=%s,fail=log,tag=second;recorder:out=%s", a, b, c);
    tropt_tracker *t;
    ck_assert_int_eq(tropt_tracker_open(&t, spec, NULL, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    tropt_field f = TROPT_F_INT("x", 7);
    ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_EBACKEND);
    ck_assert_str_eq(tropt_error_message(), "recorder: injected log failure at step 0");
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    char *tc = tu_read_file(c, NULL);
    ck_assert_contains(tc, "log run=");
    ck_assert_contains(tc, " x=i:7");
    char *ta = tu_read_file(a, NULL);
    ck_assert_int_eq(count_prefix(ta, "log "), 0);
    ck_assert_int_eq(count_prefix(ta, "finish "), 1);
    free(ta);
    free(tc);
    free(spec);
    free(a);
    free(b);
    free(c);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(on_error_warn_turns_failures_into_warnings)
{
    char *dir = tu_mkdtemp();
    char *a = tu_path(dir, "a.txt"), *b = tu_path(dir, "b.txt");
    char *spec = tu_strdupf("recorder:out=%s,fail=log,on_error=warn;recorder:out=%s", a, b);
    tropt_tracker *t;
    ck_assert_int_eq(tropt_tracker_open(&t, spec, NULL, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    tu_capture_start();
    tropt_field f = TROPT_F_INT("x", 7);
    ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_OK);
    ck_assert_int_eq(tu_captured_count(TROPT_LEVEL_WARNING), 1);
    ck_assert_contains(tu_captured(), "recorder: injected log failure at step 0");
    tu_capture_stop();
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    char *tb = tu_read_file(b, NULL);
    ck_assert_int_eq(count_prefix(tb, "log "), 1);
    free(tb);
    free(spec);
    free(a);
    free(b);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(flush_reaches_backends)
{
    rec_fixture fx;
    rec_open(&fx, ",fail=flush,fail_times=1", NULL, NULL);
    ck_assert_int_eq(tropt_tracker_flush(fx.t), TROPT_EBACKEND);
    ck_assert_str_eq(tropt_error_message(), "recorder: injected flush failure");
    ck_assert_int_eq(tropt_tracker_flush(fx.t), TROPT_OK);
    char *text = rec_text(&fx);
    ck_assert_int_eq(count_prefix(text, "flush"), 1);
    free(text);
    rec_close(&fx);
}
END_TEST

START_TEST(bad_arguments)
{
    rec_fixture fx;
    rec_open(&fx, "", NULL, NULL);
    json_t *arr = json_array();
    ck_assert_int_eq(tropt_tracker_init(fx.t, arr), TROPT_EINVAL);
    ck_assert_int_eq(tropt_tracker_is_active(fx.t), 0);
    ck_assert_int_eq(tropt_tracker_init(fx.t, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_log(fx.t, arr), TROPT_EINVAL);
    ck_assert_int_eq(tropt_tracker_log(fx.t, NULL), TROPT_EINVAL);
    ck_assert_int_eq(tropt_tracker_finish(fx.t, arr), TROPT_EINVAL);
    ck_assert_int_eq(tropt_tracker_is_active(fx.t), 1);
    ck_assert_int_eq(tropt_tracker_finish_run(fx.t, "done", 0, NULL), TROPT_EINVAL);
    ck_assert_int_eq(tropt_tracker_log(NULL, arr), TROPT_EINVAL);
    ck_assert_int_eq(tropt_tracker_init(NULL, NULL), TROPT_EINVAL);
    ck_assert_int_eq(tropt_tracker_finish(NULL, NULL), TROPT_EINVAL);
    ck_assert_int_eq(tropt_tracker_flush(NULL), TROPT_EINVAL);
    ck_assert_int_eq(tropt_tracker_is_active(NULL), 0);
    ck_assert_int_eq(tropt_tracker_open(NULL, "null", NULL, NULL), TROPT_EINVAL);
    tropt_tracker *t = (tropt_tracker *)&fx;
    ck_assert_int_eq(tropt_tracker_open(&t, "null", NULL, arr), TROPT_EINVAL);
    ck_assert_ptr_null(t);
    tropt_tracker_free(NULL);
    json_decref(arr);
    rec_close(&fx);
}
END_TEST

START_TEST(replay_identity_step_and_time)
{
    rec_fixture fx;
    rec_open(&fx, "", NULL, NULL);
    tropt_run_info info = {"01890a5d-ac96-774b-bcce-b302099a8057", "old-exp", 1700000000.25,
                           "elsewhere", 4242};
    ck_assert_int_eq(tropt_tracker_init_run(fx.t, &info, NULL), TROPT_OK);
    ck_assert_str_eq(tropt_tracker_run_id(fx.t), info.run_id);
    tropt_field f = TROPT_F_REAL("loss", 1.5);
    ck_assert_int_eq(tropt_tracker_log_fields_at(fx.t, 7, 1700000001.5, &f, 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_log_fields(fx.t, &f, 1), TROPT_OK); /* continues at 8 */
    ck_assert_int_eq(tropt_tracker_finish_run(fx.t, "crashed", 1700000002.0, NULL), TROPT_OK);
    char *text = rec_text(&fx);
    ck_assert_contains(text, "init run=01890a5d-ac96-774b-bcce-b302099a8057 exp=old-exp "
                             "host=elsewhere pid=4242 start=1700000000.250000");
    ck_assert_contains(text, "step=7 time=1700000001.500000 ");
    ck_assert_contains(text, "step=8 ");
    ck_assert_contains(text, "status=crashed end=1700000002.000000");
    tropt_run_info bad = {"not-a-uuid", NULL, 0, NULL, 0};
    ck_assert_int_eq(tropt_tracker_init_run(fx.t, &bad, NULL), TROPT_EINVAL);
    free(text);
    rec_close(&fx);
}
END_TEST

START_TEST(default_handler_writes_stderr_and_honours_level)
{
    /* In a child, so stderr can be redirected to a file. */
    char *dir = tu_mkdtemp();
    char *err = tu_path(dir, "stderr.txt");
    for (int round = 0; round < 2; round++) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            freopen(err, "w", stderr);
            setenv("TROPT_LOG_LEVEL", round == 0 ? "info" : "error", 1);
            tropt_set_log_level((tropt_level)-1);
            tropt_set_log_handler(NULL, NULL);
            tropt_tracker *t;
            if (tropt_tracker_open(&t, "null", NULL, NULL) != TROPT_OK)
                _exit(3);
            tropt_tracker_finish(t, NULL);
            tropt_tracker_free(t);
            fflush(stderr);
            free(err); /* valgrind checks the child's heap at _exit too */
            free(dir);
            _exit(0);
        }
        int st;
        waitpid(pid, &st, 0);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        char *text = tu_read_file(err, NULL);
        if (round == 0)
            ck_assert_str_eq(text, "tropt: " W_FINISH);
        else
            ck_assert_str_eq(text, "");
        free(text);
    }
    tu_rmtree(dir);
    free(dir);
    free(err);
}
END_TEST

/* Step INT64_MAX is stored as given; the next automatic step has no number
 * and is refused instead of overflowing into negative steps (issue 18 #6;
 * UBSan reported the signed overflow before). */
START_TEST(step_int64_max_then_no_overflow)
{
    rec_fixture fx;
    rec_open(&fx, "", NULL, NULL);
    tropt_tracker *t = fx.t;
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    tropt_field f = TROPT_F_INT("x", 1);
    ck_assert_int_eq(tropt_tracker_log_fields_at(t, INT64_MAX, -1, &f, 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_EINVAL);
    ck_assert(strstr(tropt_error_message(), "no step number is left") != NULL);
    ck_assert_int_eq(tropt_tracker_log_fields_at(t, 5, -1, &f, 1), TROPT_OK); /* explicit: fine */
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    /* a new run numbers from 0 again */
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    char *text = rec_text(&fx);
    ck_assert_msg(strstr(text, "step=9223372036854775807 ") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "step=-") == NULL, "a negative step was written: %s", text);
    ck_assert_int_eq(count_prefix(text, "log "), 3);
    free(text);
    rec_close(&fx);
}
END_TEST

/* A forked child cannot use its parent's tracker: ESTATE naming the fork,
 * nothing written by the child, and the parent goes on (issue 18 #10). */
START_TEST(forked_child_is_refused)
{
    rec_fixture fx;
    rec_open(&fx, "", NULL, NULL);
    ck_assert_int_eq(tropt_tracker_init(fx.t, NULL), TROPT_OK);
    tropt_field f = TROPT_F_INT("x", 1);
    ck_assert_int_eq(tropt_tracker_log_fields(fx.t, &f, 1), TROPT_OK);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int ok = tropt_tracker_log_fields(fx.t, &f, 1) == TROPT_ESTATE &&
                 strstr(tropt_error_message(), "forked child") &&
                 tropt_tracker_flush(fx.t) == TROPT_ESTATE &&
                 tropt_tracker_finish(fx.t, NULL) == TROPT_ESTATE &&
                 tropt_tracker_init(fx.t, NULL) == TROPT_ESTATE;
        tropt_tracker_free(fx.t); /* forgets it: no finish, no destroy */
        /* a tracker of its own works in the child */
        tropt_tracker *own = NULL;
        ok = ok && tropt_tracker_open(&own, "null", NULL, NULL) == TROPT_OK &&
             tropt_tracker_init(own, NULL) == TROPT_OK &&
             tropt_tracker_log_fields(own, &f, 1) == TROPT_OK;
        tropt_tracker_free(own);
        _exit(ok ? 0 : 1);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
    ck_assert_int_eq(tropt_tracker_log_fields(fx.t, &f, 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(fx.t, NULL), TROPT_OK);
    char *text = rec_text(&fx);
    ck_assert_int_eq(count_prefix(text, "log "), 2);            /* the parent's two */
    ck_assert_int_eq(count_prefix(text, "finish "), 1);         /* one finish, the parent's */
    ck_assert_msg(strstr(text, "destroy") == NULL, "%s", text); /* nothing destroyed yet */
    free(text);
    rec_close(&fx);
}
END_TEST

/* tropt_set_log_handler returns only when no other thread still runs the
 * old handler, so its userdata may be freed at once (issue 18 #15; under
 * ASan a use after free before the fix). */
struct slow_ud {
    atomic_int calls;
    char pad[64];
};

static void slow_handler(tropt_level level, const char *msg, void *ud)
{
    (void)level;
    (void)msg;
    struct slow_ud *u = ud;
    usleep(2000);
    atomic_fetch_add(&u->calls, 1); /* touches ud after a while */
    memset(u->pad, 1, sizeof u->pad);
}

static void quiet_handler(tropt_level level, const char *msg, void *ud)
{
    (void)level;
    (void)msg;
    (void)ud;
}

static atomic_int stop_logging;

static void *log_loop(void *arg)
{
    tropt_tracker *t = arg;
    while (!atomic_load(&stop_logging))
        tropt_tracker_finish(t, NULL); /* inactive: warns through the handler */
    return NULL;
}

START_TEST(set_log_handler_waits_for_running_calls)
{
    tropt_tracker *t = NULL;
    ck_assert_int_eq(tropt_tracker_open(&t, "null", NULL, NULL), TROPT_OK);
    for (int round = 0; round < 20; round++) {
        struct slow_ud *u = calloc(1, sizeof *u);
        ck_assert_ptr_nonnull(u);
        tropt_set_log_handler(slow_handler, u);
        atomic_store(&stop_logging, 0);
        pthread_t th;
        ck_assert_int_eq(pthread_create(&th, NULL, log_loop, t), 0);
        while (atomic_load(&u->calls) == 0)
            usleep(100);
        tropt_set_log_handler(quiet_handler, NULL);
        free(u); /* safe: no thread is inside slow_handler any more */
        atomic_store(&stop_logging, 1);
        pthread_join(th, NULL);
    }
    tropt_set_log_handler(NULL, NULL);
    tropt_tracker_free(t);
}
END_TEST

START_TEST(spec_from_environment_and_default)
{
    char *dir = tu_mkdtemp();
    char *out = tu_path(dir, "env.txt");
    char *spec = tu_strdupf("recorder:out=%s,tag=fromenv", out);
    setenv("TROPT_TRACKER", spec, 1);
    tropt_tracker *t;
    ck_assert_int_eq(tropt_tracker_open(&t, NULL, NULL, NULL), TROPT_OK);
    tropt_tracker_free(t);
    char *text = tu_read_file(out, NULL);
    ck_assert_contains(text, "create tag=fromenv");
    free(text);
    /* unset: the embedded default, sqlite:path=tropt.db */
    unsetenv("TROPT_TRACKER");
    char cwd[4096];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(dir), 0);
    int rc = tropt_tracker_open(&t, NULL, NULL, NULL);
    if (rc == TROPT_OK) {
        const tropt_plugin *p;
        const tropt_optval *v;
        tropt_tracker_backend(t, 0, &p, NULL, &v, NULL);
        ck_assert_str_eq(p->name, "sqlite");
        tropt_tracker_free(t);
    } else {
        ck_assert_int_eq(rc, TROPT_ENOTFOUND); /* a build without the sqlite backend */
        ck_assert_contains(tropt_error_message(), "'sqlite'");
    }
    ck_assert_int_eq(chdir(cwd), 0);
    free(spec);
    free(out);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tracker");
    TCase *tc = tcase_create("state");
    tcase_add_test(tc, log_before_init_is_estate_and_writes_nothing);
    tcase_add_test(tc, finish_while_inactive_warns_and_is_ok);
    tcase_add_test(tc, init_while_active_auto_finishes);
    tcase_add_test(tc, config_is_shallow_merge_config_wins);
    tcase_add_test(tc, config_null_when_both_empty);
    tcase_add_test(tc, steps_numbered_per_run_with_wall_clock_time);
    tcase_add_test(tc, run_identity);
    tcase_add_test(tc, reusable_after_finish);
    tcase_add_test(tc, free_active_finishes_aborted);
    tcase_add_test(tc, failed_finish_keeps_run_active);
    tcase_add_test(tc, failed_init_leaves_tracker_active_like_reference);
    tcase_add_test(tc, fanout_first_error_returned_others_still_called);
    tcase_add_test(tc, on_error_warn_turns_failures_into_warnings);
    tcase_add_test(tc, flush_reaches_backends);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, replay_identity_step_and_time);
    tcase_add_test(tc, default_handler_writes_stderr_and_honours_level);
    tcase_add_test(tc, spec_from_environment_and_default);
    tcase_add_test(tc, set_log_handler_waits_for_running_calls);
    tcase_add_test(tc, step_int64_max_then_no_overflow);
    tcase_add_test(tc, forked_child_is_refused);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
