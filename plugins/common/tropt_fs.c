/* plugins/common/tropt_fs.c - whole writes and safe spool files. */
#include "tropt_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* write(2) (off < 0) or pwrite(2) at off, until all n bytes are out;
 * *done counts the bytes written, also when it fails. */
static int write_loop(int fd, const char *s, size_t n, off_t off, size_t *done)
{
    *done = 0;
    while (*done < n) {
        size_t left = n - *done;
        ssize_t w = off < 0 ? write(fd, s + *done, left) : pwrite(fd, s + *done, left, off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (w == 0) { /* no progress and no reason: do not spin */
            errno = EIO;
            return -1;
        }
        *done += (size_t)w;
        if (off >= 0)
            off += w;
    }
    return 0;
}

int tropt_write_all(int fd, const void *p, size_t n)
{
    size_t done;
    return write_loop(fd, p, n, -1, &done);
}

int tropt_write_counted(int fd, const void *p, size_t n, size_t *done)
{
    return write_loop(fd, p, n, -1, done);
}

int tropt_pwrite_all(int fd, const void *p, size_t n, off_t off)
{
    if (off < 0) {
        errno = EINVAL;
        return -1;
    }
    size_t done;
    return write_loop(fd, p, n, off, &done);
}

int tropt_mkdir_p(const char *path, size_t *failed)
{
    char p[PATH_MAX];
    size_t n = strlen(path);
    *failed = 0;
    if (n >= sizeof p) {
        *failed = n;
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(p, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if ((p[i] != '/' && p[i] != '\0') || p[i - 1] == '/')
            continue;
        p[i] = '\0'; /* p is now the leading part up to this component */
        int e = mkdir(p, 0777) == 0 ? 0 : errno;
        if (e == EEXIST) {
            struct stat st;
            if (stat(p, &st) == 0)
                e = S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
            /* else (a dangling link, say): EEXIST stays the reason */
        }
        p[i] = path[i];
        if (e) {
            *failed = i;
            errno = e;
            return -1;
        }
    }
    return 0;
}

int tropt_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

int tropt_fsync_parent(const char *file)
{
    const char *slash = strrchr(file, '/');
    if (!slash)
        return tropt_fsync_dir(".");
    if (slash == file)
        return tropt_fsync_dir("/");
    size_t n = (size_t)(slash - file);
    char dir[PATH_MAX];
    if (n >= sizeof dir) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(dir, file, n);
    dir[n] = '\0';
    return tropt_fsync_dir(dir);
}

/* Numbers the spool files of this process (with the pid and the time, a
 * name no other writer uses). */
static atomic_uint spool_seq;

int tropt_spool_create(const char *dir, void *(*malloc_fn)(size_t), void (*free_fn)(void *),
                       char **path)
{
    *path = NULL;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return -1;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
        /* Linux says ENOTDIR for a link to a folder: report it as a link */
        struct stat st;
        if (errno == ENOTDIR && lstat(dir, &st) == 0 && S_ISLNK(st.st_mode))
            errno = ELOOP;
        return -1;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char name[96];
    snprintf(name, sizeof name, "%04d%02d%02dT%02d%02d%02d.%06ldZ-%ld-%u.jsonl", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000,
             (long)getpid(), atomic_fetch_add(&spool_seq, 1));
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc_fn(n);
    if (!p) {
        close(dfd);
        errno = ENOMEM;
        return -1;
    }
    snprintf(p, n, "%s/%s", dir, name);
    int fd =
        openat(dfd, name, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    int e = errno;
    close(dfd);
    if (fd < 0) {
        free_fn(p);
        errno = e;
        return -1;
    }
    *path = p;
    return fd;
}

int tropt_tmp_create(int dfd, const char *name, char *out, size_t outsz)
{
    for (int attempt = 0; attempt < 16; attempt++) {
        unsigned char r[8];
        size_t got = 0;
        while (got < sizeof r) {
            ssize_t n = getrandom(r + got, sizeof r - got, 0);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                return -1;
            }
            got += (size_t)n;
        }
        int len = snprintf(out, outsz, ".%s.%02x%02x%02x%02x%02x%02x%02x%02x.tmp", name, r[0], r[1],
                           r[2], r[3], r[4], r[5], r[6], r[7]);
        if (len < 0 || (size_t)len >= outsz) {
            errno = ENAMETOOLONG;
            return -1;
        }
        int fd = openat(dfd, out, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

static atomic_uint whole_seq;

int tropt_create_whole(int dfd, const char *name, const void *data, size_t len, int sync)
{
    char tmp[64];
    snprintf(tmp, sizeof tmp, TROPT_WHOLE_TMP_PREFIX "%ld-%u", (long)getpid(),
             atomic_fetch_add(&whole_seq, 1));
    int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0)
        return -1;
    int e = 0;
    if (tropt_pwrite_all(fd, data, len, 0) != 0 || (sync && fsync(fd) != 0))
        e = errno ? errno : EIO;
    close(fd);
    if (!e && linkat(dfd, tmp, dfd, name, 0) != 0)
        e = errno;
    unlinkat(dfd, tmp, 0);
    errno = e;
    return e ? -1 : 0;
}

int tropt_host_mkdir_p(const tropt_host *h, const char *path)
{
    size_t bad;
    if (tropt_mkdir_p(path, &bad) == 0)
        return TROPT_OK;
    if (errno == ENOTDIR)
        return h->error(TROPT_EBACKEND,
                        "cannot create folder '%s': '%.*s' exists and is not a folder", path,
                        (int)bad, path);
    return h->error(TROPT_EBACKEND, "cannot create folder '%s': %.*s: %s", path, (int)bad, path,
                    strerror(errno));
}

char *tropt_folder_name(const tropt_host *h, const char *name)
{
    size_t n = strlen(name);
    if (n > 200) {
        n = 200;
        while (n > 0 && ((unsigned char)name[n] & 0xC0) == 0x80)
            n--;
    }
    char *s = h->malloc(n + 2);
    if (!s)
        return NULL;
    int leading = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch == '/' || ch == '\\' || ch < 0x20 || ch == 0x7f || (leading && ch == '.'))
            ch = '_';
        else
            leading = 0;
        s[i] = (char)ch;
    }
    if (n == 0)
        s[n++] = '_';
    s[n] = '\0';
    return s;
}
