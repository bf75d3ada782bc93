/*
 * The switch coordinator as rtvirt-backd runs it: finds managed devices in
 * xenstore, watches their control and report nodes, drives one
 * rtv_switch_fsm state machine per device, and publishes what it decides (state,
 * result, stats) in one transaction each time.  The PV backend itself is the
 * caller's: it supplies bring_up / tear_down and reports back with
 * rtv_coordinator_backend_event().
 *
 * Runs over any seam: rtvirt-backd uses the real one, the component tests the
 * local one.  Single-threaded: call everything from one event loop.
 */
#ifndef RTVIRT_COORDINATOR_H
#define RTVIRT_COORDINATOR_H

#include <stdint.h>

#include "rtvirt/err.h"
#include "rtvirt/seam.h"
#include "rtvirt/switch_fsm.h"

struct rtv_coordinator_backend_ops {
    /* Start serving image to dom as the PV twin of vdev; report READY or
     * FAILED later (or from inside this call).  A negative return is a
     * failure reported at once. */
    int (*bring_up)(void *ctx, rtv_domid_t dom, const char *vdev,
                    const char *image, struct rtv_err *err);
    /* Close it; report CLOSED once both ends reached Closed.  Also called
     * after a failed bring_up: it must report CLOSED even if nothing was
     * left to close. */
    void (*tear_down)(void *ctx, rtv_domid_t dom, const char *vdev);
    /* Is a PV backend for this device up right now (after a restart)? */
    bool (*present)(void *ctx, rtv_domid_t dom, const char *vdev);
    /* Syncs the device model's side of the emulated disk on image for
     * switch switch_id (xenstore-schema section 1, step 6): 0 with *took_us
     * set; 1 if there is no device model to sync (rtvirt-backd --no-qmp;
     * NULL means the same); -errno with err saying why (the switch is then
     * rolled back); or RTV_DM_SYNC_STARTED: it runs elsewhere and its
     * result comes through rtv_coordinator_dm_sync_done().  Bounded. */
    int (*dm_sync)(void *ctx, rtv_domid_t dom, const char *vdev, const char *image,
                   uint32_t switch_id, uint64_t *took_us, struct rtv_err *err);
    /* Calls off a tear_down whose bound passed (RTV_FSM_ACT_KEEP): the backend
     * stays as it is, and no CLOSED is expected.  NULL: nothing to call off. */
    void (*keep)(void *ctx, rtv_domid_t dom, const char *vdev);
};

#define RTV_DM_SYNC_STARTED 2

struct rtv_coordinator;

struct rtv_coordinator *rtv_coordinator_new(struct rtv_store *xs,
                                            const struct rtv_coordinator_backend_ops *ops,
                                            void *ctx, struct rtv_err *err);
/* The same for the devices of class cls (rtv_coordinator_new: disks).  The
 * "vdev" of every call below is then the class's key (a NIC's devid), and
 * bring_up's image the class's RTV_R_ARG node (a NIC's MAC).  Each class
 * watches with a token of its own, but reads every event off the store
 * connection: give each coordinator a connection of its own. */
struct rtv_coordinator *rtv_coordinator_new_class(struct rtv_store *xs,
                                                  const struct rtv_devclass *cls,
                                                  const struct rtv_coordinator_backend_ops *ops,
                                                  void *ctx, struct rtv_err *err);
void rtv_coordinator_free(struct rtv_coordinator *co);

/* Scans every domain for managed devices and starts watching; call once at
 * start (this is also the restart path: half-done switches are finished or
 * rolled back here). */
int rtv_coordinator_start(struct rtv_coordinator *co, uint64_t now_ms,
                          struct rtv_err *err);

/* Reads and handles every queued watch event.  Call when the store's watch
 * fd is readable (or periodically; it never blocks). */
void rtv_coordinator_poll_watches(struct rtv_coordinator *co, uint64_t now_ms);

/* Enforces the bounds; call at least every 100 ms. */
void rtv_coordinator_tick(struct rtv_coordinator *co, uint64_t now_ms);

/* The backend's report for a device: RTV_FSM_EV_BACKEND_READY, _FAILED (msg
 * says why) or _CLOSED. */
void rtv_coordinator_backend_event(struct rtv_coordinator *co, rtv_domid_t dom,
                                   const char *vdev,
                                   enum rtv_switch_fsm_event_kind kind,
                                   const char *msg, uint64_t now_ms);

/* Number of devices being coordinated, and one of them (for tests/status). */
/* The result of a device-model sync that ops->dm_sync started (rc, took_us
 * and msg as its return would have been).  A result for a switch the device
 * has moved past is dropped. */
void rtv_coordinator_dm_sync_done(struct rtv_coordinator *co, rtv_domid_t dom,
                                  const char *vdev, uint32_t switch_id, int rc,
                                  uint64_t took_us, const char *msg, uint64_t now_ms);

unsigned rtv_coordinator_count(const struct rtv_coordinator *co);
/* Devices still on (or switching from or to) a PV mode: not STABLE, or
 * STABLE in pv/selective.  0: no guest of this coordinator needs a PV
 * backend now. */
unsigned rtv_coordinator_count_on_pv(const struct rtv_coordinator *co);
const struct rtv_switch_fsm *rtv_coordinator_get(const struct rtv_coordinator *co,
                                                 rtv_domid_t dom, const char *vdev);
/* The i-th device coordinated now (0 <= i < rtv_coordinator_count), with its
 * domain and vdev; NULL past the last.  Valid until the next poll or tick. */
const struct rtv_switch_fsm *rtv_coordinator_at(const struct rtv_coordinator *co, unsigned i,
                                                rtv_domid_t *dom, const char **vdev);

/* What dom0 knows of why a guest lost its PV leg (rtvirt-backd gone for
 * good): every failover from now on is published with it before the
 * guest's reason (ctl-failover).  Copied; NULL clears it. */
void rtv_coordinator_set_failover_cause(struct rtv_coordinator *co, const char *cause);

/* Asks for the device-model sync with every request instead of on the
 * shunt's `flushed` (struct rtv_switch_fsm's dm_sync_at_request; default off),
 * for the devices coordinated now and later.  rtvirt-backd turns it on
 * unless --qmp-flush-at-flip. */
void rtv_coordinator_set_dm_sync_at_request(struct rtv_coordinator *co, bool on);

/* Where log lines go (default: stderr); msg has no trailing newline. */
void rtv_coordinator_set_log(struct rtv_coordinator *co,
                             void (*log)(void *ctx, const char *msg),
                             void *ctx);

#endif
