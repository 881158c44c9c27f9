/*
 * plugins/tensorboard/tb_proto.h - the protobuf wire format, by hand: the
 * few primitives the event encoders write with (varints, fixed-width
 * little-endian numbers, length-delimited fields) and a bounds-checked
 * field reader the decoders parse with.  No protobuf library: a message is
 * a sequence of (key = field number << 3 | wire type, value) pairs.
 * libc only.
 */
#ifndef TROPT_TB_PROTO_H
#define TROPT_TB_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Wire types. */
enum { PB_VARINT = 0, PB_FIXED64 = 1, PB_BYTES = 2, PB_FIXED32 = 5 };

/* ---- writing: each returns the position after what it wrote ---------- */

/* Bytes a varint of v takes (1 to 10). */
static inline size_t pb_varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static inline unsigned char *pb_varint(unsigned char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (unsigned char)v;
    return p;
}

/* The key of field `field` with wire type `wire` (one byte below field 16). */
static inline unsigned char *pb_key(unsigned char *p, unsigned field, unsigned wire)
{
    return pb_varint(p, (uint64_t)field << 3 | wire);
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define PB_LITTLE_ENDIAN 1
#else
#define PB_LITTLE_ENDIAN 0
#endif

static inline unsigned char *pb_fixed32(unsigned char *p, uint32_t v)
{
    if (PB_LITTLE_ENDIAN) {
        memcpy(p, &v, 4);
        return p + 4;
    }
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
    return p + 4;
}

static inline unsigned char *pb_fixed64(unsigned char *p, uint64_t v)
{
    if (PB_LITTLE_ENDIAN) {
        memcpy(p, &v, 8);
        return p + 8;
    }
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
    return p + 8;
}

/* A double's bits, unchanged (NaN payloads, -0.0 and subnormals kept). */
static inline uint64_t pb_double_bits(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline double pb_bits_double(uint64_t u)
{
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* Field `field` as a length-delimited value: key, length, the n bytes. */
static inline unsigned char *pb_bytes(unsigned char *p, unsigned field, const void *s, size_t n)
{
    p = pb_key(p, field, PB_BYTES);
    p = pb_varint(p, n);
    if (n)
        memcpy(p, s, n);
    return p + n;
}

/* Bytes of a length-delimited field of a one-byte key holding n bytes. */
static inline size_t pb_bytes_len(size_t n)
{
    return 1 + pb_varint_len(n) + n;
}

/* ---- reading ------------------------------------------------------------ */

/* A message being read: the bytes [p, end). */
typedef struct pb_in {
    const unsigned char *p, *end;
} pb_in;

/* One field as read.  VARINT, FIXED64, FIXED32: the value in u (FIXED32 in
 * its low 32 bits); BYTES: s and n (borrowed from the message). */
typedef struct pb_field {
    uint32_t num;
    int wire;
    uint64_t u;
    const unsigned char *s;
    size_t n;
} pb_field;

static inline pb_in pb_in_of(const void *p, size_t n)
{
    pb_in in = {(const unsigned char *)p, (const unsigned char *)p + n};
    return in;
}

/* Read the next field of in into *f.  Returns 1 (a field), 0 (the message
 * ended cleanly) or -1 (malformed: a varint past 10 bytes or the end, a
 * length past the end, field number 0, a group or an unknown wire type).
 * Allocates nothing. */
int pb_next(pb_in *in, pb_field *f);

/* Read one varint from [*p, end) (a packed repeated field's element).
 * 0 and *p advanced, or -1 when malformed. */
int pb_read_varint(const unsigned char **p, const unsigned char *end, uint64_t *v);

#endif
