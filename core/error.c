/* core/error.c - error codes, their names, and the per-thread message. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define MSG_SIZE 1024

static _Thread_local char message[MSG_SIZE];

const char *tropt_error_message(void)
{
    return message;
}

const char *tropt_error_name(int code)
{
    switch (code) {
#define NAME_CASE(name, value, desc)                                                               \
    case value:                                                                                    \
        return "TROPT_" #name;
        TROPT_ERROR_TABLE(NAME_CASE)
#undef NAME_CASE
    default:
        return "TROPT_UNKNOWN";
    }
}

int tropt__verror(int code, const char *fmt, va_list ap)
{
    vsnprintf(message, sizeof message, fmt, ap);
    return code;
}

int tropt__error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tropt__verror(code, fmt, ap);
    va_end(ap);
    return code;
}

int tropt__oom(void)
{
    return tropt__error(TROPT_ENOMEM, "out of memory");
}

void tropt__error_prefix(const char *prefix)
{
    char tmp[2 * MSG_SIZE + 8];
    if (tropt__starts_with_label(message, prefix)) /* never the same prefix twice */
        return;
    snprintf(tmp, sizeof tmp, "%s: %s", prefix, message[0] ? message : "failed");
    memcpy(message, tmp, sizeof message - 1);
    message[sizeof message - 1] = '\0';
}

void tropt__error_save(char *buf, size_t size)
{
    snprintf(buf, size, "%s", message);
}

void tropt__error_restore(const char *buf)
{
    snprintf(message, sizeof message, "%s", buf);
}

void tropt__error_clear(void)
{
    message[0] = '\0';
}
