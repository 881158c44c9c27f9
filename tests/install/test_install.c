/* tests/install/test_install.c - what a user gets from `meson install`:
 * headers, libtropt with its soname, tropt.pc naming the plugin dir that
 * holds tropt-null.so, and a third-party plugin built out of tree from the
 * installed headers alone, loaded by path and through TROPT_PLUGIN_PATH. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static char *dest;
static char *pcdir;

static void install_once(void)
{
    dest = tu_mkdtemp();
    char *out = NULL;
    char *cmd = tu_strdupf("meson install -C '%s' --no-rebuild --quiet --destdir '%s'",
                           tu_build_root(), dest);
    int rc = tu_run(cmd, &out, 1);
    ck_assert_msg(rc == 0, "%s failed:\n%s", cmd, out);
    free(out);
    free(cmd);
    cmd = tu_strdupf("dirname \"$(find '%s' -name tropt.pc | head -1)\"", dest);
    tu_run(cmd, &pcdir, 0);
    pcdir[strcspn(pcdir, "\n")] = '\0';
    free(cmd);
    ck_assert_msg(strlen(pcdir) > 1, "no tropt.pc installed under %s", dest);
}

static char *pkgconfig(const char *args)
{
    /* --define-prefix is not in every pkg-config: rebase by hand */
    char *cmd = tu_strdupf("PKG_CONFIG_PATH='%s' pkg-config %s tropt", pcdir, args);
    char *out = NULL;
    int rc = tu_run(cmd, &out, 1);
    ck_assert_msg(rc == 0, "%s: %s", cmd, out);
    out[strcspn(out, "\n")] = '\0';
    free(cmd);
    return out;
}

START_TEST(plugindir_holds_null_plugin)
{
    install_once();
    char *pd = pkgconfig("--variable=plugindir");
    ck_assert_msg(pd[0] == '/', "plugindir '%s' is not absolute", pd);
    char *null_so = tu_strdupf("%s%s/tropt-null.so", dest, pd);
    char *data = tu_read_file(null_so, NULL);
    ck_assert_msg(data != NULL, "%s missing", null_so);
    free(data);
    char *cmd = tu_strdupf("ls '%s%s/../..' | grep -q '^libtropt.so.0$'", dest, pd);
    ck_assert_msg(tu_run(cmd, NULL, 1) == 0,
                  "libtropt.so.0 (soname) not installed beside the plugin dir");
    free(cmd);
    cmd = tu_strdupf("test -f '%s'/usr/local/include/tropt/tracker.h && test -f "
                     "'%s'/usr/local/include/tropt/plugin.h",
                     dest, dest);
    ck_assert_int_eq(tu_run(cmd, NULL, 1), 0);
    free(cmd);
    free(null_so);
    free(pd);
}
END_TEST

