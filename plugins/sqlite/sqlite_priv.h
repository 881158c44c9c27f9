/*
 * plugins/sqlite/sqlite_priv.h - internals of the sqlite backend.
 *
 *   sqlite.c        options, the hooks, the commit timer thread.
 *   sqlite_store.c  the connection: open, schema and migrations, busy
 *                   handling, transactions that write batches (appended,
 *                   or looked up row by row for steps that may exist).
 *   sqlite_stat.c   tropt_stat kept exact: aggregates totalled per
 *                   transaction, merged into the table, tails folded.
 *   sqlite_attempt.c  a run's attempts: opening a run or continuing it
 *                   (refusals, replays), superseding earlier attempts' rows.
 *   sqlite_meta.c   the ABI 1.2 hooks: tags, notes, names, deleting a run,
 *                   checkpoint marks, system samples.
 *   sqlite_wal.c   the checkpoint thread and its WAL hook; stale runs.
 *   sqlite_batch.c  the in-memory side: interned keys and the pending batch.
 *
 * Every step is first appended to the pending batch (copied, keys interned
 * to integer ids cached in memory) and written by tsq_commit() in one short
 * BEGIN IMMEDIATE ... COMMIT transaction, so the write lock is only ever
 * held for the time of one insert burst, whatever the batching options.
 */
#ifndef TROPT_SQLITE_PRIV_H
#define TROPT_SQLITE_PRIV_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>

#include <tropt/plugin.h>

#include "sqlite_sql.h"
#include "tropt_event.h"
#include "tropt_mem.h"

/* ---- Interned keys ------------------------------------------------------ */

typedef struct tsq_key {
    char *name;
    uint64_t hash;
    int64_t id; /* row id in tropt_key, 0 while unknown */
} tsq_key;

typedef struct tsq_keys {
    tsq_key *v; /* entries, in first-seen order; indices are stable */
    size_t n, cap;
    uint32_t *slots; /* open addressing: entry index + 1, 0 = empty */
    size_t nslots;   /* power of two */
} tsq_keys;

/* ---- The pending batch -------------------------------------------------- */

/* One value, ready to bind: SQL type + the kind column (0 = NULL). */
typedef struct tsq_val {
    uint32_t key;    /* index into tsq_keys.v */
    uint8_t sqltype; /* SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_NULL */
    uint8_t kind;
    union {
        int64_t i;
        double r;
        size_t off; /* TEXT: offset of a NUL-terminated string in the arena */
    } u;
} tsq_val;

typedef struct tsq_stepbuf {
    int64_t run;     /* tropt_run.id */
    int64_t attempt; /* its attempt */
    int64_t step;
    double time;
    size_t first, n; /* range of vals */
} tsq_stepbuf;

/* A growable buffer of NUL-terminated strings addressed by offset. */
typedef struct tsq_arena {
    char *p;
    size_t n, cap;
} tsq_arena;

typedef struct tsq_batch {
    tsq_stepbuf *steps;
    size_t nsteps, capsteps;
    tsq_val *vals;
    size_t nvals, capvals;
    tsq_arena text;  /* TEXT values of the pending steps */
    double first_at; /* monotonic time the oldest pending step was added */
} tsq_batch;

/* ---- The instance ------------------------------------------------------- */

/* The prepared statements, one per SQL string of sqlite_sql.h the writer
 * uses; prepared once in tsq_open and reused. */
