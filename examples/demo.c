/*
 * examples/demo.c - tropt-demo: Adam minimizing the N-dimensional Rosenbrock
 * function, reporting its run through libtropt (tropt-demo --help lists the
 * options and their defaults).
 *
 * The backend comes from --tracker, else $TROPT_TRACKER, else the embedded
 * default (sqlite:path=tropt.db): the same binary logs to sqlite, csv,
 * http, ... without being recompiled.
 *
 * It also shows how an optimizer survives preemption (README, "Resuming
 * after preemption"): with --resume KEY the run continues the run of the
 * store that carries KEY, from the step after its last checkpoint mark;
 * with --checkpoint-every N it saves its state every N steps to
 * <checkpoint-dir>/demo-<step>.ckpt and marks it with tropt_tracker_checkpoint.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tropt/tracker.h>

#define MAX_DIM 64
#define MAX_TAGS 16

typedef struct demo_opts {
    const char *spec, *experiment, *run_name, *resume_key, *ckpt_dir;
    const char *tags[MAX_TAGS];
    int n_tags;
    long steps, sleep_ms, dim, seed, ckpt_every;
    double lr, tol;
} demo_opts;

/* The optimizer's whole state: what a checkpoint file holds. */
typedef struct state {
    long step; /* the last step taken */
    long dim;
    double x[MAX_DIM], m[MAX_DIM], v[MAX_DIM], best_x[MAX_DIM];
    double best;
} state;

static double rosenbrock(const double *x, long d, double *grad)
{
    double f = 0;
    for (long i = 0; i < d; i++)
        grad[i] = 0;
    for (long i = 0; i + 1 < d; i++) {
        double a = 1 - x[i], b = x[i + 1] - x[i] * x[i];
        f += a * a + 100 * b * b;
        grad[i] += -2 * a - 400 * x[i] * b;
        grad[i + 1] += 200 * b;
    }
    return f;
}

/* ---- options ------------------------------------------------------------ */

static void help(FILE *f)
{
    fprintf(
        f, "usage: tropt-demo [OPTION VALUE]...\n"
           "Adam on the Rosenbrock function, tracked through libtropt.\n\n"
           "  --tracker SPEC         backends (default: $TROPT_TRACKER, else "
           "sqlite:path=tropt.db)\n"
           "  --experiment NAME      experiment name (default: rosenbrock-adam)\n"
           "  --run-name NAME        the run's name (default: $TROPT_RUN_NAME, else a "
           "generated one)\n"
           "  --tag TAG              tag the run (repeatable)\n"
           "  --steps N              steps to take (default: 300)\n"
           "  --lr LR                initial learning rate; it decays to LR/100 over the "
           "run (default: 0.5)\n"
           "  --dim D                dimensions, 2 to 64 (default: 2)\n"
           "  --seed S               seed of the starting point (default: 1)\n"
           "  --tol T                converged when the best loss is below T (default: "
           "1e-6)\n"
           "  --sleep-ms MS          pause after each step, to watch it live (default: 0)\n"
           "  --resume KEY           continue the run carrying KEY if there is one (resume=allow)\n"
           "  --checkpoint-every N   save the state and mark it every N steps (default: 0, "
           "never)\n"
           "  --checkpoint-dir DIR   where checkpoint files go (default: .)\n");
}

static int usage(const char *why, const char *arg)
{
    fprintf(stderr, "tropt-demo: %s%s%s\n", why, arg ? ": " : "", arg ? arg : "");
    fprintf(stderr, "usage: tropt-demo [OPTION VALUE]... (tropt-demo --help lists them)\n");
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

static int parse_real(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !(v > lo && v < hi))
        return -1;
    *out = v;
    return 0;
}

/* A text option: 1 when `a` is one (stored), else 0. */
static int take_text(demo_opts *o, const char *a, const char *v)
{
    static const struct {
        const char *name;
        size_t off;
    } text[] = {{"--tracker", offsetof(demo_opts, spec)},
                {"--experiment", offsetof(demo_opts, experiment)},
                {"--run-name", offsetof(demo_opts, run_name)},
                {"--resume", offsetof(demo_opts, resume_key)},
                {"--checkpoint-dir", offsetof(demo_opts, ckpt_dir)}};
    for (size_t i = 0; i < sizeof text / sizeof text[0]; i++)
        if (strcmp(a, text[i].name) == 0) {
            *(const char **)((char *)o + text[i].off) = v;
            return 1;
        }
    return 0;
}

/* A whole-number option: 0 stored, 2 a usage error, -1 not one. */
static int take_long(demo_opts *o, const char *a, const char *v)
{
    static const struct {
        const char *name;
        long lo, hi;
        size_t off;
        const char *what;
    } num[] = {
        {"--steps", 1, 1000000000L, offsetof(demo_opts, steps), "--steps takes N >= 1"},
        {"--sleep-ms", 0, 3600000L, offsetof(demo_opts, sleep_ms), "--sleep-ms takes MS >= 0"},
        {"--dim", 2, MAX_DIM, offsetof(demo_opts, dim), "--dim takes 2 to 64"},
        {"--seed", 0, 1000000000L, offsetof(demo_opts, seed), "--seed takes S >= 0"},
        {"--checkpoint-every", 0, 1000000000L, offsetof(demo_opts, ckpt_every),
         "--checkpoint-every takes N >= 0"}};
    for (size_t i = 0; i < sizeof num / sizeof num[0]; i++)
        if (strcmp(a, num[i].name) == 0)
            return parse_long(v, num[i].lo, num[i].hi, (long *)((char *)o + num[i].off))
                       ? usage(num[i].what, v)
                       : 0;
    return -1;
}

