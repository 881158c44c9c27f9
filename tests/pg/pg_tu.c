/*
 * tests/pg/pg_tu.c - the throwaway cluster and libpq helpers (see pg_tu.h).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pg_tu.h"

#define PGBIN "/usr/lib/postgresql/15/bin"

pgtu_server pgtu;

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) != 0) {
        perror("free port");
        exit(99);
    }
    close(s);
    return ntohs(a.sin_port);
}

int pgtu_as_owner(const char *cmd)
{
    char *full = geteuid() == 0 ? tu_strdupf("runuser -u postgres -- sh -c '%s'", cmd)
                                : tu_strdupf("sh -c '%s'", cmd);
    char *out = NULL;
    int rc = tu_run(full, &out, 1);
    if (rc != 0)
        fprintf(stderr, "pg_tu: `%s` failed (%d):\n%s\n", full, rc, out ? out : "");
    free(out);
    free(full);
    return rc;
}

static void start_server(void)
{
    char *cmd = tu_strdupf(PGBIN "/pg_ctl -D %s -l %s/server.log -w -t 60 -o \"-k %s -p %d "
                                 "-c listen_addresses=127.0.0.1 -c fsync=off "
                                 "-c max_connections=300 -c shared_buffers=32MB\" start",
                           pgtu.data, pgtu.dir, pgtu.dir, pgtu.port);
    if (pgtu_as_owner(cmd) != 0) {
        char *log = tu_strdupf("%s/server.log", pgtu.dir);
        char *text = tu_read_file(log, NULL);
        fprintf(stderr, "pg_tu: server log:\n%s\n", text ? text : "(none)");
        free(text);
        free(log);
        exit(99);
    }
    free(cmd);
    pgtu.running = 1;
}

void pgtu_start(void)
{
    if (pgtu.running)
        return;
    if (!pgtu.dir) {
        if (access(PGBIN "/initdb", X_OK) != 0) {
            fprintf(stderr, "pg_tu: %s/initdb not found (install postgresql-15)\n", PGBIN);
            exit(99);
        }
        pgtu.dir = tu_mkdtemp();
        pgtu.data = tu_path(pgtu.dir, "data");
        pgtu.port = free_port();
        if (geteuid() == 0) {
            char *c = tu_strdupf("chown postgres '%s' && chmod 755 '%s'", pgtu.dir, pgtu.dir);
            if (tu_run(c, NULL, 1) != 0) {
                fprintf(stderr, "pg_tu: cannot chown %s to postgres\n", pgtu.dir);
                exit(99);
            }
            free(c);
        }
        char *pw = tu_path(pgtu.dir, "pwfile");
        tu_write_file(pw, PGTU_PASSWORD "\n");
        if (geteuid() == 0) {
            char *c = tu_strdupf("chown postgres '%s'", pw);
            tu_run(c, NULL, 1);
            free(c);
        }
        char *cmd = tu_strdupf(PGBIN "/initdb -D %s -U " PGTU_USER " --pwfile=%s "
                                     "--auth-local=trust --auth-host=scram-sha-256 -E UTF8 "
                                     "--locale=C.UTF-8 --no-sync >/dev/null",
                               pgtu.data, pw);
        if (pgtu_as_owner(cmd) != 0)
            exit(99);
        free(cmd);
        free(pw);
    }
    start_server();
}

void pgtu_stop(const char *mode)
{
    if (!pgtu.running)
        return;
    char *cmd = tu_strdupf(PGBIN "/pg_ctl -D %s -m %s -w -t 60 stop >/dev/null", pgtu.data, mode);
    pgtu_as_owner(cmd);
    free(cmd);
    pgtu.running = 0;
}

void pgtu_destroy(void)
{
    pgtu_stop("fast");
    tu_rmtree(pgtu.dir);
    free(pgtu.dir);
    free(pgtu.data);
    memset(&pgtu, 0, sizeof pgtu);
}

char *pgtu_conninfo(void)
{
    return tu_strdupf("host=%s port=%d dbname=postgres user=" PGTU_USER, pgtu.dir, pgtu.port);
}

char *pgtu_conninfo_tcp(const char *password)
{
    return tu_strdupf("host=127.0.0.1 port=%d dbname=postgres user=" PGTU_USER " password=%s",
                      pgtu.port, password);
}

char *pgtu_spec(const char *schema, const char *extra)
{
    char *ci = pgtu_conninfo();
    char *s = tu_strdupf("pg:conninfo=\"%s\",schema=%s%s%s", ci, schema, extra ? "," : "",
                         extra ? extra : "");
    free(ci);
    return s;
}

PGconn *pgtu_connect(void)
{
    char *ci = pgtu_conninfo();
    PGconn *c = PQconnectdb(ci);
    free(ci);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect: %s", PQerrorMessage(c));
    PQclear(PQexec(c, "SET extra_float_digits = 3"));
    return c;
}

static PGresult *vq(PGconn *c, const char *fmt, va_list ap)
{
    char buf[8192];
    vsnprintf(buf, sizeof buf, fmt, ap);
    PGresult *r = PQexec(c, buf);
    ExecStatusType s = PQresultStatus(r);
    ck_assert_msg(s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK, "%s: %s", buf,
                  PQresultErrorMessage(r));
    return r;
}

PGresult *pgtu_q(PGconn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    PGresult *r = vq(c, fmt, ap);
    va_end(ap);
    return r;
}

int64_t pgtu_i64(PGconn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    PGresult *r = vq(c, fmt, ap);
    va_end(ap);
    ck_assert_msg(PQntuples(r) >= 1, "no row");
    int64_t v = PQgetisnull(r, 0, 0) ? 0 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

void pgtu_write_i64(int fd, int64_t v)
{
    if (write(fd, &v, sizeof v) != (ssize_t)sizeof v)
        _exit(98);
}

int64_t pgtu_read_i64(int fd)
{
    int64_t v = -1;
    if (read(fd, &v, sizeof v) != (ssize_t)sizeof v)
        return -1;
    return v;
}
