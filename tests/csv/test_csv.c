/*
 * tests/csv/test_csv.c - the csv backend, read back with real CSV parsers.
 *
 * Every test opens trackers through the public API ("csv:dir=<tmp>") and
 * asserts what is on disk: metrics.csv is parsed by Python's csv module and
 * pandas (csvcheck.py) and compared value by value with what was logged.
 */
#include "testutil.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PY "/usr/bin/python3"

/* ---- helpers ------------------------------------------------------------ */

static tropt_tracker *open_csv(const char *dir, const char *extra, const char *exp)
{
    char *spec = tu_strdupf("csv:dir=%s%s%s", dir, extra && *extra ? "," : "", extra ? extra : "");
    tropt_tracker *t = NULL;
    int rc = tropt_tracker_open(&t, spec, exp, NULL);
    ck_assert_msg(rc == TROPT_OK, "open %s: %s", spec, tropt_error_message());
    free(spec);
    return t;
}

/* <dir>/<folder>/<run_id>/<name> */
static char *run_file(const char *dir, const char *folder, const char *run_id, const char *name)
{
    return tu_strdupf("%s/%s/%s/%s", dir, folder, run_id, name);
}

/* The only run folder under <dir>/<folder>. */
static char *only_run(const char *dir, const char *folder)
{
    char *p = tu_path(dir, folder);
    DIR *d = opendir(p);
    ck_assert_msg(d != NULL, "opendir %s: %s", p, strerror(errno));
    char *found = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        ck_assert_msg(found == NULL, "two runs in %s", p);
        found = tu_strdupf("%s", e->d_name);
    }
    closedir(d);
    free(p);
    ck_assert_ptr_nonnull(found);
    return found;
}

/* Run csvcheck.py; assert it printed OK; returns its output (malloc'd). */
static char *pycheck(const char *args)
{
    char *cmd = tu_strdupf(PY " %s %s", CSVCHECK_PY, args);
    char *out = NULL;
    int rc = tu_run(cmd, &out, 1);
    ck_assert_msg(rc == 0 && strncmp(out, "OK", 2) == 0, "%s\n=> %d: %s", cmd, rc, out);
    free(cmd);
    return out;
}

/* ---- expectations ----------------------------------------------------------- */

/* The column a key gets in the wide header: _*(step|time) gains a '_'. */
static char *column_of(const char *key)
{
    const char *k = key;
    while (*k == '_')
        k++;
    int reserved = strcmp(k, "step") == 0 || strcmp(k, "time") == 0;
    return tu_strdupf("%s%s", reserved ? "_" : "", key);
}

static void expect_row(json_t *rows, int64_t step, const tropt_field *f, size_t n)
{
    json_t *cells = json_array();
    for (size_t i = 0; i < n; i++) {
        char val[64];
        const char *type = "null";
        char *dumped = NULL;
        const char *v = "";
        switch (f[i].type) {
        case TROPT_NULL:
            break;
        case TROPT_BOOL:
            type = "bool";
            v = f[i].v.b ? "true" : "false";
            break;
        case TROPT_INT:
            type = "int";
            snprintf(val, sizeof val, "%" PRId64, f[i].v.i);
            v = val;
            break;
        case TROPT_REAL: {
            uint64_t b;
            memcpy(&b, &f[i].v.r, sizeof b);
            type = "real";
            snprintf(val, sizeof val, "0x%016" PRIx64, b);
            v = val;
            break;
        }
        case TROPT_STRING:
            type = "str";
            v = f[i].v.s;
            break;
        case TROPT_JSON:
            type = "json";
            dumped = json_dumps(f[i].v.json, JSON_ENCODE_ANY | JSON_COMPACT);
            v = dumped;
            break;
        }
        char *col = column_of(f[i].key);
        json_array_append_new(cells, json_pack("[s,s,s,s]", f[i].key, col, type, v));
        free(col);
        free(dumped);
    }
    json_array_append_new(rows, json_pack("{s:I,s:o}", "step", (json_int_t)step, "cells", cells));
}

static void write_expect(const char *path, const char *layout, json_t *columns, json_t *rows)
{
    json_t *e = json_pack("{s:s,s:O,s:O}", "layout", layout, "columns",
                          columns ? columns : json_null(), "rows", rows);
    ck_assert_int_eq(json_dump_file(e, path, JSON_ENCODE_ANY), 0);
    json_decref(e);
}

/* ---- the values run ------------------------------------------------------- */

/*
 * A run that logs every kind of value: step 0 has most keys, "mid" appears
 * at step 1, a step with no field at 10, "late" at 40; reals that need one
 * digit and seventeen, int64 extremes, NaN and +-Inf, strings with commas,
 * quotes, CR/LF and unicode, the empty string, arrays, null, and keys that
 * collide with the step and time columns.
 */
static void values_run(const char *layout)
{
    char *dir = tu_mkdtemp();
    char *extra = tu_strdupf("layout=%s,fsync=off", layout);
    json_t *exp_cfg = json_pack("{s:s,s:f}", "optimizer", "adam", "lr", 0.1);
    tropt_tracker *t = NULL;
    char *spec = tu_strdupf("csv:dir=%s,%s", dir, extra);
    ck_assert_msg(tropt_tracker_open(&t, spec, "values exp", exp_cfg) == TROPT_OK, "%s",
                  tropt_error_message());
    json_t *cfg =
        json_pack("{s:f,s:I,s:s,s:{s:f,s:[i,f]},s:f}", "lr", 0.001, "seed", (json_int_t)INT64_MAX,
                  "note", "héllo, \"world\"\n", "nested", "beta", 0.9, "shape", 3, 2.5, "two", 2.0);
    ck_assert_int_eq(tropt_tracker_init(t, cfg), TROPT_OK);
    const char *run_id = tropt_tracker_run_id(t);
    ck_assert_ptr_nonnull(run_id);
    char *rid = tu_strdupf("%s", run_id);

    json_t *arr = json_pack("[i,f,s,n,{s:b}]", 1, 2.5, "x,\"y\"", "k", 1);
    json_t *empty_obj_arr = json_array();
    json_t *rows = json_array();
    for (int64_t step = 0; step < 50; step++) {
        tropt_field f[40];
        size_t n = 0;
        char sbuf[64];
        if (step == 10) {
            /* a step with no field */
        } else {
            f[n++] = TROPT_F_REAL("loss", 1.0 / (double)(step + 1));
            f[n++] = TROPT_F_REAL("r17", 0.1 + 0.2 * (double)step);
            if (step >= 1)
                f[n++] = TROPT_F_INT("mid", step * 1000);
            if (step >= 40) {
                snprintf(sbuf, sizeof sbuf, "late, \"%" PRId64 "\"", step);
                f[n++] = TROPT_F_STR("late", sbuf);
            }
        }
        if (step == 0 || step == 49) {
            f[n++] = TROPT_F_REAL("one_digit", 0.5);
            f[n++] = TROPT_F_REAL("seventeen", 0.30000000000000004);
            f[n++] = TROPT_F_INT("imax", INT64_MAX);
            f[n++] = TROPT_F_INT("imin", INT64_MIN);
            f[n++] = TROPT_F_INT("zero", 0);
            f[n++] = TROPT_F_BOOL("flag", 1);
            f[n++] = TROPT_F_BOOL("off", 0);
            f[n++] = TROPT_F_STR("s_comma", "a,b,,c");
            f[n++] = TROPT_F_STR("s_quote", "say \"hi\" \"\"");
            f[n++] = TROPT_F_STR("s_nl", "line1\nline2\n");
            f[n++] = TROPT_F_STR("s_crlf", "x\r\ny\r");
            f[n++] = TROPT_F_STR("s_uni", "h\xc3\xa9llo \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac");
            f[n++] = TROPT_F_STR("s_empty", "");
            f[n++] = TROPT_F_STR("s_nanword", "nan");
            f[n++] = TROPT_F_STR("s_space", "  padded  ");
            f[n++] = TROPT_F_JSON("arr", arr);
            f[n++] = TROPT_F_JSON("arr_empty", empty_obj_arr);
            f[n++] = TROPT_F_NULL("nul");
            f[n++] = TROPT_F_REAL("nan", NAN);
            f[n++] = TROPT_F_REAL("pinf", INFINITY);
            f[n++] = TROPT_F_REAL("ninf", -INFINITY);
            f[n++] = TROPT_F_REAL("denorm_min", 4.9406564584124654e-324);
            f[n++] = TROPT_F_REAL("dbl_max", DBL_MAX);
            f[n++] = TROPT_F_REAL("dbl_min", DBL_MIN);
            f[n++] = TROPT_F_REAL("negzero", -0.0);
            f[n++] = TROPT_F_REAL("big_int_real", 9007199254740993.0);
            f[n++] = TROPT_F_REAL("key,with \"quote\"\nand newline", 1.0);
            f[n++] = TROPT_F_INT("a/b", 7);
            f[n++] = TROPT_F_INT("step", 42);
            f[n++] = TROPT_F_STR("time", "noon");
            f[n++] = TROPT_F_INT("_step", -1);
            f[n++] = TROPT_F_REAL("\xc3\xbcn\xc3\xaf", 1e-300);
        }
        ck_assert_msg(tropt_tracker_log_fields(t, f, n) == TROPT_OK, "step %" PRId64 ": %s", step,
                      tropt_error_message());
        expect_row(rows, step, f, n);
    }
    json_t *summary =
        json_pack("{s:f,s:s,s:[f,f]}", "best_loss", 0.02, "msg", "done, \"ok\"", "pt", 1.0, -2.5);
    ck_assert_msg(tropt_tracker_finish(t, summary) == TROPT_OK, "%s", tropt_error_message());
    tropt_tracker_free(t);

    /* The header: first-seen order, step/time keys renamed. */
    json_t *cols = json_array();
    json_t *seen = json_object();
    json_array_append_new(cols, json_string("step"));
    json_array_append_new(cols, json_string("time"));
    size_t ri;
    json_t *r;
    json_array_foreach(rows, ri, r)
    {
        size_t ci;
        json_t *cell;
        json_array_foreach(json_object_get(r, "cells"), ci, cell)
        {
            const char *col = json_string_value(json_array_get(cell, 1));
            if (!json_object_get(seen, col)) {
                json_object_set_new(seen, col, json_true());
                json_array_append_new(cols, json_string(col));
            }
        }
    }
    char *metrics = run_file(dir, "values exp", rid, "metrics.csv");
    char *expect = tu_path(dir, "expect.json");
    int wide = strcmp(layout, "wide") == 0;
    write_expect(expect, layout, wide ? cols : NULL, rows);
    if (wide) {
        /* the documented renaming, explicitly */
        char *head = tu_read_file(metrics, NULL);
        ck_assert_ptr_nonnull(head);
        const char *start = "step,time,loss,r17,one_digit,seventeen,imax,";
        ck_assert_msg(strncmp(head, start, strlen(start)) == 0, "%s", head);
        ck_assert_ptr_nonnull(strstr(head, ",a/b,_step,_time,__step,"));
        ck_assert_ptr_nonnull(strstr(head, ",\"key,with \"\"quote\"\"\nand newline\","));
        ck_assert_ptr_nonnull(strstr(head, ",mid,late\r\n"));
        free(head);
    }
    char *args = tu_strdupf("values '%s' '%s'", metrics, expect);
    char *out = pycheck(args);
    printf("csv %s: %s", layout, out);
    free(out);
    free(args);

    /* config.json is the merged config, summary.json the summary, run.json the run */
    json_t *merged = json_deep_copy(exp_cfg);
    json_object_update(merged, cfg);
    char *p = run_file(dir, "values exp", rid, "config.json");
    json_error_t err;
    json_t *got = json_load_file(p, 0, &err);
    ck_assert_msg(got && json_equal(got, merged), "config.json: %s", err.text);
    /* reals are written shortest, never as %.17g noise */
    char *text = tu_read_file(p, NULL);
    ck_assert_ptr_nonnull(strstr(text, "\"lr\": 0.001"));
    ck_assert_ptr_nonnull(strstr(text, "\"two\": 2.0"));
    free(text);
    json_decref(got);
    free(p);
    p = run_file(dir, "values exp", rid, "summary.json");
    got = json_load_file(p, 0, &err);
    ck_assert_msg(got && json_equal(got, summary), "summary.json: %s", err.text);
    json_decref(got);
    free(p);
    p = run_file(dir, "values exp", rid, "run.json");
    got = json_load_file(p, 0, &err);
    ck_assert_msg(got != NULL, "run.json: %s", err.text);
    ck_assert_str_eq(json_string_value(json_object_get(got, "status")), "finished");
    ck_assert_str_eq(json_string_value(json_object_get(got, "run_id")), rid);
    ck_assert_str_eq(json_string_value(json_object_get(got, "experiment")), "values exp");
    ck_assert_int_eq(json_integer_value(json_object_get(got, "steps")), 50);
    ck_assert(json_is_real(json_object_get(got, "ended_at")));
    json_decref(got);
    free(p);

    json_decref(merged);
    json_decref(summary);
    json_decref(cols);
    json_decref(seen);
    json_decref(rows);
    json_decref(arr);
    json_decref(empty_obj_arr);
    json_decref(cfg);
    json_decref(exp_cfg);
    free(metrics);
    free(expect);
    free(rid);
    free(spec);
    free(extra);
    tu_rmtree(dir);
    free(dir);
}

