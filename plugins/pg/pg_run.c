/*
 * plugins/pg/pg_run.c - opening and closing a run: its row, its attempt
 * (SPEC 15), params, and its end with the summary.
 *
 * init opens attempt `run->attempt` of the run in one transaction:
 *   - a run the store was told to delete is refused (TROPT_EINVAL), looked
 *     up only when the id came from outside (run->given_id);
 *   - runs whose heartbeat went stale are marked crashed;
 *   - the run's row is created (attempt 1, or a later attempt of a run this
 *     store never saw), or locked (FOR UPDATE: two processes opening the
 *     same run take turns); a resume key another run carries is refused by
 *     the UNIQUE constraint (two processes starting with one key at once:
 *     one wins);
 *   - the attempt's row: new, or stored already.  Attempt 1 stored already
 *     opens again (a replay, as before attempts existed); attempt k > 1
 *     stored already opens again only when it has the same start, host and
 *     pid (a replay of the same events), else it is refused (two processes
 *     resuming one run at once: the primary key (run, attempt) lets one
 *     win);
 *   - a new attempt supersedes the earlier attempts' steps at or after its
 *     from_step (their cutoff), nothing rewritten;
 *   - the run's row follows its latest attempt (writer, config, running).
 * finish ends the attempt, and the run with it when it is the latest.
 */
#include "pg_priv.h"

/* What init writes, as text parameters. */
typedef struct start_args {
    const tropt_run *run;
    int64_t k; /* the attempt */
    char num[24], started[40], att_started[40], pid[32], stale[40], attempt[24], from[24];
    const char *config; /* JSON text, or NULL */
    const char *name, *resume_key, *pidns, *command, *cwd, *git_commit, *version;
    int refused;   /* the error code of a refusal (p->err) */
    int key_taken; /* refused: another run carries the resume key */
    int given;     /* the id came from outside (given_id): the store may hold it */
} start_args;

/* ---- params and summary -------------------------------------------------- */

int pg_put_kv(pg *p, const char *tpl, const char *attempt, const tropt_field *f, size_t n)
{
    char *q = pg_sql(p, tpl);
    if (!q) {
        pg_set_err(p, "out of memory", NULL);
        return -1;
    }
    int rc = 0;
    for (size_t k = 0; k < n && rc == 0; k++) {
        row w;
        size_t mark = p->alen;
        if (pg_field_row(p, &f[k], &w) != 0) {
            pg_set_err(p, "out of memory", NULL);
            rc = -1;
            break;
        }
        char kind[8], rtxt[40], itxt[32];
        snprintf(kind, sizeof kind, "%d", w.kind);
        pg_real_text(p, rtxt, sizeof rtxt, w.r);
        snprintf(itxt, sizeof itxt, "%" PRId64, w.i);
        const char *v[7] = {p->run_id,
                            f[k].key,
                            kind,
                            HAS_R(&w) ? rtxt : NULL,
                            HAS_I(&w) ? itxt : NULL,
                            HAS_T(&w) ? p->arena + w.text : NULL,
                            attempt};
        PGresult *r = PQexecParams(p->conn, q, attempt ? 7 : 6, NULL, v, NULL, NULL, 0);
        rc = pg_res_ok(p, r, "cannot write");
        PQclear(r);
        p->alen = mark;
    }
    p->host->free(q);
    return rc;
}

/* ---- init ---------------------------------------------------------------- */

