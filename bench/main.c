/* bench/main.c - tropt-bench: options, machine info, the scenarios in order,
 * the human tables on stdout and the JSON report.
 *
 *   tropt-bench [--quick] [--steps N] [--mem-steps N] [--rounds N]
 *               [--only LIST] [--vm URL] [--dir DIR] [--json PATH] [--verify]
 *
 * Exit status: 0 when every selected scenario ran or was skipped for a
 * stated reason (plugin not built, no --vm), 1 when one failed, 2 on a
 * usage error.  No figure is ever asserted. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#ifndef BENCH_NO_SQLITE
#include <sqlite3.h>
#endif

#include "bench.h"

static const char *const all_scenarios[] = {
    "host",       "sqlite-default", "sqlite-batched", "csv-wide",     "csv-newkey", "jsonl",
    "http-vm",    "http-slow",      "http-down",      "latency",      "pg-default", "pg-batched",
    "pg-latency", "sqlite-read",    "host-keys",      "sqlite-scale", "csv-keys",   "sys",
    "ckpt",       "tensorboard",    "sqlite-resume",  "pg-resumed",   "pg-reopen",
};
#define N_SCENARIOS (sizeof all_scenarios / sizeof all_scenarios[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: tropt-bench [options]\n"
               "  --quick          short smoke pass (a few thousand steps, < 30 s)\n"
               "  --steps N        steps per throughput run (default 100000)\n"
               "  --mem-steps N    steps of the latency/memory runs (default 200000; 1000000 for\n"
               "                   the issue's long run)\n"
               "  --rounds N       interleaved rounds per scenario (default 5)\n"
               "  --only LIST      comma-separated scenarios or prefixes: host, sqlite-default,\n"
               "                   sqlite-batched, csv-wide, csv-newkey, jsonl, http-vm,\n"
               "                   http-slow, http-down, latency, pg-default, pg-batched,\n"
               "                   pg-latency, pg-resumed, pg-reopen (pg:\n"
               "                   TROPT_BENCH_PG_CONNINFO, else a local PostgreSQL 15 cluster\n"
               "                   of its own; TROPT_BENCH_PG_RESUME_STEPS: the big run)\n"
               "                   sqlite-scale (TROPT_BENCH_SCALE_MAX=1e7: to 1e7 values),\n"
               "                   tensorboard (1,000,000 steps unless --quick), sqlite-resume\n"
               "  --vm URL         VictoriaMetrics base URL (e.g. http://127.0.0.1:8428)\n"
               "  --http-opts S    extra options appended to the http spec (e.g.\n"
               "                   batch_size=5000,queue_size=100000)\n"
               "  --dir DIR        scratch folder (default: a new one under $TMPDIR or /tmp)\n"
               "  --json PATH      write the results as JSON\n"
               "  --verify         re-read the JSON and check every scenario ran or was\n"
               "                   skipped for a stated reason (the smoke test)\n"
               "Plugins are found through TROPT_PLUGIN_PATH; a backend whose plugin is not\n"
               "found is skipped with a note.\n");
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
    return s;
}

static json_t *machine_info(const char *dir)
{
    json_t *m = json_object();
    json_object_set_new(m, "nproc", json_integer(sysconf(_SC_NPROCESSORS_ONLN)));
    char line[512], model[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10) == 0) {
                char *c = strchr(line, ':');
                if (c)
                    snprintf(model, sizeof model, "%s", trim(c + 1));
                break;
            }
        }
        fclose(f);
    }
    json_object_set_new(m, "cpu", json_string(model));
    struct utsname u;
    if (uname(&u) == 0) {
        json_object_set_new(m, "kernel", json_sprintf("%s %s", u.sysname, u.release));
        json_object_set_new(m, "arch", json_string(u.machine));
    }
    f = fopen("/proc/loadavg", "r");
    if (f) {
        double l1, l5, l15;
        if (fgets(line, sizeof line, f) && sscanf(line, "%lf %lf %lf", &l1, &l5, &l15) == 3)
            json_object_set_new(m, "loadavg_at_start", json_sprintf("%.2f %.2f %.2f", l1, l5, l15));
        fclose(f);
    }
    f = fopen("/proc/meminfo", "r");
    if (f) {
        if (fgets(line, sizeof line, f))
            json_object_set_new(m, "memory", json_string(trim(line + 9)));
        fclose(f);
    }
    struct statfs sf;
    if (statfs(dir, &sf) == 0)
        json_object_set_new(m, "scratch_fs",
                            json_string(sf.f_type == 0x01021994   ? "tmpfs"
                                        : sf.f_type == 0xEF53     ? "ext2/3/4"
                                        : sf.f_type == 0x58465342 ? "xfs"
                                        : sf.f_type == 0x9123683E ? "btrfs"
                                                                  : "other"));
    json_object_set_new(m, "tropt", json_string(tropt_version()));
#ifndef BENCH_NO_SQLITE
    json_object_set_new(m, "sqlite", json_string(sqlite3_libversion()));
#endif
    json_object_set_new(m, "jansson", json_string(JANSSON_VERSION));
    char when[64];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    json_object_set_new(m, "date", json_string(when));
    return m;
}

static void fmt_num(char *buf, size_t size, double x)
{
    if (x >= 1e9)
        snprintf(buf, size, "%.2fG", x / 1e9);
    else if (x >= 1e6)
        snprintf(buf, size, "%.2fM", x / 1e6);
    else if (x >= 1e3)
        snprintf(buf, size, "%.1fk", x / 1e3);
    else
        snprintf(buf, size, "%.0f", x);
}

static void fmt_ns(char *buf, size_t size, double ns)
{
    if (ns >= 1e6)
        snprintf(buf, size, "%.2f ms", ns / 1e6);
    else if (ns >= 1e4)
        snprintf(buf, size, "%.1f us", ns / 1e3);
    else
        snprintf(buf, size, "%.0f ns", ns);
}

static const char *met_text(json_t *row)
{
    json_t *m = json_object_get(row, "met");
    return !m ? "" : json_is_true(m) ? "yes" : "NO";
}

static void print_tables(bench_ctx *c)
{
    size_t i;
    json_t *row;
    printf("\nThroughput: %d fields per step, median of %d interleaved rounds\n", BENCH_NFIELDS,
           c->rounds);
    printf("%-15s %-48s %8s %10s %10s %14s %18s %4s\n", "scenario", "variant", "steps", "ns/step",
           "values/s", "ratio", "target", "met");
    json_array_foreach(c->results, i, row)
    {
        char ns[32], vps[32], ratio[32] = "";
        fmt_ns(ns, sizeof ns, json_real_value(json_object_get(row, "ns_per_step")));
        fmt_num(vps, sizeof vps, json_real_value(json_object_get(row, "values_per_s")));
        json_t *r = json_object_get(row, "ratio");
        if (r)
            snprintf(ratio, sizeof ratio, "%.3fx %s", json_real_value(r),
                     json_string_value(json_object_get(row, "ratio_kind")));
        json_t *tg = json_object_get(row, "target");
        printf("%-15s %-48s %8lld %10s %10s %14s %18s %4s\n",
               json_string_value(json_object_get(row, "scenario")),
               json_string_value(json_object_get(row, "variant")),
               (long long)json_integer_value(json_object_get(row, "steps")), ns, vps, ratio,
               tg ? json_string_value(tg) : "", met_text(row));
    }
    printf("  ratio 'cost' = ns/step of the row / ns/step of its baseline (lower is better);\n"
           "  ratio 'speed' = baseline ns/step / the row's ns/step (higher is better).\n");
    if (json_array_size(c->latency) == 0)
        return;
    printf("\nLatency of one log call and peak RSS (ru_maxrss) as the run grows\n");
    printf("%-40s %8s %9s %9s %9s %9s %7s %6s %24s %8s\n", "backend", "steps", "p50", "p99",
           "p99.9", "max", "p99/p50", "met", "RSS KB start/10%/end", "growth");
    json_array_foreach(c->latency, i, row)
    {
        char p50[32], p99[32], p999[32], mx[32], rss[64];
        fmt_ns(p50, sizeof p50, json_real_value(json_object_get(row, "p50_ns")));
        fmt_ns(p99, sizeof p99, json_real_value(json_object_get(row, "p99_ns")));
        fmt_ns(p999, sizeof p999, json_real_value(json_object_get(row, "p999_ns")));
        fmt_ns(mx, sizeof mx, json_real_value(json_object_get(row, "max_ns")));
        json_t *r = json_object_get(row, "rss_kb");
        snprintf(rss, sizeof rss, "%lld/%lld/%lld",
                 (long long)json_integer_value(json_object_get(r, "start")),
                 (long long)json_integer_value(json_object_get(r, "at_10pct")),
                 (long long)json_integer_value(json_object_get(r, "end")));
        printf("%-40s %8lld %9s %9s %9s %9s %7.1f %6s %24s %+8lld\n",
               json_string_value(json_object_get(row, "backend")),
               (long long)json_integer_value(json_object_get(row, "steps")), p50, p99, p999, mx,
               json_real_value(json_object_get(row, "p99_over_p50")), met_text(row), rss,
               (long long)json_integer_value(json_object_get(row, "rss_growth_kb_10_to_100pct")));
    }
    printf("  met: p99/p50 <= 20 for local backends; p99 < 5 us for http.\n");
}

static void print_scenarios(bench_ctx *c)
{
    const char *k;
    json_t *v;
    printf("\nScenarios:\n");
    json_object_foreach(c->scenarios, k, v)
    {
        const char *note = json_string_value(json_object_get(v, "note"));
        printf("  %-15s %-8s %s\n", k, json_string_value(json_object_get(v, "status")),
               note ? note : "");
    }
}

/* The smoke test: the JSON parses, has the machine block, and every
 * selected scenario ran or was skipped for a stated reason. */
