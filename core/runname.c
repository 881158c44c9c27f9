/* core/runname.c - run names (SPEC 14): what a valid name or tag is, the
 * default "<adjective>-<noun>-<n>" names, and $TROPT_RUN_NAME. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tracker_priv.h"

#include <tropt/host.h>

/* 64 each: six bits of the run id choose one. */
static const char *const adjectives[64] = {
    "amber", "brave",  "bright", "calm",   "clever", "cosmic", "crisp",   "dapper",
    "eager", "early",  "fancy",  "fast",   "fierce", "fluent", "fresh",   "gentle",
    "glad",  "golden", "grand",  "happy",  "hardy",  "honest", "jolly",   "keen",
    "kind",  "lively", "lucky",  "mellow", "merry",  "mighty", "misty",   "noble",
    "olive", "pale",   "polar",  "proud",  "quiet",  "quick",  "rapid",   "rare",
    "ready", "royal",  "rustic", "sage",   "shiny",  "silent", "silver",  "sleek",
    "smart", "snowy",  "solar",  "solid",  "spry",   "steady", "stellar", "sunny",
    "swift", "tidy",   "tough",  "vivid",  "warm",   "wild",   "wise",    "witty",
};
static const char *const nouns[64] = {
    "acorn",  "badger", "beacon", "birch",   "breeze", "brook",  "canyon",  "cedar",
    "comet",  "coral",  "crane",  "dawn",    "delta",  "dune",   "eagle",   "ember",
    "falcon", "fern",   "field",  "fjord",   "forest", "fox",    "galaxy",  "glacier",
    "grove",  "harbor", "hawk",   "heron",   "island", "lake",   "lark",    "leaf",
    "lotus",  "maple",  "meadow", "moon",    "moss",   "nebula", "oak",     "ocean",
    "orbit",  "otter",  "owl",    "panda",   "pebble", "pine",   "planet",  "pond",
    "quartz", "raven",  "reef",   "river",   "robin",  "sky",    "sparrow", "spruce",
    "star",   "stone",  "sun",    "thunder", "tiger",  "valley", "wave",    "willow",
};

/* The length of the UTF-8 sequence at s (1..4), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    size_t n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
    if (n == 0 || (s[0] & 0xf8) == 0xf8)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if (n == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0)))
        return 0; /* overlong, or a surrogate */
    if (n == 4 && ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90)))
        return 0;
    return n;
}

/* The first flaw of `name` as a name or tag, or NULL. */
static const char *name_flaw(const char *name, int is_tag)
{
    size_t len = strlen(name);
    if (len == 0 || strspn(name, " ") == len)
        return "is empty";
    if (len > TROPT_MAX_NAME)
        return "is longer than " TROPT__STR(TROPT_MAX_NAME) " bytes";
    if (name[0] == '.')
        return "starts with '.' (names become folder names in file backends)";
    const unsigned char *s = (const unsigned char *)name;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_len(s + i);
        if (n == 0)
            return "is not valid UTF-8";
        if (s[i] < 0x20 || s[i] == 0x7f || (s[i] == 0xc2 && s[i + 1] < 0xa0))
            return "holds a control character";
        if (s[i] == '/')
            return "holds '/' (names become folder names in file backends)";
        if (is_tag && s[i] == ',')
            return "holds ','";
        i += n;
    }
    return NULL;
}

int tropt__name_check(const char *name, const char *what)
{
    if (!name)
        return tropt__error(TROPT_EINVAL, "%s is NULL", what);
    const char *flaw = name_flaw(name, strcmp(what, "tag") == 0);
    if (!flaw)
        return TROPT_OK;
    /* the offending text is not echoed: it may hold the control characters */
    return tropt__error(TROPT_EINVAL,
                        "%s %s: a %s is printable text without '/', control "
                        "characters or a leading '.'",
                        what, flaw, what);
}

/* 48 bits of the run id's random tail (its last 12 hex digits); 0 for an
 * id that is not one. */
static uint64_t id_bits(const char *run_id)
{
    if (!run_id || !tropt__uuid_valid(run_id))
        return 0;
    return strtoull(run_id + 24, NULL, 16);
}

static size_t format_name(char *buf, size_t size, uint64_t bits, int64_t n)
{
    int w = snprintf(buf, size, "%s-%s-%lld", adjectives[bits & 63], nouns[(bits >> 6) & 63],
                     (long long)n);
    return w < 0 ? 0 : (size_t)w;
}

size_t tropt_run_default_name(const char *run_id, char *buf, size_t size)
{
    if (!run_id || !tropt__uuid_valid(run_id)) {
        if (size)
            snprintf(buf, size, "run");
        return 3;
    }
    uint64_t bits = id_bits(run_id);
    return format_name(buf, size, bits, (int64_t)((bits >> 12) % 999 + 1));
}

char *tropt__name_default(const char *run_id, int (*taken)(void *, const char *), void *ud)
{
    uint64_t bits = id_bits(run_id);
    char buf[96];
    int64_t first = (int64_t)((bits >> 12) % 999 + 1); /* tropt_run_default_name's number */
    for (int tries = 0; tries < 100000; tries++) {
        format_name(buf, sizeof buf, bits, first + tries);
        if (!taken || !taken(ud, buf))
            return tropt__strdup(buf);
    }
    /* every nearby number is taken: the id's own digits make it unique */
    snprintf(buf, sizeof buf, "%s-%s-%.8s", adjectives[bits & 63], nouns[(bits >> 6) & 63],
             run_id + 24);
    return tropt__strdup(buf);
}

char *tropt__name_from_env(int *rc)
{
    static atomic_llong used; /* runs this process named from $TROPT_RUN_NAME */
    *rc = TROPT_OK;
    const char *base = getenv("TROPT_RUN_NAME");
    if (!base || !*base)
        return NULL;
    if ((*rc = tropt__name_check(base, "run name")) != TROPT_OK) {
        tropt__error_prefix("TROPT_RUN_NAME");
        return NULL;
    }
    long long k = atomic_fetch_add(&used, 1) + 1;
    size_t len = strlen(base) + 24;
    char *name = tropt__malloc(len);
    if (!name) {
        *rc = tropt__oom();
        return NULL;
    }
    if (k == 1)
        snprintf(name, len, "%s", base);
    else
        snprintf(name, len, "%s-%lld", base, k);
    return name;
}
