/*
 * plugins/tensorboard/tb_priv.h - the tensorboard backend's private state
 * and the functions its files share.  Not installed.  The folder, by
 * concern:
 *
 *   tensorboard.c  the plugin: options, create/destroy, init, log, flush,
 *                  finish (the table of contents; hooks stay short).
 *   tb_write.c     the run folder and its event file, the queue of records
 *                  and its writes (flush policy, failures, retries).
 *   tb_records.c   what a run writes besides its steps: the run's identity,
 *                  config (hparams and text) and end, metadata changes,
 *                  checkpoint marks and system samples, as records of our
 *                  own.
 *   tb_store.c     the store beyond one file: which folder continues a run,
 *                  the claims that let one process win an attempt or a
 *                  resume key, deleted runs, metadata of stored runs.
 *   tb_stats.c     what a file holds in a few numbers, and its index.
 *   tb_encode.c    Event records encoded by hand (tb_encode.h).
 *   tb_decode.c    Event records decoded (tb_decode.h).
 *   tb_record.c    TFRecord framing and the checked record reader.
 *   tb_crc.c       CRC-32C, slicing-by-8 (tb_crc.h).
 *   tb_proto.c     protobuf wire primitives (tb_proto.h).
 *   tb_util.c      string table, folder names, SHA-1 and UUIDv5 (tb_util.h).
 *   tb_hooks.c     the ABI 1.2 hooks: annotate, delete_run, checkpoint,
 *                  log_system.
 *   tb_ident.c     finding the run a folder holds (writer and reader).
 *   tb_read.c      the reader hooks: run folders, list_runs, read_run
 *                  (tb_read.h: the options and the hooks).
 *   tb_scan.c      reading one run, first pass: segments and cuts, what
 *                  each value is, our records (tb_scan.h: the reader's
 *                  model and its invariants).
 *   tb_merge.c     reading one run, second pass: the files' steps merged.
 *
 * Every function returning int returns TROPT_OK or an error already
 * reported through c->h->error (TROPT_EBACKEND naming the path and the
 * cause, TROPT_ENOMEM), unless its comment says otherwise.
 */
#ifndef TROPT_TB_PRIV_H
#define TROPT_TB_PRIV_H

#include "tb_encode.h"
#include "tb_stats.h"
#include "tb_util.h"
#include "tropt_event.h"
#include "tropt_mem.h"

#include <stdint.h>
#include <sys/types.h>

enum { SYNC_OFF, SYNC_NORMAL, SYNC_FULL };

/* The longest entry prefix of a number kept for the next step (tags up to
 * about 40 bytes; longer ones are encoded each time). */
#define TB_PRE_MAX 64

/*
 * One tensorboard backend instance.  Who updates what ("hooks" is
 * tensorboard.c, "write" tb_write.c, "records" tb_records.c):
 *
 *   options        tb_create (hooks) only; read everywhere.
 *   failing,
 *   fail_errno,
 *   fail_at        tb_attempt (write): the last write failed, when, why.
 *   open           init sets it once the file exists and its first
 *                  records are written; tb_run_close clears it.
 *   run_dir, path,
 *   rfd, fd        tb_open_run (write) at init; tb_run_close frees them.
 *   size           bytes of complete records in the file: set at init,
 *                  grown by tb_write_out (write) after each whole write;
 *                  the file never holds more once a write failed
 *                  (it is cut back to size).
 *   out            records accepted and not yet in the file, complete and
 *                  in order; appended by log and the records' encoders,
 *                  emptied by tb_write_out.
 *   nqueued,
 *   queued_since   steps in out, and when the first of them came (log).
 *   end_queued     finish's records are in out (a retried finish must not
 *                  add them twice); records, cleared by tb_run_close.
 *   steps,
 *   last_step      steps logged in this run, the last one (log).
 *   run_id, attempt,
 *   from_step      the open run and its attempt (init).
 *   replay         init found this attempt stored already (the same start,
 *                  host and pid): its events are written again, beside.
 *   claim, key_claim,
 *   made_dir       init made the attempt's claim (claim: its attempt), the
 *                  resume key's (key_claim: its file name in
 *                  <logdir>/.tropt/keys) or the run folder; a failed init
 *                  takes them back.
 *   st, idx_size   what the file holds (tb_stats, kept by the records'
 *                  queueing) and the size the last index written covers
 *                  (tb_write_out, tb_barrier).
 *   seen           the tags written with their plugin's metadata in this
 *                  file (value: 1 scalars, 2 text, the plugin of the last
 *                  metadata written); hint[i]: the tag (a key string of
 *                  seen, never freed on its own), its length and plugin
 *                  of field i in the last step, and its number's encoded
 *                  entry prefix (copied while the tag, kind and the
 *                  absence of metadata stay the same).  tb_queue_step (records)
 *                  only; cleared by tb_run_close.
 *   vals, json,
 *   tag            scratch of tb_queue_step: a step's values, the JSON
 *                  texts of its null, bool and JSON fields, a whole tag.
 *
 * One thread at a time calls the plugin (the host serialises the hooks).
 */
