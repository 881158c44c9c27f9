/*
 * plugins/sqlite/sqlite.c - the sqlite backend: options, hooks and the
 * commit timer.
 *
 * Durability.  A step is durable once the transaction holding it commits:
 * the database is in WAL mode and a commit has written the step's pages to
 * the WAL file through write(2), so the kernel holds them and a killed
 * process cannot lose them.  synchronous=NORMAL (the default, sync=normal)
 * does not fsync on commit, so an OS crash or power cut may still lose the
 * last commits; sync=full fsyncs the WAL on every commit and survives those
 * too.  The database is consistent after a kill at any instant (SQLite's
 * WAL recovery), so it always opens and passes PRAGMA integrity_check.
 *
 * When does a step commit?
 *   commit_every=N (default 1)  as soon as N steps are pending, inside the
 *                               log call that makes them N, before it
 *                               returns.  N=1: every step is durable when
 *                               its log returns.
 *   commit_interval=T (ms)      also when the oldest pending step is T old:
 *                               checked by each log call and by a timer
 *                               thread, so it holds while the optimizer
 *                               does not log.  Given alone, N is unbounded.
 *   always                      at flush, finish and init (barriers), and
 *                               when 8192 values are pending.
 * So a kill loses at most the steps logged since the last commit: fewer than
 * N steps, all logged less than T before the kill (T plus the time of one
 * commit, if the kill lands during the timer's commit).
 */
#include "sqlite_priv.h"
#include "sqlite_read.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum {
    SQLITE_OPT_PATH,
    SQLITE_OPT_COMMIT_EVERY,
    SQLITE_OPT_COMMIT_INTERVAL,
    SQLITE_OPT_SYNC,
    SQLITE_OPT_BUSY_TIMEOUT,
    SQLITE_OPT_COUNT
};

static const char *const sync_choices[] = {"normal", "full", NULL};

static const tropt_option_def options[] = {
    [SQLITE_OPT_PATH] = TROPT_OPTION_PATH(
        "path", "tropt.db", "database file, created if missing (its folder must exist)"),
    [SQLITE_OPT_COMMIT_EVERY] =
        TROPT_OPTION_INT("commit_every", "1", 1, 1e9,
                         "commit every N steps; 1: each step durable when log returns "
                         "(unbounded when only commit_interval is given)"),
    [SQLITE_OPT_COMMIT_INTERVAL] =
        TROPT_OPTION_DURATION("commit_interval", "0", 0, 3600000,
                              "also commit once the oldest pending step is this old "
                              "(e.g. 250ms, 2s; 0: off)"),
    [SQLITE_OPT_SYNC] =
        TROPT_OPTION_ENUM("sync", "normal", sync_choices,
                          "normal: commits survive a killed process; full: also an OS crash or "
                          "power loss (fsync per commit)"),
    [SQLITE_OPT_BUSY_TIMEOUT] =
        TROPT_OPTION_DURATION("busy_timeout", "60s", 0, 3600000,
                              "how long a commit waits for other writers before failing"),
    [SQLITE_OPT_COUNT] = TROPT_OPTIONS_END,
};
TROPT_OPTIONS_CHECK(options, SQLITE_OPT_COUNT);

/* ---- The commit timer ----------------------------------------------------- */

