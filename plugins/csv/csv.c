/*
 * plugins/csv - files a spreadsheet or pandas opens as they are.
 *
 * One folder per run, <dir>/<experiment>/<run_id>/, holding
 *   metrics.csv   wide (step,time,<keys in first-seen order>) or long
 *                 (step,time,key,value), RFC 4180, CRLF record ends;
 *   config.json   the merged run config ({} when the run has none);
 *   summary.json  the summary given to finish ({} when none);
 *   run.json      the run's identity, status, attempts (README.md "run.json");
 *   metrics.attempt<k>.csv, types.attempt<k>.csv  attempt k > 1 of a
 *                 resumed run; checkpoints.csv, system.csv (ABI 1.2).
 * See README.md for the options, the flush policy, the bound on header
 * rewrites and the attempts.
 *
 * How the wide file grows.  Rows are queued in memory as preformatted cell
 * texts and reach the file every `flush_every` rows (default 1: before log
 * returns).  Rows whose keys all have a column are appended with one
 * write(2).  A key without a column needs a new header, so the file is
 * rewritten: a temporary file in the run folder gets the new header, the old
 * records with one empty cell per new column, and the queued rows; it is
 * fsync'd (fsync=normal|full) and renamed over metrics.csv, so a reader sees
 * the old file or the new one, never a mix.
 *
 * The bound.  A rewrite costs the whole file, so a run whose keys keep
 * appearing would be quadratic.  A rewrite is done at once only while the
 * bytes rewritten so far, W, are at most rewrite_factor (c) times the new
 * file's size S: W <= c*S.  Otherwise the rows go, durably and in order, to
 * metrics.pending.csv (long layout) until the file has grown enough or a
 * flush/finish barrier folds them in.  So automatic rewrites never total
 * more than (c+1) times the final size of metrics.csv, plus one file size per
 * barrier that finds deferred rows (at most one at finish).
 *
 * This file is the plugin itself (options, the run folder, init, log,
 * flush, finish); csv_priv.h lists the other files by concern and says
 * which function updates each field of struct csv.
 */
#include "csv_priv.h"
#include "tropt_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
    CSV_OPT_DIR,
    CSV_OPT_LAYOUT,
    CSV_OPT_FLUSH_EVERY,
    CSV_OPT_FLUSH_INTERVAL,
    CSV_OPT_FSYNC,
    CSV_OPT_REWRITE_FACTOR,
    CSV_OPT_PENDING_MAX,
    CSV_OPT_RETRY_INTERVAL,
    CSV_OPT_COUNT
};

static const char *const layout_choices[] = {"wide", "long", NULL};

static const char *const fsync_choices[] = {"off", "normal", "full", NULL};

static const tropt_option_def csv_options[] = {
    [CSV_OPT_DIR] = TROPT_OPTION_PATH(
        "dir", "tropt-logs",
        "folder holding <experiment>/<run_id>/metrics.csv, config.json, summary.json"),
    [CSV_OPT_LAYOUT] = TROPT_OPTION_ENUM(
        "layout", "wide", layout_choices,
        "wide: step,time,<one column per key>; long: step,time,key,value (never rewrites)"),
    [CSV_OPT_FLUSH_EVERY] = TROPT_OPTION_INT(
        "flush_every", "1", 1, 1e9,
        "write queued rows to the file every N rows (1: each row before log returns)"),
    [CSV_OPT_FLUSH_INTERVAL] = TROPT_OPTION_DURATION(
        "flush_interval", "0", 0, 86400000.0,
        "also write queued rows at the first log once the oldest is this old (0: off)"),
    [CSV_OPT_FSYNC] = TROPT_OPTION_ENUM(
        "fsync", "normal", fsync_choices,
        "off: never; normal: before each rename and at flush/finish; full: after every write"),
    [CSV_OPT_REWRITE_FACTOR] = TROPT_OPTION_DOUBLE(
        "rewrite_factor", "4", 0, 1e9,
        "new keys' header rewrites cost at most (this+2) x the final file size; 0: no bound"),
    [CSV_OPT_PENDING_MAX] = TROPT_OPTION_INT(
        "pending_max", "67108864", 4096, 1099511627776.0,
        "bytes of rows held in memory until written; past it a failing write drops the step"),
    [CSV_OPT_RETRY_INTERVAL] = TROPT_OPTION_DURATION(
        "retry_interval", "1s", 0, 86400000.0,
        "after a failed write, log retries at most this often (flush/finish always retry)"),
    [CSV_OPT_COUNT] = TROPT_OPTIONS_END,
};
TROPT_OPTIONS_CHECK(csv_options, CSV_OPT_COUNT);

