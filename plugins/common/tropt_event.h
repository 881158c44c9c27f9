/*
 * plugins/common/tropt_event.h - the NDJSON event format shared by the jsonl
 * backend, the http backend (its `ndjson` wire format and its spool) and
 * `tropt replay`.  The schema is documented in plugins/common/README.md.
 *
 * This is a static library linked into those plugins and the CLI; it is not
 * part of libtropt and calls nothing of it (plugins link nothing of tropt).
 * Only jansson and libc.
 */
#ifndef TROPT_EVENT_H
#define TROPT_EVENT_H

#include <stdio.h>

#include <tropt/plugin.h>

/* ---- A growable byte buffer ------------------------------------------- */

typedef struct tev_buf {
    char *data; /* NUL-terminated when len > 0 */
    size_t len;
    size_t cap;
    void *(*realloc_fn)(void *, size_t);
    void (*free_fn)(void *);
} tev_buf;

/* realloc_fn/free_fn NULL: libc realloc/free. */
void tev_buf_init(tev_buf *b, void *(*realloc_fn)(void *, size_t), void (*free_fn)(void *));
void tev_buf_free(tev_buf *b);
/* 0, or -1 on allocation failure (the buffer keeps its previous content). */
int tev_buf_reserve(tev_buf *b, size_t extra);
int tev_buf_append(tev_buf *b, const void *p, size_t n);
int tev_buf_puts(tev_buf *b, const char *s);
/* Append one byte.  0, or -1 on allocation failure. */
int tev_buf_putc(tev_buf *b, char c);
int tev_buf_printf(tev_buf *b, const char *fmt, ...) TROPT_PRINTF(2, 3);
/* Append a 64-bit integer in decimal (as printf's %" PRId64 " writes it). */
int tev_buf_put_i64(tev_buf *b, int64_t v);
/* Drop everything (keeps the allocation). */
void tev_buf_clear(tev_buf *b);
/* Give up ownership of the bytes: returns data (NULL if empty) and empties b. */
char *tev_buf_steal(tev_buf *b);

/* ---- Reals ------------------------------------------------------------- */

/* Same contract as tropt_host.format_real: shortest text that strtod reads
 * back to exactly x; "nan", "inf", "-inf" for non-finite values. */
typedef size_t (*tev_format_real_fn)(char *buf, size_t size, double x);

/* A local implementation of that contract (used when fn is NULL). */
size_t tev_format_real(char *buf, size_t size, double x);

/* A finite real as a JSON number that a JSON parser reads back as a real
 * (never as an integer): "1.0", "-0.0", "1e+300", "0.1".  buf >= 40. */
size_t tev_json_real(char *buf, size_t size, double x, tev_format_real_fn fn);

/* ---- Encoding (each call appends exactly one line, '\n' included) ---- */

/* Append s (NUL-terminated) as a JSON string: escapes ", \ and control
 * characters; invalid UTF-8 bytes become U+FFFD. */
int tev_put_string(tev_buf *b, const char *s, size_t len);
/* Append a jansson value as JSON (reals in shortest round-trip form).
 * 0, or -1 on allocation failure (b then holds part of the text). */
int tev_put_json(tev_buf *b, const json_t *v, tev_format_real_fn fn);
/* The same, pretty-printed for people: each member and element on a line
 * of its own, indented by indent spaces a level, ": " after a key (the
 * layout of Python's json.dumps(v, indent=indent)); indent < 0 is
 * tev_put_json.  No newline after the last brace. */
int tev_put_json_indent(tev_buf *b, const json_t *v, tev_format_real_fn fn, int indent);
/* Append a real: finite as tev_json_real writes it, NaN and +-Inf as the
 * tagged objects {"$real":"nan"|"inf"|"-inf"}. */
int tev_put_real(tev_buf *b, double x, tev_format_real_fn fn);
/* Append the value of a field as JSON (what the "data" object of a log
 * event holds for it).  These return 0, or -1 on allocation failure. */
int tev_put_field_value(tev_buf *b, const tropt_field *f, tev_format_real_fn fn);

/* A run_start: identity and config (the members of ABI 1.1). */
int tev_encode_run_start(tev_buf *b, const tropt_run *run, const json_t *config,
                         tev_format_real_fn fn);
/* The same with the ABI 1.2 members of `run` (name, attempt, from_step,
 * resume_key, pidns, provenance): pass only a tropt_run from a host of
 * services version 4 or later (TROPT_HOST_RUN_V12).  For attempt k > 1
 * "time" is the attempt's start and "started_at" the run's. */
