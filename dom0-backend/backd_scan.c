/*
 * rtvirt-backd device discovery: lists backend/vbd3 (BLKIF_XS_BTYPE), makes
 * a device for each vbd the toolstack has linked to its frontend, marks the
 * ones whose directory went, and re-evaluates every device from what the
 * store says now (backd_handshake.c).  Called on every watch event of the
 * engine's store connection, so it must be idempotent: the real xenstored
 * may coalesce events, ours do.
 */
#include "backd_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rtvirt/clock.h"
#include "rtvirt/xs_util.h"

static struct backd_dev *dev_find(struct backd *b, rtv_domid_t domid, unsigned devid)
{
    for (struct backd_dev *d = b->devs; d != NULL; d = d->next)
        if (d->domid == domid && d->devid == devid)
            return d;
    return NULL;
}

void backd_scan(struct backd *b)
{
    char **doms = NULL;
    unsigned nd = 0;
    int rc;

    b->scanned = true;
    b->st.scans++;
    /* Only a directory that is really gone means its devices are: any other
     * read failure leaves everything as it is until the next event. */
    b->scan_retry_at = 0;
    rc = rtv_xs_directory(b->x->xs, RTV_XS_NO_TXN, b->root, &doms, &nd);
    if (rc < 0 && rc != -ENOENT) {
        backd_err("cannot list %s: %s; trying again in %d ms", b->root, strerror(-rc),
                  BACKD_RETRY_MS);
        b->scan_retry_at = rtv_now_ms() + BACKD_RETRY_MS;
        return;
    }
    if (rc < 0)
        nd = 0;
    for (struct backd_dev *d = b->devs; d != NULL; d = d->next)
        d->gone = true;     /* cleared below for every device still listed */
    for (unsigned i = 0; i < nd; i++) {
        unsigned long long domid;
        char dir[BACKD_PATH_MAX + 64];
        char **devs = NULL;
        unsigned nv = 0;

        if (rtv_parse_uint(doms[i], RTV_DOMID_MAX, &domid) < 0)
            continue;
        snprintf(dir, sizeof(dir), "%s/%s", b->root, doms[i]);
        rc = rtv_xs_directory(b->x->xs, RTV_XS_NO_TXN, dir, &devs, &nv);
        if (rc < 0) {
            if (rc != -ENOENT) {   /* keep this domain's devices; look again */
                for (struct backd_dev *d = b->devs; d != NULL; d = d->next)
                    if (d->domid == domid)
                        d->gone = false;
                b->scan_retry_at = rtv_now_ms() + BACKD_RETRY_MS;
            }
            continue;
        }
        for (unsigned j = 0; j < nv; j++) {
            unsigned long long devid;
            struct backd_dev *d;
            char *fe = NULL;

            if (rtv_parse_uint(devs[j], 2147483647ull, &devid) < 0)
                continue;
            d = dev_find(b, (rtv_domid_t)domid, (unsigned)devid);
            if (d != NULL) {
                d->gone = false;
                continue;
            }
            /* Wait until the toolstack has written the frontend link. */
            struct blkif_xs_dev xd = { b->x->self, (rtv_domid_t)domid, (unsigned)devid,
                                        BLKIF_XS_BTYPE };
            rc = blkif_xs_read(b->x->xs, RTV_XS_NO_TXN, &xd, RTV_XS_VBD_BE_FRONTEND, 0, 0,
                               &fe, NULL);
            if (rtv_xs_store_failed(rc))
                b->scan_retry_at = rtv_now_ms() + BACKD_RETRY_MS;
            if (rc < 0)
                continue;
            free(fe);
            backd_dev_new(b, (rtv_domid_t)domid, (unsigned)devid);
        }
        free(devs);
    }
    free(doms);

    for (struct backd_dev *d = b->devs, *next; d != NULL; d = next) {
        next = d->next;
        backd_dev_update(d);    /* may free d */
    }
}
