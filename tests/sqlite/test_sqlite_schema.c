/*
 * tests/sqlite/test_sqlite_schema.c - schema versions and the paths that
 * keep (run, step, key) unique without a primary key: a version 1 database
 * (built here from the SQL that version shipped) opens, is upgraded and
 * reads back row for row through the views; replaying or re-logging steps
 * never duplicates one.  A version 2 file written by the release before
 * schema 3 (tests/data/schema2.db, see tests/data/README) is upgraded in
 * place and reads back the same; the view stats always agrees with the
 * metrics it summarises, while a run is written, after its writer died and
 * once it is finished.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "readback.h"
#include "sqlite_tu.h"

/* The version 1 schema as it shipped (plugins/sqlite/sqlite_sql.h at
 * schema version 1), with rows covering every kind of value, a step without
 * fields, a crashed run and a run without steps. */
static const char v1_fixture[] =
    "PRAGMA journal_mode=WAL;"
    "CREATE TABLE tropt_key (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
    "CREATE TABLE tropt_run (id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE,"
    "  experiment TEXT NOT NULL, status TEXT NOT NULL"
    "    CHECK (status IN ('running','finished','aborted','crashed')),"
    "  started_at REAL NOT NULL, ended_at REAL, host TEXT NOT NULL, pid INTEGER NOT NULL,"
    "  config TEXT);"
    "CREATE TABLE tropt_step (run INTEGER NOT NULL, step INTEGER NOT NULL, time REAL NOT NULL,"
    "  PRIMARY KEY (run, step)) WITHOUT ROWID;"
    "CREATE TABLE tropt_metric (run INTEGER NOT NULL, step INTEGER NOT NULL,"
    "  key INTEGER NOT NULL, value, kind INTEGER, PRIMARY KEY (run, step, key)) WITHOUT ROWID;"
    "CREATE TABLE tropt_param (run INTEGER NOT NULL, key INTEGER NOT NULL, value,"
    "  kind INTEGER, PRIMARY KEY (run, key)) WITHOUT ROWID;"
    "CREATE TABLE tropt_summary (run INTEGER NOT NULL, key INTEGER NOT NULL, value,"
    "  kind INTEGER, PRIMARY KEY (run, key)) WITHOUT ROWID;"
    "CREATE VIEW runs AS SELECT uuid AS run_id, experiment, status, started_at, ended_at,"
    "  host, pid, config FROM tropt_run;"
    "CREATE VIEW params AS SELECT r.uuid AS run_id, k.name AS key, p.value AS value"
    "  FROM tropt_param p JOIN tropt_run r ON r.id = p.run JOIN tropt_key k ON k.id = p.key;"
    "CREATE VIEW metrics AS SELECT r.uuid AS run_id, m.step AS step, s.time AS time,"
    "  k.name AS key, m.value AS value FROM tropt_metric m"
    "  JOIN tropt_run r ON r.id = m.run"
    "  JOIN tropt_step s ON s.run = m.run AND s.step = m.step"
    "  JOIN tropt_key k ON k.id = m.key;"
    "CREATE VIEW summary AS SELECT r.uuid AS run_id, k.name AS key, s.value AS value"
    "  FROM tropt_summary s JOIN tropt_run r ON r.id = s.run JOIN tropt_key k ON k.id = s.key;"
    "PRAGMA application_id=1416785776; PRAGMA user_version=1;"
    "INSERT INTO tropt_key VALUES (1,'loss'),(2,'acc'),(3,'flag'),(4,'name'),(5,'nanv'),"
    "  (6,'arr'),(7,'big'),(8,'lr'),(9,'best'),(10,'opt/beta'),(11,'nul'),(12,'neg');"
    "INSERT INTO tropt_run VALUES"
    "  (1,'01890a5d-ac96-774b-bcce-b302099a8057','alpha','finished',1700000000.5,"
    "   1700000010.25,'h1',11,'{\"lr\":0.1,\"opt\":{\"beta\":[0.9,0.999]}}'),"
    "  (2,'01890a5d-ac96-774b-bcce-b302099a8058','beta','crashed',1700000100.0,"
    "   1700000102.0,'h2',12,NULL),"
    "  (3,'01890a5d-ac96-774b-bcce-b302099a8059','gamma','aborted',1700000200.0,"
    "   1700000201.0,'h3',13,NULL);"
    "INSERT INTO tropt_step VALUES (1,0,1700000001.125),(1,1,1700000002.0000000002),"
    "  (1,2,1700000003.0),(1,7,1700000004.0),(2,0,1700000101.0),(2,1,1700000102.0);"
    "INSERT INTO tropt_metric VALUES"
    "  (1,0,1,1.5,NULL),(1,0,2,7,NULL),(1,0,3,1,1),(1,0,4,'x\"y,z\n',NULL),"
    "  (1,1,1,0.30000000000000004,NULL),(1,1,5,NULL,2),(1,1,6,'[1,2]',3),"
    "  (1,1,7,9223372036854775807,NULL),(1,1,11,NULL,NULL),"
    "  (1,2,1,9e999,NULL),(1,2,12,-9e999,NULL),(1,2,2,-9223372036854775808,NULL),"
    "  (1,7,1,0.125,NULL),"
    "  (2,0,1,3.0,NULL);"
    "INSERT INTO tropt_param VALUES (1,8,0.1,NULL),(1,10,'[0.9,0.999]',3);"
    "INSERT INTO tropt_summary VALUES (1,9,0.125,NULL),(1,3,0,1);";

