/*
 * plugins/csv/csv_rows.c - the queue of rows: formatting a step into the arena, and
 * the queued rows as wide or long records.
 * See csv_priv.h for the state and who updates it.
 */
#include "csv_priv.h"

#include <string.h>

void queue_clear(csv *c)
{
    c->nrows = c->ncells = c->ndeferred = c->nfull = c->nempty = 0;
    c->arena.len = 0;
    c->qbytes = 0;
    c->fmt.len = 0;
    c->fmt_rows = 0;
}

/* Bytes of memory the queued rows hold (what pending_max bounds). */
uint64_t pending_bytes(const csv *c)
{
    return (uint64_t)c->arena.len + (uint64_t)c->fmt.len + (uint64_t)c->tq.len +
           (uint64_t)c->nrows * sizeof(row) + (uint64_t)c->ncells * sizeof(cell);
}

/* The column of the key at position i of a step: a step usually logs the
 * keys of the step before in the same order, so the column that position
 * had last time is tried first (one strcmp) before the hash. */
static size_t field_col(csv *c, size_t i, const char *key)
{
    size_t col = c->hint[i];
    if (col < c->nkeys && strcmp(c->keys[col], key) == 0)
        return col;
    col = key_col(c, key);
    c->hint[i] = col;
    return col;
}

/* Format one step into the queue: the record text, its cells marked. */
int queue_row(csv *c, int64_t step, double time, const tropt_field *f, size_t n)
{
    const tropt_host *h = c->h;
    tev_buf *a = &c->arena;
    size_t arena0 = a->len, cells0 = c->ncells;
    if (tropt_host_grow(c->h, (void **)&c->rows, &c->rcap, c->nrows + 1, sizeof *c->rows) != 0 ||
        tropt_host_grow(c->h, (void **)&c->cells, &c->ccap, c->ncells + n, sizeof *c->cells) != 0 ||
        tropt_host_grow(c->h, (void **)&c->hint, &c->hint_cap, n, sizeof *c->hint) != 0)
        return oom(c);
    if (n > c->hint_n) { /* positions never seen: no hint yet */
        for (size_t i = c->hint_n; i < n; i++)
            c->hint[i] = (size_t)-1;
        c->hint_n = n;
    }
    if (tev_buf_reserve(a, 2 * CSV_NUM_MAX) != 0)
        return oom(c);
    row *r = &c->rows[c->nrows];
    r->step = step;
    r->head_off = a->len;
    char *o = a->data + a->len;
    o += tropt_put_i64(o, step);
    *o++ = ',';
    o += h->format_real(o, CSV_NUM_MAX, time);
    a->len = (size_t)(o - a->data);
    r->head_len = a->len - r->head_off;
    r->bytes = r->head_len;
    r->cell0 = c->ncells;
    r->ordered = 1;
    for (size_t i = 0; i < n; i++) {
        size_t col = field_col(c, i, f[i].key);
        if (col == (size_t)-1)
            goto nomem;
        cell *x = &c->cells[c->ncells++];
        x->col = col;
        r->ordered &= col == i;
        if (a->cap - a->len < CSV_NUM_MAX + 2 && tev_buf_reserve(a, CSV_NUM_MAX + 1) != 0)
            goto nomem;
        a->data[a->len++] = ',';
        x->off = a->len;
        if (f[i].type == TROPT_REAL && f[i].v.r != 0) {
            a->len += h->format_real(a->data + a->len, CSV_NUM_MAX, f[i].v.r);
        } else if (f[i].type == TROPT_INT) {
            a->len += tropt_put_i64(a->data + a->len, f[i].v.i);
        } else if (csv_put_value(h, a, &f[i], &c->scratch) != 0) {
            goto nomem;
        }
        x->len = a->len - x->off;
        r->bytes += x->len;
    }
    if (tev_buf_append(a, "\r\n", 2) != 0 || types_note(c, f, n) != 0)
        goto nomem;
    r->end = a->len;
    r->ncells = c->ncells - r->cell0;
    c->nfull += r->ordered && r->ncells == c->nkeys;
    c->nempty += r->ncells == 0;
    c->qbytes += r->bytes;
    c->nrows++;
    return TROPT_OK;
nomem:
    a->len = arena0;
    c->ncells = cells0;
    return oom(c);
}

