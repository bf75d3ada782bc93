/*
 * rtvirt-ioemu's 16550 device model against a simulated machine: the real
 * UART is a register model with a line behind it (one byte per tick each
 * way), the guest a polled 8250 driver doing one port access per tick
 * (so a change can land anywhere, in the middle of its divisor sequence
 * too), and the operator asks for virtualize/devirtualize through the
 * store side (ioemu_ctl) at random moments.  Every byte must cross exactly
 * once and in order in both directions, the line settings the guest
 * programs while virtualized must be in force on the UART afterwards, and
 * no change may need a reset.  RTV_UART_DM_SEED=N runs the random test
 * with another seed; RTV_UART_DM_STATS=1 prints what it exercised.
 */
#include <linux/serial_reg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtvirt/ioemu_ctl.h"
#include "rtvirt/uart_dm.h"
#include "uart_streams.h"
#include "unit.h"

#define GUEST_BYTES 20000u
#define HOST_BYTES  20000u
#define TICK_US     10u

static struct rtv_uart uart;         /* the real device */
static struct rtv_uart_dm dm;
static struct rtv_ioemu_ctl ctl;
static uint64_t now;
static uint32_t rng = 12345;


/* ---- the line's far end ---------------------------------------------- */

static uint8_t host_in[GUEST_BYTES + 64];
static size_t host_in_len, host_fed;

static void line_tick(void)
{
    uint8_t b;

    rtv_uart_tx_done(&uart);
    if (rtv_uart_tx_pop(&uart, &b)) {
        ck_assert_uint_lt(host_in_len, sizeof(host_in));
        host_in[host_in_len++] = b;
    }
    /* The host starts once the guest has set the UART up, sends no faster
     * than a byte per two ticks, and never into a FIFO past half full: no
     * overrun is the line's fault. */
    if (now > 50 * TICK_US && host_fed < HOST_BYTES && uart.rx.count < 8 &&
        now % (2 * TICK_US) == 0)
        rtv_uart_rx_push(&uart, host_byte(host_fed++));
}

/* ---- the guest: a polled 8250 driver, one access per tick ------------ */

static struct {
    struct rtv_ioseq_access q[64];
    unsigned head, len;
    bool waiting;
    struct rtv_ioseq_access held;
    uint8_t rx[HOST_BYTES + 64];
    size_t rx_len, tx_queued;
    bool mid_divisor;
    uint16_t divisor;
    uint8_t lcr;
} g;

static void queue(unsigned off, int dir, uint8_t v)
{
    ck_assert_uint_lt(g.len, 64);
    g.q[(g.head + g.len++) % 64] = (struct rtv_ioseq_access){
        .offset = (uint16_t)off, .dir = (uint8_t)dir, .size = 1, .value = v };
}

static void queue_divisor(uint16_t div, uint8_t lcr)
{
    queue(UART_LCR, RTV_IOSEQ_WRITE, lcr | UART_LCR_DLAB);
    queue(UART_DLL, RTV_IOSEQ_WRITE, div & 0xff);
    queue(UART_DLM, RTV_IOSEQ_WRITE, div >> 8);
    queue(UART_LCR, RTV_IOSEQ_WRITE, lcr);
    g.divisor = div;
    g.lcr = lcr;
}

/* What the driver does with an access once it is answered. */
static void completed(const struct rtv_ioseq_access *a, uint8_t v)
{
    if (a->dir == RTV_IOSEQ_WRITE) {
        if (a->offset == UART_LCR)
            g.mid_divisor = v & UART_LCR_DLAB;
        return;
    }
    if (a->offset == UART_RX) {
        ck_assert_uint_lt(g.rx_len, sizeof(g.rx));
        g.rx[g.rx_len++] = v;
    } else if (a->offset == UART_LSR && g.len == 0) {
        if (v & UART_LSR_DR) {
            queue(UART_RX, RTV_IOSEQ_READ, 0);
        } else if ((v & UART_LSR_THRE) && g.tx_queued < GUEST_BYTES) {
            for (unsigned i = 0; i < 16 && g.tx_queued < GUEST_BYTES; i++)
                queue(UART_TX, RTV_IOSEQ_WRITE, guest_byte(g.tx_queued++));
        } else if (rtv_test_rnd(&rng, 40) == 0) {
            static const uint16_t divs[] = { 1, 2, 3, 12 };
            static const uint8_t lcrs[] = { 0x03, 0x1a, 0x07 };
            queue_divisor(divs[rtv_test_rnd(&rng, 4)], lcrs[rtv_test_rnd(&rng, 3)]);
        }
    }
}

static int machine;                  /* the ops' context */

static void answer(void *ctx, uint64_t cookie, uint32_t value)
{
    ck_assert_ptr_eq(ctx, &machine);
    ck_assert(g.waiting);
    ck_assert_uint_eq(cookie, 1);
    g.waiting = false;
    completed(&g.held, (uint8_t)value);
}

static void guest_tick(void)
{
    struct rtv_ioseq_access a;
    uint32_t v = 0;

    if (g.waiting)
        return;                          /* the vCPU waits on its ioreq */
    if (g.len == 0)
        queue(UART_LSR, RTV_IOSEQ_READ, 0);
    a = g.q[g.head];
    if (dm.trapped) {
        switch (rtv_uart_dm_access(&dm, &a, 1, &v)) {
        case RTV_UART_DM_ANSWERED:
            break;
        case RTV_UART_DM_HELD:
            g.head = (g.head + 1) % 64;
            g.len--;
            g.waiting = true;
            g.held = a;
            return;
        case RTV_UART_DM_RETRY:
            ck_abort_msg("one vCPU cannot fill the log");
        }
    } else if (a.dir == RTV_IOSEQ_READ) {
        v = rtv_uart_read(&uart, a.offset);
    } else {
        rtv_uart_write(&uart, a.offset, (uint8_t)a.value);
    }
    g.head = (g.head + 1) % 64;
    g.len--;
    completed(&a, a.dir == RTV_IOSEQ_READ ? (uint8_t)v : (uint8_t)a.value);
}

/* ---- ioemu and the operator ------------------------------------------- */

static bool trapped_now;
static unsigned traps, untraps;

static void trap(void *ctx, bool on)
{
    ck_assert_ptr_eq(ctx, &machine);
    ck_assert_int_ne(on, trapped_now);   /* never twice the same way */
    trapped_now = on;
    on ? traps++ : untraps++;
}

static uint64_t clock_now(void *ctx)
{
    ck_assert_ptr_eq(ctx, &machine);
    return now;
}

static const struct rtv_uart_dm_ops ops = { .trap = trap, .answer = answer, .now_us = clock_now };

static struct {
    unsigned asked, finished, mid_divisor, mid_divisor_waited;
    uint64_t busy, logged, held_us;
    bool started_mid;
    uint32_t id;
} op;

static void finish(const struct rtv_iov_out *done)
{
    struct rtv_ioemu_ctl_out out;

    if (!done->finished)
        return;
    rtv_ioemu_ctl_finished(&ctl, done, &out);
    ck_assert(out.answer.publish);
    ck_assert_str_eq(out.answer.result, "ok");
    ck_assert_str_eq(out.answer.error, "");
    op.finished++;
    op.busy += dm.iov.busy;
    op.logged += dm.iov.logged;
    op.held_us += dm.iov.held_us;
    if (op.started_mid && dm.iov.seek_us > 0)
        op.mid_divisor_waited++;
}

static char ask_note[256], poll_note[256];

static void ask(const char *what)
{
    struct rtv_ioemu_ctl_out out;
    struct rtv_iov_out done;
    char id[16];

    memset(&done, 0xa5, sizeof(done));   /* carry must fill it all */
    snprintf(id, sizeof(id), "%u", ++op.id);
    rtv_ioemu_ctl_request(&ctl, what, id, "100", now, &out);
    ck_assert(out.publish_state);
    op.asked++;
    op.started_mid = g.mid_divisor;
    op.mid_divisor += g.mid_divisor;
    rtv_uart_dm_carry(&dm, now, &out.iov, &done);
    memcpy(ask_note, done.note, sizeof(ask_note));
    finish(&done);
}

static void ioemu_tick(void)
{
    struct rtv_iov_out done;

    rtv_uart_dm_poll(&dm, now, &done);
    if (done.note[0])
        memcpy(poll_note, done.note, sizeof(poll_note));
    finish(&done);
}

static void tick(void)
{
    now += TICK_US;
    line_tick();
    guest_tick();
    ioemu_tick();
    /* dm.trapped tells what the ops were last told */
    ck_assert_int_eq(dm.trapped, trapped_now);
}

