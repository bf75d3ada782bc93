/*
 * Runtime (de)virtualization decisions: take over only at a boundary, hold
 * with busy answers and a log, bounded waits ending in a device reset, log
 * replay in arrival order, rollback of a failed change, repeated cycles.
 * Mostly on the seeds' idealized device; the 16550's divisor sequence for
 * the case the lab flight shows.
 */
#include <errno.h>
#include <linux/serial_reg.h>

#include "csr_device.h"
#include "rtvirt/iovirt.h"
#include "rtvirt/uart16550.h"
#include "unit.h"

#define BOUND_MS 100u
#define MS 1000u

static struct rtv_iov v;
static struct rtv_iov_logent logbuf[8];
static struct rtv_iov_out out;
static uint64_t now;

static void setup(void)
{
    memset(&v, 0xa5, sizeof(v));         /* init must not rely on zeroes */
    rtv_iov_init(&v, &csr_table, RTV_IOV_DIRECT, logbuf, 8);
    memset(&out, 0, sizeof(out));
    now = 5000000;
}

/* An access the verdict says to carry out now, carried out and fed back. */
static enum rtv_iov_verdict access(struct rtv_ioseq_access a, uint64_t cookie)
{
    enum rtv_iov_verdict vd = rtv_iov_route(&v, &a, cookie);

    if (vd == RTV_IOV_PASS || vd == RTV_IOV_EMULATE)
        rtv_iov_seen(&v, &a);
    return vd;
}

static void poll(uint64_t advance_us, bool drained)
{
    now += advance_us;
    rtv_iov_poll(&v, now, RTV_IOV_READY | (drained ? RTV_IOV_DRAINED : 0), &out);
}

/* A change asked for; a virtualize's probe finds the device in `start`. */
static void request(enum rtv_iov_mode target, unsigned start)
{
    ck_assert_int_eq(rtv_iov_request(&v, target, now, BOUND_MS, &out), 0);
    if (target == RTV_IOV_VIRTUALIZED) {
        ck_assert_uint_eq(out.actions, RTV_IOV_ACT_TRAP);
        ck_assert_int_eq(rtv_iov_probed(&v, start, &out), 0);
    } else {
        ck_assert_uint_eq(out.actions, 0);   /* already trapped */
    }
}

/* REPLAY until done: the cookies replayed, in order, into got[]. */
static unsigned replay_all(uint64_t *got, unsigned cap)
{
    struct rtv_iov_logent e;
    unsigned n = 0;

    ck_assert(out.actions & RTV_IOV_ACT_REPLAY);
    while (rtv_iov_replay_next(&v, now, &e, &out)) {
        ck_assert_uint_lt(n, cap);
        got[n++] = e.cookie;
        rtv_iov_seen(&v, &e.a);
    }
    ck_assert(out.finished);
    return n;
}

/* CHANGE carried out, nothing logged: finish the change. */
static void change_ok_no_log(void)
{
    uint64_t none[1];

    rtv_iov_changed(&v, true, NULL, &out);
    ck_assert_uint_eq(replay_all(none, 1), 0);
    ck_assert_str_eq(out.result, "ok");
}

static void virtualize_now(void)
{
    request(RTV_IOV_VIRTUALIZED, ST_START);
    poll(0, true);
    ck_assert_uint_eq(out.actions, RTV_IOV_ACT_TAKE_OVER);
    change_ok_no_log();
}

