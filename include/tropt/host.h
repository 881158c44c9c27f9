/*
 * tropt/host.h - introspection for tools (the `tropt` CLI, test harnesses):
 * listing the plugins on the search path and describing an open tracker.
 * Optimizers do not need this header.
 */
#ifndef TROPT_HOST_H
#define TROPT_HOST_H

#include <tropt/plugin.h>
#include <tropt/tracker.h>

TROPT_BEGIN_DECLS

/*
 * Called once per plugin file found on the search path, in search order.
 *   path     the file.
 *   plugin   its validated hook table, or NULL when the file cannot serve.
 *   error    NULL, or why the file cannot serve (plugin is then NULL).
 *   shadowed 1 when an earlier folder holds a plugin of the same file name
 *            (that earlier one is the one a spec name loads).
 * Everything is borrowed for the call only.  Return 0 to go on, non-zero to
 * stop the walk.
 */
typedef int (*tropt_plugin_visit_fn)(const char *path, const tropt_plugin *plugin,
                                     const char *error, int shadowed, void *userdata);

/*
 * Walk every tropt-*.so in the folders of TROPT_PLUGIN_PATH (absolute ones
 * only) and then the installed plugin dir, loading each to read its table.
 * Returns TROPT_OK, TROPT_EINVAL (fn NULL), TROPT_ENOMEM.
 */
TROPT_API int tropt_plugins_foreach(tropt_plugin_visit_fn fn, void *userdata);

/* The installed plugin dir compiled into the library. */
TROPT_API const char *tropt_plugin_dir(void);

/*
 * Render an option value for display: the text, or "<secret>" for a secret
 * option, or "(unset)".  The result is static or points into def/text.
 */
TROPT_API const char *tropt_option_display(const tropt_option_def *def, const char *text);

/*
 * The allowed range of an option with TROPT_OPT_HAS_RANGE, as text for
 * people: "[1, 1000000000]" for an INT, "[1ms, 60m]" for a DURATION (the
 * largest unit of ms, s, m that divides each bound), "[0, 1e+09]" (%g) for
 * a DOUBLE.  Writes at most size bytes, NUL-terminated, into buf; "" when
 * def is NULL or has no range.  Returns the length written (truncated to
 * fit).  Never fails, allocates nothing.
 */
TROPT_API size_t tropt_option_range(const tropt_option_def *def, char *buf, size_t size);

/* "string", "path", "int", "double", "bool", "duration", "enum". */
TROPT_API const char *tropt_option_type_name(tropt_opt_type type);

/* Number of backends of a tracker (0 for NULL). */
TROPT_API size_t tropt_tracker_backend_count(const tropt_tracker *t);

/*
 * Backend i of a tracker: its plugin table, the file it was loaded from,
 * its validated option values (one per declared option, as handed to
 * create) and its host on_error mode (1 for warn).  Pointers are owned by
 * the tracker and live until tropt_tracker_free.  Returns TROPT_OK or
 * TROPT_EINVAL (t NULL or i out of range); out pointers may be NULL.
 */
TROPT_API int tropt_tracker_backend(const tropt_tracker *t, size_t i, const tropt_plugin **plugin,
                                    const char **path, const tropt_optval **values, int *warn_only);

/* ---- Reading back (SPEC 9) -------------------------------------------- */

/* A reader over one backend's stored runs.  Opaque.  Use one reader from
 * one thread at a time (open one reader per thread to read in parallel). */
typedef struct tropt_reader tropt_reader;

/*
 * Open a reader on what one backend stored.  `spec` names exactly one
 * backend with its options, as for tropt_tracker_open, e.g.
 * "sqlite:path=runs.db", "csv:dir=out", "jsonl:path=run.jsonl".
 * On success *out owns a reader; free it with tropt_reader_free.  On failure
 * *out is NULL and the code is TROPT_EINVAL (spec NULL, malformed, more than
 * one backend, bad option), TROPT_ENOTFOUND / TROPT_EPLUGIN (no such plugin,
 * or the plugin has no reader hooks), TROPT_EBACKEND (the store cannot be
 * read: missing file, not a store of this backend, newer schema; the message
 * names the path) or TROPT_ENOMEM; tropt_error_message() explains.
 * Opening never creates or changes the store.
 */
TROPT_API int tropt_reader_open(tropt_reader **out, const char *spec);

/*
 * Call fn once per stored run, oldest first, with a tropt_stored_run borrowed
 * for the call.  fn returns 0 to go on, non-zero to stop; that value is then
 * returned unchanged.  Otherwise returns TROPT_OK, TROPT_EINVAL (r or fn
 * NULL) or the backend's failure code with a message.
 */
TROPT_API int tropt_reader_list_runs(tropt_reader *r, tropt_run_list_fn fn, void *userdata);

/*
 * Stream one run (run_id: a full id or a unique prefix of at least 8
 * characters) through fn, event by event: START, each step in ascending
 * order, END when the run ended.  Everything an event points to is borrowed
 * for the call.  The memory used is bounded by the largest single step, not
 * by the run's length.  fn returns 0 to go on, non-zero to stop (returned
 * unchanged).  Otherwise returns TROPT_OK, TROPT_EINVAL (NULL argument, no
 * such run) or the backend's failure code with a message.
 */
TROPT_API int tropt_reader_read_run(tropt_reader *r, const char *run_id, tropt_event_fn fn,
                                    void *userdata);

