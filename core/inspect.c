/* core/inspect.c - listing the plugins on the search path (tropt plugins). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct {
    char **v;
    size_t n, cap;
} strlist;

static int strlist_add(strlist *l, const char *s)
{
    if (tropt__grow((void **)&l->v, &l->cap, l->n + 1, sizeof *l->v))
        return TROPT_ENOMEM;
    l->v[l->n] = tropt__strdup(s);
    if (!l->v[l->n])
        return tropt__oom();
    l->n++;
    return TROPT_OK;
}

static int strlist_has(const strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return 1;
    return 0;
}

static void strlist_free(strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        tropt__free(l->v[i]);
    tropt__free(l->v);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_plugin_file(const char *n)
{
    size_t len = strlen(n);
    return len > 9 && strncmp(n, "tropt-", 6) == 0 && strcmp(n + len - 3, ".so") == 0;
}

/* Visit one folder; returns 1 when the visitor asked to stop. */
static int walk_dir(const char *dir, strlist *seen, tropt_plugin_visit_fn fn, void *ud, int *rc)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    strlist files = {0};
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (is_plugin_file(e->d_name) && strlist_add(&files, e->d_name)) {
            *rc = TROPT_ENOMEM;
            break;
        }
    }
    closedir(d);
    if (files.n)
        qsort(files.v, files.n, sizeof *files.v, cmp_str);
    int stop = 0;
    for (size_t i = 0; i < files.n && !stop && *rc == TROPT_OK; i++) {
        char *path = NULL;
        if (asprintf(&path, "%s/%s", dir, files.v[i]) < 0) {
            *rc = tropt__oom();
            break;
        }
        int shadowed = strlist_has(seen, files.v[i]);
        if (!shadowed && strlist_add(seen, files.v[i])) {
            free(path);
            *rc = TROPT_ENOMEM;
            break;
        }
        tropt__module m;
        if (tropt__module_open_file(path, &m) == TROPT_OK) {
            stop = fn(path, m.plugin, NULL, shadowed, ud) != 0;
            tropt__module_close(&m);
        } else {
            stop = fn(path, NULL, tropt_error_message(), shadowed, ud) != 0;
        }
        free(path);
    }
    strlist_free(&files);
    return stop;
}

int tropt_plugins_foreach(tropt_plugin_visit_fn fn, void *userdata)
{
    if (!fn)
        return tropt__error(TROPT_EINVAL, "tropt_plugins_foreach: fn is NULL");
    strlist seen = {0};
    int rc = TROPT_OK;
    const char *env = getenv("TROPT_PLUGIN_PATH");
    const char *p = env ? env : "";
    int stop = 0;
    while (!stop && rc == TROPT_OK) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        if (len > 0 && p[0] == '/') {
            char *dir = tropt__strndup(p, len);
            if (!dir) {
                rc = tropt__oom();
                break;
            }
            stop = walk_dir(dir, &seen, fn, userdata, &rc);
            tropt__free(dir);
        }
        if (!colon)
            break;
        p = colon + 1;
    }
    if (!stop && rc == TROPT_OK)
        walk_dir(TROPT_PLUGINDIR, &seen, fn, userdata, &rc);
    strlist_free(&seen);
    return rc;
}
