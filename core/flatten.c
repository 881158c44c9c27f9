/* core/flatten.c - turning a step (a JSON object or typed fields) into the
 * flat, typed fields every backend receives.  Done once per call, here, for
 * all backends: nested objects become "a/b" keys, arrays and empty objects
 * stay whole (TROPT_JSON), scalars keep their type.  Keys must be unique.
 *
 * The buffers live in the tracker and are reused, so a steady stream of
 * steps of the same shape allocates nothing. */
#include <string.h>

#include "internal.h"

void tropt__flat_reset(tropt__flat *fl)
{
    fl->n = 0;
    fl->klen = 0;
}

void tropt__flat_free(tropt__flat *fl)
{
    tropt__free(fl->f);
    tropt__free(fl->keys);
    tropt__free(fl->slots);
    memset(fl, 0, sizeof *fl);
}

/* Keys composed in the arena are recorded as offsets while the arena may
 * still move, and turned into pointers at the end.  A composed key's
 * `key` holds (offset + 1) and its type has this bit set meanwhile. */
#define ARENA_KEY 0x100

static int push(tropt__flat *fl, tropt_field f)
{
    if (fl->n == fl->cap) {
        int rc = tropt__grow((void **)&fl->f, &fl->cap, fl->n + 1, sizeof *fl->f);
        if (rc)
            return rc;
    }
    fl->f[fl->n++] = f;
    return TROPT_OK;
}

static int arena_append(tropt__flat *fl, const char *s, size_t len)
{
    if (fl->klen + len + 1 > fl->kcap) {
        int rc = tropt__grow((void **)&fl->keys, &fl->kcap, fl->klen + len + 1, 1);
        if (rc)
            return rc;
    }
    memcpy(fl->keys + fl->klen, s, len);
    fl->klen += len;
    return TROPT_OK;
}

/* Append a copy of the arena's own range [start, start+len): grow first,
 * since growing may move the arena. */
static int arena_copy_range(tropt__flat *fl, size_t start, size_t len)
{
    if (fl->klen + len + 1 > fl->kcap) {
        int rc = tropt__grow((void **)&fl->keys, &fl->kcap, fl->klen + len + 1, 1);
        if (rc)
            return rc;
    }
    memmove(fl->keys + fl->klen, fl->keys + start, len);
    fl->klen += len;
    return TROPT_OK;
}

/* Push a leaf whose key is prefix (arena [pstart, pstart+plen)) + name. */
static int push_leaf(tropt__flat *fl, size_t pstart, size_t plen, const char *name, tropt_field f)
{
    if (plen == 0) {
        f.key = name;
        return push(fl, f);
    }
    size_t off = fl->klen;
    int rc = arena_copy_range(fl, pstart, plen);
    if (rc)
        return rc;
    rc = arena_append(fl, name, strlen(name) + 1); /* with its NUL */
    if (rc)
        return rc;
    f.key = (const char *)(uintptr_t)(off + 1);
    f.type = (tropt_type)(f.type | ARENA_KEY);
    return push(fl, f);
}

static int too_deep(const char *name)
{
    return tropt__error(TROPT_EINVAL,
                        "value of '%s' is nested more than %d levels deep, or contains itself",
                        name, TROPT_MAX_DEPTH);
}

static int has_nul(const json_t *v)
{
    return strlen(json_string_value(v)) != json_string_length(v);
}

static int nul_in_string(const char *name)
{
    return tropt__error(TROPT_EINVAL,
                        "value of '%s' holds a string with a NUL character, which would be "
                        "cut there",
                        name);
}

/* Check that v, found at nesting level `depth` (a step's own members are at
 * level 1), goes no deeper than TROPT_MAX_DEPTH.  A value that contains
 * itself (jansson lets the API build one) is infinitely deep, so this also
 * stops cycles, before any encoder or json_deep_copy recurses into them.
 * The recursion is bounded by the cap.  Strings holding a NUL (jansson's
 * json_stringn can make one) are refused too: every backend reads C
 * strings. */
