/*
 * plugins/http/http_priv.h - internals of the http backend.
 *
 *   http.c        the hooks: init, log, finish, flush, destroy; the plugin
 *                 table.  The flow (ring -> sender -> server or spool) is
 *                 described at its top.
 *   http_conf.c   the options table and create(): parsing, headers, token,
 *                 starting the sender.
 *   http_ring.c   shared helpers (clock, strdup, references, the pending
 *                 error), the ring of raw records (reserve/commit on the
 *                 caller's side, take/release on the sender's) and waiting
 *                 for delivery (drain).
 *   http_spool.c  the spool file: direct writes from the caller's thread,
 *                 batches the sender could not deliver, spilling the excess
 *                 beyond queue_size.
 *   http_send.c   the sender thread: when to take a batch, encoding (influx
 *                 or NDJSON), the POST with retries, backoff and Retry-After.
 *
 * Locks: `mu` guards what is marked "mu"; `spool_mu` what is marked
 * "spool_mu", and is taken after `mu`, never before it.  Fields marked
 * "sender" are touched by the sender thread only (and by destroy once it
 * is joined); fields marked "config" are set by create and read-only after.
 * Functions are named hp_* when more than one file uses them.
 */
#ifndef TROPT_HTTP_PRIV_H
#define TROPT_HTTP_PRIV_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <tropt/plugin.h>

#include "tropt_event.h"
#include "tropt_mem.h"

/* ---- options (http_conf.c) --------------------------------------------- */

/* Indexes into http_options and the tropt_optval array create() gets. */
enum {
    HTTP_OPT_URL,
    HTTP_OPT_FORMAT,
    HTTP_OPT_TIMEOUT,
    HTTP_OPT_FLUSH_TIMEOUT,
    HTTP_OPT_TOKEN_ENV,
    HTTP_OPT_QUEUE_SIZE,
    HTTP_OPT_BATCH_SIZE,
    HTTP_OPT_MAX_DELAY,
    HTTP_OPT_RETRIES,
    HTTP_OPT_RETRY_INITIAL,
    HTTP_OPT_RETRY_MAX,
    HTTP_OPT_SPOOL_DIR,
    HTTP_OPT_MEASUREMENT,
    HTTP_OPT_CA_FILE,
    HTTP_OPT_HEADERS,
    HTTP_OPT_TAGS,
    HTTP_OPT_SPOOL,
    HTTP_OPT_COUNT
};

/* ---- state ------------------------------------------------------------- */

typedef struct run_rec {
    int64_t refs; /* mu */
    char *run_id;
    char *experiment;
    int64_t attempt;   /* ABI 1.2: the attempt (1 for a new run) */
    char *influx_tags; /* ",run_name=..[,attempt=k]" + the tags option: every point's tags */
    char *start_line;  /* NDJSON run_start, set by init: never NULL */
    size_t start_len;
    char *end_line; /* NDJSON run_end: NULL until finish sets it, before it is queued */
    size_t end_len;
    int end_queued; /* mu: finish queued the run_end (a retried finish only drains) */
    /* spool_mu */
    int start_spooled;
    int end_spooled;
    int64_t n_spooled;
} run_rec;

/* The keys and types of a step, shared by consecutive records that log the
 * same keys (one allocation: the struct, keys[], types[], the key text). */
typedef struct keyset {
    int64_t refs; /* mu */
    size_t n;
    const char **keys;
    tropt_type *types;
} keyset;

typedef union val {
    int64_t i; /* INT, BOOL */
    double r;
    size_t off;   /* STRING: offset of the copy from the record's start; 0: NULL */
    json_t *json; /* JSON: a deep copy owned by the record */
} val;

/* One event in the ring, followed by n vals and the copied strings.  Its
 * size is a multiple of 8; size 0 marks the end of a chunk (the next record
 * is at the start of the next chunk).  Records are position independent,
 * so the sender copies them out of the ring as they are. */
typedef struct rec {
    uint32_t size;
    uint16_t kind; /* TEV_RUN_START, TEV_LOG, TEV_RUN_END; or a line record: */
    uint16_t has_json;
    uint32_t n;      /* TEV_LOG: fields; a line record: the NDJSON line's bytes */
    uint32_t unused; /* a line record: the influx line's bytes after it (0: none) */
    run_rec *run;
    keyset *ks; /* TEV_LOG */
    int64_t step;
    double time;
    double enq; /* when it was queued (now_mono) */
} rec;

