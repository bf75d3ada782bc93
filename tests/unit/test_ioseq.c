/*
 * The I/O-sequence engine on the seeds' idealized device (CSR A/B/C) and
 * on the 16550's production table: boundaries, completions, out-of-order
 * accesses under both policies, open-ended bursts, the table checks, and
 * the busy answers.
 */
#include <errno.h>
#include <linux/serial_reg.h>

#include "csr_device.h"
#include "rtvirt/ioseq.h"
#include "rtvirt/uart16550.h"
#include "unit.h"

static struct rtv_ioseq s;

static unsigned feed(struct rtv_ioseq_access a)
{
    return rtv_ioseq_feed(&s, &a);
}

static unsigned uw(unsigned off, uint8_t v)
{
    return feed((struct rtv_ioseq_access){ .offset = (uint16_t)off,
                                           .dir = RTV_IOSEQ_WRITE, .size = 1, .value = v });
}

static unsigned ur(unsigned off, uint8_t v)
{
    return feed((struct rtv_ioseq_access){ .offset = (uint16_t)off,
                                           .dir = RTV_IOSEQ_READ, .size = 1, .value = v });
}

static void assert_state(const char *name, bool boundary)
{
    ck_assert_str_eq(rtv_ioseq_state_name(&s), name);
    ck_assert_int_eq(rtv_ioseq_at_boundary(&s), boundary);
}

/* ---- the idealized device ------------------------------------------------ */

START_TEST(csr_send_is_one_sequence)
{
    rtv_ioseq_init(&s, &csr_table, ST_START);
    assert_state("start", true);
    ck_assert_uint_eq(feed(csr_w(CSR_A, 0x1000)), RTV_IOSEQ_F_MOVED);
    assert_state("address-written", false);
    ck_assert_str_eq(s.seq, "send");
    ck_assert_uint_eq(feed(csr_w(CSR_B, 64)), RTV_IOSEQ_F_MOVED);
    assert_state("length-written", false);
    ck_assert_uint_eq(feed(csr_w(CSR_C, 0xab)), RTV_IOSEQ_F_MOVED | RTV_IOSEQ_F_COMPLETED);
    assert_state("sent", true);
    ck_assert_ptr_null(s.seq);
    /* The end state is a start state too: the next send opens from it. */
    feed(csr_w(CSR_A, 0x2000));
    feed(csr_w(CSR_B, 1));
    ck_assert(feed(csr_w(CSR_C, 1)) & RTV_IOSEQ_F_COMPLETED);
    ck_assert_uint_eq(s.sequences, 2);
    ck_assert_uint_eq(s.accesses, 6);
    ck_assert_uint_eq(s.unexpected, 0);
}
END_TEST

START_TEST(csr_status_reads_are_outside_sequences)
{
    rtv_ioseq_init(&s, &csr_table, ST_START);
    ck_assert_uint_eq(feed(csr_r(CSR_STATUS, CSR_READY)), 0);
    ck_assert_uint_eq(feed(csr_w(CSR_SCRATCH, 5)), 0);
    assert_state("start", true);
    ck_assert_uint_eq(s.unexpected, 0);
    ck_assert_uint_eq(s.accesses, 2);
}
END_TEST

START_TEST(csr_out_of_order_restarts)
{
    rtv_ioseq_init(&s, &csr_table, ST_START);
    feed(csr_w(CSR_A, 1));
    /* C without B: the send is abandoned; C opens nothing. */
    ck_assert_uint_eq(feed(csr_w(CSR_C, 1)), RTV_IOSEQ_F_UNEXPECTED);
    assert_state("start", true);
    ck_assert_ptr_null(s.seq);
    feed(csr_w(CSR_A, 1));
    /* A again: the old send is abandoned and this A opens a new one. */
    ck_assert_uint_eq(feed(csr_w(CSR_A, 2)), RTV_IOSEQ_F_UNEXPECTED | RTV_IOSEQ_F_MOVED);
    assert_state("address-written", false);
    ck_assert_uint_eq(s.unexpected, 2);
    ck_assert_uint_eq(s.sequences, 0);
}
END_TEST

START_TEST(csr_stay_policy_keeps_the_state)
{
    struct rtv_ioseq_table t = csr_table;

    t.unmatched = RTV_IOSEQ_UNMATCHED_STAY;
    rtv_ioseq_init(&s, &t, ST_START);
    feed(csr_w(CSR_A, 1));
    ck_assert_uint_eq(feed(csr_w(CSR_C, 1)), RTV_IOSEQ_F_UNEXPECTED);
    assert_state("address-written", false);
    ck_assert_uint_eq(feed(csr_w(CSR_B, 1)), RTV_IOSEQ_F_MOVED);
    assert_state("length-written", false);
    ck_assert_uint_eq(s.unexpected, 1);
}
END_TEST

