/*
 * plugins/pg/pg_read.c - reading a pg store back (SPEC 9, ABI 1.1 hooks).
 *
 * Reads only the four views of the schema (runs, params, metrics, summary),
 * on its own connection, inside one read-only REPEATABLE READ transaction
 * per call, so a run being written is seen as of one moment.  The views
 * carry each value's kind and its typed columns (value float8, value_int,
 * value_text), so everything comes back exactly as logged: int64, reals
 * bit-exact (float8 text is the shortest round-trip form since
 * PostgreSQL 12), NaN and +-Infinity, booleans, strings, JSON arrays, null.
 *
 * A run's metric rows are fetched in single-row mode ordered by step; the
 * rows of one step are kept (as libpq results) until the step is handed
 * out, so memory is bounded by the largest step.
 */
#include "pg_priv.h"

#include <jansson.h>

/* Rows of one step, each its own single-row PGresult. */
typedef struct stepbuf {
    PGresult **res;
    tropt_field *f;
    json_t **js;
    size_t n, cap, nj;
} stepbuf;

static int fail(pg *p, const char *what, PGresult *r)
{
    pg_set_err(p, what, r ? PQresultErrorMessage(r) : PQerrorMessage(p->conn));
    if (r)
        PQclear(r);
    return p->host->error(TROPT_EBACKEND, "%s: %s", p->shown, p->err);
}

static int exec_cmd(pg *p, const char *sql)
{
    PGresult *r = PQexec(p->conn, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return fail(p, "cannot read", r);
    PQclear(r);
    return TROPT_OK;
}

/* Run a query of the schema (template with %1$s) with text parameters. */
static PGresult *query(pg *p, const char *tpl, int n, const char *const *vals)
{
    char *sql = pg_sql(p, tpl);
    if (!sql)
        return NULL;
    PGresult *r = PQexecParams(p->conn, sql, n, NULL, vals, NULL, NULL, 0);
    p->host->free(sql);
    return r;
}

int pg_reader_open(void **reader, const tropt_optval *opts, const tropt_host *host)
{
    *reader = NULL;
    pg *p;
    int rc = pg_configure(&p, opts, host);
    if (rc != TROPT_OK)
        return rc;
    rc = pg_connect_db(p);
    if (rc != TROPT_OK) {
        rc = host->error(rc == TROPT_ENOMEM ? TROPT_ENOMEM : TROPT_EBACKEND, "%s: %s", p->shown,
                         p->err);
        pg_destroy(p);
        return rc;
    }
    /* the schema must exist and be one this plugin knows; nothing is
     * created or changed */
    PGresult *r = query(p, PGS_VERSION_GET, 0, NULL);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        rc = host->error(TROPT_EBACKEND, "%s: no tropt store in schema %s", p->shown, p->schema);
        PQclear(r);
        pg_destroy(p);
        return rc;
    }
    long version = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    if (version > PGS_VERSION) {
        rc = host->error(TROPT_EBACKEND,
                         "%s: schema %s has version %ld, newer than this tropt knows (%d)",
                         p->shown, p->schema, version, PGS_VERSION);
        pg_destroy(p);
        return rc;
    }
    *reader = p;
    return TROPT_OK;
}

void pg_reader_close(void *reader)
{
    pg_destroy(reader);
}

static double real_of(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return NAN;
    const char *s = PQgetvalue(r, row, col);
    if (strcmp(s, "NaN") == 0)
        return NAN;
    if (strcmp(s, "Infinity") == 0)
        return INFINITY;
    if (strcmp(s, "-Infinity") == 0)
        return -INFINITY;
    return strtod(s, NULL);
}

#define RUN_COLS "run_id, experiment, status, started_at, ended_at, host, pid, config"

static void fill_run(const PGresult *r, int i, tropt_stored_run *ri)
{
    ri->run_id = PQgetvalue(r, i, 0);
    ri->experiment = PQgetvalue(r, i, 1);
    ri->status = PQgetvalue(r, i, 2);
    ri->started_at = real_of(r, i, 3);
    ri->ended_at = real_of(r, i, 4);
    ri->host = PQgetisnull(r, i, 5) ? NULL : PQgetvalue(r, i, 5);
    ri->pid = strtoll(PQgetvalue(r, i, 6), NULL, 10);
    ri->n_steps = -1;
}

int pg_list_runs(void *reader, tropt_run_list_fn fn, void *userdata)
{
    pg *p = reader;
    int rc = exec_cmd(p, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (rc)
        return rc;
    PGresult *r = query(p,
                        "SELECT " RUN_COLS ", (SELECT count(*) FROM %1$s.tropt_log l"
                        " JOIN %1$s.tropt_run u ON u.id = l.run WHERE u.run_id = x.run_id)"
                        " FROM %1$s.runs x ORDER BY started_at, run_id",
                        0, NULL);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = r ? fail(p, "cannot list runs", r) : p->host->error(TROPT_ENOMEM, "out of memory");
    } else {
        for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
            tropt_stored_run ri;
            memset(&ri, 0, sizeof ri); /* ABI 1.2 members: none filled */
            fill_run(r, i, &ri);
            ri.n_steps = strtoll(PQgetvalue(r, i, 8), NULL, 10);
            rc = fn(&ri, userdata);
        }
        PQclear(r);
    }
    PGresult *e = PQexec(p->conn, "COMMIT");
    PQclear(e);
    return rc;
}

