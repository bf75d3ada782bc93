/*
 * blkif request/response checking (see rtvirt/blkif_req.h).
 *
 * Everything here works on private copies: the ring helpers copy requests
 * with RING_COPY_REQUEST and fence before anything is validated, and
 * rtv_blkif_parse_indirect() copies the indirect descriptors out of the
 * shared page the same way.  Nothing asserts on peer input: every bad value
 * maps to a named verdict.
 */
#include "rtvirt/blkif_req.h"

#include <errno.h>
#include <string.h>

static const char *const verdict_names[RTV_BLKIF_VERDICT_COUNT] = {
    [RTV_BLKIF_OK]                  = "ok",
    [RTV_BLKIF_E_UNKNOWN_OP]        = "unknown operation",
    [RTV_BLKIF_E_OP_NOT_NEGOTIATED] = "operation not negotiated",
    [RTV_BLKIF_E_NO_SEGMENTS]       = "no segments",
    [RTV_BLKIF_E_TOO_MANY_SEGMENTS] = "too many segments",
    [RTV_BLKIF_E_INDIRECT_OP]       = "indirect operation not read/write",
    [RTV_BLKIF_E_INDIRECT_SEGMENTS] = "indirect segment count out of range",
    [RTV_BLKIF_E_FIRST_GT_LAST]     = "first > last sector",
    [RTV_BLKIF_E_PAGE_CROSSING]     = "page crossing",
    [RTV_BLKIF_E_BEYOND_END]        = "access beyond end of disk",
    [RTV_BLKIF_E_READ_ONLY]         = "write to read-only device",
    [RTV_BLKIF_E_DISCARD_RANGE]     = "discard range out of bounds",
};

const char *rtv_blkif_verdict_str(enum rtv_blkif_verdict v)
{
    if ((unsigned)v >= RTV_BLKIF_VERDICT_COUNT)
        return "invalid verdict";
    return verdict_names[v];
}

static const char *const rsp_verdict_names[RTV_BLKIF_RSP_VERDICT_COUNT] = {
    [RTV_BLKIF_RSP_OK]              = "ok",
    [RTV_BLKIF_RSP_E_PROD_OVERFLOW] = "response producer overflow",
    [RTV_BLKIF_RSP_E_BAD_ID]        = "response id out of range",
    [RTV_BLKIF_RSP_E_NOT_INFLIGHT]  = "response for a request not in flight",
    [RTV_BLKIF_RSP_E_OP_MISMATCH]   = "response operation mismatch",
    [RTV_BLKIF_RSP_E_BAD_STATUS]    = "response status unknown",
};

const char *rtv_blkif_rsp_verdict_str(enum rtv_blkif_rsp_verdict v)
{
    if ((unsigned)v >= RTV_BLKIF_RSP_VERDICT_COUNT)
        return "invalid verdict";
    return rsp_verdict_names[v];
}

/* The sector range [sector, sector + n) must lie inside the disk; written so
 * that no sum can wrap. */
static bool range_ok(uint64_t sector, uint64_t n, uint64_t disk)
{
    return sector <= disk && n <= disk - sector;
}

/* Validates out->seg[0..nr_segs) (already private) and sums their length. */
static enum rtv_blkif_verdict check_segments(struct rtv_blkif_req *out,
                                             const struct rtv_blkif_limits *lim)
{
    uint64_t total = 0;

    for (unsigned i = 0; i < out->nr_segs; i++) {
        const struct blkif_request_segment *s = &out->seg[i];

        if (s->first_sect > s->last_sect)
            return RTV_BLKIF_E_FIRST_GT_LAST;
        if (s->last_sect >= RTV_BLKIF_SECTORS_PER_PAGE)
            return RTV_BLKIF_E_PAGE_CROSSING;
        total += (uint64_t)(s->last_sect - s->first_sect + 1);
    }
    out->nr_sectors = total;
    if (!range_ok(out->sector, total, lim->nr_sectors))
        return RTV_BLKIF_E_BEYOND_END;
    return RTV_BLKIF_OK;
}

enum rtv_blkif_verdict rtv_blkif_parse(const struct blkif_request *copy,
                                       const struct rtv_blkif_limits *lim,
                                       struct rtv_blkif_req *out)
{
    out->id = copy->id;
    out->operation = copy->operation;
    out->drain = out->preflush = out->postflush = out->secure = false;
    out->sector = 0;
    out->nr_sectors = 0;
    out->nr_segs = 0;
    out->nr_indirect_pages = 0;

