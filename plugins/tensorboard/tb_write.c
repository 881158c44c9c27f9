/*
 * plugins/tensorboard/tb_write.c - the run's folder and event file, and the
 * writes of the queued records.  See tb_priv.h for who updates what.
 */
#include "tb_priv.h"

#include "tb_format.h"
#include "tb_ident.h"
#include "tropt_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int tb_oom(const tb *c)
{
    return c->h->error(TROPT_ENOMEM, "out of memory");
}

int tb_open_subdir(tb *c, int parent, const char *name, const char *path, int create, int *made,
                   int *out)
{
    *out = -1;
    *made = 0;
    if (create) {
        if (mkdirat(parent, name, 0777) == 0)
            *made = 1;
        else if (errno != EEXIST)
            return c->h->error(TROPT_EBACKEND, "cannot create folder '%s': %s", path,
                               strerror(errno));
    }
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        *out = fd;
        return TROPT_OK;
    }
    int e = errno;
    struct stat st;
    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
        return c->h->error(TROPT_EBACKEND,
                           "refusing folder '%s': it is a symbolic link (the tensorboard backend "
                           "never writes through one)",
                           path);
    if (e == ENOTDIR)
        return c->h->error(TROPT_EBACKEND,
                           "cannot create folder '%s': it exists and is not a folder", path);
    return c->h->error(TROPT_EBACKEND, "cannot open folder '%s': %s", path, strerror(e));
}

