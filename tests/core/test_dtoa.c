/* tests/core/test_dtoa.c - the shortest round-trip text of a double (the
 * host service format_real): the Schubfach fast path must agree with the
 * exact slow path digit for digit, every output must read back to the same
 * bits, and none may be longer than the shortest %.Ng that round-trips. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/internal.h"
#include "testutil.h"

static uint64_t state = 0x9E3779B97F4A7C15u;
static uint64_t next(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

static double pick(long i)
{
    uint64_t b = next();
    double x;
    switch (i % 4) {
    case 0: /* any bit pattern: every exponent, subnormals */
        memcpy(&x, &b, sizeof x);
        return x;
    case 1: /* short decimals, the values people type */
        return (double)(b % 1000000) / pow(10, (double)(next() % 12));
    case 2: /* subnormals */
        b &= (UINT64_C(1) << 52) - 1;
        memcpy(&x, &b, sizeof x);
        return x;
    default: /* [0, 1) with full precision, like losses */
        return (double)(b >> 11) / 9007199254740992.0;
    }
}

static size_t shortest_g(double x)
{
    char t[64];
    for (int p = 1; p <= 17; p++) {
        snprintf(t, sizeof t, "%.*g", p, x);
        if (strtod(t, NULL) == x)
            return strlen(t);
    }
    return strlen(t);
}

START_TEST(fixed_cases)
{
    static const struct {
        double x;
        const char *s;
    } cases[] = {
        {0.0, "0"},
        {-0.0, "-0"},
        {0.1, "0.1"},
        {1.0 / 3, "0.3333333333333333"},
        {100, "100"},
        {1e20, "1e+20"},
        {1e-5, "1e-05"},
        {0.000123, "0.000123"},
        {5e-324, "5e-324"},
        {DBL_MAX, "1.7976931348623157e+308"},
        {DBL_MIN, "2.2250738585072014e-308"},
        {-1.5, "-1.5"},
        {123456789012345680.0, "123456789012345680"},
        {9007199254740993.0, "9007199254740992"},
        {9007199254740991.0, "9007199254740991"},
        {1e15, "1e+15"},
        {123456, "123456"},
        {1e16, "1e+16"},
        {0.25, "0.25"},
        {5e-5, "5e-05"},
        {0.0001, "1e-04"},
        {0.001, "0.001"},
        {1.7640000123456789e9, "1764000012.3456788"},
        {0x1p-1017, "7.120236347223045e-307"}, /* nearest 16 digits miss, next fits */
        {0x1p-140, "7.174648137343064e-43"},
        {0x1p-1074 * 2, "1e-323"},
        {0x1p-1074 * 10, "5e-323"}, /* one digit, where Schubfach would say 4.9e-323 */
        {0x1p-1074 * 20, "1e-322"},
        {0x1p-1074 * 31, "1.53e-322"},
        {0x1p-1074 * 32, "1.6e-322"},
        {0x1p-1022 - 0x1p-1074, "2.225073858507201e-308"},
        {NAN, "nan"},
        {INFINITY, "inf"},
        {-INFINITY, "-inf"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char b[64];
        size_t n = tropt__format_real(b, sizeof b, cases[i].x);
        ck_assert_str_eq(b, cases[i].s);
        ck_assert_uint_eq(n, strlen(cases[i].s));
    }
    /* truncation keeps the NUL and reports the full length */
    char small[4];
    ck_assert_uint_eq(tropt__format_real(small, sizeof small, 0.3333), 6);
    ck_assert_str_eq(small, "0.3");
}
END_TEST

START_TEST(fast_and_slow_agree_and_round_trip)
{
    long n = 400000, checked = 0;
    for (long i = 0; i < n; i++) {
        double x = pick(i);
        if (!isfinite(x))
            continue;
        char fast[64], slow[64];
        tropt__format_real_path(fast, sizeof fast, x, 0);
        tropt__format_real_path(slow, sizeof slow, x, 1);
        ck_assert_msg(strcmp(fast, slow) == 0, "%a: fast %s, slow %s", x, fast, slow);
        double back = strtod(fast, NULL);
        ck_assert_msg(memcmp(&back, &x, sizeof x) == 0, "%a: %s reads back as %a", x, fast, back);
        if (i % 10 == 0)
            ck_assert_msg(strlen(fast) <= shortest_g(x), "%a: %s is longer than %%g's %zu", x, fast,
                          shortest_g(x));
        checked++;
    }
    ck_assert_int_gt(checked, n * 9 / 10);
}
END_TEST

/* check one double: fast == slow, round trip, no longer than %g's */
static void check_one(double x)
{
    char fast[64], slow[64];
    tropt__format_real_path(fast, sizeof fast, x, 0);
    tropt__format_real_path(slow, sizeof slow, x, 1);
    ck_assert_msg(strcmp(fast, slow) == 0, "%a: fast %s, slow %s", x, fast, slow);
    double back = strtod(fast, NULL);
    ck_assert_msg(memcmp(&back, &x, sizeof x) == 0, "%a: %s reads back as %a", x, fast, back);
    ck_assert_msg(strlen(fast) <= shortest_g(x), "%a: %s is longer than %%g's %zu", x, fast,
                  shortest_g(x));
}

/* The edges of the algorithm: every power of two (the rounding interval is
 * narrower below it) and its neighbours, the smallest subnormals (where one
 * digit may be the shortest), integers around 2^53 and the exponent form's
 * switch-over points. */
START_TEST(edges)
{
    for (uint64_t e = 0; e < 2047; e++) {
        for (int d = -2; d <= 2; d++) {
            uint64_t b = (e << 52) + (uint64_t)(int64_t)d;
            if ((e == 0 && d <= 0) || (b >> 52) >= 2047)
                continue;
            double x;
            memcpy(&x, &b, sizeof x);
            check_one(x);
        }
    }
    for (uint64_t t = 1; t < 4096; t++) {
        double x;
        memcpy(&x, &t, sizeof x);
        check_one(x);
    }
    for (int64_t i = -1000; i <= 1000; i++) {
        check_one(9007199254740992.0 + (double)i);
        check_one(ldexp(1.0, 52) + (double)i);
    }
    for (int p = -330; p <= 310; p++) {
        for (int m = 1; m < 1000; m += 37) {
            char s[32];
            snprintf(s, sizeof s, "%de%d", m, p);
            double x = strtod(s, NULL);
            if (x > 0 && isfinite(x))
                check_one(x);
        }
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dtoa");
    TCase *tc = tcase_create("dtoa");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, fixed_cases);
    tcase_add_test(tc, edges);
    tcase_add_test(tc, fast_and_slow_agree_and_round_trip);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
