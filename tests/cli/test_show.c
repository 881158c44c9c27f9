/*
 * tests/cli/test_show.c - `tropt show RUN` as a user runs it: identity,
 * config, summary and the last value of each metric; a unique prefix, an
 * ambiguous one, an unknown one; every source printing the same text; a
 * killed run shown crashed; stored text neutralised for the terminal; a
 * run shown by its name; two runs of one name listed as candidates; a
 * resumed run's attempts, checkpoint marks (size and SHA-256 as sha256sum
 * gives them) and provenance; a name, tag and note holding quotes, markup
 * and escape sequences printed as data by runs, show and compare.
 */
#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tropt/host.h>

#include "cli_tu.h"
#include "sqlite_tu.h"

START_TEST(test_show)
{
    db3 d = db3_make();
    char *args = tu_strdupf("show %s --db '%s'", d.a, d.path), *out = NULL;
    ck_assert_int_eq(tq_cli(args, &out), 0);
    const char *want[] = {"experiment  alpha", "status      finished",
                          "steps       4",     "config",
                          "summary",           "metrics, last value at step 3"};
    expect_all(out, want, sizeof want / sizeof want[0]);
    struct {
        const char *key, *value;
    } kv[] = {{"lr", "0.1"},
              {"opt/name", "\"adam\""},
              {"flag", "true"},
              {"best_loss", "1"},
              {"steps", "4"},
              {"loss", "1.5"},
              {"phase", "\"we \\\"go\\\"\""},
              {"ok", "true"}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
        char *needle = tu_strdupf("  %s ", kv[i].key);
        char *l = line_with(out, needle);
        ck_assert_msg(l != NULL, "no line for %s in:\n%s", kv[i].key, out);
        char *v = l + strlen(needle);
        while (*v == ' ')
            v++;
        ck_assert_msg(strncmp(v, kv[i].value, strlen(kv[i].value)) == 0, "%s: '%s'", kv[i].key, l);
        free(l);
        free(needle);
    }
    free(out);
    free(args);

    /* Unique prefix: the shortest prefix telling C from A and B. */
    size_t n = 1;
    while (strncmp(d.c, d.a, n) == 0 || strncmp(d.c, d.b, n) == 0)
        n++;
    args = tu_strdupf("show %.*s --db '%s'", (int)n, d.c, d.path);
    ck_assert_int_eq(tq_cli(args, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, d.c));
    ck_assert_msg(strstr(out, "metrics, last value at step 1\n  early  1  (at step 0)\n"
                              "  loss   nan\n"),
                  "%s", out);
    free(out);
    free(args);

    /* Ambiguous: a prefix common to A and B. */
    n = 0;
    while (d.a[n] == d.b[n])
        n++;
    ck_assert_uint_gt(n, 0);
    args = tu_strdupf("show %.*s --db '%s'", (int)n, d.a, d.path);
    ck_assert_int_eq(tq_cli(args, &out), 1);
    ck_assert_msg(strstr(out, "ambiguous") && strstr(out, d.a) && strstr(out, d.b), "%s", out);
    free(out);
    free(args);

    /* Unknown. */
    args = tu_strdupf("show ffffffff --db '%s'", d.path);
    ck_assert_int_eq(tq_cli(args, &out), 1);
    ck_assert_msg(strstr(out, "no run has the id, id prefix or name 'ffffffff'") != NULL, "%s",
                  out);
    free(out);
    free(args);
    db3_free(&d);
}
END_TEST

START_TEST(every_source_prints_the_same_run)
{
    db3 d;
    stores s = stores_with_db3(&d);
    const char *ids[] = {d.a, d.b, d.c};
    for (int i = 0; i < 3; i++) {
        char *out = same_everywhere(&s, "show %s", ids[i]);
        ck_assert_msg(strstr(out, ids[i]), "%s", out);
        free(out);
        out = same_everywhere(&s, "show %.18s", ids[i]); /* a prefix */
        free(out);
    }
    stores_free(&s);
    db3_free(&d);
}
END_TEST

START_TEST(killed_run_is_crashed_from_every_source)
{
    stores s = stores_new();
    char *spec = tu_strdupf("sqlite:path=%s;jsonl:path=%s;csv:dir=%s", s.db, s.jsonl, s.csvdir);
    char *id = killed_run(spec, s.db, 3);
    for (int i = 0; i < 4; i++) {
        result r = tropt("show %s %s", id, s.spec[i]);
        ck_assert_msg(r.rc == 0 && strstr(r.out, "\nstatus      crashed\n"), "show %s:\n%s%s",
                      s.spec[i], r.out, r.err);
        result_free(&r);
    }
    free(id);
    free(spec);
    stores_free(&s);
}
END_TEST

