/* plugins/jsonl/jsonl_stream.c - read_run: one run of a journal streamed as
 * plugin.h orders it: START (the first attempt's config, every attempt
 * listed), the first attempt's steps in ascending order, then for each
 * later attempt an ATTEMPT event (its config) and its steps, each attempt's
 * checkpoint marks and system samples after its steps, END once (the last
 * run_end's status and summary) if the latest attempt ended.  Every stored
 * step of every attempt is yielded: the host drops the superseded ones.
 *
 * The common journal (one attempt, steps in order, no marks or samples) is
 * streamed as the file is read.  Otherwise the run's lines are first
 * indexed (32 bytes a line: attempt, kind, step or seq, where), sorted, and
 * read again: the last line of a step within its attempt wins (a step
 * logged again, a run replayed into the journal again), and so does the
 * last line of a mark (the line with its hash). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonl_priv.h"
#include "tropt_mem.h"
#include "tropt_merge.h"

/* ---- flattening a config or summary ------------------------------------ */

typedef struct flat {
    tropt_field *f;
    size_t n, cap;
    char **keys;
} flat;

static int flat_add(reader *r, flat *fl, const char *prefix, const char *key, const json_t *v)
{
    size_t plen = prefix ? strlen(prefix) : 0;
    char *k = r->host->malloc(plen + strlen(key) + 2);
    if (!k)
        return -1;
    if (prefix)
        sprintf(k, "%s/%s", prefix, key);
    else
        strcpy(k, key);
    if (json_is_object(v) && json_object_size(v) > 0) {
        const char *mk;
        json_t *mv;
        int rc = 0;
        json_object_foreach((json_t *)v, mk, mv)
        {
            if ((rc = flat_add(r, fl, k, mk, mv)) != 0)
                break;
        }
        r->host->free(k);
        return rc;
    }
    void **const arrays[] = {(void **)&fl->f, (void **)&fl->keys};
    const size_t elem[] = {sizeof *fl->f, sizeof *fl->keys};
    if (tropt_host_grow_all(r->host, &fl->cap, fl->n + 1, 2, arrays, elem) != 0) {
        r->host->free(k);
        return -1;
    }
    fl->keys[fl->n] = k;
    tropt_field *f = &fl->f[fl->n++];
    if (json_is_integer(v))
        *f = (tropt_field){.key = k, .type = TROPT_INT, .v.i = json_integer_value(v)};
    else if (json_is_real(v))
        *f = (tropt_field){.key = k, .type = TROPT_REAL, .v.r = json_real_value(v)};
    else if (json_is_boolean(v))
        *f = (tropt_field){.key = k, .type = TROPT_BOOL, .v.b = json_is_true(v)};
    else if (json_is_string(v))
        *f = (tropt_field){.key = k, .type = TROPT_STRING, .v.s = json_string_value(v)};
    else if (json_is_null(v))
        *f = (tropt_field){.key = k, .type = TROPT_NULL};
    else
        *f = (tropt_field){.key = k, .type = TROPT_JSON, .v.json = v};
    return 0;
}

static void flat_free(reader *r, flat *fl)
{
    for (size_t i = 0; i < fl->n; i++)
        r->host->free(fl->keys[i]);
    r->host->free(fl->keys);
    r->host->free(fl->f);
    memset(fl, 0, sizeof *fl);
}

static int flatten(reader *r, flat *fl, const json_t *obj)
{
    const char *k;
    json_t *v;
    if (!json_is_object(obj))
        return 0;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (flat_add(r, fl, NULL, k, v))
            return r->host->error(TROPT_ENOMEM, "out of memory");
    }
    return 0;
}

/* ---- the stream -------------------------------------------------------- */

enum { IX_LOG = 0, IX_MARK = 1, IX_SYS = 2 };

/* A line of the run, found again by reread. */
typedef struct logpos {
    int64_t attempt;
    int64_t key; /* IX_LOG: the step; IX_MARK: the mark's seq; IX_SYS: its time in
                    microseconds (a record replayed again is the same record) */
    uint32_t kind;
    uint32_t file;
    size_t seq; /* its order in the journal: the last line of a step or mark wins */
    off_t off;
} logpos;

