/* tools/report_m4.c - M4 downsampling: first, last, min and max per interval. */
#include <math.h>

#include "report.h"

size_t rp_m4(const double *y, size_t n, size_t buckets, size_t *keep)
{
    size_t k = 0;
    if (buckets == 0)
        buckets = 1;
    if (n <= 4 * buckets) {
        for (size_t i = 0; i < n; i++)
            if (isfinite(y[i]))
                keep[k++] = i;
        return k;
    }
    for (size_t b = 0; b < buckets; b++) {
        /* [lo, hi): bucket b of n points; sizes differ by at most one */
        size_t lo = (size_t)((unsigned long long)n * b / buckets);
        size_t hi = (size_t)((unsigned long long)n * (b + 1) / buckets);
        size_t first = hi, last = hi, imin = hi, imax = hi;
        for (size_t i = lo; i < hi; i++) {
            if (!isfinite(y[i]))
                continue;
            if (first == hi)
                first = imin = imax = i;
            last = i;
            if (y[i] < y[imin])
                imin = i;
            if (y[i] > y[imax])
                imax = i;
        }
        if (first == hi)
            continue;
        /* the four indexes in ascending order, without repeats */
        size_t c[4] = {first, imin, imax, last};
        for (int i = 1; i < 4; i++)
            for (int j = i; j > 0 && c[j - 1] > c[j]; j--) {
                size_t t = c[j];
                c[j] = c[j - 1];
                c[j - 1] = t;
            }
        for (int i = 0; i < 4; i++)
            if (i == 0 || c[i] != c[i - 1])
                keep[k++] = c[i];
    }
    return k;
}
