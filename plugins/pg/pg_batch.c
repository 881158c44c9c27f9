/* plugins/pg/pg_batch.c - pending rows, interned keys, writing a batch (INSERT or COPY). */
#include "pg_priv.h"

/* ---- the pending batch ------------------------------------------------- */

int pg_arena_put(pg *p, const char *s, size_t n, size_t *off)
{
    if (n > SIZE_MAX - 1 - p->alen ||
        tropt_host_grow(p->host, (void **)&p->arena, &p->acap, p->alen + n + 1, 1) != 0)
        return -1;
    memcpy(p->arena + p->alen, s, n);
    p->arena[p->alen + n] = '\0';
    *off = p->alen;
    p->alen += n + 1;
    return 0;
}

int pg_push_row(pg *p, const row *r)
{
    if (tropt_host_grow(p->host, (void **)&p->rows, &p->caprows, p->nrows + 1, sizeof *p->rows) !=
        0)
        return -1;
    p->rows[p->nrows++] = *r;
    return 0;
}

/* One field into a row (text copied into the arena). */
int pg_field_row(pg *p, const tropt_field *f, row *r)
{
    r->kind = K_NULL;
    r->i = 0;
    r->r = 0;
    r->text = 0;
    r->text_len = 0;
    switch (f->type) {
    case TROPT_NULL:
        break;
    case TROPT_BOOL:
        r->kind = K_BOOL;
        r->i = f->v.b ? 1 : 0;
        r->r = (double)r->i;
        break;
    case TROPT_INT:
        r->kind = K_INT;
        r->i = f->v.i;
        r->r = (double)f->v.i;
        break;
    case TROPT_REAL:
        r->kind = K_REAL;
        r->r = f->v.r;
        break;
    case TROPT_STRING: {
        size_t n = strlen(f->v.s);
        if (n > UINT32_MAX || pg_arena_put(p, f->v.s, n, &r->text) != 0)
            return -1;
        r->kind = K_STRING;
        r->text_len = (uint32_t)n;
        break;
    }
    case TROPT_JSON: {
        tev_buf_clear(&p->scratch);
        if (tev_put_json(&p->scratch, f->v.json, p->host->format_real) != 0 ||
            p->scratch.len > UINT32_MAX ||
            pg_arena_put(p, p->scratch.data ? p->scratch.data : "", p->scratch.len, &r->text) != 0)
            return -1;
        r->kind = K_JSON;
        r->text_len = (uint32_t)p->scratch.len;
        break;
    }
    }
    return 0;
}

void pg_batch_clear(pg *p)
{
    p->nrows = 0;
    p->nsteps = 0;
    p->alen = 0;
}

/* ---- interned keys ----------------------------------------------------- */

/* The index of key `name`, adding it if new.  0, or -1 out of memory. */
int pg_key_intern(pg *p, const char *name, uint32_t *index)
{
    uint64_t h = tropt_hash_str(name, NULL);
    if (p->nslots) {
        for (size_t i = h & (p->nslots - 1);; i = (i + 1) & (p->nslots - 1)) {
            uint32_t e = p->slots[i];
            if (!e)
                break;
            if (p->keys[e - 1].hash == h && strcmp(p->keys[e - 1].name, name) == 0) {
                *index = e - 1;
                return 0;
            }
        }
    }
    if (p->nkeys >= NO_KEY - 1)
        return -1;
    if (2 * (p->nkeys + 1) > p->nslots) {
        size_t ns = p->nslots ? 2 * p->nslots : 64;
        uint32_t *sl = p->host->malloc(ns * sizeof *sl);
        if (!sl)
            return -1;
        memset(sl, 0, ns * sizeof *sl);
        for (size_t k = 0; k < p->nkeys; k++) {
            size_t i = p->keys[k].hash & (ns - 1);
            while (sl[i])
                i = (i + 1) & (ns - 1);
            sl[i] = (uint32_t)k + 1;
        }
        p->host->free(p->slots);
        p->slots = sl;
        p->nslots = ns;
    }
    if (tropt_host_grow(p->host, (void **)&p->keys, &p->capkeys, p->nkeys + 1, sizeof *p->keys) !=
        0)
        return -1;
    char *copy = tropt_host_strdup(p->host, name);
    if (!copy)
        return -1;
    p->keys[p->nkeys] = (pkey){copy, h, 0};
    size_t i = h & (p->nslots - 1);
    while (p->slots[i])
        i = (i + 1) & (p->nslots - 1);
    p->slots[i] = (uint32_t)p->nkeys + 1;
    *index = (uint32_t)p->nkeys++;
    return 0;
}

