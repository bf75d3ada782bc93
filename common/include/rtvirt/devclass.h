/*
 * The kinds of device the live switch moves, as tables: which schema node
 * plays which part of the protocol for a block device (rtvirt/vbd/<vdev>/,
 * xenstore-schema section 1) and for a NIC (rtvirt/vif/<devid>/, section
 * 2b).  The protocol is the same for both; the state machine
 * (switch_fsm.h), the coordinator (coordinator.h) and the orchestrator's
 * functions (ctl.h) are written once against a role and look its node up
 * here, so a NIC gets the block switch's answers, bounds, rollback and
 * restart rules by construction.
 */
#ifndef RTVIRT_DEVCLASS_H
#define RTVIRT_DEVCLASS_H

#include <stddef.h>

#include "rtvirt/err.h"
#include "rtvirt/seam.h"
#include "rtvirt/xs_schema.h"

enum rtv_role {
    /* control, written by dom0 */
    RTV_R_REQUEST,
    RTV_R_REQUEST_ID,
    RTV_R_TIMEOUT_MS,
    RTV_R_STATE,
    RTV_R_SWITCH_ID,
    RTV_R_PREVIOUS,
    RTV_R_RESULT,
    RTV_R_RESULT_ID,
    RTV_R_ERROR,
    RTV_R_GATE_ID,        /* dm-synced-id / port-ready-id: step 6 passed */
    RTV_R_BACKEND_ID,     /* devid / pv-devid of the PV leg that is up */
    RTV_R_ARG,            /* what the PV leg is made of: image / mac */
    RTV_R_STATS_SWITCHES,
    RTV_R_STATS_ROLLBACKS,
    RTV_R_STATS_BLACKOUT_US,
    RTV_R_STATS_HELD,
    RTV_R_STATS_GATE_US,
    RTV_R_STATS_FAILOVERS,
    RTV_R_FAILOVER,       /* why the guest last failed over to emulated */
    /* guest report */
    RTV_R_SHUNT_STATE,
    RTV_R_SHUNT_ACK_ID,
    RTV_R_SHUNT_ERROR,
    RTV_R_SHUNT_BLACKOUT_US,
    RTV_R_SHUNT_HELD,
    RTV_R_COUNT
};

/* A role a class does not have (e.g. no held requests on a NIC). */
#define RTV_R_NONE (-1)

struct rtv_devclass {
    const char       *name;     /* "vbd", "vif": the directory under rtvirt/ */
    const char       *prefix;   /* how a tool names one: "" (hda) or "vif/" (vif/0) */
    enum rtv_xs_param key;      /* the path placeholder the key fills */
    int               nodes[RTV_R_COUNT];   /* enum rtv_xs_node, or RTV_R_NONE */
    /* Is there a selective mode (some requests one way, some the other)? */
    int               has_selective;
    /* What failed when step 6 (the gate before the flip) fails, for error. */
    const char       *gate_failed;
};

extern const struct rtv_devclass rtv_devclass_vbd;
extern const struct rtv_devclass rtv_devclass_vif;
/* Every class, for code that scans all of them. */
extern const struct rtv_devclass *const rtv_devclasses[2];
#define RTV_DEVCLASS_COUNT 2u

/* The node for role, or RTV_R_NONE. */
int rtv_devclass_node(const struct rtv_devclass *cls, enum rtv_role role);

/* Fills a with dom and key in cls's placeholder.  -EINVAL (err says why) if
 * key is not a valid key for the class (a vdev name; a devid). */
int rtv_devclass_args(const struct rtv_devclass *cls, rtv_domid_t dom,
                      const char *key, struct rtv_xs_args *a, struct rtv_err *err);

/* The path of role's node for dom/key.  -EINVAL if the class has no such
 * role or the key is bad, -ENAMETOOLONG. */
int rtv_devclass_path(const struct rtv_devclass *cls, enum rtv_role role,
                      rtv_domid_t dom, const char *key, char *buf, size_t len,
                      struct rtv_err *err);

/* The directory holding one entry per device of the class, for the control
 * tree (report = 0) or the guest's report tree (report = 1). */
void rtv_devclass_parent(const struct rtv_devclass *cls, int report, rtv_domid_t dom,
                         char *buf, size_t len);

/* A tool's name for a device ("hda", "vif/0") to its class and key (a
 * pointer into name).  -EINVAL with err if it names neither. */
int rtv_devclass_parse(const char *name, const struct rtv_devclass **cls,
                       const char **key, struct rtv_err *err);

/* The tool's name back: prefix + key. */
void rtv_devclass_name(const struct rtv_devclass *cls, const char *key,
                       char *buf, size_t len);

#endif
