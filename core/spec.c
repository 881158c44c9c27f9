/* core/spec.c - the spec string parser.
 *
 *   spec    := backend ( ';' backend )*
 *   backend := name [ ':' option ( ',' option )* ]
 *   name    := [A-Za-z0-9_-]+  |  a path containing '/'
 *   option  := key '=' value
 *   value   := raw text up to ',' or ';'  |  "double-quoted" with \" and \\
 *
 * Blanks around names, keys and raw values are ignored.  Errors name the
 * column (1-based) and what was expected. */
#include <string.h>

#include "internal.h"

typedef struct {
    const char *s;
    size_t i;
} cursor;

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_blank(cursor *c)
{
    while (is_blank(c->s[c->i]))
        c->i++;
}

static int is_key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

int tropt__valid_plugin_name(const char *name)
{
    if (!name || !*name)
        return 0;
    for (const char *p = name; *p; p++)
        if (!is_key_char(*p) && *p != '-')
            return 0;
    return 1;
}

void tropt__spec_clear(tropt__spec *s)
{
    if (!s)
        return;
    for (size_t b = 0; b < s->n; b++) {
        tropt__backend_spec *be = &s->backends[b];
        tropt__free(be->name);
        for (size_t k = 0; k < be->n_opts; k++) {
            tropt__free(be->opts[k].key);
            tropt__free(be->opts[k].value);
        }
        tropt__free(be->opts);
    }
    tropt__free(s->backends);
    s->backends = NULL;
    s->n = 0;
}

/* Trimmed copy of s[a, b). */
static char *trimmed(const char *s, size_t a, size_t b)
{
    while (a < b && is_blank(s[a]))
        a++;
    while (b > a && is_blank(s[b - 1]))
        b--;
    return tropt__strndup(s + a, b - a);
}

static int parse_value(cursor *c, char **out)
{
    skip_blank(c);
    if (c->s[c->i] != '"') {
        size_t a = c->i;
        while (c->s[c->i] && c->s[c->i] != ',' && c->s[c->i] != ';') {
            if (c->s[c->i] == '"')
                return tropt__error(
                    TROPT_EINVAL,
                    "spec: unexpected '\"' at column %zu (quote the whole value: key=\"...\")",
                    c->i + 1);
            c->i++;
        }
        *out = trimmed(c->s, a, c->i);
        return *out ? TROPT_OK : tropt__oom();
    }
    size_t open = c->i++;
    size_t len = 0;
    /* First pass: length and validity. */
    for (size_t j = c->i;; j++) {
        char ch = c->s[j];
        if (ch == '\0')
            return tropt__error(TROPT_EINVAL,
                                "spec: unterminated quoted value starting at column %zu", open + 1);
        if (ch == '"')
            break;
        if (ch == '\\') {
            char nx = c->s[j + 1];
            if (nx != '"' && nx != '\\')
                return tropt__error(
                    TROPT_EINVAL,
                    "spec: invalid escape '\\%c' at column %zu (only \\\" and \\\\ are allowed)",
                    nx ? nx : '0', j + 1);
            j++;
        }
        len++;
    }
    char *v = tropt__malloc(len + 1);
    if (!v)
        return tropt__oom();
    size_t k = 0;
    while (c->s[c->i] != '"') {
        if (c->s[c->i] == '\\')
            c->i++;
        v[k++] = c->s[c->i++];
    }
    v[k] = '\0';
    c->i++; /* closing quote */
    skip_blank(c);
    if (c->s[c->i] && c->s[c->i] != ',' && c->s[c->i] != ';') {
        tropt__free(v);
        return tropt__error(TROPT_EINVAL,
                            "spec: expected ',' or ';' after the quoted value at column %zu",
                            c->i + 1);
    }
    *out = v;
    return TROPT_OK;
}

