/*
 * plugins/csv/csv_priv.h - the csv backend's private state and the
 * functions its files share.  Not installed; only the files of plugins/csv include
 * it.  The backend is split by concern:
 *
 *   csv.c         the plugin: options, create/destroy, the run's folder,
 *                 init, log (flush policy, pending_max, retry_interval),
 *                 flush, finish.
 *   csv_util.c    allocation helpers and the closer thread.
 *   csv_keys.c    the key table (columns in first-seen order).
 *   csv_rows.c    the queue of rows and their text as wide/long records.
 *   csv_write.c   appends, header rewrites, deferral, JSON side files.
 *   csv_append.c  appending to an existing metrics.csv (replay).
 *   csv_types.c   the type record, types.csv: which type each key's cells
 *                 have from which row on (README.md "Types").
 *   csv_text.c    CSV quoting, reading records, type names (csv_text.h);
 *                 buffers, JSON and files come from the toolkit in
 *                 plugins/common.
 *   csv_read.c    the reader hooks (csv_read.h): run folders, run.json,
 *                 metrics.csv streamed.
 *   csv_cells.c   the reader's cells: typed by types.csv, or by their text
 *                 in a folder written before it.
 *   csv_order.c   the reader's steps when the file's do not ascend.
 *   csv_stat.c    the counts of an attempt's steps kept in run.json
 *                 (csv_read.h), shared by the writer and the reader.
 *   csv_meta.c    run.json (ABI 1.2): the attempts, the counts, the
 *                 annotations merged under the run's lock.
 *   csv_store.c   what spans runs: the run's lock file, resume-key
 *                 claims, tombstones, finding a stored run, annotate and
 *                 delete_run.
 *   csv_marks.c   checkpoints.csv and system.csv (the checkpoint and
 *                 log_system hooks).
 *   csv_runinfo.c the reader's ABI 1.2 side: run.json into
 *                 tropt_stored_run, the attempts, marks and samples.
 *
 * Every function returning int returns TROPT_OK / 0 or an error already
 * reported through c->h->error (TROPT_EBACKEND naming the path and the
 * cause, TROPT_ENOMEM), unless its comment says -1; none takes ownership
 * of its arguments.
 */
#ifndef TROPT_CSV_PRIV_H
#define TROPT_CSV_PRIV_H

#include "csv_read.h"
#include "csv_text.h"
#include "tropt_mem.h"
#include "tropt_num.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

enum { LAYOUT_WIDE, LAYOUT_LONG };

enum { SYNC_OFF, SYNC_NORMAL, SYNC_FULL };

/*
 * Closing the replaced metrics.csv is the kernel's eviction of an unlinked
 * inode: its page cache dropped and its blocks freed, synchronously in
 * close(2), about as long as writing the file (0.12 s of the 100k-step
 * csv-newkey bench).  Nothing waits for it, so a helper thread, started
 * at the first replacement, does those closes.
 */
enum { CLOSER_MAX = 16 };

typedef struct closer {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    int started, stop, n;
    int fds[CLOSER_MAX];
} closer;

/* A queued row.  Its text in the arena is the record it makes when its
 * cells fill the columns in order: "step,time,v1,...,vn\r\n"; head_off and
 * head_len mark "step,time", each cell its value (after its comma). */
typedef struct row {
    size_t head_off, head_len;
    size_t cell0, ncells;
    size_t end;   /* arena offset after the CRLF */
    size_t bytes; /* head + cell texts, without separators */
    int ordered;  /* cell k is column k */
    int64_t step;
} row;

typedef struct cell {
    size_t col, off, len;
} cell;

