/* Seam-generic helpers; see rtvirt/seam.h. */
#include "rtvirt/seam.h"

#include <string.h>

void rtv_xen_close(struct rtv_xen *x)
{
    if (x == NULL)
        return;
    /* Event channels and grants first: they may refer to pages or ports a
     * peer learnt about through the store, so the store goes last. */
    if (x->evtchn != NULL)
        x->evtchn->ops->close(x->evtchn);
    if (x->gnt != NULL)
        x->gnt->ops->close(x->gnt);
    if (x->xs != NULL)
        x->xs->ops->close(x->xs);
    memset(x, 0, sizeof(*x));
}
