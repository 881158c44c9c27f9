/*
 * tests/jsonl/test_jsonl_v12.c - what the jsonl journal keeps under ABI 1.2
 * (SPEC 14-16), read back through its reader: run names (given, from
 * $TROPT_RUN_NAME, default), tags and notes set during a run and after it,
 * deleted runs that stay deleted, system samples, and a run preempted twice
 * with SIGKILL and continued by its resume key (issue 29).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <tropt/host.h>
#include <tropt/tracker.h>

#include "attempts.h"

typedef struct fixture {
    char *dir, *path, *spec;
} fixture;

static void fx_open(fixture *fx)
{
    fx->dir = tu_mkdtemp();
    fx->path = tu_path(fx->dir, "runs.jsonl");
    fx->spec = tu_strdupf("jsonl:path=%s,fsync=never", fx->path);
}

static void fx_close(fixture *fx)
{
    tu_rmtree(fx->dir);
    free(fx->dir), free(fx->path), free(fx->spec);
}

static tropt_tracker *tracker(const fixture *fx)
{
    tropt_tracker *t = NULL;
    ck_assert_msg(tropt_tracker_open(&t, fx->spec, "v12", NULL) == TROPT_OK, "%s",
                  tropt_error_message());
    return t;
}

/* One line per stored run, oldest first: "name|tag,tag|note|status". */
static int list_line(const tropt_stored_run *run, void *ud)
{
    char **text = ud, *tags = strdup("");
    for (size_t i = 0; i < run->n_tags; i++) {
        char *more = tu_strdupf("%s%s%s", tags, i ? "," : "", run->tags[i]);
        free(tags);
        tags = more;
    }
    char *more = tu_strdupf("%s%s|%s|%s|%s\n", *text, run->name ? run->name : "(none)", tags,
                            run->note ? run->note : "", tropt_run_status(run));
    free(*text), free(tags);
    *text = more;
    return 0;
}

static char *listing(const char *spec)
{
    tropt_reader *r = NULL;
    ck_assert_msg(tropt_reader_open(&r, spec) == TROPT_OK, "%s", tropt_error_message());
    char *text = strdup("");
    ck_assert_int_eq(tropt_reader_list_runs(r, list_line, &text), TROPT_OK);
    tropt_reader_free(r);
    return text;
}

