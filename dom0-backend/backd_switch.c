/*
 * The dom0 side of the live switch inside rtvirt-backd; see backd_switch.h.
 *
 * The adapter part keeps one slot per (domain, vdev) with what it is
 * waiting for (up: the engine to reach InitWait; down: both ends to let go
 * of the ring).  Its watches on those vbds' state nodes only say "look
 * again": every poll re-reads the states, so coalesced or lost events and
 * events of the engine in this same process change nothing.
 */
#include "backd_switch.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rtvirt/log.h"
#include "rtvirt/qmp.h"
#include "backd_dmsync.h"
#include "backd_vif.h"
#include "rtvirt/blkif_abi.h"
#include "rtvirt/blkif_xs.h"
#include "rtvirt/coordinator.h"
#include "rtvirt/xs_schema.h"
#include "rtvirt/xs_util.h"

#define MAX_DEVS 64
#define TOKEN "rtvirt-backd-switch"

struct sw_dev {
    bool        used;
    rtv_domid_t dom;
    char        vdev[16];
    unsigned    devid;
    bool        known;                /* devid is this device's twin */
    bool        up_pending, down_pending;
    /* Kept after its tear-down's bound passed (ad_keep): no longer the
     * device's twin (dev_get skips it; the coordinator heard it closed, so
     * the next switch to a PV mode brings up a fresh one beside it), and
     * still torn down here (down_pending): it goes once both ends let go. */
    bool        kept;
};

struct backd_switch {
    struct rtv_store       *co_xs, *xs;   /* coordinator's, adapter's */
    struct rtv_coordinator *co;
    rtv_domid_t             bedomid;
    unsigned                base_disk, next;   /* twins: extended disks base_disk.. */
    struct sw_dev           dev[MAX_DEVS];
    struct rtv_log_sink     log;
    char                    qmp_dir[200];   /* "" = --no-qmp */
    unsigned                qmp_timeout_ms; /* bound on each QMP exchange */
    bool                    qmp_flush;      /* --qmp-flush-at-flip */
    struct backd_dmsync    *dmsync;         /* the syncs running on threads */
    struct backd_vif       *vif;            /* the NIC switch, if attached */
    char                    gone[160];      /* "": a daemon; else --orphans close's cause */
};


#define sw_log(sw, ...) rtv_logf(&(sw)->log, "rtvirt-backd: switch", __VA_ARGS__)

/* ---- store helpers ------------------------------------------------------------ */

static int ctl_path(char *buf, enum rtv_xs_node node, rtv_domid_t dom, const char *vdev)
{
    struct rtv_xs_args args = { .domid = dom, .vdev = vdev };
    return rtv_xs_path(buf, 256, node, &args, NULL);
}

static bool read_devid(struct backd_switch *sw, rtv_domid_t dom, const char *vdev,
                       unsigned *devid)
{
    char p[256];
    unsigned long long v;

    if (ctl_path(p, RTV_XS_CTL_DEVID, dom, vdev) < 0 ||
        rtv_xs_read_uint(sw->xs, RTV_XS_NO_TXN, p, 2147483647ull, &v) < 0)
        return false;
    *devid = (unsigned)v;
    return true;
}

/* The devid of twin k of our range, and the other way round (-1: not one
 * of ours). */
static unsigned twin_devid(const struct backd_switch *sw, unsigned k)
{
    return BLKIF_DEVID_EXT_DISK(sw->base_disk + k);
}

static long twin_index(const struct backd_switch *sw, unsigned long long devid)
{
    long disk = devid > 0xffffffffull ? -1 : blkif_devid_ext_disk((unsigned)devid);

    if (disk < (long)sw->base_disk || disk - sw->base_disk >= BACKD_SWITCH_DEVID_SPAN)
        return -1;
    return disk - (long)sw->base_disk;
}

