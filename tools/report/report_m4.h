/*
 * tools/report/report_m4.h - the report's streaming downsampler and
 * smoother.  Points arrive one at a time in step order; they are cut into
 * intervals of `width` consecutive points (width a power of two, doubled by
 * merging neighbours whenever the intervals would exceed a cap), so the
 * memory used is bounded by the cap, never by the series' length.  Each
 * interval keeps (M4) its first and last point, the points holding its
 * smallest and largest finite value and the first NaN, +Inf and -Inf it
 * holds: no spike and no non-finite value disappears.
 *
 * Each interval also keeps, at its last point, the series smoothed at every
 * level of RP_LEVELS by an exponential moving average with debiasing, as
 * TensorBoard's scalar dashboard does, computed on every point (the full
 * resolution, before any downsampling).  For weight w, over the finite
 * values y_1..y_n seen so far:
 *
 *     m_0 = 0,  m_k = w * m_{k-1} + (1 - w) * y_k,  p_k = w^k (p_k = w * p_{k-1}),
 *     smoothed_n = m_n / (1 - p_n)
 *
 * A NaN or +-Inf point leaves the average unchanged (it is marked apart);
 * before the first finite value the smoothed value is NaN.  The page
 * (js/viewer.js) computes the same expression in the same order on series
 * it holds whole, so both give the same doubles.
 */
#ifndef TROPT_REPORT_M4_H
#define TROPT_REPORT_M4_H

#include <stddef.h>
#include <stdint.h>

/* The smoothing weights offered by the page's slider, besides 0 (none). */
#define RP_N_LEVELS 6
extern const double rp_levels[RP_N_LEVELS];

typedef struct {
    int64_t step;
    double time, y;
} rp_pt;

/* The kinds of kept point of an interval, in rp_iv.pt order. */
enum { RP_FIRST, RP_LAST, RP_MIN, RP_MAX, RP_NAN, RP_PINF, RP_NINF, RP_N_PICKS };

typedef struct {
    rp_pt pt[RP_N_PICKS];
    unsigned have;          /* bit k set: pt[k] holds a point */
    size_t count;           /* points in the interval */
    double sm[RP_N_LEVELS]; /* smoothed values at the last point */
} rp_iv;

typedef struct {
    rp_iv *iv;
    size_t n, cap; /* intervals held, room */
    size_t width;  /* points per interval (the last may hold fewer) */
    size_t max_iv; /* merge neighbours before exceeding this many */
    size_t points; /* points pushed */
    double m[RP_N_LEVELS], p[RP_N_LEVELS];
    size_t finite; /* finite values pushed */
} rp_m4s;

/* An empty downsampler holding at most max_iv (>= 2) intervals.  Allocates
 * nothing until the first push. */
void rp_m4s_init(rp_m4s *m, size_t max_iv);

/* Add the next point (steps ascending).  Returns 0, or -1 when out of
 * memory (m is unchanged and stays valid for rp_m4s_free). */
int rp_m4s_push(rp_m4s *m, int64_t step, double time, double y);

/* Merge neighbouring intervals until at most max_iv (>= 1) remain.  Never
 * fails, allocates nothing. */
void rp_m4s_reduce(rp_m4s *m, size_t max_iv);

/* The kept points of interval i, ascending by step and unique, into out
 * (room for RP_N_PICKS); returns their count. */
size_t rp_m4s_picks(const rp_m4s *m, size_t i, rp_pt *out);

/* Release what m holds; m is then empty (NULL-safe on the arrays). */
void rp_m4s_free(rp_m4s *m);

#endif
