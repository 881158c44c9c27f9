/* bench/pg.c - the pg backend against hand-written libpq loops, on one
 * local PostgreSQL server (ratios in one run, variants interleaved).
 *
 * The server: TROPT_BENCH_PG_CONNINFO when set; else a throwaway cluster of
 * the bench's own (initdb of PostgreSQL 15 in the bench's temp folder, as the
 * `postgres` user when run as root, a Unix socket there, stopped at the end);
 * else the scenarios are skipped.
 *
 * Baselines, what a careful user writes by hand with libpq, into a table
 * metrics(run text, step bigint, time float8, key text, value float8):
 *   pg-default  BEGIN, one prepared INSERT per field, COMMIT, every step
 *               (durable per step, like the backend's default);
 *   pg-batched  one text COPY (values with %.17g) per 1000 steps (like the
 *               backend's commit_every=1000).
 * pg-latency: p50/p99 of `log` in the batched mode.
 *
 * Resume (issue 29), ratios of the library against itself:
 *   pg-resumed  the `metrics` view (every row of one run, by step)
 *               over a run of N steps resumed twice (3 attempts, 10% of its
 *               steps logged twice, superseded) against the same query over
 *               a run of N steps that never resumed: <= 1.5x.
 *   pg-reopen  resuming a run (open, init with resume=must, one step,
 *               finish) of 1,000,000 steps against one of 10,000, each with
 *               a checkpoint mark 50 steps before its end: <= 2x.  The big
 *               size is TROPT_BENCH_PG_RESUME_STEPS when set.
 * Both load their runs first: --quick skips them (the smoke test's budget). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#ifdef BENCH_NO_PG

void scen_pg(bench_ctx *c)
{
    const char *sc[] = {"pg-default", "pg-batched", "pg-latency", "pg-resumed", "pg-reopen"};
    for (int i = 0; i < 5; i++)
        if (bench_want(c, sc[i]))
            bench_skip(c, sc[i], "built without libpq (no baseline)");
}

#else

#include <inttypes.h>
#include <libpq-fe.h>
#include <tropt/host.h>

#define PGBIN "/usr/lib/postgresql/15/bin"
#define BATCH_STEPS 1000

typedef struct {
    bench_ctx *c;
    const char *conninfo;
    int64_t every; /* 1: INSERT+COMMIT per step; else COPY per this many steps */
    int n;         /* runs so far: a fresh run id each */
} raw_arg;

static int pq_ok(PGconn *db, PGresult *r, const char *what)
{
    ExecStatusType s = PQresultStatus(r);
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK || s == PGRES_COPY_IN) {
        PQclear(r);
        return 0;
    }
    fprintf(stderr, "tropt-bench: pg: %s: %s", what,
            r ? PQresultErrorMessage(r) : PQerrorMessage(db));
    PQclear(r);
    return -1;
}