static void setup(void)
{
    struct rtv_uart_io io;

    memset(&g, 0, sizeof(g));
    memset(&op, 0, sizeof(op));
    host_in_len = host_fed = 0;
    trapped_now = false;
    traps = untraps = 0;
    now = 0;
    rtv_uart_init(&uart);
    io = rtv_uart_model_io(&uart);
    memset(&dm, 0xa5, sizeof(dm));       /* init must not rely on zeroes */
    /* FCR cannot be read back: the operator tells what the guest's driver
     * uses (Linux: 8 bytes on a 16550A); FCR writes seen while trapped
     * replace it. */
    rtv_uart_dm_init(&dm, &io, &ops, &machine,
                     (struct rtv_uart_dm_own){ .ier = 0, .mcr = UART_MCR_OUT2,
                                               .fcr = UART_FCR_ENABLE_FIFO | UART_FCR_R_TRIG_11 },
                     UART_FCR_R_TRIG_10);
    ck_assert(!dm.trapped);
    ck_assert_uint_eq(dm.tx_bytes + dm.rx_bytes, 0);
    rtv_ioemu_ctl_init(&ctl, &dm.iov, 0);
    rng = getenv("RTV_UART_DM_SEED") ? (uint32_t)strtoul(getenv("RTV_UART_DM_SEED"), NULL, 0) : 12345;
    /* The guest's driver sets the UART up, directly. */
    queue_divisor(1, UART_LCR_WLEN8);
    queue(UART_FCR, RTV_IOSEQ_WRITE, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_RCVR |
                                     UART_FCR_CLEAR_XMIT | UART_FCR_R_TRIG_10);
    queue(UART_MCR, RTV_IOSEQ_WRITE, UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT2);
    queue(UART_IER, RTV_IOSEQ_WRITE, 0);
}

static void run_until_direct_and_done(void)
{
    for (unsigned i = 0; i < 2000000 && (dm.iov.phase != RTV_IOV_STABLE ||
                                         dm.iov.mode != RTV_IOV_DIRECT); i++) {
        if (dm.iov.phase == RTV_IOV_STABLE)
            ask("devirtualize");
        tick();
    }
    ck_assert_int_eq(dm.iov.mode, RTV_IOV_DIRECT);
    for (unsigned i = 0; i < 2000000 && (g.tx_queued < GUEST_BYTES || g.len ||
                                         host_in_len < GUEST_BYTES ||
                                         g.rx_len < HOST_BYTES); i++)
        tick();
}

static void assert_every_byte_once_in_order(void)
{
    ck_assert_uint_eq(host_in_len, GUEST_BYTES);
    for (size_t i = 0; i < GUEST_BYTES; i++)
        ck_assert_msg(host_in[i] == guest_byte(i), "host byte %zu: %#x, want %#x",
                      i, host_in[i], guest_byte(i));
    ck_assert_uint_eq(g.rx_len, HOST_BYTES);
    for (size_t i = 0; i < HOST_BYTES; i++)
        ck_assert_msg(g.rx[i] == host_byte(i), "guest byte %zu: %#x, want %#x",
                      i, g.rx[i], host_byte(i));
}

START_TEST(bytes_cross_once_in_order_through_random_cycles)
{
    unsigned next = 300;

    for (unsigned t = 0; g.tx_queued < GUEST_BYTES * 3 / 4; t++) {
        if (t == next && dm.iov.phase == RTV_IOV_STABLE)
            ask(dm.iov.mode == RTV_IOV_DIRECT ? "virtualize" : "devirtualize");
        if (t >= next)
            next = t + 50 + rtv_test_rnd(&rng, 400);
        tick();
    }
    run_until_direct_and_done();
    assert_every_byte_once_in_order();
    ck_assert_uint_ge(op.finished, 100);
    ck_assert_uint_eq(op.finished, op.asked);
    ck_assert_uint_eq(dm.iov.resets, 0);
    ck_assert_uint_eq(dm.iov.rollbacks, 0);
    ck_assert_uint_eq(uart.rx_overruns + dm.model.rx_overruns, 0);
    ck_assert_uint_eq(traps, untraps);
    ck_assert(!trapped_now);
    /* Changes asked for in the middle of the guest's divisor sequence
     * waited for its end (forced below, in mid_divisor_change_waits). */
    ck_assert_uint_eq(op.mid_divisor_waited, op.mid_divisor);
    ck_assert_uint_gt(op.busy, 0);          /* the guest was held off */
    if (getenv("RTV_UART_DM_STATS"))
        fprintf(stderr, "%u changes, %llu busy answers, %llu logged, held %llu us in all, "
                "ioemu moved %llu tx / %llu rx bytes\n", op.finished,
                (unsigned long long)op.busy, (unsigned long long)op.logged,
                (unsigned long long)op.held_us, (unsigned long long)dm.tx_bytes,
                (unsigned long long)dm.rx_bytes);
    ck_assert_uint_gt(dm.tx_bytes, 0);
    ck_assert_uint_gt(dm.rx_bytes, 0);
    /* The guest's last line settings and mode are on the UART. */
    ck_assert_uint_eq(uart.dll | uart.dlm << 8, g.divisor);
    ck_assert_uint_eq(uart.lcr, g.lcr);
    ck_assert_uint_eq(uart.mcr, UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT2);
    ck_assert_uint_eq(uart.fcr, UART_FCR_ENABLE_FIFO | UART_FCR_R_TRIG_10);
    ck_assert_uint_eq(uart.ier, 0);
}
END_TEST

/* The guest has written LCR with DLAB set, not yet the divisor. */
static void guest_starts_divisor(uint16_t div, uint8_t lcr)
{
    while (g.len || g.waiting)
        tick();
    queue_divisor(div, lcr);
    while (!g.mid_divisor)
        tick();
    ck_assert_uint_eq(g.len, 3);
}

static void until_stable(void)
{
    for (unsigned i = 0; i < 10000 && dm.iov.phase != RTV_IOV_STABLE; i++)
        tick();
    ck_assert_int_eq(dm.iov.phase, RTV_IOV_STABLE);
}

/* A change asked for in the middle of the divisor sequence waits for its
 * end, in both directions, and the settings it makes are kept. */
START_TEST(mid_divisor_change_waits)
{
    for (unsigned i = 0; i < 100; i++)
        tick();
    guest_starts_divisor(3, 0x07);
    ask("virtualize");
    /* The probe, made once the ports trap, found DLAB set. */
    ck_assert_str_eq(rtv_ioseq_state_name(&dm.iov.seq), "dlab-set");
    ck_assert_str_eq(ask_note, "virtualized: seeking a sequence boundary from dlab-set");
    ck_assert_int_eq(dm.iov.phase, RTV_IOV_SEEK);
    poll_note[0] = '\0';
    until_stable();
    ck_assert_contains(poll_note, "virtualized (ok): sought ");
    ck_assert_int_eq(dm.iov.mode, RTV_IOV_VIRTUALIZED);
    ck_assert_uint_ge(dm.iov.seek_us, 3 * TICK_US);   /* DLL, DLM, LCR first */
    ck_assert(!dm.iov.reset);
    ck_assert_uint_eq(dm.model.dll | dm.model.dlm << 8, 3);
    ck_assert_uint_eq(dm.model.lcr, 0x07);

    guest_starts_divisor(2, 0x03);
    ask("devirtualize");
    ck_assert_str_eq(rtv_ioseq_state_name(&dm.iov.seq), "dlab-set");
    until_stable();
    ck_assert_int_eq(dm.iov.mode, RTV_IOV_DIRECT);
    ck_assert_uint_ge(dm.iov.seek_us, 3 * TICK_US);
    ck_assert(!dm.iov.reset);
    ck_assert_uint_eq(uart.dll | uart.dlm << 8, 2);
    ck_assert_uint_eq(uart.lcr, 0x03);
    ck_assert_uint_eq(op.mid_divisor_waited, 2);
}
END_TEST

/* Line settings changed while virtualized reach the UART then, not only
 * at the handback. */
START_TEST(line_settings_follow_the_guest_while_virtualized)
{
    for (unsigned i = 0; i < 50; i++)
        tick();
    ask("virtualize");
    for (unsigned i = 0; i < 50 && dm.iov.phase != RTV_IOV_STABLE; i++)
        tick();
    ck_assert_int_eq(dm.iov.mode, RTV_IOV_VIRTUALIZED);
    ck_assert_uint_eq(uart.fcr, UART_FCR_ENABLE_FIFO | UART_FCR_R_TRIG_11);   /* ioemu's */
    ck_assert_uint_eq(uart.mcr, UART_MCR_OUT2);
    while (g.len)
        tick();
    queue_divisor(12, 0x1a);
    queue(UART_FCR, RTV_IOSEQ_WRITE, UART_FCR_ENABLE_FIFO | UART_FCR_R_TRIG_01);
    for (unsigned i = 0; i < 200; i++)
        tick();
    ck_assert_uint_eq(uart.dll | uart.dlm << 8, 12);
    ck_assert_uint_eq(uart.lcr, 0x1a);
    ck_assert_uint_eq(dm.model.lcr, 0x1a);
    ck_assert_uint_eq(uart.fcr, UART_FCR_ENABLE_FIFO | UART_FCR_R_TRIG_11);  /* still ioemu's */

    /* Handed back, the guest's settings are the UART's; taken over again,
     * the trigger level it wrote (which the UART cannot tell) is known. */
    ask("devirtualize");
    until_stable();
    ck_assert_uint_eq(uart.fcr, UART_FCR_ENABLE_FIFO | UART_FCR_R_TRIG_01);
    ck_assert_uint_eq(uart.dll | uart.dlm << 8, 12);
    ask("virtualize");
    until_stable();
    ck_assert_uint_eq(dm.model.fcr, UART_FCR_ENABLE_FIFO | UART_FCR_R_TRIG_01);
    ck_assert_uint_eq(dm.model.lcr, 0x1a);
}
END_TEST

