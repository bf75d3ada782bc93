/*
 * The real Xen seam for Xen's machine-to-phys table (M2P), read-only: what
 * the identity check of rtvirt/p2m_idcheck.h reads instead of the patched
 * op's own query.  Only common/xen/xen_m2p.c implements it.
 *
 * The table is mapped the way a PVH dom0 can: XENMEM_machphys_mfn_list
 * names its frames (2 MiB extents, an extent of 0 is a hole), and
 * libxenforeignmemory maps them from DOMID_XEN, which Xen shares with
 * privileged domains.  (libxenguest's xc_map_m2p() uses the old privcmd
 * IOCTL_PRIVCMD_MMAP, which Linux refuses in an auto-translated dom0.)
 * Nothing of the rtvirt patch runs on this path.
 */
#ifndef RTVIRT_XEN_M2P_H
#define RTVIRT_XEN_M2P_H

#include <stdint.h>

#include "rtvirt/err.h"

struct rtv_xen_m2p;

/* Map the whole table (root in a privileged domain). */
int rtv_xen_m2p_open(struct rtv_xen_m2p **out, struct rtv_err *err);
void rtv_xen_m2p_close(struct rtv_xen_m2p *m);

/* Highest machine frame the table covers. */
uint64_t rtv_xen_m2p_max_mfn(const struct rtv_xen_m2p *m);

/*
 * The M2P entries of frames [mfn, mfn + n) into gfn[]: RTV_M2P_NONE
 * (rtvirt/p2m_idcheck.h) for Xen's invalid entry, a hole of the table or a
 * frame beyond it.  The shape of rtv_p2m_idcheck_hooks.m2p (ctx = m);
 * always 0.
 */
int rtv_xen_m2p_read(void *m, uint64_t mfn, uint64_t n, uint64_t *gfn);

#endif