/* ---- one run ------------------------------------------------------------- */

static void sb_clear(stepbuf *b)
{
    for (size_t i = 0; i < b->n; i++)
        PQclear(b->res[i]);
    for (size_t i = 0; i < b->nj; i++)
        json_decref(b->js[i]);
    b->n = b->nj = 0;
}

static void sb_free(const tropt_host *h, stepbuf *b)
{
    sb_clear(b);
    h->free(b->res);
    h->free(b->f);
    h->free(b->js);
}

static int sb_grow(const tropt_host *h, stepbuf *b)
{
    void **const arrays[] = {(void **)&b->res, (void **)&b->f, (void **)&b->js};
    const size_t elem[] = {sizeof *b->res, sizeof *b->f, sizeof *b->js};
    return tropt_host_grow_all(h, &b->cap, b->n + 1, 3, arrays, elem);
}

/* The typed value of a (key, value, value_int, value_text, kind) row at
 * column c into f.  Returns 0, or -1 when a JSON value does not parse. */
static int typed(stepbuf *b, const PGresult *r, int row, int c, tropt_field *f)
{
    f->key = PQgetvalue(r, row, c);
    const char *kind = PQgetvalue(r, row, c + 4);
    if (strcmp(kind, "bool") == 0) {
        f->type = TROPT_BOOL;
        f->v.b = strtoll(PQgetvalue(r, row, c + 2), NULL, 10) != 0;
    } else if (strcmp(kind, "int") == 0) {
        f->type = TROPT_INT;
        f->v.i = strtoll(PQgetvalue(r, row, c + 2), NULL, 10);
    } else if (strcmp(kind, "real") == 0) {
        f->type = TROPT_REAL;
        f->v.r = real_of(r, row, c + 1);
    } else if (strcmp(kind, "string") == 0) {
        f->type = TROPT_STRING;
        f->v.s = PQgetvalue(r, row, c + 3);
    } else if (strcmp(kind, "json") == 0) {
        json_t *j = json_loads(PQgetvalue(r, row, c + 3), JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        if (!j)
            return -1;
        b->js[b->nj++] = j;
        f->type = TROPT_JSON;
        f->v.json = j;
    } else {
        f->type = TROPT_NULL;
    }
    return 0;
}

/* The flattened params or summary of run_id as fields (into b) and, for the
 * summary, as an object. */
static int read_kv(pg *p, const char *view, const char *run_id, stepbuf *b, PGresult **keep)
{
    char tpl[160];
    snprintf(tpl, sizeof tpl,
             "SELECT key, value, value_int, value_text, kind FROM %%1$s.%s WHERE run_id = $1"
             " ORDER BY key",
             view);
    const char *vals[1] = {run_id};
    PGresult *r = query(p, tpl, 1, vals);
    if (!r)
        return p->host->error(TROPT_ENOMEM, "out of memory");
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return fail(p, "cannot read", r);
    *keep = r;
    for (int i = 0; i < PQntuples(r); i++) {
        if (sb_grow(p->host, b) != 0)
            return p->host->error(TROPT_ENOMEM, "out of memory");
        b->res[b->n] = NULL;
        if (typed(b, r, i, 0, &b->f[b->n]) != 0)
            return p->host->error(TROPT_EBACKEND,
                                  "%s: %s of run %s: a JSON value that "
                                  "does not parse",
                                  p->shown, view, run_id);
        b->n++;
    }
    return TROPT_OK;
}

static int emit_step(stepbuf *b, const tropt_stored_run *ri, tropt_event_fn fn, void *ud,
                     int64_t step, double time)
{
    tropt_event ev = {.kind = TROPT_EVENT_STEP,
                      .run = ri,
                      .step = step,
                      .time = time,
                      .ended_at = NAN,
                      .fields = b->f,
                      .n = b->n};
    int rc = fn(&ev, ud);
    sb_clear(b);
    return rc;
}

static int stream_steps(pg *p, const char *run_id, const tropt_stored_run *ri, tropt_event_fn fn,
                        void *ud)
{
    char *sql = pg_sql(p, "SELECT step, time, key, value, value_int, value_text, kind"
                          " FROM %1$s.metrics WHERE run_id = $1 ORDER BY step, key");
    if (!sql)
        return p->host->error(TROPT_ENOMEM, "out of memory");
    const char *vals[1] = {run_id};
    int sent = PQsendQueryParams(p->conn, sql, 1, NULL, vals, NULL, NULL, 0);
    p->host->free(sql);
    if (!sent || !PQsetSingleRowMode(p->conn))
        return fail(p, "cannot read steps", NULL);
    stepbuf b = {0};
    int rc = TROPT_OK, have = 0;
    int64_t step = 0;
    double time = 0;
    PGresult *r;
    while ((r = PQgetResult(p->conn)) != NULL) {
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_TUPLES_OK) { /* the end of the rows */
            PQclear(r);
            continue;
        }
        if (st != PGRES_SINGLE_TUPLE) {
            if (rc == TROPT_OK)
                rc = fail(p, "cannot read steps", r);
            else
                PQclear(r);
            continue;
        }
        if (rc != TROPT_OK) { /* drain after a stop or a failure */
            PQclear(r);
            continue;
        }
        int64_t s = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        if (have && s != step) {
            rc = emit_step(&b, ri, fn, ud, step, time);
            if (rc != TROPT_OK) {
                PQclear(r);
                continue;
            }
        }
        have = 1;
        step = s;
        time = real_of(r, 0, 1);
        if (sb_grow(p->host, &b) != 0) {
            PQclear(r);
            rc = p->host->error(TROPT_ENOMEM, "out of memory");
            continue;
        }
        b.res[b.n] = r;
        if (typed(&b, r, 0, 2, &b.f[b.n]) != 0) {
            PQclear(r);
            rc = p->host->error(TROPT_EBACKEND,
                                "%s: step %lld of run %s: a JSON value that does not parse",
                                p->shown, (long long)s, run_id);
            continue;
        }
        b.n++;
    }
    if (rc == TROPT_OK && have)
        rc = emit_step(&b, ri, fn, ud, step, time);
    sb_free(p->host, &b);
    return rc;
}

