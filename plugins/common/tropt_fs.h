/*
 * plugins/common/tropt_fs.h - file helpers the backends share: writing a
 * whole buffer, and creating a spool file safely.
 *
 * Part of the plugins/common static library (libc only).  Every function
 * sets errno on failure.
 */
#ifndef TROPT_FS_H
#define TROPT_FS_H

#include <stddef.h>

/* Write all n bytes of p to fd, retrying short writes and EINTR.
 * Returns 0, or -1 with errno set (ENOSPC, EIO, ...). */
int tropt_write_all(int fd, const void *p, size_t n);

/*
 * Create a new spool file in folder `dir` (created 0777 & ~umask when
 * missing; its last component must not be a symbolic link), named
 * "<UTC time>-<pid>-<seq>.jsonl" so files sort in the order they were
 * started.  The file is created with O_EXCL|O_NOFOLLOW relative to the
 * folder's descriptor, so a file or link planted under that name is never
 * followed or truncated.  On success returns the descriptor (O_WRONLY |
 * O_APPEND | O_CLOEXEC) and stores the file's path in *path, allocated
 * with malloc_fn (the caller frees it with free_fn).  Returns -1 with errno
 * set otherwise, and nothing allocated.
 */
int tropt_spool_create(const char *dir, void *(*malloc_fn)(size_t), void (*free_fn)(void *),
                       char **path);

#endif
