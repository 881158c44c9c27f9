/* core/dtoa.c - the shortest decimal text that reads back (strtod) to the
 * same double, as a host service for every backend that writes reals as
 * text (csv, jsonl, http, print).
 *
 * Fast path: Grisu3 (F. Loitsch, "Printing Floating-Point Numbers Quickly
 * and Accurately with Integers", PLDI 2010) with cached powers of ten from
 * core/gen/powers.py.  Grisu3 either proves its digits are the shortest
 * that round-trip and the closest to the value, or gives up (about 0.5% of
 * doubles, typically values whose shortest form sits on the rounding
 * boundary).  Then the exact slow path decides: a double survives a round
 * trip through 17 significant digits and every decimal of at most 15 digits
 * survives the reverse trip (DBL_DIG), so the shortest form is the first of
 * 15, 16, 17 correctly rounded digits that strtod maps back to the same
 * bits (trailing zeros dropped); subnormals, which carry fewer bits, search
 * from one digit up.  Both paths yield the same digits; the
 * test suite checks that they agree on millions of doubles.
 *
 * Text form: the digits in plain notation when that is not longer than
 * the exponent form, else d.ddde[+-]XX as printf's %g writes it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#include "dtoa_powers.h"

typedef struct {
    uint64_t f;
    int e;
} diyfp;

__extension__ typedef unsigned __int128 u128;

static diyfp mul(diyfp a, diyfp b)
{
    u128 p = (u128)a.f * b.f;
    uint64_t hi = (uint64_t)(p >> 64);
    uint64_t lo = (uint64_t)p;
    hi += lo >> 63; /* round half up */
    return (diyfp){hi, a.e + b.e + 64};
}

static diyfp normalize(diyfp x)
{
    int s = __builtin_clzll(x.f);
    return (diyfp){x.f << s, x.e - s};
}

static int round_weed(char *buf, int len, uint64_t dist_too_high_w, uint64_t unsafe, uint64_t rest,
                      uint64_t ten_kappa, uint64_t unit)
{
    uint64_t small = dist_too_high_w - unit;
    uint64_t big = dist_too_high_w + unit;
    while (rest < small && unsafe - rest >= ten_kappa &&
           (rest + ten_kappa < small || small - rest >= rest + ten_kappa - small)) {
        buf[len - 1]--;
        rest += ten_kappa;
    }
    if (rest < big && unsafe - rest >= ten_kappa &&
        (rest + ten_kappa < big || big - rest > rest + ten_kappa - big))
        return 0;
    return 2 * unit <= rest && rest <= unsafe - 4 * unit;
}

static const uint32_t pow10_32[] = {1,      10,      100,      1000,      10000,
                                    100000, 1000000, 10000000, 100000000, 1000000000};

/* Digits of the shortest decimal in (low, high) closest to w, into buf;
 * *kappa receives the exponent adjustment.  0 when not provably right. */
static int digit_gen(diyfp low, diyfp w, diyfp high, char *buf, int *len, int *kappa)
{
    uint64_t unit = 1;
    diyfp too_low = {low.f - unit, low.e};
    diyfp too_high = {high.f + unit, high.e};
    uint64_t unsafe = too_high.f - too_low.f;
    int shift = -w.e;
    uint64_t one = (uint64_t)1 << shift;
    uint32_t integrals = (uint32_t)(too_high.f >> shift);
    uint64_t fractionals = too_high.f & (one - 1);
    int k = 9;
    while (k > 0 && pow10_32[k] > integrals)
        k--;
    /* integrals has k+1 digits (or is 0 with k = 0) */
    uint32_t divisor = pow10_32[k];
    *kappa = integrals ? k + 1 : 0;
    if (!integrals)
        divisor = 0;
    *len = 0;
    while (*kappa > 0) {
        uint32_t digit = integrals / divisor;
        buf[(*len)++] = (char)('0' + digit);
        integrals %= divisor;
        (*kappa)--;
        uint64_t rest = ((uint64_t)integrals << shift) + fractionals;
        if (rest < unsafe)
            return round_weed(buf, *len, too_high.f - w.f, unsafe, rest, (uint64_t)divisor << shift,
                              unit);
        divisor /= 10;
    }
    for (;;) {
        fractionals *= 10;
        unit *= 10;
        unsafe *= 10;
        uint32_t digit = (uint32_t)(fractionals >> shift);
        buf[(*len)++] = (char)('0' + digit);
        fractionals &= one - 1;
        (*kappa)--;
        if (fractionals < unsafe)
            return round_weed(buf, *len, (too_high.f - w.f) * unit, unsafe, fractionals, one, unit);
        if (*len >= 18)
            return 0;
    }
}

/* Grisu3 on a positive finite double: digits into buf (no leading zeros)
 * and *dexp so that the value is DIGITS * 10^dexp.  0 when it gives up. */
