/*
 * tests/cli/cli_tu.h - helpers of the CLI tests (one file per command):
 * running `tropt` and `tropt-demo` as a user does, stdout and stderr apart,
 * and making stores that hold the same run in several backends.
 */
#ifndef TROPT_CLI_TU_H
#define TROPT_CLI_TU_H

#include <sys/types.h>

#include "testutil.h"

/* The built tools (TROPT_CLI, TROPT_DEMO). */
const char *cli(void);
const char *demo(void);

/* s single-quoted for sh (malloc'd). */
char *shq(const char *s);

typedef struct result {
    int rc;
    char *out; /* stdout */
    char *err; /* stderr */
} result;

/* Run `prog args` (args already quoted for sh), stdout and stderr apart. */
result run(const char *prog, const char *args);
/* The same for `tropt ARGS`, ARGS printf-formatted. */
result tropt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void result_free(result *r);

/* `prog args` exits 2 with a usage line on stderr and nothing on stdout. */
void expect_usage_error(const char *prog, const char *args);

/* A folder holding the same runs in sqlite (db), jsonl (jsonl) and csv
 * (csvdir): written to sqlite by the library, then replayed from it with
 * `tropt replay --db DB --tracker 'jsonl:...;csv:...'`. */
typedef struct stores {
    char *dir, *db, *jsonl, *csvdir;
    char
        *spec[4]; /* "--db 'X'", "--from 'sqlite:path=X'", "--from 'jsonl:..'", "--from 'csv:..'" */
} stores;

/* Replay stores->db into its jsonl and csv stores and fill spec[]. */
void stores_replay(stores *s);
/* An empty folder with the paths set (nothing written yet). */
stores stores_new(void);
void stores_free(stores *s);

/* Start tropt-demo writing to `tracker_spec` for a long time, wait until
 * the sqlite database at db holds `steps` of its steps, SIGKILL it and
 * reap it.  Returns the run id (malloc'd). */
char *killed_run(const char *tracker_spec, const char *db, int steps);

/* The line of text that starts with (or holds) needle, malloc'd; NULL. */
char *line_with(const char *text, const char *needle);

/* Three runs in one sqlite database (db3_make): A (loss 3,2,1,1.5,
 * config lr/opt/flag, summary; finished), B (no loss; aborted), C (loss 5
 * then NaN, early only at step 0; finished), in experiments alpha and
 * b\xc3\xa9ta. */
typedef struct db3 {
    char *dir, *path;
    char *a, *b, *c;    /* run ids */
    char *na, *nb, *nc; /* their names, as the store gives them */
} db3;
db3 db3_make(void);
void db3_free(db3 *d);

/* db3_make's runs in stores: the database moved to s.db, then replayed
 * into s.jsonl and s.csvdir.  d->path is s.db. */
stores stores_with_db3(db3 *d);

/* `tropt CMD SPEC` (CMD printf-formatted, SPEC each of s->spec) exits 0
 * and prints the same text, line for line, from every source.  Returns
 * that text (malloc'd). */
char *same_everywhere(const stores *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The name the store read by reader spec `spec` gives run `id`, through
 * the reader API (malloc'd); fails the test when there is no such run. */
char *run_name(const char *spec, const char *id);

/* text holds every one of the n strings of want[] (what failed says which). */
void expect_all(const char *text, const char *const *want, size_t n);

/* The whitespace-separated fields of a line, from the right, are want[]. */
void expect_tail(const char *line, const char *const *want, int n);
/* The column (byte offset) of s in line; fails when absent. */
size_t col(const char *line, const char *s);

/* 1 when the shipped plugin `name` keeps run metadata and attempts (ABI
 * 1.2 with the annotate and delete_run hooks): the suites of tag, rm and
 * replay run their store tests on the backends that do (and say which do
 * not yet). */
int store_keeps_meta(const char *name);

/* The storing backends the metadata tests cover (pg too when it is built),
 * and the reader spec of each in folder dir ("sqlite:path=DIR/s.db", ...;
 * pg: a schema of its own on the suite's server; malloc'd). */
extern const char *const meta_backends[];
extern const size_t n_meta_backends;
char *meta_spec(const char *backend, const char *dir);

/* The servers the metadata tests need (pg: a throwaway cluster, started
 * only once the pg plugin keeps run metadata), in the process that runs
 * the suite: a suite with tests over meta_backends adds them as an
 * unchecked fixture (tcase_add_unchecked_fixture). */
void meta_servers_start(void);
void meta_servers_stop(void);

/* Exit 77 (the suite is skipped) when no backend of meta_backends keeps
 * run metadata yet; else say which do not. */
void skip_unless_meta(const char *suite);

/* `tropt ARGS` on a terminal: a pseudo-terminal as its stdin, stdout and
 * stderr.  Once its output holds `prompt`, `answer` is typed.  Returns its
 * exit code and everything it printed (err empty). */
result tropt_tty(const char *args, const char *prompt, const char *answer);

/* The folder of the test fixture plugins built here (tropt-frozen.so). */
const char *fixture_dir(void);

/* `tropt-demo ARGS` (quoted for sh); fails the test unless it exits 0.
 * Returns the run's id and name from its last line (malloc'd). */
void demo_run(const char *args, char **id, char **name);

#endif
