/* core/dtoa.c - the shortest decimal text that reads back to the same
 * double.  A double survives a round trip through 17 significant digits and
 * any decimal of at most 15 digits survives the reverse trip (DBL_DIG), so
 * the shortest form is the first of %.15g, %.16g, %.17g that strtod maps
 * back to the same bits; %.15g drops trailing zeros, which makes it the
 * shortest whenever it round-trips. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static size_t put(char *buf, size_t size, const char *s)
{
    size_t n = strlen(s);
    if (size) {
        size_t c = n < size ? n : size - 1;
        memcpy(buf, s, c);
        buf[c] = '\0';
    }
    return n;
}

size_t tropt__format_real(char *buf, size_t size, double x)
{
    if (isnan(x))
        return put(buf, size, "nan");
    if (isinf(x))
        return put(buf, size, x > 0 ? "inf" : "-inf");
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, x);
        if (prec == 17 || strtod(tmp, NULL) == x)
            break;
    }
    return put(buf, size, tmp);
}
