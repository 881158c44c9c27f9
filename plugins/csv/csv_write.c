/*
 * plugins/csv/csv_write.c - writing: appends, header rewrites by atomic replacement,
 * the deferral to metrics.pending.csv, the JSON side files.
 * See csv_priv.h for the state and who updates it.
 */
#include "csv_priv.h"

#include "tropt_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Append the n bytes at p to fd at *size; on failure cut the file back to
 * *size so that it keeps ending with a complete record, and keep the
 * cause in c->fail_errno (for the retry message). */
static int append(csv *c, int fd, off_t *size, const char *path, const char *p, size_t n)
{
    if (n == 0)
        return TROPT_OK;
    if (tropt_pwrite_all(fd, p, n, *size) != 0) {
        int e = errno;
        c->fail_errno = e;
        if (ftruncate(fd, *size) != 0) {
            /* nothing more to do: the message reports the first cause */
        }
        return c->h->error(TROPT_EBACKEND, "cannot write '%s': %s", path, strerror(e));
    }
    if (c->sync == SYNC_FULL && fdatasync(fd) != 0) {
        c->fail_errno = errno;
        return c->h->error(TROPT_EBACKEND, "cannot sync '%s': %s", path, strerror(errno));
    }
    *size += (off_t)n;
    return TROPT_OK;
}

/* The queued rows reached metrics.csv, which is now c->size bytes long:
 * counted into the attempt's steps (run.json's counts). */
static void rows_written(csv *c)
{
    for (size_t i = 0; i < c->nrows; i++)
        csv_stat_add(&c->st, c->rows[i].step);
    c->st.bytes = (int64_t)c->size;
}

/* Create a new temporary file in the run folder for <run_dir>/name, under
 * an unpredictable name, exclusively (see tropt_tmp_create): c->tmp_name
 * is its name, c->tmp_path its path for messages.  -1 with errno set when
 * it cannot be created. */
static int open_tmp(csv *c, const char *name)
{
    int fd = tropt_tmp_create(c->rfd, name, c->tmp_name, sizeof c->tmp_name);
    int e = errno;
    if (fd < 0)
        snprintf(c->tmp_name, sizeof c->tmp_name, ".%s.<random>.tmp", name);
    snprintf(c->tmp_path + c->tmp_dir_len, sizeof c->tmp_name + 1, "/%s", c->tmp_name);
    errno = e;
    return fd;
}

/* Copy the records of the current metrics.csv (after its header) into the
 * temporary file, adding k empty cells at the end of each record.  Record
 * ends are CRLF outside quotes; our cells quote every CR and LF. */
