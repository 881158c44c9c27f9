/*
 * tests/cli/test_runs.c - `tropt runs` as a user runs it (the built binary,
 * $TROPT_CLI): the table, its alignment and order, the loss columns from
 * the primary metric, every source (--db, --from sqlite|jsonl|csv) printing
 * the same text, a killed run shown crashed, stored text neutralised for
 * the terminal, usage errors and failures, and the README quick start.
 */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_tu.h"
#include "sqlite_tu.h"

START_TEST(test_runs_table)
{
    db3 d = db3_make();
    char *args = tu_strdupf("runs --db '%s'", d.path), *out = NULL;
    ck_assert_int_eq(tq_cli(args, &out), 0);
    char *head = line_with(out, "EXPERIMENT");
    ck_assert_ptr_nonnull(head);
    char *la = line_with(out, d.a), *lb = line_with(out, d.b), *lc = line_with(out, d.c);
    ck_assert_msg(la && lb && lc, "runs missing: %s", out);
    /* Columns: experiment, id, status, start, steps, last loss, best loss. */
    const char *wa[] = {"4", "1.5", "1"};
    const char *wb[] = {"1", "-", "-"};
    const char *wc[] = {"2", "nan", "5"};
    expect_tail(la, wa, 3);
    expect_tail(lb, wb, 3);
    expect_tail(lc, wc, 3);
    ck_assert_int_eq(strncmp(la, "alpha ", 6), 0);
    ck_assert_int_eq(strncmp(lc, "b\xc3\xa9ta ", 6), 0);
    /* Aligned: every run id starts under "RUN ID", every status under STATUS. */
    size_t id_col = col(head, "RUN ID"), st_col = col(head, "STATUS");
    ck_assert_uint_eq(col(la, d.a), id_col);
    ck_assert_uint_eq(col(lb, d.b), id_col);
    ck_assert_uint_eq(col(la, "finished"), st_col);
    ck_assert_uint_eq(col(lb, "aborted"), st_col);
    ck_assert_uint_eq(col(lc, "finished"), st_col + 1);
    /* The unicode experiment counts as 4 characters, not 5 bytes. */
    ck_assert_uint_eq(col(lc, d.c), id_col + 1);
    /* Started: local ISO time. */
    ck_assert_msg(strstr(la, "T") && strstr(la, ":"), "%s", la);
    /* Runs in start order. */
    ck_assert(strstr(out, d.a) < strstr(out, d.b));
    ck_assert(strstr(out, d.b) < strstr(out, d.c));
    free(head);
    free(la);
    free(lb);
    free(lc);
    free(out);
    free(args);
    /* --db=PATH, and the default path tropt.db in the working directory. */
    args = tu_strdupf("runs --db='%s'", d.path);
    ck_assert_int_eq(tq_cli(args, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, d.c));
    free(out);
    free(args);
    char *def = tu_path(d.dir, "tropt.db");
    ck_assert_int_eq(rename(d.path, def), 0);
    char *cmd = tu_strdupf("cd '%s' && '%s' runs", d.dir, getenv("TROPT_CLI"));
    ck_assert_int_eq(tu_run(cmd, &out, 1), 0);
    ck_assert_ptr_nonnull(strstr(out, d.b));
    ck_assert_int_eq(rename(def, d.path), 0);
    free(cmd);
    free(def);
    free(out);
    db3_free(&d);
}
END_TEST

