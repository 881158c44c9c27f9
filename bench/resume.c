/* bench/resume.c - sqlite-resume (issue 29): does resuming a run cost what
 * the run holds, and does a resumed run's `metrics` view cost more than a
 * run that never resumed?
 *
 * Two ratios, each side measured alternately in one process (median of the
 * rounds):
 *   resume  tropt_tracker_init with resume=allow and the run's resume_key
 *           (the core lists the store's runs through the reader, the store
 *           begins attempt k: supersedes the rows after the run's latest
 *           checkpoint mark, 1,000 steps before its end) then finish, on a
 *           run of 1,000,000 steps against a run of 10,000 steps, each in a
 *           file of its own.  Target: at most 2x.
 *   view    one run's loss curve through the `metrics` view (SELECT step,
 *           time, value ... WHERE run_id = ? AND key = 'loss' ORDER BY
 *           step) on a run resumed at its middle (attempt 1 logged steps
 *           0..S-1, attempt 2 steps S/2..S-1: 1.5 S rows stored, S shown)
 *           against a run of S steps that never resumed, in one file.
 *           Target: at most 1.5x.
 * --quick divides the sizes by 100 (a smoke pass: the ratios are then not the issue's). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#ifdef BENCH_NO_SQLITE
void scen_resume(bench_ctx *c)
{
    if (bench_want(c, "sqlite-resume"))
        bench_skip(c, "sqlite-resume", "built without sqlite3");
}
#else
#include <sqlite3.h>

#define RESUME_SCEN "sqlite-resume"

/* Open the file's tracker with resume=allow and key (NULL: none). */
static tropt_tracker *open_key(const char *path, const char *key)
{
    char spec[1200];
    snprintf(spec, sizeof spec, "sqlite:path=%s,commit_every=1000", path);
    tropt_tracker *t = NULL;
    if (tropt_tracker_open(&t, spec, "resume", NULL) != TROPT_OK)
        return NULL;
    if (key && (tropt_tracker_set_option(t, "resume", "allow") != TROPT_OK ||
                tropt_tracker_set_option(t, "resume_key", key) != TROPT_OK)) {
        tropt_tracker_free(t);
        return NULL;
    }
    return t;
}

/* Log steps next..last (loss = step + base); mark after step `mark` (-1:
 * none) with the file ckpt. */
static int log_steps(tropt_tracker *t, int64_t last, int64_t mark, double base, const char *ckpt)
{
    for (int64_t s = tropt_tracker_next_step(t); s <= last; s++) {
        tropt_field f[] = {TROPT_F_REAL("loss", base + (double)s)};
        if (tropt_tracker_log_fields(t, f, 1) != TROPT_OK)
            return -1;
        if (s == mark && tropt_tracker_checkpoint(t, ckpt) != TROPT_OK)
            return -1;
    }
    return 0;
}

/* One attempt of run `key` in path: from where the store says to
 * last, then finish. */
static int attempt(const char *path, const char *key, int64_t last, int64_t mark, double base,
                   const char *ckpt)
{
    tropt_tracker *t = open_key(path, key);
    int rc = t && tropt_tracker_init(t, NULL) == TROPT_OK ? 0 : -1;
    if (!rc)
        rc = log_steps(t, last, mark, base, ckpt);
    if (!rc && tropt_tracker_finish(t, NULL) != TROPT_OK)
        rc = -1;
    if (rc)
        fprintf(stderr, "tropt-bench: %s: %s: %s\n", RESUME_SCEN, path, tropt_error_message());
    tropt_tracker_free(t);
    return rc;
}

/* ---- resume: 1e6 against 1e4 steps --------------------------------------- */

typedef struct resume_arg {
    const char *path, *key;
} resume_arg;

static int run_resume(void *arg, int64_t steps, double *secs)
{
    (void)steps;
    const resume_arg *a = arg;
    double t0 = bench_mono();
    tropt_tracker *t = open_key(a->path, a->key);
    int rc =
        t && tropt_tracker_init(t, NULL) == TROPT_OK && tropt_tracker_finish(t, NULL) == TROPT_OK
            ? 0
            : -1;
    *secs = bench_mono() - t0;
    if (rc)
        fprintf(stderr, "tropt-bench: %s: resume: %s\n", RESUME_SCEN, tropt_error_message());
    tropt_tracker_free(t);
    return rc;
}

static int resume_ratio(bench_ctx *c, const char *dir, const char *ckpt, int64_t big, int64_t small,
                        char *note, size_t size)
{
    char pb[1100], ps[1100];
    snprintf(pb, sizeof pb, "%s/big.db", dir);
    snprintf(ps, sizeof ps, "%s/small.db", dir);
    double t0 = bench_mono();
    if (attempt(pb, "big", big - 1, big - 1001, 0, ckpt) ||
        attempt(ps, "small", small - 1, small - 1001, 0, ckpt))
        return -1;
    printf("  wrote runs of %lld and %lld steps in %.1f s\n", (long long)big, (long long)small,
           bench_mono() - t0);
    resume_arg ab = {pb, "big"}, as = {ps, "small"};
    char nb[64], ns[64];
    snprintf(nb, sizeof nb, "resume a run of %lld steps", (long long)big);
    snprintf(ns, sizeof ns, "resume a run of %lld steps", (long long)small);
    bench_variant v[2] = {{nb, run_resume, &ab, 0, 0}, {ns, run_resume, &as, 0, 0}};
    if (bench_interleave(c, v, 2, 1) != 0)
        return -1;
    bench_row(c, RESUME_SCEN, &v[0], &v[1], "cost", "<=", 2.0, "issue 29: at most 2x");
    snprintf(note, size, "resume %lld/%lld steps: %.2fx (%.2f ms vs %.2f ms)", (long long)big,
             (long long)small, v[0].ns_step / v[1].ns_step, v[0].ns_step / 1e6, v[1].ns_step / 1e6);
    return 0;
}