static void one_run(tropt_tracker *t, const char *name)
{
    if (name)
        ck_assert_int_eq(tropt_tracker_set_run_name(t, name), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    tropt_field f = TROPT_F_REAL("loss", 0.5);
    ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
}

/* A name given in C, one from $TROPT_RUN_NAME (in a child, as a batch job
 * sets it), and four default names: all read back, the defaults distinct. */
START_TEST(names_given_from_the_environment_and_default_read_back)
{
    fixture fx;
    fx_open(&fx);
    tropt_tracker *t = tracker(&fx);
    one_run(t, "lr-sweep-0.1");
    tropt_tracker_free(t);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        setenv("TROPT_RUN_NAME", "job-4711", 1);
        tropt_tracker *c = NULL;
        if (tropt_tracker_open(&c, fx.spec, "v12", NULL) != TROPT_OK ||
            tropt_tracker_init(c, NULL) != TROPT_OK || tropt_tracker_finish(c, NULL) != TROPT_OK)
            _exit(1);
        tropt_tracker_free(c);
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(status, 0);
    t = tracker(&fx);
    for (int i = 0; i < 4; i++)
        one_run(t, NULL);
    tropt_tracker_free(t);

    char *text = listing(fx.spec);
    char names[6][TROPT_MAX_NAME + 1];
    int n = 0;
    for (char *line = strtok(text, "\n"); line && n < 6; line = strtok(NULL, "\n"))
        ck_assert_int_eq(sscanf(line, "%200[^|]", names[n++]), 1);
    ck_assert_int_eq(n, 6);
    ck_assert_str_eq(names[0], "lr-sweep-0.1");
    ck_assert_str_eq(names[1], "job-4711");
    for (int i = 2; i < 6; i++) {
        int dashes = 0;
        for (const char *c = names[i]; *c; c++)
            dashes += *c == '-';
        ck_assert_msg(dashes == 2, "not <adjective>-<noun>-<n>: %s", names[i]);
        for (int k = 2; k < i; k++)
            ck_assert_str_ne(names[i], names[k]);
    }
    free(text);
    fx_close(&fx);
}
END_TEST

static void annotate(tropt_tracker *t, const char *id, tropt_annotation_kind kind, const char *text)
{
    tropt_annotation a = {.kind = kind, .text = text, .time = 1.7e9};
    ck_assert_msg(tropt_tracker_annotate_run(t, id, &a) == TROPT_OK, "%s", tropt_error_message());
}

/* Tags during a run, then a note, an untag, a rename and another tag from
 * a second process after it; an edit of a run the journal never held is
 * refused naming the id. */
START_TEST(tags_and_notes_during_and_after_a_run)
{
    fixture fx;
    fx_open(&fx);
    tropt_tracker *t = tracker(&fx);
    ck_assert_int_eq(tropt_tracker_set_run_name(t, "first"), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char id[37];
    snprintf(id, sizeof id, "%s", tropt_tracker_run_id(t));
    ck_assert_int_eq(tropt_tracker_tag(t, "baseline"), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_tag(t, "seed-1"), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_tag(t, "baseline"), TROPT_OK); /* kept once */
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);

    t = tracker(&fx);
    annotate(t, id, TROPT_ANNOTATE_NOTE, "diverged at step 40; lr too high");
    annotate(t, id, TROPT_ANNOTATE_UNTAG, "seed-1");
    annotate(t, id, TROPT_ANNOTATE_TAG, "bad-seed");
    annotate(t, id, TROPT_ANNOTATE_RENAME, "first-renamed");
    tropt_annotation a = {.kind = TROPT_ANNOTATE_TAG, .text = "x", .time = 1.7e9};
    ck_assert_int_eq(tropt_tracker_annotate_run(t, "01890a5d-ac96-774b-bcce-b30209920001", &a),
                     TROPT_EINVAL);
    ck_assert_msg(strstr(tropt_error_message(), "01890a5d-ac96-774b-bcce-b30209920001"), "%s",
                  tropt_error_message());
    tropt_tracker_free(t);

    char *text = listing(fx.spec);
    ck_assert_str_eq(text, "first-renamed|baseline,bad-seed|diverged at step 40; lr too "
                           "high|finished\n");
    free(text);
    /* "" removes the note */
    t = tracker(&fx);
    annotate(t, id, TROPT_ANNOTATE_NOTE, "");
    tropt_tracker_free(t);
    text = listing(fx.spec);
    ck_assert_str_eq(text, "first-renamed|baseline,bad-seed||finished\n");
    free(text);
    fx_close(&fx);
}
END_TEST

/* A deleted run is no longer listed nor read, and a later run with its id
 * (a replay) is refused saying it was deleted; other runs stay. */
START_TEST(a_deleted_run_stays_deleted)
{
    fixture fx;
    fx_open(&fx);
    tropt_tracker *t = tracker(&fx);
    one_run(t, "keep");
    one_run(t, "drop");
    ck_assert_int_eq(tropt_tracker_set_run_name(t, "drop"), TROPT_OK);
    tropt_reader *r = NULL;
    ck_assert_int_eq(tropt_reader_open(&r, fx.spec), TROPT_OK);
    char id[37];
    ck_assert_int_eq(tropt_reader_resolve(r, "drop", id), TROPT_OK);
    tropt_reader_free(r);
    ck_assert_int_eq(tropt_tracker_delete_run(t, id), TROPT_OK);
    char *text = listing(fx.spec);
    ck_assert_str_eq(text, "keep|||finished\n");
    free(text);

    ck_assert_int_eq(tropt_reader_open(&r, fx.spec), TROPT_OK);
    ck_assert_int_eq(tropt_reader_resolve(r, "drop", id), TROPT_ENOTFOUND);
    tropt_reader_free(r);

    tropt_run_info info = {.run_id = id};
    ck_assert_int_eq(tropt_tracker_init_run(t, &info, NULL), TROPT_EINVAL);
    ck_assert_msg(strstr(tropt_error_message(), "deleted"), "%s", tropt_error_message());
    /* the tracker is active (as in the reference, a failed init opens the
     * run); the backend that refused it gets nothing more of it */
    tropt_field f = TROPT_F_REAL("loss", 2.0);
    ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_EBACKEND);
    tropt_tracker_free(t);
    text = listing(fx.spec);
    ck_assert_str_eq(text, "keep|||finished\n");
    free(text);
    fx_close(&fx);
}
END_TEST

static int see_system(const tropt_event *ev, void *ud)
{
    char **text = ud;
    if (ev->kind != TROPT_EVENT_SYSTEM)
        return 0;
    for (size_t i = 0; i < ev->n_samples; i++) {
        char *more = tu_strdupf("%s%.3f %s %.17g %.17g\n", *text, ev->time, ev->samples[i].key,
                                ev->samples[i].value, ev->samples[i].max);
        free(*text);
        *text = more;
    }
    return 0;
}

