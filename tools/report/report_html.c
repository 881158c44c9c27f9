/* tools/report/report_html.c - write the page of `tropt report`, one
 * section per function (see report_html.h). */
#include "report_html.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report_esc.h"
#include "report_json.h"
#include "report_keys.h"
#include "report_res.h"
#include "report_svg.h"

typedef struct {
    FILE *f;
    const rp_data *d;
    const rp_page_opts *o;
    rp_keys m, p, s; /* metric, config and summary keys */
    size_t n_num, n_charts, n_diff;
    int wide;    /* metric statistics as columns of the runs table */
    int running; /* some run is still running */
} page;

/* ---- head ---- */

static void write_head(page *pg)
{
    FILE *f = pg->f;
    fprintf(f,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            "script-src 'sha256-%s' 'sha256-%s'; style-src 'sha256-%s'; img-src data:; "
            "base-uri 'none'; form-action 'none'\">\n",
            rp_res_js_csp_sha256, rp_res_js_viewer_sha256, rp_res_css_report_sha256);
    if (pg->running && pg->o->watch > 0)
        fprintf(f, "<noscript><meta http-equiv=\"refresh\" content=\"%.0f\"></noscript>\n",
                ceil(pg->o->watch));
    fputs("<meta name=\"viewport\" content=\"width=device-width\">\n"
          "<title>tropt report</title>\n<style>",
          f);
    fputs((const char *)rp_res_css_report, f);
    fputs("</style>\n<script>", f);
    fputs((const char *)rp_res_js_csp, f);
    fputs("</script>\n</head>\n", f);
}

/* ---- the top: summary, status counters, controls ---- */

static void write_intro(page *pg)
{
    FILE *f = pg->f;
    size_t nr = pg->d->n, nk = pg->m.n;
    fprintf(f,
            "<body>\n<header>\n<h1>tropt report</h1>\n<p>%zu run%s, %zu metric%s (%zu "
            "numeric). Long series keep each interval's first, last, min, max and non-finite "
            "values; the band shows each interval's min and max.%s</p>\n",
            nr, nr == 1 ? "" : "s", nk, nk == 1 ? "" : "s", pg->n_num,
            pg->running && pg->o->watch > 0 ? " Runs are still running: this page reloads." : "");
    fprintf(f,
            "<div id=\"status\" data-errors=\"0\" data-csp-violations=\"0\" "
            "data-rendered=\"0\" data-watch=\"%g\"></div>\n</header>\n",
            pg->running ? pg->o->watch : 0.0);
}

static void write_controls(page *pg)
{
    FILE *f = pg->f;
    fputs("<div id=\"controls\" class=\"controls\" hidden>\n"
          "<label>x axis <select id=\"xmode\"><option value=\"step\">step</option>"
          "<option value=\"wall\">wall time</option><option value=\"rel\">relative time</option>"
          "</select></label>\n<label>smoothing <input type=\"range\" id=\"smooth\" "
          "name=\"smooth\" min=\"0\" max=\"0.999\" step=\"0.001\" value=\"0.6\" "
          "list=\"smooth-levels\"><output id=\"smooth-value\">0.6</output></label>\n"
          "<datalist id=\"smooth-levels\"><option value=\"0\">",
          f);
    for (int l = 0; l < RP_N_LEVELS; l++)
        fprintf(f, "<option value=\"%g\">", rp_levels[l]);
    fputs("</datalist>\n<label>runs <input type=\"text\" id=\"filter\" "
          "placeholder=\"regex over run names\" spellcheck=\"false\"></label>\n"
          "<label><input type=\"checkbox\" id=\"syncx\"> sync x</label>\n"
          "<label>group by <select id=\"groupby\"><option value=\"\">(none)</option>",
          f);
    for (size_t k = 0; k < pg->p.n; k++)
        if (pg->p.diff[k]) {
            fputs("<option>", f);
            rp_esc(f, pg->p.key[k]);
            fputs("</option>", f);
        }
    fputs("</select></label>\n<button type=\"button\" id=\"reset\">reset zoom</button>\n"
          "<span class=\"hint\">drag to zoom, double-click to reset</span>\n</div>\n"
          "<div id=\"legend\" class=\"legend\"></div>\n",
          f);
}

/* ---- charts ---- */

/* "NaN: 3 (first at step 17)" style notes for one run's series. */
static void write_nf_note(FILE *f, const rp_run *r, const rp_series *s)
{
    const struct {
        size_t n;
        double first;
        const char *name;
    } k[3] = {{s->nan, s->first_nan, "NaN"},
              {s->pinf, s->first_pinf, "+Inf"},
              {s->ninf, s->first_ninf, "-Inf"}};
    if (!(s->nan || s->pinf || s->ninf))
        return;
    fputs("<p class=\"nf\">", f);
    rp_esc(f, r->name);
    fputs(": ", f);
    for (int i = 0, any = 0; i < 3; i++) {
        if (!k[i].n)
            continue;
        fprintf(f, "%s%zu %s (first %s at step %.0f)", any ? ", " : "", k[i].n, k[i].name,
                k[i].name, k[i].first);
        any = 1;
    }
    fputs("</p>", f);
}

