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
 * The same rule versions every struct that crosses the ABI, so that they
 * too grow only by appending members:
 *   - structs the plugin fills and the host reads (tropt_stored_run,
 *     tropt_event): the host reads a member appended by ABI 1.N only when
 *     the plugin's table is at least that minor's size (its struct_size
 *     covers the hooks 1.N appended), so a 1.1 plugin's smaller structs are
 *     never read past their end;
 *   - structs the host fills and the plugin reads (tropt_run): the members
 *     appended by ABI 1.2 are there when host->version >= 4
 *     (TROPT_HOST_RUN_V12(host)); an older host never passes them.
 * Each appended member says in its comment which minor added it.
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
 *   - ABI 1.2: checkpoint and log_system only while a run is open (between
 *     its init and finish); annotate and delete_run at any time, for the
 *     open run or for any stored one (`tropt tag`, `tropt rm` create an
 *     instance and call them with no run open).
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
#define TROPT_PLUGIN_ABI_MINOR 2
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

/* 4: tropt_run carries the ABI 1.2 members (TROPT_HOST_RUN_V12). */
#define TROPT_HOST_VERSION 4

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

/* Whether the host fills the members ABI 1.2 appended to tropt_run (name,
 * attempt, ...): hosts with services version 4 and later do. */
#define TROPT_HOST_RUN_V12(host) ((host)->version >= 4)

/* ---- The run ---------------------------------------------------------- */

/* Where a run came from, recorded when it opens (ABI 1.2).  Borrowed like
 * the run it belongs to.  Any member may be NULL: unknown. */
typedef struct tropt_provenance {
    const char *command;    /* the command line: its words shell-quoted, joined by spaces */
    const char *cwd;        /* the working directory */
    const char *git_commit; /* the commit (40 hex) checked out in cwd's git work tree;
                               NULL when cwd is not in one */
    const char *version;    /* the tropt library version that wrote the run ("0.2.0") */
} tropt_provenance;

/*
 * Identity of the run being written; borrowed, valid during the hook.
 *
 * A run may be continued after its process died or finished (SPEC 15):
 * each continuation is an attempt.  Attempt 1 opens the run; attempt k > 1
 * continues it from from_step, and every step an earlier attempt logged at
 * or after from_step is superseded (kept, but no longer the step's current
 * value).  init receives each attempt: with attempt > 1 a storing plugin
 * continues the run it holds under run_id (or creates it, when this store
 * has never seen it, e.g. a backend added to the spec later), records the
 * attempt, and refuses (TROPT_EBACKEND, naming the run and attempt) when it
 * holds that attempt already from another process: two processes resuming
 * one run at once must not both succeed.  An attempt it holds with the same
 * attempt_started_at, host and pid is a replay of the same events and is
 * continued without a new attempt.
 */
typedef struct tropt_run {
    const char *run_id;     /* UUIDv7 text, 36 characters */
    const char *experiment; /* experiment name */
    double started_at;      /* Unix seconds: the run's start (its first attempt's) */
    const char *host;       /* host name of this attempt's writer */
    int64_t pid;            /* process id of this attempt's writer */

    /* ---- ABI 1.2: present when TROPT_HOST_RUN_V12(host) ---------------- */
    const char *name;                   /* the run's name (SPEC 14): never NULL, printable,
                                           no '/', no control character, no leading '.' */
    int64_t attempt;                    /* 1 for a new run; k for its (k-1)-th continuation */
    int64_t from_step;                  /* the first step of this attempt (0 for attempt 1) */
    double attempt_started_at;          /* Unix seconds: this attempt's start */
    const char *resume_key;             /* the key a later attempt finds the run by, or NULL */
    const char *pidns;                  /* the writer's pid namespace ("pid:[4026531836]"),
                                           for the crashed rule; NULL when unknown */
    const tropt_provenance *provenance; /* never NULL; its members may be NULL */
    int given_id; /* 1 when the run's id was given to the host (a continuation, a
                     replay, an import): only then can the store already hold it
                     (a deleted run, an attempt started by another process); 0
                     when the host made the id just now */
} tropt_run;

/* ---- Run metadata, checkpoint marks, system samples (ABI 1.2) -------- */

/* A change to a run's metadata, made during the run (tropt_tracker_tag) or
 * afterwards (`tropt tag|untag|note|rename`). */
