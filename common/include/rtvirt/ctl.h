/*
 * The orchestrator's side of the xenstore contract: what `xl-rtvirt` does,
 * as functions any tool (or test) can call over the seam.  Everything here is
 * plain reads and writes of the nodes in xenstore-schema/rtvirt-paths.md, so
 * a tool that cannot link librtvirt can do the same with xenstore-write.
 */
#ifndef RTVIRT_CTL_H
#define RTVIRT_CTL_H

#include <stdbool.h>
#include <stdint.h>

#include "rtvirt/err.h"
#include "rtvirt/seam.h"

/* Domain by id ("5") or by name ("guest1"), as xl takes it.  -ENOENT with a
 * message naming what was looked for. */
int rtv_ctl_resolve_domain(struct rtv_store *xs, const char *name_or_id,
                           rtv_domid_t *out, struct rtv_err *err);

/* Puts vdev of domain dom under rtvirt, in emulated mode, backed by image:
 * creates the control directory (dom0 writes, the guest may only read) and
 * the guest's report directory (the guest writes), as the schema says.
 * Idempotent: managing a managed device again only refreshes the image. */
int rtv_ctl_manage(struct rtv_store *xs, rtv_domid_t dom, const char *vdev,
                   const char *image, struct rtv_err *err);

/* Puts a NIC of domain dom under rtvirt, in emulated mode: nic is
 * "vif/<devid>" (the emulated NIC's xl devid), mac its MAC (any case; stored
 * lower-case) and bridge the dom0 bridge its tap is on; the PV vif a switch
 * brings up gets both.  Same directories and permissions as a disk's. */
int rtv_ctl_manage_vif(struct rtv_store *xs, rtv_domid_t dom, const char *nic,
                       const char *mac, const char *bridge, struct rtv_err *err);

/* A MAC as the schema stores it (lower-case hex pairs joined by ':') into
 * out; -EINVAL with err for anything else or a multicast address. */
int rtv_ctl_mac_normalize(const char *in, char out[18], struct rtv_err *err);

/* Every function here takes a device as a tool names it: a disk by its vdev
 * (hda), a NIC as vif/<devid> (vif/0).
 *
 * Removes rtvirt's nodes for vdev; refused (-EBUSY) while a switch runs or
 * while the device is not on the emulated path. */
int rtv_ctl_unmanage(struct rtv_store *xs, rtv_domid_t dom, const char *vdev,
                     struct rtv_err *err);

/* Asks for a switch: writes request (and timeout-ms if nonzero) with a new
 * request-id in one transaction; *id gets the id to wait for. */
int rtv_ctl_request(struct rtv_store *xs, rtv_domid_t dom, const char *vdev,
                    const char *mode, unsigned timeout_ms, uint32_t *id,
                    struct rtv_err *err);

struct rtv_ctl_status {
    rtv_domid_t domid;
    char        vdev[16];
    char        state[32];        /* "" if unmanaged */
    char        result[16];
    char        error[1025];
    char        image[1025];      /* a disk's image; a NIC's MAC */
    char        shunt_state[32];  /* guest report, "" if absent */
    uint64_t    request_id, result_id, switch_id;
    uint64_t    switches, rollbacks, blackout_us, held;
    uint64_t    dm_sync_us;       /* last QMP sync of qemu's drive; 0 if none */
};

/* Reads the device's nodes.  -ENOENT if it is not managed. */
int rtv_ctl_status(struct rtv_store *xs, rtv_domid_t dom, const char *vdev,
                   struct rtv_ctl_status *st, struct rtv_err *err);

/* Names of dom's managed devices (one allocation, free() it). */
int rtv_ctl_list(struct rtv_store *xs, rtv_domid_t dom, char ***vdevs,
                 unsigned *num, struct rtv_err *err);

/* rtv_request_wait (rtvirt/request.h) for a switch: settled once the
 * state is no longer switching-* or rolling-back; st the last status. */
int rtv_ctl_wait(struct rtv_store *xs, rtv_domid_t dom, const char *vdev,
                 uint32_t id, unsigned timeout_ms, struct rtv_ctl_status *st,
                 struct rtv_err *err);

/* Waits, at most timeout_ms, until the guest's shunt reports on this domain
 * (shunt-state present).  A guest restored or migrated under a new domid
 * does so once its kernel has resumed its xenbus (so a PV twin made now is
 * seen: one made before is missed by Linux's frontend, whose watch on
 * device/ is re-registered in its resume) and its shunt follows the domid.
 * -ETIMEDOUT with a message saying so. */
int rtv_ctl_wait_shunt(struct rtv_store *xs, rtv_domid_t dom, const char *vdev,
                       unsigned timeout_ms, struct rtv_err *err);

/* A switch to mode and its outcome: rtv_ctl_request, then rtv_ctl_wait for
 * at most 4 x step_ms + 2 s (step_ms bounds each step of the switch; 0: the
 * coordinator's default, 10 s).  0 only if this request was answered "ok";
 * otherwise -ETIMEDOUT, or -EBUSY (superseded by another request) or -EIO
 * (failed or rolled back) with the reason and the state the device is in.
 * *id (if non-NULL) gets the request's id, st the last status read. */
int rtv_ctl_switch(struct rtv_store *xs, rtv_domid_t dom, const char *vdev,
                   const char *mode, unsigned step_ms, uint32_t *id,
                   struct rtv_ctl_status *st, struct rtv_err *err);

/* True if state names a switch or rollback in progress. */
bool rtv_ctl_state_is_transient(const char *state);

#endif