/* Every row of the four views, in a fixed order, as one text. */
static char *views_text(const char *path)
{
    sqlite3 *db = tq_db(path);
    char *s = tq_text(
        db, "SELECT (SELECT group_concat(x, ';') FROM (SELECT run_id || '|' || step || '|' ||"
            "   quote(time) || '|' || key || '|' || typeof(value) || '|' || quote(value) AS x"
            "   FROM metrics ORDER BY run_id, step, key)) || '#' ||"
            " (SELECT group_concat(x, ';') FROM (SELECT run_id || '|' || experiment || '|' ||"
            "   status || '|' || quote(started_at) || '|' || quote(ended_at) || '|' || host ||"
            "   '|' || pid || '|' || quote(config) AS x FROM runs ORDER BY run_id)) || '#' ||"
            " (SELECT group_concat(x, ';') FROM (SELECT run_id || '|' || key || '|' ||"
            "   typeof(value) || '|' || quote(value) AS x FROM params ORDER BY run_id, key))"
            " || '#' ||"
            " (SELECT group_concat(x, ';') FROM (SELECT run_id || '|' || key || '|' ||"
            "   typeof(value) || '|' || quote(value) AS x FROM summary ORDER BY run_id, key))");
    sqlite3_close(db);
    ck_assert_ptr_nonnull(s);
    return s;
}

/* Rows of the view stats that disagree with what they summarise, computed
 * from the metrics view (count, last step and value, min, max of the
 * INTEGER/REAL values), plus keys present on one side only.  0: they agree. */
static int64_t stats_mismatches(sqlite3 *db)
{
    return tq_int(db, "WITH m AS (SELECT run_id, key, count(*) AS c, max(step) AS ls,"
                      "  min(CASE WHEN typeof(value) IN ('integer', 'real') THEN value END) AS lo,"
                      "  max(CASE WHEN typeof(value) IN ('integer', 'real') THEN value END) AS hi"
                      "  FROM metrics GROUP BY run_id, key)"
                      " SELECT count(*) FROM m FULL OUTER JOIN stats s USING (run_id, key)"
                      " WHERE s.count IS NOT m.c OR s.last_step IS NOT m.ls OR s.min IS NOT m.lo"
                      "  OR s.max IS NOT m.hi OR s.last_value IS NOT (SELECT x.value FROM metrics x"
                      "   WHERE x.run_id = m.run_id AND x.key = m.key AND x.step = m.ls)");
}

static char *make_v1(char *dir)
{
    char *path = tu_path(dir, "v1.db");
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    char *err = NULL;
    int rc = sqlite3_exec(db, v1_fixture, NULL, NULL, &err);
    ck_assert_msg(rc == SQLITE_OK, "fixture: %s", err ? err : "?");
    sqlite3_close(db);
    return path;
}

/* The output line of `tropt runs` for run id. */
static char *runs_line(const char *path, const char *id)
{
    char *args = tu_strdupf("runs --db '%s'", path), *out = NULL;
    ck_assert_int_eq(tq_cli(args, &out), 0);
    char *l = strstr(out, id);
    ck_assert_msg(l != NULL, "%s missing from:\n%s", id, out);
    char *eol = strchr(l, '\n');
    char *line = strndup(l, eol ? (size_t)(eol - l) : strlen(l));
    free(out);
    free(args);
    return line;
}

static char *show(const char *path, const char *id)
{
    char *args = tu_strdupf("show %s --db '%s'", id, path), *out = NULL;
    ck_assert_int_eq(tq_cli(args, &out), 0);
    free(args);
    return out;
}