/* ---- names -------------------------------------------------------------------- */

/* `tropt show NAME` and `tropt show PREFIX` print the same run. */
START_TEST(show_by_name_and_by_prefix)
{
    db3 d = db3_make();
    result by_name = tropt("show '%s' --db '%s'", d.na, d.path);
    result by_prefix = tropt("show %.13s --db '%s'", d.a, d.path);
    result by_id = tropt("show %s --db '%s'", d.a, d.path);
    ck_assert_msg(by_name.rc == 0 && by_prefix.rc == 0 && by_id.rc == 0, "%s%s%s", by_name.err,
                  by_prefix.err, by_id.err);
    char *head = tu_strdupf("name        %s\nrun         %s\n", d.na, d.a);
    ck_assert_msg(strncmp(by_name.out, head, strlen(head)) == 0, "%s", by_name.out);
    ck_assert_str_eq(by_name.out, by_prefix.out);
    ck_assert_str_eq(by_name.out, by_id.out);
    free(head);
    result_free(&by_name);
    result_free(&by_prefix);
    result_free(&by_id);
    db3_free(&d);
}
END_TEST

/* Two runs with one given name: the name is ambiguous, and the error lists
 * both with their ids, names, start times and status; a name that looks
 * like an id prefix loses to the id. */
static void ambiguous_name_on(const char *backend)
{
    if (!store_keeps_meta(backend)) {
        printf("show: %s keeps no names yet: skipped\n", backend);
        return;
    }
    char *dir = tu_mkdtemp(), *spec = meta_spec(backend, dir), *id[3], *name[3];
    char *args = tu_strdupf("--tracker '%s' --steps 3 --run-name twin", spec);
    demo_run(args, &id[0], &name[0]);
    demo_run(args, &id[1], &name[1]);
    free(args);
    ck_assert_str_eq(name[0], "twin");
    ck_assert_str_eq(name[1], "twin");
    result r = tropt("show twin --from '%s'", spec);
    ck_assert_msg(r.rc == 1 && !r.out[0], "exit %d\n%s%s", r.rc, r.out, r.err);
    ck_assert_msg(strstr(r.err, "tropt: 'twin' is ambiguous: 2 runs match by name:\n"), "%s",
                  r.err);
    for (int i = 0; i < 2; i++) {
        char *l = line_with(r.err, id[i]);
        ck_assert_msg(l && strstr(l, "  twin  ") && strstr(l, "T") && strstr(l, "Z  finished"),
                      "the candidate %s: %s", id[i], r.err);
        free(l);
    }
    result_free(&r);
    /* a third run named like the first one's id prefix: the id wins */
    char *prefix = tu_strdupf("%.18s", id[0]);
    args = tu_strdupf("--tracker '%s' --steps 3 --run-name '%s'", spec, prefix);
    demo_run(args, &id[2], &name[2]);
    r = tropt("show '%s' --from '%s'", prefix, spec);
    char *want = tu_strdupf("\nrun         %s\n", id[0]);
    ck_assert_msg(r.rc == 0 && strstr(r.out, want), "%s%s", r.out, r.err);
    free(want);
    result_free(&r);
    for (int i = 0; i < 3; i++) {
        free(id[i]);
        free(name[i]);
    }
    free(prefix);
    free(args);
    free(spec);
    tu_rmtree(dir);
    free(dir);
}

START_TEST(ambiguous_name_lists_the_candidates)
{
    ambiguous_name_on(meta_backends[_i]);
}
END_TEST

/* ---- attempts, checkpoint marks, where the run came from ------------------- */

/* The highest step the store holds of its one run; -1 when none yet. */
typedef struct last_seen {
    int64_t last;
} last_seen;

static int see_last(const tropt_stored_run *run, void *ud)
{
    ((last_seen *)ud)->last = run->last_step;
    return 0;
}

static int64_t stored_last_step(const char *spec)
{
    last_seen l = {-1};
    tropt_reader *r = NULL;
    if (tropt_reader_open(&r, spec) == TROPT_OK)
        tropt_reader_list_runs(r, see_last, &l);
    tropt_reader_free(r);
    return l.last;
}

