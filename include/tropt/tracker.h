/*
 * tropt/tracker.h - the API an optimizer uses to report its runs.
 *
 *   tropt_tracker *t;
 *   if (tropt_tracker_open(&t, "sqlite:path=runs.db", "adam", NULL) != TROPT_OK)
 *       fprintf(stderr, "%s\n", tropt_error_message());
 *   tropt_tracker_init(t, config);          opens a run
 *   tropt_tracker_log(t, step_object);      one step per call
 *   tropt_tracker_finish(t, summary);       closes the run
 *   tropt_tracker_free(t);
 *
 * The state machine mirrors tropt's Python BaseTracker exactly (see each
 * function).  Every function that can fail returns TROPT_OK or a negative
 * tropt_error; the message of the last failure on the calling thread is
 * tropt_error_message().
 *
 * Ownership: every json_t argument is borrowed for the duration of the call,
 * never stolen, never kept.  Every const char * argument likewise.
 *
 * Threads: calls on one tracker from several threads are serialized by the
 * library.  Separate trackers are independent.  Freeing a tracker while
 * another thread still calls into it is the caller's error (as for free()).
 *
 * fork(): a tracker belongs to the process that opened it.  In a child,
 * init, log, finish and flush on a tracker the parent opened return
 * TROPT_ESTATE without touching its backends (their files, connections and
 * threads are the parent's; using them would duplicate or lose steps), and
 * tropt_tracker_free only forgets it.  Open a new tracker in the child.
 *
 * Trust: the spec string and TROPT_PLUGIN_PATH choose which shared objects
 * are loaded into the process, like LD_LIBRARY_PATH.  Never build them from
 * untrusted input.
 */
#ifndef TROPT_TRACKER_H
#define TROPT_TRACKER_H

#include <tropt/common.h>

TROPT_BEGIN_DECLS

/* The experiment name used when tropt_tracker_open gets NULL. */
#define TROPT_DEFAULT_EXPERIMENT "tropt_experiment"
/* The spec used when tropt_tracker_open gets NULL and TROPT_TRACKER is unset. */
#define TROPT_DEFAULT_SPEC "sqlite:path=tropt.db"

/* The deepest nesting a logged value, config or summary may have: the
 * members of the object passed are at level 1, their elements at level 2,
 * and so on.  A deeper value, or one that contains itself (the jansson API
 * can build such a value; json_loads cannot), is refused with TROPT_EINVAL
 * before any backend sees it.  jansson's parser has the same limit. */
#define TROPT_MAX_DEPTH 2048

typedef struct tropt_tracker tropt_tracker;

/*
 * Parse `spec`, load and create every backend it names and validate every
 * option.  Starts no run.
 *   out                 receives the new tracker; set to NULL on failure.
 *   spec                backend spec (see README); NULL uses the environment
 *                       variable TROPT_TRACKER, then TROPT_DEFAULT_SPEC.
 *   experiment_name     NULL means TROPT_DEFAULT_EXPERIMENT; copied.
 *   experiment_config   a JSON object or NULL; copied (deep), so the caller
 *                       keeps ownership of its value.
 * Returns TROPT_OK; TROPT_EINVAL (out NULL, malformed spec, unknown or
 * ill-typed option, experiment_config not an object, nested deeper than
 * TROPT_MAX_DEPTH or containing itself, or holding a string with a NUL
 * character); TROPT_ENOTFOUND (no
 * plugin of that name on the search path); TROPT_EPLUGIN (a file that cannot
 * serve as a plugin); TROPT_EBACKEND (a backend's create failed);
 * TROPT_ENOMEM.  On failure nothing is left allocated or loaded.
 */
TROPT_API int tropt_tracker_open(tropt_tracker **out, const char *spec, const char *experiment_name,
                                 const json_t *experiment_config);

/*
 * Open a new run.  If a run is active, warns
 * "init() called on already-active tracker (previous run not finished).
 * Auto-finishing the previous run." and finishes it first with status
 * "aborted" (its owner never finished it; no summary); if
 * that finish fails its error is returned and the old run stays active.
 * The run's config is the shallow merge of experiment_config and `config`
 * (keys of `config` win); backends receive NULL when both are NULL or empty.
 * As in the reference, the tracker is active once this is called, even if a
 * backend's init fails (that failure is returned; log and finish then skip
 * the backends that could not open the run, reporting it).
 *   config  a JSON object or NULL; borrowed.
 * Returns TROPT_OK, TROPT_EINVAL (t NULL, config not an object, nested
 * deeper than TROPT_MAX_DEPTH or containing itself, or holding a string
 * with a NUL character),
 * TROPT_EBACKEND, TROPT_ENOMEM.
 */
