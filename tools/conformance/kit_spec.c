/*
 * tools/conformance/kit_spec.c - the plugin under test and its options:
 * read from "PLUGIN[:K=V,...]" and further "K=V" words, given the kit's
 * own values for secret options, and written back as a spec, for opening
 * or (secrets masked) for showing.
 *
 * The grammar is the spec string's (SPEC 4) for one backend: values are
 * raw text up to ',' or ';' (blanks around them ignored) or double-quoted
 * with \" and \\ escapes.  The library parses the result again, so what
 * this file lets through that the library would refuse is still refused.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kit.h"

static char *copy_n(const char *s, size_t n)
{
    char *c = malloc(n + 1);
    if (c) {
        memcpy(c, s, n);
        c[n] = '\0';
    }
    return c;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Append K=V (copied; blanks around the key trimmed).  0, or 1 (memory). */
static int add_opt(kit_spec *s, const char *key, size_t klen, char *value)
{
    while (klen && is_blank(*key))
        key++, klen--;
    while (klen && is_blank(key[klen - 1]))
        klen--;
    kit_opt *n = value ? realloc(s->opts, (s->n_opts + 1) * sizeof *n) : NULL;
    char *k = n ? copy_n(key, klen) : NULL;
    if (n)
        s->opts = n;
    if (!k) {
        free(value);
        return 1;
    }
    s->opts[s->n_opts++] = (kit_opt){.key = k, .value = value};
    return 0;
}

/* A quoted value at *p (on the opening quote): the unescaped text, *p past
 * the closing quote; NULL with *bad set when it is unterminated or holds
 * an escape other than \" and \\. */
static char *quoted(const char **p, int *bad)
{
    const char *q = *p + 1;
    char *v = malloc(strlen(q) + 1);
    size_t n = 0;
    while (v && *q && *q != '"' && !*bad) {
        if (*q == '\\' && q[1] != '"' && q[1] != '\\')
            *bad = 1;
        q += *q == '\\';
        v[n++] = *q++;
    }
    if (v && (*bad || *q != '"')) {
        free(v);
        *bad = 1;
        return NULL;
    }
    if (v) {
        v[n] = '\0';
        *p = q + 1;
    }
    return v;
}

/* A raw value at *p: trimmed, up to ',' or ';'; NULL with *bad set when it
 * holds a '"' (quote the whole value). */
static char *raw(const char **p, int *bad)
{
    const char *a = *p, *b = a + strcspn(a, ",;");
    *p = b;
    if (memchr(a, '"', (size_t)(b - a))) {
        *bad = 1;
        return NULL;
    }
    while (a < b && is_blank(*a))
        a++;
    while (b > a && is_blank(b[-1]))
        b--;
    return copy_n(a, (size_t)(b - a));
}

/* One "K=V" at *p (the options start at base): added, *p past it and its
 * separator.  0, 1 (memory) or 2 (malformed, said). */
static int parse_opt(kit_spec *s, const char **p, const char *base)
{
    const char *k = *p, *eq = strchr(k, '=');
    size_t klen = eq ? (size_t)(eq - k) : 0;
    if (klen == 0 || memchr(k, ',', klen) || memchr(k, ';', klen)) {
        fprintf(stderr, "tropt: expected KEY=VALUE at column %zu of the options\n",
                (size_t)(k - base) + 1);
        return 2;
    }
    const char *v = eq + 1;
    while (is_blank(*v))
        v++;
    int bad = 0;
    char *value = *v == '"' ? quoted(&v, &bad) : raw(&v, &bad);
    while (is_blank(*v))
        v++;
    if (bad || (*v && *v != ',' && *v != ';')) {
        fprintf(stderr,
                "tropt: option '%.*s': a value is raw text without '\"', or quoted "
                "whole with only \\\" and \\\\ escapes\n",
                (int)klen, k);
        free(value);
        return 2;
    }
    if (*v == ';') {
        free(value);
        fprintf(stderr, "tropt: conformance checks one plugin: the spec names several "
                        "backends (';')\n");
        return 2;
    }
    *p = *v ? v + 1 : v;
    return add_opt(s, k, klen, value);
}

/* s->plugin from the text before ':'; a relative path made absolute (the
 * promises run in folders of their own).  0, 1 or 2. */
static int set_plugin(kit_spec *s, const char *text, size_t n)
{
    const char *start = text;
    while (n > 2 && strncmp(text, "./", 2) == 0)
        text += 2, n -= 2;
    if (n == 0 || memchr(text, ';', n) || memchr(text, ',', n)) {
        fprintf(stderr, "tropt: conformance checks one plugin: a name or a path to a .so, "
                        "then its options\n");
        return 2;
    }
    char cwd[4096] = "";
    int rel = text[0] != '/' && (memchr(text, '/', n) || text != start);
    if (rel && !getcwd(cwd, sizeof cwd)) {
        fprintf(stderr, "tropt: cannot tell the working folder: %s\n", strerror(errno));
        return 1;
    }
    size_t c = strlen(cwd);
    s->plugin = malloc(c + 1 + n + 1);
    if (!s->plugin)
        return 1;
    snprintf(s->plugin, c + 1 + n + 1, "%s%s%.*s", cwd, rel ? "/" : "", (int)n, text);
    return 0;
}

