/*
 * The real UART's registers from dom0: port I/O (ioperm, inb, outb) on the
 * ports Xen lets a PV dom0 reach.  The device model reaches the UART only
 * through the struct rtv_uart_io this fills in.
 */
#ifndef RTVIRT_IOEMU_UART_PORT_H
#define RTVIRT_IOEMU_UART_PORT_H

#include <stdint.h>

#include "rtvirt/err.h"
#include "rtvirt/uart16550.h"

/* Asks for ports [base, base + 8) (root, in dom0) and fills io.  Checks that
 * something answers there: a scratch register that holds what is written
 * (as Linux's 8250 probe does), or -ENODEV. */
int uart_port_open(uint16_t base, struct rtv_uart_io *io, struct rtv_err *err);

#endif