/*
 * Keys whose order changes from step to step, steps that log some of the
 * columns, keys first seen in the middle of a step, and keys passed in one
 * reused buffer (the same pointer with another text each time): every
 * value must land in its own column, whether each row is written at once
 * or several are queued (flush_every=4).  Quoted cells holding CRLF, commas
 * and quotes make the file pass 64 KiB before the late keys widen it, so
 * the rewrite's copy crosses its read chunks inside and outside quotes.
 */
static void key_order_run(const char *extra)
{
    char *dir = tu_mkdtemp();
    tropt_tracker *t = open_csv(dir, extra, "order");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char *rid = tu_strdupf("%s", tropt_tracker_run_id(t));
    json_t *rows = json_array();
    json_t *cols =
        json_pack("[s,s,s,s,s,s,s,s,s,s]", "step", "time", "a", "b", "c", "d", "e", "f", "g", "h");
    char kbuf[2][8], text[400];
    for (int64_t step = 0; step < 700; step++) {
        tropt_field f[8];
        size_t n = 0;
        int phase = (int)(step / 10);
        /* position 0 and 1 reuse kbuf: the text changes, the pointer not */
        snprintf(kbuf[0], sizeof kbuf[0], "%s", phase % 2 ? "c" : "a");
        snprintf(kbuf[1], sizeof kbuf[1], "%s", phase % 2 ? "a" : "b");
        int len = snprintf(text, sizeof text, "%" PRId64 ", \"q\"\r\n", step);
        for (; len < 300 + (int)(step % 37); len++)
            text[len] = (char)('a' + len % 26);
        text[len] = '\0';
        if (phase == 2) {
            f[n++] = TROPT_F_REAL("b", 0.5 + (double)step);
        } else {
            f[n++] = TROPT_F_REAL(kbuf[0], 0.1 * (double)step);
            f[n++] = TROPT_F_INT(kbuf[1], step);
            if (step >= 450 && step % 3 != 0)
                f[n++] = TROPT_F_REAL("d", 1.0 / (double)(step + 1));
            f[n++] = TROPT_F_STR(phase % 2 ? "b" : "c", step % 2 ? text : "z");
            if (step >= 500)
                f[n++] = TROPT_F_STR("e", step % 2 ? "\"" : text);
            /* more widenings, the file a little longer each time: some
             * chunk boundary falls inside a quoted cell */
            if (step >= 550)
                f[n++] = TROPT_F_INT("f", step);
            if (step >= 600)
                f[n++] = TROPT_F_STR("g", text);
            if (step >= 650)
                f[n++] = TROPT_F_REAL("h", 0.25);
        }
        ck_assert_msg(tropt_tracker_log_fields(t, f, n) == TROPT_OK, "%s", tropt_error_message());
        expect_row(rows, step, f, n);
    }
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    char *metrics = run_file(dir, "order", rid, "metrics.csv");
    char *expect = tu_path(dir, "expect.json");
    write_expect(expect, "wide", cols, rows);
    char *args = tu_strdupf("values '%s' '%s'", metrics, expect);
    free(pycheck(args));
    free(args);
    free(expect);
    free(metrics);
    json_decref(cols);
    json_decref(rows);
    free(rid);
    tu_rmtree(dir);
    free(dir);
}

START_TEST(test_key_order)
{
    key_order_run("fsync=off");
    key_order_run("fsync=off,flush_every=4");
    key_order_run(""); /* fsync=normal: every rewrite synced */
}
END_TEST

START_TEST(test_wide_values)
{
    values_run("wide");
}
END_TEST

START_TEST(test_long_values)
{
    values_run("long");
}
END_TEST

/* ---- reals ----------------------------------------------------------------- */

typedef size_t (*format_real_fn)(char *, size_t, double);

static format_real_fn host_format_real(tropt_tracker **keep)
{
    ck_assert_int_eq(tropt_tracker_open(keep, HOSTCAP_PATH, NULL, NULL), TROPT_OK);
    void *h = dlopen(HOSTCAP_PATH, RTLD_NOW | RTLD_NOLOAD);
    ck_assert_msg(h != NULL, "%s", dlerror());
    const tropt_host *(*get)(void) = NULL;
    void *sym = dlsym(h, "hostcap_host");
    ck_assert_ptr_nonnull(sym);
    memcpy(&get, &sym, sizeof get); /* POSIX: dlsym results convert to function pointers */
    const tropt_host *host = get();
    dlclose(h);
    ck_assert_ptr_nonnull(host);
    ck_assert_uint_ge(host->struct_size, TROPT_HOST_MIN_SIZE);
    return host->format_real;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static int round_trips(double x, int prec, char *buf, size_t size)
{
    snprintf(buf, size, "%.*g", prec, x);
    return strtod(buf, NULL) == x;
}

/* Significant digits of a decimal text (leading and trailing zeros dropped). */
static int sig_digits(const char *s)
{
    int n = 0, lead = 1, zeros = 0;
    for (; *s && *s != 'e' && *s != 'E'; s++) {
        if (*s < '0' || *s > '9')
            continue;
        if (lead && *s == '0')
            continue;
        lead = 0;
        if (*s == '0') {
            zeros++;
        } else {
            n += zeros + 1;
            zeros = 0;
        }
    }
    return n ? n : 1;
}

/* The double the i-th probe tests: specials first, then random bit patterns
 * (every exponent alike: subnormals, extremes, NaNs), random small decimals
 * and random integers. */
static double probe(uint64_t i, uint64_t *rng)
{
    static const double special[] = {
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.1,
        0.2,
        0.3,
        1.0 / 3,
        2.0 / 3,
        0.30000000000000004,
        4.9406564584124654e-324,
        2.2250738585072009e-308,
        2.2250738585072014e-308,
        DBL_MAX,
        -DBL_MAX,
        9007199254740992.0,
        9007199254740993.0,
        1e15,
        1e16,
        1e17,
        1e21,
        1e22,
        1e23,
        5e-324,
        1e-5,
        123456789012345678.0,
        0.000001,
        1e300,
        1e-300,
        100.0,
        1.5,
        2.5,
    };
    size_t ns = sizeof special / sizeof special[0];
    if (i < ns)
        return special[i];
    uint64_t b = splitmix(rng);
    double x;
    switch (i % 4) {
    case 0: /* a short decimal, the common case in practice */
        x = (double)(int64_t)(b % 2000001 - 1000000) / pow(10, (double)((b >> 32) % 12));
        break;
    case 1: /* an integer-valued double */
        x = (double)(int64_t)(b >> (b & 63));
        break;
    default:
        memcpy(&x, &b, sizeof x);
    }
    return x;
}

START_TEST(test_format_real_property)
{
    tropt_tracker *keep = NULL;
    format_real_fn fr = host_format_real(&keep);
    uint64_t rng = 0x5eedf00dULL;
    char buf[64], ref[64];
    long bad = 0, subnormals = 0, nans = 0, shorter = 0;
    const uint64_t total = 1000000;
    for (uint64_t i = 0; i < total; i++) {
        double x = probe(i, &rng);
        size_t n = fr(buf, sizeof buf, x);
        if (n != strlen(buf) || n >= 32) {
            if (bad++ < 5)
                fprintf(stderr, "length %zu for %a: %s\n", n, x, buf);
            continue;
        }
        if (isnan(x)) {
            nans++;
            bad += strcmp(buf, "nan") != 0;
            continue;
        }
        if (isinf(x)) {
            bad += strcmp(buf, x > 0 ? "inf" : "-inf") != 0;
            continue;
        }
        if (fpclassify(x) == FP_SUBNORMAL)
            subnormals++;
        char *end;
        double y = strtod(buf, &end);
        if (*end != '\0' || memcmp(&x, &y, sizeof x) != 0) {
            if (bad++ < 5)
                fprintf(stderr, "%a -> \"%s\" -> %a\n", x, buf, y);
            continue;
        }
        /* the fewest %.Ng digits that round-trip (monotone in N) */
        int lo = 1, hi = 17;
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (round_trips(x, mid, ref, sizeof ref))
                hi = mid;
            else
                lo = mid + 1;
        }
        round_trips(x, lo, ref, sizeof ref);
        int d = sig_digits(buf);
        if (d > lo || n > strlen(ref)) {
            if (bad++ < 5)
                fprintf(stderr, "%a: \"%s\" (%d digits) but \"%s\" round-trips\n", x, buf, d, ref);
        } else if (n < strlen(ref)) {
            shorter++;
        }
    }
    printf("format_real: %" PRIu64 " doubles (%ld subnormal, %ld NaN), %ld not shortest or not "
           "round-trip, %ld shorter than %%.Ng\n",
           total, subnormals, nans, bad, shorter);
    ck_assert_int_eq(bad, 0);
    ck_assert_int_gt(subnormals, 100);
    tropt_tracker_free(keep);
}
END_TEST

