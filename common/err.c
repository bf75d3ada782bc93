/* Error reports; see rtvirt/err.h. */
#include "rtvirt/err.h"

#include <stdarg.h>
#include <stdio.h>

int rtv_err_set(struct rtv_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return -code;
}
