/*
 * plugins/csv/csv_store.c - what spans runs of one csv store: the run's
 * lock file (one writer per run, run.json changed under byte 1), resume-key
 * claims, tombstones of deleted runs, annotate and delete_run
 * (README.md "Attempts", "Deleting a run").
 */
#include "csv_priv.h"
#include "tropt_fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* fcntl(fd, cmd) on byte `byte` with lock type `type`, retried on EINTR. */
static int byte_lock(int fd, int byte, short type, int cmd)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = byte;
    fl.l_len = 1;
    int rc;
    do
        rc = fcntl(fd, cmd, &fl);
    while (rc != 0 && errno == EINTR);
    return rc == 0 ? 0 : -1;
}

int lock_byte(int fd, int byte, int wait)
{
    return byte_lock(fd, byte, F_WRLCK, wait ? F_OFD_SETLKW : F_OFD_SETLK);
}

void unlock_byte(int fd, int byte)
{
    (void)byte_lock(fd, byte, F_UNLCK, F_OFD_SETLK);
}

int lock_open(int dfd)
{
    return openat(dfd, ".lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0666);
}

/* ---- tombstones and resume keys ------------------------------------------ */

int store_check_deleted(csv *c, int dfd, const char *run_id)
{
    char name[128];
    snprintf(name, sizeof name, ".deleted/%s", run_id);
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return TROPT_OK;
    return c->h->error(TROPT_EINVAL,
                       "run %s was deleted from '%s' (tropt rm); it is not written again", run_id,
                       c->dir);
}

/* The claim file of a resume key: ".resume_keys/<hex of the key>" (the
 * key is any text; its first 100 bytes and a hash of the rest name it). */
static void key_file(const char *key, char *out, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = (size_t)snprintf(out, size, ".resume_keys/k");
    size_t n = strlen(key);
    for (size_t i = 0; i < n && i < 100 && o + 3 < size; i++) {
        out[o++] = hex[(unsigned char)key[i] >> 4];
        out[o++] = hex[(unsigned char)key[i] & 15];
    }
    out[o] = '\0';
    if (n > 100) {
        uint64_t x = 1469598103934665603ull;
        for (size_t i = 0; i < n; i++)
            x = (x ^ (unsigned char)key[i]) * 1099511628211ull;
        snprintf(out + o, size - o, "-%016llx", (unsigned long long)x);
    }
}

/* The run id a claim file holds ("" when unreadable). */
static void claim_owner(int dfd, const char *name, char *id, size_t size)
{
    id[0] = '\0';
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, id, size - 1);
    close(fd);
    id[n > 0 ? n : 0] = '\0';
}

/* Create the claim file `name` (".resume_keys/<file>") holding run_id,
 * exclusively and whole (tropt_create_whole), so the racer that loses reads
 * whose run won: 0, or -1 with errno (EEXIST: another claim is there). */
static int claim_create(int dfd, const char *name, const char *run_id)
{
    int kfd = openat(dfd, ".resume_keys", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (kfd < 0)
        return -1;
    int r = tropt_create_whole(kfd, strchr(name, '/') + 1, run_id, strlen(run_id), 1);
    int e = errno;
    close(kfd);
    errno = e;
    return r;
}

int store_claim_key(csv *c, int dfd, const char *key, const char *run_id)
{
    char name[sizeof c->claim], owner[64];
    key_file(key, name, sizeof name);
    if (mkdirat(dfd, ".resume_keys", 0777) != 0 && errno != EEXIST)
        return c->h->error(TROPT_EBACKEND, "cannot create '%s/.resume_keys': %s", c->dir,
                           strerror(errno));
    for (int tries = 0; tries < 2; tries++) {
        if (claim_create(dfd, name, run_id) == 0) {
            snprintf(c->claim, sizeof c->claim, "%s", name);
            return TROPT_OK;
        }
        if (errno != EEXIST)
            return c->h->error(TROPT_EBACKEND, "cannot create '%s/%s': %s", c->dir, name,
                               strerror(errno));
        claim_owner(dfd, name, owner, sizeof owner);
        if (strcmp(owner, run_id) == 0)
            return TROPT_OK; /* this run's key: a continuation, a replay */
        char dead[128];
        snprintf(dead, sizeof dead, ".deleted/%s", owner);
        struct stat st;
        if (!*owner || fstatat(dfd, dead, &st, AT_SYMLINK_NOFOLLOW) != 0)
            break;
        unlinkat(dfd, name, 0); /* the key of a deleted run is free again */
    }
    return c->h->error(TROPT_EBACKEND,
                       "resume key '%s' is carried by run %s already in '%s': two processes "
                       "starting with one key cannot both open a run (one key belongs to one "
                       "process)",
                       key, *owner ? owner : "(unreadable)", c->dir);
}

void store_unclaim(csv *c)
{
    if (!c->claim[0])
        return;
    int dfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        unlinkat(dfd, c->claim, 0);
        close(dfd);
    }
    c->claim[0] = '\0';
}