typedef enum {
    TROPT_ANNOTATE_TAG = 1,   /* add the tag `text` (adding one twice keeps one) */
    TROPT_ANNOTATE_UNTAG = 2, /* remove the tag `text` (absent: no change) */
    TROPT_ANNOTATE_NOTE = 3,  /* the run's note becomes `text` ("" removes it) */
    TROPT_ANNOTATE_RENAME = 4 /* the run's name becomes `text` (a valid name) */
} tropt_annotation_kind;

typedef struct tropt_annotation {
    tropt_annotation_kind kind;
    const char *text; /* never NULL; tags and names are validated by the host */
    double time;      /* Unix seconds of the change */
} tropt_annotation;

/*
 * A checkpoint mark (tropt_tracker_checkpoint): the optimizer saved its state
 * to `path` after logging `step`, so a resumed run continues at step + 1.
 * The host hands a mark to the checkpoint hook twice: at the call, with
 * size -1 and sha256 NULL (store it as durably as a logged step), and again
 * once the file is hashed off the caller's thread, with the same run, attempt,
 * seq, step and path and size/sha256 filled (or `error` saying why the hash
 * could not be computed): update the stored mark.  The host may also hand a
 * complete mark once (a replay).
 */
typedef struct tropt_checkpoint {
    int64_t attempt;    /* the attempt that took the mark */
    int64_t seq;        /* 0, 1, 2, ... per attempt: (run, attempt, seq) names the mark */
    int64_t step;       /* the last step logged before the mark; -1 when none was */
    double time;        /* Unix seconds of the call */
    const char *path;   /* the file, as an absolute path */
    int64_t size;       /* bytes; -1 until known */
    const char *sha256; /* 64 lowercase hex digits; NULL until known */
    const char *error;  /* why size and sha256 will never come (the file vanished,
                           unreadable); NULL otherwise */
} tropt_checkpoint;

/* One system metric over a sampling interval (SPEC 16): the mean and the
 * maximum of the samples taken in it.  Keys are "sys/..." (README). */
typedef struct tropt_sample {
    const char *key;
    double value; /* the mean over the interval */
    double max;   /* the largest sample in it */
} tropt_sample;

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
    const char *status; /* as stored; the host's reader layer turns a "running"
                           run whose writer is gone into "crashed" */
    double started_at;  /* the run's start (its first attempt's) */
    double ended_at;
    const char *host; /* the latest attempt's writer */
    int64_t pid;      /* the latest attempt's writer */
    int64_t n_steps;  /* distinct steps, current values only */

    /* ---- ABI 1.2: the host reads these only from a plugin whose table is
     * ABI 1.2 or later (struct_size >= TROPT_PLUGIN_V12_SIZE).  Such a plugin
     * zeroes the struct, then fills every member and sets attempts >= 1:
     * attempts 0 tells the host they were not filled (a plugin rebuilt
     * against this header without reading it), and it takes its defaults.
     * Tools reading through tropt_reader_* always get them filled. */
    const char *name;        /* NULL: none stored (the host derives one from the id) */
    const char *const *tags; /* n_tags tags, in the order they were added */
    size_t n_tags;
    const char *note;                   /* NULL: none */
    int64_t attempts;                   /* attempts stored, >= 1 */
    int64_t last_step;                  /* the highest step stored (any attempt); -1: none */
    int64_t checkpoint_step;            /* the step of the latest checkpoint mark; -1: none */
    const char *resume_key;             /* NULL: none */
    const char *pidns;                  /* the latest writer's pid namespace; NULL: unknown */
    double heartbeat_age;               /* seconds since the writer's last sign of life, as
                                           the store measures it; NaN: the store keeps none */
    double stale_after;                 /* a running run silent for longer is crashed; NaN: none */
    const tropt_provenance *provenance; /* NULL: unknown */
} tropt_stored_run;

/*
 * The kinds of a tropt_event, in the order a run yields them: one START,
 * the STEP events of attempt 1 (ascending step), then for each later attempt
 * one ATTEMPT and its STEP events (ascending), at most one END.  CHECKPOINT
 * and SYSTEM events (ABI 1.2) come anywhere after the START or ATTEMPT of
 * the attempt they belong to and before the next ATTEMPT; SYSTEM events in
 * time order.  A plugin yields every step it stored, superseded ones too;
 * the host's reader layer drops or marks them (tropt_reader_read_run,
 * tropt_reader_read_history).
 */
