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
 * spooled is an error.  With spool=off (what the replay command finish
 * prints sets) nothing is spooled: the ring never spills (log waits for
 * room) and what is not delivered is an error.
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

#include "http_priv.h"

/* ---- hooks ------------------------------------------------------------ */

/* In a forked child the sender thread does not exist, the mutexes may be
 * held forever by threads that are not there, and the connection and the
 * queued events belong to the parent.  The hooks that can wait (init,
 * finish, flush) refuse; log is refused by the core (it checks the pid). */
static int forked(http *h)
{
    if (getpid() == h->pid)
        return 0;
    return h->host->error(TROPT_ESTATE,
                          "this backend was opened by process %ld; a forked child cannot "
                          "use it (open a new tracker in the child)",
                          (long)h->pid);
}

/* Every influx point of the run carries its name (and, for a resumed
 * run, its attempt) as tags, before the tags option's.  0, or -1. */
static int run_tags(http *h, const tropt_run *run, int v12, run_rec *r)
{
    tev_buf b;
    tev_buf_init(&b, h->host->realloc, h->host->free);
    int bad = 0;
    if (v12 && run->name && *run->name)
        bad = tev_buf_puts(&b, ",run_name=") != 0 || influx_put_escaped(&b, run->name, 'k') != 0;
    if (!bad && r->attempt > 1)
        bad = tev_buf_printf(&b, ",attempt=%" PRId64, r->attempt) != 0;
    if (!bad && h->tags)
        bad = tev_buf_puts(&b, h->tags) != 0;
    if (!bad && !b.len)
        bad = tev_buf_reserve(&b, 1) != 0; /* "" rather than NULL: no tags */
    if (bad) {
        tev_buf_free(&b);
        return -1;
    }
    if (b.data)
        b.data[b.len] = '\0';
    r->influx_tags = tev_buf_steal(&b);
    if (!r->influx_tags && !(r->influx_tags = tropt_host_strdup(h->host, "")))
        return -1;
    return 0;
}

static int http_init(void *self, const tropt_run *run, const json_t *config,
                     const tropt_field *params, size_t n_params)
{
    http *h = self;
    if (forked(h))
        return TROPT_ESTATE;
    (void)params;
    (void)n_params;
    tev_buf line;
    tev_buf_init(&line, h->host->realloc, h->host->free);
    run_rec *r = h->host->malloc(sizeof *r);
    if (!r)
        return h->host->error(TROPT_ENOMEM, "out of memory");
    memset(r, 0, sizeof *r);
    r->refs = 1; /* h->cur */
    int v12 = TROPT_HOST_RUN_V12(h->host);
    r->attempt = v12 && run->attempt > 1 ? run->attempt : 1;
    if ((v12 ? tev_encode_run_start_v12(&line, run, config, h->host->format_real)
             : tev_encode_run_start(&line, run, config, h->host->format_real)) != 0 ||
        !(r->run_id = tropt_host_strdup(h->host, run->run_id)) ||
        !(r->experiment = tropt_host_strdup(h->host, run->experiment ? run->experiment : "")) ||
        run_tags(h, run, v12, r) != 0) {
        tev_buf_free(&line);
        h->host->free(r->run_id);
        h->host->free(r->experiment);
        h->host->free(r);
        return h->host->error(TROPT_ENOMEM, "out of memory");
    }
    r->start_len = line.len;
    r->start_line = tev_buf_steal(&line);
    pthread_mutex_lock(&h->mu);
    hp_run_unref(h, h->cur, 1);
    h->cur = r;
    int rc = hp_put_event(h, r, TEV_RUN_START);
    if (rc == TROPT_OK)
        rc = hp_take_pending(h);
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
    if (tev_encode_log_at(&line, r->run_id, r->attempt, step, time, fields, n,
                          h->host->format_real) != 0)
        return TROPT_ENOMEM;
    hp_spool_direct(h, r, TEV_LOG, line.data, line.len, "queue full");
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
    /* the host logs only into a run whose init succeeded (plugin.h): h->cur */
    run_rec *r = h->cur;
    (void)run;
    keyset *ks = hp_keyset_of(h, fields, n);
    rec *p = NULL;
    if (!ks)
        rc = TROPT_ENOMEM;
    else if (!hp_ring_room(h))
        rc = log_direct(h, r, step, time, fields, n);
    else if (!(p = hp_ring_reserve(h, size)))
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
        p->enq = hp_now_mono();
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
        hp_ring_commit(h, p);
    }
    if (rc == TROPT_OK)
        rc = hp_take_pending(h);
    else
        rc = h->host->error(rc, "out of memory");
    pthread_mutex_unlock(&h->mu);
    return rc;
}

