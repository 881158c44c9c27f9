/*
 * plugins/pg/pg_meta.c - the ABI 1.2 hooks besides init and finish:
 * checkpoint marks and system samples of the open run, and the metadata of
 * any stored run (tags, note, name) and its deletion.
 *
 * What belongs to the open run follows it: written at once (a mark after the
 * pending steps, so it is as durable as the step it names), or, once the run
 * goes to the spool, into the spool as an event of the format
 * (tev_encode_checkpoint, tev_encode_system, tev_encode_annotate) that a
 * replay hands back through tropt_tracker_import_checkpoint, _import_system
 * and _annotate_run.  A stored run's metadata needs the server: no server is
 * TROPT_EBACKEND.
 */
#include "pg_priv.h"

/* One statement of the open run in autocommit (after the pending steps when
 * `commit_first`), with one fresh connection when the one open is lost;
 * when the server stays gone, or a lock is held past lock_timeout, the run
 * goes to the spool and `ev` with it.  mu held.  TROPT_OK or the error
 * (host->error). */
static int run_exec(pg *p, const char *tpl, int n, const char *const *vals, const tev_buf *ev,
                    const char *what, int commit_first)
{
    if (!p->spooling && commit_first) {
        int rc = pg_commit(p);
        if (rc != TROPT_OK)
            return rc;
    }
    if (p->spooling)
        return pg_spool_event(p, ev, "the server is gone");
    for (int attempt = 0; attempt < 2; attempt++) {
        if (pg_ensure_conn(p) != TROPT_OK)
            break;
        PGresult *r = pg_exec_tpl(p, tpl, n, vals);
        int ok = pg_res_ok(p, r, what) == 0;
        int lost = !ok && pg_conn_lost(p, r);
        PQclear(r);
        if (ok)
            return TROPT_OK;
        if (p->locked)
            return pg_spool_after_failure(p, ev);
        if (!lost)
            return p->host->error(TROPT_EBACKEND, "%s: %s", p->shown, p->err);
        PQfinish(p->conn);
        p->conn = NULL;
    }
    return pg_spool_after_failure(p, ev);
}

/* ---- checkpoint marks ----------------------------------------------------- */

int pg_checkpoint(void *self, const tropt_run *run, const tropt_checkpoint *m)
{
    pg *p = self;
    (void)run;
    pthread_mutex_lock(&p->mu);
    tev_buf ev;
    tev_buf_init(&ev, p->host->realloc, p->host->free);
    int rc;
    if (!p->active || tev_encode_checkpoint(&ev, p->run_id, m, p->host->format_real) != 0) {
        rc = p->active ? p->host->error(TROPT_ENOMEM, "out of memory")
                       : p->host->error(TROPT_EINVAL, "checkpoint: no run is open");
    } else {
        char num[24], attempt[24], seq[24], step[24], time[40], size[24];
        snprintf(num, sizeof num, "%" PRId64, p->run_num);
        snprintf(attempt, sizeof attempt, "%" PRId64, m->attempt < 1 ? 1 : m->attempt);
        snprintf(seq, sizeof seq, "%" PRId64, m->seq);
        snprintf(step, sizeof step, "%" PRId64, m->step);
        p->host->format_real(time, sizeof time, m->time);
        snprintf(size, sizeof size, "%" PRId64, m->size);
        const char *v[9] = {
            num,       attempt, seq, step, time, m->path, m->size >= 0 ? size : NULL,
            m->sha256, m->error};
        rc = run_exec(p, PGS_MARK_PUT, 9, v, &ev, "cannot store the checkpoint mark", 1);
    }
    tev_buf_free(&ev);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

/* ---- system samples ------------------------------------------------------- */

/* {"a","b\"c"}: text[] input, every element quoted. */
static int put_text_array(tev_buf *b, const tropt_sample *s, size_t n)
{
    int bad = tev_buf_putc(b, '{');
    for (size_t i = 0; i < n && !bad; i++) {
        bad = (i && tev_buf_putc(b, ',')) || tev_buf_putc(b, '"');
        for (const char *c = s[i].key; *c && !bad; c++)
            bad = ((*c == '"' || *c == '\\') && tev_buf_putc(b, '\\')) || tev_buf_putc(b, *c);
        bad = bad || tev_buf_putc(b, '"');
    }
    return bad || tev_buf_putc(b, '}');
}

/* {1.5,NaN,...}: float8[] input, exact. */
static int put_real_array(const pg *p, tev_buf *b, const tropt_sample *s, size_t n, int max)
{
    int bad = tev_buf_putc(b, '{');
    for (size_t i = 0; i < n && !bad; i++) {
        char t[40];
        pg_real_text(p, t, sizeof t, max ? s[i].max : s[i].value);
        bad = (i && tev_buf_putc(b, ',')) || tev_buf_puts(b, t);
    }
    return bad || tev_buf_putc(b, '}');
}

int pg_log_system(void *self, const tropt_run *run, double time, const tropt_sample *samples,
                  size_t n)
{
    pg *p = self;
    (void)run;
    if (n == 0)
        return TROPT_OK;
    pthread_mutex_lock(&p->mu);
    tev_buf ev, keys, vals, maxs;
    tev_buf *bufs[4] = {&ev, &keys, &vals, &maxs};
    for (int i = 0; i < 4; i++)
        tev_buf_init(bufs[i], p->host->realloc, p->host->free);
    int rc;
    if (!p->active) {
        rc = p->host->error(TROPT_EINVAL, "log_system: no run is open");
    } else if (tev_encode_system(&ev, p->run_id, p->attempt, time, samples, n,
                                 p->host->format_real) != 0 ||
               put_text_array(&keys, samples, n) != 0 ||
               put_real_array(p, &vals, samples, n, 0) != 0 ||
               put_real_array(p, &maxs, samples, n, 1) != 0) {
        rc = p->host->error(TROPT_ENOMEM, "out of memory");
    } else {
        char num[24], attempt[24], t[40];
        snprintf(num, sizeof num, "%" PRId64, p->run_num);
        snprintf(attempt, sizeof attempt, "%" PRId64, p->attempt);
        p->host->format_real(t, sizeof t, time);
        const char *v[6] = {num, attempt, t, keys.data, vals.data, maxs.data};
        rc = run_exec(p, PGS_SYS_PUT, 6, v, &ev, "cannot store system samples", 0);
    }
    for (int i = 0; i < 4; i++)
        tev_buf_free(bufs[i]);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

/* ---- metadata of any stored run -------------------------------------------- */

/* One statement about a stored run, connecting when needed (one fresh
 * connection when the one open is lost).  TROPT_OK with *rows the rows it
 * changed or returned; else the error (host->error). */
static int store_exec(pg *p, const char *tpl, int n, const char *const *vals, const char *what,
                      int64_t *rows)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        int c = pg_ensure_conn(p);
        if (c != TROPT_OK)
            return p->host->error(c == TROPT_ENOMEM ? c : TROPT_EBACKEND, "%s: %s", p->shown,
                                  c == 1 ? "cannot reach the server" : p->err);
        PGresult *r = pg_exec_tpl(p, tpl, n, vals);
        if (pg_res_ok(p, r, what) == 0) {
            *rows = PQresultStatus(r) == PGRES_TUPLES_OK ? PQntuples(r)
                                                         : strtoll(PQcmdTuples(r), NULL, 10);
            PQclear(r);
            return TROPT_OK;
        }
        int lost = pg_conn_lost(p, r);
        PQclear(r);
        if (!lost)
            break;
        PQfinish(p->conn);
        p->conn = NULL;
    }
    return p->host->error(TROPT_EBACKEND, "%s: %s", p->shown, p->err);
}

