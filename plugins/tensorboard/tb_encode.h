/*
 * plugins/tensorboard/tb_encode.h - Event records, encoded by hand in the
 * byte layout of TensorFlow's own summary writers (fields in field-number
 * order, proto3 defaults left out, as protobuf serializes them), each
 * appended to a buffer as one framed TFRecord.  README.md shows the bytes.
 *
 * Every function appends exactly one record to b and returns 0, or -1 when
 * memory ran out (b then keeps what it held before the call).
 */
#ifndef TROPT_TB_ENCODE_H
#define TROPT_TB_ENCODE_H

#include "tropt_event.h"

#include <stddef.h>
#include <stdint.h>

/* One Summary.Value to write. */
typedef enum {
    TBV_DOUBLE, /* rank-0 DT_DOUBLE tensor, scalars plugin */
    TBV_INT64,  /* rank-0 DT_INT64 tensor, scalars plugin */
    TBV_FLOAT,  /* rank-0 DT_FLOAT tensor (value in d), scalars plugin */
    TBV_TEXT    /* rank-0 DT_STRING tensor, text plugin */
} tb_vkind;

typedef struct tb_value {
    /* the tag is pfx followed by tag (pfx may be empty, never NULL) */
    const char *pfx;
    size_t pfx_len;
    const char *tag;
    size_t tag_len;
    tb_vkind kind;
    int meta; /* write the plugin's SummaryMetadata with this value */
    double d;
    int64_t i;
    const char *s; /* TBV_TEXT: the n bytes of the text */
    size_t n;
    /* A number's entry up to its value bytes (from "0a <len>" to "22 08"),
     * as an earlier step wrote it for the same tag, kind and no metadata:
     * copied instead of encoded.  NULL: encode. */
    const unsigned char *pre;
    size_t pre_len;
    /* set by tb_encode_summary */
    size_t size; /* the Value's bytes */
    size_t at;   /* offset in the buffer of the Value's entry ("0a <len> ...") */
} tb_value;

/* Bytes of a number's value in its tensor_content: 4 for TBV_FLOAT, 8
 * for TBV_DOUBLE and TBV_INT64. */
#define TB_VALUE_WIDTH(kind) ((kind) == TBV_FLOAT ? 4u : 8u)

/* x rounded to float as IEEE 754 does (to nearest, ties to even), also
 * beyond FLT_MAX, where a C conversion is undefined: to +-FLT_MAX, or to
 * +-infinity from FLT_MAX + half its ulp on.  Cannot fail. */
float tb_to_float(double x);

/* Event{wall_time, step, summary{value...}}: one step's values (n may be 0:
 * an empty summary, so that a step without fields still reads back).  The
 * step is left out when 0, as protobuf does. */
int tb_encode_summary(tev_buf *b, double wall_time, int64_t step, tb_value *v, size_t n);

/* Event{wall_time, file_version: "brain.Event:2"}: every file's first. */
int tb_encode_file_version(tev_buf *b, double wall_time);

/* Event{wall_time, step, session_log{status}}: SESSION_START at a step
 * makes TensorBoard drop the events of earlier attempts at or after it. */
int tb_encode_session_log(tev_buf *b, double wall_time, int64_t step, int status);

/* The hparams plugin's session_start_info, as its summary_v2.hparams_pb
 * writes it: the flattened config (ints and reals as number_value, strings
 * as string_value, bools as bool_value, JSON values as their text in
 * string_value; nulls left out), start_time_secs, the 6-byte empty float
 * tensor, at step 0.  fmt formats reals for the JSON text. */
int tb_encode_hparams_start(tev_buf *b, double wall_time, const tropt_field *params, size_t n,
                            double start_time, tev_format_real_fn fmt);

/* The hparams plugin's session_end_info {status, end_time_secs} (the
 * plugin's HP_STATUS_*), at `step`. */
int tb_encode_hparams_end(tev_buf *b, double wall_time, int64_t step, int status, double end_time);

#endif