/* Give every key of the pending rows its id in tropt_key.  0, or -1 with
 * p->err (and *lost when the connection is gone). */
int pg_resolve_keys(pg *p, int *lost)
{
    char *q = NULL;
    for (size_t k = 0; k < p->nrows; k++) {
        uint32_t ki = p->rows[k].key;
        if (ki == NO_KEY || p->keys[ki].id)
            continue;
        if (!q && !(q = pg_sql(p, PGS_KEY_ID))) {
            pg_set_err(p, "out of memory", NULL);
            return -1;
        }
        const char *v[1] = {p->keys[ki].name};
        for (int attempt = 0; attempt < 100 && !p->keys[ki].id; attempt++) {
            PGresult *r = PQexecParams(p->conn, q, 1, NULL, v, NULL, NULL, 0);
            if (pg_res_ok(p, r, "cannot write a key") != 0) {
                *lost = pg_conn_lost(p, r);
                PQclear(r);
                p->host->free(q);
                return -1;
            }
            if (PQntuples(r) >= 1)
                p->keys[ki].id = atoi(PQgetvalue(r, 0, 0));
            PQclear(r);
        }
        if (!p->keys[ki].id) {
            pg_set_err(p, "cannot write a key", "no id after 100 attempts");
            p->host->free(q);
            return -1;
        }
    }
    p->host->free(q);
    return 0;
}

/* ---- writing rows ------------------------------------------------------ */

void pg_put_be64(char *b, uint64_t v)
{
    for (int k = 7; k >= 0; k--) {
        b[k] = (char)(v & 0xff);
        v >>= 8;
    }
}

void pg_put_be32(char *b, int32_t v)
{
    uint32_t u = (uint32_t)v;
    b[0] = (char)(u >> 24);
    b[1] = (char)(u >> 16);
    b[2] = (char)(u >> 8);
    b[3] = (char)u;
}

uint64_t pg_dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

int pg_buf_be16(tev_buf *b, uint16_t v)
{
    char c[2] = {(char)(v >> 8), (char)(v & 0xff)};
    return tev_buf_append(b, c, 2);
}

int pg_buf_be32(tev_buf *b, int32_t v)
{
    char c[4];
    pg_put_be32(c, v);
    return tev_buf_append(b, c, 4);
}

int pg_buf_be64(tev_buf *b, uint64_t v)
{
    char c[8];
    pg_put_be64(c, v);
    return tev_buf_append(b, c, 8);
}

/* The end of the step whose first row is `first`. */
size_t pg_step_end(const pg *p, size_t first)
{
    size_t e = first + 1;
    while (e < p->nrows && !p->rows[e].first)
        e++;
    return e;
}

/* Append, in PostgreSQL's binary array format, column `col` of the step's
 * rows [first, end): 0 key ids (int4[]), 1 kinds (int2[]), 2 r (float8[]),
 * 3 i (int8[]), 4 t (text[]); absent values are NULL elements. */
