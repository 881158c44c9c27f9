/*
 * tests/cli/test_runs.c - `tropt runs` as a user runs it (the built binary,
 * $TROPT_CLI): the table, its alignment and order, the loss columns from
 * the primary metric, every source (--db, --from sqlite|jsonl|csv) printing
 * the same text, a killed run shown crashed, stored text neutralised for
 * the terminal, usage errors and failures, and the README quick start.
 */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
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
    char *la = line_with(out, d.na), *lb = line_with(out, d.nb), *lc = line_with(out, d.nc);
    ck_assert_msg(la && lb && lc, "runs missing: %s", out);
    /* Columns: name, experiment, id, status, start, steps, attempts, last
     * loss, best loss, tags. */
    const char *wa[] = {"4", "1", "1.5", "1", "-"};
    const char *wb[] = {"1", "1", "-", "-", "-"};
    const char *wc[] = {"2", "1", "nan", "5", "-"};
    expect_tail(la, wa, 5);
    expect_tail(lb, wb, 5);
    expect_tail(lc, wc, 5);
    ck_assert_int_eq(strncmp(la, d.na, strlen(d.na)), 0);
    ck_assert_msg(strstr(la, " alpha ") && strstr(lc, " b\xc3\xa9ta "), "%s\n%s", la, lc);
    /* The ID column: as much of each id as no other run shares (at least 8
     * characters), aligned under ID; every status under STATUS. */
    char *ia = tu_strdupf("%.8s", d.a), *ib = tu_strdupf("%.8s", d.b),
         *ic = tu_strdupf("%.8s", d.c);
    size_t id_col = col(head, "ID "), st_col = col(head, "STATUS");
    ck_assert_uint_eq(col(la, ia), id_col);
    ck_assert_uint_eq(col(lb, ib), id_col);
    ck_assert_uint_eq(col(la, "finished"), st_col);
    ck_assert_uint_eq(col(lb, "aborted"), st_col);
    /* The unicode experiment counts as 4 characters, not 5 bytes. */
    ck_assert_uint_eq(col(lc, ic), id_col + 1);
    ck_assert_uint_eq(col(lc, "finished"), st_col + 1);
    /* Started: ISO time. */
    ck_assert_msg(strstr(la, "T") && strstr(la, ":"), "%s", la);
    /* Runs in start order. */
    ck_assert(strstr(out, la) < strstr(out, lb));
    ck_assert(strstr(out, lb) < strstr(out, lc));
    free(ia);
    free(ib);
    free(ic);
    free(head);
    free(la);
    free(lb);
    free(lc);
    free(out);
    free(args);
    /* --db=PATH, and the default path tropt.db in the working directory. */
    args = tu_strdupf("runs --db='%s'", d.path);
    ck_assert_int_eq(tq_cli(args, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, d.nc));
    free(out);
    free(args);
    char *def = tu_path(d.dir, "tropt.db");
    ck_assert_int_eq(rename(d.path, def), 0);
    char *cmd = tu_strdupf("cd '%s' && '%s' runs", d.dir, getenv("TROPT_CLI"));
    ck_assert_int_eq(tu_run(cmd, &out, 1), 0);
    ck_assert_ptr_nonnull(strstr(out, d.nb));
    ck_assert_int_eq(rename(def, d.path), 0);
    free(cmd);
    free(out);
    /* no tropt.db: the message says how to read the store TROPT_TRACKER
     * names when it is set, without printing its value */
    cmd = tu_strdupf("cd '%s' && TROPT_TRACKER='sqlite:path=%s,token=s3cr3t' '%s' runs", d.dir,
                     d.path, getenv("TROPT_CLI"));
    ck_assert_int_eq(tu_run(cmd, &out, 1), 1);
    ck_assert_msg(strstr(out, "no tropt.db in this folder") &&
                      strstr(out, "TROPT_TRACKER is set: give --from the backend of it") &&
                      strstr(out, "--from \"$TROPT_TRACKER\" when it names one") &&
                      !strstr(out, "s3cr3t"),
                  "%s", out);
    free(cmd);
    free(out);
    cmd = tu_strdupf("cd '%s' && env -u TROPT_TRACKER '%s' runs", d.dir, getenv("TROPT_CLI"));
    ck_assert_int_eq(tu_run(cmd, &out, 1), 1);
    ck_assert_msg(strstr(out, "no tropt.db in this folder") && !strstr(out, "TROPT_TRACKER"), "%s",
                  out);
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

