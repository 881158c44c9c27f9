/* core/provenance.c - where a run came from (SPEC 14): the command line,
 * the working directory, the git commit checked out there, the library
 * version.  Read from /proc and from .git's files: no subprocess, and no
 * cost beyond a few small reads when the folder is not a git checkout. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tracker_priv.h"

/* The longest command line recorded; a longer one is cut and ends "...". */
#define MAX_COMMAND 8192

/* Read at most size-1 bytes of a small file, NUL-terminated.  Returns the
 * length, or -1. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t got = 0;
    while (got + 1 < size) {
        ssize_t r = read(fd, buf + got, size - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    return (ssize_t)got;
}

/* out = "a/b" (b NULL: a); 0, or -1 when it does not fit. */
static int path_join(char *out, size_t size, const char *a, const char *b)
{
    int w = b ? snprintf(out, size, "%s/%s", a, b) : snprintf(out, size, "%s", a);
    return w < 0 || (size_t)w >= size ? -1 : 0;
}

/* A word needs quotes unless it is made only of these. */
static int plain_word(const char *w)
{
    return *w && strspn(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                           "_-+=./:,@%") == strlen(w);
}

/* Append one word, single-quoted for a POSIX shell when it needs it. */
static void put_word(char *out, size_t *len, size_t cap, const char *w)
{
    if (*len && *len < cap)
        out[(*len)++] = ' ';
    int quote = !plain_word(w);
    if (quote && *len < cap)
        out[(*len)++] = '\'';
    for (; *w && *len < cap; w++) {
        if (*w == '\'' && quote) {
            for (const char *esc = "'\\''"; *esc && *len < cap; esc++)
                out[(*len)++] = *esc;
            continue;
        }
        out[(*len)++] = *w;
    }
    if (quote && *len < cap)
        out[(*len)++] = '\'';
}

/* The command line of this process, its words shell-quoted, into *out
 * (NULL when /proc does not tell).  TROPT_OK or TROPT_ENOMEM. */
static int command_line(char **out_p)
{
    *out_p = NULL;
    char *raw = tropt__malloc(MAX_COMMAND + 1);
    char *out = tropt__malloc(MAX_COMMAND + 4);
    ssize_t n = raw && out ? read_small("/proc/self/cmdline", raw, MAX_COMMAND + 1) : -1;
    if (n <= 0) {
        tropt__free(raw);
        tropt__free(out);
        return raw && out ? TROPT_OK : tropt__oom();
    }
    size_t len = 0;
    for (ssize_t i = 0; i < n; i += (ssize_t)strlen(raw + i) + 1)
        put_word(out, &len, MAX_COMMAND, raw + i);
    if (len >= MAX_COMMAND || n >= MAX_COMMAND) {
        len = len > MAX_COMMAND ? MAX_COMMAND : len;
        memcpy(out + len, "...", 3);
        len += 3;
    }
    out[len] = '\0';
    tropt__free(raw);
    *out_p = out;
    return TROPT_OK;
}

/* The length of the object id (40 or 64 hex digits, SHA-1 or SHA-256
 * repositories) at s ended by one of `ends`, or 0. */
static size_t object_id(const char *s, const char *ends)
{
    size_t n = strspn(s, "0123456789abcdef");
    return (n == 40 || n == 64) && strchr(ends, s[n]) ? n : 0;
}

static int is_hex_id(const char *s)
{
    return object_id(s, "\n") != 0; /* the NUL is in every set */
}

/* The git folder of the work tree holding dir: "<dir>/.git", or the
 * folder a ".git" file names ("gitdir: ..."); walks up to the root. */