/* ---- finding a stored run ---------------------------------------------------- */

/* The folder <dir>/<experiment>/<run_id> holding run.json, opened into
 * *rfd, its path into *path (host memory).  TROPT_EINVAL naming the id
 * when the store holds no such run. */
static int find_run(csv *c, const char *run_id, int *rfd, char **path)
{
    *rfd = -1;
    *path = NULL;
    DIR *d = opendir(c->dir);
    struct dirent *e;
    while (d && *rfd < 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char rel[600];
        snprintf(rel, sizeof rel, "%s/%s", e->d_name, run_id);
        int fd = openat(dirfd(d), rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd >= 0 && fstatat(fd, "run.json", &st, AT_SYMLINK_NOFOLLOW) == 0) {
            *rfd = fd;
            *path = joinpath(c, c->dir, rel);
        } else if (fd >= 0) {
            close(fd);
        }
    }
    if (d)
        closedir(d);
    if (*rfd >= 0 && !*path) {
        close(*rfd);
        *rfd = -1;
        return oom(c);
    }
    if (*rfd < 0)
        return c->h->error(TROPT_EINVAL, "no run %s in '%s'", run_id, c->dir);
    return TROPT_OK;
}

/* ---- annotate ------------------------------------------------------------------ */

/* Replace <rfd>/run.json by m, atomically (a temporary file renamed over
 * it).  0, or -1 with errno. */
static int json_replace(int rfd, const json_t *m)
{
    char tmp[64];
    snprintf(tmp, sizeof tmp, ".run.json.%ld.tmp", (long)getpid());
    int fd = openat(rfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0)
        return -1;
    int ok = json_dumpfd(m, fd, JSON_INDENT(2) | JSON_REAL_PRECISION(17)) == 0 &&
             write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    int e = errno;
    close(fd);
    if (ok && renameat(rfd, tmp, rfd, "run.json") == 0)
        return 0;
    e = ok ? errno : e;
    unlinkat(rfd, tmp, 0);
    errno = e;
    return -1;
}

/* The annotation applied to a stored run's run.json, under its lock's
 * byte 1 (the run's writer merges it into its own run.json). */