START_TEST(virtualize_at_a_boundary)
{
    ck_assert_str_eq(rtv_iov_state_name(&v), "direct");
    ck_assert_int_eq(rtv_iov_request(&v, RTV_IOV_VIRTUALIZED, now, BOUND_MS, &out), 0);
    ck_assert_uint_eq(out.actions, RTV_IOV_ACT_TRAP);
    ck_assert_contains(out.note, "trapping, then probing");
    ck_assert_int_eq(rtv_iov_probed(&v, ST_START, &out), 0);
    ck_assert_uint_eq(out.actions, 0);
    ck_assert_contains(out.note, "virtualized: seeking a sequence boundary from start");
    ck_assert_str_eq(rtv_iov_state_name(&v), "virtualizing");
    ck_assert_int_eq(v.phase, RTV_IOV_SEEK);
    poll(10, true);
    ck_assert_uint_eq(out.actions, RTV_IOV_ACT_TAKE_OVER);
    ck_assert_int_eq(v.phase, RTV_IOV_CHANGE);
    ck_assert_str_eq(rtv_iov_state_name(&v), "virtualizing");
    poll(1, true);                       /* asked once, not again */
    ck_assert_uint_eq(out.actions, 0);
    ck_assert_str_eq(out.note, "");
    rtv_iov_changed(&v, true, NULL, &out);
    ck_assert_uint_eq(out.actions, RTV_IOV_ACT_REPLAY);
    ck_assert_int_eq(rtv_iov_replay_path(&v), RTV_IOV_EMULATE);
    uint64_t none[1];
    ck_assert_uint_eq(replay_all(none, 1), 0);
    ck_assert_str_eq(out.result, "ok");
    ck_assert_uint_eq(out.actions, 0);      /* stays trapped */
    ck_assert_int_eq(v.mode, RTV_IOV_VIRTUALIZED);
    ck_assert_str_eq(rtv_iov_state_name(&v), "virtualized");
    ck_assert_uint_eq(v.changes, 1);
    ck_assert_uint_eq(v.seek_us, 10);
    /* Virtualized: every access is emulated and followed. */
    ck_assert_int_eq(access(csr_w(CSR_A, 1), 0), RTV_IOV_EMULATE);
    ck_assert_str_eq(rtv_ioseq_state_name(&v.seq), "address-written");
}
END_TEST

START_TEST(virtualize_waits_for_the_running_sequence)
{
    /* The probe found the device between B and C. */
    request(RTV_IOV_VIRTUALIZED, ST_B);
    ck_assert_contains(out.note, "from length-written");
    poll(1 * MS, true);
    ck_assert_uint_eq(out.actions, 0);
    ck_assert_int_eq(v.phase, RTV_IOV_SEEK);
    /* The guest's sequence finishes on the real device. */
    ck_assert_int_eq(access(csr_r(CSR_STATUS, CSR_READY), 0), RTV_IOV_PASS);
    poll(1 * MS, true);
    ck_assert_uint_eq(out.actions, 0);
    ck_assert_int_eq(access(csr_w(CSR_C, 9), 0), RTV_IOV_PASS);
    poll(1 * MS, true);
    ck_assert_uint_eq(out.actions, RTV_IOV_ACT_TAKE_OVER);
    ck_assert_contains(out.note, "boundary after 3000 us");
    ck_assert_uint_eq(v.seek_us, 3 * MS);
    change_ok_no_log();
    ck_assert(!v.reset);
    ck_assert_uint_eq(v.resets, 0);
}
END_TEST

START_TEST(seek_bound_resets_the_device)
{
    request(RTV_IOV_VIRTUALIZED, ST_A);
    poll(BOUND_MS * MS - 1, true);
    ck_assert_uint_eq(out.actions, 0);
    poll(1, true);
    ck_assert_uint_eq(out.actions, RTV_IOV_ACT_RESET | RTV_IOV_ACT_TAKE_OVER);
    ck_assert_contains(v.why, "no sequence boundary within 100 ms (in address-written): device reset");
    ck_assert_contains(out.note, "device reset");
    ck_assert(rtv_ioseq_at_boundary(&v.seq));
    ck_assert_str_eq(rtv_ioseq_state_name(&v.seq), "start");
    ck_assert_uint_eq(v.resets, 1);
    change_ok_no_log();
    ck_assert(v.reset);
    ck_assert_contains(out.note, "device reset");
}
END_TEST

