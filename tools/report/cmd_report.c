/* tools/report/cmd_report.c - `tropt report`: one self-contained HTML page of runs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "report_data.h"
#include "report_html.h"

#define REPORT_USAGE "report [--db PATH | --from SPEC] [--experiment NAME] [--run ID]... [-o FILE]"

int cmd_report(int argc, char **argv)
{
    const char *db = "tropt.db", *out = "tropt-report.html";
    rp_query q = {0};
    const char **runs = calloc((size_t)argc + 1, sizeof *runs);
    if (!runs) {
        fprintf(stderr, "tropt report: out of memory\n");
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = NULL;
        if (strcmp(a, "--db") == 0)
            dst = &db;
        else if (strcmp(a, "--from") == 0)
            dst = &q.from;
        else if (strcmp(a, "--experiment") == 0)
            dst = &q.experiment;
        else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0)
            dst = &out;
        else if (strcmp(a, "--run") == 0)
            dst = &runs[q.n_runs++];
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            free(runs);
            printf("usage: tropt %s\n", REPORT_USAGE);
            return 0;
        } else {
            free(runs);
            return cli_usage(REPORT_USAGE, "unknown argument '%s'", a);
        }
        if (i + 1 >= argc || argv[i + 1][0] == '\0') {
            free(runs);
            return cli_usage(REPORT_USAGE, "%s needs a value", a);
        }
        *dst = argv[++i];
    }
    /* --from names the store in the page without its secret options */
    q.db = q.from ? cli_shown_spec(q.from) : db;
    q.runs = runs;
    q.buckets = RP_AUTO_BUCKETS;
    rp_data d;
    char *err = NULL;
    if (rp_load(&q, &d, &err)) {
        fprintf(stderr, "tropt report: %s\n", err);
        free(err);
        free(runs);
        return 1;
    }
    free(runs);
    /* Write beside the target, then rename: a failed run never leaves a
     * half-written page. */
    size_t n = strlen(out) + 16;
    char *tmp = malloc(n);
    if (!tmp) {
        rp_free(&d);
        fprintf(stderr, "tropt report: out of memory\n");
        return 1;
    }
    snprintf(tmp, n, "%s.tmp", out);
    FILE *f = strcmp(out, "-") == 0 ? stdout : fopen(tmp, "wb");
    if (!f) {
        fprintf(stderr, "tropt report: cannot write %s: %s\n", tmp, strerror(errno));
        free(tmp);
        rp_free(&d);
        return 1;
    }
    int rc = rp_write_html(f, &d);
    if (f != stdout) {
        if (fclose(f) != 0)
            rc = -1;
        if (rc == 0 && rename(tmp, out) != 0)
            rc = -1;
        if (rc)
            remove(tmp);
    } else if (fflush(f) != 0)
        rc = -1;
    if (rc)
        fprintf(stderr, "tropt report: cannot write %s: %s\n", out, strerror(errno));
    else if (f != stdout)
        fprintf(stderr, "tropt report: %zu run%s -> %s\n", d.n, d.n == 1 ? "" : "s", out);
    free(tmp);
    rp_free(&d);
    return rc ? 1 : 0;
}
