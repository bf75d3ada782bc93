/*
 * `rtvirt-ioemu probe-irq`: asks Xen to route the guest's machine IRQ (the
 * one its xl.cfg `irqs` gives it) into the guest the two ways Xen has for
 * an HVM domU -- as its ISA IRQ, and as the INTx of a PCI device the guest
 * does not have (a "phantom") -- and records what Xen answered: the
 * hypercall's errno and the lines Xen printed on its console meanwhile.
 * A binding Xen accepts is removed at once.
 *
 * Issue 13 asks to prove interrupt-driven direct mode or to document with
 * evidence why it has to poll; tests/lab/README.md ("Why direct mode
 * polls") reads Xen 4.17's source, this is the lab's answer (step
 * ioemu-probe prints it).  Over the device-model seam (rtvirt/ioreq_seam.h:
 * pt_irq, console), so the host test runs it against the fake.
 */
#ifndef RTVIRT_IOEMU_PROBE_H
#define RTVIRT_IOEMU_PROBE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "rtvirt/err.h"
#include "rtvirt/ioreq_seam.h"

#define PROBE_IRQ_MAX_TRIES 2
#define PROBE_IRQ_XEN_TEXT  1024   /* Xen's console output kept per try */

struct probe_irq_cfg {
    uint8_t irq;              /* the machine IRQ, and the guest's ISA IRQ for it */
    uint8_t pirq;             /* the guest's pirq of it (libxl asks for pirq = irq) */
    bool    pci;              /* also try the PCI INTx route */
    uint8_t bus, dev, intx;   /* the phantom device and its pin (0 = INTA) */
};

struct probe_irq_try {
    const char        *route;          /* "isa" or "pci-intx" */
    struct rtv_pt_irq  bind;
    int                rc;             /* 0 bound, else -errno */
    char               error[512];     /* the seam's message when refused */
    char               xen[PROBE_IRQ_XEN_TEXT];   /* console lines printed meanwhile */
    bool               xen_read;       /* the console could be read */
    bool               unbind_tried;   /* only after a bind Xen accepted */
    int                unbind_rc;
    char               unbind_error[512];
};

struct probe_irq_report {
    uint16_t             domid;
    struct probe_irq_cfg cfg;
    unsigned             ntries;
    struct probe_irq_try tries[PROBE_IRQ_MAX_TRIES];
};

/* Makes each try (bind; unbind if it took).  Returns 0 when every try was
 * made and nothing is left bound, whatever Xen answered to the binds (a
 * refusal is a result, in r); -errno with err set when a binding Xen took
 * could not be removed (it is left in Xen: the caller must say so). */
int ioemu_probe_irq(struct rtv_ioreq_srv *x, const struct probe_irq_cfg *cfg,
                    struct probe_irq_report *r, struct rtv_err *err);

/* The report as text (one line per try, Xen's lines indented under it) or
 * as one JSON object. */
void ioemu_probe_irq_print(const struct probe_irq_report *r, FILE *out, bool json);

#endif