START_TEST(hold_answers_busy_and_logs_then_replays_in_order)
{
    uint64_t got[8];

    request(RTV_IOV_VIRTUALIZED, ST_START);
    poll(0, false);                      /* at a boundary, not drained */
    ck_assert_uint_eq(out.actions, 0);
    ck_assert_int_eq(v.phase, RTV_IOV_HOLD);
    /* The card looks busy; a new send is logged; SCRATCH opens nothing
     * and goes on to the real device. */
    ck_assert_int_eq(access(csr_r(CSR_STATUS, 0), 1), RTV_IOV_BUSY);
    ck_assert_int_eq(access(csr_w(CSR_A, 0x10), 2), RTV_IOV_LOGGED);
    ck_assert_int_eq(access(csr_w(CSR_SCRATCH, 3), 3), RTV_IOV_PASS);
    ck_assert_int_eq(access(csr_r(CSR_SCRATCH, 3), 4), RTV_IOV_PASS);
    ck_assert_int_eq(access(csr_w(CSR_B, 0x20), 5), RTV_IOV_PASS);
    ck_assert(rtv_ioseq_at_boundary(&v.seq));
    poll(2 * MS, false);
    ck_assert_uint_eq(out.actions, 0);
    poll(1 * MS, true);
    ck_assert_uint_eq(out.actions, RTV_IOV_ACT_TAKE_OVER);
    /* While the change runs everything but busy reads is logged. */
    ck_assert_int_eq(access(csr_w(CSR_B, 0x40), 6), RTV_IOV_LOGGED);
    ck_assert_int_eq(access(csr_r(CSR_STATUS, 0), 7), RTV_IOV_BUSY);
    rtv_iov_changed(&v, true, NULL, &out);
    /* During replay, a new access goes behind the log. */
    ck_assert_int_eq(access(csr_w(CSR_C, 0x30), 8), RTV_IOV_LOGGED);
    now += 500;
    ck_assert_uint_eq(replay_all(got, 8), 3);
    ck_assert_uint_eq(got[0], 2);
    ck_assert_uint_eq(got[1], 6);
    ck_assert_uint_eq(got[2], 8);
    ck_assert_str_eq(out.result, "ok");
    ck_assert_uint_eq(v.busy, 2);
    ck_assert_uint_eq(v.logged, 3);
    ck_assert_uint_eq(v.replayed, 3);
    ck_assert_uint_eq(v.held_us, 3 * MS + 500);
    /* The replay was fed to the engine: A, B, C, one whole send. */
    ck_assert_str_eq(rtv_ioseq_state_name(&v.seq), "sent");
    ck_assert_uint_eq(v.seq.sequences, 1);
    ck_assert_contains(out.note, "held 3500 us, 2 busy, 3 logged, 3 replayed");
}
END_TEST

START_TEST(seek_waits_until_ready)
{
    request(RTV_IOV_VIRTUALIZED, ST_START);
    rtv_iov_poll(&v, now, RTV_IOV_DRAINED, &out);      /* at a boundary, not ready */
    ck_assert_uint_eq(out.actions, 0);
    ck_assert_int_eq(v.phase, RTV_IOV_SEEK);
    now += 5;
    rtv_iov_poll(&v, now, RTV_IOV_READY, &out);
    ck_assert_int_eq(v.phase, RTV_IOV_HOLD);
    ck_assert_uint_eq(v.seek_us, 5);
}
END_TEST

START_TEST(seek_bound_resets_a_device_never_ready)
{
    request(RTV_IOV_VIRTUALIZED, ST_START);
    now += BOUND_MS * MS - 1;
    rtv_iov_poll(&v, now, RTV_IOV_DRAINED, &out);
    ck_assert_uint_eq(out.actions, 0);
    now += 1;
    rtv_iov_poll(&v, now, RTV_IOV_DRAINED, &out);
    ck_assert_uint_eq(out.actions, RTV_IOV_ACT_RESET | RTV_IOV_ACT_TAKE_OVER);
    ck_assert_contains(v.why, "device not ready within 100 ms (in start)");
}
END_TEST

START_TEST(hold_bound_resets_the_device)
{
    request(RTV_IOV_VIRTUALIZED, ST_START);
    poll(0, false);
    poll(BOUND_MS * MS - 1, false);
    ck_assert_uint_eq(out.actions, 0);
    poll(1, false);
    ck_assert_uint_eq(out.actions, RTV_IOV_ACT_RESET | RTV_IOV_ACT_TAKE_OVER);
    ck_assert_contains(v.why, "device not drained within 100 ms");
    ck_assert_uint_eq(v.resets, 1);
}
END_TEST

START_TEST(each_wait_has_its_own_bound)
{
    /* SEEK uses most of its bound; HOLD still gets a full one. */
    request(RTV_IOV_VIRTUALIZED, ST_A);
    poll(BOUND_MS * MS - 10, false);
    access(csr_w(CSR_B, 1), 0);
    access(csr_w(CSR_C, 1), 0);
    poll(5, false);
    ck_assert_int_eq(v.phase, RTV_IOV_HOLD);
    poll(BOUND_MS * MS - 1, false);
    ck_assert_uint_eq(out.actions, 0);
    poll(1, false);
    ck_assert_uint_eq(out.actions, RTV_IOV_ACT_RESET | RTV_IOV_ACT_TAKE_OVER);
}
END_TEST

