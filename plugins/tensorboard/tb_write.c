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

/* mkdir -p, with a message naming the part of the path that failed. */
static int make_dirs(tb *c, const char *path)
{
    size_t bad;
    if (tropt_mkdir_p(path, &bad) == 0)
        return TROPT_OK;
    if (errno == ENOTDIR)
        return c->h->error(TROPT_EBACKEND,
                           "cannot create folder '%s': '%.*s' exists and is not a folder", path,
                           (int)bad, path);
    return c->h->error(TROPT_EBACKEND, "cannot create folder '%s': %.*s: %s", path, (int)bad, path,
                       strerror(errno));
}

/* Open the folder `name` of the folder open as parent, never through a
 * symbolic link (*out: its descriptor).  *made: mkdir created it now. */
static int open_subdir(tb *c, int parent, const char *name, const char *path, int create, int *made,
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

/* 1 when the folder open as fd holds run `run_id` (a replayed or continued
 * run), 0 when it holds another run or nothing of ours yet. */
static int holds_run(tb *c, int fd, const char *run_id)
{
    json_t *rec = NULL;
    if (tb_folder_identity(c->h, fd, &rec) != 1)
        return 0;
    const char *id = json_string_value(json_object_get(rec, "run_id"));
    int same = id && strcmp(id, run_id) == 0;
    json_decref(rec);
    return same;
}

/*
 * The run folder in the experiment folder efd: `name`, made now or holding
 * this run already; else "<name>-<first 8 of the id>" likewise; else (the
 * first 8 characters of a UUIDv7 are its time to about a minute, so two
 * runs of one name started together share them) "<name>-<id>".  Another
 * run's folder (or one being made by another writer: empty) is never
 * shared, so two runs never merge.
 */
static int choose_run_folder(tb *c, int efd, const char *exp_dir, const char *name,
                             const char *run_id)
{
    char alt[256], full[256];
    snprintf(alt, sizeof alt, "%.200s-%.8s", name, run_id);
    snprintf(full, sizeof full, "%.200s-%.40s", name, run_id);
    const char *tries[3] = {name, alt, full};
    for (int i = 0; i < 3; i++) {
        char *dir = tb_join(c->h, exp_dir, tries[i]);
        if (!dir)
            return tb_oom(c);
        int made, fd, rc = open_subdir(c, efd, tries[i], dir, 1, &made, &fd);
        if (rc == TROPT_OK && (made || holds_run(c, fd, run_id))) {
            c->run_dir = dir;
            c->rfd = fd;
            if (made && c->sync != SYNC_OFF && fsync(efd) != 0)
                TROPT_HOST_LOG(c->h, TROPT_LEVEL_WARNING, "cannot sync folder '%s': %s", exp_dir,
                               strerror(errno));
            return TROPT_OK;
        }
        c->h->free(dir);
        if (fd >= 0)
            close(fd);
        if (rc != TROPT_OK)
            return rc;
    }
    return c->h->error(TROPT_EBACKEND,
                       "cannot make a folder for run %s in '%s': '%s', '%s' and '%s' hold other "
                       "runs",
                       run_id, exp_dir, name, alt, full);
}

/* The host name as a file name part: no '/', no control characters. */
static void host_part(const char *host, char *out, size_t size)
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
    host_part(run->host, host, sizeof host);
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
    int rc = make_dirs(c, c->logdir);
    if (rc != TROPT_OK)
        return rc;
    char *exp = tb_folder_name(h, run->experiment);
    char *exp_dir = exp ? tb_join(h, c->logdir, exp) : NULL;
    char *name = tb_folder_name(h, tb_run_name(c, run));
    int dfd = -1, efd = -1;
    if (!exp_dir || !name) {
        rc = tb_oom(c);
        goto out;
    }
    if ((dfd = open(c->logdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        rc = h->error(TROPT_EBACKEND, "cannot open folder '%s': %s", c->logdir, strerror(errno));
        goto out;
    }
    int made;
    if ((rc = open_subdir(c, dfd, exp, exp_dir, 1, &made, &efd)) != TROPT_OK)
        goto out;
    if (made && c->sync != SYNC_OFF && fsync(dfd) != 0)
        TROPT_HOST_LOG(h, TROPT_LEVEL_WARNING, "cannot sync folder '%s': %s", c->logdir,
                       strerror(errno));
    if ((rc = choose_run_folder(c, efd, exp_dir, name, run->run_id)) != TROPT_OK)
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
    return TROPT_OK;
}
