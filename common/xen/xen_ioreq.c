/*
 * The device-model seam over the Xen libraries; see rtvirt/ioreq_seam.h.
 *
 * Set-up is a ladder (STYLE.md 6): create the server, map its ioreq page,
 * (claim ports,) enable it and bind the vCPUs' event channels; destroy()
 * tears down whatever was reached.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <xenctrl.h>
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xen/memory.h>

#include "rtvirt/ioreq_seam.h"

struct xen_ioreq {
    struct rtv_ioreq_srv              base;
    xc_interface                     *xch;
    xendevicemodel_handle            *dmod;
    xenforeignmemory_handle          *fmem;
    xenevtchn_handle                 *xce;
    bool                              have_server;
    ioservid_t                        id;
    xenforeignmemory_resource_handle *res;
    shared_iopage_t                  *page;
    unsigned                          nvcpus;
    evtchn_port_t                    *local;    /* [nvcpus]: our port of each vCPU's channel */
};

static struct xen_ioreq *X(struct rtv_ioreq_srv *s)
{
    return (struct xen_ioreq *)s;
}

static int fail(struct rtv_err *err, const char *what)
{
    int e = errno ? errno : EIO;

    return rtv_err_set(err, e, "%s: %s", what, strerror(e));
}

static void xi_destroy(struct rtv_ioreq_srv *s)
{
    struct xen_ioreq *x = X(s);

    for (unsigned v = 0; x->local && v < x->nvcpus; v++)
        if (x->local[v])
            xenevtchn_unbind(x->xce, x->local[v]);
    free(x->local);
    x->local = NULL;
    if (x->res)
        xenforeignmemory_unmap_resource(x->fmem, x->res);
    x->res = NULL;
    x->page = NULL;
    if (x->have_server)
        xendevicemodel_destroy_ioreq_server(x->dmod, s->domid, x->id);
    x->have_server = false;
}

/* Before a server is created or adopted: none held yet, and the domain's
 * vCPU count, for the ioreq page's slots. */
static int prepare(struct xen_ioreq *x, struct rtv_err *err)
{
    xc_dominfo_t info;

    if (x->have_server)
        return rtv_err_set(err, EEXIST, "the ioreq server exists already");
    if (xc_domain_getinfo(x->xch, x->base.domid, 1, &info) != 1 || info.domid != x->base.domid)
        return rtv_err_set(err, ESRCH, "no domain %u", x->base.domid);
    if (!info.hvm)
        return rtv_err_set(err, EINVAL, "domain %u is not HVM: no ioreq servers", x->base.domid);
    x->nvcpus = info.max_vcpu_id + 1;
    return 0;
}

/* The server's synchronous ioreq page (frame 0 is the buffered page, off
 * here; the synchronous one is frame_ioreq(0)); on failure the server is
 * destroyed. */
static int map_page(struct xen_ioreq *x, struct rtv_err *err)
{
    void *addr = NULL;

    x->res = xenforeignmemory_map_resource(x->fmem, x->base.domid, XENMEM_resource_ioreq_server,
                                           x->id, XENMEM_resource_ioreq_server_frame_ioreq(0), 1,
                                           &addr, PROT_READ | PROT_WRITE, 0);
    if (!x->res) {
        fail(err, "xenforeignmemory_map_resource (ioreq page)");
        xi_destroy(&x->base);
        return -err->code;
    }
    x->page = addr;
    return 0;
}

static int xi_create(struct rtv_ioreq_srv *s, struct rtv_err *err)
{
    struct xen_ioreq *x = X(s);
    int rc = prepare(x, err);

    if (rc < 0)
        return rc;
    if (xendevicemodel_create_ioreq_server(x->dmod, s->domid, HVM_IOREQSRV_BUFIOREQ_OFF, &x->id) < 0)
        return fail(err, "xendevicemodel_create_ioreq_server");
    x->have_server = true;
    return map_page(x, err);
}

/* One event channel per vCPU.  Xen writes each vCPU's vp_eport into the
 * ioreq page when the server is enabled (the page is cleared when it is
 * allocated), so this runs after enabling, as qemu's set-up does. */
