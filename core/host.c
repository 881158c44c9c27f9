/* core/host.c - the host services table handed to every plugin. */
#include <stdarg.h>

#include "internal.h"

static int host_error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tropt__verror(code, fmt, ap);
    va_end(ap);
    return code;
}

static void host_log(tropt_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tropt__vlog(level, fmt, ap);
    va_end(ap);
}

const tropt_host tropt__host_services = {
    .version = TROPT_HOST_VERSION,
    .struct_size = sizeof(tropt_host),
    .error = host_error,
    .log = host_log,
    .malloc = tropt__malloc,
    .realloc = tropt__realloc,
    .free = tropt__free,
    .now = tropt__now,
    .format_real = tropt__format_real,
};

const char *tropt_version(void)
{
    return TROPT_VERSION_STRING;
}
