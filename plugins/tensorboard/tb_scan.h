/*
 * plugins/tensorboard/tb_scan.h - reading one run: the reader's model of a
 * logdir (runs and their event files) and the two passes over a run's
 * files.  Private to tb_read.c, tb_scan.c and tb_merge.c.
 *
 * A run is every event file of its folder(s), merged by step as
 * TensorBoard merges them.  Steps may go back: a SessionLog START at step s
 * (a restarted attempt) drops every earlier event, in this file or an
 * earlier one, at a step >= s; a step lower than the one before it in the
 * same file drops the earlier events of that file at or after it (a
 * restart that wrote no marker).  The first pass (tbr_prescan) cuts each
 * file into segments where that happens and computes each segment's cut:
 * the step from which its events are superseded.  A segment's live steps
 * [.., cut) then lie below the next segment's of the same file, so a file
 * read in order yields ascending steps; the second pass (tbr_merge) merges
 * the files' step streams, one step in memory per file.
 */
#ifndef TROPT_TB_SCAN_H
#define TROPT_TB_SCAN_H

#include "tb_decode.h"
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
    off_t size; /* bytes read: the size at the first pass */
    tbr_seg *segs;
    size_t nsegs, segcap;
} tbr_file;

typedef struct tbr_run {
    char id[40];
    char *dir;        /* the (first) run folder */
    char *name;       /* the recorded run name, else the folder's name */
    char *experiment; /* recorded, else the folder's parent (see README) */
    char *host;       /* recorded, else from a file name, else NULL */
    int64_t pid;
    int ours; /* a record of ours gave the identity */
    tbr_file *files;
    size_t nfiles, fcap;
    /* set by a scan (tbr_prescan, and tbr_merge counting for n_steps) */
    double started_at, ended_at;
    char status[16];
    int64_t n_steps;
    json_t *config, *summary; /* owned; NULL when none */
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
    json_t *first_id, *last_id, *end, *hparams;
    long last_id_seq, end_seq;
    double t_min, t_max;
    long n_records, n_unknown, n_bad, n_torn, n_malformed;
    int have_prev;
    int64_t prev_step;
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

/* Start a pass over run (of reader r). */
void tbr_scan_init(tbr_scan *s, tbr *r, tbr_run *run);

/* The first pass over every file of the run: segments and their cuts, the
 * tags' plugins, our records, times, what was skipped; then the run's
 * identity, times, status, config and summary.  Reports damage once per
 * reader.  Memory: O(files + segments + tags). */
int tbr_prescan(tbr_scan *s);

/* Free what a scan holds (not the run). */
void tbr_scan_free(tbr_scan *s);

/* Report a damaged record once per reader (warning). */
void tbr_damage(tbr *r, const char *path, off_t at, const char *what);

/* ---- tb_merge.c ---- */

/* The second pass: the run's steps in ascending order, each the merge of
 * every file's events at that step (a later file's value of a key wins).
 * With fn: emits STEP events to fn (ud); without: counts steps into
 * s->run->n_steps.  Returns 0, fn's non-zero value, or an error. */
int tbr_merge(tbr_scan *s, const tropt_stored_run *info, tropt_event_fn fn, void *ud);

#endif