int pg_put_array(pg *p, tev_buf *b, size_t first, size_t end, int col)
{
    static const int32_t elem[5] = {23, 21, 701, 20, 25};
    int32_t n = 0;
    int nulls = 0;
    for (size_t k = first; k < end; k++) {
        const row *w = &p->rows[k];
        if (w->key == NO_KEY)
            continue;
        n++;
        nulls |= (col == 2 && !HAS_R(w)) || (col == 3 && !HAS_I(w)) || (col == 4 && !HAS_T(w));
    }
    int bad = pg_buf_be32(b, n ? 1 : 0) | pg_buf_be32(b, nulls) | pg_buf_be32(b, elem[col]);
    if (n)
        bad |= pg_buf_be32(b, n) | pg_buf_be32(b, 1);
    for (size_t k = first; k < end && !bad; k++) {
        const row *w = &p->rows[k];
        if (w->key == NO_KEY)
            continue;
        switch (col) {
        case 0:
            bad |= pg_buf_be32(b, 4) | pg_buf_be32(b, p->keys[w->key].id);
            break;
        case 1:
            bad |= pg_buf_be32(b, 2) | pg_buf_be16(b, w->kind);
            break;
        case 2:
            bad |=
                HAS_R(w) ? pg_buf_be32(b, 8) | pg_buf_be64(b, pg_dbits(w->r)) : pg_buf_be32(b, -1);
            break;
        case 3:
            bad |=
                HAS_I(w) ? pg_buf_be32(b, 8) | pg_buf_be64(b, (uint64_t)w->i) : pg_buf_be32(b, -1);
            break;
        default:
            bad |= HAS_T(w) ? pg_buf_be32(b, (int32_t)w->text_len) |
                                  tev_buf_append(b, p->arena + w->text, w->text_len)
                            : pg_buf_be32(b, -1);
        }
    }
    return bad;
}

/* Parameters of one step: step time keys kinds r i t (binary), after the
 * run ($1) and the attempt ($2). */
#define PG_STEP_PARAMS 7
#define PG_RUN_PARAMS 2

/* The SQL of the INSERT of n steps (host allocator; NULL out of memory). */
static char *insert_sql(pg *p, size_t n)
{
    tev_buf b;
    tev_buf_init(&b, p->host->realloc, p->host->free);
    int bad = tev_buf_puts(&b, PGS_LOG_INSERT);
    for (size_t k = 0; k < n; k++) {
        size_t a = 1 + PG_RUN_PARAMS + k * PG_STEP_PARAMS;
        bad |= tev_buf_printf(&b, "%s($1,$2,$%zu,$%zu,$%zu,$%zu,$%zu,$%zu,$%zu)", k ? "," : "", a,
                              a + 1, a + 2, a + 3, a + 4, a + 5, a + 6);
    }
    bad |= tev_buf_puts(&b, PGS_LOG_CONFLICT);
    char *tpl = bad ? NULL : tev_buf_steal(&b);
    tev_buf_free(&b);
    if (!tpl)
        return NULL;
    char *sql = pg_sql(p, tpl);
    p->host->free(tpl);
    return sql;
}

/* Insert the steps starting at rows firsts[0..n) with ON CONFLICT DO NOTHING,
 * n <= PG_INSERT_STEPS, in one prepared statement with binary parameters
 * (which also counts them into the attempt's n_live).  Returns the result
 * (NULL on allocation failure). */
PGresult *pg_insert_steps(pg *p, const size_t *firsts, size_t n)
{
    char name[16];
    snprintf(name, sizeof name, "ins%zu", n);
    if (!p->prepared_rows[n]) {
        if (!p->sql_insert[n] && !(p->sql_insert[n] = insert_sql(p, n)))
            return NULL;
        Oid types[PG_RUN_PARAMS + PG_INSERT_STEPS * PG_STEP_PARAMS];
        types[0] = 23; /* int4 run */
        types[1] = 23; /* int4 attempt */
        for (size_t k = 0; k < n; k++) {
            Oid *t = &types[PG_RUN_PARAMS + k * PG_STEP_PARAMS];
            t[0] = 20;   /* int8 step */
            t[1] = 701;  /* float8 time */
            t[2] = 1007; /* int4[] keys */
            t[3] = 1005; /* int2[] kinds */
            t[4] = 1022; /* float8[] r */
            t[5] = 1016; /* int8[] i */
            t[6] = 1009; /* text[] t */
        }
        PGresult *r = PQprepare(p->conn, name, p->sql_insert[n],
                                (int)(PG_RUN_PARAMS + n * PG_STEP_PARAMS), types);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            return r;
        PQclear(r);
        p->prepared_rows[n] = 1;
    }
    enum { NP = PG_RUN_PARAMS + PG_INSERT_STEPS * PG_STEP_PARAMS };
    const char *vals[NP];
    int lens[NP];
    int fmts[NP];
    size_t offs[NP];
    /* Every parameter's bytes in one buffer (pointers taken at the end, as
     * the buffer may move while it grows). */
    tev_buf *b = &p->scratch;
    tev_buf_clear(b);
    int bad = 0;
    offs[0] = b->len;
    bad |= pg_buf_be32(b, (int32_t)p->run_num);
    offs[1] = b->len;
    bad |= pg_buf_be32(b, (int32_t)p->attempt);
    for (size_t k = 0; k < n && !bad; k++) {
        size_t first = firsts[k], end = pg_step_end(p, first);
        size_t a = PG_RUN_PARAMS + k * PG_STEP_PARAMS;
        offs[a] = b->len;
        bad |= pg_buf_be64(b, (uint64_t)p->rows[first].step);
        offs[a + 1] = b->len;
        bad |= pg_buf_be64(b, pg_dbits(p->rows[first].time));
        for (int col = 0; col < 5; col++) {
            offs[a + 2 + col] = b->len;
            bad |= pg_put_array(p, b, first, end, col);
        }
    }
    if (bad)
        return NULL;
    size_t np = PG_RUN_PARAMS + n * PG_STEP_PARAMS;
    for (size_t j = 0; j < np; j++) {
        vals[j] = b->data + offs[j];
        lens[j] = (int)((j + 1 < np ? offs[j + 1] : b->len) - offs[j]);
        fmts[j] = 1;
    }
    return PQexecPrepared(p->conn, name, (int)np, vals, lens, fmts, 0);
}

