/*
 * tropt/plugin.h - the ABI between the tropt host and a backend plugin.
 *
 * A plugin is a shared object that exports exactly one symbol:
 *
 *     TROPT_PLUGIN_EXPORT const tropt_plugin *tropt_plugin_entry(void);
 *
 * returning a pointer to a static, const hook table.  The plugin links
 * nothing of tropt (build it with -Wl,--no-undefined): everything it needs
 * from the host reaches it through the tropt_host table handed to create().
 * Start from the template installed in <datadir>/doc/tropt/plugin-template
 * (a complete plugin with a Makefile that builds it out of tree with
 * `pkg-config --cflags tropt`); the README says more.
 *
 * Versioning.  TROPT_PLUGIN_ABI_VERSION is (MAJOR << 16 | MINOR).  The host
 * loads a plugin whose MAJOR equals its own; the tables only ever grow by
 * appending members (MINOR bumps), and the host reads a member only when the
 * plugin's struct_size covers it.  Likewise a plugin must check
 * host->struct_size (or host->version) before using a host service newer
 * than TROPT_HOST_MIN_SIZE.
 *
 * Calls.  The host serializes every hook call on one plugin instance (one
 * backend of one tracker); different instances may be called concurrently
 * from different threads.  Every hook returns TROPT_OK or a negative
 * tropt_error; on failure it should explain itself with host->error(), which
 * the host surfaces through tropt_error_message() prefixed with the backend
 * name.
 *
 * Call order the host keeps, per instance (a plugin need not handle any
 * other order):
 *   - create first.  A create that fails gets no destroy: free what it
 *     took before returning.  Its code reaches tropt_tracker_open as
 *     TROPT_EINVAL (the plugin refused its options), TROPT_ENOMEM, or
 *     otherwise TROPT_EBACKEND; without a host->error() message the host
 *     says "create failed with <code> and no message".
 *   - Then runs, one at a time: init, any number of log, finish.  A run
 *     whose init failed gets no log and no finish from this instance; the
 *     next run starts with init again.  A finish that failed leaves the run
 *     open: the host may call finish again (or destroy).
 *   - flush at any time between create and destroy, also with no run open.
 *   - destroy last, exactly once after a successful create.  If a run is
 *     still open, the host has already called finish for it ("aborted").
 * Hooks return TROPT_OK or a negative tropt_error; anything else is taken
 * as TROPT_EBACKEND.  TROPT_EINVAL from init, log or finish means the data
 * was refused (the run goes on), TROPT_ENOMEM that memory ran out, and
 * TROPT_EBACKEND that the medium failed.
 *
 * Data.  All pointers handed to hooks are borrowed for the call only: copy
 * what you keep.  Fields arrive flattened: keys are "a/b" for nested
 * objects; types are TROPT_NULL, TROPT_BOOL, TROPT_INT, TROPT_REAL (which
 * may be NaN or +-Inf), TROPT_STRING, or TROPT_JSON for a value kept whole
 * (an array or an empty object; v.json is never an object with members).
 * Keys within one call are unique.
 */
#ifndef TROPT_PLUGIN_H
#define TROPT_PLUGIN_H

#include <stdarg.h>

#include <tropt/common.h>

TROPT_BEGIN_DECLS

/* The ABI this header describes.  Overridable with -D when building a
 * plugin, to test how hosts treat other versions (a host built with other
 * values is not supported). */
#ifndef TROPT_PLUGIN_ABI_MAJOR
#define TROPT_PLUGIN_ABI_MAJOR 1
#endif
#ifndef TROPT_PLUGIN_ABI_MINOR
#define TROPT_PLUGIN_ABI_MINOR 1
#endif
#define TROPT_PLUGIN_ABI_VERSION ((TROPT_PLUGIN_ABI_MAJOR << 16) | TROPT_PLUGIN_ABI_MINOR)
#define TROPT_PLUGIN_ABI_MAJOR_OF(v) ((v) >> 16)

/* The one symbol a plugin exports. */
#define TROPT_PLUGIN_ENTRY_SYMBOL "tropt_plugin_entry"

#if defined(__GNUC__) || defined(__clang__)
#define TROPT_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define TROPT_PLUGIN_EXPORT
#endif