/* The README's quick start: the demo on the embedded default, then runs,
 * and show with the name the demo printed. */
START_TEST(test_quick_start)
{
    const char *demo = getenv("TROPT_DEMO");
    ck_assert_ptr_nonnull(demo);
    char *dir = tu_mkdtemp();
    char *cmd = tu_strdupf("cd '%s' && env -u TROPT_TRACKER '%s' --steps 30", dir, demo), *out;
    int rc = tu_run(cmd, &out, 1);
    ck_assert_msg(rc == 0, "demo: %s", out);
    /* its last line: "run <id> (<name>) finished: ..." */
    char *last = line_with(out, ") finished: "), *open = last ? strchr(last, '(') : NULL;
    ck_assert_msg(open, "no 'run <id> (<name>) finished' line: %s", out);
    char *name = strndup(open + 1, (size_t)(strstr(open, ") finished") - open - 1));
    free(last);
    free(out);
    free(cmd);
    char *path = tu_path(dir, "tropt.db");
    sqlite3 *db = tq_db(path);
    char *id = tq_text(db, "SELECT run_id FROM runs");
    ck_assert_ptr_nonnull(id);
    ck_assert_int_eq(tq_int(db, "SELECT count(DISTINCT step) FROM metrics"), 30);
    tq_text_eq(db, "finished", "SELECT status FROM runs");
    sqlite3_close(db);
    cmd = tu_strdupf("cd '%s' && '%s' runs && '%s' show '%s'", dir, getenv("TROPT_CLI"),
                     getenv("TROPT_CLI"), name);
    ck_assert_int_eq(tu_run(cmd, &out, 1), 0);
    char *l = line_with(out, name);
    ck_assert_msg(l && strstr(l, " finished ") && strstr(l, " 30 "), "%s", out);
    ck_assert_msg(strstr(out, "metrics, last value at step 29") && strstr(out, "  loss "), "%s",
                  out);
    char *shown = tu_strdupf("\nrun         %s\n", id);
    ck_assert_msg(strstr(out, shown), "show %s did not show run %s:\n%s", name, id, out);
    free(shown);
    free(l);
    free(out);
    free(cmd);
    free(id);
    free(name);
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
    char *la = line_with(out, d.na), *lc = line_with(out, d.nc);
    ck_assert_msg(la && lc, "%s", out);
    const char *wa[] = {"4", "1", "1.5", "1", "-"};
    const char *wc[] = {"2", "1", "nan", "5", "-"};
    expect_tail(la, wa, 5);
    expect_tail(lc, wc, 5);
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
    char *id = killed_run(spec, s.db, 3), *db_spec = tu_strdupf("sqlite:path=%s", s.db);
    char *name = run_name(db_spec, id);
    for (int i = 0; i < 4; i++) {
        result r = tropt("runs %s", s.spec[i]);
        char *l = line_with(r.out, name);
        ck_assert_msg(r.rc == 0 && l && strstr(l, " crashed "), "runs %s:\n%s%s", s.spec[i], r.out,
                      r.err);
        free(l);
        result_free(&r);
    }
    free(name);
    free(db_spec);
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
    const char *want[3][3] = {
        {"8", "8", "-"}, {"-", "-", "-"}, {"8", "8", "-"}}; /* two keys ending in /loss: none */
    char *spec = tu_strdupf("sqlite:path=%s", path), *names[3];
    for (int r = 0; r < 3; r++) {
        names[r] = run_name(spec, ids[r]);
        char *l = line_with(res.out, names[r]);
        expect_tail(l, want[r], 3);
        free(l);
    }
    result_free(&res);
    res = tropt("runs --db '%s' --metric b/loss", path);
    char *l = line_with(res.out, names[1]);
    const char *wb[] = {"22", "20", "-"};
    expect_tail(l, wb, 3);
    ck_assert_msg(strstr(res.out, "LAST b/loss") && strstr(res.out, "MIN b/loss"), "%s", res.out);
    free(l);
    l = line_with(res.out, names[0]);
    const char *wnone[] = {"-", "-", "-"};
    expect_tail(l, wnone, 3);
    free(l);
    result_free(&res);
    for (int r = 0; r < 3; r++) {
        free(ids[r]);
        free(names[r]);
    }
    free(spec);
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
    ck_assert_msg(r.rc == 0 && strstr(r.out, d.na), "%d %s%s", r.rc, r.out, r.err);
    result_free(&r);
    ck_assert_int_eq(rename(odd, d.path), 0);
    free(q);
    free(odd);
    db3_free(&d);
}
END_TEST