static int verify(bench_ctx *c, const char *path)
{
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (!root) {
        fprintf(stderr, "verify: %s: invalid JSON: %s (line %d)\n", path, err.text, err.line);
        return -1;
    }
    int bad = 0;
    json_t *sc = json_object_get(root, "scenarios");
    if (!json_is_object(json_object_get(root, "machine")) || !json_is_object(sc) ||
        !json_is_array(json_object_get(root, "results")) ||
        !json_is_array(json_object_get(root, "latency"))) {
        fprintf(stderr, "verify: %s: missing machine/scenarios/results/latency\n", path);
        bad = 1;
    }
    for (size_t i = 0; i < N_SCENARIOS && !bad; i++) {
        if (!bench_want(c, all_scenarios[i]))
            continue;
        json_t *s = json_object_get(sc, all_scenarios[i]);
        const char *st = json_string_value(json_object_get(s, "status"));
        if (!st || (strcmp(st, "ran") != 0 && strcmp(st, "skipped") != 0)) {
            fprintf(stderr, "verify: scenario %s: %s\n", all_scenarios[i], st ? st : "missing");
            bad = 1;
        }
    }
    json_decref(root);
    if (!bad)
        printf("verify: %s is valid JSON; every scenario ran or was skipped with a note\n", path);
    return bad ? -1 : 0;
}

