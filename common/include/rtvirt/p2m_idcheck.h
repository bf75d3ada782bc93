/*
 * rtvirt P2M identity, checked from the other side (issue 17): "is gfn g of
 * the domain at machine frame g?" answered without the patched hypervisor's
 * code, from Xen's machine-to-phys table (M2P): frame g must say it holds
 * gfn g.
 *
 * Why the M2P: the identity op's own query walks the P2M with the patch's
 * code, so it cannot vouch for the patch.  The M2P is a different table
 * (indexed by frame, not by gfn), and dom0 reads it through a path the patch
 * never touches (XENMEM_machphys_mfn_list and a read-only foreign mapping of
 * Xen's own frames: common/xen/xen_m2p.c).  A page the rebuild moved but
 * left the P2M and M2P disagreeing about, a frame freed or handed to
 * another gfn, a page the query counts as identity that is not: each shows
 * up as a range here.  What it cannot see: the M2P is written by the same
 * rebuild (set_gpfn_from_mfn after each move), so a rebuild that updated the
 * M2P and not the P2M would pass; and the M2P does not name the owner, so
 * another domain's frame g holding its own gfn g would pass too.  Those
 * need the page's content (a pattern at the gfn, read at the machine
 * address), which a PVH dom0 cannot map.
 *
 * Pure C over a lookup hook, so the unit tests run it against a fake M2P.
 */
#ifndef RTVIRT_P2M_IDCHECK_H
#define RTVIRT_P2M_IDCHECK_H

#include <stdint.h>

/* The M2P entry of a frame that belongs to no gfn (Xen's INVALID_M2P_ENTRY
 * and anything beyond the table read back as this). */
#define RTV_M2P_NONE  (~(uint64_t)0)

struct rtv_p2m_idcheck_hooks {
    /* The M2P entry of frames [mfn, mfn + n) into gfn[0 .. n-1]
     * (RTV_M2P_NONE for none / beyond the table).  0, or -errno: the check
     * stops and returns it.  Required. */
    int (*m2p)(void *ctx, uint64_t mfn, uint64_t n, uint64_t *gfn);
    /* A run of gfns [first, first + count) that is not identity; m2p_first
     * is what the M2P says frame `first` holds.  Nonzero stops the check
     * and is returned.  May be NULL (count only). */
    int (*bad)(void *ctx, uint64_t first, uint64_t count, uint64_t m2p_first);
    void *ctx;
};

struct rtv_p2m_idcheck_counts {
    uint64_t pages;         /* gfns checked */
    uint64_t identity;      /* frame g says gfn g */
    uint64_t other;         /* frame g says another gfn */
    uint64_t none;          /* frame g says no gfn (or is beyond the table) */
    uint64_t ranges;        /* runs of non-identity gfns reported */
};

/*
 * Check gfns [gfn_start, gfn_start + nr).  Runs of consecutive non-identity
 * gfns are reported once each, in gfn order, through hooks->bad.  Returns 0
 * (see counts: identity == pages means all identity), -EINVAL, the m2p
 * hook's -errno or the bad hook's nonzero value.
 */
int rtv_p2m_idcheck(uint64_t gfn_start, uint64_t nr, const struct rtv_p2m_idcheck_hooks *hooks,
                    struct rtv_p2m_idcheck_counts *counts);

/*
 * How many extents Xen's M2P has, when the only way to ask is a lister
 * that answers exactly: list(ctx, k) lists the first k extents and returns
 * 0 when the table has at least k, returns 1 (nothing listed) when it has
 * fewer, or a negative errno of its own.  (XENMEM_machphys_mfn_list through
 * libxenctrl, which fails without an errno when Xen lists fewer than asked:
 * common/xen/xen_m2p.c.)  Starts from `guess`; when the table is smaller,
 * bisects for the largest count that lists, and the last call made is
 * always list(*count), so what it listed is that.  Returns 0 with
 * *count >= 1, -ENOENT when not even one extent lists, -EINVAL for a guess
 * of 0, or list's negative errno.
 */
int rtv_m2p_extent_count(uint64_t guess, int (*list)(void *ctx, uint64_t k), void *ctx,
                         uint64_t *count);

#endif
