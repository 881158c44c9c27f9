/*
 * bench/report_gen.c - fill a sqlite database for the report bench:
 * `tropt-report-gen DB RUNS STEPS` logs RUNS runs of STEPS steps of 10
 * fields (9 reals, one integer) through the library, committing every 1000
 * steps.  Exit 0, or 1 with the library's message.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>
#include <tropt/tracker.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: tropt-report-gen DB RUNS STEPS\n");
        return 2;
    }
    long runs = atol(argv[2]), steps = atol(argv[3]);
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
            tropt_field f[] = {
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
            rc = tropt_tracker_log_fields(t, f, 10);
        }
        if (rc == TROPT_OK)
            rc = tropt_tracker_finish(t, NULL);
        if (rc != TROPT_OK) {
            fprintf(stderr, "%s\n", tropt_error_message());
            tropt_tracker_free(t);
            return 1;
        }
    }
    tropt_tracker_free(t);
    return 0;
}
