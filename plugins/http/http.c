/*
 * plugins/http/http.c - the http backend: sends each run's events to a
 * tracking server (NDJSON events or InfluxDB line protocol) from a
 * background thread, spooling to disk what it cannot deliver.
 *
 * Flow.  `log` copies the step into an in-memory ring of raw records (keys
 * interned per key set, values as they are, strings copied): no
 * formatting, no system call, an allocation only while the ring grows.
 * One sender thread per instance takes batches off the ring (batch_size
 * events, or fewer once the oldest has waited max_delay, or at once on
 * flush/finish), encodes them (influx, or NDJSON for format=ndjson), POSTs
 * them in order on a kept-alive connection and retries connection errors,
 * timeouts, 5xx and 429 with exponential backoff and jitter (honouring
 * Retry-After).  While a request is in flight the sender encodes the next
 * batch, so its encoding overlaps the server's work.  Other statuses are
 * not retried: the batch goes to the spool and the error is returned by the
 * next hook call.
 *
 * Spool.  Events beyond queue_size waiting in the ring, batches that
 * exhausted their retries (the server is then treated as down: one attempt
 * per batch until one succeeds) and whatever finish could not deliver
 * within flush_timeout are encoded as NDJSON events by the sender and
 * appended to one spool file per instance in spool_dir; `log` never writes
 * to it unless the sender falls so far behind that the ring is full and
 * stays full for flush_timeout.  A run whose events reach the spool gets
 * its run_start and run_end written there too, so every spool file replays
 * on its own with `tropt replay`.  Only an event neither delivered nor
 * spooled is an error.
 *
 * Threads.  The ring's counters, the run and key-set reference counts and
 * what is reported to the caller are under `mu`; the spool file and the
 * per-run spool bookkeeping under `spool_mu` (taken after `mu`, never
 * before it).  The sender holds neither while encoding or on the network,
 * and reads ring records without `mu`: a record is immutable once
 * published, and only the sender moves the ring's head.  destroy() drains
 * (bounded by flush_timeout), stops and joins the sender, so the thread
 * never outlives the module.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <tropt/plugin.h>

#include "influx.h"
#include "tropt_event.h"
/* ---- options ---------------------------------------------------------- */

static const char *const format_choices[] = {"ndjson", "influx", NULL};

enum {
    O_URL,
    O_FORMAT,
    O_TIMEOUT,
    O_FLUSH_TIMEOUT,
    O_TOKEN_ENV,
    O_QUEUE_SIZE,
    O_BATCH_SIZE,
    O_MAX_DELAY,
    O_RETRIES,
    O_RETRY_INITIAL,
    O_RETRY_MAX,
    O_SPOOL_DIR,
    O_MEASUREMENT,
    O_CA_FILE,
    O_HEADERS,
    O_TAGS,
};

static const tropt_option_def http_options[] = {
    [O_URL] = {"url", TROPT_OPT_STRING, TROPT_OPT_REQUIRED, NULL, NULL, 0, 0,
               "endpoint events are POSTed to (http:// or https://)"},
    [O_FORMAT] = {"format", TROPT_OPT_ENUM, 0, "ndjson", format_choices, 0, 0,
                  "ndjson: tropt events; influx: InfluxDB line protocol"},
    [O_TIMEOUT] = {"timeout", TROPT_OPT_DURATION, TROPT_OPT_HAS_RANGE, "10s", NULL, 1, 3600000,
                   "limit of one request (connect + transfer)"},
    [O_FLUSH_TIMEOUT] = {"flush_timeout", TROPT_OPT_DURATION, TROPT_OPT_HAS_RANGE, "10s", NULL, 0,
                         3600000,
                         "how long finish/flush wait for delivery before spooling the rest"},
    [O_TOKEN_ENV] = {"token_env", TROPT_OPT_STRING, 0, NULL, NULL, 0, 0,
                     "environment variable holding a bearer token (never shown)"},
    [O_QUEUE_SIZE] = {"queue_size", TROPT_OPT_INT, TROPT_OPT_HAS_RANGE, "250000", NULL, 1,
                      100000000, "events waiting in memory; beyond it the oldest go to the spool"},
    [O_BATCH_SIZE] = {"batch_size", TROPT_OPT_INT, TROPT_OPT_HAS_RANGE, "5000", NULL, 1, 1000000,
                      "events per request at most"},
    [O_MAX_DELAY] = {"max_delay", TROPT_OPT_DURATION, TROPT_OPT_HAS_RANGE, "200ms", NULL, 0,
                     3600000, "how long an event may wait for a fuller batch"},
    [O_RETRIES] = {"retries", TROPT_OPT_INT, TROPT_OPT_HAS_RANGE, "5", NULL, 0, 1000,
                   "retries of a batch before it is spooled and the server deemed down"},
    [O_RETRY_INITIAL] = {"retry_initial", TROPT_OPT_DURATION, TROPT_OPT_HAS_RANGE, "250ms", NULL, 1,
                         3600000, "first backoff delay (doubles per retry, jittered)"},
    [O_RETRY_MAX] = {"retry_max", TROPT_OPT_DURATION, TROPT_OPT_HAS_RANGE, "10s", NULL, 1, 3600000,
                     "largest backoff delay"},
    [O_SPOOL_DIR] = {"spool_dir", TROPT_OPT_PATH, 0, "tropt-spool", NULL, 0, 0,
                     "folder for events that could not be delivered (replay with tropt replay)"},
    [O_MEASUREMENT] = {"measurement", TROPT_OPT_STRING, 0, NULL, NULL, 0, 0,
                       "influx measurement (default: the experiment name)"},
    [O_CA_FILE] = {"ca_file", TROPT_OPT_PATH, 0, NULL, NULL, 0, 0,
                   "CA bundle to verify the server with (default: the system's)"},
    [O_HEADERS] = {"headers", TROPT_OPT_STRING, TROPT_OPT_SECRET, NULL, NULL, 0, 0,
                   "extra request headers, \"Name: value\" separated by '|' (never shown)"},
    [O_TAGS] = {"tags", TROPT_OPT_STRING, 0, NULL, NULL, 0, 0,
                "influx: tags added to every point, key=value separated by '|'"},
    {NULL, 0, 0, NULL, NULL, 0, 0, NULL},
};

/* ---- state ------------------------------------------------------------ */

typedef struct run_rec {
    int64_t refs; /* mu */
    char *run_id;
    char *experiment;
    char *start_line; /* NDJSON run_start (NULL for a run init never saw) */
    size_t start_len;
    char *end_line; /* NDJSON run_end, set by finish before it is queued */
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
    uint16_t kind; /* TEV_RUN_START, TEV_LOG, TEV_RUN_END */
    uint16_t has_json;
    uint32_t n;
    uint32_t unused;
    run_rec *run;
    keyset *ks; /* TEV_LOG */
    int64_t step;
    double time;
    double enq; /* when it was queued (now_mono) */
} rec;

