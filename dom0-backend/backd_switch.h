/*
 * The dom0 side of the live switch, as rtvirt-backd runs it in its event
 * loop: common/coordinator.c (the protocol of xenstore-schema section 1)
 * plus the toolstack half of the switch's PV backend, which this file owns:
 *
 *   bring_up   writes the vbd's backend and frontend nodes for the image
 *              (blkif_xs_attach: libxl's layout and permissions) under a
 *              devid of its own range that is free in the store, then
 *              ctl-devid; READY once the engine (backd_handshake.c, same process)
 *              put the vbd in InitWait, FAILED on hotplug-status = error;
 *   tear_down  waits until the frontend is Closed (or never attached) and
 *              the backend is neither Connected nor Closing, then removes
 *              both vbd directories and ctl-devid; CLOSED then.  The ring is
 *              never taken away from a frontend that may still use it;
 *   present    ctl-devid names a vbd whose backend directory exists.
 *
 * The engine serves the vbds this writes like any other: the two halves
 * talk only through the store, so a restarted daemon finds everything it
 * needs there (the coordinator's restart path, coordinator.h).
 *
 * Store connections: the coordinator and the adapter each need one of their
 * own (each drains its own watch events; the engine's loop discards the
 * events of its connection after rescanning).  Everything runs from
 * backd_run() but the device-model syncs, each on a thread of its own that
 * touches nothing but its qemu socket (backd_dmsync.h).
 */
#ifndef RTVIRT_BACKD_SWITCH_H
#define RTVIRT_BACKD_SWITCH_H

#include <stdbool.h>
#include <stdint.h>

#include "rtvirt/err.h"
#include "rtvirt/seam.h"

/* PV twins are whole disks of the extended vbd form (blkif_xs.h), SPAN of
 * them from the base disk on, taken when free in the store, both under
 * backend/vbd3 (ours) and in the guest's device/vbd (libxl's vbds, e.g. the
 * hdX/sdX encodings of the emulated disks, live there).  That form because
 * the guest's stock xen-blkfront must attach the twin while the emulated
 * disk stays (xen_emul_unplug=unnecessary): it refuses every other number
 * outside xvda..xvdp, and those 16 are the operator's.  The default base
 * is xvdaaa (disk 702): the guest sees the twins as xvdaaa, xvdaab, ...,
 * far from any disk a config names; the last (disk 1701) keeps its minors
 * within a Linux guest's 20 bits (BLKIF_DEVID_EXT_LINUX_DISKS). */
#define BACKD_SWITCH_TWIN_BASE  "xvdaaa"
#define BACKD_SWITCH_DEVID_SPAN 1000u

/* The coordinator wants a tick at least every 100 ms; the loop gives one
 * at least this often. */
#define BACKD_SWITCH_TICK_MS 50

struct backd_switch;

/* co_xs, ad_xs: two store connections of their own (see above), both the
 * caller's; bedomid: the domain the engine serves from (rtv_xen.self);
 * twin_base: the devid of the first twin (a whole extended disk whose
 * SPAN successors a Linux guest can number, else EINVAL; the default is
 * blkif_vdev_to_devid(BACKD_SWITCH_TWIN_BASE)). */
struct backd_switch *backd_switch_new(struct rtv_store *co_xs, struct rtv_store *ad_xs,
                                      rtv_domid_t bedomid, unsigned twin_base,
                                      struct rtv_err *err);
void backd_switch_free(struct backd_switch *sw);

/* The device-model sync before every flip (xenstore-schema section 1, step
 * 6): qemu's monitor socket of domain D is DIR/qmp-libxl-D (libxl's; the
 * default DIR is BACKD_SWITCH_QMP_DIR).  dir NULL = --no-qmp: no device
 * model in dom0 to sync (stub-domain device models; tests without qemu),
 * and the shunt is let flip at once.  Call before backd_switch_start(). */
#define BACKD_SWITCH_QMP_DIR "/var/run/xen"
void backd_switch_set_qmp(struct backd_switch *sw, const char *dir);

/* The bound on each QMP exchange of that sync (default: qemu answers in
 * milliseconds, 3 s is far past it); past it the switch is rolled back. */
#define BACKD_SWITCH_QMP_TIMEOUT_MS 3000u
void backd_switch_set_qmp_timeout(struct backd_switch *sw, unsigned ms);

/* What that sync is.  Default (off): a check of qemu's drive (raw, no
 * backing file, io-status ok), asked for with the request, so it runs
 * outside the blackout and the shunt finds the gate open; nothing is
 * flushed (dom0-backend/README.md says why nothing needs to be).  On
 * (--qmp-flush-at-flip): the check and a flush of that drive, leaving the
 * emulated path asked for once the shunt reported `flushed` (the sync
 * then sits inside the blackout).  Call before backd_switch_start(). */
void backd_switch_set_qmp_flush_at_flip(struct backd_switch *sw, bool on);

/* Where log lines go (default: stderr); msg has no trailing newline. */
void backd_switch_set_log(struct backd_switch *sw, void (*log)(void *ctx, const char *msg),
                          void *ctx);

/* Finds every managed device and finishes or rolls back a switch a previous
 * incarnation left half done.  Call once, before the loop. */
int backd_switch_start(struct backd_switch *sw, uint64_t now_ms, struct rtv_err *err);

/* The fds to poll: the two watch fds, that of the device-model syncs
 * running on threads (backd_dmsync.h), and the NIC switch's watch fd once
 * one is attached. */
#define BACKD_SWITCH_FDS 4
unsigned backd_switch_fds(const struct backd_switch *sw, int fds[BACKD_SWITCH_FDS]);

/* Handles queued watch events (coordinator, then the adapter's view of the
 * vbds it manages) and enforces the bounds.  Never blocks; call when a fd
 * is readable, after the engine changed a vbd, and at least every
 * BACKD_SWITCH_TICK_MS. */
void backd_switch_poll(struct backd_switch *sw, uint64_t now_ms);

/* The NIC switch (backd_vif.h) runs in the same loop: polled with the
 * disks', its fd among backd_switch_fds().  The caller keeps and frees it
 * (after backd_switch_free). */
struct backd_vif;
void backd_switch_attach_vif(struct backd_switch *sw, struct backd_vif *vif);

/* Number of devices being coordinated. */
unsigned backd_switch_count(const struct backd_switch *sw);

/* rtvirt-backd --orphans close: the daemon that served the PV twins is gone
 * for good and this process only fails its rings over (backd.h,
 * fail_rings).  Every failover the guests report from now on is published
 * with cause before their reason (ctl-failover), and a switch to a PV mode
 * is rolled back at once with it (no backend would serve the twin). */
void backd_switch_set_gone(struct backd_switch *sw, const char *cause);
/* Devices on, or switching from or to, a PV mode (0: every guest is on its
 * emulated path, or has no switched disk). */
unsigned backd_switch_on_pv(const struct backd_switch *sw);

#endif
