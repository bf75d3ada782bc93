/*
 * Local event channels, shaped after Xen's interdomain channels as Linux's
 * /dev/xen/evtchn exposes them.  A port number is the table index + 1.
 *
 * Delivery: notify() marks the peer port; an unmasked, not yet queued port
 * goes onto its owner connection's ring (at most once, so the ring, sized
 * max_ports, never overflows) and the owner's eventfd becomes readable.
 * pending() pops a port and leaves it masked until unmask(), as the Linux
 * device does; a notify meanwhile is remembered and unmask() re-delivers it.
 *
 * Choices taken from Xen/Linux rather than invented:
 *   - bind_interdomain() leaves the new local port pending, as Xen does
 *     ("we may have lost notifications on the remote unbound port"), so the
 *     binder sees one event straight away;
 *   - when one end unbinds (or its domain is released), the other end goes
 *     back to unbound, still reserved for the same remote domain (which may
 *     bind it again); notify on an unbound port succeeds and is dropped;
 *   - notify/unbind on a port this handle does not own: -ENOTCONN (Linux);
 *     unmask of such a port is ignored (Linux's write() ignores it too).
 */
#include "hub_private.h"

#include <errno.h>
#include <string.h>

static struct hub_port *port_entry(struct rtv_local_hub *hub, rtv_port_t port)
{
    if (port == 0 || port > hub->hdr->cfg.max_ports)
        return NULL;
    return &hub->ports[port - 1];
}

static struct hub_port *port_mine(struct local_conn *c, rtv_port_t port)
{
    struct hub_port *e = port_entry(c->hub, port);
    if (e == NULL || e->state == PORT_FREE || e->conn != c->slot ||
        e->domid != c->domid)
        return NULL;
    return e;
}

static uint32_t *port_ring(struct rtv_local_hub *hub, uint32_t slot)
{
    return &hub->portq[(size_t)slot * hub->hdr->cfg.max_ports];
}

/* Locked. */
static void ring_push(struct rtv_local_hub *hub, uint32_t slot, rtv_port_t port)
{
    struct hub_conn *hc = &hub->conns[slot];
    uint32_t n = hub->hdr->cfg.max_ports;

    if (hc->pq_count >= n)     /* cannot happen: a port is queued once */
        return;
    port_ring(hub, slot)[(hc->pq_head + hc->pq_count) % n] = port;
    if (hc->pq_count++ == 0)
        hub_fd_raise(hub->evtchn_fd[slot]);
}

/* Locked: takes a port out of its owner's ring (unbind, release). */
static void ring_remove(struct rtv_local_hub *hub, uint32_t slot, rtv_port_t port)
{
    struct hub_conn *hc = &hub->conns[slot];
    uint32_t n = hub->hdr->cfg.max_ports, kept = 0;
    uint32_t *ring = port_ring(hub, slot);

    for (uint32_t k = 0; k < hc->pq_count; k++) {
        rtv_port_t p = ring[(hc->pq_head + k) % n];
        if (p != port)
            ring[(hc->pq_head + kept++) % n] = p;
    }
    if (hc->pq_count > 0 && kept == 0)
        hub_fd_drain(hub->evtchn_fd[slot]);
    hc->pq_count = kept;
}

/* Locked: an event arrives at port (index idx). */
static void port_signal(struct rtv_local_hub *hub, uint32_t idx)
{
    struct hub_port *e = &hub->ports[idx];

    if (e->queued)
        return;                /* still unread: one delivery says it all */
    if (e->masked) {
        e->pending = 1;
        return;
    }
    e->queued = 1;
    ring_push(hub, e->conn, idx + 1);
}

/* Locked: frees a port; an interdomain peer falls back to unbound. */
static void port_close(struct rtv_local_hub *hub, uint32_t idx)
{
    struct hub_port *e = &hub->ports[idx];

    if (e->state == PORT_INTERDOMAIN) {
        struct hub_port *p = port_entry(hub, e->peer);
        if (p != NULL && p->state == PORT_INTERDOMAIN && p->peer == idx + 1) {
            p->state = PORT_UNBOUND;
            p->peer = 0;
        }
    }
    if (e->queued)
        ring_remove(hub, e->conn, idx + 1);
    memset(e, 0, sizeof(*e));
}

/* Locked. */
static int port_alloc(struct local_conn *c, rtv_domid_t remote, uint32_t *idx)
{
    struct rtv_local_hub *hub = c->hub;

    for (uint32_t i = 0; i < hub->hdr->cfg.max_ports; i++) {
        struct hub_port *e = &hub->ports[i];
        if (e->state != PORT_FREE)
            continue;
        memset(e, 0, sizeof(*e));
        e->state = PORT_UNBOUND;
        e->conn = c->slot;
        e->domid = c->domid;
        e->remote_domid = remote;
        *idx = i;
        return 0;
    }
    return -ENOSPC;
}

static int local_evtchn_fd(struct rtv_evtchn *ev)
{
    struct local_conn *c = conn_of(ev, evtchn);
    return c->hub->evtchn_fd[c->slot];
}

static int local_alloc_unbound(struct rtv_evtchn *ev, rtv_domid_t remote,
                               rtv_port_t *port)
{
    struct local_conn *c = conn_of(ev, evtchn);
    uint32_t idx;

    if (port == NULL || remote >= RTV_DOMID_MAX)
        return -EINVAL;
    hub_lock(c->hub);
    int rc = hub_fault(c->hub, RTV_FAULT_EVTCHN_BIND, c->domid);
    if (rc == 0)
        rc = port_alloc(c, remote, &idx);
    hub_unlock(c->hub);
    if (rc == 0)
        *port = idx + 1;
    return rc;
}