typedef struct emitting {
    const runrec *rec;
    tropt_stored_run info;
    tropt_provenance prov;
    tropt_attempt *att; /* the START event's list */
    tropt_event_fn fn;
    void *ud;
    int indexed, started, seen_start;
    json_t *summary; /* the last run_end's */
    logpos *pos;
    size_t npos, poscap;
} emitting;

static int emit_config(reader *r, emitting *em, tropt_event_kind kind, int64_t attempt,
                       const json_t *config)
{
    flat fl = {0};
    int rc = flatten(r, &fl, config);
    if (!rc) {
        tropt_event ev = {.kind = kind,
                          .run = &em->info,
                          .time = em->info.started_at,
                          .config = config,
                          .fields = fl.f,
                          .n = fl.n,
                          .attempt = attempt,
                          .attempts = kind == TROPT_EVENT_START ? em->att : NULL,
                          .n_attempts = kind == TROPT_EVENT_START ? em->rec->n_att : 0};
        rc = em->fn(&ev, em->ud);
    }
    flat_free(r, &fl);
    if (kind == TROPT_EVENT_START)
        em->started = 1;
    return rc;
}

/* One decoded event of the run, as the hook's callback gets it. */
static int emit_event(emitting *em, const tev_event *ev)
{
    tropt_event e = {.run = &em->info, .time = ev->time, .attempt = ev->attempt};
    if (ev->type == TEV_LOG) {
        e.kind = TROPT_EVENT_STEP;
        e.step = ev->step;
        e.fields = ev->fields;
        e.n = ev->n_fields;
    } else if (ev->type == TEV_CHECKPOINT) {
        e.kind = TROPT_EVENT_CHECKPOINT;
        e.checkpoint = &ev->checkpoint;
    } else {
        e.kind = TROPT_EVENT_SYSTEM;
        e.samples = ev->samples;
        e.n_samples = ev->n_samples;
    }
    return em->fn(&e, em->ud);
}

static int emit_end(reader *r, emitting *em)
{
    flat fl = {0};
    int rc = flatten(r, &fl, em->summary);
    if (!rc) {
        tropt_event e = {.kind = TROPT_EVENT_END,
                         .run = &em->info,
                         .status = em->info.status,
                         .ended_at = em->info.ended_at,
                         .summary = em->summary,
                         .fields = fl.f,
                         .n = fl.n};
        rc = em->fn(&e, em->ud);
    }
    flat_free(r, &fl);
    return rc;
}

/* A system record's place: its time in microseconds (a hand-edited time
 * out of range or not a number: 0, so such records keep journal order). */
static int64_t sys_key(double time)
{
    double us = time * 1e6;
    return isfinite(us) && fabs(us) < 9.2e18 ? (int64_t)llround(us) : 0;
}

static int note_line(reader *r, emitting *em, const tev_event *ev)
{
    if (tropt_host_grow(r->host, (void **)&em->pos, &em->poscap, em->npos + 1, sizeof *em->pos))
        return r->host->error(TROPT_ENOMEM, "out of memory");
    logpos *p = &em->pos[em->npos];
    p->attempt = ev->attempt;
    p->kind = ev->type == TEV_LOG ? IX_LOG : ev->type == TEV_CHECKPOINT ? IX_MARK : IX_SYS;
    p->key = ev->type == TEV_LOG          ? ev->step
             : ev->type == TEV_CHECKPOINT ? ev->checkpoint.seq
                                          : sys_key(ev->time);
    p->file = (uint32_t)r->cur_file;
    p->off = r->cur_off;
    p->seq = em->npos++;
    return 0;
}

/* The first pass: everything streamed at once, or (indexed) only noted. */
static int first_pass(reader *r, const tev_event *ev, void *ud)
{
    emitting *em = ud;
    if (strcmp(ev->run_id, em->rec->run_id) != 0)
        return 0;
    int rc = 0;
    switch (ev->type) {
    case TEV_RUN_START:
        if (em->seen_start++ || em->indexed)
            return 0; /* later attempts: from the index */
        return emit_config(r, em, TROPT_EVENT_START, 1, ev->config);
    case TEV_LOG:
    case TEV_CHECKPOINT:
    case TEV_SYSTEM:
        if (em->indexed)
            return note_line(r, em, ev);
        if (!em->started && (rc = emit_config(r, em, TROPT_EVENT_START, 1, NULL)) != 0)
            return rc;
        return emit_event(em, ev);
    case TEV_RUN_END:
        json_decref(em->summary);
        em->summary = json_incref((json_t *)ev->summary);
        return 0;
    default:
        return 0;
    }
}