/*
 * tropt_reader_read_run with every stored event: the steps a later attempt
 * superseded too (tropt_event.superseded 1), for tools that copy a run
 * whole (replay, convert).  Same rules and returns as tropt_reader_read_run.
 */
TROPT_API int tropt_reader_read_history(tropt_reader *r, const char *run_id, tropt_event_fn fn,
                                        void *userdata);

/*
 * Find the one run `ref` names (SPEC 14): a full id, a unique id prefix, or
 * a name; an id wins over a name that looks like a prefix of it.  On success
 * writes the run's full id (36 characters and a NUL) into id_out.  Returns
 * TROPT_OK; TROPT_ENOTFOUND (nothing matches); TROPT_EINVAL (r, ref or
 * id_out NULL, ref empty, or ambiguous: the message lists every candidate
 * with its name, start time and status); the backend's failure code.
 */
TROPT_API int tropt_reader_resolve(tropt_reader *r, const char *ref, char id_out[37]);

/*
 * The status the host shows for a stored run (SPEC 14: decided in one place
 * for every backend and command): its stored status, except that a
 * "running" run whose writer is gone is "crashed" (its heartbeat older than
 * stale_after, or, on this host and in this pid namespace, its process no
 * longer there).  Returns a static string; "unknown" for NULL.
 */
TROPT_API const char *tropt_run_status(const tropt_stored_run *run);

/*
 * A name for a run that has none stored (runs written before names
 * existed): "<adjective>-<noun>-<n>" derived from the run id, the same at
 * every call.  Writes at most size bytes, NUL-terminated; returns the
 * length it needed.  Never fails (an invalid id gives "run").
 */
TROPT_API size_t tropt_run_default_name(const char *run_id, char *buf, size_t size);

/* The plugin table behind a reader (owned by it), NULL for NULL. */
TROPT_API const tropt_plugin *tropt_reader_plugin(const tropt_reader *r);

/* Release a reader and unload its plugin.  NULL is a no-op. */
TROPT_API void tropt_reader_free(tropt_reader *r);

/* ---- Editing stored runs, importing (SPEC 14, 15) -------------------- */

/*
 * Apply a metadata change (tag, untag, note, rename) to stored run `run_id`
 * (a full id: resolve references with tropt_reader_resolve first) on every
 * backend of t that keeps run metadata.  No run need be active; t may have
 * one.  Returns TROPT_OK; TROPT_EPLUGIN when no backend of t has the
 * metadata hooks (the message names them); TROPT_EINVAL (NULL argument, an
 * invalid tag or name, a backend that holds no such run); TROPT_EBACKEND;
 * TROPT_ENOMEM.
 */
TROPT_API int tropt_tracker_annotate_run(tropt_tracker *t, const char *run_id,
                                         const tropt_annotation *a);

/*
 * Delete stored run `run_id` (a full id) from every backend of t that can.
 * Refuses the tracker's own active run (TROPT_ESTATE).  Returns as
 * tropt_tracker_annotate_run.
 */
TROPT_API int tropt_tracker_delete_run(tropt_tracker *t, const char *run_id);

/*
 * What tropt_tracker_import_run opens: a run (attempt 1) or a continuation
 * (attempt > 1) with a given identity, as `tropt replay` reproduces them.
 * Set struct_size to sizeof(tropt_run_record); members appended later are
 * read only when struct_size covers them.  NULL / 0 members take what init
 * would use (a new id, now, this host, this process, a default name).
 */
typedef struct tropt_run_record {
    uint32_t struct_size;
    const char *run_id;                 /* 36-character UUID text; NULL: a new UUIDv7 */
    const char *experiment;             /* NULL: the tracker's */
    const char *name;                   /* NULL: a default name */
    double started_at;                  /* the run's start; <= 0: now */
    const char *host;                   /* this attempt's writer; NULL: this host */
    int64_t pid;                        /* <= 0: this process */
    int64_t attempt;                    /* <= 1: a new run; k > 1: continue run_id as attempt k */
    int64_t from_step;                  /* attempt > 1: its first step (>= 0) */
    double attempt_started_at;          /* attempt > 1: its start; <= 0: now */
    const char *resume_key;             /* NULL: none */
    const char *pidns;                  /* NULL: unknown */
    const tropt_provenance *provenance; /* NULL: unknown */
} tropt_run_record;

/*
 * tropt_tracker_init_run with a whole record (state rules as init).  Its
 * strings are copied.  Returns as tropt_tracker_init_run, and TROPT_EINVAL
 * for a record that is not one (struct_size too small, attempt > 1 without
 * run_id or with a negative from_step, an invalid name).
 */
TROPT_API int tropt_tracker_import_run(tropt_tracker *t, const tropt_run_record *rec,
                                       const json_t *config);

/*
 * Hand a complete checkpoint mark (as read back) of the active run to every
 * backend that stores marks.  Returns TROPT_OK, TROPT_ESTATE (no active
 * run), TROPT_EINVAL (NULL argument), TROPT_EBACKEND, TROPT_ENOMEM.
 */
TROPT_API int tropt_tracker_import_checkpoint(tropt_tracker *t, const tropt_checkpoint *mark);

/*
 * Hand system samples taken at `time` (as read back) of the active run to
 * every backend that stores them.  Returns as tropt_tracker_import_checkpoint.
 */
TROPT_API int tropt_tracker_import_system(tropt_tracker *t, double time,
                                          const tropt_sample *samples, size_t n);

TROPT_END_DECLS

#endif /* TROPT_HOST_H */
