/* plugins/sqlite/sqlite_read.h - the sqlite backend's reader hooks (ABI 1.1). */
#ifndef TROPT_SQLITE_READ_H
#define TROPT_SQLITE_READ_H

#include <tropt/plugin.h>

/* The hooks of tropt_plugin (see plugin.h); the path is option 0. */
int tsq_reader_open(void **reader, const tropt_optval *opts, const tropt_host *host);
int tsq_list_runs(void *reader, tropt_run_list_fn fn, void *userdata);
int tsq_read_run(void *reader, const char *run_id, tropt_event_fn fn, void *userdata);
void tsq_reader_close(void *reader);

#endif