/* A vbd state node: -1 absent, -2 unreadable/garbage, else the XenbusState. */
static int vbd_state(struct backd_switch *sw, rtv_domid_t dom, unsigned devid,
                     enum rtv_xs_node node)
{
    struct blkif_xs_dev d = { sw->bedomid, dom, devid, BLKIF_XS_BTYPE };
    unsigned long long v;
    int rc = blkif_xs_read_uint(sw->xs, RTV_XS_NO_TXN, &d, node, 0, 0, 8, false, 0, &v);

    return rc == -ENOENT ? -1 : rc < 0 ? -2 : (int)v;
}

static void vbd_watch(struct backd_switch *sw, struct sw_dev *v, bool on)
{
    struct blkif_xs_dev d = { sw->bedomid, v->dom, v->devid, BLKIF_XS_BTYPE };
    static const enum rtv_xs_node nodes[2] = { RTV_XS_VBD_BE_STATE, RTV_XS_VBD_FE_STATE };
    char p[256];

    for (unsigned i = 0; i < 2; i++) {
        if (blkif_xs_path(p, sizeof(p), &d, nodes[i], 0, 0) < 0)
            continue;
        if (on)
            rtv_xs_watch(sw->xs, p, TOKEN);
        else
            rtv_xs_unwatch(sw->xs, p, TOKEN);
    }
}

static int vbd_remove(struct backd_switch *sw, rtv_domid_t dom, unsigned devid)
{
    struct blkif_xs_dev d = { sw->bedomid, dom, devid, BLKIF_XS_BTYPE };
    int rc = blkif_xs_remove(sw->xs, &d);

    if (rc < 0)
        sw_log(sw, "dom%u: cannot remove PV twin vbd %u: %s", dom, devid, strerror(-rc));
    return rc;
}