#define REC_VALS(p) ((val *)((char *)(p) + sizeof(rec)))
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
    const tropt_host *host;
    /* configuration */
    char *url;
    char *url_shown; /* without user info and query: safe in messages */
    int influx;
    long timeout_ms;
    double flush_timeout;
    int64_t queue_size;
    int64_t ring_max; /* queue_size + room for the sender to spool the excess */
    int64_t batch_size;
    double max_delay;
    int64_t retries;
    double retry_initial;
    double retry_max;
    char *spool_dir;
    char *measurement;
    char *ca_file;
    char *tags; /* influx: escaped ",k=v,..." or NULL */
    struct curl_slist *headers;

    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu;
    pthread_cond_t wake; /* to the sender: work, flush, abort, stop */
    pthread_cond_t done; /* from the sender: records delivered or spooled */
    pthread_cond_t room; /* from the sender: the ring has room again */

    /* the ring (mu) */
    chunk *wchunk; /* log appends here */
    chunk *free_chunks;
    int n_free;
    int64_t tail_seq; /* records published */
    int64_t head_seq; /* records taken off the ring by the sender */
    int64_t inflight; /* taken, neither delivered nor spooled yet */
    int64_t wake_at;  /* log wakes the sender when this many wait (0: never) */
    int idle;         /* the sender waits on `wake` (else on curl_multi_poll) */
    int room_waiters;
    int flush_req;
    int spool_all; /* finish gave up waiting: spool everything */
    int stop;
    int down;              /* a batch exhausted its retries; until one succeeds */
    CURLM *multi;          /* owned by the sender; set once before it starts */
    atomic_int abort_send; /* abandon the request in flight */
    run_rec *cur;
    run_rec *stray; /* a run log saw without its init */
    keyset *ks;     /* the key set of the last step */

    /* the sender's own: the ring's head */
    chunk *hchunk;
    size_t hoff;
    int warned_nonfinite;
    unsigned rng;

    /* spool (spool_mu) */
    pthread_mutex_t spool_mu;
    char *spool_path;
    int spool_fd;
    int spool_dirty;

    /* mu */
    int warned_full;
    int pending_code;
    char pending_msg[512];
    int64_t n_lost;
} http;

static atomic_uint spool_seq;

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void deadline_ts(struct timespec *ts, double mono_deadline)
{
    /* Conditions use CLOCK_MONOTONIC (see create). */
    double s = floor(mono_deadline);
    ts->tv_sec = (time_t)s;
    ts->tv_nsec = (long)((mono_deadline - s) * 1e9);
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, double mono_deadline)
{
    struct timespec ts;
    deadline_ts(&ts, mono_deadline);
    pthread_cond_timedwait(c, m, &ts);
}

static char *hstrdup(const tropt_host *h, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = h->malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

static char *hmemdup(const tropt_host *h, const char *s, size_t n)
{
    char *p = h->malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* mu held (or the sender joined). */
static void run_unref(http *h, run_rec *r, int64_t k)
{
    if (r && (r->refs -= k) == 0) {
        h->host->free(r->run_id);
        h->host->free(r->experiment);
        h->host->free(r->start_line);
        h->host->free(r->end_line);
        h->host->free(r);
    }
}

static void ks_unref(http *h, keyset *ks, int64_t k)
{
    if (ks && (ks->refs -= k) == 0)
        h->host->free(ks);
}

static void set_pending(http *h, int code, const char *fmt, ...) TROPT_PRINTF(3, 4);
static void set_pending(http *h, int code, const char *fmt, ...)
{
    if (h->pending_code == TROPT_EBACKEND && code != TROPT_EBACKEND)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->pending_msg, sizeof h->pending_msg, fmt, ap);
    va_end(ap);
    h->pending_code = code;
}

/* Events neither delivered nor spooled: count them and report it.  mu held. */
static void lose(http *h, const char *why, int err, int64_t k)
{
    h->n_lost += k;
    set_pending(h, TROPT_EBACKEND,
                "%" PRId64 " events neither delivered to %s (%s) nor spooled to %s: %s", h->n_lost,
                h->url_shown, why, h->spool_dir, strerror(err));
}

/* Wake the sender wherever it waits.  mu held. */
static void wake_sender(http *h)
{
    pthread_cond_broadcast(&h->wake);
    if (h->multi)
        curl_multi_wakeup(h->multi);
}

/* ---- spool (spool_mu held) -------------------------------------------- */

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int spool_open(http *h)
{
    if (h->spool_fd >= 0)
        return 0;
    if (mkdir(h->spool_dir, 0777) != 0 && errno != EEXIST)
        return -1;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char name[96];
    snprintf(name, sizeof name, "%04d%02d%02dT%02d%02d%02d.%06ldZ-%ld-%u.jsonl", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000,
             (long)getpid(), atomic_fetch_add(&spool_seq, 1));
    size_t n = strlen(h->spool_dir) + strlen(name) + 2;
    char *path = h->host->malloc(n);
    if (!path) {
        errno = ENOMEM;
        return -1;
    }
    snprintf(path, n, "%s/%s", h->spool_dir, name);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
        int e = errno;
        h->host->free(path);
        errno = e;
        return -1;
    }
    h->spool_fd = fd;
    h->spool_path = path;
    h->host->log(TROPT_LEVEL_WARNING, "http: events for %s are being spooled to %s", h->url_shown,
                 path);
    return 0;
}

/* Append bytes to the spool.  Returns 0, or an errno value. */
static int spool_write(http *h, const char *p, size_t n)
{
    if (spool_open(h) != 0 || write_all(h->spool_fd, p, n) != 0)
        return errno ? errno : EIO;
    h->spool_dirty = 1;
    return 0;
}

/* Spool one NDJSON line of run r from the caller's thread (its run_start
 * first if missing); mu held, takes spool_mu.  Counts it lost on failure. */
static void spool_direct(http *h, run_rec *r, int kind, const char *line, size_t len,
                         const char *why)
{
    pthread_mutex_lock(&h->spool_mu);
    int e = 0;
    if (r && !r->start_spooled && kind != TEV_RUN_START && r->start_line)
        e = spool_write(h, r->start_line, r->start_len);
    if (!e)
        e = spool_write(h, line, len);
    if (!e && r) {
        r->start_spooled = 1;
        if (kind == TEV_RUN_END)
            r->end_spooled = 1;
        r->n_spooled++;
    }
    pthread_mutex_unlock(&h->spool_mu);
    if (e)
        lose(h, why, e, 1);
}

static int sync_spool(http *h)
{
    int rc = 0;
    pthread_mutex_lock(&h->spool_mu);
    if (h->spool_fd >= 0 && h->spool_dirty) {
        if (fsync(h->spool_fd) != 0) {
            set_pending(h, TROPT_EBACKEND, "cannot sync spool %s: %s", h->spool_path,
                        strerror(errno));
            rc = -1;
        } else
            h->spool_dirty = 0;
    }
    pthread_mutex_unlock(&h->spool_mu);
    return rc;
}

/* ---- the ring (mu held) ----------------------------------------------- */

/* Room for a record of `size` bytes at the ring's tail, or NULL. */
static rec *ring_reserve(http *h, size_t size)
{
    chunk *c = h->wchunk;
    if (c->used + size + sizeof(uint64_t) <= c->cap)
        return (rec *)(c->data + c->used);
    chunk *nc = NULL;
    size_t cap = size + sizeof(uint64_t) > CHUNK_BYTES ? size + sizeof(uint64_t) : CHUNK_BYTES;
    if (cap == CHUNK_BYTES && h->free_chunks) {
        nc = h->free_chunks;
        h->free_chunks = nc->next;
        h->n_free--;
    } else {
        if (!(nc = h->host->malloc(sizeof(chunk) + cap)))
            return NULL;
        /* fault its pages in now, in this one call, rather than one page
         * fault every 30 records */
        for (size_t i = 0; i < cap; i += 4096)
            ((volatile char *)nc->data)[i] = 0;
    }
    nc->next = NULL;
    nc->cap = cap;
    nc->used = 0;
    /* the end marker: published with the next record, so the sender reads
     * it only once that record is there */
    ((rec *)(c->data + c->used))->size = 0;
    c->next = nc;
    h->wchunk = nc;
    return (rec *)nc->data;
}

