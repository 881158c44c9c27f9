/*
 * plugins/jsonl/jsonl.c - the event journal: appends each run's events, one
 * JSON object per line, in the NDJSON event format (plugins/common/README.md).
 *
 * Durability.  With the default batch=1 every event is handed to the kernel
 * with write(2) before the hook returns, so a killed process loses nothing
 * that was logged; flush and finish are barriers that also fsync (option
 * fsync=flush), which makes the journal durable against a power loss at
 * those points.  batch=N keeps up to N-1 events in memory (lost if the
 * process is killed), fsync=always syncs after every write.
 *
 * The file is opened with O_APPEND and each batch is one write(2), so
 * several processes may append to one journal; their lines never mix
 * (events of different runs interleave, replay sorts them out by run id).
 * A journal whose last line was cut by a crash gets that line terminated
 * before anything is appended, so the cut event is one malformed line
 * that `tropt replay` skips with a warning.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tropt/plugin.h>

#include "jsonl_read.h"
#include "tropt_event.h"
#include "tropt_fs.h"
#include "tropt_mem.h"

enum { FSYNC_FLUSH = 0, FSYNC_ALWAYS = 1, FSYNC_NEVER = 2 };

static const char *const fsync_choices[] = {"flush", "always", "never", NULL};

enum {
    JSONL_OPT_PATH,
    JSONL_OPT_BATCH,
    JSONL_OPT_FSYNC,
    JSONL_OPT_PENDING_MAX,
    JSONL_OPT_RETRY_INTERVAL,
    JSONL_OPT_COUNT
};

static const tropt_option_def jsonl_options[] = {
    [JSONL_OPT_PATH] = TROPT_OPTION_PATH(
        "path", "tropt.jsonl", "journal file events are appended to (created if missing)"),
    [JSONL_OPT_BATCH] = TROPT_OPTION_INT(
        "batch", "1", 1, 1000000,
        "events gathered before one write(2); 1: every event is written before log returns"),
    [JSONL_OPT_FSYNC] =
        TROPT_OPTION_ENUM("fsync", "flush", fsync_choices,
                          "when to fsync: at flush/finish, after every write, or never"),
    [JSONL_OPT_PENDING_MAX] = TROPT_OPTION_INT(
        "pending_max", "67108864", 4096, 1099511627776.0,
        "bytes of events held in memory until written; past it a failing write drops the step"),
    [JSONL_OPT_RETRY_INTERVAL] = TROPT_OPTION_DURATION(
        "retry_interval", "1s", 0, 86400000.0,
        "after a failed write, log retries at most this often (flush/finish always retry)"),
    [JSONL_OPT_COUNT] = TROPT_OPTIONS_END,
};
TROPT_OPTIONS_CHECK(jsonl_options, JSONL_OPT_COUNT);

typedef struct jsonl {
    const tropt_host *host;
    char *path;
    int fd;
    int torn; /* the file ends in a partial line: terminate it first */
    int64_t batch;
    int fsync_mode;
    int64_t n_pending;
    int end_pending; /* a run_end is in buf (a retried finish must not add another) */
    tev_buf buf;
    size_t pending_max;
    double retry_interval_s;
    /* the last write failed: at fail_at, with errno fail_errno; log retries
     * only retry_interval_s later */
    int failing, fail_errno;
    double fail_at;
    int64_t attempt; /* the open run's attempt (its steps say it when > 1) */
} jsonl;

/* Hand every pending event to the kernel.  On failure the events not fully
 * written stay pending (retried by the next call) and the error names the
 * path and the cause. */
