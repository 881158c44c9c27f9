/*
 * plugins/http/influx.c - InfluxDB line protocol encoder.
 *
 * Escaping (https://docs.influxdata.com/influxdb/v2/reference/syntax/line-protocol/):
 *   measurement               comma, space and backslash get a backslash
 *   tag keys/values, field keys  comma, equals sign, space, backslash
 *   string field values       double quote and backslash
 * The protocol has no way to carry a newline in a name, so control
 * characters in names become '_'; in string values "\n", "\r" and "\t" are
 * written as those two-character escapes.
 */
#include "influx.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

/* Can byte c be written as it is?  (The rules below, as a quick test.) */
static int plain(unsigned char c, int kind)
{
    if (kind == 's')
        return c != '"' && c != '\\' && c != '\n' && c != '\r' && c != '\t';
    return c >= 0x20 && c != 0x7F && c != ',' && c != ' ' && c != '\\' && (kind != 'k' || c != '=');
}

int influx_put_escaped(tev_buf *b, const char *s, int kind)
{
    size_t run = 0, i = 0;
    for (; s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (plain(c, kind))
            continue;
        const char *esc = NULL;
        char two[3] = {'\\', (char)c, '\0'};
        if (kind == 's') {
            if (c == '"' || c == '\\')
                esc = two;
            else if (c == '\n')
                esc = "\\n";
            else if (c == '\r')
                esc = "\\r";
            else if (c == '\t')
                esc = "\\t";
        } else {
            if (c < 0x20 || c == 0x7F)
                esc = "_";
            else if (c == ',' || c == ' ' || c == '\\' || (kind == 'k' && c == '='))
                esc = two;
        }
        if (esc) {
            if (tev_buf_append(b, s + run, i - run) != 0 || tev_buf_puts(b, esc) != 0)
                return -1;
            run = i + 1;
        }
    }
    return tev_buf_append(b, s + run, i - run);
}

static int has_key(const tropt_field *fields, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(fields[i].key, key) == 0)
            return 1;
    return 0;
}

int influx_tags(tev_buf *b, const char *spec)
{
    int idx = 1;
    const char *p = spec;
    while (*p) {
        size_t len = strcspn(p, "|");
        const char *eq = memchr(p, '=', len);
        if (!eq || eq == p || eq == p + len - 1)
            return idx;
        char key[256], val[1024];
        size_t kl = (size_t)(eq - p), vl = len - kl - 1;
        if (kl >= sizeof key || vl >= sizeof val)
            return idx;
        memcpy(key, p, kl);
        key[kl] = '\0';
        memcpy(val, eq + 1, vl);
        val[vl] = '\0';
        if (strcmp(key, "time") == 0) /* InfluxDB 1.x drops it */
            return idx;
        if (tev_buf_puts(b, ",") != 0 || influx_put_escaped(b, key, 'k') != 0 ||
            tev_buf_puts(b, "=") != 0 || influx_put_escaped(b, val, 'k') != 0)
            return -1;
        p += len;
        if (*p == '|')
            p++;
        idx++;
    }
    return 0;
}

int influx_prefix(tev_buf *b, const char *measurement, const char *run_id, const char *extra_tags)
{
    size_t mark = b->len;
    if (!measurement || !*measurement)
        measurement = "tropt";
    /* a line starting with '#' is a comment: the server would answer 204
     * and store nothing */
    int hash = *measurement == '#';
    if ((hash && tev_buf_puts(b, "_") != 0) ||
        influx_put_escaped(b, measurement + hash, 'm') != 0 || tev_buf_puts(b, ",run_id=") != 0 ||
        influx_put_escaped(b, run_id, 'k') != 0 ||
        (extra_tags && tev_buf_puts(b, extra_tags) != 0) || tev_buf_puts(b, " ") != 0) {
        b->len = mark;
        if (b->data)
            b->data[mark] = '\0';
        return -1;
    }
    return 0;
}

int influx_encode_log(tev_buf *b, const char *measurement, const char *run_id,
                      const char *extra_tags, int64_t step, double time, const tropt_field *fields,
                      size_t n, tev_format_real_fn fn, size_t *n_skipped)
{
    size_t mark = b->len;
    if (influx_prefix(b, measurement, run_id, extra_tags) != 0)
        return -1;
    return influx_encode_fields(b, mark, step, time, fields, n, fn, n_skipped);
}

/* Back to `mark` (the line not written). */
static void influx_undo(tev_buf *b, size_t mark)
{
    b->len = mark;
    if (b->data)
        b->data[mark] = '\0';
}

/* A field's value in line protocol; 0, or -1 when out of memory. */
static int influx_put_value(tev_buf *b, const tropt_field *f, tev_format_real_fn fn)
{
    char tmp[64];
    switch (f->type) {
    case TROPT_BOOL:
        return tev_buf_puts(b, f->v.b ? "true" : "false");
    case TROPT_INT:
        return tev_buf_put_i64(b, f->v.i) || tev_buf_puts(b, "i");
    case TROPT_REAL:
        (fn ? fn : tev_format_real)(tmp, sizeof tmp, f->v.r);
        return tev_buf_puts(b, tmp);
    case TROPT_STRING:
        return tev_buf_puts(b, "\"") || influx_put_escaped(b, f->v.s, 's') || tev_buf_puts(b, "\"");
    case TROPT_JSON: {
        tev_buf js;
        tev_buf_init(&js, b->realloc_fn, b->free_fn);
        int rc = tev_put_json(&js, f->v.json, fn) || tev_buf_puts(b, "\"") ||
                 influx_put_escaped(b, js.data ? js.data : "", 's') || tev_buf_puts(b, "\"");
        tev_buf_free(&js);
        return rc;
    }
    default:
        return tev_buf_puts(b, "\"\"");
    }
}