START_TEST(test_migrate_v1)
{
    char *dir = tu_mkdtemp();
    char *path = make_v1(dir);
    const char *a = "01890a5d-ac96-774b-bcce-b302099a8057";
    const char *b = "01890a5d-ac96-774b-bcce-b302099a8058";
    const char *c = "01890a5d-ac96-774b-bcce-b302099a8059";

    char *before = views_text(path);
    /* The CLI reads a version 1 file as it is. */
    char *la1 = runs_line(path, a), *lb1 = runs_line(path, b), *lc1 = runs_line(path, c);
    char *show1 = show(path, a);
    ck_assert_msg(strstr(la1, " 4 ") && strstr(lb1, " 2 ") && strstr(lc1, " 0 "), "%s\n%s\n%s", la1,
                  lb1, lc1);

    /* A tracker opening it upgrades it; nothing is lost or changed. */
    tropt_tracker *t = tq_open(path, NULL, "later");
    tropt_tracker_free(t);
    sqlite3 *db = tq_db(path);
    ck_assert_int_eq(tq_int(db, "PRAGMA user_version"), 4);
    tq_assert_integrity(db);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM sqlite_master WHERE name IN"
                                " ('tropt_step', 'tropt_metric', 'tropt_log')"),
                     0);
    /* Exact values, spot-checked beside the whole-view comparison. */
    ck_assert_int_eq(tq_int(db, "SELECT value FROM metrics WHERE run_id = %Q AND key = 'big'", a),
                     INT64_MAX);
    ck_assert_int_eq(tq_int(db,
                            "SELECT value = 1e999 FROM metrics WHERE run_id = %Q AND step = 2"
                            " AND key = 'loss'",
                            a),
                     1);
    tq_text_eq(db, "null", "SELECT typeof(value) FROM metrics WHERE key = 'nanv'");
    ck_assert_int_eq(stats_mismatches(db), 0);
    tq_text_eq(db, "x\"y,z\n", "SELECT value FROM metrics WHERE key = 'name'");
    sqlite3_close(db);
    char *after = views_text(path);
    ck_assert_str_eq(after, before);

    /* The CLI says the same of the upgraded file. */
    char *la2 = runs_line(path, a), *lb2 = runs_line(path, b), *lc2 = runs_line(path, c);
    char *show2 = show(path, a);
    ck_assert_str_eq(la2, la1);
    ck_assert_str_eq(lb2, lb1);
    ck_assert_str_eq(lc2, lc1);
    ck_assert_str_eq(show2, show1);
    ck_assert_msg(strstr(show2, "metrics, last value at step 7") && strstr(show2, "steps       4"),
                  "%s", show2);

    /* Replaying a migrated run: old steps are rewritten, not duplicated. */
    t = tq_open(path, NULL, "later");
    tropt_run_info info = {.run_id = a, .started_at = 1700000000.5, .host = "h1", .pid = 11};
    ck_assert_int_eq(tropt_tracker_init_run(t, &info, NULL), TROPT_OK);
    tropt_field f0[] = {TROPT_F_REAL("loss", 2.5), TROPT_F_INT("acc", 8)};
    ck_assert_int_eq(tropt_tracker_log_fields_at(t, 0, 1700000001.5, f0, 2), TROPT_OK);
    tropt_field f8[] = {TROPT_F_REAL("loss", 0.0625)};
    ck_assert_int_eq(tropt_tracker_log_fields_at(t, 8, 1700000005.0, f8, 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish_run(t, "finished", 1700000011.0, NULL), TROPT_OK);
    tropt_tracker_free(t);
    db = tq_db(path);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics WHERE run_id = %Q", a), 14);
    ck_assert_int_eq(tq_int(db,
                            "SELECT count(*) FROM (SELECT 1 FROM metrics GROUP BY run_id, step, key"
                            " HAVING count(*) > 1)"),
                     0);
    ck_assert_int_eq(tq_int(db,
                            "SELECT value = 2.5 AND time = 1700000001.5 FROM metrics"
                            " WHERE run_id = %Q AND step = 0 AND key = 'loss'",
                            a),
                     1);
    /* The step's other rows take its new time, and keep their values. */
    ck_assert_int_eq(tq_int(db,
                            "SELECT count(*) FROM metrics WHERE run_id = %Q AND step = 0"
                            " AND time = 1700000001.5",
                            a),
                     4);
    tq_text_eq(db, "x\"y,z\n", "SELECT value FROM metrics WHERE key = 'name'");
    sqlite3_close(db);
    char *la3 = runs_line(path, a);
    ck_assert_msg(strstr(la3, " 5 ") && strstr(la3, " 0.0625 "), "%s", la3);

    free(la1), free(lb1), free(lc1), free(la2), free(lb2), free(lc2), free(la3);
    free(show1), free(show2), free(before), free(after);
    tu_rmtree(dir);
    free(dir);
    free(path);
}
END_TEST

/* Re-logging a step of the open run (explicit step numbers at or below the
 * largest) rewrites its keys and adds new ones; steps counts stay exact;
 * a step without fields counts and has no metrics row. */