int kit_spec_parse(kit_spec *s, const char *first, const char *const *more, size_t n_more)
{
    memset(s, 0, sizeof *s);
    const char *colon = strchr(first, ':');
    size_t n = colon ? (size_t)(colon - first) : strlen(first);
    int rc = set_plugin(s, first, n);
    for (const char *p = colon ? colon + 1 : ""; *p && !rc;)
        rc = parse_opt(s, &p, colon + 1);
    for (size_t i = 0; i < n_more && !rc; i++) {
        const char *eq = strchr(more[i], '=');
        if (!eq || eq == more[i]) {
            fprintf(stderr, "tropt: options are KEY=VALUE, not '%s'\n", more[i]);
            rc = 2;
        } else {
            char *value = copy_n(eq + 1, strlen(eq + 1));
            rc = add_opt(s, more[i], (size_t)(eq - more[i]), value);
        }
    }
    if (rc == 1)
        fprintf(stderr, "tropt: out of memory\n");
    if (rc)
        kit_spec_clear(s);
    return rc;
}

static const tropt_option_def *declared(const tropt_plugin *table, const char *key)
{
    for (const tropt_option_def *d = table ? table->options : NULL; d && d->name; d++)
        if (strcmp(d->name, key) == 0)
            return d;
    return NULL;
}

static int given(const kit_spec *s, const char *key)
{
    for (size_t i = 0; i < s->n_opts; i++)
        if (strcmp(s->opts[i].key, key) == 0)
            return 1;
    return 0;
}

/* "tropt-kit-secret-" and 16 hex digits, new for each run of the kit. */
static char *invent(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15u ^ (uint64_t)ts.tv_sec << 20 ^
                 (uint64_t)getpid() << 40;
    char *v = malloc(40);
    if (v)
        snprintf(v, 40, "tropt-kit-secret-%016llx", (unsigned long long)x);
    return v;
}

int kit_spec_secrets(kit_spec *s, const tropt_plugin *table)
{
    s->table_known = table != NULL;
    for (size_t i = 0; i < s->n_opts; i++) {
        const tropt_option_def *d = declared(table, s->opts[i].key);
        s->opts[i].secret = d && (d->flags & TROPT_OPT_SECRET);
    }
    for (const tropt_option_def *d = table ? table->options : NULL; d && d->name; d++) {
        if (!(d->flags & TROPT_OPT_SECRET) || d->type != TROPT_OPT_STRING || given(s, d->name))
            continue;
        if (add_opt(s, d->name, strlen(d->name), invent()))
            return 1;
        s->opts[s->n_opts - 1].secret = 1;
        s->opts[s->n_opts - 1].invented = 1;
    }
    return 0;
}

void kit_spec_drop_invented(kit_spec *s)
{
    size_t k = 0;
    for (size_t i = 0; i < s->n_opts; i++) {
        if (s->opts[i].invented) {
            free(s->opts[i].key);
            free(s->opts[i].value);
        } else {
            s->opts[k++] = s->opts[i];
        }
    }
    s->n_opts = k;
}

/* Append to the growing string *buf (length *len); 0 or 1 (memory). */
static int append(char **buf, size_t *len, const char *text, size_t n)
{
    char *b = realloc(*buf, *len + n + 1);
    if (!b)
        return 1;
    memcpy(b + *len, text, n);
    *len += n;
    b[*len] = '\0';
    *buf = b;
    return 0;
}

/* A value as the spec grammar reads it back: quoted when it must be. */
static int append_value(char **buf, size_t *len, const char *v)
{
    size_t n = strlen(v);
    int quote = n && (strpbrk(v, ",;\"\\") || is_blank(v[0]) || is_blank(v[n - 1]));
    int rc = quote ? append(buf, len, "\"", 1) : 0;
    for (const char *p = v; quote && *p && !rc; p++)
        rc = (*p == '"' || *p == '\\' ? append(buf, len, "\\", 1) : 0) || append(buf, len, p, 1);
    if (!quote)
        return append(buf, len, v, n);
    return rc || append(buf, len, "\"", 1);
}

static int append_opt(char **buf, size_t *len, const kit_spec *s, const kit_opt *o, int shown)
{
    int rc = append(buf, len, *len > strlen(s->plugin) ? "," : ":", 1);
    rc = rc || append(buf, len, o->key, strlen(o->key)) || append(buf, len, "=", 1);
    if (shown && (o->secret || !s->table_known))
        return rc || append(buf, len, o->secret ? "<secret>" : "<hidden>", 8);
    return rc || append_value(buf, len, o->value);
}

char *kit_spec_string(const kit_spec *s, int shown)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = append(&buf, &len, s->plugin, strlen(s->plugin));
    for (size_t i = 0; i < s->n_opts && !rc; i++)
        if (!(shown && s->opts[i].invented))
            rc = append_opt(&buf, &len, s, &s->opts[i], shown);
    if (rc) {
        free(buf);
        return NULL;
    }
    return buf;
}

void kit_spec_clear(kit_spec *s)
{
    for (size_t i = 0; i < s->n_opts; i++) {
        free(s->opts[i].key);
        free(s->opts[i].value);
    }
    free(s->opts);
    free(s->plugin);
    memset(s, 0, sizeof *s);
}
