/*
 * tests/abi/test_symbols.c - what the built objects export and link.
 *   libtropt.so: a versioned soname; exports only tropt_* symbols (never a
 *   tropt__ internal), exactly the functions the public headers declare.
 *   every plugin (shipped ones found in the build root, plus this suite's
 *   working test plugins): exports exactly tropt_plugin_entry, has no
 *   NEEDED libtropt and no undefined tropt_ symbol.
 */
#include <ctype.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abiutil.h"

typedef struct {
    char **v;
    size_t n;
} names;

static void names_add(names *l, const char *s, size_t len)
{
    l->v = realloc(l->v, (l->n + 1) * sizeof *l->v);
    ck_assert_ptr_nonnull(l->v);
    l->v[l->n] = strndup(s, len);
    ck_assert_ptr_nonnull(l->v[l->n]);
    l->n++;
}

static int names_has(const names *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return 1;
    return 0;
}

static void names_free(names *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* Symbols of `nm -D <flags> file`: the last word of each line, without a
 * @version suffix. */
static names nm_symbols(const char *file, const char *flags)
{
    char *cmd = tu_strdupf("nm -D %s '%s'", flags, file);
    char *out = NULL;
    int rc = tu_run(cmd, &out, 0);
    ck_assert_msg(rc == 0, "%s failed (%d)", cmd, rc);
    names l = {0};
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        char *sp = strrchr(line, ' ');
        char *name = sp ? sp + 1 : line;
        size_t len = strcspn(name, "@");
        if (len)
            names_add(&l, name, len);
    }
    free(out);
    free(cmd);
    return l;
}

static char *readelf_dynamic(const char *file)
{
    char *cmd = tu_strdupf("readelf -d '%s'", file);
    char *out = NULL;
    int rc = tu_run(cmd, &out, 0);
    ck_assert_msg(rc == 0, "%s failed (%d)", cmd, rc);
    free(cmd);
    return out;
}

static char *libtropt_path(void)
{
    return tu_strdupf("%s/core/libtropt.so", tu_build_root());
}

START_TEST(libtropt_soname_is_versioned)
{
    char *lib = libtropt_path();
    char *d = readelf_dynamic(lib);
    const char *so = strstr(d, "(SONAME)");
    ck_assert_msg(so != NULL, "%s has no SONAME", lib);
    ck_assert_msg(strstr(so, "[libtropt.so.") != NULL, "SONAME is not libtropt.so.N: %.80s", so);
    free(d);
    free(lib);
}
END_TEST

START_TEST(libtropt_exports_only_tropt_symbols)
{
    char *lib = libtropt_path();
    names syms = nm_symbols(lib, "--defined-only");
    ck_assert_msg(syms.n > 0, "nm found no symbols in %s", lib);
    for (size_t i = 0; i < syms.n; i++) {
        const char *s = syms.v[i];
        ck_assert_msg(strncmp(s, "tropt_", 6) == 0, "%s exports '%s'", lib, s);
        ck_assert_msg(strncmp(s, "tropt__", 7) != 0, "%s exports the internal '%s'", lib, s);
    }
    /* And it is the library, not an empty file: the API is there. */
    ck_assert(names_has(&syms, "tropt_tracker_open"));
    ck_assert(names_has(&syms, "tropt_error_message"));
    ck_assert(names_has(&syms, "tropt_plugins_foreach"));
    names_free(&syms);
    free(lib);
}
END_TEST

/* Every `TROPT_API ... name(` of the public headers. */
static names declared_api(void)
{
    static const char *const headers[] = {"common.h", "tracker.h", "plugin.h", "host.h", "tropt.h"};
    names l = {0};
    for (size_t h = 0; h < sizeof headers / sizeof headers[0]; h++) {
        char *path = tu_strdupf("%s/include/tropt/%s", tu_source_root(), headers[h]);
        char *text = tu_read_file(path, NULL);
        ck_assert_msg(text != NULL, "cannot read %s", path);
        for (char *p = text; (p = strstr(p, "TROPT_API")) != NULL; p += 9) {
            char *paren = strchr(p, '(');
            char *semi = strchr(p, ';');
            if (!paren || (semi && semi < paren))
                continue;
            char *e = paren;
            while (e > p && isspace((unsigned char)e[-1]))
                e--;
            char *b = e;
            while (b > p && (isalnum((unsigned char)b[-1]) || b[-1] == '_'))
                b--;
            /* The name is on the TROPT_API line (this skips the macro's own
             * #define, whose next '(' is elsewhere). */
            if (e - b <= 6 || strncmp(b, "tropt_", 6) != 0 || memchr(p, '\n', (size_t)(b - p)))
                continue;
            char *name = strndup(b, (size_t)(e - b));
            ck_assert_ptr_nonnull(name);
            if (!names_has(&l, name))
                names_add(&l, name, strlen(name));
            free(name);
        }
        free(text);
        free(path);
    }
    return l;
}

