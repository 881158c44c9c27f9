/*
 * tests/report/test_report_m4.c - property test of the report's M4
 * downsampling (tools/report_m4.c): on random series with NaN and +-Inf,
 * every interval keeps its first and last point, its smallest and largest
 * finite value and the first of each non-finite kind it holds; the output
 * is ascending, unique, within 7 points per interval, and keeps everything
 * when the series is short.
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

static int kept(const size_t *out, size_t k, size_t idx)
{
    size_t lo = 0, hi = k;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (out[mid] == idx)
            return 1;
        if (out[mid] < idx)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

START_TEST(test_extremes_survive)
{
    for (int trial = 0; trial < 400; trial++) {
        size_t n = (size_t)(next() % 20000);
        size_t buckets = 1 + (size_t)(next() % 300);
        double *y = malloc((n ? n : 1) * sizeof *y);
        int flat = next() % 5 == 0; /* runs of one value: ties */
        for (size_t i = 0; i < n; i++)
            y[i] = flat ? (double)(next() % 3) : rand_value();
        size_t room = rp_m4_room(n, buckets);
        ck_assert_uint_le(room, n);
        size_t *out = malloc((room ? room : 1) * sizeof *out);
        size_t k = rp_m4(y, n, buckets, out);
        ck_assert_uint_le(k, room);
        for (size_t i = 1; i < k; i++)
            ck_assert_uint_lt(out[i - 1], out[i]);
        if (n <= 4 * buckets) {
            ck_assert_uint_eq(k, n);
        } else {
            ck_assert_uint_le(k, 7 * buckets);
            size_t covered = 0;
            for (size_t b = 0; b < buckets; b++) {
                size_t lo, hi;
                rp_m4_interval(n, buckets, b, &lo, &hi);
                ck_assert_uint_eq(lo, covered);
                covered = hi;
                if (lo == hi)
                    continue;
                ck_assert(kept(out, k, lo));
                ck_assert(kept(out, k, hi - 1));
                double mn = NAN, mx = NAN;
                int has_nan = 0, has_pinf = 0, has_ninf = 0;
                for (size_t i = lo; i < hi; i++) {
                    if (isnan(y[i]))
                        has_nan = 1;
                    else if (isinf(y[i]))
                        *(y[i] > 0 ? &has_pinf : &has_ninf) = 1;
                    else {
                        if (isnan(mn) || y[i] < mn)
                            mn = y[i];
                        if (isnan(mx) || y[i] > mx)
                            mx = y[i];
                    }
                }
                /* The kept points of this interval hold its extremes and
                 * every non-finite kind it has. */
                int got_mn = isnan(mn), got_mx = isnan(mx);
                int got_nan = !has_nan, got_pinf = !has_pinf, got_ninf = !has_ninf;
                for (size_t j = 0; j < k; j++) {
                    if (out[j] < lo || out[j] >= hi)
                        continue;
                    double v = y[out[j]];
                    got_mn |= v == mn;
                    got_mx |= v == mx;
                    got_nan |= isnan(v);
                    got_pinf |= v == INFINITY;
                    got_ninf |= v == -INFINITY;
                }
                ck_assert_msg(got_mn && got_mx, "trial %d interval %zu lost its min or max", trial,
                              b);
                ck_assert_msg(got_nan && got_pinf && got_ninf,
                              "trial %d interval %zu lost a non-finite value", trial, b);
            }
            ck_assert_uint_eq(covered, n);
        }
        free(out);
        free(y);
    }
}
END_TEST

/* The kept count is bounded by the intervals, not by the series' length. */
START_TEST(test_size_bounded)
{
    size_t n = 2000000, buckets = 100;
    double *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++)
        y[i] = rand_value();
    size_t *out = malloc(rp_m4_room(n, buckets) * sizeof *out);
    size_t k = rp_m4(y, n, buckets, out);
    ck_assert_uint_le(k, 700);
    ck_assert_uint_ge(k, 200);
    free(out);
    free(y);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("report-m4");
    TCase *tc = tcase_create("m4");
    tcase_add_test(tc, test_extremes_survive);
    tcase_add_test(tc, test_size_bounded);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