TROPT_API int tropt_tracker_init(tropt_tracker *t, const json_t *config);

/*
 * Write one step.  Steps are numbered 0, 1, 2, ... per run and carry the
 * wall-clock time of the call.  Nested objects are flattened to "a/b" keys;
 * arrays are kept whole.
 *   data  a JSON object; borrowed.
 * Returns TROPT_OK; TROPT_ESTATE with "log() called on inactive tracker
 * (missing init()?)" when no run is active (nothing is written);
 * TROPT_EINVAL (data not an object, two members flattening to one key, a
 * value nested deeper than TROPT_MAX_DEPTH or containing itself, a string
 * holding a NUL character);
 * TROPT_EBACKEND; TROPT_ENOMEM.  A step that reached the backends consumes
 * its step number even if a backend failed.
 */
TROPT_API int tropt_tracker_log(tropt_tracker *t, const json_t *data);

/*
 * Write one step from typed fields: the allocation-free path for hot loops
 * and the only way to log NaN and +-Inf.  Same rules as tropt_tracker_log.
 *   fields  n fields, borrowed; may be NULL when n is 0.  A TROPT_JSON field
 *           holding an object is flattened under its key.
 * Returns as tropt_tracker_log; TROPT_EINVAL for a NULL key, a NULL string
 * or JSON pointer, an unknown type, or a duplicate key.
 */
TROPT_API int tropt_tracker_log_fields(tropt_tracker *t, const tropt_field *fields, size_t n);

/*
 * Close the active run with status "finished", writing `summary` if given.
 * With no active run, warns "finish() called on inactive tracker — ignoring."
 * and returns TROPT_OK.  If a backend's finish fails, that error is returned
 * and the run stays active (calling finish again retries only the backends
 * that have not closed it).
 *   summary  a JSON object or NULL; borrowed.
 * Returns TROPT_OK, TROPT_EINVAL (summary not an object, nested deeper
 * than TROPT_MAX_DEPTH or containing itself, or holding a string with a
 * NUL character), TROPT_EBACKEND,
 * TROPT_ENOMEM.
 */
TROPT_API int tropt_tracker_finish(tropt_tracker *t, const json_t *summary);

/*
 * Ask every backend to make everything accepted so far durable (a barrier).
 * Returns TROPT_OK, TROPT_EINVAL (t NULL), TROPT_EBACKEND.
 */
TROPT_API int tropt_tracker_flush(tropt_tracker *t);

/* 1 when a run is active, 0 otherwise (and for NULL, and in a forked child
 * of the process that opened t: see fork() above). */
TROPT_API int tropt_tracker_is_active(const tropt_tracker *t);

/*
 * The active run's id (UUIDv7 text, 36 characters), or NULL when no run is
 * active.  The pointer stays valid until the next init, finish or free on t.
 */
TROPT_API const char *tropt_tracker_run_id(const tropt_tracker *t);

/*
 * The step number the next plain log of the active run gets: 0 for a new
 * run, from_step for a resumed one (the step after its last checkpoint mark
 * or last step), so an optimizer knows which state to restore.  -1 when no
 * run is active (and for NULL).
 */
TROPT_API int64_t tropt_tracker_next_step(const tropt_tracker *t);

/*
 * Finish an active run with status "aborted" (no data already logged is
 * lost), destroy every backend and unload its plugin.  NULL is a no-op.
 */
TROPT_API void tropt_tracker_free(tropt_tracker *t);

/* ---- Run identity, resume, checkpoints (SPEC 14-16) ------------------- */

/* The longest run name, tag or resume key accepted, in bytes. */
#define TROPT_MAX_NAME 200