/* Queue an event other than a step (ABI 1.2), already encoded: its NDJSON
 * line (sent with format=ndjson, and what the spool keeps) and its influx
 * line (sent with format=influx; none: nothing is sent for it). */
static int put_line(http *h, int kind, const tev_buf *nd, const tev_buf *ix)
{
    size_t size = (sizeof(rec) + nd->len + ix->len + 7) & ~(size_t)7;
    if (size > UINT32_MAX / 2)
        return h->host->error(TROPT_EINVAL, "an event of %zu bytes is too large", size);
    pthread_mutex_lock(&h->mu);
    run_rec *r = h->cur;
    int rc = TROPT_OK;
    rec *p = NULL;
    if (!hp_ring_room(h))
        hp_spool_direct(h, r, kind, nd->data, nd->len, "queue full");
    else if (!(p = hp_ring_reserve(h, size)))
        rc = h->host->error(TROPT_ENOMEM, "out of memory");
    if (p) {
        memset(p, 0, sizeof *p);
        p->size = (uint32_t)size;
        p->kind = (uint16_t)kind;
        p->n = (uint32_t)nd->len;
        p->unused = (uint32_t)ix->len;
        p->run = r;
        p->enq = hp_now_mono();
        memcpy((char *)p + sizeof(rec), nd->data, nd->len);
        if (ix->len)
            memcpy((char *)p + sizeof(rec) + nd->len, ix->data, ix->len);
        r->refs++;
        hp_ring_commit(h, p);
    }
    if (rc == TROPT_OK)
        rc = hp_take_pending(h);
    pthread_mutex_unlock(&h->mu);
    return rc;
}

/* System samples: an NDJSON "system" event; with format=influx a point at
 * the samples' own time, fields <key>=mean and <key>_max=max. */
static int http_system(void *self, const tropt_run *run, double time, const tropt_sample *s,
                       size_t n)
{
    http *h = self;
    tev_buf nd, ix;
    tev_buf_init(&nd, h->host->realloc, h->host->free);
    tev_buf_init(&ix, h->host->realloc, h->host->free);
    int bad =
        tev_encode_system(&nd, run->run_id, h->cur->attempt, time, s, n, h->host->format_real) != 0;
    if (!bad && h->influx) {
        const char *m = h->measurement ? h->measurement : h->cur->experiment;
        bad = influx_encode_system(&ix, m, run->run_id, h->cur->influx_tags, time, s, n,
                                   h->host->format_real) != 0;
    }
    int rc =
        bad ? h->host->error(TROPT_ENOMEM, "out of memory") : put_line(h, TEV_SYSTEM, &nd, &ix);
    tev_buf_free(&nd);
    tev_buf_free(&ix);
    return rc;
}

/* A checkpoint mark: an NDJSON "checkpoint" event (influx has no place for
 * it: nothing is sent with format=influx; the spool keeps it). */
static int http_checkpoint(void *self, const tropt_run *run, const tropt_checkpoint *m)
{
    http *h = self;
    tev_buf nd, ix;
    tev_buf_init(&nd, h->host->realloc, h->host->free);
    tev_buf_init(&ix, h->host->realloc, h->host->free);
    int rc = tev_encode_checkpoint(&nd, run->run_id, m, h->host->format_real) != 0
                 ? h->host->error(TROPT_ENOMEM, "out of memory")
                 : put_line(h, TEV_CHECKPOINT, &nd, &ix);
    tev_buf_free(&nd);
    return rc;
}

