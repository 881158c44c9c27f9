/*
 * tests/cli/test_rm.c - `tropt rm RUN...` as a user runs it: off a terminal
 * without --yes it refuses (exit 2) and removes nothing; on a terminal it
 * asks and removes only on "y"; a running run is refused unless --force;
 * a RUN that names no run (or several) removes nothing.  On every storing
 * backend that can delete: the runs it prints as removed are gone from
 * `tropt runs` and from the store itself (sqlite: no row of them left, the
 * integrity check passes and the freed pages are reused; csv: no file
 * mentions them; jsonl: a delete event), the others untouched.
 */
#include <dirent.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_tu.h"
#include "sqlite_tu.h"

/* Two finished runs named "keep" and "drop" (as far as the store keeps
 * names) of 200 steps in a new store of a folder of their own. */
typedef struct two {
    char *dir, *spec;
    char *keep, *drop; /* their ids */
    char *nk, *nd;     /* their names, as the store gives them */
} two;

static two two_runs(const char *backend)
{
    two t = {tu_mkdtemp(), NULL, NULL, NULL, NULL, NULL};
    t.spec = meta_spec(backend, t.dir);
    char *name = NULL, *args = tu_strdupf("--tracker '%s' --steps 200 --run-name keep", t.spec);
    demo_run(args, &t.keep, &name);
    free(name);
    free(args);
    args = tu_strdupf("--tracker '%s' --steps 200 --run-name drop", t.spec);
    demo_run(args, &t.drop, &name);
    free(name);
    free(args);
    t.nk = run_name(t.spec, t.keep);
    t.nd = run_name(t.spec, t.drop);
    return t;
}

static void two_free(two *t)
{
    tu_rmtree(t->dir);
    free(t->dir);
    free(t->spec);
    free(t->keep);
    free(t->drop);
    free(t->nk);
    free(t->nd);
}

/* `tropt runs --from SPEC` has a row for the run named `name` (as the store
 * gives it: run_name): a line that starts with the name and a blank.  By
 * name, not by id: the ID column shows the shortest prefix no other run of
 * the store shares, so once a run is gone another's may be a prefix of its
 * id. */
static int listed(const char *spec, const char *name)
{
    result r = tropt("runs --from '%s'", spec);
    ck_assert_msg(r.rc == 0, "%s", r.err);
    char *row = tu_strdupf("\n%s ", name);
    int found = strstr(r.out, row) != NULL;
    free(row);
    result_free(&r);
    return found;
}

START_TEST(refuses_without_confirmation_off_a_terminal)
{
    two t = two_runs("sqlite");
    result r = tropt("rm %s --from '%s' </dev/null", t.drop, t.spec);
    ck_assert_msg(r.rc == 2, "exit %d\n%s%s", r.rc, r.out, r.err);
    ck_assert_msg(strstr(r.err, "not removing 1 run without confirmation: stdin is not a terminal "
                                "(give --yes)") &&
                      strstr(r.err, "usage: tropt rm"),
                  "%s", r.err);
    ck_assert_str_eq(r.out, "");
    result_free(&r);
    ck_assert(listed(t.spec, t.nd) && listed(t.spec, t.nk));
    two_free(&t);
}
END_TEST

START_TEST(asks_on_a_terminal)
{
    two t = two_runs("sqlite");
    char *args = tu_strdupf("rm '%s' --from '%s'", t.nd, t.spec);
    char *asked =
        tu_strdupf("about to remove 1 run:\r\n  %s (%s, finished, started ", t.nd, t.drop);
    result r = tropt_tty(args, "remove it? [y/N] ", "n\n");
    ck_assert_msg(r.rc == 1 && strstr(r.out, asked) && strstr(r.out, "nothing removed"),
                  "exit %d: %s", r.rc, r.out);
    result_free(&r);
    free(asked);
    ck_assert(listed(t.spec, t.nd));
    if (store_keeps_meta("sqlite")) {
        r = tropt_tty(args, "remove it? [y/N] ", "y\n");
        char *said = tu_strdupf("removed %s (%s, finished, started ", t.nd, t.drop);
        ck_assert_msg(r.rc == 0 && strstr(r.out, said), "exit %d: %s", r.rc, r.out);
        free(said);
        result_free(&r);
        ck_assert(!listed(t.spec, t.nd) && listed(t.spec, t.nk));
    }
    free(args);
    two_free(&t);
}
END_TEST

