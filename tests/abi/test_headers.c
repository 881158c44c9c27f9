/*
 * tests/abi/test_headers.c - the public headers compile on their own, in
 * any order, as strict C11 and as C++11, with every warning an error; their
 * macros expand cleanly; and a C++ plugin gets C linkage for its entry
 * point.  The compilers are `cc` and `c++` (override with TROPT_TEST_CC /
 * TROPT_TEST_CXX); flags: the include dir of the source tree plus
 * `pkg-config --cflags jansson`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abiutil.h"

static const char *const headers[] = {"tropt.h", "tracker.h", "plugin.h", "host.h", "common.h"};
#define N_HEADERS (sizeof headers / sizeof headers[0])

#define C_FLAGS "-std=c11 -pedantic -Werror -Wall -Wextra"
#define CXX_FLAGS "-std=c++11 -pedantic -Werror -Wall -Wextra"

static const char *compiler(int cxx)
{
    const char *v = getenv(cxx ? "TROPT_TEST_CXX" : "TROPT_TEST_CC");
    return v && *v ? v : cxx ? "c++" : "cc";
}

/* Compile `source` (written to a temp file) with `flags`; on failure the
 * assertion message carries the compiler's exact output. */
static void compile(int cxx, const char *flags, const char *what, const char *source)
{
    char *dir = tu_mkdtemp();
    char *file = tu_strdupf("%s/t.%s", dir, cxx ? "cpp" : "c");
    ck_assert_int_eq(tu_write_file(file, source), 0);
    char *cmd = tu_strdupf("%s %s %s -I'%s/include' $(pkg-config --cflags jansson) '%s'",
                           compiler(cxx), cxx ? CXX_FLAGS : C_FLAGS, flags, tu_source_root(), file);
    char *out = NULL;
    int rc = tu_run(cmd, &out, 1);
    ck_assert_msg(rc == 0, "%s as %s failed (exit %d):\n$ %s\n%s", what, cxx ? "C++11" : "C11", rc,
                  cmd, out);
    free(out);
    free(cmd);
    tu_rmtree(dir);
    free(file);
    free(dir);
}

static void each_header_alone(int cxx)
{
    for (size_t i = 0; i < N_HEADERS; i++) {
        char *src = tu_strdupf("#include <tropt/%s>\n", headers[i]);
        char *what = tu_strdupf("<tropt/%s> alone", headers[i]);
        compile(cxx, "-fsyntax-only", what, src);
        free(what);
        free(src);
        /* Twice: the include guard holds. */
        src = tu_strdupf("#include <tropt/%s>\n#include <tropt/%s>\n", headers[i], headers[i]);
        what = tu_strdupf("<tropt/%s> twice", headers[i]);
        compile(cxx, "-fsyntax-only", what, src);
        free(what);
        free(src);
    }
}

START_TEST(headers_alone_as_c11)
{
    each_header_alone(0);
}
END_TEST

START_TEST(headers_alone_as_cxx11)
{
    each_header_alone(1);
}
END_TEST

static void any_order(int cxx)
{
    char src[512] = "";
    for (size_t i = N_HEADERS; i-- > 0;) {
        strcat(src, "#include <tropt/");
        strcat(src, headers[i]);
        strcat(src, ">\n");
    }
    compile(cxx, "-fsyntax-only", "the headers in reverse order", src);
}

START_TEST(headers_in_reverse_order)
{
    any_order(0);
    any_order(1);
}
END_TEST