/* System samples on the wall-time axis come back exactly, beside steps. */
START_TEST(system_samples_read_back_exactly)
{
    fixture fx;
    fx_open(&fx);
    tropt_tracker *t = tracker(&fx);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char id[37];
    snprintf(id, sizeof id, "%s", tropt_tracker_run_id(t));
    tropt_sample s[2] = {{"sys/proc/rss_bytes", 123456789.0, 130000000.0},
                         {"sys/proc/cpu_percent", 0.1, 97.25}};
    ck_assert_int_eq(tropt_tracker_import_system(t, 1700000000.5, s, 2), TROPT_OK);
    tropt_field f = TROPT_F_REAL("loss", 1.0);
    ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_import_system(t, 1700000001.5, s + 1, 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);

    tropt_reader *r = NULL;
    ck_assert_int_eq(tropt_reader_open(&r, fx.spec), TROPT_OK);
    char *text = strdup("");
    ck_assert_int_eq(tropt_reader_read_history(r, id, see_system, &text), TROPT_OK);
    ck_assert_str_eq(text, "1700000000.500 sys/proc/rss_bytes 123456789 130000000\n"
                           "1700000000.500 sys/proc/cpu_percent 0.10000000000000001 97.25\n"
                           "1700000001.500 sys/proc/cpu_percent 0.10000000000000001 97.25\n");
    tropt_reader_free(r);
    free(text);
    fx_close(&fx);
}
END_TEST

/* Issue 29: steps 0..99 with a mark after step 49, SIGKILL; the same key
 * continues with 100 steps, SIGKILL; a third attempt finishes.  One run,
 * three attempts, each step once with the latest value, every row kept. */
START_TEST(a_run_killed_twice_continues_by_its_key)
{
    fixture fx;
    fx_open(&fx);
    at_attempt_killed(fx.spec, "slurm-81234", fx.dir, 1);
    at_attempt_killed(fx.spec, "slurm-81234", fx.dir, 2);
    at_attempt_finished(fx.spec, "slurm-81234", fx.dir, 3);
    char id[37];
    at_check_three_attempts(fx.spec, "slurm-81234", fx.dir, id);
    fx_close(&fx);
}
END_TEST

/* resume=must with a key no run carries: TROPT_ENOTFOUND, no run opened. */
START_TEST(resume_must_with_an_unknown_key_is_not_found)
{
    fixture fx;
    fx_open(&fx);
    tropt_tracker *t = tracker(&fx);
    one_run(t, "other");
    ck_assert_int_eq(tropt_tracker_set_option(t, "resume", "must"), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_set_option(t, "resume_key", "no-such-job"), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_ENOTFOUND);
    ck_assert_msg(strstr(tropt_error_message(), "no-such-job"), "%s", tropt_error_message());
    ck_assert_int_eq(tropt_tracker_is_active(t), 0);
    tropt_tracker_free(t);
    char *text = listing(fx.spec);
    ck_assert_str_eq(text, "other|||finished\n");
    free(text);
    fx_close(&fx);
}
END_TEST

/* Two processes resume one crashed run at the same time: one wins, the
 * other is refused; the journal holds no step twice per attempt. */
START_TEST(two_processes_resuming_one_key_one_wins)
{
    fixture fx;
    fx_open(&fx);
    at_attempt_killed(fx.spec, "job-race", fx.dir, 1);
    ck_assert_int_eq(at_race(fx.spec, "job-race", fx.dir, 2), 1);
    at_summary sum;
    at_summarize(fx.spec, "job-race", &sum);
    ck_assert_int_eq(sum.runs, 1);
    ck_assert_int_eq(sum.attempts, 2);
    ck_assert_int_eq(sum.rows, 200);
    ck_assert_int_eq(sum.duplicates, 0);
    fx_close(&fx);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("jsonl-v12");
    TCase *tc = tcase_create("v12");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, names_given_from_the_environment_and_default_read_back);
    tcase_add_test(tc, tags_and_notes_during_and_after_a_run);
    tcase_add_test(tc, a_deleted_run_stays_deleted);
    tcase_add_test(tc, system_samples_read_back_exactly);
    tcase_add_test(tc, a_run_killed_twice_continues_by_its_key);
    tcase_add_test(tc, resume_must_with_an_unknown_key_is_not_found);
    tcase_add_test(tc, two_processes_resuming_one_key_one_wins);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