/* The pending steps through the ON CONFLICT path: one statement in
 * autocommit when they fit, else a transaction.  0, or -1 with p->err set;
 * *lost set when the connection is gone. */
int pg_write_insert(pg *p, int *lost)
{
    size_t nsteps = 0;
    for (size_t k = 0; k < p->nrows; k = pg_step_end(p, k))
        nsteps++;
    int multi = nsteps > PG_INSERT_STEPS;
    PGresult *r;
    if (multi) {
        r = PQexec(p->conn, "BEGIN");
        if (pg_res_ok(p, r, "cannot write") != 0) {
            *lost = pg_conn_lost(p, r);
            PQclear(r);
            return -1;
        }
        PQclear(r);
    }
    size_t firsts[PG_INSERT_STEPS];
    size_t k = 0;
    while (k < p->nrows) {
        size_t n = 0;
        while (k < p->nrows && n < PG_INSERT_STEPS) {
            firsts[n++] = k;
            k = pg_step_end(p, k);
        }
        r = pg_insert_steps(p, firsts, n);
        if (pg_res_ok(p, r, "cannot write") != 0) {
            *lost = pg_conn_lost(p, r);
            PQclear(r);
            if (multi)
                PQclear(PQexec(p->conn, "ROLLBACK"));
            return -1;
        }
        PQclear(r);
    }
    if (multi) {
        r = PQexec(p->conn, "COMMIT");
        if (pg_res_ok(p, r, "cannot write") != 0) {
            *lost = pg_conn_lost(p, r);
            PQclear(r);
            return -1;
        }
        PQclear(r);
    }
    return 0;
}

/* Append one array field of a COPY tuple: its length, then the array. */
int pg_copy_array(pg *p, tev_buf *b, size_t first, size_t end, int col)
{
    size_t at = b->len;
    if (pg_buf_be32(b, 0) != 0 || pg_put_array(p, b, first, end, col) != 0)
        return -1;
    pg_put_be32(b->data + at, (int32_t)(b->len - at - 4));
    return 0;
}

/* After a COPY, in its transaction: the steps copied counted into the
 * attempt's n_live.  0, or -1 (p->err, *lost). */
static int count_copied(pg *p, int *lost)
{
    tev_buf *b = &p->scratch;
    tev_buf_clear(b);
    int bad = tev_buf_putc(b, '{');
    for (size_t k = 0; k < p->nrows && !bad; k = pg_step_end(p, k))
        bad = (k && tev_buf_putc(b, ',')) || tev_buf_put_i64(b, p->rows[k].step);
    bad = bad || tev_buf_putc(b, '}');
    if (bad) {
        pg_set_err(p, "out of memory", NULL);
        return -1;
    }
    char num[24], attempt[24];
    snprintf(num, sizeof num, "%" PRId64, p->run_num);
    snprintf(attempt, sizeof attempt, "%" PRId64, p->attempt);
    const char *v[3] = {num, attempt, b->data};
    PGresult *r = pg_exec_tpl(p, PGS_LOG_COPIED, 3, v);
    int rc = pg_res_ok(p, r, "cannot write");
    if (rc != 0)
        *lost = pg_conn_lost(p, r);
    PQclear(r);
    return rc;
}