/* Virtualized, ioemu's driver fills the UART's transmit FIFO at once when
 * THRE shows it empty: one byte per look would cap the line at one byte
 * per poll (1 kB/s at rtvirt-ioemu's 1 ms tick, below the line's rate). */
START_TEST(ioemu_writes_a_whole_fifo_per_thre)
{
    struct rtv_iov_out done;
    uint64_t before;

    for (unsigned i = 0; i < 50; i++)
        tick();
    ask("virtualize");
    until_stable();
    ck_assert_int_eq(dm.iov.mode, RTV_IOV_VIRTUALIZED);
    /* the model's and the UART's transmit sides empty (line only: the
     * guest is left out of this) */
    for (unsigned i = 0; i < 1000 && (dm.model.tx.count || uart.tx.count || uart.tx_shifting); i++) {
        line_tick();
        rtv_uart_dm_poll(&dm, now, &done);
    }
    ck_assert_uint_eq(dm.model.tx.count + uart.tx.count, 0);
    rtv_uart_tx_done(&uart);
    for (unsigned i = 0; i < RTV_UART_FIFO; i++)
        rtv_uart_write(&dm.model, UART_TX, (uint8_t)(0x40 + i));
    before = dm.tx_bytes;
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_uint_eq(dm.tx_bytes - before, RTV_UART_FIFO);
    ck_assert_uint_eq(uart.tx.count, RTV_UART_FIFO);
}
END_TEST

/* While the guest is held, its busy LSR comes from the side that answers
 * it: the UART before a takeover, the model before a handback. */
START_TEST(held_guest_reads_the_side_that_answers)
{
    struct rtv_ioseq_access lsr = { .offset = UART_LSR, .dir = RTV_IOSEQ_READ, .size = 1 };
    struct rtv_ioseq_access rbr = { .offset = UART_RX, .dir = RTV_IOSEQ_READ, .size = 1 };
    struct rtv_iov_out done;
    uint32_t v;
    uint8_t b;

    for (unsigned i = 0; i < 10; i++)
        tick();                          /* the guest set the UART up */
    rtv_uart_write(&uart, UART_TX, 'q'); /* a byte on its way out: not drained */
    rtv_uart_rx_push(&uart, 'r');
    ask("virtualize");
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_int_eq(dm.iov.phase, RTV_IOV_HOLD);
    ck_assert_int_eq(rtv_uart_dm_access(&dm, &lsr, 1, &v), RTV_UART_DM_ANSWERED);
    ck_assert_uint_eq(v, UART_LSR_DR);   /* the UART's, THRE and TEMT hidden */
    while (rtv_uart_tx_pop(&uart, &b))   /* the line takes them */
        rtv_uart_tx_done(&uart);
    rtv_uart_dm_poll(&dm, now, &done);
    finish(&done);
    ck_assert_int_eq(dm.iov.mode, RTV_IOV_VIRTUALIZED);
    ck_assert_uint_eq(dm.model.rx.count, 1);   /* 'r' came over with the mode */

    ask("devirtualize");
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_int_eq(dm.iov.phase, RTV_IOV_SEEK);   /* 'r' still in the model */
    ck_assert_int_eq(rtv_uart_dm_access(&dm, &rbr, 1, &v), RTV_UART_DM_ANSWERED);
    ck_assert_uint_eq(v, 'r');
    rtv_uart_rx_push(&uart, 'y');        /* stays in the UART for the guest */
    rtv_uart_write(&uart, UART_TX, 'q');
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_int_eq(dm.iov.phase, RTV_IOV_HOLD);
    ck_assert_int_eq(rtv_uart_dm_access(&dm, &lsr, 1, &v), RTV_UART_DM_ANSWERED);
    ck_assert_uint_eq(v, 0);             /* the model's: nothing to read */
    while (rtv_uart_tx_pop(&uart, &b))
        rtv_uart_tx_done(&uart);
    rtv_uart_dm_poll(&dm, now, &done);
    finish(&done);
    ck_assert_int_eq(dm.iov.mode, RTV_IOV_DIRECT);
    ck_assert_uint_eq(rtv_uart_read(&uart, UART_RX), 'y');

    /* A takeover starts the model afresh: nothing left from the last. */
    dm.model.lsr_err = UART_LSR_FE;
    ask("virtualize");
    rtv_uart_dm_poll(&dm, now, &done);
    finish(&done);
    ck_assert_int_eq(dm.iov.mode, RTV_IOV_VIRTUALIZED);
    ck_assert_uint_eq(rtv_uart_peek_lsr(&dm.model) & UART_LSR_FE, 0);
}
END_TEST

/* A UART that counts the LCR writes it gets. */
static unsigned lcr_writes;

static uint8_t counted_in(void *ctx, unsigned off)
{
    return rtv_uart_read(ctx, off);
}

static void counted_out(void *ctx, unsigned off, uint8_t v)
{
    lcr_writes += off == UART_LCR;
    rtv_uart_write(ctx, off, v);
}

/* A UART whose every access takes SLOW_IO_US (the lab's: each inb/outb of
 * dom0 traps to Xen and then to the outer QEMU). */
#define SLOW_IO_US 40u
static unsigned slow_accesses;

static uint8_t slow_in(void *ctx, unsigned off)
{
    now += SLOW_IO_US;
    slow_accesses++;
    return rtv_uart_read(ctx, off);
}

static void slow_out(void *ctx, unsigned off, uint8_t v)
{
    now += SLOW_IO_US;
    slow_accesses++;
    rtv_uart_write(ctx, off, v);
}

/* The guest is held from the boundary until the change has done its work
 * on the UART (the takeover reads the guest's mode off it and writes
 * ioemu's; the handback writes the guest's back): the held time of each
 * change counts that work, in the same poll that found the boundary too
 * (the lab's flights reported 0 us for every change before). */
START_TEST(held_time_counts_the_work_on_the_uart)
{
    struct rtv_uart_io io = { .in = slow_in, .out = slow_out, .ctx = &uart };
    struct rtv_iov_out done;
    uint64_t t0;
    unsigned a0;

    rtv_uart_init(&uart);
    rtv_uart_dm_init(&dm, &io, &ops, &machine,
                     (struct rtv_uart_dm_own){ .ier = 0, .mcr = UART_MCR_OUT2,
                                               .fcr = UART_FCR_ENABLE_FIFO },
                     UART_FCR_R_TRIG_10);
    rtv_uart_mode_set(&uart, &(struct rtv_uart_mode){
        .divisor = 1, .lcr = 0x03, .mcr = UART_MCR_DTR, .fcr = UART_FCR_ENABLE_FIFO });
    for (int dir = 0; dir < 2; dir++) {
        ask(dir == 0 ? "virtualize" : "devirtualize");
        t0 = now;
        a0 = slow_accesses;
        rtv_uart_dm_poll(&dm, now, &done);   /* boundary, drained: the whole change */
        ck_assert(done.finished);
        ck_assert_str_eq(done.result, "ok");
        ck_assert_int_eq(dm.iov.mode, dir == 0 ? RTV_IOV_VIRTUALIZED : RTV_IOV_DIRECT);
        /* held from the boundary (after the poll's own look at LSR) to the
         * end of the change's accesses: at least the mode's 7 registers */
        ck_assert_uint_ge(dm.iov.held_us, 7 * SLOW_IO_US);
        ck_assert_uint_le(dm.iov.held_us, now - t0);
        ck_assert_uint_ge(dm.iov.held_us, now - t0 - 2 * SLOW_IO_US);
        ck_assert_uint_gt(slow_accesses - a0, 7);
        finish(&done);
    }
}
END_TEST

/* The guest's state crosses with the mode: scratch, modem status, line
 * errors, bytes received; ioemu's mode goes on the UART with the guest's
 * line settings, and is not reprogrammed again while they hold. */
