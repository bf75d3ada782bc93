/* rtvirt-ioemu's 16550 device model; see rtvirt/uart_dm.h. */
#include "rtvirt/uart_dm.h"

#include <linux/serial_reg.h>
#include <string.h>

static uint8_t dev_in(struct rtv_uart_dm *dm, unsigned off)
{
    return dm->dev.in(dm->dev.ctx, off);
}

static void dev_out(struct rtv_uart_dm *dm, unsigned off, uint8_t v)
{
    dm->dev.out(dm->dev.ctx, off, v);
}

void rtv_uart_dm_init(struct rtv_uart_dm *dm, const struct rtv_uart_io *dev,
                      const struct rtv_uart_dm_ops *ops, void *ctx,
                      struct rtv_uart_dm_own own, uint8_t fcr_trigger)
{
    /* The model stays zeroed (unused) until a takeover sets it up. */
    *dm = (struct rtv_uart_dm){ .dev = *dev, .ops = ops, .ctx = ctx, .own = own,
                                .fcr_trigger = fcr_trigger & UART_FCR_TRIGGER_MASK };
    rtv_iov_init(&dm->iov, &rtv_uart16550_seq, RTV_IOV_DIRECT, dm->log, RTV_UART_DM_LOG);
}

/* The model answers the guest (otherwise the UART does). */
static bool model_active(const struct rtv_uart_dm *dm)
{
    return dm->iov.mode == RTV_IOV_VIRTUALIZED;
}

/* Carries an access out on one side; the value read, or the one written. */
static uint32_t perform(struct rtv_uart_dm *dm, enum rtv_iov_verdict path,
                        const struct rtv_ioseq_access *a)
{
    uint8_t v = (uint8_t)a->value;

    if (a->dir == RTV_IOSEQ_WRITE && a->offset == UART_FCR && (v & UART_FCR_ENABLE_FIFO))
        dm->fcr_trigger = v & UART_FCR_TRIGGER_MASK;   /* FCR cannot be read back */
    if (path == RTV_IOV_EMULATE) {
        if (a->dir == RTV_IOSEQ_READ) {
            v = rtv_uart_read(&dm->model, a->offset);
            if ((a->offset == UART_LSR || a->offset == UART_IIR) && dm->model.rx.count == 0)
                dm->rx_unseen = false;    /* the guest saw it empty: the next load may come */
            return v;
        }
        rtv_uart_write(&dm->model, a->offset, v);
        return v;
    }
    if (a->dir == RTV_IOSEQ_READ)
        return dev_in(dm, a->offset);
    dev_out(dm, a->offset, v);
    return v;
}

/* Carry out an access and let the engine see it. */
static uint32_t perform_seen(struct rtv_uart_dm *dm, enum rtv_iov_verdict path,
                             const struct rtv_ioseq_access *a)
{
    struct rtv_ioseq_access done = *a;

    done.value = perform(dm, path, a);
    rtv_iov_seen(&dm->iov, &done);
    return done.value;
}

/* What the register reads on the path that still answers the guest, with
 * no side effect where the model answers. */
static uint8_t current(struct rtv_uart_dm *dm, uint16_t offset)
{
    if (!model_active(dm))
        return dev_in(dm, offset);
    return offset == UART_LSR ? rtv_uart_peek_lsr(&dm->model)
                              : rtv_uart_peek_iir(&dm->model);
}

enum rtv_uart_dm_answer rtv_uart_dm_access(struct rtv_uart_dm *dm,
                                           const struct rtv_ioseq_access *a,
                                           uint64_t cookie, uint32_t *value)
{
    enum rtv_iov_verdict vd = rtv_iov_route(&dm->iov, a, cookie);

    switch (vd) {
    case RTV_IOV_PASS:
    case RTV_IOV_EMULATE:
        *value = perform_seen(dm, vd, a);
        return RTV_UART_DM_ANSWERED;
    case RTV_IOV_BUSY:
        rtv_ioseq_busy_value(dm->iov.seq.t, a->offset, current(dm, a->offset), value);
        return RTV_UART_DM_ANSWERED;
    case RTV_IOV_LOGGED:
        return RTV_UART_DM_HELD;
    case RTV_IOV_LOG_FULL:
        break;
    }
    return RTV_UART_DM_RETRY;
}

/* Room in the model's receive FIFO, as the guest set it (1 without FIFO). */
static bool model_rx_room(const struct rtv_uart_dm *dm)
{
    return dm->model.rx.count < ((dm->model.fcr & UART_FCR_ENABLE_FIFO) ? RTV_UART_FIFO : 1);
}

