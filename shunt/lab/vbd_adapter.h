/*
 * The toolstack half of a switch's PV backend, as the coordinator
 * (rtvirt/coordinator.h) needs it: bring_up / tear_down / present over the
 * store, for a backend daemon (rtvirt-backd's engine) that serves whatever
 * vbd directories exist under /local/domain/<bedomid>/backend/vbd.
 *
 *   bring_up   writes the vbd's backend and frontend nodes for the image
 *              (blkif_xs_attach, libxl's layout and permissions) under a
 *              fresh devid, then ctl-devid; READY once the backend daemon
 *              put the vbd in InitWait (FAILED on hotplug-status = error);
 *   tear_down  waits until the frontend is Closed (or never attached) and
 *              the backend is neither Connected nor Closing, then removes
 *              both vbd directories and ctl-devid; CLOSED then.  The ring is
 *              never taken away from a frontend that may still use it;
 *   present    ctl-devid names a vbd whose backend directory exists.
 *
 * A fresh devid per bring-up means a new vbd is never confused with the one
 * the backend daemon is still dropping.
 *
 * Used by the switch component test and by rtvirt-switchd-lab (the lab's
 * stand-in until rtvirt-backd runs the coordinator itself: it can take this
 * file as it is).  Single-threaded, like the coordinator.
 */
#ifndef RTVIRT_SHUNT_VBD_ADAPTER_H
#define RTVIRT_SHUNT_VBD_ADAPTER_H

#include "rtvirt/coordinator.h"
#include "rtvirt/seam.h"

struct vbd_adapter;

/* xs: a store connection of its own (its watches are its own); bedomid:
 * the domain the backend daemon runs in; devids are taken from
 * [devid_base, devid_base + 1000). */
struct vbd_adapter *vbd_adapter_new(struct rtv_store *xs, rtv_domid_t bedomid,
                                    unsigned devid_base);
void vbd_adapter_free(struct vbd_adapter *a);

/* The coordinator the adapter reports to (set right after creating it). */
void vbd_adapter_set_coordinator(struct vbd_adapter *a, struct rtv_coordinator *co);

extern const struct rtv_coord_backend_ops vbd_adapter_ops;

/* Checks pending bring-ups and tear-downs; call when the adapter's store
 * watch fd is readable and on every tick. */
void vbd_adapter_poll(struct vbd_adapter *a, uint64_t now_ms);

#endif
