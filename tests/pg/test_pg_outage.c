/*
 * tests/pg/test_pg_outage.c - the server going away: killed mid-run
 * (pg_ctl stop -m immediate) or unreachable at init.  Nothing is lost: the
 * events go to the spool, finish returns TROPT_OK with a warning naming the
 * spool and the replay command, and that command delivers them later with
 * no duplicate.  The password is in no message and no spool file.
 */
#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pg_tu.h"

/* Every spool file's text concatenated (malloc'd), and their count. */
static char *read_spool(const char *dir, int *nfiles)
{
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "no spool folder %s", dir);
    char *all = strdup("");
    *nfiles = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *p = tu_path(dir, e->d_name);
        char *t = tu_read_file(p, NULL);
        char *n = tu_strdupf("%s%s", all, t ? t : "");
        free(all);
        all = n;
        free(t);
        free(p);
        (*nfiles)++;
    }
    closedir(d);
    return all;
}

/* The replay command the warning names, with the CLI's path. */
static char *replay_command(const char *captured)
{
    const char *at = strstr(captured, "send them with: tropt replay ");
    ck_assert_msg(at != NULL, "no replay command in:\n%s", captured);
    at += strlen("send them with: tropt");
    const char *end = strstr(at, " (give the password");
    ck_assert_msg(end != NULL, "%s", captured);
    return tu_strdupf("'%s'%.*s", getenv("TROPT_CLI"), (int)(end - at), at);
}

static void replay_with(const char *cmd)
{
    char *full = tu_strdupf("PGPASSWORD='%s' %s 2>&1", PGTU_PASSWORD, cmd);
    char *out = NULL;
    int rc = tu_run(full, &out, 1);
    ck_assert_msg(rc == 0, "%s -> %d:\n%s", full, rc, out ? out : "");
    ck_assert_msg(!out || !strstr(out, PGTU_PASSWORD), "replay output shows the password");
    free(out);
    free(full);
}

static void check_run(const char *schema, const char *run, int64_t steps)
{
    PGconn *c = pgtu_connect();
    ck_assert_int_eq(
        pgtu_i64(c, "SELECT count(*) FROM %s.metrics WHERE run_id = '%s'", schema, run), 2 * steps);
    ck_assert_int_eq(pgtu_i64(c,
                              "SELECT count(DISTINCT (step, key)) FROM %s.metrics"
                              " WHERE run_id = '%s' AND value_int = step",
                              schema, run),
                     steps);
    ck_assert_int_eq(pgtu_i64(c,
                              "SELECT count(*) FROM %s.metrics WHERE run_id = '%s' AND"
                              " key = 'nan' AND value = 'NaN'::float8",
                              schema, run),
                     steps);
    ck_assert_int_eq(pgtu_i64(c,
                              "SELECT count(*) FROM %s.runs WHERE run_id = '%s' AND"
                              " status = 'finished'",
                              schema, run),
                     1);
    ck_assert_int_eq(pgtu_i64(c,
                              "SELECT count(*) FROM %s.summary WHERE run_id = '%s' AND"
                              " key = 'best' AND value_int = 7",
                              schema, run),
                     1);
    PQfinish(c);
}

static void log_steps(tropt_tracker *t, int from, int to)
{
    for (int i = from; i < to; i++) {
        tropt_field f[] = {TROPT_F_INT("i", i), TROPT_F_REAL("nan", NAN)};
        ck_assert_msg(tropt_tracker_log_fields(t, f, 2) == TROPT_OK, "step %d: %s", i,
                      tropt_error_message());
    }
}