static int check_depth(const json_t *v, int depth, const char *name)
{
    if (json_is_array(v)) {
        if (depth >= TROPT_MAX_DEPTH && json_array_size(v) > 0)
            return too_deep(name);
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            if ((json_is_array(e) || json_is_object(e)) && check_depth(e, depth + 1, name))
                return TROPT_EINVAL;
            if (json_is_string(e) && has_nul(e))
                return nul_in_string(name);
        }
    } else if (json_is_object(v)) {
        if (depth >= TROPT_MAX_DEPTH && json_object_size(v) > 0)
            return too_deep(name);
        const char *k;
        json_t *e;
        json_object_foreach((json_t *)v, k, e)
        {
            if ((json_is_array(e) || json_is_object(e)) && check_depth(e, depth + 1, name))
                return TROPT_EINVAL;
            if (json_is_string(e) && has_nul(e))
                return nul_in_string(name);
        }
    }
    return TROPT_OK;
}

int tropt__json_check_depth(const json_t *v, const char *what)
{
    return check_depth(v, 0, what);
}

/* The nesting level of an object at which flattening first makes sure that
 * the rest of the value is finite (see flatten_value). */
enum { DEEP_CHECK_AT = 32 };

/* `top` is the step's own key the value hangs under: errors name it. */
static int flatten_value(tropt__flat *fl, size_t pstart, size_t plen, const char *name,
                         const json_t *v, int depth, const char *top);

static int flatten_members(tropt__flat *fl, size_t pstart, size_t plen, const json_t *obj,
                           int depth, const char *top)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        int rc = flatten_value(fl, pstart, plen, k, v, depth, top ? top : k);
        if (rc)
            return rc;
    }
    return TROPT_OK;
}

static int flatten_value(tropt__flat *fl, size_t pstart, size_t plen, const char *name,
                         const json_t *v, int depth, const char *top)
{
    tropt_field f = {0};
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        if (json_object_size(v) > 0) {
            if (depth >= TROPT_MAX_DEPTH)
                return too_deep(top);
            /* Each level copies its prefix, so going down to the cap costs
             * memory quadratic in the depth (68 MB for a two-object cycle
             * with 32-byte keys, kept by the tracker).  Real steps are
             * never this deep: once, at this level, the rest is walked
             * without allocating, and a cycle is refused here. */
            if (depth == DEEP_CHECK_AT) {
                int rc = check_depth(v, depth, top);
                if (rc)
                    return rc;
            }
            /* New prefix = old prefix + name + "/", built at the arena's end. */
            size_t start = fl->klen;
            int rc = arena_copy_range(fl, pstart, plen);
            if (!rc)
                rc = arena_append(fl, name, strlen(name));
            if (!rc)
                rc = arena_append(fl, "/", 1);
            if (rc)
                return rc;
            return flatten_members(fl, start, fl->klen - start, v, depth + 1, top);
        }
        f.type = TROPT_JSON;
        f.v.json = v;
        break;
    case JSON_ARRAY: {
        int rc = check_depth(v, depth, top);
        if (rc)
            return rc;
        f.type = TROPT_JSON;
        f.v.json = v;
        break;
    }
    case JSON_STRING:
        if (has_nul(v))
            return nul_in_string(top);
        f.type = TROPT_STRING;
        f.v.s = json_string_value(v);
        break;
    case JSON_INTEGER:
        f.type = TROPT_INT;
        f.v.i = (int64_t)json_integer_value(v);
        break;
    case JSON_REAL:
        f.type = TROPT_REAL;
        f.v.r = json_real_value(v);
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        f.type = TROPT_BOOL;
        f.v.b = json_is_true(v);
        break;
    case JSON_NULL:
        f.type = TROPT_NULL;
        break;
    }
    return push_leaf(fl, pstart, plen, name, f);
}

/* The hash for the duplicate-key check.  Any function of a key's bytes
 * would be correct (equal keys always collide, a collision costs one
 * strcmp), but the check is linear only if distinct keys rarely collide,
 * for every family of names people log: per-layer names such as
 * "layers.17.attention.grad_norm" differ in a few middle bytes only.  So
 * every byte counts: a key of up to 16 bytes is read as two possibly
 * overlapping words at its ends (the branch-light small-copy trick), a
 * longer one word by word, its last word overlapping the one before. */