static void quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static int run_raw(void *arg, int64_t steps, double *secs)
{
    raw_arg *a = arg;
    PGconn *db = PQconnectdb(a->conninfo);
    int rc = -1;
    char *copybuf = NULL;
    size_t clen = 0, ccap = 0;
    char run[40];
    snprintf(run, sizeof run, "raw-%d-%d", (int)getpid(), a->n++);
    if (PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "tropt-bench: pg: %s", PQerrorMessage(db));
        goto out;
    }
    PQsetNoticeProcessor(db, quiet_notice, NULL);
    if (pq_ok(db,
              PQexec(db, "CREATE TABLE IF NOT EXISTS bench_raw_metrics (run text NOT NULL,"
                         " step bigint NOT NULL, time float8 NOT NULL, key text NOT NULL,"
                         " value float8)"),
              "create") ||
        pq_ok(db,
              PQprepare(db, "ins", "INSERT INTO bench_raw_metrics VALUES ($1, $2, $3, $4, $5)", 5,
                        NULL),
              "prepare"))
        goto out;
    tropt_field f[BENCH_NFIELDS];
    double t0 = bench_mono();
    for (int64_t s = 0; s < steps; s++) {
        bench_fill(s, f);
        double now = bench_realtime();
        if (a->every == 1) {
            if (pq_ok(db, PQexec(db, "BEGIN"), "begin"))
                goto out;
            for (int i = 0; i < BENCH_NFIELDS; i++) {
                char step[32], tm[32], val[32];
                snprintf(step, sizeof step, "%lld", (long long)s);
                snprintf(tm, sizeof tm, "%.17g", now);
                if (f[i].type == TROPT_INT)
                    snprintf(val, sizeof val, "%lld", (long long)f[i].v.i);
                else
                    snprintf(val, sizeof val, "%.17g", f[i].v.r);
                const char *v[5] = {run, step, tm, f[i].key, val};
                if (pq_ok(db, PQexecPrepared(db, "ins", 5, v, NULL, NULL, 0), "insert"))
                    goto out;
            }
            if (pq_ok(db, PQexec(db, "COMMIT"), "commit"))
                goto out;
            continue;
        }
        for (int i = 0; i < BENCH_NFIELDS; i++) {
            if (ccap - clen < 256) {
                ccap = ccap ? 2 * ccap : 1 << 20;
                char *nb = realloc(copybuf, ccap);
                if (!nb)
                    goto out;
                copybuf = nb;
            }
            int n;
            if (f[i].type == TROPT_INT)
                n = snprintf(copybuf + clen, ccap - clen, "%s\t%lld\t%.17g\t%s\t%lld\n", run,
                             (long long)s, now, f[i].key, (long long)f[i].v.i);
            else
                n = snprintf(copybuf + clen, ccap - clen, "%s\t%lld\t%.17g\t%s\t%.17g\n", run,
                             (long long)s, now, f[i].key, f[i].v.r);
            clen += (size_t)n;
        }
        if ((s + 1) % a->every == 0 || s + 1 == steps) {
            if (pq_ok(db, PQexec(db, "COPY bench_raw_metrics FROM STDIN"), "copy") ||
                PQputCopyData(db, copybuf, (int)clen) != 1 || PQputCopyEnd(db, NULL) != 1 ||
                pq_ok(db, PQgetResult(db), "copy end"))
                goto out;
            PGresult *r;
            while ((r = PQgetResult(db)) != NULL)
                PQclear(r);
            clen = 0;
        }
    }
    *secs = bench_mono() - t0;
    rc = 0;
out:
    free(copybuf);
    PQclear(PQexec(db, "TRUNCATE bench_raw_metrics"));
    PQfinish(db);
    return rc;
}

typedef struct {
    const char *conninfo;
    const char *opts;
    int n;
} lib_arg;

static int run_lib(void *arg, int64_t steps, double *secs)
{
    lib_arg *a = arg;
    char spec[2048];
    snprintf(spec, sizeof spec, "pg:conninfo=\"%s\",schema=bench_lib%s", a->conninfo, a->opts);
    int rc = bench_lib_run(spec, steps, secs);
    /* keep the store small between rounds, as the baseline does */
    PGconn *db = PQconnectdb(a->conninfo);
    PQclear(PQexec(db, "TRUNCATE bench_lib.tropt_log"));
    PQfinish(db);
    return rc;
}

/* ---- the server ---------------------------------------------------------- */

static char server_dir[1100];
static char server_conninfo[1400];

/* Run a command as the cluster's owner; its exit status. */
static int sh(const char *inner)
{
    char cmd[4096];
    if (geteuid() == 0)
        snprintf(cmd, sizeof cmd, "runuser -u postgres -- sh -c '%s' >/dev/null 2>&1", inner);
    else
        snprintf(cmd, sizeof cmd, "sh -c '%s' >/dev/null 2>&1", inner);
    return system(cmd);
}

/* A conninfo, or NULL with the reason in why. */
static const char *server_start(bench_ctx *c, char *why, size_t size)
{
    const char *env = getenv("TROPT_BENCH_PG_CONNINFO");
    if (env && *env)
        return env;
    if (access(PGBIN "/initdb", X_OK) != 0) {
        snprintf(why, size, "no server: set TROPT_BENCH_PG_CONNINFO or install postgresql-15");
        return NULL;
    }
    /* Its own folder outside the bench's (which only root may enter): the
     * server runs as the postgres user. */
    (void)c;
    const char *tmp = getenv("TMPDIR");
    snprintf(server_dir, sizeof server_dir, "%s/tropt-bench-pg-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(server_dir)) {
        server_dir[0] = '\0';
        snprintf(why, size, "cannot make a folder for the server");
        return NULL;
    }
    if (geteuid() == 0) {
        char cmd[2500];
        snprintf(cmd, sizeof cmd, "chown postgres '%s' && chmod 755 '%s'", server_dir, server_dir);
        if (system(cmd) != 0) {
            snprintf(why, size, "cannot hand %.300s to the postgres user", server_dir);
            return NULL;
        }
    }
    char init[1400], start[3400];
    snprintf(init, sizeof init, PGBIN "/initdb -D %s/data -U bench -A trust --no-sync", server_dir);
    snprintf(start, sizeof start,
             PGBIN "/pg_ctl -D %s/data -l %s/log -w -o \"-k %s -c listen_addresses=\" start",
             server_dir, server_dir, server_dir);
    if (sh(init) != 0 || sh(start) != 0) {
        snprintf(why, size, "cannot start a local PostgreSQL in %.300s", server_dir);
        return NULL;
    }
    snprintf(server_conninfo, sizeof server_conninfo, "host=%s dbname=postgres user=bench",
             server_dir);
    return server_conninfo;
}