/* tropt-demo with --resume KEY killed after it stored step 70 (its last
 * mark after step 49), then run again to its end: a run of two attempts. */
static void resumed_run(const char *spec, const char *ckdir)
{
    char *steps = "200";
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        freopen("/dev/null", "w", stdout);
        execl(demo(), demo(), "--tracker", spec, "--resume", "job-1", "--checkpoint-every", "50",
              "--checkpoint-dir", ckdir, "--steps", steps, "--sleep-ms", "20", "--run-name",
              "resumed", (char *)NULL);
        _exit(127);
    }
    int64_t last = -1;
    for (double dl = tu_deadline(2 * TU_WAIT_S); last < 70 && tu_poll(dl);)
        last = stored_last_step(spec); /* the store is polled */
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    ck_assert_msg(last >= 70, "the demo stored only step %lld", (long long)last);
    char *args = tu_strdupf("--tracker '%s' --resume job-1 --checkpoint-every 50 "
                            "--checkpoint-dir '%s' --steps %s --run-name resumed",
                            spec, ckdir, steps);
    char *id, *name;
    demo_run(args, &id, &name);
    free(id);
    free(name);
    free(args);
}

static void attempts_marks_provenance_on(const char *backend)
{
    if (!store_keeps_meta(backend)) {
        printf("show: %s keeps no attempts yet: skipped\n", backend);
        return;
    }
    char *dir = tu_mkdtemp(), *spec = meta_spec(backend, dir), *ck = tu_path(dir, "ck");
    ck_assert_int_eq(mkdir(ck, 0700), 0);
    resumed_run(spec, ck);
    result r = tropt("show resumed --from '%s'", spec);
    ck_assert_msg(r.rc == 0, "%s", r.err);
    const char *want[] = {"\nstatus      finished\n",
                          "\nattempts    2\n",
                          "\nresume key  job-1\n",
                          "\nprovenance\n  command     ",
                          "tropt-demo",
                          "\n  cwd         ",
                          "\n  version     ",
                          "\nattempts\n  ATTEMPT  FROM STEP  STARTED",
                          "\ncheckpoints\n  STEP  ATTEMPT  SIZE  SHA256"};
    expect_all(r.out, want, sizeof want / sizeof want[0]);
    /* the attempts: the first crashed at its kill, the second from step 50 */
    char *a1 = line_with(r.out, "        1          0  "),
         *a2 = line_with(r.out, "        2         50  ");
    ck_assert_msg(a1 && strstr(a1, " crashed ") && a2 && strstr(a2, " finished "), "%s", r.out);
    /* the last mark: its file's size and SHA-256 as sha256sum gives them */
    char *mark = line_with(r.out, "   199        2  ");
    ck_assert_msg(mark, "no mark after step 199:\n%s", r.out);
    char *path = strrchr(mark, ' ') + 1, *cmd = tu_strdupf("sha256sum '%s'", path), *sum = NULL;
    ck_assert_int_eq(tu_run(cmd, &sum, 0), 0);
    sum[64] = '\0';
    ck_assert_msg(strstr(mark, sum), "the mark %s, sha256sum %s", mark, sum);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    char *size = tu_strdupf(" %lld  %s", (long long)st.st_size, sum);
    ck_assert_msg(strstr(mark, size), "the mark %s, size %lld", mark, (long long)st.st_size);
    free(size);
    free(sum);
    free(cmd);
    free(mark);
    free(a1);
    free(a2);
    result_free(&r);
    free(ck);
    free(spec);
    tu_rmtree(dir);
    free(dir);
}

START_TEST(show_prints_attempts_marks_and_provenance)
{
    attempts_marks_provenance_on(meta_backends[_i]);
}
END_TEST

/* ---- what a store holds is data ----------------------------------------------- */

#define ODD_NAME "q,\"x\" <b>\xc3\xa9"
#define ODD_TAG "say \"hi\" <i>"

/* A run whose name and tag hold quotes, a comma, markup and non-ASCII text
 * (all a name may hold) and whose note holds a newline and terminal escape
 * sequences (a note is any text), next to a plain run: `tropt runs` and
 * `tropt show` print them with every control character neutralised, and
 * `tropt compare --format json|csv` give the name back exactly, a string,
 * read by real parsers (jansson, Python's csv). */