static void start_args_fill(pg *p, const tropt_run *run, const char *config, start_args *a)
{
    memset(a, 0, sizeof *a);
    a->run = run;
    a->config = config;
    int v12 = TROPT_HOST_RUN_V12(p->host);
    a->k = v12 && run->attempt > 1 ? run->attempt : 1;
    p->host->format_real(a->started, sizeof a->started, run->started_at);
    p->host->format_real(a->att_started, sizeof a->att_started,
                         a->k > 1 ? run->attempt_started_at : run->started_at);
    snprintf(a->pid, sizeof a->pid, "%" PRId64, run->pid);
    snprintf(a->attempt, sizeof a->attempt, "%" PRId64, a->k);
    snprintf(a->from, sizeof a->from, "%" PRId64, a->k > 1 ? run->from_step : 0);
    double bound = 4.0 * (double)p->heartbeat_ms / 1000.0;
    p->host->format_real(a->stale, sizeof a->stale, bound < 2.0 ? 2.0 : bound);
    a->given = 1; /* a host before ABI 1.2 does not say */
    if (!v12)
        return;
    a->given = run->given_id;
    a->name = run->name;
    a->resume_key = run->resume_key;
    a->pidns = run->pidns;
    if (run->provenance) {
        a->command = run->provenance->command;
        a->cwd = run->provenance->cwd;
        a->git_commit = run->provenance->git_commit;
        a->version = run->provenance->version;
    }
}

/* 0; 1 when the run was deleted (refused, p->err); -1 (p->err). */
static int check_deleted(pg *p, start_args *a)
{
    const char *v[1] = {a->run->run_id};
    PGresult *r = pg_exec_tpl(p, PGS_DELETED_GET, 1, v);
    if (pg_res_ok(p, r, "cannot start the run") != 0) {
        PQclear(r);
        return -1;
    }
    int deleted = PQntuples(r) == 1;
    if (deleted) {
        char when[40];
        pg_iso_time(strtod(PQgetvalue(r, 0, 0), NULL), when, sizeof when);
        snprintf(p->err, sizeof p->err,
                 "run %s was deleted from schema %s at %s (tropt rm), so it is not written "
                 "again: events that still hold it (a journal, a spool) are left out",
                 a->run->run_id, p->schema, when);
        a->refused = TROPT_EINVAL;
    }
    PQclear(r);
    return deleted;
}

static int key_conflict(const PGresult *r)
{
    const char *c = r ? PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME) : NULL;
    return strcmp(pg_sqlstate(r), "23505") == 0 && c && strstr(c, "resume_key");
}

/* The run's row, created or locked: *created, p->run_num, *stored (the
 * latest attempt stored).  0; 1 refused (another run carries the resume
 * key; the transaction is aborted); -1 (p->err). */
static int open_run_row(pg *p, start_args *a, int *created, int64_t *stored)
{
    const tropt_run *run = a->run;
    const char *v[15] = {run->run_id, run->experiment, a->started, run->host,     a->pid,
                         a->config,   a->stale,        a->name,    a->attempt,    a->resume_key,
                         a->pidns,    a->command,      a->cwd,     a->git_commit, a->version};
    PGresult *r = pg_exec_tpl(p, PGS_RUN_CREATE, 15, v);
    if (pg_res_ok(p, r, "cannot start the run") != 0) {
        a->key_taken = key_conflict(r);
        PQclear(r);
        if (a->key_taken)
            a->refused = TROPT_EBACKEND;
        return a->key_taken ? 1 : -1;
    }
    *created = PQntuples(r) == 1;
    *stored = a->k;
    if (!*created) {
        PQclear(r);
        r = pg_exec_tpl(p, PGS_RUN_LOCK, 1, v);
        if (pg_res_ok(p, r, "cannot start the run") != 0 || PQntuples(r) != 1) {
            if (PQntuples(r) != 1 && PQresultStatus(r) == PGRES_TUPLES_OK)
                pg_set_err(p, "cannot start the run", "its row vanished (deleted meanwhile?)");
            PQclear(r);
            return -1;
        }
        *stored = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    }
    p->run_num = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    snprintf(a->num, sizeof a->num, "%" PRId64, p->run_num);
    PQclear(r);
    return 0;
}

/* The message for another run holding the resume key (after the ROLLBACK:
 * asks which run it is). */
static void explain_key_taken(pg *p, const start_args *a)
{
    const char *v[1] = {a->resume_key};
    PGresult *r = pg_exec_tpl(p, PGS_RUN_BY_KEY, 1, v);
    const char *other = r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1
                            ? PQgetvalue(r, 0, 0)
                            : "another run";
    snprintf(p->err, sizeof p->err,
             "resume_key '%s' already belongs to %s in schema %s, so run %s cannot take it: "
             "another process started a run with this key at the same time (one key belongs "
             "to one process)",
             a->resume_key, other, p->schema, a->run->run_id);
    PQclear(r);
}

