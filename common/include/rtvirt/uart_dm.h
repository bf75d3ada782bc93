/*
 * rtvirt-ioemu's 16550 device model, pure: the guest's trapped port
 * accesses in, the real UART reached only through struct rtv_uart_io, and
 * the (de)virtualization machine (rtvirt/iovirt.h) deciding which of the
 * two answers each access.  rtvirt-ioemu adds the Xen side (ioreq server,
 * ioreq pages, event channels, the guest's IRQ line) and the store side
 * (rtvirt/ioemu_ctl.h); all of the UART's behaviour is here.
 *
 * Direct: the guest drives the UART itself; nothing here runs.
 * Virtualized: the guest sees the register model (rtvirt/uart16550.h);
 * ioemu's own driver, run by rtv_uart_dm_poll(), moves bytes between the
 * model's FIFOs and the UART, which it keeps in its own mode (IER, FCR,
 * MCR of its choosing) with the guest's line settings (divisor, LCR), as
 * the peer on the line expects; line settings the guest changes while
 * virtualized are carried to the UART.
 *
 * Taking over (seed 002 [0053]): the guest's mode is read off the UART
 * into the model, with the scratch register, the modem status and the
 * bytes already received; the UART is then put in ioemu's mode.  Handing
 * back: the model's mode (every change the guest made) is written into
 * the UART.  Before a handback the model's receive FIFO is emptied by the
 * guest (ioemu stops pulling from the UART, whose FIFO keeps what comes
 * in: READY) and its transmit FIFO by ioemu (DRAINED, with the UART's
 * transmitter idle); before a takeover the UART's transmitter goes idle.
 * A "reset" (a bound passed) clears the UART's FIFOs.
 *
 * Received bytes reach the model one FIFO load at a time: the next load
 * only once the guest has seen the model's receive FIFO empty (an LSR or
 * IIR read with nothing left to read), or it stayed empty for
 * RTV_UART_DM_RX_SEEN_US.  A guest whose trapped accesses are slower than
 * the line (nested Xen: ~1 ms each) would otherwise find DR set at every
 * LSR read, and Linux's 8250 handler, which takes up to 256 received
 * bytes before it looks at THRE, would send 16 bytes per 256 received:
 * the 00:19 lab flight's "virtualized 0 lines/s" and its stty stuck
 * draining the tty.  What the model does not take waits in the UART (and
 * behind it, on the line's flow control), as it does for a slow guest on
 * the real device.
 *
 * While a takeover
 * waits, ioemu reads the UART's LSR to see the transmitter go idle, which
 * clears its latched line errors: they reach the guest through the model
 * once it takes over (late, not lost).
 */
#ifndef RTVIRT_UART_DM_H
#define RTVIRT_UART_DM_H

#include <stdbool.h>
#include <stdint.h>

#include "rtvirt/iovirt.h"
#include "rtvirt/uart16550.h"

#define RTV_UART_DM_LOG 16   /* held accesses; each holds a vCPU */
/* A load of received bytes the guest was not seen to finish (it reads
 * RBR but neither LSR nor IIR after it) no longer holds the next back
 * once the model's receive FIFO stayed empty this long. */
#define RTV_UART_DM_RX_SEEN_US 10000u

struct rtv_uart_dm_ops {
    /* TRAP (on) / UNTRAP (off): the ioreq server takes the ports and the
     * direct mapping goes, or the reverse. */
    void (*trap)(void *ctx, bool on);
    /* A held access was carried out: complete its ioreq. */
    void (*answer)(void *ctx, uint64_t cookie, uint32_t value);
    /* The time now (microseconds), read again once a takeover or a
     * handback has done its work on the UART: the guest stays held through
     * that work, and the change's held time must count it (without it the
     * lab's flights reported 0 us for every change). */
    uint64_t (*now_us)(void *ctx);
};

/* ioemu's own mode for the UART: its line settings are the guest's. */
struct rtv_uart_dm_own {
    uint8_t ier, fcr, mcr;
};

struct rtv_uart_dm {
    struct rtv_uart               model;
    struct rtv_iov                iov;
    struct rtv_iov_logent         log[RTV_UART_DM_LOG];
    struct rtv_uart_io            dev;
    const struct rtv_uart_dm_ops *ops;
    void                         *ctx;
    struct rtv_uart_dm_own        own;
    uint8_t                       fcr_trigger;   /* the guest's last FCR trigger bits */
    uint16_t                      line_divisor;  /* line settings on the UART */
    uint8_t                       line_lcr;
    uint8_t                       stolen_lsr;    /* line errors read while a takeover waits */
    bool                          rx_unseen;     /* a receive load the guest was not seen to finish */
    bool                          rx_emptied;    /* ... and the model's receive FIFO found empty */
    uint64_t                      rx_empty_us;   /* since then */
    bool                          trapped;
    uint64_t                      tx_bytes, rx_bytes;  /* moved by ioemu's driver */
};

enum rtv_uart_dm_answer {
    RTV_UART_DM_ANSWERED,    /* *value is the answer (reads) */
    RTV_UART_DM_HELD,        /* answered later through ops->answer */
    RTV_UART_DM_RETRY,       /* keep the ioreq; offer it again after the change */
};

/* A UART in direct mode.  fcr_trigger: the trigger bits the guest is
 * believed to use (FCR cannot be read back). */
void rtv_uart_dm_init(struct rtv_uart_dm *dm, const struct rtv_uart_io *dev,
                      const struct rtv_uart_dm_ops *ops, void *ctx,
                      struct rtv_uart_dm_own own, uint8_t fcr_trigger);

/* A trapped guest access (a->value: the value, for a write). */
enum rtv_uart_dm_answer rtv_uart_dm_access(struct rtv_uart_dm *dm,
                                           const struct rtv_ioseq_access *a,
                                           uint64_t cookie, uint32_t *value);

/* Carries out what `todo` asks (from rtv_iov_request through ioemu_ctl, or
 * from the machine); `done` says whether the change finished. */
void rtv_uart_dm_carry(struct rtv_uart_dm *dm, uint64_t now_us,
                       const struct rtv_iov_out *todo, struct rtv_iov_out *done);

/* ioemu's driver and the change: after every access and on a timer. */
void rtv_uart_dm_poll(struct rtv_uart_dm *dm, uint64_t now_us,
                      struct rtv_iov_out *done);

/* The level of the guest's IRQ line while the model drives it. */
bool rtv_uart_dm_irq(const struct rtv_uart_dm *dm);

#endif
