/* tools/report/report_html.c - write the page of `tropt report` (see report_html.h). */
#include "report_html.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report_res.h"

/* Text content and attribute values. */
static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

/* A JSON string that is also safe inside <script> (no '<', '>', '&'). */
static void jstr(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c == '<' || c == '>' || c == '&')
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void jnum(FILE *f, double x)
{
    if (isnan(x))
        fputs("null", f);
    else if (isinf(x))
        fputs(x > 0 ? "\"inf\"" : "\"-inf\"", f);
    else
        fprintf(f, "%.7g", x);
}

static void fmt_time(char *buf, size_t size, double t)
{
    if (isnan(t)) {
        snprintf(buf, size, "-");
        return;
    }
    time_t s = (time_t)t;
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static void fmt_dur(char *buf, size_t size, double d)
{
    if (isnan(d))
        snprintf(buf, size, "running");
    else if (d < 60)
        snprintf(buf, size, "%.1f s", d);
    else if (d < 3600)
        snprintf(buf, size, "%dm %02ds", (int)(d / 60), (int)fmod(d, 60));
    else
        snprintf(buf, size, "%dh %02dm", (int)(d / 3600), (int)fmod(d / 60, 60));
}

static const rp_series *find_series(const rp_run *r, const char *key)
{
    size_t lo = 0, hi = r->n_series;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(r->series[mid].key, key);
        if (c == 0)
            return &r->series[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static const rp_kv *find_kv(const rp_kv *kv, size_t n, const char *key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(kv[mid].key, key);
        if (c == 0)
            return &kv[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int cmp_pstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted, unique keys of every run's series (which = 0), params (1) or
 * summary (2); an array of borrowed pointers the caller frees, or NULL with
 * *n = 0 (none, or out of memory: *oom set). */
static const char **union_keys(const rp_data *d, int which, size_t *n, int *oom)
{
    size_t total = 0;
    for (size_t i = 0; i < d->n; i++)
        total += which == 0   ? d->runs[i].n_series
                 : which == 1 ? d->runs[i].n_params
                              : d->runs[i].n_summary;
    *n = 0;
    if (!total)
        return NULL;
    const char **k = malloc(total * sizeof *k);
    if (!k) {
        *oom = 1;
        return NULL;
    }
    for (size_t i = 0; i < d->n; i++) {
        const rp_run *r = &d->runs[i];
        if (which == 0)
            for (size_t j = 0; j < r->n_series; j++)
                k[(*n)++] = r->series[j].key;
        else if (which == 1)
            for (size_t j = 0; j < r->n_params; j++)
                k[(*n)++] = r->params[j].key;
        else
            for (size_t j = 0; j < r->n_summary; j++)
                k[(*n)++] = r->summary[j].key;
    }
    qsort(k, *n, sizeof *k, cmp_pstr);
    size_t u = 0;
    for (size_t i = 0; i < *n; i++)
        if (u == 0 || strcmp(k[u - 1], k[i]) != 0)
            k[u++] = k[i];
    *n = u;
    return k;
}

static int is_numeric(const rp_data *d, const char *key)
{
    for (size_t i = 0; i < d->n; i++) {
        const rp_series *s = find_series(&d->runs[i], key);
        if (s && s->rows)
            return 1;
    }
    return 0;
}

static void short_id(char *buf, const char *id)
{
    /* UUIDv7: the first 8 characters are the time; the tail tells runs of
     * one millisecond apart. */
    size_t n = strlen(id);
    if (n <= 13)
        snprintf(buf, 16, "%s", id);
    else
        snprintf(buf, 16, "%.8s..%.4s", id, id + n - 4);
}

static void stat_cells(FILE *f, const rp_series *s)
{
    char b[3][48];
    if (!s) {
        fputs("<td></td><td></td><td></td>", f);
        return;
    }
    if (!s->rows) {
        fputs("<td class=\"text\">", f);
        esc(f, s->last_text);
        fputs("</td><td></td><td></td>", f);
        return;
    }
    rp_fmt(b[0], sizeof b[0], s->last, 6);
    rp_fmt(b[1], sizeof b[1], s->min, 6);
    rp_fmt(b[2], sizeof b[2], s->max, 6);
    for (int i = 0; i < 3; i++)
        fprintf(f, "<td class=\"num%s\">%s</td>", strcmp(b[i], "nan") == 0 ? " nf" : "", b[i]);
}

/* "NaN: 3, first at step 17" style notes for one series (NULL-free). */
static void nonfinite_note(FILE *f, const rp_series *s)
{
    char b[48];
    const struct {
        size_t n;
        double first;
        const char *name;
    } k[3] = {{s->nan, s->first_nan, "NaN"},
              {s->pinf, s->first_pinf, "+Inf"},
              {s->ninf, s->first_ninf, "-Inf"}};
    int any = 0;
    for (int i = 0; i < 3; i++) {
        if (!k[i].n)
            continue;
        rp_fmt(b, sizeof b, k[i].first, 15);
        fprintf(f, "%s%zu %s (first %s at step %s)", any ? ", " : "", k[i].n, k[i].name, k[i].name,
                b);
        any = 1;
    }
}

int rp_write_html(FILE *f, const rp_data *d)
{
    int oom = 0;
    size_t n_keys = 0, n_params = 0, n_sum = 0;
    const char **keys = union_keys(d, 0, &n_keys, &oom);
    const char **pkeys = union_keys(d, 1, &n_params, &oom);
    const char **skeys = union_keys(d, 2, &n_sum, &oom);
    char *numeric = calloc(n_keys ? n_keys : 1, 1);
    if (oom || !numeric) {
        free(keys);
        free(pkeys);
        free(skeys);
        free(numeric);
        return -1;
    }
    size_t n_num = 0;
    for (size_t k = 0; k < n_keys; k++)
        if ((numeric[k] = (char)is_numeric(d, keys[k])))
            n_num++;
    size_t n_charts = n_num < RP_MAX_CHARTS ? n_num : RP_MAX_CHARTS;
    int wide = n_keys <= RP_MAX_METRIC_COLUMNS;
    char b[96], b2[96];

    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
          "script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
          "base-uri 'none'; form-action 'none'\">\n"
          "<title>tropt report</title>\n<style>",
          f);
    fputs((const char *)rp_res_css_report, f);
    fputs("</style>\n<script>", f);
    fputs((const char *)rp_res_js_csp, f);
    fputs("</script>\n</head>\n<body>\n<h1>tropt report</h1>\n", f);
    fprintf(f,
            "<p>%zu run%s, %zu metric%s (%zu numeric). Long series keep each interval's "
            "first, last, min, max and non-finite values.</p>\n",
            d->n, d->n == 1 ? "" : "s", n_keys, n_keys == 1 ? "" : "s", n_num);
    fputs("<div id=\"status\" data-errors=\"0\" data-csp-violations=\"0\" "
          "data-rendered=\"0\"></div>\n",
          f);
    if (d->n == 0)
        fputs("<p class=\"empty\">No runs: the database holds no run matching the "
              "selection.</p>\n",
              f);

    /* Runs table. */
    fputs("<h2>Runs</h2>\n<table id=\"runs\">\n<thead><tr><th>experiment</th><th>run</th>"
          "<th>status</th><th>start</th><th>duration</th><th>steps</th>",
          f);
    if (wide)
        for (size_t k = 0; k < n_keys; k++) {
            fputs("<th colspan=\"3\">", f);
            esc(f, keys[k]);
            fputs(numeric[k] ? " (last / min / max)</th>" : " (last, text)</th>", f);
        }
    fputs("</tr></thead>\n<tbody>\n", f);
    for (size_t i = 0; i < d->n; i++) {
        const rp_run *r = &d->runs[i];
        int crashed = r->status && strcmp(r->status, "crashed") == 0;
        fprintf(f, "<tr%s><td>", crashed ? " class=\"crashed\"" : "");
        esc(f, r->experiment);
        fputs("</td><td title=\"", f);
        esc(f, r->id);
        short_id(b, r->id);
        fprintf(f, "\"><code>%s</code></td><td class=\"status\">", b);
        if (crashed)
            fputs("&#9888; ", f);
        esc(f, r->status);
        fmt_time(b, sizeof b, r->started);
        fmt_dur(b2, sizeof b2, r->ended - r->started);
        fprintf(f, "</td><td>%s</td><td>%s</td><td class=\"num\">%zu</td>", b, b2, r->steps);
        if (wide)
            for (size_t k = 0; k < n_keys; k++)
                stat_cells(f, find_series(r, keys[k]));
        fputs("</tr>\n", f);
    }
    fputs("</tbody>\n</table>\n", f);
    if (!wide && n_keys) {
        fputs("<h2>Metrics</h2>\n<table id=\"metrics\">\n<thead><tr><th>metric</th><th>run</th>"
              "<th>last</th><th>min</th><th>max</th></tr></thead>\n<tbody>\n",
              f);
        for (size_t k = 0; k < n_keys; k++)
            for (size_t i = 0; i < d->n; i++) {
                const rp_series *s = find_series(&d->runs[i], keys[k]);
                if (!s)
                    continue;
                fputs("<tr><td>", f);
                esc(f, keys[k]);
                short_id(b, d->runs[i].id);
                fprintf(f, "</td><td>%s</td>", b);
                stat_cells(f, s);
                fputs("</tr>\n", f);
            }
        fputs("</tbody>\n</table>\n", f);
    }

    /* Charts: containers here, drawn by the script from the data block. */
    fputs("<h2>Charts</h2>\n", f);
    if (n_num == 0)
        fputs("<p class=\"empty\">No numeric metric to chart.</p>\n", f);
    fputs("<div class=\"controls\"><label>x axis <select id=\"xmode\"><option value=\"step\">step"
          "</option><option value=\"time\">wall time</option></select></label>"
          "<label><input type=\"checkbox\" id=\"logy\"> log scale</label>"
          "<span id=\"legend\" class=\"legend\"></span></div>\n"
          "<p>Markers: <span class=\"nf\">&#9679;</span> NaN (above the plot), &#9650; +Inf, "
          "&#9660; -Inf; in log scale, values &le; 0 are grey squares.</p>\n",
          f);
    if (n_num > n_charts)
        fprintf(f, "<p>%zu more numeric metrics are not charted (they are in the tables).</p>\n",
                n_num - n_charts);
    for (size_t k = 0, c = 0; k < n_keys && c < n_charts; k++) {
        if (!numeric[k])
            continue;
        c++;
        fputs("<div class=\"chart\" data-metric=\"", f);
        esc(f, keys[k]);
        fputs("\"><h3>", f);
        esc(f, keys[k]);
        fputs("</h3>", f);
        for (size_t i = 0; i < d->n; i++) {
            const rp_series *s = find_series(&d->runs[i], keys[k]);
            if (!s || !(s->nan || s->pinf || s->ninf))
                continue;
            short_id(b, d->runs[i].id);
            fprintf(f, "<p class=\"nf\">%s: ", b);
            nonfinite_note(f, s);
            fputs("</p>", f);
        }
        fputs("<div class=\"tip\"></div></div>\n", f);
    }

    /* Config. */
    fputs("<h2>Config</h2>\n", f);
    if (!n_params)
        fputs("<p class=\"empty\">No config.</p>\n", f);
    else {
        fputs("<p>Rows in yellow differ between the runs.</p>\n<table id=\"config\">\n"
              "<thead><tr><th>key</th>",
              f);
        for (size_t i = 0; i < d->n; i++) {
            short_id(b, d->runs[i].id);
            fprintf(f, "<th>%s</th>", b);
        }
        fputs("</tr></thead>\n<tbody>\n", f);
        for (size_t k = 0; k < n_params; k++) {
            const rp_kv *first = find_kv(d->runs[0].params, d->runs[0].n_params, pkeys[k]);
            int diff = 0;
            for (size_t i = 1; i < d->n && !diff; i++) {
                const rp_kv *o = find_kv(d->runs[i].params, d->runs[i].n_params, pkeys[k]);
                diff = !first != !o || (first && o && strcmp(first->value, o->value) != 0);
            }
            fprintf(f, "<tr%s><th>", diff ? " class=\"diff\"" : "");
            esc(f, pkeys[k]);
            fputs("</th>", f);
            for (size_t i = 0; i < d->n; i++) {
                const rp_kv *o = find_kv(d->runs[i].params, d->runs[i].n_params, pkeys[k]);
                fputs("<td>", f);
                if (o)
                    esc(f, o->value);
                fputs("</td>", f);
            }
            fputs("</tr>\n", f);
        }
        fputs("</tbody>\n</table>\n", f);
    }

    /* Summaries. */
    fputs("<h2>Summaries</h2>\n", f);
    if (!n_sum)
        fputs("<p class=\"empty\">No summary.</p>\n", f);
    else {
        fputs("<table id=\"summary\">\n<thead><tr><th>key</th>", f);
        for (size_t i = 0; i < d->n; i++) {
            short_id(b, d->runs[i].id);
            fprintf(f, "<th>%s</th>", b);
        }
        fputs("</tr></thead>\n<tbody>\n", f);
        for (size_t k = 0; k < n_sum; k++) {
            fputs("<tr><th>", f);
            esc(f, skeys[k]);
            fputs("</th>", f);
            for (size_t i = 0; i < d->n; i++) {
                const rp_kv *o = find_kv(d->runs[i].summary, d->runs[i].n_summary, skeys[k]);
                fputs("<td>", f);
                if (o)
                    esc(f, o->value);
                fputs("</td>", f);
            }
            fputs("</tr>\n", f);
        }
        fputs("</tbody>\n</table>\n", f);
    }

    /* The data the charts are drawn from. */
    fputs("<script type=\"application/json\" id=\"tropt-data\">{\"runs\":[", f);
    for (size_t i = 0; i < d->n; i++) {
        fputs(i ? ",{\"id\":" : "{\"id\":", f);
        jstr(f, d->runs[i].id);
        short_id(b, d->runs[i].id);
        fputs(",\"name\":", f);
        jstr(f, b);
        fputc('}', f);
    }
    fputs("],\n\"metrics\":[", f);
    for (size_t k = 0, c = 0; k < n_keys && c < n_charts; k++) {
        if (!numeric[k])
            continue;
        fputs(c++ ? ",\n{\"key\":" : "\n{\"key\":", f);
        jstr(f, keys[k]);
        fputs(",\"series\":[", f);
        int first = 1;
        for (size_t i = 0; i < d->n; i++) {
            const rp_run *r = &d->runs[i];
            const rp_series *s = find_series(r, keys[k]);
            if (!s || !s->rows)
                continue;
            fprintf(f, "%s{\"run\":%zu,\"s\":[", first ? "" : ",", i);
            first = 0;
            for (size_t j = 0; j < s->n; j++)
                fprintf(f, j ? ",%lld" : "%lld", (long long)s->step[j]);
            fputs("],\"t\":[", f);
            for (size_t j = 0; j < s->n; j++) {
                double t = s->time[j] - (isnan(r->started) ? s->time[0] : r->started);
                if (j)
                    fputc(',', f);
                fprintf(f, "%.6g", isfinite(t) ? t : 0.0);
            }
            fputs("],\"y\":[", f);
            for (size_t j = 0; j < s->n; j++) {
                if (j)
                    fputc(',', f);
                jnum(f, s->y[j]);
            }
            fputs("]}", f);
        }
        fputs("]}", f);
    }
    fputs("]}</script>\n<script>", f);
    fputs((const char *)rp_res_js_viewer, f);
    fputs("</script>\n</body>\n</html>\n", f);
    free(keys);
    free(pkeys);
    free(skeys);
    free(numeric);
    return ferror(f) ? -1 : 0;
}
