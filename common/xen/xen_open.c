/* Opens the real seam's parts as one bundle; see rtvirt/xen_seam.h. */
#include "xen_private.h"

#include <string.h>

int rtv_xen_open(struct rtv_xen *out, unsigned parts, struct rtv_err *err)
{
    int rc = 0;

    memset(out, 0, sizeof(*out));
    if ((parts & RTV_XEN_STORE) && rc == 0)
        rc = rtv_xen_store_open(&out->xs, &out->self, err);
    if ((parts & RTV_XEN_GRANTS) && rc == 0)
        rc = rtv_xen_grants_open(&out->gnt, err);
    if ((parts & RTV_XEN_EVTCHN) && rc == 0)
        rc = rtv_xen_evtchn_open(&out->evtchn, err);
    if (rc < 0)
        rtv_xen_close(out);
    return rc;
}
