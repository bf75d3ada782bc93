/*
 * blkif request/response checking: the pure core both rtvirt-backd and
 * librtvirt-front use.  No Xen calls, no I/O.
 *
 * Backend side (the frontend is hostile):
 *   1. rtv_blkif_ring_peek() reads the producer index once, fences, and
 *      rejects a producer that claims more requests than the ring can hold
 *      (RING_REQUEST_PROD_OVERFLOW): the caller halts that ring.
 *   2. rtv_blkif_ring_take() copies one request off the ring
 *      (RING_COPY_REQUEST) into private memory; only the copy is looked at.
 *   3. rtv_blkif_parse() validates the copy against the device's negotiated
 *      limits and normalises it into struct rtv_blkif_req.  For
 *      BLKIF_OP_INDIRECT the segments live in separately granted pages: the
 *      caller maps them and calls rtv_blkif_parse_indirect(), which copies
 *      the descriptors out, fences, and validates the copy.
 *   4. rtv_blkif_ring_respond() queues a response and says whether to notify.
 * Every rejection is named (enum rtv_blkif_verdict + rtv_blkif_verdict_str()).
 *
 * Frontend side (the backend is untrusted): rtv_blkif_rsp_check() compares a
 * copied response with the frontend's own shadow of what it sent.
 */
#ifndef RTVIRT_BLKIF_REQ_H
#define RTVIRT_BLKIF_REQ_H

#include <stdbool.h>
#include <stdint.h>

#include "rtvirt/blkif_abi.h"

/* Largest number of segments rtvirt accepts in one indirect request: two
 * indirect pages' worth (4 MiB of data).  Backends advertise at most this. */
#define RTV_BLKIF_MAX_INDIRECT_SEGS 1024u
#define RTV_BLKIF_MAX_SEGS RTV_BLKIF_MAX_INDIRECT_SEGS

/* Verdict on one request.  Numbering is not ABI; names are for logs. */
enum rtv_blkif_verdict {
    RTV_BLKIF_OK = 0,
    RTV_BLKIF_E_UNKNOWN_OP,        /* operation not a BLKIF_OP_* we know */
    RTV_BLKIF_E_OP_NOT_NEGOTIATED, /* barrier/flush/discard/indirect not advertised */
    RTV_BLKIF_E_NO_SEGMENTS,       /* read/write with zero segments */
    RTV_BLKIF_E_TOO_MANY_SEGMENTS, /* > BLKIF_MAX_SEGMENTS_PER_REQUEST */
    RTV_BLKIF_E_INDIRECT_OP,       /* indirect_op neither READ nor WRITE */
    RTV_BLKIF_E_INDIRECT_SEGMENTS, /* indirect nr_segments 0 or > negotiated max */
    RTV_BLKIF_E_FIRST_GT_LAST,     /* segment first_sect > last_sect */
    RTV_BLKIF_E_PAGE_CROSSING,     /* segment last_sect beyond its page */
    RTV_BLKIF_E_BEYOND_END,        /* sector range past the end of the disk */
    RTV_BLKIF_E_READ_ONLY,         /* write/discard on a read-only device */
    RTV_BLKIF_E_DISCARD_RANGE,     /* discard range past end or overflowing */
    RTV_BLKIF_VERDICT_COUNT
};

const char *rtv_blkif_verdict_str(enum rtv_blkif_verdict v);

/* What the backend negotiated for one device (a private copy; never read
 * back from the shared page or the store after negotiation). */
struct rtv_blkif_limits {
    uint64_t nr_sectors;         /* disk size in 512-byte sectors */
    bool     read_only;
    bool     flush;              /* feature-flush-cache advertised */
    bool     barrier;            /* feature-barrier advertised */
    bool     discard;            /* feature-discard advertised */
    unsigned max_indirect_segs;  /* feature-max-indirect-segments; 0 = none */
};

/* What a request asks for, after normalisation. */
enum rtv_blkif_kind {
    RTV_BLKIF_READ,
    RTV_BLKIF_WRITE,
    RTV_BLKIF_FLUSH,     /* no data: make completed writes durable */
    RTV_BLKIF_DISCARD,
};

struct rtv_blkif_req {
    uint64_t id;            /* echoed in the response */
    uint8_t  operation;     /* echoed in the response: the ring operation,
                             * or indirect_op for BLKIF_OP_INDIRECT */
    enum rtv_blkif_kind kind;
    bool     drain;         /* all earlier requests must complete first (barrier) */
    bool     preflush;      /* make earlier completed writes durable first */
    bool     postflush;     /* make this write durable before completing (FUA) */
    bool     secure;        /* discard: BLKIF_DISCARD_SECURE */
    uint64_t sector;        /* start, 512-byte sectors */
    uint64_t nr_sectors;    /* total length; 0 for a pure flush */
    uint16_t nr_segs;
    uint8_t  nr_indirect_pages;  /* >0: segments still to be fetched */
    grant_ref_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
    struct blkif_request_segment seg[RTV_BLKIF_MAX_SEGS];
};