START_TEST(takeover_and_handback_carry_the_guest_state)
{
    struct rtv_uart_io io = { .in = counted_in, .out = counted_out, .ctx = &uart };
    struct rtv_ioseq_access scr = { .offset = UART_SCR, .dir = RTV_IOSEQ_WRITE, .size = 1, .value = 0x77 };
    struct rtv_iov_out done;
    uint32_t v;

    rtv_uart_init(&uart);
    rtv_uart_dm_init(&dm, &io, &ops, &machine,
                     (struct rtv_uart_dm_own){ .ier = UART_IER_RDI, .mcr = UART_MCR_OUT2,
                                               .fcr = UART_FCR_ENABLE_FIFO | UART_FCR_R_TRIG_11 },
                     UART_FCR_R_TRIG_10);
    rtv_uart_mode_set(&uart, &(struct rtv_uart_mode){
        .divisor = 3, .lcr = 0x1b, .ier = UART_IER_RDI | UART_IER_RLSI,
        .mcr = UART_MCR_DTR | UART_MCR_OUT2, .fcr = UART_FCR_ENABLE_FIFO | UART_FCR_R_TRIG_10 });
    uart.scr = 0x5a;
    rtv_uart_set_modem(&uart, UART_MSR_CTS | UART_MSR_DSR);
    rtv_uart_rx_push(&uart, 'a');
    rtv_uart_rx_error(&uart, UART_LSR_FE);
    rtv_uart_rx_push(&uart, 'b');

    ask("virtualize");
    rtv_uart_dm_poll(&dm, now, &done);
    finish(&done);
    ck_assert_int_eq(dm.iov.mode, RTV_IOV_VIRTUALIZED);
    ck_assert_uint_eq(dm.model.dll | dm.model.dlm << 8, 3);
    ck_assert_uint_eq(dm.model.lcr, 0x1b);
    ck_assert_uint_eq(dm.model.ier, UART_IER_RDI | UART_IER_RLSI);
    ck_assert_uint_eq(dm.model.mcr, UART_MCR_DTR | UART_MCR_OUT2);
    ck_assert_uint_eq(dm.model.fcr, UART_FCR_ENABLE_FIFO | UART_FCR_R_TRIG_10);
    ck_assert_uint_eq(dm.model.scr, 0x5a);
    ck_assert_uint_eq(rtv_uart_peek_msr(&dm.model),
                      UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCTS | UART_MSR_DDSR);
    ck_assert_uint_eq(rtv_uart_peek_lsr(&dm.model) & (UART_LSR_FE | UART_LSR_DR),
                      UART_LSR_FE | UART_LSR_DR);
    ck_assert_uint_eq(rtv_uart_read(&dm.model, UART_RX), 'a');
    ck_assert_uint_eq(rtv_uart_read(&dm.model, UART_RX), 'b');
    /* ioemu's mode, the guest's line. */
    ck_assert_uint_eq(uart.ier, UART_IER_RDI);
    ck_assert_uint_eq(uart.mcr, UART_MCR_OUT2);
    ck_assert_uint_eq(uart.fcr, UART_FCR_ENABLE_FIFO | UART_FCR_R_TRIG_11);
    ck_assert_uint_eq(uart.dll | uart.dlm << 8, 3);
    ck_assert_uint_eq(uart.lcr, 0x1b);
    lcr_writes = 0;
    for (int i = 0; i < 5; i++)
        rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_uint_eq(lcr_writes, 0);

    /* A line error with no data crosses too. */
    ask("devirtualize");
    ck_assert_int_eq(rtv_uart_dm_access(&dm, &scr, 1, &v), RTV_UART_DM_ANSWERED);
    rtv_uart_dm_poll(&dm, now, &done);
    finish(&done);
    ck_assert_int_eq(dm.iov.mode, RTV_IOV_DIRECT);
    ck_assert_uint_eq(uart.scr, 0x77);
    ck_assert_uint_eq(uart.ier, UART_IER_RDI | UART_IER_RLSI);
    ck_assert_uint_eq(uart.fcr, UART_FCR_ENABLE_FIFO | UART_FCR_R_TRIG_10);
    rtv_uart_rx_error(&uart, UART_LSR_BI);
    ask("virtualize");
    rtv_uart_dm_poll(&dm, now, &done);
    finish(&done);
    /* BI only: the FE the first takeover carried is not carried again */
    ck_assert_uint_eq(rtv_uart_peek_lsr(&dm.model) & (UART_LSR_BI | UART_LSR_FE | UART_LSR_DR),
                      UART_LSR_BI);
}
END_TEST

/* A line error that comes while the takeover empties the UART's receive
 * FIFO (the UART latches it until the next LSR read) reaches the guest. */
static unsigned error_at_rx_read;   /* inject FE at this RX read (1 = the first) */
static unsigned rx_reads;   /* of RBR (DLAB clear) */

static uint8_t erring_in(void *ctx, unsigned off)
{
    struct rtv_uart *u = ctx;
    bool rx = off == UART_RX && !(u->lcr & UART_LCR_DLAB);   /* not DLL */
    uint8_t v = rtv_uart_read(u, off);

    if (rx && ++rx_reads == error_at_rx_read)
        rtv_uart_rx_error(ctx, UART_LSR_FE);
    return v;
}

START_TEST(takeover_keeps_an_error_that_comes_while_it_reads_the_fifo)
{
    struct rtv_uart_io io = { .in = erring_in, .out = counted_out, .ctx = &uart };
    struct rtv_iov_out done;

    rtv_uart_init(&uart);
    rtv_uart_dm_init(&dm, &io, &ops, &machine,
                     (struct rtv_uart_dm_own){ .fcr = UART_FCR_ENABLE_FIFO }, 0);
    rtv_uart_mode_set(&uart, &(struct rtv_uart_mode){
        .divisor = 1, .lcr = UART_LCR_WLEN8, .fcr = UART_FCR_ENABLE_FIFO });
    rtv_uart_rx_push(&uart, 'a');
    rtv_uart_rx_push(&uart, 'b');
    rtv_uart_rx_push(&uart, 'c');
    rx_reads = 0;
    error_at_rx_read = 1;   /* seen by the LSR read before 'b' */
    ask("virtualize");
    rtv_uart_dm_poll(&dm, now, &done);
    finish(&done);
    ck_assert_int_eq(dm.iov.mode, RTV_IOV_VIRTUALIZED);
    ck_assert_uint_eq(rx_reads, 3);
    ck_assert_uint_eq(rtv_uart_peek_lsr(&dm.model) & UART_LSR_FE, UART_LSR_FE);
}
END_TEST

/* A trapped guest read, answered at once (no change runs). */
static uint8_t guest_in(unsigned off)
{
    struct rtv_ioseq_access a = { .offset = (uint16_t)off, .dir = RTV_IOSEQ_READ, .size = 1 };
    uint32_t v = 0;

    ck_assert_int_eq(rtv_uart_dm_access(&dm, &a, 1, &v), RTV_UART_DM_ANSWERED);
    return (uint8_t)v;
}

/* A line that keeps sending while the takeover empties the UART: each
 * byte read makes room for the next one to come in. */
static unsigned refill_left;
static size_t refill_fed;

static uint8_t refilling_in(void *ctx, unsigned off)
{
    struct rtv_uart *u = ctx;
    bool rx = off == UART_RX && !(u->lcr & UART_LCR_DLAB);
    uint8_t v = rtv_uart_read(u, off);

    if (rx && refill_left) {
        refill_left--;
        rtv_uart_rx_push(u, host_byte(refill_fed++));
    }
    return v;
}

/* A fresh device model, direct, on a UART in the guest's mode (FIFO on)
 * whose line refills it as it is read (refill_left bytes, none yet). */
static void direct_on_a_refilling_uart(void)
{
    struct rtv_uart_io io = { .in = refilling_in, .out = counted_out, .ctx = &uart };

    rtv_uart_init(&uart);
    rtv_uart_dm_init(&dm, &io, &ops, &machine,
                     (struct rtv_uart_dm_own){ .fcr = UART_FCR_ENABLE_FIFO }, 0);
    rtv_uart_mode_set(&uart, &(struct rtv_uart_mode){
        .divisor = 1, .lcr = UART_LCR_WLEN8, .fcr = UART_FCR_ENABLE_FIFO });
    refill_fed = 0;
    refill_left = 0;
}

/* The takeover takes what the model holds and no more; the rest comes
 * later, none lost (the 00:19 flight's guest read an overrun, LSR 0x63,
 * right after a takeover under the host's stream). */
START_TEST(takeover_takes_no_more_than_the_model_holds)
{
    struct rtv_iov_out done;
    size_t got = 0;

    direct_on_a_refilling_uart();
    for (refill_fed = 0; refill_fed < RTV_UART_FIFO; refill_fed++)
        rtv_uart_rx_push(&uart, host_byte(refill_fed));
    refill_left = 3 * RTV_UART_FIFO;
    ask("virtualize");
    rtv_uart_dm_poll(&dm, now, &done);
    finish(&done);
    ck_assert_int_eq(dm.iov.mode, RTV_IOV_VIRTUALIZED);
    ck_assert_uint_eq(dm.model.rx.count, RTV_UART_FIFO);
    ck_assert_uint_eq(dm.model.rx_overruns, 0);
    ck_assert_uint_eq(rtv_uart_peek_lsr(&dm.model) & UART_LSR_OE, 0);
    ck_assert_uint_gt(uart.rx.count, 0);         /* left in the UART */
    refill_left = 0;
    for (unsigned i = 0; i < 100 && (dm.model.rx.count || uart.rx.count); i++) {
        while (guest_in(UART_LSR) & UART_LSR_DR) {
            ck_assert_uint_eq(guest_in(UART_RX), host_byte(got));
            got++;
        }
        rtv_uart_dm_poll(&dm, now, &done);
    }
    ck_assert_uint_eq(got, refill_fed);
    ck_assert_uint_eq(uart.rx_overruns + dm.model.rx_overruns, 0);
}
END_TEST

/* A guest stuck in its divisor sequence: past the bound the UART is
 * reset (its FIFOs cleared) and the takeover goes on. */