/* ---- Declared options ------------------------------------------------- */

/*
 * Option types, with the text the host accepts for each (the value of
 * key=value in the spec):
 *   STRING    any text.
 *   PATH      non-empty text, a file or folder path (relative to the cwd).
 *   INT       a decimal 64-bit integer, optional sign.
 *   DOUBLE    a finite decimal real (strtod syntax, no nan/inf).
 *   BOOL      true|false|yes|no|on|off|1|0 (case-insensitive).
 *   DURATION  a non-negative number with an optional unit ms, s or m
 *             (no unit: ms).  Parsed into milliseconds.
 *   ENUM      one of the NULL-terminated `choices`.
 */
typedef enum {
    TROPT_OPT_STRING = 0,
    TROPT_OPT_PATH = 1,
    TROPT_OPT_INT = 2,
    TROPT_OPT_DOUBLE = 3,
    TROPT_OPT_BOOL = 4,
    TROPT_OPT_DURATION = 5,
    TROPT_OPT_ENUM = 6
} tropt_opt_type;

/* Flags of tropt_option_def.flags. */
#define TROPT_OPT_SECRET 0x1u    /* value never appears in any message or listing */
#define TROPT_OPT_HAS_RANGE 0x2u /* min/max apply (INT, DOUBLE, DURATION in ms) */
#define TROPT_OPT_REQUIRED 0x4u  /* must be given in the spec (no default) */

/*
 * One declared option.  A plugin's `options` array ends with an entry whose
 * name is NULL.
 *   name           [a-z0-9_]+, unique within the plugin; the host reserves
 *                  "on_error".
 *   default_value  text form, validated like a given value; NULL: unset.
 *   choices        ENUM only: NULL-terminated allowed values.
 *   min, max       with TROPT_OPT_HAS_RANGE: inclusive bounds.
 *   help           one line for `tropt plugins`.
 */
typedef struct tropt_option_def {
    const char *name;
    tropt_opt_type type;
    unsigned flags;
    const char *default_value;
    const char *const *choices;
    double min;
    double max;
    const char *help;
} tropt_option_def;

/*
 * Rows of an options array, one macro per kind, so that a table reads as
 * what it declares (header-only: they expand to the struct above, nothing
 * of the ABI changes).  Index the rows by an enum of the plugin's and end
 * the array with TROPT_OPTIONS_END; create() then reads opts[MY_OPT_X]:
 *
 *     enum { MY_OPT_PATH, MY_OPT_EVERY, MY_OPT_COUNT };
 *     static const tropt_option_def my_options[] = {
 *         [MY_OPT_PATH] = TROPT_OPTION_PATH("path", "my.log", "the file"),
 *         [MY_OPT_EVERY] = TROPT_OPTION_INT("every", "1", 1, 1000, "write every N steps"),
 *         [MY_OPT_COUNT] = TROPT_OPTIONS_END,
 *     };
 *     TROPT_OPTIONS_CHECK(my_options, MY_OPT_COUNT);
 *
 * TROPT_OPTIONS_CHECK fails the build when a row lies past the end row.  An
 * enum member left without a row would end the table early (a NULL name):
 * the project's own plugins are checked against their README's options
 * table by a test (tests/abi, abi-options); do the same for yours.  `def`
 * is the default as text (NULL: none); `flags` adds TROPT_OPT_SECRET or
 * TROPT_OPT_REQUIRED where a macro takes it. */
#define TROPT_OPTION_STRING(name, flags, def, help)                                                \
    {                                                                                              \
        (name), TROPT_OPT_STRING, (flags), (def), NULL, 0, 0, (help)                               \
    }
#define TROPT_OPTION_PATH(name, def, help)                                                         \
    {                                                                                              \
        (name), TROPT_OPT_PATH, 0, (def), NULL, 0, 0, (help)                                       \
    }
#define TROPT_OPTION_INT(name, def, min, max, help)                                                \
    {                                                                                              \
        (name), TROPT_OPT_INT, TROPT_OPT_HAS_RANGE, (def), NULL, (min), (max), (help)              \
    }
#define TROPT_OPTION_DOUBLE(name, def, min, max, help)                                             \
    {                                                                                              \
        (name), TROPT_OPT_DOUBLE, TROPT_OPT_HAS_RANGE, (def), NULL, (min), (max), (help)           \
    }
