/*
 * ABI of the rtvirt P2M-identity memory op, as the patched hypervisor
 * defines it in xen/include/public/memory.h (xen-patches/, where the
 * normative documentation lives).  Stock libxen-dev headers do not have it,
 * so user space carries this mirror; xen-patches/build-hypervisor compiles a
 * check that both layouts agree field by field.
 *
 * Call: HYPERVISOR_memory_op(XENMEM_rtvirt_p2m_identity, &arg).  Returns 0
 * when done, 1 when a rebuild stopped at max_copies (call again: every call
 * plans afresh from the P2M as it is), or -errno; a stock hypervisor answers
 * -ENOSYS.  Batches matter for an HVM/PVH caller: the hypervisor's own
 * continuations do not let the caller's kernel schedule.
 */
#ifndef RTVIRT_P2M_HYPERCALL_H
#define RTVIRT_P2M_HYPERCALL_H

#include <stdint.h>

#define RTV_XENMEM_rtvirt_p2m_identity      60
#define RTV_P2M_IDENTITY_VERSION            1

#define RTV_P2M_IDENTITY_OP_QUERY           0
#define RTV_P2M_IDENTITY_OP_REBUILD         1

#define RTV_P2M_IDENTITY_F_PAUSED           (1u << 0)
#define RTV_P2M_IDENTITY_F_CONCURRENT       (1u << 1)

/* Largest range one call accepts (pages); the tool splits nothing. */
#define RTV_P2M_IDENTITY_MAX_GFNS           (1ull << 22)

#define RTV_P2M_IDENTITY_NR_CLASSES         16

struct rtv_p2m_identity_arg {
    /* IN */
    uint32_t version;           /* RTV_P2M_IDENTITY_VERSION */
    uint16_t domid;
    uint8_t  op;                /* RTV_P2M_IDENTITY_OP_* */
    uint8_t  bookkeeping;       /* enum rtv_p2m_bookkeeping */
    uint32_t flags;             /* RTV_P2M_IDENTITY_F_*; rebuild: exactly one mode */
    uint32_t max_copies;        /* rebuild: the call returns 1 ("more") after
                                 * this many copies, 0 = no limit; query: 0 */
    uint64_t first_gfn;
    uint64_t nr_gfns;           /* 1 .. RTV_P2M_IDENTITY_MAX_GFNS */
    /* OUT (accumulated across the hypervisor's own continuations) */
    uint64_t continuations;     /* times the call was preempted; IN: 0 */
    uint64_t remapped;          /* pages moved to gfn == mfn by this call */
    uint64_t copies;            /* page copies made */
    uint64_t cycles;            /* cycles broken through the scratch frame */
    uint64_t scratch_uses;
    uint64_t busy;              /* pages whose move was refused at run time (frame
                                 * referenced by someone else, taken meanwhile, or
                                 * written under us too often): the pages left
                                 * busy by the call's last invocation */
    /* OUT: state of the range when the call returned, by class
     * (enum rtv_p2m_class: identity, target-free, ..., blocked). */
    uint64_t class_count[RTV_P2M_IDENTITY_NR_CLASSES];
};

#endif /* RTVIRT_P2M_HYPERCALL_H */
