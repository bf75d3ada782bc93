/*
 * libFuzzer: the I/O-sequence engine (common/ioseq.c) and its input.
 *
 * The first byte picks the table: odd, the 16550's production table
 * (uart16550_seq.c, what rtvirt-ioemu feeds every trapped guest access);
 * even, a table made from the input, which rtv_ioseq_table_check() must
 * either refuse with a reason or make safe to run.  The rest of the input
 * is the access stream a guest makes (offset, direction, value), fed to
 * rtv_ioseq_feed(), with rtv_ioseq_may_open() asked before each.
 *
 * After every access the machine must be in a state of its table, with a
 * running sequence named exactly when it is off a boundary, and counters
 * that only count what was fed.
 */
#include <stdbool.h>
#include <stdint.h>

#include "fuzz.h"
#include "rtvirt/ioseq.h"
#include "rtvirt/uart16550.h"

#define MAX_STATES 8u
#define MAX_TRANS  24u
#define MAX_BUSY   4u

static const char *const state_names[MAX_STATES] = {
    "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7",
};

/* A table from the input: every field as the input says, so that the
 * check sees bad tables too. */
static void make_table(struct fuzz_in *in, struct rtv_ioseq_table *t,
                       struct rtv_ioseq_state *st, struct rtv_ioseq_trans *tr,
                       struct rtv_ioseq_busy *busy)
{
    uint8_t shape = fuzz_u8(in);

    t->name = "fuzz";
    t->nports = fuzz_u8(in) % 10u;
    t->nstates = shape % (MAX_STATES + 1u);
    t->ntrans = fuzz_u8(in) % (MAX_TRANS + 1u);
    t->nbusy = (shape >> 4) % (MAX_BUSY + 1u);
    t->initial = fuzz_u8(in) % (MAX_STATES + 1u);
    t->unmatched = (shape & 0x80) ? RTV_IOSEQ_UNMATCHED_STAY
                                  : RTV_IOSEQ_UNMATCHED_RESTART;
    for (unsigned i = 0; i < MAX_STATES; i++) {
        uint8_t f = fuzz_u8(in);
        st[i] = (struct rtv_ioseq_state){ state_names[i], f & 1, (f >> 1) & 1 };
    }
    for (unsigned i = 0; i < t->ntrans; i++) {
        uint8_t a = fuzz_u8(in), b = fuzz_u8(in), c = fuzz_u8(in);
        uint32_t mask = fuzz_u8(in), match = fuzz_u8(in);

        tr[i] = (struct rtv_ioseq_trans){
            .from = a % (MAX_STATES + 1u), .to = b % (MAX_STATES + 1u),
            .offset = (c & 0x80) ? RTV_IOSEQ_ANY_OFFSET : c % 10u,
            .dir = (uint8_t)((a >> 4) & 3), .ends = (b >> 7) & 1,
            .mask = mask, .match = (c & 0x40) ? match : (match & mask),
            .seq = "fuzz-seq",
        };
    }
    for (unsigned i = 0; i < t->nbusy; i++)
        busy[i] = (struct rtv_ioseq_busy){ fuzz_u8(in) % 10u, fuzz_u8(in), fuzz_u8(in) };
    t->states = t->nstates ? st : NULL;
    t->trans = tr;
    t->busy = busy;
}

static void check_machine(const struct rtv_ioseq *s, uint64_t fed)
{
    const struct rtv_ioseq_table *t = s->t;

    FUZZ_CHECK(s->state < t->nstates);
    FUZZ_CHECK(rtv_ioseq_at_boundary(s) == t->states[s->state].boundary);
    if (rtv_ioseq_at_boundary(s)) {
        FUZZ_CHECK(s->seq == NULL);
    } else if (s->seq == NULL) {
        for (unsigned i = 0; i < t->ntrans; i++)
            FUZZ_CHECK(t->trans[i].to != s->state);
    }
    FUZZ_CHECK(s->accesses == fed);
    FUZZ_CHECK(s->sequences <= fed && s->unexpected <= fed);
    FUZZ_CHECK(rtv_ioseq_state_index(t, rtv_ioseq_state_name(s)) >= 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = { data, size };
    struct rtv_ioseq_table own;
    struct rtv_ioseq_state st[MAX_STATES];
    struct rtv_ioseq_trans tr[MAX_TRANS];
    struct rtv_ioseq_busy busy[MAX_BUSY];
    const struct rtv_ioseq_table *t = &rtv_uart16550_seq;
    struct rtv_err err = { 0, "" };
    struct rtv_ioseq s;
    uint64_t fed = 0;

    if ((fuzz_u8(&in) & 1) == 0) {
        make_table(&in, &own, st, tr, busy);
        if (rtv_ioseq_table_check(&own, &err) != 0) {
            FUZZ_CHECK(err.msg[0] != '\0');
            return 0;
        }
        t = &own;
    }
    rtv_ioseq_init(&s, t, fuzz_u8(&in) % t->nstates);
    check_machine(&s, 0);

    while (in.n > 0) {
        uint8_t head = fuzz_u8(&in);
        struct rtv_ioseq_access a = {
            .offset = (uint16_t)(head % (t->nports + 1u)),   /* one past: stray */
            .dir = (head & 0x80) ? RTV_IOSEQ_WRITE : RTV_IOSEQ_READ,
            .size = 1,
            .value = fuzz_u8(&in),
        };
        uint32_t bv;
        bool at_boundary = rtv_ioseq_at_boundary(&s);
        bool may_open = rtv_ioseq_may_open(&s, &a);
        unsigned f = rtv_ioseq_feed(&s, &a);

        fed++;
        check_machine(&s, fed);
        FUZZ_CHECK((f & ~(unsigned)(RTV_IOSEQ_F_COMPLETED | RTV_IOSEQ_F_UNEXPECTED |
                                    RTV_IOSEQ_F_MOVED)) == 0);
        /* An access may_open() said cannot open a sequence leaves a
         * machine that was at a boundary at one (iovirt relies on it to
         * let accesses through while it seeks a boundary). */
        if (at_boundary && !may_open)
            FUZZ_CHECK(rtv_ioseq_at_boundary(&s));
        if (rtv_ioseq_busy_value(t, a.offset, a.value, &bv))
            FUZZ_CHECK(rtv_ioseq_has_busy(t, a.offset));
        if (head == 0x7f) {
            rtv_ioseq_reset(&s);
            FUZZ_CHECK(s.state == t->initial && rtv_ioseq_at_boundary(&s));
        }
    }
    return 0;
}
