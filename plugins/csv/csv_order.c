/*
 * plugins/csv/csv_order.c - reading a run whose steps are not ascending
 * (csv_read.h): a run that went back to earlier steps (a restart from a
 * checkpoint, continued into its folder) or logged steps out of order
 * holds a step in several rows, or after a larger one.  A reader gives each
 * step once, in ascending order, the last row of a step winning (as sqlite
 * keeps the last write): the file is scanned for its steps without typing
 * a value, and only when they are not ascending indexed (40 bytes per step
 * row), sorted, and read again row by row, typed through types.csv held in
 * memory.
 */
#include "csv_read.h"

#include "tropt_mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The step and time cells of the record being scanned. */
typedef struct scan {
    int field, inq, bad;
    char cell[2][64];
    size_t len[2];
    off_t start;
    long line;
    uint64_t row;
    /* the step gathered (long: records with the same step and time) */
    int have;
    char prev[2][64];
    int64_t last; /* the largest step so far */
    int any, ascending;
} scan;

/* The step cell as the reader takes it: a non-negative decimal integer. */
static int64_t step_of(scan *sc)
{
    const char *s = sc->cell[0];
    if (sc->bad || sc->len[0] == 0 || sc->len[0] >= sizeof sc->cell[0] - 1 ||
        strspn(s, "0123456789") != sc->len[0])
        return INT64_MIN;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    return errno ? INT64_MIN : v;
}

static int push(const tropt_host *h, csv_steps *idx, const csv_steprec *r)
{
    if (tropt_host_grow(h, (void **)&idx->v, &idx->cap, idx->n + 1, sizeof *idx->v) != 0)
        return -1;
    idx->v[idx->n++] = *r;
    return 0;
}

/* A record ended: a new step, or one more record of the long step. */
static int record_end(const tropt_host *h, scan *sc, int long_layout, csv_steps *idx,
                      csv_stepstat *st)
{
    int64_t step = step_of(sc);
    sc->cell[0][sc->len[0]] = sc->cell[1][sc->len[1]] = '\0';
    int same = long_layout && sc->have && step != INT64_MIN &&
               strcmp(sc->cell[0], sc->prev[0]) == 0 && strcmp(sc->cell[1], sc->prev[1]) == 0;
    if (same) {
        if (idx)
            idx->v[idx->n - 1].nrec++;
    } else {
        if (step != INT64_MIN) {
            sc->ascending &= !sc->any || step > sc->last;
            sc->last = sc->any && sc->last > step ? sc->last : step;
            sc->any = 1;
            if (st)
                csv_stat_add(st, step);
        }
        memcpy(sc->prev, sc->cell, sizeof sc->prev);
        sc->have = 1;
        csv_steprec r = {step, sc->row, sc->start, sc->line, 1};
        if (idx && push(h, idx, &r) != 0)
            return -1;
    }
    sc->row++;
    sc->field = 0;
    sc->bad = 0;
    sc->len[0] = sc->len[1] = 0;
    return 0;
}

/* One byte c at offset pos of the file. */
static int scan_byte(const tropt_host *h, scan *sc, char c, off_t pos, int long_layout,
                     csv_steps *idx, csv_stepstat *st)
{
    if (c == '"') {
        sc->inq = !sc->inq;
        sc->bad |= sc->field < 2;
    } else if (c == '\n') {
        if (!sc->inq) {
            int rc = record_end(h, sc, long_layout, idx, st);
            sc->start = pos + 1;
            if (st)
                st->bytes = (int64_t)sc->start;
            sc->line++;
            return rc;
        }
        sc->line++;
    } else if (sc->inq || c == '\r') {
        /* inside a quoted cell, or a CRLF */
    } else if (c == ',') {
        sc->field++;
    } else if (sc->field < 2) {
        size_t *n = &sc->len[sc->field];
        if (*n < sizeof sc->cell[0] - 1)
            sc->cell[sc->field][(*n)++] = c;
    }
    return 0;
}

