/*
 * plugins/tensorboard/tb_encode.c - the Event encoders.  The hot one,
 * tb_encode_summary, sizes the record first and writes it in place with one
 * reservation; the others build their nested messages inside out.
 */
#include "tb_encode.h"

#include "tb_format.h"
#include "tb_proto.h"
#include "tb_record.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

/* SummaryMetadata{plugin_data{plugin_name}} as Value field 9, exactly the
 * bytes tf.summary.scalar / tf.summary.text write (the plugins' version-0
 * content serializes to nothing). */
static const unsigned char meta_scalars[] = {0x4a, 0x0b, 0x0a, 0x09, 0x0a, 0x07, 's',
                                             'c',  'a',  'l',  'a',  'r',  's'};
static const unsigned char meta_text[] = {0x4a, 0x08, 0x0a, 0x06, 0x0a, 0x04, 't', 'e', 'x', 't'};

/* TensorProto{dtype, tensor_shape{}} and the key of the rest: a rank-0
 * tensor's 8 bytes of tensor_content, or its one string_val. */
static const unsigned char head_double[] = {0x08, DT_DOUBLE, 0x12, 0x00, 0x22, 0x08};
static const unsigned char head_int64[] = {0x08, DT_INT64, 0x12, 0x00, 0x22, 0x08};
static const unsigned char head_float[] = {0x08, DT_FLOAT, 0x12, 0x00, 0x22, 0x04};
static const unsigned char head_string[] = {0x08, DT_STRING, 0x12, 0x00, 0x42};

float tb_to_float(double x)
{
    if (!(fabs(x) > FLT_MAX))
        return (float)x; /* in range, or NaN */
    return fabs(x) >= 0x1.ffffffp127 ? copysignf(INFINITY, (float)copysign(1.0, x))
                                     : copysignf(FLT_MAX, (float)copysign(1.0, x));
}

/* The bytes of Value v (without its own key and length). */
static size_t value_size(const tb_value *v)
{
    size_t tag = v->pfx_len + v->tag_len;
    size_t n = pb_bytes_len(tag);
    if (v->kind == TBV_TEXT) {
        size_t t = sizeof head_string + pb_varint_len(v->n) + v->n;
        n += pb_bytes_len(t) + (v->meta ? sizeof meta_text : 0);
    } else {
        size_t w = v->kind == TBV_FLOAT ? 4 : 8;
        n += pb_bytes_len(sizeof head_double + w) + (v->meta ? sizeof meta_scalars : 0);
    }
    return n;
}

/* A number's bytes in its tensor_content. */
static unsigned char *put_number(unsigned char *p, const tb_value *v)
{
    if (v->kind == TBV_FLOAT) {
        float x = tb_to_float(v->d);
        uint32_t u;
        memcpy(&u, &x, sizeof u);
        return pb_fixed32(p, u);
    }
    return pb_fixed64(p, v->kind == TBV_DOUBLE ? pb_double_bits(v->d) : (uint64_t)v->i);
}

static unsigned char *put_value(unsigned char *p, const tb_value *v, size_t size)
{
    p = pb_key(p, 1, PB_BYTES);
    p = pb_varint(p, size);
    p = pb_key(p, SV_TAG, PB_BYTES);
    p = pb_varint(p, v->pfx_len + v->tag_len);
    memcpy(p, v->pfx, v->pfx_len);
    memcpy(p + v->pfx_len, v->tag, v->tag_len);
    p += v->pfx_len + v->tag_len;
    p = pb_key(p, SV_TENSOR, PB_BYTES);
    if (v->kind == TBV_TEXT) {
        p = pb_varint(p, sizeof head_string + pb_varint_len(v->n) + v->n);
        memcpy(p, head_string, sizeof head_string);
        p = pb_varint(p + sizeof head_string, v->n);
        if (v->n)
            memcpy(p, v->s, v->n);
        p += v->n;
        if (v->meta) {
            memcpy(p, meta_text, sizeof meta_text);
            p += sizeof meta_text;
        }
        return p;
    }
    const unsigned char *head = v->kind == TBV_FLOAT    ? head_float
                                : v->kind == TBV_DOUBLE ? head_double
                                                        : head_int64;
    *p++ = (unsigned char)(sizeof head_double + TB_VALUE_WIDTH(v->kind));
    memcpy(p, head, sizeof head_double);
    p = put_number(p + sizeof head_double, v);
    if (v->meta) {
        memcpy(p, meta_scalars, sizeof meta_scalars);
        p += sizeof meta_scalars;
    }
    return p;
}

/* Event{wall_time, step} with room for field `what` of n bytes: reserves
 * the record and writes up to the field's key and length; *rec is the
 * record's offset in b. */