static int annotate_stored(csv *c, int rfd, const char *path, const tropt_annotation *a)
{
    int lfd = lock_open(rfd);
    if (lfd < 0 || lock_byte(lfd, 1, 1) != 0) {
        int e = errno;
        if (lfd >= 0)
            close(lfd);
        return c->h->error(TROPT_EBACKEND, "cannot lock '%s/.lock': %s", path, strerror(e));
    }
    json_error_t je;
    int jfd = openat(rfd, "run.json", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    json_t *m = jfd >= 0 ? json_loadfd(jfd, 0, &je) : NULL;
    int rc = TROPT_OK;
    if (jfd >= 0)
        close(jfd);
    if (!m && jfd >= 0 && json_error_code(&je) == json_error_out_of_memory)
        rc = oom(c);
    else if (!m)
        rc = c->h->error(TROPT_EBACKEND, "cannot read '%s/run.json': %s", path,
                         jfd < 0 ? strerror(errno) : je.text);
    else if (meta_annotate(m, a) != 0)
        rc = oom(c);
    else if (json_replace(rfd, m) != 0)
        rc = c->h->error(TROPT_EBACKEND, "cannot write '%s/run.json': %s", path, strerror(errno));
    json_decref(m);
    unlock_byte(lfd, 1);
    close(lfd);
    return rc;
}

int csv_annotate(void *self, const char *run_id, const tropt_annotation *a)
{
    csv *c = self;
    const char *open_id = c->open ? json_string_value(json_object_get(c->meta, "run_id")) : NULL;
    if (open_id && strcmp(open_id, run_id) == 0)
        return meta_write_with(c, a);
    int rfd;
    char *path;
    int rc = find_run(c, run_id, &rfd, &path);
    if (rc != TROPT_OK)
        return rc;
    rc = annotate_stored(c, rfd, path, a);
    close(rfd);
    c->h->free(path);
    return rc;
}

/* ---- delete_run ------------------------------------------------------------------ */

/* Note run_id in <dir>/.deleted (the tombstone: a later init is refused). */
static int tombstone(csv *c, int dfd, const char *run_id)
{
    char name[128];
    snprintf(name, sizeof name, ".deleted/%s", run_id);
    if (mkdirat(dfd, ".deleted", 0777) != 0 && errno != EEXIST)
        return -1;
    int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0)
        return -1;
    int ok = c->sync == SYNC_OFF || fsync(fd) == 0;
    close(fd);
    return ok ? 0 : -1;
}

/* The run's resume key is free again (its claim named this run).  When
 * run.json cannot be loaded for want of memory the claim stays (a later
 * claim of the key frees it: its run is deleted) and a warning says so. */
static void drop_claim(csv *c, int dfd, int rfd, const char *run_id)
{
    json_error_t je;
    int jfd = openat(rfd, "run.json", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    json_t *m = jfd >= 0 ? json_loadfd(jfd, 0, &je) : NULL;
    if (jfd >= 0)
        close(jfd);
    if (!m && jfd >= 0 && json_error_code(&je) == json_error_out_of_memory)
        TROPT_HOST_LOG(c->h, TROPT_LEVEL_WARNING,
                       "out of memory reading the resume key of run %s in '%s'; its claim "
                       "stays until the key is claimed again",
                       run_id, c->dir);
    const char *key = json_string_value(json_object_get(m, "resume_key"));
    if (key) {
        char name[300], owner[64];
        key_file(key, name, sizeof name);
        claim_owner(dfd, name, owner, sizeof owner);
        if (strcmp(owner, run_id) == 0)
            unlinkat(dfd, name, 0);
    }
    json_decref(m);
}

/* Every entry of the run folder rfd removed (it holds files only). */
static int empty_folder(int rfd)
{
    int fd = dup(rfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            unlinkat(rfd, e->d_name, 0) != 0 && errno != ENOENT)
            rc = -1;
    closedir(d);
    return rc;
}

int csv_delete_run(void *self, const char *run_id)
{
    csv *c = self;
    int rfd;
    char *path;
    int rc = find_run(c, run_id, &rfd, &path);
    if (rc != TROPT_OK)
        return rc;
    int dfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || tombstone(c, dfd, run_id) != 0)
        rc = c->h->error(TROPT_EBACKEND, "cannot note run %s as deleted in '%s/.deleted': %s",
                         run_id, c->dir, strerror(errno));
    if (rc == TROPT_OK) {
        drop_claim(c, dfd, rfd, run_id);
        if (empty_folder(rfd) != 0 || rmdir(path) != 0)
            rc = c->h->error(TROPT_EBACKEND, "cannot remove '%s': %s", path, strerror(errno));
    }
    if (dfd >= 0)
        close(dfd);
    close(rfd);
    c->h->free(path);
    return rc;
}