/* The guest's mode, as the UART holds it, into the model; then ioemu's. */
static void take_over(struct rtv_uart_dm *dm)
{
    struct rtv_uart_mode m, own;
    uint8_t lsr, msr;

    rtv_uart_mode_read(&dm->dev, dm->fcr_trigger, &m);
    rtv_uart_init(&dm->model);
    rtv_uart_mode_set(&dm->model, &m);
    dm->model.scr = dev_in(dm, UART_SCR);
    msr = dev_in(dm, UART_MSR);
    dm->model.msr_lines = msr & 0xf0;
    dm->model.msr_delta = msr & UART_MSR_ANY_DELTA;
    /* What the UART received and the guest did not read yet, as much as
     * the model holds: a line that keeps sending refills the UART while
     * it is read (seen in the lab: an overrun in the model at a takeover
     * under the host's stream); the rest stays in the UART for later. */
    for (lsr = dev_in(dm, UART_LSR); (lsr & UART_LSR_DR) && model_rx_room(dm);
         lsr = dev_in(dm, UART_LSR)) {
        rtv_uart_rx_error(&dm->model, lsr);
        rtv_uart_rx_push(&dm->model, dev_in(dm, UART_RX));
    }
    rtv_uart_rx_error(&dm->model, lsr | dm->stolen_lsr);
    dm->stolen_lsr = 0;
    dm->rx_unseen = dm->model.rx.count != 0;   /* the first load */
    dm->rx_emptied = false;
    own = (struct rtv_uart_mode){ .divisor = m.divisor,
                                  .lcr = m.lcr & ~UART_LCR_DLAB,
                                  .ier = dm->own.ier, .mcr = dm->own.mcr,
                                  .fcr = dm->own.fcr };
    rtv_uart_mode_write(&dm->dev, &own);
    dm->line_divisor = own.divisor;
    dm->line_lcr = own.lcr;
}

static void hand_back(struct rtv_uart_dm *dm)
{
    struct rtv_uart_mode m;

    rtv_uart_mode_get(&dm->model, &m);
    dev_out(dm, UART_SCR, dm->model.scr);
    rtv_uart_mode_write(&dm->dev, &m);
}

static void reset_uart(struct rtv_uart_dm *dm)
{
    dev_out(dm, UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_RCVR | UART_FCR_CLEAR_XMIT);
}

void rtv_uart_dm_carry(struct rtv_uart_dm *dm, uint64_t now_us,
                       const struct rtv_iov_out *todo, struct rtv_iov_out *done)
{
    struct rtv_iov_out o;
    struct rtv_iov_logent e;
    unsigned act = todo->actions;

    memset(done, 0, sizeof(*done));
    if (act & RTV_IOV_ACT_TRAP) {
        dm->ops->trap(dm->ctx, true);
        dm->trapped = true;
        /* Only now, with the ports trapped, is the UART's LCR final. */
        int st = (dev_in(dm, UART_LCR) & UART_LCR_DLAB)
                     ? rtv_ioseq_state_index(&rtv_uart16550_seq, "dlab-set")
                     : (int)rtv_uart16550_seq.initial;
        rtv_iov_probed(&dm->iov, (unsigned)st, &o);
        memcpy(done->note, o.note, sizeof(done->note));   /* "seeking ... from <state>" */
    }
    if (act & RTV_IOV_ACT_RESET)
        reset_uart(dm);
    if (act & (RTV_IOV_ACT_TAKE_OVER | RTV_IOV_ACT_RESTORE)) {
        if (act & RTV_IOV_ACT_TAKE_OVER)
            take_over(dm);
        else
            hand_back(dm);
        rtv_iov_changed(&dm->iov, true, NULL, &o);
        act |= o.actions;
        now_us = dm->ops->now_us(dm->ctx);   /* the held guest waited for it */
    }
    if (act & RTV_IOV_ACT_REPLAY) {
        enum rtv_iov_verdict path = rtv_iov_replay_path(&dm->iov);

        while (rtv_iov_replay_next(&dm->iov, now_us, &e, &o))
            dm->ops->answer(dm->ctx, e.cookie, perform_seen(dm, path, &e.a));
        *done = o;
        act |= o.actions;
    }
    if (act & RTV_IOV_ACT_UNTRAP) {
        dm->ops->trap(dm->ctx, false);
        dm->trapped = false;
    }
}

/* May the next load of received bytes go into the model?  Only once the
 * guest saw the last one gone (see rtvirt/uart_dm.h), or past the bound. */