START_TEST(bound_passed_resets_the_uart)
{
    struct rtv_iov_out done;

    for (unsigned i = 0; i < 10; i++)
        tick();
    rtv_uart_write(&uart, UART_LCR, UART_LCR_DLAB | UART_LCR_WLEN8);  /* then the guest stalls */
    rtv_uart_write(&uart, UART_TX, 'q');    /* and a byte waits to go out */
    rtv_uart_rx_push(&uart, 'z');
    ask("virtualize");
    ck_assert_str_eq(rtv_ioseq_state_name(&dm.iov.seq), "dlab-set");
    now += 100 * 1000 - 1;
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_int_eq(dm.iov.phase, RTV_IOV_SEEK);
    now += 1;
    rtv_uart_dm_poll(&dm, now, &done);      /* reset: the FIFOs emptied */
    ck_assert(!done.finished);
    ck_assert_uint_eq(uart.rx.count + uart.tx.count, 0);
    /* cleared, not switched off: until the takeover the line still has a
     * FIFO to receive into, not a single holding register */
    ck_assert_uint_eq(uart.fcr & UART_FCR_ENABLE_FIFO, UART_FCR_ENABLE_FIFO);
    rtv_uart_tx_done(&uart);                /* the line finishes the byte it shifts */
    rtv_uart_dm_poll(&dm, now, &done);      /* drained now: taken over */
    ck_assert(done.finished);
    ck_assert_str_eq(done.result, "ok");
    ck_assert_uint_eq(dm.iov.resets, 1);
    ck_assert_int_eq(dm.iov.mode, RTV_IOV_VIRTUALIZED);
    ck_assert_uint_eq(dm.model.rx.count, 0);        /* 'z' went with the reset */
    ck_assert_uint_eq(uart.lcr & UART_LCR_DLAB, 0); /* ioemu's mode on the UART */
    ck_assert_uint_eq(dm.model.lcr, UART_LCR_DLAB | UART_LCR_WLEN8);  /* the guest's, as it left it */
}
END_TEST

/* ---- ioemu's own driver while virtualized --------------------------- */

static unsigned error_at_tx_write;   /* inject FE at this THR write (1 = the first) */
static unsigned tx_writes;

static void erring_out(void *ctx, unsigned off, uint8_t v)
{
    struct rtv_uart *u = ctx;
    bool tx = off == UART_TX && !(u->lcr & UART_LCR_DLAB);   /* not DLL */

    lcr_writes += off == UART_LCR;
    rtv_uart_write(u, off, v);
    if (tx && ++tx_writes == error_at_tx_write)
        rtv_uart_rx_error(u, UART_LSR_FE);
}

/* The UART in the guest's mode, then taken over at once (ioemu's mode
 * own_fcr; the guest's FCR and IER as given). */
static void virtualized(uint8_t own_fcr, uint8_t guest_fcr, uint8_t guest_ier)
{
    struct rtv_uart_io io = { .in = erring_in, .out = erring_out, .ctx = &uart };
    struct rtv_iov_out done;

    rtv_uart_init(&uart);
    rtv_uart_dm_init(&dm, &io, &ops, &machine, (struct rtv_uart_dm_own){ .fcr = own_fcr },
                     guest_fcr);
    trapped_now = false;   /* a fresh device model, direct */
    rtv_uart_mode_set(&uart, &(struct rtv_uart_mode){
        .divisor = 1, .lcr = UART_LCR_WLEN8, .ier = guest_ier, .mcr = UART_MCR_OUT2,
        .fcr = guest_fcr });
    rx_reads = tx_writes = 0;
    error_at_rx_read = error_at_tx_write = 0;
    ask("virtualize");
    rtv_uart_dm_poll(&dm, now, &done);
    finish(&done);
    ck_assert_int_eq(dm.iov.mode, RTV_IOV_VIRTUALIZED);
    ck_assert(dm.trapped);
    ck_assert_uint_eq(uart.fcr, own_fcr);
}

/* Line errors the UART reports while virtualized reach the guest: those
 * latched before ioemu's driver looks, and one that comes while it fills
 * the transmit FIFO (the next LSR read returns and clears it). */
START_TEST(driver_carries_line_errors_to_the_guest)
{
    struct rtv_iov_out done;

    virtualized(UART_FCR_ENABLE_FIFO, UART_FCR_ENABLE_FIFO, 0);
    rtv_uart_rx_error(&uart, UART_LSR_PE);
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_uint_eq(rtv_uart_read(&dm.model, UART_LSR) & UART_LSR_PE, UART_LSR_PE);

    error_at_tx_write = 1;
    rtv_uart_write(&dm.model, UART_TX, 'x');
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_uint_eq(tx_writes, 1);
    ck_assert_uint_eq(rtv_uart_read(&dm.model, UART_LSR) & UART_LSR_FE, UART_LSR_FE);

    /* ... and one that comes while it takes received bytes */
    rtv_uart_rx_push(&uart, 'a');
    rtv_uart_rx_push(&uart, 'b');
    rx_reads = 0;
    error_at_rx_read = 1;
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_uint_eq(rx_reads, 2);
    ck_assert_uint_eq(rtv_uart_read(&dm.model, UART_LSR) & UART_LSR_FE, UART_LSR_FE);
}
END_TEST

/* The guest's IRQ line is the model's only while the model answers it:
 * handed back, an interrupt the model still had pending is not raised. */
START_TEST(irq_is_the_model_s_only_while_virtualized)
{
    struct rtv_iov_out done;
    uint8_t b;

    virtualized(UART_FCR_ENABLE_FIFO, UART_FCR_ENABLE_FIFO, UART_IER_THRI);
    rtv_uart_write(&dm.model, UART_TX, 'x');
    rtv_uart_dm_poll(&dm, now, &done);          /* 'x' to the UART: THRE interrupt */
    ck_assert(rtv_uart_dm_irq(&dm));
    ask("devirtualize");
    for (unsigned i = 0; i < 10 && dm.iov.mode != RTV_IOV_DIRECT; i++) {
        if (rtv_uart_tx_pop(&uart, &b))
            rtv_uart_tx_done(&uart);
        rtv_uart_dm_poll(&dm, now, &done);
        finish(&done);
    }
    ck_assert_int_eq(dm.iov.mode, RTV_IOV_DIRECT);
    ck_assert(rtv_uart_irq(&dm.model));         /* still pending in the model */
    ck_assert(!rtv_uart_dm_irq(&dm));
}
END_TEST

/* A FIFO's worth per look at THRE, counted in tx_bytes, and none while
 * the UART's FIFO is not empty; the guest sees its transmitter empty
 * (TEMT) once its last byte went to the UART. */
START_TEST(driver_fills_the_fifo_and_no_more)
{
    struct rtv_iov_out done;

    virtualized(UART_FCR_ENABLE_FIFO, UART_FCR_ENABLE_FIFO, 0);
    for (unsigned i = 0; i < RTV_UART_FIFO; i++)
        rtv_uart_write(&dm.model, UART_TX, (uint8_t)i);
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_uint_eq(dm.tx_bytes, RTV_UART_FIFO);
    ck_assert_uint_eq(uart.tx.count, RTV_UART_FIFO);
    ck_assert_uint_eq(dm.model.tx.count, 0);
    ck_assert_uint_eq(rtv_uart_peek_lsr(&dm.model) & (UART_LSR_THRE | UART_LSR_TEMT),
                      UART_LSR_THRE | UART_LSR_TEMT);
    rtv_uart_write(&dm.model, UART_TX, 'y');
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_uint_eq(dm.tx_bytes, RTV_UART_FIFO);   /* the UART is full: it waits */
    ck_assert_uint_eq(dm.model.tx.count, 1);
    ck_assert_uint_eq(uart.tx_overruns, 0);
}
END_TEST

/* ioemu's own mode without a FIFO: one byte per THRE. */
START_TEST(driver_without_fifo_writes_one_byte_per_thre)
{
    struct rtv_iov_out done;

    virtualized(0, UART_FCR_ENABLE_FIFO, 0);
    for (unsigned i = 0; i < 4; i++)
        rtv_uart_write(&dm.model, UART_TX, (uint8_t)i);
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_uint_eq(dm.tx_bytes, 1);
    ck_assert_uint_eq(dm.model.tx.count, 3);
}
END_TEST

/* Received bytes go into the model only while its receive FIFO (as the
 * guest set it: 16 bytes, or 1 without FIFO) has room: the rest waits in
 * the UART, and the model never overruns. */
START_TEST(driver_pulls_only_what_the_model_holds)
{
    struct rtv_iov_out done;

    virtualized(UART_FCR_ENABLE_FIFO, UART_FCR_ENABLE_FIFO, 0);
    for (unsigned i = 0; i < RTV_UART_FIFO; i++)
        rtv_uart_rx_push(&uart, (uint8_t)i);
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_uint_eq(dm.model.rx.count, RTV_UART_FIFO);
    ck_assert_uint_eq(dm.rx_bytes, RTV_UART_FIFO);
    for (unsigned i = 0; i < 4; i++)
        rtv_uart_rx_push(&uart, (uint8_t)(0x40 + i));
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_uint_eq(dm.model.rx.count, RTV_UART_FIFO);
    ck_assert_uint_eq(uart.rx.count, 4);
    ck_assert_uint_eq(rtv_uart_peek_lsr(&dm.model) & UART_LSR_OE, 0);

    virtualized(UART_FCR_ENABLE_FIFO, 0, 0);   /* the guest without FIFO */
    rtv_uart_rx_push(&uart, 'a');
    rtv_uart_rx_push(&uart, 'b');
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_uint_eq(dm.model.rx.count, 1);
    ck_assert_uint_eq(uart.rx.count, 1);
    ck_assert_uint_eq(guest_in(UART_RX), 'a');
    ck_assert_uint_eq(guest_in(UART_LSR) & UART_LSR_DR, 0);   /* seen empty */
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_uint_eq(guest_in(UART_RX), 'b');
    ck_assert_uint_eq(rtv_uart_peek_lsr(&dm.model) & UART_LSR_OE, 0);
}
END_TEST

