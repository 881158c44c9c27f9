/* bench/sqlite.c - the sqlite backend against a hand-written insert loop.
 *
 * The baseline is what a careful user writes by hand: one WAL database with
 * synchronous=NORMAL, a long-format table metrics(run, step, time, key,
 * value), one prepared INSERT bound per field, and BEGIN/COMMIT either
 * around every step (durable per step, like the backend's default) or
 * around every 1000 steps (like its batched mode). */
#include <stdio.h>
#include <string.h>

#include "bench.h"

#ifdef BENCH_NO_SQLITE

const char *bench_sqlite_batch_opts(void)
{
    return NULL;
}

void scen_sqlite(bench_ctx *c)
{
    if (bench_want(c, "sqlite-default"))
        bench_skip(c, "sqlite-default", "built without sqlite3 (no baseline)");
    if (bench_want(c, "sqlite-batched"))
        bench_skip(c, "sqlite-batched", "built without sqlite3 (no baseline)");
}

#else

#include <sqlite3.h>

#define BATCH_STEPS 1000

typedef struct {
    bench_ctx *c;
    int64_t every; /* commit every this many steps */
} raw_arg;

static int sq_exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "tropt-bench: sqlite: %s: %s\n", sql, err ? err : "?");
        sqlite3_free(err);
        return -1;
    }
    return 0;
}

