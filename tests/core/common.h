/* tests/core/common.h - helpers for the core suites: a tracker on the
 * recorder test plugin, and reading back what it recorded. */
#ifndef TROPT_TEST_CORE_COMMON_H
#define TROPT_TEST_CORE_COMMON_H

#include <stdlib.h>
#include <string.h>

#include "testutil.h"

typedef struct {
    char *dir;
    char *out; /* the recorder's file */
    tropt_tracker *t;
} rec_fixture;

/* Open a tracker on "recorder:out=<tmp>/calls.txt<extra>" (extra starts with
 * ',' or ';' or is ""), experiment `exp` (may be NULL), config `ec`. */
static inline void rec_open(rec_fixture *fx, const char *extra, const char *exp, json_t *ec)
{
    fx->dir = tu_mkdtemp();
    fx->out = tu_path(fx->dir, "calls.txt");
    char *spec = tu_strdupf("recorder:out=%s%s", fx->out, extra ? extra : "");
    int rc = tropt_tracker_open(&fx->t, spec, exp, ec);
    ck_assert_msg(rc == TROPT_OK, "open %s: %s", spec, tropt_error_message());
    free(spec);
}

static inline void rec_close(rec_fixture *fx)
{
    tropt_tracker_free(fx->t);
    fx->t = NULL;
    tu_rmtree(fx->dir);
    free(fx->dir);
    free(fx->out);
}

/* The recorded text (malloc'd, "" when nothing). */
static inline char *rec_text(rec_fixture *fx)
{
    char *s = tu_read_file(fx->out, NULL);
    return s ? s : strdup("");
}

/* Number of lines starting with `prefix`. */
static inline int count_prefix(const char *text, const char *prefix)
{
    int n = 0;
    size_t pl = strlen(prefix);
    for (const char *p = text; *p;) {
        if (strncmp(p, prefix, pl) == 0)
            n++;
        const char *nl = strchr(p, '\n');
        if (!nl)
            break;
        p = nl + 1;
    }
    return n;
}

/* The n-th (0-based) line starting with prefix, malloc'd, or NULL. */
static inline char *nth_line(const char *text, const char *prefix, int nth)
{
    size_t pl = strlen(prefix);
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (strncmp(p, prefix, pl) == 0 && nth-- == 0)
            return strndup(p, len);
        if (!nl)
            break;
        p = nl + 1;
    }
    return NULL;
}

#define ck_assert_contains(hay, needle)                                                            \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "expected '%s' in:\n%s", (needle), (hay))
#define ck_assert_not_contains(hay, needle)                                                        \
    ck_assert_msg(strstr((hay), (needle)) == NULL, "did not expect '%s' in:\n%s", (needle), (hay))

#endif