START_TEST(csr_starts_where_the_probe_says)
{
    rtv_ioseq_init(&s, &csr_table, ST_START);
    feed(csr_w(CSR_A, 1));
    /* Starting again forgets everything. */
    rtv_ioseq_init(&s, &csr_table, ST_B);
    ck_assert_uint_eq(s.accesses, 0);
    ck_assert_uint_eq(s.sequences, 0);
    ck_assert_uint_eq(s.unexpected, 0);
    assert_state("length-written", false);
    /* Mid-sequence, the running sequence has its name from the start
     * (found by tests/fuzz/fuzz_ioseq: it was NULL until the next access). */
    ck_assert_ptr_nonnull(s.seq);
    ck_assert_str_eq(s.seq, "send");
    ck_assert(feed(csr_w(CSR_C, 1)) & RTV_IOSEQ_F_COMPLETED);
    feed(csr_w(CSR_A, 1));
    rtv_ioseq_reset(&s);
    assert_state("start", true);
    ck_assert_ptr_null(s.seq);
}
END_TEST

START_TEST(csr_may_open_and_busy)
{
    uint32_t busy = 0;

    rtv_ioseq_init(&s, &csr_table, ST_START);
    ck_assert(rtv_ioseq_may_open(&s, &(struct rtv_ioseq_access){ .offset = CSR_A, .dir = RTV_IOSEQ_WRITE }));
    ck_assert(!rtv_ioseq_may_open(&s, &(struct rtv_ioseq_access){ .offset = CSR_B, .dir = RTV_IOSEQ_WRITE }));
    ck_assert(!rtv_ioseq_may_open(&s, &(struct rtv_ioseq_access){ .offset = CSR_A, .dir = RTV_IOSEQ_READ }));
    ck_assert(!rtv_ioseq_may_open(&s, &(struct rtv_ioseq_access){ .offset = CSR_STATUS, .dir = RTV_IOSEQ_READ }));
    ck_assert(rtv_ioseq_busy_value(&csr_table, CSR_STATUS, 0xf1, &busy));
    ck_assert_uint_eq(busy, 0xf0);
    ck_assert(!rtv_ioseq_busy_value(&csr_table, CSR_SCRATCH, 0xf1, &busy));
    ck_assert_int_eq(rtv_ioseq_state_index(&csr_table, "length-written"), ST_B);
    ck_assert_int_eq(rtv_ioseq_state_index(&csr_table, "start"), ST_START);
    ck_assert_int_eq(rtv_ioseq_state_index(&csr_table, "nope"), -1);
    ck_assert_int_eq(rtv_ioseq_state_index(&csr_table, NULL), -1);
}
END_TEST

/* What closes a running send: C, on its value; a STATUS read mid-send does
 * not (it stays), nor anything at a boundary. */
START_TEST(csr_closes)
{
    struct rtv_ioseq_access status = { .offset = CSR_STATUS, .dir = RTV_IOSEQ_READ };

    rtv_ioseq_init(&s, &csr_table, ST_START);
    ck_assert(!rtv_ioseq_closes(&s, &status));
    ck_assert(!rtv_ioseq_closes(&s, &(struct rtv_ioseq_access){ .offset = CSR_A, .dir = RTV_IOSEQ_WRITE }));
    feed(csr_w(CSR_A, 0x1000));
    ck_assert(!rtv_ioseq_closes(&s, &status));
    feed(csr_w(CSR_B, 64));
    ck_assert(!rtv_ioseq_closes(&s, &status));
    ck_assert(!rtv_ioseq_closes(&s, &(struct rtv_ioseq_access){ .offset = CSR_A, .dir = RTV_IOSEQ_WRITE }));
    ck_assert(rtv_ioseq_closes(&s, &(struct rtv_ioseq_access){ .offset = CSR_C, .dir = RTV_IOSEQ_WRITE }));
    ck_assert_str_eq(rtv_ioseq_state_name(&s), "length-written");   /* judged, not fed */
}
END_TEST

/* A read that closes on some values and not on others does not close:
 * every value it may return is judged, not only 0. */