static int http_finish(void *self, const tropt_run *run, const char *status, double ended_at,
                       const json_t *summary, const tropt_field *flat, size_t n_flat)
{
    http *h = self;
    if (forked(h))
        return TROPT_ESTATE;
    (void)flat;
    (void)n_flat;
    pthread_mutex_lock(&h->mu);
    /* the host finishes only a run whose init succeeded (plugin.h): h->cur;
     * after a failed finish it stays open and finish may come again */
    run_rec *r = h->cur;
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
            bad = hp_put_event(h, r, TEV_RUN_END) != TROPT_OK;
        }
        if (bad) {
            hp_run_unref(h, r, 1);
            pthread_mutex_unlock(&h->mu);
            tev_buf_free(&line);
            return h->host->error(TROPT_ENOMEM, "out of memory");
        }
        r->end_queued = 1;
        pthread_mutex_unlock(&h->mu);
    }

    pthread_mutex_lock(&h->mu);
    hp_drain(h);
    pthread_mutex_lock(&h->spool_mu);
    int need_end = r->start_spooled && !r->end_spooled && r->end_line;
    pthread_mutex_unlock(&h->spool_mu);
    if (need_end)
        hp_spool_direct(h, r, TEV_RUN_END, r->end_line, r->end_len, "run closed");
    hp_sync_spool(h);
    pthread_mutex_lock(&h->spool_mu);
    int64_t spooled = r->n_spooled;
    pthread_mutex_unlock(&h->spool_mu);
    int rc = hp_take_pending(h);
    if (rc == TROPT_OK && spooled > 0)
        TROPT_HOST_LOG(h->host, TROPT_LEVEL_WARNING,
                       "%" PRId64 " events of run %s were not delivered to %s and are safe "
                       "in the spool %s; send them with: %s",
                       spooled, run->run_id, h->url_shown, h->spool_path ? h->spool_path : "",
                       h->replay_hint);
    /* After a failure the host keeps the run open and may call finish
     * again: keep the record so that call only drains. */
    if (rc == TROPT_OK) {
        hp_run_unref(h, h->cur, 1);
        h->cur = NULL;
    }
    hp_run_unref(h, r, 1);
    pthread_mutex_unlock(&h->mu);
    return rc;
}

static int http_flush(void *self)
{
    http *h = self;
    if (forked(h))
        return TROPT_ESTATE;
    pthread_mutex_lock(&h->mu);
    if (hp_drain(h)) {
        pthread_mutex_lock(&h->spool_mu);
        if (h->spool_path)
            TROPT_HOST_LOG(h->host, TROPT_LEVEL_WARNING,
                           "flush: events not delivered to %s within flush_timeout are in "
                           "the spool %s",
                           h->url_shown, h->spool_path);
        pthread_mutex_unlock(&h->spool_mu);
    }
    hp_sync_spool(h);
    int rc = hp_take_pending(h);
    pthread_mutex_unlock(&h->mu);
    return rc;
}

void http_destroy(void *self)
{
    http *h = self;
    if (!h)
        return;
    if (h->thread_started && getpid() != h->pid) {
        /* A forked child: no sender to drain or join, mutexes perhaps held
         * by threads that are not here, a connection and events that are
         * the parent's.  Send, spool and join nothing; close our copy of
         * the spool descriptor and leave the rest of this copy of the
         * instance as it is (freeing it could touch a list a thread of the
         * parent was changing at fork time). */
        if (h->spool_fd >= 0)
            close(h->spool_fd);
        return;
    }
    if (h->thread_started) {
        pthread_mutex_lock(&h->mu);
        hp_drain(h);
        hp_sync_spool(h);
        if (h->pending_code != TROPT_OK)
            TROPT_HOST_LOG(h->host, TROPT_LEVEL_ERROR, "%s", h->pending_msg);
        h->stop = 1;
        /* a request still in flight (drain gave up on it) is abandoned too:
         * the join below never waits for the network */
        atomic_store(&h->abort_send, 1);
        hp_wake_sender(h);
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
        hp_rec_drop_json(p);
        hp_run_unref(h, p->run, 1);
        hp_ks_unref(h, p->ks, 1);
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
    hp_run_unref(h, h->cur, 1);
    hp_ks_unref(h, h->ks, 1);
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
    h->host->free(h->url_hint);
    h->host->free(h->replay_hint);
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
    .checkpoint = http_checkpoint,
    .log_system = http_system,
};

TROPT_PLUGIN_EXPORT const tropt_plugin *tropt_plugin_entry(void)
{
    return &http_plugin;
}