/*
 * The state of one csv backend instance.  Who updates what (file names are
 * the csv_*.c files; "run" is csv.c):
 *
 *   options        csv_create (run) only; read everywhere.
 *   failing,
 *   fail_errno,
 *   fail_at        attempt() in csv.c (fail_errno also by append() in
 *                  csv_write.c, the errno of the failed write).
 *   open, run_dir,
 *   metrics_path,
 *   pending_path,
 *   rfd, tmp_path,
 *   tmp_dir_len,
 *   meta           csv_init / run_close (run); meta also csv_finish.
 *   tmp_name       open_tmp (csv_write.c), just before each temporary file.
 *   fd, size,
 *   hdr_len,
 *   ncols_disk,
 *   rows_disk      csv_append_open (csv_append.c) when continuing, rewrite and
 *                  write_queued (csv_write.c) as records reach the file;
 *                  closed by run_close.  It counts the data records of
 *                  metrics.csv: rows (wide), values (long).
 *   tyfd, tysize,
 *   types_path,
 *   ty_dirty       csv_init sets types_path; types_open (csv_types.c) at init; types_write
 *                  (csv_write.c) appends and syncs; closed by run_close.
 *   ktype          types_open and types_note (csv_types.c): the type of
 *                  each key's next cell, as types.csv has it once tq is
 *                  written; key_col (csv_keys.c) sets a new key's to NONE.
 *   tq             types_note appends the records of queued rows;
 *                  types_write empties it once they are in types.csv.
 *   pfd, psize     write_queued (creates, appends) and rewrite (removes),
 *                  csv_write.c.
 *   steps          csv_log; rewrites, rewritten: rewrite (csv_write.c).
 *   seen*          csv_append_open fills them, seen_take/seen_free consume them
 *                  (csv_append.c; called by csv_log and run_close).
 *   keys, kcell,
 *   kcell_len,
 *   keybytes,
 *   slots          key_col / keys_clear (csv_keys.c) only; key_col is
 *                  called by queue_row (csv_rows.c) and header_field
 *                  (csv_append.c); kcap (shared with colmap and ktype) grows
 *                  there.
 *   rows, cells,
 *   arena, qbytes,
 *   nrows, ncells,
 *   nfull, nempty  queue_row appends, queue_clear empties (csv_rows.c);
 *                  queue_clear is called by write_queued/rewrite after the
 *                  rows reached metrics.csv, and by run_close.
 *   ndeferred      write_queued (csv_write.c), after the rows reached
 *                  metrics.pending.csv; reset by queue_clear.
 *   fmt, fmt_rows,
 *   fmt_ncols      format_queued (csv_rows.c); reset by queue_clear.
 *   queued_since   csv_log (flush_interval).
 *   cl             close_later / closer_stop (csv_util.c), the closer
 *                  thread owns cl.fds under cl.mu.
 *   out, scratch   scratch buffers of whichever function runs (never held
 *                  across calls): put_*, rewrite, copy_widened,
 *                  write_json_file, csv_append_open, queue_row (scratch).
 *   colmap         put_wide_rows sets and clears it per row; hint, hint_n:
 *                  queue_row / field_col (csv_rows.c).
 *
 * One thread at a time calls the plugin (the host serialises the hooks), so
 * nothing but cl needs a lock.
 */
/* Records of a side file (checkpoints.csv, system.csv), each a
 * NUL-terminated copy without its CRLF, sorted by strcmp (host memory). */
typedef struct csv_recset {
    char **rec;
    size_t n;
} csv_recset;

