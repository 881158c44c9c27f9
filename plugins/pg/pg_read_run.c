/*
 * plugins/pg/pg_read_run.c - reading one run back (read_run): START with
 * every attempt, then per attempt its ATTEMPT event (after the first), its
 * steps in ascending order (superseded ones too: the host filters), its
 * checkpoint marks and its system samples (in time order), then END.
 *
 * Steps and samples are fetched in single-row mode, grouped by step (by
 * time), and the rows of one group are kept (as libpq results) until the
 * group is handed out, so memory is bounded by the largest step.
 */
#include "pg_read.h"

/* One attempt's steps: (step, time, key, value, value_int, value_text,
 * kind), by step then key.  Version 1: the metrics view. */
#define PGR_STEPS_V2                                                                               \
    "SELECT l.step, l.time, k.key, x.r, x.i, x.t, " PGS_KIND_TEXT " FROM %1$s.tropt_log l"         \
    " CROSS JOIN LATERAL unnest(l.keys, l.kinds, l.r, l.i, l.t) AS x(key, kind, r, i, t)"          \
    " JOIN %1$s.tropt_key k ON k.id = x.key WHERE l.run = $1::integer"                             \
    " AND l.attempt = $2::integer ORDER BY l.step, k.key"
#define PGR_STEPS_V1                                                                               \
    "SELECT step, time, key, value, value_int, value_text, kind FROM %1$s.metrics"                 \
    " WHERE run_id = $1 ORDER BY step, key"
#define PGR_ATTEMPTS                                                                               \
    "SELECT attempt, from_step, started_at, ended_at, status, host, pid, config"                   \
    " FROM %1$s.tropt_attempt WHERE run = $1::integer ORDER BY attempt"
#define PGR_PARAMS_V2                                                                              \
    "SELECT key, r, i, t, " PGS_KIND_TEXT " FROM %1$s.tropt_param WHERE run_id = $1"               \
    " AND attempt = $2::integer ORDER BY key"
#define PGR_PARAMS_V1                                                                              \
    "SELECT key, value, value_int, value_text, kind FROM %1$s.params WHERE run_id = $1"            \
    " ORDER BY key"
#define PGR_SUMMARY                                                                                \
    "SELECT key, value, value_int, value_text, kind FROM %1$s.summary WHERE run_id = $1"           \
    " ORDER BY key"
#define PGR_MARKS                                                                                  \
    "SELECT seq, step, time, path, size, sha256, error FROM %1$s.tropt_mark"                       \
    " WHERE run = $1::integer AND attempt = $2::integer ORDER BY seq"
#define PGR_SAMPLES                                                                                \
    "SELECT time, key, value, max FROM %1$s.tropt_sys WHERE run = $1::integer"                     \
    " AND attempt = $2::integer ORDER BY time, key"

/* What a read hands out, and where. */
typedef struct rctx {
    pg *p;
    const tropt_stored_run *ri;
    tropt_event_fn fn;
    void *ud;
    int64_t attempt; /* of the events being handed out */
    char num[24];    /* the run's id in tropt_run, as text */
    char att[24];    /* attempt, as text */
} rctx;

/* ---- rows grouped by their first column ------------------------------------- */

typedef struct group_ops {
    /* row r into b (b->res[b->n] holds it): 0, or an error (reported) */
    int (*add)(rctx *c, stepbuf *b, const PGresult *r);
    /* the group in b handed out: fn's result */
    int (*emit)(rctx *c, stepbuf *b);
} group_ops;

static int add_field(rctx *c, stepbuf *b, const PGresult *r)
{
    if (pgr_typed(b, r, 0, 2, &b->f[b->n]) == 0)
        return TROPT_OK;
    return c->p->host->error(TROPT_EBACKEND,
                             "%s: step %s of run %s: a JSON value that does not parse", c->p->shown,
                             PQgetvalue(r, 0, 0), c->ri->run_id);
}

static int emit_step(rctx *c, stepbuf *b)
{
    tropt_event ev = {.kind = TROPT_EVENT_STEP,
                      .run = c->ri,
                      .step = strtoll(PQgetvalue(b->res[0], 0, 0), NULL, 10),
                      .time = pgr_real(b->res[0], 0, 1),
                      .ended_at = NAN,
                      .fields = b->f,
                      .n = b->n,
                      .attempt = c->attempt};
    return c->fn(&ev, c->ud);
}

static int add_sample(rctx *c, stepbuf *b, const PGresult *r)
{
    (void)c;
    b->s[b->n] = (tropt_sample){PQgetvalue(r, 0, 1), pgr_real(r, 0, 2), pgr_real(r, 0, 3)};
    return TROPT_OK;
}

