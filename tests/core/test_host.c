/*
 * tests/core/test_host.c - the host services a plugin gets in create():
 * format_real exactly as plugin.h documents it (return value included), and
 * the version-2 JSON encoder (json_real, json_value) that writes values the
 * way the shipped plugins and the event format do, read back by jansson.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/internal.h"
#include "testutil.h"
#include "tropt_event.h"
#include "tropt_fs.h"
#include "tropt_mem.h"
#include "tropt_num.h"

static const tropt_host *H;

START_TEST(format_real_as_documented)
{
    char buf[64];
    static const struct {
        double x;
        const char *text;
    } cases[] = {{1.0, "1"},         {-0.0, "-0"}, {0.1, "0.1"},      {1e21, "1e+21"},
                 {5e-324, "5e-324"}, {NAN, "nan"}, {INFINITY, "inf"}, {-INFINITY, "-inf"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = H->format_real(buf, sizeof buf, cases[i].x);
        ck_assert_str_eq(buf, cases[i].text);
        ck_assert_uint_eq(n, strlen(cases[i].text));
    }
    /* like snprintf: the full length, the text truncated */
    size_t n = H->format_real(buf, 4, 0.125);
    ck_assert_uint_eq(n, 5);
    ck_assert_str_eq(buf, "0.1");
}
END_TEST

START_TEST(json_real_reads_back_as_the_same_real)
{
    ck_assert(TROPT_HOST_HAS(H, json_real) && TROPT_HOST_HAS(H, json_value));
    char buf[64];
    static const double xs[] = {1.0,         -0.0, 0.1,  1e300, -1e-300, 5e-324,
                                123456789.0, 1e21, 1e-7, 2.5,   -3.0,    1.7976931348623157e308,
                                0.0};
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
        size_t n = H->json_real(buf, sizeof buf, xs[i]);
        ck_assert_uint_eq(n, strlen(buf));
        json_error_t e;
        json_t *j = json_loads(buf, JSON_DECODE_ANY, &e);
        ck_assert_msg(j && json_is_real(j), "%.17g -> '%s' is not a JSON real", xs[i], buf);
        double back = json_real_value(j);
        ck_assert_msg(memcmp(&back, &xs[i], sizeof back) == 0, "%.17g -> '%s' -> %.17g", xs[i], buf,
                      back);
        json_decref(j);
    }
    H->json_real(buf, sizeof buf, NAN);
    ck_assert_str_eq(buf, "{\"$real\":\"nan\"}");
    H->json_real(buf, sizeof buf, -INFINITY);
    ck_assert_str_eq(buf, "{\"$real\":\"-inf\"}");
    ck_assert_uint_eq(H->json_real(buf, 3, 0.5), 0); /* did not fit */
    ck_assert_str_eq(buf, "");
}
END_TEST

