/*
 * plugins/sqlite/sqlite_attempt.c - a run's attempts (SPEC 15), inside
 * init's transaction: opening a run, continuing it as a later attempt,
 * replaying one, refusing what two processes cannot both do, and bringing
 * tropt_stat to the current rows when a later attempt supersedes earlier
 * ones (see sqlite_sql.h, "An attempt k > 1 ...").
 *
 * Refusals use the constraints of the schema, never a check made before an
 * insert: the write lock is held (BEGIN IMMEDIATE) and the primary key of
 * tropt_attempt and the unique index of resume keys decide; the loser reads
 * what won only to say so.
 */
#include "sqlite_priv.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* What init opens, with the defaults of an ABI 1.1 host. */
typedef struct att {
    const tropt_run *run;
    const char *config; /* JSON text or NULL */
    int64_t attempt, from;
    double started; /* this attempt's start */
    const char *name, *key, *pidns;
    const tropt_provenance *prov;
} att;

static void att_init(tsq *s, const tropt_run *run, const char *config, att *a)
{
    memset(a, 0, sizeof *a);
    a->run = run;
    a->config = config;
    a->attempt = 1;
    a->started = run->started_at;
    if (TROPT_HOST_RUN_V12(s->host)) {
        if (run->attempt > 1) {
            a->attempt = run->attempt;
            a->from = run->from_step > 0 ? run->from_step : 0;
        }
        if (run->attempt_started_at > 0)
            a->started = run->attempt_started_at;
        a->name = run->name;
        a->key = run->resume_key;
        a->prov = run->provenance;
        a->pidns = run->pidns;
    } else if (run->pid == (int64_t)getpid() && s->pidns[0]) {
        /* the namespace its pid belongs to, when that pid is ours (a
         * replayed run carries its original writer's pid) */
        a->pidns = s->pidns;
    }
}

