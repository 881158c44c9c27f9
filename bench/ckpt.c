/* bench/ckpt.c - what a checkpoint mark costs the optimizer (issue 29):
 * log_fields p99 to the null backend while the tracker hashes a large file
 * for a mark (1 GB; 64 MB with --quick), against the same loop with no mark,
 * alternated round by round in one run.  The window measured is shorter
 * than the hash takes (timed first), so every latency of the "hashing"
 * rounds is one taken while the hashing thread runs. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* A file of `bytes` bytes of varied content; 0 on success. */
static int make_file(const char *path, int64_t bytes)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return -1;
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = malloc(CHUNK);
    int rc = buf ? 0 : -1;
    for (int64_t done = 0; rc == 0 && done < bytes; done += CHUNK) {
        for (size_t i = 0; i < CHUNK; i++)
            buf[i] = (unsigned char)((size_t)done / CHUNK * 31 + i * 7);
        rc = write(fd, buf, CHUNK) == CHUNK ? 0 : -1;
    }
    free(buf);
    return close(fd) == 0 ? rc : -1;
}

/* Seconds a mark of `path` takes to be hashed (checkpoint, then flush,
 * which waits for the hash); -1 on failure. */
static double hash_seconds(const char *path)
{
    tropt_tracker *t = NULL;
    if (tropt_tracker_open(&t, "null", "bench-ckpt", NULL) != TROPT_OK ||
        tropt_tracker_init(t, NULL) != TROPT_OK) {
        tropt_tracker_free(t);
        return -1;
    }
    double a = bench_mono();
    int rc = tropt_tracker_checkpoint(t, path);
    rc = rc == TROPT_OK ? tropt_tracker_flush(t) : rc;
    double s = bench_mono() - a;
    tropt_tracker_free(t);
    return rc == TROPT_OK ? s : -1;
}

/* One round: log_fields for `seconds` (after a mark of `path` when not
 * NULL); the p99 in ns into *p99. */
static int round_once(const char *path, double seconds, double *p99)
{
    size_t cap = 8000000, n = 0;
    double *lat = malloc(cap * sizeof *lat);
    tropt_tracker *t = NULL;
    if (!lat || tropt_tracker_open(&t, "null", "bench-ckpt", NULL) != TROPT_OK ||
        tropt_tracker_init(t, NULL) != TROPT_OK ||
        (path && tropt_tracker_checkpoint(t, path) != TROPT_OK)) {
        free(lat);
        tropt_tracker_free(t);
        return -1;
    }
    tropt_field f[BENCH_NFIELDS];
    double end = bench_mono() + seconds;
    for (int64_t step = 0; n < cap && (n % 1024 || bench_mono() < end); step++) {
        bench_fill(step, f);
        double a = now_ns();
        tropt_tracker_log_fields(t, f, BENCH_NFIELDS);
        lat[n++] = now_ns() - a;
    }
    tropt_tracker_finish(t, NULL); /* waits for the hash */
    tropt_tracker_free(t);
    bench_median(lat, n); /* sorts */
    *p99 = bench_quantile(lat, n, 0.99);
    free(lat);
    return 0;
}

void scen_ckpt(bench_ctx *c)
{
    if (!bench_want(c, "ckpt"))
        return;
    char path[600];
    snprintf(path, sizeof path, "%s/ckpt.bin", c->tmpdir);
    int64_t bytes = c->quick ? (int64_t)64 << 20 : (int64_t)1 << 30;
    double hs;
    if (make_file(path, bytes) != 0 || (hs = hash_seconds(path)) < 0) {
        bench_fail(c, "ckpt", "cannot write or mark %s", path);
        remove(path);
        return;
    }
    double window = hs * 0.8;
    double p99[2][32];
    int rounds = c->rounds > 32 ? 32 : c->rounds;
    for (int r = 0; r < rounds; r++)
        for (int k = 0; k < 2; k++) { /* alternated: both see the same machine */
            int v = (r + k) % 2;
            if (round_once(v ? path : NULL, window, &p99[v][r]) != 0) {
                bench_fail(c, "ckpt", "cannot log to null");
                remove(path);
                return;
            }
        }
    remove(path);
    double m0 = bench_median(p99[0], (size_t)rounds), m1 = bench_median(p99[1], (size_t)rounds);
    char note[256];
    snprintf(note, sizeof note,
             "log_fields to null, p99 median of %d alternated rounds of %.2f s: %.0f ns without "
             "a mark, %.0f ns while %.0f MB are hashed for one (%.3fx); hashing took %.2f s",
             rounds, window, m0, m1, (double)bytes / 1048576.0, m1 / m0, hs);
    printf("ckpt: %s\n", note);
    bench_ran(c, "ckpt", note);
}