START_TEST(json_value_of_every_type)
{
    json_t *arr = json_pack("[f, i, s, n]", 1.0, (json_int_t)7, "x", NULL);
    ck_assert_ptr_nonnull(arr);
    const struct {
        tropt_field f;
        const char *json;
    } cases[] = {
        {TROPT_F_NULL("a"), "null"},
        {TROPT_F_BOOL("a", 1), "true"},
        {TROPT_F_INT("a", INT64_MIN), "-9223372036854775808"},
        {TROPT_F_REAL("a", 2.0), "2.0"},
        {TROPT_F_REAL("a", NAN), "{\"$real\":\"nan\"}"},
        {TROPT_F_STR("a", "q\"\n\xff"), "\"q\\\"\\n\\ufffd\""},
        {TROPT_F_STR("a", ""), "\"\""},
        {TROPT_F_JSON("a", arr), "[1.0,7,\"x\",null]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = 99;
        char *s = H->json_value(&cases[i].f, &len);
        ck_assert_ptr_nonnull(s);
        ck_assert_str_eq(s, cases[i].json);
        ck_assert_uint_eq(len, strlen(s));
        H->free(s);
    }
    json_decref(arr);
}
END_TEST

/* plugins/common's spool files: created exclusively, never through a
 * folder that is a symbolic link (issue 18 #2's review of spool folders). */
START_TEST(spool_files_are_created_safely)
{
    char *dir = tu_mkdtemp();
    char *spool = tu_path(dir, "spool");
    char *path = NULL;
    int fd = tropt_spool_create(spool, malloc, free, &path);
    ck_assert_int_ge(fd, 0);
    ck_assert_ptr_nonnull(path);
    ck_assert(strncmp(path, spool, strlen(spool)) == 0 && strstr(path, ".jsonl"));
    ck_assert_int_eq(tropt_write_all(fd, "{}\n", 3), 0);
    close(fd);
    char *again = NULL;
    int fd2 = tropt_spool_create(spool, malloc, free, &again);
    ck_assert_int_ge(fd2, 0);
    ck_assert_str_ne(path, again); /* a new name each time */
    close(fd2);
    free(again);
    /* a spool folder that is a link to elsewhere is refused, nothing made */
    char *elsewhere = tu_path(dir, "elsewhere");
    ck_assert_int_eq(mkdir(elsewhere, 0700), 0);
    char *link = tu_path(dir, "linked");
    ck_assert_int_eq(symlink(elsewhere, link), 0);
    char *none = NULL;
    errno = 0;
    ck_assert_int_eq(tropt_spool_create(link, malloc, free, &none), -1);
    ck_assert_int_eq(errno, ELOOP);
    ck_assert_ptr_null(none);
    char *cmd = tu_strdupf("test -z \"$(ls -A '%s')\"", elsewhere);
    ck_assert_int_eq(tu_run(cmd, NULL, 1), 0);
    free(cmd);
    free(link);
    free(elsewhere);
    free(path);
    free(spool);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* plugins/common's integer writer: what printf's PRId64 writes, for the
 * extremes and a sweep of magnitudes (the digit table the core's real
 * formatter shares). */
START_TEST(toolkit_integers_as_printf_writes_them)
{
    int64_t v[] = {0,    1,        -1,        9,         10,        99,           100,
                   -100, 12345678, 100000000, INT64_MAX, INT64_MIN, INT64_MIN + 1};
    tev_buf b;
    tev_buf_init(&b, NULL, NULL);
    uint64_t seed = 0x9e3779b97f4a7c15u;
    for (size_t i = 0; i < sizeof v / sizeof v[0] + 2000; i++) {
        int64_t x = i < sizeof v / sizeof v[0]
                        ? v[i]
                        : (int64_t)((seed = seed * 6364136223846793005u + 1442695040888963407u) >>
                                    (i % 64));
        if (i % 2 && x != INT64_MIN)
            x = -x;
        char want[32], got[TROPT_I64_DIGITS_MAX + 1];
        snprintf(want, sizeof want, "%" PRId64, x);
        size_t n = tropt_put_i64(got, x);
        got[n] = '\0';
        ck_assert_str_eq(got, want);
        tev_buf_clear(&b);
        ck_assert_int_eq(tev_buf_put_i64(&b, x), 0);
        ck_assert_str_eq(b.data, want);
    }
    tev_buf_free(&b);
    /* the string hash the plugins' and tools' tables share: its length on
     * the way, and the same value for the same bytes only */
    size_t len = 0;
    uint64_t h = tropt_hash_str("layers.0.grad", &len);
    ck_assert_uint_eq(len, 13);
    ck_assert(h == tropt_hash_str("layers.0.grad", NULL));
    ck_assert(h != tropt_hash_str("layers.1.grad", NULL));
    ck_assert(tropt_hash_str("", &len) != h && len == 0);
}
END_TEST

/* The pretty JSON of csv's config.json/summary.json/run.json: the event
 * format's lossless writer laid out like json.dumps(v, indent=2). */
START_TEST(toolkit_pretty_json_is_the_lossless_writer_indented)
{
    json_t *v = json_pack("{s:i, s:[f, s, {}], s:{}, s:[], s:{s:f}}", "a", 1, "b", 1.0, "x\n", "c",
                          "d", "e", "f", -0.0);
    tev_buf b;
    tev_buf_init(&b, NULL, NULL);
    ck_assert_int_eq(tev_put_json_indent(&b, v, NULL, 2), 0);
    ck_assert_str_eq(b.data, "{\n"
                             "  \"a\": 1,\n"
                             "  \"b\": [\n"
                             "    1.0,\n"
                             "    \"x\\n\",\n"
                             "    {}\n"
                             "  ],\n"
                             "  \"c\": {},\n"
                             "  \"d\": [],\n"
                             "  \"e\": {\n"
                             "    \"f\": -0.0\n"
                             "  }\n"
                             "}");
    json_error_t err;
    json_t *back = json_loads(b.data, 0, &err);
    ck_assert_msg(back && json_equal(back, v), "%s", err.text);
    /* indent < 0 is the compact form, byte for byte */
    tev_buf c;
    tev_buf_init(&c, NULL, NULL);
    tev_buf_clear(&b);
    ck_assert_int_eq(tev_put_json_indent(&b, v, NULL, -1), 0);
    ck_assert_int_eq(tev_put_json(&c, v, NULL), 0);
    ck_assert_str_eq(b.data, c.data);
    ck_assert_str_eq(c.data,
                     "{\"a\":1,\"b\":[1.0,\"x\\n\",{}],\"c\":{},\"d\":[],\"e\":{\"f\":-0.0}}");
    tev_buf_free(&b);
    tev_buf_free(&c);
    json_decref(back);
    json_decref(v);
}
END_TEST

/* mkdir -p: every missing folder made, existing ones fine, and a file in
 * the way named by how much of the path was made. */
START_TEST(toolkit_mkdir_p_names_the_part_that_failed)
{
    char *dir = tu_mkdtemp();
    char *deep = tu_strdupf("%s/a//b/c/", dir);
    size_t bad = 99;
    ck_assert_int_eq(tropt_mkdir_p(deep, &bad), 0);
    char *c = tu_path(dir, "a/b/c");
    struct stat st;
    ck_assert(stat(c, &st) == 0 && S_ISDIR(st.st_mode));
    ck_assert_int_eq(tropt_mkdir_p(deep, &bad), 0); /* again: nothing to do */
    char *file = tu_path(dir, "a/f");
    ck_assert_int_eq(tu_write_file(file, "x"), 0);
    char *under = tu_path(dir, "a/f/g/h");
    errno = 0;
    ck_assert_int_eq(tropt_mkdir_p(under, &bad), -1);
    ck_assert_int_eq(errno, ENOTDIR);
    ck_assert_uint_eq(bad, strlen(file)); /* "<dir>/a/f" is the culprit */
    char *g = tu_path(dir, "a/f/g");
    ck_assert_int_ne(stat(g, &st), 0);
    /* a folder of a link to a folder is followed (the user's choice) */
    char *link = tu_path(dir, "l");
    ck_assert_int_eq(symlink(c, link), 0);
    char *via = tu_path(dir, "l/d");
    ck_assert_int_eq(tropt_mkdir_p(via, &bad), 0);
    char *made = tu_path(dir, "a/b/c/d");
    ck_assert(stat(made, &st) == 0 && S_ISDIR(st.st_mode));
    free(made);
    free(via);
    free(link);
    free(g);
    free(under);
    free(file);
    free(c);
    free(deep);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* pwrite_all writes at the offset and leaves the file offset alone;
 * fsync_dir/fsync_parent sync a folder, and say why they cannot. */
START_TEST(toolkit_pwrite_all_and_fsync_dir)
{
    char *dir = tu_mkdtemp();
    char *f = tu_path(dir, "f");
    int fd = open(f, O_RDWR | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(tropt_write_all(fd, "aaaa", 4), 0);
    ck_assert_int_eq(tropt_pwrite_all(fd, "bb", 2, 1), 0);
    ck_assert_int_eq(tropt_pwrite_all(fd, "cc", 2, 6), 0); /* past the end: a hole */
    ck_assert_int_eq((int)lseek(fd, 0, SEEK_CUR), 4);
    errno = 0;
    ck_assert_int_eq(tropt_pwrite_all(fd, "x", 1, -1), -1);
    ck_assert_int_eq(errno, EINVAL);
    char got[16] = {0};
    ck_assert_int_eq((int)pread(fd, got, sizeof got, 0), 8);
    ck_assert(memcmp(got, "abba\0\0cc", 8) == 0);
    close(fd);
    ck_assert_int_eq(tropt_fsync_dir(dir), 0);
    ck_assert_int_eq(tropt_fsync_parent(f), 0);
    char *missing = tu_path(dir, "none/f");
    errno = 0;
    ck_assert_int_eq(tropt_fsync_parent(missing), -1);
    ck_assert_int_eq(errno, ENOENT);
    errno = 0;
    ck_assert_int_eq(tropt_fsync_dir(f), -1);
    ck_assert_int_eq(errno, ENOTDIR);
    free(missing);
    free(f);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* Parallel arrays that share one capacity: all grown together, overflow
 * refused, and a failure halfway leaves the capacity as it was with every
 * array still valid. */
static int realloc_calls, realloc_fail_at;
static void *counting_realloc(void *p, size_t n)
{
    if (++realloc_calls == realloc_fail_at)
        return NULL;
    return realloc(p, n);
}

START_TEST(toolkit_grow_all_keeps_parallel_arrays_in_step)
{
    tropt_host fh = *H;
    fh.realloc = counting_realloc;
    int64_t *a = NULL;
    char **b = NULL;
    double *c = NULL;
    size_t cap = 0;
    void **const arrays[] = {(void **)&a, (void **)&b, (void **)&c};
    const size_t elem[] = {sizeof *a, sizeof *b, sizeof *c};
    realloc_calls = 0;
    realloc_fail_at = 0;
    for (size_t n = 0; n < 1000; n++) {
        ck_assert_int_eq(tropt_host_grow_all(&fh, &cap, n + 1, 3, arrays, elem), 0);
        ck_assert_uint_ge(cap, n + 1);
        a[n] = (int64_t)n;
        b[n] = NULL;
        c[n] = (double)n;
    }
    ck_assert_uint_eq(cap, 1024);
    ck_assert_int_eq(realloc_calls, 3 * 7); /* 16, 32, ..., 1024: seven doublings */
    for (size_t n = 0; n < 1000; n++)
        ck_assert(a[n] == (int64_t)n && b[n] == NULL && c[n] == (double)n);
    /* the second array's realloc fails: -1, cap unchanged, data intact */
    realloc_calls = 0;
    realloc_fail_at = 2;
    ck_assert_int_eq(tropt_host_grow_all(&fh, &cap, 5000, 3, arrays, elem), -1);
    ck_assert_uint_eq(cap, 1024);
    ck_assert(a[999] == 999 && c[999] == 999.0);
    /* and a later call succeeds where it failed */
    realloc_fail_at = 0;
    ck_assert_int_eq(tropt_host_grow_all(&fh, &cap, 5000, 3, arrays, elem), 0);
    ck_assert_uint_eq(cap, 8192);
    ck_assert(a[999] == 999 && c[999] == 999.0);
    /* a size that would overflow size_t is refused, nothing allocated */
    realloc_calls = 0;
    ck_assert_int_eq(tropt_host_grow_all(&fh, &cap, SIZE_MAX / 4, 3, arrays, elem), -1);
    ck_assert_int_eq(realloc_calls, 0);
    ck_assert_uint_eq(cap, 8192);
    free(a);
    free(b);
    free(c);
}
END_TEST

/* Host version 3: log_from puts the instance's label in front, once. */
START_TEST(log_from_puts_the_instance_label_in_front)
{
    tropt__host_ex a, b;
    tropt__host_for(&a, "results/runs.db");
    tropt__host_for(&b, "csv");
    ck_assert(TROPT_HOST_HAS(&a.pub, log_from));
    tu_capture_start();
    TROPT_HOST_LOG(&a.pub, TROPT_LEVEL_WARNING, "cannot sync '%s'", "x");
    TROPT_HOST_LOG(&b.pub, TROPT_LEVEL_WARNING, "cannot sync '%s'", "y");
    TROPT_HOST_LOG(&b.pub, TROPT_LEVEL_WARNING, "csv: already prefixed");
    TROPT_HOST_LOG(H, TROPT_LEVEL_WARNING, "no instance");
    tu_capture_stop();
    const char *cap = tu_captured();
    ck_assert_msg(strstr(cap, "results/runs.db: cannot sync 'x'") != NULL, "%s", cap);
    ck_assert_msg(strstr(cap, "csv: cannot sync 'y'") != NULL, "%s", cap);
    ck_assert_msg(strstr(cap, "csv: already prefixed") != NULL, "%s", cap);
    ck_assert_msg(strstr(cap, "csv: csv:") == NULL, "%s", cap);
    ck_assert_msg(strstr(cap, "warning: no instance\n") != NULL, "%s", cap);
    ck_assert_int_eq(tu_captured_count(TROPT_LEVEL_WARNING), 4);
}
END_TEST

int main(void)
{
    H = tropt__host_services;
    Suite *s = suite_create("host");
    TCase *tc = tcase_create("services");
    tcase_add_test(tc, format_real_as_documented);
    tcase_add_test(tc, json_real_reads_back_as_the_same_real);
    tcase_add_test(tc, json_value_of_every_type);
    tcase_add_test(tc, spool_files_are_created_safely);
    tcase_add_test(tc, log_from_puts_the_instance_label_in_front);
    tcase_add_test(tc, toolkit_integers_as_printf_writes_them);
    tcase_add_test(tc, toolkit_pretty_json_is_the_lossless_writer_indented);
    tcase_add_test(tc, toolkit_mkdir_p_names_the_part_that_failed);
    tcase_add_test(tc, toolkit_pwrite_all_and_fsync_dir);
    tcase_add_test(tc, toolkit_grow_all_keeps_parallel_arrays_in_step);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
