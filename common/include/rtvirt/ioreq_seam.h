/*
 * The device-model seam: what rtvirt-ioemu needs from Xen to trap one
 * guest's accesses to one device's ports, and to hand them back.
 *
 * Two implementations sit behind the ops:
 *   - the real one (common/xen/xen_ioreq.c): an ioreq server over
 *     libxendevicemodel, its ioreq page through libxenforeignmemory
 *     (XENMEM_resource_ioreq_server), one event channel per vCPU through
 *     libxenevtchn, the guest's ISA IRQ line (set_isa_irq_level), and Xen's
 *     own port mapping (XEN_DOMCTL_ioport_mapping through libxenctrl), which
 *     Xen serves before any ioreq server: while it is in place no access
 *     traps, whatever the server claims;
 *   - a fake for host tests (tests/component/fake_ioreq.c), whose "guest"
 *     issues requests into an in-memory ioreq page.
 *
 * Ordering is the caller's (ioemu/ioemu_srv.c): to trap, create, claim the
 * ports, enable, then remove the direct mapping (the guest's accesses never
 * find neither path); to untrap, restore the mapping first, then destroy.
 *
 * The ioreq page is shared with the hypervisor and carries the guest's
 * requests: callers copy a vCPU's slot after reading STATE_IOREQ_READY, then
 * fence (rtvirt/ioreq_pio.h).  Every op returns 0 or -errno with err set.
 */
#ifndef RTVIRT_IOREQ_SEAM_H
#define RTVIRT_IOREQ_SEAM_H

#include <stdbool.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/hvm/ioreq.h>

#include "rtvirt/err.h"

struct rtv_ioreq_srv;

/* A machine IRQ's passthrough binding (pt_irq below). */
enum rtv_pt_irq_kind {
    RTV_PT_IRQ_ISA,        /* the guest's ISA IRQ isa_irq */
    RTV_PT_IRQ_PCI_INTX,   /* INTx `intx` (0 = INTA) of the guest's PCI device bus:dev */
};

struct rtv_pt_irq {
    enum rtv_pt_irq_kind kind;
    uint8_t              pirq;      /* the guest's pirq of the machine IRQ */
    uint8_t              isa_irq;   /* RTV_PT_IRQ_ISA */
    uint8_t              bus, dev, intx;   /* RTV_PT_IRQ_PCI_INTX */
};

struct rtv_ioreq_srv_ops {
    const char *name;   /* "xen" or "fake", for logs */

    /* Creates the server (disabled, no buffered ioreqs) and maps its ioreq
     * page. */
    int  (*create)(struct rtv_ioreq_srv *s, struct rtv_err *err);
    /* Claims (or releases) ports [first, last] for the server. */
    int  (*claim)(struct rtv_ioreq_srv *s, uint16_t first, uint16_t last,
                  bool on, struct rtv_err *err);
    /* Enabling also binds one event channel per vCPU (Xen publishes the
     * vCPUs' ports in the page only then). */
    int  (*enable)(struct rtv_ioreq_srv *s, bool on, struct rtv_err *err);
    /* Destroys the server (the page and event channels with it); a no-op
     * when there is none. */
    void (*destroy)(struct rtv_ioreq_srv *s);
    /* The server's id (valid after create or adopt): what the store
     * records so that a successor can find the server again. */
    uint16_t (*id)(struct rtv_ioreq_srv *s);
    /* Takes over server `id`, which a killed predecessor in this domain
     * (dom0) left behind, if it claims ports [first, last] (the check
     * that the id still names our server): maps its page, enables it and
     * binds the vCPUs' event channels, as create + enable do; destroy()
     * then removes it.  -ENOENT: no such server; -ESRCH: a server that
     * does not claim those ports (not ours, left alone). */
    int  (*adopt)(struct rtv_ioreq_srv *s, uint16_t id, uint16_t first, uint16_t last,
                  struct rtv_err *err);

    /* vCPUs of the domain (valid after create). */
    unsigned (*vcpus)(struct rtv_ioreq_srv *s);
    /* vCPU v's slot in the shared ioreq page (after create). */
    ioreq_t *(*slot)(struct rtv_ioreq_srv *s, unsigned v);
    /* Readable when a vCPU's event channel fired (-1 before enabling). */
    int  (*fd)(struct rtv_ioreq_srv *s);
    /* Pops a vCPU whose channel fired (and unmasks it); -EAGAIN: none. */
    int  (*pending)(struct rtv_ioreq_srv *s, unsigned *v);
    /* Tells vCPU v its request is answered. */
    int  (*notify)(struct rtv_ioreq_srv *s, unsigned v);

    /* The guest's ISA IRQ line (0..15), as the emulated device drives it. */
    int  (*set_isa_irq)(struct rtv_ioreq_srv *s, uint8_t irq, bool level,
                        struct rtv_err *err);
    /* Xen's direct mapping of guest ports [first, first + n) onto the same
     * machine ports: add (direct access) or remove. */
    int  (*direct)(struct rtv_ioreq_srv *s, uint16_t first, uint16_t n,
                   bool add, struct rtv_err *err);

    /* Binds (bind true) or unbinds the guest's pirq `b->pirq` (the machine
     * IRQ libxl mapped for the guest's `irqs`) as the guest's ISA IRQ or as
     * the INTx of PCI device b->dev (XEN_DOMCTL_(un)bind_pt_irq): Xen's
     * passthrough route of a machine IRQ into an HVM guest.  Only
     * `rtvirt-ioemu probe-irq` calls it: what Xen answers is the evidence
     * (ioemu/probe_irq.c). */
    int  (*pt_irq)(struct rtv_ioreq_srv *s, const struct rtv_pt_irq *b, bool bind,
                   struct rtv_err *err);
    /* Xen's console ring (what `xl dmesg` reads) from *index on, into buf
     * (at most *len bytes, not NUL-terminated); *len is set to what was
     * read and *index moves past it, so a read from index 0 until *len is
     * 0 finds the ring's end, and one later shows what Xen printed since. */
    int  (*console)(struct rtv_ioreq_srv *s, uint32_t *index, char *buf, uint32_t *len,
                    struct rtv_err *err);

    void (*close)(struct rtv_ioreq_srv *s);
};

struct rtv_ioreq_srv {
    const struct rtv_ioreq_srv_ops *ops;
    uint16_t                        domid;
};

/* The real one (common/xen/xen_ioreq.c): opens the libraries for domid,
 * creates nothing yet. */
int rtv_xen_ioreq_open(struct rtv_ioreq_srv **out, uint16_t domid,
                       struct rtv_err *err);

#endif