enum tsq_stmt {
    TSQ_BEGIN,
    TSQ_COMMIT,
    TSQ_ROLLBACK,
    TSQ_KEY_INSERT,
    TSQ_KEY_SELECT,
    TSQ_RUN_MAX_STEP,
    TSQ_RUN_STAT_STEP,
    TSQ_STAT_FOLD_LAST,
    TSQ_STAT_FOLD_RANGE,
    TSQ_VAL_FIND,
    TSQ_VAL_UPDATE,
    TSQ_STAT_UNCOUNT,
    TSQ_STAT_RECOUNT,
    TSQ_STAT_RERANGE,
    TSQ_RUN_ID,
    TSQ_RUN_EXISTS,
    TSQ_RUN_DELETED,
    TSQ_RUN_INSERT,
    TSQ_RUN_BY_KEY,
    TSQ_RUN_REOPEN,
    TSQ_RUN_END,
    TSQ_ATT_INSERT,
    TSQ_ATT_GET,
    TSQ_ATT_LATEST,
    TSQ_ATT_REOPEN,
    TSQ_ATT_CRASHED,
    TSQ_ATT_END,
    TSQ_PARAM_CLEAR,
    TSQ_PARAM_INSERT,
    TSQ_SUMMARY_CLEAR,
    TSQ_SUMMARY_INSERT,
    TSQ_SUP_ANY,
    TSQ_SUP_KEYS,
    TSQ_SUP_CUT,
    TSQ_SUP_UNCOUNT,
    TSQ_SUP_ATTEMPTS,
    TSQ_SUP_LAST,
    TSQ_SUP_SETLAST,
    TSQ_SUP_EMPTY,
    TSQ_MARK_STEP,
    TSQ_MARK_SET,
    TSQ_MARK_CLEAR,
    TSQ_MARK_SAVE,
    TSQ_STAT_CLEAR,
    TSQ_MARK_LOAD,
    TSQ_TAG_ADD,
    TSQ_TAG_DEL,
    TSQ_RUN_NOTE,
    TSQ_RUN_RENAME,
    TSQ_MARK_UPSERT,
    TSQ_SYS_INSERT,
    TSQ_TOMBSTONE,
    TSQ_STALE_MARK,
    TSQ_STALE_ATTEMPT,
    TSQ_NSTMT
};

/* The open run's attempt as this writer knows it.  Saved before a
 * transaction and restored if it rolls back.
 *   max_step   the largest step the attempt has stored (-1: none): a step
 *              above it is new, one at or below it is looked up.
 *   floor      S when the attempt opened: a new row at or below it merges
 *              the statistics at once (readers add only rows above S).
 *   cutoff     the attempt's cutoff: its rows at or above it are superseded
 *              (a replayed earlier attempt) and counted nowhere.
 *   mark_step  the step of the run's statistics copy (tropt_mark_stat;
 *              -1: none): writing a step at or below it drops the copy.
 *   latest     the attempt is the run's latest (a replayed earlier one
 *              leaves the run's row alone and merges every commit). */
/* Step `step` of the open attempt is current (not superseded): below the
 * cutoff, INT64_MAX meaning none (a step INT64_MAX is then current). */
#define TSQ_CURRENT(rs, step) ((rs)->cutoff == INT64_MAX || (step) < (rs)->cutoff)
typedef struct tsq_runstate {
    int64_t max_step;
    int64_t floor;
    int64_t cutoff;
    int64_t mark_step;
    int latest;
} tsq_runstate;

/* What some rows add to tropt_stat for one key (see sqlite_sql.h): entry 0
 * of tsq.agg / tsq.pend is the steps (values: their times), entry i + 1 key
 * entry i.  tsq.agg: the current transaction's rows, valid while mark equals
 * tsq.agg_mark; tsq.pend: committed rows not merged yet (n == 0: none). */
typedef struct tsq_agg {
    int64_t n;
    int64_t last_step;
    tsq_val last;           /* the value of the largest step */
    const tsq_arena *arena; /* holds last's TEXT */
    tsq_val lo, hi;         /* INTEGER/REAL extremes; sqltype SQLITE_NULL: none */
    int64_t nan_step;       /* INT64_MAX: none */
    uint32_t mark;
    int dirty; /* a stored value changed: recompute from the rows instead */
} tsq_agg;

