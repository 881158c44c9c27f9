/*
 * tools/cmd_report.c - `tropt report`: one self-contained HTML file of runs.
 *
 * The page needs nothing but itself: the style and the script that draws the
 * charts (inline SVG, no library) are in the file, the data is a JSON block,
 * and a Content-Security-Policy forbids every load from elsewhere, so the
 * browser itself enforces that the page works offline.  The same database
 * gives the same bytes (no generation time; everything in a stable order,
 * times printed in UTC), so reports can be compared and golden-tested.  The
 * file is written to a temporary name beside it and renamed, so a failed run
 * never leaves a broken report.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "report.h"

#define REPORT_USAGE "report [--db PATH] [--experiment NAME] [--run ID]... [-o FILE] [--buckets N]"
#define DEFAULT_DB "tropt.db"
#define DEFAULT_OUT "tropt-report.html"
/* Metrics shown (charted and tabled); the rest are named in a note. */
#define MAX_SECTIONS 200

/* ---- Escaping --------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, min = 0x10000;
    else
        return 0;
    unsigned cp = c & (0x3F >> (n - 1));
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* Text for an HTML element or attribute: markup characters as entities,
 * control characters and invalid UTF-8 as U+FFFD. */
static void put_html(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = utf8_len(p);
        if (n == 0 || (*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7F) {
            fputs("\xEF\xBF\xBD", f);
            p += n ? n : 1;
            continue;
        }
        switch (*p) {
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
            fwrite(p, 1, n, f);
        }
        p += n;
    }
}

/* A JSON string safe inside a <script> block: <, >, & and the line
 * separators escaped, invalid UTF-8 as U+FFFD. */
static void put_jstr(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', f);
    while (*p) {
        size_t n = utf8_len(p);
        if (n == 0) {
            fputs("\\ufffd", f);
            p++;
            continue;
        }
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p == '<' || *p == '>' || *p == '&' || *p == 0x7F)
            fprintf(f, "\\u%04x", *p);
        else if (n == 3 && p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9))
            fprintf(f, "\\u%04x", p[2] == 0xA8 ? 0x2028 : 0x2029);
        else
            fwrite(p, 1, n, f);
        p += n;
    }
    fputc('"', f);
}