static int run_raw(void *arg, int64_t steps, double *secs)
{
    raw_arg *a = arg;
    char dir[1024], path[1100];
    if (bench_mkdir(a->c, "sqlite-raw", dir, sizeof dir) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/raw.db", dir);
    sqlite3 *db = NULL;
    sqlite3_stmt *ins = NULL, *begin = NULL, *commit = NULL;
    int rc = -1;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        goto out;
    if (sq_exec(db, "PRAGMA journal_mode=WAL") || sq_exec(db, "PRAGMA synchronous=NORMAL") ||
        sq_exec(db, "CREATE TABLE metrics(run INTEGER NOT NULL, step INTEGER NOT NULL,"
                    " time REAL NOT NULL, key TEXT NOT NULL, value)"))
        goto out;
    if (sqlite3_prepare_v2(db, "INSERT INTO metrics VALUES (?1, ?2, ?3, ?4, ?5)", -1, &ins, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(db, "BEGIN", -1, &begin, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "COMMIT", -1, &commit, NULL) != SQLITE_OK) {
        fprintf(stderr, "tropt-bench: sqlite: prepare: %s\n", sqlite3_errmsg(db));
        goto out;
    }
    tropt_field f[BENCH_NFIELDS];
    int in_txn = 0;
    double t0 = bench_mono();
    for (int64_t s = 0; s < steps; s++) {
        if (!in_txn) {
            sqlite3_step(begin);
            sqlite3_reset(begin);
            in_txn = 1;
        }
        bench_fill(s, f);
        double now = bench_realtime();
        for (int i = 0; i < BENCH_NFIELDS; i++) {
            sqlite3_bind_int64(ins, 1, 1);
            sqlite3_bind_int64(ins, 2, s);
            sqlite3_bind_double(ins, 3, now);
            sqlite3_bind_text(ins, 4, f[i].key, -1, SQLITE_STATIC);
            if (f[i].type == TROPT_INT)
                sqlite3_bind_int64(ins, 5, f[i].v.i);
            else
                sqlite3_bind_double(ins, 5, f[i].v.r);
            if (sqlite3_step(ins) != SQLITE_DONE) {
                fprintf(stderr, "tropt-bench: sqlite: insert: %s\n", sqlite3_errmsg(db));
                goto out;
            }
            sqlite3_reset(ins);
        }
        if ((s + 1) % a->every == 0) {
            if (sqlite3_step(commit) != SQLITE_DONE) {
                fprintf(stderr, "tropt-bench: sqlite: commit: %s\n", sqlite3_errmsg(db));
                goto out;
            }
            sqlite3_reset(commit);
            in_txn = 0;
        }
    }
    if (in_txn) {
        sqlite3_step(commit);
        sqlite3_reset(commit);
    }
    *secs = bench_mono() - t0;
    rc = 0;
out:
    if (rc != 0 && db)
        fprintf(stderr, "tropt-bench: sqlite raw: %s\n", sqlite3_errmsg(db));
    sqlite3_finalize(ins);
    sqlite3_finalize(begin);
    sqlite3_finalize(commit);
    sqlite3_close(db);
    bench_rmrf(dir);
    return rc;
}

typedef struct {
    bench_ctx *c;
    const char *opts; /* extra spec options, "" for none */
} lib_arg;

static int run_lib(void *arg, int64_t steps, double *secs)
{
    lib_arg *a = arg;
    char dir[1024], spec[2048];
    if (bench_mkdir(a->c, "sqlite-lib", dir, sizeof dir) != 0)
        return -1;
    snprintf(spec, sizeof spec, "sqlite:path=%s/lib.db%s", dir, a->opts);
    int rc = bench_lib_run(spec, steps, secs);
    bench_rmrf(dir);
    return rc;
}

/* The spec options of the backend's batched mode (commit every 1000 steps),
 * from the options the plugin declares. */
const char *bench_sqlite_batch_opts(void)
{
    static const struct {
        const char *option;
        const char *text;
    } cand[] = {
        {"commit_every", ",commit_every=1000"}, {"commit_steps", ",commit_steps=1000"},
        {"batch_steps", ",batch_steps=1000"},   {"batch", ",batch=1000"},
        {"batch_size", ",batch_size=1000"},
    };
    for (size_t i = 0; i < sizeof cand / sizeof cand[0]; i++)
        if (bench_plugin_has_option("sqlite", cand[i].option))
            return cand[i].text;
    return NULL;
}

void scen_sqlite(bench_ctx *c)
{
    char path[1024];
    int found = bench_plugin_found("sqlite", path, sizeof path);
    if (bench_want(c, "sqlite-default")) {
        if (!found) {
            bench_skip(c, "sqlite-default",
                       "plugin tropt-sqlite.so not found on TROPT_PLUGIN_PATH");
        } else {
            raw_arg ra = {c, 1};
            lib_arg la = {c, ""};
            bench_variant v[] = {
                {"sqlite (default, durable per step)", run_lib, &la, 0, 0},
                {"raw sqlite3, COMMIT per step (baseline)", run_raw, &ra, 0, 0},
            };
            /* A commit per step is ~100x a host call: fewer steps. */
            int64_t steps = c->steps / 5 > 200 ? c->steps / 5 : 200;
            if (bench_interleave(c, v, 2, steps) != 0) {
                bench_fail(c, "sqlite-default", "a variant failed");
            } else {
                bench_row(c, "sqlite-default", &v[0], &v[1], "speed", ">=", 1.0, NULL);
                bench_row(c, "sqlite-default", &v[1], NULL, NULL, NULL, 0, NULL);
                bench_ran(c, "sqlite-default", NULL);
            }
        }
    }
    if (bench_want(c, "sqlite-batched")) {
        const char *opts = found ? bench_sqlite_batch_opts() : NULL;
        if (!found) {
            bench_skip(c, "sqlite-batched",
                       "plugin tropt-sqlite.so not found on TROPT_PLUGIN_PATH");
        } else if (!opts) {
            bench_skip(c, "sqlite-batched", "the sqlite plugin declares no known batching option");
        } else {
            raw_arg ra = {c, BATCH_STEPS};
            lib_arg la = {c, opts};
            char name[128];
            snprintf(name, sizeof name, "sqlite (%s)", opts + 1);
            bench_variant v[] = {
                {name, run_lib, &la, 0, 0},
                {"raw sqlite3, COMMIT per 1000 steps (baseline)", run_raw, &ra, 0, 0},
            };
            if (bench_interleave(c, v, 2, c->steps) != 0) {
                bench_fail(c, "sqlite-batched", "a variant failed");
            } else {
                bench_row(c, "sqlite-batched", &v[0], &v[1], "speed", ">=", 1.0, NULL);
                bench_row(c, "sqlite-batched", &v[1], NULL, NULL, NULL, 0, NULL);
                bench_ran(c, "sqlite-batched", NULL);
            }
        }
    }
}

#endif /* BENCH_NO_SQLITE */
