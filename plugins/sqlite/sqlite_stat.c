/*
 * plugins/sqlite/sqlite_stat.c - the per-run, per-key statistics of
 * tropt_stat (count, last step and value, min, max, first NaN): totalled in
 * memory as rows are written and merged into the table inside a
 * row-writing transaction (see tsq_agg_flush for when), and folded from
 * the rows a dead or earlier writer left above them.
 */
#include "sqlite_priv.h"

#include <string.h>

/* ---- Statistics ----------------------------------------------------------- */

/* Numeric order of two INTEGER/REAL values (as SQLite compares them, but for
 * integers beyond 2^53 against reals). */
static int num_cmp(const tsq_val *a, const tsq_val *b)
{
    if (a->sqltype == SQLITE_INTEGER && b->sqltype == SQLITE_INTEGER)
        return (a->u.i > b->u.i) - (a->u.i < b->u.i);
    double x = a->sqltype == SQLITE_INTEGER ? (double)a->u.i : a->u.r;
    double y = b->sqltype == SQLITE_INTEGER ? (double)b->u.i : b->u.r;
    return (x > y) - (x < y);
}

/* Grow *p (elements of sz bytes, *cap of them, new ones zeroed) to need. */
static int grow_zero(tsq *s, void **p, size_t *cap, size_t need, size_t sz)
{
    size_t old = *cap;
    if (tropt_host_grow(s->host, p, cap, need, sz) != 0)
        return SQLITE_NOMEM;
    memset((char *)*p + old * sz, 0, (*cap - old) * sz);
    return SQLITE_OK;
}

/* Start a transaction's aggregates: every key known so far gets an entry. */
int tsq_agg_begin(tsq *s)
{
    size_t need = s->keys.n + 1;
    int rc = grow_zero(s, (void **)&s->touched, &s->captouched, need, sizeof *s->touched);
    if (!rc)
        rc = grow_zero(s, (void **)&s->agg, &s->capagg, need, sizeof *s->agg);
    if (rc)
        return rc;
    if (++s->agg_mark == 0) { /* wrapped: forget every old mark */
        for (size_t i = 0; i < s->capagg; i++)
            s->agg[i].mark = 0;
        s->agg_mark = 1;
    }
    s->ntouched = 0;
    return SQLITE_OK;
}

tsq_agg *tsq_agg_entry(tsq *s, size_t i)
{
    tsq_agg *a = &s->agg[i];
    if (a->mark != s->agg_mark) {
        memset(a, 0, sizeof *a);
        a->mark = s->agg_mark;
        a->lo.sqltype = a->hi.sqltype = SQLITE_NULL;
        a->nan_step = INT64_MAX;
        s->touched[s->ntouched++] = (uint32_t)i;
    }
    return a;
}

/* A new row (step, v) of agg entry i (TEXT in the batch's arena). */
void tsq_agg_add(tsq *s, size_t i, int64_t step, const tsq_val *v)
{
    tsq_agg *a = tsq_agg_entry(s, i);
    if (a->n++ == 0 || step >= a->last_step) {
        a->last_step = step;
        a->last = *v;
        a->arena = &s->batch.text;
    }
    if (v->sqltype == SQLITE_INTEGER || v->sqltype == SQLITE_FLOAT) {
        if (a->lo.sqltype == SQLITE_NULL || num_cmp(v, &a->lo) < 0)
            a->lo = *v;
        if (a->hi.sqltype == SQLITE_NULL || num_cmp(v, &a->hi) > 0)
            a->hi = *v;
    }
    if (v->kind == TSQL_KIND_NAN && step < a->nan_step)
        a->nan_step = step;
}

/* Merge aggregate src into dst (src's last wins only with a larger step, or
 * when dst is empty). */