void tb_host_part(const char *host, char *out, size_t size)
{
    snprintf(out, size, "%s", host && *host ? host : "localhost");
    for (char *p = out; *p; p++)
        if (*p == '/' || (unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '_';
}

/* Numbers the event files of this process. */
static atomic_uint file_seq;

/* events.out.tfevents.<secs>.<host>.<pid>.<n>, created exclusively (a name
 * taken already is never opened: the next n is tried). */
static int create_event_file(tb *c, const tropt_run *run)
{
    char host[128], name[256];
    tb_host_part(run->host, host, sizeof host);
    long long secs = (long long)c->h->now();
    for (int tries = 0; tries < 100; tries++) {
        snprintf(name, sizeof name, TB_FILE_PREFIX "%010lld.%s.%lld.%u", secs, host,
                 (long long)run->pid, atomic_fetch_add(&file_seq, 1));
        c->fd = openat(c->rfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (c->fd >= 0 || errno != EEXIST)
            break;
    }
    int e = errno;
    c->path = tb_join(c->h, c->run_dir, name);
    if (!c->path) {
        if (c->fd >= 0) {
            close(c->fd);
            c->fd = -1;
            unlinkat(c->rfd, name, 0);
        }
        return tb_oom(c);
    }
    if (c->fd < 0)
        return c->h->error(TROPT_EBACKEND, "cannot create '%s': %s", c->path, strerror(e));
    if (c->sync != SYNC_OFF && fsync(c->rfd) != 0)
        TROPT_HOST_LOG(c->h, TROPT_LEVEL_WARNING, "cannot sync folder '%s': %s", c->run_dir,
                       strerror(errno));
    c->size = 0;
    return TROPT_OK;
}

int tb_open_run(tb *c, const tropt_run *run)
{
    const tropt_host *h = c->h;
    int rc = tropt_host_mkdir_p(c->h, c->logdir);
    if (rc != TROPT_OK)
        return rc;
    char *exp = tropt_folder_name(h, run->experiment);
    char *exp_dir = exp ? tb_join(h, c->logdir, exp) : NULL;
    char *name = tropt_folder_name(h, tb_run_name(c, run));
    int dfd = -1, efd = -1;
    if (!exp_dir || !name) {
        rc = tb_oom(c);
        goto out;
    }
    if ((dfd = open(c->logdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        rc = h->error(TROPT_EBACKEND, "cannot open folder '%s': %s", c->logdir, strerror(errno));
        goto out;
    }
    /* only an id given from outside (a replay, a continuation) can be one
     * the store deleted; a 1.1 host's runs carry no given_id: checked */
    int given = !TROPT_HOST_RUN_V12(h) || run->given_id;
    if (given && (rc = tb_store_check_deleted(c, dfd, run->run_id)) != TROPT_OK)
        goto out;
    int made;
    if ((rc = tb_open_subdir(c, dfd, exp, exp_dir, 1, &made, &efd)) != TROPT_OK)
        goto out;
    if (made && c->sync != SYNC_OFF && fsync(dfd) != 0)
        TROPT_HOST_LOG(h, TROPT_LEVEL_WARNING, "cannot sync folder '%s': %s", c->logdir,
                       strerror(errno));
    if ((rc = tb_store_place(c, dfd, efd, exp_dir, name, run)) != TROPT_OK)
        goto out;
    rc = create_event_file(c, run);
out:
    if (dfd >= 0)
        close(dfd);
    if (efd >= 0)
        close(efd);
    h->free(exp);
    h->free(exp_dir);
    h->free(name);
    return rc;
}

/* The index's name of the open file. */
static void index_name(const tb *c, char *out)
{
    tb_stats_index_name(strrchr(c->path, '/') + 1, out);
}

void tb_write_index(tb *c, int force)
{
    if (c->fd < 0 || (!force && c->size - c->idx_size < TB_IDX_EVERY) ||
        (force && c->size == c->idx_size && c->idx_size > 0))
        return;
    char name[TB_IDX_NAME_MAX], tmp[TB_IDX_NAME_MAX + 8];
    index_name(c, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", name);
    tev_buf b;
    tev_buf_init(&b, c->h->realloc, c->h->free);
    int fd = -1, ok = tb_stats_put(&b, &c->st, strrchr(c->path, '/') + 1, c->size) == 0;
    if (ok)
        fd = openat(c->rfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0666);
    ok = ok && fd >= 0 && tropt_pwrite_all(fd, b.data, b.len, 0) == 0;
    if (fd >= 0)
        close(fd);
    /* a reader sees the old index or the new one, never half of one */
    ok = ok && renameat(c->rfd, tmp, c->rfd, name) == 0;
    if (!ok) {
        unlinkat(c->rfd, tmp, 0);
        TROPT_HOST_LOG(c->h, TROPT_LEVEL_DEBUG, "index of '%s' not written: %s", c->path,
                       fd < 0 || b.len == 0 ? "cannot create it" : strerror(errno));
    } else {
        c->idx_size = c->size;
    }
    tev_buf_free(&b);
}

void tb_remove_files(tb *c)
{
    if (c->fd < 0 || !c->path)
        return;
    char name[TB_IDX_NAME_MAX];
    index_name(c, name);
    unlinkat(c->rfd, strrchr(c->path, '/') + 1, 0);
    unlinkat(c->rfd, name, 0);
}

void tb_run_close(tb *c)
{
    const tropt_host *h = c->h;
    if (c->fd >= 0)
        close(c->fd);
    if (c->rfd >= 0)
        close(c->rfd);
    c->fd = c->rfd = -1;
    h->free(c->run_dir);
    h->free(c->path);
    c->run_dir = c->path = NULL;
    tev_buf_clear(&c->out);
    tev_buf_clear(&c->json);
    tb_map_clear(&c->seen);
    if (c->hint)
        memset(c->hint, 0, c->vals_cap * sizeof *c->hint);
    c->nqueued = 0;
    c->end_queued = 0;
    c->failing = c->fail_errno = 0;
    c->open = 0;
    c->replay = 0;
    c->claim = 0;
    c->made_dir = 0;
    h->free(c->key_claim);
    c->key_claim = NULL;
    tb_stats_free(&c->st);
    c->idx_size = 0;
}

int tb_write_out(tb *c)
{
    if (c->out.len == 0)
        return TROPT_OK;
    if (tropt_pwrite_all(c->fd, c->out.data, c->out.len, c->size) != 0) {
        int e = errno;
        c->fail_errno = e;
        if (ftruncate(c->fd, c->size) != 0) {
            /* the message reports the first cause */
        }
        return c->h->error(TROPT_EBACKEND, "cannot write '%s': %s", c->path, strerror(e));
    }
    c->size += (off_t)c->out.len;
    tev_buf_clear(&c->out);
    c->nqueued = 0;
    if (c->sync == SYNC_FULL && fdatasync(c->fd) != 0) {
        c->fail_errno = errno;
        return c->h->error(TROPT_EBACKEND, "cannot sync '%s': %s", c->path, strerror(errno));
    }
    tb_write_index(c, 0);
    return TROPT_OK;
}

int tb_attempt(tb *c)
{
    c->fail_errno = 0;
    int rc = tb_write_out(c);
    if (rc == TROPT_EBACKEND) {
        c->failing = 1;
        c->fail_at = c->h->now();
        if (c->fail_errno == 0)
            c->fail_errno = EIO;
    } else if (rc == TROPT_OK) {
        /* a buffer grown by a disk-full episode is not kept */
        if (c->failing && c->out.cap > (1u << 20))
            tev_buf_free(&c->out);
        c->failing = 0;
    }
    return rc;
}

int tb_retry_due(const tb *c)
{
    return !c->failing || c->h->now() - c->fail_at >= c->retry_interval_s;
}

int tb_barrier(tb *c)
{
    int rc = tb_attempt(c);
    if (rc != TROPT_OK)
        return rc;
    if (c->sync != SYNC_OFF && fsync(c->fd) != 0)
        return c->h->error(TROPT_EBACKEND, "cannot sync '%s': %s", c->path, strerror(errno));
    tb_write_index(c, 1);
    return TROPT_OK;
}