static void server_stop(void)
{
    if (!server_dir[0])
        return;
    if (server_conninfo[0]) {
        char stop[1400];
        snprintf(stop, sizeof stop, PGBIN "/pg_ctl -D %s/data -m fast -w stop", server_dir);
        sh(stop);
    }
    bench_rmrf(server_dir);
    server_dir[0] = '\0';
}

/* ---- resume (issue 29) ----------------------------------------------------- */

/* One attempt of a loaded run: steps [from, to), a checkpoint mark after
 * step `mark` (-1: none). */
typedef struct load_attempt {
    int64_t from, to, mark;
} load_attempt;

static int load_fail(tropt_tracker *t, const char *what)
{
    fprintf(stderr, "tropt-bench: pg: %s: %s\n", what, tropt_error_message());
    tropt_tracker_free(t);
    return -1;
}

/* A run of the given attempts written through the library (batched), with
 * resume key `key`; its id into id. */
static int load_run(const char *conninfo, const char *schema, const char *key,
                    const load_attempt *att, int n, char id[40])
{
    char spec[2048];
    snprintf(spec, sizeof spec, "pg:conninfo=\"%s\",schema=%s,commit_every=100000", conninfo,
             schema);
    tropt_tracker *t = NULL;
    if (tropt_tracker_open(&t, spec, "bench-resume", NULL) != TROPT_OK)
        return load_fail(t, "open");
    tropt_field f[BENCH_NFIELDS];
    for (int k = 0; k < n; k++) {
        tropt_run_record rec = {.struct_size = sizeof rec,
                                .run_id = k ? id : NULL,
                                .started_at = 1.8e9,
                                .attempt = k + 1,
                                .from_step = att[k].from,
                                .attempt_started_at = 1.8e9 + k,
                                .resume_key = key};
        if (tropt_tracker_import_run(t, &rec, NULL) != TROPT_OK)
            return load_fail(t, "import_run");
        snprintf(id, 40, "%s", tropt_tracker_run_id(t));
        for (int64_t s = att[k].from; s < att[k].to; s++) {
            bench_fill(s, f);
            if (tropt_tracker_log_fields_at(t, s, 1.8e9 + (double)s, f, BENCH_NFIELDS) != TROPT_OK)
                return load_fail(t, "log");
            tropt_checkpoint m = {
                k + 1,
                0,
                s,
                1.8e9 + (double)s,
                "/bench/ckpt",
                1,
                "0000000000000000000000000000000000000000000000000000000000000000",
                NULL};
            if (s == att[k].mark && tropt_tracker_import_checkpoint(t, &m) != TROPT_OK)
                return load_fail(t, "checkpoint");
        }
        if (tropt_tracker_finish_run(t, k + 1 < n ? "crashed" : "finished", 1.8e9 + 1e6, NULL) !=
            TROPT_OK)
            return load_fail(t, "finish");
    }
    tropt_tracker_free(t);
    return 0;
}

typedef struct query_arg {
    const char *conninfo;
    const char *run_id;
} query_arg;

/* reps times: every row of the run through the metrics view, by step. */
static int run_metrics_query(void *arg, int64_t reps, double *secs)
{
    query_arg *a = arg;
    PGconn *db = PQconnectdb(a->conninfo);
    int rc = -1;
    if (PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "tropt-bench: pg: %s", PQerrorMessage(db));
        goto out;
    }
    const char *v[1] = {a->run_id};
    double t0 = bench_mono();
    for (int64_t r = 0; r < reps; r++) {
        PGresult *res = PQexecParams(db,
                                     "SELECT step, key, value FROM bench_resumed.metrics"
                                     " WHERE run_id = $1 ORDER BY step",
                                     1, NULL, v, NULL, NULL, 0);
        if (pq_ok(db, res, "metrics") != 0)
            goto out;
    }
    *secs = bench_mono() - t0;
    rc = 0;
out:
    PQfinish(db);
    return rc;
}

