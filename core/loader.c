/* core/loader.c - finding, loading and checking plugin files.
 *
 * A name is looked up as tropt-<name>.so in each absolute folder of
 * TROPT_PLUGIN_PATH, then in the installed plugin dir; never in the current
 * directory or a relative folder.  A spec entry containing '/' is a file
 * path, loaded as given.  This file is the only one that talks to dlfcn. */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#if UINTPTR_MAX > 0xffffffffu
#define SYM_TYPE(info) ELF64_ST_TYPE(info)
#else
#define SYM_TYPE(info) ELF32_ST_TYPE(info)
#endif

const char *tropt_plugin_dir(void)
{
    return TROPT_PLUGINDIR;
}

void tropt__module_close(tropt__module *m)
{
    if (!m)
        return;
    m->plugin = NULL; /* no pointer into the module survives dlclose */
    if (m->handle)
        dlclose(m->handle);
    m->handle = NULL;
    tropt__free(m->path);
    m->path = NULL;
}

int tropt__plugin_can_read(const tropt_plugin *p)
{
    return p && p->struct_size >= TROPT_PLUGIN_READER_SIZE && p->reader_open && p->list_runs &&
           p->read_run && p->reader_close;
}

static int check_table(const tropt_plugin *p, const char *path)
{
    uint32_t major = TROPT_PLUGIN_ABI_MAJOR_OF(p->abi_version);
    if (major != TROPT_PLUGIN_ABI_MAJOR)
        return tropt__error(TROPT_EPLUGIN,
                            "%s: built for plugin ABI %u.%u, this host supports ABI %u.x", path,
                            (unsigned)major, (unsigned)(p->abi_version & 0xffffu),
                            (unsigned)TROPT_PLUGIN_ABI_MAJOR);
    if (p->struct_size < TROPT_PLUGIN_MIN_SIZE)
        return tropt__error(TROPT_EPLUGIN,
                            "%s: hook table is %u bytes, ABI %u requires at least %zu", path,
                            (unsigned)p->struct_size, (unsigned)TROPT_PLUGIN_ABI_MAJOR,
                            (size_t)TROPT_PLUGIN_MIN_SIZE);
    if (!p->name || !tropt__valid_plugin_name(p->name))
        return tropt__error(TROPT_EPLUGIN, "%s: the plugin's name is missing or not [A-Za-z0-9_-]+",
                            path);
    const char *missing = !p->create    ? "create"
                          : !p->init    ? "init"
                          : !p->log     ? "log"
                          : !p->finish  ? "finish"
                          : !p->destroy ? "destroy"
                                        : NULL;
    if (missing)
        return tropt__error(TROPT_EPLUGIN, "%s: lacks the required hook '%s'", path, missing);
    if (p->struct_size >= TROPT_PLUGIN_READER_SIZE) {
        int n = !!p->reader_open + !!p->list_runs + !!p->read_run + !!p->reader_close;
        if (n != 0 && n != 4)
            return tropt__error(TROPT_EPLUGIN,
                                "%s: has %d of the 4 reader hooks (reader_open, list_runs, "
                                "read_run, reader_close): give all or none",
                                path, n);
    }
    if (p->struct_size >= TROPT_PLUGIN_V12_SIZE && !p->annotate != !p->delete_run)
        return tropt__error(TROPT_EPLUGIN,
                            "%s: has one of the 2 run metadata hooks (annotate, delete_run): "
                            "give both or none",
                            path);
    return tropt__options_check_decl(p, path);
}

int tropt__module_check_name(const tropt__module *m, const char *path)
{
    /* the <name> of ".../tropt-<name>.so" */
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    if (strncmp(base, "tropt-", 6) != 0 || len < 9 || strcmp(base + len - 3, ".so") != 0)
        return 1; /* a path of another shape: no name to match */
    const char *name = base + 6;
    size_t n = len - 9;
    if (strlen(m->plugin->name) == n && strncmp(m->plugin->name, name, n) == 0)
        return 1;
    tropt__log(TROPT_LEVEL_WARNING,
               "%s: its hook table names the plugin '%s', but the file name says '%.*s' (it is "
               "found and listed as '%.*s'); rename the file to tropt-%s.so or the table's name "
               "to '%.*s'",
               path, m->plugin->name, (int)n, name, (int)n, name, m->plugin->name, (int)n, name);
    return 0;
}