typedef enum {
    TROPT_EVENT_START = 1,
    TROPT_EVENT_STEP = 2,
    TROPT_EVENT_END = 3,
    /* ABI 1.2 */
    TROPT_EVENT_ATTEMPT = 4,    /* attempt k > 1 begins: config, attempt */
    TROPT_EVENT_CHECKPOINT = 5, /* a checkpoint mark: checkpoint */
    TROPT_EVENT_SYSTEM = 6      /* system samples at `time`: samples/n_samples */
} tropt_event_kind;

/* One attempt of a stored run (ABI 1.2), as START lists them. */
typedef struct tropt_attempt {
    int64_t attempt;    /* 1, 2, ... */
    int64_t from_step;  /* its first step (0 for attempt 1) */
    double started_at;  /* Unix seconds */
    double ended_at;    /* NaN while open or when it never ended (crashed) */
    const char *status; /* "running", "finished", "aborted", "crashed" as stored */
    const char *host;
    int64_t pid;
} tropt_attempt;

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

    /* ---- ABI 1.2 (read from plugins with struct_size >= TROPT_PLUGIN_V12_SIZE) */
    int64_t attempt;               /* STEP, ATTEMPT, CHECKPOINT, SYSTEM: the attempt it
                                      belongs to (0 is taken as 1) */
    const tropt_attempt *attempts; /* START: every attempt of the run, in order
                                      (n_attempts 0: one attempt from step 0) */
    size_t n_attempts;
    const tropt_checkpoint *checkpoint; /* CHECKPOINT */
    const tropt_sample *samples;        /* SYSTEM, at `time` */
    size_t n_samples;
    int superseded; /* STEP, set by the host in tropt_reader_read_history: a later
                       attempt continued from this step or an earlier one */
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

    /* ---- ABI 1.2: run metadata.  Optional: both or none (NULL).  A
     * plugin with them also fills tropt_stored_run's name, tags and note. */

    /* Apply a metadata change to run `run_id`: the open run, or any run this
     * store holds.  TROPT_EINVAL with a message naming the id when the store
     * holds no such run.  Stored so that a later read (and a replay) shows
     * it; a journal records it as an event. */
    int (*annotate)(void *self, const char *run_id, const tropt_annotation *a);
    /* Delete run `run_id` (never the open run: the host refuses that) with
     * everything stored for it, giving the space back where the medium can;
     * a later replay of events that still hold the run must not bring it
     * back silently (refuse its init with TROPT_EINVAL saying it was
     * deleted).  TROPT_EINVAL when the store holds no such run. */
    int (*delete_run)(void *self, const char *run_id);

    /* ---- ABI 1.2: optional, each on its own (NULL: not stored). */

    /* A checkpoint mark of the open run (see tropt_checkpoint). */
    int (*checkpoint)(void *self, const tropt_run *run, const tropt_checkpoint *mark);
    /* System samples of the open run at wall time `time` (SPEC 16): on the
     * time axis, not a step.  A backend that knows only steps files them at
     * the run's current step with their time. */
    int (*log_system)(void *self, const tropt_run *run, double time, const tropt_sample *samples,
                      size_t n);
} tropt_plugin;

/* The struct_size of an ABI 1.1 table (with the reader hooks). */
#define TROPT_PLUGIN_READER_SIZE (offsetof(tropt_plugin, reader_close) + sizeof(void (*)(void)))

/* The struct_size of an ABI 1.2 table: the host reads the 1.2 members of
 * tropt_stored_run and tropt_event only from plugins at least this big. */
#define TROPT_PLUGIN_V12_SIZE (offsetof(tropt_plugin, log_system) + sizeof(void (*)(void)))

/* The struct_size the host requires of ABI 1 plugins: the table of ABI 1.0,
 * up to and including destroy.  Later minors only append. */
#define TROPT_PLUGIN_MIN_SIZE (offsetof(tropt_plugin, destroy) + sizeof(void (*)(void)))

/* The entry point every plugin defines and exports. */
TROPT_PLUGIN_EXPORT const tropt_plugin *tropt_plugin_entry(void);

TROPT_END_DECLS

#endif /* TROPT_PLUGIN_H */
