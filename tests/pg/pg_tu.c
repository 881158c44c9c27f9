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
#include <sys/wait.h>
#include <unistd.h>

#include "pg_tu.h"

#define PGBIN "/usr/lib/postgresql/15/bin"

pgtu_server pgtu;

/* printf into a malloc'd string; exits on failure (usable outside a test,
 * where Check's asserts cannot report). */
static char *xfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xfmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) {
        fprintf(stderr, "pg_tu: out of memory\n");
        exit(99);
    }
    return s;
}

/* Run a shell command, its output into a log file in the cluster folder;
 * returns the exit status. */
static int xrun(const char *cmd)
{
    char *full = xfmt("%s >'%s/cmd.log' 2>&1", cmd, pgtu.dir);
    int st = system(full);
    free(full);
    return st == -1 ? -1 : (WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

static void show_file(const char *name)
{
    char *p = xfmt("%s/%s", pgtu.dir, name);
    FILE *f = fopen(p, "r");
    char buf[4096];
    size_t n;
    while (f && (n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, stderr);
    if (f)
        fclose(f);
    free(p);
}

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
    char *full =
        geteuid() == 0 ? xfmt("runuser -u postgres -- sh -c '%s'", cmd) : xfmt("sh -c '%s'", cmd);
    int rc = xrun(full);
    if (rc != 0) {
        fprintf(stderr, "pg_tu: `%s` failed (%d):\n", full, rc);
        show_file("cmd.log");
    }
    free(full);
    return rc;
}

static void start_server(void)
{
    char *cmd = xfmt(PGBIN "/pg_ctl -D %s -l %s/server.log -w -t 60 -o \"-k %s -p %d "
                           "-c listen_addresses=127.0.0.1 -c fsync=off "
                           "-c max_connections=300 -c shared_buffers=32MB\" start",
                     pgtu.data, pgtu.dir, pgtu.dir, pgtu.port);
    if (pgtu_as_owner(cmd) != 0) {
        fprintf(stderr, "pg_tu: server log:\n");
        show_file("server.log");
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
        const char *base = getenv("TMPDIR");
        pgtu.dir = xfmt("%s/tropt-pg-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(pgtu.dir)) {
            perror("pg_tu: mkdtemp");
            exit(99);
        }
        pgtu.data = xfmt("%s/data", pgtu.dir);
        pgtu.port = free_port();
        if (geteuid() == 0) {
            char *c = xfmt("chown postgres '%s' && chmod 755 '%s'", pgtu.dir, pgtu.dir);
            if (system(c) != 0) {
                fprintf(stderr, "pg_tu: cannot chown %s to postgres\n", pgtu.dir);
                exit(99);
            }
            free(c);
        }
        char *pw = xfmt("%s/pwfile", pgtu.dir);
        FILE *f = fopen(pw, "w");
        if (!f || fputs(PGTU_PASSWORD "\n", f) < 0 || fclose(f) != 0) {
            perror("pg_tu: pwfile");
            exit(99);
        }
        if (geteuid() == 0) {
            char *c = xfmt("chown postgres '%s'", pw);
            if (system(c) != 0)
                exit(99);
            free(c);
        }
        char *cmd = xfmt(PGBIN "/initdb -D %s -U " PGTU_USER " --pwfile=%s "
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
    char *cmd = xfmt(PGBIN "/pg_ctl -D %s -m %s -w -t 60 stop >/dev/null", pgtu.data, mode);
    pgtu_as_owner(cmd);
    free(cmd);
    pgtu.running = 0;
}

void pgtu_destroy(void)
{
    pgtu_stop("fast");
    char *c = xfmt("rm -rf '%s'", pgtu.dir);
    if (system(c) != 0)
        fprintf(stderr, "pg_tu: cannot remove %s\n", pgtu.dir);
    free(c);
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

char *pgtu_text(PGconn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    PGresult *r = vq(c, fmt, ap);
    va_end(ap);
    char *s = PQntuples(r) >= 1 && !PQgetisnull(r, 0, 0) ? strdup(PQgetvalue(r, 0, 0)) : NULL;
    PQclear(r);
    return s;
}

void pgtu_load_fixture(const char *schema)
{
    char *path = tu_strdupf("%s/tests/data/pg_schema1.sql", tu_source_root());
    char *sql = tu_read_file(path, NULL);
    ck_assert_msg(sql != NULL, "cannot read %s", path);
    /* every "fixture1" is the schema's name (the ids and experiments hold
     * no such text) */
    size_t n = 0;
    for (const char *at = sql; (at = strstr(at, "fixture1")) != NULL; at += 8)
        n++;
    char *out = malloc(strlen(sql) + n * (strlen(schema) + 1) + 1);
    char *w = out;
    const char *r = sql, *at;
    while ((at = strstr(r, "fixture1")) != NULL) {
        memcpy(w, r, (size_t)(at - r));
        w += at - r;
        w += sprintf(w, "%s", schema);
        r = at + 8;
    }
    strcpy(w, r);
    PGconn *c = pgtu_connect();
    PGresult *res = PQexec(c, out);
    ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK,
                  "loading %s: %s", path, PQresultErrorMessage(res));
    PQclear(res);
    PQfinish(c);
    free(out);
    free(sql);
    free(path);
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