static void write_chart(page *pg, const char *key)
{
    FILE *f = pg->f;
    fputs("<div class=\"chart\" data-metric=\"", f);
    rp_esc(f, key);
    fputs("\"><h3>", f);
    rp_esc(f, key);
    fputs("</h3>", f);
    for (size_t i = 0; i < pg->d->n; i++) {
        const rp_series *s = rp_find_series(&pg->d->runs[i], key);
        if (s)
            write_nf_note(f, &pg->d->runs[i], s);
    }
    fputs("<noscript>", f);
    rp_svg_chart(f, pg->d, key);
    fputs("</noscript><div class=\"plot\"></div></div>\n", f);
}

static void write_group_open(page *pg, const char *key, size_t glen, size_t count)
{
    FILE *f = pg->f;
    fputs("<details class=\"group\" open data-group=\"", f);
    char *g = strndup(key, glen);
    rp_esc(f, g);
    fputs("\"><summary>", f);
    if (glen)
        rp_esc(f, g);
    else
        fputs("<i>ungrouped</i>", f);
    fprintf(f, " <span class=\"count\">(%zu)</span></summary>\n", count);
    free(g);
}

/* The end of key k's group: the first key after it of another group. */
static size_t group_end(const rp_keys *m, size_t k)
{
    size_t glen = rp_group_len(m->key[k]), j = k + 1;
    while (j < m->n && rp_group_len(m->key[j]) == glen && strncmp(m->key[j], m->key[k], glen) == 0)
        j++;
    return j;
}

/* One group's charts, keys [k, end); returns how many were charted. */
static size_t write_group(page *pg, size_t k, size_t end, size_t room)
{
    size_t n = 0;
    for (size_t j = k; j < end && n < room; j++)
        n += pg->m.numeric[j] ? 1 : 0;
    if (n == 0)
        return 0;
    write_group_open(pg, pg->m.key[k], rp_group_len(pg->m.key[k]), n);
    for (size_t j = k, c = 0; j < end && c < n; j++)
        if (pg->m.numeric[j]) {
            write_chart(pg, pg->m.key[j]);
            c++;
        }
    fputs("</details>\n", pg->f);
    return n;
}

static void write_charts(page *pg)
{
    FILE *f = pg->f;
    fputs("<main id=\"charts\">\n", f);
    if (pg->n_num == 0)
        fputs("<p class=\"empty\">No numeric metric to chart.</p>\n", f);
    else
        fputs("<p class=\"markers\">Markers: <span class=\"nf\">&#9679;</span> NaN (above the "
              "plot), &#9650; +Inf, &#9660; -Inf; in log scale, values &le; 0 are grey "
              "squares.</p>\n",
              f);
    size_t charted = 0;
    for (size_t k = 0; k < pg->m.n && charted < pg->n_charts;) {
        size_t end = group_end(&pg->m, k);
        charted += write_group(pg, k, end, pg->n_charts - charted);
        k = end;
    }
    if (pg->n_num > pg->n_charts)
        fprintf(f, "<p>%zu more numeric metrics are not charted (they are in the tables).</p>\n",
                pg->n_num - pg->n_charts);
    fputs("</main>\n", f);
}

/* ---- the runs table ---- */

static void write_swatch(FILE *f, size_t i)
{
    fprintf(f,
            "<svg class=\"sw\" width=\"22\" height=\"8\"><line x1=\"0\" y1=\"4\" x2=\"22\" "
            "y2=\"4\" stroke=\"%s\" stroke-width=\"2.5\" stroke-dasharray=\"%s\"/></svg>",
            rp_colours[i % RP_N_COLOURS], rp_dashes[i / RP_N_COLOURS % RP_N_DASHES]);
}

static void write_runs_head(page *pg)
{
    FILE *f = pg->f;
    fputs("<thead><tr><th>run</th><th>experiment</th><th>status</th><th>tags</th>"
          "<th>start</th><th>duration</th><th>steps</th>",
          f);
    for (size_t k = 0; k < pg->p.n; k++)
        if (pg->p.diff[k]) {
            fputs("<th class=\"cfg\">", f);
            rp_esc(f, pg->p.key[k]);
            fputs("</th>", f);
        }
    for (size_t k = 0; pg->wide && k < pg->m.n; k++) {
        fputs("<th colspan=\"3\">", f);
        rp_esc(f, pg->m.key[k]);
        fputs(pg->m.numeric[k] ? " (last / min / max)</th>" : " (last, text)</th>", f);
    }
    fputs("</tr></thead>\n", f);
}

