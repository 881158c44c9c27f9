/*
 * tests/readback.h - a stored run read back through the reader hooks
 * (tropt_reader, SPEC 9) as one text, so a test compares what came back
 * with what was logged exactly: every event, every field's type, reals by
 * their bits.
 */
#ifndef TROPT_READBACK_H
#define TROPT_READBACK_H

#include <tropt/host.h>

#include "testutil.h"

/*
 * One field as "key=type:value": null, bool:0|1, int:<decimal>,
 * real:<16 hex digits of its bits>, str:<the bytes>, json:<compact JSON>.
 * malloc'd.
 */
char *rb_field(const tropt_field *f);

/*
 * The run run_id of the store `spec` read through tropt_reader_read_run,
 * one line per event:
 *   start <run_id> <experiment> | <config fields>
 *   step <n> <time bits> | <fields>
 *   end <status> | <summary fields>
 * fields as rb_field, separated by "; ", in the order the reader gave
 * them.  Fails the test when the store cannot be read.  malloc'd.
 */
char *rb_run_text(const char *spec, const char *run_id);

/* The ids of the runs tropt_reader_list_runs lists, one per line
 * ("<id> <n_steps>\n").  Fails the test when the store cannot be read.
 * malloc'd. */
char *rb_list_text(const char *spec);

/*
 * Fail every allocation of tropt's allocator past the first N (the chaos
 * allocator of testutil.h), N = 0, 1, 2, ..., through tropt_reader_open and
 * tropt_reader_read_run of run_id on spec, until a read needs no more.  Each read either succeeds
 * with exactly the text `want` (as rb_run_text prints it) or fails with TROPT_ENOMEM: never a
 * crash, another error, or a result that differs. Leaks are for ASan to find.  The allocator is
 * reset before it returns.
 */
void rb_alloc_fail_loop(const char *spec, const char *run_id, const char *want);

#endif
