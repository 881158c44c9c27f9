/*
 * plugins/tensorboard/tb_read.h - the options (shared by the writer and the
 * reader) and the reader hooks (ABI 1.1).
 */
#ifndef TROPT_TB_READ_H
#define TROPT_TB_READ_H

#include <tropt/plugin.h>

enum {
    TB_OPT_LOGDIR,
    TB_OPT_FLUSH_EVERY,
    TB_OPT_FLUSH_INTERVAL,
    TB_OPT_FSYNC,
    TB_OPT_PENDING_MAX,
    TB_OPT_RETRY_INTERVAL,
    TB_OPT_SCALARS,
    TB_OPT_COUNT
};

/* The hooks of tropt_plugin (see plugin.h).  The logdir (option
 * TB_OPT_LOGDIR) is read as TensorBoard reads it: every folder below it
 * (itself included) that holds event files is a run, whoever wrote them. */
int tbr_reader_open(void **reader, const tropt_optval *opts, const tropt_host *host);
int tbr_list_runs(void *reader, tropt_run_list_fn fn, void *userdata);
int tbr_read_run(void *reader, const char *run_id, tropt_event_fn fn, void *userdata);
void tbr_reader_close(void *reader);

#endif
