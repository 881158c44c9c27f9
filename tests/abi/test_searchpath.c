/*
 * tests/abi/test_searchpath.c - how a plugin name is found: the absolute
 * folders of TROPT_PLUGIN_PATH in order (the first file found is the one
 * loaded, even if it is broken), then the installed plugin dir; relative
 * folders, empty entries and the current directory never; names restricted
 * to [A-Za-z0-9_-]; an unknown name lists the folders searched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "abiutil.h"

/* Open `name`, expect success, return the file the backend came from
 * (malloc'd). */
static char *loaded_from(const char *name)
{
    tropt_tracker *t = NULL;
    int rc = tropt_tracker_open(&t, name, NULL, NULL);
    ck_assert_msg(rc == TROPT_OK, "open(\"%s\"): %s: %s (TROPT_PLUGIN_PATH=%s)", name,
                  tropt_error_name(rc), tropt_error_message(),
                  getenv("TROPT_PLUGIN_PATH") ? getenv("TROPT_PLUGIN_PATH") : "(unset)");
    const char *path = NULL;
    ck_assert_int_eq(tropt_tracker_backend(t, 0, NULL, &path, NULL, NULL), TROPT_OK);
    char *copy = strdup(path);
    tropt_tracker_free(t);
    return copy;
}

/* A fresh folder holding a copy of the good plugin `src` as tropt-<as>.so. */
static char *dir_with(const char *src, const char *as)
{
    char *dir = tu_mkdtemp();
    char *from = abi_plugin_file(abi_good_dir(), src);
    char *to = abi_plugin_file(dir, as);
    abi_copy_file(from, to);
    free(from);
    free(to);
    return dir;
}

static void expect_from(const char *name, const char *dir)
{
    char *got = loaded_from(name);
    char *want = abi_plugin_file(dir, name);
    ck_assert_str_eq(got, want);
    free(got);
    free(want);
}

/* A file tropt-alias.so whose table says "ok" loads as "alias" (copies and
 * renames are legitimate), with a warning that names both, on every load. */
START_TEST(table_name_differing_from_file_name_warns)
{
    char *a = dir_with("ok", "alias");
    abi_set_path(a);
    tu_capture_start();
    expect_from("alias", a);
    ck_assert_int_eq(tu_captured_count(TROPT_LEVEL_WARNING), 1);
    ck_assert_msg(strstr(tu_captured(), "tropt-alias.so: its hook table names the plugin 'ok', "
                                        "but the file name says 'alias'") != NULL,
                  "%s", tu_captured());
    tu_capture_stop();
    /* the good plugin under its own name: no warning */
    char *b = dir_with("ok", "ok");
    abi_set_path(b);
    tu_capture_start();
    expect_from("ok", b);
    ck_assert_int_eq(tu_captured_count(TROPT_LEVEL_WARNING), 0);
    tu_capture_stop();
    tu_rmtree(a);
    tu_rmtree(b);
    free(a);
    free(b);
}
END_TEST

START_TEST(folders_in_order_first_wins)
{
    char *a = dir_with("ok", "same");
    char *b = dir_with("ok", "same");
    char *p = tu_strdupf("%s:%s", a, b);
    abi_set_path(p);
    expect_from("same", a);
    free(p);
    p = tu_strdupf("%s:%s", b, a);
    abi_set_path(p);
    expect_from("same", b);
    free(p);
    tu_rmtree(a);
    tu_rmtree(b);
    free(a);
    free(b);
}
END_TEST

START_TEST(later_folders_are_searched)
{
    char *empty = tu_mkdtemp();
    char *b = dir_with("ok", "onlyinb");
    /* A missing folder, a file where a folder should be, an empty folder,
     * empty entries: all skipped on the way to b. */
    char *notdir = tu_strdupf("%s/file", empty);
    ck_assert_int_eq(tu_write_file(notdir, "x"), 0);
    char *p = tu_strdupf("/no/such/folder::%s:%s::%s:", notdir, empty, b);
    abi_set_path(p);
    expect_from("onlyinb", b);
    free(p);
    free(notdir);
    tu_rmtree(empty);
    tu_rmtree(b);
    free(empty);
    free(b);
}
END_TEST

