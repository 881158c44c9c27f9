/*
 * tools/report/report_pack.h - the compact number encodings of the page's
 * data block (report_json.h), a third of the size of decimal JSON, so the
 * page of many long runs stays light to load.  Every encoding is a string
 * of the base64 alphabet (A-Z a-z 0-9 + /), safe inside a JSON string and a
 * <script> element; the page's script (js/viewer.js) decodes a series only
 * when it first draws it.
 *
 *   floats   IEEE 754 binary32 ("f32") or binary64 ("f64") values, little
 *            endian, as standard base64 with '=' padding (what atob reads).
 *            NaN and +-Inf are kept as such.  binary32 keeps a relative
 *            precision of 2^-24 (6e-8); binary64 is exact.
 *   integers a zigzag varint per value (0, -1, 1, -2, ... as 0, 1, 2,
 *            3, ...), each a run of base64 digits holding 5 bits of the
 *            value (least significant first) and, in the digit's bit 5
 *            (32), whether another digit follows.  Used on differences:
 *            the first value, then each value minus the one before.
 */
#ifndef TROPT_REPORT_PACK_H
#define TROPT_REPORT_PACK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A base64 string being written, value by value. */
typedef struct {
    FILE *f;
    unsigned char in[3];
    int n_in;
} rp_b64;

/* Append v as binary32 (wide 0) or binary64 (wide 1). */
void rp_b64_float(rp_b64 *e, double v, int wide);

/* Write the last bytes and the padding; e can then start a new string. */
void rp_b64_end(rp_b64 *e);

/* n doubles as one base64 string of binary32 (wide 0) or binary64 (wide 1). */
void rp_pack_floats(FILE *f, const double *v, size_t n, int wide);

/* v[0], v[1] - v[0], ..., v[n-1] - v[n-2] as zigzag varints. */
void rp_pack_deltas(FILE *f, const int64_t *v, size_t n);

#endif
