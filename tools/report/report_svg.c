/* tools/report/report_svg.c - static charts for a page read without
 * JavaScript (see report_svg.h). */
#include "report_svg.h"

#include <math.h>
#include <string.h>

#include "report_esc.h"
#include "report_keys.h"

const char *const rp_colours[RP_N_COLOURS] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                              "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                              "#bcbd22", "#17becf"};
const char *const rp_dashes[RP_N_DASHES] = {"", "6 3", "2 2", "8 3 2 3"};

enum { W = 560, H = 240, L = 64, R = 24, T = 12, B = 34 };

int rp_ticks(double lo, double hi, int want, double *first, double *step)
{
    double span = hi - lo;
    if (!(span > 0) || !isfinite(span)) {
        *first = lo;
        *step = 1;
        return 1;
    }
    double raw = span / (want > 0 ? want : 1), p = pow(10, floor(log10(raw))), m = raw / p;
    *step = (m >= 7.07 ? 10 : m >= 3.16 ? 5 : m >= 1.41 ? 2 : 1) * p;
    double i0 = ceil(lo / *step - 1e-9), i1 = floor(hi / *step + 1e-9);
    *first = i0 * *step;
    return (int)(i1 - i0) + 1;
}

void rp_tick_label(char *buf, size_t size, double v, double step)
{
    static const char *const si[] = {"", "k", "M", "G", "T"};
    int e = 0;
    while (e < 4 && fabs(v) >= 1e4 * pow(1e3, e) && step >= pow(1e3, e + 1))
        e++;
    double u = v / pow(1e3, e), us = step / pow(1e3, e);
    if (fabs(u) < us / 2)
        u = 0; /* no "-0" */
    if (us < 1e-4)
        snprintf(buf, size, "%.3g", u);
    else {
        int dec = us >= 1 ? 0 : (int)ceil(-log10(us) - 1e-9);
        snprintf(buf, size, "%.*f%s", dec, u, si[e]);
    }
}

typedef struct {
    double x0, x1, y0, y1;
} box;

static void extend(box *b, double x, double y)
{
    if (!isfinite(y))
        return;
    b->x0 = fmin(b->x0, x);
    b->x1 = fmax(b->x1, x);
    b->y0 = fmin(b->y0, y);
    b->y1 = fmax(b->y1, y);
}

static box bounds(const rp_data *d, const char *key)
{
    box b = {INFINITY, -INFINITY, INFINITY, -INFINITY};
    for (size_t i = 0; i < d->n; i++) {
        const rp_series *s = rp_find_series(&d->runs[i], key);
        for (size_t j = 0; s && j < s->n; j++)
            extend(&b, (double)s->step[j], s->y[j]);
    }
    if (!(b.x1 >= b.x0))
        b = (box){0, 1, 0, 1};
    if (b.x1 == b.x0)
        b.x1 = b.x0 + 1;
    if (b.y1 == b.y0) {
        b.y0 -= 1;
        b.y1 += 1;
    }
    return b;
}

static double px(const box *b, double x)
{
    return L + (x - b->x0) / (b->x1 - b->x0) * (W - L - R);
}

static double py(const box *b, double y)
{
    return T + (b->y1 - y) / (b->y1 - b->y0) * (H - T - B);
}

static void axis(FILE *f, const box *b, int vertical)
{
    double first, step;
    double lo = vertical ? b->y0 : b->x0, hi = vertical ? b->y1 : b->x1;
    int n = rp_ticks(lo, hi, vertical ? 5 : 6, &first, &step);
    for (int i = 0; i < n; i++) {
        char lab[48];
        double v = first + i * step;
        rp_tick_label(lab, sizeof lab, v, step);
        if (vertical)
            fprintf(f,
                    "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>"
                    "<text class=\"tick tick-y\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>",
                    L, W - R, py(b, v), py(b, v), L - 4, py(b, v) + 3, lab);
        else
            fprintf(f,
                    "<text class=\"tick tick-x\" x=\"%.1f\" y=\"%d\" "
                    "text-anchor=\"middle\">%s</text>",
                    px(b, v), H - B + 14, lab);
    }
}

static void line(FILE *f, const box *b, const rp_series *s, size_t run)
{
    fprintf(f, "<path class=\"series\" fill=\"none\" stroke=\"%s\" stroke-dasharray=\"%s\" d=\"",
            rp_colours[run % RP_N_COLOURS], rp_dashes[run / RP_N_COLOURS % RP_N_DASHES]);
    int pen = 0;
    long lx = 0, ly = 0;
    /* a downsampled series: its interval ends are enough for a still picture */
    size_t n = s->width > 1 ? s->n_iv : s->n;
    for (size_t i = 0; i < n; i++) {
        size_t j = s->width > 1 ? s->iv_last[i] : i;
        if (!isfinite(s->y[j])) {
            pen = 0;
            continue;
        }
        /* whole pixels, a point only where the line moves */
        long x = lround(px(b, (double)s->step[j])), y = lround(py(b, s->y[j]));
        if (!pen || x != lx || y != ly)
            fprintf(f, "%c%ld %ld", pen ? 'L' : 'M', x, y);
        pen = 1;
        lx = x;
        ly = y;
    }
    fputs("\"/>", f);
}

void rp_svg_chart(FILE *f, const rp_data *d, const char *key)
{
    box b = bounds(d, key);
    fprintf(f, "<svg class=\"static\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">", W, H, W,
            H);
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#bbb\"/>",
            L, T, W - L - R, H - T - B);
    axis(f, &b, 1);
    axis(f, &b, 0);
    fprintf(f, "<text class=\"axis-title\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">step</text>",
            L + (W - L - R) / 2, H - 4);
    for (size_t i = 0; i < d->n; i++) {
        const rp_series *s = rp_find_series(&d->runs[i], key);
        if (s && s->rows)
            line(f, &b, s, i);
    }
    fputs("</svg>", f);
}