    switch (copy->operation) {
    case BLKIF_OP_READ:
    case BLKIF_OP_WRITE:
        out->kind = copy->operation == BLKIF_OP_READ ? RTV_BLKIF_READ
                                                     : RTV_BLKIF_WRITE;
        if (copy->nr_segments == 0)
            return RTV_BLKIF_E_NO_SEGMENTS;
        break;

    case BLKIF_OP_WRITE_BARRIER:
    case BLKIF_OP_FLUSH_DISKCACHE:
        /* With segments these are writes ordered by a cache flush before
         * (and, as Linux blkback does, made durable after); without they are
         * pure flushes.  A barrier also waits for everything in flight. */
        if (copy->operation == BLKIF_OP_WRITE_BARRIER ? !lim->barrier
                                                      : !lim->flush)
            return RTV_BLKIF_E_OP_NOT_NEGOTIATED;
        out->drain = copy->operation == BLKIF_OP_WRITE_BARRIER;
        out->preflush = true;
        if (copy->nr_segments == 0) {
            out->kind = RTV_BLKIF_FLUSH;
            return RTV_BLKIF_OK;
        }
        out->kind = RTV_BLKIF_WRITE;
        out->postflush = true;
        break;

    case BLKIF_OP_DISCARD: {
        const struct blkif_request_discard *d =
            (const struct blkif_request_discard *)copy;

        out->kind = RTV_BLKIF_DISCARD;
        if (!lim->discard)
            return RTV_BLKIF_E_OP_NOT_NEGOTIATED;
        if (lim->read_only)
            return RTV_BLKIF_E_READ_ONLY;
        out->sector = d->sector_number;
        out->nr_sectors = d->nr_sectors;
        out->secure = (d->flag & BLKIF_DISCARD_SECURE) != 0;
        if (!range_ok(d->sector_number, d->nr_sectors, lim->nr_sectors))
            return RTV_BLKIF_E_DISCARD_RANGE;
        return RTV_BLKIF_OK;
    }

    case BLKIF_OP_INDIRECT: {
        const struct blkif_request_indirect *ind =
            (const struct blkif_request_indirect *)copy;
        unsigned n = ind->nr_segments;

        /* The response carries indirect_op, not BLKIF_OP_INDIRECT: Linux
         * blkback answers so and Linux blkfront (since XSA-376) marks the
         * device broken on anything else. */
        out->operation = ind->indirect_op;
        if (lim->max_indirect_segs == 0)
            return RTV_BLKIF_E_OP_NOT_NEGOTIATED;
        if (ind->indirect_op == BLKIF_OP_READ)
            out->kind = RTV_BLKIF_READ;
        else if (ind->indirect_op == BLKIF_OP_WRITE)
            out->kind = RTV_BLKIF_WRITE;
        else
            return RTV_BLKIF_E_INDIRECT_OP;
        if (out->kind == RTV_BLKIF_WRITE && lim->read_only)
            return RTV_BLKIF_E_READ_ONLY;
        if (n == 0 || n > lim->max_indirect_segs || n > RTV_BLKIF_MAX_SEGS ||
            rtv_blkif_indirect_pages(n) > BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST)
            return RTV_BLKIF_E_INDIRECT_SEGMENTS;
        out->sector = ind->sector_number;
        out->nr_segs = (uint16_t)n;
        out->nr_indirect_pages = (uint8_t)rtv_blkif_indirect_pages(n);
        memcpy(out->indirect_grefs, ind->indirect_grefs,
               out->nr_indirect_pages * sizeof(grant_ref_t));
        return RTV_BLKIF_OK;
    }

    default:
        out->kind = RTV_BLKIF_READ;
        return RTV_BLKIF_E_UNKNOWN_OP;
    }

    /* Direct read/write (or flush with data). */
    if (copy->nr_segments > BLKIF_MAX_SEGMENTS_PER_REQUEST)
        return RTV_BLKIF_E_TOO_MANY_SEGMENTS;
    if (out->kind == RTV_BLKIF_WRITE && lim->read_only)
        return RTV_BLKIF_E_READ_ONLY;
    out->sector = copy->sector_number;
    out->nr_segs = copy->nr_segments;
    memcpy(out->seg, copy->seg, out->nr_segs * sizeof(out->seg[0]));
    return check_segments(out, lim);
}

