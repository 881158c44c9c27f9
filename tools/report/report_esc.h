/*
 * tools/report/report_esc.h - what a store holds, written into the page as
 * data, never as markup: HTML text and attribute values, JSON strings safe
 * inside a <script> element, and times and durations of any value.
 * Invalid UTF-8 becomes U+FFFD, so the page is always valid UTF-8.
 */
#ifndef TROPT_REPORT_ESC_H
#define TROPT_REPORT_ESC_H

#include <stddef.h>
#include <stdio.h>

/* s (NULL: nothing) as HTML text or a quoted attribute value: & < > " '
 * as references, C0 controls as their visible pictures (U+2400 + c). */
void rp_esc(FILE *f, const char *s);

/* s (NULL: null) as a JSON string that is also safe inside <script>:
 * no '<', '>', '&' or raw control character, U+2028/9 escaped. */
void rp_jstr(FILE *f, const char *s);

/* The first len bytes of s (no NUL among them) as rp_jstr writes them; a
 * UTF-8 sequence cut at the end becomes U+FFFD. */
void rp_jstr_n(FILE *f, const char *s, size_t len);

/* A number for the data block: null for NaN, "inf"/"-inf", else %.*g
 * (digits >= 17: the shortest text that reads back exactly). */
void rp_jnum(FILE *f, double x, int digits);

/* Unix seconds as "YYYY-MM-DD HH:MM:SS UTC"; "-" for NaN; a time outside
 * years 1..9999 as "out of range (X s)".  Never reads an unset date. */
void rp_fmt_time(char *buf, size_t size, double t);

/* A duration in seconds: "20.0 s", "3m 05s", "4h 07m", "12d 03h", a huge
 * one in days ("1.2e+09 d"); "-" for NaN or a negative value. */
void rp_fmt_dur(char *buf, size_t size, double d);

/* The length of the valid UTF-8 sequence at s (1..4), or 0 when s does
 * not start one. */
size_t rp_utf8_len(const unsigned char *s);

#endif
