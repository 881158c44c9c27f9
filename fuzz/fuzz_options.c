/*
 * fuzz/fuzz_options.c - option validation (core/options.c,
 * tropt__options_validate) against a declared table holding every option
 * type, with ranges, a secret and (in a second table) a required option.
 *
 * Input: the first byte picks the table; the rest is "key=value" lines.
 * Properties: no crash, leak or undefined behaviour; a failure is
 * TROPT_EINVAL with a message that never contains the secret option's value;
 * a success yields one value per declared option where every given option
 * keeps its text, BOOL is 0/1, ENUM indexes its choices, ranges hold,
 * durations are non-negative, and on_error lands in warn_only.
 */
#include <math.h>

#include "internal.h"
#include "fuzz_util.h"

static const char *const colours[] = {"red", "green", "blue", NULL};

#define COMMON_OPTIONS                                                                             \
    {"s", TROPT_OPT_STRING, 0, "dflt", NULL, 0, 0, "a string"},                                    \
        {"p", TROPT_OPT_PATH, 0, NULL, NULL, 0, 0, "a path"},                                      \
        {"i", TROPT_OPT_INT, 0, "7", NULL, 0, 0, "an int"},                                        \
        {"ir", TROPT_OPT_INT, TROPT_OPT_HAS_RANGE, "0", NULL, -5, 5, "an int in [-5, 5]"},         \
        {"d", TROPT_OPT_DOUBLE, 0, "0.5", NULL, 0, 0, "a double"},                                 \
        {"dr", TROPT_OPT_DOUBLE, TROPT_OPT_HAS_RANGE, "1", NULL, 0.5, 2.5, "a double in range"},   \
        {"b", TROPT_OPT_BOOL, 0, "no", NULL, 0, 0, "a bool"},                                      \
        {"t", TROPT_OPT_DURATION, 0, "1s", NULL, 0, 0, "a duration"},                              \
        {"tr", TROPT_OPT_DURATION, TROPT_OPT_HAS_RANGE, "10ms", NULL, 1, 60000, "<= 1m"},          \
        {"e", TROPT_OPT_ENUM, 0, "green", colours, 0, 0, "an enum"},                               \
    {                                                                                              \
        "secret", TROPT_OPT_STRING, TROPT_OPT_SECRET, NULL, NULL, 0, 0, "a secret"                 \
    }

static const tropt_option_def table_all[] = {
    COMMON_OPTIONS,
    {"si", TROPT_OPT_INT, TROPT_OPT_SECRET | TROPT_OPT_HAS_RANGE, "3", NULL, 0, 9, "secret int"},
    {NULL, 0, 0, NULL, NULL, 0, 0, NULL},
};
static const tropt_option_def table_req[] = {
    COMMON_OPTIONS,
    {"must", TROPT_OPT_INT, TROPT_OPT_REQUIRED, NULL, NULL, 0, 0, "required"},
    {NULL, 0, 0, NULL, NULL, 0, 0, NULL},
};

static tropt_plugin make_plugin(const tropt_option_def *opts)
{
    tropt_plugin p = {0};
    p.abi_version = TROPT_PLUGIN_ABI_VERSION;
    p.struct_size = sizeof p;
    p.name = "fuzzplug";
    p.options = opts;
    return p;
}

/* Every text the table itself could put into a message, with the names of
 * the host's own options (core/hostopts.c), which a message about an unknown
 * option lists beside the table's. */
static int in_table_text(const tropt_option_def *opts, const char *needle)
{
    if (strstr("fuzzplug", needle))
        return 1;
    for (size_t i = 0; i < TROPT__N_HOST_OPTS; i++)
        if (strstr(tropt__host_option_names[i], needle))
            return 1;
    for (size_t i = 0; opts[i].name; i++) {
        if (strstr(opts[i].name, needle) || (opts[i].help && strstr(opts[i].help, needle)) ||
            (opts[i].default_value && strstr(opts[i].default_value, needle)))
            return 1;
        for (size_t c = 0; opts[i].choices && opts[i].choices[c]; c++)
            if (strstr(opts[i].choices[c], needle))
                return 1;
    }
    return 0;
}

/* Words of the messages of core/options.c and core/hostopts.c (with the
 * host options' values: on_error's fail|warn, resume's modes, sys's off). */
static const char message_words[] =
    "option unknown valid options expected required secret value not shown non empty path "
    "64 bit integer finite number true false duration such as 250ms 2s 1m no unit ms one of "
    "out of range host options fail warn never allow must off longer than bytes holds a "
    "control character system metrics interval what init does with resume_key";

#define MAX_KV 24

/* The two tables are valid declarations (checked once). */
static void check_decls_once(void)
{
    static int checked;
    if (checked)
        return;
    tropt_plugin a = make_plugin(table_all), r = make_plugin(table_req);
    FUZZ_CHECK(tropt__options_check_decl(&a, "t") == TROPT_OK, "decl: %s", tropt_error_message());
    FUZZ_CHECK(tropt__options_check_decl(&r, "t") == TROPT_OK, "decl: %s", tropt_error_message());
    checked = 1;
}

/* "key=value" lines of text (cut in place) into kv, the first of each key
 * only: the spec parser refuses duplicates before validation. */
static size_t parse_lines(char *text, tropt__kv *kv)
{
    size_t n = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line && n < MAX_KV;
         line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        int dup = 0;
        for (size_t j = 0; j < n; j++)
            dup |= strcmp(kv[j].key, line) == 0;
        if (dup)
            continue;
        kv[n] = (tropt__kv){.key = line, .value = eq + 1, .pos = 0};
        n++;
    }
    return n;
}