static void agg_merge(tsq_agg *dst, const tsq_agg *src)
{
    if (src->n == 0)
        return;
    if (dst->n == 0 || src->last_step > dst->last_step) {
        dst->last_step = src->last_step;
        dst->last = src->last;
        dst->arena = src->arena;
    }
    if (dst->n == 0) {
        dst->lo = src->lo;
        dst->hi = src->hi;
        dst->nan_step = src->nan_step;
    } else {
        if (src->lo.sqltype != SQLITE_NULL &&
            (dst->lo.sqltype == SQLITE_NULL || num_cmp(&src->lo, &dst->lo) < 0))
            dst->lo = src->lo;
        if (src->hi.sqltype != SQLITE_NULL &&
            (dst->hi.sqltype == SQLITE_NULL || num_cmp(&src->hi, &dst->hi) > 0))
            dst->hi = src->hi;
        if (src->nan_step < dst->nan_step)
            dst->nan_step = src->nan_step;
    }
    dst->n += src->n;
}

/* Before the commit of a transaction that does not merge: room to keep its
 * aggregates afterwards (so that keeping them cannot fail once committed). */
int tsq_pend_reserve(tsq *s)
{
    size_t need = s->keys.n + 1, text = 0;
    int rc = grow_zero(s, (void **)&s->pend, &s->cappend, need, sizeof *s->pend);
    if (!rc)
        rc = grow_zero(s, (void **)&s->pend_touched, &s->cappendt, need, sizeof *s->pend_touched);
    for (size_t t = 0; !rc && t < s->ntouched; t++) {
        const tsq_agg *a = &s->agg[s->touched[t]];
        if (a->last.sqltype == SQLITE_TEXT)
            text += strlen(s->batch.text.p + a->last.u.off) + 1;
    }
    if (!rc && s->pend_text.n + text > s->pend_text.cap)
        rc = grow_zero(s, (void **)&s->pend_text.p, &s->pend_text.cap, s->pend_text.n + text, 1);
    return rc;
}

/* After a commit that did not merge: keep its aggregates for the next merge
 * (TEXT copied, the batch is about to be cleared), in the room tsq_pend_reserve
 * made. */
static void pend_keep(tsq *s)
{
    for (size_t t = 0; t < s->ntouched; t++) {
        size_t i = s->touched[t];
        tsq_agg *p = &s->pend[i];
        const tsq_agg *a = &s->agg[i];
        if (p->n == 0) {
            memset(p, 0, sizeof *p);
            s->pend_touched[s->npend++] = (uint32_t)i;
        }
        agg_merge(p, a);
        if (p->arena == &s->batch.text) {
            if (p->last.sqltype == SQLITE_TEXT) {
                const char *txt = s->batch.text.p + p->last.u.off;
                size_t len = strlen(txt);
                memcpy(s->pend_text.p + s->pend_text.n, txt, len + 1);
                p->last.u.off = s->pend_text.n;
                s->pend_text.n += len + 1;
            }
            p->arena = &s->pend_text;
        }
    }
}

void tsq_pend_drop(tsq *s)
{
    for (size_t t = 0; t < s->npend; t++)
        s->pend[s->pend_touched[t]].n = 0;
    s->npend = 0;
    s->pend_text.n = 0;
}

/* After a commit: what it merged is in tropt_stat; what it did not, kept. */
void tsq_stat_committed(tsq *s)
{
    if (!s->stat_merging) {
        pend_keep(s);
        return;
    }
    tsq_pend_drop(s);
    s->stat_force = 0;
    s->stat_at = tsq_monotonic();
}

/* The tropt_key id of agg entry i (0: the steps). */
static int agg_key_id(tsq *s, size_t i, int64_t *kid)
{
    if (i == 0) {
        *kid = 0;
        return SQLITE_OK;
    }
    return tsq_key_id(s, (uint32_t)(i - 1), kid);
}

int tsq_fold_range(tsq *s, int64_t run, int64_t lo, int64_t hi)
{
    static const int fold[] = {TSQ_STAT_FOLD_LAST, TSQ_STAT_FOLD_RANGE};
    int rc = SQLITE_OK;
    for (size_t k = 0; !rc && k < sizeof fold / sizeof *fold; k++) {
        sqlite3_stmt *st = s->st[fold[k]];
        sqlite3_bind_int64(st, 1, run);
        sqlite3_bind_int64(st, 2, lo);
        if (hi == INT64_MAX) /* no upper bound: above every step (TSQL_NO_CUTOFF_) */
            sqlite3_bind_double(st, 3, 9223372036854775808.0);
        else
            sqlite3_bind_int64(st, 3, hi);
        rc = tsq_step(s, st);
    }
    return rc;
}

