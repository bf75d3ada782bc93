/*
 * The 16550 register model and its mode: what a guest's 8250 driver sees
 * (LSR.THRE/TEMT/DR, IIR priorities and acknowledgement, DLAB aliasing,
 * FIFO trigger levels and overruns, loopback, the OUT2 IRQ gate), and the
 * mode saved from one device and restored into another.
 */
#include <linux/serial_reg.h>

#include "rtvirt/uart16550.h"
#include "unit.h"

static struct rtv_uart u;

static void setup(void)
{
    memset(&u, 0xa5, sizeof(u));         /* init must not rely on zeroes */
    rtv_uart_init(&u);
}

static uint8_t rd(unsigned off)
{
    return rtv_uart_read(&u, off);
}

static void wr(unsigned off, uint8_t v)
{
    rtv_uart_write(&u, off, v);
}

START_TEST(power_on_state)
{
    ck_assert_uint_eq(rd(UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
    ck_assert_uint_eq(rd(UART_IIR), UART_IIR_NO_INT);
    ck_assert_uint_eq(rd(UART_IER), 0);
    ck_assert_uint_eq(rd(UART_LCR), 0);
    ck_assert_uint_eq(rd(UART_MCR), 0);
    ck_assert_uint_eq(rd(UART_MSR), 0);
    ck_assert(!rtv_uart_irq(&u));
    ck_assert_uint_eq(rtv_uart_rx_trigger(&u), 1);
}
END_TEST

START_TEST(dlab_aliases_offsets_0_and_1)
{
    wr(UART_LCR, UART_LCR_DLAB | UART_LCR_WLEN8);
    wr(UART_DLL, 0x0c);
    wr(UART_DLM, 0x01);
    ck_assert_uint_eq(rd(UART_DLL), 0x0c);
    ck_assert_uint_eq(rd(UART_DLM), 0x01);
    ck_assert_uint_eq(u.ier, 0);                 /* IER untouched */
    ck_assert_uint_eq(rd(UART_LSR) & UART_LSR_THRE, UART_LSR_THRE);  /* nothing sent */
    wr(UART_LCR, UART_LCR_WLEN8);
    wr(UART_IER, 0xff);
    ck_assert_uint_eq(rd(UART_IER), 0x0f);       /* four bits exist */
    ck_assert_uint_eq(u.dlm, 0x01);              /* latch untouched */
    wr(UART_TX, 'a');
    ck_assert_uint_eq(u.dll, 0x0c);
    ck_assert_uint_eq(u.tx.count, 1);
    rtv_uart_rx_push(&u, 'b');
    ck_assert_uint_eq(rd(UART_RX), 'b');
    /* SCR, LCR and MCR read back; MCR has five bits; LSR/MSR ignore writes. */
    wr(UART_SCR, 0x5a);
    ck_assert_uint_eq(rd(UART_SCR), 0x5a);
    ck_assert_uint_eq(rd(UART_LCR), UART_LCR_WLEN8);
    wr(UART_MCR, 0xff);
    ck_assert_uint_eq(rd(UART_MCR), 0x1f);
    wr(UART_LSR, 0);
    wr(UART_MSR, 0xff);
    ck_assert_uint_eq(rtv_uart_peek_lsr(&u), 0);  /* 'a' still queued */
    ck_assert_uint_eq(rd(UART_SCR + 8), 0x5a);   /* offsets wrap at 8 */
}
END_TEST

START_TEST(lsr_thre_temt_follow_the_transmitter)
{
    uint8_t b;

    wr(UART_TX, 'x');
    ck_assert_uint_eq(rd(UART_LSR) & (UART_LSR_THRE | UART_LSR_TEMT), 0);
    ck_assert(rtv_uart_tx_pop(&u, &b));
    ck_assert_uint_eq(b, 'x');
    ck_assert_uint_eq(rd(UART_LSR) & (UART_LSR_THRE | UART_LSR_TEMT), UART_LSR_THRE);
    rtv_uart_tx_done(&u);
    ck_assert_uint_eq(rd(UART_LSR) & (UART_LSR_THRE | UART_LSR_TEMT),
                      UART_LSR_THRE | UART_LSR_TEMT);
    ck_assert(!rtv_uart_tx_pop(&u, &b));
}
END_TEST

START_TEST(lsr_dr_and_errors)
{
    ck_assert_uint_eq(rd(UART_LSR) & UART_LSR_DR, 0);
    rtv_uart_rx_push(&u, 'q');
    ck_assert_uint_eq(rd(UART_LSR) & UART_LSR_DR, UART_LSR_DR);
    ck_assert_uint_eq(rd(UART_RX), 'q');
    ck_assert_uint_eq(rd(UART_LSR) & UART_LSR_DR, 0);
    ck_assert_uint_eq(rd(UART_RX), 0);          /* empty reads as 0 */
    rtv_uart_rx_error(&u, UART_LSR_FE | UART_LSR_PE | UART_LSR_DR);
    ck_assert_uint_eq(rd(UART_LSR) & 0x1f, UART_LSR_FE | UART_LSR_PE);
    ck_assert_uint_eq(rd(UART_LSR) & 0x1f, 0);  /* cleared by the read */
}
END_TEST

START_TEST(iir_priority_and_acknowledgement)
{
    wr(UART_IER, UART_IER_RDI | UART_IER_THRI | UART_IER_RLSI | UART_IER_MSI);
    ck_assert_uint_eq(rtv_uart_peek_iir(&u), UART_IIR_THRI);  /* raised by enabling */
    rtv_uart_set_modem(&u, UART_MSR_CTS);
    rtv_uart_rx_push(&u, 'r');
    rtv_uart_rx_error(&u, UART_LSR_BI);
    ck_assert_uint_eq(rd(UART_IIR), UART_IIR_RLSI);
    ck_assert_uint_eq(rd(UART_IIR), UART_IIR_RLSI);  /* not acknowledged by IIR */
    rd(UART_LSR);
    ck_assert_uint_eq(rd(UART_IIR), UART_IIR_RDI);
    rd(UART_RX);
    ck_assert_uint_eq(rtv_uart_peek_iir(&u), UART_IIR_THRI);
    ck_assert_uint_eq(rd(UART_IIR), UART_IIR_THRI);  /* acknowledges it */
    ck_assert_uint_eq(rd(UART_IIR), UART_IIR_MSI);
    ck_assert_uint_eq(rd(UART_MSR), UART_MSR_CTS | UART_MSR_DCTS);
    ck_assert_uint_eq(rd(UART_IIR), UART_IIR_NO_INT);
    ck_assert_uint_eq(rd(UART_MSR), UART_MSR_CTS);
}
END_TEST

START_TEST(ier_gates_each_source)
{
    rtv_uart_rx_push(&u, 'r');
    rtv_uart_rx_error(&u, UART_LSR_OE);
    rtv_uart_set_modem(&u, UART_MSR_DSR);
    u.thri = true;
    ck_assert_uint_eq(rtv_uart_peek_iir(&u), UART_IIR_NO_INT);
    wr(UART_IER, UART_IER_MSI);
    ck_assert_uint_eq(rtv_uart_peek_iir(&u), UART_IIR_MSI);
    rtv_uart_rx_error(&u, UART_LSR_FE);
    wr(UART_IER, UART_IER_RLSI);
    ck_assert_uint_eq(rtv_uart_peek_iir(&u), UART_IIR_RLSI);
    wr(UART_IER, UART_IER_RDI);
    ck_assert_uint_eq(rtv_uart_peek_iir(&u), UART_IIR_RDI);
}
END_TEST

START_TEST(thri_raised_on_enable_and_cleared_by_thr)
{
    uint8_t b;

    wr(UART_TX, 'a');
    wr(UART_IER, UART_IER_THRI);                 /* THR not empty: nothing */
    ck_assert_uint_eq(rtv_uart_peek_iir(&u), UART_IIR_NO_INT);
    rtv_uart_tx_pop(&u, &b);                     /* FIFO ran dry */
    ck_assert_uint_eq(rtv_uart_peek_iir(&u), UART_IIR_THRI);
    wr(UART_TX, 'b');                            /* a THR write acknowledges */
    ck_assert_uint_eq(rtv_uart_peek_iir(&u), UART_IIR_NO_INT);
    rtv_uart_tx_pop(&u, &b);
    wr(UART_IER, 0);
    ck_assert_uint_eq(rtv_uart_peek_iir(&u), UART_IIR_NO_INT);
    wr(UART_IER, UART_IER_THRI);                 /* re-enabling raises it again */
    ck_assert_uint_eq(rtv_uart_peek_iir(&u), UART_IIR_THRI);
    wr(UART_IER, UART_IER_THRI | UART_IER_RDI);  /* already on: no new edge */
    rd(UART_IIR);
    wr(UART_IER, UART_IER_THRI);
    ck_assert_uint_eq(rtv_uart_peek_iir(&u), UART_IIR_NO_INT);
}
END_TEST

START_TEST(fifo_trigger_and_timeout)
{
    wr(UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_R_TRIG_10);
    wr(UART_IER, UART_IER_RDI);
    ck_assert_uint_eq(rtv_uart_rx_trigger(&u), 8);
    ck_assert_uint_eq(rd(UART_IIR), 0xc0 | UART_IIR_NO_INT);
    for (int i = 0; i < 7; i++)
        ck_assert(rtv_uart_rx_push(&u, (uint8_t)i));
    ck_assert_uint_eq(rd(UART_IIR), 0xc0 | UART_IIR_NO_INT);
    /* Below the trigger the character timeout reports it. */
    rtv_uart_rx_timeout(&u);
    ck_assert_uint_eq(rd(UART_IIR), 0xc0 | UART_IIR_RX_TIMEOUT);
    ck_assert_uint_eq(rd(UART_RX), 0);           /* a read clears the timeout */
    ck_assert_uint_eq(rd(UART_IIR), 0xc0 | UART_IIR_NO_INT);
    rtv_uart_rx_push(&u, 7);
    rtv_uart_rx_push(&u, 8);
    ck_assert_uint_eq(rd(UART_IIR), 0xc0 | UART_IIR_RDI);
    for (uint8_t i = 1; i <= 8; i++)
        ck_assert_uint_eq(rd(UART_RX), i);       /* in order */
    rtv_uart_rx_timeout(&u);                     /* empty: no timeout */
    ck_assert(!u.rx_timeout);

    static const struct { uint8_t fcr; unsigned level; } lv[] = {
        { UART_FCR_ENABLE_FIFO | UART_FCR_R_TRIG_00, 1 },
        { UART_FCR_ENABLE_FIFO | UART_FCR_R_TRIG_01, 4 },
        { UART_FCR_ENABLE_FIFO | UART_FCR_R_TRIG_11, 14 },
        { UART_FCR_R_TRIG_11, 1 },               /* FIFO off */
    };
    for (unsigned i = 0; i < sizeof(lv) / sizeof(lv[0]); i++) {
        wr(UART_FCR, lv[i].fcr);
        ck_assert_uint_eq(rtv_uart_rx_trigger(&u), lv[i].level);
    }
}
END_TEST

START_TEST(fifo_depth_and_overruns)
{
    /* FIFO off: one byte; a second overwrites it and sets OE. */
    ck_assert(rtv_uart_rx_push(&u, 1));
    ck_assert(!rtv_uart_rx_push(&u, 2));
    ck_assert_uint_eq(rd(UART_LSR) & (UART_LSR_OE | UART_LSR_DR), UART_LSR_OE | UART_LSR_DR);
    ck_assert_uint_eq(rd(UART_RX), 2);
    ck_assert_uint_eq(u.rx_overruns, 1);
    wr(UART_TX, 'a');
    wr(UART_TX, 'b');                            /* THR full: dropped */
    ck_assert_uint_eq(u.tx_overruns, 1);

    wr(UART_FCR, UART_FCR_ENABLE_FIFO);          /* enabling clears both */
    ck_assert_uint_eq(u.tx.count, 0);
    for (int i = 0; i < 16; i++) {
        ck_assert(rtv_uart_rx_push(&u, (uint8_t)i));
        wr(UART_TX, (uint8_t)i);
    }
    ck_assert(!rtv_uart_rx_push(&u, 99));        /* the 17th is lost */
    wr(UART_TX, 99);
    ck_assert_uint_eq(u.tx_overruns, 2);
    ck_assert_uint_eq(rd(UART_LSR) & UART_LSR_OE, UART_LSR_OE);
    for (int i = 0; i < 16; i++)
        ck_assert_uint_eq(rd(UART_RX), i);
    uint8_t b;
    for (int i = 0; i < 16; i++) {
        ck_assert(rtv_uart_tx_pop(&u, &b));
        ck_assert_uint_eq(b, i);
    }

    /* Clearing the receive FIFO clears its timeout; clearing the transmit
     * FIFO empties THR, which raises THRI. */
    wr(UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_R_TRIG_10);
    wr(UART_IER, UART_IER_RDI | UART_IER_THRI);
    rd(UART_IIR);                                /* THRI from enabling, acknowledged */
    rtv_uart_rx_push(&u, 1);
    rtv_uart_rx_timeout(&u);
    ck_assert_uint_eq(rd(UART_IIR), 0xc0 | UART_IIR_RX_TIMEOUT);
    wr(UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_R_TRIG_10 | UART_FCR_CLEAR_RCVR);
    rtv_uart_rx_push(&u, 2);
    ck_assert_uint_eq(rd(UART_IIR), 0xc0 | UART_IIR_NO_INT);
    rd(UART_RX);
    wr(UART_TX, 3);
    ck_assert_uint_eq(rd(UART_IIR), 0xc0 | UART_IIR_NO_INT);
    wr(UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_XMIT);
    ck_assert_uint_eq(rd(UART_IIR), 0xc0 | UART_IIR_THRI);
    wr(UART_IER, 0);

    /* FCR's clear bits empty one FIFO each. */
    rtv_uart_rx_push(&u, 1);
    wr(UART_TX, 1);
    wr(UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_RCVR);
    ck_assert_uint_eq(u.rx.count, 0);
    ck_assert_uint_eq(u.tx.count, 1);
    wr(UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_XMIT);
    ck_assert_uint_eq(u.tx.count, 0);
    ck_assert_uint_eq(u.fcr, UART_FCR_ENABLE_FIFO);  /* clear bits not kept */
    /* Disabling clears both. */
    rtv_uart_rx_push(&u, 1);
    wr(UART_FCR, 0);
    ck_assert_uint_eq(u.rx.count, 0);
    ck_assert_uint_eq(rd(UART_IIR) & 0xc0, 0);
}
END_TEST

START_TEST(loopback_and_the_out2_gate)
{
    wr(UART_IER, UART_IER_RDI);
    rtv_uart_rx_push(&u, 'i');
    ck_assert(!rtv_uart_irq(&u));                /* OUT2 low: gated */
    wr(UART_MCR, UART_MCR_OUT2);
    ck_assert(rtv_uart_irq(&u));
    rd(UART_RX);
    ck_assert(!rtv_uart_irq(&u));

    wr(UART_MCR, UART_MCR_LOOP);
    ck_assert_uint_eq(rd(UART_MSR), 0);
    wr(UART_MCR, UART_MCR_LOOP | UART_MCR_RTS | UART_MCR_DTR);
    ck_assert_uint_eq(rd(UART_MSR), UART_MSR_CTS | UART_MSR_DSR);
    wr(UART_MCR, UART_MCR_LOOP | UART_MCR_OUT1 | UART_MCR_OUT2);
    ck_assert_uint_eq(rd(UART_MSR), UART_MSR_RI | UART_MSR_DCD);
    wr(UART_TX, 'L');
    ck_assert_uint_eq(u.tx.count, 0);            /* nothing on the wire */
    ck_assert_uint_eq(rd(UART_LSR) & (UART_LSR_DR | UART_LSR_THRE), UART_LSR_DR | UART_LSR_THRE);
    ck_assert(!rtv_uart_irq(&u));                /* OUT2 pin inactive in loopback */
    ck_assert_uint_eq(rd(UART_RX), 'L');
    /* The looped byte left THR at once: THR empty is signalled again. */
    wr(UART_IER, UART_IER_THRI);
    ck_assert_uint_eq(rd(UART_IIR), UART_IIR_THRI);   /* acknowledged */
    ck_assert_uint_eq(rd(UART_IIR), UART_IIR_NO_INT);
    wr(UART_TX, 'M');
    ck_assert_uint_eq(rd(UART_IIR), UART_IIR_THRI);
    ck_assert_uint_eq(rd(UART_RX), 'M');
    /* Outside loopback the modem lines are the outside world's. */
    rtv_uart_set_modem(&u, UART_MSR_DCD);
    wr(UART_MCR, UART_MCR_OUT2);
    ck_assert_uint_eq(rd(UART_MSR) & 0xf0, UART_MSR_DCD);
}
END_TEST

START_TEST(modem_status_deltas)
{
    rtv_uart_set_modem(&u, UART_MSR_CTS | UART_MSR_DSR | UART_MSR_RI | UART_MSR_DCD);
    ck_assert_uint_eq(rd(UART_MSR), 0xf0 | UART_MSR_DCTS | UART_MSR_DDSR | UART_MSR_DDCD);
    ck_assert_uint_eq(rd(UART_MSR), 0xf0);
    rtv_uart_set_modem(&u, UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD);  /* RI falls */
    ck_assert_uint_eq(rd(UART_MSR), 0xb0 | UART_MSR_TERI);
    rtv_uart_set_modem(&u, UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD | UART_MSR_RI);  /* rises: no delta */
    ck_assert_uint_eq(rd(UART_MSR), 0xf0);
    rtv_uart_set_modem(&u, 0xff);                /* only the four lines */
    ck_assert_uint_eq(u.msr_lines, 0xf0);
}
END_TEST

/* ---- the mode ------------------------------------------------------------- */

static const struct rtv_uart_mode guest_mode = {
    .divisor = 0x0180, .lcr = UART_LCR_WLEN7 | UART_LCR_PARITY | UART_LCR_EPAR,
    .ier = UART_IER_RDI | UART_IER_RLSI, .mcr = UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT2,
    .fcr = UART_FCR_ENABLE_FIFO | UART_FCR_R_TRIG_10,
};

static void assert_mode_eq(const struct rtv_uart_mode *a, const struct rtv_uart_mode *b)
{
    ck_assert_uint_eq(a->divisor, b->divisor);
    ck_assert_uint_eq(a->lcr, b->lcr);
    ck_assert_uint_eq(a->ier, b->ier);
    ck_assert_uint_eq(a->mcr, b->mcr);
    ck_assert_uint_eq(a->fcr, b->fcr);
}

START_TEST(mode_set_then_get)
{
    struct rtv_uart_mode m;

    rtv_uart_mode_set(&u, &guest_mode);
    rtv_uart_mode_get(&u, &m);
    assert_mode_eq(&m, &guest_mode);
    ck_assert_uint_eq(u.dll, 0x80);
    ck_assert_uint_eq(u.dlm, 0x01);
    ck_assert_uint_eq(rd(UART_LCR), guest_mode.lcr);   /* DLAB left clear */
}
END_TEST

/* Takeover and handback: the guest programmed the "real" device (a model
 * here); its mode is read off it, the device is put in ioemu's mode, and
 * the guest's mode is written back; the guest finds its settings again. */
START_TEST(mode_survives_takeover_and_handback)
{
    struct rtv_uart dev;
    struct rtv_uart_io io = rtv_uart_model_io(&dev);
    struct rtv_uart_mode saved, ours = { .divisor = 1, .lcr = UART_LCR_WLEN8,
                                         .fcr = UART_FCR_ENABLE_FIFO | UART_FCR_R_TRIG_11 };
    struct rtv_uart_mode now;

    rtv_uart_init(&dev);
    rtv_uart_mode_write(&io, &guest_mode);
    dev.scr = 0x77;
    rtv_uart_mode_read(&io, UART_FCR_R_TRIG_10, &saved);
    assert_mode_eq(&saved, &guest_mode);
    rtv_uart_mode_write(&io, &ours);
    rtv_uart_mode_read(&io, UART_FCR_R_TRIG_11, &now);
    assert_mode_eq(&now, &ours);
    rtv_uart_mode_write(&io, &saved);
    rtv_uart_mode_get(&dev, &now);
    assert_mode_eq(&now, &guest_mode);
    ck_assert_uint_eq(dev.scr, 0x77);            /* not part of the mode, untouched */
}
END_TEST

START_TEST(mode_read_mid_divisor_and_fifo_off)
{
    struct rtv_uart_io io = rtv_uart_model_io(&u);
    struct rtv_uart_mode m, in = guest_mode;

    /* The guest left DLAB set (in its divisor sequence): the mode keeps
     * it, reading does not disturb it, writing it back restores it last. */
    in.lcr |= UART_LCR_DLAB;
    in.fcr = 0;
    rtv_uart_mode_write(&io, &in);
    ck_assert_uint_eq(u.lcr, in.lcr);
    ck_assert_uint_eq(u.ier, in.ier);           /* reached with DLAB clear */
    rtv_uart_mode_read(&io, UART_FCR_R_TRIG_10, &m);
    ck_assert_uint_eq(u.lcr, in.lcr);
    assert_mode_eq(&m, &in);                    /* FIFO off: no trigger guess */
}
END_TEST

static Suite *uart_suite(void)
{
    Suite *su = suite_create("uart16550");
    TCase *tc = rtv_unit_case(su, "registers", setup, NULL, 0);

    RTV_UNIT_ADD(tc, power_on_state, dlab_aliases_offsets_0_and_1,
                     lsr_thre_temt_follow_the_transmitter, lsr_dr_and_errors,
                     iir_priority_and_acknowledgement, ier_gates_each_source,
                     thri_raised_on_enable_and_cleared_by_thr, fifo_trigger_and_timeout,
                     fifo_depth_and_overruns, loopback_and_the_out2_gate, modem_status_deltas);

    tc = rtv_unit_case(su, "mode", setup, NULL, 0);

    RTV_UNIT_ADD(tc, mode_set_then_get, mode_survives_takeover_and_handback,
                     mode_read_mid_divisor_and_fifo_off);
    return su;
}

RTV_UNIT_MAIN(uart_suite)
