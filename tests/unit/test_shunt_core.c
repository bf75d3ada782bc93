/*
 * The shunt's routing engine against a model of two paths over one image.
 * Each path has its own write-back cache (pessimistic on purpose: it is the
 * hazard the flush at the flip exists for), completions arrive in any order,
 * and switches, aborts and failing flushes are thrown in at random.  Checked:
 * every request completes exactly once, reads return the last acknowledged
 * write, held requests are replayed in arrival order, and routing follows
 * the mode.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtvirt/shunt_core.h"
#include "unit.h"

#define SECTORS 64
#define MAXIO   4096

struct model {
    uint32_t image[SECTORS];
    int      cache[RTV_PATH_COUNT][SECTORS];     /* -1 = not cached */
    struct rtv_io *queue[RTV_PATH_COUNT][MAXIO];  /* submitted, not done */
    unsigned qlen[RTV_PATH_COUNT];
    unsigned flush_pending[RTV_PATH_COUNT];       /* gen+1, 0 = none */
    int      flush_fail;                          /* next flush fails */
    unsigned completed, switched_ok, switched_fail;
    unsigned submit_order[MAXIO], nsubmit;        /* io index per dispatch */
};

struct req {
    struct rtv_io io;
    unsigned idx;
    uint32_t value;         /* written, or read back */
    int      done;
    int      status;
    unsigned submit_seq;    /* order the guest submitted it */
};

static struct model m;
static struct rtv_shunt sh;
static struct req reqs[MAXIO];
static unsigned nreqs;
static uint64_t now;
static uint32_t acked[SECTORS];       /* last acknowledged write per sector */
static int busy[SECTORS];             /* a request in flight on this sector */

static uint32_t path_read(enum rtv_path p, unsigned s)
{
    return m.cache[p][s] >= 0 ? (uint32_t)m.cache[p][s] : m.image[s];
}

static void op_submit(void *ctx, enum rtv_path p, struct rtv_io *io)
{
    (void)ctx;
    ck_assert_uint_lt(m.qlen[p], MAXIO);
    m.queue[p][m.qlen[p]++] = io;
    if (io->paths_left == 1 || p == RTV_PATH_EMULATED)
        m.submit_order[m.nsubmit++] = ((struct req *)io->priv)->idx;
}

static void op_complete(void *ctx, struct rtv_io *io, int status)
{
    struct req *r = io->priv;
    (void)ctx;
    ck_assert_msg(!r->done, "request %u completed twice", r->idx);
    r->done = 1;
    r->status = status;
    m.completed++;
    if (status == 0 && io->op == RTV_IO_WRITE)
        acked[io->sector] = r->value;
    if (status == 0 && io->op == RTV_IO_READ)
        ck_assert_msg(r->value == acked[io->sector],
                      "stale read of sector %u: got %u, last acked write %u",
                      (unsigned)io->sector, r->value, acked[io->sector]);
    if (io->op != RTV_IO_FLUSH)
        busy[io->sector] = 0;
}

static void op_flush(void *ctx, enum rtv_path p)
{
    (void)ctx;
    m.flush_pending[p] = sh.flush_gen + 1;
}

static void op_switched(void *ctx, enum rtv_mode mode, bool ok)
{
    (void)ctx;
    (void)mode;
    if (ok)
        m.switched_ok++;
    else
        m.switched_fail++;
}

static const struct rtv_shunt_ops ops = {
    .submit = op_submit, .complete = op_complete,
    .flush = op_flush, .switched = op_switched,
};

static void setup(void)
{
    memset(&m, 0, sizeof(m));
    memset(m.cache, 0xff, sizeof(m.cache));
    memset(reqs, 0, sizeof(reqs));
    memset(acked, 0, sizeof(acked));
    memset(busy, 0, sizeof(busy));
    nreqs = 0;
    now = 0;
    rtv_shunt_init(&sh, &ops, NULL, RTV_MODE_EMULATED);
}

static struct req *new_req(enum rtv_io_op op, unsigned sector, uint32_t value)
{
    ck_assert_uint_lt(nreqs, MAXIO);
    struct req *r = &reqs[nreqs];
    r->idx = nreqs;
    r->submit_seq = nreqs;
    nreqs++;
    r->io.op = op;
    r->io.sector = sector;
    r->io.nsect = 1;
    r->io.priv = r;
    r->value = value;
    if (op != RTV_IO_FLUSH)
        busy[sector] = 1;
    rtv_shunt_submit(&sh, &r->io);
    return r;
}

