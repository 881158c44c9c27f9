/*
 * core/internal.h - declarations shared by the files of libtropt.
 * Nothing here is exported: internal names start with tropt__.
 */
#ifndef TROPT_INTERNAL_H
#define TROPT_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <tropt/tropt.h>

#define TROPT__HIDDEN __attribute__((visibility("hidden")))

/* ---- alloc.c ---- */
void *tropt__malloc(size_t n);
void *tropt__calloc(size_t count, size_t size);
void *tropt__realloc(void *p, size_t n);
void tropt__free(void *p);
char *tropt__strdup(const char *s);
char *tropt__strndup(const char *s, size_t n);
/* Grow *buf (element size `elem`) so it holds at least `need` elements.
 * Returns 0 or TROPT_ENOMEM (with the message set); *buf is kept on failure. */
int tropt__grow(void **buf, size_t *cap, size_t need, size_t elem);

/* ---- error.c ---- */
/* Set the calling thread's message; returns code. */
int tropt__error(int code, const char *fmt, ...) TROPT_PRINTF(2, 3);
int tropt__verror(int code, const char *fmt, va_list ap);
/* Set the message to "out of memory" and return TROPT_ENOMEM. */
int tropt__oom(void);
/* Prefix the current message with "prefix: ". */
/* Whether msg already starts with "<label>:" (a plugin that still writes
 * its own prefix): the host then does not put the label in front again. */
static inline int tropt__starts_with_label(const char *msg, const char *label)
{
    size_t n = strlen(label);
    return strncmp(msg, label, n) == 0 && msg[n] == ':';
}
void tropt__error_prefix(const char *prefix);
/* Save / restore the thread's message (for fan-out: keep the first). */
void tropt__error_save(char *buf, size_t size);
void tropt__error_restore(const char *buf);
void tropt__error_clear(void);

/* ---- diag.c ---- */
void tropt__log(tropt_level level, const char *fmt, ...) TROPT_PRINTF(2, 3);
void tropt__vlog(tropt_level level, const char *fmt, va_list ap);
int tropt__log_enabled(tropt_level level);

/* ---- uuid.c ---- */
#define TROPT__UUID_LEN 36
/* Write a new UUIDv7 (time-ordered, monotonic within the process) into out[37]. */
int tropt__uuid7(char out[TROPT__UUID_LEN + 1]);
/* 1 when s is 36-char canonical UUID text (any version). */
int tropt__uuid_valid(const char *s);

/* ---- dtoa.c ---- */
size_t tropt__format_real(char *buf, size_t size, double x);
/* The same, forcing the exact slow path when slow is 1 (for the tests). */
size_t tropt__format_real_path(char *buf, size_t size, double x, int slow);

/* ---- time ---- */
double tropt__now(void);

/* ---- spec.c ---- */
typedef struct tropt__kv {
    char *key;
    char *value;
    size_t pos; /* offset of the key in the spec, for messages */
} tropt__kv;

typedef struct tropt__backend_spec {
    char *name; /* a plugin name or a path (contains '/') */
    size_t pos;
    tropt__kv *opts;
    size_t n_opts;
} tropt__backend_spec;

typedef struct tropt__spec {
    tropt__backend_spec *backends;
    size_t n;
} tropt__spec;

/* Parse a spec string.  On failure returns TROPT_EINVAL with a message that
 * names the position and what was expected, and leaves *out empty. */
int tropt__spec_parse(const char *text, tropt__spec *out);
void tropt__spec_clear(tropt__spec *s);

/* ---- loader.c ---- */
typedef struct tropt__module {
    void *handle;
    char *path;
    const tropt_plugin *plugin;
} tropt__module;

/* Resolve a spec name (or path) to a file and load it.  TROPT_ENOTFOUND,
 * TROPT_EPLUGIN (message names the file and the reason), TROPT_ENOMEM. */