static void scen_metrics_resumed(bench_ctx *c, const char *ci)
{
    int64_t n = c->quick ? 2000 : c->steps;
    load_attempt plain[] = {{0, n, -1}};
    load_attempt resumed[] = {
        {0, n * 45 / 100, -1}, {n * 40 / 100, n * 75 / 100, -1}, {n * 70 / 100, n, -1}};
    char id_plain[40], id_resumed[40];
    if (load_run(ci, "bench_resumed", NULL, plain, 1, id_plain) != 0 ||
        load_run(ci, "bench_resumed", NULL, resumed, 3, id_resumed) != 0) {
        bench_fail(c, "pg-resumed", "cannot load the runs");
        return;
    }
    query_arg qp = {ci, id_plain}, qr = {ci, id_resumed};
    bench_variant v[] = {
        {"metrics view, resumed run (3 attempts)", run_metrics_query, &qr, 0, 0},
        {"metrics view, run never resumed (baseline)", run_metrics_query, &qp, 0, 0},
    };
    char note[200];
    snprintf(note, sizeof note,
             "one query a step: all %" PRId64 " x %d rows of one run ORDER BY step; the resumed "
             "run holds 10%% more rows (superseded)",
             n, BENCH_NFIELDS);
    if (bench_interleave(c, v, 2, 1) != 0) {
        bench_fail(c, "pg-resumed", "a variant failed");
        return;
    }
    bench_row(c, "pg-resumed", &v[0], &v[1], "cost", "<=", 1.5, note);
    bench_row(c, "pg-resumed", &v[1], NULL, NULL, NULL, 0, NULL);
    bench_ran(c, "pg-resumed", note);
}

typedef struct resume_arg {
    char spec[2048];
} resume_arg;

/* reps times: continue the run of the key (open, init, one step, finish). */
static int run_resume(void *arg, int64_t reps, double *secs)
{
    resume_arg *a = arg;
    double t0 = bench_mono();
    tropt_field f[BENCH_NFIELDS];
    for (int64_t r = 0; r < reps; r++) {
        tropt_tracker *t = NULL;
        if (tropt_tracker_open(&t, a->spec, "bench-resume", NULL) != TROPT_OK ||
            tropt_tracker_init(t, NULL) != TROPT_OK)
            return load_fail(t, "resume");
        bench_fill(r, f);
        if (tropt_tracker_log_fields(t, f, BENCH_NFIELDS) != TROPT_OK ||
            tropt_tracker_finish(t, NULL) != TROPT_OK)
            return load_fail(t, "resume: log");
        tropt_tracker_free(t);
    }
    *secs = bench_mono() - t0;
    return 0;
}

static void scen_resume_scale(bench_ctx *c, const char *ci)
{
    const char *env = getenv("TROPT_BENCH_PG_RESUME_STEPS");
    int64_t small = c->quick ? 1000 : 10000;
    int64_t big = env && *env ? strtoll(env, NULL, 10) : c->quick ? 20000 : 1000000;
    load_attempt as[] = {{0, small, small - 51}}, ab[] = {{0, big, big - 51}};
    char id[40];
    double t0 = bench_mono();
    if (load_run(ci, "bench_res_small", "bench-key", as, 1, id) != 0 ||
        load_run(ci, "bench_res_big", "bench-key", ab, 1, id) != 0) {
        bench_fail(c, "pg-reopen", "cannot load the runs");
        return;
    }
    double load_s = bench_mono() - t0;
    resume_arg rs, rb;
    snprintf(rs.spec, sizeof rs.spec,
             "pg:conninfo=\"%s\",schema=bench_res_small,resume=must,resume_key=bench-key", ci);
    snprintf(rb.spec, sizeof rb.spec,
             "pg:conninfo=\"%s\",schema=bench_res_big,resume=must,resume_key=bench-key", ci);
    char big_name[80], note[300];
    snprintf(big_name, sizeof big_name, "resume a run of %" PRId64 " steps", big);
    snprintf(note, sizeof note,
             "one resume a step: open, init (resume=must), one step, finish; %" PRId64
             " against %" PRId64 " steps of %d fields (loaded in %.0f s)",
             big, small, BENCH_NFIELDS, load_s);
    bench_variant v[] = {
        {big_name, run_resume, &rb, 0, 0},
        {"resume a run of 10000 steps (baseline)", run_resume, &rs, 0, 0},
    };
    if (c->quick)
        v[1].name = "resume a run of 1000 steps (baseline)";
    if (bench_interleave(c, v, 2, c->quick ? 2 : 5) != 0) {
        bench_fail(c, "pg-reopen", "a variant failed");
        return;
    }
    bench_row(c, "pg-reopen", &v[0], &v[1], "cost", "<=", 2.0, note);
    bench_row(c, "pg-reopen", &v[1], NULL, NULL, NULL, 0, NULL);
    bench_ran(c, "pg-reopen", note);
}

