/*
 * plugins/sqlite/sqlite_store.c - the database side of the sqlite backend:
 * opening the file, the schema and its migrations, waiting out other
 * writers and writing a batch in one transaction (stale runs and
 * checkpoints: sqlite_wal.c; statistics: sqlite_stat.c).
 *
 * Concurrency.  The file is in WAL mode: readers never block writers and
 * writers never block readers.  Writers take the write lock with BEGIN
 * IMMEDIATE, so the busy handler (a short, jittered exponential back-off,
 * much finer than sqlite3_busy_timeout's) runs whenever another writer holds
 * it, and a transaction never has to upgrade a read lock (no deadlock, no
 * SQLITE_BUSY_SNAPSHOT).  The few places where SQLite answers SQLITE_BUSY
 * without calling the handler (WAL recovery, journal mode change while
 * another connection opens the file) are retried by tsq_commit/exec_retry
 * until busy_timeout has passed.
 */
#include "sqlite_priv.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static const char *const stmt_sql[TSQ_NSTMT] = {
    [TSQ_BEGIN] = TSQL_BEGIN,
    [TSQ_COMMIT] = TSQL_COMMIT,
    [TSQ_ROLLBACK] = TSQL_ROLLBACK,
    [TSQ_KEY_INSERT] = TSQL_KEY_INSERT,
    [TSQ_KEY_SELECT] = TSQL_KEY_SELECT,
    [TSQ_RUN_MAX_STEP] = TSQL_RUN_MAX_STEP,
    [TSQ_RUN_STAT_STEP] = TSQL_RUN_STAT_STEP,
    [TSQ_STAT_FOLD_LAST] = TSQL_STAT_FOLD_LAST,
    [TSQ_STAT_FOLD_RANGE] = TSQL_STAT_FOLD_RANGE,
    [TSQ_VAL_FIND] = TSQL_VAL_FIND,
    [TSQ_VAL_UPDATE] = TSQL_VAL_UPDATE,
    [TSQ_STAT_UNCOUNT] = TSQL_STAT_UNCOUNT,
    [TSQ_STAT_RECOUNT] = TSQL_STAT_RECOUNT,
    [TSQ_STAT_RERANGE] = TSQL_STAT_RERANGE,
    [TSQ_RUN_ID] = TSQL_RUN_ID,
    [TSQ_RUN_EXISTS] = TSQL_RUN_EXISTS,
    [TSQ_RUN_DELETED] = TSQL_RUN_DELETED,
    [TSQ_RUN_INSERT] = TSQL_RUN_INSERT,
    [TSQ_RUN_BY_KEY] = TSQL_RUN_BY_KEY,
    [TSQ_RUN_REOPEN] = TSQL_RUN_REOPEN,
    [TSQ_RUN_END] = TSQL_RUN_END,
    [TSQ_ATT_INSERT] = TSQL_ATT_INSERT,
    [TSQ_ATT_GET] = TSQL_ATT_GET,
    [TSQ_ATT_LATEST] = TSQL_ATT_LATEST,
    [TSQ_ATT_REOPEN] = TSQL_ATT_REOPEN,
    [TSQ_ATT_CRASHED] = TSQL_ATT_CRASHED,
    [TSQ_ATT_END] = TSQL_ATT_END,
    [TSQ_PARAM_CLEAR] = TSQL_PARAM_CLEAR,
    [TSQ_PARAM_INSERT] = TSQL_PARAM_INSERT,
    [TSQ_SUMMARY_CLEAR] = TSQL_SUMMARY_CLEAR,
    [TSQ_SUMMARY_INSERT] = TSQL_SUMMARY_INSERT,
    [TSQ_SUP_ANY] = TSQL_SUP_ANY,
    [TSQ_SUP_KEYS] = TSQL_SUP_KEYS,
    [TSQ_SUP_CUT] = TSQL_SUP_CUT,
    [TSQ_SUP_UNCOUNT] = TSQL_SUP_UNCOUNT,
    [TSQ_SUP_ATTEMPTS] = TSQL_SUP_ATTEMPTS,
    [TSQ_SUP_LAST] = TSQL_SUP_LAST,
    [TSQ_SUP_SETLAST] = TSQL_SUP_SETLAST,
    [TSQ_SUP_EMPTY] = TSQL_SUP_EMPTY,
    [TSQ_MARK_STEP] = TSQL_MARK_STEP,
    [TSQ_MARK_SET] = TSQL_MARK_SET,
    [TSQ_MARK_CLEAR] = TSQL_MARK_CLEAR,
    [TSQ_MARK_SAVE] = TSQL_MARK_SAVE,
    [TSQ_STAT_CLEAR] = TSQL_STAT_CLEAR,
    [TSQ_MARK_LOAD] = TSQL_MARK_LOAD,
    [TSQ_TAG_ADD] = TSQL_TAG_ADD,
    [TSQ_TAG_DEL] = TSQL_TAG_DEL,
    [TSQ_RUN_NOTE] = TSQL_RUN_NOTE,
    [TSQ_RUN_RENAME] = TSQL_RUN_RENAME,
    [TSQ_MARK_UPSERT] = TSQL_MARK_UPSERT,
    [TSQ_SYS_INSERT] = TSQL_SYS_INSERT,
    [TSQ_TOMBSTONE] = TSQL_TOMBSTONE,
    [TSQ_STALE_MARK] = TSQL_STALE_MARK,
    [TSQ_STALE_ATTEMPT] = TSQL_STALE_ATTEMPT,
};

