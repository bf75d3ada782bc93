/*
 * rtvirt-ioemu's server: one device (a 16550, `uart0`) of one HVM guest,
 * switched at runtime between direct access and emulation
 * (xenstore-schema/rtvirt-paths.md, section 5).
 *
 * It ties three things together, and adds no device behaviour of its own
 * (that is all in common/uart_dm.c):
 *   - the Xen side, through the device-model seam (rtvirt/ioreq_seam.h):
 *     the ioreq server while the ports trap, the guest's requests from the
 *     ioreq page, the guest's IRQ line, Xen's direct port mapping;
 *   - the store side (rtvirt/ioemu_ctl.h): requests in, state, result and
 *     stats out;
 *   - the real UART, through struct rtv_uart_io (ioemu/uart_port.c in dom0;
 *     a register model in the component test).
 *
 * Single-threaded: ioemu_srv_run() waits on the store's watch and the ioreq
 * event channels, with a 1 ms tick while the emulation drives the UART or
 * a change runs (ioemu's own driver polls: IER 0 on the UART).
 */
#ifndef RTVIRT_IOEMU_SRV_H
#define RTVIRT_IOEMU_SRV_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "rtvirt/err.h"
#include "rtvirt/ioemu_ctl.h"
#include "rtvirt/ioreq_seam.h"
#include "rtvirt/seam.h"
#include "rtvirt/uart_dm.h"

#define IOEMU_MAX_VCPUS 64
#define IOEMU_TICK_US   1000u

struct ioemu_cfg {
    uint16_t    domid;
    const char *iodev;     /* "uart0" */
    uint16_t    ioport;    /* first port; 0 = read it from the store */
    int         irq;       /* ISA IRQ; -1 = read it from the store */
    FILE       *trace;     /* every access and change, or NULL */
};

/* A vCPU's request that is not answered yet. */
struct ioemu_waiting {
    ioreq_t copy;
    enum { IOEMU_NONE, IOEMU_HELD, IOEMU_RETRY } why;
};

struct ioemu_srv {
    struct ioemu_cfg       cfg;
    struct rtv_ioreq_srv  *x;
    struct rtv_store      *xs;
    struct rtv_uart_dm     dm;
    struct rtv_ioemu_ctl   ctl;
    char                   dir[128];       /* the device's store directory */
    char                   token[64];
    bool                   server;         /* the ioreq server exists (trapping) */
    bool                   mapped;         /* Xen's direct mapping is in place */
    bool                   irq_level;      /* what we last set on the guest's line */
    enum rtv_iov_mode      last_mode;
    struct ioemu_waiting   wait[IOEMU_MAX_VCPUS];
    bool                   trap_failed;
    struct rtv_err         trap_err;
    bool                   stop;           /* the domain is gone */
    uint64_t               accesses, refused;
    unsigned               adopted;        /* leftover servers adopted (0 or 1) */
    unsigned               adopted_waiting; /* vCPUs that were waiting on it */
};

/* Sets the device up in direct mode: reads (or writes) its model, ioport and
 * irq nodes, maps the guest's ports onto the device (Xen's direct mapping;
 * xl.cfg's `ioports` gives only the permission), publishes state=direct,
 * watches the request nodes.  -errno with err. */
int ioemu_srv_init(struct ioemu_srv *s, const struct ioemu_cfg *cfg,
                   struct rtv_ioreq_srv *x, struct rtv_store *xs,
                   const struct rtv_uart_io *uart, struct rtv_err *err);

/* After init, with the UART reachable (s->dm.dev): a server that a killed
 * predecessor left (the store's ioreq-server node) is adopted, the vCPUs
 * waiting on it are served on the device, and it is destroyed; the device
 * stays direct.  0 also when there was none or it was not ours (left
 * alone); -errno with err if it could not be taken over (it is destroyed
 * all the same). */
int ioemu_srv_adopt_leftover(struct ioemu_srv *s, struct rtv_err *err);

/* Waits at most max_wait_ms for something to do and does it.  0, or
 * -errno with err on a failure of our own (the store gone). */
int ioemu_srv_run(struct ioemu_srv *s, int max_wait_ms, struct rtv_err *err);

/* Back to direct (a bounded devirtualize if needed), the server destroyed,
 * the device's store directory removed. */
void ioemu_srv_fini(struct ioemu_srv *s);

#endif