static void abstime(double mono, struct timespec *ts)
{
    double sec = floor(mono);
    ts->tv_sec = (time_t)sec;
    ts->tv_nsec = (long)((mono - sec) * 1e9);
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *timer_main(void *arg)
{
    tsq *s = arg;
    double interval = (double)s->commit_interval / 1000.0;
    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        if (s->batch.nsteps == 0) {
            pthread_cond_wait(&s->wake, &s->lock);
            continue;
        }
        double due = s->batch.first_at + interval;
        if (s->failing && due < s->retry_at) /* tsq_commit's own pacing */
            due = s->retry_at;
        double now = tsq_monotonic();
        if (now < due) {
            struct timespec ts;
            abstime(due, &ts);
            pthread_cond_timedwait(&s->wake, &s->lock, &ts);
            continue;
        }
        if (tsq_commit(s, NULL, NULL) != TROPT_OK) {
            if (s->run_gone)
                tsq_purge_gone(s);
            /* Report outside the lock: the application's log handler may
             * take locks of its own. */
            char msg[sizeof s->err];
            snprintf(msg, sizeof msg, "%s", s->err);
            pthread_mutex_unlock(&s->lock);
            TROPT_HOST_LOG(s->host, TROPT_LEVEL_WARNING, "%s (will retry)", msg);
            pthread_mutex_lock(&s->lock);
        }
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* ---- Hooks ---------------------------------------------------------------- */

static void sq_destroy(void *self);

static int sq_create(void **self, const tropt_optval *o, const tropt_host *host)
{
    *self = NULL;
    if (host->struct_size < TROPT_HOST_MIN_SIZE)
        return TROPT_EPLUGIN;
    tsq *s = host->malloc(sizeof *s);
    if (!s)
        return host->error(TROPT_ENOMEM, "out of memory");
    memset(s, 0, sizeof *s);
    s->host = host;
    tev_buf_init(&s->json, host->realloc, host->free);
    const char *path = o[SQLITE_OPT_PATH].text ? o[SQLITE_OPT_PATH].text : "tropt.db";
    s->path = tropt_host_strdup(host, path);
    if (!s->path) {
        host->free(s);
        return host->error(TROPT_ENOMEM, "out of memory");
    }
    s->commit_interval = o[SQLITE_OPT_COMMIT_INTERVAL].i;
    s->commit_every = o[SQLITE_OPT_COMMIT_EVERY].i;
    if (!o[SQLITE_OPT_COMMIT_EVERY].is_set && s->commit_interval > 0)
        s->commit_every = INT64_MAX;
    if (s->commit_every < 1)
        s->commit_every = 1;
    s->sync_full = o[SQLITE_OPT_SYNC].i == 1;
    s->busy_timeout = o[SQLITE_OPT_BUSY_TIMEOUT].i;
    if (gethostname(s->hostname, sizeof s->hostname - 1) != 0)
        s->hostname[0] = '\0';
    /* Containers share hostnames but not pids: a run's pid is judged only
     * by a writer of the same pid namespace (see tsq_mark_stale). */
    ssize_t nsl = readlink("/proc/self/ns/pid", s->pidns, sizeof s->pidns - 1);
    s->pidns[nsl > 0 ? nsl : 0] = '\0';

    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, &ca);
    pthread_condattr_destroy(&ca);

    int rc = tsq_open(s);
    if (rc == TROPT_OK)
        rc = tsq_mark_stale(s);
    if (rc == TROPT_OK)
        tsq_checkpointer_start(s);
    if (rc == TROPT_OK && s->commit_interval > 0) {
        int e = pthread_create(&s->timer, NULL, timer_main, s);
        if (e != 0) { /* its error is the return value: errno is not set */
            snprintf(s->err, sizeof s->err, "%s: cannot start the commit timer thread: %s", s->path,
                     strerror(e));
            rc = TROPT_EBACKEND;
        } else {
            s->timer_running = 1;
        }
    }
    if (rc != TROPT_OK) {
        host->error(rc, "%s", s->err);
        sq_destroy(s);
        return rc;
    }
    *self = s;
    return TROPT_OK;
}

struct init_arg {
    const tropt_run *run;
    size_t n;
    int has_config;
    size_t config_off;
    int64_t id;
};

/* Insert the first n flattened values of s->svals with st, whose ?1 (the
 * run or params owner) is bound already: ?2 the key's id, ?3 the value.
 * SQLITE_OK or the first error. */
static int insert_svals(tsq *s, sqlite3_stmt *st, size_t n)
{
    int rc = SQLITE_OK;
    for (size_t i = 0; !rc && i < n; i++) {
        int64_t kid;
        rc = tsq_key_id(s, s->svals[i].key, &kid);
        if (!rc)
            rc = sqlite3_bind_int64(st, 2, kid);
        if (!rc)
            rc = tsq_bind_val(st, 3, &s->svals[i], &s->scratch);
        if (!rc)
            rc = tsq_step(s, st);
    }
    return rc;
}

static int write_init(tsq *s, void *arg)
{
    struct init_arg *a = arg;
    int rc =
        tsq_open_attempt(s, a->run, a->has_config ? s->scratch.p + a->config_off : NULL, &a->id);
    if (rc || !s->rs.latest) /* a replayed earlier attempt: the params are the latest's */
        return rc;
    sqlite3_bind_int64(s->st[TSQ_PARAM_CLEAR], 1, a->id);
    rc = tsq_step(s, s->st[TSQ_PARAM_CLEAR]);
    sqlite3_stmt *st = s->st[TSQ_PARAM_INSERT];
    sqlite3_bind_int64(st, 1, a->id);
    if (!rc)
        rc = insert_svals(s, st, a->n);
    return rc;
}

static int sq_init(void *self, const tropt_run *run, const json_t *config,
                   const tropt_field *params, size_t n_params)
{
    tsq *s = self;
    struct init_arg a = {.run = run, .n = n_params};
    pthread_mutex_lock(&s->lock);
    int rc = tsq_fields_scratch(s, params, n_params);
    if (!rc && config) {
        a.has_config = 1;
        rc = tsq_arena_json(s, &s->scratch, config, &a.config_off);
    }
    if (!rc)
        rc = tsq_commit(s, write_init, &a);
    if (!rc) {
        s->run = a.id;
        s->attempt = TROPT_HOST_RUN_V12(s->host) && run->attempt > 1 ? run->attempt : 1;
        s->run_gone = 0;
        s->stat_at = 0; /* the run's first rows merge its statistics at once */
    } else
        rc = s->host->error(rc, "%s", s->err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int sq_log(void *self, const tropt_run *run, int64_t step, double time,
                  const tropt_field *fields, size_t n)
{
    tsq *s = self;
    (void)run;
    int rc;
    pthread_mutex_lock(&s->lock);
    if (s->run_gone) {
        rc = s->host->error(TROPT_EBACKEND, "%s (step %lld)", s->err, (long long)step);
        goto out;
    }
    if (s->failing && s->batch.nvals + n > TSQ_MAX_FAILING_VALUES) {
        rc = s->host->error(TROPT_EBACKEND,
                            "%s; step %lld not stored: %zu steps already wait for a commit", s->err,
                            (long long)step, s->batch.nsteps);
        goto out;
    }
    rc = tsq_batch_add(s, step, time, fields, n);
    if (rc) {
        rc = s->host->error(rc, "%s", s->err);
        goto out;
    }
    const tsq_batch *b = &s->batch;
    if (s->failing && tsq_monotonic() < s->retry_at) {
        /* kept, and said so, without retrying the failing commit yet */
        rc = s->host->error(TROPT_EBACKEND,
                            "%s (%zu step(s) kept in memory; the next commit is tried within "
                            "%.0f s, or at flush or finish)",
                            s->err, s->batch.nsteps, TSQ_RETRY_EVERY);
    } else if ((int64_t)b->nsteps >= s->commit_every || b->nvals >= TSQ_MAX_PENDING_VALUES ||
               (s->commit_interval > 0 &&
                (tsq_monotonic() - b->first_at) * 1000.0 >= (double)s->commit_interval)) {
        rc = tsq_commit(s, NULL, NULL);
        if (rc && s->run_gone) {
            tsq_purge_gone(s);
            rc = s->host->error(rc, "%s", s->err);
        } else if (rc) {
            rc = s->host->error(rc, "%s (%zu step(s) kept in memory for the next commit)", s->err,
                                s->batch.nsteps);
        }
    } else if (s->timer_running && b->nsteps == 1) {
        pthread_cond_signal(&s->wake); /* a new deadline for the timer */
    }
out:
    pthread_mutex_unlock(&s->lock);
    return rc;
}

struct finish_arg {
    const char *status;
    double ended_at;
    size_t n;
};

static int write_finish(tsq *s, void *arg)
{
    struct finish_arg *a = arg;
    sqlite3_stmt *st = s->st[TSQ_ATT_END];
    sqlite3_bind_int64(st, 1, s->run);
    sqlite3_bind_int64(st, 2, s->attempt);
    sqlite3_bind_text(st, 3, a->status, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 4, a->ended_at);
    int rc = tsq_step(s, st);
    sqlite3_clear_bindings(st);
    if (rc || !s->rs.latest) /* a replayed earlier attempt: the run is the latest's */
        return rc;
    sqlite3_bind_int64(s->st[TSQ_SUMMARY_CLEAR], 1, s->run);
    rc = tsq_step(s, s->st[TSQ_SUMMARY_CLEAR]);
    st = s->st[TSQ_SUMMARY_INSERT];
    sqlite3_bind_int64(st, 1, s->run);
    if (!rc)
        rc = insert_svals(s, st, a->n);
    if (rc)
        return rc;
    st = s->st[TSQ_RUN_END];
    sqlite3_bind_int64(st, 1, s->run);
    sqlite3_bind_text(st, 2, a->status, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 3, a->ended_at);
    rc = tsq_step(s, st);
    sqlite3_clear_bindings(st);
    return rc;
}

/* After a commit: the file those commits went to must still be the one at
 * `path`.  Deleted (or replaced) mid-run, every commit still succeeds into
 * the unlinked inode and the data is lost when the process ends (issue 18
 * #16); say so instead of returning OK.  Returns TROPT_OK or an error. */
static int still_there(tsq *s)
{
    int moved = 0;
    if (sqlite3_file_control(s->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK && moved)
        return s->host->error(TROPT_EBACKEND,
                              "%s was deleted or replaced while the run was open; the "
                              "steps since are in the deleted file only and are lost when this "
                              "process ends",
                              s->path);
    return TROPT_OK;
}

static int sq_finish(void *self, const tropt_run *run, const char *status, double ended_at,
                     const json_t *summary, const tropt_field *flat, size_t n_flat)
{
    tsq *s = self;
    (void)run;
    (void)summary;
    struct finish_arg a = {.status = status, .ended_at = ended_at, .n = n_flat};
    pthread_mutex_lock(&s->lock);
    int rc = tsq_fields_scratch(s, flat, n_flat);
    if (!rc && (rc = still_there(s)) != TROPT_OK) {
        pthread_mutex_unlock(&s->lock); /* the run stays open, as after any failed finish */
        return rc;
    }
    if (!rc && !s->run_gone) {
        s->stat_force = 1; /* the statistics are final with the run */
        rc = tsq_commit(s, write_finish, &a);
    }
    if (s->run_gone) { /* nothing left to finish: said by the log calls already */
        tsq_purge_gone(s);
        TROPT_HOST_LOG(s->host, TROPT_LEVEL_WARNING, "%s", s->err);
        rc = TROPT_OK;
    }
    if (!rc) {
        s->run = 0;
        s->run_gone = 0;
        tsq_checkpoint_kick(s); /* copy the run back into the database, off this call */
    } else
        rc = s->host->error(rc, "%s", s->err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int sq_flush(void *self)
{
    tsq *s = self;
    pthread_mutex_lock(&s->lock);
    int rc = still_there(s);
    if (!rc && (rc = tsq_commit(s, NULL, NULL)) != TROPT_OK) {
        if (s->run_gone)
            tsq_purge_gone(s);
        rc = s->host->error(rc, "%s", s->err);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static void sq_destroy(void *self)
{
    tsq *s = self;
    if (!s)
        return;
    const tropt_host *host = s->host;
    if (s->timer_running) {
        pthread_mutex_lock(&s->lock);
        s->stop = 1;
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->timer, NULL);
    }
    tsq_checkpointer_stop(s);
    if (s->db && s->batch.nsteps > 0 && tsq_commit(s, NULL, NULL) != TROPT_OK)
        TROPT_HOST_LOG(host, TROPT_LEVEL_ERROR, "%s: %zu step(s) could not be written", s->err,
                       s->batch.nsteps);
    tsq_close(s);
    tsq_batch_free(s);
    tsq_keys_free(s);
    host->free(s->fresh);
    host->free(s->agg);
    host->free(s->touched);
    host->free(s->pend);
    host->free(s->pend_touched);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    host->free(s->path);
    host->free(s);
}

static const tropt_plugin sqlite_plugin = {
    .abi_version = TROPT_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(tropt_plugin),
    .name = "sqlite",
    .description = "SQLite database queried with plain SQL (views runs, params, metrics, "
                   "summary, metrics_history, checkpoints, system); the embedded default",
    .options = options,
    .create = sq_create,
    .init = sq_init,
    .log = sq_log,
    .finish = sq_finish,
    .flush = sq_flush,
    .destroy = sq_destroy,
    .reader_open = tsq_reader_open,
    .list_runs = tsq_list_runs,
    .read_run = tsq_read_run,
    .reader_close = tsq_reader_close,
    .annotate = tsq_annotate,
    .delete_run = tsq_delete_run,
    .checkpoint = tsq_checkpoint,
    .log_system = tsq_log_system,
};

TROPT_PLUGIN_EXPORT const tropt_plugin *tropt_plugin_entry(void)
{
    return &sqlite_plugin;
}