/* Fold run's current rows above its S into tropt_stat (a writer that died
 * or left without finishing): only its latest attempt has any. */
int tsq_fold_tail(tsq *s, int64_t run)
{
    int64_t S = -1;
    sqlite3_stmt *st = s->st[TSQ_RUN_STAT_STEP];
    sqlite3_bind_int64(st, 1, run);
    int rc = tsq_int(st, &S);
    return rc ? rc : tsq_fold_range(s, run, S, INT64_MAX);
}

int tsq_stat_recompute(tsq *s, int64_t run, int64_t kid)
{
    static const int redo[] = {TSQ_STAT_UNCOUNT, TSQ_STAT_RECOUNT, TSQ_STAT_RERANGE};
    int rc = SQLITE_OK;
    for (size_t k = 0; !rc && k < sizeof redo / sizeof *redo; k++) {
        sqlite3_bind_int64(s->st[redo[k]], 1, run);
        sqlite3_bind_int64(s->st[redo[k]], 2, kid);
        rc = tsq_step(s, s->st[redo[k]]);
    }
    return rc;
}

/* Merge the pending and the transaction's aggregates into tropt_stat: one
 * upsert per TSQL_STAT_ROWS keys, or recomputed from the rows for a key a
 * changed value made dirty. */
/* Bind aggregate a (entry index) as row j of a TSQL_STAT_INSERT statement. */
static int bind_agg(tsq *s, sqlite3_stmt *st, int j, uint32_t index)
{
    const tsq_agg *a = &s->agg[index];
    int p = 2 + 8 * j;
    int64_t kid;
    int rc = agg_key_id(s, index, &kid);
    if (!rc)
        rc = sqlite3_bind_int64(st, p, kid);
    if (!rc)
        rc = sqlite3_bind_int64(st, p + 1, a->n);
    if (!rc)
        rc = sqlite3_bind_int64(st, p + 2, a->last_step);
    if (!rc)
        rc = tsq_bind_val(st, p + 3, &a->last, a->arena);
    if (!rc)
        rc = tsq_bind_value(st, p + 5, &a->lo, a->arena);
    if (!rc)
        rc = tsq_bind_value(st, p + 6, &a->hi, a->arena);
    if (!rc)
        rc = a->nan_step == INT64_MAX ? sqlite3_bind_null(st, p + 7)
                                      : sqlite3_bind_int64(st, p + 7, a->nan_step);
    return rc;
}

/* Merge the nb aggregates of batch into tropt_stat in one statement. */
static int merge_batch(tsq *s, int64_t run, const uint32_t *batch, int nb)
{
    int rc = tsq_multi_stmt(s, &s->stat[nb], nb, TSQL_STAT_INSERT, TSQL_STAT_INSERT_MORE,
                            TSQL_STAT_MERGE);
    sqlite3_stmt *st = s->stat[nb];
    if (!rc)
        rc = sqlite3_bind_int64(st, 1, run);
    for (int j = 0; !rc && j < nb; j++)
        rc = bind_agg(s, st, j, batch[j]);
    return rc ? rc : tsq_step(s, st);
}

int tsq_agg_flush(tsq *s, int64_t run)
{
    int rc = SQLITE_OK;
    for (size_t t = 0; t < s->npend; t++) {
        size_t i = s->pend_touched[t];
        agg_merge(tsq_agg_entry(s, i), &s->pend[i]);
    }
    uint32_t batch[TSQL_STAT_ROWS];
    int nb = 0;
    for (size_t t = 0; !rc && t <= s->ntouched; t++) {
        if (t < s->ntouched && !s->agg[s->touched[t]].dirty) {
            batch[nb++] = s->touched[t];
            if (nb < TSQL_STAT_ROWS)
                continue;
        }
        if (nb > 0)
            rc = merge_batch(s, run, batch, nb);
        nb = 0;
    }
    for (size_t t = 0; !rc && t < s->ntouched; t++) {
        if (!s->agg[s->touched[t]].dirty)
            continue;
        int64_t kid;
        rc = agg_key_id(s, s->touched[t], &kid);
        if (!rc)
            rc = tsq_stat_recompute(s, run, kid);
    }
    return rc;
}
