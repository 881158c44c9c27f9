/* core/dtoa.c - the shortest decimal text that reads back (strtod) to the
 * same double, as a host service for every backend that writes reals as
 * text (csv, jsonl, http, print).
 *
 * Digits: Schubfach (R. Giulietti, "The Schubfach way to render doubles",
 * 2020), with the table of 126-bit powers of ten from core/gen/powers.py.
 * It yields, with three 64x128-bit products and no fallback, the decimal
 * closest to the value among the shortest that round to it (strtod's
 * round-half-even: an interval boundary counts when the significand is
 * even).  Integers below 2^53 are their own digits.  Schubfach never
 * chooses fewer than two digits, so the few subnormals below 32 * 2^-1074
 * (where one digit may do: 5e-323) take the exact slow path.
 *
 * The slow path, printf and strtod, is the reference the test suite checks
 * the fast one against on millions of doubles (and what the tiny
 * subnormals use): see slow_digits.
 *
 * Text form: the digits in plain notation when that is not longer than
 * the exponent form, else d.ddde[+-]XX as printf's %g writes it; digits go
 * out two at a time from a table. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tropt_num.h"

#include "dtoa_powers.h"

__extension__ typedef unsigned __int128 u128;

static uint64_t mulhi(uint64_t a, uint64_t b)
{
    return (uint64_t)(((u128)a * b) >> 64);
}

/* floor(q * log10(2)), floor(q * log10(3/4 * 2)), floor(e * log2(10)), for
 * the exponents of doubles (Schubfach, section 9.7); >> of a negative value
 * is an arithmetic shift with GCC and Clang. */
static int flog10pow2(int q)
{
    return (int)((int64_t)q * 661971961083 >> 41);
}

static int flog10threequarterspow2(int q)
{
    return (int)(((int64_t)q * 661971961083 - 274743187321) >> 41);
}

static int flog2pow10(int e)
{
    return (int)((int64_t)e * 913124641741 >> 38);
}

/* Round to odd of cp * g * 2^-127, g = g1 * 2^63 + g0 (Schubfach, figure 8):
 * the low bit says whether the exact product had a fraction. */
static uint64_t rop(uint64_t g1, uint64_t g0, uint64_t cp)
{
    const uint64_t mask63 = (UINT64_C(1) << 63) - 1;
    uint64_t x1 = mulhi(g0, cp);
    uint64_t y0 = g1 * cp;
    uint64_t y1 = mulhi(g1, cp);
    uint64_t z = (y0 >> 1) + x1;
    uint64_t vbp = y1 + (z >> 63);
    return vbp | (((z & mask63) + mask63) >> 63);
}

/* The decimal f * 10^*e closest to v = c * 2^q among the shortest that
 * round to v (ties to even digits, boundaries included when c is even, as
 * strtod's round-half-even reads them).  Schubfach, figure 7. */
static uint64_t schubfach(int q, uint64_t c, int *e)
{
    const uint64_t c_min = UINT64_C(1) << 52;
    uint64_t out = c & 1;
    uint64_t cb = c << 2;
    uint64_t cbr = cb + 2;
    uint64_t cbl;
    int k;
    if (c != c_min || q == -1074) {
        cbl = cb - 2;
        k = flog10pow2(q);
    } else { /* the lower neighbour is closer: a power of two */
        cbl = cb - 1;
        k = flog10threequarterspow2(q);
    }
    int h = q + flog2pow10(-k) + 2;
    const uint64_t *g = tropt__g[k - TROPT__G_KMIN];
    uint64_t vb = rop(g[0], g[1], cb << h);
    uint64_t vbl = rop(g[0], g[1], cbl << h);
    uint64_t vbr = rop(g[0], g[1], cbr << h);
    uint64_t s = vb >> 2;
    if (s >= 100) {
        /* one digit less: s' = floor(s / 10) */
        uint64_t sp10 = 10 * mulhi(s, UINT64_C(115292150460684698) << 4);
        uint64_t tp10 = sp10 + 10;
        int upin = vbl + out <= sp10 << 2;
        int wpin = (tp10 << 2) + out <= vbr;
        if (upin != wpin) {
            *e = k;
            return upin ? sp10 : tp10;
        }
    }
    uint64_t t = s + 1;
    int uin = vbl + out <= s << 2;
    int win = (t << 2) + out <= vbr;
    *e = k;
    if (uin != win)
        return uin ? s : t;
    /* both in the interval: the closer one, the even one on a tie */
    uint64_t mid = (s + t) << 1;
    return vb < mid || (vb == mid && (s & 1) == 0) ? s : t;
}

