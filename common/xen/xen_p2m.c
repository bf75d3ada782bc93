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
