/*
 * tools/conformance/kit.h - the conformance kit of `tropt conformance`
 * (SPEC 10): the promises a plugin keeps, the table that lists them, and
 * what a promise may use.
 *
 *   runner.c     the command: arguments, the spec, one child process per
 *                promise in its own folder, the report and the last line.
 *   kit_spec.c   the plugin and its options: parsing, the kit's own values
 *                for secret options, the spec as it may be shown.
 *   kit_util.c   what promises share: reporting, log capture, edge values.
 *   promises.c   the table of promises, one row each, in report order.
 *   p_*.c        the promises, one function each.
 *
 * Adding a promise (two steps):
 *
 *   1. Write the function in a p_*.c file and declare it below:
 *
 *          int p_resume(const kit *k);
 *
 *      It returns KIT_KEPT when the plugin keeps the promise (kit_say()
 *      adds a note), kit_broken("what was expected", "what happened", ...)
 *      when it breaks it, or kit_skip("why") when the plugin turns out at
 *      run time to lack what the promise needs.  kit_open() opens a tracker
 *      on the plugin, kit_log_and_read() logs runs then reads one back.
 *
 *   2. Add its row at the end of kit_promises[] in promises.c:
 *
 *          {"resume", "a resumed run continues where it stopped", p_resume,
 *           KIT_NEEDS_READER},
 *
 *      with the capabilities it needs (KIT_NEEDS_*; a new one is a bit
 *      below, its name in kit_need_name() and its test in the runner's
 *      fill_kit()).  The runner skips the promise, without forking, for a
 *      plugin that lacks one, and counts it apart.
 *
 * Every promise runs on every plugin the kit is given (CI: every shipped
 * one), in a child process of its own, inside an empty folder (its current
 * directory), with the plugin's diagnostics captured and its stdout and
 * stderr in a file: it may exit, crash or leak, and only that promise
 * breaks.
 */
#ifndef TROPT_CONFORMANCE_KIT_H
#define TROPT_CONFORMANCE_KIT_H

#include <stddef.h>

#include <tropt/host.h>
#include <tropt/tracker.h>

/* What a promise function returns. */
enum { KIT_KEPT = 0, KIT_BROKEN = 1, KIT_SKIPPED = 2 };

/* Capabilities a promise may need; a plugin that lacks one has the promise
 * skipped (reported apart, never failed).  Name each in kit_need_name(). */
enum {
    KIT_NEEDS_READER = 1u << 0, /* reader hooks (ABI 1.1): what was stored reads back */
    KIT_NEEDS_SECRET = 1u << 1, /* a secret option the kit knows the value of */
    KIT_NEEDS_V12 = 1u << 2,    /* an ABI 1.2 table: runs have names, attempts */
    KIT_NEEDS_META = 1u << 3,   /* the annotate and delete_run hooks (ABI 1.2) */
    KIT_NEEDS_MARKS = 1u << 4,  /* the checkpoint hook (ABI 1.2) */
    KIT_NEEDS_SYSTEM = 1u << 5, /* the log_system hook (ABI 1.2) */
};

#define KIT_MAX_SECRETS 8

/* What every promise is given (read only; valid for the whole child). */
typedef struct kit {
    const char *spec;                         /* the spec every open uses: the
                                               * user's options and the kit's own
                                               * secret values */
    const tropt_plugin *table;                /* the plugin's hook table */
    unsigned caps;                            /* the KIT_NEEDS_* the plugin has */
    const char *secrets[KIT_MAX_SECRETS];     /* values of secret options (the
                                               * user's and the kit's own) */
    const char *secret_keys[KIT_MAX_SECRETS]; /* their option names */
    int secret_invented[KIT_MAX_SECRETS];     /* 1: the kit's own value */
    size_t n_secrets;
} kit;

typedef int (*kit_promise_fn)(const kit *k);

/* One row of the table. */
typedef struct kit_promise {
    const char *id;    /* one word, stable: tests and users refer to it */
    const char *title; /* what is promised, one line */
    kit_promise_fn run;
    unsigned needs; /* KIT_NEEDS_* */
} kit_promise;

extern const kit_promise kit_promises[];
extern const size_t kit_n_promises;

/* What a promise needs, for people: "reader hooks" for KIT_NEEDS_READER
 * (one bit); NULL for an unknown bit. */
const char *kit_need_name(unsigned need);

/* ---- For promises (they run in the child) ------------------------------ */

/* A note on the promise's report line (kept or broken). */
void kit_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A broken promise: prints "expected: EXPECTED / observed: ..." and
 * returns KIT_BROKEN. */