int tropt__module_open_file(const char *path, tropt__module *out)
{
    memset(out, 0, sizeof *out);
    out->path = tropt__strdup(path);
    if (!out->path)
        return tropt__oom();
    dlerror();
    out->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!out->handle) {
        const char *e = dlerror();
        int rc =
            access(path, F_OK) == 0
                ? tropt__error(TROPT_EPLUGIN, "%s: cannot load: %s", path, e ? e : "unknown error")
                : tropt__error(TROPT_ENOTFOUND, "%s: no such plugin file", path);
        tropt__module_close(out);
        return rc;
    }
    dlerror();
    void *sym = dlsym(out->handle, TROPT_PLUGIN_ENTRY_SYMBOL);
    if (!sym) {
        int rc = tropt__error(TROPT_EPLUGIN, "%s: not a tropt plugin (no entry symbol %s)", path,
                              TROPT_PLUGIN_ENTRY_SYMBOL);
        tropt__module_close(out);
        return rc;
    }
    /* A plugin that exports its table (data) under the entry name would be
     * called as code: check the symbol's type first. */
    Dl_info info;
    const ElfW(Sym) *es = NULL;
    if (!dladdr1(sym, &info, (void **)&es, RTLD_DL_SYMENT) || !es ||
        (SYM_TYPE(es->st_info) != STT_FUNC && SYM_TYPE(es->st_info) != STT_GNU_IFUNC)) {
        int rc = tropt__error(TROPT_EPLUGIN, "%s: %s is not a function", path,
                              TROPT_PLUGIN_ENTRY_SYMBOL);
        tropt__module_close(out);
        return rc;
    }
    const tropt_plugin *(*entry)(void);
    *(void **)(&entry) = sym; /* POSIX: object-to-function pointer via dlsym */
    const tropt_plugin *p = entry();
    if (!p) {
        int rc =
            tropt__error(TROPT_EPLUGIN, "%s: %s returned NULL", path, TROPT_PLUGIN_ENTRY_SYMBOL);
        tropt__module_close(out);
        return rc;
    }
    int rc = check_table(p, path);
    if (rc != TROPT_OK) {
        tropt__module_close(out);
        return rc;
    }
    out->plugin = p;
    tropt__module_check_name(out, path);
    return TROPT_OK;
}

/* Append "dir" to a "a, b" list for the not-found message. */
static void note_dir(char *buf, size_t size, const char *dir, size_t len)
{
    size_t used = strlen(buf);
    snprintf(buf + used, size - used, "%s%.*s", used ? ", " : "", (int)len, dir);
}

int tropt__module_load(const char *name, tropt__module *out)
{
    memset(out, 0, sizeof *out);
    if (strchr(name, '/'))
        return tropt__module_open_file(name, out);
    if (!tropt__valid_plugin_name(name))
        return tropt__error(TROPT_EINVAL, "invalid plugin name '%s' (names are [A-Za-z0-9_-]+)",
                            name);

    char looked[2048] = "";
    const char *env = getenv("TROPT_PLUGIN_PATH");
    const char *p = env ? env : "";
    while (1) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        if (len > 0) {
            if (p[0] != '/') {
                tropt__log(TROPT_LEVEL_DEBUG, "TROPT_PLUGIN_PATH: ignoring relative folder '%.*s'",
                           (int)len, p);
            } else {
                note_dir(looked, sizeof looked, p, len);
                char *file = NULL;
                if (asprintf(&file, "%.*s/tropt-%s.so", (int)len, p, name) < 0)
                    return tropt__oom();
                if (access(file, F_OK) == 0) {
                    int rc = tropt__module_open_file(file, out);
                    free(file);
                    return rc;
                }
                free(file);
            }
        }
        if (!colon)
            break;
        p = colon + 1;
    }
    note_dir(looked, sizeof looked, TROPT_PLUGINDIR, strlen(TROPT_PLUGINDIR));
    char *file = NULL;
    if (asprintf(&file, "%s/tropt-%s.so", TROPT_PLUGINDIR, name) < 0)
        return tropt__oom();
    if (access(file, F_OK) == 0) {
        int rc = tropt__module_open_file(file, out);
        free(file);
        return rc;
    }
    free(file);
    return tropt__error(TROPT_ENOTFOUND, "no plugin '%s' (looked for tropt-%s.so in: %s)", name,
                        name, looked);
}
