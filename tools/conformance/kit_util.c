/*
 * tools/conformance/kit_util.c - what the promises share: the report a
 * promise writes to its parent, the capture of the library's and the
 * plugin's diagnostics, the typed edge values.
 */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kit.h"

static int g_report = -1; /* the child's pipe to the parent */
static const kit *g_kit;  /* the secrets the capture watches for */

/* One piece of the report; pieces after the first go on lines of their
 * own, indented like the runner's. */
static void vsay(const char *fmt, va_list ap)
{
    static int said;
    char buf[2048];
    if (said++) {
        ssize_t w = write(g_report, "\n      ", 7);
        (void)w;
    }
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof buf)
        n = sizeof buf - 1;
    ssize_t w = write(g_report, buf, (size_t)n);
    (void)w;
}

void kit_say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsay(fmt, ap);
    va_end(ap);
}

int kit_broken(const char *expected, const char *fmt, ...)
{
    char obs[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(obs, sizeof obs, fmt, ap);
    va_end(ap);
    kit_say("expected: %s\n      observed: %s", expected, obs);
    return KIT_BROKEN;
}

int kit_skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsay(fmt, ap);
    va_end(ap);
    return KIT_SKIPPED;
}

int kit_open(const kit *k, tropt_tracker **t)
{
    *t = NULL;
    if (tropt_tracker_open(t, k->spec, "conformance", NULL) != TROPT_OK)
        return kit_broken("the plugin opens with these options", "open: %s", tropt_error_message());
    return KIT_KEPT;
}

int kit_open_reader(const kit *k, tropt_reader **r)
{
    *r = NULL;
    if (tropt_reader_open(r, k->spec) != TROPT_OK)
        return kit_broken("a reader opens on what was written", "%s", tropt_error_message());
    return KIT_KEPT;
}

int kit_log_and_read(const kit *k, const char *what, kit_log_fn log, tropt_event_fn fn, void *ud)
{
    tropt_tracker *t = NULL;
    if (kit_open(k, &t))
        return KIT_BROKEN;
    char id[40] = "";
    int rc = log(t, id);
    tropt_tracker_free(t);
    if (rc)
        return kit_broken(what, "%s: %s", tropt_error_name(rc), tropt_error_message());
    tropt_reader *r = NULL;
    if (kit_open_reader(k, &r))
        return KIT_BROKEN;
    rc = tropt_reader_read_run(r, id, fn, ud);
    if (rc)
        rc = kit_broken("the run reads back", "%s", tropt_error_message());
    tropt_reader_free(r);
    return rc ? KIT_BROKEN : KIT_KEPT;
}

/* ---- log capture ------------------------------------------------------ */

static pthread_mutex_t cap_lock = PTHREAD_MUTEX_INITIALIZER;
static char cap[1 << 16];
static size_t cap_len;
static const char *cap_secret; /* the first secret seen in a message */

static void capture(tropt_level level, const char *msg, void *ud)
{
    (void)level;
    (void)ud;
    pthread_mutex_lock(&cap_lock);
    for (size_t i = 0; g_kit && i < g_kit->n_secrets && !cap_secret; i++)
        if (strstr(msg, g_kit->secrets[i]))
            cap_secret = g_kit->secrets[i];
    size_t n = strlen(msg);
    if (cap_len + n + 2 < sizeof cap) {
        memcpy(cap + cap_len, msg, n);
        cap_len += n;
        cap[cap_len++] = '\n';
        cap[cap_len] = '\0';
    }
    pthread_mutex_unlock(&cap_lock);
}

const char *kit_log_lines(void)
{
    return cap;
}

const char *kit_secret_logged(void)
{
    pthread_mutex_lock(&cap_lock);
    const char *s = cap_secret;
    pthread_mutex_unlock(&cap_lock);
    return s;
}

/* ---- the typed edge values ------------------------------------------- */

tropt_field kit_edge[KIT_N_EDGE];
static json_t *edge_array;

static void make_edge(void)
{
    edge_array = json_loads("[0.5,-1,\"x\",null,[true]]", 0, NULL);
    int i = 0;
    kit_edge[i++] = TROPT_F_INT("int_min", INT64_MIN);
    kit_edge[i++] = TROPT_F_INT("int_max", INT64_MAX);
    kit_edge[i++] = TROPT_F_REAL("inf", INFINITY);
    kit_edge[i++] = TROPT_F_REAL("-inf", -INFINITY);
    kit_edge[i++] = TROPT_F_REAL("neg_zero", -0.0);
    kit_edge[i++] = TROPT_F_REAL("subnormal", 4.9406564584124654e-324);
    kit_edge[i++] = TROPT_F_REAL("third", 1.0 / 3.0);
    kit_edge[i++] = TROPT_F_STR("empty", "");
    kit_edge[i++] = TROPT_F_STR("unicode ✓ ünï", "ünïcødé ✓ 日本");
    kit_edge[i++] = TROPT_F_STR("a,b", "comma,inside");
    kit_edge[i++] = TROPT_F_STR("quote\"d", "say \"hi\"");
    kit_edge[i++] = TROPT_F_STR("new\nline", "two\nlines");
    kit_edge[i++] = TROPT_F_STR("slash/key", "x/y");
    kit_edge[i++] = TROPT_F_BOOL("flag", 1);
    kit_edge[i++] = TROPT_F_JSON("array", edge_array);
    kit_edge[i++] = TROPT_F_REAL("nan", NAN); /* last: see KIT_N_EDGE_NO_NAN */
}

void kit_child_begin(int report_fd, const kit *k)
{
    g_report = report_fd;
    g_kit = k;
    make_edge();
    tropt_set_log_handler(capture, NULL);
}

void kit_escape(char *buf, size_t size, const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && n + 5 < size; p++) {
        if (*p == '\n')
            n += (size_t)snprintf(buf + n, size - n, "\\n");
        else if (*p == '"' || *p == '\\')
            n += (size_t)snprintf(buf + n, size - n, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            n += (size_t)snprintf(buf + n, size - n, "\\x%02x", *p);
        else
            buf[n++] = (char)*p;
    }
    buf[n < size ? n : size - 1] = '\0';
}

/* A real as people and bits tell it: "0.5", "-0 (0x8000000000000000)",
 * "nan (0x7ff8000000000000)". */
static void describe_real(char *buf, size_t size, double r)
{
    uint64_t bits;
    memcpy(&bits, &r, sizeof bits);
    if (isnan(r) || r == 0 || isinf(r))
        snprintf(buf, size, "real %.17g (0x%016" PRIx64 ")", r, bits);
    else
        snprintf(buf, size, "real %.17g", r);
}

void kit_describe(char *buf, size_t size, const tropt_field *f)
{
    switch (f->type) {
    case TROPT_INT:
        snprintf(buf, size, "int %" PRId64, f->v.i);
        break;
    case TROPT_REAL:
        describe_real(buf, size, f->v.r);
        break;
    case TROPT_STRING: {
        char text[256];
        kit_escape(text, sizeof text, f->v.s);
        snprintf(buf, size, "string \"%s\"", text);
        break;
    }
    case TROPT_BOOL:
        snprintf(buf, size, "bool %d", f->v.b);
        break;
    case TROPT_NULL:
        snprintf(buf, size, "null");
        break;
    case TROPT_JSON: {
        char *s = json_dumps(f->v.json, JSON_COMPACT | JSON_ENCODE_ANY);
        snprintf(buf, size, "json %s", s ? s : "?");
        free(s);
        break;
    }
    }
}
