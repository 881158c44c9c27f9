/*
 * plugins/http/http_spool.c - the spool: NDJSON events that could not be
 * delivered, appended to one file per instance.  See http_priv.h.
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
#include "tropt_fs.h"

/* ---- spool (spool_mu held) -------------------------------------------- */

static int spool_open(http *h)
{
    if (h->spool_fd >= 0)
        return 0;
    char *path = NULL;
    int fd = tropt_spool_create(h->spool_dir, h->host->malloc, h->host->free, &path);
    if (fd < 0)
        return -1;
    h->spool_fd = fd;
    h->spool_path = path;
    TROPT_HOST_LOG(h->host, TROPT_LEVEL_WARNING, "events for %s are being spooled to %s",
                   h->url_shown, path);
    return 0;
}

/* Append bytes to the spool.  Returns 0, or an errno value (ECANCELED
 * with spool=off: nothing is ever written). */
static int spool_write(http *h, const char *p, size_t n)
{
    if (h->no_spool)
        return ECANCELED;
    if (spool_open(h) != 0 || tropt_write_all(h->spool_fd, p, n) != 0)
        return errno ? errno : EIO;
    h->spool_dirty = 1;
    return 0;
}

/* Spool one NDJSON line of run r from the caller's thread (its run_start
 * first if missing); mu held, takes spool_mu.  Counts it lost on failure. */
void hp_spool_direct(http *h, run_rec *r, int kind, const char *line, size_t len, const char *why)
{
    pthread_mutex_lock(&h->spool_mu);
    int e = 0;
    if (r && !r->start_spooled && kind != TEV_RUN_START)
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
        hp_lose(h, why, e, 1);
}

int hp_sync_spool(http *h)
{
    int rc = 0;
    pthread_mutex_lock(&h->spool_mu);
    if (h->spool_fd >= 0 && h->spool_dirty) {
        if (fsync(h->spool_fd) != 0) {
            hp_set_pending(h, TROPT_EBACKEND, "cannot sync spool %s: %s", h->spool_path,
                           strerror(errno));
            rc = -1;
        } else
            h->spool_dirty = 0;
    }
    pthread_mutex_unlock(&h->spool_mu);
    return rc;
}

#define SPOOL_PIECE ((size_t)256 * 1024)

/* Append b's records to the spool as NDJSON events, a run's run_start
 * first if the spool lacks it; what cannot be written is counted lost. */
void hp_spool_batch(http *h, sender *s, const batch *b, const char *why)
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
        if (!r->start_spooled && first->kind != TEV_RUN_START) {
            oom = tev_buf_append(&s->line, r->start_line, r->start_len) != 0;
            has_start = 1;
        }
        while (o < b->len) {
            const rec *p = (const rec *)(b->raw + o);
            if (p->run != r || s->line.len >= SPOOL_PIECE)
                break;
            if (!oom && hp_encode_ndjson(h, s, p, &s->line) != 0)
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
        hp_lose(h, why, err, lost);
        pthread_mutex_unlock(&h->mu);
    }
}

/* Spool the oldest waiting records beyond queue_size. */
void hp_spill(http *h, sender *s)
{
    if (h->no_spool) /* the excess waits in the ring: log waits for room */
        return;
    for (;;) {
        pthread_mutex_lock(&h->mu);
        int64_t k = h->tail_seq - h->head_seq - h->queue_size;
        if (k > 0 && !h->warned_full) {
            h->warned_full = 1;
            TROPT_HOST_LOG(h->host, TROPT_LEVEL_WARNING,
                           "queue full (%" PRId64 " events waiting for %s); spooling to %s",
                           h->tail_seq - h->head_seq, h->url_shown, h->spool_dir);
        }
        pthread_mutex_unlock(&h->mu);
        if (k <= 0)
            return;
        hp_take(h, &s->spill, k < 4096 ? k : 4096);
        if (s->spill.n) {
            hp_spool_batch(h, s, &s->spill, "queue full");
            hp_release(h, &s->spill);
        }
    }
}