static void odd_identity_on(const char *backend)
{
    if (!store_keeps_meta(backend)) {
        printf("show: %s keeps no names or notes yet: skipped\n", backend);
        return;
    }
    char *dir = tu_mkdtemp(), *spec = meta_spec(backend, dir), *id[2], *name[2];
    char *q = shq(ODD_NAME), *qt = shq(ODD_TAG);
    char *args = tu_strdupf("--tracker '%s' --steps 3 --run-name %s --tag %s", spec, q, qt);
    demo_run(args, &id[0], &name[0]);
    free(args);
    args = tu_strdupf("--tracker '%s' --steps 3 --run-name plain", spec);
    demo_run(args, &id[1], &name[1]);
    free(args);
    ck_assert_str_eq(name[0], ODD_NAME);
    result r = tropt("note %s \"$(printf 'one\\nt\\033]0;pwn\\007')\" --from '%s'", id[0], spec);
    ck_assert_msg(r.rc == 0, "%s%s", r.out, r.err);
    result_free(&r);

    r = tropt("runs --from '%s'", spec);
    ck_assert_msg(r.rc == 0 && !strchr(r.out, 0x1b) && !strchr(r.out, 0x07), "%s%s", r.out, r.err);
    char *l = line_with(r.out, ODD_NAME "  ");
    ck_assert_msg(l && strstr(l, ODD_TAG), "%s", r.out);
    free(l);
    result_free(&r);

    r = tropt("show %s --from '%s'", q, spec);
    ck_assert_msg(r.rc == 0 && !strchr(r.out, 0x1b) && !strchr(r.out, 0x07), "%s%s", r.out, r.err);
    const char *want[] = {"name        " ODD_NAME "\n", "\ntags        " ODD_TAG "\n",
                          "\nnote        one\n            t?]0;pwn?\n"};
    expect_all(r.out, want, sizeof want / sizeof want[0]);
    result_free(&r);

    r = tropt("compare %s %s --from '%s' --format json", id[0], id[1], spec);
    ck_assert_msg(r.rc == 0, "%s", r.err);
    json_error_t e;
    json_t *j = json_loads(r.out, 0, &e);
    ck_assert_msg(j, "%s: %s", e.text, r.out);
    json_t *nm = json_object_get(json_object_get(json_object_get(j, "run"), "name"), id[0]);
    ck_assert_msg(json_is_string(nm) && strcmp(json_string_value(nm), ODD_NAME) == 0, "%s", r.out);
    json_decref(j);
    result_free(&r);

    char *csv = tu_path(dir, "c.csv");
    r = tropt("compare %s %s --from '%s' --format csv > '%s'", id[0], id[1], spec, csv);
    ck_assert_msg(r.rc == 0, "%s", r.err);
    result_free(&r);
    char *cmd =
        tu_strdupf("/usr/bin/python3 -c \"import csv,sys\n"
                   "rows=list(csv.reader(open(sys.argv[1],newline='',encoding='utf-8')))\n"
                   "d={(x[0],x[1],x[2]):x[3:] for x in rows[1:]}\n"
                   "assert d[('run','name','')]==[sys.argv[2],'plain'],d[('run','name','')]\n"
                   "print('ok')\" '%s' %s",
                   csv, q);
    char *out = NULL;
    ck_assert_msg(tu_run(cmd, &out, 1) == 0 && strstr(out, "ok"), "%s", out);
    free(out);
    free(cmd);
    free(csv);
    for (int i = 0; i < 2; i++) {
        free(id[i]);
        free(name[i]);
    }
    free(q);
    free(qt);
    free(spec);
    tu_rmtree(dir);
    free(dir);
}

START_TEST(stored_identity_is_data_in_every_output)
{
    odd_identity_on(meta_backends[_i]);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cli-show");
    TCase *tc = tcase_create("show");
    tcase_add_unchecked_fixture(tc, meta_servers_start, meta_servers_stop);
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, test_show);
    tcase_add_test(tc, every_source_prints_the_same_run);
    tcase_add_test(tc, killed_run_is_crashed_from_every_source);
    tcase_add_test(tc, show_by_name_and_by_prefix);
    tcase_add_loop_test(tc, ambiguous_name_lists_the_candidates, 0, (int)n_meta_backends);
    tcase_add_loop_test(tc, show_prints_attempts_marks_and_provenance, 0, (int)n_meta_backends);
    tcase_add_loop_test(tc, stored_identity_is_data_in_every_output, 0, (int)n_meta_backends);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