typedef struct csv {
    const tropt_host *h;
    /* options */
    char *dir;
    int layout;
    int64_t flush_every;
    double flush_interval_s;
    int sync;
    double rewrite_factor;
    uint64_t pending_max;
    double retry_interval_s;

    /* the last write of queued rows failed (disk full...): at fail_at, with
     * errno fail_errno; log retries only retry_interval_s later */
    int failing, fail_errno;
    double fail_at;

    /* the open run */
    int open;
    char *run_dir, *metrics_path, *pending_path;
    int rfd;        /* the run folder, opened without following a link; every
                     * file of the run is opened relative to it */
    char *tmp_path; /* <run_dir>/<tmp_name>, naming it in messages */
    size_t tmp_dir_len;
    char tmp_name[128]; /* .<file>.<random>.tmp, the file being replaced */
    int fd;             /* metrics.csv */
    off_t size;         /* its bytes, all complete records */
    size_t hdr_len;     /* bytes of its header record */
    size_t ncols_disk;  /* key columns in its header */
    uint64_t rows_disk; /* data records: rows (wide), values (long) */
    int pfd;            /* metrics.pending.csv, or -1 */
    off_t psize;
    uint64_t steps, rewrites, rewritten;
    /* A continued metrics.csv (the run replayed again): the step of each of
     * its rows, sorted, and which of them a log of this run has matched
     * already.  A logged step matching a row not matched yet is that row,
     * in the file already, and is skipped; the arrays are freed once every
     * row is matched. */
    int64_t *seen;
    unsigned char *seen_used;
    size_t nseen, seen_cap, seen_left;
    json_t *meta; /* run.json */

    /* ABI 1.2 (csv_meta.c, csv_store.c, csv_marks.c): the attempt this
     * instance writes.  Its files: mname (metrics.csv, or
     * metrics.attempt<k>.csv), pname (<mbase>.pending.csv), tname
     * (types.csv, types.attempt<k>.csv). */
    int64_t attempt;
    char mbase[40], mname[48], pname[56], tname[48];
    json_t *att;        /* this attempt's object in meta's "attempts" (borrowed) */
    int latest;         /* no later attempt is stored: config.json, summary.json are its */
    csv_stepstat st;    /* the rows in mname (csv_stat_add as they reach it) */
    int64_t meta_bytes; /* st.bytes when run.json last had the counts */
    int meta_due;       /* run.json's counts are stale (a rewrite, a failed update) */
    int meta_warned;    /* a failed update was warned about */
    int64_t meta_ino;   /* run.json's inode as this instance last wrote it */
    int lockfd;         /* <run>/.lock: byte 0 locked while the run is open */
    char claim[300];    /* the resume-key claim this init made ("": none) */
    int ckfd, sysfd;    /* checkpoints.csv, system.csv, or -1 */
    /* continued: init continued an attempt the store holds (a replay of
     * the same journal); then ckseen and sysseen hold the records of that
     * attempt checkpoints.csv and system.csv held when first opened, and a
     * record appended again is skipped (csv_marks.c) */
    int continued;
    csv_recset ckseen, sysseen;

    /* keys in first-seen order, and a hash of them (slot = index + 1);
     * keys[i] is "<key>\0<key as a CSV cell>", kcell[i] points at that
     * cell and kcell_len[i] is its length: the one place a key is quoted
     * (the header and the long layout copy the cell).  keys, kcell,
     * kcell_len, colmap and ktype have kcap elements each. */
    char **keys;
    size_t nkeys, kcap;
    const char **kcell;
    size_t *kcell_len;
    /* header bytes of the key columns: the sum over i of 1 (comma) +
     * reserved_key(keys[i]) (the '_' mark) + kcell_len[i], exactly what
     * put_header writes after "step,time" */
    uint64_t keybytes;
    size_t *slots;
    size_t nslots;

    /* queued rows: [0, ndeferred) are in metrics.pending.csv already;
     * nfull of them are ordered with one cell per known key */
    row *rows;
    size_t nrows, rcap, ndeferred, nfull;
    size_t nempty; /* rows without a cell (long: one record "step,time,," each) */
    cell *cells;
    size_t ncells, ccap;
    tev_buf arena;
    /* the queued rows [0, fmt_rows) as records of metrics.csv (fmt_ncols
     * key columns), kept when a write fails so a retry formats only the
     * rows queued since */
    tev_buf fmt;
    size_t fmt_rows, fmt_ncols;
    uint64_t qbytes; /* sum of rows[].bytes */
    double queued_since;

    /* types.csv: a record "row,key,type" whenever a key's cells change
     * type (first seen included); the records of queued rows wait in tq
     * and are written before those rows reach metrics.csv */
    int tyfd;
    char *types_path;
    off_t tysize;
    int ty_dirty; /* appended since its last fsync */
    unsigned char *ktype;
    tev_buf tq;

    closer cl; /* closes replaced files */

    /* scratch */
    tev_buf out, scratch;
    size_t *colmap; /* column -> cell index + 1, for the row being written */
    size_t *hint;   /* field position -> the column its key had last step */
    size_t hint_n, hint_cap;
} csv;