int kit_broken(const char *expected, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A promise the plugin cannot be held to (why, as a note); returns
 * KIT_SKIPPED. */
int kit_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* tropt_tracker_open(t, k->spec, "conformance", NULL); on failure reports
 * the promise broken ("the plugin opens with these options") and returns
 * KIT_BROKEN with *t NULL. */
int kit_open(const kit *k, tropt_tracker **t);
/* tropt_reader_open on k->spec; on failure reports it broken. */
int kit_open_reader(const kit *k, tropt_reader **r);

/* What kit_log_and_read runs on a fresh tracker: log one or more runs and
 * put the id of the run to read back into id; TROPT_OK or the failing
 * call's code (its message is the report's). */
typedef int (*kit_log_fn)(tropt_tracker *t, char id[40]);
/* Open a tracker, run `log`, free the tracker (which ends an open run
 * "aborted"), then read run `id` back through fn(ev, ud).  KIT_KEPT, or
 * KIT_BROKEN reported: `what` (the expectation) when log fails, or the
 * reader's failure. */
int kit_log_and_read(const kit *k, const char *what, kit_log_fn log, tropt_event_fn fn, void *ud);

/* What tropt_reader_list_runs says of one run (ABI 1.2 members), copied. */
typedef struct kit_stored {
    int found;
    char name[TROPT_MAX_NAME + 1];
    int derived;    /* name is the host's default for the id: the plugin gave none */
    char tags[512]; /* "a,b", in the order given */
    int has_note;
    char note[512];
    int64_t attempts, last_step, checkpoint_step;
    char resume_key[TROPT_MAX_NAME + 1];
} kit_stored;
/* Fill *s for run `id` (s->found 0 when it is not listed).  KIT_KEPT, or
 * KIT_BROKEN reported when the reader fails. */
int kit_stored_run(const kit *k, const char *id, kit_stored *s);

/* The diagnostics the library and the plugin sent to the log handler in
 * this child so far (each line ended by '\n'; the first 64 KiB). */
const char *kit_log_lines(void);
/* The first secret of k that reached the log handler, or NULL. */
const char *kit_secret_logged(void);

/* The typed edge values (SPEC 10) logged by several promises; the NaN
 * field is the last one, so KIT_N_EDGE_NO_NAN leaves it out (for promises
 * that must not break merely because a plugin fails on NaN). */
#define KIT_N_EDGE 16
#define KIT_N_EDGE_NO_NAN (KIT_N_EDGE - 1)
extern tropt_field kit_edge[KIT_N_EDGE];

/* s with '\n', '"', '\\' and control characters escaped C-style (a key or
 * a string read back is data, never terminal control); truncated to fit. */
void kit_escape(char *buf, size_t size, const char *s);

/* "real 0.10000000000000001 (0x3fb999999999999a)", "null", ... */
void kit_describe(char *buf, size_t size, const tropt_field *f);

/* ---- The promises (promises.c lists them) ------------------------------- */

int p_table(const kit *k);
int p_options(const kit *k);
int p_secret(const kit *k);
int p_states(const kit *k);
int p_failures(const kit *k);
int p_values(const kit *k);
int p_alloc(const kit *k);
int p_threads(const kit *k);
int p_latency(const kit *k);
int p_readback(const kit *k);
int p_order(const kit *k);
int p_times(const kit *k);
int p_status(const kit *k);
int p_name(const kit *k);
int p_annotate(const kit *k);
int p_delete(const kit *k);
int p_resume(const kit *k);
int p_checkpoint(const kit *k);
int p_system(const kit *k);

/* ---- The runner's parts -------------------------------------------------- */

/* Secrets shorter than this are neither searched for nor masked in the
 * kit's own output (a one-letter secret would be found everywhere). */
#define KIT_MIN_SECRET_LEN 4

/* In the child, before the promise runs: its report goes to fd, the log
 * handler captures (and watches for k's secrets). */
void kit_child_begin(int report_fd, const kit *k);

/* The plugin and its options as given on the command line. */
typedef struct kit_opt {
    char *key;
    char *value;
    int secret;   /* a SECRET option of the plugin's table */
    int invented; /* a value of the kit's own, not the user's */
} kit_opt;

typedef struct kit_spec {
    char *plugin; /* name, or an absolute path */
    kit_opt *opts;
    size_t n_opts;
    int table_known; /* kit_spec_secrets ran: `secret` is meaningful */
} kit_spec;

/* Parse "PLUGIN[:K=V,...]" then any further "K=V" arguments into *s (a
 * relative plugin path made absolute).  On failure prints why to stderr and
 * returns 2 (a usage error) or 1; *s is then cleared. */
int kit_spec_parse(kit_spec *s, const char *first, const char *const *more, size_t n_more);
/* Mark the options the table declares secret, and give every string secret
 * option the user left unset a distinctive value of the kit's own.  Returns
 * 0, or 1 (memory). */
int kit_spec_secrets(kit_spec *s, const tropt_plugin *table);
/* Drop the kit's own values again (a plugin that refuses them). */
void kit_spec_drop_invented(kit_spec *s);
/* The spec string (malloc'd; NULL on memory).  With `shown`, as it may be
 * printed: the user's options only, every secret value as "<secret>" (and
 * with an unknown table every value as "<hidden>"). */
char *kit_spec_string(const kit_spec *s, int shown);
void kit_spec_clear(kit_spec *s);

#endif
