/*
 * The 16550 UART: its I/O sequences (an rtv_ioseq table), a register model
 * of what a guest sees, and its "mode" (the settings a driver programs).
 *
 * rtvirt-ioemu emulates the registers for the guest while a UART is
 * virtualized, and saves/restores the mode when it takes the real device
 * over and hands it back (seed 002 [0051]-[0053]).  All of it is pure:
 * offsets and bits come from linux/serial_reg.h, the real device is reached
 * only through struct rtv_uart_io, so the model itself can stand in for the
 * device in tests.
 *
 * The model: RBR/THR, IER, IIR/FCR, LCR, MCR, LSR, MSR, SCR, and DLL/DLM
 * behind LCR.DLAB; 16-byte receive and transmit FIFOs (1 byte each when
 * FCR.FIFO is off), the receive trigger level, interrupt identification in
 * the 16550's priority (line status > received data / character timeout >
 * THR empty > modem status), THRE's interrupt cleared by an IIR read that
 * reports it or a THR write, loopback (MCR.LOOP), and the PC's IRQ gate
 * (MCR.OUT2; in loopback the OUT2 pin is inactive, so no IRQ).  The "line
 * side" (bytes going out, bytes coming in, modem lines, the character
 * timeout) is driven by the caller.
 */
#ifndef RTVIRT_UART16550_H
#define RTVIRT_UART16550_H

#include <stdbool.h>
#include <stdint.h>

#include "rtvirt/ioseq.h"

#define RTV_UART_NPORTS 8
#define RTV_UART_FIFO   16

/* The sequences (common/uart16550_seq.c). */
extern const struct rtv_ioseq_table rtv_uart16550_seq;

struct rtv_uart_fifo {
    uint8_t  buf[RTV_UART_FIFO];
    unsigned head, count;
};

struct rtv_uart {
    uint8_t  ier, lcr, mcr, scr, dll, dlm;
    uint8_t  fcr;            /* FIFO enable and trigger bits (the clear bits self-clear) */
    uint8_t  lsr_err;        /* OE, PE, FE, BI: latched until LSR is read */
    uint8_t  msr_lines;      /* DCD, RI, DSR, CTS from outside (not in loopback) */
    uint8_t  msr_delta;      /* DDCD, TERI, DDSR, DCTS: latched until MSR is read */
    bool     thri;           /* THR-empty interrupt latched */
    bool     rx_timeout;     /* character timeout latched (FIFO mode) */
    bool     tx_shifting;    /* a byte left the FIFO and is on the wire */
    struct rtv_uart_fifo rx, tx;
    uint64_t rx_overruns, tx_overruns;
};

/* Power-on state: as after a hardware reset (LSR = THRE|TEMT, IIR = 0x01). */
void rtv_uart_init(struct rtv_uart *u);

/* A guest access (offset 0..7; offsets are taken mod 8). */
uint8_t rtv_uart_read(struct rtv_uart *u, unsigned offset);
void    rtv_uart_write(struct rtv_uart *u, unsigned offset, uint8_t v);

/* Register values without a read's side effects (for traces and tests). */
uint8_t rtv_uart_peek_iir(const struct rtv_uart *u);
uint8_t rtv_uart_peek_lsr(const struct rtv_uart *u);
uint8_t rtv_uart_peek_msr(const struct rtv_uart *u);

/* The interrupt line the guest's PIC sees: an interrupt pending and OUT2. */
bool rtv_uart_irq(const struct rtv_uart *u);

/* Line side.  tx_pop: the next byte to put on the wire (false: none);
 * the byte is then "shifting" until tx_done.  rx_push: a byte came in
 * (false: overrun, OE set and a byte lost: the new one with the FIFO on,
 * the unread RBR with it off, as on the chip).  In loopback, THR writes
 * land in the receive FIFO instead of the transmit side. */
bool rtv_uart_tx_pop(struct rtv_uart *u, uint8_t *byte);
void rtv_uart_tx_done(struct rtv_uart *u);
bool rtv_uart_rx_push(struct rtv_uart *u, uint8_t byte);
/* Line-status errors with the received data (UART_LSR_PE|FE|BI). */
void rtv_uart_rx_error(struct rtv_uart *u, uint8_t lsr_bits);
/* No byte came for four character times while the FIFO holds some. */
void rtv_uart_rx_timeout(struct rtv_uart *u);
/* Modem status lines (UART_MSR_DCD|RI|DSR|CTS); deltas latched. */
void rtv_uart_set_modem(struct rtv_uart *u, uint8_t lines);

/* Receive trigger level in bytes (1, 4, 8, 14; 1 with the FIFO off). */
unsigned rtv_uart_rx_trigger(const struct rtv_uart *u);

/* ---- the mode ---------------------------------------------------------- */

/* What a driver programs and expects to find again (seed 002 [0051]). */
struct rtv_uart_mode {
    uint16_t divisor;
    uint8_t  lcr;            /* as the driver left it, DLAB included */
    uint8_t  ier, mcr;
    uint8_t  fcr;            /* enable and trigger bits only */
};

void rtv_uart_mode_get(const struct rtv_uart *u, struct rtv_uart_mode *m);
/* Loads a mode into the model, as a driver's writes would (FIFOs cleared
 * only if the FIFO enable changes, as on the chip). */
void rtv_uart_mode_set(struct rtv_uart *u, const struct rtv_uart_mode *m);

/* Port I/O on a real device (or a model standing in for one). */
struct rtv_uart_io {
    uint8_t (*in)(void *ctx, unsigned offset);
    void    (*out)(void *ctx, unsigned offset, uint8_t v);
    void    *ctx;
};

/* Reads a device's mode.  FCR is write-only: only the FIFO enable shows
 * (IIR bits 7:6), so the trigger bits are `fcr_trigger` (what the caller
 * last knew).  Touches only LCR, DLL/DLM, IER, MCR, IIR; IIR's read may
 * clear a latched THR-empty interrupt, so the caller samples the device's
 * state before calling.  Leaves LCR as found. */
void rtv_uart_mode_read(const struct rtv_uart_io *io, uint8_t fcr_trigger,
                        struct rtv_uart_mode *m);
/* Programs a device into mode m: LCR|DLAB, DLL, DLM, LCR, FCR, MCR, IER
 * (interrupts enabled last, once the line is set up). */
void rtv_uart_mode_write(const struct rtv_uart_io *io,
                         const struct rtv_uart_mode *m);

/* The model as a device, for rtv_uart_mode_*: guest-visible reads and
 * writes of u. */
struct rtv_uart_io rtv_uart_model_io(struct rtv_uart *u);

#endif
