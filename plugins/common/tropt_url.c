/* plugins/common/tropt_url.c - a URL with its secrets masked. */
#include "tropt_url.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

int tropt_url_secret_param(const char *name, size_t len)
{
    static const char *const secret[] = {
        "token",  "password", "pass",         "pwd",  "p",   "secret",   "key",
        "apikey", "api_key",  "access_token", "auth", "sig", "signature"};
    for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++)
        if (strlen(secret[i]) == len && strncasecmp(name, secret[i], len) == 0)
            return 1;
    return 0;
}

/* Append n bytes of s to buf at *o (bounded by size, NUL kept). */
static void put(char *buf, size_t size, size_t *o, const char *s, size_t n)
{
    if (*o + 1 >= size)
        return;
    if (n > size - 1 - *o)
        n = size - 1 - *o;
    memcpy(buf + *o, s, n);
    *o += n;
    buf[*o] = '\0';
}

char *tropt_url_masked(const char *url, char *buf, size_t size)
{
    if (!size)
        return buf;
    buf[0] = '\0';
    size_t o = 0;
    const char *p = strstr(url, "://");
    const char *auth = p ? p + 3 : url;
    put(buf, size, &o, url, (size_t)(auth - url));
    const char *end = auth + strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *q = auth; q < end; q++)
        if (*q == '@')
            at = q;
    if (at) { /* user[:password]@ */
        const char *colon = memchr(auth, ':', (size_t)(at - auth));
        put(buf, size, &o, auth, (size_t)((colon ? colon : at) - auth));
        if (colon)
            put(buf, size, &o, ":***", 4);
        put(buf, size, &o, "@", 1);
        auth = at + 1;
    }
    size_t path = strcspn(auth, "?#");
    put(buf, size, &o, auth, path);
    const char *q = auth + path;
    if (*q != '?') {
        put(buf, size, &o, q, strlen(q));
        return buf;
    }
    put(buf, size, &o, "?", 1);
    q++;
    while (*q && *q != '#') {
        size_t len = strcspn(q, "&#");
        const char *eq = memchr(q, '=', len);
        if (eq && tropt_url_secret_param(q, (size_t)(eq - q))) {
            put(buf, size, &o, q, (size_t)(eq - q) + 1);
            put(buf, size, &o, "***", 3);
        } else {
            put(buf, size, &o, q, len);
        }
        q += len;
        if (*q == '&') {
            put(buf, size, &o, "&", 1);
            q++;
        }
    }
    put(buf, size, &o, q, strlen(q));
    return buf;
}