/* The declaration of option `key`, or NULL. */
static const tropt_option_def *find_def(const tropt_option_def *opts, const char *key)
{
    for (size_t d = 0; opts[d].name; d++)
        if (strcmp(opts[d].name, key) == 0)
            return &opts[d];
    return NULL;
}

/* Only a distinctive value can be looked for in a message: six or more
 * letters and digits (so it cannot span "key=value" or words of a message)
 * that no other text of the message could hold. */
static int distinctive(const tropt_option_def *opts, const char *v)
{
    return strlen(v) >= 6 &&
           strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") ==
               strlen(v) &&
           !in_table_text(opts, v) && !strstr(message_words, v);
}

/* A refusal: EINVAL or ENOMEM, no values, a message that never holds a
 * secret option's value (unless another given key or value holds it). */
static void check_failure(const tropt_option_def *opts, const tropt__kv *kv, size_t n, int rc,
                          const tropt_optval *vals)
{
    FUZZ_CHECK(rc == TROPT_EINVAL || rc == TROPT_ENOMEM, "rc %d", rc);
    FUZZ_CHECK(vals == NULL, "values left on failure");
    const char *msg = tropt_error_message();
    FUZZ_CHECK(*msg, "empty message");
    for (size_t k = 0; k < n; k++) {
        const tropt_option_def *def = find_def(opts, kv[k].key);
        const char *v = kv[k].value;
        if (!def || !(def->flags & TROPT_OPT_SECRET) || !distinctive(opts, v))
            continue;
        int elsewhere = 0;
        for (size_t j = 0; j < n; j++)
            if (j != k && (strstr(kv[j].key, v) || strstr(kv[j].value, v)))
                elsewhere = 1;
        FUZZ_CHECK(elsewhere || !strstr(msg, v), "secret value '%s' in message: %s", v, msg);
    }
}

/* A parsed value keeps to its type: BOOL 0/1, ENUM indexes its choices,
 * ranges hold, durations non-negative, doubles finite, paths non-empty. */
static void check_typed(const tropt_option_def *def, const tropt_optval *v)
{
    switch (def->type) {
    case TROPT_OPT_BOOL:
        FUZZ_CHECK(v->i == 0 || v->i == 1, "bool %s = %lld", def->name, (long long)v->i);
        break;
    case TROPT_OPT_ENUM: {
        size_t nc = 0;
        while (def->choices[nc])
            nc++;
        FUZZ_CHECK(v->i >= 0 && (size_t)v->i < nc && strcmp(def->choices[v->i], v->text) == 0,
                   "enum %s", def->name);
        break;
    }
    case TROPT_OPT_DURATION:
        FUZZ_CHECK(v->d >= 0 && isfinite(v->d), "duration %s = %g", def->name, v->d);
        /* fall through */
    case TROPT_OPT_INT:
    case TROPT_OPT_DOUBLE:
        if (def->flags & TROPT_OPT_HAS_RANGE) {
            double x = def->type == TROPT_OPT_INT ? (double)v->i : v->d;
            FUZZ_CHECK(x >= def->min && x <= def->max, "%s = %g out of range", def->name, x);
        }
        FUZZ_CHECK(def->type != TROPT_OPT_DOUBLE || isfinite(v->d), "double %s", def->name);
        break;
    case TROPT_OPT_PATH:
        FUZZ_CHECK(*v->text, "empty path %s", def->name);
        break;
    default:
        break;
    }
}

/* A success: one value per declared option, every given option keeping its
 * text, an unset one its default; on_error lands in warn_only. */
static void check_success(const tropt_option_def *opts, size_t nd, const tropt__kv *kv, size_t n,
                          const tropt_optval *vals, int warn)
{
    FUZZ_CHECK(vals != NULL, "no values");
    FUZZ_CHECK(warn == 0 || warn == 1, "warn_only %d", warn);
    for (size_t d = 0; d < nd; d++) {
        const tropt_option_def *def = &opts[d];
        const tropt_optval *v = &vals[d];
        size_t k = 0;
        while (k < n && strcmp(kv[k].key, def->name) != 0)
            k++;
        FUZZ_CHECK(v->is_set == (k < n), "is_set of %s", def->name);
        if (k < n)
            FUZZ_CHECK(v->text && strcmp(v->text, kv[k].value) == 0, "text of %s", def->name);
        else if (def->default_value)
            FUZZ_CHECK(v->text && strcmp(v->text, def->default_value) == 0, "default of %s",
                       def->name);
        else
            FUZZ_CHECK(v->text == NULL, "text of unset %s", def->name);
        if (v->text)
            check_typed(def, v);
    }
    for (size_t k = 0; k < n; k++)
        if (strcmp(kv[k].key, "on_error") == 0)
            FUZZ_CHECK(warn == (strcmp(kv[k].value, "warn") == 0), "on_error=%s", kv[k].value);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size < 1)
        return 0;
    const tropt_option_def *opts = (data[0] & 1) ? table_req : table_all;
    tropt_plugin plugin = make_plugin(opts);
    check_decls_once();
    char *text = fuzz_cstr(data + 1, size - 1);
    tropt__kv kv[MAX_KV];
    size_t n = parse_lines(text, kv);
    tropt_optval *vals = (tropt_optval *)&vals;
    tropt__host_opts ho;
    int rc = tropt__options_validate(&plugin, "fuzzplug", kv, n, &vals, &ho);
    int warn = ho.warn_only;
    tropt__host_opts_clear(&ho);
    if (rc != TROPT_OK) {
        check_failure(opts, kv, n, rc, vals);
    } else {
        check_success(opts, tropt__option_count(&plugin), kv, n, vals, warn);
        tropt__optvals_free(&plugin, vals);
    }
    free(text);
    return 0;
}
