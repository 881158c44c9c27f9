/*
 * bench/reader.c - scenario "sqlite-read": a 10-key run of sqlite steps
 * (1M with the default --steps 1000000 / as given) read back through the
 * reader hooks (tropt_reader_read_run) against a hand-written SELECT loop
 * over the metrics view that builds the same typed step (a field array per
 * step, keys and strings copied).  Also the reader's resident memory at
 * 10% and at the end of the read, which must not grow with run length.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#ifdef BENCH_NO_SQLITE
void scen_reader(bench_ctx *c)
{
    if (bench_want(c, "sqlite-read"))
        bench_skip(c, "sqlite-read", "built without sqlite3 (no baseline)");
}
#else
#include <sqlite3.h>
#include <tropt/host.h>

typedef struct rd_arg {
    char db[1100];
    char run_id[40];
    int64_t steps_seen;
    double sum;
    long rss_10_kb, rss_end_kb;
    int64_t total_steps;
} rd_arg;

static long rss_kb(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static int on_event(const tropt_event *ev, void *ud)
{
    rd_arg *a = ud;
    if (ev->kind != TROPT_EVENT_STEP)
        return 0;
    a->steps_seen++;
    for (size_t i = 0; i < ev->n; i++)
        if (ev->fields[i].type == TROPT_REAL)
            a->sum += ev->fields[i].v.r;
    if (a->steps_seen == a->total_steps / 10)
        a->rss_10_kb = rss_kb();
    return 0;
}

static int run_reader(void *arg, int64_t steps, double *secs)
{
    (void)steps;
    rd_arg *a = arg;
    char spec[1200];
    snprintf(spec, sizeof spec, "sqlite:path=%s", a->db);
    double t0 = bench_mono();
    tropt_reader *r = NULL;
    if (tropt_reader_open(&r, spec) != TROPT_OK) {
        fprintf(stderr, "tropt-bench: %s\n", tropt_error_message());
        return -1;
    }
    a->steps_seen = 0;
    int rc = tropt_reader_read_run(r, a->run_id, on_event, a);
    a->rss_end_kb = rss_kb();
    tropt_reader_free(r);
    *secs = bench_mono() - t0;
    if (rc != TROPT_OK || a->steps_seen != a->total_steps) {
        fprintf(stderr, "tropt-bench: reader: %s (%lld steps)\n", tropt_error_message(),
                (long long)a->steps_seen);
        return -1;
    }
    return 0;
}

/* The hand-written loop: the same query and the same typed step. */
static int run_select(void *arg, int64_t steps, double *secs)
{
    (void)steps;
    rd_arg *a = arg;
    double t0 = bench_mono();
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_open_v2(a->db, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "SELECT step, time, key, value FROM metrics WHERE run_id = ?1 "
                           "ORDER BY step",
                           -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "tropt-bench: %s\n", sqlite3_errmsg(db));
        sqlite3_close(db);
        return -1;
    }
    sqlite3_bind_text(st, 1, a->run_id, -1, SQLITE_STATIC);
    tropt_field f[64];
    char *keys[64];
    size_t n = 0;
    int64_t cur = -1, seen = 0;
    double sum = 0, time = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t step = sqlite3_column_int64(st, 0);
        if (step != cur && n) {
            for (size_t i = 0; i < n; i++) {
                if (f[i].type == TROPT_REAL)
                    sum += f[i].v.r;
                free(keys[i]);
            }
            n = 0;
            seen++;
        }
        if (step != cur)
            time = sqlite3_column_double(st, 1); /* the step's time, as an event has it */
        cur = step;
        if (n < 64) {
            keys[n] = strdup((const char *)sqlite3_column_text(st, 2));
            f[n].key = keys[n];
            if (sqlite3_column_type(st, 3) == SQLITE_INTEGER) {
                f[n].type = TROPT_INT;
                f[n].v.i = sqlite3_column_int64(st, 3);
            } else {
                f[n].type = TROPT_REAL;
                f[n].v.r = sqlite3_column_double(st, 3);
            }
            n++;
        }
    }
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    seen += n > 0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    *secs = bench_mono() - t0;
    a->sum = sum + time * 0;
    return seen == a->total_steps ? 0 : -1;
}

void scen_reader(bench_ctx *c)
{
    if (!bench_want(c, "sqlite-read"))
        return;
    char path[1024];
    if (!bench_plugin_found("sqlite", path, sizeof path)) {
        bench_skip(c, "sqlite-read", "plugin tropt-sqlite.so not found on TROPT_PLUGIN_PATH");
        return;
    }
    static rd_arg a;
    char dir[1024];
    if (bench_mkdir(c, "reader", dir, sizeof dir) != 0) {
        bench_fail(c, "sqlite-read", "cannot create a folder");
        return;
    }
    snprintf(a.db, sizeof a.db, "%s/read.db", dir);
    char spec[1400];
    const char *batch = bench_sqlite_batch_opts();
    snprintf(spec, sizeof spec, "sqlite:path=%s%s", a.db,
             batch ? batch : ""); /* batch starts with "," */
    double secs;
    if (bench_lib_run(spec, c->steps, &secs) != 0) {
        bench_fail(c, "sqlite-read", "writing the run failed");
        return;
    }
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_open_v2(a.db, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT run_id FROM runs", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        snprintf(a.run_id, sizeof a.run_id, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    a.total_steps = c->steps;
    bench_variant v[] = {
        {"reader: tropt_reader_read_run", run_reader, &a, 0, 0},
        {"hand-written SELECT loop (baseline)", run_select, &a, 0, 0},
    };
    if (bench_interleave(c, v, 2, c->steps) != 0) {
        bench_fail(c, "sqlite-read", "a variant failed");
        bench_rmrf(dir);
        return;
    }
    char note[256];
    snprintf(note, sizeof note, "reader RSS %ld kB at 10%% of the run, %ld kB at its end",
             a.rss_10_kb, a.rss_end_kb);
    bench_row(c, "sqlite-read", &v[0], &v[1], "speed", ">=", 1.0, note);
    bench_row(c, "sqlite-read", &v[1], NULL, NULL, NULL, 0, NULL);
    bench_ran(c, "sqlite-read", note);
    bench_rmrf(dir);
}
#endif
