/*
 * plugins/tensorboard/tb_ident.h - the run a folder holds, read from the
 * identity record (TB_TAG_RUN) our writer puts among the first records of
 * every event file.  Used by the writer (is this folder that run's?) and by
 * the reader (which run is this folder?).
 */
#ifndef TROPT_TB_IDENT_H
#define TROPT_TB_IDENT_H

#include <jansson.h>
#include <tropt/plugin.h>

/* The records searched at the start of a file for the identity. */
#define TB_IDENT_RECORDS 8

/* 1 when `name` has the event file mark ("tfevents") TensorBoard looks for
 * and is not hidden. */
int tb_is_event_file(const char *name);

/* The identity record in the event file `name` of the folder open as dfd:
 * 1 with *rec a JSON object (the caller decrefs it), 0 when its first
 * records hold none, -1 when it cannot be opened or read (errno set). */
int tb_file_identity(const tropt_host *h, int dfd, const char *name, json_t **rec);

/* The same for a folder: the first of its event files (in name order) that
 * holds one.  1, 0, or -1 (errno set; ENOMEM when memory ran out). */
int tb_folder_identity(const tropt_host *h, int dfd, json_t **rec);

/* Call fn with the identity record of each event file of the folder open
 * as dfd that has one (name order); rec is borrowed for the call.  fn
 * returns 0 to go on, anything else to stop (returned).  Returns that, 0,
 * or -1 (errno set; ENOMEM when memory ran out) when the folder cannot be
 * listed. */
int tb_each_identity(const tropt_host *h, int dfd, int (*fn)(void *ud, const json_t *rec),
                     void *ud);

/* The event files of the folder open as dfd, sorted by name: *names (from
 * h->malloc, each name too; free with tb_names_free), *n.  0, or -1 with
 * errno set. */
int tb_event_files(const tropt_host *h, int dfd, char ***names, size_t *n);
void tb_names_free(const tropt_host *h, char **names, size_t n);

/* The JSON object of our text record value v (its tensor's string), or
 * NULL when it is not one. */
struct tb_sval;
json_t *tb_record_json(const struct tb_sval *v);

#endif