/* Publish the record ring_reserve returned, and wake the sender when it
 * asked to be woken at this fill level. */
static void ring_commit(http *h, rec *p)
{
    h->wchunk->used += p->size;
    h->tail_seq++;
    if (h->tail_seq - h->head_seq == h->wake_at) {
        h->wake_at = 0;
        if (h->idle)
            pthread_cond_signal(&h->wake);
        else
            curl_multi_wakeup(h->multi);
    }
}

/* 1 when the ring has room for one more record; waits (at most
 * flush_timeout) for the sender to make room, else 0. */
static int ring_room(http *h)
{
    if (h->tail_seq - h->head_seq < h->ring_max)
        return 1;
    wake_sender(h);
    double until = now_mono() + h->flush_timeout;
    h->room_waiters++;
    while (h->tail_seq - h->head_seq >= h->ring_max && !h->stop && now_mono() < until)
        cond_wait_until(&h->room, &h->mu, until);
    h->room_waiters--;
    return h->tail_seq - h->head_seq < h->ring_max;
}

/* Queue a run_start or run_end of r (its line is in r).  Returns TROPT_OK
 * or TROPT_ENOMEM. */
static int put_event(http *h, run_rec *r, int kind)
{
    if (!ring_room(h)) {
        if (kind == TEV_RUN_START)
            spool_direct(h, r, kind, r->start_line, r->start_len, "queue full");
        else
            spool_direct(h, r, kind, r->end_line, r->end_len, "queue full");
        return TROPT_OK;
    }
    rec *p = ring_reserve(h, sizeof(rec));
    if (!p)
        return TROPT_ENOMEM;
    memset(p, 0, sizeof *p);
    p->size = sizeof(rec);
    p->kind = (uint16_t)kind;
    p->run = r;
    p->enq = now_mono();
    r->refs++;
    ring_commit(h, p);
    return TROPT_OK;
}

/* The key set of these fields: the last one when it matches, else a new
 * one.  NULL when out of memory. */
static keyset *keyset_of(http *h, const tropt_field *f, size_t n)
{
    keyset *ks = h->ks;
    if (ks && ks->n == n) {
        size_t i = 0;
        while (i < n && ks->types[i] == f[i].type && strcmp(ks->keys[i], f[i].key) == 0)
            i++;
        if (i == n)
            return ks;
    }
    size_t bytes = sizeof *ks + n * (sizeof(char *) + sizeof(tropt_type));
    for (size_t i = 0; i < n; i++)
        bytes += strlen(f[i].key) + 1;
    ks = h->host->malloc(bytes);
    if (!ks)
        return NULL;
    ks->refs = 1; /* h->ks */
    ks->n = n;
    ks->keys = (const char **)(ks + 1);
    ks->types = (tropt_type *)(ks->keys + n);
    char *s = (char *)(ks->types + n);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(f[i].key) + 1;
        memcpy(s, f[i].key, l);
        ks->keys[i] = s;
        ks->types[i] = f[i].type;
        s += l;
    }
    ks_unref(h, h->ks, 1);
    h->ks = ks;
    return ks;
}

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

static const rec *head_rec(const http *h)
{
    const rec *p = (const rec *)(h->hchunk->data + h->hoff);
    return p->size ? p : (const rec *)h->hchunk->next->data;
}

/* Drop a record's references (JSON copies here; runs and key sets are
 * counted by the caller). */
static void rec_drop_json(const rec *p)
{
    if (!p->has_json)
        return;
    const val *v = REC_VALS(p);
    for (uint32_t i = 0; i < p->n; i++)
        if (p->ks->types[i] == TROPT_JSON)
            json_decref(v[i].json);
}

/* Release references collected as runs of equal pointers.  mu held. */
typedef struct refs {
    run_rec *run;
    keyset *ks;
    int64_t nrun, nks;
} refs;

static void refs_add(http *h, refs *rf, run_rec *r, keyset *ks)
{
    if (r != rf->run) {
        run_unref(h, rf->run, rf->nrun);
        rf->run = r;
        rf->nrun = 0;
    }
    rf->nrun++;
    if (ks != rf->ks) {
        ks_unref(h, rf->ks, rf->nks);
        rf->ks = ks;
        rf->nks = 0;
    }
    rf->nks++;
}

static void refs_done(http *h, refs *rf)
{
    run_unref(h, rf->run, rf->nrun);
    ks_unref(h, rf->ks, rf->nks);
    memset(rf, 0, sizeof *rf);
}

/* Take up to max records off the ring's head into b (appended).  Returns
 * how many left the ring; a record that cannot be copied (out of memory) is dropped and
 * counted lost. */
static int64_t take(http *h, batch *b, int64_t max)
{
    pthread_mutex_lock(&h->mu);
    int64_t k = h->tail_seq - h->head_seq;
    pthread_mutex_unlock(&h->mu);
    if (k > max)
        k = max;
    chunk *freed = NULL;
    int64_t taken = 0, dropped = 0;
    for (int64_t i = 0; i < k; i++) {
        rec *p = (rec *)(h->hchunk->data + h->hoff);
        if (p->size == 0) {
            chunk *c = h->hchunk;
            h->hchunk = c->next;
            h->hoff = 0;
            c->next = freed;
            freed = c;
            p = (rec *)h->hchunk->data;
        }
        h->hoff += p->size;
        if (b->len + p->size > b->cap) {
            size_t cap = b->cap ? b->cap : 64 * 1024;
            while (cap < b->len + p->size)
                cap *= 2;
            char *nr = h->host->realloc(b->raw, cap);
            if (!nr) {
                rec_drop_json(p);
                pthread_mutex_lock(&h->mu);
                run_unref(h, p->run, 1);
                ks_unref(h, p->ks, 1);
                pthread_mutex_unlock(&h->mu);
                dropped++;
                continue;
            }
            b->raw = nr;
            b->cap = cap;
        }
        memcpy(b->raw + b->len, p, p->size);
        b->len += p->size;
        taken++;
    }
    pthread_mutex_lock(&h->mu);
    if (dropped)
        lose(h, "out of memory", ENOMEM, dropped);
    h->head_seq += k;
    h->inflight += taken;
    b->n += taken;
    while (freed) {
        chunk *c = freed;
        freed = c->next;
        if (c->cap == CHUNK_BYTES && h->n_free < FREE_CHUNKS_MAX) {
            c->next = h->free_chunks;
            h->free_chunks = c;
            h->n_free++;
        } else
            h->host->free(c);
    }
    if (h->room_waiters)
        pthread_cond_broadcast(&h->room);
    if (dropped)
        pthread_cond_broadcast(&h->done);
    pthread_mutex_unlock(&h->mu);
    return k;
}

/* The batch is delivered or spooled: drop its records. */
static void release(http *h, batch *b)
{
    refs rf = {0};
    for (size_t o = 0; o < b->len;) {
        const rec *p = (const rec *)(b->raw + o);
        rec_drop_json(p);
        o += p->size;
    }
    pthread_mutex_lock(&h->mu);
    for (size_t o = 0; o < b->len;) {
        const rec *p = (const rec *)(b->raw + o);
        refs_add(h, &rf, p->run, p->ks);
        o += p->size;
    }
    refs_done(h, &rf);
    h->inflight -= b->n;
    pthread_cond_broadcast(&h->done);
    pthread_mutex_unlock(&h->mu);
    b->len = 0;
    b->n = 0;
    b->encoded = 0;
    tev_buf_clear(&b->body);
}