static int parse_option(cursor *c, tropt__backend_spec *be)
{
    skip_blank(c);
    size_t kpos = c->i;
    while (is_key_char(c->s[c->i]))
        c->i++;
    size_t kend = c->i;
    skip_blank(c);
    if (kend == kpos) {
        char ch = c->s[c->i];
        if (ch == '\0' || ch == ';' || ch == ',')
            return tropt__error(TROPT_EINVAL, "spec: expected an option key=value at column %zu%s",
                                kpos + 1,
                                ch == '\0' || ch == ';' ? " (remove the trailing separator)" : "");
        return tropt__error(
            TROPT_EINVAL,
            "spec: invalid character '%c' in an option key at column %zu (keys are [A-Za-z0-9_]+)",
            ch, c->i + 1);
    }
    if (c->s[c->i] != '=')
        return tropt__error(TROPT_EINVAL,
                            "spec: expected '=' after option key '%.*s' at column %zu",
                            (int)(kend - kpos), c->s + kpos, c->i + 1);
    c->i++;
    for (size_t k = 0; k < be->n_opts; k++)
        if (strlen(be->opts[k].key) == kend - kpos &&
            memcmp(be->opts[k].key, c->s + kpos, kend - kpos) == 0)
            return tropt__error(TROPT_EINVAL, "spec: option '%s' given twice (column %zu)",
                                be->opts[k].key, kpos + 1);
    tropt__kv kv = {0};
    kv.pos = kpos;
    kv.key = tropt__strndup(c->s + kpos, kend - kpos);
    if (!kv.key)
        return tropt__oom();
    int rc = parse_value(c, &kv.value);
    if (rc != TROPT_OK) {
        tropt__free(kv.key);
        return rc;
    }
    size_t cap = be->n_opts; /* grow one by one: specs are tiny */
    tropt__kv *n = tropt__realloc(be->opts, (cap + 1) * sizeof *n);
    if (!n) {
        tropt__free(kv.key);
        tropt__free(kv.value);
        return tropt__oom();
    }
    be->opts = n;
    be->opts[be->n_opts++] = kv;
    return TROPT_OK;
}

static int parse_backend(cursor *c, tropt__backend_spec *be)
{
    skip_blank(c);
    size_t a = c->i;
    while (c->s[c->i] && c->s[c->i] != ':' && c->s[c->i] != ';' && c->s[c->i] != ',')
        c->i++;
    be->pos = a;
    be->name = trimmed(c->s, a, c->i);
    if (!be->name)
        return tropt__oom();
    if (!*be->name)
        return tropt__error(
            TROPT_EINVAL, "spec: expected a plugin name or path at column %zu%s", a + 1,
            c->s[c->i] == '\0' || c->s[c->i] == ';' ? " (empty backend: remove the extra ';')"
                                                    : "");
    if (!strchr(be->name, '/') && !tropt__valid_plugin_name(be->name))
        return tropt__error(
            TROPT_EINVAL,
            "spec: invalid plugin name '%s' at column %zu: a name is [A-Za-z0-9_-]+, "
            "a file path must contain '/'",
            be->name, a + 1);
    if (c->s[c->i] == ',')
        return tropt__error(TROPT_EINVAL,
                            "spec: expected ':' before the options of '%s' at column %zu", be->name,
                            c->i + 1);
    if (c->s[c->i] != ':')
        return TROPT_OK;
    c->i++;
    for (;;) {
        int rc = parse_option(c, be);
        if (rc != TROPT_OK)
            return rc;
        if (c->s[c->i] == ',') {
            c->i++;
            continue;
        }
        return TROPT_OK; /* ';' or end */
    }
}

int tropt__spec_parse(const char *text, tropt__spec *out)
{
    out->backends = NULL;
    out->n = 0;
    if (!text)
        return tropt__error(TROPT_EINVAL, "spec: NULL");
    cursor c = {text, 0};
    skip_blank(&c);
    if (!text[c.i])
        return tropt__error(TROPT_EINVAL,
                            "spec: empty (expected a backend such as 'sqlite' or 'null')");
    for (;;) {
        tropt__backend_spec *nb = tropt__realloc(out->backends, (out->n + 1) * sizeof *nb);
        if (!nb) {
            tropt__spec_clear(out);
            return tropt__oom();
        }
        out->backends = nb;
        memset(&out->backends[out->n], 0, sizeof *nb);
        out->n++;
        int rc = parse_backend(&c, &out->backends[out->n - 1]);
        if (rc != TROPT_OK) {
            tropt__spec_clear(out);
            return rc;
        }
        if (c.s[c.i] == ';') {
            c.i++;
            continue;
        }
        if (c.s[c.i] == '\0')
            return TROPT_OK;
        int col = (int)c.i + 1;
        tropt__spec_clear(out);
        return tropt__error(TROPT_EINVAL, "spec: unexpected '%c' at column %d", text[col - 1], col);
    }
}