START_TEST(third_party_plugin_builds_out_of_tree_and_loads)
{
    install_once();
    char *cflags = pkgconfig("--cflags");
    /* installed include dir lives under dest: point at it */
    char *dir = tu_mkdtemp();
    char *so = tu_path(dir, "tropt-thirdparty.so");
    char *cmd =
        tu_strdupf("cc -std=c11 -Wall -Wextra -Werror -pedantic -fPIC -shared -fvisibility=hidden "
                   "-I'%s/usr/local/include' %s -o '%s' '%s/tests/install/thirdparty.c' "
                   "-Wl,--no-undefined $(pkg-config --libs jansson)",
                   dest, cflags, so, tu_source_root());
    char *out = NULL;
    ck_assert_msg(tu_run(cmd, &out, 1) == 0, "%s\n%s", cmd, out);
    free(out);
    free(cmd);

    char *rec = tu_path(dir, "calls.txt");
    char *spec = tu_strdupf("%s:out=%s", so, rec);
    tropt_tracker *t;
    ck_assert_msg(tropt_tracker_open(&t, spec, NULL, NULL) == TROPT_OK, "%s",
                  tropt_error_message());
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    tropt_field f = TROPT_F_REAL("loss", 1);
    ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    char *text = tu_read_file(rec, NULL);
    ck_assert_ptr_nonnull(strstr(text, "log 1 1\nfinish finished\n"));
    free(text);

    /* and by name through TROPT_PLUGIN_PATH, with its required option enforced */
    char *old = getenv("TROPT_PLUGIN_PATH") ? strdup(getenv("TROPT_PLUGIN_PATH")) : strdup("");
    setenv("TROPT_PLUGIN_PATH", dir, 1);
    ck_assert_int_eq(tropt_tracker_open(&t, "thirdparty", NULL, NULL), TROPT_EINVAL);
    ck_assert_ptr_nonnull(strstr(tropt_error_message(), "option 'out' is required"));
    free(spec);
    spec = tu_strdupf("thirdparty:out=%s", rec);
    ck_assert_int_eq(tropt_tracker_open(&t, spec, NULL, NULL), TROPT_OK);
    tropt_tracker_free(t);
    setenv("TROPT_PLUGIN_PATH", old, 1);
    free(old);
    free(spec);
    free(rec);
    free(so);
    free(cflags);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* The template installed for plugin authors builds as it is, out of tree,
 * from the installed copy and headers, and writes every field type back
 * exactly. */
START_TEST(installed_template_builds_and_loads)
{
    install_once();
    char *dir = tu_mkdtemp();
    char *cmd =
        tu_strdupf("cp -r \"$(find '%s' -type d -name plugin-template | head -1)\"/. '%s' && "
                   "make -C '%s' PKG_CONFIG_PATH='%s' CPPFLAGS='-I%s/usr/local/include' "
                   "CFLAGS='-O2 -Werror'",
                   dest, dir, dir, pcdir, dest);
    char *out = NULL;
    ck_assert_msg(tu_run(cmd, &out, 1) == 0, "%s\n%s", cmd, out);
    free(out);
    free(cmd);
    /* and it keeps every promise of the conformance kit */
    cmd = tu_strdupf("'%s' conformance '%s/tropt-template.so' path='%s/conf.txt'",
                     getenv("TROPT_CLI"), dir, dir);
    int kept = -1, ran = -2;
    const char *last = NULL;
    ck_assert_msg(tu_run(cmd, &out, 1) == 0 && (last = strstr(out, "conformance: ")) &&
                      sscanf(last, "conformance: %d/%d promises kept", &kept, &ran) == 2 &&
                      kept == ran,
                  "%s\n%s", cmd, out);
    free(out);
    free(cmd);
    char *events = tu_path(dir, "events.txt");
    char *spec = tu_strdupf("template:path=%s,flush_every=2", events);
    char *old = getenv("TROPT_PLUGIN_PATH") ? strdup(getenv("TROPT_PLUGIN_PATH")) : strdup("");
    setenv("TROPT_PLUGIN_PATH", dir, 1);
    tropt_tracker *t;
    ck_assert_msg(tropt_tracker_open(&t, spec, "exp", NULL) == TROPT_OK, "%s",
                  tropt_error_message());
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    tropt_field f[] = {TROPT_F_INT("i", INT64_MIN), TROPT_F_REAL("r", 0.1), TROPT_F_REAL("n", NAN),
                       TROPT_F_STR("s", "a\"b"),    TROPT_F_BOOL("b", 1),   TROPT_F_NULL("z"),
                       TROPT_F_JSON("j", NULL)};
    json_t *arr = json_pack("[f, f]", 1.0, 0.1);
    f[6].v.json = arr;
    ck_assert_int_eq(tropt_tracker_log_fields(t, f, 7), TROPT_OK);
    json_decref(arr);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    char *text = tu_read_file(events, NULL);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(
        strstr(
            text,
            "  i=-9223372036854775808  r=0.1  n=nan  s=\"a\\\"b\"  b=true  z=null  j=[1.0,0.1]\n"),
        "%s", text);
    ck_assert_msg(strstr(text, "experiment=\"exp\"") && strstr(text, "\nend finished\n"), "%s",
                  text);
    free(text);
    /* a bad option value is refused by the host before create */
    free(spec);
    spec = tu_strdupf("template:path=%s,flush_every=0", events);
    ck_assert_int_eq(tropt_tracker_open(&t, spec, NULL, NULL), TROPT_EINVAL);
    ck_assert_ptr_nonnull(strstr(tropt_error_message(), "flush_every"));
    setenv("TROPT_PLUGIN_PATH", old, 1);
    free(old);
    free(spec);
    free(events);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* The shell lines of one markdown section (from `heading` to the next
 * "## ", or the whole file for NULL): lines indented four spaces that start
 * with a command a plugin author types (continuations joined, `sudo` lines
 * left out), the installed prefix /usr/local/ moved under dest.  One
 * script; *n_conformance counts its `tropt conformance` lines. */
static char *doc_script(const char *md, const char *heading, int *n_conformance)
{
    static const char *const starts[] = {
        "cp ", "sed ", "cc ", "make", "tropt ", "tropt-demo ", "TROPT_PLUGIN_PATH=$PWD tropt "};
    char *path = tu_path(tu_source_root(), md);
    char *text = tu_read_file(path, NULL);
    ck_assert_msg(text, "%s missing", path);
    char *from = heading ? strstr(text, heading) : text;
    ck_assert_msg(from, "%s: no section '%s'", md, heading);
    char *end = heading ? strstr(from + 1, "\n## ") : NULL;
    if (end)
        *end = '\0';
    char *script = tu_strdupf("set -ex");
    int cont = 0;
    *n_conformance = 0;
    for (char *line = strtok(from, "\n"); line; line = strtok(NULL, "\n")) {
        int take = cont;
        for (size_t i = 0; i < sizeof starts / sizeof starts[0] && !take; i++)
            take = strncmp(line, "    ", 4) == 0 &&
                   strncmp(line + 4, starts[i], strlen(starts[i])) == 0;
        if (!take || strstr(line, "sudo "))
            continue;
        cont = line[strlen(line) - 1] == '\\';
        *n_conformance += strstr(line, "tropt conformance ") != NULL;
        char *more = tu_strdupf("%s\n%s", script, line + 4);
        free(script);
        script = more;
    }
    for (char *at = strstr(script, "/usr/local/"); at; at = strstr(at, "/usr/local/")) {
        size_t off = (size_t)(at - script);
        char *more = tu_strdupf("%.*s%s%s", (int)off, script, dest, at);
        free(script);
        script = more;
        at = script + off + strlen(dest) + 1;
    }
    free(text);
    free(path);
    return script;
}

/* Run a doc's lines in an empty folder, `tropt` and `tropt-demo` being the
 * build's, pkg-config finding the installed tropt.pc; every line succeeds
 * and every conformance line keeps every promise that applies. */
static void run_doc_lines(const char *md, const char *heading, int at_least)
{
    int n_conf = 0;
    char *script = doc_script(md, heading, &n_conf);
    ck_assert_msg(n_conf >= at_least, "%s: %d conformance lines:\n%s", md, n_conf, script);
    char *dir = tu_mkdtemp();
    char *bin = tu_path(dir, "bin");
    char *work = tu_path(dir, "work");
    char *cmd = tu_strdupf("mkdir '%s' '%s' && ln -s '%s' '%s/tropt' && "
                           "ln -s '%s/examples/tropt-demo' '%s/tropt-demo'",
                           bin, work, getenv("TROPT_CLI"), bin, tu_build_root(), bin);
    ck_assert_int_eq(tu_run(cmd, NULL, 1), 0);
    free(cmd);
    char *sh = tu_path(dir, "lines.sh");
    tu_write_file(sh, script);
    cmd = tu_strdupf("cd '%s' && PATH='%s':\"$PATH\" PKG_CONFIG_PATH='%s' "
                     "PKG_CONFIG_SYSROOT_DIR='%s' sh '%s'",
                     work, bin, pcdir, dest, sh);
    char *out = NULL;
    int rc = tu_run(cmd, &out, 1);
    ck_assert_msg(rc == 0, "%s: the lines as written failed (exit %d):\n%s", md, rc, out);
    int n_lines = 0;
    for (const char *p = strstr(out, "conformance: "); p; p = strstr(p + 1, "conformance: ")) {
        int kept = -1, ran = -2;
        ck_assert_msg(sscanf(p, "conformance: %d/%d promises kept", &kept, &ran) == 2 &&
                          kept == ran && ran > 0,
                      "%s:\n%s", md, out);
        n_lines++;
    }
    ck_assert_msg(n_lines == n_conf, "%s: %d conformance results for %d lines:\n%s", md, n_lines,
                  n_conf, out);
    free(out);
    free(cmd);
    free(sh);
    free(work);
    free(bin);
    tu_rmtree(dir);
    free(dir);
    free(script);
}

/* The README's plugin lines (build the template as `mine`, check it, run
 * the demo and the conformance kit on it) and the installed template's own
 * README work as written. */
START_TEST(plugin_doc_lines_run_as_written)
{
    install_once();
    run_doc_lines("README.md", "## Writing a backend plugin", 3);
    run_doc_lines("doc/plugin-template/README.md", NULL, 1);
}
END_TEST

static void teardown(void)
{
    tu_rmtree(dest);
    free(dest);
    free(pcdir);
    dest = pcdir = NULL;
}

int main(void)
{
    Suite *s = suite_create("install");
    TCase *tc = tcase_create("install");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, plugindir_holds_null_plugin);
    tcase_add_test(tc, third_party_plugin_builds_out_of_tree_and_loads);
    tcase_add_test(tc, installed_template_builds_and_loads);
    tcase_add_test(tc, plugin_doc_lines_run_as_written);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
