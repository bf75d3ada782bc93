/*
 * rtvirt-shunt's seam to device-mapper: the few dm ioctls the control plane
 * uses, as an ops table, so the switch logic (shunt/dmctl.c) runs against
 * the kernel through libdevmapper in the guest (shunt/dm_libdm.c) and
 * against a fake in the unit test (tests/unit/test_dmctl.c).  Like
 * common/'s Xen seam: nothing above it includes libdevmapper.h.
 *
 * Every op takes the device's dm name and returns 0 or -errno with err set.
 * Two devices per disk: the guest's "rtvirt-<vdev>" (target rtvirt) and its
 * PV leg "rtvirt-<vdev>.pv" (error or linear: the leg_* ops; info, clear,
 * suspend and resume serve both).  suspend (of a table swap: the PV leg
 * device's when a PV disk is attached or dropped, the guest's only to renew
 * its table after a failover) and wait_event block (a drain of in-flight
 * bios, a wait for the target's next event): the control plane runs them
 * on a thread of their own and ends them early with interrupt(), after
 * which they return -EINTR (dm backs an interrupted suspend out by itself:
 * the device runs on).
 */
#ifndef RTVIRT_SHUNT_DM_SEAM_H
#define RTVIRT_SHUNT_DM_SEAM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "rtvirt/dm_rtvirt.h"
#include "rtvirt/err.h"

struct shunt_dm_info {
    bool     exists;
    bool     suspended;
    bool     live_table;
    bool     inactive_table;   /* loaded, not yet resumed into */
    uint32_t event_nr;
    unsigned major, minor;     /* of the dm device itself */
};

struct shunt_dm_ops {
    /* exists = false (and 0) when there is no such device. */
    int  (*info)(void *ctx, const char *name, struct shunt_dm_info *out, struct rtv_err *err);
    /* Creates the device with table t live (create, load, resume). */
    int  (*create)(void *ctx, const char *name, const struct rtv_dm_table *t,
                   struct rtv_err *err);
    /* Loads t as the inactive table (the legs are opened now: setup, not blackout). */
    int  (*load)(void *ctx, const char *name, const struct rtv_dm_table *t,
                 struct rtv_err *err);
    /* Drops the inactive table. */
    int  (*clear)(void *ctx, const char *name, struct rtv_err *err);
    /* Holds new bios, waits for those in flight (blocks; interruptible). */
    int  (*suspend)(void *ctx, const char *name, struct rtv_err *err);
    /* Swaps in the inactive table if there is one, lets held bios go on. */
    int  (*resume)(void *ctx, const char *name, struct rtv_err *err);
    /* The live table / its status, parsed (rtv_dm_table_parse/status_parse). */
    int  (*table)(void *ctx, const char *name, struct rtv_dm_table *t, struct rtv_err *err);
    int  (*status)(void *ctx, const char *name, struct rtv_dm_status *st,
                   struct rtv_err *err);
    /* Sends the target a message (`dmsetup message <name> 0 <msg>`): the
     * flip's "prepare", "cancel" and "mode <mode>".  Quick: the target does
     * the slow parts (flushes, the drain) on its own worker. */
    int  (*message)(void *ctx, const char *name, const char *msg, struct rtv_err *err);
    /* Blocks until the device's event counter passes *event_nr (a failover
     * raises one), then stores the new counter.  Interruptible. */
    int  (*wait_event)(void *ctx, const char *name, uint32_t *event_nr, struct rtv_err *err);
    /* The PV leg device: created with leg live (create, load, resume),
     * leg loaded as its inactive table, its live table parsed back
     * (rtv_dm_leg_params/rtv_dm_leg_parse). */
    int  (*leg_create)(void *ctx, const char *name, const struct rtv_dm_leg *leg,
                       struct rtv_err *err);
    int  (*leg_load)(void *ctx, const char *name, const struct rtv_dm_leg *leg,
                     struct rtv_err *err);
    int  (*leg_table)(void *ctx, const char *name, struct rtv_dm_leg *leg, struct rtv_err *err);
    /* Flushes the device: an empty REQ_PREFLUSH through it (fsync of its
     * node), which the target sends to every leg written since its last
     * flush, clearing their dirty marks.  Blocks (not interruptible): the
     * control plane runs it on a thread of its own, bounded.  Only used
     * with the module's flush_at_flip off, before a drop of the PV disk. */
    int  (*flush)(void *ctx, const char *name, struct rtv_err *err);
    /* Makes suspend or wait_event running on thread t return -EINTR soon;
     * harmless if t is not in one (the caller repeats it until t ends). */
    void (*interrupt)(void *ctx, pthread_t t);
};

/* The real ops over libdevmapper (shunt/dm_libdm.c).  Call
 * shunt_dm_libdm_init() once, before any thread uses them. */
extern const struct shunt_dm_ops shunt_dm_libdm_ops;
int shunt_dm_libdm_init(struct rtv_err *err);

#endif