START_TEST(closes_only_if_every_value_closes)
{
    static const struct rtv_ioseq_state st[] = {
        [0] = { "idle", .boundary = true }, [1] = { "busy" },
    };
    static const struct rtv_ioseq_trans tr[] = {
        { 0, 1, 0, RTV_IOSEQ_WRITE, false, 0, 0, "op" },
        { 1, 0, 1, RTV_IOSEQ_READ, false, 0x4, 0, "op" },    /* bit 2 clear: done */
        { 1, 1, 1, RTV_IOSEQ_READ, false, 0x4, 0x4, "op" },  /* bit 2 set: still busy */
    };
    static const struct rtv_ioseq_table t = {
        .name = "two-values", .nports = 2, .states = st, .nstates = 2, .trans = tr,
        .ntrans = 3, .initial = 0, .unmatched = RTV_IOSEQ_UNMATCHED_RESTART,
    };

    rtv_ioseq_init(&s, &t, 0);
    feed((struct rtv_ioseq_access){ .offset = 0, .dir = RTV_IOSEQ_WRITE });
    ck_assert(!rtv_ioseq_closes(&s, &(struct rtv_ioseq_access){ .offset = 1, .dir = RTV_IOSEQ_READ }));
}
END_TEST

/* An engine started mid-sequence names the sequence that runs into that
 * state (the first transition into it, here the only one, index 0); one
 * started at a boundary runs none, though a transition leads there too. */
START_TEST(init_names_the_sequence_running)
{
    static const struct rtv_ioseq_state st[] = {
        [0] = { "idle", .boundary = true }, [1] = { "busy" },
    };
    static const struct rtv_ioseq_trans tr[] = {
        { 0, 1, 0, RTV_IOSEQ_WRITE, false, 0, 0, "first" },
        { 1, 0, 1, RTV_IOSEQ_WRITE, false, 0, 0, "second" },
    };
    static const struct rtv_ioseq_table t = {
        .name = "named", .nports = 2, .states = st, .nstates = 2, .trans = tr,
        .ntrans = 2, .initial = 0, .unmatched = RTV_IOSEQ_UNMATCHED_RESTART,
    };

    rtv_ioseq_init(&s, &t, 1);
    ck_assert_ptr_nonnull(s.seq);
    ck_assert_str_eq(s.seq, "first");
    rtv_ioseq_init(&s, &t, 0);
    ck_assert_ptr_null(s.seq);
    rtv_ioseq_init(&s, &csr_table, ST_SENT);
    ck_assert_ptr_null(s.seq);
    /* A mid state no transition enters: no sequence to name, and the
     * search ends at the table's end (ASan sees a read past it). */
    static const struct rtv_ioseq_state st3[] = {
        [0] = { "idle", .boundary = true }, [1] = { "busy" }, [2] = { "lost" },
    };
    static const struct rtv_ioseq_table t3 = {
        .name = "lost", .nports = 2, .states = st3, .nstates = 3, .trans = tr,
        .ntrans = 2, .initial = 0, .unmatched = RTV_IOSEQ_UNMATCHED_RESTART,
    };
    rtv_ioseq_init(&s, &t3, 2);
    ck_assert_ptr_null(s.seq);
}
END_TEST

/* Which reads a close is judged on: only this state's, in the access's
 * direction, on its offset (or any offset); their mask bits say which
 * values to try; a transition earlier in the table counts as much as a
 * later one (first match wins, so a value it takes never reaches the
 * closing one); more than 8 such bits are not judged (no). */
