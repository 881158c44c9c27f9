/* plugins/csv/csv_read.h - the csv backend's reader hooks (ABI 1.1). */
#ifndef TROPT_CSV_READ_H
#define TROPT_CSV_READ_H

#include <tropt/plugin.h>

/* The hooks of tropt_plugin (see plugin.h); `dir` is option 0: the folder
 * holding <experiment>/<run_id>/ (or one run folder itself). */
int tcr_reader_open(void **reader, const tropt_optval *opts, const tropt_host *host);
int tcr_list_runs(void *reader, tropt_run_list_fn fn, void *userdata);
int tcr_read_run(void *reader, const char *run_id, tropt_event_fn fn, void *userdata);
void tcr_reader_close(void *reader);

#endif