/* Number of indirect pages nr_segs descriptors need. */
static inline unsigned rtv_blkif_indirect_pages(unsigned nr_segs)
{
    return (nr_segs + RTV_BLKIF_SEGS_PER_INDIRECT_PAGE - 1) /
           RTV_BLKIF_SEGS_PER_INDIRECT_PAGE;
}

/* Byte length and in-page offset of one (validated) segment. */
static inline unsigned rtv_blkif_seg_len(const struct blkif_request_segment *s)
{
    return (unsigned)(s->last_sect - s->first_sect + 1) << RTV_BLKIF_SECTOR_SHIFT;
}
static inline unsigned rtv_blkif_seg_off(const struct blkif_request_segment *s)
{
    return (unsigned)s->first_sect << RTV_BLKIF_SECTOR_SHIFT;
}

/* Validates a private copy of a ring request.  On RTV_BLKIF_OK *out is
 * filled; if out->nr_indirect_pages > 0 the segments must still be fetched
 * with rtv_blkif_parse_indirect().  On a rejection out->id/operation are
 * still set so an error response can be sent. */
enum rtv_blkif_verdict rtv_blkif_parse(const struct blkif_request *copy,
                                       const struct rtv_blkif_limits *lim,
                                       struct rtv_blkif_req *out);

/* Copies out->nr_segs descriptors from the mapped indirect pages (page i of
 * out->nr_indirect_pages at pages[i], shared memory the frontend may still
 * be writing), fences, validates the copy, and fills out->seg[] and
 * out->nr_sectors. */
enum rtv_blkif_verdict rtv_blkif_parse_indirect(struct rtv_blkif_req *out,
                                                const void *const *pages,
                                                const struct rtv_blkif_limits *lim);

/* Backend ring access.  Returns the producer index to consume up to in *rp
 * and 0, or -EPROTO if the frontend's producer overflows the ring (halt it). */
int rtv_blkif_ring_peek(blkif_back_ring_t *ring, RING_IDX *rp);
/* Copies the request at ring->req_cons into *copy and advances req_cons.
 * Returns false when no slot may be consumed (req_cons == rp or the ring
 * would overflow our unsent responses). */
bool rtv_blkif_ring_take(blkif_back_ring_t *ring, RING_IDX rp,
                         struct blkif_request *copy);
/* Queues one response and pushes it; returns true if the frontend must be
 * notified. */
bool rtv_blkif_ring_respond(blkif_back_ring_t *ring, uint64_t id,
                            uint8_t operation, int16_t status);

/* ---- frontend side -------------------------------------------------------- */

enum rtv_blkif_rsp_verdict {
    RTV_BLKIF_RSP_OK = 0,
    RTV_BLKIF_RSP_E_PROD_OVERFLOW, /* backend produced more than we asked */
    RTV_BLKIF_RSP_E_BAD_ID,        /* id outside our shadow table */
    RTV_BLKIF_RSP_E_NOT_INFLIGHT,  /* id names a slot with nothing in flight */
    RTV_BLKIF_RSP_E_OP_MISMATCH,   /* operation differs from what we sent */
    RTV_BLKIF_RSP_E_BAD_STATUS,    /* status not a BLKIF_RSP_* value */
    RTV_BLKIF_RSP_VERDICT_COUNT
};

const char *rtv_blkif_rsp_verdict_str(enum rtv_blkif_rsp_verdict v);

/* Checks a private copy of a response.  inflight[i] says whether shadow slot
 * i (0 <= i < nr_slots) has a request outstanding and sent_op[i] which ring
 * operation it was sent with.  alt_op (may be NULL) gives a second accepted
 * operation per slot: for BLKIF_OP_INDIRECT, Linux blkback echoes the
 * indirect_op (READ/WRITE) rather than BLKIF_OP_INDIRECT. */
enum rtv_blkif_rsp_verdict rtv_blkif_rsp_check(const struct blkif_response *copy,
                                               unsigned nr_slots,
                                               const bool *inflight,
                                               const uint8_t *sent_op,
                                               const uint8_t *alt_op);

/* Frontend: producer check for responses (as rtv_blkif_ring_peek). */
int rtv_blkif_front_peek(blkif_front_ring_t *ring, RING_IDX *rp);

#endif
