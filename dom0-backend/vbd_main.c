/*
 * rtvirt-vbd: create and remove a vbd served by rtvirt-backd, writing the
 * same frontend and backend nodes libxl's device_disk_add writes (see
 * blkif_xs_attach()) but with the backend under backend/vbd3, rtvirt-backd's
 * (the kernel's xen-blkback keeps backend/vbd): xl cannot be told to leave
 * a vbd to an external daemon (libxl 4.17's backendtype=standalone is
 * virtio-only, and its phy disks always go to backend/vbd).
 *
 *   rtvirt-vbd attach <domain> <vdev> <image> [r|w] [--backend-domid N] [--cdrom]
 *   rtvirt-vbd detach <domain> <vdev> [--timeout-ms N] [--force]
 *
 * <domain> is a name or id, <vdev> an xl vdev (xvdb, hdc, 51728).  detach
 * asks the backend to close, waits (bounded) for it to reach Closed — which
 * it does only after the frontend has — and then removes both directories.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtvirt/blkif_xs.h"
#include "rtvirt/ctl.h"
#include "rtvirt/xen_seam.h"
#include "rtvirt/xs_util.h"

static int usage(void)
{
    fprintf(stderr,
            "usage: rtvirt-vbd attach <domain> <vdev> <image> [r|w] [--backend-domid N] [--cdrom]\n"
            "       rtvirt-vbd detach <domain> <vdev> [--timeout-ms N] [--force]\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct rtv_err err = { 0, "" };
    struct rtv_xen x;
    struct blkif_xs_attach a;
    unsigned long long v;
    unsigned devid;
    int timeout = 20000, rc;
    bool force = false, attach;

    if (argc < 4)
        return usage();
    if (strcmp(argv[1], "attach") == 0 && argc >= 5)
        attach = true;
    else if (strcmp(argv[1], "detach") == 0)
        attach = false;
    else
        return usage();
    memset(&a, 0, sizeof(a));
    if (blkif_vdev_to_devid(argv[3], &devid) < 0) {
        fprintf(stderr, "rtvirt-vbd: \"%s\" is not a vdev (xvdb, hdc, sda, or a number)\n",
                argv[3]);
        return 2;
    }
    for (int i = attach ? 5 : 4; i < argc; i++) {
        const char *n = i + 1 < argc ? argv[i + 1] : NULL;

        if (attach && (strcmp(argv[i], "r") == 0 || strcmp(argv[i], "w") == 0))
            a.read_only = argv[i][0] == 'r';
        else if (attach && strcmp(argv[i], "--cdrom") == 0)
            a.cdrom = true;
        else if (attach && strcmp(argv[i], "--backend-domid") == 0 && n &&
                 rtv_parse_uint(n, RTV_DOMID_MAX - 1, &v) == 0) {
            a.dev.bedomid = (rtv_domid_t)v;
            i++;
        } else if (!attach && strcmp(argv[i], "--force") == 0)
            force = true;
        else if (!attach && strcmp(argv[i], "--timeout-ms") == 0 && n &&
                 rtv_parse_uint(n, 3600000, &v) == 0) {
            timeout = (int)v;
            i++;
        } else
            return usage();
    }

    rc = rtv_xen_open(&x, RTV_XEN_STORE, &err);
    if (rc < 0) {
        fprintf(stderr, "rtvirt-vbd: %s\n", err.msg);
        return 1;
    }
    rc = rtv_ctl_resolve_domain(x.xs, argv[2], &a.dev.domid, &err);
    if (rc < 0) {
        fprintf(stderr, "rtvirt-vbd: %s\n", err.msg);
        rtv_xen_close(&x);
        return 1;
    }
    a.dev.devid = devid;
    a.dev.btype = BLKIF_XS_BTYPE;     /* rtvirt-backd's, never blkback's */
    if (attach) {
        a.params = argv[4];
        rc = blkif_xs_attach(x.xs, &a);
        if (rc == -EEXIST)
            fprintf(stderr, "rtvirt-vbd: domain %u already has vbd %u\n", a.dev.domid, devid);
        else if (rc < 0)
            fprintf(stderr, "rtvirt-vbd: attach failed: %s\n", strerror(-rc));
    } else {
        rc = blkif_xs_detach(x.xs, &a.dev, timeout, force);
        if (rc == -ETIMEDOUT)
            fprintf(stderr, "rtvirt-vbd: backend did not reach Closed within %d ms%s\n",
                    timeout, force ? "; removed anyway" : "; nodes left in place (--force removes)");
        else if (rc < 0)
            fprintf(stderr, "rtvirt-vbd: detach failed: %s\n", strerror(-rc));
    }
    rtv_xen_close(&x);
    return rc < 0 ? 1 : 0;
}