static unsigned char *event_begin(tev_buf *b, double wall_time, int64_t step, unsigned what,
                                  size_t n, size_t *rec)
{
    size_t ev = 9 + (step ? 1 + pb_varint_len((uint64_t)step) : 0) + pb_bytes_len(n);
    if (tev_buf_reserve(b, ev + TB_REC_OVERHEAD) != 0)
        return NULL;
    *rec = b->len;
    unsigned char *p = (unsigned char *)b->data + b->len + TB_REC_HEAD;
    p = pb_key(p, EV_WALL_TIME, PB_FIXED64);
    p = pb_fixed64(p, pb_double_bits(wall_time));
    if (step) {
        p = pb_key(p, EV_STEP, PB_VARINT);
        p = pb_varint(p, (uint64_t)step);
    }
    p = pb_key(p, what, PB_BYTES);
    return pb_varint(p, n);
}

/* Frame the record begun at rec, whose data ends at p. */
static void event_end(tev_buf *b, size_t rec, unsigned char *p)
{
    unsigned char *r = (unsigned char *)b->data + rec;
    size_t n = (size_t)(p - r) - TB_REC_HEAD;
    tb_record_frame(r, n);
    b->len = rec + n + TB_REC_OVERHEAD;
    b->data[b->len] = '\0';
}

int tb_encode_summary(tev_buf *b, double wall_time, int64_t step, tb_value *v, size_t n)
{
    size_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i].pre) {
            sum += v[i].pre_len + TB_VALUE_WIDTH(v[i].kind);
        } else {
            v[i].size = value_size(&v[i]);
            sum += 1 + pb_varint_len(v[i].size) + v[i].size;
        }
    }
    size_t rec;
    unsigned char *p = event_begin(b, wall_time, step, EV_SUMMARY, sum, &rec);
    if (!p)
        return -1;
    for (size_t i = 0; i < n; i++) {
        v[i].at = (size_t)(p - (unsigned char *)b->data);
        if (v[i].pre) {
            memcpy(p, v[i].pre, v[i].pre_len);
            p = put_number(p + v[i].pre_len, &v[i]);
        } else {
            p = put_value(p, &v[i], v[i].size);
        }
    }
    event_end(b, rec, p);
    return 0;
}

/* Append a whole event whose `what` field holds the n bytes at s. */
static int encode_event(tev_buf *b, double wall_time, int64_t step, unsigned what, const void *s,
                        size_t n)
{
    size_t rec;
    unsigned char *p = event_begin(b, wall_time, step, what, n, &rec);
    if (!p)
        return -1;
    if (n)
        memcpy(p, s, n);
    event_end(b, rec, p + n);
    return 0;
}

int tb_encode_file_version(tev_buf *b, double wall_time)
{
    return encode_event(b, wall_time, 0, EV_FILE_VERSION, TB_FILE_VERSION,
                        sizeof TB_FILE_VERSION - 1);
}

int tb_encode_session_log(tev_buf *b, double wall_time, int64_t step, int status)
{
    unsigned char sl[2] = {0x08, (unsigned char)status};
    return encode_event(b, wall_time, step, EV_SESSION_LOG, sl, status ? 2 : 0);
}

/* ---- hparams: nested messages built inside out ---------------------------- */

/* Append key and length of field `field` holding n bytes.  0 or -1. */
static int put_len(tev_buf *b, unsigned field, size_t n)
{
    if (tev_buf_reserve(b, 11) != 0)
        return -1;
    unsigned char *p = (unsigned char *)b->data + b->len;
    p = pb_key(p, field, PB_BYTES);
    p = pb_varint(p, n);
    b->len = (size_t)(p - (unsigned char *)b->data);
    return 0;
}

/* out = out + key + length + inner */
static int wrap(tev_buf *out, unsigned field, const tev_buf *inner)
{
    return put_len(out, field, inner->len) || tev_buf_append(out, inner->data, inner->len);
}

static int put_double_field(tev_buf *b, unsigned field, double x)
{
    unsigned char d[9];
    pb_fixed64(pb_key(d, field, PB_FIXED64), pb_double_bits(x));
    return tev_buf_append(b, d, sizeof d);
}

/* One google.protobuf.Value of a flattened param into v (emptied first);
 * 1 when the param has none (null). */
static int param_value(tev_buf *v, tev_buf *json, const tropt_field *f, tev_format_real_fn fmt)
{
    v->len = 0;
    switch (f->type) {
    case TROPT_NULL:
        return 1;
    case TROPT_BOOL: {
        unsigned char d[2] = {0x20, (unsigned char)(f->v.b != 0)};
        return tev_buf_append(v, d, 2);
    }
    case TROPT_INT:
    case TROPT_REAL:
        return put_double_field(v, 2, f->type == TROPT_INT ? (double)f->v.i : f->v.r);
    case TROPT_STRING:
        return put_len(v, 3, strlen(f->v.s)) || tev_buf_puts(v, f->v.s);
    case TROPT_JSON:
        json->len = 0;
        return tev_put_field_value(json, f, fmt) || wrap(v, 3, json);
    }
    return 1;
}