static void bind_text(sqlite3_stmt *st, int i, const char *t)
{
    if (t)
        sqlite3_bind_text(st, i, t, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* ---- the run ------------------------------------------------------------ */

static int refuse_deleted(tsq *s, const char *uuid)
{
    sqlite3_stmt *st = s->st[TSQ_RUN_DELETED];
    sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
    int found, rc = tsq_row(st, &found);
    double at = found ? sqlite3_column_double(st, 0) : 0;
    sqlite3_reset(st);
    if (rc || !found)
        return rc;
    char when[64] = "?";
    time_t t = (time_t)at;
    struct tm tm;
    if (gmtime_r(&t, &tm))
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return tsq_refuse(s, TROPT_EINVAL,
                      "%s: run %s was deleted from this file (tropt rm) at %s; it is not stored "
                      "again",
                      s->path, uuid, when);
}

static int refuse_key(tsq *s, const att *a)
{
    char owner[64] = "?";
    sqlite3_stmt *st = s->st[TSQ_RUN_BY_KEY];
    sqlite3_bind_text(st, 1, a->key, -1, SQLITE_STATIC);
    int found, rc = tsq_row(st, &found);
    if (!rc && found)
        snprintf(owner, sizeof owner, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    if (rc)
        return rc;
    return tsq_refuse(s, TROPT_EBACKEND,
                      "%s: resume_key '%s' is carried by run %s already (another process started "
                      "a run with this key first); run %s not stored",
                      s->path, a->key, owner, a->run->run_id);
}

static int insert_run(tsq *s, const att *a, int64_t *id)
{
    const tropt_run *r = a->run;
    const tropt_provenance *p = a->prov;
    sqlite3_stmt *st = s->st[TSQ_RUN_INSERT];
    sqlite3_bind_text(st, 1, r->run_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->experiment, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 3, r->started_at);
    sqlite3_bind_text(st, 4, r->host ? r->host : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, r->pid);
    bind_text(st, 6, a->config);
    bind_text(st, 7, a->pidns);
    bind_text(st, 8, a->name);
    bind_text(st, 9, a->key);
    bind_text(st, 10, p ? p->command : NULL);
    bind_text(st, 11, p ? p->cwd : NULL);
    bind_text(st, 12, p ? p->git_commit : NULL);
    bind_text(st, 13, p ? p->version : NULL);
    int rc = tsq_step(s, st);
    sqlite3_clear_bindings(st);
    if (rc == SQLITE_CONSTRAINT_UNIQUE && a->key)
        return refuse_key(s, a);
    if (!rc)
        *id = sqlite3_last_insert_rowid(s->db);
    return rc;
}

/* ---- the attempt -------------------------------------------------------- */

/* Attempt a->attempt is stored already: the same writer (a replay of the
 * same events) continues it; another process's is refused. */
static int held_attempt(tsq *s, const att *a, int64_t run)
{
    sqlite3_stmt *st = s->st[TSQ_ATT_GET];
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, a->attempt);
    int found, rc = tsq_row(st, &found);
    if (rc || !found) {
        sqlite3_reset(st);
        return rc ? rc : SQLITE_CORRUPT;
    }
    double started = sqlite3_column_double(st, 0);
    const char *host = (const char *)sqlite3_column_text(st, 1);
    int64_t pid = sqlite3_column_int64(st, 2);
    int same = started == a->started && pid == a->run->pid &&
               strcmp(host ? host : "", a->run->host ? a->run->host : "") == 0;
    if (!same)
        rc = tsq_refuse(s, TROPT_EBACKEND,
                        "%s: run %s already has attempt %lld (started at %.3f by pid %lld on %s): "
                        "another process continued this run first",
                        s->path, a->run->run_id, (long long)a->attempt, started, (long long)pid,
                        host ? host : "?");
    sqlite3_reset(st);
    if (rc)
        return rc;
    st = s->st[TSQ_ATT_REOPEN];
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, a->attempt);
    return tsq_step(s, st);
}

static int insert_attempt(tsq *s, const att *a, int64_t run, int *replay)
{
    sqlite3_stmt *st = s->st[TSQ_ATT_INSERT];
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, a->attempt);
    sqlite3_bind_int64(st, 3, a->from);
    sqlite3_bind_double(st, 4, a->started);
    sqlite3_bind_text(st, 5, a->run->host ? a->run->host : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, a->run->pid);
    bind_text(st, 7, a->pidns);
    bind_text(st, 8, a->config);
    int rc = tsq_step(s, st);
    sqlite3_clear_bindings(st);
    *replay = rc == SQLITE_CONSTRAINT_PRIMARYKEY;
    return *replay ? held_attempt(s, a, run) : rc;
}

/* The run's row follows its latest attempt; earlier attempts still running
 * crashed. */
static int reopen_run(tsq *s, const att *a, int64_t run)
{
    sqlite3_stmt *st = s->st[TSQ_RUN_REOPEN];
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_text(st, 2, a->run->host ? a->run->host : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, a->run->pid);
    bind_text(st, 4, a->pidns);
    bind_text(st, 5, a->config);
    bind_text(st, 6, a->name);
    int rc = tsq_step(s, st);
    sqlite3_clear_bindings(st);
    if (rc)
        return rc;
    st = s->st[TSQ_ATT_CRASHED];
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, a->attempt);
    return tsq_step(s, st);
}

/* s->rs for attempt k of run. */
static int load_state(tsq *s, int64_t run, int64_t k)
{
    tsq_runstate *rs = &s->rs;
    int64_t latest = k;
    rs->max_step = rs->floor = rs->mark_step = -1;
    rs->cutoff = INT64_MAX;
    sqlite3_stmt *st = s->st[TSQ_RUN_MAX_STEP];
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, k);
    int rc = tsq_int(st, &rs->max_step);
    if (!rc) {
        sqlite3_bind_int64(s->st[TSQ_RUN_STAT_STEP], 1, run);
        rc = tsq_int(s->st[TSQ_RUN_STAT_STEP], &rs->floor);
    }
    if (!rc) {
        sqlite3_bind_int64(s->st[TSQ_ATT_LATEST], 1, run);
        rc = tsq_int(s->st[TSQ_ATT_LATEST], &latest);
    }
    if (!rc) {
        sqlite3_bind_int64(s->st[TSQ_MARK_STEP], 1, run);
        rc = tsq_int(s->st[TSQ_MARK_STEP], &rs->mark_step);
    }
    if (!rc) {
        st = s->st[TSQ_ATT_GET];
        sqlite3_bind_int64(st, 1, run);
        sqlite3_bind_int64(st, 2, k);
        int found;
        rc = tsq_row(st, &found);
        if (!rc && found)
            rs->cutoff = sqlite3_column_int64(st, 3);
        sqlite3_reset(st);
    }
    rs->latest = latest <= k;
    return rc;
}