static int by_place(const void *a, const void *b)
{
    const logpos *x = a, *y = b;
    if (x->attempt != y->attempt)
        return x->attempt < y->attempt ? -1 : 1;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The line at file/off read again into *ev (the caller clears it). */
static int reread(reader *r, tev_reader *tr, size_t *open_file, size_t file, off_t off,
                  tev_event *ev)
{
    memset(ev, 0, sizeof *ev);
    if (*open_file != file) {
        if (*open_file != (size_t)-1)
            tev_reader_close(tr);
        *open_file = (size_t)-1;
        if (tev_reader_open(tr, r->files[file], NULL, NULL) != 0)
            return r->host->error(TROPT_EBACKEND, "%s: cannot read: %s", r->files[file],
                                  strerror(errno));
        *open_file = file;
    }
    memset(ev, 0, sizeof *ev);
    if (fseeko(tr->f, off, SEEK_SET) != 0 || tev_reader_next(tr, ev) != 1)
        return r->host->error(TROPT_EBACKEND, "%s: changed while being read", r->files[file]);
    return 0;
}

typedef struct rereading {
    tev_reader tr;
    size_t open_file;
} rereading;

/* The config of attempt index i (its run_start read again), as START or
 * ATTEMPT. */
static int emit_attempt(reader *r, emitting *em, rereading *rd, size_t i)
{
    const jattempt *a = &em->rec->att[i];
    tev_event ev;
    int rc = reread(r, &rd->tr, &rd->open_file, a->file, a->off, &ev);
    if (rc == 0)
        rc = emit_config(r, em, i == 0 ? TROPT_EVENT_START : TROPT_EVENT_ATTEMPT, a->attempt,
                         ev.type == TEV_RUN_START ? ev.config : NULL);
    tev_event_clear(&ev);
    return rc;
}

static int same_place(const logpos *a, const logpos *b)
{
    return a->attempt == b->attempt && a->kind == b->kind && a->key == b->key;
}

/* The line of index entry k read again into *ev (the caller clears it). */
static int reread_pos(reader *r, emitting *em, rereading *rd, size_t k, tev_event *ev)
{
    const logpos *p = &em->pos[k];
    int rc = reread(r, &rd->tr, &rd->open_file, p->file, p->off, ev);
    if (rc == 0 && strcmp(ev->run_id, em->rec->run_id) != 0)
        rc = r->host->error(TROPT_EBACKEND, "%s: changed while being read", r->files[p->file]);
    return rc;
}

/* A step logged by lines first..last of the index (one attempt): merged as
 * sqlite keeps it, every key with its latest value, the last line's time. */
static int emit_merged(reader *r, emitting *em, rereading *rd, size_t first, size_t last)
{
    tropt_merge m;
    tropt_merge_init(&m, r->host);
    tev_event ev;
    int rc = 0;
    for (size_t k = first; rc == 0 && k <= last; k++) {
        rc = reread_pos(r, em, rd, k, &ev);
        if (rc == 0 && tropt_merge_add(&m, ev.fields, ev.n_fields) != 0)
            rc = r->host->error(TROPT_ENOMEM, "out of memory");
        if (rc == 0 && k == last) {
            tropt_field *own = ev.fields; /* the line's own, freed by the clear */
            size_t n_own = ev.n_fields;
            ev.fields = m.f;
            ev.n_fields = m.n;
            rc = emit_event(em, &ev);
            ev.fields = own;
            ev.n_fields = n_own;
        }
        tev_event_clear(&ev);
    }
    tropt_merge_free(&m);
    return rc;
}

/* Index entry *k and the entries of the same place after it: a step's
 * lines merged; of a mark or a system record, the last line.  *k is left on
 * the last entry of the place. */
static int emit_indexed_one(reader *r, emitting *em, rereading *rd, size_t *k)
{
    size_t first = *k;
    while (*k + 1 < em->npos && same_place(&em->pos[*k], &em->pos[*k + 1]))
        ++*k;
    if (em->pos[first].kind == IX_LOG && *k > first)
        return emit_merged(r, em, rd, first, *k);
    tev_event ev;
    int rc = reread_pos(r, em, rd, *k, &ev);
    if (rc == 0)
        rc = emit_event(em, &ev);
    tev_event_clear(&ev);
    return rc;
}

/* The index, attempt by attempt, each attempt's ATTEMPT event first. */
static int emit_indexed(reader *r, emitting *em)
{
    rereading rd = {.open_file = (size_t)-1};
    const runrec *rr = em->rec;
    int rc =
        rr->n_att ? emit_attempt(r, em, &rd, 0) : emit_config(r, em, TROPT_EVENT_START, 1, NULL);
    size_t k = 0;
    for (size_t i = 0; rc == 0 && i <= rr->n_att; i++) {
        /* the lines of attempts up to att[i]'s: those before the next run_start */
        int64_t upto = i + 1 < rr->n_att ? rr->att[i + 1].attempt : INT64_MAX;
        for (; rc == 0 && k < em->npos && em->pos[k].attempt < upto; k++)
            rc = emit_indexed_one(r, em, &rd, &k);
        if (rc == 0 && i + 1 < rr->n_att)
            rc = emit_attempt(r, em, &rd, i + 1);
    }
    if (rd.open_file != (size_t)-1)
        tev_reader_close(&rd.tr);
    return rc;
}

static int64_t count_steps(const emitting *em)
{
    int64_t n = 0;
    for (size_t i = 0; i < em->npos; i++)
        n += em->pos[i].kind == IX_LOG &&
             (i == 0 || em->pos[i - 1].kind != IX_LOG || em->pos[i].key != em->pos[i - 1].key ||
              em->pos[i].attempt != em->pos[i - 1].attempt);
    return n;
}

static int read_one(reader *r, emitting *em)
{
    const runrec *rr = em->rec;
    em->indexed = rr->unordered || rr->n_att > 1 || rr->has_extra;
    int rc = tjl_scan(r, 0, first_pass, em);
    if (!rc && em->indexed) {
        qsort(em->pos, em->npos, sizeof *em->pos, by_place);
        if (rr->n_att <= 1)
            em->info.n_steps = count_steps(em);
        rc = emit_indexed(r, em);
    }
    if (!rc && !em->started)
        rc = emit_config(r, em, TROPT_EVENT_START, 1, NULL);
    if (!rc && rr->ended)
        rc = emit_end(r, em);
    json_decref(em->summary);
    r->host->free(em->pos);
    return rc;
}

/* The attempts as START lists them. */
static int list_attempts(reader *r, emitting *em)
{
    const runrec *rr = em->rec;
    if (!rr->n_att)
        return 0;
    em->att = r->host->malloc(rr->n_att * sizeof *em->att);
    if (!em->att)
        return r->host->error(TROPT_ENOMEM, "out of memory");
    for (size_t i = 0; i < rr->n_att; i++) {
        const jattempt *a = &rr->att[i];
        em->att[i] = (tropt_attempt){a->attempt, a->from_step, a->started_at, a->ended_at,
                                     a->status,  a->host,      a->pid};
    }
    return 0;
}

int tjl_read_run(void *self, const char *run_id, tropt_event_fn fn, void *userdata)
{
    reader *r = self;
    size_t len = strlen(run_id);
    if (len < 8)
        return r->host->error(TROPT_EINVAL, "%s: '%s' is not a run id (or a prefix of 8+)", r->path,
                              run_id);
    runlist l = {.prefix = run_id};
    int rc = tjl_gather_runs(r, &l);
    if (!rc && l.n == 0)
        rc = r->host->error(TROPT_EINVAL, "%s: no run '%s'", r->path, run_id);
    else if (!rc && l.n > 1)
        rc = r->host->error(TROPT_EINVAL, "%s: run id prefix '%s' is ambiguous (%zu runs)", r->path,
                            run_id, l.n);
    if (!rc) {
        emitting em = {.rec = &l.v[0], .fn = fn, .ud = userdata};
        tjl_to_info(&l.v[0], &em.info, &em.prov);
        rc = list_attempts(r, &em);
        if (!rc)
            rc = read_one(r, &em);
        r->host->free(em.att);
    }
    tjl_runlist_free(r, &l);
    return rc;
}