int tev_encode_run_start_v12(tev_buf *b, const tropt_run *run, const json_t *config,
                             tev_format_real_fn fn);
/* A step of attempt 1 (tev_encode_log_at with attempt 1). */
int tev_encode_log(tev_buf *b, const char *run_id, int64_t step, double time,
                   const tropt_field *fields, size_t n, tev_format_real_fn fn);
/* A step; "attempt" is written when > 1. */
int tev_encode_log_at(tev_buf *b, const char *run_id, int64_t attempt, int64_t step, double time,
                      const tropt_field *fields, size_t n, tev_format_real_fn fn);
int tev_encode_run_end(tev_buf *b, const char *run_id, double time, const char *status,
                       const json_t *summary, tev_format_real_fn fn);
/* ABI 1.2 events: a checkpoint mark (its size, sha256 and error members
 * only when known), system samples ("data":{"key":[mean,max]}), a metadata
 * change, a deleted run. */
int tev_encode_checkpoint(tev_buf *b, const char *run_id, const tropt_checkpoint *m,
                          tev_format_real_fn fn);
int tev_encode_system(tev_buf *b, const char *run_id, int64_t attempt, double time,
                      const tropt_sample *s, size_t n, tev_format_real_fn fn);
int tev_encode_annotate(tev_buf *b, const char *run_id, const tropt_annotation *a,
                        tev_format_real_fn fn);
int tev_encode_delete(tev_buf *b, const char *run_id, double time, tev_format_real_fn fn);

/* ---- Decoding ---------------------------------------------------------- */

typedef enum {
    TEV_RUN_START = 1,
    TEV_LOG = 2,
    TEV_RUN_END = 3,
    TEV_CHECKPOINT = 4,
    TEV_SYSTEM = 5,
    TEV_ANNOTATE = 6,
    TEV_DELETE = 7
} tev_type;

/* One decoded event.  Every pointer is owned by the event (freed by
 * tev_event_clear) and borrowed by the caller. */
typedef struct tev_event {
    tev_type type;
    const char *run_id;
    double time;
    /* run_start */
    const char *experiment;
    const char *host;
    int64_t pid;
    const json_t *config; /* object or NULL */
    /* log */
    int64_t step;
    tropt_field *fields; /* n_fields, in the line's order; NaN/Inf restored */
    size_t n_fields;
    /* run_end */
    const char *status;
    const json_t *summary; /* object or NULL */
    /* run_start, ABI 1.2 (absent from older journals: name NULL, attempt 1) */
    const char *name;
    int64_t attempt;       /* also log, checkpoint, system: 1 when absent */
    int64_t from_step;     /* attempt > 1 */
    double run_started_at; /* the run's start (attempt 1: time) */
    const char *resume_key;
    const char *pidns;
    tropt_provenance provenance; /* members NULL when absent */
    int has_provenance;
    /* checkpoint (path, sha256, error borrowed from the event) */
    tropt_checkpoint checkpoint;
    /* system */
    tropt_sample *samples;
    size_t n_samples;
    /* annotate */
    tropt_annotation annotation;

    json_t *root;
} tev_event;

/* Decode one line (without or with its '\n').  Returns 0, or -1 with a
 * reason in err (malformed JSON, not an event, missing/ill-typed member).
 * On success clear the event with tev_event_clear. */
int tev_decode(const char *line, size_t len, tev_event *ev, char *err, size_t errsz);
void tev_event_clear(tev_event *ev);

/* Reads a journal line by line.  A line that does not decode is skipped
 * with a warning; when it is the last line and lacks its '\n' it is a
 * crash-cut event ("truncated last line"). */
typedef void (*tev_warn_fn)(void *userdata, const char *message);

typedef struct tev_reader {
    FILE *f;
    char *path;
    char *line;
    size_t cap;
    long lineno;
    long n_malformed;
    long n_truncated;
    long long limit; /* size at open: lines appended later are not read */
    tev_warn_fn warn;
    void *userdata;
} tev_reader;

/* 0, or -1 with errno set.  The reader sees the file as it was when opened
 * (so replaying a journal into itself cannot loop). */
int tev_reader_open(tev_reader *r, const char *path, tev_warn_fn warn, void *userdata);
/* 1: *ev holds the next event (clear it); 0: end of file; -1: read error
 * (errno set). */
int tev_reader_next(tev_reader *r, tev_event *ev);
void tev_reader_close(tev_reader *r);

#endif
