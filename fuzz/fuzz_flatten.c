/*
 * fuzz/fuzz_flatten.c - flattening (core/flatten.c): tropt__flat_object on
 * the input parsed with json_loadb, and tropt__flat_fields /
 * tropt__fields_passthrough on the same value held in typed fields.
 *
 * Differential: a naive recursive flattener written here gives the expected
 * leaves (key "a/b", value) in order.  Properties: no crash, leak or
 * undefined behaviour; when the naive keys are unique the core returns
 * exactly those leaves with the right types and values (arrays and empty
 * objects whole, never an object with members); when they are not, it
 * returns TROPT_EINVAL naming a duplicate.  The buffers are reused across
 * calls, as the tracker does.
 *
 * Values only the API can build: the input's first bytes also choose a
 * number of array/object wrappers (up to about twice TROPT_MAX_DEPTH) put
 * around the parsed value, and whether the innermost wrapper holds the
 * outermost (a cycle).  The core must refuse exactly the values nested
 * deeper than TROPT_MAX_DEPTH and every cycle, with TROPT_EINVAL, through
 * log's flattening and through a TROPT_JSON field, and never crash.
 */
#include <math.h>

#include "internal.h"
#include "fuzz_util.h"

typedef struct {
    char *key;
    const json_t *v;
} leaf;

typedef struct {
    leaf *l;
    size_t n, cap;
} leaves;

static void add_leaf(leaves *ls, char *key, const json_t *v)
{
    if (ls->n == ls->cap) {
        ls->cap = ls->cap ? 2 * ls->cap : 16;
        ls->l = realloc(ls->l, ls->cap * sizeof *ls->l);
        if (!ls->l)
            abort();
    }
    ls->l[ls->n].key = key;
    ls->l[ls->n].v = v;
    ls->n++;
}

/* prefix NULL: top level.  A member "" nested under "a" is "a/"; a member
 * "x" of the top-level member "" is "/x". */
static char *join(const char *prefix, const char *name)
{
    size_t a = prefix ? strlen(prefix) : 0, b = strlen(name);
    char *s = malloc(a + b + 2);
    if (!s)
        abort();
    if (prefix) {
        memcpy(s, prefix, a);
        s[a++] = '/';
    }
    memcpy(s + a, name, b + 1);
    return s;
}

static void naive(leaves *ls, const char *prefix, const json_t *obj)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        char *key = join(prefix, k);
        if (json_is_object(v) && json_object_size(v) > 0) {
            naive(ls, key, v);
            free(key);
        } else {
            add_leaf(ls, key, v);
        }
    }
}

static void leaves_free(leaves *ls)
{
    for (size_t i = 0; i < ls->n; i++)
        free(ls->l[i].key);
    free(ls->l);
}

static int has_dup(const leaves *ls)
{
    for (size_t i = 0; i < ls->n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(ls->l[i].key, ls->l[j].key) == 0)
                return 1;
    return 0;
}

static void same_value(const tropt_field *f, const json_t *v, const char *key)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
    case JSON_ARRAY:
        FUZZ_CHECK(f->type == TROPT_JSON && f->v.json == v, "%s: kept whole", key);
        FUZZ_CHECK(!json_is_object(v) || json_object_size(v) == 0, "%s: object with members", key);
        break;
    case JSON_STRING:
        FUZZ_CHECK(f->type == TROPT_STRING && f->v.s == json_string_value(v), "%s: string", key);
        break;
    case JSON_INTEGER:
        FUZZ_CHECK(f->type == TROPT_INT && f->v.i == json_integer_value(v), "%s: int", key);
        break;
    case JSON_REAL:
        FUZZ_CHECK(f->type == TROPT_REAL &&
                       memcmp(&f->v.r, &(double){json_real_value(v)}, sizeof(double)) == 0,
                   "%s: real", key);
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        FUZZ_CHECK(f->type == TROPT_BOOL && f->v.b == json_is_true(v), "%s: bool", key);
        break;
    case JSON_NULL:
        FUZZ_CHECK(f->type == TROPT_NULL, "%s: null", key);
        break;
    }
}

/* Compare the core's result (rc, fl) with the naive leaves. */
static void compare(int rc, const tropt__flat *fl, const leaves *ls, const char *what)
{
    if (has_dup(ls)) {
        FUZZ_CHECK(rc == TROPT_EINVAL, "%s: duplicate keys not refused (rc %d)", what, rc);
        FUZZ_CHECK(strstr(tropt_error_message(), "duplicate key"), "%s: message %s", what,
                   tropt_error_message());
        return;
    }
    FUZZ_CHECK(rc == TROPT_OK, "%s: rc %d (%s)", what, rc, tropt_error_message());
    FUZZ_CHECK(fl->n == ls->n, "%s: %zu fields, expected %zu", what, fl->n, ls->n);
    for (size_t i = 0; i < ls->n; i++) {
        FUZZ_CHECK(strcmp(fl->f[i].key, ls->l[i].key) == 0, "%s: key %zu '%s' != '%s'", what, i,
                   fl->f[i].key, ls->l[i].key);
        same_value(&fl->f[i], ls->l[i].v, ls->l[i].key);
    }
}