static int local_bind_interdomain(struct rtv_evtchn *ev, rtv_domid_t remote,
                                  rtv_port_t remote_port, rtv_port_t *local_port)
{
    struct local_conn *c = conn_of(ev, evtchn);
    struct rtv_local_hub *hub = c->hub;
    uint32_t idx;
    int rc;

    if (local_port == NULL || remote >= RTV_DOMID_MAX)
        return -EINVAL;
    hub_lock(hub);
    if ((rc = hub_fault(hub, RTV_FAULT_EVTCHN_BIND, c->domid)) < 0)
        goto out;
    struct hub_port *r = port_entry(hub, remote_port);
    if (r == NULL || r->state != PORT_UNBOUND || r->domid != remote ||
        r->remote_domid != c->domid) {
        rc = -EINVAL;
        goto out;
    }
    if ((rc = port_alloc(c, remote, &idx)) < 0)
        goto out;
    struct hub_port *l = &hub->ports[idx];
    l->state = PORT_INTERDOMAIN;
    l->peer = remote_port;
    r->state = PORT_INTERDOMAIN;
    r->peer = idx + 1;
    port_signal(hub, idx);
    *local_port = idx + 1;
out:
    hub_unlock(hub);
    return rc;
}

static int local_notify(struct rtv_evtchn *ev, rtv_port_t port)
{
    struct local_conn *c = conn_of(ev, evtchn);
    struct rtv_local_hub *hub = c->hub;
    int rc;

    hub_lock(hub);
    if ((rc = hub_fault(hub, RTV_FAULT_EVTCHN_NOTIFY, c->domid)) < 0)
        goto out;
    struct hub_port *e = port_mine(c, port);
    if (e == NULL) {
        rc = -ENOTCONN;
        goto out;
    }
    if (e->state == PORT_INTERDOMAIN) {
        struct hub_port *p = port_entry(hub, e->peer);
        if (p != NULL && p->state == PORT_INTERDOMAIN)
            port_signal(hub, e->peer - 1);
    }
out:
    hub_unlock(hub);
    return rc;
}

static int local_unbind(struct rtv_evtchn *ev, rtv_port_t port)
{
    struct local_conn *c = conn_of(ev, evtchn);
    int rc = 0;

    hub_lock(c->hub);
    if (port_mine(c, port) == NULL)
        rc = -ENOTCONN;
    else
        port_close(c->hub, port - 1);
    hub_unlock(c->hub);
    return rc;
}

static int local_pending(struct rtv_evtchn *ev, rtv_port_t *port)
{
    struct local_conn *c = conn_of(ev, evtchn);
    struct rtv_local_hub *hub = c->hub;
    struct hub_conn *hc = &hub->conns[c->slot];
    uint32_t n = hub->hdr->cfg.max_ports;
    int rc = -EAGAIN;

    if (port == NULL)
        return -EINVAL;
    hub_lock(hub);
    while (hc->pq_count > 0) {
        rtv_port_t p = port_ring(hub, c->slot)[hc->pq_head];
        hc->pq_head = (hc->pq_head + 1) % n;
        hc->pq_count--;
        struct hub_port *e = port_mine(c, p);
        if (e == NULL || !e->queued)
            continue;          /* defensive: closed ports leave the ring */
        e->queued = 0;
        e->pending = 0;
        e->masked = 1;
        *port = p;
        rc = 0;
        break;
    }
    if (hc->pq_count == 0)
        hub_fd_drain(hub->evtchn_fd[c->slot]);
    hub_unlock(hub);
    return rc;
}

static int local_unmask(struct rtv_evtchn *ev, rtv_port_t port)
{
    struct local_conn *c = conn_of(ev, evtchn);

    hub_lock(c->hub);
    struct hub_port *e = port_mine(c, port);
    if (e != NULL && e->masked) {
        e->masked = 0;
        if (e->pending) {
            e->pending = 0;
            port_signal(c->hub, port - 1);
        }
    }
    hub_unlock(c->hub);
    return 0;
}

void evtchn_slot_closed(struct rtv_local_hub *hub, uint32_t slot)
{
    for (uint32_t i = 0; i < hub->hdr->cfg.max_ports; i++)
        if (hub->ports[i].state != PORT_FREE && hub->ports[i].conn == slot)
            port_close(hub, i);
    hub->conns[slot].pq_head = 0;
    hub->conns[slot].pq_count = 0;
    hub_fd_drain(hub->evtchn_fd[slot]);
}

void evtchn_conn_closed(struct local_conn *c)
{
    evtchn_slot_closed(c->hub, c->slot);
}

void evtchn_release_domain(struct rtv_local_hub *hub, rtv_domid_t domid)
{
    for (uint32_t i = 0; i < hub->hdr->cfg.max_ports; i++)
        if (hub->ports[i].state != PORT_FREE && hub->ports[i].domid == domid)
            port_close(hub, i);
}

static void local_evtchn_close(struct rtv_evtchn *ev)
{
    struct local_conn *c = conn_of(ev, evtchn);

    hub_lock(c->hub);
    if (hub_conn_ours(c))
        evtchn_conn_closed(c);
    hub_unlock(c->hub);
    hub_conn_put(c);
}

const struct rtv_evtchn_ops local_evtchn_ops = {
    .name             = "local",
    .fd               = local_evtchn_fd,
    .alloc_unbound    = local_alloc_unbound,
    .bind_interdomain = local_bind_interdomain,
    .notify           = local_notify,
    .unbind           = local_unbind,
    .pending          = local_pending,
    .unmask           = local_unmask,
    .close            = local_evtchn_close,
};