static int find_git_dir(const char *dir, char *out, size_t size)
{
    char cur[PATH_MAX], path[PATH_MAX], buf[PATH_MAX];
    if (path_join(cur, sizeof cur, dir, NULL) != 0)
        return 0;
    for (;;) {
        struct stat st;
        if (path_join(path, sizeof path, cur, ".git") != 0)
            return 0;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            return path_join(out, size, path, NULL) == 0;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && read_small(path, buf, sizeof buf) > 8 &&
            strncmp(buf, "gitdir: ", 8) == 0) {
            buf[strcspn(buf, "\n")] = '\0';
            if (buf[8] == '/')
                return path_join(out, size, buf + 8, NULL) == 0;
            return path_join(out, size, cur, buf + 8) == 0;
        }
        char *slash = strrchr(cur, '/');
        if (!slash || slash == cur)
            return 0;
        *slash = '\0';
    }
}

/* The commit `ref` ("refs/heads/main") points to, from the loose ref file
 * or packed-refs of gitdir or its common folder. */
static int resolve_ref(const char *gitdir, const char *ref, char *sha, size_t size)
{
    char common[PATH_MAX], path[PATH_MAX], buf[PATH_MAX];
    if (path_join(common, sizeof common, gitdir, NULL) != 0 ||
        path_join(path, sizeof path, gitdir, "commondir") != 0)
        return 0;
    if (read_small(path, buf, sizeof buf) > 0) { /* a linked work tree */
        buf[strcspn(buf, "\n")] = '\0';
        if (path_join(common, sizeof common, buf[0] == '/' ? buf : gitdir,
                      buf[0] == '/' ? NULL : buf) != 0)
            return 0;
    }
    const char *dirs[2] = {gitdir, common};
    for (int i = 0; i < 2; i++)
        if (path_join(path, sizeof path, dirs[i], ref) == 0 && read_small(path, sha, size) > 0 &&
            is_hex_id(sha))
            return 1;
    if (path_join(path, sizeof path, common, "packed-refs") != 0)
        return 0;
    FILE *f = fopen(path, "re");
    int found = 0;
    char line[1024];
    while (f && !found && fgets(line, sizeof line, f)) {
        size_t n = object_id(line, " ");
        char *sp = line + n;
        if (!n || *sp != ' ')
            continue;
        sp[strcspn(sp, "\n")] = '\0';
        if (strcmp(sp + 1, ref) == 0) {
            *sp = '\0';
            found = path_join(sha, size, line, NULL) == 0;
        }
    }
    if (f)
        fclose(f);
    return found;
}

/* The commit checked out in the git work tree holding cwd into sha (""
 * when it is not in one, or on an unborn branch). */
static void git_commit(const char *cwd, char *sha, size_t size)
{
    char gitdir[PATH_MAX], head[PATH_MAX], path[PATH_MAX];
    sha[0] = '\0';
    if (!find_git_dir(cwd, gitdir, sizeof gitdir) ||
        path_join(path, sizeof path, gitdir, "HEAD") != 0 ||
        read_small(path, head, sizeof head) <= 0)
        return;
    head[strcspn(head, "\n")] = '\0';
    size_t n = object_id(head, "");
    if (n && n < size) { /* a detached HEAD */
        memcpy(sha, head, n);
        sha[n] = '\0';
    } else if (strncmp(head, "ref: ", 5) != 0 || !resolve_ref(gitdir, head + 5, sha, size))
        sha[0] = '\0';
    sha[strcspn(sha, "\n")] = '\0';
}

static int dup_into(char **dst, const char *src)
{
    *dst = tropt__strdup(src);
    return *dst ? TROPT_OK : tropt__oom();
}

int tropt__provenance_fill(tropt__run_id *id)
{
    char cwd[PATH_MAX], sha[128];
    int rc = command_line(&id->command);
    if (rc == TROPT_OK && getcwd(cwd, sizeof cwd)) {
        git_commit(cwd, sha, sizeof sha);
        rc = dup_into(&id->cwd, cwd);
        if (rc == TROPT_OK && sha[0])
            rc = dup_into(&id->git_commit, sha);
    }
    return rc == TROPT_OK ? dup_into(&id->version, tropt_version()) : rc;
}
