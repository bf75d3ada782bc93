/* Store ops over libxenstore (xenstored through /dev/xen/xenbus or the socket). */
#include "xen_private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

struct xen_store {
    struct rtv_store   base;
    struct xs_handle  *xsh;
};

static struct xs_handle *h(struct rtv_store *s)
{
    return ((struct xen_store *)s)->xsh;
}

/* libxenstore reports failure as false/NULL with errno set. */
static int fail(void)
{
    return errno ? -errno : -EIO;
}

static int xs_op_read(struct rtv_store *s, rtv_txn_t t, const char *path,
                      char **val, size_t *len)
{
    unsigned int n;
    char *v = xs_read(h(s), t, path, &n);   /* NUL-terminated by libxenstore */
    if (v == NULL)
        return fail();
    *val = v;
    if (len)
        *len = n;
    return 0;
}

static int xs_op_write(struct rtv_store *s, rtv_txn_t t, const char *path,
                       const void *val, size_t len)
{
    if (len > RTV_XS_VALUE_MAX)
        return -E2BIG;
    return xs_write(h(s), t, path, val, (unsigned int)len) ? 0 : fail();
}

static int xs_op_mkdir(struct rtv_store *s, rtv_txn_t t, const char *path)
{
    return xs_mkdir(h(s), t, path) ? 0 : fail();
}

static int xs_op_rm(struct rtv_store *s, rtv_txn_t t, const char *path)
{
    return xs_rm(h(s), t, path) ? 0 : fail();
}

static int xs_op_directory(struct rtv_store *s, rtv_txn_t t, const char *path,
                           char ***names, unsigned *num)
{
    unsigned int n;
    char **d = xs_directory(h(s), t, path, &n);   /* one allocation */
    if (d == NULL)
        return fail();
    *names = d;
    *num = n;
    return 0;
}

static int xs_op_get_perms(struct rtv_store *s, rtv_txn_t t, const char *path,
                           struct rtv_xs_perm **perms, unsigned *num)
{
    unsigned int n;
    struct xs_permissions *p = xs_get_permissions(h(s), t, path, &n);
    if (p == NULL)
        return fail();
    struct rtv_xs_perm *out = calloc(n ? n : 1, sizeof(*out));
    if (out == NULL) {
        free(p);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < n; i++) {
        out[i].domid = (rtv_domid_t)p[i].id;
        out[i].perms = p[i].perms & (XS_PERM_READ | XS_PERM_WRITE);
    }
    free(p);
    *perms = out;
    *num = n;
    return 0;
}

static int xs_op_set_perms(struct rtv_store *s, rtv_txn_t t, const char *path,
                           const struct rtv_xs_perm *perms, unsigned num)
{
    struct xs_permissions p[RTV_XS_PERMS_MAX];

    if (num == 0 || num > RTV_XS_PERMS_MAX)
        return -EINVAL;
    for (unsigned i = 0; i < num; i++) {
        p[i].id = perms[i].domid;
        p[i].perms = perms[i].perms & RTV_XS_PERM_BOTH;
    }
    return xs_set_permissions(h(s), t, path, p, num) ? 0 : fail();
}

static int xs_op_txn_start(struct rtv_store *s, rtv_txn_t *t)
{
    xs_transaction_t x = xs_transaction_start(h(s));
    if (x == XBT_NULL)
        return fail();
    *t = x;
    return 0;
}

static int xs_op_txn_end(struct rtv_store *s, rtv_txn_t t, bool abort)
{
    return xs_transaction_end(h(s), t, abort) ? 0 : fail();
}

static int xs_op_watch(struct rtv_store *s, const char *path, const char *token)
{
    return xs_watch(h(s), path, token) ? 0 : fail();
}

static int xs_op_unwatch(struct rtv_store *s, const char *path, const char *token)
{
    return xs_unwatch(h(s), path, token) ? 0 : fail();
}

static int xs_op_watch_fd(struct rtv_store *s)
{
    return xs_fileno(h(s));
}

static int xs_op_read_watch(struct rtv_store *s, char **path, char **token)
{
    /* xs_check_watch() never blocks: NULL with EAGAIN when nothing queued. */
    char **ev = xs_check_watch(h(s));
    if (ev == NULL)
        return fail();
    *path = strdup(ev[XS_WATCH_PATH]);
    *token = strdup(ev[XS_WATCH_TOKEN]);
    free(ev);
    if (*path == NULL || *token == NULL) {
        free(*path);
        free(*token);
        return -ENOMEM;
    }
    return 0;
}

static void xs_op_close(struct rtv_store *s)
{
    xs_close(h(s));
    free(s);
}

static const struct rtv_store_ops xen_store_ops = {
    .name = "xen",
    .read = xs_op_read,
    .write = xs_op_write,
    .mkdir = xs_op_mkdir,
    .rm = xs_op_rm,
    .directory = xs_op_directory,
    .get_perms = xs_op_get_perms,
    .set_perms = xs_op_set_perms,
    .txn_start = xs_op_txn_start,
    .txn_end = xs_op_txn_end,
    .watch = xs_op_watch,
    .unwatch = xs_op_unwatch,
    .watch_fd = xs_op_watch_fd,
    .read_watch = xs_op_read_watch,
    .close = xs_op_close,
};

int rtv_xen_self_domid(struct rtv_store *xs, rtv_domid_t *out)
{
    /* "domid" is relative: xenstored resolves it under our own
     * /local/domain/<id>, so reading it tells us who we are. */
    char *v = NULL, *end;
    size_t n;
    unsigned long id;
    int rc = rtv_xs_read(xs, RTV_XS_NO_TXN, "domid", &v, &n);

    if (rc < 0)
        return rc;
    id = strtoul(v, &end, 10);
    rc = (end == v || *end != '\0' || id > RTV_DOMID_MAX) ? -EINVAL : 0;
    free(v);
    if (rc == 0)
        *out = (rtv_domid_t)id;
    return rc;
}

int rtv_xen_store_open(struct rtv_store **out, rtv_domid_t *self,
                       struct rtv_err *err)
{
    struct xen_store *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return rtv_err_set(err, ENOMEM, "xenstore: out of memory");
    s->base.ops = &xen_store_ops;
    s->xsh = xs_open(0);
    if (s->xsh == NULL) {
        int e = errno ? errno : EIO;
        free(s);
        return rtv_err_set(err, e, "xenstore: cannot connect to xenstored: %s "
                           "(is this a Xen domain with xenfs / xen_xenbus loaded?)",
                           strerror(e));
    }

    /* 0 if it cannot be read, as a tool in dom0 takes it. */
    if (rtv_xen_self_domid(&s->base, self) < 0)
        *self = 0;
    *out = &s->base;
    return 0;
}