typedef struct tsq {
    const tropt_host *host;
    char *path;
    int64_t commit_every;    /* commit when this many steps are pending */
    int64_t commit_interval; /* ms; 0: no time bound */
    int sync_full;
    int64_t busy_timeout; /* ms */

    sqlite3 *db;
    sqlite3_stmt *st[TSQ_NSTMT];
    sqlite3_stmt *ins[TSQL_VAL_ROWS + 1];   /* ins[n]: insert n rows; prepared lazily */
    sqlite3_stmt *stat[TSQL_STAT_ROWS + 1]; /* stat[n]: merge n keys; prepared lazily */
    tsq_runstate rs;
    tsq_agg *agg; /* 1 + keys.n entries while a batch is written */
    size_t capagg;
    uint32_t agg_mark;
    uint32_t *touched; /* agg entries of the current transaction */
    size_t ntouched, captouched;
    tsq_agg *pend; /* 1 + keys.n entries: committed, not merged into tropt_stat */
    size_t cappend;
    uint32_t *pend_touched; /* pend entries with n > 0 */
    size_t npend, cappendt;
    tsq_arena pend_text; /* TEXT of pend's last values */
    double stat_at;      /* monotonic time of the last merge (0: none yet) */
    int stat_force;      /* merge in the next transaction (finish) */
    int stat_merging;    /* the current transaction merges */

    double busy_since; /* monotonic start of the current lock wait */
    uint64_t rng;      /* jitter of the busy back-off */

    /* Checkpoints (see sqlite_wal.c): the writer's own automatic
     * checkpoint is off; one thread per database file and process, shared
     * by every tracker writing that file, checkpoints through a connection
     * of its own. */
    struct tsq_ckpt *ck; /* the file's shared checkpointer (refcounted), or NULL */
    int ck_running;      /* the WAL hook hands checkpoints to ck */
    int wal_frames;      /* under lock: frames in the WAL after the last commit */
    int ck_next;         /* under lock: WAL frames at which to wake the thread */
    int ck_inline;       /* under lock: from this many WAL frames, the hook completes it
                          */
    int ck_force;        /* under lock: ... even without the thread's pass */
    int ck_waiting;      /* under lock: the hook waits for the thread's pass */

    pthread_mutex_t lock; /* guards everything below and the connection */
    pthread_cond_t wake;
    pthread_t timer; /* the background thread: timed commits, checkpoints */
    int timer_running, stop;

    int64_t run;     /* tropt_run.id of the open run, 0 if none */
    int64_t attempt; /* its attempt */
    int run_gone;    /* the open run was deleted (tropt rm --force) meanwhile */
    int refused;     /* set by a transaction's extra step that refuses: the
                      * TROPT_* code tsq_commit returns, s->err says why */
    tsq_keys keys;
    tsq_batch batch;
    tsq_arena scratch; /* TEXT of params/summary/config during one hook */
    tev_buf json;      /* a JSON value's text on its way into an arena; kept
                        * (allocated once) so log allocates nothing for it */
    tsq_val *svals;    /* params/summary converted, during one hook */
    size_t capsvals;
    uint32_t *fresh; /* keys whose id was assigned in the current transaction */
    size_t nfresh, capfresh;
    int failing;     /* the last commit failed (pending data kept) */
    double retry_at; /* while failing: log tries no commit before this (monotonic) */
    char err[1024];  /* message of the last failure */
    char hostname[256];
    char pidns[64]; /* this process's pid namespace ("pid:[inode]"), "" if unknown */
} tsq;

/* WAL frames after which the background thread checkpoints (SQLite's own
 * default for its automatic checkpoint). */
#define TSQ_CKPT_FRAMES 1000
/* Past this many WAL frames, a commit completes the checkpoint the thread
 * could not, right after a pass of the thread; past TSQ_CKPT_FORCE frames,
 * whatever is left (see sqlite_wal.c). */
#define TSQ_CKPT_HARD (4 * TSQ_CKPT_FRAMES)
#define TSQ_CKPT_FORCE (16 * TSQ_CKPT_FRAMES)

/* The writer merges its statistics into tropt_stat at least once per this
 * many seconds, and in any transaction of at least TSQ_STAT_STEPS steps. */
#define TSQ_STAT_EVERY 1.0
#define TSQ_STAT_STEPS 64