int pg_read_run(void *reader, const char *run_id, tropt_event_fn fn, void *userdata)
{
    pg *p = reader;
    size_t len = strlen(run_id);
    if (len < 8)
        return p->host->error(TROPT_EINVAL, "run id '%s' is too short (give at least 8 characters)",
                              run_id);
    int rc = exec_cmd(p, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (rc)
        return rc;
    /* the run, by id or unique prefix */
    const char *vals[1] = {run_id};
    PGresult *run = query(p,
                          "SELECT " RUN_COLS " FROM %1$s.runs WHERE left(run_id, length($1)) = $1"
                          " ORDER BY run_id LIMIT 2",
                          1, vals);
    stepbuf kv = {0};
    PGresult *params = NULL, *summary = NULL;
    json_t *config = NULL, *sum = NULL;
    if (!run) {
        rc = p->host->error(TROPT_ENOMEM, "out of memory");
        goto out;
    }
    if (PQresultStatus(run) != PGRES_TUPLES_OK) {
        rc = fail(p, "cannot read runs", run);
        run = NULL;
        goto out;
    }
    if (PQntuples(run) != 1) {
        rc = p->host->error(TROPT_EINVAL, "%s: %s run %s", p->shown,
                            PQntuples(run) ? "more than one" : "no", run_id);
        goto out;
    }
    tropt_stored_run ri;
    memset(&ri, 0, sizeof ri); /* ABI 1.2 members: none filled */
    fill_run(run, 0, &ri);
    if (!PQgetisnull(run, 0, 7)) {
        config = json_loads(PQgetvalue(run, 0, 7), 0, NULL);
        if (!config) {
            rc = p->host->error(TROPT_EBACKEND, "%s: the config of run %s does not parse", p->shown,
                                ri.run_id);
            goto out;
        }
    }
    if ((rc = read_kv(p, "params", ri.run_id, &kv, &params)) != TROPT_OK)
        goto out;
    tropt_event ev = {.kind = TROPT_EVENT_START,
                      .run = &ri,
                      .ended_at = NAN,
                      .config = config,
                      .fields = kv.f,
                      .n = kv.n};
    if ((rc = fn(&ev, userdata)) != 0)
        goto out;
    sb_clear(&kv);
    if ((rc = stream_steps(p, ri.run_id, &ri, fn, userdata)) != 0)
        goto out;
    if (strcmp(ri.status, "running") != 0) {
        if ((rc = read_kv(p, "summary", ri.run_id, &kv, &summary)) != TROPT_OK)
            goto out;
        if (kv.n) {
            sum = json_object();
            for (size_t i = 0; sum && i < kv.n; i++) {
                const tropt_field *f = &kv.f[i];
                json_t *v = f->type == TROPT_BOOL     ? json_boolean(f->v.b)
                            : f->type == TROPT_INT    ? json_integer(f->v.i)
                            : f->type == TROPT_REAL   ? json_real(f->v.r)
                            : f->type == TROPT_STRING ? json_string(f->v.s)
                            : f->type == TROPT_JSON   ? json_incref((json_t *)f->v.json)
                                                      : json_null();
                json_object_set_new(sum, f->key, v ? v : json_null());
            }
        }
        ev = (tropt_event){.kind = TROPT_EVENT_END,
                           .run = &ri,
                           .status = ri.status,
                           .ended_at = ri.ended_at,
                           .summary = sum,
                           .fields = kv.f,
                           .n = kv.n};
        rc = fn(&ev, userdata);
    }
out:
    sb_free(p->host, &kv);
    PQclear(params);
    PQclear(summary);
    PQclear(run);
    json_decref(config);
    json_decref(sum);
    PGresult *e = PQexec(p->conn, "COMMIT");
    PQclear(e);
    return rc;
}