START_TEST(nothing_removed_when_a_run_is_unknown)
{
    two t = two_runs("sqlite");
    result r = tropt("rm %s nosuchrun --yes --from '%s'", t.drop, t.spec);
    ck_assert_msg(r.rc == 1 && strstr(r.err, "no run has the id, id prefix or name 'nosuchrun'") &&
                      !r.out[0],
                  "exit %d\n%s%s", r.rc, r.out, r.err);
    result_free(&r);
    /* "01" is a prefix of both ids: ambiguous, the candidates listed */
    r = tropt("rm 01 --yes --from '%s'", t.spec);
    ck_assert_msg(r.rc == 1 && strstr(r.err, "is ambiguous") && strstr(r.err, t.keep) &&
                      strstr(r.err, t.drop),
                  "exit %d\n%s%s", r.rc, r.out, r.err);
    result_free(&r);
    ck_assert(listed(t.spec, t.nd) && listed(t.spec, t.nk));
    two_free(&t);
}
END_TEST

/* A run that stays running: tropt-demo logging slowly; returns its pid
 * once `tropt runs` shows a run running. */
static pid_t running_run(const char *spec)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        freopen("/dev/null", "w", stdout);
        execl(demo(), demo(), "--tracker", spec, "--steps", "100000", "--sleep-ms", "20",
              "--run-name", "live", (char *)NULL);
        _exit(127);
    }
    for (double dl = tu_deadline(TU_WAIT_S); tu_poll(dl);) {
        result r = tropt("runs --from '%s' --status running", spec);
        int up = r.rc == 0 && strstr(r.out, " running ");
        result_free(&r);
        if (up)
            return pid;
    }
    kill(pid, SIGKILL);
    ck_abort_msg("the demo's run never showed running");
    return -1;
}

