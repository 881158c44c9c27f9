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

typedef struct {
    const char *db, *from, *experiment, *out, *watch_text;
    cli_list runs;
    double watch; /* seconds, 0: write once */
    rp_query q;
} report_args;

const cli_opt cmd_report_opts[] = {
    CLI_VALUE("db", 0, report_args, db, "PATH",
              "read this sqlite database (default ./tropt.db); the same as --from "
              "sqlite:path=PATH"),
    CLI_VALUE_OR("from", 0, report_args, from, "SPEC",
                 "read any readable backend: sqlite:path=F, csv:dir=D, jsonl:path=F, ..."),
    CLI_VALUE("experiment", 0, report_args, experiment, "NAME", "only runs of this experiment"),
    CLI_LIST("run", 0, report_args, runs, "RUN",
             "show this run: an id, a unique prefix of one or a name (repeatable; default: "
             "every run)"),
    CLI_VALUE("output", 'o', report_args, out, "FILE",
              "write the page to FILE (default tropt-report.html; - for standard output)"),
    CLI_VALUE("watch", 0, report_args, watch_text, "INTERVAL",
              "rewrite the page every INTERVAL (5s, 500ms, 2m) until every shown run has ended"),
    CLI_END};

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

/* Check what the parser cannot: CLI_GO, or the exit code of a usage error. */
static int check_args(const cli_command *self, report_args *a)
{
    if (a->db && a->from)
        return cli_usage_error(self, "give --db or --from, not both");
    if (a->watch_text && (a->watch = parse_interval(a->watch_text)) < 0)
        return cli_usage_error(self, "--watch wants an interval like 5s, 500ms or 2m, not '%s'",
                               a->watch_text);
    if (a->watch > 0 && strcmp(a->out, "-") == 0)
        return cli_usage_error(self, "--watch rewrites a file: give -o FILE, not -o -");
    return CLI_GO;
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

int cmd_report(const cli_command *self, int argc, char **argv)
{
    report_args a = {.out = "tropt-report.html"};
    int rc = cli_parse(self, argc, argv, &a);
    if (rc == CLI_GO)
        rc = check_args(self, &a);
    if (rc != CLI_GO) {
        cli_args_free(self, &a);
        return rc;
    }
    /* --from names the store in messages without its secret options */
    a.q.from = a.from;
    a.q.db = a.from ? cli_shown_spec(a.from) : a.db ? a.db : "tropt.db";
    a.q.experiment = a.experiment;
    a.q.runs = a.runs.v;
    a.q.n_runs = a.runs.n;
    a.q.buckets = RP_AUTO_BUCKETS;
    rc = 0;
    for (int first = 1, ended = 0, done = 0; !done; first = 0) {
        if (report_once(&a, &ended, first)) {
            rc = 1;
            done = 1;
        } else if (a.watch <= 0 || ended)
            done = 1;
        else
            pause_for(a.watch);
    }
    cli_args_free(self, &a);
    return rc;
}
