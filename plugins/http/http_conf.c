/*
 * plugins/http/http_conf.c - the http backend's options and create().
 * See http_priv.h.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <tropt/plugin.h>

#include "influx.h"
#include "tropt_event.h"

#include "http_priv.h"
#include "tropt_hint.h"
#include "tropt_url.h"

/* ---- options ---------------------------------------------------------- */

static const char *const format_choices[] = {"ndjson", "influx", NULL};

const tropt_option_def http_options[] = {
    [HTTP_OPT_URL] = TROPT_OPTION_STRING("url", TROPT_OPT_REQUIRED, NULL,
                                         "endpoint events are POSTed to (http:// or https://)"),
    [HTTP_OPT_FORMAT] = TROPT_OPTION_ENUM("format", "ndjson", format_choices,
                                          "ndjson: tropt events; influx: InfluxDB line protocol"),
    [HTTP_OPT_TIMEOUT] = TROPT_OPTION_DURATION("timeout", "10s", 1, 3600000,
                                               "limit of one request (connect + transfer)"),
    [HTTP_OPT_FLUSH_TIMEOUT] =
        TROPT_OPTION_DURATION("flush_timeout", "10s", 0, 3600000,
                              "how long finish/flush wait for delivery before spooling the rest"),
    [HTTP_OPT_TOKEN_ENV] = TROPT_OPTION_STRING(
        "token_env", 0, NULL, "environment variable holding a bearer token (never shown)"),
    [HTTP_OPT_QUEUE_SIZE] =
        TROPT_OPTION_INT("queue_size", "250000", 1, 100000000,
                         "events waiting in memory; beyond it the oldest go to the spool"),
    [HTTP_OPT_BATCH_SIZE] =
        TROPT_OPTION_INT("batch_size", "5000", 1, 1000000, "events per request at most"),
    [HTTP_OPT_MAX_DELAY] = TROPT_OPTION_DURATION("max_delay", "200ms", 0, 3600000,
                                                 "how long an event may wait for a fuller batch"),
    [HTTP_OPT_RETRIES] =
        TROPT_OPTION_INT("retries", "5", 0, 1000,
                         "retries of a batch before it is spooled and the server deemed down"),
    [HTTP_OPT_RETRY_INITIAL] = TROPT_OPTION_DURATION(
        "retry_initial", "250ms", 1, 3600000, "first backoff delay (doubles per retry, jittered)"),
    [HTTP_OPT_RETRY_MAX] =
        TROPT_OPTION_DURATION("retry_max", "10s", 1, 3600000, "largest backoff delay"),
    [HTTP_OPT_SPOOL_DIR] = TROPT_OPTION_PATH(
        "spool_dir", "tropt-spool",
        "folder for events that could not be delivered (replay with tropt replay)"),
    [HTTP_OPT_MEASUREMENT] = TROPT_OPTION_STRING(
        "measurement", 0, NULL, "influx measurement (default: the experiment name)"),
    [HTTP_OPT_CA_FILE] = TROPT_OPTION_PATH(
        "ca_file", NULL, "CA bundle to verify the server with (default: the system's)"),
    [HTTP_OPT_HEADERS] = TROPT_OPTION_STRING(
        "headers", TROPT_OPT_SECRET, NULL,
        "extra request headers, \"Name: value\" separated by '|' (never shown)"),
    [HTTP_OPT_TAGS] = TROPT_OPTION_STRING(
        "tags", 0, NULL, "influx: tags added to every point, key=value separated by '|'"),
    [HTTP_OPT_SPOOL] = TROPT_OPTION_BOOL(
        "spool", "on",
        "off: what is not delivered is an error, never spooled (the replay hint sets it)"),
    [HTTP_OPT_COUNT] = TROPT_OPTIONS_END,
};
TROPT_OPTIONS_CHECK(http_options, HTTP_OPT_COUNT);

