/*
 * plugins/http/http.c - the http backend: sends each run's events to a
 * tracking server (NDJSON events or InfluxDB line protocol) from a
 * background thread, spooling to disk what it cannot deliver.
 *
 * Flow.  The hooks encode each event on the caller's thread and append it to
 * a bounded in-memory queue; they never touch the network.  One sender
 * thread per instance takes batches off the queue (batch_size events, or
 * fewer once the oldest has waited max_delay, or at once on flush/finish),
 * POSTs them in order and retries connection errors, timeouts, 5xx and 429
 * with exponential backoff and jitter (honouring Retry-After).  Other
 * statuses are not retried: the batch goes to the spool and the error is
 * returned by the next hook call.
 *
 * Spool.  Events the queue cannot take (full), batches that exhausted their
 * retries (the server is then treated as down: one attempt per batch until
 * one succeeds) and whatever finish could not deliver within flush_timeout
 * are appended, in the NDJSON event format, to one spool file per instance
 * in spool_dir.  A run whose events reach the spool gets its run_start and
 * run_end written there too, so every spool file replays on its own with
 * `tropt replay`.  Only an event neither delivered nor spooled is an error.
 *
 * Threads.  All shared state is under `mu`.  The sender holds no lock while
 * on the network.  destroy() drains (bounded by flush_timeout), stops and
 * joins the sender, so the thread never outlives the module.
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
    [O_QUEUE_SIZE] = {"queue_size", TROPT_OPT_INT, TROPT_OPT_HAS_RANGE, "10000", NULL, 1, 100000000,
                      "events held in memory; beyond it events go to the spool"},
    [O_BATCH_SIZE] = {"batch_size", TROPT_OPT_INT, TROPT_OPT_HAS_RANGE, "500", NULL, 1, 1000000,
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
    int refs;
    char *run_id;
    char *start_line; /* NDJSON run_start, for the spool */
    size_t start_len;
    int start_spooled;
    int end_spooled;
    int end_queued; /* finish enqueued the run_end (a retried finish only drains) */
    int64_t n_spooled;
} run_rec;

typedef struct item {
    struct item *next;
    char *line; /* NDJSON event, '\n'-terminated */
    size_t len;
    char *wire; /* influx text (may be empty) or NULL: send `line` */
    size_t wire_len;
    run_rec *run;
    int kind; /* TEV_RUN_START, TEV_LOG, TEV_RUN_END */
    double enq;
} item;