static const uint64_t pow10_64[] = {1,
                                    10,
                                    100,
                                    1000,
                                    10000,
                                    100000,
                                    1000000,
                                    10000000,
                                    100000000,
                                    1000000000,
                                    10000000000,
                                    100000000000,
                                    1000000000000,
                                    10000000000000,
                                    100000000000000,
                                    1000000000000000,
                                    10000000000000000,
                                    100000000000000000,
                                    1000000000000000000,
                                    10000000000000000000u};

/* Exactly eight digits of v < 10^8, leading zeros included. */
static void put8(char *p, uint32_t v)
{
    uint32_t a = v / 10000, b = v % 10000;
    memcpy(p, tropt_digits2 + 2 * (a / 100), 2);
    memcpy(p + 2, tropt_digits2 + 2 * (a % 100), 2);
    memcpy(p + 4, tropt_digits2 + 2 * (b / 100), 2);
    memcpy(p + 6, tropt_digits2 + 2 * (b % 100), 2);
}

/* The decimal digits of 0 < f < 10^19, without leading zeros, into d;
 * their count. */
static int put_u64_digits(char *d, uint64_t f)
{
    int n = (64 - __builtin_clzll(f)) * 1233 >> 12; /* floor(bits * log10(2)) */
    if (f >= pow10_64[n])
        n++;
    char *p = d + n;
    while (f >= 100000000) {
        p -= 8;
        put8(p, (uint32_t)(f % 100000000));
        f /= 100000000;
    }
    uint32_t r = (uint32_t)f;
    while (r >= 100) {
        p -= 2;
        memcpy(p, tropt_digits2 + 2 * (r % 100), 2);
        r /= 100;
    }
    if (r >= 10)
        memcpy(p - 2, tropt_digits2 + 2 * r, 2);
    else
        p[-1] = (char)('0' + r);
    return n;
}

static void slow_digits(double v, char *buf, int *len, int *dexp);

/* Shortest round-trip digits of a positive finite double into buf (no
 * leading or trailing zeros) and *dexp so that the value is DIGITS *
 * 10^dexp. */
static void shortest_digits(double v, char *buf, int *len, int *dexp)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    uint64_t t = bits & ((UINT64_C(1) << 52) - 1);
    int bq = (int)((bits >> 52) & 0x7ff);
    uint64_t f;
    int e;
    if (bq != 0) {
        int mq = 1075 - bq; /* v = c * 2^-mq */
        uint64_t c = t | (UINT64_C(1) << 52);
        if (mq > 0 && mq < 53 && (c >> mq) << mq == c) {
            f = c >> mq; /* an integer below 2^53: its own digits */
            e = 0;
        } else {
            f = schubfach(-mq, c, &e);
        }
    } else if (t >= 32) {
        f = schubfach(-1074, t, &e); /* subnormal */
    } else {
        /* Below 21 * 2^-1074 the shortest may have one digit where
         * Schubfach, which chooses among two-digit candidates at least,
         * gives two (4.9e-323 for 5e-323): the exact path decides. */
        slow_digits(v, buf, len, dexp);
        return;
    }
    int n = put_u64_digits(buf, f);
    while (buf[n - 1] == '0') { /* f > 0: a nonzero digit stops it */
        n--;
        e++;
    }
    *len = n;
    *dexp = e;
}

