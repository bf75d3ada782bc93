/* Internal to the real Xen seam (common/xen/). */
#ifndef RTVIRT_XEN_PRIVATE_H
#define RTVIRT_XEN_PRIVATE_H

#include "rtvirt/xen_seam.h"

int rtv_xen_store_open(struct rtv_store **out, rtv_domid_t *self,
                       struct rtv_err *err);
int rtv_xen_grants_open(struct rtv_grants **out, struct rtv_err *err);
int rtv_xen_evtchn_open(struct rtv_evtchn **out, struct rtv_err *err);

#endif
