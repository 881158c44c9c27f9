/*
 * tests/sqlite/test_sqlite_cli.c - `tropt runs` and `tropt show` on a real
 * database, run as the built binary ($TROPT_CLI), and the README quick
 * start ($TROPT_DEMO into the default tropt.db).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sqlite_tu.h"

struct db3 {
    char *dir, *path;
    char *a, *b, *c; /* run ids */
};

/* Three runs: A (loss 3,2,1,1.5; finished), B (no loss; aborted), C (loss 5
 * then NaN, early only at step 0; finished), in experiments alpha and beta. */
static struct db3 make_db(void)
{
    struct db3 d;
    d.dir = tu_mkdtemp();
    d.path = tu_path(d.dir, "cli.db");
    tropt_tracker *t = tq_open(d.path, NULL, "alpha");
    json_t *cfg = json_pack("{s:f,s:{s:s},s:b}", "lr", 0.1, "opt", "name", "adam", "flag", 1);
    ck_assert_int_eq(tropt_tracker_init(t, cfg), TROPT_OK);
    json_decref(cfg);
    d.a = strdup(tropt_tracker_run_id(t));
    const double la[] = {3, 2, 1, 1.5};
    for (int s = 0; s < 4; s++) {
        tropt_field fl[] = {TROPT_F_REAL("loss", la[s]), TROPT_F_STR("phase", "we \"go\""),
                            TROPT_F_BOOL("ok", s % 2)};
        ck_assert_int_eq(tropt_tracker_log_fields(t, fl, 3), TROPT_OK);
    }
    json_t *sum = json_pack("{s:f,s:i}", "best_loss", 1.0, "steps", 4);
    ck_assert_int_eq(tropt_tracker_finish(t, sum), TROPT_OK);
    json_decref(sum);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    d.b = strdup(tropt_tracker_run_id(t));
    tropt_field fb[] = {TROPT_F_INT("x", 1)};
    ck_assert_int_eq(tropt_tracker_log_fields(t, fb, 1), TROPT_OK);
    tropt_tracker_free(t); /* aborted */

    t = tq_open(d.path, NULL, "b\xc3\xa9ta");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    d.c = strdup(tropt_tracker_run_id(t));
    tropt_field c0[] = {TROPT_F_REAL("loss", 5), TROPT_F_INT("early", 1)};
    tropt_field c1[] = {TROPT_F_REAL("loss", NAN)};
    ck_assert_int_eq(tropt_tracker_log_fields(t, c0, 2), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_log_fields(t, c1, 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    return d;
}

static void free_db(struct db3 *d)
{
    tu_rmtree(d->dir);
    free(d->dir);
    free(d->path);
    free(d->a);
    free(d->b);
    free(d->c);
}

/* The line of `out` holding `needle` (malloc'd), NULL if none. */
static char *line_with(const char *out, const char *needle)
{
    const char *p = strstr(out, needle);
    if (!p)
        return NULL;
    const char *b = p;
    while (b > out && b[-1] != '\n')
        b--;
    const char *e = strchr(p, '\n');
    size_t n = e ? (size_t)(e - b) : strlen(b);
    char *l = malloc(n + 1);
    memcpy(l, b, n);
    l[n] = '\0';
    return l;
}

/* Whitespace-separated fields of a line, from the right: field k (0 = last). */
static void expect_tail(const char *line, const char *const *want, int n)
{
    char *copy = strdup(line);
    char *tok[32];
    int nt = 0;
    for (char *s = strtok(copy, " "); s && nt < 32; s = strtok(NULL, " "))
        tok[nt++] = s;
    ck_assert_int_ge(nt, n);
    for (int i = 0; i < n; i++)
        ck_assert_msg(strcmp(tok[nt - n + i], want[i]) == 0, "'%s': field %d is '%s', not '%s'",
                      line, nt - n + i, tok[nt - n + i], want[i]);
    free(copy);
}

static size_t col(const char *line, const char *s)
{
    const char *p = strstr(line, s);
    ck_assert_msg(p != NULL, "'%s' not in '%s'", s, line);
    return (size_t)(p - line);
}

START_TEST(test_runs_table)
{
    struct db3 d = make_db();
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
    free_db(&d);
}
END_TEST

START_TEST(test_show)
{
    struct db3 d = make_db();
    char *args = tu_strdupf("show %s --db '%s'", d.a, d.path), *out = NULL;
    ck_assert_int_eq(tq_cli(args, &out), 0);
    const char *want[] = {"experiment  alpha", "status      finished",
                          "steps       4",     "config",
                          "summary",           "metrics, last value at step 3"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(strstr(out, want[i]) != NULL, "'%s' missing from:\n%s", want[i], out);
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
    ck_assert_msg(strstr(out, "metrics, last value at step 1\n  loss   nan\n"
                              "  early  1  (at step 0)\n"),
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
    ck_assert_msg(strstr(out, "no run matches 'ffffffff'") != NULL, "%s", out);
    free(out);
    free(args);
    free_db(&d);
}
END_TEST

START_TEST(test_usage_errors)
{
    struct db3 d = make_db();
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
    args = tu_strdupf("timeout 10 %s runs --db '%s'", getenv("TROPT_CLI"), fifo);
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
    free_db(&d);
}
END_TEST

/* Stored names reach the terminal without escape sequences or invalid
 * UTF-8 (issue 18 #5): an ESC sequence and BEL in the experiment, a C1
 * CSI in a key, a byte that is not UTF-8 in the host. */
START_TEST(test_terminal_escapes_neutralised)
{
    struct db3 d = make_db();
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
    free_db(&d);
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

static Suite *suite(void)
{
    Suite *s = suite_create("sqlite-cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_runs_table);
    tcase_add_test(tc, test_show);
    tcase_add_test(tc, test_usage_errors);
    tcase_add_test(tc, test_terminal_escapes_neutralised);
    tcase_add_test(tc, test_quick_start);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