#define TROPT_OPTION_BOOL(name, def, help)                                                         \
    {                                                                                              \
        (name), TROPT_OPT_BOOL, 0, (def), NULL, 0, 0, (help)                                       \
    }
/* min_ms, max_ms: the range in milliseconds */
#define TROPT_OPTION_DURATION(name, def, min_ms, max_ms, help)                                     \
    {                                                                                              \
        (name), TROPT_OPT_DURATION, TROPT_OPT_HAS_RANGE, (def), NULL, (min_ms), (max_ms), (help)   \
    }
#define TROPT_OPTION_ENUM(name, def, choices, help)                                                \
    {                                                                                              \
        (name), TROPT_OPT_ENUM, 0, (def), (choices), 0, 0, (help)                                  \
    }
#define TROPT_OPTIONS_END                                                                          \
    {                                                                                              \
        NULL, TROPT_OPT_STRING, 0, NULL, NULL, 0, 0, NULL                                          \
    }
#define TROPT_OPTIONS_CHECK(table, count)                                                          \
    _Static_assert(sizeof(table) / sizeof((table)[0]) == (size_t)(count) + 1,                      \
                   #table ": one row per option, then TROPT_OPTIONS_END at [" #count "]")

/*
 * One validated option value, as handed to create().  The array has one
 * element per declared option, in declaration order.
 *   is_set  1 when the spec gave the option, 0 when the default applies.
 *   text    the value's text (given or default), NUL-terminated; NULL when
 *           neither exists.
 *   i       INT: the value; BOOL: 0/1; DURATION: milliseconds (rounded);
 *           ENUM: index into choices.
 *   d       DOUBLE: the value; DURATION: milliseconds (exact).
 */
typedef struct tropt_optval {
    int is_set;
    const char *text;
    int64_t i;
    double d;
} tropt_optval;

/* ---- Host services ---------------------------------------------------- */

#define TROPT_HOST_VERSION 3

/*
 * Services the host hands to create() (and reader_open()), one copy per
 * instance.  The table and everything it points to stay valid until
 * destroy() (reader_close()) returns.  Every function is thread-safe.
 */
typedef struct tropt_host {
    uint32_t version;     /* TROPT_HOST_VERSION of the host */
    uint32_t struct_size; /* sizeof(tropt_host) of the host */

    /* Record an error message for the calling thread and return `code`,
     * so a hook can `return host->error(TROPT_EBACKEND, "...", ...);`. */
    int (*error)(int code, const char *fmt, ...) TROPT_PRINTF(2, 3);
    /* Emit a diagnostic line through the application's log handler. */
    void (*log)(tropt_level level, const char *fmt, ...) TROPT_PRINTF(2, 3);
    /* The application's allocator (tropt_set_allocator); use it for
     * per-instance state so allocation-failure tests reach the plugin. */
    void *(*malloc)(size_t size);
    void *(*realloc)(void *ptr, size_t size);
    void (*free)(void *ptr);
    /* Wall-clock time, Unix seconds. */
    double (*now)(void);
    /* Write the shortest decimal text that reads back (strtod) to exactly
     * `x`, NUL-terminated, into buf (size >= 32 always suffices); "nan",
     * "inf", "-inf" for non-finite values.  Integral values have no '.' or
     * exponent: 1.0 is "1", -0.0 is "-0", 1e21 is "1e+21" (use json_real
     * where a reader must tell a real from an integer).  Returns the length
     * of the full text, like snprintf: a result >= size means buf holds it
     * truncated. */
    size_t (*format_real)(char *buf, size_t size, double x);

    /* ---- Host version 2: check TROPT_HOST_HAS(host, member) first. ---- */

    /* A real as JSON text that every JSON parser reads back as the same
     * real, never as an integer: "1.0", "-0.0", "0.1", "1e+300"; NaN and
     * +-Inf as the tropt event format's {"$real":"nan"}, {"$real":"inf"},
     * {"$real":"-inf"}.  NUL-terminated in buf (size >= 40 always
     * suffices); returns the length, 0 if it did not fit. */
    size_t (*json_real)(char *buf, size_t size, double x);
    /* The value of field f as JSON text, exactly as the shipped plugins and
     * the event format write it: null, true/false, integers exact, reals as
     * json_real, strings escaped (invalid UTF-8 as U+FFFD), TROPT_JSON
     * values with their reals the same way.  Returns a NUL-terminated string
     * from host->malloc (the caller frees it with host->free) and its length
     * in *len (when len is not NULL), or NULL when memory ran out (with
     * TROPT_ENOMEM recorded for host->error's caller). */
    char *(*json_value)(const tropt_field *f, size_t *len);

    /* ---- Host version 3: check TROPT_HOST_HAS(host, log_from) first. ---- */

    /* log, with the instance's label and ": " put in front by the host: the
     * name or path the user's spec gave this backend ("sqlite: ..."), so a
     * plugin never prefixes by hand and two instances tell themselves apart.
     * `host` must be the table this instance's create() or reader_open()
     * received (each instance gets its own copy; the host reads past the
     * public members to find the label, so never pass a copy of your own).
     * Errors need nothing of the kind: the host puts the
     * label in front of every message a failing hook left. */
    void (*log_from)(const struct tropt_host *host, tropt_level level, const char *fmt, ...)
        TROPT_PRINTF(3, 4);
} tropt_host;

/* Whether the host's services table has `member` (for services newer than
 * TROPT_HOST_MIN_SIZE). */
#define TROPT_HOST_HAS(host, member)                                                               \
    ((host)->struct_size >= offsetof(tropt_host, member) + sizeof((host)->member))

/* Log through host->log_from when the host has it (the host puts the
 * instance's label in front), else through host->log: what a plugin writes
 * instead of prefixing its messages by hand.  `host` is evaluated more than
 * once. */
#define TROPT_HOST_LOG(host, level, ...)                                                           \
    (TROPT_HOST_HAS(host, log_from) ? (host)->log_from((host), (level), __VA_ARGS__)               \
                                    : (host)->log((level), __VA_ARGS__))

/* The host services a plugin may rely on without checking struct_size
 * (those of host version 1, up to and including format_real). */
#define TROPT_HOST_MIN_SIZE (offsetof(tropt_host, format_real) + sizeof(void (*)(void)))

/* ---- The run ---------------------------------------------------------- */

/* Identity of the run being written; borrowed, valid during the hook. */
typedef struct tropt_run {
    const char *run_id;     /* UUIDv7 text, 36 characters */
    const char *experiment; /* experiment name */
    double started_at;      /* Unix seconds */
    const char *host;       /* host name */
    int64_t pid;            /* process id of the writer */
} tropt_run;

/* ---- Reading back (ABI 1.1) ------------------------------------------ */

/*
 * One stored run, as a reader lists it.  Borrowed, valid during the callback.
 *   status     "running", "finished", "aborted" or "crashed"; never NULL.
 *   ended_at   Unix seconds, NaN while the run is open.
 *   host       may be NULL when the backend does not store it.
 *   n_steps    number of steps stored, -1 when unknown without a full read.
 */
typedef struct tropt_stored_run {
    const char *run_id;
    const char *experiment;
    const char *status;
    double started_at;
    double ended_at;
    const char *host;
    int64_t pid;
    int64_t n_steps;
} tropt_stored_run;

/* The kinds of a tropt_event, in the order a run yields them: one START,
 * any number of STEP (ascending step), at most one END. */
typedef enum { TROPT_EVENT_START = 1, TROPT_EVENT_STEP = 2, TROPT_EVENT_END = 3 } tropt_event_kind;

/*
 * One event of a stored run; everything borrowed for the callback only.
 *   run        the run's identity (all kinds).
 *   START      config: the run config (JSON object) or NULL; fields/n: the
 *              flattened config, typed.
 *   STEP       step, time; fields/n: the typed fields exactly as logged.
 *   END        status, ended_at; summary: JSON object or NULL; fields/n:
 *              the flattened summary.
 */
typedef struct tropt_event {
    tropt_event_kind kind;
    const tropt_stored_run *run;
    int64_t step;
    double time;
    const char *status;
    double ended_at;
    const json_t *config;
    const json_t *summary;
    const tropt_field *fields;
    size_t n;
} tropt_event;

/* Callbacks of the reader hooks: return 0 to go on; any other value stops
 * the walk, and the hook returns that value unchanged (so callers should
 * use positive values, distinct from tropt_error codes). */
typedef int (*tropt_run_list_fn)(const tropt_stored_run *run, void *userdata);
typedef int (*tropt_event_fn)(const tropt_event *ev, void *userdata);

/* ---- The hook table --------------------------------------------------- */

typedef struct tropt_plugin {
    /* TROPT_PLUGIN_ABI_VERSION the plugin was built against. */
    uint32_t abi_version;
    /* sizeof(tropt_plugin) at build time. */
    uint32_t struct_size;
    /* Short name, [A-Za-z0-9_-]+, normally the <name> of tropt-<name>.so. */
    const char *name;
    /* One line for `tropt plugins`. */
    const char *description;
    /* Declared options, terminated by a NULL name; NULL for none. */
    const tropt_option_def *options;

    /* Required.  Create an instance from validated options (one value per
     * declared option, in order).  Store the instance in *self.  Must not
     * keep `opts` (copy what you need); may keep `host`. */
    int (*create)(void **self, const tropt_optval *opts, const tropt_host *host);

    /* Required.  A run opens.  `config` is the merged run config (a JSON
     * object) or NULL; `params`/n_params is the same config flattened. */
    int (*init)(void *self, const tropt_run *run, const json_t *config, const tropt_field *params,
                size_t n_params);

    /* Required.  One step of the open run: its number, its wall-clock time
     * (Unix seconds) and its flattened fields (n may be 0). */
    int (*log)(void *self, const tropt_run *run, int64_t step, double time,
               const tropt_field *fields, size_t n);

    /* Required.  The run closes with `status` ("finished", "aborted" or
     * "crashed") at `ended_at`.  `summary` is a JSON object or NULL;
     * `flat`/n_flat is the same summary flattened.  On failure the host
     * keeps the run open and may call finish again. */
    int (*finish)(void *self, const tropt_run *run, const char *status, double ended_at,
                  const json_t *summary, const tropt_field *flat, size_t n_flat);

    /* Optional (may be NULL).  Make everything accepted so far durable. */
    int (*flush)(void *self);

    /* Required.  Release the instance.  If a run is still open here, the
     * host has already tried to finish it. */
    void (*destroy)(void *self);

    /* ---- ABI 1.1: reader hooks.  Optional: all four or none (NULL).  The
     * host reads them only when struct_size covers them, so a 1.0 table
     * loads as a plugin that cannot be read back. */

    /* Open what the options name (e.g. path=) for reading, never creating
     * or changing it.  A missing or foreign store fails with a message
     * naming the path.  Store the reader in *reader; may keep `host`. */
    int (*reader_open)(void **reader, const tropt_optval *opts, const tropt_host *host);
    /* Call fn once per stored run, oldest first. */
    int (*list_runs)(void *reader, tropt_run_list_fn fn, void *userdata);
    /* Stream run `run_id` (a full id, or a unique prefix of at least 8
     * characters) through fn: START, the steps in ascending order, END if
     * the run ended.  Memory must stay bounded by the largest step, not the
     * run's length.  TROPT_ENOTFOUND-like failures use TROPT_EINVAL with a
     * message naming the id. */
    int (*read_run)(void *reader, const char *run_id, tropt_event_fn fn, void *userdata);
    /* Release the reader (never NULL once reader_open succeeded). */
    void (*reader_close)(void *reader);
} tropt_plugin;

/* The struct_size of an ABI 1.1 table (with the reader hooks). */
#define TROPT_PLUGIN_READER_SIZE (offsetof(tropt_plugin, reader_close) + sizeof(void (*)(void)))

/* The struct_size the host requires of ABI 1 plugins: the table of ABI 1.0,
 * up to and including destroy.  Later minors only append. */
#define TROPT_PLUGIN_MIN_SIZE (offsetof(tropt_plugin, destroy) + sizeof(void (*)(void)))

/* The entry point every plugin defines and exports. */
TROPT_PLUGIN_EXPORT const tropt_plugin *tropt_plugin_entry(void);

TROPT_END_DECLS

#endif /* TROPT_PLUGIN_H */