static bool rx_load_due(struct rtv_uart_dm *dm, uint64_t now_us)
{
    if (dm->model.rx.count) {
        dm->rx_emptied = false;
        return false;                   /* the guest has not taken the last load */
    }
    if (!dm->rx_unseen)
        return true;
    if (!dm->rx_emptied) {
        dm->rx_emptied = true;
        dm->rx_empty_us = now_us;
    } else if (now_us - dm->rx_empty_us >= RTV_UART_DM_RX_SEEN_US) {
        dm->rx_unseen = false;
    }
    return !dm->rx_unseen;
}

/* ioemu's driver: the model's transmit FIFO out to the UART, the UART's
 * received bytes into the model a load at a time (not while a handback
 * waits for the guest to empty the model), the guest's line settings onto
 * the UART. */
static void drive(struct rtv_uart_dm *dm, uint64_t now_us, bool pull_rx)
{
    uint8_t lsr = dev_in(dm, UART_LSR), b;
    bool moved = false;

    rtv_uart_rx_error(&dm->model, lsr);
    /* THRE says the UART's transmit FIFO is empty: a whole FIFO's worth
     * fits (ioemu's own mode has the FIFO on), as Linux's 8250 driver
     * writes it; one byte per look would cap the line at one byte per
     * poll. */
    while ((lsr & UART_LSR_THRE) && rtv_uart_tx_pop(&dm->model, &b)) {
        unsigned room = (dm->own.fcr & UART_FCR_ENABLE_FIFO) ? RTV_UART_FIFO : 1;

        do {
            dev_out(dm, UART_TX, b);
            rtv_uart_tx_done(&dm->model);
            dm->tx_bytes++;
        } while (--room && rtv_uart_tx_pop(&dm->model, &b));
        lsr = dev_in(dm, UART_LSR);
        rtv_uart_rx_error(&dm->model, lsr);
    }
    pull_rx = pull_rx && (lsr & UART_LSR_DR) && rx_load_due(dm, now_us);
    while (pull_rx && (lsr & UART_LSR_DR) && model_rx_room(dm)) {
        rtv_uart_rx_push(&dm->model, dev_in(dm, UART_RX));
        dm->rx_bytes++;
        moved = true;
        lsr = dev_in(dm, UART_LSR);
        rtv_uart_rx_error(&dm->model, lsr);
    }
    if (moved) {
        dm->rx_unseen = true;
        dm->rx_emptied = false;
    } else {
        rtv_uart_rx_timeout(&dm->model);   /* nothing new came: time the FIFO out */
    }
    if (!(dm->model.lcr & UART_LCR_DLAB) && (lsr & UART_LSR_TEMT)) {
        uint16_t div = (uint16_t)(dm->model.dll | dm->model.dlm << 8);

        if (div != dm->line_divisor || dm->model.lcr != dm->line_lcr) {
            dev_out(dm, UART_LCR, dm->model.lcr | UART_LCR_DLAB);
            dev_out(dm, UART_DLL, div & 0xff);
            dev_out(dm, UART_DLM, div >> 8);
            dev_out(dm, UART_LCR, dm->model.lcr);
            dm->line_divisor = div;
            dm->line_lcr = dm->model.lcr;
        }
    }
}

void rtv_uart_dm_poll(struct rtv_uart_dm *dm, uint64_t now_us,
                      struct rtv_iov_out *done)
{
    bool handback = dm->iov.phase != RTV_IOV_STABLE && dm->iov.target == RTV_IOV_DIRECT;
    struct rtv_iov_out o;
    unsigned device = 0;

    memset(done, 0, sizeof(*done));
    if (model_active(dm))
        drive(dm, now_us, !handback);
    if (dm->iov.phase == RTV_IOV_STABLE)
        return;
    if (handback) {
        if (dm->model.rx.count == 0)
            device |= RTV_IOV_READY;
        if (dm->model.tx.count == 0 && (dev_in(dm, UART_LSR) & UART_LSR_TEMT))
            device |= RTV_IOV_DRAINED;
    } else {
        uint8_t lsr = dev_in(dm, UART_LSR);

        /* The read took the UART's latched line errors from the guest:
         * they reach it through the model once it takes over. */
        dm->stolen_lsr |= lsr & UART_LSR_BRK_ERROR_BITS;
        device |= RTV_IOV_READY;
        if (lsr & UART_LSR_TEMT)
            device |= RTV_IOV_DRAINED;
    }
    rtv_iov_poll(&dm->iov, now_us, device, &o);
    if (o.actions)
        rtv_uart_dm_carry(dm, now_us, &o, done);
    if (!done->finished)   /* the machine's note ("boundary after ...") for the log */
        memcpy(done->note, o.note, sizeof(done->note));
}

bool rtv_uart_dm_irq(const struct rtv_uart_dm *dm)
{
    return model_active(dm) && rtv_uart_irq(&dm->model);
}
