/*
 * plugins/tensorboard/tb_stats.h - what one event file holds, in a few
 * numbers: the range of its steps, its latest checkpoint mark, its end
 * record, its metadata changes.  The writer keeps them as it writes and
 * saves them beside the file (an index, `.tropt-idx-<hash>`), so that
 * listing runs reads the index and the records written after it instead
 * of the whole file (README, "The index").  The reader computes the same
 * numbers from records (tb_scan.c) when a file has no index.
 */
#ifndef TROPT_TB_STATS_H
#define TROPT_TB_STATS_H

#include "tropt_event.h"

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct tb_stats {
    /* steps: lo..hi, every step seen being hi (again) or hi + 1 while
     * dense (then the file's steps are exactly lo..hi, each once) */
    int has_steps, dense;
    int64_t lo, hi, max;
    /* the mark of highest (attempt, seq) */
    int has_mark;
    int64_t mark_attempt, mark_seq, mark_step;
    /* the last end record */
    int has_end;
    char end_status[16];
    double end_at;
    /* metadata changes in file order: [[kind, text, time]...], or NULL */
    json_t *notes;
} tb_stats;

/* An empty set of numbers (nothing seen). */
void tb_stats_init(tb_stats *st);
void tb_stats_free(tb_stats *st);

/* A step was written. */
void tb_stats_step(tb_stats *st, int64_t step);
/* A record of ours that orders steps (an identity or end record) at step:
 * below the last step, the file's steps are no longer dense (the reader
 * cuts the earlier steps at or after it). */
void tb_stats_order(tb_stats *st, int64_t step);
/* A checkpoint mark of (attempt, seq) at step. */
void tb_stats_mark(tb_stats *st, int64_t attempt, int64_t seq, int64_t step);
/* The end record: status, end time. */
void tb_stats_end(tb_stats *st, const char *status, double at);
/* A metadata change (tropt_annotation_kind).  0, or -1 when memory ran out
 * (nothing changed). */
int tb_stats_note(tb_stats *st, int kind, const char *text, double time);

/* The index of event file `file`, `size` bytes of which st describes: one
 * JSON object, appended to b.  0, or -1 when memory ran out. */
int tb_stats_put(tev_buf *b, const tb_stats *st, const char *file, off_t size);

/* Read an index (n bytes of text) of event file `file`: 1 with *st filled
 * and *size the bytes it describes, 0 when it is not one of that file
 * (damaged, another file's), -1 when memory ran out.  st is freed and
 * initialised first. */
int tb_stats_get(tb_stats *st, off_t *size, const char *text, size_t n, const char *file);

/* The index's file name for event file `file` (".tropt-idx-" and 16 hex
 * digits of a hash of the name: never "tfevents", which TensorBoard would
 * read as an event file).  out: at least TB_IDX_NAME_MAX bytes. */
#define TB_IDX_NAME_MAX 40
void tb_stats_index_name(const char *file, char *out);

#endif