/* The same property through the file: random doubles logged in both layouts
 * read back by Python and pandas to the identical bits. */
START_TEST(test_reals_through_file)
{
    char *dir = tu_mkdtemp();
    const char *layouts[] = {"wide", "long"};
    for (int l = 0; l < 2; l++) {
        char *extra = tu_strdupf("layout=%s,fsync=off", layouts[l]);
        char *exp = tu_strdupf("reals-%s", layouts[l]);
        tropt_tracker *t = open_csv(dir, extra, exp);
        ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
        char *rid = tu_strdupf("%s", tropt_tracker_run_id(t));
        json_t *rows = json_array();
        uint64_t rng = 42 + (uint64_t)l;
        for (int64_t step = 0; step < 2000; step++) {
            tropt_field f[8];
            static const char *keys[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
            for (int k = 0; k < 8; k++)
                f[k] = TROPT_F_REAL(keys[k], probe(1000 + (uint64_t)(step * 8 + k), &rng));
            ck_assert_int_eq(tropt_tracker_log_fields(t, f, 8), TROPT_OK);
            expect_row(rows, step, f, 8);
        }
        ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
        tropt_tracker_free(t);
        json_t *cols = json_pack("[s,s,s,s,s,s,s,s,s,s]", "step", "time", "a", "b", "c", "d", "e",
                                 "f", "g", "h");
        char *expect = tu_path(dir, "expect.json");
        write_expect(expect, layouts[l], cols, rows);
        char *metrics = run_file(dir, exp, rid, "metrics.csv");
        char *args = tu_strdupf("values '%s' '%s'", metrics, expect);
        free(pycheck(args));
        free(args);
        free(metrics);
        free(expect);
        json_decref(cols);
        json_decref(rows);
        free(rid);
        free(exp);
        free(extra);
    }
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- header rewrites ----------------------------------------------------------- */

/* Scanning states of the strict reader below. */
enum { SCAN_ERROR = -1, SCAN_MORE = 0, SCAN_PARTIAL = 1 };

/* One field from s[*i]: SCAN_MORE past it, SCAN_PARTIAL when the input ends
 * inside a quoted field (an append in progress), SCAN_ERROR with why on a
 * quote inside a bare field. */
static int scan_field(const char *s, size_t len, size_t *i, const char **why)
{
    if (s[*i] != '"') {
        for (; *i < len && s[*i] != ',' && s[*i] != '\r' && s[*i] != '\n'; (*i)++)
            if (s[*i] == '"') {
                *why = "quote inside a bare field";
                return SCAN_ERROR;
            }
        return SCAN_MORE;
    }
    for ((*i)++; *i < len; (*i)++) {
        if (s[*i] != '"')
            continue;
        if (*i + 1 < len && s[*i + 1] == '"') {
            (*i)++;
            continue;
        }
        (*i)++;
        return SCAN_MORE;
    }
    return SCAN_PARTIAL;
}

/* What follows a field at s[*i]: 0 another field (past the ','), 1 the end
 * of the record (past CRLF), SCAN_PARTIAL at the end of the input, or
 * SCAN_ERROR with why (a bare LF, anything else). */
static int after_field(const char *s, size_t len, size_t *i, const char **why)
{
    if (*i >= len || (s[*i] == '\r' && *i + 1 >= len))
        return SCAN_PARTIAL;
    if (s[*i] == ',') {
        (*i)++;
        return 0;
    }
    if (s[*i] == '\r' && s[*i + 1] == '\n') {
        *i += 2;
        return 1;
    }
    *why = "bad character after a field";
    return SCAN_ERROR;
}

/* One record from s[*i]: its field count and first field's number (the
 * step); SCAN_MORE when complete, else SCAN_PARTIAL or SCAN_ERROR. */
static int scan_record(const char *s, size_t len, size_t *i, size_t *fields, int64_t *first,
                       const char **why)
{
    *fields = 0;
    for (;;) {
        size_t f0 = *i;
        (*fields)++;
        int r = scan_field(s, len, i, why);
        if (r != SCAN_MORE)
            return r;
        if (*fields == 1)
            *first = strtoll(s + f0, NULL, 10);
        r = after_field(s, len, i, why);
        if (r == 1)
            return SCAN_MORE;
        if (r != 0)
            return r;
    }
}

/* A strict RFC 4180 reader: returns the number of complete records and sets
 * *width to the header's field count; a record whose field count differs,
 * a bare LF, a stray quote or a step out of sequence is an error (-1, with
 * why).  An unterminated last record (an append in progress) is ignored. */
static long parse_strict(const char *s, size_t len, size_t *width, const char **why)
{
    size_t i = 0;
    long records = 0;
    while (i < len) {
        size_t fields;
        int64_t first = -1;
        int r = scan_record(s, len, &i, &fields, &first, why);
        if (r == SCAN_ERROR)
            return -1;
        if (r == SCAN_PARTIAL)
            return records;
        if (records == 0) {
            *width = fields;
        } else if (fields != *width) {
            *why = "a record's field count differs from the header's";
            return -1;
        } else if (first != records - 1) {
            *why = "steps out of sequence";
            return -1;
        }
        records++;
    }
    return records;
}

typedef struct poller {
    const char *path;
    atomic_int done;
    atomic_long parsed; /* read by the writer while the poller runs */
    long polls, errors, widths_seen, max_rows;
    size_t last_width;
    char why[160];
} poller;

static void *poll_file(void *arg)
{
    poller *p = arg;
    size_t cap = 1 << 20;
    char *buf = malloc(cap);
    while (!atomic_load(&p->done)) {
        FILE *f = fopen(p->path, "rb");
        p->polls++;
        if (!f)
            continue; /* not created yet */
        size_t n = 0, r;
        while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
            n += r;
            if (n == cap)
                buf = realloc(buf, cap *= 2);
        }
        fclose(f);
        size_t width = 0;
        const char *why = "";
        long recs = parse_strict(buf, n, &width, &why);
        if (recs < 1) {
            if (p->errors++ == 0)
                snprintf(p->why, sizeof p->why, "%s (%zu bytes)", recs < 0 ? why : "no header", n);
            continue;
        }
        atomic_fetch_add(&p->parsed, 1);
        if (width != p->last_width) {
            p->widths_seen++;
            p->last_width = width;
        }
        if (recs - 1 > p->max_rows)
            p->max_rows = recs - 1;
    }
    free(buf);
    return NULL;
}

/* A reader polling metrics.csv while every step adds a column (so every
 * step rewrites the file) never sees a broken or ragged file.  Every 20
 * steps the writer waits until the reader has parsed the file once more,
 * so it sees at least 20 versions of several widths however the scheduler
 * shares the machine. */
START_TEST(test_rewrite_atomic)
{
    char *dir = tu_mkdtemp();
    tropt_tracker *t = open_csv(dir, "fsync=off,rewrite_factor=0", "atomic");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char *metrics = run_file(dir, "atomic", tropt_tracker_run_id(t), "metrics.csv");
    poller p = {.path = metrics};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, poll_file, &p), 0);
    for (int step = 0; step < 400; step++) {
        char key[32], text[48];
        snprintf(key, sizeof key, "k%d", step);
        snprintf(text, sizeof text, "v,\"%d\"\r\nnext", step);
        tropt_field f[3] = {TROPT_F_REAL("loss", 1.0 / (step + 1)), TROPT_F_STR(key, text),
                            TROPT_F_INT("i", step)};
        ck_assert_int_eq(tropt_tracker_log_fields(t, f, 3), TROPT_OK);
        if (step % 20 == 0) {
            long seen = atomic_load(&p.parsed);
            double dl = tu_deadline(TU_WAIT_S);
            while (atomic_load(&p.parsed) <= seen)
                ck_assert_msg(tu_poll(dl), "the reader parsed nothing after step %d: %s", step,
                              p.why);
        }
    }
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    atomic_store(&p.done, 1);
    pthread_join(th, NULL);
    tropt_tracker_free(t);
    printf("atomic: %ld polls, %ld parsed, %ld header widths seen, up to %ld rows, %ld errors\n",
           p.polls, atomic_load(&p.parsed), p.widths_seen, p.max_rows, p.errors);
    ck_assert_msg(p.errors == 0, "a reader saw a broken file: %s", p.why);
    ck_assert_int_ge(atomic_load(&p.parsed), 20);
    ck_assert_int_ge(p.widths_seen, 3);
    char *rid = only_run(dir, "atomic");
    char *args = tu_strdupf("cover '%s' /nonexistent 400", metrics);
    free(pycheck(args));
    free(args);
    free(rid);
    free(metrics);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

