/*
 * plugins/tensorboard/tb_decode.h - reading Event records: the event, its
 * summary's values, a value's tensor and plugin metadata, and the hparams
 * plugin's session_start_info.  Everything points into the record's bytes
 * (borrowed: valid while the record is); nothing is allocated.  Unknown
 * fields are skipped, as protobuf does; a malformed message (bounds,
 * varints, wire types) is refused with -1.
 */
#ifndef TROPT_TB_DECODE_H
#define TROPT_TB_DECODE_H

#include "tb_proto.h"

#include <stddef.h>
#include <stdint.h>

#include <tropt/plugin.h>

typedef enum {
    TBE_NONE,         /* only wall_time/step */
    TBE_FILE_VERSION, /* file_version */
    TBE_SUMMARY,      /* summary: values in summary/summary_len */
    TBE_SESSION_LOG,  /* session_log: its status */
    TBE_OTHER         /* graph_def, log_message, run metadata, meta graph */
} tb_what;

typedef struct tb_event {
    double wall_time;
    int64_t step;
    tb_what what;
    const unsigned char *summary;
    size_t summary_len;
    int session_status;
} tb_event;

/* Decode one Event.  0, or -1 when malformed. */
int tb_decode_event(const unsigned char *p, size_t n, tb_event *ev);

/* One Summary.Value. */
typedef enum { TBS_NONE, TBS_SIMPLE, TBS_TENSOR, TBS_OTHER } tb_skind;

typedef struct tb_sval {
    const unsigned char *tag;
    size_t tag_len;
    int has_meta; /* a SummaryMetadata came with the value */
    const unsigned char *plugin, *content;
    size_t plugin_len, content_len;
    tb_skind kind; /* the oneof: simple_value, tensor, or an image,
                    * histogram, audio (OTHER) */
    float simple;
    const unsigned char *tensor;
    size_t tensor_len;
} tb_sval;

/* The next value of a summary being read (start with pb_in_of(summary,
 * summary_len)).  1: *v holds it; 0: no more; -1: malformed. */
int tb_next_value(pb_in *summary, tb_sval *v);

/* A TensorProto, as far as a reader of one-element tensors needs it. */
typedef struct tb_tensor {
    int dtype;
    int64_t nelem; /* product of the dims (1 for rank 0); -1 when too big */
    const unsigned char *content;
    size_t content_len;
    /* per typed field: how many elements, and where the first one is */
    size_t n_float, n_double, n_int, n_int64, n_bool, n_half, n_string;
    uint64_t first_float, first_double, first_int, first_int64, first_bool, first_half;
    const unsigned char *string0;
    size_t string0_len;
} tb_tensor;

/* Decode a TensorProto.  0, or -1 when malformed. */
int tb_decode_tensor(const unsigned char *p, size_t n, tb_tensor *t);

/* The value of a one-element numeric tensor (DT_FLOAT, DT_DOUBLE, DT_HALF
 * as TROPT_REAL, widened exactly; DT_INT32, DT_INT64 as TROPT_INT; DT_BOOL
 * as TROPT_BOOL) into f->type and f->v.  0, or -1 when it is not one. */
int tb_tensor_number(const tb_tensor *t, tropt_field *f);

/* The one string of a one-element DT_STRING tensor.  0, or -1. */
int tb_tensor_string(const tb_tensor *t, const unsigned char **s, size_t *n);

/* Call fn(key, value) for each entry of the hparams plugin's
 * session_start_info held in a value's plugin content (HParamsPluginData):
 * value is a field of type TROPT_REAL (number_value), TROPT_STRING
 * (string_value, *not* NUL-terminated: its length in *slen), TROPT_BOOL or
 * TROPT_NULL.  Returns 0 when the content holds a session_start_info
 * (*start its start_time_secs), 1 when it holds something else, -1 when
 * malformed, or what fn returned when that is not 0. */
typedef int (*tb_hparam_fn)(void *ud, const unsigned char *key, size_t key_len,
                            const tropt_field *value, size_t slen);
int tb_decode_hparams(const unsigned char *content, size_t n, tb_hparam_fn fn, void *ud,
                      double *start);

#endif
