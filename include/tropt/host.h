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
 * The status every command shows for a stored run (SPEC 14: decided in one
 * place): `crashed` when the run is stored `running` and either its
 * heartbeat is older than its bound (heartbeat_age > stale_after, both
 * known), or its writer ran on this host (same host name) in this pid
 * namespace (an unknown pidns counts as this one) as a process that no
 * longer exists; otherwise the stored status ("running" when NULL).  A pid
 * of 0 (unknown) or this process's own never counts as gone.
 * tropt_reader_list_runs and tropt_reader_read_run hand out runs whose
 * status this already decided.  Returns a static string or run->status;
 * NULL run: NULL.  Thread-safe; makes system calls (gethostname, kill).
 */
TROPT_API const char *tropt_run_status(const tropt_stored_run *run);

/* The plugin table behind a reader (owned by it), NULL for NULL. */
TROPT_API const tropt_plugin *tropt_reader_plugin(const tropt_reader *r);

/* Release a reader and unload its plugin.  NULL is a no-op. */
TROPT_API void tropt_reader_free(tropt_reader *r);

TROPT_END_DECLS

#endif /* TROPT_HOST_H */
