/*
 * tests/sqlite/bench_sqlite.c - steps per second of the sqlite backend per
 * durability mode (not a test: speed is measured, never asserted).
 *
 *   bench_sqlite [DIR] [STEPS] [OPTIONS]
 *
 * With OPTIONS (e.g. "commit_every=100", or "" for the default), only that
 * mode runs, STEPS steps.
 * Each step logs 5 fields (3 reals, an int, a short string) through
 * tropt_tracker_log_fields into a fresh database in DIR (default /tmp).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <tropt/tracker.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU seconds (user + system) of this process. */
static double cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static int run(const char *dir, const char *opts, long steps)
{
    char path[4096], spec[4200];
    snprintf(path, sizeof path, "%s/tropt-bench-%ld.db", dir, (long)getpid());
    snprintf(spec, sizeof spec, "sqlite:path=%s%s%s", path, *opts ? "," : "", opts);
    tropt_tracker *t = NULL;
    if (tropt_tracker_open(&t, spec, "bench", NULL) != TROPT_OK ||
        tropt_tracker_init(t, NULL) != TROPT_OK) {
        fprintf(stderr, "%s: %s\n", spec, tropt_error_message());
        tropt_tracker_free(t);
        return 1;
    }
    double t0 = now(), c0 = cpu();
    for (long s = 0; s < steps; s++) {
        tropt_field f[] = {TROPT_F_REAL("loss", 1.0 / (double)(s + 1)),
                           TROPT_F_REAL("best_loss", 0.5 / (double)(s + 1)),
                           TROPT_F_REAL("grad_norm", (double)s * 0.25), TROPT_F_INT("iteration", s),
                           TROPT_F_STR("phase", "descent")};
        if (tropt_tracker_log_fields(t, f, 5) != TROPT_OK) {
            fprintf(stderr, "log: %s\n", tropt_error_message());
            return 1;
        }
    }
    double t1 = now(), c1 = cpu();
    tropt_tracker_finish(t, NULL);
    double t2 = now();
    tropt_tracker_free(t);
    printf("%-38s %7ld steps %9.0f steps/s  %7.2f us/step wall %7.2f us/step cpu"
           "  finish %.1f ms\n",
           *opts ? opts : "default (commit every step)", steps, (double)steps / (t1 - t0),
           (t1 - t0) * 1e6 / (double)steps, (c1 - c0) * 1e6 / (double)steps, (t2 - t1) * 1e3);
    for (const char *suf = ""; suf; suf = *suf ? (strcmp(suf, "-wal") ? NULL : "-shm") : "-wal") {
        char p[4200];
        snprintf(p, sizeof p, "%s%s", path, suf);
        unlink(p);
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    long steps = argc > 2 ? atol(argv[2]) : 20000;
    const char *modes[] = {"", "sync=full", "commit_every=100", "commit_interval=250ms",
                           "commit_every=1000,commit_interval=1s"};
    if (argc > 3)
        return run(dir, argv[3], steps);
    int rc = 0;
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        rc |= run(dir, modes[i], i == 1 ? steps / 10 : (i >= 2 ? steps * 10 : steps));
    return rc;
}