/* Attempt k (> 1) is stored already: a replay of the same events (same
 * start, host, pid) goes on; another writer's is refused.  0, 1 refused,
 * -1 (p->err). */
static int same_attempt(pg *p, start_args *a)
{
    const char *w[5] = {a->num, a->attempt, a->att_started, a->run->host, a->pid};
    PGresult *r = pg_exec_tpl(p, PGS_ATTEMPT_WHO, 5, w);
    if (pg_res_ok(p, r, "cannot start the attempt") != 0) {
        PQclear(r);
        return -1;
    }
    int refused = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") != 0;
    if (refused) {
        char when[40];
        pg_iso_time(strtod(PQgetvalue(r, 0, 3), NULL), when, sizeof when);
        snprintf(p->err, sizeof p->err,
                 "run %s already has attempt %s, opened by pid %s on %s at %s: another process "
                 "resumed this run at the same time (one attempt has one writer)",
                 a->run->run_id, a->attempt, PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 1), when);
        a->refused = TROPT_EBACKEND;
    }
    PQclear(r);
    return refused;
}

/* The attempt's row, new (*fresh) or opened again.  0, 1 refused, -1. */
static int open_attempt(pg *p, start_args *a, int *fresh)
{
    const char *v[8] = {a->num,       a->attempt, a->from,  a->att_started,
                        a->run->host, a->pid,     a->pidns, a->config};
    PGresult *r = pg_exec_tpl(p, PGS_ATTEMPT_CREATE, 8, v);
    if (pg_res_ok(p, r, "cannot start the attempt") != 0) {
        PQclear(r);
        return -1;
    }
    *fresh = PQntuples(r) == 1;
    PQclear(r);
    if (*fresh)
        return 0;
    if (a->k > 1) {
        int s = same_attempt(p, a);
        if (s != 0)
            return s;
    }
    return pg_exec_ok(p, PGS_ATTEMPT_REOPEN, 8, v, "cannot start the attempt");
}

/* The run's row, its attempt, params, stale runs marked, in the open
 * transaction.  0, 1 refused (a->refused, p->err), -1 (p->err). */
static int start_steps(pg *p, start_args *a, const tropt_field *params, size_t n_params)
{
    /* an id the host made just now was never deleted: no lookup */
    int rc = a->given ? check_deleted(p, a) : 0;
    if (rc == 0)
        rc = pg_exec_ok(p, PGS_MARK_STALE, 0, NULL, "cannot mark crashed runs");
    int created = 0, fresh = 0;
    int64_t stored = 0;
    if (rc == 0)
        rc = open_run_row(p, a, &created, &stored);
    if (rc == 0)
        rc = open_attempt(p, a, &fresh);
    if (rc == 0 && fresh && a->k > 1) {
        const char *v[3] = {a->num, a->attempt, a->from};
        rc = pg_exec_ok(p, PGS_SUPERSEDE, 3, v, "cannot start the attempt");
    }
    if (rc == 0 && !created && a->k >= stored) {
        const tropt_run *run = a->run;
        const char *v[15] = {a->num,    run->experiment, a->started, run->host,     a->pid,
                             a->config, a->stale,        a->name,    a->attempt,    a->resume_key,
                             a->pidns,  a->command,      a->cwd,     a->git_commit, a->version};
        PGresult *r = pg_exec_tpl(p, PGS_RUN_CONTINUE, 15, v);
        rc = pg_res_ok(p, r, "cannot start the run");
        if (rc != 0 && key_conflict(r)) {
            a->refused = TROPT_EBACKEND;
            a->key_taken = 1;
            rc = 1;
        }
        PQclear(r);
    }
    const char *pv[2] = {a->run->run_id, a->attempt};
    if (rc == 0)
        rc = pg_exec_ok(p, PGS_PARAM_CLEAR, 2, pv, "cannot write params");
    if (rc == 0)
        rc = pg_put_kv(p, PGS_PARAM_INSERT, a->attempt, params, n_params);
    return rc;
}