static void utc_iso(double t, char *buf, size_t size)
{
    time_t sec = (time_t)floor(t);
    struct tm tm;
    if (!isfinite(t) || !gmtime_r(&sec, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
        snprintf(buf, size, "-");
}

static void duration(double s, char *buf, size_t size)
{
    if (!isfinite(s) || s < 0)
        snprintf(buf, size, "-");
    else if (s < 60)
        snprintf(buf, size, "%.1fs", s);
    else if (s < 3600)
        snprintf(buf, size, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else
        snprintf(buf, size, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}

static int id_chars = 8; /* set from the loaded runs before writing */

static void short_id(const char *id, char *buf, size_t size)
{
    snprintf(buf, size, "%.*s", id_chars, id);
}

/* ---- The page ------------------------------------------------------------ */

static const char PAGE_HEAD[] =
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
    "script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";

static const char PAGE_STYLE[] =
    "<style>\n"
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fff}\n"
    "h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}"
    "h3{font-size:1em;margin:1.2em 0 .3em;font-family:monospace}\n"
    "table{border-collapse:collapse;margin:.3em 0}td,th{padding:2px 8px;border-bottom:1px solid "
    "#eee;text-align:left;vertical-align:top}th{background:#f6f6f6}\n"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}\n"
    ".crashed{color:#b00;font-weight:bold}.diff{background:#fff3b0}.bad{color:#b00}\n"
    ".sw{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}\n"
    "svg.chart{border:1px solid #ddd;background:#fff}svg text{font:11px sans-serif}\n"
    "#tip{position:fixed;pointer-events:none;background:#fffffa;border:1px solid #999;"
    "padding:3px 6px;font:12px monospace;display:none;white-space:pre}\n"
    ".controls label{margin-right:1em}.note{color:#666}\n"
    "</style>\n";

/* The chart drawer: reads the JSON block, draws one SVG per metric (one path
 * per run, non-finite values as markers), and wires the controls. */
static const char *const PAGE_SCRIPT[] = {
    "<script>\n",
    "(function(){'use strict';\n",
    "var errs=0,csp=0;window.addEventListener('error',function(){errs++;document.body."
    "setAttribute('data-errors',String(errs));});\n",
    "document.addEventListener('securitypolicyviolation',function(){csp++;document.body."
    "setAttribute('data-csp-violations',String(csp));});\n",
    "var D=JSON.parse(document.getElementById('tropt-data').textContent);\n",
    "var C=['#1f77b4','#ff7f0e','#2ca02c','#d62728','#9467bd','#8c564b','#e377c2','#7f7f7f',"
    "'#bcbd22','#17becf'];\n",
    "var NS='http://www.w3.org/2000/svg',W=720,H=240,L=64,R=12,T=18,B=28;\n",
    "var hidden={},xmode='step',logy=false,tip=document.getElementById('tip');\n",
    "function col(i){return C[i%C.length];}\n",
    "function el(n,a,p){var e=document.createElementNS(NS,n);for(var k in a)e.setAttribute(k,a[k]);"
    "if(p)p.appendChild(e);return e;}\n",
    "function fmt(v){if(v===0)return '0';var a=Math.abs(v);return "
    "(a>=1e5||a<1e-3)?v.toExponential(3)"
    ":String(+v.toPrecision(5));}\n",
    "function xs(s){return xmode==='step'?s.s:s.t;}\n",
    "function stepx(s,st){if(xmode==='step')return st;var a=s.s,lo=0,hi=a.length-1;if(hi<0)return "
    "null;while(lo<hi){var m=(lo+hi)>>1;if(a[m]<st)lo=m+1;else hi=m;}return s.t[lo];}\n",
    "function draw(m,box){box.textContent='';var svg=el('svg',{'class':'chart',width:W,height:H,"
    "'data-metric':m.key,viewBox:'0 0 '+W+' '+H},box);\n",
    "var x0=Infinity,x1=-Infinity,y0=Infinity,y1=-Infinity;\n",
    "m.series.forEach(function(s){if(hidden[s.run])return;var x=xs(s);for(var i=0;i<x.length;i++){"
    "var y=s.y[i];if(logy&&!(y>0))continue;if(x[i]<x0)x0=x[i];if(x[i]>x1)x1=x[i];if(y<y0)y0=y;"
    "if(y>y1)y1=y;}});\n",
    "if(!(x1>=x0)){x0=0;x1=1;}if(!(y1>=y0)){y0=0;y1=1;}if(x1===x0){x0-=0.5;x1+=0.5;}\n",
    "var ly=function(v){return logy?Math.log10(v):v;};var a0=ly(y0),a1=ly(y1);if(a1===a0){a0-=0.5;"
    "a1+=0.5;}\n",
    "var px=function(v){return L+(v-x0)/(x1-x0)*(W-L-R);},py=function(v){return "
    "T+(1-(ly(v)-a0)/(a1-a0))*(H-T-B);};\n",
    "el('rect',{x:L,y:T,width:W-L-R,height:H-T-B,fill:'none',stroke:'#ccc'},svg);\n",
    "for(var g=0;g<=4;g++){var v=a0+(a1-a0)*g/4,yy=T+(1-g/4)*(H-T-B);el('line',{x1:L,x2:W-R,y1:yy,"
    "y2:yy,stroke:'#f0f0f0'},svg);var t=el('text',{x:L-4,y:yy+4,'text-anchor':'end'},svg);"
    "t.textContent=fmt(logy?Math.pow(10,v):v);\n",
    "var xv=x0+(x1-x0)*g/4,tx=el('text',{x:L+g/4*(W-L-R),y:H-10,'text-anchor':'middle'},svg);"
    "tx.textContent=fmt(xv);}\n",
    "var xl=el('text',{x:W-R,y:H-1,'text-anchor':'end'},svg);xl.textContent=xmode==='step'?'step':"
    "'seconds since run start';\n",
    "m.series.forEach(function(s){if(hidden[s.run])return;var x=xs(s),d='',pen=false;\n",
    "for(var i=0;i<x.length;i++){var y=s.y[i];if(logy&&!(y>0)){pen=false;continue;}"
    "d+=(pen?'L':'M')+px(x[i]).toFixed(1)+' '+py(y).toFixed(1);pen=true;}\n",
    "el('path',{'class':'series','data-run':D.runs[s.run].id,d:d,fill:'none',stroke:col(s.run),"
    "'stroke-width':1.5},svg);\n",
    "if(x.length===1)el('circle',{cx:px(x[0]),cy:py(s.y[0]),r:3,fill:col(s.run)},svg);\n",
    "[['nan',T-8,'NaN'],['pinf',T-2,'+Inf'],['ninf',H-B+8,'-Inf']].forEach(function(k){"
    "(s[k[0]]||[]).forEach(function(st){var xv=stepx(s,st);if(xv===null||xv===undefined)xv=st;"
    "var c=el('path',{'class':'marker marker-'+k[0],d:'M'+(px(xv)-4)+' '+(k[1]-3)+'l4 7l4 -7z',"
    "fill:k[0]==='nan'?'#d00':'#a0a',stroke:col(s.run)},svg);var ti=el('title',{},c);"
    "ti.textContent=k[2]+' in '+D.runs[s.run].id.slice(0,8)+' at step '+st;});});});\n",
    "svg.addEventListener('mousemove',function(ev){var r=svg.getBoundingClientRect(),"
    "mx=(ev.clientX-r.left)*W/r.width,xv=x0+(mx-L)/(W-L-R)*(x1-x0),out=m.key;\n",
    "m.series.forEach(function(s){if(hidden[s.run])return;var x=xs(s),lo=0,hi=x.length-1;if(hi<0)"
    "return;while(lo<hi){var md=(lo+hi)>>1;if(x[md]<xv)lo=md+1;else hi=md;}if(lo>0&&"
    "Math.abs(x[lo-1]-xv)<Math.abs(x[lo]-xv))lo--;out+='\\n'+D.runs[s.run].id.slice(0,8)+' step '+"
    "s.s[lo]+': '+s.y[lo];});\n",
    "tip.textContent=out;tip.style.display='block';tip.style.left=(ev.clientX+14)+'px';"
    "tip.style.top=(ev.clientY+10)+'px';});\n",
    "svg.addEventListener('mouseleave',function(){tip.style.display='none';});}\n",
    "function "
    "all(){D.metrics.forEach(function(m,i){draw(m,document.getElementById('chart-'+i));});}\n",
    "document.querySelectorAll('input.run-toggle').forEach(function(c){c.addEventListener('change',"
    "function(){hidden[+c.getAttribute('data-index')]=!c.checked;all();});});\n",
    "document.getElementById('logy').addEventListener('change',function(e){logy=e.target.checked;"
    "all();});\n",
    "document.getElementById('xmode').addEventListener('change',function(e){xmode=e.target.value;"
    "all();});\n",
    "document.getElementById('onlydiff').addEventListener('change',function(e){document."
    "querySelectorAll('tr.same').forEach(function(r){r.style.display=e.target.checked?'none':'';});"
    "});\n",
    "all();document.body.setAttribute('data-charts-drawn',String(D.metrics.length));\n",
    "document.body.setAttribute('data-errors',String(errs));\n",
    "})();\n",
    "</script>\n",
    NULL};

/* Shown metrics: up to MAX_SECTIONS keys; charted when some run has a finite
 * or non-finite number for it. */
struct section {
    const char *key;
    int numeric;
};

static void put_stats_cell(FILE *f, const struct rp_metric *m, int which)
{
    char buf[40];
    fputs("<td class=\"num\">", f);
    if (!m) {
        fputs("-", f);
    } else if (which == 0) {
        put_html(f, m->last ? m->last : "-");
    } else if (!m->has_minmax) {
        fputs("-", f);
    } else {
        rp_fmt_real(buf, sizeof buf, which == 1 ? m->min : m->max);
        fputs(buf, f);
    }
    fputs("</td>", f);
}

static void put_nonfinite(FILE *f, const struct rp_metric *m)
{
    fputs("<td>", f);
    if (m) {
        const char *sep = "";
        if (m->n_nan) {
            fprintf(f, "<span class=\"bad\">%zu NaN, first NaN at step %lld</span>", m->n_nan,
                    (long long)m->first_nan);
            sep = "; ";
        }
        if (m->n_pinf) {
            fprintf(f, "%s<span class=\"bad\">%zu +Inf, first at step %lld</span>", sep, m->n_pinf,
                    (long long)m->first_pinf);
            sep = "; ";
        }
        if (m->n_ninf)
            fprintf(f, "%s<span class=\"bad\">%zu -Inf, first at step %lld</span>", sep, m->n_ninf,
                    (long long)m->first_ninf);
    }
    fputs("</td>", f);
}

static void put_run_cell(FILE *f, const struct rp_data *d, size_t i)
{
    char sid[64];
    short_id(d->runs[i].id, sid, sizeof sid);
    fprintf(f, "<td><span class=\"sw\" style=\"background:%s\"></span><span title=\"",
            (const char *[]){"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                             "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}[i % 10]);
    put_html(f, d->runs[i].id);
    fputs("\">", f);
    put_html(f, sid);
    fputs("</span></td>", f);
}

static void put_runs_table(FILE *f, const struct rp_data *d)
{
    fputs(
        "<h2>Runs</h2>\n<table id=\"runs\"><tr><th>show</th><th>experiment</th><th>run</th>"
        "<th>status</th><th>started (UTC)</th><th>duration</th><th>steps</th><th>host</th></tr>\n",
        f);
    for (size_t i = 0; i < d->n_runs; i++) {
        const struct rp_run *r = &d->runs[i];
        char buf[64];
        fprintf(f,
                "<tr><td><input type=\"checkbox\" class=\"run-toggle\" data-index=\"%zu\" "
                "checked></td><td>",
                i);
        put_html(f, r->experiment);
        fputs("</td>", f);
        put_run_cell(f, d, i);
        fprintf(f, "<td%s>", r->crashed ? " class=\"crashed\"" : "");
        put_html(f, r->crashed ? "crashed" : r->status);
        fputs("</td><td>", f);
        utc_iso(r->started_at, buf, sizeof buf);
        fputs(buf, f);
        fputs("</td><td class=\"num\">", f);
        duration(r->ended_at - r->started_at, buf, sizeof buf);
        fputs(buf, f);
        fprintf(f, "</td><td class=\"num\">%lld</td><td>", (long long)r->steps);
        put_html(f, r->host);
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

/* Rows of key -> value per run (config or summary); differing keys marked. */
static void put_kv_table(FILE *f, const struct rp_data *d, const char *title, int config)
{
    size_t total = 0;
    for (size_t i = 0; i < d->n_runs; i++)
        total += json_object_size(config ? d->runs[i].params : d->runs[i].summary);
    fprintf(f, "<h2>%s</h2>\n", title);
    if (!total) {
        fputs("<p class=\"note\">none logged</p>\n", f);
        return;
    }
    const char **keys = malloc(total * sizeof *keys);
    if (!keys)
        return;
    size_t n = 0;
    for (size_t i = 0; i < d->n_runs; i++) {
        const char *k;
        json_t *v;
        json_object_foreach(config ? d->runs[i].params : d->runs[i].summary, k, v) keys[n++] = k;
    }
    for (size_t i = 1; i < n; i++) /* insertion sort: small tables */
        for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
            const char *t = keys[j];
            keys[j] = keys[j - 1];
            keys[j - 1] = t;
        }
    if (config)
        fputs("<p class=\"controls\"><label><input type=\"checkbox\" id=\"onlydiff\"> only keys "
              "that differ</label> <span class=\"note\">(highlighted)</span></p>\n",
              f);
    fprintf(f, "<table id=\"%s\"><tr><th>key</th>", config ? "config" : "summary");
    for (size_t r = 0; r < d->n_runs; r++) {
        char sid[64];
        short_id(d->runs[r].id, sid, sizeof sid);
        fputs("<th>", f);
        put_html(f, sid);
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
    for (size_t i = 0; i < n; i++) {
        if (i && strcmp(keys[i], keys[i - 1]) == 0)
            continue;
        const char *first = NULL;
        int differ = 0;
        for (size_t r = 0; r < d->n_runs; r++) {
            const char *v = json_string_value(
                json_object_get(config ? d->runs[r].params : d->runs[r].summary, keys[i]));
            if (!v || (first && strcmp(first, v) != 0))
                differ = 1;
            if (v && !first)
                first = v;
        }
        differ = differ && d->n_runs > 1;
        fprintf(f, "<tr class=\"%s\"><td>", differ ? "diff" : "same");
        put_html(f, keys[i]);
        fputs("</td>", f);
        for (size_t r = 0; r < d->n_runs; r++) {
            const char *v = json_string_value(
                json_object_get(config ? d->runs[r].params : d->runs[r].summary, keys[i]));
            fputs("<td>", f);
            put_html(f, v ? v : "-");
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
    free(keys);
}

static void put_series_json(FILE *f, const struct rp_metric *m, size_t run)
{
    fprintf(f, "{\"run\":%zu,\"s\":[", run);
    for (size_t i = 0; i < m->n_pts; i++)
        fprintf(f, "%s%lld", i ? "," : "", (long long)m->step[i]);
    fputs("],\"t\":[", f);
    for (size_t i = 0; i < m->n_pts; i++)
        fprintf(f, "%s%.6g", i ? "," : "", m->time[i]);
    fputs("],\"y\":[", f);
    for (size_t i = 0; i < m->n_pts; i++)
        fprintf(f, "%s%.9g", i ? "," : "", m->y[i]);
    fputs("]", f);
    static const char *const names[3] = {"nan", "pinf", "ninf"};
    for (int k = 0; k < 3; k++) {
        if (!m->n_mark[k])
            continue;
        fprintf(f, ",\"%s\":[", names[k]);
        for (size_t i = 0; i < m->n_mark[k]; i++)
            fprintf(f, "%s%lld", i ? "," : "", (long long)m->mark[k][i]);
        fputs("]", f);
    }
    fputs("}", f);
}

static int write_page(FILE *f, const struct rp_data *d)
{
    size_t n_keys = 0;
    const char **keys = rp_metric_keys(d, &n_keys);
    if (n_keys && !keys)
        return -1;
    size_t n_sec = n_keys < MAX_SECTIONS ? n_keys : MAX_SECTIONS;
    struct section *sec = n_sec ? calloc(n_sec, sizeof *sec) : NULL;
    if (n_sec && !sec) {
        free(keys);
        return -1;
    }
    size_t n_charts = 0;
    for (size_t i = 0; i < n_sec; i++) {
        sec[i].key = keys[i];
        for (size_t r = 0; r < d->n_runs; r++) {
            const struct rp_metric *m = rp_find_metric(&d->runs[r], keys[i]);
            if (m && m->n_num)
                sec[i].numeric = 1;
        }
        n_charts += sec[i].numeric;
    }

    fputs(PAGE_HEAD, f);
    fputs("<title>tropt report: ", f);
    put_html(f, d->path);
    fputs("</title>\n", f);
    fputs(PAGE_STYLE, f);
    fputs("</head>\n<body data-csp-violations=\"0\">\n<h1>tropt report</h1>\n<p class=\"note\">",
          f);
    put_html(f, d->path);
    fprintf(f, " &middot; %zu run%s &middot; %zu metric%s</p>\n", d->n_runs,
            d->n_runs == 1 ? "" : "s", n_keys, n_keys == 1 ? "" : "s");
    if (!d->n_runs) {
        fputs("<p id=\"empty\">No runs to show.</p>\n</body>\n</html>\n", f);
        free(sec);
        free(keys);
        return 0;
    }
    put_runs_table(f, d);

    fputs("<h2>Metrics</h2>\n<p class=\"controls\"><label>x axis <select id=\"xmode\">"
          "<option value=\"step\">step</option><option value=\"time\">wall time</option>"
          "</select></label><label><input type=\"checkbox\" id=\"logy\"> log scale</label>"
          "<span class=\"note\">Charts keep each interval's first, last, min and max point; NaN "
          "and &plusmn;Inf are the triangles above and below the plot.</span></p>\n",
          f);
    if (!n_keys)
        fputs("<p class=\"note\">No metrics were logged.</p>\n", f);
    size_t chart = 0;
    for (size_t i = 0; i < n_sec; i++) {
        fputs("<section class=\"metric\"><h3>", f);
        put_html(f, sec[i].key);
        fputs("</h3>\n", f);
        if (sec[i].numeric)
            fprintf(f, "<div class=\"chart-box\" id=\"chart-%zu\"></div>\n", chart++);
        else
            fputs("<p class=\"note\">not numeric: no chart</p>\n", f);
        fputs("<table class=\"stats\"><tr><th>run</th><th>last</th><th>min</th><th>max</th>"
              "<th>NaN / Inf</th></tr>\n",
              f);
        for (size_t r = 0; r < d->n_runs; r++) {
            const struct rp_metric *m = rp_find_metric(&d->runs[r], sec[i].key);
            fputs("<tr>", f);
            put_run_cell(f, d, r);
            for (int w = 0; w < 3; w++)
                put_stats_cell(f, m, w);
            put_nonfinite(f, m);
            fputs("</tr>\n", f);
        }
        fputs("</table></section>\n", f);
    }
    if (n_keys > n_sec)
        fprintf(f,
                "<p class=\"note\" id=\"more\">%zu more metrics are not shown; "
                "<code>tropt compare</code> lists every one.</p>\n",
                n_keys - n_sec);

    put_kv_table(f, d, "Config", 1);
    put_kv_table(f, d, "Summary", 0);

    /* the data the script draws from */
    fputs("<div id=\"tip\"></div>\n<script type=\"application/json\" id=\"tropt-data\">\n"
          "{\"runs\":[",
          f);
    for (size_t r = 0; r < d->n_runs; r++) {
        fputs(r ? ",\n{\"id\":" : "\n{\"id\":", f);
        put_jstr(f, d->runs[r].id);
        fputs("}", f);
    }
    fputs("],\n\"metrics\":[", f);
    size_t emitted = 0;
    for (size_t i = 0; i < n_sec; i++) {
        if (!sec[i].numeric)
            continue;
        fputs(emitted++ ? ",\n{\"key\":" : "\n{\"key\":", f);
        put_jstr(f, sec[i].key);
        fputs(",\"series\":[", f);
        size_t s = 0;
        for (size_t r = 0; r < d->n_runs; r++) {
            const struct rp_metric *m = rp_find_metric(&d->runs[r], sec[i].key);
            if (!m || !m->n_num)
                continue;
            if (s++)
                fputs(",\n", f);
            put_series_json(f, m, r);
        }
        fputs("]}", f);
    }
    fputs("]}\n</script>\n", f);
    for (const char *const *p = PAGE_SCRIPT; *p; p++)
        fputs(*p, f);
    fputs("</body>\n</html>\n", f);
    free(sec);
    free(keys);
    return 0;
}

/* ---- The command ----------------------------------------------------------- */

int cmd_report(int argc, char **argv)
{
    const char *db = DEFAULT_DB, *out = DEFAULT_OUT, *experiment = NULL;
    const char **runs = calloc((size_t)argc + 1, sizeof *runs);
    size_t n_runs = 0, buckets = 0;
    if (!runs) {
        fputs("tropt: out of memory\n", stderr);
        return 1;
    }
    int ret = 0;
    for (int i = 1; i < argc && !ret; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            printf("usage: tropt %s\n", REPORT_USAGE);
            free(runs);
            return 0;
        } else if (strcmp(a, "--db") == 0 || strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0 ||
                   strcmp(a, "--experiment") == 0 || strcmp(a, "--run") == 0 ||
                   strcmp(a, "--buckets") == 0) {
            if (!v || !*v) {
                ret = cli_usage(REPORT_USAGE, "%s needs a value", a);
                break;
            }
            i++;
            if (strcmp(a, "--db") == 0)
                db = v;
            else if (strcmp(a, "--experiment") == 0)
                experiment = v;
            else if (strcmp(a, "--run") == 0)
                runs[n_runs++] = v;
            else if (strcmp(a, "--buckets") == 0) {
                char *end;
                errno = 0;
                long long b = strtoll(v, &end, 10);
                if (errno || *end || b < 1 || b > 100000)
                    ret = cli_usage(REPORT_USAGE, "--buckets needs a number from 1 to 100000");
                buckets = (size_t)b;
            } else
                out = v;
        } else {
            ret = cli_usage(REPORT_USAGE, "unexpected argument '%s'", a);
        }
    }
    if (ret) {
        free(runs);
        return ret;
    }
    struct rp_select sel = {
        .runs = n_runs ? runs : NULL, .experiment = experiment, .buckets = buckets, .series = 1};
    struct rp_data d;
    if (rp_load(db, &sel, &d) != 0) {
        free(runs);
        return 1;
    }
    free(runs);
    size_t len = strlen(out);
    char *tmp = malloc(len + 32);
    if (!tmp) {
        rp_data_free(&d);
        fputs("tropt: out of memory\n", stderr);
        return 1;
    }
    snprintf(tmp, len + 32, "%s.%ld.tmp", out, (long)getpid());
    FILE *f = fopen(tmp, "wx");
    if (!f) {
        fprintf(stderr, "tropt: cannot write %s: %s\n", tmp, strerror(errno));
        free(tmp);
        rp_data_free(&d);
        return 1;
    }
    id_chars = rp_id_chars(&d);
    int wrc = write_page(f, &d);
    int werr = ferror(f);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        werr = 1;
    int saved = errno;
    if (fclose(f) != 0)
        werr = 1;
    if (wrc != 0 || werr || rename(tmp, out) != 0) {
        fprintf(stderr, "tropt: cannot write %s: %s\n", out,
                wrc ? "out of memory" : strerror(werr ? saved : errno));
        unlink(tmp);
        free(tmp);
        rp_data_free(&d);
        return 1;
    }
    free(tmp);
    printf("wrote %s: %zu run%s\n", out, d.n_runs, d.n_runs == 1 ? "" : "s");
    rp_data_free(&d);
    return 0;
}
