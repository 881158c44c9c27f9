/* core/options.c - declared plugin options: checking a plugin's table at
 * load time, and validating a spec's key=value pairs against it before the
 * plugin's create() ever runs.  Secret values never appear in a message. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

size_t tropt__option_count(const tropt_plugin *p)
{
    size_t n = 0;
    if (p->options)
        while (p->options[n].name)
            n++;
    return n;
}

long tropt__option_index(const tropt_plugin *p, const char *name)
{
    size_t n = tropt__option_count(p);
    for (size_t i = 0; i < n; i++)
        if (strcmp(p->options[i].name, name) == 0)
            return (long)i;
    return -1;
}

const char *tropt_option_type_name(tropt_opt_type type)
{
    switch (type) {
    case TROPT_OPT_STRING:
        return "string";
    case TROPT_OPT_PATH:
        return "path";
    case TROPT_OPT_INT:
        return "int";
    case TROPT_OPT_DOUBLE:
        return "double";
    case TROPT_OPT_BOOL:
        return "bool";
    case TROPT_OPT_DURATION:
        return "duration";
    case TROPT_OPT_ENUM:
        return "enum";
    }
    return "unknown";
}

const char *tropt_option_display(const tropt_option_def *def, const char *text)
{
    if (!text)
        return "(unset)";
    if (def && (def->flags & TROPT_OPT_SECRET))
        return "<secret>";
    return text;
}

/* One bound of a range in the option's own terms: an integer for INT, a
 * duration with the largest unit that divides it for DURATION, %g else. */
static int put_bound(char *buf, size_t size, tropt_opt_type type, double x)
{
    if (type == TROPT_OPT_INT && x >= -9.2e18 && x <= 9.2e18 && x == (double)(int64_t)x)
        return snprintf(buf, size, "%lld", (long long)x);
    if (type == TROPT_OPT_DURATION && x >= 0 && x <= 9.2e18 && x == (double)(int64_t)x) {
        long long ms = (long long)x;
        if (ms == 0)
            return snprintf(buf, size, "0");
        if (ms % 60000 == 0)
            return snprintf(buf, size, "%lldm", ms / 60000);
        if (ms % 1000 == 0)
            return snprintf(buf, size, "%llds", ms / 1000);
        return snprintf(buf, size, "%lldms", ms);
    }
    return snprintf(buf, size, "%g", x);
}

size_t tropt_option_range(const tropt_option_def *def, char *buf, size_t size)
{
    if (!buf || size == 0)
        return 0;
    buf[0] = '\0';
    if (!def || !(def->flags & TROPT_OPT_HAS_RANGE))
        return 0;
    char lo[48], hi[48];
    put_bound(lo, sizeof lo, def->type, def->min);
    put_bound(hi, sizeof hi, def->type, def->max);
    int n = snprintf(buf, size, "[%s, %s]", lo, hi);
    if (n < 0)
        return 0;
    return (size_t)n < size ? (size_t)n : size - 1;
}

/* "a|b|c" into buf. */
static void join_choices(const char *const *choices, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; choices && choices[i]; i++) {
        int n = snprintf(buf + used, size - used, "%s%s", i ? "|" : "", choices[i]);
        if (n < 0 || (size_t)n >= size - used)
            break;
        used += (size_t)n;
    }
}

/* The parsers of each type: 0, or -1 with the reason in why. */
typedef int (*parse_fn)(const tropt_option_def *def, const char *text, tropt_optval *v, char *why,
                        size_t whysize);

#define WHY(...) (snprintf(why, whysize, __VA_ARGS__), -1)

static int parse_string(const tropt_option_def *def, const char *text, tropt_optval *v, char *why,
                        size_t whysize)
{
    (void)def, (void)text, (void)v, (void)why, (void)whysize;
    return 0;
}

static int parse_path(const tropt_option_def *def, const char *text, tropt_optval *v, char *why,
                      size_t whysize)
{
    (void)def, (void)v;
    return *text ? 0 : WHY("expected a non-empty path");
}

static int parse_int(const tropt_option_def *def, const char *text, tropt_optval *v, char *why,
                     size_t whysize)
{
    (void)def;
    char *end = NULL;
    errno = 0;
    long long x = strtoll(text, &end, 10);
    if (!*text || *end || errno == ERANGE)
        return WHY("expected a 64-bit integer");
    v->i = x;
    v->d = (double)x;
    return 0;
}