START_TEST(test_usage_errors)
{
    db3 d = db3_make();
    const char *usage2[] = {"runs --bogus", "runs extra", "runs --db",     "show",
                            "show a b",     "show --db",  "show --what x", "runs --db ''"};
    for (size_t i = 0; i < sizeof usage2 / sizeof usage2[0]; i++) {
        char *out = NULL;
        int rc = tq_cli(usage2[i], &out);
        ck_assert_msg(rc == 2, "'%s': exit %d: %s", usage2[i], rc, out);
        ck_assert_msg(strstr(out, "usage: tropt ") != NULL, "'%s': %s", usage2[i], out);
        free(out);
    }
    /* Failures exit 1 with a message naming the file. */
    char *missing = tu_path(d.dir, "missing.db");
    char *args = tu_strdupf("runs --db '%s'", missing), *out = NULL;
    ck_assert_int_eq(tq_cli(args, &out), 1);
    ck_assert_msg(strstr(out, missing) && strstr(out, "No such file"), "%s", out);
    ck_assert_int_ne(access(missing, F_OK), 0); /* not created */
    free(out);
    free(args);
    args = tu_strdupf("show %s --db '%s'", d.a, missing);
    ck_assert_int_eq(tq_cli(args, &out), 1);
    free(out);
    free(args);
    /* A folder and a FIFO: a clear message at once, never a hang (issue 18
     * #17: a FIFO blocked forever, a folder said "disk I/O error"). */
    args = tu_strdupf("runs --db '%s'", d.dir);
    ck_assert_int_eq(tq_cli(args, &out), 1);
    ck_assert_msg(strstr(out, "is a folder, not a tropt database") != NULL, "%s", out);
    free(out);
    free(args);
    char *fifo = tu_path(d.dir, "pipe.db");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    args = tu_strdupf("timeout 60 %s runs --db '%s'", getenv("TROPT_CLI"), fifo);
    ck_assert_int_eq(tu_run(args, &out, 1), 1);
    ck_assert_msg(strstr(out, "is not a regular file") != NULL, "%s", out);
    free(out);
    free(args);
    free(fifo);
    /* An SQLite file that is not a tropt database. */
    char *other = tu_path(d.dir, "other.db");
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(other, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    args = tu_strdupf("runs --db '%s'", other);
    ck_assert_int_eq(tq_cli(args, &out), 1);
    ck_assert_msg(strstr(out, "not a tropt database") != NULL, "%s", out);
    free(out);
    free(args);
    free(other);
    free(missing);
    db3_free(&d);
}
END_TEST

/* Stored names reach the terminal without escape sequences or invalid
 * UTF-8 (issue 18 #5): an ESC sequence and BEL in the experiment, a C1
 * CSI in a key, a byte that is not UTF-8 in the host. */
START_TEST(test_terminal_escapes_neutralised)
{
    db3 d = db3_make();
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(d.path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db,
                                  "UPDATE tropt_run SET experiment = 'ev' || char(27) || '[31mil'"
                                  " || char(7), host = CAST(X'68FF6F7374' AS TEXT);"
                                  "UPDATE tropt_key SET name = 'k' || char(155) || '2J'"
                                  " WHERE name = 'loss'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    for (int show = 0; show < 2; show++) {
        char *args = show ? tu_strdupf("show %s --db '%s'", d.a, d.path)
                          : tu_strdupf("runs --db '%s'", d.path);
        char *out = NULL;
        ck_assert_msg(tq_cli(args, &out) == 0, "%s: %s", args, out);
        ck_assert_msg(!strchr(out, 0x1b) && !strchr(out, 0x07), "%s: an escape reached: %s", args,
                      out);
        ck_assert_msg(!strstr(out, "\xc2\x9b"), "%s: a C1 CSI reached the terminal", args);
        ck_assert_msg(strstr(out, "ev?[31mil?") != NULL, "%s: %s", args, out);
        if (show) {
            ck_assert_msg(strstr(out, "h\xef\xbf\xbdost") != NULL, "host: %s", out);
            ck_assert_msg(strstr(out, "k?2J") != NULL, "key: %s", out);
        }
        free(out);
        free(args);
    }
    db3_free(&d);
}
END_TEST

/* The README's quick start: the demo on the embedded default, then runs/show. */
START_TEST(test_quick_start)
{
    const char *demo = getenv("TROPT_DEMO");
    ck_assert_ptr_nonnull(demo);
    char *dir = tu_mkdtemp();
    char *cmd = tu_strdupf("cd '%s' && env -u TROPT_TRACKER '%s' --steps 30", dir, demo), *out;
    int rc = tu_run(cmd, &out, 1);
    ck_assert_msg(rc == 0, "demo: %s", out);
    free(out);
    free(cmd);
    char *path = tu_path(dir, "tropt.db");
    sqlite3 *db = tq_db(path);
    char *id = tq_text(db, "SELECT run_id FROM runs");
    ck_assert_ptr_nonnull(id);
    ck_assert_int_eq(tq_int(db, "SELECT count(DISTINCT step) FROM metrics"), 30);
    tq_text_eq(db, "finished", "SELECT status FROM runs");
    sqlite3_close(db);
    cmd = tu_strdupf("cd '%s' && '%s' runs && '%s' show %.8s", dir, getenv("TROPT_CLI"),
                     getenv("TROPT_CLI"), id);
    ck_assert_int_eq(tu_run(cmd, &out, 1), 0);
    char *l = line_with(out, id);
    ck_assert_msg(l && strstr(l, " finished ") && strstr(l, " 30 "), "%s", out);
    ck_assert_msg(strstr(out, "metrics, last value at step 29") && strstr(out, "  loss "), "%s",
                  out);
    free(l);
    free(out);
    free(cmd);
    free(id);
    free(path);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- one text whatever the source ------------------------------------- */

START_TEST(every_source_prints_the_same_runs)
{
    db3 d;
    stores s = stores_with_db3(&d);
    char *out = same_everywhere(&s, "runs");
    char *la = line_with(out, d.a), *lc = line_with(out, d.c);
    const char *wa[] = {"4", "1.5", "1"};
    const char *wc[] = {"2", "nan", "5"};
    expect_tail(la, wa, 3);
    expect_tail(lc, wc, 3);
    free(la);
    free(lc);
    free(out);
    out = same_everywhere(&s, "runs --metric early");
    ck_assert_msg(strstr(out, "LAST early") && strstr(out, "MIN early"), "%s", out);
    free(out);
    stores_free(&s);
    db3_free(&d);
}
END_TEST

/* A run whose process was killed is crashed from every source: the
 * status is decided once, in the core's reader layer. */
START_TEST(killed_run_is_crashed_from_every_source)
{
    stores s = stores_new();
    char *spec = tu_strdupf("sqlite:path=%s;jsonl:path=%s;csv:dir=%s", s.db, s.jsonl, s.csvdir);
    char *id = killed_run(spec, s.db, 3);
    for (int i = 0; i < 4; i++) {
        result r = tropt("runs %s", s.spec[i]);
        char *l = line_with(r.out, id);
        ck_assert_msg(r.rc == 0 && l && strstr(l, " crashed "), "runs %s:\n%s%s", s.spec[i], r.out,
                      r.err);
        free(l);
        result_free(&r);
    }
    free(id);
    free(spec);
    stores_free(&s);
}
END_TEST

/* The loss columns read the primary metric: loss, else the one key whose
 * last segment is loss, else --metric KEY. */
START_TEST(loss_columns_read_the_primary_metric)
{
    char *dir = tu_mkdtemp(), *path = tu_path(dir, "m.db");
    tropt_tracker *t = tq_open(path, NULL, "prim");
    const char *keys[3][2] = {{"train/loss", "acc"}, {"a/loss", "b/loss"}, {"loss", "val/loss"}};
    char *ids[3];
    for (int r = 0; r < 3; r++) {
        ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
        ids[r] = strdup(tropt_tracker_run_id(t));
        for (int step = 0; step < 3; step++) {
            tropt_field f[] = {TROPT_F_REAL(keys[r][0], 10.0 - step),
                               TROPT_F_REAL(keys[r][1], 20.0 + step)};
            ck_assert_int_eq(tropt_tracker_log_fields(t, f, 2), TROPT_OK);
        }
        ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    }
    tropt_tracker_free(t);
    result res = tropt("runs --db '%s'", path);
    ck_assert_int_eq(res.rc, 0);
    const char *want[3][2] = {
        {"8", "8"}, {"-", "-"}, {"8", "8"}}; /* two keys ending in /loss: none */
    for (int r = 0; r < 3; r++) {
        char *l = line_with(res.out, ids[r]);
        expect_tail(l, want[r], 2);
        free(l);
    }
    result_free(&res);
    res = tropt("runs --db '%s' --metric b/loss", path);
    char *l = line_with(res.out, ids[1]);
    const char *wb[] = {"22", "20"};
    expect_tail(l, wb, 2);
    ck_assert_msg(strstr(res.out, "LAST b/loss") && strstr(res.out, "MIN b/loss"), "%s", res.out);
    free(l);
    l = line_with(res.out, ids[0]);
    const char *wnone[] = {"-", "-"};
    expect_tail(l, wnone, 2);
    free(l);
    result_free(&res);
    for (int r = 0; r < 3; r++)
        free(ids[r]);
    free(path);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* A new user in a folder without tropt.db is told what to give. */
START_TEST(no_database_here_says_what_to_do)
{
    char *dir = tu_mkdtemp();
    char *cmd = tu_strdupf("cd '%s' && '%s' runs 2>&1", dir, cli());
    char *out = NULL;
    ck_assert_int_eq(tu_run(cmd, &out, 1), 1);
    ck_assert_msg(strstr(out, "tropt.db") && strstr(out, "--db PATH") && strstr(out, "--from SPEC"),
                  "%s", out);
    char *def = tu_path(dir, "tropt.db");
    ck_assert_int_ne(access(def, F_OK), 0); /* nothing created */
    free(def);
    free(out);
    free(cmd);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* Issue 26: `runs --from jsonl:` printed stored names, statuses and hosts
 * with their escape sequences raw (only --db escaped them). */
START_TEST(jsonl_text_is_neutralised_for_the_terminal)
{
    char *dir = tu_mkdtemp(), *path = tu_path(dir, "evil.jsonl");
    const char *id = "01940000-0000-7000-8000-0000000000aa";
    char *text =
        tu_strdupf("{\"type\":\"run_start\",\"run_id\":\"%s\",\"time\":1700000000,"
                   "\"experiment\":\"ev\\u001b[31mil\\u0007\",\"host\":\"h\\u009b2Jost\",\"pid\":1,"
                   "\"config\":{\"k\\u001b]0;title\\u0007\":1}}\n"
                   "{\"type\":\"log\",\"run_id\":\"%s\",\"time\":1700000001,\"step\":0,"
                   "\"data\":{\"loss\\u001b[2J\":1.5}}\n",
                   id, id);
    tu_write_file(path, text);
    for (int show = 0; show < 2; show++) {
        result r = show ? tropt("show %s --from 'jsonl:path=%s'", id, path)
                        : tropt("runs --from 'jsonl:path=%s'", path);
        ck_assert_msg(r.rc == 0, "%s", r.err);
        ck_assert_msg(!strchr(r.out, 0x1b) && !strchr(r.out, 0x07) && !strstr(r.out, "\xc2\x9b"),
                      "an escape reached the terminal:\n%s", r.out);
        ck_assert_msg(strstr(r.out, "ev?[31mil?"), "%s", r.out);
        if (show)
            ck_assert_msg(strstr(r.out, "h?2Jost") && strstr(r.out, "k?]0;title?") &&
                              strstr(r.out, "loss?[2J"),
                          "%s", r.out);
        result_free(&r);
    }
    free(text);
    free(path);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* --db PATH is --from sqlite:path=PATH whatever PATH holds: a comma, a
 * semicolon, a quote or a backslash is quoted for the spec grammar. */
START_TEST(db_path_with_spec_characters)
{
    db3 d = db3_make();
    char *odd = tu_path(d.dir, "a,b;c \"q\" \\d.db");
    ck_assert_int_eq(rename(d.path, odd), 0);
    char *q = shq(odd);
    result r = tropt("runs --db %s", q);
    ck_assert_msg(r.rc == 0 && strstr(r.out, d.a), "%d %s%s", r.rc, r.out, r.err);
    result_free(&r);
    ck_assert_int_eq(rename(odd, d.path), 0);
    free(q);
    free(odd);
    db3_free(&d);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cli-runs");
    TCase *tc = tcase_create("runs");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, test_runs_table);
    tcase_add_test(tc, test_usage_errors);
    tcase_add_test(tc, test_terminal_escapes_neutralised);
    tcase_add_test(tc, test_quick_start);
    tcase_add_test(tc, every_source_prints_the_same_runs);
    tcase_add_test(tc, killed_run_is_crashed_from_every_source);
    tcase_add_test(tc, loss_columns_read_the_primary_metric);
    tcase_add_test(tc, no_database_here_says_what_to_do);
    tcase_add_test(tc, jsonl_text_is_neutralised_for_the_terminal);
    tcase_add_test(tc, db_path_with_spec_characters);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
