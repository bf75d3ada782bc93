/* Store helpers on top of the seam; see rtvirt/xs_util.h. */
#include "rtvirt/xs_util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rtv_xs_transact(struct rtv_store *s, unsigned max_tries,
                    rtv_xs_txn_fn fn, void *arg)
{
    if (max_tries == 0)
        max_tries = RTV_XS_TXN_TRIES;

    for (unsigned try = 0; try < max_tries; try++) {
        rtv_txn_t t;
        int rc = rtv_xs_txn_start(s, &t);
        if (rc < 0)
            return rc;

        rc = fn(s, t, arg);
        if (rc < 0) {
            rtv_xs_txn_end(s, t, true);
            if (rc == -EAGAIN)
                continue;
            return rc;
        }
        rc = rtv_xs_txn_end(s, t, false);
        if (rc != -EAGAIN)
            return rc;
        /* Someone changed what we read: redo the whole body on fresh data. */
    }
    return -EAGAIN;
}

int rtv_xs_printf(struct rtv_store *s, rtv_txn_t t, const char *path,
                  const char *fmt, ...)
{
    char buf[RTV_XS_VALUE_MAX + 1];
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n >= sizeof(buf))
        return -E2BIG;
    return rtv_xs_write(s, t, path, buf, (size_t)n);
}

int rtv_parse_uint(const char *text, unsigned long long max,
                   unsigned long long *out)
{
    unsigned long long v = 0;

    if (text == NULL || text[0] == '\0')
        return -EINVAL;
    if (text[0] == '0' && text[1] != '\0')
        return -EINVAL;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        unsigned d = (unsigned)(*p - '0');
        /* v * 10 + d > max, written so that nothing can wrap around. */
        if (v > max / 10 || d > max - v * 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int rtv_xs_read_uint(struct rtv_store *s, rtv_txn_t t, const char *path,
                     unsigned long long max, unsigned long long *out)
{
    char *val;
    size_t len;
    int rc = rtv_xs_read(s, t, path, &val, &len);
    if (rc < 0)
        return rc;
    rc = strlen(val) == len ? rtv_parse_uint(val, max, out) : -EINVAL;
    free(val);
    return rc;
}
