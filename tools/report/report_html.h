/*
 * tools/report/report_html.h - the HTML page of `tropt report`: one
 * self-contained file (inline style, script and SVG; a Content-Security-
 * Policy forbids every external load and allows only the page's own script
 * and style, by their SHA-256).  Charts first, grouped by the first `/`
 * segment of their metric and sorted naturally, the runs table below.
 * Every string from the store is escaped (report_esc.h).  The same data
 * gives the same bytes.
 */
#ifndef TROPT_REPORT_HTML_H
#define TROPT_REPORT_HTML_H

#include <stdio.h>

#include "report_data.h"

/* At most this many metrics get a chart (the rest are in the tables). */
#define RP_MAX_CHARTS 200
/* Above this many metrics the runs table leaves their last/min/max to a
 * table of its own (one row per metric and run). */
#define RP_MAX_METRIC_COLUMNS 12

typedef struct {
    double watch; /* seconds between reloads while a shown run is running; 0: none */
} rp_page_opts;

/* Write the page for d to f.  Returns 0, or -1 when a write or an
 * allocation failed (errno set).  Allocates nothing that outlives the call. */
int rp_write_html(FILE *f, const rp_data *d, const rp_page_opts *o);

#endif
