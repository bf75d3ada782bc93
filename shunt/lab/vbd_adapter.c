/*
 * The toolstack half of a switch's PV backend; see vbd_adapter.h.
 */
#include "vbd_adapter.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtvirt/blkif_abi.h"
#include "rtvirt/blkif_xs.h"
#include "rtvirt/xs_schema.h"
#include "rtvirt/xs_util.h"

#define MAX_DEVS 64
#define DEVID_SPAN 1000u
#define TOKEN "rtvirt-vbd-adapter"

struct vbd_dev {
    bool        used;
    rtv_domid_t dom;
    char        vdev[16];
    unsigned    devid;
    bool        up_pending, down_pending;
};

struct vbd_adapter {
    struct rtv_store       *xs;
    struct rtv_coordinator *co;
    rtv_domid_t             bedomid;
    unsigned                devid_base, next;
    struct vbd_dev          dev[MAX_DEVS];
};

struct vbd_adapter *vbd_adapter_new(struct rtv_store *xs, rtv_domid_t bedomid,
                                    unsigned devid_base)
{
    struct vbd_adapter *a = calloc(1, sizeof(*a));

    if (a == NULL)
        return NULL;
    a->xs = xs;
    a->bedomid = bedomid;
    a->devid_base = devid_base;
    return a;
}

void vbd_adapter_set_coordinator(struct vbd_adapter *a, struct rtv_coordinator *co)
{
    a->co = co;
}

static int ctl_path(char *buf, enum rtv_xs_node node, rtv_domid_t dom, const char *vdev)
{
    struct rtv_xs_args args = { .domid = dom, .vdev = vdev };
    return rtv_xs_path(buf, 256, node, &args, NULL);
}

static bool read_devid(struct vbd_adapter *a, rtv_domid_t dom, const char *vdev,
                       unsigned *devid)
{
    char p[256];
    unsigned long long v;

    if (ctl_path(p, RTV_XS_CTL_DEVID, dom, vdev) < 0 ||
        rtv_xs_read_uint(a->xs, RTV_XS_NO_TXN, p, 2147483647ull, &v) < 0)
        return false;
    *devid = (unsigned)v;
    return true;
}

/* A vbd state node: -1 absent, -2 unreadable/garbage, else the XenbusState. */
static int vbd_state(struct vbd_adapter *a, rtv_domid_t dom, unsigned devid,
                     enum rtv_xs_node node)
{
    struct blkif_xs_dev d = { a->bedomid, dom, devid };
    unsigned long long v;
    int rc = blkif_xs_read_uint(a->xs, RTV_XS_NO_TXN, &d, node, 0, 0, 8, false, 0, &v);

    return rc == -ENOENT ? -1 : rc < 0 ? -2 : (int)v;
}

static void vbd_watch(struct vbd_adapter *a, struct vbd_dev *v, bool on)
{
    struct blkif_xs_dev d = { a->bedomid, v->dom, v->devid };
    static const enum rtv_xs_node nodes[2] = { RTV_XS_VBD_BE_STATE, RTV_XS_VBD_FE_STATE };
    char p[256];

    for (unsigned i = 0; i < 2; i++) {
        if (blkif_xs_path(p, sizeof(p), &d, nodes[i], 0, 0) < 0)
            continue;
        if (on)
            rtv_xs_watch(a->xs, p, TOKEN);
        else
            rtv_xs_unwatch(a->xs, p, TOKEN);
    }
}

static void vbd_remove(struct vbd_adapter *a, rtv_domid_t dom, unsigned devid)
{
    struct blkif_xs_dev d = { a->bedomid, dom, devid };
    static const enum rtv_xs_node nodes[2] = { RTV_XS_VBD_BE_STATE, RTV_XS_VBD_FE_STATE };
    char p[256];

    for (unsigned i = 0; i < 2; i++) {
        if (blkif_xs_path(p, sizeof(p), &d, nodes[i], 0, 0) < 0)
            continue;
        *strrchr(p, '/') = '\0';   /* the vbd's directory */
        rtv_xs_rm(a->xs, RTV_XS_NO_TXN, p);
    }
}

static struct vbd_dev *dev_get(struct vbd_adapter *a, rtv_domid_t dom, const char *vdev,
                               bool create)
{
    struct vbd_dev *free_slot = NULL;

    for (unsigned i = 0; i < MAX_DEVS; i++) {
        struct vbd_dev *v = &a->dev[i];

        if (v->used && v->dom == dom && strcmp(v->vdev, vdev) == 0)
            return v;
        if (!v->used && free_slot == NULL)
            free_slot = v;
    }
    if (!create || free_slot == NULL)
        return NULL;
    memset(free_slot, 0, sizeof(*free_slot));
    free_slot->used = true;
    free_slot->dom = dom;
    snprintf(free_slot->vdev, sizeof(free_slot->vdev), "%s", vdev);
    return free_slot;
}

static int ad_bring_up(void *ctx, rtv_domid_t dom, const char *vdev, const char *image,
                       struct rtv_err *err)
{
    struct vbd_adapter *a = ctx;
    struct vbd_dev *v = dev_get(a, dom, vdev, true);
    char p[256];
    int rc;