/* The fields of a TEV_LOG record, borrowed from it.  NULL: out of memory. */
static const tropt_field *fields_of(http *h, sender *s, const rec *p)
{
    if (p->n > s->fcap) {
        tropt_field *nf = h->host->realloc(s->f, p->n * sizeof *nf);
        if (!nf)
            return NULL;
        s->f = nf;
        s->fcap = p->n;
    }
    const val *v = REC_VALS(p);
    for (uint32_t i = 0; i < p->n; i++) {
        tropt_field *f = &s->f[i];
        f->key = p->ks->keys[i];
        f->type = p->ks->types[i];
        switch (f->type) {
        case TROPT_BOOL:
            f->v.b = (int)v[i].i;
            break;
        case TROPT_INT:
            f->v.i = v[i].i;
            break;
        case TROPT_REAL:
            f->v.r = v[i].r;
            break;
        case TROPT_STRING:
            f->v.s = v[i].off ? (const char *)p + v[i].off : NULL;
            break;
        case TROPT_JSON:
            f->v.json = v[i].json;
            break;
        default:
            f->v.i = 0;
        }
    }
    return s->f;
}

/* Append the record's NDJSON event to out.  0, or -1 out of memory. */
static int encode_ndjson(http *h, sender *s, const rec *p, tev_buf *out)
{
    const run_rec *r = p->run;
    if (p->kind == TEV_RUN_START)
        return r->start_line ? tev_buf_append(out, r->start_line, r->start_len) : 0;
    if (p->kind == TEV_RUN_END)
        return r->end_line ? tev_buf_append(out, r->end_line, r->end_len) : 0;
    const tropt_field *f = fields_of(h, s, p);
    if (!f && p->n)
        return -1;
    return tev_encode_log(out, r->run_id, p->step, p->time, f, p->n, h->host->format_real);
}

/* The request body of b.  0, or -1 out of memory. */
static int encode_wire(http *h, sender *s, batch *b)
{
    tev_buf_clear(&b->body);
    size_t skipped = 0;
    for (size_t o = 0; o < b->len;) {
        const rec *p = (const rec *)(b->raw + o);
        o += p->size;
        int rc = 0;
        if (!h->influx)
            rc = encode_ndjson(h, s, p, &b->body);
        else if (p->kind == TEV_LOG) {
            const tropt_field *f = fields_of(h, s, p);
            if (p->run != s->prefix_run) {
                const char *m = h->measurement ? h->measurement : p->run->experiment;
                tev_buf_clear(&s->prefix);
                pthread_mutex_lock(&h->mu);
                run_unref(h, s->prefix_run, 1);
                s->prefix_run = NULL;
                pthread_mutex_unlock(&h->mu);
                if (influx_prefix(&s->prefix, m, p->run->run_id, h->tags) != 0)
                    return -1;
                pthread_mutex_lock(&h->mu);
                s->prefix_run = p->run;
                p->run->refs++;
                pthread_mutex_unlock(&h->mu);
            }
            size_t mark = b->body.len;
            rc = (!f && p->n) || tev_buf_append(&b->body, s->prefix.data, s->prefix.len) != 0
                     ? -1
                     : influx_encode_fields(&b->body, mark, p->step, p->time, f, p->n,
                                            h->host->format_real, &skipped);
        }
        if (rc != 0)
            return -1;
    }
    if (skipped && !h->warned_nonfinite) {
        h->warned_nonfinite = 1;
        h->host->log(TROPT_LEVEL_WARNING,
                     "http: format=influx cannot carry null, NaN or infinite values; such "
                     "fields are left out of the points (the spool and ndjson keep them)");
    }
    b->encoded = 1;
    return 0;
}

#define SPOOL_PIECE ((size_t)256 * 1024)

/* Append b's records to the spool as NDJSON events, a run's run_start
 * first if the spool lacks it; what cannot be written is counted lost. */
static void spool_batch(http *h, sender *s, const batch *b, const char *why)
{
    int64_t lost = 0;
    int err = 0;
    pthread_mutex_lock(&h->spool_mu);
    for (size_t o = 0; o < b->len;) {
        /* a piece: consecutive records of one run, written at once */
        const rec *first = (const rec *)(b->raw + o);
        run_rec *r = first->run;
        int oom = 0, has_start = 0, has_end = 0;
        int64_t k = 0;
        tev_buf_clear(&s->line);
        if (!r->start_spooled && first->kind != TEV_RUN_START && r->start_line) {
            oom = tev_buf_append(&s->line, r->start_line, r->start_len) != 0;
            has_start = 1;
        }
        while (o < b->len) {
            const rec *p = (const rec *)(b->raw + o);
            if (p->run != r || s->line.len >= SPOOL_PIECE)
                break;
            if (!oom && encode_ndjson(h, s, p, &s->line) != 0)
                oom = 1;
            has_start |= p->kind == TEV_RUN_START;
            has_end |= p->kind == TEV_RUN_END;
            k++;
            o += p->size;
        }
        int e = oom ? ENOMEM : s->line.len ? spool_write(h, s->line.data, s->line.len) : 0;
        if (e) {
            lost += k;
            err = e;
            continue;
        }
        if (has_start)
            r->start_spooled = 1;
        if (has_end)
            r->end_spooled = 1;
        r->n_spooled += k;
    }
    pthread_mutex_unlock(&h->spool_mu);
    if (lost) {
        pthread_mutex_lock(&h->mu);
        lose(h, why, err, lost);
        pthread_mutex_unlock(&h->mu);
    }
}

/* Spool the oldest waiting records beyond queue_size. */
static void spill(http *h, sender *s)
{
    for (;;) {
        pthread_mutex_lock(&h->mu);
        int64_t k = h->tail_seq - h->head_seq - h->queue_size;
        if (k > 0 && !h->warned_full) {
            h->warned_full = 1;
            h->host->log(TROPT_LEVEL_WARNING,
                         "http: queue full (%" PRId64 " events waiting for %s); spooling to %s",
                         h->tail_seq - h->head_seq, h->url_shown, h->spool_dir);
        }
        pthread_mutex_unlock(&h->mu);
        if (k <= 0)
            return;
        take(h, &s->spill, k < 4096 ? k : 4096);
        if (s->spill.n) {
            spool_batch(h, s, &s->spill, "queue full");
            release(h, &s->spill);
        }
    }
}

/* Does the sender have work besides the request in flight (spill the
 * excess, prepare the next batch)?  Otherwise arm wake_at and set
 * *deadline (0: none) for the next look.  mu held. */
static int work_needed(http *h, const batch *nxt, int can_prep, double *deadline)
{
    int64_t pend = h->tail_seq - h->head_seq;
    *deadline = 0;
    h->wake_at = 0;
    if (h->stop || h->spool_all)
        return 0;
    if (pend > h->queue_size)
        return 1;
    if (can_prep && !nxt->n && pend) {
        if (pend >= h->batch_size || h->flush_req)
            return 1;
        double dl = head_rec(h)->enq + h->max_delay;
        if (now_mono() >= dl)
            return 1;
        *deadline = dl;
    }
    h->wake_at = h->queue_size + 1;
    if (can_prep && !nxt->n) {
        int64_t w = pend ? h->batch_size : 1;
        if (w < h->wake_at)
            h->wake_at = w;
    }
    return 0;
}

/* Spill, and take and encode the next batch when it is due. */
static void do_work(http *h, sender *s, batch *nxt, int can_prep)
{
    spill(h, s);
    double dl;
    pthread_mutex_lock(&h->mu);
    int prep = can_prep && !nxt->n && work_needed(h, nxt, 1, &dl);
    h->wake_at = 0;
    pthread_mutex_unlock(&h->mu);
    if (prep && (take(h, nxt, h->batch_size), nxt->n))
        encode_wire(h, s, nxt); /* on failure, encoded again before sending */
}
typedef enum { SEND_OK, SEND_RETRY, SEND_REJECTED, SEND_ABORTED } send_result;