/* migrations[v] takes a database from user_version v to v + 1 (its SQL
 * strings in order, NULL-terminated). */
#define TSQ_MIGRATION_PARTS 3
static const char *const migrations[TSQL_SCHEMA_VERSION][TSQ_MIGRATION_PARTS + 1] = {
    {TSQL_MIGRATE_0_1},
    {TSQL_MIGRATE_1_2},
    {TSQL_MIGRATE_2_3},
    {TSQL_MIGRATE_3_4, TSQL_MIGRATE_3_4_VIEWS, TSQL_MIGRATE_3_4_STATS},
};

static int retryable(int rc)
{
    rc &= 0xff;
    return rc == SQLITE_BUSY || rc == SQLITE_LOCKED || rc == SQLITE_PROTOCOL;
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

/* Sleep a little longer each time: 20us doubling up to 2ms, with jitter so
 * that waiting writers do not wake in lock step. */
static void backoff(tsq *s, int count)
{
    long us = 20L << (count < 7 ? count : 7);
    if (us > 2000)
        us = 2000;
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    us += (long)(s->rng % (uint64_t)(us / 2 + 1));
    sleep_us(us);
}

static int busy_cb(void *arg, int count)
{
    tsq *s = arg;
    double now = tsq_monotonic();
    if (count == 0)
        s->busy_since = now;
    if ((now - s->busy_since) * 1000.0 >= (double)s->busy_timeout)
        return 0;
    backoff(s, count);
    return 1;
}

/* Why a file cannot be opened for writing, as the OS sees it: SQLite's own
 * errno is that of its last attempt (often a read-only retry). */
static const char *open_cause(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return strerror(EISDIR);
        return access(path, R_OK | W_OK) == 0 ? NULL : strerror(errno);
    }
    if (errno != ENOENT)
        return strerror(errno);
    /* The file does not exist: can its folder take it? */
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (stat(dir, &st) != 0)
        return strerror(errno);
    if (!S_ISDIR(st.st_mode))
        return strerror(ENOTDIR);
    if (access(dir, W_OK | X_OK) != 0)
        return strerror(errno);
    return NULL;
}