    if (v == NULL)
        return rtv_err_set(err, ENOSPC, "too many devices for the vbd adapter");
    if (v->up_pending || v->down_pending)
        vbd_watch(a, v, false);
    v->devid = a->devid_base + a->next;
    a->next = (a->next + 1) % DEVID_SPAN;
    vbd_remove(a, dom, v->devid);   /* leftovers of an earlier run */
    struct blkif_xs_attach at = { .dev = { a->bedomid, dom, v->devid }, .params = image };
    if ((rc = blkif_xs_attach(a->xs, &at)) < 0)
        return rtv_err_set(err, -rc, "cannot write vbd %u: %s", v->devid, strerror(-rc));
    if ((rc = ctl_path(p, RTV_XS_CTL_DEVID, dom, vdev)) < 0 ||
        (rc = rtv_xs_printf(a->xs, RTV_XS_NO_TXN, p, "%u", v->devid)) < 0) {
        vbd_remove(a, dom, v->devid);
        return rtv_err_set(err, -rc, "cannot write ctl-devid: %s", strerror(-rc));
    }
    vbd_watch(a, v, true);
    v->up_pending = true;
    v->down_pending = false;
    return 0;
}

static void ad_tear_down(void *ctx, rtv_domid_t dom, const char *vdev)
{
    struct vbd_adapter *a = ctx;
    struct vbd_dev *v = dev_get(a, dom, vdev, true);
    unsigned devid;

    if (v == NULL)
        return;   /* no slot: the coordinator's bound reports it */
    if (!v->up_pending && !v->down_pending) {
        /* After a restart the device is learnt from the store. */
        if (!read_devid(a, dom, vdev, &devid)) {
            v->used = false;
            rtv_coordinator_backend_event(a->co, dom, vdev, RTV_CEV_BACKEND_CLOSED, NULL, 0);
            return;
        }
        v->devid = devid;
        vbd_watch(a, v, true);
    }
    v->up_pending = false;
    v->down_pending = true;
}

static bool ad_present(void *ctx, rtv_domid_t dom, const char *vdev)
{
    struct vbd_adapter *a = ctx;
    unsigned devid;

    return read_devid(a, dom, vdev, &devid) &&
           vbd_state(a, dom, devid, RTV_XS_VBD_BE_STATE) >= 0;
}

const struct rtv_coord_backend_ops vbd_adapter_ops = { ad_bring_up, ad_tear_down, ad_present };

void vbd_adapter_poll(struct vbd_adapter *a, uint64_t now_ms)
{
    char *path, *token, p[256];

    /* Our watches only say "look again"; the states are re-read below. */
    for (int i = 0; i < 256 && rtv_xs_read_watch(a->xs, &path, &token) == 0; i++) {
        free(path);
        free(token);
    }
    for (unsigned i = 0; i < MAX_DEVS; i++) {
        struct vbd_dev *v = &a->dev[i];
        char vdev[16];
        rtv_domid_t dom = v->dom;

        if (!v->used)
            continue;
        snprintf(vdev, sizeof(vdev), "%s", v->vdev);
        if (v->up_pending) {
            int be = vbd_state(a, dom, v->devid, RTV_XS_VBD_BE_STATE);
            struct blkif_xs_dev d = { a->bedomid, dom, v->devid };
            char *hs = NULL;

            if (blkif_xs_read(a->xs, RTV_XS_NO_TXN, &d, RTV_XS_VBD_BE_HOTPLUG_STATUS, 0, 0,
                              &hs, NULL) == 0 && strcmp(hs, "error") == 0) {
                v->up_pending = false;
                rtv_coordinator_backend_event(a->co, dom, vdev, RTV_CEV_BACKEND_FAILED,
                                              "the backend reported hotplug-status error",
                                              now_ms);
            } else if (be >= XenbusStateInitWait && be <= XenbusStateConnected) {
                v->up_pending = false;
                rtv_coordinator_backend_event(a->co, dom, vdev, RTV_CEV_BACKEND_READY, NULL,
                                              now_ms);
            }
            free(hs);
        }
        if (v->down_pending) {
            int fe = vbd_state(a, dom, v->devid, RTV_XS_VBD_FE_STATE);
            int be = vbd_state(a, dom, v->devid, RTV_XS_VBD_BE_STATE);

            /* The ring goes only once the frontend is Closed (or never
             * came): tearing down earlier corrupts it. */
            if ((fe == -1 || fe == XenbusStateUnknown || fe == XenbusStateClosed) &&
                be != XenbusStateConnected && be != XenbusStateClosing) {
                vbd_watch(a, v, false);
                vbd_remove(a, dom, v->devid);
                if (ctl_path(p, RTV_XS_CTL_DEVID, dom, vdev) == 0)
                    rtv_xs_rm(a->xs, RTV_XS_NO_TXN, p);
                v->down_pending = false;
                v->used = false;
                rtv_coordinator_backend_event(a->co, dom, vdev, RTV_CEV_BACKEND_CLOSED, NULL,
                                              now_ms);
            }
        }
    }
}

void vbd_adapter_free(struct vbd_adapter *a)
{
    if (a == NULL)
        return;
    for (unsigned i = 0; i < MAX_DEVS; i++)
        if (a->dev[i].used && (a->dev[i].up_pending || a->dev[i].down_pending))
            vbd_watch(a, &a->dev[i], false);
    free(a);
}
