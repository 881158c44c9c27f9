/*
 * plugins/tensorboard - event files TensorBoard reads, written without a
 * protobuf library, and read back (also those TensorBoard's own writers
 * made).
 *
 * Each run gets <logdir>/<experiment>/<run name>/events.out.tfevents.<secs>.
 * <host>.<pid>.<n>: TFRecord framing (masked CRC-32C), the file version
 * record first, then the run's identity and config (our own records under
 * "_tropt_/", and the hparams plugin's session_start_info), one Event per
 * step (each real a rank-0 DT_DOUBLE tensor, each integer DT_INT64, both
 * with the scalars plugin's metadata; strings as text summaries), and at
 * finish the run's status and summary.  README.md has the layouts, the
 * flush policy and the loss table.
 *
 * How it is written.  Records are encoded at log into a queue (c->out) and
 * reach the file with one write every `flush_every` steps (default 1:
 * before log returns), at flush and at finish; a failed write is cut back
 * so that the file keeps ending with a complete record.
 *
 * This file is the plugin's table of contents: options, create/destroy,
 * init, log, flush, finish; tb_priv.h lists the other files by concern and
 * says which function updates each field of struct tb.
 */
#include "tb_priv.h"
#include "tb_read.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

static const char *const fsync_choices[] = {"off", "normal", "full", NULL};

static const char *const scalars_choices[] = {"double", "float", NULL};

static const tropt_option_def tb_options[] = {
    [TB_OPT_LOGDIR] = TROPT_OPTION_PATH(
        "logdir", "runs",
        "folder holding <experiment>/<run>/events.out.tfevents.* (tensorboard --logdir DIR)"),
    [TB_OPT_FLUSH_EVERY] = TROPT_OPTION_INT(
        "flush_every", "1", 1, 1e9,
        "write queued steps to the file every N steps (1: each step before log returns)"),
    [TB_OPT_FLUSH_INTERVAL] = TROPT_OPTION_DURATION(
        "flush_interval", "0", 0, 86400000.0,
        "also write queued steps at the first log once the oldest is this old (0: off)"),
    [TB_OPT_FSYNC] = TROPT_OPTION_ENUM(
        "fsync", "normal", fsync_choices,
        "off: never; normal: new files' folders and at flush/finish; full: after every write"),
    [TB_OPT_PENDING_MAX] = TROPT_OPTION_INT(
        "pending_max", "67108864", 4096, 1099511627776.0,
        "bytes of records held in memory until written; past it a failing write drops the step"),
    [TB_OPT_RETRY_INTERVAL] = TROPT_OPTION_DURATION(
        "retry_interval", "1s", 0, 86400000.0,
        "after a failed write, log retries at most this often (flush/finish always retry)"),
    [TB_OPT_SCALARS] = TROPT_OPTION_ENUM(
        "scalars", "float", scalars_choices,
        "float: DT_FLOAT as tf.summary.scalar (every TensorBoard charts it), exact values "
        "beside; double: DT_DOUBLE/DT_INT64 (SPEC 17), charted only with --load_fast=false"),
    [TB_OPT_COUNT] = TROPT_OPTIONS_END,
};
TROPT_OPTIONS_CHECK(tb_options, TB_OPT_COUNT);

static int tb_init(void *self, const tropt_run *run, const json_t *config,
                   const tropt_field *params, size_t n_params)
{
    tb *c = self;
    tb_run_close(c);
    c->steps = c->last_step = 0;
    snprintf(c->run_id, sizeof c->run_id, "%s", run->run_id);
    c->attempt = tb_run_attempt(c, run);
    c->from_step = c->attempt > 1 ? tb_resume_step(c, run) : 0;
    int rc = tb_open_run(c, run);
    if (rc == TROPT_OK)
        rc = tb_queue_start(c, run, config, params, n_params);
    if (rc == TROPT_OK)
        rc = tb_barrier(c);
    if (rc != TROPT_OK) {
        /* nothing of a run that did not start stays behind */
        tb_remove_files(c);
        tb_store_release(c);
        tb_run_close(c);
        return rc;
    }
    c->open = 1;
    return TROPT_OK;
}

int tb_room(tb *c, int64_t step)
{
    int rc;
    if (c->out.len < c->pending_max)
        return TROPT_OK;
    /* The bound: write now, or, when that fails or waits for retry_interval,
     * refuse the record. */
    if (tb_retry_due(c) && (rc = tb_attempt(c)) == TROPT_ENOMEM)
        return rc;
    if (c->out.len < c->pending_max)
        return TROPT_OK;
    return c->h->error(TROPT_EBACKEND,
                       "%zu bytes of records wait for '%s' (pending_max=%" PRIu64 "): step %" PRId64
                       " dropped; the last write failed: %s",
                       c->out.len, c->path, c->pending_max, step,
                       strerror(c->fail_errno ? c->fail_errno : EIO));
}

