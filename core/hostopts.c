/* core/hostopts.c - the options the host understands for any backend and
 * never passes to a plugin (SPEC 4, 15, 16): on_error (per backend), and
 * the tracker-wide resume, resume_key and sys, which may also come from the
 * environment (TROPT_RESUME, TROPT_RESUME_KEY, TROPT_SYS) or from
 * tropt_tracker_set_option. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

const char *const tropt__host_option_names[TROPT__N_HOST_OPTS] = {"on_error", "resume",
                                                                  "resume_key", "sys"};

static const char *const resume_modes[] = {"never", "allow", "must", NULL};

/* sys: one record every INTERVAL, from 1 s (the sampling period) to a day. */
static const tropt_option_def sys_def =
    TROPT_OPTION_DURATION("sys", NULL, 1000, 86400000, "system metrics interval");
static const tropt_option_def resume_def =
    TROPT_OPTION_ENUM("resume", NULL, resume_modes, "what init does with resume_key");

void tropt__host_opts_init(tropt__host_opts *ho)
{
    ho->warn_only = 0;
    ho->resume = -1;
    ho->resume_key = NULL;
    ho->sys_ms = -1;
}

void tropt__host_opts_clear(tropt__host_opts *ho)
{
    tropt__free(ho->resume_key);
    tropt__host_opts_init(ho);
}

int tropt__host_option_reserved(const tropt_plugin *p, const char *key)
{
    if (strcmp(key, "on_error") == 0)
        return 1;
    /* The names ABI 1.2 reserved stay a 1.0/1.1 plugin's own when it
     * declares them: such a plugin keeps loading and keeps its option. */
    int v12 = p->abi_version >= ((1u << 16) | 2u);
    for (size_t i = 1; i < TROPT__N_HOST_OPTS; i++)
        if (strcmp(key, tropt__host_option_names[i]) == 0)
            return v12 || tropt__option_index(p, key) < 0;
    return 0;
}

/* A resume key or run reference: printable, no control characters. */
static int key_ok(const char *s, char *why, size_t size)
{
    size_t n = strlen(s);
    if (n > TROPT_MAX_NAME) {
        snprintf(why, size, "longer than %d bytes", TROPT_MAX_NAME);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            snprintf(why, size, "holds a control character");
            return 0;
        }
    return 1;
}

int tropt__host_opt_set(const char *label, const char *key, const char *value, tropt__host_opts *ho)
{
    char why[256];
    tropt_optval v = {0, NULL, 0, 0};
    if (strcmp(key, "on_error") == 0) {
        if (strcmp(value, "fail") && strcmp(value, "warn"))
            return tropt__error(TROPT_EINVAL, "%s: option on_error=%s: expected fail|warn", label,
                                value);
        ho->warn_only = strcmp(value, "warn") == 0;
        return TROPT_OK;
    }
    if (strcmp(key, "resume") == 0) {
        if (tropt__option_parse(&resume_def, value, &v, why, sizeof why) != 0)
            return tropt__error(TROPT_EINVAL, "%s: option resume=%s: %s", label, value, why);
        ho->resume = (int)v.i;
        return TROPT_OK;
    }
    if (strcmp(key, "resume_key") == 0) {
        if (!key_ok(value, why, sizeof why))
            return tropt__error(TROPT_EINVAL, "%s: option resume_key: %s", label, why);
        char *copy = tropt__strdup(value);
        if (!copy)
            return tropt__oom();
        tropt__free(ho->resume_key);
        ho->resume_key = copy;
        return TROPT_OK;
    }
    if (strcmp(key, "sys") == 0) {
        if (strcmp(value, "off") == 0) {
            ho->sys_ms = 0;
            return TROPT_OK;
        }
        if (tropt__option_parse(&sys_def, value, &v, why, sizeof why) != 0)
            return tropt__error(TROPT_EINVAL, "%s: option sys=%s: %s (or off)", label, value, why);
        ho->sys_ms = v.i;
        return TROPT_OK;
    }
    return tropt__error(TROPT_EINVAL,
                        "%s: unknown host option '%s' (host options: on_error, resume, "
                        "resume_key, sys)",
                        label, key);
}

int tropt__host_option(const char *label, const tropt__kv *kv, tropt__host_opts *ho, int *taken)
{
    *taken = 0;
    for (size_t i = 0; i < TROPT__N_HOST_OPTS; i++)
        if (strcmp(kv->key, tropt__host_option_names[i]) == 0) {
            *taken = 1;
            return tropt__host_opt_set(label, kv->key, kv->value, ho);
        }
    return TROPT_OK;
}

/* Two backends of one spec gave a tracker-wide option different values. */
static int conflict(const char *key, const char *label)
{
    return tropt__error(TROPT_EINVAL,
                        "%s: option %s differs from the value an earlier backend of the spec "
                        "gave; it applies to the whole tracker: give it once",
                        label, key);
}

int tropt__host_opts_merge(tropt__host_opts *into, const tropt__host_opts *from, const char *label)
{
    if (from->resume >= 0) {
        if (into->resume >= 0 && into->resume != from->resume)
            return conflict("resume", label);
        into->resume = from->resume;
    }
    if (from->sys_ms >= 0) {
        if (into->sys_ms >= 0 && into->sys_ms != from->sys_ms)
            return conflict("sys", label);
        into->sys_ms = from->sys_ms;
    }
    if (from->resume_key) {
        if (into->resume_key && strcmp(into->resume_key, from->resume_key) != 0)
            return conflict("resume_key", label);
        if (!into->resume_key && !(into->resume_key = tropt__strdup(from->resume_key)))
            return tropt__oom();
    }
    return TROPT_OK;
}

int tropt__host_opts_from_env(tropt__host_opts *ho)
{
    static const struct {
        const char *env, *key;
    } vars[] = {
        {"TROPT_RESUME", "resume"}, {"TROPT_RESUME_KEY", "resume_key"}, {"TROPT_SYS", "sys"}};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i].env);
        if (!v || !*v)
            continue;
        int unset = strcmp(vars[i].key, "resume") == 0       ? ho->resume < 0
                    : strcmp(vars[i].key, "resume_key") == 0 ? ho->resume_key == NULL
                                                             : ho->sys_ms < 0;
        if (!unset)
            continue; /* the spec wins over the environment */
        int rc = tropt__host_opt_set(vars[i].env, vars[i].key, v, ho);
        if (rc)
            return rc;
    }
    return TROPT_OK;
}
