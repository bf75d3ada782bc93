/*
 * Unit tests for common/blkif_req.c: a catalogue of malformed requests, each
 * rejected with its named reason, valid requests accepted and normalised,
 * ring producer overflow, copy semantics, and the frontend's response check.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rtvirt/blkif_req.h"
#include "unit.h"

#define DISK_SECTORS 2048u   /* 1 MiB */

static const struct rtv_blkif_limits lim_all = {
    .nr_sectors = DISK_SECTORS, .read_only = false, .flush = true,
    .barrier = true, .discard = true, .max_indirect_segs = 64,
};

static struct blkif_request rw(uint8_t op, uint64_t sector, unsigned nseg)
{
    struct blkif_request r;

    memset(&r, 0, sizeof(r));
    r.operation = op;
    r.nr_segments = (uint8_t)nseg;
    r.id = 0x1234;
    r.sector_number = sector;
    for (unsigned i = 0; i < nseg && i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++) {
        r.seg[i].gref = 100 + i;
        r.seg[i].first_sect = 0;
        r.seg[i].last_sect = 7;
    }
    return r;
}

static struct blkif_request discard(uint64_t sector, uint64_t n)
{
    struct blkif_request r;
    struct blkif_request_discard *d = (struct blkif_request_discard *)&r;

    memset(&r, 0, sizeof(r));
    d->operation = BLKIF_OP_DISCARD;
    d->id = 7;
    d->sector_number = sector;
    d->nr_sectors = n;
    return r;
}

static struct blkif_request indirect(uint8_t op, uint64_t sector, unsigned nseg)
{
    struct blkif_request r;
    struct blkif_request_indirect *ind = (struct blkif_request_indirect *)&r;

    memset(&r, 0, sizeof(r));
    ind->operation = BLKIF_OP_INDIRECT;
    ind->indirect_op = op;
    ind->nr_segments = (uint16_t)nseg;
    ind->id = 99;
    ind->sector_number = sector;
    for (unsigned i = 0; i < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; i++)
        ind->indirect_grefs[i] = 500 + i;
    return r;
}

static enum rtv_blkif_verdict parse(struct blkif_request r,
                                    const struct rtv_blkif_limits *lim,
                                    struct rtv_blkif_req *out)
{
    return rtv_blkif_parse(&r, lim, out);
}

/* ---- the catalogue of malformed requests --------------------------------- */

struct bad_case {
    const char *what;
    struct blkif_request req;
    struct rtv_blkif_limits lim;
    enum rtv_blkif_verdict want;
};

static struct bad_case bad[40];
static unsigned nr_bad;

static void add_bad(const char *what, struct blkif_request r,
                    struct rtv_blkif_limits lim, enum rtv_blkif_verdict want)
{
    bad[nr_bad++] = (struct bad_case){ what, r, lim, want };
}

