/*
 * plugins/common/tropt_event.c - encoder and decoder of the NDJSON event
 * format (see README.md in this folder for the schema).
 */
#include "tropt_event.h"
#include "tropt_num.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- buffer ----------------------------------------------------------- */

void tev_buf_init(tev_buf *b, void *(*realloc_fn)(void *, size_t), void (*free_fn)(void *))
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->realloc_fn = realloc_fn ? realloc_fn : realloc;
    b->free_fn = free_fn ? free_fn : free;
}

void tev_buf_free(tev_buf *b)
{
    if (b->data)
        b->free_fn(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void tev_buf_clear(tev_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *tev_buf_steal(tev_buf *b)
{
    char *p = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

int tev_buf_reserve(tev_buf *b, size_t extra)
{
    if (extra > SIZE_MAX / 2 - b->len - 1)
        return -1;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = b->realloc_fn(b->data, cap);
    if (!p)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int tev_buf_append(tev_buf *b, const void *p, size_t n)
{
    if (tev_buf_reserve(b, n) != 0)
        return -1;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int tev_buf_putc(tev_buf *b, char c)
{
    return tev_buf_append(b, &c, 1);
}

int tev_buf_puts(tev_buf *b, const char *s)
{
    return tev_buf_append(b, s, strlen(s));
}

int tev_buf_put_i64(tev_buf *b, int64_t v)
{
    if (tev_buf_reserve(b, TROPT_I64_DIGITS_MAX) != 0)
        return -1;
    b->len += tropt_put_i64(b->data + b->len, v);
    b->data[b->len] = '\0';
    return 0;
}

int tev_buf_printf(tev_buf *b, const char *fmt, ...)
{
    char small[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof small)
        return tev_buf_append(b, small, (size_t)n);
    if (tev_buf_reserve(b, (size_t)n) != 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

/* ---- reals ------------------------------------------------------------ */

size_t tev_format_real(char *buf, size_t size, double x)
{
    int n;
    if (isnan(x))
        n = snprintf(buf, size, "nan");
    else if (isinf(x))
        n = snprintf(buf, size, x < 0 ? "-inf" : "inf");
    else {
        /* %.15g drops trailing zeros, so it is the shortest form whenever
         * it round-trips; otherwise 16, and 17 digits always do. */
        char tmp[40];
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(tmp, sizeof tmp, "%.*g", prec, x);
            if (prec == 17 || strtod(tmp, NULL) == x)
                break;
        }
        n = snprintf(buf, size, "%s", tmp);
    }
    return n < 0 ? 0 : (size_t)n;
}

/* A formatted real JSON takes as it is: a digit before any '.', no leading
 * '+', and a '.' or an exponent that marks it as a real. */
static int json_real_as_is(const char *t, size_t n)
{
    return n > 0 && t[0] != '.' && t[0] != '+' && !(t[0] == '-' && t[1] == '.') &&
           strpbrk(t, ".eE") != NULL;
}

/* tmp (n bytes) rewritten into buf as JSON wants it: a digit before '.',
 * no leading '+', and ".0" when it would otherwise read as an integer. */
static size_t json_real_fix(char *buf, size_t size, const char *tmp, size_t n)
{
    size_t o = 0;
    int has_mark = 0;
    for (size_t i = 0; i < n && o + 4 < size; i++) {
        char c = tmp[i];
        if (c == '.' && (i == 0 || tmp[i - 1] == '-' || tmp[i - 1] == '+'))
            buf[o++] = '0';
        if (c == '.' || c == 'e' || c == 'E')
            has_mark = 1;
        if (c == '+' && i == 0)
            continue;
        buf[o++] = c;
    }
    if (!has_mark && o + 3 < size) {
        buf[o++] = '.';
        buf[o++] = '0';
    }
    buf[o] = '\0';
    return o;
}

size_t tev_json_real(char *buf, size_t size, double x, tev_format_real_fn fn)
{
    char tmp[64];
    size_t n = (fn ? fn : tev_format_real)(tmp, sizeof tmp, x);
    if (n >= sizeof tmp)
        n = tev_format_real(tmp, sizeof tmp, x);
    if (n + 4 < size && json_real_as_is(tmp, n)) { /* the usual case */
        memcpy(buf, tmp, n + 1);
        return n;
    }
    return json_real_fix(buf, size, tmp, n);
}

/* ---- strings ---------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (of at most n bytes), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* Bytes a JSON string cannot hold as they are, or that start a UTF-8
 * sequence to check: control characters, '"', '\\', DEL and >= 0x80. */
static int json_special(unsigned char c)
{
    return c < 0x20 || c == '"' || c == '\\' || c >= 0x7F;
}

int tev_put_string(tev_buf *b, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    if (tev_buf_reserve(b, len + 2) != 0)
        return -1;
    b->data[b->len++] = '"';
    size_t run = 0; /* start of the pending run of bytes copied verbatim */
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (!json_special((unsigned char)c)) {
            i++;
            continue;
        }
        const char *esc = NULL;
        char ubuf[8];
        size_t adv = 1;
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c < 0x20 || c == 0x7F) {
            snprintf(ubuf, sizeof ubuf, "\\u%04x", c);
            esc = ubuf;
        } else if (c >= 0x80) {
            adv = utf8_seq(s + i, len - i);
            if (adv == 0) {
                esc = "\\ufffd";
                adv = 1;
            }
        }
        if (esc) {
            if (tev_buf_append(b, s + run, i - run) != 0 || tev_buf_puts(b, esc) != 0)
                return -1;
            run = i + adv;
        }
        i += adv;
    }
    if (tev_buf_append(b, s + run, len - run) != 0 || tev_buf_append(b, "\"", 1) != 0)
        return -1;
    return 0;
}

int tev_put_real(tev_buf *b, double x, tev_format_real_fn fn)
{
    char tmp[64];
    if (isfinite(x)) {
        size_t n = tev_json_real(tmp, sizeof tmp, x, fn);
        return tev_buf_append(b, tmp, n);
    }
    return tev_buf_puts(b, isnan(x) ? "{\"$real\":\"nan\"}"
                           : x < 0  ? "{\"$real\":\"-inf\"}"
                                    : "{\"$real\":\"inf\"}");
}

/* A newline and indent * depth spaces, when pretty-printing (indent >= 0). */
static int put_indent(tev_buf *b, int indent, int depth)
{
    if (indent < 0)
        return 0;
    size_t n = (size_t)indent * (size_t)depth;
    if (tev_buf_reserve(b, n + 1) != 0)
        return -1;
    b->data[b->len++] = '\n';
    memset(b->data + b->len, ' ', n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

static int put_json(tev_buf *b, const json_t *v, tev_format_real_fn fn, int indent, int depth)
{
    if (!v)
        return tev_buf_puts(b, "null");
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *val;
        int first = 1;
        if (tev_buf_append(b, "{", 1) != 0)
            return -1;
        json_object_foreach((json_t *)v, key, val)
        {
            if ((!first && tev_buf_append(b, ",", 1) != 0) ||
                put_indent(b, indent, depth + 1) != 0 || tev_put_string(b, key, strlen(key)) != 0 ||
                tev_buf_append(b, ": ", indent < 0 ? 1 : 2) != 0 ||
                put_json(b, val, fn, indent, depth + 1) != 0)
                return -1;
            first = 0;
        }
        if (!first && put_indent(b, indent, depth) != 0)
            return -1;
        return tev_buf_append(b, "}", 1);
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *val;
        if (tev_buf_append(b, "[", 1) != 0)
            return -1;
        json_array_foreach((json_t *)v, i, val)
        {
            if ((i && tev_buf_append(b, ",", 1) != 0) || put_indent(b, indent, depth + 1) != 0 ||
                put_json(b, val, fn, indent, depth + 1) != 0)
                return -1;
        }
        if (json_array_size(v) && put_indent(b, indent, depth) != 0)
            return -1;
        return tev_buf_append(b, "]", 1);
    }
    case JSON_STRING:
        return tev_put_string(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return tev_buf_put_i64(b, (int64_t)json_integer_value(v));
    case JSON_REAL:
        return tev_put_real(b, json_real_value(v), fn);
    case JSON_TRUE:
        return tev_buf_puts(b, "true");
    case JSON_FALSE:
        return tev_buf_puts(b, "false");
    case JSON_NULL:
    default:
        return tev_buf_puts(b, "null");
    }
}

int tev_put_json(tev_buf *b, const json_t *v, tev_format_real_fn fn)
{
    return put_json(b, v, fn, -1, 0);
}

int tev_put_json_indent(tev_buf *b, const json_t *v, tev_format_real_fn fn, int indent)
{
    return put_json(b, v, fn, indent < 0 ? -1 : indent, 0);
}

/* ---- encoding --------------------------------------------------------- */

static int put_key(tev_buf *b, const char *key)
{
    if (tev_put_string(b, key, strlen(key)) != 0)
        return -1;
    return tev_buf_append(b, ":", 1);
}

static int put_head(tev_buf *b, const char *type, const char *run_id, double time,
                    tev_format_real_fn fn)
{
    char tmp[64];
    tev_json_real(tmp, sizeof tmp, isfinite(time) ? time : 0.0, fn);
    if (tev_buf_puts(b, "{\"type\":\"") != 0 || tev_buf_puts(b, type) != 0 ||
        tev_buf_puts(b, "\",\"run_id\":") != 0 ||
        tev_put_string(b, run_id ? run_id : "", run_id ? strlen(run_id) : 0) != 0 ||
        tev_buf_puts(b, ",\"time\":") != 0 || tev_buf_puts(b, tmp) != 0)
        return -1;
    return 0;
}

static int put_object_or_null(tev_buf *b, const json_t *v, tev_format_real_fn fn)
{
    if (!v || !json_is_object(v))
        return tev_buf_puts(b, "null");
    return tev_put_json(b, v, fn);
}

static int put_str_member(tev_buf *b, const char *key, const char *v)
{
    if (tev_buf_putc(b, ',') != 0 || put_key(b, key) != 0)
        return -1;
    return tev_put_string(b, v, strlen(v));
}

static int put_i64_member(tev_buf *b, const char *key, int64_t v)
{
    if (tev_buf_putc(b, ',') != 0 || put_key(b, key) != 0)
        return -1;
    return tev_buf_put_i64(b, v);
}

static int put_real_member(tev_buf *b, const char *key, double v, tev_format_real_fn fn)
{
    if (tev_buf_putc(b, ',') != 0 || put_key(b, key) != 0)
        return -1;
    return tev_put_real(b, v, fn);
}

/* "provenance":{...} with the members that are known; nothing when none is. */
static int put_provenance(tev_buf *b, const tropt_provenance *p)
{
    if (!p || !(p->command || p->cwd || p->git_commit || p->version))
        return 0;
    const char *keys[4] = {"command", "cwd", "git_commit", "version"};
    const char *vals[4] = {p->command, p->cwd, p->git_commit, p->version};
    if (tev_buf_puts(b, ",\"provenance\":{") != 0)
        return -1;
    int first = 1;
    for (int i = 0; i < 4; i++) {
        if (!vals[i])
            continue;
        if ((!first && tev_buf_putc(b, ',') != 0) || put_key(b, keys[i]) != 0 ||
            tev_put_string(b, vals[i], strlen(vals[i])) != 0)
            return -1;
        first = 0;
    }
    return tev_buf_putc(b, '}');
}

/* The members ABI 1.2 added to a run_start: the name always; attempt,
 * from_step and the run's first start for a continuation; the rest when
 * known. */
static int put_run_v12(tev_buf *b, const tropt_run *run, tev_format_real_fn fn)
{
    if (run->name && put_str_member(b, "name", run->name) != 0)
        return -1;
    if (run->attempt > 1 && (put_i64_member(b, "attempt", run->attempt) != 0 ||
                             put_i64_member(b, "from_step", run->from_step) != 0 ||
                             put_real_member(b, "started_at", run->started_at, fn) != 0))
        return -1;
    if (run->resume_key && put_str_member(b, "resume_key", run->resume_key) != 0)
        return -1;
    if (run->pidns && put_str_member(b, "pidns", run->pidns) != 0)
        return -1;
    return put_provenance(b, run->provenance);
}

static int encode_run_start(tev_buf *b, const tropt_run *run, const json_t *config,
                            tev_format_real_fn fn, int v12)
{
    size_t mark = b->len;
    const char *exp = run->experiment ? run->experiment : "";
    const char *host = run->host ? run->host : "";
    /* "time" is when this attempt started (the run's start for attempt 1) */
    double start = v12 && run->attempt > 1 ? run->attempt_started_at : run->started_at;
    if (put_head(b, "run_start", run->run_id, start, fn) != 0 ||
        tev_buf_puts(b, ",\"experiment\":") != 0 || tev_put_string(b, exp, strlen(exp)) != 0 ||
        tev_buf_puts(b, ",\"host\":") != 0 || tev_put_string(b, host, strlen(host)) != 0 ||
        tev_buf_printf(b, ",\"pid\":%" PRId64 ",\"config\":", run->pid) != 0 ||
        put_object_or_null(b, config, fn) != 0 || (v12 && put_run_v12(b, run, fn) != 0) ||
        tev_buf_puts(b, "}\n") != 0)
        goto oom;
    return 0;
oom:
    b->len = mark;
    return -1;
}

int tev_encode_run_start(tev_buf *b, const tropt_run *run, const json_t *config,
                         tev_format_real_fn fn)
{
    return encode_run_start(b, run, config, fn, 0);
}

int tev_encode_run_start_v12(tev_buf *b, const tropt_run *run, const json_t *config,
                             tev_format_real_fn fn)
{
    return encode_run_start(b, run, config, fn, 1);
}

int tev_encode_checkpoint(tev_buf *b, const char *run_id, const tropt_checkpoint *m,
                          tev_format_real_fn fn)
{
    size_t mark = b->len;
    if (put_head(b, "checkpoint", run_id, m->time, fn) != 0 ||
        put_i64_member(b, "attempt", m->attempt < 1 ? 1 : m->attempt) != 0 ||
        put_i64_member(b, "seq", m->seq) != 0 || put_i64_member(b, "step", m->step) != 0 ||
        put_str_member(b, "path", m->path ? m->path : "") != 0 ||
        (m->size >= 0 && put_i64_member(b, "size", m->size) != 0) ||
        (m->sha256 && put_str_member(b, "sha256", m->sha256) != 0) ||
        (m->error && put_str_member(b, "error", m->error) != 0) || tev_buf_puts(b, "}\n") != 0)
        goto oom;
    return 0;
oom:
    b->len = mark;
    return -1;
}

int tev_encode_system(tev_buf *b, const char *run_id, int64_t attempt, double time,
                      const tropt_sample *s, size_t n, tev_format_real_fn fn)
{
    size_t mark = b->len;
    if (put_head(b, "system", run_id, time, fn) != 0 ||
        put_i64_member(b, "attempt", attempt < 1 ? 1 : attempt) != 0 ||
        tev_buf_puts(b, ",\"data\":{") != 0)
        goto oom;
    for (size_t i = 0; i < n; i++)
        if ((i && tev_buf_putc(b, ',') != 0) || put_key(b, s[i].key) != 0 ||
            tev_buf_putc(b, '[') != 0 || tev_put_real(b, s[i].value, fn) != 0 ||
            tev_buf_putc(b, ',') != 0 || tev_put_real(b, s[i].max, fn) != 0 ||
            tev_buf_putc(b, ']') != 0)
            goto oom;
    if (tev_buf_puts(b, "}}\n") != 0)
        goto oom;
    return 0;
oom:
    b->len = mark;
    return -1;
}

static const char *const annotation_kinds[] = {NULL, "tag", "untag", "note", "rename"};

int tev_encode_annotate(tev_buf *b, const char *run_id, const tropt_annotation *a,
                        tev_format_real_fn fn)
{
    size_t mark = b->len;
    if (a->kind < TROPT_ANNOTATE_TAG || a->kind > TROPT_ANNOTATE_RENAME)
        return -1;
    if (put_head(b, "annotate", run_id, a->time, fn) != 0 ||
        put_str_member(b, "kind", annotation_kinds[a->kind]) != 0 ||
        put_str_member(b, "text", a->text ? a->text : "") != 0 || tev_buf_puts(b, "}\n") != 0)
        goto oom;
    return 0;
oom:
    b->len = mark;
    return -1;
}

int tev_encode_delete(tev_buf *b, const char *run_id, double time, tev_format_real_fn fn)
{
    size_t mark = b->len;
    if (put_head(b, "delete", run_id, time, fn) != 0 || tev_buf_puts(b, "}\n") != 0) {
        b->len = mark;
        return -1;
    }
    return 0;
}

int tev_put_field_value(tev_buf *b, const tropt_field *f, tev_format_real_fn fn)
{
    switch (f->type) {
    case TROPT_NULL:
        return tev_buf_puts(b, "null");
    case TROPT_BOOL:
        return tev_buf_puts(b, f->v.b ? "true" : "false");
    case TROPT_INT:
        return tev_buf_put_i64(b, f->v.i);
    case TROPT_REAL:
        return tev_put_real(b, f->v.r, fn);
    case TROPT_STRING:
        return f->v.s ? tev_put_string(b, f->v.s, strlen(f->v.s)) : tev_buf_puts(b, "null");
    case TROPT_JSON:
        return tev_put_json(b, f->v.json, fn);
    default:
        return tev_buf_puts(b, "null");
    }
}

int tev_encode_log(tev_buf *b, const char *run_id, int64_t step, double time,
                   const tropt_field *fields, size_t n, tev_format_real_fn fn)
{
    return tev_encode_log_at(b, run_id, 1, step, time, fields, n, fn);
}

int tev_encode_log_at(tev_buf *b, const char *run_id, int64_t attempt, int64_t step, double time,
                      const tropt_field *fields, size_t n, tev_format_real_fn fn)
{
    size_t mark = b->len;
    if (put_head(b, "log", run_id, time, fn) != 0 || tev_buf_puts(b, ",\"step\":") != 0 ||
        tev_buf_put_i64(b, step) != 0 ||
        (attempt > 1 && put_i64_member(b, "attempt", attempt) != 0) ||
        tev_buf_puts(b, ",\"data\":{") != 0)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        if ((i && tev_buf_append(b, ",", 1) != 0) || put_key(b, fields[i].key) != 0 ||
            tev_put_field_value(b, &fields[i], fn) != 0)
            goto oom;
    }
    if (tev_buf_puts(b, "}}\n") != 0)
        goto oom;
    return 0;
oom:
    b->len = mark;
    return -1;
}

int tev_encode_run_end(tev_buf *b, const char *run_id, double time, const char *status,
                       const json_t *summary, tev_format_real_fn fn)
{
    size_t mark = b->len;
    const char *st = status ? status : "finished";
    if (put_head(b, "run_end", run_id, time, fn) != 0 || tev_buf_puts(b, ",\"status\":") != 0 ||
        tev_put_string(b, st, strlen(st)) != 0 || tev_buf_puts(b, ",\"summary\":") != 0 ||
        put_object_or_null(b, summary, fn) != 0 || tev_buf_puts(b, "}\n") != 0)
        goto oom;
    return 0;
oom:
    b->len = mark;
    return -1;
}

/* ---- decoding --------------------------------------------------------- */

void tev_event_clear(tev_event *ev)
{
    if (!ev)
        return;
    free(ev->fields);
    free(ev->samples);
    json_decref(ev->root);
    memset(ev, 0, sizeof *ev);
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(err, errsz, __VA_ARGS__);                                                         \
        goto fail;                                                                                 \
    } while (0)

static int decode_value(const json_t *v, tropt_field *f, const char **why)
{
    switch (json_typeof(v)) {
    case JSON_NULL:
        f->type = TROPT_NULL;
        return 0;
    case JSON_TRUE:
    case JSON_FALSE:
        f->type = TROPT_BOOL;
        f->v.b = json_is_true(v);
        return 0;
    case JSON_INTEGER:
        f->type = TROPT_INT;
        f->v.i = json_integer_value(v);
        return 0;
    case JSON_REAL:
        f->type = TROPT_REAL;
        f->v.r = json_real_value(v);
        return 0;
    case JSON_STRING:
        /* \u0000 decodes (JSON_ALLOW_NUL), but a field's string is a C
         * string: it would be cut there without a word */
        if (strlen(json_string_value(v)) != json_string_length(v)) {
            *why = "a NUL character (\\u0000) inside a string";
            return -1;
        }
        f->type = TROPT_STRING;
        f->v.s = json_string_value(v);
        return 0;
    case JSON_ARRAY:
        f->type = TROPT_JSON;
        f->v.json = v;
        return 0;
    case JSON_OBJECT: {
        if (json_object_size(v) == 0) {
            f->type = TROPT_JSON;
            f->v.json = v;
            return 0;
        }
        const json_t *tag = json_object_get(v, "$real");
        const char *s = json_string_value(tag);
        if (json_object_size(v) != 1 || !s) {
            *why = "an object value that is not a {\"$real\":...} tag";
            return -1;
        }
        f->type = TROPT_REAL;
        if (strcmp(s, "nan") == 0)
            f->v.r = NAN;
        else if (strcmp(s, "inf") == 0)
            f->v.r = INFINITY;
        else if (strcmp(s, "-inf") == 0)
            f->v.r = -INFINITY;
        else {
            *why = "a $real tag that is not \"nan\", \"inf\" or \"-inf\"";
            return -1;
        }
        return 0;
    }
    }
    *why = "an unknown value";
    return -1;
}

/* Each decoder below returns NULL, or why the event is malformed (written
 * into err, which it returns). */
#define WHY(...) (snprintf(err, errsz, __VA_ARGS__), err)

static const char *opt_string(const json_t *root, const char *key)
{
    return json_string_value(json_object_get(root, key));
}

static const char *decode_provenance(tev_event *ev, char *err, size_t errsz)
{
    const json_t *p = json_object_get(ev->root, "provenance");
    if (!p)
        return NULL;
    if (!json_is_object(p))
        return WHY("run_start whose \"provenance\" is not an object");
    ev->provenance.command = opt_string(p, "command");
    ev->provenance.cwd = opt_string(p, "cwd");
    ev->provenance.git_commit = opt_string(p, "git_commit");
    ev->provenance.version = opt_string(p, "version");
    ev->has_provenance = 1;
    return NULL;
}

/* attempt (absent: 1) into *out; NULL or why. */
static const char *decode_attempt(const json_t *root, int64_t *out, char *err, size_t errsz)
{
    const json_t *a = json_object_get(root, "attempt");
    *out = 1;
    if (!a)
        return NULL;
    if (!json_is_integer(a) || json_integer_value(a) < 1)
        return WHY("\"attempt\" is not an integer >= 1");
    *out = json_integer_value(a);
    return NULL;
}

static const char *decode_run_start(tev_event *ev, char *err, size_t errsz)
{
    ev->experiment = opt_string(ev->root, "experiment");
    ev->host = opt_string(ev->root, "host");
    const json_t *pid = json_object_get(ev->root, "pid");
    const json_t *cfg = json_object_get(ev->root, "config");
    if (!ev->experiment)
        return WHY("run_start without an \"experiment\" string");
    if (pid && !json_is_integer(pid))
        return WHY("run_start with a non-integer \"pid\"");
    ev->pid = pid ? json_integer_value(pid) : 0;
    if (cfg && !json_is_object(cfg) && !json_is_null(cfg))
        return WHY("run_start whose \"config\" is not an object");
    ev->config = json_is_object(cfg) ? cfg : NULL;
    ev->name = opt_string(ev->root, "name");
    ev->resume_key = opt_string(ev->root, "resume_key");
    ev->pidns = opt_string(ev->root, "pidns");
    const char *why = decode_attempt(ev->root, &ev->attempt, err, errsz);
    if (why)
        return why;
    ev->run_started_at = ev->time;
    if (ev->attempt > 1) {
        const json_t *from = json_object_get(ev->root, "from_step");
        const json_t *start = json_object_get(ev->root, "started_at");
        if (!json_is_integer(from) || json_integer_value(from) < 0)
            return WHY("run_start of attempt %lld without a \"from_step\" >= 0",
                       (long long)ev->attempt);
        ev->from_step = json_integer_value(from);
        if (json_is_number(start))
            ev->run_started_at = json_number_value(start);
    }
    return decode_provenance(ev, err, errsz);
}

static const char *decode_log(tev_event *ev, char *err, size_t errsz)
{
    const json_t *step = json_object_get(ev->root, "step");
    const json_t *data = json_object_get(ev->root, "data");
    if (!json_is_integer(step) || json_integer_value(step) < 0)
        return WHY("log without a non-negative integer \"step\"");
    ev->step = json_integer_value(step);
    const char *why = decode_attempt(ev->root, &ev->attempt, err, errsz);
    if (why)
        return why;
    if (!json_is_object(data))
        return WHY("log without a \"data\" object");
    size_t n = json_object_size(data);
    if (n && !(ev->fields = calloc(n, sizeof *ev->fields)))
        return WHY("out of memory");
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)data, key, val)
    {
        tropt_field *f = &ev->fields[ev->n_fields];
        f->key = key;
        if (decode_value(val, f, &why) != 0)
            return WHY("log field \"%s\" holds %s", key, why);
        ev->n_fields++;
    }
    return NULL;
}

static const char *decode_run_end(tev_event *ev, char *err, size_t errsz)
{
    ev->status = opt_string(ev->root, "status");
    const json_t *sum = json_object_get(ev->root, "summary");
    if (!ev->status)
        return WHY("run_end without a \"status\" string");
    if (sum && !json_is_object(sum) && !json_is_null(sum))
        return WHY("run_end whose \"summary\" is not an object");
    ev->summary = json_is_object(sum) ? sum : NULL;
    return NULL;
}

static const char *decode_checkpoint(tev_event *ev, char *err, size_t errsz)
{
    tropt_checkpoint *m = &ev->checkpoint;
    const json_t *seq = json_object_get(ev->root, "seq");
    const json_t *step = json_object_get(ev->root, "step");
    const json_t *size = json_object_get(ev->root, "size");
    const char *why = decode_attempt(ev->root, &m->attempt, err, errsz);
    if (why)
        return why;
    m->path = opt_string(ev->root, "path");
    if (!json_is_integer(seq) || json_integer_value(seq) < 0 || !json_is_integer(step) ||
        json_integer_value(step) < -1 || !m->path)
        return WHY("checkpoint without a \"seq\", \"step\" and \"path\"");
    if (size && (!json_is_integer(size) || json_integer_value(size) < 0))
        return WHY("checkpoint whose \"size\" is not an integer >= 0");
    m->seq = json_integer_value(seq);
    m->step = json_integer_value(step);
    m->time = ev->time;
    m->size = size ? json_integer_value(size) : -1;
    m->sha256 = opt_string(ev->root, "sha256");
    m->error = opt_string(ev->root, "error");
    ev->attempt = m->attempt;
    return NULL;
}

/* One sample [mean, max] (each a real or the $real tag). */
static const char *decode_sample(const char *key, const json_t *v, tropt_sample *s, char *err,
                                 size_t errsz)
{
    tropt_field mean, max;
    const char *why = NULL;
    if (!json_is_array(v) || json_array_size(v) != 2 ||
        decode_value(json_array_get(v, 0), &mean, &why) != 0 ||
        decode_value(json_array_get(v, 1), &max, &why) != 0 ||
        (mean.type != TROPT_REAL && mean.type != TROPT_INT) ||
        (max.type != TROPT_REAL && max.type != TROPT_INT))
        return WHY("system sample \"%s\" is not [mean, max]", key);
    s->key = key;
    s->value = mean.type == TROPT_INT ? (double)mean.v.i : mean.v.r;
    s->max = max.type == TROPT_INT ? (double)max.v.i : max.v.r;
    return NULL;
}

static const char *decode_system(tev_event *ev, char *err, size_t errsz)
{
    const json_t *data = json_object_get(ev->root, "data");
    const char *why = decode_attempt(ev->root, &ev->attempt, err, errsz);
    if (why)
        return why;
    if (!json_is_object(data))
        return WHY("system without a \"data\" object");
    size_t n = json_object_size(data);
    if (n && !(ev->samples = calloc(n, sizeof *ev->samples)))
        return WHY("out of memory");
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)data, key, val)
    {
        if ((why = decode_sample(key, val, &ev->samples[ev->n_samples], err, errsz)) != NULL)
            return why;
        ev->n_samples++;
    }
    return NULL;
}

static const char *decode_annotate(tev_event *ev, char *err, size_t errsz)
{
    const char *kind = opt_string(ev->root, "kind");
    const char *text = opt_string(ev->root, "text");
    int k = 0;
    for (int i = TROPT_ANNOTATE_TAG; kind && i <= TROPT_ANNOTATE_RENAME; i++)
        if (strcmp(kind, annotation_kinds[i]) == 0)
            k = i;
    if (!k || !text)
        return WHY("annotate without a \"kind\" (tag|untag|note|rename) and a \"text\"");
    ev->annotation.kind = (tropt_annotation_kind)k;
    ev->annotation.text = text;
    ev->annotation.time = ev->time;
    return NULL;
}

static const char *decode_delete(tev_event *ev, char *err, size_t errsz)
{
    (void)ev;
    (void)err;
    (void)errsz;
    return NULL;
}

static const struct {
    const char *name;
    tev_type type;
    const char *(*decode)(tev_event *, char *, size_t);
} event_types[] = {
    {"run_start", TEV_RUN_START, decode_run_start},
    {"log", TEV_LOG, decode_log},
    {"run_end", TEV_RUN_END, decode_run_end},
    {"checkpoint", TEV_CHECKPOINT, decode_checkpoint},
    {"system", TEV_SYSTEM, decode_system},
    {"annotate", TEV_ANNOTATE, decode_annotate},
    {"delete", TEV_DELETE, decode_delete},
};

int tev_decode(const char *line, size_t len, tev_event *ev, char *err, size_t errsz)
{
    memset(ev, 0, sizeof *ev);
    ev->attempt = 1;
    json_error_t jerr;
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    ev->root = json_loadb(line, len, JSON_ALLOW_NUL, &jerr);
    if (!ev->root)
        FAIL("not JSON (%s at column %d)", jerr.text, jerr.column);
    if (!json_is_object(ev->root))
        FAIL("not a JSON object");
    const char *type = opt_string(ev->root, "type");
    if (!type)
        FAIL("no \"type\"");
    size_t k = 0, nk = sizeof event_types / sizeof event_types[0];
    while (k < nk && strcmp(type, event_types[k].name) != 0)
        k++;
    if (k == nk)
        FAIL("unknown event type \"%s\"", type);
    ev->type = event_types[k].type;
    ev->run_id = opt_string(ev->root, "run_id");
    if (!ev->run_id || !*ev->run_id)
        FAIL("%s without a \"run_id\" string", type);
    const json_t *t = json_object_get(ev->root, "time");
    if (!json_is_number(t))
        FAIL("%s without a numeric \"time\"", type);
    ev->time = json_number_value(t);
    if (event_types[k].decode(ev, err, errsz) != NULL)
        goto fail;
    return 0;
fail:
    tev_event_clear(ev);
    return -1;
}

/* ---- reader ----------------------------------------------------------- */

int tev_reader_open(tev_reader *r, const char *path, tev_warn_fn warn, void *userdata)
{
    memset(r, 0, sizeof *r);
    r->path = strdup(path);
    if (!r->path) {
        errno = ENOMEM;
        return -1;
    }
    r->f = fopen(path, "rb");
    if (!r->f) {
        int e = errno;
        free(r->path);
        r->path = NULL;
        errno = e;
        return -1;
    }
    struct stat st;
    r->limit = fstat(fileno(r->f), &st) == 0 ? (long long)st.st_size : -1;
    r->warn = warn;
    r->userdata = userdata;
    return 0;
}

static void reader_warn(tev_reader *r, const char *fmt, ...) TROPT_PRINTF(2, 3);
static void reader_warn(tev_reader *r, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (r->warn)
        r->warn(r->userdata, msg);
}

int tev_reader_next(tev_reader *r, tev_event *ev)
{
    for (;;) {
        errno = 0;
        if (r->limit >= 0 && (long long)ftello(r->f) >= r->limit)
            return 0;
        ssize_t n = getline(&r->line, &r->cap, r->f);
        if (n < 0)
            return ferror(r->f) ? -1 : 0;
        r->lineno++;
        int complete = n > 0 && r->line[n - 1] == '\n';
        size_t len = (size_t)n;
        while (len && (r->line[len - 1] == '\n' || r->line[len - 1] == '\r' ||
                       r->line[len - 1] == ' ' || r->line[len - 1] == '\t'))
            len--;
        if (len == 0)
            continue; /* blank line */
        char err[300];
        if (tev_decode(r->line, len, ev, err, sizeof err) == 0)
            return 1;
        if (!complete) {
            r->n_truncated++;
            reader_warn(r, "%s: line %ld: truncated last line (an event cut by a crash) skipped",
                        r->path, r->lineno);
        } else {
            r->n_malformed++;
            reader_warn(r, "%s: line %ld: malformed event skipped: %s", r->path, r->lineno, err);
        }
    }
}

void tev_reader_close(tev_reader *r)
{
    if (r->f)
        fclose(r->f);
    free(r->line);
    free(r->path);
    memset(r, 0, sizeof *r);
}
