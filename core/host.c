/* core/host.c - the host services table handed to every plugin. */
#include <stdarg.h>
#include <stdio.h>
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

static void host_log_from(const tropt_host *host, tropt_level level, const char *fmt, ...)
{
    if (!fmt || !tropt__log_enabled(level))
        return; /* below the threshold: not even formatted */
    const tropt__host_ex *hx = (const tropt__host_ex *)host;
    const char *label = host && hx->magic == TROPT__HOST_MAGIC ? hx->label : NULL;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!label || tropt__starts_with_label(msg, label))
        tropt__log(level, "%s", msg);
    else
        tropt__log(level, "%s: %s", label, msg);
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

/* The shared table, inside a tropt__host_ex without a label, so that
 * log_from may read the magic of any table the host made. */
static const tropt__host_ex host_template = {
    .pub =
        {
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
            .log_from = host_log_from,
        },
    .magic = TROPT__HOST_MAGIC,
    .label = NULL,
};
const tropt_host *const tropt__host_services = &host_template.pub;

void tropt__host_for(tropt__host_ex *hx, const char *label)
{
    hx->pub = host_template.pub;
    hx->magic = TROPT__HOST_MAGIC;
    hx->label = label;
}

const char *tropt_version(void)
{
    return TROPT_VERSION_STRING;
}