START_TEST(failed_takeover_rolls_back_on_the_real_device)
{
    uint64_t got[4];

    request(RTV_IOV_VIRTUALIZED, ST_START);
    poll(0, true);
    ck_assert_int_eq(access(csr_w(CSR_A, 1), 11), RTV_IOV_LOGGED);
    rtv_iov_changed(&v, false, "mapping the ports: Operation not permitted", &out);
    ck_assert_uint_eq(out.actions, RTV_IOV_ACT_REPLAY);
    ck_assert_int_eq(rtv_iov_replay_path(&v), RTV_IOV_PASS);
    ck_assert_uint_eq(replay_all(got, 4), 1);
    ck_assert_uint_eq(got[0], 11);
    ck_assert_str_eq(out.result, "rolled-back");
    ck_assert_uint_eq(out.actions, RTV_IOV_ACT_UNTRAP);
    ck_assert_int_eq(v.mode, RTV_IOV_DIRECT);
    ck_assert_str_eq(rtv_iov_state_name(&v), "direct");
    ck_assert_contains(v.why, "Operation not permitted");
    ck_assert_contains(out.note, "Operation not permitted");
    ck_assert_uint_eq(v.rollbacks, 1);
    ck_assert_uint_eq(v.changes, 0);
    ck_assert_int_eq(v.target, RTV_IOV_DIRECT);
    /* And it can be asked again, and succeed. */
    request(RTV_IOV_VIRTUALIZED, ST_START);
    ck_assert_str_eq(v.why, "");
    poll(0, true);
    change_ok_no_log();
    ck_assert_int_eq(v.mode, RTV_IOV_VIRTUALIZED);
}
END_TEST

START_TEST(failed_restore_stays_virtualized)
{
    uint64_t got[4];

    virtualize_now();
    request(RTV_IOV_DIRECT, 0);
    poll(0, true);
    ck_assert_uint_eq(out.actions, RTV_IOV_ACT_RESTORE);
    ck_assert_int_eq(access(csr_w(CSR_A, 1), 31), RTV_IOV_LOGGED);
    rtv_iov_changed(&v, false, NULL, &out);
    ck_assert_int_eq(rtv_iov_replay_path(&v), RTV_IOV_EMULATE);
    ck_assert_uint_eq(replay_all(got, 4), 1);
    ck_assert_uint_eq(got[0], 31);
    ck_assert_str_eq(out.result, "rolled-back");
    ck_assert_uint_eq(out.actions, 0);       /* still trapped */
    ck_assert_int_eq(v.mode, RTV_IOV_VIRTUALIZED);
    ck_assert_str_eq(v.why, "change failed");
    /* The replayed A went into the emulation's engine. */
    ck_assert_str_eq(rtv_ioseq_state_name(&v.seq), "address-written");
}
END_TEST

START_TEST(devirtualize_waits_for_the_boundary_and_untraps)
{
    uint64_t got[4];

    virtualize_now();
    ck_assert_int_eq(access(csr_w(CSR_A, 1), 0), RTV_IOV_EMULATE);
    request(RTV_IOV_DIRECT, 0);
    ck_assert_str_eq(rtv_iov_state_name(&v), "devirtualizing");
    ck_assert_contains(out.note, "from address-written");
    poll(1 * MS, true);
    ck_assert_uint_eq(out.actions, 0);
    ck_assert_int_eq(access(csr_w(CSR_B, 2), 0), RTV_IOV_EMULATE);
    ck_assert_int_eq(access(csr_w(CSR_C, 3), 0), RTV_IOV_EMULATE);
    poll(1 * MS, false);
    ck_assert_uint_eq(out.actions, 0);
    ck_assert_int_eq(access(csr_w(CSR_A, 4), 21), RTV_IOV_LOGGED);
    ck_assert_int_eq(access(csr_w(CSR_SCRATCH, 4), 22), RTV_IOV_EMULATE);
    poll(1 * MS, true);
    ck_assert_uint_eq(out.actions, RTV_IOV_ACT_RESTORE);
    ck_assert_int_eq(access(csr_w(CSR_B, 5), 23), RTV_IOV_LOGGED);
    rtv_iov_changed(&v, true, NULL, &out);
    ck_assert_int_eq(rtv_iov_replay_path(&v), RTV_IOV_PASS);
    ck_assert_uint_eq(replay_all(got, 4), 2);
    ck_assert_uint_eq(got[0], 21);
    ck_assert_uint_eq(got[1], 23);
    ck_assert_str_eq(out.result, "ok");
    ck_assert_uint_eq(out.actions, RTV_IOV_ACT_UNTRAP);
    ck_assert_int_eq(v.mode, RTV_IOV_DIRECT);
    ck_assert_uint_eq(v.seek_us, 2 * MS);
    ck_assert_uint_eq(v.held_us, 1 * MS);
}
END_TEST

