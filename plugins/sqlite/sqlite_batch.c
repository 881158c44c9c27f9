/*
 * plugins/sqlite/sqlite_batch.c - the in-memory side of the sqlite backend:
 * the interned-key cache and the batch of steps waiting for their commit.
 *
 * A key is looked up in an open-addressing hash table; its database id is
 * resolved once (inside the first transaction that writes it) and cached,
 * so a key that comes back costs no SELECT.  Values are copied out of the
 * borrowed fields into flat arrays and one text arena, so the log hook
 * allocates nothing once the buffers have grown to their working size.
 */
#include "sqlite_priv.h"
#include "tropt_event.h"
#include "tropt_mem.h"
#include "tropt_num.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

double tsq_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int oom(tsq *s)
{
    snprintf(s->err, sizeof s->err, "%s: out of memory", s->path);
    return TROPT_ENOMEM;
}

/* Grow *p (elements of size sz) to hold at least need elements. */
static int grow(tsq *s, void **p, size_t *cap, size_t need, size_t sz)
{
    return tropt_host_grow(s->host, p, cap, need, sz) == 0 ? TROPT_OK : oom(s);
}

/* ---- Keys ----------------------------------------------------------------- */

static int rehash(tsq *s, size_t nslots)
{
    uint32_t *slots = s->host->malloc(nslots * sizeof *slots);
    if (!slots)
        return oom(s);
    memset(slots, 0, nslots * sizeof *slots);
    for (size_t i = 0; i < s->keys.n; i++) {
        size_t j = (size_t)s->keys.v[i].hash & (nslots - 1);
        while (slots[j])
            j = (j + 1) & (nslots - 1);
        slots[j] = (uint32_t)(i + 1);
    }
    s->host->free(s->keys.slots);
    s->keys.slots = slots;
    s->keys.nslots = nslots;
    return TROPT_OK;
}

int tsq_key_intern(tsq *s, const char *name, uint32_t *index)
{
    tsq_keys *k = &s->keys;
    size_t len;
    uint64_t h = tropt_hash_str(name, &len);
    if (k->nslots) {
        size_t j = (size_t)h & (k->nslots - 1);
        while (k->slots[j]) {
            tsq_key *e = &k->v[k->slots[j] - 1];
            if (e->hash == h && strcmp(e->name, name) == 0) {
                *index = k->slots[j] - 1;
                return TROPT_OK;
            }
            j = (j + 1) & (k->nslots - 1);
        }
    }
    if (k->n >= UINT32_MAX - 1)
        return oom(s);
    /* New key: keep the load factor under 1/2. */
    if ((k->n + 1) * 2 > k->nslots) {
        int rc = rehash(s, k->nslots ? k->nslots * 2 : 64);
        if (rc)
            return rc;
    }
    int rc = grow(s, (void **)&k->v, &k->cap, k->n + 1, sizeof *k->v);
    if (rc)
        return rc;
    char *copy = tropt_host_strndup(s->host, name, len);
    if (!copy)
        return oom(s);
    k->v[k->n] = (tsq_key){.name = copy, .hash = h, .id = 0};
    size_t j = (size_t)h & (k->nslots - 1);
    while (k->slots[j])
        j = (j + 1) & (k->nslots - 1);
    k->slots[j] = (uint32_t)(k->n + 1);
    *index = (uint32_t)k->n++;
    return TROPT_OK;
}

void tsq_keys_free(tsq *s)
{
    for (size_t i = 0; i < s->keys.n; i++)
        s->host->free(s->keys.v[i].name);
    s->host->free(s->keys.v);
    s->host->free(s->keys.slots);
    memset(&s->keys, 0, sizeof s->keys);
}

/* ---- Text arena ----------------------------------------------------------- */

/* Copy len bytes of p, NUL-terminated, into arena a; *off gets their offset.
 * TROPT_OK, or TROPT_ENOMEM with s->err set (a unchanged). */
static int tsq_arena_add(tsq *s, tsq_arena *a, const char *p, size_t len, size_t *off)
{
    int rc = grow(s, (void **)&a->p, &a->cap, a->n + len + 1, 1);
    if (rc)
        return rc;
    memcpy(a->p + a->n, p, len);
    a->p[a->n + len] = '\0';
    *off = a->n;
    a->n += len + 1;
    return TROPT_OK;
}

/* j as JSON text in the arena, written by the event format's encoder (the
 * one JSON writer of the shipped plugins: reals stay reals, strings are
 * escaped the same way everywhere).  The core caps the nesting. */
int tsq_arena_json(tsq *s, tsq_arena *a, const json_t *j, size_t *off)
{
    tev_buf_clear(&s->json);
    if (tev_put_json(&s->json, j, s->host->format_real) != 0)
        return oom(s);
    return tsq_arena_add(s, a, s->json.data, s->json.len, off); /* never empty: "null" at least */
}

/* ---- Values --------------------------------------------------------------- */