/*
 * Open the folder `name` inside the folder open as parent (created 0777 &
 * ~umask when missing), never following a symbolic link there: a link
 * planted where a run's folder goes (run ids are known in advance for
 * `tropt replay`) would make the writer put its files in the link's
 * target.  path names the folder in messages.  On success *out is the
 * folder's descriptor; otherwise *out is -1 and the error is returned.
 */
static int open_subdir(csv *c, int parent, const char *name, const char *path, int *out)
{
    const tropt_host *h = c->h;
    *out = -1;
    if (mkdirat(parent, name, 0777) != 0 && errno != EEXIST)
        return h->error(TROPT_EBACKEND, "cannot create folder '%s': %s", path, strerror(errno));
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        struct stat st;
        if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
            return h->error(TROPT_EBACKEND,
                            "refusing folder '%s': it is a symbolic link (the csv backend "
                            "never writes through one)",
                            path);
        if (e == ENOTDIR)
            return h->error(TROPT_EBACKEND,
                            "cannot create folder '%s': '%s' exists and is not a folder", path,
                            path);
        return h->error(TROPT_EBACKEND, "cannot open folder '%s': %s", path, strerror(e));
    }
    *out = fd;
    return TROPT_OK;
}

static void run_close(csv *c)
{
    if (c->fd >= 0)
        close(c->fd);
    if (c->pfd >= 0)
        close(c->pfd);
    if (c->rfd >= 0)
        close(c->rfd);
    if (c->tyfd >= 0)
        close(c->tyfd);
    if (c->lockfd >= 0)
        close(c->lockfd); /* the run's lock goes with it */
    c->fd = c->pfd = c->rfd = c->tyfd = c->lockfd = -1;
    marks_close(c);
    c->att = NULL;
    const tropt_host *h = c->h;
    h->free(c->run_dir);
    h->free(c->metrics_path);
    h->free(c->pending_path);
    h->free(c->types_path);
    h->free(c->tmp_path);
    c->run_dir = c->metrics_path = c->pending_path = c->types_path = c->tmp_path = NULL;
    tev_buf_clear(&c->tq);
    json_decref(c->meta);
    c->meta = NULL;
    keys_clear(c);
    queue_clear(c);
    seen_free(c);
    c->open = 0;
}

/* The checks a store makes before a run's folder is touched, in the
 * store's folder dfd: a deleted run is refused, a resume key is claimed
 * (only where the id came from outside can the run be a deleted one). */
static int store_checks(csv *c, int dfd, const tropt_run *run)
{
    if (!TROPT_HOST_RUN_V12(c->h))
        return TROPT_OK;
    int rc = run->given_id ? store_check_deleted(c, dfd, run->run_id) : TROPT_OK;
    if (rc == TROPT_OK && run->resume_key)
        rc = store_claim_key(c, dfd, run->resume_key, run->run_id);
    return rc;
}

/*
 * Create and open the run folder <dir>/<folder>/<run_id> into c->rfd.  The
 * user's dir is created as needed (a link there is the user's choice and
 * followed); the experiment and run folders, which this backend creates,
 * are never followed when they are symbolic links: refused, named.
 */
static int open_run_folder(csv *c, const tropt_run *run, const char *folder, const char *exp_dir)
{
    const char *run_id = run->run_id;
    const tropt_host *h = c->h;
    int rc = tropt_host_mkdir_p(c->h, c->dir);
    if (rc != TROPT_OK)
        return rc;
    int dfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return h->error(TROPT_EBACKEND, "cannot open folder '%s': %s", c->dir, strerror(errno));
    int efd = -1;
    rc = store_checks(c, dfd, run);
    if (rc == TROPT_OK)
        rc = open_subdir(c, dfd, folder, exp_dir, &efd);
    close(dfd);
    if (rc != TROPT_OK)
        return rc;
    rc = open_subdir(c, efd, run_id, c->run_dir, &c->rfd);
    /* the new run folder's entry in the experiment folder */
    if (rc == TROPT_OK && c->sync != SYNC_OFF && fsync(efd) != 0)
        TROPT_HOST_LOG(h, TROPT_LEVEL_WARNING, "cannot sync folder '%s': %s", exp_dir,
                       strerror(errno));
    close(efd);
    return rc;
}

