/*
 * tests/abi/abiutil.h - helpers shared by the ABI suites (on top of
 * tests/testutil.h).
 */
#ifndef TROPT_ABIUTIL_H
#define TROPT_ABIUTIL_H

#include "testutil.h"

/* Build folders of the test plugins (TROPT_ABI_BROKEN_DIR, TROPT_ABI_GOOD_DIR). */
const char *abi_broken_dir(void);
const char *abi_good_dir(void);
/* Folder of tropt-dataentry.so (TROPT_ABI_DATAENTRY_DIR). */
const char *abi_dataentry_dir(void);

/* malloc'd "<dir>/tropt-<name>.so". */
char *abi_plugin_file(const char *dir, const char *name);

/* Copy a file (mode kept executable); aborts the test on failure. */
void abi_copy_file(const char *from, const char *to);

/* setenv/unsetenv TROPT_PLUGIN_PATH (NULL unsets). */
void abi_set_path(const char *value);

/* Save and restore the cwd and TROPT_PLUGIN_PATH around each test, so the
 * suites also run with CK_FORK=no. */
void abi_env_save(void);
void abi_env_restore(void);

/*
 * Does `haystack` contain one of the '|'-separated alternatives of `needle`
 * (case-insensitively)?
 */
int abi_contains_any(const char *haystack, const char *needle);

/*
 * Open `spec` and assert that it fails with `code`, leaves *out NULL, and
 * that tropt_error_message() names `file` (when non-NULL) and, after the
 * file name, every needle of the NULL-terminated list (each one a set of
 * '|'-separated alternatives, matched case-insensitively).
 */
void abi_expect_open_fails(const char *spec, int code, const char *file, ...);

/* Assert that no module of path `file` is mapped in this process. */
void abi_assert_not_loaded(const char *file);

#endif