static void real_value(double r, tsq_val *out)
{
    if (isnan(r)) {
        out->sqltype = SQLITE_NULL;
        out->kind = TSQL_KIND_NAN;
    } else {
        out->sqltype = SQLITE_FLOAT;
        out->u.r = r;
    }
}

static int json_value(tsq *s, tsq_arena *a, const json_t *j, tsq_val *out)
{
    switch (json_typeof(j)) {
    case JSON_NULL:
        out->sqltype = SQLITE_NULL;
        return TROPT_OK;
    case JSON_TRUE:
    case JSON_FALSE:
        out->sqltype = SQLITE_INTEGER;
        out->kind = TSQL_KIND_BOOL;
        out->u.i = json_is_true(j);
        return TROPT_OK;
    case JSON_INTEGER:
        out->sqltype = SQLITE_INTEGER;
        out->u.i = (int64_t)json_integer_value(j);
        return TROPT_OK;
    case JSON_REAL:
        real_value(json_real_value(j), out);
        return TROPT_OK;
    case JSON_STRING:
        out->sqltype = SQLITE_TEXT;
        return tsq_arena_add(s, a, json_string_value(j), json_string_length(j), &out->u.off);
    default: /* array or object: kept whole as JSON text */
        out->sqltype = SQLITE_TEXT;
        out->kind = TSQL_KIND_JSON;
        return tsq_arena_json(s, a, j, &out->u.off);
    }
}

int tsq_field_value(tsq *s, tsq_arena *a, const tropt_field *f, tsq_val *out)
{
    memset(out, 0, sizeof *out);
    int rc = tsq_key_intern(s, f->key, &out->key);
    if (rc)
        return rc;
    switch (f->type) {
    case TROPT_NULL:
        out->sqltype = SQLITE_NULL;
        return TROPT_OK;
    case TROPT_BOOL:
        out->sqltype = SQLITE_INTEGER;
        out->kind = TSQL_KIND_BOOL;
        out->u.i = f->v.b != 0;
        return TROPT_OK;
    case TROPT_INT:
        out->sqltype = SQLITE_INTEGER;
        out->u.i = f->v.i;
        return TROPT_OK;
    case TROPT_REAL:
        real_value(f->v.r, out);
        return TROPT_OK;
    case TROPT_STRING:
        out->sqltype = SQLITE_TEXT;
        return tsq_arena_add(s, a, f->v.s, strlen(f->v.s), &out->u.off);
    case TROPT_JSON:
        return json_value(s, a, f->v.json, out);
    }
    snprintf(s->err, sizeof s->err, "%s: field '%s' has an unknown type %d", s->path, f->key,
             (int)f->type);
    return TROPT_EINVAL;
}

int tsq_fields_scratch(tsq *s, const tropt_field *f, size_t n)
{
    s->scratch.n = 0;
    int rc = grow(s, (void **)&s->svals, &s->capsvals, n ? n : 1, sizeof *s->svals);
    for (size_t i = 0; rc == TROPT_OK && i < n; i++)
        rc = tsq_field_value(s, &s->scratch, &f[i], &s->svals[i]);
    return rc;
}

/* ---- The batch ------------------------------------------------------------ */

int tsq_batch_add(tsq *s, int64_t step, double time, const tropt_field *fields, size_t n)
{
    tsq_batch *b = &s->batch;
    size_t nvals0 = b->nvals, ntext0 = b->text.n;
    int rc = grow(s, (void **)&b->steps, &b->capsteps, b->nsteps + 1, sizeof *b->steps);
    if (!rc)
        rc = grow(s, (void **)&b->vals, &b->capvals, b->nvals + n, sizeof *b->vals);
    for (size_t i = 0; rc == TROPT_OK && i < n; i++)
        rc = tsq_field_value(s, &b->text, &fields[i], &b->vals[b->nvals + i]);
    if (rc) { /* leave the batch as it was */
        b->nvals = nvals0;
        b->text.n = ntext0;
        return rc;
    }
    if (b->nsteps == 0)
        b->first_at = tsq_monotonic();
    b->steps[b->nsteps++] = (tsq_stepbuf){.run = s->run,
                                          .attempt = s->attempt,
                                          .step = step,
                                          .time = time,
                                          .first = b->nvals,
                                          .n = n};
    b->nvals += n;
    return TROPT_OK;
}

void tsq_batch_clear(tsq *s)
{
    s->batch.nsteps = 0;
    s->batch.nvals = 0;
    s->batch.text.n = 0;
}

void tsq_batch_free(tsq *s)
{
    s->host->free(s->batch.steps);
    s->host->free(s->batch.vals);
    s->host->free(s->batch.text.p);
    s->host->free(s->scratch.p);
    tev_buf_free(&s->json);
    s->host->free(s->svals);
    s->host->free(s->pend_text.p);
    memset(&s->pend_text, 0, sizeof s->pend_text);
    memset(&s->batch, 0, sizeof s->batch);
    memset(&s->scratch, 0, sizeof s->scratch);
    s->svals = NULL;
    s->capsvals = 0;
}
