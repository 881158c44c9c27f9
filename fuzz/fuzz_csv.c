/*
 * fuzz/fuzz_csv.c - the csv backend's text encoders: csv_put_cell (RFC 4180
 * quoting, plugins/csv/csv_text.c) and the toolkit's JSON writer as csv uses
 * it, compact for array cells and indented (tev_put_json_indent) for
 * config.json, summary.json and run.json.
 *
 * Properties: no crash, leak or undefined behaviour; a cell reads back with
 * a strict RFC 4180 reader to exactly the input bytes, is quoted whenever it
 * holds ',', '"', CR or LF or is empty, and bare otherwise; JSON text (compact
 * and indented) parses back with jansson to a value equal to the input, reals
 * staying reals.
 */
#include "internal.h" /* tropt__format_real: the host's real formatting */

#include "csv_text.h"
#include "fuzz_util.h"

static int fz_error(int code, const char *fmt, ...)
{
    (void)fmt;
    return code;
}

static void fz_log(tropt_level level, const char *fmt, ...)
{
    (void)level;
    (void)fmt;
}

static double fz_now(void)
{
    return 0;
}

static const tropt_host host = {
    .version = TROPT_HOST_VERSION,
    .struct_size = sizeof(tropt_host),
    .error = fz_error,
    .log = fz_log,
    .malloc = malloc,
    .realloc = realloc,
    .free = free,
    .now = fz_now,
    .format_real = tropt__format_real,
};

/* Strict RFC 4180 reading of one cell that must span all of s[0, n). */
static char *read_cell(const char *s, size_t n, size_t *outlen)
{
    char *o = malloc(n + 1);
    if (!o)
        abort();
    size_t k = 0;
    if (n && s[0] == '"') {
        FUZZ_CHECK(n >= 2 && s[n - 1] == '"', "unterminated quoted cell");
        for (size_t i = 1; i < n - 1; i++) {
            if (s[i] == '"') {
                FUZZ_CHECK(i + 1 < n - 1 && s[i + 1] == '"', "lone quote inside a cell");
                i++;
            }
            o[k++] = s[i];
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            FUZZ_CHECK(s[i] != '"' && s[i] != ',' && s[i] != '\r' && s[i] != '\n',
                       "bare cell holds a special character");
            o[k++] = s[i];
        }
    }
    *outlen = k;
    return o;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    const char *s = (const char *)data;
    tev_buf b;
    tev_buf_init(&b, host.realloc, host.free);
    FUZZ_CHECK(csv_put_cell(&b, s, size) == 0, "csv_put_cell failed");
    size_t back_len;
    char *back = read_cell(b.data, b.len, &back_len);
    FUZZ_CHECK(back_len == size && memcmp(back, s, size) == 0, "cell does not read back");
    int special = size == 0 || memchr(s, ',', size) || memchr(s, '"', size) ||
                  memchr(s, '\r', size) || memchr(s, '\n', size);
    FUZZ_CHECK(special == (b.len > 0 && b.data[0] == '"'), "quoted iff needed");
    free(back);
    tev_buf_free(&b);

    json_error_t err;
    json_t *v = json_loadb(s, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (v) {
        for (int indent = -1; indent <= 2; indent += 3) {
            tev_buf j;
            tev_buf_init(&j, host.realloc, host.free);
            FUZZ_CHECK(tev_put_json_indent(&j, v, host.format_real, indent) == 0,
                       "tev_put_json_indent failed");
            json_t *w = json_loadb(j.data, j.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
            FUZZ_CHECK(w != NULL, "tev_put_json_indent wrote invalid JSON (%s): %.*s", err.text,
                       (int)j.len, j.data);
            FUZZ_CHECK(json_equal(v, w), "JSON does not read back: %.*s", (int)j.len, j.data);
            json_decref(w);
            tev_buf_free(&j);
        }
        json_decref(v);
    }
    return 0;
}
