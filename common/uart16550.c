/* The 16550 register model; see rtvirt/uart16550.h. */
#include "rtvirt/uart16550.h"

#include <linux/serial_reg.h>
#include <string.h>

/* IIR bits 7:6 read 11 when the FIFOs are enabled. */
#define IIR_FIFOS_ON 0xc0u
#define IER_BITS (UART_IER_RDI | UART_IER_THRI | UART_IER_RLSI | UART_IER_MSI)
#define MCR_BITS (UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT1 | UART_MCR_OUT2 | UART_MCR_LOOP)
#define MSR_LINES (UART_MSR_DCD | UART_MSR_RI | UART_MSR_DSR | UART_MSR_CTS)

static void fifo_clear(struct rtv_uart_fifo *f)
{
    f->head = f->count = 0;
}

static void fifo_put(struct rtv_uart_fifo *f, uint8_t b)
{
    f->buf[(f->head + f->count) % RTV_UART_FIFO] = b;
    f->count++;
}

static uint8_t fifo_get(struct rtv_uart_fifo *f)
{
    uint8_t b = f->buf[f->head];

    f->head = (f->head + 1) % RTV_UART_FIFO;
    f->count--;
    return b;
}

static bool fifos_on(const struct rtv_uart *u)
{
    return u->fcr & UART_FCR_ENABLE_FIFO;
}

static unsigned fifo_depth(const struct rtv_uart *u)
{
    return fifos_on(u) ? RTV_UART_FIFO : 1;
}

static bool dlab(const struct rtv_uart *u)
{
    return u->lcr & UART_LCR_DLAB;
}

void rtv_uart_init(struct rtv_uart *u)
{
    memset(u, 0, sizeof(*u));
}

unsigned rtv_uart_rx_trigger(const struct rtv_uart *u)
{
    static const unsigned levels[4] = { 1, 4, 8, 14 };

    return fifos_on(u) ? levels[UART_FCR_R_TRIG_BITS(u->fcr)] : 1;
}

uint8_t rtv_uart_peek_iir(const struct rtv_uart *u)
{
    uint8_t fifo = fifos_on(u) ? IIR_FIFOS_ON : 0;
    uint8_t id;

    if ((u->ier & UART_IER_RLSI) && u->lsr_err)
        id = UART_IIR_RLSI;
    else if ((u->ier & UART_IER_RDI) && u->rx.count >= rtv_uart_rx_trigger(u))
        id = UART_IIR_RDI;
    else if ((u->ier & UART_IER_RDI) && u->rx_timeout && u->rx.count)
        id = UART_IIR_RX_TIMEOUT;
    else if ((u->ier & UART_IER_THRI) && u->thri)
        id = UART_IIR_THRI;
    else if ((u->ier & UART_IER_MSI) && u->msr_delta)
        id = UART_IIR_MSI;
    else
        id = UART_IIR_NO_INT;
    return fifo | id;
}

uint8_t rtv_uart_peek_lsr(const struct rtv_uart *u)
{
    uint8_t lsr = u->lsr_err;

    if (u->rx.count)
        lsr |= UART_LSR_DR;
    if (u->tx.count == 0) {
        lsr |= UART_LSR_THRE;
        if (!u->tx_shifting)
            lsr |= UART_LSR_TEMT;
    }
    return lsr;
}

/* In loopback the modem inputs are wired to the modem outputs. */
static uint8_t msr_lines(const struct rtv_uart *u)
{
    if (!(u->mcr & UART_MCR_LOOP))
        return u->msr_lines;
    return ((u->mcr & UART_MCR_RTS) ? UART_MSR_CTS : 0) |
           ((u->mcr & UART_MCR_DTR) ? UART_MSR_DSR : 0) |
           ((u->mcr & UART_MCR_OUT1) ? UART_MSR_RI : 0) |
           ((u->mcr & UART_MCR_OUT2) ? UART_MSR_DCD : 0);
}

uint8_t rtv_uart_peek_msr(const struct rtv_uart *u)
{
    return msr_lines(u) | u->msr_delta;
}

bool rtv_uart_irq(const struct rtv_uart *u)
{
    return !(rtv_uart_peek_iir(u) & UART_IIR_NO_INT) &&
           (u->mcr & (UART_MCR_OUT2 | UART_MCR_LOOP)) == UART_MCR_OUT2;
}

static uint8_t read_rbr(struct rtv_uart *u)
{
    u->rx_timeout = false;
    return u->rx.count ? fifo_get(&u->rx) : 0;
}