/* ---- the metrics view: resumed against never resumed ---------------------- */

typedef struct view_arg {
    sqlite3 *db;
    char run[64];
} view_arg;

#define VIEW_SQL                                                                                   \
    "SELECT step, time, value FROM metrics WHERE run_id = ?1 AND key = 'loss' ORDER BY step"

static int run_view(void *arg, int64_t steps, double *secs)
{
    (void)steps;
    view_arg *a = arg;
    sqlite3_stmt *st = NULL;
    double t0 = bench_mono();
    if (sqlite3_prepare_v2(a->db, VIEW_SQL, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, a->run, -1, SQLITE_STATIC);
    int rc;
    double sum = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        sum += sqlite3_column_double(st, 2);
    sqlite3_finalize(st);
    *secs = bench_mono() - t0;
    return rc == SQLITE_DONE && sum > 0 ? 0 : -1;
}

static int run_id_of(sqlite3 *db, const char *key, char *out, size_t size)
{
    sqlite3_stmt *st = NULL;
    int ok = sqlite3_prepare_v2(db, "SELECT run_id FROM runs WHERE resume_key = ?1", -1, &st,
                                NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        ok = sqlite3_step(st) == SQLITE_ROW;
        if (ok)
            snprintf(out, size, "%s", (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    return ok ? 0 : -1;
}

static int view_ratio(bench_ctx *c, const char *dir, const char *ckpt, int64_t s, char *note,
                      size_t size)
{
    char p[1100];
    snprintf(p, sizeof p, "%s/view.db", dir);
    if (attempt(p, "plain", s - 1, -1, 1, ckpt) || attempt(p, "resumed", s - 1, s / 2 - 1, 1, ckpt))
        return -1;
    /* attempt 2 of "resumed" continues after the mark: steps s/2..s-1 again */
    if (attempt(p, "resumed", s - 1, -1, 2, ckpt))
        return -1;
    view_arg plain = {0}, resumed = {0};
    if (sqlite3_open_v2(p, &plain.db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        run_id_of(plain.db, "plain", plain.run, sizeof plain.run) ||
        run_id_of(plain.db, "resumed", resumed.run, sizeof resumed.run)) {
        sqlite3_close(plain.db);
        return -1;
    }
    resumed.db = plain.db;
    char nr[96], np[96];
    snprintf(nr, sizeof nr, "metrics view, run of %lld steps resumed at %lld", (long long)s,
             (long long)(s / 2));
    snprintf(np, sizeof np, "metrics view, run of %lld steps never resumed", (long long)s);
    bench_variant v[2] = {{nr, run_view, &resumed, 0, 0}, {np, run_view, &plain, 0, 0}};
    int rc = bench_interleave(c, v, 2, 1);
    sqlite3_close(plain.db);
    if (rc)
        return -1;
    bench_row(c, RESUME_SCEN, &v[0], &v[1], "cost", "<=", 1.5, "issue 29: at most 1.5x");
    snprintf(note, size, "metrics view resumed/never: %.2fx (%.2f ms vs %.2f ms)",
             v[0].ns_step / v[1].ns_step, v[0].ns_step / 1e6, v[1].ns_step / 1e6);
    return 0;
}

void scen_resume(bench_ctx *c)
{
    if (!bench_want(c, RESUME_SCEN))
        return;
    char plugin[1024], dir[1024], ckpt[1100];
    if (!bench_plugin_found("sqlite", plugin, sizeof plugin)) {
        bench_skip(c, RESUME_SCEN, "plugin tropt-sqlite.so not found on TROPT_PLUGIN_PATH");
        return;
    }
    if (bench_mkdir(c, RESUME_SCEN, dir, sizeof dir) != 0) {
        bench_fail(c, RESUME_SCEN, "cannot make a folder");
        return;
    }
    snprintf(ckpt, sizeof ckpt, "%s/state.ckpt", dir);
    FILE *f = fopen(ckpt, "w");
    if (f) {
        fputs("optimizer state\n", f);
        fclose(f);
    }
    int64_t div = c->quick ? 100 : 1; /* quick: a smoke pass, not the figures */
    char n1[256] = "", n2[256] = "";
    int rc = resume_ratio(c, dir, ckpt, 1000000 / div, 10000 / div, n1, sizeof n1);
    if (!rc)
        rc = view_ratio(c, dir, ckpt, 200000 / div, n2, sizeof n2);
    bench_rmrf(dir);
    if (rc) {
        bench_fail(c, RESUME_SCEN, "a run or a query failed");
        return;
    }
    char note[600];
    snprintf(note, sizeof note, "%s; %s", n1, n2);
    printf("  %s\n", note);
    bench_ran(c, RESUME_SCEN, note);
}

#endif /* BENCH_NO_SQLITE */