static const char *annotation_sql(tropt_annotation_kind kind)
{
    switch (kind) {
    case TROPT_ANNOTATE_TAG:
        return PGS_TAG;
    case TROPT_ANNOTATE_UNTAG:
        return PGS_UNTAG;
    case TROPT_ANNOTATE_NOTE:
        return PGS_NOTE;
    case TROPT_ANNOTATE_RENAME:
        return PGS_RENAME;
    }
    return NULL;
}

int pg_annotate(void *self, const char *run_id, const tropt_annotation *a)
{
    pg *p = self;
    const char *tpl = annotation_sql(a->kind);
    if (!tpl)
        return p->host->error(TROPT_EINVAL, "unknown annotation kind %d", (int)a->kind);
    pthread_mutex_lock(&p->mu);
    const char *v[2] = {run_id, a->text};
    int rc;
    if (p->active && strcmp(run_id, p->run_id) == 0) {
        tev_buf ev;
        tev_buf_init(&ev, p->host->realloc, p->host->free);
        if (tev_encode_annotate(&ev, run_id, a, p->host->format_real) != 0)
            rc = p->host->error(TROPT_ENOMEM, "out of memory");
        else
            rc = run_exec(p, tpl, 2, v, &ev, "cannot change the run's metadata", 0);
        tev_buf_free(&ev);
    } else {
        int64_t rows = 0;
        rc = store_exec(p, tpl, 2, v, "cannot change the run's metadata", &rows);
        if (rc == TROPT_OK && rows == 0)
            rc = p->host->error(TROPT_EINVAL, "%s: no run %s in schema %s", p->shown, run_id,
                                p->schema);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int pg_delete_run(void *self, const char *run_id)
{
    pg *p = self;
    pthread_mutex_lock(&p->mu);
    const char *v[1] = {run_id};
    int64_t rows = 0;
    int rc = store_exec(p, PGS_DELETE, 1, v, "cannot delete the run", &rows);
    if (rc == TROPT_OK && rows == 0)
        rc =
            p->host->error(TROPT_EINVAL, "%s: no run %s in schema %s", p->shown, run_id, p->schema);
    pthread_mutex_unlock(&p->mu);
    return rc;
}