static json_t *load_run_json(const char *dir, const char *folder, const char *rid)
{
    char *p = run_file(dir, folder, rid, "run.json");
    json_error_t err;
    json_t *j = json_load_file(p, 0, &err);
    ck_assert_msg(j != NULL, "%s: %s", p, err.text);
    free(p);
    return j;
}

/* A run where every step brings a new key: the bytes rewritten stay within
 * the documented bound, (rewrite_factor + 2) x the final file size, where
 * rewriting at once would be quadratic.  Every row is in the final file. */
static void late_keys_run(const char *dir, const char *folder, const char *extra, int steps,
                          uint64_t *rewritten, uint64_t *size, uint64_t *rewrites, double *secs)
{
    tropt_tracker *t = open_csv(dir, extra, folder);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char *rid = tu_strdupf("%s", tropt_tracker_run_id(t));
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int step = 0; step < steps; step++) {
        char key[32];
        snprintf(key, sizeof key, "metric_%d", step);
        tropt_field f[2] = {TROPT_F_REAL("loss", 1.0 / (step + 1)), TROPT_F_INT(key, step)};
        ck_assert_int_eq(tropt_tracker_log_fields(t, f, 2), TROPT_OK);
    }
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    clock_gettime(CLOCK_MONOTONIC, &b);
    tropt_tracker_free(t);
    *secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    json_t *j = load_run_json(dir, folder, rid);
    *rewritten = (uint64_t)json_integer_value(json_object_get(j, "bytes_rewritten"));
    *size = (uint64_t)json_integer_value(json_object_get(j, "metrics_bytes"));
    *rewrites = (uint64_t)json_integer_value(json_object_get(j, "header_rewrites"));
    json_decref(j);
    char *metrics = run_file(dir, folder, rid, "metrics.csv");
    struct stat st;
    ck_assert_int_eq(stat(metrics, &st), 0);
    ck_assert_uint_eq((uint64_t)st.st_size, *size);
    char *pending = run_file(dir, folder, rid, "metrics.pending.csv");
    ck_assert_msg(access(pending, F_OK) != 0, "metrics.pending.csv left after finish");
    char *args = tu_strdupf("cover '%s' /nonexistent %d", metrics, steps);
    char *out = pycheck(args);
    char *cols = tu_strdupf("%d columns", steps + 3);
    ck_assert_msg(strstr(out, cols) != NULL, "%s", out);
    free(cols);
    free(out);
    free(args);
    free(pending);
    free(metrics);
    free(rid);
}

START_TEST(test_rewrite_bound)
{
    char *dir = tu_mkdtemp();
    uint64_t w, f, n;
    double s;
    const int steps = 3000;
    late_keys_run(dir, "bound", "fsync=off", steps, &w, &f, &n, &s);
    printf("bound: %d steps, a new key each: final metrics.csv %" PRIu64 " bytes, %" PRIu64
           " rewrites, %" PRIu64 " bytes rewritten = %.2f x final size (bound %.0f x), %.2f s\n",
           steps, f, n, w, (double)w / (double)f, 4.0 + 2, s);
    ck_assert_uint_le(w, 6 * f);
    ck_assert_uint_ge(n, 3);
    /* The same with fsync=normal: every rewrite synced before its rename. */
    late_keys_run(dir, "bound-sync", "", steps, &w, &f, &n, &s);
    printf("bound, fsync=normal: %" PRIu64 " rewrites, %.2f x final size, %.2f s\n", n,
           (double)w / (double)f, s);
    ck_assert_uint_le(w, 6 * f);
    ck_assert_uint_ge(n, 3);
    /* For contrast, rewriting at once (no bound) on a run a fifth as long. */
    late_keys_run(dir, "eager", "fsync=off,rewrite_factor=0", steps / 5, &w, &f, &n, &s);
    printf("eager (rewrite_factor=0): %d steps: final %" PRIu64 " bytes, %" PRIu64
           " rewrites, %" PRIu64 " bytes rewritten = %.1f x final size, %.2f s\n",
           steps / 5, f, n, w, (double)w / (double)f, s);
    ck_assert_uint_eq(n, (uint64_t)steps / 5);
    ck_assert_uint_gt(w, 50 * f);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- a killed process ------------------------------------------------------------ */

/* A child logs in the default mode and is killed with SIGKILL: metrics.csv
 * is a valid CSV holding every step whose log had returned (with
 * new_key_each_step, deferred steps may be in metrics.pending.csv). */
static void killed_run(int new_key_each_step, int min_steps)
{
    char *dir = tu_mkdtemp();
    atomic_long *returned =
        mmap(NULL, sizeof *returned, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert(returned != MAP_FAILED);
    atomic_store(returned, 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char *spec = tu_strdupf("csv:dir=%s", dir);
        tropt_tracker *t = NULL;
        if (tropt_tracker_open(&t, spec, "killed", NULL) != TROPT_OK ||
            tropt_tracker_init(t, NULL) != TROPT_OK)
            _exit(3);
        for (long step = 0;; step++) {
            char key[32], text[40];
            if (new_key_each_step)
                snprintf(key, sizeof key, "k%ld", step);
            else
                snprintf(key, sizeof key, "%s", step < 50 ? "early" : "later");
            snprintf(text, sizeof text, "row \"%ld\",\n", step);
            tropt_field f[3] = {TROPT_F_INT("i", step), TROPT_F_STR(key, text),
                                TROPT_F_REAL("x", (double)step / 7)};
            if (tropt_tracker_log_fields(t, f, 3) != TROPT_OK)
                _exit(4);
            atomic_store(returned, step + 1);
            if (step > 200000)
                pause();
        }
    }
    double dl = tu_deadline(TU_WAIT_S);
    while (atomic_load(returned) < min_steps) {
        int st;
        ck_assert_msg(waitpid(pid, &st, WNOHANG) == 0, "child ended early: %d", st);
        ck_assert_msg(tu_poll(dl), "the child logged %ld of %d steps", atomic_load(returned),
                      min_steps);
    }
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    ck_assert(WIFSIGNALED(st));
    long n = atomic_load(returned);
    char *rid = only_run(dir, "killed");
    char *metrics = run_file(dir, "killed", rid, "metrics.csv");
    char *pending = run_file(dir, "killed", rid, "metrics.pending.csv");
    /* A write(2) that spans two pages may be stopped between them by the
     * kill: the row whose log was running may be torn (not one that
     * returned), and cover leaves such a tail aside. */
    char *args = tu_strdupf("cover '%s' '%s' %ld killed", metrics, pending, n);
    char *out = pycheck(args);
    printf("killed after %ld returned logs: %s", n, out);
    free(out);
    free(args);
    free(pending);
    free(metrics);
    free(rid);
    munmap(returned, sizeof *returned);
    tu_rmtree(dir);
    free(dir);
}

START_TEST(test_sigkill_default_mode)
{
    killed_run(0, 2000);
}
END_TEST

START_TEST(test_sigkill_keys_keep_appearing)
{
    killed_run(1, 1500);
}
END_TEST

/* ---- batching ---------------------------------------------------------------------- */

static long rows_on_disk(const char *path)
{
    size_t n = 0;
    char *s = tu_read_file(path, &n);
    ck_assert_ptr_nonnull(s);
    size_t width = 0;
    const char *why = "";
    long recs = parse_strict(s, n, &width, &why);
    ck_assert_msg(recs >= 1, "%s: %s", path, why);
    free(s);
    return recs - 1;
}

START_TEST(test_flush_every)
{
    char *dir = tu_mkdtemp();
    tropt_tracker *t = open_csv(dir, "flush_every=5,fsync=off", "batch");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char *metrics = run_file(dir, "batch", tropt_tracker_run_id(t), "metrics.csv");
    ck_assert_int_eq(rows_on_disk(metrics), 0);
    for (int i = 0; i < 4; i++) {
        tropt_field f = TROPT_F_INT("i", i);
        ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_OK);
    }
    ck_assert_int_eq(rows_on_disk(metrics), 0);
    tropt_field f = TROPT_F_INT("j", 4); /* a new key in the batch */
    ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_OK);
    ck_assert_int_eq(rows_on_disk(metrics), 5);
    ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_OK);
    ck_assert_int_eq(rows_on_disk(metrics), 5);
    ck_assert_int_eq(tropt_tracker_flush(t), TROPT_OK); /* a barrier */
    ck_assert_int_eq(rows_on_disk(metrics), 6);
    ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK); /* a barrier */
    ck_assert_int_eq(rows_on_disk(metrics), 7);
    tropt_tracker_free(t);
    free(metrics);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_flush_interval)
{
    char *dir = tu_mkdtemp();
    tropt_tracker *t = open_csv(dir, "flush_every=1000,flush_interval=30ms,fsync=off", "interval");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char *metrics = run_file(dir, "interval", tropt_tracker_run_id(t), "metrics.csv");
    tropt_field f = TROPT_F_INT("i", 1);
    ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_OK);
    ck_assert_int_eq(rows_on_disk(metrics), 0);
    /* flush_interval is checked by log (there is no timer): the pause is
     * the interval under test, and a slow machine only makes it longer */
    tu_sleep_ms(40);
    ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_OK);
    ck_assert_int_eq(rows_on_disk(metrics), 2);
    tropt_tracker_free(t); /* free finishes the run as aborted */
    char *rid = only_run(dir, "interval");
    json_t *j = load_run_json(dir, "interval", rid);
    ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "aborted");
    json_decref(j);
    free(rid);
    free(metrics);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- folders and failures ----------------------------------------------------------------- */

