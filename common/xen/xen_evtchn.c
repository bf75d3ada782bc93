/* Event channel ops over libxenevtchn (Linux /dev/xen/evtchn). */
#include "xen_private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xenevtchn.h>

struct xen_evtchn {
    struct rtv_evtchn    base;
    xenevtchn_handle    *xce;
};

static xenevtchn_handle *h(struct rtv_evtchn *e)
{
    return ((struct xen_evtchn *)e)->xce;
}

static int xe_fd(struct rtv_evtchn *e)
{
    return xenevtchn_fd(h(e));
}

static int xe_alloc_unbound(struct rtv_evtchn *e, rtv_domid_t remote,
                            rtv_port_t *port)
{
    xenevtchn_port_or_error_t p = xenevtchn_bind_unbound_port(h(e), remote);
    if (p < 0)
        return -errno;
    *port = (rtv_port_t)p;
    return 0;
}

static int xe_bind_interdomain(struct rtv_evtchn *e, rtv_domid_t remote,
                               rtv_port_t remote_port, rtv_port_t *local_port)
{
    xenevtchn_port_or_error_t p =
        xenevtchn_bind_interdomain(h(e), remote, remote_port);
    if (p < 0)
        return -errno;
    *local_port = (rtv_port_t)p;
    return 0;
}

static int xe_notify(struct rtv_evtchn *e, rtv_port_t port)
{
    return xenevtchn_notify(h(e), port) == 0 ? 0 : -errno;
}

static int xe_unbind(struct rtv_evtchn *e, rtv_port_t port)
{
    return xenevtchn_unbind(h(e), port) == 0 ? 0 : -errno;
}

static int xe_pending(struct rtv_evtchn *e, rtv_port_t *port)
{
    xenevtchn_port_or_error_t p = xenevtchn_pending(h(e));
    if (p < 0)
        return errno ? -errno : -EAGAIN;
    *port = (rtv_port_t)p;
    return 0;
}

static int xe_unmask(struct rtv_evtchn *e, rtv_port_t port)
{
    return xenevtchn_unmask(h(e), port) == 0 ? 0 : -errno;
}

static void xe_close(struct rtv_evtchn *e)
{
    xenevtchn_close(h(e));
    free(e);
}

static const struct rtv_evtchn_ops xen_evtchn_ops = {
    .name = "xen",
    .fd = xe_fd,
    .alloc_unbound = xe_alloc_unbound,
    .bind_interdomain = xe_bind_interdomain,
    .notify = xe_notify,
    .unbind = xe_unbind,
    .pending = xe_pending,
    .unmask = xe_unmask,
    .close = xe_close,
};

int rtv_xen_evtchn_open(struct rtv_evtchn **out, struct rtv_err *err)
{
    struct xen_evtchn *x = calloc(1, sizeof(*x));
    if (x == NULL)
        return rtv_err_set(err, ENOMEM, "event channels: out of memory");
    x->base.ops = &xen_evtchn_ops;
    x->xce = xenevtchn_open(NULL, 0);
    if (x->xce == NULL) {
        int e = errno ? errno : EIO;
        free(x);
        return rtv_err_set(err, e, "event channels: cannot open /dev/xen/evtchn: %s "
                           "(is xen-evtchn loaded?)", strerror(e));
    }
    *out = &x->base;
    return 0;
}
