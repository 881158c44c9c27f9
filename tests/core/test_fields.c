/* tests/core/test_fields.c - flattening of every JSON type, typed fields
 * with NaN/Inf, duplicate keys, several threads on one tracker, and the
 * allocation-free log_fields path. */
#include <malloc.h>
#include <math.h>
#include <pthread.h>

#include "common.h"

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    ck_assert_msg(j != NULL, "bad test JSON %s: %s", text, e.text);
    return j;
}

static char *log_one_json(const char *data_text, int *rc)
{
    rec_fixture fx;
    rec_open(&fx, "", NULL, NULL);
    ck_assert_int_eq(tropt_tracker_init(fx.t, NULL), TROPT_OK);
    json_t *d = J(data_text);
    *rc = tropt_tracker_log(fx.t, d);
    json_decref(d);
    char *text = rec_text(&fx);
    char *line = nth_line(text, "log ", 0);
    free(text);
    rec_close(&fx);
    return line;
}

START_TEST(flattens_every_json_type)
{
    int rc;
    char *l =
        log_one_json("{\"loss\":{\"ce\":1,\"reg\":{\"l2\":0.5}},\"arr\":[1,\"two\",{\"x\":null}],"
                     "\"s\":\"caf\xC3\xA9, \\\"q\\\"\\n\",\"t\":true,\"f\":false,\"n\":null,"
                     "\"max\":9223372036854775807,\"min\":-9223372036854775808,"
                     "\"r\":0.1,\"big\":1e308,\"empty\":{},\"e2\":[],\"a/b\":1,\"\":2}",
                     &rc);
    ck_assert_int_eq(rc, TROPT_OK);
    ck_assert_contains(l, " n=15 |");
    ck_assert_contains(l, " loss/ce=i:1 loss/reg/l2=r:0.5 arr=j:[1,\"two\",{\"x\":null}]");
    ck_assert(strlen(l) > 3 && strcmp(l + strlen(l) - 3, "\"q\"") == 0); /* then the newline */
    ck_assert_contains(l, " s=s:caf\xC3\xA9, \"q\"");
    free(l);
    /* the recorder line holds a newline from the string: check the rest separately */
    l = log_one_json("{\"t\":true,\"f\":false,\"n\":null,\"max\":9223372036854775807,"
                     "\"min\":-9223372036854775808,\"r\":0.1,\"big\":1e308,\"empty\":{},\"e2\":[],"
                     "\"a/b\":1,\"\":2,\"deep\":{\"x\":{\"y\":{\"z\":\"w\"}}}}",
                     &rc);
    ck_assert_int_eq(rc, TROPT_OK);
    ck_assert_contains(l,
                       " t=b:1 f=b:0 n=null max=i:9223372036854775807 min=i:-9223372036854775808 "
                       "r=r:0.1 big=r:1e+308 empty=j:{} e2=j:[] a/b=i:1 =i:2 deep/x/y/z=s:w");
    free(l);
}
END_TEST