static int bind_vcpus(struct xen_ioreq *x, struct rtv_err *err)
{
    x->local = calloc(x->nvcpus, sizeof(*x->local));
    if (!x->local)
        return rtv_err_set(err, ENOMEM, "out of memory");
    for (unsigned v = 0; v < x->nvcpus; v++) {
        xenevtchn_port_or_error_t p =
            xenevtchn_bind_interdomain(x->xce, x->base.domid, x->page->vcpu_ioreq[v].vp_eport);

        if (p < 0)
            return fail(err, "xenevtchn_bind_interdomain (a vCPU's ioreq channel)");
        x->local[v] = (evtchn_port_t)p;
    }
    return 0;
}

static int xi_claim(struct rtv_ioreq_srv *s, uint16_t first, uint16_t last, bool on,
                    struct rtv_err *err)
{
    struct xen_ioreq *x = X(s);
    int rc = on ? xendevicemodel_map_io_range_to_ioreq_server(x->dmod, s->domid, x->id, 0, first, last)
                : xendevicemodel_unmap_io_range_from_ioreq_server(x->dmod, s->domid, x->id, 0, first, last);

    return rc < 0 ? fail(err, on ? "map_io_range_to_ioreq_server" : "unmap_io_range_from_ioreq_server") : 0;
}

static int xi_enable(struct rtv_ioreq_srv *s, bool on, struct rtv_err *err)
{
    struct xen_ioreq *x = X(s);

    if (xendevicemodel_set_ioreq_server_state(x->dmod, s->domid, x->id, on) < 0)
        return fail(err, "xendevicemodel_set_ioreq_server_state");
    return on && !x->local ? bind_vcpus(x, err) : 0;
}

static uint16_t xi_id(struct rtv_ioreq_srv *s)
{
    return X(s)->id;
}

static int xi_adopt(struct rtv_ioreq_srv *s, uint16_t id, uint16_t first, uint16_t last,
                    struct rtv_err *err)
{
    struct xen_ioreq *x = X(s);
    int rc = prepare(x, err);

    if (rc < 0)
        return rc;
    /* Xen cannot say which ports a server claims, but refuses to claim a
     * range twice in one server: EEXIST is the sign that server `id` holds
     * our ports.  One that takes the claim is not ours (the id was reused):
     * the claim is undone and the server left alone. */
    if (xendevicemodel_map_io_range_to_ioreq_server(x->dmod, s->domid, id, 0, first, last) == 0) {
        xendevicemodel_unmap_io_range_from_ioreq_server(x->dmod, s->domid, id, 0, first, last);
        return rtv_err_set(err, ESRCH, "ioreq server %u of domain %u does not claim %#x-%#x",
                           id, s->domid, first, last);
    }
    if (errno == ENOENT)
        return rtv_err_set(err, ENOENT, "domain %u has no ioreq server %u", s->domid, id);
    if (errno != EEXIST)
        return fail(err, "map_io_range_to_ioreq_server (is the server ours?)");
    x->id = id;
    x->have_server = true;
    rc = map_page(x, err);
    if (rc == 0)
        rc = xi_enable(s, true, err);   /* idempotent; Xen (re)publishes vp_eport */
    return rc;
}

static unsigned xi_vcpus(struct rtv_ioreq_srv *s)
{
    return X(s)->nvcpus;
}

static ioreq_t *xi_slot(struct rtv_ioreq_srv *s, unsigned v)
{
    return &X(s)->page->vcpu_ioreq[v];
}

static int xi_fd(struct rtv_ioreq_srv *s)
{
    return X(s)->local ? xenevtchn_fd(X(s)->xce) : -1;
}

static int xi_pending(struct rtv_ioreq_srv *s, unsigned *v)
{
    struct xen_ioreq *x = X(s);
    struct pollfd pf = { .fd = xenevtchn_fd(x->xce), .events = POLLIN };
    xenevtchn_port_or_error_t p;

    /* xenevtchn_pending() reads the evtchn device, which blocks when no
     * event is queued: only read what poll says is there. */
    if (!x->local || poll(&pf, 1, 0) != 1)
        return -EAGAIN;
    p = xenevtchn_pending(x->xce);
    if (p < 0)
        return errno && errno != EAGAIN ? -errno : -EAGAIN;
    xenevtchn_unmask(x->xce, (evtchn_port_t)p);
    for (unsigned i = 0; i < x->nvcpus; i++)
        if (x->local[i] == (evtchn_port_t)p) {
            *v = i;
            return 0;
        }
    return -EAGAIN;   /* a port of ours no vCPU has (unbound meanwhile) */
}