/* "scheme://host[:port]/path" of url: no user info, no query. */
static char *shown_url(const tropt_host *host, const char *url)
{
    const char *p = strstr(url, "://");
    const char *auth = p ? p + 3 : url;
    const char *end = auth + strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *q = auth; q < end; q++)
        if (*q == '@')
            at = q;
    size_t cap = strlen(url) + 1;
    char *s = host->malloc(cap);
    if (!s)
        return NULL;
    size_t o = 0;
    memcpy(s, url, (size_t)(auth - url));
    o = (size_t)(auth - url);
    const char *from = at ? at + 1 : auth;
    size_t rest = strcspn(from, "?#");
    memcpy(s + o, from, rest);
    o += rest;
    s[o] = '\0';
    return s;
}

/* The options of the replay spec: every one that shaped what reached the
 * server (format, measurement, tags), or that it needs to be reached (the
 * url with its secrets masked, token_env by name, ca_file, timeouts the user
 * set), and spool=off so that a replay either delivers or fails. */
static int hint_spec(const http *h, const tropt_optval *o, tev_buf *spec)
{
    static const int kept[] = {HTTP_OPT_MEASUREMENT, HTTP_OPT_TAGS,    HTTP_OPT_TOKEN_ENV,
                               HTTP_OPT_CA_FILE,     HTTP_OPT_TIMEOUT, HTTP_OPT_FLUSH_TIMEOUT};
    int bad = tev_buf_puts(spec, "http:") | tropt_hint_spec_option(spec, "url", h->url_hint);
    if (h->influx)
        bad |= tropt_hint_spec_option(spec, "format", "influx");
    for (size_t k = 0; k < sizeof kept / sizeof kept[0]; k++) {
        const tropt_optval *v = &o[kept[k]];
        if (v->is_set && v->text && *v->text)
            bad |= tropt_hint_spec_option(spec, http_options[kept[k]].name, v->text);
    }
    return bad | tropt_hint_spec_option(spec, "spool", "off");
}

/* "tropt replay DIR --tracker 'SPEC'", then what the command cannot carry
 * (secrets), as advice.  Host allocator; NULL when memory ran out. */
static char *replay_hint(const http *h, const tropt_optval *o)
{
    tev_buf spec, cmd;
    tev_buf_init(&spec, h->host->realloc, h->host->free);
    tev_buf_init(&cmd, h->host->realloc, h->host->free);
    int bad = hint_spec(h, o, &spec) | tev_buf_puts(&cmd, "tropt replay ") |
              tropt_hint_shell_word(&cmd, h->spool_dir, 0) | tev_buf_puts(&cmd, " --tracker ");
    if (!bad)
        bad = tropt_hint_shell_word(&cmd, spec.data, 1);
    if (strcmp(h->url, h->url_hint) != 0)
        bad |= tev_buf_puts(&cmd, " (the url's password and secret query values are shown as "
                                  "***: put them back)");
    if (o[HTTP_OPT_HEADERS].text && *o[HTTP_OPT_HEADERS].text)
        bad |= tev_buf_puts(&cmd, " (add headers=\"...\" as before: they are secret and not "
                                  "shown)");
    tev_buf_free(&spec);
    if (bad) {
        tev_buf_free(&cmd);
        return NULL;
    }
    return tev_buf_steal(&cmd);
}

static int add_header(http *h, const char *line)
{
    struct curl_slist *n = curl_slist_append(h->headers, line);
    if (!n)
        return -1;
    h->headers = n;
    return 0;
}

/* A zeroed instance with its locks and conditions ready, or NULL. */
static http *http_alloc(const tropt_host *host)
{
    http *h = host->malloc(sizeof *h);
    if (!h)
        return NULL;
    memset(h, 0, sizeof *h);
    h->host = host;
    h->spool_fd = -1;
    pthread_mutex_init(&h->mu, NULL);
    pthread_mutex_init(&h->spool_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->wake, &ca);
    pthread_cond_init(&h->done, &ca);
    pthread_cond_init(&h->room, &ca);
    pthread_condattr_destroy(&ca);
    h->pid = getpid();
    h->rng = (unsigned)time(NULL) ^ (unsigned)getpid() ^ (unsigned)(uintptr_t)h;
    return h;
}