/* ---- finding runs: --status, --experiment, --where, --sort, --reverse ---- */

/* Five runs whose config holds lr as the real 0.1, the string "0.1", the
 * integer 1, the real 1.0, and none; opt as a string or nested; their loss
 * falling to 5, 4, 3, 2, 1 over 1..5 steps. */
static char *where_db(char *dir, char *names[5])
{
    char *path = tu_path(dir, "w.db"), *spec = tu_strdupf("sqlite:path=%s", path);
    const char *cfgs[5] = {"{\"lr\": 0.1, \"opt\": \"adam\", \"flag\": true}",
                           "{\"lr\": \"0.1\", \"opt\": \"sgd\"}",
                           "{\"lr\": 1, \"opt\": {\"name\": \"adam\"}}",
                           "{\"lr\": 1.0, \"flag\": false, \"tags\": [1, 2]}", "{}"};
    for (int r = 0; r < 5; r++) {
        tropt_tracker *t = tq_open(path, NULL, r < 3 ? "sweep" : "other");
        json_t *cfg = json_loads(cfgs[r], 0, NULL);
        ck_assert_ptr_nonnull(cfg);
        ck_assert_int_eq(tropt_tracker_init(t, cfg), TROPT_OK);
        json_decref(cfg);
        char *id = strdup(tropt_tracker_run_id(t));
        for (int step = 0; step <= r; step++) {
            tropt_field f[] = {TROPT_F_REAL("loss", 5.0 - r + (r - step) * 0.5)};
            ck_assert_int_eq(tropt_tracker_log_fields(t, f, 1), TROPT_OK);
        }
        if (r == 4)
            tropt_tracker_free(t); /* aborted */
        else {
            ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
            tropt_tracker_free(t);
        }
        names[r] = run_name(spec, id);
        free(id);
    }
    free(spec);
    return path;
}

/* The names of the runs `tropt runs ARGS` lists, in order, as one string
 * "a b c" (the first column of each row under the header). */