/* Rows pending before a batch commits whatever the options (bounds memory). */
#define TSQ_MAX_PENDING_VALUES 8192
/* With commits failing (a full disk, an I/O error), log attempts a commit
 * at most once per this many seconds: retrying the whole pending batch on
 * every call would make each log as slow as a failing commit.  flush and
 * finish always attempt one. */
#define TSQ_RETRY_EVERY 1.0
/* With commits failing, refuse new steps past this many pending values. */
#define TSQ_MAX_FAILING_VALUES (16 * TSQ_MAX_PENDING_VALUES)

/* sqlite_batch.c */
double tsq_monotonic(void);
int tsq_key_intern(tsq *s, const char *name, uint32_t *index);
void tsq_keys_free(tsq *s);
/* Convert one field into a value, interning its key and copying its text
 * into arena a. */
int tsq_field_value(tsq *s, tsq_arena *a, const tropt_field *f, tsq_val *out);
/* Convert n fields into s->svals (text in s->scratch, which is reset). */
int tsq_fields_scratch(tsq *s, const tropt_field *f, size_t n);
int tsq_batch_add(tsq *s, int64_t step, double time, const tropt_field *fields, size_t n);
void tsq_batch_clear(tsq *s);
void tsq_batch_free(tsq *s);
/* Append the compact JSON text of j (NUL-terminated) to a; *off gets its
 * offset. */
int tsq_arena_json(tsq *s, tsq_arena *a, const json_t *j, size_t *off);

/* sqlite_store.c */
/* Open (creating or upgrading) s->path, prepare the statements, join the
 * file's checkpointer.  TROPT_OK, or a TROPT_* code with s->err set; on
 * failure what was opened stays for tsq_close, which the caller runs
 * (sq_destroy) in every case. */
int tsq_open(tsq *s);
/* Close everything tsq_open opened (any part of it); s->db is NULL after. */
void tsq_close(tsq *s);
/* Write the pending batch and, inside the same transaction, `extra` (which
 * returns an SQLite result code).  Retries the whole transaction while
 * SQLite reports the database busy, up to busy_timeout.  On failure the
 * batch is kept for the next attempt and s->err says why. */
typedef int (*tsq_extra_fn)(tsq *s, void *arg);
int tsq_commit(tsq *s, tsq_extra_fn extra, void *arg);
/* Refuse what a transaction was about to do: s->err gets the message, the
 * transaction rolls back and tsq_commit returns `code` (no retry).  Returns
 * the SQLite code to return from the extra step. */
int tsq_refuse(tsq *s, int code, const char *fmt, ...) TROPT_PRINTF(3, 4);
/* Step st (bound) once, expecting at most one row: *found says whether it
 * gave one, whose columns stay readable until the caller resets st.
 * SQLite result code. */
int tsq_row(sqlite3_stmt *st, int *found);
/* The first column of st's row as an int64 (*v unchanged without a row or
 * when it is NULL); st is reset.  SQLite result code. */
int tsq_int(sqlite3_stmt *st, int64_t *v);
/* Inside a transaction: the id of key entry `index`, inserting it if new
 * (SQLite result code). */
int tsq_key_id(tsq *s, uint32_t index, int64_t *id);
/* Step a prepared statement once and reset it (SQLite result code, with
 * SQLITE_ROW/SQLITE_DONE mapped to SQLITE_OK). */
int tsq_step(tsq *s, sqlite3_stmt *st);
/* Bind value v's value alone (TEXT in arena a) at parameter i. */
int tsq_bind_value(sqlite3_stmt *st, int i, const tsq_val *v, const tsq_arena *a);
/* Bind value v (TEXT in arena a) at parameters i (value) and i+1 (kind). */
int tsq_bind_val(sqlite3_stmt *st, int i, const tsq_val *v, const tsq_arena *a);
/* Format s->err from the connection's last error: "<what> <path>: <cause>". */
int tsq_fail(tsq *s, int rc, const char *what);
/* The statement head + (n - 1) x more + tail for n rows (1 <= n <= max),
 * prepared into slot the first time that many rows are written at once
 * (SQLite result code). */