/* The COPY data of the pending steps, sent in pieces of about 1 MB, then
 * the end of the COPY.  0, or -1 (nothing more sent: the COPY is ended
 * with an error).  *sent_ok: every piece was handed to libpq. */
static int copy_rows(pg *p, int *sent_ok)
{
    tev_buf *b = &p->scratch;
    tev_buf_clear(b);
    int bad = tev_buf_append(b, "PGCOPY\n\377\r\n\0", 11) | pg_buf_be32(b, 0) | pg_buf_be32(b, 0);
    for (size_t k = 0; k < p->nrows && !bad;) {
        size_t end = pg_step_end(p, k);
        const row *w = &p->rows[k];
        bad |= pg_buf_be16(b, 9) | pg_buf_be32(b, 4) | pg_buf_be32(b, (int32_t)p->run_num) |
               pg_buf_be32(b, 4) | pg_buf_be32(b, (int32_t)p->attempt) | pg_buf_be32(b, 8) |
               pg_buf_be64(b, (uint64_t)w->step) | pg_buf_be32(b, 8) |
               pg_buf_be64(b, pg_dbits(w->time));
        for (int col = 0; col < 5 && !bad; col++)
            bad |= pg_copy_array(p, b, k, end, col);
        if (!bad && b->len >= (1u << 20)) {
            *sent_ok &= PQputCopyData(p->conn, b->data, (int)b->len) == 1;
            tev_buf_clear(b);
        }
        k = end;
    }
    bad |= pg_buf_be16(b, 0xffff);
    if (!bad && b->len)
        *sent_ok &= PQputCopyData(p->conn, b->data, (int)b->len) == 1;
    tev_buf_clear(b);
    PQputCopyEnd(p->conn, bad ? "out of memory" : NULL);
    return bad ? -1 : 0;
}

/* The pending steps with one binary COPY in a transaction.  0; 1 when a step
 * is already stored (rolled back: use write_insert); -1 with p->err. */
int pg_write_copy(pg *p, int *lost)
{
    PGresult *r = PQexec(p->conn, "BEGIN");
    if (pg_res_ok(p, r, "cannot write") != 0) {
        *lost = pg_conn_lost(p, r);
        PQclear(r);
        return -1;
    }
    PQclear(r);
    char *q = pg_sql(p, PGS_LOG_COPY);
    r = q ? PQexec(p->conn, q) : NULL;
    p->host->free(q);
    if (!r || PQresultStatus(r) != PGRES_COPY_IN) {
        pg_res_ok(p, r, "cannot write");
        *lost = pg_conn_lost(p, r);
        PQclear(r);
        PQclear(PQexec(p->conn, "ROLLBACK"));
        return -1;
    }
    PQclear(r);
    int sent_ok = 1;
    copy_rows(p, &sent_ok);
    r = PQgetResult(p->conn);
    int rc = pg_res_ok(p, r, "cannot write");
    int dup = rc != 0 && strcmp(pg_sqlstate(r), "23505") == 0;
    if (rc != 0)
        *lost = pg_conn_lost(p, r) || !sent_ok;
    PQclear(r);
    while ((r = PQgetResult(p->conn)) != NULL)
        PQclear(r);
    if (rc == 0 && count_copied(p, lost) != 0)
        rc = -1;
    if (rc == 0) {
        r = PQexec(p->conn, "COMMIT");
        rc = pg_res_ok(p, r, "cannot write");
        if (rc != 0)
            *lost = pg_conn_lost(p, r);
        PQclear(r);
        return rc;
    }
    PQclear(PQexec(p->conn, "ROLLBACK"));
    return dup ? 1 : -1;
}
