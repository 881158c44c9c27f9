/*
 * plugins/pg/pg_priv.h - the pg backend's private header: the instance, its
 * pending rows, and the functions its files share.
 *
 * Files:
 *   pg.c        the option table and the hooks (create/log/flush/destroy),
 *               the hook table.
 *   pg_run.c    init and finish: the run's row, its attempt (SPEC 15: the
 *               rule of attempts, one writer per attempt), params, summary,
 *               and a deleted run refused.
 *   pg_conf.c   the conninfo checked before connecting (values libpq would
 *               refuse), the server as messages show it, the replay command.
 *   pg_conn.c   messages without secrets, SQL text, connecting, the schema
 *               (created and upgraded under an advisory lock).
 *   pg_batch.c  pending rows (copied into one arena), interned keys, and
 *               writing a batch: multi-row INSERT ... ON CONFLICT, or binary
 *               COPY in a transaction.
 *   pg_commit.c the spool file (event format), commit, and the background
 *               thread (heartbeat, commit_interval).
 *   pg_meta.c   the ABI 1.2 hooks besides init: checkpoint marks, system
 *               samples, tags/note/name (annotate) and delete_run.
 *   pg_read.c   the reader hooks: listing runs (every ABI 1.2 member, from
 *               per-run records and indexes, never a scan of the steps).
 *   pg_read_run.c  reading one run back: START, its attempts, steps,
 *               marks, samples, END.
 *
 * Locking: the fields of struct pg from `mu` on are read and written with
 * `mu` held, by the hooks and by the background thread; the fields above it
 * are set in create and read-only afterwards.
 */
#ifndef TROPT_PG_PRIV_H
#define TROPT_PG_PRIV_H

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include <tropt/plugin.h>

#include "pg_sql.h"
#include "tropt_event.h"
#include "tropt_mem.h"
#include "tropt_num.h"

enum {
    PGO_CONNINFO,
    PGO_PASSWORD_ENV,
    PGO_SCHEMA,
    PGO_COMMIT_EVERY,
    PGO_COMMIT_INTERVAL,
    PGO_SPOOL_DIR,
    PGO_HEARTBEAT,
    PGO_LOCK_TIMEOUT,
    PGO_SPOOL,
    PGO_COUNT
};

/* Steps in one INSERT statement (7 parameters each, plus the run id). */
#define PG_INSERT_STEPS 16
/* Rows pending before a commit whatever the options (bounds memory). */
#define PG_MAX_PENDING_ROWS 65536

enum { K_NULL, K_BOOL, K_INT, K_REAL, K_STRING, K_JSON };

#define NO_KEY UINT32_MAX

/* An interned key: its name and its id in tropt_key (0 while unknown). */
#define HAS_R(w) ((w)->kind == K_BOOL || (w)->kind == K_INT || (w)->kind == K_REAL)
#define HAS_I(w) ((w)->kind == K_BOOL || (w)->kind == K_INT)
#define HAS_T(w) ((w)->kind == K_STRING || (w)->kind == K_JSON)

typedef struct pkey {
    char *name;
    uint64_t hash;
    int32_t id;
} pkey;

typedef struct row {
    int64_t step;
    double time;
    uint32_t key;  /* index in pg.keys, NO_KEY: a step without fields */
    uint8_t first; /* the first row of its step */
    size_t text;
    uint32_t text_len;
    uint8_t kind;
    int64_t i;
    double r;
} row;

typedef struct pg {
    const tropt_host *host;
    char *conninfo;
    char *password; /* from password_env, or NULL */
    char *secret;   /* the password in conninfo, or NULL (scrubbed from messages) */
    char *schema;   /* as given */
    char *qschema;  /* quoted identifier */
    char *shown;    /* "host=... port=... dbname=... user=..." without the password */
    char *spool_dir;
    char *replay_hint;       /* "tropt replay DIR --tracker '...'" and advice (pg_conf.c) */
    int no_spool;            /* spool=off: what cannot be written is an error, never spooled */
    int64_t lock_timeout_ms; /* SET lock_timeout on every connection; 0: wait forever */
    int64_t commit_every;
    int64_t commit_interval; /* ms, 0: off */
    int64_t heartbeat_ms;

    pthread_mutex_t mu;
    pthread_cond_t wake;
    pthread_t thread;
    int thread_running, stop;

    PGconn *conn;
    int prepared_rows[PG_INSERT_STEPS + 1]; /* statement insN prepared on conn */
    int prepared_hb;
    char *sql_insert[PG_INSERT_STEPS + 1];

    /* interned keys (ids valid for the database of conninfo) */
    pkey *keys;
    size_t nkeys, capkeys;
    uint32_t *slots; /* open addressing: key index + 1, 0 = empty */
    size_t nslots;   /* power of two */

    /* the open run */
    int active;
    int64_t run_num; /* tropt_run.id */
    int64_t attempt; /* its attempt (1 from a host before ABI 1.2) */
    char *run_id;
    char *start_line; /* its run_start event, for the spool */
    size_t start_len;
    int spooling; /* the run goes to the spool */
    double next_beat;
    double retry_at; /* monotonic: no background commit before (after a failure) */

    /* pending steps */
    row *rows;
    size_t nrows, caprows;
    int64_t nsteps;
    double first_at; /* monotonic time of the oldest pending step */
    char *arena;
    size_t alen, acap;

    /* spool */
    char *spool_path;
    int spool_fd;
    int64_t n_spooled;

    char err[1024];
    int locked;  /* the last failure (pg_res_ok) was lock_timeout (SQLSTATE 55P03) */
    int version; /* the schema's version (the reader reads versions 1 and 2) */
    tev_buf scratch;
} pg;