/* The path carries out the k-th queued request and reports it. */
static void path_complete(enum rtv_path p, unsigned k, int status)
{
    struct rtv_io *io = m.queue[p][k];
    struct req *r = io->priv;

    m.queue[p][k] = m.queue[p][--m.qlen[p]];
    if (status == 0) {
        switch (io->op) {
        case RTV_IO_WRITE:
            m.cache[p][io->sector] = (int)r->value;
            break;
        case RTV_IO_READ:
            r->value = path_read(p, (unsigned)io->sector);
            break;
        case RTV_IO_DISCARD:
            /* Hole punching goes to the image and invalidates both caches,
             * as a punch hole on the shared image file does in dom0. */
            m.image[io->sector] = 0;
            m.cache[0][io->sector] = m.cache[1][io->sector] = -1;
            break;
        case RTV_IO_FLUSH:
            for (unsigned s = 0; s < SECTORS; s++)
                if (m.cache[p][s] >= 0) {
                    m.image[s] = (uint32_t)m.cache[p][s];
                    m.cache[p][s] = -1;
                }
            break;
        }
    }
    rtv_shunt_io_done(&sh, p, io, status, now);
}

static void path_flush_done(enum rtv_path p)
{
    unsigned gen = m.flush_pending[p] - 1;
    int st = 0;

    m.flush_pending[p] = 0;
    if (m.flush_fail) {
        m.flush_fail = 0;
        st = -EIO;
    } else {
        for (unsigned s = 0; s < SECTORS; s++)
            if (m.cache[p][s] >= 0) {
                m.image[s] = (uint32_t)m.cache[p][s];
                m.cache[p][s] = -1;
            }
    }
    rtv_shunt_flush_done(&sh, p, gen, st, now);
}

START_TEST(routes_by_mode)
{
    ck_assert_uint_eq(rtv_shunt_route(RTV_MODE_EMULATED, RTV_IO_WRITE), RTV_PATH_EMULATED);
    ck_assert_uint_eq(rtv_shunt_route(RTV_MODE_PV, RTV_IO_DISCARD), RTV_PATH_PV);
    ck_assert_uint_eq(rtv_shunt_route(RTV_MODE_SELECTIVE, RTV_IO_READ), RTV_PATH_PV);
    ck_assert_uint_eq(rtv_shunt_route(RTV_MODE_SELECTIVE, RTV_IO_WRITE), RTV_PATH_PV);
    ck_assert_uint_eq(rtv_shunt_route(RTV_MODE_SELECTIVE, RTV_IO_DISCARD), RTV_PATH_EMULATED);
}
END_TEST

START_TEST(switch_waits_for_boundary_holds_flushes_then_replays_in_order)
{
    new_req(RTV_IO_WRITE, 1, 11);
    new_req(RTV_IO_WRITE, 2, 22);
    ck_assert_uint_eq(m.qlen[RTV_PATH_EMULATED], 2);

    now = 100;
    ck_assert_int_eq(rtv_shunt_begin_switch(&sh, RTV_MODE_PV, now), 0);
    ck_assert_int_eq(rtv_shunt_begin_switch(&sh, RTV_MODE_PV, now), -EBUSY);
    struct req *a = new_req(RTV_IO_READ, 1, 0);     /* held: busy, not error */
    struct req *b = new_req(RTV_IO_WRITE, 3, 33);
    ck_assert(!a->done && !b->done);
    ck_assert_uint_eq(sh.held_count, 2);
    ck_assert_uint_eq(m.qlen[RTV_PATH_PV], 0);

    path_complete(RTV_PATH_EMULATED, 1, 0);
    ck_assert_uint_eq(m.flush_pending[RTV_PATH_EMULATED], 0);  /* not drained yet */
    now = 180;
    path_complete(RTV_PATH_EMULATED, 0, 0);
    ck_assert_uint_ne(m.flush_pending[RTV_PATH_EMULATED], 0);  /* boundary: flush */
    ck_assert_uint_eq(m.qlen[RTV_PATH_PV], 0);                 /* still held */

    now = 350;
    path_flush_done(RTV_PATH_EMULATED);
    ck_assert_uint_eq(sh.mode, RTV_MODE_PV);
    ck_assert_uint_eq(sh.blackout_us, 250);
    ck_assert_uint_eq(sh.drain_us, 80);     /* where the blackout went */
    ck_assert_uint_eq(sh.flush_us, 170);
    ck_assert_uint_eq(sh.gate_us, 0);       /* no gate in these ops */
    ck_assert_uint_eq(m.switched_ok, 1);
    ck_assert_uint_eq(m.qlen[RTV_PATH_PV], 2);
    ck_assert_ptr_eq(m.queue[RTV_PATH_PV][0], &a->io);        /* arrival order */
    ck_assert_ptr_eq(m.queue[RTV_PATH_PV][1], &b->io);
    path_complete(RTV_PATH_PV, 0, 0);
    ck_assert_uint_eq(a->value, 11);   /* flushed before the flip: not stale */
}
END_TEST