static int emit_samples(rctx *c, stepbuf *b)
{
    tropt_event ev = {.kind = TROPT_EVENT_SYSTEM,
                      .run = c->ri,
                      .time = pgr_real(b->res[0], 0, 0),
                      .ended_at = NAN,
                      .attempt = c->attempt,
                      .samples = b->s,
                      .n_samples = b->n};
    return c->fn(&ev, c->ud);
}

/* One single-row result into the group being built (or, when its first
 * column differs, after handing that group out).  *rc keeps the first
 * failure or stop; the result is kept or cleared. */
static void take_row(rctx *c, const group_ops *ops, stepbuf *b, PGresult *r, int *rc)
{
    pg *p = c->p;
    if (b->n && strcmp(PQgetvalue(r, 0, 0), PQgetvalue(b->res[0], 0, 0)) != 0) {
        *rc = ops->emit(c, b);
        pgr_sb_clear(b);
    }
    if (*rc == TROPT_OK && pgr_sb_grow(p->host, b) != 0)
        *rc = p->host->error(TROPT_ENOMEM, "out of memory");
    if (*rc == TROPT_OK)
        *rc = ops->add(c, b, r);
    if (*rc != TROPT_OK) {
        PQclear(r);
        return;
    }
    b->res[b->n++] = r;
}

static int stream_groups(rctx *c, const char *tpl, int n, const char *const *vals,
                         const group_ops *ops)
{
    pg *p = c->p;
    char *sql = pg_sql(p, tpl);
    if (!sql)
        return p->host->error(TROPT_ENOMEM, "out of memory");
    int sent = PQsendQueryParams(p->conn, sql, n, NULL, vals, NULL, NULL, 0);
    p->host->free(sql);
    if (!sent || !PQsetSingleRowMode(p->conn))
        return pgr_fail(p, "cannot read", NULL);
    stepbuf b = {0};
    int rc = TROPT_OK;
    PGresult *r;
    while ((r = PQgetResult(p->conn)) != NULL) {
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_SINGLE_TUPLE && rc == TROPT_OK)
            take_row(c, ops, &b, r, &rc);
        else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK && rc == TROPT_OK)
            rc = pgr_fail(p, "cannot read", r);
        else
            PQclear(r); /* the end of the rows, or draining after a stop */
    }
    if (rc == TROPT_OK && b.n)
        rc = ops->emit(c, &b);
    pgr_sb_free(p->host, &b);
    return rc;
}

/* ---- marks, params, summary --------------------------------------------------- */

static int emit_marks(rctx *c)
{
    pg *p = c->p;
    const char *v[2] = {c->num, c->att};
    PGresult *r = pgr_query(p, PGR_MARKS, 2, v);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK)
        return r ? pgr_fail(p, "cannot read checkpoint marks", r)
                 : p->host->error(TROPT_ENOMEM, "out of memory");
    int rc = TROPT_OK;
    for (int i = 0; i < PQntuples(r) && rc == TROPT_OK; i++) {
        tropt_checkpoint m = {
            .attempt = c->attempt,
            .seq = strtoll(PQgetvalue(r, i, 0), NULL, 10),
            .step = strtoll(PQgetvalue(r, i, 1), NULL, 10),
            .time = pgr_real(r, i, 2),
            .path = PQgetvalue(r, i, 3),
            .size = PQgetisnull(r, i, 4) ? -1 : strtoll(PQgetvalue(r, i, 4), NULL, 10),
            .sha256 = PQgetisnull(r, i, 5) ? NULL : PQgetvalue(r, i, 5),
            .error = PQgetisnull(r, i, 6) ? NULL : PQgetvalue(r, i, 6),
        };
        tropt_event ev = {.kind = TROPT_EVENT_CHECKPOINT,
                          .run = c->ri,
                          .time = m.time,
                          .ended_at = NAN,
                          .attempt = c->attempt,
                          .checkpoint = &m};
        rc = c->fn(&ev, c->ud);
    }
    PQclear(r);
    return rc;
}

/* Rows (key, value, value_int, value_text, kind) as fields into b; the
 * result into *keep (the caller clears it). */
static int read_kv(rctx *c, const char *tpl, int n, const char *const *vals, stepbuf *b,
                   PGresult **keep)
{
    pg *p = c->p;
    PGresult *r = pgr_query(p, tpl, n, vals);
    if (!r)
        return p->host->error(TROPT_ENOMEM, "out of memory");
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return pgr_fail(p, "cannot read", r);
    *keep = r;
    for (int i = 0; i < PQntuples(r); i++) {
        if (pgr_sb_grow(p->host, b) != 0)
            return p->host->error(TROPT_ENOMEM, "out of memory");
        b->res[b->n] = NULL;
        if (pgr_typed(b, r, i, 0, &b->f[b->n]) != 0)
            return p->host->error(TROPT_EBACKEND,
                                  "%s: run %s: a JSON value of its config or summary that "
                                  "does not parse",
                                  p->shown, c->ri->run_id);
        b->n++;
    }
    return TROPT_OK;
}

