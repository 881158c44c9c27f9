/*
 * fuzz/fuzz_spec.c - the spec parser (core/spec.c, tropt__spec_parse).
 *
 * Properties: no crash, leak or undefined behaviour on any input; a failure
 * is TROPT_EINVAL with a message and leaves the spec empty; a success holds
 * at least one backend, each a valid plugin name or a path containing '/',
 * with unique option keys of [A-Za-z0-9_]+; and printing the parsed spec back
 * in canonical form (every value quoted) parses to the same spec.
 */
#include "internal.h"
#include "fuzz_util.h"

static int key_ok(const char *k)
{
    if (!*k)
        return 0;
    for (; *k; k++)
        if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9') ||
              *k == '_'))
            return 0;
    return 1;
}

/* Canonical text: name:key="value",...;... with " and \ escaped. */
static char *canonical(const tropt__spec *s)
{
    size_t cap = 16;
    for (size_t b = 0; b < s->n; b++) {
        cap += strlen(s->backends[b].name) + 2;
        for (size_t k = 0; k < s->backends[b].n_opts; k++)
            cap +=
                strlen(s->backends[b].opts[k].key) + 2 * strlen(s->backends[b].opts[k].value) + 5;
    }
    char *out = malloc(cap), *o = out;
    if (!out)
        abort();
    for (size_t b = 0; b < s->n; b++) {
        const tropt__backend_spec *be = &s->backends[b];
        if (b)
            *o++ = ';';
        o += sprintf(o, "%s", be->name);
        for (size_t k = 0; k < be->n_opts; k++) {
            *o++ = k ? ',' : ':';
            o += sprintf(o, "%s=\"", be->opts[k].key);
            for (const char *v = be->opts[k].value; *v; v++) {
                if (*v == '"' || *v == '\\')
                    *o++ = '\\';
                *o++ = *v;
            }
            *o++ = '"';
        }
    }
    *o = '\0';
    return out;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    tropt__spec s;
    int rc = tropt__spec_parse(text, &s);
    if (rc != TROPT_OK) {
        FUZZ_CHECK(rc == TROPT_EINVAL, "rc %d", rc);
        FUZZ_CHECK(s.n == 0 && s.backends == NULL, "failed parse left %zu backends", s.n);
        FUZZ_CHECK(*tropt_error_message(), "empty message");
        free(text);
        return 0;
    }
    FUZZ_CHECK(s.n >= 1, "no backend");
    for (size_t b = 0; b < s.n; b++) {
        const tropt__backend_spec *be = &s.backends[b];
        FUZZ_CHECK(be->name && *be->name, "empty name");
        FUZZ_CHECK(strchr(be->name, '/') || tropt__valid_plugin_name(be->name), "name '%s'",
                   be->name);
        FUZZ_CHECK(!strpbrk(be->name, ":;,"), "name '%s' holds a separator", be->name);
        FUZZ_CHECK(be->pos < size, "name position %zu", be->pos);
        for (size_t k = 0; k < be->n_opts; k++) {
            FUZZ_CHECK(key_ok(be->opts[k].key), "key '%s'", be->opts[k].key);
            FUZZ_CHECK(be->opts[k].value != NULL, "NULL value");
            for (size_t j = 0; j < k; j++)
                FUZZ_CHECK(strcmp(be->opts[j].key, be->opts[k].key) != 0, "duplicate key '%s'",
                           be->opts[k].key);
        }
    }
    char *canon = canonical(&s);
    tropt__spec s2;
    rc = tropt__spec_parse(canon, &s2);
    FUZZ_CHECK(rc == TROPT_OK, "canonical form '%s' does not parse: %s", canon,
               tropt_error_message());
    FUZZ_CHECK(s2.n == s.n, "backend count %zu != %zu", s2.n, s.n);
    for (size_t b = 0; b < s.n; b++) {
        FUZZ_CHECK(strcmp(s.backends[b].name, s2.backends[b].name) == 0, "name '%s' != '%s'",
                   s.backends[b].name, s2.backends[b].name);
        FUZZ_CHECK(s.backends[b].n_opts == s2.backends[b].n_opts, "option count");
        for (size_t k = 0; k < s.backends[b].n_opts; k++) {
            FUZZ_CHECK(strcmp(s.backends[b].opts[k].key, s2.backends[b].opts[k].key) == 0, "key");
            FUZZ_CHECK(strcmp(s.backends[b].opts[k].value, s2.backends[b].opts[k].value) == 0,
                       "value '%s' != '%s'", s.backends[b].opts[k].value,
                       s2.backends[b].opts[k].value);
        }
    }
    tropt__spec_clear(&s2);
    tropt__spec_clear(&s);
    free(canon);
    free(text);
    return 0;
}
