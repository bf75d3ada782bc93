/*
 * The 16550's mode: reading it from a device and programming it into one
 * (seed 002 [0051]-[0053]); see rtvirt/uart16550.h.
 */
#include "rtvirt/uart16550.h"

#include <linux/serial_reg.h>

void rtv_uart_mode_get(const struct rtv_uart *u, struct rtv_uart_mode *m)
{
    m->divisor = (uint16_t)(u->dll | (u->dlm << 8));
    m->lcr = u->lcr;
    m->ier = u->ier;
    m->mcr = u->mcr;
    m->fcr = u->fcr;
}

void rtv_uart_mode_set(struct rtv_uart *u, const struct rtv_uart_mode *m)
{
    struct rtv_uart_io io = rtv_uart_model_io(u);

    rtv_uart_mode_write(&io, m);
}

void rtv_uart_mode_read(const struct rtv_uart_io *io, uint8_t fcr_trigger,
                        struct rtv_uart_mode *m)
{
    uint8_t lcr = io->in(io->ctx, UART_LCR);

    io->out(io->ctx, UART_LCR, lcr | UART_LCR_DLAB);
    m->divisor = io->in(io->ctx, UART_DLL);
    m->divisor |= (uint16_t)(io->in(io->ctx, UART_DLM) << 8);
    io->out(io->ctx, UART_LCR, lcr & ~UART_LCR_DLAB);
    m->ier = io->in(io->ctx, UART_IER);
    m->mcr = io->in(io->ctx, UART_MCR);
    m->fcr = (io->in(io->ctx, UART_IIR) & 0xc0) == 0xc0
                 ? UART_FCR_ENABLE_FIFO | (fcr_trigger & UART_FCR_TRIGGER_MASK)
                 : 0;
    io->out(io->ctx, UART_LCR, lcr);
    m->lcr = lcr;
}

void rtv_uart_mode_write(const struct rtv_uart_io *io,
                         const struct rtv_uart_mode *m)
{
    io->out(io->ctx, UART_LCR, m->lcr | UART_LCR_DLAB);
    io->out(io->ctx, UART_DLL, m->divisor & 0xff);
    io->out(io->ctx, UART_DLM, m->divisor >> 8);
    io->out(io->ctx, UART_LCR, m->lcr & ~UART_LCR_DLAB);
    io->out(io->ctx, UART_FCR, m->fcr);
    io->out(io->ctx, UART_MCR, m->mcr);
    io->out(io->ctx, UART_IER, m->ier);
    if (m->lcr & UART_LCR_DLAB)
        io->out(io->ctx, UART_LCR, m->lcr);
}

static uint8_t model_in(void *ctx, unsigned offset)
{
    return rtv_uart_read(ctx, offset);
}

static void model_out(void *ctx, unsigned offset, uint8_t v)
{
    rtv_uart_write(ctx, offset, v);
}

struct rtv_uart_io rtv_uart_model_io(struct rtv_uart *u)
{
    return (struct rtv_uart_io){ .in = model_in, .out = model_out, .ctx = u };
}
