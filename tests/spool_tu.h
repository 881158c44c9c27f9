/*
 * tests/spool_tu.h - helpers for the suites that run a backend's replay
 * command exactly as it printed it (tests/http/test_spool_hint.c,
 * tests/pg/test_pg_conninfo.c, tests/pg/test_pg_lock.c).
 */
#ifndef TROPT_SPOOL_TU_H
#define TROPT_SPOOL_TU_H

/* The command after "send them with: " up to the end of its line
 * (malloc'd), advice in parentheses after it included; fails the test when
 * there is none. */
char *stu_hint_of(const char *text);

/* Cut the advice that follows the command: the first " (" that starts one
 * of the given prefixes (e.g. " (give the password").  Fails the test when
 * it is not there. */
void stu_cut_advice(char *hint, const char *prefix);

/* PATH with the folder of TROPT_CLI first, so that "tropt" in a printed
 * command is the one this build made (the user's shell finds the installed
 * one the same way). */
void stu_cli_on_path(void);

/* Every file of a folder as "name\ncontent\n", in name order (malloc'd):
 * two snapshots are equal iff no file was added, removed or changed.  A
 * folder that does not exist gives "". */
char *stu_snapshot(const char *dir);

/* Run a printed replay command from a fresh working folder, expecting it
 * to fail: it exits non-zero, leaves every file of `spool` as it was and
 * writes nothing where it runs (no new spool).  Returns its output (stdout
 * and stderr, malloc'd) for the caller to check why it failed. */
char *stu_replay_fails(const char *hint, const char *spool);

/* What the spool folder holds for one run: seen[k] counts the log events
 * of step k (0 <= k < max; a step outside fails the test), and the numbers
 * of run_start and run_end events.  Every line must be a JSON object. */
typedef struct stu_events {
    int starts, ends, logs;
} stu_events;
stu_events stu_spool_events(const char *dir, const char *run_id, int *seen, int max);

#endif