START_TEST(broken_first_file_is_not_skipped)
{
    /* The first folder's file is the one a name means; if it cannot serve,
     * that is the error: no silent fall-through to a later folder. */
    char *a = tu_mkdtemp();
    char *b = dir_with("ok", "shadow");
    char *bad = abi_plugin_file(a, "shadow");
    ck_assert_int_eq(tu_write_file(bad, "not a shared object, but first on the path\n"), 0);
    char *p = tu_strdupf("%s:%s", a, b);
    abi_set_path(p);
    abi_expect_open_fails("shadow", TROPT_EPLUGIN, bad, (const char *)NULL);
    free(p);
    free(bad);
    tu_rmtree(a);
    tu_rmtree(b);
    free(a);
    free(b);
}
END_TEST

/* A folder `base`/rel holding tropt-<name>.so, with cwd = base. */
static char *cwd_with_relative_folder(const char *name)
{
    char *base = tu_mkdtemp();
    char *rel = tu_path(base, "rel");
    ck_assert_int_eq(mkdir(rel, 0755), 0);
    char *from = abi_plugin_file(abi_good_dir(), "ok");
    char *to = abi_plugin_file(rel, name);
    abi_copy_file(from, to);
    ck_assert_int_eq(chdir(base), 0);
    free(from);
    free(to);
    free(rel);
    return base;
}

START_TEST(relative_folders_ignored)
{
    char *base = cwd_with_relative_folder("relonly");
    static const char *const paths[] = {"rel", "./rel", "rel/", "rel/../rel", "./rel:rel", ":rel:"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        abi_set_path(paths[i]);
        abi_expect_open_fails("relonly", TROPT_ENOTFOUND, NULL, "relonly", (const char *)NULL);
    }
    /* The same folder given absolute is searched (the file is fine). */
    char *abs = tu_path(base, "rel");
    char *p = tu_strdupf("rel:%s", abs);
    abi_set_path(p);
    expect_from("relonly", abs);
    free(p);
    free(abs);
    tu_rmtree(base);
    free(base);
}
END_TEST

