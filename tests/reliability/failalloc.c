/* tests/reliability/failalloc.c - see failalloc.h. */
#include "failalloc.h"

#include <execinfo.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <tropt/tracker.h>

#define SET_BITS 16
#define SET_SIZE (1u << SET_BITS)
#define TOMB ((void *)(uintptr_t)1)

typedef struct {
    void *slot[SET_SIZE];
    size_t live;
} ptrset;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static ptrset tropt_set, jansson_set;
static int armed;
static unsigned long fail_at, count;
static int fired, fired_jansson;
static unsigned long cross;
static const char *label = "";
static const char *fired_label = "";

static size_t hash_ptr(const void *p)
{
    uintptr_t x = (uintptr_t)p;
    x ^= x >> 17;
    x *= 0xed5ad4bbu;
    x ^= x >> 11;
    return (size_t)(x & (SET_SIZE - 1));
}

static void set_add(ptrset *s, void *p)
{
    size_t h = hash_ptr(p);
    for (size_t i = 0; i < SET_SIZE; i++, h = (h + 1) & (SET_SIZE - 1)) {
        if (s->slot[h] == NULL || s->slot[h] == TOMB) {
            s->slot[h] = p;
            s->live++;
            return;
        }
    }
    fprintf(stderr, "failalloc: pointer set full\n");
    abort();
}

static int set_remove(ptrset *s, void *p)
{
    size_t h = hash_ptr(p);
    for (size_t i = 0; i < SET_SIZE; i++, h = (h + 1) & (SET_SIZE - 1)) {
        if (s->slot[h] == NULL)
            return 0;
        if (s->slot[h] == p) {
            s->slot[h] = TOMB;
            s->live--;
            return 1;
        }
    }
    return 0;
}

static void set_clear(ptrset *s)
{
    memset(s->slot, 0, sizeof s->slot);
    s->live = 0;
}

/* Called with the lock held: 1 when this allocation must fail. */
static int should_fail(int is_jansson)
{
    if (!armed)
        return 0;
    count++;
    if (fail_at && count == fail_at) {
        fired = 1;
        fired_jansson = is_jansson;
        fired_label = label;
        if (getenv("TROPT_REL_VERBOSE")) {
            void *bt[32];
            int n = backtrace(bt, 32);
            fprintf(stderr, "failalloc: failing allocation %lu (%s) during %s\n", count,
                    is_jansson ? "jansson" : "tropt", label);
            backtrace_symbols_fd(bt, n, 2);
        }
        return 1;
    }
    return 0;
}

static void *do_malloc(size_t n, int is_jansson)
{
    pthread_mutex_lock(&lock);
    if (should_fail(is_jansson)) {
        pthread_mutex_unlock(&lock);
        return NULL;
    }
    void *p = malloc(n);
    if (p && armed)
        set_add(is_jansson ? &jansson_set : &tropt_set, p);
    pthread_mutex_unlock(&lock);
    return p;
}

static void do_free(void *p, int is_jansson)
{
    if (!p)
        return;
    pthread_mutex_lock(&lock);
    if (!set_remove(is_jansson ? &jansson_set : &tropt_set, p) &&
        set_remove(is_jansson ? &tropt_set : &jansson_set, p))
        cross++;
    free(p);
    pthread_mutex_unlock(&lock);
}

static void *t_malloc(size_t n)
{
    return do_malloc(n, 0);
}

static void t_free(void *p)
{
    do_free(p, 0);
}

static void *t_realloc(void *p, size_t n)
{
    if (!p)
        return do_malloc(n, 0);
    pthread_mutex_lock(&lock);
    if (should_fail(0)) {
        pthread_mutex_unlock(&lock);
        return NULL;
    }
    int tracked = set_remove(&tropt_set, p);
    void *q = realloc(p, n);
    if (!q) {
        if (tracked)
            set_add(&tropt_set, p);
    } else if (tracked || armed) {
        set_add(&tropt_set, q);
    }
    pthread_mutex_unlock(&lock);
    return q;
}

static void *j_malloc(size_t n)
{
    return do_malloc(n, 1);
}

static void j_free(void *p)
{
    do_free(p, 1);
}

void fa_install(void)
{
    static const tropt_allocator a = {t_malloc, t_realloc, t_free};
    tropt_set_allocator(&a);
    json_set_alloc_funcs(j_malloc, j_free);
}

void fa_arm(unsigned long n)
{
    pthread_mutex_lock(&lock);
    set_clear(&tropt_set);
    set_clear(&jansson_set);
    count = 0;
    fail_at = n;
    fired = fired_jansson = 0;
    cross = 0;
    label = "";
    fired_label = "";
    armed = 1;
    pthread_mutex_unlock(&lock);
}

fa_stats fa_disarm(void)
{
    pthread_mutex_lock(&lock);
    armed = 0;
    fa_stats st = {count, fired, fired_jansson, tropt_set.live, jansson_set.live, cross};
    set_clear(&tropt_set);
    set_clear(&jansson_set);
    pthread_mutex_unlock(&lock);
    return st;
}

void fa_set_label(const char *l)
{
    pthread_mutex_lock(&lock);
    label = l;
    pthread_mutex_unlock(&lock);
}

const char *fa_fired_label(void)
{
    return fired_label;
}