int tsq_fail(tsq *s, int rc, const char *what)
{
    if ((rc & 0xff) == SQLITE_CANTOPEN) {
        const char *cause = open_cause(s->path);
        if (cause) {
            snprintf(s->err, sizeof s->err, "cannot %s %s: %s", what, s->path, cause);
            return TROPT_EBACKEND;
        }
    }
    int prim = rc & 0xff;
    const char *msg = prim == SQLITE_NOMEM ? "out of memory"
                      : s->db              ? sqlite3_errmsg(s->db)
                                           : sqlite3_errstr(rc);
    int sys = s->db ? sqlite3_system_errno(s->db) : 0;
    if (sys != 0 && (prim == SQLITE_IOERR || prim == SQLITE_CANTOPEN || prim == SQLITE_FULL ||
                     prim == SQLITE_READONLY || prim == SQLITE_PERM))
        snprintf(s->err, sizeof s->err, "cannot %s %s: %s (%s)", what, s->path, msg, strerror(sys));
    else
        snprintf(s->err, sizeof s->err, "cannot %s %s: %s", what, s->path, msg);
    return prim == SQLITE_NOMEM ? TROPT_ENOMEM : TROPT_EBACKEND;
}

int tsq_step(tsq *s, sqlite3_stmt *st)
{
    (void)s;
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return (rc == SQLITE_ROW || rc == SQLITE_DONE) ? SQLITE_OK : rc;
}

int tsq_row(sqlite3_stmt *st, int *found)
{
    int rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        return SQLITE_OK;
    sqlite3_reset(st);
    return rc;
}

int tsq_int(sqlite3_stmt *st, int64_t *v)
{
    int found, rc = tsq_row(st, &found);
    if (!rc && found && sqlite3_column_type(st, 0) != SQLITE_NULL)
        *v = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc;
}

int tsq_refuse(tsq *s, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
    s->refused = code;
    return SQLITE_ABORT;
}

/* One statement, prepared for the occasion, retried while busy.  The first
 * column of the first row (if any) is copied into out. */
static int exec_retry(tsq *s, const char *sql, char *out, size_t outsz)
{
    double deadline = tsq_monotonic() + (double)s->busy_timeout / 1000.0;
    for (int attempt = 0;; attempt++) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
        if (rc == SQLITE_OK) {
            rc = sqlite3_step(st);
            if (rc == SQLITE_ROW && out) {
                const unsigned char *t = sqlite3_column_text(st, 0);
                snprintf(out, outsz, "%s", t ? (const char *)t : "");
            }
            if (rc == SQLITE_ROW || rc == SQLITE_DONE)
                rc = SQLITE_OK;
        }
        sqlite3_finalize(st);
        if (rc == SQLITE_OK || !retryable(rc) || tsq_monotonic() >= deadline)
            return rc;
        backoff(s, attempt);
    }
}

static int read_int_pragma(tsq *s, const char *sql, int64_t *v)
{
    char buf[32];
    int rc = exec_retry(s, sql, buf, sizeof buf);
    if (rc == SQLITE_OK)
        *v = strtoll(buf, NULL, 10);
    return rc;
}

int tsq_key_id(tsq *s, uint32_t index, int64_t *id)
{
    tsq_key *k = &s->keys.v[index];
    if (k->id) {
        *id = k->id;
        return SQLITE_OK;
    }
    if (tropt_host_grow(s->host, (void **)&s->fresh, &s->capfresh, s->nfresh + 1,
                        sizeof *s->fresh) != 0)
        return SQLITE_NOMEM;
    sqlite3_stmt *ins = s->st[TSQ_KEY_INSERT], *sel = s->st[TSQ_KEY_SELECT];
    sqlite3_bind_text(ins, 1, k->name, -1, SQLITE_STATIC);
    int rc = tsq_step(s, ins);
    sqlite3_clear_bindings(ins);
    if (rc)
        return rc;
    int64_t v = 0;
    if (sqlite3_changes(s->db) == 1) {
        v = sqlite3_last_insert_rowid(s->db);
    } else { /* another writer interned it first */
        sqlite3_bind_text(sel, 1, k->name, -1, SQLITE_STATIC);
        rc = sqlite3_step(sel);
        if (rc == SQLITE_ROW)
            v = sqlite3_column_int64(sel, 0);
        sqlite3_reset(sel);
        sqlite3_clear_bindings(sel);
        if (rc != SQLITE_ROW)
            return rc == SQLITE_DONE ? SQLITE_CORRUPT : rc;
    }
    k->id = v;
    s->fresh[s->nfresh++] = index;
    *id = v;
    return SQLITE_OK;
}