/* What an optimizer and a plugin author write: every macro expanded. */
static const char *const macros_c =
    "#include <tropt/tropt.h>\n"
    "#include <math.h>\n"
    "static int codes[] = {\n"
    "#define X(name, value, desc) TROPT_##name,\n"
    "    TROPT_ERROR_TABLE(X)\n"
    "#undef X\n"
    "};\n"
    "static const char *const modes[] = {\"a\", \"b\", NULL};\n"
    "static const tropt_option_def opts[] = {\n"
    "    {\"mode\", TROPT_OPT_ENUM, TROPT_OPT_SECRET | TROPT_OPT_HAS_RANGE | TROPT_OPT_REQUIRED,\n"
    "     \"a\", modes, 0, 1, \"help\"},\n"
    "    {NULL, TROPT_OPT_STRING, 0, NULL, NULL, 0, 0, NULL},\n"
    "};\n"
    "static const tropt_plugin table = {TROPT_PLUGIN_ABI_VERSION, sizeof(tropt_plugin), \"m\",\n"
    "    \"d\", opts, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,\n"
    "    NULL, NULL, NULL, NULL};\n"
    "TROPT_PLUGIN_EXPORT const tropt_plugin *tropt_plugin_entry(void) { return &table; }\n"
    "int use(tropt_tracker *t, const tropt_host *h);\n"
    "int use(tropt_tracker *t, const tropt_host *h)\n"
    "{\n"
    "    json_t *j = json_object();\n"
    "    tropt_field f[] = {TROPT_F_NULL(\"n\"), TROPT_F_BOOL(\"b\", 2), TROPT_F_INT(\"i\", 3),\n"
    "                       TROPT_F_REAL(\"r\", NAN), TROPT_F_STR(\"s\", \"x\"),\n"
    "                       TROPT_F_JSON(\"j\", j)};\n"
    "    int rc = tropt_tracker_log_fields(t, f, sizeof f / sizeof f[0]);\n"
    "    json_decref(j);\n"
    "    if (h->struct_size >= TROPT_HOST_MIN_SIZE && h->version >= TROPT_HOST_VERSION)\n"
    "        rc = h->error(TROPT_EBACKEND, \"%s %d\", \"x\", rc);\n"
    "    return rc + codes[0] + (int)TROPT_PLUGIN_MIN_SIZE\n"
    "           + (int)TROPT_PLUGIN_ABI_MAJOR_OF(table.abi_version)\n"
    "           + (int)sizeof TROPT_PLUGIN_ENTRY_SYMBOL + (int)sizeof TROPT_DEFAULT_SPEC\n"
    "           + (int)sizeof TROPT_DEFAULT_EXPERIMENT + TROPT_LEVEL_OFF;\n"
    "}\n";

START_TEST(macros_expand_cleanly_in_c11)
{
    compile(0, "-fsyntax-only", "a TU using every macro", macros_c);
}
END_TEST

/* A plugin written in C++: the entry point declared by plugin.h keeps C
 * linkage, so the host's dlsym finds it unmangled. */
static const char *const plugin_cxx =
    "#include <tropt/plugin.h>\n"
    "static int c(void **self, const tropt_optval *, const tropt_host *) { *self = 0; return 0; }\n"
    "static int i(void *, const tropt_run *, const json_t *, const tropt_field *, size_t)\n"
    "{ return TROPT_OK; }\n"
    "static int l(void *, const tropt_run *, int64_t, double, const tropt_field *, size_t)\n"
    "{ return TROPT_OK; }\n"
    "static int f(void *, const tropt_run *, const char *, double, const json_t *,\n"
    "             const tropt_field *, size_t) { return TROPT_OK; }\n"
    "static void d(void *) {}\n"
    "static const tropt_plugin table = {TROPT_PLUGIN_ABI_VERSION, sizeof(tropt_plugin), \"cxx\",\n"
    "    \"a C++ plugin\", nullptr, c, i, l, f, nullptr, d,\n"
    "    nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};\n"
    "TROPT_PLUGIN_EXPORT const tropt_plugin *tropt_plugin_entry(void) { return &table; }\n"
    "static_assert(TROPT_PLUGIN_MIN_SIZE <= sizeof(tropt_plugin), \"min size\");\n";

START_TEST(cxx_plugin_entry_has_c_linkage)
{
    char *dir = tu_mkdtemp();
    char *obj = tu_strdupf("%s/p.o", dir);
    char *flags = tu_strdupf("-fPIC -c -o '%s'", obj);
    compile(1, flags, "a C++ plugin", plugin_cxx);
    char *cmd = tu_strdupf("nm --defined-only '%s'", obj);
    char *out = NULL;
    ck_assert_int_eq(tu_run(cmd, &out, 0), 0);
    ck_assert_msg(strstr(out, " T tropt_plugin_entry\n") != NULL,
                  "tropt_plugin_entry is not defined with C linkage in a C++ plugin:\n%s", out);
    free(out);
    free(cmd);
    free(flags);
    free(obj);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("abi-headers");
    TCase *tc = tcase_create("headers");
    /* Each case runs a compiler a few times. */
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, headers_alone_as_c11);
    tcase_add_test(tc, headers_alone_as_cxx11);
    tcase_add_test(tc, headers_in_reverse_order);
    tcase_add_test(tc, macros_expand_cleanly_in_c11);
    tcase_add_test(tc, cxx_plugin_entry_has_c_linkage);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
