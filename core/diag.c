/* core/diag.c - diagnostics: the log handler and its threshold. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

static pthread_mutex_t handler_lock = PTHREAD_MUTEX_INITIALIZER;
static tropt_log_fn handler;
static void *handler_data;
/* Calls of a handler running now (under handler_lock), signalled on
 * handler_idle when one ends; this thread's own calls in progress. */
static unsigned inflight;
static pthread_cond_t handler_idle = PTHREAD_COND_INITIALIZER;
static _Thread_local unsigned my_calls;
/* -1: not read from the environment yet. */
static atomic_int threshold = -1;

const char *tropt_level_name(tropt_level level)
{
    switch (level) {
    case TROPT_LEVEL_DEBUG:
        return "debug";
    case TROPT_LEVEL_INFO:
        return "info";
    case TROPT_LEVEL_WARNING:
        return "warning";
    case TROPT_LEVEL_ERROR:
        return "error";
    case TROPT_LEVEL_OFF:
        return "off";
    }
    return "unknown";
}

static int level_from_env(void)
{
    const char *s = getenv("TROPT_LOG_LEVEL");
    if (!s || !*s)
        return TROPT_LEVEL_WARNING;
    for (int l = TROPT_LEVEL_DEBUG; l <= TROPT_LEVEL_OFF; l++)
        if (strcasecmp(s, tropt_level_name((tropt_level)l)) == 0)
            return l;
    if (strcasecmp(s, "warn") == 0)
        return TROPT_LEVEL_WARNING;
    fprintf(stderr,
            "tropt: warning: TROPT_LOG_LEVEL=%s is not one of debug|info|warning|error|off; using "
            "warning\n",
            s);
    return TROPT_LEVEL_WARNING;
}

static int get_threshold(void)
{
    int t = atomic_load(&threshold);
    if (t < 0) {
        int fresh = level_from_env();
        int expected = -1;
        atomic_compare_exchange_strong(&threshold, &expected, fresh);
        t = atomic_load(&threshold);
    }
    return t;
}

void tropt_set_log_level(tropt_level level)
{
    /* Out of range: back to TROPT_LOG_LEVEL, read again at the next line. */
    if ((int)level < TROPT_LEVEL_DEBUG || level > TROPT_LEVEL_OFF)
        atomic_store(&threshold, -1);
    else
        atomic_store(&threshold, (int)level);
}

void tropt_set_log_handler(tropt_log_fn fn, void *userdata)
{
    pthread_mutex_lock(&handler_lock);
    handler = fn;
    handler_data = userdata;
    /* Return only once no other thread is still inside a handler, so the
     * caller may free the old handler's userdata (issue 18 #15).  Calls of
     * this thread (set from inside a handler) are not waited for. */
    while (inflight > my_calls)
        pthread_cond_wait(&handler_idle, &handler_lock);
    pthread_mutex_unlock(&handler_lock);
}

int tropt__log_enabled(tropt_level level)
{
    return level < TROPT_LEVEL_OFF && (int)level >= get_threshold();
}

void tropt__vlog(tropt_level level, const char *fmt, va_list ap)
{
    if (!tropt__log_enabled(level))
        return;
    char buf[2048];
    vsnprintf(buf, sizeof buf, fmt, ap);
    pthread_mutex_lock(&handler_lock);
    tropt_log_fn fn = handler;
    void *ud = handler_data;
    if (fn)
        inflight++;
    pthread_mutex_unlock(&handler_lock);
    if (!fn) {
        fprintf(stderr, "tropt: %s: %s\n", tropt_level_name(level), buf);
        return;
    }
    my_calls++;
    fn(level, buf, ud);
    my_calls--;
    pthread_mutex_lock(&handler_lock);
    inflight--;
    pthread_cond_broadcast(&handler_idle); /* a setter waits for the count to drop */
    pthread_mutex_unlock(&handler_lock);
}

void tropt__log(tropt_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tropt__vlog(level, fmt, ap);
    va_end(ap);
}