uint8_t rtv_uart_read(struct rtv_uart *u, unsigned offset)
{
    uint8_t v;

    switch (offset % RTV_UART_NPORTS) {
    case UART_RX:
        return dlab(u) ? u->dll : read_rbr(u);
    case UART_IER:
        return dlab(u) ? u->dlm : u->ier;
    case UART_IIR:
        v = rtv_uart_peek_iir(u);
        if ((v & (UART_IIR_ID | UART_IIR_NO_INT)) == UART_IIR_THRI)
            u->thri = false;          /* reading it acknowledges it */
        return v;
    case UART_LCR:
        return u->lcr;
    case UART_MCR:
        return u->mcr;
    case UART_LSR:
        v = rtv_uart_peek_lsr(u);
        u->lsr_err = 0;
        return v;
    case UART_MSR:
        v = rtv_uart_peek_msr(u);
        u->msr_delta = 0;
        return v;
    default:
        return u->scr;
    }
}

static void write_thr(struct rtv_uart *u, uint8_t v)
{
    if (u->mcr & UART_MCR_LOOP) {
        /* Straight through the shifter into the receiver. */
        rtv_uart_rx_push(u, v);
        u->thri = true;
        return;
    }
    u->thri = false;
    if (u->tx.count >= fifo_depth(u)) {
        u->tx_overruns++;         /* the chip drops it too */
        return;
    }
    fifo_put(&u->tx, v);
}

static void write_ier(struct rtv_uart *u, uint8_t v)
{
    bool was_on = u->ier & UART_IER_THRI;

    u->ier = v & IER_BITS;
    /* Enabling THRI with THR empty raises it at once (drivers rely on it
     * to start a transmission). */
    if (!was_on && (u->ier & UART_IER_THRI) && u->tx.count == 0)
        u->thri = true;
}

static void write_fcr(struct rtv_uart *u, uint8_t v)
{
    uint8_t fcr = (v & UART_FCR_ENABLE_FIFO) ? v & (UART_FCR_ENABLE_FIFO | UART_FCR_TRIGGER_MASK) : 0;

    if ((fcr ^ u->fcr) & UART_FCR_ENABLE_FIFO)
        v |= UART_FCR_CLEAR_RCVR | UART_FCR_CLEAR_XMIT;
    u->fcr = fcr;
    if (v & UART_FCR_CLEAR_RCVR) {
        fifo_clear(&u->rx);
        u->rx_timeout = false;
    }
    if (v & UART_FCR_CLEAR_XMIT) {
        fifo_clear(&u->tx);
        u->thri = true;
    }
}

void rtv_uart_write(struct rtv_uart *u, unsigned offset, uint8_t v)
{
    switch (offset % RTV_UART_NPORTS) {
    case UART_TX:
        if (dlab(u))
            u->dll = v;
        else
            write_thr(u, v);
        break;
    case UART_IER:
        if (dlab(u))
            u->dlm = v;
        else
            write_ier(u, v);
        break;
    case UART_FCR:
        write_fcr(u, v);
        break;
    case UART_LCR:
        u->lcr = v;
        break;
    case UART_MCR:
        u->mcr = v & MCR_BITS;
        break;
    case UART_SCR:
        u->scr = v;
        break;
    default:                      /* LSR, MSR: read-only */
        break;
    }
}

bool rtv_uart_tx_pop(struct rtv_uart *u, uint8_t *byte)
{
    if (u->tx.count == 0)
        return false;
    *byte = fifo_get(&u->tx);
    u->tx_shifting = true;
    if (u->tx.count == 0)
        u->thri = true;
    return true;
}

void rtv_uart_tx_done(struct rtv_uart *u)
{
    u->tx_shifting = false;
}

bool rtv_uart_rx_push(struct rtv_uart *u, uint8_t byte)
{
    if (u->rx.count >= fifo_depth(u)) {
        u->lsr_err |= UART_LSR_OE;
        u->rx_overruns++;
        if (fifos_on(u))
            return false;         /* the shift register's byte is lost */
        fifo_clear(&u->rx);       /* without FIFO, RBR is overwritten */
        fifo_put(&u->rx, byte);
        return false;
    }
    fifo_put(&u->rx, byte);
    return true;
}

void rtv_uart_rx_error(struct rtv_uart *u, uint8_t lsr_bits)
{
    u->lsr_err |= lsr_bits & (UART_LSR_PE | UART_LSR_FE | UART_LSR_BI);
}

void rtv_uart_rx_timeout(struct rtv_uart *u)
{
    if (fifos_on(u) && u->rx.count)
        u->rx_timeout = true;
}

void rtv_uart_set_modem(struct rtv_uart *u, uint8_t lines)
{
    uint8_t old = u->msr_lines;

    lines &= MSR_LINES;
    if ((old ^ lines) & UART_MSR_CTS)
        u->msr_delta |= UART_MSR_DCTS;
    if ((old ^ lines) & UART_MSR_DSR)
        u->msr_delta |= UART_MSR_DDSR;
    if ((old & UART_MSR_RI) && !(lines & UART_MSR_RI))
        u->msr_delta |= UART_MSR_TERI;
    if ((old ^ lines) & UART_MSR_DCD)
        u->msr_delta |= UART_MSR_DDCD;
    u->msr_lines = lines;
}
