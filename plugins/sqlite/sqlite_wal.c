/*
 * plugins/sqlite/sqlite_wal.c - the WAL checkpoint thread and its WAL hook,
 * and the stale-run sweep a writer does when it opens the file.
 */
#include "sqlite_priv.h"

#include <errno.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* ---- Checkpoints ---------------------------------------------------------- */

/*
 * SQLite's automatic checkpoint runs inside the COMMIT that crosses 1000 WAL
 * frames and copies them all back into the database, with two fsyncs: every
 * few hundred steps one log call took 15-40 ms.  Here the writer's automatic
 * checkpoint is replaced by a WAL hook that wakes a thread of the tracker's
 * every TSQ_CKPT_FRAMES frames; the thread checkpoints (PASSIVE: it never
 * waits for, nor blocks, a reader or writer) through a connection of its own
 * while log calls go on committing.  It never takes the tracker's lock.
 *
 * The WAL starts over from its beginning only when a writer begins a
 * transaction while it is wholly copied back.  An optimizer that computes
 * between steps leaves the thread that moment; a tight loop of per-step
 * commits appends frames during every pass, so it may never come.  Then the
 * commit that takes the WAL past TSQ_CKPT_HARD frames asks the thread for one
 * more pass, and the first commit after that pass completes the checkpoint
 * from the hook, as SQLite's own would, but with only the frames written
 * during the pass to sync and copy instead of a thousand; the next commit
 * starts the WAL over.  Past TSQ_CKPT_FORCE frames (a slow disk the thread
 * cannot keep up with) the hook completes it whatever is left, so the WAL
 * stays bounded.  A checkpoint held back by a reader (which nothing can
 * help) is retried every TSQ_CKPT_HARD frames by the hook and every
 * TSQ_CKPT_FRAMES by the thread.
 */

/* One per database file (device and inode) and process. */
typedef struct tsq_ckpt {
    struct tsq_ckpt *next; /* the registry's list */
    dev_t dev;
    ino_t ino;
    int refs;                /* trackers holding it, under reg_lock */
    void (*free_fn)(void *); /* the host's free (the tracker that made it may be gone) */
    sqlite3 *db;
    pthread_t thread;
    pthread_mutex_t lock; /* guards kick, stop; never held with a tracker's lock */
    pthread_cond_t wake;
    int kick, stop;
    atomic_int done; /* WAL frames the thread's last pass left copied; 0: none */
} tsq_ckpt;

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static tsq_ckpt *reg;
static pthread_once_t reg_once = PTHREAD_ONCE_INIT;

/* A forked child has none of its parent's threads: it starts with an empty
 * registry (the parent's trackers are refused there by the host), and a
 * lock that no thread of its own holds. */
static void reg_child(void)
{
    reg = NULL;
    pthread_mutex_init(&reg_lock, NULL);
}

static void reg_init(void)
{
    pthread_atfork(NULL, NULL, reg_child);
}