START_TEST(cycles_repeat)
{
    for (int i = 0; i < 10; i++) {
        virtualize_now();
        access(csr_w(CSR_A, 1), 0);
        request(RTV_IOV_DIRECT, 0);
        access(csr_w(CSR_B, 1), 0);
        access(csr_w(CSR_C, 1), 0);
        poll(1, true);
        ck_assert_uint_eq(out.actions, RTV_IOV_ACT_RESTORE);
        change_ok_no_log();
        ck_assert_uint_eq(out.actions, RTV_IOV_ACT_UNTRAP);
    }
    ck_assert_uint_eq(v.changes, 20);
    ck_assert_uint_eq(v.resets + v.rollbacks, 0);
}
END_TEST

/* The figures describe the last change only. */
START_TEST(stats_are_per_change)
{
    uint64_t got[4];

    request(RTV_IOV_VIRTUALIZED, ST_A);
    poll(BOUND_MS * MS, true);
    ck_assert_uint_eq(out.actions, RTV_IOV_ACT_RESET | RTV_IOV_ACT_TAKE_OVER);
    ck_assert_int_eq(access(csr_w(CSR_A, 1), 1), RTV_IOV_LOGGED);
    ck_assert_int_eq(access(csr_r(CSR_STATUS, 0), 2), RTV_IOV_BUSY);
    rtv_iov_changed(&v, true, NULL, &out);
    ck_assert_uint_eq(replay_all(got, 4), 1);
    ck_assert(v.reset);
    ck_assert_uint_eq(v.logged + v.busy + v.replayed, 3);

    request(RTV_IOV_DIRECT, 0);
    access(csr_w(CSR_B, 1), 0);              /* the replayed A's send goes on */
    access(csr_w(CSR_C, 1), 0);
    poll(10, true);
    ck_assert_uint_eq(out.actions, RTV_IOV_ACT_RESTORE);
    ck_assert_str_eq(out.note, "boundary after 10 us; holding");
    rtv_iov_changed(&v, true, NULL, &out);
    ck_assert_uint_eq(replay_all(got, 4), 0);
    ck_assert_str_eq(out.note, "direct (ok): sought 10 us, held 0 us, 0 busy, 0 logged, 0 replayed");
    ck_assert(!v.reset);
    ck_assert_uint_eq(v.logged + v.busy + v.replayed, 0);
    ck_assert_uint_eq(v.seek_us, 10);
    ck_assert_uint_eq(v.held_us, 0);
    ck_assert_uint_eq(v.resets, 1);
    ck_assert_uint_eq(v.changes, 2);
}
END_TEST

