/* core/status.c - the one rule that decides a stored run's status.
 *
 * A backend stores what its writer said: `running` until finish, then
 * `finished`, `aborted` or `crashed`.  A writer killed outright (SIGKILL,
 * OOM killer, power cut) never says more, so its run stays `running` in the
 * store.  Every reader goes through tropt_reader_list_runs/read_run
 * (core/reader.c), which ask this file, so every command and every backend
 * shows the same status for the same run:
 *
 *   a run stored as `running` whose writer ran on this host (same host
 *   name) as a process that no longer exists is `crashed`.
 *
 * A run of another host, or whose pid is unknown (0), or is this process,
 * stays `running`: nothing here can tell.  A backend that knows more (pg's
 * heartbeat) reports `crashed` itself; a backend that knows a pid means
 * nothing here (sqlite: a writer in another pid namespace) reports pid 0.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "internal.h"

/* The writer of a run of this host is gone. */
static int writer_gone(const char *host, int64_t pid)
{
    char me[256] = "";
    if (!host || pid <= 0 || (int64_t)(pid_t)pid != pid || pid == (int64_t)getpid())
        return 0;
    if (gethostname(me, sizeof me - 1) != 0 || strcmp(host, me) != 0)
        return 0;
    return kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

const char *tropt__run_status(const char *status, const char *host, int64_t pid)
{
    if (!status)
        return "running";
    if (strcmp(status, "running") == 0 && writer_gone(host, pid))
        return "crashed";
    return status;
}