static void build_catalogue(void)
{
    struct rtv_blkif_limits ro = lim_all, nofeat = lim_all;
    struct blkif_request r;

    ro.read_only = true;
    nofeat.flush = nofeat.barrier = nofeat.discard = false;
    nofeat.max_indirect_segs = 0;
    nr_bad = 0;

    r = rw(BLKIF_OP_READ, 0, 1); r.operation = BLKIF_OP_RESERVED_1;
    add_bad("reserved op", r, lim_all, RTV_BLKIF_E_UNKNOWN_OP);
    r = rw(BLKIF_OP_READ, 0, 1); r.operation = 0xff;
    add_bad("op 0xff", r, lim_all, RTV_BLKIF_E_UNKNOWN_OP);
    add_bad("read 0 segs", rw(BLKIF_OP_READ, 0, 0), lim_all, RTV_BLKIF_E_NO_SEGMENTS);
    add_bad("write 0 segs", rw(BLKIF_OP_WRITE, 0, 0), lim_all, RTV_BLKIF_E_NO_SEGMENTS);
    add_bad("read 12 segs", rw(BLKIF_OP_READ, 0, 12), lim_all, RTV_BLKIF_E_TOO_MANY_SEGMENTS);
    add_bad("write 255 segs", rw(BLKIF_OP_WRITE, 0, 255), lim_all, RTV_BLKIF_E_TOO_MANY_SEGMENTS);
    r = rw(BLKIF_OP_READ, 0, 3); r.seg[2].first_sect = 5; r.seg[2].last_sect = 4;
    add_bad("first > last", r, lim_all, RTV_BLKIF_E_FIRST_GT_LAST);
    r = rw(BLKIF_OP_WRITE, 0, 1); r.seg[0].last_sect = 8;
    add_bad("last_sect 8", r, lim_all, RTV_BLKIF_E_PAGE_CROSSING);
    r = rw(BLKIF_OP_WRITE, 0, 1); r.seg[0].first_sect = 200; r.seg[0].last_sect = 255;
    add_bad("both beyond page", r, lim_all, RTV_BLKIF_E_PAGE_CROSSING);
    add_bad("read past end", rw(BLKIF_OP_READ, DISK_SECTORS - 8, 2), lim_all, RTV_BLKIF_E_BEYOND_END);
    add_bad("read at end", rw(BLKIF_OP_READ, DISK_SECTORS, 1), lim_all, RTV_BLKIF_E_BEYOND_END);
    add_bad("sector wraps", rw(BLKIF_OP_READ, UINT64_MAX - 3, 1), lim_all, RTV_BLKIF_E_BEYOND_END);
    add_bad("write on ro", rw(BLKIF_OP_WRITE, 0, 1), ro, RTV_BLKIF_E_READ_ONLY);
    add_bad("flush+data on ro", rw(BLKIF_OP_FLUSH_DISKCACHE, 0, 1), ro, RTV_BLKIF_E_READ_ONLY);
    add_bad("flush not negotiated", rw(BLKIF_OP_FLUSH_DISKCACHE, 0, 0), nofeat, RTV_BLKIF_E_OP_NOT_NEGOTIATED);
    add_bad("barrier not negotiated", rw(BLKIF_OP_WRITE_BARRIER, 0, 1), nofeat, RTV_BLKIF_E_OP_NOT_NEGOTIATED);
    add_bad("flush 12 segs", rw(BLKIF_OP_FLUSH_DISKCACHE, 0, 12), lim_all, RTV_BLKIF_E_TOO_MANY_SEGMENTS);
    add_bad("discard not negotiated", discard(0, 8), nofeat, RTV_BLKIF_E_OP_NOT_NEGOTIATED);
    add_bad("discard on ro", discard(0, 8), ro, RTV_BLKIF_E_READ_ONLY);
    add_bad("discard past end", discard(DISK_SECTORS - 4, 8), lim_all, RTV_BLKIF_E_DISCARD_RANGE);
    add_bad("discard wraps", discard(8, UINT64_MAX - 4), lim_all, RTV_BLKIF_E_DISCARD_RANGE);
    add_bad("indirect not negotiated", indirect(BLKIF_OP_READ, 0, 16), nofeat, RTV_BLKIF_E_OP_NOT_NEGOTIATED);
    add_bad("indirect op flush", indirect(BLKIF_OP_FLUSH_DISKCACHE, 0, 16), lim_all, RTV_BLKIF_E_INDIRECT_OP);
    add_bad("indirect op indirect", indirect(BLKIF_OP_INDIRECT, 0, 16), lim_all, RTV_BLKIF_E_INDIRECT_OP);
    add_bad("indirect 0 segs", indirect(BLKIF_OP_READ, 0, 0), lim_all, RTV_BLKIF_E_INDIRECT_SEGMENTS);
    add_bad("indirect over max", indirect(BLKIF_OP_READ, 0, 65), lim_all, RTV_BLKIF_E_INDIRECT_SEGMENTS);
    add_bad("indirect 65535 segs", indirect(BLKIF_OP_WRITE, 0, 65535), lim_all, RTV_BLKIF_E_INDIRECT_SEGMENTS);
    add_bad("indirect write on ro", indirect(BLKIF_OP_WRITE, 0, 16), ro, RTV_BLKIF_E_READ_ONLY);
}

START_TEST(test_bad_catalogue)
{
    struct rtv_blkif_req out;

    build_catalogue();
    ck_assert_uint_ge(nr_bad, 25);
    for (unsigned i = 0; i < nr_bad; i++) {
        enum rtv_blkif_verdict v = rtv_blkif_parse(&bad[i].req, &bad[i].lim, &out);

        ck_assert_msg(v == bad[i].want, "%s: got \"%s\", want \"%s\"", bad[i].what,
                      rtv_blkif_verdict_str(v), rtv_blkif_verdict_str(bad[i].want));
        /* A rejection still carries what the error response needs. */
        ck_assert_uint_eq(out.id, bad[i].req.id);
        if (bad[i].req.operation == BLKIF_OP_INDIRECT)
            ck_assert_uint_eq(out.operation,
                              ((struct blkif_request_indirect *)&bad[i].req)->indirect_op);
        else
            ck_assert_uint_eq(out.operation, bad[i].req.operation);
    }
}
END_TEST