/* Bind the value of v alone at parameter i. */
int tsq_bind_value(sqlite3_stmt *st, int i, const tsq_val *v, const tsq_arena *a)
{
    int rc;
    switch (v->sqltype) {
    case SQLITE_INTEGER:
        rc = sqlite3_bind_int64(st, i, v->u.i);
        break;
    case SQLITE_FLOAT:
        rc = sqlite3_bind_double(st, i, v->u.r);
        break;
    case SQLITE_TEXT:
        rc = sqlite3_bind_text(st, i, a->p + v->u.off, -1, SQLITE_STATIC);
        break;
    default:
        rc = sqlite3_bind_null(st, i);
        break;
    }
    return rc;
}

int tsq_bind_val(sqlite3_stmt *st, int i, const tsq_val *v, const tsq_arena *a)
{
    int rc = tsq_bind_value(st, i, v, a);
    if (rc == SQLITE_OK)
        rc = v->kind ? sqlite3_bind_int(st, i + 1, v->kind) : sqlite3_bind_null(st, i + 1);
    return rc;
}

/* The statement head + (n - 1) x more + tail for n rows (1 <= n <= max),
 * prepared the first time that many rows are written at once. */
int tsq_multi_stmt(tsq *s, sqlite3_stmt **slot, int n, const char *head, const char *more,
                   const char *tail)
{
    if (!*slot) {
        size_t hl = strlen(head), ml = strlen(more), tl = strlen(tail);
        char *sql = s->host->malloc(hl + (size_t)(n - 1) * ml + tl + 1), *p = sql;
        if (!sql)
            return SQLITE_NOMEM;
        memcpy(p, head, hl);
        p += hl;
        for (int i = 1; i < n; i++, p += ml)
            memcpy(p, more, ml);
        memcpy(p, tail, tl + 1);
        int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL);
        s->host->free(sql);
        if (rc)
            return rc;
    }
    return SQLITE_OK;
}

/* ---- Rows ----------------------------------------------------------------- */

/* Insert rows [from, from + k) of step sb, row 0 being the step's own row
 * (key 0, value tv, its time) and row r > 0 field r - 1, in one statement. */
static int insert_rows(tsq *s, const tsq_stepbuf *sb, const tsq_val *tv, size_t from, size_t k)
{
    sqlite3_stmt *st;
    int rc = tsq_multi_stmt(s, &s->ins[k], (int)k, TSQL_VAL_INSERT, TSQL_VAL_INSERT_MORE, "");
    st = s->ins[k];
    if (!rc)
        rc = sqlite3_bind_int64(st, 1, sb->run);
    if (!rc)
        rc = sqlite3_bind_int64(st, 2, sb->attempt);
    if (!rc)
        rc = sqlite3_bind_int64(st, 3, sb->step);
    for (size_t i = 0; !rc && i < k; i++) {
        size_t r = from + i;
        const tsq_val *v = r ? &s->batch.vals[sb->first + r - 1] : tv;
        int64_t kid = 0;
        if (r)
            rc = tsq_key_id(s, v->key, &kid);
        if (!rc)
            rc = sqlite3_bind_int64(st, 4 + 3 * (int)i, kid);
        if (!rc)
            rc = tsq_bind_val(st, 5 + 3 * (int)i, v, &s->batch.text);
    }
    return rc ? rc : tsq_step(s, st);
}

/* A new step (above any the attempt stored): insert its rows, TSQL_VAL_ROWS
 * per statement, and count them (unless superseded already: a replayed
 * earlier attempt). */
