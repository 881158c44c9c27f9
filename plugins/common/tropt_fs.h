/*
 * plugins/common/tropt_fs.h - file helpers the backends share: writing a
 * whole buffer, creating folders, syncing a folder's entries, and creating
 * spool and temporary files safely.
 *
 * Part of the plugins/common static library (libc only).  Every function
 * sets errno on failure.
 */
#ifndef TROPT_FS_H
#define TROPT_FS_H

#include <stddef.h>
#include <sys/types.h>

#include <tropt/plugin.h>

/* Write all n bytes of p to fd, retrying short writes and EINTR.
 * Returns 0, or -1 with errno set (ENOSPC, EIO, ...). */
int tropt_write_all(int fd, const void *p, size_t n);
/* The same, and *done says how many bytes reached the file, also when it
 * fails (so a caller can keep exactly the rest for a retry). */
int tropt_write_counted(int fd, const void *p, size_t n, size_t *done);

/* The same with pwrite(2) at offset off (the file offset is not moved).
 * Returns 0, or -1 with errno set (EINVAL for off < 0).  A write that
 * makes no progress is EIO, never a spin. */
int tropt_pwrite_all(int fd, const void *p, size_t n, off_t off);

/*
 * Create the folder path and every missing folder above it (mode 0777 &
 * ~umask), like `mkdir -p`; folders that exist already, or links to
 * folders, are fine.  Returns 0, or -1 with errno set and *failed the
 * length of the leading part of path that could not be created (for the
 * message "cannot create '%.*s'"): ENOTDIR when that part exists and is
 * not a folder, ENAMETOOLONG for a path of PATH_MAX bytes or more, or
 * mkdir's own reason (EACCES, ENOSPC, ...).  Allocates nothing.
 */
int tropt_mkdir_p(const char *path, size_t *failed);

/* tropt_mkdir_p for a backend: TROPT_OK, or TROPT_EBACKEND through
 * h->error with a message naming the part of path that failed. */
int tropt_host_mkdir_p(const tropt_host *h, const char *path);

/*
 * The folder name a backend gives a name it stores (an experiment, a run
 * name): '/', '\\', control characters and leading dots become '_' (so
 * never "", "." or ".." nor a hidden folder), cut to 200 bytes at a UTF-8
 * boundary.  Allocated with h->malloc (the caller frees it with h->free);
 * NULL when memory ran out (no message set).
 */
char *tropt_folder_name(const tropt_host *h, const char *name);

/* fsync(2) the folder dir, so that the entries created or renamed in it
 * survive a power loss.  Returns 0, or -1 with errno set. */
int tropt_fsync_dir(const char *dir);
/* The same for the folder that holds file ("." for a bare name). */
int tropt_fsync_parent(const char *file);

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

/*
 * Create a new temporary file in the folder open as dfd, for a file to be
 * renamed over `name` later: ".<name>.<16 random hex digits>.tmp", created
 * with O_CREAT|O_EXCL|O_NOFOLLOW (a name taken already, by anyone, is never
 * opened: another random name is tried, up to 16 times).  The name is
 * unpredictable (getrandom), so nobody can plant a link under it in
 * advance.  Writes the name into out (at most outsz bytes, NUL included;
 * 32 + strlen(name) is enough).  Returns the descriptor (O_RDWR |
 * O_CLOEXEC, mode 0666 & ~umask), or -1 with errno set (ENAMETOOLONG when
 * out is too small); nothing is left behind on failure.
 */
int tropt_tmp_create(int dfd, const char *name, char *out, size_t outsz);

/* The prefix of the temporary files tropt_create_whole makes: one is left
 * behind only by a process killed during the call, and a store removing a
 * folder may remove such files with it. */
#define TROPT_WHOLE_TMP_PREFIX ".tropt-tmp-"

/*
 * Put the len bytes at data under `name` (a plain name, no '/') in the folder
 * open as dfd, unless the name is taken: they are written to a temporary
 * file of this process's own (TROPT_WHOLE_TMP_PREFIX "<pid>-<n>" in dfd),
 * fsync'd when sync is non-zero, then linked to name, so name never shows
 * partly written and of two processes creating it one wins.  Returns 0, or
 * -1 with errno set (EEXIST: the name is taken); the temporary file is
 * removed either way.  Allocates nothing.
 */
int tropt_create_whole(int dfd, const char *name, const void *data, size_t len, int sync);

#endif