/* The paths of the run's files in c (run_dir, metrics_path, ...); 0, or
 * -1 when out of memory (run_close frees what was made). */
static int run_paths(csv *c, const char *exp_dir, const char *run_id)
{
    c->run_dir = exp_dir ? joinpath(c, exp_dir, run_id) : NULL;
    if (!c->run_dir)
        return -1;
    c->metrics_path = joinpath(c, c->run_dir, c->mname);
    c->pending_path = joinpath(c, c->run_dir, c->pname);
    c->types_path = joinpath(c, c->run_dir, c->tname);
    c->tmp_dir_len = strlen(c->run_dir);
    c->tmp_path = c->h->malloc(c->tmp_dir_len + sizeof c->tmp_name + 2);
    if (c->tmp_path)
        memcpy(c->tmp_path, c->run_dir, c->tmp_dir_len);
    return c->metrics_path && c->pending_path && c->types_path && c->tmp_path ? 0 : -1;
}

/* Create or continue metrics.csv, and types.csv with it (first: a row
 * never reaches a file before its type record). */
static int open_metrics(csv *c)
{
    struct stat st;
    int rc;
    if (fstatat(c->rfd, c->mname, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if ((rc = csv_append_open(c)) == TROPT_OK)
            rc = types_open(c, 1);
    } else if ((rc = types_open(c, 0)) == TROPT_OK) {
        rc = rewrite(c);
    }
    return rc;
}

/* Open the run's lock file and hold byte 0 while the run is open: a second
 * process writing the same run (two resuming one run at once) is refused. */
static int lock_run(csv *c, const tropt_run *run)
{
    if ((c->lockfd = lock_open(c->rfd)) < 0)
        return c->h->error(TROPT_EBACKEND, "cannot open '%s/.lock': %s", c->run_dir,
                           strerror(errno));
    if (lock_byte(c->lockfd, 0, 0) == 0)
        return TROPT_OK;
    if (errno != EAGAIN && errno != EACCES)
        return c->h->error(TROPT_EBACKEND, "cannot lock '%s/.lock': %s", c->run_dir,
                           strerror(errno));
    return c->h->error(TROPT_EBACKEND,
                       "run %s (attempt %lld): another process is writing it in '%s'; two "
                       "processes cannot continue one run at once",
                       run->run_id, (long long)c->attempt, c->run_dir);
}

/* The run's files once its folder is open and locked: run.json's attempt,
 * the attempt's metrics and types files, config.json (the latest
 * attempt's), run.json. */
static int open_run_files(csv *c, const tropt_run *run, const char *folder, const json_t *config)
{
    int rc = meta_open(c, run, folder, config);
    if (rc == TROPT_OK)
        rc = open_metrics(c);
    if (rc == TROPT_OK && c->latest)
        rc = write_json_file(c, "config.json", config);
    if (rc == TROPT_OK)
        rc = meta_write(c);
    return rc;
}

static void reset_counts(csv *c, const tropt_run *run)
{
    c->size = 0;
    c->hdr_len = 0;
    c->ncols_disk = 0;
    c->rows_disk = c->steps = c->rewrites = c->rewritten = 0;
    c->failing = c->fail_errno = 0;
    memset(&c->st, 0, sizeof c->st);
    c->meta_bytes = 0;
    c->meta_due = c->meta_warned = 0;
    c->claim[0] = '\0';
    attempt_names(c, TROPT_HOST_RUN_V12(c->h) && run->attempt > 1 ? run->attempt : 1);
}

static int csv_init(void *self, const tropt_run *run, const json_t *config,
                    const tropt_field *params, size_t n_params)
{
    csv *c = self;
    const tropt_host *h = c->h;
    (void)params;
    (void)n_params;
    run_close(c);
    reset_counts(c, run);
    char *folder = tropt_folder_name(c->h, run->experiment);
    char *exp_dir = folder ? joinpath(c, c->dir, folder) : NULL;
    int rc;
    if (!folder || run_paths(c, exp_dir, run->run_id) != 0) {
        rc = oom(c);
        goto fail;
    }
    if ((rc = open_run_folder(c, run, folder, exp_dir)) != TROPT_OK ||
        (rc = lock_run(c, run)) != TROPT_OK ||
        (rc = open_run_files(c, run, folder, config)) != TROPT_OK)
        goto fail;
    h->free(folder);
    h->free(exp_dir);
    c->open = 1;
    return TROPT_OK;
fail:
    h->free(folder);
    h->free(exp_dir);
    store_unclaim(c);
    run_close(c);
    return rc;
}

/* write_queued, noting whether the medium failed (for retry_interval). */
static int attempt(csv *c, int force)
{
    c->fail_errno = 0;
    errno = 0;
    int rc = write_queued(c, force);
    int e = errno;
    if (rc == TROPT_EBACKEND) {
        c->failing = 1;
        c->fail_at = c->h->now();
        if (c->fail_errno == 0)
            c->fail_errno = e ? e : EIO;
    } else if (rc == TROPT_OK) {
        /* the buffers grown by a disk-full episode are not kept */
        if (c->failing && c->nrows == 0) {
            if (c->fmt.cap > (1u << 20))
                tev_buf_free(&c->fmt);
            if (c->arena.cap > (1u << 20))
                tev_buf_free(&c->arena);
        }
        c->failing = 0;
    }
    return rc;
}

/* After a failed write, log waits retry_interval before trying again. */
static int retry_due(csv *c)
{
    return !c->failing || c->h->now() - c->fail_at >= c->retry_interval_s;
}

static int csv_log(void *self, const tropt_run *run, int64_t step, double time,
                   const tropt_field *fields, size_t n)
{
    csv *c = self;
    (void)run;
    if (!c->open)
        return c->h->error(TROPT_ESTATE, "no open run");
    /* in metrics.csv already (a replayed run) */
    if (c->seen_left && seen_take(c, step))
        return TROPT_OK;
    int rc;
    if (pending_bytes(c) >= c->pending_max) {
        /* The bound: write now (deferred rows folded in), or, when that
         * fails or waits for retry_interval, refuse the step. */
        if (retry_due(c) && (rc = attempt(c, 1)) == TROPT_ENOMEM)
            return rc;
        if (pending_bytes(c) >= c->pending_max)
            return c->h->error(TROPT_EBACKEND,
                               "%" PRIu64 " bytes of rows wait for '%s' (pending_max=%" PRIu64
                               "): step %lld dropped; the last write failed: %s",
                               pending_bytes(c), c->metrics_path, c->pending_max, (long long)step,
                               strerror(c->fail_errno ? c->fail_errno : EIO));
    }
    if ((rc = queue_row(c, step, time, fields, n)) != TROPT_OK)
        return rc;
    c->steps++;
    size_t queued = c->nrows - c->ndeferred;
    int due = (int64_t)queued >= c->flush_every;
    if (!due && c->flush_interval_s > 0) {
        double now = c->h->now();
        if (queued == 1)
            c->queued_since = now;
        else if (now - c->queued_since >= c->flush_interval_s)
            due = 1;
    }
    if (!due)
        return TROPT_OK;
    if (!retry_due(c))
        return c->h->error(TROPT_EBACKEND,
                           "cannot write '%s': %s (step %lld kept in memory with %zu more "
                           "rows, %" PRIu64 " bytes of pending_max=%" PRIu64
                           "; retried at most every %gs, and at flush and finish)",
                           c->metrics_path, strerror(c->fail_errno), (long long)step, c->nrows - 1,
                           pending_bytes(c), c->pending_max, c->retry_interval_s);
    rc = attempt(c, 0);
    if (rc == TROPT_OK)
        meta_progress(c, 0);
    return rc;
}

/* The barrier of flush and finish: every accepted row in metrics.csv, and
 * synced unless fsync=off. */
static int barrier(csv *c)
{
    int rc = attempt(c, 1);
    if (rc == TROPT_OK)
        rc = types_write(c, 1);
    if (rc != TROPT_OK)
        return rc;
    if (c->sync != SYNC_OFF && fsync(c->fd) != 0)
        return c->h->error(TROPT_EBACKEND, "cannot sync '%s': %s", c->metrics_path,
                           strerror(errno));
    meta_progress(c, 1);
    return TROPT_OK;
}

static int csv_flush(void *self)
{
    csv *c = self;
    return c->open ? barrier(c) : TROPT_OK;
}

static int csv_finish(void *self, const tropt_run *run, const char *status, double ended_at,
                      const json_t *summary, const tropt_field *flat, size_t n_flat)
{
    csv *c = self;
    (void)run;
    (void)flat;
    (void)n_flat;
    if (!c->open)
        return TROPT_OK;
    int rc = barrier(c);
    if (rc != TROPT_OK)
        return rc;
    if (c->latest && (rc = write_json_file(c, "summary.json", summary)) != TROPT_OK)
        return rc;
    if ((rc = meta_finish(c, status, ended_at)) != TROPT_OK)
        return rc;
    TROPT_HOST_LOG(c->h, TROPT_LEVEL_DEBUG,
                   "run %s: %" PRIu64 " steps, %" PRIu64 " bytes, %" PRIu64
                   " header rewrites of %" PRIu64 " bytes in all",
                   run->run_id, c->steps, (uint64_t)c->size, c->rewrites, c->rewritten);
    run_close(c);
    return TROPT_OK;
}

static void csv_destroy(void *self)
{
    csv *c = self;
    if (!c)
        return;
    const tropt_host *h = c->h;
    if (c->open && c->nrows > c->ndeferred && write_queued(c, 0) != TROPT_OK)
        TROPT_HOST_LOG(h, TROPT_LEVEL_WARNING, "%zu queued rows could not be written to '%s'",
                       c->nrows - c->ndeferred, c->metrics_path);
    run_close(c);
    closer_stop(&c->cl);
    pthread_cond_destroy(&c->cl.cv);
    pthread_mutex_destroy(&c->cl.mu);
    h->free(c->dir);
    h->free(c->keys);
    h->free(c->kcell);
    h->free(c->kcell_len);
    h->free(c->slots);
    h->free(c->rows);
    h->free(c->cells);
    h->free(c->colmap);
    h->free(c->ktype);
    h->free(c->hint);
    tev_buf_free(&c->arena);
    tev_buf_free(&c->fmt);
    tev_buf_free(&c->tq);
    tev_buf_free(&c->out);
    tev_buf_free(&c->scratch);
    h->free(c);
}

static int csv_create(void **self, const tropt_optval *opts, const tropt_host *host)
{
    if (host->struct_size < TROPT_HOST_MIN_SIZE)
        return host->error(TROPT_EPLUGIN, "host too old for the csv plugin");
    csv *c = host->malloc(sizeof *c);
    if (!c)
        return host->error(TROPT_ENOMEM, "out of memory");
    memset(c, 0, sizeof *c);
    c->h = host;
    c->fd = c->pfd = c->rfd = c->tyfd = c->lockfd = c->ckfd = c->sysfd = -1;
    tev_buf_init(&c->arena, host->realloc, host->free);
    tev_buf_init(&c->tq, host->realloc, host->free);
    tev_buf_init(&c->fmt, host->realloc, host->free);
    tev_buf_init(&c->out, host->realloc, host->free);
    tev_buf_init(&c->scratch, host->realloc, host->free);
    pthread_mutex_init(&c->cl.mu, NULL);
    pthread_cond_init(&c->cl.cv, NULL);
    c->dir = tropt_host_strdup(host, opts[CSV_OPT_DIR].text);
    if (!c->dir) {
        csv_destroy(c);
        return host->error(TROPT_ENOMEM, "out of memory");
    }
    c->layout = (int)opts[CSV_OPT_LAYOUT].i;
    c->flush_every = opts[CSV_OPT_FLUSH_EVERY].i;
    c->flush_interval_s = opts[CSV_OPT_FLUSH_INTERVAL].d / 1000.0;
    c->sync = (int)opts[CSV_OPT_FSYNC].i;
    c->rewrite_factor = opts[CSV_OPT_REWRITE_FACTOR].d;
    c->pending_max = (uint64_t)opts[CSV_OPT_PENDING_MAX].i;
    c->retry_interval_s = opts[CSV_OPT_RETRY_INTERVAL].d / 1000.0;
    *self = c;
    return TROPT_OK;
}

static const tropt_plugin csv_plugin = {
    .abi_version = TROPT_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(tropt_plugin),
    .name = "csv",
    .description = "CSV files per run: metrics.csv (wide or long), config.json, summary.json",
    .options = csv_options,
    .create = csv_create,
    .init = csv_init,
    .log = csv_log,
    .finish = csv_finish,
    .flush = csv_flush,
    .destroy = csv_destroy,
    .reader_open = tcr_reader_open,
    .list_runs = tcr_list_runs,
    .read_run = tcr_read_run,
    .reader_close = tcr_reader_close,
    .annotate = csv_annotate,
    .delete_run = csv_delete_run,
    .checkpoint = csv_checkpoint,
    .log_system = csv_log_system,
};

TROPT_PLUGIN_EXPORT const tropt_plugin *tropt_plugin_entry(void)
{
    return &csv_plugin;
}