typedef struct response {
    char text[256];
    size_t len;
} response;

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    response *r = ud;
    size_t n = size * nmemb;
    size_t room = sizeof r->text - 1 - r->len;
    size_t take = n < room ? n : room;
    memcpy(r->text + r->len, p, take);
    r->len += take;
    r->text[r->len] = '\0';
    return n;
}

static int permanent_curl_error(CURLcode c)
{
    switch (c) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_LOGIN_DENIED:
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_NOT_BUILT_IN:
        return 1;
    default:
        return 0;
    }
}

/* One POST.  *retry_after: seconds the server asked to wait (or -1).
 * While it is in flight the sender spills and prepares nxt. */
static send_result post_once(http *h, sender *s, const char *body, size_t len, char *why,
                             size_t whysz, double *retry_after, batch *nxt)
{
    CURL *e = s->e;
    response resp = {.len = 0};
    *retry_after = -1;
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &resp);
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);

    CURLcode cc = CURLE_OK;
    int aborted = 0;
    curl_multi_add_handle(h->multi, e);
    for (;;) {
        int running = 0;
        curl_multi_perform(h->multi, &running);
        if (!running)
            break;
        if (atomic_load(&h->abort_send)) {
            aborted = 1;
            break;
        }
        /* the request body first: the server waits for it */
        curl_off_t up = 0;
        curl_easy_getinfo(e, CURLINFO_SIZE_UPLOAD_T, &up);
        double dl;
        pthread_mutex_lock(&h->mu);
        int uploaded = up >= (curl_off_t)len;
        int work = work_needed(h, nxt, uploaded, &dl);
        pthread_mutex_unlock(&h->mu);
        if (work) {
            do_work(h, s, nxt, uploaded);
            continue;
        }
        int ms = 100;
        if (dl > 0) {
            double left = (dl - now_mono()) * 1000 + 1;
            ms = left < 0 ? 0 : left < 100 ? (int)left : 100;
        }
        curl_multi_poll(h->multi, NULL, 0, ms, NULL);
    }
    if (!aborted) {
        int left;
        CURLMsg *m;
        while ((m = curl_multi_info_read(h->multi, &left)))
            if (m->msg == CURLMSG_DONE)
                cc = m->data.result;
    }
    curl_multi_remove_handle(h->multi, e);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, NULL);
    if (aborted) {
        snprintf(why, whysz, "gave up waiting after flush_timeout");
        return SEND_ABORTED;
    }
    if (cc != CURLE_OK) {
        snprintf(why, whysz, "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
        return permanent_curl_error(cc) ? SEND_REJECTED : SEND_RETRY;
    }
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300)
        return SEND_OK;
    /* keep the server's words on one line */
    for (size_t i = 0; i < resp.len; i++)
        if (resp.text[i] == '\n' || resp.text[i] == '\r')
            resp.text[i] = ' ';
    snprintf(why, whysz, "HTTP %ld%s%s", status, resp.len ? ": " : "", resp.text);
    if (status == 429 || status == 408 || status >= 500) {
        curl_off_t ra = -1;
        if (curl_easy_getinfo(e, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
            *retry_after = (double)ra;
        return SEND_RETRY;
    }
    return SEND_REJECTED;
}

static unsigned next_rand(http *h)
{
    unsigned x = h->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    h->rng = x ? x : 0x9e3779b9u;
    return h->rng;
}

/* Send one batch with retries.  Called without mu. */
static send_result send_batch(http *h, sender *s, batch *b, int down, char *why, size_t whysz,
                              batch *nxt)
{
    int64_t attempt = 0;
    for (;;) {
        double retry_after;
        send_result r = post_once(h, s, b->body.data, b->body.len, why, whysz, &retry_after, nxt);
        if (r != SEND_RETRY)
            return r;
        if (down || attempt >= h->retries)
            return SEND_RETRY;
        double d = h->retry_initial * pow(2.0, (double)attempt);
        if (d > h->retry_max)
            d = h->retry_max;
        d = d / 2 + (d / 2) * (next_rand(h) % 10000) / 10000.0; /* jitter */
        if (retry_after > d)
            d = retry_after;
        attempt++;
        double until = now_mono() + d;
        pthread_mutex_lock(&h->mu);
        while (!atomic_load(&h->abort_send) && !h->stop && now_mono() < until) {
            double dl;
            if (work_needed(h, nxt, 1, &dl)) {
                pthread_mutex_unlock(&h->mu);
                do_work(h, s, nxt, 1);
                pthread_mutex_lock(&h->mu);
                continue;
            }
            h->idle = 1;
            cond_wait_until(&h->wake, &h->mu, dl > 0 && dl < until ? dl : until);
            h->idle = 0;
            h->wake_at = 0;
        }
        int aborted = atomic_load(&h->abort_send) || h->stop;
        pthread_mutex_unlock(&h->mu);
        if (aborted) {
            snprintf(why + strlen(why), whysz - strlen(why), "; gave up retrying");
            return SEND_ABORTED;
        }
    }
}

/* The batch was sent (or not): report, spool what was not delivered, and
 * drop it. */
static void batch_done(http *h, sender *s, batch *b, send_result r, const char *why)
{
    pthread_mutex_lock(&h->mu);
    if (r == SEND_OK) {
        if (h->down)
            h->host->log(TROPT_LEVEL_INFO, "http: %s reachable again", h->url_shown);
        h->down = 0;
    } else {
        if (r == SEND_RETRY && !h->down) {
            h->down = 1;
            h->host->log(TROPT_LEVEL_WARNING,
                         "http: %s unreachable after %" PRId64 " retries (%s); spooling",
                         h->url_shown, h->retries, why);
        }
        if (r == SEND_REJECTED)
            set_pending(h, TROPT_EBACKEND,
                        "%s rejected a batch of %" PRId64
                        " events (%s); not retried, the events are kept in the spool %s",
                        h->url_shown, b->n, why, h->spool_dir);
    }
    pthread_mutex_unlock(&h->mu);
    if (r != SEND_OK)
        spool_batch(h, s, b, why);
    release(h, b);
}

enum { ACT_STOP, ACT_SPILL, ACT_SPOOL, ACT_BATCH };

/* Wait until there is something to do.  mu held. */
static int wait_for_work(http *h)
{
    for (;;) {
        int64_t pend = h->tail_seq - h->head_seq;
        if ((h->stop || h->spool_all) && pend)
            return ACT_SPOOL;
        if (h->stop)
            return ACT_STOP;
        if (pend > h->queue_size)
            return ACT_SPILL;
        double until = 0;
        if (pend) {
            if (pend >= h->batch_size || h->flush_req)
                return ACT_BATCH;
            until = head_rec(h)->enq + h->max_delay;
            if (now_mono() >= until)
                return ACT_BATCH;
        }
        h->wake_at = pend ? h->batch_size : 1;
        if (h->wake_at > h->queue_size + 1)
            h->wake_at = h->queue_size + 1;
        h->idle = 1;
        if (pend)
            cond_wait_until(&h->wake, &h->mu, until);
        else
            pthread_cond_wait(&h->wake, &h->mu);
        h->idle = 0;
        h->wake_at = 0;
    }
}

static void *sender_main(void *arg)
{
    http *h = arg;
    sender s;
    memset(&s, 0, sizeof s);
    for (int i = 0; i < 2; i++)
        tev_buf_init(&s.b[i].body, h->host->realloc, h->host->free);
    tev_buf_init(&s.spill.body, h->host->realloc, h->host->free);
    tev_buf_init(&s.line, h->host->realloc, h->host->free);
    tev_buf_init(&s.prefix, h->host->realloc, h->host->free);
    CURL *e = s.e = curl_easy_init();
    if (e) {
        curl_easy_setopt(e, CURLOPT_URL, h->url);
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, h->headers);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, h->timeout_ms);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, h->timeout_ms);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
        if (h->ca_file)
            curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_file);
    }

    batch *cur = &s.b[0], *nxt = &s.b[1];
    for (;;) {
        if (!cur->n) {
            pthread_mutex_lock(&h->mu);
            int act = wait_for_work(h);
            pthread_mutex_unlock(&h->mu);
            if (act == ACT_STOP)
                break;
            if (act == ACT_SPILL) {
                spill(h, &s);
                continue;
            }
            take(h, cur, h->batch_size);
            if (!cur->n)
                continue;
            if (act == ACT_SPOOL) {
                spool_batch(h, &s, cur, "not delivered within flush_timeout");
                release(h, cur);
                continue;
            }
        }
        pthread_mutex_lock(&h->mu);
        int all = h->spool_all || h->stop;
        int down = h->down;
        pthread_mutex_unlock(&h->mu);
        char why[400] = "";
        send_result r;
        if (all) {
            snprintf(why, sizeof why, "not delivered within flush_timeout");
            r = SEND_ABORTED;
        } else if (!e || (!cur->encoded && encode_wire(h, &s, cur) != 0)) {
            snprintf(why, sizeof why, "out of memory");
            r = SEND_RETRY;
        } else if (cur->body.len == 0)
            r = SEND_OK;
        else
            r = send_batch(h, &s, cur, down, why, sizeof why, nxt);
        batch_done(h, &s, cur, r, why);
        batch *t = cur;
        cur = nxt;
        nxt = t;
    }
    if (e)
        curl_easy_cleanup(e);
    for (int i = 0; i < 2; i++) {
        h->host->free(s.b[i].raw);
        tev_buf_free(&s.b[i].body);
    }
    h->host->free(s.spill.raw);
    tev_buf_free(&s.spill.body);
    tev_buf_free(&s.line);
    tev_buf_free(&s.prefix);
    pthread_mutex_lock(&h->mu);
    run_unref(h, s.prefix_run, 1);
    pthread_mutex_unlock(&h->mu);
    h->host->free(s.f);
    return NULL;
}