START_TEST(closes_judges_the_reads_that_can_match)
{
    static const struct rtv_ioseq_state st[] = {
        [0] = { "idle", .boundary = true }, [1] = { "busy" }, [2] = { "other" },
    };
    /* From busy, a read of port 1 with bit 2 set stays busy (index 0),
     * any other value closes: not every value closes. */
    static const struct rtv_ioseq_trans tr[] = {
        { 1, 1, 1, RTV_IOSEQ_READ, false, 0x4, 0x4, "op" },
        { 1, 0, 1, RTV_IOSEQ_READ, false, 0, 0, "op" },
        { 0, 1, 0, RTV_IOSEQ_WRITE, false, 0, 0, "op" },
    };
    static const struct rtv_ioseq_table t = {
        .name = "judged", .nports = 3, .states = st, .nstates = 2, .trans = tr,
        .ntrans = 3, .initial = 0, .unmatched = RTV_IOSEQ_UNMATCHED_RESTART,
    };
    /* Every read of port 1 from busy closes; 9-bit masks from another
     * state, in the other direction and on another port must not count. */
    static const struct rtv_ioseq_trans tx[] = {
        { 0, 1, 0, RTV_IOSEQ_WRITE, false, 0, 0, "op" },
        { 1, 0, 1, RTV_IOSEQ_READ, false, 0, 0, "op" },
        { 2, 0, 1, RTV_IOSEQ_READ, false, 0x1ff, 0x1ff, "op" },
        { 1, 1, 1, RTV_IOSEQ_WRITE, false, 0x1ff, 0x1ff, "op" },
        { 1, 1, 0, RTV_IOSEQ_READ, false, 0x1ff, 0x1ff, "op" },
        { 0, 2, 2, RTV_IOSEQ_WRITE, false, 0, 0, "op" },
    };
    static const struct rtv_ioseq_table tX = {
        .name = "not-counted", .nports = 3, .states = st, .nstates = 3, .trans = tx,
        .ntrans = 6, .initial = 0, .unmatched = RTV_IOSEQ_UNMATCHED_RESTART,
    };
    const struct rtv_ioseq_access rd = { .offset = 1, .dir = RTV_IOSEQ_READ };

    rtv_ioseq_init(&s, &t, 1);
    ck_assert(!rtv_ioseq_closes(&s, &rd));       /* 0x4 does not close */
    rtv_ioseq_init(&s, &tX, 1);
    ck_assert(rtv_ioseq_closes(&s, &rd));
    /* A read whose every value closes, over two bits (6, 4, 2, 0 tried). */
    static const struct rtv_ioseq_trans all[] = {
        { 0, 1, 0, RTV_IOSEQ_WRITE, false, 0, 0, "op" },
        { 1, 0, 1, RTV_IOSEQ_READ, false, 0x6, 0x6, "op" },
        { 1, 0, 1, RTV_IOSEQ_READ, false, 0x6, 0, "op" },
        { 1, 0, 1, RTV_IOSEQ_READ, false, 0, 0, "op" },
    };
    static const struct rtv_ioseq_table ta = {
        .name = "all-close", .nports = 2, .states = st, .nstates = 2, .trans = all,
        .ntrans = 4, .initial = 0, .unmatched = RTV_IOSEQ_UNMATCHED_RESTART,
    };
    rtv_ioseq_init(&s, &ta, 1);
    ck_assert(rtv_ioseq_closes(&s, &rd));
    /* Eight bits are judged (256 values, all close); nine are not. */
    static const struct rtv_ioseq_trans eight[] = {
        { 0, 1, 0, RTV_IOSEQ_WRITE, false, 0, 0, "op" },
        { 1, 0, 1, RTV_IOSEQ_READ, false, 0x1fe, 0x1fe, "op" },
        { 1, 0, 1, RTV_IOSEQ_READ, false, 0, 0, "op" },
    };
    static const struct rtv_ioseq_table t8 = {
        .name = "eight", .nports = 2, .states = st, .nstates = 2, .trans = eight,
        .ntrans = 3, .initial = 0, .unmatched = RTV_IOSEQ_UNMATCHED_RESTART,
    };
    rtv_ioseq_init(&s, &t8, 1);
    ck_assert(rtv_ioseq_closes(&s, &rd));
    static const struct rtv_ioseq_trans nine[] = {
        { 0, 1, 0, RTV_IOSEQ_WRITE, false, 0, 0, "op" },
        { 1, 1, 1, RTV_IOSEQ_READ, false, 0x1ff, 0x1ff, "op" },
        { 1, 0, 1, RTV_IOSEQ_READ, false, 0, 0, "op" },
    };
    static const struct rtv_ioseq_table t9 = {
        .name = "nine", .nports = 2, .states = st, .nstates = 2, .trans = nine,
        .ntrans = 3, .initial = 0, .unmatched = RTV_IOSEQ_UNMATCHED_RESTART,
    };
    rtv_ioseq_init(&s, &t9, 1);
    ck_assert(!rtv_ioseq_closes(&s, &rd));
}
END_TEST

/* ---- the table checks ------------------------------------------------------ */

static void assert_bad(const struct rtv_ioseq_table *t, const char *why)
{
    struct rtv_err err = { 0 };

    ck_assert_int_eq(rtv_ioseq_table_check(t, &err), -EINVAL);
    ck_assert_int_eq(err.code, EINVAL);
    ck_assert_contains(err.msg, why);
}

