/* plugins/common/tropt_fs.c - whole writes and safe spool files. */
#include "tropt_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int tropt_write_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
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
