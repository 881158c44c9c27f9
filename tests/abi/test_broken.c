/*
 * tests/abi/test_broken.c - every way a plugin file can be broken is
 * refused by tropt_tracker_open with TROPT_EPLUGIN and a message naming the
 * file and the reason; nothing of a refused plugin stays loaded and none of
 * its hooks is ever called (they abort).  Loading by path ('/' in the
 * spec): absolute, ./relative, missing.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "abiutil.h"

/* Refused by name (through TROPT_PLUGIN_PATH) and by absolute path, with
 * the file and every reason in the message; then not left loaded. */
static void check_broken_in(const char *dir, const char *name, ...)
{
    char *file = abi_plugin_file(dir, name);
    struct stat st;
    ck_assert_msg(stat(file, &st) == 0, "test plugin %s was not built", file);

    const char *needles[8] = {NULL};
    size_t n = 0;
    va_list ap;
    va_start(ap, name);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL && n < 7;)
        needles[n++] = s;
    va_end(ap);

    abi_set_path(dir);
    for (int by_path = 0; by_path < 2; by_path++) {
        const char *spec = by_path ? file : name;
        abi_expect_open_fails(spec, TROPT_EPLUGIN, file, needles[0], needles[1], needles[2],
                              needles[3], needles[4], needles[5], needles[6], (const char *)NULL);
        abi_assert_not_loaded(file);
    }
    /* Options in the spec change nothing: the file is refused before them. */
    char *spec = tu_strdupf("%s:on_error=warn", name);
    abi_expect_open_fails(spec, TROPT_EPLUGIN, file, (const char *)NULL);
    free(spec);
    /* A broken backend after a good one fails the whole open. */
    spec = tu_strdupf("%s/tropt-ok.so;%s", abi_good_dir(), name);
    abi_expect_open_fails(spec, TROPT_EPLUGIN, file, (const char *)NULL);
    free(spec);
    free(file);
}

#define BROKEN_TEST(fn, name, ...)                                                                 \
    START_TEST(fn)                                                                                 \
    {                                                                                              \
        check_broken_in(abi_broken_dir(), name, __VA_ARGS__, (const char *)NULL);                  \
    }                                                                                              \
    END_TEST

/* ---- not loadable ----------------------------------------------------- */

/* dlerror names the symbol that could not be resolved. */
BROKEN_TEST(unresolved_symbol, "undef", "tropt_abi_test_missing_symbol")

static void check_unloadable_file(const char *base, const char *content, int as_dir)
{
    char *dir = tu_mkdtemp();
    char *file = tu_strdupf("%s/tropt-%s.so", dir, base);
    if (as_dir)
        ck_assert_int_eq(mkdir(file, 0755), 0);
    else
        ck_assert_int_eq(tu_write_file(file, content), 0);
    abi_set_path(dir);
    /* dlerror's wording is the loader's; it must be there, after the file. */
    abi_expect_open_fails(base, TROPT_EPLUGIN, file, "load|ELF|short|directory",
                          (const char *)NULL);
    abi_expect_open_fails(file, TROPT_EPLUGIN, file, "load|ELF|short|directory",
                          (const char *)NULL);
    tu_rmtree(dir);
    free(file);
    free(dir);
}

START_TEST(text_file_named_like_a_plugin)
{
    check_unloadable_file("garbage",
                          "This is a text file that happens to be named like a tropt plugin.\n"
                          "It is long enough to hold an ELF header, but it is not one.\n",
                          0);
}
END_TEST

START_TEST(empty_file_named_like_a_plugin)
{
    check_unloadable_file("empty", "", 0);
}
END_TEST

START_TEST(directory_named_like_a_plugin)
{
    check_unloadable_file("adir", NULL, 1);
}
END_TEST

/* ---- the entry point and the table ------------------------------------ */

BROKEN_TEST(no_entry_symbol, "noentry", "tropt_plugin_entry")
BROKEN_TEST(entry_returns_null, "nulltable", "NULL")

START_TEST(future_major_abi)
{
    /* The plugin says 2.0 (MAJOR+1 << 16); the message says what it was
     * built for, in some spelling. */
    char *v = tu_strdupf("%d.0|%d|0x%x", TROPT_PLUGIN_ABI_MAJOR + 1,
                         (TROPT_PLUGIN_ABI_MAJOR + 1) << 16, (TROPT_PLUGIN_ABI_MAJOR + 1) << 16);
    check_broken_in(abi_broken_dir(), "futureabi", "ABI", v, (const char *)NULL);
    free(v);
}
END_TEST

