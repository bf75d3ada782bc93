/*
 * The seeds' idealized Ethernet card (002 [0038]-[0041], FIG. 3) as an
 * I/O-sequence table: the driver sends a message by writing CSR A (buffer
 * address), CSR B (length), CSR C (destination); C completes the send.
 * STATUS reports the card ready to take a message (its busy answer clears
 * READY) and may be read mid-send; SCRATCH belongs to no sequence.  Out-of-order accesses restart
 * the machine (FIG. 4, step 416).  Shared by the engine's and the
 * (de)virtualization machine's tests.
 */
#ifndef RTV_TESTS_CSR_DEVICE_H
#define RTV_TESTS_CSR_DEVICE_H

#include "rtvirt/ioseq.h"

enum { CSR_A, CSR_B, CSR_C, CSR_STATUS, CSR_SCRATCH, CSR_NPORTS };
enum { ST_START, ST_A, ST_B, ST_SENT };
#define CSR_READY 0x1u

static const struct rtv_ioseq_state csr_states[] = {
    [ST_START] = { "start", .boundary = true },
    [ST_A]     = { "address-written" },
    [ST_B]     = { "length-written" },
    [ST_SENT]  = { "sent", .boundary = true },   /* FIG. 3's end state */
};

static const struct rtv_ioseq_trans csr_trans[] = {
    { ST_START, ST_A, CSR_A, RTV_IOSEQ_WRITE, false, 0, 0, "send" },
    { ST_SENT, ST_A, CSR_A, RTV_IOSEQ_WRITE, false, 0, 0, "send" },
    { ST_A, ST_B, CSR_B, RTV_IOSEQ_WRITE, false, 0, 0, "send" },
    { ST_B, ST_SENT, CSR_C, RTV_IOSEQ_WRITE, false, 0, 0, "send" },
    /* The driver may look at STATUS in the middle of a send. */
    { ST_A, ST_A, CSR_STATUS, RTV_IOSEQ_READ, false, 0, 0, "send" },
    { ST_B, ST_B, CSR_STATUS, RTV_IOSEQ_READ, false, 0, 0, "send" },
};

static const struct rtv_ioseq_busy csr_busy[] = {
    { CSR_STATUS, CSR_READY, 0 },
};

static const struct rtv_ioseq_table csr_table = {
    .name = "csr-abc",
    .nports = CSR_NPORTS,
    .states = csr_states,
    .nstates = sizeof(csr_states) / sizeof(csr_states[0]),
    .trans = csr_trans,
    .ntrans = sizeof(csr_trans) / sizeof(csr_trans[0]),
    .initial = ST_START,
    .unmatched = RTV_IOSEQ_UNMATCHED_RESTART,
    .busy = csr_busy,
    .nbusy = 1,
};

static inline struct rtv_ioseq_access csr_w(unsigned port, uint32_t v)
{
    return (struct rtv_ioseq_access){ .offset = (uint16_t)port,
                                      .dir = RTV_IOSEQ_WRITE, .size = 4, .value = v };
}

static inline struct rtv_ioseq_access csr_r(unsigned port, uint32_t v)
{
    return (struct rtv_ioseq_access){ .offset = (uint16_t)port,
                                      .dir = RTV_IOSEQ_READ, .size = 4, .value = v };
}

#endif
