/*
 * plugins/tensorboard/tb_scan.h - reading one run: the reader's model of a
 * logdir (runs and their event files) and the passes over a run's files.
 * Private to tb_read.c, tb_scan.c, tb_merge.c and tb_store.c.
 *
 * A run of ours is made of attempts (SPEC 15): each event file says in its
 * identity record which attempt wrote it (a replay writes the same attempt
 * again, in a file beside).  The reader yields every attempt's steps, the
 * superseded ones too (the host's reader layer applies the rule of
 * attempts), so a SessionLog START in a file of ours drops nothing here.
 * A foreign run (TensorBoard's own writers) is one attempt, read as
 * TensorBoard reads it: a SessionLog START at step s drops every earlier
 * event, in this file or an earlier one, at a step >= s.
 *
 * In every file, a step lower than the one before it drops the earlier
 * events of that file at or after it (a restart that wrote no marker).  The
 * first pass (tbr_prescan) cuts each file into segments where that happens
 * and computes each segment's cut: the step from which its events are
 * superseded.  A segment's live steps [.., cut) then lie below the next
 * segment's of the same file, so a file read in order yields ascending
 * steps; the second pass (tbr_merge) merges the step streams of an
 * attempt's files, one step in memory per file.
 */
#ifndef TROPT_TB_SCAN_H
#define TROPT_TB_SCAN_H

#include "tb_decode.h"
#include "tb_stats.h"
#include "tb_util.h"
#include "tropt_event.h"

#include <jansson.h>
#include <sys/types.h>

/* A stretch of a file from `off` to the next segment: its events at steps
 * >= cut are superseded.  start: the step that opened it (INT64_MIN for a
 * file's first); start_log: opened by a SessionLog START. */
typedef struct tbr_seg {
    off_t off;
    int64_t start, cut;
    int start_log;
} tbr_seg;

typedef struct tbr_file {
    char *path;
    char *base; /* its name: files sort by it across the run's folders */
    off_t size; /* bytes read: the size at the last scan */
    tbr_seg *segs;
    size_t nsegs, segcap;
    json_t *ident;   /* its identity record, when it is one of the run's; owned */
    int64_t attempt; /* the attempt it belongs to (1 for a foreign run's) */
    tb_stats st;     /* what it holds, by the last scan (tbr_file_stats, tbr_prescan) */
    json_t *end;     /* its last end record (tbr_prescan); owned */
} tbr_file;

/* One attempt of a run of ours (ABI 1.2), from its identity records and
 * its files' end records.  Strings borrowed from ident. */
typedef struct tbr_attempt {
    int64_t attempt, from_step; /* from_step INT64_MAX: a gap (no file says it) */
    double started_at, ended_at;
    char status[16];
    const char *host, *pidns;
    int64_t pid;
    const json_t *ident; /* its first identity record (NULL: a gap) */
} tbr_attempt;

typedef struct tbr_run {
    char id[40];
    char *dir;        /* the (first) run folder */
    char *folder;     /* its name */
    char *name;       /* the run's name: recorded (and renamed), else the folder's */
    char *experiment; /* recorded, else the folder's parent (see README) */
    char *host;       /* the latest attempt's: recorded, else from a file name, else NULL */
    int64_t pid;
    int ours; /* a record of ours gave the identity */
    tbr_file *files;
    size_t nfiles, fcap;
    /* set by tbr_conclude (after a scan of every file) */
    double started_at, ended_at;
    char status[16];
    int64_t n_steps, last_step, checkpoint_step;
    const json_t *config;  /* attempt 1's (borrowed), or a foreign run's hparams (owned) */
    const json_t *summary; /* the latest attempt's end record's (borrowed), or NULL */
    tbr_attempt *att;
    size_t natt;
    char **tags;
    size_t ntags;
    char *note;
    const char *resume_key, *pidns; /* borrowed from identity records */
    tropt_provenance prov;
    int has_prov;
    json_t *hparams; /* a foreign run's config (owned) */
} tbr_run;

typedef struct tbr {
    const tropt_host *h;
    char *logdir; /* as given (messages) */
    char *real;   /* its real path (ids of foreign runs) */
    tbr_run *runs;
    size_t nruns, rcap;
    int found;     /* the runs were discovered */
    tb_map warned; /* "<path>:<offset>" of damage already reported */
} tbr;

