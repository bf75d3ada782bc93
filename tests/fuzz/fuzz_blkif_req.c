/*
 * libFuzzer: rtvirt-backd's view of a hostile frontend's ring.
 *
 * The input is what a frontend controls: the request slots of a shared ring
 * (one to four pages), its producer index (twice: it may move it between
 * two of our passes), and the indirect descriptor pages; plus what the
 * backend negotiated (disk size, features, read-only, indirect limit; ours,
 * so only values rtvirt-backd can advertise).  The loop is backd_io.c's:
 * rtv_blkif_ring_peek(), rtv_blkif_ring_take() to a private copy,
 * rtv_blkif_parse(), rtv_blkif_parse_indirect() for indirect requests, and a
 * response for each (some at once, the rest at the end of the pass, so the
 * ring runs full of unanswered requests).
 *
 * What a request that passes must satisfy is checked here independently of
 * blkif_req.c: segments inside their page, the sector range inside the
 * disk, no write to a read-only disk, no operation that was not negotiated,
 * never more responses outstanding than the ring holds.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz.h"
#include "rtvirt/blkif_req.h"

#define MAX_RING_PAGES 4u

static _Alignas(4096) uint8_t ring_mem[MAX_RING_PAGES * RTV_BLKIF_PAGE_SIZE];
static _Alignas(4096) uint8_t ind_mem[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST *
                                      RTV_BLKIF_PAGE_SIZE];

static void check_segs(const struct rtv_blkif_req *r)
{
    uint64_t total = 0;

    for (unsigned i = 0; i < r->nr_segs; i++) {
        FUZZ_CHECK(r->seg[i].first_sect <= r->seg[i].last_sect);
        FUZZ_CHECK(r->seg[i].last_sect < RTV_BLKIF_SECTORS_PER_PAGE);
        FUZZ_CHECK(rtv_blkif_seg_off(&r->seg[i]) + rtv_blkif_seg_len(&r->seg[i]) <=
                   RTV_BLKIF_PAGE_SIZE);
        total += r->seg[i].last_sect - r->seg[i].first_sect + 1u;
    }
    FUZZ_CHECK(total == r->nr_sectors);
}

/* What an accepted request must be, whatever blkif_req.c thinks. */
static void check_accepted(const struct blkif_request *copy,
                           const struct rtv_blkif_req *r,
                           const struct rtv_blkif_limits *lim)
{
    FUZZ_CHECK(r->id == copy->id);
    FUZZ_CHECK(r->sector <= lim->nr_sectors &&
               r->nr_sectors <= lim->nr_sectors - r->sector);
    switch (r->kind) {
    case RTV_BLKIF_READ:
    case RTV_BLKIF_WRITE:
        FUZZ_CHECK(r->nr_segs >= 1);
        FUZZ_CHECK(!(r->kind == RTV_BLKIF_WRITE && lim->read_only));
        if (copy->operation == BLKIF_OP_INDIRECT) {
            FUZZ_CHECK(lim->max_indirect_segs > 0);
            FUZZ_CHECK(r->nr_segs <= lim->max_indirect_segs &&
                       r->nr_segs <= RTV_BLKIF_MAX_SEGS);
            FUZZ_CHECK(r->nr_indirect_pages == 0);   /* fetched */
        } else {
            FUZZ_CHECK(r->nr_segs <= BLKIF_MAX_SEGMENTS_PER_REQUEST);
        }
        check_segs(r);
        break;
    case RTV_BLKIF_FLUSH:
        FUZZ_CHECK(r->nr_segs == 0 && r->nr_sectors == 0 && r->preflush);
        break;
    case RTV_BLKIF_DISCARD:
        FUZZ_CHECK(lim->discard && !lim->read_only);
        break;
    }
    if (copy->operation == BLKIF_OP_WRITE_BARRIER)
        FUZZ_CHECK(lim->barrier && r->drain);
    if (copy->operation == BLKIF_OP_FLUSH_DISKCACHE)
        FUZZ_CHECK(lim->flush);
}

