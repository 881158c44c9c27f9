/*
 * plugins/pg/pg_read.c - reading a pg store back (SPEC 9, ABI 1.1 hooks with
 * the members of ABI 1.2): opening the reader, listing runs, and what
 * pg_read_run.c shares.
 *
 * Reads on its own connection, inside one read-only REPEATABLE READ
 * transaction per call, so a run being written is seen as of one moment.
 * The store carries each value's kind and its typed columns (r float8, i,
 * t), so everything comes back exactly as logged: int64, reals bit-exact
 * (float8 text is the shortest round-trip form since PostgreSQL 12), NaN and
 * +-Infinity, booleans, strings, JSON arrays, null.
 *
 * A reader never creates or changes the store: a schema of version 1 (not
 * upgraded yet) is read as it is, its runs with one attempt.
 *
 * list_runs is cheap whatever the runs' lengths (every tracker's init lists
 * the store once, and resuming a run reads its last step and its latest
 * mark): per run, one row of tropt_run, an index probe for its highest step
 * and one for its latest mark, and the attempts' n_live counts.
 */
#include "pg_read.h"

int pgr_fail(pg *p, const char *what, PGresult *r)
{
    pg_set_err(p, what, r ? PQresultErrorMessage(r) : PQerrorMessage(p->conn));
    if (r)
        PQclear(r);
    return p->host->error(TROPT_EBACKEND, "%s: %s", p->shown, p->err);
}

int pgr_exec_cmd(pg *p, const char *sql)
{
    PGresult *r = PQexec(p->conn, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return pgr_fail(p, "cannot read", r);
    PQclear(r);
    return TROPT_OK;
}

PGresult *pgr_query(pg *p, const char *tpl, int n, const char *const *vals)
{
    char *sql = pg_sql(p, tpl);
    if (!sql)
        return NULL;
    PGresult *r = PQexecParams(p->conn, sql, n, NULL, vals, NULL, NULL, 0);
    p->host->free(sql);
    return r;
}

double pgr_real(const PGresult *r, int row, int col)
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

/* ---- the reader ------------------------------------------------------------ */

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
    PGresult *r = pgr_query(p, PGS_VERSION_GET, 0, NULL);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        rc = host->error(TROPT_EBACKEND, "%s: no tropt store in schema %s", p->shown, p->schema);
        PQclear(r);
        pg_destroy(p);
        return rc;
    }
    long version = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    if (version > PGS_VERSION || version < 1) {
        rc = host->error(TROPT_EBACKEND,
                         "%s: schema %s has version %ld, newer than this tropt knows (%d)",
                         p->shown, p->schema, version, PGS_VERSION);
        pg_destroy(p);
        return rc;
    }
    p->version = (int)version;
    *reader = p;
    return TROPT_OK;
}

void pg_reader_close(void *reader)
{
    pg_destroy(reader);
}

/* ---- stored runs ------------------------------------------------------------ */

static const char *opt_text(const PGresult *r, int i, int c)
{
    return PQgetisnull(r, i, c) ? NULL : PQgetvalue(r, i, c);
}

/* The tags of column 10 (a JSON array of strings), into run->tags. */
static int fill_tags(pg *p, const PGresult *r, int i, pgr_run *run)
{
    const char *text = opt_text(r, i, 10);
    run->tags_json = text ? json_loads(text, 0, NULL) : NULL;
    size_t n = json_is_array(run->tags_json) ? json_array_size(run->tags_json) : 0;
    if (n == 0)
        return TROPT_OK;
    run->tags = p->host->malloc(n * sizeof *run->tags);
    if (!run->tags)
        return p->host->error(TROPT_ENOMEM, "out of memory");
    for (size_t k = 0; k < n; k++) {
        const char *s = json_string_value(json_array_get(run->tags_json, k));
        if (s)
            run->tags[run->ri.n_tags++] = s;
    }
    run->ri.tags = run->tags;
    return TROPT_OK;
}