/* write_start failed for another reason than a refusal (p->err). */
#define START_FAILED 2

/* The run opened in one transaction.  TROPT_OK; a refusal (TROPT_EINVAL: the
 * run was deleted; TROPT_EBACKEND: another process holds the attempt or the
 * resume key) with p->err; TROPT_ENOMEM; or START_FAILED (p->err; *lost
 * when the connection is gone). */
static int write_start(pg *p, const tropt_run *run, const json_t *config, const tropt_field *params,
                       size_t n_params, int *lost)
{
    tev_buf cfg;
    tev_buf_init(&cfg, p->host->realloc, p->host->free);
    if (config && tev_put_json(&cfg, config, p->host->format_real) != 0) {
        tev_buf_free(&cfg);
        pg_set_err(p, "out of memory", NULL);
        return TROPT_ENOMEM;
    }
    start_args a;
    start_args_fill(p, run, config ? (cfg.data ? cfg.data : "{}") : NULL, &a);
    int rc = pg_exec_ok(p, "BEGIN", 0, NULL, "cannot start the run");
    if (rc == 0)
        rc = start_steps(p, &a, params, n_params);
    if (rc == 0)
        rc = pg_exec_ok(p, "COMMIT", 0, NULL, "cannot start the run");
    if (rc != 0) {
        *lost = PQstatus(p->conn) == CONNECTION_BAD;
        PQclear(PQexec(p->conn, "ROLLBACK"));
    }
    if (rc == 1 && a.key_taken)
        explain_key_taken(p, &a);
    tev_buf_free(&cfg);
    if (rc == 0)
        p->attempt = a.k;
    return rc == 1 ? a.refused : rc ? START_FAILED : TROPT_OK;
}

/* The run_start event the spool begins with. */
static int encode_start(pg *p, const tropt_run *run, const json_t *config)
{
    tev_buf b;
    tev_buf_init(&b, p->host->realloc, p->host->free);
    int bad = TROPT_HOST_RUN_V12(p->host)
                  ? tev_encode_run_start_v12(&b, run, config, p->host->format_real)
                  : tev_encode_run_start(&b, run, config, p->host->format_real);
    if (bad) {
        tev_buf_free(&b);
        return -1;
    }
    p->start_len = b.len;
    p->start_line = tev_buf_steal(&b);
    return 0;
}

/* Connect if needed and write the start (one fresh connection when the
 * one open is lost).  TROPT_OK; a refusal or failure (reported, the run
 * forgotten); 1 when the run must be spooled. */
static int start_on_server(pg *p, const tropt_run *run, const json_t *config,
                           const tropt_field *params, size_t n_params)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        int c = pg_ensure_conn(p);
        if (c == 1)
            return 1;
        if (c != TROPT_OK)
            return p->host->error(c, "%s: %s", p->shown, p->err);
        int lost = 0;
        int rc = write_start(p, run, config, params, n_params, &lost);
        if (rc == TROPT_OK)
            return TROPT_OK;
        if (rc != START_FAILED) /* refused */
            return p->host->error(rc, "%s: %s", p->shown, p->err);
        if (p->locked)
            return 1;
        if (!lost)
            return p->host->error(TROPT_EBACKEND, "%s: %s", p->shown, p->err);
        PQfinish(p->conn);
        p->conn = NULL;
    }
    return 1;
}

