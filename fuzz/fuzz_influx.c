/*
 * fuzz/fuzz_influx.c - the http backend's InfluxDB line-protocol escaping
 * (plugins/http/influx.c: influx_put_escaped, influx_tags, influx_encode_log).
 *
 * Properties: no crash, leak or undefined behaviour; escaped names hold no
 * raw control character and no unescaped ',' or ' ' (nor '=' in keys), and
 * unescaping gives the input with control characters turned into '_';
 * the tags option becomes ",key=value,..." pieces, each one unescaped '='
 * between non-empty texts;
 * escaped string values unescape to exactly the input; an encoded point is
 * one line ending in '\n'.
 */
#include <math.h>

#include "influx.h"
#include "fuzz_util.h"

/* Unescape kind 'm'/'k' text, checking that every special is escaped. */
static char *unescape_name(const char *e, size_t n, int kind)
{
    char *o = malloc(n + 1);
    size_t k = 0;
    if (!o)
        abort();
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)e[i];
        FUZZ_CHECK(c >= 0x20 && c != 0x7F, "raw control character 0x%02x in a name", c);
        if (c == '\\') {
            FUZZ_CHECK(i + 1 < n, "trailing backslash");
            char nx = e[i + 1];
            FUZZ_CHECK(nx == ',' || nx == ' ' || nx == '\\' || (kind == 'k' && nx == '='),
                       "stray escape \\%c", nx);
            o[k++] = nx;
            i++;
            continue;
        }
        FUZZ_CHECK(c != ',' && c != ' ' && !(kind == 'k' && c == '='), "unescaped '%c'", c);
        o[k++] = (char)c;
    }
    o[k] = '\0';
    return o;
}

static char *unescape_string(const char *e, size_t n)
{
    char *o = malloc(n + 1);
    size_t k = 0;
    if (!o)
        abort();
    for (size_t i = 0; i < n; i++) {
        char c = e[i];
        FUZZ_CHECK(c != '\n' && c != '\r' && c != '"', "raw 0x%02x in a string value", c);
        if (c == '\\') {
            FUZZ_CHECK(i + 1 < n, "trailing backslash");
            char nx = e[++i];
            c = nx == 'n' ? '\n' : nx == 'r' ? '\r' : nx == 't' ? '\t' : nx;
            FUZZ_CHECK(strchr("nrt\"\\", nx), "stray escape \\%c", nx);
        }
        o[k++] = c;
    }
    o[k] = '\0';
    return o;
}

/* s escaped as a name ('m', 'k') or a string value ('s') unescapes to s,
 * a name's control characters turned into '_'. */
static void check_escaping(const char *s, size_t len, int kind)
{
    tev_buf b;
    tev_buf_init(&b, NULL, NULL);
    FUZZ_CHECK(influx_put_escaped(&b, s, kind) == 0, "escape failed");
    char *u = kind == 's' ? unescape_string(b.data ? b.data : "", b.len)
                          : unescape_name(b.data ? b.data : "", b.len, kind);
    FUZZ_CHECK(strlen(u) == len, "length changed (kind %c)", kind);
    for (size_t k = 0; k < len; k++) {
        unsigned char c = (unsigned char)s[k];
        char want = (kind != 's' && (c < 0x20 || c == 0x7F)) ? '_' : (char)c;
        FUZZ_CHECK(u[k] == want, "byte %zu: 0x%02x != 0x%02x (kind %c)", k, (unsigned char)u[k],
                   (unsigned char)want, kind);
    }
    free(u);
    tev_buf_free(&b);
}

/* Encoded tags ",k=v,...": every piece is one unescaped '=' between
 * non-empty escaped texts, with no raw control character, ' ' or LF. */
static void check_tags(const tev_buf *tags)
{
    FUZZ_CHECK(tags->data[0] == ',', "tags do not start with ','");
    size_t eqs = 0, piece = 0;
    for (size_t i = 1; i <= tags->len; i++) {
        char c = i < tags->len ? tags->data[i] : ',';
        FUZZ_CHECK((unsigned char)c >= 0x20 && c != ' ' && c != '\n', "raw 0x%02x in tags",
                   (unsigned char)c);
        if (c == '\\' && i + 1 < tags->len) {
            i++;
            piece++;
        } else if (c == '=') {
            FUZZ_CHECK(piece > 0, "empty tag key");
            eqs++;
            piece = 0;
        } else if (c == ',') {
            FUZZ_CHECK(eqs == 1 && piece > 0, "tag piece is not key=value: %.*s", (int)tags->len,
                       tags->data);
            eqs = 0;
            piece = 0;
        } else {
            piece++;
        }
    }
}

/* A whole point with s as measurement, key and string value (and the
 * tags, when given) is one line ending in LF. */
static void check_point(const char *s, size_t len, const char *tags)
{
    tropt_field f[] = {TROPT_F_STR(s, s), TROPT_F_REAL("r", len ? (double)len / 3 : NAN),
                       TROPT_F_NULL("n"), TROPT_F_INT("i", (int64_t)len)};
    size_t nf = (len && strcmp(s, "r") && strcmp(s, "n") && strcmp(s, "i")) ? 4 : 3;
    tev_buf b;
    tev_buf_init(&b, NULL, NULL);
    size_t skipped = 0;
    FUZZ_CHECK(influx_encode_log(&b, s, "0190d1e2-0000-7000-8000-000000000000", tags, 3, 1.5,
                                 nf == 4 ? f : f + 1, nf, NULL, &skipped) == 0,
               "encode failed");
    FUZZ_CHECK(b.len > 0 && b.data[b.len - 1] == '\n' &&
                   memchr(b.data, '\n', b.len) == b.data + b.len - 1,
               "a point is not one line: %.*s", (int)b.len, b.data);
    tev_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    size_t len = strlen(s);
    check_escaping(s, len, 'm');
    check_escaping(s, len, 'k');
    check_escaping(s, len, 's');
    /* the input as a tags option, "k=v|k2=v2" */
    tev_buf tags;
    tev_buf_init(&tags, NULL, NULL);
    int trc = influx_tags(&tags, s);
    FUZZ_CHECK(trc >= 0, "influx_tags returned %d", trc);
    if (trc == 0 && tags.len)
        check_tags(&tags);
    check_point(s, len, trc == 0 ? tags.data : NULL);
    tev_buf_free(&tags);
    free(s);
    return 0;
}