START_TEST(test_experiment_folder_sanitized)
{
    char *dir = tu_mkdtemp();
    char *inner = tu_path(dir, "logs");
    static const struct {
        const char *exp, *folder;
    } cases[] = {
        {"../../escape", "______escape"},
        {"..", "__"},
        {".hidden/x", "_hidden_x"},
        {"a/b\\c\nd", "a_b_c_d"},
        {"caf\xc3\xa9 run", "caf\xc3\xa9 run"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tropt_tracker *t = open_csv(inner, "fsync=off", cases[i].exp);
        ck_assert_msg(tropt_tracker_init(t, NULL) == TROPT_OK, "%s", tropt_error_message());
        char *rid = tu_strdupf("%s", tropt_tracker_run_id(t));
        ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
        tropt_tracker_free(t);
        char *p = run_file(inner, cases[i].folder, rid, "metrics.csv");
        ck_assert_msg(access(p, F_OK) == 0, "%s -> %s missing", cases[i].exp, p);
        json_t *j = load_run_json(inner, cases[i].folder, rid);
        ck_assert_str_eq(json_string_value(json_object_get(j, "experiment")), cases[i].exp);
        json_decref(j);
        free(p);
        free(rid);
    }
    /* nothing escaped <dir>/logs */
    DIR *d = opendir(dir);
    struct dirent *e;
    int entries = 0;
    while ((e = readdir(d)))
        entries += e->d_name[0] != '.';
    closedir(d);
    ck_assert_int_eq(entries, 1);
    free(inner);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_two_runs_one_tracker)
{
    char *dir = tu_mkdtemp();
    tropt_tracker *t = open_csv(dir, "fsync=off", "reuse");
    char *rid[2];
    for (int r = 0; r < 2; r++) {
        ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
        rid[r] = tu_strdupf("%s", tropt_tracker_run_id(t));
        tropt_field f = TROPT_F_INT(r ? "second" : "first", r);
        ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_OK);
        ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    }
    tropt_tracker_free(t);
    ck_assert_str_ne(rid[0], rid[1]);
    for (int r = 0; r < 2; r++) {
        char *p = run_file(dir, "reuse", rid[r], "metrics.csv");
        char *s = tu_read_file(p, NULL);
        char *want = tu_strdupf("step,time,%s\r\n0,", r ? "second" : "first");
        ck_assert_msg(strncmp(s, want, strlen(want)) == 0, "%s", s);
        char *tail = tu_strdupf(",%d\r\n", r);
        ck_assert_msg(strlen(s) > strlen(tail) && strcmp(s + strlen(s) - strlen(tail), tail) == 0 &&
                          strchr(s + strlen(want), '\n') == s + strlen(s) - 1,
                      "%s", s);
        free(tail);
        free(want);
        free(s);
        free(p);
        free(rid[r]);
    }
    tu_rmtree(dir);
    free(dir);
}
END_TEST

static void expect_backend_error(const char *dir, const char *exp, const char *needle)
{
    tropt_tracker *t = open_csv(dir, "fsync=off", exp);
    int rc = tropt_tracker_init(t, NULL);
    ck_assert_msg(rc == TROPT_EBACKEND, "init: %d %s", rc, tropt_error_message());
    const char *msg = tropt_error_message();
    ck_assert_msg(strstr(msg, needle) != NULL, "message '%s' lacks '%s'", msg, needle);
    /* the tracker stays usable: log reports the failure, finish too */
    tropt_field f = TROPT_F_INT("i", 1);
    ck_assert_int_ne(tropt_tracker_log_fields(t, &f, 1), TROPT_OK);
    tropt_tracker_free(t);
}

START_TEST(test_medium_failures_folder)
{
    char *dir = tu_mkdtemp();
    /* a file where the folder should be */
    char *blocker = tu_path(dir, "blocker");
    ck_assert_int_eq(tu_write_file(blocker, "x"), 0);
    char *under = tu_path(blocker, "logs");
    expect_backend_error(under, "e", "not a folder");
    expect_backend_error(under, "e", blocker);
    /* a file where the experiment folder should be */
    char *expfile = tu_path(dir, "expfile");
    ck_assert_int_eq(tu_write_file(expfile, "x"), 0);
    expect_backend_error(dir, "expfile", "expfile");
    /* a folder nobody can create files in, not even root */
    expect_backend_error("/proc/tropt-csv-test", "e", "/proc/tropt-csv-test");
    free(expfile);
    free(under);
    free(blocker);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* A finish that cannot write summary.json (a folder is in the way) fails
 * with the path; the run stays open, its rows are safe, and a second
 * finish, once the way is clear, completes it. */
START_TEST(test_finish_failure_retry)
{
    char *dir = tu_mkdtemp();
    tropt_tracker *t = open_csv(dir, "fsync=off,flush_every=10", "retry");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char *rid = tu_strdupf("%s", tropt_tracker_run_id(t));
    for (int i = 0; i < 3; i++) {
        tropt_field f = TROPT_F_INT("i", i);
        ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_OK);
    }
    char *blocker = run_file(dir, "retry", rid, "summary.json");
    ck_assert_int_eq(mkdir(blocker, 0755), 0);
    char *inside = tu_path(blocker, "x");
    ck_assert_int_eq(tu_write_file(inside, "x"), 0);
    json_t *sum = json_pack("{s:i}", "best", 1);
    ck_assert_int_eq(tropt_tracker_finish(t, sum), TROPT_EBACKEND);
    ck_assert_msg(strstr(tropt_error_message(), "summary.json") != NULL, "%s",
                  tropt_error_message());
    ck_assert(tropt_tracker_is_active(t));
    char *metrics = run_file(dir, "retry", rid, "metrics.csv");
    ck_assert_int_eq(rows_on_disk(metrics), 3); /* the barrier wrote them */
    unlink(inside);
    rmdir(blocker);
    ck_assert_msg(tropt_tracker_finish(t, sum) == TROPT_OK, "%s", tropt_error_message());
    ck_assert(!tropt_tracker_is_active(t));
    tropt_tracker_free(t);
    ck_assert_int_eq(rows_on_disk(metrics), 3);
    json_t *j = load_run_json(dir, "retry", rid);
    ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "finished");
    json_decref(j);
    json_error_t err;
    j = json_load_file(blocker, 0, &err);
    ck_assert_msg(j && json_equal(j, sum), "%s", err.text);
    json_decref(j);
    json_decref(sum);
    free(metrics);
    free(inside);
    free(blocker);
    free(rid);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* Disk full, simulated with RLIMIT_FSIZE in a child: log returns
 * TROPT_EBACKEND naming metrics.csv and the cause; the file stays a valid
 * CSV of the rows accepted before; once space is back, the rows that could
 * not be written are written and nothing is lost. */