START_TEST(table_checks_name_the_fault)
{
    struct rtv_ioseq_table t;
    struct rtv_ioseq_trans tr[8];
    struct rtv_ioseq_busy b[3] = { { CSR_STATUS, 1, 0 }, { CSR_STATUS, 2, 0 } };
    static struct rtv_ioseq_state many[255] = { [0] = { "s0", .boundary = true } };
    struct rtv_err err = { 0 };

    ck_assert_int_eq(rtv_ioseq_table_check(&csr_table, &err), 0);
    ck_assert_int_eq(rtv_ioseq_table_check(&rtv_uart16550_seq, &err), 0);

    t = csr_table; t.nstates = 0;
    assert_bad(&t, "0 states");
    t = csr_table; t.nstates = 256;
    assert_bad(&t, "256 states");
    t = csr_table; t.states = many; t.nstates = 255; t.ntrans = 0; t.nbusy = 0;
    ck_assert_int_eq(rtv_ioseq_table_check(&t, NULL), 0);
    t.nports = 1;
    ck_assert_int_eq(rtv_ioseq_table_check(&t, NULL), 0);
    t = csr_table; t.initial = ST_A;
    assert_bad(&t, "initial state 1 is not a boundary");
    t = csr_table; t.initial = 4;
    assert_bad(&t, "initial state 4");
    t = csr_table; t.nports = 0;
    assert_bad(&t, "0 ports");
    t = csr_table; t.nports = RTV_IOSEQ_ANY_OFFSET;
    assert_bad(&t, "65535 ports");

    t = csr_table; t.trans = tr; t.ntrans = 1;
    tr[0] = csr_trans[0]; tr[0].to = 4;
    assert_bad(&t, "transition 0: state 0 -> 4 out of range");
    tr[0] = csr_trans[0]; tr[0].from = 4;
    assert_bad(&t, "transition 0: state 4 -> 1 out of range");
    tr[0] = csr_trans[0]; tr[0].offset = CSR_NPORTS;
    assert_bad(&t, "offset 5 beyond 5 ports");
    tr[0] = csr_trans[0]; tr[0].offset = RTV_IOSEQ_ANY_OFFSET;
    ck_assert_int_eq(rtv_ioseq_table_check(&t, NULL), 0);
    tr[0] = csr_trans[0]; tr[0].dir = 0;
    assert_bad(&t, "direction 0");
    tr[0] = csr_trans[0]; tr[0].dir = 4;
    assert_bad(&t, "direction 4");
    tr[0] = csr_trans[0]; tr[0].dir = RTV_IOSEQ_ANY_DIR;
    ck_assert_int_eq(rtv_ioseq_table_check(&t, NULL), 0);
    tr[0] = csr_trans[0]; tr[0].ends = true;
    assert_bad(&t, "transition 0: 'ends' needs a mid-sequence state on both sides");
    tr[0] = csr_trans[3]; tr[0].ends = true;       /* B -> sent */
    assert_bad(&t, "'ends' needs");
    tr[0] = csr_trans[4]; tr[0].ends = true;       /* A -> A */
    ck_assert_int_eq(rtv_ioseq_table_check(&t, NULL), 0);
    tr[0] = csr_trans[0]; tr[0].mask = 0x0f; tr[0].match = 0x10;
    assert_bad(&t, "match 0x10 has bits outside mask 0xf");
    tr[0].match = 0x0f;
    ck_assert_int_eq(rtv_ioseq_table_check(&t, NULL), 0);
    /* Every transition is checked, not just the first. */
    memcpy(tr, csr_trans, sizeof(csr_trans));
    t.trans = tr; t.ntrans = sizeof(csr_trans) / sizeof(csr_trans[0]);
    tr[t.ntrans - 1].to = 9;
    assert_bad(&t, "transition 5: state 2 -> 9 out of range");

    t = csr_table; t.busy = b; t.nbusy = 2;
    assert_bad(&t, "busy answer for offset 3 defined twice");
    b[1].offset = CSR_NPORTS;
    assert_bad(&t, "busy answer 1: offset 5 beyond 5 ports");
    b[1].offset = CSR_SCRATCH;
    b[2] = b[1];
    t.nbusy = 3;
    assert_bad(&t, "busy answer for offset 4 defined twice");
    b[0].offset = CSR_NPORTS;
    assert_bad(&t, "busy answer 0: offset 5 beyond 5 ports");
}
END_TEST

/* ---- the 16550's table ---------------------------------------------------- */