/*
 * Name the next run this tracker opens (init, init_run or resume of a new
 * run): a name people read and type (SPEC 14).  It applies once: the run
 * after that gets a default name again.  NULL forgets a name set before.
 * A name is printable UTF-8 text of at most TROPT_MAX_NAME bytes without
 * '/', control characters or a leading '.', and not empty; names need not
 * be unique.  Without a name the run is named by $TROPT_RUN_NAME (the
 * process's first run; later ones get "NAME-2", "NAME-3", ...), else by a
 * default "<adjective>-<noun>-<n>" unique within the store (README).
 * The name is copied.  Returns TROPT_OK, TROPT_EINVAL (t NULL, an invalid
 * name: the message says what is wrong), TROPT_ENOMEM.
 */
TROPT_API int tropt_tracker_set_run_name(tropt_tracker *t, const char *name);

/*
 * The active run's name, or NULL when no run is active.  The pointer stays
 * valid until the next init, finish or free on t.
 */
TROPT_API const char *tropt_tracker_run_name(const tropt_tracker *t);

/*
 * Tag the active run ("baseline", "bad-seed"): stored by every backend that
 * keeps run metadata (the others ignore it).  A tag follows the rules of a
 * name (see tropt_tracker_set_run_name) and may also not contain ','.
 * Returns TROPT_OK, TROPT_ESTATE (no active run), TROPT_EINVAL (t NULL, an
 * invalid tag), TROPT_EBACKEND, TROPT_ENOMEM.
 */
TROPT_API int tropt_tracker_tag(tropt_tracker *t, const char *tag);

/*
 * Set a tracker-wide host option, as the spec string can (SPEC 15, 16):
 *   "resume"      never|allow|must: what init does with resume_key.
 *   "resume_key"  the key a run is found by when it is resumed (e.g. a batch
 *                 job id), or "run:ID-OR-NAME" for one run; "" unsets it.
 *   "sys"         a duration ("15s", "500ms", "1m") between two system
 *                 metric records, or "off".
 * The environment variables TROPT_RESUME, TROPT_RESUME_KEY and TROPT_SYS give
 * the defaults; the spec string and this function override them.  Takes
 * effect at the next init.  Returns TROPT_OK, TROPT_EINVAL (t, key or value
 * NULL, an unknown key, a malformed value), TROPT_ENOMEM.
 */
TROPT_API int tropt_tracker_set_option(tropt_tracker *t, const char *key, const char *value);

/*
 * Continue run `run` (a full id, a unique id prefix, or a name, looked up in
 * the first backend of the spec that can read) as a new attempt (SPEC 15),
 * auto-finishing an active run first as init does.
 *   from_step  < 0: the step after the run's last checkpoint mark, or with no
 *              mark the step after its last logged step; >= 0: that step.
 *              Steps an earlier attempt logged at or after it are superseded.
 *   config     the attempt's config (merged with experiment_config as init
 *              does); NULL allowed; borrowed.
 * The next plain log is step from_step.  Returns TROPT_OK; TROPT_ENOTFOUND
 * (no such run; the message names the store); TROPT_EINVAL (t or run NULL,
 * an ambiguous prefix or name: the message lists the candidates, a config
 * that is not an object); TROPT_ESTATE (the run is still running in a live
 * process: one run has one writer); TROPT_EPLUGIN (no backend of the spec
 * can read); TROPT_EBACKEND (a backend refused: another process resumed the
 * run at the same time); TROPT_ENOMEM.
 */
TROPT_API int tropt_tracker_resume(tropt_tracker *t, const char *run, int64_t from_step,
                                   const json_t *config);

/*
 * Record a checkpoint mark for the active run: the optimizer saved its state
 * to `path` after the last step it logged, so a resumed run continues at the
 * step after it.  The mark's step and path are stored before this returns,
 * as durably as a logged step; the file's size and SHA-256 are computed on a
 * thread of the tracker's (log never waits for it) and stored when done;
 * flush and finish wait for them.  `path` is copied (made absolute).
 * Returns TROPT_OK, TROPT_ESTATE (no active run), TROPT_EINVAL (t or path
 * NULL, no such file), TROPT_EBACKEND, TROPT_ENOMEM.
 */
TROPT_API int tropt_tracker_checkpoint(tropt_tracker *t, const char *path);

/* ---- Replaying and importing runs ------------------------------------- */

/*
 * The identity of a run opened with tropt_tracker_init_run.  Any member may
 * be left 0/NULL to get what tropt_tracker_init would use.
 *   run_id      36-character UUID text; NULL: a new UUIDv7.
 *   experiment  NULL: the tracker's experiment name.
 *   started_at  Unix seconds; <= 0: now.
 *   host        NULL: this host's name.
 *   pid         <= 0: this process.
 */