/* ---- superseding ------------------------------------------------------- */

int tsq_mark_drop(tsq *s, int64_t run)
{
    sqlite3_stmt *st = s->st[TSQ_MARK_SET];
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_null(st, 2);
    int rc = tsq_step(s, st);
    if (!rc) {
        sqlite3_bind_int64(s->st[TSQ_MARK_CLEAR], 1, run);
        rc = tsq_step(s, s->st[TSQ_MARK_CLEAR]);
    }
    if (!rc)
        s->rs.mark_step = -1;
    return rc;
}

/* Run ?1, from ?2, attempt ?3: bind and step a statement of that shape. */
static int step3(tsq *s, int which, int64_t run, int64_t a2, int64_t a3)
{
    sqlite3_stmt *st = s->st[which];
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, a2);
    sqlite3_bind_int64(st, 3, a3);
    return tsq_step(s, st);
}

/* Key kid's last current row below the attempts' cutoffs: a backward seek
 * in each earlier attempt (at most a key's logging period per attempt). */
static int find_last(tsq *s, int64_t run, int64_t k, int64_t kid)
{
    sqlite3_stmt *att = s->st[TSQ_SUP_ATTEMPTS], *last = s->st[TSQ_SUP_LAST];
    sqlite3_stmt *set = s->st[TSQ_SUP_SETLAST];
    sqlite3_bind_int64(att, 1, run);
    sqlite3_bind_int64(att, 2, k);
    int64_t best = -1;
    int rc;
    while ((rc = sqlite3_step(att)) == SQLITE_ROW) {
        sqlite3_bind_int64(last, 1, run);
        sqlite3_bind_int64(last, 2, sqlite3_column_int64(att, 0));
        sqlite3_bind_int64(last, 3, sqlite3_column_int64(att, 1));
        sqlite3_bind_int64(last, 4, kid);
        int found;
        rc = tsq_row(last, &found);
        if (!rc && found && sqlite3_column_int64(last, 0) > best) {
            best = sqlite3_column_int64(last, 0);
            sqlite3_bind_int64(set, 3, best);
            sqlite3_bind_value(set, 4, sqlite3_column_value(last, 1));
            sqlite3_bind_value(set, 5, sqlite3_column_value(last, 2));
        }
        sqlite3_reset(last);
        if (rc)
            break;
    }
    sqlite3_reset(att);
    if (rc != SQLITE_DONE)
        return rc;
    if (best < 0) /* no current row left: the key's row goes (n is 0) */
        return SQLITE_OK;
    sqlite3_bind_int64(set, 1, run);
    sqlite3_bind_int64(set, 2, kid);
    rc = tsq_step(s, set);
    sqlite3_clear_bindings(set);
    return rc;
}

/* One key that loses rows (TSQL_SUP_KEYS). */
typedef struct lost {
    int64_t key, n;
    int last, range;
} lost;

static int collect_lost(tsq *s, int64_t run, int64_t k, int64_t f, lost **out, size_t *n)
{
    sqlite3_stmt *st = s->st[TSQ_SUP_KEYS];
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, f);
    sqlite3_bind_int64(st, 3, k);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (tropt_host_grow(s->host, (void **)out, &cap, *n + 1, sizeof **out) != 0) {
            rc = SQLITE_NOMEM;
            break;
        }
        (*out)[(*n)++] = (lost){sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
                                sqlite3_column_int(st, 2), sqlite3_column_int(st, 3)};
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* No valid copy of the statistics below f: subtract the superseded rows and
 * recompute, per key, only what they can have changed. */
