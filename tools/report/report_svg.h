/*
 * tools/report/report_svg.h - the charts a browser without JavaScript
 * shows: one static SVG per metric (x = step, linear y, round ticks), put
 * inside <noscript> so that the interactive page does not pay for it.
 */
#ifndef TROPT_REPORT_SVG_H
#define TROPT_REPORT_SVG_H

#include <stdio.h>

#include "report_data.h"

/* The line colours and dash patterns of run i (shared with the page's
 * script through the data block): colour i % N, dash (i / N) % M. */
#define RP_N_COLOURS 10
#define RP_N_DASHES 4
extern const char *const rp_colours[RP_N_COLOURS];
extern const char *const rp_dashes[RP_N_DASHES];

/* Round tick values over [lo, hi]: a step of 1, 2 or 5 x 10^k giving about
 * `want` ticks; writes the first tick and the step.  Returns the count. */
int rp_ticks(double lo, double hi, int want, double *first, double *step);

/* A tick value as its label: SI suffix (k, M, G, T) from 10^4 up, else as
 * many decimals as the step needs. */
void rp_tick_label(char *buf, size_t size, double v, double step);

/* Write the static chart of metric `key` over the runs of d. */
void rp_svg_chart(FILE *f, const rp_data *d, const char *key);

#endif