/* qsort's comparison reads the params here (per thread). */
static _Thread_local const tropt_field *sort_params;

static int cmp_key(const void *a, const void *b)
{
    return strcmp(sort_params[*(const size_t *)a].key, sort_params[*(const size_t *)b].key);
}

/* SessionStartInfo{hparams..., start_time_secs} into out: the map's entries
 * sorted by key, as protobuf's deterministic serialization orders them. */
static int session_start_info(tev_buf *out, const tropt_field *params, size_t n, double start,
                              tev_format_real_fn fmt, tev_buf *t1, tev_buf *t2, tev_buf *t3)
{
    size_t *order = n ? out->realloc_fn(NULL, n * sizeof *order) : NULL;
    if (n && !order)
        return -1;
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    sort_params = params;
    if (n > 1)
        qsort(order, n, sizeof *order, cmp_key);
    int bad = 0;
    for (size_t k = 0; k < n && !bad; k++) {
        const tropt_field *p = &params[order[k]];
        int rc = param_value(t1, t3, p, fmt);
        if (rc == 1)
            continue;
        t2->len = 0;
        bad = rc || put_len(t2, 1, strlen(p->key)) || tev_buf_puts(t2, p->key) || wrap(t2, 2, t1) ||
              wrap(out, 1, t2);
    }
    if (order)
        out->free_fn(order);
    return bad ? -1 : put_double_field(out, 5, start);
}

static const unsigned char null_tensor[] = {0x08, DT_FLOAT, 0x12, 0x02, 0x12, 0x00};

/* Event{wall_time, step, summary{value{tag, NULL_TENSOR, metadata{hparams,
 * content: HParamsPluginData{field: data}}}}} */
static int hparams_event(tev_buf *b, double wall_time, int64_t step, const char *tag,
                         unsigned field, const tev_buf *data, tev_buf *t1, tev_buf *t2)
{
    tev_buf_clear(t1);
    tev_buf_clear(t2);
    /* t1 = HParamsPluginData, t2 = PluginData */
    if (wrap(t1, field, data) || put_len(t2, 1, sizeof TB_PLUGIN_HPARAMS - 1) ||
        tev_buf_puts(t2, TB_PLUGIN_HPARAMS) || wrap(t2, 2, t1))
        return -1;
    /* t1 = SummaryMetadata, then the Value into t2 */
    tev_buf_clear(t1);
    if (wrap(t1, 1, t2))
        return -1;
    tev_buf_clear(t2);
    if (put_len(t2, SV_TAG, strlen(tag)) || tev_buf_puts(t2, tag) ||
        put_len(t2, SV_TENSOR, sizeof null_tensor) ||
        tev_buf_append(t2, null_tensor, sizeof null_tensor) || wrap(t2, SV_METADATA, t1))
        return -1;
    tev_buf_clear(t1);
    if (wrap(t1, 1, t2)) /* Summary{value} */
        return -1;
    return encode_event(b, wall_time, step, EV_SUMMARY, t1->data, t1->len);
}

int tb_encode_hparams_start(tev_buf *b, double wall_time, const tropt_field *params, size_t n,
                            double start_time, tev_format_real_fn fmt)
{
    tev_buf ssi, t1, t2, t3;
    tev_buf_init(&ssi, b->realloc_fn, b->free_fn);
    tev_buf_init(&t1, b->realloc_fn, b->free_fn);
    tev_buf_init(&t2, b->realloc_fn, b->free_fn);
    tev_buf_init(&t3, b->realloc_fn, b->free_fn);
    int rc = session_start_info(&ssi, params, n, start_time, fmt, &t1, &t2, &t3) ||
             hparams_event(b, wall_time, 0, TB_TAG_HP_START, 3, &ssi, &t1, &t2);
    tev_buf_free(&ssi);
    tev_buf_free(&t1);
    tev_buf_free(&t2);
    tev_buf_free(&t3);
    return rc ? -1 : 0;
}

int tb_encode_hparams_end(tev_buf *b, double wall_time, int64_t step, int status, double end_time)
{
    tev_buf sei, t1, t2;
    tev_buf_init(&sei, b->realloc_fn, b->free_fn);
    tev_buf_init(&t1, b->realloc_fn, b->free_fn);
    tev_buf_init(&t2, b->realloc_fn, b->free_fn);
    unsigned char st[2] = {0x08, (unsigned char)status};
    int rc = (status && tev_buf_append(&sei, st, 2)) || put_double_field(&sei, 2, end_time) ||
             hparams_event(b, wall_time, step, TB_TAG_HP_END, 4, &sei, &t1, &t2);
    tev_buf_free(&sei);
    tev_buf_free(&t1);
    tev_buf_free(&t2);
    return rc ? -1 : 0;
}