/* ---- waiting for delivery (mu held) ----------------------------------- */

static int all_resolved(const http *h)
{
    return h->tail_seq == h->head_seq && h->inflight == 0;
}

/* Wait until everything queued is delivered or spooled, at most
 * flush_timeout; then have the sender abandon the request in flight and
 * spool the rest (waiting while it makes progress).  Returns 1 when it had
 * to give up waiting. */
static int drain(http *h)
{
    double until = now_mono() + h->flush_timeout;
    h->flush_req++;
    wake_sender(h);
    while (!all_resolved(h) && now_mono() < until)
        cond_wait_until(&h->done, &h->mu, until);
    h->flush_req--;
    if (all_resolved(h))
        return 0;
    h->spool_all++;
    atomic_store(&h->abort_send, 1);
    wake_sender(h);
    int64_t target = h->tail_seq;
    int64_t seen = h->head_seq - h->inflight;
    double last = now_mono();
    while (h->head_seq - h->inflight < target && now_mono() < last + 2.0) {
        cond_wait_until(&h->done, &h->mu, last + 2.0);
        if (h->head_seq - h->inflight != seen) {
            seen = h->head_seq - h->inflight;
            last = now_mono();
        }
    }
    if (--h->spool_all == 0 && !h->stop)
        atomic_store(&h->abort_send, 0);
    return 1;
}

/* Return (and clear) what the sender left to report.  mu held. */
static int take_pending(http *h)
{
    int code = h->pending_code;
    if (code == TROPT_OK)
        return TROPT_OK;
    h->pending_code = TROPT_OK;
    return h->host->error(code, "%s", h->pending_msg);
}

/* ---- hooks ------------------------------------------------------------ */

static void http_destroy(void *self);

/* "scheme://host[:port]/path" of url: no user info, no query. */
static char *shown_url(const tropt_host *host, const char *url)
{
    const char *p = strstr(url, "://");
    const char *auth = p ? p + 3 : url;
    const char *end = auth + strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *q = auth; q < end; q++)
        if (*q == '@')
            at = q;
    size_t cap = strlen(url) + 1;
    char *s = host->malloc(cap);
    if (!s)
        return NULL;
    size_t o = 0;
    memcpy(s, url, (size_t)(auth - url));
    o = (size_t)(auth - url);
    const char *from = at ? at + 1 : auth;
    size_t rest = strcspn(from, "?#");
    memcpy(s + o, from, rest);
    o += rest;
    s[o] = '\0';
    return s;
}

static int add_header(http *h, const char *line)
{
    struct curl_slist *n = curl_slist_append(h->headers, line);
    if (!n)
        return -1;
    h->headers = n;
    return 0;
}

