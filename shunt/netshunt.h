/*
 * rtvirt-netshunt's engine: the guest side of the NIC switch protocol
 * (xenstore-schema/rtvirt-paths.md section 2b) over a seam for the
 * kernel's parts (bonding, netfront), so that the program runs it on Linux
 * (netshunt_linux_ops, netshunt_sys.c) and the unit test on a fake.
 *
 * netshunt_step() takes one snapshot of dom0's rtvirt/vif/<nic>/ nodes
 * and goes one step towards the mode they ask for: find netfront's netdev
 * for pv-devid (loading the driver once), wait for its ring, enslave it,
 * wait for bonding to see its link (reporting connecting, then flushed),
 * with both legs receiving while the switch runs, wait for port-ready-id,
 * flip the active slave, announce, release the netfront slave when going
 * back once nothing comes in on it any more, and report the mode with the
 * ack in one transaction.  It never waits itself: the caller calls it again on a
 * watch event or after a short poll.
 */
#ifndef RTVIRT_NETSHUNT_H
#define RTVIRT_NETSHUNT_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "rtvirt/err.h"
#include "rtvirt/seam.h"

struct netshunt_sys_ops {
    int  (*pv_netdev)(void *ctx, unsigned devid, char name[IFNAMSIZ]);
    int  (*load_netfront)(void *ctx, struct rtv_err *err);
    bool (*is_slave)(void *ctx, const char *bond, const char *dev);
    bool (*slave_up)(void *ctx, const char *dev);
    int  (*enslave)(void *ctx, const char *bond, const char *dev, struct rtv_err *err);
    int  (*release)(void *ctx, const char *bond, const char *dev, struct rtv_err *err);
    int  (*active)(void *ctx, const char *bond, char name[IFNAMSIZ]);
    int  (*set_active)(void *ctx, const char *bond, const char *dev, struct rtv_err *err);
    int  (*mac)(void *ctx, const char *dev, char mac[18]);
    int  (*announce)(void *ctx, const char *bond, struct rtv_err *err);
    /* bonding's all_slaves_active: the inactive slave delivers what
     * reaches it too (on) or drops it (off, bonding's default).  NULL for
     * a master that cannot (team): no both-legs window then. */
    int  (*both_receive)(void *ctx, const char *bond, bool on, struct rtv_err *err);
    int  (*rx_packets)(void *ctx, const char *dev, uint64_t *n);
    /* Keeps a leg from sending anything of its own before it is made
     * active: IPv6 off on the netdev (no link-local address, so no DAD,
     * router solicitation or MLD report from it).  Its frames carry the
     * guest's MAC, and dom0's bridge would learn the MAC on the port of a
     * leg the master still drops what arrives on.  NULL: nothing to do. */
    int  (*quiet_port)(void *ctx, const char *dev, struct rtv_err *err);
};

/* The Linux implementations, one per master driver (netshunt_sys.h). */
extern const struct netshunt_sys_ops netshunt_team_ops, netshunt_bonding_ops;

struct netshunt {
    /* set by the caller */
    struct rtv_store              *xs;
    rtv_domid_t                    self;
    const char                    *nic, *emulated, *bond;
    bool                           verbose;
    bool                           keep_port_ipv6;   /* quiet_port not called (A/B) */
    const struct netshunt_sys_ops *ops;
    void                          *ctx;
    uint64_t                     (*now_us)(void);
    /* what dom0 says (one snapshot) */
    char           state[32], previous[16];
    uint32_t       switch_id, ready_id;
    bool           have_pv;
    unsigned       pvdevid;
    unsigned       timeout_ms;
    /* what we did */
    uint32_t       acked;          /* shunt-ack-id */
    char           reported[32];   /* shunt-state */
    uint32_t       working_id;     /* the switch the deadline is for */
    uint64_t       deadline;
    bool           failed;         /* reported failed for working_id */
    bool           loaded;         /* xen-netfront loaded (or tried) */
    int            both_rx;        /* both legs receive: 1, 0, or -1 not known */
    bool           flipped;        /* flipped for working_id, flip_us is its time */
    uint64_t       flip_us;
    uint64_t       leg_rx;         /* the old PV leg's rx_packets, going back */
    uint64_t       quiet_since, linger_since;
};

/* Picks up where a previous incarnation got (shunt-ack-id), writes the
 * bond's name, and reports emulating if the NIC is on its emulated slave
 * and nothing was acknowledged yet. */
int netshunt_start(struct netshunt *n);

/* One snapshot, one step.  True when there is nothing to wait for (the
 * NIC is where dom0 wants it, or dom0 is not asking for anything). */
bool netshunt_step(struct netshunt *n);

#endif