static int append_step(tsq *s, const tsq_stepbuf *sb)
{
    tsq_val tv = {.sqltype = SQLITE_FLOAT, .u.r = sb->time};
    size_t total = sb->n + 1;
    for (size_t done = 0; done < total;) {
        size_t k = total - done < TSQL_VAL_ROWS ? total - done : TSQL_VAL_ROWS;
        int rc = insert_rows(s, sb, &tv, done, k);
        if (rc)
            return rc;
        done += k;
    }
    if (!TSQ_CURRENT(&s->rs, sb->step))
        return SQLITE_OK;
    tsq_agg_add(s, 0, sb->step, &tv);
    for (size_t j = 0; j < sb->n; j++) {
        const tsq_val *v = &s->batch.vals[sb->first + j];
        tsq_agg_add(s, (size_t)v->key + 1, sb->step, v);
    }
    return SQLITE_OK;
}

/* Is the stored row (columns value, kind of st) exactly v? */
static int same_value(sqlite3_stmt *st, const tsq_val *v, const tsq_arena *a)
{
    int type = sqlite3_column_type(st, 0);
    int kind = sqlite3_column_type(st, 1) == SQLITE_NULL ? 0 : sqlite3_column_int(st, 1);
    if (type != v->sqltype || kind != v->kind)
        return 0;
    switch (type) {
    case SQLITE_INTEGER:
        return sqlite3_column_int64(st, 0) == v->u.i;
    case SQLITE_FLOAT: {
        double d = sqlite3_column_double(st, 0);
        return memcmp(&d, &v->u.r, sizeof d) == 0;
    }
    case SQLITE_TEXT: {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        return t && strcmp(t, a->p + v->u.off) == 0;
    }
    default:
        return 1;
    }
}

/* Look row r of step sb up (its key's id in kid): *found, *same (the
 * stored value is v's). */
static int find_row(tsq *s, const tsq_stepbuf *sb, int64_t kid, const tsq_val *v, int *found,
                    int *same)
{
    sqlite3_stmt *st = s->st[TSQ_VAL_FIND];
    sqlite3_bind_int64(st, 1, sb->run);
    sqlite3_bind_int64(st, 2, sb->attempt);
    sqlite3_bind_int64(st, 3, sb->step);
    sqlite3_bind_int64(st, 4, kid);
    int rc = tsq_row(st, found);
    *same = !rc && *found && same_value(st, v, &s->batch.text);
    sqlite3_reset(st);
    return rc;
}

static int update_row(tsq *s, const tsq_stepbuf *sb, int64_t kid, const tsq_val *v)
{
    sqlite3_stmt *st = s->st[TSQ_VAL_UPDATE];
    sqlite3_bind_int64(st, 1, sb->run);
    sqlite3_bind_int64(st, 2, sb->attempt);
    sqlite3_bind_int64(st, 3, sb->step);
    sqlite3_bind_int64(st, 4, kid);
    int rc = tsq_bind_val(st, 5, v, &s->batch.text);
    return rc ? rc : tsq_step(s, st);
}

/* A step that may already be stored: each of its rows (its time row, then
 * its fields) is looked up; a new row is inserted and counted, a changed
 * one updated and its key's statistics recomputed at the end (rows the
 * attempt's cutoff supersedes count nowhere). */
static int write_checked(tsq *s, const tsq_stepbuf *sb)
{
    tsq_val tv = {.sqltype = SQLITE_FLOAT, .u.r = sb->time};
    int current = TSQ_CURRENT(&s->rs, sb->step), rc = SQLITE_OK;
    for (size_t r = 0; !rc && r <= sb->n; r++) {
        const tsq_val *v = r ? &s->batch.vals[sb->first + r - 1] : &tv;
        size_t ai = r ? (size_t)v->key + 1 : 0;
        int64_t kid = 0;
        int found = 0, same = 0;
        if (r)
            rc = tsq_key_id(s, v->key, &kid);
        if (!rc)
            rc = find_row(s, sb, kid, v, &found, &same);
        if (rc || same)
            continue;
        if (!found) {
            rc = insert_rows(s, sb, &tv, r, 1);
            if (!rc && current)
                tsq_agg_add(s, ai, sb->step, v);
            continue;
        }
        rc = update_row(s, sb, kid, v);
        if (current)
            tsq_agg_entry(s, ai)->dirty = 1;
    }
    return rc;
}

