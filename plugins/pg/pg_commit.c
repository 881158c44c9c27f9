/* plugins/pg/pg_commit.c - the spool file, commit, and the background thread. */
#include "pg_priv.h"
#include "tropt_fs.h"

/* ---- spool ------------------------------------------------------------- */

int pg_spool_open(pg *p)
{
    if (p->spool_fd >= 0)
        return 0;
    char *path = NULL;
    int fd = tropt_spool_create(p->spool_dir, p->host->malloc, p->host->free, &path);
    if (fd < 0)
        return -1;
    p->spool_fd = fd;
    p->spool_path = path;
    return 0;
}

int pg_spool_bytes(pg *p, const char *s, size_t n)
{
    if (pg_spool_open(p) != 0 || tropt_write_all(p->spool_fd, s, n) != 0) {
        snprintf(p->err, sizeof p->err, "cannot write the spool in %s: %s", p->spool_dir,
                 strerror(errno));
        return -1;
    }
    return 0;
}

/* Spool the pending steps (rows grouped back into log events). */
int pg_spool_pending(pg *p)
{
    size_t k = 0;
    tropt_field *f = NULL;
    size_t capf = 0;
    int rc = 0;
    while (k < p->nrows && rc == 0) {
        size_t end = pg_step_end(p, k);
        size_t nf = 0;
        if (tropt_host_grow(p->host, (void **)&f, &capf, end - k, sizeof *f) != 0) {
            rc = -1;
            snprintf(p->err, sizeof p->err, "out of memory");
            break;
        }
        json_t *js[64];
        size_t njs = 0;
        for (size_t j = k; j < end; j++) {
            const row *w = &p->rows[j];
            if (w->key == NO_KEY)
                continue;
            tropt_field *x = &f[nf++];
            x->key = p->keys[w->key].name;
            switch (w->kind) {
            case K_NULL:
                x->type = TROPT_NULL;
                break;
            case K_BOOL:
                x->type = TROPT_BOOL;
                x->v.b = (int)w->i;
                break;
            case K_INT:
                x->type = TROPT_INT;
                x->v.i = w->i;
                break;
            case K_REAL:
                x->type = TROPT_REAL;
                x->v.r = w->r;
                break;
            case K_STRING:
                x->type = TROPT_STRING;
                x->v.s = p->arena + w->text;
                break;
            default: {
                json_t *j2 = njs < 64 ? json_loads(p->arena + w->text,
                                                   JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL)
                                      : NULL;
                if (j2) {
                    js[njs++] = j2;
                    x->type = TROPT_JSON;
                    x->v.json = j2;
                } else {
                    x->type = TROPT_STRING;
                    x->v.s = p->arena + w->text;
                }
            }
            }
        }
        tev_buf_clear(&p->scratch);
        if (tev_encode_log_at(&p->scratch, p->run_id, p->attempt, p->rows[k].step, p->rows[k].time,
                              f, nf, p->host->format_real) != 0) {
            snprintf(p->err, sizeof p->err, "out of memory");
            rc = -1;
        } else {
            rc = pg_spool_bytes(p, p->scratch.data, p->scratch.len);
            if (rc == 0)
                p->n_spooled++;
        }
        for (size_t j = 0; j < njs; j++)
            json_decref(js[j]);
        k = end;
    }
    p->host->free(f);
    if (rc == 0)
        pg_batch_clear(p);
    return rc;
}

/* The run goes to the spool from now on: its run_start, then what is
 * pending.  Returns TROPT_OK or TROPT_EBACKEND. */
int pg_start_spooling(pg *p, const char *why)
{
    if (!p->spooling && p->no_spool) /* the steps stay pending */
        return p->host->error(TROPT_EBACKEND, "%s; spool=off (%" PRId64 " step(s) kept)", why,
                              p->nsteps);
    if (!p->spooling) {
        p->spooling = 1;
        if (p->conn) {
            PQfinish(p->conn);
            p->conn = NULL;
        }
        if (pg_spool_bytes(p, p->start_line, p->start_len) != 0)
            return p->host->error(TROPT_EBACKEND, "%s; %s", why, p->err);
        p->n_spooled++;
        TROPT_HOST_LOG(p->host, TROPT_LEVEL_WARNING, "%s; run %s is spooled to %s", why, p->run_id,
                       p->spool_path);
    }
    if (pg_spool_pending(p) != 0)
        return p->host->error(TROPT_EBACKEND, "%s", p->err);
    return TROPT_OK;
}