static int xi_notify(struct rtv_ioreq_srv *s, unsigned v)
{
    struct xen_ioreq *x = X(s);

    return xenevtchn_notify(x->xce, x->local[v]) == 0 ? 0 : -errno;
}

static int xi_set_isa_irq(struct rtv_ioreq_srv *s, uint8_t irq, bool level, struct rtv_err *err)
{
    if (xendevicemodel_set_isa_irq_level(X(s)->dmod, s->domid, irq, level) < 0)
        return fail(err, "xendevicemodel_set_isa_irq_level");
    return 0;
}

static int xi_direct(struct rtv_ioreq_srv *s, uint16_t first, uint16_t n, bool add,
                     struct rtv_err *err)
{
    if (xc_domain_ioport_mapping(X(s)->xch, s->domid, first, first, n,
                                 add ? DPCI_ADD_MAPPING : DPCI_REMOVE_MAPPING) < 0)
        return fail(err, add ? "xc_domain_ioport_mapping (add)" : "xc_domain_ioport_mapping (remove)");
    return 0;
}

static int xi_pt_irq(struct rtv_ioreq_srv *s, const struct rtv_pt_irq *b, bool bind,
                     struct rtv_err *err)
{
    uint8_t type = b->kind == RTV_PT_IRQ_ISA ? PT_IRQ_TYPE_ISA : PT_IRQ_TYPE_PCI;
    int rc = bind ? xc_domain_bind_pt_irq(X(s)->xch, s->domid, b->pirq, type, b->bus, b->dev,
                                          b->intx, b->isa_irq)
                  : xc_domain_unbind_pt_irq(X(s)->xch, s->domid, b->pirq, type, b->bus, b->dev,
                                            b->intx, b->isa_irq);

    if (rc < 0)
        return fail(err, bind ? "xc_domain_bind_pt_irq" : "xc_domain_unbind_pt_irq");
    return 0;
}

static int xi_console(struct rtv_ioreq_srv *s, uint32_t *index, char *buf, uint32_t *len,
                      struct rtv_err *err)
{
    unsigned n = *len;

    /* incremental: from *index on, which Xen moves past what it copied */
    if (xc_readconsolering(X(s)->xch, buf, &n, 0, 1, index) < 0)
        return fail(err, "xc_readconsolering");
    *len = n;
    return 0;
}

static void xi_close(struct rtv_ioreq_srv *s)
{
    struct xen_ioreq *x = X(s);

    xi_destroy(s);
    if (x->xce)
        xenevtchn_close(x->xce);
    if (x->fmem)
        xenforeignmemory_close(x->fmem);
    if (x->dmod)
        xendevicemodel_close(x->dmod);
    if (x->xch)
        xc_interface_close(x->xch);
    free(x);
}

static const struct rtv_ioreq_srv_ops xen_ioreq_ops = {
    .name = "xen",
    .create = xi_create,
    .claim = xi_claim,
    .enable = xi_enable,
    .destroy = xi_destroy,
    .id = xi_id,
    .adopt = xi_adopt,
    .vcpus = xi_vcpus,
    .slot = xi_slot,
    .fd = xi_fd,
    .pending = xi_pending,
    .notify = xi_notify,
    .set_isa_irq = xi_set_isa_irq,
    .direct = xi_direct,
    .pt_irq = xi_pt_irq,
    .console = xi_console,
    .close = xi_close,
};

int rtv_xen_ioreq_open(struct rtv_ioreq_srv **out, uint16_t domid, struct rtv_err *err)
{
    struct xen_ioreq *x = calloc(1, sizeof(*x));

    if (!x)
        return rtv_err_set(err, ENOMEM, "out of memory");
    x->base = (struct rtv_ioreq_srv){ .ops = &xen_ioreq_ops, .domid = domid };
    x->xch = xc_interface_open(NULL, NULL, 0);
    x->dmod = xendevicemodel_open(NULL, 0);
    x->fmem = xenforeignmemory_open(NULL, 0);
    x->xce = xenevtchn_open(NULL, 0);
    if (!x->xch || !x->dmod || !x->fmem || !x->xce) {
        int rc = fail(err, "cannot open libxenctrl/libxendevicemodel/libxenforeignmemory/libxenevtchn "
                           "(run as root in dom0)");

        xi_close(&x->base);
        return rc;
    }
    *out = &x->base;
    return 0;
}