START_TEST(uart_divisor_sequence)
{
    rtv_ioseq_init(&s, &rtv_uart16550_seq, rtv_uart16550_seq.initial);
    assert_state("idle", true);
    ck_assert_uint_eq(uw(UART_LCR, UART_LCR_DLAB | UART_LCR_WLEN8), RTV_IOSEQ_F_MOVED);
    assert_state("dlab-set", false);
    ck_assert_str_eq(s.seq, "divisor");
    /* While DLAB is set any access belongs to the sequence. */
    ck_assert_uint_eq(ur(UART_DLL, 0x0c), RTV_IOSEQ_F_MOVED);
    ck_assert_uint_eq(ur(UART_LSR, 0x60), RTV_IOSEQ_F_MOVED);
    uw(UART_LCR, 0xbf);
    assert_state("dlab-set", false);
    uw(UART_DLL, 0x01);
    assert_state("dll-written", false);
    uw(UART_DLM, 0x01);
    assert_state("divisor-written", false);
    ck_assert_uint_eq(uw(UART_LCR, UART_LCR_WLEN8),
                      RTV_IOSEQ_F_MOVED | RTV_IOSEQ_F_COMPLETED);
    assert_state("idle", true);
    ck_assert_uint_eq(s.sequences, 1);
    ck_assert_uint_eq(s.unexpected, 0);
}
END_TEST

START_TEST(uart_divisor_any_order_or_none)
{
    rtv_ioseq_init(&s, &rtv_uart16550_seq, rtv_uart16550_seq.initial);
    uw(UART_LCR, 0x83);
    uw(UART_DLM, 0x01);
    assert_state("dlm-written", false);
    uw(UART_DLL, 0x0d);
    assert_state("divisor-written", false);
    uw(UART_LCR, 0x03);
    /* A probe that sets DLAB, reads the latch and clears DLAB. */
    uw(UART_LCR, 0x83);
    ur(UART_DLL, 0x0c);
    ur(UART_DLM, 0x00);
    ck_assert(uw(UART_LCR, 0x03) & RTV_IOSEQ_F_COMPLETED);
    /* Each divisor state ends on DLAB clear. */
    uw(UART_LCR, 0x83);
    uw(UART_DLL, 1);
    ck_assert(uw(UART_LCR, 0x03) & RTV_IOSEQ_F_COMPLETED);
    uw(UART_LCR, 0x83);
    uw(UART_DLM, 1);
    ck_assert(uw(UART_LCR, 0x03) & RTV_IOSEQ_F_COMPLETED);
    assert_state("idle", true);
    ck_assert_uint_eq(s.sequences, 4);
}
END_TEST

START_TEST(uart_interrupt_service_rounds)
{
    rtv_ioseq_init(&s, &rtv_uart16550_seq, rtv_uart16550_seq.initial);
    /* No interrupt pending: nothing opens. */
    ck_assert_uint_eq(ur(UART_IIR, 0xc1), 0);
    ck_assert_uint_eq(ur(UART_IIR, 0xc4), RTV_IOSEQ_F_MOVED);
    assert_state("interrupt-service", false);
    ck_assert_str_eq(s.seq, "interrupt");
    ur(UART_LSR, 0x61);
    ur(UART_RX, 'x');
    ur(UART_MSR, 0xb0);
    assert_state("interrupt-service", false);
    /* Another interrupt: one round closes, the next opens. */
    ck_assert_uint_eq(ur(UART_IIR, 0xc2), RTV_IOSEQ_F_MOVED | RTV_IOSEQ_F_COMPLETED);
    assert_state("interrupt-service", false);
    uw(UART_TX, 'y');
    uw(UART_IER, 0x05);
    ck_assert_uint_eq(ur(UART_IIR, 0xc1), RTV_IOSEQ_F_MOVED | RTV_IOSEQ_F_COMPLETED);
    assert_state("idle", true);
    ck_assert_uint_eq(s.sequences, 2);
    /* A driver that sets DLAB from its handler is in the divisor sequence. */
    ur(UART_IIR, 0xc4);
    ck_assert_uint_eq(uw(UART_LCR, 0x83), RTV_IOSEQ_F_MOVED | RTV_IOSEQ_F_COMPLETED);
    assert_state("dlab-set", false);
}
END_TEST

/* An IIR read in an interrupt round closes it whatever it reads (the
 * round ends, or the next opens): a boundary is just before it.  Other
 * reads in the round do not close it; a write closes it on its value. */
