/* core/status.c - the one rule that decides a stored run's status
 * (tropt_run_status, include/tropt/host.h).
 *
 * A backend stores what its writer said: `running` until finish, then
 * `finished`, `aborted` or `crashed`.  A writer killed outright (SIGKILL,
 * the OOM killer, a power cut) never says more, so its run stays `running`
 * in the store.  Every reader goes through tropt_reader_list_runs/read_run
 * (core/reader.c), which ask this file, so every command and every backend
 * shows the same status for the same run:
 *
 *   stored `running`, and
 *     its heartbeat is older than its bound (a store that keeps one: pg), or
 *     its writer ran on this host, in this pid namespace (unknown counts as
 *     this one), as a process that no longer exists
 *   => `crashed`.
 *
 * A run of another host or another pid namespace (a container with the same
 * host name), or whose pid is unknown (0) or this process, is not judged.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "internal.h"

#include <tropt/host.h>

/* This process's pid namespace, "" when unknown. */
static void my_pidns(char *buf, size_t size)
{
    ssize_t n = readlink("/proc/self/ns/pid", buf, size - 1);
    buf[n > 0 ? n : 0] = '\0';
}

static int same_host(const char *host)
{
    char me[256] = "";
    return host && gethostname(me, sizeof me - 1) == 0 && strcmp(host, me) == 0;
}

static int same_pidns(const char *pidns)
{
    char me[64];
    my_pidns(me, sizeof me);
    return !pidns || !me[0] || strcmp(pidns, me) == 0;
}

/* The writer of a run of this host and pid namespace is gone. */
static int writer_gone(const tropt_stored_run *run)
{
    int64_t pid = run->pid;
    if (pid <= 0 || (int64_t)(pid_t)pid != pid || pid == (int64_t)getpid())
        return 0;
    if (!same_host(run->host) || !same_pidns(run->pidns))
        return 0;
    return kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

static int heartbeat_stale(const tropt_stored_run *run)
{
    return !isnan(run->heartbeat_age) && !isnan(run->stale_after) &&
           run->heartbeat_age > run->stale_after;
}

const char *tropt_run_status(const tropt_stored_run *run)
{
    if (!run)
        return NULL;
    if (!run->status)
        return "running";
    if (strcmp(run->status, "running") == 0 && (heartbeat_stale(run) || writer_gone(run)))
        return "crashed";
    return run->status;
}