/* The state of one pass over a run. */
typedef struct tbr_scan {
    tbr *r;
    tbr_run *run;
    tb_map tags; /* tag -> plugin kind (PK_*) of its first metadata */
    long seq;    /* records seen so far, in file order */
    json_t *hparams;
    double t_min, t_max;
    long n_records, n_unknown, n_bad, n_torn, n_malformed;
    int have_prev;
    int64_t prev_step;
    json_t *marks; /* [[attempt, seq, line]...] of every checkpoint record read */
} tbr_scan;

/* The plugin a value belongs to. */
enum { PK_NONE = 0, PK_SCALARS, PK_TEXT, PK_HPARAMS, PK_OTHER };

/* What a value is to the reader. */
typedef enum {
    VC_SKIP,    /* not read: counted as not understood */
    VC_USER,    /* a field of the step */
    VC_RUN,     /* our identity record */
    VC_END,     /* our end record */
    VC_OURS,    /* another record of ours (the config text) */
    VC_HPARAMS, /* the hparams plugin's */
    VC_NOTE,    /* a metadata change of ours */
    VC_MARK,    /* a checkpoint mark of ours */
    VC_SYSTEM,  /* system samples of ours (the Event's other values are too) */
} tbr_vclass;

/* One decoded field of a step: its key and strings are offsets into the
 * group's arena (NUL-terminated there); json owned. */
typedef struct tbr_item {
    size_t key;
    int exact; /* the exact value of a DT_FLOAT scalar of the same key */
    tropt_type type;
    int64_t i;
    double r;
    size_t s;
    json_t *json;
} tbr_item;

/* ---- tb_scan.c ---- */

/* Classify value v of a record (and, for VC_USER with it not NULL, decode
 * it into *it, its key and text appended to arena).  -1 when memory ran
 * out. */
int tbr_classify(tbr_scan *s, const tb_sval *v, tev_buf *arena, tbr_item *it);

/* 1 when the summary (n bytes) begins with our system record: the Event is
 * system samples, not a step. */
int tbr_is_system(const unsigned char *summary, size_t n);

/* Start a pass over run (of reader r). */
void tbr_scan_init(tbr_scan *s, tbr *r, tbr_run *run);

/* The first pass over every file of the run: segments and their cuts, the
 * tags' plugins, our records (each file's stats and end, the marks),
 * times, what was skipped; then tbr_conclude.  Reports damage once per
 * reader.  Memory: O(files + segments + tags + marks). */
int tbr_prescan(tbr_scan *s);

/* Each file's stats, cheaply: its index (tb_stats.h) and the records
 * written after it, or every record when it has no usable index; then
 * tbr_conclude.  (Listing runs of ours.) */
int tbr_quick_scan(tbr_scan *s);

/* The run's attempts, times, status, config, summary, name, tags, note,
 * last step and checkpoint step from its files' identity records and
 * stats.  0, or TROPT_ENOMEM (reported). */
int tbr_conclude(tbr_scan *s);

/* n_steps from the files' stats when every file's steps are dense (each
 * attempt's ranges joined, cut at the first step of the attempts after
 * it): 1; 0 when a full count is needed (tbr_merge); -1 when memory ran
 * out.  After tbr_conclude. */
int tbr_count_from_stats(tbr *r, tbr_run *run);

/* Free what a scan holds (not the run). */
void tbr_scan_free(tbr_scan *s);

/* Report a damaged record once per reader (warning). */
void tbr_damage(tbr *r, const char *path, off_t at, const char *what);

/* ---- tb_merge.c ---- */

/* The second pass over the files of one attempt: its steps in ascending
 * order, each the merge of every file's events at that step (a later
 * file's value of a key wins).  With fn: emits STEP events (of `attempt`)
 * to fn (ud); without: adds the count of steps below `bound` to
 * s->run->n_steps.  Returns 0, fn's non-zero value, or an error. */
int tbr_merge(tbr_scan *s, int64_t attempt, int64_t bound, const tropt_stored_run *info,
              tropt_event_fn fn, void *ud);

/* The system samples of one attempt, in time order (the same time in two
 * files, a replay's, once), as SYSTEM events. */
int tbr_emit_system(tbr_scan *s, int64_t attempt, const tropt_stored_run *info, tropt_event_fn fn,
                    void *ud);

/* ---- tb_read.c ---- */

/* Open the logdir for reading (as reader_open does with its options). */
int tbr_open_logdir(tbr **out, const char *logdir, const tropt_host *h);

/* The run whose id is exactly run_id (the runs discovered first):
 * TROPT_EINVAL naming it when there is none. */
int tbr_lookup(tbr *r, const char *run_id, tbr_run **out);

#endif