START_TEST(past_major_abi)
{
    char *v =
        tu_strdupf("%d.5|%d|0x%x", TROPT_PLUGIN_ABI_MAJOR - 1,
                   (TROPT_PLUGIN_ABI_MAJOR - 1) << 16 | 5, (TROPT_PLUGIN_ABI_MAJOR - 1) << 16 | 5);
    check_broken_in(abi_broken_dir(), "pastabi", "ABI", v, (const char *)NULL);
    free(v);
}
END_TEST

START_TEST(struct_size_too_small)
{
    /* A 1.0 table that stops before destroy: the message gives the size
     * found and the size required. */
    char *got = tu_strdupf("%zu", (size_t)TROPT_PLUGIN_MIN_SIZE - sizeof(void (*)(void)));
    char *need = tu_strdupf("%zu", (size_t)TROPT_PLUGIN_MIN_SIZE);
    check_broken_in(abi_broken_dir(), "small", got, need, (const char *)NULL);
    free(got);
    free(need);
}
END_TEST

START_TEST(struct_size_zero)
{
    char *need = tu_strdupf("%zu", (size_t)TROPT_PLUGIN_MIN_SIZE);
    check_broken_in(abi_broken_dir(), "zerosize", need, (const char *)NULL);
    free(need);
}
END_TEST

BROKEN_TEST(missing_create, "nocreate", "create")
BROKEN_TEST(missing_init, "noinit", "init")
BROKEN_TEST(missing_log, "nolog", "log")
BROKEN_TEST(missing_finish, "nofinish", "finish")
BROKEN_TEST(missing_destroy, "nodestroy", "destroy")
BROKEN_TEST(missing_name, "nullname", "name")
BROKEN_TEST(invalid_name, "badname", "name")

/* ---- declared options ------------------------------------------------- */

BROKEN_TEST(enum_without_choices, "enumnochoices", "mode", "choice")
BROKEN_TEST(enum_with_null_choices, "enumnullchoices", "mode", "choice")
BROKEN_TEST(default_of_wrong_type, "baddefault", "count", "default")
BROKEN_TEST(default_out_of_range, "defaultrange", "level", "default")
BROKEN_TEST(reserved_option_name, "reserved", "on_error", "reserve")
BROKEN_TEST(duplicate_option, "dupoption", "path", "twice|duplicate|more than once")
BROKEN_TEST(invalid_option_name, "badoptname", "name")
/* plugin.h: option names are [a-z0-9_]+ (spec keys are case-sensitive). */
BROKEN_TEST(uppercase_option_name, "upperoptname", "BadName|name")
BROKEN_TEST(enum_default_not_a_choice, "enumbaddefault", "mode", "default")
BROKEN_TEST(unknown_option_type, "unknowntype", "weird", "type")
BROKEN_TEST(required_option_with_default, "requireddefault", "url", "required and has a default")
BROKEN_TEST(option_range_min_above_max, "rangeinverted", "level", "min 10 > max 1")

/* Counts the files of the data-entry folder, each of which must be unusable. */
static int count_unusable(const char *path, const tropt_plugin *plugin, const char *error,
                          int shadowed, void *ud)
{
    (void)shadowed;
    if (strncmp(path, abi_dataentry_dir(), strlen(abi_dataentry_dir())) != 0)
        return 0;
    ck_assert_msg(plugin == NULL, "%s listed as usable", path);
    ck_assert_msg(error && strstr(error, path), "%s: error does not name it", path);
    (*(int *)ud)++;
    return 0;
}

START_TEST(entry_symbol_is_data_not_a_function)
{
    /* Calling it would jump into the table: the host must check that the
     * symbol is a function (e.g. dladdr1(RTLD_DL_SYMENT), STT_FUNC). */
    check_broken_in(abi_dataentry_dir(), "dataentry", "tropt_plugin_entry", "function",
                    (const char *)NULL);
}
END_TEST

START_TEST(listing_survives_a_data_entry_symbol)
{
    /* One such file on the path must not take `tropt plugins` down. */
    abi_set_path(abi_dataentry_dir());
    int visits = 0;
    ck_assert_int_eq(tropt_plugins_foreach(count_unusable, &visits), TROPT_OK);
    ck_assert_int_eq(visits, 1);
}
END_TEST

