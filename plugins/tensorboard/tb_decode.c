/*
 * plugins/tensorboard/tb_decode.c - the Event, Summary.Value, TensorProto
 * and hparams decoders.  Each walks its message's fields once with pb_next;
 * later occurrences of a singular field win, as protobuf parsers do.
 */
#include "tb_decode.h"

#include "tb_format.h"

#include <math.h>

/* SessionLog: status (1). */
static int session_status(const unsigned char *p, size_t n, int *status)
{
    pb_in in = pb_in_of(p, n);
    pb_field g;
    int r;
    *status = 0;
    while ((r = pb_next(&in, &g)) == 1)
        if (g.num == 1 && g.wire == PB_VARINT)
            *status = (int)g.u;
    return r < 0 ? -1 : 0;
}

/* The oneof `what` of an Event: the kind a field number makes. */
static tb_what what_of(uint32_t num)
{
    switch (num) {
    case EV_FILE_VERSION:
        return TBE_FILE_VERSION;
    case EV_SUMMARY:
        return TBE_SUMMARY;
    case EV_SESSION_LOG:
        return TBE_SESSION_LOG;
    case EV_GRAPH_DEF:
    case EV_LOG_MESSAGE:
    case EV_TAGGED_RUN_METADATA:
    case EV_META_GRAPH_DEF:
        return TBE_OTHER;
    default:
        return TBE_NONE;
    }
}

int tb_decode_event(const unsigned char *p, size_t n, tb_event *ev)
{
    pb_in in = pb_in_of(p, n);
    pb_field f;
    int r;
    *ev = (tb_event){.what = TBE_NONE};
    while ((r = pb_next(&in, &f)) == 1) {
        tb_what w = what_of(f.num);
        if (f.num == EV_WALL_TIME && f.wire == PB_FIXED64) {
            ev->wall_time = pb_bits_double(f.u);
        } else if (f.num == EV_STEP && f.wire == PB_VARINT) {
            ev->step = (int64_t)f.u;
        } else if (w != TBE_NONE) {
            if (f.wire != PB_BYTES)
                return -1;
            ev->what = w;
            if (w == TBE_SUMMARY) {
                ev->summary = f.s;
                ev->summary_len = f.n;
            } else if (w == TBE_SESSION_LOG && session_status(f.s, f.n, &ev->session_status)) {
                return -1;
            }
        }
    }
    return r < 0 ? -1 : 0;
}

/* SummaryMetadata: plugin_data (1) = {plugin_name (1), content (2)}. */
static int decode_meta(const unsigned char *p, size_t n, tb_sval *v)
{
    pb_in in = pb_in_of(p, n);
    pb_field f;
    int r;
    v->has_meta = 1;
    while ((r = pb_next(&in, &f)) == 1) {
        if (f.num != 1 || f.wire != PB_BYTES)
            continue;
        pb_in pd = pb_in_of(f.s, f.n);
        pb_field g;
        int s;
        while ((s = pb_next(&pd, &g)) == 1) {
            if (g.num == 1 && g.wire == PB_BYTES) {
                v->plugin = g.s;
                v->plugin_len = g.n;
            } else if (g.num == 2 && g.wire == PB_BYTES) {
                v->content = g.s;
                v->content_len = g.n;
            }
        }
        if (s < 0)
            return -1;
    }
    return r < 0 ? -1 : 0;
}

static int decode_value(const unsigned char *p, size_t n, tb_sval *v)
{
    pb_in in = pb_in_of(p, n);
    pb_field f;
    int r;
    *v = (tb_sval){.kind = TBS_NONE, .tag = p};
    while ((r = pb_next(&in, &f)) == 1) {
        switch (f.num) {
        case SV_TAG:
            if (f.wire != PB_BYTES)
                return -1;
            v->tag = f.s;
            v->tag_len = f.n;
            break;
        case SV_SIMPLE_VALUE: {
            if (f.wire != PB_FIXED32)
                return -1;
            uint32_t u = (uint32_t)f.u;
            memcpy(&v->simple, &u, sizeof u);
            v->kind = TBS_SIMPLE;
            break;
        }
        case SV_TENSOR:
            if (f.wire != PB_BYTES)
                return -1;
            v->kind = TBS_TENSOR;
            v->tensor = f.s;
            v->tensor_len = f.n;
            break;
        case SV_METADATA:
            if (f.wire != PB_BYTES || decode_meta(f.s, f.n, v) != 0)
                return -1;
            break;
        case SV_OBSOLETE_HISTO:
        case SV_IMAGE:
        case SV_HISTO:
        case SV_AUDIO:
            v->kind = TBS_OTHER;
            break;
        default:
            break;
        }
    }
    return r < 0 ? -1 : 0;
}

int tb_next_value(pb_in *summary, tb_sval *v)
{
    pb_field f;
    int r;
    while ((r = pb_next(summary, &f)) == 1) {
        if (f.num != 1)
            continue;
        if (f.wire != PB_BYTES)
            return -1;
        return decode_value(f.s, f.n, v) == 0 ? 1 : -1;
    }
    return r;
}

