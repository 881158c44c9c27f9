/* tests/allocloop.c - the allocation-failure loop the jsonl and http suites
 * run through their own backend (tests/reliability/test_alloc_fail.c runs a
 * stricter one, with leak tracking, over every backend). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <check.h>
#include <tropt/tracker.h>

#include "allocloop.h"
#include "testutil.h"

static atomic_long g_alloc_n, g_fail_at;
static void *chaos_malloc(size_t n)
{
    return atomic_fetch_add(&g_alloc_n, 1) + 1 == atomic_load(&g_fail_at) ? NULL : malloc(n);
}
static void *chaos_realloc(void *p, size_t n)
{
    return atomic_fetch_add(&g_alloc_n, 1) + 1 == atomic_load(&g_fail_at) ? NULL : realloc(p, n);
}
static void chaos_free(void *p)
{
    free(p);
}

/* Fail the Nth allocation, N = 1, 2, ... through open/init/log/finish/free
 * until a pass completes without reaching N: no crash, no leak (ASan),
 * every failure a clean error code. */
void tu_alloc_fail_loop(const char *spec)
{
    tropt_allocator al = {chaos_malloc, chaos_realloc, chaos_free};
    tu_capture_start();
    for (long n = 1; n < 100000; n++) {
        atomic_store(&g_alloc_n, 0);
        atomic_store(&g_fail_at, n);
        ck_assert_int_eq(tropt_set_allocator(&al), TROPT_OK);
        tropt_tracker *t = NULL;
        int rc = tropt_tracker_open(&t, spec, "chaos", NULL);
        if (rc == TROPT_OK) {
            json_t *cfg = json_pack("{s:i}", "k", 1);
            tropt_tracker_init(t, cfg);
            json_decref(cfg);
            for (int i = 0; i < 3; i++) {
                tropt_field f[2] = {TROPT_F_REAL("x", i * 0.5), TROPT_F_STR("s", "v")};
                rc = tropt_tracker_log_fields(t, f, 2);
                ck_assert(rc == TROPT_OK || rc == TROPT_ENOMEM || rc == TROPT_EBACKEND ||
                          rc == TROPT_ESTATE);
            }
            tropt_tracker_finish(t, NULL);
            tropt_tracker_free(t);
        } else {
            ck_assert_msg(rc == TROPT_ENOMEM || rc == TROPT_EBACKEND, "open: %d %s", rc,
                          tropt_error_message());
            ck_assert_ptr_null(t);
        }
        ck_assert_int_eq(tropt_set_allocator(NULL), TROPT_OK);
        if (atomic_load(&g_alloc_n) < n) {
            fprintf(stderr, "%s: %ld allocation failures injected\n", spec, n - 1);
            break;
        }
    }
    tu_capture_stop();
}
