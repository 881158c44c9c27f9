/*
 * plugins/sqlite/sqlite_meta.c - the sqlite backend's ABI 1.2 hooks: a run's
 * tags, note and name (annotate), deleting a run (delete_run), checkpoint
 * marks and system samples of the open run.  Each is one transaction,
 * committed before the hook returns, together with the steps pending then.
 *
 * Deleting a run deletes its rows from every table (the file does not
 * shrink: SQLite keeps the freed pages on its freelist and the next writes
 * reuse them; VACUUM gives them back to the file system) and leaves a
 * tombstone: a later init of the id (a replayed journal that still holds
 * the run) is refused, and the run's integer id is never given again.
 */
#include "sqlite_priv.h"

#include <stdio.h>
#include <string.h>

static const char *const delete_sql[] = TSQL_DELETE_ROWS;

/* The integer id of run uuid; no such run is refused (TROPT_EINVAL). */
static int find_run(tsq *s, const char *uuid, int64_t *id)
{
    sqlite3_stmt *st = s->st[TSQ_RUN_ID];
    sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
    int found, rc = tsq_row(st, &found);
    if (!rc && found)
        *id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc || found)
        return rc;
    st = s->st[TSQ_RUN_DELETED];
    sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
    rc = tsq_row(st, &found);
    sqlite3_reset(st);
    if (rc)
        return rc;
    return tsq_refuse(s, TROPT_EINVAL, "%s: no run %s in this file%s", s->path, uuid,
                      found ? " (it was deleted)" : "");
}

/* Commit `fn` (with the pending steps; `merge`: and their statistics) under
 * the lock; its refusal or failure is the hook's error. */
static int commit_hook(tsq *s, tsq_extra_fn fn, void *arg, int merge)
{
    pthread_mutex_lock(&s->lock);
    if (merge)
        s->stat_force = 1;
    int rc = tsq_commit(s, fn, arg);
    if (rc != TROPT_OK && s->run_gone)
        tsq_purge_gone(s);
    if (rc != TROPT_OK)
        rc = s->host->error(rc, "%s", s->err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ---- tags, note, name ------------------------------------------------- */

struct annotate_arg {
    const char *run_id;
    const tropt_annotation *a;
};

static int write_annotate(tsq *s, void *arg)
{
    struct annotate_arg *x = arg;
    int64_t id = 0;
    int rc = find_run(s, x->run_id, &id);
    if (rc)
        return rc;
    static const int which[] = {
        [TROPT_ANNOTATE_TAG] = TSQ_TAG_ADD,
        [TROPT_ANNOTATE_UNTAG] = TSQ_TAG_DEL,
        [TROPT_ANNOTATE_NOTE] = TSQ_RUN_NOTE,
        [TROPT_ANNOTATE_RENAME] = TSQ_RUN_RENAME,
    };
    if ((unsigned)x->a->kind >= sizeof which / sizeof *which || !which[x->a->kind])
        return tsq_refuse(s, TROPT_EINVAL, "%s: unknown annotation kind %d", s->path,
                          (int)x->a->kind);
    sqlite3_stmt *st = s->st[which[x->a->kind]];
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, x->a->text, -1, SQLITE_STATIC);
    if (x->a->kind == TROPT_ANNOTATE_TAG)
        sqlite3_bind_double(st, 3, x->a->time);
    rc = tsq_step(s, st);
    sqlite3_clear_bindings(st);
    return rc;
}

int tsq_annotate(void *self, const char *run_id, const tropt_annotation *a)
{
    struct annotate_arg x = {run_id, a};
    return commit_hook(self, write_annotate, &x, 0);
}

/* ---- deleting a run --------------------------------------------------- */

/* Every row of run id, in every table (and the run itself). */
static int delete_rows(tsq *s, int64_t id)
{
    int rc = SQLITE_OK;
    for (size_t i = 0; !rc && i < sizeof delete_sql / sizeof *delete_sql; i++) {
        sqlite3_stmt *st = NULL;
        rc = sqlite3_prepare_v2(s->db, delete_sql[i], -1, &st, NULL);
        if (!rc)
            rc = sqlite3_bind_int64(st, 1, id);
        if (!rc)
            rc = tsq_step(s, st);
        sqlite3_finalize(st);
    }
    return rc;
}

static int write_delete(tsq *s, void *arg)
{
    const char *uuid = arg;
    int64_t id = 0;
    int rc = find_run(s, uuid, &id);
    if (rc)
        return rc;
    if (id == s->run)
        return tsq_refuse(s, TROPT_EINVAL, "%s: run %s is this tracker's open run", s->path, uuid);
    rc = delete_rows(s, id);
    if (rc)
        return rc;
    sqlite3_stmt *st = s->st[TSQ_TOMBSTONE];
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, uuid, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 3, s->host->now());
    rc = tsq_step(s, st);
    sqlite3_clear_bindings(st);
    return rc;
}

int tsq_delete_run(void *self, const char *run_id)
{
    return commit_hook(self, write_delete, (void *)run_id, 0);
}