/* The next load of received bytes waits until the guest has seen the
 * last one gone (LSR or IIR read with the FIFO empty): a guest slower
 * than the line then ends its receive loop at every load, instead of
 * finding DR set at every look (see rtvirt/uart_dm.h). */
START_TEST(driver_loads_again_once_the_guest_saw_the_fifo_empty)
{
    struct rtv_iov_out done;

    virtualized(UART_FCR_ENABLE_FIFO, UART_FCR_ENABLE_FIFO, UART_IER_RDI);
    for (unsigned i = 0; i < RTV_UART_FIFO; i++)
        rtv_uart_rx_push(&uart, (uint8_t)i);
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_uint_eq(dm.model.rx.count, RTV_UART_FIFO);
    for (unsigned i = 0; i < 4; i++)            /* more behind the load */
        rtv_uart_rx_push(&uart, (uint8_t)(RTV_UART_FIFO + i));
    for (unsigned i = 0; i < RTV_UART_FIFO; i++) {
        ck_assert_uint_eq(guest_in(UART_LSR) & UART_LSR_DR, UART_LSR_DR);
        ck_assert_uint_eq(guest_in(UART_RX), i);
        rtv_uart_dm_poll(&dm, now, &done);      /* ioemu looks after every access */
    }
    ck_assert_uint_eq(dm.model.rx.count, 0);    /* not refilled behind the guest's back */
    ck_assert_uint_eq(uart.rx.count, 4);
    ck_assert_uint_eq(guest_in(UART_LSR) & UART_LSR_DR, 0);   /* its loop ends here */
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_uint_eq(dm.model.rx.count, 4);    /* the next load */
    ck_assert_uint_eq(uart.rx.count, 0);

    /* An IIR read with nothing left counts the same. */
    for (unsigned i = 0; i < 4; i++)
        ck_assert_uint_eq(guest_in(UART_RX), RTV_UART_FIFO + i);
    rtv_uart_rx_push(&uart, 'i');
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_uint_eq(dm.model.rx.count, 0);
    ck_assert_uint_eq(guest_in(UART_IIR) & UART_IIR_NO_INT, UART_IIR_NO_INT);
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_uint_eq(guest_in(UART_RX), 'i');

    /* A guest that never looks (RBR only) still gets the next load, once
     * the FIFO stayed empty for the bound. */
    rtv_uart_rx_push(&uart, 'j');
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_uint_eq(dm.model.rx.count, 0);
    now += RTV_UART_DM_RX_SEEN_US - 1;
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_uint_eq(dm.model.rx.count, 0);
    now += 1;
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_uint_eq(dm.model.rx.count, 1);
    ck_assert_uint_eq(guest_in(UART_RX), 'j');
}
END_TEST

/* The line fills the UART with the next FIFO's worth of the host's
 * stream, plus `behind` bytes that come while it is read. */
static void line_brings_a_load(unsigned behind)
{
    for (unsigned i = 0; i < RTV_UART_FIFO; i++)
        rtv_uart_rx_push(&uart, host_byte(refill_fed++));
    refill_left = behind;
}

/* The guest reads a whole load with RBR only (no LSR or IIR read after
 * it) and gets the host's stream from byte `*got` on. */
static void guest_reads_rbr_only(unsigned n, size_t *got)
{
    for (unsigned i = 0; i < n; i++, (*got)++)
        ck_assert_uint_eq(guest_in(UART_RX), host_byte(*got));
}

/* Asks for a devirtualize and lets ioemu carry it out (nothing in the
 * way: the guest has emptied the model's FIFOs). */
static void devirtualize_now(void)
{
    struct rtv_iov_out done;

    ask("devirtualize");
    for (unsigned i = 0; i < 10 && dm.iov.mode != RTV_IOV_DIRECT; i++) {
        rtv_uart_dm_poll(&dm, now, &done);
        finish(&done);
    }
    ck_assert_int_eq(dm.iov.mode, RTV_IOV_DIRECT);
}

/* Every takeover starts the receive-load rule afresh: the bytes it takes
 * off the UART are a load the guest has not been seen to finish, so
 * nothing is loaded behind them until the guest reads the model's FIFO
 * empty (LSR/IIR) or it stayed empty RTV_UART_DM_RX_SEEN_US *in this
 * virtualization*.  What an earlier virtualization left -- a load it
 * handed back unseen, the moment it found its FIFO empty -- must not
 * count: here the first virtualization's empty FIFO is older than the
 * bound when the second takeover's load is drained, and a refill then
 * would be the flood the rule is there to stop (rtvirt/uart_dm.h).  And
 * a takeover that finds nothing received has no load pending, whatever
 * the last virtualization handed back unseen.  The guest drains each
 * takeover's load before ioemu's driver looks again: a look while bytes
 * are left in the model restarts the empty clock, so only such a drain
 * shows what the takeover itself sets (rtvirt-ioemu looks after every
 * trapped access: there it is a load of one byte; a whole FIFO here). */
START_TEST(every_takeover_starts_its_own_receive_load)
{
    struct rtv_iov_out done;
    size_t got = 0;

    direct_on_a_refilling_uart();

    for (unsigned round = 0; round < 2; round++) {
        /* Round 1 comes a whole bound after round 0's FIFO was found
         * empty (its poll below), with nothing in between that looked. */
        now += round * RTV_UART_DM_RX_SEEN_US;
        line_brings_a_load(4);
        ask("virtualize");
        rtv_uart_dm_poll(&dm, now, &done);      /* the takeover */
        finish(&done);
        ck_assert_int_eq(dm.iov.mode, RTV_IOV_VIRTUALIZED);
        ck_assert_uint_eq(dm.model.rx.count, RTV_UART_FIFO);   /* the takeover's load */
        ck_assert_uint_eq(uart.rx.count, 4);                  /* and behind it */
        guest_reads_rbr_only(RTV_UART_FIFO, &got);
        rtv_uart_dm_poll(&dm, now, &done);
        ck_assert_msg(dm.model.rx.count == 0 && uart.rx.count == 4,
                      "round %u: refilled behind the guest's back (model %u, UART %u)",
                      round, dm.model.rx.count, uart.rx.count);
        if (round == 1)
            break;
        /* Handed back with that load unseen; the guest takes the rest
         * off the UART itself. */
        devirtualize_now();
        for (; got < refill_fed; got++)
            ck_assert_uint_eq(rtv_uart_read(&uart, UART_RX), host_byte(got));
    }
    /* Seen empty: the next load comes, in order; the guest reads it with
     * RBR only, and it is handed back unseen again. */
    ck_assert_uint_eq(guest_in(UART_LSR) & UART_LSR_DR, 0);
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_uint_eq(dm.model.rx.count, 4);
    guest_reads_rbr_only(4, &got);
    devirtualize_now();
    /* A takeover that finds nothing received has no load pending: the
     * first byte after it goes to the guest at ioemu's next look. */
    ask("virtualize");
    rtv_uart_dm_poll(&dm, now, &done);
    finish(&done);
    ck_assert_int_eq(dm.iov.mode, RTV_IOV_VIRTUALIZED);
    ck_assert_uint_eq(dm.model.rx.count, 0);
    rtv_uart_rx_push(&uart, host_byte(refill_fed++));
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_uint_eq(dm.model.rx.count, 1);
    guest_reads_rbr_only(1, &got);
    ck_assert_uint_eq(got, refill_fed);
    ck_assert_uint_eq(uart.rx_overruns + dm.model.rx_overruns, 0);
}
END_TEST

/* The empty bound counts from the look that found the model's FIFO empty
 * after a load, and from the last load's: a load moved by ioemu's driver
 * is unseen again, whatever an earlier load's look left (the clock of the
 * loads before it must not shorten its wait).  Each load is drained with
 * RBR only, before ioemu's driver looks again.
 * Equivalent mutant, left surviving: removing `dm->rx_emptied = false`
 * in rx_load_due's first branch (bytes in the model) changes nothing:
 * rx_emptied is set only with the model's receive FIFO empty, and both
 * fills of it (take_over, drive's load) clear it, so it is false there
 * already.  It is not in tests/mutation/equivalent.txt because that list
 * is keyed by the line's text, and the same line in take_over and after
 * drive's load is not equivalent (this test and the one before it kill
 * those). */
