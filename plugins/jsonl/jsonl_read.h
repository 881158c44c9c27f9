/* plugins/jsonl/jsonl_read.h - the jsonl backend's reader hooks (ABI 1.1). */
#ifndef TROPT_JSONL_READ_H
#define TROPT_JSONL_READ_H

#include <tropt/plugin.h>

/* The hooks of tropt_plugin (see plugin.h); the path is option 0: a
 * journal file, or a folder of *.jsonl files (an http spool), read in name
 * order. */
int tjl_reader_open(void **reader, const tropt_optval *opts, const tropt_host *host);
int tjl_list_runs(void *reader, tropt_run_list_fn fn, void *userdata);
int tjl_read_run(void *reader, const char *run_id, tropt_event_fn fn, void *userdata);
void tjl_reader_close(void *reader);

/* TROPT_OK when the journal at path holds run run_id (a run_start of it,
 * not deleted since); TROPT_EINVAL naming the journal and the id when not;
 * TROPT_EBACKEND when it cannot be read. */
int tjl_holds_run(const char *path, const tropt_host *host, const char *run_id);

/* Before run (an import or a continuation: its id known) is appended to the
 * journal at path: TROPT_EINVAL when the journal says it was deleted,
 * TROPT_EBACKEND when another process already started the same attempt
 * (the caller holds an exclusive lock on the journal across this check and
 * its append, so of two processes one wins).  TROPT_OK otherwise. */
int tjl_check_open(const char *path, const tropt_host *host, const tropt_run *run);

#endif
