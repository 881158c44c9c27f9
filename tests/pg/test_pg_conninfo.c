/*
 * tests/pg/test_pg_conninfo.c - what the conninfo says, and the replay
 * command a spooled run prints.
 *
 *   - a value libpq refuses (sslmode=bogus, port=abc, connect_timeout=x,
 *     more ports than hosts, PGSSLMODE=bogus in the environment) is a
 *     configuration error at open: TROPT_EINVAL naming the key, `tropt check`
 *     exits non-zero, nothing spooled; the server being up changes nothing;
 *   - a good conninfo of a server that is not there still opens, warns
 *     "cannot reach" and spools the run (`tropt check` exits 0);
 *   - the replay command, copied from the warning and run verbatim through
 *     /bin/sh, carries password_env by name, the schema and a conninfo value
 *     that needs libpq, spec and shell quoting at once; into a server still
 *     down or refusing the password it exits non-zero and leaves the spool
 *     as it was; once the server is back it stores every step, once.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pg_tu.h"
#include "spool_tu.h"

/* A loopback port nothing listens on. */
static int dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof a;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &l), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static char *check_output(const char *spec, int *rc)
{
    char *cmd = tu_strdupf("'%s' check '%s' 2>&1", getenv("TROPT_CLI"), spec);
    char *out = NULL;
    *rc = tu_run(cmd, &out, 1);
    free(cmd);
    return out;
}

/* conninfo (with the running server's socket and port unless it names its
 * own) is refused at open with TROPT_EINVAL, the message holding `want`;
 * tropt check exits non-zero saying the same; nothing is spooled. */
static void refused(const char *conninfo, const char *want)
{
    char *dir = tu_mkdtemp();
    char *spool = tu_path(dir, "spool");
    char *spec = tu_strdupf("pg:conninfo=\"%s\",schema=ci_bad,spool_dir=%s", conninfo, spool);
    tu_capture_start();
    tropt_tracker *t = NULL;
    ck_assert_int_eq(tropt_tracker_open(&t, spec, "bad", NULL), TROPT_EINVAL);
    const char *msg = tropt_error_message();
    ck_assert_msg(strstr(msg, want) && !strstr(msg, "cannot reach"), "%s: %s", conninfo, msg);
    tu_capture_stop();
    ck_assert_msg(!strstr(tu_captured(), "cannot reach"), "%s", tu_captured());
    int rc;
    char *out = check_output(spec, &rc);
    ck_assert_msg(rc != 0 && strstr(out, "TROPT_EINVAL") && strstr(out, want), "check -> %d: %s",
                  rc, out);
    ck_assert_msg(access(spool, F_OK) != 0, "%s: something was spooled", conninfo);
    free(out);
    free(spec);
    free(spool);
    tu_rmtree(dir);
    free(dir);
}

START_TEST(test_invalid_values_are_configuration_errors)
{
    char *ci = pgtu_conninfo(); /* reachable: the server is up */
    char *bogus = tu_strdupf("%s sslmode=bogus", ci);
    refused(bogus, "invalid sslmode value \"bogus\"");
    char *port = tu_strdupf("host=%s port=abc dbname=postgres user=" PGTU_USER, pgtu.dir);
    refused(port, "invalid port value \"abc\"");
    char *uri = tu_strdupf("postgresql://127.0.0.1:%d/postgres?sslmode=bogus", pgtu.port);
    refused(uri, "invalid sslmode value \"bogus\"");
    char *timeout = tu_strdupf("%s connect_timeout=soon", ci);
    refused(timeout, "invalid connect_timeout value \"soon\"");
    refused("host=a,b,c port=5432,5433", "2 ports for 3 hosts");
    refused("host=127.0.0.1 port=70000", "invalid port value \"70000\"");
    setenv("PGSSLMODE", "bogus", 1); /* libpq takes it from the environment */
    refused(ci, "PGSSLMODE: invalid sslmode value \"bogus\"");
    unsetenv("PGSSLMODE");
    free(timeout);
    free(uri);
    free(port);
    free(bogus);
    free(ci);
}
END_TEST

/* Valid values of the same keys, and empty ones, are left alone. */
START_TEST(test_valid_values_open)
{
    char *ci = pgtu_conninfo();
    char *spec = tu_strdupf("pg:conninfo=\"%s sslmode=disable connect_timeout=5 keepalives=1"
                            " target_session_attrs=read-write gssencmode=disable"
                            " channel_binding=prefer application_name=''\",schema=ci_ok",
                            ci);
    tropt_tracker *t = NULL;
    ck_assert_msg(tropt_tracker_open(&t, spec, "ok", NULL) == TROPT_OK, "%s",
                  tropt_error_message());
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    free(spec);
    free(ci);
}
END_TEST

/* A run of `steps` steps (i = step) while the server is not there, every
 * call TROPT_OK; diagnostics captured (read them before the next capture).
 * Returns the run id (malloc'd). */