static int copy_widened(csv *c, int tfd, off_t *tsize, size_t k)
{
    const tropt_host *h = c->h;
    enum { CHUNK = 1 << 16 };
    if (tev_buf_reserve(&c->scratch, CHUNK + k) != 0)
        return oom(c);
    char *in = c->scratch.data;
    char *commas = in + CHUNK;
    memset(commas, ',', k);
    int inq = 0;
    off_t off = (off_t)c->hdr_len;
    c->out.len = 0;
    while (off < c->size) {
        size_t want = (size_t)(c->size - off) < CHUNK ? (size_t)(c->size - off) : CHUNK;
        ssize_t got = pread(c->fd, in, want, off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return h->error(TROPT_EBACKEND, "cannot read '%s': %s", c->metrics_path,
                            got < 0 ? strerror(errno) : "file shrank");
        /* Room for the chunk and k commas per record end (at most one per
         * two bytes: CRLF), so the loop below copies without checks. */
        if (tev_buf_reserve(&c->out, (size_t)got + ((size_t)got / 2 + 1) * k) != 0)
            return oom(c);
        char *o = c->out.data + c->out.len;
        const char *p = in, *end = in + got;
        while (p < end) {
            /* The next quote bounds the stretch where a CR ends a record:
             * numeric rows have none, so memchr runs through whole chunks. */
            const char *q = memchr(p, '"', (size_t)(end - p));
            if (inq) {
                const char *stop = q ? q + 1 : end;
                memcpy(o, p, (size_t)(stop - p));
                o += stop - p;
                p = stop;
                inq = q == NULL;
                continue;
            }
            const char *lim = q ? q : end;
            const char *cr;
            while ((cr = memchr(p, '\r', (size_t)(lim - p))) != NULL) {
                memcpy(o, p, (size_t)(cr - p));
                o += cr - p;
                memcpy(o, commas, k);
                o += k;
                *o++ = '\r';
                p = cr + 1;
            }
            memcpy(o, p, (size_t)(lim - p));
            o += lim - p;
            p = lim;
            if (q) {
                *o++ = '"';
                p = q + 1;
                inq = 1;
            }
        }
        c->out.len = (size_t)(o - c->out.data);
        off += got;
        if (c->out.len >= CHUNK) {
            int rc = append(c, tfd, tsize, c->tmp_path, c->out.data, c->out.len);
            if (rc != TROPT_OK)
                return rc;
            c->out.len = 0;
        }
    }
    int rc = append(c, tfd, tsize, c->tmp_path, c->out.data, c->out.len);
    c->out.len = 0;
    return rc;
}

/*
 * Replace metrics.csv atomically by: the header of every known key, the
 * current records widened to it, and all queued rows.  On failure the old
 * file and the queue are untouched.
 */
int rewrite(csv *c)
{
    const tropt_host *h = c->h;
    int rc = types_write(c, 1);
    if (rc != TROPT_OK)
        return rc;
    off_t tsize = 0;
    int tfd = open_tmp(c, c->mname);
    if (tfd < 0)
        return h->error(TROPT_EBACKEND, "cannot create '%s': %s", c->tmp_path, strerror(errno));
    c->out.len = 0;
    if (put_header(c, &c->out) != 0) {
        rc = oom(c);
        goto fail;
    }
    size_t hdr_len = c->out.len;
    if ((rc = append(c, tfd, &tsize, c->tmp_path, c->out.data, c->out.len)) != TROPT_OK)
        goto fail;
    if (c->fd >= 0 && c->size > (off_t)c->hdr_len &&
        (rc = copy_widened(c, tfd, &tsize, c->nkeys - c->ncols_disk)) != TROPT_OK)
        goto fail;
    c->out.len = 0;
    /* the queued rows as records of the new file: what a failed append
     * left formatted in c->fmt is reused, not formatted a second time */
    if (format_queued(c) != 0) {
        rc = oom(c);
        goto fail;
    }
    if ((rc = append(c, tfd, &tsize, c->tmp_path, c->fmt.data, c->fmt.len)) != TROPT_OK)
        goto fail;
    if (c->sync != SYNC_OFF && fsync(tfd) != 0) {
        rc = h->error(TROPT_EBACKEND, "cannot sync '%s': %s", c->tmp_path, strerror(errno));
        goto fail;
    }
    if (renameat(c->rfd, c->tmp_name, c->rfd, c->mname) != 0) {
        rc = h->error(TROPT_EBACKEND, "cannot rename '%s' to '%s': %s", c->tmp_path,
                      c->metrics_path, strerror(errno));
        goto fail;
    }
    if (c->sync != SYNC_OFF && fsync(c->rfd) != 0)
        TROPT_HOST_LOG(h, TROPT_LEVEL_WARNING, "cannot sync folder '%s': %s", c->run_dir,
                       strerror(errno));
    if (c->fd >= 0) {
        c->rewrites++;
        c->rewritten += (uint64_t)tsize;
        close_later(&c->cl, c->fd);
    }
    c->fd = tfd;
    c->size = tsize;
    c->hdr_len = hdr_len;
    c->ncols_disk = c->nkeys;
    c->rows_disk += c->nrows;
    struct stat sb;
    c->st.inode = fstat(tfd, &sb) == 0 ? (int64_t)sb.st_ino : 0;
    rows_written(c);
    c->meta_due = 1; /* run.json's counts name the replaced file */
    queue_clear(c);
    if (c->pfd >= 0) {
        /* Its rows are in metrics.csv now.  Should this unlink fail, the
         * leftover file only repeats steps that metrics.csv holds. */
        close(c->pfd);
        c->pfd = -1;
        c->psize = 0;
        if (unlinkat(c->rfd, c->pname, 0) != 0)
            TROPT_HOST_LOG(h, TROPT_LEVEL_WARNING, "cannot remove '%s': %s", c->pending_path,
                           strerror(errno));
    }
    return TROPT_OK;
fail:
    close(tfd);
    unlinkat(c->rfd, c->tmp_name, 0);
    c->out.len = 0;
    return rc;
}

/* The size metrics.csv would have after a rewrite now (O(1): a run whose
 * rows are deferred calls this at every step). */
static uint64_t projected_size(const csv *c)
{
    return strlen("step,time\r\n") + c->keybytes + (uint64_t)(c->size - (off_t)c->hdr_len) +
           c->rows_disk * (c->nkeys - c->ncols_disk) + c->qbytes + c->nrows * (c->nkeys + 2);
}

static int defer_rows(csv *c);

/* Write the queued rows out.  force: a barrier, deferred rows are folded
 * into metrics.csv now. */
int write_queued(csv *c, int force)
{
    int rc;
    if (c->nrows == c->ndeferred && !(force && c->ndeferred))
        return TROPT_OK;
    /* the type records of the rows first: a row never reaches a file
     * before its record */
    if ((rc = types_write(c, 0)) != TROPT_OK)
        return rc;
    if (c->layout == LAYOUT_LONG) {
        if (format_queued(c) != 0)
            return oom(c);
        if ((rc = append(c, c->fd, &c->size, c->metrics_path, c->fmt.data, c->fmt.len)) ==
            TROPT_OK) {
            c->rows_disk += c->ncells + c->nempty; /* a record per value or empty step */
            rows_written(c);
            queue_clear(c);
        }
        return rc;
    }
    if (c->ndeferred == 0 && c->nkeys == c->ncols_disk) {
        /* every row is its record already: the arena is written as it is */
        const tev_buf *b = &c->arena;
        if (c->nfull != c->nrows) {
            if (format_queued(c) != 0)
                return oom(c);
            b = &c->fmt;
        }
        if ((rc = append(c, c->fd, &c->size, c->metrics_path, b->data, b->len)) == TROPT_OK) {
            c->rows_disk += c->nrows;
            rows_written(c);
            queue_clear(c);
        }
        return rc;
    }
    if (force || c->rewrite_factor <= 0 ||
        (double)c->rewritten <= c->rewrite_factor * (double)projected_size(c))
        return rewrite(c);
    return defer_rows(c);
}

/* Defer: the rows not deferred yet go to metrics.pending.csv, in order. */
static int defer_rows(csv *c)
{
    const tropt_host *h = c->h;
    int rc;
    if (c->pfd < 0) {
        /* A fresh file: whatever has this name (a leftover, a planted link)
         * is removed, never opened, so a link's target is never written. */
        if (unlinkat(c->rfd, c->pname, 0) != 0 && errno != ENOENT)
            return h->error(TROPT_EBACKEND, "cannot remove '%s': %s", c->pending_path,
                            strerror(errno));
        c->pfd =
            openat(c->rfd, c->pname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (c->pfd < 0)
            return h->error(TROPT_EBACKEND, "cannot create '%s': %s", c->pending_path,
                            strerror(errno));
        c->psize = 0;
        static const char head[] = "step,time,key,value\r\n";
        if ((rc = append(c, c->pfd, &c->psize, c->pending_path, head, sizeof head - 1)) !=
            TROPT_OK) {
            close(c->pfd);
            c->pfd = -1;
            unlinkat(c->rfd, c->pname, 0);
            return rc;
        }
    }
    c->out.len = 0;
    if (put_long_rows(c, &c->out, c->ndeferred, c->nrows) != 0)
        return oom(c);
    if ((rc = append(c, c->pfd, &c->psize, c->pending_path, c->out.data, c->out.len)) == TROPT_OK)
        c->ndeferred = c->nrows;
    return rc;
}

/* Write text to <run_dir>/name atomically (temporary file, rename). */
int write_file_atomic(csv *c, const char *name, const tev_buf *b)
{
    const tropt_host *h = c->h;
    char *path = joinpath(c, c->run_dir, name);
    if (!path)
        return oom(c);
    int rc = TROPT_OK;
    off_t sz = 0;
    int fd = open_tmp(c, name);
    if (fd < 0) {
        rc = h->error(TROPT_EBACKEND, "cannot create '%s': %s", c->tmp_path, strerror(errno));
        goto out;
    }
    if ((rc = append(c, fd, &sz, c->tmp_path, b->data, b->len)) != TROPT_OK)
        goto fail;
    if (c->sync != SYNC_OFF && fsync(fd) != 0) {
        rc = h->error(TROPT_EBACKEND, "cannot sync '%s': %s", c->tmp_path, strerror(errno));
        goto fail;
    }
    if (renameat(c->rfd, c->tmp_name, c->rfd, name) != 0) {
        rc = h->error(TROPT_EBACKEND, "cannot rename '%s' to '%s': %s", c->tmp_path, path,
                      strerror(errno));
        goto fail;
    }
    close(fd);
    if (c->sync != SYNC_OFF && fsync(c->rfd) != 0)
        TROPT_HOST_LOG(h, TROPT_LEVEL_WARNING, "cannot sync folder '%s': %s", c->run_dir,
                       strerror(errno));
    goto out;
fail:
    close(fd);
    unlinkat(c->rfd, c->tmp_name, 0);
out:
    h->free(path);
    return rc;
}

int write_json_file(csv *c, const char *name, const json_t *v)
{
    c->out.len = 0;
    json_t *empty = NULL;
    if (!v && !(v = empty = json_object()))
        return oom(c);
    int bad = tev_put_json_indent(&c->out, v, c->h->format_real, 2) != 0 ||
              tev_buf_putc(&c->out, '\n') != 0;
    json_decref(empty);
    if (bad)
        return oom(c);
    int rc = write_file_atomic(c, name, &c->out);
    c->out.len = 0;
    return rc;
}

int types_write(csv *c, int sync_now)
{
    if (c->tq.len) {
        int rc = append(c, c->tyfd, &c->tysize, c->types_path, c->tq.data, c->tq.len);
        if (rc != TROPT_OK)
            return rc;
        tev_buf_clear(&c->tq);
        c->ty_dirty = c->sync == SYNC_NORMAL;
    }
    if (sync_now && c->ty_dirty) {
        if (fsync(c->tyfd) != 0) {
            c->fail_errno = errno;
            return c->h->error(TROPT_EBACKEND, "cannot sync '%s': %s", c->types_path,
                               strerror(errno));
        }
        c->ty_dirty = 0;
    }
    return TROPT_OK;
}