static char *listed(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *listed(const char *fmt, ...)
{
    char *args = NULL;
    va_list ap;
    va_start(ap, fmt);
    ck_assert_int_ge(vasprintf(&args, fmt, ap), 0);
    va_end(ap);
    result r = tropt("runs %s", args);
    ck_assert_msg(r.rc == 0, "runs %s: %d\n%s%s", args, r.rc, r.out, r.err);
    char *names = calloc(1, strlen(r.out) + 1);
    const char *line = strchr(r.out, '\n'); /* after the header */
    while (line && line[1] && strncmp(r.out, "no runs", 7) != 0) {
        line++;
        size_t n = strcspn(line, " ");
        strncat(names, line, n);
        strcat(names, " ");
        line = strchr(line, '\n');
    }
    if (*names)
        names[strlen(names) - 1] = '\0';
    result_free(&r);
    free(args);
    return names;
}

static void expect_listed(const char *got, char *names[5], const char *args, const char *want)
{
    char expected[1024] = "";
    for (const char *p = want; *p; p++) {
        if (*p < '0' || *p > '4')
            continue;
        if (expected[0])
            strcat(expected, " ");
        strcat(expected, names[*p - '0']);
    }
    ck_assert_msg(strcmp(got, expected) == 0, "runs %s listed '%s', expected '%s' (%s)", args, got,
                  expected, want);
}

START_TEST(runs_filter_and_sort)
{
    char *dir = tu_mkdtemp(), *names[5];
    char *path = where_db(dir, names), *db = shq(path);
    static const struct {
        const char *args, *want; /* the runs listed, by index, in order */
    } cases[] = {
        {"", "0 1 2 3 4"},
        /* typed: the real 0.1, never the string "0.1"; the string only quoted */
        {"--where lr=0.1", "0"},
        {"--where 'lr=\"0.1\"'", "1"},
        /* a number matches a number of equal value, int or real */
        {"--where lr=1", "2 3"},
        {"--where lr=1.0", "2 3"},
        {"--where opt=adam", "0"},
        {"--where opt/name=adam", "2"},
        {"--where flag=true", "0"},
        {"--where flag=false", "3"},
        {"--where 'tags=[1,2]'", "3"},
        {"--where lr=1 --where flag=false", "3"},
        {"--where nokey=1", ""},
        {"--status aborted", "4"},
        {"--status finished --experiment other", "3"},
        {"--experiment sweep --where lr=1", "2"},
        /* the order: a metric's min, last, max; reverse; missing values last */
        {"--sort min:loss", "4 3 2 1 0"},
        {"--sort min:loss --reverse", "0 1 2 3 4"},
        {"--sort max:loss", "4 3 2 1 0"},
        {"--sort max:loss --reverse", "0 1 2 3 4"},
        {"--sort last:loss --reverse", "0 1 2 3 4"},
        {"--sort steps --reverse", "4 3 2 1 0"},
        {"--sort started --reverse", "4 3 2 1 0"},
        {"--sort min:nokey --reverse", "0 1 2 3 4"},
        {"--sort status", "4 0 1 2 3"}, /* ties keep the listing order */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = listed("--db %s %s", db, cases[i].args);
        expect_listed(got, names, cases[i].args, cases[i].want);
        free(got);
    }
    /* by name: the names are the store's, so the order is computed here */
    char *got = listed("--db %s --sort name --where lr=1", db);
    expect_listed(got, names, "--sort name", strcmp(names[2], names[3]) < 0 ? "2 3" : "3 2");
    free(got);
    got = listed("--db %s --sort name --reverse --where lr=1", db);
    expect_listed(got, names, "--sort name", strcmp(names[2], names[3]) < 0 ? "3 2" : "2 3");
    free(got);
    /* no match: said, exit 0 */
    result r = tropt("runs --db %s --where lr=7", db);
    ck_assert_msg(r.rc == 0 && strstr(r.out, "no runs in sqlite:path=") && strstr(r.out, " match"),
                  "%s", r.out);
    result_free(&r);
    /* what is wrong with a filter: exit 2, the reason and the usage line */
    const char *bad[] = {"--status done", "--where lr", "--where =1", "--sort bogus",
                         "--sort min:"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = tropt("runs --db %s %s", db, bad[i]);
        ck_assert_msg(r.rc == 2 && strstr(r.err, "usage: tropt runs") && !r.out[0], "%s: %d %s",
                      bad[i], r.rc, r.err);
        result_free(&r);
    }
    for (int i = 0; i < 5; i++)
        free(names[i]);
    free(db);
    free(path);
    tu_rmtree(dir);
    free(dir);
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
    tcase_add_test(tc, runs_filter_and_sort);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