enum rtv_blkif_verdict rtv_blkif_parse_indirect(struct rtv_blkif_req *out,
                                                const void *const *pages,
                                                const struct rtv_blkif_limits *lim)
{
    for (unsigned i = 0; i < out->nr_segs; i++) {
        const volatile struct blkif_request_segment *src =
            (const volatile struct blkif_request_segment *)
                pages[i / RTV_BLKIF_SEGS_PER_INDIRECT_PAGE] +
            i % RTV_BLKIF_SEGS_PER_INDIRECT_PAGE;

        /* Field by field through a volatile pointer: the frontend may be
         * rewriting the page, so each value is read exactly once. */
        out->seg[i].gref = src->gref;
        out->seg[i].first_sect = src->first_sect;
        out->seg[i].last_sect = src->last_sect;
    }
    /* Validate only after every descriptor is in private memory. */
    xen_rmb();
    out->nr_indirect_pages = 0;
    return check_segments(out, lim);
}

int rtv_blkif_ring_peek(blkif_back_ring_t *ring, RING_IDX *rp)
{
    RING_IDX prod = *(volatile RING_IDX *)&ring->sring->req_prod;

    /* Read the requests only after the producer index that covers them. */
    xen_rmb();
    if (RING_REQUEST_PROD_OVERFLOW(ring, prod))
        return -EPROTO;
    *rp = prod;
    return 0;
}

bool rtv_blkif_ring_take(blkif_back_ring_t *ring, RING_IDX rp,
                         struct blkif_request *copy)
{
    if (ring->req_cons == rp || RING_REQUEST_CONS_OVERFLOW(ring, ring->req_cons))
        return false;
    RING_COPY_REQUEST(ring, ring->req_cons, copy);
    ring->req_cons++;
    /* Nothing below may look at the ring slot again; the compiler must not
     * re-read it in place of the copy either. */
    xen_rmb();
    return true;
}

bool rtv_blkif_ring_respond(blkif_back_ring_t *ring, uint64_t id,
                            uint8_t operation, int16_t status)
{
    struct blkif_response *rsp = RING_GET_RESPONSE(ring, ring->rsp_prod_pvt);
    int notify;

    rsp->id = id;
    rsp->operation = operation;
    rsp->status = status;
    ring->rsp_prod_pvt++;
    RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(ring, notify);
    return notify != 0;
}

enum rtv_blkif_rsp_verdict rtv_blkif_rsp_check(const struct blkif_response *copy,
                                               unsigned nr_slots,
                                               const bool *inflight,
                                               const uint8_t *sent_op,
                                               const uint8_t *alt_op)
{
    if (copy->id >= nr_slots)
        return RTV_BLKIF_RSP_E_BAD_ID;
    if (!inflight[copy->id])
        return RTV_BLKIF_RSP_E_NOT_INFLIGHT;
    if (copy->operation != sent_op[copy->id] &&
        (alt_op == NULL || copy->operation != alt_op[copy->id]))
        return RTV_BLKIF_RSP_E_OP_MISMATCH;
    if (copy->status != BLKIF_RSP_OKAY && copy->status != BLKIF_RSP_ERROR &&
        copy->status != BLKIF_RSP_EOPNOTSUPP)
        return RTV_BLKIF_RSP_E_BAD_STATUS;
    return RTV_BLKIF_RSP_OK;
}

int rtv_blkif_front_peek(blkif_front_ring_t *ring, RING_IDX *rp)
{
    RING_IDX prod = *(volatile RING_IDX *)&ring->sring->rsp_prod;

    /* Read the responses only after the producer index that covers them. */
    xen_rmb();
    /* ring.h's check only bounds the backend by the ring's size; it may not
     * answer more requests than we pushed either: the slots past those
     * hold stale entries that would be read as responses. */
    if (RING_RESPONSE_PROD_OVERFLOW(ring, prod) ||
        prod - ring->rsp_cons > ring->req_prod_pvt - ring->rsp_cons)
        return -EPROTO;
    *rp = prod;
    return 0;
}
