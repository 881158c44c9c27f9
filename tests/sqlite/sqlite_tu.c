#include "sqlite_tu.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

char *tq_spec(const char *db, const char *opts)
{
    return opts && *opts ? tu_strdupf("sqlite:path=%s,%s", db, opts)
                         : tu_strdupf("sqlite:path=%s", db);
}

tropt_tracker *tq_open(const char *db, const char *opts, const char *experiment)
{
    char *spec = tq_spec(db, opts);
    tropt_tracker *t = NULL;
    int rc = tropt_tracker_open(&t, spec, experiment, NULL);
    ck_assert_msg(rc == TROPT_OK, "open %s: %s", spec, tropt_error_message());
    free(spec);
    return t;
}

sqlite3 *tq_db(const char *path)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    ck_assert_msg(rc == SQLITE_OK, "open %s: %s", path, sqlite3_errstr(rc));
    sqlite3_busy_timeout(db, 30000);
    return db;
}

static sqlite3_stmt *vquery(sqlite3 *db, const char *fmt, va_list ap)
{
    char *sql = sqlite3_vmprintf(fmt, ap);
    ck_assert_ptr_nonnull(sql);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    ck_assert_msg(rc == SQLITE_OK, "prepare %s: %s", sql, sqlite3_errmsg(db));
    sqlite3_free(sql);
    return st;
}

sqlite3_stmt *tq_query(sqlite3 *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = vquery(db, fmt, ap);
    va_end(ap);
    return st;
}

int64_t tq_int(sqlite3 *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = vquery(db, fmt, ap);
    va_end(ap);
    int rc = sqlite3_step(st);
    ck_assert_msg(rc == SQLITE_ROW || rc == SQLITE_DONE, "query: %s", sqlite3_errmsg(db));
    int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return v;
}

/* Errors of a database that is still being created or written. */
static int not_yet(sqlite3 *db, int rc)
{
    int base = rc & 0xff;
    return base == SQLITE_BUSY || base == SQLITE_LOCKED ||
           (base == SQLITE_ERROR && strstr(sqlite3_errmsg(db), "no such table"));
}

int tq_try_int(const char *path, int64_t *v, const char *fmt, ...)
{
    if (access(path, F_OK) != 0)
        return 0;
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    ck_assert_msg(rc == SQLITE_OK, "open %s: %s", path, sqlite3_errstr(rc));
    sqlite3_busy_timeout(db, 100);
    va_list ap;
    va_start(ap, fmt);
    char *sql = sqlite3_vmprintf(fmt, ap);
    va_end(ap);
    ck_assert_ptr_nonnull(sql);
    sqlite3_stmt *st = NULL;
    rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    int ok = rc == SQLITE_ROW || rc == SQLITE_DONE;
    ck_assert_msg(ok || not_yet(db, rc), "%s: %s", sql, sqlite3_errmsg(db));
    if (ok)
        *v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_free(sql);
    sqlite3_close(db);
    return ok;
}

char *tq_text(sqlite3 *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = vquery(db, fmt, ap);
    va_end(ap);
    int rc = sqlite3_step(st);
    ck_assert_msg(rc == SQLITE_ROW || rc == SQLITE_DONE, "query: %s", sqlite3_errmsg(db));
    char *v = NULL;
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        v = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return v;
}

void tq_text_eq(sqlite3 *db, const char *want, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = vquery(db, fmt, ap);
    va_end(ap);
    int rc = sqlite3_step(st);
    ck_assert_msg(rc == SQLITE_ROW || rc == SQLITE_DONE, "query: %s", sqlite3_errmsg(db));
    const char *got = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    if (!want || !got)
        ck_assert_msg(want == got, "got %s, want %s", got ? got : "NULL", want ? want : "NULL");
    else
        ck_assert_msg(strcmp(got, want) == 0, "got '%s', want '%s' (%s)", got, want,
                      sqlite3_sql(st));
    sqlite3_finalize(st);
}

void tq_assert_integrity(sqlite3 *db)
{
    char *r = tq_text(db, "PRAGMA integrity_check");
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(r, "ok");
    free(r);
}

int tq_cli(const char *args, char **out)
{
    const char *cli = getenv("TROPT_CLI");
    ck_assert_msg(cli != NULL, "TROPT_CLI is not set");
    char *cmd = tu_strdupf("'%s' %s", cli, args);
    int rc = tu_run(cmd, out, 1);
    free(cmd);
    return rc;
}

pid_t tq_fork(int (*fn)(void *arg, int fd), void *arg, int *rfd)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(p[0]);
        int rc = fn(arg, p[1]);
        close(p[1]);
        _exit(rc);
    }
    close(p[1]);
    *rfd = p[0];
    return pid;
}

int tq_read_i64(int fd, int64_t *v)
{
    size_t got = 0;
    char *b = (char *)v;
    while (got < sizeof *v) {
        ssize_t r = read(fd, b + got, sizeof *v - got);
        if (r == 0)
            return 0;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return 0;
        }
        got += (size_t)r;
    }
    return 1;
}

void tq_write_i64(int fd, int64_t v)
{
    ssize_t r;
    do
        r = write(fd, &v, sizeof v);
    while (r < 0 && errno == EINTR);
}

int tq_wait(pid_t pid)
{
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return st;
}
