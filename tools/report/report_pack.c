/* tools/report/report_pack.c - base64 floats and varint differences for
 * the page's data block (see report_pack.h). */
#include "report_pack.h"

#include <string.h>

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void put_byte(rp_b64 *e, unsigned char b)
{
    e->in[e->n_in++] = b;
    if (e->n_in < 3)
        return;
    char out[4] = {b64[e->in[0] >> 2], b64[(e->in[0] & 3) << 4 | e->in[1] >> 4],
                   b64[(e->in[1] & 15) << 2 | e->in[2] >> 6], b64[e->in[2] & 63]};
    fwrite(out, 1, 4, e->f);
    e->n_in = 0;
}

/* The last one or two bytes, and the padding. */
void rp_b64_end(rp_b64 *e)
{
    if (e->n_in == 0)
        return;
    unsigned char b1 = e->n_in > 1 ? e->in[1] : 0;
    char out[4] = {b64[e->in[0] >> 2], b64[(e->in[0] & 3) << 4 | b1 >> 4],
                   e->n_in > 1 ? b64[(b1 & 15) << 2] : '=', '='};
    fwrite(out, 1, 4, e->f);
    e->n_in = 0;
}

void rp_b64_float(rp_b64 *e, double v, int wide)
{
    uint64_t bits;
    if (wide) {
        memcpy(&bits, &v, 8);
    } else {
        float x = (float)v;
        uint32_t b32;
        memcpy(&b32, &x, 4);
        bits = b32;
    }
    for (int k = 0; k < (wide ? 8 : 4); k++)
        put_byte(e, (unsigned char)(bits >> (8 * k)));
}

void rp_pack_floats(FILE *f, const double *v, size_t n, int wide)
{
    rp_b64 e = {.f = f};
    for (size_t i = 0; i < n; i++)
        rp_b64_float(&e, v[i], wide);
    rp_b64_end(&e);
}

static void put_varint(FILE *f, uint64_t z)
{
    do {
        unsigned d = (unsigned)(z & 31);
        z >>= 5;
        fputc(b64[d | (z ? 32 : 0)], f);
    } while (z);
}

void rp_pack_deltas(FILE *f, const int64_t *v, size_t n)
{
    uint64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        /* the difference in two's complement, then zigzag */
        uint64_t d = (uint64_t)v[i] - prev;
        prev = (uint64_t)v[i];
        put_varint(f, d << 1 ^ (0 - (d >> 63)));
    }
}