START_TEST(requests_refused)
{
    ck_assert_int_eq(rtv_iov_request(&v, RTV_IOV_DIRECT, now, BOUND_MS, &out), -EALREADY);
    ck_assert_str_eq(v.why, "already direct");
    ck_assert_int_eq(v.phase, RTV_IOV_STABLE);
    ck_assert_int_eq(rtv_iov_probed(&v, ST_START, &out), -EINVAL);
    ck_assert_str_eq(v.why, "no probe awaited");
    ck_assert_int_eq(rtv_iov_request(&v, RTV_IOV_VIRTUALIZED, now, BOUND_MS, &out), 0);
    ck_assert_int_eq(rtv_iov_probed(&v, 4, &out), -EINVAL);
    ck_assert_str_eq(v.why, "probed state 4: csr-abc has 4 states");
    ck_assert_int_eq(rtv_iov_probed(&v, ST_A, &out), 0);
    ck_assert_int_eq(rtv_iov_probed(&v, ST_A, &out), -EINVAL);   /* once */
    ck_assert_int_eq(rtv_iov_request(&v, RTV_IOV_DIRECT, now, BOUND_MS, &out), -EBUSY);
    ck_assert_str_eq(v.why, "a change to virtualized is running");
    ck_assert_uint_eq(out.actions, 0);
    ck_assert_int_eq(v.phase, RTV_IOV_SEEK);
    /* A report nobody asked for changes nothing. */
    rtv_iov_changed(&v, true, NULL, &out);
    ck_assert_uint_eq(out.actions, 0);
    ck_assert_int_eq(v.phase, RTV_IOV_SEEK);
    struct rtv_iov_logent e;
    ck_assert(!rtv_iov_replay_next(&v, now, &e, &out));
    ck_assert(!out.finished);
}
END_TEST

START_TEST(full_log_keeps_the_access_pending)
{
    rtv_iov_init(&v, &csr_table, RTV_IOV_DIRECT, logbuf, 1);
    request(RTV_IOV_VIRTUALIZED, ST_START);
    poll(0, true);
    ck_assert_int_eq(access(csr_w(CSR_A, 1), 1), RTV_IOV_LOGGED);
    ck_assert_int_eq(access(csr_w(CSR_B, 1), 2), RTV_IOV_LOG_FULL);
    ck_assert_uint_eq(v.logged, 1);
}
END_TEST

/* The lab's case: a cycle started in the guest's divisor sequence. */
START_TEST(uart_devirtualize_mid_divisor)
{
    struct rtv_ioseq_access lcr_dlab = { UART_LCR, RTV_IOSEQ_WRITE, 1, 0x83 };
    struct rtv_ioseq_access dll = { UART_DLL, RTV_IOSEQ_WRITE, 1, 0x01 };
    struct rtv_ioseq_access dlm = { UART_DLM, RTV_IOSEQ_WRITE, 1, 0x00 };
    struct rtv_ioseq_access lcr = { UART_LCR, RTV_IOSEQ_WRITE, 1, 0x03 };
    struct rtv_ioseq_access lsr = { UART_LSR, RTV_IOSEQ_READ, 1, 0 };
    struct rtv_ioseq_access thr = { UART_TX, RTV_IOSEQ_WRITE, 1, 'a' };

    rtv_iov_init(&v, &rtv_uart16550_seq, RTV_IOV_VIRTUALIZED, logbuf, 8);
    ck_assert_int_eq(access(lcr_dlab, 0), RTV_IOV_EMULATE);
    request(RTV_IOV_DIRECT, 0);
    ck_assert_contains(out.note, "from dlab-set");
    poll(0, true);
    ck_assert_uint_eq(out.actions, 0);
    /* Mid-sequence nothing is busy: LSR is the model's. */
    ck_assert_int_eq(access(lsr, 0), RTV_IOV_EMULATE);
    access(dll, 0);
    access(dlm, 0);
    poll(0, true);
    ck_assert_uint_eq(out.actions, 0);
    access(lcr, 0);
    poll(0, false);
    ck_assert_int_eq(v.phase, RTV_IOV_HOLD);
    ck_assert_contains(out.note, "boundary after");
    /* Held: LSR busy, the THR write opens nothing and goes on. */
    ck_assert_int_eq(access(lsr, 0), RTV_IOV_BUSY);
    ck_assert_int_eq(access(thr, 0), RTV_IOV_EMULATE);
    ck_assert_int_eq(access(lcr_dlab, 1), RTV_IOV_LOGGED);
    poll(0, true);
    ck_assert_uint_eq(out.actions, RTV_IOV_ACT_RESTORE);
}
END_TEST

/* A guest whose interrupt rounds follow each other (Linux's polled 8250
 * handler under a steady stream never reads "no interrupt"): the boundary
 * is just before its next IIR read, which is answered busy and opens
 * nothing; the change then goes on.  Reads that stay in the round go on
 * on the old path. */