#define REC_VALS(p) ((val *)((char *)(p) + sizeof(rec)))
/* Line records (ABI 1.2 events other than steps: TEV_SYSTEM, TEV_CHECKPOINT)
 * carry their encoded lines after the header: n bytes of NDJSON, then
 * `unused` bytes of influx line protocol. */
#define REC_LINE(p) ((const char *)(p) + sizeof(rec))
#define REC_IS_LINE(p) ((p)->kind == TEV_SYSTEM || (p)->kind == TEV_CHECKPOINT)
#define CHUNK_BYTES ((size_t)64 * 1024 - 64)
#define FREE_CHUNKS_MAX 32

typedef struct chunk {
    struct chunk *next;
    size_t cap;
    size_t used;
    size_t unused;
    char data[]; /* 8-aligned: the header is 32 bytes */
} chunk;

typedef struct http {
    const tropt_host *host; /* config: the host's services, never NULL */
    pid_t pid;              /* config: the process that created it (fork check) */

    /* configuration (config: set by create, read-only after) */
    char *url;            /* starts with http:// or https:// */
    char *url_shown;      /* url without user info and query: the only form in messages */
    char *url_hint;       /* url with its query, secrets as *** (tropt_url_masked): replay hints */
    char *replay_hint;    /* the command that sends the spool, and what it cannot
                             carry (http_conf.c: replay_hint) */
    int no_spool;         /* spool=off: what is not delivered is an error, never spooled */
    int influx;           /* 1: format=influx, 0: format=ndjson */
    long timeout_ms;      /* >= 1: one request, connect + transfer */
    double flush_timeout; /* seconds >= 0: bound of every wait for delivery or room */
    int64_t queue_size;   /* >= 1: records waiting beyond it are spilled */
    int64_t ring_max;     /* > queue_size: log waits (then spools) at this fill */
    int64_t batch_size;   /* 1 <= batch_size <= queue_size (clamped): records per request at most */
    double max_delay;     /* seconds a record may wait for a fuller batch */
    int64_t retries;      /* >= 0: retries of a batch before the server is down */
    double retry_initial; /* seconds, > 0 */
    double retry_max;     /* seconds, > 0 */
    char *spool_dir;      /* never NULL */
    char *measurement;    /* influx measurement, or NULL: the run's experiment */
    char *ca_file;        /* or NULL: the system's CA store */
    char *tags;           /* influx: escaped ",k=v,..." or NULL */
    struct curl_slist *headers; /* Content-Type, Expect:, token, user headers;
                                   wiped before it is freed */

    pthread_t thread;   /* the sender; valid iff thread_started */
    int thread_started; /* 1 from a successful pthread_create to destroy */
    pthread_mutex_t mu;
    pthread_cond_t wake; /* to the sender: work, flush, abort, stop */
    pthread_cond_t done; /* from the sender: records delivered or spooled */
    pthread_cond_t room; /* from the sender: the ring has room again */

    /* the ring (mu); head_seq <= tail_seq, tail_seq - head_seq <= ring_max
     * (records waiting), inflight >= 0 (taken, not yet resolved) */
    chunk *wchunk;         /* the last chunk: log appends here; never NULL */
    chunk *free_chunks;    /* spare CHUNK_BYTES chunks, n_free of them */
    int n_free;            /* <= FREE_CHUNKS_MAX */
    int64_t tail_seq;      /* records published by log/init/finish */
    int64_t head_seq;      /* records taken off the ring by the sender */
    int64_t inflight;      /* taken, neither delivered nor spooled yet */
    int64_t wake_at;       /* ring_commit wakes the sender when this many wait (0: never) */
    int idle;              /* 1: the sender waits on `wake` (else on curl_multi_poll) */
    int room_waiters;      /* callers waiting on `room` */
    int flush_req;         /* > 0: a drain waits; send what there is now */
    int spool_all;         /* > 0: a drain gave up waiting: spool everything */
    int stop;              /* 1: destroy asked the sender to end (never reset) */
    int down;              /* 1: a batch exhausted its retries; until one succeeds */
    CURLM *multi;          /* set once before the sender starts; used by it only
                              (curl_multi_wakeup from any thread) */
    atomic_int abort_send; /* 1: abandon the request in flight (spool_all or stop) */
    run_rec *cur;          /* the open run (one reference), or NULL */
    keyset *ks;            /* the key set of the last step (one reference), or NULL */

    /* the sender's own: the ring's head; (hchunk, hoff) is record head_seq */
    chunk *hchunk;
    size_t hoff;
    int warned_nonfinite; /* the influx non-finite warning was logged once */
    unsigned rng;         /* xorshift state for the backoff jitter, never 0 */

    /* spool (spool_mu) */
    pthread_mutex_t spool_mu;
    char *spool_path; /* the spool file, or NULL until the first event spooled */
    int spool_fd;     /* its descriptor (O_APPEND), or -1 iff spool_path is NULL */
    int spool_dirty;  /* 1: written since the last fsync */

    /* mu */
    int warned_full;       /* the "queue full" warning was logged once */
    int pending_code;      /* TROPT_OK, or the error the next hook call returns */
    char pending_msg[512]; /* its message (valid iff pending_code != TROPT_OK) */
    int64_t n_lost;        /* events neither delivered nor spooled, in total */
} http;

