/*
 * tests/report/test_report_m4.c - property test of the report's streaming
 * downsampler (tools/report/report_m4.c): on random series with NaN and
 * +-Inf pushed one point at a time, the intervals are consecutive runs of
 * `width` points covering the series; every interval keeps its first and
 * last point, its smallest and largest finite value and the first of each
 * non-finite kind it holds; the held intervals never exceed the cap
 * whatever the length; and the smoothed values at each interval's end are
 * the EMA with debiasing computed here independently (pow, not a running
 * product) on every point.
 */
#include <math.h>
#include <stdlib.h>

#include "report_m4.h"
#include "testutil.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double rand_value(void)
{
    switch (next() % 20) {
    case 0:
        return NAN;
    case 1:
        return INFINITY;
    case 2:
        return -INFINITY;
    case 3: /* a spike */
        return (next() % 2 ? 1 : -1) * 1e6 * (double)(next() % 1000);
    default:
        return (double)(int64_t)(next() % 2001 - 1000) / 7.0;
    }
}

/* Interval i of m holds points [i * width, ...): check what it kept. */
static void check_interval(const rp_m4s *m, size_t i, const double *y, size_t n, int trial)
{
    size_t lo = i * m->width, hi = lo + m->width < n ? lo + m->width : n;
    rp_pt p[RP_N_PICKS];
    size_t k = rp_m4s_picks(m, i, p);
    ck_assert_uint_ge(k, 1);
    for (size_t j = 1; j < k; j++)
        ck_assert_int_lt(p[j - 1].step, p[j].step);
    ck_assert_int_eq(p[0].step, (int64_t)lo);
    ck_assert_int_eq(p[k - 1].step, (int64_t)hi - 1);
    ck_assert_uint_eq(m->iv[i].count, hi - lo);
    double mn = NAN, mx = NAN;
    size_t first[3] = {hi, hi, hi}; /* NaN, +Inf, -Inf */
    for (size_t x = lo; x < hi; x++) {
        int kind = isnan(y[x]) ? 0 : y[x] == INFINITY ? 1 : y[x] == -INFINITY ? 2 : -1;
        if (kind >= 0) {
            if (first[kind] == hi)
                first[kind] = x;
            continue;
        }
        if (isnan(mn) || y[x] < mn)
            mn = y[x];
        if (isnan(mx) || y[x] > mx)
            mx = y[x];
    }
    int got_mn = isnan(mn), got_mx = isnan(mx),
        got[3] = {first[0] == hi, first[1] == hi, first[2] == hi};
    for (size_t j = 0; j < k; j++) {
        ck_assert(p[j].y == y[p[j].step] || (isnan(p[j].y) && isnan(y[p[j].step])));
        got_mn |= p[j].y == mn;
        got_mx |= p[j].y == mx;
        for (int kind = 0; kind < 3; kind++)
            got[kind] |= (size_t)p[j].step == first[kind];
    }
    ck_assert_msg(got_mn && got_mx, "trial %d interval %zu lost its min or max", trial, i);
    ck_assert_msg(got[0] && got[1] && got[2], "trial %d interval %zu lost a non-finite value",
                  trial, i);
}

START_TEST(test_extremes_survive)
{
    for (int trial = 0; trial < 120; trial++) {
        size_t n = 1 + (size_t)(next() % 20000);
        size_t cap = 2 + (size_t)(next() % 300), buckets = 1 + (size_t)(next() % 300);
        double *y = malloc(n * sizeof *y);
        int flat = next() % 5 == 0; /* runs of one value: ties */
        rp_m4s m;
        rp_m4s_init(&m, cap);
        for (size_t i = 0; i < n; i++) {
            y[i] = flat ? (double)(next() % 3) : rand_value();
            ck_assert_int_eq(rp_m4s_push(&m, (int64_t)i, 0.5 * (double)i, y[i]), 0);
            ck_assert_uint_le(m.n, cap);
        }
        rp_m4s_reduce(&m, buckets);
        ck_assert_uint_le(m.n, buckets < cap ? buckets : cap);
        ck_assert_uint_eq(m.n, (n + m.width - 1) / m.width);
        if (n <= cap)
            ck_assert(m.width == 1 || m.n > buckets / 2);
        for (size_t i = 0; i < m.n; i++)
            check_interval(&m, i, y, n, trial);
        rp_m4s_free(&m);
        free(y);
    }
}
END_TEST

/* The smoothed values at the end of every interval, at every level, are
 * the debiased EMA of all the finite points before, NaN before the first. */
START_TEST(test_smoothing_full_resolution)
{
    size_t n = 50000;
    double *y = malloc(n * sizeof *y);
    rp_m4s m;
    rp_m4s_init(&m, 64);
    for (size_t i = 0; i < n; i++) {
        y[i] = i < 3 ? NAN : i % 97 == 0 ? INFINITY : sin((double)i * 0.01) + rand_value() * 1e-3;
        if (isinf(y[i]) || fabs(y[i]) > 10)
            y[i] = i % 2 ? INFINITY : NAN;
        ck_assert_int_eq(rp_m4s_push(&m, (int64_t)i, (double)i, y[i]), 0);
    }
    ck_assert_uint_gt(m.width, 1);
    for (int l = 0; l < RP_N_LEVELS; l++) {
        double w = rp_levels[l], num = 0;
        size_t k = 0, iv = 0;
        for (size_t i = 0; i < n; i++) {
            if (isfinite(y[i])) {
                k++;
                num = w * num + (1 - w) * y[i];
            }
            if (i + 1 == n || (i + 1) % m.width == 0) {
                double want = k ? num / (1 - pow(w, (double)k)) : NAN;
                double got = m.iv[iv++].sm[l];
                if (isnan(want))
                    ck_assert(isnan(got));
                else
                    ck_assert_msg(fabs(got - want) <= 1e-12 * (1 + fabs(want)),
                                  "level %g, point %zu: %.17g, want %.17g", w, i, got, want);
            }
        }
        ck_assert_uint_eq(iv, m.n);
    }
    rp_m4s_free(&m);
    free(y);
}
END_TEST

/* The memory held is bounded by the cap, not by the series' length. */
START_TEST(test_size_bounded)
{
    rp_m4s m;
    rp_m4s_init(&m, 100);
    for (size_t i = 0; i < 2000000; i++)
        ck_assert_int_eq(rp_m4s_push(&m, (int64_t)i, 0, rand_value()), 0);
    ck_assert_uint_le(m.cap, 100);
    ck_assert_uint_ge(m.n, 50);
    ck_assert_uint_eq(m.points, 2000000);
    rp_m4s_free(&m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("report-m4");
    TCase *tc = tcase_create("m4");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_extremes_survive);
    tcase_add_test(tc, test_smoothing_full_resolution);
    tcase_add_test(tc, test_size_bounded);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