START_TEST(test_relog_steps)
{
    char *dir = tu_mkdtemp();
    char *path = tu_path(dir, "r.db");
    for (int mode = 0; mode < 2; mode++) {
        tropt_tracker *t = tq_open(path, mode ? "commit_every=100" : NULL, "relog");
        ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
        char *id = strdup(tropt_tracker_run_id(t));
        for (int s = 0; s < 10; s++) {
            tropt_field f[] = {TROPT_F_INT("a", s), TROPT_F_INT("b", 100 + s)};
            ck_assert_int_eq(tropt_tracker_log_fields_at(t, s, 1000.0 + s, f, 2), TROPT_OK);
        }
        tropt_field g[] = {TROPT_F_INT("a", -3), TROPT_F_INT("c", 7)};
        ck_assert_int_eq(tropt_tracker_log_fields_at(t, 3, 2000.0, g, 2), TROPT_OK);
        ck_assert_int_eq(tropt_tracker_log_fields_at(t, 12, 2001.0, NULL, 0), TROPT_OK);
        ck_assert_int_eq(tropt_tracker_log_fields_at(t, 11, 2002.0, g, 1), TROPT_OK);
        ck_assert_int_eq(tropt_tracker_log_fields_at(t, 12, 2003.0, NULL, 0), TROPT_OK);
        ck_assert_int_eq(tropt_tracker_log_fields_at(t, 5, 2004.0, NULL, 0), TROPT_OK);
        sqlite3 *db = tq_db(path);
        if (mode == 0) /* the running run, before its final stamp */
            ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics WHERE run_id = %Q", id), 22);
        sqlite3_close(db);
        ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
        tropt_tracker_free(t);

        db = tq_db(path);
        ck_assert_int_eq(stats_mismatches(db), 0);
        ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics WHERE run_id = %Q", id), 22);
        ck_assert_int_eq(tq_int(db,
                                "SELECT value FROM metrics WHERE run_id = %Q AND step = 3"
                                " AND key = 'a'",
                                id),
                         -3);
        ck_assert_int_eq(tq_int(db,
                                "SELECT value FROM metrics WHERE run_id = %Q AND step = 3"
                                " AND key = 'b'",
                                id),
                         103);
        ck_assert_int_eq(tq_int(db,
                                "SELECT count(*) FROM metrics WHERE run_id = %Q AND step = 3"
                                " AND time = 2000.0",
                                id),
                         3);
        ck_assert_int_eq(tq_int(db,
                                "SELECT count(*) FROM metrics WHERE run_id = %Q AND step = 5"
                                " AND time = 2004.0",
                                id),
                         2);
        ck_assert_int_eq(tq_int(db,
                                "SELECT n FROM tropt_stat s JOIN tropt_run r ON r.id = s.run"
                                " WHERE s.key = 0 AND uuid = %Q",
                                id),
                         12);
        sqlite3_close(db);
        char *l = runs_line(path, id);
        ck_assert_msg(strstr(l, " 12 "), "%s", l);
        free(l);
        free(id);
    }
    tu_rmtree(dir);
    free(dir);
    free(path);
}
END_TEST

/* Continuing a finished run (a spool replayed after the run ended): steps
 * above its last are appended; re-logging any step afterwards, including
 * one appended in this session, still rewrites it. */
START_TEST(test_continue_run)
{
    char *dir = tu_mkdtemp();
    char *path = tu_path(dir, "c.db");
    const char *id = "01890a5d-ac96-774b-bcce-b302099a8060";
    tropt_run_info info = {.run_id = id, .started_at = 1700000000.0, .host = "h", .pid = 1};
    for (int pass = 0; pass < 2; pass++) {
        tropt_tracker *t = tq_open(path, NULL, "cont");
        ck_assert_int_eq(tropt_tracker_init_run(t, &info, NULL), TROPT_OK);
        for (int s = pass * 5; s < pass * 5 + 5; s++) {
            tropt_field f[] = {TROPT_F_INT("s", s), TROPT_F_REAL("x", s * 0.5)};
            ck_assert_int_eq(tropt_tracker_log_fields_at(t, s, 1700000001.0 + s, f, 2), TROPT_OK);
        }
        if (pass == 1) {
            tropt_field g[] = {TROPT_F_INT("s", -7), TROPT_F_INT("y", 1)};
            ck_assert_int_eq(tropt_tracker_log_fields_at(t, 7, 1700000100.0, g, 2), TROPT_OK);
            ck_assert_int_eq(tropt_tracker_log_fields_at(t, 2, 1700000101.0, g, 2), TROPT_OK);
        }
        ck_assert_int_eq(tropt_tracker_finish_run(t, "finished", 1700000200.0, NULL), TROPT_OK);
        tropt_tracker_free(t);
    }
    sqlite3 *db = tq_db(path);
    ck_assert_int_eq(stats_mismatches(db), 0);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics"), 22);
    ck_assert_int_eq(tq_int(db,
                            "SELECT count(*) FROM (SELECT 1 FROM metrics GROUP BY run_id, step, key"
                            " HAVING count(*) > 1)"),
                     0);
    ck_assert_int_eq(tq_int(db, "SELECT value FROM metrics WHERE step = 7 AND key = 's'"), -7);
    ck_assert_int_eq(tq_int(db, "SELECT value FROM metrics WHERE step = 2 AND key = 's'"), -7);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics WHERE step = 7 AND"
                                " time = 1700000100.0"),
                     3);
    ck_assert_int_eq(tq_int(db, "SELECT n FROM tropt_stat WHERE key = 0"), 10);
    sqlite3_close(db);
    char *l = runs_line(path, id);
    ck_assert_msg(strstr(l, " 10 "), "%s", l);
    free(l);
    tu_rmtree(dir);
    free(dir);
    free(path);
}
END_TEST

