/* core/host.c - the host services table handed to every plugin. */
#include <stdarg.h>
#include <string.h>

#include "internal.h"
#include "tropt_event.h"

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

static size_t host_json_real(char *buf, size_t size, double x)
{
    tev_buf b;
    tev_buf_init(&b, tropt__realloc, tropt__free);
    size_t n = 0;
    if (size && tev_put_real(&b, x, tropt__format_real) == 0 && b.len < size) {
        memcpy(buf, b.data, b.len + 1);
        n = b.len;
    } else if (size) {
        buf[0] = '\0';
    }
    tev_buf_free(&b);
    return n;
}

static char *host_json_value(const tropt_field *f, size_t *len)
{
    tev_buf b;
    tev_buf_init(&b, tropt__realloc, tropt__free);
    if (!f || tev_put_field_value(&b, f, tropt__format_real) != 0 || !b.data) {
        tev_buf_free(&b);
        if (len)
            *len = 0;
        if (f)
            tropt__oom();
        else
            tropt__error(TROPT_EINVAL, "json_value: field is NULL");
        return NULL;
    }
    if (len)
        *len = b.len;
    return tev_buf_steal(&b);
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
    .json_real = host_json_real,
    .json_value = host_json_value,
};

const char *tropt_version(void)
{
    return TROPT_VERSION_STRING;
}
