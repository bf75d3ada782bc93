/*
 * XENMEM_rtvirt_p2m_identity over libxencall.  The argument lives in a
 * hypercall-safe buffer (locked, never paged out), as privcmd requires; the
 * hypervisor preempts itself with continuations, which the kernel re-issues,
 * so one call here runs the whole range.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xencall.h>
#include <xen/xen.h>
#include <xen/memory.h>

#include "rtvirt/xen_p2m.h"

struct rtv_xen_p2m {
    xencall_handle *xcall;
};

int rtv_xen_p2m_open(struct rtv_xen_p2m **out, struct rtv_err *err)
{
    struct rtv_xen_p2m *x = calloc(1, sizeof(*x));

    if ( !x )
        return rtv_err_set(err, ENOMEM, "out of memory");
    x->xcall = xencall_open(NULL, 0);
    if ( !x->xcall )
    {
        int e = errno ? errno : EIO;

        free(x);
        return rtv_err_set(err, e, "cannot open privcmd through libxencall (%s); run as root "
                           "in dom0 or another privileged domain", strerror(e));
    }
    *out = x;
    return 0;
}

void rtv_xen_p2m_close(struct rtv_xen_p2m *x)
{
    if ( !x )
        return;
    xencall_close(x->xcall);
    free(x);
}

int rtv_xen_p2m_max_gfn(struct rtv_xen_p2m *x, uint16_t domid, uint64_t *max_gfn,
                        struct rtv_err *err)
{
    domid_t *buf = xencall_alloc_buffer(x->xcall, sizeof(*buf));
    int rc;

    if ( !buf )
        return rtv_err_set(err, ENOMEM, "cannot allocate a hypercall buffer");
    *buf = domid;
    rc = xencall2(x->xcall, __HYPERVISOR_memory_op, XENMEM_maximum_gpfn,
                  (uint64_t)(uintptr_t)buf);
    xencall_free_buffer(x->xcall, buf);
    if ( rc < 0 )
    {
        int e = errno;

        return rtv_err_set(err, e, "XENMEM_maximum_gpfn for domain %u failed: %s",
                           (unsigned)domid, strerror(e));
    }
    *max_gfn = (uint64_t)rc;
    return 0;
}

int rtv_xen_p2m_call(struct rtv_xen_p2m *x, struct rtv_p2m_identity_arg *arg,
                     struct rtv_err *err)
{
    struct rtv_p2m_identity_arg *buf = xencall_alloc_buffer(x->xcall, sizeof(*buf));
    int rc, e = 0;

    if ( !buf )
        return rtv_err_set(err, ENOMEM, "cannot allocate a hypercall buffer");
    memcpy(buf, arg, sizeof(*buf));
    rc = xencall2(x->xcall, __HYPERVISOR_memory_op, RTV_XENMEM_rtvirt_p2m_identity,
                  (uint64_t)(uintptr_t)buf);
    if ( rc < 0 )
        e = errno;
    /* Counts are written back even on failure: they say how far it got. */
    memcpy(arg, buf, sizeof(*arg));
    xencall_free_buffer(x->xcall, buf);
    if ( rc >= 0 )
        return rc == 1 ? 1 : 0;
    switch ( e )
    {
    case ENOSYS:
        return rtv_err_set(err, e, "this hypervisor lacks the rtvirt identity op "
                           "(XENMEM_rtvirt_p2m_identity); boot the one built by "
                           "xen-patches/build-hypervisor");
    case EPERM:
        return rtv_err_set(err, e, "the hypervisor refused: the caller is not privileged "
                           "over domain %u", (unsigned)arg->domid);
    case ESRCH:
        return rtv_err_set(err, e, "no domain %u", (unsigned)arg->domid);
    case EOPNOTSUPP:
        return rtv_err_set(err, e, "domain %u is not an HVM/PVH domain with HAP "
                           "(PV and shadow-paged domains are not supported)",
                           (unsigned)arg->domid);
    case EINVAL:
        return rtv_err_set(err, e, "the hypervisor rejected the arguments (range "
                           "%#llx+%#llx, flags %#x, bookkeeping %u)",
                           (unsigned long long)arg->first_gfn,
                           (unsigned long long)arg->nr_gfns, arg->flags, arg->bookkeeping);
    default:
        return rtv_err_set(err, e, "XENMEM_rtvirt_p2m_identity failed: %s", strerror(e));
    }
}

int rtv_xen_p2m_move_gfn(struct rtv_xen_p2m *x, uint16_t domid, uint64_t from_gfn,
                         uint64_t to_gfn, struct rtv_err *err)
{
    struct xen_add_to_physmap *xatp = xencall_alloc_buffer(x->xcall, sizeof(*xatp));
    int rc;

    if ( !xatp )
        return rtv_err_set(err, ENOMEM, "cannot allocate a hypercall buffer");
    memset(xatp, 0, sizeof(*xatp));
    xatp->domid = domid;
    xatp->space = XENMAPSPACE_gmfn;
    xatp->idx = from_gfn;
    xatp->gpfn = to_gfn;
    rc = xencall2(x->xcall, __HYPERVISOR_memory_op, XENMEM_add_to_physmap,
                  (uint64_t)(uintptr_t)xatp);
    xencall_free_buffer(x->xcall, xatp);
    if ( rc < 0 )
    {
        int e = errno;

        return rtv_err_set(err, e, "XENMEM_add_to_physmap gmfn %#llx -> %#llx in domain %u: %s",
                           (unsigned long long)from_gfn, (unsigned long long)to_gfn,
                           (unsigned)domid, strerror(e));
    }
    return 0;
}

int rtv_xen_p2m_populate(struct rtv_xen_p2m *x, uint16_t domid, uint64_t gfn,
                         struct rtv_err *err)
{
    struct xen_memory_reservation *res = xencall_alloc_buffer(x->xcall, sizeof(*res));
    xen_pfn_t *list = xencall_alloc_buffer(x->xcall, sizeof(*list));
    int rc = -1, e = ENOMEM;

    if ( res && list )
    {
        memset(res, 0, sizeof(*res));
        *list = gfn;
        res->extent_start = list;   /* x86 handles are plain pointers here */
        res->nr_extents = 1;
        res->domid = domid;
        rc = xencall2(x->xcall, __HYPERVISOR_memory_op, XENMEM_populate_physmap,
                      (uint64_t)(uintptr_t)res);
        e = rc < 0 ? errno : EIO;
    }
    if ( res )
        xencall_free_buffer(x->xcall, res);
    if ( list )
        xencall_free_buffer(x->xcall, list);
    if ( rc == 1 )
        return 0;
    return rtv_err_set(err, e, "XENMEM_populate_physmap of gfn %#llx in domain %u: %s",
                       (unsigned long long)gfn, (unsigned)domid,
                       rc >= 0 ? "no page given" : strerror(e));
}
