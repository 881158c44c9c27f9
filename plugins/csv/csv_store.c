/*
 * plugins/csv/csv_store.c - what spans runs of one csv store: the run's
 * lock file (one writer per run, run.json changed under byte 1), resume-key
 * claims, tombstones of deleted runs, annotate and delete_run
 * (README.md "Attempts", "Deleting a run").
 */
#include "csv_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int lock_byte(int fd, int byte, int wait)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = byte;
    fl.l_len = 1;
    int rc;
    do
        rc = fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl);
    while (rc != 0 && errno == EINTR);
    return rc == 0 ? 0 : -1;
}

void unlock_byte(int fd, int byte)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_UNLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = byte;
    fl.l_len = 1;
    (void)fcntl(fd, F_OFD_SETLK, &fl);
}

int lock_open(int dfd)
{
    return openat(dfd, ".lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0666);
}
