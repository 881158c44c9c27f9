/* plugins/tensorboard/tb_stats.c - what an event file holds, in a few
 * numbers, and its index beside the file (tb_stats.h). */
#include "tb_stats.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void tb_stats_init(tb_stats *st)
{
    memset(st, 0, sizeof *st);
    st->end_at = NAN;
}

void tb_stats_free(tb_stats *st)
{
    json_decref(st->notes);
    tb_stats_init(st);
}

void tb_stats_step(tb_stats *st, int64_t step)
{
    if (!st->has_steps) {
        st->has_steps = st->dense = 1;
        st->lo = st->hi = st->max = step;
        return;
    }
    if (st->dense && step == st->hi + 1)
        st->hi = step;
    else if (step != st->hi)
        st->dense = 0;
    if (step > st->max)
        st->max = step;
}

void tb_stats_order(tb_stats *st, int64_t step)
{
    if (st->has_steps && step < st->hi)
        st->dense = 0;
}

void tb_stats_mark(tb_stats *st, int64_t attempt, int64_t seq, int64_t step)
{
    if (st->has_mark &&
        (attempt < st->mark_attempt || (attempt == st->mark_attempt && seq < st->mark_seq)))
        return;
    st->has_mark = 1;
    st->mark_attempt = attempt;
    st->mark_seq = seq;
    st->mark_step = step;
}

void tb_stats_end(tb_stats *st, const char *status, double at)
{
    st->has_end = 1;
    snprintf(st->end_status, sizeof st->end_status, "%s", status);
    st->end_at = at;
}

int tb_stats_note(tb_stats *st, int kind, const char *text, double time)
{
    if (!st->notes && !(st->notes = json_array()))
        return -1;
    json_t *n = json_pack("[i, s, f]", kind, text, time);
    if (!n || json_array_append_new(st->notes, n) != 0)
        return -1;
    return 0;
}

/* ---- the index ------------------------------------------------------------ */

/* "key": after the object's '{' or, with a comma, after a member. */
static int put_key(tev_buf *b, const char *key)
{
    return (b->data[b->len - 1] != '{' && tev_buf_putc(b, ',')) ||
           tev_put_string(b, key, strlen(key)) || tev_buf_putc(b, ':');
}

static int put_notes(tev_buf *b, const json_t *notes)
{
    if (tev_buf_putc(b, '['))
        return -1;
    for (size_t i = 0; i < json_array_size(notes); i++) {
        const json_t *n = json_array_get(notes, i);
        const char *text = json_string_value(json_array_get(n, 1));
        if ((i && tev_buf_putc(b, ',')) ||
            tev_buf_printf(b, "[%" PRId64 ",", (int64_t)json_integer_value(json_array_get(n, 0))) ||
            tev_put_string(b, text, strlen(text)) || tev_buf_putc(b, ',') ||
            tev_put_real(b, json_number_value(json_array_get(n, 2)), NULL) || tev_buf_putc(b, ']'))
            return -1;
    }
    return tev_buf_putc(b, ']');
}

/* The members of st that are known. */
static int put_members(tev_buf *b, const tb_stats *st)
{
    if (st->has_steps &&
        (put_key(b, "steps") || tev_buf_printf(b, "[%" PRId64 ",%" PRId64 ",%" PRId64 ",%d]",
                                               st->lo, st->hi, st->max, st->dense)))
        return -1;
    if (st->has_mark &&
        (put_key(b, "mark") || tev_buf_printf(b, "[%" PRId64 ",%" PRId64 ",%" PRId64 "]",
                                              st->mark_attempt, st->mark_seq, st->mark_step)))
        return -1;
    if (st->has_end &&
        (put_key(b, "end") || tev_buf_putc(b, '[') ||
         tev_put_string(b, st->end_status, strlen(st->end_status)) || tev_buf_putc(b, ',') ||
         tev_put_real(b, st->end_at, NULL) || tev_buf_putc(b, ']')))
        return -1;
    return st->notes && (put_key(b, "notes") || put_notes(b, st->notes));
}

int tb_stats_put(tev_buf *b, const tb_stats *st, const char *file, off_t size)
{
    size_t mark = b->len;
    if (tev_buf_putc(b, '{') || put_key(b, "file") || tev_put_string(b, file, strlen(file)) ||
        put_key(b, "size") || tev_buf_put_i64(b, (int64_t)size) || put_members(b, st) ||
        tev_buf_puts(b, "}\n")) {
        b->len = mark;
        return -1;
    }
    return 0;
}

static int get_i64(const json_t *a, size_t i, int64_t *out)
{
    const json_t *v = json_array_get(a, i);
    if (!json_is_integer(v))
        return -1;
    *out = (int64_t)json_integer_value(v);
    return 0;
}

/* The notes array, checked: [[int, string, number]...]. */
static int get_notes(tb_stats *st, json_t *notes)
{
    if (!notes)
        return 0;
    size_t i;
    json_t *n;
    if (!json_is_array(notes))
        return -1;
    json_array_foreach(notes, i, n)
    {
        if (!json_is_integer(json_array_get(n, 0)) || !json_is_string(json_array_get(n, 1)) ||
            !json_is_number(json_array_get(n, 2)))
            return -1;
    }
    st->notes = json_incref(notes);
    return 0;
}

static int get_members(tb_stats *st, json_t *o)
{
    const json_t *steps = json_object_get(o, "steps"), *mark = json_object_get(o, "mark"),
                 *end = json_object_get(o, "end");
    int64_t dense = 0;
    if (steps && (get_i64(steps, 0, &st->lo) || get_i64(steps, 1, &st->hi) ||
                  get_i64(steps, 2, &st->max) || get_i64(steps, 3, &dense)))
        return -1;
    st->has_steps = steps != NULL;
    st->dense = dense != 0;
    if (mark && (get_i64(mark, 0, &st->mark_attempt) || get_i64(mark, 1, &st->mark_seq) ||
                 get_i64(mark, 2, &st->mark_step)))
        return -1;
    st->has_mark = mark != NULL;
    if (end) {
        const char *status = json_string_value(json_array_get(end, 0));
        const json_t *at = json_array_get(end, 1);
        if (!status || !json_is_number(at))
            return -1;
        tb_stats_end(st, status, json_number_value(at));
    }
    return get_notes(st, json_object_get(o, "notes"));
}

int tb_stats_get(tb_stats *st, off_t *size, const char *text, size_t n, const char *file)
{
    tb_stats_free(st);
    json_error_t err;
    json_t *o = json_loadb(text, n, 0, &err);
    if (!o)
        return json_error_code(&err) == json_error_out_of_memory ? -1 : 0;
    const char *name = json_string_value(json_object_get(o, "file"));
    const json_t *sz = json_object_get(o, "size");
    int ok = name && strcmp(name, file) == 0 && json_is_integer(sz) &&
             json_integer_value(sz) >= 0 && get_members(st, o) == 0;
    if (ok)
        *size = (off_t)json_integer_value(sz);
    else
        tb_stats_free(st);
    json_decref(o);
    return ok;
}

void tb_stats_index_name(const char *file, char *out)
{
    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a, 64 bits */
    for (const unsigned char *p = (const unsigned char *)file; *p; p++)
        h = (h ^ *p) * 0x100000001b3u;
    snprintf(out, TB_IDX_NAME_MAX, ".tropt-idx-%016" PRIx64, h);
}