static struct sw_dev *dev_get(struct backd_switch *sw, rtv_domid_t dom, const char *vdev,
                              bool create)
{
    struct sw_dev *free_slot = NULL;

    for (unsigned i = 0; i < MAX_DEVS; i++) {
        struct sw_dev *v = &sw->dev[i];

        if (v->used && !v->kept && v->dom == dom && strcmp(v->vdev, vdev) == 0)
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

/* ---- the coordinator's backend ops ------------------------------------------- */

/* Writes a new vbd for image (backend/vbd3, the engine's) under the next
 * devid of our range that is free in the store.  Free, not "ours to
 * overwrite": after a restart the counter starts again at the base while a
 * vbd an earlier incarnation brought up may still carry a live ring.  The
 * counter goes round the range, so a devid is not reused while the engine
 * may still be dropping the device that had it. */
static int attach_fresh(struct backd_switch *sw, rtv_domid_t dom, const char *image,
                        unsigned *devid)
{
    int rc = -ENOSPC;

    for (unsigned tries = 0; tries < BACKD_SWITCH_DEVID_SPAN; tries++) {
        unsigned id = twin_devid(sw, sw->next);

        sw->next = (sw->next + 1) % BACKD_SWITCH_DEVID_SPAN;
        struct blkif_xs_attach at = { .dev = { sw->bedomid, dom, id, BLKIF_XS_BTYPE },
                                      .params = image };
        rc = blkif_xs_attach(sw->xs, &at);
        if (rc == -EEXIST)
            continue;
        if (rc == 0)
            *devid = id;
        return rc;
    }
    return rc;
}

static int ad_bring_up(void *ctx, rtv_domid_t dom, const char *vdev, const char *image,
                       struct rtv_err *err)
{
    struct backd_switch *sw = ctx;
    struct sw_dev *v = dev_get(sw, dom, vdev, true);
    char p[256];
    int rc;

    if (sw->gone[0] != '\0')
        return rtv_err_set(err, EAGAIN, "%s; start rtvirt-backd, then switch again", sw->gone);
    if (v == NULL)
        return rtv_err_set(err, ENOSPC, "too many switched devices (at most %d)", MAX_DEVS);
    if (v->up_pending || v->down_pending)
        vbd_watch(sw, v, false);
    v->up_pending = v->down_pending = v->known = false;
    if ((rc = attach_fresh(sw, dom, image, &v->devid)) < 0) {
        v->used = false;
        return rtv_err_set(err, -rc, "cannot write a vbd for %s: %s", image, strerror(-rc));
    }
    if ((rc = ctl_path(p, RTV_XS_CTL_DEVID, dom, vdev)) < 0 ||
        (rc = rtv_xs_printf(sw->xs, RTV_XS_NO_TXN, p, "%u", v->devid)) < 0) {
        vbd_remove(sw, dom, v->devid);
        v->used = false;
        return rtv_err_set(err, -rc, "cannot write ctl-devid: %s", strerror(-rc));
    }
    v->known = true;
    sw_log(sw, "dom%u %s: PV twin vbd %u for %s", dom, vdev, v->devid, image);
    vbd_watch(sw, v, true);
    v->up_pending = true;
    return 0;
}

static int fe_state(struct backd_switch *sw, const struct sw_dev *v)
{
    return vbd_state(sw, v->dom, v->devid, RTV_XS_VBD_FE_STATE);
}

/*
 * A tear-down asks the twin's frontend to close whenever it holds a ring
 * (fe Initialised or Connected) and the backend is not closing already:
 * on ad_tear_down() and again on every look at a pending tear-down, since
 * a frontend can take a ring after the first look.  The machine tears
 * down only once the guest left the PV path (the shunt acked a mode
 * without it, or never got to use the ring), so the ring may be closed.
 * A userspace frontend closes by itself; the guest kernel's xen-blkfront
 * under the dm route never does (an unused disk stays Connected): it
 * closes when its backend goes Closing, as on libxl's detach.  Asked once
 * only, a frontend still connecting when the tear-down began (a daemon
 * restarted mid-switch: blkfront retries a twin whose backend died)
 * reached Connected on the restarted engine afterwards, and the twin
 * stayed up until the bound passed (make check under load: "the PV
 * backend did not close within 10000 ms").  online = 0 also keeps the
 * engine from giving that frontend a new session.
 */
static void close_if_ring_held(struct backd_switch *sw, const struct sw_dev *v, int fe,
                               bool again)
{
    struct blkif_xs_dev d = { sw->bedomid, v->dom, v->devid, BLKIF_XS_BTYPE };
    int be, rc;

    if (fe != XenbusStateInitialised && fe != XenbusStateConnected)
        return;
    be = vbd_state(sw, v->dom, v->devid, RTV_XS_VBD_BE_STATE);
    /* again (a tear-down starting): also when the backend is Closing
     * already.  A frontend still holding its ring then missed it (its
     * read of our state failed when the watch fired: Linux's
     * xenbus_read_driver_state() gives Unknown, which blkfront ignores),
     * and the tear-down's bound passed (ad_keep asks again); writing
     * Closing again fires its watch again.  Not at every poll: a frontend
     * on its way to Closed would be woken for nothing. */
    if (be == XenbusStateClosed || (be == XenbusStateClosing && !again))
        return;
    if ((rc = blkif_xs_close(sw->xs, &d)) < 0)
        sw_log(sw, "dom%u %s: cannot ask PV twin vbd %u to close: %s", v->dom, v->vdev,
               v->devid, strerror(-rc));
}

static void ad_tear_down(void *ctx, rtv_domid_t dom, const char *vdev)
{
    struct backd_switch *sw = ctx;
    struct sw_dev *v = dev_get(sw, dom, vdev, true);
    unsigned devid;

    if (v == NULL)
        return;   /* no slot: the coordinator's bound reports it */
    if (!v->known) {
        /* After a restart the device is learnt from the store (a slot
         * from our own bring-up knows it: ctl-devid is gone with a
         * destroyed domain). */
        if (!read_devid(sw, dom, vdev, &devid)) {
            v->used = false;
            rtv_coordinator_backend_event(sw->co, dom, vdev, RTV_FSM_EV_BACKEND_CLOSED, NULL, 0);
            return;
        }
        v->devid = devid;
        v->known = true;
        /* Our counter restarted; never hand this devid out again soon. */
        long k = twin_index(sw, devid);
        if (k >= 0)
            sw->next = ((unsigned)k + 1) % BACKD_SWITCH_DEVID_SPAN;
    }
    if (!v->up_pending && !v->down_pending)
        vbd_watch(sw, v, true);
    v->up_pending = false;
    v->down_pending = true;
    close_if_ring_held(sw, v, fe_state(sw, v), true);
}

/* The machine gave up waiting for the tear-down: the twin stays, since its
 * frontend may still hold the ring, and goes once both ends let go
 * (adapter_poll, as any tear-down; its close request stands).  It is no
 * longer the device's twin, and the coordinator hears that it closed: a
 * kept twin never serves a disk again (Linux's xen-blkfront closes once it
 * sees its backend Closing and takes a new session only from Initialising,
 * which it never returns to; blkback_changed()), so the next switch to a PV
 * mode brings up a fresh twin beside it.  Counted as up, it was switched
 * onto again, and that switch waited its whole bound for a disk that could
 * not come ("the PV disk of vbd 268865792 did not appear within 30000 ms"
 * right after "the PV backend did not close within 100 ms", make check
 * under load, bound_passes_rollback_loses_nothing), or lost ctl-devid to
 * the kept twin's removal ("node devid: absent or invalid"). */
static void ad_keep(void *ctx, rtv_domid_t dom, const char *vdev)
{
    struct backd_switch *sw = ctx;
    struct sw_dev *v = dev_get(sw, dom, vdev, false);

    if (v == NULL || !v->down_pending)
        return;
    v->kept = true;   /* still down_pending, still watched */
    /* Asked again: a frontend that missed the first Closing (its read of
     * our state failed when the watch fired) is woken once more. */
    close_if_ring_held(sw, v, fe_state(sw, v), true);
    sw_log(sw, "dom%u %s: PV twin vbd %u kept (its tear-down's bound passed): it goes once "
           "both ends closed; the next switch to a PV mode brings up a fresh one", dom, vdev,
           v->devid);
    rtv_coordinator_backend_event(sw->co, dom, vdev, RTV_FSM_EV_BACKEND_CLOSED, NULL, 0);
}

/* Twin devid's close request stands: online = 0, read as the engine reads
 * it (absent is 0).  Only a tear-down writes it (close_if_ring_held; also
 * rtvirt-backd --orphans close, for a daemon gone for good), and nothing
 * takes it back: the frontend saw Closing, and the twin serves no disk
 * again (ad_keep says why).  Its state alone does not tell: a restarted
 * engine may publish InitWait over Closing.  A store that fails says no. */
static bool close_requested(struct backd_switch *sw, rtv_domid_t dom, unsigned devid)
{
    struct blkif_xs_dev d = { sw->bedomid, dom, devid, BLKIF_XS_BTYPE };
    unsigned long long online;

    return blkif_xs_read_uint(sw->xs, RTV_XS_NO_TXN, &d, RTV_XS_VBD_BE_ONLINE, 0, 0, 1, true,
                              0, &online) == 0 && online == 0;
}

/* A restarted daemon finds a twin whose close request stands (a kept twin,
 * or one whose tear-down its predecessor began): it keeps it as ad_keep
 * does, a tear-down without a deadline that is not the device's twin.
 * false: no slot for it (then the coordinator counts it as up, as before). */
static bool adopt_kept(struct backd_switch *sw, rtv_domid_t dom, const char *vdev,
                       unsigned devid)
{
    struct sw_dev *v = dev_get(sw, dom, vdev, false);

    if (v != NULL || (v = dev_get(sw, dom, vdev, true)) == NULL)
        return false;   /* a slot of ours has the device: it knows better */
    v->devid = devid;
    v->known = v->kept = v->down_pending = true;
    vbd_watch(sw, v, true);
    long k = twin_index(sw, devid);
    if (k >= 0)
        sw->next = ((unsigned)k + 1) % BACKD_SWITCH_DEVID_SPAN;
    /* Asked again: a frontend may have missed the first Closing. */
    close_if_ring_held(sw, v, fe_state(sw, v), true);
    sw_log(sw, "dom%u %s: PV twin vbd %u kept (its close request stands, from before a "
           "restart): it goes once both ends closed; the next switch to a PV mode brings "
           "up a fresh one", dom, vdev, devid);
    return true;
}

/* A twin ctl-devid names, unless it is one we keep only to see it go.  A
 * restarted daemon learns a kept twin here, when the coordinator finds the
 * device: counted as up, it was switched onto at every switch to a PV mode,
 * each of which rolled back at its bound, until the domain went (the
 * predecessor's ad_keep was lost with it; component test
 * restarted_daemon_knows_a_kept_twin). */
static bool ad_present(void *ctx, rtv_domid_t dom, const char *vdev)
{
    struct backd_switch *sw = ctx;
    unsigned devid;

    if (!read_devid(sw, dom, vdev, &devid))
        return false;
    for (unsigned i = 0; i < MAX_DEVS; i++)
        if (sw->dev[i].used && sw->dev[i].kept && sw->dev[i].dom == dom &&
            sw->dev[i].devid == devid)
            return false;
    if (vbd_state(sw, dom, devid, RTV_XS_VBD_BE_STATE) < 0)
        return false;
    return !(close_requested(sw, dom, devid) && adopt_kept(sw, dom, vdev, devid));
}

/* Step 6 of the switch protocol: qemu's drive of the image checked to hold
 * no state the PV path would miss (rtvirt/qmp.h), at the request; with
 * --qmp-flush-at-flip also flushed, once the guest drained.  On a thread
 * (backd_dmsync.h); dmsync_done() hands the result back. */
static int ad_dm_sync(void *ctx, rtv_domid_t dom, const char *vdev, const char *image,
                      uint32_t switch_id, uint64_t *took_us, struct rtv_err *err)
{
    struct backd_switch *sw = ctx;
    char sock[256];
    int rc;

    (void)took_us;
    if (sw->qmp_dir[0] == '\0')
        return 1;   /* --no-qmp */
    snprintf(sock, sizeof(sock), "%s/qmp-libxl-%u", sw->qmp_dir, (unsigned)dom);
    if (access(sock, F_OK) != 0)
        return rtv_err_set(err, ENOENT, "no qemu monitor socket %s for dom%u (%s): "
                           "the device model's side of %s cannot be synced (a domain "
                           "whose device model is not a dom0 qemu needs rtvirt-backd "
                           "--no-qmp)", sock, (unsigned)dom, strerror(errno), vdev);
    rc = backd_dmsync_start(sw->dmsync, sock, dom, vdev, image, switch_id, sw->qmp_timeout_ms,
                            sw->qmp_flush, err);
    return rc < 0 ? rc : RTV_DM_SYNC_STARTED;
}

struct reap_ctx {
    struct backd_switch *sw;
    uint64_t             now_ms;
};

static void dmsync_done(void *ctx, const struct backd_dmsync_result *r)
{
    struct reap_ctx *rc = ctx;

    rtv_coordinator_dm_sync_done(rc->sw->co, r->dom, r->vdev, r->switch_id, r->rc,
                                 r->took_us, r->msg, rc->now_ms);
}

static const struct rtv_coordinator_backend_ops ops = { ad_bring_up, ad_tear_down, ad_present,
                                                  ad_dm_sync, ad_keep };

void backd_switch_set_qmp(struct backd_switch *sw, const char *dir)
{
    snprintf(sw->qmp_dir, sizeof(sw->qmp_dir), "%s", dir ? dir : "");
}

void backd_switch_set_qmp_flush_at_flip(struct backd_switch *sw, bool on)
{
    sw->qmp_flush = on;
    /* The check alone needs no drained guest: asked for with the request. */
    rtv_coordinator_set_dm_sync_at_request(sw->co, !on);
}

void backd_switch_set_qmp_timeout(struct backd_switch *sw, unsigned ms)
{
    assert(ms > 0);
    sw->qmp_timeout_ms = ms;
}

/* Twins of domains that no longer exist: nobody else removes them (libxl
 * removes only the devices it made), and the engine would keep serving
 * them.  Run at start (a twin may be left from before a restart, or from a
 * guest destroyed while we were down) and after every @releaseDomain. */
static void sweep_orphans(struct backd_switch *sw)
{
    char root[64], **doms = NULL;
    unsigned nd = 0;

    snprintf(root, sizeof(root), BLKIF_XS_BE_ROOT_FMT, sw->bedomid);
    if (rtv_xs_directory(sw->xs, RTV_XS_NO_TXN, root, &doms, &nd) < 0)
        return;
    for (unsigned i = 0; i < nd; i++) {
        unsigned long long dom;
        char ddir[256], dir[320], **devs = NULL;
        unsigned nv = 0;
        char *v = NULL;

        if (rtv_parse_uint(doms[i], RTV_DOMID_MAX, &dom) < 0 ||
            rtv_xs_dir(ddir, sizeof(ddir), RTV_XS_DOM_NAME,
                       &(struct rtv_xs_args){ .domid = (rtv_domid_t)dom }, NULL) < 0)
            continue;
        /* Only a domain directory that is really gone counts. */
        int rc = rtv_xs_read(sw->xs, RTV_XS_NO_TXN, ddir, &v, NULL);
        free(v);
        if (rc != -ENOENT)
            continue;
        snprintf(dir, sizeof(dir), "%s/%s", root, doms[i]);
        if (rtv_xs_directory(sw->xs, RTV_XS_NO_TXN, dir, &devs, &nv) < 0)
            continue;
        for (unsigned j = 0; j < nv; j++) {
            unsigned long long devid;

            if (rtv_parse_uint(devs[j], 2147483647ull, &devid) < 0 || twin_index(sw, devid) < 0)
                continue;
            sw_log(sw, "dom%llu: gone; removing its PV twin vbd %llu", dom, devid);
            vbd_remove(sw, (rtv_domid_t)dom, (unsigned)devid);
        }
        free(devs);   /* vbd_remove() took the emptied parents along */
    }
    free(doms);
}

/* Both ends of twin v let go: its vbd and ctl-devid go, and the coordinator
 * hears that the backend closed.  A kept twin's ctl-devid goes only if it
 * still names it (a fresh twin may have it now), and the coordinator heard
 * already (ad_keep).  A store that fails leaves it as it was, to be removed
 * again at the next poll (the twin's nodes must not outlive it: found by
 * the switch's store fault sweep). */
static void twin_gone(struct backd_switch *sw, struct sw_dev *v, const char *vdev,
                      uint64_t now_ms)
{
    rtv_domid_t dom = v->dom;
    bool kept = v->kept;
    unsigned named;
    char p[256];
    int rc = vbd_remove(sw, dom, v->devid);

    if (rc == 0 && (!kept || (read_devid(sw, dom, vdev, &named) && named == v->devid)) &&
        ctl_path(p, RTV_XS_CTL_DEVID, dom, vdev) == 0 &&
        (rc = rtv_xs_rm(sw->xs, RTV_XS_NO_TXN, p)) == -ENOENT)
        rc = 0;
    if (rc < 0)
        return;
    vbd_watch(sw, v, false);
    sw_log(sw, "dom%u %s: %sPV twin vbd %u removed", dom, vdev, kept ? "kept " : "", v->devid);
    v->down_pending = v->kept = false;
    v->used = false;
    if (!kept)
        rtv_coordinator_backend_event(sw->co, dom, vdev, RTV_FSM_EV_BACKEND_CLOSED, NULL,
                                      now_ms);
}

/* Bring-ups and tear-downs waiting on the vbds' states. */
static void adapter_poll(struct backd_switch *sw, uint64_t now_ms)
{
    char *path, *token;

    bool released = false;

    /* Our watches only say "look again"; the states are re-read below.
     * Bounded: a flood of events must not starve the rest of the loop. */
    for (int i = 0; i < 256 && rtv_xs_read_watch(sw->xs, &path, &token) == 0; i++) {
        released |= strcmp(path, "@releaseDomain") == 0;
        free(path);
        free(token);
    }
    if (released)
        sweep_orphans(sw);
    for (unsigned i = 0; i < MAX_DEVS; i++) {
        struct sw_dev *v = &sw->dev[i];
        char vdev[16];
        rtv_domid_t dom = v->dom;

        if (!v->used)
            continue;
        /* The coordinator may call back into us (and reuse this slot). */
        snprintf(vdev, sizeof(vdev), "%s", v->vdev);
        if (v->up_pending) {
            int be = vbd_state(sw, dom, v->devid, RTV_XS_VBD_BE_STATE);
            struct blkif_xs_dev d = { sw->bedomid, dom, v->devid, BLKIF_XS_BTYPE };
            char *hs = NULL;

            if (blkif_xs_read(sw->xs, RTV_XS_NO_TXN, &d, RTV_XS_VBD_BE_HOTPLUG_STATUS, 0, 0,
                              &hs, NULL) == 0 && strcmp(hs, "error") == 0) {
                v->up_pending = false;
                rtv_coordinator_backend_event(sw->co, dom, vdev, RTV_FSM_EV_BACKEND_FAILED,
                                              "the backend reported hotplug-status error",
                                              now_ms);
            } else if (be >= XenbusStateInitWait && be <= XenbusStateConnected) {
                v->up_pending = false;
                rtv_coordinator_backend_event(sw->co, dom, vdev, RTV_FSM_EV_BACKEND_READY, NULL,
                                              now_ms);
            }
            free(hs);
        }
        if (v->down_pending) {
            int fe = fe_state(sw, v);
            int be = vbd_state(sw, dom, v->devid, RTV_XS_VBD_BE_STATE);

            close_if_ring_held(sw, v, fe, false);

            /* The ring goes only once the frontend is Closed, or never
             * came: absent, or still Initialising as the toolstack wrote
             * it (a frontend offers a ring only on leaving Initialising;
             * a daemon killed before the shunt began connecting leaves
             * exactly that).  Tearing down earlier corrupts the ring. */
            if ((fe == -1 || fe == XenbusStateUnknown || fe == XenbusStateInitialising ||
                 fe == XenbusStateClosed) &&
                be != XenbusStateConnected && be != XenbusStateClosing)
                twin_gone(sw, v, vdev, now_ms);
        }
    }
}

/* ---- lifecycle ------------------------------------------------------------------ */

struct backd_switch *backd_switch_new(struct rtv_store *co_xs, struct rtv_store *ad_xs,
                                      rtv_domid_t bedomid, unsigned twin_base,
                                      struct rtv_err *err)
{
    struct backd_switch *sw;
    long disk = blkif_devid_ext_disk(twin_base);

    if (co_xs == ad_xs) {
        rtv_err_set(err, EINVAL, "the switch needs two store connections");
        return NULL;
    }
    if (disk < 0 || disk + BACKD_SWITCH_DEVID_SPAN > BLKIF_DEVID_EXT_LINUX_DISKS) {
        rtv_err_set(err, EINVAL, "PV twins from vbd %u: the base must be a whole disk of "
                    "the extended form (1 << 28 | disk << 8, xvdq on) with disk + %u <= %u, "
                    "the vbds a Linux HVM guest's xen-blkfront attaches beside its emulated "
                    "disks", twin_base, BACKD_SWITCH_DEVID_SPAN, BLKIF_DEVID_EXT_LINUX_DISKS);
        return NULL;
    }
    sw = calloc(1, sizeof(*sw));
    if (sw == NULL) {
        rtv_err_set(err, ENOMEM, "out of memory");
        return NULL;
    }
    sw->co_xs = co_xs;
    sw->xs = ad_xs;
    sw->bedomid = bedomid;
    sw->base_disk = (unsigned)disk;
    backd_switch_set_qmp(sw, BACKD_SWITCH_QMP_DIR);
    sw->qmp_timeout_ms = BACKD_SWITCH_QMP_TIMEOUT_MS;
    /* Not where a predecessor started: a twin it removed just before it
     * died may still see its frontend's last state write (a frontend that
     * finishes its close after the directory went recreates its state node),
     * and that must not land in a new twin's directory. */
    sw->next = (unsigned)(time(NULL) ^ getpid()) % BACKD_SWITCH_DEVID_SPAN;
    sw->dmsync = backd_dmsync_new(err);
    if (sw->dmsync == NULL) {
        free(sw);
        return NULL;
    }
    sw->co = rtv_coordinator_new(co_xs, &ops, sw, err);
    if (sw->co == NULL) {
        backd_dmsync_free(sw->dmsync);
        free(sw);
        return NULL;
    }
    backd_switch_set_qmp_flush_at_flip(sw, false);
    return sw;
}

void backd_switch_set_log(struct backd_switch *sw, void (*log)(void *ctx, const char *msg),
                          void *ctx)
{
    sw->log = (struct rtv_log_sink){ log, ctx };
    rtv_coordinator_set_log(sw->co, log, ctx);
}

int backd_switch_start(struct backd_switch *sw, uint64_t now_ms, struct rtv_err *err)
{
    int rc = rtv_xs_watch(sw->xs, "@releaseDomain", TOKEN);

    if (rc < 0)
        return rtv_err_set(err, -rc, "cannot watch @releaseDomain: %s", strerror(-rc));
    sweep_orphans(sw);
    return rtv_coordinator_start(sw->co, now_ms, err);
}

unsigned backd_switch_fds(const struct backd_switch *sw, int fds[BACKD_SWITCH_FDS])
{
    fds[0] = rtv_xs_watch_fd(sw->co_xs);
    fds[1] = rtv_xs_watch_fd(sw->xs);
    fds[2] = backd_dmsync_fd(sw->dmsync);
    if (sw->vif == NULL)
        return 3;
    fds[3] = backd_vif_fd(sw->vif);
    return 4;
}

void backd_switch_attach_vif(struct backd_switch *sw, struct backd_vif *vif)
{
    sw->vif = vif;
}

void backd_switch_poll(struct backd_switch *sw, uint64_t now_ms)
{
    struct reap_ctx rc = { sw, now_ms };

    backd_dmsync_reap(sw->dmsync, dmsync_done, &rc);
    rtv_coordinator_poll_watches(sw->co, now_ms);
    adapter_poll(sw, now_ms);
    rtv_coordinator_tick(sw->co, now_ms);
    if (sw->vif != NULL)
        backd_vif_poll(sw->vif, now_ms);
}

unsigned backd_switch_count(const struct backd_switch *sw)
{
    return rtv_coordinator_count(sw->co);
}

void backd_switch_set_gone(struct backd_switch *sw, const char *cause)
{
    snprintf(sw->gone, sizeof(sw->gone), "%s", cause);
    rtv_coordinator_set_failover_cause(sw->co, cause);
}

unsigned backd_switch_on_pv(const struct backd_switch *sw)
{
    return rtv_coordinator_count_on_pv(sw->co);
}

void backd_switch_free(struct backd_switch *sw)
{
    if (sw == NULL)
        return;
    backd_dmsync_free(sw->dmsync);   /* joins the syncs still running */
    rtv_coordinator_free(sw->co);
    rtv_xs_unwatch(sw->xs, "@releaseDomain", TOKEN);
    /* A twin that is up is watched too (from its bring-up on, until it is
     * removed; a kept one too): a daemon stopped in pv leaves nothing
     * watched on the connection, which its caller may keep (the test checks
     * it; a watch not there is -ENOENT, harmless). */
    for (unsigned i = 0; i < MAX_DEVS; i++)
        if (sw->dev[i].used && sw->dev[i].known)
            vbd_watch(sw, &sw->dev[i], false);
    free(sw);
}