START_TEST(duplicate_keys_after_flattening_rejected)
{
    int rc;
    char *l = log_one_json("{\"a/b\":1,\"a\":{\"b\":2}}", &rc);
    ck_assert_int_eq(rc, TROPT_EINVAL);
    ck_assert_str_eq(tropt_error_message(), "duplicate key 'a/b' in one step");
    ck_assert_ptr_null(l); /* nothing written */
    /* many keys: the hashed path */
    json_t *o = json_object();
    char k[32];
    for (int i = 0; i < 100; i++) {
        snprintf(k, sizeof k, "k%d", i);
        json_object_set_new(o, k, json_integer(i));
    }
    json_object_set_new(o, "k", json_pack("{s:i}", "x", 1));
    json_object_set_new(o, "k/x", json_integer(2));
    rec_fixture fx;
    rec_open(&fx, "", NULL, NULL);
    ck_assert_int_eq(tropt_tracker_init(fx.t, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_log(fx.t, o), TROPT_EINVAL);
    ck_assert_str_eq(tropt_error_message(), "duplicate key 'k/x' in one step");
    json_object_del(o, "k/x");
    ck_assert_int_eq(tropt_tracker_log(fx.t, o), TROPT_OK);
    json_decref(o);
    /* the rejected step did not consume a step number */
    char *text = rec_text(&fx);
    ck_assert_contains(text, " step=0 ");
    ck_assert_contains(text, " n=101 |");
    free(text);
    rec_close(&fx);
}
END_TEST

START_TEST(fields_carry_nan_inf_and_exact_ints)
{
    rec_fixture fx;
    rec_open(&fx, "", NULL, NULL);
    ck_assert_int_eq(tropt_tracker_init(fx.t, NULL), TROPT_OK);
    json_t *arr = J("[1,2]"), *obj = J("{\"a\":1,\"b\":{\"c\":\"d\"}}"), *sc = json_real(2.5);
    tropt_field f[] = {
        TROPT_F_REAL("nan", NAN),        TROPT_F_REAL("inf", INFINITY),
        TROPT_F_REAL("ninf", -INFINITY), TROPT_F_REAL("tiny", 5e-324),
        TROPT_F_REAL("third", 1.0 / 3),  TROPT_F_INT("max", INT64_MAX),
        TROPT_F_INT("min", INT64_MIN),   TROPT_F_BOOL("yes", 42),
        TROPT_F_STR("empty", ""),        TROPT_F_NULL("nothing"),
        TROPT_F_JSON("arr", arr),        TROPT_F_JSON("obj", obj),
        TROPT_F_JSON("scalar", sc),
    };
    ck_assert_int_eq(tropt_tracker_log_fields(fx.t, f, sizeof f / sizeof f[0]), TROPT_OK);
    char *text = rec_text(&fx);
    ck_assert_contains(text, "| nan=r:nan inf=r:inf ninf=r:-inf tiny=r:5e-324 "
                             "third=r:0.3333333333333333 max=i:9223372036854775807 "
                             "min=i:-9223372036854775808 yes=b:1 empty=s: nothing=null arr=j:[1,2] "
                             "obj/a=i:1 obj/b/c=s:d scalar=r:2.5\n");
    free(text);
    json_decref(arr);
    json_decref(obj);
    json_decref(sc);
    rec_close(&fx);
}
END_TEST

START_TEST(bad_fields_rejected)
{
    rec_fixture fx;
    rec_open(&fx, "", NULL, NULL);
    ck_assert_int_eq(tropt_tracker_init(fx.t, NULL), TROPT_OK);
    tropt_field nokey = {NULL, TROPT_INT, {.i = 1}};
    ck_assert_int_eq(tropt_tracker_log_fields(fx.t, &nokey, 1), TROPT_EINVAL);
    ck_assert_str_eq(tropt_error_message(), "field 0 has a NULL key");
    tropt_field nostr[] = {TROPT_F_INT("a", 1), TROPT_F_STR("s", NULL)};
    ck_assert_int_eq(tropt_tracker_log_fields(fx.t, nostr, 2), TROPT_EINVAL);
    ck_assert_str_eq(tropt_error_message(), "field 's' is a TROPT_STRING with a NULL string");
    tropt_field badtype = {"t", (tropt_type)99, {.i = 1}};
    ck_assert_int_eq(tropt_tracker_log_fields(fx.t, &badtype, 1), TROPT_EINVAL);
    tropt_field dup[] = {TROPT_F_INT("a", 1), TROPT_F_REAL("a", 2)};
    ck_assert_int_eq(tropt_tracker_log_fields(fx.t, dup, 2), TROPT_EINVAL);
    ck_assert_str_eq(tropt_error_message(), "duplicate key 'a' in one step");
    ck_assert_int_eq(tropt_tracker_log_fields(fx.t, NULL, 3), TROPT_EINVAL);
    ck_assert_int_eq(tropt_tracker_log_fields(fx.t, NULL, 0), TROPT_OK); /* an empty step */
    char *text = rec_text(&fx);
    ck_assert_int_eq(count_prefix(text, "log "), 1);
    ck_assert_contains(text, " step=0 ");
    free(text);
    rec_close(&fx);
}
END_TEST

/* The duplicate check remembers the last unique step's key signatures and
 * skips probing when they repeat.  It must still catch a duplicate when the
 * caller rewrites a key in place (same pointers, new bytes), when only the
 * middle of a long key differs, and when keys swap places. */
START_TEST(duplicate_check_survives_keys_rewritten_in_place)
{
    rec_fixture fx;
    rec_open(&fx, "", NULL, NULL);
    ck_assert_int_eq(tropt_tracker_init(fx.t, NULL), TROPT_OK);
    char k1[32] = "loss", k2[32] = "lr";
    tropt_field f[] = {TROPT_F_REAL(k1, 1), TROPT_F_REAL(k2, 2), TROPT_F_INT("step_i", 3)};
    for (int i = 0; i < 3; i++) /* the cached fast path */
        ck_assert_int_eq(tropt_tracker_log_fields(fx.t, f, 3), TROPT_OK);
    strcpy(k2, "loss"); /* same pointer, now equal to k1 */
    ck_assert_int_eq(tropt_tracker_log_fields(fx.t, f, 3), TROPT_EINVAL);
    ck_assert_str_eq(tropt_error_message(), "duplicate key 'loss' in one step");
    strcpy(k2, "lr");
    ck_assert_int_eq(tropt_tracker_log_fields(fx.t, f, 3), TROPT_OK);
    /* long keys that differ only in the middle: equal signatures would
     * defeat a filter that reads the ends alone; the strcmp decides */
    strcpy(k1, "layer_0001_of_the_model/weight");
    strcpy(k2, "layer_0002_of_the_model/weight");
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(tropt_tracker_log_fields(fx.t, f, 3), TROPT_OK);
    strcpy(k2, k1);
    ck_assert_int_eq(tropt_tracker_log_fields(fx.t, f, 3), TROPT_EINVAL);
    ck_assert_str_eq(tropt_error_message(),
                     "duplicate key 'layer_0001_of_the_model/weight' in one step");
    /* swapped order with the same keys is still unique */
    strcpy(k1, "b");
    strcpy(k2, "a");
    ck_assert_int_eq(tropt_tracker_log_fields(fx.t, f, 3), TROPT_OK);
    f[0].key = k2;
    f[1].key = k1;
    ck_assert_int_eq(tropt_tracker_log_fields(fx.t, f, 3), TROPT_OK);
    char *text = rec_text(&fx);
    ck_assert_int_eq(count_prefix(text, "log "), 9); /* 3 + 1 + 3 + 2 accepted */
    free(text);
    rec_close(&fx);
}
END_TEST

/* ---- threads ---- */
#define N_THREADS 8
#define N_STEPS 2000

static void *log_worker(void *arg)
{
    tropt_tracker *t = arg;
    for (int i = 0; i < N_STEPS; i++) {
        tropt_field f[] = {TROPT_F_INT("i", i), TROPT_F_REAL("loss", 1.0 / (i + 1))};
        if (tropt_tracker_log_fields(t, f, 2) != TROPT_OK)
            return (void *)1;
    }
    return NULL;
}

START_TEST(threads_log_on_one_tracker_no_step_lost)
{
    rec_fixture fx;
    rec_open(&fx, "", NULL, NULL);
    ck_assert_int_eq(tropt_tracker_init(fx.t, NULL), TROPT_OK);
    pthread_t th[N_THREADS];
    for (int i = 0; i < N_THREADS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, log_worker, fx.t), 0);
    for (int i = 0; i < N_THREADS; i++) {
        void *r;
        pthread_join(th[i], &r);
        ck_assert_ptr_null(r);
    }
    ck_assert_int_eq(tropt_tracker_finish(fx.t, NULL), TROPT_OK);
    char *text = rec_text(&fx);
    ck_assert_int_eq(count_prefix(text, "log "), N_THREADS * N_STEPS);
    /* every step number exactly once, in order in the file */
    int expect = 0;
    for (const char *p = strstr(text, "log "); p; p = strstr(p + 1, "\nlog ")) {
        const char *s = strstr(p, " step=");
        ck_assert_int_eq(atoi(s + 6), expect);
        expect++;
    }
    ck_assert_int_eq(expect, N_THREADS * N_STEPS);
    free(text);
    rec_close(&fx);
}
END_TEST