static json_t *summary_object(const stepbuf *kv)
{
    if (!kv->n)
        return NULL;
    json_t *sum = json_object();
    for (size_t i = 0; sum && i < kv->n; i++) {
        const tropt_field *f = &kv->f[i];
        json_t *v = f->type == TROPT_BOOL     ? json_boolean(f->v.b)
                    : f->type == TROPT_INT    ? json_integer(f->v.i)
                    : f->type == TROPT_REAL   ? json_real(f->v.r)
                    : f->type == TROPT_STRING ? json_string(f->v.s)
                    : f->type == TROPT_JSON   ? json_incref((json_t *)f->v.json)
                                              : json_null();
        json_object_set_new(sum, f->key, v ? v : json_null());
    }
    return sum;
}

static int emit_end(rctx *c)
{
    if (strcmp(c->ri->status, "running") == 0)
        return TROPT_OK;
    stepbuf kv = {0};
    PGresult *keep = NULL;
    const char *v[1] = {c->ri->run_id};
    int rc = read_kv(c, PGR_SUMMARY, 1, v, &kv, &keep);
    json_t *sum = rc == TROPT_OK ? summary_object(&kv) : NULL;
    if (rc == TROPT_OK) {
        tropt_event ev = {.kind = TROPT_EVENT_END,
                          .run = c->ri,
                          .status = c->ri->status,
                          .ended_at = c->ri->ended_at,
                          .summary = sum,
                          .fields = kv.f,
                          .n = kv.n};
        rc = c->fn(&ev, c->ud);
    }
    json_decref(sum);
    pgr_sb_free(c->p->host, &kv);
    PQclear(keep);
    return rc;
}

/* ---- attempts ------------------------------------------------------------------ */

/* The attempts of the run (rows of PGR_ATTEMPTS) as tropt_attempt; an
 * attempt still marked running that is not the latest, or whose run is no
 * longer running, never ended: crashed. */
static int load_attempts(rctx *c, const PGresult *r, tropt_attempt **out)
{
    int n = PQntuples(r);
    *out = NULL;
    if (n == 0)
        return TROPT_OK;
    tropt_attempt *a = c->p->host->malloc((size_t)n * sizeof *a);
    if (!a)
        return c->p->host->error(TROPT_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        const char *st = PQgetvalue(r, i, 4);
        int never_ended =
            strcmp(st, "running") == 0 && (i + 1 < n || strcmp(c->ri->status, "running") != 0);
        a[i] = (tropt_attempt){strtoll(PQgetvalue(r, i, 0), NULL, 10),
                               strtoll(PQgetvalue(r, i, 1), NULL, 10),
                               pgr_real(r, i, 2),
                               pgr_real(r, i, 3),
                               never_ended ? "crashed" : st,
                               PQgetvalue(r, i, 5),
                               strtoll(PQgetvalue(r, i, 6), NULL, 10)};
    }
    *out = a;
    return TROPT_OK;
}

/* START (first = 1, with every attempt) or ATTEMPT for row i of the
 * attempts: its config and params. */
static int emit_opening(rctx *c, const PGresult *att, int i, const tropt_attempt *all, int first)
{
    pg *p = c->p;
    json_t *config = NULL;
    if (!PQgetisnull(att, i, 7) && !(config = json_loads(PQgetvalue(att, i, 7), 0, NULL)))
        return p->host->error(TROPT_EBACKEND, "%s: the config of run %s does not parse", p->shown,
                              c->ri->run_id);
    stepbuf kv = {0};
    PGresult *keep = NULL;
    const char *v[2] = {c->ri->run_id, c->att};
    int rc = read_kv(c, PGR_PARAMS_V2, 2, v, &kv, &keep);
    if (rc == TROPT_OK) {
        tropt_event ev = {.kind = first ? TROPT_EVENT_START : TROPT_EVENT_ATTEMPT,
                          .run = c->ri,
                          .ended_at = NAN,
                          .config = config,
                          .fields = kv.f,
                          .n = kv.n,
                          .attempt = c->attempt,
                          .attempts = first ? all : NULL,
                          .n_attempts = first ? (size_t)PQntuples(att) : 0};
        rc = c->fn(&ev, c->ud);
    }
    json_decref(config);
    pgr_sb_free(p->host, &kv);
    PQclear(keep);
    return rc;
}

