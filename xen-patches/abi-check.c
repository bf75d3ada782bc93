/*
 * Built by build-hypervisor against the patched tree's public headers: the
 * user-space mirror (common/include/rtvirt/p2m_hypercall.h) and the
 * hypervisor's struct xen_rtvirt_p2m_identity must agree field by field.
 * It only has to compile.
 */
#include <stddef.h>
#include <stdint.h>

#include "public/xen.h"
#include "public/memory.h"

#include "rtvirt/p2m_hypercall.h"
#include "rtvirt/p2m_plan.h"

#define SAME(f) \
    _Static_assert(offsetof(struct xen_rtvirt_p2m_identity, f) == \
                   offsetof(struct rtv_p2m_identity_arg, f) && \
                   sizeof(((struct xen_rtvirt_p2m_identity *)0)->f) == \
                   sizeof(((struct rtv_p2m_identity_arg *)0)->f), #f)

SAME(version);
SAME(domid);
SAME(op);
SAME(bookkeeping);
SAME(flags);
SAME(max_copies);
SAME(first_gfn);
SAME(nr_gfns);
SAME(continuations);
SAME(remapped);
SAME(copies);
SAME(cycles);
SAME(scratch_uses);
SAME(busy);
SAME(class_count);
_Static_assert(sizeof(struct xen_rtvirt_p2m_identity) == sizeof(struct rtv_p2m_identity_arg),
               "size");
_Static_assert(XENMEM_rtvirt_p2m_identity == RTV_XENMEM_rtvirt_p2m_identity, "subop");
_Static_assert(XEN_RTVIRT_P2M_IDENTITY_VERSION == RTV_P2M_IDENTITY_VERSION, "version");
_Static_assert(XEN_RTVIRT_P2M_OP_QUERY == RTV_P2M_IDENTITY_OP_QUERY, "query");
_Static_assert(XEN_RTVIRT_P2M_OP_REBUILD == RTV_P2M_IDENTITY_OP_REBUILD, "rebuild");
_Static_assert(XEN_RTVIRT_P2M_F_PAUSED == RTV_P2M_IDENTITY_F_PAUSED, "paused");
_Static_assert(XEN_RTVIRT_P2M_F_CONCURRENT == RTV_P2M_IDENTITY_F_CONCURRENT, "concurrent");
_Static_assert(XEN_RTVIRT_P2M_MAX_GFNS == RTV_P2M_IDENTITY_MAX_GFNS, "max gfns");
_Static_assert(XEN_RTVIRT_P2M_NR_CLASSES == RTV_P2M_IDENTITY_NR_CLASSES, "classes");
_Static_assert(XEN_RTVIRT_P2M_CLASS_MOVED == RTV_P2M_MOVED, "class numbering");
_Static_assert(XEN_RTVIRT_P2M_BK_SEARCH == RTV_P2M_BK_SEARCH, "bookkeeping numbering");

int main(void)
{
    return 0;
}