START_TEST(test_verdict_names)
{
    ck_assert_str_eq(rtv_blkif_verdict_str(RTV_BLKIF_E_FIRST_GT_LAST), "first > last sector");
    ck_assert_str_eq(rtv_blkif_verdict_str(RTV_BLKIF_E_PAGE_CROSSING), "page crossing");
    ck_assert_str_eq(rtv_blkif_verdict_str(RTV_BLKIF_VERDICT_COUNT), "invalid verdict");
    for (unsigned v = 0; v < RTV_BLKIF_VERDICT_COUNT; v++)
        ck_assert_ptr_nonnull(rtv_blkif_verdict_str(v));
    for (unsigned v = 0; v < RTV_BLKIF_RSP_VERDICT_COUNT; v++)
        ck_assert_ptr_nonnull(rtv_blkif_rsp_verdict_str(v));
}
END_TEST

/* ---- valid requests -------------------------------------------------------- */

START_TEST(test_valid_read_write)
{
    struct rtv_blkif_req out;
    struct blkif_request r = rw(BLKIF_OP_WRITE, 16, 11);

    r.seg[0].first_sect = 3;          /* partial first page */
    r.seg[10].last_sect = 0;          /* one sector of the last page */
    ck_assert_int_eq(rtv_blkif_parse(&r, &lim_all, &out), RTV_BLKIF_OK);
    ck_assert_int_eq(out.kind, RTV_BLKIF_WRITE);
    ck_assert_uint_eq(out.sector, 16);
    ck_assert_uint_eq(out.nr_segs, 11);
    ck_assert_uint_eq(out.nr_sectors, 5 + 9 * 8 + 1);
    ck_assert_uint_eq(rtv_blkif_seg_off(&out.seg[0]), 3 * 512);
    ck_assert_uint_eq(rtv_blkif_seg_len(&out.seg[0]), 5 * 512);
    ck_assert(!out.preflush && !out.postflush && !out.drain);

    /* Exactly up to the last sector is fine. */
    ck_assert_int_eq(parse(rw(BLKIF_OP_READ, DISK_SECTORS - 8, 1), &lim_all, &out),
                     RTV_BLKIF_OK);
    ck_assert_int_eq(out.kind, RTV_BLKIF_READ);
    /* Reads from a read-only device are fine. */
    struct rtv_blkif_limits ro = lim_all;
    ro.read_only = true;
    ck_assert_int_eq(parse(rw(BLKIF_OP_READ, 0, 2), &ro, &out), RTV_BLKIF_OK);
}
END_TEST

START_TEST(test_valid_flush_barrier_discard)
{
    struct rtv_blkif_req out;

    ck_assert_int_eq(parse(rw(BLKIF_OP_FLUSH_DISKCACHE, 0, 0), &lim_all, &out), RTV_BLKIF_OK);
    ck_assert_int_eq(out.kind, RTV_BLKIF_FLUSH);
    ck_assert(out.preflush && !out.drain);

    ck_assert_int_eq(parse(rw(BLKIF_OP_FLUSH_DISKCACHE, 8, 2), &lim_all, &out), RTV_BLKIF_OK);
    ck_assert_int_eq(out.kind, RTV_BLKIF_WRITE);
    ck_assert(out.preflush && out.postflush && !out.drain);
    ck_assert_uint_eq(out.nr_sectors, 16);

    ck_assert_int_eq(parse(rw(BLKIF_OP_WRITE_BARRIER, 8, 1), &lim_all, &out), RTV_BLKIF_OK);
    ck_assert(out.drain && out.preflush && out.postflush);

    ck_assert_int_eq(parse(discard(8, DISK_SECTORS - 8), &lim_all, &out), RTV_BLKIF_OK);
    ck_assert_int_eq(out.kind, RTV_BLKIF_DISCARD);
    ck_assert_uint_eq(out.sector, 8);
    ck_assert_uint_eq(out.nr_sectors, DISK_SECTORS - 8);
    ck_assert(!out.secure);
    struct blkif_request d = discard(0, 1);
    ((struct blkif_request_discard *)&d)->flag = BLKIF_DISCARD_SECURE;
    ck_assert_int_eq(rtv_blkif_parse(&d, &lim_all, &out), RTV_BLKIF_OK);
    ck_assert(out.secure);
}
END_TEST

