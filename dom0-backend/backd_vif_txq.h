/*
 * The queue in front of a switched NIC's emulated leg (rtvirt-backd's NIC
 * switch; dom0-backend/README.md, "The queue in front of the emulated leg").
 *
 * Frames dom0's bridge sends the guest over its emulated NIC wait in the
 * tap's queue (vif<dom>.<devid>-emu: tun's ring, tx_queue_len frames) until
 * qemu takes them for the emulated NIC.  Whatever still waits there when the
 * guest makes its PV leg the active one reaches the guest's master on the
 * leg it just left, which drops it (team's activebackup delivers only what
 * comes in on the active port).  In the nested lab the e1000 takes ~150-200
 * frames/s and the tap held ~980 frames at every flip to PV: 5-9 s of
 * traffic, every echo dom0 sent in those seconds lost (tests/lab/LOG.md,
 * net run 8).
 * So rtvirt-backd can bound the tap's queue of a NIC it coordinates to a few
 * frames (--tap-queue; off by default: the same lab run saw the emulated
 * leg's receive throughput fall with the bounds), and gives the tap its
 * length back once the NIC is no longer coordinated.  A saturated leg drops
 * the excess either way; the bound decides how much of it waits, i.e. how
 * much a flip throws away.
 */
#ifndef RTVIRT_BACKD_VIF_TXQ_H
#define RTVIRT_BACKD_VIF_TXQ_H

#include <stdbool.h>

#include "rtvirt/err.h"

/* <sysfs>/<tap>/tx_queue_len down to max when longer: *was gets the length
 * it had (0: left as it was), *changed whether it was written.  A tap that
 * is not there (not made yet, gone) is skipped.  Errors -errno, in err. */
int backd_vif_txq_bound(const char *sysfs, const char *tap, unsigned max, unsigned *was,
                        bool *changed, struct rtv_err *err);

/* The tap's tx_queue_len back to len (its length before the bound); absent
 * is fine. */
int backd_vif_txq_restore(const char *sysfs, const char *tap, unsigned len, bool *changed,
                          struct rtv_err *err);

#endif