/* A running run's step count and metrics are complete before any final
 * stamp: readers add the rows after the last progress stamp. */
START_TEST(test_running_counts)
{
    char *dir = tu_mkdtemp();
    char *path = tu_path(dir, "run.db");
    tropt_tracker *t = tq_open(path, NULL, "live");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char *id = strdup(tropt_tracker_run_id(t));
    for (int s = 0; s < 50; s++) {
        tropt_field f[] = {TROPT_F_REAL("loss", 10.0 - s * 0.125)};
        ck_assert_int_eq(tropt_tracker_log_fields(t, f, s % 7 == 3 ? 0 : 1), TROPT_OK);
    }
    char *l = runs_line(path, id);
    ck_assert_msg(strstr(l, " running ") && strstr(l, " 50 ") && strstr(l, " 3.875 "), "%s", l);
    free(l);
    sqlite3 *db = tq_db(path);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics WHERE run_id = %Q", id), 43);
    ck_assert_int_eq(stats_mismatches(db), 0);
    sqlite3_close(db);
    char *out = show(path, id);
    ck_assert_msg(strstr(out, "steps       50") && strstr(out, "last value at step 49"), "%s", out);
    free(out);
    tropt_tracker_free(t);
    free(id);
    tu_rmtree(dir);
    free(dir);
    free(path);
}
END_TEST

static char *copy_named(const char *dir, const char *name)
{
    char *src = tu_strdupf("%s/tests/data/%s", tu_source_root(), name);
    char *dst = tu_path(dir, name);
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    ck_assert_msg(in && out, "cannot copy %s", src);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
    fclose(in);
    ck_assert_int_eq(fclose(out), 0);
    free(src);
    return dst;
}

static char *copy_fixture(const char *dir)
{
    return copy_named(dir, "schema2.db");
}

static char *cli_out(const char *fmt, const char *a, const char *b)
{
    char *args = tu_strdupf(fmt, a, b), *out = NULL;
    ck_assert_int_eq(tq_cli(args, &out), 0);
    free(args);
    return out;
}

/* A version 2 database written by the release before schema 3 (two runs
 * written at once, every kind of value, NaN, +-Inf, JSON, steps without
 * fields, a re-logged step, a run without steps, a run left running after
 * its first progress stamp) upgrades in place in one transaction: every
 * view returns the same rows, `tropt runs` and `tropt show` print the same,
 * the statistics agree with the metrics, and logging goes on. */