int pgr_run_fill(pg *p, const PGresult *r, int i, pgr_run *run)
{
    memset(run, 0, sizeof *run);
    tropt_stored_run *ri = &run->ri;
    ri->run_id = PQgetvalue(r, i, 0);
    ri->experiment = PQgetvalue(r, i, 1);
    ri->status = PQgetvalue(r, i, 2);
    ri->started_at = pgr_real(r, i, 3);
    ri->ended_at = pgr_real(r, i, 4);
    ri->host = opt_text(r, i, 5);
    ri->pid = strtoll(PQgetvalue(r, i, 6), NULL, 10);
    ri->n_steps = strtoll(PQgetvalue(r, i, 8), NULL, 10);
    ri->name = opt_text(r, i, 9);
    ri->note = opt_text(r, i, 11);
    ri->attempts = strtoll(PQgetvalue(r, i, 12), NULL, 10);
    if (ri->attempts < 1)
        ri->attempts = 1;
    ri->last_step = strtoll(PQgetvalue(r, i, 13), NULL, 10);
    ri->checkpoint_step = strtoll(PQgetvalue(r, i, 14), NULL, 10);
    ri->resume_key = opt_text(r, i, 15);
    ri->pidns = opt_text(r, i, 16);
    ri->heartbeat_age = pgr_real(r, i, 17);
    ri->stale_after = pgr_real(r, i, 18);
    run->prov = (tropt_provenance){opt_text(r, i, 19), opt_text(r, i, 20), opt_text(r, i, 21),
                                   opt_text(r, i, 22)};
    ri->provenance = &run->prov;
    run->id = strtoll(PQgetvalue(r, i, 23), NULL, 10);
    return fill_tags(p, r, i, run);
}

void pgr_run_clear(pg *p, pgr_run *run)
{
    p->host->free(run->tags);
    json_decref(run->tags_json);
    run->tags = NULL;
    run->tags_json = NULL;
}

int pg_list_runs(void *reader, tropt_run_list_fn fn, void *userdata)
{
    pg *p = reader;
    int rc = pgr_exec_cmd(p, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (rc)
        return rc;
    PGresult *r = pgr_query(p,
                            p->version >= 2 ? PGR_RUNS_V2 " ORDER BY u.started_at, u.run_id"
                                            : PGR_RUNS_V1 " ORDER BY u.started_at, u.run_id",
                            0, NULL);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = r ? pgr_fail(p, "cannot list runs", r) : p->host->error(TROPT_ENOMEM, "out of memory");
    } else {
        for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
            pgr_run run;
            rc = pgr_run_fill(p, r, i, &run);
            if (rc == TROPT_OK)
                rc = fn(&run.ri, userdata);
            pgr_run_clear(p, &run);
        }
        PQclear(r);
    }
    PQclear(PQexec(p->conn, "COMMIT"));
    return rc;
}

/* ---- rows kept while handed out ---------------------------------------------- */

void pgr_sb_clear(stepbuf *b)
{
    for (size_t i = 0; i < b->n; i++)
        PQclear(b->res[i]);
    for (size_t i = 0; i < b->nj; i++)
        json_decref(b->js[i]);
    b->n = b->nj = 0;
}

void pgr_sb_free(const tropt_host *h, stepbuf *b)
{
    pgr_sb_clear(b);
    h->free(b->res);
    h->free(b->f);
    h->free(b->s);
    h->free(b->js);
}

int pgr_sb_grow(const tropt_host *h, stepbuf *b)
{
    void **const arrays[] = {(void **)&b->res, (void **)&b->f, (void **)&b->s, (void **)&b->js};
    const size_t elem[] = {sizeof *b->res, sizeof *b->f, sizeof *b->s, sizeof *b->js};
    return tropt_host_grow_all(h, &b->cap, b->n + 1, 4, arrays, elem);
}

int pgr_typed(stepbuf *b, const PGresult *r, int row, int c, tropt_field *f)
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
        f->v.r = pgr_real(r, row, c + 1);
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