/* One option and its value; 0, or 2 for a usage error. */
static int take(demo_opts *o, const char *a, const char *v)
{
    if (take_text(o, a, v))
        return 0;
    int rc = take_long(o, a, v);
    if (rc >= 0)
        return rc;
    if (strcmp(a, "--tag") == 0 && o->n_tags < MAX_TAGS)
        o->tags[o->n_tags++] = v;
    else if (strcmp(a, "--lr") == 0)
        return parse_real(v, 0, 10, &o->lr) ? usage("--lr takes a number in (0, 10)", v) : 0;
    else if (strcmp(a, "--tol") == 0)
        return parse_real(v, 0, 1e300, &o->tol) ? usage("--tol takes a number > 0", v) : 0;
    else
        return usage(strcmp(a, "--tag") == 0 ? "too many --tag" : "unknown option", a);
    return 0;
}

/* 0 to go on, 1 after --help, 2 on a usage error. */
static int parse_args(demo_opts *o, int argc, char **argv)
{
    *o = (demo_opts){.experiment = "rosenbrock-adam",
                     .ckpt_dir = ".",
                     .steps = 300,
                     .dim = 2,
                     .seed = 1,
                     .lr = 0.5,
                     .tol = 1e-6};
    for (int i = 1; i < argc; i += 2) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            help(stdout);
            return 1;
        }
        if (i + 1 >= argc)
            return usage("missing value after", argv[i]);
        int rc = take(o, argv[i], argv[i + 1]);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- checkpoints -------------------------------------------------------- */

static void ckpt_path(const demo_opts *o, long step, char *buf, size_t size)
{
    snprintf(buf, size, "%s/demo-%ld.ckpt", o->ckpt_dir, step);
}

/* Save the state after `step`, then mark it: the mark is what a resumed run
 * continues after, so the file must be whole before it (written, then
 * renamed into place).  The file two checkpoints back is removed. */
static int save_checkpoint(const demo_opts *o, tropt_tracker *t, const state *s)
{
    char path[4096], tmp[4200];
    ckpt_path(o, s->step, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    int ok = f && fwrite(s, sizeof *s, 1, f) == 1;
    if (f && fclose(f) != 0)
        ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "tropt-demo: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (tropt_tracker_checkpoint(t, path) != TROPT_OK) {
        fprintf(stderr, "tropt-demo: checkpoint: %s\n", tropt_error_message());
        return -1;
    }
    ckpt_path(o, s->step - 2 * o->ckpt_every, path, sizeof path);
    remove(path);
    return 0;
}

/* The state a resumed run continues from: the checkpoint of the step before
 * the tracker's next one.  0, or -1 (said) when it is missing. */
static int load_checkpoint(const demo_opts *o, long next, state *s)
{
    char path[4096];
    ckpt_path(o, next - 1, path, sizeof path);
    FILE *f = fopen(path, "rb");
    int ok = f && fread(s, sizeof *s, 1, f) == 1 && s->step == next - 1 && s->dim == o->dim;
    if (f)
        fclose(f);
    if (!ok)
        fprintf(stderr,
                "tropt-demo: the run continues at step %ld but %s does not hold the state of "
                "step %ld (give the same --checkpoint-dir and --dim)\n",
                next, path, next - 1);
    return ok ? 0 : -1;
}

/* ---- the run ------------------------------------------------------------ */