/* ---- the sender ------------------------------------------------------- */

/* Records the sender took off the ring (copied as they are), and their
 * encoding for the wire. */
typedef struct batch {
    char *raw;
    size_t len, cap;
    int64_t n;
    int encoded;
    tev_buf body;
} batch;

typedef struct sender {
    CURL *e;
    batch b[2]; /* the request in flight and the next one */
    batch spill;
    tev_buf line;        /* NDJSON for the spool */
    tev_buf prefix;      /* influx: the escaped line prefix of prefix_run */
    run_rec *prefix_run; /* referenced, so that its address is not reused */
    tropt_field *f;
    size_t fcap;
} sender;

extern const tropt_option_def http_options[];

/* ---- http_conf.c / http.c ---------------------------------------------- */

int http_create(void **self, const tropt_optval *o, const tropt_host *host);
/* Stops the sender (after draining, bounded by flush_timeout) and frees h.
 * Also frees a half-built instance from a failed create.  NULL: no-op. */
void http_destroy(void *self);

/* ---- http_ring.c ------------------------------------------------------- */

double hp_now_mono(void);
/* pthread_cond_timedwait until a CLOCK_MONOTONIC instant (hp_now_mono). */
void hp_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, double mono_deadline);
/* Drop k references; frees at zero.  mu held (or the sender joined). */
void hp_run_unref(http *h, run_rec *r, int64_t k);
void hp_ks_unref(http *h, keyset *ks, int64_t k);
/* Remember an error for the next hook call (an EBACKEND is never replaced
 * by a lesser code).  mu held. */
void hp_set_pending(http *h, int code, const char *fmt, ...) TROPT_PRINTF(3, 4);
void hp_lose(http *h, const char *why, int err, int64_t k);
void hp_wake_sender(http *h);
rec *hp_ring_reserve(http *h, size_t size);
void hp_ring_commit(http *h, rec *p);
int hp_ring_room(http *h);
int hp_put_event(http *h, run_rec *r, int kind);
keyset *hp_keyset_of(http *h, const tropt_field *f, size_t n);
const rec *hp_head_rec(const http *h);
void hp_rec_drop_json(const rec *p);
/* Sender side: take up to max records into b / drop a finished batch. */
int64_t hp_take(http *h, batch *b, int64_t max);
void hp_release(http *h, batch *b);
int hp_drain(http *h);
int hp_take_pending(http *h);

/* ---- http_spool.c ------------------------------------------------------ */

void hp_spool_direct(http *h, run_rec *r, int kind, const char *line, size_t len, const char *why);
int hp_sync_spool(http *h);
void hp_spool_batch(http *h, sender *s, const batch *b, const char *why);
void hp_spill(http *h, sender *s);

/* ---- http_send.c ------------------------------------------------------- */

int hp_encode_ndjson(http *h, sender *s, const rec *p, tev_buf *out);
void *hp_sender_main(void *arg);

#endif