/* A field line protocol cannot hold: no key, null, or a real that is not
 * finite. */
static int influx_unrepresentable(const tropt_field *f)
{
    return !f->key[0] || f->type == TROPT_NULL || (f->type == TROPT_REAL && !isfinite(f->v.r));
}

/* ",key=value" (no comma before the first); -1 when out of memory. */
static int influx_put_field(tev_buf *b, int first, const tropt_field *f, tev_format_real_fn fn)
{
    /* InfluxDB 1.x silently drops a field named time */
    int is_time = strcmp(f->key, "time") == 0;
    if ((!first && tev_buf_puts(b, ",") != 0) ||
        (is_time ? tev_buf_puts(b, "time_") : influx_put_escaped(b, f->key, 'k')) != 0 ||
        tev_buf_puts(b, "=") != 0)
        return -1;
    return influx_put_value(b, f, fn) != 0 ? -1 : 0;
}

/* The point's timestamp in nanoseconds.  One point per series and timestamp
 * survives in InfluxDB, and a tight loop logs several steps within one
 * double's resolution of the time (~0.24 us today): the timestamp is the
 * time to the millisecond plus the step modulo 1,000,000 in nanoseconds,
 * unique per step of a run unless a million steps share one millisecond,
 * and the same for the same step (a resent or replayed point overwrites
 * itself). */
static int64_t influx_timestamp(double time, int64_t step)
{
    double ns = time * 1e9;
    if (!isfinite(ns) || ns < 0 || ns > 9.2e18)
        ns = 0;
    return (int64_t)llround(ns) / 1000000 * 1000000 + (step % 1000000 + 1000000) % 1000000;
}

int influx_encode_fields(tev_buf *b, size_t mark, int64_t step, double time,
                         const tropt_field *fields, size_t n, tev_format_real_fn fn,
                         size_t *n_skipped)
{
    int nf = 0;
    if (!has_key(fields, n, "step")) {
        if (tev_buf_puts(b, "step=") != 0 || tev_buf_put_i64(b, step) != 0 ||
            tev_buf_puts(b, "i") != 0)
            goto oom;
        nf++;
    }
    for (size_t i = 0; i < n; i++) {
        if (influx_unrepresentable(&fields[i])) {
            (*n_skipped)++;
            continue;
        }
        if (influx_put_field(b, nf == 0, &fields[i], fn) != 0)
            goto oom;
        nf++;
    }
    if (nf == 0) { /* every field was unrepresentable: no point at all */
        influx_undo(b, mark);
        return 0;
    }
    if (tev_buf_puts(b, " ") != 0 || tev_buf_put_i64(b, influx_timestamp(time, step)) != 0 ||
        tev_buf_puts(b, "\n") != 0)
        goto oom;
    return 0;
oom:
    influx_undo(b, mark);
    return -1;
}

/* The fields of system samples: <key>=<mean>,<key>_max=<max> for each
 * finite value; *nf counts them.  0, or -1 out of memory. */
static int influx_put_samples(tev_buf *b, const tropt_sample *s, size_t n, tev_format_real_fn fn,
                              int *nf)
{
    char tmp[64];
    for (size_t i = 0; i < n; i++) {
        double v[2] = {s[i].value, s[i].max};
        for (int k = 0; k < 2; k++) {
            if (!isfinite(v[k]) || !s[i].key[0])
                continue; /* influx has no NaN or infinity */
            (fn ? fn : tev_format_real)(tmp, sizeof tmp, v[k]);
            if (((*nf)++ && tev_buf_puts(b, ",") != 0) ||
                influx_put_escaped(b, s[i].key, 'k') != 0 || (k && tev_buf_puts(b, "_max") != 0) ||
                tev_buf_puts(b, "=") != 0 || tev_buf_puts(b, tmp) != 0)
                return -1;
        }
    }
    return 0;
}

int influx_encode_system(tev_buf *b, const char *measurement, const char *run_id,
                         const char *extra_tags, double time, const tropt_sample *s, size_t n,
                         tev_format_real_fn fn)
{
    size_t mark = b->len;
    int nf = 0;
    if (influx_prefix(b, measurement, run_id, extra_tags) != 0)
        return -1;
    if (influx_put_samples(b, s, n, fn, &nf) != 0)
        goto oom;
    if (nf == 0) {
        influx_undo(b, mark);
        return 0;
    }
    /* to the microsecond, then ns: time * 1e9 is past double's exact range
     * (1.7e18 > 2^53) and would move the millisecond a reader sees */
    double us = time * 1e6;
    if (!isfinite(us) || us < 0 || us > 9.2e15)
        us = 0;
    if (tev_buf_puts(b, " ") != 0 || tev_buf_put_i64(b, (int64_t)llround(us) * 1000) != 0 ||
        tev_buf_puts(b, "\n") != 0)
        goto oom;
    return 0;
oom:
    influx_undo(b, mark);
    return -1;
}
