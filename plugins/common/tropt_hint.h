/*
 * plugins/common/tropt_hint.h - replay commands that a shell runs verbatim.
 *
 * A backend that spools prints the command that sends the spool later
 * (`tropt replay DIR --tracker SPEC`).  These helpers build it so that,
 * copied from the message and pasted into /bin/sh, it means exactly what the
 * backend was configured with: every value quoted for the spec grammar
 * (SPEC 4: raw, or "double-quoted" with \" and \\), the whole spec and the
 * folder quoted for the shell.  They never decide what goes in: a caller
 * passes only values that are not secret.
 *
 * Part of the plugins/common static library (libc only, plus tev_buf).
 */
#ifndef TROPT_HINT_H
#define TROPT_HINT_H

#include "tropt_event.h"

/*
 * Append s to b as one shell word: as it is when every byte is a letter, a
 * digit or one of _ - . / : = @ % + , (nothing a POSIX shell treats
 * specially), else in single quotes with each ' written as '\''.  `always`
 * non-zero: single quotes in every case.  Returns 0, or -1 when memory ran
 * out (b keeps what it had, possibly with part of s appended).
 */
int tropt_hint_shell_word(tev_buf *b, const char *s, int always);

/*
 * Append one spec option to b: "key=value", preceded by ',' unless b is
 * empty or ends with ':'.  The value is written raw when the spec parser
 * reads it back unchanged and it reads as one word (not empty, no ',', ';',
 * '"' or blank), else double-quoted with " and \ escaped.  Returns 0, or -1
 * when memory ran out.
 */
int tropt_hint_spec_option(tev_buf *b, const char *key, const char *value);

/*
 * Append s to b as one value of a libpq connection string (key=value
 * form): as it is when it is not empty and holds no blank, ' or \, else in
 * single quotes with ' and \ escaped by a backslash.  Returns 0, or -1 when
 * memory ran out.
 */
int tropt_hint_conninfo_value(tev_buf *b, const char *s);

#endif