/* TensorShapeProto: dim (2) = {size (1)}; unknown_rank (3). */
static int decode_shape(const unsigned char *p, size_t n, int64_t *nelem)
{
    pb_in in = pb_in_of(p, n);
    pb_field f;
    int r;
    *nelem = 1;
    while ((r = pb_next(&in, &f)) == 1) {
        if (f.num != 2 || f.wire != PB_BYTES)
            continue;
        int64_t size = 0;
        pb_in d = pb_in_of(f.s, f.n);
        pb_field g;
        int s;
        while ((s = pb_next(&d, &g)) == 1)
            if (g.num == 1 && g.wire == PB_VARINT)
                size = (int64_t)g.u;
        if (s < 0)
            return -1;
        if (size < 0 || (size > 0 && *nelem > INT64_MAX / size))
            *nelem = -1;
        else if (*nelem >= 0)
            *nelem *= size;
    }
    return r < 0 ? -1 : 0;
}

/* A repeated scalar field, packed (BYTES) or not: count its elements of
 * `width` bytes (0: varints) and keep the first. */
static int repeated(const pb_field *f, int width, size_t *count, uint64_t *first)
{
    int one = width == 8 ? PB_FIXED64 : width == 4 ? PB_FIXED32 : PB_VARINT;
    if (f->wire == one) {
        if ((*count)++ == 0)
            *first = f->u;
        return 0;
    }
    if (f->wire != PB_BYTES)
        return -1;
    const unsigned char *p = f->s, *end = f->s + f->n;
    while (p < end) {
        uint64_t u = 0;
        if (width == 0) {
            if (pb_read_varint(&p, end, &u) != 0)
                return -1;
        } else {
            if ((size_t)(end - p) < (size_t)width)
                return -1;
            for (int i = width - 1; i >= 0; i--)
                u = u << 8 | p[i];
            p += width;
        }
        if ((*count)++ == 0)
            *first = u;
    }
    return 0;
}

static int tensor_field(tb_tensor *t, const pb_field *f)
{
    switch (f->num) {
    case TP_DTYPE:
        t->dtype = f->wire == PB_VARINT ? (int)f->u : -1;
        return f->wire == PB_VARINT ? 0 : -1;
    case TP_SHAPE:
        return f->wire == PB_BYTES ? decode_shape(f->s, f->n, &t->nelem) : -1;
    case TP_CONTENT:
        t->content = f->s;
        t->content_len = f->n;
        return f->wire == PB_BYTES ? 0 : -1;
    case TP_FLOAT_VAL:
        return repeated(f, 4, &t->n_float, &t->first_float);
    case TP_DOUBLE_VAL:
        return repeated(f, 8, &t->n_double, &t->first_double);
    case TP_INT_VAL:
        return repeated(f, 0, &t->n_int, &t->first_int);
    case TP_INT64_VAL:
        return repeated(f, 0, &t->n_int64, &t->first_int64);
    case TP_BOOL_VAL:
        return repeated(f, 0, &t->n_bool, &t->first_bool);
    case TP_HALF_VAL:
        return repeated(f, 0, &t->n_half, &t->first_half);
    case TP_STRING_VAL:
        if (f->wire != PB_BYTES)
            return -1;
        if (t->n_string++ == 0) {
            t->string0 = f->s;
            t->string0_len = f->n;
        }
        return 0;
    default:
        return 0;
    }
}

int tb_decode_tensor(const unsigned char *p, size_t n, tb_tensor *t)
{
    pb_in in = pb_in_of(p, n);
    pb_field f;
    int r;
    *t = (tb_tensor){.nelem = 1};
    while ((r = pb_next(&in, &f)) == 1)
        if (tensor_field(t, &f) != 0)
            return -1;
    return r < 0 ? -1 : 0;
}

/* IEEE half-precision bits to double (exact). */
static double half_to_double(uint16_t h)
{
    int e = (h >> 10) & 0x1F, m = h & 0x3FF;
    double x = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m | 0x400, e - 25);
    return (h & 0x8000) ? -x : x;
}

static uint64_t content_le(const tb_tensor *t)
{
    uint64_t u = 0;
    for (size_t i = t->content_len; i-- > 0;)
        u = u << 8 | t->content[i];
    return u;
}

/* The element size of the numeric dtypes read; 0 for the others. */
static size_t dtype_size(int dtype)
{
    switch (dtype) {
    case DT_DOUBLE:
    case DT_INT64:
        return 8;
    case DT_FLOAT:
    case DT_INT32:
        return 4;
    case DT_HALF:
        return 2;
    case DT_BOOL:
        return 1;
    default:
        return 0;
    }
}

/* The one element's bits: from tensor_content when it holds exactly one
 * element, else from the typed field when that holds exactly one. */
static int one_element(const tb_tensor *t, size_t count, uint64_t first, uint64_t *u)
{
    size_t w = dtype_size(t->dtype);
    if (t->nelem != 1 || w == 0)
        return -1;
    if (t->content_len) {
        if (t->content_len != w)
            return -1;
        *u = content_le(t);
        return 0;
    }
    if (count != 1)
        return -1;
    *u = first;
    return 0;
}