static int http_create(void **self, const tropt_optval *o, const tropt_host *host)
{
    int rc = TROPT_OK;
    http *h = host->malloc(sizeof *h);
    if (!h)
        return host->error(TROPT_ENOMEM, "out of memory");
    memset(h, 0, sizeof *h);
    h->host = host;
    h->spool_fd = -1;
    pthread_mutex_init(&h->mu, NULL);
    pthread_mutex_init(&h->spool_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->wake, &ca);
    pthread_cond_init(&h->done, &ca);
    pthread_cond_init(&h->room, &ca);
    pthread_condattr_destroy(&ca);
    h->rng = (unsigned)time(NULL) ^ (unsigned)getpid() ^ (unsigned)(uintptr_t)h;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        host->free(h);
        return host->error(TROPT_EBACKEND, "cannot initialise libcurl");
    }

    const char *url = o[O_URL].text ? o[O_URL].text : "";
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        rc = host->error(TROPT_EINVAL, "url must start with http:// or https://");
        goto fail;
    }
    h->influx = o[O_FORMAT].i == 1;
    h->timeout_ms = (long)o[O_TIMEOUT].i;
    h->flush_timeout = o[O_FLUSH_TIMEOUT].d / 1000.0;
    h->queue_size = o[O_QUEUE_SIZE].i;
    h->batch_size = o[O_BATCH_SIZE].i;
    /* room beyond queue_size for the sender to spool the excess from
     * without making log wait */
    h->ring_max = h->queue_size + (h->queue_size / 4 < 65536 ? h->queue_size / 4 : 65536) + 1024;
    h->max_delay = o[O_MAX_DELAY].d / 1000.0;
    h->retries = o[O_RETRIES].i;
    h->retry_initial = o[O_RETRY_INITIAL].d / 1000.0;
    h->retry_max = o[O_RETRY_MAX].d / 1000.0;
    h->url = hstrdup(host, url);
    h->url_shown = shown_url(host, url);
    h->spool_dir = hstrdup(host, o[O_SPOOL_DIR].text ? o[O_SPOOL_DIR].text : "tropt-spool");
    if (!h->url || !h->url_shown || !h->spool_dir)
        goto oom;
    if (o[O_MEASUREMENT].text && !(h->measurement = hstrdup(host, o[O_MEASUREMENT].text)))
        goto oom;
    if (o[O_CA_FILE].text && !(h->ca_file = hstrdup(host, o[O_CA_FILE].text)))
        goto oom;
    if (o[O_TAGS].text && *o[O_TAGS].text) {
        tev_buf tb;
        tev_buf_init(&tb, host->realloc, host->free);
        int bad = influx_tags(&tb, o[O_TAGS].text);
        if (bad) {
            tev_buf_free(&tb);
            if (bad < 0)
                goto oom;
            rc = host->error(TROPT_EINVAL, "tags: entry %d is not key=value", bad);
            goto fail;
        }
        h->tags = tev_buf_steal(&tb);
    }

    if (add_header(h, h->influx ? "Content-Type: text/plain; charset=utf-8"
                                : "Content-Type: application/x-ndjson") != 0 ||
        add_header(h, "Expect:") != 0)
        goto oom;
    if (o[O_TOKEN_ENV].text && *o[O_TOKEN_ENV].text) {
        const char *tok = getenv(o[O_TOKEN_ENV].text);
        if (!tok || !*tok) {
            rc = host->error(TROPT_EINVAL, "token_env: environment variable %s is not set or empty",
                             o[O_TOKEN_ENV].text);
            goto fail;
        }
        size_t n = strlen(tok) + 32;
        char *line = host->malloc(n);
        if (!line)
            goto oom;
        snprintf(line, n, "Authorization: Bearer %s", tok);
        int bad = add_header(h, line);
        memset(line, 0, n);
        host->free(line);
        if (bad)
            goto oom;
    }
    if (o[O_HEADERS].text && *o[O_HEADERS].text) {
        const char *p = o[O_HEADERS].text;
        int idx = 1;
        while (*p) {
            size_t len = strcspn(p, "|");
            char *one = hmemdup(host, p, len);
            if (!one)
                goto oom;
            const char *colon = strchr(one, ':');
            int bad = !colon || colon == one || strpbrk(one, "\r\n") != NULL;
            if (!bad && add_header(h, one) != 0) {
                memset(one, 0, len);
                host->free(one);
                goto oom;
            }
            memset(one, 0, len);
            host->free(one);
            if (bad) {
                rc = host->error(TROPT_EINVAL, "headers: entry %d is not \"Name: value\"", idx);
                goto fail;
            }
            p += len;
            if (*p == '|')
                p++;
            idx++;
        }
    }
    h->multi = curl_multi_init();
    if (!h->multi)
        goto oom;
    if (!(h->wchunk = host->malloc(sizeof(chunk) + CHUNK_BYTES)))
        goto oom;
    h->wchunk->next = NULL;
    h->wchunk->cap = CHUNK_BYTES;
    h->wchunk->used = 0;
    h->hchunk = h->wchunk;
    if (pthread_create(&h->thread, NULL, sender_main, h) != 0) {
        rc = host->error(TROPT_EBACKEND, "cannot start the sender thread: %s", strerror(errno));
        goto fail;
    }
    h->thread_started = 1;
    *self = h;
    return TROPT_OK;
oom:
    rc = host->error(TROPT_ENOMEM, "out of memory");
fail:
    http_destroy(h);
    return rc;
}

/* A run record for this run id: the open run, or (a log without init) a
 * stray one without run_start.  mu held; NULL when out of memory. */
static run_rec *run_of(http *h, const tropt_run *run)
{
    if (h->cur && strcmp(h->cur->run_id, run->run_id) == 0)
        return h->cur;
    if (h->stray && strcmp(h->stray->run_id, run->run_id) == 0)
        return h->stray;
    run_rec *r = h->host->malloc(sizeof *r);
    if (!r)
        return NULL;
    memset(r, 0, sizeof *r);
    r->refs = 1;
    if (!(r->run_id = hstrdup(h->host, run->run_id)) ||
        !(r->experiment = hstrdup(h->host, run->experiment ? run->experiment : ""))) {
        run_unref(h, r, 1);
        return NULL;
    }
    run_unref(h, h->stray, 1);
    h->stray = r;
    return r;
}

static int http_init(void *self, const tropt_run *run, const json_t *config,
                     const tropt_field *params, size_t n_params)
{
    http *h = self;
    (void)params;
    (void)n_params;
    tev_buf line;
    tev_buf_init(&line, h->host->realloc, h->host->free);
    run_rec *r = h->host->malloc(sizeof *r);
    if (!r)
        return h->host->error(TROPT_ENOMEM, "out of memory");
    memset(r, 0, sizeof *r);
    r->refs = 1; /* h->cur */
    if (tev_encode_run_start(&line, run, config, h->host->format_real) != 0 ||
        !(r->run_id = hstrdup(h->host, run->run_id)) ||
        !(r->experiment = hstrdup(h->host, run->experiment ? run->experiment : ""))) {
        tev_buf_free(&line);
        h->host->free(r->run_id);
        h->host->free(r);
        return h->host->error(TROPT_ENOMEM, "out of memory");
    }
    r->start_len = line.len;
    r->start_line = tev_buf_steal(&line);
    pthread_mutex_lock(&h->mu);
    run_unref(h, h->cur, 1);
    h->cur = r;
    int rc = put_event(h, r, TEV_RUN_START);
    if (rc == TROPT_OK)
        rc = take_pending(h);
    else
        rc = h->host->error(rc, "out of memory");
    pthread_mutex_unlock(&h->mu);
    return rc;
}

/* The caller's step goes to the spool at once (the ring stayed full). */
static int log_direct(http *h, run_rec *r, int64_t step, double time, const tropt_field *fields,
                      size_t n)
{
    tev_buf line;
    tev_buf_init(&line, h->host->realloc, h->host->free);
    if (tev_encode_log(&line, r->run_id, step, time, fields, n, h->host->format_real) != 0)
        return TROPT_ENOMEM;
    spool_direct(h, r, TEV_LOG, line.data, line.len, "queue full");
    tev_buf_free(&line);
    return TROPT_OK;
}

static int http_log(void *self, const tropt_run *run, int64_t step, double time,
                    const tropt_field *fields, size_t n)
{
    http *h = self;
    size_t size = sizeof(rec) + n * sizeof(val);
    int has_json = 0;
    for (size_t i = 0; i < n; i++) {
        if (fields[i].type == TROPT_STRING && fields[i].v.s)
            size += strlen(fields[i].v.s) + 1;
        else if (fields[i].type == TROPT_JSON)
            has_json = 1;
    }
    size = (size + 7) & ~(size_t)7;
    if (size > UINT32_MAX / 2)
        return h->host->error(TROPT_EINVAL, "a step of %zu bytes is too large", size);

    pthread_mutex_lock(&h->mu);
    int rc = TROPT_OK;
    run_rec *r = run_of(h, run);
    keyset *ks = r ? keyset_of(h, fields, n) : NULL;
    rec *p = NULL;
    if (!ks)
        rc = TROPT_ENOMEM;
    else if (!ring_room(h))
        rc = log_direct(h, r, step, time, fields, n);
    else if (!(p = ring_reserve(h, size)))
        rc = TROPT_ENOMEM;
    if (p) {
        p->size = (uint32_t)size;
        p->kind = TEV_LOG;
        p->has_json = (uint16_t)has_json;
        p->n = (uint32_t)n;
        p->unused = 0;
        p->run = r;
        p->ks = ks;
        p->step = step;
        p->time = time;
        p->enq = now_mono();
        val *v = REC_VALS(p);
        char *sp = (char *)(v + n);
        for (size_t i = 0; i < n; i++) {
            const tropt_field *f = &fields[i];
            switch (f->type) {
            case TROPT_BOOL:
                v[i].i = f->v.b;
                break;
            case TROPT_INT:
                v[i].i = f->v.i;
                break;
            case TROPT_REAL:
                v[i].r = f->v.r;
                break;
            case TROPT_STRING:
                v[i].off = 0;
                if (f->v.s) {
                    size_t l = strlen(f->v.s) + 1;
                    memcpy(sp, f->v.s, l);
                    v[i].off = (size_t)(sp - (char *)p);
                    sp += l;
                }
                break;
            case TROPT_JSON:
                v[i].json = json_deep_copy(f->v.json);
                if (!v[i].json) {
                    while (i-- > 0)
                        if (fields[i].type == TROPT_JSON)
                            json_decref(v[i].json);
                    p = NULL;
                    rc = TROPT_ENOMEM;
                    i = n;
                }
                break;
            default:
                v[i].i = 0;
            }
        }
    }
    if (p) {
        r->refs++;
        ks->refs++;
        ring_commit(h, p);
    }
    if (rc == TROPT_OK)
        rc = take_pending(h);
    else
        rc = h->host->error(rc, "out of memory");
    pthread_mutex_unlock(&h->mu);
    return rc;
}

