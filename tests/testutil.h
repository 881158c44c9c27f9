/*
 * tests/testutil.h - small helpers shared by the Check suites.
 */
#ifndef TROPT_TESTUTIL_H
#define TROPT_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <tropt/tropt.h>

/* Make a fresh temporary folder (removed by tu_rmtree); aborts the test on failure.
 * Returns a malloc'd path. */
char *tu_mkdtemp(void);
/* rm -rf path (best effort).  NULL is a no-op. */
void tu_rmtree(const char *path);
/* malloc'd "a/b"; aborts the test on OOM. */
char *tu_path(const char *dir, const char *name);
/* printf into a malloc'd string. */
char *tu_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Read a whole file into a malloc'd NUL-terminated buffer (NULL if missing);
 * *len (if given) receives its length. */
char *tu_read_file(const char *path, size_t *len);
/* Write a whole file; returns 0 or -1. */
int tu_write_file(const char *path, const char *data);
/* Run `sh -c cmd`, capturing stdout (and stderr when merge_stderr) into a
 * malloc'd string *out (may be NULL).  Returns the exit status (or 128+signal). */
int tu_run(const char *cmd, char **out, int merge_stderr);

/* Capture diagnostics: installs a log handler that records every line. */
void tu_capture_start(void);
/* Stop capturing (restores the default handler). */
void tu_capture_stop(void);
/* All lines captured since tu_capture_start, "LEVEL: message\n" each. */
const char *tu_captured(void);
/* Number of captured lines at `level`. */
int tu_captured_count(tropt_level level);

/* The build root (TROPT_TEST_BUILD_ROOT) and source root. */
const char *tu_build_root(void);
const char *tu_source_root(void);

/* The chaos allocator: tropt's allocator (tropt_set_allocator) failing
 * every allocation once a budget is spent, for loops that fail the Nth
 * allocation for N = 0, 1, 2, ... (jansson's test_chaos.c).  Set the
 * budget (-1: no limit, the default) before each pass; tu_chaos_failed()
 * counts the failures injected since.  Not thread-safe: one test at a time. */
extern const tropt_allocator tu_chaos_allocator;
void tu_chaos_budget(long budget);
long tu_chaos_failed(void);

/* ---- waiting for a condition -------------------------------------------
 * Tests wait for the state they assert, never for a fixed time: poll with a
 * generous deadline, so that a loaded two-core machine running sanitizer
 * builds still passes, and a broken build fails after the deadline. */

/* The deadline of a wait for something that should happen "soon", in
 * seconds (before tu_time_scale). */
#define TU_WAIT_S 60.0

/* How much slower than a plain build this build runs: 3 under ASan, UBSan
 * or TSan, else 1; TROPT_TEST_TIME_SCALE=<x> (x > 0) overrides. */
double tu_time_scale(void);
/* Monotonic clock, in seconds. */
double tu_now(void);
/* Sleep ms milliseconds (resumed when a signal interrupts it). */
void tu_sleep_ms(long ms);
/* The monotonic time `seconds` x tu_time_scale() from now. */
double tu_deadline(double seconds);
/* One step of a polling loop: 0 when deadline has passed, else sleeps up
 * to 10 ms (never past the deadline) and returns 1.  The idiom:
 *     double dl = tu_deadline(TU_WAIT_S);
 *     while (!ready())
 *         ck_assert_msg(tu_poll(dl), "... not ready after %.0f s", TU_WAIT_S); */
int tu_poll(double deadline);
/* Call cond(arg) until it returns nonzero or `seconds` x tu_time_scale()
 * pass (cond is called once more at the deadline).  Returns 1 when cond
 * held, 0 on timeout. */
int tu_wait_until(int (*cond)(void *arg), void *arg, double seconds);

/* A polling loop (a reader beside writers) told to stop through a pipe, a
 * byte or EOF on fd, which must first have seen what it polls for, however
 * the scheduler ran it: a child may use it (no ck_* call). */
typedef struct tu_stop {
    int fd;          /* the read end; tu_stop_init makes it non-blocking */
    int told;        /* the pipe said stop */
    double deadline; /* from then on: TU_WAIT_S (scaled) to see it */
} tu_stop;
void tu_stop_init(tu_stop *s, int fd);
/* 0: poll on; 1: stop (told to, and seen); -1: told to stop, and still
 * not seen by the deadline. */
int tu_stop_check(tu_stop *s, int seen);

/* Run a suite with CK_NORMAL output; returns the process exit code. */
int tu_run_suite(Suite *s);

#endif