typedef struct tb {
    const tropt_host *h;
    /* options */
    char *logdir;
    int64_t flush_every;
    double flush_interval_s;
    int sync;
    int scalars_float; /* scalars=float */
    uint64_t pending_max;
    double retry_interval_s;

    int failing, fail_errno;
    double fail_at;

    int open;
    char *run_dir, *path;
    int rfd, fd;
    off_t size;
    tev_buf out;
    int64_t nqueued;
    double queued_since;
    int end_queued;
    int64_t steps, last_step;
    char run_id[40];
    int64_t attempt, from_step;
    int replay;
    int64_t claim;
    char *key_claim;
    int made_dir;
    tb_stats st;
    off_t idx_size;

    tb_map seen;
    struct tb_hint {
        const char *tag; /* a key of seen, or NULL */
        size_t len;
        int cls;
        /* the entry of field i's number up to its value bytes, as the
         * last step wrote it without metadata (pre_len 0: none) */
        int pre_kind;
        unsigned char pre_len;
        unsigned char pre[TB_PRE_MAX];
    } * hint;
    tb_value *vals;
    size_t vals_cap; /* of vals and hint */
    tev_buf json, tag;
} tb;

/* Report TROPT_ENOMEM ("out of memory") and return it. */
int tb_oom(const tb *c);

/* ---- tensorboard.c ---- */

/* Before queueing a record at `step`: TROPT_OK, or (the queue past
 * pending_max and the write failing) TROPT_EBACKEND: the record is dropped. */
int tb_room(tb *c, int64_t step);

/* After queueing a record at `step`: write the queue when flush_every or
 * flush_interval say so (and retry_interval allows). */
int tb_queued(tb *c, int64_t step);

/* ---- tb_hooks.c: the ABI 1.2 hooks (plugin.h) ---- */

int tb_annotate(void *self, const char *run_id, const tropt_annotation *a);
int tb_delete_run(void *self, const char *run_id);
int tb_checkpoint(void *self, const tropt_run *run, const tropt_checkpoint *mark);
int tb_log_system(void *self, const tropt_run *run, double time, const tropt_sample *samples,
                  size_t n);

/* ---- tb_write.c ---- */

/*
 * Create <logdir>/<experiment folder>/<run folder>/ (the run folder named
 * after the run, with "-<first 8 of the id>" when another run holds that
 * name) and a new event file in it: c->run_dir, c->path, c->rfd, c->fd,
 * c->size = 0.  Folders the backend creates are never followed when they
 * are symbolic links.
 */
int tb_open_run(tb *c, const tropt_run *run);

/* Close the run's file and folder and forget the run's state. */
void tb_run_close(tb *c);

/* The host name as a file name part (no '/', no control characters;
 * "localhost" for none), NUL-terminated in out. */
void tb_host_part(const char *host, char *out, size_t size);

/* Remove the open file and its index (a run whose init failed). */
void tb_remove_files(tb *c);

/* Open the folder `name` of the folder open as parent (path: its path, for
 * messages), made first when create, never through a symbolic link (*out:
 * its descriptor, -1 on failure).  *made: mkdir created it now. */
int tb_open_subdir(tb *c, int parent, const char *name, const char *path, int create, int *made,
                   int *out);

/* Write out to the file in one write at c->size; on failure cut the file
 * back to c->size, keep out, and note the cause (fail_errno). */