typedef struct http {
    const tropt_host *host;
    /* configuration */
    char *url;
    char *url_shown; /* without user info and query: safe in messages */
    int influx;
    long timeout_ms;
    double flush_timeout;
    int64_t queue_size;
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
    pthread_cond_t done; /* from the sender: a batch finished */
    item *head, *tail;
    int64_t count;
    int64_t inflight;
    int flush_req;
    atomic_int abort_send; /* finish gave up waiting: abandon the request */
    int stop;
    int down;     /* a batch exhausted its retries; until one succeeds */
    CURLM *multi; /* owned by the sender; set once before it starts */
    run_rec *cur;

    /* spool */
    char *spool_path;
    int spool_fd;
    int spool_dirty;
    int warned_full;

    /* to report at the next hook call */
    int pending_code;
    char pending_msg[512];
    int64_t n_lost;
    int warned_nonfinite;
    unsigned rng;
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

static void run_unref(http *h, run_rec *r)
{
    if (r && --r->refs == 0) {
        h->host->free(r->run_id);
        h->host->free(r->start_line);
        h->host->free(r);
    }
}

static void item_free(http *h, item *it)
{
    if (!it)
        return;
    run_unref(h, it->run);
    h->host->free(it->line);
    h->host->free(it->wire);
    h->host->free(it);
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

/* ---- spool (called with mu held) -------------------------------------- */

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

/* An event neither delivered nor spooled: count it and report it. */
static void lose(http *h, const char *why, int err)
{
    h->n_lost++;
    set_pending(h, TROPT_EBACKEND,
                "%" PRId64 " events neither delivered to %s (%s) nor spooled to %s: %s", h->n_lost,
                h->url_shown, why, h->spool_dir, strerror(err));
}

/* Append one event to the spool (its run's run_start first if missing).
 * Returns 0, or an errno value. */
static int spool_item(http *h, item *it)
{
    run_rec *r = it->run;
    int e = 0;
    if (spool_open(h) != 0)
        e = errno;
    else if (r && !r->start_spooled && it->kind != TEV_RUN_START &&
             write_all(h->spool_fd, r->start_line, r->start_len) != 0)
        e = errno;
    else if (write_all(h->spool_fd, it->line, it->len) != 0)
        e = errno;
    if (e)
        return e;
    h->spool_dirty = 1;
    if (r) {
        r->start_spooled = 1;
        if (it->kind == TEV_RUN_END)
            r->end_spooled = 1;
        r->n_spooled++;
    }
    return 0;
}

/* Spool, or count the event lost. */
static void spool_or_lose(http *h, item *it, const char *why)
{
    int e = spool_item(h, it);
    if (e)
        lose(h, why, e);
}

/* ---- the sender ------------------------------------------------------- */

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

/* One POST.  *retry_after: seconds the server asked to wait (or -1). */
static send_result post_once(http *h, CURL *e, const char *body, size_t len, char *why,
                             size_t whysz, double *retry_after)
{
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
        curl_multi_poll(h->multi, NULL, 0, 100, NULL);
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
static send_result send_batch(http *h, CURL *e, const char *body, size_t len, int down, char *why,
                              size_t whysz)
{
    int64_t attempt = 0;
    for (;;) {
        double retry_after;
        send_result r = post_once(h, e, body, len, why, whysz, &retry_after);
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
        while (!atomic_load(&h->abort_send) && !h->stop && now_mono() < until)
            cond_wait_until(&h->wake, &h->mu, until);
        int aborted = atomic_load(&h->abort_send) || h->stop;
        pthread_mutex_unlock(&h->mu);
        if (aborted) {
            snprintf(why + strlen(why), whysz - strlen(why), "; gave up retrying");
            return SEND_ABORTED;
        }
    }
}

static void *sender_main(void *arg)
{
    http *h = arg;
    tev_buf body;
    tev_buf_init(&body, h->host->realloc, h->host->free);
    CURL *e = curl_easy_init();
    if (e) {
        curl_easy_setopt(e, CURLOPT_URL, h->url);
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, h->headers);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, h->timeout_ms);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, h->timeout_ms);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
        if (h->ca_file)
            curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_file);
    }

    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (!h->head && !h->stop)
            pthread_cond_wait(&h->wake, &h->mu);
        if (h->stop) {
            /* destroy drained the queue already; keep anything left */
            while (h->head) {
                item *it = h->head;
                h->head = it->next;
                h->count--;
                spool_or_lose(h, it, "shutting down");
                item_free(h, it);
            }
            h->tail = NULL;
            break;
        }
        /* gather a fuller batch unless someone waits for delivery */
        while (h->head && h->count < h->batch_size && !h->flush_req && !h->stop &&
               !atomic_load(&h->abort_send)) {
            double until = h->head->enq + h->max_delay;
            if (now_mono() >= until)
                break;
            cond_wait_until(&h->wake, &h->mu, until);
        }
        if (h->stop)
            continue; /* handled at the top */
        if (atomic_load(&h->abort_send) || !h->head) {
            /* drain() is spooling the queue itself; it clears the flag and
             * broadcasts when done */
            if (atomic_load(&h->abort_send))
                pthread_cond_wait(&h->wake, &h->mu);
            continue;
        }
        item *batch = h->head, *last = h->head;
        int64_t n = 1;
        while (n < h->batch_size && last->next) {
            last = last->next;
            n++;
        }
        h->head = last->next;
        if (!h->head)
            h->tail = NULL;
        last->next = NULL;
        h->count -= n;
        h->inflight = n;
        int down = h->down;
        pthread_mutex_unlock(&h->mu);

        tev_buf_clear(&body);
        int oom = 0;
        for (item *it = batch; it; it = it->next) {
            const char *p = it->wire ? it->wire : it->line;
            size_t l = it->wire ? it->wire_len : it->len;
            if (tev_buf_append(&body, p, l) != 0)
                oom = 1;
        }
        char why[400] = "";
        send_result r;
        if (!e || oom) {
            snprintf(why, sizeof why, "out of memory");
            r = SEND_RETRY;
        } else if (body.len == 0)
            r = SEND_OK;
        else
            r = send_batch(h, e, body.data, body.len, down, why, sizeof why);

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
                            h->url_shown, n, why, h->spool_dir);
            for (item *it = batch; it; it = it->next)
                spool_or_lose(h, it, why);
        }
        while (batch) {
            item *nx = batch->next;
            item_free(h, batch);
            batch = nx;
        }
        h->inflight = 0;
        pthread_cond_broadcast(&h->done);
    }
    pthread_mutex_unlock(&h->mu);
    if (e)
        curl_easy_cleanup(e);
    tev_buf_free(&body);
    return NULL;
}

/* ---- queue (called with mu held) -------------------------------------- */

