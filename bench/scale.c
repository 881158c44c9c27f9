/* bench/scale.c - sqlite-scale (issue 17): do per-run questions cost what
 * the run holds, or what the whole file holds?
 *
 * For each size (1e5 values always; 1e6 and 1e7 when TROPT_BENCH_SCALE_MAX
 * is at least that, e.g. TROPT_BENCH_SCALE_MAX=1e7) two databases are
 * written through the library, 100 runs of 10 fields per step each,
 * commit_every=1000:
 *   interleaved  the 100 runs open at once, one step of each in turn (as
 *                100 processes writing one file at the same time);
 *   sequential   one run after another.
 * Then, on each file, the median time of
 *   runs   the `tropt runs` statement (TSQL_CLI_RUNS of sqlite_sql.h, every
 *          row stepped),
 *   curve  one run's loss curve through the metrics view
 *          (SELECT step, time, value ... WHERE run_id = ? AND key = 'loss'
 *          ORDER BY step), of run 50,
 *   best   the best loss of every run: through the view `stats` when the
 *          file has one, else the only way there is, min(value) over the
 *          metrics view grouped by run,
 * and the file's bytes per value.  The figures that matter are ratios in
 * one run: time at 1e7 / time at 1e5 (flat: cost of the run, not the file)
 * and interleaved / sequential (the layout does not depend on who wrote at
 * the same time).  The loss curve itself grows with the size (a run holds
 * size / 100 values), so its row is also given per curve point. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench.h"

#ifdef BENCH_NO_SQLITE

void scen_scale(bench_ctx *c)
{
    if (bench_want(c, "sqlite-scale"))
        bench_skip(c, "sqlite-scale", "built without sqlite3");
}

#else

#include <sqlite3.h>

#include "../plugins/sqlite/sqlite_sql.h"

#define SCALE_RUNS 100

/* Write `values` values as SCALE_RUNS runs into path. */
static int generate(const char *path, int64_t values, int interleaved)
{
    char spec[1200];
    snprintf(spec, sizeof spec, "sqlite:path=%s,commit_every=1000", path);
    int64_t steps = values / BENCH_NFIELDS / SCALE_RUNS;
    int nt = interleaved ? SCALE_RUNS : 1;
    tropt_tracker *t[SCALE_RUNS] = {NULL};
    tropt_field f[BENCH_NFIELDS];
    int rc = 0;
    for (int i = 0; i < nt && !rc; i++)
        if (tropt_tracker_open(&t[i], spec, "scale", NULL) != TROPT_OK)
            rc = -1;
    if (interleaved) {
        for (int i = 0; i < nt && !rc; i++)
            if (tropt_tracker_init(t[i], NULL) != TROPT_OK)
                rc = -1;
        for (int64_t s = 0; s < steps && !rc; s++)
            for (int i = 0; i < nt && !rc; i++) {
                bench_fill(s + i, f);
                if (tropt_tracker_log_fields(t[i], f, BENCH_NFIELDS) != TROPT_OK)
                    rc = -1;
            }
        for (int i = 0; i < nt && !rc; i++)
            if (tropt_tracker_finish(t[i], NULL) != TROPT_OK)
                rc = -1;
    } else {
        for (int r = 0; r < SCALE_RUNS && !rc; r++) {
            if (tropt_tracker_init(t[0], NULL) != TROPT_OK)
                rc = -1;
            for (int64_t s = 0; s < steps && !rc; s++) {
                bench_fill(s + r, f);
                if (tropt_tracker_log_fields(t[0], f, BENCH_NFIELDS) != TROPT_OK)
                    rc = -1;
            }
            if (!rc && tropt_tracker_finish(t[0], NULL) != TROPT_OK)
                rc = -1;
        }
    }
    if (rc)
        fprintf(stderr, "tropt-bench: sqlite-scale: %s: %s\n", path, tropt_error_message());
    for (int i = 0; i < nt; i++)
        tropt_tracker_free(t[i]);
    return rc;
}

/* Median seconds of stepping every row of sql (one text parameter, the run
 * id, when run is not NULL): at least 3 times (unless 5 s have passed) and until 0.3 s, at most 9.
 */
static double time_query(sqlite3 *db, const char *sql, const char *run, int64_t *rows)
{
    double t[9];
    int n = 0;
    double total = 0;
    while (n < 9 && (n < 3 || total < 0.3)) {
        sqlite3_stmt *st = NULL;
        double t0 = bench_mono();
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
            fprintf(stderr, "tropt-bench: sqlite-scale: %s: %s\n", sqlite3_errmsg(db), sql);
            return -1;
        }
        if (run)
            sqlite3_bind_text(st, 1, run, -1, SQLITE_STATIC);
        int64_t k = 0;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            k++;
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) {
            fprintf(stderr, "tropt-bench: sqlite-scale: %s: %s\n", sqlite3_errmsg(db), sql);
            return -1;
        }
        t[n] = bench_mono() - t0;
        total += t[n++];
        *rows = k;
        if (total > 5) /* slow: one or two samples are enough */
            break;
    }
    return bench_median(t, (size_t)n);
}