int tb_write_out(tb *c);

/* tb_write_out, noting whether the medium failed (for retry_interval). */
int tb_attempt(tb *c);

/* After a failed write, log waits retry_interval before trying again. */
int tb_retry_due(const tb *c);

/* Write out and make it durable (unless fsync=off): flush and finish. */
int tb_barrier(tb *c);

/* Write the file's index (tb_stats.h) when `force` or when the file grew
 * by TB_IDX_EVERY since the last one; never fails (a missing or stale index
 * only makes listing read more of the file). */
#define TB_IDX_EVERY (1 << 20)
void tb_write_index(tb *c, int force);

/* ---- tb_store.c ---- */

/*
 * Choose the run folder in the experiment folder efd for run: a folder
 * holding the run already (a continued attempt, a replay), else a new
 * one (see tb_write.c).  Then the attempt: refused (TROPT_EBACKEND) when
 * the folder holds it from another process, c->replay when from the same;
 * else claimed (c->claim), and a new run's resume key claimed
 * (c->key_claim).  Sets c->run_dir and c->rfd.
 */
int tb_store_place(tb *c, int dfd, int efd, const char *exp_dir, const char *name,
                   const tropt_run *run);

/* TROPT_EINVAL when run_id was deleted from the store (dfd: the logdir). */
int tb_store_check_deleted(tb *c, int dfd, const char *run_id);

/* Take back the claims a failed init made. */
void tb_store_release(tb *c);

/* Apply metadata change a to stored run run_id (not open here): a small
 * event file beside the run's, holding the change. */
int tb_store_annotate(tb *c, const char *run_id, const tropt_annotation *a);

/* Delete stored run run_id: its files, index, claims and (when nothing
 * else is left in it) folder; a tombstone remembers the id. */
int tb_store_delete(tb *c, const char *run_id);

/* ---- tb_records.c ---- */

/* The run's name, which its folder takes: run->name from a host that
 * passes it (ABI 1.2, TROPT_HOST_RUN_V12), else the run's id.  Borrowed
 * from run. */
const char *tb_run_name(const tb *c, const tropt_run *run);

/* The step a continued attempt starts from (its SessionLog START):
 * run->from_step for attempt > 1 from a host that passes attempts (ABI
 * 1.2), else -1 (a first attempt). */
int64_t tb_resume_step(const tb *c, const tropt_run *run);

/* The run's attempt (1 from a host before ABI 1.2), the attempt's start,
 * and the run's resume key (NULL: none, or a host before ABI 1.2). */
int64_t tb_run_attempt(const tb *c, const tropt_run *run);
double tb_attempt_start(const tb *c, const tropt_run *run);
const char *tb_resume_key(const tb *c, const tropt_run *run);

/* Queue a new file's first records: the version, the START marker of a
 * resumed attempt, the run's identity, its config as hparams and text. */
int tb_queue_start(tb *c, const tropt_run *run, const json_t *config, const tropt_field *params,
                   size_t n_params);

/* Queue the records of the run's end: its status and summary, and the
 * hparams session_end_info. */
int tb_queue_end(tb *c, const char *status, double ended_at, const json_t *summary);

/* Queue one step. */
int tb_queue_step(tb *c, int64_t step, double time, const tropt_field *f, size_t n);

/* The step records of the open run are filed at: the last step logged in
 * this attempt, or its first step before any. */
int64_t tb_current_step(const tb *c);

/* Queue a metadata change of the open run (_tropt_/annotate). */
int tb_queue_note(tb *c, const tropt_annotation *a);

/* Queue a checkpoint mark of the open run (_tropt_/checkpoint). */
int tb_queue_mark(tb *c, const tropt_checkpoint *m);

/* Queue system samples of the open run at wall time `time`: _tropt_/system
 * with the exact values, and each sample's mean as a DT_FLOAT scalar under
 * its key, so that TensorBoard charts it. */
int tb_queue_system(tb *c, double time, const tropt_sample *s, size_t n);

/* The record of a metadata change alone, framed, appended to b (a stored
 * run's change file).  0, or -1 when memory ran out. */
int tb_encode_note(tb *c, tev_buf *b, const char *run_id, const tropt_annotation *a);

#endif