int tb_tensor_number(const tb_tensor *t, tropt_field *f)
{
    uint64_t u;
    float x;
    switch (t->dtype) {
    case DT_DOUBLE:
        if (one_element(t, t->n_double, t->first_double, &u) != 0)
            return -1;
        f->type = TROPT_REAL;
        f->v.r = pb_bits_double(u);
        return 0;
    case DT_FLOAT: {
        if (one_element(t, t->n_float, t->first_float, &u) != 0)
            return -1;
        uint32_t w = (uint32_t)u;
        memcpy(&x, &w, sizeof x);
        f->type = TROPT_REAL;
        f->v.r = (double)x;
        return 0;
    }
    case DT_HALF:
        if (one_element(t, t->n_half, t->first_half, &u) != 0)
            return -1;
        f->type = TROPT_REAL;
        f->v.r = half_to_double((uint16_t)u);
        return 0;
    case DT_INT64:
    case DT_INT32:
        if (one_element(t, t->dtype == DT_INT64 ? t->n_int64 : t->n_int,
                        t->dtype == DT_INT64 ? t->first_int64 : t->first_int, &u) != 0)
            return -1;
        f->type = TROPT_INT;
        /* int_val holds an int32 as a sign-extended varint; content as 4 bytes */
        f->v.i = t->dtype == DT_INT32 ? (int64_t)(int32_t)(uint32_t)u : (int64_t)u;
        return 0;
    case DT_BOOL:
        if (one_element(t, t->n_bool, t->first_bool, &u) != 0)
            return -1;
        f->type = TROPT_BOOL;
        f->v.b = u != 0;
        return 0;
    default:
        return -1;
    }
}

int tb_tensor_string(const tb_tensor *t, const unsigned char **s, size_t *n)
{
    if (t->dtype != DT_STRING || t->nelem != 1 || t->n_string != 1)
        return -1;
    *s = t->string0;
    *n = t->string0_len;
    return 0;
}

/* google.protobuf.Value into f (kind 0: none of the four). */
static int decode_pbvalue(const unsigned char *p, size_t n, tropt_field *f, size_t *slen)
{
    pb_in in = pb_in_of(p, n);
    pb_field g;
    int r, kind = 0;
    while ((r = pb_next(&in, &g)) == 1) {
        if (g.num == 1 && g.wire == PB_VARINT) {
            f->type = TROPT_NULL;
            kind = 1;
        } else if (g.num == 2 && g.wire == PB_FIXED64) {
            f->type = TROPT_REAL;
            f->v.r = pb_bits_double(g.u);
            kind = 1;
        } else if (g.num == 3 && g.wire == PB_BYTES) {
            f->type = TROPT_STRING;
            f->v.s = (const char *)g.s;
            *slen = g.n;
            kind = 1;
        } else if (g.num == 4 && g.wire == PB_VARINT) {
            f->type = TROPT_BOOL;
            f->v.b = g.u != 0;
            kind = 1;
        } else if (g.num == 5 || g.num == 6) {
            kind = 0; /* a struct or list: not a value the plugin writes */
        }
    }
    return r < 0 ? -1 : kind;
}

/* One hparams map entry {key (1), value (2)}. */
static int hparam_entry(const unsigned char *p, size_t n, tb_hparam_fn fn, void *ud)
{
    pb_in in = pb_in_of(p, n);
    pb_field g;
    int r;
    const unsigned char *key = p, *val = NULL;
    size_t key_len = 0, val_len = 0;
    while ((r = pb_next(&in, &g)) == 1) {
        if (g.num == 1 && g.wire == PB_BYTES) {
            key = g.s;
            key_len = g.n;
        } else if (g.num == 2 && g.wire == PB_BYTES) {
            val = g.s;
            val_len = g.n;
        }
    }
    if (r < 0)
        return -1;
    tropt_field f = {.type = TROPT_NULL};
    size_t slen = 0;
    int k = val ? decode_pbvalue(val, val_len, &f, &slen) : 0;
    if (k < 0)
        return -1;
    return k ? fn(ud, key, key_len, &f, slen) : 0;
}

int tb_decode_hparams(const unsigned char *content, size_t n, tb_hparam_fn fn, void *ud,
                      double *start)
{
    pb_in in = pb_in_of(content, n);
    pb_field f;
    int r, found = 0;
    const unsigned char *ssi = NULL;
    size_t ssi_len = 0;
    while ((r = pb_next(&in, &f)) == 1) {
        if (f.num == 3 && f.wire == PB_BYTES) {
            ssi = f.s;
            ssi_len = f.n;
            found = 1;
        }
    }
    if (r < 0)
        return -1;
    if (!found)
        return 1;
    pb_in s = pb_in_of(ssi, ssi_len);
    while ((r = pb_next(&s, &f)) == 1) {
        if (f.num == 1 && f.wire == PB_BYTES) {
            int rc = hparam_entry(f.s, f.n, fn, ud);
            if (rc)
                return rc;
        } else if (f.num == 5 && f.wire == PB_FIXED64) {
            *start = pb_bits_double(f.u);
        }
    }
    return r < 0 ? -1 : 0;
}