START_TEST(test_disk_full)
{
    char *dir = tu_mkdtemp();
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        char *spec = tu_strdupf("csv:dir=%s,fsync=off", dir);
        tropt_tracker *t = NULL;
        if (tropt_tracker_open(&t, spec, "full", NULL) != TROPT_OK ||
            tropt_tracker_init(t, NULL) != TROPT_OK)
            _exit(10);
        struct rlimit rl;
        getrlimit(RLIMIT_FSIZE, &rl);
        struct rlimit small = {64 * 1024, rl.rlim_max};
        setrlimit(RLIMIT_FSIZE, &small);
        char big[1000];
        memset(big, 'x', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        int step, failed = 0;
        for (step = 0; step < 200; step++) {
            tropt_field f[2] = {TROPT_F_INT("i", step), TROPT_F_STR("s", big)};
            int rc = tropt_tracker_log_fields(t, f, 2);
            if (rc != TROPT_OK) {
                if (rc != TROPT_EBACKEND || !strstr(tropt_error_message(), "metrics.csv") ||
                    !strstr(tropt_error_message(), "too large"))
                    _exit(11);
                failed++;
                if (failed == 1) {
                    /* a header rewrite fails as well, keeping the old file */
                    tropt_field g = TROPT_F_INT("new_key", 1);
                    if (tropt_tracker_log_fields(t, &g, 1) != TROPT_EBACKEND)
                        _exit(12);
                    step++;
                }
                if (failed == 3)
                    break;
            }
        }
        if (!failed)
            _exit(13);
        /* the file is intact (checked by the parent now); then space returns */
        printf("%d\n", step);
        fflush(stdout);
        raise(SIGSTOP);
        setrlimit(RLIMIT_FSIZE, &rl);
        if (tropt_tracker_finish(t, NULL) != TROPT_OK)
            _exit(14);
        tropt_tracker_free(t);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, WUNTRACED);
    ck_assert_msg(WIFSTOPPED(st), "child status %d", WEXITSTATUS(st));
    char *rid = only_run(dir, "full");
    char *metrics = run_file(dir, "full", rid, "metrics.csv");
    char *args = tu_strdupf("cover '%s' /nonexistent 1", metrics);
    char *out = pycheck(args);
    printf("disk full: at the limit: %s", out);
    free(out);
    free(args);
    struct stat sb;
    ck_assert_int_eq(stat(metrics, &sb), 0);
    ck_assert_int_le(sb.st_size, 64 * 1024);
    kill(pid, SIGCONT);
    waitpid(pid, &st, 0);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", WEXITSTATUS(st));
    /* every step, including those whose log failed, is there now */
    long rows = rows_on_disk(metrics);
    args = tu_strdupf("cover '%s' /nonexistent %ld", metrics, rows);
    out = pycheck(args);
    printf("disk full: after space returned: %s", out);
    ck_assert_int_gt(rows, 60);
    free(out);
    free(args);
    free(metrics);
    free(rid);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* The disk stays full (RLIMIT_FSIZE in a child), issue 18 finding 11: the
 * rows that cannot be written are kept in memory only up to pending_max
 * bytes; past it log returns TROPT_EBACKEND saying the step is dropped,
 * and memory stops growing.  With retry_interval=60m no log retries the
 * write (the file does not grow once space is back) until the flush
 * barrier; then every row whose log did not say "dropped" is in
 * metrics.csv, in order, and nothing else.  Wide and long layouts. */
/* What the child of test_disk_full_bounded saw: logs accepted (n_ok), kept
 * in memory (kept), dropped; the steps whose rows must reach the file. */
typedef struct full_log {
    int n_ok, kept, dropped, step;
    char *want;
    size_t wn;
} full_log;

static void full_want(full_log *g)
{
    g->wn += (size_t)snprintf(g->want + g->wn, 64 * 1024 - g->wn, " %d", g->step);
}

/* One log's outcome while the disk is full: 0 accepted or kept (its row
 * must reach the file), 1 dropped, else the child's exit code. */
static int full_outcome(full_log *g, int rc, const char *msg)
{
    if (rc == TROPT_OK) {
        g->n_ok++;
        return g->dropped ? 11 : 0; /* accepted after the bound, with no space */
    }
    if (rc != TROPT_EBACKEND || !strstr(msg, "metrics.csv"))
        return 12;
    if (strstr(msg, "dropped")) {
        g->dropped++;
        return strstr(msg, "pending_max") ? 1 : 13;
    }
    g->kept++;
    return g->dropped ? 14 : 0; /* kept after the bound: memory grows */
}

/* Big rows, the file size limited to 16 KiB from step 10, until 200 logs
 * were dropped; 0 or the child's exit code. */
static int full_fill(tropt_tracker *t, tropt_field *f, const struct rlimit *rl, full_log *g)
{
    for (g->step = 0; g->step < 3000 && g->dropped < 200; g->step++) {
        if (g->step == 10) {
            struct rlimit small = {16 * 1024, rl->rlim_max};
            setrlimit(RLIMIT_FSIZE, &small);
        }
        int rc = tropt_tracker_log_fields(t, f, 1);
        int r = full_outcome(g, rc, tropt_error_message());
        if (r > 1)
            return r;
        if (r == 0)
            full_want(g);
    }
    /* at most pending_max bytes held: about 150 rows of ~430 bytes */
    return g->dropped < 200 || g->kept < 20 || g->kept > 200 ? 15 : 0;
}

/* The run's metrics.csv under dir/bounded, or NULL. */
static char *full_metrics(const char *dir)
{
    char *metrics = NULL;
    char *p = tu_strdupf("%s/bounded", dir);
    DIR *d = opendir(p);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            free(metrics);
            metrics = tu_strdupf("%s/%s/metrics.csv", p, e->d_name);
        }
    if (d)
        closedir(d);
    free(p);
    return metrics;
}

/* Space is back but retry_interval=60m: a log neither retries nor grows
 * the file; the flush barrier writes every kept row and logging works
 * again.  0 or the child's exit code. */
static int full_recover(tropt_tracker *t, tropt_field *f, const char *metrics, full_log *g)
{
    struct stat a, b;
    if (!metrics || stat(metrics, &a) != 0)
        return 16;
    if (tropt_tracker_log_fields(t, f, 1) != TROPT_EBACKEND ||
        !strstr(tropt_error_message(), "dropped"))
        return 17;
    if (stat(metrics, &b) != 0 || b.st_size != a.st_size)
        return 18;
    g->step++;
    if (tropt_tracker_flush(t) != TROPT_OK)
        return 19;
    for (int k = 0; k < 3; k++, g->step++) {
        if (tropt_tracker_log_fields(t, f, 1) != TROPT_OK)
            return 20;
        full_want(g);
    }
    return tropt_tracker_finish(t, NULL) != TROPT_OK ? 21 : 0;
}

/* The child of test_disk_full_bounded: its exit code; on success the file
 * accepted holds the metrics path, the counts and the steps to find. */
static int full_child(const char *dir, const char *layout, const char *accepted)
{
    signal(SIGXFSZ, SIG_IGN);
    char *spec = tu_strdupf("csv:dir=%s,fsync=off,layout=%s,pending_max=65536,retry_interval=60m",
                            dir, layout);
    tropt_tracker *t = NULL;
    if (tropt_tracker_open(&t, spec, "bounded", NULL) != TROPT_OK ||
        tropt_tracker_init(t, NULL) != TROPT_OK)
        return 10;
    char big[401];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    tropt_field f = TROPT_F_STR("s", big);
    struct rlimit rl;
    getrlimit(RLIMIT_FSIZE, &rl);
    full_log g = {.want = malloc(64 * 1024)};
    int r = full_fill(t, &f, &rl, &g);
    if (r)
        return r;
    setrlimit(RLIMIT_FSIZE, &rl);
    char *metrics = full_metrics(dir);
    if ((r = full_recover(t, &f, metrics, &g)) != 0)
        return r;
    tropt_tracker_free(t);
    FILE *o = fopen(accepted, "w");
    fprintf(o, "%s\n%d kept %d dropped %d\n", metrics, g.n_ok + g.kept + 3, g.kept, g.dropped);
    fprintf(o, "%s\n", g.want);
    fclose(o);
    return 0;
}

START_TEST(test_disk_full_bounded)
{
    const char *layouts[] = {"wide", "long"};
    for (int l = 0; l < 2; l++) {
        char *dir = tu_mkdtemp();
        char *accepted = tu_path(dir, "accepted.txt");
        fflush(NULL);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0)
            _exit(full_child(dir, layouts[l], accepted));
        int st;
        waitpid(pid, &st, 0);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: child status %d", layouts[l],
                      WEXITSTATUS(st));
        char *text = tu_read_file(accepted, NULL);
        ck_assert_ptr_nonnull(text);
        char *nl1 = strchr(text, '\n');
        *nl1 = '\0';
        char *nl2 = strchr(nl1 + 1, '\n');
        *nl2 = '\0';
        int rows = atoi(nl1 + 1);
        printf("disk full, %s, pending_max=65536: %s\n", layouts[l], nl1 + 1);
        char *args = tu_strdupf("steps '%s'", text);
        char *out = pycheck(args);
        char *want = tu_strdupf("OK %d:%s", rows, nl2 + 1);
        ck_assert_str_eq(out, want);
        free(want);
        free(out);
        free(args);
        free(text);
        free(accepted);
        tu_rmtree(dir);
        free(dir);
    }
}
END_TEST

/* The same run replayed into the same folder twice (tropt replay): the
 * second pass continues metrics.csv, skipping the steps it holds, so no
 * step is duplicated; a torn last record (a killed writer) is cut. */
START_TEST(test_replay_same_run)
{
    const char *layouts[] = {"wide", "long"};
    for (int l = 0; l < 2; l++) {
        char *dir = tu_mkdtemp();
        char *extra = tu_strdupf("fsync=off,layout=%s", layouts[l]);
        const char *rid = "01900000-0000-7000-8000-00000000abcd";
        tropt_run_info info = {.run_id = rid};
        char *metrics = run_file(dir, "replay", rid, "metrics.csv");
        json_t *rows = json_array();
        for (int pass = 0; pass < 2; pass++) {
            tropt_tracker *t = open_csv(dir, extra, "replay");
            ck_assert_msg(tropt_tracker_init_run(t, &info, NULL) == TROPT_OK, "%s",
                          tropt_error_message());
            int upto = pass ? 15 : 10;
            for (int step = 0; step < upto; step++) {
                tropt_field f[3] = {TROPT_F_INT("i", step), TROPT_F_STR("s,\"q\"", "a\r\nb"),
                                    TROPT_F_REAL("step", step * 0.5)};
                size_t n = step >= 12 ? 3 : 2;
                ck_assert_int_eq(tropt_tracker_log_fields_at(t, step, 1.7e9 + step, f, n),
                                 TROPT_OK);
                if (step >= (pass ? 10 : 0))
                    expect_row(rows, step, f, n);
            }
            ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
            tropt_tracker_free(t);
            if (pass == 0) {
                /* a killed writer left half a record */
                FILE *f = fopen(metrics, "ab");
                fputs(l ? "10,1700000010,i,1" : "10,1700000010,10,\"a\r\n", f);
                fclose(f);
            }
        }
        json_t *cols = json_pack("[s,s,s,s,s]", "step", "time", "i", "s,\"q\"", "_step");
        char *expect = tu_path(dir, "expect.json");
        write_expect(expect, layouts[l], cols, rows);
        char *args = tu_strdupf("values '%s' '%s'", metrics, expect);
        char *out = pycheck(args);
        printf("replayed twice (%s): %s", layouts[l], out);
        free(out);
        free(args);
        free(expect);
        json_decref(cols);
        json_decref(rows);
        free(metrics);
        free(extra);
        tu_rmtree(dir);
        free(dir);
    }
}
END_TEST

/* ---- symbolic links (issue 18, finding 2) ------------------------------------ */

