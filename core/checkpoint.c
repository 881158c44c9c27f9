/* core/checkpoint.c - checkpoint marks (SPEC 15).  tropt_tracker_checkpoint
 * stores the mark's step and path at once (a hook call like a log), and
 * queues the file for a worker thread of the tracker's that computes its
 * size and SHA-256, so log never waits for the hash.  The finished hashes
 * reach the backends on the caller's thread, under the tracker's lock: at
 * the next log (when the worker has results), flush or finish (which wait
 * for every pending hash). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sha256.h"
#include "tracker_priv.h"

typedef struct mark {
    tropt_checkpoint m; /* m.path, m.sha256, m.error point into the members below */
    char *path;
    char sha[65];
    char *error;
    int done; /* hashed (or failed), under q->mu */
} mark;

struct tropt__marks {
    pthread_mutex_t mu; /* guards everything below but `ready` */
    pthread_cond_t cv;
    pthread_t thread;
    int started;
    int stop;
    mark *q;
    size_t n, cap;
    size_t next_hash;    /* the worker's next mark */
    size_t next_deliver; /* the tracker's next mark to hand over */
    atomic_int ready;    /* 1 when a hashed mark waits for delivery */
};

/* ---- the worker -------------------------------------------------------- */

/* Hash path into sha; size into *size.  NULL, or why it failed (static). */
static const char *hash_file(const char *path, char sha[65], int64_t *size)
{
    /* O_NONBLOCK: a FIFO or a device must not hang the worker (and finish) */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return errno == ENOENT ? "the file is gone" : "the file cannot be read";
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int dir = S_ISDIR(st.st_mode);
        close(fd);
        return dir ? "a folder: not hashed (mark a file to get its size and SHA-256)"
                   : "not a regular file: not hashed";
    }
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = malloc(CHUNK); /* the worker's own, not the tracked heap */
    const char *why = buf ? NULL : "out of memory";
    tropt__sha256 s;
    tropt__sha256_init(&s);
    int64_t total = 0;
    while (!why) {
        ssize_t r = read(fd, buf, CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            why = "reading the file failed";
        if (r <= 0)
            break;
        tropt__sha256_update(&s, buf, (size_t)r);
        total += r;
    }
    free(buf);
    close(fd);
    if (why)
        return why;
    tropt__sha256_hex(&s, sha);
    *size = total;
    return NULL;
}

static void *worker(void *arg)
{
    tropt__marks *q = arg;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->stop && q->next_hash == q->n)
            pthread_cond_wait(&q->cv, &q->mu);
        if (q->next_hash == q->n)
            break; /* stopping, nothing left */
        size_t i = q->next_hash++;
        char *path = q->q[i].path; /* stays put: q->q only grows under mu, path is owned */
        pthread_mutex_unlock(&q->mu);
        char sha[65];
        int64_t size = -1;
        const char *why = hash_file(path, sha, &size);
        pthread_mutex_lock(&q->mu);
        mark *mk = &q->q[i];
        if (why) {
            mk->error = strdup(why);
        } else {
            memcpy(mk->sha, sha, sizeof sha);
            mk->m.size = size;
        }
        mk->done = 1;
        atomic_store(&q->ready, 1);
        pthread_cond_broadcast(&q->cv);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

static int marks_new(tropt_tracker *t)
{
    if (t->marks)
        return TROPT_OK;
    tropt__marks *q = tropt__calloc(1, sizeof *q);
    if (!q)
        return tropt__oom();
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    int e = pthread_create(&q->thread, NULL, worker, q);
    if (e != 0) {
        pthread_cond_destroy(&q->cv);
        pthread_mutex_destroy(&q->mu);
        tropt__free(q);
        return tropt__error(TROPT_EBACKEND, "checkpoint: cannot start the hashing thread: %s",
                            strerror(e));
    }
    q->started = 1;
    t->marks = q;
    return TROPT_OK;
}

/* ---- handing marks to the backends ------------------------------------- */

/* Every backend with the hook and an open run gets the mark; failures are
 * warnings when `quiet`, else the first is returned. */
static int fan_mark(tropt_tracker *t, const tropt_checkpoint *m, int quiet)
{
    tropt__first_error fe;
    TROPT__FANOUT_INIT(&fe);
    for (size_t i = 0; i < t->nb; i++) {
        tropt__backend *be = &t->b[i];
        const tropt_plugin *p = be->mod.plugin;
        if (!be->run_open || p->struct_size < TROPT_PLUGIN_V12_SIZE || !p->checkpoint)
            continue;
        tropt__error_clear();
        int rc = p->checkpoint(be->self, &t->id.run, m);
        if (rc != TROPT_OK && quiet) {
            tropt__error_prefix(be->label);
            tropt__log(TROPT_LEVEL_WARNING, "checkpoint mark %s: its size and hash: %s", m->path,
                       tropt_error_message());
        } else if (rc != TROPT_OK) {
            tropt__note_result(&fe, be, rc, "the checkpoint mark");
        }
    }
    return tropt__fanout_done(&fe);
}

