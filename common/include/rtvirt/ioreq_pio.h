/*
 * Port-I/O requests from Xen's ioreq page, as an ioreq server for one
 * device sees them (xen/hvm/ioreq.h): decoding a vCPU's request into an
 * access on the device, and the answer.
 *
 * The ioreq page is shared with the hypervisor, and the request in it is
 * the guest's doing: the caller copies the vCPU's slot once it reads
 * STATE_IOREQ_READY, issues a read barrier, and hands only the copy here
 * (STYLE.md, "copy, fence, validate").  Anything but a single port access
 * inside the device's range is refused with the reason; the caller still
 * completes the request (the vCPU waits on it) with rtv_ioreq_pio_answer()
 * of an unclaimed port.
 */
#ifndef RTVIRT_IOREQ_PIO_H
#define RTVIRT_IOREQ_PIO_H

#include <stdint.h>
#include <xen/xen.h>
#include <xen/hvm/ioreq.h>

#include "rtvirt/err.h"
#include "rtvirt/ioseq.h"

enum rtv_ioreq_kind {
    RTV_IOREQ_ACCESS,        /* a port access on the device: *a filled */
    RTV_IOREQ_NOTHING,       /* a request that needs no work (mapcache
                                invalidation): just complete it */
    RTV_IOREQ_REFUSED,       /* not something this device answers: err says
                                why; complete it as an unclaimed port */
};

/* Decodes a copy of a vCPU's ioreq for a device at ports
 * [base, base + nports) with registers `width` bytes wide. */
enum rtv_ioreq_kind rtv_ioreq_pio_decode(const ioreq_t *copy, uint16_t base,
                                         unsigned nports, unsigned width,
                                         struct rtv_ioseq_access *a,
                                         struct rtv_err *err);

/* The data to complete `copy` with: for a read, `value` (the register's
 * answer) or, for a refused read, all ones of the request's size, as an
 * ISA bus with nothing driving it reads; for a write, the request's own
 * data, unchanged. */
uint64_t rtv_ioreq_pio_answer(const ioreq_t *copy, enum rtv_ioreq_kind kind,
                              uint32_t value);

#endif