/* ---- the listing agrees with open ------------------------------------- */

static const char *const all_broken[] = {
    "undef",           "noentry",     "nulltable",    "futureabi",      "pastabi",
    "small",           "zerosize",    "nocreate",     "noinit",         "nolog",
    "nofinish",        "nodestroy",   "nullname",     "badname",        "enumnochoices",
    "enumnullchoices", "baddefault",  "defaultrange", "reserved",       "dupoption",
    "badoptname",      "unknowntype", "upperoptname", "enumbaddefault", "requireddefault",
    "rangeinverted",
};
#define N_BROKEN (sizeof all_broken / sizeof all_broken[0])

typedef struct {
    const char *dir;
    int seen[N_BROKEN];
    int others;
} listing;

static int visit(const char *path, const tropt_plugin *plugin, const char *error, int shadowed,
                 void *ud)
{
    listing *l = ud;
    size_t dl = strlen(l->dir);
    if (strncmp(path, l->dir, dl) != 0 || path[dl] != '/')
        return 0; /* the installed plugin dir, if any */
    const char *base = path + dl + 1;
    for (size_t i = 0; i < N_BROKEN; i++) {
        char *want = tu_strdupf("tropt-%s.so", all_broken[i]);
        int match = strcmp(base, want) == 0;
        free(want);
        if (match) {
            l->seen[i]++;
            ck_assert_msg(plugin == NULL, "%s: listed as usable", path);
            ck_assert_msg(error && strstr(error, path), "%s: listing's error does not name it: %s",
                          path, error ? error : "(null)");
            ck_assert_int_eq(shadowed, 0);
            return 0;
        }
    }
    l->others++;
    return 0;
}

START_TEST(listing_reports_each_broken_file)
{
    listing l = {.dir = abi_broken_dir()};
    abi_set_path(l.dir);
    ck_assert_int_eq(tropt_plugins_foreach(visit, &l), TROPT_OK);
    for (size_t i = 0; i < N_BROKEN; i++)
        ck_assert_msg(l.seen[i] == 1, "tropt-%s.so listed %d times", all_broken[i], l.seen[i]);
    ck_assert_msg(l.others == 0, "%d unexpected files in %s", l.others, l.dir);
    for (size_t i = 0; i < N_BROKEN; i++) {
        char *file = abi_plugin_file(l.dir, all_broken[i]);
        abi_assert_not_loaded(file);
        free(file);
    }
}
END_TEST

/* ---- loading by path -------------------------------------------------- */

static void open_ok_and_run(const char *spec, const char *want_name, const char *want_path)
{
    tropt_tracker *t = NULL;
    int rc = tropt_tracker_open(&t, spec, "abi", NULL);
    ck_assert_msg(rc == TROPT_OK, "open(\"%s\"): %s: %s", spec, tropt_error_name(rc),
                  tropt_error_message());
    ck_assert_uint_eq(tropt_tracker_backend_count(t), 1);
    const tropt_plugin *p = NULL;
    const char *path = NULL;
    ck_assert_int_eq(tropt_tracker_backend(t, 0, &p, &path, NULL, NULL), TROPT_OK);
    ck_assert_str_eq(p->name, want_name);
    if (want_path)
        ck_assert_str_eq(path, want_path);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    tropt_field f = TROPT_F_REAL("loss", 0.5);
    ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
}

START_TEST(load_by_absolute_path)
{
    abi_set_path(NULL); /* a path needs no search path */
    char *file = abi_plugin_file(abi_good_dir(), "ok");
    open_ok_and_run(file, "ok", file);
    abi_assert_not_loaded(file); /* free unloads it */
    free(file);
}
END_TEST

START_TEST(load_by_dot_relative_path)
{
    abi_set_path(NULL);
    ck_assert_int_eq(chdir(abi_good_dir()), 0);
    open_ok_and_run("./tropt-ok.so", "ok", NULL);
    open_ok_and_run(" ./tropt-allopts.so : count=3 ", "allopts", NULL);
}
END_TEST

START_TEST(load_by_relative_path_with_folder)
{
    /* "good/tropt-ok.so" from the folder above: relative, but with a '/'. */
    abi_set_path(NULL);
    char *parent = tu_strdupf("%s/..", abi_good_dir());
    ck_assert_int_eq(chdir(parent), 0);
    open_ok_and_run("good/tropt-ok.so", "ok", NULL);
    free(parent);
}
END_TEST