int tsq_multi_stmt(tsq *s, sqlite3_stmt **slot, int n, const char *head, const char *more,
                   const char *tail);

/* sqlite_stat.c: statistics (SQLite result codes where an int is returned) */
/* Start a transaction's aggregates: every key known so far gets an entry. */
int tsq_agg_begin(tsq *s);
/* Aggregate entry i of this transaction (entry 0: the steps; entry k + 1:
 * key entry k), reset when first touched in it.  Cannot fail:
 * tsq_agg_begin made room for every entry. */
tsq_agg *tsq_agg_entry(tsq *s, size_t i);
/* A new row (step, v) of agg entry i (TEXT in the batch's arena). */
void tsq_agg_add(tsq *s, size_t i, int64_t step, const tsq_val *v);
/* Before the commit of a transaction that does not merge: room to keep its
 * aggregates afterwards (so keeping them cannot fail once committed). */
int tsq_pend_reserve(tsq *s);
/* After a commit: what it merged is in tropt_stat; what it did not, kept. */
void tsq_stat_committed(tsq *s);
/* Forget the committed aggregates not merged yet (their run is gone). */
void tsq_pend_drop(tsq *s);
/* Fold run's current rows above its statistics into tropt_stat (a writer
 * that died or left without finishing). */
int tsq_fold_tail(tsq *s, int64_t run);
/* Fold run's current rows with lo < step < hi into tropt_stat. */
int tsq_fold_range(tsq *s, int64_t run, int64_t lo, int64_t hi);
/* Recompute key kid's statistics of run from its current rows. */
int tsq_stat_recompute(tsq *s, int64_t run, int64_t kid);
/* Merge the pending and the transaction's aggregates into tropt_stat. */
int tsq_agg_flush(tsq *s, int64_t run);

/* sqlite_attempt.c */
/* Inside init's transaction: open or continue the run (tropt_run.id into
 * *id) and its attempt, refusing (tsq_refuse) a deleted run, an attempt
 * another process began, a resume key another run carries; fill s->rs.
 * `config` is the run config's JSON text or NULL.  SQLite result code. */
int tsq_open_attempt(tsq *s, const tropt_run *run, const char *config, int64_t *id);
/* Inside a transaction: drop the run's statistics copy (tropt_mark_stat). */
int tsq_mark_drop(tsq *s, int64_t run);

/* sqlite_meta.c: the ABI 1.2 hooks (see plugin.h) */
int tsq_annotate(void *self, const char *run_id, const tropt_annotation *a);
int tsq_delete_run(void *self, const char *run_id);
int tsq_checkpoint(void *self, const tropt_run *run, const tropt_checkpoint *mark);
int tsq_log_system(void *self, const tropt_run *run, double time, const tropt_sample *samples,
                   size_t n);
/* The open run was found deleted: drop what its writer still added and
 * pending (s->run_gone set).  Called without a transaction. */
void tsq_purge_gone(tsq *s);

/* sqlite_wal.c */
/* Mark the runs of writers that are gone (their pid no longer runs, in
 * this pid namespace) as crashed.  TROPT_OK, or a TROPT_* code with s->err
 * set. */
int tsq_mark_stale(tsq *s);
/* Hand the checkpoints to the file's checkpointer (nothing happens without
 * one: SQLite's automatic checkpoint stays).  Take them back (before the
 * last commit and closing). */
void tsq_checkpointer_start(tsq *s);
void tsq_checkpointer_stop(tsq *s);
/* Ask the checkpoint thread for a pass (e.g. at finish). */
void tsq_checkpoint_kick(tsq *s);
/* Join the checkpointer of s->path's file in this process,
 * starting it for the first tracker of the file (called by tsq_open; on
 * failure a warning, and s->ck stays NULL).  Leave it: the last tracker
 * stops its thread and closes its connection (called by tsq_close, after
 * the tracker's own connection is closed). */
void tsq_open_checkpointer(tsq *s);
void tsq_release_checkpointer(tsq *s);

#endif /* TROPT_SQLITE_PRIV_H */
