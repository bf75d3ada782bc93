/* Notes and log sinks; see rtvirt/log.h. */
#include "rtvirt/log.h"

#include <stdarg.h>
#include <stdio.h>

void rtv_notef(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;

    if (buf == NULL || len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

void rtv_logf(const struct rtv_log_sink *sink, const char *prefix, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    rtv_vlogf(sink, prefix, fmt, ap);
    va_end(ap);
}

void rtv_vlogf(const struct rtv_log_sink *sink, const char *prefix, const char *fmt,
               va_list ap)
{
    char buf[768];

    vsnprintf(buf, sizeof(buf), fmt, ap);
    if (sink != NULL && sink->fn != NULL)
        sink->fn(sink->ctx, buf);
    else
        fprintf(stderr, "%s: %s\n", prefix, buf);
}