static int64_t parse_count(const char *s, const char *opt)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v <= 0) {
        fprintf(stderr, "tropt-bench: %s wants a positive integer, not '%s'\n", opt, s);
        exit(2);
    }
    return v;
}

/* What the command line asked for besides the scenarios' parameters. */
typedef struct bench_args {
    const char *json_path, *dir;
    int do_verify, steps_given, mem_given, rounds_given;
} bench_args;

/* One option that takes a value; 1 when `a` was one, 0 when not, 2 on a bad
 * value (after saying why). */
static int value_option(bench_ctx *c, bench_args *g, const char *a, const char *val)
{
    if (strcmp(a, "--steps") == 0) {
        c->steps = parse_count(val, a);
        g->steps_given = 1;
    } else if (strcmp(a, "--mem-steps") == 0) {
        c->mem_steps = parse_count(val, a);
        g->mem_given = 1;
    } else if (strcmp(a, "--rounds") == 0) {
        c->rounds = (int)parse_count(val, a);
        g->rounds_given = 1;
    } else if (strcmp(a, "--only") == 0) {
        c->only = val;
    } else if (strcmp(a, "--vm") == 0) {
        c->vm_url = *val ? val : NULL;
    } else if (strcmp(a, "--http-opts") == 0) {
        c->http_opts = val;
    } else if (strcmp(a, "--dir") == 0) {
        g->dir = val;
    } else if (strcmp(a, "--json") == 0) {
        g->json_path = val;
    } else {
        return 0;
    }
    return 1;
}

static int takes_value(const char *a)
{
    static const char *const names[] = {"--steps", "--mem-steps", "--rounds", "--only",
                                        "--vm",    "--http-opts", "--dir",    "--json"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(a, names[i]) == 0)
            return 1;
    return 0;
}

/* The command line into c and g: -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, bench_ctx *c, bench_args *g)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (takes_value(a)) {
            if (i + 1 >= argc) {
                fprintf(stderr, "tropt-bench: %s needs a value\n", a);
                return 2;
            }
            value_option(c, g, a, argv[++i]);
        } else if (strcmp(a, "--quick") == 0) {
            c->quick = 1;
        } else if (strcmp(a, "--verify") == 0) {
            g->do_verify = 1;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "tropt-bench: unknown argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (g->do_verify && !g->json_path) {
        fprintf(stderr, "tropt-bench: --verify needs --json PATH\n");
        return 2;
    }
    return -1;
}

/* --quick's smaller defaults where no count was given, the rounds capped,
 * the VictoriaMetrics url without its trailing '/'. */
static void settle_params(bench_ctx *c, const bench_args *g)
{
    if (c->quick) {
        if (!g->steps_given)
            c->steps = 2000;
        if (!g->mem_given)
            c->mem_steps = 5000;
        if (!g->rounds_given)
            c->rounds = 3;
    }
    if (c->rounds > 64)
        c->rounds = 64;
    if (c->vm_url) {
        static char vm[1024];
        snprintf(vm, sizeof vm, "%s", c->vm_url);
        size_t n = strlen(vm);
        while (n && vm[n - 1] == '/')
            vm[--n] = '\0';
        c->vm_url = vm;
    }
}