static int grisu3(double v, char *buf, int *len, int *dexp)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    uint64_t frac = bits & ((UINT64_C(1) << 52) - 1);
    int bexp = (int)((bits >> 52) & 0x7ff);
    diyfp w;
    int lower_closer;
    if (bexp == 0) { /* subnormal */
        w = (diyfp){frac, 1 - 1075};
        lower_closer = 0;
    } else {
        w = (diyfp){frac | (UINT64_C(1) << 52), bexp - 1075};
        lower_closer = frac == 0 && bexp > 1;
    }
    diyfp plus = normalize((diyfp){(w.f << 1) + 1, w.e - 1});
    diyfp minus = lower_closer ? (diyfp){(w.f << 2) - 1, w.e - 2} : (diyfp){(w.f << 1) - 1, w.e - 1};
    minus.f <<= minus.e - plus.e;
    minus.e = plus.e;
    w = normalize(w);

    /* a cached power c = 10^i with -60 <= w.e + c.e + 64 <= -32 */
    int lo = -60 - (w.e + 64), hi = -32 - (w.e + 64);
    int i = (int)ceil((lo + 63) * 0.30102999566398114);
    if (i < TROPT__POW10_MIN)
        i = TROPT__POW10_MIN;
    while (i <= TROPT__POW10_MAX && tropt__pow10[i - TROPT__POW10_MIN].e < lo)
        i++;
    while (i > TROPT__POW10_MIN && tropt__pow10[i - TROPT__POW10_MIN].e > hi)
        i--;
    if (i < TROPT__POW10_MIN || i > TROPT__POW10_MAX || tropt__pow10[i - TROPT__POW10_MIN].e < lo ||
        tropt__pow10[i - TROPT__POW10_MIN].e > hi)
        return 0;
    diyfp c = {tropt__pow10[i - TROPT__POW10_MIN].f, tropt__pow10[i - TROPT__POW10_MIN].e};

    int kappa;
    if (!digit_gen(mul(minus, c), mul(w, c), mul(plus, c), buf, len, &kappa))
        return 0;
    *dexp = kappa - i;
    return 1;
}

/* The exact slow path: digits and exponent from printf, checked by strtod. */
static void slow_digits(double v, char *buf, int *len, int *dexp)
{
    char tmp[40];
    /* Subnormals carry fewer significant bits: there any length may be the
     * shortest, so search from one digit up. */
    for (int prec = v < 2.2250738585072014e-308 ? 1 : 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
        if (prec == 17 || strtod(tmp, NULL) == v)
            break;
    }
    /* tmp is d.ddddde[+-]XX */
    int n = 0;
    const char *p = tmp;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            buf[n++] = *p;
    int x = atoi(p + 1);
    while (n > 1 && buf[n - 1] == '0')
        n--;
    *len = n;
    *dexp = x - (n - 1);
}

/* Write digits * 10^dexp (positive, sign handled by the caller). */
static size_t format_digits(char *out, const char *d, int n, int dexp)
{
    int x = dexp + n - 1; /* exponent of the first digit */
    /* plain length */
    size_t plain;
    if (x >= n - 1)
        plain = (size_t)x + 1; /* digits then zeros */
    else if (x >= 0)
        plain = (size_t)n + 1; /* point inside */
    else
        plain = (size_t)(2 - x - 1 + n); /* 0.000ddd */
    int ax = x < 0 ? -x : x;
    size_t exp_len = (size_t)n + (n > 1) + 2 + (ax >= 100 ? 3 : 2);
    size_t k = 0;
    if (plain <= exp_len) {
        if (x >= n - 1) {
            memcpy(out, d, (size_t)n);
            k = (size_t)n;
            for (int z = 0; z < x - (n - 1); z++)
                out[k++] = '0';
        } else if (x >= 0) {
            memcpy(out, d, (size_t)x + 1);
            k = (size_t)x + 1;
            out[k++] = '.';
            memcpy(out + k, d + x + 1, (size_t)(n - x - 1));
            k += (size_t)(n - x - 1);
        } else {
            out[k++] = '0';
            out[k++] = '.';
            for (int z = 0; z < -x - 1; z++)
                out[k++] = '0';
            memcpy(out + k, d, (size_t)n);
            k += (size_t)n;
        }
    } else {
        out[k++] = d[0];
        if (n > 1) {
            out[k++] = '.';
            memcpy(out + k, d + 1, (size_t)n - 1);
            k += (size_t)n - 1;
        }
        out[k++] = 'e';
        out[k++] = x < 0 ? '-' : '+';
        if (ax >= 100)
            out[k++] = (char)('0' + ax / 100);
        out[k++] = (char)('0' + ax / 10 % 10);
        out[k++] = (char)('0' + ax % 10);
    }
    out[k] = '\0';
    return k;
}

static size_t put(char *buf, size_t size, const char *s, size_t n)
{
    if (size) {
        size_t c = n < size ? n : size - 1;
        memcpy(buf, s, c);
        buf[c] = '\0';
    }
    return n;
}

size_t tropt__format_real_path(char *buf, size_t size, double x, int slow)
{
    if (isnan(x))
        return put(buf, size, "nan", 3);
    if (isinf(x))
        return put(buf, size, x > 0 ? "inf" : "-inf", x > 0 ? 3 : 4);
    char out[48];
    size_t k = 0;
    if (signbit(x)) {
        out[k++] = '-';
        x = -x;
    }
    if (x == 0) {
        out[k++] = '0';
        return put(buf, size, out, k);
    }
    char d[24];
    int n, dexp;
    if (slow || !grisu3(x, d, &n, &dexp))
        slow_digits(x, d, &n, &dexp);
    k += format_digits(out + k, d, n, dexp);
    return put(buf, size, out, k);
}

size_t tropt__format_real(char *buf, size_t size, double x)
{
    return tropt__format_real_path(buf, size, x, 0);
}
