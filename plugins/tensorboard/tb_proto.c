/* plugins/tensorboard/tb_proto.c - the bounds-checked protobuf field reader. */
#include "tb_proto.h"

int pb_read_varint(const unsigned char **pp, const unsigned char *end, uint64_t *v)
{
    const unsigned char *p = *pp;
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (p >= end)
            return -1;
        unsigned char b = *p++;
        if (shift == 63 && b > 1)
            return -1; /* more than 64 bits */
        x |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *pp = p;
            *v = x;
            return 0;
        }
    }
    return -1;
}

static uint64_t load_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

int pb_next(pb_in *in, pb_field *f)
{
    if (in->p >= in->end)
        return 0;
    uint64_t key;
    if (pb_read_varint(&in->p, in->end, &key) != 0 || key >> 3 == 0 || key >> 3 > 0x1FFFFFFF)
        return -1;
    f->num = (uint32_t)(key >> 3);
    f->wire = (int)(key & 7);
    f->u = 0;
    f->s = NULL;
    f->n = 0;
    size_t left = (size_t)(in->end - in->p);
    switch (f->wire) {
    case PB_VARINT:
        return pb_read_varint(&in->p, in->end, &f->u) == 0 ? 1 : -1;
    case PB_FIXED64:
    case PB_FIXED32: {
        int w = f->wire == PB_FIXED64 ? 8 : 4;
        if (left < (size_t)w)
            return -1;
        f->u = load_le(in->p, w);
        in->p += w;
        return 1;
    }
    case PB_BYTES: {
        uint64_t n;
        if (pb_read_varint(&in->p, in->end, &n) != 0 || n > (uint64_t)(in->end - in->p))
            return -1;
        f->s = in->p;
        f->n = (size_t)n;
        in->p += n;
        return 1;
    }
    default:
        return -1; /* groups (3, 4) and the unused types 6, 7 */
    }
}
