/*
 * The real Xen seam for the P2M-identity memory op (issue 6): a thin adapter
 * over libxencall, so rtvirt-p2m needs no rebuilt libxenctrl.  Only
 * common/xen/xen_p2m.c implements it.
 */
#ifndef RTVIRT_XEN_P2M_H
#define RTVIRT_XEN_P2M_H

#include <stdint.h>

#include "rtvirt/err.h"
#include "rtvirt/p2m_hypercall.h"

struct rtv_xen_p2m;

/* Opens privcmd through libxencall (root in a privileged domain). */
int rtv_xen_p2m_open(struct rtv_xen_p2m **out, struct rtv_err *err);
void rtv_xen_p2m_close(struct rtv_xen_p2m *x);

/* Highest gfn of the domain (XENMEM_maximum_gpfn). */
int rtv_xen_p2m_max_gfn(struct rtv_xen_p2m *x, uint16_t domid, uint64_t *max_gfn,
                        struct rtv_err *err);

/*
 * One XENMEM_rtvirt_p2m_identity call; arg is copied in and the results
 * copied back.  Returns 0 (done), 1 (rebuild stopped at arg->max_copies:
 * call again with the OUT counters zeroed) or -errno with err set; -ENOSYS
 * means the hypervisor lacks the op (err says so in those words).
 */
int rtv_xen_p2m_call(struct rtv_xen_p2m *x, struct rtv_p2m_identity_arg *arg,
                     struct rtv_err *err);

/*
 * Test scaffolding for the lab and xen-patches/boot-smoke: build swaps and
 * cycles in a P2M on purpose.  move_gfn is XENMEM_add_to_physmap with
 * XENMAPSPACE_gmfn (the page at from_gfn appears at to_gfn instead; a page
 * already at to_gfn is freed by Xen); populate is XENMEM_populate_physmap of
 * one page at gfn.  Both change what the domain sees: only for pages the
 * caller owns outright (its own mlocked buffer).
 */
int rtv_xen_p2m_move_gfn(struct rtv_xen_p2m *x, uint16_t domid, uint64_t from_gfn,
                         uint64_t to_gfn, struct rtv_err *err);
int rtv_xen_p2m_populate(struct rtv_xen_p2m *x, uint16_t domid, uint64_t gfn,
                         struct rtv_err *err);

#endif