/* One pass of backd_queue_kick()'s loop; responds to everything taken. */
static void pass(blkif_back_ring_t *ring, const struct rtv_blkif_limits *lim,
                 uint8_t defer)
{
    static struct rtv_blkif_req req;
    struct blkif_request copy;
    uint64_t pending_ids[64];
    uint8_t pending_ops[64];
    unsigned pending = 0;
    RING_IDX rp;

    if (rtv_blkif_ring_peek(ring, &rp) < 0)
        return;   /* backd halts the ring */
    FUZZ_CHECK(rp - ring->rsp_prod_pvt <= RING_SIZE(ring));
    for (unsigned k = 0; rtv_blkif_ring_take(ring, rp, &copy); k++) {
        enum rtv_blkif_verdict v = rtv_blkif_parse(&copy, lim, &req);

        FUZZ_CHECK(ring->req_cons - ring->rsp_prod_pvt <= RING_SIZE(ring));
        if (v == RTV_BLKIF_OK && req.nr_indirect_pages > 0) {
            const void *pages[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];

            FUZZ_CHECK(copy.operation == BLKIF_OP_INDIRECT);
            FUZZ_CHECK(req.nr_indirect_pages <= BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST);
            for (unsigned i = 0; i < req.nr_indirect_pages; i++)
                pages[i] = ind_mem + (size_t)i * RTV_BLKIF_PAGE_SIZE;
            v = rtv_blkif_parse_indirect(&req, pages, lim);
        }
        FUZZ_CHECK(rtv_blkif_verdict_str(v) != NULL);
        if (v == RTV_BLKIF_OK)
            check_accepted(&copy, &req, lim);
        /* Answer now, or keep it outstanding (as a request in flight). */
        if ((defer >> (k % 8)) & 1 && pending < 64) {
            pending_ids[pending] = req.id;
            pending_ops[pending++] = req.operation;
        } else {
            rtv_blkif_ring_respond(ring, req.id, req.operation,
                                   v == RTV_BLKIF_OK ? BLKIF_RSP_OKAY : BLKIF_RSP_ERROR);
        }
    }
    while (pending > 0) {
        pending--;
        rtv_blkif_ring_respond(ring, pending_ids[pending], pending_ops[pending],
                               BLKIF_RSP_OKAY);
    }
    FUZZ_CHECK(ring->rsp_prod_pvt == ring->req_cons);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = { data, size };
    struct rtv_blkif_limits lim;
    blkif_back_ring_t ring;
    blkif_sring_t *sring = (blkif_sring_t *)ring_mem;
    uint8_t flags = fuzz_u8(&in);
    unsigned order = (flags >> 5) % 3u;
    RING_IDX start, req_prod2;
    uint8_t defer1, defer2;
    unsigned nreq;

    lim.read_only = flags & 1;
    lim.flush = flags & 2;
    lim.barrier = flags & 4;
    lim.discard = flags & 8;
    /* Ours, not the peer's: rtvirt-backd advertises at most this. */
    lim.max_indirect_segs = (flags & 16)
        ? fuzz_u16(&in) % (RTV_BLKIF_MAX_INDIRECT_SEGS + 1u) : 0;
    lim.nr_sectors = fuzz_u64(&in);

    memset(ring_mem, 0, sizeof(ring_mem));
    SHARED_RING_INIT(sring);
    BACK_RING_INIT(&ring, sring, RTV_BLKIF_PAGE_SIZE << order);
    /* Where the previous session left the indexes (consistent: ours). */
    start = fuzz_u32(&in);
    ring.req_cons = ring.rsp_prod_pvt = start;
    sring->rsp_prod = start;
    sring->req_prod = fuzz_u32(&in);   /* the frontend's, anything */
    req_prod2 = fuzz_u32(&in);
    defer1 = fuzz_u8(&in);
    defer2 = fuzz_u8(&in);

    /* The frontend's requests, in the slots from req_cons on. */
    nreq = fuzz_u8(&in) % (RING_SIZE(&ring) + 1u);
    for (unsigned i = 0; i < nreq; i++)
        fuzz_take(&in, RING_GET_REQUEST(&ring, start + i), sizeof(union blkif_sring_entry));

    /* Indirect pages: the first descriptors straight from the input. */
    size_t ind = in.n < sizeof(ind_mem) / 4 ? in.n : sizeof(ind_mem) / 4;
    memset(ind_mem, 0, sizeof(ind_mem));
    fuzz_take(&in, ind_mem, ind);

    pass(&ring, &lim, defer1);
    /* The frontend moves its producer again, as it likes. */
    sring->req_prod = req_prod2;
    pass(&ring, &lim, defer2);
    return 0;
}