/* ---- csv_util.c ---- */

/* Close fd, on the helper thread when it runs and has room. */
void close_later(closer *cl, int fd);

/* Wait for every pending close and end the thread. */
void closer_stop(closer *cl);

/* Report TROPT_ENOMEM ("out of memory") and return it. */
int oom(csv *c);

/* "<a>/<b>" from the host allocator, or NULL; the caller frees it. */
char *joinpath(csv *c, const char *a, const char *b);

/* ---- csv_keys.c ---- */

/* The column of key k, adding it when new.  (size_t)-1 when out of memory. */
size_t key_col(csv *c, const char *k);

/* The column of key k, (size_t)-1 when it has none. */
size_t key_find(csv *c, const char *k);

/* Forget every key (a new run); the table keeps its capacity. */
void keys_clear(csv *c);

/* ---- csv_rows.c ---- */

/* Empty the queue (its rows reached the file, or the run ends). */
void queue_clear(csv *c);

/* Bytes of memory the queued rows hold (what pending_max bounds). */
uint64_t pending_bytes(const csv *c);

/* Format one step into the queue: the record text, its cells marked. */
int queue_row(csv *c, int64_t step, double time, const tropt_field *f, size_t n);

/* Append the header record of the layout and every known key to b.  -1
 * when out of memory. */
int put_header(csv *c, tev_buf *b);

/* Rows [from, to) appended to b as long records: step,time,key,value per
 * cell.  -1 when out of memory (nothing reported; b then holds part of the
 * rows). */
int put_long_rows(csv *c, tev_buf *b, size_t from, size_t to);

/* Format the queued rows not formatted yet into c->fmt, as records of
 * metrics.csv (all of them again when the columns changed).  -1 when out
 * of memory (c->fmt then holds what it held). */
int format_queued(csv *c);

/* ---- csv_write.c ---- */

/*
 * Replace metrics.csv atomically by: the header of every known key, the
 * current records widened to it, and all queued rows.  On failure the old
 * file and the queue are untouched.
 */
int rewrite(csv *c);

/* Write the queued rows out.  force: a barrier, deferred rows are folded
 * into metrics.csv now. */
int write_queued(csv *c, int force);

/* Write v (borrowed; NULL: {}) pretty-printed to <run_dir>/name,
 * atomically (temporary file, rename). */
int write_json_file(csv *c, const char *name, const json_t *v);

/* Write b's bytes to <run_dir>/name atomically (temporary file, rename). */
int write_file_atomic(csv *c, const char *name, const tev_buf *b);

/* Append the waiting type records (c->tq) to types.csv; with
 * sync_now, and fsync=normal|full, also sync types.csv when appended to
 * since its last sync.  On failure tq is kept for the retry. */
int types_write(csv *c, int sync_now);

/* ---- csv_types.c ---- */

/* Note the type records the fields of the row just formatted need (their
 * cells are the last n of the queue; the row is not counted in nrows yet)
 * into c->tq, and the keys' new types.  On failure (out of memory, -1)
 * nothing changed. */
int types_note(csv *c, const tropt_field *f, size_t n);

/* Open types.csv at init, after metrics.csv was created or continued:
 * continued: the records of rows the file holds are kept (read back into
 * ktype), those of rows it lost to a crash dropped; created: a new file
 * with its header. */
int types_open(csv *c, int continued);