static void write_stat_cells(FILE *f, const rp_series *s)
{
    char b[48];
    if (!s) {
        fputs("<td></td><td></td><td></td>", f);
        return;
    }
    if (!s->rows) {
        fputs("<td class=\"text\">", f);
        rp_esc(f, s->last_text);
        fputs("</td><td></td><td></td>", f);
        return;
    }
    const double v[3] = {s->last, s->min, s->max};
    for (int i = 0; i < 3; i++) {
        rp_fmt(b, sizeof b, v[i], 6);
        fprintf(f, "<td class=\"num%s\">%s</td>", isnan(v[i]) ? " nf" : "", b);
    }
}

static void write_run_cells(page *pg, size_t i)
{
    FILE *f = pg->f;
    const rp_run *r = &pg->d->runs[i];
    int crashed = strcmp(r->status, "crashed") == 0, running = strcmp(r->status, "running") == 0;
    char t[96], dur[96];
    fputs("<td class=\"name\" title=\"", f);
    rp_esc(f, r->id);
    fputs("\">", f);
    write_swatch(f, i);
    fputs("<code>", f);
    rp_esc(f, r->name);
    fputs("</code></td><td>", f);
    rp_esc(f, r->experiment);
    fprintf(f, "</td><td class=\"status\">%s", crashed ? "&#9888; " : "");
    rp_esc(f, r->status);
    fputs("</td><td class=\"tags\">", f);
    for (size_t k = 0; k < r->n_tags; k++) {
        fputs("<span class=\"tag\">", f);
        rp_esc(f, r->tags[k]);
        fputs("</span> ", f);
    }
    rp_fmt_time(t, sizeof t, r->started);
    if (isnan(r->ended) && running)
        snprintf(dur, sizeof dur, "running");
    else
        rp_fmt_dur(dur, sizeof dur, r->ended - r->started);
    fprintf(f, "</td><td>%s</td><td>%s</td><td class=\"num\">%zu</td>", t, dur, r->steps);
}

static void write_run_row(page *pg, size_t i)
{
    FILE *f = pg->f;
    const rp_run *r = &pg->d->runs[i];
    fprintf(f, "<tr data-run=\"%zu\"%s>", i,
            strcmp(r->status, "crashed") == 0 ? " class=\"crashed\"" : "");
    write_run_cells(pg, i);
    for (size_t k = 0; k < pg->p.n; k++)
        if (pg->p.diff[k]) {
            const rp_kv *kv = rp_find_kv(r->params, r->n_params, pg->p.key[k]);
            fputs("<td class=\"cfg\">", f);
            rp_esc(f, kv ? kv->value : NULL);
            fputs("</td>", f);
        }
    for (size_t k = 0; pg->wide && k < pg->m.n; k++)
        write_stat_cells(f, rp_find_series(r, pg->m.key[k]));
    fputs("</tr>\n", f);
}

static void write_runs(page *pg)
{
    FILE *f = pg->f;
    fputs("<section id=\"runs-section\">\n<h2>Runs</h2>\n", f);
    if (pg->n_diff)
        fputs("<p>Config columns: the keys that differ between the runs (all keys under "
              "<a href=\"#config\">Config</a>).</p>\n",
              f);
    fputs("<div class=\"scroll\"><table id=\"runs\">\n", f);
    write_runs_head(pg);
    fputs("<tbody>\n", f);
    for (size_t i = 0; i < pg->d->n; i++)
        write_run_row(pg, i);
    fputs("</tbody>\n</table></div>\n</section>\n", f);
}

/* Many metrics: their statistics in a table of their own. */
static void write_metrics(page *pg)
{
    FILE *f = pg->f;
    if (pg->wide || !pg->m.n)
        return;
    fputs("<section>\n<h2>Metrics</h2>\n<div class=\"scroll\"><table id=\"metrics\">\n"
          "<thead><tr><th>metric</th><th>run</th><th>last</th><th>min</th><th>max</th></tr>"
          "</thead>\n<tbody>\n",
          f);
    for (size_t k = 0; k < pg->m.n; k++)
        for (size_t i = 0; i < pg->d->n; i++) {
            const rp_series *s = rp_find_series(&pg->d->runs[i], pg->m.key[k]);
            if (!s)
                continue;
            fputs("<tr><td>", f);
            rp_esc(f, pg->m.key[k]);
            fputs("</td><td>", f);
            rp_esc(f, pg->d->runs[i].name);
            fputs("</td>", f);
            write_stat_cells(f, s);
            fputs("</tr>\n", f);
        }
    fputs("</tbody>\n</table></div>\n</section>\n", f);
}