static int subtract(tsq *s, int64_t run, int64_t k, int64_t f)
{
    lost *l = NULL;
    size_t n = 0;
    int rc = collect_lost(s, run, k, f, &l, &n);
    if (!rc) /* now the cutoffs move: later statements see the rows left */
        rc = step3(s, TSQ_SUP_CUT, run, f, k);
    for (size_t i = 0; !rc && i < n; i++) {
        if (l[i].range) {
            rc = tsq_stat_recompute(s, run, l[i].key);
            continue;
        }
        rc = step3(s, TSQ_SUP_UNCOUNT, run, l[i].key, l[i].n);
        if (!rc && l[i].last)
            rc = find_last(s, run, k, l[i].key);
    }
    s->host->free(l);
    if (!rc) {
        sqlite3_bind_int64(s->st[TSQ_SUP_EMPTY], 1, run);
        rc = tsq_step(s, s->st[TSQ_SUP_EMPTY]);
    }
    return rc;
}

/* The statistics copy of the latest mark at step `mark` < f: back into
 * tropt_stat, plus the current rows between the mark and f. */
static int restore_mark(tsq *s, int64_t run, int64_t k, int64_t mark, int64_t f)
{
    static const int load[] = {TSQ_STAT_CLEAR, TSQ_MARK_LOAD};
    int rc = step3(s, TSQ_SUP_CUT, run, f, k);
    for (size_t w = 0; !rc && w < sizeof load / sizeof *load; w++) {
        sqlite3_bind_int64(s->st[load[w]], 1, run);
        rc = tsq_step(s, s->st[load[w]]);
    }
    return rc ? rc : tsq_fold_range(s, run, mark, f);
}

/* Attempt k of run begins at step f: every earlier attempt's rows at or
 * after f are superseded (their cutoffs drop to f), and tropt_stat (which
 * counts every current row: the previous writer's tail was folded) loses
 * them. */
static int supersede(tsq *s, int64_t run, int64_t k, int64_t f)
{
    sqlite3_stmt *st = s->st[TSQ_SUP_ANY];
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, f);
    sqlite3_bind_int64(st, 3, k);
    int any, rc = tsq_row(st, &any);
    sqlite3_reset(st);
    if (rc || !any) /* nothing at or after f: only the cutoffs move */
        return rc ? rc : step3(s, TSQ_SUP_CUT, run, f, k);
    int64_t mark = -1;
    sqlite3_bind_int64(s->st[TSQ_MARK_STEP], 1, run);
    rc = tsq_int(s->st[TSQ_MARK_STEP], &mark);
    if (!rc && mark >= 0 && mark < f)
        return restore_mark(s, run, k, mark, f);
    if (!rc && mark >= f)
        rc = tsq_mark_drop(s, run);
    return rc ? rc : subtract(s, run, k, f);
}

/* ---- init --------------------------------------------------------------- */

int tsq_open_attempt(tsq *s, const tropt_run *run, const char *config, int64_t *id)
{
    att a;
    att_init(s, run, config, &a);
    int found = 0, replay = 0, rc = SQLITE_OK;
    /* An id the host made just now (tropt_run.given_id 0) is in no file:
     * a brand-new run costs no lookup.  An id from outside (a continuation,
     * a replay, an import, an ABI 1.1 host) may be deleted or held. */
    int given = !TROPT_HOST_RUN_V12(s->host) || run->given_id;
    if (given)
        rc = refuse_deleted(s, run->run_id);
    if (!rc && given) {
        sqlite3_stmt *st = s->st[TSQ_RUN_ID];
        sqlite3_bind_text(st, 1, run->run_id, -1, SQLITE_STATIC);
        rc = tsq_row(st, &found);
        if (!rc && found)
            *id = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    if (!rc)
        rc = found ? tsq_fold_tail(s, *id) : insert_run(s, &a, id);
    if (!rc)
        rc = insert_attempt(s, &a, *id, &replay);
    if (!rc && found && !replay && a.attempt > 1)
        rc = supersede(s, *id, a.attempt, a.from);
    if (!rc)
        rc = load_state(s, *id, a.attempt);
    if (!rc && s->rs.latest)
        rc = reopen_run(s, &a, *id);
    return rc;
}
