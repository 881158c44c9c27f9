/*
 * bench/report_gen.c - fill a sqlite database for the report bench:
 * `tropt-report-gen DB RUNS STEPS [KEYS]` logs RUNS runs of STEPS steps of
 * KEYS fields (default 10: 9 reals and one integer; more keys are reals
 * named k010, k011, ...) through the library, committing every 1000 steps.
 * Exit 0, or 1 with the library's message.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <tropt/tracker.h>

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: tropt-report-gen DB RUNS STEPS [KEYS]\n");
        return 2;
    }
    long runs = atol(argv[2]), steps = atol(argv[3]);
    int keys = argc == 5 ? atoi(argv[4]) : 10;
    if (keys < 10)
        keys = 10;
    char(*names)[16] = calloc((size_t)keys, sizeof *names);
    tropt_field *f = calloc((size_t)keys, sizeof *f);
    if (!names || !f)
        return 1;
    for (int k = 10; k < keys; k++)
        snprintf(names[k], sizeof names[k], "k%03d", k);
    char spec[4096];
    snprintf(spec, sizeof spec, "sqlite:path=%s,commit_every=1000", argv[1]);
    tropt_tracker *t = NULL;
    if (tropt_tracker_open(&t, spec, "bench", NULL) != TROPT_OK) {
        fprintf(stderr, "%s\n", tropt_error_message());
        return 1;
    }
    for (long r = 0; r < runs; r++) {
        json_t *cfg = json_pack("{s:f,s:i,s:s}", "lr", 0.001 * (double)(1 + r % 7), "seed", (int)r,
                                "opt", r % 2 ? "adam" : "sgd");
        int rc = tropt_tracker_init(t, cfg);
        json_decref(cfg);
        for (long s = 0; rc == TROPT_OK && s < steps; s++) {
            double x = (double)s / (double)(steps ? steps : 1);
            double loss = exp(-3 * x) * (1 + 0.1 * sin((double)(s + r)));
            tropt_field ten[] = {
                TROPT_F_REAL("loss", loss),
                TROPT_F_REAL("accuracy", 1 - loss / 2),
                TROPT_F_REAL("lr", 0.001 * (1 - x)),
                TROPT_F_REAL("grad_norm", 1 + cos((double)s * 0.01)),
                TROPT_F_REAL("perplexity", exp(loss)),
                TROPT_F_REAL("kl", 0.01 * x),
                TROPT_F_REAL("entropy", 2 - x),
                TROPT_F_REAL("reward", x * x),
                TROPT_F_REAL("epoch_frac", x),
                TROPT_F_INT("tokens", s * 512),
            };
            memcpy(f, ten, sizeof ten);
            for (int k = 10; k < keys; k++) {
                tropt_field one = TROPT_F_REAL(names[k], loss * k + sin((double)(s * k)));
                f[k] = one;
            }
            rc = tropt_tracker_log_fields(t, f, (size_t)keys);
        }
        if (rc == TROPT_OK)
            rc = tropt_tracker_finish(t, NULL);
        if (rc != TROPT_OK) {
            fprintf(stderr, "%s\n", tropt_error_message());
            tropt_tracker_free(t);
            free(names);
            free(f);
            return 1;
        }
    }
    tropt_tracker_free(t);
    free(names);
    free(f);
    return 0;
}
