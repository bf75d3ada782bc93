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
 * So rtvirt-backd bounds the tap's queue of a NIC it coordinates to a few
 * frames (--tap-queue, default 32) while a switch to PV runs, from its
 * request until it is answered, and gives the tap its length back then:
 * held all the time, the bound cut the emulated leg's receive throughput
 * (net run 9); during the switch it costs what the switch costs anyway.  A
 * saturated leg drops the excess either way; the bound decides how much of
 * it waits, i.e. how much a flip throws away.  The length to give back is
 * kept in the daemon's state directory too, so that an incarnation killed
 * in the window leaves it to the next one (which finds the tap already cut
 * and could not know its length otherwise).
 */
#ifndef RTVIRT_BACKD_VIF_TXQ_H
#define RTVIRT_BACKD_VIF_TXQ_H

#include <stdbool.h>

#include "rtvirt/err.h"

/* The tap's tx_queue_len: 1 read into *len, 0 no such tap (or none named),
 * -errno (err says why). */
int backd_vif_txq_get(const char *sysfs, const char *tap, unsigned *len, struct rtv_err *err);

/* <sysfs>/<tap>/tx_queue_len down to max when longer: *was gets the length
 * it had (0: left as it was), *changed whether it was written.  A tap that
 * is not there (not made yet, gone) is skipped.  Errors -errno, in err. */
int backd_vif_txq_bound(const char *sysfs, const char *tap, unsigned max, unsigned *was,
                        bool *changed, struct rtv_err *err);

/* The tap's tx_queue_len back to len (its length before the bound); absent
 * is fine. */
int backd_vif_txq_restore(const char *sysfs, const char *tap, unsigned len, bool *changed,
                          struct rtv_err *err);

/* The length to give back, in <dir>/vif-txq-<dom>-<key>: saved (written
 * whole: a new file renamed over), loaded (1 found, 0 none, -errno for a
 * file that holds no length), forgotten (absent is fine). */
int backd_vif_txq_save(const char *dir, unsigned dom, const char *key, unsigned len,
                       struct rtv_err *err);
int backd_vif_txq_load(const char *dir, unsigned dom, const char *key, unsigned *len);
void backd_vif_txq_forget(const char *dir, unsigned dom, const char *key);

/* Every saved length in dir, to fn (a restarted daemon's start); returns
 * how many, or -errno if dir cannot be read (absent: 0). */
int backd_vif_txq_each(const char *dir,
                       void (*fn)(void *ctx, unsigned dom, const char *key, unsigned len),
                       void *ctx);

#endif