START_TEST(switch_with_nothing_in_flight_flushes_at_once)
{
    ck_assert_int_eq(rtv_shunt_begin_switch(&sh, RTV_MODE_SELECTIVE, 0), 0);
    ck_assert_uint_ne(m.flush_pending[RTV_PATH_EMULATED], 0);
    path_flush_done(RTV_PATH_EMULATED);
    ck_assert_uint_eq(sh.mode, RTV_MODE_SELECTIVE);
    /* Leaving selective flushes both paths. */
    ck_assert_int_eq(rtv_shunt_begin_switch(&sh, RTV_MODE_EMULATED, 0), 0);
    ck_assert_uint_ne(m.flush_pending[RTV_PATH_EMULATED], 0);
    ck_assert_uint_ne(m.flush_pending[RTV_PATH_PV], 0);
    path_flush_done(RTV_PATH_PV);
    ck_assert_uint_eq(sh.mode, RTV_MODE_SELECTIVE);
    path_flush_done(RTV_PATH_EMULATED);
    ck_assert_uint_eq(sh.mode, RTV_MODE_EMULATED);
}
END_TEST

START_TEST(same_mode_switch_is_immediate)
{
    ck_assert_int_eq(rtv_shunt_begin_switch(&sh, RTV_MODE_EMULATED, 0), 0);
    ck_assert_uint_eq(sh.phase, RTV_SHUNT_RUNNING);
    ck_assert_uint_eq(m.switched_ok, 1);
    ck_assert_int_eq(rtv_shunt_begin_switch(&sh, RTV_MODE_COUNT, 0), -EINVAL);
}
END_TEST

START_TEST(selective_flush_covers_both_paths)
{
    ck_assert_int_eq(rtv_shunt_begin_switch(&sh, RTV_MODE_SELECTIVE, 0), 0);
    path_flush_done(RTV_PATH_EMULATED);
    struct req *f = new_req(RTV_IO_FLUSH, 0, 0);
    ck_assert_uint_eq(m.qlen[RTV_PATH_EMULATED], 1);
    ck_assert_uint_eq(m.qlen[RTV_PATH_PV], 1);
    path_complete(RTV_PATH_PV, 0, 0);
    ck_assert(!f->done);                  /* waits for the other path */
    path_complete(RTV_PATH_EMULATED, 0, -EIO);
    ck_assert(f->done);
    ck_assert_int_eq(f->status, -EIO);    /* either path failing fails it */
}
END_TEST

START_TEST(abort_replays_on_old_path_and_ignores_stale_flush)
{
    new_req(RTV_IO_WRITE, 1, 5);
    rtv_shunt_begin_switch(&sh, RTV_MODE_PV, 0);
    struct req *h = new_req(RTV_IO_WRITE, 2, 6);
    path_complete(RTV_PATH_EMULATED, 0, 0);
    ck_assert_uint_ne(m.flush_pending[RTV_PATH_EMULATED], 0);
    rtv_shunt_abort_switch(&sh, 10);      /* caller's bound passed */
    ck_assert_uint_eq(sh.mode, RTV_MODE_EMULATED);
    ck_assert_uint_eq(m.switched_fail, 1);
    ck_assert_uint_eq(m.qlen[RTV_PATH_EMULATED], 1);
    ck_assert_ptr_eq(m.queue[RTV_PATH_EMULATED][0], &h->io);
    path_flush_done(RTV_PATH_EMULATED);   /* late flush of the aborted switch */
    ck_assert_uint_eq(sh.mode, RTV_MODE_EMULATED);
    ck_assert_uint_eq(sh.phase, RTV_SHUNT_RUNNING);
    rtv_shunt_abort_switch(&sh, 10);      /* nothing running: no-op */
    ck_assert_uint_eq(m.switched_fail, 1);
}
END_TEST

