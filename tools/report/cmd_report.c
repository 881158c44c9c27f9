/* tools/report/cmd_report.c - `tropt report`: one self-contained HTML page
 * of runs, rewritten every INTERVAL with --watch until every shown run has
 * ended. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "report_data.h"
#include "report_html.h"

#define REPORT_USAGE                                                                               \
    "report [--db PATH | --from SPEC] [--experiment NAME] [--run ID]... [-o FILE] "                \
    "[--watch INTERVAL]"

typedef struct {
    const char *db, *out, *watch_text;
    double watch; /* seconds, 0: write once */
    rp_query q;
    const char **runs;
} report_args;

/* "5", "5s", "500ms", "2m", "1h" as seconds; -1 when malformed. */
static double parse_interval(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    double unit = strcmp(end, "") == 0 || strcmp(end, "s") == 0 ? 1
                  : strcmp(end, "ms") == 0                      ? 1e-3
                  : strcmp(end, "m") == 0                       ? 60
                  : strcmp(end, "h") == 0                       ? 3600
                                                                : -1;
    return end == s || unit < 0 || !(v > 0) || !isfinite(v) ? -1 : v * unit;
}

/* The slot an option's value goes to, NULL: not an option of ours. */
static const char **slot(report_args *a, const char *opt)
{
    if (strcmp(opt, "--db") == 0)
        return &a->db;
    if (strcmp(opt, "--from") == 0)
        return &a->q.from;
    if (strcmp(opt, "--experiment") == 0)
        return &a->q.experiment;
    if (strcmp(opt, "-o") == 0 || strcmp(opt, "--output") == 0)
        return &a->out;
    if (strcmp(opt, "--watch") == 0)
        return &a->watch_text;
    if (strcmp(opt, "--run") == 0)
        return &a->runs[a->q.n_runs++];
    return NULL;
}

/* Fill a from argv: 0, else the exit code (help: 0 after printing it). */
static int parse(report_args *a, int argc, char **argv, int *done)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: tropt %s\n", REPORT_USAGE);
            *done = 1;
            return 0;
        }
        const char **dst = slot(a, argv[i]);
        if (!dst)
            return cli_usage(REPORT_USAGE, "unknown argument '%s'", argv[i]);
        if (i + 1 >= argc || argv[i + 1][0] == '\0')
            return cli_usage(REPORT_USAGE, "%s needs a value", argv[i]);
        *dst = argv[++i];
    }
    if (a->watch_text && (a->watch = parse_interval(a->watch_text)) < 0)
        return cli_usage(REPORT_USAGE, "--watch wants an interval like 5s, 500ms or 2m, not '%s'",
                         a->watch_text);
    if (a->watch > 0 && strcmp(a->out, "-") == 0)
        return cli_usage(REPORT_USAGE, "--watch rewrites a file: give -o FILE, not -o -");
    return 0;
}

/* Write the page to a.out through a temporary file renamed over it, so a
 * reader never sees half a page.  Returns 0 or -1 (message printed). */
static int write_page(const report_args *a, const rp_data *d)
{
    rp_page_opts o = {.watch = a->watch};
    if (strcmp(a->out, "-") == 0) {
        int rc = rp_write_html(stdout, d, &o) || fflush(stdout) != 0 ? -1 : 0;
        if (rc)
            fprintf(stderr, "tropt report: cannot write the page: %s\n", strerror(errno));
        return rc;
    }
    size_t n = strlen(a->out) + 16;
    char *tmp = malloc(n);
    FILE *f = tmp ? (snprintf(tmp, n, "%s.tmp", a->out), fopen(tmp, "wb")) : NULL;
    int rc = f ? rp_write_html(f, d, &o) : -1;
    if (f && fclose(f) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, a->out) != 0)
        rc = -1;
    if (rc)
        fprintf(stderr, "tropt report: cannot write %s: %s\n", tmp ? tmp : a->out, strerror(errno));
    if (rc && f)
        remove(tmp);
    free(tmp);
    return rc;
}

static int all_ended(const rp_data *d)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->runs[i].status, "running") == 0)
            return 0;
    return 1;
}

/* One report: 0 written, -1 failed; *ended: every shown run has ended. */
static int report_once(const report_args *a, int *ended, int first)
{
    rp_data d;
    char *err = NULL;
    if (rp_load(&a->q, &d, &err)) {
        fprintf(stderr, "tropt report: %s\n", err);
        free(err);
        return -1;
    }
    int rc = write_page(a, &d);
    *ended = all_ended(&d);
    if (rc == 0 && first && strcmp(a->out, "-") != 0)
        fprintf(stderr, "tropt report: %zu run%s -> %s%s\n", d.n, d.n == 1 ? "" : "s", a->out,
                a->watch > 0 && !*ended ? " (rewritten until every run has ended)" : "");
    rp_free(&d);
    return rc;
}

static void pause_for(double seconds)
{
    struct timespec ts = {(time_t)seconds, (long)(fmod(seconds, 1) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int cmd_report(int argc, char **argv)
{
    report_args a = {.db = "tropt.db", .out = "tropt-report.html"};
    a.runs = calloc((size_t)argc + 1, sizeof *a.runs);
    if (!a.runs) {
        fprintf(stderr, "tropt report: out of memory\n");
        return 1;
    }
    int done = 0, rc = parse(&a, argc, argv, &done);
    /* --from names the store in messages without its secret options */
    a.q.db = a.q.from ? cli_shown_spec(a.q.from) : a.db;
    a.q.runs = a.runs;
    a.q.buckets = RP_AUTO_BUCKETS;
    for (int first = 1, ended = 0; rc == 0 && !done; first = 0) {
        if (report_once(&a, &ended, first))
            rc = 1;
        else if (a.watch <= 0 || ended)
            done = 1;
        else
            pause_for(a.watch);
    }
    free(a.runs);
    return rc;
}