START_TEST(never_the_current_directory)
{
    char *dir = dir_with("ok", "cwdonly");
    ck_assert_int_eq(chdir(dir), 0);
    /* Unset, empty, empty entries (which PATH would read as "."), ".". */
    abi_set_path(NULL);
    abi_expect_open_fails("cwdonly", TROPT_ENOTFOUND, NULL, "cwdonly", (const char *)NULL);
    static const char *const paths[] = {"", ":", "::", ".", "./", ".:.", "/no/such/folder:"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        abi_set_path(paths[i]);
        abi_expect_open_fails("cwdonly", TROPT_ENOTFOUND, NULL, "cwdonly", (const char *)NULL);
    }
    /* Control: the same folder, named absolutely, serves the plugin. */
    abi_set_path(dir);
    expect_from("cwdonly", dir);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

typedef struct {
    const char *under;
    int n;
} count_ud;

static int count_under(const char *path, const tropt_plugin *plugin, const char *error,
                       int shadowed, void *ud)
{
    (void)plugin;
    (void)error;
    (void)shadowed;
    count_ud *c = ud;
    if (strncmp(path, c->under, strlen(c->under)) == 0 || path[0] != '/')
        c->n++;
    return 0;
}

START_TEST(listing_skips_cwd_and_relative_folders)
{
    char *base = cwd_with_relative_folder("relonly");
    char *here = abi_plugin_file(base, "cwdonly");
    char *from = abi_plugin_file(abi_good_dir(), "ok");
    abi_copy_file(from, here);
    abi_set_path("rel:.::./rel");
    count_ud c = {base, 0};
    ck_assert_int_eq(tropt_plugins_foreach(count_under, &c), TROPT_OK);
    ck_assert_msg(c.n == 0, "tropt_plugins_foreach visited %d files in the cwd or relative folders",
                  c.n);
    /* Control: the folder named absolutely is walked. */
    abi_set_path(base);
    ck_assert_int_eq(tropt_plugins_foreach(count_under, &c), TROPT_OK);
    ck_assert_int_eq(c.n, 1);
    free(from);
    free(here);
    tu_rmtree(base);
    free(base);
}
END_TEST

typedef struct {
    char *seen[8];
    int shadowed[8];
    int n;
    const char *a, *b;
} order_ud;

static int record_order(const char *path, const tropt_plugin *plugin, const char *error,
                        int shadowed, void *ud)
{
    (void)error;
    order_ud *o = ud;
    if (strncmp(path, o->a, strlen(o->a)) != 0 && strncmp(path, o->b, strlen(o->b)) != 0)
        return 0;
    ck_assert_ptr_nonnull(plugin);
    ck_assert_int_lt(o->n, 8);
    o->seen[o->n] = strdup(path);
    o->shadowed[o->n] = shadowed;
    o->n++;
    return 0;
}

START_TEST(listing_follows_search_order)
{
    char *a = dir_with("ok", "same");
    char *b = dir_with("ok", "same");
    char *p = tu_strdupf("%s:%s", b, a); /* b first */
    abi_set_path(p);
    order_ud o = {.a = a, .b = b};
    ck_assert_int_eq(tropt_plugins_foreach(record_order, &o), TROPT_OK);
    ck_assert_int_eq(o.n, 2);
    char *fb = abi_plugin_file(b, "same");
    char *fa = abi_plugin_file(a, "same");
    ck_assert_str_eq(o.seen[0], fb);
    ck_assert_int_eq(o.shadowed[0], 0);
    ck_assert_str_eq(o.seen[1], fa);
    ck_assert_int_eq(o.shadowed[1], 1);
    for (int i = 0; i < o.n; i++)
        free(o.seen[i]);
    free(fa);
    free(fb);
    free(p);
    tu_rmtree(a);
    tu_rmtree(b);
    free(a);
    free(b);
}
END_TEST

START_TEST(invalid_names_rejected)
{
    /* Put files there that a careless loader would find for these names. */
    char *dir = tu_mkdtemp();
    static const char *const names[] = {
        "..",  "...", ".",     "ok.so", "tropt-ok.so", ".ok", "..ok",      "ok..",   "o k",  "ok*",
        "ok?", "$ok", "ok\\x", "~ok",   "ok@1",        "ok!", "\xc3\xb6k", "ok\x01", "ok+1", "[ok]",
    };
    char *from = abi_plugin_file(abi_good_dir(), "ok");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *f = abi_plugin_file(dir, names[i]); /* e.g. tropt-...so for ".." */
        abi_copy_file(from, f);
        free(f);
    }
    abi_set_path(dir);
    /* Control: a valid name next to them loads from this folder. */
    char *okfile = abi_plugin_file(dir, "ok");
    abi_copy_file(from, okfile);
    expect_from("ok", dir);
    free(okfile);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        /* The message names the offending name (control bytes aside). */
        const char *needle = (unsigned char)names[i][strlen(names[i]) - 1] < 0x20 ? "ok" : names[i];
        abi_expect_open_fails(names[i], TROPT_EINVAL, NULL, needle, (const char *)NULL);
    }
    free(from);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(unknown_name_lists_folders_searched)
{
    char *a = tu_mkdtemp();
    char *b = tu_mkdtemp();
    char *p = tu_strdupf("%s:relative/folder:%s", a, b);
    abi_set_path(p);
    abi_expect_open_fails("nosuchplugin", TROPT_ENOTFOUND, NULL, "nosuchplugin",
                          (const char *)NULL);
    const char *msg = tropt_error_message();
    const char *in_a = strstr(msg, a);
    const char *in_b = strstr(msg, b);
    const char *in_dir = strstr(msg, tropt_plugin_dir());
    ck_assert_msg(in_a && in_b && in_dir,
                  "not-found message must list %s, %s and the plugin dir %s: \"%s\"", a, b,
                  tropt_plugin_dir(), msg);
    ck_assert_msg(in_a < in_b && in_b < in_dir, "folders not listed in search order: \"%s\"", msg);
    free(p);
    tu_rmtree(a);
    tu_rmtree(b);
    free(a);
    free(b);
}
END_TEST

START_TEST(unknown_name_without_path)
{
    abi_set_path(NULL);
    abi_expect_open_fails("nosuchplugin", TROPT_ENOTFOUND, NULL, "nosuchplugin", tropt_plugin_dir(),
                          (const char *)NULL);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("abi-searchpath");
    TCase *tc = tcase_create("search");
    tcase_add_checked_fixture(tc, abi_env_save, abi_env_restore);
    tcase_add_test(tc, folders_in_order_first_wins);
    tcase_add_test(tc, table_name_differing_from_file_name_warns);
    tcase_add_test(tc, later_folders_are_searched);
    tcase_add_test(tc, broken_first_file_is_not_skipped);
    tcase_add_test(tc, relative_folders_ignored);
    tcase_add_test(tc, never_the_current_directory);
    tcase_add_test(tc, listing_skips_cwd_and_relative_folders);
    tcase_add_test(tc, listing_follows_search_order);
    suite_add_tcase(s, tc);

    tc = tcase_create("names");
    tcase_add_checked_fixture(tc, abi_env_save, abi_env_restore);
    tcase_add_test(tc, invalid_names_rejected);
    tcase_add_test(tc, unknown_name_lists_folders_searched);
    tcase_add_test(tc, unknown_name_without_path);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