static int parse_double(const tropt_option_def *def, const char *text, tropt_optval *v, char *why,
                        size_t whysize)
{
    (void)def;
    char *end = NULL;
    errno = 0;
    double x = strtod(text, &end);
    if (!*text || *end || !isfinite(x) || errno == ERANGE)
        return WHY("expected a finite number");
    v->d = x;
    /* converting a double outside int64's range is undefined: saturate */
    v->i = x >= 9.2e18 ? INT64_MAX : x <= -9.2e18 ? INT64_MIN : (int64_t)x;
    return 0;
}

static int parse_bool(const tropt_option_def *def, const char *text, tropt_optval *v, char *why,
                      size_t whysize)
{
    (void)def;
    static const char *yes[] = {"true", "yes", "on", "1"};
    static const char *no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        int is_yes = strcasecmp(text, yes[i]) == 0;
        if (is_yes || strcasecmp(text, no[i]) == 0) {
            v->i = is_yes;
            v->d = is_yes;
            return 0;
        }
    }
    return WHY("expected true|false");
}

/* The unit after a duration's number: ms (also none), s or m; 0 when bad. */
static double duration_scale(const char *unit)
{
    if (!*unit || strcmp(unit, "ms") == 0)
        return 1.0;
    if (strcmp(unit, "s") == 0)
        return 1000.0;
    return strcmp(unit, "m") == 0 ? 60000.0 : 0.0;
}

static int parse_duration(const tropt_option_def *def, const char *text, tropt_optval *v, char *why,
                          size_t whysize)
{
    (void)def;
    char *end = NULL;
    errno = 0;
    double x = strtod(text, &end);
    double scale = end != text ? duration_scale(end) : 0.0;
    if (!*text || scale == 0.0 || !isfinite(x) || x < 0 || errno == ERANGE || x * scale > 9.2e18)
        return WHY("expected a duration such as 250ms, 2s or 1m (no unit: ms)");
    v->d = x * scale;
    v->i = (int64_t)llround(v->d);
    return 0;
}

static int parse_enum(const tropt_option_def *def, const char *text, tropt_optval *v, char *why,
                      size_t whysize)
{
    for (size_t i = 0; def->choices && def->choices[i]; i++) {
        if (strcmp(def->choices[i], text) == 0) {
            v->i = (int64_t)i;
            v->d = (double)i;
            return 0;
        }
    }
    char list[512];
    join_choices(def->choices, list, sizeof list);
    return WHY("expected one of %s", list);
}

/* Indexed by tropt_opt_type. */
static const parse_fn parsers[] = {parse_string, parse_path,     parse_int, parse_double,
                                   parse_bool,   parse_duration, parse_enum};

/* Parse `text` as def's type into v.  On failure writes the reason (without
 * the value) into why and returns -1. */
int tropt__option_parse(const tropt_option_def *def, const char *text, tropt_optval *v, char *why,
                        size_t whysize)
{
    if ((unsigned)def->type >= sizeof parsers / sizeof parsers[0])
        return WHY("unknown option type %d", (int)def->type);
    if (parsers[def->type](def, text, v, why, whysize) != 0)
        return -1;
    int ranged = def->type == TROPT_OPT_INT || def->type == TROPT_OPT_DOUBLE ||
                 def->type == TROPT_OPT_DURATION;
    if (!ranged || !(def->flags & TROPT_OPT_HAS_RANGE))
        return 0;
    double x = def->type == TROPT_OPT_INT ? (double)v->i : v->d;
    if (x < def->min || x > def->max) {
        char range[112];
        tropt_option_range(def, range, sizeof range);
        return WHY("out of range %s", range);
    }
    return 0;
}

