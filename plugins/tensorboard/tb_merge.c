/*
 * plugins/tensorboard/tb_merge.c - the second pass over an attempt's files
 * (see tb_scan.h): one cursor per event file yields that file's live steps
 * in ascending order, each step the fields of its consecutive events; the
 * merge takes the lowest step of all cursors, joins the cursors' fields
 * (a later file's value of a key wins) and emits or counts it.  Memory:
 * one step per file.  Then the attempt's system samples, merged by time
 * the same way.
 */
#include "tb_scan.h"

#include "tb_record.h"
#include "tropt_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The fields of one step of one file. */
typedef struct group {
    int has;
    int64_t step;
    double time;
    int events; /* how many events made it (>1: keys may repeat) */
    int exact;  /* it holds exact values of DT_FLOAT scalars (keys repeat) */
    tev_buf arena;
    tbr_item *items;
    size_t n, cap;
} group;

typedef struct cursor {
    tbr_file *f;
    int fd;
    tb_recin in;
    size_t seg;
    int eof;
    group cur, ahead; /* the step being yielded; the first event of the next */
} cursor;

static void group_clear(group *g)
{
    for (size_t i = 0; i < g->n; i++)
        json_decref(g->items[i].json);
    g->n = 0;
    g->has = 0;
    g->events = 0;
    g->exact = 0;
    tev_buf_clear(&g->arena);
}

static void group_free(const tropt_host *h, group *g)
{
    group_clear(g);
    tev_buf_free(&g->arena);
    h->free(g->items);
}

/* Decode the user fields of summary event ev into g (opened at the event's
 * step if empty).  *contributes: the event makes a step (it has user
 * fields, or no value at all: a step logged without fields).  0 or
 * TROPT_ENOMEM. */
static int add_event(tbr_scan *s, group *g, const tb_event *ev, int *contributes)
{
    pb_in in = pb_in_of(ev->summary, ev->summary_len);
    tb_sval v;
    int r, nvals = 0, added = 0;
    if (!g->has) {
        g->has = 1;
        g->step = ev->step;
        g->time = ev->wall_time;
    }
    while ((r = tb_next_value(&in, &v)) == 1) {
        nvals++;
        if (tropt_host_grow(s->r->h, (void **)&g->items, &g->cap, g->n + 1, sizeof *g->items))
            return TROPT_ENOMEM;
        int cls = tbr_classify(s, &v, &g->arena, &g->items[g->n]);
        if (cls < 0)
            return TROPT_ENOMEM;
        if (cls == VC_USER) {
            g->exact |= g->items[g->n].exact;
            g->n++;
            added++;
        }
    }
    *contributes = nvals == 0 || added > 0;
    if (*contributes)
        g->events++;
    return TROPT_OK;
}

/* The next live summary event of the cursor's file into *ev (borrowing the
 * record buffer).  1, 0 at the end, or an error (< 0). */
static int next_event(tbr_scan *s, cursor *c, tb_event *ev)
{
    while (!c->eof) {
        const unsigned char *d;
        size_t n;
        off_t at;
        tb_rec_status st = tb_recin_next(&c->in, &d, &n, &at);
        if (st == TB_REC_IOERR)
            return errno == ENOMEM ? s->r->h->error(TROPT_ENOMEM, "out of memory")
                                   : s->r->h->error(TROPT_EBACKEND, "cannot read '%s': %s",
                                                    c->f->path, strerror(errno));
        if (st == TB_REC_BAD_DATA)
            continue; /* reported by the first pass */
        if (st != TB_REC_OK) {
            c->eof = 1;
            break;
        }
        while (c->seg + 1 < c->f->nsegs && at >= c->f->segs[c->seg + 1].off)
            c->seg++;
        if (tb_decode_event(d, n, ev) != 0 || ev->what != TBE_SUMMARY ||
            ev->step >= c->f->segs[c->seg].cut || tbr_is_system(ev->summary, ev->summary_len))
            continue;
        return 1;
    }
    return 0;
}

