/*
 * tests/abi/test_options.c - every shipped plugin's option table matches
 * the options table of its README, row for row: the same names in the same
 * order, and where the README gives a default as a literal (`1`, `tropt.db`)
 * the table declares exactly that default.  So a table row lost to a
 * designated index without its row (the table would end early at the NULL
 * name), an option added without documentation, or a default changed on
 * one side only fails here.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tropt/plugin.h>

#include "testutil.h"

/* The plugins built by this build (a disabled backend is skipped). */
static const char *const shipped[] = {"print", "sqlite", "csv",        "jsonl",
                                      "http",  "pg",     "tensorboard"};

static const tropt_plugin *load(const char *name, void **handle)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/plugins/tropt-%s.so", tu_build_root(), name);
    *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!*handle)
        return NULL;
    const tropt_plugin *(*entry)(void) = NULL;
    *(void **)&entry = dlsym(*handle, TROPT_PLUGIN_ENTRY_SYMBOL);
    ck_assert_msg(entry != NULL, "%s: no %s", path, TROPT_PLUGIN_ENTRY_SYMBOL);
    return entry();
}

/* The next cell separator: a '|' not escaped as "\\|" (Markdown's). */
static const char *cell_end(const char *line, const char *s)
{
    for (; *s; s++)
        if (*s == '|' && (s == line || s[-1] != '\\'))
            return s;
    return NULL;
}

/* The first cell of a README row, without its backticks (malloc'd), and
 * the third (the default) in *dflt when it starts with a `literal`. */
static char *row_cells(const char *line, char **dflt)
{
    *dflt = NULL;
    const char *c1 = cell_end(line, line);
    const char *c2 = c1 ? cell_end(line, c1 + 1) : NULL;
    const char *c3 = c2 ? cell_end(line, c2 + 1) : NULL;
    const char *c4 = c3 ? cell_end(line, c3 + 1) : NULL;
    ck_assert_msg(c4 != NULL, "not a table row: %s", line);
    const char *a = c1 + 1, *b = c2;
    while (*a == ' ' || *a == '`')
        a++;
    while (b > a && (b[-1] == ' ' || b[-1] == '`'))
        b--;
    char *name = strndup(a, (size_t)(b - a));
    const char *d = c3 + 1;
    while (*d == ' ')
        d++;
    if (*d == '`') {
        const char *e = strchr(d + 1, '`');
        if (e && e < c4)
            *dflt = strndup(d + 1, (size_t)(e - d - 1));
    }
    return name;
}

START_TEST(each_plugin_table_matches_its_readme)
{
    int checked = 0;
    for (size_t p = 0; p < sizeof shipped / sizeof shipped[0]; p++) {
        void *h = NULL;
        const tropt_plugin *pl = load(shipped[p], &h);
        if (!pl) {
            fprintf(stderr, "%s: not built here, skipped\n", shipped[p]);
            continue;
        }
        char *readme_path = tu_strdupf("%s/plugins/%s/README.md", tu_source_root(), shipped[p]);
        char *text = tu_read_file(readme_path, NULL);
        ck_assert_msg(text != NULL, "cannot read %s", readme_path);
        const char *at = strstr(text, "\n| option | type | default | meaning |\n");
        ck_assert_msg(at != NULL, "%s has no options table", readme_path);
        at = strchr(at + 1, '\n') + 1; /* the header */
        at = strchr(at, '\n') + 1;     /* the |---| line */
        size_t i = 0;
        while (*at == '|') {
            const char *end = strchr(at, '\n');
            char *line = strndup(at, end ? (size_t)(end - at) : strlen(at));
            char *dflt;
            char *name = row_cells(line, &dflt);
            const tropt_option_def *o = pl->options ? &pl->options[i] : NULL;
            ck_assert_msg(o && o->name,
                          "%s: the README documents option %zu '%s', the table "
                          "ends before it",
                          shipped[p], i, name);
            ck_assert_msg(strcmp(o->name, name) == 0,
                          "%s: option %zu is '%s' in the table, '%s' in the README", shipped[p], i,
                          o->name, name);
            if (dflt)
                ck_assert_msg(o->default_value && strcmp(o->default_value, dflt) == 0,
                              "%s: option '%s' defaults to '%s' in the table, '%s' in the README",
                              shipped[p], name, o->default_value ? o->default_value : "(none)",
                              dflt);
            free(dflt);
            free(name);
            free(line);
            i++;
            at = end ? end + 1 : at + strlen(at);
        }
        ck_assert_msg(pl->options && !pl->options[i].name,
                      "%s: the table declares option '%s', the README does not document it",
                      shipped[p], pl->options && pl->options[i].name ? pl->options[i].name : "?");
        ck_assert_msg(i > 0, "%s: an empty options table in the README", shipped[p]);
        free(text);
        free(readme_path);
        dlclose(h);
        checked++;
    }
    ck_assert_int_gt(checked, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("abi-options");
    TCase *tc = tcase_create("options");
    tcase_add_test(tc, each_plugin_table_matches_its_readme);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