static inline uint64_t mix(uint64_t h, uint64_t w)
{
    h ^= w * 0x9E3779B97F4A7C15u;
    h = (h << 27 | h >> 37) * 0xff51afd7ed558ccdu;
    return h;
}

static inline uint64_t key_sig(const char *s)
{
    size_t n = strlen(s);
    uint64_t a = 0, b = 0;
    if (n > 16) {
        uint64_t h = n, w;
        size_t i = 0;
        for (; i + 8 < n; i += 8) {
            memcpy(&w, s + i, 8);
            h = mix(h, w);
        }
        memcpy(&w, s + n - 8, 8);
        h = mix(h, w);
        return h ^ (h >> 29);
    }
    if (n >= 8) {
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
    } else if (n >= 4) {
        uint32_t x, y;
        memcpy(&x, s, 4);
        memcpy(&y, s + n - 4, 4);
        a = x;
        b = y;
    } else if (n > 0) {
        a = (uint64_t)(unsigned char)s[0] | (uint64_t)(unsigned char)s[n / 2] << 8 |
            (uint64_t)(unsigned char)s[n - 1] << 16;
    }
    uint64_t h = (a ^ (b * 0x9E3779B97F4A7C15u) ^ n) * 0xff51afd7ed558ccdu;
    return h ^ (h >> 32);
}

static int duplicate(const char *key)
{
    return tropt__error(TROPT_EINVAL, "duplicate key '%s' in one step", key);
}

/* TROPT_EINVAL naming the first duplicate key of f[0..n).  Open addressing
 * over the signatures; a small step uses the tracker's fixed table, whose
 * slots are stamped with a generation so that nothing is cleared per call. */
static int check_unique(tropt__flat *fl, const tropt_field *f, size_t n)
{
    if (n <= 1)
        return TROPT_OK;
    if (n <= TROPT__SMALL_KEYS) {
        uint64_t sig[TROPT__SMALL_KEYS];
        /* Equal keys have equal signatures, so keys whose signatures are
         * pairwise distinct are unique.  The last step's were (last_n says
         * so); if this step's are the same in the same order, so are these,
         * whatever the keys' bytes or addresses: no probe needed. */
        int same = n == fl->last_n;
        for (size_t i = 0; i < n; i++) {
            sig[i] = key_sig(f[i].key);
            same &= sig[i] == fl->last_sig[i];
        }
        if (same)
            return TROPT_OK;
        fl->last_n = 0;
        uint32_t gen = ++fl->gen;
        if (gen == 0) { /* wrapped: forget every stamp */
            memset(fl->small, 0, sizeof fl->small);
            gen = fl->gen = 1;
        }
        const size_t mask = 2 * TROPT__SMALL_KEYS - 1;
        int distinct = 1;
        for (size_t i = 0; i < n; i++) {
            size_t pos = (size_t)sig[i] & mask;
            while (fl->small[pos].gen == gen) {
                uint32_t j = fl->small[pos].idx;
                if (sig[j] == sig[i]) {
                    if (strcmp(f[j].key, f[i].key) == 0)
                        return duplicate(f[i].key);
                    distinct = 0;
                }
                pos = (pos + 1) & mask;
            }
            fl->small[pos].gen = gen;
            fl->small[pos].idx = (uint32_t)i;
        }
        if (distinct) {
            memcpy(fl->last_sig, sig, n * sizeof *sig);
            fl->last_n = n;
        }
        return TROPT_OK;
    }
    size_t need = 4 * TROPT__SMALL_KEYS;
    while (need < 2 * n)
        need *= 2;
    if (need > fl->nslots) {
        uint64_t *ns = tropt__realloc(fl->slots, need * sizeof *ns);
        if (!ns)
            return tropt__oom();
        fl->slots = ns;
        fl->nslots = need;
    }
    memset(fl->slots, 0, need * sizeof *fl->slots);
    /* A slot holds the signature's high half and the index + 1: keys whose
     * signatures differ are told apart without reading them. */
    size_t mask = need - 1;
    for (size_t i = 0; i < n; i++) {
        uint64_t sig = key_sig(f[i].key);
        uint64_t hi = sig & 0xffffffff00000000u;
        size_t h = (size_t)sig & mask;
        while (fl->slots[h]) {
            uint64_t slot = fl->slots[h];
            if ((slot & 0xffffffff00000000u) == hi &&
                strcmp(f[(uint32_t)slot - 1].key, f[i].key) == 0)
                return duplicate(f[i].key);
            h = (h + 1) & mask;
        }
        fl->slots[h] = hi | (uint32_t)(i + 1);
    }
    return TROPT_OK;
}