START_TEST(libtropt_exports_exactly_the_declared_api)
{
    char *lib = libtropt_path();
    names syms = nm_symbols(lib, "--defined-only");
    names api = declared_api();
    ck_assert_msg(api.n >= 10, "found only %zu TROPT_API declarations", api.n);
    for (size_t i = 0; i < api.n; i++)
        ck_assert_msg(names_has(&syms, api.v[i]), "%s is declared TROPT_API but not exported",
                      api.v[i]);
    for (size_t i = 0; i < syms.n; i++)
        ck_assert_msg(names_has(&api, syms.v[i]), "%s is exported but no public header declares it",
                      syms.v[i]);
    names_free(&api);
    names_free(&syms);
    free(lib);
}
END_TEST

static void check_plugin(const char *file)
{
    names def = nm_symbols(file, "--defined-only");
    size_t ours = 0;
    for (size_t i = 0; i < def.n; i++) {
        ck_assert_msg(strcmp(def.v[i], "tropt_plugin_entry") == 0,
                      "%s exports '%s' (only tropt_plugin_entry is allowed)", file, def.v[i]);
        ours++;
    }
    ck_assert_msg(ours == 1, "%s does not export tropt_plugin_entry", file);
    names_free(&def);

    names undef = nm_symbols(file, "--undefined-only");
    for (size_t i = 0; i < undef.n; i++)
        ck_assert_msg(strncmp(undef.v[i], "tropt_", 6) != 0,
                      "%s needs '%s' from the host: plugins link nothing of tropt", file,
                      undef.v[i]);
    names_free(&undef);

    char *d = readelf_dynamic(file);
    for (char *line = strtok(d, "\n"); line; line = strtok(NULL, "\n"))
        if (strstr(line, "(NEEDED)"))
            ck_assert_msg(strstr(line, "libtropt") == NULL, "%s links libtropt: %s", file, line);
    free(d);
}

static size_t check_plugins_matching(const char *pattern)
{
    glob_t g;
    int rc = glob(pattern, 0, NULL, &g);
    if (rc == GLOB_NOMATCH)
        return 0;
    ck_assert_int_eq(rc, 0);
    for (size_t i = 0; i < g.gl_pathc; i++)
        check_plugin(g.gl_pathv[i]);
    size_t n = g.gl_pathc;
    globfree(&g);
    return n;
}

START_TEST(shipped_plugins_export_only_the_entry)
{
    char *null_so = tu_strdupf("%s/plugins/tropt-null.so", tu_build_root());
    char *null_data = tu_read_file(null_so, NULL);
    ck_assert_msg(null_data != NULL, "%s was not built", null_so);
    free(null_data);
    free(null_so);
    char *pattern = tu_strdupf("%s/plugins/tropt-*.so", tu_build_root());
    size_t n = check_plugins_matching(pattern);
    ck_assert_uint_ge(n, 1);
    free(pattern);
}
END_TEST

START_TEST(test_plugins_export_only_the_entry)
{
    char *pattern = tu_strdupf("%s/tropt-*.so", abi_good_dir());
    ck_assert_uint_eq(check_plugins_matching(pattern), 5);
    free(pattern);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("abi-symbols");
    TCase *tc = tcase_create("libtropt");
    tcase_add_test(tc, libtropt_soname_is_versioned);
    tcase_add_test(tc, libtropt_exports_only_tropt_symbols);
    tcase_add_test(tc, libtropt_exports_exactly_the_declared_api);
    suite_add_tcase(s, tc);
    tc = tcase_create("plugins");
    tcase_add_test(tc, shipped_plugins_export_only_the_entry);
    tcase_add_test(tc, test_plugins_export_only_the_entry);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
