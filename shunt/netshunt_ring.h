/*
 * The emulated NIC's receive ring, bounded (rtvirt-netshunt; shunt/
 * README.md, "What waits in front of the emulated leg").
 *
 * Frames the device model already put in the emulated NIC's receive ring
 * when the guest makes its PV leg the active one reach the master on the
 * leg it left, which drops them (team's activebackup).  When the guest's
 * stack is what limits the e1000 (the nested lab: each reply it sends is
 * a trap to the device model), that ring is full: 256 frames by default,
 * over a second of the lab's traffic.  rtvirt-netshunt can set a shorter
 * ring before the NIC joins the master (--rx-ring; off by default: in the
 * lab the e1000's receive throughput halved with 64; ETHTOOL_SRINGPARAM,
 * the driver resets the NIC for it, so only then, and only when the ring
 * is longer).  e1000 takes 48..4096 descriptors, in steps of 8.
 */
#ifndef RTVIRT_NETSHUNT_RING_H
#define RTVIRT_NETSHUNT_RING_H

#include "rtvirt/err.h"

/* What to ask for: 0 when the ring (cur) is not longer than bound (or
 * bound is 0), else bound raised to the driver's least (min) and cut to
 * its most (max; 0: unknown). */
unsigned netshunt_rx_ring_target(unsigned cur, unsigned bound, unsigned min, unsigned max);

/* dev's receive ring down to bound when longer: *was its length before, 0
 * if it was left.  -errno (in err) if the driver cannot tell or refuses. */
int netshunt_bound_rx_ring(const char *dev, unsigned bound, unsigned *was, struct rtv_err *err);

#endif