/* Resolve arena keys; then check uniqueness, which only a composed key can
 * break: the members of one JSON object are unique, but a composed "a/b" may
 * meet a literal "a/b" (or another composed one, from a typed field). */
static int finish_flat(tropt__flat *fl, int may_collide)
{
    int composed = 0;
    for (size_t i = 0; i < fl->n; i++) {
        if (fl->f[i].type & ARENA_KEY) {
            fl->f[i].type = (tropt_type)(fl->f[i].type & ~ARENA_KEY);
            fl->f[i].key = fl->keys + ((uintptr_t)fl->f[i].key - 1);
            composed = 1;
        }
    }
    return composed || may_collide ? check_unique(fl, fl->f, fl->n) : TROPT_OK;
}

int tropt__flat_object(tropt__flat *fl, const json_t *obj)
{
    tropt__flat_reset(fl);
    int rc = flatten_members(fl, 0, 0, obj, 1, NULL);
    return rc ? rc : finish_flat(fl, 0);
}

static int check_field(const tropt_field *f, size_t i)
{
    if (!f->key)
        return tropt__error(TROPT_EINVAL, "field %zu has a NULL key", i);
    switch (f->type) {
    case TROPT_NULL:
    case TROPT_BOOL:
    case TROPT_INT:
    case TROPT_REAL:
        return TROPT_OK;
    case TROPT_STRING:
        if (!f->v.s)
            return tropt__error(TROPT_EINVAL, "field '%s' is a TROPT_STRING with a NULL string",
                                f->key);
        return TROPT_OK;
    case TROPT_JSON:
        if (!f->v.json)
            return tropt__error(TROPT_EINVAL, "field '%s' is a TROPT_JSON with a NULL value",
                                f->key);
        return TROPT_OK;
    }
    return tropt__error(TROPT_EINVAL, "field '%s' has an unknown type %d", f->key, (int)f->type);
}

int tropt__fields_passthrough(tropt__flat *fl, const tropt_field *fields, size_t n)
{
    int arrays = 0;
    for (size_t i = 0; i < n; i++) {
        const tropt_field *f = &fields[i];
        /* the common scalar case in one test; the rest in check_field */
        if (f->key && (unsigned)f->type <= TROPT_REAL)
            continue;
        int rc = check_field(f, i);
        if (rc)
            return rc;
        if (f->type == TROPT_JSON) {
            if (json_is_array(f->v.json))
                arrays = 1;
            else if (!(json_is_object(f->v.json) && json_object_size(f->v.json) == 0))
                return 0; /* to be flattened, which checks every field itself */
        }
    }
    for (size_t i = 0; arrays && i < n; i++) {
        const tropt_field *f = &fields[i];
        if (f->type == TROPT_JSON && json_is_array(f->v.json)) {
            int rc = check_depth(f->v.json, 1, f->key);
            if (rc)
                return rc;
        }
    }
    int rc = check_unique(fl, fields, n);
    return rc ? rc : 1;
}

int tropt__flat_fields(tropt__flat *fl, const tropt_field *fields, size_t n)
{
    tropt__flat_reset(fl);
    for (size_t i = 0; i < n; i++) {
        int rc = check_field(&fields[i], i);
        if (rc)
            return rc;
        if (fields[i].type == TROPT_JSON) {
            rc = flatten_value(fl, 0, 0, fields[i].key, fields[i].v.json, 1, fields[i].key);
        } else {
            rc = push(fl, fields[i]);
        }
        if (rc)
            return rc;
    }
    return finish_flat(fl, 1);
}