START_TEST(load_future_minor_by_path)
{
    /* Same major, later minor, bigger table: it serves. */
    char *file = abi_plugin_file(abi_good_dir(), "futureminor");
    open_ok_and_run(file, "futureminor", file);
    free(file);
}
END_TEST

START_TEST(missing_absolute_path)
{
    char *dir = tu_mkdtemp();
    char *file = tu_strdupf("%s/tropt-absent.so", dir);
    abi_expect_open_fails(file, TROPT_ENOTFOUND, file, (const char *)NULL);
    char *nested = tu_strdupf("%s/no/such/folder/tropt-ok.so", dir);
    abi_expect_open_fails(nested, TROPT_ENOTFOUND, nested, (const char *)NULL);
    tu_rmtree(dir);
    free(nested);
    free(file);
    free(dir);
}
END_TEST

START_TEST(missing_relative_path)
{
    char *dir = tu_mkdtemp();
    ck_assert_int_eq(chdir(dir), 0);
    abi_expect_open_fails("./tropt-absent.so", TROPT_ENOTFOUND, "./tropt-absent.so",
                          (const char *)NULL);
    /* The file exists in a search-path folder, but a path is never searched. */
    abi_set_path(abi_good_dir());
    abi_expect_open_fails("./tropt-ok.so", TROPT_ENOTFOUND, "./tropt-ok.so", (const char *)NULL);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(module_shared_by_backends_and_trackers)
{
    /* One file behind two backends of one tracker and a backend of a
     * second tracker: freeing one tracker leaves the other working, and
     * the last free unloads the file. */
    char *file = abi_plugin_file(abi_good_dir(), "ok");
    abi_set_path(abi_good_dir());
    char *spec = tu_strdupf("ok;%s", file);
    tropt_tracker *a = NULL, *b = NULL;
    ck_assert_int_eq(tropt_tracker_open(&a, spec, NULL, NULL), TROPT_OK);
    ck_assert_uint_eq(tropt_tracker_backend_count(a), 2);
    ck_assert_int_eq(tropt_tracker_open(&b, "ok", NULL, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(a, NULL), TROPT_OK);
    tropt_tracker_free(a); /* with an active run: finished as aborted */
    ck_assert_int_eq(tropt_tracker_init(b, NULL), TROPT_OK);
    tropt_field f = TROPT_F_INT("i", 1);
    ck_assert_int_eq(tropt_tracker_log_fields(b, &f, 1), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_finish(b, NULL), TROPT_OK);
    tropt_tracker_free(b);
    abi_assert_not_loaded(file);
    free(spec);
    free(file);
}
END_TEST

/* ---- threads ---------------------------------------------------------- */

typedef struct {
    const char *name;   /* broken plugin to open */
    const char *reason; /* what its message must say */
    char *file;
    int bad;            /* iterations whose code or message was wrong */
    char example[1100]; /* the first wrong message */
} opener;

static void *open_in_a_loop(void *arg)
{
    opener *o = arg;
    for (int i = 0; i < 40; i++) {
        tropt_tracker *t = NULL;
        int rc = tropt_tracker_open(&t, o->name, NULL, NULL);
        const char *msg = tropt_error_message();
        const char *at = strstr(msg, o->file);
        if (rc != TROPT_EPLUGIN || t || !at || !strstr(at + strlen(o->file), o->reason)) {
            if (!o->bad++)
                snprintf(o->example, sizeof o->example, "%s: %s", tropt_error_name(rc), msg);
        }
    }
    return NULL;
}

START_TEST(refusals_from_several_threads_keep_their_own_message)
{
    /* The message is per thread: each thread reads its own file and reason,
     * however the loads interleave. */
    opener o[] = {
        {.name = "nocreate", .reason = "create"},
        {.name = "noinit", .reason = "init"},
        {.name = "nulltable", .reason = "NULL"},
        {.name = "futureabi", .reason = "ABI"},
    };
    enum { N = sizeof o / sizeof o[0] };
    abi_set_path(abi_broken_dir());
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        o[i].file = abi_plugin_file(abi_broken_dir(), o[i].name);
        ck_assert_int_eq(pthread_create(&th[i], NULL, open_in_a_loop, &o[i]), 0);
    }
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < N; i++) {
        ck_assert_msg(o[i].bad == 0, "%s: %d wrong refusals, e.g. %s", o[i].name, o[i].bad,
                      o[i].example);
        abi_assert_not_loaded(o[i].file);
        free(o[i].file);
    }
}
END_TEST