START_TEST(driver_counts_the_empty_bound_from_its_own_look)
{
    struct rtv_iov_out done;
    uint64_t t0;

    virtualized(UART_FCR_ENABLE_FIFO, UART_FCR_ENABLE_FIFO, UART_IER_RDI);
    now = 50 * RTV_UART_DM_RX_SEEN_US;        /* a clock well past its start */
    for (unsigned i = 0; i < 4; i++)
        rtv_uart_rx_push(&uart, (uint8_t)i);
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_uint_eq(dm.model.rx.count, 4);   /* a load */
    for (unsigned i = 0; i < 4; i++)
        ck_assert_uint_eq(guest_in(UART_RX), i);
    rtv_uart_rx_push(&uart, 4);
    rtv_uart_rx_push(&uart, 5);
    t0 = now;
    rtv_uart_dm_poll(&dm, now, &done);         /* found empty: the clock starts */
    ck_assert_uint_eq(dm.model.rx.count, 0);
    now = t0 + RTV_UART_DM_RX_SEEN_US - 1;
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_uint_eq(dm.model.rx.count, 0);
    now = t0 + RTV_UART_DM_RX_SEEN_US;
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_uint_eq(dm.model.rx.count, 2);   /* the next load, past the bound */
    /* That load is unseen in turn: drained, its own look starts a new
     * clock (the last one started a whole bound ago). */
    ck_assert_uint_eq(guest_in(UART_RX), 4);
    ck_assert_uint_eq(guest_in(UART_RX), 5);
    rtv_uart_rx_push(&uart, 6);
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_uint_eq(dm.model.rx.count, 0);
    ck_assert_uint_eq(guest_in(UART_LSR) & UART_LSR_DR, 0);   /* seen empty */
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_uint_eq(guest_in(UART_RX), 6);
}
END_TEST

/* Below the trigger level the guest learns of received bytes by the
 * character timeout: a look that moved nothing times the FIFO out (one
 * that moved a byte does not). */
START_TEST(driver_times_the_fifo_out_when_nothing_came)
{
    struct rtv_iov_out done;

    virtualized(UART_FCR_ENABLE_FIFO, UART_FCR_ENABLE_FIFO | UART_FCR_R_TRIG_11, UART_IER_RDI);
    rtv_uart_rx_push(&uart, 'a');
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_uint_eq(dm.model.rx.count, 1);
    ck_assert_uint_eq(rtv_uart_peek_iir(&dm.model) & 0x0f, UART_IIR_NO_INT);
    ck_assert(!rtv_uart_dm_irq(&dm));
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_uint_eq(rtv_uart_peek_iir(&dm.model) & 0x0f, UART_IIR_RX_TIMEOUT);
    ck_assert(rtv_uart_dm_irq(&dm));
}
END_TEST

/* The guest's new line settings go onto the UART only with its divisor
 * sequence complete (DLAB clear again) and the transmitter idle: never a
 * half-written divisor, never a byte cut by a change of rate. */
START_TEST(driver_changes_line_settings_only_between_bytes)
{
    struct rtv_iov_out done;

    virtualized(UART_FCR_ENABLE_FIFO, UART_FCR_ENABLE_FIFO, 0);
    rtv_uart_write(&dm.model, UART_TX, 'z');
    rtv_uart_dm_poll(&dm, now, &done);          /* 'z' goes out: TEMT clear */
    ck_assert_uint_eq(rtv_uart_read(&uart, UART_LSR) & UART_LSR_TEMT, 0);
    rtv_uart_write(&dm.model, UART_LCR, UART_LCR_WLEN7 | UART_LCR_DLAB);
    rtv_uart_write(&dm.model, UART_DLL, 12);
    rtv_uart_write(&dm.model, UART_DLM, 0);
    rtv_uart_write(&dm.model, UART_LCR, UART_LCR_WLEN7);
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_uint_eq(uart.dll | uart.dlm << 8, 1);   /* still sending 'z' */
    ck_assert_uint_eq(uart.lcr, UART_LCR_WLEN8);
    uint8_t b;

    ck_assert(rtv_uart_tx_pop(&uart, &b));     /* the line takes it */
    ck_assert_uint_eq(b, 'z');
    rtv_uart_tx_done(&uart);
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_uint_eq(uart.dll | uart.dlm << 8, 12);
    ck_assert_uint_eq(uart.lcr, UART_LCR_WLEN7);
    lcr_writes = 0;                             /* once, not at every look */
    for (int i = 0; i < 3; i++)
        rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_uint_eq(lcr_writes, 0);

    /* transmitter idle, but the guest in the middle of its sequence */
    rtv_uart_write(&dm.model, UART_LCR, UART_LCR_WLEN7 | UART_LCR_DLAB);
    rtv_uart_write(&dm.model, UART_DLL, 0x80);
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_uint_eq(uart.dll | uart.dlm << 8, 12);
    ck_assert_uint_eq(uart.lcr, UART_LCR_WLEN7);
    /* completed: a new divisor (both bytes of it) with the same LCR */
    rtv_uart_write(&dm.model, UART_DLM, 0x01);
    rtv_uart_write(&dm.model, UART_LCR, UART_LCR_WLEN7);
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert_uint_eq(uart.dll | uart.dlm << 8, 0x180);
    ck_assert_uint_eq(uart.lcr, UART_LCR_WLEN7);
}
END_TEST

/* A takeover at a boundary waits for the UART's transmitter to go idle
 * (no byte cut by the change of mode), and its poll says so for the log. */
START_TEST(takeover_holds_until_the_transmitter_is_idle)
{
    struct rtv_uart_io io = { .in = erring_in, .out = erring_out, .ctx = &uart };
    struct rtv_iov_out done;
    uint8_t b;

    rtv_uart_mode_set(&uart, &(struct rtv_uart_mode){
        .divisor = 1, .lcr = UART_LCR_WLEN8, .fcr = UART_FCR_ENABLE_FIFO });
    rtv_uart_dm_init(&dm, &io, &ops, &machine, (struct rtv_uart_dm_own){ .fcr = UART_FCR_ENABLE_FIFO },
                     UART_FCR_ENABLE_FIFO);
    rtv_uart_write(&uart, UART_TX, 'q');      /* the guest's last byte, not sent yet */
    ask("virtualize");
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert(!done.finished);
    ck_assert_int_eq(dm.iov.phase, RTV_IOV_HOLD);
    ck_assert_contains(done.note, "boundary after ");
    ck_assert_contains(done.note, "holding");
    ck_assert(rtv_uart_tx_pop(&uart, &b));     /* the line takes it */
    rtv_uart_tx_done(&uart);
    rtv_uart_dm_poll(&dm, now, &done);
    ck_assert(done.finished);
    ck_assert_int_eq(dm.iov.mode, RTV_IOV_VIRTUALIZED);
}
END_TEST

/* ---- Linux's 8250 driver, polled, under a receive backlog ------------ */

/*
 * What the lab's guest runs on ttyS1 (Linux 6.1's 8250 with irq 0, as in
 * the 00:19 `ioemu` flight): its poll timer calls the interrupt handler,
 * which reads IIR and stops at "no interrupt"; otherwise LSR, then its
 * receive loop (RBR, LSR, while DR, at most 256 bytes), MSR, and, if THRE
 * and its IER has THRI, up to 16 bytes into THR (THRI cleared in IER when
 * the tty's buffer is empty, set again by a write).  The host feeds faster
 * than a trapped guest reads (a backlog: the UART is refilled whenever it
 * has room), and the guest's writer keeps its 4 KiB tty buffer full.  The
 * flight's `stty 57600 cs7 parenb -parodd` while virtualized is TCSADRAIN:
 * the buffer must drain (the writer held off) before set_termios writes
 * IER, LCR|DLAB, DLL, DLM, LCR, FCR.  One access per tick; the lab's bound
 * for it was 60 s at ~1.2 ms per trapped access (11516 in 13.4 s in the
 * flight's trace), about 50000 accesses.
 */
#define LX_XMIT      4096u
#define LX_RX_BOUND  256u
#define LX_STTY_MAX_ACCESSES 50000u

static struct {
    uint8_t  ier;
    unsigned xmit;                       /* bytes in the tty's buffer */
    bool     writer;                     /* refills it */
    bool     feeding;                    /* the host sends */
    size_t   queued, rx_len;
    uint64_t accesses, rounds, rounds_at_bound, rx_in_rounds;
    bool     waiting;
    uint32_t held;
} lx;
static size_t lx_host_got;

static void lx_answer(void *ctx, uint64_t cookie, uint32_t value)
{
    ck_assert_ptr_eq(ctx, &machine);
    ck_assert_uint_eq(cookie, 1);
    ck_assert(lx.waiting);
    lx.waiting = false;
    lx.held = value;
}

static const struct rtv_uart_dm_ops lx_ops = { .trap = trap, .answer = lx_answer, .now_us = clock_now };

/* The line: bytes out taken as they come, bytes in whenever there is room. */
static void lx_tick(void)
{
    struct rtv_iov_out done;
    uint8_t b;

    now += TICK_US;
    rtv_uart_tx_done(&uart);
    while (rtv_uart_tx_pop(&uart, &b)) {
        ck_assert_msg(b == guest_byte(lx_host_got), "host byte %zu: %#x", lx_host_got, b);
        lx_host_got++;
        rtv_uart_tx_done(&uart);
    }
    if (lx.feeding && uart.rx.count < RTV_UART_FIFO)
        rtv_uart_rx_push(&uart, host_byte(host_fed++));
    rtv_uart_dm_poll(&dm, now, &done);
    finish(&done);
}

