/* tools/report/report_m4.c - M4 downsampling (see report_m4.h). */
#include "report_m4.h"

#include <math.h>

void rp_m4_interval(size_t n, size_t buckets, size_t i, size_t *lo, size_t *hi)
{
    /* n * i / buckets without overflow for any realistic n (n < 2^40). */
    *lo = (size_t)((unsigned long long)n * i / buckets);
    *hi = (size_t)((unsigned long long)n * (i + 1) / buckets);
}

size_t rp_m4_room(size_t n, size_t buckets)
{
    if (buckets == 0 || n <= 4 * buckets)
        return n;
    return n < 7 * buckets ? n : 7 * buckets;
}

size_t rp_m4(const double *y, size_t n, size_t buckets, size_t *out)
{
    size_t k = 0;
    if (buckets == 0 || n <= 4 * buckets) {
        for (size_t i = 0; i < n; i++)
            out[k++] = i;
        return k;
    }
    for (size_t b = 0; b < buckets; b++) {
        size_t lo, hi;
        rp_m4_interval(n, buckets, b, &lo, &hi);
        if (lo >= hi)
            continue;
        size_t pick[7];
        size_t np = 0;
        size_t imin = hi, imax = hi, inan = hi, ipinf = hi, ininf = hi;
        for (size_t i = lo; i < hi; i++) {
            double v = y[i];
            if (isnan(v)) {
                if (inan == hi)
                    inan = i;
            } else if (isinf(v)) {
                if (v > 0 && ipinf == hi)
                    ipinf = i;
                if (v < 0 && ininf == hi)
                    ininf = i;
            } else {
                if (imin == hi || v < y[imin])
                    imin = i;
                if (imax == hi || v > y[imax])
                    imax = i;
            }
        }
        pick[np++] = lo;
        pick[np++] = hi - 1;
        const size_t more[5] = {imin, imax, inan, ipinf, ininf};
        for (int m = 0; m < 5; m++)
            if (more[m] != hi)
                pick[np++] = more[m];
        /* Sort the (at most 7) picks and drop duplicates. */
        for (size_t a = 1; a < np; a++)
            for (size_t c = a; c > 0 && pick[c - 1] > pick[c]; c--) {
                size_t t = pick[c];
                pick[c] = pick[c - 1];
                pick[c - 1] = t;
            }
        for (size_t a = 0; a < np; a++)
            if (a == 0 || pick[a] != pick[a - 1])
                out[k++] = pick[a];
    }
    return k;
}
