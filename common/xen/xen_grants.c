/*
 * Grant ops over libxengnttab (mapping a peer's grants, Linux gntdev) and
 * libxengntshr (granting our pages, Linux gntalloc).  Each side is opened
 * lazily: a backend in dom0 never shares, and a domU frontend may not have
 * gntdev loaded at all.
 */
#include "xen_private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <xengnttab.h>

struct xen_grants {
    struct rtv_grants   base;
    xengnttab_handle   *xgt;
    xengntshr_handle   *xgs;
};

static struct xen_grants *xg(struct rtv_grants *g)
{
    return (struct xen_grants *)g;
}

static void *xg_share(struct rtv_grants *g, rtv_domid_t peer, unsigned count,
                      rtv_gref_t *refs, bool writable)
{
    struct xen_grants *x = xg(g);
    if (x->xgs == NULL && (x->xgs = xengntshr_open(NULL, 0)) == NULL)
        return NULL;
    return xengntshr_share_pages(x->xgs, peer, (int)count, refs, writable);
}

static int xg_unshare(struct rtv_grants *g, void *addr, unsigned count)
{
    struct xen_grants *x = xg(g);
    if (x->xgs == NULL)
        return -EINVAL;
    return xengntshr_unshare(x->xgs, addr, count) == 0 ? 0 : -errno;
}

static void *xg_map(struct rtv_grants *g, rtv_domid_t peer, unsigned count,
                    const rtv_gref_t *refs, bool writable)
{
    struct xen_grants *x = xg(g);
    if (x->xgt == NULL && (x->xgt = xengnttab_open(NULL, 0)) == NULL)
        return NULL;
    /* libxengnttab takes a non-const array it does not modify. */
    return xengnttab_map_domain_grant_refs(x->xgt, count, peer,
                                           (uint32_t *)refs,
                                           PROT_READ | (writable ? PROT_WRITE : 0));
}

static int xg_unmap(struct rtv_grants *g, void *addr, unsigned count)
{
    struct xen_grants *x = xg(g);
    if (x->xgt == NULL)
        return -EINVAL;
    return xengnttab_unmap(x->xgt, addr, count) == 0 ? 0 : -errno;
}

static void xg_close(struct rtv_grants *g)
{
    struct xen_grants *x = xg(g);
    if (x->xgt)
        xengnttab_close(x->xgt);
    if (x->xgs)
        xengntshr_close(x->xgs);
    free(x);
}

static const struct rtv_grants_ops xen_grants_ops = {
    .name = "xen",
    .share = xg_share,
    .unshare = xg_unshare,
    .map = xg_map,
    .unmap = xg_unmap,
    .close = xg_close,
};

int rtv_xen_grants_open(struct rtv_grants **out, struct rtv_err *err)
{
    struct xen_grants *x = calloc(1, sizeof(*x));
    if (x == NULL)
        return rtv_err_set(err, ENOMEM, "grants: out of memory");
    x->base.ops = &xen_grants_ops;
    *out = &x->base;
    return 0;
}