/* ---- allocations ---- */
static long n_alloc;
static void *count_malloc(size_t n)
{
    n_alloc++;
    return malloc(n);
}
static void *count_realloc(void *p, size_t n)
{
    n_alloc++;
    return realloc(p, n);
}
static void count_free(void *p)
{
    free(p);
}

START_TEST(log_fields_to_null_allocates_nothing_per_call)
{
    tropt_allocator a = {count_malloc, count_realloc, count_free};
    ck_assert_int_eq(tropt_set_allocator(&a), TROPT_OK);
    json_set_alloc_funcs(count_malloc, count_free);
    tropt_tracker *t;
    ck_assert_int_eq(tropt_tracker_open(&t, "null", NULL, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    tropt_field f[20];
    char keys[20][8];
    for (int i = 0; i < 20; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        f[i] = (tropt_field){.key = keys[i], .type = TROPT_REAL, .v.r = i};
    }
    f[3] = TROPT_F_STR("s", "text");
    f[4] = TROPT_F_INT("i", 4);
    /* warm up (the >16 key duplicate check sizes its table once) */
    ck_assert_int_eq(tropt_tracker_log_fields(t, f, 20), TROPT_OK);
    long before = n_alloc;
    for (int k = 0; k < 10000; k++) {
        f[0].v.r = k;
        ck_assert_int_eq(tropt_tracker_log_fields(t, f, k % 2 ? 20 : 10), TROPT_OK);
    }
    ck_assert_int_eq(n_alloc, before);
    /* and the counting allocator really sees the library's allocations */
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    tropt_tracker_free(t);
    ck_assert_int_gt(n_alloc, 0);
    tropt_set_allocator(NULL);
    json_set_alloc_funcs(malloc, free);
}
END_TEST

/* ---- the duplicate-key check against a naive quadratic one ---- */

/* Deterministic PRNG so a failure reproduces. */
static uint64_t prng_state = 0x2545F4914F6CDD1Du;
static uint64_t prng(void)
{
    prng_state ^= prng_state << 13;
    prng_state ^= prng_state >> 7;
    prng_state ^= prng_state << 17;
    return prng_state;
}

/* The index of the first key equal to an earlier one, or -1. */
static long naive_first_duplicate(char **keys, size_t n)
{
    for (size_t i = 1; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(keys[i], keys[j]) == 0)
                return (long)i;
    return -1;
}

/* One key of a family: names that share their ends and differ in the
 * middle (per-layer names), random bytes of random length, short keys,
 * keys of exactly 8/16/17 bytes (the hash's boundaries). */
static void make_key(char *buf, int family, uint64_t r)
{
    switch (family) {
    case 0:
        sprintf(buf, "layers.%llu.attention.grad_norm", (unsigned long long)(r % 4000));
        break;
    case 1: {
        size_t len = 1 + r % 40;
        for (size_t i = 0; i < len; i++)
            buf[i] = (char)('!' + (prng() % 90));
        buf[len] = 0;
        break;
    }
    case 2:
        sprintf(buf, "k%llu", (unsigned long long)(r % 300));
        break;
    default: {
        static const int lens[] = {8, 16, 17, 24, 25};
        size_t len = (size_t)lens[r % 5];
        memset(buf, 'x', len);
        buf[len] = 0;
        sprintf(buf + len / 2 - 2, "%04u", (unsigned)(prng() % 3000));
        buf[len / 2 + 2] = 'x';
        break;
    }
    }
}

START_TEST(duplicate_check_agrees_with_naive_check)
{
    tropt_tracker *t;
    ck_assert_int_eq(tropt_tracker_open(&t, "null", NULL, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    enum { MAXN = 3000, KEYLEN = 64 };
    char(*store)[KEYLEN] = malloc((size_t)MAXN * KEYLEN);
    char **keys = malloc(MAXN * sizeof *keys);
    tropt_field *f = malloc(MAXN * sizeof *f);
    ck_assert(store && keys && f);
    int found = 0, clean = 0;
    for (int round = 0; round < 400; round++) {
        /* sizes around the small table's limit and far beyond it */
        size_t n = round % 4 == 0 ? 1 + prng() % MAXN : 1 + prng() % 70;
        int family = (int)(prng() % 5); /* 4: a mix of all families */
        for (size_t i = 0; i < n; i++) {
            int fam = family == 4 ? (int)(prng() % 4) : family;
            make_key(store[i], fam, prng());
            keys[i] = store[i];
        }
        if (prng() % 3 == 0 && n > 1) { /* plant one more duplicate */
            size_t a = prng() % n, b = prng() % n;
            if (a != b)
                memcpy(store[a], store[b], KEYLEN);
        }
        for (size_t i = 0; i < n; i++) {
            tropt_field one = TROPT_F_INT(keys[i], (int64_t)i);
            f[i] = one;
        }
        long want = naive_first_duplicate(keys, n);
        int rc = tropt_tracker_log_fields(t, f, n);
        if (want < 0) {
            ck_assert_msg(rc == TROPT_OK, "round %d: n=%zu unique keys refused: %s", round, n,
                          tropt_error_message());
            clean++;
        } else {
            ck_assert_msg(rc == TROPT_EINVAL, "round %d: duplicate '%s' accepted", round,
                          keys[want]);
            char msg[128];
            snprintf(msg, sizeof msg, "duplicate key '%s' in one step", keys[want]);
            ck_assert_str_eq(tropt_error_message(), msg);
            found++;
        }
    }
    ck_assert(found > 50 && clean > 50); /* both outcomes were exercised */
    free(store);
    free(keys);
    free(f);
    tropt_tracker_free(t);
}
END_TEST

/* ---- nesting depth and values that contain themselves ---- */

/* [[[...]]] `levels` arrays deep, built through the API (json_loads would
 * stop at its own depth limit). */
static json_t *deep_array(int levels)
{
    json_t *v = json_array();
    for (int i = 1; i < levels; i++) {
        json_t *outer = json_array();
        json_array_append_new(outer, v);
        v = outer;
    }
    return v;
}

static json_t *deep_object(int levels)
{
    json_t *v = json_integer(1);
    for (int i = 0; i < levels; i++) {
        json_t *outer = json_object();
        json_object_set_new(outer, "a", v);
        v = outer;
    }
    return v;
}

START_TEST(deep_and_cyclic_values_refused_before_any_backend)
{
    rec_fixture fx;
    rec_open(&fx, "", NULL, NULL);
    ck_assert_int_eq(tropt_tracker_init(fx.t, NULL), TROPT_OK);
    const char *want = "value of 'x' is nested more than 2048 levels deep, or contains itself";

    /* 20,000 levels (deeper values crashed encoders and flattening before the
     * cap; jansson itself frees a value recursively, so the test stays at a
     * depth json_decref survives) */
    json_t *d = json_object();
    json_object_set_new(d, "x", deep_array(20000));
    ck_assert_int_eq(tropt_tracker_log(fx.t, d), TROPT_EINVAL);
    ck_assert_str_eq(tropt_error_message(), want);
    json_decref(d);
    d = json_object();
    json_object_set_new(d, "x", deep_object(20000));
    ck_assert_int_eq(tropt_tracker_log(fx.t, d), TROPT_EINVAL);
    ck_assert_str_eq(tropt_error_message(), want);
    json_decref(d);

    /* a -> b -> a */
    json_t *a = json_array(), *b = json_object();
    json_array_append(a, b);
    json_object_set(b, "back", a);
    d = json_object();
    json_object_set(d, "x", a);
    ck_assert_int_eq(tropt_tracker_log(fx.t, d), TROPT_EINVAL);
    ck_assert_str_eq(tropt_error_message(), want);
    tropt_field tf[] = {TROPT_F_JSON("x", a)};
    ck_assert_int_eq(tropt_tracker_log_fields(fx.t, tf, 1), TROPT_EINVAL);
    ck_assert_str_eq(tropt_error_message(), want);
    tf[0].v.json = b;
    ck_assert_int_eq(tropt_tracker_log_fields(fx.t, tf, 1), TROPT_EINVAL);
    ck_assert_str_eq(tropt_error_message(), want);
    /* as config and summary too */
    ck_assert_int_eq(tropt_tracker_finish(fx.t, d), TROPT_EINVAL);
    ck_assert_int_eq(tropt_tracker_is_active(fx.t), 1);
    ck_assert_int_eq(tropt_tracker_finish(fx.t, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(fx.t, d), TROPT_EINVAL);
    tropt_tracker *t2 = NULL;
    ck_assert_int_eq(tropt_tracker_open(&t2, "null", NULL, d), TROPT_EINVAL);
    ck_assert_str_eq(tropt_error_message(), "value of 'experiment_config' is nested more than "
                                            "2048 levels deep, or contains itself");
    ck_assert_ptr_null(t2);
    json_object_del(b, "back"); /* break the cycle so that it can be freed */
    json_decref(a);
    json_decref(b);
    json_decref(d);

    /* the deepest value json_loads accepts as a step is logged */
    size_t depth = 2047;
    char *text = malloc(2 * depth + 16);
    strcpy(text, "{\"x\":");
    memset(text + 5, '[', depth);
    memset(text + 5 + depth, ']', depth);
    strcpy(text + 5 + 2 * depth, "}");
    json_error_t e;
    d = json_loads(text, 0, &e);
    ck_assert_msg(d != NULL, "%s", e.text);
    free(text);
    ck_assert_int_eq(tropt_tracker_init(fx.t, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_log(fx.t, d), TROPT_OK);
    /* one level more, through the API, is not */
    json_t *inner = json_object_get(d, "x");
    for (size_t i = 1; i < depth; i++)
        inner = json_array_get(inner, 0);
    json_array_append_new(inner, json_array());
    json_array_append_new(json_array_get(inner, 0), json_integer(1));
    ck_assert_int_eq(tropt_tracker_log(fx.t, d), TROPT_EINVAL);
    json_decref(d);

    /* a string with a NUL (json_stringn) would be cut at it by every
     * backend: refused, at the top and inside an array */
    const char *nul = "value of 'x' holds a string with a NUL character, which would be cut there";
    d = json_pack("{s:s%}", "x", "nul\0cut", (size_t)7);
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(tropt_tracker_log(fx.t, d), TROPT_EINVAL);
    ck_assert_str_eq(tropt_error_message(), nul);
    json_decref(d);
    d = json_pack("{s:[i,s%]}", "x", 1, "nul\0cut", (size_t)7);
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(tropt_tracker_log(fx.t, d), TROPT_EINVAL);
    ck_assert_str_eq(tropt_error_message(), nul);
    json_decref(d);
    char *rec = rec_text(&fx);
    ck_assert_int_eq(count_prefix(rec, "log "), 1); /* only the accepted step */
    free(rec);
    rec_close(&fx);
}
END_TEST

/* Outstanding bytes of the library's allocations, and their peak. */
static size_t live_bytes, peak_bytes;
static void *peak_malloc(size_t n)
{
    void *p = malloc(n);
    if (p && (live_bytes += malloc_usable_size(p)) > peak_bytes)
        peak_bytes = live_bytes;
    return p;
}
static void peak_free(void *p)
{
    if (p)
        live_bytes -= malloc_usable_size(p);
    free(p);
}
static void *peak_realloc(void *p, size_t n)
{
    size_t old = p ? malloc_usable_size(p) : 0;
    void *q = realloc(p, n);
    if (q) {
        live_bytes = live_bytes - old + malloc_usable_size(q);
        if (live_bytes > peak_bytes)
            peak_bytes = live_bytes;
    }
    return q;
}

/* An object that contains itself is refused before flattening has built
 * prefixes all the way down to the depth cap (quadratic in the depth: it
 * took 68 MB with these keys, and the tracker kept them). */
START_TEST(cyclic_object_refused_in_bounded_memory)
{
    const tropt_allocator counting = {peak_malloc, peak_realloc, peak_free};
    ck_assert_int_eq(tropt_set_allocator(&counting), TROPT_OK);
    tropt_tracker *t = NULL;
    ck_assert_int_eq(tropt_tracker_open(&t, "null", NULL, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    json_t *a = json_object(), *b = json_object();
    json_object_set(a, "a_key_of_thirty_two_bytes_______", b);
    json_object_set(b, "b_key_of_thirty_two_bytes_______", a);
    json_t *d = json_object();
    json_object_set(d, "x", a);
    size_t before = live_bytes;
    peak_bytes = live_bytes;
    ck_assert_int_eq(tropt_tracker_log(t, d), TROPT_EINVAL);
    ck_assert_str_eq(tropt_error_message(),
                     "value of 'x' is nested more than 2048 levels deep, or contains itself");
    ck_assert_msg(peak_bytes - before < (1u << 20), "refusing the cycle took %zu bytes",
                  peak_bytes - before);
    tropt_tracker_free(t);
    ck_assert_int_eq(tropt_set_allocator(NULL), TROPT_OK);
    json_object_del(b, "b_key_of_thirty_two_bytes_______");
    json_decref(a);
    json_decref(b);
    json_decref(d);
}
END_TEST

START_TEST(set_allocator_validates)
{
    tropt_allocator a = {malloc, NULL, free};
    ck_assert_int_eq(tropt_set_allocator(&a), TROPT_EINVAL);
    ck_assert_int_eq(tropt_set_allocator(NULL), TROPT_OK);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fields");
    TCase *tc = tcase_create("fields");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, flattens_every_json_type);
    tcase_add_test(tc, duplicate_keys_after_flattening_rejected);
    tcase_add_test(tc, fields_carry_nan_inf_and_exact_ints);
    tcase_add_test(tc, bad_fields_rejected);
    tcase_add_test(tc, duplicate_check_survives_keys_rewritten_in_place);
    tcase_add_test(tc, threads_log_on_one_tracker_no_step_lost);
    tcase_add_test(tc, log_fields_to_null_allocates_nothing_per_call);
    tcase_add_test(tc, set_allocator_validates);
    tcase_add_test(tc, duplicate_check_agrees_with_naive_check);
    tcase_add_test(tc, deep_and_cyclic_values_refused_before_any_backend);
    tcase_add_test(tc, cyclic_object_refused_in_bounded_memory);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