static int stop_at_first(const char *path, const tropt_plugin *plugin, const char *error,
                         int shadowed, void *ud)
{
    (void)path;
    (void)plugin;
    (void)error;
    (void)shadowed;
    (*(int *)ud)++;
    return 1;
}

START_TEST(listing_stops_when_asked_and_needs_a_visitor)
{
    abi_set_path(abi_broken_dir());
    int n = 0;
    ck_assert_int_eq(tropt_plugins_foreach(stop_at_first, &n), TROPT_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(tropt_plugins_foreach(NULL, NULL), TROPT_EINVAL);
    ck_assert_str_ne(tropt_error_message(), "");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("abi-broken");
    TCase *tc = tcase_create("unloadable");
    tcase_add_checked_fixture(tc, abi_env_save, abi_env_restore);
    tcase_add_test(tc, unresolved_symbol);
    tcase_add_test(tc, text_file_named_like_a_plugin);
    tcase_add_test(tc, empty_file_named_like_a_plugin);
    tcase_add_test(tc, directory_named_like_a_plugin);
    suite_add_tcase(s, tc);

    tc = tcase_create("table");
    tcase_add_checked_fixture(tc, abi_env_save, abi_env_restore);
    tcase_add_test(tc, no_entry_symbol);
    tcase_add_test(tc, entry_returns_null);
    tcase_add_test(tc, entry_symbol_is_data_not_a_function);
    tcase_add_test(tc, future_major_abi);
    tcase_add_test(tc, past_major_abi);
    tcase_add_test(tc, struct_size_too_small);
    tcase_add_test(tc, struct_size_zero);
    tcase_add_test(tc, missing_create);
    tcase_add_test(tc, missing_init);
    tcase_add_test(tc, missing_log);
    tcase_add_test(tc, missing_finish);
    tcase_add_test(tc, missing_destroy);
    tcase_add_test(tc, missing_name);
    tcase_add_test(tc, invalid_name);
    suite_add_tcase(s, tc);

    tc = tcase_create("options");
    tcase_add_checked_fixture(tc, abi_env_save, abi_env_restore);
    tcase_add_test(tc, enum_without_choices);
    tcase_add_test(tc, enum_with_null_choices);
    tcase_add_test(tc, default_of_wrong_type);
    tcase_add_test(tc, default_out_of_range);
    tcase_add_test(tc, reserved_option_name);
    tcase_add_test(tc, duplicate_option);
    tcase_add_test(tc, invalid_option_name);
    tcase_add_test(tc, unknown_option_type);
    tcase_add_test(tc, required_option_with_default);
    tcase_add_test(tc, option_range_min_above_max);
    tcase_add_test(tc, uppercase_option_name);
    tcase_add_test(tc, enum_default_not_a_choice);
    suite_add_tcase(s, tc);

    tc = tcase_create("listing");
    tcase_add_checked_fixture(tc, abi_env_save, abi_env_restore);
    tcase_add_test(tc, listing_reports_each_broken_file);
    tcase_add_test(tc, listing_survives_a_data_entry_symbol);
    tcase_add_test(tc, listing_stops_when_asked_and_needs_a_visitor);
    suite_add_tcase(s, tc);

    tc = tcase_create("path");
    tcase_add_checked_fixture(tc, abi_env_save, abi_env_restore);
    tcase_add_test(tc, load_by_absolute_path);
    tcase_add_test(tc, load_by_dot_relative_path);
    tcase_add_test(tc, load_by_relative_path_with_folder);
    tcase_add_test(tc, load_future_minor_by_path);
    tcase_add_test(tc, missing_absolute_path);
    tcase_add_test(tc, missing_relative_path);
    tcase_add_test(tc, module_shared_by_backends_and_trackers);
    suite_add_tcase(s, tc);

    tc = tcase_create("threads");
    tcase_add_checked_fixture(tc, abi_env_save, abi_env_restore);
    tcase_add_test(tc, refusals_from_several_threads_keep_their_own_message);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