/* The open run still exists (checked when merging, at least once a second
 * while logging): deleted meanwhile (tropt rm --force), its writer stops. */
static int check_run(tsq *s)
{
    sqlite3_stmt *st = s->st[TSQ_RUN_EXISTS];
    sqlite3_bind_int64(st, 1, s->run);
    int found, rc = tsq_row(st, &found);
    sqlite3_reset(st);
    if (rc || found)
        return rc;
    s->run_gone = 1;
    return tsq_refuse(s, TROPT_EBACKEND,
                      "%s: the run was deleted from the file while it was being written (tropt rm "
                      "--force); its steps are no longer stored",
                      s->path);
}

/* Write the batch's steps; *merge is set when one of them must be in the
 * statistics at once (at or below S or the attempt's largest step). */
static int write_steps(tsq *s, int *merge, int *drop_mark)
{
    const tsq_batch *b = &s->batch;
    int rc = SQLITE_OK;
    for (size_t i = 0; !rc && i < b->nsteps; i++) {
        const tsq_stepbuf *sb = &b->steps[i];
        if (sb->step <= s->rs.mark_step)
            *drop_mark = 1;
        if (sb->step > s->rs.max_step) { /* new: insert, no lookup */
            rc = append_step(s, sb);
            s->rs.max_step = sb->step;
            if (sb->step <= s->rs.floor)
                *merge = 1;
        } else {
            rc = write_checked(s, sb);
            *merge = 1;
        }
    }
    return rc;
}

static int write_batch(tsq *s)
{
    tsq_batch *b = &s->batch;
    s->stat_merging = 0;
    s->ntouched = 0;
    if (b->nsteps == 0 && !s->stat_force)
        return SQLITE_OK;
    int merge = 0, drop_mark = 0;
    int rc = tsq_agg_begin(s);
    if (!rc)
        rc = write_steps(s, &merge, &drop_mark);
    if (rc || !s->run)
        return rc;
    if (drop_mark)
        rc = tsq_mark_drop(s, s->run);
    /* Merge now?  Always after a step that may be an old one (the
     * statistics must then cover it at once), for a replayed earlier
     * attempt, at finish and marks, in a large transaction (cheap per
     * step), else once a second. */
    if (!rc && (merge || !s->rs.latest || s->stat_force || b->nsteps >= TSQ_STAT_STEPS ||
                tsq_monotonic() - s->stat_at >= TSQ_STAT_EVERY)) {
        s->stat_merging = 1;
        rc = check_run(s);
        if (!rc)
            rc = tsq_agg_flush(s, s->run);
    } else if (!rc) {
        rc = tsq_pend_reserve(s);
    }
    return rc;
}

static int try_commit(tsq *s, tsq_extra_fn extra, void *arg)
{
    tsq_runstate saved = s->rs;
    s->nfresh = 0;
    int rc = tsq_step(s, s->st[TSQ_BEGIN]);
    if (!rc)
        rc = write_batch(s);
    if (!rc && extra)
        rc = extra(s, arg);
    if (!rc)
        rc = tsq_step(s, s->st[TSQ_COMMIT]);
    if (rc) {
        /* The message of the failure, before the rollback replaces it. */
        if (!s->refused)
            tsq_fail(s, rc, "write to");
        if (!sqlite3_get_autocommit(s->db))
            tsq_step(s, s->st[TSQ_ROLLBACK]);
        /* Ids handed out by the rolled-back transaction do not exist. */
        for (size_t i = 0; i < s->nfresh; i++)
            s->keys.v[s->fresh[i]].id = 0;
        s->rs = saved; /* and so did the rows it counted */
    }
    s->nfresh = 0;
    return rc;
}