/* ---- csv_append.c ---- */

/* Forget the rows of a continued file (all matched, or the run ends). */
void seen_free(csv *c);

/* 1 when a row of step `step` is in the continued file and not matched by
 * a log yet (it is marked matched now), 0 otherwise. */
int seen_take(csv *c, int64_t step);

/*
 * metrics.csv exists already: a run replayed into this folder again (run
 * ids are unique otherwise).  Continue it: read its header back into the
 * key table, cut a torn last record, and note the step of every row so
 * that the rows already written are skipped when they are logged again
 * (each row once, whatever the order of the steps: a run may log a step
 * twice, or go back to an earlier step after a restart).
 */
int csv_append_open(csv *c);

/* ---- csv_meta.c ---- */

/* Bytes of metrics rows after which run.json's counts are brought up to
 * date: what a listing of a killed run may have to scan. */
#define CSV_PROGRESS_BYTES (1 << 20)

/* The file names of attempt k into c (mbase, mname, pname, tname). */
void attempt_names(csv *c, int64_t k);

/*
 * Build c->meta for the run being opened (its folder open and locked):
 * a new run.json, or the stored one continued with this attempt recorded
 * (a new attempt; an attempt of the same host and pid: a replay, continued
 * as it is).  Refuses (TROPT_EBACKEND) an attempt the run holds from
 * another process.  Sets c->attempt, c->att, c->latest, the file names.
 */
int meta_open(csv *c, const tropt_run *run, const char *folder, const json_t *config);

/* Write c->meta to run.json (atomically, under the run's lock, with the
 * tags, note and name another process may have changed). */
int meta_write(csv *c);

/* meta_write with the annotation a applied to the run.json it merged
 * (another process's tags, note and name first, then a). */
int meta_write_with(csv *c, const tropt_annotation *a);

/* After rows reached the file: run.json's counts updated when due
 * (CSV_PROGRESS_BYTES more bytes, a rewrite; any: any change, at a
 * barrier); a failure is a warning (a reader's scan finds the rows). */
void meta_progress(csv *c, int any);

/* The attempt ends with status at ended_at (finish). */
int meta_finish(csv *c, const char *status, double ended_at);

/* Apply an annotation to a run.json object.  -1 when out of memory. */
int meta_annotate(json_t *meta, const tropt_annotation *a);

/* Copy the annotations (name, tags, note) of `from` into `to`.  -1 when
 * out of memory. */
int meta_take_annotations(json_t *to, const json_t *from);

/* ---- csv_store.c ---- */

/* Lock byte `byte` of the lock file fd (an OFD lock: released by close or
 * the process's death); wait: block until free.  0, or -1 with errno. */
int lock_byte(int fd, int byte, int wait);

void unlock_byte(int fd, int byte);

/* Open (creating) the run folder's lock file `.lock`.  -1 with errno. */
int lock_open(int dfd);

/* At init, before the run's folder is made: refuse (TROPT_EINVAL) a run
 * deleted from this store. */
int store_check_deleted(csv *c, int dfd, const char *run_id);

/* At init: take the run's resume key in <dir>/.resume_keys (exclusively),
 * or refuse (TROPT_EBACKEND) a key another run carries. */
int store_claim_key(csv *c, int dfd, const char *key, const char *run_id);

/* Drop the claim this init made (the init failed). */
void store_unclaim(csv *c);

/* The annotate and delete_run hooks. */
int csv_annotate(void *self, const char *run_id, const tropt_annotation *a);
int csv_delete_run(void *self, const char *run_id);

/* ---- csv_marks.c ---- */

/* The checkpoint and log_system hooks. */
int csv_checkpoint(void *self, const tropt_run *run, const tropt_checkpoint *mark);
int csv_log_system(void *self, const tropt_run *run, double time, const tropt_sample *s, size_t n);

/* Close checkpoints.csv and system.csv. */
void marks_close(csv *c);

#endif