int pg_spool_event(pg *p, const tev_buf *ev, const char *why)
{
    int rc = pg_start_spooling(p, why);
    if (rc != TROPT_OK)
        return rc;
    if (pg_spool_bytes(p, ev->data, ev->len) != 0)
        return p->host->error(TROPT_EBACKEND, "%s", p->err);
    p->n_spooled++;
    return TROPT_OK;
}

int pg_spool_after_failure(pg *p, const tev_buf *ev)
{
    char why[1200];
    if (p->locked && p->conn && PQstatus(p->conn) != CONNECTION_BAD)
        pg_lock_why(p, why, sizeof why);
    else
        snprintf(why, sizeof why, "lost the server %s (%s)", p->shown, p->err);
    return pg_spool_event(p, ev, why);
}

void pg_lock_why(pg *p, char *why, size_t n)
{
    int64_t ms = p->lock_timeout_ms;
    snprintf(why, n,
             "waited lock_timeout=%" PRId64 "%s for a lock another session holds on %s (a "
             "migration or a long transaction?): %s",
             ms % 1000 ? ms : ms / 1000, ms % 1000 ? "ms" : "s", p->shown, p->err);
}

/* ---- commit ------------------------------------------------------------ */

/* Write the pending steps.  mu held.  TROPT_OK (written, or spooled because
 * the server is gone), or an error code (set through host->error from a
 * hook; from the pg_background thread only p->err). */
int pg_commit(pg *p)
{
    if (p->nrows == 0)
        return TROPT_OK;
    if (p->spooling)
        return pg_start_spooling(p, "the server is gone");
    for (int attempt = 0; attempt < 2; attempt++) {
        int lost = 0;
        int rc = -1;
        if (p->conn) {
            rc = pg_resolve_keys(p, &lost);
            if (rc == 0)
                rc = p->nsteps > PG_INSERT_STEPS ? pg_write_copy(p, &lost) : 1;
            if (rc == 1)
                rc = pg_write_insert(p, &lost);
        } else {
            lost = 1;
        }
        if (rc == 0) {
            pg_batch_clear(p);
            return TROPT_OK;
        }
        if (!lost && p->locked) {
            char why[1200];
            pg_lock_why(p, why, sizeof why);
            return pg_start_spooling(p, why);
        }
        if (!lost)
            return p->host->error(TROPT_EBACKEND,
                                  "%s (%" PRId64 " step(s) kept for the next commit)", p->err,
                                  p->nsteps);
        /* The connection is gone: one fresh connection, else the spool. */
        if (attempt == 0 && pg_open_store(p) == TROPT_OK)
            continue;
        char why[1200];
        snprintf(why, sizeof why, "lost the server %s (%s)", p->shown, p->err);
        return pg_start_spooling(p, why);
    }
    return TROPT_OK;
}

/* ---- pg_background thread ------------------------------------------------- */

void pg_heartbeat_now(pg *p)
{
    if (!p->conn || p->spooling || !p->active)
        return;
    if (!p->prepared_hb) {
        char *q = pg_sql(p, PGS_HEARTBEAT);
        PGresult *r = q ? PQprepare(p->conn, "hb", q, 2, NULL) : NULL;
        p->host->free(q);
        p->prepared_hb = r && PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!p->prepared_hb)
            return;
    }
    char attempt[24];
    snprintf(attempt, sizeof attempt, "%" PRId64, p->attempt);
    const char *v[2] = {p->run_id, attempt};
    PQclear(PQexecPrepared(p->conn, "hb", 2, v, NULL, NULL, 0));
}

void *pg_background(void *arg)
{
    pg *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        double now = pg_monotonic();
        double wait = 3600;
        if (p->active && !p->spooling) {
            if (now >= p->next_beat) {
                pg_heartbeat_now(p);
                p->next_beat = now + (double)p->heartbeat_ms / 1000.0;
            }
            wait = p->next_beat - now;
        }
        if (p->commit_interval > 0 && p->nrows > 0) {
            double due = p->first_at + (double)p->commit_interval / 1000.0;
            if (due < p->retry_at)
                due = p->retry_at;
            if (now >= due) {
                /* A failed commit keeps the steps; try again in a second
                 * (the next log call also does). */
                if (pg_commit(p) != TROPT_OK)
                    p->retry_at = pg_monotonic() + 1.0;
                continue;
            }
            if (due - now < wait)
                wait = due - now;
        }
        if (wait < 0.001)
            wait = 0.001;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        double t = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 + wait;
        ts.tv_sec = (time_t)t;
        ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
        pthread_cond_timedwait(&p->wake, &p->mu, &ts);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}