int pg_init(void *self, const tropt_run *run, const json_t *config, const tropt_field *params,
            size_t n_params)
{
    pg *p = self;
    pthread_mutex_lock(&p->mu);
    pg_free_run(p);
    p->attempt = TROPT_HOST_RUN_V12(p->host) && run->attempt > 1 ? run->attempt : 1;
    p->run_id = tropt_host_strdup(p->host, run->run_id);
    if (!p->run_id || encode_start(p, run, config) != 0) {
        pg_free_run(p);
        pthread_mutex_unlock(&p->mu);
        return p->host->error(TROPT_ENOMEM, "out of memory");
    }
    p->active = 1;
    int rc = start_on_server(p, run, config, params, n_params);
    if (rc == TROPT_OK) {
        p->next_beat = pg_monotonic() + (double)p->heartbeat_ms / 1000.0;
        pthread_cond_signal(&p->wake);
    } else if (rc == 1) {
        char why[1200];
        if (p->conn && p->locked)
            pg_lock_why(p, why, sizeof why);
        else
            snprintf(why, sizeof why, "cannot reach %s (%s)", p->shown, p->err);
        rc = pg_start_spooling(p, why);
    } else {
        pg_free_run(p);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

/* ---- finish -------------------------------------------------------------- */

/* The attempt's end, the run's (when it is the latest attempt) and its
 * summary, in one transaction.  0, or -1 (p->err). */
static int write_end(pg *p, const tropt_run *run, const char *status, double ended_at,
                     const tropt_field *flat, size_t n_flat)
{
    char ended[40], num[24], attempt[24];
    p->host->format_real(ended, sizeof ended, ended_at);
    snprintf(num, sizeof num, "%" PRId64, p->run_num);
    snprintf(attempt, sizeof attempt, "%" PRId64, p->attempt);
    const char *va[4] = {num, attempt, status, ended};
    const char *vr[4] = {run->run_id, status, ended, attempt};
    const char *one[1] = {run->run_id};
    int e = pg_exec_ok(p, "BEGIN", 0, NULL, "cannot finish the run");
    if (e == 0)
        e = pg_exec_ok(p, PGS_ATTEMPT_END, 4, va, "cannot finish the run");
    int latest = 0;
    if (e == 0) {
        PGresult *r = pg_exec_tpl(p, PGS_RUN_END, 4, vr);
        e = pg_res_ok(p, r, "cannot finish the run");
        latest = e == 0 && strcmp(PQcmdTuples(r), "1") == 0;
        PQclear(r);
    }
    if (e == 0 && latest)
        e = pg_exec_ok(p, PGS_SUMMARY_CLEAR, 1, one, "cannot write the summary");
    if (e == 0 && latest)
        e = pg_put_kv(p, PGS_SUMMARY_INSERT, NULL, flat, n_flat);
    if (e == 0)
        e = pg_exec_ok(p, "COMMIT", 0, NULL, "cannot finish the run");
    return e;
}

/* The run_end into the spool, fsynced, and the warning.  TROPT_OK or the
 * error. */
static int spool_end(pg *p, const char *status, double ended_at, const json_t *summary)
{
    int rc;
    tev_buf_clear(&p->scratch);
    if (tev_encode_run_end(&p->scratch, p->run_id, ended_at, status, summary,
                           p->host->format_real) != 0)
        rc = p->host->error(TROPT_ENOMEM, "out of memory");
    else if (pg_spool_bytes(p, p->scratch.data, p->scratch.len) != 0)
        rc = p->host->error(TROPT_EBACKEND, "%s", p->err);
    else {
        p->n_spooled++;
        rc = pg_spool_sync(p);
    }
    if (rc == TROPT_OK)
        pg_warn_spooled(p);
    return rc;
}

int pg_finish(void *self, const tropt_run *run, const char *status, double ended_at,
              const json_t *summary, const tropt_field *flat, size_t n_flat)
{
    pg *p = self;
    pthread_mutex_lock(&p->mu);
    int rc = pg_commit(p);
    if (rc == TROPT_OK && !p->spooling && write_end(p, run, status, ended_at, flat, n_flat) != 0) {
        int lost = PQstatus(p->conn) == CONNECTION_BAD, locked = p->locked;
        PQclear(PQexec(p->conn, "ROLLBACK"));
        char why[1200];
        if (locked)
            pg_lock_why(p, why, sizeof why);
        else
            snprintf(why, sizeof why, "lost the server %s (%s)", p->shown, p->err);
        rc = lost || locked ? pg_start_spooling(p, why)
                            : p->host->error(TROPT_EBACKEND, "%s: %s", p->shown, p->err);
    }
    if (rc == TROPT_OK && p->spooling)
        rc = spool_end(p, status, ended_at, summary);
    if (rc == TROPT_OK)
        pg_free_run(p);
    pthread_mutex_unlock(&p->mu);
    return rc;
}
