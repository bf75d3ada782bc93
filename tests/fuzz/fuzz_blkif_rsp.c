/*
 * libFuzzer: librtvirt-front's view of an untrusted backend's responses.
 *
 * The frontend's own state is consistent (it is ours): a shadow table of
 * nr_slots slots, some in flight with the operation each was sent with
 * (and, for indirect requests, the indirect_op Linux blkback echoes), and
 * a private request producer exactly that many requests ahead of the
 * response consumer.  The input is what the backend controls: the response
 * slots and the response producer.  The loop is front_ring.c's
 * front_reap_queue(): rtv_blkif_front_peek(), RING_COPY_RESPONSE,
 * rtv_blkif_rsp_check() on the copy, the slot released, the first bad
 * response failing the device.
 *
 * A response that passes must name a slot in flight, with the operation it
 * was sent with, and a status blkif.h defines; no slot completes twice, and
 * never more responses are taken than requests were sent.
 */
#include <stdbool.h>
#include <stdint.h>

#include "fuzz.h"
#include "rtvirt/blkif_req.h"

static _Alignas(4096) uint8_t ring_mem[4 * RTV_BLKIF_PAGE_SIZE];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = { data, size };
    blkif_sring_t *sring = (blkif_sring_t *)ring_mem;
    blkif_front_ring_t ring;
    bool inflight[128];
    uint8_t sent_op[128], alt_op[128];
    uint8_t flags = fuzz_u8(&in);
    unsigned order = flags % 3u, nslots, ninflight = 0, taken = 0;
    bool use_alt = flags & 4;
    RING_IDX start, rp;

    memset(ring_mem, 0, sizeof(ring_mem));
    SHARED_RING_INIT(sring);
    FRONT_RING_INIT(&ring, sring, RTV_BLKIF_PAGE_SIZE << order);
    nslots = 1u + fuzz_u8(&in) % RING_SIZE(&ring);

    /* Our shadow: which slots are in flight, sent how. */
    for (unsigned i = 0; i < nslots; i++) {
        uint8_t b = fuzz_u8(&in);
        static const uint8_t ops[] = {
            BLKIF_OP_READ, BLKIF_OP_WRITE, BLKIF_OP_WRITE_BARRIER,
            BLKIF_OP_FLUSH_DISKCACHE, BLKIF_OP_DISCARD, BLKIF_OP_INDIRECT,
        };

        inflight[i] = b & 1;
        sent_op[i] = ops[(b >> 1) % 6u];
        alt_op[i] = sent_op[i] == BLKIF_OP_INDIRECT ? ((b >> 4) & 1) : sent_op[i];
        ninflight += inflight[i];
    }
    start = fuzz_u32(&in);
    ring.rsp_cons = start;
    ring.req_prod_pvt = start + ninflight;
    sring->req_prod = ring.req_prod_pvt;
    sring->rsp_prod = fuzz_u32(&in);   /* the backend's, anything */

    /* The backend's responses, in the slots from rsp_cons on. */
    for (unsigned i = 0; i < RING_SIZE(&ring) && in.n > 0; i++)
        fuzz_take(&in, (void *)RING_GET_RESPONSE(&ring, start + i),
                  sizeof(struct blkif_response));

    if (rtv_blkif_front_peek(&ring, &rp) < 0)
        return 0;   /* the device fails: producer overflow */
    FUZZ_CHECK(rp - start <= ninflight);
    while (ring.rsp_cons != rp) {
        struct blkif_response rsp;
        enum rtv_blkif_rsp_verdict v;

        RING_COPY_RESPONSE(&ring, ring.rsp_cons, &rsp);
        ring.rsp_cons++;
        xen_rmb();
        v = rtv_blkif_rsp_check(&rsp, nslots, inflight, sent_op,
                                use_alt ? alt_op : NULL);
        FUZZ_CHECK(rtv_blkif_rsp_verdict_str(v) != NULL);
        if (v != RTV_BLKIF_RSP_OK)
            return 0;   /* the device fails */
        FUZZ_CHECK(rsp.id < nslots && inflight[rsp.id]);
        FUZZ_CHECK(rsp.operation == sent_op[rsp.id] ||
                   (use_alt && rsp.operation == alt_op[rsp.id]));
        FUZZ_CHECK(rsp.status == BLKIF_RSP_OKAY || rsp.status == BLKIF_RSP_ERROR ||
                   rsp.status == BLKIF_RSP_EOPNOTSUPP);
        inflight[rsp.id] = false;
        taken++;
        FUZZ_CHECK(taken <= ninflight);
    }
    return 0;
}