static int http_finish(void *self, const tropt_run *run, const char *status, double ended_at,
                       const json_t *summary, const tropt_field *flat, size_t n_flat)
{
    http *h = self;
    (void)flat;
    (void)n_flat;
    pthread_mutex_lock(&h->mu);
    run_rec *r = run_of(h, run);
    if (!r) {
        pthread_mutex_unlock(&h->mu);
        return h->host->error(TROPT_ENOMEM, "out of memory");
    }
    r->refs++;
    int queued = r->end_queued;
    pthread_mutex_unlock(&h->mu);

    if (!queued) {
        tev_buf line;
        tev_buf_init(&line, h->host->realloc, h->host->free);
        int bad = tev_encode_run_end(&line, run->run_id, ended_at, status, summary,
                                     h->host->format_real) != 0;
        pthread_mutex_lock(&h->mu);
        if (!bad) {
            h->host->free(r->end_line);
            r->end_len = line.len;
            r->end_line = tev_buf_steal(&line);
            bad = put_event(h, r, TEV_RUN_END) != TROPT_OK;
        }
        if (bad) {
            run_unref(h, r, 1);
            pthread_mutex_unlock(&h->mu);
            tev_buf_free(&line);
            return h->host->error(TROPT_ENOMEM, "out of memory");
        }
        r->end_queued = 1;
        pthread_mutex_unlock(&h->mu);
    }

    pthread_mutex_lock(&h->mu);
    drain(h);
    pthread_mutex_lock(&h->spool_mu);
    int need_end = r->start_spooled && !r->end_spooled && r->end_line;
    pthread_mutex_unlock(&h->spool_mu);
    if (need_end)
        spool_direct(h, r, TEV_RUN_END, r->end_line, r->end_len, "run closed");
    sync_spool(h);
    pthread_mutex_lock(&h->spool_mu);
    int64_t spooled = r->n_spooled;
    pthread_mutex_unlock(&h->spool_mu);
    int rc = take_pending(h);
    if (rc == TROPT_OK && spooled > 0)
        h->host->log(TROPT_LEVEL_WARNING,
                     "http: %" PRId64 " events of run %s were not delivered to %s and are safe "
                     "in the spool %s; send them with: tropt replay %s --tracker "
                     "'http:url=%s'",
                     spooled, run->run_id, h->url_shown, h->spool_path ? h->spool_path : "",
                     h->spool_dir, h->url_shown);
    /* After a failure the host keeps the run open and may call finish
     * again: keep the record so that call only drains. */
    if (rc == TROPT_OK && h->cur == r) {
        run_unref(h, h->cur, 1);
        h->cur = NULL;
    } else if (rc == TROPT_OK && h->stray == r) {
        run_unref(h, h->stray, 1);
        h->stray = NULL;
    }
    run_unref(h, r, 1);
    pthread_mutex_unlock(&h->mu);
    return rc;
}

static int http_flush(void *self)
{
    http *h = self;
    pthread_mutex_lock(&h->mu);
    if (drain(h)) {
        pthread_mutex_lock(&h->spool_mu);
        if (h->spool_path)
            h->host->log(TROPT_LEVEL_WARNING,
                         "http: flush: events not delivered to %s within flush_timeout are in "
                         "the spool %s",
                         h->url_shown, h->spool_path);
        pthread_mutex_unlock(&h->spool_mu);
    }
    sync_spool(h);
    int rc = take_pending(h);
    pthread_mutex_unlock(&h->mu);
    return rc;
}

static void http_destroy(void *self)
{
    http *h = self;
    if (!h)
        return;
    if (h->thread_started) {
        pthread_mutex_lock(&h->mu);
        drain(h);
        sync_spool(h);
        if (h->pending_code != TROPT_OK)
            h->host->log(TROPT_LEVEL_ERROR, "http: %s", h->pending_msg);
        h->stop = 1;
        /* a request still in flight (drain gave up on it) is abandoned too:
         * the join below never waits for the network */
        atomic_store(&h->abort_send, 1);
        wake_sender(h);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->thread, NULL);
    }
    /* records the sender could not take (it spools everything before it
     * stops, so only after a failed start) */
    for (int64_t k = h->tail_seq - h->head_seq; k > 0; k--) {
        rec *p = (rec *)(h->hchunk->data + h->hoff);
        if (p->size == 0) {
            chunk *c = h->hchunk;
            h->hchunk = c->next;
            h->hoff = 0;
            h->host->free(c);
            p = (rec *)h->hchunk->data;
        }
        h->hoff += p->size;
        rec_drop_json(p);
        run_unref(h, p->run, 1);
        ks_unref(h, p->ks, 1);
    }
    while (h->hchunk) { /* up to the write chunk */
        chunk *c = h->hchunk;
        h->hchunk = c->next;
        h->host->free(c);
    }
    while (h->free_chunks) {
        chunk *c = h->free_chunks;
        h->free_chunks = c->next;
        h->host->free(c);
    }
    run_unref(h, h->cur, 1);
    run_unref(h, h->stray, 1);
    ks_unref(h, h->ks, 1);
    if (h->multi)
        curl_multi_cleanup(h->multi);
    for (struct curl_slist *s = h->headers; s; s = s->next)
        memset(s->data, 0, strlen(s->data)); /* the token must not linger */
    curl_slist_free_all(h->headers);
    if (h->spool_fd >= 0)
        close(h->spool_fd);
    h->host->free(h->spool_path);
    h->host->free(h->url);
    h->host->free(h->url_shown);
    h->host->free(h->spool_dir);
    h->host->free(h->measurement);
    h->host->free(h->ca_file);
    h->host->free(h->tags);
    pthread_cond_destroy(&h->wake);
    pthread_cond_destroy(&h->done);
    pthread_cond_destroy(&h->room);
    pthread_mutex_destroy(&h->spool_mu);
    pthread_mutex_destroy(&h->mu);
    curl_global_cleanup();
    h->host->free(h);
}

static const tropt_plugin http_plugin = {
    .abi_version = TROPT_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(tropt_plugin),
    .name = "http",
    .description = "send runs to a tracking server (NDJSON events or InfluxDB line protocol)",
    .options = http_options,
    .create = http_create,
    .init = http_init,
    .log = http_log,
    .finish = http_finish,
    .flush = http_flush,
    .destroy = http_destroy,
};

TROPT_PLUGIN_EXPORT const tropt_plugin *tropt_plugin_entry(void)
{
    return &http_plugin;
}
