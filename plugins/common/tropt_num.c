/* plugins/common/tropt_num.c - decimal integers (see tropt_num.h). */
#include "tropt_num.h"

#include <string.h>

const char tropt_digits2[200] = "00010203040506070809"
                                "10111213141516171819"
                                "20212223242526272829"
                                "30313233343536373839"
                                "40414243444546474849"
                                "50515253545556575859"
                                "60616263646566676869"
                                "70717273747576777879"
                                "80818283848586878889"
                                "90919293949596979899";

uint64_t tropt_hash_str(const char *s, size_t *len)
{
    const unsigned char *p = (const unsigned char *)s;
    uint64_t h = 1469598103934665603u;
    for (; *p; p++)
        h = (h ^ *p) * 1099511628211u;
    if (len)
        *len = (size_t)(p - (const unsigned char *)s);
    return h;
}

size_t tropt_put_i64(char *out, int64_t v)
{
    char tmp[TROPT_I64_DIGITS_MAX];
    char *p = tmp + sizeof tmp;
    /* through the unsigned magnitude, so that INT64_MIN needs no care */
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    while (u >= 100) {
        p -= 2;
        memcpy(p, tropt_digits2 + 2 * (u % 100), 2);
        u /= 100;
    }
    if (u >= 10) {
        p -= 2;
        memcpy(p, tropt_digits2 + 2 * u, 2);
    } else {
        *--p = (char)('0' + u);
    }
    if (v < 0)
        *--p = '-';
    size_t n = (size_t)(tmp + sizeof tmp - p);
    memcpy(out, p, n);
    return n;
}