START_TEST(uart_iir_read_closes_an_interrupt_round)
{
    struct rtv_ioseq_access iir = { .offset = UART_IIR, .dir = RTV_IOSEQ_READ };
    struct rtv_ioseq_access lsr = { .offset = UART_LSR, .dir = RTV_IOSEQ_READ };
    struct rtv_ioseq_access rbr = { .offset = UART_RX, .dir = RTV_IOSEQ_READ };

    rtv_ioseq_init(&s, &rtv_uart16550_seq, rtv_uart16550_seq.initial);
    ck_assert(!rtv_ioseq_closes(&s, &iir));     /* nothing running */
    ur(UART_LSR, 0x60);                         /* a transmit burst: a boundary */
    ck_assert(!rtv_ioseq_closes(&s, &(struct rtv_ioseq_access){ .offset = UART_TX, .dir = RTV_IOSEQ_WRITE, .value = 'a' }));
    rtv_ioseq_init(&s, &rtv_uart16550_seq, rtv_uart16550_seq.initial);
    ur(UART_IIR, 0xc4);
    ck_assert(rtv_ioseq_closes(&s, &iir));
    ck_assert(!rtv_ioseq_closes(&s, &lsr));
    ck_assert(!rtv_ioseq_closes(&s, &rbr));
    ck_assert(!rtv_ioseq_closes(&s, &(struct rtv_ioseq_access){ .offset = UART_LCR, .dir = RTV_IOSEQ_WRITE, .value = 0x03 }));
    ck_assert(rtv_ioseq_closes(&s, &(struct rtv_ioseq_access){ .offset = UART_LCR, .dir = RTV_IOSEQ_WRITE, .value = 0x83 }));
    assert_state("interrupt-service", false);
    /* polled receive: the RBR read closes it, an LSR read may not */
    rtv_ioseq_init(&s, &rtv_uart16550_seq, rtv_uart16550_seq.initial);
    ur(UART_LSR, 0x61);
    assert_state("rx-ready", false);
    ck_assert(rtv_ioseq_closes(&s, &rbr));
    ck_assert(!rtv_ioseq_closes(&s, &lsr));
    /* divisor: reads never close it */
    rtv_ioseq_init(&s, &rtv_uart16550_seq, rtv_uart16550_seq.initial);
    uw(UART_LCR, 0x83);
    ck_assert(!rtv_ioseq_closes(&s, &iir));
    ck_assert(!rtv_ioseq_closes(&s, &(struct rtv_ioseq_access){ .offset = UART_LCR, .dir = RTV_IOSEQ_READ }));
}
END_TEST

START_TEST(uart_transmit_burst_is_open_ended)
{
    rtv_ioseq_init(&s, &rtv_uart16550_seq, rtv_uart16550_seq.initial);
    ck_assert_uint_eq(ur(UART_LSR, 0x60), RTV_IOSEQ_F_MOVED);
    assert_state("tx-burst", true);         /* a second start state */
    ck_assert_ptr_null(s.seq);
    for (int i = 0; i < 16; i++)
        ck_assert_uint_eq(uw(UART_TX, 'a' + i), RTV_IOSEQ_F_MOVED);
    ur(UART_LSR, 0x20);
    uw(UART_TX, 'z');
    assert_state("tx-burst", true);
    ck_assert_uint_eq(s.sequences, 0);
    /* Anything else ends the burst: completed, not unexpected. */
    ck_assert_uint_eq(uw(UART_IER, 0x05), RTV_IOSEQ_F_COMPLETED);
    assert_state("idle", true);
    ck_assert_uint_eq(s.unexpected, 0);
    /* An access that ends a burst may open the next sequence. */
    ur(UART_LSR, 0x60);
    ck_assert_uint_eq(uw(UART_LCR, 0x83), RTV_IOSEQ_F_COMPLETED | RTV_IOSEQ_F_MOVED);
    assert_state("dlab-set", false);
    ck_assert_uint_eq(s.sequences, 2);
}
END_TEST

START_TEST(uart_polled_receive)
{
    rtv_ioseq_init(&s, &rtv_uart16550_seq, rtv_uart16550_seq.initial);
    /* DR wins over THRE: the guest was told a byte waits. */
    ur(UART_LSR, 0x61);
    assert_state("rx-ready", false);
    ur(UART_LSR, 0x61);
    assert_state("rx-ready", false);
    ck_assert_uint_eq(ur(UART_RX, 'q'), RTV_IOSEQ_F_MOVED | RTV_IOSEQ_F_COMPLETED);
    assert_state("idle", true);
    ck_assert_uint_eq(s.sequences, 1);          /* re-polling LSR closes nothing */
    /* No data after all: the poll ends and THRE opens a burst. */
    ur(UART_LSR, 0x61);
    ck_assert_uint_eq(ur(UART_LSR, 0x60), RTV_IOSEQ_F_COMPLETED | RTV_IOSEQ_F_MOVED);
    assert_state("tx-burst", true);
    /* Registers outside every sequence leave idle alone. */
    rtv_ioseq_reset(&s);
    ck_assert_uint_eq(ur(UART_SCR, 1) | uw(UART_SCR, 1) | ur(UART_LCR, 3) |
                      uw(UART_MCR, 0x0b) | ur(UART_LSR, 0x00) | uw(UART_FCR, 0xc7), 0);
    assert_state("idle", true);
}
END_TEST

