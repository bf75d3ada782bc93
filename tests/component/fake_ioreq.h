/*
 * A fake of the Xen side of rtvirt-ioemu (rtvirt/ioreq_seam.h) for host
 * tests: one vCPU whose port accesses are routed as Xen routes them --
 * Xen's direct mapping first (straight to the "real" UART), else the ioreq
 * server if it exists, is enabled and claims the port (a request in the
 * ioreq page, an event, a wait for the answer), else nothing (all ones,
 * counted: a guest must never find its device gone).  The real UART is a
 * register model (rtvirt/uart16550.h); `bus` serializes everything that
 * touches it, as the one UART would.  Not a claim about Xen: the lab proves
 * the real seam.
 *
 * As in Xen, the server outlives the process that made it: put the struct
 * in memory shared across fork() (fake_xen_new) and a server process can be
 * killed and a successor adopt() what it left.  Also as in Xen (4.17
 * common/ioreq.c), an answer the vCPU has not picked up when the server is
 * destroyed is lost (counted in answers_lost, and the read gets all ones),
 * and a vCPU whose request was never answered waits for good (stranded).
 */
#ifndef RTVIRT_FAKE_IOREQ_H
#define RTVIRT_FAKE_IOREQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "rtvirt/ioreq_seam.h"
#include "rtvirt/uart16550.h"

struct fake_xen {
    struct rtv_ioreq_srv base;
    pthread_mutex_t      bus;
    struct rtv_uart      uart;            /* the real device */
    uint16_t             ioport;
    bool                 server, claimed, enabled, mapped;
    uint16_t             server_id, next_id;
    shared_iopage_t      page;            /* one vCPU */
    int                  ev_server;       /* eventfd: the vCPU's channel, server side */
    int                  ev_guest;        /* eventfd: the answer, guest side */
    bool                 irq;             /* the guest's ISA line as the server drives it */
    unsigned             irq_rises;
    unsigned             creates, destroys, fail_creates, adopts;
    unsigned             answers_lost;    /* destroyed before the vCPU took its answer */
    unsigned             stranded;        /* destroyed with a request never answered */
    unsigned             lost;            /* accesses that found neither path */
    /* Xen's passthrough binding of the guest's machine IRQ (pt_irq): what
     * a bind and an unbind answer (0, or -errno injected by the test: a
     * refused bind also prints a console line, as Xen 4.17 does), the
     * bindings in place and the calls made. */
    int                  pt_bind_rc, pt_unbind_rc;
    unsigned             pt_bound, pt_binds, pt_unbinds;
    struct rtv_pt_irq    pt_last;         /* the last bind asked */
    char                 console[4096];   /* Xen's console ring (never wraps here) */
    uint32_t             console_len;
};

/* A fake in memory shared with the processes the caller forks later. */
struct fake_xen *fake_xen_new(uint16_t domid, uint16_t ioport);
void fake_xen_free(struct fake_xen *f);

/* Appends a line to the fake Xen console (what Xen printed earlier). */
void fake_xen_console_print(struct fake_xen *f, const char *line);

/* The bus lock; robust: a server process killed holding it is no deadlock. */
void fake_xen_lock(struct fake_xen *f);
void fake_xen_unlock(struct fake_xen *f);

/* The server's view of the real UART (locks the bus per access). */
struct rtv_uart_io fake_xen_uart_io(struct fake_xen *f);

/* A guest access at port offset off; `wait_tick` runs while the vCPU waits
 * for its answer (the line goes on meanwhile).  Returns what a read got. */
uint8_t fake_xen_guest_io(struct fake_xen *f, unsigned off, bool is_write, uint8_t v,
                          void (*wait_tick)(void *), void *arg);

#endif
