/*
 * The dom0 side of the NIC switch (xenstore-schema section 2b) inside
 * rtvirt-backd: common/coordinator.c for the vif class, plus the toolstack
 * half of the PV leg, which this file owns:
 *
 *   bring_up   picks a devid free in the guest's device/vif and dom0's
 *              backend/vif, writes pv-devid, and runs `xl network-attach
 *              <domid> type=vif mac=<the emulated NIC's> bridge=<its>
 *              devid=<it>`: libxl writes the vif's nodes, xen-netback makes
 *              vif<domid>.<devid>, and the vif hotplug script (vif-bridge)
 *              puts it on the bridge; READY once xl exited 0 and
 *              hotplug-status is connected, FAILED otherwise (with xl's
 *              last words);
 *   tear_down  runs `xl network-detach <domid> <devid>`, which closes the
 *              backend, waits for both ends to reach Closed and only then
 *              removes the nodes and runs the hotplug script offline;
 *              retried every second until it worked (or the domain is
 *              gone); removes pv-devid, then CLOSED;
 *   present    pv-devid names a vif whose backend directory exists;
 *   the gate   (the coordinator's dm_sync, step 6) checks that the port of
 *              the leg the guest goes to (vif<domid>.<pv-devid> or qemu's
 *              tap vif<domid>.<devid>-emu) is on the bridge and forwarding.
 *
 * xl runs as a child process, never waited for in the loop: the loop polls
 * it (waitpid WNOHANG) with the coordinator's bounds around it; a bring-up
 * that is called off kills its xl and detaches what it may have made.
 */
#ifndef RTVIRT_BACKD_VIF_H
#define RTVIRT_BACKD_VIF_H

#include <stdbool.h>
#include <stdint.h>

#include "rtvirt/err.h"
#include "rtvirt/seam.h"

/* PV legs get devids from here up, free in the store (below it are the
 * guest's own NICs, whose devids are their indexes in vif = [...]). */
#define BACKD_VIF_DEVID_BASE 16u

struct backd_vif;

/* co_xs: the vif coordinator's store connection; ad_xs: the adapter's (it
 * may be shared with other readers: the adapter watches nothing).  Both the
 * caller's. */
struct backd_vif *backd_vif_new(struct rtv_store *co_xs, struct rtv_store *ad_xs,
                                rtv_domid_t bedomid, struct rtv_err *err);
void backd_vif_free(struct backd_vif *v);

/* The toolstack command (default "xl", found on PATH) and the directory of
 * the netdevs' sysfs (default /sys/class/net). */
void backd_vif_set_xl(struct backd_vif *v, const char *xl);
void backd_vif_set_sysfs(struct backd_vif *v, const char *dir);

/* Whether the bridge learns each NIC's MAC from the port of its leg only
 * (backd_vif_pin.h; default on).  Off: the bridge's ports are left as the
 * hotplug scripts made them (the lab's A/B arm). */
void backd_vif_set_pin(struct backd_vif *v, bool on);

/* The bound on each coordinated NIC's tap queue while a switch to PV runs,
 * in frames (backd_vif_txq.h; default BACKD_VIF_TAP_QUEUE); 0: the tap is
 * left as qemu made it. */
#define BACKD_VIF_TAP_QUEUE 32u
void backd_vif_set_tap_queue(struct backd_vif *v, unsigned frames);

/* Where the taps' lengths to give back are kept across incarnations (the
 * daemon's --state-dir; NULL: in memory only, and a daemon killed in a
 * switch to PV leaves its tap cut). */
void backd_vif_set_state_dir(struct backd_vif *v, const char *dir);

void backd_vif_set_log(struct backd_vif *v, void (*log)(void *ctx, const char *msg),
                       void *ctx);

/* Finds the managed NICs, finishes or rolls back half-done switches, and
 * tears down a PV leg a NIC that is stable on its emulated leg still has
 * (a previous incarnation was killed while bringing it up). */
int backd_vif_start(struct backd_vif *v, uint64_t now_ms, struct rtv_err *err);

/* The coordinator's watch fd. */
int backd_vif_fd(const struct backd_vif *v);

/* Watch events, the xl children, the bounds.  Never blocks; call when the
 * fd is readable and at least every 50 ms. */
void backd_vif_poll(struct backd_vif *v, uint64_t now_ms);

unsigned backd_vif_count(const struct backd_vif *v);

#endif