static int write_pending_once(jsonl *j)
{
    size_t done;
    if (j->torn && j->buf.len) {
        if (tropt_write_all(j->fd, "\n", 1) != 0) {
            j->fail_errno = errno;
            return j->host->error(TROPT_EBACKEND, "cannot write to journal %s: %s", j->path,
                                  strerror(errno));
        }
        j->torn = 0;
    }
    if (!j->buf.len)
        return TROPT_OK;
    if (tropt_write_counted(j->fd, j->buf.data, j->buf.len, &done) != 0) {
        int e = errno;
        j->fail_errno = e;
        size_t keep = 0; /* bytes of complete lines that made it */
        for (size_t i = done; i > 0; i--) {
            if (j->buf.data[i - 1] == '\n') {
                keep = i;
                break;
            }
        }
        if (done > keep)
            j->torn = 1;
        memmove(j->buf.data, j->buf.data + keep, j->buf.len - keep);
        j->buf.len -= keep;
        j->buf.data[j->buf.len] = '\0';
        return j->host->error(TROPT_EBACKEND, "cannot write to journal %s: %s", j->path,
                              strerror(e));
    }
    tev_buf_clear(&j->buf);
    j->n_pending = 0;
    j->end_pending = 0;
    if (j->fsync_mode == FSYNC_ALWAYS && fdatasync(j->fd) != 0) {
        j->fail_errno = errno; /* the cause the retry messages give */
        return j->host->error(TROPT_EBACKEND, "cannot sync journal %s: %s", j->path,
                              strerror(errno));
    }
    return TROPT_OK;
}

/* write_pending_once, noting whether the medium failed (retry_interval). */
static int write_pending(jsonl *j)
{
    int rc = write_pending_once(j);
    if (rc == TROPT_EBACKEND) {
        j->failing = 1;
        j->fail_at = j->host->now();
    } else if (rc == TROPT_OK) {
        /* the buffer grown by a disk-full episode is not kept */
        if (j->failing && j->buf.len == 0 && j->buf.cap > (1u << 20))
            tev_buf_free(&j->buf);
        j->failing = 0;
    }
    return rc;
}

static int barrier(jsonl *j)
{
    int rc = write_pending(j);
    if (rc != TROPT_OK)
        return rc;
    if (j->fsync_mode == FSYNC_FLUSH && fsync(j->fd) != 0)
        return j->host->error(TROPT_EBACKEND, "cannot sync journal %s: %s", j->path,
                              strerror(errno));
    return TROPT_OK;
}