static void scen_write(bench_ctx *c, const char *ci)
{
    if (bench_want(c, "pg-default")) {
        raw_arg ra = {c, ci, 1, 0};
        lib_arg la = {ci, "", 0};
        bench_variant v[] = {
            {"pg (default, durable per step)", run_lib, &la, 0, 0},
            {"raw libpq, INSERT + COMMIT per step (baseline)", run_raw, &ra, 0, 0},
        };
        /* A commit per step costs a round trip and a WAL flush: fewer steps. */
        int64_t steps = c->steps / 20 > 200 ? c->steps / 20 : 200;
        if (bench_interleave(c, v, 2, steps) != 0) {
            bench_fail(c, "pg-default", "a variant failed");
        } else {
            bench_row(c, "pg-default", &v[0], &v[1], "speed", ">=", 1.0, NULL);
            bench_row(c, "pg-default", &v[1], NULL, NULL, NULL, 0, NULL);
            bench_ran(c, "pg-default", NULL);
        }
    }
    if (bench_want(c, "pg-batched")) {
        raw_arg ra = {c, ci, BATCH_STEPS, 0};
        lib_arg la = {ci, ",commit_every=1000", 0};
        bench_variant v[] = {
            {"pg (commit_every=1000)", run_lib, &la, 0, 0},
            {"raw libpq, COPY per 1000 steps (baseline)", run_raw, &ra, 0, 0},
        };
        if (bench_interleave(c, v, 2, c->steps) != 0) {
            bench_fail(c, "pg-batched", "a variant failed");
        } else {
            bench_row(c, "pg-batched", &v[0], &v[1], "speed", ">=", 1.0, NULL);
            bench_row(c, "pg-batched", &v[1], NULL, NULL, NULL, 0, NULL);
            bench_ran(c, "pg-batched", NULL);
        }
    }
    if (bench_want(c, "pg-latency")) {
        char spec[2048];
        snprintf(spec, sizeof spec, "pg:conninfo=\"%s\",schema=bench_lat,commit_every=1000", ci);
        lat_result r;
        if (bench_latency_measure(spec, c->mem_steps, 0, &r) != 0 || !r.ok) {
            bench_fail(c, "pg-latency", "%s", r.err);
        } else {
            bench_latency_row(c, "pg-latency", "pg (commit_every=1000)", &r, c->mem_steps, 1);
            bench_ran(c, "pg-latency", NULL);
        }
    }
}

void scen_pg(bench_ctx *c)
{
    const char *sc[] = {"pg-default", "pg-batched", "pg-latency", "pg-resumed", "pg-reopen"};
    const int nsc = 5;
    int want = 0;
    for (int i = 0; i < nsc; i++)
        want |= bench_want(c, sc[i]);
    if (!want)
        return;
    char path[1024];
    if (!bench_plugin_found("pg", path, sizeof path)) {
        for (int i = 0; i < nsc; i++)
            if (bench_want(c, sc[i]))
                bench_skip(c, sc[i], "plugin tropt-pg.so not found on TROPT_PLUGIN_PATH");
        return;
    }
    char why[512];
    const char *ci = server_start(c, why, sizeof why);
    if (!ci) {
        for (int i = 0; i < nsc; i++)
            if (bench_want(c, sc[i]))
                bench_skip(c, sc[i], "%s", why);
        server_stop();
        return;
    }
    scen_write(c, ci);
    /* the resume scenarios load whole runs first: too long for the smoke
     * test's budget (bench-smoke runs --quick) */
    const char *why_quick = "--quick: loading the runs to resume takes minutes; run without it "
                            "(TROPT_BENCH_PG_RESUME_STEPS sets the big run)";
    if (bench_want(c, "pg-resumed") && c->quick)
        bench_skip(c, "pg-resumed", "%s", why_quick);
    else if (bench_want(c, "pg-resumed"))
        scen_metrics_resumed(c, ci);
    if (bench_want(c, "pg-reopen") && c->quick)
        bench_skip(c, "pg-reopen", "%s", why_quick);
    else if (bench_want(c, "pg-reopen"))
        scen_resume_scale(c, ci);
    server_stop();
}

#endif /* BENCH_NO_PG */
