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

TROPT_END_DECLS

#endif /* TROPT_HOST_H */