START_TEST(seek_finds_the_boundary_before_the_next_interrupt_round)
{
    struct rtv_ioseq_access iir = { UART_IIR, RTV_IOSEQ_READ, 1, 0xc4 };
    struct rtv_ioseq_access lsr = { UART_LSR, RTV_IOSEQ_READ, 1, 0x61 };
    struct rtv_ioseq_access rbr = { UART_RX, RTV_IOSEQ_READ, 1, 'x' };

    rtv_iov_init(&v, &rtv_uart16550_seq, RTV_IOV_VIRTUALIZED, logbuf, 8);
    ck_assert_int_eq(access(iir, 0), RTV_IOV_EMULATE);
    request(RTV_IOV_DIRECT, 0);
    ck_assert_contains(out.note, "from interrupt-service");
    poll(0, true);
    ck_assert_uint_eq(out.actions, 0);
    ck_assert_int_eq(access(lsr, 0), RTV_IOV_EMULATE);
    ck_assert_int_eq(access(rbr, 0), RTV_IOV_EMULATE);
    ck_assert_int_eq(v.phase, RTV_IOV_SEEK);
    ck_assert_int_eq(access(iir, 0), RTV_IOV_BUSY);
    ck_assert_uint_eq(v.busy, 1);
    ck_assert(rtv_ioseq_at_boundary(&v.seq));
    poll(0, true);
    ck_assert_uint_eq(out.actions, RTV_IOV_ACT_RESTORE);
    ck_assert(!v.reset);
}
END_TEST

/* A read that closes its sequence but has no busy answer (RBR after an
 * LSR that showed data) is the guest's byte: it is carried out. */
START_TEST(seek_carries_out_a_closing_read_with_no_busy_answer)
{
    struct rtv_ioseq_access lsr = { UART_LSR, RTV_IOSEQ_READ, 1, 0x61 };
    struct rtv_ioseq_access rbr = { UART_RX, RTV_IOSEQ_READ, 1, 'x' };

    rtv_iov_init(&v, &rtv_uart16550_seq, RTV_IOV_VIRTUALIZED, logbuf, 8);
    ck_assert_int_eq(access(lsr, 0), RTV_IOV_EMULATE);
    request(RTV_IOV_DIRECT, 0);
    ck_assert_contains(out.note, "from rx-ready");
    ck_assert_int_eq(access(rbr, 0), RTV_IOV_EMULATE);
    ck_assert_uint_eq(v.busy, 0);
    ck_assert(rtv_ioseq_at_boundary(&v.seq));
}
END_TEST

/* The seeds' device: a STATUS read in the middle of a send does not close
 * it, so it is no boundary: it goes on on the old path. */
START_TEST(seek_keeps_reads_that_do_not_close_on_the_old_path)
{
    request(RTV_IOV_VIRTUALIZED, ST_A);
    ck_assert_int_eq(access(csr_r(CSR_STATUS, CSR_READY), 0), RTV_IOV_PASS);
    ck_assert_uint_eq(v.busy, 0);
    poll(0, true);
    ck_assert_uint_eq(out.actions, 0);
    ck_assert_int_eq(access(csr_w(CSR_B, 8), 0), RTV_IOV_PASS);
    ck_assert_int_eq(access(csr_w(CSR_C, 1), 0), RTV_IOV_PASS);
    poll(0, true);
    ck_assert_uint_eq(out.actions, RTV_IOV_ACT_TAKE_OVER);
}
END_TEST

RTV_UNIT_ONE_CASE_SUITE(iovirt_suite, "iovirt", "iovirt", setup, NULL, 0,
                        virtualize_at_a_boundary, virtualize_waits_for_the_running_sequence,
                        seek_bound_resets_the_device,
                        hold_answers_busy_and_logs_then_replays_in_order, seek_waits_until_ready,
                        seek_bound_resets_a_device_never_ready, hold_bound_resets_the_device,
                        each_wait_has_its_own_bound, failed_takeover_rolls_back_on_the_real_device,
                        failed_restore_stays_virtualized,
                        devirtualize_waits_for_the_boundary_and_untraps, cycles_repeat,
                        stats_are_per_change, requests_refused, full_log_keeps_the_access_pending,
                        uart_devirtualize_mid_divisor,
                        seek_finds_the_boundary_before_the_next_interrupt_round,
                        seek_keeps_reads_that_do_not_close_on_the_old_path,
                        seek_carries_out_a_closing_read_with_no_busy_answer)

RTV_UNIT_MAIN(iovirt_suite)