START_TEST(failed_flush_rolls_back)
{
    rtv_shunt_begin_switch(&sh, RTV_MODE_PV, 0);
    struct req *h = new_req(RTV_IO_READ, 4, 0);
    m.flush_fail = 1;
    path_flush_done(RTV_PATH_EMULATED);
    ck_assert_uint_eq(sh.mode, RTV_MODE_EMULATED);
    ck_assert_uint_eq(m.switched_fail, 1);
    ck_assert_ptr_eq(m.queue[RTV_PATH_EMULATED][0], &h->io);
}
END_TEST

/* Random guest load, out-of-order completions, switches, aborts and failing
 * flushes; then drain.  Every request completes once with a fresh read. */
START_TEST(random_switching_loses_nothing)
{
    unsigned seed = 777u + (unsigned)_i;
    uint32_t next_value = 1;

    for (int step = 0; step < 3000 && nreqs < MAXIO - 8; step++) {
        unsigned r = (unsigned)rand_r(&seed);
        now += r % 7;
        switch (r % 10) {
        case 0: case 1: case 2: case 3: {
            unsigned s = (r >> 8) % SECTORS;
            if (busy[s])
                break;
            unsigned kind = (r >> 16) % 10;
            enum rtv_io_op op = kind < 4 ? RTV_IO_WRITE : kind < 8 ? RTV_IO_READ
                              : kind == 8 ? RTV_IO_FLUSH : RTV_IO_DISCARD;
            if (op == RTV_IO_DISCARD)
                op = RTV_IO_WRITE;   /* discard's zeroes are checked above */
            new_req(op, s, op == RTV_IO_WRITE ? next_value++ : 0);
            break;
        }
        case 4: case 5: case 6: {
            enum rtv_path p = (enum rtv_path)((r >> 8) % 2);
            if (m.qlen[p])
                path_complete(p, (r >> 12) % m.qlen[p], (r >> 20) % 50 ? 0 : -EIO);
            break;
        }
        case 7: {
            enum rtv_path p = (enum rtv_path)((r >> 8) % 2);
            if (m.flush_pending[p]) {
                m.flush_fail = (r >> 12) % 10 == 0;
                path_flush_done(p);
            }
            break;
        }
        case 8:
            rtv_shunt_begin_switch(&sh, (enum rtv_mode)((r >> 8) % RTV_MODE_COUNT), now);
            break;
        case 9:
            if ((r >> 8) % 4 == 0)
                rtv_shunt_abort_switch(&sh, now);
            break;
        }
    }
    /* Drain: finish every path, every flush; abort a stuck switch. */
    for (int guard = 0; guard < 100000; guard++) {
        if (m.qlen[0]) { path_complete(RTV_PATH_EMULATED, 0, 0); continue; }
        if (m.qlen[1]) { path_complete(RTV_PATH_PV, 0, 0); continue; }
        if (m.flush_pending[0]) { path_flush_done(RTV_PATH_EMULATED); continue; }
        if (m.flush_pending[1]) { path_flush_done(RTV_PATH_PV); continue; }
        if (sh.phase != RTV_SHUNT_RUNNING) { rtv_shunt_abort_switch(&sh, now); continue; }
        break;
    }
    ck_assert_uint_eq(sh.phase, RTV_SHUNT_RUNNING);
    ck_assert_uint_eq(rtv_shunt_inflight(&sh), 0);
    ck_assert_ptr_null(sh.held_head);
    ck_assert_uint_eq(m.completed, nreqs);
    for (unsigned i = 0; i < nreqs; i++)
        ck_assert_msg(reqs[i].done, "request %u never completed", i);
    ck_assert_uint_gt(m.switched_ok, 0);
}
END_TEST

/* The gate (step 3a): the engine flushed and waits for the caller. */
static int gated_calls;
static enum rtv_mode gated_target;

static void op_flushed(void *ctx, enum rtv_mode target)
{
    (void)ctx;
    gated_calls++;
    gated_target = target;
}

static const struct rtv_shunt_ops gated_ops = {
    .submit = op_submit, .complete = op_complete,
    .flush = op_flush, .flushed = op_flushed, .switched = op_switched,
};

