/*
 * tests/sqlite/sqlite_tu.h - helpers of the sqlite backend suites: open a
 * tracker on a database and read the database back with plain SQL.
 */
#ifndef TROPT_SQLITE_TU_H
#define TROPT_SQLITE_TU_H

#include <sqlite3.h>
#include <stdint.h>
#include <sys/types.h>

#include "testutil.h"

/* Open a tracker on "sqlite:path=<db>[,<opts>]"; fails the test on error. */
tropt_tracker *tq_open(const char *db, const char *opts, const char *experiment);
/* The spec string for db and opts (malloc'd). */
char *tq_spec(const char *db, const char *opts);

/* A read-only connection (fails the test on error). */
sqlite3 *tq_db(const char *path);
/* The first column of the first row of a query (sqlite3_mprintf format:
 * %Q quotes a string); -1 without a row. */
int64_t tq_int(sqlite3 *db, const char *fmt, ...);
/* Same, as malloc'd text (NULL for no row or NULL). */
char *tq_text(sqlite3 *db, const char *fmt, ...);
/* Assert that tq_text(...) equals want (NULL: SQL NULL or no row). */
void tq_text_eq(sqlite3 *db, const char *want, const char *fmt, ...);
/* For polling a database another process is creating: the first column
 * of the first row of a query on the file at path (-1 without a row) in
 * *v, returning 1; or 0, "not yet", when the file does not exist, its
 * schema is not there yet (no such table) or it is locked.  Any other
 * error fails the test. */
int tq_try_int(const char *path, int64_t *v, const char *fmt, ...);
/* A prepared query (the caller finalizes). */
sqlite3_stmt *tq_query(sqlite3 *db, const char *fmt, ...);
/* PRAGMA integrity_check says ok. */
void tq_assert_integrity(sqlite3 *db);

/* Run the CLI: `$TROPT_CLI <args>`; returns its exit code, output in *out. */
int tq_cli(const char *args, char **out);

/* Fork a child running fn(arg, fd) with fd the write end of a pipe; *rfd
 * receives the read end.  The child _exits with fn's return value. */
pid_t tq_fork(int (*fn)(void *arg, int fd), void *arg, int *rfd);
/* Read one int64 from fd (blocking); 0 on EOF, 1 when read. */
int tq_read_i64(int fd, int64_t *v);
/* Write one int64 to fd. */
void tq_write_i64(int fd, int64_t v);
/* Wait for pid; returns its wait status. */
int tq_wait(pid_t pid);

#endif