/* Queue an event, or spool it when the queue is full. */
static void enqueue(http *h, item *it)
{
    if (h->count < h->queue_size) {
        it->enq = now_mono();
        if (h->tail)
            h->tail->next = it;
        else
            h->head = it;
        h->tail = it;
        h->count++;
        if (h->count >= h->batch_size || h->count == 1)
            pthread_cond_signal(&h->wake);
        return;
    }
    if (!h->warned_full) {
        h->warned_full = 1;
        h->host->log(TROPT_LEVEL_WARNING,
                     "http: queue full (%" PRId64 " events waiting for %s); spooling to %s",
                     h->count, h->url_shown, h->spool_dir);
    }
    int e = spool_item(h, it);
    if (e == 0) {
        item_free(h, it);
        return;
    }
    /* spooling is impossible: wait (bounded) for room in the queue */
    double until = now_mono() + h->flush_timeout;
    while (h->count >= h->queue_size && now_mono() < until)
        cond_wait_until(&h->done, &h->mu, until);
    if (h->count < h->queue_size) {
        it->enq = now_mono();
        if (h->tail)
            h->tail->next = it;
        else
            h->head = it;
        h->tail = it;
        h->count++;
        pthread_cond_signal(&h->wake);
        return;
    }
    lose(h, "queue full", e);
    item_free(h, it);
}

/* Wait until everything queued is delivered or spooled, at most
 * flush_timeout; then abandon the request in flight and spool the rest.
 * Returns 1 when it had to give up waiting. */
static int drain(http *h)
{
    double until = now_mono() + h->flush_timeout;
    h->flush_req++;
    pthread_cond_broadcast(&h->wake);
    while ((h->head || h->inflight) && now_mono() < until)
        cond_wait_until(&h->done, &h->mu, until);
    h->flush_req--;
    if (!h->head && !h->inflight)
        return 0;
    atomic_store(&h->abort_send, 1);
    pthread_cond_broadcast(&h->wake);
    curl_multi_wakeup(h->multi);
    double hard = now_mono() + 2.0;
    while (h->inflight && now_mono() < hard)
        cond_wait_until(&h->done, &h->mu, hard);
    while (h->head) {
        item *it = h->head;
        h->head = it->next;
        h->count--;
        spool_or_lose(h, it, "not delivered within flush_timeout");
        item_free(h, it);
    }
    h->tail = NULL;
    atomic_store(&h->abort_send, 0);
    pthread_cond_broadcast(&h->wake);
    return 1;
}

static int sync_spool(http *h)
{
    if (h->spool_fd >= 0 && h->spool_dirty) {
        if (fsync(h->spool_fd) != 0) {
            set_pending(h, TROPT_EBACKEND, "cannot sync spool %s: %s", h->spool_path,
                        strerror(errno));
            return -1;
        }
        h->spool_dirty = 0;
    }
    return 0;
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
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->wake, &ca);
    pthread_cond_init(&h->done, &ca);
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

static item *new_item(http *h, tev_buf *line, tev_buf *wire, int kind)
{
    item *it = h->host->malloc(sizeof *it);
    if (!it)
        return NULL;
    memset(it, 0, sizeof *it);
    it->kind = kind;
    it->len = line->len;
    it->line = tev_buf_steal(line);
    if (wire) {
        it->wire_len = wire->len;
        it->wire = tev_buf_steal(wire);
        if (!it->wire) { /* nothing to send: an empty string */
            it->wire = h->host->malloc(1);
            if (!it->wire) {
                h->host->free(it->line);
                h->host->free(it);
                return NULL;
            }
            it->wire[0] = '\0';
        }
    }
    return it;
}

static int http_init(void *self, const tropt_run *run, const json_t *config,
                     const tropt_field *params, size_t n_params)
{
    http *h = self;
    (void)params;
    (void)n_params;
    tev_buf line, wire;
    tev_buf_init(&line, h->host->realloc, h->host->free);
    tev_buf_init(&wire, h->host->realloc, h->host->free);
    run_rec *r = h->host->malloc(sizeof *r);
    if (!r)
        return h->host->error(TROPT_ENOMEM, "out of memory");
    memset(r, 0, sizeof *r);
    r->refs = 1;
    item *it = NULL;
    if (tev_encode_run_start(&line, run, config, h->host->format_real) != 0 ||
        !(r->run_id = hstrdup(h->host, run->run_id)) ||
        !(r->start_line = hmemdup(h->host, line.data, line.len)))
        goto oom;
    r->start_len = line.len;
    if (!(it = new_item(h, &line, h->influx ? &wire : NULL, TEV_RUN_START)))
        goto oom;
    pthread_mutex_lock(&h->mu);
    if (h->cur)
        run_unref(h, h->cur);
    h->cur = r;
    r->refs++;
    it->run = r;
    enqueue(h, it);
    int rc = take_pending(h);
    pthread_mutex_unlock(&h->mu);
    return rc;
oom:
    tev_buf_free(&line);
    tev_buf_free(&wire);
    h->host->free(r->run_id);
    h->host->free(r->start_line);
    h->host->free(r);
    return h->host->error(TROPT_ENOMEM, "out of memory");
}