static const group_ops step_ops = {add_field, emit_step};
static const group_ops sample_ops = {add_sample, emit_samples};

/* Every attempt: its opening, steps, marks, samples; then END. */
static int read_attempts(rctx *c)
{
    pg *p = c->p;
    const char *v[1] = {c->num};
    PGresult *att = pgr_query(p, PGR_ATTEMPTS, 1, v);
    if (!att || PQresultStatus(att) != PGRES_TUPLES_OK)
        return att ? pgr_fail(p, "cannot read attempts", att)
                   : p->host->error(TROPT_ENOMEM, "out of memory");
    tropt_attempt *all = NULL;
    int rc = load_attempts(c, att, &all);
    for (int i = 0; i < PQntuples(att) && rc == TROPT_OK; i++) {
        c->attempt = all[i].attempt;
        snprintf(c->att, sizeof c->att, "%" PRId64, c->attempt);
        const char *sv[2] = {c->num, c->att};
        rc = emit_opening(c, att, i, all, i == 0);
        if (rc == TROPT_OK)
            rc = stream_groups(c, PGR_STEPS_V2, 2, sv, &step_ops);
        if (rc == TROPT_OK)
            rc = emit_marks(c);
        if (rc == TROPT_OK)
            rc = stream_groups(c, PGR_SAMPLES, 2, sv, &sample_ops);
    }
    p->host->free(all);
    PQclear(att);
    return rc == TROPT_OK ? emit_end(c) : rc;
}

/* A store of version 1: START, the steps, END. */
static int read_v1(rctx *c, const PGresult *run)
{
    pg *p = c->p;
    json_t *config = NULL;
    if (!PQgetisnull(run, 0, 7) && !(config = json_loads(PQgetvalue(run, 0, 7), 0, NULL)))
        return p->host->error(TROPT_EBACKEND, "%s: the config of run %s does not parse", p->shown,
                              c->ri->run_id);
    stepbuf kv = {0};
    PGresult *keep = NULL;
    const char *v[1] = {c->ri->run_id};
    int rc = read_kv(c, PGR_PARAMS_V1, 1, v, &kv, &keep);
    if (rc == TROPT_OK) {
        tropt_event ev = {.kind = TROPT_EVENT_START,
                          .run = c->ri,
                          .ended_at = NAN,
                          .config = config,
                          .fields = kv.f,
                          .n = kv.n};
        rc = c->fn(&ev, c->ud);
    }
    json_decref(config);
    pgr_sb_free(p->host, &kv);
    PQclear(keep);
    c->attempt = 1;
    if (rc == TROPT_OK)
        rc = stream_groups(c, PGR_STEPS_V1, 1, v, &step_ops);
    return rc == TROPT_OK ? emit_end(c) : rc;
}

int pg_read_run(void *reader, const char *run_id, tropt_event_fn fn, void *userdata)
{
    pg *p = reader;
    if (strlen(run_id) < 8)
        return p->host->error(TROPT_EINVAL, "run id '%s' is too short (give at least 8 characters)",
                              run_id);
    int rc = pgr_exec_cmd(p, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (rc)
        return rc;
    /* the run, by id or unique prefix */
    const char *vals[1] = {run_id};
    PGresult *run = pgr_query(p,
                              p->version >= 2 ? PGR_RUNS_V2 " WHERE left(u.run_id, length($1)) = $1"
                                                            " ORDER BY u.run_id LIMIT 2"
                                              : PGR_RUNS_V1 " WHERE left(u.run_id, length($1)) = $1"
                                                            " ORDER BY u.run_id LIMIT 2",
                              1, vals);
    pgr_run sr;
    memset(&sr, 0, sizeof sr);
    if (!run || PQresultStatus(run) != PGRES_TUPLES_OK) {
        rc = run ? pgr_fail(p, "cannot read runs", run)
                 : p->host->error(TROPT_ENOMEM, "out of memory");
        run = NULL;
    } else if (PQntuples(run) != 1) {
        rc = p->host->error(TROPT_EINVAL, "%s: %s run %s", p->shown,
                            PQntuples(run) ? "more than one" : "no", run_id);
    } else if ((rc = pgr_run_fill(p, run, 0, &sr)) == TROPT_OK) {
        rctx c = {.p = p, .ri = &sr.ri, .fn = fn, .ud = userdata, .attempt = 1};
        snprintf(c.num, sizeof c.num, "%" PRId64, sr.id);
        rc = p->version >= 2 ? read_attempts(&c) : read_v1(&c, run);
    }
    pgr_run_clear(p, &sr);
    PQclear(run);
    PQclear(PQexec(p->conn, "COMMIT"));
    return rc;
}