/* The numeric options (already range-checked by the host). */
static void conf_numbers(http *h, const tropt_optval *o)
{
    h->influx = o[HTTP_OPT_FORMAT].i == 1;
    h->no_spool = o[HTTP_OPT_SPOOL].i == 0;
    h->timeout_ms = (long)o[HTTP_OPT_TIMEOUT].i;
    h->flush_timeout = o[HTTP_OPT_FLUSH_TIMEOUT].d / 1000.0;
    h->queue_size = o[HTTP_OPT_QUEUE_SIZE].i;
    h->batch_size = o[HTTP_OPT_BATCH_SIZE].i;
    /* a batch larger than the queue never fills: what waits beyond
     * queue_size is spilled first, even to a healthy server */
    if (h->batch_size > h->queue_size)
        h->batch_size = h->queue_size;
    /* room beyond queue_size for the sender to spool the excess from
     * without making log wait */
    h->ring_max = h->queue_size + (h->queue_size / 4 < 65536 ? h->queue_size / 4 : 65536) + 1024;
    h->max_delay = o[HTTP_OPT_MAX_DELAY].d / 1000.0;
    h->retries = o[HTTP_OPT_RETRIES].i;
    h->retry_initial = o[HTTP_OPT_RETRY_INITIAL].d / 1000.0;
    h->retry_max = o[HTTP_OPT_RETRY_MAX].d / 1000.0;
}

/* A copy of an optional text option into *out (left NULL when unset).
 * 0, or -1 when memory ran out. */
static int copy_opt(const http *h, const tropt_optval *v, char **out)
{
    if (!v->text)
        return 0;
    *out = tropt_host_strdup(h->host, v->text);
    return *out ? 0 : -1;
}

/* The url in its three forms, the folders and names, the replay hint.
 * TROPT_OK, TROPT_EINVAL (url) or TROPT_ENOMEM (not yet reported). */
static int conf_strings(http *h, const tropt_optval *o)
{
    const char *url = o[HTTP_OPT_URL].text ? o[HTTP_OPT_URL].text : "";
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return h->host->error(TROPT_EINVAL, "url must start with http:// or https://");
    h->url = tropt_host_strdup(h->host, url);
    h->url_shown = shown_url(h->host, url);
    /* the replay hint keeps the query (InfluxDB 1.x needs ?db=), secrets masked */
    size_t hint_cap = strlen(url) * 2 + 16;
    h->url_hint = h->host->malloc(hint_cap);
    if (h->url_hint)
        tropt_url_masked(url, h->url_hint, hint_cap);
    const char *dir = o[HTTP_OPT_SPOOL_DIR].text ? o[HTTP_OPT_SPOOL_DIR].text : "tropt-spool";
    h->spool_dir = tropt_host_strdup(h->host, dir);
    if (!h->url || !h->url_shown || !h->url_hint || !h->spool_dir ||
        !(h->replay_hint = replay_hint(h, o)) ||
        copy_opt(h, &o[HTTP_OPT_MEASUREMENT], &h->measurement) != 0 ||
        copy_opt(h, &o[HTTP_OPT_CA_FILE], &h->ca_file) != 0)
        return TROPT_ENOMEM;
    return TROPT_OK;
}

/* The influx tags, escaped once.  TROPT_OK, TROPT_EINVAL (reported) or
 * TROPT_ENOMEM (not yet reported). */
static int conf_tags(http *h, const tropt_optval *o)
{
    if (!o[HTTP_OPT_TAGS].text || !*o[HTTP_OPT_TAGS].text)
        return TROPT_OK;
    tev_buf tb;
    tev_buf_init(&tb, h->host->realloc, h->host->free);
    int bad = influx_tags(&tb, o[HTTP_OPT_TAGS].text);
    if (bad) {
        tev_buf_free(&tb);
        if (bad < 0)
            return TROPT_ENOMEM;
        return h->host->error(TROPT_EINVAL,
                              "tags: entry %d is not key=value (a non-empty key other than time, "
                              "which InfluxDB 1.x drops)",
                              bad);
    }
    h->tags = tev_buf_steal(&tb);
    return TROPT_OK;
}

/* The bearer token from the variable token_env names.  TROPT_OK,
 * TROPT_EINVAL (reported, naming the variable, never the value) or
 * TROPT_ENOMEM (not yet reported). */