START_TEST(gated_switch_flips_only_when_the_gate_opens)
{
    gated_calls = 0;
    rtv_shunt_init(&sh, &gated_ops, NULL, RTV_MODE_EMULATED);
    new_req(RTV_IO_WRITE, 1, 7);
    rtv_shunt_begin_switch(&sh, RTV_MODE_PV, 0);
    rtv_shunt_gate_open(&sh, 1);                    /* too early: not flushed yet */
    ck_assert_uint_eq(sh.mode, RTV_MODE_EMULATED);
    struct req *h = new_req(RTV_IO_READ, 1, 0);
    now = 30;
    path_complete(RTV_PATH_EMULATED, 0, 0);
    now = 100;
    path_flush_done(RTV_PATH_EMULATED);
    ck_assert_int_eq(gated_calls, 1);
    ck_assert_uint_eq(gated_target, RTV_MODE_PV);
    ck_assert_uint_eq(sh.phase, RTV_SHUNT_GATED);
    ck_assert_uint_eq(sh.mode, RTV_MODE_EMULATED);  /* no flip without the gate */
    ck_assert_uint_eq(m.qlen[RTV_PATH_PV], 0);
    struct req *h2 = new_req(RTV_IO_WRITE, 2, 8);   /* still held */
    ck_assert(!h->done && !h2->done);
    now = 500;
    rtv_shunt_gate_open(&sh, now);
    ck_assert_uint_eq(sh.mode, RTV_MODE_PV);
    ck_assert_uint_eq(sh.blackout_us, 500);          /* the wait counts */
    ck_assert_uint_eq(sh.drain_us, 30);
    ck_assert_uint_eq(sh.flush_us, 70);
    ck_assert_uint_eq(sh.gate_us, 400);
    ck_assert_uint_eq(m.switched_ok, 1);
    ck_assert_ptr_eq(m.queue[RTV_PATH_PV][0], &h->io);
    ck_assert_ptr_eq(m.queue[RTV_PATH_PV][1], &h2->io);
    rtv_shunt_gate_open(&sh, now);                   /* no-op now */
    ck_assert_uint_eq(m.switched_ok, 1);
}
END_TEST

START_TEST(gated_switch_aborts_back_to_the_old_path)
{
    rtv_shunt_init(&sh, &gated_ops, NULL, RTV_MODE_EMULATED);
    rtv_shunt_begin_switch(&sh, RTV_MODE_PV, 0);
    struct req *h = new_req(RTV_IO_WRITE, 3, 9);
    path_flush_done(RTV_PATH_EMULATED);
    ck_assert_uint_eq(sh.phase, RTV_SHUNT_GATED);
    rtv_shunt_abort_switch(&sh, 10);                 /* dom0's sync failed or timed out */
    ck_assert_uint_eq(sh.mode, RTV_MODE_EMULATED);
    ck_assert_uint_eq(sh.phase, RTV_SHUNT_RUNNING);
    ck_assert_uint_eq(m.switched_fail, 1);
    ck_assert_ptr_eq(m.queue[RTV_PATH_EMULATED][0], &h->io);
    rtv_shunt_gate_open(&sh, 20);                    /* a late go changes nothing */
    ck_assert_uint_eq(sh.mode, RTV_MODE_EMULATED);
}
END_TEST

static Suite *shunt_core_suite(void)
{
    Suite *s = suite_create("shunt_core");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, routes_by_mode);
    tcase_add_test(tc, switch_waits_for_boundary_holds_flushes_then_replays_in_order);
    tcase_add_test(tc, switch_with_nothing_in_flight_flushes_at_once);
    tcase_add_test(tc, same_mode_switch_is_immediate);
    tcase_add_test(tc, selective_flush_covers_both_paths);
    tcase_add_test(tc, abort_replays_on_old_path_and_ignores_stale_flush);
    tcase_add_test(tc, failed_flush_rolls_back);
    tcase_add_test(tc, gated_switch_flips_only_when_the_gate_opens);
    tcase_add_test(tc, gated_switch_aborts_back_to_the_old_path);
    tcase_add_loop_test(tc, random_switching_loses_nothing, 0, 16);
    suite_add_tcase(s, tc);
    return s;
}

RTV_UNIT_MAIN(shunt_core_suite)