/* ---- config and summaries: one column per run ---- */

static void write_kv_head(page *pg)
{
    FILE *f = pg->f;
    fputs("<thead><tr><th>key</th>", f);
    for (size_t i = 0; i < pg->d->n; i++) {
        fputs("<th>", f);
        rp_esc(f, pg->d->runs[i].name);
        fputs("</th>", f);
    }
    fputs("</tr></thead>\n<tbody>\n", f);
}

static void write_kv_row(page *pg, const char *key, int diff, int summary)
{
    FILE *f = pg->f;
    fprintf(f, "<tr%s><th>", diff ? " class=\"diff\"" : "");
    rp_esc(f, key);
    fputs("</th>", f);
    for (size_t i = 0; i < pg->d->n; i++) {
        const rp_run *r = &pg->d->runs[i];
        const rp_kv *o = summary ? rp_find_kv(r->summary, r->n_summary, key)
                                 : rp_find_kv(r->params, r->n_params, key);
        fputs("<td>", f);
        rp_esc(f, o ? o->value : NULL);
        fputs("</td>", f);
    }
    fputs("</tr>\n", f);
}

static void write_config(page *pg)
{
    FILE *f = pg->f;
    fputs("<section>\n<h2 id=\"config\">Config</h2>\n", f);
    if (!pg->p.n) {
        fputs("<p class=\"empty\">No config.</p>\n</section>\n", f);
        return;
    }
    fprintf(f,
            "<details%s><summary>All %zu config keys (rows in yellow differ between the "
            "runs)</summary>\n<div class=\"scroll\"><table id=\"config-table\">\n",
            pg->n_diff ? "" : " open", pg->p.n);
    write_kv_head(pg);
    for (size_t k = 0; k < pg->p.n; k++)
        write_kv_row(pg, pg->p.key[k], pg->p.diff[k], 0);
    fputs("</tbody>\n</table></div>\n</details>\n</section>\n", f);
}

static void write_summaries(page *pg)
{
    FILE *f = pg->f;
    fputs("<section>\n<h2>Summaries</h2>\n", f);
    if (!pg->s.n) {
        fputs("<p class=\"empty\">No summary.</p>\n</section>\n", f);
        return;
    }
    fputs("<div class=\"scroll\"><table id=\"summary\">\n", f);
    write_kv_head(pg);
    for (size_t k = 0; k < pg->s.n; k++)
        write_kv_row(pg, pg->s.key[k], 0, 1);
    fputs("</tbody>\n</table></div>\n</section>\n", f);
}

/* ---- the data and the script that draws it ---- */

static void write_data(page *pg)
{
    FILE *f = pg->f;
    fputs("<script type=\"application/json\" id=\"tropt-data\">", f);
    rp_json_data(f, pg->d, &pg->m, pg->n_charts, &pg->p, pg->running ? pg->o->watch : 0);
    fputs("</script>\n<script>", f);
    fputs((const char *)rp_res_js_viewer, f);
    fputs("</script>\n</body>\n</html>\n", f);
}

/* ---- the page ---- */

static int page_init(page *pg, FILE *f, const rp_data *d, const rp_page_opts *o)
{
    memset(pg, 0, sizeof *pg);
    pg->f = f;
    pg->d = d;
    pg->o = o;
    if (rp_keys_get(d, 0, &pg->m) || rp_keys_get(d, 1, &pg->p) || rp_keys_get(d, 2, &pg->s))
        return -1;
    for (size_t k = 0; k < pg->m.n; k++)
        pg->n_num += pg->m.numeric[k] ? 1 : 0;
    for (size_t k = 0; k < pg->p.n; k++)
        pg->n_diff += pg->p.diff[k] ? 1 : 0;
    for (size_t i = 0; i < d->n; i++)
        pg->running |= strcmp(d->runs[i].status, "running") == 0;
    pg->n_charts = pg->n_num < RP_MAX_CHARTS ? pg->n_num : RP_MAX_CHARTS;
    pg->wide = pg->m.n <= RP_MAX_METRIC_COLUMNS;
    return 0;
}

static void page_free(page *pg)
{
    rp_keys_free(&pg->m);
    rp_keys_free(&pg->p);
    rp_keys_free(&pg->s);
}

int rp_write_html(FILE *f, const rp_data *d, const rp_page_opts *o)
{
    page pg;
    if (page_init(&pg, f, d, o)) {
        page_free(&pg);
        return -1;
    }
    write_head(&pg);
    write_intro(&pg);
    write_controls(&pg);
    write_charts(&pg);
    write_runs(&pg);
    write_metrics(&pg);
    write_config(&pg);
    write_summaries(&pg);
    write_data(&pg);
    page_free(&pg);
    return ferror(f) ? -1 : 0;
}
