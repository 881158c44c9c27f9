/*
 * examples/demo.c - tropt-demo: Adam minimizing the N-dimensional Rosenbrock
 * function, reporting its run through libtropt.
 *
 *   tropt-demo [--tracker SPEC] [--steps N] [--sleep-ms MS] [--dim D]
 *              [--lr LR] [--seed S] [--experiment NAME]
 *
 * The backend comes from --tracker, else $TROPT_TRACKER, else the embedded
 * default (sqlite:path=tropt.db): the same binary logs to sqlite, csv,
 * http, ... without being recompiled.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tropt/tracker.h>

#define MAX_DIM 64

static double rosenbrock(const double *x, int d, double *grad)
{
    double f = 0;
    for (int i = 0; i < d; i++)
        grad[i] = 0;
    for (int i = 0; i + 1 < d; i++) {
        double a = 1 - x[i], b = x[i + 1] - x[i] * x[i];
        f += a * a + 100 * b * b;
        grad[i] += -2 * a - 400 * x[i] * b;
        grad[i + 1] += 200 * b;
    }
    return f;
}

static int usage(const char *why)
{
    if (why)
        fprintf(stderr, "tropt-demo: %s\n", why);
    fprintf(stderr, "usage: tropt-demo [--tracker SPEC] [--steps N] [--sleep-ms MS] [--dim D] "
                    "[--lr LR] [--seed S] [--experiment NAME]\n");
    return 2;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

int main(int argc, char **argv)
{
    const char *spec = NULL, *experiment = "rosenbrock-adam";
    long steps = 200, sleep = 0, dim = 2, seed = 1;
    double lr = 0.1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(NULL);
            return 0;
        }
        if (!v)
            return usage("missing value after an option");
        if (strcmp(a, "--tracker") == 0)
            spec = v;
        else if (strcmp(a, "--experiment") == 0)
            experiment = v;
        else if (strcmp(a, "--steps") == 0) {
            if (parse_long(v, 1, 1000000000L, &steps))
                return usage("--steps takes a whole number >= 1");
        } else if (strcmp(a, "--sleep-ms") == 0) {
            if (parse_long(v, 0, 3600000L, &sleep))
                return usage("--sleep-ms takes a whole number >= 0");
        } else if (strcmp(a, "--dim") == 0) {
            if (parse_long(v, 2, MAX_DIM, &dim))
                return usage("--dim takes a whole number from 2 to 64");
        } else if (strcmp(a, "--seed") == 0) {
            if (parse_long(v, 0, 1000000000L, &seed))
                return usage("--seed takes a whole number >= 0");
        } else if (strcmp(a, "--lr") == 0) {
            char *end;
            lr = strtod(v, &end);
            if (*end || !(lr > 0 && lr < 10))
                return usage("--lr takes a number in (0, 10)");
        } else
            return usage("unknown option");
        i++;
    }

    json_t *config =
        json_pack("{s:s, s:f, s:f, s:f, s:f, s:I, s:I, s:I}", "optimizer", "adam", "lr", lr,
                  "beta1", 0.9, "beta2", 0.999, "eps", 1e-8, "dim", (json_int_t)dim, "steps",
                  (json_int_t)steps, "seed", (json_int_t)seed);
    tropt_tracker *t = NULL;
    int rc = tropt_tracker_open(&t, spec, experiment, NULL);
    if (rc != TROPT_OK) {
        fprintf(stderr, "tropt-demo: %s\n", tropt_error_message());
        json_decref(config);
        return 1;
    }
    rc = tropt_tracker_init(t, config);
    json_decref(config);
    if (rc != TROPT_OK) {
        fprintf(stderr, "tropt-demo: init: %s\n", tropt_error_message());
        tropt_tracker_free(t);
        return 1;
    }

    double x[MAX_DIM], g[MAX_DIM], m[MAX_DIM] = {0}, v[MAX_DIM] = {0}, best_x[MAX_DIM];
    srand((unsigned)seed);
    for (int i = 0; i < dim; i++)
        x[i] = -1.5 + (double)(rand() % 1000) / 1000.0;
    double best = INFINITY;
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    json_t *point = json_array();
    int failed = 0;
    for (long k = 0; k < steps; k++) {
        double f = rosenbrock(x, (int)dim, g);
        double gn = 0;
        for (int i = 0; i < dim; i++)
            gn += g[i] * g[i];
        gn = sqrt(gn);
        if (f < best) {
            best = f;
            memcpy(best_x, x, sizeof(double) * (size_t)dim);
        }
        json_array_clear(point);
        for (int i = 0; i < dim; i++)
            json_array_append_new(point, json_real(x[i]));
        const char *phase = f < 1e-6 ? "converged" : (k < steps / 10 ? "warmup" : "descent");
        tropt_field fields[] = {
            TROPT_F_REAL("loss", f),       TROPT_F_REAL("best_loss", best),
            TROPT_F_REAL("grad_norm", gn), TROPT_F_INT("iteration", k),
            TROPT_F_JSON("x", point),      TROPT_F_STR("phase", phase),
        };
        if (tropt_tracker_log_fields(t, fields, sizeof fields / sizeof fields[0]) != TROPT_OK) {
            fprintf(stderr, "tropt-demo: log step %ld: %s\n", k, tropt_error_message());
            failed = 1;
            break;
        }
        /* Adam update */
        double c1 = 1 - pow(b1, (double)(k + 1)), c2 = 1 - pow(b2, (double)(k + 1));
        for (int i = 0; i < dim; i++) {
            m[i] = b1 * m[i] + (1 - b1) * g[i];
            v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
            x[i] -= lr * (m[i] / c1) / (sqrt(v[i] / c2) + eps);
        }
        if (sleep)
            sleep_ms(sleep);
    }
    json_decref(point);

    json_t *bx = json_array();
    for (int i = 0; i < dim; i++)
        json_array_append_new(bx, json_real(best_x[i]));
    json_t *summary = json_pack("{s:f, s:o, s:I, s:b}", "best_loss", best, "best_x", bx, "steps",
                                (json_int_t)steps, "converged", best < 1e-6);
    char run_id[64];
    snprintf(run_id, sizeof run_id, "%s", tropt_tracker_run_id(t) ? tropt_tracker_run_id(t) : "?");
    rc = tropt_tracker_finish(t, summary);
    json_decref(summary);
    if (rc != TROPT_OK) {
        fprintf(stderr, "tropt-demo: finish: %s\n", tropt_error_message());
        failed = 1;
    }
    tropt_tracker_free(t);
    if (!failed)
        printf("run %s finished: %ld steps, best_loss=%.6g\n", run_id, steps, best);
    return failed;
}