/* ---- indirect -------------------------------------------------------------- */

START_TEST(test_indirect)
{
    struct rtv_blkif_req out;
    struct rtv_blkif_limits lim = lim_all;
    static struct blkif_request_segment page0[RTV_BLKIF_SEGS_PER_INDIRECT_PAGE],
                                        page1[RTV_BLKIF_SEGS_PER_INDIRECT_PAGE];
    const void *pages[2] = { page0, page1 };
    unsigned n = RTV_BLKIF_SEGS_PER_INDIRECT_PAGE + 10;   /* spans 2 pages */

    lim.max_indirect_segs = RTV_BLKIF_MAX_INDIRECT_SEGS;
    lim.nr_sectors = 1u << 20;
    for (unsigned i = 0; i < n; i++) {
        struct blkif_request_segment *s =
            i < RTV_BLKIF_SEGS_PER_INDIRECT_PAGE ? &page0[i]
                                                 : &page1[i - RTV_BLKIF_SEGS_PER_INDIRECT_PAGE];
        s->gref = 1000 + i;
        s->first_sect = 0;
        s->last_sect = 7;
    }
    ck_assert_int_eq(parse(indirect(BLKIF_OP_WRITE, 64, n), &lim, &out), RTV_BLKIF_OK);
    ck_assert_int_eq(out.kind, RTV_BLKIF_WRITE);
    ck_assert_uint_eq(out.operation, BLKIF_OP_WRITE);   /* echo indirect_op */
    ck_assert_uint_eq(out.id, 99);
    ck_assert_uint_eq(out.nr_indirect_pages, 2);
    ck_assert_uint_eq(out.indirect_grefs[1], 501);
    ck_assert_int_eq(rtv_blkif_parse_indirect(&out, pages, &lim), RTV_BLKIF_OK);
    ck_assert_uint_eq(out.nr_indirect_pages, 0);
    ck_assert_uint_eq(out.nr_sectors, n * 8);
    ck_assert_uint_eq(out.seg[n - 1].gref, 1000 + n - 1);

    /* The descriptors are copied: changing the page afterwards changes nothing. */
    page0[0].gref = 0xdead;
    ck_assert_uint_eq(out.seg[0].gref, 1000);

    /* Bad descriptors in the indirect page. */
    ck_assert_int_eq(parse(indirect(BLKIF_OP_READ, 64, n), &lim, &out), RTV_BLKIF_OK);
    page1[3].first_sect = 7; page1[3].last_sect = 1;
    ck_assert_int_eq(rtv_blkif_parse_indirect(&out, pages, &lim), RTV_BLKIF_E_FIRST_GT_LAST);
    page1[3].first_sect = 0; page1[3].last_sect = 9;
    ck_assert_int_eq(parse(indirect(BLKIF_OP_READ, 64, n), &lim, &out), RTV_BLKIF_OK);
    ck_assert_int_eq(rtv_blkif_parse_indirect(&out, pages, &lim), RTV_BLKIF_E_PAGE_CROSSING);
    page1[3].last_sect = 7;
    ck_assert_int_eq(parse(indirect(BLKIF_OP_READ, lim.nr_sectors - 8, n), &lim, &out), RTV_BLKIF_OK);
    ck_assert_int_eq(rtv_blkif_parse_indirect(&out, pages, &lim), RTV_BLKIF_E_BEYOND_END);
}
END_TEST

/* ---- ring helpers ---------------------------------------------------------- */

static void *ring_page(void)
{
    void *p = NULL;

    ck_assert_int_eq(posix_memalign(&p, RTV_BLKIF_PAGE_SIZE, RTV_BLKIF_PAGE_SIZE), 0);
    memset(p, 0, RTV_BLKIF_PAGE_SIZE);
    return p;
}

