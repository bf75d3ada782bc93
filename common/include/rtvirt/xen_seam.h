/*
 * The real Xen seam: opens the seam parts over libxenstore, libxengnttab /
 * libxengntshr and libxenevtchn.  Only common/xen/ implements this; programs
 * that run under Xen call rtv_xen_open() once and use the ops from seam.h.
 */
#ifndef RTVIRT_XEN_SEAM_H
#define RTVIRT_XEN_SEAM_H

#include "rtvirt/err.h"
#include "rtvirt/seam.h"

/* Opens the parts asked for (enum rtv_xen_parts).  On failure nothing stays
 * open, err says which part failed and why, and the result is -errno. */
int rtv_xen_open(struct rtv_xen *out, unsigned parts, struct rtv_err *err);

/* Who we are now, from the relative node "domid" (xenstored resolves it
 * under our own /local/domain/<id>): a domain restored or migrated by xl
 * runs under a new domid.  Only for a store rtv_xen_open() opened. */
int rtv_xen_self_domid(struct rtv_store *xs, rtv_domid_t *out);

#endif