static void start_state(const demo_opts *o, state *s)
{
    memset(s, 0, sizeof *s);
    s->step = -1;
    s->dim = o->dim;
    s->best = INFINITY;
    srand((unsigned)o->seed);
    for (long i = 0; i < o->dim; i++)
        s->x[i] = -1.5 + (double)(rand() % 1000) / 1000.0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

/* One Adam step at k (the learning rate decays from lr to lr/100 over the
 * run), logged first.  0, or -1 when logging failed (said). */
static int adam_step(const demo_opts *o, tropt_tracker *t, state *s, long k, json_t *point)
{
    const double b1 = 0.9, b2 = 0.9, eps = 1e-8;
    double g[MAX_DIM];
    double f = rosenbrock(s->x, s->dim, g), gn = 0;
    for (long i = 0; i < s->dim; i++)
        gn += g[i] * g[i];
    gn = sqrt(gn);
    if (f < s->best) {
        s->best = f;
        memcpy(s->best_x, s->x, sizeof(double) * (size_t)s->dim);
    }
    json_array_clear(point);
    for (long i = 0; i < s->dim; i++)
        json_array_append_new(point, json_real(s->x[i]));
    const char *phase = f < o->tol ? "converged" : (k < o->steps / 10 ? "warmup" : "descent");
    double lr = o->lr * pow(0.01, (double)k / (double)o->steps);
    tropt_field fields[] = {
        TROPT_F_REAL("loss", f),       TROPT_F_REAL("best_loss", s->best),
        TROPT_F_REAL("grad_norm", gn), TROPT_F_REAL("lr", lr),
        TROPT_F_INT("iteration", k),   TROPT_F_JSON("x", point),
        TROPT_F_STR("phase", phase),
    };
    if (tropt_tracker_log_fields(t, fields, sizeof fields / sizeof fields[0]) != TROPT_OK) {
        fprintf(stderr, "tropt-demo: log step %ld: %s\n", k, tropt_error_message());
        return -1;
    }
    double c1 = 1 - pow(b1, (double)(k + 1)), c2 = 1 - pow(b2, (double)(k + 1));
    for (long i = 0; i < s->dim; i++) {
        s->m[i] = b1 * s->m[i] + (1 - b1) * g[i];
        s->v[i] = b2 * s->v[i] + (1 - b2) * g[i] * g[i];
        s->x[i] -= lr * (s->m[i] / c1) / (sqrt(s->v[i] / c2) + eps);
    }
    s->step = k;
    return 0;
}

static int optimize(const demo_opts *o, tropt_tracker *t, state *s)
{
    json_t *point = json_array();
    int rc = 0;
    for (long k = s->step + 1; k < o->steps && rc == 0; k++) {
        rc = adam_step(o, t, s, k, point);
        if (rc == 0 && o->ckpt_every > 0 && (k + 1) % o->ckpt_every == 0)
            rc = save_checkpoint(o, t, s);
        if (rc == 0 && o->sleep_ms)
            sleep_ms(o->sleep_ms);
    }
    json_decref(point);
    return rc;
}

static int open_run(const demo_opts *o, tropt_tracker **out)
{
    json_t *config =
        json_pack("{s:s, s:f, s:f, s:f, s:f, s:I, s:I, s:I}", "optimizer", "adam", "lr", o->lr,
                  "beta1", 0.9, "beta2", 0.9, "eps", 1e-8, "dim", (json_int_t)o->dim, "steps",
                  (json_int_t)o->steps, "seed", (json_int_t)o->seed);
    tropt_tracker *t = NULL;
    int rc = tropt_tracker_open(&t, o->spec, o->experiment, NULL);
    if (rc == TROPT_OK && o->run_name)
        rc = tropt_tracker_set_run_name(t, o->run_name);
    if (rc == TROPT_OK && o->resume_key)
        rc = tropt_tracker_set_option(t, "resume", "allow");
    if (rc == TROPT_OK && o->resume_key)
        rc = tropt_tracker_set_option(t, "resume_key", o->resume_key);
    if (rc == TROPT_OK)
        rc = tropt_tracker_init(t, config);
    for (int i = 0; rc == TROPT_OK && i < o->n_tags; i++)
        rc = tropt_tracker_tag(t, o->tags[i]);
    json_decref(config);
    if (rc != TROPT_OK) {
        fprintf(stderr, "tropt-demo: %s\n", tropt_error_message());
        tropt_tracker_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

static int finish_run(const demo_opts *o, tropt_tracker *t, const state *s)
{
    json_t *bx = json_array();
    for (long i = 0; i < s->dim; i++)
        json_array_append_new(bx, json_real(s->best_x[i]));
    json_t *summary =
        json_pack("{s:f, s:o, s:I, s:b, s:f}", "best_loss", s->best, "best_x", bx, "steps",
                  (json_int_t)o->steps, "converged", s->best < o->tol, "tol", o->tol);
    int rc = tropt_tracker_finish(t, summary);
    json_decref(summary);
    if (rc != TROPT_OK)
        fprintf(stderr, "tropt-demo: finish: %s\n", tropt_error_message());
    return rc == TROPT_OK ? 0 : -1;
}

int main(int argc, char **argv)
{
    demo_opts o;
    int rc = parse_args(&o, argc, argv);
    if (rc)
        return rc == 1 ? 0 : rc;
    tropt_tracker *t = NULL;
    if (open_run(&o, &t) != 0)
        return 1;
    char run_id[64], name[TROPT_MAX_NAME + 1];
    snprintf(run_id, sizeof run_id, "%s", tropt_tracker_run_id(t));
    snprintf(name, sizeof name, "%s", tropt_tracker_run_name(t));
    state s;
    start_state(&o, &s);
    long next = (long)tropt_tracker_next_step(t);
    if (next > 0 && load_checkpoint(&o, next, &s) != 0) {
        tropt_tracker_free(t); /* the attempt is recorded aborted */
        return 1;
    }
    int failed = optimize(&o, t, &s) != 0;
    failed |= finish_run(&o, t, &s) != 0;
    tropt_tracker_free(t);
    if (!failed)
        printf("run %s (%s) finished: %ld steps, best_loss=%.6g, %s (tol %g)\n", run_id, name,
               o.steps, s.best, s.best < o.tol ? "converged" : "not converged", o.tol);
    return failed;
}