/* The number of entries in folder p (without . and ..). */
static int entries(const char *p)
{
    DIR *d = opendir(p);
    ck_assert_msg(d != NULL, "opendir %s: %s", p, strerror(errno));
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void assert_file_is(const char *path, const char *want)
{
    size_t n = 0;
    char *got = tu_read_file(path, &n);
    ck_assert_msg(got != NULL, "%s: %s", path, strerror(errno));
    ck_assert_msg(n == strlen(want) && memcmp(got, want, n) == 0, "%s changed: '%.*s'", path,
                  (int)n, got);
    free(got);
}

/* A run folder (or an experiment folder) that is a symbolic link, planted
 * where a known run id will write (tropt replay), is refused with
 * TROPT_EBACKEND and a message naming it; the link's target gets nothing. */
START_TEST(test_symlink_run_folder_refused)
{
    char *dir = tu_mkdtemp();
    const char *rid = "01900000-0000-7000-8000-0000000051a1";
    char *victim = tu_path(dir, "victim");
    ck_assert_int_eq(mkdir(victim, 0755), 0);
    char *vfile = tu_path(victim, "metrics.csv");
    ck_assert_int_eq(tu_write_file(vfile, "precious\r\n"), 0);
    char *logs = tu_path(dir, "logs");
    ck_assert_int_eq(mkdir(logs, 0755), 0);
    char *exp = tu_path(logs, "sym");
    ck_assert_int_eq(mkdir(exp, 0755), 0);
    char *link = tu_path(exp, rid);
    ck_assert_int_eq(symlink(victim, link), 0);
    tropt_run_info info = {.run_id = rid};
    tropt_tracker *t = open_csv(logs, "fsync=off", "sym");
    ck_assert_int_eq(tropt_tracker_init_run(t, &info, NULL), TROPT_EBACKEND);
    const char *msg = tropt_error_message();
    ck_assert_msg(strstr(msg, "symbolic link") && strstr(msg, link), "message: %s", msg);
    tropt_tracker_free(t);
    /* the experiment folder a link */
    char *explink = tu_path(logs, "symexp");
    ck_assert_int_eq(symlink(victim, explink), 0);
    t = open_csv(logs, "fsync=off", "symexp");
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_EBACKEND);
    msg = tropt_error_message();
    ck_assert_msg(strstr(msg, "symbolic link") && strstr(msg, explink), "message: %s", msg);
    tropt_tracker_free(t);
    ck_assert_int_eq(entries(victim), 1);
    assert_file_is(vfile, "precious\r\n");
    free(explink);
    free(link);
    free(exp);
    free(logs);
    free(vfile);
    free(victim);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* Links planted in a run folder under every name the writer used to open
 * with O_TRUNC (the temporary files .<name>.<pid>.tmp and
 * metrics.pending.csv): the run is written as usual, through fresh files,
 * and the file the links point to stays untouched.  A metrics.csv that is a
 * link is refused, naming it. */
START_TEST(test_symlink_planted_names)
{
    char *dir = tu_mkdtemp();
    const char *rid = "01900000-0000-7000-8000-0000000051a2";
    char *victim = tu_path(dir, "victim.txt");
    ck_assert_int_eq(tu_write_file(victim, "precious\n"), 0);
    char *logs = tu_path(dir, "logs");
    ck_assert_int_eq(mkdir(logs, 0755), 0);
    char *exp = tu_path(logs, "plant");
    ck_assert_int_eq(mkdir(exp, 0755), 0);
    char *run = tu_path(exp, rid);
    ck_assert_int_eq(mkdir(run, 0755), 0);
    const char *names[] = {"metrics.csv", "config.json", "run.json", "summary.json"};
    for (size_t i = 0; i < 4; i++) {
        char *p = tu_strdupf("%s/.%s.%ld.tmp", run, names[i], (long)getpid());
        ck_assert_int_eq(symlink(victim, p), 0);
        free(p);
    }
    char *pending = tu_path(run, "metrics.pending.csv");
    ck_assert_int_eq(symlink(victim, pending), 0);
    /* rewrite_factor=0.01: the third new key is deferred to
     * metrics.pending.csv, so that file is created too */
    tropt_run_info info = {.run_id = rid};
    tropt_tracker *t = open_csv(logs, "fsync=off,rewrite_factor=0.01", "plant");
    ck_assert_msg(tropt_tracker_init_run(t, &info, NULL) == TROPT_OK, "%s", tropt_error_message());
    char *pfile = tu_path(run, "metrics.pending.csv");
    int saw_pending = 0;
    for (int step = 0; step < 6; step++) {
        char key[8];
        snprintf(key, sizeof key, "k%d", step);
        tropt_field f[2] = {TROPT_F_INT("i", step), TROPT_F_INT(key, step)};
        ck_assert_msg(tropt_tracker_log_fields(t, f, 2) == TROPT_OK, "%s", tropt_error_message());
        struct stat st;
        saw_pending |= lstat(pfile, &st) == 0 && S_ISREG(st.st_mode);
    }
    assert_file_is(victim, "precious\n");
    ck_assert_msg(saw_pending, "no deferred rows: the test misses metrics.pending.csv");
    ck_assert_msg(tropt_tracker_finish(t, NULL) == TROPT_OK, "%s", tropt_error_message());
    tropt_tracker_free(t);
    assert_file_is(victim, "precious\n");
    char *metrics = tu_path(run, "metrics.csv");
    struct stat st;
    ck_assert_int_eq(lstat(metrics, &st), 0);
    ck_assert_msg(S_ISREG(st.st_mode), "metrics.csv is not a regular file");
    char *args = tu_strdupf("cover '%s' /nonexistent 6", metrics);
    free(pycheck(args));
    free(args);
    /* metrics.csv itself a link: refused, named, the target untouched */
    ck_assert_int_eq(unlink(metrics), 0);
    ck_assert_int_eq(symlink(victim, metrics), 0);
    t = open_csv(logs, "fsync=off", "plant");
    ck_assert_int_eq(tropt_tracker_init_run(t, &info, NULL), TROPT_EBACKEND);
    const char *msg = tropt_error_message();
    ck_assert_msg(strstr(msg, "symbolic link") && strstr(msg, metrics), "message: %s", msg);
    tropt_tracker_free(t);
    assert_file_is(victim, "precious\n");
    free(metrics);
    free(pfile);
    free(pending);
    free(run);
    free(exp);
    free(logs);
    free(victim);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* Deferred rows a killed writer left in metrics.pending.csv are moved aside
 * by the next writer of the run, never over the rows an earlier crash left
 * there: both files survive, byte for byte. */
START_TEST(test_pending_rows_of_two_crashes_both_kept)
{
    char *dir = tu_mkdtemp();
    const char *rid = "01900000-0000-7000-8000-0000000051a3";
    tropt_run_info info = {.run_id = rid};
    tropt_tracker *t = open_csv(dir, "fsync=off", "twice");
    ck_assert_msg(tropt_tracker_init_run(t, &info, NULL) == TROPT_OK, "%s", tropt_error_message());
    tropt_field f0[1] = {TROPT_F_INT("i", 0)};
    ck_assert_int_eq(tropt_tracker_log_fields(t, f0, 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    char *run = tu_strdupf("%s/twice/%s", dir, rid);
    char *pending = tu_path(run, "metrics.pending.csv");
    char *old0 = tu_path(run, "metrics.pending.old.csv");
    char *old1 = tu_path(run, "metrics.pending.old.1.csv");
    ck_assert_int_eq(tu_write_file(old0, "first crash\r\n"), 0);
    ck_assert_int_eq(tu_write_file(pending, "second crash\r\n"), 0);
    t = open_csv(dir, "fsync=off", "twice");
    ck_assert_msg(tropt_tracker_init_run(t, &info, NULL) == TROPT_OK, "%s", tropt_error_message());
    tropt_field f1[1] = {TROPT_F_INT("i", 1)};
    ck_assert_int_eq(tropt_tracker_log_fields(t, f1, 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    assert_file_is(old0, "first crash\r\n");
    assert_file_is(old1, "second crash\r\n");
    struct stat st;
    ck_assert_int_ne(lstat(pending, &st), 0);
    free(old1);
    free(old0);
    free(pending);
    free(run);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- replaying non-increasing steps (issue 18, finding 8) --------------------- */

/* A run whose steps are not increasing (a restart from a checkpoint: steps
 * 0..7, then 3..9, and step 5 once more), replayed into the same folder
 * three times the way `tropt replay` does it (the same run id reopened, the
 * same steps logged again): the file holds each logged row exactly once,
 * in the first pass's order, read back by Python's csv module.  A fourth
 * pass logging two more steps after them appends just those two. */
START_TEST(test_replay_non_increasing_steps)
{
    const char *layouts[] = {"wide", "long"};
    static const int seq[] = {0, 1, 2, 3, 4, 5, 6, 7, 3, 4, 5, 6, 7, 8, 9, 5};
    const int nseq = (int)(sizeof seq / sizeof seq[0]);
    for (int l = 0; l < 2; l++) {
        char *dir = tu_mkdtemp();
        char *extra = tu_strdupf("fsync=off,layout=%s", layouts[l]);
        const char *rid = "01900000-0000-7000-8000-00000000abce";
        tropt_run_info info = {.run_id = rid};
        char *metrics = run_file(dir, "nonincr", rid, "metrics.csv");
        char *want = NULL;
        for (int pass = 0; pass < 4; pass++) {
            tropt_tracker *t = open_csv(dir, extra, "nonincr");
            ck_assert_msg(tropt_tracker_init_run(t, &info, NULL) == TROPT_OK, "%s",
                          tropt_error_message());
            int n = pass == 3 ? nseq + 2 : nseq;
            for (int k = 0; k < n; k++) {
                int step = k < nseq ? seq[k] : 2 + (k - nseq);
                tropt_field f = TROPT_F_INT("k", k);
                ck_assert_int_eq(tropt_tracker_log_fields_at(t, step, 1.7e9 + k, &f, 1), TROPT_OK);
            }
            ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
            tropt_tracker_free(t);
            char *args = tu_strdupf("steps '%s'", metrics);
            char *out = pycheck(args);
            free(args);
            printf("non-increasing steps, %s, pass %d: %s", layouts[l], pass, out);
            if (pass == 0)
                want = tu_strdupf("%s", out);
            if (pass < 3) {
                ck_assert_str_eq(out, want);
            } else {
                char *more = tu_strdupf("OK 18:%.*s 2 3\n", (int)(strlen(want) - 7), want + 6);
                ck_assert_str_eq(out, more);
                free(more);
            }
            free(out);
        }
        ck_assert_str_eq(want, "OK 16: 0 1 2 3 4 5 6 7 3 4 5 6 7 8 9 5\n");
        free(want);
        free(metrics);
        free(extra);
        tu_rmtree(dir);
        free(dir);
    }
}
END_TEST

/* Rows per second for a typical step (8 reals, an int, a string), printed
 * for the README; speed is not asserted here (bench/ measures it). */
START_TEST(test_throughput)
{
    static const char *modes[] = {"", "flush_every=100", "fsync=full", "layout=long"};
    char *dir = tu_mkdtemp();
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        int rows = m == 2 ? 300 : 50000;
        tropt_tracker *t = open_csv(dir, modes[m], "speed");
        ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (int i = 0; i < rows; i++) {
            tropt_field f[10] = {TROPT_F_REAL("loss", 1.0 / (i + 1)),
                                 TROPT_F_REAL("best_loss", 1.0 / (i + 1)),
                                 TROPT_F_REAL("lr", 1e-3),
                                 TROPT_F_REAL("grad_norm", i * 0.37),
                                 TROPT_F_REAL("x/0", i * 1.1),
                                 TROPT_F_REAL("x/1", -i * 0.9),
                                 TROPT_F_REAL("x/2", i / 3.0),
                                 TROPT_F_REAL("x/3", i / 7.0),
                                 TROPT_F_INT("iteration", i),
                                 TROPT_F_STR("phase", "train")};
            ck_assert_int_eq(tropt_tracker_log_fields(t, f, 10), TROPT_OK);
        }
        ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
        clock_gettime(CLOCK_MONOTONIC, &b);
        tropt_tracker_free(t);
        double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
        printf("throughput: csv:%s %d rows in %.3f s = %.0f rows/s\n",
               *modes[m] ? modes[m] : "(defaults)", rows, secs, rows / secs);
    }
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- allocation failures ---------------------------------------------------------- */

/* Fail the Nth allocation, N = 0, 1, 2, ... through open, init, log (new
 * keys, a deferred rewrite), flush and finish: every call fails cleanly or
 * succeeds, nothing crashes, nothing leaks (ASan), and the files on disk
 * stay valid CSV. */
START_TEST(test_allocation_failures)
{
    char *dir = tu_mkdtemp();
    ck_assert_int_eq(tropt_set_allocator(&tu_chaos_allocator), TROPT_OK);
    tropt_set_log_level(TROPT_LEVEL_OFF);
    long n;
    for (n = 0; n < 100000; n++) {
        tu_chaos_budget(n);
        tropt_tracker *t = NULL;
        /* a folder per pass: each init reads its store (the names a default
         * name must not take), so a shared one would grow every pass's
         * allocations with the passes before it */
        char *spec = tu_strdupf("csv:dir=%s/p%ld,fsync=off,rewrite_factor=0.5", dir, n);
        int ok = tropt_tracker_open(&t, spec, "chaos", NULL) == TROPT_OK;
        free(spec);
        if (ok)
            ok = tropt_tracker_init(t, NULL) == TROPT_OK;
        for (int step = 0; ok && step < 12; step++) {
            char key[16];
            snprintf(key, sizeof key, "k%d", step);
            tropt_field f[3] = {TROPT_F_REAL("loss", step * 0.5), TROPT_F_STR(key, "a,b"),
                                TROPT_F_INT("i", step)};
            ok = tropt_tracker_log_fields(t, f, 3) == TROPT_OK;
        }
        if (ok)
            ok = tropt_tracker_flush(t) == TROPT_OK;
        if (ok)
            ok = tropt_tracker_finish(t, NULL) == TROPT_OK;
        tropt_tracker_free(t);
        if (ok && tu_chaos_failed() == 0)
            break;
    }
    tu_chaos_budget(-1);
    tropt_set_allocator(NULL);
    tropt_set_log_level(TROPT_LEVEL_WARNING);
    printf("allocation failures: %ld injected points, then a clean run\n", n);
    ck_assert_int_gt(n, 20);
    ck_assert_int_lt(n, 100000);
    /* every metrics.csv left behind is a valid rectangular CSV */
    char *cmd = tu_strdupf("for f in '%s'/p*/chaos/*/metrics.csv; do " PY " %s cover \"$f\" "
                           "/nonexistent 0 || exit 1; done",
                           dir, CSVCHECK_PY);
    char *out = NULL;
    ck_assert_msg(tu_run(cmd, &out, 1) == 0, "%s", out);
    free(out);
    free(cmd);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- the demo ------------------------------------------------------------------------------- */

START_TEST(test_demo_csv)
{
    const char *demo = getenv("TROPT_DEMO");
    if (!demo || access(demo, X_OK) != 0) {
        printf("demo: %s not built, skipped\n", demo ? demo : "TROPT_DEMO unset");
        return;
    }
    char *dir = tu_mkdtemp();
    char *cmd = tu_strdupf("'%s' --tracker 'csv:dir=%s' --steps 25", demo, dir);
    char *out = NULL;
    int rc = tu_run(cmd, &out, 1);
    ck_assert_msg(rc == 0, "%s: %s", cmd, out);
    free(out);
    /* one experiment folder with one run */
    DIR *d = opendir(dir);
    struct dirent *e;
    char *folder = NULL;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            folder = tu_strdupf("%s", e->d_name);
    closedir(d);
    ck_assert_ptr_nonnull(folder);
    char *rid = only_run(dir, folder);
    char *metrics = run_file(dir, folder, rid, "metrics.csv");
    char *args = tu_strdupf("cover '%s' /nonexistent 25", metrics);
    out = pycheck(args);
    printf("demo: %s", out);
    ck_assert_int_eq(rows_on_disk(metrics), 25);
    free(out);
    free(args);
    free(metrics);
    free(rid);
    free(folder);
    free(cmd);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* `tropt replay` of one jsonl journal into csv, twice: the run folder holds
 * every step once. */
START_TEST(test_replay_cli_twice)
{
    const char *demo = getenv("TROPT_DEMO"), *cli = getenv("TROPT_CLI");
    if (!demo || !cli || access(demo, X_OK) != 0 || access(cli, X_OK) != 0) {
        printf("replay: tropt-demo or tropt not built, skipped\n");
        return;
    }
    char *dir = tu_mkdtemp();
    char *cmd = tu_strdupf("cd '%s' && '%s' --tracker jsonl:path=j.jsonl --steps 9 && "
                           "'%s' replay j.jsonl --tracker csv:dir=out,fsync=off && "
                           "'%s' replay j.jsonl --tracker csv:dir=out,fsync=off",
                           dir, demo, cli, cli);
    char *out = NULL;
    int rc = tu_run(cmd, &out, 1);
    if (rc != 0 && strstr(out, "no plugin 'jsonl'")) {
        printf("replay: jsonl plugin not built, skipped\n");
    } else {
        ck_assert_msg(rc == 0, "%s: %s", cmd, out);
        char *outdir = tu_path(dir, "out");
        DIR *d = opendir(outdir);
        ck_assert_ptr_nonnull(d);
        struct dirent *e;
        char *folder = NULL;
        while ((e = readdir(d)))
            if (e->d_name[0] != '.')
                folder = tu_strdupf("%s", e->d_name);
        closedir(d);
        ck_assert_ptr_nonnull(folder);
        char *rid = only_run(outdir, folder);
        char *metrics = run_file(outdir, folder, rid, "metrics.csv");
        ck_assert_int_eq(rows_on_disk(metrics), 9);
        char *args = tu_strdupf("cover '%s' /nonexistent 9", metrics);
        free(pycheck(args));
        free(args);
        free(metrics);
        free(rid);
        free(folder);
        free(outdir);
    }
    free(out);
    free(cmd);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

static Suite *csv_suite(void)
{
    Suite *s = suite_create("csv");
    struct {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"values", test_wide_values},
        {"values", test_long_values},
        {"values", test_key_order},
        {"reals", test_format_real_property},
        {"reals", test_reals_through_file},
        {"rewrite", test_rewrite_atomic},
        {"rewrite", test_rewrite_bound},
        {"kill", test_sigkill_default_mode},
        {"kill", test_sigkill_keys_keep_appearing},
        {"batch", test_flush_every},
        {"batch", test_flush_interval},
        {"files", test_experiment_folder_sanitized},
        {"files", test_two_runs_one_tracker},
        {"files", test_replay_same_run},
        {"files", test_replay_non_increasing_steps},
        {"files", test_pending_rows_of_two_crashes_both_kept},
        {"security", test_symlink_run_folder_refused},
        {"security", test_symlink_planted_names},
        {"failures", test_medium_failures_folder},
        {"failures", test_disk_full},
        {"failures", test_disk_full_bounded},
        {"failures", test_finish_failure_retry},
        {"chaos", test_allocation_failures},
        {"speed", test_throughput},
        {"demo", test_demo_csv},
        {"demo", test_replay_cli_twice},
    };
    TCase *tc = NULL;
    const char *prev = "";
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (strcmp(prev, cases[i].name) != 0) {
            tc = tcase_create(cases[i].name);
            tcase_set_timeout(tc, 280);
            suite_add_tcase(s, tc);
            prev = cases[i].name;
        }
        _tcase_add_test(tc, cases[i].test, 0, 0, 0, 1);
    }
    return s;
}

/* argv[1], when given, names the one test case to run (meson registers
 * each case as its own test so that they run in parallel). */
int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1)
        setenv("CK_RUN_CASE", argv[1], 1);
    return tu_run_suite(csv_suite());
}