int csv_steps_scan(const tropt_host *h, FILE *f, off_t off, long line, int long_layout,
                   csv_steps *idx, csv_stepstat *st)
{
    if (fseeko(f, off, SEEK_SET) != 0)
        return -1;
    scan sc;
    memset(&sc, 0, sizeof sc);
    sc.start = off;
    sc.line = line;
    sc.ascending = 1;
    char buf[1 << 16];
    size_t got;
    off_t pos = off;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
        for (size_t i = 0; i < got; i++, pos++) {
            if (!sc.inq && sc.field >= 2) {
                /* past the step and time: on to the next line end or quote */
                const char *p = buf + i, *end = buf + got;
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                const char *q = memchr(p, '"', (size_t)((nl ? nl : end) - p));
                const char *stop = q ? q : nl ? nl : end;
                pos += stop - p;
                if ((i = (size_t)(stop - buf)) >= got)
                    break;
            }
            if (scan_byte(h, &sc, buf[i], pos, long_layout, idx, st) != 0) {
                errno = ENOMEM;
                return -1;
            }
        }
    }
    if (ferror(f))
        return -1;
    return sc.ascending;
}

static int by_step_row(const void *a, const void *b)
{
    const csv_steprec *x = a, *y = b;
    if (x->step != y->step)
        return x->step < y->step ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

void csv_steps_sort(csv_steps *idx)
{
    qsort(idx->v, idx->n, sizeof *idx->v, by_step_row);
}

void csv_steps_free(const tropt_host *h, csv_steps *idx)
{
    h->free(idx->v);
    memset(idx, 0, sizeof *idx);
}

/* ---- types.csv in memory ---------------------------------------------- */

/* The list of key (created when new); NULL when out of memory. */
static struct csv_typelist *list_of(csv_typemap *tm, const char *key)
{
    const json_t *at = json_object_get(tm->keys, key);
    if (at)
        return &tm->lists[json_integer_value(at)];
    if (tropt_host_grow(tm->h, (void **)&tm->lists, &tm->cap, tm->nlists + 1, sizeof *tm->lists))
        return NULL;
    if (json_object_set_new_nocheck(tm->keys, key, json_integer((json_int_t)tm->nlists)) != 0)
        return NULL;
    struct csv_typelist *l = &tm->lists[tm->nlists++];
    memset(l, 0, sizeof *l);
    return l;
}

static int list_add(const tropt_host *h, struct csv_typelist *l, uint64_t row, int type)
{
    void **const arrays[] = {(void **)&l->row, (void **)&l->type};
    const size_t elem[] = {sizeof *l->row, sizeof *l->type};
    if (tropt_host_grow_all(h, &l->cap, l->n + 1, 2, arrays, elem) != 0)
        return -1;
    /* records come in row order (a later one of the same row wins) */
    while (l->n && l->row[l->n - 1] > row)
        l->n--;
    l->row[l->n] = row;
    l->type[l->n++] = (unsigned char)type;
    return 0;
}

int csv_typemap_load(csv_typemap *tm, const tropt_host *h, const char *folder, const char *name)
{
    memset(tm, 0, sizeof *tm);
    tm->h = h;
    if (!(tm->keys = json_object()))
        return h->error(TROPT_ENOMEM, "out of memory");
    csv_typer t;
    int rc = csv_typer_open(&t, h, folder, name);
    const char *key;
    int type, got = 0;
    while (!rc && (got = csv_typer_next(&t, UINT64_MAX - 1, &key, &type)) == 1) {
        struct csv_typelist *l = list_of(tm, key);
        if (!l || list_add(h, l, t.next_row, type) != 0)
            rc = h->error(TROPT_ENOMEM, "out of memory");
    }
    csv_typer_close(&t);
    return rc ? rc : got;
}

int csv_typemap_at(const csv_typemap *tm, const char *key, uint64_t row)
{
    const json_t *at = json_object_get(tm->keys, key);
    if (!at)
        return CSV_T_NONE;
    const struct csv_typelist *l = &tm->lists[json_integer_value(at)];
    size_t lo = 0, hi = l->n; /* the first record after row */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->row[mid] <= row)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? l->type[lo - 1] : CSV_T_NONE;
}

void csv_typemap_free(csv_typemap *tm)
{
    if (!tm->h)
        return;
    for (size_t i = 0; i < tm->nlists; i++) {
        tm->h->free(tm->lists[i].row);
        tm->h->free(tm->lists[i].type);
    }
    tm->h->free(tm->lists);
    json_decref(tm->keys);
    memset(tm, 0, sizeof *tm);
}