static void outage_midrun(const char *schema, const char *extra)
{
    char *dir = tu_mkdtemp();
    char *spool = tu_path(dir, "spool");
    char *ci = pgtu_conninfo_tcp(PGTU_PASSWORD);
    char *spec = tu_strdupf("pg:conninfo=\"%s\",schema=%s,spool_dir=%s%s%s", ci, schema, spool,
                            extra ? "," : "", extra ? extra : "");
    tropt_tracker *t = NULL;
    ck_assert_int_eq(tropt_tracker_open(&t, spec, "outage", NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char *run = strdup(tropt_tracker_run_id(t));
    log_steps(t, 0, 50);
    ck_assert_int_eq(tropt_tracker_flush(t), TROPT_OK);
    log_steps(t, 50, 80); /* pending in the batched mode */
    pgtu_stop("immediate");
    tu_capture_start();
    log_steps(t, 80, 150);
    json_t *sum = json_pack("{s:i}", "best", 7);
    ck_assert_msg(tropt_tracker_finish(t, sum) == TROPT_OK, "%s", tropt_error_message());
    json_decref(sum);
    tropt_tracker_free(t);
    tu_capture_stop();
    const char *cap = tu_captured();
    ck_assert_msg(strstr(cap, spool) && strstr(cap, "tropt replay"), "%s", cap);
    ck_assert_msg(!strstr(cap, PGTU_PASSWORD), "a warning shows the password:\n%s", cap);
    int nfiles = 0;
    char *text = read_spool(spool, &nfiles);
    ck_assert_int_eq(nfiles, 1);
    ck_assert_msg(strstr(text, "\"run_start\"") && strstr(text, "\"run_end\""), "%s", text);
    ck_assert_msg(!strstr(text, PGTU_PASSWORD), "the spool holds the password");
    free(text);
    pgtu_start();
    PGconn *c = pgtu_connect();
    ck_assert_int_eq(
        pgtu_i64(c, "SELECT count(DISTINCT step) FROM %s.metrics WHERE run_id = '%s'", schema, run),
        extra ? 50 : 80);
    PQfinish(c);
    /* the command the warning gives, twice: no duplicate */
    char *cmd = replay_command(cap);
    replay_with(cmd);
    check_run(schema, run, 150);
    replay_with(cmd);
    check_run(schema, run, 150);
    free(cmd);
    free(run);
    free(spec);
    free(ci);
    free(spool);
    tu_rmtree(dir);
    free(dir);
}

START_TEST(test_outage_durable)
{
    outage_midrun("outage_a", NULL);
}
END_TEST

START_TEST(test_outage_batched)
{
    outage_midrun("outage_b", "commit_every=1000");
}
END_TEST

/* Unreachable at open and init: the run goes to the spool whole. */
START_TEST(test_unreachable_at_init)
{
    char *dir = tu_mkdtemp();
    char *spool = tu_path(dir, "spool");
    /* a port nothing listens on (the cluster's port, with the server down) */
    pgtu_stop("fast");
    char *ci = pgtu_conninfo_tcp(PGTU_PASSWORD);
    char *spec = tu_strdupf("pg:conninfo=\"%s\",schema=unreach,spool_dir=%s", ci, spool);
    /* tropt check reports it */
    char *cmd = tu_strdupf("'%s' check '%s' 2>&1", getenv("TROPT_CLI"), spec);
    char *out = NULL;
    tu_run(cmd, &out, 1);
    ck_assert_msg(out && strstr(out, "cannot reach") && strstr(out, "127.0.0.1"), "%s", out);
    ck_assert_msg(!strstr(out, PGTU_PASSWORD), "tropt check shows the password");
    free(out);
    free(cmd);
    tu_capture_start();
    tropt_tracker *t = NULL;
    ck_assert_int_eq(tropt_tracker_open(&t, spec, "unreach", NULL), TROPT_OK);
    json_t *cfg = json_pack("{s:f}", "lr", 0.5);
    ck_assert_int_eq(tropt_tracker_init(t, cfg), TROPT_OK);
    json_decref(cfg);
    char *run = strdup(tropt_tracker_run_id(t));
    log_steps(t, 0, 40);
    json_t *sum = json_pack("{s:i}", "best", 7);
    ck_assert_int_eq(tropt_tracker_finish(t, sum), TROPT_OK);
    json_decref(sum);
    tropt_tracker_free(t);
    tu_capture_stop();
    const char *cap = tu_captured();
    ck_assert_msg(!strstr(cap, PGTU_PASSWORD), "%s", cap);
    char *replay = replay_command(cap);
    pgtu_start();
    replay_with(replay);
    check_run("unreach", run, 40);
    PGconn *c = pgtu_connect();
    ck_assert_int_eq(pgtu_i64(c,
                              "SELECT count(*) FROM unreach.params WHERE run_id = '%s' AND"
                              " key = 'lr' AND value = 0.5",
                              run),
                     1);
    PQfinish(c);
    free(replay);
    free(run);
    free(spec);
    free(ci);
    free(spool);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* A commit refused by a live server (here a CHECK constraint added under
 * the writer, as a revoked privilege or a full tablespace would refuse
 * it): log says so with TROPT_EBACKEND and keeps the steps, nothing goes to
 * the spool, and once the cause is gone the next flush writes them all. */
START_TEST(test_commit_refused_by_live_server_keeps_steps)
{
    char *dir = tu_mkdtemp();
    char *spool = tu_path(dir, "spool");
    char *ci = pgtu_conninfo();
    char *spec = tu_strdupf("pg:conninfo=\"%s\",schema=refused,spool_dir=%s", ci, spool);
    tropt_tracker *t = NULL;
    ck_assert_int_eq(tropt_tracker_open(&t, spec, "refused", NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char *run = strdup(tropt_tracker_run_id(t));
    log_steps(t, 0, 10);
    PGconn *c = pgtu_connect();
    PQclear(pgtu_q(c, "ALTER TABLE refused.tropt_log ADD CONSTRAINT no_more CHECK (step < 10) "
                      "NOT VALID"));
    for (int i = 10; i < 15; i++) {
        tropt_field f[] = {TROPT_F_INT("i", i), TROPT_F_REAL("nan", NAN)};
        ck_assert_int_eq(tropt_tracker_log_fields(t, f, 2), TROPT_EBACKEND);
        const char *msg = tropt_error_message();
        ck_assert_msg(strstr(msg, "no_more") && strstr(msg, "kept for the next commit"), "%s", msg);
    }
    ck_assert_int_eq(tropt_tracker_flush(t), TROPT_EBACKEND);
    ck_assert_int_eq(pgtu_i64(c, "SELECT count(*) FROM refused.tropt_log"), 10);
    PQclear(pgtu_q(c, "ALTER TABLE refused.tropt_log DROP CONSTRAINT no_more"));
    ck_assert_msg(tropt_tracker_flush(t) == TROPT_OK, "%s", tropt_error_message());
    json_t *sum = json_pack("{s:i}", "best", 7);
    ck_assert_msg(tropt_tracker_finish(t, sum) == TROPT_OK, "%s", tropt_error_message());
    json_decref(sum);
    tropt_tracker_free(t);
    PQfinish(c);
    check_run("refused", run, 15);
    ck_assert_msg(access(spool, F_OK) != 0, "something was spooled to %s", spool);
    free(run);
    free(spec);
    free(ci);
    free(spool);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("pg-outage");
    TCase *tc = tcase_create("outage");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_outage_durable);
    tcase_add_test(tc, test_outage_batched);
    tcase_add_test(tc, test_unreachable_at_init);
    tcase_add_test(tc, test_commit_refused_by_live_server_keeps_steps);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    pgtu_start();
    int rc = tu_run_suite(suite());
    pgtu_destroy();
    return rc;
}
