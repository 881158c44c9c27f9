/* core/status.c - the one rule that decides the status every command shows
 * for a stored run (SPEC 14): its stored status, except that a "running"
 * run whose writer is gone is "crashed".  Gone means: its heartbeat is older
 * than the bound the store keeps (pg), or, for a writer of this host and of
 * this pid namespace, that its process no longer exists (a pid of another
 * namespace, a container, means nothing here). */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static char my_host[256];
static char my_pidns[64];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void read_identity(void)
{
    if (gethostname(my_host, sizeof my_host - 1) != 0)
        my_host[0] = '\0';
    ssize_t n = readlink("/proc/self/ns/pid", my_pidns, sizeof my_pidns - 1);
    my_pidns[n > 0 ? n : 0] = '\0';
}

/* 1 when the run's writer process is known to be gone. */
static int writer_gone(const tropt_stored_run *run)
{
    pthread_once(&once, read_identity);
    if (!run->host || !my_host[0] || strcmp(run->host, my_host) != 0)
        return 0;
    if (run->pidns && my_pidns[0] && strcmp(run->pidns, my_pidns) != 0)
        return 0;
    if (run->pid <= 0 || (int64_t)(pid_t)run->pid != run->pid || run->pid == (int64_t)getpid())
        return 0;
    return kill((pid_t)run->pid, 0) == -1 && errno == ESRCH;
}

const char *tropt_run_status(const tropt_stored_run *run)
{
    static const char *const known[] = {"running", "finished", "aborted", "crashed"};
    if (!run || !run->status)
        return "unknown";
    const char *status = "unknown";
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(run->status, known[i]) == 0)
            status = known[i];
    if (strcmp(status, "running") != 0)
        return status;
    /* either sign is enough: a heartbeat gone stale (from any host), or a
     * writer of this host known gone (at once, before its heartbeat ages) */
    if (isfinite(run->heartbeat_age) && isfinite(run->stale_after) && run->stale_after > 0 &&
        run->heartbeat_age > run->stale_after)
        return "crashed";
    return writer_gone(run) ? "crashed" : "running";
}