static int valid_option_name(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

int tropt__options_check_decl(const tropt_plugin *p, const char *path)
{
    size_t n = tropt__option_count(p);
    for (size_t i = 0; i < n; i++) {
        const tropt_option_def *d = &p->options[i];
        if (!valid_option_name(d->name))
            return tropt__error(
                TROPT_EPLUGIN,
                "%s: declared option %zu has an invalid name (options are [a-z0-9_]+)", path, i);
        if (tropt__host_option_reserved(p, d->name))
            return tropt__error(TROPT_EPLUGIN, "%s: declares option '%s', which the host reserves",
                                path, d->name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(p->options[j].name, d->name) == 0)
                return tropt__error(TROPT_EPLUGIN, "%s: declares option '%s' twice", path, d->name);
        if ((unsigned)d->type > TROPT_OPT_ENUM)
            return tropt__error(TROPT_EPLUGIN, "%s: option '%s' has an unknown type %d", path,
                                d->name, (int)d->type);
        if (d->type == TROPT_OPT_ENUM && (!d->choices || !d->choices[0]))
            return tropt__error(TROPT_EPLUGIN, "%s: enum option '%s' declares no choices", path,
                                d->name);
        if ((d->flags & TROPT_OPT_REQUIRED) && d->default_value)
            return tropt__error(TROPT_EPLUGIN,
                                "%s: option '%s' is required and has a default '%s'; declare one "
                                "or the other",
                                path, d->name, d->default_value);
        if ((d->flags & TROPT_OPT_HAS_RANGE) && !(d->min <= d->max))
            return tropt__error(TROPT_EPLUGIN, "%s: option '%s' has a range with min %g > max %g",
                                path, d->name, d->min, d->max);
        if (d->default_value) {
            tropt_optval v = {0};
            char why[256];
            if (tropt__option_parse(d, d->default_value, &v, why, sizeof why) != 0)
                return tropt__error(TROPT_EPLUGIN, "%s: the default of option '%s' is invalid: %s",
                                    path, d->name, why);
        }
    }
    return TROPT_OK;
}

void tropt__optvals_free(const tropt_plugin *p, tropt_optval *values)
{
    if (!values)
        return;
    size_t n = tropt__option_count(p);
    for (size_t i = 0; i < n; i++)
        tropt__free((char *)values[i].text);
    tropt__free(values);
}

static void valid_names(const tropt_plugin *p, char *buf, size_t size)
{
    size_t used = 0;
    size_t n = tropt__option_count(p);
    buf[0] = '\0';
    for (size_t i = 0; i < n + TROPT__N_HOST_OPTS; i++) {
        const char *name = i < n ? p->options[i].name : tropt__host_option_names[i - n];
        int w = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", name);
        if (w < 0 || (size_t)w >= size - used)
            break;
        used += (size_t)w;
    }
}

int tropt__options_validate(const tropt_plugin *p, const char *label, const tropt__kv *opts,
                            size_t n, tropt_optval **values, tropt__host_opts *ho)
{
    size_t nd = tropt__option_count(p);
    *values = NULL;
    tropt__host_opts_init(ho);
    tropt_optval *vals = tropt__calloc(nd ? nd : 1, sizeof *vals);
    if (!vals)
        return tropt__oom();
    int rc = TROPT_OK;
    char why[600];

    for (size_t k = 0; k < n; k++) {
        const tropt__kv *kv = &opts[k];
        int taken = 0;
        if (tropt__host_option_reserved(p, kv->key) &&
            (rc = tropt__host_option(label, kv, ho, &taken)) != TROPT_OK)
            goto fail;
        if (taken)
            continue;
        size_t d = 0;
        while (d < nd && strcmp(p->options[d].name, kv->key) != 0)
            d++;
        if (d == nd) {
            valid_names(p, why, sizeof why);
            rc = tropt__error(TROPT_EINVAL, "%s: unknown option '%s' (valid options: %s)", label,
                              kv->key, why);
            goto fail;
        }
        const tropt_option_def *def = &p->options[d];
        if (tropt__option_parse(def, kv->value, &vals[d], why, sizeof why) != 0) {
            if (def->flags & TROPT_OPT_SECRET)
                rc = tropt__error(TROPT_EINVAL, "%s: option '%s' (secret, value not shown): %s",
                                  label, def->name, why);
            else
                rc = tropt__error(TROPT_EINVAL, "%s: option %s=%s: %s", label, def->name, kv->value,
                                  why);
            goto fail;
        }
        vals[d].is_set = 1;
        vals[d].text = tropt__strdup(kv->value);
        if (!vals[d].text) {
            rc = tropt__oom();
            goto fail;
        }
    }
    for (size_t d = 0; d < nd; d++) {
        const tropt_option_def *def = &p->options[d];
        if (vals[d].is_set)
            continue;
        if (def->flags & TROPT_OPT_REQUIRED) {
            rc = tropt__error(TROPT_EINVAL, "%s: option '%s' is required (%s)", label, def->name,
                              def->help ? def->help : tropt_option_type_name(def->type));
            goto fail;
        }
        if (def->default_value) {
            /* Checked at load time; cannot fail here. */
            tropt__option_parse(def, def->default_value, &vals[d], why, sizeof why);
            vals[d].text = tropt__strdup(def->default_value);
            if (!vals[d].text) {
                rc = tropt__oom();
                goto fail;
            }
        }
    }
    *values = vals;
    return TROPT_OK;
fail:
    tropt__optvals_free(p, vals);
    tropt__host_opts_clear(ho);
    return rc;
}