/* The deepest level holding a non-empty container (v at `level`), or -1. */
static int deepest(const json_t *v, int level)
{
    int best = -1;
    if (json_is_array(v) && json_array_size(v) > 0) {
        best = level;
        for (size_t i = 0; i < json_array_size(v); i++) {
            int d = deepest(json_array_get(v, i), level + 1);
            best = d > best ? d : best;
        }
    } else if (json_is_object(v) && json_object_size(v) > 0) {
        best = level;
        const char *k;
        json_t *e;
        json_object_foreach((json_t *)v, k, e)
        {
            int d = deepest(e, level + 1);
            best = d > best ? d : best;
        }
    }
    return best;
}

/* root (or null) inside `wrappers` arrays and objects, data[2]'s bits
 * choosing which; the innermost wrapper into *first. */
static json_t *wrap(json_t *root, int wrappers, unsigned char bits, json_t **first)
{
    json_t *v = root ? json_incref(root) : json_null();
    *first = NULL;
    for (int i = 0; i < wrappers; i++) {
        int arr = (bits >> (i % 8)) & 1;
        json_t *w = arr ? json_array() : json_object();
        if (!w)
            abort();
        if (arr)
            json_array_append_new(w, v);
        else
            json_object_set_new(w, "k", v);
        if (!*first)
            *first = w;
        v = w;
    }
    return v;
}

/* The value as a JSON field, passed through or flattened: rc. */
static int flat_field(tropt__flat *fl, json_t *v)
{
    tropt_field f[1] = {TROPT_F_JSON("x", v)};
    int pass = tropt__fields_passthrough(fl, f, 1);
    if (pass == 0)
        return tropt__flat_fields(fl, f, 1);
    return pass == 1 ? TROPT_OK : pass;
}

/* A value built through the jansson API, deeper than the parser allows or
 * holding itself: refused with "levels deep" as a step and as a field. */
static void api_built(tropt__flat *fl, const unsigned char *data, size_t size, json_t *root)
{
    if (size < 4)
        return;
    int wrappers = (data[0] | data[1] << 8) % (2 * TROPT_MAX_DEPTH + 100);
    int cycle = wrappers > 0 && (data[3] & 1);
    json_t *first;
    json_t *v = wrap(root, wrappers, data[2], &first);
    if (cycle) /* jansson refuses a container holding itself directly */
        cycle = (json_is_array(first) ? json_array_append(first, v)
                                      : json_object_set(first, "c", v)) == 0;
    int refuse = cycle || deepest(v, 1) >= TROPT_MAX_DEPTH;
    json_t *step = json_object();
    json_object_set(step, "x", v);
    int rc = tropt__flat_object(fl, step);
    if (refuse)
        FUZZ_CHECK(rc == TROPT_EINVAL && strstr(tropt_error_message(), "levels deep"),
                   "api value of %d wrappers%s: rc %d", wrappers, cycle ? " with a cycle" : "", rc);
    else
        FUZZ_CHECK(rc == TROPT_OK || strstr(tropt_error_message(), "duplicate key"),
                   "api value of %d wrappers: rc %d (%s)", wrappers, rc, tropt_error_message());
    rc = flat_field(fl, v);
    if (refuse)
        FUZZ_CHECK(rc == TROPT_EINVAL && strstr(tropt_error_message(), "levels deep"),
                   "api field of %d wrappers%s: rc %d", wrappers, cycle ? " with a cycle" : "", rc);
    if (cycle) { /* break it so that the value can be freed */
        if (json_is_array(first))
            json_array_remove(first, json_array_size(first) - 1);
        else
            json_object_del(first, "c");
    }
    json_decref(step);
    json_decref(v);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static tropt__flat fl; /* reused across inputs, like the tracker's */
    json_error_t err;
    json_t *root = json_loadb((const char *)data, size, JSON_DECODE_ANY, &err);
    api_built(&fl, data, size, root);
    if (!root)
        return 0;
    if (json_is_object(root)) {
        leaves ls = {0};
        naive(&ls, NULL, root);
        compare(tropt__flat_object(&fl, root), &fl, &ls, "flat_object");
        leaves_free(&ls);
    }

    /* The same value as a TROPT_JSON field next to scalar fields. */
    tropt_field f[3] = {TROPT_F_JSON("root", root), TROPT_F_INT("n", 1), TROPT_F_REAL("nan", NAN)};
    json_t *wrap = json_pack("{s:O, s:i, s:n}", "root", root, "n", 1, "nan");
    leaves ls = {0};
    naive(&ls, NULL, wrap);
    int pass = tropt__fields_passthrough(&fl, f, 3);
    /* Arrays and empty objects are handed over as they are; scalars and
     * objects with members are flattened into typed leaves. */
    int whole = json_is_array(root) || (json_is_object(root) && json_object_size(root) == 0);
    if (whole) {
        FUZZ_CHECK(pass == 1, "passthrough of a whole value: %d", pass);
    } else {
        FUZZ_CHECK(pass == 0, "passthrough of a scalar or an object with members: %d", pass);
        int rc = tropt__flat_fields(&fl, f, 3);
        if (rc == TROPT_OK) {
            /* the last leaf is the NaN real, the naive one holds null */
            FUZZ_CHECK(fl.n == ls.n && fl.f[fl.n - 1].type == TROPT_REAL &&
                           isnan(fl.f[fl.n - 1].v.r),
                       "flat_fields: %zu fields", fl.n);
            ls.n--;
            fl.n--;
            compare(rc, &fl, &ls, "flat_fields");
            ls.n++;
        } else {
            compare(rc, &fl, &ls, "flat_fields");
        }
    }
    leaves_free(&ls);
    json_decref(wrap);
    json_decref(root);
    return 0;
}