static char *run_while_gone(const char *spec, int steps)
{
    tu_capture_start();
    tropt_tracker *t = NULL;
    ck_assert_msg(tropt_tracker_open(&t, spec, "gone", NULL) == TROPT_OK, "%s",
                  tropt_error_message());
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char *run = strdup(tropt_tracker_run_id(t));
    for (int i = 0; i < steps; i++) {
        tropt_field f = TROPT_F_INT("i", i);
        ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_OK);
    }
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    tu_capture_stop();
    return run;
}

START_TEST(test_good_but_unreachable_still_spools)
{
    char *dir = tu_mkdtemp();
    char *spool = tu_path(dir, "spool");
    char *spec = tu_strdupf("pg:conninfo=\"host=127.0.0.1 port=%d dbname=postgres user=" PGTU_USER
                            " sslmode=disable\",schema=ci_gone,spool_dir=%s",
                            dead_port(), spool);
    int rc;
    char *out = check_output(spec, &rc);
    ck_assert_msg(rc == 0 && strstr(out, "cannot reach"), "check -> %d: %s", rc, out);
    free(out);
    char *run = run_while_gone(spec, 5);
    ck_assert_msg(strstr(tu_captured(), "cannot reach"), "%s", tu_captured());
    int seen[8];
    stu_events ev = stu_spool_events(spool, run, seen, 8);
    ck_assert_msg(ev.starts == 1 && ev.logs == 5 && ev.ends == 1, "spooled %d/%d/%d", ev.starts,
                  ev.logs, ev.ends);
    free(run);
    free(spec);
    free(spool);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* The command fails without showing the password, leaves the spool as it
 * was and writes nothing where it runs. */
static void replay_fails(const char *hint, const char *spool)
{
    char *out = stu_replay_fails(hint, spool);
    ck_assert_msg(!strstr(out, PGTU_PASSWORD), "the password is shown:\n%s", out);
    free(out);
}

static int64_t steps_stored(const char *run)
{
    PGconn *c = pgtu_connect();
    int64_t n = pgtu_i64(c,
                         "SELECT count(*) FROM ci_hint.tropt_log l JOIN ci_hint.tropt_run u"
                         " ON u.id = l.run WHERE u.run_id = '%s'",
                         run);
    ck_assert_int_eq(pgtu_i64(c,
                              "SELECT count(DISTINCT step) FROM ci_hint.metrics WHERE"
                              " run_id = '%s' AND key = 'i' AND value_int = step",
                              run),
                     n);
    PQfinish(c);
    return n;
}

START_TEST(test_replay_command_runs_verbatim)
{
    char *dir = tu_mkdtemp();
    char *spool = tu_path(dir, "it's a spool");
    /* over TCP, which needs the password; application_name needs libpq
     * quoting ('...' with \'), then spec quoting, then shell quoting */
    char *spec = tu_strdupf("pg:conninfo=\"host=127.0.0.1 port=%d dbname=postgres user=" PGTU_USER
                            " application_name='it\\\\'s a run'\",password_env=TROPT_PG_PW,"
                            "schema=ci_hint,spool_dir=\"%s\"",
                            pgtu.port, spool);
    setenv("TROPT_PG_PW", PGTU_PASSWORD, 1);
    stu_cli_on_path();
    pgtu_stop("fast");
    char *run = run_while_gone(spec, 25);
    ck_assert_msg(!strstr(tu_captured(), PGTU_PASSWORD), "%s", tu_captured());
    char *hint = stu_hint_of(tu_captured());
    ck_assert_msg(strstr(hint, "password_env=TROPT_PG_PW") && strstr(hint, "schema=ci_hint") &&
                      !strstr(hint, "(give the password"),
                  "%s", hint);

    replay_fails(hint, spool); /* still down */
    pgtu_start();
    setenv("TROPT_PG_PW", "not-the-password", 1);
    replay_fails(hint, spool); /* refused: wrong password */
    setenv("TROPT_PG_PW", PGTU_PASSWORD, 1);
    for (int pass = 0; pass < 2; pass++) {
        char *out = NULL;
        int rc = tu_run(hint, &out, 1);
        ck_assert_msg(rc == 0, "%s -> %d:\n%s", hint, rc, out);
        ck_assert_msg(!strstr(out, PGTU_PASSWORD), "%s", out);
        free(out);
        ck_assert_int_eq(steps_stored(run), 25);
    }
    free(hint);
    free(run);
    free(spec);
    free(spool);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

int main(void)
{
    pgtu_start();
    Suite *s = suite_create("pg-conninfo");
    TCase *tc = tcase_create("conninfo");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_invalid_values_are_configuration_errors);
    tcase_add_test(tc, test_valid_values_open);
    tcase_add_test(tc, test_good_but_unreachable_still_spools);
    tcase_add_test(tc, test_replay_command_runs_verbatim);
    suite_add_tcase(s, tc);
    int rc = tu_run_suite(s);
    pgtu_destroy();
    return rc;
}
