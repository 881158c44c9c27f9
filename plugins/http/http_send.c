/*
 * plugins/http/http_send.c - the sender thread: batches, encoding, POSTs
 * with retries and backoff.  See http_priv.h.
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

/* The fields of a TEV_LOG record, borrowed from it.  NULL: out of memory. */
static const tropt_field *fields_of(http *h, sender *s, const rec *p)
{
    if (tropt_host_grow(h->host, (void **)&s->f, &s->fcap, p->n, sizeof *s->f) != 0)
        return NULL;
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
int hp_encode_ndjson(http *h, sender *s, const rec *p, tev_buf *out)
{
    const run_rec *r = p->run;
    if (p->kind == TEV_RUN_START)
        return tev_buf_append(out, r->start_line, r->start_len);
    if (p->kind == TEV_RUN_END)
        return tev_buf_append(out, r->end_line, r->end_len);
    if (REC_IS_LINE(p))
        return tev_buf_append(out, REC_LINE(p), p->n);
    const tropt_field *f = fields_of(h, s, p);
    if (!f && p->n)
        return -1;
    return tev_encode_log_at(out, r->run_id, r->attempt, p->step, p->time, f, p->n,
                             h->host->format_real);
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
            rc = hp_encode_ndjson(h, s, p, &b->body);
        else if (REC_IS_LINE(p))
            rc = tev_buf_append(&b->body, REC_LINE(p) + p->n, p->unused);
        else if (p->kind == TEV_LOG) {
            const tropt_field *f = fields_of(h, s, p);
            if (p->run != s->prefix_run) {
                const char *m = h->measurement ? h->measurement : p->run->experiment;
                tev_buf_clear(&s->prefix);
                pthread_mutex_lock(&h->mu);
                hp_run_unref(h, s->prefix_run, 1);
                s->prefix_run = NULL;
                pthread_mutex_unlock(&h->mu);
                if (influx_prefix(&s->prefix, m, p->run->run_id, p->run->influx_tags) != 0)
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
        TROPT_HOST_LOG(h->host, TROPT_LEVEL_WARNING,
                       "format=influx cannot carry null, NaN or infinite values; such "
                       "fields are left out of the points (the spool and ndjson keep them)");
    }
    b->encoded = 1;
    return 0;
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
    if (pend > h->queue_size && !h->no_spool)
        return 1;
    if (can_prep && !nxt->n && pend) {
        if (pend >= h->batch_size || h->flush_req)
            return 1;
        double dl = hp_head_rec(h)->enq + h->max_delay;
        if (hp_now_mono() >= dl)
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
    hp_spill(h, s);
    double dl;
    pthread_mutex_lock(&h->mu);
    int prep = can_prep && !nxt->n && work_needed(h, nxt, 1, &dl);
    h->wake_at = 0;
    pthread_mutex_unlock(&h->mu);
    if (prep && (hp_take(h, nxt, h->batch_size), nxt->n))
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

/* How long to wait for the transfer, in ms: 100, or less when the batch
 * being prepared is due sooner (dl, a monotonic deadline, 0 for none). */
static int poll_ms(double dl)
{
    if (dl <= 0)
        return 100;
    double left = (dl - hp_now_mono()) * 1000 + 1;
    return left < 0 ? 0 : left < 100 ? (int)left : 100;
}

/* Drives the added transfer of `len` body bytes to its end, spilling and
 * preparing nxt while it is in flight.  1 when flush_timeout aborted it
 * (h->abort_send), else 0 with *cc its result. */
static int run_transfer(http *h, sender *s, size_t len, batch *nxt, CURLcode *cc)
{
    *cc = CURLE_OK;
    for (;;) {
        int running = 0;
        curl_multi_perform(h->multi, &running);
        if (!running)
            break;
        if (atomic_load(&h->abort_send))
            return 1;
        /* the request body first: the server waits for it */
        curl_off_t up = 0;
        curl_easy_getinfo(s->e, CURLINFO_SIZE_UPLOAD_T, &up);
        double dl;
        pthread_mutex_lock(&h->mu);
        int uploaded = up >= (curl_off_t)len;
        int work = work_needed(h, nxt, uploaded, &dl);
        pthread_mutex_unlock(&h->mu);
        if (work) {
            do_work(h, s, nxt, uploaded);
            continue;
        }
        curl_multi_poll(h->multi, NULL, 0, poll_ms(dl), NULL);
    }
    int left;
    CURLMsg *m;
    while ((m = curl_multi_info_read(h->multi, &left)))
        if (m->msg == CURLMSG_DONE)
            *cc = m->data.result;
    return 0;
}

/* What the server's answer to a completed POST means; the reason in why,
 * the seconds it asked to wait in *retry_after. */
static send_result http_verdict(CURL *e, response *resp, char *why, size_t whysz,
                                double *retry_after)
{
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300)
        return SEND_OK;
    /* keep the server's words on one line */
    for (size_t i = 0; i < resp->len; i++)
        if (resp->text[i] == '\n' || resp->text[i] == '\r')
            resp->text[i] = ' ';
    snprintf(why, whysz, "HTTP %ld%s%s", status, resp->len ? ": " : "", resp->text);
    if (status == 429 || status == 408 || status >= 500) {
        curl_off_t ra = -1;
        if (curl_easy_getinfo(e, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
            *retry_after = (double)ra;
        return SEND_RETRY;
    }
    return SEND_REJECTED;
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

    CURLcode cc;
    curl_multi_add_handle(h->multi, e);
    int aborted = run_transfer(h, s, len, nxt, &cc);
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
    return http_verdict(e, &resp, why, whysz, retry_after);
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
        double until = hp_now_mono() + d;
        pthread_mutex_lock(&h->mu);
        while (!atomic_load(&h->abort_send) && !h->stop && hp_now_mono() < until) {
            double dl;
            if (work_needed(h, nxt, 1, &dl)) {
                pthread_mutex_unlock(&h->mu);
                do_work(h, s, nxt, 1);
                pthread_mutex_lock(&h->mu);
                continue;
            }
            h->idle = 1;
            hp_cond_wait_until(&h->wake, &h->mu, dl > 0 && dl < until ? dl : until);
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
            TROPT_HOST_LOG(h->host, TROPT_LEVEL_INFO, "%s reachable again", h->url_shown);
        h->down = 0;
    } else {
        if (r == SEND_RETRY && !h->down) {
            h->down = 1;
            TROPT_HOST_LOG(h->host, TROPT_LEVEL_WARNING,
                           "%s unreachable after %" PRId64 " retries (%s); %s", h->url_shown,
                           h->retries, why, h->no_spool ? "not spooled (spool=off)" : "spooling");
        }
        /* with spool=off, hp_spool_batch reports the batch lost, with why */
        if (r == SEND_REJECTED && !h->no_spool)
            hp_set_pending(h, TROPT_EBACKEND,
                           "%s rejected a batch of %" PRId64
                           " events (%s); not retried, the events are kept in the spool %s",
                           h->url_shown, b->n, why, h->spool_dir);
    }
    pthread_mutex_unlock(&h->mu);
    if (r != SEND_OK)
        hp_spool_batch(h, s, b, why);
    hp_release(h, b);
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
        if (pend > h->queue_size && !h->no_spool)
            return ACT_SPILL;
        double until = 0;
        if (pend) {
            if (pend >= h->batch_size || h->flush_req)
                return ACT_BATCH;
            until = hp_head_rec(h)->enq + h->max_delay;
            if (hp_now_mono() >= until)
                return ACT_BATCH;
        }
        h->wake_at = pend ? h->batch_size : 1;
        if (h->wake_at > h->queue_size + 1)
            h->wake_at = h->queue_size + 1;
        h->idle = 1;
        if (pend)
            hp_cond_wait_until(&h->wake, &h->mu, until);
        else
            pthread_cond_wait(&h->wake, &h->mu);
        h->idle = 0;
        h->wake_at = 0;
    }
}

void *hp_sender_main(void *arg)
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
                hp_spill(h, &s);
                continue;
            }
            hp_take(h, cur, h->batch_size);
            if (!cur->n)
                continue;
            if (act == ACT_SPOOL) {
                hp_spool_batch(h, &s, cur, "not delivered within flush_timeout");
                hp_release(h, cur);
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
    hp_run_unref(h, s.prefix_run, 1);
    pthread_mutex_unlock(&h->mu);
    h->host->free(s.f);
    return NULL;
}