typedef struct tropt_run_info {
    const char *run_id;
    const char *experiment;
    double started_at;
    const char *host;
    int64_t pid;
} tropt_run_info;

/*
 * tropt_tracker_init with a given run identity (used by `tropt replay` and
 * importers).  Same state rules as tropt_tracker_init.  The strings of
 * `info` are copied.  Returns as tropt_tracker_init, and TROPT_EINVAL for a
 * run_id that is not a UUID.
 */
TROPT_API int tropt_tracker_init_run(tropt_tracker *t, const tropt_run_info *info,
                                     const json_t *config);

/*
 * tropt_tracker_log_fields at a given step and time.
 *   step  >= 0: that step number (later plain logs continue after the
 *         highest step seen); < 0: the next step.
 *   time  Unix seconds; < 0 or NaN: now.
 * Returns as tropt_tracker_log_fields.
 */
TROPT_API int tropt_tracker_log_fields_at(tropt_tracker *t, int64_t step, double time,
                                          const tropt_field *fields, size_t n);

/*
 * tropt_tracker_finish with a given status and end time.
 *   status    "finished", "aborted" or "crashed"; NULL: "finished".
 *   ended_at  Unix seconds; <= 0: now.
 * Returns as tropt_tracker_finish, and TROPT_EINVAL for another status.
 */
TROPT_API int tropt_tracker_finish_run(tropt_tracker *t, const char *status, double ended_at,
                                       const json_t *summary);

/* ---- Errors and diagnostics -------------------------------------------- */

/*
 * The message of the last failure on the calling thread.  Never NULL; may be
 * "" or stale after a success.  Valid until the next tropt call on this
 * thread.
 */
TROPT_API const char *tropt_error_message(void);

/* "TROPT_EINVAL" for TROPT_EINVAL, ...; "TROPT_UNKNOWN" for other values. */
TROPT_API const char *tropt_error_name(int code);

/*
 * Receives every diagnostic line at or above the threshold.  `message` is
 * valid only during the call.  Called from the thread that caused the line
 * (for some backends, a background thread of the plugin): it must be
 * thread-safe.
 */
typedef void (*tropt_log_fn)(tropt_level level, const char *message, void *userdata);

/*
 * Route diagnostics to `fn` (NULL restores the default handler, which writes
 * "tropt: <level>: <message>" to stderr).  The threshold comes from the
 * environment variable TROPT_LOG_LEVEL (debug|info|warning|error|off;
 * default warning) unless tropt_set_log_level was called.  Process-wide;
 * safe to call from any thread.  It returns only once no other thread is
 * still running the previous handler, so the previous userdata may be
 * freed as soon as it returns (a call made from inside a handler does not
 * wait for that handler's own thread).  A handler must not wait for
 * another thread that is itself calling tropt_set_log_handler.
 */
TROPT_API void tropt_set_log_handler(tropt_log_fn fn, void *userdata);

/* Set the process-wide threshold, overriding TROPT_LOG_LEVEL.  A value
 * outside TROPT_LEVEL_DEBUG..TROPT_LEVEL_OFF (e.g. -1) goes back to reading
 * TROPT_LOG_LEVEL (again, at the next diagnostic). */
TROPT_API void tropt_set_log_level(tropt_level level);

/* "debug", "info", "warning", "error", "off". */
TROPT_API const char *tropt_level_name(tropt_level level);

/*
 * The allocator used by the library and, through the host services, by
 * well-behaved plugins.  Meant for embedding into custom heaps and for
 * allocation-failure testing.  All three functions must be given; NULL
 * restores malloc/realloc/free.  Call it only while no tracker exists.
 */
typedef struct tropt_allocator {
    void *(*malloc)(size_t size);
    void *(*realloc)(void *ptr, size_t size);
    void (*free)(void *ptr);
} tropt_allocator;

/* Returns TROPT_OK, or TROPT_EINVAL when a function pointer is missing. */
TROPT_API int tropt_set_allocator(const tropt_allocator *a);

/* The library version, "MAJOR.MINOR.PATCH". */
TROPT_API const char *tropt_version(void);

TROPT_END_DECLS

#endif /* TROPT_TRACKER_H */