START_TEST(test_ring_copy_and_respond)
{
    blkif_sring_t *s = ring_page();
    blkif_front_ring_t fr;
    blkif_back_ring_t br;
    struct blkif_request copy;
    RING_IDX rp;
    int notify;

    SHARED_RING_INIT(s);
    FRONT_RING_INIT(&fr, s, RTV_BLKIF_PAGE_SIZE);
    BACK_RING_INIT(&br, s, RTV_BLKIF_PAGE_SIZE);
    ck_assert_uint_eq(RING_SIZE(&br), 32);

    *RING_GET_REQUEST(&fr, fr.req_prod_pvt) = rw(BLKIF_OP_READ, 8, 1);
    fr.req_prod_pvt++;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&fr, notify);
    ck_assert_int_ne(notify, 0);

    ck_assert_int_eq(rtv_blkif_ring_peek(&br, &rp), 0);
    ck_assert_uint_eq(rp, 1);
    ck_assert(rtv_blkif_ring_take(&br, rp, &copy));
    ck_assert(!rtv_blkif_ring_take(&br, rp, &copy));
    /* The frontend rewrites the slot after we copied: the copy is ours. */
    RING_GET_REQUEST(&fr, 0)->sector_number = 4000;
    ck_assert_uint_eq(copy.sector_number, 8);

    ck_assert(rtv_blkif_ring_respond(&br, copy.id, copy.operation, BLKIF_RSP_OKAY));
    ck_assert_int_eq(rtv_blkif_front_peek(&fr, &rp), 0);
    ck_assert_uint_eq(rp, 1);
    ck_assert_uint_eq(RING_GET_RESPONSE(&fr, 0)->id, 0x1234);
    free(s);
}
END_TEST

START_TEST(test_ring_prod_overflow)
{
    blkif_sring_t *s = ring_page();
    blkif_back_ring_t br;
    blkif_front_ring_t fr;
    RING_IDX rp;

    SHARED_RING_INIT(s);
    BACK_RING_INIT(&br, s, RTV_BLKIF_PAGE_SIZE);
    s->req_prod = 32;                       /* exactly full: allowed */
    ck_assert_int_eq(rtv_blkif_ring_peek(&br, &rp), 0);
    s->req_prod = 33;                       /* more than the ring holds */
    ck_assert_int_eq(rtv_blkif_ring_peek(&br, &rp), -EPROTO);
    s->req_prod = 0xfffffff0u;              /* a huge jump */
    ck_assert_int_eq(rtv_blkif_ring_peek(&br, &rp), -EPROTO);

    /* Response side, as the frontend sees it. */
    SHARED_RING_INIT(s);
    FRONT_RING_INIT(&fr, s, RTV_BLKIF_PAGE_SIZE);
    s->rsp_prod = 40;
    ck_assert_int_eq(rtv_blkif_front_peek(&fr, &rp), -EPROTO);
    free(s);
}
END_TEST

/* Found by tests/fuzz/fuzz_blkif_rsp: ring.h's RING_RESPONSE_PROD_OVERFLOW
 * lets a backend produce a whole ring of responses to two requests; the
 * slots past them are stale and would be read as responses. */
START_TEST(test_front_peek_more_than_pushed)
{
    blkif_sring_t *s = ring_page();
    blkif_front_ring_t fr;
    RING_IDX rp;

    SHARED_RING_INIT(s);
    FRONT_RING_INIT(&fr, s, RTV_BLKIF_PAGE_SIZE);
    fr.rsp_cons = fr.req_prod_pvt = 0xfffffffeu;   /* about to wrap */
    fr.req_prod_pvt += 2;                          /* two requests pushed */
    s->req_prod = fr.req_prod_pvt;
    s->rsp_prod = fr.rsp_cons + 2;
    ck_assert_int_eq(rtv_blkif_front_peek(&fr, &rp), 0);
    ck_assert_uint_eq(rp, fr.rsp_cons + 2);
    s->rsp_prod = fr.rsp_cons + 3;                 /* within 32, over 2 */
    ck_assert_int_eq(rtv_blkif_front_peek(&fr, &rp), -EPROTO);
    s->rsp_prod = fr.rsp_cons - 1;                 /* backwards */
    ck_assert_int_eq(rtv_blkif_front_peek(&fr, &rp), -EPROTO);
    free(s);
}
END_TEST