/* The exact slow path, from printf and strtod: for each length the
 * correctly rounded digits, and when they do not read back the neighbour on
 * the other side of v (the rounding interval of a power of two is narrower
 * below it, so the nearest decimal may miss it where the next one above
 * fits).  A double survives a round trip through 17 digits and every
 * decimal of at most 15 digits survives the reverse trip (DBL_DIG), so
 * lengths below 15 never need a look; subnormals, which carry fewer bits,
 * search from one digit up. */
static void slow_digits(double v, char *buf, int *len, int *dexp)
{
    char tmp[48];
    unsigned long long d = 0;
    int x = 0; /* exponent of the last digit of d */
    for (int prec = v < 2.2250738585072014e-308 ? 1 : 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
        /* tmp is d.ddddde[+-]XX */
        const char *p = tmp;
        d = 0;
        for (; *p && *p != 'e'; p++)
            if (*p >= '0' && *p <= '9')
                d = d * 10 + (unsigned long long)(*p - '0');
        x = atoi(p + 1) - (prec - 1);
        double back = strtod(tmp, NULL);
        if (prec == 17 || back == v)
            break;
        unsigned long long nb = back < v ? d + 1 : d - 1;
        snprintf(tmp, sizeof tmp, "%llue%d", nb, x);
        if (nb && strtod(tmp, NULL) == v) {
            d = nb;
            break;
        }
    }
    while (d % 10 == 0) {
        d /= 10;
        x++;
    }
    *len = snprintf(buf, 24, "%llu", d);
    *dexp = x;
}

/* Write digits * 10^dexp (positive, sign handled by the caller) into out
 * (48 bytes of room) and a NUL; the length.  d holds 48 readable bytes:
 * the copies move fixed sizes, whatever follows the digits is overwritten
 * or left past the NUL. */
static size_t format_digits(char *out, const char *d, int n, int dexp)
{
    int x = dexp + n - 1; /* exponent of the first digit */
    int plain = x >= n - 1 ? x + 1 : x >= 0 ? n + 1 : n + 1 - x;
    int ax = x < 0 ? -x : x;
    int exp_len = n + (n > 1) + 2 + (ax >= 100 ? 3 : 2);
    size_t k;
    if (plain <= exp_len) {
        if (x >= n - 1) { /* digits then at most 5 zeros */
            memcpy(out, d, 24);
            memset(out + n, '0', 8);
            k = (size_t)x + 1;
        } else if (x >= 0) { /* the point inside */
            memcpy(out, d, 24);
            out[x + 1] = '.';
            memcpy(out + x + 2, d + x + 1, 24);
            k = (size_t)n + 1;
        } else { /* 0.000ddd, at most 3 zeros */
            memcpy(out, "0.000", 5);
            memcpy(out + 1 - x, d, 24);
            k = (size_t)(n + 1 - x);
        }
    } else {
        out[0] = d[0];
        k = 1;
        if (n > 1) {
            out[1] = '.';
            memcpy(out + 2, d + 1, 24);
            k = (size_t)n + 1;
        }
        out[k++] = 'e';
        out[k++] = x < 0 ? '-' : '+';
        if (ax >= 100) {
            out[k++] = (char)('0' + ax / 100);
            ax %= 100;
        }
        memcpy(out + k, tropt_digits2 + 2 * ax, 2);
        k += 2;
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
    char out[64];
    size_t k = 0;
    if (signbit(x)) {
        out[k++] = '-';
        x = -x;
    }
    if (x == 0) {
        out[k++] = '0';
        return put(buf, size, out, k);
    }
    char d[48];
    int n, dexp;
    if (slow)
        slow_digits(x, d, &n, &dexp);
    else
        shortest_digits(x, d, &n, &dexp);
    k += format_digits(out + k, d, n, dexp);
    return put(buf, size, out, k);
}

size_t tropt__format_real(char *buf, size_t size, double x)
{
    return tropt__format_real_path(buf, size, x, 0);
}