/* Fill c->cur with the cursor's next step (c->cur.has 0 at the end). */
static int cursor_next(tbr_scan *s, cursor *c)
{
    group_clear(&c->cur);
    if (c->ahead.has) {
        group t = c->cur;
        c->cur = c->ahead;
        c->ahead = t;
    }
    tb_event ev;
    int r;
    while ((r = next_event(s, c, &ev)) == 1) {
        group *g = !c->cur.has || ev.step == c->cur.step ? &c->cur : &c->ahead;
        int contributes, was = g->has;
        if ((r = add_event(s, g, &ev, &contributes)) != TROPT_OK)
            return r == TROPT_ENOMEM ? s->r->h->error(TROPT_ENOMEM, "out of memory") : r;
        if (!contributes && !was)
            group_clear(g); /* only records of ours or skipped values */
        if (c->ahead.has)
            break;
    }
    return r < 0 ? r : TROPT_OK;
}

static int cursor_open(tbr_scan *s, cursor *c, tbr_file *f)
{
    memset(c, 0, sizeof *c);
    c->f = f;
    c->fd = -1;
    tev_buf_init(&c->cur.arena, s->r->h->realloc, s->r->h->free);
    tev_buf_init(&c->ahead.arena, s->r->h->realloc, s->r->h->free);
    if (f->size == 0) { /* empty, or left out by the first pass */
        c->eof = 1;
        return TROPT_OK;
    }
    c->fd = open(f->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (c->fd < 0)
        return s->r->h->error(TROPT_EBACKEND, "cannot read '%s': %s", f->path, strerror(errno));
    tb_recin_init(&c->in, s->r->h, c->fd, 0, f->size);
    return cursor_next(s, c);
}

static void cursor_close(const tropt_host *h, cursor *c)
{
    tb_recin_free(&c->in);
    if (c->fd >= 0)
        close(c->fd);
    group_free(h, &c->cur);
    group_free(h, &c->ahead);
}

/* ---- the merge -------------------------------------------------------------- */

typedef struct merged {
    int64_t attempt, bound; /* the attempt merged; counting: steps below bound */
    tropt_field *f;
    size_t n, cap;
    size_t *order; /* for the duplicate check */
    size_t ocap;
} merged;

/* The comparison of qsort gets the fields through this: one merge at a
 * time per thread. */
static _Thread_local const tropt_field *sort_fields;

/* By key, then by position. */
static int cmp_order(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = strcmp(sort_fields[x].key, sort_fields[y].key);
    return c ? c : (x > y) - (x < y);
}

/* Keep the last field of each key, in the order of those kept. */
static int dedupe(const tropt_host *h, merged *m)
{
    if (m->n < 2)
        return TROPT_OK;
    if (tropt_host_grow(h, (void **)&m->order, &m->ocap, m->n, sizeof *m->order))
        return TROPT_ENOMEM;
    for (size_t i = 0; i < m->n; i++)
        m->order[i] = i;
    sort_fields = m->f;
    qsort(m->order, m->n, sizeof *m->order, cmp_order);
    /* mark every field followed by one of the same key (type NULL + key
     * NULL marks a dropped slot) */
    for (size_t i = 0; i + 1 < m->n; i++)
        if (strcmp(m->f[m->order[i]].key, m->f[m->order[i + 1]].key) == 0)
            m->f[m->order[i]].key = NULL;
    size_t k = 0;
    for (size_t i = 0; i < m->n; i++)
        if (m->f[i].key)
            m->f[k++] = m->f[i];
    m->n = k;
    return TROPT_OK;
}

static int add_group(const tropt_host *h, merged *m, const group *g)
{
    if (tropt_host_grow(h, (void **)&m->f, &m->cap, m->n + g->n, sizeof *m->f))
        return TROPT_ENOMEM;
    for (size_t i = 0; i < g->n; i++) {
        const tbr_item *it = &g->items[i];
        tropt_field *f = &m->f[m->n++];
        f->key = g->arena.data + it->key;
        f->type = it->type;
        switch (it->type) {
        case TROPT_INT:
            f->v.i = it->i;
            break;
        case TROPT_REAL:
            f->v.r = it->r;
            break;
        case TROPT_BOOL:
            f->v.b = (int)it->i;
            break;
        case TROPT_STRING:
            f->v.s = g->arena.data + it->s;
            break;
        case TROPT_JSON:
            f->v.json = it->json;
            break;
        case TROPT_NULL:
            break;
        }
    }
    return TROPT_OK;
}

/* The lowest step any cursor holds; 0 when all ended. */
static int lowest(cursor *cs, size_t n, int64_t *step)
{
    int any = 0;
    for (size_t i = 0; i < n; i++)
        if (cs[i].cur.has && (!any || cs[i].cur.step < *step)) {
            *step = cs[i].cur.step;
            any = 1;
        }
    return any;
}

/* Emit (or count) the step held by the cursors at `step`, and move them on. */
static int merge_step(tbr_scan *s, cursor *cs, size_t n, int64_t step, merged *m,
                      const tropt_stored_run *info, tropt_event_fn fn, void *ud)
{
    const tropt_host *h = s->r->h;
    int rc = TROPT_OK, sources = 0, repeats = 0;
    double time = 0;
    m->n = 0;
    for (size_t i = 0; i < n && rc == TROPT_OK; i++) {
        if (!cs[i].cur.has || cs[i].cur.step != step)
            continue;
        if (sources++ == 0)
            time = cs[i].cur.time;
        repeats |= cs[i].cur.events > 1 || cs[i].cur.exact;
        if (fn)
            rc = add_group(h, m, &cs[i].cur);
    }
    if (rc == TROPT_OK && fn && (sources > 1 || repeats))
        rc = dedupe(h, m);
    if (rc == TROPT_ENOMEM)
        return h->error(TROPT_ENOMEM, "out of memory");
    if (fn) {
        tropt_event ev = {.kind = TROPT_EVENT_STEP,
                          .run = info,
                          .step = step,
                          .time = time,
                          .fields = m->f,
                          .n = m->n,
                          .attempt = m->attempt};
        if ((rc = fn(&ev, ud)) != 0)
            return rc;
    } else if (step < m->bound) {
        s->run->n_steps++;
    }
    for (size_t i = 0; i < n && rc == TROPT_OK; i++)
        if (cs[i].cur.has && cs[i].cur.step == step)
            rc = cursor_next(s, &cs[i]);
    return rc;
}

int tbr_merge(tbr_scan *s, int64_t attempt, int64_t bound, const tropt_stored_run *info,
              tropt_event_fn fn, void *ud)
{
    const tropt_host *h = s->r->h;
    size_t n = 0;
    for (size_t i = 0; i < s->run->nfiles; i++)
        n += s->run->files[i].attempt == attempt;
    cursor *cs = h->malloc((n ? n : 1) * sizeof *cs);
    if (!cs)
        return h->error(TROPT_ENOMEM, "out of memory");
    merged m = {.attempt = attempt, .bound = bound};
    int rc = TROPT_OK;
    size_t opened = 0;
    for (size_t i = 0; i < s->run->nfiles && rc == TROPT_OK; i++)
        if (s->run->files[i].attempt == attempt)
            rc = cursor_open(s, &cs[opened++], &s->run->files[i]);
    int64_t step = 0;
    while (rc == TROPT_OK && lowest(cs, opened, &step))
        rc = merge_step(s, cs, opened, step, &m, info, fn, ud);
    for (size_t i = 0; i < opened; i++)
        cursor_close(h, &cs[i]);
    h->free(cs);
    h->free(m.f);
    h->free(m.order);
    return rc;
}

/* ---- system samples ------------------------------------------------------------ */

/* A file's system records, one at a time. */
typedef struct sys_cursor {
    tbr_file *f;
    int fd;
    tb_recin in;
    int has;
    tev_event ev;
} sys_cursor;

/* The next system record of the file into c->ev (c->has 0 at the end). */
static int sys_next(tbr_scan *s, sys_cursor *c)
{
    if (c->has)
        tev_event_clear(&c->ev);
    c->has = 0;
    for (;;) {
        const unsigned char *d;
        size_t n;
        off_t at;
        tb_rec_status st = tb_recin_next(&c->in, &d, &n, &at);
        if (st == TB_REC_IOERR)
            return errno == ENOMEM ? s->r->h->error(TROPT_ENOMEM, "out of memory")
                                   : s->r->h->error(TROPT_EBACKEND, "cannot read '%s': %s",
                                                    c->f->path, strerror(errno));
        if (st == TB_REC_BAD_DATA)
            continue;
        if (st != TB_REC_OK)
            return TROPT_OK;
        tb_event ev;
        if (tb_decode_event(d, n, &ev) != 0 || ev.what != TBE_SUMMARY ||
            !tbr_is_system(ev.summary, ev.summary_len))
            continue;
        pb_in in = pb_in_of(ev.summary, ev.summary_len);
        tb_sval v;
        tb_tensor t;
        const unsigned char *text;
        size_t len;
        char err[160];
        if (tb_next_value(&in, &v) != 1 || v.kind != TBS_TENSOR ||
            tb_decode_tensor(v.tensor, v.tensor_len, &t) != 0 ||
            tb_tensor_string(&t, &text, &len) != 0)
            continue;
        if (tev_decode((const char *)text, len, &c->ev, err, sizeof err) != 0) {
            if (strstr(err, "memory"))
                return s->r->h->error(TROPT_ENOMEM, "out of memory");
            continue;
        }
        if (c->ev.type == TEV_SYSTEM) {
            c->has = 1;
            return TROPT_OK;
        }
        tev_event_clear(&c->ev);
    }
}

static int sys_open(tbr_scan *s, sys_cursor *c, tbr_file *f)
{
    memset(c, 0, sizeof *c);
    c->f = f;
    c->fd = -1;
    if (f->size == 0)
        return TROPT_OK;
    c->fd = open(f->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (c->fd < 0)
        return s->r->h->error(TROPT_EBACKEND, "cannot read '%s': %s", f->path, strerror(errno));
    tb_recin_init(&c->in, s->r->h, c->fd, 0, f->size);
    return sys_next(s, c);
}

static void sys_close(sys_cursor *c)
{
    if (c->has)
        tev_event_clear(&c->ev);
    if (c->fd >= 0) {
        tb_recin_free(&c->in);
        close(c->fd);
    }
}

int tbr_emit_system(tbr_scan *s, int64_t attempt, const tropt_stored_run *info, tropt_event_fn fn,
                    void *ud)
{
    const tropt_host *h = s->r->h;
    size_t n = 0, opened = 0;
    for (size_t i = 0; i < s->run->nfiles; i++)
        n += s->run->files[i].attempt == attempt;
    sys_cursor *cs = h->malloc((n ? n : 1) * sizeof *cs);
    if (!cs)
        return h->error(TROPT_ENOMEM, "out of memory");
    int rc = TROPT_OK;
    for (size_t i = 0; i < s->run->nfiles && rc == TROPT_OK; i++)
        if (s->run->files[i].attempt == attempt)
            rc = sys_open(s, &cs[opened++], &s->run->files[i]);
    while (rc == TROPT_OK) {
        sys_cursor *low = NULL;
        for (size_t i = 0; i < opened; i++)
            if (cs[i].has && (!low || cs[i].ev.time < low->ev.time))
                low = &cs[i];
        if (!low)
            break;
        double t = low->ev.time;
        tropt_event ev = {.kind = TROPT_EVENT_SYSTEM,
                          .run = info,
                          .time = t,
                          .attempt = attempt,
                          .samples = low->ev.samples,
                          .n_samples = low->ev.n_samples};
        rc = fn(&ev, ud);
        /* the same samples in a replay's file: once */
        for (size_t i = 0; i < opened && rc == TROPT_OK; i++)
            if (cs[i].has && cs[i].ev.time == t)
                rc = sys_next(s, &cs[i]);
    }
    for (size_t i = 0; i < opened; i++)
        sys_close(&cs[i]);
    h->free(cs);
    return rc;
}