static int http_log(void *self, const tropt_run *run, int64_t step, double time,
                    const tropt_field *fields, size_t n)
{
    http *h = self;
    tev_buf line, wire;
    tev_buf_init(&line, h->host->realloc, h->host->free);
    tev_buf_init(&wire, h->host->realloc, h->host->free);
    size_t skipped = 0;
    if (tev_encode_log(&line, run->run_id, step, time, fields, n, h->host->format_real) != 0)
        goto oom;
    if (h->influx) {
        const char *m = h->measurement ? h->measurement : run->experiment;
        if (influx_encode_log(&wire, m, run->run_id, h->tags, step, time, fields, n,
                              h->host->format_real, &skipped) != 0)
            goto oom;
    }
    item *it = new_item(h, &line, h->influx ? &wire : NULL, TEV_LOG);
    if (!it)
        goto oom;
    pthread_mutex_lock(&h->mu);
    if (skipped && !h->warned_nonfinite) {
        h->warned_nonfinite = 1;
        h->host->log(TROPT_LEVEL_WARNING,
                     "http: format=influx cannot carry null, NaN or infinite values; such "
                     "fields are left out of the points (the spool and ndjson keep them)");
    }
    if (h->cur && strcmp(h->cur->run_id, run->run_id) == 0) {
        it->run = h->cur;
        h->cur->refs++;
    }
    enqueue(h, it);
    int rc = take_pending(h);
    pthread_mutex_unlock(&h->mu);
    return rc;
oom:
    tev_buf_free(&line);
    tev_buf_free(&wire);
    return h->host->error(TROPT_ENOMEM, "out of memory");
}

static int http_finish(void *self, const tropt_run *run, const char *status, double ended_at,
                       const json_t *summary, const tropt_field *flat, size_t n_flat)
{
    http *h = self;
    (void)flat;
    (void)n_flat;
    tev_buf line, wire;
    tev_buf_init(&line, h->host->realloc, h->host->free);
    tev_buf_init(&wire, h->host->realloc, h->host->free);
    run_rec *r = NULL;
    pthread_mutex_lock(&h->mu);
    if (h->cur && strcmp(h->cur->run_id, run->run_id) == 0) {
        r = h->cur;
        r->refs++;
    }
    pthread_mutex_unlock(&h->mu);

    char *end_copy = NULL;
    size_t end_len = 0;
    if (!r || !r->end_queued) {
        item *it;
        if (tev_encode_run_end(&line, run->run_id, ended_at, status, summary,
                               h->host->format_real) != 0 ||
            !(end_copy = hmemdup(h->host, line.data, line.len)) ||
            !(it = new_item(h, &line, h->influx ? &wire : NULL, TEV_RUN_END))) {
            tev_buf_free(&line);
            h->host->free(end_copy);
            pthread_mutex_lock(&h->mu);
            run_unref(h, r);
            pthread_mutex_unlock(&h->mu);
            return h->host->error(TROPT_ENOMEM, "out of memory");
        }
        end_len = it->len;
        pthread_mutex_lock(&h->mu);
        if (r) {
            it->run = r;
            r->refs++;
            r->end_queued = 1;
        }
        enqueue(h, it);
        pthread_mutex_unlock(&h->mu);
    }

    pthread_mutex_lock(&h->mu);
    drain(h);
    if (r && r->start_spooled && !r->end_spooled && end_copy) {
        item tmp = {.line = end_copy, .len = end_len, .run = r, .kind = TEV_RUN_END};
        spool_or_lose(h, &tmp, "run closed");
    }
    sync_spool(h);
    int64_t spooled = r ? r->n_spooled : 0;
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
    if (rc == TROPT_OK && r && h->cur == r) {
        run_unref(h, h->cur);
        h->cur = NULL;
    }
    run_unref(h, r);
    pthread_mutex_unlock(&h->mu);
    h->host->free(end_copy);
    return rc;
}

static int http_flush(void *self)
{
    http *h = self;
    pthread_mutex_lock(&h->mu);
    if (drain(h) && h->spool_path)
        h->host->log(TROPT_LEVEL_WARNING,
                     "http: flush: events not delivered to %s within flush_timeout are in "
                     "the spool %s",
                     h->url_shown, h->spool_path);
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
        pthread_cond_broadcast(&h->wake);
        curl_multi_wakeup(h->multi);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->thread, NULL);
    }
    while (h->head) {
        item *it = h->head;
        h->head = it->next;
        item_free(h, it);
    }
    run_unref(h, h->cur);
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