START_TEST(refuses_a_running_run_unless_forced)
{
    char *dir = tu_mkdtemp(), *spec = meta_spec("sqlite", dir);
    pid_t pid = running_run(spec);
    result r = tropt("rm 01 --yes --from '%s'", spec); /* the one run: ids start 01 until 2039 */
    ck_assert_msg(r.rc == 1 && strstr(r.err, "tropt: ") && strstr(r.err, ", running, started ") &&
                      strstr(r.err, ") is running; give --force to remove it anyway") &&
                      strstr(r.err, "nothing removed") && !r.out[0],
                  "exit %d\n%s%s", r.rc, r.out, r.err);
    result_free(&r);
    if (store_keeps_meta("sqlite")) {
        r = tropt("rm live --yes --force --from '%s'", spec);
        ck_assert_msg(r.rc == 0 && strstr(r.out, "removed live (") && strstr(r.out, ", running, "),
                      "exit %d\n%s%s", r.rc, r.out, r.err);
        result_free(&r);
        r = tropt("runs --from '%s'", spec);
        ck_assert_msg(!strstr(r.out, "live"), "%s", r.out);
        result_free(&r);
    }
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    free(spec);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* Any file under dir whose name or content mentions s; 1 when found. */
/* A file under dir (the store's tombstones in .deleted/ left out: they keep
 * a removed id on purpose, so a replay cannot bring it back) holds or is
 * named by s. */
static int mentioned_under(const char *dir, const char *s)
{
    char *cmd = tu_strdupf("grep -rlF --exclude-dir=.deleted -- '%s' '%s'; "
                           "find '%s' -path '*/.deleted' -prune -o -name '*%s*' -print",
                           s, dir, dir, s);
    char *out = NULL;
    tu_run(cmd, &out, 0);
    int found = out && out[0];
    free(out);
    free(cmd);
    return found;
}

static void sqlite_space_given_back(const char *path, const char *id)
{
    sqlite3 *db = tq_db(path);
    tq_assert_integrity(db);
    const char *views[] = {"runs", "metrics", "metrics_history", "params", "checkpoints"};
    for (size_t i = 0; i < sizeof views / sizeof views[0]; i++)
        ck_assert_msg(tq_int(db, "SELECT count(*) FROM %s WHERE run_id = %Q", views[i], id) == 0,
                      "%s still holds the removed run", views[i]);
    sqlite3_close(db);
}

static void removes_runs_on(const char *backend)
{
    if (!store_keeps_meta(backend)) {
        printf("rm: %s cannot delete runs yet: skipped\n", backend);
        return;
    }
    two t = two_runs(backend);
    char *dir = t.dir, *keep = t.keep, *drop = t.drop, *spec = t.spec;
    char *name = NULL, *third = NULL, *args = tu_strdupf("--tracker '%s' --steps 20", spec);
    demo_run(args, &third, &name);
    free(args);
    struct stat before;
    const char *db = strchr(spec, '=') + 1;
    int sqlite = strcmp(backend, "sqlite") == 0;
    if (sqlite)
        ck_assert_int_eq(stat(db, &before), 0);
    /* by name and by id prefix, the same run twice: removed once */
    result r = tropt("rm drop %.18s drop %.18s --yes --from '%s'", third, drop, spec);
    ck_assert_msg(r.rc == 0, "exit %d\n%s%s", r.rc, r.out, r.err);
    char *l1 = tu_strdupf("removed drop (%s, finished, started ", drop);
    char *l2 = tu_strdupf("removed %s (%s, finished, started ", name, third);
    ck_assert_msg(strstr(r.out, l1) && strstr(r.out, l2) && strstr(r.out, l1) == r.out, "%s",
                  r.out);
    ck_assert_msg(!strstr(strstr(r.out, l1) + 1, l1), "removed twice: %s", r.out);
    free(l1);
    free(l2);
    result_free(&r);
    ck_assert(!listed(spec, "drop") && !listed(spec, name) && listed(spec, "keep"));
    r = tropt("show drop --from '%s'", spec);
    ck_assert_msg(r.rc == 1 && strstr(r.err, "no run has"), "%s%s", r.out, r.err);
    result_free(&r);
    if (sqlite) {
        sqlite_space_given_back(db, drop);
        /* a new run of the same size reuses the freed pages: the file does
         * not grow past its size before the removal */
        args = tu_strdupf("--tracker '%s' --steps 200", spec);
        char *id4, *n4;
        demo_run(args, &id4, &n4);
        struct stat after;
        ck_assert_int_eq(stat(db, &after), 0);
        ck_assert_msg(after.st_size <= before.st_size, "grew from %lld to %lld bytes",
                      (long long)before.st_size, (long long)after.st_size);
        free(id4);
        free(n4);
        free(args);
    } else if (strcmp(backend, "csv") == 0) {
        char *folder = tu_path(dir, "csv");
        ck_assert_msg(!mentioned_under(folder, drop), "a csv file still holds %s", drop);
        ck_assert_msg(mentioned_under(folder, keep), "the kept run is gone");
        char *stone = tu_strdupf("%s/.deleted/%s", folder, drop);
        ck_assert_msg(access(stone, F_OK) == 0, "no tombstone %s", stone);
        free(stone);
        free(folder);
    } else if (strcmp(backend, "jsonl") == 0) { /* the journal appended the deletion */
        char *journal = tu_read_file(db, NULL), *event = tu_strdupf("\"run_id\":\"%s\"", drop);
        const char *del = journal ? strstr(journal, "{\"type\":\"delete\"") : NULL;
        ck_assert_msg(del && strstr(del, event), "no delete event of %s", drop);
        free(event);
        free(journal);
    }
    free(third);
    free(name);
    two_free(&t);
}

START_TEST(removes_runs)
{
    removes_runs_on(meta_backends[_i]);
}
END_TEST

START_TEST(usage_errors)
{
    const char *bad[] = {"rm", "rm --yes", "rm RUN --bogus", "rm RUN --db", "rm RUN --yes=1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_usage_error(cli(), bad[i]);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cli-rm");
    TCase *tc = tcase_create("rm");
    tcase_add_unchecked_fixture(tc, meta_servers_start, meta_servers_stop);
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, refuses_without_confirmation_off_a_terminal);
    tcase_add_test(tc, asks_on_a_terminal);
    tcase_add_test(tc, nothing_removed_when_a_run_is_unknown);
    tcase_add_test(tc, refuses_a_running_run_unless_forced);
    tcase_add_loop_test(tc, removes_runs, 0, (int)n_meta_backends);
    tcase_add_test(tc, usage_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