typedef struct {
    double runs, curve, best, bytes; /* seconds; bytes per value */
    int64_t curve_rows;
} scale_fig;

static int measure(const char *path, int64_t values, scale_fig *out)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    out->bytes = (double)st.st_size / (double)values;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return -1;
    }
    char run[64] = "";
    sqlite3_stmt *q = NULL;
    int has_stats = 0;
    if (sqlite3_prepare_v2(db, "SELECT run_id FROM runs ORDER BY started_at LIMIT 1 OFFSET 50", -1,
                           &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        snprintf(run, sizeof run, "%s", (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    q = NULL;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'view' AND name = 'stats'",
                           -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        has_stats = 1;
    sqlite3_finalize(q);
    int64_t rows = 0;
    out->runs = time_query(db, TSQL_CLI_RUNS, NULL, &rows);
    out->curve = time_query(db,
                            "SELECT step, time, value FROM metrics WHERE run_id = ?1"
                            " AND key = 'loss' ORDER BY step",
                            run, &out->curve_rows);
    out->best = time_query(db,
                           has_stats ? "SELECT run_id, min FROM stats WHERE key = 'loss'"
                                     : "SELECT run_id, min(value) FROM metrics WHERE key = 'loss'"
                                       " GROUP BY run_id",
                           NULL, &rows);
    sqlite3_close(db);
    return out->runs < 0 || out->curve < 0 || out->best < 0 ? -1 : 0;
}

static void fmt_s(char *buf, size_t n, double s)
{
    if (s < 1e-3)
        snprintf(buf, n, "%.1f us", s * 1e6);
    else if (s < 1)
        snprintf(buf, n, "%.2f ms", s * 1e3);
    else
        snprintf(buf, n, "%.2f s", s);
}

void scen_scale(bench_ctx *c)
{
    if (!bench_want(c, "sqlite-scale"))
        return;
    char plugin[1024];
    if (!bench_plugin_found("sqlite", plugin, sizeof plugin)) {
        bench_skip(c, "sqlite-scale", "plugin tropt-sqlite.so not found on TROPT_PLUGIN_PATH");
        return;
    }
    const char *env = getenv("TROPT_BENCH_SCALE_MAX");
    double max = env && *env ? strtod(env, NULL) : 1e5;
    static const int64_t sizes[] = {100000, 1000000, 10000000};
    scale_fig fig[3][2];
    int nsizes = 0;
    char dir[1024], path[1100];
    for (int i = 0; i < 3 && (double)sizes[i] <= max + 0.5; i++) {
        for (int il = 0; il < 2; il++) {
            if (bench_mkdir(c, "sqlite-scale", dir, sizeof dir) != 0) {
                bench_fail(c, "sqlite-scale", "cannot make a folder");
                return;
            }
            snprintf(path, sizeof path, "%s/scale.db", dir);
            double t0 = bench_mono();
            int rc = generate(path, sizes[i], il == 0);
            double gen = bench_mono() - t0;
            if (!rc)
                rc = measure(path, sizes[i], &fig[i][il]);
            bench_rmrf(dir);
            if (rc) {
                bench_fail(c, "sqlite-scale", "size %lld failed", (long long)sizes[i]);
                return;
            }
            char a[32], b[32], d[32];
            fmt_s(a, sizeof a, fig[i][il].runs);
            fmt_s(b, sizeof b, fig[i][il].curve);
            fmt_s(d, sizeof d, fig[i][il].best);
            printf("  %-8lld %-11s written in %6.1f s  %5.1f B/value  runs %-10s curve %-10s"
                   " (%lld points)  best %s\n",
                   (long long)sizes[i], il == 0 ? "interleaved" : "sequential", gen,
                   fig[i][il].bytes, a, b, (long long)fig[i][il].curve_rows, d);
            fflush(stdout);
        }
        nsizes = i + 1;
    }
    char note[1024];
    int k = nsizes - 1;
    int len = snprintf(note, sizeof note,
                       "interleaved/sequential at %lld: runs %.2fx, curve %.2fx, "
                       "best %.2fx; %.1f B/value",
                       (long long)sizes[k], fig[k][0].runs / fig[k][1].runs,
                       fig[k][0].curve / fig[k][1].curve, fig[k][0].best / fig[k][1].best,
                       fig[k][0].bytes);
    if (k > 0 && len > 0 && (size_t)len < sizeof note)
        snprintf(note + len, sizeof note - (size_t)len,
                 "; %lld/1e5 interleaved: runs %.2fx, curve %.2fx (per point %.2fx), best %.2fx",
                 (long long)sizes[k], fig[k][0].runs / fig[0][0].runs,
                 fig[k][0].curve / fig[0][0].curve,
                 (fig[k][0].curve / (double)fig[k][0].curve_rows) /
                     (fig[0][0].curve / (double)fig[0][0].curve_rows),
                 fig[k][0].best / fig[0][0].best);
    printf("  %s\n", note);
    bench_ran(c, "sqlite-scale", note);
}

#endif /* BENCH_NO_SQLITE */
