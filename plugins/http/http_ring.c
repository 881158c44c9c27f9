/*
 * plugins/http/http_ring.c - the http backend's shared helpers, the ring of
 * raw records (log appends, the sender takes) and waiting for delivery.
 * See http_priv.h.
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

#include "http_priv.h"

double hp_now_mono(void)
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

void hp_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, double mono_deadline)
{
    struct timespec ts;
    deadline_ts(&ts, mono_deadline);
    pthread_cond_timedwait(c, m, &ts);
}

/* mu held (or the sender joined). */
void hp_run_unref(http *h, run_rec *r, int64_t k)
{
    if (r && (r->refs -= k) == 0) {
        h->host->free(r->run_id);
        h->host->free(r->experiment);
        h->host->free(r->influx_tags);
        h->host->free(r->start_line);
        h->host->free(r->end_line);
        h->host->free(r);
    }
}

void hp_ks_unref(http *h, keyset *ks, int64_t k)
{
    if (ks && (ks->refs -= k) == 0)
        h->host->free(ks);
}

void hp_set_pending(http *h, int code, const char *fmt, ...) TROPT_PRINTF(3, 4);
void hp_set_pending(http *h, int code, const char *fmt, ...)
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
void hp_lose(http *h, const char *why, int err, int64_t k)
{
    h->n_lost += k;
    if (h->no_spool) {
        hp_set_pending(h, TROPT_EBACKEND,
                       "%" PRId64 " events not delivered to %s (%s); spool=off keeps no copy",
                       h->n_lost, h->url_shown, why);
        return;
    }
    hp_set_pending(h, TROPT_EBACKEND,
                   "%" PRId64 " events neither delivered to %s (%s) nor spooled to %s: %s",
                   h->n_lost, h->url_shown, why, h->spool_dir, strerror(err));
}

/* Wake the sender wherever it waits.  mu held. */
void hp_wake_sender(http *h)
{
    pthread_cond_broadcast(&h->wake);
    if (h->multi)
        curl_multi_wakeup(h->multi);
}

/* ---- the ring (mu held) ----------------------------------------------- */

/* Room for a record of `size` bytes at the ring's tail, or NULL. */
rec *hp_ring_reserve(http *h, size_t size)
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
void hp_ring_commit(http *h, rec *p)
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
int hp_ring_room(http *h)
{
    if (h->tail_seq - h->head_seq < h->ring_max)
        return 1;
    hp_wake_sender(h);
    double until = hp_now_mono() + h->flush_timeout;
    h->room_waiters++;
    while (h->tail_seq - h->head_seq >= h->ring_max && !h->stop && hp_now_mono() < until)
        hp_cond_wait_until(&h->room, &h->mu, until);
    h->room_waiters--;
    return h->tail_seq - h->head_seq < h->ring_max;
}

/* Queue a run_start or run_end of r (its line is in r).  Returns TROPT_OK
 * or TROPT_ENOMEM. */
int hp_put_event(http *h, run_rec *r, int kind)
{
    if (!hp_ring_room(h)) {
        if (kind == TEV_RUN_START)
            hp_spool_direct(h, r, kind, r->start_line, r->start_len, "queue full");
        else
            hp_spool_direct(h, r, kind, r->end_line, r->end_len, "queue full");
        return TROPT_OK;
    }
    rec *p = hp_ring_reserve(h, sizeof(rec));
    if (!p)
        return TROPT_ENOMEM;
    memset(p, 0, sizeof *p);
    p->size = sizeof(rec);
    p->kind = (uint16_t)kind;
    p->run = r;
    p->enq = hp_now_mono();
    r->refs++;
    hp_ring_commit(h, p);
    return TROPT_OK;
}

/* The key set of these fields: the last one when it matches, else a new
 * one.  NULL when out of memory. */
keyset *hp_keyset_of(http *h, const tropt_field *f, size_t n)
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
    hp_ks_unref(h, h->ks, 1);
    h->ks = ks;
    return ks;
}

const rec *hp_head_rec(const http *h)
{
    const rec *p = (const rec *)(h->hchunk->data + h->hoff);
    return p->size ? p : (const rec *)h->hchunk->next->data;
}

/* Drop a record's references (JSON copies here; runs and key sets are
 * counted by the caller). */
void hp_rec_drop_json(const rec *p)
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
        hp_run_unref(h, rf->run, rf->nrun);
        rf->run = r;
        rf->nrun = 0;
    }
    rf->nrun++;
    if (ks != rf->ks) {
        hp_ks_unref(h, rf->ks, rf->nks);
        rf->ks = ks;
        rf->nks = 0;
    }
    rf->nks++;
}

static void refs_done(http *h, refs *rf)
{
    hp_run_unref(h, rf->run, rf->nrun);
    hp_ks_unref(h, rf->ks, rf->nks);
    memset(rf, 0, sizeof *rf);
}

/* Take up to max records off the ring's head into b (appended).  Returns
 * how many left the ring; a record that cannot be copied (out of memory) is dropped and
 * counted lost. */
int64_t hp_take(http *h, batch *b, int64_t max)
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
        if (tropt_host_grow(h->host, (void **)&b->raw, &b->cap, b->len + p->size, 1) != 0) {
            hp_rec_drop_json(p);
            pthread_mutex_lock(&h->mu);
            hp_run_unref(h, p->run, 1);
            hp_ks_unref(h, p->ks, 1);
            pthread_mutex_unlock(&h->mu);
            dropped++;
            continue;
        }
        memcpy(b->raw + b->len, p, p->size);
        b->len += p->size;
        taken++;
    }
    pthread_mutex_lock(&h->mu);
    if (dropped)
        hp_lose(h, "out of memory", ENOMEM, dropped);
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
void hp_release(http *h, batch *b)
{
    refs rf = {0};
    for (size_t o = 0; o < b->len;) {
        const rec *p = (const rec *)(b->raw + o);
        hp_rec_drop_json(p);
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

/* ---- waiting for delivery (mu held) ----------------------------------- */

static int all_resolved(const http *h)
{
    return h->tail_seq == h->head_seq && h->inflight == 0;
}

/* Wait until everything queued is delivered or spooled, at most
 * flush_timeout; then have the sender abandon the request in flight and
 * spool the rest (waiting while it makes progress).  Returns 1 when it had
 * to give up waiting. */
int hp_drain(http *h)
{
    double until = hp_now_mono() + h->flush_timeout;
    h->flush_req++;
    hp_wake_sender(h);
    while (!all_resolved(h) && hp_now_mono() < until)
        hp_cond_wait_until(&h->done, &h->mu, until);
    h->flush_req--;
    if (all_resolved(h))
        return 0;
    h->spool_all++;
    atomic_store(&h->abort_send, 1);
    hp_wake_sender(h);
    int64_t target = h->tail_seq;
    int64_t seen = h->head_seq - h->inflight;
    double last = hp_now_mono();
    while (h->head_seq - h->inflight < target && hp_now_mono() < last + 2.0) {
        hp_cond_wait_until(&h->done, &h->mu, last + 2.0);
        if (h->head_seq - h->inflight != seen) {
            seen = h->head_seq - h->inflight;
            last = hp_now_mono();
        }
    }
    if (--h->spool_all == 0 && !h->stop)
        atomic_store(&h->abort_send, 0);
    return 1;
}

/* Return (and clear) what the sender left to report.  mu held. */
int hp_take_pending(http *h)
{
    int code = h->pending_code;
    if (code == TROPT_OK)
        return TROPT_OK;
    h->pending_code = TROPT_OK;
    return h->host->error(code, "%s", h->pending_msg);
}