int tb_queued(tb *c, int64_t step)
{
    int due = ++c->nqueued >= c->flush_every;
    if (!due && c->flush_interval_s > 0) {
        double now = c->h->now();
        if (c->nqueued == 1)
            c->queued_since = now;
        else if (now - c->queued_since >= c->flush_interval_s)
            due = 1;
    }
    if (!due)
        return TROPT_OK;
    if (!tb_retry_due(c))
        return c->h->error(TROPT_EBACKEND,
                           "cannot write '%s': %s (step %" PRId64 " kept in memory with %" PRId64
                           " more steps, %zu bytes of pending_max=%" PRIu64
                           "; retried at most every %gs, and at flush and finish)",
                           c->path, strerror(c->fail_errno), step, c->nqueued - 1, c->out.len,
                           c->pending_max, c->retry_interval_s);
    return tb_attempt(c);
}

static int tb_log(void *self, const tropt_run *run, int64_t step, double time,
                  const tropt_field *fields, size_t n)
{
    tb *c = self;
    (void)run;
    if (!c->open)
        return c->h->error(TROPT_ESTATE, "no open run");
    int rc = tb_room(c, step);
    if (rc == TROPT_OK)
        rc = tb_queue_step(c, step, time, fields, n);
    if (rc != TROPT_OK)
        return rc;
    c->steps++;
    c->last_step = step;
    return tb_queued(c, step);
}

static int tb_flush(void *self)
{
    tb *c = self;
    return c->open ? tb_barrier(c) : TROPT_OK;
}

static int tb_finish(void *self, const tropt_run *run, const char *status, double ended_at,
                     const json_t *summary, const tropt_field *flat, size_t n_flat)
{
    tb *c = self;
    (void)flat;
    (void)n_flat;
    if (!c->open)
        return TROPT_OK;
    int rc;
    if (!c->end_queued) {
        if ((rc = tb_queue_end(c, status, ended_at, summary)) != TROPT_OK)
            return rc;
        c->end_queued = 1;
    }
    if ((rc = tb_barrier(c)) != TROPT_OK)
        return rc;
    TROPT_HOST_LOG(c->h, TROPT_LEVEL_DEBUG, "run %s: %" PRId64 " steps, %lld bytes in '%s'",
                   run->run_id, c->steps, (long long)c->size, c->path);
    tb_run_close(c);
    return TROPT_OK;
}

static void tb_destroy(void *self)
{
    tb *c = self;
    if (!c)
        return;
    const tropt_host *h = c->h;
    if (c->open && c->out.len && tb_write_out(c) != TROPT_OK)
        TROPT_HOST_LOG(h, TROPT_LEVEL_WARNING, "%zu bytes of records could not be written to '%s'",
                       c->out.len, c->path);
    tb_run_close(c);
    tb_map_free(&c->seen);
    h->free(c->logdir);
    h->free(c->vals);
    h->free(c->hint);
    tb_stats_free(&c->st);
    tev_buf_free(&c->out);
    tev_buf_free(&c->json);
    tev_buf_free(&c->tag);
    h->free(c);
}

static int tb_create(void **self, const tropt_optval *opts, const tropt_host *host)
{
    if (host->struct_size < TROPT_HOST_MIN_SIZE)
        return host->error(TROPT_EPLUGIN, "host too old for the tensorboard plugin");
    tb *c = host->malloc(sizeof *c);
    if (!c)
        return host->error(TROPT_ENOMEM, "out of memory");
    memset(c, 0, sizeof *c);
    c->h = host;
    c->fd = c->rfd = -1;
    tb_stats_init(&c->st);
    tev_buf_init(&c->out, host->realloc, host->free);
    tev_buf_init(&c->json, host->realloc, host->free);
    tev_buf_init(&c->tag, host->realloc, host->free);
    tb_map_init(&c->seen, host);
    c->logdir = tropt_host_strdup(host, opts[TB_OPT_LOGDIR].text);
    if (!c->logdir) {
        tb_destroy(c);
        return host->error(TROPT_ENOMEM, "out of memory");
    }
    c->flush_every = opts[TB_OPT_FLUSH_EVERY].i;
    c->flush_interval_s = opts[TB_OPT_FLUSH_INTERVAL].d / 1000.0;
    c->sync = (int)opts[TB_OPT_FSYNC].i;
    c->pending_max = (uint64_t)opts[TB_OPT_PENDING_MAX].i;
    c->retry_interval_s = opts[TB_OPT_RETRY_INTERVAL].d / 1000.0;
    c->scalars_float = opts[TB_OPT_SCALARS].i == 1;
    *self = c;
    return TROPT_OK;
}

static const tropt_plugin tb_plugin = {
    .abi_version = TROPT_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(tropt_plugin),
    .name = "tensorboard",
    .description = "TensorBoard event files per run (scalars, text, hparams), read back too",
    .options = tb_options,
    .create = tb_create,
    .init = tb_init,
    .log = tb_log,
    .finish = tb_finish,
    .flush = tb_flush,
    .destroy = tb_destroy,
    .reader_open = tbr_reader_open,
    .list_runs = tbr_list_runs,
    .read_run = tbr_read_run,
    .reader_close = tbr_reader_close,
    .annotate = tb_annotate,
    .delete_run = tb_delete_run,
    .checkpoint = tb_checkpoint,
    .log_system = tb_log_system,
};

TROPT_PLUGIN_EXPORT const tropt_plugin *tropt_plugin_entry(void)
{
    return &tb_plugin;
}