/* The scratch folder, under --dir, else TMPDIR, else /tmp; 0 or -1. */
static int make_scratch(bench_ctx *c, const char *dir)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(c->tmpdir, sizeof c->tmpdir, "%s/tropt-bench.XXXXXX",
             dir           ? dir
             : tmp && *tmp ? tmp
                           : "/tmp");
    if (!mkdtemp(c->tmpdir)) {
        fprintf(stderr, "tropt-bench: cannot create a scratch folder %s: %s\n", c->tmpdir,
                strerror(errno));
        return -1;
    }
    return 0;
}

/* Every scenario in order; the seconds they took. */
static double run_scenarios(bench_ctx *c)
{
    double t0 = bench_mono();
    struct {
        const char *label;
        void (*fn)(bench_ctx *);
    } order[] = {
        {"host", scen_host},     {"sqlite", scen_sqlite}, {"csv", scen_csv},
        {"jsonl", scen_jsonl},   {"http", scen_http},     {"latency", scen_latency},
        {"pg", scen_pg},         {"reader", scen_reader}, {"scale", scen_scale},
        {"sys", scen_sys},       {"ckpt", scen_ckpt},     {"tensorboard", scen_tensorboard},
        {"resume", scen_resume},
    };
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        printf("== %s\n", order[i].label);
        fflush(stdout);
        order[i].fn(c);
    }
    return bench_mono() - t0;
}

/* The machine's load when the run ended, into c->machine. */
static void note_load(bench_ctx *c)
{
    FILE *la = fopen("/proc/loadavg", "r");
    if (!la)
        return;
    double l1, l5, l15;
    if (fscanf(la, "%lf %lf %lf", &l1, &l5, &l15) == 3)
        json_object_set_new(c->machine, "loadavg_at_end",
                            json_sprintf("%.2f %.2f %.2f", l1, l5, l15));
    fclose(la);
}

/* Everything measured, as JSON at path; counts an error when it cannot. */
static void write_json(bench_ctx *c, const char *path, double elapsed)
{
    json_t *root = json_pack(
        "{s:O, s:{s:I, s:I, s:i, s:b, s:s?, s:s?}, s:O, s:O, s:O, s:f}", "machine", c->machine,
        "params", "steps", (json_int_t)c->steps, "mem_steps", (json_int_t)c->mem_steps, "rounds",
        c->rounds, "quick", c->quick, "vm", c->vm_url, "http_opts", c->http_opts, "scenarios",
        c->scenarios, "results", c->results, "latency", c->latency, "elapsed_s", elapsed);
    if (!root || json_dump_file(root, path, JSON_INDENT(2) | JSON_SORT_KEYS) != 0) {
        fprintf(stderr, "tropt-bench: cannot write %s\n", path);
        c->errors++;
    } else {
        printf("JSON written to %s\n", path);
    }
    json_decref(root);
}

int main(int argc, char **argv)
{
    bench_ctx c;
    memset(&c, 0, sizeof c);
    c.steps = 100000;
    c.mem_steps = 200000;
    c.rounds = 5;
    bench_args g = {0};
    int rc = parse_args(argc, argv, &c, &g);
    if (rc >= 0)
        return rc;
    settle_params(&c, &g);
    if (make_scratch(&c, g.dir) != 0)
        return 1;

    bench_values_init();
    c.machine = machine_info(c.tmpdir);
    c.results = json_array();
    c.latency = json_array();
    c.scenarios = json_object();
    printf("tropt-bench %s: %lld CPUs, %s, %s; scratch %s (%s)\n", tropt_version(),
           (long long)json_integer_value(json_object_get(c.machine, "nproc")),
           json_string_value(json_object_get(c.machine, "cpu")),
           json_string_value(json_object_get(c.machine, "kernel")), c.tmpdir,
           json_string_value(json_object_get(c.machine, "scratch_fs")));
    printf("steps %lld, latency/memory steps %lld, rounds %d%s\n", (long long)c.steps,
           (long long)c.mem_steps, c.rounds, c.quick ? " (quick)" : "");
    fflush(stdout);

    double elapsed = run_scenarios(&c);
    note_load(&c);
    bench_rmrf(c.tmpdir);

    print_tables(&c);
    print_scenarios(&c);
    printf("\ntotal %.1f s\n", elapsed);
    if (g.json_path)
        write_json(&c, g.json_path, elapsed);
    if (g.do_verify && verify(&c, g.json_path) != 0)
        c.errors++;
    json_decref(c.machine);
    json_decref(c.results);
    json_decref(c.latency);
    json_decref(c.scenarios);
    return c.errors ? 1 : 0;
}