START_TEST(uart_may_open_and_busy_answers)
{
    uint32_t busy;

    rtv_ioseq_init(&s, &rtv_uart16550_seq, rtv_uart16550_seq.initial);
    ck_assert(rtv_ioseq_may_open(&s, &(struct rtv_ioseq_access){ .offset = UART_IIR, .dir = RTV_IOSEQ_READ }));
    ck_assert(rtv_ioseq_may_open(&s, &(struct rtv_ioseq_access){ .offset = UART_LSR, .dir = RTV_IOSEQ_READ }));
    ck_assert(!rtv_ioseq_may_open(&s, &(struct rtv_ioseq_access){ .offset = UART_RX, .dir = RTV_IOSEQ_READ }));
    ck_assert(!rtv_ioseq_may_open(&s, &(struct rtv_ioseq_access){ .offset = UART_SCR, .dir = RTV_IOSEQ_READ }));
    ck_assert(rtv_ioseq_may_open(&s, &(struct rtv_ioseq_access){ .offset = UART_LCR, .dir = RTV_IOSEQ_WRITE, .value = 0x83 }));
    ck_assert(!rtv_ioseq_may_open(&s, &(struct rtv_ioseq_access){ .offset = UART_LCR, .dir = RTV_IOSEQ_WRITE, .value = 0x03 }));
    ck_assert(!rtv_ioseq_may_open(&s, &(struct rtv_ioseq_access){ .offset = UART_TX, .dir = RTV_IOSEQ_WRITE, .value = 'a' }));
    /* In a burst (open-ended), what ends it may open the next sequence. */
    ur(UART_LSR, UART_LSR_THRE);
    assert_state("tx-burst", true);
    ck_assert(rtv_ioseq_may_open(&s, &(struct rtv_ioseq_access){ .offset = UART_LCR, .dir = RTV_IOSEQ_WRITE, .value = 0x83 }));
    ck_assert(!rtv_ioseq_may_open(&s, &(struct rtv_ioseq_access){ .offset = UART_LCR, .dir = RTV_IOSEQ_WRITE, .value = 0x03 }));
    ck_assert(!rtv_ioseq_may_open(&s, &(struct rtv_ioseq_access){ .offset = UART_TX, .dir = RTV_IOSEQ_WRITE, .value = 'a' }));
    ck_assert(rtv_ioseq_may_open(&s, &(struct rtv_ioseq_access){ .offset = UART_IIR, .dir = RTV_IOSEQ_READ }));

    ck_assert(rtv_ioseq_busy_value(&rtv_uart16550_seq, UART_LSR, 0x61, &busy));
    ck_assert_uint_eq(busy, UART_LSR_DR);
    ck_assert(rtv_ioseq_busy_value(&rtv_uart16550_seq, UART_LSR, 0x60, &busy));
    ck_assert_uint_eq(busy, 0);
    ck_assert(rtv_ioseq_has_busy(&rtv_uart16550_seq, UART_IIR));
    ck_assert(!rtv_ioseq_has_busy(&rtv_uart16550_seq, UART_MSR));
    ck_assert(rtv_ioseq_busy_value(&rtv_uart16550_seq, UART_IIR, 0xc2, &busy));
    ck_assert_uint_eq(busy, 0xc1);
    ck_assert(!rtv_ioseq_busy_value(&rtv_uart16550_seq, UART_RX, 0, &busy));
}
END_TEST

static Suite *ioseq_suite(void)
{
    Suite *su = suite_create("ioseq");
    TCase *tc = rtv_unit_case(su, "csr", NULL, NULL, 0);

    RTV_UNIT_ADD(tc, csr_send_is_one_sequence, csr_status_reads_are_outside_sequences,
                     csr_out_of_order_restarts, csr_stay_policy_keeps_the_state,
                     csr_starts_where_the_probe_says, csr_may_open_and_busy, csr_closes,
                     closes_only_if_every_value_closes, init_names_the_sequence_running,
                     closes_judges_the_reads_that_can_match, table_checks_name_the_fault);
    tc = rtv_unit_case(su, "uart16550", NULL, NULL, 0);
    RTV_UNIT_ADD(tc, uart_divisor_sequence, uart_divisor_any_order_or_none,
                     uart_interrupt_service_rounds, uart_iir_read_closes_an_interrupt_round,
                     uart_transmit_burst_is_open_ended, uart_polled_receive,
                     uart_may_open_and_busy_answers);
    return su;
}

RTV_UNIT_MAIN(ioseq_suite)
