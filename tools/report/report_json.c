/* tools/report/report_json.c - the page's data block (see report_json.h). */
#include "report_json.h"

#include <math.h>
#include <string.h>

#include "report_esc.h"
#include "report_keys.h"
#include "report_pack.h"
#include "report_svg.h"

static void strings(FILE *f, const char *const *s, size_t n)
{
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputc(',', f);
        rp_jstr(f, s[i]);
    }
    fputc(']', f);
}

static void run_cfg(FILE *f, const rp_run *r, const rp_keys *config)
{
    fputs(",\"cfg\":{", f);
    int first = 1;
    for (size_t k = 0; k < config->n; k++) {
        const rp_kv *kv =
            config->diff[k] ? rp_find_kv(r->params, r->n_params, config->key[k]) : NULL;
        if (!kv)
            continue;
        if (!first)
            fputc(',', f);
        first = 0;
        rp_jstr(f, kv->key);
        fputc(':', f);
        rp_jstr(f, kv->value);
    }
    fputc('}', f);
}

static void run_obj(FILE *f, const rp_run *r, const rp_keys *config)
{
    fputs("{\"id\":", f);
    rp_jstr(f, r->id);
    fputs(",\"name\":", f);
    rp_jstr(f, r->name);
    fputs(",\"experiment\":", f);
    rp_jstr(f, r->experiment);
    fputs(",\"status\":", f);
    rp_jstr(f, r->status);
    fputs(",\"start\":", f);
    rp_jnum(f, r->started, 17);
    fputs(",\"end\":", f);
    rp_jnum(f, r->ended, 17);
    fputs(",\"tags\":", f);
    strings(f, (const char *const *)r->tags, r->n_tags);
    run_cfg(f, r, config);
    fputc('}', f);
}

static void arr(FILE *f, const double *v, size_t n, int digits)
{
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputc(',', f);
        rp_jnum(f, v[i], digits);
    }
    fputc(']', f);
}

/* Seconds since the run's start (its first point's time when the start is
 * unknown), 0 where the time is not a number; binary32. */
static void rel_times(FILE *f, const rp_run *r, const rp_series *s)
{
    double t0 = isfinite(r->started) ? r->started : s->n ? s->time[0] : 0;
    rp_b64 e = {.f = f};
    fputs(",\"t\":\"", f);
    for (size_t j = 0; j < s->n; j++) {
        double t = s->time[j] - t0;
        rp_b64_float(&e, isfinite(t) ? t : 0.0, 0);
    }
    rp_b64_end(&e);
    fputc('"', f);
}

/* Each interval's count of kept points (1 to RP_N_PICKS, one digit each)
 * and its smoothed values, level after level. */
static void intervals(FILE *f, const rp_series *s)
{
    fputs(",\"c\":\"", f);
    for (size_t i = 0; i < s->n_iv; i++)
        fputc('0' + (int)(s->iv_last[i] - (i ? s->iv_last[i - 1] : (size_t)-1)), f);
    fputs("\",\"m\":\"", f);
    rp_pack_floats(f, s->sm, s->n_iv * RP_N_LEVELS, 0);
    fputc('"', f);
}

static void series_obj(FILE *f, const rp_run *r, size_t run, const rp_series *s)
{
    fprintf(f, "{\"run\":%zu,\"n\":%zu,\"w\":%zu,\"s\":\"", run, s->rows, s->width);
    rp_pack_deltas(f, s->step, s->n);
    fputc('"', f);
    rel_times(f, r, s);
    fputs(",\"y\":\"", f);
    rp_pack_floats(f, s->y, s->n, s->width == 1);
    fputc('"', f);
    if (s->width > 1)
        intervals(f, s);
    fputc('}', f);
}

static void metric_obj(FILE *f, const rp_data *d, const char *key)
{
    fputs("{\"key\":", f);
    rp_jstr(f, key);
    fputs(",\"group\":", f);
    rp_jstr_n(f, key, rp_group_len(key));
    if (rp_is_system(key))
        fputs(",\"x\":\"wall\"", f);
    fputs(",\"series\":[", f);
    int first = 1;
    for (size_t i = 0; i < d->n; i++) {
        const rp_series *s = rp_find_series(&d->runs[i], key);
        if (!s || !s->rows)
            continue;
        if (!first)
            fputc(',', f);
        first = 0;
        series_obj(f, &d->runs[i], i, s);
    }
    fputs("]}", f);
}

void rp_json_data(FILE *f, const rp_data *d, const rp_keys *metrics, size_t n_charts,
                  const rp_keys *config, double watch)
{
    fputs("{\"version\":2,\"levels\":", f);
    arr(f, rp_levels, RP_N_LEVELS, 17);
    fputs(",\"palette\":", f);
    strings(f, rp_colours, RP_N_COLOURS);
    fputs(",\"dashes\":", f);
    strings(f, rp_dashes, RP_N_DASHES);
    fprintf(f, ",\"watch\":%g,\n\"runs\":[", watch);
    for (size_t i = 0; i < d->n; i++) {
        fputs(i ? ",\n" : "\n", f);
        run_obj(f, &d->runs[i], config);
    }
    fputs("],\n\"configKeys\":[", f);
    int first = 1;
    for (size_t k = 0; k < config->n; k++)
        if (config->diff[k]) {
            fputs(first ? "" : ",", f);
            first = 0;
            rp_jstr(f, config->key[k]);
        }
    fputs("],\n\"metrics\":[", f);
    for (size_t k = 0, c = 0; k < metrics->n && c < n_charts; k++) {
        if (!metrics->numeric[k])
            continue;
        fputs(c++ ? ",\n" : "\n", f);
        metric_obj(f, d, metrics->key[k]);
    }
    fputs("]}", f);
}
