/*
 * tests/pg/pg_tu.h - a throwaway PostgreSQL 15 cluster for the pg suites,
 * and small libpq helpers to read the views back.
 *
 * The cluster lives in a temporary folder: initdb as the `postgres` user
 * when the tests run as root (PostgreSQL refuses root), as the current user
 * otherwise; a Unix socket in that folder and 127.0.0.1 on a free port.
 * Local (socket) connections are trusted; TCP ones need the password
 * PGTU_PASSWORD of the superuser PGTU_USER.
 */
#ifndef TROPT_PG_TU_H
#define TROPT_PG_TU_H

#include <libpq-fe.h>
#include <stdint.h>

#include "testutil.h"

#define PGTU_USER "tropt"
#define PGTU_PASSWORD "Pw-9f3kQz-secret"

typedef struct pgtu_server {
    char *dir;  /* the temporary folder (socket folder) */
    char *data; /* the cluster */
    int port;
    int running;
} pgtu_server;

/* The cluster of this test process (started by pgtu_start). */
extern pgtu_server pgtu;

/* initdb (once) and start the server; aborts the process on failure. */
void pgtu_start(void);
/* pg_ctl stop: mode "fast" or "immediate". */
void pgtu_stop(const char *mode);
/* Stop (fast) and remove the folder. */
void pgtu_destroy(void);
/* Run a command as the cluster owner; returns the exit status. */
int pgtu_as_owner(const char *cmd);

/* conninfo over the socket (trusted), malloc'd. */
char *pgtu_conninfo(void);
/* conninfo over TCP with the password in it, malloc'd. */
char *pgtu_conninfo_tcp(const char *password);
/* "pg:conninfo=\"...\",schema=S[,extra]" over the socket, malloc'd. */
char *pgtu_spec(const char *schema, const char *extra);

/* A connection over the socket; aborts the test on failure. */
PGconn *pgtu_connect(void);
/* Run SQL (printf-style); aborts the test unless it succeeds.  Caller
 * clears the result. */
PGresult *pgtu_q(PGconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The first column of the first row as int64 (0 for NULL). */
int64_t pgtu_i64(PGconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The first column of the first row as text (malloc'd; NULL for NULL or no
 * row). */
char *pgtu_text(PGconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Load tests/data/pg_schema1.sql (a store of schema version 1 written by
 * the release before schema 2) as schema `schema`; aborts the test on
 * failure. */
void pgtu_load_fixture(const char *schema);

/* Write/read an int64 through a pipe (child processes report counts). */
void pgtu_write_i64(int fd, int64_t v);
int64_t pgtu_read_i64(int fd);

#endif