START_TEST(test_ring_multipage)
{
    unsigned order = 2, size = RTV_BLKIF_PAGE_SIZE << order;
    void *p = NULL;
    blkif_back_ring_t br;
    RING_IDX rp;

    ck_assert_int_eq(posix_memalign(&p, RTV_BLKIF_PAGE_SIZE, size), 0);
    memset(p, 0, size);
    SHARED_RING_INIT((blkif_sring_t *)p);
    BACK_RING_INIT(&br, (blkif_sring_t *)p, size);
    ck_assert_uint_eq(RING_SIZE(&br), 128);
    ((blkif_sring_t *)p)->req_prod = 128;
    ck_assert_int_eq(rtv_blkif_ring_peek(&br, &rp), 0);
    ((blkif_sring_t *)p)->req_prod = 129;
    ck_assert_int_eq(rtv_blkif_ring_peek(&br, &rp), -EPROTO);
    free(p);
}
END_TEST

/* ---- frontend response check ----------------------------------------------- */

START_TEST(test_rsp_check)
{
    bool inflight[4] = { true, false, true, true };
    uint8_t ops[4] = { BLKIF_OP_READ, 0, BLKIF_OP_WRITE, BLKIF_OP_INDIRECT };
    struct blkif_response r = { .id = 0, .operation = BLKIF_OP_READ, .status = 0 };

    ck_assert_int_eq(rtv_blkif_rsp_check(&r, 4, inflight, ops, NULL), RTV_BLKIF_RSP_OK);
    r.status = BLKIF_RSP_EOPNOTSUPP;
    ck_assert_int_eq(rtv_blkif_rsp_check(&r, 4, inflight, ops, NULL), RTV_BLKIF_RSP_OK);
    r.status = 5;
    ck_assert_int_eq(rtv_blkif_rsp_check(&r, 4, inflight, ops, NULL), RTV_BLKIF_RSP_E_BAD_STATUS);
    r.status = 0;
    r.id = 4;
    ck_assert_int_eq(rtv_blkif_rsp_check(&r, 4, inflight, ops, NULL), RTV_BLKIF_RSP_E_BAD_ID);
    r.id = UINT64_MAX;
    ck_assert_int_eq(rtv_blkif_rsp_check(&r, 4, inflight, ops, NULL), RTV_BLKIF_RSP_E_BAD_ID);
    r.id = 1;
    ck_assert_int_eq(rtv_blkif_rsp_check(&r, 4, inflight, ops, NULL), RTV_BLKIF_RSP_E_NOT_INFLIGHT);
    r.id = 2;
    ck_assert_int_eq(rtv_blkif_rsp_check(&r, 4, inflight, ops, NULL), RTV_BLKIF_RSP_E_OP_MISMATCH);
    r.operation = BLKIF_OP_WRITE;
    ck_assert_int_eq(rtv_blkif_rsp_check(&r, 4, inflight, ops, NULL), RTV_BLKIF_RSP_OK);

    /* Indirect: BLKIF_OP_INDIRECT or the indirect_op, nothing else. */
    uint8_t alt[4] = { BLKIF_OP_READ, 0, BLKIF_OP_WRITE, BLKIF_OP_WRITE };
    r.id = 3;
    r.operation = BLKIF_OP_INDIRECT;
    ck_assert_int_eq(rtv_blkif_rsp_check(&r, 4, inflight, ops, alt), RTV_BLKIF_RSP_OK);
    r.operation = BLKIF_OP_WRITE;
    ck_assert_int_eq(rtv_blkif_rsp_check(&r, 4, inflight, ops, alt), RTV_BLKIF_RSP_OK);
    ck_assert_int_eq(rtv_blkif_rsp_check(&r, 4, inflight, ops, NULL), RTV_BLKIF_RSP_E_OP_MISMATCH);
    r.operation = BLKIF_OP_READ;
    ck_assert_int_eq(rtv_blkif_rsp_check(&r, 4, inflight, ops, alt), RTV_BLKIF_RSP_E_OP_MISMATCH);
}
END_TEST

RTV_UNIT_ONE_CASE_SUITE(blkif_req_suite, "blkif_req", "core", NULL, NULL, 0,
                        test_bad_catalogue, test_verdict_names, test_valid_read_write,
                        test_valid_flush_barrier_discard, test_indirect, test_ring_copy_and_respond,
                        test_ring_prod_overflow, test_front_peek_more_than_pushed,
                        test_ring_multipage, test_rsp_check)

RTV_UNIT_MAIN(blkif_req_suite)