int tropt__marks_ready(const tropt_tracker *t)
{
    return t->marks && atomic_load_explicit(&t->marks->ready, memory_order_relaxed);
}

void tropt__marks_deliver(tropt_tracker *t)
{
    tropt__marks *q = t->marks;
    if (!q)
        return;
    char saved[1024];
    tropt__error_save(saved, sizeof saved);
    pthread_mutex_lock(&q->mu);
    atomic_store(&q->ready, 0);
    while (q->next_deliver < q->n && q->q[q->next_deliver].done) {
        mark *mk = &q->q[q->next_deliver++];
        mk->m.sha256 = mk->error ? NULL : mk->sha;
        mk->m.error = mk->error;
        tropt_checkpoint copy = mk->m;
        pthread_mutex_unlock(&q->mu); /* the worker goes on hashing */
        fan_mark(t, &copy, 1);
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    tropt__error_restore(saved);
}

void tropt__marks_drain(tropt_tracker *t)
{
    tropt__marks *q = t->marks;
    if (!q)
        return;
    pthread_mutex_lock(&q->mu);
    while (q->next_hash < q->n || (q->n && !q->q[q->n - 1].done))
        pthread_cond_wait(&q->cv, &q->mu);
    pthread_mutex_unlock(&q->mu);
    tropt__marks_deliver(t);
}

void tropt__marks_free(tropt_tracker *t)
{
    tropt__marks *q = t->marks;
    if (!q)
        return;
    pthread_mutex_lock(&q->mu);
    q->stop = 1;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    if (q->started)
        pthread_join(q->thread, NULL);
    for (size_t i = 0; i < q->n; i++) {
        tropt__free(q->q[i].path);
        free(q->q[i].error);
    }
    tropt__free(q->q);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    tropt__free(q);
    t->marks = NULL;
}

/* ---- the API ----------------------------------------------------------- */

/* A new mark of the active run for `abs`, queued for the worker. */
static int enqueue(tropt_tracker *t, char *abs, tropt_checkpoint *out)
{
    tropt__marks *q = t->marks;
    pthread_mutex_lock(&q->mu);
    int rc = tropt__grow((void **)&q->q, &q->cap, q->n + 1, sizeof *q->q);
    if (rc == TROPT_OK) {
        mark *mk = &q->q[q->n];
        memset(mk, 0, sizeof *mk);
        mk->path = abs;
        mk->m.attempt = t->id.run.attempt;
        mk->m.seq = (int64_t)q->n;
        mk->m.step = t->steps_full ? INT64_MAX : t->next_step - 1;
        mk->m.time = tropt__now();
        mk->m.path = abs;
        mk->m.size = -1;
        *out = mk->m;
        q->n++;
        pthread_cond_broadcast(&q->cv);
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

static int checkpoint_locked(tropt_tracker *t, const char *path)
{
    if (!t->active)
        return tropt__error(TROPT_ESTATE, "checkpoint() called on inactive tracker (missing "
                                          "init()?)");
    char *abs = realpath(path, NULL);
    if (!abs)
        return tropt__error(TROPT_EINVAL, "checkpoint: %s: %s", path, strerror(errno));
    char *owned = tropt__strdup(abs);
    free(abs);
    if (!owned)
        return tropt__oom();
    int rc = marks_new(t);
    tropt_checkpoint m;
    if (rc == TROPT_OK)
        rc = enqueue(t, owned, &m);
    if (rc != TROPT_OK) {
        tropt__free(owned);
        return rc;
    }
    return fan_mark(t, &m, 0);
}

int tropt_tracker_checkpoint(tropt_tracker *t, const char *path)
{
    if (!t || !path)
        return tropt__error(TROPT_EINVAL, "checkpoint: tracker or path is NULL");
    int rc = tropt__fork_check(t, "checkpoint");
    if (rc)
        return rc;
    pthread_mutex_lock(&t->lock);
    rc = checkpoint_locked(t, path);
    pthread_mutex_unlock(&t->lock);
    return rc;
}

int tropt_tracker_import_checkpoint(tropt_tracker *t, const tropt_checkpoint *mark)
{
    if (!t || !mark || !mark->path)
        return tropt__error(TROPT_EINVAL, "import_checkpoint: tracker, mark or path is NULL");
    int rc = tropt__fork_check(t, "import_checkpoint");
    if (rc)
        return rc;
    pthread_mutex_lock(&t->lock);
    rc = t->active ? fan_mark(t, mark, 0)
                   : tropt__error(TROPT_ESTATE, "import_checkpoint: no active run");
    pthread_mutex_unlock(&t->lock);
    return rc;
}