double pg_monotonic(void);
void pg_scrub_one(char *msg, const char *secret);
const char *pg_set_err(pg *p, const char *what, const char *libpq_msg);
char *pg_sql(pg *p, const char *tpl);
const char *pg_sqlstate(const PGresult *r);
int pg_conn_lost(pg *p, const PGresult *r);
PGresult *pg_exec_tpl(pg *p, const char *tpl, int n, const char *const *vals);
int pg_res_ok(pg *p, PGresult *r, const char *what);
int pg_exec_ok(pg *p, const char *tpl, int n, const char *const *vals, const char *what);
void pg_forget_prepared(pg *p);
void pg_quiet_notice(void *arg, const char *message);
int pg_connect_db(pg *p);
int pg_ensure_schema(pg *p);
int pg_open_store(pg *p);
int pg_arena_put(pg *p, const char *s, size_t n, size_t *off);
int pg_push_row(pg *p, const row *r);
int pg_field_row(pg *p, const tropt_field *f, row *r);
void pg_batch_clear(pg *p);
int pg_key_intern(pg *p, const char *name, uint32_t *index);
int pg_resolve_keys(pg *p, int *lost);
void pg_put_be64(char *b, uint64_t v);
void pg_put_be32(char *b, int32_t v);
uint64_t pg_dbits(double d);
int pg_buf_be16(tev_buf *b, uint16_t v);
int pg_buf_be32(tev_buf *b, int32_t v);
int pg_buf_be64(tev_buf *b, uint64_t v);
size_t pg_step_end(const pg *p, size_t first);
int pg_put_array(pg *p, tev_buf *b, size_t first, size_t end, int col);
PGresult *pg_insert_steps(pg *p, const size_t *firsts, size_t n);
int pg_write_insert(pg *p, int *lost);
int pg_copy_array(pg *p, tev_buf *b, size_t first, size_t end, int col);
int pg_write_copy(pg *p, int *lost);
int pg_spool_open(pg *p);
int pg_spool_bytes(pg *p, const char *s, size_t n);
int pg_spool_pending(pg *p);
int pg_start_spooling(pg *p, const char *why);
int pg_commit(pg *p);
void pg_heartbeat_now(pg *p);
void *pg_background(void *arg);
/* pg_commit.c: spool one encoded event of the open run (the run goes to the
 * spool first when it is not there yet, `why` saying why).  TROPT_OK or the
 * error (host->error). */
int pg_spool_event(pg *p, const tev_buf *ev, const char *why);
/* pg_commit.c: the open run's steps and `ev` go to the spool because the
 * last statement failed (p->locked: a lock; else the server is gone).
 * TROPT_OK or the error (host->error). */
int pg_spool_after_failure(pg *p, const tev_buf *ev);

/* pg_conn.c: a real as PostgreSQL's float8 input reads it back exactly
 * ("NaN", "Infinity", "-Infinity", else the shortest round-trip text). */
void pg_real_text(const pg *p, char *buf, size_t size, double x);
/* pg_conn.c: Unix seconds as "2026-01-02T03:04:05Z" ("-" when not a time). */
void pg_iso_time(double t, char *buf, size_t size);
/* pg_conn.c: connect and check the schema when no connection is open.
 * TROPT_OK; else the error code with p->err (1: the server is gone). */
int pg_ensure_conn(pg *p);

/* pg_conf.c: parse p->conninfo; set p->shown, p->secret, p->replay_hint.
 * TROPT_OK; TROPT_EINVAL (reported) when the conninfo does not parse or
 * holds a value libpq would refuse (the message names the key and where the
 * value came from); TROPT_ENOMEM (reported). */
int pg_conf_conninfo(pg *p, const char *password_env);
/* pg_commit.c: why a run goes to the spool after a lock_timeout (p->err
 * holds the server's words), into why. */
void pg_lock_why(pg *p, char *why, size_t n);

/* pg.c: an instance configured from its options, not connected (shared by
 * create and the reader); pg_destroy releases either. */
int pg_configure(pg **out, const tropt_optval *opts, const tropt_host *host);
void pg_destroy(void *self);

/* pg_run.c: the hooks init and finish; put_kv writes params or summary rows
 * (attempt: NULL for the summary) in the open transaction: 0 or -1 (p->err). */
int pg_init(void *self, const tropt_run *run, const json_t *config, const tropt_field *params,
            size_t n_params);
int pg_finish(void *self, const tropt_run *run, const char *status, double ended_at,
              const json_t *summary, const tropt_field *flat, size_t n_flat);
int pg_put_kv(pg *p, const char *tpl, const char *attempt, const tropt_field *f, size_t n);
/* pg.c: forget the open run (its spool file closed). */
void pg_free_run(pg *p);
/* pg.c: fsync the open run's spool file, if any.  TROPT_OK or the error. */
int pg_spool_sync(pg *p);
/* pg.c: the warning finish gives when the run went to the spool. */
void pg_warn_spooled(pg *p);

/* pg_meta.c: the ABI 1.2 hooks. */
int pg_checkpoint(void *self, const tropt_run *run, const tropt_checkpoint *mark);
int pg_log_system(void *self, const tropt_run *run, double time, const tropt_sample *samples,
                  size_t n);
int pg_annotate(void *self, const char *run_id, const tropt_annotation *a);
int pg_delete_run(void *self, const char *run_id);

/* pg_read.c / pg_read_run.c: the reader hooks (ABI 1.1, members of 1.2). */
int pg_reader_open(void **reader, const tropt_optval *opts, const tropt_host *host);
int pg_list_runs(void *reader, tropt_run_list_fn fn, void *userdata);
int pg_read_run(void *reader, const char *run_id, tropt_event_fn fn, void *userdata);
void pg_reader_close(void *reader);

#endif