START_TEST(test_upgrade_v2_fixture)
{
    static const char *const ids[] = {
        "01890a5d-ac96-774b-bcce-b30209920001", "01890a5d-ac96-774b-bcce-b30209920002",
        "01890a5d-ac96-774b-bcce-b30209920003", "01890a5d-ac96-774b-bcce-b30209920004"};
    char *dir = tu_mkdtemp();
    char *path = copy_fixture(dir);
    sqlite3 *db = tq_db(path);
    ck_assert_int_eq(tq_int(db, "PRAGMA user_version"), 2);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics"), 268);
    sqlite3_close(db);
    char *before = views_text(path);
    char *runs1 = cli_out("runs --db '%s'%s", path, "");
    char *show1[4];
    for (int i = 0; i < 4; i++)
        show1[i] = cli_out("show %s --db '%s'", ids[i], path);
    ck_assert_msg(strstr(runs1, "running") && strstr(runs1, "0.015625"), "%s", runs1);

    tropt_tracker *t = tq_open(path, NULL, "later");
    tropt_tracker_free(t);
    db = tq_db(path);
    ck_assert_int_eq(tq_int(db, "PRAGMA user_version"), 4);
    tq_assert_integrity(db);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'tropt_log'"), 0);
    ck_assert_int_eq(stats_mismatches(db), 0);
    /* Spot checks of the statistics: the NaN step, the re-logged best loss,
     * the running run's steps (4 after its stamp, read from the rows). */
    ck_assert_int_eq(tq_int(db,
                            "SELECT first_nan_step FROM stats WHERE run_id = %Q"
                            " AND key = 'loss'",
                            ids[0]),
                     17);
    ck_assert_int_eq(tq_int(db,
                            "SELECT min = 0.015625 FROM stats WHERE run_id = %Q"
                            " AND key = 'loss'",
                            ids[0]),
                     1);
    ck_assert_int_eq(tq_int(db,
                            "SELECT n FROM tropt_stat s JOIN tropt_run r ON r.id = s.run"
                            " WHERE s.key = 0 AND r.uuid = %Q",
                            ids[3]),
                     5);
    sqlite3_close(db);
    char *after = views_text(path);
    ck_assert_str_eq(after, before);
    char *runs2 = cli_out("runs --db '%s'%s", path, "");
    ck_assert_str_eq(runs2, runs1);
    for (int i = 0; i < 4; i++) {
        char *show2 = cli_out("show %s --db '%s'", ids[i], path);
        ck_assert_str_eq(show2, show1[i]);
        free(show2);
    }

    /* Logging goes on: the running run continues, a new run starts. */
    t = tq_open(path, NULL, "later");
    tropt_run_info info = {
        .run_id = ids[3], .started_at = 1700000060.0, .host = "fixture-host", .pid = 104};
    ck_assert_int_eq(tropt_tracker_init_run(t, &info, NULL), TROPT_OK);
    for (int s = 5; s < 10; s++) {
        tropt_field f[] = {TROPT_F_REAL("loss", 0.5 / s)};
        ck_assert_int_eq(tropt_tracker_log_fields_at(t, s, 1700000061.0 + s, f, 1), TROPT_OK);
    }
    tropt_field g[] = {TROPT_F_REAL("loss", 4.0)}; /* step 2 again: changed */
    ck_assert_int_eq(tropt_tracker_log_fields_at(t, 2, 1700000070.0, g, 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish_run(t, "finished", 1700000080.0, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char *fresh = strdup(tropt_tracker_run_id(t));
    tropt_field h[] = {TROPT_F_REAL("loss", 0.25), TROPT_F_INT("tokens", 9)};
    ck_assert_int_eq(tropt_tracker_log_fields(t, h, 2), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    db = tq_db(path);
    tq_assert_integrity(db);
    ck_assert_int_eq(stats_mismatches(db), 0);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics WHERE run_id = %Q", ids[3]), 10);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics WHERE run_id = %Q", fresh), 2);
    ck_assert_int_eq(tq_int(db,
                            "SELECT max = 5.0 AND min = 0.5 / 9 AND last_step = 9 FROM stats"
                            " WHERE run_id = %Q AND key = 'loss'",
                            ids[3]),
                     1);
    ck_assert_int_eq(tq_int(db,
                            "SELECT time = 1700000070.0 FROM metrics WHERE run_id = %Q"
                            " AND step = 2",
                            ids[3]),
                     1);
    sqlite3_close(db);
    char *l = runs_line(path, ids[3]);
    ck_assert_msg(strstr(l, " finished ") && strstr(l, " 10 ") &&
                      strstr(l, " 0.05555555555555555 "),
                  "%s", l);
    free(l);

    for (int i = 0; i < 4; i++)
        free(show1[i]);
    free(fresh), free(runs1), free(runs2), free(before), free(after);
    tu_rmtree(dir);
    free(dir);
    free(path);
}
END_TEST

/* The count of key 0 merged into tropt_stat, -1 when it cannot be read. */
static int64_t merged_count(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_busy_timeout(db, 30000) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT n FROM tropt_stat WHERE key = 0", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* A writer killed between two merges of its statistics: readers add its
 * tail, and the next tracker marks the run crashed with the tail folded in.
 * The statistics are merged once a second: should a merge have taken every
 * step (a slow machine), the writer logs more until one is left out.
 * Reports the number of steps. */
static int die_writing(void *arg, int fd)
{
    const char *path = arg;
    tropt_tracker *t = tq_open(path, NULL, "dies");
    if (tropt_tracker_init(t, NULL) != TROPT_OK)
        return 1;
    int64_t s = 0;
    for (; s < 40 || (s < 1000 && merged_count(path) >= s); s++) {
        double loss = s == 20 ? -1.0 : s < 40 ? 5.0 - (double)s * 0.125 : 0.0;
        tropt_field f[] = {TROPT_F_REAL("loss", loss), TROPT_F_INT("n", s)};
        if (tropt_tracker_log_fields(t, f, 2) != TROPT_OK)
            return 1;
    }
    tq_write_i64(fd, s);
    _exit(0); /* no finish, no free: as if killed */
}

START_TEST(test_stats_tail_and_crash)
{
    char *dir = tu_mkdtemp();
    char *path = tu_path(dir, "tail.db");
    int fd;
    pid_t pid = tq_fork(die_writing, path, &fd);
    int64_t v = 0;
    ck_assert_int_eq(tq_read_i64(fd, &v), 1);
    close(fd);
    ck_assert_int_eq(tq_wait(pid), 0);
    ck_assert_int_ge(v, 40);
    sqlite3 *db = tq_db(path);
    ck_assert_int_eq(stats_mismatches(db), 0);
    ck_assert_int_eq(tq_int(db, "SELECT count FROM stats WHERE key = 'loss'"), v);
    ck_assert_int_eq(tq_int(db, "SELECT min FROM stats WHERE key = 'loss'"), -1);
    /* The stored statistics lag (merged once a second): the tail holds the rest. */
    ck_assert_int_lt(tq_int(db, "SELECT n FROM tropt_stat WHERE key = 0"), v);
    sqlite3_close(db);
    tropt_tracker *t = tq_open(path, NULL, "next");
    tropt_tracker_free(t);
    db = tq_db(path);
    tq_text_eq(db, "crashed", "SELECT status FROM runs");
    ck_assert_int_eq(tq_int(db, "SELECT n FROM tropt_stat WHERE key = 0"), v);
    ck_assert_int_eq(stats_mismatches(db), 0);
    ck_assert_int_eq(tq_int(db, "SELECT ended_at = (SELECT max(time) FROM metrics) FROM runs"), 1);
    sqlite3_close(db);
    tu_rmtree(dir);
    free(dir);
    free(path);
}
END_TEST

/* A version 1 file read as it is, without upgrading it (`tropt replay
 * --from`, `show --from`, Python's read_run): what comes back is what
 * version 1 recorded (the bool a bool, the array JSON, NaN a NaN, null a
 * null, a JSON config value JSON), exactly what the upgraded file gives
 * back, and the file stays version 1. */
START_TEST(test_read_v1_as_it_is)
{
    static const char *const ids[] = {"01890a5d-ac96-774b-bcce-b302099a8057",
                                      "01890a5d-ac96-774b-bcce-b302099a8058",
                                      "01890a5d-ac96-774b-bcce-b302099a8059"};
    char *dir = tu_mkdtemp();
    char *path = make_v1(dir);
    char *spec = tu_strdupf("sqlite:path=%s", path);
    char *before[3], *list1 = rb_list_text(spec);
    for (int i = 0; i < 3; i++)
        before[i] = rb_run_text(spec, ids[i]);
    const char *want[] = {
        "| lr=real:3fb999999999999a; opt/beta=json:[0.90000000000000002,0.999]\n",
        "step 0 41d954fc40480000 | loss=real:3ff8000000000000; acc=int:7; flag=bool:1;"
        " name=str:x\"y,z\n\n",
        "nanv=real:7ff8000000000000; arr=json:[1,2]; big=int:9223372036854775807; nul=null\n",
        "| loss=real:7ff0000000000000; acc=int:-9223372036854775808; neg=real:fff0000000000000\n",
        "step 7 41d954fc41000000 | loss=real:3fc0000000000000\n",
        "end finished | best=real:3fc0000000000000; flag=bool:0\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        ck_assert_msg(strstr(before[0], want[i]), "missing %s in:\n%s", want[i], before[0]);
    ck_assert_msg(strstr(before[1], "end crashed |"), "%s", before[1]);
    char *want_list = tu_strdupf("%s 4\n%s 2\n%s 0\n", ids[0], ids[1], ids[2]);
    ck_assert_str_eq(list1, want_list);
    free(want_list);
    sqlite3 *db = tq_db(path);
    ck_assert_int_eq(tq_int(db, "PRAGMA user_version"), 1);
    sqlite3_close(db);

    tropt_tracker_free(tq_open(path, NULL, "later")); /* upgrades it */
    db = tq_db(path);
    ck_assert_int_eq(tq_int(db, "PRAGMA user_version"), 4);
    sqlite3_close(db);
    char *list2 = rb_list_text(spec);
    ck_assert_str_eq(list2, list1);
    for (int i = 0; i < 3; i++) {
        char *after = rb_run_text(spec, ids[i]);
        ck_assert_str_eq(after, before[i]);
        free(after);
        free(before[i]);
    }
    free(list1), free(list2), free(spec), free(path);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* A version 3 database written by the release before schema 4 (every kind
 * of value, a re-logged step, a run left running with rows above its
 * statistics) upgrades in place: every view the release had returns the
 * same rows, each run is one attempt, metrics_history holds every row
 * unsuperseded, and the left run continues as attempt 2 from step 6: its
 * steps 6..11 of attempt 1 are superseded, kept, and the statistics agree
 * with the metrics view. */
START_TEST(test_upgrade_v3_fixture)
{
    const char *left = "01890a5d-ac96-774b-bcce-b30209930004";
    char *dir = tu_mkdtemp();
    char *path = copy_named(dir, "schema3.db");
    sqlite3 *db = tq_db(path);
    ck_assert_int_eq(tq_int(db, "PRAGMA user_version"), 3);
    int64_t rows = tq_int(db, "SELECT count(*) FROM metrics");
    ck_assert_int_gt(rows, 200);
    char *stats1 = tq_text(db, "SELECT group_concat(x, ';') FROM (SELECT run_id || key || count"
                               " || '|' || last_step || quote(last_value) || quote(min) ||"
                               " quote(max) AS x FROM stats ORDER BY run_id, key)");
    sqlite3_close(db);
    char *before = views_text(path);
    char *runs1 = cli_out("runs --db '%s'%s", path, "");

    tropt_tracker_free(tq_open(path, NULL, "later")); /* upgrades it */
    db = tq_db(path);
    ck_assert_int_eq(tq_int(db, "PRAGMA user_version"), 4);
    tq_assert_integrity(db);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM runs WHERE attempts <> 1"), 0);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics_history"), rows);
    ck_assert_int_eq(tq_int(db, "SELECT count(*) FROM metrics_history WHERE superseded"), 0);
    ck_assert_int_eq(stats_mismatches(db), 0);
    char *stats2 = tq_text(db, "SELECT group_concat(x, ';') FROM (SELECT run_id || key || count"
                               " || '|' || last_step || quote(last_value) || quote(min) ||"
                               " quote(max) AS x FROM stats ORDER BY run_id, key)");
    ck_assert_str_eq(stats2, stats1);
    tq_text_eq(db, "running", "SELECT status FROM runs WHERE run_id = %Q", left);
    sqlite3_close(db);
    char *after = views_text(path);
    ck_assert_str_eq(after, before);
    char *runs2 = cli_out("runs --db '%s'%s", path, "");
    ck_assert_str_eq(runs2, runs1);

    tropt_tracker *t = tq_open(path, NULL, "later");
    tropt_run_record rec = {.struct_size = sizeof rec,
                            .run_id = left,
                            .started_at = 1700000060.0,
                            .host = "fixture-host",
                            .pid = 204,
                            .attempt = 2,
                            .from_step = 6,
                            .attempt_started_at = 1700000100.0};
    ck_assert_int_eq(tropt_tracker_import_run(t, &rec, NULL), TROPT_OK);
    for (int s = 6; s < 9; s++) {
        tropt_field f[] = {TROPT_F_REAL("loss", 100.0 + s)};
        ck_assert_int_eq(tropt_tracker_log_fields_at(t, s, 1700000101.0 + s, f, 1), TROPT_OK);
    }
    ck_assert_int_eq(tropt_tracker_finish_run(t, "finished", 1700000120.0, NULL), TROPT_OK);
    tropt_tracker_free(t);
    db = tq_db(path);
    tq_assert_integrity(db);
    ck_assert_int_eq(stats_mismatches(db), 0);
    ck_assert_int_eq(tq_int(db, "SELECT attempts FROM runs WHERE run_id = %Q", left), 2);
    tq_text_eq(db, "finished", "SELECT status FROM runs WHERE run_id = %Q", left);
    ck_assert_int_eq(
        tq_int(db, "SELECT count(*) FROM metrics WHERE run_id = %Q AND key = 'loss'", left), 9);
    ck_assert_int_eq(tq_int(db,
                            "SELECT count(*) FROM metrics WHERE run_id = %Q AND key = 'loss'"
                            " AND step >= 6 AND value = 100 + step",
                            left),
                     3);
    ck_assert_int_eq(tq_int(db,
                            "SELECT count(*) FROM metrics_history WHERE run_id = %Q"
                            " AND key = 'loss' AND superseded AND attempt = 1 AND step >= 6",
                            left),
                     6);
    ck_assert_int_eq(tq_int(db,
                            "SELECT count(*) FROM metrics_history WHERE run_id = %Q"
                            " AND key = 'loss'",
                            left),
                     15);
    /* tokens was logged by attempt 1 only: its steps 0..5 stay current */
    ck_assert_int_eq(
        tq_int(db, "SELECT count FROM stats WHERE run_id = %Q AND key = 'tokens'", left), 6);
    sqlite3_close(db);
    free(stats1);
    free(stats2);
    free(before);
    free(after);
    free(runs1);
    free(runs2);
    free(path);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sqlite-schema");
    TCase *tc = tcase_create("schema");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_migrate_v1);
    tcase_add_test(tc, test_relog_steps);
    tcase_add_test(tc, test_continue_run);
    tcase_add_test(tc, test_running_counts);
    tcase_add_test(tc, test_upgrade_v2_fixture);
    tcase_add_test(tc, test_upgrade_v3_fixture);
    tcase_add_test(tc, test_stats_tail_and_crash);
    tcase_add_test(tc, test_read_v1_as_it_is);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
