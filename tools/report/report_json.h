/*
 * tools/report/report_json.h - the page's data block: what its script
 * draws, as JSON inside <script type="application/json" id="tropt-data">.
 *
 *   version 1; levels: the smoothing weights of report_m4.h; palette,
 *   dashes: run i's colour and dash pattern; watch: seconds between
 *   reloads (0: none);
 *   runs[i]: id, name, experiment, status, start, end (Unix seconds, end
 *     null while running), tags, cfg (the config keys that differ);
 *   configKeys: the config keys that differ, in order;
 *   metrics[k]: key, group (first `/` segment, "" for none), x (optional,
 *     reserved: the x axis the metric is drawn against whatever the page's
 *     choice, "wall" for the system samples to come), series[]:
 *     run (index), n (numeric rows), w (points per interval),
 *     s, t, y: the kept points (step, seconds since the run's start,
 *       value: null for NaN, "inf", "-inf"), every point when w is 1, then
 *       with y exact (shortest round-trip) so the page smooths them itself;
 *     when w > 1: e (index in s of each interval's last point), lo, hi
 *       (the interval's smallest and largest finite value), sm[l][i] (the
 *       value smoothed at levels[l] at interval i's end).
 */
#ifndef TROPT_REPORT_JSON_H
#define TROPT_REPORT_JSON_H

#include <stdio.h>

#include "report_data.h"
#include "report_keys.h"

/* Write the data block's JSON (no element tags) for the given chart keys
 * (numeric metrics, in chart order, at most n_charts) and config keys. */
void rp_json_data(FILE *f, const rp_data *d, const rp_keys *metrics, size_t n_charts,
                  const rp_keys *config, double watch);

#endif