static int jsonl_create(void **self, const tropt_optval *opts, const tropt_host *host)
{
    jsonl *j = host->malloc(sizeof *j);
    if (!j)
        return host->error(TROPT_ENOMEM, "out of memory");
    memset(j, 0, sizeof *j);
    j->host = host;
    j->fd = -1;
    j->batch = opts[JSONL_OPT_BATCH].i;
    j->fsync_mode = (int)opts[JSONL_OPT_FSYNC].i;
    j->pending_max = (size_t)opts[JSONL_OPT_PENDING_MAX].i;
    j->retry_interval_s = opts[JSONL_OPT_RETRY_INTERVAL].d / 1000.0;
    tev_buf_init(&j->buf, host->realloc, host->free);
    j->path = tropt_host_strdup(host, opts[JSONL_OPT_PATH].text);
    if (!j->path) {
        host->free(j);
        return host->error(TROPT_ENOMEM, "out of memory");
    }
    /* O_NOFOLLOW: a symbolic link planted at the path (a shared folder, a
     * predictable name) would make every event go to the link's target. */
    j->fd = open(j->path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (j->fd < 0) {
        int e = errno;
        struct stat lst;
        int rc =
            e == ELOOP && lstat(j->path, &lst) == 0 && S_ISLNK(lst.st_mode)
                ? host->error(TROPT_EBACKEND,
                              "cannot open journal %s: it is a symbolic link (refused: "
                              "the jsonl backend never writes through one)",
                              j->path)
                : host->error(TROPT_EBACKEND, "cannot open journal %s: %s", j->path, strerror(e));
        host->free(j->path);
        host->free(j);
        return rc;
    }
    struct stat st;
    char last;
    if (fstat(j->fd, &st) != 0)
        st.st_size = -1; /* unknown: neither torn nor new */
    if (st.st_size > 0 && pread(j->fd, &last, 1, st.st_size - 1) == 1 && last != '\n')
        j->torn = 1;
    /* A journal just created is only durable once its folder's entry is:
     * without this, fsync=flush would sync the events of a file that a
     * power loss can still take away whole. */
    if (st.st_size == 0 && j->fsync_mode != FSYNC_NEVER && tropt_fsync_parent(j->path) != 0)
        TROPT_HOST_LOG(host, TROPT_LEVEL_WARNING, "cannot sync the folder of journal %s: %s",
                       j->path, strerror(errno));
    *self = j;
    return TROPT_OK;
}

static int encoded(jsonl *j, int ok)
{
    if (ok != 0)
        return j->host->error(TROPT_ENOMEM, "out of memory encoding an event");
    j->n_pending++;
    return TROPT_OK;
}

/* The run_start just encoded (bad: it could not be) appended at once. */
static int start_appended(jsonl *j, int bad)
{
    int rc = encoded(j, bad);
    return rc != TROPT_OK ? rc : write_pending(j);
}

static int jsonl_init(void *self, const tropt_run *run, const json_t *config,
                      const tropt_field *params, size_t n_params)
{
    jsonl *j = self;
    (void)params;
    (void)n_params;
    int v12 = TROPT_HOST_RUN_V12(j->host);
    j->attempt = v12 && run->attempt > 1 ? run->attempt : 1;
    if (!v12)
        return start_appended(j, tev_encode_run_start(&j->buf, run, config, j->host->format_real));
    /* A run whose id was given (a continuation, a replay) may be one the
     * journal deleted, or whose attempt another process started; a resume
     * key may be another run's: checked and appended under the journal's
     * lock.  A new run without a key costs no read of the journal. */
    int imported = run->given_id || run->resume_key;
    if (imported && flock(j->fd, LOCK_EX) != 0)
        return j->host->error(TROPT_EBACKEND, "cannot lock journal %s: %s", j->path,
                              strerror(errno));
    int rc = imported ? tjl_check_open(j->path, j->host, run) : TROPT_OK;
    if (rc == TROPT_OK)
        rc =
            start_appended(j, tev_encode_run_start_v12(&j->buf, run, config, j->host->format_real));
    if (imported)
        flock(j->fd, LOCK_UN);
    return rc;
}

/* After a failed write, log waits retry_interval before trying again. */
static int retry_due(jsonl *j)
{
    return !j->failing || j->host->now() - j->fail_at >= j->retry_interval_s;
}

static int jsonl_log(void *self, const tropt_run *run, int64_t step, double time,
                     const tropt_field *fields, size_t n)
{
    jsonl *j = self;
    if (j->buf.len >= j->pending_max &&
        !(retry_due(j) && write_pending(j) == TROPT_OK && j->buf.len < j->pending_max))
        return j->host->error(TROPT_EBACKEND,
                              "%zu bytes of events wait for journal %s (pending_max=%zu): "
                              "step %lld dropped; the last write failed: %s",
                              j->buf.len, j->path, j->pending_max, (long long)step,
                              strerror(j->fail_errno ? j->fail_errno : EIO));
    int rc = encoded(j, tev_encode_log_at(&j->buf, run->run_id, j->attempt, step, time, fields, n,
                                          j->host->format_real));
    if (rc != TROPT_OK)
        return rc;
    if (j->n_pending < j->batch && j->buf.len < j->pending_max)
        return TROPT_OK;
    if (!retry_due(j))
        return j->host->error(TROPT_EBACKEND,
                              "cannot write to journal %s: %s (step %lld kept in memory with "
                              "the events before it, %zu bytes of pending_max=%zu; retried at "
                              "most every %gs, and at flush and finish)",
                              j->path, strerror(j->fail_errno ? j->fail_errno : EIO),
                              (long long)step, j->buf.len, j->pending_max, j->retry_interval_s);
    return write_pending(j);
}

static int jsonl_finish(void *self, const tropt_run *run, const char *status, double ended_at,
                        const json_t *summary, const tropt_field *flat, size_t n_flat)
{
    jsonl *j = self;
    (void)flat;
    (void)n_flat;
    /* A retried finish (after a failed write) must not append run_end twice:
     * it is still pending then. */
    if (!j->end_pending) {
        int rc = encoded(j, tev_encode_run_end(&j->buf, run->run_id, ended_at, status, summary,
                                               j->host->format_real));
        if (rc != TROPT_OK)
            return rc;
        j->end_pending = 1;
    }
    return barrier(j);
}

static int jsonl_flush(void *self)
{
    return barrier(self);
}

/* An event other than a step (ABI 1.2), written like a step: at once with
 * batch=1, so a mark is as durable as a logged step. */
static int append_event(jsonl *j, int bad)
{
    int rc = encoded(j, bad);
    if (rc != TROPT_OK || j->n_pending < j->batch)
        return rc;
    return retry_due(j) ? write_pending(j) : TROPT_OK;
}

static int jsonl_checkpoint(void *self, const tropt_run *run, const tropt_checkpoint *m)
{
    jsonl *j = self;
    return append_event(j, tev_encode_checkpoint(&j->buf, run->run_id, m, j->host->format_real));
}

static int jsonl_system(void *self, const tropt_run *run, double time, const tropt_sample *s,
                        size_t n)
{
    jsonl *j = self;
    return append_event(
        j, tev_encode_system(&j->buf, run->run_id, j->attempt, time, s, n, j->host->format_real));
}

/* Metadata of the open run or of any run of the journal: an event appended
 * (a run the journal does not hold is refused, as a store refuses it). */
static int jsonl_annotate(void *self, const char *run_id, const tropt_annotation *a)
{
    jsonl *j = self;
    int rc = tjl_holds_run(j->path, j->host, run_id);
    if (rc != TROPT_OK)
        return rc;
    rc = append_event(j, tev_encode_annotate(&j->buf, run_id, a, j->host->format_real));
    return rc != TROPT_OK ? rc : barrier(j);
}

/* A journal is append-only: deleting a run appends a "delete" event that
 * readers (and a replay) honour; the run's lines stay until the journal is
 * rewritten. */
static int jsonl_delete_run(void *self, const char *run_id)
{
    jsonl *j = self;
    int rc = tjl_holds_run(j->path, j->host, run_id);
    if (rc != TROPT_OK)
        return rc;
    rc = append_event(j, tev_encode_delete(&j->buf, run_id, j->host->now(), j->host->format_real));
    return rc != TROPT_OK ? rc : barrier(j);
}

static void jsonl_destroy(void *self)
{
    jsonl *j = self;
    if (!j)
        return;
    if (barrier(j) != TROPT_OK)
        TROPT_HOST_LOG(j->host, TROPT_LEVEL_ERROR, "%zu bytes of events could not be written to %s",
                       j->buf.len, j->path);
    close(j->fd);
    tev_buf_free(&j->buf);
    j->host->free(j->path);
    j->host->free(j);
}

static const tropt_plugin jsonl_plugin = {
    .abi_version = TROPT_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(tropt_plugin),
    .name = "jsonl",
    .description = "event journal: one JSON event per line, appended crash-safely",
    .options = jsonl_options,
    .create = jsonl_create,
    .init = jsonl_init,
    .log = jsonl_log,
    .finish = jsonl_finish,
    .flush = jsonl_flush,
    .destroy = jsonl_destroy,
    .reader_open = tjl_reader_open,
    .list_runs = tjl_list_runs,
    .read_run = tjl_read_run,
    .reader_close = tjl_reader_close,
    .annotate = jsonl_annotate,
    .delete_run = jsonl_delete_run,
    .checkpoint = jsonl_checkpoint,
    .log_system = jsonl_system,
};

TROPT_PLUGIN_EXPORT const tropt_plugin *tropt_plugin_entry(void)
{
    return &jsonl_plugin;
}