int tropt__module_load(const char *name, tropt__module *out);
/* Load a given file and validate its table. */
int tropt__module_open_file(const char *path, tropt__module *out);
/* A plugin file named ".../tropt-<name>.so" should call itself <name> in its
 * hook table: returns 1 when it does (or the path has another shape), else
 * warns naming both and returns 0 (open_file checks it on every load). */
int tropt__module_check_name(const tropt__module *m, const char *path);
void tropt__module_close(tropt__module *m);
/* 1 if the (validated) table has the ABI 1.1 reader hooks within its size. */
int tropt__plugin_can_read(const tropt_plugin *p);
/* 1 if name is a valid plugin name [A-Za-z0-9_-]+. */
int tropt__valid_plugin_name(const char *name);

/* ---- options.c ---- */
size_t tropt__option_count(const tropt_plugin *p);
/* Validate the spec's options against the plugin's declared ones.  *values
 * gets one tropt_optval per declared option (texts owned by the array; free
 * with tropt__optvals_free).  Host options (on_error) are consumed into
 * *warn_only.  TROPT_EINVAL names the option, the plugin and what is valid. */
int tropt__options_validate(const tropt_plugin *p, const char *plugin_label, const tropt__kv *opts,
                            size_t n, tropt_optval **values, int *warn_only);
void tropt__optvals_free(const tropt_plugin *p, tropt_optval *values);
/* Check the declared option table itself (at load time). */
int tropt__options_check_decl(const tropt_plugin *p, const char *path);

/* ---- flatten.c ---- */
#define TROPT__SMALL_KEYS 32
typedef struct tropt__flat {
    tropt_field *f;
    size_t n, cap;
    char *keys; /* arena of composed keys */
    size_t klen, kcap;
    /* duplicate detection: a stamped fixed table for small steps, an
     * open-addressing heap table (signature high half | index + 1) for
     * large ones */
    struct {
        uint32_t gen, idx;
    } small[2 * TROPT__SMALL_KEYS];
    uint32_t gen;
    /* the signatures of the last small step found unique, when they were
     * pairwise distinct: a step with the same signatures in the same order
     * is unique too, without probing (a training loop logs the same keys
     * every step) */
    uint64_t last_sig[TROPT__SMALL_KEYS];
    size_t last_n;
    uint64_t *slots;
    size_t nslots;
} tropt__flat;

void tropt__flat_reset(tropt__flat *fl);
void tropt__flat_free(tropt__flat *fl);
/* TROPT_EINVAL naming `what` when v nests deeper than TROPT_MAX_DEPTH,
 * contains itself (v itself is level 0) or holds a string with a NUL;
 * allocates nothing. */
int tropt__json_check_depth(const json_t *v, const char *what);
/* Flatten a JSON object into fl (appending).  TROPT_EINVAL for a duplicate key. */
int tropt__flat_object(tropt__flat *fl, const json_t *obj);
/* Flatten typed fields (objects in TROPT_JSON fields are expanded). */
int tropt__flat_fields(tropt__flat *fl, const tropt_field *fields, size_t n);
/* Check fields for validity and duplicates without copying: returns 1 when
 * the caller's array can be handed to plugins as is, 0 when it needs
 * tropt__flat_fields, or a negative error. */
int tropt__fields_passthrough(tropt__flat *fl, const tropt_field *fields, size_t n);

/* ---- host.c ---- */
/* The host services without an instance label (tests, tools). */
extern const tropt_host *const tropt__host_services;
/* The services table of one plugin instance: the shared table plus the
 * label its log_from puts in front (borrowed: it lives as long as the
 * instance).  Handed to the plugin as &hx->pub. */
#define TROPT__HOST_MAGIC 0x74486f73u
typedef struct tropt__host_ex {
    tropt_host pub; /* first: the plugin's pointer is this struct's */
    uint32_t magic;
    const char *label;
} tropt__host_ex;
void tropt__host_for(tropt__host_ex *hx, const char *label);

#endif /* TROPT_INTERNAL_H */
