#include "abiutil.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *env_or_fail(const char *name)
{
    const char *v = getenv(name);
    ck_assert_msg(v && *v, "%s is not set (run the test through meson test)", name);
    return v;
}

const char *abi_broken_dir(void)
{
    return env_or_fail("TROPT_ABI_BROKEN_DIR");
}

const char *abi_good_dir(void)
{
    return env_or_fail("TROPT_ABI_GOOD_DIR");
}

const char *abi_dataentry_dir(void)
{
    return env_or_fail("TROPT_ABI_DATAENTRY_DIR");
}

char *abi_plugin_file(const char *dir, const char *name)
{
    return tu_strdupf("%s/tropt-%s.so", dir, name);
}

void abi_copy_file(const char *from, const char *to)
{
    size_t len = 0;
    char *data = tu_read_file(from, &len);
    ck_assert_msg(data != NULL, "cannot read %s", from);
    FILE *f = fopen(to, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", to);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
    free(data);
    ck_assert_int_eq(chmod(to, 0755), 0);
}

void abi_set_path(const char *value)
{
    if (value)
        ck_assert_int_eq(setenv("TROPT_PLUGIN_PATH", value, 1), 0);
    else
        ck_assert_int_eq(unsetenv("TROPT_PLUGIN_PATH"), 0);
}

static char *saved_cwd;
static char *saved_path;

void abi_env_save(void)
{
    saved_cwd = getcwd(NULL, 0);
    const char *p = getenv("TROPT_PLUGIN_PATH");
    saved_path = p ? strdup(p) : NULL;
}

void abi_env_restore(void)
{
    if (saved_cwd && chdir(saved_cwd) != 0)
        perror("chdir");
    if (saved_path)
        setenv("TROPT_PLUGIN_PATH", saved_path, 1);
    else
        unsetenv("TROPT_PLUGIN_PATH");
    free(saved_cwd);
    free(saved_path);
    saved_cwd = saved_path = NULL;
}

int abi_contains_any(const char *haystack, const char *needle)
{
    const char *p = needle;
    for (;;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        for (const char *h = haystack; *h; h++)
            if (strncasecmp(h, p, n) == 0)
                return 1;
        if (!bar)
            return 0;
        p = bar + 1;
    }
}

void abi_expect_open_fails(const char *spec, int code, const char *file, ...)
{
    tropt_tracker *t = (tropt_tracker *)(void *)&t; /* must be reset to NULL */
    int rc = tropt_tracker_open(&t, spec, NULL, NULL);
    const char *msg = tropt_error_message();
    ck_assert_msg(rc == code, "open(\"%s\") returned %s, expected %s (message: %s)", spec,
                  tropt_error_name(rc), tropt_error_name(code), msg);
    ck_assert_msg(t == NULL, "open(\"%s\") failed but left *out non-NULL", spec);
    ck_assert_ptr_nonnull(msg);
    const char *rest = msg;
    if (file) {
        const char *at = strstr(msg, file);
        ck_assert_msg(at != NULL, "open(\"%s\"): message does not name the file %s: \"%s\"", spec,
                      file, msg);
        rest = at + strlen(file);
    }
    va_list ap;
    va_start(ap, file);
    for (const char *needle; (needle = va_arg(ap, const char *)) != NULL;)
        ck_assert_msg(abi_contains_any(rest, needle),
                      "open(\"%s\"): message does not give the reason (%s) after the file name: "
                      "\"%s\"",
                      spec, needle, msg);
    va_end(ap);
}

void abi_assert_not_loaded(const char *file)
{
    void *h = dlopen(file, RTLD_NOW | RTLD_NOLOAD);
    if (h)
        dlclose(h);
    ck_assert_msg(h == NULL, "%s is still loaded after the host refused it", file);
}
