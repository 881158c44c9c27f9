/*
 * plugins/common/tropt_url.h - a URL as messages may show it.
 *
 * Part of the plugins/common static library (linked into plugins and the
 * CLI; libc only).
 */
#ifndef TROPT_URL_H
#define TROPT_URL_H

#include <stddef.h>

/*
 * Write into buf (size >= strlen(url) + 1 always suffices... plus 3 per
 * masked value; pass strlen(url) * 2 + 16 to be safe) the URL with its
 * secrets replaced by "***": the password of the user info
 * ("alice:***@host"), and the value of every query parameter whose name
 * says it is a secret (token, password, pass, pwd, p, secret, key, apikey,
 * api_key, access_token, auth, sig, signature), compared case-insensitively.
 * Other query parameters (InfluxDB 1.x's db=, precision=) are kept, so the
 * URL still says where data goes.  Returns buf (always NUL-terminated;
 * truncated if buf is too small).
 */
char *tropt_url_masked(const char *url, char *buf, size_t size);

/* Whether a query parameter name (len bytes) names a secret. */
int tropt_url_secret_param(const char *name, size_t len);

#endif