static int conf_token(http *h, const tropt_optval *o)
{
    const char *var = o[HTTP_OPT_TOKEN_ENV].text;
    if (!var || !*var)
        return TROPT_OK;
    const char *tok = getenv(var);
    if (!tok || !*tok)
        return h->host->error(TROPT_EINVAL,
                              "token_env: environment variable %s is not set or empty", var);
    /* a CR/LF would inject headers, and a trailing newline (secrets
     * mounted from files) makes the server reject every batch: refuse
     * any control character, naming the variable, never the value */
    for (const unsigned char *c = (const unsigned char *)tok; *c; c++)
        if (*c < 0x20 || *c == 0x7F)
            return h->host->error(TROPT_EINVAL,
                                  "token_env: environment variable %s holds a control character "
                                  "(a newline?) at byte %zu; a token must be printable",
                                  var, (size_t)(c - (const unsigned char *)tok));
    size_t n = strlen(tok) + 32;
    char *line = h->host->malloc(n);
    if (!line)
        return TROPT_ENOMEM;
    snprintf(line, n, "Authorization: Bearer %s", tok);
    int bad = add_header(h, line);
    memset(line, 0, n);
    h->host->free(line);
    return bad ? TROPT_ENOMEM : TROPT_OK;
}

/* The user's headers, "Name: value" separated by '|' (secret: wiped after
 * use).  TROPT_OK, TROPT_EINVAL (reported, by index) or TROPT_ENOMEM. */
static int conf_headers(http *h, const tropt_optval *o)
{
    const char *p = o[HTTP_OPT_HEADERS].text;
    for (int idx = 1; p && *p; idx++) {
        size_t len = strcspn(p, "|");
        char *one = tropt_host_strndup(h->host, p, len);
        if (!one)
            return TROPT_ENOMEM;
        const char *colon = strchr(one, ':');
        int bad = !colon || colon == one || strpbrk(one, "\r\n") != NULL;
        int oom = !bad && add_header(h, one) != 0;
        memset(one, 0, len);
        h->host->free(one);
        if (oom)
            return TROPT_ENOMEM;
        if (bad)
            return h->host->error(TROPT_EINVAL, "headers: entry %d is not \"Name: value\"", idx);
        p += len;
        if (*p == '|')
            p++;
    }
    return TROPT_OK;
}

/* The curl handle set, the first chunk of the ring, the sender thread.
 * TROPT_OK, TROPT_EBACKEND (reported) or TROPT_ENOMEM. */
static int start_sender(http *h)
{
    h->multi = curl_multi_init();
    if (!h->multi || !(h->wchunk = h->host->malloc(sizeof(chunk) + CHUNK_BYTES)))
        return TROPT_ENOMEM;
    h->wchunk->next = NULL;
    h->wchunk->cap = CHUNK_BYTES;
    h->wchunk->used = 0;
    h->hchunk = h->wchunk;
    int e = pthread_create(&h->thread, NULL, hp_sender_main, h);
    if (e != 0) /* its error is the return value: errno is not set */
        return h->host->error(TROPT_EBACKEND, "cannot start the sender thread: %s", strerror(e));
    h->thread_started = 1;
    return TROPT_OK;
}

int http_create(void **self, const tropt_optval *o, const tropt_host *host)
{
    http *h = http_alloc(host);
    if (!h)
        return host->error(TROPT_ENOMEM, "out of memory");
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        host->free(h);
        return host->error(TROPT_EBACKEND, "cannot initialise libcurl");
    }
    conf_numbers(h, o);
    int rc = conf_strings(h, o);
    if (rc == TROPT_OK)
        rc = conf_tags(h, o);
    if (rc == TROPT_OK && (add_header(h, h->influx ? "Content-Type: text/plain; charset=utf-8"
                                                   : "Content-Type: application/x-ndjson") != 0 ||
                           add_header(h, "Expect:") != 0))
        rc = TROPT_ENOMEM;
    if (rc == TROPT_OK)
        rc = conf_token(h, o);
    if (rc == TROPT_OK)
        rc = conf_headers(h, o);
    if (rc == TROPT_OK)
        rc = start_sender(h);
    if (rc == TROPT_OK) {
        *self = h;
        return TROPT_OK;
    }
    if (rc == TROPT_ENOMEM)
        rc = host->error(TROPT_ENOMEM, "out of memory");
    http_destroy(h);
    return rc;
}
