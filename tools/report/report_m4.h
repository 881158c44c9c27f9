/*
 * tools/report/report_m4.h - M4 downsampling for `tropt report`: a series of n
 * points is cut into `buckets` intervals of consecutive points; each
 * interval keeps its first and last point, the points holding its smallest
 * and largest finite value, and the first NaN, +Inf and -Inf it holds.
 * So no spike and no non-finite value disappears, and the output has at
 * most 7 points per interval whatever n is.
 */
#ifndef TROPT_REPORT_M4_H
#define TROPT_REPORT_M4_H

#include <stddef.h>

/* The bounds [*lo, *hi) of interval i (0 <= i < buckets) of n points.
 * Intervals are consecutive, cover [0, n) and differ in size by at most 1. */
void rp_m4_interval(size_t n, size_t buckets, size_t i, size_t *lo, size_t *hi);

/* Downsample y[0..n): writes the kept indices, ascending and unique, to
 * out (the caller gives room for at most 7 * buckets, or n if smaller)
 * and returns their count.  buckets == 0 or n <= 4 * buckets keeps every
 * point.  Never fails, allocates nothing. */
size_t rp_m4(const double *y, size_t n, size_t buckets, size_t *out);

/* The room rp_m4 needs for out: min(n, 7 * buckets), or n when it keeps all. */
size_t rp_m4_room(size_t n, size_t buckets);

#endif
