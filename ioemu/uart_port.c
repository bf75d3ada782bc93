/* The real UART's registers by port I/O; see uart_port.h. */
#include "uart_port.h"

#include <errno.h>
#include <linux/serial_reg.h>
#include <string.h>
#include <sys/io.h>

static uint16_t port_base;

static uint8_t port_in(void *ctx, unsigned off)
{
    (void)ctx;
    return inb((uint16_t)(port_base + off));
}

static void port_out(void *ctx, unsigned off, uint8_t v)
{
    (void)ctx;
    outb(v, (uint16_t)(port_base + off));
}

int uart_port_open(uint16_t base, struct rtv_uart_io *io, struct rtv_err *err)
{
    uint8_t scr;

    /* A PV dom0's ioperm goes to Xen (PHYSDEVOP_set_iobitmap): it fails for
     * ports Xen keeps for itself, e.g. its own console UART. */
    if (ioperm(base, RTV_UART_NPORTS, 1) < 0)
        return rtv_err_set(err, errno, "ioperm(%#x, %d): %s", base, RTV_UART_NPORTS, strerror(errno));
    port_base = base;
    /* The scratch register is the guest's: put its value back. */
    scr = inb((uint16_t)(base + UART_SCR));
    outb(0xa5, (uint16_t)(base + UART_SCR));
    if (inb((uint16_t)(base + UART_SCR)) != 0xa5) {
        outb(scr, (uint16_t)(base + UART_SCR));
        return rtv_err_set(err, ENODEV, "no 16550 at %#x (its scratch register does not hold a value)", base);
    }
    outb(scr, (uint16_t)(base + UART_SCR));
    *io = (struct rtv_uart_io){ .in = port_in, .out = port_out, .ctx = NULL };
    return 0;
}