int tsq_commit(tsq *s, tsq_extra_fn extra, void *arg)
{
    if (s->batch.nsteps == 0 && !extra)
        return TROPT_OK;
    double deadline = tsq_monotonic() + (double)s->busy_timeout / 1000.0;
    for (int attempt = 0;; attempt++) {
        s->refused = 0;
        int rc = try_commit(s, extra, arg);
        if (rc != SQLITE_OK && s->refused)
            return s->refused; /* refused, not failed: nothing to retry */
        if (rc == SQLITE_OK) {
            tsq_stat_committed(s);
            tsq_batch_clear(s);
            s->failing = 0;
            return TROPT_OK;
        }
        if (retryable(rc) && tsq_monotonic() < deadline) {
            backoff(s, attempt);
            continue;
        }
        s->failing = 1;
        s->retry_at = tsq_monotonic() + TSQ_RETRY_EVERY;
        return (rc & 0xff) == SQLITE_NOMEM ? TROPT_ENOMEM : TROPT_EBACKEND;
    }
}

/* ---- Opening -------------------------------------------------------------- */

static int migrate(tsq *s, void *arg)
{
    (void)arg;
    int64_t v = 0;
    /* Re-read under the write lock: another process may have done it. */
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, TSQL_USER_VERSION, -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        v = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc)
        return rc;
    if (v >= TSQL_SCHEMA_VERSION)
        return SQLITE_OK;
    for (; v < TSQL_SCHEMA_VERSION; v++) {
        for (int i = 0; !rc && migrations[v][i]; i++)
            rc = sqlite3_exec(s->db, migrations[v][i], NULL, NULL, NULL);
        if (rc)
            return rc;
    }
    char sql[128];
    snprintf(sql, sizeof sql, TSQL_SET_VERSION_FMT, TSQL_APPLICATION_ID, TSQL_SCHEMA_VERSION);
    return sqlite3_exec(s->db, sql, NULL, NULL, NULL);
}

static int prepare_all(tsq *s)
{
    for (int i = 0; i < TSQ_NSTMT; i++) {
        int rc =
            sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL);
        if (rc)
            return rc;
    }
    return SQLITE_OK;
}

/* The first read of the file: a non-database file fails here.  A database
 * that is neither empty nor ours is refused before anything is written to it
 * (no tables, no pragma, no switch to WAL). */
static int check_foreign(tsq *s)
{
    long long app0 = 0, objects = 0;
    /* one statement, so both come from one snapshot: another process may
     * be creating the schema (tables and application_id in one
     * transaction) right now */
    char both[64] = "";
    int rc = exec_retry(s,
                        "SELECT (SELECT application_id FROM pragma_application_id()) || ' ' ||"
                        " (SELECT count(*) FROM sqlite_master)",
                        both, sizeof both);
    if (rc)
        return tsq_fail(s, rc, "open");
    if (sscanf(both, "%lld %lld", &app0, &objects) != 2) {
        snprintf(s->err, sizeof s->err, "cannot use %s: cannot read its header", s->path);
        return TROPT_EBACKEND;
    }
    if (app0 != TSQL_APPLICATION_ID && (app0 != 0 || objects > 0)) {
        snprintf(s->err, sizeof s->err,
                 "cannot use %s: not a tropt database (another application's: application_id "
                 "0x%llx, %lld schema objects); it was left untouched",
                 s->path, (unsigned long long)app0, objects);
        return TROPT_EBACKEND;
    }
    return TROPT_OK;
}

/* WAL (a warning when the file system refuses it) and the sync level. */
static int configure_journal(tsq *s)
{
    char mode[32] = "";
    int rc = exec_retry(s, TSQL_WAL, mode, sizeof mode);
    if (rc)
        return tsq_fail(s, rc, "open");
    if (strcmp(mode, "wal") != 0)
        TROPT_HOST_LOG(s->host, TROPT_LEVEL_WARNING,
                       "%s: cannot use WAL (journal_mode is %s); readers may "
                       "delay writers",
                       s->path, mode);
    rc = exec_retry(s, s->sync_full ? TSQL_SYNC_FULL : TSQL_SYNC_NORMAL, NULL, 0);
    return rc ? tsq_fail(s, rc, "configure") : TROPT_OK;
}