static uint8_t lx_access(unsigned off, int dir, uint8_t v)
{
    struct rtv_ioseq_access a = { .offset = (uint16_t)off, .dir = (uint8_t)dir, .size = 1, .value = v };
    uint32_t r = v;

    lx.accesses++;
    if (!dm.trapped) {
        if (dir == RTV_IOSEQ_READ)
            r = rtv_uart_read(&uart, off);
        else
            rtv_uart_write(&uart, off, v);
    } else {
        switch (rtv_uart_dm_access(&dm, &a, 1, &r)) {
        case RTV_UART_DM_ANSWERED:
            break;
        case RTV_UART_DM_HELD:
            lx.waiting = true;
            for (unsigned i = 0; i < 100000 && lx.waiting; i++)
                lx_tick();
            ck_assert(!lx.waiting);
            r = lx.held;
            break;
        case RTV_UART_DM_RETRY:
            ck_abort_msg("one vCPU cannot fill the log");
        }
    }
    lx_tick();
    return (uint8_t)r;
}

static uint8_t lx_in(unsigned off) { return lx_access(off, RTV_IOSEQ_READ, 0); }
static void lx_out(unsigned off, uint8_t v) { lx_access(off, RTV_IOSEQ_WRITE, v); }

static void lx_writer(void)
{
    if (!lx.writer || lx.xmit == LX_XMIT)
        return;
    lx.xmit = LX_XMIT;                   /* uart_write, then start_tx */
    if (!(lx.ier & UART_IER_THRI)) {
        lx.ier |= UART_IER_THRI;
        lx_out(UART_IER, lx.ier);
    }
}

static void lx_round(void)
{
    uint8_t lsr;
    unsigned n = 0;

    lx_writer();
    if (lx_in(UART_IIR) & UART_IIR_NO_INT)
        return;
    lx.rounds++;
    lsr = lx_in(UART_LSR);
    if (lsr & (UART_LSR_DR | UART_LSR_BI)) {
        do {
            uint8_t b = lx_in(UART_RX);

            ck_assert_msg(b == host_byte(lx.rx_len), "guest byte %zu: %#x", lx.rx_len, b);
            lx.rx_len++;
            if (++n == LX_RX_BOUND)
                break;
            lsr = lx_in(UART_LSR);
        } while (lsr & (UART_LSR_DR | UART_LSR_BI));
    }
    lx.rounds_at_bound += n == LX_RX_BOUND;
    lx.rx_in_rounds += n;
    lx_in(UART_MSR);
    if (!(lsr & UART_LSR_THRE) || !(lx.ier & UART_IER_THRI))
        return;
    for (unsigned count = 16; lx.xmit && count; count--) {
        lx_out(UART_TX, guest_byte(lx.queued++));
        lx.xmit--;
    }
    if (lx.xmit == 0) {
        lx.ier &= (uint8_t)~UART_IER_THRI;   /* __stop_tx */
        lx_out(UART_IER, lx.ier);
    }
}

static void lx_until_stable(void)
{
    for (unsigned i = 0; i < 10000 && dm.iov.phase != RTV_IOV_STABLE; i++)
        lx_round();
    ck_assert_int_eq(dm.iov.phase, RTV_IOV_STABLE);
}

START_TEST(linux_polled_8250_sends_and_sets_the_line_under_a_receive_backlog)
{
    struct rtv_uart_io io = rtv_uart_model_io(&uart);
    uint64_t a0;

    memset(&lx, 0, sizeof(lx));
    lx_host_got = 0;
    rtv_uart_dm_init(&dm, &io, &lx_ops, &machine,
                     (struct rtv_uart_dm_own){ .ier = 0, .mcr = UART_MCR_DTR | UART_MCR_RTS,
                                               .fcr = UART_FCR_ENABLE_FIFO | UART_FCR_R_TRIG_10 },
                     UART_FCR_R_TRIG_11);
    /* Its startup and set_termios for 115200 8N1, direct. */
    lx_out(UART_LCR, UART_LCR_WLEN8 | UART_LCR_DLAB);
    lx_out(UART_DLL, 1);
    lx_out(UART_DLM, 0);
    lx_out(UART_LCR, UART_LCR_WLEN8);
    lx_out(UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_R_TRIG_10);
    lx_out(UART_MCR, UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT2);
    lx.ier = UART_IER_RLSI | UART_IER_RDI;
    lx_out(UART_IER, lx.ier);
    lx.writer = lx.feeding = true;

    ask("virtualize");
    lx_until_stable();
    ck_assert_int_eq(dm.iov.mode, RTV_IOV_VIRTUALIZED);

    /* Virtualized, with bytes always waiting: both ways move. */
    lx.rounds = lx.rounds_at_bound = lx.rx_in_rounds = 0;
    a0 = lx.accesses;
    size_t rx0 = lx.rx_len, tx0 = lx_host_got;

    while (lx.accesses - a0 < 20000)
        lx_round();
    if (getenv("RTV_UART_DM_STATS"))
        fprintf(stderr, "linux polled: %llu rounds (%llu at the 256 bound), %zu in, %zu out "
                "in %llu accesses\n", (unsigned long long)lx.rounds,
                (unsigned long long)lx.rounds_at_bound, lx.rx_len - rx0, lx_host_got - tx0,
                (unsigned long long)(lx.accesses - a0));
    ck_assert_uint_eq(lx.rounds_at_bound, 0);
    ck_assert_uint_le(lx.rx_in_rounds, lx.rounds * RTV_UART_FIFO);
    ck_assert_uint_ge((lx_host_got - tx0) * 2, lx.rx_len - rx0);   /* out keeps up with in */
    ck_assert_uint_gt(lx.rx_len - rx0, 0);

    /* stty 57600 cs7 parenb -parodd: drain (bounded), then set_termios. */
    lx.writer = false;
    a0 = lx.accesses;
    while (lx.xmit || !(lx_in(UART_LSR) & UART_LSR_TEMT)) {
        ck_assert_msg(lx.accesses - a0 < LX_STTY_MAX_ACCESSES,
                      "stty still draining after %u accesses: %u bytes left",
                      LX_STTY_MAX_ACCESSES, lx.xmit);
        lx_round();
    }
    lx_out(UART_IER, lx.ier);
    lx_out(UART_LCR, UART_LCR_WLEN7 | UART_LCR_PARITY | UART_LCR_EPAR | UART_LCR_DLAB);
    lx_out(UART_DLL, 2);
    lx_out(UART_DLM, 0);
    lx_out(UART_LCR, UART_LCR_WLEN7 | UART_LCR_PARITY | UART_LCR_EPAR);
    lx_out(UART_FCR, UART_FCR_ENABLE_FIFO);
    lx_out(UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_R_TRIG_10);
    lx.writer = true;
    for (unsigned i = 0; i < 20; i++)
        lx_round();
    ck_assert_uint_eq(uart.dll | uart.dlm << 8, 2);    /* on the line while virtualized */
    ck_assert_uint_eq(uart.lcr, 0x1a);

    ask("devirtualize");
    lx_until_stable();
    ck_assert_int_eq(dm.iov.mode, RTV_IOV_DIRECT);
    ck_assert_uint_eq(dm.iov.resets, 0);
    ck_assert_uint_eq(uart.dll | uart.dlm << 8, 2);
    ck_assert_uint_eq(uart.lcr, 0x1a);
    ck_assert_uint_eq(uart.fcr, UART_FCR_ENABLE_FIFO | UART_FCR_R_TRIG_10);
    ck_assert_uint_eq(uart.rx_overruns + dm.model.rx_overruns, 0);
}
END_TEST

RTV_UNIT_ONE_CASE_SUITE(uart_dm_suite, "uart_dm", "simulation", setup, NULL, 30,
                        bytes_cross_once_in_order_through_random_cycles, mid_divisor_change_waits,
                        held_guest_reads_the_side_that_answers,
                        takeover_and_handback_carry_the_guest_state,
                        held_time_counts_the_work_on_the_uart,
                        takeover_keeps_an_error_that_comes_while_it_reads_the_fifo,
                        takeover_takes_no_more_than_the_model_holds, bound_passed_resets_the_uart,
                        line_settings_follow_the_guest_while_virtualized,
                        ioemu_writes_a_whole_fifo_per_thre, driver_carries_line_errors_to_the_guest,
                        driver_fills_the_fifo_and_no_more,
                        driver_without_fifo_writes_one_byte_per_thre,
                        driver_pulls_only_what_the_model_holds,
                        driver_loads_again_once_the_guest_saw_the_fifo_empty,
                        every_takeover_starts_its_own_receive_load,
                        driver_counts_the_empty_bound_from_its_own_look,
                        driver_times_the_fifo_out_when_nothing_came,
                        driver_changes_line_settings_only_between_bytes,
                        takeover_holds_until_the_transmitter_is_idle,
                        irq_is_the_model_s_only_while_virtualized,
                        linux_polled_8250_sends_and_sets_the_line_under_a_receive_backlog)

RTV_UNIT_MAIN(uart_dm_suite)
