/*
 * vbd xenstore access through the schema table (see rtvirt/blkif_xs.h).
 */
#include "rtvirt/blkif_xs.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtvirt/xs_util.h"

int blkif_xs_path(char *buf, size_t len, const struct blkif_xs_dev *d,
                  enum rtv_xs_node node, unsigned queue, unsigned ring)
{
    struct rtv_xs_args a = {
        .domid = d->domid, .bedomid = d->bedomid, .devid = d->devid,
        .btype = "vbd", .queue = queue, .ring = ring,
    };

    return rtv_xs_path(buf, len, node, &a, NULL);
}

int blkif_xs_read(struct rtv_store *s, rtv_txn_t t, const struct blkif_xs_dev *d,
                  enum rtv_xs_node node, unsigned queue, unsigned ring,
                  char **val, struct rtv_err *err)
{
    char path[RTV_XS_PATH_MAX];
    int rc = blkif_xs_path(path, sizeof(path), d, node, queue, ring);

    if (rc < 0)
        return rc;
    rc = rtv_xs_read(s, t, path, val, NULL);
    if (rc < 0)
        return rc;
    rc = rtv_xs_check_value(node, *val, err);
    if (rc < 0) {
        free(*val);
        *val = NULL;
    }
    return rc;
}

int blkif_xs_read_uint(struct rtv_store *s, rtv_txn_t t, const struct blkif_xs_dev *d,
                       enum rtv_xs_node node, unsigned queue, unsigned ring,
                       unsigned long long max, bool def_ok, unsigned long long def,
                       unsigned long long *out)
{
    char *val = NULL;
    int rc = blkif_xs_read(s, t, d, node, queue, ring, &val, NULL);

    if (rc == -ENOENT && def_ok) {
        *out = def;
        return 0;
    }
    if (rc < 0)
        return rc;
    rc = rtv_parse_uint(val, max, out);
    free(val);
    return rc;
}

int blkif_xs_printf(struct rtv_store *s, rtv_txn_t t, const struct blkif_xs_dev *d,
                    enum rtv_xs_node node, unsigned queue, unsigned ring,
                    const char *fmt, ...)
{
    char path[RTV_XS_PATH_MAX], val[RTV_XS_VALUE_MAX];
    va_list ap;
    int rc = blkif_xs_path(path, sizeof(path), d, node, queue, ring), n;

    if (rc < 0)
        return rc;
    va_start(ap, fmt);
    n = vsnprintf(val, sizeof(val), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(val))
        return -E2BIG;
    return rtv_xs_write(s, t, path, val, (size_t)n);
}