static int write_purge(tsq *s, void *arg)
{
    (void)arg;
    return delete_rows(s, s->run);
}

void tsq_purge_gone(tsq *s)
{
    tsq_batch_clear(s);
    tsq_pend_drop(s);
    s->stat_force = 0;
    s->failing = 0;
    if (tsq_commit(s, write_purge, NULL) != TROPT_OK)
        TROPT_HOST_LOG(s->host, TROPT_LEVEL_WARNING,
                       "%s (rows of the deleted run written meanwhile are left in the file)",
                       s->err);
    s->run_gone = 1; /* the purge's own failure, if any, kept the message */
}

/* ---- checkpoint marks ------------------------------------------------- */

/* A mark of the open attempt taken at step c, right after its statistics
 * were merged: when they hold no step above c, copy them (a run resumed at
 * c + 1 gets them back without reading its rows); else the copy goes. */
static int save_stat_copy(tsq *s, int64_t c)
{
    int64_t S = -1;
    sqlite3_bind_int64(s->st[TSQ_RUN_STAT_STEP], 1, s->run);
    int rc = tsq_int(s->st[TSQ_RUN_STAT_STEP], &S);
    if (rc)
        return rc;
    if (!s->rs.latest || c < 0 || c == INT64_MAX || S > c)
        return s->rs.mark_step >= 0 ? tsq_mark_drop(s, s->run) : SQLITE_OK;
    static const int save[] = {TSQ_MARK_CLEAR, TSQ_MARK_SAVE};
    for (size_t i = 0; !rc && i < sizeof save / sizeof *save; i++) {
        sqlite3_bind_int64(s->st[save[i]], 1, s->run);
        rc = tsq_step(s, s->st[save[i]]);
    }
    sqlite3_stmt *st = s->st[TSQ_MARK_SET];
    sqlite3_bind_int64(st, 1, s->run);
    sqlite3_bind_int64(st, 2, c);
    if (!rc && (rc = tsq_step(s, st)) == SQLITE_OK)
        s->rs.mark_step = c;
    return rc;
}

static int write_mark(tsq *s, void *arg)
{
    const tropt_checkpoint *m = arg;
    sqlite3_stmt *st = s->st[TSQ_MARK_UPSERT];
    sqlite3_bind_int64(st, 1, s->run);
    sqlite3_bind_int64(st, 2, m->attempt);
    sqlite3_bind_int64(st, 3, m->seq);
    sqlite3_bind_int64(st, 4, m->step);
    sqlite3_bind_double(st, 5, m->time);
    sqlite3_bind_text(st, 6, m->path, -1, SQLITE_STATIC);
    if (m->size >= 0)
        sqlite3_bind_int64(st, 7, m->size);
    else
        sqlite3_bind_null(st, 7);
    if (m->sha256)
        sqlite3_bind_text(st, 8, m->sha256, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 8);
    if (m->error)
        sqlite3_bind_text(st, 9, m->error, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 9);
    int rc = tsq_step(s, st);
    sqlite3_clear_bindings(st);
    if (!rc && m->attempt == s->attempt && m->size < 0 && !m->sha256 && !m->error)
        rc = save_stat_copy(s, m->step);
    return rc;
}

int tsq_checkpoint(void *self, const tropt_run *run, const tropt_checkpoint *mark)
{
    tsq *s = self;
    (void)run;
    if (!mark->path)
        return s->host->error(TROPT_EINVAL, "%s: a checkpoint mark without a path", s->path);
    /* Committed with the pending steps: the mark is never durable before
     * the steps it follows.  The first call also merges their statistics,
     * which the mark's copy of them needs. */
    return commit_hook(s, write_mark, (void *)mark,
                       mark->size < 0 && !mark->sha256 && !mark->error);
}

/* ---- system samples --------------------------------------------------- */

struct system_arg {
    double time;
    const tropt_sample *v;
    size_t n;
};

static int write_system(tsq *s, void *arg)
{
    struct system_arg *x = arg;
    sqlite3_stmt *st = s->st[TSQ_SYS_INSERT];
    int rc = SQLITE_OK;
    for (size_t i = 0; !rc && i < x->n; i++) {
        uint32_t index;
        int64_t kid = 0;
        if (tsq_key_intern(s, x->v[i].key, &index) != TROPT_OK)
            return SQLITE_NOMEM;
        rc = tsq_key_id(s, index, &kid);
        sqlite3_bind_int64(st, 1, s->run);
        sqlite3_bind_int64(st, 2, s->attempt);
        sqlite3_bind_double(st, 3, x->time);
        sqlite3_bind_int64(st, 4, kid);
        sqlite3_bind_double(st, 5, x->v[i].value);
        sqlite3_bind_double(st, 6, x->v[i].max);
        if (!rc)
            rc = tsq_step(s, st);
    }
    return rc;
}

int tsq_log_system(void *self, const tropt_run *run, double time, const tropt_sample *samples,
                   size_t n)
{
    (void)run;
    struct system_arg x = {time, samples, n};
    return n ? commit_hook(self, write_system, &x, 0) : TROPT_OK;
}
