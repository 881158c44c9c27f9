/*
 * plugins/common/tropt_id.h - run ids as the readers check them, and any
 * stored text made safe to put in a message.
 *
 * Part of the plugins' common static library (libc only).  Every run id
 * this project writes is a UUID (SPEC 3), so a reader that finds anything
 * else in a store (a crafted journal, a hostile database or run folder)
 * skips that run with a warning instead of handing markup or terminal
 * control sequences on as an id.
 */
#ifndef TROPT_ID_H
#define TROPT_ID_H

#include <stddef.h>

/* Length of a run id's text: 8-4-4-4-12 hexadecimal digits. */
#define TROPT_ID_LEN 36

/* 1 when s is a UUID's text (36 characters, hexadecimal digits of either
 * case and '-' at positions 8, 13, 18 and 23), 0 otherwise (NULL too).
 * Cannot fail. */
int tropt_id_valid(const char *s);

/* The room tropt_id_shown needs: a cut text of at most 64 shown bytes, each
 * at most 4 bytes long ("\xNN"), "..." and a NUL. */
#define TROPT_ID_SHOWN_MAX (64 * 4 + 4)

/*
 * Write s (NULL: "(null)") into buf (at least TROPT_ID_SHOWN_MAX bytes) as
 * it may appear in a message: printable ASCII stays, every other byte
 * (control characters, DEL, bytes >= 0x80) and the backslash become "\xNN";
 * cut after 64 bytes of s with "...".  Returns buf.  Cannot fail.
 */
char *tropt_id_shown(char *buf, const char *s);

/*
 * Copy the message s into buf (size bytes, at least 1) with every control
 * character a terminal acts on shown as "\xNN" (C0 and DEL; C1 as UTF-8,
 * U+0080..U+009F, as its two bytes "\xc2\xNN"); all else as it is.  Cut to
 * fit, never in the middle of an escape.  Returns buf.  Cannot fail.
 */
char *tropt_text_shown(char *buf, size_t size, const char *s);

#endif
