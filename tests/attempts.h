/*
 * tests/attempts.h - the preemption scenario of SPEC 15 (issue 29), for any
 * store that reads back: processes that log, take a checkpoint mark, and are
 * killed with SIGKILL, then continue the run by its resume key; and the
 * checks of what the store gives back through the reader.
 */
#ifndef TROPT_TESTS_ATTEMPTS_H
#define TROPT_TESTS_ATTEMPTS_H

#include <stdint.h>
#include <sys/types.h>

#include "testutil.h"

/* The value attempt `attempt` logs as "loss" at `step`. */
#define AT_VALUE(attempt, step) ((double)(attempt)*1000.0 + (double)(step))

/*
 * Start a child process that opens `spec` with resume=allow and resume_key
 * `key`, continues (or starts) the run, logs 100 steps from the step the
 * tracker gives, writes a checkpoint file <dir>/ckpt-<attempt> after its
 * 50th step and marks it, flushes, and then either finishes the run
 * (finish != 0) and exits 0, or tells the parent it is done and waits to be
 * killed.  Returns when the child has flushed its 100 steps (or exited);
 * *pid_out is the child.  The child exits 2..9 on a failure it names on
 * stderr.
 */
void at_attempt(const char *spec, const char *key, const char *dir, int attempt, int finish,
                pid_t *pid_out);

/* at_attempt(..., finish 0), then SIGKILL and reap the child. */
void at_attempt_killed(const char *spec, const char *key, const char *dir, int attempt);

/* at_attempt(..., finish 1) and reap the child: it must exit 0. */
void at_attempt_finished(const char *spec, const char *key, const char *dir, int attempt);

/*
 * The checks after three attempts (killed, killed, finished) of one run:
 * the store lists one run with that key, 3 attempts, status finished;
 * read_run gives steps 0..199 once each with the latest attempt's value;
 * read_history gives all 300 rows, the 100 a later attempt continued over
 * marked superseded; three checkpoint marks whose size and SHA-256 are
 * those `sha256sum` gives for <dir>/ckpt-<attempt>.  Writes the run's id
 * into id_out.
 */
void at_check_three_attempts(const char *spec, const char *key, const char *dir, char id_out[37]);

/* What the store holds for the run of one key. */
typedef struct at_summary {
    int runs;         /* runs listed with that resume key */
    int64_t attempts; /* the last one's attempts */
    int rows;         /* its read_history step rows */
    int duplicates;   /* rows of one attempt and step read more than once */
} at_summary;
void at_summarize(const char *spec, const char *key, at_summary *out);

/*
 * Two processes resume run `key` at once (released together): exactly one
 * succeeds, the other fails with a message; returns the number that
 * succeeded (1 expected) and leaves the winner finished.
 */
int at_race(const char *spec, const char *key, const char *dir, int attempt);

#endif
