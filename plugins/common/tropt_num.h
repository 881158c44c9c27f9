/*
 * plugins/common/tropt_num.h - decimal integers, written fast.
 *
 * Part of the plugins' common static library, which libtropt links too:
 * the two-digit table below is the one the core's real formatter
 * (core/dtoa.c) and every plugin's integer writer use.  libc only.
 */
#ifndef TROPT_NUM_H
#define TROPT_NUM_H

#include <stddef.h>
#include <stdint.h>

/* "00" "01" ... "99": two digits at 2 * n for n < 100. */
extern const char tropt_digits2[200];

/* The most bytes tropt_put_i64 writes ("-9223372036854775808"). */
#define TROPT_I64_DIGITS_MAX 20

/* Write v in decimal at out, as printf's "%" PRId64 does (a '-' for a
 * negative value, no leading zeros, no NUL): at most TROPT_I64_DIGITS_MAX
 * bytes.  Returns how many were written.  Cannot fail. */
size_t tropt_put_i64(char *out, int64_t v);

/* A 64-bit FNV-1a-style hash of the NUL-terminated string s, for the hash
 * tables of keys and run ids (not for anything an attacker must not steer:
 * the tables that use it probe linearly and stay at most half full).  When
 * len is not NULL it receives strlen(s), found on the way.  Cannot fail. */
uint64_t tropt_hash_str(const char *s, size_t *len);

#endif
