/*
 * tools/render.h - the one text renderer of the `tropt` commands that print
 * runs: values, dates, a table of runs, one run's detail, and the safe
 * forms of stored text for the terminal, CSV and JSON.
 *
 * What a store holds is data, never terminal control: every string read
 * back goes through cli_put_term (terminal), cli_put_csv (CSV) or
 * cli_json_text (JSON) on its way out, and keeps its type (a string "true"
 * prints as "true" in quotes, the bool as true).
 *
 * Reals print through the shortest round-trip formatter (core/dtoa.c, the
 * same as the host service format_real); times as ISO 8601 in UTC
 * (2026-12-07T06:16:23Z).
 */
#ifndef TROPT_CLI_RENDER_H
#define TROPT_CLI_RENDER_H

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>

#include "source.h"

/* ---- values ------------------------------------------------------------- */

/* Shortest text strtod reads back to x; "nan", "inf", "-inf". */
void cli_format_real(char *buf, size_t size, double x);

/* cli_format_real with the contract of tropt_host.format_real (returns the
 * length), for the JSON writers of plugins/common (tev_put_json). */
size_t cli_real_json_fn(char *buf, size_t size, double x);

/* t as 2026-12-07T06:16:23Z; "-" when t is NaN or out of range. */
void cli_format_time(char *buf, size_t size, double t);

/* The display text of a value (malloc'd, NULL on memory): null, true,
 * 42, 0.1, nan, "a string" (JSON-quoted, so its type shows), [1,2]. */
char *cli_value_text(const tropt_field *f);

/* The same value as JSON, typed: a number, bool, null, string, array; a
 * non-finite real as the string "nan", "inf" or "-inf".  New reference,
 * NULL on memory. */
json_t *cli_value_json(const tropt_field *f);

/* s with every byte sequence that is not UTF-8 replaced by U+FFFD
 * (malloc'd, NULL on memory): a valid JSON string or object key. */
char *cli_utf8_clean(const char *s);

/* printf into a malloc'd string; NULL when memory ran out. */
char *cli_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *cli_vstrf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* ---- the terminal ----------------------------------------------------------- */

/* Write stored text for the terminal: control characters (C0, DEL, C1) as
 * '?', bytes that are not UTF-8 as U+FFFD. */
void cli_put_term(FILE *f, const char *s);

/* The width cli_put_term gives s (code points). */
size_t cli_term_width(const char *s);

/* cli_put_term padded with blanks to width w, right-aligned when right. */
void cli_put_padded(FILE *f, const char *s, size_t w, int right);

/* "tropt: MESSAGE\n" to stderr, each line of the message (a message of the
 * core may list candidates, one a line) written by cli_put_term. */
void cli_print_error(const char *msg);

/* ---- CSV -------------------------------------------------------------------- */

/* One RFC 4180 field: quoted when it holds a comma, quote, CR or LF or
 * starts or ends with a blank; NULL writes nothing (an empty field). */
void cli_put_csv(FILE *f, const char *s);

/* ---- a text table ------------------------------------------------------------- */

/* Rows of text cells under a header, columns two blanks apart, the last
 * column unpadded.  cells is rows * ncol owned strings (NULL prints "-"). */
typedef struct cli_table {
    size_t ncol;
    const char *const *head;
    const int *right; /* per column, may be NULL */
    char **cells;
    size_t rows, cap;
    size_t indent; /* blanks before each line */
} cli_table;

/* Append a row (ncol strings, taken over; NULL entries allowed).  0, or -1
 * on memory (the strings are freed). */
int cli_table_add(cli_table *t, char **row);
void cli_table_print(FILE *f, const cli_table *t);
void cli_table_free(cli_table *t);

/* ---- runs --------------------------------------------------------------------- */

/* One row of `tropt runs`: the run, the primary metric asked for (NULL:
 * `loss`, or the one key ending in "/loss") and how much of the id to show. */
typedef struct cli_runs_row {
    const cli_run *run;
    const char *metric;
    size_t id_len; /* the ID column shows this many characters of the id */
} cli_runs_row;

/* A column of `tropt runs`: its header and its cell for one row (malloc'd
 * text, NULL for "-").  Adding a column is one row of run_columns. */
typedef struct cli_run_column {
    const char *head;
    int right;
    char *(*cell)(const cli_runs_row *row);
} cli_run_column;

/*
 * The length of the shortest prefix of `id` that no other id of sorted[]
 * (n ids in strcmp order, every run of the store, `id` among them or not)
 * shares, at least min and at most the id's length: what the ID column of
 * `tropt runs` shows, so that what it shows is typeable as RUN.
 */
size_t cli_id_prefix_len(const char *const *sorted, size_t n, const char *id, size_t min);

/* Print the runs table: NAME, EXPERIMENT, ID (id_len[i] characters of run
 * i's id; id_len NULL: whole ids), STATUS, STARTED, STEPS, ATTEMPTS, the
 * last and lowest value of the primary metric `metric`, TAGS.  0, or -1 on
 * memory. */
int cli_print_runs(FILE *f, const cli_run *runs, size_t n, const char *metric,
                   const size_t *id_len);

/* Print one run's detail: identity lines (name, id, experiment, status,
 * tags, note, host, start, end, steps, resume key), where it came from,
 * config, summary, its attempts, its checkpoint marks and the last value of
 * each metric.  0, or -1 on memory. */
int cli_print_run(FILE *f, const cli_run *r);

#endif