int put_header(csv *c, tev_buf *b)
{
    if (tev_buf_puts(b, c->layout == LAYOUT_LONG ? "step,time,key,value" : "step,time") != 0)
        return -1;
    for (size_t i = 0; c->layout == LAYOUT_WIDE && i < c->nkeys; i++) {
        const char *key = c->keys[i];
        if (tev_buf_putc(b, ',') != 0 || (reserved_key(key) && tev_buf_putc(b, '_') != 0) ||
            tev_buf_append(b, c->kcell[i], c->kcell_len[i]) != 0)
            return -1;
    }
    return tev_buf_append(b, "\r\n", 2);
}

/* Rows [from, to) appended to b as wide records of ncols key columns
 * (colmap, all zero before and after, marks the row's cells meanwhile).
 * -1 when out of memory, b then holding part of the rows. */
static int put_wide_rows(csv *c, tev_buf *b, size_t from, size_t to, size_t ncols)
{
    const char *a = c->arena.data;
    for (size_t i = from; i < to; i++) {
        const row *r = &c->rows[i];
        if (tev_buf_reserve(b, r->bytes + ncols + 2) != 0)
            return -1;
        if (r->ordered) { /* its text, then the columns it lacks */
            size_t len = r->end - 2 - r->head_off;
            char *o = b->data + b->len;
            memcpy(o, a + r->head_off, len);
            o += len;
            for (size_t col = r->ncells; col < ncols; col++)
                *o++ = ',';
            *o++ = '\r';
            *o++ = '\n';
            b->len = (size_t)(o - b->data);
            continue;
        }
        for (size_t k = 0; k < r->ncells; k++)
            c->colmap[c->cells[r->cell0 + k].col] = r->cell0 + k + 1;
        char *o = b->data + b->len;
        memcpy(o, a + r->head_off, r->head_len);
        o += r->head_len;
        for (size_t col = 0; col < ncols; col++) {
            *o++ = ',';
            if (c->colmap[col]) {
                const cell *x = &c->cells[c->colmap[col] - 1];
                memcpy(o, a + x->off, x->len);
                o += x->len;
            }
        }
        *o++ = '\r';
        *o++ = '\n';
        b->len = (size_t)(o - b->data);
        for (size_t k = 0; k < r->ncells; k++)
            c->colmap[c->cells[r->cell0 + k].col] = 0;
    }
    return 0;
}

/* Rows [from, to) as long records: step,time,key,value per cell. */
int put_long_rows(csv *c, tev_buf *b, size_t from, size_t to)
{
    const char *a = c->arena.data;
    for (size_t i = from; i < to; i++) {
        const row *r = &c->rows[i];
        if (r->ncells == 0) { /* a step without fields: key and value empty */
            if (tev_buf_reserve(b, r->head_len + 4) != 0)
                return -1;
            memcpy(b->data + b->len, a + r->head_off, r->head_len);
            b->len += r->head_len;
            memcpy(b->data + b->len, ",,\r\n", 4);
            b->len += 4;
        }
        for (size_t k = 0; k < r->ncells; k++) {
            const cell *x = &c->cells[r->cell0 + k];
            size_t klen = c->kcell_len[x->col];
            const char *kcell = c->kcell[x->col];
            size_t need = r->head_len + klen + x->len + 4;
            if (b->cap - b->len < need + 1 && tev_buf_reserve(b, need) != 0)
                return -1;
            char *o = b->data + b->len;
            memcpy(o, a + r->head_off, r->head_len);
            o += r->head_len;
            *o++ = ',';
            memcpy(o, kcell, klen);
            o += klen;
            *o++ = ',';
            memcpy(o, a + x->off, x->len);
            o += x->len;
            *o++ = '\r';
            *o++ = '\n';
            b->len = (size_t)(o - b->data);
        }
    }
    if (b->data)
        b->data[b->len] = '\0';
    return 0;
}

/* Format the queued rows not formatted yet into c->fmt, as records of
 * metrics.csv (all of them again when the columns changed).  -1 when out
 * of memory (c->fmt then holds what it held). */
int format_queued(csv *c)
{
    if (c->layout == LAYOUT_WIDE && c->fmt_ncols != c->nkeys) {
        c->fmt.len = 0;
        c->fmt_rows = 0;
    }
    size_t n0 = c->fmt.len;
    if (c->layout == LAYOUT_LONG
            ? put_long_rows(c, &c->fmt, c->fmt_rows, c->nrows) != 0
            : put_wide_rows(c, &c->fmt, c->fmt_rows, c->nrows, c->nkeys) != 0) {
        c->fmt.len = n0;
        return -1;
    }
    c->fmt_rows = c->nrows;
    c->fmt_ncols = c->nkeys;
    return 0;
}