/* Create or upgrade the schema in one transaction: only the transaction
 * statements exist yet (the others name tables a migration may create). */
static int upgrade_schema(tsq *s)
{
    for (int i = TSQ_BEGIN; i <= TSQ_ROLLBACK; i++) {
        int rc = sqlite3_prepare_v2(s->db, stmt_sql[i], -1, &s->st[i], NULL);
        if (rc)
            return tsq_fail(s, rc, "prepare statements for");
    }
    int r = tsq_commit(s, migrate, NULL);
    if (r) {
        size_t len = strlen(s->err);
        snprintf(s->err + len, sizeof s->err - len, " (creating the schema)");
        return r;
    }
    for (int i = TSQ_BEGIN; i <= TSQ_ROLLBACK; i++) {
        sqlite3_finalize(s->st[i]);
        s->st[i] = NULL;
    }
    return TROPT_OK;
}

/* The schema: ours (or none yet) and not newer than this plugin's, then
 * created or upgraded. */
static int ensure_schema(tsq *s)
{
    int64_t app = 0, version = 0;
    int rc = read_int_pragma(s, TSQL_APP_ID, &app);
    if (!rc)
        rc = read_int_pragma(s, TSQL_USER_VERSION, &version);
    if (rc)
        return tsq_fail(s, rc, "read");
    if (app != 0 && app != TSQL_APPLICATION_ID) {
        snprintf(s->err, sizeof s->err,
                 "cannot use %s: not a tropt database (application_id 0x%llx)", s->path,
                 (unsigned long long)app);
        return TROPT_EBACKEND;
    }
    if (version > TSQL_SCHEMA_VERSION) {
        snprintf(s->err, sizeof s->err,
                 "cannot use %s: its schema version %lld is newer than this plugin's (%d); "
                 "upgrade tropt",
                 s->path, (long long)version, TSQL_SCHEMA_VERSION);
        return TROPT_EBACKEND;
    }
    return version < TSQL_SCHEMA_VERSION ? upgrade_schema(s) : TROPT_OK;
}

int tsq_open(tsq *s)
{
    s->rng = (uint64_t)getpid() * 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)s;
    if (!s->rng)
        s->rng = 1;
    int rc = sqlite3_open_v2(
        s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc) {
        int r = tsq_fail(s, rc, "open");
        sqlite3_close_v2(s->db);
        s->db = NULL;
        return r;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_handler(s->db, busy_cb, s);
    int r = check_foreign(s);
    if (r == TROPT_OK)
        r = configure_journal(s);
    if (r == TROPT_OK)
        r = ensure_schema(s);
    if (r != TROPT_OK)
        return r;
    rc = prepare_all(s);
    if (rc)
        return tsq_fail(s, rc, "prepare statements for");
    tsq_open_checkpointer(s);
    return TROPT_OK;
}

void tsq_close(tsq *s)
{
    for (int i = 0; i < TSQ_NSTMT; i++) {
        sqlite3_finalize(s->st[i]);
        s->st[i] = NULL;
    }
    for (int i = 0; i <= TSQL_VAL_ROWS; i++) {
        sqlite3_finalize(s->ins[i]);
        s->ins[i] = NULL;
    }
    for (int i = 0; i <= TSQL_STAT_ROWS; i++) {
        sqlite3_finalize(s->stat[i]);
        s->stat[i] = NULL;
    }
    if (s->db)
        sqlite3_close_v2(s->db);
    s->db = NULL;
    /* Left last: the file's last connection (the checkpointer's, once no
     * tracker of this process writes the file) checkpoints and removes the
     * WAL. */
    tsq_release_checkpointer(s);
}