static void *checkpointer_main(void *arg)
{
    tsq_ckpt *c = arg;
    pthread_mutex_lock(&c->lock);
    while (!c->stop) {
        if (!c->kick) {
            pthread_cond_wait(&c->wake, &c->lock);
            continue;
        }
        c->kick = 0;
        pthread_mutex_unlock(&c->lock);
        /* Errors (busy, disk full) are left to the next pass. */
        int log = 0, done = 0;
        int rc = sqlite3_wal_checkpoint_v2(c->db, "main", SQLITE_CHECKPOINT_PASSIVE, &log, &done);
        atomic_store(&c->done, rc == SQLITE_OK && done > 0 ? done : 0);
        pthread_mutex_lock(&c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* A new checkpointer for s's file, or NULL (after a warning). */
static tsq_ckpt *ckpt_new(tsq *s, const struct stat *st)
{
    tsq_ckpt *c = s->host->malloc(sizeof *c);
    if (!c) {
        TROPT_HOST_LOG(s->host, TROPT_LEVEL_WARNING,
                       "%s: out of memory for background checkpoints; commits "
                       "checkpoint themselves",
                       s->path);
        return NULL;
    }
    memset(c, 0, sizeof *c);
    c->dev = st->st_dev;
    c->ino = st->st_ino;
    c->free_fn = s->host->free;
    int rc = sqlite3_open_v2(s->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    /* A connection knows the file is in WAL mode once it has read it. */
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(c->db, 1000);
        rc = sqlite3_exec(c->db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
    }
    const char *why = rc != SQLITE_OK ? (c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc)) : NULL;
    if (!why) {
        pthread_mutex_init(&c->lock, NULL);
        pthread_cond_init(&c->wake, NULL);
        int e = pthread_create(&c->thread, NULL, checkpointer_main, c);
        if (e != 0) { /* its error is the return value: errno is not set */
            why = strerror(e);
            pthread_cond_destroy(&c->wake);
            pthread_mutex_destroy(&c->lock);
        }
    }
    if (why) {
        TROPT_HOST_LOG(s->host, TROPT_LEVEL_WARNING,
                       "%s: no background checkpoints (%s); commits checkpoint themselves", s->path,
                       why);
        sqlite3_close_v2(c->db);
        s->host->free(c);
        return NULL;
    }
    return c;
}

void tsq_open_checkpointer(tsq *s)
{
    struct stat st;
    if (stat(s->path, &st) != 0)
        return; /* SQLite's automatic checkpoint stays */
    pthread_once(&reg_once, reg_init);
    pthread_mutex_lock(&reg_lock);
    tsq_ckpt *c = reg;
    while (c && !(c->dev == st.st_dev && c->ino == st.st_ino))
        c = c->next;
    if (!c && (c = ckpt_new(s, &st)) != NULL) {
        c->next = reg;
        reg = c;
    }
    if (c)
        c->refs++;
    s->ck = c;
    pthread_mutex_unlock(&reg_lock);
}

void tsq_release_checkpointer(tsq *s)
{
    tsq_ckpt *c = s->ck;
    if (!c)
        return;
    s->ck = NULL;
    pthread_mutex_lock(&reg_lock);
    if (--c->refs > 0) {
        pthread_mutex_unlock(&reg_lock);
        return;
    }
    for (tsq_ckpt **pp = &reg; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    pthread_mutex_unlock(&reg_lock);
    pthread_mutex_lock(&c->lock);
    c->stop = 1;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    sqlite3_close_v2(c->db);
    c->free_fn(c);
}

void tsq_checkpoint_kick(tsq *s)
{
    if (!s->ck_running)
        return;
    tsq_ckpt *c = s->ck;
    pthread_mutex_lock(&c->lock);
    c->kick = 1;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
}

/* Called by SQLite after each commit of the writer (under the tracker's
 * lock), with the number of frames in the WAL (the file's: every writer's
 * frames). */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    tsq *s = arg;
    atomic_int *ck_done = &s->ck->done;
    if (frames < s->wal_frames) { /* the WAL started over */
        s->ck_next = TSQ_CKPT_FRAMES;
        s->ck_inline = TSQ_CKPT_HARD;
        s->ck_force = TSQ_CKPT_FORCE;
        s->ck_waiting = 0;
    }
    s->wal_frames = frames;
    if (frames >= s->ck_inline) {
        if (!s->ck_waiting || (atomic_load(ck_done) == 0 && frames >= s->ck_next)) {
            /* one more pass of the thread first */
            atomic_store(ck_done, 0);
            s->ck_waiting = 1;
            s->ck_next = frames + TSQ_CKPT_FRAMES / 4;
            tsq_checkpoint_kick(s);
        } else if (atomic_load(ck_done) > 0 || frames >= s->ck_force) {
            int log = 0, done = 0;
            int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
            if ((rc & 0xff) == SQLITE_BUSY) { /* the thread is in a pass: after it */
                atomic_store(ck_done, 0);
                return SQLITE_OK;
            }
            s->ck_waiting = 0;
            if (rc != SQLITE_OK || done != log) { /* a reader, a full disk: later */
                s->ck_inline = frames + TSQ_CKPT_HARD;
                s->ck_force = frames + TSQ_CKPT_FORCE;
            } /* else the next commit starts the WAL over */
        }
    } else if (frames >= s->ck_next) {
        s->ck_next = frames + TSQ_CKPT_FRAMES;
        tsq_checkpoint_kick(s);
    }
    return SQLITE_OK;
}

void tsq_checkpointer_start(tsq *s)
{
    if (!s->ck)
        return;
    s->ck_running = 1;
    s->ck_next = TSQ_CKPT_FRAMES;
    s->ck_inline = TSQ_CKPT_HARD;
    s->ck_force = TSQ_CKPT_FORCE;
    sqlite3_wal_hook(s->db, wal_hook, s); /* replaces the automatic checkpoint */
}

void tsq_checkpointer_stop(tsq *s)
{
    if (s->ck_running) {
        sqlite3_wal_hook(s->db, NULL, NULL);
        s->ck_running = 0;
    }
}

/* ---- Stale runs ----------------------------------------------------------- */

struct stale_arg {
    int64_t *ids;
    size_t n;
};

static int mark_stale(tsq *s, void *arg)
{
    struct stale_arg *a = arg;
    for (size_t i = 0; i < a->n; i++) {
        int rc = tsq_fold_tail(s, a->ids[i]);
        if (rc)
            return rc;
        sqlite3_bind_int64(s->st[TSQ_STALE_MARK], 1, a->ids[i]);
        rc = tsq_step(s, s->st[TSQ_STALE_MARK]);
        if (rc)
            return rc;
    }
    return SQLITE_OK;
}

static int pid_gone(int64_t pid)
{
    if (pid <= 0 || (int64_t)(pid_t)pid != pid)
        return 0;
    return kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

int tsq_mark_stale(tsq *s)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, TSQL_STALE_CANDIDATES, -1, &st, NULL);
    if (rc)
        return tsq_fail(s, rc, "read");
    sqlite3_bind_text(st, 1, s->hostname, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)getpid());
    sqlite3_bind_text(st, 3, s->pidns, -1, SQLITE_STATIC);
    struct stale_arg a = {NULL, 0};
    size_t cap = 0;
    int r = TROPT_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!pid_gone(sqlite3_column_int64(st, 1)))
            continue;
        if (tropt_host_grow(s->host, (void **)&a.ids, &cap, a.n + 1, sizeof *a.ids) != 0) {
            r = TROPT_ENOMEM;
            snprintf(s->err, sizeof s->err, "%s: out of memory", s->path);
            break;
        }
        a.ids[a.n++] = sqlite3_column_int64(st, 0);
    }
    if (r == TROPT_OK && rc != SQLITE_DONE)
        r = tsq_fail(s, rc, "read");
    sqlite3_finalize(st);
    if (r == TROPT_OK && a.n > 0) {
        r = tsq_commit(s, mark_stale, &a);
        if (r == TROPT_OK)
            TROPT_HOST_LOG(s->host, TROPT_LEVEL_INFO, "%s: marked %zu stale run(s) crashed",
                           s->path, a.n);
    }
    s->host->free(a.ids);
    return r;
}
